/*
 * test_stix_cases: runs the declarative validation cases of tests/unit/stix/cases/
 * (one JSON file per area, format in that folder's README) through ky_stix_validate_object(), one cmocka test per
 * case, named "<file>: <case name> [<section>]".
 *
 * With --require-every-type, it also fails unless every type in kyoyu's tables has at
 * least one valid and one invalid case, so a type cannot be added without its tests.
 *
 * A case with "fill" runs once per text and count, "{fill}" in its object's strings and keys
 * replaced by the text repeated count times. Every message of every case must be valid
 * UTF-8: messages quote values, and a quote cut inside a character broke JSON output.
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
#include "util/ky_utf8.h"

typedef struct validation_case {
	char name[512];
	const json_t *spec; /* borrowed from the loaded file */
	json_t *object;     /* what to validate: the spec's object with "{fill}" filled in */
} validation_case;

#define FILL "{fill}"

/* s[0..n) with every FILL replaced by fill[0..fill_len); malloc'd, *out_len its length. */
static char *fill_text(const char *s, size_t n, const char *fill, size_t fill_len, size_t *out_len)
{
	size_t cap = n + 1, len = 0;
	for (const char *p = s; (p = strstr(p, FILL)) != NULL; p += strlen(FILL))
		cap += fill_len;
	char *out = malloc(cap);
	assert_non_null(out);
	for (size_t i = 0; i < n;) {
		if (strncmp(s + i, FILL, strlen(FILL)) == 0) {
			memcpy(out + len, fill, fill_len);
			len += fill_len;
			i += strlen(FILL);
		} else {
			out[len++] = s[i++];
		}
	}
	out[len] = '\0';
	*out_len = len;
	return out;
}

/* A copy of v with FILL replaced in every string and key. */
static json_t *filled(const json_t *v, const char *fill, size_t fill_len)
{
	json_t *out;
	size_t n;
	char *text;
	switch (json_typeof(v)) {
	case JSON_STRING:
		text = fill_text(json_string_value(v), json_string_length(v), fill, fill_len, &n);
		out = json_stringn(text, n);
		free(text);
		return out;
	case JSON_OBJECT: {
		const char *key;
		json_t *value;
		out = json_object();
		json_object_foreach((json_t *)v, key, value) {
			text = fill_text(key, strlen(key), fill, fill_len, &n);
			json_object_set_new(out, text, filled(value, fill, fill_len));
			free(text);
		}
		return out;
	}
	case JSON_ARRAY: {
		size_t i;
		json_t *value;
		out = json_array();
		json_array_foreach(v, i, value)
			json_array_append_new(out, filled(value, fill, fill_len));
		return out;
	}
	default:
		return json_incref((json_t *)v);
	}
}

static void run_case(void **state)
{
	const validation_case *c = *state;
	const json_t *object = c->object;
	const json_t *valid = json_object_get(c->spec, "valid");
	const char *expect = json_string_value(json_object_get(c->spec, "expect"));
	ky_stix_problems *problems = NULL;

	assert_non_null(object);
	assert_true(json_is_boolean(valid));
	assert_non_null(json_string_value(json_object_get(c->spec, "section")));
	assert_int_equal(ky_stix_problems_new(&problems), 0);
	int rc = ky_stix_validate_object(problems, object);

	bool matched = expect == NULL, utf8 = true;
	for (size_t i = 0; i < ky_stix_problems_kept(problems); i++) {
		const char *message = ky_stix_problems_get(problems, i);
		if (expect != NULL && strstr(message, expect) != NULL)
			matched = true;
		if (!ky_utf8_valid(message, strlen(message))) {
			print_error("a message that is not UTF-8: %s\n", message);
			utf8 = false;
		}
	}
	if (json_is_true(valid) && rc != 0) {
		for (size_t i = 0; i < ky_stix_problems_kept(problems); i++)
			print_error("unexpected problem: %s\n", ky_stix_problems_get(problems, i));
	} else if (json_is_false(valid) && (rc == 0 || !matched)) {
		print_error("expected a problem containing: %s\n", expect ? expect : "(any)");
		for (size_t i = 0; i < ky_stix_problems_kept(problems); i++)
			print_error("got: %s\n", ky_stix_problems_get(problems, i));
	}
	bool ok = utf8 && (json_is_true(valid) ? rc == 0 : rc != 0 && matched);
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
		size_t ncases = json_array_size(cases), n = 0, cap = 0;
		for (size_t i = 0; i < ncases; i++) {
			const json_t *fill = json_object_get(json_array_get(cases, i), "fill");
			cap += fill ? json_array_size(json_object_get(fill, "texts")) * json_array_size(json_object_get(fill, "counts")) : 1;
		}
		validation_case *storage = calloc(cap ? cap : 1, sizeof(*storage));
		struct CMUnitTest *tests = calloc(cap ? cap : 1, sizeof(*tests));
		const char *base = strrchr(argv[a], '/') ? strrchr(argv[a], '/') + 1 : argv[a];
		for (size_t i = 0; i < ncases; i++) {
			const json_t *spec = json_array_get(cases, i);
			const char *name = json_string_value(json_object_get(spec, "name"));
			const char *section = json_string_value(json_object_get(spec, "section"));
			const json_t *fill = json_object_get(spec, "fill");
			const json_t *texts = json_object_get(fill, "texts"), *counts = json_object_get(fill, "counts");
			size_t nt = fill ? json_array_size(texts) : 1, nc = fill ? json_array_size(counts) : 1;
			for (size_t t = 0; t < nt; t++) {
				for (size_t k = 0; k < nc; k++) {
					validation_case *c = &storage[n];
					int written = snprintf(c->name, sizeof(c->name), "%s: %s [%s]", base, name ? name : "(unnamed)",
							       section ? section : "no section");
					c->spec = spec;
					if (fill == NULL) {
						c->object = json_incref(json_object_get(spec, "object"));
					} else {
						const char *text = json_string_value(json_array_get(texts, t));
						size_t count = (size_t)json_integer_value(json_array_get(counts, k));
						size_t len = text ? strlen(text) : 0;
						char *repeated = malloc(len * count + 1);
						for (size_t r = 0; r < count; r++)
							memcpy(repeated + r * len, text, len);
						repeated[len * count] = '\0';
						c->object = filled(json_object_get(spec, "object"), repeated, len * count);
						free(repeated);
						if (written >= 0 && (size_t)written < sizeof(c->name))
							snprintf(c->name + written, sizeof(c->name) - (size_t)written, " (%zu x %s)",
								 count, text ? text : "?");
					}
					tests[n] = (struct CMUnitTest){c->name, run_case, NULL, NULL, c};
					n++;
				}
			}
			note_coverage(cov, ntypes, spec);
		}
		if (n == 0) {
			fprintf(stderr, "%s: no cases\n", argv[a]);
			failures++;
		} else {
			failures += _cmocka_run_group_tests(base, tests, n, NULL, NULL);
		}
		for (size_t i = 0; i < n; i++)
			json_decref(storage[i].object);
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
