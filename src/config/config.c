/*
 * config: reads kyoyu.conf with libinih, checking every section, key and value against the
 * table below.
 *
 * inih splits lines into sections and `key = value` pairs and strips comments; it does not
 * say on which line a pair was, and it treats an indented line as the continuation of the
 * previous value. So the file is fed to it through read_line(), which counts lines, strips
 * the indentation (so that indented keys are keys), refuses lines longer than inih's buffer
 * instead of letting inih split them, and checks section names as they go by (inih reports
 * sections only through their keys, so an empty unknown section would go unnoticed).
 */
#include "config/config.h"

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

typedef enum kind {
	KIND_TEXT,  /* a non-empty string of at most `max` bytes */
	KIND_SYNC,  /* full | normal, into a bool (true: normal) */
	KIND_SIZE,  /* a whole number from `min` to `max`, into a size_t */
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
	{"import", "batch_objects", KIND_SIZE, offsetof(ky_config, batch_objects), 1, SIZE_MAX},
	{"import", "batch_bytes", KIND_SIZE, offsetof(ky_config, batch_bytes), 1, SIZE_MAX},
	{"import", "max_object_size", KIND_SIZE, offsetof(ky_config, max_object_size), 1, KY_CONFIG_OBJECT_SIZE_MAX},
	{"import", "default_collection", KIND_TEXT, offsetof(ky_config, default_collection), 1, KY_CONFIG_NAME_MAX},
};

#define NKEYS (sizeof(keys) / sizeof(keys[0]))

typedef struct parse {
	ky_config *config;
	FILE *in;
	char *line;             /* getline()'s buffer */
	size_t cap;
	size_t lineno;          /* of the line inih is working on */
	size_t set_on[NKEYS];   /* the line each key was set on; 0: not set */
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
	out->batch_objects = 1000;
	out->batch_bytes = (size_t)16 << 20;
	out->max_object_size = (size_t)32 << 20;
	snprintf(out->default_collection, sizeof(out->default_collection), "%s", "default");
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

/* Counts a problem on `line`; keeps the message of the earliest one. */
__attribute__((format(printf, 3, 4))) static void problem(parse *p, size_t line, const char *fmt, ...)
{
	p->problems++;
	if (p->first_line != 0 && p->first_line <= line)
		return;
	p->first_line = line;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(p->first, sizeof(p->first), fmt, ap);
	va_end(ap);
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

/* Checks a "[name]" line as it goes by; inih itself reports one without its ']'. */
static void check_section_line(parse *p, const char *text)
{
	const char *close = strchr(text, ']');
	if (close == NULL)
		return;
	char name[64];
	snprintf(name, sizeof(name), "%.*s", (int)(close - text - 1), text + 1);
	if (!known_section(name))
		problem(p, p->lineno, "unknown section [%s] (known: [store], [import])", name);
}

/* inih's fgets: one whole line per call, indentation stripped, so that inih's line count
 * is ours. */
static char *read_line(char *str, int num, void *stream)
{
	parse *p = stream;
	ssize_t n = getline(&p->line, &p->cap, p->in);
	if (n < 0)
		return NULL;
	p->lineno++;
	const char *text = p->line + strspn(p->line, " \t");
	size_t len = strlen(text);
	if (len + 1 > (size_t)num) {
		problem(p, p->lineno, "the line is longer than %d characters", num - 3);
		text = ";\n";
		len = 2;
	} else if (text[0] == '[') {
		check_section_line(p, text);
	}
	memcpy(str, text, len + 1);
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
	case KIND_SYNC:
		if (strcasecmp(value, "full") == 0 || strcasecmp(value, "normal") == 0)
			*(bool *)field = strcasecmp(value, "normal") == 0;
		else
			problem(p, p->lineno, "%s must be full or normal, not '%.64s'", k->name, value);
		break;
	case KIND_SIZE:
		if (!parse_size(value, k->min, k->max, (size_t *)field))
			problem(p, p->lineno, "%s must be a whole number from %zu to %zu, not '%.64s'", k->name, k->min, k->max,
				value);
		break;
	}
}

static int on_pair(void *user, const char *section, const char *name, const char *value)
{
	parse *p = user;
	if (section[0] == '\0') {
		problem(p, p->lineno, "'%s' is outside a section; put it under [store] or [import]", name);
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
	char known[160];
	known_keys(section, known, sizeof(known));
	problem(p, p->lineno, "unknown key '%.64s' in [%s] (known: %s)", name, section, known);
	return 1;
}

int ky_config_load(ky_config *out, const char *path, bool required)
{
	parse p = {.config = out};
	int status = KY_OK;

	ky_config_defaults(out);
	if (path == NULL)
		return KY_OK;
	p.in = fopen(path, "r");
	if (p.in == NULL) {
		if (errno == ENOENT && !required)
			return KY_OK;
		return ky_error_set(errno == ENOENT ? KY_ENOTFOUND : KY_ERROR, "cannot read %s: %s", path, strerror(errno));
	}

	int syntax = ini_parse_stream(read_line, &p, on_pair, &p);
	if (ferror(p.in)) {
		status = ky_error_set(KY_ERROR, "cannot read %s: %s", path, strerror(errno));
		goto cleanup;
	}
	if (syntax == -2) {
		status = ky_error_set(KY_ENOMEM, "out of memory reading %s", path);
		goto cleanup;
	}
	if (syntax > 0)
		problem(&p, (size_t)syntax, "expected '[section]' or 'key = value'");
	if (p.problems == 1)
		status = ky_error_set(KY_EINVALID, "%s line %zu: %s", path, p.first_line, p.first);
	else if (p.problems > 1)
		status = ky_error_set(KY_EINVALID, "%s line %zu: %s (and %zu more problems)", path, p.first_line, p.first,
				      p.problems - 1);

cleanup:
	if (status != KY_OK)
		ky_config_defaults(out);
	free(p.line);
	fclose(p.in);
	return status;
}
