/*
 * cli_import: `kyoyu import FILE|-`, the ingest pipeline behind a command line: progress on a
 * terminal, every refusal with its reasons, a summary; or, with --json, one line per object
 * printed as soon as its batch is durable (a STORED line is an acknowledgement), then a
 * summary line.
 */
#include <errno.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"
#include "ingest/ingest.h"
#include "store/store.h"
#include "util/ky_error.h"

static void usage(FILE *out)
{
	fprintf(out,
		"usage: kyoyu [--db PATH] import [--collection NAME] [--json] [--batch N] [--quiet] FILE|-\n"
		"\n"
		"Validates STIX 2.1 content (a bundle, an array or one object, from FILE or standard\n"
		"input) and stores every valid object in the hub, in batches of N objects (default 1000)\n"
		"that are each durable before they are reported. Objects already in the collection are\n"
		"duplicates and store nothing new; invalid ones are refused with their reasons.\n"
		"\n"
		"  --collection NAME   the collection to add to (default: the hub's default)\n"
		"  --json              one JSON line per object as its batch commits, then a summary\n"
		"  --batch N           objects per transaction (kyoyu.conf [import] batch_objects)\n"
		"  --quiet             no progress line; without it, when standard error is a\n"
		"                      terminal, one line there shows the objects and bytes read\n"
		"                      (of the file's size) and the objects per second\n"
		"\n"
		"exit status: 0 all stored or duplicate, 3 some refused (or the input broke off),\n"
		"2 usage error, 1 other failure (no hub, the database failed)\n");
}

/* The progress line is redrawn at most this often, in nanoseconds: often enough to look
 * alive, rarely enough that a terminal over a slow link keeps up. */
#define PROGRESS_INTERVAL_NS 250000000LL

typedef struct import_ctx {
	bool json;
	bool progress;                /* a progress line on standard error (a terminal) */
	bool shown;                   /* that line is on the screen now */
	const char *source;
	unsigned long long size;      /* the input's size when it is a regular file, else 0 */
	long long start_ns, drawn_ns; /* CLOCK_MONOTONIC: when the import began, when the line
				       * was last drawn */
	/* Warnings, held to the end in text mode: an object's may be withdrawn there (revised:
	 * its marking came later in the input), and a person reads only those that stand. */
	struct held_warning {
		size_t index;
		char *id, *text;
		bool withdrawn;
	} *warnings;
	size_t nwarnings, warnings_cap, revised;
} import_ctx;

static void hold_warning(import_ctx *ctx, const ky_ingest_report *r)
{
	if (ctx->nwarnings == ctx->warnings_cap) {
		size_t cap = ctx->warnings_cap ? ctx->warnings_cap * 2 : 64;
		struct held_warning *grown = realloc(ctx->warnings, cap * sizeof(*grown));
		if (grown == NULL) {
			printf("objects[%zu] (%s): warning: %s\n", r->index, r->id ? r->id : "?", r->warning);
			return;
		}
		ctx->warnings = grown;
		ctx->warnings_cap = cap;
	}
	struct held_warning *w = &ctx->warnings[ctx->nwarnings];
	w->index = r->index;
	w->id = strdup(r->id ? r->id : "?");
	w->text = strdup(r->warning);
	w->withdrawn = false;
	if (w->id == NULL || w->text == NULL) {
		free(w->id);
		free(w->text);
		printf("objects[%zu] (%s): warning: %s\n", r->index, r->id ? r->id : "?", r->warning);
		return;
	}
	ctx->nwarnings++;
}

/* The warnings that stand, in input order (reports come in it), and those withdrawn, counted. */
static void print_warnings(import_ctx *ctx)
{
	for (size_t i = 0; i < ctx->nwarnings; i++) {
		struct held_warning *w = &ctx->warnings[i];
		if (!w->withdrawn)
			printf("objects[%zu] (%s): warning: %s\n", w->index, w->id, w->text);
		free(w->id);
		free(w->text);
	}
	if (ctx->revised > 0)
		printf("%zu object%s named a marking-definition that came later in the input: read as %s markings say\n",
		       ctx->revised, ctx->revised == 1 ? "" : "s", ctx->revised == 1 ? "its" : "their");
	free(ctx->warnings);
	ctx->warnings = NULL;
	ctx->nwarnings = 0;
}

/* Withdraws the held warning of object `index` (a binary search: they are in input order). */
static void withdraw_warning(import_ctx *ctx, size_t index)
{
	size_t lo = 0, hi = ctx->nwarnings;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (ctx->warnings[mid].index < index)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo < ctx->nwarnings && ctx->warnings[lo].index == index)
		ctx->warnings[lo].withdrawn = true;
	ctx->revised++;
}

