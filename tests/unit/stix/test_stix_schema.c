/*
 * test_stix_schema: timestamps (STIX 2.1 §2.16), identifiers (§2.9) and type names
 * (§3.1, §11.2.1), the primitives every type table relies on, and the excerpts messages
 * quote values with.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "stix/stix_schema.h"
#include "stix/stix_text.h"
#include "util/ky_utf8.h"

/* STIX 2.1 §2.16 */
static void test_timestamps(void **state)
{
	(void)state;
	static const char *const valid[] = {
		"2016-01-20T12:31:12Z", "2016-01-20T12:31:12.123Z", "2016-01-20T12:31:12.1Z",
		"2016-01-20T12:31:12.123456789123Z", "2024-02-29T00:00:00Z", "2000-02-29T23:59:59.000Z",
		"2016-12-31T23:59:60Z", "0001-01-01T00:00:00Z",
	};
	static const char *const invalid[] = {
		"2016-01-20T12:31:12", "2016-01-20T12:31:12.Z", "2016-01-20 12:31:12Z", "2016-01-20t12:31:12z",
		"2016-01-20T12:31:12+09:00", "2016-01-20T12:31:12.123+00:00", "2023-02-29T00:00:00Z",
		"1900-02-29T00:00:00Z", "2016-13-01T00:00:00Z", "2016-00-01T00:00:00Z", "2016-04-31T00:00:00Z",
		"2016-01-20T24:00:00Z", "2016-01-20T12:60:00Z", "2016-01-20T12:00:61Z", "2016-1-20T12:31:12Z",
		"20160120T123112Z", "", "2016-01-20T12:31:12.12a3Z", "2016-01-20T12:31:12ZZ",
	};
	for (size_t i = 0; i < sizeof(valid) / sizeof(valid[0]); i++)
		if (!ky_stix_time_parse(valid[i], NULL))
			fail_msg("refused valid timestamp %s", valid[i]);
	for (size_t i = 0; i < sizeof(invalid) / sizeof(invalid[0]); i++)
		if (ky_stix_time_parse(invalid[i], NULL))
			fail_msg("accepted invalid timestamp %s", invalid[i]);
}

static void test_timestamp_order(void **state)
{
	(void)state;
	ky_stix_time a, b, c;
	assert_true(ky_stix_time_parse("2016-01-20T12:31:12.1Z", &a));
	assert_true(ky_stix_time_parse("2016-01-20T12:31:12.100000Z", &b));
	assert_true(ky_stix_time_parse("2016-01-20T12:31:12.0999999999Z", &c));
	assert_int_equal(ky_stix_time_cmp(&a, &b), 0);
	assert_true(ky_stix_time_cmp(&c, &a) < 0);
	assert_int_equal(a.fraction_digits, 1);
	assert_true(ky_stix_time_parse("1970-01-02T00:00:01Z", &a));
	assert_int_equal(a.seconds, 86401);
	assert_true(ky_stix_time_parse("1969-12-31T23:59:59Z", &a));
	assert_int_equal(a.seconds, -1);
}

/* STIX 2.1 §2.9 */
static void test_identifiers(void **state)
{
	(void)state;
	size_t type_len = 0;
	assert_true(ky_stix_id_parse("indicator--e2e1a340-4415-4ba8-9671-f7343fbf0836", &type_len));
	assert_int_equal(type_len, 9);
	assert_true(ky_stix_id_parse("ipv4-addr--28BB3599-77CD-5A82-A950-B5BC3CAF07C4", NULL));
	assert_true(ky_stix_id_parse("x-mitre-tactic--69da72d2-f550-41c5-ab9e-e8255707f28a", NULL));
	assert_false(ky_stix_id_parse("indicator--e2e1a340-4415-6ba8-9671-f7343fbf0836", NULL)); /* version 6 */
	assert_false(ky_stix_id_parse("indicator--e2e1a340-4415-4ba8-c671-f7343fbf0836", NULL)); /* variant */
	assert_false(ky_stix_id_parse("indicator--e2e1a340-4415-4ba8-9671-f7343fbf083", NULL));
	assert_false(ky_stix_id_parse("indicator-e2e1a340-4415-4ba8-9671-f7343fbf0836", NULL));
	assert_false(ky_stix_id_parse("Indicator--e2e1a340-4415-4ba8-9671-f7343fbf0836", NULL));
	assert_false(ky_stix_id_parse("x--y--e2e1a340-4415-4ba8-9671-f7343fbf0836", NULL));
	assert_false(ky_stix_id_parse("--e2e1a340-4415-4ba8-9671-f7343fbf0836", NULL));
	assert_false(ky_stix_id_parse("indicator--e2e1a340x4415-4ba8-9671-f7343fbf0836", NULL));
	assert_false(ky_stix_id_parse("indicator--e2e1a340-4415-4ba8-9671-f7343fbf0836 ", NULL));
}

