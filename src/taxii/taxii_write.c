/*
 * taxii_write: writing through TAXII: Add Objects (§5.5), Delete an Object (§5.7), and the
 * status resource (§4.3) of the requests Add Objects makes.
 *
 * Add Objects answers 202 as soon as the envelope is durable in the hub, recorded as a
 * request (store.h: ky_store_request_add), before any object is validated or stored; the
 * server's processor thread then runs the request through the same pipeline as `kyoyu
 * import` (ingest.h) and records each object's outcome as its batch commits, which is what
 * the status resource shows. Requests live in the database, not in the process: a server that
 * stops or crashes picks its unfinished requests up again when it starts, and any server
 * process of a hub may process any request (each holds the one it works on under a lease).
 * A large envelope is processed on the processor's thread and connection, so it holds no
 * worker thread: other requests go on being served.
 *
 * Every write of a claimed request carries the claim's fencing token: a processor that
 * stalled past its lease and was taken over finds its writes refused, and drops the request.
 * A request ends with a final status whatever happens to it: one whose outcomes the hub
 * cannot record is completed at once with those objects failed, and one that stops every
 * processor that claims it is completed so by the store after KY_STORE_REQUEST_CLAIMS_MAX
 * claims.
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "council/workflow.h"
#include "ingest/ingest.h"
#include "stix/stix_reader.h"
#include "taxii/taxii_internal.h"
#include "util/ky_arena.h"
#include "util/ky_error.h"
#include "util/ky_uuid.h"

#define LEASE_US (15 * (int64_t)1000000)   /* a request's holder renews it after each batch; a
					    * holder that died gives it up this long after */
#define POLL_SECONDS 2                     /* how often the processor looks for requests that
					    * other processes left or received */

/* --- the status resource, §4.3.1 ------------------------------------------------------------ */

typedef struct details {
	json_t *successes, *failures;
} details;

static int add_detail(void *ctx, const ky_store_request_object *o)
{
	details *d = ctx;
	char name[48];
	const char *id = o->id;
	if (id == NULL) {
		/* §4.3.1 wants an id for every object; an element without one is named by its place. */
		snprintf(name, sizeof(name), "objects[%llu]", (unsigned long long)o->index);
		id = name;
	}
	json_t *item = json_pack("{s:s,s:s}", "id", id, "version", o->version ? o->version : "");
	/* A failure's reasons, or a success's warning (an unresolved marking, say). */
	if (o->message != NULL)
		json_object_set_new(item, "message", json_string(o->message));
	json_array_append_new(o->success ? d->successes : d->failures, item);
	return 0;
}

/* The status resource of request r, with every recorded outcome; NULL when the store failed. */
static json_t *status_json(ky_store *store, const ky_store_request *r)
{
	details d = {json_array(), json_array()};
	if (ky_store_request_objects(store, r->id, add_detail, &d) != KY_OK) {
		json_decref(d.successes);
		json_decref(d.failures);
		return NULL;
	}
	char received[40];
	ky_clock_format(r->received_us, received);
	uint64_t pending = r->total - r->successes - r->failures;
	json_t *body = json_pack("{s:s,s:s,s:s,s:I,s:I}", "id", r->id, "status", r->complete ? "complete" : "pending",
				 "request_timestamp", received, "total_count", (json_int_t)r->total, "success_count",
				 (json_int_t)r->successes);
	/* §2: lists are never empty; an empty one is left out. */
	if (json_array_size(d.successes) > 0)
		json_object_set(body, "successes", d.successes);
	json_object_set_new(body, "failure_count", json_integer((json_int_t)r->failures));
	if (json_array_size(d.failures) > 0)
		json_object_set(body, "failures", d.failures);
	json_object_set_new(body, "pending_count", json_integer((json_int_t)pending));
	json_decref(d.successes);
	json_decref(d.failures);
	return body;
}

typedef struct root_of_id {
	const ky_taxii *t;
	int64_t collection_id;
	const char *api_root;
	bool found;
} root_of_id;

static int match_collection(void *ctx, const ky_store_collection *c)
{
	root_of_id *q = ctx;
	if (c->id != q->collection_id)
		return 0;
	q->found = strcmp(ky_taxii_api_root_of(q->t, c), q->api_root) == 0;
	return 1;
}

