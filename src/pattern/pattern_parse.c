/*
 * pattern_parse: a recursive-descent parser for STIXPattern.g4 that builds the tree of
 * pattern.h, then the checks the OASIS validator adds to the grammar.
 *
 * The grammar's left-recursive rules become loops: "a OR b OR c" is read as one OR node of
 * three children, so a chain of any length costs no stack. Only parentheses and brackets
 * recurse, and their depth is limited (KY_PATTERN_MAX_DEPTH). Every failure names the
 * column of the token that could not be taken and what would have been accepted there:
 *     [file:name = 'a' AND file:size 1280]
 *     column 32: expected a comparison operator after the object path, found '1280'
 *
 * Beyond the grammar, as the OASIS validator (STIX 2.1 mode) checks:
 * - the first character after any '(' and whitespace must be '[' (helpers.brackets_check);
 * - a qualifier type may not repeat directly on one [ ] observation (a parenthesized group
 *   may carry the same type again, STIX 2.1 §9.5.1 as the validator reads it);
 * - a value compared with a hashes property must have the form of its hash type
 *   (object_validator.verify_object), checked on the literal as written;
 * - list indexes are not negative (§9.7.2: 0 to N-1; the validator fails on them).
 *
 * Before all of that, and stricter than the validator (which is given Python text, never
 * bytes): the pattern must be UTF-8, and a string literal may not hold a raw control
 * character (STIX 2.1 §9.2 strings are text; the grammar has no escape for controls, and a
 * NUL would cut the value in every C string it reaches). Both errors name the byte offset.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pattern/pattern.h"
#include "pattern/pattern_lex.h"
#include "stix/stix_text.h"
#include "util/ky_arena.h"
#include "util/ky_error.h"
#include "util/ky_utf8.h"

struct ky_pattern {
	ky_arena *arena;
	ky_pattern_node *root;
};

typedef struct parser {
	ky_pattern_lexer lx;
	ky_pattern_token tok;   /* the current token */
	ky_arena *arena;
	int depth;
	int status;             /* KY_OK until the first error of the grammar */
	/* A check beyond the grammar that failed: reported only if the grammar is satisfied,
	 * and the most important one first, as the OASIS validator orders its messages. */
	int deferred_rank;      /* 0: none */
	char deferred[512];
} parser;

/* The order the OASIS validator reports checks beyond the grammar in (higher first). */
enum { RANK_HASH = 1, RANK_INDEX = 2, RANK_QUALIFIER = 3 };

/* --- errors -------------------------------------------------------------------------- */

static void error_at(parser *p, int code, size_t line, size_t column, const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));
static void error_at(parser *p, int code, size_t line, size_t column, const char *fmt, ...)
{
	if (p->status != KY_OK)
		return;
	char what[512];
	va_list ap;
	va_start(ap, fmt);
	if (vsnprintf(what, sizeof(what), fmt, ap) >= (int)sizeof(what))
		what[ky_utf8_prefix(what, sizeof(what) - 1, sizeof(what) - 1)] = '\0';
	va_end(ap);
	p->status = code;
	if (line > 1)
		ky_error_set(code, "line %zu column %zu: %s", line, column, what);
	else
		ky_error_set(code, "column %zu: %s", column, what);
}

/* "'AND'", "the end of the pattern": the current token as a message shows it, at most 40
 * bytes of it (stix_text.h: cut between characters, controls and NUL escaped). */
static const char *found(parser *p, char *buf, size_t size)
{
	if (p->tok.kind == TOK_EOF)
		return "the end of the pattern";
	size_t room = size - 2 < 41 ? size - 2 : 41;
	buf[0] = '\'';
	ky_stix_excerpt(buf + 1, room, p->lx.text + p->tok.start, p->tok.length);
	strcat(buf, "'");
	return buf;
}

/* Records a failed check beyond the grammar; the grammar's own errors take precedence. */
static void defer_at(parser *p, int rank, size_t line, size_t column, const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));
static void defer_at(parser *p, int rank, size_t line, size_t column, const char *fmt, ...)
{
	if (rank <= p->deferred_rank)
		return;
	char what[400];
	va_list ap;
	va_start(ap, fmt);
	if (vsnprintf(what, sizeof(what), fmt, ap) >= (int)sizeof(what))
		what[ky_utf8_prefix(what, sizeof(what) - 1, sizeof(what) - 1)] = '\0';
	va_end(ap);
	p->deferred_rank = rank;
	if (line > 1)
		snprintf(p->deferred, sizeof(p->deferred), "line %zu column %zu: %s", line, column, what);
	else
		snprintf(p->deferred, sizeof(p->deferred), "column %zu: %s", column, what);
}

static void expected(parser *p, const char *what)
{
	char buf[64];
	error_at(p, KY_EINVALID, p->tok.line, p->tok.column, "expected %s, found %s", what, found(p, buf, sizeof(buf)));
}

static void out_of_memory(parser *p)
{
	if (p->status == KY_OK) {
		p->status = KY_ENOMEM;
		ky_error_set(KY_ENOMEM, "out of memory while parsing a pattern");
	}
}

/* --- tokens and memory ---------------------------------------------------------------- */

