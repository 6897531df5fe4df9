/*
 * workflow: the council's workflow (docs/council.md), written once for the operator's
 * commands (kyoyu report ..., --db) and the native API (/api/v1/reports ...). Members submit
 * to the exchange and the store makes reports of what they submit (store_reports.h); this
 * module decides what may happen to a report next, and who may see and do it:
 *
 *   unconfirmed  -> countermeasure (promote: the secretariat, or a rule allowed to)
 *                -> refuted        (the secretariat)
 *                -> withdrawn      (its provider, or the secretariat)
 *   refuted      -> unconfirmed    (reopen: the secretariat)
 *   countermeasure -> revoked      (the secretariat)
 *   withdrawn, revoked: final.
 *
 * Every other transition is refused (KY_ECONFLICT) naming the state and what may follow it.
 * A report the caller may not read does not exist for it (KY_ENOTFOUND): a member reads a
 * report when it reads its STIX report (or object) on some path, which the policy decides
 * (the state rule keeps unconfirmed reports to contributors). A report it sees but may not
 * change is KY_EDENIED.
 *
 * Promotion publishes: the report's objects, and the course-of-action the secretariat writes
 * (optional), are added to the countermeasures collection with new date_added values, and
 * their access becomes what their markings give outside the exchange (readable by the general
 * members of their audience), provider pseudonymised as everywhere, in the transaction that
 * changes the state. Revocation adds a revoked version of the hub's course-of-action.
 *
 * Thread safety: as the store connection given.
 */
#ifndef KY_COUNCIL_WORKFLOW_H
#define KY_COUNCIL_WORKFLOW_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include "config/config.h"
#include "ingest/ingest.h"
#include "policy/policy.h"
#include "store/store_reports.h"

/* Who calls: the operator (viewer NULL), or a request's viewer; via and origin for the audit
 * log. */
typedef struct ky_workflow_caller {
	const ky_viewer *viewer;
	const char *via;
	const char *origin;
} ky_workflow_caller;

/* The report `id` as the caller may see it into *out; KY_ENOTFOUND for one it may not read. */
int ky_workflow_report(ky_store *s, const ky_workflow_caller *c, const char *id, ky_store_report *out);

/* Calls fn for each report of filter f the caller may read, by id, up to f->limit of them
 * (0: all); *more (may be NULL) says whether others follow. */
int ky_workflow_reports(ky_store *s, const ky_workflow_caller *c, const ky_store_report_filter *f,
			int (*fn)(void *ctx, const ky_store_report *r), void *ctx, bool *more);

/* A report as the native API answers and `--json` prints it (the OpenAPI document's Report):
 * a new reference, NULL with KY_ENOMEM. With `detail`, its objects, its feedback (each giver
 * as "member N" in the order they first gave feedback, the secretariat seeing their names)
 * and how many members other than its provider read it. */
json_t *ky_workflow_report_json(ky_store *s, const ky_workflow_caller *c, const ky_store_report *r, bool detail);

/* What a promotion publishes besides the report's objects. */
typedef struct ky_workflow_publish {
	const char *coa;              /* the course-of-action's JSON (coa_len bytes), a valid STIX
				       * course-of-action the secretariat provides; NULL: none */
	size_t coa_len;
	const char *const *include;   /* feedback on the report (ids) that general members read
				       * too, as the report reaches them; feedback otherwise stays
				       * with the contributors */
	size_t ninclude;
} ky_workflow_publish;

/*
 * Changes report `id` to state `to` as the table above allows the caller (reason: 1 to
 * KY_STORE_REASON_MAX bytes, required). `publish` (may be NULL) only with a promotion.
 * `config` gives the default TLP for re-reading markings (may be NULL). *out (may be NULL)
 * gets the report after.
 */
int ky_workflow_transition(ky_store *s, const ky_config *config, const ky_workflow_caller *c, const char *id,
			   ky_report_state to, const char *reason, const ky_workflow_publish *publish, ky_store_report *out);

/* Promotes every report that a rule allowed to promote by itself proposes (after a
 * submission's feedback, say), as the operator would with the rule's name as reason.
 * *promoted (may be NULL) gets how many. */
int ky_workflow_promote_proposed(ky_store *s, const ky_config *config, size_t *promoted);

/*
 * Submits `objects` (a JSON array of STIX objects, borrowed and changed: the audiences' and
 * the named marking's ids are added to each one's object_marking_refs) to the exchange as
 * the caller's member (c->viewer required; analysts and admins), the way TAXII's Add Objects
 * does but at once: validated, decided by the policy, stored, each object's outcome passed to
 * `report` (may be NULL). `audiences` names who reads them ("community", "contributors",
 * "sector:NAME", "group:NAME" of a group the caller is in, "member:NAME"), none: the
 * objects' own markings; `named`: the provider chooses to be named (admission.h). Then the
 * rules allowed to promote by themselves run. KY_EINVALID for an audience the caller may not
 * name; totals as ky_ingest_stream's.
 */
int ky_workflow_submit(ky_store *s, const ky_config *config, const ky_workflow_caller *c, json_t *objects,
		       const char *const *audiences, size_t naudiences, bool named, ky_ingest_report_fn *report,
		       void *ctx, ky_ingest_totals *totals);

/* One feedback a member gives through the hub, which writes it as the member's STIX object. */
typedef struct ky_workflow_feedback {
	const char *opinion;      /* an opinion: strongly-disagree ... strongly-agree; or NULL */
	const char *reason;       /* the opinion's explanation; may be NULL */
	bool sighting;            /* a sighting of the report ("we saw this too") */
	int64_t count;            /* the sighting's count; 0: none */
	const char *first_seen, *last_seen; /* STIX timestamps; may be NULL */
	const char *note;         /* a note's content; or NULL */
	bool named;               /* the giver chooses to be named on it (docs/policy.md) */
} ky_workflow_feedback;

/* Gives feedback f (exactly one of opinion, sighting, note) on report `id` as the caller's
 * member: a new STIX opinion, sighting or note referring to the report, submitted to the
 * exchange (ky_workflow_submit), whose id goes to feedback_id. KY_ENOTFOUND for a report the
 * caller may not read, KY_EINVALID for f that is not one feedback. */
int ky_workflow_give_feedback(ky_store *s, const ky_config *config, const ky_workflow_caller *c, const char *id,
			      const ky_workflow_feedback *f, char feedback_id[KY_STORE_STIX_ID_MAX]);

/* Checks a rule's thresholds (min_agree 0-1000, max_disagree -1-1000, min_confidence 0-100)
 * and name; KY_EINVALID saying which. */
int ky_workflow_rule_check(const ky_store_rule *r);

/* A rule as JSON (the OpenAPI document's Rule). */
json_t *ky_workflow_rule_json(const ky_store_rule *r);

#endif
