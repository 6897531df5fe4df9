/*
 * webhook: endpoints, the queuer and the sender (webhook.h).
 */
#include "webhook/webhook.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include <curl/curl.h>
#include <sodium.h>

#include "store/store_events.h"
#include "stream/stream.h"
#include "util/ky_clock.h"
#include "util/ky_error.h"
#include "util/ky_grow.h"

#define SEALING_SECRET "webhook-sealing"
#define FIRST_RETRY_US (10 * 1000000LL)
#define LAST_RETRY_US (3600 * 1000000LL)
#define DEAD_AFTER_US (24 * 3600 * 1000000LL)
#define EVENTS_PAGE 256
#define PER_ENDPOINT 8
#define RECHECK_MS 4000

/* --- endpoints -------------------------------------------------------------------------------- */

static bool is_admin(const ky_council_caller *c)
{
	return c->who == NULL || c->who->role == KY_ROLE_ADMIN;
}

/* An endpoint's URL: http(s), a host, no credentials, no fragment, printable ASCII. */
static int check_url(const ky_config *config, const char *url)
{
	size_t len = strlen(url);
	bool https = strncmp(url, "https://", 8) == 0, http = strncmp(url, "http://", 7) == 0;
	if (len > KY_STORE_WEBHOOK_URL_MAX)
		return ky_error_set(KY_EINVALID, "url has at most %d bytes", KY_STORE_WEBHOOK_URL_MAX);
	for (size_t i = 0; i < len; i++)
		if (url[i] <= ' ' || url[i] > '~')
			return ky_error_set(KY_EINVALID, "url holds a space or a character that is not printable ASCII");
	if (!https && !(http && config->webhook_plain_http))
		return ky_error_set(KY_EINVALID, "url must start with https://%s",
				    http ? " ([webhook] plain_http refuses http://)" : "");
	CURLU *u = curl_url();
	char *host = NULL, *user = NULL, *fragment = NULL;
	int rc = u == NULL ? ky_error_set(KY_ENOMEM, "out of memory") : KY_OK;
	if (rc == KY_OK && curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK)
		rc = ky_error_set(KY_EINVALID, "url is not a URL");
	if (rc == KY_OK && (curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK || host == NULL || *host == '\0'))
		rc = ky_error_set(KY_EINVALID, "url names no host");
	if (rc == KY_OK && curl_url_get(u, CURLUPART_USER, &user, 0) == CURLUE_OK)
		rc = ky_error_set(KY_EINVALID, "url must not hold credentials: the signature authenticates the hub");
	if (rc == KY_OK && curl_url_get(u, CURLUPART_FRAGMENT, &fragment, 0) == CURLUE_OK)
		rc = ky_error_set(KY_EINVALID, "url must not have a fragment");
	curl_free(host);
	curl_free(user);
	curl_free(fragment);
	curl_url_cleanup(u);
	return rc;
}

static int hub_key(ky_store *s, uint8_t key[KY_STORE_SECRET_SIZE])
{
	uint8_t fresh[KY_STORE_SECRET_SIZE];
	randombytes_buf(fresh, sizeof(fresh));
	int rc = ky_store_secret(s, SEALING_SECRET, fresh, key);
	sodium_memzero(fresh, sizeof(fresh));
	return rc;
}

typedef struct sealing {
	const uint8_t *key;
	const char *secret;
} sealing;

static int seal_secret(void *ctx, int64_t id, char *out, size_t cap)
{
	sealing *k = ctx;
	uint8_t sealed[KY_WEBHOOK_SEALED_MAX];
	size_t n = 0;
	int rc = ky_webhook_seal(k->key, id, k->secret, sealed, &n);
	if (rc == KY_OK && cap < n * 2 + 1)
		rc = ky_error_set(KY_ERROR, "a sealed secret does not fit");
	if (rc == KY_OK)
		sodium_bin2hex(out, cap, sealed, n);
	return rc;
}

