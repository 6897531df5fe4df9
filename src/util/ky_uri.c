/*
 * ky_uri: the password redaction behind ky_uri.h.
 *
 * The location is read once to find the spans that hold a password, in order of where they
 * start: for a URI the userinfo password and the query parameters, for anything else the
 * keywords of a connection string. The copy then writes "***" where a span starts and skips
 * its bytes. For example
 *     postgresql://u:p@ss@db/hub?sslmode=require&PassWord=x
 *                    ^^^^                                ^
 * has the spans "p@ss" (the userinfo up to its last '@') and "x", and is written as
 *     postgresql://u:***@db/hub?sslmode=require&PassWord=***
 * Overlapping spans (which only odd locations give) are hidden as one.
 */
#include "util/ky_uri.h"

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "util/ky_utf8.h"

#define NO_SPAN SIZE_MAX

typedef struct span {
	size_t start, end;  /* start == NO_SPAN: none */
} span;

typedef struct scan {
	const char *s;
	size_t len;
	bool uri;
	size_t pos;         /* where the search for the next parameter or keyword goes on */
} scan;

static bool is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r';
}

int ky_uri_hex_value(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

static bool has_prefix_nocase(const char *s, size_t len, const char *prefix)
{
	size_t n = strlen(prefix);
	if (len < n)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (c >= 'A' && c <= 'Z')
			c = (char)(c - 'A' + 'a');
		if (c != prefix[i])
			return false;
	}
	return true;
}

/* Whether key[0..n), percent-decoded and in any case, contains "password". The word has
 * no prefix that is also its suffix, so after a mismatch a match can only restart at the
 * byte that broke it. */
static bool names_password(const char *key, size_t n)
{
	static const char word[] = "password";
	size_t matched = 0;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)key[i];
		if (c == '%' && n - i > 2 && ky_uri_hex_value(key[i + 1]) >= 0 && ky_uri_hex_value(key[i + 2]) >= 0) {
			c = (unsigned char)(ky_uri_hex_value(key[i + 1]) << 4 | ky_uri_hex_value(key[i + 2]));
			i += 2;
		}
		if (c >= 'A' && c <= 'Z')
			c = (unsigned char)(c - 'A' + 'a');
		if (c == (unsigned char)word[matched]) {
			if (++matched == sizeof(word) - 1)
				return true;
		} else {
			matched = c == 'p';
		}
	}
	return false;
}

/* The userinfo password of the URI whose authority starts at s[from]. libpq ends the
 * userinfo at the first '@' before the first '/'; a person who left an '@' or a '/' in the
 * password unencoded meant the last '@', so that one is taken, which hides more and never
 * less. A user name has no '/' (libpq stops there), so the ':' must come before it. */
static span userinfo_password(const char *s, size_t len, size_t from)
{
	span none = {NO_SPAN, NO_SPAN};
	size_t slash = from;
	while (slash < len && s[slash] != '/')
		slash++;
	size_t at = NO_SPAN;
	for (size_t i = from; i < slash; i++)
		if (s[i] == '@')
			at = i;
	for (size_t i = slash; at == NO_SPAN && i < len; i++)
		if (s[i] == '@')
			at = i;
	for (size_t i = from; at != NO_SPAN && i < at && i < slash; i++)
		if (s[i] == ':')
			return (span){i + 1, at};
	return none;
}

/* The next query parameter value named like a password, searching from sc->pos. Every
 * '?' and '&' is taken to start a parameter, also inside another value: more is hidden
 * if a value holds "?password=", never less. The value runs to the next '&'. */
static span next_parameter(scan *sc)
{
	const char *s = sc->s;
	for (size_t i = sc->pos; i < sc->len; i++) {
		if (s[i] != '?' && s[i] != '&')
			continue;
		size_t key = i + 1, eq = key;
		while (eq < sc->len && s[eq] != '=' && s[eq] != '&' && s[eq] != '?')
			eq++;
		if (eq == sc->len || s[eq] != '=' || !names_password(s + key, eq - key))
			continue;
		size_t end = eq + 1;
		while (end < sc->len && s[end] != '&')
			end++;
		sc->pos = eq + 1;
		return (span){eq + 1, end};
	}
	sc->pos = sc->len;
	return (span){NO_SPAN, NO_SPAN};
}

