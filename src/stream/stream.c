/*
 * stream: the live stream (stream.h).
 *
 * Who touches what: the pump thread alone reads the store, decides and builds frames, and
 * walks the list of clients; a client's queue is shared with the HTTP thread that reads it,
 * under the client's lock; the hub's lock guards the list of clients being opened and the
 * counters. Lock order: the hub's, then a client's, then its HTTP stream's (ky_http_stream_wake
 * and ky_http_stream_hold under the client's lock, so that neither follows ky_stream_done).
 * A frame reaches a waiting client's socket from the pump itself, in one send (flush); the
 * HTTP thread sends only what the socket would not take then.
 */
#include "stream/stream.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>

#include <jansson.h>

#include "auth/auth.h"
#include "council/council.h"
#include "store/store_events.h"
#include "store/store_reports.h"
#include "util/ky_clock.h"
#include "util/ky_error.h"

#define DAY_US ((int64_t)86400 * 1000000)
/* Events read from the store at once, live or catching a client up. */
#define PAGE 256
/* How often membership is checked for a contributor's good standing, which moves with the
 * clock rather than with a change: within the 5 seconds. */
#define STANDING_MS 4000
/* How often the record of changes is looked at. */
#define COUNCIL_MS 1000
/* How often read versions go to the audit log, and old events are pruned. */
#define AUDIT_MS 1000
#define PRUNE_MS 60000

/* One frame of the stream, shared by the clients it is queued on. */
typedef struct frame {
	atomic_int refs;
	uint64_t seq;       /* its event's number; 0 for a comment */
	size_t len;
	char text[];
} frame;

static frame *frame_new(uint64_t seq, size_t len)
{
	frame *f = malloc(sizeof(*f) + len + 1);
	if (f != NULL) {
		atomic_init(&f->refs, 1);
		f->seq = seq;
		f->len = len;
	}
	return f;
}

static void frame_drop(frame *f)
{
	if (f != NULL && atomic_fetch_sub(&f->refs, 1) == 1)
		free(f);
}

/* A key's viewer, shared by the clients opened with that key: the pump's alone. */
typedef struct watcher {
	struct watcher *next;
	ky_viewer viewer;
	unsigned clients;
	bool denied;            /* its key no longer reads: its clients end */
	const char *why;        /* and why, for the last comment */
	/* The decision for the event in hand: */
	uint64_t decided;       /* the event it is for */
	frame *frame;           /* what it reads of it; NULL: nothing */
	ky_store_reads reads;   /* versions handed over since the last audit entry */
} watcher;

struct ky_stream_client {
	ky_stream_client *next;   /* the hub's list (the pump's, or the opening ones') */
	ky_stream_hub *hub;
	pthread_mutex_t lock;
	/* Under lock: the queue, and how the client ends. */
	frame **queue;
	size_t head, count, cap;
	size_t offset;            /* bytes of the head frame already read */
	size_t queued;            /* bytes queued */
	bool ending;              /* the queue's end is the stream's */
	bool gone;                /* done: the connection is over */
	bool broken;              /* its socket failed a write: the answer ends */
	bool want_more;           /* catching up, and it read its queue down */
	ky_http_stream *http;
	/* The pump's: */
	ky_auth_identity who;
	watcher *w;
	ky_stream_filter *filter;  /* NULL: everything (most clients: a filter is 1 KiB) */
	bool resume;
	uint64_t after;           /* the last event queued or passed over */
	bool live;                /* caught up: it gets the live events */
	bool started;
	bool dirty;               /* frames queued since its last flush (while deferring) */
};

struct ky_stream_hub {
	char *db;
	const ky_config *config;
	const ky_policy_grants *grants;
	ky_audit_writer *audit;
	ky_store *store;
	pthread_t pump;
	bool pump_running;
	pthread_mutex_t lock;
	pthread_cond_t wake;
	bool poked, stopping;
	ky_stream_client *opening;   /* under lock: opened, not yet the pump's */
	size_t nclients;             /* under lock */
	uint64_t ended_behind;       /* under lock */
	/* The pump's: */
	ky_stream_client *clients;
	watcher *watchers;
	uint64_t position;           /* the last event read live */
	bool deferring;              /* reading a page of events: flushes wait for its end, so that
				      * a client gets the page's frames in one send */
	int64_t council;             /* the record of changes as last seen */
	int64_t next_council_ms, next_standing_ms, next_heartbeat_ms, next_audit_ms, next_prune_ms, next_complaint_ms;
	ky_stream_collections collections;
};

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* --- the clients' side ---------------------------------------------------------------------- */

/* Takes n bytes off the front of c's queue (under its lock). */
static void consume(ky_stream_client *c, size_t n)
{
	while (n > 0) {
		frame *f = c->queue[c->head];
		size_t take = f->len - c->offset < n ? f->len - c->offset : n;
		c->offset += take;
		n -= take;
		if (c->offset == f->len) {
			c->queued -= f->len;
			frame_drop(f);
			c->head = (c->head + 1) % c->cap;
			c->count--;
			c->offset = 0;
		}
	}
}

/* Frames handed to one send at most: a client catching up has hundreds queued. */
#define SEND_FRAMES 64

/* Writes c's queue to its socket (under c's lock) as far as the socket takes it now: true when
 * the queue is empty after, false when some is left (the socket is full) or the socket failed
 * (c->broken). */
