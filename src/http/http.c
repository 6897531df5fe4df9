/*
 * http: libmicrohttpd behind http.h. libmicrohttpd calls the access handler several times
 * per request: first with the headers (here a request record is made and nothing answered,
 * the pattern measured fastest), then with each piece of the body (appended, up to
 * max_body), then once more with nothing, when the handler runs. The request record and its
 * arena are freed by the completion callback, whatever happened to the connection.
 */
#include "http/http.h"

#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "util/ky_error.h"

#define DEFAULT_MAX_BODY ((size_t)100 << 20)

struct ky_http_server {
	struct MHD_Daemon *daemon;
	int socket;
	unsigned port;
	ky_http_handler *handler;
	void *ctx;
	size_t max_body;
	char *cert, *key;      /* the TLS files' contents; libmicrohttpd keeps pointers */
};

typedef struct header {
	char *name, *value;
	struct header *next;
} header;

struct ky_http_request {
	struct MHD_Connection *connection;
	ky_arena *arena;
	const char *method, *path;
	char client[64];
	char *body;
	size_t body_len, body_cap;
	bool too_big;
	header *headers;       /* response headers, in the arena */
	struct MHD_Response *response;
	unsigned status;
};

/* --- the request ------------------------------------------------------------------------- */

const char *ky_http_method(const ky_http_request *r)
{
	return r->method;
}

const char *ky_http_path(const ky_http_request *r)
{
	return r->path;
}

const char *ky_http_header(const ky_http_request *r, const char *name)
{
	return MHD_lookup_connection_value(r->connection, MHD_HEADER_KIND, name);
}

const char *ky_http_query(const ky_http_request *r, const char *name)
{
	const char *value = MHD_lookup_connection_value(r->connection, MHD_GET_ARGUMENT_KIND, name);
	if (value != NULL)
		return value;
	/* A parameter without '=' has a NULL value in libmicrohttpd; say "" for it. */
	return MHD_lookup_connection_value_n(r->connection, MHD_GET_ARGUMENT_KIND, name, strlen(name), NULL, NULL) ==
			       MHD_YES
		       ? ""
		       : NULL;
}

typedef struct each_ctx {
	int (*fn)(void *ctx, const char *key, const char *value);
	void *ctx;
	int result;
} each_ctx;

static enum MHD_Result each_argument(void *cls, enum MHD_ValueKind kind, const char *key, const char *value)
{
	each_ctx *e = cls;
	(void)kind;
	e->result = e->fn(e->ctx, key, value ? value : "");
	return e->result == 0 ? MHD_YES : MHD_NO;
}

int ky_http_query_each(const ky_http_request *r, int (*fn)(void *ctx, const char *key, const char *value), void *ctx)
{
	each_ctx e = {fn, ctx, 0};
	MHD_get_connection_values(r->connection, MHD_GET_ARGUMENT_KIND, each_argument, &e);
	return e.result;
}

