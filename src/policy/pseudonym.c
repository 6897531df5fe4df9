/*
 * pseudonym: members' pseudonyms per audience, and the references to members' identities
 * replaced by them (pseudonym.h).
 */
#include "policy/pseudonym.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "policy/decision.h"
#include "store/store_audit.h"
#include "util/ky_error.h"
#include "util/ky_uuid.h"

static int by_text(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

int ky_pseudonym_audience(const char *const *keys, size_t nkeys, int64_t provider, char *out, size_t cap)
{
	if (cap == 0 || nkeys > KY_STORE_ACCESS_KEYS_MAX)
		return ky_error_set(KY_EINVALID, "an audience has at most %d keys", KY_STORE_ACCESS_KEYS_MAX);
	char own[32];
	snprintf(own, sizeof(own), KY_STORE_MEMBER_KEY, (long long)provider);
	const char *sorted[KY_STORE_ACCESS_KEYS_MAX];
	size_t n = 0;
	for (size_t i = 0; i < nkeys; i++)
		if (provider == 0 || strcmp(keys[i], own) != 0)
			sorted[n++] = keys[i];
	qsort(sorted, n, sizeof(*sorted), by_text);
	size_t len = 0;
	out[0] = '\0';
	for (size_t i = 0; i < n; i++) {
		/* One key listed twice is one reader. */
		if (i > 0 && strcmp(sorted[i], sorted[i - 1]) == 0)
			continue;
		size_t k = strlen(sorted[i]);
		if (len + (len > 0) + k + 1 > cap)
			return ky_error_set(KY_EINVALID, "an audience's keys take more than %zu bytes", cap - 1);
		if (len > 0)
			out[len++] = ' ';
		memcpy(out + len, sorted[i], k + 1);
		len += k;
	}
	return KY_OK;
}

void ky_pseudonym_id(const uint8_t secret[KY_STORE_SECRET_SIZE], int64_t member, const char *audience,
		     char out[KY_PSEUDONYM_ID_MAX])
{
	/* The member's number, a NUL, the audience: no two (member, audience) pairs give the same
	 * bytes. */
	char text[24 + KY_PSEUDONYM_AUDIENCE_MAX];
	int head = snprintf(text, sizeof(text), "%lld", (long long)member);
	size_t alen = strnlen(audience, KY_PSEUDONYM_AUDIENCE_MAX);
	memcpy(text + head + 1, audience, alen);
	text[head] = '\0';
	char uuid[37];
	ky_uuid_keyed(secret, text, (size_t)head + 1 + alen, uuid);
	snprintf(out, KY_PSEUDONYM_ID_MAX, "identity--%s", uuid);
}

typedef struct walk {
	ky_pseudonym_member_fn *member_of;
	void *ctx;
	const uint8_t *secret;
	const char *audience;
	int64_t named;
	bool apply;        /* replace, or only count */
	size_t replaced;
} walk;

static bool ends_with(const char *s, const char *tail)
{
	size_t n = strlen(s), t = strlen(tail);
	return n >= t && strcmp(s + n - t, tail) == 0;
}

bool ky_pseudonym_is_reference(const char *key)
{
	return ends_with(key, "_ref") || ends_with(key, "_refs");
}

/* Replaces the string `ref` (a member's identity or not) inside its container. */
static void replace(walk *w, json_t *ref, json_t *container, const char *key, size_t index)
{
	const char *id = json_string_value(ref);
	if (id == NULL || strncmp(id, "identity--", 10) != 0)
		return;
	int64_t member = w->member_of(w->ctx, id);
	if (member == 0 || member == w->named)
		return;
	if (!w->apply) {
		w->replaced++;
		return;
	}
	char pseudonym[KY_PSEUDONYM_ID_MAX];
	ky_pseudonym_id(w->secret, member, w->audience, pseudonym);
	json_t *value = json_string(pseudonym);
	if (value == NULL)
		return;
	int rc = key ? json_object_set_new(container, key, value) : json_array_set_new(container, index, value);
	if (rc == 0)
		w->replaced++;
}

static void visit(walk *w, json_t *node)
{
	if (json_is_array(node)) {
		size_t i;
		json_t *item;
		json_array_foreach(node, i, item)
			visit(w, item);
		return;
	}
	if (!json_is_object(node))
		return;
	const char *key;
	json_t *value;
	void *it = json_object_iter(node);
	while (it != NULL) {
		key = json_object_iter_key(it);
		value = json_object_iter_value(it);
		it = json_object_iter_next(node, it);
		if (json_is_string(value) && ends_with(key, "_ref")) {
			replace(w, value, node, key, 0);
		} else if (json_is_array(value) && ends_with(key, "_refs")) {
			size_t i;
			json_t *item;
			json_array_foreach(value, i, item)
				replace(w, item, value, NULL, i);
		} else {
			visit(w, value);
		}
	}
}

size_t ky_pseudonymise(json_t *object, ky_pseudonym_member_fn *member_of, void *ctx,
		       const uint8_t secret[KY_STORE_SECRET_SIZE], const char *audience, int64_t named)
{
	walk w = {member_of, ctx, secret, audience, named, true, 0};
	visit(&w, object);
	return w.replaced;
}

size_t ky_pseudonym_references(const json_t *object, ky_pseudonym_member_fn *member_of, void *ctx, int64_t named)
{
	/* Counting changes nothing: the walk only reads when it does not apply. */
	walk w = {member_of, ctx, NULL, "", named, false, 0};
	visit(&w, (json_t *)object);
	return w.replaced;
}

json_t *ky_pseudonym_identity(const char *pseudonym_id, const char *created)
{
	/* "member 1f0c2a9b": the first group of the pseudonym's UUID, which tells a person one
	 * pseudonym from another and nothing else. */
	const char *uuid = strncmp(pseudonym_id, "identity--", 10) == 0 ? pseudonym_id + 10 : pseudonym_id;
	char name[32];
	snprintf(name, sizeof(name), "member %.8s", uuid);
	return json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:[s]}", "type", "identity", "spec_version", "2.1", "id", pseudonym_id,
			 "created", created, "modified", created, "name", name, "identity_class", "unknown",
			 "object_marking_refs", ky_tlp_id(KY_TLP_CLEAR));
}

