#include "council/council.h"

#include <stdio.h>
#include <string.h>

#include "policy/admission.h"
#include "util/ky_clock.h"
#include "util/ky_error.h"
#include "util/ky_utf8.h"

/* --- who the caller is ---------------------------------------------------------------------- */

ky_store_actor ky_council_actor(const ky_council_caller *c)
{
	ky_store_actor a = {.via = c->via};
	if (c->who != NULL) {
		a.user_id = c->who->user_id;
		a.member_id = c->who->member_id;
	}
	return a;
}

/* The secretariat's staff, any role, and the operator. */
static bool in_secretariat(const ky_council_caller *c)
{
	return c->who == NULL || c->who->tier == KY_TIER_SECRETARIAT;
}

/* The operator and secretariat admins. */
static bool runs_hub(const ky_council_caller *c)
{
	return c->who == NULL || (c->who->tier == KY_TIER_SECRETARIAT && c->who->role == KY_ROLE_ADMIN);
}

/* Whether the caller manages the users and keys of member member_id. */
static bool admin_of(const ky_council_caller *c, int64_t member_id)
{
	return runs_hub(c) || (c->who->role == KY_ROLE_ADMIN && c->who->member_id == member_id);
}

static int not_hub_runner(const char *what)
{
	return ky_error_set(KY_EDENIED, "only the secretariat's admins may %s", what);
}

bool ky_council_sees_group_members(const ky_council_caller *c)
{
	return in_secretariat(c);
}

/* --- checks -------------------------------------------------------------------------------- */

static bool alnum(char ch)
{
	return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9');
}

int ky_council_check_name(const char *what, const char *name)
{
	size_t n = strlen(name);
	bool ok = n >= 1 && n <= KY_STORE_NAME_MAX && alnum(name[0]);
	for (size_t i = 0; ok && i < n; i++)
		ok = alnum(name[i]) || name[i] == '.' || name[i] == '_' || name[i] == '-';
	if (ok)
		return KY_OK;
	char shown[80];
	size_t cut = ky_utf8_valid(name, n) ? ky_utf8_prefix(name, n, 64) : 0;
	snprintf(shown, sizeof(shown), "%.*s%s", (int)cut, name, cut < n ? "..." : "");
	return ky_error_set(KY_EINVALID,
			    "\"%s\" is not a %s name: 1 to %d letters, digits, '.', '_' or '-', starting with a letter "
			    "or digit",
			    shown, what, KY_STORE_NAME_MAX);
}

/* Text of 1 to max bytes: valid UTF-8 without control characters, not only spaces. */
static bool is_text(const char *text, size_t max)
{
	size_t n = strlen(text);
	return n >= 1 && n <= max && ky_utf8_text(text, n) && strspn(text, " \t") < n;
}

int ky_council_check_reason(const char *reason)
{
	if (reason == NULL || !is_text(reason, KY_STORE_REASON_MAX))
		return ky_error_set(KY_EINVALID,
				    "every change needs a reason: 1 to %d bytes of text saying why (--reason on the command "
				    "line, \"reason\" in the API)",
				    KY_STORE_REASON_MAX);
	return KY_OK;
}

int ky_council_tier(const char *name, ky_tier *out)
{
	if (ky_tier_parse(name, out))
		return KY_OK;
	return ky_error_set(KY_EINVALID, "unknown tier \"%.32s\" (known: secretariat, contributor, general)", name);
}

int ky_council_role(const char *name, ky_role *out)
{
	if (ky_role_parse(name, out))
		return KY_OK;
	return ky_error_set(KY_EINVALID, "unknown role \"%.32s\" (known: reader, analyst, admin)", name);
}

/* ISO 3166-1 alpha-2: two uppercase letters. */
static bool country_valid(const char *cc)
{
	return strlen(cc) == 2 && cc[0] >= 'A' && cc[0] <= 'Z' && cc[1] >= 'A' && cc[1] <= 'Z';
}

/* An address of the form local@domain: printable ASCII without spaces, one '@', a dot in
 * the domain. The hub mails nobody; this catches a name typed where an address belongs. */
static bool contact_valid(const char *email)
{
	size_t n = strlen(email);
	const char *at = strchr(email, '@');
	if (n == 0 || n > KY_STORE_CONTACT_MAX || at == NULL || at == email || strchr(at + 1, '@') != NULL)
		return false;
	for (size_t i = 0; i < n; i++)
		if (email[i] <= ' ' || email[i] >= 0x7f)
			return false;
	const char *dot = strchr(at + 1, '.');
	return dot != NULL && dot > at + 1 && dot[1] != '\0';
}

