/*
 * stix_lang: RFC 5646 language tags, as STIX 2.1 uses them for lang (§3.2), granular
 * markings (§7.2.3), language-content keys (§7.1) and software languages (§6.14).
 *
 * The grammar of RFC 5646 §2.1 is checked in full (well-formedness); whether the subtags
 * are registered with IANA (validity, §2.2.9) is not, since the registry changes. Example:
 * "en", "ja-JP", "zh-Hant-TW", "de-CH-1996", "x-private" are well-formed; "de-DE-AT" (two
 * regions) and "e" are not.
 */
#include <stdbool.h>
#include <string.h>
#include <strings.h>

#include "stix/stix_schema.h"

static bool ascii_alpha(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static bool ascii_digit(char c)
{
	return c >= '0' && c <= '9';
}

/* One subtag of a language tag: the text up to the next '-' or the end. */
typedef struct subtag {
	const char *p;
	size_t len;
} subtag;

static subtag subtag_at(const char *p)
{
	return (subtag){p, strcspn(p, "-")};
}

/* The subtag after `t`; its len is 0 at the end of the tag. */
static subtag subtag_next(subtag t)
{
	return subtag_at(t.p[t.len] ? t.p + t.len + 1 : t.p + t.len);
}

static bool subtag_alpha(subtag t)
{
	for (size_t i = 0; i < t.len; i++)
		if (!ascii_alpha(t.p[i]))
			return false;
	return true;
}

static bool subtag_digits(subtag t)
{
	for (size_t i = 0; i < t.len; i++)
		if (!ascii_digit(t.p[i]))
			return false;
	return true;
}

/* RFC 5646 §2.1 "irregular" grandfathered tags: the only well-formed tags the langtag
 * grammar does not produce. The "regular" ones (zh-min-nan, ...) parse as langtags. */
static const char *const lang_irregular[] = {
	"en-GB-oed", "i-ami", "i-bnn", "i-default", "i-enochian", "i-hak", "i-klingon",
	"i-lux", "i-mingo", "i-navajo", "i-pwn", "i-tao", "i-tay", "i-tsu", "sgn-BE-FR",
	"sgn-BE-NL", "sgn-CH-DE", NULL
};

/*
 * Whether `tag` is a well-formed RFC 5646 language tag (§2.1 of the RFC, case-insensitive):
 *     langtag = language ["-" script] ["-" region] *("-" variant) *("-" extension)
 *               ["-" privateuse]
 * or a private-use tag ("x-...") or an irregular grandfathered tag. Whether the subtags are
 * registered with IANA (validity, RFC 5646 §2.2.9) is not checked: the registry changes.
 */
bool ky_stix_lang_tag_valid(const char *tag)
{
	size_t run = 0;

	for (const char *const *g = lang_irregular; *g; g++)
		if (strcasecmp(tag, *g) == 0)
			return true;
	/* Every subtag is 1 to 8 ASCII letters or digits. */
	for (const char *p = tag;; p++) {
		if (*p == '-' || *p == '\0') {
			if (run == 0 || run > 8)
				return false;
			if (*p == '\0')
				break;
			run = 0;
		} else if (ascii_alpha(*p) || ascii_digit(*p)) {
			run++;
		} else {
			return false;
		}
	}

	subtag t = subtag_at(tag);
	if (!(t.len == 1 && (*t.p == 'x' || *t.p == 'X'))) {
		/* language = 2*3ALPHA ["-" extlang] / 4ALPHA / 5*8ALPHA; extlang = 1 to 3 of 3ALPHA */
		if (t.len < 2 || !subtag_alpha(t))
			return false;
		bool extlang_allowed = t.len <= 3;
		t = subtag_next(t);
		for (int i = 0; extlang_allowed && i < 3 && t.len == 3 && subtag_alpha(t); i++)
			t = subtag_next(t);
		if (t.len == 4 && subtag_alpha(t))                            /* script */
			t = subtag_next(t);
		if ((t.len == 2 && subtag_alpha(t)) || (t.len == 3 && subtag_digits(t))) /* region */
			t = subtag_next(t);
		while (t.len >= 5 || (t.len == 4 && ascii_digit(*t.p)))       /* variants */
			t = subtag_next(t);
		while (t.len == 1 && *t.p != 'x' && *t.p != 'X') {            /* extensions */
			t = subtag_next(t);
			if (t.len < 2)
				return false;
			while (t.len >= 2)
				t = subtag_next(t);
		}
		if (t.len == 0)
			return true;
		if (t.len != 1)
			return false;
	}
	/* privateuse = "x" 1*("-" 1*8alphanum): at least one subtag must follow the x. */
	return subtag_next(t).len > 0;
}
