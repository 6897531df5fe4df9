/*
 * store: where the hub keeps every version of every object members share. One interface,
 * backends behind it: SQLite (a file, WAL) now, PostgreSQL next.
 *
 * What it guarantees (docs/store.md says how):
 * - Every version (id + modified) is kept as the bytes it arrived in, with the time it was
 *   added. Adding a version that is already there stores nothing new.
 * - Each addition of a version to a collection gets a sequence number, unique and increasing
 *   in commit order: a reader that has seen every addition up to N never later finds a new
 *   one numbered N or less. Numbers are assigned when a batch commits, under a lock on the
 *   one counter row, so that this holds with concurrent writers on PostgreSQL too. Each
 *   addition's date_added (TAXII) is derived then as well: unique and increasing with the
 *   number.
 * - A batch is one transaction: every object in it is stored, or none; an object reported
 *   stored is durable (synchronous=FULL in WAL mode).
 * - Reads hand out the stored bytes; nothing is rebuilt. Queries run in the database, with
 *   keyset pages (the number as cursor), so page 10,000 costs what page 1 costs; every
 *   filter is part of the SQL, which is where a visibility filter will go too.
 *
 * - On PostgreSQL an operation that loses its connection reconnects and runs again, and every
 *   write is safe to run again: the retry first finds out whether the lost attempt committed
 *   (by a token or a natural key of what it wrote) and then reports what one run would have.
 *
 * A ky_store is one connection: use it from one thread at a time. Open one per thread.
 */
#ifndef KY_STORE_H
#define KY_STORE_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct ky_store ky_store;

/* The schema version this build writes; older hubs are upgraded by ky_store_migrate(). */
#define KY_STORE_SCHEMA_VERSION 16

/* Name of the collection every hub starts with and imports go to by default. */
#define KY_STORE_DEFAULT_COLLECTION "default"

typedef struct ky_store_options {
	bool create;          /* create the hub if it does not exist (kyoyu init) */
	bool synchronous_normal; /* synchronous=NORMAL instead of FULL: faster, but a power
				  * failure may lose the last commits (a crash of kyoyu cannot) */
	int busy_timeout_ms;  /* how long to wait for another writer; 0 = 10 s */
	int retry_seconds;    /* PostgreSQL: how long to keep reconnecting to a server that went
			       * away before an operation fails; 0 = 60 s */
} ky_store_options;

/*
 * Opens the hub at `location`: a file path for SQLite, or a postgresql:// (or postgres://)
 * URI, passed to libpq unchanged, for PostgreSQL. With options->create a
 * missing hub is created with the current schema, the default collection and the
 * secretariat member (store_council.h), and *created
 * (may be NULL) tells whether it was. Without it a missing hub is KY_ENOTFOUND ("run kyoyu
 * init"). A hub whose schema is older than this build is KY_ESCHEMA ("run kyoyu
 * migrate"), newer is KY_ESCHEMA too ("this kyoyu is older than the hub"). The caller
 * owns *out (ky_store_close). `options` may be NULL for the defaults.
 */
int ky_store_open(ky_store **out, const char *location, const ky_store_options *options, bool *created);

/* Closes the connection; NULL does nothing. */
void ky_store_close(ky_store *s);

/*
 * Upgrades the hub at `location` to KY_STORE_SCHEMA_VERSION, one migration per version, each
 * in its own transaction, then makes sure it has a secretariat member with every user of an
 * older hub in it (ky_store_secretariat_ensure). *from and *to (may be NULL) get the versions before and after.
 * KY_ESCHEMA if the hub's schema is newer than this build knows; KY_ENOTFOUND if there is
 * no hub.
 */
int ky_store_migrate(const char *location, int *from, int *to);

/* The schema version of the open hub. */
int ky_store_schema_version(ky_store *s);

/* --- collections (TAXII's unit of access) ------------------------------------------------ */

typedef struct ky_store_collection {
	int64_t id;            /* internal */
	char uuid[37];         /* the TAXII collection id */
	char *name;            /* short name used on the command line; owned by the struct */
	char *title;
	char *description;     /* may be NULL */
} ky_store_collection;

/* Frees the strings of `c` (not `c` itself). */
void ky_store_collection_clear(ky_store_collection *c);

