/*
 * test_store: the store (src/store/store.h) on the backend under test — opening and creating
 * a hub, batches (stored, duplicate, abort, exact bytes), the sequence guarantee (numbers and
 * date_added unique and increasing, also with four writers and a polling reader at once),
 * queries (ids, types, spec_version, first/last/all/named versions, hub-wide, after, keyset
 * pages), statistics, the integrity check, and migrations from an empty hub, from schema 1
 * (tests/data/store/hub-schema-1.sql, the first argument, for SQLite; hub-schema-1.pg.sql,
 * the second, for PostgreSQL), from schema 2 (a new hub without schema 3's tables) and
 * from a newer hub; removals (last, first, named versions, spec_version, the `latest` mark
 * moved, the record of who removed what) and Add Objects requests (claims, leases, outcomes,
 * completion, connections claiming at once, fencing tokens, outcomes that are not UTF-8, the
 * claim limit, completing as failed, migration from schema 4); on PostgreSQL, writes whose
 * connection is cut after COMMIT; and that no message shows a URI's password. Users, keys
 * and secrets (schema 3) are tested with src/auth/ in tests/unit/auth/test_auth.c; here,
 * that a migrated hub has its secretariat (schema 6), with the old hub's users as its
 * admins.
 *
 * The backend is SQLite, or PostgreSQL with KY_TEST_BACKEND=postgresql (scripts/test runs
 * the suite both ways; tests/support/ky_test_hub.h). Every test gets its own directory under
 * /tmp (mkdtemp) and its own hubs (files there, or fresh databases of the test cluster), and
 * removes them in its teardown. What the tests check of the database beside the store (a
 * foreign table, the schema, a lock held by another writer) they do with sqlite3 or libpq,
 * whichever the backend is; the few that concern SQLite files only say so and are skipped
 * on PostgreSQL.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <libpq-fe.h>
#include <sqlite3.h>

#include "ky_test_hub.h"
#include "store/store.h"
#include "store/store_audit.h"
#include "store/store_backend.h"
#include "store/store_council.h"
#include "util/ky_clock.h"
#include "util/ky_error.h"

static const char *schema1_sql_path;    /* argv[1]: the SQLite fixture */
static const char *schema1_pg_sql_path; /* argv[2]: the PostgreSQL one */

/* Who the tests' users and keys are made by: the operator. */
static const ky_store_actor operator = {.via = "test_store"};

/* --- fixture: a directory and a hub location ------------------------------------------------- */

enum { MAX_LOCATIONS = 64, LOCATION_MAX = 512 };

typedef struct fx {
	char dir[64];
	char path[LOCATION_MAX]; /* the test's hub: a file in dir, or a PostgreSQL URI */
	ky_store *s;
	int64_t dflt; /* the default collection's id */
	char more[MAX_LOCATIONS][LOCATION_MAX]; /* other hubs the test made (new_location) */
	int nmore;
} fx;

static bool pg(void)
{
	return ky_test_hub_is_pg();
}

static int setup(void **state)
{
	fx *f = calloc(1, sizeof(*f));
	if (f == NULL)
		return -1;
	snprintf(f->dir, sizeof(f->dir), "/tmp/ky-test-store-XXXXXX");
	if (mkdtemp(f->dir) == NULL) {
		free(f);
		return -1;
	}
	if (ky_test_hub_location(f->path, sizeof(f->path), f->dir, "hub.db") != 0) {
		rmdir(f->dir);
		free(f);
		return -1;
	}
	*state = f;
	return 0;
}

/* A location for another hub, named `name` (a file in the test's directory, or a new
 * database), into out; dropped at teardown. */
static void new_location(fx *f, const char *name, char out[LOCATION_MAX])
{
	assert_true(f->nmore < MAX_LOCATIONS);
	assert_int_equal(ky_test_hub_location(out, LOCATION_MAX, f->dir, name), 0);
	snprintf(f->more[f->nmore++], LOCATION_MAX, "%s", out);
}

static int teardown(void **state)
{
	fx *f = *state;
	ky_clock_test_offset(0);
	ky_store_close(f->s);
	ky_test_hub_drop(f->path);
	for (int i = 0; i < f->nmore; i++)
		ky_test_hub_drop(f->more[i]);
	ky_test_remove_dir(f->dir);
	free(f);
	return 0;
}

static int64_t collection_id(ky_store *s, const char *name)
{
	ky_store_collection c;
	assert_int_equal(ky_store_collection_find(s, name, &c), KY_OK);
	int64_t id = c.id;
	ky_store_collection_clear(&c);
	return id;
}

/* Creates the hub at f->path and keeps it open in f->s. */
static void open_new(fx *f)
{
	ky_store_options options = {.create = true};
	bool created = false;
	assert_int_equal(ky_store_open(&f->s, f->path, &options, &created), KY_OK);
	assert_true(created);
	f->dflt = collection_id(f->s, KY_STORE_DEFAULT_COLLECTION);
}

static bool file_exists(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0;
}

/* A connection to a PostgreSQL hub beside the store's. */
static PGconn *pg_connect(const char *uri)
{
	PGconn *conn = PQconnectdb(uri);
	if (PQstatus(conn) != CONNECTION_OK)
		fail_msg("%s: %s", uri, PQerrorMessage(conn));
	return conn;
}

/* Runs SQL (one statement or several) on the hub directly, bypassing the store. */
static void raw_exec(const char *path, const char *sql)
{
	if (pg()) {
		PGconn *conn = pg_connect(path);
		PGresult *r = PQexec(conn, sql);
		if (PQresultStatus(r) != PGRES_COMMAND_OK && PQresultStatus(r) != PGRES_TUPLES_OK)
			fail_msg("%s: %s", sql, PQresultErrorMessage(r));
		PQclear(r);
		PQfinish(conn);
		return;
	}
	sqlite3 *h = NULL;
	assert_int_equal(sqlite3_open(path, &h), SQLITE_OK);
	char *message = NULL;
	int rc = sqlite3_exec(h, sql, NULL, NULL, &message);
	if (rc != SQLITE_OK)
		fail_msg("%s: %s", sql, message ? message : "?");
	sqlite3_close(h);
}

/* One text value from the hub directly ("" for none), into out. */
static void raw_text(const char *path, const char *sql, char *out, size_t n)
{
	out[0] = '\0';
	if (pg()) {
		PGconn *conn = pg_connect(path);
		PGresult *r = PQexec(conn, sql);
		if (PQresultStatus(r) != PGRES_TUPLES_OK)
			fail_msg("%s: %s", sql, PQresultErrorMessage(r));
		if (PQntuples(r) > 0 && !PQgetisnull(r, 0, 0))
			snprintf(out, n, "%s", PQgetvalue(r, 0, 0));
		PQclear(r);
		PQfinish(conn);
		return;
	}
	sqlite3 *h = NULL;
	sqlite3_stmt *st = NULL;
	assert_int_equal(sqlite3_open(path, &h), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(h, sql, -1, &st, NULL), SQLITE_OK);
	if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_text(st, 0) != NULL)
		snprintf(out, n, "%s", (const char *)sqlite3_column_text(st, 0));
	sqlite3_finalize(st);
	sqlite3_close(h);
}

/* How many tables, indexes and the like the hub's database holds (SQLite: sqlite_master;
 * PostgreSQL: relations in the schema kyoyu creates its tables in). */
static int object_count(const char *path)
{
	char text[32];
	raw_text(path,
		 pg() ? "SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
			" WHERE n.nspname = current_schema()"
		      : "SELECT count(*) FROM sqlite_master",
		 text, sizeof(text));
	return atoi(text);
}

/* Appends the rows of `sql` ($1 = except, a comma-separated list of tables), one line each
 * with whitespace dropped, to out. */
static void pg_schema_rows(PGconn *conn, const char *sql, const char *except, char *out, size_t cap, size_t *len)
{
	PGresult *r = PQexecParams(conn, sql, strstr(sql, "$1") ? 1 : 0, NULL, &except, NULL, NULL, 0);
	if (PQresultStatus(r) != PGRES_TUPLES_OK)
		fail_msg("%s: %s", sql, PQresultErrorMessage(r));
	for (int i = 0; i < PQntuples(r); i++) {
		for (const char *p = PQgetvalue(r, i, 0); *p; p++)
			if (*p != ' ' && *p != '\n' && *p != '\t' && *len + 2 < cap)
				out[(*len)++] = *p;
		out[(*len)++] = '\n';
	}
	PQclear(r);
}

/* The schema of a PostgreSQL hub: its tables' columns (type, collation, null, default), its
 * indexes, constraints and sequences, every one but those of the tables in `except` (a
 * comma-separated list), in order. */
static char *pg_schema_of(const char *uri, const char *except)
{
	size_t cap = 1 << 16, len = 0;
	char *out = calloc(1, cap);
	assert_non_null(out);
	PGconn *conn = pg_connect(uri);
	pg_schema_rows(conn,
		       "SELECT table_name || ' ' || column_name || ' ' || data_type || ' ' || coalesce(collation_name, '')"
		       " || ' ' || is_nullable || ' ' || coalesce(column_default, '') FROM information_schema.columns"
		       " WHERE table_schema = current_schema() AND table_name <> ALL (string_to_array($1, ','))"
		       " ORDER BY table_name, ordinal_position",
		       except, out, cap, &len);
	pg_schema_rows(conn,
		       "SELECT indexdef FROM pg_indexes WHERE schemaname = current_schema()"
		       " AND tablename <> ALL (string_to_array($1, ','))"
		       " ORDER BY indexname",
		       except, out, cap, &len);
	pg_schema_rows(conn,
		       "SELECT conrelid::regclass || ' ' || conname || ' ' || pg_get_constraintdef(oid) FROM pg_constraint"
		       " WHERE connamespace = current_schema()::regnamespace"
		       " AND conrelid::regclass::text <> ALL (string_to_array($1, ','))"
		       " ORDER BY conrelid::regclass::text, conname",
		       except, out, cap, &len);
	pg_schema_rows(conn,
		       /* A table's serial columns' sequences are named after it (users_id_seq). */
		       "SELECT sequence_name || ' ' || data_type FROM information_schema.sequences"
		       " WHERE sequence_schema = current_schema()"
		       " AND NOT EXISTS (SELECT 1 FROM unnest(string_to_array($1, ',')) t WHERE sequence_name LIKE t || '\\_%')"
		       " ORDER BY sequence_name",
		       except, out, cap, &len);
	PQfinish(conn);
	return out;
}

/* The schema of a hub (SQLite: sqlite_master, every row but those of the tables in `except`,
 * a comma-separated list, whitespace dropped), in order. */
static char *schema_of(const char *path, const char *except)
{
	if (pg())
		return pg_schema_of(path, except ? except : "");
	sqlite3 *h = NULL;
	sqlite3_stmt *st = NULL;
	assert_int_equal(sqlite3_open(path, &h), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(h,
					    "SELECT type || ' ' || name || ' ' || tbl_name || ' ' || coalesce(sql, '') FROM sqlite_master"
					    " WHERE instr(',' || ?1 || ',', ',' || tbl_name || ',') = 0 ORDER BY type, name",
					    -1, &st, NULL),
			 SQLITE_OK);
	sqlite3_bind_text(st, 1, except ? except : "", -1, SQLITE_STATIC);
	size_t cap = 1 << 16, len = 0;
	char *out = calloc(1, cap);
	assert_non_null(out);
	while (sqlite3_step(st) == SQLITE_ROW) {
		for (const char *p = (const char *)sqlite3_column_text(st, 0); *p; p++)
			if (*p != ' ' && *p != '\n' && *p != '\t' && len + 2 < cap)
				out[len++] = *p;
		out[len++] = '\n';
	}
	sqlite3_finalize(st);
	sqlite3_close(h);
	return out;
}

/* --- objects and batches ------------------------------------------------------------------- */

#define IND1 "indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f"
#define IND2 "indicator--26ffb872-1dd9-446e-b6f5-d58527e5b5d2"
#define MAL1 "malware--31b940d4-6f7f-459a-80ea-9c1f17b58abc"
#define SCO1 "ipv4-addr--ff26c055-6336-5bc5-b98d-13d6226742dd"
#define MARK1 "marking-definition--34098fce-860f-48ae-8e50-ebd3cc5e41da"

/* An SDO in a buffer of the caller's. */
static const char *sdo(char *buf, size_t n, const char *type, const char *id, const char *modified)
{
	snprintf(buf, n,
		 "{\"type\": \"%s\", \"spec_version\": \"2.1\", \"id\": \"%s\", \"created\": \"2016-04-06T20:03:48.000Z\","
		 " \"modified\": \"%s\", \"name\": \"x\"}",
		 type, id, modified);
	return buf;
}

static int add(ky_store_batch *b, const char *raw)
{
	json_error_t e;
	json_t *o = json_loadb(raw, strlen(raw), 0, &e);
	if (o == NULL)
		fail_msg("bad JSON in the test: %s: %s", e.text, raw);
	int rc = ky_store_batch_add(b, raw, strlen(raw), o, &ky_test_access);
	json_decref(o);
	return rc;
}

/* Commits raws[0..n) to collection coll in one batch; KY_OK expected. */
static void commit(ky_store *s, int64_t coll, const char *const *raws, size_t n, ky_store_status *statuses,
		   uint64_t *seqs)
{
	ky_store_batch *b = NULL;
	assert_int_equal(ky_store_batch_begin(s, coll, &b), KY_OK);
	for (size_t i = 0; i < n; i++)
		assert_int_equal(add(b, raws[i]), (int)i);
	int rc = ky_store_batch_commit(b, statuses, seqs);
	if (rc != KY_OK)
		fail_msg("commit: %s", ky_error_last());
}

static void commit1(ky_store *s, int64_t coll, const char *raw, ky_store_status *status, uint64_t *seq)
{
	commit(s, coll, &raw, 1, status, seq);
}

/* --- query results ------------------------------------------------------------------------- */

typedef struct row {
	uint64_t seq;
	int64_t date;
	char *id, *type, *spec_version, *modified, *raw;
	size_t raw_len;
} row;

typedef struct rows {
	row *v;
	size_t n, cap;
	size_t stop_at;  /* stop after this many rows (0: never) */
	int stop_code;   /* with this return value */
} rows;

static char *dup_or_null(const char *s)
{
	return s ? strdup(s) : NULL;
}

static int collect(void *ctx, const ky_store_row *r)
{
	rows *rs = ctx;
	if (rs->n == rs->cap) {
		rs->cap = rs->cap ? rs->cap * 2 : 16;
		rs->v = realloc(rs->v, rs->cap * sizeof(*rs->v));
		assert_non_null(rs->v);
	}
	row *w = &rs->v[rs->n++];
	w->seq = r->seq;
	w->date = r->date_added_us;
	w->id = dup_or_null(r->id);
	w->type = dup_or_null(r->type);
	w->spec_version = dup_or_null(r->spec_version);
	w->modified = dup_or_null(r->modified);
	w->raw = malloc(r->raw_len + 1);
	memcpy(w->raw, r->raw, r->raw_len);
	w->raw[r->raw_len] = '\0';
	w->raw_len = r->raw_len;
	return rs->stop_at && rs->n == rs->stop_at ? rs->stop_code : 0;
}

static void rows_clear(rows *rs)
{
	for (size_t i = 0; i < rs->n; i++) {
		free(rs->v[i].id);
		free(rs->v[i].type);
		free(rs->v[i].spec_version);
		free(rs->v[i].modified);
		free(rs->v[i].raw);
	}
	free(rs->v);
	memset(rs, 0, sizeof(*rs));
}

/* Runs q (KY_OK expected) into a fresh rs. */
static void run(ky_store *s, const ky_store_query *q, rows *rs, ky_store_page *page)
{
	rows_clear(rs);
	int rc = ky_store_query_run(s, q, collect, rs, page);
	if (rc != KY_OK)
		fail_msg("query: %s", ky_error_last());
}

/* The rows' "id@modified", comma-separated, in order: a compact thing to compare. */
static const char *summary(const rows *rs)
{
	static char out[4096];
	size_t len = 0;
	out[0] = '\0';
	for (size_t i = 0; i < rs->n; i++)
		len += (size_t)snprintf(out + len, sizeof(out) - len, "%s%s@%s", i ? "," : "", rs->v[i].id,
					rs->v[i].modified);
	return out;
}

/* --- opening and creating ----------------------------------------------------------------- */

/* No hub: on SQLite no file (or an empty one), on PostgreSQL an empty database. */
static void test_open_missing_without_create(void **state)
{
	fx *f = *state;
	ky_store *s = (ky_store *)1;
	bool created = true;
	assert_int_equal(ky_store_open(&s, f->path, NULL, &created), KY_ENOTFOUND);
	assert_null(s);
	assert_false(created);
	assert_non_null(strstr(ky_error_last(), "kyoyu init"));
	if (pg())
		assert_int_equal(object_count(f->path), 0);
	else
		assert_false(file_exists(f->path));

	if (!pg()) {
		/* An empty file is no hub either, and stays empty. */
		FILE *empty = fopen(f->path, "w");
		fclose(empty);
		assert_int_equal(ky_store_open(&s, f->path, NULL, NULL), KY_ENOTFOUND);
		assert_non_null(strstr(ky_error_last(), "kyoyu init"));
		unlink(f->path);
	}

	/* migrate does not create one. */
	int from = -5, to = -5;
	assert_int_equal(ky_store_migrate(f->path, &from, &to), KY_ENOTFOUND);
	assert_non_null(strstr(ky_error_last(), "kyoyu init"));
	if (pg())
		assert_int_equal(object_count(f->path), 0);
	else
		assert_false(file_exists(f->path));
}

static int count_collection(void *ctx, const ky_store_collection *c)
{
	(void)c;
	(*(int *)ctx)++;
	return 0;
}

static void test_create_then_reopen(void **state)
{
	fx *f = *state;
	open_new(f);
	assert_int_equal(ky_store_schema_version(f->s), KY_STORE_SCHEMA_VERSION);

	ky_store_collection c;
	assert_int_equal(ky_store_collection_find(f->s, KY_STORE_DEFAULT_COLLECTION, &c), KY_OK);
	assert_int_equal(strlen(c.uuid), 36);
	for (int i = 0; i < 36; i++) {
		if (i == 8 || i == 13 || i == 18 || i == 23)
			assert_int_equal(c.uuid[i], '-');
		else
			assert_non_null(strchr("0123456789abcdef", c.uuid[i]));
	}
	assert_int_equal(c.uuid[14], '4'); /* version 4 */
	assert_non_null(strchr("89ab", c.uuid[19]));
	assert_string_equal(c.name, "default");
	assert_non_null(c.title);
	char uuid[37];
	memcpy(uuid, c.uuid, sizeof(uuid));
	int64_t id = c.id;
	ky_store_collection_clear(&c);

	/* Found by UUID too; unknown names are KY_ENOTFOUND. */
	assert_int_equal(ky_store_collection_find(f->s, uuid, &c), KY_OK);
	assert_int_equal(c.id, id);
	ky_store_collection_clear(&c);
	assert_int_equal(ky_store_collection_find(f->s, "nope", &c), KY_ENOTFOUND);

	/* Collections: a second one, a duplicate name, the list in name order. */
	assert_int_equal(ky_store_collection_create(f->s, NULL, "alpha", "Alpha", NULL, &c), KY_OK);
	assert_int_not_equal(c.id, id);
	assert_null(c.description);
	ky_store_collection_clear(&c);
	assert_int_equal(ky_store_collection_create(f->s, NULL, "alpha", "Again", "x", NULL), KY_EEXISTS);
	int n = 0;
	assert_int_equal(ky_store_collection_list(f->s, count_collection, &n), KY_OK);
	/* With the workflow's exchange and countermeasures (store_reports.h). */
	assert_int_equal(n, 4);

	/* A given id (kyoyu collection create --id) is kept; one in use, or not a lowercase
	 * UUID, is refused and changes nothing. */
	const char *moved = "3a5b9c2e-1f4d-5e6a-8b7c-0d1e2f3a4b5c";
	assert_int_equal(ky_store_collection_create(f->s, moved, "moved", "Moved", NULL, &c), KY_OK);
	assert_string_equal(c.uuid, moved);
	ky_store_collection_clear(&c);
	assert_int_equal(ky_store_collection_find(f->s, moved, &c), KY_OK);
	assert_string_equal(c.name, "moved");
	ky_store_collection_clear(&c);
	assert_int_equal(ky_store_collection_create(f->s, moved, "other", "Other", NULL, NULL), KY_EEXISTS);
	assert_non_null(strstr(ky_error_last(), "collection moved has the id"));
	assert_int_equal(ky_store_collection_create(f->s, uuid, "other", "Other", NULL, NULL), KY_EEXISTS);
	assert_int_equal(ky_store_collection_create(f->s, "3A5B9C2E-1F4D-5E6A-8B7C-0D1E2F3A4B5D", "other", "Other", NULL,
						    NULL),
			 KY_EINVALID);
	assert_int_equal(ky_store_collection_create(f->s, "3a5b9c2e-1f4d-5e6a-8b7c-0d1e2f3a4b5", "other", "Other", NULL,
						    NULL),
			 KY_EINVALID);
	n = 0;
	assert_int_equal(ky_store_collection_list(f->s, count_collection, &n), KY_OK);
	assert_int_equal(n, 5);

	/* Again, with and without create: the same hub. */
	ky_store_close(f->s);
	f->s = NULL;
	bool created = true;
	ky_store_options options = {.create = true};
	assert_int_equal(ky_store_open(&f->s, f->path, &options, &created), KY_OK);
	assert_false(created);
	ky_store_close(f->s);
	f->s = NULL;
	created = true;
	assert_int_equal(ky_store_open(&f->s, f->path, NULL, &created), KY_OK);
	assert_false(created);
	assert_int_equal(ky_store_collection_find(f->s, KY_STORE_DEFAULT_COLLECTION, &c), KY_OK);
	assert_string_equal(c.uuid, uuid);
	assert_int_equal(c.id, id);
	ky_store_collection_clear(&c);
	n = 0;
	assert_int_equal(ky_store_collection_list(f->s, count_collection, &n), KY_OK);
	assert_int_equal(n, 5);
	assert_int_equal(ky_store_check(f->s), KY_OK);

	/* migrate on a current hub changes nothing and says so. */
	int from = 0, to = 0;
	assert_int_equal(ky_store_migrate(f->path, &from, &to), KY_OK);
	assert_int_equal(from, KY_STORE_SCHEMA_VERSION);
	assert_int_equal(to, KY_STORE_SCHEMA_VERSION);
}

