/*
 * test_alloc_ingest: ingest (src/ingest/) of a small bundle into a SQLite hub with the n-th
 * allocation failing, n = 1, 2, ... (alloc_fail.h): opening the hub, finding the collection,
 * reading, validating and storing in batches of two (so that some batches have committed
 * when a later one fails), and closing. Every attempt starts from a copy of the same fresh
 * hub, made before injection is armed. An attempt ends with KY_ENOMEM (SQLite's
 * SQLITE_NOMEM is the store's KY_ENOMEM), or with every object stored and reported once;
 * and whatever an attempt stored is exactly what the input holds (bytes, spec_version,
 * modified): never an object whose copy or metadata memory failed to make.
 * The hub is SQLite on either backend's run: libpq's allocations are out of reach.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "alloc_fail.h"
#include "ingest/ingest.h"
#include "ky_test_hub.h"
#include "store/store.h"
#include "util/ky_error.h"

static const char bundle[] =
	"{\"type\": \"bundle\", \"id\": \"bundle--8a1c6b32-3f6e-4b0e-9d7c-2b6f1a9e4c10\", \"objects\": [\n"
	"{\"type\": \"identity\", \"spec_version\": \"2.1\", \"id\": \"identity--6f2b9a44-0f6e-4c55-9a3e-7a0b1c2d3e4f\",\n"
	" \"created\": \"2026-11-01T09:00:00.000Z\", \"modified\": \"2026-11-01T09:00:00.000Z\",\n"
	" \"name\": \"Example vendor\", \"identity_class\": \"organization\"},\n"
	"{\"type\": \"indicator\", \"spec_version\": \"2.1\", \"id\": \"indicator--0f8e2d3c-4b5a-4c6d-8e7f-9a0b1c2d3e4f\",\n"
	" \"created\": \"2026-11-20T08:15:00.000Z\", \"modified\": \"2026-11-20T08:15:00.000Z\",\n"
	" \"pattern_type\": \"stix\", \"valid_from\": \"2026-11-20T08:15:00Z\", \"pattern\": \"[ipv4-addr:value = '203.0.113.45']\"},\n"
	"{\"type\": \"malware\", \"spec_version\": \"2.1\", \"id\": \"malware--3c4d5e6f-7a8b-4c9d-8e0f-1a2b3c4d5e6f\",\n"
	" \"created\": \"2026-11-20T08:15:00.000Z\", \"modified\": \"2026-11-20T08:15:00.000Z\", \"name\": \"ExampleLocker\",\n"
	" \"is_family\": true},\n"
	"{\"type\": \"malware\", \"spec_version\": \"2.1\", \"id\": \"malware--4c4d5e6f-7a8b-4c9d-8e0f-1a2b3c4d5e6f\",\n"
	" \"created\": \"2026-11-20T08:15:00.000Z\", \"modified\": \"2026-11-20T08:15:00.000Z\", \"is_family\": true},\n"
	"{\"type\": \"relationship\", \"spec_version\": \"2.1\", \"id\": \"relationship--9d8c7b6a-5f4e-4d3c-9b2a-1f0e9d8c7b6a\",\n"
	" \"created\": \"2026-11-20T08:15:00.000Z\", \"modified\": \"2026-11-20T08:15:00.000Z\", \"relationship_type\": \"indicates\",\n"
	" \"source_ref\": \"indicator--0f8e2d3c-4b5a-4c6d-8e7f-9a0b1c2d3e4f\", \"target_ref\": \"malware--3c4d5e6f-7a8b-4c9d-8e0f-1a2b3c4d5e6f\"}\n"
	"]}\n";
#define OBJECTS 5
#define REFUSED 1 /* the malware without a name */

typedef struct scenario {
	char dir[64];
	char fresh[128]; /* the hub as created */
	char hub[128];   /* the copy an attempt works on */
} scenario;

typedef struct reports {
	size_t seen, stored, refused;
} reports;

static void count_report(void *ctx, const ky_ingest_report *report)
{
	reports *r = ctx;
	assert_int_equal(report->index, r->seen);
	r->seen++;
	r->stored += report->outcome == KY_INGEST_STORED;
	r->refused += report->outcome == KY_INGEST_REFUSED;
}

static void copy_file(const char *from, const char *to)
{
	FILE *in = fopen(from, "rb"), *out = fopen(to, "wb");
	assert_non_null(in);
	assert_non_null(out);
	char buf[65536];
	size_t n;
	while ((n = fread(buf, 1, sizeof(buf), in)) > 0)
		assert_int_equal(fwrite(buf, 1, n, out), n);
	fclose(in);
	assert_int_equal(fclose(out), 0);
}

