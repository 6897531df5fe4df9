/*
 * http: libmicrohttpd behind http.h.
 *
 * libmicrohttpd meets a request at these points, and kyoyu's record of it is made at the
 * first: the URI log callback, called with the raw request target as soon as the request
 * line is read; the access handler, called first with the headers (admit runs here), then
 * with each piece of the body (appended, up to max_body), then once more with nothing (the
 * handler runs, and answering on this second call is the pattern measured fastest); and the
 * completion callback, which frees the record and its arena whatever happened.
 *
 * The target is parsed here, not by libmicrohttpd: its parser measures decoded values with
 * strlen (so "%00" cuts a path or a parameter silently) and keeps every parameter in the
 * connection's memory pool (so some 500 parameters exhaust it, and the connection closes
 * without an answer). The URI log callback copies the raw target and empties the query in
 * libmicrohttpd's buffer, so that its parser has nothing left to read.
 *
 * libmicrohttpd's own timeout is an idle timeout, which a client sending one byte a second
 * never meets. So each connection also has a deadline (headers within header_timeout of
 * opening, a body within body_timeout of its headers, the next request within idle_timeout
 * of the last), and a sweeper thread shuts down the socket of a connection past it;
 * libmicrohttpd then sees the connection end and closes it as usual. The records live from
 * libmicrohttpd's "connection started" to its "connection closed" notification, which comes
 * before it closes the socket, so a socket shut down under the lock is never another file.
 */
#include "http/http.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "http/http_internal.h"
#include "util/ky_error.h"
#include "util/ky_uri.h"
#include "util/ky_utf8.h"

#define DEFAULT_MAX_BODY ((size_t)100 << 20)
#define DEFAULT_MAX_CONNECTIONS 16000
#define DEFAULT_MAX_PER_ADDRESS 256
#define DEFAULT_HEADER_TIMEOUT 10
#define DEFAULT_BODY_TIMEOUT 300
#define DEFAULT_IDLE_TIMEOUT 60
#define DEFAULT_ERROR_MEDIA "application/taxii+json;version=2.1"
/* A connection's memory pool holds its request line, headers and response headers (the
 * query is parsed into the request's arena instead). libmicrohttpd 0.9.75 reads a request
 * into half of the pool and zeroes that half when the answer starts, so half the pool is
 * what every open stream keeps resident: 16 KiB (not the library's 32) holds the largest
 * request head the limits allow, 8 KiB of target and 4 KiB of headers, with the answer's
 * headers, and keeps an idle stream under 16 KB (bench/run-stream). */
#define POOL_SIZE ((size_t)16 << 10)
#define SWEEP_INTERVAL_MS 250
/* How long a stop waits for requests in progress (a body still arriving included) before it
 * closes their connections. */
#define DRAIN_MS 10000
/* A request refused on its headers while its body is still coming (401, 413) is answered
 * at once; closing then, with unread bytes in the socket, would make the kernel reset the
 * connection, and the client, busy sending, would lose the answer. So the socket is kept a
 * while longer, reading and throwing away what arrives (RFC 9112 §9.6): at most this long,
 * this much, and this many sockets at once (more are closed at once). */
#define LINGER_MS 5000
#define LINGER_BYTES ((size_t)16 << 20)
#define LINGER_MAX 1024

/* One open connection's deadline. */
typedef struct conn {
	struct conn *prev, *next;
	int fd;
	int64_t deadline_ms;  /* monotonic; 0: none */
} conn;

struct ky_http_server {
	struct MHD_Daemon *daemon;
	int socket;
	unsigned port;
	ky_http_handler *admit, *handle;
	void *ctx;
	size_t max_body;
	int64_t header_timeout_ms, body_timeout_ms, idle_timeout_ms;
	const char *error_media;
	char *cert, *key;      /* the TLS files' contents; libmicrohttpd keeps pointers */
	pthread_mutex_t conns_lock;
	conn *conns;
	pthread_t sweeper;
	bool sweeper_running, stopping;
	pthread_cond_t sweep_cond;
	unsigned active;       /* requests begun and not completed; under conns_lock */
	pthread_cond_t drained; /* signalled when active falls to 0 */
	/* Sockets lingering after an early answer, read by the linger thread. */
	pthread_mutex_t linger_lock;
	struct lingerer *lingering;
	unsigned nlingering;
	int linger_wake[2];    /* a pipe: a new socket, or the stop */
	pthread_t linger_thread;
	bool linger_running, linger_stopping;
	/* The streaming answers in progress, which a stop ends. */
	pthread_mutex_t streams_lock;
	struct ky_http_stream *streams;
};

/* A streaming answer (http.h). `lock` orders the reader's decision to suspend with wakes. */
struct ky_http_stream {
	struct ky_http_stream *prev, *next;
	ky_http_server *server;
	struct MHD_Connection *connection;
	ky_http_stream_read *read;
	ky_http_stream_done *done;
	void *ctx;
	int fd;                /* its socket when the answer goes in clear; -1 under TLS */
	pthread_mutex_t lock;  /* held by a ky_http_stream_hold */
	bool suspended, woken, ending;
};

typedef struct lingerer {
	struct lingerer *next;
	int fd;                /* a duplicate: libmicrohttpd closes its own */
	int64_t until_ms;
	size_t left;
} lingerer;

typedef struct header {
	char *name, *value;
	struct header *next;
} header;

struct ky_http_request {
	ky_http_server *server;
	struct MHD_Connection *connection;
	ky_arena *arena;
	char *target;          /* the raw request target, NULL when over KY_HTTP_TARGET_MAX */
	size_t target_len;
	const char *line_target; /* where the target is in libmicrohttpd's request line */
	ky_slice method, path;
	ky_http_param *params;
	size_t nparams;
	char id[17];
	char client[64];
	void *state;
	void (*release_state)(void *state);
	const char *error_media; /* this request's error media type; NULL: the server's */
	bool admitted;
	bool failed;           /* answered before the body: what arrives is dropped */
	char *body;
	size_t body_len, body_cap;
	header *headers;       /* response headers, in the arena */
	struct MHD_Response *response;
	unsigned status;
};

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* --- the request ------------------------------------------------------------------------- */