int ky_taxii_status_serve(ky_taxii *t, ky_store *store, ky_http_request *r, const ky_viewer *who,
			  const char *api_root, const char *id)
{
	ky_store_request request;
	int rc = ky_store_request_get(store, id, &request);
	/* A status is its requester's, on the API root of its collection. */
	root_of_id q = {t, request.collection_id, api_root, false};
	if (rc == KY_OK && request.user_id == who->who.user_id)
		rc = ky_store_collection_list(store, match_collection, &q);
	if (rc != KY_OK && rc != KY_ENOTFOUND && rc != 1)
		return ky_http_store_failure(rc);
	if (!q.found)
		return ky_error_set(KY_ENOTFOUND, "There is no status resource with this id on this API root.");
	json_t *body = status_json(store, &request);
	if (body == NULL)
		return ky_http_store_failure(ky_error_last_code());
	ky_taxii_respond_json(r, 200, body);
	return KY_OK;
}

/* --- Add Objects, §5.5 ------------------------------------------------------------------------ */

/* Whether the body is an envelope (§3.7): a JSON object, with an "objects" list when it has
 * objects, read as import reads it (streaming, in bounded memory). *total gets the number of
 * elements of the list; a problem goes into why. Elements that are not valid objects are not
 * the envelope's fault: they fail one by one when the request is processed. */
static bool envelope_ok(const char *body, size_t len, size_t max_object, size_t *total, char *why, size_t why_size)
{
	FILE *in = fmemopen((void *)body, len, "r");
	ky_stix_reader *reader = NULL;
	if (in == NULL || ky_stix_reader_new(&reader, in, max_object, "the envelope") != KY_OK) {
		snprintf(why, why_size, "out of memory reading the envelope");
		if (in != NULL)
			fclose(in);
		return false;
	}
	ky_stix_item item;
	int rc;
	bool single_is_envelope = true;
	*total = 0;
	while ((rc = ky_stix_reader_next(reader, &item)) > 0) {
		(*total)++;
		/* A single object is the envelope itself: one without "objects" carries none. */
		if (ky_stix_reader_shape(reader) == KY_STIX_SHAPE_SINGLE)
			single_is_envelope = item.object != NULL && json_object_get(item.object, "type") == NULL &&
					     json_object_get(item.object, "id") == NULL &&
					     json_object_get(item.object, "objects") == NULL;
	}
	ky_stix_shape shape = ky_stix_reader_shape(reader);
	bool ok = false;
	if (rc < 0)
		snprintf(why, why_size, "%s", ky_error_last());
	else if (shape == KY_STIX_SHAPE_ARRAY)
		snprintf(why, why_size, "the body is a JSON array; an envelope is an object whose \"objects\" list holds the objects (TAXII 2.1 §3.7)");
	else if (shape == KY_STIX_SHAPE_SINGLE && !single_is_envelope)
		snprintf(why, why_size, "the body is one STIX object, or its \"objects\" is not a list; an envelope is an object whose \"objects\" list holds the objects (TAXII 2.1 §3.7)");
	else if (shape == KY_STIX_SHAPE_UNKNOWN)
		snprintf(why, why_size, "the body is empty; send an envelope (TAXII 2.1 §3.7)");
	else
		ok = true;
	if (ok && shape == KY_STIX_SHAPE_SINGLE)
		*total = 0;
	ky_stix_reader_free(reader);
	fclose(in);
	return ok;
}

static bool is_taxii_json(const char *content_type)
{
	if (content_type == NULL)
		return false;
	char text[128];
	size_t k = 0;
	for (const char *c = content_type; *c && k + 1 < sizeof(text); c++)
		if (*c != ' ' && *c != '\t')
			text[k++] = (char)(*c >= 'A' && *c <= 'Z' ? *c - 'A' + 'a' : *c);
	text[k] = '\0';
	return strcmp(text, KY_TAXII_MEDIA) == 0 || strcmp(text, "application/taxii+json") == 0;
}

