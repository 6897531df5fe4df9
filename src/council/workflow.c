#include "council/workflow.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "council/council.h"
#include "policy/admission.h"
#include "stix/stix_validate.h"
#include "store/store_audit.h"
#include "util/ky_clock.h"
#include "util/ky_error.h"
#include "util/ky_uuid.h"

/* The transitions (workflow.h), each with what it is called in messages. */
static const struct {
	ky_report_state from, to;
	bool provider_may;
	const char *verb;
} moves[] = {
	{KY_REPORT_UNCONFIRMED, KY_REPORT_COUNTERMEASURE, false, "promoted (countermeasure)"},
	{KY_REPORT_UNCONFIRMED, KY_REPORT_REFUTED, false, "refuted"},
	{KY_REPORT_UNCONFIRMED, KY_REPORT_WITHDRAWN, true, "withdrawn"},
	{KY_REPORT_REFUTED, KY_REPORT_UNCONFIRMED, false, "reopened (unconfirmed)"},
	{KY_REPORT_COUNTERMEASURE, KY_REPORT_REVOKED, false, "revoked"},
};

#define NMOVES (sizeof(moves) / sizeof(moves[0]))

static bool secretariat(const ky_workflow_caller *c)
{
	return c->viewer == NULL || c->viewer->who.tier == KY_TIER_SECRETARIAT;
}

static int64_t caller_member(const ky_workflow_caller *c)
{
	return c->viewer ? c->viewer->who.member_id : 0;
}

static int ignore_row(void *ctx, const ky_store_row *row)
{
	(void)ctx;
	(void)row;
	return 0;
}

/* Whether the caller reads the report's STIX report (or object) on some path. */
static int reads_report(ky_store *s, const ky_workflow_caller *c, const ky_store_report *r, bool *reads)
{
	*reads = secretariat(c) || r->provider == caller_member(c);
	if (*reads)
		return KY_OK;
	ky_store_scope scope = ky_policy_scope(c->viewer);
	scope.reads = NULL;
	const char *ids[] = {r->id};
	ky_store_query q = {.scope = &scope, .ids = ids, .nids = 1, .versions = KY_STORE_ALL, .limit = 1};
	ky_store_page page;
	int rc = ky_store_query_run(s, &q, ignore_row, NULL, &page);
	*reads = rc == KY_OK && page.count > 0;
	return rc;
}

int ky_workflow_report(ky_store *s, const ky_workflow_caller *c, const char *id, ky_store_report *out)
{
	bool reads = false;
	int rc = ky_store_report_get(s, id, out);
	if (rc == KY_OK)
		rc = reads_report(s, c, out, &reads);
	if (rc == KY_OK && !reads)
		rc = KY_ENOTFOUND;
	return rc == KY_ENOTFOUND ? ky_error_set(KY_ENOTFOUND, "no report %s", id) : rc;
}

typedef struct visible {
	ky_store *s;
	const ky_workflow_caller *c;
	int (*fn)(void *ctx, const ky_store_report *r);
	void *ctx;
	size_t limit, shown;
	bool more;
	char last[KY_STORE_STIX_ID_MAX];
	int rc;
} visible;

static int visible_report(void *ctx, const ky_store_report *r)
{
	visible *v = ctx;
	snprintf(v->last, sizeof(v->last), "%s", r->id);
	bool reads = false;
	if ((v->rc = reads_report(v->s, v->c, r, &reads)) != KY_OK)
		return -1;
	if (!reads)
		return 0;
	if (v->limit && v->shown == v->limit) {
		v->more = true;
		return 1;
	}
	v->shown++;
	int stop = v->fn(v->ctx, r);
	if (stop < 0)
		v->rc = stop;
	return stop;
}

int ky_workflow_reports(ky_store *s, const ky_workflow_caller *c, const ky_store_report_filter *f,
			int (*fn)(void *ctx, const ky_store_report *r), void *ctx, bool *more)
{
	/* The store's pages hold reports the caller may not read: read on until the caller's
	 * page is full or the list ends. */
	visible v = {.s = s, .c = c, .fn = fn, .ctx = ctx, .limit = f->limit};
	ky_store_report_filter page = *f;
	page.limit = 200;
	bool store_more = true;
	int rc = KY_OK;
	while (rc == KY_OK && store_more && !v.more) {
		v.last[0] = '\0';
		rc = ky_store_report_list(s, &page, visible_report, &v, &store_more);
		if (v.rc != KY_OK)
			rc = v.rc;
		if (v.last[0] == '\0')
			break;
		page.after = v.last;
	}
	if (more != NULL)
		*more = rc == KY_OK && v.more;
	return rc;
}

/* --- JSON ------------------------------------------------------------------------------------- */


static int add_object(void *ctx, const char *stix_id)
{
	return json_array_append_new(ctx, json_string(stix_id)) == 0 ? 0 : KY_ENOMEM;
}

typedef struct givers {
	ky_store *s;
	const ky_workflow_caller *c;
	json_t *list;
	int64_t seen[1024];
	size_t nseen;
} givers;

/* Who gave a feedback, as the caller may know it: the giver itself "you"; the secretariat, or
 * anyone when the giver chose to be named on it, the member's name; anyone else "member N" by
 * order of first feedback. */
