/*
 * client: kyoyu as a client of a remote hub (libcurl, Debian's libcurl4-openssl-dev). A
 * member never has the hub's database; its commands (`kyoyu --hub URL whoami`, `rules
 * accept`, ...) speak the hub's native API (/api/v1/) over HTTPS with an API key instead.
 * src/cli/cli_remote.c is the command side; this module holds what is about the wire: the
 * URL rule, one request, the hub's error bodies and what an answer means as an exit status.
 * docs/client.md is the page for people.
 *
 * The URL rule: https://HOST[:PORT][/PREFIX], or http:// only when HOST is loopback
 * (127.0.0.0/8, [::1], localhost), because the key travels in every request and plain HTTP
 * elsewhere would show it to the network. The URL is parsed by libcurl's own URL parser and
 * the host checked is the host libcurl connects to, so that a URL that reads as loopback to
 * a person but not to libcurl (http://127.0.0.1@evil.example/) cannot slip through; a URL
 * with a user name or password, a query or a fragment is refused outright.
 *
 * Everything the hub sends is untrusted: bodies are bounded (KY_CLIENT_BODY_MAX) and kept
 * with their length, and any of its text shown to a person goes through
 * ky_client_text_clean() first.
 */
#ifndef KY_CLIENT_H
#define KY_CLIENT_H

#include <stdbool.h>
#include <stddef.h>

/* The largest answer body a request takes; a larger one is KY_ETOOBIG. */
#define KY_CLIENT_BODY_MAX (16u * 1024 * 1024)
/* How long a request may take, in seconds: to connect (TCP and TLS), and in all. */
#define KY_CLIENT_CONNECT_TIMEOUT 10
#define KY_CLIENT_TIMEOUT 60
/* The environment variable that shortens both timeouts, for tests that must not wait a
 * minute for a hub that hangs: a whole number of seconds, 1 to KY_CLIENT_TIMEOUT (it can
 * only shorten them). Read by ky_client_new() only; kyoyu's help does not mention it. */
#define KY_CLIENT_TIMEOUT_ENV "KYOYU_CLIENT_TIMEOUT"
/* The longest hub message ky_client_hub_error() writes, in bytes, before its NUL. */
#define KY_CLIENT_MESSAGE_MAX 1024
/* The longest hub URL taken, in bytes. */
#define KY_CLIENT_URL_MAX 2048

/* What an answer or a failure means to the member's commands: their exit statuses
 * (issue 12's contract; docs/client.md). 2 is the commands' own usage error. */
enum {
	KY_CLIENT_EXIT_OK = 0,        /* 2xx: done */
	KY_CLIENT_EXIT_FAILED = 1,    /* not reached, network, TLS, timeout, 5xx, or an answer
				       * that makes no sense (3xx, 405, 406, 429, a bad body) */
	KY_CLIENT_EXIT_USAGE = 2,     /* the command line (or the URL, or the key) is wrong */
	KY_CLIENT_EXIT_INVALID = 3,   /* the hub found the request invalid: 400, 413, 415 */
	KY_CLIENT_EXIT_REFUSED = 4,   /* the hub refused: 401, 403 */
	KY_CLIENT_EXIT_NOT_FOUND = 5, /* 404 */
	KY_CLIENT_EXIT_CONFLICT = 6,  /* 409 */
};

typedef struct ky_client ky_client;

typedef struct ky_client_options {
	const char *url;    /* the hub, as ky_client_url_check() takes it; borrowed */
	const char *key;    /* the API key, sent as "Authorization: Bearer KEY"; copied, and the
			     * copy wiped on ky_client_free() */
	const char *cacert; /* a CA bundle (PEM) to verify the hub's certificate with, in place
			     * of the system's bundle file (curl's --cacert; the system's
			     * certificate directory stays trusted); NULL: the system's. Borrowed */
} ky_client_options;

/* One answer of the hub. ky_client_response_clear() frees what it holds; a zeroed one
 * holds nothing. */
typedef struct ky_client_response {
	long status;            /* the HTTP status, 100-599 */
	char *body;             /* the body: body_len bytes (which may hold NULs) and a NUL
				 * after them; malloc'd, never NULL after a request */
	size_t body_len;        /* at most KY_CLIENT_BODY_MAX */
	char content_type[256]; /* the Content-Type as the hub sent it, "" when none; cut to
				 * fit, for comparing, not for showing */
	char location[KY_CLIENT_MESSAGE_MAX + 1]; /* a redirect's target (3xx), made
				 * absolute and passed through ky_client_text_clean(); "" when none */
} ky_client_response;

/*
 * Checks a hub URL against the rule above; on success writes into base[0..size) the URL
 * requests are made under: scheme, host and port as libcurl reads them, the path prefix
 * without its trailing '/' ("https://hub.example/kyoyu/" -> "https://hub.example/kyoyu").
 * base may be NULL (size 0) to check only. `url` is a NUL-terminated string (a command
 * line's); borrowed.
 * Returns KY_OK, or KY_EINVALID with a message that says why and quotes the URL, unless it
 * holds an '@' (a password, even a key, may stand before it): not a URL, a scheme other
 * than https or http, a user name or password, a query, a fragment, http to a host that is
 * not loopback, longer than KY_CLIENT_URL_MAX (or size). Thread-safe.
 */
int ky_client_url_check(const char *url, char *base, size_t size);