static void advance(parser *p)
{
	p->tok = ky_pattern_lex_next(&p->lx);
}

static bool accept(parser *p, ky_pattern_tok kind)
{
	if (p->tok.kind != kind)
		return false;
	advance(p);
	return true;
}

static bool expect(parser *p, ky_pattern_tok kind, const char *what)
{
	if (accept(p, kind))
		return true;
	expected(p, what);
	return false;
}

static ky_pattern_node *new_node(parser *p, ky_pattern_node_kind kind, const ky_pattern_token *at)
{
	ky_pattern_node *n = ky_arena_alloc(p->arena, sizeof(*n));
	if (n == NULL) {
		out_of_memory(p);
		return NULL;
	}
	n->kind = kind;
	n->column = at->column;
	return n;
}

/* A growable list of node pointers, copied into the arena when complete. */
typedef struct node_list {
	ky_pattern_node **items;
	size_t n, cap;
} node_list;

static bool list_push(parser *p, node_list *l, ky_pattern_node *node)
{
	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 8;
		ky_pattern_node **grown = realloc(l->items, cap * sizeof(*grown));
		if (grown == NULL) {
			out_of_memory(p);
			return false;
		}
		l->items = grown;
		l->cap = cap;
	}
	l->items[l->n++] = node;
	return true;
}

/* Makes the node for `l`: its one item, or an n-ary `kind` node holding all of them.
 * Frees the list either way. */
static ky_pattern_node *list_finish(parser *p, node_list *l, ky_pattern_node_kind kind, const ky_pattern_token *at)
{
	ky_pattern_node *result = NULL;
	if (p->status == KY_OK && l->n == 1) {
		result = l->items[0];
	} else if (p->status == KY_OK && l->n > 1) {
		result = new_node(p, kind, at);
		ky_pattern_node **children = ky_arena_alloc(p->arena, l->n * sizeof(*children));
		if (result == NULL || children == NULL) {
			out_of_memory(p);
			result = NULL;
		} else {
			memcpy(children, l->items, l->n * sizeof(*children));
			result->children = children;
			result->nchildren = l->n;
		}
	}
	free(l->items);
	return result;
}

static bool enter(parser *p)
{
	if (++p->depth > KY_PATTERN_MAX_DEPTH) {
		error_at(p, KY_ETOOBIG, p->tok.line, p->tok.column,
			 "parentheses and brackets nested deeper than %d levels", KY_PATTERN_MAX_DEPTH);
		return false;
	}
	return true;
}

/* --- literals --------------------------------------------------------------------------- */

static bool is_literal(ky_pattern_tok k)
{
	return k == TOK_INT_POS || k == TOK_INT_NEG || k == TOK_FLOAT_POS || k == TOK_FLOAT_NEG || k == TOK_STRING ||
	       k == TOK_BINARY || k == TOK_HEX || k == TOK_TIMESTAMP || k == TOK_BOOL;
}

/* The line and column (as the lexer counts them) of byte `offset` of the text, which is
 * UTF-8 up to there. */
static void position_of(const char *text, size_t offset, size_t *line, size_t *column)
{
	*line = 1;
	*column = 1;
	for (size_t i = 0; i < offset;) {
		if (text[i] == '\n') {
			++*line;
			*column = 1;
			i++;
		} else {
			size_t n = ky_utf8_char_length(text + i, offset - i);
			i += n ? n : 1;
			++*column;
		}
	}
}

/* A string literal s[0..n) (the current token, quotes included) holds no control
 * character: see the top of this file. Fails with the character's offset otherwise. */
static bool string_text_ok(parser *p, const char *s, size_t n)
{
	for (size_t i = 1; i + 1 < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c < 0x20 || c == 0x7f) {
			size_t offset = p->tok.start + i, line, column;
			position_of(p->lx.text, offset, &line, &column);
			error_at(p, KY_EINVALID, line, column,
				 "a string literal may not hold the control character U+%04X (byte offset %zu); "
				 "STIX patterns have no escape for it",
				 c, offset);
			return false;
		}
	}
	return true;
}

/*
 * The canonical text of the current literal token (pattern.h says which): signs '+' are
 * dropped, a float gets a digit before its point and loses surplus leading zeros, hex is
 * lowercased, strings are unescaped. The token text is kept too, for the hash check.
 */
