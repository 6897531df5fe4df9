/*
 * test_council: the council's records and who may change them (council/council.h over
 * store/store_council.h), on the backend under test. Members with their identities, users
 * and roles, groups whose membership only the secretariat sees, the rules and their
 * acceptance, keys, the record of every change, and, on PostgreSQL, writes retried after a
 * connection lost at COMMIT that happen once.
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
#include "ky_test_hub.h"
#include "stix/stix_validate.h"
#include "store/store_council.h"
#include "util/ky_error.h"

static char dir[64];

typedef struct hub {
	char location[512];
	ky_store *s;
} hub;

static int setup(void **state)
{
	hub *h = calloc(1, sizeof(*h));
	static int n;
	char name[32];
	snprintf(name, sizeof(name), "council%d.db", n++);
	if (h == NULL || ky_test_hub_location(h->location, sizeof(h->location), dir, name) != 0)
		return -1;
	ky_store_options create = {.create = true};
	if (ky_store_open(&h->s, h->location, &create, NULL) != KY_OK)
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

static const ky_council_caller operator = {NULL, "test"};

/* A member of `tier` named `name`. */
static void add_member(ky_store *s, const char *name, ky_tier tier)
{
	ky_council_member_new m = {.name = name, .tier = tier};
	assert_int_equal(ky_council_member_add(s, &operator, &m, "the test's member", NULL), KY_OK);
}

/* A user of member `member` with `role`, and the identity a key of theirs would carry. */
static ky_auth_identity add_user(ky_store *s, const char *name, const char *member, ky_role role)
{
	ky_store_user u;
	assert_int_equal(ky_council_user_add(s, &operator, name, member, role, "the test's user", &u), KY_OK);
	ky_auth_identity who = {.user_id = u.id, .role = u.role, .member_id = u.member_id, .tier = u.tier};
	snprintf(who.user, sizeof(who.user), "%s", u.name);
	snprintf(who.member, sizeof(who.member), "%s", u.member);
	return who;
}

static int count(void *ctx, const ky_store_member *x)
{
	(void)x;
	(*(size_t *)ctx)++;
	return 0;
}

/* A fresh hub has its secretariat, with a valid STIX identity. */
static void test_secretariat_at_creation(void **state)
{
	hub *h = *state;
	ky_store_member m;
	assert_int_equal(ky_store_member_get(h->s, "secretariat", &m), KY_OK);
	assert_int_equal(m.tier, KY_TIER_SECRETARIAT);
	assert_false(m.suspended);
	assert_int_equal(strncmp(m.identity_id, "identity--", 10), 0);
	/* Made again by migrate or init: still one. */
	ky_store_actor a = {.via = "test"};
	assert_int_equal(ky_store_secretariat_ensure(h->s, &a, NULL), KY_OK);
	size_t n = 0;
	bool more = true;
	assert_int_equal(ky_store_member_list(h->s, NULL, 0, count, &n, &more), KY_OK);
	assert_int_equal(n, 1);
	assert_false(more);
}

/* A member's identity is a valid STIX 2.1 identity naming it, with its STIX sectors. */
static void test_member_identity(void **state)
{
	hub *h = *state;
	const char *sectors[] = {"finance", "security-vendor", "finance"};
	ky_council_member_new m = {.name = "acme", .title = "ACME 株式会社", .tier = KY_TIER_CONTRIBUTOR, .country = "JP",
				   .contact = "soc@acme.example", .sectors = sectors, .nsectors = 2};
	ky_store_member out;
	assert_int_equal(ky_council_member_add(h->s, &operator, &m, "a vendor joins", &out), KY_OK);
	assert_string_equal(out.title, "ACME 株式会社");
	assert_int_equal(out.nsectors, 2);
	assert_string_equal(out.sectors[0], "finance");
	char *json = NULL;
	assert_int_equal(ky_store_member_identity(h->s, "acme", &json), KY_OK);
	json_t *o = json_loads(json, 0, NULL);
	free(json);
	assert_non_null(o);
	ky_stix_problems *problems;
	assert_int_equal(ky_stix_problems_new(&problems), KY_OK);
	int verdict = ky_stix_validate_object(problems, o);
	if (verdict != KY_OK)
		fail_msg("the identity is not valid STIX: %s", ky_stix_problems_get(problems, 0));
	ky_stix_problems_free(problems);
	assert_string_equal(json_string_value(json_object_get(o, "id")), out.identity_id);
	assert_string_equal(json_string_value(json_object_get(o, "identity_class")), "organization");
	assert_string_equal(json_string_value(json_object_get(o, "name")), "ACME 株式会社");
	json_t *stix = json_object_get(o, "sectors");
	assert_int_equal(json_array_size(stix), 2);
	assert_string_equal(json_string_value(json_array_get(stix, 0)), "financial-services");
	assert_string_equal(json_string_value(json_array_get(stix, 1)), "technology");
	json_decref(o);
}

