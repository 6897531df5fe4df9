/*
 * test_taxii_params: the URL parameters of TAXII 2.1 §3.4 and the cursors of §3.5
 * (src/taxii/taxii_objects.c), from request targets parsed as the server parses them:
 * malformed and repeated parameters, problems that quote the request in whole characters,
 * and cursors over ids of any length (issue 11, defect 1: a 30,000-character object id
 * overran the MAC's buffer) that refuse other filters, other resources and forged text.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "config/config.h"
#include "http/http.h"
#include "taxii/taxii_internal.h"
#include "util/ky_error.h"
#include "util/ky_utf8.h"

static const uint8_t secret[KY_STORE_SECRET_SIZE] = {42, 1, 2, 3};
static const char *const collection = "c0ffee00-0000-4000-8000-000000000000";

/* Parses target and reads its filters for `kind` into *f (the arena keeps them). */
static bool filters_of(ky_arena *arena, const char *target, ky_taxii_listing kind, ky_taxii_filters *f)
{
	ky_config config;
	ky_config_defaults(&config);
	ky_slice path;
	ky_http_param *params;
	size_t n;
	assert_int_equal(ky_http_target_parse(arena, target, strlen(target), &path, &params, &n), KY_OK);
	memset(f, 0, sizeof(*f));
	return ky_taxii_filters_read(params, n, arena, kind, &config, f);
}

static void test_problems(void **state)
{
	(void)state;
	static const char *const bad[] = {
		"/x/?limit=1&limit=2",         "/x/?limit=0",
		"/x/?limit=-1",                "/x/?limit=1x",
		"/x/?added_after=yesterday",   "/x/?match[id]=a,,b",
		"/x/?match[type]=a%20b",       "/x/?match[version]=all,last",
		"/x/?match[version]=first,first", "/x/?match[spec_version]=two",
		"/x/?match[version]=2016-13-01T00:00:00Z",
	};
	ky_arena *arena = ky_arena_new();
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		ky_taxii_filters f;
		if (filters_of(arena, bad[i], KY_TAXII_OBJECTS, &f))
			fail_msg("%s was accepted", bad[i]);
		assert_true(f.problem[0] != '\0');
	}
	ky_taxii_filters f;
	assert_true(filters_of(arena, "/x/?limit=99999999999999999999999999999&match[type]=indicator,malware", KY_TAXII_OBJECTS,
			       &f));
	assert_int_equal(f.limit, 1000);
	assert_int_equal(f.ntypes, 2);
	assert_string_equal(f.types[1], "malware");
	/* Match fields a resource does not define are ignored (§3.4). */
	assert_true(filters_of(arena, "/x/?match[id]=a,,b", KY_TAXII_VERSIONS, &f));
	ky_arena_free(arena);
}

/* Issue 11, defect 2: a problem quotes at most 64 bytes of the value, in whole characters. */
static void test_problems_quote_whole_characters(void **state)
{
	(void)state;
	ky_arena *arena = ky_arena_new();
	for (int count = 1; count <= 40; count++) {
		char target[1024];
		size_t len = (size_t)snprintf(target, sizeof(target), "/x/?added_after=");
		for (int i = 0; i < count; i++)
			len += (size_t)snprintf(target + len, sizeof(target) - len, "%%e3%%81%%82");
		for (int lead = 0; lead < 3; lead++) {
			char shifted[1100];
			snprintf(shifted, sizeof(shifted), "%.*s%.*s%s", 16, target, lead, "zzz", target + 16);
			ky_taxii_filters f;
			assert_false(filters_of(arena, shifted, KY_TAXII_OBJECTS, &f));
			assert_true(ky_utf8_text(f.problem, strlen(f.problem)));
		}
	}
	ky_arena_free(arena);
}

static void test_cursors(void **state)
{
	(void)state;
	ky_arena *arena = ky_arena_new();
	ky_taxii_filters f, other;
	assert_true(filters_of(arena, "/x/?match[version]=all&added_after=2016-01-01T00:00:00Z", KY_TAXII_OBJECT, &f));
	assert_true(filters_of(arena, "/x/?match[version]=all", KY_TAXII_OBJECT, &other));
	/* Object ids of every length a path may carry, custom types' 250 characters and more. */
	static const size_t lengths[] = {1, 40, 159, 160, 161, 250, 4096, 30000};
	for (size_t i = 0; i < sizeof(lengths) / sizeof(lengths[0]); i++) {
		char *id = malloc(lengths[i] + 1);
		memset(id, 'a', lengths[i]);
		memcpy(id, "x--", lengths[i] < 3 ? lengths[i] : 3);
		id[lengths[i]] = '\0';
		ky_taxii_cursor made = {12345, 1700000000000000}, back = {0};
		char text[KY_TAXII_CURSOR_TEXT];
		ky_taxii_cursor_encode(secret, &made, collection, KY_TAXII_OBJECT, id, &f, text);
		ky_slice s = {text, strlen(text)};
		assert_true(ky_taxii_cursor_decode(secret, s, collection, KY_TAXII_OBJECT, id, &f, &back));
		assert_int_equal(back.seq, made.seq);
		assert_int_equal(back.date_added_us, made.date_added_us);
		/* Not for another viewer, other filters, another resource, another object or
		 * collection. */
		ky_taxii_cursor stranger = {.viewer = 2};
		assert_false(ky_taxii_cursor_decode(secret, s, collection, KY_TAXII_OBJECT, id, &f, &stranger));
		assert_false(ky_taxii_cursor_decode(secret, s, collection, KY_TAXII_OBJECT, id, &other, &back));
		assert_false(ky_taxii_cursor_decode(secret, s, collection, KY_TAXII_VERSIONS, id, &f, &back));
		assert_false(ky_taxii_cursor_decode(secret, s, collection, KY_TAXII_OBJECT, "x--b", &f, &back));
		assert_false(ky_taxii_cursor_decode(secret, s, "c0ffee00-0000-4000-8000-000000000001", KY_TAXII_OBJECT, id, &f,
						    &back));
		/* Any 43 characters (the reproduction of defect 1) are simply not a cursor. */
		ky_slice forged = {"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", 43};
		assert_false(ky_taxii_cursor_decode(secret, forged, collection, KY_TAXII_OBJECT, id, &f, &back));
		free(id);
	}
	/* Text of any length, and bytes a cursor never has. */
	char junk[200];
	memset(junk, 'A', sizeof(junk));
	for (size_t len = 0; len <= sizeof(junk); len++) {
		ky_taxii_cursor back;
		ky_slice s = {junk, len};
		assert_false(ky_taxii_cursor_decode(secret, s, collection, KY_TAXII_OBJECTS, NULL, &f, &back));
	}
	ky_arena_free(arena);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_problems),
		cmocka_unit_test(test_problems_quote_whole_characters),
		cmocka_unit_test(test_cursors),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
