/*
 * client: a client of a remote kyoyu hub over libcurl (client.h is the contract). One easy
 * handle per client, reset after each request, so that a command's second request reuses
 * the first one's connection and no option of one request leaks into the next.
 */
#include "client/client.h"

#include <arpa/inet.h>
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <curl/curl.h>
#include <jansson.h>

#include "util/ky_error.h"
#include "util/ky_utf8.h"

#define KEY_MAX 1024

struct ky_client {
	CURL *curl;
	char base[KY_CLIENT_URL_MAX + 1];
	bool loopback;    /* the hub is on this machine: no proxy */
	char *auth;       /* "Authorization: Bearer KEY"; wiped when freed */
	char *cacert;     /* NULL: the system's bundle */
	long timeout;     /* seconds, in all */
	long connect_timeout;
};

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_init_code;

/* curl_global_init() is not safe to race with itself; everything here that calls libcurl
 * runs this once first. */
static void curl_init(void)
{
	curl_init_code = curl_global_init(CURL_GLOBAL_DEFAULT);
}

/* --- the URL rule -------------------------------------------------------------------------- */

/* Whether host, as libcurl's URL parser writes it (IPv4 addresses normalised to dotted
 * quads, IPv6 ones in brackets), is this machine: 127.0.0.0/8, ::1 or localhost (which
 * libcurl resolves to loopback itself, without asking DNS or /etc/hosts). */
static bool host_is_loopback(const char *host)
{
	struct in_addr v4;
	struct in6_addr v6;
	size_t n = strlen(host);
	char inner[64];

	if (strcasecmp(host, "localhost") == 0)
		return true;
	if (inet_pton(AF_INET, host, &v4) == 1)
		return (ntohl(v4.s_addr) >> 24) == 127;
	if (n >= 2 && n - 2 < sizeof(inner) && host[0] == '[' && host[n - 1] == ']') {
		memcpy(inner, host + 1, n - 2);
		inner[n - 2] = '\0';
		return inet_pton(AF_INET6, inner, &v6) == 1 && IN6_IS_ADDR_LOOPBACK(&v6);
	}
	return false;
}

/* Whether libcurl found `part` in u (a user name, a query...). */
static bool has_part(CURLU *u, CURLUPart part)
{
	char *value = NULL;
	bool found = curl_url_get(u, part, &value, 0) == CURLUE_OK;
	curl_free(value);
	return found;
}