int ky_taxii_add_objects(ky_taxii *t, ky_store *store, ky_http_request *r, const ky_viewer *who,
			 const ky_store_collection *c)
{
	if (!is_taxii_json(ky_http_header(r, "Content-Type")))
		return ky_error_set(KY_EMEDIATYPE, "Add Objects takes an envelope as %s (TAXII 2.1 §5.5).", KY_TAXII_MEDIA);
	size_t len = 0, total = 0;
	const char *body = ky_http_body(r, &len);
	char why[512];
	if (!envelope_ok(body ? body : "", len, t->config->max_object_size, &total, why, sizeof(why))) {
		return ky_error_set(KY_EINVALID, "The envelope was not accepted and nothing was stored: %s.", why);
	}
	ky_store_request request = {.collection_id = c->id,
				    .user_id = who->who.user_id,
				    .received_us = ky_clock_now_us(),
				    .total = total};
	if (ky_uuid4(request.id) != KY_OK) {
		return ky_error_set(KY_ERROR, "the server could not make a status id: no randomness");
	}
	char id[37];
	memcpy(id, request.id, sizeof(id));
	int rc = ky_store_request_add(store, &request, body ? body : "", len);
	if (rc == KY_OK)
		rc = ky_store_request_get(store, id, &request);
	if (rc != KY_OK)
		return ky_http_store_failure(rc);
	ky_taxii_wake_processor(t);
	json_t *status = status_json(store, &request);
	if (status == NULL)
		return ky_http_store_failure(ky_error_last_code());
	ky_taxii_respond_json(r, 202, status);
	return KY_OK;
}

/* --- Delete an Object, §5.7 ---------------------------------------------------------------- */

int ky_taxii_delete_object(ky_taxii *t, ky_store *store, ky_http_request *r, const ky_viewer *who,
			   const ky_store_collection *c, const char *object_id)
{
	ky_taxii_filters f = {0};
	if (!ky_taxii_filters_parse(r, KY_TAXII_OBJECT, t->config, &f))
		return ky_error_set(KY_EINVALID, "%s.", f.problem);
	int exists = ky_taxii_object_exists(store, c, object_id, who);
	if (exists < 0)
		return ky_http_store_failure(ky_error_last_code());
	if (exists == 0)
		return ky_error_set(KY_ENOTFOUND, "The collection has no object with this id.");
	/* Without match[version], the object leaves the collection: every version. A member
	 * removes only versions it provided; the secretariat, any. */
	uint64_t removed = 0;
	int64_t provider = who->who.tier == KY_TIER_SECRETARIAT ? 0 : who->who.member_id;
	int rc = ky_store_remove(store, c->id, object_id, f.versions, f.modified, f.nmodified, f.spec_versions,
				 f.nspec_versions, provider, who->who.user_id, &removed);
	if (rc != KY_OK)
		return ky_http_store_failure(rc);
	ky_http_respond(r, 200, KY_TAXII_MEDIA, "", 0);
	return KY_OK;
}

/* --- the processor ------------------------------------------------------------------------- */

typedef struct progress {
	ky_store *store;
	const char *id;
	uint64_t token;                     /* the claim's fencing token */
	ky_store_request_object *pending;   /* outcomes reported since the last record */
	size_t n, cap;
	ky_arena *strings;                  /* their ids, versions and messages */
	int status;                         /* the first failure to record, else KY_OK */
} progress;

static void clear_pending(progress *p)
{
	ky_arena_free(p->strings);
	p->strings = NULL;
	p->n = 0;
}

static const char *keep(progress *p, const char *s)
{
	return s ? ky_arena_strndup(p->strings, s, strlen(s)) : NULL;
}

/* A refusal's reasons in one line, "a; b". */
static const char *reasons(progress *p, const ky_ingest_report *report)
{
	size_t size = 1;
	for (size_t i = 0; i < report->nproblems; i++)
		size += strlen(report->problems[i]) + 2;
	char *message = ky_arena_alloc(p->strings, size), *end = message;
	for (size_t i = 0; message != NULL && i < report->nproblems; i++)
		end += sprintf(end, "%s%s", i > 0 ? "; " : "", report->problems[i]);
	if (message != NULL)
		*end = '\0';
	return message;
}

static void on_report(void *ctx, const ky_ingest_report *report)
{
	progress *p = ctx;
	if (p->status != KY_OK)
		return;
	if (p->strings == NULL)
		p->strings = ky_arena_new();
	if (p->n == p->cap && p->strings != NULL) {
		size_t cap = p->cap ? p->cap * 2 : 1024;
		ky_store_request_object *pending = realloc(p->pending, cap * sizeof(*pending));
		if (pending != NULL) {
			p->pending = pending;
			p->cap = cap;
		}
	}
	if (p->strings == NULL || p->n == p->cap) {
		p->status = ky_error_set(KY_ENOMEM, "out of memory recording outcomes");
		return;
	}
	bool refused = report->outcome == KY_INGEST_REFUSED;
	ky_store_request_object o = {
		.index = report->index,
		.id = keep(p, report->id),
		.version = keep(p, report->version),
		.success = !refused,
		.message = refused ? reasons(p, report) : keep(p, report->warning),
	};
	if ((report->id && !o.id) || (report->version && !o.version) || (refused && !o.message) ||
	    (!refused && report->warning && !o.message)) {
		p->status = ky_error_set(KY_ENOMEM, "out of memory recording outcomes");
		return;
	}
	p->pending[p->n++] = o;
}

