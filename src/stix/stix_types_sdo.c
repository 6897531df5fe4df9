/*
 * stix_types_sdo: the type tables of the nineteen STIX Domain Objects (STIX 2.1 §4) and the
 * vocabularies (§10) their properties draw on, for stix_validate to walk.
 *
 * Each table lists only the type-specific properties of the "Properties" table of §4.x.1;
 * the common properties of §3.2 are the engine's. The check functions hold the rules that
 * relate several properties or look at what a reference points to: time order (last_seen
 * not before first_seen), "at least one of" rules (Location, Malware Analysis, Observed
 * Data), conditional requirements (a malware family needs a name) and the formats that
 * §4.1 and §4.19 fix for CAPEC and CVE external identifiers.
 *
 * Where the errata text of STIX 2.1 disagrees with the 2021 OASIS Standard without the
 * errata's change list mentioning it, the Standard is followed: Grouping's name is
 * optional and Malware's is_family required (§4.4.1, §4.11.1), as in the OASIS schemas.
 */
#include <stdio.h>
#include <string.h>

#include "pattern/pattern.h"
#include "stix/stix_schema.h"
#include "util/ky_error.h"

/* Vocabularies (STIX 2.1 §10). Open vocabularies (-ov) suggest values; enumerations (-enum)
 * are the only values allowed. */

/* attack-motivation-ov, §10.2 */
static const char *const attack_motivation_ov[] = {
	"accidental", "coercion", "dominance", "ideology", "notoriety", "organizational-gain",
	"personal-gain", "personal-satisfaction", "revenge", "unpredictable", NULL,
};

/* attack-resource-level-ov, §10.3 */
static const char *const attack_resource_level_ov[] = {
	"individual", "club", "contest", "team", "organization", "government", NULL,
};

/* grouping-context-ov, §10.6 */
static const char *const grouping_context_ov[] = {
	"suspicious-activity", "malware-analysis", "unspecified", NULL,
};

/* identity-class-ov, §10.8 */
static const char *const identity_class_ov[] = {
	"individual", "group", "system", "organization", "class", "unknown", NULL,
};

/* implementation-language-ov, §10.9 */
static const char *const implementation_language_ov[] = {
	"applescript", "bash", "c", "c++", "c#", "go", "java", "javascript", "lua",
	"objective-c", "perl", "php", "powershell", "python", "ruby", "rust", "scala", "swift",
	"typescript", "visual-basic", "x86-32", "x86-64", NULL,
};

/* indicator-type-ov, §10.10 */
static const char *const indicator_type_ov[] = {
	"anomalous-activity", "anonymization", "benign", "compromised", "malicious-activity",
	"attribution", "unknown", NULL,
};

/* industry-sector-ov, §10.11 */
static const char *const industry_sector_ov[] = {
	"agriculture", "aerospace", "automotive", "chemical", "commercial", "communications",
	"construction", "defense", "education", "energy", "entertainment", "financial-services",
	"government", "emergency-services", "government-local", "government-national",
	"government-public-services", "government-regional", "healthcare", "hospitality-leisure",
	"infrastructure", "dams", "nuclear", "water", "insurance", "legal", "manufacturing",
	"mining", "non-profit", "pharmaceuticals", "retail", "technology", "telecommunications",
	"transportation", "utilities", NULL,
};

/* infrastructure-type-ov, §10.12 */
static const char *const infrastructure_type_ov[] = {
	"amplification", "anonymization", "botnet", "command-and-control", "control-system",
	"exfiltration", "firewall", "hosting-malware", "hosting-target-lists", "phishing",
	"reconnaissance", "routers-switches", "staging", "workstation", "unknown", NULL,
};

/* malware-capabilities-ov, §10.13 */
static const char *const malware_capabilities_ov[] = {
	"accesses-remote-machines", "anti-debugging", "anti-disassembly", "anti-emulation",
	"anti-memory-forensics", "anti-sandbox", "anti-vm", "captures-input-peripherals",
	"captures-output-peripherals", "captures-system-state-data", "cleans-traces-of-infection",
	"commits-fraud", "communicates-with-c2", "compromises-data-availability",
	"compromises-data-integrity", "compromises-system-availability", "controls-local-machine",
	"degrades-security-software", "degrades-system-updates", "determines-c2-server",
	"emails-spam", "escalates-privileges", "evades-av", "exfiltrates-data",
	"fingerprints-host", "hides-artifacts", "hides-executing-code", "infects-files",
	"infects-remote-machines", "installs-other-components", "persists-after-system-reboot",
	"prevents-artifact-access", "prevents-artifact-deletion", "probes-network-environment",
	"self-modifies", "steals-authentication-credentials",
	"violates-system-operational-integrity", NULL,
};