/* The check itself; *loopback tells whether the host is this machine. */
static int url_check(const char *url, char *base, size_t size, bool *loopback)
{
	CURLU *u = NULL;
	char *scheme = NULL, *host = NULL, *path = NULL, *full = NULL;
	size_t url_len = strlen(url);
	int rc = KY_EINVALID;
	/* Messages quote the URL, except one with an '@', which may hold a password (a key,
	 * even: https://alice:KEY@hub/) before it, whether or not it parses. */
	char name[KY_CLIENT_URL_MAX + 32] = "the hub URL";
	if (strchr(url, '@') == NULL && url_len <= KY_CLIENT_URL_MAX)
		snprintf(name, sizeof(name), "the hub URL '%s'", url);
	/* A URL of the wrong kind is the common mistake; say what a right one looks like. */
	static const char form[] = "expected https://HOST[:PORT][/PREFIX]";

	*loopback = false;
	pthread_once(&curl_once, curl_init);
	if (url_len > KY_CLIENT_URL_MAX) {
		ky_error_set(KY_EINVALID, "the hub URL is %zu bytes long; at most %d are taken", url_len,
			     KY_CLIENT_URL_MAX);
		goto cleanup;
	}
	u = curl_url();
	if (u == NULL) {
		rc = ky_error_set(KY_ENOMEM, "out of memory");
		goto cleanup;
	}
	CURLUcode uc = curl_url_set(u, CURLUPART_URL, url, 0);
	if (uc == CURLUE_OUT_OF_MEMORY) {
		rc = ky_error_set(KY_ENOMEM, "out of memory");
		goto cleanup;
	}
	if (uc != CURLUE_OK) {
		ky_error_set(KY_EINVALID, "%s is not a URL (%s); %s", name, curl_url_strerror(uc), form);
		goto cleanup;
	}
	if (curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK || host[0] == '\0') {
		ky_error_set(KY_EINVALID, "%s names no host; %s", name, form);
		goto cleanup;
	}
	if (strcmp(scheme, "https") != 0 && strcmp(scheme, "http") != 0) {
		ky_error_set(KY_EINVALID, "%s is %s://; %s", name, scheme, form);
		goto cleanup;
	}
	/* A user name before '@' is how a URL is made to read as one host and go to another
	 * (http://127.0.0.1@evil.example/ goes to evil.example); and a key belongs in a file. */
	if (has_part(u, CURLUPART_USER) || has_part(u, CURLUPART_PASSWORD) || has_part(u, CURLUPART_OPTIONS)) {
		ky_error_set(KY_EINVALID,
			     "%s has a user name or password before '@' (not shown; a hub URL takes none, the key comes"
			     " from --key-file or KYOYU_KEY); %s", name, form);
		goto cleanup;
	}
	if (has_part(u, CURLUPART_QUERY) || has_part(u, CURLUPART_FRAGMENT)) {
		ky_error_set(KY_EINVALID, "%s has a query or a fragment ('?' or '#'); %s", name, form);
		goto cleanup;
	}
	*loopback = host_is_loopback(host);
	if (strcmp(scheme, "http") == 0 && !*loopback) {
		ky_error_set(KY_EINVALID,
			     "%s is plain http:// to %s, which is not this machine: the key would cross the network"
			     " unencrypted; use https:// (http:// is only for 127.0.0.0/8, [::1] and localhost)",
			     name, host);
		goto cleanup;
	}
	/* The prefix without trailing '/', so that base + "/api/v1/me" has one '/' there. */
	if (curl_url_get(u, CURLUPART_PATH, &path, 0) != CURLUE_OK) {
		rc = ky_error_set(KY_ENOMEM, "out of memory");
		goto cleanup;
	}
	size_t path_len = strlen(path);
	while (path_len > 0 && path[path_len - 1] == '/')
		path[--path_len] = '\0';
	if (curl_url_set(u, CURLUPART_PATH, path_len > 0 ? path : "/", 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_URL, &full, 0) != CURLUE_OK) {
		rc = ky_error_set(KY_ENOMEM, "out of memory");
		goto cleanup;
	}
	size_t full_len = strlen(full);
	if (path_len == 0 && full_len > 0 && full[full_len - 1] == '/')
		full[--full_len] = '\0';
	if (base != NULL) {
		if (full_len >= size || full_len > KY_CLIENT_URL_MAX) {
			ky_error_set(KY_EINVALID, "%s is too long", name);
			goto cleanup;
		}
		memcpy(base, full, full_len + 1);
	}
	rc = KY_OK;

cleanup:
	curl_free(scheme);
	curl_free(host);
	curl_free(path);
	curl_free(full);
	curl_url_cleanup(u);
	return rc;
}

int ky_client_url_check(const char *url, char *base, size_t size)
{
	bool loopback;
	return url_check(url, base, size, &loopback);
}

/* --- the client ---------------------------------------------------------------------------- */

/* KYOYU_CLIENT_TIMEOUT, when set, into *seconds. */
static int read_timeout(long *seconds)
{
	const char *text = getenv(KY_CLIENT_TIMEOUT_ENV);
	if (text == NULL)
		return KY_OK;
	char *end;
	errno = 0;
	long value = strtol(text, &end, 10);
	if (errno != 0 || end == text || *end != '\0' || value < 1 || value > KY_CLIENT_TIMEOUT)
		return ky_error_set(KY_EINVALID, "%s must be a whole number of seconds from 1 to %d", KY_CLIENT_TIMEOUT_ENV,
				    KY_CLIENT_TIMEOUT);
	*seconds = value;
	return KY_OK;
}

