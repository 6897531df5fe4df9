#include "policy/decision.h"

#include <stdio.h>
#include <string.h>

#include "util/ky_error.h"

static const struct {
	const char *id, *name;
} levels[] = {
	[KY_TLP_CLEAR] = {"marking-definition--94868c89-83c2-464b-929b-a1a8aa3c8487", "TLP:CLEAR"},
	[KY_TLP_GREEN] = {"marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb", "TLP:GREEN"},
	[KY_TLP_AMBER] = {"marking-definition--55d920b0-5e8b-4f79-9ee9-91f868d9b421", "TLP:AMBER"},
	[KY_TLP_AMBER_STRICT] = {"marking-definition--939a9414-2ddd-4d32-a0cd-375ea402b003", "TLP:AMBER+STRICT"},
	[KY_TLP_RED] = {"marking-definition--e828b379-4e03-4974-9ac4-e53a884c97c1", "TLP:RED"},
};

/* STIX 2.1 §7.2.1.4's TLP 1.0 marking-definitions, read as TLP 2.0 (WHITE is CLEAR). */
static const struct {
	const char *id;
	ky_tlp level;
} tlp1[] = {
	{"marking-definition--613f2e26-407d-48c7-9eca-b8e91df99dc9", KY_TLP_CLEAR},
	{"marking-definition--34098fce-860f-48ae-8e50-ebd3cc5e41da", KY_TLP_GREEN},
	{"marking-definition--f88d31f6-486f-44da-b317-01333bde0b82", KY_TLP_AMBER},
	{"marking-definition--5e57c739-391a-4eb3-b6be-7d15ca92d5ed", KY_TLP_RED},
};

const char *ky_tlp_id(ky_tlp t)
{
	return (unsigned)t <= KY_TLP_RED ? levels[t].id : NULL;
}

const char *ky_tlp_name(ky_tlp t)
{
	return (unsigned)t <= KY_TLP_RED ? levels[t].name : "?";
}

bool ky_tlp_of_id(const char *id, ky_tlp *out)
{
	for (int t = KY_TLP_CLEAR; t <= KY_TLP_RED; t++)
		if (strcmp(id, levels[t].id) == 0) {
			*out = (ky_tlp)t;
			return true;
		}
	for (size_t i = 0; i < sizeof(tlp1) / sizeof(tlp1[0]); i++)
		if (strcmp(id, tlp1[i].id) == 0) {
			*out = tlp1[i].level;
			return true;
		}
	return false;
}

ky_tlp ky_policy_effective_tlp(const ky_tlp *found, size_t n, ky_tlp fallback)
{
	if (n == 0)
		return fallback;
	ky_tlp strictest = found[0];
	for (size_t i = 1; i < n; i++)
		if (found[i] > strictest)
			strictest = found[i];
	return strictest;
}

/* A marking reference as the decision reads it: a TLP level, an audience, another marking
 * the hub holds (which limits nothing here), or none the hub knows. */
typedef enum { MARK_TLP, MARK_AUDIENCE, MARK_OTHER, MARK_UNKNOWN } mark;

static mark classify(const char *id, ky_marking_resolver *resolve, void *ctx, ky_tlp *level, ky_audience *a)
{
	if (ky_tlp_of_id(id, level))
		return MARK_TLP;
	*a = (ky_audience){0};
	ky_marking_kind kind = resolve ? resolve(ctx, id, a) : KY_MARKING_UNKNOWN;
	return kind == KY_MARKING_AUDIENCE ? MARK_AUDIENCE : kind == KY_MARKING_OTHER ? MARK_OTHER : MARK_UNKNOWN;
}

