/*
 * consult: confidential consultations checked, decided and shown (consult.h).
 */
#include "council/consult.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "council/council.h"
#include "stix/stix_validate.h"
#include "util/ky_error.h"
#include "util/ky_utf8.h"

/* The TLP levels a thread may have, by the names the API takes. CLEAR is not among them: a
 * consultation is confidential by what it is. */
static const struct {
	const char *name;
	ky_tlp tlp;
} LEVELS[] = {{"red", KY_TLP_RED}, {"amber+strict", KY_TLP_AMBER_STRICT}, {"amber", KY_TLP_AMBER}, {"green", KY_TLP_GREEN}};

static int tlp_parse(const char *name, ky_tlp *out)
{
	for (size_t i = 0; i < sizeof(LEVELS) / sizeof(LEVELS[0]); i++)
		if (strcmp(name ? name : "red", LEVELS[i].name) == 0) {
			*out = LEVELS[i].tlp;
			return KY_OK;
		}
	return ky_error_set(KY_EINVALID, "tlp is red (the default), amber+strict, amber or green: a consultation is never"
					 " TLP:CLEAR");
}

static const char *tlp_name(ky_tlp t)
{
	for (size_t i = 0; i < sizeof(LEVELS) / sizeof(LEVELS[0]); i++)
		if (LEVELS[i].tlp == t)
			return LEVELS[i].name;
	return "red";
}

int ky_consult_keys(int64_t opener, ky_tlp tlp, const int64_t *parties, size_t n, ky_policy_keys *out)
{
	/* The opener is an audience too: without any audience a version is the community's. */
	ky_audience audiences[1 + KY_STORE_CONSULT_PARTIES_MAX] = {{.kind = KY_AUDIENCE_MEMBER, .id = opener}};
	if (n > KY_STORE_CONSULT_PARTIES_MAX)
		return ky_error_set(KY_EINVALID, "a consultation names at most %d contributors", KY_STORE_CONSULT_PARTIES_MAX);
	for (size_t i = 0; i < n; i++)
		audiences[1 + i] = (ky_audience){.kind = KY_AUDIENCE_MEMBER, .id = parties[i]};
	ky_version_facts f = {.provider = opener, .tlp = tlp, .audiences = audiences, .naudiences = 1 + n};
	return ky_policy_access_keys(&f, out);
}

static int check_writer(const ky_viewer *v)
{
	return v->who.role == KY_ROLE_READER
		       ? ky_error_set(KY_EDENIED, "a reader reads consultations: an analyst or an admin of its member writes")
		       : KY_OK;
}

static int check_text(const char *what, const char *text, size_t max)
{
	size_t len = text ? strlen(text) : 0;
	return len == 0 || len > max || !ky_utf8_valid(text, len)
		       ? ky_error_set(KY_EINVALID, "%s is UTF-8 text of 1 to %zu bytes", what, max)
		       : KY_OK;
}

/* What an object's created_by_ref names: which member's identity, if any. */
typedef struct creator_search {
	const char *ref;
	int64_t member;
} creator_search;

static int creator_row(void *ctx, const ky_store_member *m)
{
	creator_search *c = ctx;
	if (strcmp(m->identity_id, c->ref) != 0)
		return 0;
	c->member = m->id;
	return 1;
}

/*
 * Checks the objects a message attaches (NULL: none) and writes them as text into *text
 * (NULL for none; the caller frees it): each a valid STIX object, none attributed to another
 * member; *names_author says whether one is attributed to the author's own member.
 */
static int check_objects(ky_store *s, const json_t *objects, int64_t author, char **text, bool *names_author)
{
	*text = NULL;
	*names_author = false;
	if (objects == NULL)
		return KY_OK;
	size_t n = json_array_size(objects);
	if (!json_is_array(objects) || n == 0 || n > KY_STORE_CONSULT_OBJECTS_MAX)
		return ky_error_set(KY_EINVALID, "objects is a list of 1 to %d STIX objects", KY_STORE_CONSULT_OBJECTS_MAX);
	ky_stix_problems *problems = NULL;
	int rc = ky_stix_problems_new(&problems);
	for (size_t i = 0; rc == KY_OK && i < n; i++) {
		const json_t *o = json_array_get(objects, i);
		if (!json_is_object(o)) {
			rc = ky_error_set(KY_EINVALID, "objects[%zu] is not a STIX object", i);
			break;
		}
		ky_stix_problems_clear(problems);
		if (ky_stix_validate_object(problems, o) != KY_OK) {
			rc = ky_error_set(KY_EINVALID, "objects[%zu] (%.80s) is not valid STIX 2.1: %s", i,
					  json_string_value(json_object_get(o, "id")) ? json_string_value(json_object_get(o, "id"))
										       : "without an id",
					  ky_stix_problems_kept(problems) ? ky_stix_problems_get(problems, 0) : "?");
			break;
		}
		const char *ref = json_string_value(json_object_get(o, "created_by_ref"));
		creator_search found = {ref, 0};
		if (ref != NULL)
			rc = ky_store_member_list(s, NULL, 0, creator_row, &found, NULL);
		if (rc == KY_OK && found.member != 0 && found.member != author)
			rc = ky_error_set(KY_EINVALID, "objects[%zu]'s created_by_ref names another member: a member provides"
						       " objects as itself",
					  i);
		if (found.member == author)
			*names_author = true;
	}
	ky_stix_problems_free(problems);
	if (rc == KY_OK && (*text = json_dumps(objects, JSON_COMPACT | JSON_PRESERVE_ORDER)) == NULL)
		rc = ky_error_set(KY_ENOMEM, "out of memory");
	return rc;
}

