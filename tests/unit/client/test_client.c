/*
 * test_client: the member client's pure parts (src/client/client.h): the hub URL rule
 * (https anywhere, http only to 127.0.0.0/8, [::1] and localhost, as libcurl reads the
 * host, so userinfo and look-alike hosts do not pass), the hub's error bodies made into a
 * message (TAXII 2.1 §3.6.1; cut to valid UTF-8, controls shown as '?', non-JSON bodies),
 * the text cleaning under them, the status-to-exit mapping, the key check, and a request
 * to a port where nothing listens. Requests to a scripted hub are tests/cli/client-edge-test;
 * to the real one, tests/cli/hub-client-test.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "client/client.h"
#include "util/ky_error.h"
#include "util/ky_utf8.h"

/* --- the URL rule -------------------------------------------------------------------------- */

static void url_ok(const char *url, const char *want_base)
{
	char base[KY_CLIENT_URL_MAX + 1];
	int rc = ky_client_url_check(url, base, sizeof(base));
	if (rc != KY_OK)
		fail_msg("%s refused: %s", url, ky_error_last());
	assert_string_equal(base, want_base);
	assert_int_equal(ky_client_url_check(url, NULL, 0), KY_OK);
}

/* Refused, with `why` in the message. */
static void url_refused(const char *url, const char *why)
{
	char base[KY_CLIENT_URL_MAX + 1] = "unchanged";
	int rc = ky_client_url_check(url, base, sizeof(base));
	if (rc != KY_EINVALID)
		fail_msg("%s: expected KY_EINVALID, got %d (%s)", url, rc, ky_error_last());
	if (strstr(ky_error_last(), why) == NULL)
		fail_msg("%s: message '%s' does not say '%s'", url, ky_error_last(), why);
	assert_string_equal(base, "unchanged");
}

static void test_url_https_anywhere(void **state)
{
	(void)state;
	url_ok("https://hub.example", "https://hub.example");
	url_ok("https://hub.example/", "https://hub.example");
	url_ok("https://hub.example:8443/kyoyu/", "https://hub.example:8443/kyoyu");
	url_ok("https://hub.example/a/b//", "https://hub.example/a/b");
	url_ok("HTTPS://10.0.0.1/", "https://10.0.0.1");
	url_ok("https://[2001:db8::1]:443/", "https://[2001:db8::1]:443");
}

static void test_url_http_loopback_only(void **state)
{
	(void)state;
	url_ok("http://127.0.0.1", "http://127.0.0.1");
	url_ok("http://127.0.0.1:8080/", "http://127.0.0.1:8080");
	url_ok("http://127.5.6.7/", "http://127.5.6.7");
	url_ok("http://127.255.255.255:1/p", "http://127.255.255.255:1/p");
	url_ok("http://[::1]/", "http://[::1]");
	url_ok("http://[::1]:9000/hub/", "http://[::1]:9000/hub");
	url_ok("http://localhost:8000", "http://localhost:8000");
	url_ok("HTTP://LocalHost/", "http://LocalHost");
	/* libcurl reads these numbers as 127.0.0.1, and so connects there: still loopback. */
	url_ok("http://2130706433/", "http://127.0.0.1");
	url_ok("http://0x7f.1/", "http://127.0.0.1");

	url_refused("http://10.0.0.1/", "not this machine");
	url_refused("http://example.org/", "not this machine");
	url_refused("http://128.0.0.1/", "not this machine");
	url_refused("http://126.255.255.255/", "not this machine");
	url_refused("http://127.0.0.1.example.org/", "not this machine");
	url_refused("http://localhost.example.org/", "not this machine");
	url_refused("http://[::2]/", "not this machine");
	url_refused("http://[::ffff:127.0.0.1]/", "not this machine");
	url_refused("http://0.0.0.0/", "not this machine");
}