static json_t *giver(givers *g, int64_t member, bool named)
{
	size_t n = 0;
	while (n < g->nseen && g->seen[n] != member)
		n++;
	if (n == g->nseen && g->nseen < sizeof(g->seen) / sizeof(g->seen[0]))
		g->seen[g->nseen++] = member;
	if (member == caller_member(g->c))
		return json_string("you");
	ky_store_member m;
	if ((secretariat(g->c) || named) && ky_store_member_by_id(g->s, member, &m) == KY_OK)
		return json_string(m.name);
	char label[32];
	snprintf(label, sizeof(label), "member %zu", n + 1);
	return json_string(label);
}

static int add_feedback(void *ctx, const ky_store_feedback *f)
{
	givers *g = ctx;
	const char *opinion = ky_workflow_opinion_name(f->opinion);
	json_t *item = json_pack("{s:s,s:s,s:o,s:o,s:o}", "id", f->stix_id, "type", f->type, "opinion",
				 opinion ? json_string(opinion) : json_null(), "from", giver(g, f->member, f->named), "at",
				 ky_council_time_json(f->at_us));
	return item && json_array_append_new(g->list, item) == 0 ? 0 : KY_ENOMEM;
}

typedef struct readers {
	int64_t provider;
	int64_t members[4096];
	size_t n;
} readers;

static int count_reader(void *ctx, const ky_store_audit_row *row)
{
	readers *r = ctx;
	if (strcmp(row->action, "read") != 0 || row->member_id == 0 || row->member_id == r->provider)
		return 0;
	for (size_t i = 0; i < r->n; i++)
		if (r->members[i] == row->member_id)
			return 0;
	if (r->n < sizeof(r->members) / sizeof(r->members[0]))
		r->members[r->n++] = row->member_id;
	return 0;
}

json_t *ky_workflow_report_json(ky_store *s, const ky_workflow_caller *c, const ky_store_report *r, bool detail)
{
	bool own = r->provider == caller_member(c);
	ky_store_member provider;
	bool named = (secretariat(c) || own) && ky_store_member_by_id(s, r->provider, &provider) == KY_OK;
	json_t *j = json_pack("{s:s,s:s,s:b,s:o,s:i,s:i,s:i,s:i,s:o,s:b,s:o,s:o,s:o}", "id", r->id, "state",
			      ky_report_state_name(r->state), "proposed", r->rule != 0, "rule",
			      r->rule ? json_string(r->rule_name) : json_null(), "confidence", r->confidence, "prior",
			      r->prior, "agree", r->agree, "disagree", r->disagree, "provider",
			      named ? json_string(provider.name) : json_null(), "yours", own, "course_of_action",
			      r->course_of_action[0] ? json_string(r->course_of_action) : json_null(), "created",
			      ky_council_time_json(r->created_us), "changed", ky_council_time_json(r->changed_us));
	if (j == NULL || !detail)
		return j;
	json_t *objects = json_array();
	givers *g = calloc(1, sizeof(*g));
	readers *seen = calloc(1, sizeof(*seen));
	int rc = objects && g && seen ? KY_OK : KY_ENOMEM;
	if (rc == KY_OK) {
		*g = (givers){.s = s, .c = c, .list = json_array()};
		rc = g->list ? ky_store_report_objects(s, r->id, add_object, objects) : KY_ENOMEM;
	}
	if (rc == KY_OK)
		rc = ky_store_report_feedback(s, r->id, add_feedback, g);
	if (rc == KY_OK) {
		seen->provider = r->provider;
		ky_store_audit_filter f = {.object = r->id, .limit = 100000};
		rc = ky_store_audit_find(s, &f, count_reader, seen);
	}
	if (rc == KY_OK) {
		json_object_set_new(j, "objects", objects);
		json_object_set_new(j, "feedback", g->list);
		json_object_set_new(j, "readers", json_integer((json_int_t)seen->n));
		objects = NULL;
		g->list = NULL;
	}
	json_decref(objects);
	if (g != NULL)
		json_decref(g->list);
	free(g);
	free(seen);
	if (rc != KY_OK) {
		json_decref(j);
		return NULL;
	}
	return j;
}

json_t *ky_workflow_rule_json(const ky_store_rule *r)
{
	return json_pack("{s:s,s:i,s:o,s:i,s:b,s:o}", "name", r->name, "min_agree", r->min_agree, "max_disagree",
			 r->max_disagree < 0 ? json_null() : json_integer(r->max_disagree), "min_confidence", r->min_confidence,
			 "promotes", r->promotes, "created", ky_council_time_json(r->created_us));
}

int ky_workflow_rule_check(const ky_store_rule *r)
{
	int rc = ky_council_check_name("rule", r->name);
	if (rc != KY_OK)
		return rc;
	if (r->min_agree < 0 || r->min_agree > 1000)
		return ky_error_set(KY_EINVALID, "rule %s: min_agree is %d: expected 0 to 1000 members", r->name, r->min_agree);
	if (r->max_disagree < -1 || r->max_disagree > 1000)
		return ky_error_set(KY_EINVALID, "rule %s: max_disagree is %d: expected 0 to 1000 members, or none", r->name,
				    r->max_disagree);
	if (r->min_confidence < 0 || r->min_confidence > 100)
		return ky_error_set(KY_EINVALID, "rule %s: min_confidence is %d: expected 0 to 100", r->name,
				    r->min_confidence);
	return KY_OK;
}

/* --- transitions -------------------------------------------------------------------------------- */