static ky_part_facts *part_of(ky_facts_space *space, ky_version_facts *out, const char *selector, ky_tlp tlp)
{
	for (size_t i = 0; i < out->nparts; i++)
		if (strcmp(space->parts[i].selector, selector) == 0)
			return &space->parts[i];
	if (out->nparts == KY_POLICY_PARTS_MAX) {
		ky_error_set(KY_ETOOBIG, "granular markings restrict more than %d parts of the object", KY_POLICY_PARTS_MAX);
		return NULL;
	}
	ky_part_facts *p = &space->parts[out->nparts++];
	*p = (ky_part_facts){.selector = selector, .tlp = tlp};
	return p;
}

/* The parts granular_markings restrict beyond what the whole object's markings do. */
static int granular_facts(const json_t *object, ky_marking_resolver *resolve, void *ctx, ky_facts_space *space,
			  ky_version_facts *out)
{
	const json_t *markings = json_object_get(object, "granular_markings");
	if (markings == NULL)
		return KY_OK;
	if (!json_is_array(markings))
		return ky_error_set(KY_EINVALID, "granular_markings is not a list");
	size_t i;
	const json_t *m;
	json_array_foreach(markings, i, m)
	{
		const char *id = json_string_value(json_object_get(m, "marking_ref"));
		const json_t *selectors = json_object_get(m, "selectors");
		/* A lang marking says what language a part is in; it restricts nobody. */
		if (id == NULL)
			continue;
		if (!json_is_array(selectors))
			return ky_error_set(KY_EINVALID, "granular_markings[%zu].selectors is not a list", i);
		ky_tlp level = KY_TLP_CLEAR;
		ky_audience a;
		mark kind = classify(id, resolve, ctx, &level, &a);
		if (kind == MARK_OTHER || (kind == MARK_TLP && level <= out->tlp))
			continue;
		size_t j;
		const json_t *sel;
		json_array_foreach(selectors, j, sel)
		{
			if (!json_is_string(sel))
				return ky_error_set(KY_EINVALID, "granular_markings[%zu].selectors[%zu] is not a selector", i, j);
			ky_part_facts *p = part_of(space, out, json_string_value(sel), out->tlp);
			if (p == NULL)
				return KY_ETOOBIG;
			if (kind == MARK_TLP && level > p->tlp)
				p->tlp = level;
			else if (kind == MARK_UNKNOWN)
				p->unresolved = true;
			else if (kind == MARK_AUDIENCE) {
				if (p->naudiences == KY_POLICY_PART_AUDIENCES_MAX)
					return ky_error_set(KY_ETOOBIG, "granular markings name more than %d audiences for %s",
							    KY_POLICY_PART_AUDIENCES_MAX, p->selector);
				p->audiences[p->naudiences++] = a;
			}
		}
	}
	return KY_OK;
}

int ky_policy_facts_of(const json_t *object, ky_tlp fallback, ky_marking_resolver *resolve, void *ctx,
		       ky_facts_space *space, ky_version_facts *out)
{
	int64_t provider = out->provider;
	*out = (ky_version_facts){.provider = provider, .audiences = space->audiences, .tlp = fallback,
				  .parts = space->parts};
	const json_t *refs = json_object_get(object, "object_marking_refs");
	if (refs != NULL && !json_is_array(refs))
		return ky_error_set(KY_EINVALID, "object_marking_refs is not a list");
	bool tlp_found = false;
	size_t i;
	const json_t *ref;
	json_array_foreach(refs, i, ref)
	{
		const char *id = json_string_value(ref);
		ky_tlp level;
		ky_audience a;
		if (id == NULL)
			return ky_error_set(KY_EINVALID, "object_marking_refs[%zu] is not an identifier", i);
		mark kind = classify(id, resolve, ctx, &level, &a);
		if (kind == MARK_TLP) {
			/* The strictest counts. */
			if (!tlp_found || level > out->tlp)
				out->tlp = level;
			tlp_found = true;
		} else if (kind == MARK_UNKNOWN) {
			out->unresolved = true;
		} else if (kind == MARK_AUDIENCE) {
			if (out->naudiences == KY_STORE_ACCESS_KEYS_MAX)
				return ky_error_set(KY_ETOOBIG, "the object names more than %d audiences", KY_STORE_ACCESS_KEYS_MAX);
			space->audiences[out->naudiences++] = a;
		}
	}
	return granular_facts(object, resolve, ctx, space, out);
}

