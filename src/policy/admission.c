#include "policy/admission.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth/auth.h"
#include "policy/pseudonym.h"
#include "stix/stix_selector.h"
#include "stix/stix_validate.h"
#include "util/ky_clock.h"
#include "util/ky_error.h"
#include "util/ky_uuid.h"

/* The hub secret the audiences' marking-definition ids are derived under. */
#define AUDIENCE_SECRET "audiences"

/* A marking-definition id from a secret and an audience key: 128 bits of a keyed BLAKE2b,
 * written as a UUID of version 4 (random-looking, which a keyed hash is to anyone without
 * the secret), so that the id names this hub's audience and no other hub's. */
static void audience_id(const uint8_t secret[KY_STORE_SECRET_SIZE], const char *key, char out[KY_AUDIENCE_ID_MAX])
{
	char uuid[37];
	ky_uuid_keyed(secret, key, strlen(key), uuid);
	snprintf(out, KY_AUDIENCE_ID_MAX, "marking-definition--%s", uuid);
}

/* The hub secret `name`, made on first use. */
static int hub_secret(ky_store *s, const char *name, uint8_t secret[KY_STORE_SECRET_SIZE])
{
	uint8_t fresh[KY_STORE_SECRET_SIZE];
	int rc = ky_auth_init();
	if (rc != KY_OK)
		return rc;
	randombytes_buf(fresh, sizeof(fresh));
	rc = ky_store_secret(s, name, fresh, secret);
	sodium_memzero(fresh, sizeof(fresh));
	return rc;
}

typedef struct lister {
	uint8_t secret[KY_STORE_SECRET_SIZE];
	int (*fn)(void *ctx, const ky_audience_entry *e);
	void *ctx;
	char last[KY_STORE_NAME_MAX + 1];
	int64_t created_us;               /* of the group or member being emitted */
} lister;

/* Hands one audience to the caller. */
static int emit(lister *l, ky_audience_kind kind, const char *kind_name, const char *name, int64_t id)
{
	ky_audience_entry e = {.audience = {.kind = kind, .id = id}, .kind = kind_name};
	if (kind == KY_AUDIENCE_GROUP || kind == KY_AUDIENCE_MEMBER)
		e.created_us = l->created_us;
	snprintf(e.name, sizeof(e.name), "%s", name);
	if (kind == KY_AUDIENCE_SECTOR)
		e.audience.name = e.name;
	/* The key the store knows the audience by (decision.h) names it in the derivation. */
	char key[KY_STORE_ACCESS_KEY_MAX + 1];
	int rc = ky_policy_audience_key(&e.audience, key);
	if (rc != KY_OK)
		return rc;
	audience_id(l->secret, key, e.marking_id);
	return l->fn(l->ctx, &e);
}

static int sector_row(void *ctx, const char *name, const char *stix, const char *title)
{
	(void)stix;
	(void)title;
	return emit(ctx, KY_AUDIENCE_SECTOR, "sector", name, 0);
}

static int group_row(void *ctx, const ky_store_group *g)
{
	lister *l = ctx;
	snprintf(l->last, sizeof(l->last), "%s", g->name);
	l->created_us = g->created_us;
	return emit(l, KY_AUDIENCE_GROUP, "group", g->name, g->id);
}

static int member_row(void *ctx, const ky_store_member *m)
{
	lister *l = ctx;
	snprintf(l->last, sizeof(l->last), "%s", m->name);
	l->created_us = m->created_us;
	return emit(l, KY_AUDIENCE_MEMBER, "member", m->name, m->id);
}

#define LIST_PAGE 500

int ky_policy_audience_list(ky_store *s, int (*fn)(void *ctx, const ky_audience_entry *e), void *ctx)
{
	lister l = {.fn = fn, .ctx = ctx};
	int rc = hub_secret(s, AUDIENCE_SECRET, l.secret);
	if (rc == KY_OK)
		rc = emit(&l, KY_AUDIENCE_COMMUNITY, "community", "community", 0);
	if (rc == KY_OK)
		rc = emit(&l, KY_AUDIENCE_CONTRIBUTORS, "contributors", "contributors", 0);
	if (rc == KY_OK)
		rc = ky_store_sector_list(s, sector_row, &l);
	bool more = true;
	l.last[0] = '\0';
	while (rc == KY_OK && more)
		rc = ky_store_group_list(s, 0, l.last[0] ? l.last : NULL, LIST_PAGE, group_row, &l, &more);
	more = true;
	l.last[0] = '\0';
	while (rc == KY_OK && more)
		rc = ky_store_member_list(s, l.last[0] ? l.last : NULL, LIST_PAGE, member_row, &l, &more);
	sodium_memzero(l.secret, sizeof(l.secret));
	return rc < 0 ? rc : KY_OK;
}

ky_tlp ky_policy_default_tlp(const ky_config *config)
{
	static const char *const names[] = {"clear", "green", "amber", "amber+strict", "red"};
	for (int t = KY_TLP_CLEAR; config != NULL && t <= KY_TLP_RED; t++)
		if (strcmp(config->default_tlp, names[t]) == 0)
			return (ky_tlp)t;
	return KY_TLP_AMBER;
}

/* --- the snapshot ------------------------------------------------------------------------ */

typedef struct identity {
	char id[KY_STORE_IDENTITY_MAX];
	int64_t member;
	bool secretariat;
	char name[KY_STORE_NAME_MAX + 1];
} identity;

/* What names the provider in text: its name, title and contact ("" when not given). */
typedef struct names {
	char name[KY_STORE_NAME_MAX + 1];
	char title[KY_STORE_TITLE_MAX + 1];
	char contact[KY_STORE_CONTACT_MAX + 1];
} names;

