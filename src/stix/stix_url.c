/*
 * stix_url: the check that a STIX property holding a URL (external_references[].url §2.5,
 * artifact url §6.1, url value §6.15) is an RFC 3986 URI, as the STIX 2.1 JSON schemas'
 * "format": "uri" asks.
 *
 * RFC 3986 §3 (Appendix A), absolute form:
 *     URI       = scheme ":" hier-part [ "?" query ] [ "#" fragment ]
 *     hier-part = "//" authority path-abempty / path-absolute / path-rootless / path-empty
 *     authority = [ userinfo "@" ] host [ ":" port ]
 * For "https://u@[2001:db8::7]:8443/a%20b?q=1#top": scheme "https"; "//", so an authority
 * up to the next '/', '?' or '#': userinfo "u", host the IP literal "[2001:db8::7]" (an
 * IPv6 address, §3.2.2), port "8443"; path "/a%20b" (pchars and '/', '%' followed by two
 * hex digits, §2.1); query "q=1"; fragment "top". A space, a control, a non-ASCII byte, a
 * second '#' or a '%' not followed by two hex digits stops it: §2 has no place for them.
 * An IPv4address is a reg-name as far as the characters go, so a host that is not an IP
 * literal is checked as a reg-name.
 */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "stix/stix_schema.h"

/* The character classes of RFC 3986 §2, one bit each, so that a check is one lookup. */
enum {
	UNRESERVED = 1 << 0, /* §2.3 ALPHA / DIGIT / "-" / "." / "_" / "~" */
	SUB_DELIM = 1 << 1,  /* §2.2 "!" / "$" / "&" / "'" / "(" / ")" / "*" / "+" / "," / ";" / "=" */
	COLON = 1 << 2,
	AT = 1 << 3,
	SLASH = 1 << 4,
	QUESTION = 1 << 5,
	HEX = 1 << 6,        /* HEXDIG, for percent-encodings and IP literals */
};

static const unsigned char classes[256] = {
	['0'] = UNRESERVED | HEX, ['1'] = UNRESERVED | HEX, ['2'] = UNRESERVED | HEX, ['3'] = UNRESERVED | HEX,
	['4'] = UNRESERVED | HEX, ['5'] = UNRESERVED | HEX, ['6'] = UNRESERVED | HEX, ['7'] = UNRESERVED | HEX,
	['8'] = UNRESERVED | HEX, ['9'] = UNRESERVED | HEX,
	['a'] = UNRESERVED | HEX, ['b'] = UNRESERVED | HEX, ['c'] = UNRESERVED | HEX, ['d'] = UNRESERVED | HEX,
	['e'] = UNRESERVED | HEX, ['f'] = UNRESERVED | HEX,
	['A'] = UNRESERVED | HEX, ['B'] = UNRESERVED | HEX, ['C'] = UNRESERVED | HEX, ['D'] = UNRESERVED | HEX,
	['E'] = UNRESERVED | HEX, ['F'] = UNRESERVED | HEX,
	['g'] = UNRESERVED, ['h'] = UNRESERVED, ['i'] = UNRESERVED, ['j'] = UNRESERVED, ['k'] = UNRESERVED,
	['l'] = UNRESERVED, ['m'] = UNRESERVED, ['n'] = UNRESERVED, ['o'] = UNRESERVED, ['p'] = UNRESERVED,
	['q'] = UNRESERVED, ['r'] = UNRESERVED, ['s'] = UNRESERVED, ['t'] = UNRESERVED, ['u'] = UNRESERVED,
	['v'] = UNRESERVED, ['w'] = UNRESERVED, ['x'] = UNRESERVED, ['y'] = UNRESERVED, ['z'] = UNRESERVED,
	['G'] = UNRESERVED, ['H'] = UNRESERVED, ['I'] = UNRESERVED, ['J'] = UNRESERVED, ['K'] = UNRESERVED,
	['L'] = UNRESERVED, ['M'] = UNRESERVED, ['N'] = UNRESERVED, ['O'] = UNRESERVED, ['P'] = UNRESERVED,
	['Q'] = UNRESERVED, ['R'] = UNRESERVED, ['S'] = UNRESERVED, ['T'] = UNRESERVED, ['U'] = UNRESERVED,
	['V'] = UNRESERVED, ['W'] = UNRESERVED, ['X'] = UNRESERVED, ['Y'] = UNRESERVED, ['Z'] = UNRESERVED,
	['-'] = UNRESERVED, ['.'] = UNRESERVED, ['_'] = UNRESERVED, ['~'] = UNRESERVED,
	['!'] = SUB_DELIM, ['$'] = SUB_DELIM, ['&'] = SUB_DELIM, ['\''] = SUB_DELIM, ['('] = SUB_DELIM,
	[')'] = SUB_DELIM, ['*'] = SUB_DELIM, ['+'] = SUB_DELIM, [','] = SUB_DELIM, [';'] = SUB_DELIM,
	['='] = SUB_DELIM,
	[':'] = COLON, ['@'] = AT, ['/'] = SLASH, ['?'] = QUESTION,
};

