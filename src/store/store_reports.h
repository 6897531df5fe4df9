/*
 * store_reports: the council workflow's records (schema 12; docs/council.md). Members submit
 * to the hub's exchange collection; what they submit forms reports, each in a state; the
 * contributors' feedback on a report gives it an aggregated confidence; the secretariat's
 * rules propose reports for promotion; promotion copies a report to the countermeasures
 * collection for its audience's general members. This module keeps those records, written
 * once over the statement interface:
 *
 * - A report's records are made in the transaction that stores its objects (the batch's:
 *   ky_store_access.workflow says what each object is), so an acknowledged submission always
 *   has its report, and its feedback its effect on the confidence.
 * - A state change is one transaction that checks the state it changes from (two racing
 *   changes cannot both pass), changes the access of the versions it publishes, records the
 *   change with who made it, how and why (the record of changes and the audit log), and
 *   notifies the members concerned.
 *
 * Which transitions are allowed and who may make them is the workflow's (council/workflow.h);
 * who reads what is the policy's, through the access keys the callers compute.
 */
#ifndef KY_STORE_REPORTS_H
#define KY_STORE_REPORTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "store/store.h"
#include "store/store_council.h"

/* The workflow's collections, which kyoyu init and kyoyu migrate make in every hub. */
#define KY_STORE_EXCHANGE "exchange"
#define KY_STORE_COUNTERMEASURES "countermeasures"

#define KY_STORE_STIX_ID_MAX 128   /* a STIX id ("type--UUID"), with room and its NUL */

/* A report's states (docs/council.md has the transitions). */
typedef enum ky_report_state {
	KY_REPORT_UNCONFIRMED,
	KY_REPORT_COUNTERMEASURE,
	KY_REPORT_REFUTED,
	KY_REPORT_WITHDRAWN,
	KY_REPORT_REVOKED,
} ky_report_state;

#define KY_REPORT_STATES 5

/* "unconfirmed", "countermeasure", "refuted", "withdrawn", "revoked"; false for no state. */
const char *ky_report_state_name(ky_report_state state);
bool ky_report_state_parse(const char *name, ky_report_state *out);

/* What an object submitted to the exchange is to the workflow (ky_store_access.workflow), as
 * the policy reads it from the object (admission.h). */
typedef enum ky_workflow_kind {
	KY_WORKFLOW_OBJECT,     /* anything else: a report of its own, unless a report names it */
	KY_WORKFLOW_REPORT,     /* a STIX report: its state covers the objects its refs name */
	KY_WORKFLOW_FEEDBACK,   /* an opinion, sighting, note or relationship: feedback on the
				 * report of an object it refers to, when the submitter reads
				 * that report; else an object as any other */
} ky_workflow_kind;

/* An opinion's value: STIX's five, strongly-disagree (-2) to strongly-agree (2). */
#define KY_WORKFLOW_NO_OPINION (-100)

/* STIX's name of opinion value v ("strongly-disagree" ... "strongly-agree"), NULL for none;
 * and the value of a name, false for one that is none of the five. */
const char *ky_workflow_opinion_name(int v);
bool ky_workflow_opinion_parse(const char *name, int *out);

typedef struct ky_store_workflow {
	ky_workflow_kind kind;
	const char *const *refs;  /* a report's object_refs; feedback's references (object_refs,
				   * sighting_of_ref, source_ref, target_ref); borrowed */
	size_t nrefs;
	int opinion;              /* an opinion's -2..2; KY_WORKFLOW_NO_OPINION for none */
	bool sighting;            /* it is a sighting */
	int confidence;           /* its confidence property (0-100), -1 for none: a report's
				   * prior */
	bool named;               /* its provider chose to be named on it (admission.h) */
} ky_store_workflow;

/* Makes the workflow's two collections if the hub lacks them (kyoyu init, kyoyu migrate). */
int ky_store_workflow_ensure(ky_store *s);

/* --- reports ------------------------------------------------------------------------------- */

typedef struct ky_store_report {
	char id[KY_STORE_STIX_ID_MAX];   /* its STIX report's id, or its one object's */
	int64_t provider;                /* the member that submitted it */
	ky_report_state state;
	int prior;                       /* the provider's confidence (50 when it gave none) */
	int confidence;                  /* the aggregated confidence (docs/council.md) */
	int agree, disagree;             /* members whose feedback counts as agreeing (their
					  * latest opinion agree or strongly-agree, or a sighting
					  * without an opinion) and disagreeing */
	int64_t rule;                    /* the rule proposing it for promotion; 0: none */
	char rule_name[KY_STORE_NAME_MAX + 1];
	char course_of_action[KY_STORE_STIX_ID_MAX]; /* the hub's course-of-action published with
					  * it; "" for none */
	int64_t created_us, changed_us;
	uint64_t root_vid;               /* the latest version of its STIX report (or object) */
} ky_store_report;

/* The report `id` into *out; KY_ENOTFOUND. */
int ky_store_report_get(ky_store *s, const char *id, ky_store_report *out);

