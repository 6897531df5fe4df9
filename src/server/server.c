#include "server/server.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <sodium.h>

#include "api/api.h"
#include "audit/audit.h"
#include "auth/auth.h"
#include "council/council.h"
#include "policy/policy.h"
#include "store/store.h"
#include "stream/stream.h"
#include "webhook/webhook.h"
#include "taxii/taxii.h"
#include "util/ky_clock.h"
#include "util/ky_error.h"

#define FAILURES_BEFORE_SLOWDOWN 5
#define FAILURE_WINDOW_SECONDS 60
#define FAILURE_SLOTS 1024

/* One client address's recent authentication failures. */
typedef struct failures {
	char client[64];
	unsigned count;
	time_t first;
} failures;

struct ky_server {
	char *db;
	ky_config *config;            /* a copy of the caller's */
	ky_policy_grants *grants;
	ky_taxii *taxii;
	ky_api *api;
	ky_audit_writer *audit;       /* the read entries' writer; NULL with [audit] reads = off */
	ky_stream_hub *stream;        /* the live stream's, from ky_server_start */
	ky_webhook_hub *webhooks;     /* the webhooks' queuer and sender, likewise */
	pthread_key_t store_key;      /* each worker thread's store connection */
	pthread_mutex_t failures_lock;
	failures failures[FAILURE_SLOTS];
};

/* What admit found out, for handle. */
typedef struct request_state {
	bool api;                     /* /api/v1/..., else TAXII */
	void *route;                  /* the front's own state, in the request's arena */
	ky_store *store;
	ky_viewer viewer;
	ky_store_reads reads;         /* the versions the handler read, for the audit log */
	int64_t at_us;                /* when it arrived */
} request_state;

/* --- the store of this thread ---------------------------------------------------------------- */

static void close_store(void *store)
{
	ky_store_close(store);
}

/* This worker thread's store connection, opened on first use; NULL with the store's error. */
static ky_store *thread_store(ky_server *s)
{
	ky_store *store = pthread_getspecific(s->store_key);
	if (store == NULL) {
		ky_store_options options = {.retry_seconds = (int)s->config->retry_seconds,
					    .synchronous_normal = s->config->synchronous_normal};
		if (ky_store_open(&store, s->db, &options, NULL) != KY_OK)
			return NULL;
		pthread_setspecific(s->store_key, store);
	}
	return store;
}

/* --- authentication (TAXII 2.1 §1.6.9) -------------------------------------------------------- */

/* The slot that counts one client address's failures (a collision merely shares a count). */
static failures *slot_of(ky_server *s, const char *client)
{
	size_t slot = 0;
	for (const char *c = client; *c; c++)
		slot = slot * 31 + (unsigned char)*c;
	return &s->failures[slot % FAILURE_SLOTS];
}

/* Whether this client failed too often lately; records nothing. */
static bool slowed_down(ky_server *s, const char *client)
{
	failures *f = slot_of(s, client);
	bool slow = false;
	pthread_mutex_lock(&s->failures_lock);
	if (strcmp(f->client, client) == 0 && time(NULL) - f->first < FAILURE_WINDOW_SECONDS)
		slow = f->count >= FAILURES_BEFORE_SLOWDOWN;
	pthread_mutex_unlock(&s->failures_lock);
	return slow;
}

/* Counts a wrong credential from this client. Only a success resets the count: a request
 * without credentials neither counts nor resets, or alternating one with each guess would
 * never be slowed down. */
static void record_outcome(ky_server *s, const char *client, bool success)
{
	failures *f = slot_of(s, client);
	time_t now = time(NULL);
	pthread_mutex_lock(&s->failures_lock);
	if (success) {
		if (strcmp(f->client, client) == 0)
			f->count = 0;
	} else if (strcmp(f->client, client) != 0 || now - f->first >= FAILURE_WINDOW_SECONDS) {
		snprintf(f->client, sizeof(f->client), "%s", client);
		f->count = 1;
		f->first = now;
	} else {
		f->count++;
	}
	pthread_mutex_unlock(&s->failures_lock);
}

static int unauthenticated(ky_http_request *r)
{
	/* The same answer whether the user exists or not. */
	ky_http_header_add(r, "WWW-Authenticate", "Basic realm=\"kyoyu\", charset=\"UTF-8\"");
	return ky_error_set(KY_EUNAUTHENTICATED, "%s",
			    "Send HTTP Basic credentials (a user name and an API key as the password) or a Bearer API key.");
}

/* The identity behind the Authorization header into *who, and the thread's store into
 * *store. A request without credentials is refused before the store is touched, so that no
 * failure of the database reaches a client who has not shown a key. */
