/*
 * test_scope: the read decision's two forms held to each other (policy/decision.h), on the
 * backend under test. A random hub (members of random tiers, sectors and groups; objects of
 * one to three versions with random providers, TLP, audiences, the state rule, unresolved markings and
 * required parts under granular markings, in two collections) is stored with the access keys the policy computes; then for every member, the
 * store's queries in that member's scope (every version, the last, the first, by id, by type,
 * hub-wide, in small keyset pages) must return exactly the versions that
 * ky_policy_may_read_version() lets it read, and the last and first among those alone.
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

#include "ky_test_hub.h"
#include "policy/policy.h"
#include "policy/standing.h"
#include "store/store_council.h"
#include "util/ky_error.h"

#define MEMBERS 14
#define GROUPS 5
#define OBJECTS 700
#define VERSIONS_MAX 3
#define PAGE 37

static char dir[64];

/* A deterministic generator: a failure replays. */
static uint64_t rng = 0x9e3779b97f4a7c15u;
static unsigned below(unsigned n)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (unsigned)(rng % n);
}

static const char *const sectors[] = {"government", "finance", "energy", "water", "security-vendor"};
#define NSECTORS (sizeof(sectors) / sizeof(sectors[0]))

typedef struct version {
	int object;
	char modified[32];
	ky_version_facts facts;
	ky_audience audiences[3];
	ky_part_facts parts[2];
	bool in[2];                 /* added to collection 0 (default), 1 (second) */
} version;

typedef struct hub {
	char location[512];
	ky_store *s;
	int64_t collections[2];
	ky_store_member members[MEMBERS + 1];   /* [0] the secretariat */
	int64_t groups[GROUPS];
	char group_names[GROUPS][16];
	version *versions;
	size_t nversions;
	int nversions_of[OBJECTS];
	char ids[OBJECTS][64];
	const char *types[OBJECTS];
} hub;

static const ky_store_actor operator = {.via = "test"};

static void check(int rc, const char *what)
{
	if (rc != KY_OK)
		fail_msg("%s: %s", what, ky_error_last());
}

static void make_council(hub *h)
{
	check(ky_store_secretariat_ensure(h->s, &operator, &h->members[0]), "secretariat");
	for (int g = 0; g < GROUPS; g++) {
		ky_store_group out;
		snprintf(h->group_names[g], sizeof(h->group_names[g]), "group-%d", g);
		check(ky_store_group_create(h->s, h->group_names[g], &operator, "test", &out), "group");
		h->groups[g] = out.id;
	}
	for (int i = 1; i <= MEMBERS; i++) {
		ky_store_member m = {.tier = below(3) == 0 ? KY_TIER_GENERAL : below(2) ? KY_TIER_CONTRIBUTOR : KY_TIER_GENERAL};
		snprintf(m.name, sizeof(m.name), "member-%d", i);
		snprintf(m.title, sizeof(m.title), "Member %d", i);
		m.nsectors = below(3);
		for (size_t k = 0; k < m.nsectors; k++)
			snprintf(m.sectors[k], sizeof(m.sectors[k]), "%s", sectors[(i + k * 2) % NSECTORS]);
		check(ky_store_member_add(h->s, &m, &operator, "test", &h->members[i]), "member");
		for (int g = 0; g < GROUPS; g++)
			if (below(3) == 0)
				check(ky_store_group_member_add(h->s, h->group_names[g], m.name, &operator, "test", NULL), "group add");
	}
	/* Locked material needs both standings: every contributor in its grace period, or (half
	 * the hubs) none, with no grace and a threshold nobody meets yet. */
	if (below(2)) {
		check(ky_ledger_set(h->s, "grace-days", "0", &operator, "test"), "grace");
		check(ky_ledger_set(h->s, "threshold", "1", &operator, "test"), "threshold");
	}
}

static ky_audience random_audience(const hub *h)
{
	switch (below(5)) {
	case 0:
		return (ky_audience){.kind = KY_AUDIENCE_COMMUNITY};
	case 1:
		return (ky_audience){.kind = KY_AUDIENCE_CONTRIBUTORS};
	case 2:
		return (ky_audience){.kind = KY_AUDIENCE_SECTOR, .name = sectors[below(NSECTORS)]};
	case 3:
		return (ky_audience){.kind = KY_AUDIENCE_GROUP, .id = h->groups[below(GROUPS)]};
	default:
		return (ky_audience){.kind = KY_AUDIENCE_MEMBER, .id = h->members[1 + below(MEMBERS)].id};
	}
}