/* After each batch: its outcomes become visible in the status, and the lease is renewed. */
static void on_progress(void *ctx, const ky_ingest_totals *totals)
{
	progress *p = ctx;
	(void)totals;
	if (p->status == KY_OK && p->n > 0)
		p->status = ky_store_request_record(p->store, p->id, p->token, p->pending, p->n, LEASE_US);
	clear_pending(p);
}

typedef struct named_collection {
	int64_t id;
	char name[KY_CONFIG_NAME_MAX + 1];
} named_collection;

static int name_collection(void *ctx, const ky_store_collection *c)
{
	named_collection *q = ctx;
	if (c->id != q->id)
		return 0;
	snprintf(q->name, sizeof(q->name), "%s", c->name);
	return 1;
}

/* Who provides the request's objects, its requester's member, and who reads them: the policy's
 * snapshot for the request (policy/admission.h), with its collection's default audience. */
static int request_admission(ky_taxii *t, ky_store *store, const ky_store_request *request, ky_admission **out,
			     int64_t *member, ky_viewer *submitter, bool *exchange)
{
	ky_store_user user;
	named_collection c = {.id = request->collection_id};
	int rc = ky_store_user_by_id(store, request->user_id, &user);
	if (rc == KY_OK)
		rc = ky_store_collection_list(store, name_collection, &c);
	if (rc < 0)
		return rc;
	rc = KY_OK;
	const char *audience = NULL;
	for (size_t i = 0; i < t->config->ncollections; i++)
		if (strcmp(t->config->collections[i].name, c.name) == 0)
			audience = t->config->collections[i].audience;
	*member = user.member_id;
	ky_admission_options o = {
		.provider = user.member_id,
		.provider_tier = user.tier,
		.default_tlp = ky_policy_default_tlp(t->config),
		.default_audience = audience,
		.exchange = strcmp(c.name, KY_STORE_EXCHANGE) == 0,
	};
	*exchange = o.exchange;
	/* The workflow takes an object for feedback on a report only when its submitter reads
	 * the report: the exchange's submissions need the submitter's viewer, others do not. */
	ky_store_member m;
	if (o.exchange && (rc = ky_store_member_by_id(store, user.member_id, &m)) == KY_OK)
		rc = ky_policy_viewer_of_member(store, &m, submitter);
	return rc == KY_OK ? ky_admission_new(store, &o, out) : rc;
}

/* Processes one claimed request to its end; KY_OK when it is complete. */
static int process(ky_taxii *t, ky_store *store, const ky_store_request *request, const char *envelope, size_t len)
{
	progress p = {.store = store, .id = request->id, .token = request->token};
	int rc = KY_OK;
	if (len > 0 && request->total > 0) {
		ky_admission *admission = NULL;
		int64_t member = 0;
		ky_viewer submitter;
		bool exchange = false;
		rc = request_admission(t, store, request, &admission, &member, &submitter, &exchange);
		if (rc != KY_OK)
			return rc;
		FILE *in = fmemopen((void *)envelope, len, "r");
		if (in == NULL) {
			ky_admission_free(admission);
			return ky_error_set(KY_ENOMEM, "out of memory opening request %s", request->id);
		}
		char via[96];
		snprintf(via, sizeof(via), "TAXII add objects (status %s)", request->id);
		ky_store_actor actor = {.user_id = request->user_id, .member_id = member, .via = via};
		ky_store_scope scope = exchange ? ky_policy_scope(&submitter) : ky_store_operator_scope;
		ky_ingest_options options = {
			.collection_id = request->collection_id,
			.admission = admission,
			.batch_objects = t->config->batch_objects,
			.batch_bytes = t->config->batch_bytes,
			.max_object = t->config->max_object_size,
			.source_name = request->id,
			.taxii_envelope = true,
			.actor = &actor,
			.submitter = exchange ? &scope : NULL,
		};
		ky_ingest_totals totals;
		rc = ky_ingest_stream(store, in, &options, on_report, on_progress, &p, &totals);
		fclose(in);
		ky_admission_free(admission);
		/* Feedback may have made a report meet a rule that promotes by itself. */
		if (rc == KY_OK && exchange && ky_workflow_promote_proposed(store, t->config, NULL) != KY_OK)
			fprintf(stderr, "kyoyu serve: request %s: a rule's promotion failed and waits for the next submission: %s\n",
				request->id, ky_error_last());
		/* A broken structure cannot happen to an envelope checked on receipt; the store
		 * failing can, and then the request is left for a later try. */
		on_progress(&p, &totals);
	}
	if (rc == KY_OK)
		rc = p.status;
	clear_pending(&p);
	free(p.pending);
	return rc == KY_OK ? ky_store_request_complete(store, request->id, request->token) : rc;
}

