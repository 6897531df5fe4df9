/*
 * test_pattern_cases: runs the table of patterns (tests/unit/pattern/patterns.test, format in
 * that folder's README) through ky_pattern_parse(), one cmocka test per block. A valid
 * pattern must also survive the round trip: print, parse the print, equal trees, and the
 * print printed again unchanged. Where kyoyu is stricter than the OASIS validator, the
 * block's verdict stays the validator's and a "kyoyu error" line says what kyoyu answers.
 */
#include <setjmp.h>
#include <stdbool.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "pattern/pattern.h"
#include "util/ky_error.h"
#include "util/ky_utf8.h"

typedef struct pattern_case {
	char name[160];
	int line;            /* in the table, for messages */
	char *pattern;
	size_t length;
	char *expect;        /* the OASIS verdict: "ok", "ok CANONICAL", "error N: TEXT", "toobig: TEXT" */
	char *kyoyu;         /* kyoyu's own "error N: TEXT" where it is stricter, or NULL */
} pattern_case;

static void round_trip(const ky_pattern *p, const char *canonical)
{
	size_t length, length_twice;
	char *printed = ky_pattern_print(ky_pattern_root(p), &length);
	assert_non_null(printed);
	if (canonical != NULL && strcmp(printed, canonical) != 0)
		fail_msg("canonical form\n  got:      %s\n  expected: %s", printed, canonical);
	ky_pattern *again = NULL;
	if (ky_pattern_parse(&again, printed, length) != KY_OK)
		fail_msg("the print does not parse: %s\n  %s", ky_error_last(), printed);
	if (!ky_pattern_equal(ky_pattern_root(p), ky_pattern_root(again)))
		fail_msg("the print parses to a different tree: %s", printed);
	char *twice = ky_pattern_print(ky_pattern_root(again), &length_twice);
	assert_non_null(twice);
	assert_int_equal(length, length_twice);
	assert_memory_equal(printed, twice, length);
	free(twice);
	free(printed);
	ky_pattern_free(again);
}

static void run_case(void **state)
{
	const pattern_case *c = *state;
	const char *expect = c->kyoyu ? c->kyoyu : c->expect;
	ky_pattern *p = NULL;
	int rc = ky_pattern_parse(&p, c->pattern, c->length);

	if (c->kyoyu != NULL && strncmp(c->kyoyu, "error ", 6) != 0)
		fail_msg("line %d: a kyoyu line can only say 'error N: TEXT', got '%s'", c->line, c->kyoyu);
	if (rc != KY_OK && !ky_utf8_valid(ky_error_last(), strlen(ky_error_last())))
		fail_msg("line %d: the message is not UTF-8", c->line);
	if (strncmp(expect, "ok", 2) == 0) {
		if (rc != KY_OK)
			fail_msg("line %d: expected valid, got: %s", c->line, ky_error_last());
		round_trip(p, expect[2] == ' ' ? expect + 3 : NULL);
	} else if (strncmp(expect, "toobig:", 7) == 0) {
		const char *text = expect + 7 + strspn(expect + 7, " ");
		if (rc != KY_ETOOBIG || strstr(ky_error_last(), text) == NULL)
			fail_msg("line %d: expected too big (%s), got %d: %s", c->line, text, rc, rc ? ky_error_last() : "valid");
	} else if (strncmp(expect, "error ", 6) == 0) {
		char *end;
		long column = strtol(expect + 6, &end, 10);
		assert_true(*end == ':');
		const char *text = end + 1 + strspn(end + 1, " ");
		char where[48];
		snprintf(where, sizeof(where), "column %ld:", column);
		if (rc != KY_EINVALID)
			fail_msg("line %d: expected an error at column %ld, got %s", c->line, column,
				 rc == KY_OK ? "valid" : ky_error_last());
		if (strstr(ky_error_last(), where) == NULL || strstr(ky_error_last(), text) == NULL)
			fail_msg("line %d: expected \"%s ... %s\", got: %s", c->line, where, text, ky_error_last());
	} else {
		fail_msg("line %d: unknown expectation '%s'", c->line, expect);
	}
	ky_pattern_free(p);
}

/* Reads the table into *out and returns how many cases it holds; *malformed tells whether
 * the table broke its format (with messages on stderr). */
