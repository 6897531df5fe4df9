/*
 * pattern_print: the canonical text of a pattern tree, and tree equality.
 *
 * The canonical form is the one a parse of it gives back unchanged:
 *     [ file:hashes.'SHA-256'=='AB..' ]within 5 seconds     (not valid: lowercase keyword)
 *     ( [file:name = 'a'] )  WITHIN +5 SECONDS
 *         -> ([file:name = 'a']) WITHIN 5 SECONDS
 * Keywords in capitals, one space around operators, '=' and '!=' for equality, a property
 * name quoted only when it could not stand bare (hyphens, dots, keywords), strings escaped
 * with \' and \\ only. Parentheses are printed where the tree has GROUP and CMP_GROUP nodes,
 * and around any child that would otherwise bind differently, so a tree built by hand
 * prints correctly too.
 */
#include <stdlib.h>
#include <string.h>

#include "pattern/pattern.h"
#include "pattern/pattern_lex.h"

typedef struct out {
	char *text;
	size_t length, cap;
	bool failed;
} out;

static void put(out *o, const char *s, size_t n)
{
	if (o->failed)
		return;
	if (o->length + n + 1 > o->cap) {
		size_t cap = o->cap ? o->cap : 128;
		while (cap < o->length + n + 1)
			cap *= 2;
		char *grown = realloc(o->text, cap);
		if (grown == NULL) {
			o->failed = true;
			return;
		}
		o->text = grown;
		o->cap = cap;
	}
	memcpy(o->text + o->length, s, n);
	o->length += n;
	o->text[o->length] = '\0';
}

static void puts_(out *o, const char *s)
{
	put(o, s, strlen(s));
}

static void quoted(out *o, const char *s, size_t n)
{
	put(o, "'", 1);
	for (size_t i = 0; i < n; i++) {
		if (s[i] == '\'' || s[i] == '\\')
			put(o, "\\", 1);
		put(o, s + i, 1);
	}
	put(o, "'", 1);
}

static void literal(out *o, const ky_pattern_literal *l)
{
	switch (l->kind) {
	case KY_PATTERN_STRING:
		quoted(o, l->text, l->length);
		return;
	case KY_PATTERN_BINARY:
		puts_(o, "b'");
		break;
	case KY_PATTERN_HEX:
		puts_(o, "h'");
		break;
	case KY_PATTERN_TIMESTAMP:
		puts_(o, "t'");
		break;
	default:
		put(o, l->text, l->length);
		return;
	}
	put(o, l->text, l->length);
	puts_(o, "'");
}

static void path(out *o, const ky_pattern_path *p)
{
	puts_(o, p->object_type);
	puts_(o, ":");
	for (size_t i = 0; i < p->nsteps; i++) {
		const ky_pattern_step *s = &p->steps[i];
		if (s->kind == KY_PATTERN_KEY) {
			if (i > 0)
				puts_(o, ".");
			if (ky_pattern_lex_is_plain_name(s->key, s->key_length))
				put(o, s->key, s->key_length);
			else
				quoted(o, s->key, s->key_length);
		} else if (s->kind == KY_PATTERN_ANY_INDEX) {
			puts_(o, "[*]");
		} else {
			char digits[24];
			size_t k = sizeof(digits);
			int64_t v = s->index;
			digits[--k] = ']';
			do
				digits[--k] = (char)('0' + v % 10);
			while ((v /= 10) > 0);
			digits[--k] = '[';
			put(o, digits + k, sizeof(digits) - k);
		}
	}
}

static const char *op_text(ky_pattern_op op)
{
	static const char *const names[] = {
		"=", "!=", "<", "<=", ">", ">=", "IN", "LIKE", "MATCHES", "ISSUBSET", "ISSUPERSET",
	};
	return names[op];
}

/* How tightly a node binds; a child binding less tightly than its parent needs parentheses. */
static int binding(ky_pattern_node_kind k)
{
	switch (k) {
	case KY_PATTERN_FOLLOWEDBY: return 1;
	case KY_PATTERN_OBS_OR: return 2;
	case KY_PATTERN_OBS_AND: return 3;
	case KY_PATTERN_CMP_OR: return 1;
	case KY_PATTERN_CMP_AND: return 2;
	default: return 9;
	}
}

static void node(out *o, const ky_pattern_node *n);

static void child(out *o, const ky_pattern_node *parent, const ky_pattern_node *c)
{
	bool wrap = binding(c->kind) <= binding(parent->kind) && binding(c->kind) < 9;
	if (wrap)
		puts_(o, "(");
	node(o, c);
	if (wrap)
		puts_(o, ")");
}

