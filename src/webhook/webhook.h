/*
 * webhook: members' webhook endpoints and their signed deliveries (docs/webhook.md).
 *
 * Endpoints: a member's admin adds them (ky_webhook_add), each declared the member's own
 * system or a third party's, with the stream's filters; the secret that signs its
 * deliveries is shown once and kept sealed under the hub's key (sign.h).
 *
 * Deliveries: a server's webhook hub has two threads, each with its own store connection.
 * The queuer reads the hub's events after the queue's cursor (store_webhooks.h), decides
 * for each endpoint what its member may receive there (the policy's read decision, then
 * what may leave the hub: AMBER+STRICT and RED only to the member's own systems, addressed
 * to it; a third party's gets no part restricted further than the whole), and queues the
 * deliveries with the cursor's move in one transaction: a restart loses nothing, and of
 * several processes one queues each event. The sender claims due deliveries for a lease
 * and sends them with libcurl, many at once on one thread (a slow receiver holds one
 * transfer, never the others): no redirect followed, a timeout, and no connection to a
 * loopback, link-local or private address unless [webhook] private_addresses allows it.
 * A delivery that fails is retried after 10 s, doubling to an hour, its endpoint waiting
 * meanwhile; 24 hours after it was queued it is dead, listed for the member to replay.
 *
 * Thread safety: ky_webhook_hub_poke from any thread; ky_webhook_add and the other endpoint
 * functions on the caller's connection, from any thread.
 */
#ifndef KY_WEBHOOK_H
#define KY_WEBHOOK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "audit/audit.h"
#include "config/config.h"
#include "council/council.h"
#include "policy/policy.h"
#include "store/store_webhooks.h"
#include "webhook/sign.h"

typedef struct ky_webhook_hub ky_webhook_hub;

typedef struct ky_webhook_options {
	const char *db;                  /* the hub: a path or a postgresql:// URI */
	const ky_config *config;         /* borrowed for the hub's life: [webhook], [stream] */
	const ky_policy_grants *grants;  /* borrowed likewise */
	ky_audit_writer *audit;          /* the read entries' writer, or NULL ([audit] reads off) */
} ky_webhook_options;

/* Starts the queuer and the sender. The caller owns *out. */
int ky_webhook_hub_new(ky_webhook_hub **out, const ky_webhook_options *o);

/* Stops both threads (transfers under way are abandoned: their deliveries are sent again
 * when their lease ends) and frees the hub. NULL does nothing. */
void ky_webhook_hub_free(ky_webhook_hub *h);

/* Something was committed in this process: the queuer looks now. A ky_store_commit_fn. */
void ky_webhook_hub_poke(void *hub);

/* What a hub has done, for the tests and the benchmark. */
typedef struct ky_webhook_stats {
	uint64_t queued, delivered, failed;
} ky_webhook_stats;
void ky_webhook_hub_stats(ky_webhook_hub *h, ky_webhook_stats *out);

/*
 * Adds an endpoint for the caller's member (v is the caller's viewer): the caller must be an
 * admin (KY_EDENIED). `url` an https:// URL (http:// when [webhook] plain_http allows),
 * `own` the declaration, `filter` the stream's filters (ky_stream_filter_of; NULL: none),
 * `reason` why, for the record of changes. The new secret goes to secret_out, the only
 * time it leaves the hub. KY_EINVALID naming what is wrong.
 */
int ky_webhook_add(ky_store *s, const ky_council_caller *caller, const ky_viewer *v, const ky_policy_grants *grants,
		   const ky_config *config, const char *url, bool own, const json_t *filter, const char *reason,
		   char secret_out[KY_WEBHOOK_SECRET_MAX], ky_store_webhook *out);

/* Endpoint `uuid` if it is the caller's member's (the secretariat's staff: any member's),
 * else KY_ENOTFOUND as for one that does not exist. */
int ky_webhook_find(ky_store *s, const ky_council_caller *caller, const char *uuid, ky_store_webhook *out);

/* Removes endpoint uuid (the caller's member's; an admin). */
int ky_webhook_remove(ky_store *s, const ky_council_caller *caller, const char *uuid, const char *reason,
		      ky_store_webhook *out);

/* Queues again endpoint uuid's dead deliveries (delivery 0: all); an admin. *n how many. */
int ky_webhook_replay(ky_store *s, const ky_council_caller *caller, const char *uuid, int64_t delivery,
		      const char *reason, uint64_t *n);

/* An endpoint as the API and the member commands show it (never its secret). */
json_t *ky_webhook_json(const ky_store_webhook *w);

#endif