int ky_webhook_add(ky_store *s, const ky_council_caller *caller, const ky_viewer *v, const ky_policy_grants *grants,
		   const ky_config *config, const char *url, bool own, const json_t *filter, const char *reason,
		   char secret_out[KY_WEBHOOK_SECRET_MAX], ky_store_webhook *out)
{
	if (!is_admin(caller))
		return ky_error_set(KY_EDENIED, "only an admin of your member adds webhooks");
	if (caller->who == NULL)
		return ky_error_set(KY_EINVALID, "a webhook is a member's: add it as one of its admins");
	int rc = ky_council_check_reason(reason);
	if (rc == KY_OK)
		rc = check_url(config, url);
	json_t *empty = json_object();
	ky_stream_filter f;
	if (rc == KY_OK)
		rc = ky_stream_filter_of(s, filter ? filter : empty, grants, v, &f);
	char *spec = rc == KY_OK ? json_dumps(filter ? filter : empty, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
	json_decref(empty);
	if (rc == KY_OK && spec == NULL)
		rc = ky_error_set(KY_ENOMEM, "out of memory");
	if (rc == KY_OK && strlen(spec) > KY_STORE_WEBHOOK_FILTER_MAX)
		rc = ky_error_set(KY_EINVALID, "the filter has at most %d bytes", KY_STORE_WEBHOOK_FILTER_MAX);
	uint8_t key[KY_STORE_SECRET_SIZE];
	if (rc == KY_OK)
		rc = hub_key(s, key);
	if (rc == KY_OK)
		rc = ky_webhook_secret_new(secret_out);
	ky_store_webhook *w = rc == KY_OK ? calloc(1, sizeof(*w)) : NULL;
	if (rc == KY_OK && w == NULL)
		rc = ky_error_set(KY_ENOMEM, "out of memory");
	if (rc == KY_OK) {
		w->member_id = caller->who->member_id;
		snprintf(w->url, sizeof(w->url), "%s", url);
		snprintf(w->filter, sizeof(w->filter), "%s", spec);
		w->own = own;
		sealing k = {key, secret_out};
		ky_store_actor actor = ky_council_actor(caller);
		rc = ky_store_webhook_add(s, w, seal_secret, &k, &actor, reason, out);
	}
	if (rc != KY_OK && secret_out != NULL)
		sodium_memzero(secret_out, KY_WEBHOOK_SECRET_MAX);
	sodium_memzero(key, sizeof(key));
	free(w);
	free(spec);
	return rc;
}

int ky_webhook_find(ky_store *s, const ky_council_caller *caller, const char *uuid, ky_store_webhook *out)
{
	int rc = ky_store_webhook_get(s, uuid, out);
	bool secretariat = caller->who == NULL || caller->who->tier == KY_TIER_SECRETARIAT;
	if (rc == KY_OK && (out->removed_us != 0 || (!secretariat && out->member_id != caller->who->member_id)))
		rc = ky_error_set(KY_ENOTFOUND, "no webhook %.40s in this hub", uuid);
	return rc;
}

int ky_webhook_remove(ky_store *s, const ky_council_caller *caller, const char *uuid, const char *reason,
		      ky_store_webhook *out)
{
	int rc = ky_webhook_find(s, caller, uuid, out);
	if (rc == KY_OK && !is_admin(caller))
		rc = ky_error_set(KY_EDENIED, "only an admin of your member removes webhooks");
	if (rc == KY_OK && reason != NULL)
		rc = ky_council_check_reason(reason);
	ky_store_actor actor = ky_council_actor(caller);
	if (rc == KY_OK)
		rc = ky_store_webhook_remove(s, uuid, &actor, reason, out);
	return rc;
}

int ky_webhook_replay(ky_store *s, const ky_council_caller *caller, const char *uuid, int64_t delivery,
		      const char *reason, uint64_t *n)
{
	ky_store_webhook w;
	*n = 0;
	int rc = ky_webhook_find(s, caller, uuid, &w);
	if (rc == KY_OK && !is_admin(caller))
		rc = ky_error_set(KY_EDENIED, "only an admin of your member replays webhooks");
	if (rc == KY_OK && reason != NULL)
		rc = ky_council_check_reason(reason);
	ky_store_actor actor = ky_council_actor(caller);
	if (rc == KY_OK)
		rc = ky_store_webhook_replay(s, w.id, delivery, &actor, reason, n);
	if (rc == KY_OK && delivery != 0 && *n == 0)
		rc = ky_error_set(KY_ENOTFOUND, "webhook %s has no dead delivery %lld", uuid, (long long)delivery);
	return rc;
}

json_t *ky_webhook_json(const ky_store_webhook *w)
{
	json_t *filter = json_loads(w->filter, 0, NULL);
	json_t *j = json_pack("{s:s,s:s,s:s,s:s,s:o,s:o,s:{s:I,s:I,s:I}}", "id", w->uuid, "member", w->member, "url",
			      w->url, "declared", w->own ? "own" : "third-party", "filter", filter ? filter : json_object(),
			      "created", ky_council_time_json(w->created_us), "deliveries", "pending", (json_int_t)w->pending,
			      "delivered", (json_int_t)w->delivered, "dead", (json_int_t)w->dead);
	if (j != NULL && w->blocked_until_us > ky_clock_now_us())
		json_object_set_new(j, "retrying_at", ky_council_time_json(w->blocked_until_us));
	return j;
}

/* --- the hub ---------------------------------------------------------------------------------- */

/* A member's viewer, shared by its endpoints: the queuer's. */
typedef struct member_view {
	struct member_view *next;
	int64_t member;
	bool active;             /* not suspended: it receives */
	ky_viewer viewer;
	ky_store_reads reads;    /* versions queued for it since the last audit entry */
} member_view;

/* An endpoint as the queuer decides for it. */
typedef struct queued_endpoint {
	int64_t id;
	char uuid[37];
	bool own;
	int64_t from_seq;
	ky_stream_filter *filter;  /* NULL: everything */
	member_view *view;
} queued_endpoint;

/* An endpoint as the sender sends to it. */
typedef struct send_endpoint {
	struct send_endpoint *next;
	int64_t id;
	char *url;
	char secret[KY_WEBHOOK_SECRET_MAX];
} send_endpoint;

/* One transfer under way. */
typedef struct transfer {
	struct transfer *next;
	ky_webhook_hub *hub;
	CURL *easy;
	struct curl_slist *headers;
	int64_t id, webhook_id, created_us;
	int attempts;
	char *body;
	char refused[160];        /* why the connection was refused (SSRF), else "" */
} transfer;

struct ky_webhook_hub {
	char *db;
	const ky_config *config;
	const ky_policy_grants *grants;
	ky_audit_writer *audit;
	pthread_mutex_t lock;
	pthread_cond_t wake;
	bool poked, stopping;     /* under lock */
	pthread_t queuer, sender;
	bool queuer_running, sender_running;
	CURLM *multi;             /* the sender's; curl_multi_wakeup from any thread */
	_Atomic uint64_t queued, delivered, failed;
	/* The queuer's: */
	ky_store *qstore;
	member_view *views;
	queued_endpoint *endpoints;
	size_t nendpoints, cap_endpoints;
	int64_t council;
	int64_t next_recheck_ms;
	ky_stream_collections collections;
	/* The sender's: */
	ky_store *sstore;
	send_endpoint *send_endpoints;
	transfer *transfers;
	size_t in_flight;
	uint8_t key[KY_STORE_SECRET_SIZE];
	bool have_key;
	int64_t next_expire_us;
	int64_t next_complaint_ms;
};

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void complain(ky_webhook_hub *h, const char *doing)
{
	int64_t now = now_ms();
	pthread_mutex_lock(&h->lock);
	bool say = now >= h->next_complaint_ms;
	if (say)
		h->next_complaint_ms = now + 60000;
	pthread_mutex_unlock(&h->lock);
	if (say)
		fprintf(stderr, "kyoyu: webhooks, %s: %s\n", doing, ky_error_last());
}

void ky_webhook_hub_poke(void *hub)
{
	ky_webhook_hub *h = hub;
	pthread_mutex_lock(&h->lock);
	h->poked = true;
	pthread_cond_signal(&h->wake);
	pthread_mutex_unlock(&h->lock);
}

void ky_webhook_hub_stats(ky_webhook_hub *h, ky_webhook_stats *out)
{
	out->queued = atomic_load(&h->queued);
	out->delivered = atomic_load(&h->delivered);
	out->failed = atomic_load(&h->failed);
}

/* --- the queuer ------------------------------------------------------------------------------- */

static void views_free(ky_webhook_hub *h)
{
	while (h->views != NULL) {
		member_view *next = h->views->next;
		ky_store_reads_clear(&h->views->reads);
		free(h->views);
		h->views = next;
	}
}

static void endpoints_clear(ky_webhook_hub *h)
{
	for (size_t i = 0; i < h->nendpoints; i++)
		free(h->endpoints[i].filter);
	h->nendpoints = 0;
}

static member_view *view_of(ky_webhook_hub *h, int64_t member)
{
	for (member_view *m = h->views; m != NULL; m = m->next)
		if (m->member == member)
			return m;
	member_view *m = calloc(1, sizeof(*m));
	if (m == NULL)
		return NULL;
	ky_store_member row;
	if (ky_store_member_by_id(h->qstore, member, &row) != KY_OK ||
	    ky_policy_viewer_of_member(h->qstore, &row, &m->viewer) != KY_OK) {
		free(m);
		return NULL;
	}
	m->member = member;
	m->active = !row.suspended;
	m->next = h->views;
	h->views = m;
	return m;
}

static int endpoint_cell(void *ctx, const ky_store_webhook *w)
{
	ky_webhook_hub *h = ctx;
	int rc = ky_grow((void **)&h->endpoints, &h->cap_endpoints, h->nendpoints, sizeof(*h->endpoints));
	if (rc != KY_OK)
		return rc;
	member_view *view = view_of(h, w->member_id);
	if (view == NULL)
		return ky_error_set(KY_ERROR, "the viewer of webhook %s's member cannot be made", w->uuid);
	queued_endpoint *e = &h->endpoints[h->nendpoints];
	*e = (queued_endpoint){.id = w->id, .own = w->own, .from_seq = w->from_seq, .view = view};
	memcpy(e->uuid, w->uuid, sizeof(e->uuid));
	json_t *spec = json_loads(w->filter, 0, NULL);
	if (spec != NULL && json_object_size(spec) > 0) {
		e->filter = malloc(sizeof(*e->filter));
		/* A filter that no longer holds (a collection gone) lets nothing through: the
		 * member sees the endpoint get nothing rather than more than it asked. */
		if (e->filter == NULL || ky_stream_filter_of(h->qstore, spec, NULL, NULL, e->filter) != KY_OK) {
			free(e->filter);
			e->filter = NULL;
			json_decref(spec);
			return 0;
		}
	}
	json_decref(spec);
	h->nendpoints++;
	return 0;
}

/* The endpoints and their members' viewers as the hub holds them now; the viewers made
 * again when the record of changes moved or contributors' standing may have. */
static int load_endpoints(ky_webhook_hub *h)
{
	int64_t council = 0;
	int rc = ky_store_events_council(h->qstore, &council);
	if (rc != KY_OK)
		return rc;
	if (council != h->council || now_ms() >= h->next_recheck_ms) {
		views_free(h);
		h->council = council;
		h->next_recheck_ms = now_ms() + RECHECK_MS;
	}
	endpoints_clear(h);
	return ky_store_webhook_list(h->qstore, 0, endpoint_cell, h);
}

/* The bodies of one page of events and the deliveries that share them. */
typedef struct page {
	ky_webhook_hub *h;
	char **bodies;
	size_t nbodies, cap_bodies;
	ky_store_delivery_new *deliveries;
	size_t n, cap;
	/* For the event in hand: bodies of its stored form, its shared form, and without an
	 * object (indexes + 1; 0: not made yet). */
	size_t same[3];
	int rc;
} page;

static int add_body(page *p, char *body, size_t *index)
{
	if (body == NULL)
		return ky_error_set(KY_ENOMEM, "out of memory");
	int rc = ky_grow((void **)&p->bodies, &p->cap_bodies, p->nbodies, sizeof(*p->bodies));
	if (rc != KY_OK) {
		free(body);
		return rc;
	}
	p->bodies[p->nbodies] = body;
	*index = p->nbodies++;
	return KY_OK;
}

typedef struct shown_body {
	page *p;
	const ky_store_event *e;
	const char *uuid;
	size_t index;
	int rc;
} shown_body;

static int body_of_shown(void *ctx, const ky_store_row *row)
{
	shown_body *b = ctx;
	int form = row->raw == b->e->raw ? 0 : row->raw == b->e->shared ? 1 : -1;
	if (form >= 0 && b->p->same[form] != 0) {
		b->index = b->p->same[form] - 1;
		return 0;
	}
	size_t len;
	b->rc = add_body(b->p, ky_stream_envelope(b->e, b->uuid, row->raw, row->raw_len, &len), &b->index);
	if (b->rc == KY_OK && form >= 0)
		b->p->same[form] = b->index + 1;
	return 0;
}

/* The body of event e without an object (a notification, a removal), made once per event. */
static bool bare_body(page *p, const ky_store_event *e, const char *uuid, size_t *index)
{
	if (p->same[2] == 0) {
		size_t len;
		p->rc = add_body(p, ky_stream_envelope(e, uuid, NULL, 0, &len), index);
		p->same[2] = p->rc == KY_OK ? *index + 1 : 0;
	}
	*index = p->same[2] - 1;
	return p->rc == KY_OK;
}

/* What endpoint q receives of event e: *index the body, or false for nothing. */
static bool decide(ky_webhook_hub *h, page *p, const queued_endpoint *q, const ky_store_event *e,
		   const json_t *object, size_t *index)
{
	const ky_viewer *v = &q->view->viewer;
	if (!q->view->active || e->seq <= (uint64_t)q->from_seq || !ky_stream_filter_wants(q->filter, e, object))
		return false;
	const char *uuid = NULL;
	const char *name = e->collection_id ? ky_stream_collection_name(h->qstore, &h->collections, e->collection_id, &uuid) : NULL;
	if (e->member != 0) {
		if (e->member != v->who.member_id)
			return false;
		return bare_body(p, e, uuid, index);
	}
	if (e->vid == 0 || e->tlp < 0)
		return false;
	ky_policy_keys own;
	ky_store_scope scope;
	if (e->collection_id != 0) {
		if (name == NULL || !ky_policy_may_read(h->grants, name, v))
			return false;
		scope = ky_policy_collection_scope(name, v, &own);
	} else {
		scope = ky_policy_scope(v);
	}
	scope.reads = NULL;
	bool reads = ky_store_scope_reads(&scope, e->keys, e->nkeys);
	ky_leave leave = ky_policy_leave_of_keys(reads, &v->keys, e->keys, e->nkeys, e->provider, e->tlp);
	if (leave < (q->own ? KY_LEAVE_OWN : KY_LEAVE_AUDIENCE))
		return false;
	if (strcmp(e->kind, "deleted") == 0) {
		return bare_body(p, e, uuid, index);
	}
	/* A third party's system gets the shared form without any restricted part: a part's
	 * own TLP is not kept beside it, so none is sent where a stricter one might forbid it. */
	ky_store_scope third = {.everything = false, .keys = NULL, .nkeys = 0};
	ky_store_row row = {.seq = e->seq, .date_added_us = e->date_us, .id = e->stix_id, .type = e->type,
			    .modified = e->modified, .raw = e->raw, .raw_len = e->raw_len, .shared = e->shared,
			    .shared_len = e->shared_len, .parts = e->parts, .provider = e->provider, .tlp = e->tlp,
			    .vid = e->vid};
	shown_body b = {p, e, uuid, 0, KY_OK};
	if (ky_store_row_shown(q->own ? &scope : &third, &row, body_of_shown, &b) != KY_OK || b.rc != KY_OK) {
		p->rc = b.rc;
		return false;
	}
	*index = b.index;
	if (e->tlp != KY_TLP_CLEAR && h->audit != NULL)
		ky_store_reads_note(&q->view->reads, e->vid);
	return true;
}

static int page_event(void *ctx, const ky_store_event *e)
{
	page *p = ctx;
	ky_webhook_hub *h = p->h;
	memset(p->same, 0, sizeof(p->same));
	json_t *object = e->raw != NULL && strcmp(e->kind, "object") == 0 ? json_loadb(e->raw, e->raw_len, 0, NULL) : NULL;
	for (size_t i = 0; i < h->nendpoints && p->rc == KY_OK; i++) {
		size_t index;
		if (!decide(h, p, &h->endpoints[i], e, object, &index))
			continue;
		p->rc = ky_grow((void **)&p->deliveries, &p->cap, p->n, sizeof(*p->deliveries));
		if (p->rc == KY_OK)
			p->deliveries[p->n++] =
				(ky_store_delivery_new){.webhook_id = h->endpoints[i].id, .seq = e->seq, .kind = e->kind,
							.body = index};
	}
	json_decref(object);
	/* The kinds are the event's, borrowed for the callback: deliveries keep a static one. */
	static const char *const kinds[] = {"object", "promotion", "revocation", "state", "deleted", "feedback",
					    "notification"};
	for (size_t i = p->n; i > 0 && p->deliveries[i - 1].seq == e->seq; i--) {
		const char *kind = "notification";
		for (size_t k = 0; k < sizeof(kinds) / sizeof(kinds[0]); k++)
			if (strcmp(kinds[k], e->kind) == 0)
				kind = kinds[k];
		p->deliveries[i - 1].kind = kind;
	}
	return p->rc;
}

static void page_clear(page *p)
{
	for (size_t i = 0; i < p->nbodies; i++)
		free(p->bodies[i]);
	free(p->bodies);
	free(p->deliveries);
}

static void audit_reads(ky_webhook_hub *h, bool queued)
{
	for (member_view *m = h->views; m != NULL; m = m->next) {
		if (m->reads.n == 0)
			continue;
		if (queued && h->audit != NULL) {
			ky_store_audit_entry e = {.at_us = ky_clock_now_us(), .member_id = m->member, .via = "webhook",
						  .action = "read",
						  .detail = m->reads.incomplete ? "{\"incomplete\":true}" : NULL};
			ky_audit_writer_read(h->audit, &e, &m->reads);
		}
		ky_store_reads_clear(&m->reads);
	}
}

/* Queues the deliveries of one page of events after the cursor: whether there may be more. */
static bool queue_page(ky_webhook_hub *h)
{
	uint64_t cursor = 0, head = 0;
	int rc = ky_store_webhook_cursor(h->qstore, &cursor);
	if (rc == KY_OK)
		rc = ky_store_events_head(h->qstore, &head);
	if (rc != KY_OK || head <= cursor) {
		if (rc != KY_OK)
			complain(h, "reading the queue's cursor");
		return false;
	}
	rc = load_endpoints(h);
	page p = {.h = h};
	uint64_t last = cursor;
	if (rc == KY_OK)
		rc = ky_store_events_read(h->qstore, cursor, EVENTS_PAGE, page_event, &p, &last);
	bool queued = false;
	if (rc == KY_OK && last > cursor)
		rc = ky_store_webhook_enqueue(h->qstore, cursor, last, p.deliveries, p.n, (const char *const *)p.bodies,
					      p.nbodies, &queued);
	audit_reads(h, queued);
	if (rc != KY_OK)
		complain(h, "queueing deliveries");
	if (queued) {
		atomic_fetch_add(&h->queued, p.n);
		if (p.n > 0)
			curl_multi_wakeup(h->multi);
	}
	page_clear(&p);
	return rc == KY_OK && last > cursor;
}

static void *queuer_main(void *arg)
{
	ky_webhook_hub *h = arg;
	for (;;) {
		pthread_mutex_lock(&h->lock);
		if (!h->poked && !h->stopping) {
			struct timespec until;
			clock_gettime(CLOCK_REALTIME, &until);
			long ns = until.tv_nsec + (long)(h->config->stream_poll_ms % 1000) * 1000000L;
			until.tv_sec += (time_t)(h->config->stream_poll_ms / 1000) + ns / 1000000000L;
			until.tv_nsec = ns % 1000000000L;
			pthread_cond_timedwait(&h->wake, &h->lock, &until);
		}
		bool stop = h->stopping;
		h->poked = false;
		pthread_mutex_unlock(&h->lock);
		if (stop)
			break;
		while (queue_page(h)) {
			pthread_mutex_lock(&h->lock);
			stop = h->stopping;
			pthread_mutex_unlock(&h->lock);
			if (stop)
				break;
		}
	}
	return NULL;
}

/* --- the sender ------------------------------------------------------------------------------- */

/* Whether addr is loopback, link-local, private, shared (carrier-grade NAT), unspecified,
 * multicast or broadcast: somewhere a member's URL must not make the hub connect to. */
static bool is_private(const struct sockaddr *addr)
{
	if (addr->sa_family == AF_INET) {
		uint32_t a = ntohl(((const struct sockaddr_in *)addr)->sin_addr.s_addr);
		return (a >> 24) == 0 || (a >> 24) == 10 || (a >> 24) == 127 || (a >> 16) == 0xA9FE ||
		       (a >> 20) == 0xAC1 || (a >> 16) == 0xC0A8 || (a >> 22) == (100u << 2 | 1) || (a >> 28) == 0xE ||
		       (a >> 28) == 0xF;
	}
	if (addr->sa_family == AF_INET6) {
		const uint8_t *b = ((const struct sockaddr_in6 *)addr)->sin6_addr.s6_addr;
		static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
		if (memcmp(b, mapped, 12) == 0) {
			struct sockaddr_in v4 = {.sin_family = AF_INET};
			memcpy(&v4.sin_addr, b + 12, 4);
			return is_private((const struct sockaddr *)&v4);
		}
		static const uint8_t zero[15] = {0};
		bool unspecified_or_loopback = memcmp(b, zero, 15) == 0 && (b[15] == 0 || b[15] == 1);
		return unspecified_or_loopback || (b[0] & 0xfe) == 0xfc || (b[0] == 0xfe && (b[1] & 0xc0) == 0x80) ||
		       b[0] == 0xff;
	}
	return true;
}

/* libcurl's socket, refused for a private address unless the configuration allows: checked
 * on the address connected to, so a name that resolves elsewhere later changes nothing. */
static curl_socket_t open_socket(void *ctx, curlsocktype purpose, struct curl_sockaddr *address)
{
	transfer *t = ctx;
	(void)purpose;
	if (!t->hub->config->webhook_private_addresses && is_private(&address->addr)) {
		char text[INET6_ADDRSTRLEN] = "?";
		const void *where = address->family == AF_INET ? (const void *)&((struct sockaddr_in *)&address->addr)->sin_addr
							       : (const void *)&((struct sockaddr_in6 *)&address->addr)->sin6_addr;
		inet_ntop(address->family, where, text, sizeof(text));
		snprintf(t->refused, sizeof(t->refused),
			 "the address %s is loopback, link-local or private, which [webhook] private_addresses refuses", text);
		return CURL_SOCKET_BAD;
	}
	return socket(address->family, address->socktype, address->protocol);
}

static size_t discard(char *data, size_t size, size_t n, void *ctx)
{
	(void)data;
	(void)ctx;
	return size * n;
}

static send_endpoint *send_endpoint_of(ky_webhook_hub *h, int64_t id)
{
	for (send_endpoint *e = h->send_endpoints; e != NULL; e = e->next)
		if (e->id == id)
			return e;
	if (!h->have_key) {
		if (hub_key(h->sstore, h->key) != KY_OK)
			return NULL;
		h->have_key = true;
	}
	ky_store_webhook *w = malloc(sizeof(*w));
	send_endpoint *e = calloc(1, sizeof(*e));
	uint8_t sealed[KY_WEBHOOK_SEALED_MAX];
	size_t n = 0;
	bool ok = w != NULL && e != NULL && ky_store_webhook_by_id(h->sstore, id, w) == KY_OK &&
		  sodium_hex2bin(sealed, sizeof(sealed), w->sealed, strlen(w->sealed), NULL, &n, NULL) == 0 &&
		  ky_webhook_open(h->key, id, sealed, n, e->secret) == KY_OK && (e->url = strdup(w->url)) != NULL;
	free(w);
	if (!ok) {
		if (e != NULL)
			sodium_memzero(e->secret, sizeof(e->secret));
		free(e);
		return NULL;
	}
	e->id = id;
	e->next = h->send_endpoints;
	h->send_endpoints = e;
	return e;
}

static void transfer_free(transfer *t)
{
	curl_slist_free_all(t->headers);
	if (t->easy != NULL)
		curl_easy_cleanup(t->easy);
	free(t->body);
	free(t);
}

typedef struct claim_ctx {
	ky_webhook_hub *h;
	ky_store_delivery_result *failed;  /* deliveries that could not start */
	size_t nfailed, cap;
} claim_ctx;

static void start_failed(claim_ctx *c, const ky_store_delivery *d, const char *why)
{
	if (ky_grow((void **)&c->failed, &c->cap, c->nfailed, sizeof(*c->failed)) != KY_OK)
		return; /* its lease ends and it is tried again */
	c->failed[c->nfailed++] = (ky_store_delivery_result){.id = d->id, .webhook_id = d->webhook_id, .error = why,
							      .retry_at_us = ky_clock_now_us() + FIRST_RETRY_US};
}

static int start_transfer(void *ctx, const ky_store_delivery *d)
{
	claim_ctx *c = ctx;
	ky_webhook_hub *h = c->h;
	send_endpoint *e = send_endpoint_of(h, d->webhook_id);
	if (e == NULL) {
		start_failed(c, d, "the hub could not read this endpoint's secret");
		return 0;
	}
	transfer *t = calloc(1, sizeof(*t));
	if (t == NULL || (t->body = malloc(d->body_len + 1)) == NULL || (t->easy = curl_easy_init()) == NULL) {
		if (t != NULL)
			transfer_free(t);
		return 0;
	}
	memcpy(t->body, d->body, d->body_len + 1);
	t->hub = h;
	t->id = d->id;
	t->webhook_id = d->webhook_id;
	t->created_us = d->created_us;
	t->attempts = d->attempts;
	char id[40], stamp[40], signature[KY_WEBHOOK_SIGNATURE_MAX + 32], sig[KY_WEBHOOK_SIGNATURE_MAX];
	int64_t seconds = ky_clock_now_us() / 1000000;
	snprintf(id, sizeof(id), "msg_%lld", (long long)d->id);
	if (ky_webhook_sign(e->secret, id, seconds, t->body, d->body_len, sig) != KY_OK) {
		transfer_free(t);
		start_failed(c, d, "the hub could not sign this delivery");
		return 0;
	}
	char id_header[64];
	snprintf(id_header, sizeof(id_header), "webhook-id: %s", id);
	snprintf(stamp, sizeof(stamp), "webhook-timestamp: %lld", (long long)seconds);
	snprintf(signature, sizeof(signature), "webhook-signature: %s", sig);
	const char *lines[] = {"Content-Type: application/json", id_header, stamp, signature, "Expect:"};
	for (size_t i = 0; i < sizeof(lines) / sizeof(lines[0]); i++)
		t->headers = curl_slist_append(t->headers, lines[i]);
	long timeout_ms = (long)h->config->webhook_timeout_seconds * 1000;
	CURL *easy = t->easy;
	curl_easy_setopt(easy, CURLOPT_URL, e->url);
	curl_easy_setopt(easy, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(easy, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(easy, CURLOPT_PROXY, "");
	curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(easy, CURLOPT_TIMEOUT_MS, timeout_ms);
	curl_easy_setopt(easy, CURLOPT_CONNECTTIMEOUT_MS, timeout_ms);
	curl_easy_setopt(easy, CURLOPT_HTTPHEADER, t->headers);
	curl_easy_setopt(easy, CURLOPT_POSTFIELDS, t->body);
	curl_easy_setopt(easy, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)d->body_len);
	curl_easy_setopt(easy, CURLOPT_USERAGENT, "kyoyu-webhook");
	curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, discard);
	curl_easy_setopt(easy, CURLOPT_OPENSOCKETFUNCTION, open_socket);
	curl_easy_setopt(easy, CURLOPT_OPENSOCKETDATA, t);
	curl_easy_setopt(easy, CURLOPT_PRIVATE, t);
	if (curl_multi_add_handle(h->multi, easy) != CURLM_OK) {
		transfer_free(t);
		return 0;
	}
	t->next = h->transfers;
	h->transfers = t;
	h->in_flight++;
	return 0;
}

/* The next attempt's time after attempt n failed, or 0: none (the delivery is dead). */
static int64_t retry_at(int64_t now, int64_t created_us, int attempts)
{
	if (now - created_us >= DEAD_AFTER_US)
		return 0;
	int64_t delay = FIRST_RETRY_US;
	for (int i = 1; i < attempts && delay < LAST_RETRY_US; i++)
		delay *= 2;
	return now + (delay < LAST_RETRY_US ? delay : LAST_RETRY_US);
}

static void unlink_transfer(ky_webhook_hub *h, transfer *t)
{
	for (transfer **p = &h->transfers; *p != NULL; p = &(*p)->next)
		if (*p == t) {
			*p = t->next;
			break;
		}
	h->in_flight--;
}

/* Records the transfers that ended. */
static void finish_transfers(ky_webhook_hub *h)
{
	ky_store_delivery_result results[64];
	char errors[64][KY_STORE_WEBHOOK_ERROR_MAX];
	transfer *ended[64];
	size_t n = 0;
	CURLMsg *msg;
	int left;
	int64_t now = ky_clock_now_us();
	while (n < 64 && (msg = curl_multi_info_read(h->multi, &left)) != NULL) {
		if (msg->msg != CURLMSG_DONE)
			continue;
		transfer *t = NULL;
		curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&t);
		long status = 0;
		curl_easy_getinfo(msg->easy_handle, CURLINFO_RESPONSE_CODE, &status);
		bool ok = msg->data.result == CURLE_OK && status >= 200 && status < 300;
		if (t->refused[0])
			snprintf(errors[n], sizeof(errors[n]), "%s", t->refused);
		else if (msg->data.result != CURLE_OK)
			snprintf(errors[n], sizeof(errors[n]), "%s", curl_easy_strerror(msg->data.result));
		else if (!ok)
			snprintf(errors[n], sizeof(errors[n]), "the receiver answered %ld", status);
		else
			errors[n][0] = '\0';
		results[n] = (ky_store_delivery_result){.id = t->id, .webhook_id = t->webhook_id, .delivered = ok,
							 .status = (int)status, .error = ok ? NULL : errors[n],
							 .retry_at_us = ok ? 0 : retry_at(now, t->created_us, t->attempts)};
		curl_multi_remove_handle(h->multi, msg->easy_handle);
		unlink_transfer(h, t);
		ended[n++] = t;
		atomic_fetch_add(ok ? &h->delivered : &h->failed, 1);
	}
	if (n > 0 && ky_store_webhook_record(h->sstore, results, n, now) != KY_OK)
		complain(h, "recording deliveries"); /* their leases end, and they are sent again */
	for (size_t i = 0; i < n; i++)
		transfer_free(ended[i]);
}

