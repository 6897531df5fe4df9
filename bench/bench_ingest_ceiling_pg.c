/*
 * bench_ingest_ceiling_pg: the ceiling of the ingest benchmark on PostgreSQL (bench/run-ingest).
 * It stores the rows `kyoyu import` would store, the way a bare bulk writer would: COPY into
 * both tables with the ids assigned here, nothing else, so that the import's rate can be set
 * against the rate the server allows.
 *
 *     bench_ingest_ceiling_pg [-b B] URI bundle.json
 *
 * URI is a fresh hub (`kyoyu --db URI init`). First, untimed, the whole bundle is read with
 * ky_stix_reader and each object's row prepared in memory as the store prepares it (as
 * bench_ingest_ceiling does): the bytes as received, id, type, spec_version, modified (else
 * created) as written, the fixed-width version key. Then, timed: per batch of B objects
 * (default 1000, the import's default) BEGIN; `COPY versions (vid, stix_id, type,
 * spec_version, modified, version_key, raw, added_us) FROM STDIN` with the batch's rows, vids
 * from a counter here; `COPY entries (seq, collection_id, vid, stix_id, type, version_key,
 * date_added_us, latest) FROM STDIN`, numbers from a counter here, latest = 1; one UPDATE of
 * the sequence row; COMMIT. No staging table, no lookups, no `commits` record, no
 * validation, no second thread: the same rows and indexes, the same transaction size. After
 * the timed part the vid sequence is moved past the vids used, so the hub stays usable.
 *
 * The connection is made as store_pg.c makes its own (the URI as given, client encoding
 * UTF8). The server's settings that bound a commit's cost (fsync, synchronous_commit,
 * full_page_writes, wal_level, shared_buffers) are read back and printed: the import runs on
 * the same server, so both figures are under the same settings.
 *
 * Prints one line of key=value pairs. `seconds` runs from the first BEGIN to the end of the
 * last COMMIT; peak_rss_kib (getrusage) includes the rows held in memory, loaded_rss_kib is
 * the peak before the timed part began. Exits 1 if the bundle cannot be read or holds an
 * element that is not a JSON object with an id and type, if the hub is not fresh, or if the
 * server refuses a row.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libpq-fe.h>

#include "ingest_rows.h"
#include "store/store.h"
#include "store/store_backend.h"
#include "util/ky_clock.h"
#include "util/ky_error.h"

/* --- a growing buffer of COPY text ----------------------------------------------------------- */

typedef struct buffer {
	char *p;
	size_t len, cap;
} buffer;

static void reserve(buffer *b, size_t more)
{
	if (b->cap - b->len >= more)
		return;
	size_t cap = b->cap ? b->cap : 1 << 20;
	while (cap - b->len < more)
		cap *= 2;
	char *grown = realloc(b->p, cap);
	if (grown == NULL) {
		fprintf(stderr, "bench_ingest_ceiling_pg: out of memory\n");
		exit(1);
	}
	b->p = grown;
	b->cap = cap;
}

static void put(buffer *b, const char *s, size_t n)
{
	reserve(b, n);
	memcpy(b->p + b->len, s, n);
	b->len += n;
}

/* A text field of COPY's text format: backslash, tab, newline and carriage return escaped. */
static void put_field(buffer *b, const char *s, size_t n)
{
	reserve(b, 2 * n);
	char *o = b->p + b->len;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		switch (c) {
		case '\\': *o++ = '\\'; *o++ = '\\'; break;
		case '\t': *o++ = '\\'; *o++ = 't'; break;
		case '\n': *o++ = '\\'; *o++ = 'n'; break;
		case '\r': *o++ = '\\'; *o++ = 'r'; break;
		default: *o++ = c;
		}
	}
	b->len = (size_t)(o - b->p);
}

static void put_text(buffer *b, const char *s)
{
	if (s == NULL)
		put(b, "\\N", 2);
	else
		put_field(b, s, strlen(s));
}

