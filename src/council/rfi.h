/*
 * rfi: the secretariat's requests for information (docs/council.md), written once for the
 * operator's `kyoyu rfi ...` and the native API's /api/v1/rfis: what a request and an answer
 * must hold, and the JSON both show. The records are store_rfi.h's.
 *
 * Thread safety: as the store connection given.
 */
#ifndef KY_COUNCIL_RFI_H
#define KY_COUNCIL_RFI_H

#include <jansson.h>

#include "store/store_rfi.h"

/* Asks the members named names[0..n) (not the secretariat's) `question` (1 to
 * KY_STORE_RFI_QUESTION_MAX bytes) about `subject` (a STIX id). KY_EINVALID saying which
 * part is wrong, KY_ENOTFOUND for a member the hub lacks; *id gets the request's number. */
int ky_rfi_ask(ky_store *s, const char *subject, const char *question, const char *const *names, size_t n,
	       const ky_store_actor *actor, int64_t *id);

/* Member `member`'s answer to request id: "nothing-seen", "declined" with a reason, or
 * "answered" with objects (a JSON array of the ids of objects it submitted, 1 to
 * KY_STORE_RFI_OBJECTS_MAX). KY_EINVALID saying what is expected; otherwise as
 * ky_store_rfi_answer. */
int ky_rfi_reply(ky_store *s, int64_t id, int64_t member, const char *answer, const char *reason, const json_t *objects,
		 const ky_store_actor *actor);

/* The requests as the API answers them (the OpenAPI document's RfiList, or one Rfi when id
 * is not 0: KY_ENOTFOUND when there is none), every addressee's answer and how long the open
 * ones have been outstanding; for member (not 0), only those addressed to it, with its own
 * answer only. *out is a new reference. */
int ky_rfi_json(ky_store *s, int64_t member, int64_t id, json_t **out);

#endif
