/*
 * stix_validate: the engine that walks the type tables of stix_schema.h over one object.
 *
 * For an object it decides the category (§3.2), checks type, spec_version and id, the
 * common properties that category uses (and refuses those it does not), the type's own
 * properties by kind, custom properties (§11.1), extensions (§3.10, §7.3, §11.3), granular
 * marking selectors (§7.2.3), and finally the type's cross-property rules. Every problem is
 * reported with the path of the field and the clause it breaks; checking goes on after a
 * problem so that a producer sees everything wrong with an object at once.
 */
#include "stix/stix_validate.h"

#include <ctype.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "stix/stix_schema.h"
#include "stix/stix_selector.h"
#include "stix/stix_text.h"
#include "util/ky_error.h"
#include "util/ky_utf8.h"

struct ky_stix_problems {
	char *messages[KY_STIX_PROBLEMS_MAX];
	size_t kept;
	size_t count;
	bool out_of_memory;
};

struct ky_stix_ctx {
	ky_stix_problems *problems;
	const json_t *object;    /* the top-level object, for granular-marking selectors */
	ky_stix_category category;
	char path[512];
	size_t path_len;
};

int ky_stix_problems_new(ky_stix_problems **out)
{
	*out = calloc(1, sizeof(**out));
	return *out ? KY_OK : ky_error_set(KY_ENOMEM, "out of memory");
}

void ky_stix_problems_clear(ky_stix_problems *p)
{
	for (size_t i = 0; i < p->kept; i++)
		free(p->messages[i]);
	p->kept = 0;
	p->count = 0;
	p->out_of_memory = false;
}

void ky_stix_problems_free(ky_stix_problems *p)
{
	if (p == NULL)
		return;
	ky_stix_problems_clear(p);
	free(p);
}

size_t ky_stix_problems_count(const ky_stix_problems *p)
{
	return p->count;
}

size_t ky_stix_problems_kept(const ky_stix_problems *p)
{
	return p->kept;
}

const char *ky_stix_problems_get(const ky_stix_problems *p, size_t i)
{
	return i < p->kept ? p->messages[i] : NULL;
}

static int problems_addv(ky_stix_problems *p, const char *fmt, va_list ap)
{
	p->count++;
	if (p->kept == KY_STIX_PROBLEMS_MAX)
		return KY_OK;
	char *message = NULL;
	int n = vasprintf(&message, fmt, ap);
	if (n < 0) {
		p->out_of_memory = true;
		return ky_error_set(KY_ENOMEM, "out of memory");
	}
	/* Every message is one line of valid UTF-8, whatever a caller put in it: JSON output
	 * and the store take nothing else. Quoted values are excerpts already; this is the
	 * backstop, and what shows a control character in a key of the field path as '?'. */
	for (size_t i = 0; i < (size_t)n;) {
		size_t len = ky_utf8_char_length(message + i, (size_t)n - i);
		if (len == 0 || (unsigned char)message[i] < 0x20 || message[i] == 0x7f)
			message[i++] = '?';
		else
			i += len;
	}
	p->messages[p->kept++] = message;
	return KY_OK;
}

int ky_stix_problems_add(ky_stix_problems *p, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int rc = problems_addv(p, fmt, ap);
	va_end(ap);
	return rc;
}

/* --- paths and reports ------------------------------------------------------------- */

/* Appends to the path, truncating at its end between characters. On the hot path of every
 * property, so no printf. Returns the length to pop back to. */
static size_t path_append(ky_stix_ctx *ctx, const char *sep, const char *text, const char *end)
{
	size_t mark = ctx->path_len, room = sizeof(ctx->path) - 1;
	for (const char *parts[] = {sep, text, end}, **p = parts; p < parts + 3; p++)
		for (const char *c = *p; *c && ctx->path_len < room; c++)
			ctx->path[ctx->path_len++] = *c;
	/* A full path may end inside a character of the key it cut: leave that one out. */
	if (ctx->path_len == room)
		ctx->path_len = ky_utf8_prefix(ctx->path, ctx->path_len, ctx->path_len);
	ctx->path[ctx->path_len] = '\0';
	return mark;
}

static size_t path_push_key(ky_stix_ctx *ctx, const char *key)
{
	return path_append(ctx, ctx->path_len ? "." : "", key, "");
}

static size_t path_push_index(ky_stix_ctx *ctx, size_t index)
{
	char digits[24];
	size_t n = sizeof(digits) - 1;
	digits[n] = '\0';
	do
		digits[--n] = (char)('0' + index % 10);
	while ((index /= 10) > 0);
	return path_append(ctx, "[", digits + n, "]");
}

static void path_pop(ky_stix_ctx *ctx, size_t mark)
{
	ctx->path_len = mark;
	ctx->path[mark] = '\0';
}

