/*
 * stix_types_sco: the STIX Cyber-observable Objects of STIX 2.1 §6 as tables for
 * stix_validate, with their predefined extensions (§3.10, e.g. ntfs-ext on file), the
 * enumerations and vocabularies they use (§10), and the rules the tables cannot say.
 *
 * The rules fall into three groups:
 *   - "at least one of" rules (a file has hashes or name, a process or user account has at
 *     least one property of its own, most extensions are not empty);
 *   - rules between properties (payload_bin excludes url, end only when is_active is false
 *     and not before start, body only on a single-part email);
 *   - the textual form of values the standard pins to another standard (IP and MAC
 *     addresses, domain names, e-mail addresses, URLs, CPE names, language tags).
 * A producer that sets defanged (§3.2) has altered the data on purpose ("hxxp://",
 * "198.51.100[.]3"), so the address and URL forms are not checked on defanged objects.
 */
#include <arpa/inet.h>
#include <stdbool.h>
#include <stddef.h>
#include <string.h>
#include <strings.h>

#include "stix/stix_schema.h"

/* The largest I-JSON integer (§2.10): the upper bound of counts that only have a lower one. */
#define IJSON_MAX 9007199254740991LL

/* A table row's kind and range for sizes and counts the standard says are not negative. */
#define NON_NEGATIVE .kind = KP_INTEGER, .flags = KY_P_RANGE, .min = 0, .max = IJSON_MAX

/* ---- Enumerations and open vocabularies (§10) ---------------------------------------- */

static const char *const account_type_ov[] = {            /* §10.1 */
	"facebook", "ldap", "nis", "openid", "radius", "skype", "tacacs", "twitter", "unix",
	"windows-local", "windows-domain", NULL};

static const char *const encryption_algorithm_enum[] = {  /* §10.4 */
	"AES-256-GCM", "ChaCha20-Poly1305", "mime-type-indicated", NULL};

/* §10.16 */
static const char *const network_socket_address_family_enum[] = {
	"AF_UNSPEC", "AF_INET", "AF_IPX", "AF_APPLETALK", "AF_NETBIOS", "AF_INET6", "AF_IRDA",
	"AF_BTH", NULL};

/* §10.17. The summary line of the standard reads "AF_ISOCK_DGRAMNET", a typing slip; the
 * value table and the OASIS schema both define SOCK_DGRAM. */
static const char *const network_socket_type_enum[] = {
	"SOCK_STREAM", "SOCK_DGRAM", "SOCK_RAW", "SOCK_RDM", "SOCK_SEQPACKET", NULL};

static const char *const windows_integrity_level_enum[] = {  /* §10.27 */
	"low", "medium", "high", "system", NULL};

static const char *const windows_pebinary_type_ov[] = {  /* §10.28 */
	"dll", "exe", "sys", NULL};

static const char *const windows_registry_datatype_enum[] = {  /* §10.29 */
	"REG_NONE", "REG_SZ", "REG_EXPAND_SZ", "REG_BINARY", "REG_DWORD", "REG_DWORD_BIG_ENDIAN",
	"REG_DWORD_LITTLE_ENDIAN", "REG_LINK", "REG_MULTI_SZ", "REG_RESOURCE_LIST",
	"REG_FULL_RESOURCE_DESCRIPTION", "REG_RESOURCE_REQUIREMENTS_LIST", "REG_QWORD",
	"REG_INVALID_TYPE", NULL};

static const char *const windows_service_start_type_enum[] = {  /* §10.30 */
	"SERVICE_AUTO_START", "SERVICE_BOOT_START", "SERVICE_DEMAND_START", "SERVICE_DISABLED",
	"SERVICE_SYSTEM_ALERT", NULL};

static const char *const windows_service_type_enum[] = {  /* §10.31 */
	"SERVICE_KERNEL_DRIVER", "SERVICE_FILE_SYSTEM_DRIVER", "SERVICE_WIN32_OWN_PROCESS",
	"SERVICE_WIN32_SHARE_PROCESS", NULL};

static const char *const windows_service_status_enum[] = {  /* §10.32 */
	"SERVICE_CONTINUE_PENDING", "SERVICE_PAUSE_PENDING", "SERVICE_PAUSED", "SERVICE_RUNNING",
	"SERVICE_START_PENDING", "SERVICE_STOP_PENDING", "SERVICE_STOPPED", NULL};

/* ---- Reference targets ---------------------------------------------------------------- */

static const char *const to_artifact[] = {"artifact", NULL};
static const char *const to_artifact_file[] = {"artifact", "file", NULL};
static const char *const to_autonomous_system[] = {"autonomous-system", NULL};
static const char *const to_directory[] = {"directory", NULL};
static const char *const to_email_addr[] = {"email-addr", NULL};
static const char *const to_file[] = {"file", NULL};
static const char *const to_file_directory[] = {"file", "directory", NULL};
static const char *const to_ip_domain[] = {"ipv4-addr", "ipv6-addr", "domain-name", NULL};
static const char *const to_mac_addr[] = {"mac-addr", NULL};
static const char *const to_network_traffic[] = {"network-traffic", NULL};
static const char *const to_process[] = {"process", NULL};
static const char *const to_traffic_endpoint[] = {
	"ipv4-addr", "ipv6-addr", "mac-addr", "domain-name", NULL};
static const char *const to_user_account[] = {"user-account", NULL};

/* ---- Helpers ------------------------------------------------------------------------- */

static bool is_defanged(const json_t *object)
{
	return json_is_true(json_object_get(object, "defanged"));
}

/* True when `object` has at least one of the properties in `props` other than `except`. */
static bool has_any(const json_t *object, const ky_stix_prop *props, const char *except)
{
	for (const ky_stix_prop *p = props; p->name; p++) {
		if (except && strcmp(p->name, except) == 0)
			continue;
		if (json_object_get(object, p->name))
			return true;
	}
	return false;
}