ky_slice ky_http_method(const ky_http_request *r)
{
	return r->method;
}

ky_slice ky_http_path(const ky_http_request *r)
{
	return r->path;
}

const char *ky_http_header(const ky_http_request *r, const char *name)
{
	return MHD_lookup_connection_value(r->connection, MHD_HEADER_KIND, name);
}

const ky_http_param *ky_http_params(const ky_http_request *r, size_t *count)
{
	*count = r->nparams;
	return r->params;
}

const char *ky_http_client(const ky_http_request *r)
{
	return r->client;
}

const char *ky_http_request_id(const ky_http_request *r)
{
	return r->id;
}

const char *ky_http_body(const ky_http_request *r, size_t *length)
{
	*length = r->body_len;
	return r->body;
}

ky_arena *ky_http_arena(ky_http_request *r)
{
	return r->arena;
}

void ky_http_set_state(ky_http_request *r, void *state, void (*release)(void *state))
{
	r->state = state;
	r->release_state = release;
}

void *ky_http_state(const ky_http_request *r)
{
	return r->state;
}

const char *ky_http_error_media(const ky_http_request *r)
{
	return r->error_media ? r->error_media : r->server->error_media;
}

void ky_http_set_error_media(ky_http_request *r, const char *media_type)
{
	r->error_media = media_type;
}

void ky_http_header_add(ky_http_request *r, const char *name, const char *value)
{
	header *h = ky_arena_alloc(r->arena, sizeof(*h));
	if (h == NULL)
		return;
	h->name = ky_arena_strndup(r->arena, name, strlen(name));
	h->value = ky_arena_strndup(r->arena, value, strlen(value));
	if (h->name == NULL || h->value == NULL)
		return;
	h->next = r->headers;
	r->headers = h;
}

static void finish_response(ky_http_request *r, unsigned status, const char *content_type)
{
	r->status = status;
	if (content_type != NULL)
		MHD_add_response_header(r->response, MHD_HTTP_HEADER_CONTENT_TYPE, content_type);
	for (header *h = r->headers; h != NULL; h = h->next)
		MHD_add_response_header(r->response, h->name, h->value);
}

void ky_http_respond(ky_http_request *r, unsigned status, const char *content_type, const char *body, size_t length)
{
	if (r->response != NULL)
		return;
	r->response = MHD_create_response_from_buffer(length, (void *)body, MHD_RESPMEM_MUST_COPY);
	if (r->response != NULL)
		finish_response(r, status, content_type);
}

void ky_http_respond_take(ky_http_request *r, unsigned status, const char *content_type, const char *body, size_t length,
			  void *owner)
{
	if (r->response != NULL) {
		free(owner);
		return;
	}
	r->response = MHD_create_response_from_buffer_with_free_callback_cls(length, (void *)body, free, owner);
	if (r->response == NULL)
		free(owner);
	else
		finish_response(r, status, content_type);
}

/* --- streaming answers ----------------------------------------------------------------------- */

/* The buffer libmicrohttpd reads an answer of unknown length through (the connection's pool
 * is not used for a body that is not chunked). In clear, the stream's owner writes to the
 * socket itself (ky_http_stream_hold, and its read), and the library sends only what the
 * socket would not take at once, so a small buffer does: every open stream holds one. Under
 * TLS everything goes through it. */
#define STREAM_BLOCK 512
#define STREAM_BLOCK_TLS 16384
#define STREAM_SNDBUF 65536

static ssize_t stream_reader(void *cls, uint64_t pos, char *buf, size_t max)
{
	ky_http_stream *st = cls;
	(void)pos;
	pthread_mutex_lock(&st->lock);
	bool ending = st->ending;
	st->woken = false;
	pthread_mutex_unlock(&st->lock);
	if (ending)
		return MHD_CONTENT_READER_END_OF_STREAM;
	long n = st->read(st->ctx, buf, max);
	if (n != 0)
		return n > 0 ? (ssize_t)n : MHD_CONTENT_READER_END_OF_STREAM;
	/* Nothing now: the connection waits off the event loop until a wake. A wake that came
	 * since the read makes this call return at once instead (libmicrohttpd calls again); one
	 * that comes between here and the suspension cancels it (libmicrohttpd's own rule). */
	pthread_mutex_lock(&st->lock);
	bool again = st->woken || st->ending;
	st->suspended = !again;
	pthread_mutex_unlock(&st->lock);
	if (!again)
		MHD_suspend_connection(st->connection);
	return 0;
}

static void stream_free(void *cls)
{
	ky_http_stream *st = cls;
	ky_http_server *s = st->server;
	pthread_mutex_lock(&s->streams_lock);
	if (st->prev != NULL)
		st->prev->next = st->next;
	else
		s->streams = st->next;
	if (st->next != NULL)
		st->next->prev = st->prev;
	pthread_mutex_unlock(&s->streams_lock);
	st->done(st->ctx);
	pthread_mutex_destroy(&st->lock);
	free(st);
}