static bool send_queued(ky_stream_client *c, int fd)
{
	while (c->count > 0 && !c->broken) {
		struct iovec iov[SEND_FRAMES];
		size_t n = 0, total = 0;
		for (; n < SEND_FRAMES && n < c->count; n++) {
			frame *f = c->queue[(c->head + n) % c->cap];
			size_t skip = n == 0 ? c->offset : 0;
			iov[n] = (struct iovec){.iov_base = f->text + skip, .iov_len = f->len - skip};
			total += f->len - skip;
		}
		struct msghdr m = {.msg_iov = iov, .msg_iovlen = n};
		ssize_t w = sendmsg(fd, &m, MSG_DONTWAIT | MSG_NOSIGNAL);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0) {
			c->broken = errno != EAGAIN && errno != EWOULDBLOCK;
			return false;
		}
		consume(c, (size_t)w);
		if ((size_t)w < total)
			return false;
	}
	return c->count == 0 && !c->broken;
}

/* Sends what c has queued (under c's lock): straight to the socket while its connection waits
 * and the socket takes it, else by waking the connection, whose read sends the rest. */
static void flush(ky_stream_client *c)
{
	if (c->http == NULL || c->gone)
		return;
	int fd = ky_http_stream_hold(c->http);
	if (fd < 0) {
		ky_http_stream_wake(c->http);
		return;
	}
	bool sent = send_queued(c, fd);
	ky_http_stream_release(c->http, !sent || c->ending);
}

long ky_stream_read(void *client, char *buf, size_t max)
{
	ky_stream_client *c = client;
	size_t n = 0;
	bool poke = false;
	pthread_mutex_lock(&c->lock);
	/* The library is in this call and leaves the socket alone meanwhile: what the socket takes
	 * now goes straight to it, the rest through buf. */
	int fd = c->http != NULL ? ky_http_stream_socket(c->http) : -1;
	if (fd >= 0 && c->count > 0)
		send_queued(c, fd);
	while (n < max && c->count > 0 && !c->broken) {
		frame *f = c->queue[c->head];
		size_t take = f->len - c->offset < max - n ? f->len - c->offset : max - n;
		memcpy(buf + n, f->text + c->offset, take);
		n += take;
		consume(c, take);
	}
	bool end = c->broken || (n == 0 && c->count == 0 && c->ending);
	/* A client catching up is fed as it reads: half its buffer read, the pump reads more. */
	if (c->want_more && c->queued < c->hub->config->stream_buffer_bytes / 2) {
		c->want_more = false;
		poke = true;
	}
	pthread_mutex_unlock(&c->lock);
	if (poke)
		ky_stream_hub_poke(c->hub);
	return end ? -1 : (long)n;
}

void ky_stream_done(void *client)
{
	ky_stream_client *c = client;
	/* Once gone is seen the pump may free c: nothing of it is read after the unlock. */
	ky_stream_hub *hub = c->hub;
	pthread_mutex_lock(&c->lock);
	c->gone = true;
	c->http = NULL;
	pthread_mutex_unlock(&c->lock);
	ky_stream_hub_poke(hub);
}

void ky_stream_attach(ky_stream_client *c, ky_http_stream *stream)
{
	pthread_mutex_lock(&c->lock);
	if (!c->gone)
		c->http = stream;
	bool queued = c->count > 0 || c->ending;
	pthread_mutex_unlock(&c->lock);
	if (queued)
		ky_http_stream_wake(stream);
}

void ky_stream_hub_poke(void *hub)
{
	ky_stream_hub *h = hub;
	pthread_mutex_lock(&h->lock);
	h->poked = true;
	pthread_cond_signal(&h->wake);
	pthread_mutex_unlock(&h->lock);
}

int ky_stream_open(ky_stream_hub *h, const ky_auth_identity *who, const ky_stream_filter *f, bool resume,
		   uint64_t after, ky_stream_client **out)
{
	*out = NULL;
	ky_stream_client *c = calloc(1, sizeof(*c));
	if (c == NULL)
		return ky_error_set(KY_ENOMEM, "out of memory");
	pthread_mutex_init(&c->lock, NULL);
	c->hub = h;
	c->who = *who;
	if (f->ntypes > 0 || f->ncollections > 0 || f->min_confidence >= 0 || f->states != 0) {
		c->filter = malloc(sizeof(*c->filter));
		if (c->filter == NULL) {
			pthread_mutex_destroy(&c->lock);
			free(c);
			return ky_error_set(KY_ENOMEM, "out of memory");
		}
		*c->filter = *f;
	}
	c->resume = resume;
	c->after = after;
	pthread_mutex_lock(&h->lock);
	bool full = h->nclients >= h->config->stream_max_clients;
	if (!full) {
		h->nclients++;
		c->next = h->opening;
		h->opening = c;
		h->poked = true;
		pthread_cond_signal(&h->wake);
	}
	pthread_mutex_unlock(&h->lock);
	if (full) {
		pthread_mutex_destroy(&c->lock);
		free(c->filter);
		free(c);
		return ky_error_set(KY_ETOOMANY, "this hub holds %zu streams, its most; try again later",
				    h->config->stream_max_clients);
	}
	*out = c;
	return KY_OK;
}

/* --- queueing (the pump) --------------------------------------------------------------------- */

