/*
 * taxii: the TAXII 2.1 API over the store (taxii-v2.1.md). This part serves discovery
 * (§4.1), API root information (§4.2) and collections (§5.1, §5.2) to authenticated users;
 * every error carries the TAXII error message (§3.6.1). The handler runs on the HTTP
 * server's worker threads; each thread opens its own store connection on first use.
 */
#ifndef KY_TAXII_H
#define KY_TAXII_H

#include <stddef.h>

#include "http/http.h"

typedef struct ky_taxii ky_taxii;

typedef struct ky_taxii_options {
	const char *db;              /* the hub: a path or a postgresql:// URI */
	const char *api_root;        /* its name in URLs: /api_root/ */
	const char *title;           /* discovery and API root titles */
	size_t max_content_length;   /* advertised in the API root (§4.2.1) */
	int retry_seconds;           /* PostgreSQL reconnection, as for every command */
} ky_taxii_options;

/* The caller owns *out (ky_taxii_free); options' strings are copied. */
int ky_taxii_new(ky_taxii **out, const ky_taxii_options *options);
void ky_taxii_free(ky_taxii *t);

/* The ky_http_handler to give ky_http_start(), with the ky_taxii as its context. */
void ky_taxii_handle(void *ctx, ky_http_request *request);

#endif
