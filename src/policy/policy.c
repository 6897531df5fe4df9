#include "policy/policy.h"
#include "policy/standing.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "policy/admission.h"
#include "store/store_reports.h"
#include "util/ky_error.h"

/* One read or write list, compiled. */
typedef struct grant {
	bool everyone;
	unsigned tiers;                 /* bit 1 << ky_tier */
	char (*users)[KY_STORE_USER_MAX + 1];
	size_t nusers;
	int64_t *members, *groups;
	size_t nmembers, ngroups;
} grant;

typedef struct collection_grants {
	char name[KY_CONFIG_NAME_MAX + 1];
	grant read, write;
} collection_grants;

struct ky_policy_grants {
	collection_grants *collections;
	size_t n;
	grant secretariat;              /* the grant of a collection without a section */
	bool names_groups;              /* some grant names a group: viewers need theirs */
};

static int by_id(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
	return (x > y) - (x < y);
}

/* The keys of a viewer whose who, sectors and groups are filled. */
static int viewer_keys(ky_viewer *v)
{
	ky_decision_viewer d = ky_policy_decision_viewer(v);
	v->keys.n = 0;
	return v->who.tier == KY_TIER_SECRETARIAT ? KY_OK : ky_policy_viewer_keys(&d, &v->keys);
}

/* Whether a key is the good standing's or joins it ("k", "k&s:water", "c&k"). */
static bool locks(const char *key)
{
	size_t len = strlen(key);
	return strcmp(key, "k") == 0 || strncmp(key, "k&", 2) == 0 || strstr(key, "&k&") != NULL ||
	       (len >= 2 && strcmp(key + len - 2, "&k") == 0);
}

/* The viewer of who, in good standing as the ledger says, or as *standing says (not NULL). */
static int build_viewer(ky_store *s, const ky_policy_grants *grants, const ky_auth_identity *who, const bool *standing,
			ky_viewer *out)
{
	out->who = *who;
	out->ngroups = out->nsectors = 0;
	out->keys.n = 0;
	out->reads = NULL;
	out->good_standing = standing != NULL && *standing;
	if (who->tier == KY_TIER_SECRETARIAT && (grants == NULL || !grants->names_groups))
		return KY_OK;
	ky_store_access_keys conjunctions = {0};
	int rc = ky_store_member_reach(s, who->member_id, out->sectors, &out->nsectors, out->groups, &out->ngroups,
				       &conjunctions);
	/* The ledger's queries only where standing can matter: a contributor, on a hub that
	 * holds locked material (the store lists its keys with the conjunctions). */
	bool locked_material = false;
	for (size_t i = 0; i < conjunctions.n && !locked_material; i++)
		locked_material = locks(conjunctions.keys[i]);
	if (rc == KY_OK && who->tier == KY_TIER_CONTRIBUTOR && standing == NULL && locked_material)
		rc = ky_standing_good(s, who->member_id, &out->good_standing);
	qsort(out->groups, out->ngroups, sizeof(out->groups[0]), by_id);
	for (size_t i = 0; i < out->nsectors; i++)
		out->sector_names[i] = out->sectors[i];
	if (rc == KY_OK)
		rc = viewer_keys(out);
	/* The secretariat reads everything: conjunctions are for the others. */
	for (size_t i = 0; rc == KY_OK && who->tier != KY_TIER_SECRETARIAT && i < conjunctions.n; i++)
		if (strchr(conjunctions.keys[i], '&') != NULL)
			rc = ky_policy_conjunction(&out->keys, conjunctions.keys[i]);
	free(conjunctions.keys);
	return rc;
}

int ky_policy_viewer(ky_store *s, const ky_policy_grants *grants, const ky_auth_identity *who, ky_viewer *out)
{
	return build_viewer(s, grants, who, NULL, out);
}

int ky_policy_locked(ky_store *s, const ky_viewer *v, ky_store_locked *out)
{
	*out = (ky_store_locked){0};
	if (v->who.tier != KY_TIER_CONTRIBUTOR || v->good_standing)
		return KY_OK;
	/* What it would read in good standing, by the keys that standing adds. */
	ky_viewer *unlocked = malloc(sizeof(*unlocked));
	if (unlocked == NULL)
		return ky_error_set(KY_ENOMEM, "out of memory");
	bool standing = true;
	int rc = build_viewer(s, NULL, &v->who, &standing, unlocked);
	const char *keys[KY_STORE_ACCESS_KEYS_MAX];
	size_t n = 0;
	for (size_t i = 0; rc == KY_OK && i < unlocked->keys.n; i++)
		if (locks(unlocked->keys.ptr[i]))
			keys[n++] = unlocked->keys.ptr[i];
	if (rc == KY_OK)
		rc = ky_store_locked_count(s, keys, n, v->who.member_id, out);
	free(unlocked);
	return rc;
}