static void qualifiers(out *o, const ky_pattern_node *n)
{
	for (size_t i = 0; i < n->nqualifiers; i++) {
		const ky_pattern_qualifier *q = &n->qualifiers[i];
		switch (q->kind) {
		case KY_PATTERN_WITHIN:
			puts_(o, " WITHIN ");
			literal(o, &q->number);
			puts_(o, " SECONDS");
			break;
		case KY_PATTERN_REPEATS:
			puts_(o, " REPEATS ");
			literal(o, &q->number);
			puts_(o, " TIMES");
			break;
		case KY_PATTERN_START_STOP:
			puts_(o, " START ");
			literal(o, &q->start);
			puts_(o, " STOP ");
			literal(o, &q->stop);
			break;
		}
	}
}

static void node(out *o, const ky_pattern_node *n)
{
	static const char *const joiners[] = {
		[KY_PATTERN_FOLLOWEDBY] = " FOLLOWEDBY ", [KY_PATTERN_OBS_OR] = " OR ", [KY_PATTERN_OBS_AND] = " AND ",
		[KY_PATTERN_CMP_OR] = " OR ", [KY_PATTERN_CMP_AND] = " AND ",
	};
	switch (n->kind) {
	case KY_PATTERN_FOLLOWEDBY:
	case KY_PATTERN_OBS_OR:
	case KY_PATTERN_OBS_AND:
	case KY_PATTERN_CMP_OR:
	case KY_PATTERN_CMP_AND:
		for (size_t i = 0; i < n->nchildren; i++) {
			if (i > 0)
				puts_(o, joiners[n->kind]);
			child(o, n, n->children[i]);
		}
		break;
	case KY_PATTERN_GROUP:
	case KY_PATTERN_CMP_GROUP:
		puts_(o, "(");
		node(o, n->children[0]);
		puts_(o, ")");
		qualifiers(o, n);
		break;
	case KY_PATTERN_OBSERVATION:
		puts_(o, "[");
		node(o, n->children[0]);
		puts_(o, "]");
		qualifiers(o, n);
		break;
	case KY_PATTERN_COMPARISON:
		path(o, &n->path);
		puts_(o, n->negated ? " NOT " : " ");
		puts_(o, op_text(n->op));
		puts_(o, " ");
		if (n->op == KY_PATTERN_IN) {
			puts_(o, "(");
			for (size_t i = 0; i < n->nvalues; i++) {
				if (i > 0)
					puts_(o, ", ");
				literal(o, &n->values[i]);
			}
			puts_(o, ")");
		} else {
			literal(o, &n->values[0]);
		}
		break;
	case KY_PATTERN_EXISTS:
		puts_(o, n->negated ? "NOT EXISTS " : "EXISTS ");
		path(o, &n->path);
		break;
	}
}

char *ky_pattern_print(const ky_pattern_node *n, size_t *length)
{
	out o = {0};
	put(&o, "", 0);
	node(&o, n);
	if (o.failed) {
		free(o.text);
		return NULL;
	}
	if (length != NULL)
		*length = o.length;
	return o.text;
}

static bool literal_equal(const ky_pattern_literal *a, const ky_pattern_literal *b)
{
	return a->kind == b->kind && a->length == b->length && memcmp(a->text, b->text, a->length) == 0;
}

static bool path_equal(const ky_pattern_path *a, const ky_pattern_path *b)
{
	if (strcmp(a->object_type, b->object_type) != 0 || a->nsteps != b->nsteps)
		return false;
	for (size_t i = 0; i < a->nsteps; i++) {
		const ky_pattern_step *x = &a->steps[i], *y = &b->steps[i];
		if (x->kind != y->kind ||
		    (x->kind == KY_PATTERN_KEY &&
		     (x->key_length != y->key_length || memcmp(x->key, y->key, x->key_length) != 0)) ||
		    (x->kind == KY_PATTERN_INDEX && x->index != y->index))
			return false;
	}
	return true;
}

static bool qualifier_equal(const ky_pattern_qualifier *a, const ky_pattern_qualifier *b)
{
	if (a->kind != b->kind)
		return false;
	if (a->kind == KY_PATTERN_START_STOP)
		return literal_equal(&a->start, &b->start) && literal_equal(&a->stop, &b->stop);
	return literal_equal(&a->number, &b->number);
}

bool ky_pattern_equal(const ky_pattern_node *a, const ky_pattern_node *b)
{
	if (a->kind != b->kind || a->nchildren != b->nchildren || a->nqualifiers != b->nqualifiers ||
	    a->negated != b->negated || a->nvalues != b->nvalues)
		return false;
	for (size_t i = 0; i < a->nqualifiers; i++)
		if (!qualifier_equal(&a->qualifiers[i], &b->qualifiers[i]))
			return false;
	if (a->kind == KY_PATTERN_COMPARISON || a->kind == KY_PATTERN_EXISTS) {
		if (!path_equal(&a->path, &b->path) || (a->kind == KY_PATTERN_COMPARISON && a->op != b->op))
			return false;
		for (size_t i = 0; i < a->nvalues; i++)
			if (!literal_equal(&a->values[i], &b->values[i]))
				return false;
	}
	for (size_t i = 0; i < a->nchildren; i++)
		if (!ky_pattern_equal(a->children[i], b->children[i]))
			return false;
	return true;
}
