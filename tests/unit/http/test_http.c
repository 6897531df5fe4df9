/*
 * test_http: the HTTP layer (src/http/). The request target's parser, case by case; the
 * error table; and a real server on 127.0.0.1 with handlers of the test's own, spoken to
 * over raw sockets: requests refused before the body is read (admit, the declared length,
 * framing), the error body (shown and hidden messages, error_id), slow clients cut off at
 * their header deadline, and stops that close nothing twice.
 *
 * The deadline tests wait for real seconds: header_timeout is a network deadline kept by
 * the HTTP layer's own monotonic clock, not the hub's clock, and one second is its unit.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "http/http.h"
#include "util/ky_error.h"
#include "util/ky_utf8.h"

/* --- the target parser ---------------------------------------------------------------------- */

typedef struct target_case {
	const char *target;   /* as sent */
	size_t len;           /* 0: strlen */
	int rc;
	const char *path;     /* decoded, when rc is KY_OK */
	size_t path_len;      /* 0: strlen(path) */
	const char *params;   /* "k=v|k=v": the decoded parameters in order */
} target_case;

static const target_case target_cases[] = {
	{"/", 0, KY_OK, "/", 0, ""},
	{"/taxii2/", 0, KY_OK, "/taxii2/", 0, ""},
	{"/a%2Fb/", 0, KY_OK, "/a/b/", 0, ""},
	{"/%e3%81%82/", 0, KY_OK, "/\xe3\x81\x82/", 0, ""},
	{"/x/?a=1&b=&c", 0, KY_OK, "/x/", 0, "a=1|b=|c="},
	{"/x/?match%5Btype%5D=indicator,malware", 0, KY_OK, "/x/", 0, "match[type]=indicator,malware"},
	{"/x/?a=1+2&b=%2B", 0, KY_OK, "/x/", 0, "a=1 2|b=+"},
	{"/x/?&&a=1&&", 0, KY_OK, "/x/", 0, "a=1"},
	{"/x/?a=b=c", 0, KY_OK, "/x/", 0, "a=b=c"},
	{"/x+y/", 0, KY_OK, "/x+y/", 0, ""},                /* '+' is a space only in the query */
	/* Defect 5 of issue 11: a NUL or control decoded anywhere is 400, never a cut. */
	{"/kyoyu/%00anything/", 0, KY_EINVALID, NULL, 0, NULL},
	{"/x/?match[type]=attack-pattern%00junk", 0, KY_EINVALID, NULL, 0, NULL},
	{"/x/objects/ID/%00/versions/", 0, KY_EINVALID, NULL, 0, NULL},
	{"/x/%01/", 0, KY_EINVALID, NULL, 0, NULL},
	{"/x/%7f/", 0, KY_EINVALID, NULL, 0, NULL},
	{"/x/%0a/", 0, KY_EINVALID, NULL, 0, NULL},
	{"/x/?a%00=1", 0, KY_EINVALID, NULL, 0, NULL},
	{"/x/?a=%1f", 0, KY_EINVALID, NULL, 0, NULL},
	{"/x/\x01/", 0, KY_EINVALID, NULL, 0, NULL},
	{"/x/ y/", 0, KY_EINVALID, NULL, 0, NULL},
	{"/x/\0y/", 6, KY_EINVALID, NULL, 0, NULL},         /* a raw NUL inside the bytes */
	/* Malformed percent-encodings and bytes that are not UTF-8. */
	{"/x/%/", 0, KY_EINVALID, NULL, 0, NULL},
	{"/x/%4/", 0, KY_EINVALID, NULL, 0, NULL},
	{"/x/%zz/", 0, KY_EINVALID, NULL, 0, NULL},
	{"/x/%4", 0, KY_EINVALID, NULL, 0, NULL},
	{"/x/%ff%fe/", 0, KY_EINVALID, NULL, 0, NULL},
	{"/x/%c0%af/", 0, KY_EINVALID, NULL, 0, NULL},      /* overlong '/' */
	{"/x/%ed%a0%80/", 0, KY_EINVALID, NULL, 0, NULL},   /* a UTF-16 surrogate */
	{"/x/%e3%81/", 0, KY_EINVALID, NULL, 0, NULL},      /* a cut character */
	{"/x/?a=%e3", 0, KY_EINVALID, NULL, 0, NULL},
	/* Not origin-form. */
	{"", 0, KY_EINVALID, NULL, 0, NULL},
	{"*", 0, KY_EINVALID, NULL, 0, NULL},
	{"http://h/x/", 0, KY_EINVALID, NULL, 0, NULL},
};

