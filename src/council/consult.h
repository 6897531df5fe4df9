/*
 * consult: confidential consultations (docs/council.md), written once for the native API's
 * /api/v1/consultations and every command that reaches it. A member that suspects an
 * incident opens a thread with the secretariat and, if it wants, contributors it names; the
 * thread's audience is exactly its parties, whatever its TLP (TLP:RED unless the opener
 * chooses another: TLP says what the parties may do with it outside the hub). The records
 * are store_consult.h's; who reads them is the policy's (ky_consult_keys), through the
 * viewer's scope on every read.
 *
 * The opener is anonymous to the contributors it names unless it opens the thread named: the
 * secretariat, and the opener itself, always see who it is. A message may attach STIX objects
 * (validated as any submission is), which stay inside the thread: only the member that
 * attached them takes them out, by submitting them as a report (ky_consult_attached, then the
 * workflow's submission), under the usual policy.
 *
 * Thread safety: as the store connection given.
 */
#ifndef KY_COUNCIL_CONSULT_H
#define KY_COUNCIL_CONSULT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "policy/policy.h"
#include "store/store_consult.h"

/* What opening a thread takes; borrowed for the call. */
typedef struct ky_consult_opening {
	const char *subject;              /* 1 to KY_STORE_CONSULT_SUBJECT_MAX bytes of UTF-8 */
	const char *const *with;          /* the contributors to consult, by name (0 to
					   * KY_STORE_CONSULT_PARTIES_MAX) */
	size_t nwith;
	const char *tlp;                  /* "red" (NULL: red), "amber+strict", "amber", "green" */
	bool named;                       /* the opener is named to the contributors */
	const char *text;                 /* the first message */
	const json_t *objects;            /* its attached STIX objects (an array), or NULL */
} ky_consult_opening;

/* The audience keys of a thread opened by member `opener` with the contributors
 * parties[0..n): the policy's keys of a version with that provider, TLP and member audiences
 * (decision.h), so that exactly its parties, and the secretariat, read it. */
int ky_consult_keys(int64_t opener, ky_tlp tlp, const int64_t *parties, size_t n, ky_policy_keys *out);

/* Opens thread o as viewer v's member (a member that is not the secretariat; the role
 * analyst or admin): KY_EDENIED, KY_EINVALID saying which part is wrong, KY_ENOTFOUND for a
 * contributor the hub lacks. *id gets its number. */
int ky_consult_open(ky_store *s, const ky_viewer *v, const ky_consult_opening *o, const ky_store_actor *actor,
		    int64_t *id);

/* Posts `text` with `objects` (NULL: none) to thread id as v's member (analyst or admin).
 * KY_ENOTFOUND for a thread v is no party of, KY_ECONFLICT for a closed one; *n gets the
 * message's number. */
int ky_consult_post(ky_store *s, const ky_viewer *v, int64_t id, const char *text, const json_t *objects,
		    const ky_store_actor *actor, int64_t *n);

/* Closes thread id: its opener or the secretariat (analyst or admin). `reason` may be NULL. */
int ky_consult_close(ky_store *s, const ky_viewer *v, int64_t id, const char *reason, const ky_store_actor *actor);

/* The threads v is a party of as the API answers them (the OpenAPI document's
 * ConsultationList), or thread id with its messages (Consultation; KY_ENOTFOUND when v is no
 * party of it). The read is audited (store_consult.h). *out is a new reference. */
int ky_consult_json(ky_store *s, const ky_viewer *v, int64_t id, const ky_store_actor *actor, json_t **out);

/* The objects message n of thread id attaches, for v's member to submit them as a report:
 * KY_ENOTFOUND for a thread or message v does not read, KY_EDENIED for a message its member
 * did not post, KY_EINVALID for one without objects. *objects is a new reference. */
int ky_consult_attached(ky_store *s, const ky_viewer *v, int64_t id, int64_t n, const ky_store_actor *actor,
			json_t **objects);

#endif