static void reportv(ky_stix_ctx *ctx, const char *section, const char *fmt, va_list ap)
{
	char what[768];
	if (vsnprintf(what, sizeof(what), fmt, ap) >= (int)sizeof(what))
		what[ky_utf8_prefix(what, sizeof(what) - 1, sizeof(what) - 1)] = '\0';
	ky_stix_problems_add(ctx->problems, "%s%s%s%s%s%s", ctx->path, ctx->path_len ? ": " : "", what,
			     section ? " (STIX 2.1 " : "", section ? section : "", section ? ")" : "");
}

void ky_stix_report(ky_stix_ctx *ctx, const char *section, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	reportv(ctx, section, fmt, ap);
	va_end(ap);
}

void ky_stix_out_of_memory(ky_stix_ctx *ctx)
{
	ctx->problems->out_of_memory = true;
}

void ky_stix_report_at(ky_stix_ctx *ctx, const char *key, const char *section, const char *fmt, ...)
{
	size_t mark = path_push_key(ctx, key);
	va_list ap;
	va_start(ap, fmt);
	reportv(ctx, section, fmt, ap);
	va_end(ap);
	path_pop(ctx, mark);
}

const char *ky_stix_quote(char *buf, size_t size, const char *text, size_t length)
{
	/* At most 80 bytes of the value: a huge value must not drown the message. */
	size_t room = size - 2 < 81 ? size - 2 : 81;
	buf[0] = '"';
	ky_stix_excerpt(buf + 1, room, text, length);
	size_t n = 1 + strlen(buf + 1);
	buf[n] = '"';
	buf[n + 1] = '\0';
	return buf;
}

const char *ky_stix_quote_value(char *buf, size_t size, const json_t *string)
{
	return ky_stix_quote(buf, size, json_string_value(string), json_string_length(string));
}

/* A key (jansson keys hold no NUL) quoted for a message. */
static const char *quoted_key(char *buf, size_t size, const char *key)
{
	return ky_stix_quote(buf, size, key, strlen(key));
}

static bool in_list(const char *const *values, const char *s)
{
	for (; *values != NULL; values++)
		if (strcmp(*values, s) == 0)
			return true;
	return false;
}

static void join(char *out, size_t size, const char *const *values)
{
	size_t used = 0;
	out[0] = '\0';
	for (size_t i = 0; values[i] != NULL && used < size; i++) {
		int n = snprintf(out + used, size - used, "%s%s", i ? ", " : "", values[i]);
		if (n < 0)
			break;
		used += (size_t)n;
	}
}

/* --- value kinds --------------------------------------------------------------------- */

/* STIX 2.1 §2.10: integers must fit the I-JSON range [-(2^53)+1, (2^53)-1]. */
#define IJSON_MAX 9007199254740991LL

static bool expect_type(ky_stix_ctx *ctx, const json_t *v, bool ok, const char *expected)
{
	if (!ok)
		ky_stix_report(ctx, NULL, "expected %s, found %s", expected, ky_stix_json_kind(v));
	return ok;
}

static bool valid_dictionary_key(const char *key, size_t min)
{
	size_t n = strlen(key);
	if (n < min || n > 250)
		return false;
	for (const char *c = key; *c; c++)
		if (!isalnum((unsigned char)*c) && *c != '-' && *c != '_')
			return false;
	return true;
}

static bool valid_hex(const char *s, bool lower_only)
{
	size_t n = strlen(s);
	if (n == 0 || n % 2 != 0)
		return false;
	for (; *s; s++) {
		bool digit = *s >= '0' && *s <= '9';
		bool lower = *s >= 'a' && *s <= 'f';
		bool upper = *s >= 'A' && *s <= 'F';
		if (!digit && !lower && !(upper && !lower_only))
			return false;
	}
	return true;
}

/* RFC 4648 §4 base64 with padding, as the schemas read §2.1. */
static bool valid_base64(const char *s)
{
	size_t n = strlen(s);
	if (n == 0 || n % 4 != 0)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (isalnum((unsigned char)c) || c == '+' || c == '/')
			continue;
		if (c == '=' && (i == n - 1 || (i == n - 2 && s[n - 1] == '=')))
			continue;
		return false;
	}
	return true;
}

