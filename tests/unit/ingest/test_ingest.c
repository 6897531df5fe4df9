/*
 * test_ingest: the import pipeline (src/ingest/ingest.h) on a temporary hub of the backend
 * under test (tests/support/ky_test_hub.h: a file, or with KY_TEST_BACKEND=postgresql a
 * database of the test cluster). What an importer relies on:
 * - every object gets one report, in input order, with its outcome (stored with its number,
 *   duplicate, refused with the reasons, at most KY_STIX_PROBLEMS_MAX and a count); refused
 *   objects (invalid STIX, elements that are not JSON objects or over max_object) do not
 *   stop the others;
 * - reports come after the batch holding them has committed: a second connection sees every
 *   STORED object at the moment it is reported, and after each batch exactly the objects
 *   reported so far;
 * - batches: batch_objects = 3 over 10 objects is 4 commits, the numbers increase;
 *   batch_bytes closes a batch too; a batch of refused objects only commits nothing;
 * - when the store fails (another writer holds the lock past the busy timeout: SQLite's write
 *   lock, PostgreSQL's lock on the counter row) the earlier batches stay stored and
 *   reported, nothing after, and a later run goes on from there;
 * - duplicates within one input, across imports, and per collection (STIX 2.1 §3.6: a
 *   version is id + modified, compared as a fixed-width key);
 * - an input whose outer structure breaks: what came before is stored and reported, the
 *   function returns KY_EINVALID with the position;
 * - a bundle's own problem (STIX 2.1 §8) is in totals.envelope_problem and its objects are
 *   stored; an empty array stores nothing;
 * - a long stream (200,000 objects; 100,000 in the sanitizer build) goes through in bounded
 *   memory: the pipeline never reads more than three batches ahead of what it has reported,
 *   and (outside the sanitizer build) the heap it uses, SQLite's page cache aside, stays a
 *   few MB (on PostgreSQL, libpq's buffers included). (The cache is bounded on its own: cache_size, 64 MiB, store_sqlite.c. To tell
 *   it apart, main() initialises SQLite before the store can switch its memory statistics
 *   off, so sqlite3_memory_used() counts.)
 *
 * Every test gets its own directory under /tmp (mkdtemp) and hub, removed in its teardown.
 */
#include <malloc.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <libpq-fe.h>
#include <sqlite3.h>

#include "ingest/ingest.h"
#include "ky_test_hub.h"
#include "stix/stix_validate.h"
#include "store/store.h"
#include "util/ky_error.h"

/* The long stream: 200,000 objects (~3 s), 100,000 under the sanitizers (~3 s there). */
#ifdef KY_TEST_SANITIZE
#define LONG_STREAM_OBJECTS 100000
#else
#define LONG_STREAM_OBJECTS 200000
#endif

/* The heap can be measured with glibc's mallinfo2 (2.33), not under the sanitizers, whose
 * allocator does not report to it. */
#if !defined(KY_TEST_SANITIZE) && defined(__GLIBC__) && (__GLIBC__ > 2 || __GLIBC_MINOR__ >= 33)
#define HEAP_MEASURED 1
#else
#define HEAP_MEASURED 0
#endif

/* --- fixture: a directory with a hub in it ----------------------------------------------- */

typedef struct fx {
	char dir[64];
	char path[512];   /* the hub's location: a file in dir, or a PostgreSQL URI */
	ky_store *s;
	ky_store *probe; /* a second connection, as another process would see the hub */
	int64_t dflt;
} fx;

static int64_t collection_id(ky_store *s, const char *name)
{
	ky_store_collection c;
	assert_int_equal(ky_store_collection_find(s, name, &c), KY_OK);
	int64_t id = c.id;
	ky_store_collection_clear(&c);
	return id;
}

static int setup(void **state)
{
	fx *f = calloc(1, sizeof(*f));
	if (f == NULL)
		return -1;
	snprintf(f->dir, sizeof(f->dir), "/tmp/ky-test-ingest-XXXXXX");
	if (mkdtemp(f->dir) == NULL) {
		free(f);
		return -1;
	}
	if (ky_test_hub_location(f->path, sizeof(f->path), f->dir, "hub.db") != 0) {
		rmdir(f->dir);
		free(f);
		return -1;
	}
	ky_store_options create = {.create = true};
	if (ky_store_open(&f->s, f->path, &create, NULL) != KY_OK || ky_store_open(&f->probe, f->path, NULL, NULL) != KY_OK) {
		fprintf(stderr, "cannot open a hub in %s: %s\n", f->dir, ky_error_last());
		return -1;
	}
	*state = f;
	f->dflt = collection_id(f->s, KY_STORE_DEFAULT_COLLECTION);
	return 0;
}

static int teardown(void **state)
{
	fx *f = *state;
	ky_store_close(f->probe);
	ky_store_close(f->s);
	ky_test_hub_drop(f->path);
	ky_test_remove_dir(f->dir);
	free(f);
	return 0;
}

/* --- inputs ---------------------------------------------------------------------------- */

/* A valid identity (STIX 2.1 §4.5) numbered n, at version `modified`; a static buffer. */
static const char *identity(size_t n, const char *modified)
{
	static char text[512];
	snprintf(text, sizeof(text),
		 "{\"type\": \"identity\", \"spec_version\": \"2.1\", "
		 "\"id\": \"identity--00000000-0000-4000-8000-%012zu\", \"created\": \"2024-01-01T00:00:00.000Z\", "
		 "\"modified\": \"%s\", \"name\": \"member %zu\"}",
		 n, modified, n);
	return text;
}

static const char *identity_id(size_t n)
{
	static char text[64];
	snprintf(text, sizeof(text), "identity--00000000-0000-4000-8000-%012zu", n);
	return text;
}

#define V1 "2024-01-01T00:00:00.000Z"
#define V2 "2024-02-01T00:00:00.000Z"

