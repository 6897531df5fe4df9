/*
 * ky_utf8: the UTF-8 checks and the character-boundary cut behind ky_utf8.h.
 */
#include "util/ky_utf8.h"

/* The length of the well-formed character at s[0..len), or 0 when it is not one. */
static size_t char_length(const unsigned char *s, size_t len)
{
	if (len == 0)
		return 0;
	unsigned c = s[0];
	size_t n;
	unsigned min;
	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf) {
		n = 1;
		min = 0x80;
	} else if (c >= 0xe0 && c <= 0xef) {
		n = 2;
		min = 0x800;
	} else if (c >= 0xf0 && c <= 0xf4) {
		n = 3;
		min = 0x10000;
	} else {
		return 0;
	}
	if (n >= len)
		return 0;
	unsigned cp = c & (0x3fu >> n);
	for (size_t k = 1; k <= n; k++) {
		if ((s[k] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (s[k] & 0x3f);
	}
	if (cp < min || (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff)
		return 0;
	return n + 1;
}

size_t ky_utf8_char_length(const char *text, size_t len)
{
	return char_length((const unsigned char *)text, len);
}

size_t ky_utf8_valid_prefix(const char *text, size_t len)
{
	size_t i = 0, n;
	while (i < len && (n = char_length((const unsigned char *)text + i, len - i)) > 0)
		i += n;
	return i;
}

bool ky_utf8_valid(const char *text, size_t len)
{
	const unsigned char *s = (const unsigned char *)text;
	for (size_t i = 0; i < len;) {
		size_t n = char_length(s + i, len - i);
		if (n == 0)
			return false;
		i += n;
	}
	return true;
}

bool ky_utf8_text(const char *text, size_t len)
{
	const unsigned char *s = (const unsigned char *)text;
	for (size_t i = 0; i < len;) {
		if (s[i] < 0x20 || s[i] == 0x7f)
			return false;
		size_t n = char_length(s + i, len - i);
		if (n == 0)
			return false;
		i += n;
	}
	return true;
}

size_t ky_utf8_prefix(const char *text, size_t len, size_t max)
{
	const unsigned char *s = (const unsigned char *)text;
	size_t cut = len < max ? len : max;
	/* The last character before the cut starts at its lead byte, at most 3 bytes back. */
	size_t lead = cut;
	while (lead > 0 && cut - lead < 4 && (s[lead - 1] & 0xc0) == 0x80)
		lead--;
	if (lead == 0 || cut - lead >= 4)
		return cut;      /* no lead byte: not UTF-8 here, any cut is as good as another */
	unsigned c = s[lead - 1];
	/* Only C2..F4 start a character of several bytes; any other byte is one of its own. */
	size_t need = c >= 0xf5 ? 1 : c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : c >= 0xc2 ? 2 : 1;
	return cut - (lead - 1) < need ? lead - 1 : cut;
}