/* The refusal of a move from r's state to `to`, naming what may follow the state. */
static int refuse_move(const ky_store_report *r, ky_report_state to)
{
	char allowed[256] = "";
	size_t n = 0, total = 0;
	for (size_t i = 0; i < NMOVES; i++)
		total += moves[i].from == r->state;
	for (size_t i = 0; i < NMOVES; i++) {
		if (moves[i].from != r->state)
			continue;
		size_t len = strlen(allowed);
		snprintf(allowed + len, sizeof(allowed) - len, "%s%s", n == 0 ? "" : n + 1 == total ? " or " : ", ",
			 moves[i].verb);
		n++;
	}
	const char *state = ky_report_state_name(r->state);
	if (n == 0)
		return ky_error_set(KY_ECONFLICT, "report %s is %s, which is final: it cannot become %s", r->id, state,
				    ky_report_state_name(to));
	return ky_error_set(KY_ECONFLICT, "report %s is %s: it cannot become %s; from %s it can only be %s", r->id,
			    state, ky_report_state_name(to), state, allowed);
}

/* One version read for promotion or revocation. */
typedef struct version_copy {
	char *raw;
	size_t raw_len;
	uint64_t vid;
	int64_t provider;
	int tlp;
} version_copy;

typedef struct versions_read {
	version_copy *v;
	size_t n, cap;
	bool failed;
} versions_read;

static int copy_version(void *ctx, const ky_store_row *row)
{
	versions_read *r = ctx;
	if (r->n == r->cap) {
		size_t cap = r->cap ? 2 * r->cap : 16;
		version_copy *grown = realloc(r->v, cap * sizeof(*grown));
		if (grown == NULL)
			return ky_error_set(KY_ENOMEM, "out of memory");
		r->v = grown;
		r->cap = cap;
	}
	version_copy *v = &r->v[r->n];
	if ((v->raw = malloc(row->raw_len + 1)) == NULL)
		return ky_error_set(KY_ENOMEM, "out of memory");
	memcpy(v->raw, row->raw, row->raw_len);
	v->raw[row->raw_len] = '\0';
	v->raw_len = row->raw_len;
	v->vid = row->vid;
	v->provider = row->provider;
	v->tlp = row->tlp;
	r->n++;
	return 0;
}

static void versions_clear(versions_read *r)
{
	for (size_t i = 0; i < r->n; i++)
		free(r->v[i].raw);
	free(r->v);
	*r = (versions_read){0};
}

typedef struct id_list {
	char (*ids)[KY_STORE_STIX_ID_MAX];
	const char **ptr;
	size_t n, cap;
} id_list;

static int add_id(void *ctx, const char *stix_id)
{
	id_list *l = ctx;
	if (l->n == l->cap) {
		size_t cap = l->cap ? 2 * l->cap : 16;
		char(*grown)[KY_STORE_STIX_ID_MAX] = realloc(l->ids, cap * sizeof(*grown));
		if (grown == NULL)
			return ky_error_set(KY_ENOMEM, "out of memory");
		l->ids = grown;
		l->cap = cap;
	}
	snprintf(l->ids[l->n++], KY_STORE_STIX_ID_MAX, "%s", stix_id);
	return 0;
}

/* The latest versions of `ids` in collection `name`, in the operator's scope. */
static int latest_versions(ky_store *s, const char *name, const char *const *ids, size_t nids, versions_read *out)
{
	ky_store_collection c = {0};
	int rc = ky_store_collection_find(s, name, &c);
	int64_t id = c.id;
	ky_store_collection_clear(&c);
	ky_store_query q = {.scope = &ky_store_operator_scope, .collection_id = id, .ids = ids, .nids = nids,
			    .versions = KY_STORE_LAST};
	return rc == KY_OK && nids > 0 ? ky_store_query_run(s, &q, copy_version, out, NULL) : rc;
}

/* The admissions of the providers of a promotion, made once each. */
typedef struct admissions {
	int64_t provider[16];
	ky_admission *a[16];
	size_t n;
} admissions;

static void admissions_free(admissions *a)
{
	for (size_t i = 0; i < a->n; i++)
		ky_admission_free(a->a[i]);
	a->n = 0;
}

/* The access `provider`'s version would have outside the exchange: what its markings give. */
static int admission_of(ky_store *s, const ky_config *config, admissions *cache, int64_t provider, ky_admission **out)
{
	for (size_t i = 0; i < cache->n; i++)
		if (cache->provider[i] == provider) {
			*out = cache->a[i];
			return KY_OK;
		}
	if (cache->n == sizeof(cache->a) / sizeof(cache->a[0]))
		admissions_free(cache);
	ky_store_member m;
	int rc = ky_store_member_by_id(s, provider, &m);
	ky_admission_options o = {.provider = provider, .provider_tier = m.tier, .default_tlp = ky_policy_default_tlp(config)};
	if (rc == KY_OK)
		rc = ky_admission_new(s, &o, out);
	if (rc == KY_OK) {
		cache->provider[cache->n] = provider;
		cache->a[cache->n++] = *out;
	}
	return rc;
}