int ky_consult_open(ky_store *s, const ky_viewer *v, const ky_consult_opening *o, const ky_store_actor *actor,
		    int64_t *id)
{
	if (v->who.tier == KY_TIER_SECRETARIAT)
		return ky_error_set(KY_EDENIED, "a member opens a consultation with the secretariat; the secretariat asks"
						" members through a request for information (/api/v1/rfis)");
	int rc = check_writer(v);
	ky_tlp tlp = KY_TLP_RED;
	if (rc == KY_OK)
		rc = check_text("subject", o->subject, KY_STORE_CONSULT_SUBJECT_MAX);
	if (rc == KY_OK)
		rc = check_text("text", o->text, KY_STORE_CONSULT_TEXT_MAX);
	if (rc == KY_OK)
		rc = tlp_parse(o->tlp, &tlp);
	if (rc == KY_OK && o->nwith > KY_STORE_CONSULT_PARTIES_MAX)
		rc = ky_error_set(KY_EINVALID, "a consultation names at most %d contributors", KY_STORE_CONSULT_PARTIES_MAX);
	int64_t parties[KY_STORE_CONSULT_PARTIES_MAX];
	for (size_t i = 0; rc == KY_OK && i < o->nwith; i++) {
		ky_store_member m;
		rc = ky_store_member_get(s, o->with[i], &m);
		if (rc == KY_OK && (m.tier != KY_TIER_CONTRIBUTOR || m.suspended || m.id == v->who.member_id))
			rc = ky_error_set(KY_EINVALID, "%s is not %s: a consultation names active contributors besides the"
						       " secretariat, which is a party of every one",
					  o->with[i], m.id == v->who.member_id ? "another member" : "an active contributor");
		parties[i] = m.id;
	}
	ky_policy_keys keys;
	if (rc == KY_OK)
		rc = ky_consult_keys(v->who.member_id, tlp, parties, o->nwith, &keys);
	char *objects = NULL;
	bool names_author = false;
	if (rc == KY_OK)
		rc = check_objects(s, o->objects, v->who.member_id, &objects, &names_author);
	if (rc == KY_OK && names_author && !o->named)
		rc = ky_error_set(KY_EINVALID, "an attached object's created_by_ref names your member, which an anonymous"
					       " consultation keeps from the contributors: remove created_by_ref, or open it named");
	ky_store_consult c = {.subject = o->subject, .opener = v->who.member_id, .named = o->named, .tlp = tlp_name(tlp),
			      .parties = parties, .nparties = o->nwith};
	ky_store_consult_message first = {.member = v->who.member_id, .text = o->text, .objects = objects};
	if (rc == KY_OK)
		rc = ky_store_consult_open(s, &c, keys.ptr, keys.n, &first, actor, id);
	free(objects);
	return rc;
}

int ky_consult_post(ky_store *s, const ky_viewer *v, int64_t id, const char *text, const json_t *objects,
		    const ky_store_actor *actor, int64_t *n)
{
	int rc = check_writer(v);
	if (rc == KY_OK)
		rc = check_text("text", text, KY_STORE_CONSULT_TEXT_MAX);
	char *attached = NULL;
	bool names_author = false;
	if (rc == KY_OK)
		rc = check_objects(s, objects, v->who.member_id, &attached, &names_author);
	ky_store_consult_message m = {.member = v->who.member_id, .text = text, .objects = attached,
				      .names_author = names_author};
	ky_store_scope scope = ky_policy_scope(v);
	if (rc == KY_OK)
		rc = ky_store_consult_post(s, &scope, id, &m, actor, n);
	free(attached);
	return rc;
}

int ky_consult_close(ky_store *s, const ky_viewer *v, int64_t id, const char *reason, const ky_store_actor *actor)
{
	int rc = check_writer(v);
	if (rc == KY_OK && reason != NULL && reason[0] != '\0')
		rc = ky_council_check_reason(reason);
	ky_store_scope scope = ky_policy_scope(v);
	if (rc == KY_OK)
		rc = ky_store_consult_close(s, &scope, id, v->who.tier == KY_TIER_SECRETARIAT ? 0 : v->who.member_id, actor,
					    reason);
	return rc;
}

/* --- shown ---------------------------------------------------------------------------------- */

typedef struct showing {
	ky_store *s;
	const ky_viewer *v;
	json_t *rows;
	int rc;
} showing;

static json_t *member_name(showing *sh, int64_t id)
{
	ky_store_member m;
	int rc = ky_store_member_by_id(sh->s, id, &m);
	if (rc != KY_OK) {
		sh->rc = rc;
		return NULL;
	}
	return json_string(m.name);
}