static bool take_literal(parser *p, ky_pattern_literal *out, const char **source, size_t *source_len)
{
	const char *s = p->lx.text + p->tok.start;
	size_t n = p->tok.length;
	char *text;
	*source = s;
	*source_len = n;
	memset(out, 0, sizeof(*out));

	switch (p->tok.kind) {
	case TOK_INT_POS:
	case TOK_INT_NEG:
	case TOK_FLOAT_POS:
	case TOK_FLOAT_NEG: {
		bool negative = s[0] == '-';
		size_t skip = (s[0] == '-' || s[0] == '+') ? 1 : 0;
		const char *digits = s + skip;
		size_t ndigits = n - skip;
		bool is_float = p->tok.kind == TOK_FLOAT_POS || p->tok.kind == TOK_FLOAT_NEG;
		if (is_float) {
			/* "007.5" -> "7.5", ".5" -> "0.5": one integer digit at least, no surplus zeros. */
			while (ndigits > 1 && digits[0] == '0' && digits[1] != '.') {
				digits++;
				ndigits--;
			}
		}
		bool add_zero = is_float && digits[0] == '.';
		text = ky_arena_alloc(p->arena, ndigits + 3);
		if (text == NULL)
			goto oom;
		size_t k = 0;
		if (negative)
			text[k++] = '-';
		if (add_zero)
			text[k++] = '0';
		memcpy(text + k, digits, ndigits);
		k += ndigits;
		text[k] = '\0';
		out->kind = is_float ? KY_PATTERN_FLOAT : KY_PATTERN_INT;
		out->text = text;
		out->length = k;
		break;
	}
	case TOK_STRING: {
		if (!string_text_ok(p, s, n))
			return false;
		text = ky_arena_alloc(p->arena, n);
		if (text == NULL)
			goto oom;
		size_t k = 0;
		for (size_t i = 1; i + 1 < n; i++) {
			if (s[i] == '\\')
				i++;
			text[k++] = s[i];
		}
		text[k] = '\0';
		out->kind = KY_PATTERN_STRING;
		out->text = text;
		out->length = k;
		break;
	}
	case TOK_BINARY:
	case TOK_HEX:
	case TOK_TIMESTAMP:
		text = ky_arena_strndup(p->arena, s + 2, n - 3);
		if (text == NULL)
			goto oom;
		if (p->tok.kind == TOK_HEX)
			for (char *c = text; *c; c++)
				if (*c >= 'A' && *c <= 'F')
					*c = (char)(*c - 'A' + 'a');
		out->kind = p->tok.kind == TOK_BINARY ? KY_PATTERN_BINARY : p->tok.kind == TOK_HEX ? KY_PATTERN_HEX : KY_PATTERN_TIMESTAMP;
		out->text = text;
		out->length = n - 3;
		break;
	case TOK_BOOL:
		out->kind = KY_PATTERN_BOOL;
		out->text = s[0] == 't' ? "true" : "false";
		out->length = strlen(out->text);
		break;
	default:
		return false;
	}
	advance(p);
	return true;
oom:
	out_of_memory(p);
	return false;
}

/* --- object paths, §9.7 -------------------------------------------------------------------- */

/* A property name: an identifier as written, or a quoted string unescaped. */
static bool take_name(parser *p, ky_pattern_step *step)
{
	step->kind = KY_PATTERN_KEY;
	if (p->tok.kind == TOK_IDENT) {
		step->key_length = p->tok.length;
		step->key = ky_arena_strndup(p->arena, p->lx.text + p->tok.start, p->tok.length);
		if (step->key == NULL) {
			out_of_memory(p);
			return false;
		}
		advance(p);
		return true;
	}
	ky_pattern_literal lit;
	const char *src;
	size_t src_len;
	if (!take_literal(p, &lit, &src, &src_len))
		return false;
	step->key = lit.text;
	step->key_length = lit.length;
	return true;
}

typedef struct step_list {
	ky_pattern_step *items;
	size_t n, cap;
} step_list;

static ky_pattern_step *step_push(parser *p, step_list *l)
{
	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 4;
		ky_pattern_step *grown = realloc(l->items, cap * sizeof(*grown));
		if (grown == NULL) {
			out_of_memory(p);
			return NULL;
		}
		l->items = grown;
		l->cap = cap;
	}
	ky_pattern_step *s = &l->items[l->n++];
	memset(s, 0, sizeof(*s));
	return s;
}

