/*
 * store_reports: the council workflow's records (store_reports.h), in SQL both backends run,
 * through the statement interface. Reports, their objects and feedback are written by the
 * batch that stores the objects (ky_store_workflow_apply_tx, called from its commit); state
 * changes and rules are writes of their own, each one transaction recorded with its change,
 * which a retry after a lost connection finds (store_council.c does the same).
 *
 * Lists are read whole before the caller's callback runs, as the council's are.
 */
#include "store/store_reports.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/store_backend.h"
#include "store/store_events.h"
#include "util/ky_clock.h"
#include "util/ky_error.h"

static const char *const state_names[KY_REPORT_STATES] = {"unconfirmed", "countermeasure", "refuted", "withdrawn",
							   "revoked"};

const char *ky_report_state_name(ky_report_state state)
{
	return (unsigned)state < KY_REPORT_STATES ? state_names[state] : "?";
}

static const char *const opinion_names[] = {"strongly-disagree", "disagree", "neutral", "agree", "strongly-agree"};

const char *ky_workflow_opinion_name(int v)
{
	return v >= -2 && v <= 2 ? opinion_names[v + 2] : NULL;
}

bool ky_workflow_opinion_parse(const char *name, int *out)
{
	for (int i = 0; name != NULL && i < 5; i++)
		if (strcmp(name, opinion_names[i]) == 0) {
			*out = i - 2;
			return true;
		}
	return false;
}

bool ky_report_state_parse(const char *name, ky_report_state *out)
{
	for (int i = 0; name != NULL && i < KY_REPORT_STATES; i++)
		if (strcmp(name, state_names[i]) == 0) {
			*out = (ky_report_state)i;
			return true;
		}
	return false;
}

int ky_store_workflow_ensure(ky_store *s)
{
	static const struct {
		const char *name, *title, *description;
	} made[] = {
		{KY_STORE_EXCHANGE, "Exchange",
		 "Unconfirmed reports and the contributors' feedback on them: contributors read and write, general"
		 " members write and read their own"},
		{KY_STORE_COUNTERMEASURES, "Countermeasures",
		 "Countermeasure information: the reports the secretariat promoted, for every member of their audience"},
	};
	for (size_t i = 0; i < sizeof(made) / sizeof(made[0]); i++) {
		ky_store_collection c = {0};
		int rc = ky_store_collection_find(s, made[i].name, &c);
		ky_store_collection_clear(&c);
		if (rc == KY_ENOTFOUND)
			rc = ky_store_collection_create(s, NULL, made[i].name, made[i].title, made[i].description, NULL);
		/* Another process made it meanwhile. */
		if (rc != KY_OK && rc != KY_EEXISTS)
			return rc;
	}
	return KY_OK;
}

/* A LIMIT that limits nothing, in both dialects (PostgreSQL refuses SQLite's -1). */
#define NO_LIMIT ((int64_t)1 << 62)

/* --- cells ---------------------------------------------------------------------------------- */

typedef struct text_out {
	char *text;
	size_t size;
	bool found;
} text_out;

static int text_cell(void *ctx, const ky_store_cell *c, int n)
{
	(void)n;
	text_out *t = ctx;
	snprintf(t->text, t->size, "%s", c[0].text);
	t->found = true;
	return 0;
}

#define REPORT_COLUMNS                                                                           \
	"SELECT r.id, r.provider_id, r.state, r.prior, r.confidence, r.agree, r.disagree,"        \
	" COALESCE(r.rule_id, 0), COALESCE(p.name, ''), COALESCE(r.course_of_action, ''),"        \
	" r.created_us, r.changed_us, r.root_vid FROM reports r LEFT JOIN promotion_rules p ON p.id = r.rule_id"

static void report_of_cells(ky_store_report *r, const ky_store_cell *c)
{
	memset(r, 0, sizeof(*r));
	snprintf(r->id, sizeof(r->id), "%s", c[0].text);
	r->provider = ky_store_cell_int(&c[1]);
	ky_report_state_parse(c[2].text, &r->state);
	r->prior = (int)ky_store_cell_int(&c[3]);
	r->confidence = (int)ky_store_cell_int(&c[4]);
	r->agree = (int)ky_store_cell_int(&c[5]);
	r->disagree = (int)ky_store_cell_int(&c[6]);
	r->rule = ky_store_cell_int(&c[7]);
	snprintf(r->rule_name, sizeof(r->rule_name), "%s", c[8].text);
	snprintf(r->course_of_action, sizeof(r->course_of_action), "%s", c[9].text);
	r->created_us = ky_store_cell_int(&c[10]);
	r->changed_us = ky_store_cell_int(&c[11]);
	r->root_vid = (uint64_t)ky_store_cell_int(&c[12]);
}

typedef struct report_out {
	ky_store_report *report;
	bool found;
} report_out;

static int report_cell(void *ctx, const ky_store_cell *c, int n)
{
	(void)n;
	report_out *o = ctx;
	report_of_cells(o->report, c);
	o->found = true;
	return 0;
}

static int report_read(ky_store *s, ky_store_tx *tx, const char *id, ky_store_report *out, bool *found)
{
	report_out o = {out, false};
	ky_store_value v[] = {ky_sv_text(id)};
	int rc = ky_store_run(s, tx, REPORT_COLUMNS " WHERE r.id = $1", v, 1, report_cell, &o, NULL);
	*found = o.found;
	return rc;
}

/* The report covering object `stix_id` into report (KY_STORE_STIX_ID_MAX bytes); "" for none. */
static int report_id_of(ky_store *s, ky_store_tx *tx, const char *stix_id, char *report)
{
	text_out t = {report, KY_STORE_STIX_ID_MAX, false};
	report[0] = '\0';
	ky_store_value v[] = {ky_sv_text(stix_id)};
	return ky_store_run(s, tx, "SELECT report_id FROM report_objects WHERE stix_id = $1", v, 1, text_cell, &t, NULL);
}