/* A growing text: the input of one test. */
typedef struct text {
	char *s;
	size_t len;
	FILE *m;
} text;

static void text_start(text *t)
{
	t->s = NULL;
	t->len = 0;
	t->m = open_memstream(&t->s, &t->len);
	assert_non_null(t->m);
}

static void text_add(text *t, const char *s)
{
	fputs(s, t->m);
}

static void text_end(text *t)
{
	fclose(t->m);
	t->m = NULL;
}

/* `[` identity(first) .. identity(first + n - 1) at version v `]`, one per line. */
static char *array_of(size_t first, size_t n, const char *v)
{
	text t;
	text_start(&t);
	text_add(&t, "[\n");
	for (size_t i = 0; i < n; i++) {
		text_add(&t, identity(first + i, v));
		text_add(&t, i + 1 < n ? ",\n" : "\n");
	}
	text_add(&t, "]\n");
	text_end(&t);
	return t.s;
}

/* --- running the pipeline and recording what it says ------------------------------------- */

typedef struct rec {
	size_t index;
	char *id, *type;
	ky_ingest_outcome outcome;
	uint64_t seq;
	char *problems; /* joined with '\n' */
	size_t nproblems;
} rec;

typedef struct run {
	fx *f;
	int64_t collection_id;
	rec *recs;
	size_t n, cap;
	size_t progress_calls;
	size_t progress_objects[64];
	size_t not_visible;     /* STORED reports whose addition the probe could not see */
	size_t wrong_count;     /* progress calls where the probe saw another number of additions */
	uint64_t additions_before; /* the collection's additions before this run */
	ky_ingest_totals totals;
} run;

static char *dup_or_null(const char *s)
{
	return s ? strdup(s) : NULL;
}

typedef struct find_seq {
	uint64_t seq;
	bool found;
} find_seq;

static int match_seq(void *ctx, const ky_store_row *row)
{
	find_seq *w = ctx;
	w->found |= row->seq == w->seq;
	return 0;
}

static int count_row(void *ctx, const ky_store_row *row)
{
	(void)row;
	(*(uint64_t *)ctx)++;
	return 0;
}

/* The number of additions to a collection, through the given connection. */
static uint64_t additions(ky_store *s, int64_t coll)
{
	uint64_t n = 0;
	ky_store_query q = {.scope = &ky_store_operator_scope, .collection_id = coll, .versions = KY_STORE_ALL};
	assert_int_equal(ky_store_query_run(s, &q, count_row, &n, NULL), KY_OK);
	return n;
}

static void on_report(void *ctx, const ky_ingest_report *r)
{
	run *x = ctx;
	if (x->n == x->cap) {
		x->cap = x->cap ? x->cap * 2 : 16;
		x->recs = realloc(x->recs, x->cap * sizeof(*x->recs));
		assert_non_null(x->recs);
	}
	rec *c = &x->recs[x->n++];
	memset(c, 0, sizeof(*c));
	c->index = r->index;
	c->id = dup_or_null(r->id);
	c->type = dup_or_null(r->type);
	c->outcome = r->outcome;
	c->seq = r->seq;
	c->nproblems = r->nproblems;
	size_t len = 1;
	for (size_t i = 0; i < r->nproblems; i++)
		len += strlen(r->problems[i]) + 1;
	c->problems = calloc(1, len);
	for (size_t i = 0; i < r->nproblems; i++) {
		strcat(c->problems, r->problems[i]);
		strcat(c->problems, "\n");
	}
	/* The acknowledgement: another connection sees the addition now. */
	if (r->outcome == KY_INGEST_STORED) {
		find_seq w = {.seq = r->seq};
		const char *ids[] = {r->id};
		ky_store_query q = {.scope = &ky_store_operator_scope, .collection_id = x->collection_id, .ids = ids, .nids = 1, .versions = KY_STORE_ALL};
		assert_int_equal(ky_store_query_run(x->f->probe, &q, match_seq, &w, NULL), KY_OK);
		x->not_visible += !w.found;
	}
}

static void on_progress(void *ctx, const ky_ingest_totals *t)
{
	run *x = ctx;
	if (x->progress_calls < sizeof(x->progress_objects) / sizeof(x->progress_objects[0]))
		x->progress_objects[x->progress_calls] = t->objects;
	x->progress_calls++;
	/* After a batch, the hub holds what was reported stored, no more and no less. */
	x->wrong_count += additions(x->f->probe, x->collection_id) != x->additions_before + t->stored;
}

static int ingest(fx *f, run *x, const char *input, size_t batch, int64_t coll)
{
	memset(x, 0, sizeof(*x));
	x->f = f;
	x->collection_id = coll;
	x->additions_before = additions(f->probe, coll);
	FILE *in = fmemopen((void *)input, strlen(input), "r");
	assert_non_null(in);
	ky_admission *admission = NULL;
	assert_int_equal(ky_admission_operator(f->s, NULL, NULL, &admission), KY_OK);
	ky_ingest_options options = {.admission = admission, .collection_id = coll, .batch_objects = batch, .source_name = "input"};
	int rc = ky_ingest_stream(f->s, in, &options, on_report, on_progress, x, &x->totals);
	ky_admission_free(admission);
	fclose(in);
	assert_int_equal(x->not_visible, 0);
	assert_int_equal(x->wrong_count, 0);
	/* One report per object, in input order. */
	assert_int_equal(x->n, x->totals.objects);
	for (size_t i = 0; i < x->n; i++)
		assert_int_equal(x->recs[i].index, i);
	assert_int_equal(x->totals.stored + x->totals.duplicate + x->totals.refused, x->totals.objects);
	return rc;
}

static void run_clear(run *x)
{
	for (size_t i = 0; i < x->n; i++) {
		free(x->recs[i].id);
		free(x->recs[i].type);
		free(x->recs[i].problems);
	}
	free(x->recs);
	memset(x, 0, sizeof(*x));
}