/* Queues f on c (taking a reference) unless c's buffer is full: false then. */
static bool push(ky_stream_client *c, frame *f, size_t limit)
{
	if (c->queued + f->len > limit && c->count > 0)
		return false;
	if (c->count == c->cap) {
		size_t cap = c->cap ? c->cap * 2 : 8;
		frame **grown = malloc(cap * sizeof(*grown));
		if (grown == NULL)
			return false;
		for (size_t i = 0; i < c->count; i++)
			grown[i] = c->queue[(c->head + i) % c->cap];
		free(c->queue);
		c->queue = grown;
		c->cap = cap;
		c->head = 0;
	}
	atomic_fetch_add(&f->refs, 1);
	c->queue[(c->head + c->count) % c->cap] = f;
	c->count++;
	c->queued += f->len;
	return true;
}

static frame *comment(const char *text)
{
	size_t len = strlen(text);
	frame *f = frame_new(0, len + 3);
	if (f != NULL)
		snprintf(f->text, len + 4, ": %s\n", text);
	return f;
}

/* Ends c after what is queued, with a last comment saying why and where to resume. */
static void end_client(ky_stream_client *c, const char *why)
{
	char text[256];
	snprintf(text, sizeof(text), "%s; resume with Last-Event-ID: %llu\n", why, (unsigned long long)c->after);
	frame *f = comment(text);
	pthread_mutex_lock(&c->lock);
	/* The last comment fits whatever the buffer holds. */
	if (!c->ending && f != NULL)
		push(c, f, SIZE_MAX);
	c->ending = true;
	flush(c);
	pthread_mutex_unlock(&c->lock);
	frame_drop(f);
}

/* Queues f on c and wakes its connection; a client whose buffer is full is too far behind. */
static void deliver(ky_stream_hub *h, ky_stream_client *c, frame *f)
{
	pthread_mutex_lock(&c->lock);
	bool queued = c->ending || c->gone || push(c, f, h->config->stream_buffer_bytes);
	if (queued && h->deferring)
		c->dirty = true;
	else if (queued)
		flush(c);
	pthread_mutex_unlock(&c->lock);
	if (!queued) {
		pthread_mutex_lock(&h->lock);
		h->ended_behind++;
		pthread_mutex_unlock(&h->lock);
		end_client(c, "too far behind");
	}
}

/* --- deciding and framing (the pump) ---------------------------------------------------------- */

static int collection_cell(void *ctx, const ky_store_collection *col)
{
	ky_stream_collections *cache = ctx;
	if (cache->n == sizeof(cache->items) / sizeof(cache->items[0]))
		return 1;
	cache->items[cache->n].id = col->id;
	snprintf(cache->items[cache->n].uuid, sizeof(cache->items[0].uuid), "%s", col->uuid);
	snprintf(cache->items[cache->n].name, sizeof(cache->items[0].name), "%s", col->name);
	cache->n++;
	return 0;
}

const char *ky_stream_collection_name(ky_store *s, ky_stream_collections *cache, int64_t id, const char **uuid)
{
	for (int pass = 0; pass < 2; pass++) {
		for (size_t i = 0; i < cache->n; i++)
			if (cache->items[i].id == id) {
				*uuid = cache->items[i].uuid;
				return cache->items[i].name;
			}
		if (pass == 0) {
			cache->n = 0;
			ky_store_collection_list(s, collection_cell, cache);
		}
	}
	return NULL;
}

static const char *collection_name(ky_stream_hub *h, int64_t id, const char **uuid)
{
	return ky_stream_collection_name(h->store, &h->collections, id, uuid);
}

char *ky_stream_envelope(const ky_store_event *e, const char *collection_uuid, const char *shown, size_t shown_len,
			 size_t *len)
{
	char added[32];
	ky_clock_format(e->date_us, added);
	json_t *env = json_pack("{s:I,s:s,s:s}", "event", (json_int_t)e->seq, "kind", e->kind, "date_added", added);
	if (env == NULL)
		return NULL;
	if (*e->stix_id)
		json_object_set_new(env, "id", json_string(e->stix_id));
	if (e->type != NULL)
		json_object_set_new(env, "type", json_string(e->type));
	if (e->modified != NULL && *e->modified)
		json_object_set_new(env, "version", json_string(e->modified));
	if (e->vid != 0 && e->tlp >= 0)
		json_object_set_new(env, "tlp", json_string(ky_tlp_name((ky_tlp)e->tlp)));
	if (collection_uuid != NULL)
		json_object_set_new(env, "collection", json_string(collection_uuid));
	if (e->report_state != NULL && strcmp(e->kind, "object") == 0)
		json_object_set_new(env, "report_state", json_string(e->report_state));
	if (e->detail != NULL)
		json_object_set_new(env, e->member ? "notification" : "detail", json_loads(e->detail, 0, NULL));
	char *head = json_dumps(env, JSON_COMPACT | JSON_PRESERVE_ORDER);
	json_decref(env);
	if (head == NULL)
		return NULL;
	size_t head_len = strlen(head) - 1; /* without its closing brace */
	/* The object goes in as stored (TAXII's bytes). */
	char *text = malloc(head_len + (shown ? 10 + shown_len : 0) + 2);
	if (text != NULL) {
		char *p = text;
		memcpy(p, head, head_len);
		p += head_len;
		if (shown != NULL) {
			memcpy(p, ",\"object\":", 10);
			memcpy(p + 10, shown, shown_len);
			p += 10 + shown_len;
		}
		*p++ = '}';
		*p = '\0';
		*len = (size_t)(p - text);
	}
	free(head);
	return text;
}

/* The frame of event e for a viewer that gets shown (the object as it may see it, or none),
 * as SSE: its id, its kind, and one data line per line of the JSON envelope. */