/* malware-result-ov, §10.14 */
static const char *const malware_result_ov[] = {
	"malicious", "suspicious", "benign", "unknown", NULL,
};

/* malware-type-ov, §10.15 */
static const char *const malware_type_ov[] = {
	"adware", "backdoor", "bot", "bootkit", "ddos", "downloader", "dropper", "exploit-kit",
	"keylogger", "ransomware", "remote-access-trojan", "resource-exploitation",
	"rogue-security-software", "rootkit", "screen-capture", "spyware", "trojan", "unknown",
	"virus", "webshell", "wiper", "worm", NULL,
};

/* opinion-enum, §10.18 */
static const char *const opinion_enum[] = {
	"strongly-disagree", "disagree", "neutral", "agree", "strongly-agree", NULL,
};

/* pattern-type-ov, §10.19 */
static const char *const pattern_type_ov[] = {
	"stix", "pcre", "sigma", "snort", "suricata", "yara", NULL,
};

/* processor-architecture-ov, §10.20 */
static const char *const processor_architecture_ov[] = {
	"alpha", "arm", "ia-64", "mips", "powerpc", "sparc", "x86", "x86-64", NULL,
};

/* region-ov, §10.21 */
static const char *const region_ov[] = {
	"africa", "eastern-africa", "middle-africa", "northern-africa", "southern-africa",
	"western-africa", "americas", "caribbean", "central-america", "latin-america-caribbean",
	"northern-america", "south-america", "asia", "central-asia", "eastern-asia",
	"southern-asia", "south-eastern-asia", "western-asia", "europe", "eastern-europe",
	"northern-europe", "southern-europe", "western-europe", "oceania", "antarctica",
	"australia-new-zealand", "melanesia", "micronesia", "polynesia", NULL,
};

/* report-type-ov, §10.22 */
static const char *const report_type_ov[] = {
	"attack-pattern", "campaign", "identity", "incident", "indicator", "intrusion-set",
	"malware", "observed-data", "threat-actor", "threat-report", "tool", "vulnerability",
	NULL,
};

/* threat-actor-type-ov, §10.23 */
static const char *const threat_actor_type_ov[] = {
	"activist", "competitor", "crime-syndicate", "criminal", "hacker", "insider-accidental",
	"insider-disgruntled", "nation-state", "private-sector", "sensationalist", "spy",
	"terrorist", "unknown", NULL,
};

/* threat-actor-role-ov, §10.24 */
static const char *const threat_actor_role_ov[] = {
	"agent", "director", "independent", "infrastructure-architect", "infrastructure-operator",
	"malware-author", "sponsor", NULL,
};

/* threat-actor-sophistication-ov, §10.25 */
static const char *const threat_actor_sophistication_ov[] = {
	"none", "minimal", "intermediate", "advanced", "expert", "innovator", "strategic", NULL,
};

/* tool-type-ov, §10.26 */
static const char *const tool_type_ov[] = {
	"denial-of-service", "exploitation", "information-gathering", "network-capture",
	"credential-exploitation", "remote-access", "vulnerability-scanning", "unknown", NULL,
};

/* Reference targets. */
static const char *const refs_software[] = {"software", NULL};
static const char *const refs_malware_sample[] = {"file", "artifact", NULL};
static const char *const refs_analysis_sample[] = {"file", "network-traffic", "artifact", NULL};

/* True when `id` names an SCO or a custom type, which may be a custom SCO (§11.2). */
static bool may_be_sco(const char *id)
{
	const ky_stix_type *t = ky_stix_id_type(id);

	return t == NULL || t->category == KY_STIX_SCO;
}

/*
 * STIX 2.1 §4.1.1 and §4.19.1: an external reference whose source_name is `source` gives
 * its identifier in external_id as `prefix` followed by what `valid_rest` accepts; `form`
 * shows that shape in the message.
 */