/* The stored bytes of one version (by id and modified) in a collection; malloc'd, or NULL. */
typedef struct want_bytes {
	const char *modified;
	char *raw;
	size_t count;
} want_bytes;

static int take_bytes(void *ctx, const ky_store_row *row)
{
	want_bytes *w = ctx;
	if (strcmp(row->modified, w->modified) != 0)
		return 0;
	w->count++;
	free(w->raw);
	w->raw = strndup(row->raw, row->raw_len);
	return 0;
}

static char *stored_bytes(ky_store *s, int64_t coll, const char *id, const char *modified)
{
	want_bytes w = {.modified = modified};
	const char *ids[] = {id};
	ky_store_query q = {.scope = &ky_store_operator_scope, .collection_id = coll, .ids = ids, .nids = 1, .versions = KY_STORE_ALL};
	assert_int_equal(ky_store_query_run(s, &q, take_bytes, &w, NULL), KY_OK);
	assert_true(w.count <= 1);
	return w.raw;
}

static void assert_contains(const char *haystack, const char *needle)
{
	if (haystack == NULL || strstr(haystack, needle) == NULL)
		fail_msg("\"%s\" does not contain \"%s\"", haystack ? haystack : "(null)", needle);
}

/* --- outcomes -------------------------------------------------------------------------- */

static void test_every_outcome_in_input_order(void **state)
{
	fx *f = *state;
	/* Keep each element's bytes to compare with what the store holds. */
	char *valid0 = strdup(identity(0, V1));
	char *valid1 = strdup(identity(1, V1));
	char *valid0_v2 = strdup(identity(0, V2));
	char *valid2 = strdup(identity(2, V1));
	text t;
	text_start(&t);
	text_add(&t, "[\n");
	text_add(&t, valid0);                                               /* 0 stored */
	text_add(&t, ",\n{\"type\": \"identity\", \"spec_version\": \"2.1\", "   /* 1 refused: STIX */
		     "\"id\": \"identity--00000000-0000-4000-8000-000000000099\", "
		     "\"created\": \"2024-01-01T00:00:00.000Z\", \"modified\": \"2024-01-01T00:00:00.000Z\"}");
	text_add(&t, ",\n{\"type\": \"identity\", \"id\": \"x\",}");          /* 2 refused: JSON */
	text_add(&t, ",\n42");                                              /* 3 refused: not an object */
	text_add(&t, ",\n");
	text_add(&t, valid1);                                               /* 4 stored */
	text_add(&t, ",\n");
	text_add(&t, valid0);                                               /* 5 duplicate of 0 */
	text_add(&t, ",\n");
	text_add(&t, valid0_v2);                                            /* 6 stored: a new version */
	text_add(&t, ",\n");
	text_add(&t, identity(0, "2024-02-01T00:00:00.0000Z"));             /* 7 duplicate: same version as 6 */
	text_add(&t, ",\n");
	text_add(&t, valid2);                                               /* 8 stored */
	text_add(&t, "\n]\n");
	text_end(&t);

	run x;
	assert_int_equal(ingest(f, &x, t.s, 4, f->dflt), KY_OK);
	assert_int_equal(x.totals.objects, 9);
	assert_int_equal(x.totals.stored, 4);
	assert_int_equal(x.totals.duplicate, 2);
	assert_int_equal(x.totals.refused, 3);
	assert_int_equal(x.totals.batches, 3);
	assert_string_equal(x.totals.envelope_problem, "");
	assert_int_equal(x.totals.bytes, t.len);

	static const ky_ingest_outcome want[] = {KY_INGEST_STORED,    KY_INGEST_REFUSED,	KY_INGEST_REFUSED,
						KY_INGEST_REFUSED,   KY_INGEST_STORED,	KY_INGEST_DUPLICATE,
						KY_INGEST_STORED,    KY_INGEST_DUPLICATE, KY_INGEST_STORED};
	for (size_t i = 0; i < 9; i++) {
		if (x.recs[i].outcome != want[i])
			fail_msg("objects[%zu]: outcome %d, expected %d (%s)", i, (int)x.recs[i].outcome, (int)want[i],
				 x.recs[i].problems);
		if (want[i] != KY_INGEST_REFUSED)
			assert_int_equal(x.recs[i].nproblems, 0);
		if (want[i] != KY_INGEST_STORED)
			assert_int_equal(x.recs[i].seq, 0);
	}
	/* Numbers: 1, 2, 3, 4 in input order (a fresh hub). */
	assert_int_equal(x.recs[0].seq, 1);
	assert_int_equal(x.recs[4].seq, 2);
	assert_int_equal(x.recs[6].seq, 3);
	assert_int_equal(x.recs[8].seq, 4);
	/* Ids and types where the element had them; none where it was not a JSON object. */
	assert_string_equal(x.recs[0].id, identity_id(0));
	assert_string_equal(x.recs[0].type, "identity");
	assert_string_equal(x.recs[1].id, "identity--00000000-0000-4000-8000-000000000099");
	assert_null(x.recs[2].id);
	assert_null(x.recs[2].type);
	assert_null(x.recs[3].id);
	assert_string_equal(x.recs[5].id, identity_id(0));
	assert_string_equal(x.recs[7].id, identity_id(0));
	/* The reasons: the validator's (STIX 2.1 §4.5), the reader's with the position. */
	assert_int_equal(x.recs[1].nproblems, 1);
	assert_contains(x.recs[1].problems, "name: required property is missing");
	assert_int_equal(x.recs[2].nproblems, 1);
	assert_contains(x.recs[2].problems, "line 4 column");
	assert_int_equal(x.recs[3].nproblems, 1);
	assert_contains(x.recs[3].problems, "line 5 column 1: expected a JSON object");

	/* The store holds the bytes as they arrived, for each stored version. */
	char *b;
	assert_string_equal(b = stored_bytes(f->s, f->dflt, identity_id(0), V1), valid0);
	free(b);
	assert_string_equal(b = stored_bytes(f->s, f->dflt, identity_id(0), V2), valid0_v2);
	free(b);
	assert_string_equal(b = stored_bytes(f->s, f->dflt, identity_id(1), V1), valid1);
	free(b);
	assert_string_equal(b = stored_bytes(f->s, f->dflt, identity_id(2), V1), valid2);
	free(b);
	assert_null(stored_bytes(f->s, f->dflt, "identity--00000000-0000-4000-8000-000000000099", V1));
	assert_int_equal(additions(f->s, f->dflt), 4);

	run_clear(&x);
	free(t.s);
	free(valid0);
	free(valid1);
	free(valid0_v2);
	free(valid2);
}

