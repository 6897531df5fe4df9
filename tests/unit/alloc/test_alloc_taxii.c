/*
 * test_alloc_taxii: one TAXII request (TAXII 2.1 §5.4, Get Objects, a page of two with a
 * cursor) served in-process by the real server (ky_http_start with ky_server_admit and
 * ky_server_handle on 127.0.0.1:0, one worker thread) over a SQLite hub, with the n-th
 * allocation failing, n = 1, 2, ... (alloc_fail.h). The failing allocation may be anywhere
 * on the server's side: HTTP parsing, authentication, the store, the page's JSON. What must
 * hold every time: the answer is a well-formed HTTP response (the complete page, or a 500
 * or 503 error body with an error_id) or a closed connection, and once injection stops the
 * server answers the same request with the complete page again. The worker's store
 * connection is opened by a request before the loop (test_alloc_ingest covers opening).
 * libmicrohttpd's own allocations are out of reach.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <cmocka.h>

#include "alloc_fail.h"
#include "auth/auth.h"
#include "config/config.h"
#include "http/http.h"
#include "ingest/ingest.h"
#include "ky_test_hub.h"
#include "store/store.h"
#include "server/server.h"
#include "store/store_council.h"
#include "util/ky_error.h"

static const char bundle[] =
	"{\"type\": \"bundle\", \"id\": \"bundle--8a1c6b32-3f6e-4b0e-9d7c-2b6f1a9e4c10\", \"objects\": [\n"
	"{\"type\": \"identity\", \"spec_version\": \"2.1\", \"id\": \"identity--6f2b9a44-0f6e-4c55-9a3e-7a0b1c2d3e4f\",\n"
	" \"created\": \"2026-11-01T09:00:00.000Z\", \"modified\": \"2026-11-01T09:00:00.000Z\",\n"
	" \"name\": \"Example vendor\", \"identity_class\": \"organization\"},\n"
	"{\"type\": \"indicator\", \"spec_version\": \"2.1\", \"id\": \"indicator--0f8e2d3c-4b5a-4c6d-8e7f-9a0b1c2d3e4f\",\n"
	" \"created\": \"2026-11-20T08:15:00.000Z\", \"modified\": \"2026-11-20T08:15:00.000Z\",\n"
	" \"pattern_type\": \"stix\", \"valid_from\": \"2026-11-20T08:15:00Z\", \"pattern\": \"[ipv4-addr:value = '203.0.113.45']\"},\n"
	"{\"type\": \"malware\", \"spec_version\": \"2.1\", \"id\": \"malware--3c4d5e6f-7a8b-4c9d-8e0f-1a2b3c4d5e6f\",\n"
	" \"created\": \"2026-11-20T08:15:00.000Z\", \"modified\": \"2026-11-20T08:15:00.000Z\", \"name\": \"ExampleLocker\",\n"
	" \"is_family\": true}\n"
	"]}\n";

#define ANSWER_MAX 65536

typedef struct scenario {
	unsigned port;
	char request[1024];
	size_t request_len;
	char page[ANSWER_MAX]; /* the body of the undisturbed answer */
	size_t page_len;
	unsigned errors, closed; /* attempts answered with an error body, with a close */
} scenario;

/* Sends the request and reads until the server closes, into out; returns the length. */
static size_t exchange(const scenario *s, char *out, size_t size)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	assert_true(fd >= 0);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)s->port)};
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	struct timeval tv = {.tv_sec = 10};
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	assert_int_equal(send(fd, s->request, s->request_len, MSG_NOSIGNAL), (ssize_t)s->request_len);
	size_t got = 0;
	ssize_t n;
	while (got + 1 < size && (n = recv(fd, out + got, size - 1 - got, 0)) > 0)
		got += (size_t)n;
	assert_true(n == 0); /* closed by the server, not timed out */
	out[got] = '\0';
	close(fd);
	return got;
}

/* Checks that answer[0..len) is one well-formed response: a status line, headers, and a body
 * of its Content-Length. Returns the status; *body and *body_len locate the body. */
static unsigned parse_answer(const char *answer, size_t len, const char **body, size_t *body_len, unsigned long n)
{
	unsigned status = 0;
	const char *end = strstr(answer, "\r\n\r\n");
	if (sscanf(answer, "HTTP/1.1 %3u ", &status) != 1 || end == NULL || status < 100 || status > 599)
		fail_msg("allocation %lu: not an HTTP response:\n%s", n, answer);
	*body = end + 4;
	*body_len = len - (size_t)(*body - answer);
	const char *cl = strcasestr(answer, "\r\nContent-Length: ");
	if (cl == NULL || cl > end || strtoul(cl + 18, NULL, 10) != *body_len)
		fail_msg("allocation %lu: the body does not have the declared length (%zu bytes):\n%s", n, *body_len, answer);
	return status;
}