/* --- members ------------------------------------------------------------------------------- */

/* A new member's or group's audience joins the hub's definitions (policy/admission.h). It is
 * usable already (its id does not depend on them): a failure here says so. */
static int published(ky_store *s, const char *kind, const char *name)
{
	if (ky_policy_publish(s) == KY_OK)
		return KY_OK;
	char why[KY_ERROR_MAX];
	snprintf(why, sizeof(why), "%s", ky_error_last());
	return ky_error_set(ky_error_last_code(), "%s %s was made, but its audience is not yet among the hub's definitions"
			    " (kyoyu serve adds it when it starts): %s", kind, name, why);
}

int ky_council_member_add(ky_store *s, const ky_council_caller *c, const ky_council_member_new *m, const char *reason,
			  ky_store_member *out)
{
	if (!runs_hub(c))
		return not_hub_runner("add members");
	int rc = ky_council_check_name("member", m->name);
	if (rc == KY_OK)
		rc = ky_council_check_reason(reason);
	if (rc != KY_OK)
		return rc;
	if (m->title != NULL && !is_text(m->title, KY_STORE_TITLE_MAX))
		return ky_error_set(KY_EINVALID, "a member's title is 1 to %d bytes of text", KY_STORE_TITLE_MAX);
	if (m->country != NULL && !country_valid(m->country))
		return ky_error_set(KY_EINVALID, "\"%.8s\" is not a country: two uppercase letters (ISO 3166-1 alpha-2, JP, DE)",
				    m->country);
	if (m->contact != NULL && !contact_valid(m->contact))
		return ky_error_set(KY_EINVALID, "\"%.64s\" is not a contact e-mail address (name@example.org)", m->contact);
	if (m->nsectors > KY_STORE_SECTORS_MAX)
		return ky_error_set(KY_EINVALID, "a member has at most %d sectors", KY_STORE_SECTORS_MAX);
	ky_store_member record = {.tier = m->tier, .nsectors = m->nsectors};
	snprintf(record.name, sizeof(record.name), "%s", m->name);
	snprintf(record.title, sizeof(record.title), "%s", m->title ? m->title : m->name);
	snprintf(record.country, sizeof(record.country), "%s", m->country ? m->country : "");
	snprintf(record.contact, sizeof(record.contact), "%s", m->contact ? m->contact : "");
	for (size_t i = 0; i < m->nsectors; i++) {
		if (strlen(m->sectors[i]) > KY_STORE_SECTOR_MAX || ky_council_check_name("sector", m->sectors[i]) != KY_OK)
			return ky_error_set(KY_EINVALID, "\"%.32s\" is not a sector name", m->sectors[i]);
		snprintf(record.sectors[i], sizeof(record.sectors[i]), "%s", m->sectors[i]);
	}
	ky_store_actor a = ky_council_actor(c);
	rc = ky_store_member_add(s, &record, &a, reason, out);
	/* A sector is a value of the request, not a resource: one the hub does not keep is bad
	 * input. */
	if (rc == KY_ENOTFOUND && strncmp(ky_error_last(), "unknown sector", 14) == 0)
		rc = ky_error_recode(KY_EINVALID);
	return rc == KY_OK ? published(s, "member", m->name) : rc;
}

int ky_council_member_get(ky_store *s, const ky_council_caller *c, const char *name, ky_store_member *out)
{
	int rc = ky_store_member_get(s, name, out);
	if (rc == KY_OK && !in_secretariat(c) && out->id != c->who->member_id)
		rc = ky_error_set(KY_ENOTFOUND, "there is no member \"%s\" in this hub", name);
	return rc;
}

int ky_council_member_list(ky_store *s, const ky_council_caller *c, const char *after, size_t limit,
			   int (*fn)(void *ctx, const ky_store_member *m), void *ctx, bool *more)
{
	if (!in_secretariat(c))
		return ky_error_set(KY_EDENIED, "only the secretariat lists the council's members");
	return ky_store_member_list(s, after, limit, fn, ctx, more);
}

int ky_council_member_set(ky_store *s, const ky_council_caller *c, const char *name, const ky_tier *tier,
			  const bool *suspended, const char *reason, ky_store_member *out)
{
	if (!runs_hub(c)) {
		/* A member's own users see it, and are told they may not; others do not see it. */
		ky_store_member m;
		int rc = ky_council_member_get(s, c, name, &m);
		return rc != KY_OK ? rc : not_hub_runner("change a member's tier or status");
	}
	int rc = ky_council_check_reason(reason);
	if (rc != KY_OK)
		return rc;
	ky_store_actor a = ky_council_actor(c);
	return ky_store_member_set(s, name, tier, suspended, &a, reason, out);
}