/* Refused objects between valid ones, in every batch position; batches holding no valid
 * object commit nothing. */
static void test_refused_objects_do_not_stop_the_others(void **state)
{
	fx *f = *state;
	text t;
	text_start(&t);
	text_add(&t, "[");
	for (size_t i = 0; i < 12; i++) {
		if (i)
			text_add(&t, ",");
		/* Two of every three elements are broken, each in its own way. */
		text_add(&t, i % 3 == 0 ? identity(i, V1)
			   : i % 3 == 1 ? "{\"type\": \"identity\", \"spec_version\": \"2.0\", \"id\": \"identity--x\"}"
					: "[1, 2]"); /* JSON, but not an object */
	}
	text_add(&t, "]");
	text_end(&t);

	run x;
	assert_int_equal(ingest(f, &x, t.s, 2, f->dflt), KY_OK);
	assert_int_equal(x.totals.objects, 12);
	assert_int_equal(x.totals.stored, 4);
	assert_int_equal(x.totals.refused, 8);
	assert_int_equal(x.totals.batches, 4); /* of the six, (4, 5) and (10, 11) hold none */
	for (size_t i = 0; i < 12; i++) {
		assert_int_equal(x.recs[i].outcome, i % 3 == 0 ? KY_INGEST_STORED : KY_INGEST_REFUSED);
		if (i % 3 == 1) {
			assert_true(x.recs[i].nproblems >= 2);
			assert_contains(x.recs[i].problems, "spec_version");
			assert_contains(x.recs[i].problems, "id");
		}
		if (i % 3 == 2)
			assert_contains(x.recs[i].problems, "expected a JSON object, found a list");
	}
	run_clear(&x);
	free(t.s);
}

/* An object with more problems than are kept: the first KY_STIX_PROBLEMS_MAX, then a count
 * of the rest, so a report stays bounded whatever the object. */
static void test_many_problems_are_bounded(void **state)
{
	fx *f = *state;
	text t;
	text_start(&t);
	text_add(&t, "[{\"type\": \"identity\", \"spec_version\": \"2.1\", "
		     "\"id\": \"identity--00000000-0000-4000-8000-000000000001\", "
		     "\"created\": \"2024-01-01T00:00:00.000Z\", \"modified\": \"2024-01-01T00:00:00.000Z\", "
		     "\"name\": \"a\", \"external_references\": [{}");
	for (size_t i = 1; i < 40; i++)
		text_add(&t, ", {}"); /* two problems each (STIX 2.1 §2.5) */
	text_add(&t, "]}, ");
	text_add(&t, identity(2, V1));
	text_add(&t, "]");
	text_end(&t);
	run x;
	assert_int_equal(ingest(f, &x, t.s, 1000, f->dflt), KY_OK);
	assert_int_equal(x.recs[0].outcome, KY_INGEST_REFUSED);
	assert_int_equal(x.recs[0].nproblems, KY_STIX_PROBLEMS_MAX + 1);
	assert_contains(x.recs[0].problems, "external_references[0].source_name: required property is missing");
	assert_contains(x.recs[0].problems, "... and 48 more problems");
	assert_int_equal(x.recs[1].outcome, KY_INGEST_STORED);
	run_clear(&x);
	free(t.s);
}

/* --- batches --------------------------------------------------------------------------- */

static void test_batch_boundaries(void **state)
{
	fx *f = *state;
	char *input = array_of(0, 10, V1);
	run x;
	assert_int_equal(ingest(f, &x, input, 3, f->dflt), KY_OK);
	assert_int_equal(x.totals.objects, 10);
	assert_int_equal(x.totals.stored, 10);
	assert_int_equal(x.totals.batches, 4);
	/* Progress after each commit: 3, 6, 9, 10 objects (and on_progress checked that the
	 * probe saw exactly that many additions each time). */
	assert_int_equal(x.progress_calls, 4);
	assert_int_equal(x.progress_objects[0], 3);
	assert_int_equal(x.progress_objects[1], 6);
	assert_int_equal(x.progress_objects[2], 9);
	assert_int_equal(x.progress_objects[3], 10);
	for (size_t i = 0; i < 10; i++) {
		assert_int_equal(x.recs[i].outcome, KY_INGEST_STORED);
		assert_int_equal(x.recs[i].seq, i + 1);
		assert_string_equal(x.recs[i].id, identity_id(i));
	}
	run_clear(&x);

	/* A second import goes on from the last number. */
	char *more = array_of(10, 5, V1);
	assert_int_equal(ingest(f, &x, more, 3, f->dflt), KY_OK);
	assert_int_equal(x.totals.batches, 2);
	for (size_t i = 0; i < 5; i++)
		assert_int_equal(x.recs[i].seq, 11 + i);
	run_clear(&x);

	ky_store_stats stats;
	assert_int_equal(ky_store_stats_get(f->s, &stats), KY_OK);
	assert_int_equal(stats.last_seq, 15);
	assert_int_equal(stats.additions, 15);
	free(input);
	free(more);
}