static void *sender_main(void *arg)
{
	ky_webhook_hub *h = arg;
	for (;;) {
		pthread_mutex_lock(&h->lock);
		bool stop = h->stopping;
		pthread_mutex_unlock(&h->lock);
		if (stop)
			break;
		int64_t now = ky_clock_now_us();
		if (now >= h->next_expire_us) {
			if (ky_store_webhook_expire(h->sstore, now - DEAD_AFTER_US, now, NULL) != KY_OK)
				complain(h, "ending deliveries older than a day");
			h->next_expire_us = now + 60 * 1000000LL;
		}
		size_t room = h->config->webhook_max_in_flight - h->in_flight;
		if (room > 0) {
			claim_ctx c = {h, NULL, 0, 0};
			int64_t lease = ((int64_t)h->config->webhook_timeout_seconds + 60) * 1000000LL;
			if (ky_store_webhook_claim(h->sstore, now, lease, PER_ENDPOINT, room, start_transfer, &c) != KY_OK)
				complain(h, "claiming deliveries");
			if (c.nfailed > 0 && ky_store_webhook_record(h->sstore, c.failed, c.nfailed, now) != KY_OK)
				complain(h, "recording deliveries");
			free(c.failed);
		}
		int running = 0;
		curl_multi_perform(h->multi, &running);
		finish_transfers(h);
		int ready = 0;
		curl_multi_poll(h->multi, NULL, 0, (int)h->config->stream_poll_ms, &ready);
		curl_multi_perform(h->multi, &running);
		finish_transfers(h);
	}
	return NULL;
}

