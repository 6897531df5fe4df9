/*
 * bench_ingest_ceiling: the ceiling of the ingest benchmark (bench/run-ingest). It stores the
 * rows `kyoyu import` would store, the way a bare writer would: raw prepared statements,
 * nothing else, so that the import's rate can be set against the rate the database allows.
 *
 *     bench_ingest_ceiling [-b B] hub.db bundle.json
 *
 * hub.db is a fresh hub (`kyoyu --db hub.db init`). First, untimed, the whole bundle is read
 * with ky_stix_reader and each object's row prepared in memory as the store prepares it:
 * the bytes as received, id, type, spec_version, modified (else created) as written, the
 * fixed-width version key (ky_store_meta_of, ky_store_version_key). Then, timed: per batch
 * of B objects (default 1000, the import's default), BEGIN IMMEDIATE; per object one INSERT
 * INTO versions and one INSERT INTO entries (seq from a counter in memory, latest = 1); one
 * UPDATE of the sequence row; COMMIT. No lookups, no validation, no pipeline.
 *
 * The connection is set up as store_sqlite.c's connect() and use_wal() set theirs: memory
 * statistics off, SQLITE_OPEN_NOMUTEX, synchronous = FULL (the default without kyoyu.conf),
 * foreign_keys = ON, cache_size = -65536, journal_mode = WAL, a 10 s busy timeout. The
 * values in effect are read back from the connection and printed. Keep them in step with
 * store_sqlite.c: a ceiling with other settings measures something else.
 *
 * Prints one line of key=value pairs. `seconds` runs from the first BEGIN to the end of
 * sqlite3_close(), which checkpoints the WAL into the database as the import's exit does;
 * `insert_seconds` stops at the last COMMIT. peak_rss_kib (getrusage) includes the rows held
 * in memory, loaded_rss_kib is the peak before the timed part began. Exits 1 if the bundle
 * cannot be read or holds an element that is not a JSON object with an id and type (the
 * input is meant to be what the import stores whole), or if the database refuses a row.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sqlite3.h>

#include "ingest_rows.h"
#include "store/store.h"
#include "store/store_backend.h"
#include "util/ky_clock.h"
#include "util/ky_error.h"

static int exec(sqlite3 *h, const char *sql)
{
	char *message = NULL;
	if (sqlite3_exec(h, sql, NULL, NULL, &message) != SQLITE_OK) {
		fprintf(stderr, "bench_ingest_ceiling: %s: %s\n", sql, message ? message : sqlite3_errmsg(h));
		sqlite3_free(message);
		return -1;
	}
	return 0;
}

/* The first column of the first row of `sql` as text, into out. */
static int query_text(sqlite3 *h, const char *sql, char *out, size_t size)
{
	sqlite3_stmt *st = NULL;
	int ok = sqlite3_prepare_v2(h, sql, -1, &st, NULL) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW;
	if (ok)
		snprintf(out, size, "%s", (const char *)sqlite3_column_text(st, 0));
	else
		fprintf(stderr, "bench_ingest_ceiling: %s: %s\n", sql, sqlite3_errmsg(h));
	sqlite3_finalize(st);
	return ok ? 0 : -1;
}

static int prepare(sqlite3 *h, sqlite3_stmt **st, const char *sql)
{
	if (sqlite3_prepare_v3(h, sql, -1, SQLITE_PREPARE_PERSISTENT, st, NULL) == SQLITE_OK)
		return 0;
	fprintf(stderr, "bench_ingest_ceiling: preparing %s: %s\n", sql, sqlite3_errmsg(h));
	return -1;
}

static int step_done(sqlite3 *h, sqlite3_stmt *st)
{
	int step = sqlite3_step(st);
	sqlite3_reset(st);
	if (step == SQLITE_DONE)
		return 0;
	fprintf(stderr, "bench_ingest_ceiling: %s: %s\n", sqlite3_sql(st), sqlite3_errmsg(h));
	return -1;
}