static void test_open_refuses_other_files(void **state)
{
	fx *f = *state;
	/* A database that is not a hub (it has a table of someone else's): refused with and
	 * without create, and left as it was. */
	raw_exec(f->path, "CREATE TABLE notes (x TEXT); INSERT INTO notes VALUES ('keep me');");
	ky_store *s = NULL;
	ky_store_options options = {.create = true};
	assert_int_equal(ky_store_open(&s, f->path, NULL, NULL), KY_EINVALID);
	assert_non_null(strstr(ky_error_last(), "not a kyoyu hub"));
	assert_int_equal(ky_store_open(&s, f->path, &options, NULL), KY_EINVALID);
	assert_null(s);
	int from = 0, to = 0;
	assert_int_equal(ky_store_migrate(f->path, &from, &to), KY_EINVALID);
	char text[64];
	raw_text(f->path, "SELECT x FROM notes", text, sizeof(text));
	assert_string_equal(text, "keep me");
	assert_int_equal(object_count(f->path), 1);

	/* A PostgreSQL URI goes to that backend, which says it cannot reach a server that is
	 * not there, naming the URI. */
	const char *nowhere = "postgresql://postgres@/kyoyu?host=/nonexistent-kyoyu-socket-dir";
	assert_int_equal(ky_store_open(&s, nowhere, NULL, NULL), KY_ERROR);
	assert_non_null(strstr(ky_error_last(), "cannot connect"));
	assert_non_null(strstr(ky_error_last(), nowhere));
	assert_int_equal(ky_store_migrate(nowhere, NULL, NULL), KY_ERROR);
}

/* A file that is not an SQLite database at all is refused as not a hub (KY_EINVALID), and
 * left as it was. */
static void test_open_refuses_text_file(void **state)
{
	fx *f = *state;
	/* SQLite only: a PostgreSQL hub is a database in a server, never a file kyoyu opens. */
	if (pg())
		skip();
	FILE *out = fopen(f->path, "w");
	const char *text = "this is not a database, it is a note about one, long enough to be read as a header\n";
	fputs(text, out);
	fclose(out);
	ky_store *s = NULL;
	ky_store_options options = {.create = true};
	assert_int_equal(ky_store_open(&s, f->path, NULL, NULL), KY_EINVALID);
	assert_int_equal(ky_store_open(&s, f->path, &options, NULL), KY_EINVALID);
	assert_int_equal(ky_store_migrate(f->path, NULL, NULL), KY_EINVALID);
	char back[256] = {0};
	FILE *in = fopen(f->path, "r");
	assert_non_null(fgets(back, sizeof(back), in));
	fclose(in);
	assert_string_equal(back, text);
}

/* Refusing a database that is not a hub leaves it as it was: not even its journal mode
 * changes (connect() turned it to WAL, a persistent change to someone else's file). */
static void test_open_leaves_foreign_database_alone(void **state)
{
	fx *f = *state;
	/* SQLite only: the journal mode is a property of an SQLite file. That refusing a
	 * PostgreSQL database leaves its tables alone is test_open_refuses_other_files. */
	if (pg())
		skip();
	raw_exec(f->path, "CREATE TABLE notes (x TEXT);");
	char mode[32];
	raw_text(f->path, "PRAGMA journal_mode", mode, sizeof(mode));
	assert_string_equal(mode, "delete");
	ky_store *s = NULL;
	assert_int_equal(ky_store_open(&s, f->path, NULL, NULL), KY_EINVALID);
	assert_int_equal(ky_store_migrate(f->path, NULL, NULL), KY_EINVALID);
	raw_text(f->path, "PRAGMA journal_mode", mode, sizeof(mode));
	assert_string_equal(mode, "delete");
}

/* --- batches ------------------------------------------------------------------------------ */

/* Commits one version as `provider` (any_object: the secretariat's right) naming `creator`,
 * readable by `key`; its status. */
static ky_store_status commit_as(ky_store *s, int64_t coll, const char *raw, int64_t provider, bool any_object,
				 int64_t creator, const char *key)
{
	const char *keys[] = {key};
	ky_store_access access = {.provider = provider, .any_object = any_object, .creator = creator, .keys = keys, .nkeys = 1};
	json_t *o = json_loads(raw, 0, NULL);
	ky_store_batch *b = NULL;
	assert_int_equal(ky_store_batch_begin(s, coll, &b), KY_OK);
	assert_int_equal(ky_store_batch_add(b, raw, strlen(raw), o, &access), 0);
	json_decref(o);
	ky_store_status st = 99;
	if (ky_store_batch_commit(b, &st, NULL) != KY_OK)
		fail_msg("commit: %s", ky_error_last());
	return st;
}

/* An object's versions come from its provider (the member of its first version) or the
 * secretariat, whoever else tries; in one batch as across batches; and a member removes only
 * the versions it provided. */
static void test_versions_from_the_provider(void **state)
{
	fx *f = *state;
	open_new(f);
	ky_store_member a = {.tier = KY_TIER_CONTRIBUTOR}, b = {.tier = KY_TIER_GENERAL}, sec;
	snprintf(a.name, sizeof(a.name), "vendor-a");
	snprintf(a.title, sizeof(a.title), "Vendor A");
	snprintf(b.name, sizeof(b.name), "water-b");
	snprintf(b.title, sizeof(b.title), "Water B");
	assert_int_equal(ky_store_member_add(f->s, &a, &operator, "test", &a), KY_OK);
	assert_int_equal(ky_store_member_add(f->s, &b, &operator, "test", &b), KY_OK);
	assert_int_equal(ky_store_secretariat_ensure(f->s, &operator, &sec), KY_OK);
	char v1[512], v2[512], v3[512], v4[512];
	sdo(v1, sizeof(v1), "indicator", IND1, "2016-01-01T00:00:00.000Z");
	sdo(v2, sizeof(v2), "indicator", IND1, "2016-02-01T00:00:00.000Z");
	sdo(v3, sizeof(v3), "indicator", IND1, "2016-03-01T00:00:00.000Z");
	sdo(v4, sizeof(v4), "indicator", IND1, "2016-04-01T00:00:00.000Z");
	assert_int_equal(commit_as(f->s, f->dflt, v1, a.id, false, a.id, "*"), KY_STORE_STORED);
	assert_int_equal(commit_as(f->s, f->dflt, v2, b.id, false, 0, "*"), KY_STORE_NOT_PROVIDER);
	/* Not even the very version the provider sent. */
	assert_int_equal(commit_as(f->s, f->dflt, v1, b.id, false, 0, "*"), KY_STORE_NOT_PROVIDER);
	/* The secretariat versions a's object, which stays a's: named as a's, read by a. */
	assert_int_equal(commit_as(f->s, f->dflt, v3, sec.id, true, b.id, "x"), KY_STORE_NOT_CREATOR);
	assert_int_equal(commit_as(f->s, f->dflt, v3, sec.id, true, a.id, "x"), KY_STORE_STORED);
	assert_int_equal(commit_as(f->s, f->dflt, v4, a.id, false, 0, "*"), KY_STORE_STORED);
	char key_a[32];
	snprintf(key_a, sizeof(key_a), KY_STORE_MEMBER_KEY, (long long)a.id);
	const char *a_keys[] = {key_a}, *other_keys[] = {"y"};
	ky_store_scope as_member_a = {.keys = a_keys, .nkeys = 1}, as_other = {.keys = other_keys, .nkeys = 1};
	rows seen = {0};
	ky_store_query mine = {.scope = &as_member_a, .collection_id = f->dflt, .versions = KY_STORE_ALL};
	run(f->s, &mine, &seen, NULL);
	assert_int_equal(seen.n, 1);
	assert_string_equal(seen.v[0].modified, "2016-03-01T00:00:00.000Z");
	mine.scope = &as_other;
	run(f->s, &mine, &seen, NULL);
	assert_int_equal(seen.n, 0);
	rows_clear(&seen);
	/* Nobody attributes a new object to another member, the secretariat included. */
	char n1[512];
	sdo(n1, sizeof(n1), "indicator", IND2, "2016-01-01T00:00:00.000Z");
	assert_int_equal(commit_as(f->s, f->dflt, n1, sec.id, true, b.id, "*"), KY_STORE_NOT_CREATOR);

	/* A new object's first copy in a batch makes its provider. */
	char w1[512], w2[512];
	sdo(w1, sizeof(w1), "malware", MAL1, "2016-01-01T00:00:00.000Z");
	sdo(w2, sizeof(w2), "malware", MAL1, "2016-02-01T00:00:00.000Z");
	static const char *const community[] = {"*"};
	ky_store_access as_a = {.provider = a.id, .keys = community, .nkeys = 1}, as_b = as_a;
	as_b.provider = b.id;
	ky_store_batch *batch = NULL;
	assert_int_equal(ky_store_batch_begin(f->s, f->dflt, &batch), KY_OK);
	json_t *o1 = json_loads(w1, 0, NULL), *o2 = json_loads(w2, 0, NULL);
	assert_int_equal(ky_store_batch_add(batch, w1, strlen(w1), o1, &as_b), 0);
	assert_int_equal(ky_store_batch_add(batch, w2, strlen(w2), o2, &as_a), 1);
	json_decref(o1);
	json_decref(o2);
	ky_store_status st[2];
	assert_int_equal(ky_store_batch_commit(batch, st, NULL), KY_OK);
	assert_int_equal(st[0], KY_STORE_STORED);
	assert_int_equal(st[1], KY_STORE_NOT_PROVIDER);
	/* Without access nothing is added. */
	assert_int_equal(ky_store_batch_begin(f->s, f->dflt, &batch), KY_OK);
	o1 = json_loads(w1, 0, NULL);
	assert_int_equal(ky_store_batch_add(batch, w1, strlen(w1), o1, NULL), KY_EINVALID);
	json_decref(o1);
	ky_store_batch_abort(batch);

	/* A member removes its own object's versions only (the secretariat's version of it is
	 * its own too). */
	uint64_t removed = 99;
	assert_int_equal(ky_store_remove(f->s, f->dflt, IND1, 0, NULL, 0, NULL, 0, b.id, 0, &removed), KY_OK);
	assert_int_equal(removed, 0);
	assert_int_equal(ky_store_remove(f->s, f->dflt, IND1, 0, NULL, 0, NULL, 0, a.id, 0, &removed), KY_OK);
	assert_int_equal(removed, 3);
	rows rs = {0};
	ky_store_query q = {.scope = &ky_store_operator_scope, .collection_id = f->dflt, .ids = (const char *[]){IND1}, .nids = 1,
			    .versions = KY_STORE_ALL};
	run(f->s, &q, &rs, NULL);
	assert_int_equal(rs.n, 0);
	rows_clear(&rs);
}

/* A version's shared form (ky_store_access.shared) is what viewers other than its provider
 * read; its provider and the operator read what was submitted. */
static void test_shared_form_for_other_readers(void **state)
{
	fx *f = *state;
	open_new(f);
	ky_store_member a = {.tier = KY_TIER_CONTRIBUTOR};
	snprintf(a.name, sizeof(a.name), "vendor-a");
	snprintf(a.title, sizeof(a.title), "Vendor A");
	assert_int_equal(ky_store_member_add(f->s, &a, &operator, "test", &a), KY_OK);
	char raw[512], shared[512];
	sdo(raw, sizeof(raw), "indicator", IND1, "2016-01-01T00:00:00.000Z");
	snprintf(shared, sizeof(shared), "{\"id\": \"%s\", \"shared\": true}", IND1);
	static const char *const community[] = {"*"};
	ky_store_access access = {.provider = a.id, .keys = community, .nkeys = 1, .shared = shared};
	json_t *o = json_loads(raw, 0, NULL);
	ky_store_batch *b = NULL;
	assert_int_equal(ky_store_batch_begin(f->s, f->dflt, &b), KY_OK);
	assert_int_equal(ky_store_batch_add(b, raw, strlen(raw), o, &access), 0);
	json_decref(o);
	ky_store_status st;
	assert_int_equal(ky_store_batch_commit(b, &st, NULL), KY_OK);
	assert_int_equal(st, KY_STORE_STORED);
	char own[32];
	snprintf(own, sizeof(own), KY_STORE_MEMBER_KEY, (long long)a.id);
	const char *provider_keys[] = {"*", own}, *other_keys[] = {"*"};
	ky_store_scope provider = {.keys = provider_keys, .nkeys = 2}, other = {.keys = other_keys, .nkeys = 1};
	const ky_store_scope *scopes[] = {&ky_store_operator_scope, &provider, &other};
	const char *expected[] = {raw, raw, shared};
	for (size_t i = 0; i < 3; i++) {
		rows rs = {0};
		/* Collection pages, by id, and hub-wide. */
		ky_store_query pages = {.scope = scopes[i], .collection_id = f->dflt};
		ky_store_query by_id = {.scope = scopes[i], .collection_id = f->dflt, .ids = (const char *[]){IND1}, .nids = 1};
		ky_store_query hub = {.scope = scopes[i]};
		const ky_store_query *queries[] = {&pages, &by_id, &hub};
		for (size_t k = 0; k < 3; k++) {
			run(f->s, queries[k], &rs, NULL);
			assert_int_equal(rs.n, 1);
			assert_int_equal(rs.v[0].raw_len, strlen(expected[i]));
			assert_memory_equal(rs.v[0].raw, expected[i], rs.v[0].raw_len);
		}
		rows_clear(&rs);
	}
}

static void test_batch_stored_and_duplicate(void **state)
{
	fx *f = *state;
	open_new(f);
	ky_store_collection c2;
	assert_int_equal(ky_store_collection_create(f->s, NULL, "second", "Second", NULL, &c2), KY_OK);
	char a[512], b[512];
	sdo(a, sizeof(a), "indicator", IND1, "2016-04-06T20:03:48.000Z");
	sdo(b, sizeof(b), "malware", MAL1, "2016-04-06T20:03:48.000Z");

	/* The same version twice in one batch: stored, then a duplicate. */
	const char *first[] = {a, b, a};
	ky_store_status st[3] = {99, 99, 99};
	uint64_t seqs[3] = {99, 99, 99};
	commit(f->s, f->dflt, first, 3, st, seqs);
	assert_int_equal(st[0], KY_STORE_STORED);
	assert_int_equal(st[1], KY_STORE_STORED);
	assert_int_equal(st[2], KY_STORE_DUPLICATE);
	assert_true(seqs[0] > 0);
	assert_true(seqs[1] > seqs[0]);
	assert_int_equal(seqs[2], 0);

	/* Again in a later batch, next to a new version: duplicate, and no number used up. */
	char a2[512];
	sdo(a2, sizeof(a2), "indicator", IND1, "2016-05-01T00:00:00.000Z");
	const char *second[] = {b, a2, a};
	commit(f->s, f->dflt, second, 3, st, seqs);
	assert_int_equal(st[0], KY_STORE_DUPLICATE);
	assert_int_equal(st[1], KY_STORE_STORED);
	assert_int_equal(st[2], KY_STORE_DUPLICATE);
	assert_int_equal(seqs[0], 0);
	assert_int_equal(seqs[1], 3);
	assert_int_equal(seqs[2], 0);

	/* The same version into a second collection is stored there (a new addition of the one
	 * stored version). */
	commit1(f->s, c2.id, a, st, seqs);
	assert_int_equal(st[0], KY_STORE_STORED);
	assert_int_equal(seqs[0], 4);
	commit1(f->s, c2.id, a, st, seqs);
	assert_int_equal(st[0], KY_STORE_DUPLICATE);

	ky_store_stats stats;
	assert_int_equal(ky_store_stats_get(f->s, &stats), KY_OK);
	assert_int_equal(stats.versions, 3);
	assert_int_equal(stats.objects, 2);
	assert_int_equal(stats.additions, 4);
	assert_int_equal(stats.last_seq, 4);

	/* statuses and seqs may be NULL. */
	commit1(f->s, c2.id, b, NULL, NULL);
	assert_int_equal(ky_store_stats_get(f->s, &stats), KY_OK);
	assert_int_equal(stats.additions, 5);
	ky_store_collection_clear(&c2);
}

/* STIX 2.1 §3.6: a version is the id and modified as a time; "…48.1Z" and "…48.100Z" are one. */
static void test_batch_same_time_written_differently(void **state)
{
	fx *f = *state;
	open_new(f);
	char a[512], b[512], c[512], d[512];
	sdo(a, sizeof(a), "indicator", IND1, "2016-04-06T20:03:48.1Z");
	sdo(b, sizeof(b), "indicator", IND1, "2016-04-06T20:03:48.100Z");
	sdo(c, sizeof(c), "indicator", IND1, "2016-04-06T20:03:48.100000Z");
	sdo(d, sizeof(d), "indicator", IND1, "2016-04-06T20:03:48.1000001Z"); /* a later time */
	const char *raws[] = {a, b};
	ky_store_status st[2];
	uint64_t seqs[2];
	commit(f->s, f->dflt, raws, 2, st, seqs);
	assert_int_equal(st[0], KY_STORE_STORED);
	assert_int_equal(st[1], KY_STORE_DUPLICATE);
	commit1(f->s, f->dflt, c, st, seqs);
	assert_int_equal(st[0], KY_STORE_DUPLICATE);
	commit1(f->s, f->dflt, d, st, seqs);
	assert_int_equal(st[0], KY_STORE_STORED);

	/* Seconds without a fraction equal seconds with a zero one. */
	char e[512], g[512];
	sdo(e, sizeof(e), "malware", MAL1, "2016-04-06T20:03:48Z");
	sdo(g, sizeof(g), "malware", MAL1, "2016-04-06T20:03:48.000Z");
	const char *raws2[] = {e, g};
	commit(f->s, f->dflt, raws2, 2, st, seqs);
	assert_int_equal(st[0], KY_STORE_STORED);
	assert_int_equal(st[1], KY_STORE_DUPLICATE);

	/* The kept bytes are the first ones; a named version finds it however it is written. */
	rows rs = {0};
	const char *ids[] = {IND1};
	const char *named[] = {"2016-04-06T20:03:48.10Z"};
	ky_store_query q = {.scope = &ky_store_operator_scope, .collection_id = f->dflt, .ids = ids, .nids = 1, .modified = named, .nmodified = 1};
	run(f->s, &q, &rs, NULL);
	assert_int_equal(rs.n, 1);
	assert_string_equal(rs.v[0].raw, a);
	assert_string_equal(rs.v[0].modified, "2016-04-06T20:03:48.1Z");
	q.collection_id = 0;
	run(f->s, &q, &rs, NULL);
	assert_int_equal(rs.n, 1);
	assert_string_equal(rs.v[0].raw, a);
	rows_clear(&rs);
}

/* STIX 2.1 §3.6: objects without modified have the version created names (marking
 * definitions), or a single one (SCOs, which have neither). */