/* §2.7: the format each hash-algorithm-ov name implies. */
static void check_hash_value(ky_stix_ctx *ctx, const char *algorithm, const json_t *string)
{
	const char *value = json_string_value(string);
	static const struct {
		const char *name;
		size_t hex_len;
	} hex_hashes[] = {
		{"MD5", 32}, {"SHA-1", 40}, {"SHA-256", 64}, {"SHA-512", 128}, {"SHA3-256", 64}, {"SHA3-512", 128},
	};
	char q[KY_STIX_QUOTE_SIZE];
	for (size_t i = 0; i < sizeof(hex_hashes) / sizeof(hex_hashes[0]); i++) {
		if (strcmp(algorithm, hex_hashes[i].name) == 0) {
			if (strlen(value) != hex_hashes[i].hex_len || !valid_hex(value, false))
				ky_stix_report(ctx, "§2.7", "%s is not a valid %s hash (%zu hexadecimal digits)",
					       ky_stix_quote_value(q, sizeof(q), string), algorithm, hex_hashes[i].hex_len);
			return;
		}
	}
	if (strcmp(algorithm, "SSDEEP") == 0) {
		size_t n = strlen(value);
		bool ok = n >= 1 && n <= 128;
		for (const char *c = value; ok && *c; c++)
			ok = isalnum((unsigned char)*c) || strchr("/+:.", *c) != NULL;
		if (!ok)
			ky_stix_report(ctx, "§2.7", "%s is not a valid SSDEEP hash",
				       ky_stix_quote_value(q, sizeof(q), string));
	} else if (strcmp(algorithm, "TLSH") == 0) {
		size_t n = strlen(value);
		bool ok = n == 70;
		for (const char *c = value; ok && *c; c++)
			ok = isalnum((unsigned char)*c);
		if (!ok)
			ky_stix_report(ctx, "§2.7", "%s is not a valid TLSH hash (70 characters)",
				       ky_stix_quote_value(q, sizeof(q), string));
	}
}

/*
 * §2.3 dictionaries and §2.7 hashes share their shape: a non-empty object whose keys are
 * ASCII letters, digits, '-' and '_', at most 250 long (hash names at least 3). Hash values
 * are strings in the format their algorithm implies.
 */
static void check_dictionary(ky_stix_ctx *ctx, const json_t *v, bool hashes)
{
	const char *section = hashes ? "§2.7" : "§2.3";
	if (!expect_type(ctx, v, json_is_object(v), hashes ? "a hashes dictionary" : "a dictionary (an object)"))
		return;
	if (json_object_size(v) == 0) {
		ky_stix_report(ctx, section, "an empty dictionary is not allowed");
		return;
	}
	const char *key;
	const json_t *value;
	char q[KY_STIX_QUOTE_SIZE];
	json_object_foreach((json_t *)v, key, value) {
		size_t mark = path_push_key(ctx, key);
		if (!valid_dictionary_key(key, hashes ? 3 : 1))
			ky_stix_report(ctx, section, "key %s is not %s (%s250 ASCII letters, digits, '-' or '_')",
				       quoted_key(q, sizeof(q), key), hashes ? "a hash algorithm name" : "a dictionary key",
				       hashes ? "3 to " : "up to ");
		else if (hashes && expect_type(ctx, value, json_is_string(value), "a string"))
			check_hash_value(ctx, key, value);
		path_pop(ctx, mark);
	}
}

static void check_props(ky_stix_ctx *ctx, const json_t *object, const ky_stix_prop *props, const char *section);
static void check_custom(ky_stix_ctx *ctx, const char *name, const json_t *value);

static void check_object_kind(ky_stix_ctx *ctx, const ky_stix_prop *prop, const json_t *v, const char *section)
{
	if (!expect_type(ctx, v, json_is_object(v), "an object"))
		return;
	check_props(ctx, v, prop->sub, section);
	if (prop->sub_check != NULL)
		prop->sub_check(ctx, v);
}

/* STIX 2.1 §2.5: url is "A URL reference to an external resource [RFC3986]". */
static void check_reference_url(ky_stix_ctx *ctx, const json_t *v)
{
	ky_stix_check_url(ctx, NULL, v, "§2.5");
}

static const ky_stix_prop external_reference_props[] = {
	{"source_name", KP_STRING, KY_P_REQUIRED},
	{"description", KP_STRING},
	{"url", KP_STRING, .check = check_reference_url},
	{"hashes", KP_HASHES},
	{"external_id", KP_STRING},
	{NULL},
};

static const ky_stix_prop kill_chain_phase_props[] = {
	{"kill_chain_name", KP_STRING, KY_P_REQUIRED},
	{"phase_name", KP_STRING, KY_P_REQUIRED},
	{NULL},
};

