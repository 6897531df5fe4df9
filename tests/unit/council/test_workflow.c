/*
 * test_workflow: the council workflow (council/workflow.h over store/store_reports.h), on the
 * backend under test. Reports made of submissions; the aggregated confidence with the exact
 * values of docs/council.md's formula (computed here from that text); every pair of states
 * against the transition table of docs/council.md (written here from it); two racing changes,
 * of which one wins; the promotion queue following feedback and rules; a report absorbing its
 * provider's single-object reports; feedback that the giver may not read being no feedback;
 * and the state rule in the versions' keys before and after promotion.
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

#include "council/council.h"
#include "council/workflow.h"
#include "ky_test_hub.h"
#include "util/ky_error.h"

static char dir[64];

typedef struct hub {
	char location[512];
	ky_store *s;
	ky_viewer *vendor_a, *vendor_b, *vendor_c, *city;
	char identity_a[KY_STORE_IDENTITY_MAX], identity_b[KY_STORE_IDENTITY_MAX], identity_c[KY_STORE_IDENTITY_MAX];
	char identity_city[KY_STORE_IDENTITY_MAX];
	int serial;
} hub;

static const ky_council_caller operator = {NULL, "test"};
static const ky_workflow_caller secretariat = {.via = "test"};

static ky_viewer *member_with_analyst(ky_store *s, const char *name, ky_tier tier, char identity[KY_STORE_IDENTITY_MAX])
{
	ky_council_member_new m = {.name = name, .tier = tier};
	ky_store_member out;
	assert_int_equal(ky_council_member_add(s, &operator, &m, "the test's member", &out), KY_OK);
	snprintf(identity, KY_STORE_IDENTITY_MAX, "%s", out.identity_id);
	char user[80];
	snprintf(user, sizeof(user), "%s-analyst", name);
	ky_store_user u;
	assert_int_equal(ky_council_user_add(s, &operator, user, name, KY_ROLE_ANALYST, "the test's user", &u), KY_OK);
	ky_auth_identity who = {.user_id = u.id, .role = u.role, .member_id = u.member_id, .tier = u.tier};
	snprintf(who.user, sizeof(who.user), "%s", u.name);
	snprintf(who.member, sizeof(who.member), "%s", u.member);
	ky_viewer *v = malloc(sizeof(*v));
	assert_non_null(v);
	assert_int_equal(ky_policy_viewer(s, NULL, &who, v), KY_OK);
	return v;
}

static int setup(void **state)
{
	hub *h = calloc(1, sizeof(*h));
	static int n;
	char name[32];
	snprintf(name, sizeof(name), "workflow%d.db", n++);
	if (h == NULL || ky_test_hub_location(h->location, sizeof(h->location), dir, name) != 0)
		return -1;
	ky_store_options create = {.create = true};
	if (ky_store_open(&h->s, h->location, &create, NULL) != KY_OK)
		return -1;
	h->vendor_a = member_with_analyst(h->s, "vendor-a", KY_TIER_CONTRIBUTOR, h->identity_a);
	h->vendor_b = member_with_analyst(h->s, "vendor-b", KY_TIER_CONTRIBUTOR, h->identity_b);
	h->vendor_c = member_with_analyst(h->s, "vendor-c", KY_TIER_CONTRIBUTOR, h->identity_c);
	h->city = member_with_analyst(h->s, "city", KY_TIER_GENERAL, h->identity_city);
	assert_int_equal(ky_policy_publish(h->s), KY_OK);
	*state = h;
	return 0;
}

static int teardown(void **state)
{
	hub *h = *state;
	free(h->vendor_a);
	free(h->vendor_b);
	free(h->vendor_c);
	free(h->city);
	ky_store_close(h->s);
	ky_test_hub_drop(h->location);
	free(h);
	return 0;
}

static ky_workflow_caller as(const ky_viewer *v)
{
	return (ky_workflow_caller){.viewer = v, .via = "test"};
}

static void id_of(hub *h, const char *type, char out[KY_STORE_STIX_ID_MAX])
{
	snprintf(out, KY_STORE_STIX_ID_MAX, "%s--%08x-0000-4000-8000-000000000000", type, (unsigned)++h->serial);
}

typedef struct outcomes {
	size_t stored, refused;
} outcomes;

static void count_outcome(void *ctx, const ky_ingest_report *r)
{
	outcomes *o = ctx;
	o->stored += r->outcome == KY_INGEST_STORED;
	o->refused += r->outcome == KY_INGEST_REFUSED;
}

/* Submits objects (taken) as v; every one must be stored. */
static void submit(hub *h, const ky_viewer *v, json_t *objects)
{
	ky_workflow_caller c = as(v);
	outcomes o = {0};
	ky_ingest_totals totals;
	assert_int_equal(ky_workflow_submit(h->s, NULL, &c, objects, NULL, 0, false, count_outcome, &o, &totals), KY_OK);
	assert_int_equal(o.refused, 0);
	assert_int_equal(o.stored, json_array_size(objects));
	json_decref(objects);
}