int ky_policy_viewer_of_member(ky_store *s, const ky_store_member *m, ky_viewer *out)
{
	ky_auth_identity who = {.role = KY_ROLE_READER, .member_id = m->id, .tier = m->tier, .suspended = m->suspended};
	snprintf(who.member, sizeof(who.member), "%s", m->name);
	return ky_policy_viewer(s, NULL, &who, out);
}

ky_decision_viewer ky_policy_decision_viewer(const ky_viewer *v)
{
	return (ky_decision_viewer){
		.member_id = v->who.member_id,
		.tier = v->who.tier,
		.sectors = v->sector_names,
		.nsectors = v->nsectors,
		.groups = v->groups,
		.ngroups = v->ngroups,
		.good_standing = v->good_standing,
	};
}

ky_store_scope ky_policy_scope(const ky_viewer *v)
{
	if (v->who.tier == KY_TIER_SECRETARIAT)
		return (ky_store_scope){.everything = true, .reads = v->reads};
	return (ky_store_scope){.keys = v->keys.ptr, .nkeys = v->keys.n, .reads = v->reads};
}

ky_store_scope ky_policy_collection_scope(const char *collection, const ky_viewer *v, ky_policy_keys *own)
{
	if (strcmp(collection, KY_STORE_EXCHANGE) != 0 || v->who.tier != KY_TIER_GENERAL)
		return ky_policy_scope(v);
	own->n = 1;
	snprintf(own->key[0], sizeof(own->key[0]), KY_STORE_MEMBER_KEY, (long long)v->who.member_id);
	own->ptr[0] = own->key[0];
	return (ky_store_scope){.keys = own->ptr, .nkeys = 1, .reads = v->reads};
}

static void grant_clear(grant *g)
{
	free(g->users);
	free(g->members);
	free(g->groups);
}

void ky_policy_grants_free(ky_policy_grants *g)
{
	if (g == NULL)
		return;
	for (size_t i = 0; i < g->n; i++) {
		grant_clear(&g->collections[i].read);
		grant_clear(&g->collections[i].write);
	}
	free(g->collections);
	free(g);
}

static int append_id(int64_t **ids, size_t *n, int64_t id)
{
	int64_t *grown = realloc(*ids, (*n + 1) * sizeof(*grown));
	if (grown == NULL)
		return ky_error_set(KY_ENOMEM, "out of memory");
	grown[(*n)++] = id;
	*ids = grown;
	return KY_OK;
}

/* Compiles the list `text` (config.h's canonical KIND:NAME,... or "*") of section `section`,
 * key `key`, into *g. */
static int compile(ky_store *s, const char *section, const char *key, const char *text, grant *g)
{
	if (strcmp(text, "*") == 0) {
		g->everyone = true;
		return KY_OK;
	}
	int rc = KY_OK;
	for (const char *p = text; rc == KY_OK && *p;) {
		size_t n = strcspn(p, ",");
		const char *colon = memchr(p, ':', n);
		char name[KY_STORE_USER_MAX + 1];
		size_t kind_len = colon ? (size_t)(colon - p) : 0;
		snprintf(name, sizeof(name), "%.*s", colon ? (int)(n - kind_len - 1) : 0, colon ? colon + 1 : "");
		ky_tier tier;
		if (colon == NULL) {
			rc = ky_error_set(KY_EINVALID, "[collection %s] %s: '%.*s' is not a grantee", section, key, (int)n, p);
		} else if (kind_len == 4 && memcmp(p, "user", 4) == 0) {
			void *grown = realloc(g->users, (g->nusers + 1) * sizeof(*g->users));
			if (grown == NULL)
				return ky_error_set(KY_ENOMEM, "out of memory");
			g->users = grown;
			memcpy(g->users[g->nusers++], name, sizeof(name));
		} else if (kind_len == 4 && memcmp(p, "tier", 4) == 0 && ky_tier_parse(name, &tier)) {
			g->tiers |= 1u << tier;
		} else if (kind_len == 6 && memcmp(p, "member", 6) == 0) {
			ky_store_member m;
			rc = ky_store_member_get(s, name, &m);
			if (rc == KY_ENOTFOUND)
				rc = ky_error_set(KY_EINVALID, "[collection %s] %s names member '%s', which this hub does not have",
						  section, key, name);
			if (rc == KY_OK)
				rc = append_id(&g->members, &g->nmembers, m.id);
		} else if (kind_len == 5 && memcmp(p, "group", 5) == 0) {
			ky_store_group gr;
			rc = ky_store_group_get(s, name, &gr);
			if (rc == KY_ENOTFOUND)
				rc = ky_error_set(KY_EINVALID, "[collection %s] %s names group '%s', which this hub does not have",
						  section, key, name);
			if (rc == KY_OK)
				rc = append_id(&g->groups, &g->ngroups, gr.id);
		} else {
			rc = ky_error_set(KY_EINVALID, "[collection %s] %s: '%.*s' is not a grantee", section, key, (int)n, p);
		}
		p += n;
		if (*p == ',')
			p++;
	}
	return rc;
}

/* The hub's own definitions: every member reads them, nobody writes them by TAXII. */
static bool hub_collection(const char *collection)
{
	return strcmp(collection, KY_POLICY_HUB_COLLECTION) == 0;
}

