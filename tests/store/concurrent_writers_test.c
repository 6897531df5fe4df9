/*
 * concurrent_writers_test: several `kyoyu import` processes write to one hub at once while a
 * reader polls "added after N"; the reader must never miss a version that commits late.
 *
 *     concurrent_writers_test --kyoyu PATH --gen PATH [--writers W] [--objects N] [--shared K]
 *                             [--batch B]
 *
 * The hub is made by ky_test_hub_location() (a file for SQLite, a fresh database of the test
 * cluster with KY_TEST_BACKEND=postgresql). Each writer gets its own bundle: N indicators of
 * its own (gen_indicators, one seed per writer) and, with --shared K, the same K indicators
 * as every other writer, in an order of its own (shuffled by the writer's seed), so that
 * writers race to store the same versions in different orders. Defaults: 4 writers, 3,000
 * objects each, no shared ones, batches of 50 (many small commits, so that they interleave).
 *
 * All W imports (`kyoyu --db HUB import --json --batch B BUNDLE`) start at once. Meanwhile
 * the reader, in this process (ky_store_open), runs ky_store_query_run() over the default
 * collection with `after` = the highest number it has seen, page after page, and the same
 * hub-wide (collection 0, where the number is the version's own: the cursor of hub-wide
 * pages), in a loop until every writer has exited; then once more. It checks as it goes that
 * numbers only increase and that no object comes twice. When the writers are done:
 * - every writer exited 0, its summary counts equal its bundle, and its lines report every
 *   object of its bundle once, in order;
 * - a full scan of the collection (after = 0) is exactly the set the reader collected, each
 *   version with the number the reader saw it under: a version that committed after the
 *   reader had moved past its number would be in the scan and not in the reader's set;
 *   likewise hub-wide: the hub-wide scan is exactly what the hub-wide walk collected;
 * - numbers and dates added are unique and increasing, and every stored row holds the
 *   bundle's bytes;
 * - every object of every bundle is stored exactly once: one "stored" line over all writers,
 *   with the number the hub gives it; a shared object's other writers report "duplicate";
 * - ky_store_check() passes and the statistics agree (additions, versions, last number);
 * - the writers did run at the same time: in number order the storing writer changes at
 *   least W times, and the reader saw rows in at least two polls while writers were running.
 * Prints a summary (polls, interleaving, time) last; on failure the work directory is kept.
 * KY_CW_SEED=N fixes the seeds (default: drawn, printed).
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "ky_test_hub.h"
#include "ky_test_proc.h"
#include "stix/stix_reader.h"
#include "store/store.h"
#include "util/ky_error.h"

#define MAX_WRITERS 16

static char workdir[256];
static char hub[512];

void die(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fputs("concurrent_writers_test: FAILED: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	if (workdir[0])
		fprintf(stderr, "concurrent_writers_test: the bundles and outputs are kept in %s (hub %s)\n", workdir, hub);
	exit(1);
}

/* SplitMix64, for the shuffles. */
static uint64_t next_random(uint64_t *state)
{
	uint64_t z = (*state += 0x9E3779B97F4A7C15u);
	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9u;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBu;
	return z ^ (z >> 31);
}

/* --- the objects of every bundle, by id -------------------------------------------------- */

typedef struct object {
	char *id;
	char *raw;
	size_t raw_len;
	int owner;          /* the writer whose bundle alone has it, or -1: every bundle has it */
	uint64_t read_seq;  /* the number the polling reader saw it under; 0: not seen */
	uint64_t hub_seq;   /* its number in the hub-wide walk (the version's), as the reader saw it */
	uint64_t stored_seq; /* the number of its "stored" line */
	int stored_by;      /* the writer that reported it stored; -1: none yet */
	int stored_lines, duplicate_lines;
	bool scanned;       /* found by the final full scan */
} object;

static object *objects;
static size_t nobjects, capobjects;
static size_t *slots;
static size_t nslots;

static uint64_t hash(const char *s)
{
	uint64_t h = 1469598103934665603u; /* FNV-1a */
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211u;
	return h;
}