/* ASCII classes that do not depend on the locale. */
static bool ascii_alpha(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static bool ascii_digit(unsigned char c)
{
	return c >= '0' && c <= '9';
}

static bool ascii_alnum(unsigned char c)
{
	return ascii_alpha(c) || ascii_digit(c);
}

/* Checks the form of the "value" property with `valid`, unless the object is defanged. */
static void check_value_form(ky_stix_ctx *ctx, const json_t *object, bool (*valid)(const char *),
			     const char *section, const char *what)
{
	const json_t *string = json_object_get(object, "value");
	const char *value = json_string_value(string);
	char buf[KY_STIX_QUOTE_SIZE];

	if (value && !is_defanged(object) && !valid(value))
		ky_stix_report_at(ctx, "value", section, "%s is not %s",
				  ky_stix_quote_value(buf, sizeof buf, string), what);
}

/* A decimal number of at most three digits, no leading zero, at most `max`. */
static bool parse_small_decimal(const char **text, unsigned max)
{
	const char *s = *text;
	unsigned v = 0;
	size_t n = 0;

	while (s[n] >= '0' && s[n] <= '9') {
		v = v * 10 + (unsigned)(s[n] - '0');
		if (++n > 3 || v > max)
			return false;
	}
	if (n == 0 || (n > 1 && s[0] == '0'))
		return false;
	*text = s + n;
	return true;
}

/* An optional CIDR suffix "/n" with n ≤ max, then the end of the string. */
static bool cidr_suffix_valid(const char *s, unsigned max)
{
	if (*s == '\0')
		return true;
	if (*s++ != '/' || !parse_small_decimal(&s, max))
		return false;
	return *s == '\0';
}

/* STIX 2.1 §6.8.1: dotted-quad IPv4, optionally with a CIDR prefix length. Leading zeros
 * are refused: some readers take them as octal. */
static bool ipv4_valid(const char *s)
{
	for (int i = 0; i < 4; i++) {
		if (i > 0 && *s++ != '.')
			return false;
		if (!parse_small_decimal(&s, 255))
			return false;
	}
	return cidr_suffix_valid(s, 32);
}

/* STIX 2.1 §6.9.1: an RFC 4291 IPv6 address, optionally with a CIDR prefix length. */
static bool ipv6_valid(const char *s)
{
	char addr[INET6_ADDRSTRLEN];
	struct in6_addr parsed;
	size_t n = strcspn(s, "/");

	if (n >= sizeof addr)
		return false;
	memcpy(addr, s, n);
	addr[n] = '\0';
	return inet_pton(AF_INET6, addr, &parsed) == 1 && cidr_suffix_valid(s + n, 128);
}

/* STIX 2.1 §6.10.1: "a single colon-delimited, lowercase MAC-48 address, which MUST include
 * leading zeros for each octet". */
static bool mac_valid(const char *s)
{
	for (int i = 0; i < 17; i++) {
		bool colon = i % 3 == 2;
		if (colon ? s[i] != ':' : !((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return false;
	}
	return s[17] == '\0';
}

/*
 * STIX 2.1 §6.4.1: a domain name per RFC 1034 whose labels follow RFC 5890. Labels are 1-63
 * octets of letters, digits, hyphens (not first or last) and, for internationalized labels,
 * non-ASCII characters; the whole name is at most 253 octets plus an optional final dot.
 * The underscore is accepted: RFC 1034 calls its letter-digit-hyphen syntax "preferred" and
 * service labels such as _dmarc are real domain names.
 */
static bool domain_valid(const char *s)
{
	size_t total = strlen(s), label = 0;

	if (total > 0 && s[total - 1] == '.')
		total--;
	if (total == 0 || total > 253)
		return false;
	for (size_t i = 0; i <= total; i++) {
		unsigned char c = i < total ? (unsigned char)s[i] : '.';
		if (c == '.') {
			if (label == 0 || s[i - 1] == '-')
				return false;
			label = 0;
			continue;
		}
		if (!(ascii_alnum(c) || c == '-' || c == '_' || c >= 0x80))
			return false;
		if (c == '-' && label == 0)
			return false;
		if (++label > 63)
			return false;
	}
	return true;
}

/* RFC 5322 §3.2.3 atext, with the UTF-8 of RFC 6532. */
static bool is_atext(unsigned char c)
{
	return ascii_alnum(c) || c >= 0x80 || (c && strchr("!#$%&'*+-/=?^_`{|}~", c));
}

/* A dot-atom (RFC 5322 §3.2.3) spanning s[0..n). */
static bool dot_atom_valid(const char *s, size_t n)
{
	if (n == 0 || s[0] == '.' || s[n - 1] == '.')
		return false;
	for (size_t i = 0; i < n; i++) {
		if (s[i] == '.' ? s[i + 1] == '.' : !is_atext((unsigned char)s[i]))
			return false;
	}
	return true;
}

/*
 * STIX 2.1 §6.5.1: the addr-spec of RFC 5322 §3.4 ("local-part@domain"), without a display
 * name. The local part is a dot-atom or a quoted string, the domain a dot-atom or a
 * bracketed domain literal.
 */
static bool email_valid(const char *s)
{
	const char *at = strrchr(s, '@');
	size_t local, domain;

	if (!at)
		return false;
	local = (size_t)(at - s);
	domain = strlen(at + 1);
	if (local >= 2 && s[0] == '"' && s[local - 1] == '"') {
		for (size_t i = 1; i + 1 < local; i++) {
			if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
				return false;
		}
	} else if (!dot_atom_valid(s, local)) {
		return false;
	}
	if (domain >= 2 && at[1] == '[' && at[domain] == ']')
		return strcspn(at + 2, "[]\\ \t") == domain - 2;
	return dot_atom_valid(at + 1, domain);
}

/* ---- Value checks --------------------------------------------------------------------- */

/* STIX 2.1 §6.6.1, §6.12.2: a dictionary whose every value is a list of strings. */
static void check_values_string_lists(ky_stix_ctx *ctx, const json_t *dict, const char *section)
{
	const char *key;
	json_t *value;

	json_object_foreach((json_t *)dict, key, value) {
		bool ok = json_is_array(value) && json_array_size(value) > 0;
		for (size_t i = 0; ok && i < json_array_size(value); i++)
			ok = json_is_string(json_array_get(value, i));
		if (!ok)
			ky_stix_report_at(ctx, key, section, "expected a non-empty list of strings");
	}
}

static void check_email_header_fields(ky_stix_ctx *ctx, const json_t *dict)
{
	check_values_string_lists(ctx, dict, "§6.6.1");
}

static void check_http_request_header(ky_stix_ctx *ctx, const json_t *dict)
{
	check_values_string_lists(ctx, dict, "§6.12.2");
}

/* A dictionary whose values must be strings, or integers too when `integers` is set. */
static void check_values_scalar(ky_stix_ctx *ctx, const json_t *dict, bool integers,
				const char *section)
{
	const char *key;
	json_t *value;

	json_object_foreach((json_t *)dict, key, value) {
		if (!json_is_string(value) && !(integers && json_is_integer(value)))
			ky_stix_report_at(ctx, key, section, "expected %s",
					  integers ? "an integer or a string" : "a string");
	}
}

static void check_ipfix(ky_stix_ctx *ctx, const json_t *dict)
{
	check_values_scalar(ctx, dict, true, "§6.12.1");
}

static void check_exif_tags(ky_stix_ctx *ctx, const json_t *dict)
{
	check_values_scalar(ctx, dict, true, "§6.7.5");
}

static void check_document_info_dict(ky_stix_ctx *ctx, const json_t *dict)
{
	check_values_scalar(ctx, dict, false, "§6.7.4");
}

static void check_environment_variables(ky_stix_ctx *ctx, const json_t *dict)
{
	check_values_scalar(ctx, dict, false, "§6.13.1");
}

/* STIX 2.1 §6.12.4: "Each dictionary value MUST be an integer." */
static void check_socket_options(ky_stix_ctx *ctx, const json_t *dict)
{
	const char *key;
	json_t *value;

	json_object_foreach((json_t *)dict, key, value) {
		if (!json_is_integer(value))
			ky_stix_report_at(ctx, key, "§6.12.4", "expected an integer");
	}
}

/* STIX 2.1 §6.12.2: the method and version of the request line are written in lowercase. */
static void check_lowercase(ky_stix_ctx *ctx, const json_t *value)
{
	const char *s = json_string_value(value);
	char buf[KY_STIX_QUOTE_SIZE];

	for (const char *p = s; p && *p; p++) {
		if (*p >= 'A' && *p <= 'Z') {
			ky_stix_report(ctx, "§6.12.2", "%s must be lowercase",
				       ky_stix_quote_value(buf, sizeof buf, value));
			return;
		}
	}
}

/* STIX 2.1 §6.12.3: the ICMP type and code are one byte each. */
static void check_one_byte(ky_stix_ctx *ctx, const json_t *value)
{
	const char *s = json_string_value(value);
	char buf[KY_STIX_QUOTE_SIZE];

	if (s && strlen(s) != 2)
		ky_stix_report(ctx, "§6.12.3", "%s is not a single byte (two hex digits)",
			       ky_stix_quote_value(buf, sizeof buf, value));
}

/* STIX 2.1 §6.7.6: time_date_stamp "MUST be precise to the second": no fraction. */
static void check_whole_seconds(ky_stix_ctx *ctx, const json_t *value)
{
	const char *s = json_string_value(value);
	char buf[KY_STIX_QUOTE_SIZE];

	if (s && strchr(s, '.'))
		ky_stix_report(ctx, "§6.7.6", "%s must be precise to the second, without a fraction",
			       ky_stix_quote_value(buf, sizeof buf, value));
}

/* STIX 2.1 §6.14.1: cpe is a CPE 2.3 formatted string (NISTIR 7695 §6.2): "cpe:2.3:", then
 * eleven non-empty components separated by colons, the first the part (a, o, h, * or -);
 * a backslash quotes the character after it. */
static bool cpe23_valid(const char *s)
{
	size_t fields = 1, len = 0;

	if (strncmp(s, "cpe:2.3:", 8) != 0)
		return false;
	s += 8;
	if (s[0] == '\0' || !strchr("aoh*-", s[0]) || s[1] != ':')
		return false;
	for (;; s++) {
		unsigned char c = (unsigned char)*s;
		if (c == '\0' || c == ':') {
			if (len == 0)
				return false;
			if (c == '\0')
				break;
			fields++;
			len = 0;
			continue;
		}
		if (c == '\\')
			c = (unsigned char)*++s;
		if (c <= ' ' || c >= 0x7f)
			return false;
		len++;
	}
	return fields == 11;
}

static void check_cpe(ky_stix_ctx *ctx, const json_t *value)
{
	const char *s = json_string_value(value);
	char buf[KY_STIX_QUOTE_SIZE];

	if (s && !cpe23_valid(s))
		ky_stix_report(ctx, "§6.14.1", "%s is not a CPE 2.3 formatted string "
			       "(cpe:2.3:part:vendor:product:version:...)", ky_stix_quote_value(buf, sizeof buf, value));
}

static void check_language_tag(ky_stix_ctx *ctx, const json_t *value)
{
	const char *s = json_string_value(value);
	char buf[KY_STIX_QUOTE_SIZE];

	if (s && !ky_stix_lang_tag_valid(s))
		ky_stix_report(ctx, "§6.14.1", "%s is not an RFC 5646 language tag",
			       ky_stix_quote_value(buf, sizeof buf, value));
}

/* STIX 2.1 §6.17.1: "The hive portion of the key MUST be fully expanded and not truncated;
 * e.g., HKEY_LOCAL_MACHINE must be used instead of HKLM." */
static void check_registry_hive(ky_stix_ctx *ctx, const json_t *value)
{
	static const struct {
		const char *abbreviation, *hive;
	} hives[] = {
		{"HKLM", "HKEY_LOCAL_MACHINE"}, {"HKCU", "HKEY_CURRENT_USER"},
		{"HKCR", "HKEY_CLASSES_ROOT"}, {"HKU", "HKEY_USERS"}, {"HKCC", "HKEY_CURRENT_CONFIG"},
	};
	const char *s = json_string_value(value);
	size_t n = s ? strcspn(s, "\\") : 0;

	for (size_t i = 0; s && i < sizeof hives / sizeof hives[0]; i++) {
		if (strlen(hives[i].abbreviation) == n && strncasecmp(s, hives[i].abbreviation, n) == 0) {
			ky_stix_report(ctx, "§6.17.1", "the hive \"%s\" must be written out in full: %s",
				       hives[i].abbreviation, hives[i].hive);
			return;
		}
	}
}

/* ---- §6.1 Artifact -------------------------------------------------------------------- */

static const ky_stix_prop artifact_props[] = {
	{.name = "mime_type", .kind = KP_STRING},
	{.name = "payload_bin", .kind = KP_BINARY},
	{.name = "url", .kind = KP_STRING},
	{.name = "hashes", .kind = KP_HASHES},
	{.name = "encryption_algorithm", .kind = KP_ENUM, .values = encryption_algorithm_enum},
	{.name = "decryption_key", .kind = KP_STRING},
	{.name = NULL}
};

static void artifact_check(ky_stix_ctx *ctx, const json_t *object)
{
	bool payload = json_object_get(object, "payload_bin") != NULL;
	const json_t *url = json_object_get(object, "url");

	if (payload && url)
		ky_stix_report_at(ctx, "url", "§6.1.1", "must not be present when payload_bin is present");
	else if (!payload && !url)
		ky_stix_report(ctx, "§6.1", "one of payload_bin or url is required");
	if (url && !json_object_get(object, "hashes"))
		ky_stix_report_at(ctx, "hashes", "§6.1.1", "required when url is present");
	/* STIX 2.1 §6.1.1, §6.15.1: a URL per RFC 3986, unless it was altered on purpose. */
	if (json_is_string(url) && !is_defanged(object))
		ky_stix_check_url(ctx, "url", url, "§6.1.1");
	if (json_object_get(object, "decryption_key") && !json_object_get(object, "encryption_algorithm"))
		ky_stix_report_at(ctx, "decryption_key", "§6.1.1",
				  "must not be present when encryption_algorithm is absent");
}

/* ---- §6.2 Autonomous System ----------------------------------------------------------- */

static const ky_stix_prop autonomous_system_props[] = {
	{.name = "number", .kind = KP_INTEGER, .flags = KY_P_REQUIRED},
	{.name = "name", .kind = KP_STRING},
	{.name = "rir", .kind = KP_STRING},
	{.name = NULL}
};

/* ---- §6.3 Directory ------------------------------------------------------------------- */

static const ky_stix_prop directory_props[] = {
	{.name = "path", .kind = KP_STRING, .flags = KY_P_REQUIRED},
	{.name = "path_enc", .kind = KP_STRING},
	{.name = "ctime", .kind = KP_TIMESTAMP},
	{.name = "mtime", .kind = KP_TIMESTAMP},
	{.name = "atime", .kind = KP_TIMESTAMP},
	{.name = "contains_refs", .kind = KP_ID, .flags = KY_P_LIST, .values = to_file_directory},
	{.name = NULL}
};

/* ---- §6.4 Domain Name ----------------------------------------------------------------- */

static const ky_stix_prop domain_name_props[] = {
	{.name = "value", .kind = KP_STRING, .flags = KY_P_REQUIRED},
	{.name = "resolves_to_refs", .kind = KP_ID, .flags = KY_P_LIST, .values = to_ip_domain},
	{.name = NULL}
};

static void domain_name_check(ky_stix_ctx *ctx, const json_t *object)
{
	check_value_form(ctx, object, domain_valid, "§6.4.1", "a domain name (RFC 1034, RFC 5890)");
}

/* ---- §6.5 Email Address --------------------------------------------------------------- */

static const ky_stix_prop email_addr_props[] = {
	{.name = "value", .kind = KP_STRING, .flags = KY_P_REQUIRED},
	{.name = "display_name", .kind = KP_STRING},
	{.name = "belongs_to_ref", .kind = KP_ID, .values = to_user_account},
	{.name = NULL}
};

static void email_addr_check(ky_stix_ctx *ctx, const json_t *object)
{
	check_value_form(ctx, object, email_valid, "§6.5.1",
			 "an e-mail address without display name (RFC 5322 §3.4 addr-spec, "
			 "e.g. jane.smith@example.com)");
}

/* ---- §6.6 Email Message --------------------------------------------------------------- */

static const ky_stix_prop email_mime_part_props[] = {  /* §6.6.2 */
	{.name = "body", .kind = KP_STRING},
	{.name = "body_raw_ref", .kind = KP_ID, .values = to_artifact_file},
	{.name = "content_type", .kind = KP_STRING},
	{.name = "content_disposition", .kind = KP_STRING},
	{.name = NULL}
};

static void email_mime_part_check(ky_stix_ctx *ctx, const json_t *part)
{
	if (!json_object_get(part, "body") && !json_object_get(part, "body_raw_ref"))
		ky_stix_report(ctx, "§6.6.2", "one of body or body_raw_ref is required");
}

static const ky_stix_prop email_message_props[] = {
	{.name = "is_multipart", .kind = KP_BOOLEAN, .flags = KY_P_REQUIRED},
	{.name = "date", .kind = KP_TIMESTAMP},
	{.name = "content_type", .kind = KP_STRING},
	{.name = "from_ref", .kind = KP_ID, .values = to_email_addr},
	{.name = "sender_ref", .kind = KP_ID, .values = to_email_addr},
	{.name = "to_refs", .kind = KP_ID, .flags = KY_P_LIST, .values = to_email_addr},
	{.name = "cc_refs", .kind = KP_ID, .flags = KY_P_LIST, .values = to_email_addr},
	{.name = "bcc_refs", .kind = KP_ID, .flags = KY_P_LIST, .values = to_email_addr},
	{.name = "message_id", .kind = KP_STRING},
	{.name = "subject", .kind = KP_STRING},
	{.name = "received_lines", .kind = KP_STRING, .flags = KY_P_LIST},
	{.name = "additional_header_fields", .kind = KP_DICT, .check = check_email_header_fields},
	{.name = "body", .kind = KP_STRING},
	{.name = "body_multipart", .kind = KP_OBJECT, .flags = KY_P_LIST,
	 .sub = email_mime_part_props, .sub_check = email_mime_part_check},
	{.name = "raw_email_ref", .kind = KP_ID, .values = to_artifact},
	{.name = NULL}
};

static void email_message_check(ky_stix_ctx *ctx, const json_t *object)
{
	const json_t *multipart = json_object_get(object, "is_multipart");

	if (json_is_true(multipart) && json_object_get(object, "body"))
		ky_stix_report_at(ctx, "body", "§6.6.1", "must not be present when is_multipart is true");
	if (json_is_false(multipart) && json_object_get(object, "body_multipart"))
		ky_stix_report_at(ctx, "body_multipart", "§6.6.1",
				  "must not be present when is_multipart is false");
}

/* ---- §6.7 File and its extensions ----------------------------------------------------- */

static const ky_stix_prop file_props[] = {
	{.name = "hashes", .kind = KP_HASHES},
	{.name = "size", NON_NEGATIVE},
	{.name = "name", .kind = KP_STRING},
	{.name = "name_enc", .kind = KP_STRING},
	{.name = "magic_number_hex", .kind = KP_HEX},
	{.name = "mime_type", .kind = KP_STRING},
	{.name = "ctime", .kind = KP_TIMESTAMP},
	{.name = "mtime", .kind = KP_TIMESTAMP},
	{.name = "atime", .kind = KP_TIMESTAMP},
	{.name = "parent_directory_ref", .kind = KP_ID, .values = to_directory},
	{.name = "contains_refs", .kind = KP_ID, .flags = KY_P_LIST},
	{.name = "content_ref", .kind = KP_ID, .values = to_artifact},
	{.name = NULL}
};

static void file_check(ky_stix_ctx *ctx, const json_t *object)
{
	if (!json_object_get(object, "hashes") && !json_object_get(object, "name"))
		ky_stix_report(ctx, "§6.7", "at least one of hashes or name is required");
	/* STIX 2.1 §3.1: "The encoding property MUST NOT be present when the original property
	 * is not present." */
	if (json_object_get(object, "name_enc") && !json_object_get(object, "name"))
		ky_stix_report_at(ctx, "name_enc", "§3.1", "must not be present when name is absent");
}

static const ky_stix_prop archive_ext_props[] = {  /* §6.7.2 */
	{.name = "contains_refs", .kind = KP_ID, .flags = KY_P_REQUIRED | KY_P_LIST,
	 .values = to_file_directory},
	{.name = "comment", .kind = KP_STRING},
	{.name = NULL}
};

static const ky_stix_prop alternate_data_stream_props[] = {  /* §6.7.3 */
	{.name = "name", .kind = KP_STRING, .flags = KY_P_REQUIRED},
	{.name = "hashes", .kind = KP_HASHES},
	{.name = "size", NON_NEGATIVE},
	{.name = NULL}
};

static const ky_stix_prop ntfs_ext_props[] = {  /* §6.7.3 */
	{.name = "sid", .kind = KP_STRING},
	{.name = "alternate_data_streams", .kind = KP_OBJECT, .flags = KY_P_LIST,
	 .sub = alternate_data_stream_props},
	{.name = NULL}
};

static void ntfs_ext_check(ky_stix_ctx *ctx, const json_t *ext)
{
	if (!has_any(ext, ntfs_ext_props, NULL))
		ky_stix_report(ctx, "§6.7.3", "at least one NTFS File Extension property is required");
}

static const ky_stix_prop pdf_ext_props[] = {  /* §6.7.4 */
	{.name = "version", .kind = KP_STRING},
	{.name = "is_optimized", .kind = KP_BOOLEAN},
	{.name = "document_info_dict", .kind = KP_DICT, .check = check_document_info_dict},
	{.name = "pdfid0", .kind = KP_STRING},
	{.name = "pdfid1", .kind = KP_STRING},
	{.name = NULL}
};

static void pdf_ext_check(ky_stix_ctx *ctx, const json_t *ext)
{
	if (!has_any(ext, pdf_ext_props, NULL))
		ky_stix_report(ctx, "§6.7.4", "at least one PDF File Extension property is required");
}

static const ky_stix_prop raster_image_ext_props[] = {  /* §6.7.5 */
	{.name = "image_height", .kind = KP_INTEGER},
	{.name = "image_width", .kind = KP_INTEGER},
	{.name = "bits_per_pixel", .kind = KP_INTEGER},
	{.name = "exif_tags", .kind = KP_DICT, .check = check_exif_tags},
	{.name = NULL}
};

static void raster_image_ext_check(ky_stix_ctx *ctx, const json_t *ext)
{
	if (!has_any(ext, raster_image_ext_props, NULL))
		ky_stix_report(ctx, "§6.7.5",
			       "at least one Raster Image File Extension property is required");
}

static const ky_stix_prop windows_pe_optional_header_props[] = {  /* §6.7.6 */
	{.name = "magic_hex", .kind = KP_HEX},
	{.name = "major_linker_version", .kind = KP_INTEGER},
	{.name = "minor_linker_version", .kind = KP_INTEGER},
	{.name = "size_of_code", NON_NEGATIVE},
	{.name = "size_of_initialized_data", NON_NEGATIVE},
	{.name = "size_of_uninitialized_data", NON_NEGATIVE},
	{.name = "address_of_entry_point", .kind = KP_INTEGER},
	{.name = "base_of_code", .kind = KP_INTEGER},
	{.name = "base_of_data", .kind = KP_INTEGER},
	{.name = "image_base", .kind = KP_INTEGER},
	{.name = "section_alignment", .kind = KP_INTEGER},
	{.name = "file_alignment", .kind = KP_INTEGER},
	{.name = "major_os_version", .kind = KP_INTEGER},
	{.name = "minor_os_version", .kind = KP_INTEGER},
	{.name = "major_image_version", .kind = KP_INTEGER},
	{.name = "minor_image_version", .kind = KP_INTEGER},
	{.name = "major_subsystem_version", .kind = KP_INTEGER},
	{.name = "minor_subsystem_version", .kind = KP_INTEGER},
	{.name = "win32_version_value_hex", .kind = KP_HEX},
	{.name = "size_of_image", NON_NEGATIVE},
	{.name = "size_of_headers", NON_NEGATIVE},
	{.name = "checksum_hex", .kind = KP_HEX},
	{.name = "subsystem_hex", .kind = KP_HEX},
	{.name = "dll_characteristics_hex", .kind = KP_HEX},
	{.name = "size_of_stack_reserve", NON_NEGATIVE},
	{.name = "size_of_stack_commit", NON_NEGATIVE},
	{.name = "size_of_heap_reserve", NON_NEGATIVE},
	{.name = "size_of_heap_commit", NON_NEGATIVE},
	{.name = "loader_flags_hex", .kind = KP_HEX},
	{.name = "number_of_rva_and_sizes", .kind = KP_INTEGER},
	{.name = "hashes", .kind = KP_HASHES},
	{.name = NULL}
};

static void windows_pe_optional_header_check(ky_stix_ctx *ctx, const json_t *header)
{
	if (!has_any(header, windows_pe_optional_header_props, NULL))
		ky_stix_report(ctx, "§6.7.6",
			       "at least one Windows PE Optional Header property is required");
}

static const ky_stix_prop windows_pe_section_props[] = {  /* §6.7.6 */
	{.name = "name", .kind = KP_STRING, .flags = KY_P_REQUIRED},
	{.name = "size", NON_NEGATIVE},
	/* Shannon entropy over bytes: "a possible range of 0 through 8". */
	{.name = "entropy", .kind = KP_FLOAT, .flags = KY_P_RANGE, .fmin = 0.0, .fmax = 8.0},
	{.name = "hashes", .kind = KP_HASHES},
	{.name = NULL}
};

static const ky_stix_prop windows_pebinary_ext_props[] = {  /* §6.7.6 */
	{.name = "pe_type", .kind = KP_OPENVOCAB, .flags = KY_P_REQUIRED,
	 .values = windows_pebinary_type_ov},
	{.name = "imphash", .kind = KP_STRING},
	{.name = "machine_hex", .kind = KP_HEX},
	{.name = "number_of_sections", NON_NEGATIVE},
	{.name = "time_date_stamp", .kind = KP_TIMESTAMP, .check = check_whole_seconds},
	{.name = "pointer_to_symbol_table_hex", .kind = KP_HEX},
	{.name = "number_of_symbols", NON_NEGATIVE},
	{.name = "size_of_optional_header", NON_NEGATIVE},
	{.name = "characteristics_hex", .kind = KP_HEX},
	{.name = "file_header_hashes", .kind = KP_HASHES},
	{.name = "optional_header", .kind = KP_OBJECT, .sub = windows_pe_optional_header_props,
	 .sub_check = windows_pe_optional_header_check},
	{.name = "sections", .kind = KP_OBJECT, .flags = KY_P_LIST, .sub = windows_pe_section_props},
	{.name = NULL}
};

static void windows_pebinary_ext_check(ky_stix_ctx *ctx, const json_t *ext)
{
	if (!has_any(ext, windows_pebinary_ext_props, "pe_type"))
		ky_stix_report(ctx, "§6.7.6", "at least one Windows PE Binary File Extension "
			       "property other than pe_type is required");
}

static const ky_stix_extension file_extensions[] = {
	{.name = "archive-ext", .section = "§6.7.2", .props = archive_ext_props},
	{.name = "ntfs-ext", .section = "§6.7.3", .props = ntfs_ext_props, .check = ntfs_ext_check},
	{.name = "pdf-ext", .section = "§6.7.4", .props = pdf_ext_props, .check = pdf_ext_check},
	{.name = "raster-image-ext", .section = "§6.7.5", .props = raster_image_ext_props,
	 .check = raster_image_ext_check},
	{.name = "windows-pebinary-ext", .section = "§6.7.6", .props = windows_pebinary_ext_props,
	 .check = windows_pebinary_ext_check},
	{.name = NULL}
};

/* ---- §6.8 IPv4 Address, §6.9 IPv6 Address, §6.10 MAC Address -------------------------- */

static const ky_stix_prop ip_addr_props[] = {
	{.name = "value", .kind = KP_STRING, .flags = KY_P_REQUIRED},
	{.name = "resolves_to_refs", .kind = KP_ID, .flags = KY_P_LIST, .values = to_mac_addr},
	{.name = "belongs_to_refs", .kind = KP_ID, .flags = KY_P_LIST, .values = to_autonomous_system},
	{.name = NULL}
};

static void ipv4_addr_check(ky_stix_ctx *ctx, const json_t *object)
{
	check_value_form(ctx, object, ipv4_valid, "§6.8.1",
			 "an IPv4 address or CIDR block (e.g. 198.51.100.0/24)");
}

static void ipv6_addr_check(ky_stix_ctx *ctx, const json_t *object)
{
	check_value_form(ctx, object, ipv6_valid, "§6.9.1",
			 "an IPv6 address or CIDR block (e.g. 2001:db8::/96)");
}

static const ky_stix_prop mac_addr_props[] = {
	{.name = "value", .kind = KP_STRING, .flags = KY_P_REQUIRED},
	{.name = NULL}
};

static void mac_addr_check(ky_stix_ctx *ctx, const json_t *object)
{
	check_value_form(ctx, object, mac_valid, "§6.10.1",
			 "a lowercase, colon-delimited MAC-48 address (e.g. 00:00:ab:cd:ef:01)");
}

/* ---- §6.11 Mutex ---------------------------------------------------------------------- */

static const ky_stix_prop mutex_props[] = {
	{.name = "name", .kind = KP_STRING, .flags = KY_P_REQUIRED},
	{.name = NULL}
};

/* ---- §6.12 Network Traffic and its extensions ----------------------------------------- */

static const ky_stix_prop network_traffic_props[] = {
	{.name = "start", .kind = KP_TIMESTAMP},
	{.name = "end", .kind = KP_TIMESTAMP},
	{.name = "is_active", .kind = KP_BOOLEAN},
	{.name = "src_ref", .kind = KP_ID, .values = to_traffic_endpoint},
	{.name = "dst_ref", .kind = KP_ID, .values = to_traffic_endpoint},
	{.name = "src_port", .kind = KP_INTEGER, .flags = KY_P_RANGE, .min = 0, .max = 65535},
	{.name = "dst_port", .kind = KP_INTEGER, .flags = KY_P_RANGE, .min = 0, .max = 65535},
	{.name = "protocols", .kind = KP_STRING, .flags = KY_P_REQUIRED | KY_P_LIST},
	{.name = "src_byte_count", NON_NEGATIVE},
	{.name = "dst_byte_count", NON_NEGATIVE},
	{.name = "src_packets", NON_NEGATIVE},
	{.name = "dst_packets", NON_NEGATIVE},
	{.name = "ipfix", .kind = KP_DICT, .check = check_ipfix},
	{.name = "src_payload_ref", .kind = KP_ID, .values = to_artifact},
	{.name = "dst_payload_ref", .kind = KP_ID, .values = to_artifact},
	{.name = "encapsulates_refs", .kind = KP_ID, .flags = KY_P_LIST, .values = to_network_traffic},
	{.name = "encapsulated_by_ref", .kind = KP_ID, .values = to_network_traffic},
	{.name = NULL}
};

static void network_traffic_check(ky_stix_ctx *ctx, const json_t *object)
{
	if (!json_object_get(object, "src_ref") && !json_object_get(object, "dst_ref"))
		ky_stix_report(ctx, "§6.12", "at least one of src_ref or dst_ref is required");
	if (json_object_get(object, "end") && json_is_true(json_object_get(object, "is_active")))
		ky_stix_report_at(ctx, "end", "§6.12.1", "must not be present when is_active is true");
	ky_stix_check_time_order(ctx, object, "start", "end", false, "§6.12.1");
}

static const ky_stix_prop http_request_ext_props[] = {  /* §6.12.2 */
	{.name = "request_method", .kind = KP_STRING, .flags = KY_P_REQUIRED, .check = check_lowercase},
	{.name = "request_value", .kind = KP_STRING, .flags = KY_P_REQUIRED},
	{.name = "request_version", .kind = KP_STRING, .check = check_lowercase},
	{.name = "request_header", .kind = KP_DICT, .check = check_http_request_header},
	{.name = "message_body_length", .kind = KP_INTEGER},
	{.name = "message_body_data_ref", .kind = KP_ID, .values = to_artifact},
	{.name = NULL}
};

static const ky_stix_prop icmp_ext_props[] = {  /* §6.12.3 */
	{.name = "icmp_type_hex", .kind = KP_HEX, .flags = KY_P_REQUIRED, .check = check_one_byte},
	{.name = "icmp_code_hex", .kind = KP_HEX, .flags = KY_P_REQUIRED, .check = check_one_byte},
	{.name = NULL}
};

static const ky_stix_prop socket_ext_props[] = {  /* §6.12.4 */
	{.name = "address_family", .kind = KP_ENUM, .flags = KY_P_REQUIRED,
	 .values = network_socket_address_family_enum},
	{.name = "is_blocking", .kind = KP_BOOLEAN},
	{.name = "is_listening", .kind = KP_BOOLEAN},
	{.name = "options", .kind = KP_DICT, .check = check_socket_options},
	{.name = "socket_type", .kind = KP_ENUM, .values = network_socket_type_enum},
	{.name = "socket_descriptor", NON_NEGATIVE},
	{.name = "socket_handle", .kind = KP_INTEGER},
	{.name = NULL}
};

static const ky_stix_prop tcp_ext_props[] = {  /* §6.12.5 */
	{.name = "src_flags_hex", .kind = KP_HEX},
	{.name = "dst_flags_hex", .kind = KP_HEX},
	{.name = NULL}
};

static void tcp_ext_check(ky_stix_ctx *ctx, const json_t *ext)
{
	if (!has_any(ext, tcp_ext_props, NULL))
		ky_stix_report(ctx, "§6.12.5", "at least one TCP Extension property is required");
}

static const ky_stix_extension network_traffic_extensions[] = {
	{.name = "http-request-ext", .section = "§6.12.2", .props = http_request_ext_props},
	{.name = "icmp-ext", .section = "§6.12.3", .props = icmp_ext_props},
	{.name = "socket-ext", .section = "§6.12.4", .props = socket_ext_props},
	{.name = "tcp-ext", .section = "§6.12.5", .props = tcp_ext_props, .check = tcp_ext_check},
	{.name = NULL}
};

/* ---- §6.13 Process and its extensions ------------------------------------------------- */

static const ky_stix_prop process_props[] = {
	{.name = "is_hidden", .kind = KP_BOOLEAN},
	{.name = "pid", .kind = KP_INTEGER},
	{.name = "created_time", .kind = KP_TIMESTAMP},
	{.name = "cwd", .kind = KP_STRING},
	{.name = "command_line", .kind = KP_STRING},
	{.name = "environment_variables", .kind = KP_DICT, .check = check_environment_variables},
	{.name = "opened_connection_refs", .kind = KP_ID, .flags = KY_P_LIST,
	 .values = to_network_traffic},
	{.name = "creator_user_ref", .kind = KP_ID, .values = to_user_account},
	{.name = "image_ref", .kind = KP_ID, .values = to_file},
	{.name = "parent_ref", .kind = KP_ID, .values = to_process},
	{.name = "child_refs", .kind = KP_ID, .flags = KY_P_LIST, .values = to_process},
	{.name = NULL}
};

/* STIX 2.1 §6.13: "at least one property (other than type) from this object (or one of its
 * extensions)". */
static void process_check(ky_stix_ctx *ctx, const json_t *object)
{
	if (!has_any(object, process_props, NULL) && !json_object_get(object, "extensions"))
		ky_stix_report(ctx, "§6.13", "at least one Process property or extension is required");
}

static const ky_stix_prop windows_process_ext_props[] = {  /* §6.13.2 */
	{.name = "aslr_enabled", .kind = KP_BOOLEAN},
	{.name = "dep_enabled", .kind = KP_BOOLEAN},
	{.name = "priority", .kind = KP_STRING},
	{.name = "owner_sid", .kind = KP_STRING},
	{.name = "windows_title", .kind = KP_STRING},
	{.name = "startup_info", .kind = KP_DICT},
	{.name = "integrity_level", .kind = KP_ENUM, .values = windows_integrity_level_enum},
	{.name = NULL}
};

static void windows_process_ext_check(ky_stix_ctx *ctx, const json_t *ext)
{
	if (!has_any(ext, windows_process_ext_props, NULL))
		ky_stix_report(ctx, "§6.13.2",
			       "at least one Windows Process Extension property is required");
}

static const ky_stix_prop windows_service_ext_props[] = {  /* §6.13.3 */
	{.name = "service_name", .kind = KP_STRING},
	{.name = "descriptions", .kind = KP_STRING, .flags = KY_P_LIST},
	{.name = "display_name", .kind = KP_STRING},
	{.name = "group_name", .kind = KP_STRING},
	{.name = "start_type", .kind = KP_ENUM, .values = windows_service_start_type_enum},
	{.name = "service_dll_refs", .kind = KP_ID, .flags = KY_P_LIST, .values = to_file},
	{.name = "service_type", .kind = KP_ENUM, .values = windows_service_type_enum},
	{.name = "service_status", .kind = KP_ENUM, .values = windows_service_status_enum},
	{.name = NULL}
};

static void windows_service_ext_check(ky_stix_ctx *ctx, const json_t *ext)
{
	if (!has_any(ext, windows_service_ext_props, NULL))
		ky_stix_report(ctx, "§6.13.3",
			       "at least one Windows Service Extension property is required");
}

static const ky_stix_extension process_extensions[] = {
	{.name = "windows-process-ext", .section = "§6.13.2", .props = windows_process_ext_props,
	 .check = windows_process_ext_check},
	{.name = "windows-service-ext", .section = "§6.13.3", .props = windows_service_ext_props,
	 .check = windows_service_ext_check},
	{.name = NULL}
};

/* ---- §6.14 Software ------------------------------------------------------------------- */

static const ky_stix_prop software_props[] = {
	{.name = "name", .kind = KP_STRING, .flags = KY_P_REQUIRED},
	{.name = "cpe", .kind = KP_STRING, .check = check_cpe},
	{.name = "swid", .kind = KP_STRING},
	{.name = "languages", .kind = KP_STRING, .flags = KY_P_LIST, .check = check_language_tag},
	{.name = "vendor", .kind = KP_STRING},
	{.name = "version", .kind = KP_STRING},
	{.name = NULL}
};

/* ---- §6.15 URL ------------------------------------------------------------------------ */

static const ky_stix_prop url_props[] = {
	{.name = "value", .kind = KP_STRING, .flags = KY_P_REQUIRED},
	{.name = NULL}
};

static void url_check(ky_stix_ctx *ctx, const json_t *object)
{
	const json_t *value = json_object_get(object, "value");

	if (json_is_string(value) && !is_defanged(object))
		ky_stix_check_url(ctx, "value", value, "§6.15.1");
}

/* ---- §6.16 User Account and its extension --------------------------------------------- */

static const ky_stix_prop user_account_props[] = {
	{.name = "user_id", .kind = KP_STRING},
	{.name = "credential", .kind = KP_STRING},
	{.name = "account_login", .kind = KP_STRING},
	{.name = "account_type", .kind = KP_OPENVOCAB, .values = account_type_ov},
	{.name = "display_name", .kind = KP_STRING},
	{.name = "is_service_account", .kind = KP_BOOLEAN},
	{.name = "is_privileged", .kind = KP_BOOLEAN},
	{.name = "can_escalate_privs", .kind = KP_BOOLEAN},
	{.name = "is_disabled", .kind = KP_BOOLEAN},
	{.name = "account_created", .kind = KP_TIMESTAMP},
	{.name = "account_expires", .kind = KP_TIMESTAMP},
	{.name = "credential_last_changed", .kind = KP_TIMESTAMP},
	{.name = "account_first_login", .kind = KP_TIMESTAMP},
	{.name = "account_last_login", .kind = KP_TIMESTAMP},
	{.name = NULL}
};

/* STIX 2.1 §6.16: "at least one of the properties defined below MUST be included"; the
 * table below that sentence lists extensions too. */
static void user_account_check(ky_stix_ctx *ctx, const json_t *object)
{
	if (!has_any(object, user_account_props, NULL) && !json_object_get(object, "extensions"))
		ky_stix_report(ctx, "§6.16",
			       "at least one User Account property or extension is required");
}

static const ky_stix_prop unix_account_ext_props[] = {  /* §6.16.2 */
	{.name = "gid", .kind = KP_INTEGER},
	{.name = "groups", .kind = KP_STRING, .flags = KY_P_LIST},
	{.name = "home_dir", .kind = KP_STRING},
	{.name = "shell", .kind = KP_STRING},
	{.name = NULL}
};

static void unix_account_ext_check(ky_stix_ctx *ctx, const json_t *ext)
{
	if (!has_any(ext, unix_account_ext_props, NULL))
		ky_stix_report(ctx, "§6.16.2",
			       "at least one UNIX Account Extension property is required");
}

static const ky_stix_extension user_account_extensions[] = {
	{.name = "unix-account-ext", .section = "§6.16.2", .props = unix_account_ext_props,
	 .check = unix_account_ext_check},
	{.name = NULL}
};

/* ---- §6.17 Windows Registry Key ------------------------------------------------------- */

static const ky_stix_prop windows_registry_value_props[] = {  /* §6.17.2 */
	{.name = "name", .kind = KP_STRING},
	{.name = "data", .kind = KP_STRING},
	{.name = "data_type", .kind = KP_ENUM, .values = windows_registry_datatype_enum},
	{.name = NULL}
};

static void windows_registry_value_check(ky_stix_ctx *ctx, const json_t *value)
{
	if (!has_any(value, windows_registry_value_props, NULL))
		ky_stix_report(ctx, "§6.17.2",
			       "at least one of name, data or data_type is required");
}

static const ky_stix_prop windows_registry_key_props[] = {
	{.name = "key", .kind = KP_STRING, .check = check_registry_hive},
	{.name = "values", .kind = KP_OBJECT, .flags = KY_P_LIST, .sub = windows_registry_value_props,
	 .sub_check = windows_registry_value_check},
	{.name = "modified_time", .kind = KP_TIMESTAMP},
	{.name = "creator_user_ref", .kind = KP_ID, .values = to_user_account},
	{.name = "number_of_subkeys", NON_NEGATIVE},
	{.name = NULL}
};

static void windows_registry_key_check(ky_stix_ctx *ctx, const json_t *object)
{
	if (!has_any(object, windows_registry_key_props, NULL))
		ky_stix_report(ctx, "§6.17",
			       "at least one Windows Registry Key property is required");
}

/* ---- §6.18 X.509 Certificate ---------------------------------------------------------- */

static const ky_stix_prop x509_v3_extensions_props[] = {  /* §6.18.2 */
	{.name = "basic_constraints", .kind = KP_STRING},
	{.name = "name_constraints", .kind = KP_STRING},
	{.name = "policy_constraints", .kind = KP_STRING},
	{.name = "key_usage", .kind = KP_STRING},
	{.name = "extended_key_usage", .kind = KP_STRING},
	{.name = "subject_key_identifier", .kind = KP_STRING},
	{.name = "authority_key_identifier", .kind = KP_STRING},
	{.name = "subject_alternative_name", .kind = KP_STRING},
	{.name = "issuer_alternative_name", .kind = KP_STRING},
	{.name = "subject_directory_attributes", .kind = KP_STRING},
	{.name = "crl_distribution_points", .kind = KP_STRING},
	{.name = "inhibit_any_policy", .kind = KP_STRING},
	{.name = "private_key_usage_period_not_before", .kind = KP_TIMESTAMP},
	{.name = "private_key_usage_period_not_after", .kind = KP_TIMESTAMP},
	{.name = "certificate_policies", .kind = KP_STRING},
	{.name = "policy_mappings", .kind = KP_STRING},
	{.name = NULL}
};

static void x509_v3_extensions_check(ky_stix_ctx *ctx, const json_t *ext)
{
	if (!has_any(ext, x509_v3_extensions_props, NULL))
		ky_stix_report(ctx, "§6.18.2",
			       "at least one X.509 v3 Extensions property is required");
}

static const ky_stix_prop x509_certificate_props[] = {
	{.name = "is_self_signed", .kind = KP_BOOLEAN},
	{.name = "hashes", .kind = KP_HASHES},
	{.name = "version", .kind = KP_STRING},
	{.name = "serial_number", .kind = KP_STRING},
	{.name = "signature_algorithm", .kind = KP_STRING},
	{.name = "issuer", .kind = KP_STRING},
	{.name = "validity_not_before", .kind = KP_TIMESTAMP},
	{.name = "validity_not_after", .kind = KP_TIMESTAMP},
	{.name = "subject", .kind = KP_STRING},
	{.name = "subject_public_key_algorithm", .kind = KP_STRING},
	{.name = "subject_public_key_modulus", .kind = KP_STRING},
	{.name = "subject_public_key_exponent", .kind = KP_INTEGER},
	{.name = "x509_v3_extensions", .kind = KP_OBJECT, .sub = x509_v3_extensions_props,
	 .sub_check = x509_v3_extensions_check},
	{.name = NULL}
};

static void x509_certificate_check(ky_stix_ctx *ctx, const json_t *object)
{
	if (!has_any(object, x509_certificate_props, NULL))
		ky_stix_report(ctx, "§6.18",
			       "at least one X.509 Certificate property is required");
}

/* ---- The table ------------------------------------------------------------------------ */

const ky_stix_type ky_stix_types_sco[] = {
	{.name = "artifact", .category = KY_STIX_SCO, .section = "§6.1", .props = artifact_props,
	 .check = artifact_check},
	{.name = "autonomous-system", .category = KY_STIX_SCO, .section = "§6.2",
	 .props = autonomous_system_props},
	{.name = "directory", .category = KY_STIX_SCO, .section = "§6.3", .props = directory_props},
	{.name = "domain-name", .category = KY_STIX_SCO, .section = "§6.4",
	 .props = domain_name_props, .check = domain_name_check},
	{.name = "email-addr", .category = KY_STIX_SCO, .section = "§6.5", .props = email_addr_props,
	 .check = email_addr_check},
	{.name = "email-message", .category = KY_STIX_SCO, .section = "§6.6",
	 .props = email_message_props, .check = email_message_check},
	{.name = "file", .category = KY_STIX_SCO, .section = "§6.7", .props = file_props,
	 .check = file_check, .extensions = file_extensions},
	{.name = "ipv4-addr", .category = KY_STIX_SCO, .section = "§6.8", .props = ip_addr_props,
	 .check = ipv4_addr_check},
	{.name = "ipv6-addr", .category = KY_STIX_SCO, .section = "§6.9", .props = ip_addr_props,
	 .check = ipv6_addr_check},
	{.name = "mac-addr", .category = KY_STIX_SCO, .section = "§6.10", .props = mac_addr_props,
	 .check = mac_addr_check},
	{.name = "mutex", .category = KY_STIX_SCO, .section = "§6.11", .props = mutex_props},
	{.name = "network-traffic", .category = KY_STIX_SCO, .section = "§6.12",
	 .props = network_traffic_props, .check = network_traffic_check,
	 .extensions = network_traffic_extensions},
	{.name = "process", .category = KY_STIX_SCO, .section = "§6.13", .props = process_props,
	 .check = process_check, .extensions = process_extensions},
	{.name = "software", .category = KY_STIX_SCO, .section = "§6.14", .props = software_props},
	{.name = "url", .category = KY_STIX_SCO, .section = "§6.15", .props = url_props,
	 .check = url_check},
	{.name = "user-account", .category = KY_STIX_SCO, .section = "§6.16",
	 .props = user_account_props, .check = user_account_check,
	 .extensions = user_account_extensions},
	{.name = "windows-registry-key", .category = KY_STIX_SCO, .section = "§6.17",
	 .props = windows_registry_key_props, .check = windows_registry_key_check},
	{.name = "x509-certificate", .category = KY_STIX_SCO, .section = "§6.18",
	 .props = x509_certificate_props, .check = x509_certificate_check},
	{.name = NULL}
};
