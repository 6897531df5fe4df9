/*
 * config: kyoyu.conf, the settings a hub's operator writes once (where the hub is, how hard
 * it syncs, how imports batch), read before any command runs. docs/config.md is the user's
 * page; kyoyu.conf.example lists every key with its default.
 *
 * The file is INI (libinih): `[section]` lines, `key = value` lines, comments from ';' or
 * '#' at the start of a line and from " ;" inside one. Values are taken as written, without
 * quotes. Anything the build does not know, an unknown section or key, a key given twice or
 * a value out of range, is an error with its line number rather than ignored, so that a
 * mistyped `[store] dbb = /srv/hub.db` does not quietly write to ./kyoyu.db.
 *
 * A ky_config is a plain value (no pointers): copy it freely; once loaded it is read-only,
 * and threads may share it.
 */
#ifndef KY_CONFIG_H
#define KY_CONFIG_H

#include <stdbool.h>
#include <stddef.h>

/* The files tried when --config is not given, in this order; the first that exists wins. */
#define KY_CONFIG_PATH_LOCAL "kyoyu.conf"
#define KY_CONFIG_PATH_SYSTEM "/etc/kyoyu/kyoyu.conf"

/* Longest [store] db value (a path or a URI), in bytes: PATH_MAX less its NUL. */
#define KY_CONFIG_DB_MAX 4095

/* Longest collection name, here and for `kyoyu collection create`: a handle typed on
 * command lines, not a title. */
#define KY_CONFIG_NAME_MAX 64

/* The largest max_object_size: SQLite keeps at most 1,000,000,000 bytes in one value
 * (SQLITE_MAX_LENGTH), and an object is stored as one. */
#define KY_CONFIG_OBJECT_SIZE_MAX 1000000000u

/* How many [api_root NAME] and [collection NAME] sections a file may have, and the longest
 * read or write list, in bytes. */
#define KY_CONFIG_API_ROOTS_MAX 16
#define KY_CONFIG_COLLECTIONS_MAX 64
#define KY_CONFIG_USERS_MAX 511

/* The largest page a client may ask for ([server] max_page_size): a page is built in memory. */
#define KY_CONFIG_PAGE_SIZE_MAX 10000

/* The largest kyoyu.conf, in bytes: a settings file is a few KiB, and the whole file is read
 * into memory (so that --config /dev/zero is refused, not read forever). */
#define KY_CONFIG_FILE_MAX (1024 * 1024)

/* [api_root NAME]: an API root (TAXII 2.1 §4.2) served at /NAME/, besides [server] api_root,
 * which exists whether or not it has a section (one describes it). */
typedef struct ky_config_api_root {
	char name[KY_CONFIG_NAME_MAX + 1];   /* letters, digits, '.', '_', '-'; never "taxii2" */
	char title[256];                     /* "": [server] title */
	char description[512];               /* "": none */
} ky_config_api_root;

/* [collection NAME]: on which API root the hub's collection NAME is served, and who reads and
 * writes it. A collection without a section is on [server] api_root, read and written by the
 * secretariat only. With one, exactly the grantees listed may (policy/policy.h decides):
 * users (a bare name or user:NAME), members (member:NAME), tiers (tier:T) and groups
 * (group:NAME), or everyone (*). */
typedef struct ky_config_collection {
	char name[KY_CONFIG_NAME_MAX + 1];      /* the collection's name in the hub */
	char api_root[KY_CONFIG_NAME_MAX + 1];  /* "": [server] api_root */
	char read[KY_CONFIG_USERS_MAX + 1];     /* grantees as KIND:NAME joined by ',' (bare names
						 * respelled user:NAME, spaces dropped), "*" for
						 * every user, "" for nobody */
	char write[KY_CONFIG_USERS_MAX + 1];
	char audience[KY_CONFIG_USERS_MAX + 1]; /* who reads what a provider sends without an
						 * audience marking, as policy.h's
						 * ky_policy_audiences_parse() reads it:
						 * "community", "contributors", "sector:NAME",
						 * "group:NAME", "member:NAME", joined by ','; ""
						 * for the community */
} ky_config_collection;

