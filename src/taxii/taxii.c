/*
 * taxii: routing, content negotiation (§1.6.8), authentication (§1.6.9), the error message
 * (§3.6.1), and the small resources: discovery (§4.1), API roots (§4.2), status (§4.3),
 * collections (§5.1, §5.2). The paged ones are taxii_objects.c's.
 *
 * A request goes: its route from the path alone (so that 406 and 405 need no database),
 * then authentication, then the resource, checked against what the user may see: an API
 * root is served to everyone authenticated, a collection only to users who may read or
 * write it (kyoyu.conf), and to others it does not exist (404, never 403), so that its
 * existence does not leak.
 */
#include "taxii/taxii.h"

#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <sodium.h>

#include "taxii/taxii_internal.h"
#include "util/ky_error.h"

#define FAILURES_BEFORE_SLOWDOWN 5
#define FAILURE_WINDOW_SECONDS 60

/* --- responses ---------------------------------------------------------------------------- */

void ky_taxii_respond_json(ky_http_request *r, unsigned status, json_t *body)
{
	char *text = json_dumps(body, JSON_COMPACT | JSON_PRESERVE_ORDER);
	json_decref(body);
	if (text == NULL) {
		ky_http_respond(r, 500, NULL, NULL, 0);
		return;
	}
	ky_http_respond(r, status, KY_TAXII_MEDIA, text, strlen(text));
	free(text);
}

