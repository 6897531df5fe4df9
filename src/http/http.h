/*
 * http: kyoyu's HTTP server, a thin layer over libmicrohttpd (Debian's libmicrohttpd-dev).
 * docs/http.md says why this library: measured here it serves small JSON responses at about
 * 80k requests/s on loopback when the handler answers on its second call, keeps thousands of
 * idle streaming clients cheaply (suspend/resume), and does TLS through GnuTLS.
 *
 * The server owns the listening socket (bound here, so a taken port is a clear error rather
 * than a silent failure), a pool of worker threads, and per request an arena from which the
 * handler allocates: everything a request allocates there is freed when it completes. The
 * handler runs once per request, on a worker thread, after the whole body (bounded by
 * max_body: larger ones are answered 413 without calling it) has arrived, and answers with
 * ky_http_respond().
 */
#ifndef KY_HTTP_H
#define KY_HTTP_H

#include <stdbool.h>
#include <stddef.h>

#include "util/ky_arena.h"

typedef struct ky_http_server ky_http_server;
typedef struct ky_http_request ky_http_request;

typedef struct ky_http_options {
	const char *listen;          /* "127.0.0.1:6560", "[::1]:6560", "0.0.0.0:6560" */
	const char *tls_certificate; /* PEM files: both, or neither for plain HTTP */
	const char *tls_key;
	size_t max_body;             /* larger request bodies are refused with 413; 0: 100 MiB */
	unsigned threads;            /* worker threads; 0: one per core */
} ky_http_options;

/* Handles one request on a worker thread; must call ky_http_respond() exactly once. */
typedef void ky_http_handler(void *ctx, ky_http_request *request);

/*
 * Binds options->listen and starts serving. KY_EINVALID for a malformed address or an
 * unreadable or bad TLS file, KY_ECONFLICT when the address is in use ("...: address in
 * use"), KY_ERROR otherwise; the message says which. The caller owns *out (ky_http_stop).
 */
int ky_http_start(ky_http_server **out, const ky_http_options *options, ky_http_handler *handler, void *ctx);

/* The port actually bound (useful when listen asked for port 0). */
unsigned ky_http_port(const ky_http_server *server);

/* Stops accepting, lets requests in progress finish, and frees the server. NULL: nothing. */
void ky_http_stop(ky_http_server *server);

/* --- the request (borrowed for the handler's call) --------------------------------------- */

const char *ky_http_method(const ky_http_request *r);
/* The path, percent-decoded, without the query. */
const char *ky_http_path(const ky_http_request *r);
/* A request header (case-insensitive name), or NULL. */
const char *ky_http_header(const ky_http_request *r, const char *name);
/* The first value of a query parameter ("" when given without one), or NULL when absent. */
const char *ky_http_query(const ky_http_request *r, const char *name);
/* Calls fn for every query parameter in order; stops when fn returns nonzero (returned). */
int ky_http_query_each(const ky_http_request *r, int (*fn)(void *ctx, const char *key, const char *value), void *ctx);
/* The client's address, as text. */
const char *ky_http_client(const ky_http_request *r);
/* The request body and its length (NULL and 0 when there is none). */
const char *ky_http_body(const ky_http_request *r, size_t *length);
/* Memory that lives until the request completes. */
ky_arena *ky_http_arena(ky_http_request *r);

/* --- the response ----------------------------------------------------------------------- */

/* Adds a response header; name and value are copied. Call before ky_http_respond(). */
void ky_http_header_add(ky_http_request *r, const char *name, const char *value);

/* Answers with status and `length` bytes of body (copied; may be 0) of content_type (may
 * be NULL for no body). */
void ky_http_respond(ky_http_request *r, unsigned status, const char *content_type, const char *body, size_t length);

/* ky_http_respond() without the copy, for large bodies: the body is `length` bytes at `body`,
 * inside the malloc'd block `owner`, which the server takes and frees once it is sent (or
 * at once if the response cannot be made). */
void ky_http_respond_take(ky_http_request *r, unsigned status, const char *content_type, const char *body, size_t length,
			  void *owner);

#endif