static object *find(const char *id)
{
	for (size_t i = hash(id) & (nslots - 1);; i = (i + 1) & (nslots - 1)) {
		if (slots[i] == 0)
			return NULL;
		if (strcmp(objects[slots[i] - 1].id, id) == 0)
			return &objects[slots[i] - 1];
	}
}

/* Reads a generated bundle with the stream reader: each object's exact bytes. */
static void load_bundle(const char *path, int owner)
{
	FILE *in = fopen(path, "rb");
	ky_stix_reader *reader = NULL;
	ky_stix_item item;
	int rc;
	if (in == NULL || ky_stix_reader_new(&reader, in, 0, path) != KY_OK)
		die("cannot read %s", path);
	while ((rc = ky_stix_reader_next(reader, &item)) == 1) {
		const char *id = item.object ? json_string_value(json_object_get(item.object, "id")) : NULL;
		if (id == NULL)
			die("%s: objects[%zu] has no id", path, item.index);
		if (find(id) != NULL)
			die("%s: %s is in two bundles", path, id);
		if (nobjects == capobjects)
			die("more objects than expected in %s", path);
		object *o = &objects[nobjects];
		memset(o, 0, sizeof(*o));
		o->id = strdup(id);
		o->raw = malloc(item.raw_len);
		o->raw_len = item.raw_len;
		o->owner = owner;
		o->stored_by = -1;
		if (o->id == NULL || o->raw == NULL)
			die("out of memory");
		memcpy(o->raw, item.raw, item.raw_len);
		size_t i = hash(id) & (nslots - 1);
		while (slots[i] != 0)
			i = (i + 1) & (nslots - 1);
		slots[i] = ++nobjects;
	}
	if (rc != 0)
		die("%s: %s", path, ky_error_last());
	ky_stix_reader_free(reader);
	fclose(in);
}

/* --- child processes ---------------------------------------------------------------------- */

/* The last line of a file (its summary, for an import's output), in a static buffer. */
static const char *last_line(const char *path)
{
	static char line[4096];
	char buf[4096];
	FILE *f = fopen(path, "r");
	line[0] = '\0';
	while (f != NULL && fgets(buf, sizeof(buf), f) != NULL)
		if (buf[0] != '\0' && buf[0] != '\n')
			snprintf(line, sizeof(line), "%s", buf);
	if (f != NULL)
		fclose(f);
	return line;
}

static void run_or_die(char *const argv[], const char *what)
{
	char out[320], err[320];
	snprintf(out, sizeof(out), "%s/%s-stdout.txt", workdir, what);
	snprintf(err, sizeof(err), "%s/%s-stderr.txt", workdir, what);
	int status = ky_test_wait(ky_test_spawn(argv, out, NULL, err, false));
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		ky_test_show_file(err);
		die("%s failed (status %#x)", what, status);
	}
}

/* --- the polling reader --------------------------------------------------------------------- */

typedef struct reader {
	ky_store *store;
	int64_t collection;
	uint64_t last_seq;
	int64_t last_date;
	size_t rows;
	uint64_t hub_last;  /* the hub-wide cursor */
	size_t hub_rows;
	size_t polls, polls_with_rows_while_writing;
	bool writing;
} reader;

static int take_row(void *arg, const ky_store_row *row)
{
	reader *r = arg;
	object *o = find(row->id);
	if (o == NULL)
		die("the reader found %s, which is in no bundle", row->id);
	if (row->seq <= r->last_seq)
		die("the reader, polling after %" PRIu64 ", got number %" PRIu64, r->last_seq, row->seq);
	if (row->date_added_us <= r->last_date)
		die("number %" PRIu64 " was added at %" PRId64 " us, not after the one before it (%" PRId64 ")", row->seq,
		    row->date_added_us, r->last_date);
	if (o->read_seq != 0)
		die("the reader found %s twice: numbers %" PRIu64 " and %" PRIu64, row->id, o->read_seq, row->seq);
	if (row->raw_len != o->raw_len || memcmp(row->raw, o->raw, o->raw_len) != 0)
		die("the stored bytes of %s differ from its bundle's", row->id);
	o->read_seq = row->seq;
	r->last_seq = row->seq;
	r->last_date = row->date_added_us;
	r->rows++;
	return 0;
}

