/*
 * fuzz_taxii_params: libFuzzer target for the TAXII 2.1 URL parameters (§3.4) and cursors
 * (§3.5, src/taxii/taxii_objects.c). The input is a request target; once the HTTP layer has
 * parsed it, its parameters go through the filters of every paged resource. A refusal must
 * leave a problem that is UTF-8 text; accepted filters must stay within their limits; a
 * `next` of any bytes must decode to a clean yes or no, and a cursor made for the filters
 * (with an object id as long as any path segment) must decode to itself, and not for
 * another resource.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/config.h"
#include "http/http.h"
#include "taxii/taxii_internal.h"
#include "util/ky_error.h"
#include "util/ky_utf8.h"

#define CHECK(cond)                                                                            \
	do {                                                                                   \
		if (!(cond)) {                                                                 \
			fprintf(stderr, "%s:%d: TAXII parameter contract broken: %s\n", __FILE__, __LINE__, #cond); \
			abort();                                                               \
		}                                                                              \
	} while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static ky_config config;
	static bool ready;
	if (!ready) {
		ky_config_defaults(&config);
		ready = true;
	}
	static const uint8_t secret[KY_STORE_SECRET_SIZE] = {1, 2, 3, 4, 5, 6, 7, 8};
	ky_arena *arena = ky_arena_new();
	CHECK(arena != NULL);
	ky_slice path;
	ky_http_param *params;
	size_t n;
	if (ky_http_target_parse(arena, (const char *)data, size, &path, &params, &n) != KY_OK) {
		ky_arena_free(arena);
		return 0;
	}
	/* The path's last segment, whatever its length, plays the object id. */
	char *object_id = ky_arena_strndup(arena, path.ptr, path.len);
	CHECK(object_id != NULL);
	static const ky_taxii_listing kinds[] = {KY_TAXII_OBJECTS, KY_TAXII_MANIFEST, KY_TAXII_OBJECT, KY_TAXII_VERSIONS};
	for (size_t k = 0; k < sizeof(kinds) / sizeof(kinds[0]); k++) {
		ky_taxii_filters f = {0};
		if (!ky_taxii_filters_read(params, n, arena, kinds[k], &config, &f)) {
			CHECK(ky_utf8_text(f.problem, strlen(f.problem)));
			continue;
		}
		CHECK(f.limit >= 1 && f.limit <= config.max_page_size);
		CHECK(f.nids <= 100 && f.ntypes <= 100 && f.nmodified <= 64 && f.nspec_versions <= 8);
		const char *id = kinds[k] == KY_TAXII_OBJECT || kinds[k] == KY_TAXII_VERSIONS ? object_id : NULL;
		ky_taxii_cursor got;
		if (f.raw[P_NEXT].ptr != NULL)
			(void)ky_taxii_cursor_decode(secret, f.raw[P_NEXT], "c0ffee00-0000-4000-8000-000000000000", kinds[k],
						     id, &f, &got);
		ky_taxii_cursor made = {size, (int64_t)size * 1000, (int64_t)size}, back = {.viewer = (int64_t)size};
		char text[KY_TAXII_CURSOR_TEXT];
		ky_taxii_cursor_encode(secret, &made, "c0ffee00-0000-4000-8000-000000000000", kinds[k], id, &f, text);
		ky_slice slice = {text, strlen(text)};
		CHECK(ky_taxii_cursor_decode(secret, slice, "c0ffee00-0000-4000-8000-000000000000", kinds[k], id, &f, &back));
		CHECK(back.seq == made.seq && back.date_added_us == made.date_added_us);
		CHECK(!ky_taxii_cursor_decode(secret, slice, "c0ffee00-0000-4000-8000-000000000001", kinds[k], id, &f, &back));
	}
	ky_arena_free(arena);
	return 0;
}
