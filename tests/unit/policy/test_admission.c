/*
 * test_admission: what the policy decides of a version when it arrives
 * (policy/admission.h), on the backend under test: the hub's audiences as marking-definitions,
 * the access keys of a submitted object from its TLP and audience markings and the
 * collection's default, and the refusals (TLP:RED without a member audience, a created_by_ref
 * naming another member) and the warning (a marking the hub cannot resolve).
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
#include "policy/admission.h"
#include "store/store_council.h"
#include "util/ky_error.h"

static char dir[64];

typedef struct hub {
	char location[512];
	ky_store *s;
	ky_store_member sec, vendor, water;
	int64_t group;
	char energy[KY_AUDIENCE_ID_MAX], water_member[KY_AUDIENCE_ID_MAX], contributors[KY_AUDIENCE_ID_MAX],
		group_id[KY_AUDIENCE_ID_MAX];
} hub;

static const ky_store_actor operator = {.via = "test"};

static int remember(void *ctx, const ky_audience_entry *e)
{
	hub *h = ctx;
	if (strcmp(e->kind, "sector") == 0 && strcmp(e->name, "energy") == 0)
		snprintf(h->energy, sizeof(h->energy), "%s", e->marking_id);
	if (strcmp(e->kind, "member") == 0 && strcmp(e->name, "water-d") == 0)
		snprintf(h->water_member, sizeof(h->water_member), "%s", e->marking_id);
	if (strcmp(e->kind, "contributors") == 0)
		snprintf(h->contributors, sizeof(h->contributors), "%s", e->marking_id);
	if (strcmp(e->kind, "group") == 0)
		snprintf(h->group_id, sizeof(h->group_id), "%s", e->marking_id);
	return 0;
}

static int open_hub(hub *h)
{
	static int n;
	char name[32];
	snprintf(name, sizeof(name), "admission%d.db", n++);
	ky_store_options create = {.create = true};
	if (ky_test_hub_location(h->location, sizeof(h->location), dir, name) != 0 ||
	    ky_store_open(&h->s, h->location, &create, NULL) != KY_OK)
		return -1;
	ky_store_member v = {.tier = KY_TIER_CONTRIBUTOR, .nsectors = 1}, w = {.tier = KY_TIER_GENERAL, .nsectors = 1};
	snprintf(v.name, sizeof(v.name), "vendor-a");
	snprintf(v.title, sizeof(v.title), "Vendor A");
	snprintf(v.sectors[0], sizeof(v.sectors[0]), "security-vendor");
	snprintf(w.name, sizeof(w.name), "water-d");
	snprintf(w.title, sizeof(w.title), "Water D");
	snprintf(w.sectors[0], sizeof(w.sectors[0]), "water");
	ky_store_group g;
	if (ky_store_secretariat_ensure(h->s, &operator, &h->sec) != KY_OK ||
	    ky_store_member_add(h->s, &v, &operator, "test", &h->vendor) != KY_OK ||
	    ky_store_member_add(h->s, &w, &operator, "test", &h->water) != KY_OK ||
	    ky_store_group_create(h->s, "alpha", &operator, "test", &g) != KY_OK)
		return -1;
	h->group = g.id;
	return ky_policy_audience_list(h->s, remember, h) == KY_OK ? 0 : -1;
}

static int setup(void **state)
{
	hub *h = calloc(1, sizeof(*h));
	if (h == NULL || open_hub(h) != 0)
		return -1;
	*state = h;
	return 0;
}

static int teardown(void **state)
{
	hub *h = *state;
	ky_store_close(h->s);
	ky_test_hub_drop(h->location);
	free(h);
	return 0;
}

typedef struct ids {
	char (*id)[KY_AUDIENCE_ID_MAX];
	size_t n;
	size_t kinds[5];
} ids;

static int gather(void *ctx, const ky_audience_entry *e)
{
	ids *x = ctx;
	x->id = realloc(x->id, (x->n + 1) * sizeof(*x->id));
	assert_non_null(x->id);
	snprintf(x->id[x->n++], KY_AUDIENCE_ID_MAX, "%s", e->marking_id);
	x->kinds[e->audience.kind]++;
	return 0;
}

/* Every audience once, with an id of this hub's own: stable, distinct, and another hub's
 * are others. */
