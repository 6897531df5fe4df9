/*
 * api: the native JSON API under /api/v1/, for what TAXII does not cover: who the caller is
 * (me), the council's members, users, groups and keys, and the rules and their acceptance.
 * docs/api.md is the user's page; src/api/openapi.json (an OpenAPI 3.1 document, served at
 * /api/v1/openapi.json) describes every route and body, and the tests hold the routes and
 * the answers to it.
 *
 * The same authentication and gates as TAXII (server/server.h); bodies are JSON objects
 * (application/json) whose unknown fields are refused; answers are application/json, errors
 * the TAXII error body through the one error table; lists are paged with `limit` and an
 * opaque `next`, in pages of TAXII's sizes. What a route does is council/council.h's, which decides who may.
 */
#ifndef KY_API_H
#define KY_API_H

#include <stdbool.h>
#include <stddef.h>

#include "config/config.h"
#include "http/http.h"
#include "policy/policy.h"
#include "store/store.h"

typedef struct ky_api ky_api;

typedef struct ky_api_options {
	const ky_config *config;     /* page sizes ([server] page_size, max_page_size), as
				      * TAXII's; borrowed: outlives the ky_api */
	const ky_policy_grants *grants; /* who reads which collection; borrowed likewise */
} ky_api_options;

/* The caller owns *out (ky_api_free). */
int ky_api_new(ky_api **out, const ky_api_options *options);
void ky_api_free(ky_api *a);

/* The live stream's hub, which GET /api/v1/stream opens clients of (503 until it is set);
 * borrowed: the server frees it after the HTTP server has stopped. */
struct ky_stream_hub;
void ky_api_set_stream(ky_api *a, struct ky_stream_hub *hub);

/* As ky_taxii_route() and ky_taxii_serve() (taxii.h), for the server's front: route finds the
 * route from the method, path and Accept header (404, 405 with Allow, 406 without the
 * database); serve answers it. */
int ky_api_route(ky_api *a, ky_http_request *request, void **state);
int ky_api_serve(ky_api *a, ky_http_request *request, void *state, ky_store *store, const ky_viewer *viewer);

/* Whether the routed request serves accepting the rules (me, rules, rules/accept, the
 * document), which a user that has not accepted them may still make. */
bool ky_api_rules_exempt(const void *state);

/* The routes, as the OpenAPI document names them ("GET", "/api/v1/members/{name}"), for the
 * test that holds the two to each other: route i of ky_api_route_count(). */
typedef struct ky_api_route_name {
	const char *method, *path;
} ky_api_route_name;
size_t ky_api_route_count(void);
ky_api_route_name ky_api_route_at(size_t i);

/* The OpenAPI document, as built into the binary from src/api/openapi.json. */
extern const char ky_api_openapi_json[];
extern const size_t ky_api_openapi_json_len;

#endif
