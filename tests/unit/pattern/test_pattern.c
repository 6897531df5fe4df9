/*
 * test_pattern: the tree the parser builds (STIX 2.1 §9.5, §9.6, §9.7), the printer on trees
 * that were not parsed, and the limits: long OR chains as real feeds carry them, absurd
 * nesting and length refused with a clear error instead of a crash; bytes that are not
 * UTF-8 and raw controls in strings refused; messages that stay valid UTF-8 whatever they
 * quote.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "pattern/pattern.h"
#include "util/ky_error.h"
#include "util/ky_utf8.h"

static ky_pattern *parse_ok(const char *text)
{
	ky_pattern *p = NULL;
	if (ky_pattern_parse(&p, text, strlen(text)) != KY_OK)
		fail_msg("%s: %s", text, ky_error_last());
	return p;
}

/* STIX 2.1 §9.5.2, §9.5.3: FOLLOWEDBY binds loosest, qualifiers attach to what precedes them. */
static void test_tree_shape(void **state)
{
	(void)state;
	ky_pattern *p = parse_ok("[ipv4-addr:value = '198.51.100.1' OR ipv4-addr:value = '203.0.113.7'] REPEATS 2 TIMES "
				 "FOLLOWEDBY [domain-name:value LIKE '%.example.com']");
	const ky_pattern_node *root = ky_pattern_root(p);
	assert_int_equal(root->kind, KY_PATTERN_FOLLOWEDBY);
	assert_int_equal(root->nchildren, 2);
	const ky_pattern_node *first = root->children[0];
	assert_int_equal(first->kind, KY_PATTERN_OBSERVATION);
	assert_int_equal(first->nqualifiers, 1);
	assert_int_equal(first->qualifiers[0].kind, KY_PATTERN_REPEATS);
	assert_string_equal(first->qualifiers[0].number.text, "2");
	const ky_pattern_node *or = first->children[0];
	assert_int_equal(or->kind, KY_PATTERN_CMP_OR);
	assert_int_equal(or->nchildren, 2);
	const ky_pattern_node *cmp = or->children[1];
	assert_int_equal(cmp->kind, KY_PATTERN_COMPARISON);
	assert_string_equal(cmp->path.object_type, "ipv4-addr");
	assert_int_equal(cmp->path.nsteps, 1);
	assert_string_equal(cmp->path.steps[0].key, "value");
	assert_int_equal(cmp->op, KY_PATTERN_EQ);
	assert_int_equal(cmp->values[0].kind, KY_PATTERN_STRING);
	assert_string_equal(cmp->values[0].text, "203.0.113.7");
	assert_int_equal(cmp->column, 38);
	const ky_pattern_node *like = root->children[1]->children[0];
	assert_int_equal(like->op, KY_PATTERN_LIKE);
	ky_pattern_free(p);
}

/* §9.6: AND binds tighter than OR; parentheses are kept as groups. §9.7: paths and literals. */
static void test_precedence_paths_literals(void **state)
{
	(void)state;
	ky_pattern *p = parse_ok("[a:x = 1 OR a:y = 2 AND (a:z = 3 OR a:w = 4)]");
	const ky_pattern_node *or = ky_pattern_root(p)->children[0];
	assert_int_equal(or->kind, KY_PATTERN_CMP_OR);
	assert_int_equal(or->children[1]->kind, KY_PATTERN_CMP_AND);
	assert_int_equal(or->children[1]->children[1]->kind, KY_PATTERN_CMP_GROUP);
	ky_pattern_free(p);

	p = parse_ok("[file:extensions.'windows-pebinary-ext'.sections[*].entropy > +7.5 AND x:y[+2] = 'it\\'s \\\\ ok']");
	const ky_pattern_node *and = ky_pattern_root(p)->children[0];
	const ky_pattern_path *path = &and->children[0]->path;
	assert_int_equal(path->nsteps, 5);
	assert_string_equal(path->steps[1].key, "windows-pebinary-ext");
	assert_int_equal(path->steps[3].kind, KY_PATTERN_ANY_INDEX);
	assert_int_equal(and->children[0]->values[0].kind, KY_PATTERN_FLOAT);
	assert_string_equal(and->children[0]->values[0].text, "7.5");
	assert_int_equal(and->children[1]->path.steps[1].kind, KY_PATTERN_INDEX);
	assert_int_equal(and->children[1]->path.steps[1].index, 2);
	assert_string_equal(and->children[1]->values[0].text, "it's \\ ok");
	ky_pattern_free(p);
}

