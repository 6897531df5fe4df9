/*
 * export_compare: checks that an export gives back what was imported, object by object.
 *
 *     export_compare EXPORT INPUT...      (an INPUT ending in .gz is read through gzip -dc)
 *
 * The inputs are read in the order they were imported, with the stream reader (each object's
 * exact bytes and its parse). An object is one version: its id and modified (or created, or
 * neither: STIX 2.1 §3.6). Every version of the inputs must be in EXPORT exactly once, with
 * JSON equal to the input's (jansson's json_equal: every property, custom x_mitre_ ones
 * included, every value), and with the very same bytes, since the hub stores and exports
 * what it received; EXPORT must hold nothing else. A version found in two inputs is
 * imported once (the second is a duplicate): the export then carries the first input's.
 * Prints counts (per input, versions, duplicates, custom types and properties); exits 0
 * when everything matches, 1 otherwise (with one line per difference, at most 20), 2 on a
 * usage error.
 */
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "stix/stix_reader.h"
#include "util/ky_error.h"

typedef struct version {
	char *key;      /* id '\n' modified */
	json_t *object;
	char *raw;
	size_t raw_len;
	const char *source;
	size_t index;
	unsigned exported; /* times found in the export */
} version;

static version *versions;
static size_t nversions, cap;
static size_t problems;

static void problem(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void problem(const char *fmt, ...)
{
	if (++problems <= 20) {
		va_list ap;
		va_start(ap, fmt);
		fputs("export_compare: ", stdout);
		vprintf(fmt, ap);
		fputc('\n', stdout);
		va_end(ap);
	}
}

/* The version's key, malloc'd: id and modified (or created, or ""). */
static char *key_of(const json_t *o)
{
	const char *id = json_string_value(json_object_get(o, "id"));
	const char *v = json_string_value(json_object_get(o, "modified"));
	if (v == NULL)
		v = json_string_value(json_object_get(o, "created"));
	if (id == NULL)
		return NULL;
	char *k = malloc(strlen(id) + (v ? strlen(v) : 0) + 2);
	if (k != NULL)
		sprintf(k, "%s\n%s", id, v ? v : "");
	return k;
}

static version *find(const char *key)
{
	/* A few thousand versions: a linear search is quick enough, and plain. */
	for (size_t i = 0; i < nversions; i++)
		if (strcmp(versions[i].key, key) == 0)
			return &versions[i];
	return NULL;
}

static bool ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);
	return n >= m && strcmp(s + n - m, suffix) == 0;
}

/* Opens a file, through gzip -dc for .gz; *piped says how to close it. */
static FILE *open_input(const char *path, bool *piped)
{
	*piped = ends_with(path, ".gz");
	if (!*piped)
		return fopen(path, "rb");
	char command[4200];
	if (strchr(path, '\'') != NULL || strlen(path) > 4000)
		return NULL;
	snprintf(command, sizeof(command), "gzip -dc '%s'", path);
	return popen(command, "r");
}

typedef void item_fn(const char *path, const ky_stix_item *item, json_t *object);

/* Calls fn for each object of the file. */
static size_t read_all(const char *path, item_fn *fn)
{
	bool piped;
	FILE *in = open_input(path, &piped);
	ky_stix_reader *reader = NULL;
	ky_stix_item item;
	size_t n = 0;
	int rc;
	if (in == NULL || ky_stix_reader_new(&reader, in, 0, path) != KY_OK) {
		fprintf(stderr, "export_compare: cannot read %s\n", path);
		exit(1);
	}
	while ((rc = ky_stix_reader_next(reader, &item)) == 1) {
		if (item.object == NULL) {
			problem("%s: objects[%zu]: %s", path, item.index, item.error);
			continue;
		}
		fn(path, &item, item.object);
		n++;
	}
	if (rc != 0)
		problem("%s: %s", path, ky_error_last());
	if (ky_stix_reader_shape(reader) != KY_STIX_SHAPE_BUNDLE)
		problem("%s: not a bundle", path);
	ky_stix_reader_free(reader);
	if (piped ? pclose(in) != 0 : fclose(in) != 0)
		problem("%s: reading failed", path);
	return n;
}