/* --- starting and stopping -------------------------------------------------------------------- */

int ky_webhook_hub_new(ky_webhook_hub **out, const ky_webhook_options *o)
{
	*out = NULL;
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		return ky_error_set(KY_ERROR, "libcurl cannot start");
	ky_webhook_hub *h = calloc(1, sizeof(*h));
	if (h == NULL)
		return ky_error_set(KY_ENOMEM, "out of memory");
	h->config = o->config;
	h->grants = o->grants;
	h->audit = o->audit;
	pthread_mutex_init(&h->lock, NULL);
	pthread_cond_init(&h->wake, NULL);
	h->db = strdup(o->db);
	h->multi = curl_multi_init();
	int rc = h->db == NULL || h->multi == NULL ? ky_error_set(KY_ENOMEM, "out of memory") : KY_OK;
	ky_store_options options = {.synchronous_normal = o->config->synchronous_normal,
				    .retry_seconds = (int)o->config->retry_seconds};
	if (rc == KY_OK)
		rc = ky_store_open(&h->qstore, h->db, &options, NULL);
	if (rc == KY_OK)
		rc = ky_store_open(&h->sstore, h->db, &options, NULL);
	if (rc == KY_OK)
		rc = pthread_create(&h->queuer, NULL, queuer_main, h) == 0 ? KY_OK
									 : ky_error_set(KY_ERROR, "cannot start a thread");
	h->queuer_running = rc == KY_OK;
	if (rc == KY_OK)
		rc = pthread_create(&h->sender, NULL, sender_main, h) == 0 ? KY_OK
									 : ky_error_set(KY_ERROR, "cannot start a thread");
	h->sender_running = rc == KY_OK;
	if (rc != KY_OK) {
		ky_webhook_hub_free(h);
		return rc;
	}
	*out = h;
	return KY_OK;
}