/* "k=v|k=v" of parsed parameters. */
static void join_params(const ky_http_param *params, size_t n, char *out, size_t size)
{
	size_t len = 0;
	out[0] = '\0';
	for (size_t i = 0; i < n; i++)
		len += (size_t)snprintf(out + len, size - len, "%s%.*s=%.*s", i ? "|" : "", (int)params[i].key.len,
					params[i].key.ptr, (int)params[i].value.len, params[i].value.ptr);
}

static void test_target_cases(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(target_cases) / sizeof(target_cases[0]); i++) {
		const target_case *c = &target_cases[i];
		ky_arena *arena = ky_arena_new();
		ky_slice path;
		ky_http_param *params;
		size_t n;
		size_t len = c->len ? c->len : strlen(c->target);
		int rc = ky_http_target_parse(arena, c->target, len, &path, &params, &n);
		if (rc != c->rc)
			fail_msg("target %zu (%s): %d, expected %d (%s)", i, c->target, rc, c->rc, ky_error_last());
		if (rc == KY_OK) {
			size_t want = c->path_len ? c->path_len : strlen(c->path);
			assert_int_equal(path.len, want);
			assert_memory_equal(path.ptr, c->path, want);
			char joined[512];
			join_params(params, n, joined, sizeof(joined));
			assert_string_equal(joined, c->params);
		} else {
			assert_true(ky_utf8_text(ky_error_last(), strlen(ky_error_last())));
		}
		ky_arena_free(arena);
	}
}

static void test_target_limits(void **state)
{
	(void)state;
	ky_arena *arena = ky_arena_new();
	ky_slice path;
	ky_http_param *params;
	size_t n;
	/* Over the length limit, however it is made. */
	char *big = malloc(KY_HTTP_TARGET_MAX + 2);
	memset(big, 'a', KY_HTTP_TARGET_MAX + 1);
	big[0] = '/';
	assert_int_equal(ky_http_target_parse(arena, big, KY_HTTP_TARGET_MAX + 1, &path, &params, &n), KY_EURITOOLONG);
	assert_int_equal(ky_http_target_parse(arena, big, KY_HTTP_TARGET_MAX, &path, &params, &n), KY_OK);
	free(big);
	/* The parameters' limit: exactly the maximum passes, one more is refused whole. */
	char query[4096];
	size_t len = (size_t)snprintf(query, sizeof(query), "/x/?");
	for (int i = 0; i < KY_HTTP_PARAMS_MAX; i++)
		len += (size_t)snprintf(query + len, sizeof(query) - len, "p%d=1&", i);
	assert_int_equal(ky_http_target_parse(arena, query, len, &path, &params, &n), KY_OK);
	assert_int_equal(n, KY_HTTP_PARAMS_MAX);
	len += (size_t)snprintf(query + len, sizeof(query) - len, "one=more");
	assert_int_equal(ky_http_target_parse(arena, query, len, &path, &params, &n), KY_EURITOOLONG);
	ky_arena_free(arena);
}

/* --- the error table -------------------------------------------------------------------------- */

static void test_error_table(void **state)
{
	(void)state;
	static const struct {
		int code;
		unsigned http;
		bool shown;
	} rows[] = {
		{KY_EINVALID, 400, true},        {KY_EUNAUTHENTICATED, 401, true}, {KY_EDENIED, 403, true},
		{KY_ENOTFOUND, 404, true},       {KY_EMETHOD, 405, true},          {KY_ENOTACCEPTABLE, 406, true},
		{KY_ETOOBIG, 413, true},         {KY_EURITOOLONG, 414, true},      {KY_EMEDIATYPE, 415, true},
		{KY_ETOOMANY, 429, true},        {KY_EHEADERSTOOBIG, 431, true},   {KY_ENOMEM, 500, false},
		{KY_EUNAVAILABLE, 503, false},   {KY_ERROR, 500, false},           {-9999, 500, false},
	};
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		const ky_http_status *s = ky_http_status_of(rows[i].code);
		assert_non_null(s);
		assert_int_equal(s->http, rows[i].http);
		assert_int_equal(s->shown, rows[i].shown);
		assert_true(s->title != NULL && s->title[0] != '\0');
	}
}