static bool is(unsigned char c, unsigned mask)
{
	return (classes[c] & mask) != 0;
}

/*
 * Takes characters from s[*i..n) while each is unreserved, a sub-delim, of the `extra`
 * classes, or a §2.1 percent-encoding ("%" HEXDIG HEXDIG); stops at any other byte.
 * Returns false at a malformed percent-encoding, with *i on its '%'.
 */
static bool take_chars(const char *s, size_t n, size_t *i, unsigned extra)
{
	unsigned mask = UNRESERVED | SUB_DELIM | extra;
	while (*i < n) {
		unsigned char c = (unsigned char)s[*i];
		if (is(c, mask)) {
			(*i)++;
		} else if (c == '%') {
			if (*i + 2 >= n || !is((unsigned char)s[*i + 1], HEX) || !is((unsigned char)s[*i + 2], HEX))
				return false;
			*i += 3;
		} else {
			break;
		}
	}
	return true;
}

/* §3.2.2 dec-octet "." dec-octet "." dec-octet "." dec-octet, exactly s[0..n). */
static bool ipv4_address(const char *s, size_t n)
{
	size_t i = 0;
	for (int octet = 0; octet < 4; octet++) {
		if (octet > 0 && (i >= n || s[i++] != '.'))
			return false;
		size_t start = i;
		unsigned value = 0;
		while (i < n && i - start < 4 && s[i] >= '0' && s[i] <= '9')
			value = value * 10 + (unsigned)(s[i++] - '0');
		size_t digits = i - start;
		/* No leading zero: "0" is an octet, "01" is not. */
		if (digits == 0 || digits > 3 || value > 255 || (digits > 1 && s[start] == '0'))
			return false;
	}
	return i == n;
}

/*
 * §3.2.2 IPv6address, exactly s[0..n): pieces of 1 to 4 hex digits separated by ':', at
 * most one "::" standing for one or more zero pieces, an IPv4address allowed as the last
 * two pieces; eight pieces in all, or fewer with "::".
 */
static bool ipv6_address(const char *s, size_t n)
{
	size_t i = 0, pieces = 0;
	bool elided = false;
	if (n >= 2 && s[0] == ':' && s[1] == ':') {
		elided = true;
		i = 2;
	}
	while (i < n) {
		size_t start = i;
		while (i < n && i - start < 5 && is((unsigned char)s[i], HEX))
			i++;
		if (i < n && s[i] == '.') {
			/* ls32 as an IPv4address: the rest of the address. */
			if (!ipv4_address(s + start, n - start))
				return false;
			pieces += 2;
			i = n;
			break;
		}
		if (i == start || i - start > 4)
			return false;
		pieces++;
		if (i == n)
			break;
		if (s[i] != ':')
			return false;
		i++;
		if (i < n && s[i] == ':') {
			if (elided)
				return false;
			elided = true;
			i++;
		} else if (i == n) {
			return false;  /* a single ':' at the end */
		}
	}
	return elided ? pieces <= 7 : pieces == 8;
}

/* §3.2.2 IP-literal = "[" ( IPv6address / IPvFuture ) "]", exactly s[0..n). */
static bool ip_literal(const char *s, size_t n)
{
	if (n < 2 || s[0] != '[' || s[n - 1] != ']')
		return false;
	s++;
	n -= 2;
	if (n > 0 && (s[0] == 'v' || s[0] == 'V')) {
		/* IPvFuture = "v" 1*HEXDIG "." 1*( unreserved / sub-delims / ":" ) */
		size_t i = 1;
		while (i < n && is((unsigned char)s[i], HEX))
			i++;
		if (i == 1 || i >= n || s[i] != '.')
			return false;
		size_t start = ++i;
		for (; i < n; i++)
			if (!is((unsigned char)s[i], UNRESERVED | SUB_DELIM | COLON))
				return false;
		return i > start;
	}
	return ipv6_address(s, n);
}

