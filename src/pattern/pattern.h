/*
 * pattern: the STIX patterning language (STIX 2.1 §9): a parser with a syntax tree, the
 * checks the OASIS pattern validator makes beyond the grammar, and a printer of canonical
 * patterns.
 *
 * The grammar of record is STIXPattern.g4 (tests/data/oasis-stix2-json-schemas/
 * pattern_grammar/); the verdicts are those of the OASIS validator
 * (oasis-open/cti-pattern-validator, STIX 2.1 mode): a pattern kyoyu accepts it accepts,
 * and the reverse, but for bytes that are not UTF-8 and raw controls in string literals,
 * which kyoyu alone refuses (see ky_pattern_parse). The tree is what later code walks
 * (the matcher evaluates it, exports translate it); ky_pattern_print() writes it back so
 * that parse, print, parse gives an equal tree.
 *
 * The tree for
 *     [ipv4-addr:value = '198.51.100.1' OR ipv4-addr:value = '203.0.113.7'] REPEATS 2 TIMES
 *         FOLLOWEDBY [domain-name:value LIKE '%.example.com']
 * is
 *     FOLLOWEDBY
 *       OBSERVATION (qualifiers: REPEATS 2)
 *         CMP_OR
 *           COMPARISON ipv4-addr:value = '198.51.100.1'
 *           COMPARISON ipv4-addr:value = '203.0.113.7'
 *       OBSERVATION
 *         COMPARISON domain-name:value LIKE '%.example.com'
 * Chains of one operator written without parentheses are one node with many children
 * (an OR of 500 terms is one CMP_OR node, not 500 levels); parentheses in the source are
 * kept as GROUP and CMP_GROUP nodes, because qualifiers and precedence depend on them.
 */
#ifndef KY_PATTERN_H
#define KY_PATTERN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Limits: generous next to real patterns (the largest seen in feeds are about 57 KB, OR
 * chains of hundreds of terms, a handful of parentheses deep), small next to the stack. */
#define KY_PATTERN_MAX_LENGTH ((size_t)1 << 20)
#define KY_PATTERN_MAX_DEPTH 400

typedef enum ky_pattern_node_kind {
	/* Observation level (§9.5). */
	KY_PATTERN_FOLLOWEDBY,   /* children in order, two or more */
	KY_PATTERN_OBS_OR,
	KY_PATTERN_OBS_AND,
	KY_PATTERN_GROUP,        /* ( observation expressions ): one child */
	KY_PATTERN_OBSERVATION,  /* [ comparison expression ]: one child */
	/* Comparison level (§9.6). */
	KY_PATTERN_CMP_OR,       /* two or more children */
	KY_PATTERN_CMP_AND,
	KY_PATTERN_CMP_GROUP,    /* ( comparison expression ): one child */
	KY_PATTERN_COMPARISON,   /* object path, operator, literal or set */
	KY_PATTERN_EXISTS,       /* EXISTS object path */
} ky_pattern_node_kind;

typedef enum ky_pattern_op {
	KY_PATTERN_EQ, KY_PATTERN_NEQ, KY_PATTERN_LT, KY_PATTERN_LE, KY_PATTERN_GT, KY_PATTERN_GE,
	KY_PATTERN_IN, KY_PATTERN_LIKE, KY_PATTERN_MATCHES, KY_PATTERN_ISSUBSET, KY_PATTERN_ISSUPERSET,
} ky_pattern_op;

typedef enum ky_pattern_literal_kind {
	KY_PATTERN_INT,        /* text: decimal digits, '-' when negative, no '+' */
	KY_PATTERN_FLOAT,      /* text: digits '.' digits, '-' when negative, no '+' */
	KY_PATTERN_STRING,     /* text: the decoded string (UTF-8, escapes resolved) */
	KY_PATTERN_BINARY,     /* text: the base64 as written */
	KY_PATTERN_HEX,        /* text: the hex digits, lowercased */
	KY_PATTERN_TIMESTAMP,  /* text: the timestamp as written */
	KY_PATTERN_BOOL,       /* text: "true" or "false" */
} ky_pattern_literal_kind;

typedef struct ky_pattern_literal {
	ky_pattern_literal_kind kind;
	const char *text;      /* as the kinds above say; NUL-terminated */
	size_t length;         /* bytes of text (a string holds no control character, so no NUL) */
} ky_pattern_literal;

