/*
 * pattern_lex: the tokens of STIXPattern.g4 by longest match, ties to the rule written
 * first, as ANTLR's lexer decides (see pattern_lex.h). Each rule is a function returning
 * how many bytes it would take at the current position (0: no match); the lexer keeps the
 * longest, scanning the rules in the grammar's order so that a tie keeps the earlier one.
 * For "-5.5": IntNegLiteral takes "-5", FloatNegLiteral "-5.5", HYPHEN "-": the float wins.
 */
#include "pattern/pattern_lex.h"

#include <stdbool.h>
#include <string.h>

static bool is_digit(unsigned char c)
{
	return c >= '0' && c <= '9';
}

static bool is_hex(unsigned char c)
{
	return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

static bool is_alpha_(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}

static bool is_base64(unsigned char c)
{
	return is_alpha_(c) ? c != '_' : is_digit(c) || c == '+' || c == '/';
}

size_t ky_pattern_lex_codepoint(const char *text, size_t length, size_t pos)
{
	unsigned char c = (unsigned char)text[pos];
	size_t n = c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xE ? 3 : (c >> 3) == 0x1E ? 4 : 1;
	if (pos + n > length)
		return 1;
	for (size_t i = 1; i < n; i++)
		if (((unsigned char)text[pos + i] & 0xC0) != 0x80)
			return 1;
	return n;
}

/* The grammar's WS rule: [ \t\r\n\u000B\u000C\u0085\u00a0\u1680\u2000-\u200a\u2028\u2029
 * \u202f\u205f\u3000]. */
size_t ky_pattern_lex_space(const char *text, size_t length, size_t pos)
{
	const unsigned char *s = (const unsigned char *)text + pos;
	size_t left = length - pos;
	if (left == 0)
		return 0;
	if (strchr(" \t\r\n\v\f", s[0]) != NULL && s[0] != '\0')
		return 1;
	if (left >= 2 && s[0] == 0xC2 && (s[1] == 0x85 || s[1] == 0xA0))
		return 2;
	if (left >= 3 && s[0] == 0xE1 && s[1] == 0x9A && s[2] == 0x80)
		return 3;
	if (left >= 3 && s[0] == 0xE2 && s[1] == 0x80 &&
	    ((s[2] >= 0x80 && s[2] <= 0x8A) || s[2] == 0xA8 || s[2] == 0xA9 || s[2] == 0xAF))
		return 3;
	if (left >= 3 && s[0] == 0xE2 && s[1] == 0x81 && s[2] == 0x9F)
		return 3;
	if (left >= 3 && s[0] == 0xE3 && s[1] == 0x80 && s[2] == 0x80)
		return 3;
	return 0;
}

/* --- the rules, each: bytes it takes at s (left bytes available), 0 if none ------------ */

/* '0' | [1-9] [0-9]* */
static size_t unsigned_int(const char *s, size_t left)
{
	if (left == 0 || !is_digit((unsigned char)s[0]))
		return 0;
	if (s[0] == '0')
		return 1;
	size_t n = 1;
	while (n < left && is_digit((unsigned char)s[n]))
		n++;
	return n;
}

/* [0-9]* '.' [0-9]+ */
static size_t unsigned_float(const char *s, size_t left)
{
	size_t n = 0;
	while (n < left && is_digit((unsigned char)s[n]))
		n++;
	if (n >= left || s[n] != '.')
		return 0;
	size_t m = n + 1;
	while (m < left && is_digit((unsigned char)s[m]))
		m++;
	return m > n + 1 ? m : 0;
}

static size_t signed_rule(const char *s, size_t left, char sign, bool sign_required, size_t (*body)(const char *, size_t))
{
	if (left > 0 && s[0] == sign) {
		size_t n = body(s + 1, left - 1);
		return n ? n + 1 : 0;
	}
	return sign_required ? 0 : body(s, left);
}

/* 'h' QUOTE TwoHexDigits* QUOTE */
static size_t hex_literal(const char *s, size_t left)
{
	if (left < 3 || s[0] != 'h' || s[1] != '\'')
		return 0;
	size_t n = 2;
	while (n + 1 < left && is_hex((unsigned char)s[n]) && is_hex((unsigned char)s[n + 1]))
		n += 2;
	return n < left && s[n] == '\'' ? n + 1 : 0;
}

/* 'b' QUOTE (B64 B64 B64 B64)* (B64 B64 B64 B64 | B64 B64 B64 '=' | B64 B64 '==') QUOTE */
static size_t binary_literal(const char *s, size_t left)
{
	if (left < 3 || s[0] != 'b' || s[1] != '\'')
		return 0;
	size_t n = 2;
	while (n < left && is_base64((unsigned char)s[n]))
		n++;
	size_t chars = n - 2;
	size_t pad = 0;
	while (n < left && s[n] == '=' && pad < 2) {
		n++;
		pad++;
	}
	if (n >= left || s[n] != '\'')
		return 0;
	if (chars + pad < 4 || (chars + pad) % 4 != 0)
		return 0;
	return n + 1;
}

/* QUOTE ( ~['\\] | '\\\'' | '\\\\' )* QUOTE */
static size_t string_literal(const char *s, size_t left)
{
	if (left < 2 || s[0] != '\'')
		return 0;
	for (size_t n = 1; n < left; n++) {
		if (s[n] == '\'')
			return n + 1;
		if (s[n] == '\\') {
			if (n + 1 < left && (s[n + 1] == '\'' || s[n + 1] == '\\'))
				n++;
			else
				return 0;
		}
	}
	return 0;
}

static bool two_digits_in(const char *s, int lo, int hi)
{
	if (!is_digit((unsigned char)s[0]) || !is_digit((unsigned char)s[1]))
		return false;
	int v = (s[0] - '0') * 10 + (s[1] - '0');
	return v >= lo && v <= hi;
}

/* 't' QUOTE YYYY '-' MM '-' DD 'T' hh ':' mm ':' ss ('.' [0-9]+)? 'Z' QUOTE, with the
 * grammar's ranges: month 01-12, day 01-31, hour 00-23, minute 00-59, second 00-60. */
static size_t timestamp_literal(const char *s, size_t left)
{
	/* t'2016-06-01T00:00:00Z' is 23 bytes. */
	if (left < 23 || s[0] != 't' || s[1] != '\'')
		return 0;
	const char *d = s + 2;
	for (int i = 0; i < 4; i++)
		if (!is_digit((unsigned char)d[i]))
			return 0;
	if (d[4] != '-' || !two_digits_in(d + 5, 1, 12) || d[7] != '-' || !two_digits_in(d + 8, 1, 31) || d[10] != 'T' ||
	    !two_digits_in(d + 11, 0, 23) || d[13] != ':' || !two_digits_in(d + 14, 0, 59) || d[16] != ':' ||
	    !two_digits_in(d + 17, 0, 60))
		return 0;
	size_t n = 2 + 19;
	if (n < left && s[n] == '.') {
		size_t m = n + 1;
		while (m < left && is_digit((unsigned char)s[m]))
			m++;
		if (m == n + 1)
			return 0;
		n = m;
	}
	if (n + 1 < left && s[n] == 'Z' && s[n + 1] == '\'')
		return n + 2;
	return 0;
}

/* [a-zA-Z_] [a-zA-Z0-9_]* and, with hyphens, [a-zA-Z_] [a-zA-Z0-9_-]* */
static size_t identifier(const char *s, size_t left, bool hyphen)
{
	if (left == 0 || !is_alpha_((unsigned char)s[0]))
		return 0;
	size_t n = 1;
	while (n < left && (is_alpha_((unsigned char)s[n]) || is_digit((unsigned char)s[n]) || (hyphen && s[n] == '-')))
		n++;
	return n;
}

static const struct keyword {
	const char *word;
	ky_pattern_tok tok;
} keywords[] = {
	/* BoolLiteral is written before the keywords TRUE and FALSE, so it takes them. */
	{"true", TOK_BOOL}, {"false", TOK_BOOL},
	{"AND", TOK_AND}, {"OR", TOK_OR}, {"NOT", TOK_NOT}, {"FOLLOWEDBY", TOK_FOLLOWEDBY},
	{"LIKE", TOK_LIKE}, {"MATCHES", TOK_MATCHES}, {"ISSUPERSET", TOK_ISSUPERSET},
	{"ISSUBSET", TOK_ISSUBSET}, {"EXISTS", TOK_EXISTS}, {"LAST", TOK_LAST}, {"IN", TOK_IN},
	{"START", TOK_START}, {"STOP", TOK_STOP}, {"SECONDS", TOK_SECONDS}, {"WITHIN", TOK_WITHIN},
	{"REPEATS", TOK_REPEATS}, {"TIMES", TOK_TIMES},
};

static ky_pattern_tok keyword(const char *s, size_t n)
{
	for (size_t i = 0; i < sizeof(keywords) / sizeof(keywords[0]); i++)
		if (strlen(keywords[i].word) == n && memcmp(keywords[i].word, s, n) == 0)
			return keywords[i].tok;
	return TOK_EOF;
}

int ky_pattern_lex_is_plain_name(const char *word, size_t length)
{
	return length > 0 && identifier(word, length, false) == length && identifier(word, length, true) == length &&
	       keyword(word, length) == TOK_EOF;
}

/* Operators and punctuation, longest first where one is the prefix of another. */
static size_t punctuation(const char *s, size_t left, ky_pattern_tok *tok)
{
	static const struct {
		const char *text;
		ky_pattern_tok tok;
	} table[] = {
		{"==", TOK_EQ}, {"!=", TOK_NEQ}, {"<>", TOK_NEQ}, {"<=", TOK_LE}, {">=", TOK_GE},
		{"=", TOK_EQ}, {"<", TOK_LT}, {">", TOK_GT}, {"'", TOK_QUOTE}, {":", TOK_COLON},
		{".", TOK_DOT}, {",", TOK_COMMA}, {")", TOK_RPAREN}, {"(", TOK_LPAREN}, {"]", TOK_RBRACK},
		{"[", TOK_LBRACK}, {"+", TOK_PLUS}, {"-", TOK_HYPHEN}, {"^", TOK_POWER}, {"/", TOK_DIVIDE},
		{"*", TOK_ASTERISK},
	};
	for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++) {
		size_t n = strlen(table[i].text);
		if (n <= left && memcmp(table[i].text, s, n) == 0) {
			*tok = table[i].tok;
			return n;
		}
	}
	return 0;
}