/* The report whose state covers object `stix_id` into *out; KY_ENOTFOUND for none. */
int ky_store_report_of(ky_store *s, const char *stix_id, ky_store_report *out);

typedef struct ky_store_report_filter {
	int state;                /* a ky_report_state; -1: any */
	bool proposed;            /* only those a rule proposes (the promotion queue) */
	int64_t provider;         /* only this member's; 0: anyone's */
	const char *after;        /* ids after this one (a page's cursor); NULL: from the first */
	size_t limit;             /* 0: all */
} ky_store_report_filter;

/* Calls fn for each report the filter selects, by id; *more (may be NULL) says whether others
 * follow. Read whole before fn runs; nonzero from fn stops. */
int ky_store_report_list(ky_store *s, const ky_store_report_filter *f,
			 int (*fn)(void *ctx, const ky_store_report *r), void *ctx, bool *more);

/* Calls fn with the id of each object whose state report `id` covers (its own first). */
int ky_store_report_objects(ky_store *s, const char *id, int (*fn)(void *ctx, const char *stix_id), void *ctx);

/* One feedback on a report: a version a member submitted that refers to its objects. */
typedef struct ky_store_feedback {
	uint64_t vid;
	int64_t member;
	const char *type;         /* opinion, sighting, note, relationship */
	const char *stix_id;
	int opinion;              /* KY_WORKFLOW_NO_OPINION for none */
	bool named;               /* its giver chose to be named on it */
	int64_t at_us;
} ky_store_feedback;

/* Calls fn for each feedback on report `id`, in the order it came (strings borrowed). */
int ky_store_report_feedback(ky_store *s, const char *id, int (*fn)(void *ctx, const ky_store_feedback *f),
			     void *ctx);

/* --- state changes ------------------------------------------------------------------------ */

/* A version whose access a state change replaces (promotion: what was for contributors only
 * reaches the report's audience), with the access the policy computed. */
typedef struct ky_store_republish {
	uint64_t vid;
	const ky_store_access *access;   /* keys, tlp, parts, shared; provider unchanged */
} ky_store_republish;

typedef struct ky_store_transition {
	const char *report;
	ky_report_state from, to;        /* the state it must be in, and the next */
	const ky_store_actor *actor;
	const char *reason;              /* may be NULL */
	const ky_store_republish *republish;
	size_t nrepublish;
	const char *course_of_action;    /* promotion: the id of the course-of-action published
					  * with it; NULL: none */
} ky_store_transition;

/*
 * Changes report t->report from t->from to t->to in one transaction: KY_ECONFLICT naming the
 * state it is in when that is not t->from (another change came first), KY_ENOTFOUND. The
 * versions of t->republish get their new access, the change is recorded (action
 * "report.<to>", the report as subject) and the provider and every member that gave
 * feedback are notified.
 */
int ky_store_report_transition(ky_store *s, const ky_store_transition *t);

/* The same change made by batch b, in its transaction, after its objects are stored (the
 * copies a promotion adds to the countermeasures): t and what it points to are copied. */
int ky_store_batch_transition(ky_store_batch *b, const ky_store_transition *t);

/* --- promotion rules ---------------------------------------------------------------------- */

typedef struct ky_store_rule {
	int64_t id;
	char name[KY_STORE_NAME_MAX + 1];
	int min_agree;            /* at least this many members agree */
	int max_disagree;         /* at most this many disagree; -1: any number */
	int min_confidence;       /* the aggregated confidence at least this */
	bool promotes;            /* it promotes by itself, without the secretariat */
	int64_t created_us;
} ky_store_rule;

/* Adds rule r (name, thresholds, promotes) and proposes the unconfirmed reports that meet
 * it; KY_EEXISTS for a name taken. *out (may be NULL) gets it as stored. */
int ky_store_rule_add(ky_store *s, const ky_store_rule *r, const ky_store_actor *actor, const char *reason,
		      ky_store_rule *out);

/* Calls fn for every rule, by id. */
int ky_store_rule_list(ky_store *s, int (*fn)(void *ctx, const ky_store_rule *r), void *ctx);

/* Removes rule `name` (the reports it proposed are proposed by another rule they meet, or
 * by none); KY_ENOTFOUND. */
int ky_store_rule_remove(ky_store *s, const char *name, const ky_store_actor *actor, const char *reason);

/* --- notifications ------------------------------------------------------------------------ */

/* One notification of a member: feedback on its report, a report's state changed, a request
 * for information (store_rfi.h), a message in a consultation (store_consult.h). */
typedef struct ky_store_notification {
	int64_t id;               /* increasing: a list's cursor */
	int64_t at_us;
	const char *kind;         /* "feedback", "state", "rfi", "consultation" */
	const char *report;       /* the STIX id it is about; "" for a consultation's */
	const char *detail;       /* JSON text */
} ky_store_notification;

/* Calls fn for up to `limit` (0: all) notifications of member `member` after `after`, in
 * order; *more as for reports. */
int ky_store_notification_list(ky_store *s, int64_t member, int64_t after, size_t limit,
			       int (*fn)(void *ctx, const ky_store_notification *n), void *ctx, bool *more);

#endif