const char *ky_http_client(const ky_http_request *r)
{
	return r->client;
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

static enum MHD_Result access_handler(void *cls, struct MHD_Connection *connection, const char *url,
				      const char *method, const char *version, const char *upload_data,
				      size_t *upload_data_size, void **con_cls)
{
	ky_http_server *s = cls;
	ky_http_request *r = *con_cls;
	(void)version;

	if (r == NULL) {
		/* First call: the headers only. Answering later is what keeps libmicrohttpd fast. */
		ky_arena *arena = ky_arena_new();
		r = arena ? ky_arena_alloc(arena, sizeof(*r)) : NULL;
		if (r == NULL) {
			ky_arena_free(arena);
			return MHD_NO;
		}
		r->arena = arena;
		r->connection = connection;
		r->method = ky_arena_strndup(arena, method, strlen(method));
		r->path = ky_arena_strndup(arena, url, strlen(url));
		client_address(connection, r->client, sizeof(r->client));
		*con_cls = r;
		return MHD_YES;
	}
	if (*upload_data_size > 0) {
		if (!r->too_big && r->body_len + *upload_data_size > s->max_body)
			r->too_big = true;
		if (!r->too_big) {
			if (r->body_len + *upload_data_size + 1 > r->body_cap) {
				size_t cap = r->body_cap ? r->body_cap * 2 : 65536;
				while (cap < r->body_len + *upload_data_size + 1)
					cap *= 2;
				char *grown = realloc(r->body, cap);
				if (grown == NULL)
					return MHD_NO;
				r->body = grown;
				r->body_cap = cap;
			}
			memcpy(r->body + r->body_len, upload_data, *upload_data_size);
			r->body_len += *upload_data_size;
			r->body[r->body_len] = '\0';
		}
		*upload_data_size = 0;
		return MHD_YES;
	}
	if (r->too_big) {
		static const char message[] = "{\"title\": \"Request body too large\", \"http_status\": \"413\"}";
		ky_http_respond(r, 413, "application/taxii+json;version=2.1", message, sizeof(message) - 1);
	} else {
		s->handler(s->ctx, r);
	}
	if (r->response == NULL)
		return MHD_NO;
	enum MHD_Result result = MHD_queue_response(connection, r->status, r->response);
	MHD_destroy_response(r->response);
	r->response = NULL;
	return result;
}

static void completed(void *cls, struct MHD_Connection *connection, void **con_cls,
		      enum MHD_RequestTerminationCode code)
{
	ky_http_request *r = *con_cls;
	(void)cls;
	(void)connection;
	(void)code;
	if (r == NULL)
		return;
	free(r->body);
	ky_arena_free(r->arena);
	*con_cls = NULL;
}

/* --- starting and stopping --------------------------------------------------------------- */

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
	if (bind(fd, (struct sockaddr *)&ss, sslen) != 0 || listen(fd, 1024) != 0) {
		int e = errno;
		close(fd);
		return ky_error_set(e == EADDRINUSE ? KY_ECONFLICT : KY_ERROR, "cannot listen on %s: %s", listen_spec,
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

int ky_http_start(ky_http_server **out, const ky_http_options *options, ky_http_handler *handler, void *ctx)
{
	ky_http_server *s = calloc(1, sizeof(*s));
	int rc;
	*out = NULL;
	if (s == NULL)
		return ky_error_set(KY_ENOMEM, "out of memory");
	s->socket = -1;
	s->handler = handler;
	s->ctx = ctx;
	s->max_body = options->max_body ? options->max_body : DEFAULT_MAX_BODY;
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
	long cores = sysconf(_SC_NPROCESSORS_ONLN);
	unsigned threads = options->threads ? options->threads : cores > 0 ? (unsigned)cores : 2;
	unsigned flags = MHD_USE_EPOLL_INTERNAL_THREAD | MHD_USE_ERROR_LOG | (s->cert ? MHD_USE_TLS : 0);
	if (s->cert)
		s->daemon = MHD_start_daemon(flags, 0, NULL, NULL, access_handler, s, MHD_OPTION_LISTEN_SOCKET, s->socket,
					     MHD_OPTION_THREAD_POOL_SIZE, threads, MHD_OPTION_NOTIFY_COMPLETED, completed, s,
					     MHD_OPTION_CONNECTION_TIMEOUT, 120u, MHD_OPTION_HTTPS_MEM_CERT, s->cert,
					     MHD_OPTION_HTTPS_MEM_KEY, s->key, MHD_OPTION_END);
	else
		s->daemon = MHD_start_daemon(flags, 0, NULL, NULL, access_handler, s, MHD_OPTION_LISTEN_SOCKET, s->socket,
					     MHD_OPTION_THREAD_POOL_SIZE, threads, MHD_OPTION_NOTIFY_COMPLETED, completed, s,
					     MHD_OPTION_CONNECTION_TIMEOUT, 120u, MHD_OPTION_END);
	if (s->daemon == NULL) {
		rc = ky_error_set(s->cert ? KY_EINVALID : KY_ERROR, "cannot start the HTTP server on %s%s", options->listen,
				  s->cert ? " (are the TLS certificate and key valid PEM files?)" : "");
		goto fail;
	}
	*out = s;
	return KY_OK;
fail:
	if (s->socket >= 0)
		close(s->socket);
	free(s->cert);
	free(s->key);
	free(s);
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
	MHD_stop_daemon(s->daemon);
	close(s->socket);
	free(s->cert);
	free(s->key);
	free(s);
}
