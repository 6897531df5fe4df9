/*
 * crash_test: kills `kyoyu import` at random moments and checks that the hub kept its word.
 *
 *     crash_test --kyoyu PATH --gen PATH [--objects N] [--runs N] [--max-delay-ms N]
 *
 * A bundle of N indicators (bench/gen_indicators) is imported again and again into one hub
 * with `kyoyu --db HUB import --json --batch 500 BUNDLE`; every run is killed with SIGKILL,
 * either after a random number of lines (mostly past what the hub already holds, so that
 * the run has new objects to write; sometimes within it, in a batch of duplicates), then a
 * random pause, or after a random delay from the start (start-up, opening the hub and WAL
 * recovery, the first batch). Defaults: 20,000 objects, 30 runs, delays up to 30 ms and
 * pauses up to half that; the delay should be about two batches' time, so the sanitizer
 * build passes more. Every line the child printed before it died counts: a "stored" or
 * "duplicate" line is an acknowledgement (docs/store.md: reported only after the batch is
 * durable). After each run the hub is opened with ky_store_open() and:
 * - ky_store_check() passes (SQLite's integrity check);
 * - every acknowledged object is there, with the number its "stored" line gave it;
 * - every stored object is bit for bit the object's bytes in the bundle (kept per id from
 *   the bundle, read with the stream reader);
 * - the collection's numbers are unique and increasing, and so are the dates added; no
 *   object is there twice; an object new since the last check has a number above every
 *   number that check saw;
 * - a later run never reports "stored" for an object the hub already held: what was
 *   committed, acknowledged or not, is a duplicate from then on.
 * At the end one import runs to completion (exit 0), and every object is there exactly
 * once. Prints the seed first and a summary last. The seed fixes every choice (which runs
 * count lines, how many, the delays); where a kill lands inside the child still depends on
 * timing. KY_CRASH_SEED=N repeats a seed; without it one is drawn.
 *
 * The hub is the backend under test's (ky_test_hub.h): a file in the work directory, or with
 * KY_TEST_BACKEND=postgresql a fresh database of the test cluster, dropped at the end. There
 * a killed client's server process may still be finishing its last statement (a COMMIT the
 * client sent before it died) when the client is gone, so each check first waits until no
 * other connection to the database is left: the hub is then as the kill left it, as a file
 * is at once.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <libpq-fe.h>

#include "ky_test_hub.h"
#include "ky_test_proc.h"
#include "stix/stix_reader.h"
#include "store/store.h"
#include "util/ky_error.h"

#define BATCH "500"

static char workdir[256];
static char hub[512];

void die(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fputs("crash_test: FAILED: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	if (workdir[0])
		fprintf(stderr, "crash_test: the hub (%s) and the bundle are kept in %s\n", hub, workdir);
	exit(1);
}

/* --- randomness: SplitMix64, the same sequence everywhere -------------------------------- */

static uint64_t rng;

static uint64_t next_random(void)
{
	uint64_t z = (rng += 0x9E3779B97F4A7C15u);
	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9u;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBu;
	return z ^ (z >> 31);
}

static uint64_t below(uint64_t n)
{
	return n ? next_random() % n : 0;
}

/* --- the bundle's objects, by id ------------------------------------------------------ */

typedef struct object {
	char *id;
	char *raw;
	size_t raw_len;
	bool acked;        /* some run printed "stored" or "duplicate" for it */
	uint64_t acked_seq; /* the number of its "stored" line, 0 if only ever a duplicate */
	bool present;      /* the hub held it at the last check */
	uint64_t seq;      /* its number in the hub at the last check */
	unsigned seen;     /* rows found for it in the current check */
} object;

static object *objects;
static size_t nobjects;
static size_t *slots; /* open addressing: index + 1 into objects, 0 empty */
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