static void check_external_ids(ky_stix_ctx *ctx, const json_t *object, const char *source,
			       const char *prefix, bool (*valid_rest)(const char *),
			       const char *form, const char *section)
{
	const json_t *refs = json_object_get(object, "external_references");
	const json_t *ref;
	size_t prefix_len = strlen(prefix);
	size_t i;

	json_array_foreach(refs, i, ref) {
		const char *name = json_string_value(json_object_get(ref, "source_name"));
		const json_t *id_value = json_object_get(ref, "external_id");
		const char *id = json_string_value(id_value);
		char key[64], q[KY_STIX_QUOTE_SIZE];

		if (name == NULL || strcmp(name, source) != 0 || id == NULL)
			continue;
		if (strncmp(id, prefix, prefix_len) == 0 && valid_rest(id + prefix_len))
			continue;
		snprintf(key, sizeof key, "external_references[%zu].external_id", i);
		ky_stix_report_at(ctx, key, section, "%s is not formatted as %s",
				  ky_stix_quote_value(q, sizeof q, id_value), form);
	}
}

/* One or more decimal digits and nothing else. */
static bool is_digits(const char *s)
{
	if (*s == '\0')
		return false;
	for (; *s != '\0'; s++)
		if (*s < '0' || *s > '9')
			return false;
	return true;
}

/*
 * The part of a CVE identifier after "CVE-": a four-digit year, '-', and a sequence number
 * of four digits, or of more digits without a leading zero (the CVE ID syntax, as the OASIS
 * schema's external-reference.json checks it).
 */
static bool is_cve_rest(const char *s)
{
	size_t seq_len;

	for (int i = 0; i < 4; i++)
		if (s[i] < '0' || s[i] > '9')
			return false;
	if (s[4] != '-' || !is_digits(s + 5))
		return false;
	seq_len = strlen(s + 5);
	return seq_len == 4 || (seq_len > 4 && s[5] != '0');
}

/* STIX 2.1 §4.1.1: "the external_id property MUST be formatted as CAPEC-[id]". */
static void check_attack_pattern(ky_stix_ctx *ctx, const json_t *object)
{
	check_external_ids(ctx, object, "capec", "CAPEC-", is_digits, "CAPEC-[id]", "§4.1.1");
}

static const ky_stix_prop attack_pattern_props[] = {
	{.name = "name", .kind = KP_STRING, .flags = KY_P_REQUIRED},
	{.name = "description", .kind = KP_STRING},
	{.name = "aliases", .kind = KP_STRING, .flags = KY_P_LIST},
	{.name = "kill_chain_phases", .kind = KP_KILL_CHAIN, .flags = KY_P_LIST},
	{NULL},
};

/* STIX 2.1 §4.2.1: last_seen MUST be greater than or equal to first_seen. */
static void check_campaign(ky_stix_ctx *ctx, const json_t *object)
{
	ky_stix_check_time_order(ctx, object, "first_seen", "last_seen", false, "§4.2.1");
}

static const ky_stix_prop campaign_props[] = {
	{.name = "name", .kind = KP_STRING, .flags = KY_P_REQUIRED},
	{.name = "description", .kind = KP_STRING},
	{.name = "aliases", .kind = KP_STRING, .flags = KY_P_LIST},
	{.name = "first_seen", .kind = KP_TIMESTAMP},
	{.name = "last_seen", .kind = KP_TIMESTAMP},
	{.name = "objective", .kind = KP_STRING},
	{NULL},
};

static const ky_stix_prop course_of_action_props[] = {
	{.name = "name", .kind = KP_STRING, .flags = KY_P_REQUIRED},
	{.name = "description", .kind = KP_STRING},
	/* §4.3.1's action is RESERVED: left out, so the reserved-name rule of §3.8 refuses it. */
	{NULL},
};

static const ky_stix_prop grouping_props[] = {
	{.name = "name", .kind = KP_STRING},
	{.name = "description", .kind = KP_STRING},
	{.name = "context", .kind = KP_OPENVOCAB, .flags = KY_P_REQUIRED,
	 .values = grouping_context_ov},
	{.name = "object_refs", .kind = KP_ID, .flags = KY_P_REQUIRED | KY_P_LIST},
	{NULL},
};