static void test_batch_objects_without_modified(void **state)
{
	fx *f = *state;
	open_new(f);
	const char *mark = "{\"type\": \"marking-definition\", \"spec_version\": \"2.1\", \"id\": \"" MARK1 "\","
			   " \"created\": \"2017-01-20T00:00:00.000Z\", \"definition_type\": \"tlp\", \"name\": \"TLP:GREEN\","
			   " \"definition\": {\"tlp\": \"green\"}}";
	const char *mark_again = "{\"id\": \"" MARK1 "\", \"type\": \"marking-definition\", \"spec_version\": \"2.1\","
				 " \"created\": \"2017-01-20T00:00:00Z\", \"definition_type\": \"tlp\", \"name\": \"TLP:GREEN\","
				 " \"definition\": {\"tlp\": \"green\"}}";
	const char *sco = "{\"type\": \"ipv4-addr\", \"id\": \"" SCO1 "\", \"value\": \"198.51.100.3\"}";
	const char *sco_other = "{\"type\": \"ipv4-addr\", \"spec_version\": \"2.1\", \"id\": \"" SCO1 "\","
				" \"value\": \"198.51.100.3\", \"x_note\": \"same id, other bytes\"}";
	const char *raws[] = {mark, sco};
	ky_store_status st[2];
	uint64_t seqs[2];
	commit(f->s, f->dflt, raws, 2, st, seqs);
	assert_int_equal(st[0], KY_STORE_STORED);
	assert_int_equal(st[1], KY_STORE_STORED);
	const char *again[] = {mark_again, sco_other};
	commit(f->s, f->dflt, again, 2, st, seqs);
	assert_int_equal(st[0], KY_STORE_DUPLICATE);
	assert_int_equal(st[1], KY_STORE_DUPLICATE);

	rows rs = {0};
	ky_store_query q = {.scope = &ky_store_operator_scope, .collection_id = f->dflt, .versions = KY_STORE_ALL};
	run(f->s, &q, &rs, NULL);
	assert_int_equal(rs.n, 2);
	assert_string_equal(rs.v[0].id, MARK1);
	assert_string_equal(rs.v[0].modified, "2017-01-20T00:00:00.000Z");
	assert_string_equal(rs.v[0].raw, mark);
	assert_string_equal(rs.v[1].id, SCO1);
	assert_string_equal(rs.v[1].type, "ipv4-addr");
	assert_null(rs.v[1].spec_version);
	assert_string_equal(rs.v[1].raw, sco);
	/* LAST and FIRST are that one version. */
	q.versions = KY_STORE_FIRST | KY_STORE_LAST;
	run(f->s, &q, &rs, NULL);
	assert_int_equal(rs.n, 2);
	q.collection_id = 0;
	run(f->s, &q, &rs, NULL);
	assert_int_equal(rs.n, 2);
	rows_clear(&rs);
}

static void test_batch_abort_and_failure_leave_nothing(void **state)
{
	fx *f = *state;
	open_new(f);
	char a[512], b[512];
	sdo(a, sizeof(a), "indicator", IND1, "2016-04-06T20:03:48.000Z");
	sdo(b, sizeof(b), "malware", MAL1, "2016-04-06T20:03:48.000Z");

	ky_store_batch *batch = NULL;
	assert_int_equal(ky_store_batch_begin(f->s, f->dflt, &batch), KY_OK);
	assert_int_equal(add(batch, a), 0);
	assert_int_equal(add(batch, b), 1);
	/* An object without an id is refused; the batch goes on. */
	assert_int_equal(add(batch, "{\"type\": \"indicator\"}"), KY_EINVALID);
	assert_int_equal(add(batch, "{\"id\": 7, \"type\": \"indicator\"}"), KY_EINVALID);
	ky_store_batch_abort(batch);
	ky_store_batch_abort(NULL);

	ky_store_stats stats;
	assert_int_equal(ky_store_stats_get(f->s, &stats), KY_OK);
	assert_int_equal(stats.versions, 0);
	assert_int_equal(stats.additions, 0);
	assert_int_equal(stats.last_seq, 0);

	/* A commit that fails (no such collection) stores nothing either, not even the versions,
	 * and the connection stays usable. */
	assert_int_equal(ky_store_batch_begin(f->s, 9999, &batch), KY_OK);
	assert_int_equal(add(batch, a), 0);
	assert_int_equal(add(batch, b), 1);
	ky_store_status st[2] = {99, 99};
	assert_int_not_equal(ky_store_batch_commit(batch, st, NULL), KY_OK);
	assert_int_equal(st[0], 99);
	assert_int_equal(ky_store_stats_get(f->s, &stats), KY_OK);
	assert_int_equal(stats.versions, 0);
	assert_int_equal(stats.additions, 0);
	assert_int_equal(stats.last_seq, 0);

	/* An empty batch commits to nothing. */
	assert_int_equal(ky_store_batch_begin(f->s, f->dflt, &batch), KY_OK);
	assert_int_equal(ky_store_batch_commit(batch, NULL, NULL), KY_OK);

	uint64_t seq;
	commit1(f->s, f->dflt, a, st, &seq);
	assert_int_equal(st[0], KY_STORE_STORED);
	assert_int_equal(seq, 1);
	assert_int_equal(ky_store_check(f->s), KY_OK);
}

static void test_batch_raw_bytes_exact(void **state)
{
	fx *f = *state;
	open_new(f);
	/* Odd whitespace, key order, escapes, non-ASCII, a trailing newline: kept as given. */
	const char *raws[] = {
		"{\n\t\"name\" :\"caf\\u00e9 \xe2\x98\x95\",   \"modified\":\"2016-04-06T20:03:48.000Z\",\r\n"
		"  \"id\": \"" IND1 "\", \"type\":\"indicator\", \"spec_version\" : \"2.1\",\n"
		"  \"created\": \"2016-04-06T20:03:48.000Z\", \"x\": [1, 2.50, 1e3, {\"b\": 1, \"a\": 2}]  }\n",
		"{\"type\":\"malware\",\"id\":\"" MAL1 "\",\"spec_version\":\"2.1\",\"created\":\"2016-04-06T20:03:48.000Z\","
		"\"modified\":\"2016-04-06T20:03:48.000Z\",\"name\":\"\\\"quoted\\\" \\/ slash\",\"is_family\":false}",
	};
	commit(f->s, f->dflt, raws, 2, NULL, NULL);
	rows rs = {0};
	ky_store_query q = {.scope = &ky_store_operator_scope, .collection_id = f->dflt};
	run(f->s, &q, &rs, NULL);
	assert_int_equal(rs.n, 2);
	for (size_t i = 0; i < 2; i++) {
		assert_int_equal(rs.v[i].raw_len, strlen(raws[i]));
		assert_memory_equal(rs.v[i].raw, raws[i], strlen(raws[i]));
	}
	q.collection_id = 0;
	run(f->s, &q, &rs, NULL);
	assert_int_equal(rs.n, 2);
	for (size_t i = 0; i < 2; i++) {
		assert_int_equal(rs.v[i].raw_len, strlen(raws[i]));
		assert_memory_equal(rs.v[i].raw, raws[i], strlen(raws[i]));
	}
	ky_store_stats stats;
	assert_int_equal(ky_store_stats_get(f->s, &stats), KY_OK);
	assert_int_equal(stats.bytes, strlen(raws[0]) + strlen(raws[1]));
	rows_clear(&rs);
}

/* --- the sequence ------------------------------------------------------------------------ */

static void test_sequence_increasing(void **state)
{
	fx *f = *state;
	open_new(f);
	ky_store_collection c2;
	assert_int_equal(ky_store_collection_create(f->s, NULL, "second", "Second", NULL, &c2), KY_OK);
	/* 20 batches of 1..7 objects, some duplicates, alternating collections. */
	uint64_t stored[200];
	size_t nstored = 0;
	uint64_t last = 0;
	int k = 0;
	for (int batch = 0; batch < 20; batch++) {
		size_t n = (size_t)(batch % 7) + 1;
		char buf[8][512];
		const char *raws[8];
		for (size_t i = 0; i < n; i++) {
			char id[64];
			/* every third object repeats the one before it */
			int which = i % 3 == 2 ? k - 1 : k++;
			snprintf(id, sizeof(id), "indicator--00000000-0000-4000-8000-%012d", which);
			raws[i] = sdo(buf[i], sizeof(buf[i]), "indicator", id, "2016-04-06T20:03:48.000Z");
		}
		ky_store_status st[8];
		uint64_t seqs[8];
		commit(f->s, batch % 2 ? c2.id : f->dflt, raws, n, st, seqs);
		for (size_t i = 0; i < n; i++) {
			if (st[i] == KY_STORE_DUPLICATE) {
				assert_int_equal(seqs[i], 0);
				continue;
			}
			assert_true(seqs[i] > last);
			last = seqs[i];
			stored[nstored++] = seqs[i];
		}
	}
	/* No gaps in one writer's numbers, and everything scanned back, dates increasing. */
	assert_int_equal(stored[nstored - 1], nstored);
	rows rs = {0}, rs2 = {0};
	ky_store_query q = {.scope = &ky_store_operator_scope, .collection_id = f->dflt, .versions = KY_STORE_ALL};
	run(f->s, &q, &rs, NULL);
	q.collection_id = c2.id;
	run(f->s, &q, &rs2, NULL);
	assert_int_equal(rs.n + rs2.n, nstored);
	size_t i = 0, j = 0, m = 0;
	int64_t last_date = 0;
	while (i < rs.n || j < rs2.n) { /* merge the two by number */
		row *r = j >= rs2.n || (i < rs.n && rs.v[i].seq < rs2.v[j].seq) ? &rs.v[i++] : &rs2.v[j++];
		assert_int_equal(r->seq, stored[m++]);
		assert_true(r->date > last_date);
		last_date = r->date;
	}
	int64_t now = (int64_t)time(NULL) * 1000000;
	assert_true(last_date > now - 60 * 1000000LL && last_date < now + 60 * 1000000LL);
	ky_store_stats stats;
	assert_int_equal(ky_store_stats_get(f->s, &stats), KY_OK);
	assert_int_equal(stats.last_seq, nstored);
	assert_int_equal(stats.additions, nstored);
	rows_clear(&rs);
	rows_clear(&rs2);
	ky_store_collection_clear(&c2);
}

/* --- queries ---------------------------------------------------------------------------- */

/*
 * The hub for the query tests. Default collection, in this order:
 *   seq 1 IND1@2016 (v1)   seq 2 MAL1@2016   seq 3 IND1@2017 (v2)   seq 4 SCO1
 *   seq 5 IND2@2018        seq 6 IND1@2016-06 (v1.5, older than v2)   seq 7 MARK1
 * Collection "second": seq 8 IND1@2017 (v2 only), seq 9 IND1@2019 (v3, only here).
 */
static int64_t build_query_hub(fx *f)
{
	open_new(f);
	ky_store_collection c2;
	assert_int_equal(ky_store_collection_create(f->s, NULL, "second", "Second", NULL, &c2), KY_OK);
	int64_t second = c2.id;
	ky_store_collection_clear(&c2);
	char b[9][512];
	const char *raws1[] = {
		sdo(b[0], sizeof(b[0]), "indicator", IND1, "2016-01-01T00:00:00.000Z"),
		sdo(b[1], sizeof(b[1]), "malware", MAL1, "2016-01-01T00:00:00.000Z"),
	};
	commit(f->s, f->dflt, raws1, 2, NULL, NULL);
	const char *raws2[] = {
		sdo(b[2], sizeof(b[2]), "indicator", IND1, "2017-01-01T00:00:00.000Z"),
		"{\"type\": \"ipv4-addr\", \"id\": \"" SCO1 "\", \"value\": \"198.51.100.3\"}",
		"{\"type\": \"indicator\", \"spec_version\": \"2.0\", \"id\": \"" IND2 "\", \"created\": \"2018-01-01T00:00:00.000Z\","
		" \"modified\": \"2018-01-01T00:00:00.000Z\"}",
	};
	commit(f->s, f->dflt, raws2, 3, NULL, NULL);
	const char *raws3[] = {
		sdo(b[5], sizeof(b[5]), "indicator", IND1, "2016-06-01T00:00:00.000Z"),
		"{\"type\": \"marking-definition\", \"spec_version\": \"2.1\", \"id\": \"" MARK1 "\","
		" \"created\": \"2017-01-20T00:00:00.000Z\", \"definition_type\": \"tlp\", \"definition\": {\"tlp\": \"green\"}}",
	};
	commit(f->s, f->dflt, raws3, 2, NULL, NULL);
	const char *raws4[] = {
		sdo(b[7], sizeof(b[7]), "indicator", IND1, "2017-01-01T00:00:00.000Z"),
		sdo(b[8], sizeof(b[8]), "indicator", IND1, "2019-01-01T00:00:00.000Z"),
	};
	commit(f->s, second, raws4, 2, NULL, NULL);
	return second;
}

#define V1 IND1 "@2016-01-01T00:00:00.000Z"
#define V15 IND1 "@2016-06-01T00:00:00.000Z"
#define V2 IND1 "@2017-01-01T00:00:00.000Z"
#define V3 IND1 "@2019-01-01T00:00:00.000Z"
#define M1 MAL1 "@2016-01-01T00:00:00.000Z"
#define S1 SCO1 "@"
#define I2 IND2 "@2018-01-01T00:00:00.000Z"
#define K1 MARK1 "@2017-01-20T00:00:00.000Z"

static void test_query_versions(void **state)
{
	fx *f = *state;
	int64_t second = build_query_hub(f);
	rows rs = {0};
	ky_store_query q = {.scope = &ky_store_operator_scope, .collection_id = f->dflt};

	/* LAST is the default: v2 stays the latest though v1.5 came after it. */
	run(f->s, &q, &rs, NULL);
	assert_string_equal(summary(&rs), M1 "," V2 "," S1 "," I2 "," K1);
	assert_int_equal(rs.v[1].seq, 3);
	q.versions = KY_STORE_LAST;
	run(f->s, &q, &rs, NULL);
	assert_string_equal(summary(&rs), M1 "," V2 "," S1 "," I2 "," K1);
	q.versions = KY_STORE_FIRST;
	run(f->s, &q, &rs, NULL);
	assert_string_equal(summary(&rs), V1 "," M1 "," S1 "," I2 "," K1);
	q.versions = KY_STORE_ALL;
	run(f->s, &q, &rs, NULL);
	assert_string_equal(summary(&rs), V1 "," M1 "," V2 "," S1 "," I2 "," V15 "," K1);
	q.versions = KY_STORE_FIRST | KY_STORE_LAST;
	run(f->s, &q, &rs, NULL);
	assert_string_equal(summary(&rs), V1 "," M1 "," V2 "," S1 "," I2 "," K1);
	q.versions = KY_STORE_ALL | KY_STORE_FIRST;
	run(f->s, &q, &rs, NULL);
	assert_int_equal(rs.n, 7);

	/* Named versions: alone, or besides LAST. */
	const char *named[] = {"2016-06-01T00:00:00Z", "2099-01-01T00:00:00.000Z"};
	q.versions = 0;
	q.modified = named;
	q.nmodified = 2;
	run(f->s, &q, &rs, NULL);
	assert_string_equal(summary(&rs), V15);
	q.versions = KY_STORE_LAST;
	run(f->s, &q, &rs, NULL);
	assert_string_equal(summary(&rs), M1 "," V2 "," S1 "," I2 "," V15 "," K1);
	q.modified = NULL;
	q.nmodified = 0;

	/* In "second" the latest is v3, the first v2: each collection has its own. */
	q.collection_id = second;
	q.versions = 0;
	run(f->s, &q, &rs, NULL);
	assert_string_equal(summary(&rs), V3);
	assert_int_equal(rs.v[0].seq, 9);
	q.versions = KY_STORE_FIRST;
	run(f->s, &q, &rs, NULL);
	assert_string_equal(summary(&rs), V2);
	assert_int_equal(rs.v[0].seq, 8);

	/* Hub-wide: every version once, in the order stored; first and last over the hub. */
	q.collection_id = 0;
	q.versions = KY_STORE_ALL;
	run(f->s, &q, &rs, NULL);
	assert_string_equal(summary(&rs), V1 "," M1 "," V2 "," S1 "," I2 "," V15 "," K1 "," V3);
	q.versions = 0;
	run(f->s, &q, &rs, NULL);
	assert_string_equal(summary(&rs), M1 "," S1 "," I2 "," K1 "," V3);
	q.versions = KY_STORE_FIRST;
	run(f->s, &q, &rs, NULL);
	assert_string_equal(summary(&rs), V1 "," M1 "," S1 "," I2 "," K1);
	rows_clear(&rs);
}

static void test_query_filters(void **state)
{
	fx *f = *state;
	int64_t second = build_query_hub(f);
	rows rs = {0};

	const char *ids[] = {IND1, MARK1, "indicator--00000000-0000-4000-8000-000000000000"};
	ky_store_query q = {.scope = &ky_store_operator_scope, .collection_id = f->dflt, .ids = ids, .nids = 3, .versions = KY_STORE_ALL};
	run(f->s, &q, &rs, NULL);
	assert_string_equal(summary(&rs), V1 "," V2 "," V15 "," K1);
	q.ids = NULL;
	q.nids = 0;

	const char *types[] = {"indicator", "ipv4-addr"};
	q.types = types;
	q.ntypes = 2;
	run(f->s, &q, &rs, NULL);
	assert_string_equal(summary(&rs), V1 "," V2 "," S1 "," I2 "," V15);
	q.versions = 0;
	run(f->s, &q, &rs, NULL);
	assert_string_equal(summary(&rs), V2 "," S1 "," I2);
	q.collection_id = 0;
	run(f->s, &q, &rs, NULL);
	assert_string_equal(summary(&rs), S1 "," I2 "," V3);
	q.collection_id = second;
	run(f->s, &q, &rs, NULL);
	assert_string_equal(summary(&rs), V3);
	q.types = NULL;
	q.ntypes = 0;

	const char *specs20[] = {"2.0"};
	q.collection_id = f->dflt;
	q.spec_versions = specs20;
	q.nspec_versions = 1;
	run(f->s, &q, &rs, NULL);
	assert_string_equal(summary(&rs), I2);
	q.collection_id = 0;
	run(f->s, &q, &rs, NULL);
	assert_string_equal(summary(&rs), I2);

	/* Filters combine: id and type and version. */
	const char *ids2[] = {IND1, MAL1};
	const char *types2[] = {"malware"};
	ky_store_query q2 = {.scope = &ky_store_operator_scope, .collection_id = f->dflt, .ids = ids2, .nids = 2, .types = types2, .ntypes = 1};
	run(f->s, &q2, &rs, NULL);
	assert_string_equal(summary(&rs), M1);

	/* A collection that does not exist has nothing. */
	ky_store_query q3 = {.scope = &ky_store_operator_scope, .collection_id = 12345, .versions = KY_STORE_ALL};
	run(f->s, &q3, &rs, NULL);
	assert_int_equal(rs.n, 0);
	rows_clear(&rs);
}

/* STIX 2.1 §3.2 (spec_version): an SCO without spec_version is 2.1, so asking for 2.1 finds
 * it. */
static void test_query_spec_version_of_sco(void **state)
{
	fx *f = *state;
	build_query_hub(f);
	rows rs = {0};
	const char *specs21[] = {"2.1"};
	ky_store_query q = {.scope = &ky_store_operator_scope, .collection_id = f->dflt, .spec_versions = specs21, .nspec_versions = 1};
	run(f->s, &q, &rs, NULL);
	assert_string_equal(summary(&rs), M1 "," V2 "," S1 "," K1);
	q.collection_id = 0;
	run(f->s, &q, &rs, NULL);
	assert_string_equal(summary(&rs), M1 "," S1 "," K1 "," V3);
	rows_clear(&rs);
}