static frame *event_frame(ky_stream_hub *h, const ky_store_event *e, const char *shown, size_t shown_len)
{
	const char *uuid = NULL;
	if (e->collection_id != 0)
		collection_name(h, e->collection_id, &uuid);
	size_t env_len;
	char *env = ky_stream_envelope(e, uuid, shown, shown_len, &env_len);
	if (env == NULL)
		return NULL;
	/* An object stored over several lines: its line breaks become data lines of their own,
	 * which a client joins back with line breaks. */
	size_t breaks = 0;
	for (size_t i = 0; i < env_len; i++)
		breaks += env[i] == '\n';
	char prefix[80];
	int plen = snprintf(prefix, sizeof(prefix), "id: %llu\nevent: %s\ndata: ", (unsigned long long)e->seq, e->kind);
	frame *f = frame_new(e->seq, (size_t)plen + env_len + breaks * 6 + 2);
	if (f != NULL) {
		char *p = f->text;
		memcpy(p, prefix, (size_t)plen);
		p += plen;
		for (size_t i = 0; i < env_len; i++) {
			if (env[i] == '\r')
				continue;
			*p++ = env[i];
			if (env[i] == '\n') {
				memcpy(p, "data: ", 6);
				p += 6;
			}
		}
		memcpy(p, "\n\n", 2);
		p += 2;
		f->len = (size_t)(p - f->text);
		*p = '\0';
	}
	free(env);
	return f;
}

/* Frames the form of an event a viewer gets, in ky_store_row_shown's callback: a form
 * without some parts lives only for the call. */
typedef struct framing {
	ky_stream_hub *h;
	const ky_store_event *e;
	frame **same;
	frame *frame;
} framing;

static int frame_shown(void *ctx, const ky_store_row *row)
{
	framing *k = ctx;
	int form = row->raw == k->e->raw ? 0 : row->raw == k->e->shared ? 1 : -1;
	if (form >= 0 && k->same[form] != NULL) {
		atomic_fetch_add(&k->same[form]->refs, 1);
		k->frame = k->same[form];
		return 0;
	}
	k->frame = event_frame(k->h, k->e, row->raw, row->raw_len);
	if (form >= 0 && k->frame != NULL) {
		k->same[form] = k->frame;
		atomic_fetch_add(&k->frame->refs, 1);
	}
	return 0;
}

/* Whether watcher w reads event e, and its frame for it into w->frame (reused between the
 * viewers that read the same form: same[0] the stored form, same[1] the shared form). */
static void decide(ky_stream_hub *h, watcher *w, const ky_store_event *e, frame *same[2])
{
	w->decided = e->seq;
	w->frame = NULL;
	const ky_viewer *v = &w->viewer;
	if (e->member != 0) {
		if (e->member == v->who.member_id)
			w->frame = event_frame(h, e, NULL, 0);
		return;
	}
	if (e->vid == 0 || e->tlp < 0)
		return;
	ky_policy_keys own;
	ky_store_scope scope;
	const char *uuid;
	const char *name = e->collection_id ? collection_name(h, e->collection_id, &uuid) : NULL;
	if (e->collection_id != 0) {
		if (name == NULL || !ky_policy_may_read(h->grants, name, v))
			return;
		scope = ky_policy_collection_scope(name, v, &own);
	} else {
		scope = ky_policy_scope(v);
	}
	scope.reads = NULL;
	if (!ky_store_scope_reads(&scope, e->keys, e->nkeys))
		return;
	if (strcmp(e->kind, "deleted") == 0) {
		w->frame = event_frame(h, e, NULL, 0);
		return;
	}
	ky_store_row row = {.seq = e->seq, .date_added_us = e->date_us, .id = e->stix_id, .type = e->type,
			    .modified = e->modified, .raw = e->raw, .raw_len = e->raw_len, .shared = e->shared,
			    .shared_len = e->shared_len, .parts = e->parts, .provider = e->provider, .tlp = e->tlp,
			    .vid = e->vid};
	framing k = {h, e, same, NULL};
	if (ky_store_row_shown(&scope, &row, frame_shown, &k) != KY_OK) {
		frame_drop(k.frame);
		return;
	}
	w->frame = k.frame;
	if (w->frame != NULL && e->tlp != KY_TLP_CLEAR && h->audit != NULL)
		ky_store_reads_note(&w->reads, e->vid);
}

bool ky_stream_filter_wants(const ky_stream_filter *f, const ky_store_event *e, const json_t *object)
{
	if (f == NULL)
		return true;
	if (f->ntypes > 0 && e->type != NULL) {
		bool found = false;
		for (size_t i = 0; i < f->ntypes && !found; i++)
			found = strcmp(f->types[i], e->type) == 0;
		if (!found)
			return false;
	}
	if (f->ncollections > 0 && e->collection_id != 0) {
		bool found = false;
		for (size_t i = 0; i < f->ncollections && !found; i++)
			found = f->collections[i] == e->collection_id;
		if (!found)
			return false;
	}
	bool about_object = strcmp(e->kind, "object") == 0;
	if (f->min_confidence >= 0 && about_object) {
		json_t *confidence = json_object_get(object, "confidence");
		if (!json_is_integer(confidence) || json_integer_value(confidence) < f->min_confidence)
			return false;
	}
	bool about_state = strcmp(e->kind, "state") == 0 || strcmp(e->kind, "promotion") == 0 ||
			   strcmp(e->kind, "revocation") == 0;
	if (f->states != 0 && (about_object || about_state)) {
		ky_report_state state;
		if (e->report_state == NULL || !ky_report_state_parse(e->report_state, &state) || !(f->states & (1u << state)))
			return false;
	}
	return true;
}