/* objectPath: objectType ':' firstPathComponent objectPathComponent* */
static bool object_path(parser *p, ky_pattern_path *out)
{
	step_list steps = {0};
	bool ok = false;
	ky_pattern_step *step;

	out->object_type = ky_arena_strndup(p->arena, p->lx.text + p->tok.start, p->tok.length);
	if (out->object_type == NULL) {
		out_of_memory(p);
		goto done;
	}
	advance(p);
	if (!expect(p, TOK_COLON, "':' after the object type"))
		goto done;
	if (p->tok.kind != TOK_IDENT && p->tok.kind != TOK_STRING) {
		expected(p, "a property name after ':' (a name, or a quoted string if it has '-' or '.')");
		goto done;
	}
	if ((step = step_push(p, &steps)) == NULL || !take_name(p, step))
		goto done;

	for (;;) {
		if (accept(p, TOK_DOT)) {
			if (p->tok.kind != TOK_IDENT && p->tok.kind != TOK_STRING) {
				expected(p, "a property name or a quoted key after '.'");
				goto done;
			}
			if ((step = step_push(p, &steps)) == NULL || !take_name(p, step))
				goto done;
		} else if (p->tok.kind == TOK_LBRACK) {
			advance(p);
			if ((step = step_push(p, &steps)) == NULL)
				goto done;
			if (accept(p, TOK_ASTERISK)) {
				step->kind = KY_PATTERN_ANY_INDEX;
			} else if (p->tok.kind == TOK_INT_POS || p->tok.kind == TOK_INT_NEG) {
				const char *s = p->lx.text + p->tok.start;
				bool sign = s[0] == '+' || s[0] == '-';
				/* §9.7.2: an index is 0 to N-1; the OASIS validator fails on negative ones. */
				if (p->tok.kind == TOK_INT_NEG)
					defer_at(p, RANK_INDEX, p->tok.line, p->tok.column,
						 "a list index must be 0 or more, or '*' (STIX 2.1 §9.7.2)");
				/* The validator converts the index with Python's int(), which refuses more
				 * than 4,300 digits. */
				if (p->tok.length - sign > 4300)
					defer_at(p, RANK_INDEX, p->tok.line, p->tok.column,
						 "a list index of more than 4,300 digits");
				int64_t v = 0;
				/* Indexes past what int64 holds saturate: no list is that long anyway. */
				for (size_t i = sign; i < p->tok.length; i++)
					v = v > (INT64_MAX - 9) / 10 ? INT64_MAX : v * 10 + (s[i] - '0');
				if (s[0] == '-')
					v = -v;
				step->kind = KY_PATTERN_INDEX;
				step->index = v;
				advance(p);
			} else {
				expected(p, "a list index or '*' after '['");
				goto done;
			}
			if (!expect(p, TOK_RBRACK, "']' after the list index"))
				goto done;
		} else {
			break;
		}
	}
	out->steps = ky_arena_alloc(p->arena, steps.n * sizeof(*out->steps));
	if (out->steps == NULL) {
		out_of_memory(p);
		goto done;
	}
	memcpy((void *)out->steps, steps.items, steps.n * sizeof(*steps.items));
	out->nsteps = steps.n;
	ok = true;
done:
	free(steps.items);
	return ok;
}

/* --- comparison expressions, §9.6 ---------------------------------------------------------- */

static ky_pattern_node *comparison_or(parser *p);

static bool op_of(ky_pattern_tok k, ky_pattern_op *op)
{
	static const struct {
		ky_pattern_tok tok;
		ky_pattern_op op;
	} ops[] = {
		{TOK_EQ, KY_PATTERN_EQ}, {TOK_NEQ, KY_PATTERN_NEQ}, {TOK_LT, KY_PATTERN_LT}, {TOK_LE, KY_PATTERN_LE},
		{TOK_GT, KY_PATTERN_GT}, {TOK_GE, KY_PATTERN_GE}, {TOK_IN, KY_PATTERN_IN}, {TOK_LIKE, KY_PATTERN_LIKE},
		{TOK_MATCHES, KY_PATTERN_MATCHES}, {TOK_ISSUBSET, KY_PATTERN_ISSUBSET},
		{TOK_ISSUPERSET, KY_PATTERN_ISSUPERSET},
	};
	for (size_t i = 0; i < sizeof(ops) / sizeof(ops[0]); i++) {
		if (ops[i].tok == k) {
			*op = ops[i].op;
			return true;
		}
	}
	return false;
}

/* The literal texts as written, for the hash check: a value and, for IN, the set's tokens. */
typedef struct written {
	char *text;
	size_t length;
} written;

static void written_append(parser *p, written *w, const char *s, size_t n)
{
	char *grown = realloc(w->text, w->length + n + 1);
	if (grown == NULL) {
		out_of_memory(p);
		return;
	}
	memcpy(grown + w->length, s, n);
	w->length += n;
	grown[w->length] = '\0';
	w->text = grown;
}

static void check_hash_value(parser *p, const ky_pattern_node *cmp, const written *w, const ky_pattern_token *at);

/* The comparison's one constant (for every operator but IN), into node->values and w. */
static bool take_single_value(parser *p, ky_pattern_node *node, written *w)
{
	const char *src;
	size_t src_len;
	node->values = ky_arena_alloc(p->arena, sizeof(*node->values));
	if (node->values == NULL) {
		out_of_memory(p);
		return false;
	}
	node->nvalues = 1;
	if (!take_literal(p, &node->values[0], &src, &src_len))
		return false;
	written_append(p, w, src, src_len);
	return true;
}

