/*
 * stix_types_sro: the type tables of the STIX 2.1 Relationship Objects (§5), relationship
 * and sighting, read by stix_validate. Besides the property tables this file holds the rules
 * the kinds cannot say: which categories of object a reference may point to (an SDO or SCO
 * for a relationship, only an SDO for what a sighting saw), the form of relationship_type,
 * and the order of the time windows.
 *
 * A reference whose type is not one the standard defines is taken to be a custom object
 * (§11.2) and accepted: only references to types the standard places in a forbidden
 * category are refused.
 */
#include <string.h>

#include "stix/stix_schema.h"

/* What ref_category() answers for a custom type, and for a bundle, which is in no table. */
enum { REF_CUSTOM = -1, REF_BUNDLE = -2 };

/* The category of the type an identifier names. `id` has passed the identifier check. */
static int ref_category(const char *id)
{
	if (strncmp(id, "bundle--", 8) == 0)
		return REF_BUNDLE;
	const ky_stix_type *t = ky_stix_id_type(id);
	return t ? (int)t->category : REF_CUSTOM;
}

/* A forbidden target, for the message. */
static const char *category_noun(int category)
{
	switch (category) {
	case KY_STIX_SCO:
		return "an SCO";
	case KY_STIX_SRO:
		return "an SRO";
	case KY_STIX_LANGUAGE:
		return "a language content object";
	case KY_STIX_MARKING:
		return "a marking definition";
	case KY_STIX_EXTDEF:
		return "an extension definition";
	default:
		return "a bundle";
	}
}

/*
 * STIX 2.1 §5.1.2: source_ref and target_ref MUST refer to an SDO or SCO, "i.e., it cannot
 * point to an SRO, Bundle, Language Content, or Marking Definition". An extension definition
 * is neither an SDO nor an SCO either, so it is refused too.
 */
static void check_relationship_end(ky_stix_ctx *ctx, const json_t *value)
{
	const char *id = json_string_value(value);
	int category = ref_category(id);
	char q[KY_STIX_QUOTE_SIZE];

	if (category != REF_CUSTOM && category != KY_STIX_SDO && category != KY_STIX_SCO)
		ky_stix_report(ctx, "§5.1.2", "%s must refer to an SDO or SCO, not %s",
			       ky_stix_quote_value(q, sizeof q, value), category_noun(category));
}

/* STIX 2.1 §5.2.1: sighting_of_ref "MUST reference only an SDO". */
static void check_sighted_object(ky_stix_ctx *ctx, const json_t *value)
{
	const char *id = json_string_value(value);
	int category = ref_category(id);
	char q[KY_STIX_QUOTE_SIZE];

	if (category != REF_CUSTOM && category != KY_STIX_SDO)
		ky_stix_report(ctx, "§5.2.1", "%s must refer to an SDO, not %s",
			       ky_stix_quote_value(q, sizeof q, value), category_noun(category));
}

/*
 * STIX 2.1 §5.1.2: relationship_type "MUST be in ASCII and is limited to characters a-z
 * (lowercase ASCII), 0-9, and hyphen (-)". An empty string names no type.
 */
static void check_relationship_type(ky_stix_ctx *ctx, const json_t *value)
{
	const char *s = json_string_value(value);
	size_t n = json_string_length(value);
	char q[KY_STIX_QUOTE_SIZE];

	if (n == 0) {
		ky_stix_report(ctx, "§5.1.2", "an empty string is not a relationship type");
		return;
	}
	for (size_t i = 0; i < n; i++) {
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '-')) {
			ky_stix_report(ctx, "§5.1.2", "%s may only contain a-z (lowercase), 0-9 and hyphens",
				       ky_stix_quote_value(q, sizeof q, value));
			return;
		}
	}
}

static const ky_stix_prop relationship_props[] = {
	{"relationship_type", KP_STRING, KY_P_REQUIRED, .check = check_relationship_type},
	{"description", KP_STRING},
	{"source_ref", KP_ID, KY_P_REQUIRED, .check = check_relationship_end},
	{"target_ref", KP_ID, KY_P_REQUIRED, .check = check_relationship_end},
	{"start_time", KP_TIMESTAMP},
	{"stop_time", KP_TIMESTAMP},
	{NULL}
};

/* STIX 2.1 §5.1.2: "stop_time MUST be later than the start_time value" (strictly). */
static void check_relationship(ky_stix_ctx *ctx, const json_t *object)
{
	ky_stix_check_time_order(ctx, object, "start_time", "stop_time", true, "§5.1.2");
}

static const char *const observed_data_type[] = {"observed-data", NULL};
/* §5.2.1 allows Identity or Location; the embedded-relationships table of §5.2.2 lists only
 * identity, but the property's own description is the normative one. */
static const char *const where_sighted_types[] = {"identity", "location", NULL};

static const ky_stix_prop sighting_props[] = {
	{"description", KP_STRING},
	{"first_seen", KP_TIMESTAMP},
	{"last_seen", KP_TIMESTAMP},
	{"count", KP_INTEGER, KY_P_RANGE, .min = 0, .max = 999999999},
	{"sighting_of_ref", KP_ID, KY_P_REQUIRED, .check = check_sighted_object},
	{"observed_data_refs", KP_ID, KY_P_LIST, .values = observed_data_type},
	{"where_sighted_refs", KP_ID, KY_P_LIST, .values = where_sighted_types},
	/* The §5.2.1 table types summary as a string, but its description (default false) and
	 * the §2.2 example make it a boolean, as do the OASIS schemas. */
	{"summary", KP_BOOLEAN},
	{NULL}
};

/* STIX 2.1 §5.2.1: last_seen "MUST be greater than or equal to" first_seen. */
static void check_sighting(ky_stix_ctx *ctx, const json_t *object)
{
	ky_stix_check_time_order(ctx, object, "first_seen", "last_seen", false, "§5.2.1");
}

const ky_stix_type ky_stix_types_sro[] = {
	{"relationship", KY_STIX_SRO, "§5.1", relationship_props, check_relationship, NULL},
	{"sighting", KY_STIX_SRO, "§5.2", sighting_props, check_sighting, NULL},
	{NULL}
};