/* --- the confidence and the rules ------------------------------------------------------------ */

/* Gives each unconfirmed report (only `id`'s, unless NULL) the first rule it meets, or none. */
static int propose(ky_store *s, ky_store_tx *tx, const char *id)
{
	ky_store_value v[] = {ky_sv_text(id)};
	return ky_store_run(s, tx,
			    "UPDATE reports SET rule_id = (SELECT p.id FROM promotion_rules p WHERE p.min_agree <= reports.agree"
			    " AND (p.max_disagree < 0 OR p.max_disagree >= reports.disagree)"
			    " AND p.min_confidence <= reports.confidence ORDER BY p.id LIMIT 1)"
			    " WHERE state = 'unconfirmed' AND (CAST($1 AS text) IS NULL OR id = $1)",
			    v, 1, NULL, NULL, NULL);
}

/* Each member's latest feedback, as the aggregate counts it (docs/council.md). */
typedef struct tally {
	int64_t member;          /* the member being read; 0: none yet */
	int value;               /* its latest opinion's value, or -1 */
	bool sighting;
	int64_t sum, counted;
	int agree, disagree;
} tally;

/* The value an opinion counts for: strongly-disagree 0 ... strongly-agree 100. */
static int opinion_value(int opinion)
{
	return 50 + 25 * opinion;
}

static void tally_close(tally *t)
{
	if (t->member == 0)
		return;
	int value = t->value >= 0 ? t->value : t->sighting ? opinion_value(1) : -1;
	if (value >= 0) {
		t->sum += value;
		t->counted++;
		t->agree += value > 50;
		t->disagree += value < 50;
	}
	t->member = 0;
}

static int tally_row(void *ctx, const ky_store_cell *c, int n)
{
	(void)n;
	tally *t = ctx;
	int64_t member = ky_store_cell_int(&c[0]);
	if (member != t->member) {
		tally_close(t);
		*t = (tally){.member = member, .value = -1, .sum = t->sum, .counted = t->counted, .agree = t->agree,
			     .disagree = t->disagree};
	}
	if (!c[1].null)
		t->value = opinion_value((int)ky_store_cell_int(&c[1]));
	t->sighting = t->sighting || strcmp(c[2].text, "sighting") == 0;
	return 0;
}

/* The aggregated confidence (docs/council.md): the prior weighs as PRIOR_WEIGHT members do,
 * each other member once, by its latest opinion; rounded half up. */
#define PRIOR_WEIGHT 2

static int recompute(ky_store *s, ky_store_tx *tx, const char *id)
{
	ky_store_report r;
	bool found;
	int rc = report_read(s, tx, id, &r, &found);
	if (rc != KY_OK || !found)
		return rc;
	tally t = {0};
	ky_store_value v[] = {ky_sv_text(id), ky_sv_int(r.provider)};
	rc = ky_store_run(s, tx,
			  "SELECT member_id, opinion, type FROM feedback WHERE report_id = $1 AND member_id <> $2"
			  " ORDER BY member_id, vid",
			  v, 2, tally_row, &t, NULL);
	tally_close(&t);
	int64_t weight = PRIOR_WEIGHT + t.counted;
	int64_t confidence = (PRIOR_WEIGHT * r.prior + t.sum + weight / 2) / weight;
	ky_store_value w[] = {ky_sv_text(id), ky_sv_int(confidence), ky_sv_int(t.agree), ky_sv_int(t.disagree),
			      ky_sv_int(ky_clock_now_us())};
	if (rc == KY_OK)
		rc = ky_store_run(s, tx,
				  "UPDATE reports SET confidence = $2, agree = $3, disagree = $4, changed_us = $5 WHERE id = $1", w,
				  5, NULL, NULL, NULL);
	return rc == KY_OK ? propose(s, tx, id) : rc;
}

int ky_store_notify_tx(ky_store *s, ky_store_tx *tx, int64_t member, const char *kind, const char *report,
		       const char *detail)
{
	ky_store_value v[] = {ky_sv_int(member), ky_sv_int(ky_clock_now_us()), ky_sv_text(kind), ky_sv_text(report),
			      ky_sv_text(detail)};
	int rc = ky_store_run(s, tx,
			      "INSERT INTO notifications (member_id, at_us, kind, report_id, detail) VALUES ($1, $2, $3, $4, $5)",
			      v, 5, NULL, NULL, NULL);
	/* The live stream's event for the member: feedback on its reports is an event of its
	 * own kind, every other notification a "notification". */
	json_t *note = json_pack("{s:s,s:s,s:o?}", "kind", kind, "report", report ? report : "", "detail",
				 detail ? json_loads(detail, 0, NULL) : NULL);
	char *text = note ? json_dumps(note, JSON_COMPACT) : NULL;
	json_decref(note);
	if (rc == KY_OK && text == NULL)
		rc = ky_error_set(KY_ENOMEM, "out of memory");
	ky_store_event_new e = {.kind = strcmp(kind, "feedback") == 0 ? "feedback" : "notification", .member = member,
				.stix_id = report && *report ? report : NULL, .detail = text};
	if (rc == KY_OK)
		rc = ky_store_event_tx(s, tx, &e);
	free(text);
	return rc;
}

/* --- what a batch of the exchange makes ------------------------------------------------------ */

typedef struct apply {
	ky_store *s;
	ky_store_tx *tx;
	const ky_store_item *items;
	size_t n;
	const ky_store_scope *submitter;
	uint64_t *vids;          /* each stored item's version; 0 for the others */
} apply;