/* propTest: objectPath NOT? op literal | '(' comparisonExpression ')' | NOT? EXISTS objectPath */
static ky_pattern_node *prop_test(parser *p)
{
	ky_pattern_token start = p->tok;
	ky_pattern_node *node = NULL;

	if (p->tok.kind == TOK_LPAREN) {
		if (!enter(p))
			return NULL;
		advance(p);
		ky_pattern_node *inner = comparison_or(p);
		if (inner == NULL)
			return NULL;
		if (!expect(p, TOK_RPAREN, "')' or a boolean operator after the comparison expression"))
			return NULL;
		p->depth--;
		node = new_node(p, KY_PATTERN_CMP_GROUP, &start);
		if (node == NULL)
			return NULL;
		node->children = ky_arena_alloc(p->arena, sizeof(*node->children));
		if (node->children == NULL) {
			out_of_memory(p);
			return NULL;
		}
		node->children[0] = inner;
		node->nchildren = 1;
		return node;
	}

	bool negated = false;
	if (p->tok.kind == TOK_NOT) {
		advance(p);
		negated = true;
		if (p->tok.kind != TOK_EXISTS) {
			expected(p, "EXISTS after a NOT that begins a comparison (or put NOT after the object path)");
			return NULL;
		}
	}
	if (accept(p, TOK_EXISTS)) {
		if (p->tok.kind != TOK_IDENT && p->tok.kind != TOK_IDENT_HYPHEN) {
			expected(p, "an object path after EXISTS");
			return NULL;
		}
		node = new_node(p, KY_PATTERN_EXISTS, &start);
		if (node == NULL || !object_path(p, &node->path))
			return NULL;
		node->negated = negated;
		return node;
	}

	if (p->tok.kind != TOK_IDENT && p->tok.kind != TOK_IDENT_HYPHEN) {
		expected(p, "an object path (type:property), '(' or EXISTS");
		return NULL;
	}
	node = new_node(p, KY_PATTERN_COMPARISON, &start);
	if (node == NULL || !object_path(p, &node->path))
		return NULL;
	if (accept(p, TOK_NOT))
		node->negated = true;
	ky_pattern_token op_token = p->tok;
	if (!op_of(p->tok.kind, &node->op)) {
		expected(p, node->negated ? "a comparison operator after NOT"
					  : "a comparison operator (=, !=, <, <=, >, >=, IN, LIKE, MATCHES, ISSUBSET, ISSUPERSET) after the object path");
		return NULL;
	}
	advance(p);

	ky_pattern_token value_at = p->tok;
	written w = {0};
	const char *src;
	size_t src_len;
	char opname[32];
	snprintf(opname, sizeof(opname), "%.*s", (int)op_token.length, p->lx.text + op_token.start);

	switch (node->op) {
	case KY_PATTERN_EQ:
	case KY_PATTERN_NEQ:
	case KY_PATTERN_LT:
	case KY_PATTERN_LE:
	case KY_PATTERN_GT:
	case KY_PATTERN_GE: {
		bool orderable = node->op != KY_PATTERN_EQ && node->op != KY_PATTERN_NEQ;
		if (!is_literal(p->tok.kind) || (orderable && p->tok.kind == TOK_BOOL)) {
			char what[160];
			snprintf(what, sizeof(what), "%s after '%s'",
				 orderable ? "a number, string, binary, hex or timestamp constant" : "a constant", opname);
			expected(p, what);
			return NULL;
		}
		if (!take_single_value(p, node, &w))
			return NULL;
		break;
	}
	case KY_PATTERN_IN: {
		if (p->tok.kind != TOK_LPAREN) {
			expected(p, "'(' to open the set of constants after IN");
			return NULL;
		}
		written_append(p, &w, "(", 1);
		advance(p);
		size_t cap = 0;
		while (p->tok.kind != TOK_RPAREN) {
			if (node->nvalues > 0) {
				if (!expect(p, TOK_COMMA, "',' or ')' after a constant in the set")) {
					free(w.text);
					return NULL;
				}
				written_append(p, &w, ",", 1);
			}
			if (!is_literal(p->tok.kind)) {
				expected(p, node->nvalues ? "a constant after ','" : "a constant or ')' in the set");
				free(w.text);
				return NULL;
			}
			if (node->nvalues == cap) {
				cap = cap ? cap * 2 : 4;
				ky_pattern_literal *grown = ky_arena_alloc(p->arena, cap * sizeof(*grown));
				if (grown == NULL) {
					out_of_memory(p);
					free(w.text);
					return NULL;
				}
				if (node->nvalues)
					memcpy(grown, node->values, node->nvalues * sizeof(*grown));
				node->values = grown;
			}
			if (!take_literal(p, &node->values[node->nvalues++], &src, &src_len)) {
				free(w.text);
				return NULL;
			}
			written_append(p, &w, src, src_len);
		}
		advance(p);
		written_append(p, &w, ")", 1);
		break;
	}
	default:
		if (p->tok.kind != TOK_STRING) {
			char what[96];
			snprintf(what, sizeof(what), "a string constant after %s", opname);
			expected(p, what);
			return NULL;
		}
		if (!take_single_value(p, node, &w))
			return NULL;
		break;
	}
	check_hash_value(p, node, &w, &value_at);
	free(w.text);
	return p->status == KY_OK ? node : NULL;
}

/*
 * A left-associative chain of one operator, "a OP b OP c", as one n-ary node of `kind` (or
 * the operand itself when there is no operator): the grammar's left recursion as a loop.
 */
static ky_pattern_node *chain(parser *p, ky_pattern_tok op, ky_pattern_node_kind kind,
			      ky_pattern_node *(*operand)(parser *))
{
	ky_pattern_token start = p->tok;
	node_list l = {0};
	do {
		ky_pattern_node *n = operand(p);
		if (n == NULL || !list_push(p, &l, n))
			break;
	} while (accept(p, op));
	return list_finish(p, &l, kind, &start);
}

/* comparisonExpressionAnd: propTest (AND propTest)* */
static ky_pattern_node *comparison_and(parser *p)
{
	return chain(p, TOK_AND, KY_PATTERN_CMP_AND, prop_test);
}