/* Checks one value (one element of a list) against the property's kind. */
static void check_value(ky_stix_ctx *ctx, const ky_stix_prop *prop, const json_t *v, const char *section)
{
	char q[KY_STIX_QUOTE_SIZE], list[512];
	ky_stix_time t;
	switch (prop->kind) {
	case KP_STRING:
	case KP_OPENVOCAB:
		if (!expect_type(ctx, v, json_is_string(v), "a string"))
			return;
		break;
	case KP_TIMESTAMP:
	case KP_TIMESTAMP_MS:
		if (!expect_type(ctx, v, json_is_string(v), "a timestamp string"))
			return;
		if (!ky_stix_time_parse(json_string_value(v), &t)) {
			ky_stix_report(ctx, "§2.16", "%s is not an RFC 3339 timestamp in UTC (YYYY-MM-DDTHH:mm:ss[.s+]Z)",
				       ky_stix_quote_value(q, sizeof(q), v));
			return;
		}
		if (prop->kind == KP_TIMESTAMP_MS && t.fraction_digits < 3) {
			ky_stix_report(ctx, "§3.2",
				       "%s must be precise to at least the millisecond (three digits after the decimal point)",
				       ky_stix_quote_value(q, sizeof(q), v));
			return;
		}
		break;
	case KP_ID: {
		if (!expect_type(ctx, v, json_is_string(v), "an identifier string"))
			return;
		const char *id = json_string_value(v);
		size_t type_len;
		if (!ky_stix_id_parse(id, &type_len)) {
			ky_stix_report(ctx, "§2.9", "%s is not an identifier (type--UUID with an RFC 4122 UUID)",
				       ky_stix_quote_value(q, sizeof(q), v));
			return;
		}
		if (prop->values != NULL) {
			bool allowed = false;
			for (const char *const *t2 = prop->values; *t2 && !allowed; t2++)
				allowed = strlen(*t2) == type_len && strncmp(*t2, id, type_len) == 0;
			if (!allowed) {
				join(list, sizeof(list), prop->values);
				ky_stix_report(ctx, section, "%s must refer to one of: %s",
					       ky_stix_quote_value(q, sizeof(q), v), list);
				return;
			}
		}
		break;
	}
	case KP_INTEGER: {
		if (!expect_type(ctx, v, json_is_integer(v), "an integer"))
			return;
		long long n = json_integer_value(v);
		if (n > IJSON_MAX || n < -IJSON_MAX) {
			ky_stix_report(ctx, "§2.10", "%lld is outside the I-JSON integer range", n);
			return;
		}
		if ((prop->flags & KY_P_RANGE) && (n < prop->min || n > prop->max)) {
			ky_stix_report(ctx, section, "%lld is outside the range %lld to %lld", n, prop->min, prop->max);
			return;
		}
		break;
	}
	case KP_FLOAT: {
		if (!expect_type(ctx, v, json_is_number(v), "a number"))
			return;
		double d = json_number_value(v);
		if ((prop->flags & KY_P_RANGE) && (d < prop->fmin || d > prop->fmax)) {
			ky_stix_report(ctx, section, "%g is outside the range %g to %g", d, prop->fmin, prop->fmax);
			return;
		}
		break;
	}
	case KP_BOOLEAN:
		if (!expect_type(ctx, v, json_is_boolean(v), "a boolean"))
			return;
		break;
	case KP_ENUM:
		if (!expect_type(ctx, v, json_is_string(v), "a string"))
			return;
		if (!in_list(prop->values, json_string_value(v))) {
			join(list, sizeof(list), prop->values);
			ky_stix_report(ctx, section, "%s is not one of the allowed values: %s",
				       ky_stix_quote_value(q, sizeof(q), v), list);
			return;
		}
		break;
	case KP_DICT:
	case KP_HASHES:
		check_dictionary(ctx, v, prop->kind == KP_HASHES);
		break;
	case KP_KILL_CHAIN: {
		static const ky_stix_prop sub = {"kill_chain_phases", KP_OBJECT, .sub = kill_chain_phase_props};
		check_object_kind(ctx, &sub, v, "§2.11");
		break;
	}
	case KP_EXTREF: {
		if (!expect_type(ctx, v, json_is_object(v), "an object"))
			return;
		check_props(ctx, v, external_reference_props, "§2.5.1");
		/* §2.5.2: source_name alone points at nothing. */
		if (json_object_get(v, "description") == NULL && json_object_get(v, "url") == NULL &&
		    json_object_get(v, "external_id") == NULL)
			ky_stix_report(ctx, "§2.5.2", "an external reference needs description, url or external_id besides source_name");
		break;
	}
	case KP_BINARY:
		if (!expect_type(ctx, v, json_is_string(v), "a base64 string"))
			return;
		if (!valid_base64(json_string_value(v))) {
			ky_stix_report(ctx, "§2.1", "%s is not base64", ky_stix_quote_value(q, sizeof(q), v));
			return;
		}
		break;
	case KP_HEX:
		if (!expect_type(ctx, v, json_is_string(v), "a hexadecimal string"))
			return;
		if (!valid_hex(json_string_value(v), true)) {
			ky_stix_report(ctx, "§2.8", "%s is not hexadecimal (an even number of 0-9 a-f digits)",
				       ky_stix_quote_value(q, sizeof(q), v));
			return;
		}
		break;
	case KP_OBJECT:
		check_object_kind(ctx, prop, v, section);
		break;
	case KP_ANY:
		break;
	}
	if (prop->check != NULL)
		prop->check(ctx, v);
}