static json_t *indicator(hub *h, const char *identity, char id[KY_STORE_STIX_ID_MAX])
{
	id_of(h, "indicator", id);
	return json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s}", "type", "indicator", "spec_version", "2.1", "id", id,
			 "created", "2026-12-01T00:00:00.000Z", "modified", "2026-12-01T00:00:00.000Z", "created_by_ref",
			 identity, "pattern", "[ipv4-addr:value = '203.0.113.1']", "pattern_type", "stix", "valid_from",
			 "2026-12-01T00:00:00Z");
}

/* A STIX report of `identity` referring to refs, with the provider's confidence (-1: none). */
static json_t *report(hub *h, const char *identity, const char *const *refs, size_t n, int confidence,
		      char id[KY_STORE_STIX_ID_MAX])
{
	id_of(h, "report", id);
	json_t *list = json_array();
	for (size_t i = 0; i < n; i++)
		json_array_append_new(list, json_string(refs[i]));
	json_t *r = json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:o}", "type", "report", "spec_version", "2.1", "id", id,
			      "created", "2026-12-01T00:00:00.000Z", "modified", "2026-12-01T00:00:00.000Z", "created_by_ref",
			      identity, "name", "a report", "published", "2026-12-01T00:00:00Z", "object_refs", list);
	if (confidence >= 0)
		json_object_set_new(r, "confidence", json_integer(confidence));
	return r;
}

static json_t *opinion(hub *h, const char *identity, const char *value, const char *target)
{
	char id[KY_STORE_STIX_ID_MAX];
	id_of(h, "opinion", id);
	return json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:[s]}", "type", "opinion", "spec_version", "2.1", "id", id,
			 "created", "2026-12-01T00:00:00.000Z", "modified", "2026-12-01T00:00:00.000Z", "created_by_ref",
			 identity, "opinion", value, "object_refs", target);
}

static ky_store_report get(hub *h, const char *id)
{
	ky_store_report r;
	assert_int_equal(ky_store_report_get(h->s, id, &r), KY_OK);
	return r;
}

/* docs/council.md: the prior counts as two members, each other member once by the value of its
 * latest opinion, the mean rounded half up. */
static int formula(int prior, const int *values, int n)
{
	int total = 2 * prior, weight = 2 + n;
	for (int i = 0; i < n; i++)
		total += values[i];
	return (2 * total + weight) / (2 * weight);
}

/* A report whose STIX report (confidence 80) covers an indicator; B's three opinions count as
 * its last; C's as its own; the provider's opinion on its own report is no feedback. */
static void test_confidence(void **state)
{
	hub *h = *state;
	char ind[KY_STORE_STIX_ID_MAX], rep[KY_STORE_STIX_ID_MAX];
	json_t *i = indicator(h, h->identity_a, ind);
	const char *refs[] = {ind};
	json_t *r = report(h, h->identity_a, refs, 1, 80, rep);
	submit(h, h->vendor_a, json_pack("[o,o]", i, r));
	ky_store_report got = get(h, rep);
	assert_int_equal(got.state, KY_REPORT_UNCONFIRMED);
	assert_int_equal(got.prior, 80);
	assert_int_equal(got.confidence, 80);

	submit(h, h->vendor_b, json_pack("[o,o,o]", opinion(h, h->identity_b, "disagree", rep),
					 opinion(h, h->identity_b, "strongly-disagree", ind), opinion(h, h->identity_b, "agree", rep)));
	int b_only[] = {75};
	got = get(h, rep);
	assert_int_equal(got.confidence, formula(80, b_only, 1));
	assert_int_equal(got.agree, 1);
	assert_int_equal(got.disagree, 0);

	submit(h, h->vendor_c, json_pack("[o]", opinion(h, h->identity_c, "strongly-disagree", ind)));
	int both[] = {75, 0};
	got = get(h, rep);
	assert_int_equal(got.confidence, formula(80, both, 2));
	assert_int_equal(got.disagree, 1);

	submit(h, h->vendor_a, json_pack("[o]", opinion(h, h->identity_a, "strongly-agree", rep)));
	assert_int_equal(get(h, rep).confidence, formula(80, both, 2));

	/* Without a confidence of its own the prior is 50. */
	char single[KY_STORE_STIX_ID_MAX];
	submit(h, h->vendor_a, json_pack("[o]", indicator(h, h->identity_a, single)));
	assert_int_equal(get(h, single).prior, 50);
}