/* comparisonExpression: comparisonExpressionAnd (OR comparisonExpressionAnd)* */
static ky_pattern_node *comparison_or(parser *p)
{
	return chain(p, TOK_OR, KY_PATTERN_CMP_OR, comparison_and);
}

/* --- observation expressions and qualifiers, §9.5 ---------------------------------------- */

static ky_pattern_node *observation_followedby(parser *p);

static bool qualifiers(parser *p, ky_pattern_node *node)
{
	size_t cap = 0;
	for (;;) {
		ky_pattern_qualifier q;
		const char *src;
		size_t src_len;
		memset(&q, 0, sizeof(q));
		q.column = p->tok.column;
		ky_pattern_token keyword = p->tok;
		if (accept(p, TOK_WITHIN)) {
			q.kind = KY_PATTERN_WITHIN;
			if (p->tok.kind != TOK_INT_POS && p->tok.kind != TOK_FLOAT_POS) {
				expected(p, "a positive number of seconds after WITHIN");
				return false;
			}
			if (!take_literal(p, &q.number, &src, &src_len) || !expect(p, TOK_SECONDS, "SECONDS after the number"))
				return false;
		} else if (accept(p, TOK_REPEATS)) {
			q.kind = KY_PATTERN_REPEATS;
			if (p->tok.kind != TOK_INT_POS) {
				expected(p, "a positive integer after REPEATS");
				return false;
			}
			if (!take_literal(p, &q.number, &src, &src_len) || !expect(p, TOK_TIMES, "TIMES after the number"))
				return false;
		} else if (accept(p, TOK_START)) {
			q.kind = KY_PATTERN_START_STOP;
			if (p->tok.kind != TOK_TIMESTAMP) {
				expected(p, "a timestamp t'YYYY-MM-DDThh:mm:ssZ' after START");
				return false;
			}
			if (!take_literal(p, &q.start, &src, &src_len) || !expect(p, TOK_STOP, "STOP after the START timestamp"))
				return false;
			if (p->tok.kind != TOK_TIMESTAMP) {
				expected(p, "a timestamp t'YYYY-MM-DDThh:mm:ssZ' after STOP");
				return false;
			}
			if (!take_literal(p, &q.stop, &src, &src_len))
				return false;
		} else {
			return true;
		}
		/* STIX 2.1 §9.5.1: no two qualifiers of one type on an observation expression. The
		 * OASIS validator applies it to [ ] observations only; a group may repeat one. */
		if (node->kind == KY_PATTERN_OBSERVATION) {
			for (size_t i = 0; i < node->nqualifiers; i++) {
				if (node->qualifiers[i].kind == q.kind)
					defer_at(p, RANK_QUALIFIER, keyword.line, keyword.column,
						 "a second %s qualifier on the same observation expression (STIX 2.1 §9.5.1)",
						 q.kind == KY_PATTERN_WITHIN ? "WITHIN" : q.kind == KY_PATTERN_REPEATS ? "REPEATS" : "START/STOP");
			}
		}
		if (node->nqualifiers == cap) {
			cap = cap ? cap * 2 : 2;
			ky_pattern_qualifier *grown = ky_arena_alloc(p->arena, cap * sizeof(*grown));
			if (grown == NULL) {
				out_of_memory(p);
				return false;
			}
			if (node->nqualifiers)
				memcpy(grown, node->qualifiers, node->nqualifiers * sizeof(*grown));
			node->qualifiers = grown;
		}
		node->qualifiers[node->nqualifiers++] = q;
	}
}

/* observationExpression: '[' comparisonExpression ']' | '(' observationExpressions ')',
 * then qualifiers. */
static ky_pattern_node *observation(parser *p)
{
	ky_pattern_token start = p->tok;
	ky_pattern_node *node, *inner;
	bool bracket = p->tok.kind == TOK_LBRACK;

	if (!bracket && p->tok.kind != TOK_LPAREN) {
		expected(p, "'[' or '(' to begin an observation expression");
		return NULL;
	}
	if (!enter(p))
		return NULL;
	advance(p);
	inner = bracket ? comparison_or(p) : observation_followedby(p);
	if (inner == NULL)
		return NULL;
	if (bracket ? !expect(p, TOK_RBRACK, "']' or a boolean operator (AND, OR) after the comparison expression")
		    : !expect(p, TOK_RPAREN, "')' or an observation operator (AND, OR, FOLLOWEDBY)"))
		return NULL;
	p->depth--;
	node = new_node(p, bracket ? KY_PATTERN_OBSERVATION : KY_PATTERN_GROUP, &start);
	if (node == NULL)
		return NULL;
	node->children = ky_arena_alloc(p->arena, sizeof(*node->children));
	if (node->children == NULL) {
		out_of_memory(p);
		return NULL;
	}
	node->children[0] = inner;
	node->nchildren = 1;
	return qualifiers(p, node) ? node : NULL;
}

/* observationExpressionAnd, observationExpressionOr, observationExpressions (§9.5.3:
 * AND binds tightest, FOLLOWEDBY loosest). */
static ky_pattern_node *observation_and(parser *p)
{
	return chain(p, TOK_AND, KY_PATTERN_OBS_AND, observation);
}