/*
 * Creates a collection. uuid is its TAXII id in RFC 4122's textual form, lowercase (a hub
 * moving from another TAXII server keeps the ids its members' tools know), or NULL for a new
 * random one. *out (may be NULL) gets the collection; the caller clears it.
 * KY_EINVALID if uuid is not that form; KY_EEXISTS if the name exists or a collection has
 * that uuid already; nothing is changed then.
 */
int ky_store_collection_create(ky_store *s, const char *uuid, const char *name, const char *title,
			       const char *description, ky_store_collection *out);

/* Finds a collection by name or UUID. KY_ENOTFOUND if none. */
int ky_store_collection_find(ky_store *s, const char *name_or_uuid, ky_store_collection *out);

/* Calls fn for every collection, ordered by name; stops early when fn returns nonzero. */
int ky_store_collection_list(ky_store *s, int (*fn)(void *ctx, const ky_store_collection *c), void *ctx);

/* How many additions collection_id holds now (removed ones are not counted). A count over
 * the collection's index, so it costs in proportion to the collection: for statistics, not
 * for every request (finding and listing collections count nothing). */
int ky_store_collection_additions(ky_store *s, int64_t collection_id, uint64_t *out);

/* Calls fn with the id of every object of type `type` the hub holds (each once, any
 * collection): the policy's list of the marking-definitions a reference may resolve to. Ids
 * only, no content: no viewer is needed. Nonzero stops; a negative value is returned. */
int ky_store_ids_of_type(ky_store *s, const char *type, int (*fn)(void *ctx, const char *id), void *ctx);

/* Calls fn for each access key any version of object `id` carries (sorted, each once); none
 * for an object the hub does not hold. Nonzero from fn stops. */
int ky_store_object_keys(ky_store *s, const char *id, int (*fn)(void *ctx, const char *key), void *ctx);

/* --- writing ---------------------------------------------------------------------------- */

typedef enum ky_store_status {
	KY_STORE_STORED,      /* a new addition to the collection (and maybe a new version) */
	KY_STORE_DUPLICATE,   /* this version was already in the collection */
	KY_STORE_NOT_PROVIDER, /* the object is another member's: nothing stored (below) */
	KY_STORE_NOT_CREATOR, /* it names as its creator a member whose object it is not */
} ky_store_status;

/*
 * Who provided a version and who may read it, as the policy module decides when it arrives
 * (policy/admission.h). The store keeps it with the version and selects by it when reading
 * (ky_store_scope). It decides only what depends on the object's earlier versions, under the
 * batch's lock so that concurrent writers cannot both pass:
 * - an object is its provider's, the member of its first version: its versions come from
 *   that member or from a member with `any_object` (the secretariat), anyone else's are
 *   KY_STORE_NOT_PROVIDER. A version the secretariat adds to a member's object stays that
 *   member's: the version's provider is the object's, and its access keys get the
 *   provider's (KY_STORE_MEMBER_KEY);
 * - a version whose `creator` (the member its created_by_ref names) is not the object's
 *   provider is KY_STORE_NOT_CREATOR: nobody, the secretariat included, attributes an object
 *   to a member whose object it is not.
 * A version already in the hub keeps the access it arrived with: a copy of it added to
 * another collection reads as the first did.
 */
typedef struct ky_store_access {
	int64_t provider;             /* the member submitting it (store_council.h); never 0 */
	bool any_object;              /* it may add versions of other members' objects */
	int64_t creator;              /* the member its created_by_ref names; 0: none, or an
				       * identity that is no member's (third-party content) */
	int tlp;                      /* its effective TLP (decision.h's ky_tlp), kept for display */
	const char *const *keys;      /* the audience keys that may read it (ky_policy_access_keys):
				       * short strings without spaces; borrowed for the call */
	size_t nkeys;                 /* at most KY_STORE_ACCESS_KEYS_MAX */
	const char *parts;            /* the parts of it that some readers may not read, as JSON
				       * [{"selector": S, "keys": [K, ...]}] (admission.h): a read
				       * whose scope holds none of a part's keys gets the object
				       * without it (stix_selector.h); NULL: none. Keys joined by '&'
				       * are conjunctions (decision.h). Borrowed for the call */
	const char *shared;           /* the form readers other than its provider and the
				       * secretariat get: the object with every reference to a
				       * member's identity replaced by a pseudonym (pseudonym.h), as
				       * JSON text the hub wrote; NULL: the submitted bytes. Parts are
				       * removed from it as from those. Borrowed for the call */
	const struct ky_store_workflow *workflow; /* what it is to the council workflow
				       * (store_reports.h): set for what members submit to the
				       * exchange, NULL elsewhere. Borrowed for the call */
} ky_store_access;