ky_http_stream *ky_http_respond_stream(ky_http_request *r, unsigned status, const char *content_type,
				       ky_http_stream_read *read, ky_http_stream_done *done, void *ctx)
{
	ky_http_stream *st = r->response == NULL ? calloc(1, sizeof(*st)) : NULL;
	if (st == NULL) {
		done(ctx);
		return NULL;
	}
	*st = (ky_http_stream){.server = r->server, .connection = r->connection, .read = read, .done = done, .ctx = ctx,
			       .fd = -1};
	pthread_mutex_init(&st->lock, NULL);
	bool tls = r->server->cert != NULL;
	r->response = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, tls ? STREAM_BLOCK_TLS : STREAM_BLOCK,
							stream_reader, st, stream_free);
	/* Not chunked: the body lasts until the connection closes (RFC 9112 §6.3), so bytes
	 * written straight to the socket need no framing of the library's. */
	if (r->response != NULL &&
	    MHD_set_response_options(r->response, MHD_RF_HTTP_1_0_COMPATIBLE_STRICT, MHD_RO_END) != MHD_YES) {
		MHD_destroy_response(r->response);
		r->response = NULL;
	}
	if (r->response == NULL) {
		pthread_mutex_destroy(&st->lock);
		free(st);
		done(ctx);
		return NULL;
	}
	/* What a client that stops reading costs is the stream's own queue, which its owner
	 * bounds, and this much of the kernel's: not the megabytes the kernel would grow the
	 * socket's buffer to. */
	const union MHD_ConnectionInfo *info = MHD_get_connection_info(r->connection, MHD_CONNECTION_INFO_CONNECTION_FD);
	int sndbuf = STREAM_SNDBUF, nodelay = 1;
	if (info != NULL) {
		setsockopt(info->connect_fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof(sndbuf));
		/* An event written on its own must not wait for the last one's acknowledgement. */
		setsockopt(info->connect_fd, IPPROTO_TCP, TCP_NODELAY, &nodelay, sizeof(nodelay));
		if (!tls)
			st->fd = info->connect_fd;
	}
	ky_http_server *s = r->server;
	pthread_mutex_lock(&s->streams_lock);
	st->next = s->streams;
	if (s->streams != NULL)
		s->streams->prev = st;
	s->streams = st;
	pthread_mutex_unlock(&s->streams_lock);
	finish_response(r, status, content_type);
	return st;
}

void ky_http_stream_wake(ky_http_stream *st)
{
	pthread_mutex_lock(&st->lock);
	bool resume = st->suspended;
	st->suspended = false;
	st->woken = true;
	pthread_mutex_unlock(&st->lock);
	if (resume)
		MHD_resume_connection(st->connection);
}

int ky_http_stream_hold(ky_http_stream *st)
{
	if (st->fd < 0)
		return -1;
	pthread_mutex_lock(&st->lock);
	if (st->suspended && !st->ending)
		return st->fd;
	pthread_mutex_unlock(&st->lock);
	return -1;
}

void ky_http_stream_release(ky_http_stream *st, bool more)
{
	if (more) {
		st->suspended = false;
		st->woken = true;
	}
	pthread_mutex_unlock(&st->lock);
	if (more)
		MHD_resume_connection(st->connection);
}

int ky_http_stream_socket(const ky_http_stream *st)
{
	return st->fd;
}

/* Ends every stream: each reader's next call answers the end. */
static void streams_end(ky_http_server *s)
{
	pthread_mutex_lock(&s->streams_lock);
	for (ky_http_stream *st = s->streams; st != NULL; st = st->next) {
		pthread_mutex_lock(&st->lock);
		st->ending = true;
		bool resume = st->suspended;
		st->suspended = false;
		pthread_mutex_unlock(&st->lock);
		if (resume)
			MHD_resume_connection(st->connection);
	}
	pthread_mutex_unlock(&s->streams_lock);
}

/* --- the request target ------------------------------------------------------------------- */

/* Percent-decodes text[0..len) into the arena (and '+' into a space when `plus`), into *out;
 * KY_EINVALID (with a message naming `what`) for a malformed escape, or decoded bytes that
 * are not UTF-8 text (a NUL, another control, a broken sequence). */
static int decode(ky_arena *arena, const char *text, size_t len, bool plus, const char *what, ky_slice *out)
{
	char *decoded = ky_arena_alloc(arena, len + 1);
	if (decoded == NULL)
		return ky_error_set(KY_ENOMEM, "out of memory decoding the request target");
	size_t n = 0;
	for (size_t i = 0; i < len; i++) {
		char c = text[i];
		if (c == '%') {
			int hi = i + 2 < len ? ky_uri_hex_value(text[i + 1]) : -1;
			int lo = i + 2 < len ? ky_uri_hex_value(text[i + 2]) : -1;
			if (hi < 0 || lo < 0)
				return ky_error_set(KY_EINVALID, "the request's %s has a malformed percent-encoding (RFC 3986 §2.1)",
						    what);
			c = (char)(hi << 4 | lo);
			i += 2;
		} else if (c == '+' && plus) {
			c = ' ';
		}
		decoded[n++] = c;
	}
	decoded[n] = '\0';
	if (!ky_utf8_text(decoded, n))
		return ky_error_set(KY_EINVALID,
				    "the request's %s holds a NUL, a control character or bytes that are not UTF-8; "
				    "percent-encode only UTF-8 text",
				    what);
	*out = (ky_slice){decoded, n};
	return KY_OK;
}