int ky_client_new(ky_client **out, const ky_client_options *options)
{
	ky_client *c = NULL;
	long timeout = KY_CLIENT_TIMEOUT;
	int rc;

	*out = NULL;
	c = calloc(1, sizeof(*c));
	if (c == NULL) {
		rc = ky_error_set(KY_ENOMEM, "out of memory");
		goto cleanup;
	}
	rc = url_check(options->url, c->base, sizeof(c->base), &c->loopback);
	if (rc != KY_OK)
		goto cleanup;
	/* The key goes into a header line: a CR or LF would end it and start another. */
	const char *key = options->key;
	size_t key_len = key != NULL ? strnlen(key, KEY_MAX + 1) : 0;
	bool key_ok = key_len > 0 && key_len <= KEY_MAX;
	for (size_t i = 0; key_ok && i < key_len; i++)
		key_ok = key[i] > ' ' && key[i] < 0x7f;
	if (!key_ok) {
		rc = ky_error_set(KY_EINVALID,
				  "the API key must be 1 to %d visible ASCII characters (no spaces or control"
				  " characters); this one is not", KEY_MAX);
		goto cleanup;
	}
	rc = read_timeout(&timeout);
	if (rc != KY_OK)
		goto cleanup;
	c->timeout = timeout;
	c->connect_timeout = timeout < KY_CLIENT_CONNECT_TIMEOUT ? timeout : KY_CLIENT_CONNECT_TIMEOUT;

	static const char auth_prefix[] = "Authorization: Bearer ";
	c->auth = malloc(sizeof(auth_prefix) + key_len);
	if (c->auth == NULL || (options->cacert != NULL && (c->cacert = strdup(options->cacert)) == NULL)) {
		rc = ky_error_set(KY_ENOMEM, "out of memory");
		goto cleanup;
	}
	memcpy(c->auth, auth_prefix, sizeof(auth_prefix) - 1);
	memcpy(c->auth + sizeof(auth_prefix) - 1, key, key_len + 1);

	/* url_check() ran curl_init(). */
	if (curl_init_code != CURLE_OK) {
		rc = ky_error_set(KY_ERROR, "libcurl cannot start: %s", curl_easy_strerror(curl_init_code));
		goto cleanup;
	}
	c->curl = curl_easy_init();
	if (c->curl == NULL) {
		rc = ky_error_set(KY_ERROR, "libcurl cannot start a transfer");
		goto cleanup;
	}
	*out = c;
	c = NULL;
	rc = KY_OK;

cleanup:
	ky_client_free(c);
	return rc;
}

void ky_client_free(ky_client *client)
{
	if (client == NULL)
		return;
	if (client->auth != NULL) {
		explicit_bzero(client->auth, strlen(client->auth));
		free(client->auth);
	}
	free(client->cacert);
	curl_easy_cleanup(client->curl);
	free(client);
}

const char *ky_client_base(const ky_client *client)
{
	return client->base;
}

/* --- one request --------------------------------------------------------------------------- */

typedef struct body_buffer {
	char *data;
	size_t len, cap;
	bool too_big;
	bool no_memory;
} body_buffer;

/* libcurl's write callback: keeps at most KY_CLIENT_BODY_MAX bytes; returning less than it
 * was given stops the transfer. */
static size_t on_body(char *data, size_t size, size_t count, void *arg)
{
	body_buffer *b = arg;
	size_t n = size * count;
	if (n > KY_CLIENT_BODY_MAX - b->len) {
		b->too_big = true;
		return 0;
	}
	if (b->len + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 4096;
		while (cap < b->len + n + 1)
			cap *= 2;
		/* The check above keeps len + n + 1 within this; doubling past it would waste. */
		if (cap > KY_CLIENT_BODY_MAX + 1)
			cap = KY_CLIENT_BODY_MAX + 1;
		char *grown = realloc(b->data, cap);
		if (grown == NULL) {
			b->no_memory = true;
			return 0;
		}
		b->data = grown;
		b->cap = cap;
	}
	memcpy(b->data + b->len, data, n);
	b->len += n;
	return n;
}

/* Sets every option of one request on the reset handle; false when libcurl refused one
 * (out of memory, or a libcurl without a feature this needs). */