/* Bad input is refused with what was expected, and changes nothing. */
static void test_member_checks(void **state)
{
	hub *h = *state;
	const char *unknown[] = {"fishing"};
	struct {
		ky_council_member_new m;
		const char *reason;
		int rc;
		const char *message;
	} cases[] = {
		{{.name = "a b", .tier = KY_TIER_GENERAL}, "r", KY_EINVALID, "is not a member name"},
		{{.name = "-x", .tier = KY_TIER_GENERAL}, "r", KY_EINVALID, "is not a member name"},
		{{.name = "ok", .tier = KY_TIER_GENERAL, .country = "jp"}, "r", KY_EINVALID, "is not a country"},
		{{.name = "ok", .tier = KY_TIER_GENERAL, .contact = "soc"}, "r", KY_EINVALID, "not a contact e-mail"},
		{{.name = "ok", .tier = KY_TIER_GENERAL}, NULL, KY_EINVALID, "every change needs a reason"},
		{{.name = "ok", .tier = KY_TIER_GENERAL}, "   ", KY_EINVALID, "every change needs a reason"},
		{{.name = "ok", .tier = KY_TIER_GENERAL, .sectors = unknown, .nsectors = 1}, "r", KY_EINVALID,
		 "unknown sector \"fishing\" (this hub keeps: chemicals, energy, finance"},
		{{.name = "secretariat", .tier = KY_TIER_GENERAL}, "r", KY_EEXISTS, "a member named \"secretariat\" exists"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		assert_int_equal(ky_council_member_add(h->s, &operator, &cases[i].m, cases[i].reason, NULL), cases[i].rc);
		if (strstr(ky_error_last(), cases[i].message) == NULL)
			fail_msg("case %zu: \"%s\" lacks \"%s\"", i, ky_error_last(), cases[i].message);
	}
	ky_store_member m;
	assert_int_equal(ky_store_member_get(h->s, "ok", &m), KY_ENOTFOUND);
}

/* Who may see and change members, users and keys. */
static void test_roles(void **state)
{
	hub *h = *state;
	add_member(h->s, "acme", KY_TIER_CONTRIBUTOR);
	add_member(h->s, "city", KY_TIER_GENERAL);
	ky_auth_identity chief = add_user(h->s, "chief", "secretariat", KY_ROLE_ADMIN);
	ky_auth_identity clerk = add_user(h->s, "clerk", "secretariat", KY_ROLE_READER);
	ky_auth_identity city_admin = add_user(h->s, "city-admin", "city", KY_ROLE_ADMIN);
	ky_auth_identity city_reader = add_user(h->s, "city-reader", "city", KY_ROLE_READER);
	ky_auth_identity acme_analyst = add_user(h->s, "acme-analyst", "acme", KY_ROLE_ANALYST);
	ky_council_caller as_chief = {&chief, "api"}, as_clerk = {&clerk, "api"}, as_city = {&city_admin, "api"},
			  as_reader = {&city_reader, "api"}, as_acme = {&acme_analyst, "api"};
	ky_store_member m;
	ky_store_user u;
	ky_council_member_new newcomer = {.name = "newcomer", .tier = KY_TIER_GENERAL};

	/* Members: the secretariat's admins add; its staff see all; others only their own. */
	assert_int_equal(ky_council_member_add(h->s, &as_city, &newcomer, "r", NULL), KY_EDENIED);
	assert_int_equal(ky_council_member_add(h->s, &as_clerk, &newcomer, "r", NULL), KY_EDENIED);
	assert_int_equal(ky_council_member_add(h->s, &as_chief, &newcomer, "r", NULL), KY_OK);
	assert_int_equal(ky_council_member_get(h->s, &as_clerk, "acme", &m), KY_OK);
	assert_int_equal(ky_council_member_get(h->s, &as_city, "city", &m), KY_OK);
	assert_int_equal(ky_council_member_get(h->s, &as_city, "acme", &m), KY_ENOTFOUND);
	size_t n = 0;
	assert_int_equal(ky_council_member_list(h->s, &as_city, NULL, 0, count, &n, NULL), KY_EDENIED);
	assert_int_equal(ky_council_member_list(h->s, &as_clerk, NULL, 0, count, &n, NULL), KY_OK);
	ky_tier general = KY_TIER_GENERAL;
	bool suspend = true;
	assert_int_equal(ky_council_member_set(h->s, &as_city, "city", &general, NULL, "r", NULL), KY_EDENIED);
	assert_int_equal(ky_council_member_set(h->s, &as_city, "acme", NULL, &suspend, "r", NULL), KY_ENOTFOUND);

	/* Users: a member's admin manages its own; another member's do not exist for it. */
	assert_int_equal(ky_council_user_add(h->s, &as_city, "city-2", NULL, KY_ROLE_ANALYST, "r", &u), KY_OK);
	assert_string_equal(u.member, "city");
	assert_int_equal(u.rules_accepted, 0);
	assert_int_equal(ky_council_user_add(h->s, &as_city, "intruder", "acme", KY_ROLE_ADMIN, "r", NULL), KY_ENOTFOUND);
	assert_int_equal(ky_council_user_add(h->s, &as_reader, "city-3", NULL, KY_ROLE_READER, "r", NULL), KY_EDENIED);
	assert_int_equal(ky_council_user_get(h->s, &as_city, "acme-analyst", &u), KY_ENOTFOUND);
	assert_int_equal(ky_council_user_get(h->s, &as_reader, "city-reader", &u), KY_OK);
	assert_int_equal(ky_council_user_get(h->s, &as_reader, "city-admin", &u), KY_ENOTFOUND);
	ky_role admin = KY_ROLE_ADMIN;
	assert_int_equal(ky_council_user_set(h->s, &as_city, "acme-analyst", &admin, false, "r", NULL), KY_ENOTFOUND);
	assert_int_equal(ky_council_user_set(h->s, &as_city, "city-reader", &admin, false, "r", &u), KY_OK);
	assert_int_equal(u.role, KY_ROLE_ADMIN);
	n = 0;
	assert_int_equal(ky_council_user_list(h->s, &as_acme, NULL, NULL, 0, NULL, NULL, NULL), KY_EDENIED);
	assert_int_equal(ky_council_user_list(h->s, &as_city, "acme", NULL, 0, NULL, NULL, NULL), KY_ENOTFOUND);

	/* Keys: one's own, one's member's for an admin. */
	char key[KY_AUTH_KEY_MAX];
	assert_int_equal(ky_council_key_create(h->s, &as_acme, NULL, NULL, key, NULL), KY_OK);
	assert_int_equal(ky_council_key_create(h->s, &as_acme, "city-admin", NULL, key, NULL), KY_ENOTFOUND);
	assert_int_equal(ky_council_key_create(h->s, &as_city, "city-2", "its robot", key, NULL), KY_OK);
	char prefix[KY_STORE_KEY_PREFIX_LEN + 1];
	memcpy(prefix, key, KY_STORE_KEY_PREFIX_LEN);
	prefix[KY_STORE_KEY_PREFIX_LEN] = '\0';
	assert_int_equal(ky_council_key_revoke(h->s, &as_acme, prefix, NULL, NULL), KY_ENOTFOUND);
	assert_int_equal(ky_council_key_revoke(h->s, &as_chief, prefix, "lost", NULL), KY_OK);
	/* The operator makes the secretariat's users as having accepted the rules. */
	assert_int_equal(ky_council_rules_set(h->s, &as_chief, "Share and protect.", 18, "first rules", NULL), KY_OK);
	assert_int_equal(ky_council_user_add(h->s, &operator, "deputy", "secretariat", KY_ROLE_ADMIN, "r", &u), KY_OK);
	assert_int_equal(u.rules_accepted, 1);
	assert_int_equal(ky_council_user_add(h->s, &operator, "acme-2", "acme", KY_ROLE_ADMIN, "r", &u), KY_OK);
	assert_int_equal(u.rules_accepted, 0);
}

static int add_name(void *ctx, const char *member)
{
	json_array_append_new(ctx, json_string(member));
	return 0;
}

static int group_seen(void *ctx, const ky_store_group *g)
{
	json_array_append_new(ctx, json_string(g->name));
	return 0;
}

/* A member sees the groups it is in, never who else is; the secretariat sees the lists. */
static void test_groups_hidden(void **state)
{
	hub *h = *state;
	add_member(h->s, "bank-a", KY_TIER_GENERAL);
	add_member(h->s, "bank-b", KY_TIER_GENERAL);
	add_member(h->s, "power", KY_TIER_GENERAL);
	ky_auth_identity a = add_user(h->s, "a", "bank-a", KY_ROLE_ADMIN);
	ky_auth_identity p = add_user(h->s, "p", "power", KY_ROLE_ADMIN);
	ky_auth_identity clerk = add_user(h->s, "clerk", "secretariat", KY_ROLE_READER);
	ky_council_caller as_a = {&a, "api"}, as_p = {&p, "api"}, as_clerk = {&clerk, "api"};
	assert_int_equal(ky_council_group_create(h->s, &as_a, "fin-isac", "r", NULL), KY_EDENIED);
	assert_int_equal(ky_council_group_create(h->s, &operator, "fin-isac", "the finance ISAC", NULL), KY_OK);
	bool changed;
	assert_int_equal(ky_council_group_member(h->s, &operator, "fin-isac", "bank-a", true, "joins", &changed), KY_OK);
	assert_true(changed);
	assert_int_equal(ky_council_group_member(h->s, &operator, "fin-isac", "bank-b", true, "joins", NULL), KY_OK);
	assert_int_equal(ky_council_group_member(h->s, &operator, "fin-isac", "bank-a", true, "again", &changed), KY_OK);
	assert_false(changed);
	assert_int_equal(ky_council_group_member(h->s, &as_a, "fin-isac", "power", true, "r", NULL), KY_EDENIED);

	ky_store_group g;
	bool sees = true;
	assert_int_equal(ky_council_group_get(h->s, &as_a, "fin-isac", &g, &sees), KY_OK);
	assert_false(sees);
	json_t *o = ky_council_group_json(h->s, &g, sees);
	assert_null(json_object_get(o, "members"));
	json_decref(o);
	assert_int_equal(ky_council_group_get(h->s, &as_p, "fin-isac", &g, &sees), KY_ENOTFOUND);
	assert_int_equal(ky_council_group_get(h->s, &as_clerk, "fin-isac", &g, &sees), KY_OK);
	assert_true(sees);
	json_t *names = json_array();
	assert_int_equal(ky_store_group_members(h->s, g.id, add_name, names), KY_OK);
	assert_int_equal(json_array_size(names), 2);
	json_decref(names);
	json_t *listed = json_array();
	assert_int_equal(ky_council_group_list(h->s, &as_p, NULL, 0, group_seen, listed, NULL), KY_OK);
	assert_int_equal(json_array_size(listed), 0);
	assert_int_equal(ky_council_group_list(h->s, &as_a, NULL, 0, group_seen, listed, NULL), KY_OK);
	assert_int_equal(json_array_size(listed), 1);
	json_decref(listed);
	assert_int_equal(ky_council_group_member(h->s, &operator, "fin-isac", "bank-a", false, "leaves", &changed), KY_OK);
	assert_true(changed);
	assert_int_equal(ky_council_group_get(h->s, &as_a, "fin-isac", &g, NULL), KY_ENOTFOUND);
}

/* Rules: versions, acceptance of the one in force only, and the gate's view. */
static void test_rules(void **state)
{
	hub *h = *state;
	add_member(h->s, "acme", KY_TIER_CONTRIBUTOR);
	ky_auth_identity who = add_user(h->s, "bob", "acme", KY_ROLE_ANALYST);
	ky_council_caller as_bob = {&who, "api"};
	int64_t version = 0;
	assert_int_equal(ky_council_rules_accept(h->s, &as_bob, 1, NULL), KY_ENOTFOUND);
	assert_int_equal(ky_council_rules_set(h->s, &as_bob, "x", 1, "r", NULL), KY_EDENIED);
	assert_int_equal(ky_council_rules_set(h->s, &operator, "", 0, "r", NULL), KY_EINVALID);
	assert_int_equal(ky_council_rules_set(h->s, &operator, "\xff", 1, "r", NULL), KY_EINVALID);
	assert_int_equal(ky_council_rules_set(h->s, &operator, "Rule one.", 9, "first", &version), KY_OK);
	assert_int_equal(version, 1);
	assert_int_equal(ky_council_rules_set(h->s, &operator, "Rule one. Rule two.", 19, "second", &version), KY_OK);
	assert_int_equal(version, 2);
	assert_int_equal(ky_council_rules_accept(h->s, &as_bob, 1, NULL), KY_ECONFLICT);
	assert_non_null(strstr(ky_error_last(), "version 2"));
	assert_int_equal(ky_council_rules_accept(h->s, &operator, 2, NULL), KY_EDENIED);
	int64_t first = 0, again = 0;
	assert_int_equal(ky_council_rules_accept(h->s, &as_bob, 2, &first), KY_OK);
	assert_int_equal(ky_council_rules_accept(h->s, &as_bob, 2, &again), KY_OK);
	assert_int_equal(first, again);
	ky_store_rules r;
	assert_int_equal(ky_store_rules_get(h->s, &r), KY_OK);
	assert_int_equal(r.version, 2);
	assert_string_equal(r.text, "Rule one. Rule two.");
	ky_store_rules_clear(&r);
	ky_store_user u;
	assert_int_equal(ky_store_user_get(h->s, "bob", &u), KY_OK);
	assert_int_equal(u.rules_accepted, 2);
	ky_auth_identity pending = {.rules_version = 3, .rules_accepted = 2}, done = {.rules_version = 2, .rules_accepted = 2},
			 none = {0};
	assert_true(ky_council_rules_pending(&pending));
	assert_false(ky_council_rules_pending(&done));
	assert_false(ky_council_rules_pending(&none));
}

/* The hub keeps an active secretariat member. */
static void test_last_secretariat(void **state)
{
	hub *h = *state;
	bool suspend = true;
	ky_tier general = KY_TIER_GENERAL;
	assert_int_equal(ky_council_member_set(h->s, &operator, "secretariat", NULL, &suspend, "r", NULL), KY_ECONFLICT);
	assert_int_equal(ky_council_member_set(h->s, &operator, "secretariat", &general, NULL, "r", NULL), KY_ECONFLICT);
	add_member(h->s, "backup", KY_TIER_SECRETARIAT);
	ky_store_member m;
	assert_int_equal(ky_council_member_set(h->s, &operator, "secretariat", NULL, &suspend, "moves", &m), KY_OK);
	assert_true(m.suspended);
}

typedef struct changes {
	json_t *list;
} changes;

static int change_seen(void *ctx, const ky_store_change *c)
{
	changes *l = ctx;
	json_array_append_new(l->list, json_pack("{s:s,s:s,s:s,s:s,s:s}", "action", c->action, "subject", c->subject, "user",
						 c->user, "via", c->via, "reason", c->reason));
	return 0;
}

/* Every change is recorded once, with who, how and why; a no-op records nothing. */
static void test_change_record(void **state)
{
	hub *h = *state;
	add_member(h->s, "acme", KY_TIER_CONTRIBUTOR);
	ky_auth_identity chief = add_user(h->s, "chief", "secretariat", KY_ROLE_ADMIN);
	ky_council_caller as_chief = {&chief, "PATCH /api/v1/members/{name}"};
	bool suspend = true, resume = false;
	ky_tier contributor = KY_TIER_CONTRIBUTOR, general = KY_TIER_GENERAL;
	assert_int_equal(ky_council_member_set(h->s, &as_chief, "acme", &contributor, NULL, "no change", NULL), KY_OK);
	assert_int_equal(ky_council_member_set(h->s, &as_chief, "acme", &general, &suspend, "breach of rules", NULL), KY_OK);
	assert_int_equal(ky_council_member_set(h->s, &as_chief, "acme", NULL, &resume, "resolved", NULL), KY_OK);
	changes l = {json_array()};
	assert_int_equal(ky_store_change_list(h->s, 0, 0, change_seen, &l, NULL), KY_OK);
	/* secretariat, acme, chief; then set-tier and suspend in one call, and resume. */
	size_t n = json_array_size(l.list);
	assert_int_equal(n, 6);
	json_t *tier = json_array_get(l.list, 3), *sus = json_array_get(l.list, 4), *res = json_array_get(l.list, 5);
	assert_string_equal(json_string_value(json_object_get(tier, "action")), "member.set-tier");
	assert_string_equal(json_string_value(json_object_get(tier, "user")), "chief");
	assert_string_equal(json_string_value(json_object_get(tier, "via")), "PATCH /api/v1/members/{name}");
	assert_string_equal(json_string_value(json_object_get(tier, "reason")), "breach of rules");
	assert_string_equal(json_string_value(json_object_get(sus, "action")), "member.suspend");
	assert_string_equal(json_string_value(json_object_get(res, "action")), "member.resume");
	json_decref(l.list);
}

/* PostgreSQL: a connection lost between COMMIT and its answer; the retry finds its own
 * record and does not make the member twice or fail on its own row. */
static void test_retry_after_lost_commit(void **state)
{
	hub *h = *state;
	if (!ky_test_hub_is_pg())
		skip();
	ky_store_member m;
	ky_council_member_new in = {.name = "acme", .tier = KY_TIER_CONTRIBUTOR};
	ky_store_test_cut_after_commit(h->s, 1);
	assert_int_equal(ky_council_member_add(h->s, &operator, &in, "once", &m), KY_OK);
	assert_string_equal(m.name, "acme");
	ky_store_test_cut_after_commit(h->s, 1);
	assert_int_equal(ky_council_user_add(h->s, &operator, "bob", "acme", KY_ROLE_ANALYST, "once", NULL), KY_OK);
	ky_store_test_cut_after_commit(h->s, 1);
	assert_int_equal(ky_council_rules_set(h->s, &operator, "r", 1, "once", NULL), KY_OK);
	changes l = {json_array()};
	assert_int_equal(ky_store_change_list(h->s, 0, 0, change_seen, &l, NULL), KY_OK);
	/* The secretariat, then one record each. */
	assert_int_equal(json_array_size(l.list), 4);
	json_decref(l.list);
	ky_store_rules r;
	assert_int_equal(ky_store_rules_get(h->s, &r), KY_OK);
	assert_int_equal(r.version, 1);
	ky_store_rules_clear(&r);
}

static int remove_dir(void **state)
{
	(void)state;
	ky_test_remove_dir(dir);
	return 0;
}

int main(void)
{
	snprintf(dir, sizeof(dir), "/tmp/ky-test-council-XXXXXX");
	if (mkdtemp(dir) == NULL)
		return 1;
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_secretariat_at_creation, setup, teardown),
		cmocka_unit_test_setup_teardown(test_member_identity, setup, teardown),
		cmocka_unit_test_setup_teardown(test_member_checks, setup, teardown),
		cmocka_unit_test_setup_teardown(test_roles, setup, teardown),
		cmocka_unit_test_setup_teardown(test_groups_hidden, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rules, setup, teardown),
		cmocka_unit_test_setup_teardown(test_last_secretariat, setup, teardown),
		cmocka_unit_test_setup_teardown(test_change_record, setup, teardown),
		cmocka_unit_test_setup_teardown(test_retry_after_lost_commit, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, remove_dir);
}