static void test_audiences(void **state)
{
	hub *h = *state;
	ids first = {0}, again = {0};
	assert_int_equal(ky_policy_audience_list(h->s, gather, &first), KY_OK);
	assert_int_equal(ky_policy_audience_list(h->s, gather, &again), KY_OK);
	assert_int_equal(first.kinds[KY_AUDIENCE_COMMUNITY], 1);
	assert_int_equal(first.kinds[KY_AUDIENCE_CONTRIBUTORS], 1);
	assert_int_equal(first.kinds[KY_AUDIENCE_SECTOR], 10);
	assert_int_equal(first.kinds[KY_AUDIENCE_GROUP], 1);
	assert_int_equal(first.kinds[KY_AUDIENCE_MEMBER], 3);
	assert_int_equal(first.n, again.n);
	for (size_t i = 0; i < first.n; i++) {
		assert_string_equal(first.id[i], again.id[i]);
		assert_int_equal(strlen(first.id[i]), strlen("marking-definition--") + 36);
		assert_int_equal(first.id[i][strlen("marking-definition--") + 14], '4');
		for (size_t j = 0; j < i; j++)
			assert_string_not_equal(first.id[i], first.id[j]);
	}
	hub other = {0};
	assert_int_equal(open_hub(&other), 0);
	ids theirs = {0};
	assert_int_equal(ky_policy_audience_list(other.s, gather, &theirs), KY_OK);
	assert_string_not_equal(theirs.id[0], first.id[0]);
	ky_store_close(other.s);
	ky_test_hub_drop(other.location);
	free(first.id);
	free(again.id);
	free(theirs.id);
}

static ky_admission *admission(hub *h, const ky_store_member *provider, ky_tlp tlp, const char *audience)
{
	ky_admission *a = NULL;
	ky_admission_options o = {.provider = provider->id, .provider_tier = provider->tier, .default_tlp = tlp,
				  .default_audience = audience};
	if (ky_admission_new(h->s, &o, &a) != KY_OK)
		fail_msg("admission: %s", ky_error_last());
	return a;
}

/* The object of `json`, whose "%s"s are filled with up to three markings. */
static int decide(ky_admission *a, const char *markings, ky_admitted *out)
{
	char text[2048];
	snprintf(text, sizeof(text),
		 "{\"type\":\"indicator\",\"spec_version\":\"2.1\",\"id\":\"indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f\","
		 "\"created\":\"2020-01-01T00:00:00.000Z\",\"modified\":\"2020-01-01T00:00:00.000Z\"%s}",
		 markings);
	json_t *o = json_loads(text, 0, NULL);
	assert_non_null(o);
	int rc = ky_admission_decide(a, o, out);
	json_decref(o);
	return rc;
}

/* The keys, sorted, as one line: "*,m:2". */
static const char *keys_of(const ky_admitted *x)
{
	static char line[512];
	const char *sorted[KY_STORE_ACCESS_KEYS_MAX];
	for (size_t i = 0; i < x->access.nkeys; i++)
		sorted[i] = x->access.keys[i];
	for (size_t i = 1; i < x->access.nkeys; i++)
		for (size_t j = i; j > 0 && strcmp(sorted[j - 1], sorted[j]) > 0; j--) {
			const char *t = sorted[j];
			sorted[j] = sorted[j - 1];
			sorted[j - 1] = t;
		}
	size_t len = 0;
	line[0] = '\0';
	for (size_t i = 0; i < x->access.nkeys; i++)
		len += (size_t)snprintf(line + len, sizeof(line) - len, "%s%s", i ? "," : "", sorted[i]);
	return line;
}

#define RED "marking-definition--e828b379-4e03-4974-9ac4-e53a884c97c1"
#define GREEN "marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb"