int main(int argc, char **argv)
{
	size_t batch = 1000;
	int opt;
	while ((opt = getopt(argc, argv, "b:")) != -1) {
		char *end;
		if (opt == 'b' && (batch = strtoull(optarg, &end, 10)) > 0 && *end == '\0' && optarg[0] != '-')
			continue;
		fprintf(stderr, "usage: bench_ingest_ceiling [-b OBJECTS_PER_BATCH] hub.db bundle.json\n");
		return 2;
	}
	if (argc - optind != 2) {
		fprintf(stderr, "usage: bench_ingest_ceiling [-b OBJECTS_PER_BATCH] hub.db bundle.json\n");
		return 2;
	}
	const char *hub = argv[optind], *bundle = argv[optind + 1];

	/* Untimed: the rows, in memory. */
	ky_bench_rows data = {0};
	if (ky_bench_rows_load(&data, bundle, "bench_ingest_ceiling") != KY_OK) {
		ky_bench_rows_free(&data);
		return 1;
	}
	long loaded_rss = ky_bench_peak_rss_kib();

	/* The connection, as store_sqlite.c's connect() and use_wal() make it. */
	sqlite3 *h = NULL;
	sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
	sqlite3_initialize();
	if (sqlite3_open_v2(hub, &h, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK) {
		fprintf(stderr, "bench_ingest_ceiling: %s: %s\n", hub, h ? sqlite3_errmsg(h) : "out of memory");
		return 1;
	}
	sqlite3_busy_timeout(h, 10000);
	if (exec(h, "PRAGMA synchronous = FULL") || exec(h, "PRAGMA foreign_keys = ON") ||
	    exec(h, "PRAGMA cache_size = -65536") || exec(h, "PRAGMA journal_mode = WAL"))
		return 1;

	char synchronous[16], journal[16], cache[32], fkeys[8], page_size[16], schema[16], collection[32], last_seq[32],
		entries[32];
	if (query_text(h, "PRAGMA synchronous", synchronous, sizeof(synchronous)) ||
	    query_text(h, "PRAGMA journal_mode", journal, sizeof(journal)) ||
	    query_text(h, "PRAGMA cache_size", cache, sizeof(cache)) ||
	    query_text(h, "PRAGMA foreign_keys", fkeys, sizeof(fkeys)) ||
	    query_text(h, "PRAGMA page_size", page_size, sizeof(page_size)) ||
	    query_text(h, "SELECT version FROM kyoyu_schema", schema, sizeof(schema)) ||
	    query_text(h, "SELECT id FROM collections WHERE name = '" KY_STORE_DEFAULT_COLLECTION "'", collection,
		       sizeof(collection)) ||
	    query_text(h, "SELECT last_seq FROM sequence WHERE id = 1", last_seq, sizeof(last_seq)) ||
	    query_text(h, "SELECT count(*) FROM entries", entries, sizeof(entries)))
		return 1;
	if (atoi(schema) != KY_STORE_SCHEMA_VERSION || strcmp(entries, "0") != 0) {
		fprintf(stderr, "bench_ingest_ceiling: %s: want a fresh hub of schema %d (kyoyu init), found schema %s with %s entries\n",
			hub, KY_STORE_SCHEMA_VERSION, schema, entries);
		return 1;
	}
	static const char *const sync_names[] = {"OFF", "NORMAL", "FULL", "EXTRA"};
	int sync_level = atoi(synchronous);
	const char *sync_name = sync_level >= 0 && sync_level <= 3 ? sync_names[sync_level] : synchronous;

	/* The store's statements for a new version, a new addition and the counter, without the
	 * lookups around them (duplicates, the previous latest version). */
	sqlite3_stmt *insert_version = NULL, *insert_entry = NULL, *write_counter = NULL;
	if (prepare(h, &insert_version,
		    "INSERT INTO versions (stix_id, type, spec_version, modified, version_key, raw, added_us)"
		    " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)") ||
	    prepare(h, &insert_entry,
		    "INSERT INTO entries (seq, collection_id, vid, stix_id, type, version_key, date_added_us, latest)"
		    " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)") ||
	    prepare(h, &write_counter, "UPDATE sequence SET last_seq = ?1, last_date_added_us = ?2 WHERE id = 1"))
		return 1;
	int64_t collection_id = strtoll(collection, NULL, 10);
	int64_t seq = strtoll(last_seq, NULL, 10), last_date = 0;
	size_t batches = 0;

	/* Timed. */
	double start = ky_bench_now();
	for (size_t first = 0; first < data.n; first += batch) {
		size_t end = first + batch < data.n ? first + batch : data.n;
		if (exec(h, "BEGIN IMMEDIATE"))
			return 1;
		for (size_t i = first; i < end; i++) {
			const ky_bench_row *w = &data.v[i];
			int64_t t = ky_clock_now_us();
			sqlite3_stmt *st = insert_version;
			sqlite3_bind_text(st, 1, w->id, -1, SQLITE_STATIC);
			sqlite3_bind_text(st, 2, w->type, -1, SQLITE_STATIC);
			if (w->spec_version)
				sqlite3_bind_text(st, 3, w->spec_version, -1, SQLITE_STATIC);
			else
				sqlite3_bind_null(st, 3);
			sqlite3_bind_text(st, 4, w->modified, -1, SQLITE_STATIC);
			sqlite3_bind_text(st, 5, w->version_key, -1, SQLITE_STATIC);
			sqlite3_bind_blob(st, 6, w->raw, (int)w->raw_len, SQLITE_STATIC);
			sqlite3_bind_int64(st, 7, t);
			if (step_done(h, st))
				return 1;
			int64_t vid = sqlite3_last_insert_rowid(h);

			seq++;
			last_date = t > last_date ? t : last_date + 1;
			st = insert_entry;
			sqlite3_bind_int64(st, 1, seq);
			sqlite3_bind_int64(st, 2, collection_id);
			sqlite3_bind_int64(st, 3, vid);
			sqlite3_bind_text(st, 4, w->id, -1, SQLITE_STATIC);
			sqlite3_bind_text(st, 5, w->type, -1, SQLITE_STATIC);
			sqlite3_bind_text(st, 6, w->version_key, -1, SQLITE_STATIC);
			sqlite3_bind_int64(st, 7, last_date);
			sqlite3_bind_int(st, 8, 1);
			if (step_done(h, st))
				return 1;
		}
		sqlite3_bind_int64(write_counter, 1, seq);
		sqlite3_bind_int64(write_counter, 2, last_date);
		if (step_done(h, write_counter) || exec(h, "COMMIT"))
			return 1;
		batches++;
	}
	double insert_seconds = ky_bench_now() - start;
	sqlite3_finalize(insert_version);
	sqlite3_finalize(insert_entry);
	sqlite3_finalize(write_counter);
	if (sqlite3_close(h) != SQLITE_OK) {
		fprintf(stderr, "bench_ingest_ceiling: closing %s failed\n", hub);
		return 1;
	}
	double seconds = ky_bench_now() - start;

	printf("mode=ceiling objects=%zu bytes=%llu batches=%zu batch=%zu seconds=%.3f insert_seconds=%.3f "
	       "objects_per_s=%.0f peak_rss_kib=%ld loaded_rss_kib=%ld synchronous=%s journal_mode=%s cache_size=%s "
	       "foreign_keys=%s page_size=%s sqlite=%s\n",
	       data.n, data.bytes, batches, batch, seconds, insert_seconds, (double)data.n / seconds, ky_bench_peak_rss_kib(),
	       loaded_rss, sync_name, journal, cache, fkeys, page_size, sqlite3_libversion());
	ky_bench_rows_free(&data);
	return 0;
}