/*
 * After process() failed with rc. Input that the hub cannot record (KY_EINVALID, KY_ETOOBIG:
 * trying again would fail again) completes the request now, its objects without an outcome
 * failed. Anything else is left for a later claim: another processor took the request over
 * (KY_ESTALE) or a lock was busy (KY_EBUSY), the database is unreachable (KY_ERROR, which may also be
 * a failure that lasts: the claim limit ends those), memory ran out.
 */
static void stopped(ky_store *store, const ky_store_request *request, int rc)
{
	char why[KY_ERROR_MAX];
	snprintf(why, sizeof(why), "%s", ky_error_last());
	if (rc != KY_EINVALID && rc != KY_ETOOBIG) {
		fprintf(stderr, "kyoyu serve: request %s stopped%s: %s\n", request->id,
			rc == KY_ESTALE || rc == KY_ENOTFOUND ? "" : " and will be tried again", why);
		return;
	}
	if (ky_store_request_abandon(store, request->id, request->token) == KY_OK)
		fprintf(stderr, "kyoyu serve: request %s is complete, its unrecorded objects failed: %s\n", request->id, why);
	else
		fprintf(stderr, "kyoyu serve: request %s stopped (%s) and could not be completed: %s\n", request->id, why,
			ky_error_last());
}

static void *processor_main(void *arg)
{
	ky_taxii *t = arg;
	ky_store *store = NULL;
	pthread_mutex_lock(&t->work_lock);
	while (!t->stopping) {
		pthread_mutex_unlock(&t->work_lock);
		bool worked = false;
		ky_store_options options = {.retry_seconds = (int)t->config->retry_seconds,
					    .synchronous_normal = t->config->synchronous_normal};
		if (store == NULL && ky_store_open(&store, t->db, &options, NULL) != KY_OK) {
			fprintf(stderr, "kyoyu serve: cannot process added objects now: %s\n", ky_error_last());
			store = NULL;
		}
		ky_store_request request;
		char *envelope = NULL;
		size_t len = 0;
		if (store != NULL && ky_store_request_claim(store, LEASE_US, &request, &envelope, &len) == KY_OK) {
			worked = true;
			int rc = process(t, store, &request, envelope, len);
			if (rc != KY_OK)
				stopped(store, &request, rc);
			free(envelope);
		}
		pthread_mutex_lock(&t->work_lock);
		if (!worked && !t->stopping && !t->work_waiting) {
			struct timespec until;
			clock_gettime(CLOCK_REALTIME, &until);
			until.tv_sec += POLL_SECONDS;
			pthread_cond_timedwait(&t->work_cond, &t->work_lock, &until);
		}
		t->work_waiting = false;
	}
	pthread_mutex_unlock(&t->work_lock);
	ky_store_close(store);
	return NULL;
}

void ky_taxii_wake_processor(ky_taxii *t)
{
	pthread_mutex_lock(&t->work_lock);
	t->work_waiting = true;
	pthread_cond_signal(&t->work_cond);
	pthread_mutex_unlock(&t->work_lock);
}

int ky_taxii_processor_start(ky_taxii *t)
{
	if (pthread_create(&t->processor, NULL, processor_main, t) != 0)
		return ky_error_set(KY_ERROR, "cannot start the thread that processes added objects");
	t->processor_running = true;
	return KY_OK;
}

void ky_taxii_processor_stop(ky_taxii *t)
{
	if (!t->processor_running)
		return;
	pthread_mutex_lock(&t->work_lock);
	t->stopping = true;
	pthread_cond_signal(&t->work_cond);
	pthread_mutex_unlock(&t->work_lock);
	pthread_join(t->processor, NULL);
	t->processor_running = false;
}