static ky_pattern_node *observation_or(parser *p)
{
	return chain(p, TOK_OR, KY_PATTERN_OBS_OR, observation_and);
}

static ky_pattern_node *observation_followedby(parser *p)
{
	return chain(p, TOK_FOLLOWEDBY, KY_PATTERN_FOLLOWEDBY, observation_or);
}

/* --- the OASIS validator's hash check -------------------------------------------------- */

/*
 * object_validator.verify_object: when a comparison's path has a step named "hashes", its
 * last step names the hash type, read in capitals without '-' or quotes ("SHA-256",
 * 'sha256' -> SHA256), and the value as written, every quote removed, must fit that type's
 * pattern (Python re.match: anchored at the start). MD6's pattern is an unbracketed
 * alternation in the validator, so it asks only for 32 hex digits at the start. The value
 * as written means any literal: an integer or an IN set fails the pattern too.
 */
typedef enum hash_form { HEX_EXACT, MD6_QUIRK, SSDEEP_FORM } hash_form;

static const struct hash_type {
	const char *name;     /* as the validator's table keys it */
	const char *display;  /* as its messages name it */
	hash_form form;
	int lengths[1];
} hash_types[] = {
	{"MD5", "MD5", HEX_EXACT, {32}},
	{"MD6", "MD6", MD6_QUIRK, {32}},
	{"RIPEMD160", "RIPEMD-160", HEX_EXACT, {40}},
	{"SHA1", "SHA-1", HEX_EXACT, {40}},
	{"SHA224", "SHA-224", HEX_EXACT, {56}},
	{"SHA256", "SHA-256", HEX_EXACT, {64}},
	{"SHA384", "SHA-384", HEX_EXACT, {96}},
	{"SHA512", "SHA-512", HEX_EXACT, {128}},
	{"SHA3224", "SHA3-224", HEX_EXACT, {56}},
	{"SHA3256", "SHA3-256", HEX_EXACT, {64}},
	{"SHA3384", "SHA3-384", HEX_EXACT, {96}},
	{"SHA3512", "SHA3-512", HEX_EXACT, {128}},
	{"SSDEEP", "SSDEEP", SSDEEP_FORM, {128}},
	{"WHIRLPOOL", "WHIRLPOOL", HEX_EXACT, {128}},
};

/* Python's str.upper() on the letters that can spell a table key: ASCII, and the non-ASCII
 * letters whose capitals are ASCII: dotless i U+0131 -> I, long s U+017F -> S, sharp s
 * U+00DF -> SS. */
static size_t hash_key(const char *name, char *out, size_t size)
{
	size_t k = 0;
	for (const unsigned char *c = (const unsigned char *)name; *c && k + 1 < size; c++) {
		if (*c == '-' || *c == '\'')
			continue;
		if (c[0] == 0xC4 && c[1] == 0xB1) {
			out[k++] = 'I';
			c++;
		} else if (c[0] == 0xC5 && c[1] == 0xBF) {
			out[k++] = 'S';
			c++;
		} else if (c[0] == 0xC3 && c[1] == 0x9F && k + 2 < size) {
			out[k++] = 'S';
			out[k++] = 'S';
			c++;
		} else {
			out[k++] = (char)(*c >= 'a' && *c <= 'z' ? *c - 'a' + 'A' : *c);
		}
	}
	out[k] = '\0';
	return k;
}

static bool hex_run(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')))
			return false;
	}
	return true;
}

/* The validator's '$' also matches before a final line feed, and its MD6 pattern has a
 * second alternative that begins with one; a string literal cannot hold a line feed here
 * (string_text_ok), so neither case arises. */
static bool fits(const struct hash_type *t, const char *v, size_t n)
{
	switch (t->form) {
	case HEX_EXACT:
		return n == (size_t)t->lengths[0] && hex_run(v, n);
	case MD6_QUIRK:
		return n >= 32 && hex_run(v, 32);
	case SSDEEP_FORM:
		if (n < 1 || n > 128)
			return false;
		for (size_t i = 0; i < n; i++) {
			char c = v[i];
			if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '/' || c == '+' ||
			      c == ':' || c == '.'))
				return false;
		}
		return true;
	}
	return false;
}

static void check_hash_value(parser *p, const ky_pattern_node *cmp, const written *w, const ky_pattern_token *at)
{
	const ky_pattern_path *path = &cmp->path;
	bool has_hashes = false;
	for (size_t i = 0; i < path->nsteps; i++)
		if (path->steps[i].kind == KY_PATTERN_KEY && path->steps[i].key_length == 6 &&
		    memcmp(path->steps[i].key, "hashes", 6) == 0)
			has_hashes = true;
	if (!has_hashes || w->text == NULL)
		return;
	const ky_pattern_step *last = &path->steps[path->nsteps - 1];
	if (last->kind == KY_PATTERN_ANY_INDEX)
		return;
	if (last->kind == KY_PATTERN_INDEX) {
		/* The validator fails with an exception here: a hash is selected by its name. */
		defer_at(p, RANK_HASH, at->line, at->column,
			 "a hash value is selected by the hash's name (hashes.'SHA-256'), not by a list index");
		return;
	}
	char key[64];
	hash_key(last->key, key, sizeof(key));
	for (size_t i = 0; i < sizeof(hash_types) / sizeof(hash_types[0]); i++) {
		if (strcmp(hash_types[i].name, key) != 0)
			continue;
		/* The value as written with every quote removed. */
		char *value = malloc(w->length + 1);
		if (value == NULL) {
			out_of_memory(p);
			return;
		}
		size_t n = 0;
		for (size_t j = 0; j < w->length; j++)
			if (w->text[j] != '\'')
				value[n++] = w->text[j];
		value[n] = '\0';
		if (!fits(&hash_types[i], value, n)) {
			char shown[84], name[68];
			ky_stix_excerpt(shown, sizeof(shown), value, n);
			ky_stix_excerpt(name, sizeof(name), last->key, last->key_length);
			defer_at(p, RANK_HASH, at->line, at->column, "'%s' is not a valid %s hash", shown, name);
		}
		free(value);
		return;
	}
}

