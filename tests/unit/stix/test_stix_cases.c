/*
 * test_stix_cases: runs the declarative validation cases of tests/unit/stix/cases/
 * (one JSON file per area, format in that folder's README) through ky_stix_validate_object(), one cmocka test per
 * case, named "<file>: <case name> [<section>]".
 *
 * With --require-every-type, it also fails unless every type in kyoyu's tables has at
 * least one valid and one invalid case, so a type cannot be added without its tests.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "stix/stix_schema.h"
#include "stix/stix_validate.h"

typedef struct validation_case {
	char name[512];
	const json_t *spec; /* borrowed from the loaded file */
} validation_case;

static void run_case(void **state)
{
	const validation_case *c = *state;
	const json_t *object = json_object_get(c->spec, "object");
	const json_t *valid = json_object_get(c->spec, "valid");
	const char *expect = json_string_value(json_object_get(c->spec, "expect"));
	ky_stix_problems *problems = NULL;

	assert_non_null(object);
	assert_true(json_is_boolean(valid));
	assert_non_null(json_string_value(json_object_get(c->spec, "section")));
	assert_int_equal(ky_stix_problems_new(&problems), 0);
	int rc = ky_stix_validate_object(problems, object);

	bool matched = expect == NULL;
	for (size_t i = 0; i < ky_stix_problems_kept(problems); i++) {
		if (expect != NULL && strstr(ky_stix_problems_get(problems, i), expect) != NULL)
			matched = true;
	}
	if (json_is_true(valid) && rc != 0) {
		for (size_t i = 0; i < ky_stix_problems_kept(problems); i++)
			print_error("unexpected problem: %s\n", ky_stix_problems_get(problems, i));
	} else if (json_is_false(valid) && (rc == 0 || !matched)) {
		print_error("expected a problem containing: %s\n", expect ? expect : "(any)");
		for (size_t i = 0; i < ky_stix_problems_kept(problems); i++)
			print_error("got: %s\n", ky_stix_problems_get(problems, i));
	}
	bool ok = json_is_true(valid) ? rc == 0 : rc != 0 && matched;
	ky_stix_problems_free(problems);
	assert_true(ok);
	if (json_is_false(valid))
		assert_non_null(expect);
}

typedef struct coverage {
	const char *type;
	bool valid, invalid;
} coverage;

static void note_coverage(coverage *cov, size_t n, const json_t *spec)
{
	const char *type = json_string_value(json_object_get(json_object_get(spec, "object"), "type"));
	for (size_t i = 0; type != NULL && i < n; i++) {
		if (strcmp(cov[i].type, type) == 0) {
			if (json_is_true(json_object_get(spec, "valid")))
				cov[i].valid = true;
			else
				cov[i].invalid = true;
		}
	}
}

static size_t all_types(coverage *cov, size_t max)
{
	const ky_stix_type *const tables[] = {ky_stix_types_sdo, ky_stix_types_sro, ky_stix_types_sco, ky_stix_types_meta};
	size_t n = 0;
	for (size_t t = 0; t < 4; t++)
		for (const ky_stix_type *type = tables[t]; type->name != NULL && n < max; type++)
			cov[n++] = (coverage){type->name, false, false};
	return n;
}

int main(int argc, char **argv)
{
	bool require_every_type = false;
	int failures = 0;
	coverage cov[128];
	size_t ntypes = all_types(cov, 128);

	for (int a = 1; a < argc; a++) {
		if (strcmp(argv[a], "--require-every-type") == 0) {
			require_every_type = true;
			continue;
		}
		json_error_t err;
		json_t *file = json_load_file(argv[a], JSON_REJECT_DUPLICATES, &err);
		if (file == NULL) {
			fprintf(stderr, "%s:%d:%d: %s\n", argv[a], err.line, err.column, err.text);
			return 1;
		}
		const json_t *cases = json_object_get(file, "cases");
		size_t n = json_array_size(cases);
		validation_case *storage = calloc(n ? n : 1, sizeof(*storage));
		struct CMUnitTest *tests = calloc(n ? n : 1, sizeof(*tests));
		const char *base = strrchr(argv[a], '/') ? strrchr(argv[a], '/') + 1 : argv[a];
		for (size_t i = 0; i < n; i++) {
			const json_t *spec = json_array_get(cases, i);
			snprintf(storage[i].name, sizeof(storage[i].name), "%s: %s [%s]", base,
				 json_string_value(json_object_get(spec, "name")) ? json_string_value(json_object_get(spec, "name")) : "(unnamed)",
				 json_string_value(json_object_get(spec, "section")) ? json_string_value(json_object_get(spec, "section")) : "no section");
			storage[i].spec = spec;
			tests[i] = (struct CMUnitTest){storage[i].name, run_case, NULL, NULL, &storage[i]};
			note_coverage(cov, ntypes, spec);
		}
		if (n == 0) {
			fprintf(stderr, "%s: no cases\n", argv[a]);
			failures++;
		} else {
			failures += _cmocka_run_group_tests(base, tests, n, NULL, NULL);
		}
		free(tests);
		free(storage);
		json_decref(file);
	}

	if (require_every_type) {
		for (size_t i = 0; i < ntypes; i++) {
			if (!cov[i].valid || !cov[i].invalid) {
				fprintf(stderr, "type %s has no %s case\n", cov[i].type, cov[i].valid ? "invalid" : "valid");
				failures++;
			}
		}
	}
	return failures ? 1 : 0;
}