/* The same object twice in one batch, and in two batches of one input. */
static void test_duplicates_within_one_input(void **state)
{
	fx *f = *state;
	text t;
	text_start(&t);
	text_add(&t, "[");
	size_t order[] = {0, 0, 1, 2, 1, 0, 3, 3};
	for (size_t i = 0; i < 8; i++) {
		text_add(&t, i ? "," : "");
		text_add(&t, identity(order[i], V1));
	}
	text_add(&t, "]");
	text_end(&t);
	run x;
	assert_int_equal(ingest(f, &x, t.s, 3, f->dflt), KY_OK);
	assert_int_equal(x.totals.stored, 4);
	assert_int_equal(x.totals.duplicate, 4);
	bool dup[] = {false, true, false, false, true, true, false, true};
	uint64_t last = 0;
	for (size_t i = 0; i < 8; i++) {
		assert_int_equal(x.recs[i].outcome, dup[i] ? KY_INGEST_DUPLICATE : KY_INGEST_STORED);
		if (!dup[i]) {
			assert_true(x.recs[i].seq > last);
			last = x.recs[i].seq;
		}
	}
	assert_int_equal(additions(f->s, f->dflt), 4);
	run_clear(&x);
	free(t.s);
}

static void test_duplicates_across_imports(void **state)
{
	fx *f = *state;
	char *first = array_of(0, 5, V1);
	char *again = array_of(0, 7, V1); /* the same five and two more */
	run x;
	assert_int_equal(ingest(f, &x, first, 2, f->dflt), KY_OK);
	assert_int_equal(x.totals.stored, 5);
	run_clear(&x);

	assert_int_equal(ingest(f, &x, first, 2, f->dflt), KY_OK);
	assert_int_equal(x.totals.stored, 0);
	assert_int_equal(x.totals.duplicate, 5);
	for (size_t i = 0; i < 5; i++) {
		assert_int_equal(x.recs[i].outcome, KY_INGEST_DUPLICATE);
		assert_int_equal(x.recs[i].seq, 0);
	}
	run_clear(&x);

	assert_int_equal(ingest(f, &x, again, 1000, f->dflt), KY_OK);
	assert_int_equal(x.totals.duplicate, 5);
	assert_int_equal(x.totals.stored, 2);
	assert_int_equal(x.recs[5].seq, 6);
	assert_int_equal(x.recs[6].seq, 7);
	run_clear(&x);

	/* A newer version of an object is stored; the old one is not stored again. */
	char *newer = array_of(0, 2, V2);
	assert_int_equal(ingest(f, &x, newer, 1000, f->dflt), KY_OK);
	assert_int_equal(x.totals.stored, 2);
	run_clear(&x);
	assert_int_equal(ingest(f, &x, first, 1000, f->dflt), KY_OK);
	assert_int_equal(x.totals.duplicate, 5);
	run_clear(&x);

	ky_store_stats stats;
	assert_int_equal(ky_store_stats_get(f->s, &stats), KY_OK);
	assert_int_equal(stats.versions, 9);
	assert_int_equal(stats.objects, 7);
	assert_int_equal(stats.additions, 9);
	free(first);
	free(again);
	free(newer);
}

/* batch_bytes: a batch closes once it holds that many bytes of objects. */
static void test_batch_bytes(void **state)
{
	fx *f = *state;
	char *input = array_of(0, 20, V1);
	size_t shortest = strlen(identity(0, V1)); /* 0-9; 10-19 are one byte longer */
	FILE *in = fmemopen(input, strlen(input), "r");
	ky_admission *admission = NULL;
	assert_int_equal(ky_admission_operator(f->s, NULL, NULL, &admission), KY_OK);
	ky_ingest_options options = {.admission = admission, .collection_id = f->dflt, .batch_bytes = 3 * shortest};
	ky_ingest_totals totals;
	assert_int_equal(ky_ingest_stream(f->s, in, &options, NULL, NULL, NULL, &totals), KY_OK);
	ky_admission_free(admission);
	fclose(in);
	assert_int_equal(totals.stored, 20);
	assert_int_equal(totals.batches, 7); /* 3 per batch: 6 x 3 + 2 */
	free(input);
}

/* An element over max_object is refused on its own; reading goes on after it. */
static void test_object_over_the_limit(void **state)
{
	fx *f = *state;
	text t;
	text_start(&t);
	text_add(&t, "[");
	text_add(&t, identity(0, V1));
	text_add(&t, ", {\"type\": \"x-big\", \"filler\": \"");
	for (size_t i = 0; i < 100; i++)
		text_add(&t, "0123456789");
	text_add(&t, "\"}, ");
	text_add(&t, identity(1, V1));
	text_add(&t, "]");
	text_end(&t);
	run x;
	memset(&x, 0, sizeof(x));
	x.f = f;
	x.collection_id = f->dflt;
	FILE *in = fmemopen(t.s, t.len, "r");
	ky_admission *admission = NULL;
	assert_int_equal(ky_admission_operator(f->s, NULL, NULL, &admission), KY_OK);
	ky_ingest_options options = {.admission = admission, .collection_id = f->dflt, .max_object = 512};
	assert_int_equal(ky_ingest_stream(f->s, in, &options, on_report, NULL, &x, &x.totals), KY_OK);
	ky_admission_free(admission);
	fclose(in);
	assert_int_equal(x.n, 3);
	assert_int_equal(x.recs[0].outcome, KY_INGEST_STORED);
	assert_int_equal(x.recs[1].outcome, KY_INGEST_REFUSED);
	assert_contains(x.recs[1].problems, "larger than the limit of 512 bytes");
	assert_int_equal(x.recs[2].outcome, KY_INGEST_STORED);
	run_clear(&x);
	free(t.s);
}