typedef enum ky_pattern_step_kind {
	KY_PATTERN_KEY,        /* .name or .'quoted name' (and the first property) */
	KY_PATTERN_INDEX,      /* [n] */
	KY_PATTERN_ANY_INDEX,  /* [*] */
} ky_pattern_step_kind;

typedef struct ky_pattern_step {
	ky_pattern_step_kind kind;
	const char *key;       /* KY_PATTERN_KEY: the decoded name, NUL-terminated */
	size_t key_length;     /* its bytes (a quoted name, like any string, holds no control) */
	int64_t index;         /* KY_PATTERN_INDEX */
} ky_pattern_step;

typedef struct ky_pattern_path {
	const char *object_type;     /* e.g. "ipv4-addr" */
	const ky_pattern_step *steps; /* steps[0] is the first property, always a key */
	size_t nsteps;
} ky_pattern_path;

typedef enum ky_pattern_qualifier_kind {
	KY_PATTERN_WITHIN,     /* number: seconds, INT or FLOAT literal */
	KY_PATTERN_REPEATS,    /* number: times, INT literal */
	KY_PATTERN_START_STOP, /* start, stop: TIMESTAMP literals */
} ky_pattern_qualifier_kind;

typedef struct ky_pattern_qualifier {
	ky_pattern_qualifier_kind kind;
	ky_pattern_literal number;
	ky_pattern_literal start, stop;
	size_t column;         /* 1-based column of its keyword in the source */
} ky_pattern_qualifier;

typedef struct ky_pattern_node ky_pattern_node;

struct ky_pattern_node {
	ky_pattern_node_kind kind;
	size_t column;                     /* 1-based column (code points) where it starts */
	ky_pattern_node **children;        /* operators, groups, observations */
	size_t nchildren;
	ky_pattern_qualifier *qualifiers;  /* OBSERVATION and GROUP, in source order */
	size_t nqualifiers;
	/* COMPARISON and EXISTS */
	bool negated;                      /* NOT */
	ky_pattern_path path;
	ky_pattern_op op;                  /* COMPARISON */
	ky_pattern_literal *values;        /* COMPARISON: one literal, or the IN set (maybe empty) */
	size_t nvalues;
};

/* A parsed pattern: the root of its tree and the memory all of it lives in. */
typedef struct ky_pattern ky_pattern;

/*
 * Parses `text` (`length` bytes, no NUL needed: any bytes at all are refused cleanly) and
 * applies the checks the OASIS validator makes beyond the grammar. On success *out owns the
 * tree (free it with ky_pattern_free). On failure returns KY_EINVALID with ky_error_last()
 * saying where and what was expected, in the form
 *     column 27: expected ']' after the comparison expression, found 'AND'
 * (columns are 1-based and count Unicode code points, as editors do), or KY_ETOOBIG for
 * input over KY_PATTERN_MAX_LENGTH or nesting over KY_PATTERN_MAX_DEPTH, or KY_ENOMEM.
 * Stricter than the validator in two ways, both KY_EINVALID naming the byte offset: text
 * that is not UTF-8 (RFC 3629), and a control character (U+0000 to U+001F, U+007F) inside
 * a string literal. The message is valid UTF-8 whatever the input, and quotes at most 40
 * bytes of it, with controls escaped as \xNN.
 * Thread-safe: no shared state.
 */
int ky_pattern_parse(ky_pattern **out, const char *text, size_t length);

/* The root of the tree; borrowed from the pattern. */
const ky_pattern_node *ky_pattern_root(const ky_pattern *p);

void ky_pattern_free(ky_pattern *p);

/*
 * Writes the canonical text of the tree at `node` (a root or any subtree): keywords in
 * capitals, single spaces, '=' and '!=' for the equality operators, literals in their
 * shortest standard form, property names quoted only when they must be. Returns a
 * malloc'd NUL-terminated string the caller frees, or NULL when memory ran out; *length
 * (when not NULL) gets its length, which counts any NUL a string literal holds.
 */
char *ky_pattern_print(const ky_pattern_node *node, size_t *length);

/* True when the two trees are equal (kinds, operators, paths, literals, qualifiers;
 * not columns). */
bool ky_pattern_equal(const ky_pattern_node *a, const ky_pattern_node *b);

#endif