/* Whether the viewer may know who opened thread c. */
static bool sees_opener(const showing *sh, const ky_store_consult *c)
{
	return c->named || sh->v->who.tier == KY_TIER_SECRETARIAT || sh->v->who.member_id == c->opener;
}

static json_t *message_json(showing *sh, const ky_store_consult *c, const ky_store_consult_message *m)
{
	ky_store_member author;
	if ((sh->rc = ky_store_member_by_id(sh->s, m->member, &author)) != KY_OK)
		return NULL;
	const char *party = m->member == c->opener ? "opener" : author.tier == KY_TIER_SECRETARIAT ? "secretariat" : "contributor";
	json_t *from = json_pack("{s:s}", "party", party);
	if (from != NULL && (m->member != c->opener || sees_opener(sh, c)))
		json_object_set_new(from, "member", json_string(author.name));
	json_t *o = from ? json_pack("{s:I,s:o,s:o,s:s}", "n", (json_int_t)m->n, "from", from, "posted",
				     ky_council_time_json(m->posted_us), "text", m->text)
			 : NULL;
	if (o != NULL && m->objects != NULL)
		json_object_set_new(o, "objects", json_loads(m->objects, 0, NULL));
	return o;
}

static int show_one(void *ctx, const ky_store_consult *c)
{
	showing *sh = ctx;
	json_t *parties = json_array();
	for (size_t i = 0; parties != NULL && i < c->nparties; i++)
		json_array_append_new(parties, member_name(sh, c->parties[i]));
	json_t *o = parties ? json_pack("{s:I,s:s,s:s,s:s,s:b,s:o,s:o,s:o,s:I,s:o}", "id", (json_int_t)c->id, "subject",
					c->subject, "state", c->closed_us ? "closed" : "open", "tlp", c->tlp, "named",
					c->named, "parties", parties, "opened", ky_council_time_json(c->opened_us),
					"closed", c->closed_us ? ky_council_time_json(c->closed_us) : json_null(),
					"message_count", (json_int_t)c->nmessages, "last", ky_council_time_json(c->last_us))
			    : NULL;
	if (o != NULL && sees_opener(sh, c))
		json_object_set_new(o, "opener", member_name(sh, c->opener));
	if (o != NULL && c->messages != NULL) {
		json_t *messages = json_array();
		for (size_t i = 0; messages != NULL && i < c->nmessages; i++)
			json_array_append_new(messages, message_json(sh, c, &c->messages[i]));
		json_object_set_new(o, "messages", messages);
	}
	if (sh->rc != KY_OK) {
		json_decref(o);
		return sh->rc;
	}
	return o != NULL && json_array_append_new(sh->rows, o) == 0 ? 0 : KY_ENOMEM;
}

int ky_consult_json(ky_store *s, const ky_viewer *v, int64_t id, const ky_store_actor *actor, json_t **out)
{
	showing sh = {s, v, json_array(), KY_OK};
	ky_store_scope scope = ky_policy_scope(v);
	*out = NULL;
	int rc = sh.rows ? ky_store_consult_list(s, &scope, id, actor, show_one, &sh) : KY_ENOMEM;
	if (rc == KY_ENOMEM)
		ky_error_set(KY_ENOMEM, "out of memory");
	if (rc == KY_OK)
		*out = id != 0 ? json_incref(json_array_get(sh.rows, 0)) : json_pack("{s:O}", "consultations", sh.rows);
	if (rc == KY_OK && *out == NULL)
		rc = ky_error_set(KY_ENOMEM, "out of memory");
	json_decref(sh.rows);
	return rc;
}

typedef struct attached {
	int64_t n, member;
	json_t *objects;
	bool found;
} attached;

static int attached_row(void *ctx, const ky_store_consult *c)
{
	attached *a = ctx;
	for (size_t i = 0; i < c->nmessages; i++)
		if (c->messages[i].n == a->n) {
			a->found = true;
			a->member = c->messages[i].member;
			a->objects = c->messages[i].objects ? json_loads(c->messages[i].objects, 0, NULL) : NULL;
		}
	return 0;
}

int ky_consult_attached(ky_store *s, const ky_viewer *v, int64_t id, int64_t n, const ky_store_actor *actor,
			json_t **objects)
{
	attached a = {.n = n};
	ky_store_scope scope = ky_policy_scope(v);
	*objects = NULL;
	int rc = ky_store_consult_list(s, &scope, id, actor, attached_row, &a);
	if (rc == KY_OK && !a.found)
		rc = ky_error_set(KY_ENOTFOUND, "consultation %lld has no message %lld", (long long)id, (long long)n);
	if (rc == KY_OK && a.member != v->who.member_id)
		rc = ky_error_set(KY_EDENIED, "message %lld is another member's: only the member that attached objects submits"
					      " them as a report",
				  (long long)n);
	if (rc == KY_OK && a.objects == NULL)
		rc = ky_error_set(KY_EINVALID, "message %lld attaches no objects", (long long)n);
	if (rc == KY_OK)
		*objects = a.objects;
	else
		json_decref(a.objects);
	return rc;
}