static void put_int(buffer *b, int64_t v)
{
	char text[24];
	int n = snprintf(text, sizeof(text), "%lld", (long long)v);
	put(b, text, (size_t)n);
}

/* --- the connection -------------------------------------------------------------------------- */

static PGconn *conn;

static void fail(const char *what, PGresult *r)
{
	fprintf(stderr, "bench_ingest_ceiling_pg: %s: %s", what, r ? PQresultErrorMessage(r) : PQerrorMessage(conn));
	exit(1);
}

static void exec(const char *sql)
{
	PGresult *r = PQexec(conn, sql);
	if (PQresultStatus(r) != PGRES_COMMAND_OK && PQresultStatus(r) != PGRES_TUPLES_OK)
		fail(sql, r);
	PQclear(r);
}

/* The first column of the first row of `sql`, into out. */
static void query_text(const char *sql, char *out, size_t size)
{
	PGresult *r = PQexec(conn, sql);
	if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) < 1)
		fail(sql, r);
	snprintf(out, size, "%s", PQgetisnull(r, 0, 0) ? "" : PQgetvalue(r, 0, 0));
	PQclear(r);
}

static void copy(const char *sql, const buffer *b)
{
	PGresult *r = PQexec(conn, sql);
	if (PQresultStatus(r) != PGRES_COPY_IN)
		fail(sql, r);
	PQclear(r);
	if (PQputCopyData(conn, b->p, (int)b->len) != 1 || PQputCopyEnd(conn, NULL) != 1)
		fail(sql, NULL);
	while ((r = PQgetResult(conn)) != NULL) {
		if (PQresultStatus(r) != PGRES_COMMAND_OK)
			fail(sql, r);
		PQclear(r);
	}
}