static int64_t provider_of(const ky_store_item *it)
{
	return it->owner ? it->owner : it->provider;
}

static bool workflow_item(const apply *a, size_t i)
{
	return a->items[i].workflow != NULL && a->vids[i] != 0;
}

static int new_report(apply *a, size_t i)
{
	const ky_store_item *it = &a->items[i];
	int prior = it->workflow->confidence >= 0 ? it->workflow->confidence : 50;
	int64_t now = ky_clock_now_us();
	ky_store_value v[] = {ky_sv_text(it->id), ky_sv_int(provider_of(it)), ky_sv_int(prior),
			      ky_sv_int((int64_t)a->vids[i]), ky_sv_int(now)};
	int rc = ky_store_run(a->s, a->tx,
			      "INSERT INTO reports (id, provider_id, state, prior, confidence, agree, disagree, root_vid,"
			      " created_us, changed_us, state_us) VALUES ($1, $2, 'unconfirmed', $3, $3, 0, 0, $4, $5, $5, $5)",
			      v, 5, NULL, NULL, NULL);
	if (rc == KY_OK)
		rc = ky_store_run(a->s, a->tx, "INSERT INTO report_objects (stix_id, report_id) VALUES ($1, $1)", v, 1, NULL,
				  NULL, NULL);
	return rc == KY_OK ? propose(a->s, a->tx, it->id) : rc;
}

/* Ref r of report `report` (provided by `provider`) joins it: an object of this batch, or
 * a report of its own of the same provider that nobody has promoted or refuted yet, whose
 * feedback comes along. */
static int join(apply *a, const char *report, int64_t provider, const char *ref, bool *merged)
{
	char current[KY_STORE_STIX_ID_MAX];
	int rc = report_id_of(a->s, a->tx, ref, current);
	if (rc != KY_OK || strcmp(current, report) == 0)
		return rc;
	ky_store_value v[] = {ky_sv_text(ref), ky_sv_text(report)};
	if (current[0] == '\0') {
		for (size_t i = 0; i < a->n; i++)
			if (workflow_item(a, i) && provider_of(&a->items[i]) == provider && strcmp(a->items[i].id, ref) == 0)
				return ky_store_run(a->s, a->tx, "INSERT INTO report_objects (stix_id, report_id) VALUES ($1, $2)", v,
						    2, NULL, NULL, NULL);
		return KY_OK;
	}
	ky_store_report own;
	bool found;
	rc = report_read(a->s, a->tx, current, &own, &found);
	if (rc != KY_OK || !found || strcmp(current, ref) != 0 || own.provider != provider ||
	    own.state != KY_REPORT_UNCONFIRMED)
		return rc;
	rc = ky_store_run(a->s, a->tx, "UPDATE report_objects SET report_id = $2 WHERE report_id = $1", v, 2, NULL, NULL,
			  NULL);
	if (rc == KY_OK)
		rc = ky_store_run(a->s, a->tx, "UPDATE feedback SET report_id = $2 WHERE report_id = $1", v, 2, NULL, NULL,
				  NULL);
	if (rc == KY_OK)
		rc = ky_store_run(a->s, a->tx, "UPDATE notifications SET report_id = $2 WHERE report_id = $1", v, 2, NULL,
				  NULL, NULL);
	if (rc == KY_OK)
		rc = ky_store_run(a->s, a->tx, "DELETE FROM reports WHERE id = $1", v, 1, NULL, NULL, NULL);
	*merged = true;
	return rc;
}

static int apply_report(apply *a, size_t i)
{
	const ky_store_item *it = &a->items[i];
	ky_store_report r;
	bool found, merged = false;
	int rc = report_read(a->s, a->tx, it->id, &r, &found);
	if (rc == KY_OK && !found)
		rc = new_report(a, i);
	else if (rc == KY_OK) {
		ky_store_value v[] = {ky_sv_text(it->id), ky_sv_int((int64_t)a->vids[i])};
		rc = ky_store_run(a->s, a->tx, "UPDATE reports SET root_vid = $2 WHERE id = $1", v, 2, NULL, NULL, NULL);
	}
	for (size_t k = 0; rc == KY_OK && k < it->workflow->nrefs; k++)
		rc = join(a, it->id, provider_of(it), it->workflow->refs[k], &merged);
	return rc == KY_OK && merged ? recompute(a->s, a->tx, it->id) : rc;
}

/* Whether the submitter reads version vid: the decision's store form (decision.h). */
static int submitter_reads(apply *a, uint64_t vid, bool *reads)
{
	*reads = a->submitter->everything || a->submitter->keys == NULL;
	for (size_t k = 0; !*reads && k < a->submitter->nkeys; k++) {
		int64_t hit = 0;
		ky_store_value v[] = {ky_sv_int((int64_t)vid), ky_sv_text(a->submitter->keys[k])};
		int rc = ky_store_run(a->s, a->tx, "SELECT 1 FROM version_access WHERE vid = $1 AND key = $2", v, 2, ky_store_int_cell,
				      &hit, NULL);
		if (rc != KY_OK)
			return rc;
		*reads = hit != 0;
	}
	return KY_OK;
}

typedef struct keys_out {
	char (*keys)[KY_STORE_ACCESS_KEY_MAX + 1];
	const char **ptr;
	size_t n;
} keys_out;

static int key_cell(void *ctx, const ky_store_cell *c, int n)
{
	(void)n;
	keys_out *k = ctx;
	if (k->n == KY_STORE_ACCESS_KEYS_MAX)
		return ky_error_set(KY_ETOOBIG, "a report reaches more than %d audiences", KY_STORE_ACCESS_KEYS_MAX);
	snprintf(k->keys[k->n], KY_STORE_ACCESS_KEY_MAX + 1, "%s", c[0].text);
	k->ptr[k->n] = k->keys[k->n];
	k->n++;
	return 0;
}