/* Reads the bundle with the stream reader: each object's exact bytes, by id. */
static void load_bundle(const char *path, size_t expected)
{
	FILE *in = fopen(path, "rb");
	ky_stix_reader *reader = NULL;
	ky_stix_item item;
	int rc;
	if (in == NULL || ky_stix_reader_new(&reader, in, 0, path) != KY_OK)
		die("cannot read %s", path);
	objects = calloc(expected, sizeof(*objects));
	for (nslots = 1; nslots < 2 * expected; nslots *= 2)
		;
	slots = calloc(nslots, sizeof(*slots));
	if (objects == NULL || slots == NULL)
		die("out of memory");
	while ((rc = ky_stix_reader_next(reader, &item)) == 1) {
		const char *id = item.object ? json_string_value(json_object_get(item.object, "id")) : NULL;
		if (id == NULL)
			die("%s: objects[%zu] has no id", path, item.index);
		if (nobjects == expected)
			die("%s: more than %zu objects", path, expected);
		if (find(id) != NULL)
			die("%s: %s twice", path, id);
		object *o = &objects[nobjects];
		o->id = strdup(id);
		o->raw = malloc(item.raw_len);
		o->raw_len = item.raw_len;
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
	if (nobjects != expected)
		die("%s: %zu objects, expected %zu", path, nobjects, expected);
	ky_stix_reader_free(reader);
	fclose(in);
}

/* --- one import run ------------------------------------------------------------------- */

typedef struct run_stats {
	size_t lines, stored, duplicate;
	bool summary;                  /* the child got to its summary line */
	json_t *summary_line;
} run_stats;

static size_t total_acks;      /* acknowledgements over all runs */

/* One line of `kyoyu import --json`. */
static void take_line(int run, const char *line, run_stats *st)
{
	json_error_t error;
	json_t *j = json_loads(line, 0, &error);
	if (j == NULL)
		die("run %d: not JSON: %s", run, line);
	json_t *summary = json_object_get(j, "summary");
	if (summary != NULL) {
		st->summary = true;
		st->summary_line = j;
		return;
	}
	const char *id = json_string_value(json_object_get(j, "id"));
	const char *status = json_string_value(json_object_get(j, "status"));
	json_int_t index = json_integer_value(json_object_get(j, "index"));
	object *o = id ? find(id) : NULL;
	if (o == NULL || status == NULL)
		die("run %d: a line for no object of the bundle: %s", run, line);
	if ((size_t)index != st->lines)
		die("run %d: line %zu reports objects[%lld]", run, st->lines, (long long)index);
	if ((size_t)(o - objects) != (size_t)index)
		die("run %d: objects[%lld] reported as %s", run, (long long)index, id);
	st->lines++;
	if (strcmp(status, "stored") == 0) {
		/* Never twice: once committed, acknowledged or not, it is a duplicate. */
		if (o->present || o->acked)
			die("run %d: %s reported stored, but the hub had it already (seq %" PRIu64 ")", run, id,
			    o->present ? o->seq : o->acked_seq);
		json_int_t seq = json_integer_value(json_object_get(j, "seq"));
		if (seq <= 0)
			die("run %d: stored without a number: %s", run, line);
		o->acked_seq = (uint64_t)seq;
		st->stored++;
	} else if (strcmp(status, "duplicate") == 0) {
		/* Held already, acknowledged or not (a killed run may have committed it and died
		 * before saying so): both are fine. */
		st->duplicate++;
	} else {
		die("run %d: %s", run, line);
	}
	o->acked = true;
	total_acks++;
	json_decref(j);
}

/* Reads what is there on fd (waiting at most timeout_ms; -1 forever); hands complete lines
 * to take_line. Returns false at end of file. */
static bool pump(int run, int fd, int timeout_ms, char **buf, size_t *len, size_t *cap, run_stats *st)
{
	struct pollfd p = {.fd = fd, .events = POLLIN};
	int ready = poll(&p, 1, timeout_ms);
	if (ready < 0 && errno != EINTR)
		die("poll: %s", strerror(errno));
	if (ready <= 0)
		return true;
	if (*cap - *len < 65536) {
		*cap = *cap * 2 + 65536;
		if ((*buf = realloc(*buf, *cap)) == NULL)
			die("out of memory");
	}
	ssize_t n = read(fd, *buf + *len, *cap - *len - 1);
	if (n < 0 && errno != EINTR)
		die("read: %s", strerror(errno));
	if (n == 0)
		return false;
	if (n > 0)
		*len += (size_t)n;
	/* Complete lines only: a line cut by the kill is no acknowledgement. */
	size_t start = 0;
	for (size_t i = 0; i < *len; i++) {
		if ((*buf)[i] != '\n')
			continue;
		(*buf)[i] = '\0';
		take_line(run, *buf + start, st);
		start = i + 1;
	}
	memmove(*buf, *buf + start, *len - start);
	*len -= start;
	return true;
}

typedef enum kill_mode {
	KILL_NEVER,       /* the last run: to the end */
	KILL_AFTER_LINES, /* after `lines` lines, then `extra_us` more */
	KILL_AFTER_DELAY, /* `delay_ms` after the start */
} kill_mode;

/* Returns whether the child was killed (false: it finished first). */
static bool import_run(int run, const char *kyoyu, const char *location, const char *bundle, kill_mode mode,
		       size_t lines, uint64_t extra_us, int delay_ms, run_stats *st)
{
	char err_path[320];
	snprintf(err_path, sizeof(err_path), "%s/import-stderr.txt", workdir);
	unlink(err_path);
	char *argv[] = {(char *)kyoyu, "--db", (char *)location, "import", "--json", "--batch", BATCH, (char *)bundle, NULL};
	int fd;
	memset(st, 0, sizeof(*st));
	pid_t pid = ky_test_spawn(argv, NULL, &fd, err_path, true);
	char *buf = NULL;
	size_t len = 0, cap = 0;
	bool open = true, killed = false;
	int64_t deadline = ky_test_now_ms() + delay_ms;
	while (open && !killed) {
		int timeout = -1;
		if (mode == KILL_AFTER_DELAY) {
			int64_t left = deadline - ky_test_now_ms();
			timeout = left > 0 ? (int)left : 0;
		}
		open = pump(run, fd, timeout, &buf, &len, &cap, st);
		if (open && mode == KILL_AFTER_DELAY && ky_test_now_ms() >= deadline)
			killed = true;
		if (open && mode == KILL_AFTER_LINES && st->lines >= lines) {
			ky_test_sleep_us(extra_us);
			killed = true;
		}
	}
	if (killed)
		kill(pid, SIGKILL);
	/* What it printed before it died was acknowledged all the same. */
	while (pump(run, fd, -1, &buf, &len, &cap, st))
		;
	close(fd);
	free(buf);
	int status = ky_test_wait(pid);
	if (WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL && killed)
		return true;
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		fprintf(stderr, "crash_test: run %d: kyoyu import ended with status %#x; its stderr:\n", run, status);
		ky_test_show_file(err_path);
		die("run %d: kyoyu import failed", run);
	}
	if (!st->summary)
		die("run %d: kyoyu import exited 0 without a summary", run);
	return false;
}

