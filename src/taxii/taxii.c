/*
 * taxii: routing, content negotiation (§1.6.8), authentication (§1.6.9), the error message
 * (§3.6.1), and the read-only resources of this part: discovery (§4.1), API root (§4.2),
 * collections (§5.1, §5.2). A collection the user may not read does not exist for that user:
 * 404, never 403, so its existence does not leak. In this part the hub's owner (its first
 * user, who created the first key) reads and writes every collection and other users none;
 * per-collection grants come with the confidentiality rules.
 */
#include "taxii/taxii.h"

#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>
#include <strings.h>

#include "auth/auth.h"
#include "store/store.h"
#include "util/ky_error.h"

#define TAXII_JSON "application/taxii+json;version=2.1"
#define FAILURES_BEFORE_SLOWDOWN 5
#define FAILURE_WINDOW_SECONDS 60
#define FAILURE_SLOTS 1024

typedef struct failure_slot {
	char client[64];
	unsigned count;
	time_t first;
} failure_slot;

struct ky_taxii {
	char *db, *api_root, *title;
	size_t max_content_length;
	int retry_seconds;
	pthread_key_t store_key;    /* each worker thread's store connection */
	pthread_mutex_t failures_lock;
	failure_slot failures[FAILURE_SLOTS];
};

/* --- responses ---------------------------------------------------------------------------- */

static void respond_json(ky_http_request *r, unsigned status, json_t *body)
{
	char *text = json_dumps(body, JSON_COMPACT | JSON_PRESERVE_ORDER);
	json_decref(body);
	if (text == NULL) {
		ky_http_respond(r, 500, NULL, NULL, 0);
		return;
	}
	ky_http_respond(r, status, TAXII_JSON, text, strlen(text));
	free(text);
}

/* TAXII 2.1 §3.6.1: every error has a title, and here its HTTP status and a description. */
static void respond_error(ky_http_request *r, unsigned status, const char *title, const char *description)
{
	char code[8];
	snprintf(code, sizeof(code), "%u", status);
	json_t *body = json_pack("{s:s,s:s,s:s}", "title", title, "description", description, "http_status", code);
	respond_json(r, status, body);
}

/* --- content negotiation, §1.6.8 ---------------------------------------------------------- */

/* Whether one media range of an Accept header admits TAXII 2.1 JSON. */
static bool range_admits(const char *range, size_t n)
{
	char text[128];
	if (n >= sizeof(text))
		return false;
	size_t k = 0;
	for (size_t i = 0; i < n; i++)
		if (range[i] != ' ' && range[i] != '\t')
			text[k++] = (char)(range[i] >= 'A' && range[i] <= 'Z' ? range[i] - 'A' + 'a' : range[i]);
	text[k] = '\0';
	char *params = strchr(text, ';');
	if (params != NULL)
		*params++ = '\0';
	if (strcmp(text, "*/*") == 0 || strcmp(text, "application/*") == 0)
		return true;
	if (strcmp(text, "application/taxii+json") != 0)
		return false;
	/* No version: the latest the server supports (§1.6.8.2); else it must be 2.1. */
	for (char *p = params; p != NULL && *p;) {
		char *next = strchr(p, ';');
		if (next)
			*next++ = '\0';
		if (strncmp(p, "version=", 8) == 0 && strcmp(p + 8, "2.1") != 0)
			return false;
		p = next;
	}
	return true;
}

static bool accepts_taxii(const char *accept)
{
	if (accept == NULL || *accept == '\0')
		return true;
	for (const char *p = accept;;) {
		size_t n = strcspn(p, ",");
		if (range_admits(p, n))
			return true;
		if (p[n] == '\0')
			return false;
		p += n + 1;
	}
}

/* --- authentication, §1.6.9 ---------------------------------------------------------------- */

/* The slot that counts one client address's failures (a collision merely shares a count). */
static failure_slot *slot_of(ky_taxii *t, const char *client)
{
	size_t slot = 0;
	for (const char *c = client; *c; c++)
		slot = slot * 31 + (unsigned char)*c;
	return &t->failures[slot % FAILURE_SLOTS];
}

/* Whether this client failed too often lately; records nothing. */
static bool slowed_down(ky_taxii *t, const char *client)
{
	failure_slot *f = slot_of(t, client);
	bool slow = false;
	pthread_mutex_lock(&t->failures_lock);
	if (strcmp(f->client, client) == 0 && time(NULL) - f->first < FAILURE_WINDOW_SECONDS)
		slow = f->count >= FAILURES_BEFORE_SLOWDOWN;
	pthread_mutex_unlock(&t->failures_lock);
	return slow;
}