static bool has(const int64_t *ids, size_t n, int64_t id)
{
	for (size_t i = 0; i < n; i++)
		if (ids[i] == id)
			return true;
	return false;
}

/* Whether audience a takes in the viewer's member. */
static bool inside(const ky_decision_viewer *v, const ky_audience *a)
{
	switch (a->kind) {
	case KY_AUDIENCE_COMMUNITY:
		return true;
	case KY_AUDIENCE_CONTRIBUTORS:
		return v->tier == KY_TIER_CONTRIBUTOR;
	case KY_AUDIENCE_SECTOR:
		for (size_t i = 0; i < v->nsectors; i++)
			if (a->name != NULL && strcmp(v->sectors[i], a->name) == 0)
				return true;
		return false;
	case KY_AUDIENCE_GROUP:
		return has(v->groups, v->ngroups, a->id);
	case KY_AUDIENCE_MEMBER:
		return a->id == v->member_id;
	}
	return false;
}

/* Whether the viewer's member is a recipient the version's audiences and TLP name: inside
 * their union, and for RED named by a member audience. */
static bool recipient(const ky_decision_viewer *v, const ky_version_facts *f)
{
	if (f->unresolved)
		return false;
	if (f->tlp == KY_TLP_RED) {
		for (size_t i = 0; i < f->naudiences; i++)
			if (f->audiences[i].kind == KY_AUDIENCE_MEMBER && f->audiences[i].id == v->member_id)
				return true;
		return false;
	}
	if (f->naudiences == 0)
		return true;
	for (size_t i = 0; i < f->naudiences; i++)
		if (inside(v, &f->audiences[i]))
			return true;
	return false;
}

/* Part i as a version of its own: the version's audiences unless it names its own. */
static ky_version_facts part_as_version(const ky_version_facts *f, size_t i)
{
	const ky_part_facts *p = &f->parts[i];
	ky_version_facts part = {.provider = f->provider, .tlp = p->tlp, .unresolved = f->unresolved || p->unresolved};
	part.audiences = p->naudiences ? p->audiences : f->audiences;
	part.naudiences = p->naudiences ? p->naudiences : f->naudiences;
	return part;
}

bool ky_policy_may_read_part(const ky_decision_viewer *v, const ky_version_facts *f, size_t i)
{
	ky_version_facts part = part_as_version(f, i);
	return v->tier == KY_TIER_SECRETARIAT || v->member_id == f->provider || recipient(v, &part);
}

bool ky_policy_may_read_version(const ky_decision_viewer *v, const ky_version_facts *f)
{
	if (v->tier == KY_TIER_SECRETARIAT || v->member_id == f->provider)
		return true;
	bool standing = v->tier == KY_TIER_CONTRIBUTOR && v->good_standing;
	if (!recipient(v, f) || (f->contributors_only && v->tier != KY_TIER_CONTRIBUTOR) || (f->standing_only && !standing))
		return false;
	for (size_t i = 0; i < f->nparts; i++)
		if (f->parts[i].required && !ky_policy_may_read_part(v, f, i))
			return false;
	return true;
}

ky_leave ky_policy_may_leave(const ky_decision_viewer *v, const ky_version_facts *f)
{
	/* A marking the hub cannot read may forbid any copy: none leaves. */
	if (f->unresolved || !ky_policy_may_read_version(v, f))
		return KY_LEAVE_NONE;
	if (f->tlp == KY_TLP_CLEAR)
		return KY_LEAVE_ANYWHERE;
	/* Reading as the provider or the secretariat does not put a member inside the audience,
	 * and the provider keeps its original: nothing else leaves to a member the audiences do
	 * not name, whoever it is. */
	if (!recipient(v, f))
		return KY_LEAVE_NONE;
	return f->tlp == KY_TLP_GREEN || f->tlp == KY_TLP_AMBER ? KY_LEAVE_AUDIENCE : KY_LEAVE_OWN;
}

