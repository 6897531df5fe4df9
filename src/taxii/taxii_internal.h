/*
 * taxii_internal: what the TAXII module's files share. taxii.c routes, negotiates,
 * authenticates and serves the small resources; taxii_objects.c serves the paged ones
 * (objects, manifest, one object, versions) with their filters and cursors.
 */
#ifndef KY_TAXII_INTERNAL_H
#define KY_TAXII_INTERNAL_H

#include <jansson.h>
#include <pthread.h>
#include <stdbool.h>
#include <time.h>

#include "auth/auth.h"
#include "config/config.h"
#include "http/http.h"
#include "policy/policy.h"
#include "store/store.h"
#include "taxii/taxii.h"
#include "util/ky_clock.h"

#define KY_TAXII_MEDIA "application/taxii+json;version=2.1"
#define KY_TAXII_STIX_MEDIA "application/stix+json;version=2.1"
struct ky_taxii {
	char *db;
	ky_config *config;          /* a copy of the caller's */
	const ky_policy_grants *grants; /* the server's */
	/* The processor of Add Objects requests (taxii_write.c), on a thread of its own. */
	pthread_t processor;
	bool processor_running;
	pthread_mutex_t work_lock;
	pthread_cond_t work_cond;
	bool work_waiting;          /* a request arrived since the processor last looked */
	bool stopping;
};

/* The paged resources of a collection. */
typedef enum ky_taxii_listing {
	KY_TAXII_OBJECTS,   /* §5.4 GET objects/: an envelope */
	KY_TAXII_MANIFEST,  /* §5.3 GET manifest/: a manifest */
	KY_TAXII_OBJECT,    /* §5.6 GET objects/{object-id}/: an envelope */
	KY_TAXII_VERSIONS,  /* §5.8 GET objects/{object-id}/versions/: a versions resource */
} ky_taxii_listing;

/* The URL parameters of §3.4 that the listings, and Delete an Object, read; others are
 * ignored, as §3.4 allows for match fields a server does not understand. */
enum { P_ADDED_AFTER, P_LIMIT, P_NEXT, P_ID, P_TYPE, P_VERSION, P_SPEC_VERSION, KY_TAXII_NPARAMS };
extern const char *const ky_taxii_param_names[KY_TAXII_NPARAMS];

typedef struct ky_taxii_filters {
	ky_slice raw[KY_TAXII_NPARAMS];   /* as given ({NULL, 0}: absent), borrowed from the request */
	char problem[512];                /* the first malformed parameter, for the 400 */
	int64_t added_after_us;           /* 0: none */
	size_t limit;                     /* page size: the client's, lowered to the maximum */
	const char **ids, **types, **spec_versions, **modified; /* in the request's arena */
	size_t nids, ntypes, nspec_versions, nmodified;
	unsigned versions;                /* KY_STORE_* keywords of match[version] */
} ky_taxii_filters;

/* Reads and checks the parameters `kind` takes into *f (which the caller zeroes); false with
 * f->problem on the first malformed one. The request's parameters, or any parsed ones
 * (ky_http_target_parse) with an arena for the values' lists: f borrows from both. */
bool ky_taxii_filters_parse(ky_http_request *r, ky_taxii_listing kind, const ky_config *config, ky_taxii_filters *f);
bool ky_taxii_filters_read(const ky_http_param *params, size_t nparams, ky_arena *arena, ky_taxii_listing kind,
			   const ky_config *config, ky_taxii_filters *f);

/* A page's `next` (§3.5): where the page ended, and a MAC under the hub's cursor secret over
 * that, the viewer (its user), the collection, the resource and the filters as given, so
 * that a forged cursor, one made for other filters or one another viewer was given, is
 * refused. */
typedef struct ky_taxii_cursor {
	uint64_t seq;
	int64_t date_added_us;
	int64_t viewer;                /* MAC'd, not written: the caller sets it both ways */
} ky_taxii_cursor;
#define KY_TAXII_CURSOR_TEXT 48   /* the base64url text and its NUL */

void ky_taxii_cursor_encode(const uint8_t secret[KY_STORE_SECRET_SIZE], const ky_taxii_cursor *c,
			    const char *collection_uuid, ky_taxii_listing kind, const char *object_id,
			    const ky_taxii_filters *f, char out[KY_TAXII_CURSOR_TEXT]);
/* Whether text is a cursor made with this secret for this resource and these filters
 * (into *out); any bytes of any length are merely false. */
bool ky_taxii_cursor_decode(const uint8_t secret[KY_STORE_SECRET_SIZE], ky_slice text, const char *collection_uuid,
			    ky_taxii_listing kind, const char *object_id, const ky_taxii_filters *f, ky_taxii_cursor *out);

/* Whether collection c has any version of object_id that `who` may read: 1, 0, or -1 when the
 * store failed. */
int ky_taxii_object_exists(ky_store *store, const ky_store_collection *c, const char *object_id, const ky_viewer *who);

/* Answers with `body` (taken: decref'd here) as TAXII JSON. */
void ky_taxii_respond_json(ky_http_request *r, unsigned status, json_t *body);

/* The API root collection c is served on (kyoyu.conf). */
const char *ky_taxii_api_root_of(const ky_taxii *t, const ky_store_collection *c);

/* Add Objects (§5.5) to c, which the user may write: 202 with the status once the envelope
 * is durable. These three return KY_OK once answered, else the request's failure. */
int ky_taxii_add_objects(ky_taxii *t, ky_store *store, ky_http_request *r, const ky_viewer *who,
			 const ky_store_collection *c);

/* Delete an Object (§5.7) from c, which the user may read and write. */
int ky_taxii_delete_object(ky_taxii *t, ky_store *store, ky_http_request *r, const ky_viewer *who,
			   const ky_store_collection *c, const char *object_id);

/* Get Status (§4.3): the requester's own statuses, on their collection's API root. */
int ky_taxii_status_serve(ky_taxii *t, ky_store *store, ky_http_request *r, const ky_viewer *who,
			  const char *api_root, const char *id);

/* The processor of Add Objects requests: started once, woken by each new request, stopped
 * (after the request in hand) before the ky_taxii is freed. */
int ky_taxii_processor_start(ky_taxii *t);
void ky_taxii_wake_processor(ky_taxii *t);
void ky_taxii_processor_stop(ky_taxii *t);


/*
 * Serves one paged resource of collection c (which the user may read) for the request's
 * query, of the versions `who` may read and as if no other existed: object_id is the {object-id} of KY_TAXII_OBJECT and KY_TAXII_VERSIONS, else NULL;
 * content_type is the negotiated type of the response. KY_OK once answered, else the
 * request's failure (KY_EINVALID with the malformed parameter, KY_ENOTFOUND, a store one).
 */
int ky_taxii_listing_serve(ky_taxii *t, ky_store *store, ky_http_request *r, const ky_store_collection *c,
			   const ky_viewer *who, ky_taxii_listing kind, const char *object_id, const char *content_type);

#endif