static bool fail_at(size_t *bad, size_t i)
{
	*bad = i;
	return false;
}

/* §3.2 authority = [ userinfo "@" ] host [ ":" port ], exactly s[0..n); *bad as for
 * ky_stix_url_valid, relative to s. */
static bool authority(const char *s, size_t n, size_t *bad)
{
	size_t i = 0;
	/* userinfo = *( unreserved / pct-encoded / sub-delims / ":" ), then '@'. */
	const char *at = memchr(s, '@', n);
	if (at != NULL) {
		size_t end = (size_t)(at - s);
		if (!take_chars(s, end, &i, COLON) || i != end)
			return fail_at(bad, i);
		i = end + 1;
	}
	if (i < n && s[i] == '[') {
		const char *close = memchr(s + i, ']', n - i);
		if (close == NULL || !ip_literal(s + i, (size_t)(close - (s + i)) + 1))
			return fail_at(bad, i);
		i = (size_t)(close - s) + 1;
	} else {
		/* reg-name = *( unreserved / pct-encoded / sub-delims ); an IPv4address is one. */
		if (!take_chars(s, n, &i, 0))
			return fail_at(bad, i);
	}
	if (i < n && s[i] == ':') {
		/* port = *DIGIT */
		for (i++; i < n && s[i] >= '0' && s[i] <= '9'; i++)
			;
	}
	return i == n || fail_at(bad, i);
}

/* §3.1 scheme = ALPHA *( ALPHA / DIGIT / "+" / "-" / "." ) */
static bool scheme_char(unsigned char c, bool first)
{
	bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
	return alpha || (!first && ((c >= '0' && c <= '9') || c == '+' || c == '-' || c == '.'));
}

bool ky_stix_url_valid(const char *text, size_t length, size_t *bad)
{
	const char *s = text;
	size_t n = length, i = 0;

	while (i < n && scheme_char((unsigned char)s[i], i == 0))
		i++;
	if (i == 0 || i >= n || s[i] != ':')
		return fail_at(bad, i);
	i++;

	if (i + 1 < n && s[i] == '/' && s[i + 1] == '/') {
		size_t start = i + 2, end = start, at;
		while (end < n && s[end] != '/' && s[end] != '?' && s[end] != '#')
			end++;
		if (!authority(s + start, end - start, &at))
			return fail_at(bad, start + at);
		i = end;
	}
	/* path-abempty, path-absolute, path-rootless or path-empty: pchars and '/' (§3.3). */
	if (!take_chars(s, n, &i, COLON | AT | SLASH))
		return fail_at(bad, i);
	/* §3.4 query and §3.5 fragment = *( pchar / "/" / "?" ) */
	if (i < n && s[i] == '?') {
		i++;
		if (!take_chars(s, n, &i, COLON | AT | SLASH | QUESTION))
			return fail_at(bad, i);
	}
	if (i < n && s[i] == '#') {
		i++;
		if (!take_chars(s, n, &i, COLON | AT | SLASH | QUESTION))
			return fail_at(bad, i);
	}
	return i == n || fail_at(bad, i);
}

void ky_stix_check_url(ky_stix_ctx *ctx, const char *key, const json_t *value, const char *section)
{
	const char *s = json_string_value(value);
	size_t n = json_string_length(value), bad;
	char q[KY_STIX_QUOTE_SIZE], what[80];

	if (ky_stix_url_valid(s, n, &bad))
		return;
	unsigned char c = bad < n ? (unsigned char)s[bad] : 0;
	if (bad == n)
		snprintf(what, sizeof(what), "it ends too early, after %zu bytes", n);
	else if (c == ' ')
		snprintf(what, sizeof(what), "a space at byte offset %zu is not allowed there", bad);
	else if (c > ' ' && c < 0x7f)
		snprintf(what, sizeof(what), "'%c' at byte offset %zu is not allowed there", c, bad);
	else
		snprintf(what, sizeof(what), "byte 0x%02x at byte offset %zu is not allowed there", c, bad);
	if (key != NULL)
		ky_stix_report_at(ctx, key, section, "%s is not a URL (RFC 3986 §3): %s",
				  ky_stix_quote_value(q, sizeof(q), value), what);
	else
		ky_stix_report(ctx, section, "%s is not a URL (RFC 3986 §3): %s",
			       ky_stix_quote_value(q, sizeof(q), value), what);
}