struct ky_admission {
	ky_admission_options o;
	ky_audience_entry *audiences;     /* sorted by marking id */
	size_t naudiences, cap;
	identity *identities;             /* sorted by id */
	size_t nidentities, icap;
	char **held;                      /* marking-definitions the hub holds, sorted */
	size_t nheld, hcap;
	uint8_t pseudonym_secret[KY_STORE_SECRET_SIZE];
	int64_t secretariat;              /* its member id, the provider of pseudonyms' identities */
	names provider;                   /* empty for the secretariat, which is not anonymous */
	ky_audience defaults[KY_STORE_ACCESS_KEYS_MAX];
	char default_names[KY_STORE_ACCESS_KEYS_MAX][KY_STORE_NAME_MAX + 1];
	size_t ndefaults;
};

static int grow(void **items, size_t *cap, size_t n, size_t size)
{
	if (n < *cap)
		return KY_OK;
	size_t more = *cap ? *cap * 2 : 64;
	void *grown = realloc(*items, more * size);
	if (grown == NULL)
		return ky_error_set(KY_ENOMEM, "out of memory");
	*items = grown;
	*cap = more;
	return KY_OK;
}

static int keep_audience(void *ctx, const ky_audience_entry *e)
{
	ky_admission *a = ctx;
	int rc = grow((void **)&a->audiences, &a->cap, a->naudiences, sizeof(*a->audiences));
	if (rc == KY_OK)
		a->audiences[a->naudiences++] = *e;
	return rc;
}

static int keep_identity(void *ctx, const ky_store_member *m)
{
	ky_admission *a = ctx;
	int rc = grow((void **)&a->identities, &a->icap, a->nidentities, sizeof(*a->identities));
	if (rc != KY_OK)
		return rc;
	identity *i = &a->identities[a->nidentities++];
	snprintf(i->id, sizeof(i->id), "%s", m->identity_id);
	snprintf(i->name, sizeof(i->name), "%s", m->name);
	i->member = m->id;
	i->secretariat = m->tier == KY_TIER_SECRETARIAT;
	if (i->secretariat)
		a->secretariat = m->id;
	if (m->id == a->o.provider && !i->secretariat) {
		snprintf(a->provider.name, sizeof(a->provider.name), "%s", m->name);
		snprintf(a->provider.title, sizeof(a->provider.title), "%s", m->title);
		snprintf(a->provider.contact, sizeof(a->provider.contact), "%s", m->contact);
	}
	return KY_OK;
}

static int hold(void *ctx, const char *id)
{
	ky_admission *a = ctx;
	int rc = grow((void **)&a->held, &a->hcap, a->nheld, sizeof(*a->held));
	if (rc == KY_OK && (a->held[a->nheld] = strdup(id)) == NULL)
		rc = ky_error_set(KY_ENOMEM, "out of memory");
	if (rc == KY_OK)
		a->nheld++;
	return rc;
}

static int by_marking(const void *x, const void *y)
{
	return strcmp(((const ky_audience_entry *)x)->marking_id, ((const ky_audience_entry *)y)->marking_id);
}

static int by_identity(const void *x, const void *y)
{
	return strcmp(((const identity *)x)->id, ((const identity *)y)->id);
}

static int by_text(const void *x, const void *y)
{
	return strcmp(*(char *const *)x, *(char *const *)y);
}

/* The entries' audiences point at their own names: after copying and sorting, again. */
static void repoint(ky_admission *a)
{
	for (size_t i = 0; i < a->naudiences; i++)
		if (a->audiences[i].audience.kind == KY_AUDIENCE_SECTOR)
			a->audiences[i].audience.name = a->audiences[i].name;
}

/* Reads the collection's default audience, "community,sector:water,...", against the
 * audiences the hub offers. */
static int read_defaults(ky_admission *a, const char *text)
{
	while (text != NULL && *text) {
		size_t n = strcspn(text, ",");
		char item[KY_STORE_NAME_MAX + 32];
		snprintf(item, sizeof(item), "%.*s", (int)n, text);
		text += n + (text[n] == ',');
		if (item[0] == '\0')
			continue;
		const char *colon = strchr(item, ':');
		size_t kind_len = colon ? (size_t)(colon - item) : strlen(item);
		const char *name = colon ? colon + 1 : item;
		const ky_audience_entry *hit = NULL;
		for (size_t i = 0; i < a->naudiences && hit == NULL; i++) {
			const ky_audience_entry *e = &a->audiences[i];
			if (strlen(e->kind) == kind_len && strncmp(e->kind, item, kind_len) == 0 && strcmp(e->name, name) == 0)
				hit = e;
		}
		if (hit == NULL)
			return ky_error_set(KY_EINVALID,
					    "the default audience '%s' is not one of the hub's: community, contributors,"
					    " sector:NAME, group:NAME or member:NAME of a sector, group or member it has",
					    item);
		if (a->ndefaults == KY_STORE_ACCESS_KEYS_MAX)
			return ky_error_set(KY_ETOOBIG, "a default audience names at most %d audiences", KY_STORE_ACCESS_KEYS_MAX);
		snprintf(a->default_names[a->ndefaults], sizeof(a->default_names[0]), "%s", hit->name);
		a->defaults[a->ndefaults] = hit->audience;
		if (hit->audience.kind == KY_AUDIENCE_SECTOR)
			a->defaults[a->ndefaults].name = a->default_names[a->ndefaults];
		a->ndefaults++;
	}
	return KY_OK;
}