/* The objects, their versions and facts, stored with the keys the policy computes, in
 * batches of random sizes: a version in one collection or both. */
static void fill(hub *h)
{
	h->versions = calloc(OBJECTS * VERSIONS_MAX, sizeof(*h->versions));
	assert_non_null(h->versions);
	for (int o = 0; o < OBJECTS; o++) {
		snprintf(h->ids[o], sizeof(h->ids[o]), "indicator--%08x-0000-4000-8000-%012x", (unsigned)o, (unsigned)o);
		h->types[o] = below(2) ? "indicator" : "malware";
		int64_t provider = h->members[below(MEMBERS + 1)].id;
		h->nversions_of[o] = 1 + (int)below(VERSIONS_MAX);
		/* Versions arrive in any order of their times: distinct days, shuffled. */
		int days[9] = {1, 2, 3, 4, 5, 6, 7, 8, 9};
		for (int k = 8; k > 0; k--) {
			int j = (int)below((unsigned)k + 1), t = days[k];
			days[k] = days[j];
			days[j] = t;
		}
		for (int k = 0; k < h->nversions_of[o]; k++) {
			version *v = &h->versions[h->nversions++];
			v->object = o;
			snprintf(v->modified, sizeof(v->modified), "2020-01-0%dT00:00:00.000Z", days[k]);
			v->facts.provider = provider;
			v->facts.tlp = (ky_tlp)below(5);
			v->facts.naudiences = below(4);
			for (size_t a = 0; a < v->facts.naudiences; a++)
				v->audiences[a] = random_audience(h);
			v->facts.audiences = v->audiences;
			v->facts.unresolved = below(20) == 0;
			/* The state rule: a report not promoted, for contributors only. */
			v->facts.contributors_only = below(4) == 0;
			v->facts.standing_only = below(4) == 0;
			/* Required parts (granular markings on what the object needs): the version's
			 * keys become conjunctions, which viewers find in the store. */
			v->facts.parts = v->parts;
			v->facts.nparts = below(4) == 0 ? 1 + below(2) : 0;
			for (size_t p = 0; p < v->facts.nparts; p++) {
				ky_part_facts *part = &v->parts[p];
				*part = (ky_part_facts){.selector = p ? "name" : "pattern", .required = true};
				part->tlp = (ky_tlp)(v->facts.tlp + below(5 - (unsigned)v->facts.tlp));
				part->naudiences = below(3);
				for (size_t a = 0; a < part->naudiences; a++)
					part->audiences[a] = random_audience(h);
				part->unresolved = below(30) == 0;
			}
			unsigned where = below(4);
			v->in[0] = where != 1;
			v->in[1] = where != 0;
		}
	}
	for (int c = 0; c < 2; c++) {
		size_t i = 0;
		while (i < h->nversions) {
			ky_store_batch *b = NULL;
			check(ky_store_batch_begin(h->s, h->collections[c], &b), "begin");
			size_t n = 1 + below(50);
			for (; i < h->nversions && n > 0; i++) {
				const version *v = &h->versions[i];
				if (!v->in[c])
					continue;
				n--;
				char raw[512];
				snprintf(raw, sizeof(raw),
					 "{\"type\":\"%s\",\"spec_version\":\"2.1\",\"id\":\"%s\",\"created\":\"2020-01-01T00:00:00.000Z\","
					 "\"modified\":\"%s\"}",
					 h->types[v->object], h->ids[v->object], v->modified);
				ky_policy_keys keys;
				check(ky_policy_access_keys(&v->facts, &keys), "access keys");
				ky_store_access access = {.provider = v->facts.provider,
							  .tlp = (int)v->facts.tlp,
							  .keys = keys.ptr,
							  .nkeys = keys.n};
				ky_store_meta meta = {.id = h->ids[v->object], .type = h->types[v->object], .spec_version = "2.1",
						      .version = v->modified};
				assert_true(ky_store_batch_add_meta(b, raw, strlen(raw), &meta, &access) >= 0);
			}
			ky_store_status st[64];
			check(ky_store_batch_commit(b, st, NULL), "commit");
		}
	}
}