/* --- a real server ------------------------------------------------------------------------------ */

typedef struct test_server {
	ky_http_server *server;
	unsigned port;
	int admit_code;        /* what admit returns */
	int handle_code;       /* what handle returns when it does not answer */
	const char *message;   /* handle's message for handle_code */
	int handled;           /* handle calls */
	pthread_mutex_t lock;
} test_server;

static int test_admit(void *ctx, ky_http_request *r)
{
	test_server *t = ctx;
	(void)r;
	if (t->admit_code != KY_OK)
		return ky_error_set(t->admit_code, "admit refuses this request");
	return KY_OK;
}

static int test_handle(void *ctx, ky_http_request *r)
{
	test_server *t = ctx;
	pthread_mutex_lock(&t->lock);
	t->handled++;
	pthread_mutex_unlock(&t->lock);
	if (t->handle_code != KY_OK)
		return ky_error_set(t->handle_code, "%s", t->message);
	size_t len;
	const char *body = ky_http_body(r, &len);
	char text[64];
	int n = snprintf(text, sizeof(text), "%zu", len);
	(void)body;
	ky_http_respond(r, 200, "text/plain", text, (size_t)n);
	return KY_OK;
}

static void start(test_server *t, unsigned header_timeout)
{
	pthread_mutex_init(&t->lock, NULL);
	ky_http_options o = {.listen = "127.0.0.1:0",
			     .max_body = 1 << 20,
			     .threads = 2,
			     .header_timeout = header_timeout,
			     .admit = test_admit,
			     .handle = test_handle,
			     .ctx = t};
	assert_int_equal(ky_http_start(&t->server, &o), KY_OK);
	t->port = ky_http_port(t->server);
}

static void stop(test_server *t)
{
	ky_http_stop(t->server);
	pthread_mutex_destroy(&t->lock);
}

static int dial(unsigned port)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	assert_true(fd >= 0);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	struct timeval tv = {.tv_sec = 5};
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	return fd;
}

/* Sends `request` and reads the answer until the server closes or 5 s pass, into out. */
static size_t exchange(unsigned port, const char *request, size_t len, char *out, size_t size)
{
	int fd = dial(port);
	assert_int_equal(send(fd, request, len, MSG_NOSIGNAL), (ssize_t)len);
	size_t got = 0;
	ssize_t n;
	while (got + 1 < size && (n = recv(fd, out + got, size - 1 - got, 0)) > 0)
		got += (size_t)n;
	out[got] = '\0';
	close(fd);
	return got;
}

static unsigned status_of(const char *response)
{
	unsigned status = 0;
	sscanf(response, "HTTP/1.1 %u", &status);
	return status;
}

static unsigned count_of(const char *haystack, const char *needle)
{
	unsigned n = 0;
	for (const char *p = haystack; (p = strstr(p, needle)) != NULL; p++)
		n++;
	return n;
}