/* --- users --------------------------------------------------------------------------------- */

static int no_user(const char *name)
{
	return ky_error_set(KY_ENOTFOUND, "there is no user \"%.64s\" in this hub", name);
}

int ky_council_user_add(ky_store *s, const ky_council_caller *c, const char *name, const char *member, ky_role role,
			const char *reason, ky_store_user *out)
{
	if (!ky_auth_user_valid(name))
		return ky_error_set(KY_EINVALID,
				    "\"%.64s\" is not a user name: 1 to %d letters, digits, '.', '_', '-', '@' or '+', starting "
				    "with a letter or digit",
				    name, KY_AUTH_USER_MAX);
	int rc = ky_council_check_reason(reason);
	if (rc != KY_OK)
		return rc;
	ky_store_member m;
	if (member == NULL && c->who == NULL)
		return ky_error_set(KY_EINVALID, "say which member the user belongs to (--member)");
	rc = member ? ky_council_member_get(s, c, member, &m) : ky_store_member_by_id(s, c->who->member_id, &m);
	if (rc != KY_OK)
		return rc;
	if (!admin_of(c, m.id))
		return ky_error_set(KY_EDENIED, "only the admins of \"%s\" and the secretariat's admins add its users", m.name);
	ky_store_actor a = ky_council_actor(c);
	return ky_store_user_add(s, name, m.name, role, c->who == NULL && m.tier == KY_TIER_SECRETARIAT, &a, reason, out);
}

/* Whether the caller may see user u: itself, its member's users for an admin, anyone for the
 * secretariat's staff. */
static bool sees_user(const ky_council_caller *c, const ky_store_user *u)
{
	return in_secretariat(c) || u->id == c->who->user_id || admin_of(c, u->member_id);
}

int ky_council_user_get(ky_store *s, const ky_council_caller *c, const char *name, ky_store_user *out)
{
	int rc = ky_store_user_get(s, name, out);
	if (rc == KY_OK && !sees_user(c, out))
		rc = no_user(name);
	return rc;
}

int ky_council_user_list(ky_store *s, const ky_council_caller *c, const char *member, const char *after, size_t limit,
			 int (*fn)(void *ctx, const ky_store_user *u), void *ctx, bool *more)
{
	int64_t member_id = 0;
	if (member != NULL) {
		ky_store_member m;
		int rc = ky_council_member_get(s, c, member, &m);
		if (rc != KY_OK)
			return rc;
		member_id = m.id;
	} else if (!in_secretariat(c)) {
		member_id = c->who->member_id;
	}
	if (!in_secretariat(c) && !admin_of(c, member_id))
		return ky_error_set(KY_EDENIED, "only a member's admins and the secretariat list its users");
	return ky_store_user_list(s, member_id, after, limit, fn, ctx, more);
}

int ky_council_user_set(ky_store *s, const ky_council_caller *c, const char *name, const ky_role *role, bool disable,
			const char *reason, ky_store_user *out)
{
	ky_store_user u;
	int rc = ky_council_user_get(s, c, name, &u);
	if (rc != KY_OK)
		return rc;
	if (!admin_of(c, u.member_id))
		return ky_error_set(KY_EDENIED, "only the admins of \"%s\" and the secretariat's admins change its users",
				    u.member);
	rc = ky_council_check_reason(reason);
	if (rc != KY_OK)
		return rc;
	ky_store_actor a = ky_council_actor(c);
	return ky_store_user_set(s, name, role, disable, &a, reason, out);
}

/* --- groups -------------------------------------------------------------------------------- */

int ky_council_group_create(ky_store *s, const ky_council_caller *c, const char *name, const char *reason,
			    ky_store_group *out)
{
	if (!runs_hub(c))
		return not_hub_runner("create groups");
	int rc = ky_council_check_name("group", name);
	if (rc == KY_OK)
		rc = ky_council_check_reason(reason);
	ky_store_actor a = ky_council_actor(c);
	if (rc == KY_OK)
		rc = ky_store_group_create(s, name, &a, reason, out);
	return rc == KY_OK ? published(s, "group", name) : rc;
}

