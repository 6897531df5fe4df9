/*
 * stix_schema: the declarative description of STIX 2.1 object types that stix_validate
 * walks, and the helpers that type-specific rules use. Internal to the stix module.
 *
 * A type is a table of properties. Each property names its kind (string, timestamp,
 * identifier, ...), whether it is required or a list, and the constraint that goes with the
 * kind (allowed reference types, enumeration values, integer range, sub-object table).
 * Rules that relate several properties (valid_until after valid_from) are a per-type
 * function. For example, the Opinion table (STIX 2.1 §4.15) is:
 *
 *     static const char *const opinion_enum[] = {"strongly-disagree", ..., NULL};
 *     static const ky_stix_prop opinion_props[] = {
 *         {"explanation", KP_STRING},
 *         {"authors", KP_STRING, KY_P_LIST},
 *         {"opinion", KP_ENUM, KY_P_REQUIRED, .values = opinion_enum},
 *         {"object_refs", KP_ID, KY_P_REQUIRED | KY_P_LIST},
 *         {NULL}
 *     };
 *     {"opinion", KY_STIX_SDO, "§4.15", opinion_props},
 *
 * The common properties of §3.2 are not listed per type: the category decides them.
 * Properties not in a table are custom properties and are checked as such (§11.1).
 */
#ifndef KY_STIX_SCHEMA_H
#define KY_STIX_SCHEMA_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "stix/stix_validate.h"

/* The object categories of STIX 2.1 §3.2, each with its own set of common properties. */
typedef enum ky_stix_category {
	KY_STIX_SDO,       /* domain objects, §4 */
	KY_STIX_SRO,       /* relationship objects, §5 */
	KY_STIX_SCO,       /* cyber-observable objects, §6 */
	KY_STIX_LANGUAGE,  /* language-content, §7.1 */
	KY_STIX_MARKING,   /* marking-definition, §7.2 */
	KY_STIX_EXTDEF,    /* extension-definition, §7.3 */
} ky_stix_category;

typedef enum ky_stix_kind {
	KP_STRING,        /* any JSON string (§2.15) */
	KP_TIMESTAMP,     /* RFC 3339 UTC with Z (§2.16) */
	KP_TIMESTAMP_MS,  /* a timestamp with at least millisecond precision (created, modified) */
	KP_ID,            /* identifier (§2.9); .values lists allowed target types, NULL = any */
	KP_INTEGER,       /* I-JSON integer (§2.10); bounds from .min/.max when KY_P_RANGE */
	KP_FLOAT,         /* JSON number (§2.6); bounds from .fmin/.fmax when KY_P_RANGE */
	KP_BOOLEAN,       /* true or false (§2.2) */
	KP_OPENVOCAB,     /* any string; .values is the suggested vocabulary (§2.14) */
	KP_ENUM,          /* a string from .values exactly (§2.4) */
	KP_DICT,          /* a non-empty object with §2.3 keys; values of any JSON type */
	KP_HASHES,        /* hashes (§2.7) */
	KP_KILL_CHAIN,    /* kill-chain-phase (§2.11) */
	KP_EXTREF,        /* external-reference (§2.5) */
	KP_BINARY,        /* base64 (§2.1) */
	KP_HEX,           /* an even number of 0-9a-f digits (§2.8) */
	KP_OBJECT,        /* a JSON object checked against .sub (custom properties allowed) */
	KP_ANY,           /* any JSON value; .check may constrain it */
} ky_stix_kind;

enum {
	KY_P_REQUIRED = 1 << 0, /* must be present (§3.1) */
	KY_P_LIST = 1 << 1,     /* a non-empty list of the kind (§2.12) */
	KY_P_RANGE = 1 << 2,    /* KP_INTEGER/KP_FLOAT: enforce .min/.max or .fmin/.fmax */
};

typedef struct ky_stix_ctx ky_stix_ctx;
typedef struct ky_stix_prop ky_stix_prop;

/* An extra rule on one value (each element, for a list), run after the kind's check passed. */
typedef void ky_stix_value_check(ky_stix_ctx *ctx, const json_t *value);
/* A rule on a whole object or sub-object, run after its properties were checked. */
typedef void ky_stix_object_check(ky_stix_ctx *ctx, const json_t *object);

struct ky_stix_prop {
	const char *name;              /* NULL ends a table */
	ky_stix_kind kind;
	unsigned flags;                /* KY_P_* */
	const char *const *values;     /* KP_ID targets, KP_ENUM/KP_OPENVOCAB values; NULL-ended */
	long long min, max;            /* KP_INTEGER with KY_P_RANGE */
	double fmin, fmax;             /* KP_FLOAT with KY_P_RANGE */
	const ky_stix_prop *sub;       /* KP_OBJECT: the sub-object's properties */
	ky_stix_object_check *sub_check; /* KP_OBJECT: rule on the whole sub-object, or NULL */
	ky_stix_value_check *check;    /* extra rule on each value, or NULL */
};

/* A predefined object extension (§3.10), e.g. "ntfs-ext" on file. */
typedef struct ky_stix_extension {
	const char *name;              /* NULL ends a table */
	const char *section;           /* e.g. "§6.7.2" */
	const ky_stix_prop *props;
	ky_stix_object_check *check;   /* or NULL */
} ky_stix_extension;