static const ky_stix_prop identity_props[] = {
	{.name = "name", .kind = KP_STRING, .flags = KY_P_REQUIRED},
	{.name = "description", .kind = KP_STRING},
	{.name = "roles", .kind = KP_STRING, .flags = KY_P_LIST},
	{.name = "identity_class", .kind = KP_OPENVOCAB, .values = identity_class_ov},
	{.name = "sectors", .kind = KP_OPENVOCAB, .flags = KY_P_LIST, .values = industry_sector_ov},
	{.name = "contact_information", .kind = KP_STRING},
	{NULL},
};

static const ky_stix_prop incident_props[] = {
	{.name = "name", .kind = KP_STRING, .flags = KY_P_REQUIRED},
	{.name = "description", .kind = KP_STRING},
	{NULL},
};

/*
 * STIX 2.1 §4.7.1: valid_until "MUST be greater than the timestamp in the valid_from", and a
 * pattern of pattern_type "stix" is a STIX pattern (§9), checked by the pattern module with
 * the OASIS validator's verdicts. Patterns of other types (snort, suricata, sigma, pcre,
 * yara, ...) are kept as given: their languages have tools of their own.
 */
static void check_indicator(ky_stix_ctx *ctx, const json_t *object)
{
	ky_stix_check_time_order(ctx, object, "valid_from", "valid_until", true, "§4.7.1");
	const json_t *pattern = json_object_get(object, "pattern");
	const char *type = json_string_value(json_object_get(object, "pattern_type"));
	if (!json_is_string(pattern) || type == NULL || strcmp(type, "stix") != 0)
		return;
	ky_pattern *parsed = NULL;
	int rc = ky_pattern_parse(&parsed, json_string_value(pattern), json_string_length(pattern));
	if (rc == KY_ENOMEM)
		ky_stix_out_of_memory(ctx);
	else if (rc != KY_OK)
		ky_stix_report_at(ctx, "pattern", "§9", "%s", ky_error_last());
	ky_pattern_free(parsed);
}

static const ky_stix_prop indicator_props[] = {
	{.name = "name", .kind = KP_STRING},
	{.name = "description", .kind = KP_STRING},
	{.name = "indicator_types", .kind = KP_OPENVOCAB, .flags = KY_P_LIST,
	 .values = indicator_type_ov},
	{.name = "pattern", .kind = KP_STRING, .flags = KY_P_REQUIRED},
	{.name = "pattern_type", .kind = KP_OPENVOCAB, .flags = KY_P_REQUIRED,
	 .values = pattern_type_ov},
	{.name = "pattern_version", .kind = KP_STRING},
	{.name = "valid_from", .kind = KP_TIMESTAMP, .flags = KY_P_REQUIRED},
	{.name = "valid_until", .kind = KP_TIMESTAMP},
	{.name = "kill_chain_phases", .kind = KP_KILL_CHAIN, .flags = KY_P_LIST},
	{NULL},
};

/* STIX 2.1 §4.8.1: last_seen MUST be greater than or equal to first_seen. */
static void check_infrastructure(ky_stix_ctx *ctx, const json_t *object)
{
	ky_stix_check_time_order(ctx, object, "first_seen", "last_seen", false, "§4.8.1");
}

static const ky_stix_prop infrastructure_props[] = {
	{.name = "name", .kind = KP_STRING, .flags = KY_P_REQUIRED},
	{.name = "description", .kind = KP_STRING},
	{.name = "infrastructure_types", .kind = KP_OPENVOCAB, .flags = KY_P_LIST,
	 .values = infrastructure_type_ov},
	{.name = "aliases", .kind = KP_STRING, .flags = KY_P_LIST},
	{.name = "kill_chain_phases", .kind = KP_KILL_CHAIN, .flags = KY_P_LIST},
	{.name = "first_seen", .kind = KP_TIMESTAMP},
	{.name = "last_seen", .kind = KP_TIMESTAMP},
	{NULL},
};

/* STIX 2.1 §4.9.1: last_seen MUST be greater than or equal to first_seen. */
static void check_intrusion_set(ky_stix_ctx *ctx, const json_t *object)
{
	ky_stix_check_time_order(ctx, object, "first_seen", "last_seen", false, "§4.9.1");
}

