/*
 * server: the hub's HTTP service, one front for the TAXII 2.1 API (taxii/) and the native
 * API (api/, under /api/v1/). Every request goes the same way:
 *   1. its route, from the method, the path and the Accept header alone (so that 404, 405
 *      and 406 need no database);
 *   2. authentication (HTTP Basic with an API key as the password, or a Bearer key), with
 *      a slowdown for addresses that keep failing; a request without credentials is refused
 *      before the store is touched;
 *   3. the viewer (policy/policy.h), built once, and the gates every route shares: a
 *      suspended member's users are refused (403), and so is a user that has not accepted
 *      the rules in force (403 naming the version and how to accept it), except on the few
 *      routes that serve accepting them;
 *   4. the route's handler, with the viewer.
 * Handlers answer errors with a status code only: http_status.c's one table writes the body.
 *
 * The handlers run on the HTTP server's worker threads; each thread opens its own store
 * connection on first use.
 */
#ifndef KY_SERVER_H
#define KY_SERVER_H

#include "config/config.h"
#include "http/http.h"

typedef struct ky_server ky_server;

typedef struct ky_server_options {
	const char *db;              /* the hub: a path or a postgresql:// URI */
	const ky_config *config;     /* copied */
} ky_server_options;

/* Makes the service: reads the hub's members and groups to compile kyoyu.conf's grants
 * (KY_EINVALID naming a grantee the hub has not got), and sets up TAXII and the API.
 * Nothing runs yet. The caller owns *out (ky_server_free). */
int ky_server_new(ky_server **out, const ky_server_options *options);

/* Starts the background work (the processor of TAXII Add Objects requests); call once the
 * HTTP server is listening. */
int ky_server_start(ky_server *s);

/* Stops the background work and frees s; call after ky_http_stop(). NULL does nothing. */
void ky_server_free(ky_server *s);

/* The handlers to give ky_http_start(), with the ky_server as their context. */
int ky_server_admit(void *ctx, ky_http_request *request);
int ky_server_handle(void *ctx, ky_http_request *request);

#endif