int ky_http_target_parse(ky_arena *arena, const char *t, size_t len, ky_slice *path, ky_http_param **params,
			 size_t *nparams)
{
	*path = (ky_slice){NULL, 0};
	*params = NULL;
	*nparams = 0;
	if (len > KY_HTTP_TARGET_MAX)
		return ky_error_set(KY_EURITOOLONG, "the request target is over %d bytes", KY_HTTP_TARGET_MAX);
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)t[i] < 0x21 || (unsigned char)t[i] == 0x7f)
			return ky_error_set(KY_EINVALID, "the request target holds a control character or a space");
	if (len == 0 || t[0] != '/')
		return ky_error_set(KY_EINVALID, "the request target must be a path starting with '/' (RFC 9112 §3.2.1)");
	const char *q = memchr(t, '?', len);
	size_t path_len = q ? (size_t)(q - t) : len;
	int rc = decode(arena, t, path_len, false, "path", path);
	if (rc != KY_OK || q == NULL)
		return rc;
	const char *p = q + 1, *end = t + len;
	/* First count, so that the array is the right size and too many are refused whole. */
	size_t count = 0;
	for (const char *c = p; c < end;) {
		const char *amp = memchr(c, '&', (size_t)(end - c));
		const char *stop = amp ? amp : end;
		count += stop > c;
		c = stop + 1;
	}
	if (count > KY_HTTP_PARAMS_MAX)
		return ky_error_set(KY_EURITOOLONG, "the request has %zu query parameters; at most %d are taken", count,
				    KY_HTTP_PARAMS_MAX);
	ky_http_param *list = count ? ky_arena_alloc(arena, count * sizeof(*list)) : NULL;
	if (count && list == NULL)
		return ky_error_set(KY_ENOMEM, "out of memory parsing the query");
	*params = list;
	for (const char *c = p; c < end;) {
		const char *amp = memchr(c, '&', (size_t)(end - c));
		const char *stop = amp ? amp : end;
		if (stop > c) {
			const char *eq = memchr(c, '=', (size_t)(stop - c));
			ky_http_param *param = &list[(*nparams)++];
			rc = decode(arena, c, (size_t)((eq ? eq : stop) - c), true, "query", &param->key);
			if (rc == KY_OK)
				rc = decode(arena, eq ? eq + 1 : stop, eq ? (size_t)(stop - eq - 1) : 0, true, "query",
					    &param->value);
			if (rc != KY_OK)
				return rc;
		}
		c = stop + 1;
	}
	return KY_OK;
}

/* --- the headers ---------------------------------------------------------------------------- */

typedef struct header_scan {
	size_t bytes;
	unsigned content_lengths;
	const char *content_length;
	bool transfer_encoding;
} header_scan;

static enum MHD_Result scan_header(void *cls, enum MHD_ValueKind kind, const char *key, const char *value)
{
	header_scan *h = cls;
	(void)kind;
	h->bytes += strlen(key) + (value ? strlen(value) : 0) + 4;
	if (strcasecmp(key, MHD_HTTP_HEADER_CONTENT_LENGTH) == 0) {
		h->content_lengths++;
		h->content_length = value ? value : "";
	} else if (strcasecmp(key, MHD_HTTP_HEADER_TRANSFER_ENCODING) == 0) {
		h->transfer_encoding = true;
	}
	return MHD_YES;
}

/* The framing and size checks of the headers (RFC 9112 §6.3); *declared is the body's
 * declared length (0 without one). */
static int check_headers(ky_http_request *r, uint64_t *declared)
{
	header_scan h = {0};
	MHD_get_connection_values(r->connection, MHD_HEADER_KIND, scan_header, &h);
	*declared = 0;
	if (h.bytes > KY_HTTP_HEADERS_MAX)
		return ky_error_set(KY_EHEADERSTOOBIG, "the request's headers are over %d bytes", KY_HTTP_HEADERS_MAX);
	if (h.content_lengths > 1)
		return ky_error_set(KY_EINVALID, "the request has %u Content-Length headers; send one (RFC 9112 §6.3)",
				    h.content_lengths);
	if (h.content_lengths == 1 && h.transfer_encoding)
		return ky_error_set(KY_EINVALID, "the request has both Content-Length and Transfer-Encoding; send one "
						 "(RFC 9112 §6.3)");
	if (h.content_lengths == 1) {
		const char *v = h.content_length;
		size_t digits = strspn(v, "0123456789");
		if (digits == 0 || v[digits] != '\0' || digits > 19)
			return ky_error_set(KY_EINVALID, "Content-Length must be a decimal number of bytes (RFC 9110 §8.6)");
		*declared = strtoull(v, NULL, 10);
	}
	if (*declared > r->server->max_body)
		return ky_error_set(KY_ETOOBIG, "the request body would be %" PRIu64 " bytes; this server takes at most %zu",
				    *declared, r->server->max_body);
	return KY_OK;
}

/* --- deadlines ------------------------------------------------------------------------------ */