/* Hands event e to client c if its viewer reads it and it wants it. */
static void offer(ky_stream_hub *h, ky_stream_client *c, const ky_store_event *e, frame *same[2],
		  const json_t *object)
{
	watcher *w = c->w;
	if (w->decided != e->seq) {
		frame_drop(w->frame);
		decide(h, w, e, same);
	}
	if (w->frame != NULL && ky_stream_filter_wants(c->filter, e, object))
		deliver(h, c, w->frame);
	c->after = e->seq;
}

/* The event's object, parsed once for the filters that look inside (confidence). */
static json_t *object_of(const ky_store_event *e)
{
	return e->raw != NULL && strcmp(e->kind, "object") == 0 ? json_loadb(e->raw, e->raw_len, 0, NULL) : NULL;
}

/* Drops w's decision for the event in hand, once every client had it. */
static void forget(watcher *w)
{
	frame_drop(w->frame);
	w->frame = NULL;
	w->decided = 0;
}

static void forget_decisions(ky_stream_hub *h)
{
	for (watcher *w = h->watchers; w != NULL; w = w->next)
		forget(w);
}

/* --- the live events ------------------------------------------------------------------------- */

static int live_event(void *ctx, const ky_store_event *e)
{
	ky_stream_hub *h = ctx;
	frame *same[2] = {NULL, NULL};
	json_t *object = object_of(e);
	for (ky_stream_client *c = h->clients; c != NULL; c = c->next)
		if (c->live && c->started)
			offer(h, c, e, same, object);
	json_decref(object);
	frame_drop(same[0]);
	frame_drop(same[1]);
	forget_decisions(h);
	return 0;
}

/* A store failure of the pump goes to the server's log, once a minute at most: the pump tries
 * again at its next turn, and the clients wait meanwhile. */
static void complain(ky_stream_hub *h, const char *doing)
{
	int64_t now = now_ms();
	if (now < h->next_complaint_ms)
		return;
	h->next_complaint_ms = now + 60000;
	fprintf(stderr, "kyoyu: the live stream, %s: %s\n", doing, ky_error_last());
}

/* Flushes c if it got frames while the pump was deferring. */
static void flush_dirty(ky_stream_client *c)
{
	if (c->dirty) {
		c->dirty = false;
		pthread_mutex_lock(&c->lock);
		flush(c);
		pthread_mutex_unlock(&c->lock);
	}
}

/* The events since the pump's position, a page at a time: when the pump falls behind (many
 * events a second, many clients), each client gets a page's frames in one send, so the cost
 * per client stays one send per page however many events it holds. */
static void read_live(ky_stream_hub *h)
{
	for (;;) {
		uint64_t last = h->position;
		h->deferring = true;
		int rc = ky_store_events_read(h->store, h->position, PAGE, live_event, h, &last);
		h->deferring = false;
		for (ky_stream_client *c = h->clients; c != NULL; c = c->next)
			flush_dirty(c);
		if (rc != KY_OK) {
			complain(h, "reading the hub's events");
			return;
		}
		bool more = last - h->position >= PAGE;
		h->position = last;
		if (!more)
			return;
	}
}

/* --- catching a client up ---------------------------------------------------------------------- */

typedef struct catching {
	ky_stream_hub *h;
	ky_stream_client *c;
} catching;

static int catch_up_event(void *ctx, const ky_store_event *e)
{
	catching *k = ctx;
	/* What is past the live point comes with the live events. */
	if (e->seq > k->h->position)
		return 1;
	frame *same[2] = {NULL, NULL};
	json_t *object = object_of(e);
	offer(k->h, k->c, e, same, object);
	json_decref(object);
	frame_drop(same[0]);
	frame_drop(same[1]);
	forget(k->c->w);
	pthread_mutex_lock(&k->c->lock);
	bool full = k->c->queued >= k->h->config->stream_buffer_bytes / 2 || k->c->ending;
	pthread_mutex_unlock(&k->c->lock);
	return full ? 1 : 0;
}

/* Says where history ends and live events begin: a script replaying the stream knows when it
 * has everything it missed, and a new client that its stream is open. */
static void caught_up(ky_stream_client *c)
{
	char text[64];
	snprintf(text, sizeof(text), "caught up at %llu\n", (unsigned long long)c->after);
	frame *f = comment(text);
	if (f != NULL) {
		pthread_mutex_lock(&c->lock);
		if (!c->ending && !c->gone && push(c, f, SIZE_MAX))
			flush(c);
		pthread_mutex_unlock(&c->lock);
		frame_drop(f);
	}
}

/* Reads c's next events from the store while it has room; live once it reaches the pump. */
static void catch_up(ky_stream_hub *h, ky_stream_client *c)
{
	while (!c->live) {
		pthread_mutex_lock(&c->lock);
		bool room = c->queued < h->config->stream_buffer_bytes / 2 && !c->ending && !c->gone;
		c->want_more = !room;
		pthread_mutex_unlock(&c->lock);
		if (!room)
			return;
		catching k = {h, c};
		uint64_t before = c->after, last;
		h->deferring = true;
		int rc = ky_store_events_read(h->store, c->after, PAGE, catch_up_event, &k, &last);
		h->deferring = false;
		flush_dirty(c);
		if (rc != KY_OK) {
			complain(h, "catching a client up");
			return;
		}
		if (c->after >= h->position || (c->after == before && last == before)) {
			/* Nothing more below the live point: from here on it is live. */
			c->after = h->position;
			c->live = true;
			caught_up(c);
		}
	}
}