/* Feedback takes its report's access: exactly the report's readers, and its giver. */
static int feedback_access(apply *a, size_t i, const ky_store_report *r)
{
	const ky_store_item *it = &a->items[i];
	char keys[KY_STORE_ACCESS_KEYS_MAX + 1][KY_STORE_ACCESS_KEY_MAX + 1];
	const char *ptr[KY_STORE_ACCESS_KEYS_MAX + 1];
	keys_out k = {keys, ptr, 0};
	int64_t tlp = 0;
	ky_store_value v[] = {ky_sv_int((int64_t)r->root_vid)};
	int rc = ky_store_run(a->s, a->tx, "SELECT key FROM version_access WHERE vid = $1 ORDER BY key", v, 1, key_cell, &k,
			      NULL);
	if (rc == KY_OK)
		rc = ky_store_run(a->s, a->tx, "SELECT COALESCE(tlp, 0) FROM versions WHERE vid = $1", v, 1, ky_store_int_cell, &tlp,
				  NULL);
	if (rc != KY_OK)
		return rc;
	char own[KY_STORE_ACCESS_KEY_MAX + 1];
	snprintf(own, sizeof(own), KY_STORE_MEMBER_KEY, (long long)provider_of(it));
	bool has = false;
	for (size_t j = 0; j < k.n && !has; j++)
		has = strcmp(keys[j], own) == 0;
	if (!has) {
		memcpy(keys[k.n], own, sizeof(own));
		ptr[k.n] = keys[k.n];
		k.n++;
	}
	ky_store_access access = {.provider = provider_of(it), .tlp = (int)tlp, .keys = ptr, .nkeys = k.n,
				  .parts = it->parts, .shared = it->shared};
	return ky_store_access_replace_tx(a->s, a->tx, a->vids[i], &access);
}


static int feedback(apply *a, size_t i, const ky_store_report *r)
{
	const ky_store_item *it = &a->items[i];
	int opinion = it->workflow->opinion;
	ky_store_value v[] = {ky_sv_int((int64_t)a->vids[i]), ky_sv_text(r->id), ky_sv_int(provider_of(it)),
			      ky_sv_text(it->type), ky_sv_text(it->id),
			      opinion == KY_WORKFLOW_NO_OPINION ? ky_sv_null() : ky_sv_int(opinion),
			      ky_sv_int(it->workflow->named), ky_sv_int(ky_clock_now_us())};
	int rc = ky_store_run(a->s, a->tx,
			      "INSERT INTO feedback (vid, report_id, member_id, type, stix_id, opinion, named, at_us)"
			      " VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
			      v, 8, NULL, NULL, NULL);
	if (rc == KY_OK)
		rc = feedback_access(a, i, r);
	if (rc == KY_OK)
		rc = recompute(a->s, a->tx, r->id);
	const char *name = ky_workflow_opinion_name(opinion);
	json_t *detail = json_pack("{s:s,s:s,s:o}", "feedback", it->id, "type", it->type, "opinion",
				   name ? json_string(name) : json_null());
	char *text = detail ? json_dumps(detail, JSON_COMPACT) : NULL;
	json_decref(detail);
	if (rc == KY_OK)
		rc = text ? ky_store_notify_tx(a->s, a->tx, r->provider, "feedback", r->id, text) : ky_error_set(KY_ENOMEM, "out of memory");
	free(text);
	return rc;
}

/* An object that is no report: feedback, a part of its provider's report, or a report of
 * its own. */
static int apply_object(apply *a, size_t i)
{
	const ky_store_item *it = &a->items[i];
	char current[KY_STORE_STIX_ID_MAX];
	int rc = report_id_of(a->s, a->tx, it->id, current);
	if (rc != KY_OK || current[0] != '\0')
		return rc;
	for (size_t k = 0; it->workflow->kind == KY_WORKFLOW_FEEDBACK && k < it->workflow->nrefs; k++) {
		char report[KY_STORE_STIX_ID_MAX];
		ky_store_report r;
		bool found = false, reads = false;
		rc = report_id_of(a->s, a->tx, it->workflow->refs[k], report);
		if (rc == KY_OK && report[0] != '\0')
			rc = report_read(a->s, a->tx, report, &r, &found);
		if (rc == KY_OK && found)
			rc = submitter_reads(a, r.root_vid, &reads);
		if (rc != KY_OK)
			return rc;
		if (!found || !reads)
			continue;
		/* The provider's own objects about its report are part of it while it is open. */
		if (r.provider == provider_of(it)) {
			if (r.state != KY_REPORT_UNCONFIRMED)
				continue;
			ky_store_value v[] = {ky_sv_text(it->id), ky_sv_text(r.id)};
			return ky_store_run(a->s, a->tx, "INSERT INTO report_objects (stix_id, report_id) VALUES ($1, $2)", v, 2,
					    NULL, NULL, NULL);
		}
		return feedback(a, i, &r);
	}
	return new_report(a, i);
}

static int vid_of_seq(void *ctx, const ky_store_cell *c, int n)
{
	(void)n;
	*(uint64_t *)ctx = (uint64_t)ky_store_cell_int(&c[0]);
	return 0;
}

static int transition_tx(ky_store *s, ky_store_tx *tx, const ky_store_transition *t, const char *token);