static const ky_stix_prop intrusion_set_props[] = {
	{.name = "name", .kind = KP_STRING, .flags = KY_P_REQUIRED},
	{.name = "description", .kind = KP_STRING},
	{.name = "aliases", .kind = KP_STRING, .flags = KY_P_LIST},
	{.name = "first_seen", .kind = KP_TIMESTAMP},
	{.name = "last_seen", .kind = KP_TIMESTAMP},
	{.name = "goals", .kind = KP_STRING, .flags = KY_P_LIST},
	{.name = "resource_level", .kind = KP_OPENVOCAB, .values = attack_resource_level_ov},
	{.name = "primary_motivation", .kind = KP_OPENVOCAB, .values = attack_motivation_ov},
	{.name = "secondary_motivations", .kind = KP_OPENVOCAB, .flags = KY_P_LIST,
	 .values = attack_motivation_ov},
	{NULL},
};

/*
 * STIX 2.1 §4.10: at least one of region, country, or latitude and longitude MUST be
 * present; latitude and longitude come together (§4.10.1), and precision needs both.
 */
static void check_location(ky_stix_ctx *ctx, const json_t *object)
{
	bool lat = json_object_get(object, "latitude") != NULL;
	bool lon = json_object_get(object, "longitude") != NULL;

	if (lat && !lon)
		ky_stix_report_at(ctx, "longitude", "§4.10.1",
				  "required property is missing when latitude is present");
	if (lon && !lat)
		ky_stix_report_at(ctx, "latitude", "§4.10.1",
				  "required property is missing when longitude is present");
	if (json_object_get(object, "precision") != NULL && !(lat && lon))
		ky_stix_report_at(ctx, "precision", "§4.10.1",
				  "must not be present without both latitude and longitude");
	if (json_object_get(object, "region") == NULL && json_object_get(object, "country") == NULL
	    && !(lat && lon))
		ky_stix_report(ctx, "§4.10",
			       "at least one of region, country, or latitude and longitude "
			       "must be present");
}

static const ky_stix_prop location_props[] = {
	{.name = "name", .kind = KP_STRING},
	{.name = "description", .kind = KP_STRING},
	{.name = "latitude", .kind = KP_FLOAT, .flags = KY_P_RANGE, .fmin = -90.0, .fmax = 90.0},
	{.name = "longitude", .kind = KP_FLOAT, .flags = KY_P_RANGE, .fmin = -180.0, .fmax = 180.0},
	{.name = "precision", .kind = KP_FLOAT},
	{.name = "region", .kind = KP_OPENVOCAB, .values = region_ov},
	{.name = "country", .kind = KP_STRING},
	{.name = "administrative_area", .kind = KP_STRING},
	{.name = "city", .kind = KP_STRING},
	{.name = "street_address", .kind = KP_STRING},
	{.name = "postal_code", .kind = KP_STRING},
	{NULL},
};

/*
 * STIX 2.1 §4.11.1: "For a malware family the name MUST be defined", and last_seen MUST be
 * greater than or equal to first_seen.
 */
static void check_malware(ky_stix_ctx *ctx, const json_t *object)
{
	if (json_is_true(json_object_get(object, "is_family"))
	    && json_object_get(object, "name") == NULL)
		ky_stix_report_at(ctx, "name", "§4.11.1",
				  "required property is missing when is_family is true");
	ky_stix_check_time_order(ctx, object, "first_seen", "last_seen", false, "§4.11.1");
}

