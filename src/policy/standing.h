/*
 * standing: the give-and-take ledger's scores and the good standing they give (docs/council.md,
 * "Give-and-take"), which the policy decision reads when it builds a contributor's viewer
 * (policy.h) and council/ledger.h shows.
 *
 * A member's contribution over the window (default 90 days, to the one clock's now) is the
 * sum of its counts (store_ledger.h) times the secretariat's weights. A contributor is in
 * good standing when that sum meets the threshold, or while it is in its grace period (the
 * first grace-days days after it joined). Standing is for contributors only: the secretariat
 * and general members have none.
 *
 * Settings: the six weights, `window-days`, `grace-days`, `threshold` and
 * `free-rider-reads`, each with its
 * default until the secretariat sets it (ky_ledger_set), every change recorded.
 *
 * Thread safety: as the store connection given.
 */
#ifndef KY_POLICY_STANDING_H
#define KY_POLICY_STANDING_H

#include <stdbool.h>
#include <stdint.h>

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
	int64_t free_rider_reads;         /* a member below the threshold that read at least this
					   * many versions in the window is a free rider */
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

/* The settings, the window to the one clock's now and every member's counts in it (or
 * member's only, not 0), for scoring several members at one time. */
typedef struct ky_ledger_window {
	ky_ledger_settings set;
	int64_t now, since;
	ky_store_ledger_counts *rows;     /* owned: ky_ledger_window_clear frees them */
	size_t n;
} ky_ledger_window;

int ky_ledger_window_read(ky_store *s, int64_t member, ky_ledger_window *out);
void ky_ledger_window_clear(ky_ledger_window *w);

/* Member m's place in window w. */
ky_ledger_entry ky_ledger_entry_of(const ky_ledger_window *w, const ky_store_member *m);

/* The count of kind k in c. */
int64_t ky_ledger_count_of(const ky_store_ledger_counts *c, ky_ledger_kind k);

/* The name of setting i (0 .. KY_LEDGER_KINDS - 1: the kinds', which the ledger shows). */
const char *ky_ledger_setting_name(size_t i);

/* Whether member `member_id` (a contributor) is in good standing now: its grace period or its
 * score. KY_ENOTFOUND for no such member; store failures as returned. */
int ky_standing_good(ky_store *s, int64_t member_id, bool *good);

#endif
