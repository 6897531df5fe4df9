/*
 * test_pseudonym: members' pseudonyms (policy/pseudonym.h). A pseudonym is one per member and
 * audience under one secret, looks like any random identity id, and says nothing of the
 * member; every reference to a member's identity, at any depth, is replaced by it, and
 * nothing else is; the identity a pseudonym is served as is valid STIX.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>
#include <sodium.h>

#include "policy/pseudonym.h"
#include "stix/stix_validate.h"
#include "util/ky_error.h"

#define ALICE "identity--0b6b8c1e-4f0a-4d6e-9d3b-6f1c7a2e5b01"
#define BOB "identity--1c7c9d2f-5a1b-4e7f-8e4c-7a2d8b3f6c02"
#define OUTSIDER "identity--2d8dae3a-6b2c-4f8a-9f5d-8b3e9c4a7d03"

static const uint8_t secret[KY_STORE_SECRET_SIZE] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16,
						     17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32};

/* Alice is member 5, Bob member 6; the outsider's identity is no member's. */
static int64_t member_of(void *ctx, const char *id)
{
	(void)ctx;
	return strcmp(id, ALICE) == 0 ? 5 : strcmp(id, BOB) == 0 ? 6 : 0;
}

static void test_one_per_member_and_audience(void **state)
{
	(void)state;
	char a[KY_PSEUDONYM_ID_MAX], b[KY_PSEUDONYM_ID_MAX];
	ky_pseudonym_id(secret, 5, "s:energy", a);
	ky_pseudonym_id(secret, 5, "s:energy", b);
	assert_string_equal(a, b);
	/* A random-looking identity id: version 4, RFC 4122 variant. */
	assert_int_equal(strlen(a), strlen("identity--") + 36);
	assert_memory_equal(a, "identity--", 10);
	assert_int_equal(a[10 + 14], '4');
	assert_non_null(strchr("89ab", a[10 + 19]));
	const char *others[][2] = {{"6", "s:energy"}, {"5", "s:water"}, {"5", ""}, {"5", "*"}, {"55", "s:energy"}};
	for (size_t i = 0; i < sizeof(others) / sizeof(others[0]); i++) {
		ky_pseudonym_id(secret, strtoll(others[i][0], NULL, 10), others[i][1], b);
		assert_string_not_equal(a, b);
	}
	/* The member's number and the audience are kept apart: member 5 with audience "5" is
	 * not member 55 with audience "". */
	ky_pseudonym_id(secret, 5, "5", a);
	ky_pseudonym_id(secret, 55, "", b);
	assert_string_not_equal(a, b);
	/* Another hub's secret, another pseudonym. */
	uint8_t other[KY_STORE_SECRET_SIZE];
	memcpy(other, secret, sizeof(other));
	other[31] ^= 1;
	ky_pseudonym_id(secret, 5, "s:energy", a);
	ky_pseudonym_id(other, 5, "s:energy", b);
	assert_string_not_equal(a, b);
}

static void test_audience_of_a_version(void **state)
{
	(void)state;
	char out[KY_PSEUDONYM_AUDIENCE_MAX];
	const char *keys[] = {"s:water", "m:5", "*", "s:energy", "s:water"};
	assert_int_equal(ky_pseudonym_audience(keys, 5, 5, out, sizeof(out)), KY_OK);
	assert_string_equal(out, "* s:energy s:water");
	/* The order of the keys does not matter; the provider's key alone is nobody else. */
	const char *reordered[] = {"s:energy", "*", "s:water", "m:5"};
	char again[KY_PSEUDONYM_AUDIENCE_MAX];
	assert_int_equal(ky_pseudonym_audience(reordered, 4, 5, again, sizeof(again)), KY_OK);
	assert_string_equal(out, again);
	const char *own[] = {"m:5"};
	assert_int_equal(ky_pseudonym_audience(own, 1, 5, out, sizeof(out)), KY_OK);
	assert_string_equal(out, "");
	/* Another member's key is a reader like any other. */
	assert_int_equal(ky_pseudonym_audience(own, 1, 6, out, sizeof(out)), KY_OK);
	assert_string_equal(out, "m:5");
	char small[8];
	assert_int_equal(ky_pseudonym_audience(keys, 5, 5, small, sizeof(small)), KY_EINVALID);
}