int ky_admission_new(ky_store *s, const ky_admission_options *o, ky_admission **out)
{
	*out = NULL;
	ky_admission *a = calloc(1, sizeof(*a));
	if (a == NULL)
		return ky_error_set(KY_ENOMEM, "out of memory");
	a->o = *o;
	a->o.default_audience = NULL;
	int rc = ky_policy_audience_list(s, keep_audience, a);
	bool more = true;
	char last[KY_STORE_NAME_MAX + 1] = "";
	while (rc == KY_OK && more) {
		size_t before = a->nidentities;
		rc = ky_store_member_list(s, last[0] ? last : NULL, LIST_PAGE, keep_identity, a, &more);
		if (rc == KY_OK && a->nidentities > before)
			snprintf(last, sizeof(last), "%s", a->identities[a->nidentities - 1].name);
	}
	if (rc == KY_OK)
		rc = ky_store_ids_of_type(s, "marking-definition", hold, a);
	if (rc == KY_OK)
		rc = hub_secret(s, KY_PSEUDONYM_SECRET, a->pseudonym_secret);
	if (rc == KY_OK) {
		if (a->naudiences > 0)
			qsort(a->audiences, a->naudiences, sizeof(*a->audiences), by_marking);
		repoint(a);
		rc = read_defaults(a, o->default_audience);
	}
	if (rc != KY_OK) {
		ky_admission_free(a);
		return rc;
	}
	/* qsort's base may not be NULL, which an empty list's is. */
	if (a->nidentities > 0)
		qsort(a->identities, a->nidentities, sizeof(*a->identities), by_identity);
	if (a->nheld > 0)
		qsort(a->held, a->nheld, sizeof(*a->held), by_text);
	*out = a;
	return KY_OK;
}

int ky_admission_operator(ky_store *s, const ky_config *config, const char *collection, ky_admission **out)
{
	ky_store_member secretariat;
	ky_store_actor operator = {.via = "kyoyu import"};
	int rc = ky_store_secretariat_ensure(s, &operator, &secretariat);
	if (rc != KY_OK)
		return rc;
	const char *audience = NULL;
	for (size_t i = 0; config != NULL && collection != NULL && i < config->ncollections; i++)
		if (strcmp(config->collections[i].name, collection) == 0)
			audience = config->collections[i].audience;
	ky_admission_options o = {
		.provider = secretariat.id,
		.provider_tier = KY_TIER_SECRETARIAT,
		.default_tlp = ky_policy_default_tlp(config),
		.default_audience = audience,
		.exchange = collection != NULL && strcmp(collection, KY_STORE_EXCHANGE) == 0,
	};
	return ky_admission_new(s, &o, out);
}

void ky_admission_free(ky_admission *a)
{
	if (a == NULL)
		return;
	for (size_t i = 0; i < a->nheld; i++)
		free(a->held[i]);
	free(a->held);
	free(a->audiences);
	free(a->identities);
	sodium_memzero(a->pseudonym_secret, sizeof(a->pseudonym_secret));
	free(a);
}

static bool held(const ky_admission *a, const char *id)
{
	return a->nheld > 0 && bsearch(&id, a->held, a->nheld, sizeof(*a->held), by_text) != NULL;
}

/* The resolver the facts are read with: an audience of the hub, a marking-definition it
 * holds, or unknown. */
static ky_marking_kind resolve(void *ctx, const char *id, ky_audience *out)
{
	const ky_admission *a = ctx;
	ky_audience_entry key;
	snprintf(key.marking_id, sizeof(key.marking_id), "%s", id);
	const ky_audience_entry *hit =
		a->naudiences ? bsearch(&key, a->audiences, a->naudiences, sizeof(*a->audiences), by_marking) : NULL;
	if (hit != NULL) {
		*out = hit->audience;
		return KY_MARKING_AUDIENCE;
	}
	/* kyoyu's own, which every hub knows before it publishes it. */
	return held(a, id) || strcmp(id, KY_NAMED_MARKING) == 0 || strcmp(id, KY_STANDING_MARKING) == 0 ? KY_MARKING_OTHER
													   : KY_MARKING_UNKNOWN;
}

/* The first reference of object_marking_refs that `resolve` does not know, for the warning. */
static const char *first_unresolved(const ky_admission *a, const json_t *object)
{
	size_t i;
	const json_t *ref;
	json_array_foreach(json_object_get(object, "object_marking_refs"), i, ref)
	{
		ky_tlp level;
		ky_audience unused;
		const char *id = json_string_value(ref);
		if (id != NULL && !ky_tlp_of_id(id, &level) && resolve((void *)a, id, &unused) == KY_MARKING_UNKNOWN)
			return id;
	}
	return "?";
}

/* The first granular marking on the part `selector` names that the hub cannot resolve. */
static const char *first_unresolved_on(const ky_admission *a, const json_t *object, const char *selector)
{
	size_t i, j;
	const json_t *m, *sel;
	json_array_foreach(json_object_get(object, "granular_markings"), i, m)
	{
		const char *id = json_string_value(json_object_get(m, "marking_ref"));
		ky_tlp level;
		ky_audience unused;
		if (id == NULL || ky_tlp_of_id(id, &level) || resolve((void *)a, id, &unused) != KY_MARKING_UNKNOWN)
			continue;
		json_array_foreach(json_object_get(m, "selectors"), j, sel)
		if (json_is_string(sel) && strcmp(json_string_value(sel), selector) == 0)
			return id;
	}
	return "?";
}

/* Whether the object is still valid without the part `selector` names. What marks the
 * object may not go: without it the rest would be marked otherwise. */
static int is_required(const json_t *object, const char *selector, ky_stix_problems *problems, bool *required)
{
	*required = true;
	if (strncmp(selector, "granular_markings", 17) == 0 || strncmp(selector, "object_marking_refs", 19) == 0)
		return KY_OK;
	json_t *copy = json_deep_copy(object);
	if (copy == NULL)
		return ky_error_set(KY_ENOMEM, "out of memory");
	const char *selectors[1] = {selector};
	int rc = ky_stix_remove_selected(copy, selectors, 1);
	ky_stix_problems_clear(problems);
	if (rc == KY_OK)
		rc = ky_stix_validate_object(problems, copy);
	json_decref(copy);
	if (rc == KY_ENOMEM)
		return rc;
	*required = rc != KY_OK;
	return KY_OK;
}