#define KY_STORE_ACCESS_KEYS_MAX 64
#define KY_STORE_ACCESS_KEY_MAX 63    /* bytes of one key */
#define KY_STORE_PARTS_MAX 32         /* restricted parts of one version */
/* The access key of one member, the one key form the store knows (to give an object's
 * provider its key on the secretariat's versions): printf's, with the member's id. */
#define KY_STORE_MEMBER_KEY "m:%lld"

/* Who makes a change: a user of a member (through the API), or the operator (user_id 0: a
 * command on the database). `via` says how: "kyoyu member add", "POST /api/v1/members";
 * `origin` from where: the client's address (NULL for a command). The audit log
 * (store_audit.h) records both with the change. */
typedef struct ky_store_actor {
	int64_t user_id;
	int64_t member_id;
	const char *via;
	const char *origin;
} ky_store_actor;

typedef struct ky_store_batch ky_store_batch;

/*
 * Begins a batch of additions to one collection: one write transaction. The caller owns
 * *out until ky_store_batch_commit() or ky_store_batch_abort(), which free it.
 */
int ky_store_batch_begin(ky_store *s, int64_t collection_id, ky_store_batch **out);

/*
 * Adds one object, already validated: `raw` (raw_len bytes) is kept as it is (the batch
 * copies it); `object` is its parse, from which the store takes id, type, spec_version and
 * modified (or created, for objects that have no modified; neither: the object has one
 * version); `access` says who provides it and who may read it (required: the store keeps no
 * version without; KY_EINVALID). All are borrowed for the call only.
 * Returns its index in the batch (0, 1, ...) or a negative code. Nothing is durable or
 * visible before commit.
 */
int ky_store_batch_add(ky_store_batch *b, const char *raw, size_t raw_len, const json_t *object,
		       const ky_store_access *access);

/* What the store takes out of an object: borrowed strings (version: modified, or created,
 * or NULL for an object with a single version). */
typedef struct ky_store_meta {
	const char *id, *type, *spec_version, *version;
} ky_store_meta;

/* Fills *out from a parsed object, pointing into it. KY_EINVALID without a string id/type. */
int ky_store_meta_of(const json_t *object, ky_store_meta *out);

/* ky_store_batch_add() for a caller that has the fields already (copied, like raw). */
int ky_store_batch_add_meta(ky_store_batch *b, const char *raw, size_t raw_len, const ky_store_meta *meta,
			    const ky_store_access *access);

/*
 * Commits: assigns the sequence numbers and dates, makes the batch durable, then frees it.
 * On KY_OK, statuses[i] (an array of at least the number of adds, may be NULL) gets each
 * object's status and, if seqs is not NULL, seqs[i] its number (0 for a duplicate). On
 * failure nothing of the batch is stored.
 */
int ky_store_batch_commit(ky_store_batch *b, ky_store_status *statuses, uint64_t *seqs);

/* Says who adds the batch's objects (copied), for its entry in the audit log, which the
 * commit appends in the batch's own transaction listing the versions it added. Without it,
 * the operator ("kyoyu"). */
void ky_store_batch_actor(ky_store_batch *b, const ky_store_actor *actor);

/* Says whose eyes the submitter's are (copied): the workflow (store_reports.h) takes an
 * exchange object for feedback on a report only when this scope reads the report. Without
 * it, the operator's (everything). */
typedef struct ky_store_scope ky_store_scope;
void ky_store_batch_submitter(ky_store_batch *b, const ky_store_scope *scope);

/* Rolls the batch back and frees it; NULL does nothing. */
void ky_store_batch_abort(ky_store_batch *b);

/* --- reading ---------------------------------------------------------------------------- */

