/*
 * config: reads kyoyu.conf with libinih, checking every section, key and value against the
 * table below.
 *
 * inih splits lines into sections and `key = value` pairs and strips comments; it does not
 * say on which line a pair was, it treats an indented line as the continuation of the
 * previous value, and it cuts section names at 49 bytes. So the text is fed to it from
 * memory through read_line(), which counts lines, strips the indentation (so that indented
 * keys are keys), refuses lines longer than inih's buffer instead of letting inih split them
 * and lines holding a NUL instead of letting inih cut them there, and checks section names
 * as they go by and keeps them whole (inih reports sections only through their keys, so an
 * empty unknown section would go unnoticed, and a long [collection NAME] would not be found).
 *
 * Sections named "[api_root NAME]" and "[collection NAME]" may appear once per NAME; they
 * are recorded when their line goes by, so that an empty one counts too (an empty
 * [collection NAME] means nobody may read or write it). References between sections (a
 * collection's api_root, page_size against max_page_size) are checked once the whole file
 * is read.
 */
#include "config/config.h"

#include <ctype.h>
#include <errno.h>
#include <ini.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "util/ky_error.h"
#include "util/ky_utf8.h"

typedef enum kind {
	KIND_TEXT,  /* a non-empty string of at most `max` bytes */
	KIND_SYNC,  /* full | normal, into a bool (true: normal) */
	KIND_SIZE,  /* a whole number from `min` to `max`, into a size_t */
	KIND_TLP,   /* a TLP 2.0 level's name (clear ... red), lowercased into a char[16] */
	KIND_ONOFF, /* on | off, into a bool (true: on) */
	KIND_ALLOW, /* allow | refuse, into a bool (true: allow) */
} kind;