ky_leave ky_policy_leave_of_keys(bool reads, const ky_policy_keys *held, const char *const *keys, size_t n,
				 int64_t provider, int tlp)
{
	if (!reads || tlp < 0)
		return KY_LEAVE_NONE;
	if (tlp == KY_TLP_CLEAR)
		return KY_LEAVE_ANYWHERE;
	char own[32];
	snprintf(own, sizeof(own), KY_STORE_MEMBER_KEY, (long long)provider);
	bool recipient = false;
	for (size_t i = 0; i < n && !recipient; i++)
		for (size_t j = 0; j < held->n && !recipient; j++)
			recipient = strcmp(keys[i], held->key[j]) == 0 && strcmp(keys[i], own) != 0;
	if (!recipient)
		return KY_LEAVE_NONE;
	return tlp == KY_TLP_GREEN || tlp == KY_TLP_AMBER ? KY_LEAVE_AUDIENCE : KY_LEAVE_OWN;
}

static int key_add(ky_policy_keys *k, const char *kind, const char *name, int64_t id)
{
	if (k->n == KY_STORE_ACCESS_KEYS_MAX)
		return ky_error_set(KY_ETOOBIG, "more than %d audiences", KY_STORE_ACCESS_KEYS_MAX);
	char *key = k->key[k->n];
	int len = name ? snprintf(key, KY_STORE_ACCESS_KEY_MAX + 1, "%s%s", kind, name)
		       : snprintf(key, KY_STORE_ACCESS_KEY_MAX + 1, "%s%lld", kind, (long long)id);
	if (len < 0 || len > KY_STORE_ACCESS_KEY_MAX)
		return ky_error_set(KY_ETOOBIG, "the audience %s%s is too long", kind, name ? name : "");
	for (size_t i = 0; i < k->n; i++)
		if (strcmp(k->key[i], key) == 0)
			return KY_OK;
	k->ptr[k->n] = key;
	k->n++;
	return KY_OK;
}

/* The store's own form of a member's key (store.h), which the store gives an object's
 * provider on the secretariat's versions. */
static int member_key(ky_policy_keys *k, int64_t member)
{
	char key[KY_STORE_ACCESS_KEY_MAX + 1];
	snprintf(key, sizeof(key), KY_STORE_MEMBER_KEY, (long long)member);
	return key_add(k, key, "", 0);
}

static int audience_key(ky_policy_keys *k, const ky_audience *a)
{
	switch (a->kind) {
	case KY_AUDIENCE_COMMUNITY:
		return key_add(k, "*", "", 0);
	case KY_AUDIENCE_CONTRIBUTORS:
		return key_add(k, "c", "", 0);
	case KY_AUDIENCE_SECTOR:
		return key_add(k, "s:", a->name ? a->name : "", 0);
	case KY_AUDIENCE_GROUP:
		return key_add(k, "g:", NULL, a->id);
	case KY_AUDIENCE_MEMBER:
		return member_key(k, a->id);
	}
	return ky_error_set(KY_EINVALID, "unknown audience kind %d", (int)a->kind);
}

int ky_policy_audience_key(const ky_audience *a, char out[KY_STORE_ACCESS_KEY_MAX + 1])
{
	ky_policy_keys k;
	k.n = 0;
	int rc = audience_key(&k, a);
	if (rc == KY_OK)
		memcpy(out, k.key[0], KY_STORE_ACCESS_KEY_MAX + 1);
	return rc;
}

/* The keys of the version alone, its parts aside. */
static int version_keys(const ky_version_facts *f, ky_policy_keys *out)
{
	out->n = 0;
	int rc = member_key(out, f->provider);
	if (f->unresolved)
		return rc;
	if (rc == KY_OK && f->naudiences == 0 && f->tlp != KY_TLP_RED)
		return key_add(out, "*", "", 0);
	for (size_t i = 0; rc == KY_OK && i < f->naudiences; i++)
		if (f->tlp != KY_TLP_RED || f->audiences[i].kind == KY_AUDIENCE_MEMBER)
			rc = audience_key(out, &f->audiences[i]);
	return rc;
}

