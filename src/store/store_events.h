/*
 * store_events: the hub's events in one sequence, the live stream's source (docs/stream.md).
 *
 * Every addition of a version to a collection is an event (`object`), numbered by the
 * store's commit-ordered counter as it always was (store.h). The other events (a report's
 * state changing, a version removed, a notification) are rows of `events`, numbered by the
 * same counter in the transaction that makes them, as its last statements: the counter row
 * is locked to the commit on PostgreSQL, so numbers follow commit order across writers and
 * processes, and a reader that has passed N never later finds an event numbered N or less.
 * Each event also gets the counter's date (unique and increasing with the numbers), by
 * which the retention window is kept.
 *
 * Reads here are the operator's: they hand every event with what the policy needs to decide
 * who may read it (the version's keys, provider, TLP, parts and shared form, or the one
 * member a notification is for); stream/stream.h makes that decision for each viewer.
 *
 * Thread safety: as the connection given.
 */
#ifndef KY_STORE_EVENTS_H
#define KY_STORE_EVENTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "store/store.h"
#include "store/store_backend.h"

/* An event to record (strings borrowed for the call). */
typedef struct ky_store_event_new {
	const char *kind;        /* "promotion", "state", "revocation", "deleted", "feedback",
				  * "notification" */
	uint64_t vid;            /* the version whose readers it is for; 0: see member */
	int64_t member;          /* the one member it is for; 0: the version's readers */
	int64_t collection_id;   /* the collection it happened in; 0: none */
	const char *stix_id;     /* the object it is about; may be NULL */
	const char *detail;      /* a JSON object's text; may be NULL */
} ky_store_event_new;

/* Records e in tx, numbered by the counter: call it as the transaction's last writes. */
int ky_store_event_tx(ky_store *s, ky_store_tx *tx, const ky_store_event_new *e);

/* An event as read: everything borrowed for the callback. */
typedef struct ky_store_event {
	uint64_t seq;
	int64_t date_us;         /* the counter's date of it */
	const char *kind;        /* "object" for an addition, else as recorded */
	int64_t collection_id;   /* 0: none */
	int64_t member;          /* the one member it is for; 0: the version's readers */
	const char *stix_id;     /* "" when none */
	const char *detail;      /* NULL when none */
	const char *report_state; /* the state of the report the object is in, or NULL */
	/* The version (vid 0: none): its facts and bytes, as ky_store_row has them. */
	uint64_t vid;
	const char *type, *modified;
	const char *raw, *shared, *parts;
	size_t raw_len, shared_len;
	int64_t provider;
	int tlp;
	const char *const *keys; /* the version's audience keys */
	size_t nkeys;
} ky_store_event;

typedef int ky_store_event_fn(void *ctx, const ky_store_event *e);

/* Calls fn for up to `limit` events numbered above `after`, in order. *last gets the number
 * of the last one handed (after when none). A nonzero return of fn stops the walk; a
 * negative one is returned. */
int ky_store_events_read(ky_store *s, uint64_t after, size_t limit, ky_store_event_fn *fn, void *ctx, uint64_t *last);

/* The number of the last event recorded (the counter). */
int ky_store_events_head(ky_store *s, uint64_t *out);

/* The first event numbered above `after`, if any: *seq (0: none) and its date. */
int ky_store_events_next(ky_store *s, uint64_t after, uint64_t *seq, int64_t *date_us);

/* The first event dated at `since_us` or later: *seq (0: none yet). */
int ky_store_events_since(ky_store *s, int64_t since_us, uint64_t *seq);

/* The number of the last change to the council (the record of changes, store_council.h):
 * when it moves, who may read what may have changed. */
int ky_store_events_council(ky_store *s, int64_t *out);

/* Deletes the recorded events (not additions, which are the collections' own) dated before
 * `before_us`; *deleted (may be NULL) how many. */
int ky_store_events_prune(ky_store *s, int64_t before_us, uint64_t *deleted);

#endif