typedef struct resolving {
	char audience[KY_PSEUDONYM_AUDIENCE_MAX];
	size_t len;
	const char *pseudonym_id;
	uint8_t secret[KY_STORE_SECRET_SIZE];
	ky_store_member found;
	bool hit;
	char last[KY_STORE_NAME_MAX + 1];
} resolving;

static int gather_key(void *ctx, const char *key)
{
	resolving *r = ctx;
	size_t k = strlen(key);
	if (r->len + (r->len > 0) + k + 1 > sizeof(r->audience))
		return ky_error_set(KY_EINVALID, "the pseudonym's audience is longer than any the hub makes");
	if (r->len > 0)
		r->audience[r->len++] = ' ';
	memcpy(r->audience + r->len, key, k + 1);
	r->len += k;
	return 0;
}

static int try_member(void *ctx, const ky_store_member *m)
{
	resolving *r = ctx;
	char id[KY_PSEUDONYM_ID_MAX];
	snprintf(r->last, sizeof(r->last), "%s", m->name);
	ky_pseudonym_id(r->secret, m->id, r->audience, id);
	if (strcmp(id, r->pseudonym_id) != 0)
		return 0;
	r->found = *m;
	r->hit = true;
	return 1;
}

int ky_pseudonym_resolve(ky_store *s, const char *pseudonym_id, const ky_store_actor *actor, const char *reason,
			 ky_store_member *member, char *audience, size_t cap)
{
	resolving *r = calloc(1, sizeof(*r));
	if (r == NULL)
		return ky_error_set(KY_ENOMEM, "out of memory");
	r->pseudonym_id = pseudonym_id;
	json_t *why = json_pack("{s:s}", "reason", reason ? reason : "");
	char *detail = why ? json_dumps(why, JSON_COMPACT) : NULL;
	json_decref(why);
	ky_store_audit_entry e = {.user_id = actor->user_id, .member_id = actor->member_id,
				  .via = actor->via ? actor->via : "kyoyu", .origin = actor->origin,
				  .action = "pseudonym.resolve", .subject = pseudonym_id, .detail = detail};
	int rc = detail ? ky_store_audit_append(s, &e, 1) : ky_error_set(KY_ENOMEM, "out of memory");
	free(detail);
	/* A hub that never made a pseudonym gets its secret here, and finds none below. */
	uint8_t fresh[KY_STORE_SECRET_SIZE];
	if (rc == KY_OK && sodium_init() < 0)
		rc = ky_error_set(KY_ERROR, "libsodium cannot start");
	if (rc == KY_OK) {
		randombytes_buf(fresh, sizeof(fresh));
		rc = ky_store_secret(s, KY_PSEUDONYM_SECRET, fresh, r->secret);
	}
	sodium_memzero(fresh, sizeof(fresh));
	if (rc == KY_OK)
		rc = ky_store_object_keys(s, pseudonym_id, gather_key, r);
	bool more = true;
	while (rc == KY_OK && r->len > 0 && more && !r->hit)
		rc = ky_store_member_list(s, r->last[0] ? r->last : NULL, 200, try_member, r, &more);
	if (rc == 1)
		rc = KY_OK;
	if (rc == KY_OK && !r->hit)
		rc = ky_error_set(KY_ENOTFOUND, "%s is no pseudonym this hub serves", pseudonym_id);
	if (rc == KY_OK) {
		*member = r->found;
		snprintf(audience, cap, "%s", r->audience);
	}
	sodium_memzero(r->secret, sizeof(r->secret));
	free(r);
	return rc;
}