/* --- checking the hub ------------------------------------------------------------------ */

typedef struct check_ctx {
	uint64_t last_seq;
	int64_t last_date;  /* date_added of the last row, microseconds */
	uint64_t before;   /* the last number at the previous check */
	size_t rows;
	int run;
} check_ctx;

static uint64_t last_checked_seq;

static int check_row(void *arg, const ky_store_row *row)
{
	check_ctx *c = arg;
	object *o = find(row->id);
	if (o == NULL)
		die("after run %d: the hub holds %s, which is not in the bundle", c->run, row->id);
	if (row->seq <= c->last_seq)
		die("after run %d: number %" PRIu64 " after %" PRIu64, c->run, row->seq, c->last_seq);
	if (row->date_added_us <= c->last_date)
		die("after run %d: number %" PRIu64 " was added at %" PRId64 " us, not after the one before (%" PRId64 ")",
		    c->run, row->seq, row->date_added_us, c->last_date);
	if (++o->seen > 1)
		die("after run %d: %s is in the collection twice", c->run, row->id);
	if (row->raw_len != o->raw_len || memcmp(row->raw, o->raw, o->raw_len) != 0)
		die("after run %d: the stored bytes of %s differ from the bundle's", c->run, row->id);
	if (o->acked_seq != 0 && o->acked_seq != row->seq)
		die("after run %d: %s was acknowledged as %" PRIu64 " but has number %" PRIu64, c->run, row->id,
		    o->acked_seq, row->seq);
	if (o->present && o->seq != row->seq)
		die("after run %d: %s had number %" PRIu64 ", now %" PRIu64, c->run, row->id, o->seq, row->seq);
	/* A reader that saw everything up to N never later finds a new one numbered N or less. */
	if (!o->present && row->seq <= c->before)
		die("after run %d: %s is new with number %" PRIu64 ", but the last check saw up to %" PRIu64, c->run,
		    row->id, row->seq, c->before);
	o->seq = row->seq;
	c->last_seq = row->seq;
	c->last_date = row->date_added_us;
	c->rows++;
	return 0;
}