static void set_deadline(ky_http_server *s, struct MHD_Connection *connection, int64_t in_ms)
{
	const union MHD_ConnectionInfo *info = MHD_get_connection_info(connection, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
	conn *c = info ? info->socket_context : NULL;
	if (c == NULL)
		return;
	pthread_mutex_lock(&s->conns_lock);
	c->deadline_ms = in_ms > 0 ? now_ms() + in_ms : 0;
	pthread_mutex_unlock(&s->conns_lock);
}

static void notify_connection(void *cls, struct MHD_Connection *connection, void **socket_context,
			      enum MHD_ConnectionNotificationCode code)
{
	ky_http_server *s = cls;
	if (code == MHD_CONNECTION_NOTIFY_STARTED) {
		const union MHD_ConnectionInfo *info = MHD_get_connection_info(connection, MHD_CONNECTION_INFO_CONNECTION_FD);
		conn *c = calloc(1, sizeof(*c));
		if (c == NULL || info == NULL) {
			free(c);
			return;
		}
		c->fd = info->connect_fd;
		c->deadline_ms = now_ms() + s->header_timeout_ms;
		pthread_mutex_lock(&s->conns_lock);
		c->next = s->conns;
		if (s->conns != NULL)
			s->conns->prev = c;
		s->conns = c;
		pthread_mutex_unlock(&s->conns_lock);
		*socket_context = c;
		return;
	}
	conn *c = *socket_context;
	if (c == NULL)
		return;
	pthread_mutex_lock(&s->conns_lock);
	if (c->prev != NULL)
		c->prev->next = c->next;
	else
		s->conns = c->next;
	if (c->next != NULL)
		c->next->prev = c->prev;
	pthread_mutex_unlock(&s->conns_lock);
	free(c);
	*socket_context = NULL;
}

static void *sweep(void *arg)
{
	ky_http_server *s = arg;
	pthread_mutex_lock(&s->conns_lock);
	while (!s->stopping) {
		int64_t now = now_ms();
		for (conn *c = s->conns; c != NULL; c = c->next) {
			if (c->deadline_ms != 0 && now >= c->deadline_ms) {
				shutdown(c->fd, SHUT_RDWR);
				c->deadline_ms = 0;
			}
		}
		struct timespec until;
		clock_gettime(CLOCK_MONOTONIC, &until);
		until.tv_nsec += SWEEP_INTERVAL_MS * 1000000L;
		if (until.tv_nsec >= 1000000000L) {
			until.tv_sec++;
			until.tv_nsec -= 1000000000L;
		}
		pthread_cond_timedwait(&s->sweep_cond, &s->conns_lock, &until);
	}
	pthread_mutex_unlock(&s->conns_lock);
	return NULL;
}

/* --- lingering ------------------------------------------------------------------------------ */

/* Keeps the socket of r's connection open past libmicrohttpd's close, to be drained. */
static void linger_begin(ky_http_server *s, ky_http_request *r)
{
	const union MHD_ConnectionInfo *info = MHD_get_connection_info(r->connection, MHD_CONNECTION_INFO_CONNECTION_FD);
	lingerer *l = info ? calloc(1, sizeof(*l)) : NULL;
	if (l == NULL)
		return;
	pthread_mutex_lock(&s->linger_lock);
	l->fd = s->nlingering < LINGER_MAX ? fcntl(info->connect_fd, F_DUPFD_CLOEXEC, 0) : -1;
	if (l->fd < 0) {
		pthread_mutex_unlock(&s->linger_lock);
		free(l);
		return;
	}
	fcntl(l->fd, F_SETFL, fcntl(l->fd, F_GETFL) | O_NONBLOCK);
	l->until_ms = now_ms() + LINGER_MS;
	l->left = LINGER_BYTES;
	l->next = s->lingering;
	s->lingering = l;
	s->nlingering++;
	pthread_mutex_unlock(&s->linger_lock);
	ssize_t ignored = write(s->linger_wake[1], "", 1);
	(void)ignored;
}

/* Reads what each lingering socket has, and closes those that ended, ran out of time or
 * sent their share. */
static void *linger_main(void *arg)
{
	ky_http_server *s = arg;
	char scratch[65536];
	struct pollfd fds[LINGER_MAX + 1];
	lingerer *polled[LINGER_MAX];
	for (;;) {
		pthread_mutex_lock(&s->linger_lock);
		bool stopping = s->linger_stopping;
		int64_t now = now_ms();
		nfds_t n = 1;
		for (lingerer **at = &s->lingering; *at != NULL;) {
			lingerer *l = *at;
			if (stopping || now >= l->until_ms || l->left == 0 || l->fd < 0) {
				*at = l->next;
				if (l->fd >= 0)
					close(l->fd);
				free(l);
				s->nlingering--;
				continue;
			}
			polled[n - 1] = l;
			fds[n++] = (struct pollfd){.fd = l->fd, .events = POLLIN};
			at = &l->next;
		}
		pthread_mutex_unlock(&s->linger_lock);
		if (stopping)
			return NULL;
		fds[0] = (struct pollfd){.fd = s->linger_wake[0], .events = POLLIN};
		if (poll(fds, n, n > 1 ? SWEEP_INTERVAL_MS : -1) < 0)
			continue;
		if (fds[0].revents & POLLIN) {
			ssize_t ignored = read(s->linger_wake[0], scratch, sizeof(scratch));
			(void)ignored;
		}
		/* Only this thread removes entries, so the polled ones are still there. */
		for (nfds_t i = 1; i < n; i++) {
			if (fds[i].revents == 0)
				continue;
			lingerer *l = polled[i - 1];
			ssize_t got = read(l->fd, scratch, sizeof(scratch) < l->left ? sizeof(scratch) : l->left);
			pthread_mutex_lock(&s->linger_lock);
			if (got > 0) {
				l->left -= (size_t)got;
			} else if (got == 0 || (errno != EAGAIN && errno != EINTR)) {
				close(l->fd);
				l->fd = -1;
			}
			pthread_mutex_unlock(&s->linger_lock);
		}
	}
}

/* --- libmicrohttpd's callbacks ------------------------------------------------------------ */

static void client_address(struct MHD_Connection *c, char *out, size_t size)
{
	const union MHD_ConnectionInfo *info = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	out[0] = '\0';
	if (info == NULL || info->client_addr == NULL)
		return;
	const struct sockaddr *sa = info->client_addr;
	if (sa->sa_family == AF_INET)
		inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr, out, (socklen_t)size);
	else if (sa->sa_family == AF_INET6)
		inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)sa)->sin6_addr, out, (socklen_t)size);
}

/* The request line is in: the record is made here, with the raw target. */
static void *uri_log(void *cls, const char *uri, struct MHD_Connection *connection)
{
	ky_http_server *s = cls;
	ky_arena *arena = ky_arena_new();
	ky_http_request *r = arena ? ky_arena_alloc(arena, sizeof(*r)) : NULL;
	if (r == NULL) {
		ky_arena_free(arena);
		return NULL;
	}
	r->arena = arena;
	r->server = s;
	r->connection = connection;
	size_t len = strlen(uri);
	r->line_target = uri;
	r->target_len = len;
	if (len <= KY_HTTP_TARGET_MAX) {
		r->target = ky_arena_strndup(arena, uri, len);
	}
	/* libmicrohttpd parses the query from this buffer right after this call: leave it
	 * nothing to parse (kyoyu has its copy). The buffer is the connection's own, which
	 * libmicrohttpd writes into itself at this point. */
	char *query = strchr(uri, '?');
	if (query != NULL)
		query[1] = '\0';
	uint8_t random[8];
	randombytes_buf(random, sizeof(random));
	sodium_bin2hex(r->id, sizeof(r->id), random, sizeof(random));
	client_address(connection, r->client, sizeof(r->client));
	pthread_mutex_lock(&s->conns_lock);
	s->active++;
	pthread_mutex_unlock(&s->conns_lock);
	return r;
}

