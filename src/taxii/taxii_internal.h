/*
 * taxii_internal: what the TAXII module's files share. taxii.c routes, negotiates,
 * authenticates and serves the small resources; taxii_objects.c serves the paged ones
 * (objects, manifest, one object, versions) with their filters and cursors.
 */
#ifndef KY_TAXII_INTERNAL_H
#define KY_TAXII_INTERNAL_H

#include <pthread.h>
#include <stdbool.h>
#include <time.h>

#include "auth/auth.h"
#include "config/config.h"
#include "http/http.h"
#include "store/store.h"
#include "taxii/taxii.h"

#define KY_TAXII_MEDIA "application/taxii+json;version=2.1"
#define KY_TAXII_STIX_MEDIA "application/stix+json;version=2.1"
#define KY_TAXII_FAILURE_SLOTS 1024

typedef struct ky_taxii_failures {
	char client[64];
	unsigned count;
	time_t first;
} ky_taxii_failures;

struct ky_taxii {
	char *db;
	ky_config *config;          /* a copy of the caller's */
	pthread_key_t store_key;    /* each worker thread's store connection */
	pthread_mutex_t failures_lock;
	ky_taxii_failures failures[KY_TAXII_FAILURE_SLOTS];
};

/* The paged resources of a collection. */
typedef enum ky_taxii_listing {
	KY_TAXII_OBJECTS,   /* §5.4 GET objects/: an envelope */
	KY_TAXII_MANIFEST,  /* §5.3 GET manifest/: a manifest */
	KY_TAXII_OBJECT,    /* §5.6 GET objects/{object-id}/: an envelope */
	KY_TAXII_VERSIONS,  /* §5.8 GET objects/{object-id}/versions/: a versions resource */
} ky_taxii_listing;

/* Answers with a TAXII error message (§3.6.1): title, description and the HTTP status. */
void ky_taxii_error(ky_http_request *r, unsigned status, const char *title, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/* Answers 503 with the store's last error: the database cannot be reached. */
void ky_taxii_unavailable(ky_http_request *r);

/*
 * Serves one paged resource of collection c (which the user may read) for the request's
 * query: object_id is the {object-id} of KY_TAXII_OBJECT and KY_TAXII_VERSIONS, else NULL;
 * content_type is the negotiated type of the response.
 */
void ky_taxii_listing_serve(ky_taxii *t, ky_store *store, ky_http_request *r, const ky_store_collection *c,
			    ky_taxii_listing kind, const char *object_id, const char *content_type);

/* Whether `text` (len bytes) is well-formed UTF-8 without NUL or other C0 controls. */
bool ky_taxii_text_ok(const char *text, size_t len);

#endif
