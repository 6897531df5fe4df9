/*
 * http_internal: what http.c and http_status.c share inside the http module.
 */
#ifndef KY_HTTP_INTERNAL_H
#define KY_HTTP_INTERNAL_H

#include "http/http.h"

/* The media type of r's error bodies (the server's option). */
const char *ky_http_error_media(const ky_http_request *r);

#endif