/* Queues r's response (or the error `code`'s) on the connection. */
static enum MHD_Result queue(ky_http_request *r, int code)
{
	if (code != KY_OK && r->response == NULL)
		ky_http_respond_error(r, code, ky_error_last());
	if (r->response == NULL)
		return MHD_NO;
	enum MHD_Result result = MHD_queue_response(r->connection, r->status, r->response);
	MHD_destroy_response(r->response);
	r->response = NULL;
	return result;
}

/* Whether the request says a body follows (a length that is not 0, or chunks). */
static bool body_expected(const ky_http_request *r)
{
	const char *length = ky_http_header(r, MHD_HTTP_HEADER_CONTENT_LENGTH);
	return (length != NULL && strspn(length, "0") != strlen(length)) ||
	       ky_http_header(r, MHD_HTTP_HEADER_TRANSFER_ENCODING) != NULL;
}

/* The first call: the headers are in, no body byte is kept yet. */
static enum MHD_Result admit(ky_http_server *s, ky_http_request *r, const char *method, const char *version)
{
	r->admitted = true;
	size_t mlen = strlen(method);
	r->method = (ky_slice){ky_arena_strndup(r->arena, method, mlen), mlen};
	if (r->method.ptr == NULL)
		return MHD_NO;
	uint64_t declared = 0;
	int rc = r->target ? ky_http_target_parse(r->arena, r->target, r->target_len, &r->path, &r->params, &r->nparams)
			   : ky_error_set(KY_EURITOOLONG, "the request target is over %d bytes", KY_HTTP_TARGET_MAX);
	/* libmicrohttpd ended the target where it put the version, one byte after it: a target
	 * that ends sooner held a raw NUL, which would otherwise cut it silently. */
	if (rc == KY_OK && version != NULL && version > r->line_target &&
	    (size_t)(version - r->line_target) != r->target_len + 1)
		rc = ky_error_set(KY_EINVALID, "the request target holds a NUL byte");
	/* Who asks comes before how much: an unauthenticated client learns nothing more. */
	if (rc == KY_OK && s->admit != NULL)
		rc = s->admit(s->ctx, r);
	if (rc == KY_OK)
		rc = check_headers(r, &declared);
	if (rc != KY_OK || r->response != NULL) {
		/* Answered on the headers: libmicrohttpd sends it and closes the connection
		 * rather than read a body nobody wants; the socket lingers. */
		r->failed = true;
		enum MHD_Result queued = queue(r, rc);
		if (body_expected(r))
			linger_begin(s, r);
		return queued;
	}
	set_deadline(s, r->connection, body_expected(r) ? s->body_timeout_ms : 0);
	return MHD_YES;
}

static enum MHD_Result access_handler(void *cls, struct MHD_Connection *connection, const char *url,
				      const char *method, const char *version, const char *upload_data,
				      size_t *upload_data_size, void **con_cls)
{
	ky_http_server *s = cls;
	ky_http_request *r = *con_cls;
	(void)url;
	if (r == NULL)
		return MHD_NO;   /* the record could not be made: out of memory */
	if (!r->admitted)
		return admit(s, r, method, version);
	if (*upload_data_size > 0) {
		size_t n = *upload_data_size;
		*upload_data_size = 0;
		if (r->failed)
			return MHD_YES;
		/* Only a chunked body can get here past max_body; it can no longer be answered
		 * (libmicrohttpd queues no response mid-body), so the connection is closed. */
		if (r->body_len + n > s->max_body)
			return MHD_NO;
		if (r->body_len + n + 1 > r->body_cap) {
			size_t cap = r->body_cap ? r->body_cap : 65536;
			while (cap < r->body_len + n + 1)
				cap *= 2;
			char *grown = realloc(r->body, cap);
			if (grown == NULL)
				return MHD_NO;
			r->body = grown;
			r->body_cap = cap;
		}
		memcpy(r->body + r->body_len, upload_data, n);
		r->body_len += n;
		r->body[r->body_len] = '\0';
		return MHD_YES;
	}
	set_deadline(s, connection, 0);
	int rc = s->handle(s->ctx, r);
	if (rc == KY_OK && r->response == NULL)
		rc = ky_error_set(KY_ERROR, "the handler answered nothing");
	return queue(r, rc);
}

static void completed(void *cls, struct MHD_Connection *connection, void **con_cls,
		      enum MHD_RequestTerminationCode code)
{
	ky_http_server *s = cls;
	ky_http_request *r = *con_cls;
	(void)code;
	if (r != NULL) {
		if (r->state != NULL && r->release_state != NULL)
			r->release_state(r->state);
		free(r->body);
		ky_arena_free(r->arena);
		*con_cls = NULL;
		pthread_mutex_lock(&s->conns_lock);
		if (--s->active == 0)
			pthread_cond_broadcast(&s->drained);
		pthread_mutex_unlock(&s->conns_lock);
	}
	set_deadline(s, connection, s->idle_timeout_ms);
}

/* --- starting and stopping --------------------------------------------------------------- */

/* libmicrohttpd's messages go to the server's log, but those saying that a client went away
 * while its answer was being sent: that is how every stream ends, and a log full of them
 * would hide what matters. */
static void log_message(void *cls, const char *format, va_list ap)
{
	(void)cls;
	char text[512];
	vsnprintf(text, sizeof(text), format, ap);
	if (strstr(text, "closed by remote peer") != NULL || strstr(text, "no longer available for sending") != NULL)
		return;
	fputs(text, stderr);
}