/* The course-of-action the secretariat publishes with a promotion, checked. */
static int read_coa(const char *coa, size_t len, json_t **out)
{
	json_error_t error;
	*out = json_loadb(coa, len, JSON_REJECT_DUPLICATES, &error);
	if (*out == NULL)
		return ky_error_set(KY_EINVALID, "the course-of-action is not JSON: %s (line %d)", error.text, error.line);
	const char *type = json_string_value(json_object_get(*out, "type"));
	if (type == NULL || strcmp(type, "course-of-action") != 0)
		return ky_error_set(KY_EINVALID, "the course-of-action is a %s: expected a STIX course-of-action object",
				    type ? type : "JSON value without a type");
	ky_stix_problems *problems = NULL;
	int rc = ky_stix_problems_new(&problems);
	if (rc == KY_OK && ky_stix_validate_object(problems, *out) != KY_OK)
		rc = ky_error_set(KY_EINVALID, "the course-of-action is not valid STIX 2.1: %s",
				  ky_stix_problems_kept(problems) ? ky_stix_problems_get(problems, 0) : "out of memory");
	ky_stix_problems_free(problems);
	return rc;
}

typedef struct publication {
	ky_admitted *admitted;
	size_t n;
	ky_store_republish *republish;
} publication;

static void publication_clear(publication *p)
{
	for (size_t i = 0; p->admitted != NULL && i < p->n; i++)
		ky_admitted_clear(&p->admitted[i]);
	free(p->admitted);
	free(p->republish);
	*p = (publication){0};
}

static int add_admitted(ky_store_batch *b, const char *raw, size_t raw_len, const json_t *object,
			const ky_admitted *admitted)
{
	int rc = ky_store_batch_add(b, raw, raw_len, object, &admitted->access);
	for (size_t k = 0; rc >= 0 && k < admitted->npseudonyms; k++) {
		ky_store_meta meta = {.id = admitted->pseudonyms[k].id, .type = "identity", .spec_version = "2.1",
				      .version = KY_PSEUDONYM_CREATED};
		rc = ky_store_batch_add_meta(b, admitted->pseudonyms[k].raw, admitted->pseudonyms[k].raw_len, &meta,
					     &admitted->pseudonym_access);
	}
	return rc < 0 ? rc : KY_OK;
}

/* Promotion: the report's objects (and the course-of-action) into the countermeasures, with
 * the access their markings give outside the exchange, in the transaction of the change. */
typedef struct feedback_ids {
	const ky_workflow_publish *publish;
	size_t found;
	int64_t givers[64];
} feedback_ids;

static int find_included(void *ctx, const ky_store_feedback *f)
{
	feedback_ids *fi = ctx;
	for (size_t i = 0; i < fi->publish->ninclude; i++)
		if (strcmp(fi->publish->include[i], f->stix_id) == 0 && fi->givers[i] == 0) {
			fi->givers[i] = f->member;
			fi->found++;
		}
	return 0;
}

/* Included feedback reaches who the report reaches, and its giver. */
static int include_feedback(ky_admitted *admitted, const ky_admitted *root, int64_t giver)
{
	char own[KY_STORE_ACCESS_KEY_MAX + 1];
	snprintf(own, sizeof(own), KY_STORE_MEMBER_KEY, (long long)giver);
	admitted->keys.n = 0;
	for (size_t k = 0; k < root->access.nkeys; k++) {
		snprintf(admitted->keys.key[admitted->keys.n], sizeof(admitted->keys.key[0]), "%s", root->access.keys[k]);
		admitted->keys.n += strcmp(root->access.keys[k], own) != 0;
	}
	if (admitted->keys.n == KY_STORE_ACCESS_KEYS_MAX)
		return ky_error_set(KY_ETOOBIG, "the report reaches more than %d audiences", KY_STORE_ACCESS_KEYS_MAX);
	snprintf(admitted->keys.key[admitted->keys.n++], sizeof(admitted->keys.key[0]), "%s", own);
	for (size_t k = 0; k < admitted->keys.n; k++)
		admitted->keys.ptr[k] = admitted->keys.key[k];
	admitted->access.keys = admitted->keys.ptr;
	admitted->access.nkeys = admitted->keys.n;
	admitted->access.tlp = root->access.tlp;
	return KY_OK;
}