static bool same_keys(const ky_policy_keys *a, const ky_policy_keys *b)
{
	if (a->n != b->n)
		return false;
	for (size_t i = 0; i < a->n; i++) {
		bool found = false;
		for (size_t j = 0; j < b->n && !found; j++)
			found = strcmp(a->key[i], b->key[j]) == 0;
		if (!found)
			return false;
	}
	return true;
}

/*
 * Marks the parts the object needs (f's parts, in space), and writes the others that some
 * readers of the version may not read as the store keeps them: [{"selector", "keys"}] into
 * *parts (malloc'd; NULL when there is none). A part on a marking the hub cannot resolve
 * gets a warning, unless the version has one.
 */
static int decide_parts(ky_admission *a, const json_t *object, ky_facts_space *space, ky_version_facts *f,
			ky_admitted *out)
{
	if (f->nparts == 0)
		return KY_OK;
	/* Before any part is marked required: the keys of the version alone. */
	ky_policy_keys whole, part;
	int rc = ky_policy_access_keys(f, &whole);
	ky_stix_problems *problems = NULL;
	json_t *list = json_array();
	if (rc == KY_OK && (list == NULL || ky_stix_problems_new(&problems) != KY_OK))
		rc = ky_error_set(KY_ENOMEM, "out of memory");
	for (size_t i = 0; rc == KY_OK && i < f->nparts; i++) {
		ky_part_facts *p = &space->parts[i];
		rc = is_required(object, p->selector, problems, &p->required);
		if (rc == KY_OK && p->unresolved && out->warning[0] == '\0')
			snprintf(out->warning, sizeof(out->warning),
				 "granular_markings mark %s with %s, which this hub does not hold: only you and the secretariat"
				 " can read %s",
				 p->selector, first_unresolved_on(a, object, p->selector),
				 p->required ? "this version" : "that part of it");
		if (rc == KY_OK && !p->required)
			rc = ky_policy_part_keys(f, i, &part);
		if (rc != KY_OK || p->required || same_keys(&part, &whole))
			continue;
		json_t *keys = json_array();
		for (size_t k = 0; keys != NULL && k < part.n; k++)
			if (json_array_append_new(keys, json_string(part.key[k])) != 0)
				rc = ky_error_set(KY_ENOMEM, "out of memory");
		json_t *entry = keys ? json_pack("{s:s, s:o}", "selector", p->selector, "keys", keys) : NULL;
		if (entry == NULL || json_array_append_new(list, entry) != 0)
			rc = ky_error_set(KY_ENOMEM, "out of memory");
	}
	if (rc == KY_OK && json_array_size(list) > 0 && (out->parts = json_dumps(list, JSON_COMPACT)) == NULL)
		rc = ky_error_set(KY_ENOMEM, "out of memory");
	json_decref(list);
	ky_stix_problems_free(problems);
	return rc;
}

/* Whether `text` holds `what` (ignoring ASCII case); "" is in nothing. */
static bool holds(const char *text, const char *what)
{
	return what[0] != '\0' && strcasestr(text, what) != NULL;
}

/* The first property (its name into key) whose string, other than a reference or an id,
 * holds one of the provider's names (into which); false when none does. */
static bool mentioned(const names *n, const char *key, json_t *value, const char **where, const char **which)
{
	if (json_is_string(value)) {
		const char *text = json_string_value(value);
		const char *found = NULL;
		if (!ky_pseudonym_is_reference(key) && strcmp(key, "id") != 0) {
			const char *const candidates[] = {n->title, n->contact, n->name};
			for (size_t i = 0; found == NULL && i < 3; i++)
				found = holds(text, candidates[i]) ? candidates[i] : NULL;
		}
		if (found != NULL) {
			*where = key;
			*which = found;
		}
		return found != NULL;
	}
	const char *k;
	json_t *v;
	size_t i;
	if (json_is_object(value))
		json_object_foreach(value, k, v)
			if (mentioned(n, k, v, where, which))
				return true;
	if (json_is_array(value))
		json_array_foreach(value, i, v)
			if (mentioned(n, key, v, where, which))
				return true;
	return false;
}

/* A member's object whose text names it: stored, with a warning saying where. */
static void warn_of_mentions(const ky_admission *a, const json_t *object, ky_admitted *out)
{
	const char *where = NULL, *which = NULL;
	if (!mentioned(&a->provider, "", (json_t *)object, &where, &which))
		return;
	size_t len = strlen(out->warning);
	snprintf(out->warning + len, sizeof(out->warning) - len,
		 "%s%s names your organisation (\"%s\"): other members read references to you as a pseudonym, but kyoyu"
		 " does not rewrite text, so they would read this; remove it to stay anonymous",
		 len ? "; " : "", where, which);
}

/* The member whose identity `id` is, the secretariat's aside: the secretariat is the hub,
 * which publishes under its own name (docs/policy.md, "Pseudonyms"). */
static int64_t member_of(void *ctx, const char *id)
{
	const ky_admission *a = ctx;
	identity key;
	if (a->nidentities == 0 || strlen(id) >= sizeof(key.id))
		return 0;
	snprintf(key.id, sizeof(key.id), "%s", id);
	const identity *hit = bsearch(&key, a->identities, a->nidentities, sizeof(*a->identities), by_identity);
	return hit != NULL && !hit->secretariat ? hit->member : 0;
}

typedef struct sharing {
	ky_admission *a;
	ky_admitted *out;
	const char *audience;
	int64_t named;
	int status;
} sharing;