static long long monotonic_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* Before anything else is written: standard output may be the same terminal. */
static void clear_progress(import_ctx *ctx)
{
	if (ctx->shown)
		fputs("\r\033[K", stderr);
	ctx->shown = false;
}

static const char *outcome_name(ky_ingest_outcome o)
{
	return o == KY_INGEST_STORED ? "stored" : o == KY_INGEST_DUPLICATE ? "duplicate" : "refused";
}

static void print_json_line(json_t *line)
{
	char *text = json_dumps(line, JSON_COMPACT | JSON_PRESERVE_ORDER);
	if (text != NULL)
		puts(text);
	free(text);
	json_decref(line);
}

static void on_report(void *arg, const ky_ingest_report *r)
{
	import_ctx *ctx = arg;
	if (ctx->json) {
		clear_progress(ctx);
		json_t *line = json_object();
		json_object_set_new(line, "index", json_integer((json_int_t)r->index));
		json_object_set_new(line, "id", r->id ? json_string(r->id) : json_null());
		json_object_set_new(line, "type", r->type ? json_string(r->type) : json_null());
		json_object_set_new(line, "status", json_string(outcome_name(r->outcome)));
		if (r->outcome == KY_INGEST_STORED)
			json_object_set_new(line, "seq", json_integer((json_int_t)r->seq));
		if (r->outcome == KY_INGEST_REFUSED) {
			json_t *errors = json_array();
			for (size_t i = 0; i < r->nproblems; i++)
				json_array_append_new(errors, json_string(r->problems[i]));
			json_object_set_new(line, "errors", errors);
		}
		if (r->warning != NULL)
			json_object_set_new(line, "warning", json_string(r->warning));
		if (r->revised)
			json_object_set_new(line, "revised", json_true());
		print_json_line(line);
	} else if (r->outcome == KY_INGEST_REFUSED) {
		clear_progress(ctx);
		for (size_t i = 0; i < r->nproblems; i++)
			printf("objects[%zu]%s%s%s: refused: %s\n", r->index, r->id ? " (" : "", r->id ? r->id : "",
			       r->id ? ")" : "", r->problems[i]);
	} else if (r->warning != NULL) {
		hold_warning(ctx, r);
	} else if (r->revised) {
		withdraw_warning(ctx, r->index);
	}
}

/*
 * After each batch: what is printed so far is durable, so it goes out now; and the progress
 * line, on one terminal line rewritten in place: "import: 120000 objects, 98.3 of 164.0 MB
 * (59%), 8417 objects/s". The first batch draws it at once, later ones once the interval has
 * passed. No file name: a line wider than the terminal wraps, and '\r' cannot rewrite it.
 */
static void on_progress(void *arg, const ky_ingest_totals *t)
{
	import_ctx *ctx = arg;
	fflush(stdout);
	if (!ctx->progress)
		return;
	long long now = monotonic_ns();
	if (ctx->drawn_ns != 0 && now - ctx->drawn_ns < PROGRESS_INTERVAL_NS)
		return;
	ctx->drawn_ns = now;
	/* A millisecond at least, so that a first batch read in no time gives a finite rate. */
	double seconds = (double)(now - ctx->start_ns) / 1e9;
	double rate = (double)t->objects / (seconds > 1e-3 ? seconds : 1e-3);
	if (ctx->size > 0) {
		unsigned long long percent = t->bytes >= ctx->size ? 100 : t->bytes * 100 / ctx->size;
		fprintf(stderr, "\r\033[Kimport: %zu objects, %.1f of %.1f MB (%llu%%), %.0f objects/s", t->objects,
			(double)t->bytes / 1e6, (double)ctx->size / 1e6, percent, rate);
	} else {
		fprintf(stderr, "\r\033[Kimport: %zu objects, %.1f MB, %.0f objects/s", t->objects,
			(double)t->bytes / 1e6, rate);
	}
	ctx->shown = true;
}

static int parse_count(const char *text, size_t *out)
{
	char *end;
	errno = 0;
	unsigned long long n = strtoull(text, &end, 10);
	if (errno || *end || n == 0 || text[0] == '-')
		return -1;
	*out = (size_t)n;
	return 0;
}