/* The store fails in the middle (another writer holds the lock past the busy timeout): the
 * batches before are stored and reported, that one and the rest are not, and the reader
 * thread, which is ahead, stops and frees what it read. The other writer is a connection
 * beside the store's: on SQLite one that holds the write lock (BEGIN IMMEDIATE), on
 * PostgreSQL one that holds the counter row every commit locks (store_pg.c). */
typedef struct locker {
	run r;
	const char *path;
	bool locked;
	sqlite3 *h;     /* the other writer, once the first batch is reported */
	PGconn *pg;
} locker;

static void lock_after_first_batch(void *ctx, const ky_ingest_report *r)
{
	locker *l = ctx;
	on_report(&l->r, r);
	if (l->locked)
		return;
	l->locked = true;
	if (ky_test_hub_is_pg()) {
		l->pg = PQconnectdb(l->path);
		assert_int_equal(PQstatus(l->pg), CONNECTION_OK);
		PGresult *res = PQexec(l->pg, "BEGIN; SELECT last_seq FROM sequence WHERE id = 1 FOR UPDATE");
		assert_int_equal(PQresultStatus(res), PGRES_TUPLES_OK);
		PQclear(res);
	} else {
		assert_int_equal(sqlite3_open(l->path, &l->h), SQLITE_OK);
		assert_int_equal(sqlite3_exec(l->h, "BEGIN IMMEDIATE", NULL, NULL, NULL), SQLITE_OK);
	}
}

static void unlock(locker *l)
{
	if (l->pg != NULL) {
		PQclear(PQexec(l->pg, "ROLLBACK"));
		PQfinish(l->pg);
	}
	if (l->h != NULL) {
		sqlite3_exec(l->h, "ROLLBACK", NULL, NULL, NULL);
		sqlite3_close(l->h);
	}
}

static void test_store_failure_stops_the_import(void **state)
{
	fx *f = *state;
	ky_store *impatient = NULL;
	ky_store_options options = {.busy_timeout_ms = 50};
	assert_int_equal(ky_store_open(&impatient, f->path, &options, NULL), KY_OK);
	char *input = array_of(0, 50, V1);
	locker l = {.path = f->path};
	l.r.f = f;
	l.r.collection_id = f->dflt;
	FILE *in = fmemopen(input, strlen(input), "r");
	ky_admission *admission = NULL;
	assert_int_equal(ky_admission_operator(impatient, NULL, NULL, &admission), KY_OK);
	ky_ingest_options io = {.admission = admission, .collection_id = f->dflt, .batch_objects = 5};
	int rc = ky_ingest_stream(impatient, in, &io, lock_after_first_batch, NULL, &l, &l.r.totals);
	ky_admission_free(admission);
	fclose(in);
	assert_int_equal(rc, KY_EBUSY);
	assert_contains(ky_error_last(), "locked");
	assert_int_equal(l.r.n, 5);
	assert_int_equal(l.r.totals.stored, 5);
	assert_int_equal(l.r.totals.objects, 5);
	unlock(&l);
	assert_int_equal(additions(f->s, f->dflt), 5);
	run_clear(&l.r);

	/* Run again once the lock is gone: the five are duplicates, the rest stored. */
	run x;
	assert_int_equal(ingest(f, &x, input, 5, f->dflt), KY_OK);
	assert_int_equal(x.totals.duplicate, 5);
	assert_int_equal(x.totals.stored, 45);
	assert_int_equal(x.recs[5].seq, 6);
	run_clear(&x);
	ky_store_close(impatient);
	free(input);
}

/* --- collections ----------------------------------------------------------------------- */

static void test_second_collection(void **state)
{
	fx *f = *state;
	ky_store_collection c;
	assert_int_equal(ky_store_collection_create(f->s, NULL, "partners", "Partners", NULL, &c), KY_OK);
	int64_t second = c.id;
	ky_store_collection_clear(&c);
	char *input = array_of(0, 3, V1);

	run x;
	assert_int_equal(ingest(f, &x, input, 2, f->dflt), KY_OK);
	assert_int_equal(x.totals.stored, 3);
	run_clear(&x);

	/* The same versions are new to the other collection: stored there, numbered on. */
	assert_int_equal(ingest(f, &x, input, 2, second), KY_OK);
	assert_int_equal(x.totals.stored, 3);
	for (size_t i = 0; i < 3; i++)
		assert_int_equal(x.recs[i].seq, 4 + i);
	run_clear(&x);

	assert_int_equal(ingest(f, &x, input, 2, second), KY_OK);
	assert_int_equal(x.totals.duplicate, 3);
	run_clear(&x);

	assert_int_equal(additions(f->s, f->dflt), 3);
	assert_int_equal(additions(f->s, second), 3);
	ky_store_stats stats;
	assert_int_equal(ky_store_stats_get(f->s, &stats), KY_OK);
	assert_int_equal(stats.versions, 3); /* one copy of the bytes for both collections */
	assert_int_equal(stats.additions, 6);
	free(input);
}

/* --- broken inputs --------------------------------------------------------------------- */

/* Seven objects, then the input ends inside the eighth. */
static void test_truncated_input(void **state)
{
	fx *f = *state;
	text t;
	text_start(&t);
	text_add(&t, "{\"type\": \"bundle\", \"id\": \"bundle--5d0092c5-5f74-4287-9642-33f4c354e56d\", \"objects\": [\n");
	for (size_t i = 0; i < 7; i++) {
		text_add(&t, identity(i, V1));
		text_add(&t, ",\n");
	}
	text_add(&t, "{\"type\": \"identity\", \"id\": \"identity--00000000-0000-4000-8000-0000");
	text_end(&t);

	run x;
	int rc = ingest(f, &x, t.s, 3, f->dflt);
	assert_int_equal(rc, KY_EINVALID);
	/* Where and why, for a person. */
	assert_contains(ky_error_last(), "input: line 9 column");
	assert_contains(ky_error_last(), "unexpected end of input");
	/* Everything before the break is stored and reported. */
	assert_int_equal(x.totals.objects, 7);
	assert_int_equal(x.totals.stored, 7);
	for (size_t i = 0; i < 7; i++) {
		assert_int_equal(x.recs[i].outcome, KY_INGEST_STORED);
		assert_int_equal(x.recs[i].seq, i + 1);
	}
	assert_int_equal(additions(f->s, f->dflt), 7);
	run_clear(&x);

	/* The same input again: the seven are duplicates, and it breaks in the same place. */
	assert_int_equal(ingest(f, &x, t.s, 3, f->dflt), KY_EINVALID);
	assert_int_equal(x.totals.duplicate, 7);
	run_clear(&x);
	free(t.s);
}