/*
 * PostgreSQL: waits until the hub's database has no connection but this one's, so that what
 * a killed client had sent has been committed or rolled back (see the top of the file).
 */
static void settle(int run, const char *location)
{
	if (!ky_test_hub_is_pg())
		return;
	PGconn *conn = PQconnectdb(location);
	if (PQstatus(conn) != CONNECTION_OK)
		die("after run %d: cannot connect to %s: %s", run, location, PQerrorMessage(conn));
	for (int64_t deadline = ky_test_now_ms() + 30000;;) {
		PGresult *r = PQexec(conn, "SELECT count(*) FROM pg_stat_activity"
					   " WHERE datname = current_database() AND pid <> pg_backend_pid()");
		if (PQresultStatus(r) != PGRES_TUPLES_OK)
			die("after run %d: pg_stat_activity: %s", run, PQresultErrorMessage(r));
		bool alone = strcmp(PQgetvalue(r, 0, 0), "0") == 0;
		PQclear(r);
		if (alone)
			break;
		if (ky_test_now_ms() > deadline)
			die("after run %d: the killed import's server process was still there after 30 s", run);
		ky_test_sleep_us(2000);
	}
	PQfinish(conn);
}

/* Returns how many objects the hub holds; dies on any broken promise. */
static size_t check_hub(int run, const char *location, size_t *verified)
{
	ky_store *s = NULL;
	ky_store_collection coll = {0};
	settle(run, location);
	if (ky_store_open(&s, location, NULL, NULL) != KY_OK)
		die("after run %d: cannot open the hub: %s", run, ky_error_last());
	if (ky_store_check(s) != KY_OK)
		die("after run %d: integrity check: %s", run, ky_error_last());
	if (ky_store_collection_find(s, KY_STORE_DEFAULT_COLLECTION, &coll) != KY_OK)
		die("after run %d: %s", run, ky_error_last());
	for (size_t i = 0; i < nobjects; i++)
		objects[i].seen = 0;
	check_ctx c = {.run = run, .before = last_checked_seq};
	ky_store_query q = {.scope = &ky_store_operator_scope, .collection_id = coll.id, .versions = KY_STORE_ALL};
	if (ky_store_query_run(s, &q, check_row, &c, NULL) != KY_OK)
		die("after run %d: query: %s", run, ky_error_last());
	*verified = 0;
	for (size_t i = 0; i < nobjects; i++) {
		object *o = &objects[i];
		if (o->present && !o->seen)
			die("after run %d: %s was in the hub and is gone", run, o->id);
		if (o->acked && !o->seen)
			die("after run %d: %s was acknowledged but is not in the hub", run, o->id);
		*verified += o->acked;
		o->present = o->seen > 0;
	}
	ky_store_stats stats;
	if (ky_store_stats_get(s, &stats) != KY_OK)
		die("after run %d: stats: %s", run, ky_error_last());
	if (stats.additions != c.rows || stats.versions != c.rows || stats.last_seq != c.last_seq)
		die("after run %d: stats say %" PRIu64 " additions, %" PRIu64 " versions, last number %" PRIu64
		    "; the collection has %zu rows up to %" PRIu64,
		    run, stats.additions, stats.versions, stats.last_seq, c.rows, c.last_seq);
	last_checked_seq = c.last_seq;
	ky_store_collection_clear(&coll);
	ky_store_close(s);
	return c.rows;
}