/* Checks a present property: a list of the kind, or one value. */
static void check_property(ky_stix_ctx *ctx, const ky_stix_prop *prop, const json_t *v, const char *section)
{
	size_t mark = path_push_key(ctx, prop->name);
	if (prop->flags & KY_P_LIST) {
		if (!json_is_array(v)) {
			ky_stix_report(ctx, NULL, "expected a list, found %s", ky_stix_json_kind(v));
		} else if (json_array_size(v) == 0) {
			ky_stix_report(ctx, "§2.12", "an empty list is not allowed");
		} else {
			size_t i;
			const json_t *item;
			json_array_foreach(v, i, item) {
				size_t m2 = path_push_index(ctx, i);
				check_value(ctx, prop, item, section);
				path_pop(ctx, m2);
			}
		}
	} else {
		check_value(ctx, prop, v, section);
	}
	path_pop(ctx, mark);
}

static const ky_stix_prop *find_prop(const ky_stix_prop *props, const char *name)
{
	for (; props != NULL && props->name != NULL; props++)
		if (strcmp(props->name, name) == 0)
			return props;
	return NULL;
}

static void check_required(ky_stix_ctx *ctx, const json_t *object, const ky_stix_prop *props, const char *section)
{
	for (; props != NULL && props->name != NULL; props++)
		if ((props->flags & KY_P_REQUIRED) && json_object_get(object, props->name) == NULL)
			ky_stix_report_at(ctx, props->name, section, "required property is missing");
}

/* A sub-object: its table's properties, and anything else as a custom property. */
static void check_props(ky_stix_ctx *ctx, const json_t *object, const ky_stix_prop *props, const char *section)
{
	check_required(ctx, object, props, section);
	const char *key;
	const json_t *value;
	json_object_foreach((json_t *)object, key, value) {
		const ky_stix_prop *prop = find_prop(props, key);
		if (prop != NULL)
			check_property(ctx, prop, value, section);
		else
			check_custom(ctx, key, value);
	}
}

/* --- custom properties, §11.1 ------------------------------------------------------ */

static const char *const reserved_names[] = {"severity", "username", "phone_number", "action", NULL};

static bool valid_custom_name(const char *name)
{
	size_t n = strlen(name);
	if (n < 3 || n > 250 || name[0] < 'a' || name[0] > 'z')
		return false;
	for (const char *c = name; *c; c++)
		if (!((*c >= 'a' && *c <= 'z') || (*c >= '0' && *c <= '9') || *c == '_'))
			return false;
	return true;
}

static bool ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);
	return n >= m && strcmp(s + n - m, suffix) == 0;
}

static void check_custom(ky_stix_ctx *ctx, const char *name, const json_t *value)
{
	char q[KY_STIX_QUOTE_SIZE];
	size_t mark = path_push_key(ctx, name);
	if (in_list(reserved_names, name)) {
		ky_stix_report(ctx, "§3.8", "%s is a reserved property name and must not be used",
			       quoted_key(q, sizeof(q), name));
	} else if (!valid_custom_name(name)) {
		ky_stix_report(ctx, "§11.1.1",
			       "%s is not a valid custom property name (3 to 250 characters a-z, 0-9 and '_', starting with a letter)",
			       quoted_key(q, sizeof(q), name));
	} else if (json_is_array(value) && json_array_size(value) == 0) {
		ky_stix_report(ctx, "§2.12", "an empty list is not allowed");
	} else if (json_is_null(value)) {
		ky_stix_report(ctx, "§11.1.1", "null is not a STIX value: omit the property instead");
	} else if (ends_with(name, "_hex") && !(json_is_string(value) && valid_hex(json_string_value(value), true))) {
		ky_stix_report(ctx, "§2.8", "a property named *_hex must be hexadecimal (an even number of 0-9 a-f digits)");
	} else if (ends_with(name, "_bin") && !(json_is_string(value) && valid_base64(json_string_value(value)))) {
		ky_stix_report(ctx, "§2.1", "a property named *_bin must be base64");
	}
	path_pop(ctx, mark);
}

/* --- common properties, §3.2 ----------------------------------------------------------- */

enum { NA, OPT, REQ };

static const char *const identity_only[] = {"identity", NULL};
static const char *const marking_only[] = {"marking-definition", NULL};

static void check_lang(ky_stix_ctx *ctx, const json_t *v);
static void check_granular_marking(ky_stix_ctx *ctx, const json_t *v);

static const ky_stix_prop granular_marking_props[] = {
	{"lang", KP_STRING, 0, .check = check_lang},
	{"marking_ref", KP_ID, 0, .values = marking_only},
	{"selectors", KP_STRING, KY_P_REQUIRED | KY_P_LIST},
	{NULL},
};