static int setup(void **state)
{
	hub *h = calloc(1, sizeof(*h));
	static int n;
	char name[32];
	snprintf(name, sizeof(name), "scope%d.db", n++);
	if (h == NULL || ky_test_hub_location(h->location, sizeof(h->location), dir, name) != 0)
		return -1;
	ky_store_options create = {.create = true};
	if (ky_store_open(&h->s, h->location, &create, NULL) != KY_OK)
		return -1;
	ky_store_collection c;
	if (ky_store_collection_find(h->s, KY_STORE_DEFAULT_COLLECTION, &c) != KY_OK)
		return -1;
	h->collections[0] = c.id;
	ky_store_collection_clear(&c);
	if (ky_store_collection_create(h->s, NULL, "second", "Second", NULL, &c) != KY_OK)
		return -1;
	h->collections[1] = c.id;
	ky_store_collection_clear(&c);
	make_council(h);
	fill(h);
	*state = h;
	return 0;
}

static int teardown(void **state)
{
	hub *h = *state;
	ky_store_close(h->s);
	ky_test_hub_drop(h->location);
	free(h->versions);
	free(h);
	return 0;
}

/* What a query returned: "id@modified" lines, sorted, for comparing. */
typedef struct seen {
	char **lines;
	size_t n, cap;
} seen;

static void seen_add(seen *s, const char *id, const char *modified)
{
	if (s->n == s->cap) {
		s->cap = s->cap ? s->cap * 2 : 256;
		s->lines = realloc(s->lines, s->cap * sizeof(*s->lines));
		assert_non_null(s->lines);
	}
	size_t len = strlen(id) + strlen(modified) + 2;
	s->lines[s->n] = malloc(len);
	assert_non_null(s->lines[s->n]);
	snprintf(s->lines[s->n++], len, "%s@%s", id, modified);
}