/* --- main ------------------------------------------------------------------------------ */

static void usage(void)
{
	fprintf(stderr, "usage: crash_test --kyoyu PATH --gen PATH [--objects N] [--runs N] [--max-delay-ms N]\n");
	exit(2);
}

int main(int argc, char **argv)
{
	static const struct option options[] = {
		{"kyoyu", required_argument, NULL, 'k'},   {"gen", required_argument, NULL, 'g'},
		{"objects", required_argument, NULL, 'n'}, {"runs", required_argument, NULL, 'r'},
		{"max-delay-ms", required_argument, NULL, 'd'}, {NULL, 0, NULL, 0},
	};
	const char *kyoyu = NULL, *gen = NULL;
	size_t total = 20000;
	int runs = 30, max_delay_ms = 30, c;
	while ((c = getopt_long(argc, argv, "", options, NULL)) != -1) {
		switch (c) {
		case 'k': kyoyu = optarg; break;
		case 'g': gen = optarg; break;
		case 'n': total = strtoull(optarg, NULL, 10); break;
		case 'r': runs = atoi(optarg); break;
		case 'd': max_delay_ms = atoi(optarg); break;
		default: usage();
		}
	}
	if (kyoyu == NULL || gen == NULL || total == 0 || runs < 1 || max_delay_ms < 1 || optind != argc)
		usage();

	uint64_t seed;
	const char *env = getenv("KY_CRASH_SEED");
	if (env != NULL && *env) {
		seed = strtoull(env, NULL, 10);
	} else if (getrandom(&seed, sizeof(seed), 0) != (ssize_t)sizeof(seed)) {
		die("getrandom: %s", strerror(errno));
	}
	seed %= 1000000000000ull; /* short enough to type */
	rng = seed;
	printf("crash_test: seed %" PRIu64 " (KY_CRASH_SEED=%" PRIu64 " repeats the choices), %zu objects, %d runs\n",
	       seed, seed, total, runs);
	fflush(stdout);

	const char *tmp = getenv("TMPDIR");
	snprintf(workdir, sizeof(workdir), "%s/ky-crash-XXXXXX", tmp && *tmp ? tmp : "/tmp");
	if (mkdtemp(workdir) == NULL)
		die("mkdtemp: %s", strerror(errno));
	char bundle[320], err[320], out[320], seed_text[32], count_text[32];
	snprintf(bundle, sizeof(bundle), "%s/bundle.json", workdir);
	if (ky_test_hub_location(hub, sizeof(hub), workdir, "hub.db") != 0)
		die("cannot make a hub location");

	/* The bundle: gen_indicators -s SEED N. */
	snprintf(seed_text, sizeof(seed_text), "%" PRIu64, seed);
	snprintf(count_text, sizeof(count_text), "%zu", total);
	snprintf(err, sizeof(err), "%s/gen-stderr.txt", workdir);
	char *gen_argv[] = {(char *)gen, "-s", seed_text, count_text, NULL};
	int status = ky_test_wait(ky_test_spawn(gen_argv, bundle, NULL, err, true));
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		ky_test_show_file(err);
		die("gen_indicators failed");
	}
	load_bundle(bundle, total);

	/* The hub. */
	snprintf(err, sizeof(err), "%s/init-stderr.txt", workdir);
	snprintf(out, sizeof(out), "%s/init-stdout.txt", workdir);
	char *init_argv[] = {(char *)kyoyu, "--db", hub, "init", NULL};
	status = ky_test_wait(ky_test_spawn(init_argv, out, NULL, err, true));
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		ky_test_show_file(err);
		die("kyoyu init failed");
	}

	int64_t started = ky_test_now_ms();
	size_t held = 0, verified = 0, kills = 0, verified_total = 0;
	for (int run = 1; run <= runs; run++) {
		run_stats st;
		/* One run in four is killed after a short delay: start-up, opening the hub (WAL
		 * recovery after the last kill), the first batch. One in four after a line of what
		 * the hub holds (a batch of duplicates, which commits nothing new). The others past
		 * what the hub holds, so that each has new objects to write, spreading what is left
		 * over about half the runs left. After a line comes a pause of up to half the
		 * longest delay (about a batch's time), so that the kill lands anywhere in a batch's
		 * cycle: reading, inserting, committing, syncing, printing. */
		uint64_t pick = below(4);
		kill_mode mode = pick == 0 ? KILL_AFTER_DELAY : KILL_AFTER_LINES;
		size_t share = 2 * (total - held) / (size_t)(runs - run + 2);
		size_t lines = pick == 1 && held > 0 ? 1 + below(held) : held + 1 + below(share ? share : 1);
		uint64_t extra_us = below((uint64_t)max_delay_ms * 500);
		int delay_ms = (int)below((uint64_t)max_delay_ms);
		bool killed = import_run(run, kyoyu, hub, bundle, mode, lines, extra_us, delay_ms, &st);
		kills += killed;
		if (st.summary_line)
			json_decref(st.summary_line);
		held = check_hub(run, hub, &verified);
		verified_total += verified;
		char how[64];
		if (mode == KILL_AFTER_DELAY)
			snprintf(how, sizeof(how), "at %d ms", delay_ms);
		else
			snprintf(how, sizeof(how), "line %zu + %.1f ms", lines, (double)extra_us / 1000.0);
		printf("run %2d: %-6s (%s): %zu lines, %zu stored, %zu duplicate; the hub holds %zu, %zu acknowledged\n",
		       run, killed ? "killed" : "ended", how, st.lines, st.stored, st.duplicate, held, verified);
		fflush(stdout);
	}

	/* To the end: every object, exactly once. */
	size_t acked_in_runs = verified;
	run_stats st;
	import_run(runs + 1, kyoyu, hub, bundle, KILL_NEVER, 0, 0, 0, &st);
	json_t *sum = json_object_get(st.summary_line, "summary");
	json_int_t s_objects = json_integer_value(json_object_get(sum, "objects"));
	json_int_t s_stored = json_integer_value(json_object_get(sum, "stored"));
	json_int_t s_duplicate = json_integer_value(json_object_get(sum, "duplicate"));
	if ((size_t)s_objects != total || (size_t)(s_stored + s_duplicate) != total || st.lines != total ||
	    (size_t)s_stored != st.stored || (size_t)s_duplicate != st.duplicate || (size_t)s_duplicate != held)
		die("the last import: %zu lines, summary %s; the hub held %zu before", st.lines,
		    json_dumps(st.summary_line, JSON_COMPACT), held);
	held = check_hub(runs + 1, hub, &verified);
	if (held != total || verified != total)
		die("after the last import the hub holds %zu of %zu objects (%zu acknowledged)", held, total, verified);
	json_decref(st.summary_line);

	printf("crash_test: seed %" PRIu64 ": %d runs, %zu killed; %zu acknowledgements read; %zu objects "
	       "acknowledged by the runs, re-verified after every run (%zu checks: present, same bytes, same "
	       "number, once); the last import: %lld stored, %lld duplicate, %zu of %zu objects once each; %.1f s\n",
	       seed, runs, kills, total_acks, acked_in_runs, verified_total, (long long)s_stored, (long long)s_duplicate, held,
	       total, (double)(ky_test_now_ms() - started) / 1000.0);
	for (size_t i = 0; i < nobjects; i++) {
		free(objects[i].id);
		free(objects[i].raw);
	}
	free(objects);
	free(slots);
	ky_test_remove_dir(workdir);
	ky_test_hub_drop(hub);
	return 0;
}