/* The workflow's collections, whose grants are the workflow's (docs/council.md). */
static bool exchange(const char *collection)
{
	return strcmp(collection, KY_STORE_EXCHANGE) == 0;
}

static bool workflow_collection(const char *collection)
{
	return exchange(collection) || strcmp(collection, KY_STORE_COUNTERMEASURES) == 0;
}

int ky_policy_grants_new(ky_store *s, const ky_config *config, ky_policy_grants **out)
{
	*out = NULL;
	ky_policy_grants *g = calloc(1, sizeof(*g));
	if (g == NULL)
		return ky_error_set(KY_ENOMEM, "out of memory");
	g->secretariat.tiers = 1u << KY_TIER_SECRETARIAT;
	g->collections = calloc(config->ncollections ? config->ncollections : 1, sizeof(*g->collections));
	int rc = g->collections ? KY_OK : ky_error_set(KY_ENOMEM, "out of memory");
	for (size_t i = 0; rc == KY_OK && i < config->ncollections; i++) {
		const ky_config_collection *c = &config->collections[i];
		if (hub_collection(c->name)) {
			rc = ky_error_set(KY_EINVALID,
					  "[collection %s] names the hub's own definitions, which every member reads and nobody"
					  " writes: remove the section",
					  c->name);
			break;
		}
		if (workflow_collection(c->name)) {
			rc = ky_error_set(KY_EINVALID,
					  "[collection %s] names a collection of the council workflow, whose readers and writers"
					  " the workflow decides (docs/council.md): remove the section",
					  c->name);
			break;
		}
		collection_grants *cg = &g->collections[g->n++];
		memcpy(cg->name, c->name, sizeof(cg->name));
		rc = compile(s, c->name, "read", c->read, &cg->read);
		if (rc == KY_OK)
			rc = compile(s, c->name, "write", c->write, &cg->write);
		g->names_groups = g->names_groups || cg->read.ngroups > 0 || cg->write.ngroups > 0;
		/* A default audience naming what the hub lacks is a typo, found now rather than
		 * by every submission to the collection. */
		if (rc == KY_OK && c->audience[0] != '\0') {
			ky_admission *a = NULL;
			ky_admission_options o = {.provider = 1, .provider_tier = KY_TIER_SECRETARIAT, .default_audience = c->audience};
			rc = ky_admission_new(s, &o, &a);
			ky_admission_free(a);
			if (rc != KY_OK) {
				char why[KY_ERROR_MAX];
				snprintf(why, sizeof(why), "%s", ky_error_last());
				rc = ky_error_set(rc, "[collection %s] audience: %s", c->name, why);
			}
		}
	}
	if (rc != KY_OK) {
		ky_policy_grants_free(g);
		return rc;
	}
	*out = g;
	return KY_OK;
}

static bool has_id(const int64_t *ids, size_t n, int64_t id)
{
	for (size_t i = 0; i < n; i++)
		if (ids[i] == id)
			return true;
	return false;
}

static bool admits(const grant *g, const ky_viewer *v)
{
	if (g->everyone || (g->tiers & (1u << v->who.tier)) || has_id(g->members, g->nmembers, v->who.member_id))
		return true;
	for (size_t i = 0; i < g->nusers; i++)
		if (strcmp(g->users[i], v->who.user) == 0)
			return true;
	for (size_t i = 0; i < g->ngroups; i++)
		if (bsearch(&g->groups[i], v->groups, v->ngroups, sizeof(v->groups[0]), by_id) != NULL)
			return true;
	return false;
}

static const collection_grants *section_of(const ky_policy_grants *g, const char *collection)
{
	for (size_t i = 0; i < g->n; i++)
		if (strcmp(g->collections[i].name, collection) == 0)
			return &g->collections[i];
	return NULL;
}

bool ky_policy_may_read(const ky_policy_grants *g, const char *collection, const ky_viewer *v)
{
	const collection_grants *c = section_of(g, collection);
	return hub_collection(collection) || workflow_collection(collection) || admits(c ? &c->read : &g->secretariat, v);
}

bool ky_policy_granted_write(const ky_policy_grants *g, const char *collection, const ky_viewer *v)
{
	const collection_grants *c = section_of(g, collection);
	/* Every member submits to the exchange; only promotion writes countermeasures. */
	if (workflow_collection(collection))
		return exchange(collection);
	return !hub_collection(collection) && admits(c ? &c->write : &g->secretariat, v);
}

bool ky_policy_may_write(const ky_policy_grants *g, const char *collection, const ky_viewer *v)
{
	return v->who.role != KY_ROLE_READER && ky_policy_granted_write(g, collection, v);
}

bool ky_policy_may_delete(const ky_policy_grants *g, const char *collection, const ky_viewer *v)
{
	return v->who.role == KY_ROLE_ADMIN && ky_policy_may_read(g, collection, v) &&
	       ky_policy_granted_write(g, collection, v);
}