static void test_url_tricks(void **state)
{
	(void)state;
	/* Each reads as loopback to a person and goes elsewhere: userinfo, or a fragment or
	 * query that hides the real host's end. */
	url_refused("http://127.0.0.1@evil.example/", "user name or password");
	url_refused("http://127.0.0.1:80@evil.example/", "user name or password");
	url_refused("http://localhost@evil.example/", "user name or password");
	url_refused("https://alice@hub.example/", "user name or password");
	url_refused("http://evil.example#@127.0.0.1/", "query or a fragment");
	url_refused("https://hub.example/#x", "query or a fragment");
	url_refused("https://hub.example/kyoyu?x=1", "query or a fragment");
	url_refused("ftp://127.0.0.1/", "ftp://");
	url_refused("file:///etc/passwd", "file://");
	url_refused("hub.example", "not a URL");
	url_refused("", "not a URL");
	url_refused("https://hub example/", "not a URL");
	url_refused("https://hub.example:99999/", "not a URL");
	url_refused("http://127.0.0.1/\n", "not a URL");
}

static void test_url_message_hides_password(void **state)
{
	(void)state;
	const char *urls[] = {"https://alice:kyk_SECRET@hub.example/", "https://alice:kyk_SECRET@hub example/",
			      "http://u:kyk_SECRET@127.0.0.1/"};
	for (size_t i = 0; i < sizeof(urls) / sizeof(urls[0]); i++) {
		assert_int_equal(ky_client_url_check(urls[i], NULL, 0), KY_EINVALID);
		if (strstr(ky_error_last(), "SECRET") != NULL)
			fail_msg("%s: the message shows the password: %s", urls[i], ky_error_last());
	}
	/* A URL without '@' is quoted, so that the person sees what was refused. */
	assert_int_equal(ky_client_url_check("http://example.org/", NULL, 0), KY_EINVALID);
	assert_non_null(strstr(ky_error_last(), "'http://example.org/'"));
}

static void test_url_too_long(void **state)
{
	(void)state;
	char url[KY_CLIENT_URL_MAX + 64];
	int n = snprintf(url, sizeof(url), "https://hub.example/");
	memset(url + n, 'a', sizeof(url) - (size_t)n - 1);
	url[sizeof(url) - 1] = '\0';
	url_refused(url, "at most 2048");
	/* A base that does not fit the caller's buffer is refused, not cut. */
	char small[16];
	assert_int_equal(ky_client_url_check("https://hub.example/kyoyu", small, sizeof(small)), KY_EINVALID);
}

/* --- the hub's text ------------------------------------------------------------------------ */

/* ky_client_text_clean() of a string literal, NULs inside it included. */
#define CLEAN(out, literal, lines) ky_client_text_clean(out, sizeof(out), literal, sizeof(literal) - 1, lines)

static void test_text_clean(void **state)
{
	(void)state;
	char out[64];
	assert_int_equal(CLEAN(out, "plain text", false), 10);
	assert_string_equal(out, "plain text");
	/* An escape sequence, CR LF, a tab, DEL, NUL: each control one '?'. */
	assert_int_equal(CLEAN(out, "a\x1b[31mred\r\nb\tc\x7f\0d", false), 17);
	assert_string_equal(out, "a?[31mred??b?c??d");
	/* Lines: '\n' and '\t' kept, "\r\n" one '\n', a lone '\r' (which rewrites a line) not. */
	CLEAN(out, "1\r\n2\n\t3\r4", true);
	assert_string_equal(out, "1\n2\n\t3?4");
	/* C1 controls (U+009B is a CSI on some terminals) and bidirectional overrides. */
	CLEAN(out, "x\xc2\x9b" "2J\xe2\x80\xae" "y\xe2\x81\xa6z\xc2\xa0", false);
	assert_string_equal(out, "x?2J?y?z\xc2\xa0");
	/* Bytes that are not UTF-8: each '?'; what is UTF-8 around them stays. */
	CLEAN(out, "\xff" "a\xe3\x81" "b\xed\xa0\x80\xe3\x81\x82", false);
	assert_string_equal(out, "?a??b???\xe3\x81\x82");
	assert_true(ky_utf8_valid(out, strlen(out)));
	/* A cut falls between characters, and says how much was taken. */
	assert_int_equal(ky_client_text_clean(out, 6, "\xe3\x81\x82\xe3\x81\x82", 6, false), 3);
	assert_string_equal(out, "\xe3\x81\x82");
	assert_int_equal(ky_client_text_clean(out, 1, "abc", 3, false), 0);
	assert_string_equal(out, "");
	/* Never longer than the input: size len + 1 always takes it all. */
	const char *worst = "\xc2\x80\xc2\x80\xff\xe2\x80\xae";
	assert_int_equal(ky_client_text_clean(out, 9, worst, 8, false), 8);
	assert_string_equal(out, "????");
}