typedef struct ky_stix_type {
	const char *name;              /* NULL ends a table */
	ky_stix_category category;
	const char *section;           /* where the standard defines it, e.g. "§4.7" */
	const ky_stix_prop *props;     /* type-specific properties */
	ky_stix_object_check *check;   /* cross-property rules, or NULL */
	const ky_stix_extension *extensions; /* predefined extensions, or NULL */
} ky_stix_type;

/* The type tables, one file each: stix_types_sdo.c, stix_types_sro.c, stix_types_sco.c,
 * stix_types_meta.c. Each ends with an entry whose name is NULL. */
extern const ky_stix_type ky_stix_types_sdo[];
extern const ky_stix_type ky_stix_types_sro[];
extern const ky_stix_type ky_stix_types_sco[];
extern const ky_stix_type ky_stix_types_meta[];

/* The type named `name`, or NULL for a custom type. */
const ky_stix_type *ky_stix_type_find(const char *name);

/* The type an identifier names, or NULL when `id` is not an identifier or names a type not
 * in the tables (a custom type, or "bundle"). */
const ky_stix_type *ky_stix_id_type(const char *id);

/* The hash-algorithm-ov vocabulary (§10.11), shared by every hashes property. */
extern const char *const ky_stix_vocab_hash_algorithm[];

/*
 * Reports a problem at the current path: "<path>: <message> (STIX 2.1 <section>)".
 * `section` may be NULL. Used by check functions.
 */
void ky_stix_report(ky_stix_ctx *ctx, const char *section, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Records that memory ran out in a rule (a pattern it parses, say): the object's verdict is
 * then unknown, and the validation returns KY_ENOMEM rather than a problem that would refuse
 * a valid object. */
void ky_stix_out_of_memory(ky_stix_ctx *ctx);

/*
 * Reports a problem at `key` below the current path, e.g. the "valid_until" of an indicator
 * from the indicator's object check.
 */
void ky_stix_report_at(ky_stix_ctx *ctx, const char *key, const char *section, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/*
 * Writes text[0..length) into buf (size bytes, at least 10) as a message quotes a value:
 * in double quotes, at most 80 bytes of it, cut between characters and escaped as
 * ky_stix_excerpt() does (stix_text.h), so the message stays one line of valid UTF-8.
 * Returns buf. KY_STIX_QUOTE_SIZE bytes hold the longest quote.
 */
#define KY_STIX_QUOTE_SIZE 83
const char *ky_stix_quote(char *buf, size_t size, const char *text, size_t length);

/* ky_stix_quote() of a JSON string's value, all of its bytes (a NUL in it included). */
const char *ky_stix_quote_value(char *buf, size_t size, const json_t *string);

/* A parsed timestamp: seconds since 1970 (UTC) and nanoseconds (extra digits dropped). */
typedef struct ky_stix_time {
	int64_t seconds;
	int32_t nanos;
	int fraction_digits;  /* digits after the decimal point as written */
} ky_stix_time;

/* Parses a §2.16 timestamp. Returns true and fills *out (may be NULL) when valid. */
bool ky_stix_time_parse(const char *text, ky_stix_time *out);

/* <0, 0, >0 as a is before, equal to, after b. */
int ky_stix_time_cmp(const ky_stix_time *a, const ky_stix_time *b);

/*
 * For object checks comparing two timestamp properties: when both `earlier_key` and
 * `later_key` are present and valid timestamps and later < earlier (or <= when `strict`),
 * reports at `later_key`. Missing or malformed values are left to the property checks.
 */
void ky_stix_check_time_order(ky_stix_ctx *ctx, const json_t *object, const char *earlier_key,
			      const char *later_key, bool strict, const char *section);

/* True when `text` is `type--UUID` with an RFC 4122 UUID (§2.9); *type_len gets the length
 * of the type part (may be NULL). */
bool ky_stix_id_parse(const char *text, size_t *type_len);

/* True when text[0..length) is a URI as RFC 3986 §3 defines it, with its scheme (the
 * "format": "uri" of the STIX 2.1 JSON schemas; stix_url.c). When it is not, *bad gets the
 * offset of the first byte that does not fit (length when the text ends too early). */
bool ky_stix_url_valid(const char *text, size_t length, size_t *bad);

/* Unless `value` (a JSON string) is a URL by ky_stix_url_valid(), reports it at `key` below
 * the current path (at the path itself when key is NULL), naming the first byte that does
 * not fit, with `section`, the clause that asks for the URL. */
void ky_stix_check_url(ky_stix_ctx *ctx, const char *key, const json_t *value, const char *section);

/* True when `tag` is a well-formed RFC 5646 language tag (stix_lang.c). */
bool ky_stix_lang_tag_valid(const char *tag);

/* "a string", "an object", "a list", ...: a JSON value's kind as messages name it. */
const char *ky_stix_json_kind(const json_t *v);

/* True when `name` is a valid STIX type name (§3.1, §11.2.1). */
bool ky_stix_type_name_valid(const char *name);

#endif