static const ky_stix_prop malware_props[] = {
	{.name = "name", .kind = KP_STRING},
	{.name = "description", .kind = KP_STRING},
	{.name = "malware_types", .kind = KP_OPENVOCAB, .flags = KY_P_LIST,
	 .values = malware_type_ov},
	{.name = "is_family", .kind = KP_BOOLEAN, .flags = KY_P_REQUIRED},
	{.name = "aliases", .kind = KP_STRING, .flags = KY_P_LIST},
	{.name = "kill_chain_phases", .kind = KP_KILL_CHAIN, .flags = KY_P_LIST},
	{.name = "first_seen", .kind = KP_TIMESTAMP},
	{.name = "last_seen", .kind = KP_TIMESTAMP},
	{.name = "operating_system_refs", .kind = KP_ID, .flags = KY_P_LIST,
	 .values = refs_software},
	{.name = "architecture_execution_envs", .kind = KP_OPENVOCAB, .flags = KY_P_LIST,
	 .values = processor_architecture_ov},
	{.name = "implementation_languages", .kind = KP_OPENVOCAB, .flags = KY_P_LIST,
	 .values = implementation_language_ov},
	{.name = "capabilities", .kind = KP_OPENVOCAB, .flags = KY_P_LIST,
	 .values = malware_capabilities_ov},
	{.name = "sample_refs", .kind = KP_ID, .flags = KY_P_LIST, .values = refs_malware_sample},
	{NULL},
};

/* STIX 2.1 §4.12: "One of result or analysis_sco_refs properties MUST be provided." */
static void check_malware_analysis(ky_stix_ctx *ctx, const json_t *object)
{
	if (json_object_get(object, "result") == NULL
	    && json_object_get(object, "analysis_sco_refs") == NULL)
		ky_stix_report(ctx, "§4.12",
			       "at least one of result or analysis_sco_refs must be present");
}

/*
 * STIX 2.1 §4.12.1: analysis_sco_refs holds "references to the STIX Cyber-observable
 * Objects". A custom type may be a custom SCO, so only known non-SCO types are refused.
 */
static void check_sco_ref(ky_stix_ctx *ctx, const json_t *value)
{
	const char *id = json_string_value(value);
	char q[KY_STIX_QUOTE_SIZE];

	if (!may_be_sco(id))
		ky_stix_report(ctx, "§4.12.1", "%s must refer to an SCO", ky_stix_quote_value(q, sizeof q, value));
}

static const ky_stix_prop malware_analysis_props[] = {
	{.name = "product", .kind = KP_STRING, .flags = KY_P_REQUIRED},
	{.name = "version", .kind = KP_STRING},
	{.name = "host_vm_ref", .kind = KP_ID, .values = refs_software},
	{.name = "operating_system_ref", .kind = KP_ID, .values = refs_software},
	{.name = "installed_software_refs", .kind = KP_ID, .flags = KY_P_LIST,
	 .values = refs_software},
	{.name = "configuration_version", .kind = KP_STRING},
	{.name = "modules", .kind = KP_STRING, .flags = KY_P_LIST},
	{.name = "analysis_engine_version", .kind = KP_STRING},
	{.name = "analysis_definition_version", .kind = KP_STRING},
	{.name = "submitted", .kind = KP_TIMESTAMP},
	{.name = "analysis_started", .kind = KP_TIMESTAMP},
	{.name = "analysis_ended", .kind = KP_TIMESTAMP},
	{.name = "result_name", .kind = KP_STRING},
	{.name = "result", .kind = KP_OPENVOCAB, .values = malware_result_ov},
	{.name = "analysis_sco_refs", .kind = KP_ID, .flags = KY_P_LIST, .check = check_sco_ref},
	{.name = "sample_ref", .kind = KP_ID, .values = refs_analysis_sample},
	{NULL},
};

static const ky_stix_prop note_props[] = {
	{.name = "abstract", .kind = KP_STRING},
	{.name = "content", .kind = KP_STRING, .flags = KY_P_REQUIRED},
	{.name = "authors", .kind = KP_STRING, .flags = KY_P_LIST},
	{.name = "object_refs", .kind = KP_ID, .flags = KY_P_REQUIRED | KY_P_LIST},
	{NULL},
};

/*
 * STIX 2.1 §4.14: exactly one of objects and object_refs; last_observed not before
 * first_observed; object_refs "MUST contain at least one SCO reference" (§4.14.1).
 */