/* Use per category, in the order of ky_stix_category: SDO, SRO, SCO, language, marking, extension. */
static const struct common_prop {
	ky_stix_prop prop;
	unsigned char use[6];
} common_props[] = {
	{{"created_by_ref", KP_ID, .values = identity_only}, {OPT, OPT, NA, OPT, OPT, REQ}},
	{{"created", KP_TIMESTAMP_MS}, {REQ, REQ, NA, REQ, REQ, REQ}},
	{{"modified", KP_TIMESTAMP_MS}, {REQ, REQ, NA, REQ, NA, REQ}},
	{{"revoked", KP_BOOLEAN}, {OPT, OPT, NA, OPT, NA, OPT}},
	{{"labels", KP_STRING, KY_P_LIST}, {OPT, OPT, NA, OPT, NA, OPT}},
	{{"confidence", KP_INTEGER, KY_P_RANGE, .min = 0, .max = 100}, {OPT, OPT, NA, OPT, NA, NA}},
	{{"lang", KP_STRING, .check = check_lang}, {OPT, OPT, NA, NA, NA, NA}},
	{{"external_references", KP_EXTREF, KY_P_LIST}, {OPT, OPT, NA, OPT, OPT, OPT}},
	{{"object_marking_refs", KP_ID, KY_P_LIST, .values = marking_only}, {OPT, OPT, OPT, OPT, OPT, OPT}},
	{{"granular_markings", KP_OBJECT, KY_P_LIST, .sub = granular_marking_props, .sub_check = check_granular_marking},
	 {OPT, OPT, OPT, OPT, OPT, OPT}},
	{{"defanged", KP_BOOLEAN}, {NA, NA, OPT, NA, NA, NA}},
};

static const char *category_name(ky_stix_category c)
{
	static const char *const names[] = {
		"domain (SDO)", "relationship (SRO)", "cyber-observable (SCO)", "language-content",
		"marking-definition", "extension-definition",
	};
	return names[c];
}

static void check_lang(ky_stix_ctx *ctx, const json_t *v)
{
	char q[KY_STIX_QUOTE_SIZE];
	if (!ky_stix_lang_tag_valid(json_string_value(v)))
		ky_stix_report(ctx, "§3.2", "%s is not an RFC 5646 language tag",
			       ky_stix_quote_value(q, sizeof(q), v));
}

static void check_granular_marking(ky_stix_ctx *ctx, const json_t *v)
{
	bool has_ref = json_object_get(v, "marking_ref") != NULL;
	bool has_lang = json_object_get(v, "lang") != NULL;
	if (has_ref == has_lang)
		ky_stix_report(ctx, "§7.2.3", "a granular marking needs exactly one of marking_ref and lang");
	const json_t *selectors = json_object_get(v, "selectors");
	size_t i;
	const json_t *s;
	char q[KY_STIX_QUOTE_SIZE];
	json_array_foreach(selectors, i, s) {
		if (json_is_string(s) && ky_stix_select(ctx->object, json_string_value(s)) == NULL) {
			size_t mark = path_push_key(ctx, "selectors");
			size_t m2 = path_push_index(ctx, i);
			ky_stix_report(ctx, "§7.2.3.1", "%s does not select a property of this object",
				       ky_stix_quote_value(q, sizeof(q), s));
			path_pop(ctx, m2);
			path_pop(ctx, mark);
		}
	}
}

/* --- extensions, §3.2, §3.10, §7.3, §11.3 ------------------------------------------ */

static const char *const extension_types[] = {
	"new-sdo", "new-sco", "new-sro", "property-extension", "toplevel-property-extension", NULL,
};

/* §3.2 extensions: any extension dictionary may name its extension_type, from
 * extension-type-enum; one that uses the extension facility (keyed by an
 * extension-definition id) must. */
static void check_extension_type(ky_stix_ctx *ctx, const json_t *instance, bool required)
{
	char q[KY_STIX_QUOTE_SIZE], list[256];
	const json_t *et = json_object_get(instance, "extension_type");
	if (et == NULL) {
		if (required)
			ky_stix_report_at(ctx, "extension_type", "§3.2", "required property is missing");
	} else if (!json_is_string(et) || !in_list(extension_types, json_string_value(et))) {
		join(list, sizeof(list), extension_types);
		ky_stix_report_at(ctx, "extension_type", "§7.3", "%s is not one of the allowed values: %s",
				  json_is_string(et) ? ky_stix_quote_value(q, sizeof(q), et) : ky_stix_json_kind(et), list);
	}
}

static bool valid_custom_extension_name(const char *name)
{
	size_t n = strlen(name);
	if (n < 3 || n > 250 || !ends_with(name, "-ext"))
		return false;
	return ky_stix_type_name_valid(name);
}