static bool set_options(ky_client *c, const char *url, const char *method, const char *body, size_t body_len,
			struct curl_slist *headers, body_buffer *b, char *errors)
{
	CURL *h = c->curl;
	bool ok = curl_easy_setopt(h, CURLOPT_URL, url) == CURLE_OK &&
		  curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https") == CURLE_OK &&
		  curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L) == CURLE_OK &&
		  curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 1L) == CURLE_OK &&
		  curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 2L) == CURLE_OK &&
		  curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, c->connect_timeout) == CURLE_OK &&
		  curl_easy_setopt(h, CURLOPT_TIMEOUT, c->timeout) == CURLE_OK &&
		  /* Signals for DNS timeouts are not safe beside other threads. */
		  curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L) == CURLE_OK &&
		  curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers) == CURLE_OK &&
		  curl_easy_setopt(h, CURLOPT_USERAGENT, "kyoyu/" KY_VERSION) == CURLE_OK &&
		  /* A declared length over the limit stops the transfer before the body comes. */
		  curl_easy_setopt(h, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)KY_CLIENT_BODY_MAX) == CURLE_OK &&
		  curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body) == CURLE_OK &&
		  curl_easy_setopt(h, CURLOPT_WRITEDATA, b) == CURLE_OK &&
		  curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errors) == CURLE_OK;
	if (ok && c->cacert != NULL)
		ok = curl_easy_setopt(h, CURLOPT_CAINFO, c->cacert) == CURLE_OK;
	if (ok && c->loopback)
		ok = curl_easy_setopt(h, CURLOPT_NOPROXY, "*") == CURLE_OK;
	if (ok && body != NULL)
		ok = curl_easy_setopt(h, CURLOPT_POSTFIELDS, body) == CURLE_OK &&
		     curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)body_len) == CURLE_OK;
	if (ok && strcmp(method, "GET") != 0 && strcmp(method, "POST") != 0)
		ok = curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method) == CURLE_OK;
	else if (ok && strcmp(method, "POST") == 0 && body == NULL)
		ok = curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)0) == CURLE_OK &&
		     curl_easy_setopt(h, CURLOPT_POSTFIELDS, "") == CURLE_OK;
	return ok;
}

/* A streaming answer's body: to the caller's callback once the status says 2xx, else kept
 * as an error body is. */
typedef struct stream_sink {
	ky_client *client;
	ky_client_stream_fn *fn;
	void *ctx;
	body_buffer *b;
	bool stopped;          /* fn asked to stop */
} stream_sink;

static size_t on_stream(char *data, size_t size, size_t count, void *arg)
{
	stream_sink *k = arg;
	long status = 0;
	curl_easy_getinfo(k->client->curl, CURLINFO_RESPONSE_CODE, &status);
	if (status < 200 || status >= 300)
		return on_body(data, size, count, k->b);
	if (!k->fn(k->ctx, data, size * count)) {
		k->stopped = true;
		return 0;
	}
	return size * count;
}

/* One request (ky_client_request), or with sink a streaming one (ky_client_stream): `extra`
 * another header line or NULL. */