static void check_observed_data(ky_stix_ctx *ctx, const json_t *object)
{
	const json_t *objects = json_object_get(object, "objects");
	const json_t *refs = json_object_get(object, "object_refs");
	const json_t *ref;
	bool sco = false;
	size_t i;

	if (objects != NULL && refs != NULL)
		ky_stix_report_at(ctx, "objects", "§4.14",
				  "must not be present together with object_refs");
	if (objects == NULL && refs == NULL)
		ky_stix_report(ctx, "§4.14", "one of objects or object_refs must be present");
	ky_stix_check_time_order(ctx, object, "first_observed", "last_observed", false,
				 "§4.14.1");

	/* A malformed element is the property check's to report; the list is judged whole. */
	if (json_array_size(refs) == 0)
		return;
	json_array_foreach(refs, i, ref) {
		const char *id = json_string_value(ref);

		if (id == NULL || !ky_stix_id_parse(id, NULL))
			return;
		if (may_be_sco(id))
			sco = true;
	}
	if (!sco)
		ky_stix_report_at(ctx, "object_refs", "§4.14.1",
				  "must contain at least one reference to an SCO");
}

/* STIX 2.1 §4.14.1: object_refs is "A list of SCOs and SROs representing the observation". */
static void check_observed_ref(ky_stix_ctx *ctx, const json_t *value)
{
	const char *id = json_string_value(value);
	const ky_stix_type *t = ky_stix_id_type(id);
	char q[KY_STIX_QUOTE_SIZE];

	if (t != NULL && t->category != KY_STIX_SCO && t->category != KY_STIX_SRO)
		ky_stix_report(ctx, "§4.14.1", "%s must refer to an SCO or an SRO",
			       ky_stix_quote_value(q, sizeof q, value));
}

/* STIX 2.1 §2.13: the deprecated observable container holds Cyber-observable Objects. */
static void check_observable_container(ky_stix_ctx *ctx, const json_t *value)
{
	const char *key;
	const json_t *sco;

	json_object_foreach((json_t *)value, key, sco) {
		if (!json_is_object(sco) || !json_is_string(json_object_get(sco, "type")))
			ky_stix_report_at(ctx, key, "§2.13",
					  "expected a Cyber-observable Object with a type");
	}
}

static const ky_stix_prop observed_data_props[] = {
	{.name = "first_observed", .kind = KP_TIMESTAMP, .flags = KY_P_REQUIRED},
	{.name = "last_observed", .kind = KP_TIMESTAMP, .flags = KY_P_REQUIRED},
	{.name = "number_observed", .kind = KP_INTEGER, .flags = KY_P_REQUIRED | KY_P_RANGE,
	 .min = 1, .max = 999999999},
	{.name = "objects", .kind = KP_DICT, .check = check_observable_container},
	{.name = "object_refs", .kind = KP_ID, .flags = KY_P_LIST, .check = check_observed_ref},
	{NULL},
};

static const ky_stix_prop opinion_props[] = {
	{.name = "explanation", .kind = KP_STRING},
	{.name = "authors", .kind = KP_STRING, .flags = KY_P_LIST},
	{.name = "opinion", .kind = KP_ENUM, .flags = KY_P_REQUIRED, .values = opinion_enum},
	{.name = "object_refs", .kind = KP_ID, .flags = KY_P_REQUIRED | KY_P_LIST},
	{NULL},
};

static const ky_stix_prop report_props[] = {
	{.name = "name", .kind = KP_STRING, .flags = KY_P_REQUIRED},
	{.name = "description", .kind = KP_STRING},
	{.name = "report_types", .kind = KP_OPENVOCAB, .flags = KY_P_LIST,
	 .values = report_type_ov},
	{.name = "published", .kind = KP_TIMESTAMP, .flags = KY_P_REQUIRED},
	{.name = "object_refs", .kind = KP_ID, .flags = KY_P_REQUIRED | KY_P_LIST},
	{NULL},
};

/* STIX 2.1 §4.17.1: last_seen MUST be greater than or equal to first_seen. */
static void check_threat_actor(ky_stix_ctx *ctx, const json_t *object)
{
	ky_stix_check_time_order(ctx, object, "first_seen", "last_seen", false, "§4.17.1");
}

