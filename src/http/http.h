/*
 * http: kyoyu's HTTP server, a thin layer over libmicrohttpd (Debian's libmicrohttpd-dev).
 * docs/http.md says why this library: measured here it serves small JSON responses at about
 * 80k requests/s on loopback when the handler answers on its second call, keeps thousands of
 * idle streaming clients cheaply (suspend/resume), and does TLS through GnuTLS.
 *
 * The server owns the listening socket (bound here, so a taken port is a clear error rather
 * than a silent failure), a pool of worker threads, and per request an arena from which the
 * handlers allocate: everything a request allocates there is freed when it completes.
 *
 * A request meets the application twice, both times on a worker thread:
 *   1. `admit`, once its headers are in and before any byte of its body is kept: routing,
 *      authentication and the declared length are decided here, so that a client who may
 *      not send a body never gets to (401, 413 answered without reading it);
 *   2. `handle`, once the whole body (at most max_body bytes) has arrived.
 * Each returns KY_OK when it is done (`handle` having answered with ky_http_respond*()), or a
 * status code: the server then answers with the error table (http_status.c), one place that
 * turns every code into an HTTP status and an error body. A code whose message is meant for
 * the client (a malformed parameter, a missing object) sends ky_error_last() as the
 * description; any other (the database, memory) sends only the request's id, and the
 * message goes to the server's log under that id, so that nothing internal reaches a client.
 *
 * Before `admit`, the server refuses what no handler should see: a request target that is
 * not an origin-form path, malformed percent-encoding, a NUL, another control character or
 * text that is not UTF-8 in the path or a query parameter (400), a target or headers over
 * the limits (414, 431), a missing, repeated or malformed Content-Length or one next to
 * Transfer-Encoding (400, so that a proxy in front cannot be made to frame the request
 * otherwise), and a declared body over max_body (413).
 *
 * Slow clients: a connection must deliver a request's headers within header_timeout of
 * opening (or of its previous request ending) and the body within body_timeout of the
 * headers, or it is closed; idle connections are closed after idle_timeout; there are at
 * most max_connections at once, max_connections_per_address of them from one address.
 */
#ifndef KY_HTTP_H
#define KY_HTTP_H

#include <stdbool.h>
#include <stddef.h>

#include "util/ky_arena.h"
#include "util/ky_slice.h"

typedef struct ky_http_server ky_http_server;
typedef struct ky_http_request ky_http_request;

/* The limits of the request target and of the header block, in bytes: as Apache's and
 * nginx's defaults, and together what a connection's 16 KiB pool holds with the answer's
 * headers (http.c). */
#define KY_HTTP_TARGET_MAX 8192
#define KY_HTTP_HEADERS_MAX 4096
/* Query parameters one request may have. */
#define KY_HTTP_PARAMS_MAX 64

/* Handlers: see above. `admit` may be NULL (every request admitted). */
typedef int ky_http_handler(void *ctx, ky_http_request *request);

typedef struct ky_http_options {
	const char *listen;          /* "127.0.0.1:6560", "[::1]:6560", "0.0.0.0:6560" */
	const char *tls_certificate; /* PEM files: both, or neither for plain HTTP */
	const char *tls_key;
	size_t max_body;             /* larger request bodies are refused with 413; 0: 100 MiB */
	unsigned threads;            /* worker threads; 0: one per core */
	/* 0 for each: the defaults of kyoyu.conf (docs/config.md). */
	unsigned max_connections, max_connections_per_address;
	unsigned header_timeout, body_timeout, idle_timeout; /* seconds */
	const char *error_media_type; /* of error bodies; NULL: TAXII's */
	ky_http_handler *admit, *handle;
	void *ctx;                    /* both handlers' first argument */
} ky_http_options;

/*
 * Binds options->listen and starts serving. KY_EINVALID for a malformed address or an
 * unreadable or bad TLS file, KY_EINUSE when the address is in use ("...: address in
 * use"), KY_ERROR otherwise; the message says which. The caller owns *out (ky_http_stop).
 */
int ky_http_start(ky_http_server **out, const ky_http_options *options);

/* The port actually bound (useful when listen asked for port 0). */
unsigned ky_http_port(const ky_http_server *server);

/* Stops accepting, lets requests in progress finish, and frees the server. NULL: nothing. */
void ky_http_stop(ky_http_server *server);

/* --- the request (borrowed for the handlers' calls) --------------------------------------- */

/* Each slice below is valid until the request completes, and NUL-terminated for libraries
 * that want C strings; its length is the truth (the server refused NULs already). */
ky_slice ky_http_method(const ky_http_request *r);
/* The path, percent-decoded, without the query: valid UTF-8 without controls. */
ky_slice ky_http_path(const ky_http_request *r);
/* A request header (case-insensitive name), or NULL. */
const char *ky_http_header(const ky_http_request *r, const char *name);
/* The query parameters in order, percent-decoded ('+' is a space): valid UTF-8 without
 * controls; a parameter given without '=' has an empty value. */
typedef struct ky_http_param {
	ky_slice key, value;
} ky_http_param;
const ky_http_param *ky_http_params(const ky_http_request *r, size_t *count);
/* The client's address, as text. */
const char *ky_http_client(const ky_http_request *r);
/* A random id for this request, 16 hex digits: error bodies carry it as error_id and the
 * log names it, so an operator finds what a client reports. */
const char *ky_http_request_id(const ky_http_request *r);
/* The request body and its length (NULL and 0 when there is none); only in `handle`. */
const char *ky_http_body(const ky_http_request *r, size_t *length);
/* Memory that lives until the request completes. */
ky_arena *ky_http_arena(ky_http_request *r);
/* What `admit` leaves for `handle`; NULL until set. `release` (may be NULL, for arena
 * memory) is called on it when the request ends, unless it was set again first: a handler
 * done with its state early (a stream's request lasts as long as the stream) releases it
 * itself and sets NULL. */
