/*
 * store_rfi: the secretariat's requests for information (docs/council.md, "Requests for
 * information"). A request asks named members about a STIX object (a report, an indicator)
 * with a question; each addressee is notified and answers once: with objects it submitted
 * (as feedback or a report, under the usual policy: the answer only names them), "nothing
 * seen", or a refusal with its reason. The secretariat closes a request when it is done.
 * Every change is in the record of changes.
 */
#ifndef KY_STORE_RFI_H
#define KY_STORE_RFI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "store/store.h"
#include "store/store_council.h"
#include "store/store_reports.h"

#define KY_STORE_RFI_ADDRESSEES_MAX 64
#define KY_STORE_RFI_QUESTION_MAX 4000
#define KY_STORE_RFI_OBJECTS_MAX 32

typedef enum ky_rfi_answer {
	KY_RFI_OPEN,
	KY_RFI_ANSWERED,       /* with objects */
	KY_RFI_NOTHING_SEEN,
	KY_RFI_DECLINED,       /* with a reason */
} ky_rfi_answer;

/* "open", "answered", "nothing-seen", "declined"; and back (false for another word). */
const char *ky_rfi_answer_name(ky_rfi_answer a);
bool ky_rfi_answer_parse(const char *name, ky_rfi_answer *out);

typedef struct ky_store_rfi_addressee {
	int64_t member;
	ky_rfi_answer answer;
	const char *reason;              /* a refusal's; NULL otherwise */
	const char *objects;             /* an answer's object ids, a JSON array's text; NULL */
	int64_t answered_us;             /* 0 while open */
} ky_store_rfi_addressee;

typedef struct ky_store_rfi {
	int64_t id;
	const char *subject;             /* the STIX id asked about */
	const char *question;
	int64_t asked_us, closed_us;     /* closed_us 0 while open */
	const ky_store_rfi_addressee *addressees; /* by member id */
	size_t naddressees;
} ky_store_rfi;

/*
 * Asks members[0..n) (ids, distinct, 1 to KY_STORE_RFI_ADDRESSEES_MAX) `question` about
 * `subject`; each gets a notification ("rfi"). *id gets the request's number.
 */
int ky_store_rfi_ask(ky_store *s, const char *subject, const char *question, const int64_t *members, size_t n,
		     const ky_store_actor *actor, int64_t *id);

/*
 * Member `member`'s answer to request id: `answer` (not KY_RFI_OPEN), with a reason
 * (declined) or objects (answered: a JSON array of ids, each of an object the member
 * submitted). KY_ENOTFOUND when the request is not addressed to the member; KY_ECONFLICT when
 * it answered already or the request is closed; KY_EINVALID for an object it did not submit.
 * The secretariat's members are notified.
 */
int ky_store_rfi_answer(ky_store *s, int64_t id, int64_t member, ky_rfi_answer answer, const char *reason,
			const char *objects, const ky_store_actor *actor);

/* Closes request id (KY_ENOTFOUND; KY_ECONFLICT when it is closed already). */
int ky_store_rfi_close(ky_store *s, int64_t id, const ky_store_actor *actor, const char *reason);

/* Calls fn for each request, newest first: every request with every addressee (member 0),
 * or those addressed to `member` with its own addressee row only. `id` not 0: that request
 * only. fn's argument is borrowed; nonzero stops (a negative value is returned). */
int ky_store_rfi_list(ky_store *s, int64_t member, int64_t id, int (*fn)(void *ctx, const ky_store_rfi *r), void *ctx);

#endif