static int by_text(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void seen_clear(seen *s)
{
	for (size_t i = 0; i < s->n; i++)
		free(s->lines[i]);
	free(s->lines);
	*s = (seen){0};
}

static int collect(void *ctx, const ky_store_row *row)
{
	seen_add(ctx, row->id, row->modified);
	return 0;
}

/* Runs q to its end in pages of PAGE, checking that pages chain (more, cursor). */
static void run_all(ky_store *s, ky_store_query q, seen *out)
{
	q.limit = PAGE;
	for (;;) {
		ky_store_page page;
		size_t before = out->n;
		check(ky_store_query_run(s, &q, collect, out, &page), "query");
		assert_int_equal(page.count, out->n - before);
		if (!page.more)
			break;
		assert_int_equal(page.count, PAGE);
		q.after = page.last_seq;
	}
}

enum which { ALL, LAST, FIRST };

/* The expected answer, from the decision function alone. */
static void expected(const hub *h, const ky_decision_viewer *dv, int collection, enum which w, const char *type,
		     const bool *only_ids, seen *out)
{
	for (int o = 0; o < OBJECTS; o++) {
		if ((type && strcmp(h->types[o], type) != 0) || (only_ids && !only_ids[o]))
			continue;
		const version *pick = NULL;
		for (size_t i = 0; i < h->nversions; i++) {
			const version *v = &h->versions[i];
			bool there = collection < 0 ? v->in[0] || v->in[1] : v->in[collection];
			if (v->object != o || !there || !ky_policy_may_read_version(dv, &v->facts))
				continue;
			if (w == ALL)
				seen_add(out, h->ids[o], v->modified);
			else if (pick == NULL || (w == LAST ? strcmp(v->modified, pick->modified) > 0
							    : strcmp(v->modified, pick->modified) < 0))
				pick = v;
		}
		if (pick != NULL)
			seen_add(out, h->ids[o], pick->modified);
	}
}

static void assert_same(seen *got, seen *want, const char *member, const char *what)
{
	qsort(got->lines, got->n, sizeof(char *), by_text);
	qsort(want->lines, want->n, sizeof(char *), by_text);
	for (size_t i = 0; i < got->n && i < want->n; i++)
		if (strcmp(got->lines[i], want->lines[i]) != 0)
			fail_msg("%s, %s: the store gave %s where the decision gives %s", member, what, got->lines[i],
				 want->lines[i]);
	if (got->n != want->n)
		fail_msg("%s, %s: the store gave %zu versions, the decision %zu", member, what, got->n, want->n);
	seen_clear(got);
	seen_clear(want);
}

static void test_store_filter_is_the_decision(void **state)
{
	hub *h = *state;
	bool some[OBJECTS];
	const char *picked[100];
	size_t npicked = 0;
	for (int o = 0; o < OBJECTS; o++) {
		some[o] = npicked < 100 && below(8) == 0;
		if (some[o])
			picked[npicked++] = h->ids[o];
	}
	size_t checked = 0;
	for (int m = 0; m <= MEMBERS; m++) {
		ky_viewer *viewer = malloc(sizeof(*viewer));
		assert_non_null(viewer);
		check(ky_policy_viewer_of_member(h->s, &h->members[m], viewer), "viewer");
		ky_store_scope scope = ky_policy_scope(viewer);
		ky_decision_viewer dv = ky_policy_decision_viewer(viewer);
		const char *name = h->members[m].name;
		for (int c = -1; c < 2; c++) {
			int64_t coll = c < 0 ? 0 : h->collections[c];
			static const unsigned flags[] = {KY_STORE_ALL, KY_STORE_LAST, KY_STORE_FIRST};
			for (int w = ALL; w <= FIRST; w++) {
				/* Hub-wide pages list each version once: every version is what they are for. */
				if (c < 0 && w != ALL)
					continue;
				seen got = {0}, want = {0};
				ky_store_query q = {.scope = &scope, .collection_id = coll, .versions = flags[w]};
				run_all(h->s, q, &got);
				expected(h, &dv, c, (enum which)w, NULL, NULL, &want);
				checked += want.n;
				assert_same(&got, &want, name, c < 0 ? "hub-wide" : w == ALL ? "every version" : w == LAST ? "last" : "first");
				if (c < 0)
					continue;
				/* By id: the decision as a condition on the object's entries. */
				q.ids = picked;
				q.nids = npicked;
				run_all(h->s, q, &got);
				expected(h, &dv, c, (enum which)w, NULL, some, &want);
				assert_same(&got, &want, name, "by id");
				/* By type: the decision as the pages' index ranges, filtered. */
				const char *type = "malware";
				ky_store_query t = {.scope = &scope, .collection_id = coll, .versions = flags[w], .types = &type, .ntypes = 1};
				run_all(h->s, t, &got);
				expected(h, &dv, c, (enum which)w, type, NULL, &want);
				assert_same(&got, &want, name, "by type");
			}
		}
		free(viewer);
	}
	/* The hub is not so closed that nothing is compared. */
	assert_true(checked > 1000);
}

/* The operator's scope reads everything; no scope reads nothing. */
static void test_scope_required(void **state)
{
	hub *h = *state;
	seen got = {0};
	ky_store_query q = {.collection_id = h->collections[0], .versions = KY_STORE_ALL};
	assert_int_equal(ky_store_query_run(h->s, &q, collect, &got, NULL), KY_EDENIED);
	assert_int_equal(got.n, 0);
	q.scope = &ky_store_operator_scope;
	run_all(h->s, q, &got);
	size_t stored = 0;
	for (size_t i = 0; i < h->nversions; i++)
		stored += h->versions[i].in[0];
	assert_int_equal(got.n, stored);
	seen_clear(&got);
}

int main(void)
{
	snprintf(dir, sizeof(dir), "/tmp/ky-test-scope-XXXXXX");
	if (mkdtemp(dir) == NULL)
		return 1;
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_store_filter_is_the_decision),
		cmocka_unit_test(test_scope_required),
	};
	/* One hub for both: making it is most of the time on PostgreSQL. */
	int failed = cmocka_run_group_tests(tests, setup, teardown);
	ky_test_remove_dir(dir);
	return failed;
}