/* Whether member member_id is in group group_id. */
static int in_group(ky_store *s, int64_t member_id, int64_t group_id, bool *in)
{
	int64_t ids[KY_STORE_GROUPS_MAX];
	size_t n = 0;
	int rc = ky_store_member_groups(s, member_id, ids, KY_STORE_GROUPS_MAX, &n);
	*in = false;
	for (size_t i = 0; rc == KY_OK && i < n; i++)
		*in = *in || ids[i] == group_id;
	return rc;
}

int ky_council_group_get(ky_store *s, const ky_council_caller *c, const char *name, ky_store_group *out,
			 bool *sees_members)
{
	int rc = ky_store_group_get(s, name, out);
	bool in = true;
	if (rc == KY_OK && !in_secretariat(c))
		rc = in_group(s, c->who->member_id, out->id, &in);
	if (rc == KY_OK && !in)
		rc = ky_error_set(KY_ENOTFOUND, "there is no group \"%s\" in this hub", name);
	if (sees_members != NULL)
		*sees_members = in_secretariat(c);
	return rc;
}

int ky_council_group_list(ky_store *s, const ky_council_caller *c, const char *after, size_t limit,
			  int (*fn)(void *ctx, const ky_store_group *g), void *ctx, bool *more)
{
	return ky_store_group_list(s, in_secretariat(c) ? 0 : c->who->member_id, after, limit, fn, ctx, more);
}

int ky_council_group_member(ky_store *s, const ky_council_caller *c, const char *group, const char *member, bool add,
			    const char *reason, bool *changed)
{
	if (!runs_hub(c)) {
		ky_store_group g;
		int rc = ky_council_group_get(s, c, group, &g, NULL);
		return rc != KY_OK ? rc : not_hub_runner("change who is in a group");
	}
	int rc = ky_council_check_reason(reason);
	if (rc != KY_OK)
		return rc;
	ky_store_actor a = ky_council_actor(c);
	return add ? ky_store_group_member_add(s, group, member, &a, reason, changed)
		   : ky_store_group_member_remove(s, group, member, &a, reason, changed);
}

/* --- keys ---------------------------------------------------------------------------------- */

/* Whether the caller manages the keys of user u. */
static bool manages_keys_of(const ky_council_caller *c, const ky_store_user *u)
{
	return admin_of(c, u->member_id) || u->id == c->who->user_id;
}

int ky_council_key_create(ky_store *s, const ky_council_caller *c, const char *user, const char *reason,
			  char key_out[KY_AUTH_KEY_MAX], ky_store_user *owner)
{
	ky_store_user u;
	if (user == NULL && c->who == NULL)
		return ky_error_set(KY_EINVALID, "say whose key to make (--user)");
	if (reason != NULL && ky_council_check_reason(reason) != KY_OK)
		return ky_error_last_code();
	int rc = ky_council_user_get(s, c, user ? user : c->who->user, &u);
	if (rc == KY_OK && !manages_keys_of(c, &u))
		rc = ky_error_set(KY_EDENIED, "only %s, the admins of \"%s\" and the secretariat's admins make its keys", u.name,
				  u.member);
	if (rc == KY_OK && u.disabled)
		rc = ky_error_set(KY_ECONFLICT, "user \"%s\" is disabled: its keys would not work", u.name);
	ky_store_actor a = ky_council_actor(c);
	if (rc == KY_OK)
		rc = ky_auth_key_create(s, u.id, &a, reason ? reason : "", key_out);
	if (rc == KY_OK && owner != NULL)
		*owner = u;
	return rc;
}

typedef struct key_filter {
	const ky_council_caller *c;
	int (*fn)(void *ctx, const ky_store_key *k);
	void *ctx;
} key_filter;

static int filtered_key(void *ctx, const ky_store_key *k)
{
	key_filter *f = ctx;
	if (!admin_of(f->c, k->member_id) && k->user_id != f->c->who->user_id)
		return 0;
	return f->fn(f->ctx, k);
}

int ky_council_key_list(ky_store *s, const ky_council_caller *c, int (*fn)(void *ctx, const ky_store_key *k),
			void *ctx)
{
	key_filter f = {c, fn, ctx};
	bool mine_only = !runs_hub(c) && c->who->role != KY_ROLE_ADMIN;
	return ky_store_key_list(s, mine_only ? c->who->user_id : 0, filtered_key, &f);
}