static void test_access_from_markings(void **state)
{
	hub *h = *state;
	char want[256], refs[1024];
	ky_admitted x;
	ky_admission *a = admission(h, &h->vendor, KY_TLP_AMBER, NULL);

	/* No marking: the hub's default TLP, the community. */
	assert_int_equal(decide(a, "", &x), KY_OK);
	snprintf(want, sizeof(want), "*,m:%lld", (long long)h->vendor.id);
	assert_string_equal(keys_of(&x), want);
	assert_int_equal(x.access.tlp, KY_TLP_AMBER);
	assert_int_equal(x.access.provider, h->vendor.id);
	assert_false(x.access.any_object);
	assert_string_equal(x.warning, "");

	/* Audiences: their union; TLP: the strictest. */
	snprintf(refs, sizeof(refs), ",\"object_marking_refs\":[\"%s\",\"%s\",\"%s\"]", GREEN, h->energy, h->contributors);
	assert_int_equal(decide(a, refs, &x), KY_OK);
	snprintf(want, sizeof(want), "c,m:%lld,s:energy", (long long)h->vendor.id);
	assert_string_equal(keys_of(&x), want);
	assert_int_equal(x.access.tlp, KY_TLP_GREEN);

	/* RED reaches the members named, and no one else the audiences name. */
	snprintf(refs, sizeof(refs), ",\"object_marking_refs\":[\"%s\",\"%s\",\"%s\",\"%s\"]", GREEN, RED, h->energy,
		 h->water_member);
	assert_int_equal(decide(a, refs, &x), KY_OK);
	snprintf(want, sizeof(want), "m:%lld,m:%lld", (long long)h->vendor.id, (long long)h->water.id);
	assert_string_equal(keys_of(&x), want);
	assert_int_equal(x.access.tlp, KY_TLP_RED);
	snprintf(refs, sizeof(refs), ",\"object_marking_refs\":[\"%s\",\"%s\"]", RED, h->energy);
	assert_int_equal(decide(a, refs, &x), KY_EDENIED);
	assert_non_null(strstr(ky_error_last(), "TLP:RED"));
	assert_non_null(strstr(ky_error_last(), "indicator--8e2e2d2b"));

	/* A marking the hub does not hold: its provider (and the secretariat) only, with a warning. */
	snprintf(refs, sizeof(refs), ",\"object_marking_refs\":[\"%s\",\"marking-definition--00000000-0000-4000-8000-000000000001\"]",
		 h->energy);
	assert_int_equal(decide(a, refs, &x), KY_OK);
	snprintf(want, sizeof(want), "m:%lld", (long long)h->vendor.id);
	assert_string_equal(keys_of(&x), want);
	assert_non_null(strstr(x.warning, "marking-definition--00000000-0000-4000-8000-000000000001"));

	/* ... unless the submission brought it first. */
	json_t *statement = json_pack("{s:s,s:s,s:s,s:s,s:s,s:{s:s}}", "type", "marking-definition", "spec_version", "2.1", "id",
				      "marking-definition--00000000-0000-4000-8000-000000000001", "created",
				      "2020-01-01T00:00:00.000Z", "definition_type", "statement", "definition", "statement",
				      "Copyright Vendor A");
	assert_int_equal(ky_admission_decide(a, statement, &x), KY_OK);
	json_decref(statement);
	assert_int_equal(decide(a, refs, &x), KY_OK);
	snprintf(want, sizeof(want), "m:%lld,s:energy", (long long)h->vendor.id);
	assert_string_equal(keys_of(&x), want);
	assert_string_equal(x.warning, "");
	ky_admission_free(a);

	/* The collection's default audience when the object names none; the configured TLP. */
	a = admission(h, &h->vendor, KY_TLP_GREEN, "sector:energy,group:alpha");
	assert_int_equal(decide(a, "", &x), KY_OK);
	snprintf(want, sizeof(want), "g:%lld,m:%lld,s:energy", (long long)h->group, (long long)h->vendor.id);
	assert_string_equal(keys_of(&x), want);
	assert_int_equal(x.access.tlp, KY_TLP_GREEN);
	snprintf(refs, sizeof(refs), ",\"object_marking_refs\":[\"%s\"]", h->contributors);
	assert_int_equal(decide(a, refs, &x), KY_OK);
	snprintf(want, sizeof(want), "c,m:%lld", (long long)h->vendor.id);
	assert_string_equal(keys_of(&x), want);
	ky_admission_free(a);
	ky_admission_options bad = {.provider = h->vendor.id, .default_audience = "sector:nowhere"};
	assert_int_equal(ky_admission_new(h->s, &bad, &a), KY_EINVALID);
	assert_non_null(strstr(ky_error_last(), "sector:nowhere"));
}

/* A valid indicator with object markings `refs` ("[]": none) and granular markings `granular`
 * (JSON lists). */