static size_t duplicates, differing_duplicates;

static void take_input(const char *path, const ky_stix_item *item, json_t *object)
{
	char *key = key_of(object);
	if (key == NULL) {
		problem("%s: objects[%zu] has no id", path, item->index);
		return;
	}
	version *seen = find(key);
	if (seen != NULL) {
		/* Imported once: the export has the first one's bytes. */
		duplicates++;
		if (!json_equal(seen->object, object))
			differing_duplicates++;
		free(key);
		return;
	}
	if (nversions == cap) {
		cap = cap ? cap * 2 : 1024;
		versions = realloc(versions, cap * sizeof(*versions));
		if (versions == NULL)
			exit(1);
	}
	version *v = &versions[nversions++];
	memset(v, 0, sizeof(*v));
	v->key = key;
	v->object = json_incref(object);
	v->raw = malloc(item->raw_len);
	memcpy(v->raw, item->raw, item->raw_len);
	v->raw_len = item->raw_len;
	v->source = path;
	v->index = item->index;
}

static size_t custom_types, custom_properties_objects;

static void take_export(const char *path, const ky_stix_item *item, json_t *object)
{
	char *key = key_of(object);
	version *v = key ? find(key) : NULL;
	if (v == NULL) {
		problem("%s: objects[%zu] (%s) is in no input", path, item->index,
			key ? key : "without an id");
	} else if (++v->exported > 1) {
		problem("%s: objects[%zu]: %s (modified %s) is exported %u times", path, item->index,
			json_string_value(json_object_get(object, "id")), strchr(v->key, '\n') + 1, v->exported);
	} else {
		if (!json_equal(v->object, object))
			problem("%s: objects[%zu] (%s) differs from %s objects[%zu]", path, item->index,
				json_string_value(json_object_get(object, "id")), v->source, v->index);
		else if (item->raw_len != v->raw_len || memcmp(item->raw, v->raw, v->raw_len) != 0)
			problem("%s: objects[%zu] (%s) is equal JSON but not the same bytes as %s objects[%zu]", path,
				item->index, json_string_value(json_object_get(object, "id")), v->source, v->index);
		const char *type = json_string_value(json_object_get(object, "type"));
		custom_types += type != NULL && strncmp(type, "x-mitre-", 8) == 0;
		const char *name;
		json_t *value;
		bool custom = false;
		json_object_foreach(object, name, value) custom |= strncmp(name, "x_mitre_", 8) == 0;
		custom_properties_objects += custom;
	}
	free(key);
}

int main(int argc, char **argv)
{
	if (argc < 3) {
		fprintf(stderr, "usage: export_compare EXPORT INPUT...\n");
		return 2;
	}
	size_t inputs = 0;
	for (int i = 2; i < argc; i++) {
		size_t n = read_all(argv[i], take_input);
		printf("export_compare: %s: %zu objects\n", argv[i], n);
		inputs += n;
	}
	size_t exported = read_all(argv[1], take_export);
	size_t missing = 0;
	for (size_t i = 0; i < nversions; i++) {
		if (versions[i].exported == 0) {
			missing++;
			problem("%s objects[%zu] (%s) is not in the export", versions[i].source, versions[i].index,
				json_string_value(json_object_get(versions[i].object, "id")));
		}
	}
	printf("export_compare: %zu input objects, %zu versions (%zu found twice, %zu of those with other "
	       "content); the export: %zu objects, %zu missing; %zu of type x-mitre-*, %zu with x_mitre_ "
	       "properties\n",
	       inputs, nversions, duplicates, differing_duplicates, exported, missing, custom_types,
	       custom_properties_objects);
	if (nversions == 0 || custom_types == 0 || custom_properties_objects == 0)
		problem("expected ATT&CK content: versions, x-mitre-* types and x_mitre_ properties");
	if (problems > 20)
		printf("export_compare: ... %zu problems in all\n", problems);
	printf("export_compare: %s\n", problems ? "FAILED" : "every version exactly once, equal, same bytes");
	for (size_t i = 0; i < nversions; i++) {
		free(versions[i].key);
		free(versions[i].raw);
		json_decref(versions[i].object);
	}
	free(versions);
	return problems ? 1 : 0;
}
