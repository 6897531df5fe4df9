/*
 * store_webhooks: members' webhook endpoints and the durable queue of their deliveries
 * (schema 16, docs/webhook.md), written once for both backends.
 *
 * An endpoint belongs to a member, is declared its own system or a third party's, carries
 * the stream's filters (as JSON text) and its signing secret sealed under the hub's key
 * (the sealing is the caller's: webhook/sign.h), and receives the events numbered after the
 * one current when it was added. Adding and removing one are changes in the record of
 * changes and the audit log, in the same transaction.
 *
 * The queue: one hub-wide cursor says up to which event deliveries have been queued. Whoever
 * queues (any process) reads events after the cursor, decides, and commits its deliveries
 * with the cursor's move only if the cursor is still where it read it, so that each event is
 * queued once however many processes try. A delivery's body is shared by the deliveries of
 * one event that carry the same bytes. Deliveries are claimed for a lease (on PostgreSQL
 * with FOR UPDATE SKIP LOCKED: two processes never claim the same one), at most a few per
 * endpoint at a time and none for an endpoint backing off, then recorded delivered, retried
 * later or dead.
 *
 * Thread safety: as the connection given.
 */
#ifndef KY_STORE_WEBHOOKS_H
#define KY_STORE_WEBHOOKS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "store/store.h"
#include "store/store_council.h"

#define KY_STORE_WEBHOOK_URL_MAX 2048
#define KY_STORE_WEBHOOK_FILTER_MAX 4096
#define KY_STORE_WEBHOOK_SEALED_MAX 512   /* the sealed secret as text */
#define KY_STORE_WEBHOOK_ERROR_MAX 256

typedef struct ky_store_webhook {
	int64_t id;
	char uuid[37];
	int64_t member_id;
	char member[KY_STORE_NAME_MAX + 1];
	char url[KY_STORE_WEBHOOK_URL_MAX + 1];
	bool own;                                   /* the member's own system */
	char filter[KY_STORE_WEBHOOK_FILTER_MAX + 1]; /* JSON object text */
	char sealed[KY_STORE_WEBHOOK_SEALED_MAX + 1]; /* "" until sealed */
	int64_t from_seq;                           /* gets the events numbered after this */
	int64_t created_us, removed_us;             /* removed_us 0: active */
	int64_t blocked_until_us;                   /* backing off until then (0: not) */
	int64_t pending, delivered, dead;           /* its deliveries, by state */
} ky_store_webhook;

/* Seals the new endpoint's secret for its id, as text into out (cap bytes). */
typedef int ky_store_webhook_seal_fn(void *ctx, int64_t id, char *out, size_t cap);

/* Adds endpoint w (member_id, url, own, filter) for the events after the current one; seal
 * gives its sealed secret once its id is known; with the change (webhook.add). *out (may be
 * NULL) gets it as stored. KY_EINVALID for fields too long, KY_ENOTFOUND for no such member. */
int ky_store_webhook_add(ky_store *s, const ky_store_webhook *w, ky_store_webhook_seal_fn *seal, void *seal_ctx,
			 const ky_store_actor *actor, const char *reason, ky_store_webhook *out);

/* Endpoint uuid (removed ones included) into *out; KY_ENOTFOUND. */
int ky_store_webhook_get(ky_store *s, const char *uuid, ky_store_webhook *out);
int ky_store_webhook_by_id(ky_store *s, int64_t id, ky_store_webhook *out);

/* Calls fn for each active endpoint of member (0: every member's), by id. */
int ky_store_webhook_list(ky_store *s, int64_t member, int (*fn)(void *ctx, const ky_store_webhook *w), void *ctx);

/* Removes endpoint uuid (it gets nothing more; what it has queued is not sent), with the
 * change (webhook.remove). KY_ENOTFOUND when there is no active one. */
int ky_store_webhook_remove(ky_store *s, const char *uuid, const ky_store_actor *actor, const char *reason,
			    ky_store_webhook *out);

/* The queue's cursor: the last event deliveries were queued for. */
int ky_store_webhook_cursor(ky_store *s, uint64_t *out);

/* One delivery to queue: endpoint, event, and body (an index into the bodies given). */
typedef struct ky_store_delivery_new {
	int64_t webhook_id;
	uint64_t seq;
	const char *kind;
	size_t body;
} ky_store_delivery_new;

/* Queues deliveries d[0..n) with bodies[0..nbodies) (JSON text) and moves the cursor from `from` to
 * `to`, in one transaction, if the cursor is still at `from`; else queues nothing and sets
 * *queued false (another process queued those events). */
int ky_store_webhook_enqueue(ky_store *s, uint64_t from, uint64_t to, const ky_store_delivery_new *d, size_t n,
			     const char *const *bodies, size_t nbodies, bool *queued);

/* A claimed delivery: strings borrowed for the callback. */
typedef struct ky_store_delivery {
	int64_t id, webhook_id;
	uint64_t seq;
	const char *kind;
	int attempts;                 /* this one included */
	int64_t created_us;
	const char *body;
	size_t body_len;
} ky_store_delivery;

/* Claims up to `limit` deliveries due at now_us, at most per_endpoint of one endpoint and
 * none of an endpoint with deliveries under lease or backing off, for lease_us; calls fn for
 * each (after the claim has committed). */
int ky_store_webhook_claim(ky_store *s, int64_t now_us, int64_t lease_us, size_t per_endpoint, size_t limit,
			   int (*fn)(void *ctx, const ky_store_delivery *d), void *ctx);

/* What an attempt came to. */
typedef struct ky_store_delivery_result {
	int64_t id, webhook_id;
	bool delivered;
	int status;                   /* the receiver's HTTP status; 0: none */
	const char *error;            /* why not, for the member: may be NULL */
	int64_t retry_at_us;          /* not delivered: when next (0: dead, no more attempts) */
} ky_store_delivery_result;

/* Records results r[0..n) in one transaction: a delivered one is done and its endpoint no
 * longer backs off; another is retried at its retry_at_us, its endpoint backing off until
 * then, or is dead. */
int ky_store_webhook_record(ky_store *s, const ky_store_delivery_result *r, size_t n, int64_t now_us);

/* Marks dead the pending deliveries created before `before_us` that are under no lease;
 * *n (may be NULL) how many. */
int ky_store_webhook_expire(ky_store *s, int64_t before_us, int64_t now_us, uint64_t *n);

/* A delivery as listed. */
typedef struct ky_store_delivery_info {
	int64_t id;
	uint64_t seq;
	const char *kind;
	int state;                    /* 0 pending, 1 delivered, 2 dead */
	int attempts;
	int64_t created_us, done_us;
	int last_status;
	const char *last_error;       /* "" none */
} ky_store_delivery_info;

/* Calls fn for up to `limit` dead deliveries of endpoint webhook_id with ids above after,
 * by id; *more whether others follow. */
int ky_store_webhook_dead_list(ky_store *s, int64_t webhook_id, int64_t after, size_t limit,
			       int (*fn)(void *ctx, const ky_store_delivery_info *d), void *ctx, bool *more);

/* Queues again the dead deliveries of endpoint webhook_id (delivery 0: every one, else that
 * one), as new (attempts and age from now), with the change (webhook.replay); *n how many. */
int ky_store_webhook_replay(ky_store *s, int64_t webhook_id, int64_t delivery, const ky_store_actor *actor,
			    const char *reason, uint64_t *n);

#endif