/* --- starting a client ------------------------------------------------------------------------ */

static void overflow(ky_stream_hub *h, ky_stream_client *c, uint64_t oldest, int64_t cutoff_us)
{
	char added_after[32];
	ky_clock_format(cutoff_us, added_after);
	char text[512];
	int n = snprintf(text, sizeof(text),
			 "id: %llu\nevent: overflow\ndata: {\"kind\":\"overflow\",\"oldest\":%llu,\"added_after\":\"%s\"}\n\n",
			 (unsigned long long)(oldest ? oldest - 1 : h->position), (unsigned long long)oldest, added_after);
	frame *f = frame_new(oldest ? oldest - 1 : h->position, (size_t)n);
	if (f != NULL) {
		memcpy(f->text, text, (size_t)n + 1);
		deliver(h, c, f);
		frame_drop(f);
	}
	c->after = oldest ? oldest - 1 : h->position;
}

static watcher *watcher_of(ky_stream_hub *h, const ky_auth_identity *who)
{
	for (watcher *w = h->watchers; w != NULL; w = w->next)
		if (w->viewer.who.key_id == who->key_id && !w->denied) {
			w->clients++;
			return w;
		}
	watcher *w = calloc(1, sizeof(*w));
	if (w == NULL)
		return NULL;
	if (ky_policy_viewer(h->store, h->grants, who, &w->viewer) != KY_OK) {
		free(w);
		return NULL;
	}
	w->clients = 1;
	w->next = h->watchers;
	h->watchers = w;
	return w;
}

/* Places a new client: its viewer, and where it starts (now, where it left, or the oldest
 * event held, with an overflow event, when that is before the retention window). */
static void start(ky_stream_hub *h, ky_stream_client *c)
{
	c->started = true;
	c->w = watcher_of(h, &c->who);
	if (c->w == NULL) {
		end_client(c, "the hub could not read your membership now");
		c->live = true;
		return;
	}
	if (!c->resume) {
		c->after = h->position;
		c->live = true;
		caught_up(c);
		return;
	}
	int64_t cutoff = ky_clock_now_us() - (int64_t)h->config->stream_retention_days * DAY_US;
	uint64_t next = 0, oldest = 0;
	int64_t next_date = 0;
	int rc = ky_store_events_next(h->store, c->after, &next, &next_date);
	if (rc == KY_OK && (c->after > h->position || (next != 0 && next_date < cutoff))) {
		rc = ky_store_events_since(h->store, cutoff, &oldest);
		if (rc == KY_OK)
			overflow(h, c, oldest, cutoff);
	}
	if (rc != KY_OK) {
		end_client(c, "the hub could not read its events now");
		c->live = true;
		return;
	}
	c->live = c->after >= h->position;
	if (c->live)
		caught_up(c);
	else
		catch_up(h, c);
}

/* --- following membership ----------------------------------------------------------------------- */

static bool may_stream(const ky_auth_identity *who, const char **why)
{
	if (who->suspended)
		*why = "the membership is suspended";
	else if (ky_council_rules_pending(who))
		*why = "the hub's rules changed: accept them, then reconnect";
	else
		return true;
	return false;
}

/* Checks each key again (council: the record of changes moved) or each contributor's
 * standing, and rebuilds the viewers; those that may no longer read end their clients. */
static void recheck(ky_stream_hub *h, bool council)
{
	for (watcher *w = h->watchers; w != NULL; w = w->next) {
		if (w->denied || (!council && w->viewer.who.tier != KY_TIER_CONTRIBUTOR))
			continue;
		ky_auth_identity who = w->viewer.who;
		const char *why = NULL;
		int rc = council ? ky_auth_recheck(h->store, &w->viewer.who, &who) : KY_OK;
		if (rc == KY_EDENIED)
			why = "the key was revoked or its user disabled";
		else if (rc == KY_OK && !may_stream(&who, &why))
			;
		else if (rc == KY_OK && ky_policy_viewer(h->store, h->grants, &who, &w->viewer) != KY_OK)
			why = NULL; /* the store failed: the old viewer holds until the next check */
		if (why != NULL) {
			w->denied = true;
			w->why = why;
		}
	}
	for (ky_stream_client *c = h->clients; c != NULL; c = c->next)
		if (c->w != NULL && c->w->denied)
			end_client(c, c->w->why);
}

/* --- the pump ----------------------------------------------------------------------------------- */

static void release(ky_stream_hub *h, ky_stream_client *c)
{
	for (size_t i = 0; i < c->count; i++)
		frame_drop(c->queue[(c->head + i) % c->cap]);
	free(c->queue);
	pthread_mutex_destroy(&c->lock);
	if (c->w != NULL && --c->w->clients == 0) {
		for (watcher **at = &h->watchers; *at != NULL; at = &(*at)->next)
			if (*at == c->w) {
				*at = c->w->next;
				break;
			}
		frame_drop(c->w->frame);
		if (h->audit != NULL && c->w->reads.n > 0) {
			ky_store_audit_entry e = {.at_us = ky_clock_now_us(), .user_id = c->w->viewer.who.user_id,
						  .member_id = c->w->viewer.who.member_id, .via = "GET /api/v1/stream",
						  .action = "read"};
			ky_audit_writer_read(h->audit, &e, &c->w->reads);
		}
		ky_store_reads_clear(&c->w->reads);
		free(c->w);
	}
	free(c->filter);
	free(c);
}