/* Garbage between elements breaks the outer structure: it stops there. */
static void test_broken_structure_stops_the_stream(void **state)
{
	fx *f = *state;
	text t;
	text_start(&t);
	text_add(&t, "[");
	text_add(&t, identity(0, V1));
	text_add(&t, ",");
	text_add(&t, identity(1, V1));
	text_add(&t, "; ");
	text_add(&t, identity(2, V1));
	text_add(&t, "]");
	text_end(&t);
	run x;
	assert_int_equal(ingest(f, &x, t.s, 1000, f->dflt), KY_EINVALID);
	assert_contains(ky_error_last(), "expected ',' or ']' after an object, found ';'");
	assert_int_equal(x.totals.stored, 2);
	assert_int_equal(additions(f->s, f->dflt), 2);
	run_clear(&x);
	free(t.s);
}

/* STIX 2.1 §8: the bundle's own id is wrong; the bundle is only a wrapper, its objects stand. */
static void test_bundle_envelope_problem(void **state)
{
	fx *f = *state;
	text t;
	text_start(&t);
	text_add(&t, "{\"type\": \"bundle\", \"id\": \"bundle--not-a-uuid\", \"objects\": [");
	text_add(&t, identity(0, V1));
	text_add(&t, ",");
	text_add(&t, identity(1, V1));
	text_add(&t, "]}");
	text_end(&t);
	run x;
	assert_int_equal(ingest(f, &x, t.s, 1, f->dflt), KY_OK);
	assert_contains(x.totals.envelope_problem, "bundle--not-a-uuid");
	assert_contains(x.totals.envelope_problem, "§8");
	assert_int_equal(x.totals.stored, 2);
	assert_int_equal(x.totals.batches, 2);
	assert_int_equal(additions(f->s, f->dflt), 2);
	run_clear(&x);
	free(t.s);

	/* A correct bundle has no such problem. */
	text_start(&t);
	text_add(&t, "{\"type\": \"bundle\", \"id\": \"bundle--5d0092c5-5f74-4287-9642-33f4c354e56d\", \"objects\": [");
	text_add(&t, identity(2, V1));
	text_add(&t, "]}");
	text_end(&t);
	assert_int_equal(ingest(f, &x, t.s, 1, f->dflt), KY_OK);
	assert_string_equal(x.totals.envelope_problem, "");
	assert_int_equal(x.totals.stored, 1);
	run_clear(&x);
	free(t.s);
}

static void test_empty_inputs(void **state)
{
	fx *f = *state;
	static const char *const inputs[] = {
		"[]",
		" [ \n ] \n",
		"{\"type\": \"bundle\", \"id\": \"bundle--5d0092c5-5f74-4287-9642-33f4c354e56d\", \"objects\": []}",
	};
	for (size_t i = 0; i < sizeof(inputs) / sizeof(inputs[0]); i++) {
		run x;
		assert_int_equal(ingest(f, &x, inputs[i], 3, f->dflt), KY_OK);
		assert_int_equal(x.n, 0);
		assert_int_equal(x.totals.objects, 0);
		assert_int_equal(x.totals.stored, 0);
		assert_int_equal(x.totals.batches, 0);
		assert_string_equal(x.totals.envelope_problem, "");
		run_clear(&x);
	}
	assert_int_equal(additions(f->s, f->dflt), 0);
	ky_store_stats stats;
	assert_int_equal(ky_store_stats_get(f->s, &stats), KY_OK);
	assert_int_equal(stats.last_seq, 0);
}

/* One object (not a bundle, not an array) is content too. */
static void test_single_object(void **state)
{
	fx *f = *state;
	run x;
	assert_int_equal(ingest(f, &x, identity(5, V1), 3, f->dflt), KY_OK);
	assert_int_equal(x.totals.stored, 1);
	assert_string_equal(x.recs[0].id, identity_id(5));
	run_clear(&x);
}

/* --- a long stream --------------------------------------------------------------------- */

/* A bundle of `total` small identities, produced as it is read. */
typedef struct generator {
	size_t total, written;
	atomic_size_t produced; /* `written`, for the other thread */
	size_t at, len;
	char pending[512];
	int phase; /* 0 header, 1 objects, 2 trailer, 3 done */
} generator;

static ssize_t generate(void *cookie, char *buf, size_t size)
{
	generator *g = cookie;
	size_t out = 0;
	while (out < size && g->phase < 3) {
		if (g->at == g->len) {
			g->at = 0;
			if (g->phase == 0) {
				g->len = (size_t)snprintf(g->pending, sizeof(g->pending),
							  "{\"type\": \"bundle\", \"id\": \"bundle--5d0092c5-5f74-4287-9642-33f4c354e56d\", \"objects\": [\n");
				g->phase = 1;
			} else if (g->phase == 1 && g->written < g->total) {
				g->len = (size_t)snprintf(g->pending, sizeof(g->pending), "%s%s",
							  g->written ? ",\n" : "", identity(g->written, V1));
				g->written++;
				atomic_store_explicit(&g->produced, g->written, memory_order_relaxed);
			} else if (g->phase == 1) {
				g->len = (size_t)snprintf(g->pending, sizeof(g->pending), "\n]}\n");
				g->phase = 2;
			} else {
				g->phase = 3;
				break;
			}
		}
		size_t n = g->len - g->at < size - out ? g->len - g->at : size - out;
		memcpy(buf + out, g->pending + g->at, n);
		g->at += n;
		out += n;
	}
	return (ssize_t)out;
}