static int ingest(const char *hub, reports *seen)
{
	ky_store *s = NULL;
	ky_store_collection c = {0};
	FILE *in = fmemopen((void *)bundle, sizeof(bundle) - 1, "r");
	assert_non_null(in);
	int rc = ky_store_open(&s, hub, NULL, NULL);
	if (rc != KY_OK)
		goto cleanup;
	rc = ky_store_collection_find(s, KY_STORE_DEFAULT_COLLECTION, &c);
	if (rc != KY_OK)
		goto cleanup;
	ky_ingest_options o = {.collection_id = c.id, .batch_objects = 2, .source_name = "bundle.json"};
	rc = ky_admission_operator(s, NULL, NULL, &o.admission);
	if (rc != KY_OK)
		goto cleanup;
	ky_ingest_totals totals;
	rc = ky_ingest_stream(s, in, &o, count_report, NULL, seen, &totals);
	ky_admission_free(o.admission);
	if (rc == KY_OK && (totals.objects != OBJECTS || totals.refused != REFUSED || totals.stored != OBJECTS - REFUSED))
		fail_msg("ingest succeeded with %zu objects, %zu stored, %zu refused", totals.objects, totals.stored,
			 totals.refused);
cleanup:
	ky_store_collection_clear(&c);
	ky_store_close(s);
	fclose(in);
	return rc;
}

/* Each stored row: its bytes exactly as in the input, and the metadata they hold. */
static int check_row(void *ctx, const ky_store_row *row)
{
	unsigned long n = *(const unsigned long *)ctx;
	char modified[64];
	if (row->raw_len == 0 || memmem(bundle, sizeof(bundle) - 1, row->raw, row->raw_len) == NULL ||
	    row->spec_version == NULL || strcmp(row->spec_version, "2.1") != 0 || row->modified == NULL ||
	    snprintf(modified, sizeof(modified), "\"modified\": \"%s\"", row->modified) <= 0 ||
	    memmem(row->raw, row->raw_len, modified, strlen(modified)) == NULL)
		fail_msg("allocation %lu: a stored row is not what the input had: %s spec_version %s modified %s: %.*s", n,
			 row->id, row->spec_version ? row->spec_version : "(none)", row->modified ? row->modified : "(none)",
			 (int)row->raw_len, row->raw ? row->raw : "");
	return 0;
}

/* What an attempt left stored, however it ended, is exactly what the input said. */
static void check_stored(const char *hub, unsigned long n)
{
	ky_store *s = NULL;
	ky_store_collection c = {0};
	assert_int_equal(ky_store_open(&s, hub, NULL, NULL), KY_OK);
	assert_int_equal(ky_store_collection_find(s, KY_STORE_DEFAULT_COLLECTION, &c), KY_OK);
	ky_store_query q = {.scope = &ky_store_operator_scope, .collection_id = c.id, .versions = KY_STORE_ALL};
	assert_int_equal(ky_store_query_run(s, &q, check_row, &n, NULL), KY_OK);
	ky_store_collection_clear(&c);
	ky_store_close(s);
}

static bool attempt(void *ctx, unsigned long n)
{
	scenario *s = ctx;
	reports seen = {0};
	char path[160];
	copy_file(s->fresh, s->hub);
	snprintf(path, sizeof(path), "%s-wal", s->hub);
	unlink(path);
	snprintf(path, sizeof(path), "%s-shm", s->hub);
	unlink(path);
	alloc_fail_arm(n);
	int rc = ingest(s->hub, &seen);
	bool fired = alloc_fail_disarm(NULL);
	check_stored(s->hub, n);
	if (rc == KY_OK) {
		if (seen.seen != OBJECTS || seen.stored != OBJECTS - REFUSED || seen.refused != REFUSED)
			fail_msg("allocation %lu %s: ingest succeeded with %zu reports, %zu stored, %zu refused", n,
				 fired ? "failed" : "was not reached", seen.seen, seen.stored, seen.refused);
	} else if (!fired || rc != KY_ENOMEM) {
		fail_msg("allocation %lu %s: %d (%s), expected KY_ENOMEM", n, fired ? "failed" : "was not reached", rc,
			 ky_error_last());
	}
	return fired;
}

static void test_ingest(void **state)
{
	(void)state;
	scenario s = {0};
	/* In memory when the system has it: some 1,600 attempts, each with three commits,
	 * would otherwise wait for the disk 5,000 times. */
	snprintf(s.dir, sizeof(s.dir), "/dev/shm/ky-test-alloc-ingest-XXXXXX");
	if (mkdtemp(s.dir) == NULL) {
		snprintf(s.dir, sizeof(s.dir), "/tmp/ky-test-alloc-ingest-XXXXXX");
		assert_non_null(mkdtemp(s.dir));
	}
	snprintf(alloc_fail_dir, sizeof(alloc_fail_dir), "%s", s.dir);
	snprintf(s.fresh, sizeof(s.fresh), "%s/fresh.db", s.dir);
	snprintf(s.hub, sizeof(s.hub), "%s/hub.db", s.dir);
	ky_store_options create = {.create = true};
	ky_store *store = NULL;
	assert_int_equal(ky_store_open(&store, s.fresh, &create, NULL), KY_OK);
	ky_store_close(store);
	assert_true(alloc_fail_loop("ingest into a SQLite hub", attempt, &s) > 0);
}

int main(void)
{
	alloc_fail_init();
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ingest),
	};
	return cmocka_run_group_tests(tests, NULL, alloc_fail_remove_dir);
}