static int perform(ky_client *client, const char *method, const char *path, const char *body, size_t body_len,
		   const char *accept, const char *extra, stream_sink *sink, long idle_seconds, ky_client_response *out)
{
	struct curl_slist *headers = NULL, *more;
	body_buffer b = {0};
	char url[KY_CLIENT_URL_MAX + 1], errors[CURL_ERROR_SIZE] = "";
	int rc;

	memset(out, 0, sizeof(*out));
	size_t base_len = strlen(client->base), path_len = strlen(path);
	if (path[0] != '/' || path_len > KY_CLIENT_URL_MAX - base_len) {
		rc = ky_error_set(KY_EINVALID, "the request path must start with '/' and fit in a URL of %d bytes",
				  KY_CLIENT_URL_MAX);
		goto cleanup;
	}
	memcpy(url, client->base, base_len);
	memcpy(url + base_len, path, path_len + 1);

	/* An empty "Expect:" stops libcurl waiting for a 100 Continue before a larger body. */
	const char *lines[] = {client->auth, accept, "Expect:", body != NULL ? "Content-Type: application/json" : extra};
	for (size_t i = 0; i < sizeof(lines) / sizeof(lines[0]) && lines[i] != NULL; i++) {
		more = curl_slist_append(headers, lines[i]);
		if (more == NULL) {
			rc = ky_error_set(KY_ENOMEM, "out of memory");
			goto cleanup;
		}
		headers = more;
	}
	bool ok = set_options(client, url, method, body, body_len, headers, &b, errors);
	if (ok && sink != NULL) {
		/* A stream lasts as long as the hub keeps it; only silence ends it (the hub's
		 * heartbeats keep a live one talking). */
		sink->b = &b;
		ok = curl_easy_setopt(client->curl, CURLOPT_TIMEOUT, 0L) == CURLE_OK &&
		     curl_easy_setopt(client->curl, CURLOPT_LOW_SPEED_LIMIT, 1L) == CURLE_OK &&
		     curl_easy_setopt(client->curl, CURLOPT_LOW_SPEED_TIME, idle_seconds) == CURLE_OK &&
		     curl_easy_setopt(client->curl, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)0) == CURLE_OK &&
		     curl_easy_setopt(client->curl, CURLOPT_WRITEFUNCTION, on_stream) == CURLE_OK &&
		     curl_easy_setopt(client->curl, CURLOPT_WRITEDATA, sink) == CURLE_OK;
	}
	if (!ok) {
		rc = ky_error_set(KY_ERROR, "libcurl refused an option of the request to %s", url);
		goto cleanup;
	}
	CURLcode cc = curl_easy_perform(client->curl);
	if (sink != NULL && sink->stopped)
		cc = CURLE_OK;
	if (b.no_memory || cc == CURLE_OUT_OF_MEMORY) {
		rc = ky_error_set(KY_ENOMEM, "out of memory reading the answer of %s", url);
		goto cleanup;
	}
	if (b.too_big || cc == CURLE_FILESIZE_EXCEEDED) {
		rc = ky_error_set(KY_ETOOBIG, "the answer of %s %s is over %u MiB; refused", method, url,
				  KY_CLIENT_BODY_MAX / (1024 * 1024));
		goto cleanup;
	}
	if (cc == CURLE_OPERATION_TIMEDOUT) {
		rc = ky_error_set(KY_ERROR, "cannot reach the hub at %s: no answer within %ld seconds", client->base,
				  sink != NULL ? idle_seconds : client->timeout);
		goto cleanup;
	}
	if (cc != CURLE_OK) {
		/* The error buffer says more than the code (which host, which certificate). */
		rc = ky_error_set(KY_ERROR, "cannot reach the hub at %s: %s", client->base,
				  errors[0] != '\0' ? errors : curl_easy_strerror(cc));
		goto cleanup;
	}
	char *type = NULL, *location = NULL;
	curl_easy_getinfo(client->curl, CURLINFO_RESPONSE_CODE, &out->status);
	if (curl_easy_getinfo(client->curl, CURLINFO_CONTENT_TYPE, &type) == CURLE_OK && type != NULL) {
		size_t n = strnlen(type, sizeof(out->content_type) - 1);
		memcpy(out->content_type, type, n);
		out->content_type[n] = '\0';
	}
	if (out->status >= 300 && out->status < 400 &&
	    curl_easy_getinfo(client->curl, CURLINFO_REDIRECT_URL, &location) == CURLE_OK && location != NULL)
		ky_client_text_clean(out->location, sizeof(out->location), location, strlen(location), false);
	if (b.data == NULL && (b.data = malloc(1)) == NULL) {
		rc = ky_error_set(KY_ENOMEM, "out of memory");
		goto cleanup;
	}
	b.data[b.len] = '\0';
	out->body = b.data;
	out->body_len = b.len;
	b.data = NULL;
	rc = KY_OK;

cleanup:
	/* The handle points at this frame's buffers and the header list until reset. */
	curl_easy_reset(client->curl);
	if (rc != KY_OK)
		ky_client_response_clear(out);
	free(b.data);
	/* The list holds a copy of the key's header. */
	for (more = headers; more != NULL; more = more->next)
		explicit_bzero(more->data, strlen(more->data));
	curl_slist_free_all(headers);
	return rc;
}

int ky_client_request(ky_client *client, const char *method, const char *path, const char *body, size_t body_len,
		      ky_client_response *out)
{
	return perform(client, method, path, body, body_len, "Accept: application/json", NULL, NULL, 0, out);
}

int ky_client_stream(ky_client *client, const char *path, const char *last_event_id, long idle_seconds,
		     ky_client_stream_fn *fn, void *ctx, ky_client_response *out)
{
	char resume[64];
	if (last_event_id != NULL && strspn(last_event_id, "0123456789") != strlen(last_event_id))
		return ky_error_set(KY_EINVALID, "an event id is a whole number");
	if (last_event_id != NULL)
		snprintf(resume, sizeof(resume), "Last-Event-ID: %.40s", last_event_id);
	stream_sink sink = {.client = client, .fn = fn, .ctx = ctx};
	return perform(client, "GET", path, NULL, 0, "Accept: text/event-stream", last_event_id ? resume : NULL, &sink,
		       idle_seconds, out);
}

void ky_client_response_clear(ky_client_response *r)
{
	if (r == NULL)
		return;
	free(r->body);
	memset(r, 0, sizeof(*r));
}

/* --- the hub's text ------------------------------------------------------------------------ */

