/*
 * taxii: the TAXII 2.1 API over the store (taxii-v2.1.md). Serves to authenticated users
 * discovery (§4.1), API roots (§4.2), status (§4.3), collections (§5.1, §5.2), and the
 * objects a user may read: manifests (§5.3), objects (§5.4), one object (§5.6) and its
 * versions (§5.8), with the filters of §3.4 and the pagination of §3.5. Every error carries
 * the TAXII error message (§3.6.1). docs/taxii.md records the choices the standard leaves.
 *
 * Who sees what is the policy's (policy/policy.h, from kyoyu.conf's grants): a collection a
 * user may neither read nor write does not exist for that user (404, never 403).
 * Authentication and the gates every route shares are the server's (server/server.h).
 */
#ifndef KY_TAXII_H
#define KY_TAXII_H

#include "config/config.h"
#include "http/http.h"
#include "policy/policy.h"
#include "store/store.h"

typedef struct ky_taxii ky_taxii;

typedef struct ky_taxii_options {
	const char *db;              /* the hub: a path or a postgresql:// URI */
	const ky_config *config;     /* API roots, page sizes, titles */
	const ky_policy_grants *grants; /* who reads and writes which collection; borrowed, it
					 * outlives the ky_taxii */
} ky_taxii_options;

/* The caller owns *out (ky_taxii_free); the options are copied. Nothing runs yet. */
int ky_taxii_new(ky_taxii **out, const ky_taxii_options *options);

/* Starts the processor of Add Objects requests (on a thread of its own); call once the
 * server is listening, so that a server that cannot start processes nothing. */
int ky_taxii_start(ky_taxii *t);

/* Stops the processor (after the request in hand) and frees t; call after ky_http_stop(). */
void ky_taxii_free(ky_taxii *t);

/* The server's front (server/server.h) calls these. Route decides, from the method, the path
 * and the Accept header alone, what resource the request is for: KY_OK with *state (in the
 * request's arena) to hand to serve, or the 405 or 406 to answer. Serve answers it for the
 * authenticated viewer on this thread's store connection. */
int ky_taxii_route(ky_taxii *t, ky_http_request *request, void **state);
int ky_taxii_serve(ky_taxii *t, ky_http_request *request, void *state, ky_store *store, const ky_viewer *viewer);

#endif