void ky_taxii_error(ky_http_request *r, unsigned status, const char *title, const char *fmt, ...)
{
	char code[8], description[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(description, sizeof(description), fmt, ap);
	va_end(ap);
	snprintf(code, sizeof(code), "%u", status);
	/* Parts of a description may come from the request: jansson refuses text that is not
	 * UTF-8, so such a description is replaced rather than the error lost. */
	json_t *body = json_pack("{s:s,s:s,s:s}", "title", title, "description",
				 ky_taxii_text_ok(description, strlen(description)) ? description : "(not shown: not UTF-8)",
				 "http_status", code);
	ky_taxii_respond_json(r, status, body);
}

void ky_taxii_unavailable(ky_http_request *r)
{
	ky_taxii_error(r, 503, "The hub's database is unavailable", "%s", ky_error_last());
}

bool ky_taxii_text_ok(const char *text, size_t len)
{
	const unsigned char *s = (const unsigned char *)text;
	for (size_t i = 0; i < len;) {
		unsigned c = s[i];
		size_t n;
		unsigned min;
		if (c < 0x20 || c == 0x7f)
			return false;
		if (c < 0x80) {
			i++;
			continue;
		}
		if (c >= 0xc2 && c <= 0xdf) {
			n = 1;
			min = 0x80;
		} else if (c >= 0xe0 && c <= 0xef) {
			n = 2;
			min = 0x800;
		} else if (c >= 0xf0 && c <= 0xf4) {
			n = 3;
			min = 0x10000;
		} else {
			return false;
		}
		unsigned cp = c & (0x3fu >> n);
		for (size_t k = 1; k <= n; k++) {
			if (i + k >= len || (s[i + k] & 0xc0) != 0x80)
				return false;
			cp = cp << 6 | (s[i + k] & 0x3f);
		}
		/* Overlong forms, UTF-16 surrogates and code points past U+10FFFF are not UTF-8. */
		if (cp < min || (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff)
			return false;
		i += n + 1;
	}
	return true;
}

/* --- content negotiation, §1.6.8 ---------------------------------------------------------- */

/* Whether one media range of an Accept header admits application/`subtype` at version 2.1
 * (a range without a version means the latest the server supports, §1.6.8.2). */
static bool range_admits(const char *range, size_t n, const char *subtype)
{
	char text[128], want[64];
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
	snprintf(want, sizeof(want), "application/%s", subtype);
	if (strcmp(text, want) != 0)
		return false;
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

static bool accepts(const char *accept, const char *subtype)
{
	if (accept == NULL || *accept == '\0')
		return true;
	for (const char *p = accept;;) {
		size_t n = strcspn(p, ",");
		if (range_admits(p, n, subtype))
			return true;
		if (p[n] == '\0')
			return false;
		p += n + 1;
	}
}

/* --- authentication, §1.6.9 ---------------------------------------------------------------- */

/* The slot that counts one client address's failures (a collision merely shares a count). */
static ky_taxii_failures *slot_of(ky_taxii *t, const char *client)
{
	size_t slot = 0;
	for (const char *c = client; *c; c++)
		slot = slot * 31 + (unsigned char)*c;
	return &t->failures[slot % KY_TAXII_FAILURE_SLOTS];
}

/* Whether this client failed too often lately; records nothing. */
static bool slowed_down(ky_taxii *t, const char *client)
{
	ky_taxii_failures *f = slot_of(t, client);
	bool slow = false;
	pthread_mutex_lock(&t->failures_lock);
	if (strcmp(f->client, client) == 0 && time(NULL) - f->first < FAILURE_WINDOW_SECONDS)
		slow = f->count >= FAILURES_BEFORE_SLOWDOWN;
	pthread_mutex_unlock(&t->failures_lock);
	return slow;
}

static void record_failure(ky_taxii *t, const char *client, bool failed)
{
	ky_taxii_failures *f = slot_of(t, client);
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
		ky_taxii_error(r, 429, "Too many failed authentications", "%s",
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
		ky_taxii_unavailable(r);
		return false;
	}
	record_failure(t, client, key != NULL);
	/* The same answer whether the user exists or not. */
	ky_http_header_add(r, "WWW-Authenticate", "Basic realm=\"kyoyu\", charset=\"UTF-8\"");
	ky_taxii_error(r, 401, "Authentication required", "%s",
		      "Send HTTP Basic credentials (a user name and an API key as the password) or a Bearer API key.");
	return false;
}

/* --- who sees what ------------------------------------------------------------------------ */

/* What kyoyu.conf says of a collection: its section, or NULL for the default rule (on the
 * default API root, the owner's only). */
static const ky_config_collection *grant_of(const ky_taxii *t, const ky_store_collection *c)
{
	return ky_config_collection_find(t->config, c->name);
}

static bool may_read(const ky_taxii *t, const ky_auth_identity *who, const ky_store_collection *c)
{
	const ky_config_collection *g = grant_of(t, c);
	return g ? ky_config_user_listed(g->read, who->user) : who->owner;
}

static bool may_write(const ky_taxii *t, const ky_auth_identity *who, const ky_store_collection *c)
{
	const ky_config_collection *g = grant_of(t, c);
	return g ? ky_config_user_listed(g->write, who->user) : who->owner;
}

const char *ky_taxii_api_root_of(const ky_taxii *t, const ky_store_collection *c)
{
	const ky_config_collection *g = grant_of(t, c);
	return g && g->api_root[0] ? g->api_root : t->config->api_root;
}

static bool api_root_exists(const ky_taxii *t, const char *name)
{
	return strcmp(name, t->config->api_root) == 0 || ky_config_api_root_find(t->config, name) != NULL;
}

/* --- resources ----------------------------------------------------------------------------- */

/* §5.2.1: a collection resource. */
static json_t *collection_json(const ky_taxii *t, const ky_auth_identity *who, const ky_store_collection *c)
{
	json_t *o = json_pack("{s:s,s:s}", "id", c->uuid, "title", c->title);
	if (c->description != NULL)
		json_object_set_new(o, "description", json_string(c->description));
	json_object_set_new(o, "can_read", json_boolean(may_read(t, who, c)));
	json_object_set_new(o, "can_write", json_boolean(may_write(t, who, c)));
	json_object_set_new(o, "media_types", json_pack("[s]", KY_TAXII_STIX_MEDIA));
	return o;
}

typedef struct listing {
	const ky_taxii *t;
	const ky_auth_identity *who;
	const char *api_root;
	json_t *list;
} listing;

static int add_collection(void *ctx, const ky_store_collection *c)
{
	listing *l = ctx;
	if (strcmp(ky_taxii_api_root_of(l->t, c), l->api_root) == 0 && (may_read(l->t, l->who, c) || may_write(l->t, l->who, c)))
		json_array_append_new(l->list, collection_json(l->t, l->who, c));
	return 0;
}

/* §4.1.1: the discovery resource: every API root, the default first. */
static void discovery(ky_taxii *t, ky_http_request *r)
{
	const ky_config *config = t->config;
	char path[KY_CONFIG_NAME_MAX + 3];
	snprintf(path, sizeof(path), "/%s/", config->api_root);
	json_t *roots = json_pack("[s]", path);
	for (size_t i = 0; i < config->napi_roots; i++) {
		if (strcmp(config->api_roots[i].name, config->api_root) == 0)
			continue;
		snprintf(path, sizeof(path), "/%s/", config->api_roots[i].name);
		json_array_append_new(roots, json_string(path));
	}
	snprintf(path, sizeof(path), "/%s/", config->api_root);
	json_t *body = json_pack("{s:s,s:s,s:s,s:o}", "title", config->title, "description", "A kyoyu threat-sharing hub",
				 "default", path, "api_roots", roots);
	ky_taxii_respond_json(r, 200, body);
}

/* §4.2.1: the API root resource. */
static void api_root(ky_taxii *t, ky_http_request *r, const char *name)
{
	const ky_config_api_root *section = ky_config_api_root_find(t->config, name);
	const char *title = section && section->title[0] ? section->title : t->config->title;
	json_t *body = json_pack("{s:s}", "title", title);
	if (section && section->description[0])
		json_object_set_new(body, "description", json_string(section->description));
	json_object_set_new(body, "versions", json_pack("[s]", KY_TAXII_MEDIA));
	json_object_set_new(body, "max_content_length", json_integer((json_int_t)t->config->max_content_length));
	ky_taxii_respond_json(r, 200, body);
}

static void collections(ky_taxii *t, ky_store *store, ky_http_request *r, const ky_auth_identity *who, const char *root)
{
	json_t *list = json_array();
	listing l = {t, who, root, list};
	if (ky_store_collection_list(store, add_collection, &l) != KY_OK) {
		json_decref(list);
		ky_taxii_unavailable(r);
		return;
	}
	json_t *body = json_object();
	/* §5.1.1: an empty collections resource has no "collections" property. */
	if (json_array_size(list) > 0)
		json_object_set_new(body, "collections", list);
	else
		json_decref(list);
	ky_taxii_respond_json(r, 200, body);
}

/* The collection `id` (its TAXII id, a UUID: names are for the command line) on API root
 * `root` as this user may see it, into *c; false when a response has been sent: 404 when it
 * does not exist for the user (or, with `reading`, when the user may not read it), 503. */
static bool find_collection(ky_taxii *t, ky_store *store, ky_http_request *r, const ky_auth_identity *who,
			    const char *root, const char *id, bool reading, ky_store_collection *c)
{
	int rc = ky_store_collection_find(store, id, c);
	if (rc != KY_OK && rc != KY_ENOTFOUND) {
		ky_taxii_unavailable(r);
		return false;
	}
	bool readable = rc == KY_OK && may_read(t, who, c);
	bool visible = rc == KY_OK && strcmp(c->uuid, id) == 0 && strcmp(ky_taxii_api_root_of(t, c), root) == 0 &&
		       (readable || (!reading && may_write(t, who, c)));
	if (!visible) {
		ky_store_collection_clear(c);
		ky_taxii_error(r, 404, "No such collection", "There is no collection with this id on this API root.");
	}
	return visible;
}

/* --- routes ------------------------------------------------------------------------------ */

typedef enum route {
	ROUTE_NONE,
	ROUTE_DISCOVERY,    /* /taxii2/ */
	ROUTE_API_ROOT,     /* /{root}/ */
	ROUTE_STATUS,       /* /{root}/status/{id}/ */
	ROUTE_COLLECTIONS,  /* /{root}/collections/ */
	ROUTE_COLLECTION,   /* /{root}/collections/{id}/ */
	ROUTE_MANIFEST,     /* .../{id}/manifest/ */
	ROUTE_OBJECTS,      /* .../{id}/objects/ */
	ROUTE_OBJECT,       /* .../{id}/objects/{object-id}/ */
	ROUTE_VERSIONS,     /* .../{id}/objects/{object-id}/versions/ */
} route;

#define MAX_SEGMENTS 6

/* Splits "/a/b/c/" into at most max segments; returns how many, or -1 when too many or a
 * segment is empty ("//"). */
static int segments(char *path, char **out, int max)
{
	int n = 0;
	char *p = path + 1;
	while (*p) {
		char *slash = strchr(p, '/');
		if (slash == NULL || slash == p || n == max)
			return -1;
		*slash = '\0';
		out[n++] = p;
		p = slash + 1;
	}
	return n;
}

/* The route of a path already split; part[0] is the API root where there is one. */
static route route_of(char **part, int n)
{
	if (n == 1 && strcmp(part[0], "taxii2") == 0)
		return ROUTE_DISCOVERY;
	if (n == 1)
		return ROUTE_API_ROOT;
	if (n == 3 && strcmp(part[1], "status") == 0)
		return ROUTE_STATUS;
	if (n < 2 || strcmp(part[1], "collections") != 0)
		return ROUTE_NONE;
	if (n == 2)
		return ROUTE_COLLECTIONS;
	if (n == 3)
		return ROUTE_COLLECTION;
	if (n == 4 && strcmp(part[3], "manifest") == 0)
		return ROUTE_MANIFEST;
	if (strcmp(part[3], "objects") != 0)
		return ROUTE_NONE;
	if (n == 4)
		return ROUTE_OBJECTS;
	if (n == 5)
		return ROUTE_OBJECT;
	return strcmp(part[5], "versions") == 0 ? ROUTE_VERSIONS : ROUTE_NONE;
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
		ky_store_options options = {.retry_seconds = (int)t->config->retry_seconds};
		if (ky_store_open(&s, t->db, &options, NULL) != KY_OK)
			return NULL;
		pthread_setspecific(t->store_key, s);
	}
	return s;
}

/* Serves a route under a collection: the collection itself, one of its listings, adding
 * objects to it or deleting one. */
static void collection_route(ky_taxii *t, ky_store *store, ky_http_request *r, const ky_auth_identity *who, route rt,
			     char **part, const char *content_type)
{
	ky_store_collection c = {0};
	bool post = strcmp(ky_http_method(r), "POST") == 0, delete = strcmp(ky_http_method(r), "DELETE") == 0;
	/* Writing needs the collection visible (read or write); the permission check follows. */
	if (!find_collection(t, store, r, who, part[0], part[2], rt != ROUTE_COLLECTION && !post && !delete, &c))
		return;
	/* §5.5, §5.7: writing needs can_write, deleting can_read too; a user who sees the
	 * collection but may not do this gets 403. */
	if ((post && !may_write(t, who, &c)) || (delete && !(may_read(t, who, &c) && may_write(t, who, &c)))) {
		ky_taxii_error(r, 403, "Forbidden", "%s", post ? "You may not add objects to this collection."
							       : "Deleting needs the right to read and to write this collection.");
	} else if (post) {
		ky_taxii_add_objects(t, store, r, who, &c);
	} else if (delete) {
		ky_taxii_delete_object(t, store, r, who, &c, part[4]);
	} else if (rt == ROUTE_COLLECTION)
		ky_taxii_respond_json(r, 200, collection_json(t, who, &c));
	else if (rt == ROUTE_MANIFEST)
		ky_taxii_listing_serve(t, store, r, &c, KY_TAXII_MANIFEST, NULL, content_type);
	else if (rt == ROUTE_OBJECTS)
		ky_taxii_listing_serve(t, store, r, &c, KY_TAXII_OBJECTS, NULL, content_type);
	else
		ky_taxii_listing_serve(t, store, r, &c, rt == ROUTE_OBJECT ? KY_TAXII_OBJECT : KY_TAXII_VERSIONS, part[4],
				       content_type);
	ky_store_collection_clear(&c);
}

static int query_not_text(void *ctx, const char *key, const char *value)
{
	(void)ctx;
	return !ky_taxii_text_ok(key, strlen(key)) || !ky_taxii_text_ok(value, strlen(value));
}

void ky_taxii_handle(void *ctx, ky_http_request *r)
{
	ky_taxii *t = ctx;
	const char *method = ky_http_method(r);
	const char *path = ky_http_path(r);
	size_t len = strlen(path);

	/* TAXII URLs end with a slash (§3.1). */
	char *copy = ky_arena_strndup(ky_http_arena(r), path, len);
	char *part[MAX_SEGMENTS];
	int n = copy && len > 1 && path[0] == '/' && path[len - 1] == '/' ? segments(copy, part, MAX_SEGMENTS) : -1;
	route rt = n > 0 ? route_of(part, n) : ROUTE_NONE;

	/* Envelopes may also be asked for as STIX (the collections' media type); the answer is
	 * labelled with what the client accepts. */
	const char *accept = ky_http_header(r, "Accept");
	const char *content_type = KY_TAXII_MEDIA;
	bool objects = rt == ROUTE_OBJECTS || rt == ROUTE_OBJECT;
	if (!accepts(accept, "taxii+json")) {
		if (!objects || !accepts(accept, "stix+json")) {
			ky_taxii_error(r, 406, "Not acceptable",
				       "This resource is served as %s%s; the Accept header allows neither it nor "
				       "application/taxii+json.",
				       KY_TAXII_MEDIA, objects ? " (or " KY_TAXII_STIX_MEDIA ")" : "");
			return;
		}
		content_type = KY_TAXII_STIX_MEDIA;
	}
	const char *allow = rt == ROUTE_OBJECTS ? "GET, HEAD, POST" : rt == ROUTE_OBJECT ? "GET, HEAD, DELETE" : "GET, HEAD";
	bool allowed = strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0 ||
		       (rt == ROUTE_OBJECTS && strcmp(method, "POST") == 0) || (rt == ROUTE_OBJECT && strcmp(method, "DELETE") == 0);
	if (!allowed) {
		ky_http_header_add(r, "Allow", allow);
		ky_taxii_error(r, 405, "Method not allowed", "This resource takes %s.", allow);
		return;
	}
	ky_store *store = thread_store(t);
	if (store == NULL) {
		ky_taxii_unavailable(r);
		return;
	}
	ky_auth_identity who;
	if (!authenticate(t, store, r, &who))
		return;
	if (!ky_taxii_text_ok(path, len) || ky_http_query_each(r, query_not_text, NULL) != 0) {
		ky_taxii_error(r, 400, "Bad request", "The request's path or a query parameter is not valid UTF-8 text.");
		return;
	}
	if (rt == ROUTE_NONE) {
		ky_taxii_error(r, 404, "Not found", "There is no TAXII resource at this path.");
	} else if (rt == ROUTE_DISCOVERY) {
		discovery(t, r);
	} else if (!api_root_exists(t, part[0])) {
		ky_taxii_error(r, 404, "No such API root", "This server has no API root at this path.");
	} else if (rt == ROUTE_API_ROOT) {
		api_root(t, r, part[0]);
	} else if (rt == ROUTE_STATUS) {
		ky_taxii_status_serve(t, store, r, &who, part[0], part[2]);
	} else if (rt == ROUTE_COLLECTIONS) {
		collections(t, store, r, &who, part[0]);
	} else {
		collection_route(t, store, r, &who, rt, part, content_type);
	}
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
	t->config = malloc(sizeof(*t->config));
	if (t->db == NULL || t->config == NULL || pthread_key_create(&t->store_key, close_store) != 0) {
		free(t->db);
		free(t->config);
		free(t);
		return ky_error_set(KY_ENOMEM, "out of memory");
	}
	*t->config = *o->config;
	pthread_mutex_init(&t->failures_lock, NULL);
	pthread_mutex_init(&t->work_lock, NULL);
	pthread_cond_init(&t->work_cond, NULL);
	if (ky_taxii_processor_start(t) != KY_OK) {
		ky_taxii_free(t);
		return KY_ERROR;
	}
	*out = t;
	return KY_OK;
}

void ky_taxii_free(ky_taxii *t)
{
	if (t == NULL)
		return;
	ky_taxii_processor_stop(t);
	pthread_cond_destroy(&t->work_cond);
	pthread_mutex_destroy(&t->work_lock);
	pthread_key_delete(t->store_key);
	pthread_mutex_destroy(&t->failures_lock);
	free(t->db);
	free(t->config);
	free(t);
}
