/*
 * test_api_routes: the native API's routes and its OpenAPI document (src/api/openapi.json,
 * given as argv[1]) name the same (method, path) pairs, both ways: a route the document lacks
 * or a documented route the server lacks fails. The document built into the binary is the
 * file's bytes.
 */
#include <ctype.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <cmocka.h>
#include <jansson.h>

#include "api/api.h"

static const char *document_path;

static bool served(const char *method, const char *path)
{
	for (size_t i = 0; i < ky_api_route_count(); i++) {
		ky_api_route_name r = ky_api_route_at(i);
		if (strcasecmp(r.method, method) == 0 && strcmp(r.path, path) == 0)
			return true;
	}
	return false;
}

static void test_routes_match_the_document(void **state)
{
	(void)state;
	json_error_t error;
	json_t *doc = json_load_file(document_path, 0, &error);
	if (doc == NULL)
		fail_msg("%s: %s", document_path, error.text);
	assert_string_equal(json_string_value(json_object_get(doc, "openapi")), "3.1.0");
	json_t *paths = json_object_get(doc, "paths");
	const char *path;
	json_t *item;
	size_t documented = 0;
	static const char *const methods[] = {"get", "put", "post", "delete", "patch", "head", "options", "trace"};
	json_object_foreach(paths, path, item)
	{
		for (size_t m = 0; m < sizeof(methods) / sizeof(methods[0]); m++) {
			if (json_object_get(item, methods[m]) == NULL)
				continue;
			documented++;
			if (!served(methods[m], path))
				fail_msg("the document has %s %s, which the server does not serve", methods[m], path);
		}
	}
	for (size_t i = 0; i < ky_api_route_count(); i++) {
		ky_api_route_name r = ky_api_route_at(i);
		char lower[16];
		snprintf(lower, sizeof(lower), "%s", r.method);
		for (char *c = lower; *c; c++)
			*c = (char)tolower((unsigned char)*c);
		json_t *documented_item = json_object_get(paths, r.path);
		if (documented_item == NULL || json_object_get(documented_item, lower) == NULL)
			fail_msg("the server serves %s %s, which the document lacks", r.method, r.path);
	}
	assert_int_equal(documented, ky_api_route_count());
	json_decref(doc);
}

static void test_embedded_document_is_the_file(void **state)
{
	(void)state;
	FILE *f = fopen(document_path, "rb");
	assert_non_null(f);
	static char bytes[1 << 20];
	size_t n = fread(bytes, 1, sizeof(bytes), f);
	fclose(f);
	assert_int_equal(n, ky_api_openapi_json_len);
	assert_memory_equal(bytes, ky_api_openapi_json, n);
}

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: test_api_routes OPENAPI.json\n");
		return 2;
	}
	document_path = argv[1];
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_routes_match_the_document),
		cmocka_unit_test(test_embedded_document_is_the_file),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