/* A row of the hub-wide walk (collection 0: every version, by its number in the hub). */
static int take_hub_row(void *arg, const ky_store_row *row)
{
	reader *r = arg;
	object *o = find(row->id);
	if (o == NULL)
		die("the hub-wide reader found %s, which is in no bundle", row->id);
	if (row->seq <= r->hub_last)
		die("the hub-wide reader, polling after %" PRIu64 ", got number %" PRIu64, r->hub_last, row->seq);
	if (o->hub_seq != 0)
		die("the hub-wide reader found %s twice: numbers %" PRIu64 " and %" PRIu64, row->id, o->hub_seq, row->seq);
	o->hub_seq = row->seq;
	r->hub_last = row->seq;
	r->hub_rows++;
	return 0;
}

/* Everything added after the highest number seen so far, a page at a time: in the
 * collection, and hub-wide. */
static void poll_once(reader *r)
{
	size_t before = r->rows;
	for (;;) {
		ky_store_query q = {.scope = &ky_store_operator_scope, .collection_id = r->collection, .versions = KY_STORE_ALL, .after = r->last_seq, .limit = 500};
		ky_store_page page;
		if (ky_store_query_run(r->store, &q, take_row, r, &page) != KY_OK)
			die("polling after %" PRIu64 ": %s", r->last_seq, ky_error_last());
		if (!page.more)
			break;
	}
	for (;;) {
		ky_store_query q = {.scope = &ky_store_operator_scope, .versions = KY_STORE_ALL, .after = r->hub_last, .limit = 500};
		ky_store_page page;
		if (ky_store_query_run(r->store, &q, take_hub_row, r, &page) != KY_OK)
			die("polling the hub after %" PRIu64 ": %s", r->hub_last, ky_error_last());
		if (!page.more)
			break;
	}
	r->polls++;
	if (r->writing && r->rows > before)
		r->polls_with_rows_while_writing++;
}

/* --- the final scan ------------------------------------------------------------------------- */

typedef struct scan {
	uint64_t last_seq;
	size_t rows;
	int last_writer;
	size_t switches;  /* how often the storing writer changes in number order */
} scan;

static int scan_row(void *arg, const ky_store_row *row)
{
	scan *s = arg;
	object *o = find(row->id);
	if (o == NULL)
		die("the full scan found %s, which is in no bundle", row->id);
	if (row->seq <= s->last_seq)
		die("the full scan has number %" PRIu64 " after %" PRIu64, row->seq, s->last_seq);
	if (o->scanned)
		die("%s is in the collection twice", row->id);
	if (o->read_seq == 0)
		die("%s (number %" PRIu64 ") is in the collection, but the polling reader never saw it: it committed "
		    "after the reader had passed its number",
		    row->id, row->seq);
	if (o->read_seq != row->seq)
		die("%s has number %" PRIu64 ", but the reader saw it as %" PRIu64, row->id, row->seq, o->read_seq);
	o->scanned = true;
	if (s->rows > 0 && o->stored_by != s->last_writer)
		s->switches++;
	s->last_writer = o->stored_by;
	s->last_seq = row->seq;
	s->rows++;
	return 0;
}

typedef struct hub_scan {
	uint64_t last;
	size_t rows;
} hub_scan;

static int hub_scan_row(void *arg, const ky_store_row *row)
{
	hub_scan *s = arg;
	object *o = find(row->id);
	if (o == NULL)
		die("the hub-wide scan found %s, which is in no bundle", row->id);
	if (row->seq <= s->last)
		die("the hub-wide scan has number %" PRIu64 " after %" PRIu64, row->seq, s->last);
	if (o->hub_seq == 0)
		die("%s (hub-wide number %" PRIu64 ") is in the hub, but the hub-wide reader never saw it: it committed "
		    "after the reader had passed its number",
		    row->id, row->seq);
	if (o->hub_seq != row->seq)
		die("%s has hub-wide number %" PRIu64 ", but the reader saw it as %" PRIu64, row->id, row->seq, o->hub_seq);
	s->last = row->seq;
	s->rows++;
	return 0;
}