typedef enum ky_store_versions {
	KY_STORE_LAST = 1 << 0,   /* the latest version of each object (the default) */
	KY_STORE_FIRST = 1 << 1,  /* the earliest */
	KY_STORE_ALL = 1 << 2,    /* every version */
} ky_store_versions;

/*
 * Whose eyes a read is for. Every query names one: the store reads no object without. Either
 * `everything` (the operator's commands, the secretariat), or the viewer's audience keys
 * (ky_policy_scope): then a query selects only versions whose access holds one of them, and
 * everything else about it (which version is an object's first or last, the page's count,
 * `more`, its cursor and dates) is computed over those versions alone, as if no other
 * existed; and a version's parts that the scope holds no key of (ky_store_access.parts) are
 * removed from the bytes it reads.
 */
/* The versions a read handed over, for its entry in the audit log (store_audit.h): their
 * numbers in the hub, those of TLP:CLEAR aside. `vids` is malloc'd and owned by whoever owns
 * the ky_store_reads (ky_store_reads_clear frees it). */
typedef struct ky_store_reads {
	uint64_t *vids;
	size_t n, cap;
	bool incomplete;                /* memory ran out: some versions are not listed */
} ky_store_reads;

void ky_store_reads_clear(ky_store_reads *r);

/* Adds version vid to r (incomplete once memory runs out): for a path that hands versions
 * over without a query (the live stream's). */
void ky_store_reads_note(ky_store_reads *r, uint64_t vid);

typedef struct ky_store_scope {
	bool everything;
	const char *const *keys;        /* borrowed; at most KY_STORE_ACCESS_KEYS_MAX */
	size_t nkeys;
	ky_store_reads *reads;          /* borrowed; may be NULL: every version handed to a read's
					 * callback is added to it */
} ky_store_scope;

/* The operator's scope: every version. */
extern const ky_store_scope ky_store_operator_scope;

typedef struct ky_store_query {
	const ky_store_scope *scope;    /* required (KY_EDENIED without) */
	int64_t collection_id;          /* 0: every version in the hub, once, in order added */
	const char *const *ids;         /* match any of these ids (nids of them); none: any */
	size_t nids;
	const char *const *types;       /* likewise for types */
	size_t ntypes;
	const char *const *spec_versions; /* likewise for spec_version */
	size_t nspec_versions;
	unsigned versions;              /* KY_STORE_* flags, ORed; 0 means KY_STORE_LAST unless
					 * versions are named in `modified` */
	const char *const *modified;    /* also match these exact versions (timestamps, at most 64) */
	size_t nmodified;
	uint64_t after;                 /* only additions numbered above this (a page's cursor) */
	int64_t added_after_us;         /* and only additions dated after this (TAXII added_after,
					 * microseconds since 1970); 0: no such filter. Collection
					 * queries only: one index probe finds the number it stands
					 * for, so a deep point costs what a shallow one does */
	size_t limit;                   /* at most this many rows; 0: no limit */
} ky_store_query;

typedef struct ky_store_row {
	uint64_t seq;                   /* the addition's number; in hub-wide queries the version's
					 * number in the hub (the cursor those pages use) */
	int64_t date_added_us;          /* microseconds since 1970: the addition's date_added; in
					 * hub-wide queries when the version was first received */
	const char *id, *type, *spec_version, *modified;
	const char *raw;                /* the stored bytes; for a viewer other than the version's
					 * provider, its shared form (ky_store_access.shared) when it
					 * has one, and without the parts it may not read
					 * (ky_store_access.parts) */
	size_t raw_len;
	const char *shared;             /* the shared form as stored; NULL: none */
	size_t shared_len;
	const char *parts;              /* the version's restricted parts, as stored; NULL: none */
	int64_t provider;               /* the version's provider (0: not settled yet) */
	int tlp;                        /* its effective TLP (ky_store_access.tlp); -1: not settled */
	uint64_t vid;                   /* the version's number in the hub */
} ky_store_row;

/* Called once per row; everything in the row is borrowed for the call only. Nonzero stops. */
typedef int ky_store_row_fn(void *ctx, const ky_store_row *row);

typedef struct ky_store_page {
	size_t count;                   /* rows handed to fn */
	bool more;                      /* rows remain after this page */
	uint64_t last_seq;              /* the cursor for the next page: pass it as `after` */
	int64_t first_date_added_us, last_date_added_us;
} ky_store_page;

