#include "api/api.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <sodium.h>

#include "council/consult.h"
#include "stream/stream.h"
#include "council/council.h"
#include "council/ledger.h"
#include "council/rfi.h"
#include "council/workflow.h"
#include "policy/admission.h"
#include "store/store_audit.h"
#include "util/ky_arena.h"
#include "util/ky_clock.h"
#include "util/ky_error.h"
#include "util/ky_utf8.h"
#include "webhook/webhook.h"

#define MEDIA "application/json"
#define PREFIX "/api/v1"
#define MAX_SEGMENTS 4

struct ky_api {
	const ky_config *config;
	const ky_policy_grants *grants;
	ky_stream_hub *stream;
};

/* One call of a route, as its handler gets it. */
typedef struct call {
	const ky_api *a;
	ky_http_request *r;
	ky_store *s;
	const ky_viewer *v;
	ky_council_caller caller;
	char via[96];                 /* "POST /api/v1/members": how, for the record of changes */
	const char *arg[2];           /* the path's {name} parts, in order */
	json_t *body;                 /* the request's JSON object, for routes that take one */
} call;

typedef int handler(call *c);

typedef struct route {
	const char *method;
	const char *path;             /* as the OpenAPI document names it */
	handler *fn;
	bool exempt;                  /* served before the rules are accepted */
	bool body;                    /* takes a JSON body */
	const char *media;            /* what it answers in; NULL: application/json */
} route;

/* What routing found, for serving. */
typedef struct routed {
	const route *rt;
	const char *arg[2];
} routed;

/* --- answers ------------------------------------------------------------------------------ */

