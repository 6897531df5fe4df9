/*
 * ledger: the council's give-and-take ledger (docs/council.md, "Give-and-take") as the
 * operator's `kyoyu contribution` and the native API's GET /api/v1/contribution show it; the
 * scores and the standing are policy/standing.h's.
 *
 * Thread safety: as the store connection given.
 */
#ifndef KY_COUNCIL_LEDGER_H
#define KY_COUNCIL_LEDGER_H

#include <jansson.h>

#include "policy/standing.h"

/*
 * The ledger as the native API answers and `--json` prints it (the OpenAPI document's
 * Contribution): the window, the weights and threshold, and the entries of `member` only
 * (not NULL: with the locked material it would read in good standing, when it is a
 * contributor below it) or of every member, by name, into *out (a new reference). Store
 * failures and KY_ENOMEM as returned.
 */
int ky_ledger_json(ky_store *s, const ky_store_member *member, json_t **out);

/*
 * The secretariat's free-rider report into *out (a new reference): the members, the
 * secretariat aside, that read at least `free-rider-reads` versions in the window (the audit
 * log's reads) and whose score is below the threshold, most reads first, each with its reads
 * and score. Store failures and KY_ENOMEM as returned.
 */
int ky_ledger_free_riders_json(ky_store *s, json_t **out);

#endif