static int authenticate(ky_server *s, ky_http_request *r, ky_store **store, ky_auth_identity *who)
{
	const char *client = ky_http_client(r);
	if (slowed_down(s, client)) {
		ky_http_header_add(r, "Retry-After", "60");
		return ky_error_set(KY_ETOOMANY, "%s",
				    "This address failed to authenticate too often; wait a minute before trying again.");
	}
	const char *header = ky_http_header(r, "Authorization");
	char decoded[512], *user = NULL, *key = NULL;
	if (header != NULL && strncasecmp(header, "Basic ", 6) == 0) {
		size_t len = 0;
		if (sodium_base642bin((unsigned char *)decoded, sizeof(decoded) - 1, header + 6, strlen(header + 6), " ",
				      &len, NULL, sodium_base64_VARIANT_ORIGINAL) == 0 &&
		    memchr(decoded, '\0', len) == NULL) {
			decoded[len] = '\0';
			char *colon = strchr(decoded, ':');
			if (colon != NULL) {
				*colon = '\0';
				user = decoded;
				key = colon + 1;
			}
		}
	} else if (header != NULL && strncasecmp(header, "Bearer ", 7) == 0) {
		key = (char *)header + 7;
	}
	/* Credentials that are there but malformed count as a failure, like wrong ones. */
	if (key == NULL) {
		if (header != NULL)
			record_outcome(s, client, false);
		sodium_memzero(decoded, sizeof(decoded));
		return unauthenticated(r);
	}
	*store = thread_store(s);
	int rc = *store ? ky_auth_verify(*store, user, key, who) : ky_error_last_code();
	sodium_memzero(decoded, sizeof(decoded));
	if (rc == KY_OK) {
		record_outcome(s, client, true);
		return KY_OK;
	}
	if (rc != KY_EDENIED)
		return ky_http_store_failure(rc == KY_OK ? KY_ERROR : rc);
	record_outcome(s, client, false);
	return unauthenticated(r);
}

/* --- the gates --------------------------------------------------------------------------- */

/* What every route refuses before it runs: a suspended member, rules not yet accepted (but
 * on the routes that serve accepting them). */
static int gates(const ky_auth_identity *who, bool rules_exempt)
{
	if (who->suspended)
		return ky_error_set(KY_EDENIED,
				    "The membership of \"%s\" in this hub is suspended: its users are refused until the "
				    "secretariat resumes it. Contact the secretariat.",
				    who->member);
	if (!rules_exempt && ky_council_rules_pending(who))
		return ky_error_set(KY_EDENIED,
				    "The hub's rules changed to version %lld; read them (GET /api/v1/rules) and accept them "
				    "(kyoyu --hub URL rules accept, or POST /api/v1/rules/accept) before anything else.",
				    (long long)who->rules_version);
	return KY_OK;
}

/* --- the handlers ------------------------------------------------------------------------ */

static bool is_api(ky_slice path)
{
	static const char prefix[] = "/api/v1";
	size_t n = sizeof(prefix) - 1;
	return path.len >= n && memcmp(path.ptr, prefix, n) == 0 && (path.len == n || path.ptr[n] == '/');
}

/* A request's state holds its viewer (several KiB), needed only until the handler is done:
 * not for as long as a stream's request lasts. */
static void release_state(void *state)
{
	request_state *st = state;
	ky_store_reads_clear(&st->reads);
	free(st);
}

int ky_server_admit(void *ctx, ky_http_request *r)
{
	ky_server *s = ctx;
	request_state *st = calloc(1, sizeof(*st));
	if (st == NULL)
		return ky_error_set(KY_ENOMEM, "out of memory");
	st->api = is_api(ky_http_path(r));
	int rc = st->api ? ky_api_route(s->api, r, &st->route) : ky_taxii_route(s->taxii, r, &st->route);
	ky_auth_identity who;
	if (rc == KY_OK)
		rc = authenticate(s, r, &st->store, &who);
	st->at_us = ky_clock_now_us();
	if (rc == KY_OK && (rc = ky_policy_viewer(st->store, s->grants, &who, &st->viewer)) != KY_OK)
		rc = ky_http_store_failure(rc);
	if (rc == KY_OK && s->audit != NULL)
		st->viewer.reads = &st->reads;
	if (rc == KY_OK)
		rc = gates(&who, st->api && ky_api_rules_exempt(st->route));
	if (rc == KY_OK)
		ky_http_set_state(r, st, release_state);
	else
		release_state(st);
	return rc;
}