int ky_policy_part_keys(const ky_version_facts *f, size_t i, ky_policy_keys *out)
{
	ky_version_facts part = part_as_version(f, i);
	return version_keys(&part, out);
}

/* A conjunction's keys, split at '&' into parts[] (pointing into text, which it changes). */
static size_t split(char *text, char *parts[], size_t max)
{
	size_t n = 0;
	for (char *p = text; n < max;) {
		parts[n++] = p;
		p = strchr(p, '&');
		if (p == NULL)
			break;
		*p++ = '\0';
	}
	return n;
}

static int by_text(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Whether every key of conjunction a is one of b's ('&'-joined, sorted, no repeats). */
static bool within(const char *a, const char *b)
{
	char x[KY_STORE_ACCESS_KEY_MAX + 1], y[KY_STORE_ACCESS_KEY_MAX + 1];
	char *xs[KY_STORE_ACCESS_KEY_MAX], *ys[KY_STORE_ACCESS_KEY_MAX];
	snprintf(x, sizeof(x), "%s", a);
	snprintf(y, sizeof(y), "%s", b);
	size_t nx = split(x, xs, KY_STORE_ACCESS_KEY_MAX), ny = split(y, ys, KY_STORE_ACCESS_KEY_MAX);
	for (size_t i = 0; i < nx; i++) {
		bool found = false;
		for (size_t j = 0; j < ny && !found; j++)
			found = strcmp(xs[i], ys[j]) == 0;
		if (!found)
			return false;
	}
	return true;
}

/* Conjunction a & key into out, sorted, without repeats or the community's key (which every
 * member holds) unless it is all there is. */
static int conjoin(const char *a, const char *key, char out[KY_STORE_ACCESS_KEY_MAX + 1])
{
	char text[2 * KY_STORE_ACCESS_KEY_MAX + 2];
	char *parts[KY_STORE_ACCESS_KEY_MAX + 1];
	snprintf(text, sizeof(text), "%s&%s", a, key);
	size_t n = split(text, parts, KY_STORE_ACCESS_KEY_MAX + 1), kept = 0;
	qsort(parts, n, sizeof(*parts), by_text);
	size_t len = 0;
	for (size_t i = 0; i < n; i++) {
		if ((i > 0 && strcmp(parts[i], parts[i - 1]) == 0) || (strcmp(parts[i], "*") == 0 && n > 1))
			continue;
		size_t l = strlen(parts[i]);
		if (len + (kept > 0) + l > KY_STORE_ACCESS_KEY_MAX)
			return ky_error_set(KY_ETOOBIG, "its granular markings make an audience longer than %d bytes",
					    KY_STORE_ACCESS_KEY_MAX);
		if (kept++ > 0)
			out[len++] = '&';
		memcpy(out + len, parts[i], l);
		len += l;
	}
	if (kept == 0)
		memcpy(out + len++, "*", 1);
	out[len] = '\0';
	return KY_OK;
}

/* keys becomes every conjunction of one of its keys and one of part's, less those that hold
 * another (whoever holds "c&g:4" holds "c"). */
static int conjoin_all(ky_policy_keys *keys, const ky_policy_keys *part)
{
	ky_policy_keys next;
	next.n = 0;
	for (size_t i = 0; i < keys->n; i++)
		for (size_t j = 0; j < part->n; j++) {
			if (next.n == KY_STORE_ACCESS_KEYS_MAX)
				return ky_error_set(KY_ETOOBIG, "its granular markings make more than %d audiences",
						    KY_STORE_ACCESS_KEYS_MAX);
			int rc = conjoin(keys->key[i], part->key[j], next.key[next.n]);
			if (rc != KY_OK)
				return rc;
			next.n++;
		}
	keys->n = 0;
	for (size_t i = 0; i < next.n; i++) {
		bool held = false;
		for (size_t j = 0; j < next.n && !held; j++)
			held = j != i && within(next.key[j], next.key[i]) && (!within(next.key[i], next.key[j]) || j < i);
		if (!held) {
			memcpy(keys->key[keys->n], next.key[i], sizeof(next.key[i]));
			keys->ptr[keys->n] = keys->key[keys->n];
			keys->n++;
		}
	}
	return KY_OK;
}

/* The state rule and locked material on keys: every recipient's key joined with `with` (the
 * contributors' "c", the good standing's "k"), so that a viewer needs both (the provider's own
 * key stays: it reads what it submitted). */
static int join_recipients(const ky_version_facts *f, ky_policy_keys *keys, const char *with)
{
	char own[KY_STORE_ACCESS_KEY_MAX + 1];
	snprintf(own, sizeof(own), KY_STORE_MEMBER_KEY, (long long)f->provider);
	ky_policy_keys next;
	next.n = 0;
	for (size_t i = 0; i < keys->n; i++) {
		char joined[KY_STORE_ACCESS_KEY_MAX + 1];
		int rc = strcmp(keys->key[i], own) == 0 ? (snprintf(joined, sizeof(joined), "%s", own), KY_OK)
							: conjoin(keys->key[i], with, joined);
		if (rc == KY_OK)
			rc = key_add(&next, joined, "", 0);
		if (rc != KY_OK)
			return rc;
	}
	*keys = next;
	for (size_t i = 0; i < keys->n; i++)
		keys->ptr[i] = keys->key[i];
	return KY_OK;
}

int ky_policy_access_keys(const ky_version_facts *f, ky_policy_keys *out)
{
	int rc = version_keys(f, out);
	for (size_t i = 0; rc == KY_OK && i < f->nparts; i++) {
		if (!f->parts[i].required)
			continue;
		ky_policy_keys part;
		rc = ky_policy_part_keys(f, i, &part);
		if (rc == KY_OK)
			rc = conjoin_all(out, &part);
	}
	if (rc == KY_OK && f->contributors_only)
		rc = join_recipients(f, out, "c");
	if (rc == KY_OK && f->standing_only)
		rc = join_recipients(f, out, "k");
	return rc;
}

int ky_policy_conjunction(ky_policy_keys *viewer, const char *conjunction)
{
	char text[KY_STORE_ACCESS_KEY_MAX + 1];
	char *parts[KY_STORE_ACCESS_KEY_MAX];
	snprintf(text, sizeof(text), "%s", conjunction);
	size_t nparts = split(text, parts, KY_STORE_ACCESS_KEY_MAX);
	for (size_t p = 0; p < nparts; p++) {
		bool holds = false;
		for (size_t k = 0; k < viewer->n && !holds; k++)
			holds = strcmp(viewer->key[k], parts[p]) == 0;
		if (!holds)
			return KY_OK;
	}
	return key_add(viewer, conjunction, "", 0);
}

int ky_policy_viewer_keys(const ky_decision_viewer *v, ky_policy_keys *out)
{
	out->n = 0;
	int rc = key_add(out, "*", "", 0);
	if (rc == KY_OK && v->tier == KY_TIER_CONTRIBUTOR)
		rc = key_add(out, "c", "", 0);
	if (rc == KY_OK && v->tier == KY_TIER_CONTRIBUTOR && v->good_standing)
		rc = key_add(out, "k", "", 0);
	for (size_t i = 0; rc == KY_OK && i < v->nsectors; i++)
		rc = key_add(out, "s:", v->sectors[i], 0);
	for (size_t i = 0; rc == KY_OK && i < v->ngroups; i++)
		rc = key_add(out, "g:", NULL, v->groups[i]);
	if (rc == KY_OK)
		rc = member_key(out, v->member_id);
	return rc;
}
