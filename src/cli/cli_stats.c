/*
 * cli_stats: `kyoyu stats`, what the hub holds: counts, sizes, collections and versions per
 * type, for an operator (aligned text) or a script (--json, one object). Both are printed
 * from the same JSON document so they cannot disagree.
 */
#include <getopt.h>
#include <stdbool.h>
#include <stdlib.h>

#include "cli/cli.h"
#include "util/ky_error.h"

static void usage(FILE *out)
{
	fprintf(out,
		"usage: kyoyu [--db PATH] stats [--json]\n"
		"\n"
		"Prints the hub's schema version, its collections (name, UUID, additions), how many\n"
		"versions, objects and additions it holds, the last sequence number, the bytes of\n"
		"the stored objects and of the database, and the versions per type.\n"
		"\n"
		"  --json   one JSON object (keys: hub, schema_version, versions, objects, additions,\n"
		"           last_seq, bytes, database_bytes, collections, types)\n"
		"\n"
		"exit status: 0 ok, 2 usage error, 1 other failure (no hub, the database failed)\n");
}

typedef struct stats_ctx {
	ky_store *store;
	json_t *collections;   /* [{name, uuid, title, additions}] */
	json_t *types;         /* {type: versions}, most first */
} stats_ctx;


static int add_collection(void *arg, const ky_store_collection *c)
{
	stats_ctx *s = arg;
	uint64_t additions = 0;
	int rc = ky_store_collection_additions(s->store, c->id, &additions);
	if (rc != KY_OK)
		return rc;
	json_t *entry = json_pack("{s:s,s:s,s:s,s:I}", "name", c->name, "uuid", c->uuid, "title", c->title, "additions",
				  (json_int_t)additions);
	if (entry == NULL || json_array_append_new(s->collections, entry) != 0)
		return ky_error_set(KY_ENOMEM, "out of memory");
	return 0;
}

static int add_type(void *arg, const char *type, uint64_t count)
{
	stats_ctx *s = arg;
	if (json_object_set_new(s->types, type, json_integer((json_int_t)count)) != 0)
		return ky_error_set(KY_ENOMEM, "out of memory");
	return 0;
}

/* "123456 (120.6 KiB)": exact for scripts reading the text anyway, rounded for people. */
static void print_bytes(const char *label, json_int_t n)
{
	static const char *const units[] = {"bytes", "KiB", "MiB", "GiB", "TiB"};
	double v = (double)n;
	size_t u = 0;
	while (v >= 1024 && u + 1 < sizeof(units) / sizeof(units[0])) {
		v /= 1024;
		u++;
	}
	if (u == 0)
		printf("%-16s %lld bytes\n", label, (long long)n);
	else
		printf("%-16s %lld bytes (%.1f %s)\n", label, (long long)n, v, units[u]);
}

static long long integer(const json_t *doc, const char *key)
{
	return (long long)json_integer_value(json_object_get(doc, key));
}

static void print_text(const json_t *doc)
{
	printf("%-16s %s\n", "hub", json_string_value(json_object_get(doc, "hub")));
	printf("%-16s %lld\n", "schema", integer(doc, "schema_version"));
	printf("%-16s %lld\n", "versions", integer(doc, "versions"));
	printf("%-16s %lld\n", "objects", integer(doc, "objects"));
	printf("%-16s %lld\n", "additions", integer(doc, "additions"));
	printf("%-16s %lld\n", "last sequence", integer(doc, "last_seq"));
	print_bytes("stored bytes", json_integer_value(json_object_get(doc, "bytes")));
	print_bytes("database size", json_integer_value(json_object_get(doc, "database_bytes")));

	const json_t *collections = json_object_get(doc, "collections");
	printf("%-16s %zu\n", "collections", json_array_size(collections));
	size_t i;
	const json_t *c;
	json_array_foreach(collections, i, c) printf("  %-14s %s  %lld additions\n",
						     json_string_value(json_object_get(c, "name")),
						     json_string_value(json_object_get(c, "uuid")), integer(c, "additions"));

	const json_t *types = json_object_get(doc, "types");
	printf("versions per type%s\n", json_object_size(types) ? "" : ": none");
	const char *type;
	const json_t *count;
	json_object_foreach((json_t *)types, type, count) printf("  %-30s %lld\n", type,
								 (long long)json_integer_value(count));
}

int ky_cli_stats(const ky_cli_global *global, int argc, char **argv)
{
	static const struct option options[] = {
		{"json", no_argument, NULL, 'j'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	bool json = false;
	int c;

	optind = 0; /* not 1: glibc then forgets the global options' '+', and options may follow operands */
	opterr = 0;
	while ((c = getopt_long(argc, argv, "h", options, NULL)) != -1) {
		switch (c) {
		case 'j':
			json = true;
			break;
		case 'h':
			usage(stdout);
			return KY_EXIT_OK;
		default:
			fprintf(stderr, "kyoyu stats: unknown option '%s'\n", argv[optind - 1]);
			usage(stderr);
			return KY_EXIT_USAGE;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "kyoyu stats: unexpected argument '%s'\n", argv[optind]);
		usage(stderr);
		return KY_EXIT_USAGE;
	}

	stats_ctx s = {.collections = json_array(), .types = json_object()};
	ky_store_stats st;
	json_t *doc = NULL;
	int status = KY_EXIT_FAILURE;

	if (s.collections == NULL || s.types == NULL) {
		fprintf(stderr, "kyoyu stats: out of memory\n");
		goto cleanup;
	}
	if (ky_cli_hub_open(global, "stats", false, &s.store, NULL) != KY_OK)
		goto cleanup;
	if (ky_store_stats_get(s.store, &st) != KY_OK || ky_store_collection_list(s.store, add_collection, &s) != KY_OK ||
	    ky_store_type_counts(s.store, add_type, &s) != KY_OK) {
		ky_cli_hub_report(global, "stats");
		goto cleanup;
	}
	doc = json_pack("{s:s,s:i,s:I,s:I,s:I,s:I,s:I,s:I,s:O,s:O}", "hub", global->db_label, "schema_version",
			st.schema_version, "versions", (json_int_t)st.versions, "objects", (json_int_t)st.objects,
			"additions", (json_int_t)st.additions, "last_seq", (json_int_t)st.last_seq, "bytes",
			(json_int_t)st.bytes, "database_bytes", (json_int_t)st.database_bytes, "collections",
			s.collections, "types", s.types);
	if (doc == NULL) {
		fprintf(stderr, "kyoyu stats: out of memory\n");
		goto cleanup;
	}
	if (json) {
		if (json_dumpf(doc, stdout, JSON_COMPACT | JSON_PRESERVE_ORDER) == 0)
			putchar('\n');
	} else {
		print_text(doc);
	}
	status = fflush(stdout) == 0 && !ferror(stdout) ? KY_EXIT_OK : KY_EXIT_FAILURE;

cleanup:
	json_decref(doc);
	json_decref(s.collections);
	json_decref(s.types);
	ky_store_close(s.store);
	return status;
}
