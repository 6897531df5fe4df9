/*
 * fuzz_http_target: libFuzzer target for the HTTP layer's request-target parser
 * (ky_http_target_parse, src/http/). Any bytes are a candidate target. A refusal must be one
 * of the documented codes with a message that is UTF-8 text; an accepted target must give a
 * path and parameters that are UTF-8 text without NUL or controls (what every handler relies
 * on), a path starting with '/', and no more parameters than the limit.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http/http.h"
#include "util/ky_error.h"
#include "util/ky_utf8.h"

#define CHECK(cond)                                                                            \
	do {                                                                                   \
		if (!(cond)) {                                                                 \
			fprintf(stderr, "%s:%d: target parser contract broken: %s\n", __FILE__, __LINE__, #cond); \
			abort();                                                               \
		}                                                                              \
	} while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	ky_arena *arena = ky_arena_new();
	CHECK(arena != NULL);
	ky_slice path;
	ky_http_param *params;
	size_t n;
	int rc = ky_http_target_parse(arena, (const char *)data, size, &path, &params, &n);
	CHECK(rc == KY_OK || rc == KY_EINVALID || rc == KY_EURITOOLONG);
	if (rc != KY_OK) {
		CHECK(ky_utf8_text(ky_error_last(), strlen(ky_error_last())));
	} else {
		CHECK(path.len >= 1 && path.ptr[0] == '/' && ky_utf8_text(path.ptr, path.len) && path.ptr[path.len] == '\0');
		CHECK(n <= KY_HTTP_PARAMS_MAX);
		for (size_t i = 0; i < n; i++) {
			CHECK(ky_utf8_text(params[i].key.ptr, params[i].key.len));
			CHECK(ky_utf8_text(params[i].value.ptr, params[i].value.len));
		}
	}
	ky_arena_free(arena);
	return 0;
}
