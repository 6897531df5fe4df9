/*
 * cli_export: `kyoyu export`, the hub's objects (or a selection) as one STIX 2.1 bundle
 * (STIX 2.1 §8), on standard output or in a file.
 *
 * The bundle is streamed: the store is read in keyset pages of PAGE_ROWS (the last page's
 * number is the next one's cursor) and each row's stored bytes are written as they come, so
 * memory does not grow with the hub. Nothing is re-serialised: an exported object is
 * byte for byte what was imported.
 */
#include <errno.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"
#include "util/ky_error.h"
#include "util/ky_uuid.h"

/* Rows per query: large enough that a query's cost is spread over many objects, small
 * enough that a page of large objects stays a few MB inside SQLite. */
#define PAGE_ROWS 1000

static void usage(FILE *out)
{
	fprintf(out,
		"usage: kyoyu [--db PATH] export [--collection NAME] [--type TYPE]... [--id ID]...\n"
		"                                [--latest] [--first] [--all] [--added-after N]\n"
		"                                [--as MEMBER] [--output FILE]\n"
		"\n"
		"Writes objects of the hub as one STIX 2.1 bundle, each exactly as it was imported,\n"
		"in the order they were added. By default: every version of every object in the hub.\n"
		"\n"
		"  --collection NAME  only what was added to this collection (a name or its UUID)\n"
		"  --type TYPE        only objects of this type (repeat for several)\n"
		"  --id ID            only this object (repeat for several)\n"
		"  --latest           the latest version of each object\n"
		"  --first            the first version of each object (with --latest: both)\n"
		"  --all              every version (the default)\n"
		"  --added-after N    only additions numbered above N (needs --collection; kyoyu\n"
		"                     stats prints the last number)\n"
		"  --as MEMBER        only what the users of member MEMBER may read, through the\n"
		"                     hub's policy decision (what a member sees, for the operator)\n"
		"  --output FILE      write to FILE instead of standard output; removed on failure\n"
		"\n"
		"An empty selection is a bundle without \"objects\" (STIX 2.1 §8 wants one or more).\n"
		"\n"
		"exit status: 0 written, 2 usage error, 1 other failure (no hub, no such collection,\n"
		"a write failed)\n");
}

typedef struct export_ctx {
	FILE *out;
	const char *out_name;   /* for messages */
	char bundle_id[48];     /* "bundle--<uuid4>" */
	size_t rows;
	bool write_error;       /* the failure was writing, not the hub */
} export_ctx;

/* STIX 2.1 §2.9: a bundle's id is its type and a UUID, of version 4 as it is random. */
static int bundle_id(char out[48])
{
	char uuid[37];
	int rc = ky_uuid4(uuid);
	if (rc == KY_OK)
		snprintf(out, 48, "bundle--%s", uuid);
	return rc;
}

static int write_failed(export_ctx *x)
{
	x->write_error = true;
	return ky_error_set(KY_ERROR, "cannot write %s: %s", x->out_name, strerror(errno));
}

/* The header goes out with the first row, because an empty bundle has no "objects". */
static int write_row(void *arg, const ky_store_row *row)
{
	export_ctx *x = arg;
	if (x->rows == 0)
		fprintf(x->out, "{\"type\": \"bundle\", \"id\": \"%s\", \"objects\": [\n", x->bundle_id);
	else
		fputs(",\n", x->out);
	if (fwrite(row->raw, 1, row->raw_len, x->out) != row->raw_len || ferror(x->out))
		return write_failed(x);
	x->rows++;
	return 0;
}

static int write_end(export_ctx *x)
{
	if (x->rows == 0)
		fprintf(x->out, "{\"type\": \"bundle\", \"id\": \"%s\"}\n", x->bundle_id);
	else
		fputs("\n]}\n", x->out);
	return fflush(x->out) != 0 || ferror(x->out) ? write_failed(x) : KY_OK;
}

static bool parse_number(const char *text, uint64_t *out)
{
	char *end;
	errno = 0;
	unsigned long long n = strtoull(text, &end, 10);
	if (errno || *end || text[0] < '0' || text[0] > '9')
		return false;
	*out = n;
	return true;
}