static int promote(ky_store *s, const ky_config *config, const ky_store_report *r, ky_store_transition *t,
		   const ky_workflow_publish *publish)
{
	const char *coa = publish->coa;
	size_t coa_len = publish->coa_len;
	if (publish->ninclude > sizeof(((feedback_ids *)0)->givers) / sizeof(int64_t))
		return ky_error_set(KY_EINVALID, "at most 64 feedback objects are published with a promotion");
	feedback_ids included = {.publish = publish};
	int found = ky_store_report_feedback(s, r->id, find_included, &included);
	if (found != KY_OK)
		return found;
	for (size_t i = 0; i < publish->ninclude; i++)
		if (included.givers[i] == 0)
			return ky_error_set(KY_EINVALID, "%.128s is no feedback on report %s (kyoyu report show lists it)",
					    publish->include[i], r->id);

	id_list ids = {0};
	versions_read versions = {0};
	publication pub = {0};
	admissions cache = {0};
	ky_store_collection target = {0};
	ky_store_batch *b = NULL;
	json_t *coa_object = NULL;
	int rc = coa ? read_coa(coa, coa_len, &coa_object) : KY_OK;
	if (rc == KY_OK)
		rc = ky_store_report_objects(s, r->id, add_id, &ids);
	if (rc == KY_OK && (ids.ptr = malloc((ids.n + 1) * sizeof(*ids.ptr))) == NULL)
		rc = ky_error_set(KY_ENOMEM, "out of memory");
	for (size_t i = 0; rc == KY_OK && i < ids.n; i++)
		ids.ptr[i] = ids.ids[i];
	if (rc == KY_OK)
		rc = latest_versions(s, KY_STORE_EXCHANGE, ids.ptr, ids.n, &versions);
	if (rc == KY_OK) {
		/* Room for the included feedback too, made once: a decision points into itself, so
		 * the array may not move. */
		pub.admitted = calloc(versions.n + publish->ninclude + 1, sizeof(*pub.admitted));
		pub.republish = calloc(versions.n + publish->ninclude + 1, sizeof(*pub.republish));
		if (pub.admitted == NULL || pub.republish == NULL)
			rc = ky_error_set(KY_ENOMEM, "out of memory");
	}
	if (rc == KY_OK)
		rc = ky_store_collection_find(s, KY_STORE_COUNTERMEASURES, &target);
	if (rc == KY_OK)
		rc = ky_store_batch_begin(s, target.id, &b);
	const ky_admitted *root = NULL;
	for (size_t i = 0; rc == KY_OK && i < versions.n; i++) {
		json_error_t error;
		json_t *object = json_loadb(versions.v[i].raw, versions.v[i].raw_len, 0, &error);
		ky_admission *a = NULL;
		rc = object ? admission_of(s, config, &cache, versions.v[i].provider, &a)
			    : ky_error_set(KY_ERROR, "a stored version of report %s is not JSON", r->id);
		if (rc == KY_OK && (rc = ky_admission_decide(a, object, &pub.admitted[pub.n])) == KY_OK) {
			pub.republish[pub.n] = (ky_store_republish){versions.v[i].vid, &pub.admitted[pub.n].access};
			const char *id = json_string_value(json_object_get(object, "id"));
			if (id != NULL && strcmp(id, r->id) == 0)
				root = &pub.admitted[pub.n];
			pub.n++;
			rc = add_admitted(b, versions.v[i].raw, versions.v[i].raw_len, object, &pub.admitted[pub.n - 1]);
		}
		json_decref(object);
	}
	/* The feedback included, after the report's objects, whose access it takes. */
	versions_read feedback = {0};
	if (rc == KY_OK && publish->ninclude > 0) {
		rc = root ? latest_versions(s, KY_STORE_EXCHANGE, publish->include, publish->ninclude, &feedback)
			  : ky_error_set(KY_ERROR, "report %s has no object in the exchange to publish", r->id);
	}
	for (size_t i = 0; rc == KY_OK && i < feedback.n; i++) {
		json_t *object = json_loadb(feedback.v[i].raw, feedback.v[i].raw_len, 0, NULL);
		ky_admission *a = NULL;
		rc = object ? admission_of(s, config, &cache, feedback.v[i].provider, &a)
			    : ky_error_set(KY_ERROR, "a stored feedback of report %s is not JSON", r->id);
		if (rc == KY_OK && (rc = ky_admission_decide(a, object, &pub.admitted[pub.n])) == KY_OK) {
			ky_admitted *admitted = &pub.admitted[pub.n++];
			rc = include_feedback(admitted, root, feedback.v[i].provider);
			pub.republish[pub.n - 1] = (ky_store_republish){feedback.v[i].vid, &admitted->access};
			if (rc == KY_OK) {
				admitted->pseudonym_access.keys = admitted->access.keys;
				admitted->pseudonym_access.nkeys = admitted->access.nkeys;
				rc = add_admitted(b, feedback.v[i].raw, feedback.v[i].raw_len, object, admitted);
			}
		}
		json_decref(object);
	}
	versions_clear(&feedback);
	/* The course-of-action reaches who the report reaches: the secretariat provides it. */
	ky_admission *operator = NULL;
	ky_admitted coa_admitted = {0};
	if (rc == KY_OK && coa_object != NULL) {
		rc = root ? ky_admission_operator(s, config, KY_STORE_COUNTERMEASURES, &operator)
			  : ky_error_set(KY_ERROR, "report %s has no object in the exchange to publish", r->id);
		if (rc == KY_OK)
			rc = ky_admission_decide(operator, coa_object, &coa_admitted);
		if (rc == KY_OK) {
			coa_admitted.access.keys = root->access.keys;
			coa_admitted.access.nkeys = root->access.nkeys;
			coa_admitted.access.tlp = root->access.tlp;
			coa_admitted.pseudonym_access.keys = root->access.keys;
			coa_admitted.pseudonym_access.nkeys = root->access.nkeys;
			rc = add_admitted(b, coa, coa_len, coa_object, &coa_admitted);
		}
		if (rc == KY_OK)
			t->course_of_action = json_string_value(json_object_get(coa_object, "id"));
	}
	if (rc == KY_OK) {
		t->republish = pub.republish;
		t->nrepublish = pub.n;
		rc = ky_store_batch_transition(b, t);
	}
	if (rc == KY_OK) {
		rc = ky_store_batch_commit(b, NULL, NULL);
		b = NULL;
	}
	ky_store_batch_abort(b);
	if (operator != NULL)
		ky_admitted_clear(&coa_admitted);
	ky_admission_free(operator);
	json_decref(coa_object);
	admissions_free(&cache);
	publication_clear(&pub);
	versions_clear(&versions);
	ky_store_collection_clear(&target);
	free(ids.ids);
	free(ids.ptr);
	return rc;
}

static int hold_key(void *ctx, const char *key)
{
	ky_policy_keys *k = ctx;
	if (k->n == KY_STORE_ACCESS_KEYS_MAX)
		return ky_error_set(KY_ETOOBIG, "more than %d audiences", KY_STORE_ACCESS_KEYS_MAX);
	snprintf(k->key[k->n], sizeof(k->key[k->n]), "%s", key);
	k->ptr[k->n] = k->key[k->n];
	k->n++;
	return 0;
}

