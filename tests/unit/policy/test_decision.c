/*
 * test_decision: the read decision and TLP 2.0 (policy/decision.h) against the hand-written
 * table tests/data/policy/decisions.tsv (argv[1]), whose expected answers come from the issue
 * and the brief, never from kyoyu's code. Every row: a version (provider, TLP markings by
 * name, audiences, an unresolvable marking or not) and a viewer of the table's fixed council;
 * the decision must say what the row says, inside the hub (read) and for copies leaving it
 * (leave). Also the TLP ids themselves: the official OASIS ids, TLP 1.0 read as 2.0.
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

#include "policy/decision.h"

static const char *table_path;

/* The table's council (tests/data/policy/README.md). */
typedef struct member {
	const char *name;
	ky_tier tier;
	const char *sector;
	int64_t group;          /* 1: water-isac; 0: none */
	bool good_standing;     /* the table's header: vendA is in good standing, vendB is not */
} member;

static const member council[] = {
	{"sec", KY_TIER_SECRETARIAT, "government", 0, false},
	{"vendA", KY_TIER_CONTRIBUTOR, "security-vendor", 1, true},
	{"vendB", KY_TIER_CONTRIBUTOR, "finance", 0, false},
	{"govC", KY_TIER_GENERAL, "government", 1, false},
	{"cityD", KY_TIER_GENERAL, "local-government", 0, false},
	{"waterE", KY_TIER_GENERAL, "water", 1, false},
};

#define NCOUNCIL (sizeof(council) / sizeof(council[0]))

static int64_t member_id(const char *name)
{
	for (size_t i = 0; i < NCOUNCIL; i++)
		if (strcmp(council[i].name, name) == 0)
			return (int64_t)i + 1;
	return -1;
}

/* A TLP name of the table as the marking-definition id it stands for. */
static const char *tlp_id_of(const char *name)
{
	static const struct {
		const char *name, *id;
	} names[] = {
		{"clear", "marking-definition--94868c89-83c2-464b-929b-a1a8aa3c8487"},
		{"green", "marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb"},
		{"amber", "marking-definition--55d920b0-5e8b-4f79-9ee9-91f868d9b421"},
		{"amber+strict", "marking-definition--939a9414-2ddd-4d32-a0cd-375ea402b003"},
		{"red", "marking-definition--e828b379-4e03-4974-9ac4-e53a884c97c1"},
		{"white1", "marking-definition--613f2e26-407d-48c7-9eca-b8e91df99dc9"},
		{"green1", "marking-definition--34098fce-860f-48ae-8e50-ebd3cc5e41da"},
		{"amber1", "marking-definition--f88d31f6-486f-44da-b317-01333bde0b82"},
		{"red1", "marking-definition--5e57c739-391a-4eb3-b6be-7d15ca92d5ed"},
	};
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (strcmp(names[i].name, name) == 0)
			return names[i].id;
	return NULL;
}

/* The audience markings of the test hub: the marking-definition id the hub would publish for
 * each audience of the table, and what it stands for. */
#define UNRESOLVABLE "marking-definition--ffffffff-ffff-4fff-bfff-ffffffffffff"
#define STATEMENT "marking-definition--5d9a5d5a-8e3c-4c1a-9d3b-0a1b2c3d4e5f"