static void test_query_after_and_newer_versions(void **state)
{
	fx *f = *state;
	build_query_hub(f);
	rows rs = {0};
	ky_store_page page;
	ky_store_query q = {.scope = &ky_store_operator_scope, .collection_id = f->dflt, .after = 3};
	run(f->s, &q, &rs, &page);
	assert_string_equal(summary(&rs), S1 "," I2 "," K1);
	assert_int_equal(page.count, 3);
	assert_int_equal(page.last_seq, 7);
	assert_false(page.more);
	assert_int_equal(page.first_date_added_us, rs.v[0].date);
	assert_int_equal(page.last_date_added_us, rs.v[2].date);
	q.versions = KY_STORE_ALL;
	run(f->s, &q, &rs, NULL);
	assert_string_equal(summary(&rs), S1 "," I2 "," V15 "," K1);

	/* A newer version: the old one drops out of LAST, the new one appears, numbered higher. */
	char b[512];
	ky_store_status st;
	uint64_t seq;
	commit1(f->s, f->dflt, sdo(b, sizeof(b), "malware", MAL1, "2020-01-01T00:00:00.000Z"), &st, &seq);
	assert_int_equal(st, KY_STORE_STORED);
	assert_int_equal(seq, 10);
	q.versions = 0;
	q.after = 0;
	run(f->s, &q, &rs, NULL);
	assert_string_equal(summary(&rs), V2 "," S1 "," I2 "," K1 "," MAL1 "@2020-01-01T00:00:00.000Z");
	assert_int_equal(rs.v[4].seq, 10);
	/* A reader that had seen everything up to 7 sees just the new version. */
	q.after = 7;
	run(f->s, &q, &rs, NULL);
	assert_string_equal(summary(&rs), MAL1 "@2020-01-01T00:00:00.000Z");

	/* An older version added after it does not displace it, nor show up in LAST. */
	commit1(f->s, f->dflt, sdo(b, sizeof(b), "malware", MAL1, "2018-01-01T00:00:00.000Z"), &st, &seq);
	assert_int_equal(st, KY_STORE_STORED);
	assert_int_equal(seq, 11);
	q.after = 0;
	run(f->s, &q, &rs, NULL);
	assert_string_equal(summary(&rs), V2 "," S1 "," I2 "," K1 "," MAL1 "@2020-01-01T00:00:00.000Z");
	q.after = 10;
	run(f->s, &q, &rs, NULL);
	assert_int_equal(rs.n, 0);
	q.versions = KY_STORE_ALL;
	run(f->s, &q, &rs, NULL);
	assert_string_equal(summary(&rs), MAL1 "@2018-01-01T00:00:00.000Z");

	/* Hub-wide, after counts in the hub-wide order. */
	ky_store_query h = {.scope = &ky_store_operator_scope, .collection_id = 0, .versions = KY_STORE_ALL};
	run(f->s, &h, &rs, &page);
	assert_int_equal(rs.n, 10);
	h.after = rs.v[7].seq;
	run(f->s, &h, &rs, NULL);
	assert_string_equal(summary(&rs), MAL1 "@2020-01-01T00:00:00.000Z," MAL1 "@2018-01-01T00:00:00.000Z");
	rows_clear(&rs);
}

/* added_after is a date: additions dated after it, whatever the cursor says, the greater
 * bound winning; before the first addition it is everything, at the last nothing. */
static void test_query_added_after(void **state)
{
	fx *f = *state;
	build_query_hub(f);
	rows all = {0}, rs = {0};
	ky_store_page page;
	ky_store_query q = {.scope = &ky_store_operator_scope, .collection_id = f->dflt, .versions = KY_STORE_ALL};
	run(f->s, &q, &all, NULL);
	assert_true(all.n >= 5);
	q.added_after_us = all.v[1].date;
	run(f->s, &q, &rs, &page);
	assert_int_equal(rs.n, all.n - 2);
	assert_int_equal(rs.v[0].seq, all.v[2].seq);
	assert_int_equal(page.first_date_added_us, all.v[2].date);
	/* Between two additions' dates: the later one is after it. */
	q.added_after_us = all.v[1].date + 1;
	run(f->s, &q, &rs, NULL);
	assert_int_equal(rs.v[0].seq, all.v[2].seq);
	/* A cursor beyond the date wins, and a date beyond the cursor. */
	q.after = all.v[3].seq;
	run(f->s, &q, &rs, NULL);
	assert_int_equal(rs.n, all.n - 4);
	q.after = all.v[0].seq;
	run(f->s, &q, &rs, NULL);
	assert_int_equal(rs.n, all.n - 2);
	q.after = 0;
	q.added_after_us = all.v[0].date - 1;
	run(f->s, &q, &rs, NULL);
	assert_int_equal(rs.n, all.n);
	q.added_after_us = all.v[all.n - 1].date;
	run(f->s, &q, &rs, &page);
	assert_int_equal(rs.n, 0);
	/* With the latest versions only, and a limit. */
	q.versions = 0;
	q.added_after_us = all.v[1].date;
	q.limit = 1;
	run(f->s, &q, &rs, &page);
	assert_int_equal(rs.n, 1);
	assert_true(rs.v[0].seq > all.v[1].seq);
	assert_true(page.more);
	/* The hub-wide query has no date_added to filter on. */
	ky_store_query h = {.scope = &ky_store_operator_scope, .added_after_us = 1};
	assert_int_equal(ky_store_query_run(f->s, &h, collect, &rs, NULL), KY_EINVALID);
	assert_non_null(strstr(ky_error_last(), "added_after"));
	rows_clear(&rs);
	rows_clear(&all);
}

/* The cursor of an empty page is where the reader already was, not 0 (which would start the
 * next poll from the beginning). */
static void test_query_empty_page_cursor(void **state)
{
	fx *f = *state;
	build_query_hub(f);
	rows rs = {0};
	ky_store_page page;
	ky_store_query q = {.scope = &ky_store_operator_scope, .collection_id = f->dflt, .after = 7, .limit = 5};
	run(f->s, &q, &rs, &page);
	assert_int_equal(page.count, 0);
	assert_false(page.more);
	assert_int_equal(page.last_seq, 7);
	q.collection_id = 0;
	q.after = 8;
	run(f->s, &q, &rs, &page);
	assert_int_equal(page.count, 0);
	assert_int_equal(page.last_seq, 8);
	rows_clear(&rs);
}

/* Walks q page by page (limit rows each); checks every row comes once, in order. */
static void walk_pages(ky_store *s, ky_store_query q, size_t limit, size_t expect_rows)
{
	rows all = {0}, rs = {0};
	ky_store_query whole = q;
	whole.limit = 0;
	whole.after = 0;
	run(s, &whole, &all, NULL);
	assert_int_equal(all.n, expect_rows);

	q.limit = limit;
	q.after = 0;
	size_t seen = 0, pages = 0;
	for (;;) {
		ky_store_page page;
		run(s, &q, &rs, &page);
		pages++;
		assert_int_equal(page.count, rs.n);
		assert_true(rs.n <= limit);
		for (size_t i = 0; i < rs.n; i++) {
			assert_true(seen < all.n);
			assert_int_equal(rs.v[i].seq, all.v[seen].seq);
			assert_string_equal(rs.v[i].id, all.v[seen].id);
			seen++;
		}
		if (rs.n > 0) {
			assert_int_equal(page.last_seq, rs.v[rs.n - 1].seq);
			assert_int_equal(page.first_date_added_us, rs.v[0].date);
			assert_int_equal(page.last_date_added_us, rs.v[rs.n - 1].date);
		}
		if (!page.more) {
			assert_int_equal(seen, all.n);
			break;
		}
		assert_int_equal(rs.n, limit);
		assert_true(pages < 10000);
		q.after = page.last_seq;
	}
	assert_int_equal(pages, expect_rows / limit + (expect_rows % limit || expect_rows == 0 ? 1 : 0));
	rows_clear(&all);
	rows_clear(&rs);
}

static void test_query_keyset_pages(void **state)
{
	fx *f = *state;
	open_new(f);
	/* 23 objects, then newer versions of every third one, then a hub-wide walk. */
	char buf[23][512];
	const char *raws[23];
	for (int i = 0; i < 23; i++) {
		char id[64];
		snprintf(id, sizeof(id), "%s--00000000-0000-4000-8000-%012d", i % 2 ? "indicator" : "malware", i);
		raws[i] = sdo(buf[i], sizeof(buf[i]), i % 2 ? "indicator" : "malware", id, "2016-01-01T00:00:00.000Z");
	}
	commit(f->s, f->dflt, raws, 23, NULL, NULL);
	for (int i = 0; i < 23; i += 3) {
		char id[64], b[512];
		snprintf(id, sizeof(id), "%s--00000000-0000-4000-8000-%012d", i % 2 ? "indicator" : "malware", i);
		commit1(f->s, f->dflt, sdo(b, sizeof(b), i % 2 ? "indicator" : "malware", id, "2017-01-01T00:00:00.000Z"), NULL,
			NULL);
	}
	ky_store_query q = {.scope = &ky_store_operator_scope, .collection_id = f->dflt, .versions = KY_STORE_ALL};
	walk_pages(f->s, q, 5, 31);
	walk_pages(f->s, q, 1, 31);
	walk_pages(f->s, q, 31, 31); /* exactly one full page: more is false */
	walk_pages(f->s, q, 100, 31);
	q.versions = KY_STORE_LAST;
	walk_pages(f->s, q, 5, 23);
	walk_pages(f->s, q, 23, 23);
	q.versions = KY_STORE_FIRST;
	walk_pages(f->s, q, 4, 23);
	const char *types[] = {"indicator"};
	q.types = types;
	q.ntypes = 1;
	walk_pages(f->s, q, 4, 11);
	ky_store_query h = {.scope = &ky_store_operator_scope, .collection_id = 0, .versions = KY_STORE_ALL};
	walk_pages(f->s, h, 5, 31);
	walk_pages(f->s, h, 31, 31);
	h.versions = KY_STORE_LAST;
	walk_pages(f->s, h, 6, 23);
	ky_store_query none = {.scope = &ky_store_operator_scope, .collection_id = f->dflt, .after = 1000};
	rows rs = {0};
	ky_store_page page;
	run(f->s, &none, &rs, &page);
	assert_int_equal(page.count, 0);
	assert_false(page.more);
	rows_clear(&rs);
}

static void test_query_stop_early(void **state)
{
	fx *f = *state;
	build_query_hub(f);
	rows rs = {0};
	ky_store_page page;
	ky_store_query q = {.scope = &ky_store_operator_scope, .collection_id = f->dflt, .versions = KY_STORE_ALL};
	/* A positive return stops with KY_OK. */
	rs.stop_at = 3;
	rs.stop_code = 1;
	assert_int_equal(ky_store_query_run(f->s, &q, collect, &rs, &page), KY_OK);
	assert_int_equal(rs.n, 3);
	assert_int_equal(page.count, 3);
	assert_int_equal(page.last_seq, rs.v[2].seq);
	rows_clear(&rs);
	/* A negative one is returned. */
	rs.stop_at = 2;
	rs.stop_code = KY_EDENIED;
	assert_int_equal(ky_store_query_run(f->s, &q, collect, &rs, NULL), KY_EDENIED);
	assert_int_equal(rs.n, 2);
	rows_clear(&rs);
	/* And the connection is fine afterwards. */
	run(f->s, &q, &rs, NULL);
	assert_int_equal(rs.n, 7);
	rows_clear(&rs);
}

static void test_query_malformed(void **state)
{
	fx *f = *state;
	build_query_hub(f);
	rows rs = {0};
	const char *named[65];
	for (int i = 0; i < 65; i++)
		named[i] = "2016-01-01T00:00:00.000Z";
	ky_store_query q = {.scope = &ky_store_operator_scope, .collection_id = f->dflt, .modified = named, .nmodified = 65};
	assert_int_equal(ky_store_query_run(f->s, &q, collect, &rs, NULL), KY_EINVALID);
	q.nmodified = 64;
	run(f->s, &q, &rs, NULL);
	assert_string_equal(summary(&rs), V1 "," M1);

	static const char *ids[400];
	for (int i = 0; i < 400; i++)
		ids[i] = IND1;
	ky_store_query q2 = {.scope = &ky_store_operator_scope, .collection_id = f->dflt, .ids = ids, .nids = 400};
	assert_int_equal(ky_store_query_run(f->s, &q2, collect, &rs, NULL), KY_EINVALID);
	q2.nids = 100;
	run(f->s, &q2, &rs, NULL);
	assert_string_equal(summary(&rs), V2);

	/* Unknown version flags are a malformed query, not a database error. */
	ky_store_query q3 = {.scope = &ky_store_operator_scope, .collection_id = f->dflt, .versions = 1u << 5};
	assert_int_equal(ky_store_query_run(f->s, &q3, collect, &rs, NULL), KY_EINVALID);
	rows_clear(&rs);
}

/* --- statistics and the check ------------------------------------------------------------- */

typedef struct type_count {
	char type[32];
	uint64_t n;
} type_count;

static int take_type(void *ctx, const char *type, uint64_t n)
{
	type_count *t = ctx;
	while (t->type[0])
		t++;
	snprintf(t->type, sizeof(t->type), "%s", type);
	t->n = n;
	return 0;
}

static void test_stats_and_type_counts(void **state)
{
	fx *f = *state;
	open_new(f);
	ky_store_stats stats;
	assert_int_equal(ky_store_stats_get(f->s, &stats), KY_OK);
	assert_int_equal(stats.schema_version, KY_STORE_SCHEMA_VERSION);
	assert_int_equal(stats.versions, 0);
	assert_int_equal(stats.objects, 0);
	assert_int_equal(stats.additions, 0);
	/* default, exchange, countermeasures */
	assert_int_equal(stats.collections, 3);
	assert_int_equal(stats.last_seq, 0);
	assert_int_equal(stats.bytes, 0);
	assert_true(stats.database_bytes > 0);
	type_count none[2] = {0};
	assert_int_equal(ky_store_type_counts(f->s, take_type, none), KY_OK);
	assert_string_equal(none[0].type, "");
	assert_int_equal(ky_store_check(f->s), KY_OK);
}

static void test_stats_counts(void **state)
{
	fx *f = *state;
	build_query_hub(f);
	ky_store_stats stats;
	assert_int_equal(ky_store_stats_get(f->s, &stats), KY_OK);
	assert_int_equal(stats.schema_version, KY_STORE_SCHEMA_VERSION);
	/* IND1 x4 (v1, v2, v1.5, v3), MAL1, SCO1, IND2, MARK1 */
	assert_int_equal(stats.versions, 8);
	assert_int_equal(stats.objects, 5);
	assert_int_equal(stats.additions, 9);
	assert_int_equal(stats.collections, 4);
	assert_int_equal(stats.last_seq, 9);
	assert_true(stats.bytes > 8 * 60);
	assert_true(stats.database_bytes >= stats.bytes);

	type_count t[8] = {0};
	assert_int_equal(ky_store_type_counts(f->s, take_type, t), KY_OK);
	assert_string_equal(t[0].type, "indicator");
	assert_int_equal(t[0].n, 5);
	/* ties by name */
	assert_string_equal(t[1].type, "ipv4-addr");
	assert_string_equal(t[2].type, "malware");
	assert_string_equal(t[3].type, "marking-definition");
	assert_int_equal(t[1].n, 1);
	assert_int_equal(t[2].n, 1);
	assert_int_equal(t[3].n, 1);
	assert_string_equal(t[4].type, "");
	assert_int_equal(ky_store_check(f->s), KY_OK);
}

/* --- removals (TAXII 2.1 §5.7) ------------------------------------------------------------- */

static int64_t now_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* Removes with `versions` and the named versions (nmodified of them, may be 0) from coll,
 * expecting KY_OK; returns how many additions left. */
static uint64_t remove_versions(fx *f, int64_t coll, const char *id, unsigned versions, const char *const *modified,
				size_t nmodified)
{
	uint64_t removed = 99;
	int rc = ky_store_remove(f->s, coll, id, versions, modified, nmodified, NULL, 0, 0, 0, &removed);
	if (rc != KY_OK)
		fail_msg("remove: %s", ky_error_last());
	return removed;
}

/* The collection's LAST query, as a summary. */
static const char *last_of(fx *f, int64_t coll, rows *rs)
{
	ky_store_query q = {.scope = &ky_store_operator_scope, .collection_id = coll};
	run(f->s, &q, rs, NULL);
	return summary(rs);
}

/* "last": the collection's latest version leaves, and the newest remaining one becomes the
 * latest, though it was added before the removed one (v1.5 after v2); LAST finds it, the
 * other collection keeps its own latest, and the hub passes its check. */
static void test_remove_last_recomputes_latest(void **state)
{
	fx *f = *state;
	int64_t second = build_query_hub(f);
	rows rs = {0};
	assert_int_equal(remove_versions(f, f->dflt, IND1, KY_STORE_LAST, NULL, 0), 1);
	assert_string_equal(last_of(f, f->dflt, &rs), M1 "," S1 "," I2 "," V15 "," K1);
	assert_int_equal(rs.v[3].seq, 6);
	ky_store_query q = {.scope = &ky_store_operator_scope, .collection_id = f->dflt, .versions = KY_STORE_ALL};
	run(f->s, &q, &rs, NULL);
	assert_string_equal(summary(&rs), V1 "," M1 "," S1 "," I2 "," V15 "," K1);
	assert_string_equal(last_of(f, second, &rs), V3);
	assert_int_equal(ky_store_check(f->s), KY_OK);

	/* Again: now v1.5 leaves and v1 is the last one left. */
	assert_int_equal(remove_versions(f, f->dflt, IND1, KY_STORE_LAST, NULL, 0), 1);
	const char *ids[] = {IND1};
	ky_store_query one = {.scope = &ky_store_operator_scope, .collection_id = f->dflt, .ids = ids, .nids = 1};
	run(f->s, &one, &rs, NULL);
	assert_string_equal(summary(&rs), V1);
	/* An older version added now does not displace it... */
	char b[512];
	ky_store_status st;
	commit1(f->s, f->dflt, sdo(b, sizeof(b), "indicator", IND1, "2015-01-01T00:00:00.000Z"), &st, NULL);
	assert_int_equal(st, KY_STORE_STORED);
	run(f->s, &one, &rs, NULL);
	assert_string_equal(summary(&rs), V1);
	/* ...a newer one does. */
	commit1(f->s, f->dflt, sdo(b, sizeof(b), "indicator", IND1, "2016-03-01T00:00:00.000Z"), &st, NULL);
	run(f->s, &one, &rs, NULL);
	assert_string_equal(summary(&rs), IND1 "@2016-03-01T00:00:00.000Z");
	one.versions = KY_STORE_ALL;
	run(f->s, &one, &rs, NULL);
	assert_int_equal(rs.n, 3);
	assert_int_equal(ky_store_check(f->s), KY_OK);
	rows_clear(&rs);
}

/* "first", named versions (written differently from the stored ones), both, and every
 * version (ALL, or no filter at all). */
static void test_remove_first_exact_and_all(void **state)
{
	fx *f = *state;
	int64_t second = build_query_hub(f);
	rows rs = {0};
	ky_store_query all = {.scope = &ky_store_operator_scope, .collection_id = f->dflt, .versions = KY_STORE_ALL};

	assert_int_equal(remove_versions(f, f->dflt, IND1, KY_STORE_FIRST, NULL, 0), 1);
	run(f->s, &all, &rs, NULL);
	assert_string_equal(summary(&rs), M1 "," V2 "," S1 "," I2 "," V15 "," K1);
	assert_string_equal(last_of(f, f->dflt, &rs), M1 "," V2 "," S1 "," I2 "," K1);

	const char *named[] = {"2016-06-01T00:00:00Z", "2099-01-01T00:00:00.000Z"};
	assert_int_equal(remove_versions(f, f->dflt, IND1, 0, named, 2), 1);
	run(f->s, &all, &rs, NULL);
	assert_string_equal(summary(&rs), M1 "," V2 "," S1 "," I2 "," K1);

	/* In "second": first (v2) or the named latest (v3), both at once; the object is gone. */
	const char *v3[] = {"2019-01-01T00:00:00.000Z"};
	assert_int_equal(remove_versions(f, second, IND1, KY_STORE_FIRST, v3, 1), 2);
	ky_store_query q2 = {.scope = &ky_store_operator_scope, .collection_id = second, .versions = KY_STORE_ALL};
	run(f->s, &q2, &rs, NULL);
	assert_int_equal(rs.n, 0);
	/* Every version, by flag or by default; the hub still has the versions themselves. */
	assert_int_equal(remove_versions(f, f->dflt, MAL1, KY_STORE_ALL, NULL, 0), 1);
	assert_int_equal(remove_versions(f, f->dflt, IND1, 0, NULL, 0), 1);
	run(f->s, &all, &rs, NULL);
	assert_string_equal(summary(&rs), S1 "," I2 "," K1);
	ky_store_query hub = {.scope = &ky_store_operator_scope, .versions = KY_STORE_ALL};
	run(f->s, &hub, &rs, NULL);
	assert_int_equal(rs.n, 8);
	assert_int_equal(ky_store_check(f->s), KY_OK);
	rows_clear(&rs);
}

/* spec_version: only versions of the ones asked for; an SCO without one is 2.1 (STIX 2.1
 * §3.2). */
static void test_remove_spec_version(void **state)
{
	fx *f = *state;
	build_query_hub(f);
	rows rs = {0};
	const char *s21[] = {"2.1"}, *s20[] = {"2.0"};
	uint64_t removed = 99;
	assert_int_equal(ky_store_remove(f->s, f->dflt, IND2, 0, NULL, 0, s21, 1, 0, 0, &removed), KY_OK);
	assert_int_equal(removed, 0);
	assert_int_equal(ky_store_remove(f->s, f->dflt, IND2, 0, NULL, 0, s20, 1, 0, 0, &removed), KY_OK);
	assert_int_equal(removed, 1);
	assert_int_equal(ky_store_remove(f->s, f->dflt, SCO1, KY_STORE_LAST, NULL, 0, s21, 1, 0, 0, &removed), KY_OK);
	assert_int_equal(removed, 1);
	assert_string_equal(last_of(f, f->dflt, &rs), M1 "," V2 "," K1);
	rows_clear(&rs);
}