static const struct key {
	const char *section, *name;
	kind kind;
	size_t offset;
	size_t min, max;
} keys[] = {
	{"store", "db", KIND_TEXT, offsetof(ky_config, db), 1, KY_CONFIG_DB_MAX},
	{"store", "synchronous", KIND_SYNC, offsetof(ky_config, synchronous_normal), 0, 0},
	{"store", "retry_seconds", KIND_SIZE, offsetof(ky_config, retry_seconds), 1, 86400},
	{"server", "listen", KIND_TEXT, offsetof(ky_config, listen), 1, 255},
	{"server", "tls_certificate", KIND_TEXT, offsetof(ky_config, tls_certificate), 1, KY_CONFIG_DB_MAX},
	{"server", "tls_key", KIND_TEXT, offsetof(ky_config, tls_key), 1, KY_CONFIG_DB_MAX},
	{"server", "max_content_length", KIND_SIZE, offsetof(ky_config, max_content_length), 1, SIZE_MAX},
	{"server", "api_root", KIND_TEXT, offsetof(ky_config, api_root), 1, KY_CONFIG_NAME_MAX},
	{"server", "title", KIND_TEXT, offsetof(ky_config, title), 1, 255},
	{"server", "page_size", KIND_SIZE, offsetof(ky_config, page_size), 1, KY_CONFIG_PAGE_SIZE_MAX},
	{"server", "max_page_size", KIND_SIZE, offsetof(ky_config, max_page_size), 1, KY_CONFIG_PAGE_SIZE_MAX},
	{"server", "max_connections", KIND_SIZE, offsetof(ky_config, max_connections), 16, 100000},
	{"server", "max_connections_per_address", KIND_SIZE, offsetof(ky_config, max_connections_per_address), 1, 100000},
	{"server", "header_timeout", KIND_SIZE, offsetof(ky_config, header_timeout), 1, 3600},
	{"server", "body_timeout", KIND_SIZE, offsetof(ky_config, body_timeout), 1, 86400},
	{"server", "idle_timeout", KIND_SIZE, offsetof(ky_config, idle_timeout), 1, 86400},
	{"import", "batch_objects", KIND_SIZE, offsetof(ky_config, batch_objects), 1, SIZE_MAX},
	{"import", "batch_bytes", KIND_SIZE, offsetof(ky_config, batch_bytes), 1, SIZE_MAX},
	{"import", "max_object_size", KIND_SIZE, offsetof(ky_config, max_object_size), 1, KY_CONFIG_OBJECT_SIZE_MAX},
	{"import", "default_collection", KIND_TEXT, offsetof(ky_config, default_collection), 1, KY_CONFIG_NAME_MAX},
	{"policy", "default_tlp", KIND_TLP, offsetof(ky_config, default_tlp), 0, 0},
	{"audit", "reads", KIND_ONOFF, offsetof(ky_config, audit_reads), 0, 0},
	{"audit", "flush_ms", KIND_SIZE, offsetof(ky_config, audit_flush_ms), 10, 10000},
	{"audit", "checkpoints", KIND_TEXT, offsetof(ky_config, audit_checkpoints), 1, KY_CONFIG_DB_MAX},
	{"audit", "checkpoint_seconds", KIND_SIZE, offsetof(ky_config, audit_checkpoint_seconds), 1, 86400},
	{"stream", "retention_days", KIND_SIZE, offsetof(ky_config, stream_retention_days), 1, 3650},
	{"stream", "buffer_bytes", KIND_SIZE, offsetof(ky_config, stream_buffer_bytes), 16384, (size_t)1 << 30},
	{"stream", "heartbeat_seconds", KIND_SIZE, offsetof(ky_config, stream_heartbeat_seconds), 1, 3600},
	{"stream", "max_clients", KIND_SIZE, offsetof(ky_config, stream_max_clients), 1, 1000000},
	{"stream", "poll_ms", KIND_SIZE, offsetof(ky_config, stream_poll_ms), 10, 60000},
	{"webhook", "private_addresses", KIND_ALLOW, offsetof(ky_config, webhook_private_addresses), 0, 0},
	{"webhook", "plain_http", KIND_ALLOW, offsetof(ky_config, webhook_plain_http), 0, 0},
	{"webhook", "timeout_seconds", KIND_SIZE, offsetof(ky_config, webhook_timeout_seconds), 1, 300},
	{"webhook", "max_in_flight", KIND_SIZE, offsetof(ky_config, webhook_max_in_flight), 1, 65536},
};

#define NKEYS (sizeof(keys) / sizeof(keys[0]))

/* The keys of the named sections, "[api_root NAME]" and "[collection NAME]": text fields of
 * ky_config_api_root and ky_config_collection. USERS lists are checked and respelled. */
typedef enum named_kind { NAMED_API_ROOT, NAMED_COLLECTION } named_kind;

static const struct named_key {
	named_kind section;
	const char *name;
	size_t offset, max;
	bool users;
} named_keys[] = {
	{NAMED_API_ROOT, "title", offsetof(ky_config_api_root, title), 255, false},
	{NAMED_API_ROOT, "description", offsetof(ky_config_api_root, description), 511, false},
	{NAMED_COLLECTION, "api_root", offsetof(ky_config_collection, api_root), KY_CONFIG_NAME_MAX, false},
	{NAMED_COLLECTION, "read", offsetof(ky_config_collection, read), KY_CONFIG_USERS_MAX, true},
	{NAMED_COLLECTION, "write", offsetof(ky_config_collection, write), KY_CONFIG_USERS_MAX, true},
	{NAMED_COLLECTION, "audience", offsetof(ky_config_collection, audience), KY_CONFIG_USERS_MAX, false},
};

#define NNAMED_KEYS (sizeof(named_keys) / sizeof(named_keys[0]))
#define KNOWN_SECTIONS "[store], [server], [import], [policy], [audit], [api_root NAME], [collection NAME]"