static const struct {
	const char *name, *id;
	ky_audience audience;
} audience_markings[] = {
	{"community", "marking-definition--a0000000-0000-4000-8000-000000000001", {KY_AUDIENCE_COMMUNITY, 0, NULL}},
	{"contributors", "marking-definition--a0000000-0000-4000-8000-000000000002", {KY_AUDIENCE_CONTRIBUTORS, 0, NULL}},
	{"sector:government", "marking-definition--a0000000-0000-4000-8000-000000000010", {KY_AUDIENCE_SECTOR, 0, "government"}},
	{"sector:security-vendor", "marking-definition--a0000000-0000-4000-8000-000000000011",
	 {KY_AUDIENCE_SECTOR, 0, "security-vendor"}},
	{"sector:finance", "marking-definition--a0000000-0000-4000-8000-000000000012", {KY_AUDIENCE_SECTOR, 0, "finance"}},
	{"sector:local-government", "marking-definition--a0000000-0000-4000-8000-000000000013",
	 {KY_AUDIENCE_SECTOR, 0, "local-government"}},
	{"sector:water", "marking-definition--a0000000-0000-4000-8000-000000000014", {KY_AUDIENCE_SECTOR, 0, "water"}},
	{"sector:energy", "marking-definition--a0000000-0000-4000-8000-000000000015", {KY_AUDIENCE_SECTOR, 0, "energy"}},
	{"sector:healthcare", "marking-definition--a0000000-0000-4000-8000-000000000016", {KY_AUDIENCE_SECTOR, 0, "healthcare"}},
	{"sector:telecom", "marking-definition--a0000000-0000-4000-8000-000000000017", {KY_AUDIENCE_SECTOR, 0, "telecom"}},
	{"sector:transport", "marking-definition--a0000000-0000-4000-8000-000000000018", {KY_AUDIENCE_SECTOR, 0, "transport"}},
	{"sector:chemicals", "marking-definition--a0000000-0000-4000-8000-000000000019", {KY_AUDIENCE_SECTOR, 0, "chemicals"}},
	{"group:water-isac", "marking-definition--a0000000-0000-4000-8000-000000000020", {KY_AUDIENCE_GROUP, 1, NULL}},
	{"member:sec", "marking-definition--a0000000-0000-4000-8000-000000000031", {KY_AUDIENCE_MEMBER, 1, NULL}},
	{"member:vendA", "marking-definition--a0000000-0000-4000-8000-000000000032", {KY_AUDIENCE_MEMBER, 2, NULL}},
	{"member:vendB", "marking-definition--a0000000-0000-4000-8000-000000000033", {KY_AUDIENCE_MEMBER, 3, NULL}},
	{"member:govC", "marking-definition--a0000000-0000-4000-8000-000000000034", {KY_AUDIENCE_MEMBER, 4, NULL}},
	{"member:cityD", "marking-definition--a0000000-0000-4000-8000-000000000035", {KY_AUDIENCE_MEMBER, 5, NULL}},
	{"member:waterE", "marking-definition--a0000000-0000-4000-8000-000000000036", {KY_AUDIENCE_MEMBER, 6, NULL}},
};

#define NAUDIENCE_MARKINGS (sizeof(audience_markings) / sizeof(audience_markings[0]))

static ky_marking_kind resolve(void *ctx, const char *id, ky_audience *out)
{
	(void)ctx;
	for (size_t i = 0; i < NAUDIENCE_MARKINGS; i++)
		if (strcmp(audience_markings[i].id, id) == 0) {
			*out = audience_markings[i].audience;
			return KY_MARKING_AUDIENCE;
		}
	return strcmp(id, STATEMENT) == 0 ? KY_MARKING_OTHER : KY_MARKING_UNKNOWN;
}

static const char *audience_id_of(const char *name)
{
	for (size_t i = 0; i < NAUDIENCE_MARKINGS; i++)
		if (strcmp(audience_markings[i].name, name) == 0)
			return audience_markings[i].id;
	return NULL;
}

/* Splits text at `sep` in place into at most max fields; returns how many. */
static size_t split(char *text, char sep, char **fields, size_t max)
{
	size_t n = 0;
	for (char *p = text; n < max;) {
		fields[n++] = p;
		char *next = strchr(p, sep);
		if (next == NULL)
			break;
		*next = '\0';
		p = next + 1;
	}
	return n;
}

static const char *leave_name(ky_leave l)
{
	static const char *const names[] = {"none", "own", "audience", "anywhere"};
	return names[l];
}