/* Whether the character c[0..n) (well-formed) may not be shown as it is. */
static bool unsafe_char(const unsigned char *c, size_t n)
{
	if (n == 1)
		return c[0] < 0x20 || c[0] == 0x7f;
	if (n == 2) /* C1 controls: U+0080-U+009F */
		return c[0] == 0xc2 && c[1] < 0xa0;
	if (n == 3 && c[0] == 0xe2) { /* U+202A-U+202E, U+2066-U+2069 */
		unsigned cp = (c[1] & 0x3fu) << 6 | (c[2] & 0x3fu);
		cp |= 0x2000;
		return (cp >= 0x202a && cp <= 0x202e) || (cp >= 0x2066 && cp <= 0x2069);
	}
	return false;
}

size_t ky_client_text_clean(char *out, size_t size, const char *text, size_t len, bool lines)
{
	const unsigned char *s = (const unsigned char *)text;
	size_t i = 0, used = 0;

	if (size == 0)
		return 0;
	while (i < len) {
		size_t n = ky_utf8_char_length(text + i, len - i);
		const char *put = "?";
		size_t put_len = 1;
		if (n == 0) {
			n = 1;
		} else if (lines && (s[i] == '\n' || s[i] == '\t')) {
			put = text + i;
		} else if (lines && s[i] == '\r' && i + 1 < len && s[i + 1] == '\n') {
			put = "\n";
			n = 2;
		} else if (!unsafe_char(s + i, n)) {
			put = text + i;
			put_len = n;
		}
		if (put_len > size - 1 - used)
			break;
		memcpy(out + used, put, put_len);
		used += put_len;
		i += n;
	}
	out[used] = '\0';
	return i;
}

/* Appends the hub's text[0..len) cleaned to out[*used..), within limit bytes; false once
 * it was cut. */
static bool append_clean(char *out, size_t limit, size_t *used, const char *text, size_t len)
{
	size_t consumed = ky_client_text_clean(out + *used, limit + 1 - *used, text, len, false);
	*used += strlen(out + *used);
	return consumed == len;
}

const char *ky_client_hub_error(char *out, size_t size, long status, const char *content_type, const char *body,
				size_t body_len)
{
	/* Room kept for "..." so that a cut message still says it was cut. */
	static const char more[] = "...";
	size_t limit, used;
	json_t *doc = NULL;

	if (size == 0)
		return out;
	limit = size - 1 < KY_CLIENT_MESSAGE_MAX ? size - 1 : KY_CLIENT_MESSAGE_MAX;
	if (limit < sizeof(more) - 1) {
		out[0] = '\0';
		return out;
	}
	limit -= sizeof(more) - 1;
	int head = snprintf(out, limit + 1, "%ld", status);
	used = head > 0 && (size_t)head <= limit ? (size_t)head : strlen(out);

	doc = body_len > 0 ? json_loadb(body, body_len, JSON_REJECT_DUPLICATES, NULL) : NULL;
	json_t *title = json_object_get(doc, "title"), *description = json_object_get(doc, "description");
	bool whole = true;
	if (json_is_string(title)) {
		if (json_string_length(title) > 0)
			whole = append_clean(out, limit, &used, " ", 1) &&
				append_clean(out, limit, &used, json_string_value(title), json_string_length(title));
		if (whole && json_is_string(description) && json_string_length(description) > 0)
			whole = append_clean(out, limit, &used, ": ", 2) &&
				append_clean(out, limit, &used, json_string_value(description),
					     json_string_length(description));
	} else if (body_len == 0) {
		whole = append_clean(out, limit, &used, " with an empty body", 19);
	} else {
		char tail[320];
		snprintf(tail, sizeof(tail), ", and its body is not a TAXII error (%s, %zu bytes)",
			 content_type[0] != '\0' ? content_type : "no content type", body_len);
		whole = append_clean(out, limit, &used, tail, strlen(tail));
	}
	if (!whole) {
		memcpy(out + used, more, sizeof(more));
		used += sizeof(more) - 1;
	}
	json_decref(doc);
	return out;
}

int ky_client_exit_status(long status)
{
	if (status >= 200 && status < 300)
		return KY_CLIENT_EXIT_OK;
	switch (status) {
	case 400:
	case 413:
	case 415:
		return KY_CLIENT_EXIT_INVALID;
	case 401:
	case 403:
		return KY_CLIENT_EXIT_REFUSED;
	case 404:
		return KY_CLIENT_EXIT_NOT_FOUND;
	case 409:
		return KY_CLIENT_EXIT_CONFLICT;
	default:
		return KY_CLIENT_EXIT_FAILED;
	}
}