/* docs/council.md's table, written here from it: which transitions are allowed. */
static bool allowed(ky_report_state from, ky_report_state to)
{
	return (from == KY_REPORT_UNCONFIRMED &&
		(to == KY_REPORT_COUNTERMEASURE || to == KY_REPORT_REFUTED || to == KY_REPORT_WITHDRAWN)) ||
	       (from == KY_REPORT_REFUTED && to == KY_REPORT_UNCONFIRMED) ||
	       (from == KY_REPORT_COUNTERMEASURE && to == KY_REPORT_REVOKED);
}

/* A fresh report of vendor A brought to `state` by allowed transitions. */
static void report_in(hub *h, ky_report_state state, char id[KY_STORE_STIX_ID_MAX])
{
	submit(h, h->vendor_a, json_pack("[o]", indicator(h, h->identity_a, id)));
	static const ky_report_state path[KY_REPORT_STATES][3] = {
		[KY_REPORT_UNCONFIRMED] = {KY_REPORT_UNCONFIRMED},
		[KY_REPORT_COUNTERMEASURE] = {KY_REPORT_COUNTERMEASURE},
		[KY_REPORT_REFUTED] = {KY_REPORT_REFUTED},
		[KY_REPORT_WITHDRAWN] = {KY_REPORT_WITHDRAWN},
		[KY_REPORT_REVOKED] = {KY_REPORT_COUNTERMEASURE, KY_REPORT_REVOKED},
	};
	for (int k = 0; k < 3 && state != KY_REPORT_UNCONFIRMED; k++) {
		ky_report_state step = path[state][k];
		assert_int_equal(ky_workflow_transition(h->s, NULL, &secretariat, id, step, "to set up", NULL, NULL), KY_OK);
		if (step == state)
			break;
	}
	assert_int_equal(get(h, id).state, state);
}

static void test_every_transition(void **state)
{
	hub *h = *state;
	for (int from = 0; from < KY_REPORT_STATES; from++)
		for (int to = 0; to < KY_REPORT_STATES; to++) {
			char id[KY_STORE_STIX_ID_MAX];
			report_in(h, (ky_report_state)from, id);
			int rc = ky_workflow_transition(h->s, NULL, &secretariat, id, (ky_report_state)to, "tried", NULL, NULL);
			if (allowed((ky_report_state)from, (ky_report_state)to)) {
				assert_int_equal(rc, KY_OK);
				assert_int_equal(get(h, id).state, to);
				continue;
			}
			assert_int_equal(rc, KY_ECONFLICT);
			char said[256];
			snprintf(said, sizeof(said), "is %s", ky_report_state_name((ky_report_state)from));
			assert_non_null(strstr(ky_error_last(), said));
			bool final = from == KY_REPORT_WITHDRAWN || from == KY_REPORT_REVOKED;
			assert_non_null(strstr(ky_error_last(), final ? "which is final" : "it can only be"));
			assert_int_equal(get(h, id).state, from);
		}
	/* Who: the provider withdraws its own; another contributor may not; nobody without the
	 * secretariat promotes. */
	char id[KY_STORE_STIX_ID_MAX];
	report_in(h, KY_REPORT_UNCONFIRMED, id);
	ky_workflow_caller b = as(h->vendor_b), a = as(h->vendor_a), city = as(h->city);
	assert_int_equal(ky_workflow_transition(h->s, NULL, &b, id, KY_REPORT_WITHDRAWN, "not mine", NULL, NULL),
			 KY_EDENIED);
	assert_int_equal(ky_workflow_transition(h->s, NULL, &a, id, KY_REPORT_COUNTERMEASURE, "mine", NULL, NULL),
			 KY_EDENIED);
	assert_int_equal(ky_workflow_transition(h->s, NULL, &city, id, KY_REPORT_WITHDRAWN, "hidden", NULL, NULL),
			 KY_ENOTFOUND);
	assert_int_equal(ky_workflow_transition(h->s, NULL, &a, id, KY_REPORT_WITHDRAWN, "", NULL, NULL), KY_EINVALID);
	assert_int_equal(ky_workflow_transition(h->s, NULL, &a, id, KY_REPORT_WITHDRAWN, "ours", NULL, NULL), KY_OK);
}

