/*
 * ledger: the council's give-and-take ledger (docs/council.md, "Give-and-take"), written once
 * for the operator's `kyoyu contribution` and the native API's GET /api/v1/contribution.
 *
 * A member's contribution over the window (default 90 days, to the one clock's now) is the
 * sum of its counts (store_ledger.h) times the secretariat's weights. A contributor is in
 * good standing when that sum meets the threshold, or while it is in its grace period (the
 * first grace-days days after it joined). Standing is for contributors only: the secretariat
 * and general members have none.
 *
 * Settings: the six weights, `window-days`, `grace-days` and `threshold`, each with its
 * default until the secretariat sets it (ky_ledger_set), every change recorded.
 *
 * Thread safety: as the store connection given.
 */
#ifndef KY_COUNCIL_LEDGER_H
#define KY_COUNCIL_LEDGER_H

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#include "store/store_council.h"
#include "store/store_ledger.h"

/* The kinds of contribution, in the order the ledger shows them. */
typedef enum ky_ledger_kind {
	KY_LEDGER_REPORT_COUNTERMEASURE,
	KY_LEDGER_REPORT_REFUTED,
	KY_LEDGER_FEEDBACK,
	KY_LEDGER_FEEDBACK_AGREED,
	KY_LEDGER_SIGHTING_CONFIRMED,
	KY_LEDGER_COUNTERMEASURE,
	KY_LEDGER_KINDS
} ky_ledger_kind;

typedef struct ky_ledger_settings {
	int64_t weight[KY_LEDGER_KINDS];
	int64_t window_days, grace_days, threshold;
} ky_ledger_settings;

typedef enum ky_standing {
	KY_STANDING_NONE,   /* not a contributor */
	KY_STANDING_GRACE,  /* a contributor in its grace period: in good standing */
	KY_STANDING_GOOD,
	KY_STANDING_BELOW,
} ky_standing;

/* "good", "grace", "below"; NULL for KY_STANDING_NONE. */
const char *ky_standing_name(ky_standing s);

/* The settings in force: the defaults, with those the secretariat set. */
int ky_ledger_settings_read(ky_store *s, ky_ledger_settings *out);

/* Sets setting `name` to the number in `value`: KY_EINVALID, saying what is expected, for a
 * name that is not a setting (the message lists them) or a value out of its range. */
int ky_ledger_set(ky_store *s, const char *name, const char *value, const ky_store_actor *actor, const char *reason);

/* One member's place in the ledger. */
typedef struct ky_ledger_entry {
	ky_store_ledger_counts counts;
	int64_t score;
	ky_standing standing;
	int64_t grace_until_us;  /* when its grace period ends (contributors; 0 otherwise) */
} ky_ledger_entry;

/* The standing of member m now (the one clock), with its counts and score. */
int ky_ledger_member(ky_store *s, const ky_store_member *m, ky_ledger_entry *out);

/*
 * The ledger as the native API answers and `--json` prints it (the OpenAPI document's
 * Contribution): the window, the weights and threshold, and the entries of `member` only
 * (not NULL) or of every member, by name, into *out (a new reference). Store failures and
 * KY_ENOMEM as returned.
 */
int ky_ledger_json(ky_store *s, const ky_store_member *member, json_t **out);

#endif