/* ky_client_hub_error() of a body given as a NUL-terminated literal. */
static const char *hub_error(char *out, size_t size, long status, const char *type, const char *body)
{
	return ky_client_hub_error(out, size, status, type, body, strlen(body));
}

static void test_hub_error_taxii(void **state)
{
	(void)state;
	char out[KY_CLIENT_MESSAGE_MAX + 1];
	/* TAXII 2.1 §3.6.1: title, description; http_status is a string and not shown. */
	assert_string_equal(hub_error(out, sizeof(out), 403, "application/json",
				      "{\"title\":\"Forbidden\",\"description\":\"member acme is suspended\",\"http_status\":\"403\"}"),
			    "403 Forbidden: member acme is suspended");
	assert_string_equal(hub_error(out, sizeof(out), 404, "application/json", "{\"title\":\"Not Found\"}"),
			    "404 Not Found");
	assert_string_equal(hub_error(out, sizeof(out), 404, "", "{\"title\":\"Not Found\",\"description\":\"\"}"),
			    "404 Not Found");
	assert_string_equal(hub_error(out, sizeof(out), 400, "", "{\"title\":\"Bad\",\"description\":7}"), "400 Bad");
	/* Escapes that would reach the terminal: shown as '?'. */
	assert_string_equal(hub_error(out, sizeof(out), 401, "application/json",
				      "{\"title\":\"Un\\u001b[2Jauthorized\",\"description\":\"line\\r\\nnext\\u009b\\u202e\"}"),
			    "401 Un?[2Jauthorized: line??next??");
	/* Whatever language the hub writes in comes through. */
	assert_string_equal(hub_error(out, sizeof(out), 409, "application/json",
				      "{\"title\":\"Conflict\",\"description\":\"規則は第2版です\"}"),
			    "409 Conflict: 規則は第2版です");
}

static void test_hub_error_cut(void **state)
{
	(void)state;
	/* 4000 three-byte characters: cut to at most KY_CLIENT_MESSAGE_MAX bytes, valid
	 * UTF-8, "..." at the end. */
	size_t n = 4000, len = 0;
	char *body = malloc(n * 3 + 64);
	assert_non_null(body);
	len += (size_t)sprintf(body, "{\"title\":\"T\",\"description\":\"");
	for (size_t i = 0; i < n; i++, len += 3)
		memcpy(body + len, "\xe3\x81\x82", 3);
	len += (size_t)sprintf(body + len, "\"}");
	char out[4 * KY_CLIENT_MESSAGE_MAX];
	ky_client_hub_error(out, sizeof(out), 400, "application/json", body, len);
	size_t out_len = strlen(out);
	assert_true(out_len <= KY_CLIENT_MESSAGE_MAX);
	assert_true(out_len > KY_CLIENT_MESSAGE_MAX - 8);
	assert_true(ky_utf8_valid(out, out_len));
	assert_memory_equal(out, "400 T: \xe3\x81\x82", 10);
	assert_string_equal(out + out_len - 3, "...");
	/* A buffer smaller than the message: cut to it, the same way. */
	char small[12];
	ky_client_hub_error(small, sizeof(small), 400, "application/json", body, len);
	assert_string_equal(small, "400 T: ...");
	free(body);
	ky_client_hub_error(small, 1, 400, "", "x", 1);
	assert_string_equal(small, "");
}