/* --- the writers' reports ------------------------------------------------------------------- */

typedef struct writer {
	pid_t pid;
	bool running;
	char bundle[320], out[320], err[320];
	size_t objects;       /* in its bundle */
	size_t own;           /* of them its own */
	int status;
	double seconds;
} writer;

static void read_report(int w, writer *wr)
{
	FILE *f = fopen(wr->out, "r");
	if (f == NULL)
		die("writer %d: no output", w);
	char *line = NULL;
	size_t cap = 0, lines = 0;
	ssize_t len;
	bool summary = false;
	size_t stored = 0, duplicate = 0;
	while ((len = getline(&line, &cap, f)) > 0) {
		json_error_t error;
		json_t *j = json_loads(line, 0, &error);
		if (j == NULL)
			die("writer %d: not JSON: %s", w, line);
		json_t *sum = json_object_get(j, "summary");
		if (sum != NULL) {
			json_int_t s_objects = json_integer_value(json_object_get(sum, "objects"));
			json_int_t s_stored = json_integer_value(json_object_get(sum, "stored"));
			json_int_t s_duplicate = json_integer_value(json_object_get(sum, "duplicate"));
			json_int_t s_refused = json_integer_value(json_object_get(sum, "refused"));
			if ((size_t)s_objects != wr->objects || s_refused != 0 || (size_t)s_stored != stored ||
			    (size_t)s_duplicate != duplicate || lines != wr->objects)
				die("writer %d: %zu lines (%zu stored, %zu duplicate) for %zu objects; summary %s", w, lines,
				    stored, duplicate, wr->objects, line);
			summary = true;
			json_decref(j);
			continue;
		}
		const char *id = json_string_value(json_object_get(j, "id"));
		const char *status = json_string_value(json_object_get(j, "status"));
		json_int_t index = json_integer_value(json_object_get(j, "index"));
		object *o = id ? find(id) : NULL;
		if (o == NULL || status == NULL || summary)
			die("writer %d: a line for no object of its bundle: %s", w, line);
		if ((size_t)index != lines)
			die("writer %d: line %zu reports objects[%lld]", w, lines, (long long)index);
		if (o->owner != -1 && o->owner != w)
			die("writer %d: reports %s of writer %d's bundle", w, id, o->owner);
		if (strcmp(status, "stored") == 0) {
			if (o->stored_lines++ > 0)
				die("%s reported stored twice: by writer %d (number %" PRIu64 ") and by writer %d", id, o->stored_by,
				    o->stored_seq, w);
			o->stored_by = w;
			o->stored_seq = (uint64_t)json_integer_value(json_object_get(j, "seq"));
			stored++;
		} else if (strcmp(status, "duplicate") == 0) {
			o->duplicate_lines++;
			duplicate++;
		} else {
			die("writer %d: %s", w, line);
		}
		lines++;
		json_decref(j);
	}
	free(line);
	fclose(f);
	if (!summary)
		die("writer %d: no summary line", w);
}

/* --- composing the bundles ------------------------------------------------------------------ */

/* Writes `n` objects (indexes into objects[]) as a bundle, one object a line. */
static void write_bundle(const char *path, const size_t *order, size_t n, uint64_t *rng)
{
	FILE *f = fopen(path, "wb");
	if (f == NULL)
		die("%s: %s", path, strerror(errno));
	uint64_t a = next_random(rng), b = next_random(rng);
	fprintf(f, "{\"type\":\"bundle\",\"id\":\"bundle--%08" PRIx64 "-%04" PRIx64 "-4%03" PRIx64 "-8%03" PRIx64 "-%012" PRIx64 "\",\"objects\":[\n",
		a >> 32, (a >> 16) & 0xFFFF, a & 0xFFF, b >> 52, b & 0xFFFFFFFFFFFFu);
	for (size_t i = 0; i < n; i++) {
		const object *o = &objects[order[i]];
		fwrite(o->raw, 1, o->raw_len, f);
		fputs(i + 1 < n ? ",\n" : "\n", f);
	}
	fputs("]}\n", f);
	if (fclose(f) != 0)
		die("%s: %s", path, strerror(errno));
}