/*
 * Runs `q` and calls fn for each row, ordered by sequence number (by insertion for the
 * hub-wide query). `page` (may be NULL) gets the page's summary. Returns KY_OK, KY_EINVALID
 * for a malformed query, or the code fn returned if it stopped the walk with a negative one.
 */
int ky_store_query_run(ky_store *s, const ky_store_query *q, ky_store_row_fn *fn, void *ctx, ky_store_page *page);

/* Called after every write of this process commits (a batch, a removal, a change of the
 * council), on the writing thread: the live stream's wake-up (stream/stream.h), which must
 * be quick and must not call the store. One listener per process; NULL removes it. Writes
 * of other processes are not seen here. */
typedef void ky_store_commit_fn(void *ctx);
void ky_store_on_commit(ky_store_commit_fn *fn, void *ctx);

/* Whether `scope` reads a version whose access keys are keys[0..n): the decision a query
 * applies, for a version already in hand (the live stream's, stream/stream.h). */
bool ky_store_scope_reads(const ky_store_scope *scope, const char *const *keys, size_t n);

/* Hands fn `row` as scope's reader gets it from a query: its shared form unless it is the
 * version's provider, without the parts it holds no key of. Returns what fn returned. */
int ky_store_row_shown(const ky_store_scope *scope, const ky_store_row *row, ky_store_row_fn *fn, void *ctx);

/*
 * Versions of a hub from before schema 7 have no access yet: only the secretariat reads them
 * (fail closed) until `kyoyu migrate` gives each the access the policy decides from its
 * markings. ky_store_unsettled() calls fn for up to `limit` such versions numbered above
 * `after` (row->seq is the version's hub-wide number, the next call's `after`), with their
 * bytes; *more tells whether others follow. ky_store_settle() gives n of them their access
 * (vids[i] with access[i], in increasing order; a version settled meanwhile is left as it
 * is), in one transaction. ky_store_settle_additions() then gives every addition the keys
 * of its version, in one statement over the hub (entries has no index by version, so one
 * lookup per version would scan it each time): until then the collections' pages do not
 * show the settled versions.
 */
int ky_store_unsettled(ky_store *s, uint64_t after, size_t limit, ky_store_row_fn *fn, void *ctx, bool *more);
int ky_store_settle(ky_store *s, const uint64_t *vids, const ky_store_access *access, size_t n);
int ky_store_settle_additions(ky_store *s);

/*
 * Gives version (id, modified) of collection collection_id `access` instead of the access it
 * was stored with, if that was its provider's alone (access->provider's key only: a version
 * stored fail closed because a marking it names was not yet held) and the provider is the
 * same: for a submission that brought the marking-definition after the objects naming it.
 * *revised (may be NULL) tells whether it was. The version's additions to other collections
 * are not changed: a version fresh in this submission has none. One transaction.
 */
int ky_store_access_revise(ky_store *s, int64_t collection_id, const char *id, const char *modified,
			   const ky_store_access *access, bool *revised);

/* --- users and API keys (schema 3) ------------------------------------------------------- */

/*
 * The store keeps users, their API keys as keyed hashes, and server secrets; src/auth/ makes
 * the keys and hashes (auth.h) and is what other modules call. Nothing here sees a key.
 */

#define KY_STORE_USER_MAX 64        /* longest user name, in bytes */
#define KY_STORE_KEY_PREFIX_LEN 8   /* a key's first characters, kept to name it in listings */
#define KY_STORE_KEY_HASH_SIZE 32   /* the keyed hash of a key (HMAC-SHA256) */
#define KY_STORE_SECRET_SIZE 32     /* a server secret */

/* Users, their members and their keys are store_council.h's. */

/*
 * The server secret named `name` into out. When the hub has none yet: with `fresh` (random
 * bytes of the caller's) that becomes the secret, unless another connection stores one first,
 * whose value is then returned (one INSERT ... ON CONFLICT DO NOTHING, then a read: every
 * process ends up with the same secret); without it (NULL), KY_ENOTFOUND. A secret never
 * changes once stored, so each connection keeps the last one it read and asks the database
 * only once.
 */
