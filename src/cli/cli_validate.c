/*
 * cli_validate: `kyoyu validate FILE|-`, the streaming reader and the validator behind a
 * summary for people or one JSON line per object for scripts.
 */
#include <errno.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "stix/stix_reader.h"
#include "stix/stix_text.h"
#include "stix/stix_validate.h"
#include "util/ky_error.h"

static void usage(FILE *out)
{
	fprintf(out,
		"usage: kyoyu validate [--json] [--max-object-size BYTES] FILE|-\n"
		"\n"
		"Checks STIX 2.1 content against the standard: a bundle, a JSON array of objects or\n"
		"a single object, read from FILE or from standard input (-). The input is streamed:\n"
		"memory does not grow with its size.\n"
		"\n"
		"  --json                  one JSON result per object, then a summary line\n"
		"  --max-object-size N     refuse single objects larger than N bytes (default %zu)\n"
		"\n"
		"exit status: 0 all valid, 3 some objects invalid, 2 usage error, 1 other failure\n",
		(size_t)KY_STIX_READER_MAX_OBJECT_DEFAULT);
}

/* Distinct types counted by name; past this many the rest are "other types", so that a
 * stream of made-up types cannot grow memory. */
#define TALLY_TYPES_MAX 256

typedef struct tally {
	size_t objects, valid, invalid;
	json_t *types;       /* type name -> count */
	size_t other_types;  /* objects of types beyond TALLY_TYPES_MAX, or without a type */
} tally;

static void tally_type(tally *t, const json_t *object)
{
	const char *type = object ? json_string_value(json_object_get(object, "type")) : NULL;
	json_t *count = type ? json_object_get(t->types, type) : NULL;
	if (count != NULL)
		json_integer_set(count, json_integer_value(count) + 1);
	else if (type != NULL && json_object_size(t->types) < TALLY_TYPES_MAX)
		json_object_set_new(t->types, type, json_integer(1));
	else
		t->other_types++;
}

static int by_count_then_name(const void *a, const void *b)
{
	const json_t *const *x = a, *const *y = b;
	json_int_t cx = json_integer_value(json_object_get(x[0], "n")), cy = json_integer_value(json_object_get(y[0], "n"));
	if (cx != cy)
		return cx > cy ? -1 : 1;
	return strcmp(json_string_value(json_object_get(x[0], "type")), json_string_value(json_object_get(y[0], "type")));
}

/* "  indicator 120, relationship 80, ..." most frequent first. */
static void print_types(const tally *t)
{
	size_t n = json_object_size(t->types), i = 0;
	if (n == 0)
		return;
	json_t **rows = calloc(n, sizeof(*rows));
	if (rows == NULL)
		return;
	const char *key;
	json_t *count;
	json_object_foreach(t->types, key, count) rows[i++] = json_pack("{s:s,s:I}", "type", key, "n", json_integer_value(count));
	qsort(rows, n, sizeof(*rows), by_count_then_name);
	fputs("  types:", stdout);
	for (i = 0; i < n; i++) {
		printf("%s %s %lld", i ? "," : "", json_string_value(json_object_get(rows[i], "type")),
		       (long long)json_integer_value(json_object_get(rows[i], "n")));
		json_decref(rows[i]);
	}
	if (t->other_types)
		printf(", other %zu", t->other_types);
	putchar('\n');
	free(rows);
}

static const char *string_or_null(const json_t *object, const char *key)
{
	return json_string_value(json_object_get(object, key));
}

static void print_json_result(const ky_stix_item *item, const ky_stix_problems *problems, bool valid)
{
	json_t *line = json_object();
	json_object_set_new(line, "index", json_integer((json_int_t)item->index));
	if (item->object != NULL) {
		const char *id = string_or_null(item->object, "id");
		const char *type = string_or_null(item->object, "type");
		json_object_set_new(line, "id", id ? json_string(id) : json_null());
		json_object_set_new(line, "type", type ? json_string(type) : json_null());
	}
	json_object_set_new(line, "valid", json_boolean(valid));
	if (!valid) {
		json_t *errors = json_array();
		if (item->error != NULL)
			json_array_append_new(errors, json_string(item->error));
		for (size_t i = 0; i < ky_stix_problems_kept(problems); i++)
			json_array_append_new(errors, json_string(ky_stix_problems_get(problems, i)));
		if (ky_stix_problems_count(problems) > ky_stix_problems_kept(problems))
			json_array_append_new(errors, json_sprintf("... and %zu more problems",
								   ky_stix_problems_count(problems) - ky_stix_problems_kept(problems)));
		json_object_set_new(line, "errors", errors);
	}
	char *text = json_dumps(line, JSON_COMPACT | JSON_PRESERVE_ORDER);
	if (text != NULL)
		puts(text);
	free(text);
	json_decref(line);
}

static void print_text_result(const ky_stix_item *item, const ky_stix_problems *problems)
{
	const json_t *id = item->object ? json_object_get(item->object, "id") : NULL;
	char where[320], shown[257];
	/* The id as the messages quote values (stix_text.h): cut between characters, one line. */
	if (json_is_string(id))
		snprintf(where, sizeof(where), "objects[%zu] (%s)", item->index,
			 ky_stix_excerpt(shown, sizeof(shown), json_string_value(id), json_string_length(id)));
	else
		snprintf(where, sizeof(where), "objects[%zu]", item->index);
	if (item->error != NULL)
		printf("%s: %s\n", where, item->error);
	for (size_t i = 0; i < ky_stix_problems_kept(problems); i++)
		printf("%s: %s\n", where, ky_stix_problems_get(problems, i));
	if (ky_stix_problems_count(problems) > ky_stix_problems_kept(problems))
		printf("%s: ... and %zu more problems\n", where,
		       ky_stix_problems_count(problems) - ky_stix_problems_kept(problems));
}