/* --- the pattern ------------------------------------------------------------------------- */

/* helpers.brackets_check: after any '(' and whitespace the pattern must begin with '['. */
static void check_starts_with_observation(parser *p, const char *text, size_t length)
{
	size_t i = 0;
	for (;;) {
		if (i < length && text[i] == '(') {
			i++;
			continue;
		}
		size_t n = i < length ? ky_pattern_lex_space(text, length, i) : 0;
		/* Python's isspace() also takes the separators U+001C to U+001F. */
		if (n == 0 && i < length && text[i] >= 0x1C && text[i] <= 0x1F)
			n = 1;
		if (n == 0)
			break;
		i += n;
	}
	if (i >= length || text[i] != '[')
		error_at(p, KY_EINVALID, 1, 1, "a pattern must begin with an observation expression '[' (after any '(')");
}

/* The pattern is UTF-8 (RFC 3629): fails naming the first byte that is not. */
static bool check_utf8(parser *p, const char *text, size_t length)
{
	size_t ascii = 0;
	/* Patterns are mostly ASCII: skip that run before the full check. */
	while (ascii < length && (unsigned char)text[ascii] < 0x80)
		ascii++;
	if (ascii == length || ky_utf8_valid(text + ascii, length - ascii))
		return true;
	size_t offset = ascii;
	while (offset < length) {
		size_t n = ky_utf8_char_length(text + offset, length - offset);
		if (n == 0)
			break;
		offset += n;
	}
	/* The bytes of the character that should start there, for the message. */
	char bytes[16] = "";
	for (size_t i = offset; i < length && i < offset + 4; i++) {
		if (i > offset && ((unsigned char)text[i] & 0xc0) != 0x80)
			break;
		snprintf(bytes + strlen(bytes), sizeof(bytes) - strlen(bytes), "%s%02x", i > offset ? " " : "",
			 (unsigned char)text[i]);
	}
	size_t line, column;
	position_of(text, offset, &line, &column);
	error_at(p, KY_EINVALID, line, column,
		 "not UTF-8 at byte offset %zu: %s does not encode a character; a pattern is Unicode text (STIX 2.1 §9)",
		 offset, bytes);
	return false;
}

int ky_pattern_parse(ky_pattern **out, const char *text, size_t length)
{
	*out = NULL;
	if (length > KY_PATTERN_MAX_LENGTH)
		return ky_error_set(KY_ETOOBIG, "the pattern is %zu bytes, more than the limit of %zu", length,
				    KY_PATTERN_MAX_LENGTH);
	ky_pattern *pattern = calloc(1, sizeof(*pattern));
	parser p = {0};
	if (pattern == NULL || (pattern->arena = ky_arena_new()) == NULL) {
		free(pattern);
		return ky_error_set(KY_ENOMEM, "out of memory while parsing a pattern");
	}
	p.arena = pattern->arena;
	ky_pattern_lex_init(&p.lx, text, length);
	if (!check_utf8(&p, text, length)) {
		ky_pattern_free(pattern);
		return p.status;
	}
	advance(&p);

	ky_pattern_node *root = observation_followedby(&p);
	if (root != NULL && p.tok.kind != TOK_EOF)
		expected(&p, "AND, OR, FOLLOWEDBY, a qualifier (WITHIN, REPEATS, START) or the end of the pattern");
	if (p.status == KY_OK && p.deferred_rank > 0) {
		p.status = KY_EINVALID;
		ky_error_set(KY_EINVALID, "%s", p.deferred);
	}
	/* The validator reports a pattern that does not begin with '[' before anything else. */
	if (p.status == KY_OK || p.status == KY_EINVALID) {
		int status = p.status;
		p.status = KY_OK;
		check_starts_with_observation(&p, text, length);
		if (p.status == KY_OK)
			p.status = status;
	}
	if (p.status != KY_OK) {
		ky_pattern_free(pattern);
		return p.status;
	}
	pattern->root = root;
	*out = pattern;
	return KY_OK;
}

const ky_pattern_node *ky_pattern_root(const ky_pattern *p)
{
	return p->root;
}

void ky_pattern_free(ky_pattern *p)
{
	if (p == NULL)
		return;
	ky_arena_free(p->arena);
	free(p);
}