static void test_refused_before_the_body(void **state)
{
	(void)state;
	test_server t = {.admit_code = KY_EUNAUTHENTICATED};
	start(&t, 0);
	char answer[8192];
	/* A body declared, not sent: admit's refusal comes at once, and no handler runs. */
	const char *req = "POST /x/ HTTP/1.1\r\nHost: h\r\nContent-Length: 900000\r\n\r\n";
	exchange(t.port, req, strlen(req), answer, sizeof(answer));
	assert_int_equal(status_of(answer), 401);
	assert_int_equal(count_of(answer, "HTTP/1.1 "), 1);
	/* The declared length over max_body: 413 on the headers, before admit. */
	t.admit_code = KY_OK;
	req = "POST /x/ HTTP/1.1\r\nHost: h\r\nContent-Length: 209715200\r\n\r\n";
	exchange(t.port, req, strlen(req), answer, sizeof(answer));
	assert_int_equal(status_of(answer), 413);
	assert_non_null(strstr(answer, "\"http_status\":\"413\""));
	/* Framing a proxy might read otherwise (RFC 9112 §6.3). */
	req = "POST /x/ HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\nContent-Length: 7\r\n\r\nabcde";
	exchange(t.port, req, strlen(req), answer, sizeof(answer));
	assert_int_equal(status_of(answer), 400);
	req = "POST /x/ HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\nabcde";
	exchange(t.port, req, strlen(req), answer, sizeof(answer));
	assert_int_equal(status_of(answer), 400);
	req = "POST /x/ HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\nabcde";
	exchange(t.port, req, strlen(req), answer, sizeof(answer));
	assert_int_equal(status_of(answer), 400);
	/* A NUL in the path: 400, not the path cut at it. */
	req = "GET /x/%00y/ HTTP/1.1\r\nHost: h\r\n\r\n";
	exchange(t.port, req, strlen(req), answer, sizeof(answer));
	assert_int_equal(status_of(answer), 400);
	/* Many parameters: an answer, not a silent close. */
	char many[8192];
	size_t len = (size_t)snprintf(many, sizeof(many), "GET /x/?");
	for (int i = 0; i < 500; i++)
		len += (size_t)snprintf(many + len, sizeof(many) - len, "a%d&", i);
	len += (size_t)snprintf(many + len, sizeof(many) - len, " HTTP/1.1\r\nHost: h\r\n\r\n");
	exchange(t.port, many, len, answer, sizeof(answer));
	assert_int_equal(status_of(answer), 414);
	assert_int_equal(t.handled, 0);
	/* And a good one gets through with its body. */
	req = "POST /x/ HTTP/1.1\r\nHost: h\r\nConnection: close\r\nContent-Length: 5\r\n\r\nabcde";
	exchange(t.port, req, strlen(req), answer, sizeof(answer));
	assert_int_equal(status_of(answer), 200);
	assert_non_null(strstr(answer, "\r\n\r\n5"));
	stop(&t);
}

/* A client that sends its whole body before reading (as most do without Expect) still
 * reads the early answer: the socket lingers, drained, instead of being reset under it. */
static void test_early_answer_survives_the_body(void **state)
{
	(void)state;
	test_server t = {.admit_code = KY_OK};
	start(&t, 0);
	size_t body = (size_t)8 << 20;
	char *request = malloc(body + 256);
	for (int round = 0; round < 10; round++) {
		t.admit_code = round % 2 ? KY_EUNAUTHENTICATED : KY_OK;
		int n = snprintf(request, 256, "POST /x/ HTTP/1.1\r\nHost: h\r\nContent-Length: %zu\r\n\r\n", body);
		memset(request + n, 'x', body);
		int fd = dial(t.port);
		size_t sent = 0;
		ssize_t k;
		while (sent < (size_t)n + body && (k = send(fd, request + sent, (size_t)n + body - sent, MSG_NOSIGNAL)) > 0)
			sent += (size_t)k;
		/* Most clients give up at the first failed send (Python's http.client, for one). */
		assert_int_equal(sent, (size_t)n + body);
		char answer[4096];
		ssize_t got = recv(fd, answer, sizeof(answer) - 1, 0);
		assert_true(got > 0);
		answer[got] = '\0';
		assert_int_equal(status_of(answer), round % 2 ? 401 : 413);
		close(fd);
	}
	free(request);
	stop(&t);
}

static void test_error_bodies(void **state)
{
	(void)state;
	test_server t = {.handle_code = KY_EUNAVAILABLE, .message = "cannot open /srv/secret-place/hub.db: no hub there"};
	start(&t, 0);
	char answer[8192];
	const char *req = "GET /x/ HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n";
	exchange(t.port, req, strlen(req), answer, sizeof(answer));
	assert_int_equal(status_of(answer), 503);
	/* Issue 11, defect 4: the internal message stays in the log. */
	assert_null(strstr(answer, "secret-place"));
	assert_null(strstr(answer, "hub.db"));
	const char *id = strstr(answer, "\"error_id\":\"");
	assert_non_null(id);
	char hex[17];
	memcpy(hex, id + 12, 16);
	hex[16] = '\0';
	assert_int_equal(strspn(hex, "0123456789abcdef"), 16);
	assert_non_null(strstr(answer, hex + 0));
	/* A shown code sends its message as the description... */
	t.handle_code = KY_ENOTFOUND;
	t.message = "There is no such thing";
	exchange(t.port, req, strlen(req), answer, sizeof(answer));
	assert_int_equal(status_of(answer), 404);
	assert_non_null(strstr(answer, "\"description\":\"There is no such thing\""));
	/* ...unless it is not text, and never cut inside a character. */
	t.message = "bad \xff\xfe bytes";
	exchange(t.port, req, strlen(req), answer, sizeof(answer));
	assert_int_equal(status_of(answer), 404);
	assert_null(strstr(answer, "\xff"));
	char long_message[1500] = "";
	for (int i = 0; i < 400; i++)
		strcat(long_message, "\xe3\x81\x82");
	t.message = long_message;
	size_t got = exchange(t.port, req, strlen(req), answer, sizeof(answer));
	const char *body = strstr(answer, "\r\n\r\n");
	assert_non_null(body);
	assert_true(ky_utf8_valid(body, got - (size_t)(body - answer)));
	stop(&t);
}