static void test_table(void **state)
{
	(void)state;
	FILE *f = fopen(table_path, "r");
	if (f == NULL)
		fail_msg("cannot read %s", table_path);
	char line[1024];
	size_t lineno = 0, rows = 0, failures = 0, by_keys_fewer = 0;
	bool header = true;
	while (fgets(line, sizeof(line), f) != NULL) {
		lineno++;
		line[strcspn(line, "\r\n")] = '\0';
		if (line[0] == '#' || line[0] == '\0')
			continue;
		if (header) {
			header = false;
			continue;
		}
		char *col[8] = {0};
		if (split(line, '\t', col, 8) != 7)
			fail_msg("%s:%zu: expected 7 tab-separated columns", table_path, lineno);
		rows++;
		bool unresolved = false, unconfirmed = false, locked = false;
		char *extras[4] = {0};
		size_t nextras = strcmp(col[3], "-") == 0 ? 0 : split(col[3], ',', extras, 4);
		for (size_t i = 0; i < nextras; i++) {
			bool *flag = strcmp(extras[i], "unresolved") == 0	 ? &unresolved
				     : strcmp(extras[i], "unconfirmed") == 0 ? &unconfirmed
				     : strcmp(extras[i], "locked") == 0	 ? &locked
									 : NULL;
			if (flag == NULL)
				fail_msg("%s:%zu: unknown extra '%s'", table_path, lineno, extras[i]);
			*flag = true;
		}
		int64_t provider = member_id(col[0]);
		if (provider < 0)
			fail_msg("%s:%zu: unknown provider", table_path, lineno);
		/* The row's version as an object: its markings by id, a statement marking the hub
		 * holds among them (it limits nothing), and the unresolvable one when the row says. */
		json_t *refs = json_pack("[s]", STATEMENT);
		char *names[8] = {0};
		size_t n = strcmp(col[1], "-") == 0 ? 0 : split(col[1], ',', names, 8);
		for (size_t i = 0; i < n; i++) {
			const char *id = tlp_id_of(names[i]);
			if (id == NULL)
				fail_msg("%s:%zu: unknown TLP '%s'", table_path, lineno, names[i]);
			json_array_append_new(refs, json_string(id));
		}
		bool provider_named = false;
		n = strcmp(col[2], "-") == 0 ? 0 : split(col[2], ',', names, 8);
		for (size_t i = 0; i < n; i++)
			provider_named = provider_named || (strncmp(names[i], "member:", 7) == 0 && strcmp(names[i] + 7, col[0]) == 0);
		for (size_t i = 0; i < n; i++) {
			const char *id = audience_id_of(names[i]);
			if (id == NULL)
				fail_msg("%s:%zu: unknown audience '%s'", table_path, lineno, names[i]);
			json_array_append_new(refs, json_string(id));
		}
		if (unresolved)
			json_array_append_new(refs, json_string(UNRESOLVABLE));
		json_t *object = json_pack("{s:s,s:o}", "type", "indicator", "object_marking_refs", refs);
		ky_facts_space space;
		ky_version_facts facts = {.provider = provider};
		assert_int_equal(ky_policy_facts_of(object, KY_TLP_AMBER, resolve, NULL, &space, &facts), 0);
		json_decref(object);
		assert_int_equal(facts.provider, provider);
		facts.contributors_only = unconfirmed;
		facts.standing_only = locked;
		int64_t viewer = member_id(col[4]);
		if (viewer < 0)
			fail_msg("%s:%zu: unknown viewer '%s'", table_path, lineno, col[4]);
		const member *m = &council[viewer - 1];
		const char *sectors[] = {m->sector};
		ky_decision_viewer v = {viewer, m->tier, sectors, 1, &m->group, m->group ? 1 : 0, m->good_standing};
		bool read = ky_policy_may_read_version(&v, &facts);
		const char *leave = leave_name(ky_policy_may_leave(&v, &facts));
		if (read != (strcmp(col[5], "yes") == 0) || strcmp(leave, col[6]) != 0) {
			failures++;
			printf("%s:%zu: %s reading %s's version: read %s, leave %s; the table says read %s, leave %s\n",
			       table_path, lineno, col[4], col[0], read ? "yes" : "no", leave, col[5], col[6]);
		}
		/* The keys' form, as the webhooks decide on a version the store hands them. */
		ky_policy_keys version, held;
		assert_int_equal(ky_policy_access_keys(&facts, &version), 0);
		assert_int_equal(ky_policy_viewer_keys(&v, &held), 0);
		for (size_t i = 0; i < version.n; i++)
			if (strchr(version.key[i], '&') != NULL)
				assert_int_equal(ky_policy_conjunction(&held, version.key[i]), 0);
		/* The keys lose two facts, so that form may let less leave, never more: whether the
		 * provider is also named by an audience (its key is there as provider either way),
		 * and, under the state rule or for locked material, the audience behind the keys
		 * joined with the contributors' (the secretariat, or a general member's own
		 * submission, reads those as reader of everything or as provider). Elsewhere the
		 * two forms agree. */
		bool plain = nextras == 0 && !provider_named;
		int table_leave = -1;
		for (int l = KY_LEAVE_NONE; l <= KY_LEAVE_ANYWHERE; l++)
			if (strcmp(leave_name((ky_leave)l), col[6]) == 0)
				table_leave = l;
		ky_leave keys_leave = ky_policy_leave_of_keys(read, &held, version.ptr, version.n, provider,
							      facts.unresolved ? -1 : (int)facts.tlp);
		if (plain ? (int)keys_leave != table_leave : (int)keys_leave > table_leave) {
			failures++;
			printf("%s:%zu: %s, %s's version, by its keys: leave %s; the table says %s\n", table_path, lineno,
			       col[4], col[0], leave_name(keys_leave), col[6]);
		}
		by_keys_fewer += (int)keys_leave < table_leave;
	}
	fclose(f);
	printf("%zu rows, %zu disagree; by the keys less leaves in %zu\n", rows, failures, by_keys_fewer);
	assert_true(rows >= 200);
	assert_int_equal(failures, 0);
}