int ky_cli_import(const ky_cli_global *global, int argc, char **argv)
{
	static const struct option options[] = {
		{"collection", required_argument, NULL, 'c'},
		{"json", no_argument, NULL, 'j'},
		{"batch", required_argument, NULL, 'b'},
		{"quiet", no_argument, NULL, 'q'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	const char *collection_name = global->config.default_collection;
	static const ky_store_actor operator = {.via = "kyoyu import"};
	ky_ingest_options opts = {
		.actor = &operator,
		.batch_objects = global->config.batch_objects,
		.batch_bytes = global->config.batch_bytes,
		.max_object = global->config.max_object_size,
	};
	import_ctx ctx = {0};
	bool quiet = false;
	int c;

	optind = 0; /* not 1: glibc then forgets the global options' '+', and options may follow operands */
	opterr = 0;
	while ((c = getopt_long(argc, argv, "h", options, NULL)) != -1) {
		switch (c) {
		case 'c':
			collection_name = optarg;
			break;
		case 'j':
			ctx.json = true;
			break;
		case 'b':
			if (parse_count(optarg, &opts.batch_objects) != 0) {
				fprintf(stderr, "kyoyu import: --batch takes a positive number of objects, not '%s'\n", optarg);
				return KY_EXIT_USAGE;
			}
			break;
		case 'q':
			quiet = true;
			break;
		case 'h':
			usage(stdout);
			return KY_EXIT_OK;
		default:
			fprintf(stderr, "kyoyu import: unknown or incomplete option '%s'\n", argv[optind - 1]);
			usage(stderr);
			return KY_EXIT_USAGE;
		}
	}
	if (argc - optind != 1) {
		fprintf(stderr, "kyoyu import: expected one FILE or '-' for standard input\n");
		usage(stderr);
		return KY_EXIT_USAGE;
	}

	const char *path = argv[optind];
	bool from_stdin = strcmp(path, "-") == 0;
	ky_store *store = NULL;
	ky_store_collection collection = {0};
	ky_ingest_totals totals;
	FILE *in = NULL;
	struct stat st;
	char message[2 * KY_ERROR_MAX];
	int status = KY_EXIT_FAILURE;

	if (ky_cli_hub_open(global, "import", false, &store, NULL) != KY_OK)
		goto cleanup;
	if (ky_store_collection_find(store, collection_name, &collection) != KY_OK) {
		ky_cli_hub_report(global, "import");
		goto cleanup;
	}
	in = from_stdin ? stdin : fopen(path, "rb");
	if (in == NULL) {
		fprintf(stderr, "kyoyu import: cannot open %s: %s\n", path, strerror(errno));
		goto cleanup;
	}
	ctx.source = from_stdin ? "<stdin>" : path;
	ctx.progress = !quiet && isatty(STDERR_FILENO);
	/* Standard input redirected from a file has a size too. */
	if (ctx.progress && fstat(fileno(in), &st) == 0 && S_ISREG(st.st_mode))
		ctx.size = (unsigned long long)st.st_size;
	ctx.start_ns = monotonic_ns();
	opts.collection_id = collection.id;
	opts.source_name = ctx.source;
	/* The operator imports as the secretariat, with the hub's default TLP and the
	 * collection's default audience for objects that name none. */
	if (ky_admission_operator(store, &global->config, collection.name, &opts.admission) != KY_OK) {
		ky_cli_hub_report(global, "import");
		goto cleanup;
	}

	int rc = ky_ingest_stream(store, in, &opts, on_report, on_progress, &ctx, &totals);
	clear_progress(&ctx);
	print_warnings(&ctx);
	/* The store's message may quote the hub's location. */
	if (rc != KY_OK)
		ky_cli_hub_message(global, message, sizeof(message));
	if (rc != KY_OK && !ctx.json)
		printf("%s\n", message);
	if (totals.envelope_problem[0] && !ctx.json)
		printf("%s\n", totals.envelope_problem);
	if (ctx.json) {
		json_t *summary = json_pack("{s:{s:I,s:I,s:I,s:I,s:s,s:s}}", "summary", "objects", (json_int_t)totals.objects,
					    "stored", (json_int_t)totals.stored, "duplicate", (json_int_t)totals.duplicate,
					    "refused", (json_int_t)totals.refused, "collection", collection.name, "error",
					    rc != KY_OK ? message : totals.envelope_problem);
		print_json_line(summary);
	} else {
		printf("%s: %zu object%s: %zu stored, %zu duplicate, %zu refused (collection %s of %s)%s\n", ctx.source,
		       totals.objects, totals.objects == 1 ? "" : "s", totals.stored, totals.duplicate, totals.refused,
		       collection.name, global->db_label, rc != KY_OK ? "; stopped early" : "");
	}
	if (rc == KY_EINVALID || rc == KY_ETOOBIG || totals.refused > 0 || totals.envelope_problem[0])
		status = KY_EXIT_INVALID;
	else
		status = rc == KY_OK ? KY_EXIT_OK : KY_EXIT_FAILURE;

cleanup:
	ky_admission_free(opts.admission);
	if (in != NULL && !from_stdin)
		fclose(in);
	ky_store_collection_clear(&collection);
	ky_store_close(store);
	return status;
}