/* The clients that are done are freed; new ones join. */
static void tidy(ky_stream_hub *h)
{
	pthread_mutex_lock(&h->lock);
	ky_stream_client *fresh = h->opening;
	h->opening = NULL;
	size_t gone = 0;
	for (ky_stream_client **at = &h->clients; *at != NULL;) {
		ky_stream_client *c = *at;
		pthread_mutex_lock(&c->lock);
		bool is_gone = c->gone;
		pthread_mutex_unlock(&c->lock);
		if (is_gone) {
			*at = c->next;
			release(h, c);
			gone++;
		} else {
			at = &c->next;
		}
	}
	h->nclients -= gone;
	pthread_mutex_unlock(&h->lock);
	while (fresh != NULL) {
		ky_stream_client *c = fresh;
		fresh = c->next;
		c->next = h->clients;
		h->clients = c;
		start(h, c);
	}
}

static void audit_reads(ky_stream_hub *h)
{
	for (watcher *w = h->watchers; h->audit != NULL && w != NULL; w = w->next) {
		if (w->reads.n == 0)
			continue;
		ky_store_audit_entry e = {.at_us = ky_clock_now_us(), .user_id = w->viewer.who.user_id,
					  .member_id = w->viewer.who.member_id, .via = "GET /api/v1/stream",
					  .action = "read", .detail = w->reads.incomplete ? "{\"incomplete\":true}" : NULL};
		ky_audit_writer_read(h->audit, &e, &w->reads);
		ky_store_reads_clear(&w->reads);
	}
}

static void heartbeat(ky_stream_hub *h)
{
	frame *f = comment("");
	for (ky_stream_client *c = h->clients; f != NULL && c != NULL; c = c->next) {
		pthread_mutex_lock(&c->lock);
		/* A client with frames queued is not idle; a full one is left to its fate. */
		if (c->count == 0 && !c->ending && !c->gone && push(c, f, SIZE_MAX) && c->http != NULL)
			ky_http_stream_wake(c->http);
		pthread_mutex_unlock(&c->lock);
	}
	frame_drop(f);
}

static void *pump_main(void *arg)
{
	ky_stream_hub *h = arg;
	for (;;) {
		pthread_mutex_lock(&h->lock);
		if (!h->poked && !h->stopping) {
			struct timespec until;
			clock_gettime(CLOCK_MONOTONIC, &until);
			int64_t ns = until.tv_nsec + (int64_t)h->config->stream_poll_ms * 1000000;
			until.tv_sec += ns / 1000000000;
			until.tv_nsec = ns % 1000000000;
			pthread_cond_timedwait(&h->wake, &h->lock, &until);
		}
		bool stopping = h->stopping;
		h->poked = false;
		pthread_mutex_unlock(&h->lock);
		if (stopping)
			break;
		tidy(h);
		read_live(h);
		for (ky_stream_client *c = h->clients; c != NULL; c = c->next)
			if (!c->live)
				catch_up(h, c);
		int64_t now = now_ms();
		if (now >= h->next_council_ms) {
			h->next_council_ms = now + COUNCIL_MS;
			int64_t council = h->council;
			if (ky_store_events_council(h->store, &council) == KY_OK && council != h->council) {
				h->council = council;
				recheck(h, true);
				h->next_standing_ms = now + STANDING_MS;
			}
		}
		if (now >= h->next_standing_ms) {
			h->next_standing_ms = now + STANDING_MS;
			recheck(h, false);
		}
		if (now >= h->next_heartbeat_ms) {
			h->next_heartbeat_ms = now + (int64_t)h->config->stream_heartbeat_seconds * 1000;
			heartbeat(h);
		}
		if (now >= h->next_audit_ms) {
			h->next_audit_ms = now + AUDIT_MS;
			audit_reads(h);
		}
		if (now >= h->next_prune_ms) {
			h->next_prune_ms = now + PRUNE_MS;
			ky_store_events_prune(h->store,
					      ky_clock_now_us() - (int64_t)h->config->stream_retention_days * DAY_US, NULL);
		}
	}
	return NULL;
}

/* --- the hub -------------------------------------------------------------------------------------- */

int ky_stream_hub_new(ky_stream_hub **out, const ky_stream_options *o)
{
	*out = NULL;
	ky_stream_hub *h = calloc(1, sizeof(*h));
	if (h == NULL || (h->db = strdup(o->db)) == NULL) {
		free(h);
		return ky_error_set(KY_ENOMEM, "out of memory");
	}
	h->config = o->config;
	h->grants = o->grants;
	h->audit = o->audit;
	pthread_mutex_init(&h->lock, NULL);
	pthread_condattr_t attr;
	pthread_condattr_init(&attr);
	pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
	pthread_cond_init(&h->wake, &attr);
	pthread_condattr_destroy(&attr);
	ky_store_options options = {.retry_seconds = (int)o->config->retry_seconds};
	int rc = ky_store_open(&h->store, h->db, &options, NULL);
	if (rc == KY_OK)
		rc = ky_store_events_head(h->store, &h->position);
	if (rc == KY_OK)
		rc = ky_store_events_council(h->store, &h->council);
	if (rc == KY_OK && pthread_create(&h->pump, NULL, pump_main, h) != 0)
		rc = ky_error_set(KY_ERROR, "cannot start the live stream's thread");
	if (rc != KY_OK) {
		ky_stream_hub_free(h);
		return rc;
	}
	h->pump_running = true;
	*out = h;
	return KY_OK;
}