int ky_cli_validate(const ky_cli_global *global, int argc, char **argv)
{
	static const struct option options[] = {
		{"json", no_argument, NULL, 'j'},
		{"max-object-size", required_argument, NULL, 'm'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	bool json = false;
	size_t max_object = 0;
	int c;
	(void)global;

	optind = 0; /* not 1: glibc then forgets the global options' '+', and options may follow operands */
	opterr = 0;
	while ((c = getopt_long(argc, argv, "h", options, NULL)) != -1) {
		switch (c) {
		case 'j':
			json = true;
			break;
		case 'm': {
			char *end;
			errno = 0;
			unsigned long long n = strtoull(optarg, &end, 10);
			if (errno || *end || n == 0 || optarg[0] == '-') {
				fprintf(stderr, "kyoyu validate: --max-object-size takes a positive number of bytes, not '%s'\n", optarg);
				return KY_EXIT_USAGE;
			}
			max_object = (size_t)n;
			break;
		}
		case 'h':
			usage(stdout);
			return KY_EXIT_OK;
		default:
			fprintf(stderr, "kyoyu validate: unknown or incomplete option '%s'\n", argv[optind - 1]);
			usage(stderr);
			return KY_EXIT_USAGE;
		}
	}
	if (argc - optind != 1) {
		fprintf(stderr, "kyoyu validate: expected one FILE or '-' for standard input\n");
		usage(stderr);
		return KY_EXIT_USAGE;
	}

	const char *path = argv[optind];
	bool from_stdin = strcmp(path, "-") == 0;
	FILE *in = from_stdin ? stdin : fopen(path, "rb");
	if (in == NULL) {
		fprintf(stderr, "kyoyu validate: cannot open %s: %s\n", path, strerror(errno));
		return KY_EXIT_FAILURE;
	}

	int status = KY_EXIT_OK;
	ky_stix_reader *reader = NULL;
	ky_stix_problems *problems = NULL;
	tally t = {.types = json_object()};
	int rc;

	if (ky_stix_reader_new(&reader, in, max_object, from_stdin ? "<stdin>" : path) < 0 ||
	    ky_stix_problems_new(&problems) < 0) {
		fprintf(stderr, "kyoyu validate: %s\n", ky_error_last());
		status = KY_EXIT_FAILURE;
		goto cleanup;
	}

	ky_stix_item item;
	while ((rc = ky_stix_reader_next(reader, &item)) == 1) {
		ky_stix_problems_clear(problems);
		bool valid = item.object != NULL;
		if (valid) {
			rc = ky_stix_validate_object(problems, item.object);
			if (rc == KY_ENOMEM) {
				fprintf(stderr, "kyoyu validate: %s\n", ky_error_last());
				status = KY_EXIT_FAILURE;
				goto cleanup;
			}
			valid = rc == KY_OK;
		}
		t.objects++;
		tally_type(&t, item.object);
		if (valid)
			t.valid++;
		else
			t.invalid++;
		if (json)
			print_json_result(&item, problems, valid);
		else if (!valid)
			print_text_result(&item, problems);
	}

	json_t *bundle_errors = json_array();
	if (rc < 0) {
		/* The outer structure broke: what came before was checked, the rest is unknown. */
		if (json) {
			json_t *line = json_pack("{s:s}", "fatal", ky_error_last());
			char *text = json_dumps(line, JSON_COMPACT);
			if (text)
				puts(text);
			free(text);
			json_decref(line);
		} else {
			printf("%s\n", ky_error_last());
		}
		status = ky_error_last_code() == KY_ERROR || ky_error_last_code() == KY_ENOMEM ? KY_EXIT_FAILURE : KY_EXIT_INVALID;
	} else if (ky_stix_reader_envelope(reader) != NULL) {
		ky_stix_problems_clear(problems);
		if (ky_stix_validate_envelope(problems, ky_stix_reader_envelope(reader)) == KY_EINVALID) {
			for (size_t i = 0; i < ky_stix_problems_kept(problems); i++) {
				json_array_append_new(bundle_errors, json_string(ky_stix_problems_get(problems, i)));
				if (!json)
					printf("%s\n", ky_stix_problems_get(problems, i));
			}
			status = KY_EXIT_INVALID;
		}
	}
	if (t.invalid > 0 && status == KY_EXIT_OK)
		status = KY_EXIT_INVALID;

	if (json) {
		json_t *summary = json_pack("{s:{s:I,s:I,s:I,s:o,s:O,s:I}}", "summary", "objects", (json_int_t)t.objects, "valid",
					    (json_int_t)t.valid, "invalid", (json_int_t)t.invalid, "bundle_errors",
					    bundle_errors, "types", t.types, "other_types", (json_int_t)t.other_types);
		char *text = json_dumps(summary, JSON_COMPACT | JSON_PRESERVE_ORDER);
		if (text)
			puts(text);
		free(text);
		json_decref(summary);
	} else {
		json_decref(bundle_errors);
		const char *shape = ky_stix_reader_shape(reader) == KY_STIX_SHAPE_BUNDLE ? "bundle"
				    : ky_stix_reader_shape(reader) == KY_STIX_SHAPE_ARRAY ? "array"
											    : "object";
		printf("%s: %s of %zu object%s: %zu valid, %zu invalid%s\n", from_stdin ? "<stdin>" : path, shape,
		       t.objects, t.objects == 1 ? "" : "s", t.valid, t.invalid, rc < 0 ? " (reading stopped early)" : "");
		print_types(&t);
	}

cleanup:
	json_decref(t.types);
	ky_stix_problems_free(problems);
	ky_stix_reader_free(reader);
	if (!from_stdin)
		fclose(in);
	return status;
}
