/*
 * store_consult: confidential consultations (docs/council.md, "Confidential consultation").
 * A member that suspects an incident opens a thread with the secretariat and the
 * contributors it names; its parties post messages, which may attach STIX objects, until the
 * opener or the secretariat closes it. The parties are fixed when it opens.
 *
 * Who reads a thread is the policy's decision, kept with it as audience keys (decision.h:
 * those of a version whose provider is the opener and whose member audiences are the named
 * contributors) and applied by every read here through the viewer's scope (store.h): a thread
 * outside it does not exist for the reader (KY_ENOTFOUND, absent from lists). The attached
 * objects live in the thread's messages and in no other table, so that no other read path
 * (TAXII, the object routes, reports, exports) can reach them.
 *
 * Every message posted and every read of a thread (a list, a thread with its messages) is an
 * entry of the audit log, in the transaction that does it, whatever [audit] reads says: a
 * consultation is read rarely, and each read of one is worth its entry. The entries name the
 * thread and the messages, never their text.
 */
#ifndef KY_STORE_CONSULT_H
#define KY_STORE_CONSULT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "store/store.h"

#define KY_STORE_CONSULT_PARTIES_MAX 16     /* contributors one thread may name */
#define KY_STORE_CONSULT_SUBJECT_MAX 200    /* bytes */
#define KY_STORE_CONSULT_TEXT_MAX 8000      /* bytes of one message */
#define KY_STORE_CONSULT_OBJECTS_MAX 32     /* objects one message may attach */

/* One message as posted and read. */
typedef struct ky_store_consult_message {
	int64_t n;                    /* its number in the thread, from 1 */
	int64_t member;               /* its author's member */
	const char *text;
	const char *objects;          /* the attached STIX objects, a JSON array's text; NULL: none */
	int64_t posted_us;
	bool names_author;            /* posting: its objects name their author's member
				       * (created_by_ref), which the opener of a thread it is
				       * anonymous in may not post */
} ky_store_consult_message;

/* A thread. Read: strings and arrays borrowed for the callback. */
typedef struct ky_store_consult {
	int64_t id;
	const char *subject;
	int64_t opener;               /* the member that opened it */
	bool named;                   /* the opener chose to be named to the other parties */
	const char *tlp;              /* decision.h's name of its TLP: "red", "amber+strict", ... */
	int64_t opened_us, closed_us; /* closed_us 0 while open */
	const int64_t *parties;       /* the contributors it names (the secretariat is a party of
				       * every thread), by id */
	size_t nparties;
	const ky_store_consult_message *messages; /* ky_store_consult_get's; NULL in lists */
	size_t nmessages;             /* how many it holds, in lists too */
	int64_t last_us;              /* when its last message was posted */
} ky_store_consult;

/*
 * Opens thread c (subject, opener, named, tlp, parties; the rest is ignored) readable by
 * keys[0..nkeys) (the policy's, at least one), with its first message `first` (text, objects;
 * its author is the opener). Every party but the opener is notified ("consultation": the
 * thread's and message's numbers only, never text or names). *id gets its number.
 */
int ky_store_consult_open(ky_store *s, const ky_store_consult *c, const char *const *keys, size_t nkeys,
			  const ky_store_consult_message *first, const ky_store_actor *actor, int64_t *id);

/*
 * Posts m (member, text, objects) to thread id, which `scope` must read (KY_ENOTFOUND
 * otherwise); KY_ECONFLICT when it is closed. Every party but the author is notified. *n
 * gets the message's number. KY_EINVALID when m names its author and the author is the
 * thread's anonymous opener.
 */
int ky_store_consult_post(ky_store *s, const ky_store_scope *scope, int64_t id, const ky_store_consult_message *m,
			  const ky_store_actor *actor, int64_t *n);

/*
 * Closes thread id, which `scope` must read (KY_ENOTFOUND), for `opener` (not 0: only when it
 * is the thread's opener, KY_EDENIED otherwise; 0: the secretariat). KY_ECONFLICT when it is
 * closed already.
 */
int ky_store_consult_close(ky_store *s, const ky_store_scope *scope, int64_t id, int64_t opener,
			   const ky_store_actor *actor, const char *reason);

/*
 * Calls fn for each thread `scope` reads, newest first: with its messages when id is not 0
 * (that thread alone, KY_ENOTFOUND when the scope does not read it), without them otherwise.
 * The read is the audit log's entry ("consultation.read"), by actor, in its transaction.
 * fn's argument is borrowed; nonzero stops (a negative value is returned).
 */
int ky_store_consult_list(ky_store *s, const ky_store_scope *scope, int64_t id, const ky_store_actor *actor,
			  int (*fn)(void *ctx, const ky_store_consult *c), void *ctx);

#endif