int ky_store_workflow_apply_tx(ky_store *s, ky_store_tx *tx, int64_t collection_id, const ky_store_item *items,
			       size_t n, const ky_store_scope *submitter, const ky_store_transition *transition)
{
	(void)collection_id;
	apply a = {s, tx, items, n, submitter, calloc(n + 1, sizeof(uint64_t))};
	if (a.vids == NULL)
		return ky_error_set(KY_ENOMEM, "out of memory");
	int rc = KY_OK;
	for (size_t i = 0; rc == KY_OK && i < n; i++) {
		if (items[i].workflow == NULL || items[i].status != KY_STORE_STORED)
			continue;
		ky_store_value v[] = {ky_sv_int((int64_t)items[i].seq)};
		rc = ky_store_run(s, tx, "SELECT vid FROM entries WHERE seq = $1", v, 1, vid_of_seq, &a.vids[i], NULL);
	}
	/* Reports first, so that the objects they name, anywhere in the batch, join them. */
	for (size_t i = 0; rc == KY_OK && i < n; i++)
		if (workflow_item(&a, i) && items[i].workflow->kind == KY_WORKFLOW_REPORT)
			rc = apply_report(&a, i);
	for (size_t i = 0; rc == KY_OK && i < n; i++)
		if (workflow_item(&a, i) && items[i].workflow->kind != KY_WORKFLOW_REPORT)
			rc = apply_object(&a, i);
	free(a.vids);
	char token[37];
	if (rc == KY_OK && transition != NULL && (rc = ky_store_change_token(token)) == KY_OK)
		rc = transition_tx(s, tx, transition, token);
	return rc;
}

/* --- state changes -------------------------------------------------------------------------- */

static const char *action_of(ky_report_state from, ky_report_state to)
{
	switch (to) {
	case KY_REPORT_COUNTERMEASURE:
		return "report.promote";
	case KY_REPORT_REFUTED:
		return "report.refute";
	case KY_REPORT_WITHDRAWN:
		return "report.withdraw";
	case KY_REPORT_REVOKED:
		return "report.revoke";
	case KY_REPORT_UNCONFIRMED:
		break;
	}
	return from == KY_REPORT_UNCONFIRMED ? "report.unconfirmed" : "report.reopen";
}