static void record_failure(ky_taxii *t, const char *client, bool failed)
{
	failure_slot *f = slot_of(t, client);
	time_t now = time(NULL);
	pthread_mutex_lock(&t->failures_lock);
	if (!failed) {
		if (strcmp(f->client, client) == 0)
			f->count = 0;
	} else if (strcmp(f->client, client) != 0 || now - f->first >= FAILURE_WINDOW_SECONDS) {
		snprintf(f->client, sizeof(f->client), "%s", client);
		f->count = 1;
		f->first = now;
	} else {
		f->count++;
	}
	pthread_mutex_unlock(&t->failures_lock);
}

/* The identity behind the Authorization header, or a response already sent (false). */
static bool authenticate(ky_taxii *t, ky_store *store, ky_http_request *r, ky_auth_identity *who)
{
	const char *client = ky_http_client(r);
	if (slowed_down(t, client)) {
		ky_http_header_add(r, "Retry-After", "60");
		respond_error(r, 429, "Too many failed authentications",
			      "This address failed to authenticate too often; wait a minute before trying again.");
		return false;
	}
	const char *header = ky_http_header(r, "Authorization");
	char decoded[512], *user = NULL, *key = NULL;
	if (header != NULL && strncasecmp(header, "Basic ", 6) == 0) {
		size_t len = 0;
		if (sodium_base642bin((unsigned char *)decoded, sizeof(decoded) - 1, header + 6, strlen(header + 6), " ",
				      &len, NULL, sodium_base64_VARIANT_ORIGINAL) == 0) {
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
	int rc = key != NULL ? ky_auth_verify(store, user, key, who) : KY_EDENIED;
	if (rc == KY_OK) {
		record_failure(t, client, false);
		return true;
	}
	if (rc != KY_EDENIED) {
		respond_error(r, 503, "The hub's database is unavailable", ky_error_last());
		return false;
	}
	record_failure(t, client, key != NULL);
	/* The same answer whether the user exists or not. */
	ky_http_header_add(r, "WWW-Authenticate", "Basic realm=\"kyoyu\", charset=\"UTF-8\"");
	respond_error(r, 401, "Authentication required",
		      "Send HTTP Basic credentials (a user name and an API key as the password) or a Bearer API key.");
	return false;
}

/* --- resources ----------------------------------------------------------------------------- */

/* §5.2.1: a collection resource. */
static json_t *collection_json(const ky_store_collection *c)
{
	json_t *o = json_pack("{s:s,s:s}", "id", c->uuid, "title", c->title);
	if (c->description != NULL)
		json_object_set_new(o, "description", json_string(c->description));
	json_object_set_new(o, "can_read", json_true());
	json_object_set_new(o, "can_write", json_true());
	json_object_set_new(o, "media_types", json_pack("[s]", "application/stix+json;version=2.1"));
	return o;
}

/* Whether `who` may read the collection (see the file's opening comment). */
static bool may_read(const ky_auth_identity *who, const ky_store_collection *c)
{
	(void)c;
	return who->owner;
}

typedef struct listing {
	const ky_auth_identity *who;
	json_t *list;
} listing;

static int add_collection(void *ctx, const ky_store_collection *c)
{
	listing *l = ctx;
	if (may_read(l->who, c))
		json_array_append_new(l->list, collection_json(c));
	return 0;
}

/* §4.1.1: the discovery resource. */
static void discovery(ky_taxii *t, ky_http_request *r)
{
	char root[512];
	snprintf(root, sizeof(root), "/%s/", t->api_root);
	json_t *body = json_pack("{s:s,s:s,s:s,s:[s]}", "title", t->title, "description",
				 "A kyoyu threat-sharing hub", "default", root, "api_roots", root);
	respond_json(r, 200, body);
}

/* §4.2.1: the API root resource. */
static void api_root(ky_taxii *t, ky_http_request *r)
{
	json_t *body = json_pack("{s:s,s:[s],s:I}", "title", t->title, "versions", TAXII_JSON, "max_content_length",
				 (json_int_t)t->max_content_length);
	respond_json(r, 200, body);
}

static void collections(ky_store *store, ky_http_request *r, const ky_auth_identity *who)
{
	json_t *list = json_array();
	listing l = {who, list};
	if (ky_store_collection_list(store, add_collection, &l) != KY_OK) {
		json_decref(list);
		respond_error(r, 503, "The hub's database is unavailable", ky_error_last());
		return;
	}
	json_t *body = json_object();
	/* §5.1.1: an empty collections resource has no "collections" property. */
	if (json_array_size(list) > 0)
		json_object_set_new(body, "collections", list);
	else
		json_decref(list);
	respond_json(r, 200, body);
}

static void collection(ky_store *store, ky_http_request *r, const ky_auth_identity *who, const char *id)
{
	ky_store_collection c = {0};
	int rc = ky_store_collection_find(store, id, &c);
	/* Only by the TAXII id (a UUID): names are for the command line. */
	if (rc == KY_OK && strcmp(c.uuid, id) == 0 && may_read(who, &c)) {
		respond_json(r, 200, collection_json(&c));
	} else if (rc == KY_OK || rc == KY_ENOTFOUND) {
		respond_error(r, 404, "No such collection", "There is no collection with this id on this API root.");
	} else {
		respond_error(r, 503, "The hub's database is unavailable", ky_error_last());
	}
	ky_store_collection_clear(&c);
}

/* --- the handler ---------------------------------------------------------------------------- */

static void close_store(void *store)
{
	ky_store_close(store);
}

static ky_store *thread_store(ky_taxii *t)
{
	ky_store *s = pthread_getspecific(t->store_key);
	if (s == NULL) {
		ky_store_options options = {.retry_seconds = t->retry_seconds};
		if (ky_store_open(&s, t->db, &options, NULL) != KY_OK)
			return NULL;
		pthread_setspecific(t->store_key, s);
	}
	return s;
}

/* Splits "/a/b/c/" into at most max segments; returns how many, or -1 when too many. */
static int segments(char *path, char **out, int max)
{
	int n = 0;
	for (char *p = strtok(path, "/"); p != NULL; p = strtok(NULL, "/")) {
		if (n == max)
			return -1;
		out[n++] = p;
	}
	return n;
}

void ky_taxii_handle(void *ctx, ky_http_request *r)
{
	ky_taxii *t = ctx;
	const char *method = ky_http_method(r);
	const char *path = ky_http_path(r);
	size_t len = strlen(path);

	if (!accepts_taxii(ky_http_header(r, "Accept"))) {
		respond_error(r, 406, "Not acceptable",
			      "This server answers with application/taxii+json;version=2.1; the Accept header allows neither it "
			      "nor application/taxii+json.");
		return;
	}
	if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0) {
		ky_http_header_add(r, "Allow", "GET, HEAD");
		respond_error(r, 405, "Method not allowed", "This resource is read with GET.");
		return;
	}
	ky_store *store = thread_store(t);
	if (store == NULL) {
		respond_error(r, 503, "The hub's database is unavailable", ky_error_last());
		return;
	}
	ky_auth_identity who;
	if (!authenticate(t, store, r, &who))
		return;
	/* TAXII URLs end with a slash (§3.1). */
	char *copy = ky_arena_strndup(ky_http_arena(r), path, len);
	char *part[5];
	int n = copy && len > 0 && path[len - 1] == '/' ? segments(copy, part, 5) : -1;
	if (n == 1 && strcmp(part[0], "taxii2") == 0)
		discovery(t, r);
	else if (n >= 1 && strcmp(part[0], t->api_root) != 0)
		respond_error(r, 404, "No such API root", "This server has no API root at this path.");
	else if (n == 1)
		api_root(t, r);
	else if (n == 2 && strcmp(part[1], "collections") == 0)
		collections(store, r, &who);
	else if (n == 3 && strcmp(part[1], "collections") == 0)
		collection(store, r, &who, part[2]);
	else
		respond_error(r, 404, "Not found", "There is no TAXII resource at this path.");
}

int ky_taxii_new(ky_taxii **out, const ky_taxii_options *o)
{
	ky_taxii *t = calloc(1, sizeof(*t));
	*out = NULL;
	if (t == NULL || ky_auth_init() != KY_OK) {
		free(t);
		return ky_error_set(KY_ENOMEM, "cannot set up the TAXII service");
	}
	t->db = strdup(o->db);
	t->api_root = strdup(o->api_root);
	t->title = strdup(o->title);
	t->max_content_length = o->max_content_length;
	t->retry_seconds = o->retry_seconds;
	if (t->db == NULL || t->api_root == NULL || t->title == NULL || pthread_key_create(&t->store_key, close_store) != 0) {
		free(t->db);
		free(t->api_root);
		free(t->title);
		free(t);
		return ky_error_set(KY_ENOMEM, "out of memory");
	}
	pthread_mutex_init(&t->failures_lock, NULL);
	*out = t;
	return KY_OK;
}

void ky_taxii_free(ky_taxii *t)
{
	if (t == NULL)
		return;
	pthread_key_delete(t->store_key);
	pthread_mutex_destroy(&t->failures_lock);
	free(t->db);
	free(t->api_root);
	free(t->title);
	free(t);
}