typedef struct ky_config {
	/* [store] */
	char db[KY_CONFIG_DB_MAX + 1]; /* a file path (SQLite) or a postgresql:// URI; "kyoyu.db" */
	bool synchronous_normal;       /* synchronous = normal; false (full) by default */
	size_t retry_seconds;          /* PostgreSQL: how long to reconnect to a lost server; 60 */
	/* [server] */
	char listen[256];              /* ADDRESS:PORT; "127.0.0.1:6560" */
	char tls_certificate[KY_CONFIG_DB_MAX + 1]; /* PEM file, "" for plain HTTP */
	char tls_key[KY_CONFIG_DB_MAX + 1];         /* its private key, "" for plain HTTP */
	size_t max_content_length;     /* largest request body; 100 MiB */
	char api_root[KY_CONFIG_NAME_MAX + 1];      /* the API root's path segment; "kyoyu" */
	char title[256];               /* the server's and API root's title; "kyoyu" */
	size_t page_size;              /* objects per page when a client sets no limit; 100 */
	size_t max_page_size;          /* a larger limit is lowered to this; 1000 */
	size_t max_connections;        /* connections held at once; 16000 */
	size_t max_connections_per_address; /* of them from one client IP address; 256 */
	size_t header_timeout;         /* seconds for a request's headers to arrive, from the
					* connection's start or the previous request's end; 10 */
	size_t body_timeout;           /* seconds for a request's whole body to arrive; 300 */
	size_t idle_timeout;           /* seconds an idle keep-alive connection is kept; 60 */
	size_t napi_roots;             /* [api_root NAME] sections, in file order */
	ky_config_api_root api_roots[KY_CONFIG_API_ROOTS_MAX];
	size_t ncollections;           /* [collection NAME] sections, in file order */
	ky_config_collection collections[KY_CONFIG_COLLECTIONS_MAX];
	/* [import] */
	size_t batch_objects;          /* objects per transaction; 1000 */
	size_t batch_bytes;            /* and at most this many bytes of objects; 16 MiB */
	size_t max_object_size;        /* larger objects are refused; 32 MiB */
	char default_collection[KY_CONFIG_NAME_MAX + 1]; /* where imports go; "default" */
	/* [policy] */
	char default_tlp[16];          /* the TLP of an object that carries none: clear, green,
					* amber, amber+strict or red; "amber" */
	/* [audit] (docs/audit.md) */
	bool audit_reads;              /* reads = on | off: whether reads are audited (off only to
					* measure what auditing costs: a hub that turns it off keeps
					* no record of who read what); on */
	size_t audit_flush_ms;         /* read entries are committed at least this often, the most
					* a crash can lose; 1000 */
	char audit_checkpoints[KY_CONFIG_DB_MAX + 1]; /* the file signed checkpoints are appended
					* to, besides the database; "": the hub's file with
					* ".checkpoints" added (SQLite), "kyoyu-audit.checkpoints"
					* (PostgreSQL) */
	size_t audit_checkpoint_seconds; /* a server signs a checkpoint this often; 60 */
	/* [stream] (docs/stream.md) */
	size_t stream_retention_days;  /* events older are not served (overflow instead); 7 */
	size_t stream_buffer_bytes;    /* queued for one client at most before it is ended as too
					* far behind; 1 MiB */
	size_t stream_heartbeat_seconds; /* a comment this often keeps proxies from closing an
					* idle stream; 15 */
	size_t stream_max_clients;     /* open streams at once; 12000 */
	size_t stream_poll_ms;         /* how often the hub looks for other processes' writes; 250 */
	/* [webhook] (docs/webhook.md) */
	bool webhook_private_addresses; /* private_addresses = allow | refuse: deliveries to
					* loopback, link-local and private addresses (never for a
					* hub on the Internet: a member's URL would reach the hub's
					* own network); refuse */
	bool webhook_plain_http;       /* plain_http = allow | refuse: http:// endpoints (the
					* secret signs, it does not hide the body); refuse */
	size_t webhook_timeout_seconds; /* one attempt's limit, connecting included; 10 */
	size_t webhook_max_in_flight;  /* deliveries under way at once, over every endpoint; 256 */
} ky_config;

/* Fills *out with the defaults, the values a hub without kyoyu.conf runs with. */
void ky_config_defaults(ky_config *out);

/*
 * Loads `path` over the defaults into *out. `path` NULL means no file: the defaults.
 * A missing file is KY_ENOTFOUND ("cannot read PATH: ...") when `required`, else the
 * defaults and KY_OK. A file that cannot be read otherwise is KY_ERROR, and one larger than
 * KY_CONFIG_FILE_MAX is KY_EINVALID. Its text is then parsed by ky_config_parse() with
 * `path` as the name, and fails as it does. On any failure *out holds the defaults.
 * Thread-safe apart from setting this thread's error message.
 */
int ky_config_load(ky_config *out, const char *path, bool required);

/*
 * Parses the kyoyu.conf text[0..len) (which need not end with a NUL or a newline) over the
 * defaults into *out; `name` (the file's path) starts every message. A text with an unknown
 * section or key, a key set twice, a line that is neither, a line holding a NUL byte or too
 * long, or a bad value is KY_EINVALID with the first problem and its line ("kyoyu.conf line
 * 7: unknown key 'dbb' in [store] (known: db, synchronous)"), and a count of any more;
 * KY_ENOMEM when memory ran out. Values quoted in messages are cut at a character boundary,
 * and a byte of the text that is not UTF-8 or is a control character shows as '?', so a
 * message is valid UTF-8 whatever the text holds (as long as `name` is). On any failure
 * *out holds the defaults. Borrows text and name; thread-safe apart from the error message.
 */
int ky_config_parse(ky_config *out, const char *text, size_t len, const char *name);

/* The [collection NAME] section of `name`, or NULL when it has none. */
const ky_config_collection *ky_config_collection_find(const ky_config *c, const char *name);

/* The [api_root NAME] section of `name`, or NULL when it has none. */
const ky_config_api_root *ky_config_api_root_find(const ky_config *c, const char *name);

/*
 * Which file to load: `explicit_path` (from --config) when not NULL, else the first of
 * KY_CONFIG_PATH_LOCAL and KY_CONFIG_PATH_SYSTEM that exists, else NULL (the defaults).
 * The result is `explicit_path` or one of those constants, never allocated.
 */
const char *ky_config_locate(const char *explicit_path);

#endif
