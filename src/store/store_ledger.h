/*
 * store_ledger: what the give-and-take ledger counts (council/ledger.h weighs it), read from
 * the workflow's tables (store_reports.h), and the secretariat's settings of the ledger
 * (docs/council.md, "Give-and-take").
 *
 * Every count is over a window of the one clock: a report counts when it reached its final
 * state in the window, feedback when its report did, a sighting when it was given in it.
 * Only the states the council decides are final here: countermeasure and refuted (a
 * withdrawn or revoked report counts for nobody).
 */
#ifndef KY_STORE_LEDGER_H
#define KY_STORE_LEDGER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "store/store.h"
#include "store/store_council.h"

/* One member's counts in a window. */
typedef struct ky_store_ledger_counts {
	int64_t member;
	int64_t reports_countermeasure;  /* its reports that became countermeasure information */
	int64_t reports_refuted;         /* its reports that were refuted */
	int64_t feedback;                /* reports of others, in a final state, it gave feedback on:
					  * one per report however many it posted */
	int64_t feedback_agreed;         /* of those, the reports where its latest opinion (or a
					  * sighting without one, which agrees) matched the final
					  * state: agreeing on a countermeasure, disagreeing on a
					  * refuted one */
	int64_t sightings_confirmed;     /* reports of others it gave a sighting on that another
					  * member (not itself, whatever key) confirmed with a
					  * sighting or an agreeing opinion */
	int64_t countermeasures;         /* course-of-action objects it provided in reports that
					  * became countermeasure information */
} ky_store_ledger_counts;

/*
 * The counts of every member with any in [since_us, until_us] (or of `member` only, not 0),
 * by member id, into *out (owned by the caller: free()) and *n. Store failures as returned.
 */
int ky_store_ledger_count(ky_store *s, int64_t since_us, int64_t until_us, int64_t member,
			  ky_store_ledger_counts **out, size_t *n);

/* Locked material (policy.h: ky_policy_locked): the latest versions in any collection that
 * one of `keys` reads and that `member` did not provide, counted once each, identities (the
 * pseudonyms it names) left out. */
typedef struct ky_store_locked {
	uint64_t objects;
	uint64_t reports;               /* of them, STIX reports */
	int64_t oldest_us, newest_us;   /* their date_added range; 0 when there are none */
} ky_store_locked;

int ky_store_locked_count(ky_store *s, const char *const *keys, size_t nkeys, int64_t member, ky_store_locked *out);

/* The versions each member read in [since_us, until_us], from the audit log's read entries
 * (a version read twice counts twice: reading is what is measured): fn(ctx, member, reads)
 * for each member with any, by member id. */
int ky_store_ledger_reads(ky_store *s, int64_t since_us, int64_t until_us,
			  int (*fn)(void *ctx, int64_t member, uint64_t reads), void *ctx);

/* The settings the secretariat changed (a setting never set has its default, which the
 * council module knows): fn(ctx, name, value) for each, by name; a non-zero return stops
 * the walk (negative: returned). */
int ky_store_ledger_settings(ky_store *s, int (*fn)(void *ctx, const char *name, int64_t value), void *ctx);

/* Sets setting `name` (the caller checks the name and the value) to value, recorded in the
 * record of changes as "contribution.set" with the reason. */
int ky_store_ledger_setting_set(ky_store *s, const char *name, int64_t value, const ky_store_actor *actor,
				const char *reason);

#endif