/* The end of the connection-string value that starts at s[i], as libpq's conninfo_parse
 * reads it: a quoted value ends at its unescaped closing quote (or, unterminated, at the
 * end), another at the first white space; a backslash escapes the next byte in both. */
static size_t value_end(const char *s, size_t len, size_t i)
{
	bool quoted = i < len && s[i] == '\'';
	if (quoted)
		i++;
	while (i < len) {
		if (s[i] == '\\') {
			i += i + 1 < len ? 2 : 1;
			continue;
		}
		if (quoted && s[i] == '\'')
			return i + 1;
		if (!quoted && is_space(s[i]))
			return i;
		i++;
	}
	return len;
}

/* The next keyword value named like a password in a connection string ("host=h
 * password='x y'"), searching from sc->pos, which is always between two keywords. A word
 * without '=' (libpq would refuse the string) is skipped and the scan goes on, so that a
 * password after it is still found. */
static span next_keyword(scan *sc)
{
	const char *s = sc->s;
	size_t len = sc->len, i = sc->pos;
	for (;;) {
		while (i < len && is_space(s[i]))
			i++;
		if (i == len)
			break;
		size_t key = i;
		while (i < len && s[i] != '=' && !is_space(s[i]))
			i++;
		size_t key_end = i;
		while (i < len && is_space(s[i]))
			i++;
		if (i == len || s[i] != '=')
			continue;
		i++;
		while (i < len && is_space(s[i]))
			i++;
		size_t end = value_end(s, len, i);
		if (names_password(s + key, key_end - key)) {
			sc->pos = end;
			return (span){i, end};
		}
		i = end;
	}
	sc->pos = len;
	return (span){NO_SPAN, NO_SPAN};
}

static span next_span(scan *sc)
{
	return sc->uri ? next_parameter(sc) : next_keyword(sc);
}

/* Appends s[0..n) to out, keeping room for the NUL; false once the output is full. */
static bool put(char *out, size_t size, size_t *used, const char *s, size_t n)
{
	size_t room = size - 1 - *used;
	size_t k = n < room ? n : room;
	memcpy(out + *used, s, k);
	*used += k;
	return k == n;
}

void ky_uri_redact(const char *location, char *out, size_t size)
{
	if (size == 0)
		return;
	size_t len = strlen(location);
	scan sc = {location, len, false, 0};
	span userinfo = {NO_SPAN, NO_SPAN};
	size_t authority = 0;
	if (has_prefix_nocase(location, len, "postgresql://"))
		authority = strlen("postgresql://");
	else if (has_prefix_nocase(location, len, "postgres://"))
		authority = strlen("postgres://");
	if (authority > 0) {
		sc.uri = true;
		userinfo = userinfo_password(location, len, authority);
	}
	span next = next_span(&sc);

	size_t used = 0;
	size_t hidden_end = 0;   /* bytes before this are hidden, when masked */
	bool masked = false;     /* whether a "***" was written and nothing after it yet */
	bool full = false;
	for (size_t i = 0; i <= len && !full; i++) {
		/* Every span that starts here (an empty one too) joins the hidden region. */
		for (;;) {
			span *sp = userinfo.start == i ? &userinfo : next.start == i ? &next : NULL;
			if (sp == NULL)
				break;
			if (!(masked && i <= hidden_end)) {
				full = !put(out, size, &used, "***", 3);
				masked = true;
			}
			if (sp->end > hidden_end)
				hidden_end = sp->end;
			if (sp == &userinfo)
				userinfo.start = NO_SPAN;
			else
				next = next_span(&sc);
		}
		if (i == len || full || (masked && i < hidden_end))
			continue;
		masked = false;
		full = !put(out, size, &used, location + i, 1);
	}
	if (full)
		used = ky_utf8_prefix(out, used, used);
	out[used] = '\0';
}