int ky_council_key_revoke(ky_store *s, const ky_council_caller *c, const char *prefix, const char *reason,
			  ky_store_key *out)
{
	ky_store_key k;
	int rc = ky_store_key_get(s, prefix, &k);
	if (rc == KY_OK && !admin_of(c, k.member_id) && k.user_id != c->who->user_id)
		rc = KY_ENOTFOUND;
	if (rc == KY_ENOTFOUND || (rc == KY_OK && k.revoked_us != 0))
		return ky_error_set(KY_ENOTFOUND, "no active key with prefix %.8s in this hub", prefix);
	if (rc == KY_OK && reason != NULL)
		rc = ky_council_check_reason(reason);
	ky_store_actor a = ky_council_actor(c);
	return rc == KY_OK ? ky_store_key_revoke(s, prefix, &a, reason ? reason : "", out) : rc;
}

/* --- rules --------------------------------------------------------------------------------- */

int ky_council_rules_set(ky_store *s, const ky_council_caller *c, const char *text, size_t len, const char *reason,
			 int64_t *version)
{
	if (!runs_hub(c))
		return not_hub_runner("set the rules");
	if (len == 0 || !ky_utf8_valid(text, len) || memchr(text, '\0', len) != NULL)
		return ky_error_set(KY_EINVALID, "the rules are a text: not empty, UTF-8, without NUL bytes");
	int rc = ky_council_check_reason(reason);
	ky_store_actor a = ky_council_actor(c);
	return rc == KY_OK ? ky_store_rules_set(s, text, len, &a, reason, version) : rc;
}

int ky_council_rules_accept(ky_store *s, const ky_council_caller *c, int64_t version, int64_t *accepted_us)
{
	if (c->who == NULL)
		return ky_error_set(KY_EDENIED, "rules are accepted by a person, through the hub (kyoyu --hub URL rules accept)");
	ky_store_actor a = ky_council_actor(c);
	return ky_store_rules_accept(s, c->who->user_id, version, &a, accepted_us);
}

bool ky_council_rules_pending(const ky_auth_identity *who)
{
	return who->rules_version > 0 && who->rules_accepted < who->rules_version;
}

/* --- the records as JSON ------------------------------------------------------------------------ */

json_t *ky_council_time_json(int64_t us)
{
	char text[32];
	ky_clock_format(us, text);
	return json_string(text);
}

static json_t *string_or_null(const char *text)
{
	return text[0] ? json_string(text) : json_null();
}

json_t *ky_council_member_json(const ky_store_member *m)
{
	json_t *sectors = json_array();
	for (size_t i = 0; sectors != NULL && i < m->nsectors; i++)
		json_array_append_new(sectors, json_string(m->sectors[i]));
	return json_pack("{s:s,s:s,s:s,s:o,s:o,s:o,s:s,s:s,s:o}", "name", m->name, "title", m->title, "tier",
			 ky_tier_name(m->tier), "sectors", sectors, "country", string_or_null(m->country), "contact",
			 string_or_null(m->contact), "status", m->suspended ? "suspended" : "active", "identity",
			 m->identity_id, "created", ky_council_time_json(m->created_us));
}

json_t *ky_council_user_json(const ky_store_user *u)
{
	return json_pack("{s:s,s:s,s:s,s:b,s:o,s:o}", "name", u->name, "member", u->member, "role", ky_role_name(u->role),
			 "disabled", u->disabled, "created", ky_council_time_json(u->created_us), "rules_accepted",
			 u->rules_accepted ? json_integer(u->rules_accepted) : json_null());
}

json_t *ky_council_key_json(const ky_store_key *k)
{
	return json_pack("{s:s,s:s,s:o,s:o}", "prefix", k->prefix, "user", k->user, "created", ky_council_time_json(k->created_us),
			 "revoked", k->revoked_us ? ky_council_time_json(k->revoked_us) : json_null());
}

static int add_member_name(void *ctx, const char *member)
{
	return json_array_append_new(ctx, json_string(member)) == 0 ? 0 : ky_error_set(KY_ENOMEM, "out of memory");
}

json_t *ky_council_group_json(ky_store *s, const ky_store_group *g, bool with_members)
{
	json_t *o = json_pack("{s:s,s:o}", "name", g->name, "created", ky_council_time_json(g->created_us));
	if (o == NULL || !with_members)
		return o;
	json_t *members = json_array();
	if (members == NULL || ky_store_group_members(s, g->id, add_member_name, members) != KY_OK) {
		json_decref(members);
		json_decref(o);
		return NULL;
	}
	/* json_object_set_new() takes members even when it fails. */
	if (json_object_set_new(o, "members", members) != 0) {
		json_decref(o);
		return NULL;
	}
	return o;
}