int ky_store_secret(ky_store *s, const char *name, const uint8_t *fresh, uint8_t out[KY_STORE_SECRET_SIZE]);

/* --- removals (schema 4) ------------------------------------------------------------------ */

/*
 * Removes from collection `collection_id` the versions of object `id` that the filter selects
 * (TAXII 2.1 §5.7): `versions` (KY_STORE_* flags, as in queries; 0 with no `modified`: every
 * version) or/and the exact versions in `modified` (at most 64), and, when nspec_versions > 0,
 * only versions of those spec_versions. "last" and "first" are the collection's newest and
 * oldest versions of the object before the removal.
 * A removed addition leaves the collection (no query finds it) but is not forgotten: it is
 * moved, with its number and date_added, to the hub's record of removals with who removed it
 * (user_id) and when. With `provider` (not 0) only the versions that member provided are
 * candidates, for "last" and "first" too: a member removes its own and cannot tell whether
 * another's are there. The object's newest remaining version becomes its latest. Adding a
 * removed version again later is a new addition. One transaction. *removed (may be NULL) gets
 * how many additions left the collection (0: none matched, which is not an error).
 */
int ky_store_remove(ky_store *s, int64_t collection_id, const char *id, unsigned versions, const char *const *modified,
		    size_t nmodified, const char *const *spec_versions, size_t nspec_versions, int64_t provider,
		    int64_t user_id, uint64_t *removed);

/* One recorded removal, borrowed for the callback. */
typedef struct ky_store_removal {
	uint64_t seq;                   /* the addition's number, retired */
	int64_t date_added_us, removed_us;
	int64_t user_id;
	const char *id, *modified;      /* modified: "" for an object without versions */
} ky_store_removal;

/* Calls fn for every removal from collection_id, in the order they were made; nonzero stops. */
int ky_store_removal_list(ky_store *s, int64_t collection_id, int (*fn)(void *ctx, const ky_store_removal *r), void *ctx);

/* --- Add Objects requests (schema 4; claims fenced since 5): TAXII statuses, durable from receipt */

/*
 * A request to add objects (TAXII 2.1 §5.5) is recorded with its envelope's bytes before it
 * is acknowledged, and processed afterwards, possibly by another thread or process; its
 * progress is TAXII's status resource (§4.3.1). The envelope is kept until the request is
 * complete, so a request interrupted by a crash is processed again from the start: objects
 * it had stored are then duplicates, which count as successes, so the outcome is the same.
 *
 * A processor holds a request under a claim: a lease, renewed by each record, and a fencing
 * token. Every claim of a request gets a new token, one more than the last (the number of
 * times it was claimed), and recording or completing the request succeeds only with the
 * current token. A holder that stalled past its lease (a PostgreSQL reconnection takes up to
 * a minute) and was taken over can then change nothing: its writes are KY_ESTALE.
 */
typedef struct ky_store_request {
	char id[37];                    /* the status id: a UUID made by the caller */
	int64_t collection_id;
	int64_t user_id;
	int64_t received_us;            /* request_timestamp */
	bool complete;
	uint64_t total;                 /* objects in the envelope */
	uint64_t successes, failures;   /* outcomes recorded; pending = total - both */
	uint64_t token;                 /* the current claim's fencing token: how many times the
					 * request was claimed (0: never) */
} ky_store_request;

/* A request claimed this many times without being completed is not processed again: the
 * next claim completes it as failed (ky_store_request_claim), so that a request that breaks
 * every processor that takes it ends with a final status instead of being tried forever. */
#define KY_STORE_REQUEST_CLAIMS_MAX 5

/* The failure recorded for an object whose outcome the hub could not record. */
#define KY_STORE_REQUEST_UNRECORDED "the hub could not record this object's outcome"

/* One object's outcome, borrowed for the call. */
typedef struct ky_store_request_object {
	uint64_t index;                 /* its position in the envelope's objects, from 0 */
	const char *id;                 /* NULL when the element had no id (or was not JSON) */
	const char *version;            /* modified or created; NULL when it had neither */
	bool success;                   /* stored, or already in the collection */
	const char *message;            /* a failure's reasons, or a success's warning; may be NULL */
} ky_store_request_object;

