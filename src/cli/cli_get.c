/*
 * cli_get: `kyoyu get ID`, one object as the hub holds it: its latest version (STIX 2.1 §3.6:
 * the one with the latest modified), or with --all every version, oldest first, as a JSON
 * array. The stored bytes are printed as they are, like kyoyu export does.
 */
#include <getopt.h>
#include <stdbool.h>
#include <stdlib.h>

#include "cli/cli.h"
#include "util/ky_error.h"

/* Versions per query with --all; an object rarely has more, but nothing bounds it. */
#define PAGE_ROWS 1000

static void usage(FILE *out)
{
	fprintf(out,
		"usage: kyoyu [--db PATH] get [--collection NAME] [--all] [--as MEMBER] ID\n"
		"\n"
		"Prints the latest version of the object ID, exactly as it was imported.\n"
		"\n"
		"  --collection NAME  look only in this collection (a name or its UUID)\n"
		"  --all              every version, as a JSON array in the order they were added\n"
		"  --as MEMBER        only what the users of member MEMBER may read (as if nothing\n"
		"                     else existed): the hub's policy decision, seen by the operator\n"
		"\n"
		"exit status: 0 found, 2 usage error, 1 other failure (no such object, no hub)\n");
}

typedef struct get_ctx {
	bool all;
	size_t rows;
} get_ctx;

static int print_row(void *arg, const ky_store_row *row)
{
	get_ctx *g = arg;
	if (g->all)
		fputs(g->rows == 0 ? "[\n" : ",\n", stdout);
	fwrite(row->raw, 1, row->raw_len, stdout);
	g->rows++;
	/* One latest version per object; stop rather than trust that. */
	return g->all ? 0 : 1;
}

int ky_cli_get(const ky_cli_global *global, int argc, char **argv)
{
	static const struct option options[] = {
		{"collection", required_argument, NULL, 'c'},
		{"all", no_argument, NULL, 'a'},
		{"as", required_argument, NULL, 'm'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	const char *collection_name = NULL, *as_member = NULL;
	get_ctx g = {0};
	int c;

	optind = 0; /* not 1: glibc then forgets the global options' '+', and options may follow operands */
	opterr = 0;
	while ((c = getopt_long(argc, argv, "h", options, NULL)) != -1) {
		switch (c) {
		case 'c':
			collection_name = optarg;
			break;
		case 'a':
			g.all = true;
			break;
		case 'm':
			as_member = optarg;
			break;
		case 'h':
			usage(stdout);
			return KY_EXIT_OK;
		default:
			fprintf(stderr, "kyoyu get: unknown or incomplete option '%s'\n", argv[optind - 1]);
			usage(stderr);
			return KY_EXIT_USAGE;
		}
	}
	if (argc - optind != 1) {
		fprintf(stderr, "kyoyu get: expected one object id\n");
		usage(stderr);
		return KY_EXIT_USAGE;
	}

	const char *id = argv[optind];
	ky_store *store = NULL;
	ky_store_collection collection = {0};
	ky_store_query q = {
		.ids = &id,
		.nids = 1,
		.versions = g.all ? KY_STORE_ALL : KY_STORE_LAST,
		.limit = PAGE_ROWS,
	};
	ky_store_page page;
	ky_viewer *viewer = NULL;
	ky_store_reads reads = {0};
	ky_store_scope scope;
	int status = KY_EXIT_FAILURE, rc;

	if (ky_cli_hub_open(global, "get", false, &store, NULL) != KY_OK)
		goto cleanup;
	if (ky_cli_read_scope(global, "get", store, as_member, &reads, &viewer, &scope) != KY_OK)
		goto cleanup;
	q.scope = &scope;
	if (collection_name != NULL) {
		if (ky_store_collection_find(store, collection_name, &collection) != KY_OK) {
			ky_cli_hub_report(global, "get");
			goto cleanup;
		}
		q.collection_id = collection.id;
	}
	do {
		rc = ky_store_query_run(store, &q, print_row, &g, &page);
		q.after = page.last_seq;
	} while (rc == KY_OK && g.all && page.more);
	if (rc != KY_OK) {
		ky_cli_hub_report(global, "get");
		goto cleanup;
	}
	if (g.rows == 0) {
		if (as_member != NULL)
			fprintf(stderr, "kyoyu get: %s: no object %s that member %s may read\n", global->db_label, id,
				as_member);
		else if (collection_name != NULL)
			fprintf(stderr, "kyoyu get: %s: no object %s in collection %s\n", global->db_label, id, collection.name);
		else
			fprintf(stderr, "kyoyu get: %s: no object %s in this hub\n", global->db_label, id);
		goto cleanup;
	}
	fputs(g.all ? "\n]\n" : "\n", stdout);
	if (fflush(stdout) != 0 || ferror(stdout)) {
		fprintf(stderr, "kyoyu get: cannot write the object to standard output\n");
		goto cleanup;
	}
	status = KY_EXIT_OK;

cleanup:
	if (store != NULL && ky_cli_audit_read(global, "get", store, as_member, &reads) != KY_OK)
		status = KY_EXIT_FAILURE;
	free(viewer);
	ky_store_collection_clear(&collection);
	ky_store_close(store);
	return status;
}