static char *read_file(const char *path)
{
	FILE *f = fopen(path, "rb");
	if (f == NULL)
		return NULL;
	char *text = NULL;
	size_t len = 0, cap = 0, n;
	char chunk[4096];
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0) {
		if (len + n + 1 > cap) {
			cap = (len + n + 1) * 2;
			char *grown = realloc(text, cap);
			if (grown == NULL) {
				free(text);
				fclose(f);
				return NULL;
			}
			text = grown;
		}
		memcpy(text + len, chunk, n);
		len += n;
		text[len] = '\0';
	}
	fclose(f);
	return text;
}

/* Parses "host:port", "[v6]:port" or ":port" (all addresses) and binds a listening socket. */
static int bind_listen(const char *listen_spec, int *fd_out, unsigned *port_out)
{
	char host[256];
	const char *colon = strrchr(listen_spec, ':');
	if (colon == NULL || colon[1] == '\0')
		return ky_error_set(KY_EINVALID, "--listen %s: expected ADDRESS:PORT, e.g. 127.0.0.1:6560", listen_spec);
	char *end;
	long port = strtol(colon + 1, &end, 10);
	if (*end != '\0' || port < 0 || port > 65535)
		return ky_error_set(KY_EINVALID, "--listen %s: the port must be a number from 0 to 65535", listen_spec);
	size_t hlen = (size_t)(colon - listen_spec);
	if (hlen >= sizeof(host))
		return ky_error_set(KY_EINVALID, "--listen %s: the address is too long", listen_spec);
	memcpy(host, listen_spec, hlen);
	host[hlen] = '\0';

	struct sockaddr_storage ss;
	socklen_t sslen;
	memset(&ss, 0, sizeof(ss));
	if (host[0] == '[' && hlen > 2 && host[hlen - 1] == ']') {
		host[hlen - 1] = '\0';
		struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)&ss;
		a6->sin6_family = AF_INET6;
		a6->sin6_port = htons((uint16_t)port);
		if (inet_pton(AF_INET6, host + 1, &a6->sin6_addr) != 1)
			return ky_error_set(KY_EINVALID, "--listen %s: not an IPv6 address", listen_spec);
		sslen = sizeof(*a6);
	} else {
		struct sockaddr_in *a4 = (struct sockaddr_in *)&ss;
		a4->sin_family = AF_INET;
		a4->sin_port = htons((uint16_t)port);
		if (hlen == 0)
			a4->sin_addr.s_addr = htonl(INADDR_ANY);
		else if (inet_pton(AF_INET, host, &a4->sin_addr) != 1)
			return ky_error_set(KY_EINVALID, "--listen %s: not an IPv4 address (use [ADDRESS] for IPv6)", listen_spec);
		sslen = sizeof(*a4);
	}
	int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return ky_error_set(KY_ERROR, "cannot make a socket: %s", strerror(errno));
	int one = 1;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&ss, sslen) != 0 || listen(fd, 4096) != 0) {
		int e = errno;
		close(fd);
		return ky_error_set(e == EADDRINUSE ? KY_EINUSE : KY_ERROR, "cannot listen on %s: %s", listen_spec,
				    e == EADDRINUSE ? "the address is in use (is another kyoyu serving?)" : strerror(e));
	}
	struct sockaddr_storage bound;
	socklen_t blen = sizeof(bound);
	getsockname(fd, (struct sockaddr *)&bound, &blen);
	*port_out = ntohs(bound.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&bound)->sin6_port
						      : ((struct sockaddr_in *)&bound)->sin_port);
	*fd_out = fd;
	return KY_OK;
}

static unsigned or_default(unsigned value, unsigned fallback)
{
	return value ? value : fallback;
}

static void server_free(ky_http_server *s)
{
	if (s->linger_running) {
		pthread_mutex_lock(&s->linger_lock);
		s->linger_stopping = true;
		pthread_mutex_unlock(&s->linger_lock);
		ssize_t ignored = write(s->linger_wake[1], "", 1);
		(void)ignored;
		pthread_join(s->linger_thread, NULL);
	}
	if (s->linger_wake[0] >= 0) {
		close(s->linger_wake[0]);
		close(s->linger_wake[1]);
	}
	pthread_mutex_destroy(&s->linger_lock);
	if (s->sweeper_running) {
		pthread_mutex_lock(&s->conns_lock);
		s->stopping = true;
		pthread_cond_signal(&s->sweep_cond);
		pthread_mutex_unlock(&s->conns_lock);
		pthread_join(s->sweeper, NULL);
	}
	pthread_cond_destroy(&s->sweep_cond);
	pthread_cond_destroy(&s->drained);
	pthread_mutex_destroy(&s->conns_lock);
	pthread_mutex_destroy(&s->streams_lock);
	free(s->cert);
	free(s->key);
	free(s);
}