void ky_pattern_lex_init(ky_pattern_lexer *lx, const char *text, size_t length)
{
	lx->text = text;
	lx->length = length;
	lx->pos = 0;
	lx->line = 1;
	lx->column = 1;
}

/* Moves past n bytes, counting code points and line feeds. */
static void consume(ky_pattern_lexer *lx, size_t n)
{
	size_t end = lx->pos + n;
	while (lx->pos < end) {
		if (lx->text[lx->pos] == '\n') {
			lx->line++;
			lx->column = 1;
			lx->pos++;
		} else {
			lx->pos += ky_pattern_lex_codepoint(lx->text, lx->length, lx->pos);
			lx->column++;
		}
	}
}

/* Whitespace, '/' '*' ... '*' '/' and '//' to the end of the line: the skipped tokens. */
static bool skip_one(ky_pattern_lexer *lx)
{
	const char *s = lx->text + lx->pos;
	size_t left = lx->length - lx->pos;
	size_t n = ky_pattern_lex_space(lx->text, lx->length, lx->pos);
	if (n > 0) {
		consume(lx, n);
		return true;
	}
	if (left >= 4 && s[0] == '/' && s[1] == '*') {
		for (size_t i = 2; i + 1 < left; i++) {
			if (s[i] == '*' && s[i + 1] == '/') {
				consume(lx, i + 2);
				return true;
			}
		}
		return false; /* unterminated: '/' and '*' are then tokens of their own */
	}
	if (left >= 2 && s[0] == '/' && s[1] == '/') {
		size_t i = 2;
		while (i < left && s[i] != '\r' && s[i] != '\n')
			i++;
		consume(lx, i);
		return true;
	}
	return false;
}

