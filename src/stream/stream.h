/*
 * stream: the live stream (docs/stream.md): every member's events as Server-Sent Events,
 * filtered by the policy decision and resumable, for GET /api/v1/stream.
 *
 * One hub per server process. Its pump thread, with its own store connection, reads the
 * hub's events in their one commit-ordered sequence (store/store_events.h) as they are
 * committed (woken by this process's commits, ky_stream_hub_poke, and polling for other
 * processes' every poll interval), decides once per event and viewer what the viewer may
 * read and in which form (the store's own decision and forms: ky_store_scope_reads,
 * ky_store_row_shown, as TAXII serves it), and queues the frame on each client that wants
 * it. Frames are shared between clients and counted against each client's bounded buffer;
 * a client that falls too far behind is ended cleanly (its last event's id is where it
 * resumes), so a slow reader costs bounded memory and delays nobody.
 *
 * A client that resumes (Last-Event-ID) is caught up by the pump from the store, page by
 * page as it reads, up to the live point, then joins the live events: in order, no gap, no
 * duplicate. Events dated before the retention window are not served: a client resuming
 * before it gets one `overflow` event naming the oldest event held and the TAXII
 * added_after point to catch up from, then everything from the oldest held on.
 *
 * Membership is followed: when the record of changes moves (a suspension, a revoked key, a
 * disabled user, new rules, a changed tier, sector or group) and, for contributors, every
 * recheck interval (good standing moves with the clock), the pump checks every client's
 * key again and rebuilds its viewer: a client that may no longer read is ended, the others
 * read through their new viewer from the next event on.
 *
 * Thread safety: ky_stream_open, ky_stream_attach, ky_stream_read, ky_stream_done and
 * ky_stream_hub_poke from any thread; the rest from the thread that owns the hub.
 */
#ifndef KY_STREAM_H
#define KY_STREAM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "audit/audit.h"
#include "config/config.h"
#include "http/http.h"
#include "policy/policy.h"
#include "store/store_events.h"

#define KY_STREAM_TYPES_MAX 16
#define KY_STREAM_TYPE_MAX 64
#define KY_STREAM_COLLECTIONS_MAX 16

typedef struct ky_stream_hub ky_stream_hub;
typedef struct ky_stream_client ky_stream_client;

typedef struct ky_stream_options {
	const char *db;                  /* the hub: a path or a postgresql:// URI */
	const ky_config *config;         /* borrowed for the hub's life: [stream], [store] */
	const ky_policy_grants *grants;  /* borrowed likewise */
	ky_audit_writer *audit;          /* the read entries' writer, or NULL ([audit] reads off) */
} ky_stream_options;

/* Starts a hub (its pump thread and store connection). The caller owns *out. */
int ky_stream_hub_new(ky_stream_hub **out, const ky_stream_options *o);

/* Stops the pump and frees the hub; every client must be done (the HTTP server stopped).
 * NULL does nothing. */
void ky_stream_hub_free(ky_stream_hub *h);

/* Something was committed in this process: the pump reads now. A ky_store_commit_fn. */
void ky_stream_hub_poke(void *hub);

/* What a client wants (the query parameters of GET /api/v1/stream). */
typedef struct ky_stream_filter {
	char types[KY_STREAM_TYPES_MAX][KY_STREAM_TYPE_MAX + 1]; /* STIX types; none: all */
	size_t ntypes;
	int64_t collections[KY_STREAM_COLLECTIONS_MAX];          /* collection ids; none: all */
	size_t ncollections;
	int min_confidence;              /* objects with a confidence at least this; -1: any */
	unsigned states;                 /* 1 << ky_report_state of reports and their objects;
					  * 0: any */
} ky_stream_filter;

/* The hub's collections by id, as the stream and webhooks name them in envelopes and
 * decisions: read again when an id is not there (a collection made since). The owner's
 * thread alone uses one. */
typedef struct ky_stream_collections {
	struct {
		int64_t id;
		char uuid[37];
		char name[KY_STORE_NAME_MAX + 1];
	} items[64];
	size_t n;
} ky_stream_collections;

/* The name of collection id (and its TAXII id into *uuid), or NULL when s has none such. */
const char *ky_stream_collection_name(ky_store *s, ky_stream_collections *cache, int64_t id, const char **uuid);

/* The filter `spec` describes, a JSON object (what POST /api/v1/webhooks takes, and the
 * stream's query parameters as GET /api/v1/stream reads them): "types", "collections" and
 * "states", lists of names, and "min_confidence", 0 to 100; each optional. Collections are
 * found by name or TAXII id in s, and when v is not NULL must be ones v may read (grants').
 * KY_EINVALID naming what is wrong. */
int ky_stream_filter_of(ky_store *s, const json_t *spec, const ky_policy_grants *grants, const ky_viewer *v,
			ky_stream_filter *out);

/* Whether event e passes filter f (NULL: everything); object is e's object parsed, for the
 * filters that look inside (confidence), NULL when it has none. */
bool ky_stream_filter_wants(const ky_stream_filter *f, const ky_store_event *e, const json_t *object);

/* Event e's envelope (docs/stream.md: the OpenAPI document's StreamEvent), the JSON text
 * both the stream and webhooks deliver: collection_uuid the TAXII id of e's collection (NULL:
 * none), `shown` the object as the recipient gets it, bytes as stored (NULL: none). The
 * caller frees it; *len its length. NULL when out of memory. */
char *ky_stream_envelope(const ky_store_event *e, const char *collection_uuid, const char *shown, size_t shown_len,
			 size_t *len);

/* A new client for the viewer who (its key, checked again as membership changes), wanting
 * f, from the events after `after` when `resume`, else from now. KY_ETOOMANY when the hub
 * holds its most clients. The hub owns *out: give it to ky_http_respond_stream with
 * ky_stream_read and ky_stream_done, then ky_stream_attach the stream. */
int ky_stream_open(ky_stream_hub *h, const ky_auth_identity *who, const ky_stream_filter *f, bool resume,
		   uint64_t after, ky_stream_client **out);

/* The client's HTTP stream, to wake when frames are queued. */
void ky_stream_attach(ky_stream_client *c, ky_http_stream *stream);

/* ky_http_stream_read and ky_http_stream_done for a client. */
long ky_stream_read(void *client, char *buf, size_t max);
void ky_stream_done(void *client);

/* What a hub holds now, for the tests and the benchmark. */
typedef struct ky_stream_stats {
	size_t clients;
	uint64_t position;     /* the last event the pump has read */
	uint64_t ended_behind; /* clients ended for falling too far behind */
} ky_stream_stats;
void ky_stream_hub_stats(ky_stream_hub *h, ky_stream_stats *out);

#endif