/* Now as a STIX timestamp with milliseconds, the precision of the hub's other timestamps. */
static void stix_now(char out[32])
{
	ky_clock_format(ky_clock_now_us(), out);
	memcpy(out + 23, "Z", 2);
}

/* Revocation: the hub's course-of-action gets a revoked version, in the change's transaction. */
static int revoke(ky_store *s, const ky_store_report *r, ky_store_transition *t)
{
	if (r->course_of_action[0] == '\0')
		return ky_store_report_transition(s, t);
	const char *ids[] = {r->course_of_action};
	versions_read versions = {0};
	ky_store_collection target = {0};
	ky_store_batch *b = NULL;
	json_t *coa = NULL;
	char *raw = NULL;
	int rc = latest_versions(s, KY_STORE_COUNTERMEASURES, ids, 1, &versions);
	if (rc == KY_OK && versions.n == 1)
		coa = json_loadb(versions.v[0].raw, versions.v[0].raw_len, 0, NULL);
	if (rc == KY_OK && coa == NULL)
		rc = ky_error_set(KY_ERROR, "the course-of-action %s of report %s is not in the countermeasures",
				  r->course_of_action, r->id);
	char now[32];
	stix_now(now);
	ky_policy_keys held;
	held.n = 0;
	if (rc == KY_OK) {
		json_object_set_new(coa, "revoked", json_true());
		json_object_set_new(coa, "modified", json_string(now));
		raw = json_dumps(coa, JSON_COMPACT);
		rc = raw ? ky_store_collection_find(s, KY_STORE_COUNTERMEASURES, &target) : ky_error_set(KY_ENOMEM, "out of memory");
	}
	/* The revoked version reaches who the version it revokes reached. */
	if (rc == KY_OK)
		rc = ky_store_object_keys(s, r->course_of_action, hold_key, &held);
	if (rc == KY_OK)
		rc = ky_store_batch_begin(s, target.id, &b);
	if (rc == KY_OK) {
		ky_store_access access = {.provider = versions.v[0].provider, .any_object = true, .tlp = versions.v[0].tlp,
					  .keys = held.ptr, .nkeys = held.n};
		int index = ky_store_batch_add(b, raw, strlen(raw), coa, &access);
		rc = index < 0 ? index : KY_OK;
	}
	if (rc == KY_OK)
		rc = ky_store_batch_transition(b, t);
	if (rc == KY_OK) {
		rc = ky_store_batch_commit(b, NULL, NULL);
		b = NULL;
	}
	ky_store_batch_abort(b);
	free(raw);
	json_decref(coa);
	versions_clear(&versions);
	ky_store_collection_clear(&target);
	return rc;
}

int ky_workflow_transition(ky_store *s, const ky_config *config, const ky_workflow_caller *c, const char *id,
			   ky_report_state to, const char *reason, const ky_workflow_publish *publish, ky_store_report *out)
{
	ky_store_report r;
	int rc = ky_council_check_reason(reason);
	if (rc == KY_OK)
		rc = ky_workflow_report(s, c, id, &r);
	if (rc != KY_OK)
		return rc;
	size_t m = 0;
	while (m < NMOVES && !(moves[m].from == r.state && moves[m].to == to))
		m++;
	if (m == NMOVES)
		return refuse_move(&r, to);
	bool writer = c->viewer == NULL || c->viewer->who.role != KY_ROLE_READER;
	bool may = writer && (secretariat(c) || (moves[m].provider_may && r.provider == caller_member(c)));
	if (!may)
		return ky_error_set(KY_EDENIED, "report %s may be %s by %s only", id, moves[m].verb,
				    moves[m].provider_may ? "its provider's analysts and admins or the secretariat"
							  : "the secretariat's analysts and admins");
	static const ky_workflow_publish nothing = {0};
	if (publish == NULL)
		publish = &nothing;
	if ((publish->coa != NULL || publish->ninclude > 0) && to != KY_REPORT_COUNTERMEASURE)
		return ky_error_set(KY_EINVALID, "a course-of-action or feedback is published only with a promotion");
	ky_store_actor actor = {.user_id = c->viewer ? c->viewer->who.user_id : 0, .member_id = caller_member(c),
				.via = c->via, .origin = c->origin};
	ky_store_transition t = {.report = id, .from = r.state, .to = to, .actor = &actor, .reason = reason};
	if (to == KY_REPORT_COUNTERMEASURE)
		rc = promote(s, config, &r, &t, publish);
	else if (to == KY_REPORT_REVOKED)
		rc = revoke(s, &r, &t);
	else
		rc = ky_store_report_transition(s, &t);
	if (rc == KY_OK && out != NULL)
		rc = ky_store_report_get(s, id, out);
	return rc;
}

typedef struct proposed {
	ky_store_rule rules[64];
	size_t nrules;
	id_list ids;
} proposed;

static int keep_rule(void *ctx, const ky_store_rule *r)
{
	proposed *p = ctx;
	if (r->promotes && p->nrules < sizeof(p->rules) / sizeof(p->rules[0]))
		p->rules[p->nrules++] = *r;
	return 0;
}

static int keep_proposed(void *ctx, const ky_store_report *r)
{
	proposed *p = ctx;
	for (size_t i = 0; i < p->nrules; i++)
		if (p->rules[i].id == r->rule)
			return add_id(&p->ids, r->id);
	return 0;
}