static void test_references_replaced_at_any_depth(void **state)
{
	(void)state;
	const char *text = "{\"type\": \"sighting\", \"id\": \"sighting--ee20065d-2555-424f-ad9e-0f8428623c75\","
			   " \"created_by_ref\": \"" ALICE "\", \"sighting_of_ref\": \"indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f\","
			   " \"where_sighted_refs\": [\"" BOB "\", \"" OUTSIDER "\", \"" ALICE "\"],"
			   " \"description\": \"seen by " ALICE "\","
			   " \"extensions\": {\"extension-definition--d83fce45-ef58-4c6c-a3f4-1fbc32e98c6e\":"
			   "  {\"extension_type\": \"property-extension\", \"analyst\": {\"reviewer_ref\": \"" BOB "\"},"
			   "   \"contacts\": [{\"person_ref\": \"" ALICE "\"}]}}}";
	json_t *o = json_loads(text, 0, NULL);
	assert_non_null(o);
	char alice[KY_PSEUDONYM_ID_MAX], bob[KY_PSEUDONYM_ID_MAX];
	ky_pseudonym_id(secret, 5, "s:energy", alice);
	ky_pseudonym_id(secret, 6, "s:energy", bob);
	assert_int_equal(ky_pseudonymise(o, member_of, NULL, secret, "s:energy", 0), 5);
	assert_string_equal(json_string_value(json_object_get(o, "created_by_ref")), alice);
	json_t *where = json_object_get(o, "where_sighted_refs");
	assert_string_equal(json_string_value(json_array_get(where, 0)), bob);
	assert_string_equal(json_string_value(json_array_get(where, 1)), OUTSIDER);
	assert_string_equal(json_string_value(json_array_get(where, 2)), alice);
	json_t *ext = json_object_get(json_object_get(o, "extensions"), "extension-definition--d83fce45-ef58-4c6c-a3f4-1fbc32e98c6e");
	assert_string_equal(json_string_value(json_object_get(json_object_get(ext, "analyst"), "reviewer_ref")), bob);
	assert_string_equal(
		json_string_value(json_object_get(json_array_get(json_object_get(ext, "contacts"), 0), "person_ref")), alice);
	/* Not a reference: free text and the other references stay as they were. */
	assert_string_equal(json_string_value(json_object_get(o, "description")), "seen by " ALICE);
	assert_string_equal(json_string_value(json_object_get(o, "sighting_of_ref")),
			    "indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f");
	json_decref(o);

	/* A provider named on its object keeps its own references; the others' are replaced. */
	o = json_loads(text, 0, NULL);
	assert_int_equal(ky_pseudonymise(o, member_of, NULL, secret, "s:energy", 5), 2);
	assert_string_equal(json_string_value(json_object_get(o, "created_by_ref")), ALICE);
	assert_string_equal(json_string_value(json_array_get(json_object_get(o, "where_sighted_refs"), 0)), bob);
	json_decref(o);

	/* Nothing to replace: nothing changes. */
	o = json_pack("{s:s,s:s,s:[s]}", "type", "note", "created_by_ref", OUTSIDER, "object_refs", "indicator--x");
	json_t *copy = json_deep_copy(o);
	assert_int_equal(ky_pseudonymise(o, member_of, NULL, secret, "*", 0), 0);
	assert_true(json_equal(o, copy));
	json_decref(o);
	json_decref(copy);
}

static void test_identity_served_for_a_pseudonym(void **state)
{
	(void)state;
	char id[KY_PSEUDONYM_ID_MAX];
	ky_pseudonym_id(secret, 5, "s:energy", id);
	json_t *o = ky_pseudonym_identity(id, "2026-12-01T00:00:00.000Z");
	assert_non_null(o);
	ky_stix_problems *problems = NULL;
	assert_int_equal(ky_stix_problems_new(&problems), KY_OK);
	if (ky_stix_validate_object(problems, o) != KY_OK)
		fail_msg("%s", ky_stix_problems_get(problems, 0));
	ky_stix_problems_free(problems);
	assert_string_equal(json_string_value(json_object_get(o, "id")), id);
	char name[32];
	snprintf(name, sizeof(name), "member %.8s", id + 10);
	assert_string_equal(json_string_value(json_object_get(o, "name")), name);
	assert_string_equal(json_string_value(json_object_get(o, "created")), "2026-12-01T00:00:00.000Z");
	assert_string_equal(json_string_value(json_object_get(o, "modified")), "2026-12-01T00:00:00.000Z");
	json_decref(o);
}

int main(void)
{
	if (sodium_init() < 0)
		return 1;
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_one_per_member_and_audience),
		cmocka_unit_test(test_audience_of_a_version),
		cmocka_unit_test(test_references_replaced_at_any_depth),
		cmocka_unit_test(test_identity_served_for_a_pseudonym),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