/* STIX 2.1 §3.1, §11.2.1 */
static void test_type_names(void **state)
{
	(void)state;
	assert_true(ky_stix_type_name_valid("indicator"));
	assert_true(ky_stix_type_name_valid("x-mitre-tactic"));
	assert_true(ky_stix_type_name_valid("ipv4-addr"));
	assert_false(ky_stix_type_name_valid("ab"));
	assert_false(ky_stix_type_name_valid("x--double"));
	assert_false(ky_stix_type_name_valid("trailing-"));
	assert_false(ky_stix_type_name_valid("Upper"));
	assert_false(ky_stix_type_name_valid("1abc"));
	assert_false(ky_stix_type_name_valid("under_score"));
	assert_non_null(ky_stix_type_find("indicator"));
	assert_null(ky_stix_type_find("x-mitre-tactic"));
}

/* stix_text.h: an excerpt is cut between characters, escapes what a line cannot carry, and
 * is valid UTF-8 whatever the bytes. */
static void test_excerpt(void **state)
{
	(void)state;
	char out[16];
	/* Fits whole: as it is. 15 bytes of room. */
	assert_string_equal(ky_stix_excerpt(out, sizeof(out), "abc", 3), "abc");
	assert_string_equal(ky_stix_excerpt(out, sizeof(out), "0123456789abcde", 15), "0123456789abcde");
	/* One byte over: cut, with room for "...". */
	assert_string_equal(ky_stix_excerpt(out, sizeof(out), "0123456789abcdef", 16), "0123456789ab...");
	/* 5 x "あ" is 15 bytes and fits; 6 are cut after 4 characters (12 bytes), never inside one. */
	assert_string_equal(ky_stix_excerpt(out, sizeof(out), "あああああ", 15), "あああああ");
	assert_string_equal(ky_stix_excerpt(out, sizeof(out), "ああああああ", 18), "ああああ...");
	assert_string_equal(ky_stix_excerpt(out, sizeof(out), "a😀😀😀😀", 17), "a😀😀...");
	/* Controls, DEL, NUL and bytes that are not UTF-8 are escaped, and the length is the
	 * caller's: a NUL does not end the text. */
	assert_string_equal(ky_stix_excerpt(out, sizeof(out), "a\nb\0c", 5), "a\\x0ab\\x00c");
	assert_string_equal(ky_stix_excerpt(out, sizeof(out), "\xff\x7f", 2), "\\xff\\x7f");
	assert_string_equal(ky_stix_excerpt(out, sizeof(out), "\xed\xa0\x80", 3), "\\xed\\xa0\\x80");
	assert_string_equal(ky_stix_excerpt(out, sizeof(out), "\xc0\xaf\xc0\xaf", 4), "\\xc0\\xaf\\xc0...");
	/* A character cut short by the end of the text is bytes, not a character. */
	assert_string_equal(ky_stix_excerpt(out, sizeof(out), "x\xe3\x81", 3), "x\\xe3\\x81");
	assert_int_equal(ky_utf8_char_length("\xf4\x8f\xbf\xbf", 4), 4);
	assert_int_equal(ky_utf8_char_length("\xf4\x90\x80\x80", 4), 0);
	assert_int_equal(ky_utf8_char_length("\xe3\x81\x82", 2), 0);
	assert_int_equal(ky_utf8_char_length("\x80", 1), 0);
}

/* ky_stix_quote: quotes at most 80 bytes, then "...". */
static void test_quote(void **state)
{
	(void)state;
	char q[KY_STIX_QUOTE_SIZE], text[200] = "";
	for (size_t n = 0; n < 60; n++) {
		for (size_t i = 0; i < n; i++)
			memcpy(text + 3 * i, "あ", 3);
		ky_stix_quote(q, sizeof(q), text, 3 * n);
		size_t len = strlen(q);
		assert_true(ky_utf8_valid(q, len));
		assert_true(len <= KY_STIX_QUOTE_SIZE - 1);
		assert_true(q[0] == '"' && q[len - 1] == '"');
		if (3 * n <= 80)
			assert_int_equal(len, 3 * n + 2);
		else
			assert_memory_equal(q + len - 4, "...\"", 4);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_timestamps),
		cmocka_unit_test(test_timestamp_order),
		cmocka_unit_test(test_identifiers),
		cmocka_unit_test(test_type_names),
		cmocka_unit_test(test_excerpt),
		cmocka_unit_test(test_quote),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