static int decide_granular(ky_admission *a, const char *refs, const char *granular, ky_admitted *out)
{
	char text[2048], marked[300] = "";
	if (strcmp(refs, "[]") != 0)
		snprintf(marked, sizeof(marked), "\"object_marking_refs\":%s,", refs);
	snprintf(text, sizeof(text),
		 "{\"type\":\"indicator\",\"spec_version\":\"2.1\",\"id\":\"indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f\","
		 "\"created\":\"2020-01-01T00:00:00.000Z\",\"modified\":\"2020-01-01T00:00:00.000Z\",\"description\":\"d\","
		 "\"pattern\":\"[ipv4-addr:value = '198.51.100.1']\",\"pattern_type\":\"stix\","
		 "\"valid_from\":\"2020-01-01T00:00:00Z\",%s\"granular_markings\":%s}",
		 marked, granular);
	json_t *o = json_loads(text, 0, NULL);
	assert_non_null(o);
	int rc = ky_admission_decide(a, o, out);
	json_decref(o);
	return rc;
}

/* Granular markings: an optional part is kept with its own keys; a required one (the pattern)
 * narrows the version's keys to conjunctions; an unresolved one warns. */
static void test_granular(void **state)
{
	hub *h = *state;
	char refs[256], granular[512], want[256];
	long long v = (long long)h->vendor.id;
	ky_admitted x;
	ky_admission *a = admission(h, &h->vendor, KY_TLP_AMBER, NULL);

	snprintf(granular, sizeof(granular), "[{\"marking_ref\":\"%s\",\"selectors\":[\"description\"]}]", h->energy);
	assert_int_equal(decide_granular(a, "[]", granular, &x), KY_OK);
	snprintf(want, sizeof(want), "*,m:%lld", v);
	assert_string_equal(keys_of(&x), want);
	snprintf(want, sizeof(want), "[{\"selector\":\"description\",\"keys\":[\"m:%lld\",\"s:energy\"]}]", v);
	assert_non_null(x.parts);
	assert_string_equal(x.parts, want);
	assert_ptr_equal(x.access.parts, x.parts);
	ky_admitted_clear(&x);

	/* Required: the pattern for the contributors, in a version for the community. */
	snprintf(granular, sizeof(granular), "[{\"marking_ref\":\"%s\",\"selectors\":[\"pattern\"]}]", h->contributors);
	assert_int_equal(decide_granular(a, "[]", granular, &x), KY_OK);
	snprintf(want, sizeof(want), "c,m:%lld", v);
	assert_string_equal(keys_of(&x), want);
	assert_null(x.parts);

	/* ... for sector energy, in a version for the contributors: both. */
	snprintf(refs, sizeof(refs), "[\"%s\"]", h->contributors);
	snprintf(granular, sizeof(granular), "[{\"marking_ref\":\"%s\",\"selectors\":[\"pattern\"]}]", h->energy);
	assert_int_equal(decide_granular(a, refs, granular, &x), KY_OK);
	snprintf(want, sizeof(want), "c&s:energy,m:%lld", v);
	assert_string_equal(keys_of(&x), want);

	/* A RED pattern naming no member: the provider alone. A looser marking: nothing. */
	snprintf(granular, sizeof(granular),
		 "[{\"marking_ref\":\"marking-definition--e828b379-4e03-4974-9ac4-e53a884c97c1\",\"selectors\":[\"pattern\"]},"
		 "{\"marking_ref\":\"marking-definition--94868c89-83c2-464b-929b-a1a8aa3c8487\",\"selectors\":[\"description\"]}]");
	assert_int_equal(decide_granular(a, "[]", granular, &x), KY_OK);
	snprintf(want, sizeof(want), "m:%lld", v);
	assert_string_equal(keys_of(&x), want);
	assert_null(x.parts);

	/* A marking the hub does not hold on the description: provider only, with a warning. */
	assert_int_equal(decide_granular(a, "[]",
					 "[{\"marking_ref\":\"marking-definition--00000000-0000-4000-8000-000000000002\","
					 "\"selectors\":[\"description\"]},{\"lang\":\"en\",\"selectors\":[\"pattern\"]}]",
					 &x),
			 KY_OK);
	snprintf(want, sizeof(want), "[{\"selector\":\"description\",\"keys\":[\"m:%lld\"]}]", v);
	assert_string_equal(x.parts, want);
	assert_non_null(strstr(x.warning, "marking-definition--00000000-0000-4000-8000-000000000002"));
	assert_non_null(strstr(x.warning, "description"));
	ky_admitted_clear(&x);
	ky_admission_free(a);
}

/* A member provides as itself: a created_by_ref naming another member is refused, its own or
 * an identity outside the hub is not; the secretariat may name anyone. */