int main(int argc, char **argv)
{
	size_t batch = 1000;
	int opt;
	while ((opt = getopt(argc, argv, "b:")) != -1) {
		char *end;
		if (opt == 'b' && (batch = strtoull(optarg, &end, 10)) > 0 && *end == '\0' && optarg[0] != '-')
			continue;
		fprintf(stderr, "usage: bench_ingest_ceiling_pg [-b OBJECTS_PER_BATCH] URI bundle.json\n");
		return 2;
	}
	if (argc - optind != 2) {
		fprintf(stderr, "usage: bench_ingest_ceiling_pg [-b OBJECTS_PER_BATCH] URI bundle.json\n");
		return 2;
	}
	const char *uri = argv[optind], *bundle = argv[optind + 1];

	/* Untimed: the rows, in memory. */
	ky_bench_rows data = {0};
	if (ky_bench_rows_load(&data, bundle, "bench_ingest_ceiling_pg") != KY_OK) {
		ky_bench_rows_free(&data);
		return 1;
	}
	long loaded_rss = ky_bench_peak_rss_kib();

	conn = PQconnectdb(uri);
	if (PQstatus(conn) != CONNECTION_OK)
		fail("connecting", NULL);
	if (PQsetClientEncoding(conn, "UTF8") != 0)
		fail("setting the client encoding", NULL);

	char schema[16], collection[32], last_seq[32], entries[32], versions[32], fsync[16], sync_commit[16], fpw[16],
		wal_level[16], shared_buffers[32], version[32];
	query_text("SELECT version FROM kyoyu_schema", schema, sizeof(schema));
	query_text("SELECT id FROM collections WHERE name = '" KY_STORE_DEFAULT_COLLECTION "'", collection, sizeof(collection));
	query_text("SELECT last_seq FROM sequence WHERE id = 1", last_seq, sizeof(last_seq));
	query_text("SELECT count(*) FROM entries", entries, sizeof(entries));
	query_text("SELECT count(*) FROM versions", versions, sizeof(versions));
	query_text("SHOW fsync", fsync, sizeof(fsync));
	query_text("SHOW synchronous_commit", sync_commit, sizeof(sync_commit));
	query_text("SHOW full_page_writes", fpw, sizeof(fpw));
	query_text("SHOW wal_level", wal_level, sizeof(wal_level));
	query_text("SHOW shared_buffers", shared_buffers, sizeof(shared_buffers));
	query_text("SHOW server_version", version, sizeof(version));
	if (atoi(schema) != KY_STORE_SCHEMA_VERSION || strcmp(entries, "0") != 0 || strcmp(versions, "0") != 0) {
		fprintf(stderr, "bench_ingest_ceiling_pg: want a fresh hub of schema %d (kyoyu init), found schema %s with %s "
			"entries and %s versions\n",
			KY_STORE_SCHEMA_VERSION, schema, entries, versions);
		return 1;
	}
	int64_t collection_id = strtoll(collection, NULL, 10);
	int64_t seq = strtoll(last_seq, NULL, 10), vid = 0, last_date = 0;
	size_t batches = 0;
	buffer vb = {0}, eb = {0};
	char counter[128];

	/* Timed. */
	double start = ky_bench_now();
	for (size_t first = 0; first < data.n; first += batch) {
		size_t end = first + batch < data.n ? first + batch : data.n;
		vb.len = eb.len = 0;
		for (size_t i = first; i < end; i++) {
			const ky_bench_row *w = &data.v[i];
			int64_t t = ky_clock_now_us();
			vid++;
			seq++;
			last_date = t > last_date ? t : last_date + 1;
			put_int(&vb, vid);
			put(&vb, "\t", 1);
			put_text(&vb, w->id);
			put(&vb, "\t", 1);
			put_text(&vb, w->type);
			put(&vb, "\t", 1);
			put_text(&vb, w->spec_version);
			put(&vb, "\t", 1);
			put_text(&vb, w->modified);
			put(&vb, "\t", 1);
			put_text(&vb, w->version_key);
			put(&vb, "\t", 1);
			put_field(&vb, w->raw, w->raw_len);
			put(&vb, "\t", 1);
			put_int(&vb, t);
			put(&vb, "\n", 1);

			put_int(&eb, seq);
			put(&eb, "\t", 1);
			put_int(&eb, collection_id);
			put(&eb, "\t", 1);
			put_int(&eb, vid);
			put(&eb, "\t", 1);
			put_text(&eb, w->id);
			put(&eb, "\t", 1);
			put_text(&eb, w->type);
			put(&eb, "\t", 1);
			put_text(&eb, w->version_key);
			put(&eb, "\t", 1);
			put_int(&eb, last_date);
			put(&eb, "\t1\n", 3);
		}
		exec("BEGIN");
		copy("COPY versions (vid, stix_id, type, spec_version, modified, version_key, raw, added_us) FROM STDIN", &vb);
		copy("COPY entries (seq, collection_id, vid, stix_id, type, version_key, date_added_us, latest) FROM STDIN", &eb);
		snprintf(counter, sizeof(counter), "UPDATE sequence SET last_seq = %lld, last_date_added_us = %lld WHERE id = 1",
			 (long long)seq, (long long)last_date);
		exec(counter);
		exec("COMMIT");
		batches++;
	}
	double seconds = ky_bench_now() - start;

	/* Untimed: the vid sequence past the vids used, as nextval() would have left it. */
	char setval[160];
	snprintf(setval, sizeof(setval), "SELECT setval(pg_get_serial_sequence('versions', 'vid'), %lld)", (long long)vid);
	exec(setval);
	PQfinish(conn);

	printf("mode=ceiling objects=%zu bytes=%llu batches=%zu batch=%zu seconds=%.3f objects_per_s=%.0f "
	       "peak_rss_kib=%ld loaded_rss_kib=%ld fsync=%s synchronous_commit=%s full_page_writes=%s wal_level=%s "
	       "shared_buffers=%s postgresql=%s\n",
	       data.n, data.bytes, batches, batch, seconds, (double)data.n / seconds, ky_bench_peak_rss_kib(), loaded_rss, fsync,
	       sync_commit, fpw, wal_level, shared_buffers, version);
	free(vb.p);
	free(eb.p);
	ky_bench_rows_free(&data);
	return 0;
}