/* Two changes from the same state: the second finds the report changed and is refused. */
static void test_racing_changes(void **state)
{
	hub *h = *state;
	char id[KY_STORE_STIX_ID_MAX];
	report_in(h, KY_REPORT_UNCONFIRMED, id);
	ky_store_actor actor = {.via = "test"};
	ky_store_transition refute = {.report = id, .from = KY_REPORT_UNCONFIRMED, .to = KY_REPORT_REFUTED, .actor = &actor,
				      .reason = "first"};
	ky_store_transition withdraw = {.report = id, .from = KY_REPORT_UNCONFIRMED, .to = KY_REPORT_WITHDRAWN,
					.actor = &actor, .reason = "second"};
	assert_int_equal(ky_store_report_transition(h->s, &refute), KY_OK);
	assert_int_equal(ky_store_report_transition(h->s, &withdraw), KY_ECONFLICT);
	assert_non_null(strstr(ky_error_last(), "is refuted now, not unconfirmed"));
	assert_int_equal(get(h, id).state, KY_REPORT_REFUTED);
}

static int count_report(void *ctx, const ky_store_report *r)
{
	(void)r;
	(*(size_t *)ctx)++;
	return 0;
}

static size_t queue_length(hub *h)
{
	size_t n = 0;
	ky_store_report_filter f = {.state = -1, .proposed = true};
	assert_int_equal(ky_store_report_list(h->s, &f, count_report, &n, NULL), KY_OK);
	return n;
}

/* The queue follows the feedback and the rules: a report meets a rule, leaves the queue when a
 * disagreement breaks it, and a removed rule proposes nothing. */
static void test_queue(void **state)
{
	hub *h = *state;
	char id[KY_STORE_STIX_ID_MAX];
	submit(h, h->vendor_a, json_pack("[o]", indicator(h, h->identity_a, id)));
	ky_store_actor actor = {.via = "test"};
	ky_store_rule rule = {.name = "quorum", .min_agree = 1, .max_disagree = 0, .min_confidence = 55};
	assert_int_equal(ky_store_rule_add(h->s, &rule, &actor, "a rule", NULL), KY_OK);
	assert_int_equal(queue_length(h), 0);
	submit(h, h->vendor_b, json_pack("[o]", opinion(h, h->identity_b, "agree", id)));
	ky_store_report r = get(h, id);
	assert_int_equal(queue_length(h), 1);
	assert_string_equal(r.rule_name, "quorum");
	submit(h, h->vendor_c, json_pack("[o]", opinion(h, h->identity_c, "disagree", id)));
	assert_int_equal(queue_length(h), 0);
	submit(h, h->vendor_c, json_pack("[o]", opinion(h, h->identity_c, "neutral", id)));
	assert_int_equal(queue_length(h), 1);
	assert_int_equal(ky_store_rule_remove(h->s, "quorum", &actor, "gone"), KY_OK);
	assert_int_equal(queue_length(h), 0);
	assert_int_equal(ky_store_rule_remove(h->s, "quorum", &actor, "again"), KY_ENOTFOUND);
	ky_store_rule bad = {.name = "x", .min_confidence = 101, .max_disagree = -1};
	assert_int_equal(ky_workflow_rule_check(&bad), KY_EINVALID);
}

static int add_object(void *ctx, const char *id)
{
	json_array_append_new(ctx, json_string(id));
	return 0;
}

/* An indicator submitted alone is a report of its own; a later STIX report of the same
 * provider that names it absorbs it, with the feedback it had. */