static void check_extensions(ky_stix_ctx *ctx, const json_t *v, const ky_stix_type *type)
{
	char q[KY_STIX_QUOTE_SIZE];
	size_t mark = path_push_key(ctx, "extensions");
	if (!json_is_object(v)) {
		ky_stix_report(ctx, NULL, "expected a dictionary (an object), found %s", ky_stix_json_kind(v));
		goto done;
	}
	if (json_object_size(v) == 0) {
		ky_stix_report(ctx, "§2.3", "an empty dictionary is not allowed");
		goto done;
	}
	const char *key;
	const json_t *instance;
	json_object_foreach((json_t *)v, key, instance) {
		size_t m2 = path_push_key(ctx, key);
		size_t type_len;
		bool definition = ky_stix_id_parse(key, &type_len) && type_len == strlen("extension-definition") &&
				  strncmp(key, "extension-definition", type_len) == 0;
		const ky_stix_extension *predefined = NULL;
		for (const ky_stix_extension *e = type ? type->extensions : NULL; e && e->name; e++)
			if (strcmp(e->name, key) == 0)
				predefined = e;
		if (!json_is_object(instance)) {
			ky_stix_report(ctx, NULL, "expected an object, found %s", ky_stix_json_kind(instance));
		} else if (json_object_size(instance) == 0) {
			ky_stix_report(ctx, "§3.2", "an extension must have at least one property");
		} else if (definition) {
			check_extension_type(ctx, instance, true);
		} else if (predefined != NULL) {
			check_extension_type(ctx, instance, false);
			check_props(ctx, instance, predefined->props, predefined->section);
			if (predefined->check != NULL)
				predefined->check(ctx, instance);
		} else if (!valid_custom_extension_name(key)) {
			ky_stix_report(ctx, "§3.2",
				       "%s is neither an extension-definition id nor an extension name ending in -ext",
				       quoted_key(q, sizeof(q), key));
		} else if (ctx->category != KY_STIX_SCO) {
			ky_stix_report(ctx, "§11.3", "custom extension %s is only allowed on cyber-observable objects",
				       quoted_key(q, sizeof(q), key));
		} else {
			check_extension_type(ctx, instance, false);
			const char *k;
			const json_t *value;
			json_object_foreach((json_t *)instance, k, value) {
				if (strcmp(k, "extension_type") != 0)
					check_custom(ctx, k, value);
			}
		}
		path_pop(ctx, m2);
	}
done:
	path_pop(ctx, mark);
}

/* A custom object (§11.2) or one defined through an extension-definition (§7.3) takes the
 * category its extension declares: new-sco and new-sro; anything else is domain-like. */
static ky_stix_category custom_category(const json_t *object)
{
	const char *key;
	const json_t *instance;
	json_object_foreach((json_t *)json_object_get(object, "extensions"), key, instance) {
		const char *et = json_string_value(json_object_get(instance, "extension_type"));
		if (et != NULL && strcmp(et, "new-sco") == 0)
			return KY_STIX_SCO;
		if (et != NULL && strcmp(et, "new-sro") == 0)
			return KY_STIX_SRO;
	}
	return KY_STIX_SDO;
}

/* --- the object ---------------------------------------------------------------------- */

static const struct common_prop *find_common(const char *name)
{
	for (size_t i = 0; i < sizeof(common_props) / sizeof(common_props[0]); i++)
		if (strcmp(common_props[i].prop.name, name) == 0)
			return &common_props[i];
	return NULL;
}

static void check_type_and_id(ky_stix_ctx *ctx, const json_t *object, const char *type_name)
{
	char q[KY_STIX_QUOTE_SIZE];
	const json_t *spec = json_object_get(object, "spec_version");
	if (spec == NULL) {
		if (ctx->category != KY_STIX_SCO)
			ky_stix_report_at(ctx, "spec_version", "§3.2", "required property is missing");
	} else if (!json_is_string(spec)) {
		ky_stix_report_at(ctx, "spec_version", NULL, "expected a string, found %s", ky_stix_json_kind(spec));
	} else if (strcmp(json_string_value(spec), "2.1") != 0) {
		ky_stix_report_at(ctx, "spec_version", "§3.2", "%s is not \"2.1\", the version this validator checks",
				  ky_stix_quote_value(q, sizeof(q), spec));
	}

	const json_t *id = json_object_get(object, "id");
	size_t type_len;
	if (id == NULL) {
		ky_stix_report_at(ctx, "id", "§3.2", "required property is missing");
	} else if (!json_is_string(id)) {
		ky_stix_report_at(ctx, "id", NULL, "expected an identifier string, found %s", ky_stix_json_kind(id));
	} else if (!ky_stix_id_parse(json_string_value(id), &type_len)) {
		ky_stix_report_at(ctx, "id", "§2.9", "%s is not an identifier (type--UUID with an RFC 4122 UUID)",
				  ky_stix_quote_value(q, sizeof(q), id));
	} else if (type_name != NULL && (strlen(type_name) != type_len || strncmp(type_name, json_string_value(id), type_len) != 0)) {
		ky_stix_report_at(ctx, "id", "§2.9", "%s does not start with the object's type \"%s--\"",
				  ky_stix_quote_value(q, sizeof(q), id), type_name);
	}
}