static const ky_stix_prop threat_actor_props[] = {
	{.name = "name", .kind = KP_STRING, .flags = KY_P_REQUIRED},
	{.name = "description", .kind = KP_STRING},
	{.name = "threat_actor_types", .kind = KP_OPENVOCAB, .flags = KY_P_LIST,
	 .values = threat_actor_type_ov},
	{.name = "aliases", .kind = KP_STRING, .flags = KY_P_LIST},
	{.name = "first_seen", .kind = KP_TIMESTAMP},
	{.name = "last_seen", .kind = KP_TIMESTAMP},
	{.name = "roles", .kind = KP_OPENVOCAB, .flags = KY_P_LIST, .values = threat_actor_role_ov},
	{.name = "goals", .kind = KP_STRING, .flags = KY_P_LIST},
	{.name = "sophistication", .kind = KP_OPENVOCAB, .values = threat_actor_sophistication_ov},
	{.name = "resource_level", .kind = KP_OPENVOCAB, .values = attack_resource_level_ov},
	{.name = "primary_motivation", .kind = KP_OPENVOCAB, .values = attack_motivation_ov},
	{.name = "secondary_motivations", .kind = KP_OPENVOCAB, .flags = KY_P_LIST,
	 .values = attack_motivation_ov},
	{.name = "personal_motivations", .kind = KP_OPENVOCAB, .flags = KY_P_LIST,
	 .values = attack_motivation_ov},
	{NULL},
};

static const ky_stix_prop tool_props[] = {
	{.name = "name", .kind = KP_STRING, .flags = KY_P_REQUIRED},
	{.name = "description", .kind = KP_STRING},
	{.name = "tool_types", .kind = KP_OPENVOCAB, .flags = KY_P_LIST, .values = tool_type_ov},
	{.name = "aliases", .kind = KP_STRING, .flags = KY_P_LIST},
	{.name = "kill_chain_phases", .kind = KP_KILL_CHAIN, .flags = KY_P_LIST},
	{.name = "tool_version", .kind = KP_STRING},
	{NULL},
};

/* STIX 2.1 §4.19.1: with source_name cve, "external_id MUST be the exact CVE identifier". */
static void check_vulnerability(ky_stix_ctx *ctx, const json_t *object)
{
	check_external_ids(ctx, object, "cve", "CVE-", is_cve_rest, "CVE-YYYY-NNNN", "§4.19.1");
}

static const ky_stix_prop vulnerability_props[] = {
	{.name = "name", .kind = KP_STRING, .flags = KY_P_REQUIRED},
	{.name = "description", .kind = KP_STRING},
	{NULL},
};

const ky_stix_type ky_stix_types_sdo[] = {
	{"attack-pattern", KY_STIX_SDO, "§4.1", attack_pattern_props, check_attack_pattern, NULL},
	{"campaign", KY_STIX_SDO, "§4.2", campaign_props, check_campaign, NULL},
	{"course-of-action", KY_STIX_SDO, "§4.3", course_of_action_props, NULL, NULL},
	{"grouping", KY_STIX_SDO, "§4.4", grouping_props, NULL, NULL},
	{"identity", KY_STIX_SDO, "§4.5", identity_props, NULL, NULL},
	{"incident", KY_STIX_SDO, "§4.6", incident_props, NULL, NULL},
	{"indicator", KY_STIX_SDO, "§4.7", indicator_props, check_indicator, NULL},
	{"infrastructure", KY_STIX_SDO, "§4.8", infrastructure_props, check_infrastructure, NULL},
	{"intrusion-set", KY_STIX_SDO, "§4.9", intrusion_set_props, check_intrusion_set, NULL},
	{"location", KY_STIX_SDO, "§4.10", location_props, check_location, NULL},
	{"malware", KY_STIX_SDO, "§4.11", malware_props, check_malware, NULL},
	{"malware-analysis", KY_STIX_SDO, "§4.12", malware_analysis_props, check_malware_analysis,
	 NULL},
	{"note", KY_STIX_SDO, "§4.13", note_props, NULL, NULL},
	{"observed-data", KY_STIX_SDO, "§4.14", observed_data_props, check_observed_data, NULL},
	{"opinion", KY_STIX_SDO, "§4.15", opinion_props, NULL, NULL},
	{"report", KY_STIX_SDO, "§4.16", report_props, NULL, NULL},
	{"threat-actor", KY_STIX_SDO, "§4.17", threat_actor_props, check_threat_actor, NULL},
	{"tool", KY_STIX_SDO, "§4.18", tool_props, NULL, NULL},
	{"vulnerability", KY_STIX_SDO, "§4.19", vulnerability_props, check_vulnerability, NULL},
	{NULL},
};
