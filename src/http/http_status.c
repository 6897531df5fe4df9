/*
 * http_status: the one error table. Every failure a request can meet, in a handler or in the
 * HTTP layer itself, is a KY_* status code, and this table alone turns it into an HTTP
 * status, a title and the rule for its description; ky_http_respond_error() writes the body.
 * No handler writes error JSON of its own (as Redis replies errors through one function).
 *
 * "shown" codes are the client's own doing (a malformed parameter, a missing object): their
 * message tells the client what to change. The others are the server's (its database, its
 * memory): their message may name files, hosts or SQL, so it goes to the log under the
 * request's id and the client gets the id.
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http/http.h"
#include "http/http_internal.h"
#include "util/ky_error.h"
#include "util/ky_utf8.h"

#define DEFAULT_ERROR_MEDIA "application/taxii+json;version=2.1"

static const ky_http_status table[] = {
	{KY_EINVALID, 400, "Bad request", true},
	{KY_EUNAUTHENTICATED, 401, "Authentication required", true},
	{KY_EDENIED, 403, "Forbidden", true},
	{KY_ENOTFOUND, 404, "Not found", true},
	{KY_EMETHOD, 405, "Method not allowed", true},
	{KY_ENOTACCEPTABLE, 406, "Not acceptable", true},
	{KY_EEXISTS, 409, "Conflict", true},
	{KY_ECONFLICT, 409, "Conflict", true},
	{KY_ETOOBIG, 413, "Request body too large", true},
	{KY_EURITOOLONG, 414, "Request target too long", true},
	{KY_EMEDIATYPE, 415, "Unsupported media type", true},
	{KY_ETOOMANY, 429, "Too many requests", true},
	{KY_EHEADERSTOOBIG, 431, "Request headers too large", true},
	{KY_ENOMEM, 500, "Out of memory", false},
	{KY_EUNAVAILABLE, 503, "The hub's database is unavailable", false},
	{KY_EBUSY, 503, "The hub is busy", false},
};

static const ky_http_status internal = {KY_ERROR, 500, "Internal server error", false};

int ky_http_store_failure(int rc)
{
	if (rc == KY_ENOMEM)
		return KY_ENOMEM;
	return ky_error_recode(rc == KY_ERROR || rc == KY_EBUSY || rc == KY_EUNAVAILABLE ? KY_EUNAVAILABLE : KY_ERROR);
}

const ky_http_status *ky_http_status_of(int code)
{
	for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++)
		if (table[i].code == code)
			return &table[i];
	return &internal;
}

void ky_http_respond_error(ky_http_request *r, int code, const char *message)
{
	const ky_http_status *row = ky_http_status_of(code);
	char description[600], http_code[8];
	const char *text = message ? message : "";
	size_t len = strlen(text);
	if (row->shown) {
		/* Parts of a message may quote the request: cut whole characters, and never let
		 * bytes that are not text into the body. */
		size_t cut = ky_utf8_prefix(text, len, sizeof(description) - 1);
		if (ky_utf8_text(text, cut)) {
			memcpy(description, text, cut);
			description[cut] = '\0';
		} else {
			snprintf(description, sizeof(description), "%s (the details are not shown: they are not UTF-8 text)",
				 row->title);
		}
	} else {
		snprintf(description, sizeof(description),
			 "The server could not complete this request; its operator finds the cause in the server's log under "
			 "error_id %s.",
			 ky_http_request_id(r));
		ky_slice method = ky_http_method(r), path = ky_http_path(r);
		/* The log keeps the message whole; a path was checked to be text on arrival. */
		fprintf(stderr, "kyoyu: request %s: %.*s %.*s: %u %s: %s\n", ky_http_request_id(r), (int)method.len,
			method.ptr ? method.ptr : "", (int)path.len, path.ptr ? path.ptr : "", row->http, ky_error_name(code),
			text);
	}
	snprintf(http_code, sizeof(http_code), "%u", row->http);
	json_t *body = json_pack("{s:s,s:s,s:s,s:s}", "title", row->title, "description", description, "error_id",
				 ky_http_request_id(r), "http_status", http_code);
	char *bytes = body ? json_dumps(body, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
	json_decref(body);
	if (bytes == NULL) {
		ky_http_respond(r, row->http, NULL, NULL, 0);
		return;
	}
	ky_http_respond_take(r, row->http, ky_http_error_media(r), bytes, strlen(bytes), bytes);
}