/* The request's entry in the audit log: who read which versions, by which route, from where. */
static void audit_read(ky_server *s, ky_http_request *r, request_state *st)
{
	ky_slice method = ky_http_method(r), path = ky_http_path(r);
	char via[320];
	snprintf(via, sizeof(via), "%.*s %.*s", (int)(method.len < 16 ? method.len : 16), method.ptr,
		 (int)(path.len < 256 ? path.len : 256), path.ptr);
	ky_store_audit_entry e = {.at_us = st->at_us, .user_id = st->viewer.who.user_id,
				  .member_id = st->viewer.who.member_id, .via = via, .origin = ky_http_client(r),
				  .action = "read", .detail = st->reads.incomplete ? "{\"incomplete\":true}" : NULL};
	ky_audit_writer_read(s->audit, &e, &st->reads);
}

int ky_server_handle(void *ctx, ky_http_request *r)
{
	ky_server *s = ctx;
	request_state *st = ky_http_state(r);
	if (st == NULL)
		return ky_error_set(KY_ERROR, "a request reached the handler without being admitted");
	int rc = st->api ? ky_api_serve(s->api, r, st->route, st->store, &st->viewer)
			 : ky_taxii_serve(s->taxii, r, st->route, st->store, &st->viewer);
	if (st->reads.n > 0)
		audit_read(s, r, st);
	ky_http_set_state(r, NULL, NULL);
	release_state(st);
	return rc;
}

/* --- life ------------------------------------------------------------------------------- */

int ky_server_new(ky_server **out, const ky_server_options *o)
{
	*out = NULL;
	ky_server *s = calloc(1, sizeof(*s));
	if (s == NULL || ky_auth_init() != KY_OK) {
		free(s);
		return ky_error_set(KY_ENOMEM, "cannot set up the server");
	}
	s->db = strdup(o->db);
	s->config = malloc(sizeof(*s->config));
	if (s->db == NULL || s->config == NULL || pthread_key_create(&s->store_key, close_store) != 0) {
		free(s->db);
		free(s->config);
		free(s);
		return ky_error_set(KY_ENOMEM, "out of memory");
	}
	*s->config = *o->config;
	pthread_mutex_init(&s->failures_lock, NULL);
	ky_store *store = NULL;
	ky_store_options options = {.retry_seconds = (int)s->config->retry_seconds};
	int rc = ky_store_open(&store, s->db, &options, NULL);
	if (rc == KY_OK)
		rc = ky_policy_grants_new(store, s->config, &s->grants);
	ky_store_close(store);
	ky_taxii_options taxii = {.db = s->db, .config = s->config, .grants = s->grants};
	ky_api_options api = {.config = s->config, .grants = s->grants};
	if (rc == KY_OK)
		rc = ky_taxii_new(&s->taxii, &taxii);
	if (rc == KY_OK)
		rc = ky_api_new(&s->api, &api);
	if (rc != KY_OK) {
		ky_server_free(s);
		return rc;
	}
	*out = s;
	return KY_OK;
}

static void committed(void *server)
{
	ky_server *s = server;
	ky_stream_hub_poke(s->stream);
	ky_webhook_hub_poke(s->webhooks);
}

int ky_server_start(ky_server *s)
{
	int rc = s->config->audit_reads ? ky_audit_writer_new(s->db, s->config, &s->audit) : KY_OK;
	ky_stream_options stream = {.db = s->db, .config = s->config, .grants = s->grants, .audit = s->audit};
	if (rc == KY_OK)
		rc = ky_stream_hub_new(&s->stream, &stream);
	ky_webhook_options webhooks = {.db = s->db, .config = s->config, .grants = s->grants, .audit = s->audit};
	if (rc == KY_OK)
		rc = ky_webhook_hub_new(&s->webhooks, &webhooks);
	if (rc == KY_OK) {
		ky_api_set_stream(s->api, s->stream);
		/* This process's writes reach its stream clients and webhooks at once; others', as
		 * they poll. */
		ky_store_on_commit(committed, s);
	}
	return rc == KY_OK ? ky_taxii_start(s->taxii) : rc;
}

void ky_server_free(ky_server *s)
{
	if (s == NULL)
		return;
	ky_taxii_free(s->taxii);
	if (s->stream != NULL)
		ky_store_on_commit(NULL, NULL);
	ky_webhook_hub_free(s->webhooks);
	ky_stream_hub_free(s->stream);
	ky_audit_writer_free(s->audit);
	ky_api_free(s->api);
	ky_policy_grants_free(s->grants);
	pthread_key_delete(s->store_key);
	pthread_mutex_destroy(&s->failures_lock);
	free(s->db);
	free(s->config);
	free(s);
}
