/*
 * test_pattern: the tree the parser builds (STIX 2.1 §9.5, §9.6, §9.7), the printer on trees
 * that were not parsed, and the limits: long OR chains as real feeds carry them, absurd
 * nesting and length refused with a clear error instead of a crash.
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

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_tree_shape),
		cmocka_unit_test(test_precedence_paths_literals),
		cmocka_unit_test(test_print_wraps_looser_children),
		cmocka_unit_test(test_long_or_chain),
		cmocka_unit_test(test_limits),
		cmocka_unit_test(test_error_positions),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
