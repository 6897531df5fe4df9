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

#include "taxii/taxii_internal.h"
#include "util/ky_error.h"

/* --- responses ---------------------------------------------------------------------------- */

void ky_taxii_respond_json(ky_http_request *r, unsigned status, json_t *body)
{
	char *text = json_dumps(body, JSON_COMPACT | JSON_PRESERVE_ORDER);
	json_decref(body);
	if (text == NULL) {
		ky_http_respond_error(r, KY_ENOMEM, "out of memory encoding a response");
		return;
	}
	ky_http_respond(r, status, KY_TAXII_MEDIA, text, strlen(text));
	free(text);
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

/* --- who sees what ------------------------------------------------------------------------ */

/* What kyoyu.conf says of a collection: its section, or NULL (the default API root). */
static const ky_config_collection *grant_of(const ky_taxii *t, const ky_store_collection *c)
{
	return ky_config_collection_find(t->config, c->name);
}

static bool may_read(const ky_taxii *t, const ky_viewer *v, const ky_store_collection *c)
{
	return ky_policy_may_read(t->grants, c->name, v);
}

static bool may_write(const ky_taxii *t, const ky_viewer *v, const ky_store_collection *c)
{
	return ky_policy_may_write(t->grants, c->name, v);
}

/* Whether the collection exists for v: it may read it, or its grants let it write. */
static bool visible(const ky_taxii *t, const ky_viewer *v, const ky_store_collection *c)
{
	return may_read(t, v, c) || ky_policy_granted_write(t->grants, c->name, v);
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
static json_t *collection_json(const ky_taxii *t, const ky_viewer *who, const ky_store_collection *c)
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
	const ky_viewer *who;
	const char *api_root;
	json_t *list;
} listing;

static int add_collection(void *ctx, const ky_store_collection *c)
{
	listing *l = ctx;
	if (strcmp(ky_taxii_api_root_of(l->t, c), l->api_root) == 0 && visible(l->t, l->who, c))
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

static int collections(ky_taxii *t, ky_store *store, ky_http_request *r, const ky_viewer *who, const char *root)
{
	json_t *list = json_array();
	listing l = {t, who, root, list};
	int rc = ky_store_collection_list(store, add_collection, &l);
	if (rc != KY_OK) {
		json_decref(list);
		return ky_http_store_failure(rc);
	}
	json_t *body = json_object();
	/* §5.1.1: an empty collections resource has no "collections" property. */
	if (json_array_size(list) > 0)
		json_object_set_new(body, "collections", list);
	else
		json_decref(list);
	ky_taxii_respond_json(r, 200, body);
	return KY_OK;
}

/* The collection `id` (its TAXII id, a UUID: names are for the command line) on API root
 * `root` as this user may see it, into *c; KY_ENOTFOUND when it does not exist for the user
 * (or, with `reading`, when the user may not read it), or the store's failure. */
static int find_collection(ky_taxii *t, ky_store *store, const ky_viewer *who, const char *root, const char *id,
			   bool reading, ky_store_collection *c)
{
	int rc = ky_store_collection_find(store, id, c);
	if (rc != KY_OK && rc != KY_ENOTFOUND) {
		/* A find that ran out of memory may have copied some of the strings already. */
		ky_store_collection_clear(c);
		return ky_http_store_failure(rc);
	}
	bool readable = rc == KY_OK && may_read(t, who, c);
	bool found = rc == KY_OK && strcmp(c->uuid, id) == 0 && strcmp(ky_taxii_api_root_of(t, c), root) == 0 &&
		     (readable || (!reading && visible(t, who, c)));
	if (!found) {
		ky_store_collection_clear(c);
		return ky_error_set(KY_ENOTFOUND, "There is no collection with this id on this API root.");
	}
	return KY_OK;
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

/* What routing decided, for serving. */
typedef struct request_state {
	route rt;
	char *part[MAX_SEGMENTS];    /* the path's segments, NUL-free (http.h), in the arena */
	const char *content_type;    /* of a successful answer */
} request_state;

/* Splits the path "/a/b/c/" (len bytes, NUL-free) into at most max segments, copied into the
 * arena; returns how many, or -1 when too many, a segment is empty ("//"), the path does not
 * end with '/' (TAXII URLs do, §3.1), or memory ran out. */
static int segments(ky_arena *arena, ky_slice path, char **out, int max)
{
	if (path.len < 2 || path.ptr[0] != '/' || path.ptr[path.len - 1] != '/')
		return -1;
	int n = 0;
	for (size_t start = 1; start < path.len;) {
		const char *slash = memchr(path.ptr + start, '/', path.len - start);
		size_t len = (size_t)(slash - (path.ptr + start));
		if (len == 0 || n == max)
			return -1;
		out[n] = ky_arena_strndup(arena, path.ptr + start, len);
		if (out[n++] == NULL)
			return -1;
		start += len + 1;
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

/* --- the handlers ------------------------------------------------------------------------------ */

int ky_taxii_route(ky_taxii *t, ky_http_request *r, void **state)
{
	(void)t;
	request_state *st = ky_arena_alloc(ky_http_arena(r), sizeof(*st));
	if (st == NULL)
		return ky_error_set(KY_ENOMEM, "out of memory");
	ky_slice method = ky_http_method(r);
	int n = segments(ky_http_arena(r), ky_http_path(r), st->part, MAX_SEGMENTS);
	st->rt = n > 0 ? route_of(st->part, n) : ROUTE_NONE;

	/* Envelopes may also be asked for as STIX (the collections' media type); the answer is
	 * labelled with what the client accepts. */
	const char *accept = ky_http_header(r, "Accept");
	st->content_type = KY_TAXII_MEDIA;
	bool objects = st->rt == ROUTE_OBJECTS || st->rt == ROUTE_OBJECT;
	if (!accepts(accept, "taxii+json")) {
		if (!objects || !accepts(accept, "stix+json"))
			return ky_error_set(KY_ENOTACCEPTABLE,
					    "This resource is served as %s%s; the Accept header allows neither it nor "
					    "application/taxii+json.",
					    KY_TAXII_MEDIA, objects ? " (or " KY_TAXII_STIX_MEDIA ")" : "");
		st->content_type = KY_TAXII_STIX_MEDIA;
	}
	const char *allow = st->rt == ROUTE_OBJECTS  ? "GET, HEAD, POST"
			    : st->rt == ROUTE_OBJECT ? "GET, HEAD, DELETE"
						 : "GET, HEAD";
	bool allowed = ky_slice_is(method, "GET") || ky_slice_is(method, "HEAD") ||
		       (st->rt == ROUTE_OBJECTS && ky_slice_is(method, "POST")) ||
		       (st->rt == ROUTE_OBJECT && ky_slice_is(method, "DELETE"));
	if (!allowed) {
		ky_http_header_add(r, "Allow", allow);
		return ky_error_set(KY_EMETHOD, "This resource takes %s.", allow);
	}
	*state = st;
	return KY_OK;
}

/* Serves a route under a collection: the collection itself, one of its listings, adding
 * objects to it or deleting one. */
static int collection_route(ky_taxii *t, ky_http_request *r, const request_state *st, ky_store *store,
			    const ky_viewer *who)
{
	ky_store_collection c = {0};
	ky_slice method = ky_http_method(r);
	bool post = ky_slice_is(method, "POST"), delete = ky_slice_is(method, "DELETE");
	route rt = st->rt;
	/* Writing needs the collection visible (read or write); the permission check follows. */
	int rc = find_collection(t, store, who, st->part[0], st->part[2], rt != ROUTE_COLLECTION && !post && !delete, &c);
	if (rc != KY_OK)
		return rc;
	/* §5.5, §5.7: writing needs can_write, deleting can_read too; a user who sees the
	 * collection but may not do this gets 403. */
	if ((post && !may_write(t, who, &c)) || (delete && !ky_policy_may_delete(t->grants, c.name, who))) {
		bool role = ky_policy_granted_write(t->grants, c.name, who);
		rc = ky_error_set(KY_EDENIED, "%s",
				  post && role ? "Your role (reader) reads; adding objects needs the role analyst or admin."
				  : post	 ? "You may not add objects to this collection."
				  : role && may_read(t, who, &c)
				      ? "Deleting objects needs the role admin."
				      : "Deleting needs the right to read and to write this collection.");
	} else if (post) {
		rc = ky_taxii_add_objects(t, store, r, who, &c);
	} else if (delete) {
		rc = ky_taxii_delete_object(t, store, r, who, &c, st->part[4]);
	} else if (rt == ROUTE_COLLECTION) {
		ky_taxii_respond_json(r, 200, collection_json(t, who, &c));
	} else if (rt == ROUTE_MANIFEST) {
		rc = ky_taxii_listing_serve(t, store, r, &c, who, KY_TAXII_MANIFEST, NULL, st->content_type);
	} else if (rt == ROUTE_OBJECTS) {
		rc = ky_taxii_listing_serve(t, store, r, &c, who, KY_TAXII_OBJECTS, NULL, st->content_type);
	} else {
		rc = ky_taxii_listing_serve(t, store, r, &c, who, rt == ROUTE_OBJECT ? KY_TAXII_OBJECT : KY_TAXII_VERSIONS,
					    st->part[4], st->content_type);
	}
	ky_store_collection_clear(&c);
	return rc;
}

int ky_taxii_serve(ky_taxii *t, ky_http_request *r, void *state, ky_store *store, const ky_viewer *viewer)
{
	const request_state *st = state;
	if (st->rt == ROUTE_NONE)
		return ky_error_set(KY_ENOTFOUND, "There is no TAXII resource at this path.");
	if (st->rt == ROUTE_DISCOVERY) {
		discovery(t, r);
		return KY_OK;
	}
	if (!api_root_exists(t, st->part[0]))
		return ky_error_set(KY_ENOTFOUND, "This server has no API root at this path.");
	switch (st->rt) {
	case ROUTE_API_ROOT:
		api_root(t, r, st->part[0]);
		return KY_OK;
	case ROUTE_STATUS:
		return ky_taxii_status_serve(t, store, r, viewer, st->part[0], st->part[2]);
	case ROUTE_COLLECTIONS:
		return collections(t, store, r, viewer, st->part[0]);
	default:
		return collection_route(t, r, st, store, viewer);
	}
}

int ky_taxii_new(ky_taxii **out, const ky_taxii_options *o)
{
	ky_taxii *t = calloc(1, sizeof(*t));
	*out = NULL;
	if (t == NULL)
		return ky_error_set(KY_ENOMEM, "cannot set up the TAXII service");
	t->db = strdup(o->db);
	t->config = malloc(sizeof(*t->config));
	if (t->db == NULL || t->config == NULL) {
		free(t->db);
		free(t->config);
		free(t);
		return ky_error_set(KY_ENOMEM, "out of memory");
	}
	*t->config = *o->config;
	t->grants = o->grants;
	pthread_mutex_init(&t->work_lock, NULL);
	pthread_cond_init(&t->work_cond, NULL);
	*out = t;
	return KY_OK;
}

int ky_taxii_start(ky_taxii *t)
{
	return ky_taxii_processor_start(t);
}

void ky_taxii_free(ky_taxii *t)
{
	if (t == NULL)
		return;
	ky_taxii_processor_stop(t);
	pthread_cond_destroy(&t->work_cond);
	pthread_mutex_destroy(&t->work_lock);
	free(t->db);
	free(t->config);
	free(t);
}