/* The printer adds parentheses where a tree built by hand needs them. */
static void test_print_wraps_looser_children(void **state)
{
	(void)state;
	ky_pattern *or = parse_ok("[a:b = 1] OR [a:b = 2]");
	ky_pattern *single = parse_ok("[c:d = 3]");
	ky_pattern_node *children[2] = {(ky_pattern_node *)ky_pattern_root(or), (ky_pattern_node *)ky_pattern_root(single)};
	ky_pattern_node and = {.kind = KY_PATTERN_OBS_AND, .children = children, .nchildren = 2};
	char *printed = ky_pattern_print(&and, NULL);
	assert_string_equal(printed, "([a:b = 1] OR [a:b = 2]) AND [c:d = 3]");
	free(printed);
	ky_pattern_free(or);
	ky_pattern_free(single);
}

/* Indicators in real feeds carry OR chains of hundreds of terms (57 KB seen): one node. */
static void test_long_or_chain(void **state)
{
	(void)state;
	size_t terms = 1700, cap = terms * 48 + 16, n = 0;
	char *text = malloc(cap);
	n += (size_t)snprintf(text + n, cap - n, "[");
	for (size_t i = 0; i < terms; i++)
		n += (size_t)snprintf(text + n, cap - n, "%sipv4-addr:value = '10.%zu.%zu.%zu'", i ? " OR " : "",
				      i / 65536 % 256, i / 256 % 256, i % 256);
	n += (size_t)snprintf(text + n, cap - n, "]");
	assert_true(n > 57000);
	ky_pattern *p = NULL;
	assert_int_equal(ky_pattern_parse(&p, text, n), KY_OK);
	const ky_pattern_node *or = ky_pattern_root(p)->children[0];
	assert_int_equal(or->kind, KY_PATTERN_CMP_OR);
	assert_int_equal(or->nchildren, terms);
	char *printed = ky_pattern_print(ky_pattern_root(p), NULL);
	assert_string_equal(printed, text);
	free(printed);
	ky_pattern_free(p);
	free(text);
}

static void nested(size_t levels, int expect)
{
	size_t cap = levels * 2 + 32;
	char *text = malloc(cap);
	size_t n = 0;
	for (size_t i = 0; i + 1 < levels; i++)
		text[n++] = '(';
	n += (size_t)snprintf(text + n, cap - n, "[a:b = 1]");
	for (size_t i = 0; i + 1 < levels; i++)
		text[n++] = ')';
	ky_pattern *p = NULL;
	int rc = ky_pattern_parse(&p, text, n);
	if (rc != expect)
		fail_msg("%zu levels: got %d (%s), expected %d", levels, rc, ky_error_last(), expect);
	if (rc == KY_ETOOBIG)
		assert_non_null(strstr(ky_error_last(), "nested deeper than"));
	ky_pattern_free(p);
	free(text);
}

static void test_limits(void **state)
{
	(void)state;
	nested(KY_PATTERN_MAX_DEPTH, KY_OK);
	nested(KY_PATTERN_MAX_DEPTH + 1, KY_ETOOBIG);
	nested(100000, KY_ETOOBIG);

	size_t n = KY_PATTERN_MAX_LENGTH + 1;
	char *big = malloc(n);
	memset(big, ' ', n);
	memcpy(big, "[a:b = 1]", 9);
	ky_pattern *p = NULL;
	assert_int_equal(ky_pattern_parse(&p, big, n), KY_ETOOBIG);
	assert_non_null(strstr(ky_error_last(), "limit"));
	assert_int_equal(ky_pattern_parse(&p, big, n - 1), KY_OK);
	ky_pattern_free(p);
	free(big);
}

/* Errors say where: a column, and a line when the pattern has several. */
static void test_error_positions(void **state)
{
	(void)state;
	ky_pattern *p = NULL;
	const char *text = "[file:name = 'a'\n  AND file:size 1280]";
	assert_int_equal(ky_pattern_parse(&p, text, strlen(text)), KY_EINVALID);
	assert_string_equal(ky_error_last(),
			    "line 2 column 17: expected a comparison operator (=, !=, <, <=, >, >=, IN, LIKE, MATCHES, "
			    "ISSUBSET, ISSUPERSET) after the object path, found '1280'");
	/* Columns count code points, not bytes. */
	text = "[file:name = '日本語' AND]";
	assert_int_equal(ky_pattern_parse(&p, text, strlen(text)), KY_EINVALID);
	assert_non_null(strstr(ky_error_last(), "column 23:"));
	assert_null(p);
}

/* Parses text[0..length), which must fail with KY_EINVALID and a valid UTF-8 message
 * containing `want` (NULL: anything). */
static void parse_refused(const char *text, size_t length, const char *want)
{
	ky_pattern *p = NULL;
	int rc = ky_pattern_parse(&p, text, length);
	const char *message = ky_error_last();
	if (rc != KY_EINVALID)
		fail_msg("expected KY_EINVALID, got %d: %s", rc, rc == KY_OK ? "valid" : message);
	if (!ky_utf8_valid(message, strlen(message)))
		fail_msg("the message is not UTF-8: %s", message);
	if (want != NULL && strstr(message, want) == NULL)
		fail_msg("expected a message containing \"%s\", got: %s", want, message);
}