typedef struct parse {
	ky_config *config;
	const char *text;       /* the whole file, and how far read_line() has read it */
	size_t len, pos;
	size_t lineno;          /* of the line inih is working on */
	char section[INI_MAX_LINE]; /* of that line, whole; "" before the first */
	size_t set_on[NKEYS];   /* the line each key was set on; 0: not set */
	size_t api_root_line[KY_CONFIG_API_ROOTS_MAX];   /* where each named section starts */
	size_t collection_line[KY_CONFIG_COLLECTIONS_MAX];
	size_t problems;
	size_t first_line;      /* line of the first problem, and its message */
	char first[512];
} parse;

void ky_config_defaults(ky_config *out)
{
	memset(out, 0, sizeof(*out));
	snprintf(out->db, sizeof(out->db), "%s", "kyoyu.db");
	out->synchronous_normal = false;
	out->retry_seconds = 60;
	snprintf(out->listen, sizeof(out->listen), "%s", "127.0.0.1:6560");
	out->max_content_length = (size_t)100 << 20;
	snprintf(out->api_root, sizeof(out->api_root), "%s", "kyoyu");
	snprintf(out->title, sizeof(out->title), "%s", "kyoyu");
	out->page_size = 100;
	out->max_page_size = 1000;
	out->max_connections = 16000;
	out->max_connections_per_address = 256;
	out->header_timeout = 10;
	out->body_timeout = 300;
	out->idle_timeout = 60;
	out->batch_objects = 1000;
	out->batch_bytes = (size_t)16 << 20;
	out->max_object_size = (size_t)32 << 20;
	snprintf(out->default_collection, sizeof(out->default_collection), "%s", "default");
	snprintf(out->default_tlp, sizeof(out->default_tlp), "%s", "amber");
	out->audit_reads = true;
	out->audit_flush_ms = 1000;
	out->audit_checkpoint_seconds = 60;
	out->stream_retention_days = 7;
	out->stream_buffer_bytes = (size_t)1 << 20;
	out->stream_heartbeat_seconds = 15;
	out->stream_max_clients = 12000;
	out->stream_poll_ms = 250;
	out->webhook_timeout_seconds = 10;
	out->webhook_max_in_flight = 256;
}

const char *ky_config_locate(const char *explicit_path)
{
	if (explicit_path != NULL)
		return explicit_path;
	if (access(KY_CONFIG_PATH_LOCAL, F_OK) == 0)
		return KY_CONFIG_PATH_LOCAL;
	if (access(KY_CONFIG_PATH_SYSTEM, F_OK) == 0)
		return KY_CONFIG_PATH_SYSTEM;
	return NULL;
}

/* The length to quote of `value` in a message ("%.*s"): at most max bytes, cut at a
 * character boundary when it is longer. A shorter value is quoted whole, broken characters
 * and all, for make_printable() to show. */
static int cut(const char *value, size_t max)
{
	size_t len = strlen(value);
	return (int)(len <= max ? len : ky_utf8_prefix(value, len, max));
}

/* Replaces each byte of text[0..len) that is not part of a UTF-8 character, or is a
 * control, with '?': messages quote the file, which may hold anything. */
static void make_printable(char *text, size_t len)
{
	for (size_t i = 0; i < len;) {
		size_t n = 1;
		while (n <= 4 && n <= len - i && !ky_utf8_valid(text + i, n))
			n++;
		if (n > 4 || n > len - i || (n == 1 && ((unsigned char)text[i] < 0x20 || text[i] == 0x7f))) {
			text[i++] = '?';
			continue;
		}
		i += n;
	}
}

/* Counts a problem on `line`; keeps the message of the earliest one. */
__attribute__((format(printf, 3, 4))) static void problem(parse *p, size_t line, const char *fmt, ...)
{
	p->problems++;
	if (p->first_line != 0 && p->first_line <= line)
		return;
	p->first_line = line;
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(p->first, sizeof(p->first), fmt, ap);
	va_end(ap);
	size_t len = n < 0 ? 0 : (size_t)n;
	if (len >= sizeof(p->first)) {
		len = ky_utf8_prefix(p->first, sizeof(p->first) - 1, sizeof(p->first) - 1);
		p->first[len] = '\0';
	}
	make_printable(p->first, len);
}