static void test_created_by_ref(void **state)
{
	hub *h = *state;
	char refs[256];
	ky_admitted x;
	ky_admission *a = admission(h, &h->vendor, KY_TLP_AMBER, NULL);
	snprintf(refs, sizeof(refs), ",\"created_by_ref\":\"%s\"", h->water.identity_id);
	assert_int_equal(decide(a, refs, &x), KY_EDENIED);
	assert_non_null(strstr(ky_error_last(), "water-d"));
	snprintf(refs, sizeof(refs), ",\"created_by_ref\":\"%s\"", h->vendor.identity_id);
	assert_int_equal(decide(a, refs, &x), KY_OK);
	ky_admitted_clear(&x);
	assert_int_equal(decide(a, ",\"created_by_ref\":\"identity--c78cb6e5-0c4b-4611-8297-d1b8b55e40b5\"", &x), KY_OK);
	ky_admitted_clear(&x);
	ky_admission_free(a);
	a = admission(h, &h->sec, KY_TLP_AMBER, NULL);
	snprintf(refs, sizeof(refs), ",\"created_by_ref\":\"%s\"", h->water.identity_id);
	assert_int_equal(decide(a, refs, &x), KY_OK);
	assert_true(x.access.any_object);
	ky_admitted_clear(&x);
	ky_admission_free(a);
}

/* What other members read of a version: every reference to a member's identity (its
 * provider's, another member's) replaced by that member's pseudonym for the version's
 * audience (the same on every version of that audience, another for another audience), the
 * secretariat's and third parties' kept; nothing to replace, no second form. */
static void test_shared_form(void **state)
{
	hub *h = *state;
	char refs[512];
	ky_admitted x, y;
	ky_admission *a = admission(h, &h->vendor, KY_TLP_AMBER, NULL);
	snprintf(refs, sizeof(refs),
		 ",\"created_by_ref\":\"%s\",\"external_references\":[{\"source_name\":\"x\",\"external_id\":\"%s\"}],"
		 "\"x_seen\":{\"by_refs\":[\"%s\",\"%s\",\"identity--c78cb6e5-0c4b-4611-8297-d1b8b55e40b5\"]}",
		 h->vendor.identity_id, h->vendor.identity_id, h->water.identity_id, h->sec.identity_id);
	assert_int_equal(decide(a, refs, &x), KY_OK);
	assert_non_null(x.shared);
	assert_ptr_equal(x.access.shared, x.shared);
	json_t *o = json_loads(x.shared, 0, NULL);
	assert_non_null(o);
	const char *vendor = json_string_value(json_object_get(o, "created_by_ref"));
	json_t *by = json_object_get(json_object_get(o, "x_seen"), "by_refs");
	const char *water = json_string_value(json_array_get(by, 0));
	assert_string_not_equal(vendor, h->vendor.identity_id);
	assert_memory_equal(vendor, "identity--", 10);
	assert_string_not_equal(water, h->water.identity_id);
	assert_string_not_equal(water, vendor);
	assert_string_equal(json_string_value(json_array_get(by, 1)), h->sec.identity_id);
	assert_string_equal(json_string_value(json_array_get(by, 2)), "identity--c78cb6e5-0c4b-4611-8297-d1b8b55e40b5");
	/* Not a reference: left as it is (kyoyu does not rewrite text). */
	assert_non_null(strstr(x.shared, "\"external_id\":\""));
	assert_non_null(strstr(x.shared, h->vendor.identity_id));
	char pseudonym[64];
	snprintf(pseudonym, sizeof(pseudonym), "%s", vendor);
	/* Each pseudonym's identity once, to store beside it: the secretariat's, TLP:CLEAR, read by
	 * the version's audience (the community) and not by its provider's own key. */
	assert_int_equal(x.npseudonyms, 2);
	for (size_t i = 0; i < 2; i++) {
		const ky_admitted_pseudonym *p = &x.pseudonyms[i];
		assert_true(strcmp(p->id, vendor) == 0 || strcmp(p->id, water) == 0);
		json_t *identity = json_loadb(p->raw, p->raw_len, 0, NULL);
		assert_non_null(identity);
		assert_string_equal(json_string_value(json_object_get(identity, "id")), p->id);
		assert_string_equal(json_string_value(json_object_get(identity, "type")), "identity");
		assert_string_equal(json_string_value(json_object_get(identity, "modified")), KY_PSEUDONYM_CREATED);
		json_decref(identity);
		assert_null(strstr(p->raw, "Vendor"));
		assert_null(strstr(p->raw, h->vendor.identity_id));
	}
	assert_string_not_equal(x.pseudonyms[0].id, x.pseudonyms[1].id);
	assert_int_equal(x.pseudonym_access.provider, h->sec.id);
	assert_true(x.pseudonym_access.any_object);
	assert_int_equal(x.pseudonym_access.tlp, KY_TLP_CLEAR);
	assert_int_equal(x.pseudonym_access.nkeys, 1);
	assert_string_equal(x.pseudonym_access.keys[0], "*");
	json_decref(o);

	/* The same audience, the same pseudonym; another audience, another. */
	snprintf(refs, sizeof(refs), ",\"created_by_ref\":\"%s\"", h->vendor.identity_id);
	assert_int_equal(decide(a, refs, &y), KY_OK);
	assert_non_null(strstr(y.shared, pseudonym));
	ky_admitted_clear(&y);
	snprintf(refs, sizeof(refs), ",\"created_by_ref\":\"%s\",\"object_marking_refs\":[\"%s\"]", h->vendor.identity_id,
		 h->energy);
	assert_int_equal(decide(a, refs, &y), KY_OK);
	assert_non_null(y.shared);
	assert_null(strstr(y.shared, pseudonym));
	assert_null(strstr(y.shared, h->vendor.identity_id));
	ky_admitted_clear(&y);
	ky_admitted_clear(&x);
	assert_null(x.shared);

	/* Nothing to replace: one form. */
	assert_int_equal(decide(a, ",\"created_by_ref\":\"identity--c78cb6e5-0c4b-4611-8297-d1b8b55e40b5\"", &x), KY_OK);
	assert_null(x.shared);
	assert_null(x.access.shared);
	ky_admitted_clear(&x);
	ky_admission_free(a);
	/* The secretariat publishes under its own name. */
	a = admission(h, &h->sec, KY_TLP_AMBER, NULL);
	snprintf(refs, sizeof(refs), ",\"created_by_ref\":\"%s\"", h->sec.identity_id);
	assert_int_equal(decide(a, refs, &x), KY_OK);
	assert_null(x.shared);
	ky_admitted_clear(&x);
	ky_admission_free(a);
}