typedef struct removal {
	uint64_t seq;
	int64_t date_added_us, removed_us, user_id;
	char id[128], modified[64];
} removal;

typedef struct removals {
	removal v[16];
	size_t n;
} removals;

static int take_removal(void *ctx, const ky_store_removal *r)
{
	removals *rs = ctx;
	assert_true(rs->n < 16);
	removal *w = &rs->v[rs->n++];
	w->seq = r->seq;
	w->date_added_us = r->date_added_us;
	w->removed_us = r->removed_us;
	w->user_id = r->user_id;
	snprintf(w->id, sizeof(w->id), "%s", r->id);
	snprintf(w->modified, sizeof(w->modified), "%s", r->modified);
	return 0;
}

typedef struct audit_rows {
	char versions[8][64];
	uint64_t seq[8];
	size_t n;
} audit_rows;

static int keep_audit_row(void *ctx, const ky_store_audit_row *entry)
{
	audit_rows *r = ctx;
	if (r->n < 8) {
		snprintf(r->versions[r->n], sizeof(r->versions[0]), "%.*s", (int)entry->versions_len,
			 entry->versions ? entry->versions : "");
		r->seq[r->n++] = entry->seq;
	}
	return 0;
}

/* An entry keeps its versions sorted, each once, runs as first-last, and an index row per
 * bucket; the chain has one order, numbered from 1; a search by object keeps the entries that
 * hold one of its versions, not every entry of its bucket. */
static void test_audit_entries(void **state)
{
	fx *f = *state;
	open_new(f);
	uint64_t before;
	char hash[KY_STORE_AUDIT_HEX];
	assert_int_equal(ky_store_audit_head(f->s, &before, hash), KY_OK);
	const uint64_t a[] = {5, 3, 4, 1030, 7, 4}, b[] = {6};
	ky_store_audit_entry e[] = {{.via = "test", .action = "read", .vids = a, .nvids = 6},
				    {.via = "test", .action = "read", .vids = b, .nvids = 1},
				    {.via = "test", .action = "member.add", .subject = "x"}};
	assert_int_equal(ky_store_audit_append(f->s, e, 3), KY_OK);
	audit_rows r = {0};
	assert_int_equal(ky_store_audit_scan(f->s, before, keep_audit_row, &r), KY_OK);
	assert_int_equal(r.n, 3);
	assert_string_equal(r.versions[0], "3-5,7,1030");
	assert_string_equal(r.versions[1], "6");
	assert_string_equal(r.versions[2], "");
	assert_int_equal(r.seq[0], before + 1);
	assert_int_equal(r.seq[2], before + 3);
	uint64_t count, buckets;
	ky_store_audit_versions_count(r.versions[0], strlen(r.versions[0]), &count, &buckets);
	assert_int_equal(count, 5);
	assert_int_equal(buckets, 2);
	assert_true(ky_store_audit_versions_hold(r.versions[0], strlen(r.versions[0]), 4));
	assert_true(ky_store_audit_versions_hold(r.versions[0], strlen(r.versions[0]), 1030));
	assert_false(ky_store_audit_versions_hold(r.versions[0], strlen(r.versions[0]), 6));
	assert_false(ky_store_audit_versions_hold(r.versions[0], strlen(r.versions[0]), 1029));
	uint64_t head;
	assert_int_equal(ky_store_audit_head(f->s, &head, hash), KY_OK);
	assert_int_equal(head, before + 3);
	uint64_t indexed;
	assert_int_equal(ky_store_audit_index_count(f->s, &indexed), KY_OK);
	assert_true(indexed >= 3);
}

/* A removal is recorded with the addition's number and date_added, who removed it and when,
 * in the order removals were made; an object without versions has modified "". */
static void test_remove_recorded(void **state)
{
	fx *f = *state;
	int64_t second = build_query_hub(f);
	rows rs = {0};
	ky_store_query all = {.scope = &ky_store_operator_scope, .collection_id = f->dflt, .versions = KY_STORE_ALL};
	run(f->s, &all, &rs, NULL);
	int64_t date_v2 = rs.v[2].date, date_sco = rs.v[3].date;
	ky_store_user alice;
	assert_int_equal(ky_store_user_ensure(f->s, "alice", &operator, "removes", &alice), KY_OK);

	int64_t before = now_us();
	uint64_t removed = 0;
	assert_int_equal(ky_store_remove(f->s, f->dflt, IND1, KY_STORE_LAST, NULL, 0, NULL, 0, 0, alice.id, &removed), KY_OK);
	assert_int_equal(removed, 1);
	int64_t after = now_us();
	assert_int_equal(ky_store_remove(f->s, f->dflt, SCO1, 0, NULL, 0, NULL, 0, 0, 0, &removed), KY_OK);
	assert_int_equal(removed, 1);
	/* A user the hub does not have is refused, and nothing is removed. */
	assert_int_equal(ky_store_remove(f->s, f->dflt, MAL1, 0, NULL, 0, NULL, 0, 0, 424242, &removed), KY_ENOTFOUND);
	assert_int_equal(removed, 0);

	removals got = {0};
	assert_int_equal(ky_store_removal_list(f->s, f->dflt, take_removal, &got), KY_OK);
	assert_int_equal(got.n, 2);
	assert_int_equal(got.v[0].seq, 3);
	assert_string_equal(got.v[0].id, IND1);
	assert_string_equal(got.v[0].modified, "2017-01-01T00:00:00.000Z");
	assert_int_equal(got.v[0].date_added_us, date_v2);
	assert_int_equal(got.v[0].user_id, alice.id);
	assert_true(got.v[0].removed_us >= before && got.v[0].removed_us <= after);
	assert_int_equal(got.v[1].seq, 4);
	assert_string_equal(got.v[1].id, SCO1);
	assert_string_equal(got.v[1].modified, "");
	assert_int_equal(got.v[1].date_added_us, date_sco);
	assert_int_equal(got.v[1].user_id, 0);
	assert_true(got.v[1].removed_us >= got.v[0].removed_us);
	memset(&got, 0, sizeof(got));
	assert_int_equal(ky_store_removal_list(f->s, second, take_removal, &got), KY_OK);
	assert_int_equal(got.n, 0);
	assert_string_equal(last_of(f, f->dflt, &rs), M1 "," I2 "," V15 "," K1);
	rows_clear(&rs);
}

/* Adding a removed version again is a new addition, numbered after everything (the
 * removal's own event, number 10, included: store_events.h); removing nothing is not an
 * error; malformed removals are refused. */
static void test_remove_then_add_again(void **state)
{
	fx *f = *state;
	build_query_hub(f);
	rows rs = {0};
	assert_int_equal(remove_versions(f, f->dflt, IND1, KY_STORE_LAST, NULL, 0), 1);
	char b[512];
	ky_store_status st;
	uint64_t seq = 0;
	commit1(f->s, f->dflt, sdo(b, sizeof(b), "indicator", IND1, "2017-01-01T00:00:00.000Z"), &st, &seq);
	assert_int_equal(st, KY_STORE_STORED);
	assert_int_equal(seq, 11);
	assert_string_equal(last_of(f, f->dflt, &rs), M1 "," S1 "," I2 "," K1 "," V2);
	assert_int_equal(rs.v[4].seq, 11);
	commit1(f->s, f->dflt, b, &st, &seq);
	assert_int_equal(st, KY_STORE_DUPLICATE);
	/* Removed again: both of its additions are on record. */
	const char *v2[] = {"2017-01-01T00:00:00.000Z"};
	assert_int_equal(remove_versions(f, f->dflt, IND1, 0, v2, 1), 1);
	removals got = {0};
	assert_int_equal(ky_store_removal_list(f->s, f->dflt, take_removal, &got), KY_OK);
	assert_int_equal(got.n, 2);
	assert_int_equal(got.v[0].seq, 3);
	assert_int_equal(got.v[1].seq, 11);

	/* Nothing matches: an unknown object, a version it has not, a removed one, another
	 * collection's. */
	assert_int_equal(remove_versions(f, f->dflt, "indicator--00000000-0000-4000-8000-000000000000", 0, NULL, 0), 0);
	const char *none[] = {"2099-01-01T00:00:00.000Z"};
	assert_int_equal(remove_versions(f, f->dflt, IND1, 0, none, 1), 0);
	assert_int_equal(remove_versions(f, f->dflt, IND1, 0, v2, 1), 0);
	assert_int_equal(remove_versions(f, 12345, IND1, KY_STORE_ALL, NULL, 0), 0);
	assert_string_equal(last_of(f, f->dflt, &rs), M1 "," S1 "," I2 "," V15 "," K1);

	uint64_t removed = 7;
	const char *many[65];
	for (int i = 0; i < 65; i++)
		many[i] = "2017-01-01T00:00:00.000Z";
	assert_int_equal(ky_store_remove(f->s, f->dflt, IND1, 1u << 5, NULL, 0, NULL, 0, 0, 0, &removed), KY_EINVALID);
	assert_int_equal(removed, 0);
	assert_int_equal(ky_store_remove(f->s, f->dflt, IND1, 0, many, 65, NULL, 0, 0, 0, NULL), KY_EINVALID);
	assert_int_equal(ky_store_remove(f->s, f->dflt, "", 0, NULL, 0, NULL, 0, 0, 0, NULL), KY_EINVALID);
	assert_int_equal(ky_store_check(f->s), KY_OK);
	rows_clear(&rs);
}

/* --- Add Objects requests (TAXII 2.1 §5.5, statuses §4.3.1) ------------------------------------ */

#define REQ1 "5e7b3f0a-52a6-4f0e-9a3b-1c2d3e4f5a61"
#define REQ2 "5e7b3f0a-52a6-4f0e-9a3b-1c2d3e4f5a62"
#define REQ3 "5e7b3f0a-52a6-4f0e-9a3b-1c2d3e4f5a63"

static void add_request(fx *f, const char *id, int64_t received_us, uint64_t total, const char *envelope)
{
	ky_store_request r = {.collection_id = f->dflt, .received_us = received_us, .total = total};
	snprintf(r.id, sizeof(r.id), "%s", id);
	int rc = ky_store_request_add(f->s, &r, envelope, strlen(envelope));
	if (rc != KY_OK)
		fail_msg("request_add: %s", ky_error_last());
}

/* An envelope of n objects, about 180 bytes an object, in a malloc'd string. */
static char *envelope_of(int n)
{
	size_t cap = 256 + (size_t)n * 512, len = 0;
	char *out = malloc(cap);
	assert_non_null(out);
	len += (size_t)snprintf(out, cap, "{\"objects\": [");
	for (int i = 0; i < n; i++) {
		char id[80], b[512];
		snprintf(id, sizeof(id), "indicator--%08x-0000-4000-8000-000000000000", i);
		len += (size_t)snprintf(out + len, cap - len, "%s%s", i ? ",\n  " : "",
					sdo(b, sizeof(b), "indicator", id, "2016-01-01T00:00:00.000Z"));
	}
	snprintf(out + len, cap - len, "]}");
	return out;
}

static void test_request_add_and_get(void **state)
{
	fx *f = *state;
	open_new(f);
	ky_store_user u;
	assert_int_equal(ky_store_user_ensure(f->s, "alice", &operator, "requests", &u), KY_OK);
	ky_store_request r = {.collection_id = f->dflt, .user_id = u.id, .received_us = 1700000000123456, .total = 3,
			      .complete = true, .successes = 5};
	snprintf(r.id, sizeof(r.id), "%s", REQ1);
	assert_int_equal(ky_store_request_add(f->s, &r, "{\"objects\": []}", 15), KY_OK);
	ky_store_request got;
	assert_int_equal(ky_store_request_get(f->s, REQ1, &got), KY_OK);
	assert_string_equal(got.id, REQ1);
	assert_int_equal(got.collection_id, f->dflt);
	assert_int_equal(got.user_id, u.id);
	assert_int_equal(got.received_us, 1700000000123456);
	assert_false(got.complete);
	assert_int_equal(got.total, 3);
	assert_int_equal(got.successes, 0);
	assert_int_equal(got.failures, 0);

	/* The id is taken, whatever else differs. */
	r.received_us = 1;
	assert_int_equal(ky_store_request_add(f->s, &r, "{}", 2), KY_EEXISTS);
	assert_non_null(strstr(ky_error_last(), REQ1));
	assert_int_equal(ky_store_request_get(f->s, REQ1, &got), KY_OK);
	assert_int_equal(got.received_us, 1700000000123456);
	/* No such collection or user. */
	snprintf(r.id, sizeof(r.id), "%s", REQ2);
	r.collection_id = 12345;
	assert_int_equal(ky_store_request_add(f->s, &r, "{}", 2), KY_ENOTFOUND);
	assert_int_equal(ky_store_request_get(f->s, REQ2, &got), KY_ENOTFOUND);
	snprintf(r.id, sizeof(r.id), "%s", "");
	r.collection_id = f->dflt;
	assert_int_equal(ky_store_request_add(f->s, &r, "{}", 2), KY_EINVALID);
	assert_int_equal(ky_store_request_get(f->s, "", &got), KY_ENOTFOUND);
	assert_int_equal(ky_store_request_get(f->s, REQ1 "0", &got), KY_ENOTFOUND);
}

/* Claims take the oldest unheld request with its exact bytes; a held one is not claimed
 * again, on this connection or another, until its lease runs out. */
static void test_request_claim_and_lease(void **state)
{
	fx *f = *state;
	open_new(f);
	char *big = envelope_of(40);
	assert_true(strlen(big) > 6000);
	add_request(f, REQ2, 2000, 1, "{\"objects\": [{}]}");
	add_request(f, REQ1, 1000, 40, big);
	ky_store *other = NULL;
	assert_int_equal(ky_store_open(&other, f->path, NULL, NULL), KY_OK);

	ky_store_request r;
	char *envelope = NULL;
	size_t len = 0;
	assert_int_equal(ky_store_request_claim(f->s, 60000000, &r, &envelope, &len), KY_OK);
	assert_string_equal(r.id, REQ1);
	assert_int_equal(r.total, 40);
	assert_int_equal(len, strlen(big));
	assert_memory_equal(envelope, big, len);
	free(envelope);
	assert_int_equal(ky_store_request_claim(other, 60000000, &r, &envelope, &len), KY_OK);
	assert_string_equal(r.id, REQ2);
	assert_int_equal(len, 17);
	assert_memory_equal(envelope, "{\"objects\": [{}]}", 17);
	free(envelope);
	assert_int_equal(ky_store_request_claim(f->s, 60000000, &r, &envelope, &len), KY_ENOTFOUND);
	assert_null(envelope);
	assert_int_equal(ky_store_request_claim(other, 60000000, &r, &envelope, &len), KY_ENOTFOUND);

	/* A lease that runs out: the request is claimed again, by anyone. */
	add_request(f, REQ3, 3000, 1, "{\"objects\": [{}]}");
	assert_int_equal(ky_store_request_claim(f->s, 1, &r, &envelope, &len), KY_OK);
	assert_string_equal(r.id, REQ3);
	free(envelope);
	usleep(2000);
	assert_int_equal(ky_store_request_claim(other, 60000000, &r, &envelope, &len), KY_OK);
	assert_string_equal(r.id, REQ3);
	uint64_t token = r.token;
	assert_int_equal(token, 2);
	free(envelope);
	assert_int_equal(ky_store_request_claim(f->s, 60000000, &r, &envelope, &len), KY_ENOTFOUND);
	/* Recording renews a lease: a short one, renewed long, holds. */
	assert_int_equal(ky_store_request_record(other, REQ3, token, NULL, 0, 1), KY_OK);
	usleep(2000);
	assert_int_equal(ky_store_request_record(other, REQ3, token, NULL, 0, 60000000), KY_OK);
	assert_int_equal(ky_store_request_claim(f->s, 60000000, &r, &envelope, &len), KY_ENOTFOUND);
	assert_int_equal(ky_store_request_claim(f->s, 0, &r, &envelope, &len), KY_EINVALID);
	ky_store_close(other);
	free(big);
}

typedef struct outcome {
	uint64_t index;
	char *id, *version, *message;
	bool success;
} outcome;

typedef struct outcomes {
	outcome v[16];
	size_t n;
} outcomes;

static int take_outcome(void *ctx, const ky_store_request_object *o)
{
	outcomes *os = ctx;
	assert_true(os->n < 16);
	outcome *w = &os->v[os->n++];
	w->index = o->index;
	w->id = dup_or_null(o->id);
	w->version = dup_or_null(o->version);
	w->message = dup_or_null(o->message);
	w->success = o->success;
	return 0;
}

static void outcomes_clear(outcomes *os)
{
	for (size_t i = 0; i < os->n; i++) {
		free(os->v[i].id);
		free(os->v[i].version);
		free(os->v[i].message);
	}
	memset(os, 0, sizeof(*os));
}

/* Outcomes are kept by index (a second record of one replaces the first, and the counts are
 * of what is recorded); completing drops the envelope, and a complete request is not
 * claimed. */
static void test_request_record_and_complete(void **state)
{
	fx *f = *state;
	open_new(f);
	add_request(f, REQ1, 1000, 3, "{\"objects\": [1, 2, 3]}");
	ky_store_request_object first[] = {
		{.index = 2, .id = IND1, .version = "2016-01-01T00:00:00.000Z", .success = true},
		{.index = 0, .id = NULL, .version = NULL, .success = false, .message = "not a JSON object"},
	};
	assert_int_equal(ky_store_request_record(f->s, REQ1, 0, first, 2, 60000000), KY_OK);
	ky_store_request r;
	assert_int_equal(ky_store_request_get(f->s, REQ1, &r), KY_OK);
	assert_int_equal(r.successes, 1);
	assert_int_equal(r.failures, 1);
	/* Resumed: index 0 again, now a success; index 1 new, with an id and no version. */
	ky_store_request_object again[] = {
		{.index = 0, .id = MARK1, .version = "2017-01-20T00:00:00.000Z", .success = true},
		{.index = 1, .id = SCO1, .version = NULL, .success = false, .message = "spec_version: expected 2.1"},
	};
	assert_int_equal(ky_store_request_record(f->s, REQ1, 0, again, 2, 60000000), KY_OK);
	assert_int_equal(ky_store_request_record(f->s, REQ1, 0, again, 1, 60000000), KY_OK);
	assert_int_equal(ky_store_request_record(f->s, REQ1, 0, NULL, 0, 60000000), KY_OK);
	assert_int_equal(ky_store_request_get(f->s, REQ1, &r), KY_OK);
	assert_int_equal(r.successes, 2);
	assert_int_equal(r.failures, 1);
	assert_false(r.complete);

	outcomes os = {0};
	assert_int_equal(ky_store_request_objects(f->s, REQ1, take_outcome, &os), KY_OK);
	assert_int_equal(os.n, 3);
	assert_int_equal(os.v[0].index, 0);
	assert_string_equal(os.v[0].id, MARK1);
	assert_string_equal(os.v[0].version, "2017-01-20T00:00:00.000Z");
	assert_true(os.v[0].success);
	assert_null(os.v[0].message);
	assert_int_equal(os.v[1].index, 1);
	assert_string_equal(os.v[1].id, SCO1);
	assert_null(os.v[1].version);
	assert_false(os.v[1].success);
	assert_string_equal(os.v[1].message, "spec_version: expected 2.1");
	assert_int_equal(os.v[2].index, 2);
	assert_string_equal(os.v[2].id, IND1);
	outcomes_clear(&os);

	/* An index past the envelope is refused, and the whole record with it. */
	ky_store_request_object past[] = {
		{.index = 1, .id = SCO1, .success = true},
		{.index = 3, .id = IND2, .success = true},
	};
	assert_int_equal(ky_store_request_record(f->s, REQ1, 0, past, 2, 60000000), KY_EINVALID);
	assert_int_equal(ky_store_request_get(f->s, REQ1, &r), KY_OK);
	assert_int_equal(r.successes, 2);
	assert_int_equal(ky_store_request_objects(f->s, REQ1, take_outcome, &os), KY_OK);
	assert_false(os.v[1].success);
	outcomes_clear(&os);

	/* Complete: the envelope goes, the counts and outcomes stay, nobody claims it. */
	assert_int_equal(ky_store_request_complete(f->s, REQ1, 0), KY_OK);
	assert_int_equal(ky_store_request_get(f->s, REQ1, &r), KY_OK);
	assert_true(r.complete);
	assert_int_equal(r.total, 3);
	assert_int_equal(r.successes, 2);
	assert_int_equal(r.failures, 1);
	char text[64];
	raw_text(f->path, "SELECT count(*) FROM requests WHERE envelope IS NULL AND complete = 1", text, sizeof(text));
	assert_string_equal(text, "1");
	usleep(1000);
	char *envelope = NULL;
	size_t len = 0;
	assert_int_equal(ky_store_request_claim(f->s, 1, &r, &envelope, &len), KY_ENOTFOUND);
	assert_int_equal(ky_store_request_objects(f->s, REQ1, take_outcome, &os), KY_OK);
	assert_int_equal(os.n, 3);
	outcomes_clear(&os);

	/* Unknown requests. */
	assert_int_equal(ky_store_request_record(f->s, REQ2, 0, first, 1, 1000), KY_ENOTFOUND);
	assert_int_equal(ky_store_request_complete(f->s, REQ2, 0), KY_ENOTFOUND);
	assert_int_equal(ky_store_request_objects(f->s, REQ2, take_outcome, &os), KY_OK);
	assert_int_equal(os.n, 0);
}