typedef struct stream_run {
	generator *g;
	size_t reported, stored, out_of_order;
	size_t max_ahead;     /* objects generated but not yet reported, at most */
	long long heap_base, heap_peak; /* outside SQLite (libpq's buffers are inside) */
	size_t sqlite_peak;
	size_t progress_calls;
} stream_run;

/* Bytes of heap in use outside SQLite's own allocations. */
static long long heap_in_use(void)
{
#if !HEAP_MEASURED
	return 0;
#else
	struct mallinfo2 m = mallinfo2();
	return (long long)(m.uordblks + m.hblkhd) - (long long)sqlite3_memory_used();
#endif
}

static void stream_report(void *ctx, const ky_ingest_report *r)
{
	stream_run *x = ctx;
	x->out_of_order += r->index != x->reported;
	x->stored += r->outcome == KY_INGEST_STORED;
	/* The reader may be one chunk ahead (waiting) and filling the next: two more batches
	 * beyond the one being reported, plus what the stdio and reader buffers hold. */
	size_t ahead = atomic_load_explicit(&x->g->produced, memory_order_relaxed) - x->reported;
	if (ahead > x->max_ahead)
		x->max_ahead = ahead;
	x->reported++;
}

static void stream_progress(void *ctx, const ky_ingest_totals *t)
{
	stream_run *x = ctx;
	(void)t;
	x->progress_calls++;
	long long now = heap_in_use();
	if (now > x->heap_peak)
		x->heap_peak = now;
	if ((size_t)sqlite3_memory_used() > x->sqlite_peak)
		x->sqlite_peak = (size_t)sqlite3_memory_used();
}

static void test_long_stream_in_bounded_memory(void **state)
{
	fx *f = *state;
	const size_t total = LONG_STREAM_OBJECTS, batch = 1000;
	generator g = {.total = total};
	cookie_io_functions_t io = {.read = generate};
	FILE *in = fopencookie(&g, "r", io);
	assert_non_null(in);
	stream_run x = {.g = &g};
	x.heap_base = x.heap_peak = heap_in_use();
	ky_admission *admission = NULL;
	assert_int_equal(ky_admission_operator(f->s, NULL, NULL, &admission), KY_OK);
	ky_ingest_options options = {.admission = admission, .collection_id = f->dflt, .batch_objects = batch, .source_name = "generator"};
	ky_ingest_totals totals;
	int rc = ky_ingest_stream(f->s, in, &options, stream_report, stream_progress, &x, &totals);
	ky_admission_free(admission);
	fclose(in);
	if (rc != KY_OK)
		fail_msg("ingest stopped: %s", ky_error_last());
	assert_int_equal(g.written, total);
	assert_int_equal(totals.objects, total);
	assert_int_equal(totals.stored, total);
	assert_int_equal(totals.refused, 0);
	assert_int_equal(totals.batches, total / batch);
	assert_int_equal(x.reported, total);
	assert_int_equal(x.stored, total);
	assert_int_equal(x.out_of_order, 0);
	/* After each batch (and once more when the input ends on a batch boundary). */
	assert_in_range(x.progress_calls, total / batch, total / batch + 1);
	assert_true(totals.bytes > (unsigned long long)total * 200);
	/* At most three batches in the pipeline, and a few hundred objects in buffers. */
	if (x.max_ahead > 3 * batch + 500)
		fail_msg("the reader ran %zu objects ahead of the reports (batches of %zu)", x.max_ahead, batch);
	/* The input is ~40 MB; outside SQLite the heap holds three batches (~200 KB of bytes
	 * each, with their ids and entries) and the reader's buffers. Only where SQLite keeps
	 * its statistics (a build with SQLITE_DEFAULT_MEMSTATUS=0 does not) is the subtraction
	 * meaningful. On PostgreSQL SQLite holds nothing: the whole heap growth counts. */
	long long growth = x.heap_peak - x.heap_base;
	if (HEAP_MEASURED && !ky_test_hub_is_pg() && x.sqlite_peak == 0)
		print_message("heap not checked: this SQLite keeps no memory statistics\n");
	else if (HEAP_MEASURED && growth > (8ll << 20))
		fail_msg("the heap outside SQLite grew by %lld bytes while reading %llu", growth, totals.bytes);
	ky_store_stats stats;
	assert_int_equal(ky_store_stats_get(f->s, &stats), KY_OK);
	assert_int_equal(stats.additions, total);
	assert_int_equal(stats.last_seq, total);
}

int main(void)
{
	/* Before any store: keeps SQLite's memory statistics on (see the top of the file). */
	sqlite3_initialize();
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
	const struct CMUnitTest tests[] = {
		T(test_every_outcome_in_input_order),
		T(test_refused_objects_do_not_stop_the_others),
		T(test_many_problems_are_bounded),
		T(test_batch_boundaries),
		T(test_batch_bytes),
		T(test_object_over_the_limit),
		T(test_store_failure_stops_the_import),
		T(test_duplicates_within_one_input),
		T(test_duplicates_across_imports),
		T(test_second_collection),
		T(test_truncated_input),
		T(test_broken_structure_stops_the_stream),
		T(test_bundle_envelope_problem),
		T(test_empty_inputs),
		T(test_single_object),
		T(test_long_stream_in_bounded_memory),
	};
#undef T
	return cmocka_run_group_tests(tests, NULL, NULL);
}