static void test_header_deadline(void **state)
{
	(void)state;
	test_server t = {0};
	start(&t, 1);
	/* One header byte every 300 ms keeps an idle timeout from ever firing; the deadline
	 * closes the connection anyway, within a second and the sweeper's quarter. */
	int fd = dial(t.port);
	const char *slow = "GET /x/ HTTP/1.1\r\nX-Slow: aaaaaaaaaaaaaaaaaaaa";
	struct timespec begin, now;
	clock_gettime(CLOCK_MONOTONIC, &begin);
	bool closed = false;
	for (size_t i = 0; i < strlen(slow) && !closed; i++) {
		if (send(fd, slow + i, 1, MSG_NOSIGNAL) != 1) {
			closed = true;
			break;
		}
		struct timeval tv = {.tv_usec = 300000};
		setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
		char c;
		ssize_t n = recv(fd, &c, 1, 0);
		closed = n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK);
	}
	clock_gettime(CLOCK_MONOTONIC, &now);
	double seconds = (double)(now.tv_sec - begin.tv_sec) + (double)(now.tv_nsec - begin.tv_nsec) / 1e9;
	assert_true(closed);
	assert_true(seconds < 3.0);
	close(fd);
	/* A prompt client on another connection is served meanwhile and after. */
	char answer[4096];
	const char *req = "GET /x/ HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n";
	exchange(t.port, req, strlen(req), answer, sizeof(answer));
	assert_int_equal(status_of(answer), 200);
	stop(&t);
}

/* Opens /dev/null over and over while the server stops, remembering each descriptor: one
 * that the stop closed by mistake (a listening socket closed twice) is then invalid. */
typedef struct opener {
	/* Atomic, not volatile: the main thread sets it while the opener reads it, and volatile
	 * orders nothing between threads (ThreadSanitizer reports it as a race). */
	atomic_bool done;
	int fds[4096];
	int n;
} opener;

static void *open_files(void *arg)
{
	opener *o = arg;
	while (!atomic_load(&o->done) && o->n < 4096) {
		int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			break;
		o->fds[o->n++] = fd;
		if (o->n % 64 == 0) {
			for (int i = o->n - 64; i < o->n - 8; i++) {
				close(o->fds[i]);
				o->fds[i] = -1;
			}
		}
	}
	return NULL;
}

static void test_stop_closes_nothing_twice(void **state)
{
	(void)state;
	for (int round = 0; round < 30; round++) {
		test_server t = {0};
		start(&t, 0);
		opener o = {0};
		pthread_t thread;
		pthread_create(&thread, NULL, open_files, &o);
		stop(&t);
		atomic_store(&o.done, true);
		pthread_join(thread, NULL);
		for (int i = 0; i < o.n; i++) {
			if (o.fds[i] < 0)
				continue;
			assert_true(fcntl(o.fds[i], F_GETFD) >= 0);
			close(o.fds[i]);
		}
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_target_cases),
		cmocka_unit_test(test_target_limits),
		cmocka_unit_test(test_error_table),
		cmocka_unit_test(test_refused_before_the_body),
		cmocka_unit_test(test_early_answer_survives_the_body),
		cmocka_unit_test(test_error_bodies),
		cmocka_unit_test(test_header_deadline),
		cmocka_unit_test(test_stop_closes_nothing_twice),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