static void usage(void)
{
	fprintf(stderr, "usage: concurrent_writers_test --kyoyu PATH --gen PATH [--writers W] [--objects N] [--shared K] [--batch B]\n");
	exit(2);
}

int main(int argc, char **argv)
{
	static const struct option options[] = {
		{"kyoyu", required_argument, NULL, 'k'},  {"gen", required_argument, NULL, 'g'},
		{"writers", required_argument, NULL, 'w'}, {"objects", required_argument, NULL, 'n'},
		{"shared", required_argument, NULL, 's'},  {"batch", required_argument, NULL, 'b'},
		{NULL, 0, NULL, 0},
	};
	const char *kyoyu = NULL, *gen = NULL, *batch = "50";
	int nwriters = 4, c;
	size_t per_writer = 3000, shared = 0;
	while ((c = getopt_long(argc, argv, "", options, NULL)) != -1) {
		switch (c) {
		case 'k': kyoyu = optarg; break;
		case 'g': gen = optarg; break;
		case 'w': nwriters = atoi(optarg); break;
		case 'n': per_writer = strtoull(optarg, NULL, 10); break;
		case 's': shared = strtoull(optarg, NULL, 10); break;
		case 'b': batch = optarg; break;
		default: usage();
		}
	}
	if (kyoyu == NULL || gen == NULL || nwriters < 2 || nwriters > MAX_WRITERS || per_writer == 0 || atoi(batch) < 1 ||
	    optind != argc)
		usage();

	uint64_t seed;
	const char *env = getenv("KY_CW_SEED");
	if (env != NULL && *env)
		seed = strtoull(env, NULL, 10);
	else if (getrandom(&seed, sizeof(seed), 0) != (ssize_t)sizeof(seed))
		die("getrandom: %s", strerror(errno));
	seed %= 1000000000000ull;
	printf("concurrent_writers_test: seed %" PRIu64 " (KY_CW_SEED=%" PRIu64 " repeats it), backend %s, %d writers, "
	       "%zu objects each%s%zu shared, batches of %s\n",
	       seed, seed, ky_test_hub_is_pg() ? "postgresql" : "sqlite", nwriters, per_writer, shared ? " + " : ", ",
	       shared, batch);
	fflush(stdout);

	const char *tmp = getenv("TMPDIR");
	snprintf(workdir, sizeof(workdir), "%s/ky-cw-XXXXXX", tmp && *tmp ? tmp : "/tmp");
	if (mkdtemp(workdir) == NULL)
		die("mkdtemp: %s", strerror(errno));
	if (ky_test_hub_location(hub, sizeof(hub), workdir, "concurrent_writers") != 0)
		die("no hub location");

	/* The objects: each writer's own, then the shared ones. */
	capobjects = (size_t)nwriters * per_writer + shared;
	objects = calloc(capobjects, sizeof(*objects));
	for (nslots = 1; nslots < 2 * capobjects; nslots *= 2)
		;
	slots = calloc(nslots, sizeof(*slots));
	if (objects == NULL || slots == NULL)
		die("out of memory");
	char gen_path[320], seed_text[32], count_text[32];
	snprintf(gen_path, sizeof(gen_path), "%s/generated.json", workdir);
	for (int w = -1; w < nwriters; w++) {
		size_t n = w < 0 ? shared : per_writer;
		if (n == 0)
			continue;
		snprintf(seed_text, sizeof(seed_text), "%" PRIu64, seed * 100 + (uint64_t)(w + 1));
		snprintf(count_text, sizeof(count_text), "%zu", n);
		char *gen_argv[] = {(char *)gen, "-s", seed_text, count_text, NULL};
		char err[320];
		snprintf(err, sizeof(err), "%s/gen-stderr.txt", workdir);
		int status = ky_test_wait(ky_test_spawn(gen_argv, gen_path, NULL, err, false));
		if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
			ky_test_show_file(err);
			die("gen_indicators failed");
		}
		load_bundle(gen_path, w);
	}
	unlink(gen_path);

	writer writers[MAX_WRITERS];
	size_t *order = malloc((per_writer + shared) * sizeof(*order));
	if (order == NULL)
		die("out of memory");
	for (int w = 0; w < nwriters; w++) {
		writer *wr = &writers[w];
		memset(wr, 0, sizeof(*wr));
		size_t n = 0;
		for (size_t i = 0; i < nobjects; i++)
			if (objects[i].owner == w || objects[i].owner == -1)
				order[n++] = i;
		/* The writer's own order: Fisher-Yates with its seed. */
		uint64_t rng = seed * 7919 + (uint64_t)w;
		for (size_t i = n; i > 1; i--) {
			size_t j = (size_t)(next_random(&rng) % i);
			size_t t = order[i - 1];
			order[i - 1] = order[j];
			order[j] = t;
		}
		wr->objects = n;
		wr->own = per_writer;
		snprintf(wr->bundle, sizeof(wr->bundle), "%s/writer-%d.json", workdir, w);
		snprintf(wr->out, sizeof(wr->out), "%s/writer-%d-stdout.txt", workdir, w);
		snprintf(wr->err, sizeof(wr->err), "%s/writer-%d-stderr.txt", workdir, w);
		write_bundle(wr->bundle, order, n, &rng);
	}
	free(order);

	char *init_argv[] = {(char *)kyoyu, "--db", hub, "init", NULL};
	run_or_die(init_argv, "init");

	reader rd = {0};
	ky_store_collection coll = {0};
	if (ky_store_open(&rd.store, hub, NULL, NULL) != KY_OK)
		die("cannot open the hub: %s", ky_error_last());
	if (ky_store_collection_find(rd.store, KY_STORE_DEFAULT_COLLECTION, &coll) != KY_OK)
		die("%s", ky_error_last());
	rd.collection = coll.id;

	/* Every writer at once; the reader polls until they are all done. */
	int64_t started = ky_test_now_ms();
	int running = 0;
	rd.writing = true;
	for (int w = 0; w < nwriters; w++) {
		char *argv_w[] = {(char *)kyoyu, "--db", hub, "import", "--json", "--batch", (char *)batch, writers[w].bundle, NULL};
		writers[w].pid = ky_test_spawn(argv_w, writers[w].out, NULL, writers[w].err, false);
		writers[w].running = true;
		running++;
	}
	while (running > 0) {
		size_t before = rd.rows;
		poll_once(&rd);
		if (rd.rows == before) {
			struct timespec pause = {.tv_sec = 0, .tv_nsec = 1000000};
			nanosleep(&pause, NULL);
		}
		for (int w = 0; w < nwriters; w++) {
			int status;
			if (!writers[w].running)
				continue;
			pid_t got = waitpid(writers[w].pid, &status, WNOHANG);
			if (got == 0)
				continue;
			if (got < 0 && errno == EINTR)
				continue;
			if (got < 0)
				die("waitpid: %s", strerror(errno));
			writers[w].running = false;
			writers[w].status = status;
			writers[w].seconds = (double)(ky_test_now_ms() - started) / 1000.0;
			running--;
		}
	}
	rd.writing = false;
	double write_seconds = (double)(ky_test_now_ms() - started) / 1000.0;
	poll_once(&rd);

	for (int w = 0; w < nwriters; w++) {
		if (!WIFEXITED(writers[w].status) || WEXITSTATUS(writers[w].status) != 0) {
			fprintf(stderr, "concurrent_writers_test: writer %d ended with status %#x; its stderr:\n", w,
				writers[w].status);
			ky_test_show_file(writers[w].err);
			die("writer %d failed: %s", w, last_line(writers[w].out));
		}
		read_report(w, &writers[w]);
	}

	/* Every object once, stored by exactly one writer, under the number the reader saw. */
	for (size_t i = 0; i < nobjects; i++) {
		object *o = &objects[i];
		int expected_lines = o->owner == -1 ? nwriters : 1;
		if (o->stored_lines != 1 || o->stored_lines + o->duplicate_lines != expected_lines)
			die("%s: %d stored and %d duplicate lines, expected 1 stored of %d", o->id, o->stored_lines,
			    o->duplicate_lines, expected_lines);
		if (o->read_seq == 0)
			die("%s was reported stored (number %" PRIu64 ") by writer %d, but the reader never saw it", o->id,
			    o->stored_seq, o->stored_by);
		if (o->read_seq != o->stored_seq)
			die("%s was reported stored as number %" PRIu64 ", the reader saw it as %" PRIu64, o->id, o->stored_seq,
			    o->read_seq);
	}

	/* The full scan equals what the reader collected. */
	scan sc = {.last_writer = -1};
	ky_store_query all = {.scope = &ky_store_operator_scope, .collection_id = rd.collection, .versions = KY_STORE_ALL};
	if (ky_store_query_run(rd.store, &all, scan_row, &sc, NULL) != KY_OK)
		die("full scan: %s", ky_error_last());
	if (sc.rows != rd.rows || sc.rows != nobjects)
		die("the full scan has %zu rows, the reader collected %zu, the bundles hold %zu objects", sc.rows, rd.rows,
		    nobjects);
	hub_scan hs = {0};
	ky_store_query hub_all = {.scope = &ky_store_operator_scope, .versions = KY_STORE_ALL};
	if (ky_store_query_run(rd.store, &hub_all, hub_scan_row, &hs, NULL) != KY_OK)
		die("hub-wide scan: %s", ky_error_last());
	if (hs.rows != rd.hub_rows || hs.rows != nobjects)
		die("the hub-wide scan has %zu rows, the hub-wide reader collected %zu, the bundles hold %zu objects", hs.rows,
		    rd.hub_rows, nobjects);
	if (ky_store_check(rd.store) != KY_OK)
		die("check: %s", ky_error_last());
	ky_store_stats stats;
	if (ky_store_stats_get(rd.store, &stats) != KY_OK)
		die("stats: %s", ky_error_last());
	if (stats.additions != nobjects || stats.versions != nobjects || stats.last_seq != sc.last_seq)
		die("stats say %" PRIu64 " additions, %" PRIu64 " versions, last number %" PRIu64 "; the collection has %zu "
		    "rows up to %" PRIu64,
		    stats.additions, stats.versions, stats.last_seq, sc.rows, sc.last_seq);
	if (sc.switches < (size_t)nwriters)
		die("the writers did not interleave: in number order the storing writer changes only %zu times", sc.switches);
	if (rd.polls_with_rows_while_writing < 2)
		die("the reader saw rows in only %zu polls while the writers ran (of %zu)", rd.polls_with_rows_while_writing,
		    rd.polls);

	printf("concurrent_writers_test: %d writers stored %zu objects (%zu shared, stored once each) in %.1f s; the "
	       "reader polled %zu times, %zu of them with new rows while writers ran, and collected exactly the %zu "
	       "rows of the full scan (numbers 1..%" PRIu64 "%s), and hub-wide exactly the %zu versions of the hub-wide "
	       "scan (numbers up to %" PRIu64 "); the storing writer changes %zu times in number order\n",
	       nwriters, nobjects, shared, write_seconds, rd.polls, rd.polls_with_rows_while_writing, rd.rows, sc.last_seq,
	       sc.last_seq == sc.rows ? ", no gaps" : ", with gaps", hs.rows, hs.last, sc.switches);

	ky_store_collection_clear(&coll);
	ky_store_close(rd.store);
	ky_test_hub_drop(hub);
	for (size_t i = 0; i < nobjects; i++) {
		free(objects[i].id);
		free(objects[i].raw);
	}
	free(objects);
	free(slots);
	ky_test_remove_dir(workdir);
	return 0;
}