static void test_report_absorbs(void **state)
{
	hub *h = *state;
	char ind[KY_STORE_STIX_ID_MAX], rep[KY_STORE_STIX_ID_MAX];
	submit(h, h->vendor_a, json_pack("[o]", indicator(h, h->identity_a, ind)));
	submit(h, h->vendor_b, json_pack("[o]", opinion(h, h->identity_b, "agree", ind)));
	assert_int_equal(get(h, ind).agree, 1);
	const char *refs[] = {ind};
	submit(h, h->vendor_a, json_pack("[o]", report(h, h->identity_a, refs, 1, -1, rep)));
	ky_store_report r;
	assert_int_equal(ky_store_report_get(h->s, ind, &r), KY_ENOTFOUND);
	r = get(h, rep);
	assert_int_equal(r.agree, 1);
	json_t *objects = json_array();
	assert_int_equal(ky_store_report_objects(h->s, rep, add_object, objects), KY_OK);
	assert_int_equal(json_array_size(objects), 2);
	assert_string_equal(json_string_value(json_array_get(objects, 0)), rep);
	json_decref(objects);
}

/* The general member cannot read a contributor's unconfirmed report: its opinion on it is no
 * feedback, but a report of its own. */
static void test_unread_is_no_feedback(void **state)
{
	hub *h = *state;
	char id[KY_STORE_STIX_ID_MAX];
	submit(h, h->vendor_a, json_pack("[o]", indicator(h, h->identity_a, id)));
	json_t *o = opinion(h, h->identity_city, "agree", id);
	char oid[KY_STORE_STIX_ID_MAX];
	snprintf(oid, sizeof(oid), "%s", json_string_value(json_object_get(o, "id")));
	submit(h, h->city, json_pack("[o]", o));
	assert_int_equal(get(h, id).agree, 0);
	ky_store_report own = get(h, oid);
	assert_int_equal(own.provider, h->city->who.member_id);
	ky_workflow_caller city = as(h->city);
	ky_store_report r;
	assert_int_equal(ky_workflow_report(h->s, &city, id, &r), KY_ENOTFOUND);
	assert_int_equal(ky_workflow_report(h->s, &city, oid, &r), KY_OK);
}

static int add_key(void *ctx, const char *key)
{
	json_array_append_new(ctx, json_string(key));
	return 0;
}

static bool has_key(hub *h, const char *id, const char *key)
{
	json_t *keys = json_array();
	assert_int_equal(ky_store_object_keys(h->s, id, add_key, keys), KY_OK);
	bool found = false;
	size_t i;
	json_t *k;
	json_array_foreach(keys, i, k)
		found = found || strcmp(json_string_value(k), key) == 0;
	json_decref(keys);
	return found;
}

/* The state rule as keys: the community's key is the contributors' until promotion. */
static void test_state_rule_keys(void **state)
{
	hub *h = *state;
	char id[KY_STORE_STIX_ID_MAX];
	submit(h, h->vendor_a, json_pack("[o]", indicator(h, h->identity_a, id)));
	assert_true(has_key(h, id, "c"));
	assert_false(has_key(h, id, "*"));
	assert_int_equal(ky_workflow_transition(h->s, NULL, &secretariat, id, KY_REPORT_COUNTERMEASURE, "confirmed", NULL,
						NULL),
			 KY_OK);
	assert_true(has_key(h, id, "*"));
	assert_false(has_key(h, id, "c"));
	ky_workflow_caller city = as(h->city);
	ky_store_report r;
	assert_int_equal(ky_workflow_report(h->s, &city, id, &r), KY_OK);
}

static int remove_dir(void **state)
{
	(void)state;
	ky_test_remove_dir(dir);
	return 0;
}

int main(void)
{
	snprintf(dir, sizeof(dir), "/tmp/ky-test-workflow-XXXXXX");
	if (mkdtemp(dir) == NULL)
		return 1;
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_confidence, setup, teardown),
		cmocka_unit_test_setup_teardown(test_every_transition, setup, teardown),
		cmocka_unit_test_setup_teardown(test_racing_changes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_queue, setup, teardown),
		cmocka_unit_test_setup_teardown(test_report_absorbs, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unread_is_no_feedback, setup, teardown),
		cmocka_unit_test_setup_teardown(test_state_rule_keys, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, remove_dir);
}