#define NAMED "marking-definition--fc03263f-2db5-4668-8dcb-350ec72af52a"

/* A provider that lists the named marking keeps its own references, never another member's;
 * the secretariat cannot name a member by it. A member's own identity object is kept for the
 * member unless it chose to be named. */
static void test_named_and_own_identity(void **state)
{
	hub *h = *state;
	char refs[512];
	ky_admitted x;
	ky_admission *a = admission(h, &h->vendor, KY_TLP_AMBER, NULL);
	snprintf(refs, sizeof(refs),
		 ",\"created_by_ref\":\"%s\",\"object_refs\":[\"%s\"],\"object_marking_refs\":[\"%s\"],\"description\":\"Vendor A\"",
		 h->vendor.identity_id, h->water.identity_id, NAMED);
	assert_int_equal(decide(a, refs, &x), KY_OK);
	assert_false(x.unresolved);
	assert_string_equal(x.warning, "");
	assert_non_null(x.shared);
	assert_non_null(strstr(x.shared, h->vendor.identity_id));
	assert_null(strstr(x.shared, h->water.identity_id));
	assert_int_equal(x.npseudonyms, 1);
	ky_admitted_clear(&x);

	char own[1024];
	snprintf(own, sizeof(own),
		 "{\"type\":\"identity\",\"spec_version\":\"2.1\",\"id\":\"%s\",\"created\":\"2020-01-01T00:00:00.000Z\","
		 "\"modified\":\"2020-01-01T00:00:00.000Z\",\"name\":\"Vendor A\"%s}",
		 h->vendor.identity_id, "");
	json_t *o = json_loads(own, 0, NULL);
	assert_int_equal(ky_admission_decide(a, o, &x), KY_OK);
	json_decref(o);
	char want[64];
	snprintf(want, sizeof(want), "m:%lld", (long long)h->vendor.id);
	assert_string_equal(keys_of(&x), want);
	assert_non_null(strstr(x.warning, "is your own identity"));
	ky_admitted_clear(&x);
	snprintf(own, sizeof(own),
		 "{\"type\":\"identity\",\"spec_version\":\"2.1\",\"id\":\"%s\",\"created\":\"2020-01-01T00:00:00.000Z\","
		 "\"modified\":\"2020-01-01T00:00:00.000Z\",\"name\":\"Vendor A\",\"object_marking_refs\":[\"%s\"]}",
		 h->vendor.identity_id, NAMED);
	o = json_loads(own, 0, NULL);
	assert_int_equal(ky_admission_decide(a, o, &x), KY_OK);
	json_decref(o);
	snprintf(want, sizeof(want), "*,m:%lld", (long long)h->vendor.id);
	assert_string_equal(keys_of(&x), want);
	assert_string_equal(x.warning, "");
	ky_admitted_clear(&x);
	ky_admission_free(a);

	/* The secretariat cannot name a member by it: the member stays pseudonymous. */
	a = admission(h, &h->sec, KY_TLP_AMBER, NULL);
	snprintf(refs, sizeof(refs), ",\"created_by_ref\":\"%s\",\"object_marking_refs\":[\"%s\"]", h->vendor.identity_id,
		 NAMED);
	assert_int_equal(decide(a, refs, &x), KY_OK);
	assert_non_null(x.shared);
	assert_null(strstr(x.shared, h->vendor.identity_id));
	ky_admitted_clear(&x);
	ky_admission_free(a);
}