/* STIX 2.1 §9: a pattern is text. Bytes that are not UTF-8 are refused wherever they stand,
 * with the byte offset, before the grammar: the lexer would otherwise take them inside a
 * string literal as they are. */
static void test_not_utf8(void **state)
{
	(void)state;
	static const struct {
		const char *text;
		size_t length;
		const char *want;
	} cases[] = {
		{"[file:name = 'a\xff\xfe']", 17, "column 16: not UTF-8 at byte offset 15: ff does"},
		{"[file:name = 'a\xed\xa0\x80']", 18, "byte offset 15: ed a0 80 does not encode"},
		{"[file:name = 'a\xc0\xaf']", 17, "byte offset 15: c0 af does not encode"},
		{"[file:name = 'a\xf4\x90\x80\x80']", 19, "byte offset 15: f4 90 80 80"},
		{"[file:name = '\x80']", 16, "byte offset 14: 80 does"},
		{"[file:name = 'ok']\n[x:y = '\xe3\x81']", 31, "line 2 column 9: not UTF-8 at byte offset 27"},
		{"[file:name\xff = 'a']", 18, "column 11: not UTF-8 at byte offset 10"},
		{"\xfe[file:name = 'a']", 18, "column 1: not UTF-8 at byte offset 0"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		parse_refused(cases[i].text, cases[i].length, cases[i].want);
}

/* STIX 2.1 §9.2: a string literal holds no raw control character, NUL least of all (it cut
 * the value in every C string it reached); in a quoted property name neither. */
static void test_controls_in_strings(void **state)
{
	(void)state;
	parse_refused("[file:name = 'a\0b']", 19, "column 16: a string literal may not hold the control character U+0000 "
						  "(byte offset 15)");
	parse_refused("[file:name = 'a\x1b" "b']", 19, "U+001B (byte offset 15)");
	parse_refused("[file:name = 'a\x7f']", 18, "U+007F (byte offset 15)");
	parse_refused("[file:'a\0b' = 'x']", 18, "column 9: a string literal may not hold the control character U+0000");
	parse_refused("[file:name IN ('a', 'b\tc')]", 27,
		      "column 23: a string literal may not hold the control character U+0009");
	parse_refused("[file:name = 'ああ\r']", 22, "column 17: a string literal may not hold the control character U+000D "
						     "(byte offset 20)");
	/* Outside strings the grammar's whitespace stays whitespace. */
	ky_pattern_free(parse_ok("[file:name\t=\r\n'a']"));
}

/* A NUL outside a string is an invalid token; the message shows it instead of stopping at
 * it, and shows the rest of the echo too. */
static void test_nul_echoed(void **state)
{
	(void)state;
	parse_refused("[file:name = 'x']\0 AND [a:b = 1]", 32, "column 18: expected AND, OR, FOLLOWEDBY, a qualifier "
							     "(WITHIN, REPEATS, START) or the end of the pattern, found '\\x00'");
}

/* Messages quote at most 40 bytes of a token and 80 of a hash value: cut between characters
 * at every length, for characters of 2, 3 and 4 bytes. */
static void test_quotes_cut_between_characters(void **state)
{
	(void)state;
	static const char *const chars[] = {"é", "あ", "😀"};
	char text[1024];
	for (size_t c = 0; c < 3; c++) {
		for (size_t count = 1; count <= 60; count++) {
			char value[400] = "";
			for (size_t k = 0; k < count; k++)
				strcat(value, chars[c]);
			/* A string where an operator should be: found '<the string>'. */
			int n = snprintf(text, sizeof(text), "[file:name '%s']", value);
			parse_refused(text, (size_t)n, "expected a comparison operator");
			/* A hash value: '<value>' is not a valid MD5 hash. */
			n = snprintf(text, sizeof(text), "[file:hashes.MD5 = '%s']", value);
			parse_refused(text, (size_t)n, "is not a valid MD5 hash");
		}
	}
	/* A hash name as written, which only hyphens and the letters whose capitals are ASCII
	 * (dotless i) can make long: WHIRLPOOL, with the dotless i across every cut. */
	for (size_t hyphens = 1; hyphens <= 70; hyphens++) {
		char name[128];
		memset(name, '-', hyphens);
		strcpy(name + hyphens, "WH\xc4\xb1RLPOOL");
		int n = snprintf(text, sizeof(text), "[file:hashes.'%s' = 'x']", name);
		parse_refused(text, (size_t)n, "is not a valid -");
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_tree_shape),
		cmocka_unit_test(test_precedence_paths_literals),
		cmocka_unit_test(test_print_wraps_looser_children),
		cmocka_unit_test(test_long_or_chain),
		cmocka_unit_test(test_limits),
		cmocka_unit_test(test_error_positions),
		cmocka_unit_test(test_not_utf8),
		cmocka_unit_test(test_controls_in_strings),
		cmocka_unit_test(test_nul_echoed),
		cmocka_unit_test(test_quotes_cut_between_characters),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