enum { CLAIMERS = 4, CLAIM_REQUESTS = 40 };

typedef struct claimer {
	const char *path;
	pthread_barrier_t *start;
	int claimed[CLAIM_REQUESTS];
	int n;
	char error[512];
} claimer;

static void *claim_main(void *arg)
{
	claimer *c = arg;
	ky_store *s = NULL;
	if (ky_store_open(&s, c->path, NULL, NULL) != KY_OK)
		snprintf(c->error, sizeof(c->error), "open: %s", ky_error_last());
	pthread_barrier_wait(c->start);
	while (s != NULL) {
		ky_store_request r;
		char *envelope = NULL;
		size_t len = 0;
		int rc = ky_store_request_claim(s, 600000000, &r, &envelope, &len);
		if (rc == KY_EBUSY)
			continue;
		if (rc == KY_ENOTFOUND)
			break;
		if (rc != KY_OK) {
			snprintf(c->error, sizeof(c->error), "claim: %s", ky_error_last());
			break;
		}
		char text[16];
		snprintf(text, sizeof(text), "%.*s", (int)len, envelope);
		int i = atoi(text);
		if (i < 0 || i >= CLAIM_REQUESTS || c->n == CLAIM_REQUESTS)
			snprintf(c->error, sizeof(c->error), "claimed %s", text);
		else
			c->claimed[c->n++] = i;
		free(envelope);
	}
	ky_store_close(s);
	return NULL;
}

/* Connections claiming at once never get the same request, and all of them get claimed. */
static void test_request_claim_concurrent(void **state)
{
	fx *f = *state;
	open_new(f);
	for (int i = 0; i < CLAIM_REQUESTS; i++) {
		char id[37], envelope[16];
		snprintf(id, sizeof(id), "00000000-0000-4000-8000-%012d", i);
		snprintf(envelope, sizeof(envelope), "%d", i);
		add_request(f, id, 1000 + i, 1, envelope);
	}
	pthread_barrier_t start;
	pthread_barrier_init(&start, NULL, CLAIMERS);
	claimer c[CLAIMERS];
	pthread_t t[CLAIMERS];
	memset(c, 0, sizeof(c));
	for (int i = 0; i < CLAIMERS; i++) {
		c[i].path = f->path;
		c[i].start = &start;
		assert_int_equal(pthread_create(&t[i], NULL, claim_main, &c[i]), 0);
	}
	for (int i = 0; i < CLAIMERS; i++)
		pthread_join(t[i], NULL);
	pthread_barrier_destroy(&start);
	int seen[CLAIM_REQUESTS] = {0};
	for (int i = 0; i < CLAIMERS; i++) {
		if (c[i].error[0])
			fail_msg("claimer %d: %s", i, c[i].error);
		for (int j = 0; j < c[i].n; j++)
			seen[c[i].claimed[j]]++;
	}
	for (int i = 0; i < CLAIM_REQUESTS; i++)
		if (seen[i] != 1)
			fail_msg("request %d claimed %d times", i, seen[i]);
}

/* Every recorded outcome of request id, into *out (the caller clears it: outcomes_clear). */
static void outcomes_of(fx *f, const char *id, outcomes *out)
{
	memset(out, 0, sizeof(*out));
	assert_int_equal(ky_store_request_objects(f->s, id, take_outcome, out), KY_OK);
}

/* Issue 11, defect 9: a holder whose lease ran out and whose request another connection then
 * claimed can neither record nor complete it (its claim's token is checked in the writing
 * transaction), and changes nothing trying; the new holder can. The lease runs out on the
 * store's test clock, without waiting. */
static void test_request_fencing(void **state)
{
	fx *f = *state;
	open_new(f);
	add_request(f, REQ1, 1000, 3, "{\"objects\": [1, 2, 3]}");
	ky_store *other = NULL;
	assert_int_equal(ky_store_open(&other, f->path, NULL, NULL), KY_OK);
	const int64_t lease = 15000000;
	ky_store_request first, second, r;
	char *envelope = NULL;
	size_t len = 0;
	assert_int_equal(ky_store_request_claim(f->s, lease, &first, &envelope, &len), KY_OK);
	free(envelope);
	assert_string_equal(first.id, REQ1);
	assert_int_equal(first.token, 1);
	ky_store_request_object one[] = {{.index = 0, .id = IND1, .version = "2016-01-01T00:00:00.000Z", .success = true}};
	assert_int_equal(ky_store_request_record(f->s, REQ1, first.token, one, 1, lease), KY_OK);
	assert_int_equal(ky_store_request_claim(other, lease, &second, &envelope, &len), KY_ENOTFOUND);

	/* The first holder stalls past its lease, as during a PostgreSQL reconnection. */
	ky_clock_test_offset(lease + 1000000);
	assert_int_equal(ky_store_request_claim(other, lease, &second, &envelope, &len), KY_OK);
	free(envelope);
	assert_string_equal(second.id, REQ1);
	assert_true(second.token > first.token);
	char lease_before[32], lease_after[32], text[32];
	raw_text(f->path, "SELECT lease_until_us FROM requests", lease_before, sizeof(lease_before));

	/* It comes back: every write of its claim is refused, and nothing changes. */
	ky_store_request_object late[] = {
		{.index = 0, .id = IND1, .success = false, .message = "late"},
		{.index = 1, .id = IND2, .success = true},
	};
	assert_int_equal(ky_store_request_record(f->s, REQ1, first.token, late, 2, lease), KY_ESTALE);
	assert_non_null(strstr(ky_error_last(), "the claim on request " REQ1 " was taken over"));
	assert_int_equal(ky_store_request_record(f->s, REQ1, first.token, NULL, 0, 60 * lease), KY_ESTALE);
	assert_int_equal(ky_store_request_complete(f->s, REQ1, first.token), KY_ESTALE);
	assert_non_null(strstr(ky_error_last(), "the claim on request " REQ1 " was taken over"));
	assert_int_equal(ky_store_request_abandon(f->s, REQ1, first.token), KY_ESTALE);
	assert_int_equal(ky_store_request_get(f->s, REQ1, &r), KY_OK);
	assert_false(r.complete);
	assert_int_equal(r.successes, 1);
	assert_int_equal(r.failures, 0);
	assert_int_equal(r.token, second.token);
	outcomes os;
	outcomes_of(f, REQ1, &os);
	assert_int_equal(os.n, 1);
	assert_true(os.v[0].success);
	outcomes_clear(&os);
	raw_text(f->path, "SELECT lease_until_us FROM requests", lease_after, sizeof(lease_after));
	assert_string_equal(lease_before, lease_after);
	raw_text(f->path, "SELECT count(*) FROM requests WHERE envelope IS NOT NULL", text, sizeof(text));
	assert_string_equal(text, "1");

	/* The new holder's writes succeed. */
	ky_store_request_object rest[] = {
		{.index = 1, .id = IND2, .version = "2016-01-01T00:00:00.000Z", .success = true},
		{.index = 2, .id = NULL, .success = false, .message = "not a JSON object"},
	};
	assert_int_equal(ky_store_request_record(other, REQ1, second.token, rest, 2, lease), KY_OK);
	assert_int_equal(ky_store_request_complete(other, REQ1, second.token), KY_OK);
	assert_int_equal(ky_store_request_get(f->s, REQ1, &r), KY_OK);
	assert_true(r.complete);
	assert_int_equal(r.successes, 2);
	assert_int_equal(r.failures, 1);
	/* And the old claim still cannot touch the outcome. */
	assert_int_equal(ky_store_request_record(f->s, REQ1, first.token, late, 2, lease), KY_ESTALE);
	assert_int_equal(ky_store_request_get(f->s, REQ1, &r), KY_OK);
	assert_int_equal(r.successes, 2);
	ky_store_close(other);
}

/* Issue 11, defect 2: outcomes that are not UTF-8 are recorded, cut before their first bad
 * byte and marked, so that PostgreSQL takes them and the request can complete; valid text,
 * multibyte characters included, is kept as it is. "\xE3\x81" is "あ" (E3 81 82) cut after
 * two bytes, as a byte-count cut leaves it. */
static void test_request_record_not_utf8(void **state)
{
	fx *f = *state;
	open_new(f);
	add_request(f, REQ1, 1000, 3, "{\"objects\": [1, 2, 3]}");
	ky_store_request r;
	char *envelope = NULL;
	size_t len = 0;
	assert_int_equal(ky_store_request_claim(f->s, 60000000, &r, &envelope, &len), KY_OK);
	free(envelope);
	ky_store_request_object objects[] = {
		{.index = 0, .id = IND1, .version = "2016-01-01T00:00:00.000Z", .success = false,
		 .message = "valid_from: \"あああ\xE3\x81"},
		{.index = 1, .id = "indicator--\xFF", .version = "2016-01-01T00:00:00.000Z\xC0\xAF", .success = false,
		 .message = "\xE3\x81"},
		{.index = 2, .id = IND2, .success = false, .message = "name: \"あ\" is not allowed"},
	};
	int rc = ky_store_request_record(f->s, REQ1, r.token, objects, 3, 60000000);
	if (rc != KY_OK)
		fail_msg("record: %s", ky_error_last());
	outcomes os;
	outcomes_of(f, REQ1, &os);
	assert_int_equal(os.n, 3);
	assert_string_equal(os.v[0].id, IND1);
	assert_string_equal(os.v[0].message, "valid_from: \"あああ (cut: not UTF-8)");
	assert_string_equal(os.v[1].id, "indicator-- (cut: not UTF-8)");
	assert_string_equal(os.v[1].version, "2016-01-01T00:00:00.000Z (cut: not UTF-8)");
	assert_string_equal(os.v[1].message, "(cut: not UTF-8)");
	assert_string_equal(os.v[2].message, "name: \"あ\" is not allowed");
	outcomes_clear(&os);
	assert_int_equal(ky_store_request_complete(f->s, REQ1, r.token), KY_OK);
	assert_int_equal(ky_store_request_get(f->s, REQ1, &r), KY_OK);
	assert_true(r.complete);
	assert_int_equal(r.failures, 3);
}

/* Issue 11, defect 2: a request that stops every processor that claims it is not tried
 * forever. After KY_STORE_REQUEST_CLAIMS_MAX claims, the next claim completes it, every
 * object without an outcome failed, and takes the next request instead. */
static void test_request_claims_limit(void **state)
{
	fx *f = *state;
	open_new(f);
	add_request(f, REQ1, 1000, 3, "{\"objects\": [1, 2, 3]}");
	add_request(f, REQ2, 2000, 1, "{\"objects\": [1]}");
	ky_store_request r;
	char *envelope = NULL;
	size_t len = 0;
	int64_t clock = 0;
	for (uint64_t i = 1; i <= KY_STORE_REQUEST_CLAIMS_MAX; i++) {
		assert_int_equal(ky_store_request_claim(f->s, 1000000, &r, &envelope, &len), KY_OK);
		free(envelope);
		assert_string_equal(r.id, REQ1);
		assert_int_equal(r.token, i);
		if (i == 1) {
			ky_store_request_object one[] = {{.index = 1, .id = IND1, .success = true}};
			assert_int_equal(ky_store_request_record(f->s, REQ1, r.token, one, 1, 1000000), KY_OK);
		}
		/* The processor dies with it: its lease runs out. */
		clock += 2000000;
		ky_clock_test_offset(clock);
	}
	assert_int_equal(ky_store_request_claim(f->s, 1000000, &r, &envelope, &len), KY_OK);
	free(envelope);
	assert_string_equal(r.id, REQ2);
	assert_int_equal(r.token, 1);
	assert_int_equal(ky_store_request_get(f->s, REQ1, &r), KY_OK);
	assert_true(r.complete);
	assert_int_equal(r.successes, 1);
	assert_int_equal(r.failures, 2);
	outcomes os;
	outcomes_of(f, REQ1, &os);
	assert_int_equal(os.n, 3);
	assert_false(os.v[0].success);
	assert_string_equal(os.v[0].message, KY_STORE_REQUEST_UNRECORDED);
	assert_true(os.v[1].success);
	assert_null(os.v[1].message);
	assert_string_equal(os.v[2].message, KY_STORE_REQUEST_UNRECORDED);
	outcomes_clear(&os);
	char text[32];
	raw_text(f->path, "SELECT count(*) FROM requests WHERE envelope IS NULL AND complete = 1", text, sizeof(text));
	assert_string_equal(text, "1");
	clock += 2000000;
	ky_clock_test_offset(clock);
	assert_int_equal(ky_store_request_claim(f->s, 1000000, &r, &envelope, &len), KY_OK);
	free(envelope);
	assert_string_equal(r.id, REQ2);
	assert_int_equal(r.token, 2);
}

/* A holder that cannot record a request's outcomes completes it as failed: a final status,
 * the outcomes recorded so far kept. */
static void test_request_abandon(void **state)
{
	fx *f = *state;
	open_new(f);
	add_request(f, REQ1, 1000, 4, "{\"objects\": [1, 2, 3, 4]}");
	add_request(f, REQ2, 2000, 0, "{}");
	ky_store_request r;
	char *envelope = NULL;
	size_t len = 0;
	assert_int_equal(ky_store_request_claim(f->s, 60000000, &r, &envelope, &len), KY_OK);
	free(envelope);
	ky_store_request_object one[] = {{.index = 1, .id = IND1, .success = true}};
	assert_int_equal(ky_store_request_record(f->s, REQ1, r.token, one, 1, 60000000), KY_OK);
	assert_int_equal(ky_store_request_abandon(f->s, REQ1, r.token + 1), KY_ESTALE);
	assert_int_equal(ky_store_request_abandon(f->s, REQ1, r.token), KY_OK);
	assert_int_equal(ky_store_request_abandon(f->s, REQ1, r.token), KY_OK);
	uint64_t token = r.token;
	assert_int_equal(ky_store_request_get(f->s, REQ1, &r), KY_OK);
	assert_true(r.complete);
	assert_int_equal(r.token, token);
	assert_int_equal(r.successes, 1);
	assert_int_equal(r.failures, 3);
	outcomes os;
	outcomes_of(f, REQ1, &os);
	assert_int_equal(os.n, 4);
	assert_string_equal(os.v[0].message, KY_STORE_REQUEST_UNRECORDED);
	assert_null(os.v[0].id);
	assert_true(os.v[1].success);
	assert_string_equal(os.v[3].message, KY_STORE_REQUEST_UNRECORDED);
	outcomes_clear(&os);
	/* An empty envelope: nothing to fail, and it is complete. */
	assert_int_equal(ky_store_request_claim(f->s, 60000000, &r, &envelope, &len), KY_OK);
	free(envelope);
	assert_string_equal(r.id, REQ2);
	assert_int_equal(ky_store_request_abandon(f->s, REQ2, r.token), KY_OK);
	assert_int_equal(ky_store_request_get(f->s, REQ2, &r), KY_OK);
	assert_true(r.complete);
	assert_int_equal(r.failures, 0);
	assert_int_equal(ky_store_request_claim(f->s, 60000000, &r, &envelope, &len), KY_ENOTFOUND);
	assert_int_equal(ky_store_request_abandon(f->s, REQ3, 1), KY_ENOTFOUND);
}

/* Issue 11, defect 10 (PostgreSQL): a write whose connection is cut after its COMMIT reached
 * the server and was answered, the answer dropped (ky_store_test_cut_after_commit), is run
 * again after reconnecting; the retry finds that the first attempt committed and reports what
 * one run reports: no duplicate row, no spurious error. */
static void test_pg_writes_safe_to_repeat(void **state)
{
	fx *f = *state;
	if (!pg())
		skip();
	open_new(f);
	char text[64];
	int rc;

	ky_store_collection c;
	ky_store_test_cut_after_commit(f->s, 1);
	rc = ky_store_collection_create(f->s, NULL, "cut", "Cut", "after its commit", &c);
	if (rc != KY_OK)
		fail_msg("collection_create: %s", ky_error_last());
	assert_string_equal(c.name, "cut");
	ky_store_collection_clear(&c);
	raw_text(f->path, "SELECT count(*) FROM collections WHERE name = 'cut'", text, sizeof(text));
	assert_string_equal(text, "1");

	/* A council write finds its own record of the change: made once, reported as made. */
	ky_store_user u;
	ky_store_test_cut_after_commit(f->s, 1);
	rc = ky_store_user_ensure(f->s, "alice", &operator, "cut", &u);
	if (rc != KY_OK)
		fail_msg("user_ensure: %s", ky_error_last());
	assert_true(u.created);
	assert_string_equal(u.member, "secretariat");
	raw_text(f->path,
		 "SELECT (SELECT count(*) FROM users) || ' ' || (SELECT count(*) FROM changes WHERE action = 'user.add')",
		 text, sizeof(text));
	assert_string_equal(text, "1 1");
	uint8_t hash[KY_STORE_KEY_HASH_SIZE] = {1, 2, 3};
	int64_t key_id = 0;
	ky_store_test_cut_after_commit(f->s, 1);
	rc = ky_store_key_add(f->s, u.id, "kyk_cut1", hash, &operator, "cut", &key_id);
	if (rc != KY_OK)
		fail_msg("key_add: %s", ky_error_last());
	ky_store_key k;
	assert_int_equal(ky_store_key_find(f->s, hash, &k), KY_OK);
	assert_int_equal(k.id, key_id);
	raw_text(f->path,
		 "SELECT (SELECT count(*) FROM api_keys) || ' ' ||"
		 " (SELECT count(*) FROM changes WHERE action = 'key.create')",
		 text, sizeof(text));
	assert_string_equal(text, "1 1");

	ky_store_test_cut_after_commit(f->s, 1);
	rc = ky_store_key_revoke(f->s, "kyk_cut1", &operator, "cut", &k);
	if (rc != KY_OK)
		fail_msg("key_revoke: %s", ky_error_last());
	assert_int_equal(k.id, key_id);
	assert_true(k.revoked_us != 0);
	assert_int_equal(ky_store_key_find(f->s, hash, &k), KY_ENOTFOUND);
	raw_text(f->path, "SELECT count(*) FROM changes WHERE action = 'key.revoke'", text, sizeof(text));
	assert_string_equal(text, "1");

	char b1[512], b2[512];
	commit1(f->s, f->dflt, sdo(b1, sizeof(b1), "indicator", IND1, "2016-01-01T00:00:00.000Z"), NULL, NULL);
	commit1(f->s, f->dflt, sdo(b2, sizeof(b2), "indicator", IND1, "2017-01-01T00:00:00.000Z"), NULL, NULL);
	uint64_t removed = 0;
	ky_store_test_cut_after_commit(f->s, 1);
	rc = ky_store_remove(f->s, f->dflt, IND1, KY_STORE_ALL, NULL, 0, NULL, 0, 0, u.id, &removed);
	if (rc != KY_OK)
		fail_msg("remove: %s", ky_error_last());
	assert_int_equal(removed, 2);
	raw_text(f->path, "SELECT (SELECT count(*) FROM removals) || ' ' || (SELECT count(*) FROM entries)", text,
		 sizeof(text));
	assert_string_equal(text, "2 0");

	/* Outcomes under a claim: recording again is harmless, the token still the holder's. */
	add_request(f, REQ1, 1000, 2, "{\"objects\": [1, 2]}");
	ky_store_request r;
	char *envelope = NULL;
	size_t len = 0;
	assert_int_equal(ky_store_request_claim(f->s, 60000000, &r, &envelope, &len), KY_OK);
	free(envelope);
	ky_store_request_object one[] = {{.index = 0, .id = IND1, .success = true}};
	ky_store_test_cut_after_commit(f->s, 1);
	assert_int_equal(ky_store_request_record(f->s, REQ1, r.token, one, 1, 60000000), KY_OK);
	ky_store_test_cut_after_commit(f->s, 1);
	assert_int_equal(ky_store_request_abandon(f->s, REQ1, r.token), KY_OK);
	ky_store_test_cut_after_commit(f->s, 1);
	assert_int_equal(ky_store_request_complete(f->s, REQ1, r.token), KY_OK);
	assert_int_equal(ky_store_request_get(f->s, REQ1, &r), KY_OK);
	assert_true(r.complete);
	assert_int_equal(r.successes, 1);
	assert_int_equal(r.failures, 1);
	ky_store_test_cut_after_commit(f->s, 0);
}

