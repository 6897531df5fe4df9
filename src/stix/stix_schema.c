/*
 * stix_schema: the shared pieces of the type tables: timestamps (§2.16), identifiers
 * (§2.9), type names (§3.1, §11.2.1), the type lookup and the hash-algorithm vocabulary.
 *
 * Timestamps are parsed by hand rather than with strptime(): RFC 3339 as STIX profiles it
 * is a fixed layout, and the calendar checks (no February 30th) and the comparison of
 * fractional seconds of any length must be exact, which the C library does not give.
 */
#include "stix/stix_schema.h"

#include <ctype.h>
#include <string.h>

const char *const ky_stix_vocab_hash_algorithm[] = {
	"MD5", "SHA-1", "SHA-256", "SHA-512", "SHA3-256", "SHA3-512", "SSDEEP", "TLSH", NULL,
};

const char *ky_stix_json_kind(const json_t *v)
{
	switch (json_typeof(v)) {
	case JSON_OBJECT: return "an object";
	case JSON_ARRAY: return "a list";
	case JSON_STRING: return "a string";
	case JSON_INTEGER: return "an integer";
	case JSON_REAL: return "a number";
	case JSON_TRUE:
	case JSON_FALSE: return "a boolean";
	default: return "null";
	}
}

static int digits(const char *s, int n)
{
	int v = 0;
	for (int i = 0; i < n; i++) {
		if (!isdigit((unsigned char)s[i]))
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	return v;
}

static bool is_leap(int y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

/* Days from 1970-01-01 to y-m-d in the proleptic Gregorian calendar. */
static int64_t days_from_civil(int y, int m, int d)
{
	y -= m <= 2;
	int64_t era = (y >= 0 ? y : y - 399) / 400;
	int64_t yoe = y - era * 400;
	int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

/* STIX 2.1 §2.16: YYYY-MM-DDTHH:mm:ss[.s+]Z, UTC only. */
bool ky_stix_time_parse(const char *text, ky_stix_time *out)
{
	static const int month_days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	size_t n = strlen(text);
	if (n < 20 || text[4] != '-' || text[7] != '-' || text[10] != 'T' || text[13] != ':' ||
	    text[16] != ':' || text[n - 1] != 'Z')
		return false;
	int year = digits(text, 4), month = digits(text + 5, 2), day = digits(text + 8, 2);
	int hour = digits(text + 11, 2), minute = digits(text + 14, 2), second = digits(text + 17, 2);
	if (year < 0 || month < 1 || month > 12 || day < 1 || hour < 0 || hour > 23 || minute < 0 ||
	    minute > 59 || second < 0 || second > 60)
		return false;
	int max_day = month_days[month - 1] + (month == 2 && is_leap(year));
	if (day > max_day)
		return false;
	int fraction_digits = 0;
	int32_t nanos = 0;
	if (n > 20) {
		/* A decimal point must be followed by at least one digit, and only digits. */
		if (text[19] != '.' || n == 21)
			return false;
		for (size_t i = 20; i < n - 1; i++) {
			if (!isdigit((unsigned char)text[i]))
				return false;
			if (fraction_digits < 9)
				nanos = nanos * 10 + (text[i] - '0');
			fraction_digits++;
		}
		for (int i = fraction_digits; i < 9; i++)
			nanos *= 10;
	}
	if (out != NULL) {
		out->seconds = days_from_civil(year, month, day) * 86400 + hour * 3600 + minute * 60 + second;
		out->nanos = nanos;
		out->fraction_digits = fraction_digits;
	}
	return true;
}

int ky_stix_time_cmp(const ky_stix_time *a, const ky_stix_time *b)
{
	if (a->seconds != b->seconds)
		return a->seconds < b->seconds ? -1 : 1;
	if (a->nanos != b->nanos)
		return a->nanos < b->nanos ? -1 : 1;
	return 0;
}

void ky_stix_check_time_order(ky_stix_ctx *ctx, const json_t *object, const char *earlier_key,
			      const char *later_key, bool strict, const char *section)
{
	const json_t *earlier_value = json_object_get(object, earlier_key);
	const json_t *later_value = json_object_get(object, later_key);
	const char *earlier = json_string_value(earlier_value);
	const char *later = json_string_value(later_value);
	ky_stix_time a, b;
	if (earlier == NULL || later == NULL || !ky_stix_time_parse(earlier, &a) || !ky_stix_time_parse(later, &b))
		return;
	int cmp = ky_stix_time_cmp(&b, &a);
	char qa[KY_STIX_QUOTE_SIZE], qb[KY_STIX_QUOTE_SIZE];
	if (cmp < 0 || (strict && cmp == 0))
		ky_stix_report_at(ctx, later_key, section, "%s must be %s %s %s",
				  ky_stix_quote_value(qb, sizeof(qb), later_value),
				  strict ? "later than" : "later than or equal to", earlier_key,
				  ky_stix_quote_value(qa, sizeof(qa), earlier_value));
}

static bool is_hex(char c)
{
	return isxdigit((unsigned char)c) != 0;
}

/* STIX 2.1 §2.9: `type--UUID`, the UUID RFC 4122-compliant (version 1-5, variant 10xx). */
bool ky_stix_id_parse(const char *text, size_t *type_len)
{
	const char *sep = strstr(text, "--");
	if (sep == NULL)
		return false;
	/* The UUID is the last 36 characters; a type may not contain "--" itself (§11.2.1). */
	size_t n = strlen(text);
	if (n < 36 + 2 + 1 || sep != text + n - 38)
		return false;
	size_t tlen = (size_t)(sep - text);
	char type[251];
	if (tlen >= sizeof(type))
		return false;
	memcpy(type, text, tlen);
	type[tlen] = '\0';
	if (!ky_stix_type_name_valid(type))
		return false;
	const char *u = sep + 2;
	for (int i = 0; i < 36; i++) {
		if (i == 8 || i == 13 || i == 18 || i == 23) {
			if (u[i] != '-')
				return false;
		} else if (!is_hex(u[i])) {
			return false;
		}
	}
	if (u[14] < '1' || u[14] > '5')
		return false;
	if (strchr("89abAB", u[19]) == NULL)
		return false;
	if (type_len != NULL)
		*type_len = tlen;
	return true;
}

/*
 * STIX 2.1 §3.1 and §11.2.1: lowercase ASCII letters, digits and single hyphens, starting
 * with a letter, 3 to 250 characters. A type may not end with a hyphen either: its
 * identifiers would then contain "---" and not split unambiguously (§2.9).
 */
bool ky_stix_type_name_valid(const char *name)
{
	size_t n = strlen(name);
	if (n < 3 || n > 250 || name[0] < 'a' || name[0] > 'z' || name[n - 1] == '-')
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = name[i];
		if (c == '-') {
			if (name[i + 1] == '-')
				return false;
		} else if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'))) {
			return false;
		}
	}
	return true;
}

const ky_stix_type *ky_stix_type_find(const char *name)
{
	static const ky_stix_type *const tables[] = {
		ky_stix_types_sdo, ky_stix_types_sro, ky_stix_types_sco, ky_stix_types_meta,
	};
	for (size_t t = 0; t < sizeof(tables) / sizeof(tables[0]); t++)
		for (const ky_stix_type *type = tables[t]; type->name != NULL; type++)
			if (strcmp(type->name, name) == 0)
				return type;
	return NULL;
}

const ky_stix_type *ky_stix_id_type(const char *id)
{
	size_t type_len;
	char type[251];
	if (!ky_stix_id_parse(id, &type_len) || type_len >= sizeof(type))
		return NULL;
	memcpy(type, id, type_len);
	type[type_len] = '\0';
	return ky_stix_type_find(type);
}
