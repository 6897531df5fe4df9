/*
 * stix_types_meta: the type tables of the STIX 2.1 Meta Objects (§7), language-content,
 * marking-definition and extension-definition, read by stix_validate.
 *
 * Beyond the property tables this file holds what the kinds cannot say: that the keys of a
 * language content's contents are RFC 5646 language tags, how a marking definition's
 * definition_type, definition and extensions go together (including that the four TLP 1.0
 * marking definitions are the only TLP ones), and when an extension definition may list
 * extension_properties. TLP 2.0 markings carry no definition but an `extensions` entry for
 * extension-definition--60a3c5c5-0d10-413e-aab3-9e08dde9e88d, which §7.2.1 allows.
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "stix/stix_schema.h"

/* ---- Language Content, §7.1 ---- */

/* STIX 2.1 §7.1.1: object_ref "MUST be the identifier for a STIX Object"; a bundle is not
 * one (§8). */
static void check_content_target(ky_stix_ctx *ctx, const json_t *value)
{
	const char *id = json_string_value(value);
	char q[KY_STIX_QUOTE_SIZE];

	if (strncmp(id, "bundle--", 8) == 0)
		ky_stix_report(ctx, "§7.1.1", "%s must refer to a STIX Object, not a bundle",
			       ky_stix_quote_value(q, sizeof q, value));
}

/*
 * STIX 2.1 §7.1.1: the keys of contents "MUST be RFC 5646 language codes" and each value is
 * a dictionary mirroring the translated object's properties; dictionaries are never empty
 * (§2.3). What the nested values hold depends on the target object, which is not at hand.
 */
static void check_contents(ky_stix_ctx *ctx, const json_t *value)
{
	const char *lang;
	const json_t *translation;
	char q[KY_STIX_QUOTE_SIZE];

	json_object_foreach((json_t *)value, lang, translation) {
		if (!ky_stix_lang_tag_valid(lang))
			ky_stix_report(ctx, "§7.1.1", "key %s is not an RFC 5646 language tag",
				       ky_stix_quote(q, sizeof q, lang, strlen(lang)));
		if (!json_is_object(translation))
			ky_stix_report_at(ctx, lang, "§7.1.1", "expected an object, found %s",
					  ky_stix_json_kind(translation));
		else if (json_object_size(translation) == 0)
			ky_stix_report_at(ctx, lang, "§2.3", "an empty dictionary is not allowed");
	}
}

static const ky_stix_prop language_content_props[] = {
	{"object_ref", KP_ID, KY_P_REQUIRED, .check = check_content_target},
	{"object_modified", KP_TIMESTAMP},
	{"contents", KP_DICT, KY_P_REQUIRED, .check = check_contents},
	{NULL}
};

/* ---- Marking Definition, §7.2.1 ---- */

static const char *const definition_types[] = {"statement", "tlp", NULL};

/* The statement (§7.2.1.3) and TLP (§7.2.1.4) marking objects. Which one is required
 * depends on definition_type, so the marking definition's check decides that. */
static const ky_stix_prop definition_props[] = {
	{"statement", KP_STRING},
	{"tlp", KP_STRING},
	{NULL}
};

static const ky_stix_prop marking_definition_props[] = {
	{"name", KP_STRING},
	{"definition_type", KP_OPENVOCAB, .values = definition_types},
	{"definition", KP_OBJECT, .sub = definition_props},
	{NULL}
};

/* STIX 2.1 §7.2.1.4: the TLP levels and the one marking definition permitted for each. */
static const struct {
	const char *level;
	const char *id;
} tlp_markings[] = {
	{"white", "marking-definition--613f2e26-407d-48c7-9eca-b8e91df99dc9"},
	{"green", "marking-definition--34098fce-860f-48ae-8e50-ebd3cc5e41da"},
	{"amber", "marking-definition--f88d31f6-486f-44da-b317-01333bde0b82"},
	{"red", "marking-definition--5e57c739-391a-4eb3-b6be-7d15ca92d5ed"},
};

/*
 * STIX 2.1 §7.2.1.4: "Other instances of tlp-marking MUST NOT be used or created (the only
 * instances of TLP marking definitions permitted are those defined here)". The level must be
 * one of the four, and the object must carry that level's id. Its name is not compared:
 * some producers call the WHITE definition TLP:CLEAR, which changes nothing a consumer reads.
 */
static void check_tlp_definition(ky_stix_ctx *ctx, const json_t *object, const json_t *level)
{
	const char *text = json_string_value(level);
	const json_t *id_value = json_object_get(object, "id");
	const char *id = json_string_value(id_value);
	char q[KY_STIX_QUOTE_SIZE];

	for (size_t i = 0; i < sizeof tlp_markings / sizeof tlp_markings[0]; i++) {
		if (strcmp(text, tlp_markings[i].level) != 0)
			continue;
		if (id && strcasecmp(id, tlp_markings[i].id) != 0)
			ky_stix_report_at(ctx, "id", "§7.2.1",
					  "%s is not %s, the only TLP %s marking definition the "
					  "standard permits", ky_stix_quote_value(q, sizeof q, id_value),
					  tlp_markings[i].id, text);
		return;
	}
	ky_stix_report_at(ctx, "definition.tlp", "§7.2.1",
			  "%s is not one of the allowed values: white, green, amber, red",
			  ky_stix_quote_value(q, sizeof q, level));
}

/*
 * STIX 2.1 §3.2: a marking definition's object_marking_refs and granular_markings "MUST
 * NOT contain any references to the same Marking Definition object".
 */