int ky_workflow_promote_proposed(ky_store *s, const ky_config *config, size_t *promoted)
{
	proposed *p = calloc(1, sizeof(*p));
	if (promoted != NULL)
		*promoted = 0;
	if (p == NULL)
		return ky_error_set(KY_ENOMEM, "out of memory");
	int rc = ky_store_rule_list(s, keep_rule, p);
	ky_store_report_filter f = {.state = KY_REPORT_UNCONFIRMED, .proposed = true};
	if (rc == KY_OK && p->nrules > 0)
		rc = ky_store_report_list(s, &f, keep_proposed, p, NULL);
	for (size_t i = 0; rc == KY_OK && i < p->ids.n; i++) {
		ky_store_report r;
		char reason[KY_STORE_NAME_MAX + 64];
		rc = ky_store_report_get(s, p->ids.ids[i], &r);
		if (rc != KY_OK)
			break;
		snprintf(reason, sizeof(reason), "rule %s promotes by itself", r.rule_name);
		ky_workflow_caller operator = {.via = "rule"};
		rc = ky_workflow_transition(s, config, &operator, r.id, KY_REPORT_COUNTERMEASURE, reason, NULL, NULL);
		/* Another process promoted it first. */
		if (rc == KY_ECONFLICT)
			rc = KY_OK;
		else if (rc == KY_OK && promoted != NULL)
			(*promoted)++;
	}
	free(p->ids.ids);
	free(p);
	return rc;
}

/* --- submission --------------------------------------------------------------------------------- */

/* The one object of a feedback's submission: stored, or why not. */
typedef struct feedback_outcome {
	bool stored;
	char problem[512];
} feedback_outcome;

static void keep_outcome(void *ctx, const ky_ingest_report *r)
{
	feedback_outcome *o = ctx;
	if (r->outcome != KY_INGEST_REFUSED) {
		o->stored = true;
		return;
	}
	snprintf(o->problem, sizeof(o->problem), "%s", r->nproblems ? r->problems[0] : "refused");
}

typedef struct audience_pick {
	const ky_viewer *viewer;
	const char *wanted;          /* "sector:water" */
	char id[KY_AUDIENCE_ID_MAX];
} audience_pick;

static int pick_audience(void *ctx, const ky_audience_entry *e)
{
	audience_pick *p = ctx;
	char name[KY_STORE_NAME_MAX + 16];
	bool bare = e->audience.kind == KY_AUDIENCE_COMMUNITY || e->audience.kind == KY_AUDIENCE_CONTRIBUTORS;
	snprintf(name, sizeof(name), bare ? "%s" : "%s:%s", e->kind, e->name);
	if (strcmp(name, p->wanted) != 0)
		return 0;
	/* A group is its members' and the secretariat's to address (as GET /api/v1/audiences). */
	if (e->audience.kind == KY_AUDIENCE_GROUP && p->viewer->who.tier != KY_TIER_SECRETARIAT) {
		bool in = false;
		for (size_t i = 0; i < p->viewer->ngroups && !in; i++)
			in = p->viewer->groups[i] == e->audience.id;
		if (!in)
			return 0;
	}
	snprintf(p->id, sizeof(p->id), "%s", e->marking_id);
	return 1;
}

static int add_marking(json_t *object, const char *id)
{
	json_t *refs = json_object_get(object, "object_marking_refs");
	if (refs == NULL) {
		refs = json_array();
		if (refs == NULL || json_object_set_new(object, "object_marking_refs", refs) != 0)
			return ky_error_set(KY_ENOMEM, "out of memory");
	}
	if (!json_is_array(refs))
		return KY_OK;
	size_t i;
	json_t *ref;
	json_array_foreach(refs, i, ref)
		if (json_is_string(ref) && strcmp(json_string_value(ref), id) == 0)
			return KY_OK;
	return json_array_append_new(refs, json_string(id)) == 0 ? KY_OK : ky_error_set(KY_ENOMEM, "out of memory");
}