static bool known_section(const char *name)
{
	for (size_t i = 0; i < NKEYS; i++)
		if (strcmp(keys[i].section, name) == 0)
			return true;
	return false;
}

/* "db, synchronous": the keys of `section`, for messages. */
static void known_keys(const char *section, char *out, size_t size)
{
	size_t used = 0;
	out[0] = '\0';
	for (size_t i = 0; i < NKEYS; i++)
		if (strcmp(keys[i].section, section) == 0 && used < size)
			used += (size_t)snprintf(out + used, size - used, "%s%s", used ? ", " : "", keys[i].name);
}

/* Whether `name` may name an API root or a collection: a URL path segment as typed. */
static bool valid_name(const char *name)
{
	size_t n = strlen(name);
	return n > 0 && n <= KY_CONFIG_NAME_MAX && isalnum((unsigned char)name[0]) &&
	       strspn(name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-") == n;
}

/* Splits "collection NAME" into its kind and NAME (pointing into `section`); false when it
 * is not a named section. */
static bool named_section(const char *section, named_kind *nk, const char **name)
{
	if (strncmp(section, "api_root ", 9) == 0) {
		*nk = NAMED_API_ROOT;
		*name = section + 9;
	} else if (strncmp(section, "collection ", 11) == 0) {
		*nk = NAMED_COLLECTION;
		*name = section + 11;
	} else {
		return false;
	}
	*name += strspn(*name, " \t");
	return true;
}

/* The entry of a named section, or NULL when the file has none by that name. */
static char *named_entry(ky_config *c, named_kind nk, const char *name)
{
	if (nk == NAMED_API_ROOT)
		return (char *)ky_config_api_root_find(c, name);
	return (char *)ky_config_collection_find(c, name);
}

/* Records a "[api_root NAME]" or "[collection NAME]" line. */
static void open_named_section(parse *p, named_kind nk, const char *name)
{
	const char *what = nk == NAMED_API_ROOT ? "api_root" : "collection";
	size_t *count = nk == NAMED_API_ROOT ? &p->config->napi_roots : &p->config->ncollections;
	size_t max = nk == NAMED_API_ROOT ? KY_CONFIG_API_ROOTS_MAX : KY_CONFIG_COLLECTIONS_MAX;
	size_t *lines = nk == NAMED_API_ROOT ? p->api_root_line : p->collection_line;
	if (!valid_name(name) || (nk == NAMED_API_ROOT && strcmp(name, "taxii2") == 0)) {
		problem(p, p->lineno, "[%s %.*s]: a name is 1 to %d letters, digits, '.', '_' or '-', starting with a letter or digit%s",
			what, cut(name, 64), name, KY_CONFIG_NAME_MAX, nk == NAMED_API_ROOT ? ", and not taxii2 (the discovery path)" : "");
		return;
	}
	char *existing = named_entry(p->config, nk, name);
	if (existing != NULL) {
		size_t index = nk == NAMED_API_ROOT ? (size_t)((ky_config_api_root *)existing - p->config->api_roots)
						      : (size_t)((ky_config_collection *)existing - p->config->collections);
		problem(p, p->lineno, "[%s %s] appears twice (first on line %zu)", what, name, lines[index]);
		return;
	}
	if (*count == max) {
		problem(p, p->lineno, "at most %zu [%s NAME] sections are allowed", max, what);
		return;
	}
	lines[*count] = p->lineno;
	if (nk == NAMED_API_ROOT)
		snprintf(p->config->api_roots[*count].name, KY_CONFIG_NAME_MAX + 1, "%s", name);
	else
		snprintf(p->config->collections[*count].name, KY_CONFIG_NAME_MAX + 1, "%s", name);
	(*count)++;
}

/* Checks a "[name]" line, text[0..len) with no NUL, as it goes by and makes it the current
 * section; inih itself reports one without its ']'. */
static void check_section_line(parse *p, const char *text, size_t len)
{
	const char *close = memchr(text, ']', len);
	if (close == NULL)
		return;
	char *name = p->section;
	size_t n = (size_t)(close - text - 1);
	if (n >= sizeof(p->section))
		n = sizeof(p->section) - 1;  /* read_line() refuses lines that long */
	memcpy(name, text + 1, n);
	name[n] = '\0';
	named_kind nk;
	const char *named;
	if (named_section(name, &nk, &named))
		open_named_section(p, nk, named);
	else if (!known_section(name))
		problem(p, p->lineno, "unknown section [%s] (known: " KNOWN_SECTIONS ")", name);
}

/* inih's fgets, over the text in memory: one whole line per call, indentation stripped, so
 * that inih's line count is ours. */
static char *read_line(char *str, int num, void *stream)
{
	parse *p = stream;
	if (p->pos == p->len)
		return NULL;
	const char *line = p->text + p->pos;
	const char *newline = memchr(line, '\n', p->len - p->pos);
	size_t n = newline != NULL ? (size_t)(newline - line) + 1 : p->len - p->pos;
	p->pos += n;
	p->lineno++;
	/* inih skips a byte order mark too, but only after the section check has missed it. */
	if (p->lineno == 1 && n >= 3 && memcmp(line, "\xEF\xBB\xBF", 3) == 0) {
		line += 3;
		n -= 3;
	}
	size_t indent = 0;
	while (indent < n && (line[indent] == ' ' || line[indent] == '\t'))
		indent++;
	const char *text = line + indent;
	size_t len = n - indent;
	if (memchr(text, '\0', len) != NULL) {
		problem(p, p->lineno, "the line holds a NUL byte");
		text = ";\n";
		len = 2;
	} else if (len + 1 > (size_t)num) {
		problem(p, p->lineno, "the line is longer than %d characters", num - 3);
		text = ";\n";
		len = 2;
	} else if (len > 0 && text[0] == '[') {
		check_section_line(p, text, len);
	}
	memcpy(str, text, len);
	str[len] = '\0';
	return str;
}

/* Parses a whole number from min to max; false if `value` is anything else. */
static bool parse_size(const char *value, size_t min, size_t max, size_t *out)
{
	if (value[0] < '0' || value[0] > '9')
		return false;
	char *end;
	errno = 0;
	unsigned long long n = strtoull(value, &end, 10);
	if (errno != 0 || *end != '\0' || n < min || n > max)
		return false;
	*out = (size_t)n;
	return true;
}

static void set_value(parse *p, const struct key *k, const char *value)
{
	char *field = (char *)p->config + k->offset;
	switch (k->kind) {
	case KIND_TEXT: {
		size_t len = strlen(value);
		if (len < k->min)
			problem(p, p->lineno, "%s must not be empty", k->name);
		else if (len > k->max)
			problem(p, p->lineno, "%s is %zu bytes long; at most %zu are allowed", k->name, len, k->max);
		else
			memcpy(field, value, len + 1);
		break;
	}
	case KIND_ONOFF:
	case KIND_SYNC:
	case KIND_ALLOW: {
		/* The two words as messages give them, and which one is true. */
		const char *const *words = k->kind == KIND_ONOFF  ? (const char *const[]){"on", "off"}
					   : k->kind == KIND_SYNC ? (const char *const[]){"full", "normal"}
								  : (const char *const[]){"allow", "refuse"};
		const char *yes = words[k->kind == KIND_SYNC ? 1 : 0];
		if (strcasecmp(value, words[0]) == 0 || strcasecmp(value, words[1]) == 0)
			*(bool *)field = strcasecmp(value, yes) == 0;
		else
			problem(p, p->lineno, "%s must be %s or %s, not '%.*s'", k->name, words[0], words[1], cut(value, 64),
				value);
		break;
	}
	case KIND_TLP: {
		static const char *const levels[] = {"clear", "green", "amber", "amber+strict", "red"};
		size_t i = 0;
		while (i < sizeof(levels) / sizeof(levels[0]) && strcasecmp(value, levels[i]) != 0)
			i++;
		if (i < sizeof(levels) / sizeof(levels[0]))
			snprintf(field, 16, "%s", levels[i]);
		else
			problem(p, p->lineno, "%s must be clear, green, amber, amber+strict or red, not '%.*s'", k->name,
				cut(value, 64), value);
		break;
	}
	case KIND_SIZE:
		if (!parse_size(value, k->min, k->max, (size_t *)field))
			problem(p, p->lineno, "%s must be a whole number from %zu to %zu, not '%.*s'", k->name, k->min, k->max,
				cut(value, 64), value);
		break;
	}
}

/* The kinds of grantee a read or write list names (ky_config_collection). */
static const char *const grantee_kinds[] = {"user", "member", "tier", "group"};

/* Whether item[0..n) is "KIND:NAME" of a known kind, or a bare NAME (a user), with a NAME of
 * 1 to 64 letters, digits, '.', '_', '-' (and for users '@', '+') starting with a letter or
 * digit, a tier being one of the three; *which gets the kind's index, *name where NAME starts. */
static bool grantee(const char *item, size_t n, size_t *which, const char **name, size_t *name_len)
{
	const char *colon = memchr(item, ':', n);
	*which = 0;
	*name = item;
	*name_len = n;
	if (colon != NULL) {
		size_t k = (size_t)(colon - item);
		for (*which = 0; *which < 4; (*which)++)
			if (strlen(grantee_kinds[*which]) == k && memcmp(item, grantee_kinds[*which], k) == 0)
				break;
		if (*which == 4)
			return false;
		*name = colon + 1;
		*name_len = n - k - 1;
	}
	const char *chars = *which == 0 ? "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._@+-"
				       : "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-";
	size_t len = *name_len;
	if (len == 0 || len > 64 || !isalnum((unsigned char)(*name)[0]))
		return false;
	for (size_t i = 0; i < len; i++)
		if (strchr(chars, (*name)[i]) == NULL || (*name)[i] == '\0')
			return false;
	if (*which == 2) {
		static const char *const tiers[] = {"secretariat", "contributor", "general"};
		for (size_t t = 0; t < 3; t++)
			if (strlen(tiers[t]) == len && memcmp(*name, tiers[t], len) == 0)
				return true;
		return false;
	}
	return true;
}

/* Respells a read or write list "alice, member:acme" as "user:alice,member:acme" into out;
 * false (with a problem) when an item is no grantee or the list mixes "*" with others. */
static bool users_list(parse *p, const char *key, const char *value, char *out, size_t size)
{
	size_t used = 0, items = 0;
	bool star = false;
	for (const char *v = value; *v;) {
		size_t n = strcspn(v, ",");
		const char *item = v;
		while (n > 0 && (*item == ' ' || *item == '\t')) {
			item++;
			n--;
		}
		while (n > 0 && (item[n - 1] == ' ' || item[n - 1] == '\t'))
			n--;
		bool is_star = n == 1 && item[0] == '*';
		size_t which = 0, name_len = 0;
		const char *name = item;
		if (!is_star && !grantee(item, n, &which, &name, &name_len)) {
			problem(p, p->lineno,
				"%s: '%.*s' is not a grantee: a user name, user:NAME, member:NAME, group:NAME,"
				" tier:secretariat|contributor|general, or *",
				key, (int)ky_utf8_prefix(item, n, 64), item);
			return false;
		}
		star |= is_star;
		items++;
		if (is_star)
			used += (size_t)snprintf(out + used, size - used, "%s*", used ? "," : "");
		else
			used += (size_t)snprintf(out + used, size - used, "%s%s:%.*s", used ? "," : "", grantee_kinds[which],
						 (int)name_len, name);
		if (used >= size) {
			problem(p, p->lineno, "%s: the list is longer than %zu bytes", key, size - 1);
			return false;
		}
		v += strcspn(v, ",");
		if (*v == ',')
			v++;
	}
	if (star && items > 1) {
		problem(p, p->lineno, "%s: * means every user and stands alone", key);
		return false;
	}
	return true;
}

static void on_named_pair(parse *p, named_kind nk, const char *section_name, const char *name, const char *value)
{
	char *entry = named_entry(p->config, nk, section_name);
	if (entry == NULL)
		return; /* its section line was refused */
	const char *what = nk == NAMED_API_ROOT ? "api_root" : "collection";
	for (size_t i = 0; i < NNAMED_KEYS; i++) {
		const struct named_key *k = &named_keys[i];
		if (k->section != nk || strcmp(k->name, name) != 0)
			continue;
		char *field = entry + k->offset;
		size_t len = strlen(value);
		if (field[0] != '\0')
			problem(p, p->lineno, "'%s' in [%s %s] is set twice", name, what, section_name);
		else if (len == 0)
			problem(p, p->lineno, "%s must not be empty%s", name, k->users ? " (leave it out for nobody)" : "");
		else if (len > k->max)
			problem(p, p->lineno, "%s is %zu bytes long; at most %zu are allowed", name, len, k->max);
		else if (k->users)
			users_list(p, name, value, field, k->max + 1);
		else
			memcpy(field, value, len + 1);
		return;
	}
	problem(p, p->lineno, "unknown key '%.*s' in [%s %s] (known: %s)", cut(name, 64), name, what, section_name,
		nk == NAMED_API_ROOT ? "title, description" : "api_root, read, write");
}

static int on_pair(void *user, const char *inih_section, const char *name, const char *value)
{
	parse *p = user;
	(void)inih_section;  /* cut at 49 bytes; p->section is whole */
	const char *section = p->section;
	named_kind nk;
	const char *section_name;
	if (named_section(section, &nk, &section_name)) {
		on_named_pair(p, nk, section_name, name, value);
		return 1;
	}
	if (section[0] == '\0') {
		problem(p, p->lineno, "'%.*s' is outside a section; put it under [store], [server] or [import]", cut(name, 64), name);
		return 1;
	}
	if (!known_section(section))
		return 1; /* reported on the section's line */
	for (size_t i = 0; i < NKEYS; i++) {
		if (strcmp(keys[i].section, section) != 0 || strcmp(keys[i].name, name) != 0)
			continue;
		if (p->set_on[i] != 0)
			problem(p, p->lineno, "'%s' in [%s] is set twice (first on line %zu)", name, section, p->set_on[i]);
		else
			set_value(p, &keys[i], value);
		p->set_on[i] = p->lineno;
		return 1;
	}
	char known[320];
	known_keys(section, known, sizeof(known));
	problem(p, p->lineno, "unknown key '%.*s' in [%s] (known: %s)", cut(name, 64), name, section, known);
	return 1;
}

/* What can only be checked once the whole file is read. */
static void check_references(parse *p)
{
	ky_config *c = p->config;
	size_t root_key = 0, page_key = 0;
	for (size_t i = 0; i < NKEYS; i++) {
		if (strcmp(keys[i].name, "api_root") == 0)
			root_key = i;
		if (strcmp(keys[i].name, "page_size") == 0)
			page_key = i;
	}
	if (p->set_on[root_key] && (!valid_name(c->api_root) || strcmp(c->api_root, "taxii2") == 0))
		problem(p, p->set_on[root_key],
			"api_root '%.*s' is not a path segment: 1 to %d letters, digits, '.', '_' or '-', and not taxii2",
			cut(c->api_root, 64), c->api_root, KY_CONFIG_NAME_MAX);
	if (c->page_size > c->max_page_size)
		problem(p, p->set_on[page_key] ? p->set_on[page_key] : 1, "page_size (%zu) is larger than max_page_size (%zu)",
			c->page_size, c->max_page_size);
	for (size_t i = 0; i < c->ncollections; i++) {
		const char *root = c->collections[i].api_root;
		if (root[0] != '\0' && strcmp(root, c->api_root) != 0 && ky_config_api_root_find(c, root) == NULL)
			problem(p, p->collection_line[i],
				"[collection %s] is on api_root '%.*s', which is neither [server] api_root (%s) nor an [api_root NAME] section",
				c->collections[i].name, cut(root, 64), root, c->api_root);
	}
}

const ky_config_collection *ky_config_collection_find(const ky_config *c, const char *name)
{
	for (size_t i = 0; i < c->ncollections; i++)
		if (strcmp(c->collections[i].name, name) == 0)
			return &c->collections[i];
	return NULL;
}

const ky_config_api_root *ky_config_api_root_find(const ky_config *c, const char *name)
{
	for (size_t i = 0; i < c->napi_roots; i++)
		if (strcmp(c->api_roots[i].name, name) == 0)
			return &c->api_roots[i];
	return NULL;
}

int ky_config_parse(ky_config *out, const char *text, size_t len, const char *name)
{
	parse p = {.config = out, .text = text, .len = len};
	int status = KY_OK;

	ky_config_defaults(out);
	int syntax = ini_parse_stream(read_line, &p, on_pair, &p);
	if (syntax == -2) {
		status = ky_error_set(KY_ENOMEM, "out of memory reading %s", name);
		goto done;
	}
	if (syntax > 0)
		problem(&p, (size_t)syntax, "expected '[section]' or 'key = value'");
	check_references(&p);
	if (p.problems == 1)
		status = ky_error_set(KY_EINVALID, "%s line %zu: %s", name, p.first_line, p.first);
	else if (p.problems > 1)
		status = ky_error_set(KY_EINVALID, "%s line %zu: %s (and %zu more problems)", name, p.first_line, p.first,
				      p.problems - 1);
done:
	if (status != KY_OK)
		ky_config_defaults(out);
	return status;
}

int ky_config_load(ky_config *out, const char *path, bool required)
{
	int status = KY_OK;
	char *text = NULL;

	ky_config_defaults(out);
	if (path == NULL)
		return KY_OK;
	FILE *in = fopen(path, "r");
	if (in == NULL) {
		if (errno == ENOENT && !required)
			return KY_OK;
		return ky_error_set(errno == ENOENT ? KY_ENOTFOUND : KY_ERROR, "cannot read %s: %s", path, strerror(errno));
	}
	/* One byte more than allowed tells a file at the limit from one over it. */
	text = malloc(KY_CONFIG_FILE_MAX + 1);
	if (text == NULL) {
		status = ky_error_set(KY_ENOMEM, "out of memory reading %s", path);
		goto cleanup;
	}
	size_t len = fread(text, 1, KY_CONFIG_FILE_MAX + 1, in);
	if (ferror(in)) {
		status = ky_error_set(KY_ERROR, "cannot read %s: %s", path, strerror(errno));
		goto cleanup;
	}
	if (len > KY_CONFIG_FILE_MAX) {
		status = ky_error_set(KY_EINVALID, "%s is larger than %d bytes, too large for a kyoyu.conf", path,
				      KY_CONFIG_FILE_MAX);
		goto cleanup;
	}
	status = ky_config_parse(out, text, len, path);

cleanup:
	if (status != KY_OK)
		ky_config_defaults(out);
	free(text);
	fclose(in);
	return status;
}