static void check_object(ky_stix_ctx *ctx, const json_t *object)
{
	char q[KY_STIX_QUOTE_SIZE];
	const json_t *type_value = json_object_get(object, "type");
	const char *type_name = NULL;
	const ky_stix_type *type = NULL;

	if (type_value == NULL) {
		ky_stix_report_at(ctx, "type", "§3.2", "required property is missing");
	} else if (!json_is_string(type_value)) {
		ky_stix_report_at(ctx, "type", NULL, "expected a string, found %s", ky_stix_json_kind(type_value));
	} else if (!ky_stix_type_name_valid(json_string_value(type_value))) {
		ky_stix_report_at(ctx, "type", "§11.2.1",
				  "%s is not a valid type name (3 to 250 characters a-z, 0-9 and single '-', starting with a letter)",
				  ky_stix_quote_value(q, sizeof(q), type_value));
	} else if (strcmp(json_string_value(type_value), "bundle") == 0) {
		ky_stix_report_at(ctx, "type", "§8", "a bundle cannot be nested inside a bundle's objects");
		return;
	} else {
		type_name = json_string_value(type_value);
		type = ky_stix_type_find(type_name);
	}
	ctx->category = type ? type->category : custom_category(object);
	const char *section = type ? type->section : "§11.2";

	check_type_and_id(ctx, object, type_name);

	for (size_t i = 0; i < sizeof(common_props) / sizeof(common_props[0]); i++)
		if (common_props[i].use[ctx->category] == REQ && json_object_get(object, common_props[i].prop.name) == NULL)
			ky_stix_report_at(ctx, common_props[i].prop.name, "§3.2", "required property is missing");
	if (type != NULL)
		check_required(ctx, object, type->props, section);

	const char *key;
	const json_t *value;
	json_object_foreach((json_t *)object, key, value) {
		if (strcmp(key, "type") == 0 || strcmp(key, "id") == 0 || strcmp(key, "spec_version") == 0)
			continue;
		const ky_stix_prop *prop = type ? find_prop(type->props, key) : NULL;
		const struct common_prop *common = prop ? NULL : find_common(key);
		if (prop != NULL) {
			check_property(ctx, prop, value, section);
		} else if (strcmp(key, "extensions") == 0) {
			if (ctx->category == KY_STIX_EXTDEF)
				ky_stix_report_at(ctx, key, "§3.2", "not allowed on %s objects", category_name(ctx->category));
			else
				check_extensions(ctx, value, type);
		} else if (common != NULL) {
			if (common->use[ctx->category] == NA)
				ky_stix_report_at(ctx, key, "§3.2", "not allowed on %s objects", category_name(ctx->category));
			else
				check_property(ctx, &common->prop, value, "§3.2");
		} else {
			check_custom(ctx, key, value);
		}
	}

	/* §3.2 modified: a version cannot be modified before the object was created. */
	ky_stix_check_time_order(ctx, object, "created", "modified", false, "§3.2");
	if (type != NULL && type->check != NULL)
		type->check(ctx, object);
}

int ky_stix_validate_object(ky_stix_problems *problems, const json_t *object)
{
	ky_stix_ctx ctx = {.problems = problems, .object = object};
	size_t before = problems->count;
	ctx.path[0] = '\0';
	if (!json_is_object(object))
		ky_stix_problems_add(problems, "expected a JSON object, found %s", ky_stix_json_kind(object));
	else
		check_object(&ctx, object);
	if (problems->out_of_memory)
		return ky_error_set(KY_ENOMEM, "out of memory while validating");
	return problems->count > before ? KY_EINVALID : KY_OK;
}

/* STIX 2.1 §8: type "bundle", an id of type bundle, objects a list when present. */
int ky_stix_validate_envelope(ky_stix_problems *problems, const json_t *envelope)
{
	ky_stix_ctx ctx = {.problems = problems, .object = envelope};
	size_t before = problems->count;
	char q[KY_STIX_QUOTE_SIZE];
	ctx.path[0] = '\0';
	const json_t *type = json_object_get(envelope, "type");
	if (type == NULL)
		ky_stix_report(&ctx, "§8", "bundle: type: required property is missing");
	else if (!json_is_string(type) || strcmp(json_string_value(type), "bundle") != 0)
		ky_stix_report(&ctx, "§8", "bundle: type: an object with an objects list must have type \"bundle\"");
	const json_t *objects = json_object_get(envelope, "objects");
	if (objects != NULL && !json_is_array(objects))
		ky_stix_report(&ctx, "§8", "bundle: objects: expected a list, found %s", ky_stix_json_kind(objects));
	const json_t *id = json_object_get(envelope, "id");
	size_t type_len;
	if (id == NULL)
		ky_stix_report(&ctx, "§8", "bundle: id: required property is missing");
	else if (!json_is_string(id) || !ky_stix_id_parse(json_string_value(id), &type_len) ||
		 strncmp(json_string_value(id), "bundle--", 8) != 0)
		ky_stix_report(&ctx, "§8", "bundle: id: %s is not a bundle identifier (bundle--UUID)",
			       json_is_string(id) ? ky_stix_quote_value(q, sizeof(q), id) : ky_stix_json_kind(id));
	if (problems->out_of_memory)
		return ky_error_set(KY_ENOMEM, "out of memory while validating");
	return problems->count > before ? KY_EINVALID : KY_OK;
}