static int transition_tx(ky_store *s, ky_store_tx *tx, const ky_store_transition *t, const char *token)
{
	ky_store_report r;
	bool found;
	int rc = report_read(s, tx, t->report, &r, &found);
	if (rc != KY_OK)
		return rc;
	if (!found)
		return ky_error_set(KY_ENOTFOUND, "no report %s", t->report);
	int64_t now = ky_clock_now_us();
	ky_store_value v[] = {ky_sv_text(t->report), ky_sv_text(ky_report_state_name(t->to)),
			      ky_sv_text(ky_report_state_name(t->from)), ky_sv_int(now), ky_sv_text(t->course_of_action)};
	uint64_t changed = 0;
	rc = ky_store_run(s, tx,
			  "UPDATE reports SET state = $2, changed_us = $4, state_us = $4,"
			  " course_of_action = COALESCE($5, course_of_action),"
			  " rule_id = NULL WHERE id = $1 AND state = $3",
			  v, 5, NULL, NULL, &changed);
	if (rc == KY_OK && changed == 0)
		return ky_error_set(KY_ECONFLICT, "report %s is %s now, not %s: it changed meanwhile", t->report,
				    ky_report_state_name(r.state), ky_report_state_name(t->from));
	for (size_t i = 0; rc == KY_OK && i < t->nrepublish; i++)
		rc = ky_store_access_replace_tx(s, tx, t->republish[i].vid, t->republish[i].access);
	json_t *detail = json_pack("{s:s,s:s}", "from", ky_report_state_name(t->from), "to", ky_report_state_name(t->to));
	if (detail != NULL && t->course_of_action != NULL)
		json_object_set_new(detail, "course_of_action", json_string(t->course_of_action));
	char *text = detail ? json_dumps(detail, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
	json_decref(detail);
	if (rc == KY_OK && text == NULL)
		rc = ky_error_set(KY_ENOMEM, "out of memory");
	if (rc == KY_OK)
		rc = ky_store_change_record(s, tx, token, 1, t->actor, action_of(t->from, t->to), t->report, text, t->reason);
	/* Everyone concerned: the provider, and each member that gave feedback. */
	ky_store_value w[] = {ky_sv_text(t->report), ky_sv_int(now), ky_sv_text(text)};
	if (rc == KY_OK)
		rc = ky_store_run(s, tx,
				  "INSERT INTO notifications (member_id, at_us, kind, report_id, detail)"
				  " SELECT member_id, CAST($2 AS bigint), 'state', CAST($1 AS text), CAST($3 AS text) FROM (SELECT provider_id AS member_id FROM reports"
				  " WHERE id = $1 UNION SELECT member_id FROM feedback WHERE report_id = $1) concerned",
				  w, 3, NULL, NULL, NULL);
	if (rc == KY_OK && t->to == KY_REPORT_UNCONFIRMED)
		rc = propose(s, tx, t->report);
	/* The live stream's event, for every reader of the report (store_events.h). */
	ky_store_event_new e = {.kind = t->to == KY_REPORT_COUNTERMEASURE ? "promotion"
					: t->to == KY_REPORT_REVOKED  ? "revocation"
								      : "state",
				.vid = r.root_vid, .stix_id = t->report, .detail = text};
	if (rc == KY_OK)
		rc = ky_store_event_tx(s, tx, &e);
	free(text);
	return rc;
}

typedef struct transition_op {
	ky_store *s;
	const ky_store_transition *t;
	char token[37];
} transition_op;

static int transition_body(ky_store_tx *tx, void *ctx)
{
	transition_op *op = ctx;
	bool done;
	int rc = ky_store_change_committed(op->s, tx, op->token, &done);
	return rc != KY_OK || done ? rc : transition_tx(op->s, tx, op->t, op->token);
}

int ky_store_report_transition(ky_store *s, const ky_store_transition *t)
{
	transition_op op = {.s = s, .t = t};
	int rc = ky_store_change_token(op.token);
	return rc == KY_OK ? ky_store_transact(s, true, transition_body, &op) : rc;
}

/* --- reading -------------------------------------------------------------------------------- */

typedef struct report_op {
	ky_store *s;
	const char *id;
	ky_store_report *out;
	bool found;
} report_op;

static int report_get_body(ky_store_tx *tx, void *ctx)
{
	report_op *op = ctx;
	return report_read(op->s, tx, op->id, op->out, &op->found);
}

int ky_store_report_get(ky_store *s, const char *id, ky_store_report *out)
{
	report_op op = {s, id, out, false};
	int rc = ky_store_transact(s, false, report_get_body, &op);
	if (rc == KY_OK && !op.found)
		rc = ky_error_set(KY_ENOTFOUND, "no report %s", id);
	return rc;
}

static int report_of_body(ky_store_tx *tx, void *ctx)
{
	report_op *op = ctx;
	char report[KY_STORE_STIX_ID_MAX];
	int rc = report_id_of(op->s, tx, op->id, report);
	return rc == KY_OK && report[0] != '\0' ? report_read(op->s, tx, report, op->out, &op->found) : rc;
}

int ky_store_report_of(ky_store *s, const char *stix_id, ky_store_report *out)
{
	report_op op = {s, stix_id, out, false};
	int rc = ky_store_transact(s, false, report_of_body, &op);
	if (rc == KY_OK && !op.found)
		rc = ky_error_set(KY_ENOTFOUND, "no report covers %s", stix_id);
	return rc;
}

typedef struct report_rows {
	ky_store_report *rows;
	size_t n, cap;
} report_rows;

static int report_row(void *ctx, const ky_store_cell *c, int n)
{
	(void)n;
	report_rows *r = ctx;
	ky_store_report *row = ky_store_row_add(&r->rows, &r->n, &r->cap, sizeof(*r->rows));
	if (row == NULL)
		return KY_ENOMEM;
	report_of_cells(row, c);
	return 0;
}

typedef struct report_list_op {
	ky_store *s;
	const ky_store_report_filter *f;
	report_rows rows;
} report_list_op;

static int report_list_body(ky_store_tx *tx, void *ctx)
{
	report_list_op *op = ctx;
	op->rows.n = 0;
	const ky_store_report_filter *f = op->f;
	ky_store_value v[] = {ky_sv_text(f->state >= 0 ? ky_report_state_name((ky_report_state)f->state) : ""),
			      ky_sv_int(f->proposed), ky_sv_int(f->provider), ky_sv_text(f->after ? f->after : ""),
			      ky_sv_int(f->limit ? (int64_t)f->limit + 1 : NO_LIMIT)};
	return ky_store_run(op->s, tx,
			    REPORT_COLUMNS " WHERE ($1 = '' OR r.state = $1) AND ($2 = 0 OR (r.state = 'unconfirmed'"
			    " AND r.rule_id IS NOT NULL)) AND ($3 = 0 OR r.provider_id = $3) AND r.id > $4 ORDER BY r.id LIMIT $5",
			    v, 5, report_row, &op->rows, NULL);
}

int ky_store_report_list(ky_store *s, const ky_store_report_filter *f,
			 int (*fn)(void *ctx, const ky_store_report *r), void *ctx, bool *more)
{
	report_list_op op = {.s = s, .f = f};
	int rc = ky_store_transact(s, false, report_list_body, &op);
	size_t shown = rc != KY_OK ? 0 : f->limit && op.rows.n > f->limit ? f->limit : op.rows.n;
	if (more != NULL)
		*more = rc == KY_OK && shown < op.rows.n;
	for (size_t i = 0; i < shown && rc == KY_OK; i++) {
		int stop = fn(ctx, &op.rows.rows[i]);
		if (stop != 0)
			rc = stop < 0 ? stop : KY_OK;
		if (stop != 0)
			break;
	}
	free(op.rows.rows);
	return rc;
}

typedef struct string_rows {
	char (*rows)[KY_STORE_STIX_ID_MAX];
	size_t n, cap;
} string_rows;

static int string_row(void *ctx, const ky_store_cell *c, int n)
{
	(void)n;
	string_rows *r = ctx;
	char *row = ky_store_row_add(&r->rows, &r->n, &r->cap, sizeof(*r->rows));
	if (row == NULL)
		return KY_ENOMEM;
	snprintf(row, KY_STORE_STIX_ID_MAX, "%s", c[0].text);
	return 0;
}

typedef struct objects_op {
	ky_store *s;
	const char *id;
	string_rows rows;
} objects_op;

static int objects_body(ky_store_tx *tx, void *ctx)
{
	objects_op *op = ctx;
	op->rows.n = 0;
	ky_store_value v[] = {ky_sv_text(op->id)};
	return ky_store_run(op->s, tx,
			    "SELECT stix_id FROM report_objects WHERE report_id = $1 ORDER BY stix_id <> $1, stix_id", v, 1,
			    string_row, &op->rows, NULL);
}

int ky_store_report_objects(ky_store *s, const char *id, int (*fn)(void *ctx, const char *stix_id), void *ctx)
{
	objects_op op = {.s = s, .id = id};
	int rc = ky_store_transact(s, false, objects_body, &op);
	for (size_t i = 0; rc == KY_OK && i < op.rows.n; i++) {
		int stop = fn(ctx, op.rows.rows[i]);
		if (stop != 0) {
			rc = stop < 0 ? stop : KY_OK;
			break;
		}
	}
	free(op.rows.rows);
	return rc;
}

typedef struct feedback_row {
	ky_store_feedback f;
	char type[32];
	char stix_id[KY_STORE_STIX_ID_MAX];
} feedback_row;

typedef struct feedback_rows {
	feedback_row *rows;
	size_t n, cap;
} feedback_rows;

static int feedback_cell(void *ctx, const ky_store_cell *c, int n)
{
	(void)n;
	feedback_rows *r = ctx;
	feedback_row *row = ky_store_row_add(&r->rows, &r->n, &r->cap, sizeof(*r->rows));
	if (row == NULL)
		return KY_ENOMEM;
	row->f.vid = (uint64_t)ky_store_cell_int(&c[0]);
	row->f.member = ky_store_cell_int(&c[1]);
	snprintf(row->type, sizeof(row->type), "%s", c[2].text);
	snprintf(row->stix_id, sizeof(row->stix_id), "%s", c[3].text);
	row->f.opinion = c[4].null ? KY_WORKFLOW_NO_OPINION : (int)ky_store_cell_int(&c[4]);
	row->f.at_us = ky_store_cell_int(&c[5]);
	row->f.named = ky_store_cell_int(&c[6]) != 0;
	return 0;
}

typedef struct feedback_op {
	ky_store *s;
	const char *id;
	feedback_rows rows;
} feedback_op;

static int feedback_body(ky_store_tx *tx, void *ctx)
{
	feedback_op *op = ctx;
	op->rows.n = 0;
	ky_store_value v[] = {ky_sv_text(op->id)};
	return ky_store_run(op->s, tx,
			    "SELECT vid, member_id, type, stix_id, opinion, at_us, named FROM feedback WHERE report_id = $1 ORDER BY vid",
			    v, 1, feedback_cell, &op->rows, NULL);
}

int ky_store_report_feedback(ky_store *s, const char *id, int (*fn)(void *ctx, const ky_store_feedback *f),
			     void *ctx)
{
	feedback_op op = {.s = s, .id = id};
	int rc = ky_store_transact(s, false, feedback_body, &op);
	for (size_t i = 0; rc == KY_OK && i < op.rows.n; i++) {
		feedback_row *row = &op.rows.rows[i];
		row->f.type = row->type;
		row->f.stix_id = row->stix_id;
		int stop = fn(ctx, &row->f);
		if (stop != 0) {
			rc = stop < 0 ? stop : KY_OK;
			break;
		}
	}
	free(op.rows.rows);
	return rc;
}

/* --- rules ---------------------------------------------------------------------------------- */

#define RULE_COLUMNS "SELECT id, name, min_agree, max_disagree, min_confidence, promotes, created_us FROM promotion_rules"

typedef struct rule_rows {
	ky_store_rule *rows;
	size_t n, cap;
} rule_rows;

static int rule_cell(void *ctx, const ky_store_cell *c, int n)
{
	(void)n;
	rule_rows *r = ctx;
	ky_store_rule *row = ky_store_row_add(&r->rows, &r->n, &r->cap, sizeof(*r->rows));
	if (row == NULL)
		return KY_ENOMEM;
	row->id = ky_store_cell_int(&c[0]);
	snprintf(row->name, sizeof(row->name), "%s", c[1].text);
	row->min_agree = (int)ky_store_cell_int(&c[2]);
	row->max_disagree = (int)ky_store_cell_int(&c[3]);
	row->min_confidence = (int)ky_store_cell_int(&c[4]);
	row->promotes = ky_store_cell_int(&c[5]) != 0;
	row->created_us = ky_store_cell_int(&c[6]);
	return 0;
}

typedef struct rule_op {
	ky_store *s;
	const ky_store_rule *rule;
	const char *name;
	const ky_store_actor *actor;
	const char *reason;
	char token[37];
	rule_rows rows;
} rule_op;

static char *rule_detail(const ky_store_rule *r)
{
	json_t *d = json_pack("{s:i,s:i,s:i,s:b}", "min_agree", r->min_agree, "max_disagree", r->max_disagree,
			      "min_confidence", r->min_confidence, "promotes", r->promotes);
	char *text = d ? json_dumps(d, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
	json_decref(d);
	return text;
}

static int rule_add_body(ky_store_tx *tx, void *ctx)
{
	rule_op *op = ctx;
	op->rows.n = 0;
	bool done;
	int rc = ky_store_change_committed(op->s, tx, op->token, &done);
	if (rc == KY_OK && !done) {
		const ky_store_rule *r = op->rule;
		ky_store_value v[] = {ky_sv_text(r->name), ky_sv_int(r->min_agree), ky_sv_int(r->max_disagree),
				      ky_sv_int(r->min_confidence), ky_sv_int(r->promotes), ky_sv_int(ky_clock_now_us())};
		rc = ky_store_run(op->s, tx,
				  "INSERT INTO promotion_rules (name, min_agree, max_disagree, min_confidence, promotes, created_us)"
				  " VALUES ($1, $2, $3, $4, $5, $6)",
				  v, 6, NULL, NULL, NULL);
		if (rc == KY_EEXISTS)
			rc = ky_error_set(KY_EEXISTS, "a rule named \"%s\" exists already", r->name);
		char *detail = rc == KY_OK ? rule_detail(r) : NULL;
		if (rc == KY_OK && detail == NULL)
			rc = ky_error_set(KY_ENOMEM, "out of memory");
		if (rc == KY_OK)
			rc = ky_store_change_record(op->s, tx, op->token, 1, op->actor, "rule.add", r->name, detail, op->reason);
		free(detail);
		if (rc == KY_OK)
			rc = propose(op->s, tx, NULL);
	}
	ky_store_value n[] = {ky_sv_text(op->rule->name)};
	return rc == KY_OK ? ky_store_run(op->s, tx, RULE_COLUMNS " WHERE name = $1", n, 1, rule_cell, &op->rows, NULL) : rc;
}

int ky_store_rule_add(ky_store *s, const ky_store_rule *r, const ky_store_actor *actor, const char *reason,
		      ky_store_rule *out)
{
	rule_op op = {.s = s, .rule = r, .actor = actor, .reason = reason};
	int rc = ky_store_change_token(op.token);
	if (rc == KY_OK)
		rc = ky_store_transact(s, true, rule_add_body, &op);
	if (rc == KY_OK && out != NULL && op.rows.n == 1)
		*out = op.rows.rows[0];
	free(op.rows.rows);
	return rc;
}

static int rule_list_body(ky_store_tx *tx, void *ctx)
{
	rule_op *op = ctx;
	op->rows.n = 0;
	return ky_store_run(op->s, tx, RULE_COLUMNS " ORDER BY id", NULL, 0, rule_cell, &op->rows, NULL);
}

int ky_store_rule_list(ky_store *s, int (*fn)(void *ctx, const ky_store_rule *r), void *ctx)
{
	rule_op op = {.s = s};
	int rc = ky_store_transact(s, false, rule_list_body, &op);
	for (size_t i = 0; rc == KY_OK && i < op.rows.n; i++) {
		int stop = fn(ctx, &op.rows.rows[i]);
		if (stop != 0) {
			rc = stop < 0 ? stop : KY_OK;
			break;
		}
	}
	free(op.rows.rows);
	return rc;
}

static int rule_remove_body(ky_store_tx *tx, void *ctx)
{
	rule_op *op = ctx;
	bool done;
	int rc = ky_store_change_committed(op->s, tx, op->token, &done);
	if (rc != KY_OK || done)
		return rc;
	uint64_t changed = 0;
	ky_store_value v[] = {ky_sv_text(op->name)};
	rc = ky_store_run(op->s, tx,
			  "UPDATE reports SET rule_id = NULL WHERE rule_id IN (SELECT id FROM promotion_rules WHERE name = $1)", v,
			  1, NULL, NULL, NULL);
	if (rc == KY_OK)
		rc = ky_store_run(op->s, tx, "DELETE FROM promotion_rules WHERE name = $1", v, 1, NULL, NULL, &changed);
	if (rc == KY_OK && changed == 0)
		return ky_error_set(KY_ENOTFOUND, "no rule named \"%s\"", op->name);
	if (rc == KY_OK)
		rc = ky_store_change_record(op->s, tx, op->token, 1, op->actor, "rule.remove", op->name, NULL, op->reason);
	return rc == KY_OK ? propose(op->s, tx, NULL) : rc;
}

int ky_store_rule_remove(ky_store *s, const char *name, const ky_store_actor *actor, const char *reason)
{
	rule_op op = {.s = s, .name = name, .actor = actor, .reason = reason};
	int rc = ky_store_change_token(op.token);
	return rc == KY_OK ? ky_store_transact(s, true, rule_remove_body, &op) : rc;
}

/* --- notifications -------------------------------------------------------------------------- */

typedef struct notification_row {
	ky_store_notification n;
	char kind[16];
	char report[KY_STORE_STIX_ID_MAX];
	char *detail;
} notification_row;

typedef struct notification_rows {
	notification_row *rows;
	size_t n, cap;
} notification_rows;

static int notification_cell(void *ctx, const ky_store_cell *c, int n)
{
	(void)n;
	notification_rows *r = ctx;
	notification_row *row = ky_store_row_add(&r->rows, &r->n, &r->cap, sizeof(*r->rows));
	if (row == NULL || (row->detail = strdup(c[4].text)) == NULL)
		return ky_error_set(KY_ENOMEM, "out of memory");
	row->n.id = ky_store_cell_int(&c[0]);
	row->n.at_us = ky_store_cell_int(&c[1]);
	snprintf(row->kind, sizeof(row->kind), "%s", c[2].text);
	snprintf(row->report, sizeof(row->report), "%s", c[3].text);
	return 0;
}

static void notification_rows_clear(notification_rows *r)
{
	for (size_t i = 0; i < r->n; i++)
		free(r->rows[i].detail);
	r->n = 0;
}

typedef struct notification_op {
	ky_store *s;
	int64_t member, after;
	size_t limit;
	notification_rows rows;
} notification_op;

static int notification_body(ky_store_tx *tx, void *ctx)
{
	notification_op *op = ctx;
	notification_rows_clear(&op->rows);
	ky_store_value v[] = {ky_sv_int(op->member), ky_sv_int(op->after),
			      ky_sv_int(op->limit ? (int64_t)op->limit + 1 : NO_LIMIT)};
	return ky_store_run(op->s, tx,
			    "SELECT id, at_us, kind, report_id, detail FROM notifications WHERE member_id = $1 AND id > $2"
			    " ORDER BY id LIMIT $3",
			    v, 3, notification_cell, &op->rows, NULL);
}

int ky_store_notification_list(ky_store *s, int64_t member, int64_t after, size_t limit,
			       int (*fn)(void *ctx, const ky_store_notification *n), void *ctx, bool *more)
{
	notification_op op = {.s = s, .member = member, .after = after, .limit = limit};
	int rc = ky_store_transact(s, false, notification_body, &op);
	size_t shown = rc != KY_OK ? 0 : limit && op.rows.n > limit ? limit : op.rows.n;
	if (more != NULL)
		*more = rc == KY_OK && shown < op.rows.n;
	for (size_t i = 0; rc == KY_OK && i < shown; i++) {
		notification_row *row = &op.rows.rows[i];
		row->n.kind = row->kind;
		row->n.report = row->report;
		row->n.detail = row->detail;
		int stop = fn(ctx, &row->n);
		if (stop != 0) {
			rc = stop < 0 ? stop : KY_OK;
			break;
		}
	}
	notification_rows_clear(&op.rows);
	free(op.rows.rows);
	return rc;
}