static void test_hub_error_not_taxii(void **state)
{
	(void)state;
	char out[KY_CLIENT_MESSAGE_MAX + 1];
	assert_string_equal(hub_error(out, sizeof(out), 502, "text/html", "<html>Bad Gateway</html>"),
			    "502, and its body is not a TAXII error (text/html, 24 bytes)");
	assert_string_equal(hub_error(out, sizeof(out), 500, "", "oops"),
			    "500, and its body is not a TAXII error (no content type, 4 bytes)");
	assert_string_equal(hub_error(out, sizeof(out), 503, "", ""), "503 with an empty body");
	/* JSON, but not a TAXII error: no title, not an object, a title that is not a string. */
	assert_string_equal(hub_error(out, sizeof(out), 500, "application/json", "{\"error\":\"x\"}"),
			    "500, and its body is not a TAXII error (application/json, 13 bytes)");
	assert_string_equal(hub_error(out, sizeof(out), 500, "application/json", "[\"title\"]"),
			    "500, and its body is not a TAXII error (application/json, 9 bytes)");
	assert_string_equal(hub_error(out, sizeof(out), 500, "application/json", "{\"title\":1}"),
			    "500, and its body is not a TAXII error (application/json, 11 bytes)");
	/* Bytes that are not UTF-8 are not JSON; a NUL ends nothing (the length counts). */
	assert_string_equal(hub_error(out, sizeof(out), 500, "application/json", "{\"title\":\"\xff\"}"),
			    "500, and its body is not a TAXII error (application/json, 13 bytes)");
	ky_client_hub_error(out, sizeof(out), 500, "application/json", "{\"title\":\"a\"}\0junk", 18);
	assert_string_equal(out, "500, and its body is not a TAXII error (application/json, 18 bytes)");
	/* The content type is the hub's text too. */
	assert_string_equal(hub_error(out, sizeof(out), 500, "text/\x1b[1mhtml", "x"),
			    "500, and its body is not a TAXII error (text/?[1mhtml, 1 bytes)");
}

/* --- statuses ------------------------------------------------------------------------------ */

static void test_exit_status(void **state)
{
	(void)state;
	static const struct {
		long status;
		int exit;
	} table[] = {
		{200, 0}, {201, 0}, {204, 0}, {301, 1}, {302, 1}, {400, 3}, {401, 4}, {403, 4}, {404, 5}, {405, 1},
		{406, 1}, {409, 6}, {413, 3}, {415, 3}, {429, 1}, {500, 1}, {502, 1}, {503, 1}, {100, 1}, {418, 1},
	};
	for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++)
		if (ky_client_exit_status(table[i].status) != table[i].exit)
			fail_msg("status %ld: exit %d, expected %d", table[i].status, ky_client_exit_status(table[i].status),
				 table[i].exit);
	assert_int_equal(KY_CLIENT_EXIT_REFUSED, 4);
	assert_int_equal(KY_CLIENT_EXIT_NOT_FOUND, 5);
	assert_int_equal(KY_CLIENT_EXIT_CONFLICT, 6);
	assert_int_equal(KY_CLIENT_EXIT_INVALID, 3);
}

/* --- the client ---------------------------------------------------------------------------- */