/* Answers with `body` (taken) as JSON. */
static int respond(call *c, unsigned status, json_t *body)
{
	char *text = body ? json_dumps(body, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
	json_decref(body);
	if (text == NULL)
		return ky_error_set(KY_ENOMEM, "out of memory encoding a response");
	ky_http_respond(c->r, status, MEDIA, text, strlen(text));
	free(text);
	return KY_OK;
}

/* A store or council failure as the request's: the client's own (shown by the table) as it
 * is, the database's as a server failure. */
static int failure(int rc)
{
	switch (rc) {
	case KY_EINVALID:
	case KY_ENOTFOUND:
	case KY_EDENIED:
	case KY_EEXISTS:
	case KY_ECONFLICT:
	case KY_ETOOBIG:
	case KY_ETOOMANY:
		return rc;
	default:
		return ky_http_store_failure(rc);
	}
}

/* --- bodies and parameters ------------------------------------------------------------------ */

/* Checks that the body has only the fields `allowed` (NULL-terminated) and the `required`
 * ones among them. */
static int fields(call *c, const char *const *allowed, const char *const *required)
{
	const char *key;
	json_t *value;
	json_object_foreach(c->body, key, value)
	{
		bool known = false;
		for (const char *const *a = allowed; *a && !known; a++)
			known = strcmp(*a, key) == 0;
		if (!known) {
			char list[256] = "";
			for (const char *const *a = allowed; *a; a++)
				snprintf(list + strlen(list), sizeof(list) - strlen(list), "%s%s", a == allowed ? "" : ", ", *a);
			return ky_error_set(KY_EINVALID, "the body has a field \"%.64s\" this route does not take (it takes: %s)",
					    key, list);
		}
	}
	for (const char *const *q = required; q && *q; q++)
		if (json_object_get(c->body, *q) == NULL)
			return ky_error_set(KY_EINVALID, "the body lacks the field \"%s\"", *q);
	return KY_OK;
}

/* The string field `name` of the body into *out (NULL when absent); KY_EINVALID when it is
 * there but not a string, or holds a NUL. */
static int text_field(call *c, const char *name, const char **out)
{
	json_t *v = json_object_get(c->body, name);
	*out = NULL;
	if (v == NULL)
		return KY_OK;
	if (!json_is_string(v) || memchr(json_string_value(v), '\0', json_string_length(v)) != NULL)
		return ky_error_set(KY_EINVALID, "the field \"%s\" must be a string (without NUL characters)", name);
	*out = json_string_value(v);
	return KY_OK;
}

/* The query parameter `name`, a NUL-terminated copy in the request's arena, or NULL. */
static const char *param(call *c, const char *name)
{
	size_t n = 0;
	const ky_http_param *p = ky_http_params(c->r, &n);
	for (size_t i = 0; i < n; i++)
		if (ky_slice_is(p[i].key, name))
			return memchr(p[i].value.ptr, '\0', p[i].value.len)
				       ? NULL
				       : ky_arena_strndup(ky_http_arena(c->r), p[i].value.ptr ? p[i].value.ptr : "", p[i].value.len);
	return NULL;
}

/* A page: how many, and after which name (from `next`: "n." and the name in base64url, so a
 * client treats it as opaque; a made-up one lists only what the caller may see anyway). */
/* Names, prefixes and report ids (STIX ids) key pages. */
#define PAGE_KEY_MAX KY_STORE_STIX_ID_MAX

typedef struct page {
	size_t limit;
	char after[PAGE_KEY_MAX + 1];
} page;

static int page_of(call *c, page *p)
{
	const char *limit = param(c, "limit"), *next = param(c, "next");
	/* The sizes of TAXII's pages ([server] page_size and max_page_size). */
	size_t page_size = c->a->config->page_size, max = c->a->config->max_page_size;
	p->limit = page_size;
	p->after[0] = '\0';
	if (limit != NULL) {
		char *end;
		long n = strtol(limit, &end, 10);
		if (*limit == '\0' || *end != '\0' || n < 1)
			return ky_error_set(KY_EINVALID, "limit must be a whole number of 1 or more (pages hold at most %zu)",
					    max);
		p->limit = (unsigned long)n > max ? max : (size_t)n;
	}
	if (next != NULL) {
		unsigned char raw[PAGE_KEY_MAX + 3];
		size_t len = 0;
		const char *end = NULL;
		if (sodium_base642bin(raw, sizeof(raw), next, strlen(next), NULL, &len, &end,
				      sodium_base64_VARIANT_URLSAFE_NO_PADDING) != 0 ||
		    *end != '\0' || len < 3 || memcmp(raw, "n.", 2) != 0 || memchr(raw, '\0', len) != NULL)
			return ky_error_set(KY_EINVALID, "next is not a cursor of this hub: pass the \"next\" of the previous page");
		snprintf(p->after, sizeof(p->after), "%.*s", (int)(len - 2), (const char *)raw + 2);
	}
	return KY_OK;
}

/* {"more": ..., "next": ..., key: items} with items taken. */
static json_t *page_body(const char *key, json_t *items, bool more, const char *last)
{
	json_t *o = json_pack("{s:b}", "more", more);
	if (o != NULL && more) {
		char raw[PAGE_KEY_MAX + 3], text[2 * sizeof(raw) + 4];
		size_t n = (size_t)snprintf(raw, sizeof(raw), "n.%s", last);
		sodium_bin2base64(text, sizeof(text), (const unsigned char *)raw, n, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
		json_object_set_new(o, "next", json_string(text));
	}
	if (o == NULL || json_object_set_new(o, key, items) != 0) {
		json_decref(o);
		return NULL;
	}
	return o;
}

/* Collects a list's rows as JSON, remembering the last name for the next page. */
typedef struct rows {
	json_t *items;
	char last[PAGE_KEY_MAX + 1];
	call *c;
} rows;

static int append(rows *l, json_t *item, const char *name)
{
	snprintf(l->last, sizeof(l->last), "%s", name);
	return json_array_append_new(l->items, item) == 0 ? 0 : ky_error_set(KY_ENOMEM, "out of memory");
}

/* Answers a listing: list() fills l from page p; 200 with the page. */
static int listing(call *c, const char *key, int (*list)(call *c, const page *p, rows *l, bool *more))
{
	page p;
	int rc = page_of(c, &p);
	if (rc != KY_OK)
		return rc;
	rows l = {json_array(), "", c};
	bool more = false;
	rc = l.items ? list(c, &p, &l, &more) : ky_error_set(KY_ENOMEM, "out of memory");
	if (rc != KY_OK) {
		json_decref(l.items);
		return failure(rc);
	}
	return respond(c, 200, page_body(key, l.items, more, l.last));
}

static int by_group_id(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
	return (x > y) - (x < y);
}

/* --- me and the rules ------------------------------------------------------------------------- */

static int group_name(void *ctx, const ky_store_group *g)
{
	return json_array_append_new(ctx, json_string(g->name)) == 0 ? 0 : ky_error_set(KY_ENOMEM, "out of memory");
}

static json_t *rules_status(const ky_auth_identity *who)
{
	return json_pack("{s:b,s:o,s:b}", "required", who->rules_version > 0, "version",
			 who->rules_version ? json_integer(who->rules_version) : json_null(), "accepted",
			 !ky_council_rules_pending(who));
}

static int get_me(call *c)
{
	const ky_auth_identity *who = &c->v->who;
	ky_store_member m;
	json_t *groups = json_array();
	int rc = ky_store_member_by_id(c->s, who->member_id, &m);
	if (rc == KY_OK)
		rc = groups ? ky_store_group_list(c->s, who->member_id, NULL, 0, group_name, groups, NULL)
			    : ky_error_set(KY_ENOMEM, "out of memory");
	if (rc != KY_OK) {
		json_decref(groups);
		return failure(rc);
	}
	return respond(c, 200,
		       json_pack("{s:s,s:s,s:{s:s,s:s,s:s,s:s,s:s},s:o,s:o}", "user", who->user, "role", ky_role_name(who->role),
				 "member", "name", m.name, "title", m.title, "tier", ky_tier_name(m.tier), "identity",
				 m.identity_id, "status", m.suspended ? "suspended" : "active", "groups", groups, "rules",
				 rules_status(who)));
}

static int get_rules(call *c)
{
	ky_store_rules r;
	int rc = ky_store_rules_get(c->s, &r);
	if (rc != KY_OK)
		return failure(rc);
	/* The version in force now, which may be newer than the one the gate saw. */
	bool accepted = r.version == 0 || c->v->who.rules_accepted >= r.version;
	json_t *body = json_pack("{s:b,s:o,s:o,s:o,s:b}", "required", r.version > 0, "version",
				 r.version ? json_integer(r.version) : json_null(), "text",
				 r.text ? json_stringn(r.text, r.len) : json_null(), "set",
				 r.version ? ky_council_time_json(r.set_us) : json_null(), "accepted", accepted);
	ky_store_rules_clear(&r);
	return respond(c, 200, body);
}

static int post_rules(call *c)
{
	static const char *const allowed[] = {"text", "reason", NULL};
	const char *text, *reason;
	int rc = fields(c, allowed, allowed);
	if (rc == KY_OK)
		rc = text_field(c, "text", &text);
	if (rc == KY_OK)
		rc = text_field(c, "reason", &reason);
	int64_t version = 0;
	if (rc == KY_OK)
		rc = ky_council_rules_set(c->s, &c->caller, text, strlen(text), reason, &version);
	ky_store_rules r = {0};
	if (rc == KY_OK)
		rc = ky_store_rules_get(c->s, &r);
	if (rc != KY_OK)
		return failure(rc);
	json_t *body = json_pack("{s:I,s:o}", "version", (json_int_t)version, "set", ky_council_time_json(r.set_us));
	ky_store_rules_clear(&r);
	return respond(c, 201, body);
}

static int post_rules_accept(call *c)
{
	static const char *const allowed[] = {"version", NULL};
	int rc = fields(c, allowed, allowed);
	json_t *v = json_object_get(c->body, "version");
	if (rc == KY_OK && (!json_is_integer(v) || json_integer_value(v) < 1))
		rc = ky_error_set(KY_EINVALID, "the field \"version\" must be the version of the rules read, a whole number");
	int64_t accepted = 0;
	if (rc == KY_OK)
		rc = ky_council_rules_accept(c->s, &c->caller, json_integer_value(v), &accepted);
	if (rc != KY_OK)
		return failure(rc);
	return respond(c, 200, json_pack("{s:I,s:o}", "version", (json_int_t)json_integer_value(v), "accepted", ky_council_time_json(accepted)));
}

/* --- members ------------------------------------------------------------------------------ */

static int member_row(void *ctx, const ky_store_member *m)
{
	return append(ctx, ky_council_member_json(m), m->name);
}

static int list_members(call *c, const page *p, rows *l, bool *more)
{
	return ky_council_member_list(c->s, &c->caller, p->after, p->limit, member_row, l, more);
}

static int get_members(call *c)
{
	return listing(c, "members", list_members);
}

static int tier_field(call *c, const char *name, bool *given, ky_tier *out)
{
	const char *text;
	int rc = text_field(c, name, &text);
	*given = text != NULL;
	return rc == KY_OK && text ? ky_council_tier(text, out) : rc;
}

static int post_members(call *c)
{
	static const char *const allowed[] = {"name", "title", "tier", "sectors", "country", "contact", "reason", NULL};
	static const char *const required[] = {"name", "tier", "reason", NULL};
	ky_council_member_new m = {0};
	const char *reason, *sectors[KY_STORE_SECTORS_MAX];
	bool given;
	int rc = fields(c, allowed, required);
	if (rc == KY_OK)
		rc = text_field(c, "name", &m.name);
	if (rc == KY_OK)
		rc = text_field(c, "title", &m.title);
	if (rc == KY_OK)
		rc = text_field(c, "country", &m.country);
	if (rc == KY_OK)
		rc = text_field(c, "contact", &m.contact);
	if (rc == KY_OK)
		rc = text_field(c, "reason", &reason);
	if (rc == KY_OK)
		rc = tier_field(c, "tier", &given, &m.tier);
	json_t *list = json_object_get(c->body, "sectors");
	if (rc == KY_OK && list != NULL && (!json_is_array(list) || json_array_size(list) > KY_STORE_SECTORS_MAX))
		rc = ky_error_set(KY_EINVALID, "the field \"sectors\" must be an array of at most %d sector names",
				  KY_STORE_SECTORS_MAX);
	for (size_t i = 0; rc == KY_OK && i < json_array_size(list); i++) {
		json_t *item = json_array_get(list, i);
		if (!json_is_string(item))
			rc = ky_error_set(KY_EINVALID, "the field \"sectors\" must hold sector names (strings)");
		else
			sectors[m.nsectors++] = json_string_value(item);
	}
	m.sectors = sectors;
	ky_store_member out;
	if (rc == KY_OK)
		rc = ky_council_member_add(c->s, &c->caller, &m, reason, &out);
	if (rc != KY_OK)
		return failure(rc);
	return respond(c, 201, ky_council_member_json(&out));
}

static int get_member(call *c)
{
	ky_store_member m;
	int rc = ky_council_member_get(c->s, &c->caller, c->arg[0], &m);
	return rc == KY_OK ? respond(c, 200, ky_council_member_json(&m)) : failure(rc);
}

static int patch_member(call *c)
{
	static const char *const allowed[] = {"tier", "status", "reason", NULL};
	static const char *const required[] = {"reason", NULL};
	const char *status = NULL, *reason;
	ky_tier tier;
	bool tier_given = false, suspended = false;
	int rc = fields(c, allowed, required);
	if (rc == KY_OK)
		rc = tier_field(c, "tier", &tier_given, &tier);
	if (rc == KY_OK)
		rc = text_field(c, "status", &status);
	if (rc == KY_OK)
		rc = text_field(c, "reason", &reason);
	if (rc == KY_OK && status != NULL && strcmp(status, "active") != 0 && strcmp(status, "suspended") != 0)
		rc = ky_error_set(KY_EINVALID, "the field \"status\" is \"active\" or \"suspended\"");
	if (rc == KY_OK && !tier_given && status == NULL)
		rc = ky_error_set(KY_EINVALID, "say what to change: \"tier\", \"status\" or both");
	suspended = status != NULL && strcmp(status, "suspended") == 0;
	ky_store_member m;
	if (rc == KY_OK)
		rc = ky_council_member_set(c->s, &c->caller, c->arg[0], tier_given ? &tier : NULL, status ? &suspended : NULL,
					   reason, &m);
	return rc == KY_OK ? respond(c, 200, ky_council_member_json(&m)) : failure(rc);
}

/* --- users --------------------------------------------------------------------------------- */

static int user_row(void *ctx, const ky_store_user *u)
{
	return append(ctx, ky_council_user_json(u), u->name);
}

static int list_users(call *c, const page *p, rows *l, bool *more)
{
	return ky_council_user_list(c->s, &c->caller, param(c, "member"), p->after, p->limit, user_row, l, more);
}

static int get_users(call *c)
{
	return listing(c, "users", list_users);
}

static int post_users(call *c)
{
	static const char *const allowed[] = {"name", "member", "role", "reason", NULL};
	static const char *const required[] = {"name", "role", "reason", NULL};
	const char *name, *member, *role, *reason;
	ky_role r;
	int rc = fields(c, allowed, required);
	if (rc == KY_OK)
		rc = text_field(c, "name", &name);
	if (rc == KY_OK)
		rc = text_field(c, "member", &member);
	if (rc == KY_OK)
		rc = text_field(c, "role", &role);
	if (rc == KY_OK)
		rc = text_field(c, "reason", &reason);
	if (rc == KY_OK)
		rc = ky_council_role(role, &r);
	ky_store_user u;
	if (rc == KY_OK)
		rc = ky_council_user_add(c->s, &c->caller, name, member, r, reason, &u);
	return rc == KY_OK ? respond(c, 201, ky_council_user_json(&u)) : failure(rc);
}

static int get_user(call *c)
{
	ky_store_user u;
	int rc = ky_council_user_get(c->s, &c->caller, c->arg[0], &u);
	return rc == KY_OK ? respond(c, 200, ky_council_user_json(&u)) : failure(rc);
}

static int patch_user(call *c)
{
	static const char *const allowed[] = {"role", "disabled", "reason", NULL};
	static const char *const required[] = {"reason", NULL};
	const char *role = NULL, *reason;
	ky_role r;
	int rc = fields(c, allowed, required);
	json_t *disabled = json_object_get(c->body, "disabled");
	if (rc == KY_OK)
		rc = text_field(c, "role", &role);
	if (rc == KY_OK)
		rc = text_field(c, "reason", &reason);
	if (rc == KY_OK && disabled != NULL && !json_is_true(disabled))
		rc = ky_error_set(KY_EINVALID, "the field \"disabled\" can only be true: a disabled user stays disabled "
					       "(add a new user instead)");
	if (rc == KY_OK && role == NULL && disabled == NULL)
		rc = ky_error_set(KY_EINVALID, "say what to change: \"role\", \"disabled\" or both");
	if (rc == KY_OK && role != NULL)
		rc = ky_council_role(role, &r);
	ky_store_user u;
	if (rc == KY_OK)
		rc = ky_council_user_set(c->s, &c->caller, c->arg[0], role ? &r : NULL, disabled != NULL, reason, &u);
	return rc == KY_OK ? respond(c, 200, ky_council_user_json(&u)) : failure(rc);
}

/* --- groups -------------------------------------------------------------------------------- */

static int group_row(void *ctx, const ky_store_group *g)
{
	rows *l = ctx;
	json_t *o = ky_council_group_json(l->c->s, g, ky_council_sees_group_members(&l->c->caller));
	return o ? append(l, o, g->name) : ky_error_set(KY_ENOMEM, "out of memory");
}

static int list_groups(call *c, const page *p, rows *l, bool *more)
{
	return ky_council_group_list(c->s, &c->caller, p->after, p->limit, group_row, l, more);
}

static int get_groups(call *c)
{
	return listing(c, "groups", list_groups);
}

/* Answers with group `name` as the caller may see it. */
static int group_answer(call *c, unsigned status, const char *name)
{
	ky_store_group g;
	bool sees = false;
	int rc = ky_council_group_get(c->s, &c->caller, name, &g, &sees);
	json_t *o = rc == KY_OK ? ky_council_group_json(c->s, &g, sees) : NULL;
	if (rc == KY_OK && o == NULL)
		rc = ky_error_set(KY_ENOMEM, "out of memory");
	return rc == KY_OK ? respond(c, status, o) : failure(rc);
}

static int post_groups(call *c)
{
	static const char *const allowed[] = {"name", "reason", NULL};
	const char *name, *reason;
	int rc = fields(c, allowed, allowed);
	if (rc == KY_OK)
		rc = text_field(c, "name", &name);
	if (rc == KY_OK)
		rc = text_field(c, "reason", &reason);
	if (rc == KY_OK)
		rc = ky_council_group_create(c->s, &c->caller, name, reason, NULL);
	return rc == KY_OK ? group_answer(c, 201, name) : failure(rc);
}

static int get_group(call *c)
{
	return group_answer(c, 200, c->arg[0]);
}

static int post_group_members(call *c)
{
	static const char *const allowed[] = {"member", "reason", NULL};
	const char *member, *reason;
	int rc = fields(c, allowed, allowed);
	if (rc == KY_OK)
		rc = text_field(c, "member", &member);
	if (rc == KY_OK)
		rc = text_field(c, "reason", &reason);
	if (rc == KY_OK)
		rc = ky_council_group_member(c->s, &c->caller, c->arg[0], member, true, reason, NULL);
	return rc == KY_OK ? group_answer(c, 200, c->arg[0]) : failure(rc);
}

static int delete_group_member(call *c)
{
	int rc = ky_council_group_member(c->s, &c->caller, c->arg[0], c->arg[1], false, param(c, "reason"), NULL);
	return rc == KY_OK ? group_answer(c, 200, c->arg[0]) : failure(rc);
}

/* --- keys ---------------------------------------------------------------------------------- */

/* The keys the caller manages, paged in memory after the one of prefix `after`. */
typedef struct key_page {
	rows *l;
	const page *p;
	bool started;
	size_t n;
	bool more;
} key_page;

static int key_row(void *ctx, const ky_store_key *k)
{
	key_page *kp = ctx;
	if (!kp->started) {
		kp->started = kp->p->after[0] == '\0';
		if (!kp->started)
			kp->started = strcmp(k->prefix, kp->p->after) == 0;
		if (kp->p->after[0] != '\0')
			return 0;
	}
	if (kp->n == kp->p->limit) {
		kp->more = true;
		return 1;
	}
	kp->n++;
	return append(kp->l, ky_council_key_json(k), k->prefix);
}

static int list_keys(call *c, const page *p, rows *l, bool *more)
{
	key_page kp = {l, p, false, 0, false};
	int rc = ky_council_key_list(c->s, &c->caller, key_row, &kp);
	*more = kp.more;
	return rc;
}

static int get_keys(call *c)
{
	return listing(c, "keys", list_keys);
}

static int post_keys(call *c)
{
	static const char *const allowed[] = {"user", "reason", NULL};
	const char *user, *reason;
	int rc = fields(c, allowed, NULL);
	if (rc == KY_OK)
		rc = text_field(c, "user", &user);
	if (rc == KY_OK)
		rc = text_field(c, "reason", &reason);
	char key[KY_AUTH_KEY_MAX] = {0};
	ky_store_user owner;
	if (rc == KY_OK)
		rc = ky_council_key_create(c->s, &c->caller, user, reason, key, &owner);
	if (rc != KY_OK)
		return failure(rc);
	char prefix[KY_STORE_KEY_PREFIX_LEN + 1];
	memcpy(prefix, key, KY_STORE_KEY_PREFIX_LEN);
	prefix[KY_STORE_KEY_PREFIX_LEN] = '\0';
	json_t *body = json_pack("{s:s,s:s,s:s,s:o}", "key", key, "prefix", prefix, "user", owner.name, "created",
				 ky_council_time_json(ky_clock_now_us()));
	sodium_memzero(key, sizeof(key));
	return respond(c, 201, body);
}

static int delete_key(call *c)
{
	ky_store_key k;
	int rc = ky_council_key_revoke(c->s, &c->caller, c->arg[0], param(c, "reason"), &k);
	return rc == KY_OK ? respond(c, 200, ky_council_key_json(&k)) : failure(rc);
}

/* --- audiences ----------------------------------------------------------------------------- */

typedef struct audiences {
	const ky_viewer *v;
	json_t *items;
} audiences;

/* A group's audience is its members' and the secretariat's to address: others do not learn
 * the group's marking (nor, through it, what the group reads). */
static int audience_row(void *ctx, const ky_audience_entry *e)
{
	audiences *a = ctx;
	const ky_viewer *v = a->v;
	if (e->audience.kind == KY_AUDIENCE_GROUP && v->who.tier != KY_TIER_SECRETARIAT &&
	    bsearch(&e->audience.id, v->groups, v->ngroups, sizeof(v->groups[0]), by_group_id) == NULL)
		return 0;
	json_t *item = json_pack("{s:s,s:s,s:s}", "id", e->marking_id, "kind", e->kind, "name", e->name);
	return item != NULL && json_array_append_new(a->items, item) == 0 ? 0 : ky_error_set(KY_ENOMEM, "out of memory");
}

static int get_audiences(call *c)
{
	audiences a = {c->v, json_array()};
	int rc = a.items ? ky_policy_audience_list(c->s, audience_row, &a) : ky_error_set(KY_ENOMEM, "out of memory");
	if (rc != KY_OK) {
		json_decref(a.items);
		return failure(rc);
	}
	return respond(c, 200, json_pack("{s:o}", "audiences", a.items));
}

/* --- objects ------------------------------------------------------------------------------- */

static ky_workflow_caller workflow_caller(call *c);

typedef struct object_read {
	json_t *answer;
} object_read;

/* The row's version as the viewer may see it (the store removed what it may not), with the
 * hub's metadata beside it: its effective TLP, and whether that is the hub's default. */
static int object_row(void *ctx, const ky_store_row *row)
{
	object_read *o = ctx;
	json_t *object = json_loadb(row->raw, row->raw_len, 0, NULL);
	if (object == NULL)
		return ky_error_set(KY_ERROR, "the stored bytes of %s are not JSON", row->id);
	bool marked = false;
	size_t i;
	const json_t *ref;
	ky_tlp level;
	json_array_foreach(json_object_get(object, "object_marking_refs"), i, ref)
	marked = marked || (json_is_string(ref) && ky_tlp_of_id(json_string_value(ref), &level));
	o->answer = json_pack("{s:s,s:s,s:s?,s:s,s:b,s:o}", "id", row->id, "type", row->type, "version",
			      row->modified && *row->modified ? row->modified : NULL, "tlp",
			      row->tlp < 0 ? "unsettled" : ky_tlp_name((ky_tlp)row->tlp), "tlp_default", !marked, "object",
			      object);
	return o->answer ? 1 : ky_error_set(KY_ENOMEM, "out of memory");
}

/* The latest version of one object the caller may read, wherever in the hub it was added:
 * as TAXII serves it to the caller, with its effective TLP. One it may not read is the 404 of
 * one that does not exist. */
static int get_object(call *c)
{
	ky_store_scope scope = ky_policy_scope(c->v);
	const char *ids[1] = {c->arg[0]};
	ky_store_query q = {.scope = &scope, .ids = ids, .nids = 1, .versions = KY_STORE_LAST, .limit = 1};
	object_read o = {NULL};
	int rc = ky_store_query_run(c->s, &q, object_row, &o, NULL);
	if (rc < 0) {
		json_decref(o.answer);
		return failure(rc);
	}
	if (o.answer == NULL)
		return ky_error_set(KY_ENOTFOUND, "The hub has no object with this id.");
	/* The report whose state covers it, when the caller reads that report: whether it is
	 * countermeasure information, or revoked (hub metadata: the object's bytes are not). */
	ky_store_report r;
	ky_workflow_caller w = workflow_caller(c);
	if (ky_store_report_of(c->s, c->arg[0], &r) == KY_OK && ky_workflow_report(c->s, &w, r.id, &r) == KY_OK)
		json_object_set_new(o.answer, "report", json_pack("{s:s,s:s}", "id", r.id, "state", ky_report_state_name(r.state)));
	return respond(c, 200, o.answer);
}

/* --- reach --------------------------------------------------------------------------------- */

static int reach_row(void *ctx, const char *id, uint64_t members)
{
	json_t *items = ctx;
	json_t *row = json_pack("{s:s,s:I}", "id", id, "members", (json_int_t)members);
	return row && json_array_append_new(items, row) == 0 ? 0 : ky_error_set(KY_ENOMEM, "out of memory");
}

/* How many members other than the caller's have read each of its member's objects, from the
 * audit log: a count, never who (docs/audit.md). The feedback that sharing reached someone. */
static int get_reach(call *c)
{
	json_t *items = json_array();
	int rc = items ? ky_store_audit_readers(c->s, c->v->who.member_id, reach_row, items)
		       : ky_error_set(KY_ENOMEM, "out of memory");
	if (rc != KY_OK) {
		json_decref(items);
		return failure(rc);
	}
	return respond(c, 200, json_pack("{s:o}", "objects", items));
}

/* --- the council workflow ------------------------------------------------------------------ */

static ky_workflow_caller workflow_caller(call *c)
{
	return (ky_workflow_caller){.viewer = c->v, .via = c->via, .origin = ky_http_client(c->r)};
}

typedef struct report_rows {
	call *c;
	ky_workflow_caller *w;
	rows *l;
} report_rows;

static int report_row(void *ctx, const ky_store_report *r)
{
	report_rows *rr = ctx;
	json_t *item = ky_workflow_report_json(rr->c->s, rr->w, r, false);
	return item ? append(rr->l, item, r->id) : ky_error_set(KY_ENOMEM, "out of memory");
}

static int list_reports(call *c, const page *p, rows *l, bool *more)
{
	const char *state = param(c, "state"), *mine = param(c, "mine");
	ky_store_report_filter f = {.state = -1, .after = p->after, .limit = p->limit};
	ky_report_state parsed;
	if (state != NULL && strcmp(state, "proposed") == 0)
		f.proposed = true;
	else if (state != NULL && ky_report_state_parse(state, &parsed))
		f.state = (int)parsed;
	else if (state != NULL)
		return ky_error_set(KY_EINVALID, "state is one of unconfirmed, proposed, countermeasure, refuted, withdrawn,"
						 " revoked");
	if (mine != NULL && strcmp(mine, "true") != 0 && strcmp(mine, "false") != 0)
		return ky_error_set(KY_EINVALID, "mine is true or false");
	if (mine != NULL && strcmp(mine, "true") == 0)
		f.provider = c->v->who.member_id;
	ky_workflow_caller w = workflow_caller(c);
	report_rows rr = {c, &w, l};
	return ky_workflow_reports(c->s, &w, &f, report_row, &rr, more);
}

static int get_reports(call *c)
{
	return listing(c, "reports", list_reports);
}

static int get_report(call *c)
{
	ky_workflow_caller w = workflow_caller(c);
	ky_store_report r;
	int rc = ky_workflow_report(c->s, &w, c->arg[0], &r);
	json_t *body = rc == KY_OK ? ky_workflow_report_json(c->s, &w, &r, true) : NULL;
	if (rc == KY_OK && body == NULL)
		rc = ky_error_set(KY_ENOMEM, "out of memory");
	return rc == KY_OK ? respond(c, 200, body) : failure(rc);
}

/* What a submission did with each object, and the reports they are in. */
typedef struct submitted {
	call *c;
	json_t *outcomes;
	json_t *report_ids;
	int rc;
} submitted;

static void on_submitted(void *ctx, const ky_ingest_report *r)
{
	submitted *sub = ctx;
	static const char *const outcomes[] = {"stored", "duplicate", "refused"};
	json_t *item = json_pack("{s:I,s:o,s:s}", "index", (json_int_t)r->index, "id", r->id ? json_string(r->id) : json_null(),
				 "outcome", outcomes[r->outcome]);
	if (item != NULL && r->outcome == KY_INGEST_REFUSED) {
		json_t *problems = json_array();
		for (size_t i = 0; problems != NULL && i < r->nproblems; i++)
			json_array_append_new(problems, json_string(r->problems[i]));
		json_object_set_new(item, "problems", problems ? problems : json_array());
	}
	if (item != NULL && r->warning != NULL)
		json_object_set_new(item, "warning", json_string(r->warning));
	if (item == NULL || json_array_append_new(sub->outcomes, item) != 0)
		sub->rc = KY_ENOMEM;
	ky_store_report report;
	if (r->outcome != KY_INGEST_REFUSED && r->id != NULL && ky_store_report_of(sub->c->s, r->id, &report) == KY_OK) {
		size_t i;
		json_t *id;
		json_array_foreach(sub->report_ids, i, id)
			if (strcmp(json_string_value(id), report.id) == 0)
				return;
		json_array_append_new(sub->report_ids, json_string(report.id));
	}
}

/* The body's "audiences" and "named", for a submission. */
typedef struct submission {
	const char *names[16];
	size_t nnames;
	bool named;
} submission;

static int submission_of(call *c, submission *out)
{
	json_t *list = json_object_get(c->body, "audiences"), *named = json_object_get(c->body, "named");
	*out = (submission){.named = json_is_true(named)};
	if (list != NULL && (!json_is_array(list) || json_array_size(list) > 16))
		return ky_error_set(KY_EINVALID, "the field \"audiences\" must be a list of at most 16 audience names");
	for (size_t i = 0; i < json_array_size(list); i++) {
		json_t *item = json_array_get(list, i);
		if (!json_is_string(item))
			return ky_error_set(KY_EINVALID, "the field \"audiences\" must hold audience names (strings)");
		out->names[out->nnames++] = json_string_value(item);
	}
	if (named != NULL && !json_is_boolean(named))
		return ky_error_set(KY_EINVALID, "the field \"named\" must be true or false");
	return KY_OK;
}

/* Submits `objects` to the exchange as the caller's member and answers with what became of
 * each and the reports they are in (201). */
static int submit(call *c, json_t *objects, const submission *how)
{
	submitted sub = {c, json_array(), json_array(), KY_OK};
	ky_workflow_caller w = workflow_caller(c);
	ky_ingest_totals totals = {0};
	int rc = sub.outcomes && sub.report_ids ? KY_OK : ky_error_set(KY_ENOMEM, "out of memory");
	if (rc == KY_OK)
		rc = ky_workflow_submit(c->s, c->a->config, &w, objects, how->names, how->nnames, how->named, on_submitted,
					&sub, &totals);
	if (rc == KY_OK && sub.rc != KY_OK)
		rc = ky_error_set(KY_ENOMEM, "out of memory");
	json_t *reports = json_array();
	size_t i;
	json_t *id;
	json_array_foreach(sub.report_ids, i, id)
	{
		ky_store_report r;
		if (rc == KY_OK && reports != NULL && ky_store_report_get(c->s, json_string_value(id), &r) == KY_OK)
			json_array_append_new(reports, ky_workflow_report_json(c->s, &w, &r, false));
	}
	json_decref(sub.report_ids);
	if (rc == KY_OK && reports == NULL)
		rc = ky_error_set(KY_ENOMEM, "out of memory");
	if (rc != KY_OK) {
		json_decref(sub.outcomes);
		json_decref(reports);
		return failure(rc);
	}
	return respond(c, 201,
		       json_pack("{s:I,s:I,s:I,s:o,s:o}", "stored", (json_int_t)totals.stored, "duplicate",
				 (json_int_t)totals.duplicate, "refused", (json_int_t)totals.refused, "objects", sub.outcomes,
				 "reports", reports));
}

static int post_reports(call *c)
{
	static const char *const allowed[] = {"objects", "audiences", "named", NULL};
	static const char *const required[] = {"objects", NULL};
	submission how;
	int rc = fields(c, allowed, required);
	if (rc == KY_OK)
		rc = submission_of(c, &how);
	return rc == KY_OK ? submit(c, json_object_get(c->body, "objects"), &how) : failure(rc);
}

static int post_transitions(call *c)
{
	static const char *const allowed[] = {"to", "reason", "course_of_action", "include", NULL};
	static const char *const required[] = {"to", "reason", NULL};
	const char *to, *reason, *include[64];
	size_t ninclude = 0;
	int rc = fields(c, allowed, required);
	json_t *list = json_object_get(c->body, "include");
	if (rc == KY_OK && list != NULL && (!json_is_array(list) || json_array_size(list) > 64))
		rc = ky_error_set(KY_EINVALID, "the field \"include\" must be a list of at most 64 feedback ids");
	for (size_t i = 0; rc == KY_OK && i < json_array_size(list); i++) {
		if (!json_is_string(json_array_get(list, i)))
			rc = ky_error_set(KY_EINVALID, "the field \"include\" must hold feedback ids (strings)");
		else
			include[ninclude++] = json_string_value(json_array_get(list, i));
	}
	if (rc == KY_OK)
		rc = text_field(c, "to", &to);
	if (rc == KY_OK)
		rc = text_field(c, "reason", &reason);
	ky_report_state state;
	if (rc == KY_OK && !ky_report_state_parse(to, &state))
		rc = ky_error_set(KY_EINVALID, "\"to\" is one of unconfirmed, countermeasure, refuted, withdrawn, revoked");
	json_t *coa = json_object_get(c->body, "course_of_action");
	if (rc == KY_OK && coa != NULL && !json_is_object(coa))
		rc = ky_error_set(KY_EINVALID, "the field \"course_of_action\" must be a STIX course-of-action object");
	char *coa_text = rc == KY_OK && coa ? json_dumps(coa, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
	if (rc == KY_OK && coa != NULL && coa_text == NULL)
		rc = ky_error_set(KY_ENOMEM, "out of memory");
	ky_workflow_caller w = workflow_caller(c);
	ky_store_report r;
	ky_workflow_publish publish = {.coa = coa_text, .coa_len = coa_text ? strlen(coa_text) : 0, .include = include,
				       .ninclude = ninclude};
	if (rc == KY_OK)
		rc = ky_workflow_transition(c->s, c->a->config, &w, c->arg[0], state, reason, &publish, &r);
	free(coa_text);
	json_t *body = rc == KY_OK ? ky_workflow_report_json(c->s, &w, &r, false) : NULL;
	if (rc == KY_OK && body == NULL)
		rc = ky_error_set(KY_ENOMEM, "out of memory");
	return rc == KY_OK ? respond(c, 200, body) : failure(rc);
}

static int post_feedback(call *c)
{
	static const char *const allowed[] = {"opinion", "reason", "sighting", "note", "named", NULL};
	ky_workflow_feedback f = {0};
	int rc = fields(c, allowed, NULL);
	json_t *named = json_object_get(c->body, "named");
	if (rc == KY_OK && named != NULL && !json_is_boolean(named))
		rc = ky_error_set(KY_EINVALID, "the field \"named\" must be true or false");
	f.named = json_is_true(named);
	if (rc == KY_OK)
		rc = text_field(c, "opinion", &f.opinion);
	if (rc == KY_OK)
		rc = text_field(c, "reason", &f.reason);
	if (rc == KY_OK)
		rc = text_field(c, "note", &f.note);
	json_t *sighting = json_object_get(c->body, "sighting");
	if (rc == KY_OK && sighting != NULL) {
		static const char *const parts[] = {"count", "first_seen", "last_seen", NULL};
		json_t *count = json_object_get(sighting, "count");
		const char *key;
		json_t *value;
		f.sighting = json_is_object(sighting);
		if (!f.sighting)
			rc = ky_error_set(KY_EINVALID, "the field \"sighting\" is an object: {\"count\", \"first_seen\", \"last_seen\"}");
		json_object_foreach(sighting, key, value)
		{
			bool known = false;
			for (const char *const *k = parts; *k && !known; k++)
				known = strcmp(*k, key) == 0;
			if (rc == KY_OK && !known)
				rc = ky_error_set(KY_EINVALID, "a sighting takes count, first_seen and last_seen, not \"%.64s\"", key);
		}
		if (rc == KY_OK && count != NULL && !json_is_integer(count))
			rc = ky_error_set(KY_EINVALID, "a sighting's count is a whole number");
		f.count = count ? json_integer_value(count) : 0;
		f.first_seen = json_string_value(json_object_get(sighting, "first_seen"));
		f.last_seen = json_string_value(json_object_get(sighting, "last_seen"));
	}
	ky_workflow_caller w = workflow_caller(c);
	char id[KY_STORE_STIX_ID_MAX];
	if (rc == KY_OK)
		rc = ky_workflow_give_feedback(c->s, c->a->config, &w, c->arg[0], &f, id);
	ky_store_report r;
	if (rc == KY_OK)
		rc = ky_workflow_report(c->s, &w, c->arg[0], &r);
	json_t *report = rc == KY_OK ? ky_workflow_report_json(c->s, &w, &r, false) : NULL;
	if (rc == KY_OK && report == NULL)
		rc = ky_error_set(KY_ENOMEM, "out of memory");
	return rc == KY_OK ? respond(c, 201, json_pack("{s:s,s:o}", "id", id, "report", report)) : failure(rc);
}

/* The promotion rules: every member may read them (which rules promote is the council's
 * business); the hub runners change them. */
static bool runs_hub(call *c)
{
	return c->v->who.tier == KY_TIER_SECRETARIAT && c->v->who.role == KY_ROLE_ADMIN;
}

static int rule_row(void *ctx, const ky_store_rule *r)
{
	json_t *item = ky_workflow_rule_json(r);
	return item && json_array_append_new(ctx, item) == 0 ? 0 : ky_error_set(KY_ENOMEM, "out of memory");
}

static int get_promotion_rules(call *c)
{
	json_t *items = json_array();
	int rc = items ? ky_store_rule_list(c->s, rule_row, items) : ky_error_set(KY_ENOMEM, "out of memory");
	if (rc != KY_OK) {
		json_decref(items);
		return failure(rc);
	}
	return respond(c, 200, json_pack("{s:o}", "rules", items));
}

static int int_field(call *c, const char *name, int min, int max, bool null_ok, int *out)
{
	json_t *v = json_object_get(c->body, name);
	if (v == NULL || (null_ok && json_is_null(v)))
		return KY_OK;
	if (!json_is_integer(v) || json_integer_value(v) < min || json_integer_value(v) > max)
		return ky_error_set(KY_EINVALID, "the field \"%s\" is a whole number from %d to %d%s", name, min, max,
				    null_ok ? ", or null" : "");
	*out = (int)json_integer_value(v);
	return KY_OK;
}

/* Who makes a change through this call, for the record of changes. */
static ky_store_actor actor_of(call *c)
{
	return (ky_store_actor){.user_id = c->v->who.user_id, .member_id = c->v->who.member_id, .via = c->via,
				.origin = ky_http_client(c->r)};
}

static int post_promotion_rules(call *c)
{
	static const char *const allowed[] = {"name", "min_agree", "max_disagree", "min_confidence", "promotes", "reason",
					      NULL};
	static const char *const required[] = {"name", "reason", NULL};
	const char *name, *reason;
	ky_store_rule r = {.max_disagree = -1};
	int rc = runs_hub(c) ? fields(c, allowed, required)
			     : ky_error_set(KY_EDENIED, "only the secretariat's admins set the promotion rules");
	if (rc == KY_OK)
		rc = text_field(c, "name", &name);
	if (rc == KY_OK)
		rc = text_field(c, "reason", &reason);
	if (rc == KY_OK)
		rc = ky_council_check_reason(reason);
	if (rc == KY_OK)
		rc = int_field(c, "min_agree", 0, 1000, false, &r.min_agree);
	if (rc == KY_OK)
		rc = int_field(c, "max_disagree", 0, 1000, true, &r.max_disagree);
	if (rc == KY_OK)
		rc = int_field(c, "min_confidence", 0, 100, false, &r.min_confidence);
	json_t *promotes = json_object_get(c->body, "promotes");
	if (rc == KY_OK && promotes != NULL && !json_is_boolean(promotes))
		rc = ky_error_set(KY_EINVALID, "the field \"promotes\" is true or false");
	r.promotes = json_is_true(promotes);
	if (rc == KY_OK && strlen(name) > KY_STORE_NAME_MAX)
		rc = ky_error_set(KY_EINVALID, "a rule's name has at most %d bytes", KY_STORE_NAME_MAX);
	if (rc == KY_OK) {
		snprintf(r.name, sizeof(r.name), "%s", name);
		rc = ky_workflow_rule_check(&r);
	}
	ky_store_actor actor = actor_of(c);
	ky_store_rule out;
	if (rc == KY_OK)
		rc = ky_store_rule_add(c->s, &r, &actor, reason, &out);
	return rc == KY_OK ? respond(c, 201, ky_workflow_rule_json(&out)) : failure(rc);
}

static int delete_promotion_rule(call *c)
{
	const char *reason = param(c, "reason");
	int rc = runs_hub(c) ? ky_council_check_reason(reason)
			     : ky_error_set(KY_EDENIED, "only the secretariat's admins set the promotion rules");
	ky_store_actor actor = actor_of(c);
	if (rc == KY_OK)
		rc = ky_store_rule_remove(c->s, c->arg[0], &actor, reason);
	return rc == KY_OK ? respond(c, 200, json_pack("{s:s}", "removed", c->arg[0])) : failure(rc);
}

typedef struct notes {
	json_t *items;
	int64_t last;
} notes;

static int notification_row(void *ctx, const ky_store_notification *n)
{
	notes *l = ctx;
	json_t *detail = json_loads(n->detail, 0, NULL);
	json_t *item = json_pack("{s:I,s:s,s:o,s:o}", "id", (json_int_t)n->id, "kind", n->kind, "detail",
				 detail ? detail : json_object(), "at", ky_council_time_json(n->at_us));
	/* A consultation's is about no STIX object: its detail names the thread. */
	if (item != NULL && n->report[0] != '\0')
		json_object_set_new(item, "report", json_string(n->report));
	l->last = n->id;
	return item && json_array_append_new(l->items, item) == 0 ? 0 : ky_error_set(KY_ENOMEM, "out of memory");
}

/* The caller's member's notifications after `after` (an id: a client keeps the last it saw),
 * oldest first. */
static int get_notifications(call *c)
{
	const char *after = param(c, "after");
	page p;
	int rc = page_of(c, &p);
	char *end = NULL;
	long long from = after ? strtoll(after, &end, 10) : 0;
	if (rc == KY_OK && after != NULL && (*after == '\0' || *end != '\0' || from < 0))
		rc = ky_error_set(KY_EINVALID, "after is the id of the last notification seen, a whole number");
	notes l = {json_array(), 0};
	bool more = false;
	if (rc == KY_OK)
		rc = l.items ? ky_store_notification_list(c->s, c->v->who.member_id, from, p.limit, notification_row, &l, &more)
			     : ky_error_set(KY_ENOMEM, "out of memory");
	if (rc != KY_OK) {
		json_decref(l.items);
		return failure(rc);
	}
	return respond(c, 200, json_pack("{s:o,s:b,s:o}", "notifications", l.items, "more", more, "last",
					 l.last ? json_integer(l.last) : json_null()));
}

/* --- give-and-take -------------------------------------------------------------------------- */

/* The ledger (council/ledger.h): a member sees its own figures and how it stands; the
 * secretariat sees everyone's, or one member's with ?member=NAME. */
static int get_contribution(call *c)
{
	const char *name = param(c, "member");
	bool secretariat = c->v->who.tier == KY_TIER_SECRETARIAT;
	ky_store_member m;
	int rc = secretariat && name != NULL ? ky_store_member_get(c->s, name, &m)
					       : ky_store_member_by_id(c->s, c->v->who.member_id, &m);
	if (rc == KY_OK && !secretariat && name != NULL && strcmp(name, m.name) != 0)
		rc = ky_error_set(KY_EDENIED, "a member sees its own contribution; only the secretariat sees another's");
	json_t *doc = NULL;
	if (rc == KY_OK)
		rc = ky_ledger_json(c->s, secretariat && name == NULL ? NULL : &m, &doc);
	return rc == KY_OK ? respond(c, 200, doc) : failure(rc);
}

/* The secretariat's free-rider report (council/ledger.h); it names members, so nobody else
 * gets it. */
static int get_free_riders(call *c)
{
	if (c->v->who.tier != KY_TIER_SECRETARIAT)
		return failure(ky_error_set(KY_EDENIED, "only the secretariat gets the free-rider report"));
	json_t *doc = NULL;
	int rc = ky_ledger_free_riders_json(c->s, &doc);
	return rc == KY_OK ? respond(c, 200, doc) : failure(rc);
}

/* --- requests for information ------------------------------------------------------------- */

/* The secretariat's analysts and admins ask named members (council/rfi.h). */
static int post_rfis(call *c)
{
	static const char *const allowed[] = {"subject", "question", "members", NULL};
	const char *subject = NULL, *question = NULL;
	const json_t *members = json_object_get(c->body, "members");
	int rc = c->v->who.tier == KY_TIER_SECRETARIAT && c->v->who.role != KY_ROLE_READER
			 ? fields(c, allowed, allowed)
			 : ky_error_set(KY_EDENIED, "only the secretariat's analysts and admins ask for information");
	if (rc == KY_OK)
		rc = text_field(c, "subject", &subject);
	if (rc == KY_OK)
		rc = text_field(c, "question", &question);
	const char *names[KY_STORE_RFI_ADDRESSEES_MAX];
	size_t n = json_array_size(members);
	if (rc == KY_OK && (!json_is_array(members) || n == 0 || n > KY_STORE_RFI_ADDRESSEES_MAX))
		rc = ky_error_set(KY_EINVALID, "the field \"members\" lists the names of 1 to %d members to ask",
				  KY_STORE_RFI_ADDRESSEES_MAX);
	for (size_t i = 0; rc == KY_OK && i < n; i++)
		if ((names[i] = json_string_value(json_array_get(members, i))) == NULL)
			rc = ky_error_set(KY_EINVALID, "members[%zu] is a member's name", i);
	ky_store_actor actor = actor_of(c);
	int64_t id = 0;
	if (rc == KY_OK)
		rc = ky_rfi_ask(c->s, subject, question, names, n, &actor, &id);
	json_t *doc = NULL;
	if (rc == KY_OK)
		rc = ky_rfi_json(c->s, 0, id, &doc);
	return rc == KY_OK ? respond(c, 201, doc) : failure(rc);
}

/* The secretariat sees every request and answer; a member the requests addressed to it. */
static int get_rfis(call *c)
{
	json_t *doc = NULL;
	int rc = ky_rfi_json(c->s, c->v->who.tier == KY_TIER_SECRETARIAT ? 0 : c->v->who.member_id, 0, &doc);
	return rc == KY_OK ? respond(c, 200, doc) : failure(rc);
}

static int post_rfi_answer(call *c)
{
	static const char *const allowed[] = {"answer", "reason", "objects", NULL};
	static const char *const required[] = {"answer", NULL};
	const char *answer, *reason;
	char *end;
	long long id = strtoll(c->arg[0], &end, 10);
	int rc = *end != '\0' || id <= 0 ? ky_error_set(KY_ENOTFOUND, "no request for information %s", c->arg[0]) : KY_OK;
	if (rc == KY_OK && c->v->who.role == KY_ROLE_READER)
		rc = ky_error_set(KY_EDENIED, "a reader does not answer for its member: an analyst or an admin does");
	if (rc == KY_OK)
		rc = fields(c, allowed, required);
	if (rc == KY_OK)
		rc = text_field(c, "answer", &answer);
	if (rc == KY_OK)
		rc = text_field(c, "reason", &reason);
	ky_store_actor actor = actor_of(c);
	if (rc == KY_OK)
		rc = ky_rfi_reply(c->s, id, c->v->who.member_id, answer, reason, json_object_get(c->body, "objects"), &actor);
	json_t *doc = NULL;
	if (rc == KY_OK)
		rc = ky_rfi_json(c->s, c->v->who.member_id, id, &doc);
	return rc == KY_OK ? respond(c, 200, doc) : failure(rc);
}

/* --- confidential consultations ---------------------------------------------------------- */

/* The path's {id} (or {n}) as a number: KY_ENOTFOUND for anything else, as for a thread the
 * caller is no party of. */
static int number_arg(const char *arg, const char *what, int64_t *out)
{
	char *end;
	long long n = strtoll(arg, &end, 10);
	*out = n;
	return *arg == '\0' || *end != '\0' || n <= 0 ? ky_error_set(KY_ENOTFOUND, "no %s %s", what, arg) : KY_OK;
}

/* The body's "objects" (optional): a list the council checks. */
static const json_t *attached_objects(call *c)
{
	return json_object_get(c->body, "objects");
}

/* Answers with thread id as the caller sees it (council/consult.h). */
static int thread_answer(call *c, unsigned status, int64_t id)
{
	ky_store_actor actor = actor_of(c);
	json_t *doc = NULL;
	int rc = ky_consult_json(c->s, c->v, id, &actor, &doc);
	return rc == KY_OK ? respond(c, status, doc) : failure(rc);
}

static int get_consultations(call *c)
{
	return thread_answer(c, 200, 0);
}

static int post_consultations(call *c)
{
	static const char *const allowed[] = {"subject", "with", "tlp", "named", "text", "objects", NULL};
	static const char *const required[] = {"subject", "text", NULL};
	ky_consult_opening o = {0};
	const char *with[KY_STORE_CONSULT_PARTIES_MAX];
	json_t *list = json_object_get(c->body, "with"), *named = json_object_get(c->body, "named");
	int rc = fields(c, allowed, required);
	if (rc == KY_OK)
		rc = text_field(c, "subject", &o.subject);
	if (rc == KY_OK)
		rc = text_field(c, "text", &o.text);
	if (rc == KY_OK)
		rc = text_field(c, "tlp", &o.tlp);
	if (rc == KY_OK && named != NULL && !json_is_boolean(named))
		rc = ky_error_set(KY_EINVALID, "the field \"named\" must be true or false");
	if (rc == KY_OK && list != NULL && (!json_is_array(list) || json_array_size(list) > KY_STORE_CONSULT_PARTIES_MAX))
		rc = ky_error_set(KY_EINVALID, "the field \"with\" lists the names of at most %d contributors to consult",
				  KY_STORE_CONSULT_PARTIES_MAX);
	for (size_t i = 0; rc == KY_OK && i < json_array_size(list); i++)
		if ((with[o.nwith++] = json_string_value(json_array_get(list, i))) == NULL)
			rc = ky_error_set(KY_EINVALID, "with[%zu] is a contributor's name", i);
	o.with = with;
	o.named = json_is_true(named);
	o.objects = attached_objects(c);
	ky_store_actor actor = actor_of(c);
	int64_t id = 0;
	if (rc == KY_OK)
		rc = ky_consult_open(c->s, c->v, &o, &actor, &id);
	return rc == KY_OK ? thread_answer(c, 201, id) : failure(rc);
}

static int get_consultation(call *c)
{
	int64_t id;
	int rc = number_arg(c->arg[0], "consultation", &id);
	return rc == KY_OK ? thread_answer(c, 200, id) : failure(rc);
}

static int post_consultation_message(call *c)
{
	static const char *const allowed[] = {"text", "objects", NULL};
	static const char *const required[] = {"text", NULL};
	const char *text;
	int64_t id, n = 0;
	int rc = number_arg(c->arg[0], "consultation", &id);
	if (rc == KY_OK)
		rc = fields(c, allowed, required);
	if (rc == KY_OK)
		rc = text_field(c, "text", &text);
	ky_store_actor actor = actor_of(c);
	if (rc == KY_OK)
		rc = ky_consult_post(c->s, c->v, id, text, attached_objects(c), &actor, &n);
	return rc == KY_OK ? thread_answer(c, 201, id) : failure(rc);
}

static int post_consultation_close(call *c)
{
	static const char *const allowed[] = {"reason", NULL};
	const char *reason;
	int64_t id;
	int rc = number_arg(c->arg[0], "consultation", &id);
	if (rc == KY_OK)
		rc = fields(c, allowed, NULL);
	if (rc == KY_OK)
		rc = text_field(c, "reason", &reason);
	ky_store_actor actor = actor_of(c);
	if (rc == KY_OK)
		rc = ky_consult_close(c->s, c->v, id, reason, &actor);
	return rc == KY_OK ? thread_answer(c, 200, id) : failure(rc);
}

/* The objects a message attaches leave the thread only this way: their provider submits them
 * to the exchange as a report, under the usual policy (POST /reports). */
static int post_consultation_report(call *c)
{
	static const char *const allowed[] = {"audiences", "named", NULL};
	submission how;
	int64_t id, n;
	int rc = number_arg(c->arg[0], "consultation", &id);
	if (rc == KY_OK)
		rc = number_arg(c->arg[1], "message", &n);
	if (rc == KY_OK)
		rc = fields(c, allowed, NULL);
	if (rc == KY_OK)
		rc = submission_of(c, &how);
	if (rc == KY_OK && c->v->who.role == KY_ROLE_READER)
		rc = ky_error_set(KY_EDENIED, "a reader does not submit for its member: an analyst or an admin does");
	ky_store_actor actor = actor_of(c);
	json_t *objects = NULL;
	if (rc == KY_OK)
		rc = ky_consult_attached(c->s, c->v, id, n, &actor, &objects);
	if (rc != KY_OK)
		return failure(rc);
	rc = submit(c, objects, &how);
	json_decref(objects);
	return rc;
}

/* --- the live stream ------------------------------------------------------------------------- */

/* Splits query parameter `name`'s comma-separated list into items[0..*n), at most max of them,
 * each at most len bytes: KY_EINVALID naming the parameter otherwise. */
static int list_param(call *c, const char *name, size_t max, size_t len, char *items, size_t item_size, size_t *n)
{
	const char *text = param(c, name);
	*n = 0;
	for (const char *p = text; p != NULL && *p;) {
		size_t k = strcspn(p, ",");
		if (k == 0 || k > len || *n == max)
			return ky_error_set(KY_EINVALID, "%s is a comma-separated list of at most %zu names of at most %zu bytes", name,
					    max, len);
		memcpy(items + *n * item_size, p, k);
		items[*n * item_size + k] = '\0';
		(*n)++;
		p += k + (p[k] == ',');
	}
	return KY_OK;
}

/* The filters of GET /api/v1/stream (its query parameters) into *f. */
static int stream_filter(call *c, ky_stream_filter *f)
{
	static const struct {
		const char *name;
		size_t max, len;
	} lists[] = {{"types", KY_STREAM_TYPES_MAX, KY_STREAM_TYPE_MAX},
		     {"collections", KY_STREAM_COLLECTIONS_MAX, KY_STORE_NAME_MAX},
		     {"states", KY_REPORT_STATES, 15}};
	char items[KY_STREAM_TYPES_MAX][KY_STREAM_TYPE_MAX + 1];
	json_t *spec = json_object();
	int rc = spec ? KY_OK : ky_error_set(KY_ENOMEM, "out of memory");
	for (size_t i = 0; rc == KY_OK && i < sizeof(lists) / sizeof(lists[0]); i++) {
		size_t n = 0;
		rc = list_param(c, lists[i].name, lists[i].max, lists[i].len, items[0], sizeof(items[0]), &n);
		json_t *list = n > 0 ? json_array() : NULL;
		for (size_t k = 0; k < n && list != NULL; k++)
			json_array_append_new(list, json_string(items[k]));
		if (list != NULL)
			json_object_set_new(spec, lists[i].name, list);
	}
	const char *confidence = param(c, "min_confidence");
	char *end = NULL;
	long value = confidence ? strtol(confidence, &end, 10) : -1;
	if (rc == KY_OK && confidence != NULL && (*confidence == '\0' || *end != '\0' || value < 0 || value > 100))
		rc = ky_error_set(KY_EINVALID, "min_confidence is a whole number from 0 to 100 (STIX confidence)");
	if (rc == KY_OK && confidence != NULL)
		json_object_set_new(spec, "min_confidence", json_integer(value));
	if (rc == KY_OK)
		rc = ky_stream_filter_of(c->s, spec, c->a->grants, c->v, f);
	json_decref(spec);
	return rc;
}

/* Where a reconnecting client left: the Last-Event-ID header (EventSource sends it), or the
 * parameter last_event_id for a client that cannot set headers. */
static int stream_resume(call *c, bool *resume, uint64_t *after)
{
	const char *id = ky_http_header(c->r, "Last-Event-ID");
	if (id == NULL)
		id = param(c, "last_event_id");
	*resume = id != NULL;
	*after = 0;
	if (id == NULL)
		return KY_OK;
	size_t digits = strspn(id, "0123456789");
	if (digits == 0 || digits > 19 || id[digits] != '\0')
		return ky_error_set(KY_EINVALID, "Last-Event-ID is the id of the last event received, a whole number");
	*after = strtoull(id, NULL, 10);
	return KY_OK;
}

/* Server-Sent Events of what the caller may read, as they are committed (stream/stream.h). */
static int get_stream(call *c)
{
	ky_stream_filter f;
	bool resume;
	uint64_t after;
	int rc = c->a->stream ? stream_filter(c, &f) : ky_error_set(KY_EUNAVAILABLE, "the live stream is not running");
	if (rc == KY_OK)
		rc = stream_resume(c, &resume, &after);
	ky_stream_client *client = NULL;
	if (rc == KY_OK)
		rc = ky_stream_open(c->a->stream, &c->v->who, &f, resume, after, &client);
	if (rc != KY_OK)
		return failure(rc);
	/* No cache may keep it, and no proxy hold it back. */
	ky_http_header_add(c->r, "Cache-Control", "no-store");
	ky_http_header_add(c->r, "X-Accel-Buffering", "no");
	ky_http_stream *stream = ky_http_respond_stream(c->r, 200, "text/event-stream", ky_stream_read, ky_stream_done, client);
	if (stream == NULL)
		return ky_error_set(KY_ENOMEM, "out of memory starting a stream");
	ky_stream_attach(client, stream);
	return KY_OK;
}

/* --- the document -------------------------------------------------------------------------- */

static int get_openapi(call *c)
{
	ky_http_respond(c->r, 200, MEDIA, ky_api_openapi_json, ky_api_openapi_json_len);
	return KY_OK;
}

/* --- webhooks ------------------------------------------------------------------------------ */

typedef struct webhook_page {
	rows *l;
	const page *p;
	size_t n;
	bool more;
} webhook_page;

static int webhook_row(void *ctx, const ky_store_webhook *w)
{
	webhook_page *wp = ctx;
	if (wp->p->after[0] != '\0' && strcmp(w->uuid, wp->p->after) <= 0)
		return 0;
	if (wp->n == wp->p->limit) {
		wp->more = true;
		return 1;
	}
	wp->n++;
	return append(wp->l, ky_webhook_json(w), w->uuid);
}

/* The endpoints in the order of their ids' text, so a page's cursor is the last id. */
static int by_uuid(const void *a, const void *b)
{
	return strcmp(((const ky_store_webhook *)a)->uuid, ((const ky_store_webhook *)b)->uuid);
}

typedef struct webhook_all {
	ky_store_webhook *rows;
	size_t n, cap;
} webhook_all;

static int webhook_collect(void *ctx, const ky_store_webhook *w)
{
	webhook_all *all = ctx;
	ky_store_webhook *row = ky_store_row_add(&all->rows, &all->n, &all->cap, sizeof(*row));
	if (row == NULL)
		return KY_ENOMEM;
	*row = *w;
	return 0;
}

static int list_webhooks(call *c, const page *p, rows *l, bool *more)
{
	bool secretariat = c->v->who.tier == KY_TIER_SECRETARIAT;
	webhook_all all = {0};
	int rc = ky_store_webhook_list(c->s, secretariat ? 0 : c->v->who.member_id, webhook_collect, &all);
	if (rc == KY_OK && all.n > 0)
		qsort(all.rows, all.n, sizeof(*all.rows), by_uuid);
	webhook_page wp = {l, p, 0, false};
	for (size_t i = 0; rc == KY_OK && i < all.n && !wp.more; i++)
		rc = webhook_row(&wp, &all.rows[i]);
	free(all.rows);
	*more = wp.more;
	return rc < 0 ? rc : KY_OK;
}

static int get_webhooks(call *c)
{
	return listing(c, "webhooks", list_webhooks);
}

static int post_webhooks(call *c)
{
	static const char *const allowed[] = {"url", "declared", "filter", "reason", NULL};
	static const char *const required[] = {"url", "declared", "reason", NULL};
	const char *url, *declared, *reason;
	int rc = fields(c, allowed, required);
	if (rc == KY_OK)
		rc = text_field(c, "url", &url);
	if (rc == KY_OK)
		rc = text_field(c, "declared", &declared);
	if (rc == KY_OK)
		rc = text_field(c, "reason", &reason);
	if (rc == KY_OK && strcmp(declared, "own") != 0 && strcmp(declared, "third-party") != 0)
		rc = ky_error_set(KY_EINVALID, "declared is \"own\" (the member's own system) or \"third-party\" (another's)");
	json_t *filter = json_object_get(c->body, "filter");
	if (rc == KY_OK && filter != NULL && !json_is_object(filter))
		rc = ky_error_set(KY_EINVALID, "filter is an object: types, collections, states, min_confidence");
	char secret[KY_WEBHOOK_SECRET_MAX];
	ky_store_webhook *w = rc == KY_OK ? malloc(sizeof(*w)) : NULL;
	if (rc == KY_OK && w == NULL)
		rc = ky_error_set(KY_ENOMEM, "out of memory");
	if (rc == KY_OK)
		rc = ky_webhook_add(c->s, &c->caller, c->v, c->a->grants, c->a->config, url, strcmp(declared, "own") == 0,
				    filter, reason, secret, w);
	if (rc != KY_OK) {
		free(w);
		return failure(rc);
	}
	json_t *body = ky_webhook_json(w);
	free(w);
	if (body != NULL)
		json_object_set_new(body, "secret", json_string(secret));
	sodium_memzero(secret, sizeof(secret));
	return respond(c, 201, body);
}

static int get_webhook(call *c)
{
	ky_store_webhook *w = malloc(sizeof(*w));
	int rc = w ? ky_webhook_find(c->s, &c->caller, c->arg[0], w) : ky_error_set(KY_ENOMEM, "out of memory");
	json_t *body = rc == KY_OK ? ky_webhook_json(w) : NULL;
	free(w);
	return rc == KY_OK ? respond(c, 200, body) : failure(rc);
}

static int delete_webhook(call *c)
{
	ky_store_webhook *w = malloc(sizeof(*w));
	const char *reason = param(c, "reason");
	int rc = w ? KY_OK : ky_error_set(KY_ENOMEM, "out of memory");
	if (rc == KY_OK && reason == NULL)
		rc = ky_error_set(KY_EINVALID, "say why in the parameter reason, for the record of changes");
	if (rc == KY_OK)
		rc = ky_webhook_remove(c->s, &c->caller, c->arg[0], reason, w);
	json_t *body = rc == KY_OK ? ky_webhook_json(w) : NULL;
	free(w);
	return rc == KY_OK ? respond(c, 200, body) : failure(rc);
}

typedef struct dead_page {
	rows *l;
} dead_page;

static int dead_row(void *ctx, const ky_store_delivery_info *d)
{
	dead_page *dp = ctx;
	/* webhook_id: the header the receiver got it with on every attempt. */
	char id[32];
	snprintf(id, sizeof(id), "msg_%lld", (long long)d->id);
	json_t *item = json_pack("{s:I,s:s,s:I,s:s,s:i,s:o,s:o}", "delivery", (json_int_t)d->id, "webhook_id", id,
				 "event", (json_int_t)d->seq, "kind", d->kind, "attempts", d->attempts, "queued",
				 ky_council_time_json(d->created_us), "dead_since", ky_council_time_json(d->done_us));
	if (item == NULL)
		return ky_error_set(KY_ENOMEM, "out of memory");
	if (d->last_status)
		json_object_set_new(item, "last_status", json_integer(d->last_status));
	if (*d->last_error)
		json_object_set_new(item, "last_error", json_string(d->last_error));
	char key[32];
	snprintf(key, sizeof(key), "%lld", (long long)d->id);
	return append(dp->l, item, key);
}

static int list_dead(call *c, const page *p, rows *l, bool *more)
{
	ky_store_webhook *w = malloc(sizeof(*w));
	int rc = w ? ky_webhook_find(c->s, &c->caller, c->arg[0], w) : ky_error_set(KY_ENOMEM, "out of memory");
	dead_page dp = {l};
	if (rc == KY_OK)
		rc = ky_store_webhook_dead_list(c->s, w->id, strtoll(p->after, NULL, 10), p->limit, dead_row, &dp, more);
	free(w);
	return rc;
}

static int get_webhook_dead(call *c)
{
	return listing(c, "deliveries", list_dead);
}

static int post_webhook_replay(call *c)
{
	static const char *const allowed[] = {"delivery", "reason", NULL};
	static const char *const required[] = {"reason", NULL};
	const char *reason;
	int rc = fields(c, allowed, required);
	if (rc == KY_OK)
		rc = text_field(c, "reason", &reason);
	json_t *delivery = json_object_get(c->body, "delivery");
	if (rc == KY_OK && delivery != NULL && (!json_is_integer(delivery) || json_integer_value(delivery) < 1))
		rc = ky_error_set(KY_EINVALID, "delivery is the number of a dead delivery, as the dead list gives it");
	uint64_t n = 0;
	if (rc == KY_OK)
		rc = ky_webhook_replay(c->s, &c->caller, c->arg[0], delivery ? json_integer_value(delivery) : 0, reason, &n);
	return rc == KY_OK ? respond(c, 200, json_pack("{s:I}", "replayed", (json_int_t)n)) : failure(rc);
}

/* --- routing ------------------------------------------------------------------------------- */

static const route routes[] = {
	{"GET", PREFIX "/openapi.json", get_openapi, true, false},
	{"GET", PREFIX "/me", get_me, true, false},
	{"GET", PREFIX "/rules", get_rules, true, false},
	{"POST", PREFIX "/rules", post_rules, false, true},
	{"POST", PREFIX "/rules/accept", post_rules_accept, true, true},
	{"GET", PREFIX "/members", get_members, false, false},
	{"POST", PREFIX "/members", post_members, false, true},
	{"GET", PREFIX "/members/{name}", get_member, false, false},
	{"PATCH", PREFIX "/members/{name}", patch_member, false, true},
	{"GET", PREFIX "/users", get_users, false, false},
	{"POST", PREFIX "/users", post_users, false, true},
	{"GET", PREFIX "/users/{name}", get_user, false, false},
	{"PATCH", PREFIX "/users/{name}", patch_user, false, true},
	{"GET", PREFIX "/groups", get_groups, false, false},
	{"POST", PREFIX "/groups", post_groups, false, true},
	{"GET", PREFIX "/groups/{name}", get_group, false, false},
	{"POST", PREFIX "/groups/{name}/members", post_group_members, false, true},
	{"DELETE", PREFIX "/groups/{name}/members/{member}", delete_group_member, false, false},
	{"GET", PREFIX "/keys", get_keys, false, false},
	{"POST", PREFIX "/keys", post_keys, false, true},
	{"DELETE", PREFIX "/keys/{prefix}", delete_key, false, false},
	{"GET", PREFIX "/audiences", get_audiences, false, false},
	{"GET", PREFIX "/objects/{id}", get_object, false, false},
	{"GET", PREFIX "/reach", get_reach, false, false},
	{"GET", PREFIX "/reports", get_reports, false, false},
	{"POST", PREFIX "/reports", post_reports, false, true},
	{"GET", PREFIX "/reports/{id}", get_report, false, false},
	{"POST", PREFIX "/reports/{id}/transitions", post_transitions, false, true},
	{"POST", PREFIX "/reports/{id}/feedback", post_feedback, false, true},
	{"GET", PREFIX "/promotion-rules", get_promotion_rules, false, false},
	{"POST", PREFIX "/promotion-rules", post_promotion_rules, false, true},
	{"DELETE", PREFIX "/promotion-rules/{name}", delete_promotion_rule, false, false},
	{"GET", PREFIX "/notifications", get_notifications, false, false},
	{"GET", PREFIX "/contribution", get_contribution, false, false},
	{"GET", PREFIX "/contribution/free-riders", get_free_riders, false, false},
	{"GET", PREFIX "/rfis", get_rfis, false, false},
	{"POST", PREFIX "/rfis", post_rfis, false, true},
	{"POST", PREFIX "/rfis/{id}/answer", post_rfi_answer, false, true},
	{"GET", PREFIX "/consultations", get_consultations, false, false},
	{"POST", PREFIX "/consultations", post_consultations, false, true},
	{"GET", PREFIX "/consultations/{id}", get_consultation, false, false},
	{"POST", PREFIX "/consultations/{id}/messages", post_consultation_message, false, true},
	{"POST", PREFIX "/consultations/{id}/close", post_consultation_close, false, true},
	{"POST", PREFIX "/consultations/{id}/messages/{n}/report", post_consultation_report, false, true},
	{"GET", PREFIX "/stream", get_stream, false, false, "text/event-stream"},
	{"GET", PREFIX "/webhooks", get_webhooks, false, false},
	{"POST", PREFIX "/webhooks", post_webhooks, false, true},
	{"GET", PREFIX "/webhooks/{id}", get_webhook, false, false},
	{"DELETE", PREFIX "/webhooks/{id}", delete_webhook, false, false},
	{"GET", PREFIX "/webhooks/{id}/dead", get_webhook_dead, false, false},
	{"POST", PREFIX "/webhooks/{id}/replay", post_webhook_replay, false, true},
};

#define NROUTES (sizeof(routes) / sizeof(routes[0]))

size_t ky_api_route_count(void)
{
	return NROUTES;
}

ky_api_route_name ky_api_route_at(size_t i)
{
	return i < NROUTES ? (ky_api_route_name){routes[i].method, routes[i].path} : (ky_api_route_name){NULL, NULL};
}

/* Whether `path` (len bytes) matches the template; its {…} parts go to arg[], copied into the
 * arena. A part is one segment: 1 to 64 bytes of letters, digits and '.', '_', '-', '@', '+'
 * (every name kyoyu gives), so no decoding is needed and anything else matches nothing. */
static bool matches(ky_arena *arena, const char *template, ky_slice path, const char **arg)
{
	const char *t = template, *p = path.ptr, *end = path.ptr + path.len;
	int nargs = 0;
	while (*t && p < end) {
		if (*t == '{') {
			size_t n = 0;
			while (p + n < end && p[n] != '/') {
				if (strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-@+", p[n]) == NULL ||
				    p[n] == '\0')
					return false;
				n++;
			}
			if (n == 0 || n > KY_STORE_STIX_ID_MAX - 1)
				return false;
			if (arg != NULL && nargs < 2 && (arg[nargs] = ky_arena_strndup(arena, p, n)) == NULL)
				return false;
			nargs++;
			p += n;
			t = strchr(t, '}') + 1;
			continue;
		}
		if (*t != *p)
			return false;
		t++;
		p++;
	}
	return *t == '\0' && p == end;
}

/* Whether an Accept header admits JSON. */
static bool accepts(const char *accept, const char *media)
{
	if (accept == NULL || *accept == '\0')
		return true;
	size_t major = strcspn(media, "/") + 1, whole = strlen(media);
	for (const char *p = accept; *p;) {
		while (*p == ' ' || *p == '\t')
			p++;
		size_t n = strcspn(p, ",;");
		while (n > 0 && (p[n - 1] == ' ' || p[n - 1] == '\t'))
			n--;
		if ((n == 3 && memcmp(p, "*/*", 3) == 0) ||
		    (n == major + 1 && strncasecmp(p, media, major) == 0 && p[major] == '*') ||
		    (n == whole && strncasecmp(p, media, whole) == 0))
			return true;
		p += strcspn(p, ",");
		if (*p == ',')
			p++;
	}
	return false;
}

int ky_api_route(ky_api *a, ky_http_request *r, void **state)
{
	(void)a;
	ky_http_set_error_media(r, MEDIA);
	ky_slice method = ky_http_method(r), path = ky_http_path(r);
	routed *out = ky_arena_alloc(ky_http_arena(r), sizeof(*out));
	if (out == NULL)
		return ky_error_set(KY_ENOMEM, "out of memory");
	char allow[64] = "";
	for (size_t i = 0; i < NROUTES; i++) {
		if (!matches(ky_http_arena(r), routes[i].path, path, NULL))
			continue;
		snprintf(allow + strlen(allow), sizeof(allow) - strlen(allow), "%s%s", allow[0] ? ", " : "", routes[i].method);
		bool head = ky_slice_is(method, "HEAD") && strcmp(routes[i].method, "GET") == 0;
		if ((ky_slice_is(method, routes[i].method) || head) && out->rt == NULL) {
			out->rt = &routes[i];
			matches(ky_http_arena(r), routes[i].path, path, out->arg);
		}
	}
	if (allow[0] == '\0')
		return ky_error_set(KY_ENOTFOUND, "There is no API resource at this path (the routes are listed at %s/openapi.json).",
				    PREFIX);
	if (out->rt == NULL) {
		ky_http_header_add(r, "Allow", ky_arena_strndup(ky_http_arena(r), allow, strlen(allow)));
		return ky_error_set(KY_EMETHOD, "This resource takes %s.", allow);
	}
	const char *media = out->rt->media ? out->rt->media : MEDIA;
	if (!accepts(ky_http_header(r, "Accept"), media))
		return ky_error_set(KY_ENOTACCEPTABLE, "This resource answers in %s; the Accept header does not allow it.",
				    media);
	*state = out;
	return KY_OK;
}

bool ky_api_rules_exempt(const void *state)
{
	const routed *rt = state;
	return rt != NULL && rt->rt->exempt;
}

/* Whether a Content-Type is application/json, with parameters or not. */
static bool is_json_type(const char *type)
{
	if (type == NULL)
		return false;
	size_t n = strcspn(type, ";");
	while (n > 0 && (type[n - 1] == ' ' || type[n - 1] == '\t'))
		n--;
	return n == 16 && strncasecmp(type, MEDIA, 16) == 0;
}

/* The body as a JSON object into c->body. */
static int read_body(call *c)
{
	if (!is_json_type(ky_http_header(c->r, "Content-Type")))
		return ky_error_set(KY_EMEDIATYPE, "This route takes a JSON object as %s.", MEDIA);
	size_t len = 0;
	const char *text = ky_http_body(c->r, &len);
	json_error_t error;
	c->body = json_loadb(text ? text : "", len, JSON_REJECT_DUPLICATES, &error);
	if (c->body == NULL || !json_is_object(c->body)) {
		json_decref(c->body);
		c->body = NULL;
		return ky_error_set(KY_EINVALID, "The body is not a JSON object%s%.200s.", error.text[0] && len ? ": " : "",
				    len ? error.text : "");
	}
	return KY_OK;
}

int ky_api_serve(ky_api *a, ky_http_request *r, void *state, ky_store *store, const ky_viewer *viewer)
{
	const routed *rt = state;
	call c = {.a = a,
		  .r = r, .s = store, .v = viewer, .arg = {rt->arg[0], rt->arg[1]}};
	snprintf(c.via, sizeof(c.via), "%s %s", rt->rt->method, rt->rt->path);
	c.caller = (ky_council_caller){&viewer->who, c.via};
	int rc = rt->rt->body ? read_body(&c) : KY_OK;
	if (rc == KY_OK)
		rc = rt->rt->fn(&c);
	json_decref(c.body);
	return rc;
}

int ky_api_new(ky_api **out, const ky_api_options *options)
{
	*out = calloc(1, sizeof(**out));
	if (*out == NULL)
		return ky_error_set(KY_ENOMEM, "out of memory");
	(*out)->config = options->config;
	(*out)->grants = options->grants;
	return KY_OK;
}

void ky_api_set_stream(ky_api *a, ky_stream_hub *hub)
{
	a->stream = hub;
}

void ky_api_free(ky_api *a)
{
	free(a);
}