static int load(const char *path, pattern_case **out, bool *malformed)
{
	FILE *f = fopen(path, "r");
	*out = NULL;
	*malformed = true;
	if (f == NULL) {
		fprintf(stderr, "%s: cannot open\n", path);
		return 0;
	}
	pattern_case *cases = NULL;
	size_t n = 0, cap = 0;
	char *line = NULL, *comment = NULL;
	size_t linecap = 0;
	ssize_t len;
	/* 0: before a block, 1: comments read, 2: pattern read, 3: verdict read */
	int lineno = 0, state = 0;
	int status = 0;

	while ((len = getline(&line, &linecap, f)) >= 0) {
		lineno++;
		while (len > 0 && line[len - 1] == '\n')
			line[--len] = '\0';
		if (state == 3) {
			state = 0;
			if (strncmp(line, "kyoyu ", 6) == 0) {
				cases[n - 1].kyoyu = strdup(line + 6);
				continue;
			}
			if (len != 0) {
				fprintf(stderr, "%s:%d: after the verdict, only a 'kyoyu error' line or a blank line\n", path,
					lineno);
				status = -1;
			}
			continue;
		}
		if (len == 0 && state != 2) {
			if (state == 1) {
				fprintf(stderr, "%s:%d: a block ends without a pattern\n", path, lineno);
				status = -1;
			}
			state = 0;
			continue;
		}
		if (line[0] == '#' && state != 2) {
			if (state == 0) {
				free(comment);
				comment = strdup(line + 1 + strspn(line + 1, " "));
				if (strstr(comment, "§") == NULL && strstr(comment, "OASIS validator") == NULL) {
					fprintf(stderr, "%s:%d: the first comment must cite a clause (§) or the OASIS validator\n",
						path, lineno);
					status = -1;
				}
			}
			state = 1;
			continue;
		}
		if (state == 0) {
			fprintf(stderr, "%s:%d: a block must start with a comment citing its clause\n", path, lineno);
			status = -1;
			state = 1;
		}
		if (state == 1) {
			if (n == cap) {
				cap = cap ? cap * 2 : 256;
				cases = realloc(cases, cap * sizeof(*cases));
			}
			pattern_case *c = &cases[n++];
			memset(c, 0, sizeof(*c));
			c->line = lineno;
			snprintf(c->name, sizeof(c->name), "line %d: %s", lineno, comment ? comment : "");
			if (line[0] == '"') {
				json_error_t err;
				json_t *s = json_loadb(line, (size_t)len, JSON_DECODE_ANY | JSON_ALLOW_NUL, &err);
				if (!json_is_string(s)) {
					fprintf(stderr, "%s:%d: not a JSON string: %s\n", path, lineno, err.text);
					status = -1;
					c->pattern = strdup("");
				} else {
					c->length = json_string_length(s);
					c->pattern = malloc(c->length + 1);
					memcpy(c->pattern, json_string_value(s), c->length + 1);
				}
				json_decref(s);
			} else {
				c->pattern = strdup(line);
				c->length = (size_t)len;
			}
			state = 2;
		} else {
			cases[n - 1].expect = strdup(line);
			state = 3;
		}
	}
	if (state != 0 && state != 3) {
		fprintf(stderr, "%s: the last block is incomplete\n", path);
		status = -1;
	}
	free(line);
	free(comment);
	fclose(f);
	*out = cases;
	*malformed = status < 0;
	return (int)n;
}

int main(int argc, char **argv)
{
	int failures = 0;
	for (int a = 1; a < argc; a++) {
		pattern_case *cases = NULL;
		bool malformed;
		int n = load(argv[a], &cases, &malformed);
		if (n == 0 || malformed) {
			fprintf(stderr, "%s: %s\n", argv[a], malformed ? "malformed table" : "no cases");
			failures++;
		} else {
			struct CMUnitTest *tests = calloc((size_t)n, sizeof(*tests));
			for (int i = 0; i < n; i++)
				tests[i] = (struct CMUnitTest){cases[i].name, run_case, NULL, NULL, &cases[i]};
			const char *base = strrchr(argv[a], '/') ? strrchr(argv[a], '/') + 1 : argv[a];
			failures += _cmocka_run_group_tests(base, tests, (size_t)n, NULL, NULL);
			free(tests);
		}
		for (int i = 0; i < n; i++) {
			free(cases[i].pattern);
			free(cases[i].expect);
			free(cases[i].kyoyu);
		}
		free(cases);
	}
	return failures ? 1 : 0;
}