void ky_stream_hub_free(ky_stream_hub *h)
{
	if (h == NULL)
		return;
	if (h->pump_running) {
		pthread_mutex_lock(&h->lock);
		h->stopping = true;
		pthread_cond_signal(&h->wake);
		pthread_mutex_unlock(&h->lock);
		pthread_join(h->pump, NULL);
	}
	for (ky_stream_client *c = h->opening; c != NULL;) {
		ky_stream_client *next = c->next;
		release(h, c);
		c = next;
	}
	h->opening = NULL;
	for (ky_stream_client *c = h->clients; c != NULL;) {
		ky_stream_client *next = c->next;
		release(h, c);
		c = next;
	}
	ky_store_close(h->store);
	pthread_cond_destroy(&h->wake);
	pthread_mutex_destroy(&h->lock);
	free(h->db);
	free(h);
}

void ky_stream_hub_stats(ky_stream_hub *h, ky_stream_stats *out)
{
	memset(out, 0, sizeof(*out));
	pthread_mutex_lock(&h->lock);
	out->clients = h->nclients;
	out->ended_behind = h->ended_behind;
	pthread_mutex_unlock(&h->lock);
	out->position = h->position;
}

/* --- filters --------------------------------------------------------------------------------- */

/* The strings of spec's list `name` into items (at most max, each at most len bytes). */
static int spec_list(const json_t *spec, const char *name, size_t max, size_t len, char *items, size_t item_size,
		     size_t *n)
{
	const json_t *list = json_object_get(spec, name);
	*n = 0;
	if (list == NULL)
		return KY_OK;
	if (!json_is_array(list) || json_array_size(list) > max)
		return ky_error_set(KY_EINVALID, "%s is a list of at most %zu names", name, max);
	size_t i;
	const json_t *item;
	json_array_foreach(list, i, item) {
		size_t k = json_string_length(item);
		if (!json_is_string(item) || k == 0 || k > len || memchr(json_string_value(item), '\0', k) != NULL)
			return ky_error_set(KY_EINVALID, "%s holds names of 1 to %zu bytes", name, len);
		memcpy(items + *n * item_size, json_string_value(item), k + 1);
		(*n)++;
	}
	return KY_OK;
}

int ky_stream_filter_of(ky_store *s, const json_t *spec, const ky_policy_grants *grants, const ky_viewer *v,
			ky_stream_filter *f)
{
	*f = (ky_stream_filter){.min_confidence = -1};
	const char *key;
	const json_t *value;
	json_object_foreach((json_t *)spec, key, value)
		if (strcmp(key, "types") != 0 && strcmp(key, "collections") != 0 && strcmp(key, "states") != 0 &&
		    strcmp(key, "min_confidence") != 0)
			return ky_error_set(KY_EINVALID, "a filter has no \"%.64s\" (it takes types, collections, states and"
							 " min_confidence)", key);
	char names[KY_STREAM_COLLECTIONS_MAX][KY_STORE_NAME_MAX + 1], states[KY_REPORT_STATES][16];
	size_t nnames = 0, nstates = 0;
	int rc = spec_list(spec, "types", KY_STREAM_TYPES_MAX, KY_STREAM_TYPE_MAX, f->types[0], sizeof(f->types[0]),
			   &f->ntypes);
	for (size_t i = 0; rc == KY_OK && i < f->ntypes; i++)
		if (strspn(f->types[i], "abcdefghijklmnopqrstuvwxyz0123456789-") != strlen(f->types[i]))
			rc = ky_error_set(KY_EINVALID, "types: '%s' is not a STIX type", f->types[i]);
	if (rc == KY_OK)
		rc = spec_list(spec, "collections", KY_STREAM_COLLECTIONS_MAX, KY_STORE_NAME_MAX, names[0], sizeof(names[0]),
			       &nnames);
	for (size_t i = 0; rc == KY_OK && i < nnames; i++) {
		ky_store_collection col;
		int found = ky_store_collection_find(s, names[i], &col);
		/* One the viewer may not read is no more there than one the hub lacks. */
		if (found == KY_OK && v != NULL && !ky_policy_may_read(grants, col.name, v))
			found = KY_ENOTFOUND;
		if (found == KY_OK)
			f->collections[f->ncollections++] = col.id;
		ky_store_collection_clear(&col);
		if (found == KY_ENOTFOUND)
			rc = ky_error_set(KY_EINVALID, "collections: no collection '%s' that you may read", names[i]);
		else if (found != KY_OK)
			rc = found;
	}
	if (rc == KY_OK)
		rc = spec_list(spec, "states", KY_REPORT_STATES, 15, states[0], sizeof(states[0]), &nstates);
	for (size_t i = 0; rc == KY_OK && i < nstates; i++) {
		ky_report_state state;
		if (!ky_report_state_parse(states[i], &state))
			rc = ky_error_set(KY_EINVALID, "states: '%s' is not a report's state (unconfirmed, countermeasure, refuted,"
						       " withdrawn, revoked)",
					  states[i]);
		else
			f->states |= 1u << state;
	}
	const json_t *confidence = json_object_get(spec, "min_confidence");
	if (rc == KY_OK && confidence != NULL &&
	    (!json_is_integer(confidence) || json_integer_value(confidence) < 0 || json_integer_value(confidence) > 100))
		rc = ky_error_set(KY_EINVALID, "min_confidence is a whole number from 0 to 100 (STIX confidence)");
	if (rc == KY_OK && confidence != NULL)
		f->min_confidence = (int)json_integer_value(confidence);
	return rc;
}