/* The identity object of member's pseudonym for the sharing's audience, kept once. */
static int keep_pseudonym(sharing *sh, int64_t member)
{
	ky_admitted *out = sh->out;
	char id[KY_PSEUDONYM_ID_MAX];
	ky_pseudonym_id(sh->a->pseudonym_secret, member, sh->audience, id);
	for (size_t i = 0; i < out->npseudonyms; i++)
		if (strcmp(out->pseudonyms[i].id, id) == 0)
			return KY_OK;
	ky_admitted_pseudonym *grown = realloc(out->pseudonyms, (out->npseudonyms + 1) * sizeof(*grown));
	if (grown == NULL)
		return ky_error_set(KY_ENOMEM, "out of memory");
	out->pseudonyms = grown;
	ky_admitted_pseudonym *p = &grown[out->npseudonyms];
	json_t *served = ky_pseudonym_identity(id, KY_PSEUDONYM_CREATED);
	p->raw = served ? json_dumps(served, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
	json_decref(served);
	if (p->raw == NULL)
		return ky_error_set(KY_ENOMEM, "out of memory");
	snprintf(p->id, sizeof(p->id), "%s", id);
	p->raw_len = strlen(p->raw);
	out->npseudonyms++;
	return KY_OK;
}

/* member_of, noting each member whose pseudonym the shared form gets. */
static int64_t member_shared(void *ctx, const char *id)
{
	sharing *sh = ctx;
	int64_t member = member_of(sh->a, id);
	if (member != 0 && member != sh->named && sh->status == KY_OK)
		sh->status = keep_pseudonym(sh, member);
	return member;
}

/* The form other members read, when the object refers to a member's identity and anyone
 * but its provider reads it: the references replaced by pseudonyms for its audience (but the
 * provider's own when it chose to be named), and the pseudonyms' identities to store beside
 * it, read by that audience. */
static int share(ky_admission *a, const json_t *object, int64_t named, ky_admitted *out)
{
	if (ky_pseudonym_references(object, member_of, a, named) == 0)
		return KY_OK;
	char audience[KY_PSEUDONYM_AUDIENCE_MAX];
	int rc = ky_pseudonym_audience((const char *const *)out->keys.ptr, out->keys.n, a->o.provider, audience,
				       sizeof(audience));
	if (rc != KY_OK || audience[0] == '\0')
		return rc;
	json_t *copy = json_deep_copy(object);
	if (copy == NULL)
		return ky_error_set(KY_ENOMEM, "out of memory");
	sharing sh = {a, out, audience, named, KY_OK};
	ky_pseudonymise(copy, member_shared, &sh, a->pseudonym_secret, audience, named);
	out->shared = sh.status == KY_OK ? json_dumps(copy, JSON_COMPACT) : NULL;
	json_decref(copy);
	if (sh.status != KY_OK)
		return sh.status;
	if (out->shared == NULL)
		return ky_error_set(KY_ENOMEM, "out of memory");
	out->access.shared = out->shared;
	char own[KY_STORE_ACCESS_KEY_MAX + 1];
	snprintf(own, sizeof(own), KY_STORE_MEMBER_KEY, (long long)a->o.provider);
	size_t n = 0;
	for (size_t i = 0; i < out->keys.n; i++)
		if (strcmp(out->keys.ptr[i], own) != 0)
			out->pseudonym_keys[n++] = out->keys.ptr[i];
	out->pseudonym_access = (ky_store_access){.provider = a->secretariat, .any_object = true, .tlp = KY_TLP_CLEAR,
						  .keys = out->pseudonym_keys, .nkeys = n};
	return KY_OK;
}

/* Whether the object's object_marking_refs lists `marking`. */
static bool carries(const json_t *object, const char *marking)
{
	size_t i;
	json_t *ref;
	json_array_foreach(json_object_get(object, "object_marking_refs"), i, ref)
		if (json_is_string(ref) && strcmp(json_string_value(ref), marking) == 0)
			return true;
	return false;
}

void ky_admitted_clear(ky_admitted *a)
{
	free(a->workflow_refs);
	a->workflow_refs = NULL;
	a->access.workflow = NULL;
	free(a->parts);
	free(a->shared);
	for (size_t i = 0; i < a->npseudonyms; i++)
		free(a->pseudonyms[i].raw);
	free(a->pseudonyms);
	a->pseudonyms = NULL;
	a->npseudonyms = 0;
	a->parts = NULL;
	a->shared = NULL;
	a->access.parts = NULL;
	a->access.shared = NULL;
}

/* A member's own identity object, which would tell its readers who the member is: kept for
 * the member (and the secretariat), unless it chose to be named on it. */
static int keep_to_provider(ky_admission *a, const char *id, ky_admitted *out)
{
	ky_version_facts only_provider = {.provider = a->o.provider, .unresolved = true};
	int rc = ky_policy_access_keys(&only_provider, &out->keys);
	if (rc != KY_OK)
		return rc;
	free(out->parts);
	out->parts = NULL;
	out->access.parts = NULL;
	out->access.keys = out->keys.ptr;
	out->access.nkeys = out->keys.n;
	size_t len = strlen(out->warning);
	snprintf(out->warning + len, sizeof(out->warning) - len,
		 "%s%s is your own identity: other members know you by pseudonyms, so only you and the secretariat read it;"
		 " to be named, list %s in its object_marking_refs",
		 len ? "; " : "", id, KY_NAMED_MARKING);
	return KY_OK;
}

/* The references of `object`'s property `name` (a *_ref string or a *_refs list) appended
 * to refs. */
static void refs_of(const json_t *object, const char *name, const char **refs, size_t *n)
{
	const json_t *value = json_object_get(object, name);
	if (json_is_string(value))
		refs[(*n)++] = json_string_value(value);
	size_t i;
	const json_t *item;
	json_array_foreach(value, i, item)
		if (json_is_string(item))
			refs[(*n)++] = json_string_value(item);
}

static size_t count_refs(const json_t *object, const char *const *properties, size_t nnames)
{
	size_t n = 0;
	for (size_t i = 0; i < nnames; i++) {
		const json_t *value = json_object_get(object, properties[i]);
		n += json_is_string(value) ? 1 : json_is_array(value) ? json_array_size(value) : 0;
	}
	return n;
}

/* What an object submitted to the exchange is to the workflow (store_reports.h). */
static int read_workflow(const json_t *object, ky_admitted *out)
{
	static const struct {
		const char *type;
		ky_workflow_kind kind;
		const char *refs[2];
	} kinds[] = {
		{"report", KY_WORKFLOW_REPORT, {"object_refs", NULL}},
		{"opinion", KY_WORKFLOW_FEEDBACK, {"object_refs", NULL}},
		{"note", KY_WORKFLOW_FEEDBACK, {"object_refs", NULL}},
		{"sighting", KY_WORKFLOW_FEEDBACK, {"sighting_of_ref", NULL}},
		{"relationship", KY_WORKFLOW_FEEDBACK, {"source_ref", "target_ref"}},
	};
	const char *type = json_string_value(json_object_get(object, "type"));
	ky_store_workflow *w = &out->workflow;
	*w = (ky_store_workflow){.kind = KY_WORKFLOW_OBJECT, .opinion = KY_WORKFLOW_NO_OPINION, .confidence = -1};
	const json_t *confidence = json_object_get(object, "confidence");
	if (json_is_integer(confidence))
		w->confidence = (int)json_integer_value(confidence);
	for (size_t k = 0; type != NULL && k < sizeof(kinds) / sizeof(kinds[0]); k++) {
		if (strcmp(type, kinds[k].type) != 0)
			continue;
		size_t nnames = kinds[k].refs[1] ? 2 : 1;
		out->workflow_refs = malloc((count_refs(object, kinds[k].refs, nnames) + 1) * sizeof(*out->workflow_refs));
		if (out->workflow_refs == NULL)
			return ky_error_set(KY_ENOMEM, "out of memory");
		for (size_t i = 0; i < nnames; i++)
			refs_of(object, kinds[k].refs[i], out->workflow_refs, &w->nrefs);
		w->refs = out->workflow_refs;
		w->kind = kinds[k].kind;
		w->sighting = strcmp(type, "sighting") == 0;
		ky_workflow_opinion_parse(json_string_value(json_object_get(object, "opinion")), &w->opinion);
	}
	out->access.workflow = w;
	return KY_OK;
}

int ky_admission_decide(ky_admission *a, const json_t *object, ky_admitted *out)
{
	ky_facts_space space;
	ky_version_facts f = {.provider = a->o.provider};
	const char *id = json_string_value(json_object_get(object, "id"));
	out->warning[0] = '\0';
	out->parts = NULL;
	out->shared = NULL;
	out->pseudonyms = NULL;
	out->npseudonyms = 0;
	out->unresolved = false;
	out->workflow_refs = NULL;
	int rc = ky_policy_facts_of(object, a->o.default_tlp, resolve, a, &space, &f);
	if (rc != KY_OK)
		return ky_error_set(KY_EDENIED, "%s", ky_error_last());
	if (f.naudiences == 0 && a->ndefaults > 0) {
		f.audiences = a->defaults;
		f.naudiences = a->ndefaults;
	}
	/* Whatever else it carries: a RED object nobody is named to read is a mistake to say. */
	if (f.tlp == KY_TLP_RED) {
		bool named = false;
		for (size_t i = 0; i < f.naudiences; i++)
			named = named || f.audiences[i].kind == KY_AUDIENCE_MEMBER;
		if (!named)
			return ky_error_set(KY_EDENIED,
					    "%s is TLP:RED, which reaches only the members a member audience names, and it names"
					    " none: add each recipient's audience marking-definition (GET /api/v1/audiences) to"
					    " object_marking_refs",
					    id ? id : "the object");
	}
	/* A member provides as itself. The secretariat may version a member's object, which
	 * names that member: the store checks, against the object's provider, that it does. */
	const char *creator = json_string_value(json_object_get(object, "created_by_ref"));
	const identity *named = NULL;
	if (creator != NULL && a->nidentities > 0) {
		identity key;
		snprintf(key.id, sizeof(key.id), "%s", creator);
		named = bsearch(&key, a->identities, a->nidentities, sizeof(*a->identities), by_identity);
		if (named != NULL && named->member != a->o.provider && a->o.provider_tier != KY_TIER_SECRETARIAT)
			return ky_error_set(KY_EDENIED,
					    "%s: created_by_ref names %s, the identity of another member (%s): a member provides"
					    " objects as itself; name your own identity or none",
					    id ? id : "the object", creator, named->name);
	}
	out->unresolved = f.unresolved;
	if (f.unresolved)
		snprintf(out->warning, sizeof(out->warning),
			 "object_marking_refs names %s, which this hub does not hold: only you and the secretariat can read"
			 " this version",
			 first_unresolved(a, object));
	f.contributors_only = a->o.exchange;
	f.standing_only = carries(object, KY_STANDING_MARKING);
	rc = decide_parts(a, object, &space, &f, out);
	if (rc == KY_OK)
		rc = ky_policy_access_keys(&f, &out->keys);
	if (rc != KY_OK) {
		ky_admitted_clear(out);
		return rc == KY_ETOOBIG ? ky_error_set(KY_EDENIED, "%s: %s", id ? id : "the object", ky_error_last()) : rc;
	}
	out->access = (ky_store_access){
		.provider = a->o.provider,
		.any_object = a->o.provider_tier == KY_TIER_SECRETARIAT,
		.creator = named ? named->member : 0,
		.tlp = (int)f.tlp,
		.keys = out->keys.ptr,
		.nkeys = out->keys.n,
		.parts = out->parts,
	};
	if (a->o.exchange)
		rc = read_workflow(object, out);
	out->workflow.named = a->o.exchange && carries(object, KY_NAMED_MARKING);
	/* Only a member names itself, and only on its own objects: the secretariat's versions of
	 * a member's object leave the member pseudonymous. */
	int64_t self_named = a->o.provider_tier != KY_TIER_SECRETARIAT && carries(object, KY_NAMED_MARKING) ? a->o.provider : 0;
	const char *type = json_string_value(json_object_get(object, "type"));
	if (rc == KY_OK && self_named == 0 && type != NULL && id != NULL && strcmp(type, "identity") == 0 && a->o.provider_tier != KY_TIER_SECRETARIAT &&
	    member_of(a, id) == a->o.provider)
		rc = keep_to_provider(a, id, out);
	if (rc == KY_OK)
		rc = share(a, object, self_named, out);
	if (rc == KY_OK && self_named == 0)
		warn_of_mentions(a, object, out);
	if (rc == KY_OK && type != NULL && id != NULL && strcmp(type, "marking-definition") == 0 && !held(a, id)) {
		rc = hold(a, id);
		if (rc == KY_OK)
			qsort(a->held, a->nheld, sizeof(*a->held), by_text);
	}
	if (rc != KY_OK)
		ky_admitted_clear(out);
	return rc;
}

/* --- hubs from before schema 7 ----------------------------------------------------------- */

#define SETTLE_PAGE 200

typedef struct settling {
	ky_admission *admission;
	uint64_t vids[SETTLE_PAGE];
	ky_admitted admitted[SETTLE_PAGE];
	ky_store_access access[SETTLE_PAGE];
	size_t n;
	uint64_t last;
	int status;
} settling;

static int settle_row(void *ctx, const ky_store_row *row)
{
	settling *st = ctx;
	ky_admitted *x = &st->admitted[st->n];
	json_t *object = json_loadb(row->raw, row->raw_len, 0, NULL);
	int rc = object ? ky_admission_decide(st->admission, object, x) : KY_EDENIED;
	json_decref(object);
	if (rc == KY_ENOMEM)
		return st->status = rc;
	/* What would be refused now, or does not parse, stays the secretariat's alone. */
	if (rc != KY_OK) {
		ky_version_facts f = {.provider = st->admission->o.provider, .unresolved = true};
		rc = ky_policy_access_keys(&f, &x->keys);
		x->parts = NULL;
		x->shared = NULL;
		x->access = (ky_store_access){.provider = f.provider, .any_object = true, .tlp = KY_TLP_RED};
		x->access.keys = x->keys.ptr;
		x->access.nkeys = x->keys.n;
	}
	if (rc != KY_OK)
		return st->status = rc;
	st->access[st->n] = x->access;
	st->vids[st->n++] = row->seq;
	st->last = row->seq;
	return 0;
}

int ky_policy_settle(ky_store *s, const ky_config *config, uint64_t *settled)
{
	uint64_t unused;
	uint64_t *count = settled ? settled : &unused;
	*count = 0;
	settling *st = calloc(1, sizeof(*st));
	if (st == NULL)
		return ky_error_set(KY_ENOMEM, "out of memory");
	int rc = ky_admission_operator(s, config, NULL, &st->admission);
	bool more = true;
	while (rc == KY_OK && more) {
		st->n = 0;
		st->status = KY_OK;
		rc = ky_store_unsettled(s, st->last, SETTLE_PAGE, settle_row, st, &more);
		if (rc == KY_OK)
			rc = st->status;
		if (rc == KY_OK)
			rc = ky_store_settle(s, st->vids, st->access, st->n);
		for (size_t i = 0; i < st->n; i++)
			ky_admitted_clear(&st->admitted[i]);
		if (rc == KY_OK)
			*count += st->n;
		if (st->n == 0)
			more = false;
	}
	if (rc == KY_OK && *count > 0)
		rc = ky_store_settle_additions(s);
	ky_admission_free(st->admission);
	free(st);
	return rc;
}

/* --- the hub's own definitions ------------------------------------------------------------ */

/* TLP 2.0 as OASIS publishes it (cti-stix-common-objects): its extension-definition and its
 * five marking-definitions, byte for byte the same objects on every hub. */
#define TLP_EXTENSION "extension-definition--60a3c5c5-0d10-413e-aab3-9e08dde9e88d"
#define TLP_CREATED "2022-10-01T00:00:00.000Z"
#define KYOYU_IDENTITY "identity--f4523dea-75c6-42d9-93b7-bf965ffe365b"
#define KYOYU_CREATED "2026-12-01T00:00:00.000Z"

static const char *const tlp_names[] = {"clear", "green", "amber", "amber+strict", "red"};

typedef struct publishing {
	ky_store_batch *batch;
	ky_store_access everyone;
	const char *community[1];
	const ky_store_member *secretariat;
	int status;
} publishing;

/* Adds `object` (taken) to the batch, read as `access`. */
static int publish_one(publishing *p, json_t *object, const ky_store_access *access)
{
	char *text = object ? json_dumps(object, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
	int rc = text ? ky_store_batch_add(p->batch, text, strlen(text), object, access) : ky_error_set(KY_ENOMEM, "out of memory");
	free(text);
	json_decref(object);
	return rc < 0 ? rc : KY_OK;
}

static int publish_audience(void *ctx, const ky_audience_entry *e)
{
	publishing *p = ctx;
	char created[40], name[KY_STORE_NAME_MAX + 64];
	ky_clock_format(e->created_us ? e->created_us : p->secretariat->created_us, created);
	if (e->audience.kind == KY_AUDIENCE_COMMUNITY || e->audience.kind == KY_AUDIENCE_CONTRIBUTORS)
		snprintf(name, sizeof(name), "kyoyu audience: the %s", e->kind);
	else
		snprintf(name, sizeof(name), "kyoyu audience: %s %s", e->kind, e->name);
	json_t *o = json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:{s:{s:s,s:s,s:s}}}", "type", "marking-definition", "spec_version",
			      "2.1", "id", e->marking_id, "created", created, "created_by_ref", p->secretariat->identity_id,
			      "name", name, "extensions", KY_AUDIENCE_EXTENSION, "extension_type", "property-extension",
			      "audience", e->kind, "name", e->name);
	/* Who is in a group is not shown to others (docs/council.md): nor is its audience. */
	char key[KY_STORE_ACCESS_KEY_MAX + 1];
	const char *group_keys[1] = {key};
	ky_store_access access = p->everyone;
	if (e->audience.kind == KY_AUDIENCE_GROUP) {
		int rc = ky_policy_audience_key(&e->audience, key);
		if (rc != KY_OK) {
			json_decref(o);
			return rc;
		}
		access.keys = group_keys;
		access.tlp = KY_TLP_AMBER;
	}
	return publish_one(p, o, &access);
}