static void test_new_refuses_bad_keys(void **state)
{
	(void)state;
	const char *keys[] = {"", "kyk_a b", "kyk_SECRET\r\nX-Injected: 1", "kyk_\xe3\x81\x82SECRET", "kyk_\tSECRET"};
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		ky_client *c = (ky_client *)1;
		ky_client_options o = {.url = "http://127.0.0.1:1", .key = keys[i]};
		assert_int_equal(ky_client_new(&c, &o), KY_EINVALID);
		assert_null(c);
		assert_non_null(strstr(ky_error_last(), "API key"));
		assert_null(strstr(ky_error_last(), "SECRET"));
	}
	char *long_key = malloc(1026);
	assert_non_null(long_key);
	memset(long_key, 'k', 1025);
	long_key[1025] = '\0';
	ky_client *c = NULL;
	ky_client_options o = {.url = "http://127.0.0.1:1", .key = long_key};
	assert_int_equal(ky_client_new(&c, &o), KY_EINVALID);
	long_key[1024] = '\0';
	assert_int_equal(ky_client_new(&c, &o), KY_OK);
	ky_client_free(c);
	free(long_key);
	/* The URL is checked as ky_client_url_check() does. */
	o.url = "http://example.org/";
	o.key = "kyk_x";
	assert_int_equal(ky_client_new(&c, &o), KY_EINVALID);
	assert_non_null(strstr(ky_error_last(), "not this machine"));
	ky_client_free(NULL);
}

static void test_new_timeout_variable(void **state)
{
	(void)state;
	ky_client *c = NULL;
	ky_client_options o = {.url = "https://hub.example", .key = "kyk_x"};
	const char *bad[] = {"0", "61", "-1", "2s", "", "1.5", "99999999999999999999"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		setenv(KY_CLIENT_TIMEOUT_ENV, bad[i], 1);
		if (ky_client_new(&c, &o) != KY_EINVALID)
			fail_msg("%s=%s was taken", KY_CLIENT_TIMEOUT_ENV, bad[i]);
		assert_non_null(strstr(ky_error_last(), KY_CLIENT_TIMEOUT_ENV));
	}
	setenv(KY_CLIENT_TIMEOUT_ENV, "5", 1);
	assert_int_equal(ky_client_new(&c, &o), KY_OK);
	assert_string_equal(ky_client_base(c), "https://hub.example");
	ky_client_free(c);
	unsetenv(KY_CLIENT_TIMEOUT_ENV);
}

static void test_request_nothing_listening(void **state)
{
	(void)state;
	/* Port 1 on loopback: refused at once. The message names the hub, never the key. */
	ky_client *c = NULL;
	ky_client_options o = {.url = "http://127.0.0.1:1/hub/", .key = "kyk_SECRET"};
	assert_int_equal(ky_client_new(&c, &o), KY_OK);
	ky_client_response r = {.status = 7};
	assert_int_equal(ky_client_request(c, "GET", "/api/v1/me", NULL, 0, &r), KY_ERROR);
	assert_non_null(strstr(ky_error_last(), "cannot reach the hub at http://127.0.0.1:1/hub"));
	assert_null(strstr(ky_error_last(), "SECRET"));
	assert_null(r.body);
	assert_int_equal(r.status, 0);
	assert_int_equal(ky_client_request(c, "GET", "api/v1/me", NULL, 0, &r), KY_EINVALID);
	ky_client_response_clear(&r);
	ky_client_response_clear(NULL);
	ky_client_free(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_url_https_anywhere),
		cmocka_unit_test(test_url_http_loopback_only),
		cmocka_unit_test(test_url_tricks),
		cmocka_unit_test(test_url_message_hides_password),
		cmocka_unit_test(test_url_too_long),
		cmocka_unit_test(test_text_clean),
		cmocka_unit_test(test_hub_error_taxii),
		cmocka_unit_test(test_hub_error_cut),
		cmocka_unit_test(test_hub_error_not_taxii),
		cmocka_unit_test(test_exit_status),
		cmocka_unit_test(test_new_refuses_bad_keys),
		cmocka_unit_test(test_new_timeout_variable),
		cmocka_unit_test(test_request_nothing_listening),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
