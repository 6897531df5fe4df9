/*
 * stix_text: the character-by-character excerpt behind stix_text.h.
 */
#include "stix/stix_text.h"

#include <stdbool.h>
#include <string.h>

#include "util/ky_utf8.h"

const char *ky_stix_excerpt(char *out, size_t size, const char *text, size_t length)
{
	static const char hex[] = "0123456789abcdef";
	size_t room = size - 1;
	size_t used = 0;
	/* Where the text is cut if it turns out not to fit: the last point with room for "..." */
	size_t cut = 0;
	bool whole = true;

	for (size_t i = 0; i < length;) {
		unsigned char c = (unsigned char)text[i];
		size_t n = ky_utf8_char_length(text + i, length - i);
		bool escape = n == 0 || c < 0x20 || c == 0x7f;
		size_t width = escape ? 4 : n;
		if (used + width + 3 <= room)
			cut = used + width;
		if (used + width > room) {
			whole = false;
			break;
		}
		if (escape) {
			out[used] = '\\';
			out[used + 1] = 'x';
			out[used + 2] = hex[c >> 4];
			out[used + 3] = hex[c & 0xf];
			i++;
		} else {
			memcpy(out + used, text + i, n);
			i += n;
		}
		used += width;
	}
	if (!whole) {
		memcpy(out + cut, "...", 3);
		used = cut + 3;
	}
	out[used] = '\0';
	return out;
}