int ky_http_start(ky_http_server **out, const ky_http_options *options)
{
	ky_http_server *s = calloc(1, sizeof(*s));
	int rc;
	*out = NULL;
	if (s == NULL || sodium_init() < 0) {
		free(s);
		return ky_error_set(KY_ENOMEM, "cannot set up the HTTP server");
	}
	pthread_mutex_init(&s->conns_lock, NULL);
	pthread_mutex_init(&s->linger_lock, NULL);
	pthread_mutex_init(&s->streams_lock, NULL);
	s->linger_wake[0] = s->linger_wake[1] = -1;
	pthread_condattr_t attr;
	pthread_condattr_init(&attr);
	pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
	pthread_cond_init(&s->sweep_cond, &attr);
	pthread_cond_init(&s->drained, &attr);
	pthread_condattr_destroy(&attr);
	s->socket = -1;
	s->admit = options->admit;
	s->handle = options->handle;
	s->ctx = options->ctx;
	s->max_body = options->max_body ? options->max_body : DEFAULT_MAX_BODY;
	s->header_timeout_ms = 1000 * (int64_t)or_default(options->header_timeout, DEFAULT_HEADER_TIMEOUT);
	s->body_timeout_ms = 1000 * (int64_t)or_default(options->body_timeout, DEFAULT_BODY_TIMEOUT);
	s->idle_timeout_ms = 1000 * (int64_t)or_default(options->idle_timeout, DEFAULT_IDLE_TIMEOUT);
	s->error_media = options->error_media_type ? options->error_media_type : DEFAULT_ERROR_MEDIA;
	if ((options->tls_certificate == NULL) != (options->tls_key == NULL)) {
		rc = ky_error_set(KY_EINVALID, "TLS needs both a certificate and a key file");
		goto fail;
	}
	if (options->tls_certificate != NULL) {
		s->cert = read_file(options->tls_certificate);
		s->key = read_file(options->tls_key);
		if (s->cert == NULL || s->key == NULL) {
			rc = ky_error_set(KY_EINVALID, "cannot read the TLS %s %s: %s", s->cert ? "key" : "certificate",
					  s->cert ? options->tls_key : options->tls_certificate, strerror(errno));
			goto fail;
		}
	}
	rc = bind_listen(options->listen, &s->socket, &s->port);
	if (rc != KY_OK)
		goto fail;
	if (pthread_create(&s->sweeper, NULL, sweep, s) != 0) {
		rc = ky_error_set(KY_ERROR, "cannot start the HTTP server's sweeper thread");
		goto fail;
	}
	s->sweeper_running = true;
	if (pipe2(s->linger_wake, O_CLOEXEC | O_NONBLOCK) != 0 ||
	    pthread_create(&s->linger_thread, NULL, linger_main, s) != 0) {
		rc = ky_error_set(KY_ERROR, "cannot start the HTTP server's linger thread");
		goto fail;
	}
	s->linger_running = true;
	long cores = sysconf(_SC_NPROCESSORS_ONLN);
	unsigned threads = options->threads ? options->threads : cores > 0 ? (unsigned)cores : 2;
	/* MHD_USE_ITC: a stop first quiesces the daemon (no new connections), then drains. */
	unsigned flags = MHD_USE_EPOLL_INTERNAL_THREAD | MHD_USE_ITC | MHD_USE_ERROR_LOG | MHD_ALLOW_SUSPEND_RESUME |
			 (s->cert ? MHD_USE_TLS : 0);
	/* The idle timeout also bounds a response that a client stops reading. */
	unsigned idle = (unsigned)(s->idle_timeout_ms / 1000);
	unsigned max_connections = or_default(options->max_connections, DEFAULT_MAX_CONNECTIONS);
	unsigned per_address = or_default(options->max_connections_per_address, DEFAULT_MAX_PER_ADDRESS);
	struct MHD_OptionItem tls[] = {
		{MHD_OPTION_HTTPS_MEM_CERT, 0, s->cert},
		{MHD_OPTION_HTTPS_MEM_KEY, 0, s->key},
		{MHD_OPTION_END, 0, NULL},
	};
	s->daemon = MHD_start_daemon(
		flags, 0, NULL, NULL, access_handler, s, MHD_OPTION_EXTERNAL_LOGGER, log_message, NULL, MHD_OPTION_LISTEN_SOCKET, s->socket, MHD_OPTION_THREAD_POOL_SIZE,
		threads, MHD_OPTION_NOTIFY_COMPLETED, completed, s, MHD_OPTION_NOTIFY_CONNECTION, notify_connection, s,
		MHD_OPTION_URI_LOG_CALLBACK, uri_log, s, MHD_OPTION_CONNECTION_TIMEOUT, idle, MHD_OPTION_CONNECTION_LIMIT,
		max_connections, MHD_OPTION_PER_IP_CONNECTION_LIMIT, per_address, MHD_OPTION_CONNECTION_MEMORY_LIMIT,
		POOL_SIZE, MHD_OPTION_STRICT_FOR_CLIENT, 1, MHD_OPTION_ARRAY, s->cert ? tls : tls + 2, MHD_OPTION_END);
	if (s->daemon == NULL) {
		rc = ky_error_set(s->cert ? KY_EINVALID : KY_ERROR, "cannot start the HTTP server on %s%s", options->listen,
				  s->cert ? " (are the TLS certificate and key valid PEM files?)" : "");
		/* libmicrohttpd closes the socket on some of its failure paths and not on others:
		 * it is not closed again here, where its number may already be another file's. */
		s->socket = -1;
		goto fail;
	}
	*out = s;
	return KY_OK;
fail:
	if (s->socket >= 0)
		close(s->socket);
	server_free(s);
	return rc;
}

unsigned ky_http_port(const ky_http_server *s)
{
	return s->port;
}

void ky_http_stop(ky_http_server *s)
{
	if (s == NULL)
		return;
	/* No new connections: the listening socket comes back from libmicrohttpd, which will not
	 * close it. It is shut down now, which refuses connections at once, and closed only once
	 * libmicrohttpd's threads are gone: they drop it from their epoll sets when they next
	 * wake, and a number closed before that could be another file's by then. */
	MHD_socket listener = MHD_quiesce_daemon(s->daemon);
	if (listener != MHD_INVALID_SOCKET)
		shutdown(listener, SHUT_RDWR);
	/* Streams last as long as their clients would: they end now. */
	streams_end(s);
	/* Requests in progress finish (a body still arriving included), for a while. */
	struct timespec until;
	clock_gettime(CLOCK_MONOTONIC, &until);
	until.tv_sec += DRAIN_MS / 1000;
	pthread_mutex_lock(&s->conns_lock);
	while (s->active > 0 && pthread_cond_timedwait(&s->drained, &s->conns_lock, &until) == 0)
		;
	pthread_mutex_unlock(&s->conns_lock);
	MHD_stop_daemon(s->daemon);
	if (listener != MHD_INVALID_SOCKET)
		close(listener);
	server_free(s);
}
