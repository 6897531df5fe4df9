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

#include "policy/decision.h"

static const char *table_path;

/* The table's council (tests/data/policy/README.md). */
typedef struct member {
	const char *name;
	ky_tier tier;
	const char *sector;
	int64_t group;          /* 1: water-isac; 0: none */
} member;

static const member council[] = {
	{"sec", KY_TIER_SECRETARIAT, "government", 0},  {"vendA", KY_TIER_CONTRIBUTOR, "security-vendor", 1},
	{"vendB", KY_TIER_CONTRIBUTOR, "finance", 0},   {"govC", KY_TIER_GENERAL, "government", 1},
	{"cityD", KY_TIER_GENERAL, "local-government", 0}, {"waterE", KY_TIER_GENERAL, "water", 1},
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
	size_t lineno = 0, rows = 0, failures = 0;
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
		char *col[8];
		if (split(line, '\t', col, 8) != 7)
			fail_msg("%s:%zu: expected 7 tab-separated columns", table_path, lineno);
		rows++;
		ky_version_facts facts = {.provider = member_id(col[0]), .unresolved = strcmp(col[3], "unresolved") == 0};
		if (facts.provider < 0 || (!facts.unresolved && strcmp(col[3], "-") != 0))
			fail_msg("%s:%zu: unknown provider or extra", table_path, lineno);
		ky_tlp found[8];
		size_t nfound = 0;
		char *tlps[8];
		size_t ntlps = strcmp(col[1], "-") == 0 ? 0 : split(col[1], ',', tlps, 8);
		for (size_t i = 0; i < ntlps; i++) {
			const char *id = tlp_id_of(tlps[i]);
			if (id == NULL || !ky_tlp_of_id(id, &found[nfound++]))
				fail_msg("%s:%zu: unknown TLP '%s'", table_path, lineno, tlps[i]);
		}
		facts.tlp = ky_policy_effective_tlp(found, nfound, KY_TLP_AMBER);
		ky_audience audiences[8];
		char *names[8];
		size_t naudiences = strcmp(col[2], "-") == 0 ? 0 : split(col[2], ',', names, 8);
		for (size_t i = 0; i < naudiences; i++) {
			char *colon = strchr(names[i], ':');
			const char *arg = colon ? colon + 1 : "";
			if (colon)
				*colon = '\0';
			ky_audience *a = &audiences[i];
			*a = (ky_audience){0};
			if (strcmp(names[i], "community") == 0)
				a->kind = KY_AUDIENCE_COMMUNITY;
			else if (strcmp(names[i], "contributors") == 0)
				a->kind = KY_AUDIENCE_CONTRIBUTORS;
			else if (strcmp(names[i], "sector") == 0)
				*a = (ky_audience){KY_AUDIENCE_SECTOR, 0, arg};
			else if (strcmp(names[i], "group") == 0 && strcmp(arg, "water-isac") == 0)
				*a = (ky_audience){KY_AUDIENCE_GROUP, 1, NULL};
			else if (strcmp(names[i], "member") == 0 && member_id(arg) > 0)
				*a = (ky_audience){KY_AUDIENCE_MEMBER, member_id(arg), NULL};
			else
				fail_msg("%s:%zu: unknown audience '%s'", table_path, lineno, names[i]);
		}
		facts.audiences = audiences;
		facts.naudiences = naudiences;
		int64_t viewer = member_id(col[4]);
		if (viewer < 0)
			fail_msg("%s:%zu: unknown viewer '%s'", table_path, lineno, col[4]);
		const member *m = &council[viewer - 1];
		const char *sectors[] = {m->sector};
		ky_decision_viewer v = {viewer, m->tier, sectors, 1, &m->group, m->group ? 1 : 0};
		bool read = ky_policy_may_read_version(&v, &facts);
		const char *leave = leave_name(ky_policy_may_leave(&v, &facts));
		if (read != (strcmp(col[5], "yes") == 0) || strcmp(leave, col[6]) != 0) {
			failures++;
			printf("%s:%zu: %s reading %s's version: read %s, leave %s; the table says read %s, leave %s\n",
			       table_path, lineno, col[4], col[0], read ? "yes" : "no", leave, col[5], col[6]);
		}
	}
	fclose(f);
	printf("%zu rows, %zu disagree\n", rows, failures);
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

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: test_decision decisions.tsv\n");
		return 2;
	}
	table_path = argv[1];
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_tlp_ids),
		cmocka_unit_test(test_table),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