static void check_no_self_marking(ky_stix_ctx *ctx, const json_t *object)
{
	const char *id = json_string_value(json_object_get(object, "id"));
	const json_t *refs = json_object_get(object, "object_marking_refs");
	const json_t *granular = json_object_get(object, "granular_markings");
	const json_t *item;
	size_t i;
	char key[64];

	if (!id)
		return;
	json_array_foreach(refs, i, item) {
		if (json_is_string(item) && strcasecmp(json_string_value(item), id) == 0) {
			snprintf(key, sizeof key, "object_marking_refs[%zu]", i);
			ky_stix_report_at(ctx, key, "§3.2", "a marking definition must not mark itself");
		}
	}
	json_array_foreach(granular, i, item) {
		const char *ref = json_string_value(json_object_get(item, "marking_ref"));
		if (ref && strcasecmp(ref, id) == 0) {
			snprintf(key, sizeof key, "granular_markings[%zu].marking_ref", i);
			ky_stix_report_at(ctx, key, "§3.2", "a marking definition must not mark itself");
		}
	}
}

/*
 * STIX 2.1 §7.2.1: definition_type and definition (both deprecated) "MUST be present" when
 * extensions is not. They describe one thing, the marking object and its type, so one is
 * never present without the other. A statement definition needs its statement (§7.2.1.3),
 * a TLP one its level (§7.2.1.4).
 */
static void check_marking_definition(ky_stix_ctx *ctx, const json_t *object)
{
	const json_t *type = json_object_get(object, "definition_type");
	const json_t *definition = json_object_get(object, "definition");
	bool has_extensions = json_object_get(object, "extensions") != NULL;

	if (!type && (definition || !has_extensions))
		ky_stix_report_at(ctx, "definition_type", "§7.2.1",
				  "required property is missing (%s)",
				  definition ? "definition is present" : "there are no extensions");
	if (!definition && (type || !has_extensions))
		ky_stix_report_at(ctx, "definition", "§7.2.1", "required property is missing (%s)",
				  type ? "definition_type is present" : "there are no extensions");
	if (json_is_string(type) && json_is_object(definition)) {
		const char *kind = json_string_value(type);
		const json_t *statement = json_object_get(definition, "statement");
		const json_t *level = json_object_get(definition, "tlp");

		if (strcmp(kind, "statement") == 0 && !statement)
			ky_stix_report_at(ctx, "definition.statement", "§7.2.1",
					  "required property is missing");
		if (strcmp(kind, "tlp") == 0) {
			if (!level)
				ky_stix_report_at(ctx, "definition.tlp", "§7.2.1",
						  "required property is missing");
			else if (json_is_string(level))
				check_tlp_definition(ctx, object, level);
		}
	}
	check_no_self_marking(ctx, object);
}

/* ---- Extension Definition, §7.3 ---- */

static const char *const extension_type_enum[] = {
	"new-sdo", "new-sco", "new-sro", "property-extension", "toplevel-property-extension", NULL
};

/*
 * STIX 2.1 §7.3.2: extension property names "MUST only contain the characters a–z
 * (lowercase ASCII), 0–9, and underscore (_)", 3 to 250 of them. extension_properties lists
 * such names.
 */
static void check_extension_property_name(ky_stix_ctx *ctx, const json_t *value)
{
	const char *name = json_string_value(value);
	size_t len = json_string_length(value);
	bool ok = len >= 3 && len <= 250;
	char q[KY_STIX_QUOTE_SIZE];

	for (size_t i = 0; ok && i < len; i++)
		ok = (name[i] >= 'a' && name[i] <= 'z') || (name[i] >= '0' && name[i] <= '9') || name[i] == '_';
	if (!ok)
		ky_stix_report(ctx, "§7.3.2",
			       "%s is not a valid extension property name (3 to 250 of a-z, 0-9, _)",
			       ky_stix_quote_value(q, sizeof q, value));
}

static const ky_stix_prop extension_definition_props[] = {
	{"name", KP_STRING, KY_P_REQUIRED},
	{"description", KP_STRING},
	{"schema", KP_STRING, KY_P_REQUIRED},
	{"version", KP_STRING, KY_P_REQUIRED},
	{"extension_types", KP_ENUM, KY_P_REQUIRED | KY_P_LIST, .values = extension_type_enum},
	{"extension_properties", KP_STRING, KY_P_LIST, .check = check_extension_property_name},
	{NULL}
};

/*
 * STIX 2.1 §7.3.1: extension_properties "MUST only be used when the extension_types
 * property includes a value of toplevel-property-extension". The converse is a SHOULD.
 */
static void check_extension_definition(ky_stix_ctx *ctx, const json_t *object)
{
	const json_t *types = json_object_get(object, "extension_types");
	const json_t *item;
	size_t i;

	if (!json_object_get(object, "extension_properties") || !json_is_array(types))
		return;
	json_array_foreach(types, i, item) {
		if (json_is_string(item) &&
		    strcmp(json_string_value(item), "toplevel-property-extension") == 0)
			return;
	}
	ky_stix_report_at(ctx, "extension_properties", "§7.3.1",
			  "may only be present when extension_types includes "
			  "toplevel-property-extension");
}

const ky_stix_type ky_stix_types_meta[] = {
	{"language-content", KY_STIX_LANGUAGE, "§7.1", language_content_props, NULL, NULL},
	{"marking-definition", KY_STIX_MARKING, "§7.2.1", marking_definition_props,
	 check_marking_definition, NULL},
	{"extension-definition", KY_STIX_EXTDEF, "§7.3", extension_definition_props,
	 check_extension_definition, NULL},
	{NULL}
};