int ky_cli_export(const ky_cli_global *global, int argc, char **argv)
{
	static const struct option options[] = {
		{"collection", required_argument, NULL, 'c'},
		{"type", required_argument, NULL, 't'},
		{"id", required_argument, NULL, 'i'},
		{"latest", no_argument, NULL, 'L'},
		{"first", no_argument, NULL, 'F'},
		{"all", no_argument, NULL, 'A'},
		{"added-after", required_argument, NULL, 'a'},
		{"output", required_argument, NULL, 'o'},
		{"as", required_argument, NULL, 'm'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	const char **ids = calloc((size_t)argc, sizeof(*ids));
	const char **types = calloc((size_t)argc, sizeof(*types));
	ky_store_query q = {.limit = PAGE_ROWS};
	const char *collection_name = NULL, *output = NULL, *as_member = NULL;
	ky_viewer *viewer = NULL;
	ky_store_reads reads = {0};
	ky_store_scope scope;
	bool after_given = false;
	ky_store *store = NULL;
	ky_store_collection collection = {0};
	export_ctx x = {.out = stdout, .out_name = "standard output"};
	int status = KY_EXIT_USAGE, rc = KY_OK, c;

	if (ids == NULL || types == NULL) {
		fprintf(stderr, "kyoyu export: out of memory\n");
		status = KY_EXIT_FAILURE;
		goto cleanup;
	}
	optind = 0; /* not 1: glibc then forgets the global options' '+', and options may follow operands */
	opterr = 0;
	while ((c = getopt_long(argc, argv, "h", options, NULL)) != -1) {
		switch (c) {
		case 'c':
			collection_name = optarg;
			break;
		case 't':
			types[q.ntypes++] = optarg;
			break;
		case 'i':
			ids[q.nids++] = optarg;
			break;
		case 'L':
			q.versions |= KY_STORE_LAST;
			break;
		case 'F':
			q.versions |= KY_STORE_FIRST;
			break;
		case 'A':
			q.versions |= KY_STORE_ALL;
			break;
		case 'a':
			if (!parse_number(optarg, &q.after)) {
				fprintf(stderr, "kyoyu export: --added-after takes a sequence number, not '%s'\n", optarg);
				goto cleanup;
			}
			after_given = true;
			break;
		case 'o':
			output = optarg;
			break;
		case 'm':
			as_member = optarg;
			break;
		case 'h':
			usage(stdout);
			status = KY_EXIT_OK;
			goto cleanup;
		default:
			fprintf(stderr, "kyoyu export: unknown or incomplete option '%s'\n", argv[optind - 1]);
			usage(stderr);
			goto cleanup;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "kyoyu export: unexpected argument '%s'\n", argv[optind]);
		usage(stderr);
		goto cleanup;
	}
	/* Sequence numbers belong to additions to a collection; the hub-wide walk is over
	 * versions, which have none. */
	if (after_given && collection_name == NULL) {
		fprintf(stderr, "kyoyu export: --added-after counts a collection's additions; name it with --collection\n");
		goto cleanup;
	}
	if (q.versions == 0)
		q.versions = KY_STORE_ALL;
	q.ids = ids;
	q.types = types;

	status = KY_EXIT_FAILURE;
	if (ky_cli_hub_open(global, "export", false, &store, NULL) != KY_OK)
		goto cleanup;
	if (ky_cli_read_scope(global, "export", store, as_member, &reads, &viewer, &scope) != KY_OK)
		goto cleanup;
	q.scope = &scope;
	if (collection_name != NULL) {
		if (ky_store_collection_find(store, collection_name, &collection) != KY_OK) {
			ky_cli_hub_report(global, "export");
			goto cleanup;
		}
		q.collection_id = collection.id;
	}
	if (bundle_id(x.bundle_id) != KY_OK) {
		fprintf(stderr, "kyoyu export: %s\n", ky_error_last());
		goto cleanup;
	}
	if (output != NULL) {
		x.out = fopen(output, "wb");
		x.out_name = output;
		if (x.out == NULL) {
			fprintf(stderr, "kyoyu export: cannot create %s: %s\n", output, strerror(errno));
			goto cleanup;
		}
	}

	/* Progress only for a person watching, and not onto the terminal the bundle goes to. */
	bool progress = isatty(STDERR_FILENO) && (output != NULL || !isatty(STDOUT_FILENO));
	time_t shown = 0;
	ky_store_page page;
	do {
		rc = ky_store_query_run(store, &q, write_row, &x, &page);
		q.after = page.last_seq;
		if (progress && rc == KY_OK && time(NULL) != shown) {
			shown = time(NULL);
			fprintf(stderr, "\r\033[Kexport: %zu objects", x.rows);
		}
	} while (rc == KY_OK && page.more);
	if (rc == KY_OK)
		rc = write_end(&x);
	if (progress)
		fprintf(stderr, "\r\033[K");
	if (rc != KY_OK) {
		if (x.write_error)
			fprintf(stderr, "kyoyu export: %s\n", ky_error_last());
		else
			ky_cli_hub_report(global, "export");
		status = rc == KY_EINVALID ? KY_EXIT_USAGE : KY_EXIT_FAILURE;
		goto cleanup;
	}
	if (progress)
		fprintf(stderr, "export: %zu objects from %s to %s\n", x.rows, global->db_label, x.out_name);
	status = KY_EXIT_OK;

cleanup:
	if (store != NULL && ky_cli_audit_read(global, "export", store, as_member, &reads) != KY_OK)
		status = KY_EXIT_FAILURE;
	free(viewer);
	if (x.out != stdout && x.out != NULL) {
		if (fclose(x.out) != 0 && status == KY_EXIT_OK) {
			fprintf(stderr, "kyoyu export: cannot write %s: %s\n", output, strerror(errno));
			status = KY_EXIT_FAILURE;
		}
		if (status != KY_EXIT_OK)
			unlink(output);
	}
	ky_store_collection_clear(&collection);
	ky_store_close(store);
	free(ids);
	free(types);
	return status;
}
