/*
 * test_stix_schema: timestamps (STIX 2.1 §2.16), identifiers (§2.9) and type names
 * (§3.1, §11.2.1), the primitives every type table relies on.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "stix/stix_schema.h"

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

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_timestamps),
		cmocka_unit_test(test_timestamp_order),
		cmocka_unit_test(test_identifiers),
		cmocka_unit_test(test_type_names),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