/*
 * Makes a client of the hub options->url with options->key. Checks the URL
 * (ky_client_url_check()), the key (1 to 1024 characters, each visible ASCII: anything else
 * could not be sent in a header, or would split it) and KYOYU_CLIENT_TIMEOUT when set.
 * On success *out is the caller's, freed with ky_client_free(). No request is made yet.
 * Errors: KY_EINVALID (the URL, as ky_client_url_check() says; "the API key ..." without
 * showing it; the timeout variable), KY_ENOMEM, KY_ERROR (libcurl cannot start).
 * Thread-safe; a client is then used by one thread at a time.
 */
int ky_client_new(ky_client **out, const ky_client_options *options);

/* Frees the client and wipes its copy of the key; NULL does nothing. */
void ky_client_free(ky_client *client);

/* The hub's base URL, as ky_client_url_check() wrote it; valid as long as the client. */
const char *ky_client_base(const ky_client *client);

/*
 * Makes one request: `method` ("GET", "POST", "PATCH", "DELETE") on the hub's base URL and
 * `path` (which starts with '/', e.g. "/api/v1/me", a query allowed; the caller's own
 * text, not a user's), with body[0..body_len) as application/json when body is not NULL.
 * Sends "Authorization: Bearer KEY", "Accept: application/json" and "User-Agent:
 * kyoyu/VERSION"; follows no redirect (a 3xx is an answer, its target in out->location);
 * always verifies the hub's certificate and host name; uses no proxy for a loopback hub
 * (an http_proxy from the environment would otherwise carry the key in plain text).
 * On KY_OK *out holds the answer, whatever its status (a 404 is an answer, not an
 * error); the caller frees it with ky_client_response_clear(). On any error *out holds
 * nothing (it is cleared first, so pass a zeroed or cleared one).
 * Errors: KY_ERROR with libcurl's reason and the hub's URL (the hub cannot be reached: DNS,
 * refused, TLS, certificate, timed out after N seconds, the connection cut), KY_ETOOBIG (a
 * body over KY_CLIENT_BODY_MAX), KY_EINVALID (path does not start with '/', or makes a URL
 * over KY_CLIENT_URL_MAX), KY_ENOMEM. No message holds the key.
 */
int ky_client_request(ky_client *client, const char *method, const char *path, const char *body, size_t body_len,
		      ky_client_response *out);

/* Frees what r holds and zeroes it; NULL does nothing. */
void ky_client_response_clear(ky_client_response *r);

/*
 * Writes text[0..len), which came from the hub, into out[0..size) as something safe to put
 * on a terminal: valid UTF-8 (each byte that does not start a well-formed character becomes
 * '?'), control characters (C0, DEL, C1) and the bidirectional overrides and isolates
 * (U+202A-U+202E, U+2066-U+2069, which reorder what a terminal shows) each shown as '?',
 * cut at a character boundary to at most size - 1 bytes; always NUL-terminated (size > 0).
 * With `lines`, '\n' and '\t' are kept and "\r\n" becomes "\n" (a multi-line text such as
 * the rules). The output is never longer than the input, so size = len + 1 always fits.
 * Returns how many bytes of text were consumed: len unless the output was cut. Pure.
 */
size_t ky_client_text_clean(char *out, size_t size, const char *text, size_t len, bool lines);

/*
 * Opens an event stream (Server-Sent Events, the hub's GET /api/v1/stream): GET `path` as
 * ky_client_request does, with "Accept: text/event-stream" and, when last_event_id is not
 * NULL (digits only), "Last-Event-ID: ID". A 2xx body is handed to fn(ctx, data, len) as it
 * arrives (borrowed for the call; fn returns false to stop); there is no time limit but
 * silence: idle_seconds without a byte ends it (KY_ERROR). Any other answer is kept in *out
 * as ky_client_request keeps one. KY_OK once the stream ended (the hub closed it, or fn
 * stopped it), out->status saying how it began; the errors as ky_client_request's.
 */
typedef bool ky_client_stream_fn(void *ctx, const char *data, size_t len);
int ky_client_stream(ky_client *client, const char *path, const char *last_event_id, long idle_seconds,
		     ky_client_stream_fn *fn, void *ctx, ky_client_response *out);

/*
 * Writes what an error answer says into out[0..size), to follow "the hub answered ":
 * from a TAXII error body (TAXII 2.1 §3.6.1, a JSON object with a string "title"):
 * "STATUS TITLE: DESCRIPTION" (": DESCRIPTION" only when there is a non-empty string
 * description), the hub's text passed through ky_client_text_clean(); from any other body:
 * "STATUS, and its body is not a TAXII error (CONTENT-TYPE, N bytes)" or "STATUS with an
 * empty body". At most min(size - 1, KY_CLIENT_MESSAGE_MAX) bytes, cut at a character
 * boundary with "..." at the end when cut; always NUL-terminated (size > 0). body is
 * body[0..body_len), untrusted; content_type a NUL-terminated string (may be ""). Returns
 * out. Pure; thread-safe.
 */
const char *ky_client_hub_error(char *out, size_t size, long status, const char *content_type, const char *body,
				size_t body_len);

/* The exit status an answer with HTTP status `status` means (the enum above): 2xx 0; 400,
 * 413, 415 3; 401, 403 4; 404 5; 409 6; anything else 1. Pure. */
int ky_client_exit_status(long status);

#endif