ky_pattern_token ky_pattern_lex_next(ky_pattern_lexer *lx)
{
	while (lx->pos < lx->length && skip_one(lx))
		;
	ky_pattern_token t = {TOK_EOF, lx->pos, 0, lx->line, lx->column};
	if (lx->pos >= lx->length)
		return t;

	const char *s = lx->text + lx->pos;
	size_t left = lx->length - lx->pos;
	size_t best = 0, n;
	ky_pattern_tok kind = TOK_INVALID;

#define TRY(len_expr, tok_value)           \
	do {                               \
		n = (len_expr);            \
		if (n > best) {            \
			best = n;          \
			kind = (tok_value); \
		}                          \
	} while (0)

	/* In the grammar's order: a later rule wins only with a longer match. */
	TRY(signed_rule(s, left, '-', true, unsigned_int), TOK_INT_NEG);
	TRY(signed_rule(s, left, '+', false, unsigned_int), TOK_INT_POS);
	TRY(signed_rule(s, left, '-', true, unsigned_float), TOK_FLOAT_NEG);
	TRY(signed_rule(s, left, '+', false, unsigned_float), TOK_FLOAT_POS);
	TRY(hex_literal(s, left), TOK_HEX);
	TRY(binary_literal(s, left), TOK_BINARY);
	TRY(string_literal(s, left), TOK_STRING);
	TRY(timestamp_literal(s, left), TOK_TIMESTAMP);
	size_t plain = identifier(s, left, false);
	if (plain > best) {
		ky_pattern_tok kw = keyword(s, plain);
		TRY(plain, kw != TOK_EOF ? kw : TOK_IDENT);
	}
	TRY(identifier(s, left, true), TOK_IDENT_HYPHEN);
	ky_pattern_tok punct = TOK_INVALID;
	TRY(punctuation(s, left, &punct), punct);
#undef TRY
	if (best == 0)
		best = ky_pattern_lex_codepoint(lx->text, lx->length, lx->pos);
	t.kind = kind;
	t.length = best;
	consume(lx, best);
	return t;
}