int ky_workflow_submit(ky_store *s, const ky_config *config, const ky_workflow_caller *c, json_t *objects,
		       const char *const *audiences, size_t naudiences, bool named, ky_ingest_report_fn *report,
		       void *ctx, ky_ingest_totals *totals)
{
	if (c->viewer == NULL || c->viewer->who.role == KY_ROLE_READER)
		return ky_error_set(KY_EDENIED, "submitting to the exchange needs the role analyst or admin");
	if (!json_is_array(objects) || json_array_size(objects) == 0)
		return ky_error_set(KY_EINVALID, "\"objects\" must be a list of one or more STIX objects");
	int rc = KY_OK;
	for (size_t k = 0; rc == KY_OK && k < naudiences + named; k++) {
		audience_pick p = {.viewer = c->viewer, .wanted = k < naudiences ? audiences[k] : NULL};
		if (k < naudiences) {
			rc = ky_policy_audience_list(s, pick_audience, &p);
			if (rc == KY_OK && p.id[0] == '\0')
				rc = ky_error_set(KY_EINVALID,
						  "the audience \"%.80s\" is none this hub offers you: community, contributors,"
						  " sector:NAME, group:NAME (a group you are in) or member:NAME (GET /api/v1/audiences)",
						  audiences[k]);
		} else {
			snprintf(p.id, sizeof(p.id), "%s", KY_NAMED_MARKING);
		}
		size_t i;
		json_t *object;
		json_array_foreach(objects, i, object)
			if (rc == KY_OK && json_is_object(object))
				rc = add_marking(object, p.id);
	}
	json_t *envelope = rc == KY_OK ? json_pack("{s:O}", "objects", objects) : NULL;
	char *text = envelope ? json_dumps(envelope, JSON_COMPACT) : NULL;
	json_decref(envelope);
	if (rc == KY_OK && text == NULL)
		rc = ky_error_set(KY_ENOMEM, "out of memory");
	ky_store_collection exchange = {0};
	if (rc == KY_OK)
		rc = ky_store_collection_find(s, KY_STORE_EXCHANGE, &exchange);
	ky_admission *admission = NULL;
	const ky_auth_identity *who = &c->viewer->who;
	ky_admission_options o = {.provider = who->member_id, .provider_tier = who->tier,
				  .default_tlp = ky_policy_default_tlp(config), .exchange = true};
	if (rc == KY_OK)
		rc = ky_admission_new(s, &o, &admission);
	FILE *in = rc == KY_OK ? fmemopen(text, strlen(text), "r") : NULL;
	if (rc == KY_OK && in == NULL)
		rc = ky_error_set(KY_ENOMEM, "out of memory");
	if (rc == KY_OK) {
		ky_store_actor actor = {.user_id = who->user_id, .member_id = who->member_id, .via = c->via,
					.origin = c->origin};
		ky_store_scope scope = ky_policy_scope(c->viewer);
		scope.reads = NULL;
		ky_ingest_options options = {.collection_id = exchange.id, .admission = admission, .source_name = c->via,
					     .taxii_envelope = true, .actor = &actor, .submitter = &scope};
		if (config != NULL) {
			options.batch_objects = config->batch_objects;
			options.batch_bytes = config->batch_bytes;
			options.max_object = config->max_object_size;
		}
		rc = ky_ingest_stream(s, in, &options, report, NULL, ctx, totals);
	}
	if (in != NULL)
		fclose(in);
	ky_admission_free(admission);
	ky_store_collection_clear(&exchange);
	free(text);
	return rc == KY_OK ? ky_workflow_promote_proposed(s, config, NULL) : rc;
}

int ky_workflow_give_feedback(ky_store *s, const ky_config *config, const ky_workflow_caller *c, const char *id,
			      const ky_workflow_feedback *f, char feedback_id[KY_STORE_STIX_ID_MAX])
{
	int kinds = (f->opinion != NULL) + f->sighting + (f->note != NULL);
	if (kinds != 1)
		return ky_error_set(KY_EINVALID, "give one feedback: an opinion, a sighting or a note");
	int value;
	if (f->opinion != NULL && !ky_workflow_opinion_parse(f->opinion, &value))
		return ky_error_set(KY_EINVALID,
				    "the opinion \"%.40s\" is none of strongly-disagree, disagree, neutral, agree, strongly-agree",
				    f->opinion);
	if (f->count < 0 || f->count > 999999999)
		return ky_error_set(KY_EINVALID, "a sighting's count is 0 to 999999999");
	ky_store_report r;
	ky_store_member m;
	int rc = ky_workflow_report(s, c, id, &r);
	if (rc == KY_OK)
		rc = c->viewer ? ky_store_member_by_id(s, c->viewer->who.member_id, &m)
			       : ky_error_set(KY_EDENIED, "feedback is a member's: give it through the hub's API");
	if (rc != KY_OK)
		return rc;
	const char *type = f->opinion ? "opinion" : f->sighting ? "sighting" : "note";
	char uuid[37], now[32];
	if (ky_uuid4(uuid) != KY_OK)
		return ky_error_set(KY_ERROR, "no randomness for a feedback's id");
	stix_now(now);
	snprintf(feedback_id, KY_STORE_STIX_ID_MAX, "%s--%s", type, uuid);
	json_t *o = json_pack("{s:s,s:s,s:s,s:s,s:s,s:s}", "type", type, "spec_version", "2.1", "id", feedback_id,
			      "created", now, "modified", now, "created_by_ref", m.identity_id);
	if (o != NULL && f->opinion) {
		json_object_set_new(o, "opinion", json_string(f->opinion));
		if (f->reason)
			json_object_set_new(o, "explanation", json_string(f->reason));
		json_object_set_new(o, "object_refs", json_pack("[s]", r.id));
	} else if (o != NULL && f->sighting) {
		json_object_set_new(o, "sighting_of_ref", json_string(r.id));
		if (f->count > 0)
			json_object_set_new(o, "count", json_integer(f->count));
		if (f->first_seen)
			json_object_set_new(o, "first_seen", json_string(f->first_seen));
		if (f->last_seen)
			json_object_set_new(o, "last_seen", json_string(f->last_seen));
	} else if (o != NULL) {
		json_object_set_new(o, "content", json_string(f->note));
		json_object_set_new(o, "object_refs", json_pack("[s]", r.id));
	}
	json_t *objects = o ? json_pack("[o]", o) : NULL;
	if (objects == NULL)
		return ky_error_set(KY_ENOMEM, "out of memory");
	feedback_outcome outcome = {0};
	ky_ingest_totals totals;
	rc = ky_workflow_submit(s, config, c, objects, NULL, 0, f->named, keep_outcome, &outcome, &totals);
	json_decref(objects);
	if (rc == KY_OK && !outcome.stored)
		rc = ky_error_set(KY_EINVALID, "the feedback was refused: %s", outcome.problem);
	return rc;
}