/* Issue 11, defect 3: no store message shows a password, in a URI's userinfo or as a
 * parameter, also when libpq cannot read the URI (its own message quotes where it stopped).
 * No server is needed: the hosts do not exist. */
static void test_open_hides_password(void **state)
{
	(void)state;
	const char *const uris[] = {
		"postgresql:///nodb?host=/nonexistent&password=sekr1t",
		"postgresql://u:sekr1t@/nodb?host=/nonexistent",
		"postgres:///nodb?host=/nonexistent&password=sekr1t%zz",
		"postgresql:///nodb?password=sekr1t&host=/nonexistent&nosuchparameter=1",
	};
	for (size_t i = 0; i < sizeof(uris) / sizeof(uris[0]); i++) {
		ky_store *s = NULL;
		assert_int_not_equal(ky_store_open(&s, uris[i], NULL, NULL), KY_OK);
		assert_null(s);
		if (strstr(ky_error_last(), "sekr1t") != NULL || strstr(ky_error_last(), "nodb") == NULL)
			fail_msg("open %s: %s", uris[i], ky_error_last());
		assert_int_not_equal(ky_store_migrate(uris[i], NULL, NULL), KY_OK);
		if (strstr(ky_error_last(), "sekr1t") != NULL || strstr(ky_error_last(), "nodb") == NULL)
			fail_msg("migrate %s: %s", uris[i], ky_error_last());
	}
}

/* --- migrations ------------------------------------------------------------------------- */

static char *read_text(const char *path)
{
	FILE *in = fopen(path, "rb");
	if (in == NULL)
		fail_msg("cannot read %s", path);
	fseek(in, 0, SEEK_END);
	long n = ftell(in);
	fseek(in, 0, SEEK_SET);
	char *text = malloc((size_t)n + 1);
	assert_int_equal(fread(text, 1, (size_t)n, in), (size_t)n);
	text[n] = '\0';
	fclose(in);
	return text;
}

/* Loads the schema-1 fixture of the backend under test. */
static void load_schema1(const char *path)
{
	char *sql = read_text(pg() ? schema1_pg_sql_path : schema1_sql_path);
	raw_exec(path, sql);
	free(sql);
}

/* A hub as the build of schema `version` left it: the schema-1 fixture moved on by the
 * migrations to that version, as kyoyu migrate ran them then. */
static void load_old_hub(const char *path, int version)
{
	load_schema1(path);
	for (int v = 1; v < version; v++) {
		char *sql = NULL;
		assert_int_equal(ky_store_migration_sql(v, pg() ? '$' : '?', &sql), KY_OK);
		raw_exec(path, sql);
		free(sql);
	}
}

typedef struct council {
	ky_store_member secretariat;
	int secretariats, members;
	int users, admins;       /* users, and those that are admins of the secretariat */
} council;

static int take_member(void *ctx, const ky_store_member *m)
{
	council *c = ctx;
	c->members++;
	if (m->tier == KY_TIER_SECRETARIAT && c->secretariats++ == 0)
		c->secretariat = *m;
	return 0;
}

static int take_user(void *ctx, const ky_store_user *u)
{
	council *c = ctx;
	c->users++;
	c->admins += u->member_id == c->secretariat.id && u->role == KY_ROLE_ADMIN &&
		     strcmp(u->member, "secretariat") == 0;
	return 0;
}

/* A hub migrated to schema 6 has one member, its secretariat, named so, with an identity
 * id "identity--<UUID>", and every user is one of its admins: returns how many users. */
static int assert_secretariat_only(const char *path)
{
	ky_store *s = NULL;
	if (ky_store_open(&s, path, NULL, NULL) != KY_OK)
		fail_msg("open %s: %s", path, ky_error_last());
	council c = {0};
	assert_int_equal(ky_store_member_list(s, NULL, 0, take_member, &c, NULL), KY_OK);
	assert_int_equal(c.secretariats, 1);
	assert_int_equal(c.members, 1);
	assert_string_equal(c.secretariat.name, "secretariat");
	assert_false(c.secretariat.suspended);
	const char *id = c.secretariat.identity_id;
	assert_memory_equal(id, "identity--", 10);
	assert_int_equal(strlen(id), 10 + 36);
	for (int i = 0; i < 36; i++) {
		char ch = id[10 + i];
		if (i == 8 || i == 13 || i == 18 || i == 23)
			assert_int_equal(ch, '-');
		else
			assert_non_null(strchr("0123456789abcdef", ch));
	}
	char *identity = NULL;
	assert_int_equal(ky_store_member_identity(s, "secretariat", &identity), KY_OK);
	assert_non_null(strstr(identity, id));
	free(identity);
	assert_int_equal(ky_store_user_list(s, 0, NULL, 0, take_user, &c, NULL), KY_OK);
	assert_int_equal(c.admins, c.users);
	ky_store_close(s);
	return c.users;
}

/* The fixture is what migration 0 creates: a new hub's schema without the tables of
 * schemas 2, 3, 4 and 6. */
/* Takes out of a schema what migration 6 added to migration 0's versions table: SQLite
 * keeps it in the table's text, PostgreSQL as rows of its own. */
static void without_version_provider(char *schema)
{
	static const char *const added[] = {",provider_idINTEGERREFERENCESmembers(id),tlpINTEGER,partsTEXT,sharedBLOB",
					    "versionsprovider_id", "versionstlp", "versionsparts", "versionsshared",
					    "versionsversions_provider_id_fkey"};
	for (size_t i = 0; i < sizeof(added) / sizeof(added[0]); i++) {
		char *at;
		while ((at = strstr(schema, added[i])) != NULL) {
			/* A row of its own (PostgreSQL's) goes with its newline. */
			size_t n = i == 0 ? strlen(added[i]) : strcspn(at, "\n") + 1;
			memmove(at, at + n, strlen(at + n) + 1);
		}
	}
}

static void test_migrate_fixture_matches_migration_0(void **state)
{
	fx *f = *state;
	open_new(f);
	char other[LOCATION_MAX];
	new_location(f, "old.db", other);
	load_schema1(other);
	/* Later migrations' tables and index are not migration 0's. */
	raw_exec(f->path, "DROP INDEX entries_by_date_added;");
	char *now = schema_of(f->path, "derived,users,api_keys,secrets,removals,requests,request_objects,sectors,members,"
				       "member_sectors,groups,group_members,rules,rule_acceptances,changes,version_access,"
				       "entry_access,access_conjunctions,audit,audit_buckets,audit_head,audit_checkpoints,"
				       "reports,report_objects,feedback,promotion_rules,notifications,contribution_settings,"
				       "rfis,rfi_addressees,consultations,consultation_parties,consultation_keys,"
				       "consultation_messages,events,webhooks,webhook_bodies,webhook_deliveries,"
				       "webhook_cursor");
	without_version_provider(now);
	char *old = schema_of(other, NULL);
	assert_string_equal(old, now);
	free(now);
	free(old);
}

/* One migration list for both backends (store_migrations.c): every token is expanded, the
 * PostgreSQL-only `commits` goes to PostgreSQL alone, each text ends by moving the version,
 * and there is no migration past the current schema. */
static void test_migration_sql_dialects(void **state)
{
	(void)state;
	for (int v = 0; v < KY_STORE_SCHEMA_VERSION; v++) {
		char *lite = NULL, *pgsql = NULL, bump[64];
		snprintf(bump, sizeof(bump), "UPDATE kyoyu_schema SET version = %d;", v + 1);
		assert_int_equal(ky_store_migration_sql(v, '?', &lite), KY_OK);
		assert_int_equal(ky_store_migration_sql(v, '$', &pgsql), KY_OK);
		assert_null(strchr(lite, '{'));
		assert_null(strchr(pgsql, '{'));
		assert_null(strstr(lite, "bigint"));
		assert_null(strstr(pgsql, "INTEGER"));
		assert_null(strstr(lite, "commits"));
		assert_true(v != 0 || strstr(pgsql, "CREATE TABLE commits (token text PRIMARY KEY") != NULL);
		assert_string_equal(lite + strlen(lite) - strlen(bump), bump);
		assert_string_equal(pgsql + strlen(pgsql) - strlen(bump), bump);
		free(lite);
		free(pgsql);
	}
	char *none = (char *)"unset";
	assert_int_equal(ky_store_migration_sql(KY_STORE_SCHEMA_VERSION, '?', &none), KY_EINVALID);
	assert_null(none);
	assert_int_equal(ky_store_migration_sql(-1, '$', &none), KY_EINVALID);
	char out[64];
	ky_store_sql_marks("SELECT $1, $12 FROM t WHERE a = '$' AND b = $2", '?', out);
	assert_string_equal(out, "SELECT ?1, ?12 FROM t WHERE a = '$' AND b = ?2");
}

static void test_migrate_from_schema_1(void **state)
{
	fx *f = *state;
	load_schema1(f->path);
	ky_store *s = NULL;
	ky_store_options options = {.create = true};
	assert_int_equal(ky_store_open(&s, f->path, NULL, NULL), KY_ESCHEMA);
	assert_non_null(strstr(ky_error_last(), "run kyoyu migrate"));
	assert_int_equal(ky_store_open(&s, f->path, &options, NULL), KY_ESCHEMA);
	assert_null(s);

	int from = 0, to = 0;
	assert_int_equal(ky_store_migrate(f->path, &from, &to), KY_OK);
	assert_int_equal(from, 1);
	assert_int_equal(to, KY_STORE_SCHEMA_VERSION);
	assert_int_equal(KY_STORE_SCHEMA_VERSION, 16);
	char text[32];
	raw_text(f->path, "SELECT version FROM kyoyu_schema", text, sizeof(text));
	assert_string_equal(text, "16");
	/* Its council is its secretariat alone (schema 1 had no users). */
	assert_int_equal(assert_secretariat_only(f->path), 0);
	/* Now the same schema as a hub created at 6. */
	char fresh[LOCATION_MAX];
	new_location(f, "fresh.db", fresh);
	ky_store *t = NULL;
	assert_int_equal(ky_store_open(&t, fresh, &options, NULL), KY_OK);
	ky_store_close(t);
	char *a = schema_of(fresh, NULL), *b = schema_of(f->path, NULL);
	assert_string_equal(a, b);
	free(a);
	free(b);

	/* It opens, and the old data reads back as it was. */
	bool created = true;
	assert_int_equal(ky_store_open(&f->s, f->path, NULL, &created), KY_OK);
	assert_false(created);
	assert_int_equal(ky_store_schema_version(f->s), KY_STORE_SCHEMA_VERSION);
	ky_store_collection c;
	assert_int_equal(ky_store_collection_find(f->s, "default", &c), KY_OK);
	assert_string_equal(c.uuid, "3b4e9c1a-6f0d-4c52-9a7e-2d8f1b6c0e54");
	f->dflt = c.id;
	ky_store_collection_clear(&c);
	rows rs = {0};
	ky_store_query q = {.scope = &ky_store_operator_scope, .collection_id = f->dflt, .versions = KY_STORE_ALL};
	run(f->s, &q, &rs, NULL);
	assert_int_equal(rs.n, 4);
	assert_int_equal(rs.v[0].seq, 1);
	assert_int_equal(rs.v[3].seq, 4);
	assert_int_equal(rs.v[3].date, 1700000004000001);
	assert_non_null(strstr(rs.v[0].raw, "\n  \"created\": \"2016-04-06T20:03:48.000Z\", \"modified\""));
	assert_non_null(strstr(rs.v[0].raw, "'198.51.100.1'"));
	assert_memory_equal(rs.v[2].raw, "{ \"type\" : \"ipv4-addr\"", 22);
	q.versions = 0;
	run(f->s, &q, &rs, NULL);
	assert_string_equal(summary(&rs), IND1 "@2017-01-01T00:00:00.5Z," SCO1 "@," MARK1 "@2017-01-20T00:00:00.000Z");

	/* Adding goes on from the old counter, duplicates recognised across the migration. */
	char b1[512], b2[512];
	const char *raws[] = {
		sdo(b1, sizeof(b1), "indicator", IND1, "2017-01-01T00:00:00.500Z"),
		sdo(b2, sizeof(b2), "indicator", IND1, "2018-01-01T00:00:00.000Z"),
	};
	ky_store_status st[2];
	uint64_t seqs[2];
	commit(f->s, f->dflt, raws, 2, st, seqs);
	assert_int_equal(st[0], KY_STORE_DUPLICATE);
	assert_int_equal(st[1], KY_STORE_STORED);
	assert_int_equal(seqs[1], 5);
	run(f->s, &q, &rs, NULL);
	assert_string_equal(summary(&rs), SCO1 "@," MARK1 "@2017-01-20T00:00:00.000Z," IND1 "@2018-01-01T00:00:00.000Z");
	ky_store_query after = {.scope = &ky_store_operator_scope, .collection_id = f->dflt, .versions = KY_STORE_ALL, .after = 4};
	run(f->s, &after, &rs, NULL);
	assert_int_equal(rs.n, 1);
	assert_true(rs.v[0].date > 1700000004000001);
	ky_store_stats stats;
	assert_int_equal(ky_store_stats_get(f->s, &stats), KY_OK);
	assert_int_equal(stats.versions, 5);
	assert_int_equal(stats.last_seq, 5);
	assert_int_equal(ky_store_check(f->s), KY_OK);
	rows_clear(&rs);
}

/* A hub at schema 2 (one made now, without schema 3's tables nor 4's index and tables)
 * migrates to the current schema: the same schema as a new hub, its objects untouched, and
 * users, keys and secrets work. */
static void test_migrate_from_schema_2(void **state)
{
	fx *f = *state;
	open_new(f);
	char b[512];
	commit1(f->s, f->dflt, sdo(b, sizeof(b), "indicator", IND1, "2016-01-01T00:00:00.000Z"), NULL, NULL);
	ky_store_close(f->s);
	f->s = NULL;
	char *fresh = schema_of(f->path, NULL);
	raw_exec(f->path, "DROP TABLE webhook_cursor; DROP TABLE webhook_deliveries; DROP TABLE webhook_bodies;"
			 " DROP TABLE webhooks; DROP TABLE events; DROP TABLE consultation_messages; DROP TABLE consultation_keys;"
			 " DROP TABLE consultation_parties; DROP TABLE consultations;"
			 " DROP TABLE rfi_addressees; DROP TABLE rfis;"
			 " DROP TABLE contribution_settings; DROP TABLE notifications; DROP TABLE promotion_rules;"
			 " DROP TABLE feedback;"
			 " DROP TABLE report_objects; DROP TABLE reports;"
			 " DROP TABLE audit_checkpoints; DROP TABLE audit_head; DROP TABLE audit_buckets; DROP TABLE audit;"
			 " ALTER TABLE versions DROP COLUMN shared;"
			 " DROP TABLE access_conjunctions; ALTER TABLE versions DROP COLUMN parts;"
			 " DROP TABLE entry_access; DROP TABLE version_access; ALTER TABLE versions DROP COLUMN provider_id;"
			 " ALTER TABLE versions DROP COLUMN tlp;"
			 " DROP TABLE changes; DROP TABLE rule_acceptances; DROP TABLE rules; DROP TABLE group_members;"
			 " DROP TABLE groups; DROP TABLE member_sectors;"
			 " DROP INDEX entries_by_date_added; DROP TABLE request_objects; DROP TABLE requests;"
			 " DROP TABLE removals; DROP TABLE api_keys; DROP TABLE users; DROP TABLE secrets;"
			 " DROP TABLE members; DROP TABLE sectors; UPDATE kyoyu_schema SET version = 2;");
	assert_int_equal(ky_store_open(&f->s, f->path, NULL, NULL), KY_ESCHEMA);
	char expected_2[64];
	snprintf(expected_2, sizeof(expected_2), "version 2 and this kyoyu uses %d: run kyoyu migrate",
		 KY_STORE_SCHEMA_VERSION);
	assert_non_null(strstr(ky_error_last(), expected_2));

	int from = 0, to = 0;
	assert_int_equal(ky_store_migrate(f->path, &from, &to), KY_OK);
	assert_int_equal(from, 2);
	assert_int_equal(to, KY_STORE_SCHEMA_VERSION);
	char *migrated = schema_of(f->path, NULL);
	assert_string_equal(fresh, migrated);
	free(fresh);
	free(migrated);
	assert_int_equal(assert_secretariat_only(f->path), 0);

	assert_int_equal(ky_store_open(&f->s, f->path, NULL, NULL), KY_OK);
	rows rs = {0};
	ky_store_query q = {.scope = &ky_store_operator_scope, .collection_id = f->dflt};
	run(f->s, &q, &rs, NULL);
	assert_int_equal(rs.n, 1);
	rows_clear(&rs);
	ky_store_user u;
	assert_int_equal(ky_store_user_ensure(f->s, "alice", &operator, "first user", &u), KY_OK);
	assert_true(u.created);
	assert_int_equal(u.role, KY_ROLE_ADMIN);
	assert_string_equal(u.member, "secretariat");
	uint8_t hash[KY_STORE_KEY_HASH_SIZE] = {7}, secret[KY_STORE_SECRET_SIZE] = {9}, got[KY_STORE_SECRET_SIZE];
	assert_int_equal(ky_store_key_add(f->s, u.id, "kyk_abcd", hash, &operator, "first key", NULL), KY_OK);
	ky_store_key k;
	assert_int_equal(ky_store_key_find(f->s, hash, &k), KY_OK);
	assert_string_equal(k.user, "alice");
	assert_int_equal(ky_store_secret(f->s, "key_hmac", secret, got), KY_OK);
	assert_memory_equal(got, secret, sizeof(got));
}

/* A hub at schema 4 (the fixture moved to 4 by the migrations of the time, without schema
 * 5's claim numbers nor 6's council, with two users, one the owner, and a pending request of
 * one of them) migrates to 6: the same schema as a new hub; its users are the secretariat's
 * admins, their keys still theirs; its pending request is kept and claimable, its tokens
 * from 1. */
static void test_migrate_from_schema_4(void **state)
{
	fx *f = *state;
	load_old_hub(f->path, 4);
	raw_exec(f->path, "INSERT INTO users (name, owner, created_us) VALUES ('olive', 1, 1700000000000000),"
			 " ('oscar', 0, 1700000001000000);"
			 "INSERT INTO api_keys (user_id, prefix, hash, created_us)"
			 " SELECT id, 'kyk_osca', 'the hash of oscar''s key', 1700000002000000 FROM users WHERE name = 'oscar';");
	raw_exec(f->path, "INSERT INTO requests (id, collection_id, user_id, received_us, total, envelope)"
			 " SELECT '" REQ1 "', c.id, u.id, 1000, 1, '{\"objects\": [1]}' FROM collections c, users u"
			 " WHERE c.name = 'default' AND u.name = 'oscar';");
	char fresh[LOCATION_MAX];
	new_location(f, "fresh.db", fresh);
	ky_store *t = NULL;
	ky_store_options options = {.create = true};
	assert_int_equal(ky_store_open(&t, fresh, &options, NULL), KY_OK);
	ky_store_close(t);
	assert_int_equal(ky_store_open(&f->s, f->path, NULL, NULL), KY_ESCHEMA);
	char expected_4[64];
	snprintf(expected_4, sizeof(expected_4), "version 4 and this kyoyu uses %d: run kyoyu migrate",
		 KY_STORE_SCHEMA_VERSION);
	assert_non_null(strstr(ky_error_last(), expected_4));
	int from = 0, to = 0;
	assert_int_equal(ky_store_migrate(f->path, &from, &to), KY_OK);
	assert_int_equal(from, 4);
	assert_int_equal(to, KY_STORE_SCHEMA_VERSION);
	char *a = schema_of(fresh, NULL), *b = schema_of(f->path, NULL);
	assert_string_equal(a, b);
	free(a);
	free(b);
	/* Owner or not, both users are admins of the secretariat now. */
	assert_int_equal(assert_secretariat_only(f->path), 2);

	assert_int_equal(ky_store_open(&f->s, f->path, NULL, NULL), KY_OK);
	ky_store_user oscar;
	assert_int_equal(ky_store_user_get(f->s, "oscar", &oscar), KY_OK);
	assert_int_equal(oscar.role, KY_ROLE_ADMIN);
	assert_false(oscar.disabled);
	ky_store_key k;
	assert_int_equal(ky_store_key_get(f->s, "kyk_osca", &k), KY_OK);
	assert_int_equal(k.user_id, oscar.id);
	assert_string_equal(k.member, "secretariat");
	ky_store_request r;
	char *envelope = NULL;
	size_t len = 0;
	assert_int_equal(ky_store_request_claim(f->s, 60000000, &r, &envelope, &len), KY_OK);
	assert_int_equal(len, 16);
	assert_memory_equal(envelope, "{\"objects\": [1]}", 16);
	free(envelope);
	assert_string_equal(r.id, REQ1);
	assert_int_equal(r.user_id, oscar.id);
	assert_int_equal(r.token, 1);
	ky_store_request_object one[] = {{.index = 0, .id = IND1, .success = true}};
	assert_int_equal(ky_store_request_record(f->s, REQ1, r.token, one, 1, 60000000), KY_OK);
	assert_int_equal(ky_store_request_complete(f->s, REQ1, r.token), KY_OK);
}