/*
 * Records a new request: r->id, collection_id, user_id, received_us and total (the other
 * fields are ignored: it starts incomplete and unclaimed, with no outcomes), with the
 * envelope's `len` bytes. Durable on return (one transaction). KY_EEXISTS when the id is
 * taken.
 */
int ky_store_request_add(ky_store *s, const ky_store_request *r, const char *envelope, size_t len);

/* The request `id` into *out; KY_ENOTFOUND when there is none. */
int ky_store_request_get(ky_store *s, const char *id, ky_store_request *out);

/* Calls fn for each recorded outcome of request `id`, by index; nonzero stops. */
int ky_store_request_objects(ky_store *s, const char *id, int (*fn)(void *ctx, const ky_store_request_object *o),
			     void *ctx);

/*
 * Claims the oldest incomplete request that nobody holds (never claimed, or its holder's lease
 * ran out), holding it for lease_us microseconds from now under a new token (out->token):
 * *out, and its envelope in *envelope (malloc'd, the caller frees it) of *len bytes.
 * KY_ENOTFOUND when there is none. Two connections, in one process or several, never hold
 * the same request at once. A request found claimed KY_STORE_REQUEST_CLAIMS_MAX times
 * already is completed instead, as ky_store_request_abandon() does, and the next one is
 * looked for, in the same transaction.
 */
int ky_store_request_claim(ky_store *s, int64_t lease_us, ky_store_request *out, char **envelope, size_t *len);

/*
 * Records n outcomes of request `id` under the claim `token` (an index recorded before is
 * replaced: a resumed request reports its objects again), updates its counts and renews the
 * lease for lease_us from now. One transaction. Ids, versions and messages are stored as
 * valid UTF-8: one that is not is cut before its first byte that is not and marked
 * " (cut: not UTF-8)". KY_ESTALE ("the claim on request X was taken over") when the
 * request's token is no longer `token`: nothing is recorded and the lease is left as it is;
 * KY_EINVALID for an index past the envelope; KY_ENOTFOUND for no such request.
 */
int ky_store_request_record(ky_store *s, const char *id, uint64_t token, const ky_store_request_object *objects,
			    size_t n, int64_t lease_us);

/* Marks request `id` complete and drops its envelope, under the claim `token`: KY_ESTALE
 * as ky_store_request_record() when it was taken over (nothing changes), KY_ENOTFOUND when
 * there is no such request. */
int ky_store_request_complete(ky_store *s, const char *id, uint64_t token);

/*
 * Completes request `id` as failed where its outcomes are missing, under the claim `token`:
 * for when its outcomes cannot be recorded and trying again will not help. Every object of
 * the envelope without a recorded outcome gets a failure, KY_STORE_REQUEST_UNRECORDED; the
 * counts are updated, the request marked complete and its envelope dropped, in one
 * transaction. Errors as ky_store_request_complete().
 */
int ky_store_request_abandon(ky_store *s, const char *id, uint64_t token);

/* --- statistics --------------------------------------------------------------------------- */

typedef struct ky_store_stats {
	int schema_version;
	uint64_t versions, objects, additions, collections;
	uint64_t last_seq;
	uint64_t bytes;          /* size of the stored objects */
	uint64_t database_bytes; /* size of the database */
} ky_store_stats;

int ky_store_stats_get(ky_store *s, ky_store_stats *out);

/* Counts versions per type, most first: fn(ctx, type, count) for each. */
int ky_store_type_counts(ky_store *s, int (*fn)(void *ctx, const char *type, uint64_t count), void *ctx);

/* SQLite's integrity check (PRAGMA integrity_check); KY_OK when it passes, else KY_ERROR
 * with the first problem in the message. */
int ky_store_check(ky_store *s);

/* --- test hooks ------------------------------------------------------------------------- */

/*
 * For tests only, PostgreSQL (nothing on SQLite): the connection of s is cut after each of
 * the next n statements that end a transaction (a COMMIT, or any statement run on its own,
 * reads too; the prepared reads of every request aside), once the server's answer has arrived
 * and before it is used, as when the network fails between a COMMIT and its answer: the
 * operation cannot tell whether it committed, reconnects and retries as after any loss. Arm
 * it just before the write under test. Not thread-safe: s's thread only.
 */
void ky_store_test_cut_after_commit(ky_store *s, unsigned n);

#endif
