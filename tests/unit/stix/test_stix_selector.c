/*
 * test_stix_selector: granular-marking selectors (STIX 2.1 §7.2.3.1) and the removal of the
 * parts they name, which leaves a valid object whose remaining granular markings still
 * select what they selected. Expected objects are written out by hand.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "stix/stix_selector.h"

static json_t *load(const char *text)
{
	json_error_t e;
	json_t *v = json_loads(text, 0, &e);
	if (v == NULL)
		fail_msg("bad JSON in the test (%s): %s", e.text, text);
	return v;
}

/* Removes the selectors from `before` and compares with `after`. */
static void check(const char *before, const char *const *selectors, size_t n, const char *after)
{
	json_t *object = load(before), *expected = load(after);
	assert_int_equal(ky_stix_remove_selected(object, selectors, n), 0);
	if (!json_equal(object, expected)) {
		char *got = json_dumps(object, JSON_COMPACT | JSON_SORT_KEYS);
		char *want = json_dumps(expected, JSON_COMPACT | JSON_SORT_KEYS);
		fail_msg("removing %s:\n got  %s\n want %s", selectors[0], got, want);
	}
	json_decref(object);
	json_decref(expected);
}

#define N(a) (sizeof(a) / sizeof(a[0]))

static void test_select(void **state)
{
	(void)state;
	json_t *o = load("{\"name\":\"x\",\"external_references\":[{\"source_name\":\"a\"},{\"source_name\":\"b\",\"url\":\"u\"}],"
			 "\"extensions\":{\"x-e\":{\"deep\":[1,[2,3]]}}}");
	assert_string_equal(json_string_value(ky_stix_select(o, "name")), "x");
	assert_string_equal(json_string_value(ky_stix_select(o, "external_references.[1].url")), "u");
	assert_int_equal(json_integer_value(ky_stix_select(o, "extensions.x-e.deep.[1].[0]")), 2);
	static const char *const none[] = {"", "nope", "name.", ".name", "external_references.[2]", "external_references.[x]",
					   "external_references.[]", "external_references.0", "name.[0]", "external_references..url"};
	for (size_t i = 0; i < N(none); i++)
		if (ky_stix_select(o, none[i]) != NULL)
			fail_msg("\"%s\" selected something", none[i]);
	json_decref(o);
}

static void test_remove_property(void **state)
{
	(void)state;
	static const char *const sel[] = {"description"};
	check("{\"name\":\"n\",\"description\":\"secret\",\"granular_markings\":["
	      "{\"marking_ref\":\"marking-definition--1\",\"selectors\":[\"description\"]},"
	      "{\"marking_ref\":\"marking-definition--2\",\"selectors\":[\"name\",\"description\"]}]}",
	      sel, N(sel),
	      "{\"name\":\"n\",\"granular_markings\":[{\"marking_ref\":\"marking-definition--2\",\"selectors\":[\"name\"]}]}");
}

static void test_remove_list_items_shifts_indexes(void **state)
{
	(void)state;
	static const char *const sel[] = {"external_references.[0]", "external_references.[2]"};
	check("{\"external_references\":[{\"source_name\":\"a\"},{\"source_name\":\"b\"},{\"source_name\":\"c\"},"
	      "{\"source_name\":\"d\",\"url\":\"https://d.example\"}],\"granular_markings\":["
	      "{\"marking_ref\":\"marking-definition--1\",\"selectors\":[\"external_references.[0]\",\"external_references.[2]\"]},"
	      "{\"lang\":\"ja\",\"selectors\":[\"external_references.[3].url\",\"external_references.[1]\","
	      "\"external_references.[2].source_name\"]}]}",
	      sel, N(sel),
	      "{\"external_references\":[{\"source_name\":\"b\"},{\"source_name\":\"d\",\"url\":\"https://d.example\"}],"
	      "\"granular_markings\":[{\"lang\":\"ja\",\"selectors\":[\"external_references.[1].url\",\"external_references.[0]\"]}]}");
}

static void test_emptied_list_goes(void **state)
{
	(void)state;
	static const char *const sel[] = {"labels.[0]"};
	check("{\"name\":\"n\",\"labels\":[\"only\"],\"granular_markings\":["
	      "{\"marking_ref\":\"marking-definition--1\",\"selectors\":[\"labels.[0]\"]},"
	      "{\"marking_ref\":\"marking-definition--2\",\"selectors\":[\"labels\"]}]}",
	      sel, N(sel), "{\"name\":\"n\"}");
}

static void test_nested_and_repeated(void **state)
{
	(void)state;
	static const char *const sel[] = {"external_references.[1].url", "external_references.[1]", "external_references.[1]",
					  "nothing.here", "external_references.[9]"};
	check("{\"external_references\":[{\"source_name\":\"a\"},{\"source_name\":\"b\",\"url\":\"u\"},{\"source_name\":\"c\"}]}",
	      sel, N(sel), "{\"external_references\":[{\"source_name\":\"a\"},{\"source_name\":\"c\"}]}");
}

static void test_inside_extension(void **state)
{
	(void)state;
	static const char *const sel[] = {"extensions.x-acme.notes.[1]", "x_custom"};
	check("{\"x_custom\":1,\"extensions\":{\"x-acme\":{\"notes\":[\"a\",\"b\",\"c\"]}},\"granular_markings\":["
	      "{\"lang\":\"en\",\"selectors\":[\"extensions.x-acme.notes.[2]\",\"x_custom\"]}]}",
	      sel, N(sel),
	      "{\"extensions\":{\"x-acme\":{\"notes\":[\"a\",\"c\"]}},\"granular_markings\":["
	      "{\"lang\":\"en\",\"selectors\":[\"extensions.x-acme.notes.[1]\"]}]}");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_select),
		cmocka_unit_test(test_remove_property),
		cmocka_unit_test(test_remove_list_items_shifts_indexes),
		cmocka_unit_test(test_emptied_list_goes),
		cmocka_unit_test(test_nested_and_repeated),
		cmocka_unit_test(test_inside_extension),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