void ky_webhook_hub_free(ky_webhook_hub *h)
{
	if (h == NULL)
		return;
	pthread_mutex_lock(&h->lock);
	h->stopping = true;
	pthread_cond_broadcast(&h->wake);
	pthread_mutex_unlock(&h->lock);
	if (h->multi != NULL)
		curl_multi_wakeup(h->multi);
	if (h->queuer_running)
		pthread_join(h->queuer, NULL);
	if (h->sender_running)
		pthread_join(h->sender, NULL);
	while (h->transfers != NULL) {
		transfer *t = h->transfers;
		h->transfers = t->next;
		curl_multi_remove_handle(h->multi, t->easy);
		transfer_free(t);
	}
	while (h->send_endpoints != NULL) {
		send_endpoint *e = h->send_endpoints;
		h->send_endpoints = e->next;
		sodium_memzero(e->secret, sizeof(e->secret));
		free(e->url);
		free(e);
	}
	sodium_memzero(h->key, sizeof(h->key));
	endpoints_clear(h);
	free(h->endpoints);
	views_free(h);
	if (h->multi != NULL)
		curl_multi_cleanup(h->multi);
	ky_store_close(h->qstore);
	ky_store_close(h->sstore);
	pthread_cond_destroy(&h->wake);
	pthread_mutex_destroy(&h->lock);
	free(h->db);
	free(h);
}