static bool attempt(void *ctx, unsigned long n)
{
	scenario *s = ctx;
	static char answer[ANSWER_MAX];
	alloc_fail_arm(n);
	size_t len = exchange(s, answer, sizeof(answer));
	bool fired = alloc_fail_disarm(NULL);
	if (len == 0) {
		if (!fired)
			fail_msg("allocation %lu was not reached, yet the server closed without an answer", n);
		s->closed++;
	} else {
		const char *body;
		size_t body_len;
		unsigned status = parse_answer(answer, len, &body, &body_len, n);
		if (status == 200) {
			if (body_len != s->page_len || memcmp(body, s->page, body_len) != 0)
				fail_msg("allocation %lu %s, and the page differs:\n%s", n, fired ? "failed" : "was not reached",
					 body);
		} else if (!fired || (status != 500 && status != 503) || strstr(body, "\"error_id\":\"") == NULL) {
			fail_msg("allocation %lu %s: %u, expected 200 or a server error with an error_id:\n%s", n,
				 fired ? "failed" : "was not reached", status, answer);
		} else {
			s->errors++;
		}
	}
	/* The server is whole again: the same request gets the same page. */
	len = exchange(s, answer, sizeof(answer));
	const char *body;
	size_t body_len;
	if (parse_answer(answer, len, &body, &body_len, n) != 200 || body_len != s->page_len ||
	    memcmp(body, s->page, body_len) != 0)
		fail_msg("after allocation %lu failed, the server answers otherwise:\n%s", n, answer);
	return fired;
}

static void test_taxii_request(void **state)
{
	(void)state;
	char hub[128], key[KY_AUTH_KEY_MAX];
	snprintf(alloc_fail_dir, sizeof(alloc_fail_dir), "/tmp/ky-test-alloc-taxii-XXXXXX");
	assert_non_null(mkdtemp(alloc_fail_dir));
	snprintf(hub, sizeof(hub), "%s/hub.db", alloc_fail_dir);

	/* The hub: a secretariat admin's key and three objects in the default collection. */
	ky_store_options create = {.create = true};
	ky_store *store = NULL;
	ky_store_collection c = {0};
	assert_int_equal(ky_store_open(&store, hub, &create, NULL), KY_OK);
	ky_store_actor operator = {.via = "test"};
	ky_store_user alice;
	assert_int_equal(ky_store_user_ensure(store, "alice", &operator, "the test's user", &alice), KY_OK);
	assert_int_equal(ky_auth_key_create(store, alice.id, &operator, "", key), KY_OK);
	assert_int_equal(ky_store_collection_find(store, KY_STORE_DEFAULT_COLLECTION, &c), KY_OK);
	FILE *in = fmemopen((void *)bundle, sizeof(bundle) - 1, "r");
	assert_non_null(in);
	ky_admission *admission = NULL;
	assert_int_equal(ky_admission_operator(store, NULL, NULL, &admission), KY_OK);
	ky_ingest_options io = {.admission = admission, .collection_id = c.id};
	ky_ingest_totals totals;
	assert_int_equal(ky_ingest_stream(store, in, &io, NULL, NULL, NULL, &totals), KY_OK);
	ky_admission_free(admission);
	assert_int_equal(totals.stored, 3);
	fclose(in);
	ky_store_close(store);

	static ky_config config;
	ky_config_defaults(&config);
	ky_server_options so = {.db = hub, .config = &config};
	ky_server *service = NULL;
	assert_int_equal(ky_server_new(&service, &so), KY_OK);
	ky_http_options ho = {.listen = "127.0.0.1:0", .threads = 1, .admit = ky_server_admit, .handle = ky_server_handle, .ctx = service};
	ky_http_server *server = NULL;
	assert_int_equal(ky_http_start(&server, &ho), KY_OK);

	static scenario s;
	s.port = ky_http_port(server);
	s.request_len = (size_t)snprintf(s.request, sizeof(s.request),
					 "GET /%s/collections/%s/objects/?limit=2 HTTP/1.1\r\nHost: 127.0.0.1\r\n"
					 "Accept: application/taxii+json;version=2.1\r\nAuthorization: Bearer %s\r\n"
					 "Connection: close\r\n\r\n",
					 config.api_root, c.uuid, key);
	ky_store_collection_clear(&c);
	/* The undisturbed page, which also opens the worker's store connection. */
	static char answer[ANSWER_MAX];
	size_t len = exchange(&s, answer, sizeof(answer));
	const char *body;
	size_t body_len;
	assert_int_equal(parse_answer(answer, len, &body, &body_len, 0), 200);
	assert_non_null(strstr(body, "\"more\":true"));
	memcpy(s.page, body, body_len);
	s.page_len = body_len;

	assert_true(alloc_fail_loop("one TAXII request", attempt, &s) > 0);
	printf("one TAXII request: %u answered with a server error, %u closed\n", s.errors, s.closed);
	ky_http_stop(server);
	ky_server_free(service);
}

int main(void)
{
	alloc_fail_init();
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_taxii_request),
	};
	return cmocka_run_group_tests(tests, NULL, alloc_fail_remove_dir);
}
