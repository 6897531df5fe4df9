/*
 * pattern_lex: the tokens of STIXPattern.g4, cut exactly as its ANTLR lexer cuts them.
 * Internal to the pattern module.
 *
 * ANTLR's lexer takes, at each position, the longest match of any rule, and on a tie the
 * rule written first. The verdicts of kyoyu and of the OASIS validator agree only if the
 * tokens do, so this lexer follows the same two rules rather than reading by context:
 * "h'00'" is a hex literal even where only a name could follow, "true" is a boolean and
 * never a property name, "a-b" is one identifier with a hyphen, "1." is the integer 1 and
 * then a dot, and a string with "\n" in it is not a string at all but a lone quote.
 */
#ifndef KY_PATTERN_LEX_H
#define KY_PATTERN_LEX_H

#include <stddef.h>

typedef enum ky_pattern_tok {
	TOK_EOF,
	TOK_INT_NEG, TOK_INT_POS, TOK_FLOAT_NEG, TOK_FLOAT_POS,
	TOK_HEX, TOK_BINARY, TOK_STRING, TOK_BOOL, TOK_TIMESTAMP,
	TOK_AND, TOK_OR, TOK_NOT, TOK_FOLLOWEDBY, TOK_LIKE, TOK_MATCHES, TOK_ISSUPERSET,
	TOK_ISSUBSET, TOK_EXISTS, TOK_LAST, TOK_IN, TOK_START, TOK_STOP, TOK_SECONDS,
	TOK_WITHIN, TOK_REPEATS, TOK_TIMES,
	TOK_IDENT,         /* IdentifierWithoutHyphen */
	TOK_IDENT_HYPHEN,  /* IdentifierWithHyphen */
	TOK_EQ, TOK_NEQ, TOK_LT, TOK_LE, TOK_GT, TOK_GE,
	TOK_QUOTE, TOK_COLON, TOK_DOT, TOK_COMMA, TOK_RPAREN, TOK_LPAREN, TOK_RBRACK, TOK_LBRACK,
	TOK_PLUS, TOK_HYPHEN, TOK_POWER, TOK_DIVIDE, TOK_ASTERISK,
	TOK_INVALID,       /* InvalidCharacter: one code point no rule takes */
} ky_pattern_tok;

typedef struct ky_pattern_token {
	ky_pattern_tok kind;
	size_t start, length; /* bytes of the source */
	size_t line;          /* 1-based; a line feed starts a new line, as ANTLR counts */
	size_t column;        /* 1-based, in code points within the line */
} ky_pattern_token;

typedef struct ky_pattern_lexer {
	const char *text;
	size_t length;
	size_t pos;           /* next byte */
	size_t line, column;  /* position of text[pos] */
} ky_pattern_lexer;

void ky_pattern_lex_init(ky_pattern_lexer *lx, const char *text, size_t length);

/* Skips whitespace and comments (the grammar's skipped tokens) and cuts the next token. */
ky_pattern_token ky_pattern_lex_next(ky_pattern_lexer *lx);

/* Length in bytes of the whitespace code point at text[pos] (as the grammar's WS rule
 * reads it), or 0 if there is none. */
size_t ky_pattern_lex_space(const char *text, size_t length, size_t pos);

/* Length in bytes of the UTF-8 sequence starting at text[pos] (1 for an invalid byte). */
size_t ky_pattern_lex_codepoint(const char *text, size_t length, size_t pos);

/* Whether `word` (NUL-terminated) lexes as one IdentifierWithoutHyphen token: a name that
 * may stand unquoted in an object path. */
int ky_pattern_lex_is_plain_name(const char *word, size_t length);

#endif