void ky_http_set_state(ky_http_request *r, void *state, void (*release)(void *state));
void *ky_http_state(const ky_http_request *r);
/* The media type of this request's error bodies, over the server's error_media_type (the
 * native API's are application/json); `media_type` must outlive the request. */
void ky_http_set_error_media(ky_http_request *r, const char *media_type);

/* --- the response ----------------------------------------------------------------------- */

/* Adds a response header; name and value are copied. Call before answering (a header added
 * before an error is returned goes with the error: Allow, WWW-Authenticate, Retry-After). */
void ky_http_header_add(ky_http_request *r, const char *name, const char *value);

/* Answers with status and `length` bytes of body (copied; may be 0) of content_type (may
 * be NULL for no body). */
void ky_http_respond(ky_http_request *r, unsigned status, const char *content_type, const char *body, size_t length);

/* ky_http_respond() without the copy, for large bodies: the body is `length` bytes at `body`,
 * inside the malloc'd block `owner`, which the server takes and frees once it is sent (or
 * at once if the response cannot be made). */
void ky_http_respond_take(ky_http_request *r, unsigned status, const char *content_type, const char *body, size_t length,
			  void *owner);

/*
 * A streaming answer (Server-Sent Events): status and headers now, then a body of unknown
 * length made by `read` as the connection can take it, for as long as it lasts. `read(ctx,
 * buf, max)` returns how many bytes it wrote into buf[0..max), 0 when it has nothing now
 * (the connection then waits, costing no thread, until ky_http_stream_wake), or -1 to end
 * the answer cleanly. `done(ctx)` is called once when the answer is over, whoever ended it
 * (read, the client going, the server stopping): after it returns, neither the stream nor
 * ctx is touched by the server, and ky_http_stream_wake must not be called again, so the
 * caller serialises its wakes with `done` (a lock both take). A stopping server ends every
 * stream (read is not called again). The handle is the server's; NULL when the answer could
 * not be made (done is called then too).
 */
typedef long ky_http_stream_read(void *ctx, char *buf, size_t max);
typedef void ky_http_stream_done(void *ctx);
typedef struct ky_http_stream ky_http_stream;
ky_http_stream *ky_http_respond_stream(ky_http_request *r, unsigned status, const char *content_type,
				       ky_http_stream_read *read, ky_http_stream_done *done, void *ctx);

/* Says that the stream's read has something again; any thread. */
void ky_http_stream_wake(ky_http_stream *stream);

/*
 * Writing a stream's answer straight to its socket, which costs one send where a wake costs
 * the library's round (a resume, its thread, the reader's calls, a suspension). The body is
 * not framed (it lasts until the connection closes), so bytes written here and bytes `read`
 * gives the library follow each other on the wire as they were written.
 *
 * ky_http_stream_hold: while the connection waits (its read had nothing) and the answer goes
 * in clear, returns the socket, the stream held: the library does not touch the socket until
 * ky_http_stream_release. -1 otherwise (under TLS, or while the library is sending): wake it
 * instead. Write with MSG_DONTWAIT. Release with `more` when the library must take over: the
 * socket would not take everything, the answer ends, or the socket failed (read then says
 * so): the connection resumes and read is called. Called under the caller's own lock, as
 * ky_http_stream_wake is.
 *
 * ky_http_stream_socket: the socket `read` may write to itself before filling buf (the library
 * is in read and does not touch the socket meanwhile), as above; -1 under TLS.
 */
int ky_http_stream_hold(ky_http_stream *stream);
void ky_http_stream_release(ky_http_stream *stream, bool more);
int ky_http_stream_socket(const ky_http_stream *stream);

/*
 * Parses a raw request target (origin-form, RFC 9112 §3.2.1: "/path?query", len bytes, not
 * NUL-terminated) into its percent-decoded path and query parameters, allocated in the
 * arena, as the server does for every request (exposed for tests and fuzzing).
 * KY_EURITOOLONG over KY_HTTP_TARGET_MAX bytes or KY_HTTP_PARAMS_MAX parameters,
 * KY_EINVALID for a control byte or space, a target not starting with '/', a malformed
 * percent-encoding, or decoded text that is not UTF-8 or holds a NUL or control; KY_ENOMEM.
 */
int ky_http_target_parse(ky_arena *arena, const char *target, size_t len, ky_slice *path, ky_http_param **params,
			 size_t *nparams);

/* --- the error table (http_status.c) ------------------------------------------------------ */

typedef struct ky_http_status {
	int code;              /* a KY_* status code */
	unsigned http;         /* its HTTP status */
	const char *title;     /* the error body's title */
	bool shown;            /* whether the code's message is the client's description */
} ky_http_status;

/* The table's row for `code`; every code has one (unknown ones: 500, not shown). */
const ky_http_status *ky_http_status_of(int code);

/*
 * Answers request r with the error `code`: the table's HTTP status and an error body
 * ({"title", "description", "error_id", "http_status"}, TAXII 2.1 §3.6.1) of the server's
 * error media type. The description is `message` when the code is shown, else a sentence
 * naming the request id; a code that is not shown is logged on stderr with `message` and the
 * request's id, method and path. `message` may be any bytes: it is cut at a character
 * boundary and replaced when it is not UTF-8 text.
 */
void ky_http_respond_error(ky_http_request *r, int code, const char *message);

/* A store failure `rc` as a request's failure, keeping the store's message for the log:
 * out of memory stays so, the rest becomes KY_EUNAVAILABLE (the database) or KY_ERROR, which
 * the table does not show to the client. */
int ky_http_store_failure(int rc);

#endif