static void test_tlp_ids(void **state)
{
	(void)state;
	ky_tlp t;
	for (int level = KY_TLP_CLEAR; level <= KY_TLP_RED; level++) {
		assert_true(ky_tlp_of_id(ky_tlp_id((ky_tlp)level), &t));
		assert_int_equal(t, level);
	}
	assert_string_equal(ky_tlp_name(KY_TLP_AMBER_STRICT), "TLP:AMBER+STRICT");
	assert_true(ky_tlp_of_id("marking-definition--613f2e26-407d-48c7-9eca-b8e91df99dc9", &t));
	assert_int_equal(t, KY_TLP_CLEAR);
	assert_false(ky_tlp_of_id("marking-definition--00000000-0000-4000-8000-000000000000", &t));
	assert_false(ky_tlp_of_id("marking-definition--94868c89-83c2-464b-929b-a1a8aa3c848", &t));
	ky_tlp several[] = {KY_TLP_GREEN, KY_TLP_RED, KY_TLP_AMBER};
	assert_int_equal(ky_policy_effective_tlp(several, 3, KY_TLP_AMBER), KY_TLP_RED);
	assert_int_equal(ky_policy_effective_tlp(NULL, 0, KY_TLP_GREEN), KY_TLP_GREEN);
}

/* Reading markings: no markings, the fallback; malformed lists refused; too many audiences. */
static void test_facts_of(void **state)
{
	(void)state;
	ky_facts_space space;
	ky_version_facts f = {.provider = 7};
	json_t *bare = json_pack("{s:s}", "type", "indicator");
	assert_int_equal(ky_policy_facts_of(bare, KY_TLP_GREEN, resolve, NULL, &space, &f), 0);
	assert_int_equal(f.tlp, KY_TLP_GREEN);
	assert_int_equal(f.naudiences, 0);
	assert_false(f.unresolved);
	assert_int_equal(f.provider, 7);
	json_decref(bare);
	json_t *bad = json_pack("{s:s,s:[i]}", "type", "indicator", "object_marking_refs", 1);
	assert_int_not_equal(ky_policy_facts_of(bad, KY_TLP_AMBER, resolve, NULL, &space, &f), 0);
	json_decref(bad);
	json_t *many = json_pack("{s:s,s:[]}", "type", "indicator", "object_marking_refs");
	for (int i = 0; i <= KY_STORE_ACCESS_KEYS_MAX; i++)
		json_array_append_new(json_object_get(many, "object_marking_refs"), json_string(audience_id_of("contributors")));
	assert_int_not_equal(ky_policy_facts_of(many, KY_TLP_AMBER, resolve, NULL, &space, &f), 0);
	json_decref(many);
	/* Without a resolver every marking but TLP is unknown: fail closed. */
	json_t *alone = json_pack("{s:s,s:[s]}", "type", "indicator", "object_marking_refs", audience_id_of("community"));
	assert_int_equal(ky_policy_facts_of(alone, KY_TLP_AMBER, NULL, NULL, &space, &f), 0);
	assert_true(f.unresolved);
	json_decref(alone);
}

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: test_decision decisions.tsv\n");
		return 2;
	}
	table_path = argv[1];
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_tlp_ids),
		cmocka_unit_test(test_facts_of),
		cmocka_unit_test(test_table),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