/* A member's object whose text names it is stored with a warning saying where: references
 * are pseudonymised, text is not. Its own identity as a reference is no mention; the
 * secretariat, which is not anonymous, gets no warning. */
static void test_mentions_of_the_provider(void **state)
{
	hub *h = *state;
	ky_admitted x;
	ky_admission *a = admission(h, &h->vendor, KY_TLP_AMBER, NULL);
	assert_int_equal(decide(a, ",\"description\":\"seen at the SOC of vendor a, in Osaka\"", &x), KY_OK);
	assert_non_null(strstr(x.warning, "description names your organisation (\"Vendor A\")"));
	assert_false(x.unresolved);
	ky_admitted_clear(&x);
	assert_int_equal(decide(a, ",\"external_references\":[{\"source_name\":\"VENDOR-A-reports\"}]", &x), KY_OK);
	assert_non_null(strstr(x.warning, "source_name names your organisation (\"vendor-a\")"));
	ky_admitted_clear(&x);
	char refs[256];
	snprintf(refs, sizeof(refs), ",\"created_by_ref\":\"%s\",\"name\":\"a plain indicator\"", h->vendor.identity_id);
	assert_int_equal(decide(a, refs, &x), KY_OK);
	assert_string_equal(x.warning, "");
	ky_admitted_clear(&x);
	/* With an unresolved marking: both said, and the version still waits for its marking. */
	assert_int_equal(decide(a,
				",\"object_marking_refs\":[\"marking-definition--0b4ff8e1-1a3b-4c3e-9f0a-2d1c5e7b9a01\"],"
				"\"description\":\"Vendor A\"",
				&x),
			 KY_OK);
	assert_true(x.unresolved);
	assert_non_null(strstr(x.warning, "which this hub does not hold"));
	assert_non_null(strstr(x.warning, "; description names your organisation"));
	ky_admitted_clear(&x);
	ky_admission_free(a);
	a = admission(h, &h->sec, KY_TLP_AMBER, NULL);
	char text[512];
	snprintf(text, sizeof(text), ",\"description\":\"from %s\"", h->sec.title);
	assert_int_equal(decide(a, text, &x), KY_OK);
	assert_string_equal(x.warning, "");
	ky_admitted_clear(&x);
	ky_admission_free(a);
}

int main(void)
{
	snprintf(dir, sizeof(dir), "/tmp/ky-test-admission-XXXXXX");
	if (mkdtemp(dir) == NULL)
		return 1;
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_audiences, setup, teardown),
		cmocka_unit_test_setup_teardown(test_access_from_markings, setup, teardown),
		cmocka_unit_test_setup_teardown(test_created_by_ref, setup, teardown),
		cmocka_unit_test_setup_teardown(test_shared_form, setup, teardown),
		cmocka_unit_test_setup_teardown(test_named_and_own_identity, setup, teardown),
		cmocka_unit_test_setup_teardown(test_mentions_of_the_provider, setup, teardown),
		cmocka_unit_test_setup_teardown(test_granular, setup, teardown),
	};
	int failed = cmocka_run_group_tests(tests, NULL, NULL);
	ky_test_remove_dir(dir);
	return failed;
}