/* From schema 8: the access rows a hub has take their additions' marks, versions and dates
 * (the fixture's first addition is not its object's latest, the others are), and a viewer's
 * page reads them. */
static void test_migrate_from_schema_8(void **state)
{
	fx *f = *state;
	load_old_hub(f->path, 8);
	raw_exec(f->path, "INSERT INTO version_access (vid, key) SELECT vid, 's:energy' FROM versions;"
			  "INSERT INTO entry_access (collection_id, key, seq) SELECT collection_id, 's:energy', seq FROM entries;"
			  "UPDATE versions SET tlp = 2;");
	int from = 0, to = 0;
	assert_int_equal(ky_store_migrate(f->path, &from, &to), KY_OK);
	assert_int_equal(from, 8);
	assert_int_equal(to, KY_STORE_SCHEMA_VERSION);
	char text[128];
	raw_text(f->path,
		 pg() ? "SELECT string_agg(a.seq || ':' || a.latest || ':' || a.vid || ':' || a.date_added_us, ' ' ORDER BY a.seq)"
			" FROM entry_access a"
		      : "SELECT group_concat(a.seq || ':' || a.latest || ':' || a.vid || ':' || a.date_added_us, ' ')"
			" FROM (SELECT * FROM entry_access ORDER BY seq) a",
		 text, sizeof(text));
	assert_string_equal(text, "1:0:1:1700000001000001 2:1:2:1700000002000001 3:1:3:1700000003000001"
				  " 4:1:4:1700000004000001");
	assert_int_equal(ky_store_open(&f->s, f->path, NULL, NULL), KY_OK);
	assert_int_equal(ky_store_check(f->s), KY_OK);
	const char *keys[] = {"s:energy"};
	ky_store_scope energy = {.keys = keys, .nkeys = 1};
	ky_store_query q = {.scope = &energy, .collection_id = collection_id(f->s, "default")};
	rows rs = {0};
	run(f->s, &q, &rs, NULL);
	assert_int_equal(rs.n, 3);
	assert_int_equal(rs.v[0].seq, 2);
	assert_int_equal(rs.v[0].date, 1700000002000001);
	assert_string_equal(rs.v[0].modified, "2017-01-01T00:00:00.5Z");
	rows_clear(&rs);
}

/* A migration that fails is rolled back (the hub stays at 1) and says why. */
static void test_migrate_failure_rolls_back(void **state)
{
	fx *f = *state;
	load_schema1(f->path);
	raw_exec(f->path, "CREATE TABLE derived (x INTEGER);");
	int from = 0, to = 0;
	int rc = ky_store_migrate(f->path, &from, &to);
	assert_int_not_equal(rc, KY_OK);
	assert_int_equal(from, 1);
	assert_int_equal(to, 1);
	const char *message = ky_error_last();
	assert_non_null(strstr(message, "from schema 1 to 2"));
	assert_non_null(strstr(message, pg() ? "relation \"derived\" already exists" : "table derived already exists"));
	assert_true(strlen(message) < 400);
	char text[32];
	raw_text(f->path, "SELECT version FROM kyoyu_schema", text, sizeof(text));
	assert_string_equal(text, "1");
	ky_store *s = NULL;
	assert_int_equal(ky_store_open(&s, f->path, NULL, NULL), KY_ESCHEMA);
}

static void test_migrate_newer_hub_refused(void **state)
{
	fx *f = *state;
	open_new(f);
	char b[512];
	commit1(f->s, f->dflt, sdo(b, sizeof(b), "indicator", IND1, "2016-01-01T00:00:00.000Z"), NULL, NULL);
	ky_store_close(f->s);
	f->s = NULL;
	raw_exec(f->path, "UPDATE kyoyu_schema SET version = 99;");
	char *before = schema_of(f->path, NULL);

	ky_store *s = NULL;
	ky_store_options options = {.create = true};
	assert_int_equal(ky_store_open(&s, f->path, NULL, NULL), KY_ESCHEMA);
	assert_non_null(strstr(ky_error_last(), "newer"));
	assert_int_equal(ky_store_open(&s, f->path, &options, NULL), KY_ESCHEMA);
	assert_null(s);
	int from = 0, to = 0;
	assert_int_equal(ky_store_migrate(f->path, &from, &to), KY_ESCHEMA);
	assert_non_null(strstr(ky_error_last(), "nothing changed"));
	assert_int_equal(from, 99);
	assert_int_equal(to, 99);

	char *after = schema_of(f->path, NULL);
	assert_string_equal(before, after);
	free(before);
	free(after);
	char text[32];
	raw_text(f->path, "SELECT version FROM kyoyu_schema", text, sizeof(text));
	assert_string_equal(text, "99");
	raw_text(f->path, "SELECT count(*) || ' ' || (SELECT last_seq FROM sequence) FROM entries", text, sizeof(text));
	assert_string_equal(text, "1 1");
}

/* --- busy writers -------------------------------------------------------------------------- */

/* A commit that cannot get the write lock in time is KY_EBUSY (retry), stores nothing,
 * and the next one succeeds once the lock is free. The other writer holds SQLite's write
 * lock, or on PostgreSQL the counter row that every commit locks (store_pg.c). */
static void test_commit_busy_is_conflict(void **state)
{
	fx *f = *state;
	open_new(f);
	ky_store_close(f->s);
	ky_store_options options = {.busy_timeout_ms = 50};
	assert_int_equal(ky_store_open(&f->s, f->path, &options, NULL), KY_OK);

	sqlite3 *other = NULL;
	PGconn *other_pg = NULL;
	if (pg()) {
		other_pg = pg_connect(f->path);
		PGresult *r = PQexec(other_pg, "BEGIN; SELECT last_seq FROM sequence WHERE id = 1 FOR UPDATE");
		assert_int_equal(PQresultStatus(r), PGRES_TUPLES_OK);
		PQclear(r);
	} else {
		assert_int_equal(sqlite3_open(f->path, &other), SQLITE_OK);
		assert_int_equal(sqlite3_exec(other, "BEGIN IMMEDIATE", NULL, NULL, NULL), SQLITE_OK);
	}
	char b[512];
	sdo(b, sizeof(b), "indicator", IND1, "2016-01-01T00:00:00.000Z");
	ky_store_batch *batch = NULL;
	assert_int_equal(ky_store_batch_begin(f->s, f->dflt, &batch), KY_OK);
	assert_int_equal(add(batch, b), 0);
	int rc = ky_store_batch_commit(batch, NULL, NULL);
	if (other_pg != NULL) {
		PQclear(PQexec(other_pg, "ROLLBACK"));
		PQfinish(other_pg);
	} else {
		sqlite3_exec(other, "ROLLBACK", NULL, NULL, NULL);
		sqlite3_close(other);
	}
	assert_int_equal(rc, KY_EBUSY);
	assert_non_null(strstr(ky_error_last(), "locked"));

	ky_store_stats stats;
	assert_int_equal(ky_store_stats_get(f->s, &stats), KY_OK);
	assert_int_equal(stats.versions, 0);
	ky_store_status st;
	uint64_t seq;
	commit1(f->s, f->dflt, b, &st, &seq);
	assert_int_equal(st, KY_STORE_STORED);
	assert_int_equal(seq, 1);
}

/* --- concurrency: the sequence guarantee ------------------------------------------------------ */

enum { WRITERS = 4, BATCHES = 200, PER_BATCH = 5, TOTAL = WRITERS * BATCHES * PER_BATCH, MAX_NUMBER = 4 * TOTAL };

typedef struct writer {
	const char *path;
	int index;
	uint64_t seqs[BATCHES * PER_BATCH];
	int retries;
	char error[512]; /* the first problem, "" for none */
} writer;

static void *write_main(void *arg)
{
	writer *w = arg;
	ky_store *s = NULL;
	if (ky_store_open(&s, w->path, NULL, NULL) != KY_OK) {
		snprintf(w->error, sizeof(w->error), "open: %s", ky_error_last());
		return NULL;
	}
	int64_t coll = 0;
	ky_store_collection c;
	if (ky_store_collection_find(s, KY_STORE_DEFAULT_COLLECTION, &c) == KY_OK) {
		coll = c.id;
		ky_store_collection_clear(&c);
	}
	for (int batch = 0; batch < BATCHES && !w->error[0]; batch++) {
		char raws[PER_BATCH][512];
		for (int i = 0; i < PER_BATCH; i++) {
			char id[80];
			snprintf(id, sizeof(id), "x-kyoyu-test--%08x-0000-4000-8000-%012x", w->index, batch * PER_BATCH + i);
			sdo(raws[i], sizeof(raws[i]), "x-kyoyu-test", id, "2016-01-01T00:00:00.000Z");
		}
		for (;;) {
			ky_store_batch *b = NULL;
			ky_store_status st[PER_BATCH];
			if (ky_store_batch_begin(s, coll, &b) != KY_OK) {
				snprintf(w->error, sizeof(w->error), "begin: %s", ky_error_last());
				break;
			}
			for (int i = 0; i < PER_BATCH; i++) {
				json_t *o = json_loads(raws[i], 0, NULL);
				int rc = o ? ky_store_batch_add(b, raws[i], strlen(raws[i]), o, &ky_test_access) : KY_EINVALID;
				json_decref(o);
				if (rc != i)
					snprintf(w->error, sizeof(w->error), "add: %d %s", rc, ky_error_last());
			}
			int rc = ky_store_batch_commit(b, st, &w->seqs[batch * PER_BATCH]);
			if (rc == KY_EBUSY) {
				w->retries++;
				continue;
			}
			if (rc != KY_OK)
				snprintf(w->error, sizeof(w->error), "commit of batch %d: %d %s", batch, rc, ky_error_last());
			for (int i = 0; rc == KY_OK && i < PER_BATCH; i++)
				if (st[i] != KY_STORE_STORED || w->seqs[batch * PER_BATCH + i] == 0)
					snprintf(w->error, sizeof(w->error), "batch %d object %d not stored", batch, i);
			break;
		}
	}
	ky_store_close(s);
	return NULL;
}

typedef struct reader {
	const char *path;
	bool hub;               /* poll the hub-wide order instead of the default collection */
	atomic_bool *done;
	unsigned char *seen;    /* [MAX_NUMBER] */
	uint64_t highest;       /* the cursor */
	uint64_t in_poll_last;  /* the last number of the current poll */
	size_t count, polls, nonempty_polls;
	char error[512];
} reader;

static int read_row(void *ctx, const ky_store_row *got)
{
	reader *r = ctx;
	if (got->seq <= r->in_poll_last || got->seq >= MAX_NUMBER || r->seen[got->seq]) {
		snprintf(r->error, sizeof(r->error), "number %llu after %llu (cursor %llu), seen before: %d",
			 (unsigned long long)got->seq, (unsigned long long)r->in_poll_last, (unsigned long long)r->highest,
			 got->seq < MAX_NUMBER ? r->seen[got->seq] : -1);
		return KY_ERROR;
	}
	r->seen[got->seq] = 1;
	r->in_poll_last = got->seq;
	r->count++;
	return 0;
}

static void *read_main(void *arg)
{
	reader *r = arg;
	ky_store *s = NULL;
	if (ky_store_open(&s, r->path, NULL, NULL) != KY_OK) {
		snprintf(r->error, sizeof(r->error), "open: %s", ky_error_last());
		return NULL;
	}
	int64_t coll = 0;
	ky_store_collection c;
	if (!r->hub && ky_store_collection_find(s, KY_STORE_DEFAULT_COLLECTION, &c) == KY_OK) {
		coll = c.id;
		ky_store_collection_clear(&c);
	}
	for (;;) {
		bool finished = atomic_load(r->done); /* before the poll: then the poll sees all */
		ky_store_query q = {.scope = &ky_store_operator_scope, .collection_id = coll, .versions = KY_STORE_ALL, .after = r->highest};
		ky_store_page page;
		r->in_poll_last = r->highest;
		int rc = ky_store_query_run(s, &q, read_row, r, &page);
		r->polls++;
		if (rc != KY_OK) {
			if (!r->error[0])
				snprintf(r->error, sizeof(r->error), "poll: %s", ky_error_last());
			break;
		}
		if (page.count > 0) {
			r->nonempty_polls++;
			r->highest = r->in_poll_last;
		}
		if (finished && page.count == 0)
			break;
	}
	ky_store_close(s);
	return NULL;
}

static double seconds_since(const struct timespec *t0)
{
	struct timespec t1;
	clock_gettime(CLOCK_MONOTONIC, &t1);
	return (double)(t1.tv_sec - t0->tv_sec) + (double)(t1.tv_nsec - t0->tv_nsec) / 1e9;
}

static void test_concurrent_writers_and_reader(void **state)
{
	fx *f = *state;
	open_new(f);
	struct timespec t0;
	clock_gettime(CLOCK_MONOTONIC, &t0);

	atomic_bool done = false;
	writer *w = calloc(WRITERS, sizeof(*w));
	reader rd[2] = {{.path = f->path, .hub = false, .done = &done}, {.path = f->path, .hub = true, .done = &done}};
	for (int i = 0; i < 2; i++)
		rd[i].seen = calloc(MAX_NUMBER, 1);
	pthread_t wt[WRITERS], rt[2];
	for (int i = 0; i < 2; i++)
		assert_int_equal(pthread_create(&rt[i], NULL, read_main, &rd[i]), 0);
	for (int i = 0; i < WRITERS; i++) {
		w[i].path = f->path;
		w[i].index = i;
		assert_int_equal(pthread_create(&wt[i], NULL, write_main, &w[i]), 0);
	}
	for (int i = 0; i < WRITERS; i++)
		pthread_join(wt[i], NULL);
	atomic_store(&done, true);
	for (int i = 0; i < 2; i++)
		pthread_join(rt[i], NULL);
	double elapsed = seconds_since(&t0);

	int retries = 0;
	for (int i = 0; i < WRITERS; i++) {
		if (w[i].error[0])
			fail_msg("writer %d: %s", i, w[i].error);
		retries += w[i].retries;
	}
	for (int i = 0; i < 2; i++)
		if (rd[i].error[0])
			fail_msg("reader %d: %s", i, rd[i].error);

	/* The numbers the writers were given: unique, and each what a full scan finds. */
	unsigned char *given = calloc(MAX_NUMBER, 1);
	for (int i = 0; i < WRITERS; i++)
		for (int j = 0; j < BATCHES * PER_BATCH; j++) {
			uint64_t n = w[i].seqs[j];
			assert_true(n > 0 && n < MAX_NUMBER);
			assert_int_equal(given[n], 0);
			given[n] = 1;
		}
	rows all = {0};
	ky_store_query q = {.scope = &ky_store_operator_scope, .collection_id = f->dflt, .versions = KY_STORE_ALL};
	run(f->s, &q, &all, NULL);
	assert_int_equal(all.n, TOTAL);
	int64_t last_date = 0;
	for (size_t i = 0; i < all.n; i++) {
		assert_int_equal(given[all.v[i].seq], 1);
		/* What the reader collected is exactly the full scan: nothing was committed under a
		 * number it had passed. */
		assert_int_equal(rd[0].seen[all.v[i].seq], 1);
		assert_true(all.v[i].date > last_date);
		last_date = all.v[i].date;
	}
	assert_int_equal(rd[0].count, TOTAL);
	assert_int_equal(all.v[all.n - 1].seq, TOTAL); /* no gaps with one collection */
	/* Likewise for the hub-wide order. */
	q.collection_id = 0;
	run(f->s, &q, &all, NULL);
	assert_int_equal(all.n, TOTAL);
	for (size_t i = 0; i < all.n; i++)
		assert_int_equal(rd[1].seen[all.v[i].seq], 1);
	assert_int_equal(rd[1].count, TOTAL);
	assert_int_equal(ky_store_check(f->s), KY_OK);

	print_message("[          ] %d writers x %d batches x %d objects in %.2f s, %d busy retries; readers polled %zu "
		      "and %zu times (%zu and %zu with news)\n",
		      WRITERS, BATCHES, PER_BATCH, elapsed, retries, rd[0].polls, rd[1].polls, rd[0].nonempty_polls,
		      rd[1].nonempty_polls);
	rows_clear(&all);
	free(given);
	for (int i = 0; i < 2; i++)
		free(rd[i].seen);
	free(w);
}

/* --- concurrent creation ------------------------------------------------------------------- */

/*
 * Two `kyoyu init`s at once on the same hub: both succeed and exactly one creates the hub
 * (creation reads the schema and builds everything in one transaction: BEGIN IMMEDIATE on
 * SQLite, under an advisory lock on PostgreSQL).
 */
typedef struct creator {
	const char *path;
	pthread_barrier_t *start;
	int rc;
	bool created;
	char error[512];
} creator;

static void *create_main(void *arg)
{
	creator *c = arg;
	ky_store *s = NULL;
	ky_store_options options = {.create = true};
	pthread_barrier_wait(c->start);
	c->rc = ky_store_open(&s, c->path, &options, &c->created);
	snprintf(c->error, sizeof(c->error), "%s", c->rc ? ky_error_last() : "");
	ky_store_close(s);
	return NULL;
}

static void test_concurrent_create(void **state)
{
	fx *f = *state;
	for (int round = 0; round < 50; round++) {
		char path[LOCATION_MAX], name[32];
		snprintf(name, sizeof(name), "hub-%d.db", round);
		assert_int_equal(ky_test_hub_location(path, sizeof(path), f->dir, name), 0);
		pthread_barrier_t start;
		pthread_barrier_init(&start, NULL, 2);
		creator c[2] = {{.path = path, .start = &start}, {.path = path, .start = &start}};
		pthread_t t[2];
		for (int i = 0; i < 2; i++)
			assert_int_equal(pthread_create(&t[i], NULL, create_main, &c[i]), 0);
		for (int i = 0; i < 2; i++)
			pthread_join(t[i], NULL);
		pthread_barrier_destroy(&start);
		ky_test_hub_drop(path);
		for (int i = 0; i < 2; i++)
			if (c[i].rc != KY_OK)
				fail_msg("round %d: %s", round, c[i].error);
		assert_true(c[0].created != c[1].created);
	}
}

int main(int argc, char **argv)
{
	schema1_sql_path = argc > 1 ? argv[1] : "tests/data/store/hub-schema-1.sql";
	schema1_pg_sql_path = argc > 2 ? argv[2] : "tests/data/store/hub-schema-1.pg.sql";
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
	const struct CMUnitTest tests[] = {
		T(test_open_missing_without_create),
		T(test_create_then_reopen),
		T(test_open_refuses_other_files),
		T(test_open_refuses_text_file),
		T(test_open_leaves_foreign_database_alone),
		T(test_batch_stored_and_duplicate),
		T(test_batch_same_time_written_differently),
		T(test_batch_objects_without_modified),
		T(test_batch_abort_and_failure_leave_nothing),
		T(test_batch_raw_bytes_exact),
		T(test_sequence_increasing),
		T(test_query_versions),
		T(test_query_filters),
		T(test_query_spec_version_of_sco),
		T(test_query_after_and_newer_versions),
		T(test_query_added_after),
	T(test_query_empty_page_cursor),
		T(test_query_keyset_pages),
		T(test_query_stop_early),
		T(test_query_malformed),
		T(test_stats_and_type_counts),
		T(test_stats_counts),
		T(test_remove_last_recomputes_latest),
		T(test_remove_first_exact_and_all),
		T(test_remove_spec_version),
		T(test_remove_recorded),
		T(test_audit_entries),
		T(test_remove_then_add_again),
		T(test_request_add_and_get),
		T(test_request_claim_and_lease),
		T(test_request_record_and_complete),
		T(test_request_claim_concurrent),
		T(test_request_fencing),
		T(test_request_record_not_utf8),
		T(test_request_claims_limit),
		T(test_request_abandon),
		T(test_pg_writes_safe_to_repeat),
		T(test_open_hides_password),
		T(test_versions_from_the_provider),
		T(test_shared_form_for_other_readers),
		T(test_migrate_fixture_matches_migration_0),
		T(test_migration_sql_dialects),
		T(test_migrate_from_schema_1),
		T(test_migrate_from_schema_2),
		T(test_migrate_from_schema_4),
		T(test_migrate_from_schema_8),
		T(test_migrate_failure_rolls_back),
		T(test_migrate_newer_hub_refused),
		T(test_commit_busy_is_conflict),
		T(test_concurrent_writers_and_reader),
		T(test_concurrent_create),
	};
#undef T
	return cmocka_run_group_tests(tests, NULL, NULL);
}