static int hub_collection(ky_store *s, ky_store_collection *out)
{
	int rc = ky_store_collection_find(s, KY_POLICY_HUB_COLLECTION, out);
	if (rc != KY_ENOTFOUND)
		return rc;
	rc = ky_store_collection_create(s, NULL, KY_POLICY_HUB_COLLECTION, "The hub's definitions",
					"The TLP 2.0 marking-definitions and the hub's audiences, which objects name in"
					" object_marking_refs: every member reads them.",
					out);
	/* Another process made it meanwhile. */
	return rc == KY_EEXISTS ? ky_store_collection_find(s, KY_POLICY_HUB_COLLECTION, out) : rc;
}

int ky_policy_publish(ky_store *s)
{
	ky_store_member secretariat;
	ky_store_actor operator = {.via = "kyoyu"};
	ky_store_collection c = {0};
	publishing p = {.community = {"*"}, .secretariat = &secretariat};
	int rc = ky_store_secretariat_ensure(s, &operator, &secretariat);
	if (rc == KY_OK)
		rc = hub_collection(s, &c);
	if (rc == KY_OK)
		rc = ky_store_batch_begin(s, c.id, &p.batch);
	ky_store_collection_clear(&c);
	if (rc != KY_OK)
		return rc;
	p.everyone = (ky_store_access){
		.provider = secretariat.id, .any_object = true, .tlp = KY_TLP_CLEAR, .keys = p.community, .nkeys = 1};
	rc = publish_one(&p,
			 json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:[s]}", "id", TLP_EXTENSION, "type",
				   "extension-definition", "spec_version", "2.1", "name", "TLP 2.0", "description",
				   "This defines TLP 2.0 as a STIX extension", "created", TLP_CREATED, "modified", TLP_CREATED,
				   "created_by_ref", "identity--b3bca3c2-1f3d-4b54-b44f-dac42c3a8f01", "schema",
				   "https://github.com/oasis-open/cti-stix-common-objects/tree/master/extension-definition-specifications/tlp-2.0",
				   "version", "1.0.0", "extension_types", "property-extension"),
			 &p.everyone);
	for (int t = KY_TLP_CLEAR; rc == KY_OK && t <= KY_TLP_RED; t++)
		rc = publish_one(&p,
				 json_pack("{s:s,s:s,s:s,s:s,s:s,s:{s:{s:s,s:s}}}", "type", "marking-definition", "spec_version",
					   "2.1", "id", ky_tlp_id((ky_tlp)t), "created", TLP_CREATED, "name", ky_tlp_name((ky_tlp)t),
					   "extensions", TLP_EXTENSION, "extension_type", "property-extension", "tlp_2_0",
					   tlp_names[t]),
				 &p.everyone);
	/* kyoyu's extension is kyoyu's, not a hub's: the same objects on every hub. */
	if (rc == KY_OK)
		rc = publish_one(&p,
				 json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s}", "type", "identity", "spec_version", "2.1", "id",
					   KYOYU_IDENTITY, "created", KYOYU_CREATED, "modified", KYOYU_CREATED, "name", "kyoyu",
					   "description", "The kyoyu sharing hub, author of the kyoyu audience extension.",
					   "identity_class", "system"),
				 &p.everyone);
	if (rc == KY_OK)
		rc = publish_one(
			&p,
			json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:[s]}", "type", "extension-definition", "spec_version",
				  "2.1", "id", KY_AUDIENCE_EXTENSION, "created_by_ref", KYOYU_IDENTITY, "name", "kyoyu audience",
				  "description",
				  "An audience of a kyoyu hub: who inside the hub may read an object whose object_marking_refs"
				  " lists a marking-definition carrying this extension.",
				  "created", KYOYU_CREATED, "modified", KYOYU_CREATED, "schema",
				  "A property extension of marking-definition, two properties: audience, one of community,"
				  " contributors, sector, group, member; and name, the sector's, group's or member's name in the"
				  " hub (for the community and the contributors, the same word). An object listing several"
				  " audiences is read by their union; under TLP:RED only by the members the member audiences"
				  " name. The hub derives each audience's id from a secret of its own; GET /api/v1/audiences"
				  " lists them.",
				  "version", "1.0.0", "extension_types", "property-extension"),
			&p.everyone);
	if (rc == KY_OK)
		rc = publish_one(&p,
				 json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:{s:s}}", "type", "marking-definition", "spec_version",
					   "2.1", "id", KY_NAMED_MARKING, "created", KYOYU_CREATED, "created_by_ref", KYOYU_IDENTITY,
					   "name", "kyoyu: provider named", "definition_type", "statement", "definition", "statement",
					   "The provider of an object that lists this marking chooses to be named to its readers:"
					   " the hub serves references to the provider's identity as they are, not as a pseudonym."),
				 &p.everyone);
	if (rc == KY_OK)
		rc = publish_one(&p,
				 json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:{s:s}}", "type", "marking-definition", "spec_version",
					   "2.1", "id", KY_STANDING_MARKING, "created", KYOYU_CREATED, "created_by_ref",
					   KYOYU_IDENTITY, "name", "kyoyu: contributors in good standing", "definition_type",
					   "statement", "definition", "statement",
					   "An object that lists this marking is locked material of the hub's give-and-take: of its"
					   " audience, only the contributors in good standing read it."),
				 &p.everyone);
	if (rc == KY_OK)
		rc = ky_policy_audience_list(s, publish_audience, &p);
	if (rc != KY_OK) {
		ky_store_batch_abort(p.batch);
		return rc;
	}
	return ky_store_batch_commit(p.batch, NULL, NULL);
}
