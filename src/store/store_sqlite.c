/*
 * store_sqlite: the SQLite backend of the store, one database file in WAL mode.
 *
 * Tables (schema 5; made by store_migrations.c, and read and written mostly by the statements
 * of store_statements.h, which the PostgreSQL backend shares):
 *   versions      one row per version (id + version key), the bytes as received
 *   entries       one row per addition of a version to a collection: its sequence number
 *                 (the primary key), date_added, and `latest` (this is the collection's
 *                 newest version of the object) so that "last" pages are an index range
 *   sequence      the one counter row: the last number and date handed out
 *   collections   TAXII collections
 *   derived       forms of a version fixed at write time (schema 2; filled by later issues)
 *   users         people and machine clients (schema 3), each of a member (schema 6)
 *   api_keys      their keys: a prefix to name each, the keyed hash, created and revoked
 *   secrets       server secrets (the key hash's), made on first use by store.c's caller
 *   removals      additions removed from their collection (schema 4), moved whole from
 *                 entries with when and by whom
 *   requests      Add Objects requests (schema 4): counts, the envelope until complete,
 *                 the lease of the processor holding one, and how many times it was
 *                 claimed (schema 5), the holder's fencing token
 *   request_objects  each request's outcomes, one row per object of the envelope
 *   kyoyu_schema  the schema version
 *
 * A batch commits in one BEGIN IMMEDIATE transaction: versions are inserted (or found),
 * then numbers are assigned from the counter row and entries inserted in input order, the
 * counter updated, and the transaction committed with synchronous=FULL. SQLite has one
 * writer at a time, so the numbers increase in commit order.
 */
#include <errno.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "store/store_backend.h"
#include "store/store_statements.h"
#include "util/ky_clock.h"
#include "util/ky_error.h"
#include "util/ky_uuid.h"

/* How many statements of queries and of the statement interface a connection keeps prepared. */
#define QUERY_CACHE 32

typedef struct db {
	sqlite3 *h;
	char *path;
	int schema;
	sqlite3_stmt *find_version, *insert_version, *find_entry, *find_latest, *clear_latest, *insert_entry,
		*read_counter, *write_counter, *find_collection, *find_provider, *insert_access, *insert_entry_access,
		*unmark_entry_access;
	/* Queries prepared lately, by their SQL (cached_query()). */
	sqlite3_stmt *queries[QUERY_CACHE];
	char *query_sql[QUERY_CACHE];
	unsigned query_next;
} db;

/* --- errors ----------------------------------------------------------------------------- */

/* The status for the connection's last SQLite error: busy (another writer held the lock past
 * the timeout) is a conflict to retry, a file that is no database is not a hub. */
static int status_of(db *d)
{
	int code = sqlite3_errcode(d->h);
	return code == SQLITE_BUSY || code == SQLITE_LOCKED ? KY_EBUSY
	       : code == SQLITE_NOMEM			     ? KY_ENOMEM
	       : code == SQLITE_CONSTRAINT		     ? KY_EEXISTS
	       : code == SQLITE_NOTADB			     ? KY_EINVALID
	       : code == SQLITE_TOOBIG			     ? KY_ETOOBIG
							     : KY_ERROR;
}

static int fail(db *d, const char *what)
{
	return ky_error_set(status_of(d), "%s: %s: %s", d->path, what, sqlite3_errmsg(d->h));
}

static int exec(db *d, const char *sql)
{
	char *message = NULL;
	if (sqlite3_exec(d->h, sql, NULL, NULL, &message) != SQLITE_OK) {
		int rc = ky_error_set(status_of(d), "%s: %s", d->path, message ? message : sqlite3_errmsg(d->h));
		sqlite3_free(message);
		return rc;
	}
	return KY_OK;
}

/* --- schema and migrations ------------------------------------------------------------ */

/* The hub's schema version: 0 for an empty database, -1 for one that is not a hub. */
/* Whether an SQLite result is a failure of the moment (memory, a lock): one that says
 * nothing of what the file holds, and must be reported rather than read as its state. */
static bool of_the_moment(int code)
{
	return code == SQLITE_NOMEM || code == SQLITE_BUSY || code == SQLITE_LOCKED;
}

/* The hub's schema version into *out: 0 for an empty database, -1 for one that is not a
 * hub. A failure of the moment is its status (KY_ENOMEM, KY_EBUSY), never one of those. */
static int read_schema(db *d, int *out)
{
	sqlite3_stmt *st = NULL;
	*out = -1;
	int code = sqlite3_prepare_v2(d->h, "SELECT count(*) FROM sqlite_master", -1, &st, NULL);
	int step = code == SQLITE_OK ? sqlite3_step(st) : code;
	int objects = step == SQLITE_ROW ? sqlite3_column_int(st, 0) : -1;
	sqlite3_finalize(st);
	if (of_the_moment(step))
		return fail(d, "reading the schema version");
	if (objects <= 0) {
		*out = objects == 0 ? 0 : -1;
		return KY_OK;
	}
	st = NULL;
	code = sqlite3_prepare_v2(d->h, "SELECT version FROM kyoyu_schema", -1, &st, NULL);
	step = code == SQLITE_OK ? sqlite3_step(st) : code;
	int version = step == SQLITE_ROW ? sqlite3_column_int(st, 0) : -1;
	sqlite3_finalize(st);
	if (of_the_moment(step))
		return fail(d, "reading the schema version");
	*out = version;
	return KY_OK;
}

/* Runs migration v (schema v to v + 1, store_migrations.c) inside the caller's transaction. */
static int run_migration(db *d, int v)
{
	char *sql = NULL;
	int rc = ky_store_migration_sql(v, '?', &sql);
	if (rc == KY_OK)
		rc = exec(d, sql);
	free(sql);
	return rc;
}

static int migration_failed(db *d, int rc, int v)
{
	/* A copy: ky_error_set() writes the slot ky_error_last() points into. */
	char why[KY_ERROR_MAX];
	snprintf(why, sizeof(why), "%s", ky_error_last());
	sqlite3_exec(d->h, "ROLLBACK", NULL, NULL, NULL);
	return ky_error_set(rc, "migrating %s from schema %d to %d failed: %s", d->path, v, v + 1, why);
}

/* Upgrades an existing hub, one transaction per version. */
static int apply_migrations(db *d, int from)
{
	for (int v = from; v < KY_STORE_SCHEMA_VERSION; v++) {
		int rc = exec(d, "BEGIN IMMEDIATE");
		if (rc == KY_OK)
			rc = run_migration(d, v);
		if (rc == KY_OK)
			rc = exec(d, "COMMIT");
		if (rc != KY_OK)
			return migration_failed(d, rc, v);
	}
	d->schema = KY_STORE_SCHEMA_VERSION;
	return KY_OK;
}

static int create_default_collection(db *d);

/*
 * Makes an empty database a hub: every migration and the default collection in one
 * transaction, with the schema read again inside it, so that two `kyoyu init` racing on one
 * file create it once and the loser finds the winner's hub. *created tells which one it was.
 */
static int create_hub(db *d, bool *created)
{
	int rc = exec(d, "BEGIN IMMEDIATE");
	if (rc != KY_OK)
		return rc;
	rc = read_schema(d, &d->schema);
	if (rc != KY_OK) {
		exec(d, "ROLLBACK");
		return rc;
	}
	*created = d->schema == 0;
	for (int v = 0; rc == KY_OK && *created && v < KY_STORE_SCHEMA_VERSION; v++) {
		rc = run_migration(d, v);
		if (rc != KY_OK)
			return migration_failed(d, rc, v);
	}
	if (rc == KY_OK && *created)
		rc = create_default_collection(d);
	if (rc == KY_OK)
		rc = exec(d, "COMMIT");
	if (rc != KY_OK) {
		sqlite3_exec(d->h, "ROLLBACK", NULL, NULL, NULL);
		return rc;
	}
	if (*created)
		d->schema = KY_STORE_SCHEMA_VERSION;
	return KY_OK;
}

/* --- open and close --------------------------------------------------------------------- */

static void db_free(db *d)
{
	if (d == NULL)
		return;
	sqlite3_stmt *stmts[] = {d->find_version, d->insert_version, d->find_entry, d->find_latest,
				 d->clear_latest, d->insert_entry, d->read_counter, d->write_counter,
				 d->find_collection, d->find_provider, d->insert_access, d->insert_entry_access,
				 d->unmark_entry_access};
	for (size_t i = 0; i < sizeof(stmts) / sizeof(stmts[0]); i++)
		sqlite3_finalize(stmts[i]);
	for (size_t i = 0; i < QUERY_CACHE; i++) {
		sqlite3_finalize(d->queries[i]);
		free(d->query_sql[i]);
	}
	sqlite3_close(d->h);
	free(d->path);
	free(d);
}

/* SQLite keeps memory statistics under one global mutex by default; kyoyu does not read
 * them, and every allocation would otherwise take that lock. Must precede initialisation. */
static void configure_sqlite(void)
{
	sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
	sqlite3_initialize();
}

/* Opens the file and sets the connection up; the schema is the caller's business. */
static int connect(db **out, const char *path, bool create, const ky_store_options *options)
{
	static pthread_once_t once = PTHREAD_ONCE_INIT;
	struct stat st;
	*out = NULL;
	pthread_once(&once, configure_sqlite);
	if (!create && stat(path, &st) != 0)
		return ky_error_set(KY_ENOTFOUND, "%s: no hub there (%s); create one with kyoyu init", path, strerror(errno));
	db *d = calloc(1, sizeof(*d));
	if (d == NULL || (d->path = strdup(path)) == NULL) {
		free(d);
		return ky_error_set(KY_ENOMEM, "out of memory");
	}
	int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX | (create ? SQLITE_OPEN_CREATE : 0);
	if (sqlite3_open_v2(path, &d->h, flags, NULL) != SQLITE_OK) {
		bool memory = d->h == NULL || sqlite3_errcode(d->h) == SQLITE_NOMEM;
		int rc = ky_error_set(memory ? KY_ENOMEM : KY_ERROR, "%s: cannot open: %s", path,
				      d->h ? sqlite3_errmsg(d->h) : "out of memory");
		db_free(d);
		return rc;
	}
	sqlite3_extended_result_codes(d->h, 0);
	sqlite3_busy_timeout(d->h, options && options->busy_timeout_ms ? options->busy_timeout_ms : 10000);
	/* synchronous=FULL: a commit is on disk before it is acknowledged, so not even a power
	 * failure loses an object reported stored. (WAL is set by use_wal() once the file is known
	 * to be a hub: journal_mode is persistent, and a file we refuse is left as it was.) */
	int rc = exec(d, options && options->synchronous_normal ? "PRAGMA synchronous = NORMAL"
							       : "PRAGMA synchronous = FULL");
	if (rc == KY_OK)
		rc = exec(d, "PRAGMA foreign_keys = ON");
	/* 64 MiB of page cache: index lookups during an import stay in memory. */
	if (rc == KY_OK)
		rc = exec(d, "PRAGMA cache_size = -65536");
	/* Reads through a memory map of the file, up to 16 GiB of it: a page outside the cache
	 * is the kernel's page, not a pread copied into ours (measured: 10 to 20% more pages/s
	 * on a hub larger than the cache, bench/README.md). SQLite still writes with write(). */
	if (rc == KY_OK)
		rc = exec(d, "PRAGMA mmap_size = 17179869184");
	if (rc != KY_OK) {
		db_free(d);
		return rc;
	}
	*out = d;
	return KY_OK;
}

/* WAL: readers never block the writer. */
static int use_wal(db *d)
{
	return exec(d, "PRAGMA journal_mode = WAL");
}

/* Prepares sql, a statement of store_statements.h or this file's, with SQLite's placeholders
 * (ky_store_sql_marks); `flags` as sqlite3_prepare_v3's. */
static int prepare_flags(db *d, sqlite3_stmt **st, const char *sql, unsigned flags, const char *what)
{
	char *text = malloc(strlen(sql) + 1);
	if (text == NULL)
		return ky_error_set(KY_ENOMEM, "out of memory");
	ky_store_sql_marks(sql, '?', text);
	int rc = sqlite3_prepare_v3(d->h, text, -1, flags, st, NULL) == SQLITE_OK ? KY_OK : fail(d, what);
	free(text);
	return rc;
}

/* A statement for one call, finalized by the caller. */
static int prepare_once(db *d, sqlite3_stmt **st, const char *sql, const char *what)
{
	return prepare_flags(d, st, sql, 0, what);
}

/* A statement kept for the connection's life (db_free finalizes it). */
static int prepare(db *d, sqlite3_stmt **st, const char *sql)
{
	return prepare_flags(d, st, sql, SQLITE_PREPARE_PERSISTENT, "preparing a statement");
}

/* prepare() for a statement of store_statements.h, written with $n placeholders. */
static int prepare_marked(db *d, sqlite3_stmt **st, const char *sql)
{
	char marked[1024];
	if (strlen(sql) >= sizeof(marked))
		return ky_error_set(KY_ERROR, "a shared statement is longer than %zu bytes", sizeof(marked));
	ky_store_sql_marks(sql, '?', marked);
	return prepare(d, st, marked);
}

static int prepare_all(db *d)
{
	int rc = prepare(d, &d->find_version, "SELECT vid FROM versions WHERE stix_id = ?1 AND version_key = ?2");
	if (rc == KY_OK)
		rc = prepare(d, &d->insert_version,
			     "INSERT INTO versions (stix_id, type, spec_version, modified, version_key, raw, added_us, provider_id, tlp,"
			     " parts, shared) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)"
			     " ON CONFLICT (stix_id, version_key) DO NOTHING");
	if (rc == KY_OK)
		rc = prepare_marked(d, &d->find_provider, KY_SQL_OBJECT_PROVIDER);
	if (rc == KY_OK)
		rc = prepare(d, &d->insert_access, "INSERT INTO version_access (vid, key) VALUES (?1, ?2) ON CONFLICT DO NOTHING");
	if (rc == KY_OK)
		rc = prepare_marked(d, &d->insert_entry_access, KY_SQL_ENTRY_ACCESS_ADD);
	if (rc == KY_OK)
		rc = prepare_marked(d, &d->unmark_entry_access, KY_SQL_ENTRY_ACCESS_UNMARK);
	if (rc == KY_OK)
		rc = prepare(d, &d->find_entry, "SELECT 1 FROM entries WHERE collection_id = ?1 AND vid = ?2");
	if (rc == KY_OK)
		rc = prepare(d, &d->find_latest,
			     "SELECT seq, version_key, vid FROM entries WHERE collection_id = ?1 AND stix_id = ?2 AND latest = 1");
	if (rc == KY_OK)
		rc = prepare(d, &d->clear_latest, "UPDATE entries SET latest = 0 WHERE seq = ?1");
	if (rc == KY_OK)
		rc = prepare(d, &d->insert_entry,
			     "INSERT INTO entries (seq, collection_id, vid, stix_id, type, version_key, date_added_us, latest)"
			     " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)");
	if (rc == KY_OK)
		rc = prepare(d, &d->read_counter, KY_SQL_COUNTER_READ);
	if (rc == KY_OK)
		rc = prepare(d, &d->write_counter, KY_SQL_COUNTER_WRITE);
	/* The server's lookup of a collection on every request: kept prepared (its key lookup
	 * is the statement interface's, cached too). */
	if (rc == KY_OK)
		rc = prepare(d, &d->find_collection, KY_SQL_COLLECTION_FIND);
	return rc;
}


static int open_attempt(void **impl, const char *path, const ky_store_options *options, bool *created, bool *busy)
{
	db *d = NULL;
	bool made = false;
	int rc = connect(&d, path, options->create, options);
	*busy = false;
	if (rc != KY_OK)
		return rc;
	rc = read_schema(d, &d->schema);
	/* WAL is set only on a hub or a database about to become one: the journal mode is
	 * permanent, and a file that is not ours must be left as it was. */
	if (rc == KY_OK && d->schema == 0 && options->create) {
		rc = use_wal(d);
		if (rc == KY_OK)
			rc = create_hub(d, &made);
	}
	if (rc == KY_OK)
		rc = ky_store_schema_refusal(path, d->schema);
	if (rc == KY_OK)
		rc = use_wal(d);
	if (rc == KY_OK)
		rc = prepare_all(d);
	if (rc != KY_OK) {
		int code = sqlite3_errcode(d->h);
		*busy = code == SQLITE_BUSY || code == SQLITE_LOCKED;
		db_free(d);
		return rc;
	}
	*created = made;
	*impl = d;
	return KY_OK;
}

static int sqlite_open(void **impl, const char *path, const ky_store_options *options, bool *created)
{
	bool made = false, busy = false;
	int rc;
	/* While another process creates the hub or switches it to WAL, SQLite may answer
	 * "locked" without waiting (the busy handler is not called where waiting could
	 * deadlock): try again from the start, a bounded number of times. */
	for (int attempt = 0; attempt < 200; attempt++) {
		rc = open_attempt(impl, path, options, &made, &busy);
		if (rc == KY_OK || !busy)
			break;
		usleep(10000);
	}
	if (created != NULL)
		*created = rc == KY_OK && made;
	return rc;
}

static void sqlite_close(void *impl)
{
	db_free(impl);
}

static int sqlite_migrate(const char *path, int *from, int *to)
{
	db *d = NULL;
	ky_store_options options = {0};
	int rc = connect(&d, path, false, &options);
	if (rc != KY_OK)
		return rc;
	int version = -1;
	rc = read_schema(d, &version);
	if (from != NULL)
		*from = version;
	if (rc == KY_OK && (version <= 0 || version > KY_STORE_SCHEMA_VERSION))
		rc = ky_store_schema_refusal(path, version);
	else if (rc == KY_OK && (rc = use_wal(d)) == KY_OK)
		rc = apply_migrations(d, version);
	if (to != NULL)
		*to = rc == KY_OK ? KY_STORE_SCHEMA_VERSION : version;
	db_free(d);
	return rc;
}

static int sqlite_schema_version(void *impl)
{
	return ((db *)impl)->schema;
}

/* --- collections ------------------------------------------------------------------------ */

static int sqlite_collection_create(void *impl, const char *uuid, const char *name, const char *title,
				    const char *description, int64_t *id)
{
	db *d = impl;
	sqlite3_stmt *st = NULL;
	int rc = prepare_once(d, &st, KY_SQL_COLLECTION_ADD, "creating a collection");
	if (rc != KY_OK)
		return rc;
	sqlite3_bind_text(st, 1, uuid, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, name, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, title, -1, SQLITE_STATIC);
	if (description != NULL)
		sqlite3_bind_text(st, 4, description, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 5, ky_clock_now_us());
	int step = sqlite3_step(st);
	if (step == SQLITE_CONSTRAINT)
		rc = ky_error_set(KY_EEXISTS, "a collection named \"%s\" exists already", name);
	else if (step != SQLITE_ROW)
		rc = fail(d, "creating a collection");
	else
		*id = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return rc;
}

static int create_default_collection(db *d)
{
	char uuid[37];
	int64_t id;
	int rc = ky_uuid4(uuid);
	if (rc == KY_OK)
		rc = sqlite_collection_create(d, uuid, KY_STORE_DEFAULT_COLLECTION, "Default collection",
					      "Where objects go when no collection is named.", &id);
	return rc;
}

static char *column_strdup(sqlite3_stmt *st, int i)
{
	const unsigned char *t = sqlite3_column_text(st, i);
	return t ? strdup((const char *)t) : NULL;
}

static void read_collection(sqlite3_stmt *st, ky_store_collection *out)
{
	out->id = sqlite3_column_int64(st, 0);
	snprintf(out->uuid, sizeof(out->uuid), "%s", (const char *)sqlite3_column_text(st, 1));
	out->name = column_strdup(st, 2);
	out->title = column_strdup(st, 3);
	out->description = column_strdup(st, 4);
}

static int sqlite_collection_find(void *impl, const char *key, ky_store_collection *out)
{
	db *d = impl;
	sqlite3_stmt *st = d->find_collection;
	int rc;
	memset(out, 0, sizeof(*out));
	sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
	int step = sqlite3_step(st);
	if (step == SQLITE_ROW) {
		read_collection(st, out);
		bool whole = out->name && out->title && (out->description || sqlite3_column_type(st, 4) == SQLITE_NULL);
		rc = whole ? KY_OK : ky_error_set(KY_ENOMEM, "out of memory");
	} else if (step == SQLITE_DONE) {
		rc = ky_error_set(KY_ENOTFOUND, "no collection named \"%s\" in this hub", key);
	} else {
		rc = fail(d, "finding a collection");
	}
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	if (rc != KY_OK)
		ky_store_collection_clear(out);
	return rc;
}

static int sqlite_collection_additions(void *impl, int64_t collection_id, uint64_t *out)
{
	db *d = impl;
	sqlite3_stmt *st = NULL;
	int rc = prepare_once(d, &st, KY_SQL_COLLECTION_ADDITIONS, "counting a collection's additions");
	if (rc != KY_OK)
		return rc;
	sqlite3_bind_int64(st, 1, collection_id);
	rc = sqlite3_step(st) == SQLITE_ROW ? KY_OK : fail(d, "counting a collection's additions");
	*out = rc == KY_OK ? (uint64_t)sqlite3_column_int64(st, 0) : 0;
	sqlite3_finalize(st);
	return rc;
}

static int sqlite_collection_list(void *impl, int (*fn)(void *ctx, const ky_store_collection *c), void *ctx)
{
	db *d = impl;
	sqlite3_stmt *st = NULL;
	int step = SQLITE_DONE;
	int rc = prepare_once(d, &st, KY_SQL_COLLECTION_LIST, "listing collections");
	if (rc != KY_OK)
		return rc;
	while (rc == KY_OK && (step = sqlite3_step(st)) == SQLITE_ROW) {
		ky_store_collection c = {0};
		read_collection(st, &c);
		rc = fn(ctx, &c);
		ky_store_collection_clear(&c);
	}
	if (rc == KY_OK && step != SQLITE_DONE)
		rc = fail(d, "listing collections");
	sqlite3_finalize(st);
	return rc < 0 ? rc : KY_OK;
}

/* --- writing ---------------------------------------------------------------------------- */

static int step_done(db *d, sqlite3_stmt *st, const char *what)
{
	int step = sqlite3_step(st);
	sqlite3_reset(st);
	return step == SQLITE_DONE ? KY_OK : fail(d, what);
}

/* A new version's access keys: the item's space-separated list, and its object's provider's
 * (owner, not 0) when that is another member. */
static int version_access(db *d, int64_t vid, const char *keys, int64_t owner)
{
	char owner_key[32];
	snprintf(owner_key, sizeof(owner_key), KY_STORE_MEMBER_KEY, (long long)owner);
	int rc = KY_OK;
	for (const char *k = owner ? owner_key : keys; rc == KY_OK && k != NULL;) {
		size_t n = strcspn(k, " ");
		if (n > 0) {
			sqlite3_bind_int64(d->insert_access, 1, vid);
			sqlite3_bind_text(d->insert_access, 2, k, (int)n, SQLITE_STATIC);
			rc = step_done(d, d->insert_access, "recording who may read a version");
		}
		k = k[n] == ' ' ? k + n + 1 : k == owner_key ? keys : NULL;
	}
	return rc;
}

/* What store.h's rules say of the item against its object's provider (the member of its
 * first version; none for a new object): refused, or stored, as the object's provider's
 * (it->owner) when the secretariat adds it to a member's object. */
static int admit_item(db *d, ky_store_item *it)
{
	sqlite3_stmt *st = d->find_provider;
	sqlite3_bind_text(st, 1, it->id, -1, SQLITE_STATIC);
	int step = sqlite3_step(st);
	int64_t owner = step == SQLITE_ROW ? sqlite3_column_int64(st, 0) : it->provider;
	sqlite3_reset(st);
	if (step != SQLITE_ROW && step != SQLITE_DONE)
		return fail(d, "looking up an object's provider");
	it->owner = owner != it->provider ? owner : 0;
	if (owner != it->provider && !it->any_object)
		it->status = KY_STORE_NOT_PROVIDER;
	else if (it->creator != 0 && it->creator != owner)
		it->status = KY_STORE_NOT_CREATOR;
	else
		it->status = KY_STORE_STORED;
	return KY_OK;
}

/* The version's row id, inserting the version if it is new (*fresh tells). */
static int version_id(db *d, const ky_store_item *it, int64_t *vid, bool *fresh)
{
	sqlite3_stmt *st = d->insert_version;
	sqlite3_bind_text(st, 1, it->id, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, it->type, -1, SQLITE_STATIC);
	if (it->spec_version)
		sqlite3_bind_text(st, 3, it->spec_version, -1, SQLITE_STATIC);
	else
		sqlite3_bind_null(st, 3);
	sqlite3_bind_text(st, 4, it->modified, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 5, it->version_key, -1, SQLITE_STATIC);
	sqlite3_bind_blob(st, 6, it->raw, (int)it->raw_len, SQLITE_STATIC);
	sqlite3_bind_int64(st, 7, it->added_us);
	sqlite3_bind_int64(st, 8, it->owner ? it->owner : it->provider);
	sqlite3_bind_int(st, 9, it->tlp);
	if (it->parts)
		sqlite3_bind_text(st, 10, it->parts, -1, SQLITE_STATIC);
	else
		sqlite3_bind_null(st, 10);
	if (it->shared)
		sqlite3_bind_blob(st, 11, it->shared, (int)strlen(it->shared), SQLITE_STATIC);
	else
		sqlite3_bind_null(st, 11);
	int rc = step_done(d, st, "storing a version");
	if (rc != KY_OK)
		return rc;
	*fresh = sqlite3_changes(d->h) == 1;
	if (*fresh) {
		*vid = sqlite3_last_insert_rowid(d->h);
		return version_access(d, *vid, it->keys, it->owner);
	}
	st = d->find_version;
	sqlite3_bind_text(st, 1, it->id, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, it->version_key, -1, SQLITE_STATIC);
	int step = sqlite3_step(st);
	if (step == SQLITE_ROW)
		*vid = sqlite3_column_int64(st, 0);
	sqlite3_reset(st);
	return step == SQLITE_ROW ? KY_OK : fail(d, "looking up a version");
}

/* Whether the collection has this version already. */
static int has_entry(db *d, int64_t collection_id, int64_t vid, bool *found)
{
	sqlite3_stmt *st = d->find_entry;
	sqlite3_bind_int64(st, 1, collection_id);
	sqlite3_bind_int64(st, 2, vid);
	int step = sqlite3_step(st);
	sqlite3_reset(st);
	*found = step == SQLITE_ROW;
	return step == SQLITE_ROW || step == SQLITE_DONE ? KY_OK : fail(d, "looking up an addition");
}

/*
 * Whether the new version is the collection's latest of its object; if so the previous
 * latest loses the mark. Versions compare by their fixed-width keys (§3.6: the newest
 * modified is the current version).
 */
static int take_latest(db *d, int64_t collection_id, const ky_store_item *it, bool *latest)
{
	sqlite3_stmt *st = d->find_latest;
	sqlite3_bind_int64(st, 1, collection_id);
	sqlite3_bind_text(st, 2, it->id, -1, SQLITE_STATIC);
	int step = sqlite3_step(st);
	int64_t old_seq = 0, old_vid = 0;
	bool newer = true;
	if (step == SQLITE_ROW) {
		old_seq = sqlite3_column_int64(st, 0);
		newer = strcmp(it->version_key, (const char *)sqlite3_column_text(st, 1)) > 0;
		old_vid = sqlite3_column_int64(st, 2);
	}
	sqlite3_reset(st);
	if (step != SQLITE_ROW && step != SQLITE_DONE)
		return fail(d, "looking up the latest version");
	*latest = newer;
	if (step != SQLITE_ROW || !newer)
		return KY_OK;
	sqlite3_bind_int64(d->clear_latest, 1, old_seq);
	int rc = step_done(d, d->clear_latest, "updating the latest version");
	if (rc != KY_OK)
		return rc;
	sqlite3_bind_int64(d->unmark_entry_access, 1, collection_id);
	sqlite3_bind_int64(d->unmark_entry_access, 2, old_seq);
	sqlite3_bind_int64(d->unmark_entry_access, 3, old_vid);
	return step_done(d, d->unmark_entry_access, "updating the latest version's access");
}

static int sqlite_commit(void *impl, int64_t collection_id, ky_store_item *items, size_t n, ky_store_tx_body *audit,
			 void *ctx)
{
	db *d = impl;
	int64_t *vids = malloc(n * sizeof(*vids));
	bool *fresh = malloc(n * sizeof(*fresh));
	if (vids == NULL || fresh == NULL) {
		free(vids);
		free(fresh);
		return ky_error_set(KY_ENOMEM, "out of memory");
	}
	int rc = exec(d, "BEGIN IMMEDIATE");
	if (rc != KY_OK) {
		free(vids);
		free(fresh);
		return rc;
	}
	for (size_t i = 0; rc == KY_OK && i < n; i++) {
		rc = admit_item(d, &items[i]);
		if (rc == KY_OK && items[i].status == KY_STORE_STORED)
			rc = version_id(d, &items[i], &vids[i], &fresh[i]);
	}

	/* Numbers and dates come from the counter row, read and written in this transaction. */
	int64_t last_seq = 0, last_date = 0;
	if (rc == KY_OK) {
		int step = sqlite3_step(d->read_counter);
		if (step == SQLITE_ROW) {
			last_seq = sqlite3_column_int64(d->read_counter, 0);
			last_date = sqlite3_column_int64(d->read_counter, 1);
		}
		sqlite3_reset(d->read_counter);
		if (step != SQLITE_ROW)
			rc = fail(d, "reading the sequence");
	}
	for (size_t i = 0; rc == KY_OK && i < n; i++) {
		/* A version new to the hub cannot be in the collection yet. (A second copy in this
		 * batch found the first one's row: it is not fresh.) */
		bool found = false;
		items[i].seq = 0;
		if (items[i].status != KY_STORE_STORED)
			continue;
		if (!fresh[i])
			rc = has_entry(d, collection_id, vids[i], &found);
		if (rc != KY_OK)
			break;
		if (found) {
			items[i].status = KY_STORE_DUPLICATE;
			continue;
		}
		bool latest;
		rc = take_latest(d, collection_id, &items[i], &latest);
		if (rc != KY_OK)
			break;
		int64_t now = ky_clock_now_us();
		last_seq++;
		last_date = now > last_date ? now : last_date + 1;
		sqlite3_stmt *st = d->insert_entry;
		sqlite3_bind_int64(st, 1, last_seq);
		sqlite3_bind_int64(st, 2, collection_id);
		sqlite3_bind_int64(st, 3, vids[i]);
		sqlite3_bind_text(st, 4, items[i].id, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 5, items[i].type, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 6, items[i].version_key, -1, SQLITE_STATIC);
		sqlite3_bind_int64(st, 7, last_date);
		sqlite3_bind_int(st, 8, latest);
		rc = step_done(d, st, "recording an addition");
		if (rc == KY_OK) {
			sqlite3_bind_int64(d->insert_entry_access, 1, collection_id);
			sqlite3_bind_int64(d->insert_entry_access, 2, last_seq);
			sqlite3_bind_int64(d->insert_entry_access, 3, vids[i]);
			sqlite3_bind_int(d->insert_entry_access, 4, latest);
			sqlite3_bind_int64(d->insert_entry_access, 5, last_date);
			rc = step_done(d, d->insert_entry_access, "recording who may read an addition");
		}
		items[i].status = KY_STORE_STORED;
		items[i].seq = (uint64_t)last_seq;
	}
	if (rc == KY_OK) {
		sqlite3_bind_int64(d->write_counter, 1, last_seq);
		sqlite3_bind_int64(d->write_counter, 2, last_date);
		rc = step_done(d, d->write_counter, "advancing the sequence");
	}
	if (rc == KY_OK) {
		ky_store_tx tx = {.impl = d};
		rc = audit(&tx, ctx);
	}
	if (rc == KY_OK)
		rc = exec(d, "COMMIT");
	if (rc != KY_OK)
		sqlite3_exec(d->h, "ROLLBACK", NULL, NULL, NULL);
	free(vids);
	free(fresh);
	return rc;
}

/* --- reading ---------------------------------------------------------------------------- */

/* The prepared statement of a query's SQL, from the connection's cache: the requests of a
 * server repeat a few shapes of query, and preparing one costs a good part of a page. The
 * statement is the cache's; the caller resets it and clears its bindings after use. */
static int cached_query(db *d, const char *sql, sqlite3_stmt **out, const char *what)
{
	for (size_t i = 0; i < QUERY_CACHE; i++)
		if (d->query_sql[i] != NULL && strcmp(d->query_sql[i], sql) == 0) {
			*out = d->queries[i];
			return KY_OK;
		}
	sqlite3_stmt *st = NULL;
	char *copy = strdup(sql);
	if (copy == NULL)
		return ky_error_set(KY_ENOMEM, "out of memory");
	if (sqlite3_prepare_v2(d->h, sql, -1, &st, NULL) != SQLITE_OK) {
		free(copy);
		return fail(d, what);
	}
	unsigned slot = d->query_next++ % QUERY_CACHE;
	sqlite3_finalize(d->queries[slot]);
	free(d->query_sql[slot]);
	d->queries[slot] = st;
	d->query_sql[slot] = copy;
	*out = st;
	return KY_OK;
}

static int sqlite_query(void *impl, const ky_store_query *q, ky_store_row_fn *fn, void *ctx, ky_store_page *page)
{
	db *d = impl;
	ky_store_sql text;
	int rc = ky_store_sql_build(q, '?', &text);
	if (rc != KY_OK)
		return rc;
	sqlite3_stmt *st = NULL;
	rc = cached_query(d, text.text, &st, "preparing a query");
	if (rc != KY_OK)
		return rc;
	sqlite3_bind_int64(st, 1, (sqlite3_int64)q->after);
	if (q->collection_id != 0)
		sqlite3_bind_int64(st, 2, q->collection_id);
	/* One row more than asked for tells whether another page follows. */
	sqlite3_bind_int64(st, 3, q->limit ? (sqlite3_int64)q->limit + 1 : -1);
	for (size_t i = 0; i < text.nparams; i++)
		sqlite3_bind_text(st, (int)i + 4, text.params[i], -1, SQLITE_STATIC);
	/* SQLite reads a negative LIMIT as none. */

	int step;
	while ((step = sqlite3_step(st)) == SQLITE_ROW) {
		if (q->limit && page->count == q->limit) {
			page->more = true;
			break;
		}
		ky_store_row row = {
			.seq = (uint64_t)sqlite3_column_int64(st, 0),
			.date_added_us = sqlite3_column_int64(st, 1),
			.id = (const char *)sqlite3_column_text(st, 2),
			.type = (const char *)sqlite3_column_text(st, 3),
			.spec_version = (const char *)sqlite3_column_text(st, 4),
			.modified = (const char *)sqlite3_column_text(st, 5),
			.raw = sqlite3_column_blob(st, 6),
			.raw_len = (size_t)sqlite3_column_bytes(st, 6),
			.parts = (const char *)sqlite3_column_text(st, 7),
			.provider = sqlite3_column_int64(st, 8),
			.tlp = sqlite3_column_type(st, 9) == SQLITE_NULL ? -1 : sqlite3_column_int(st, 9),
			.shared = sqlite3_column_blob(st, 10),
			.shared_len = (size_t)sqlite3_column_bytes(st, 10),
			.vid = (uint64_t)sqlite3_column_int64(st, 11),
		};
		int stop = ky_store_page_row(page, q->scope, &row, fn, ctx);
		if (stop != 0) {
			rc = stop < 0 ? stop : KY_OK;
			step = SQLITE_DONE;
			break;
		}
	}
	if (step != SQLITE_ROW && step != SQLITE_DONE)
		rc = fail(d, "running a query");
	/* The text parameters point into `text`, which goes now. */
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	return rc;
}

/* --- statistics and checks ------------------------------------------------------------------ */

static int count(db *d, const char *sql_text, uint64_t *out)
{
	sqlite3_stmt *st = NULL;
	int rc = prepare_once(d, &st, sql_text, "counting");
	if (rc != KY_OK)
		return rc;
	int step = sqlite3_step(st);
	*out = step == SQLITE_ROW ? (uint64_t)sqlite3_column_int64(st, 0) : 0;
	sqlite3_finalize(st);
	return step == SQLITE_ROW ? KY_OK : fail(d, "counting");
}

static int sqlite_stats(void *impl, ky_store_stats *out)
{
	db *d = impl;
	uint64_t pages = 0, page_size = 0;
	sqlite3_stmt *st = NULL;
	out->schema_version = d->schema;
	int rc = prepare_once(d, &st, KY_SQL_STATS_COUNTS ", (SELECT coalesce(sum(length(raw)), 0) FROM versions)", "counting");
	if (rc == KY_OK && sqlite3_step(st) != SQLITE_ROW)
		rc = fail(d, "counting");
	if (rc == KY_OK) {
		uint64_t *fields[] = {&out->versions, &out->objects, &out->additions, &out->collections, &out->last_seq,
				      &out->bytes};
		for (int i = 0; i < 6; i++)
			*fields[i] = (uint64_t)sqlite3_column_int64(st, i);
	}
	sqlite3_finalize(st);
	if (rc == KY_OK)
		rc = count(d, "PRAGMA page_count", &pages);
	if (rc == KY_OK)
		rc = count(d, "PRAGMA page_size", &page_size);
	out->database_bytes = pages * page_size;
	return rc;
}

static int sqlite_type_counts(void *impl, int (*fn)(void *ctx, const char *type, uint64_t count), void *ctx)
{
	db *d = impl;
	sqlite3_stmt *st = NULL;
	int step = SQLITE_DONE;
	int rc = prepare_once(d, &st, KY_SQL_TYPE_COUNTS, "counting types");
	if (rc != KY_OK)
		return rc;
	while (rc == KY_OK && (step = sqlite3_step(st)) == SQLITE_ROW)
		rc = fn(ctx, (const char *)sqlite3_column_text(st, 0), (uint64_t)sqlite3_column_int64(st, 1));
	if (rc == KY_OK && step != SQLITE_DONE)
		rc = fail(d, "counting types");
	sqlite3_finalize(st);
	return rc < 0 ? rc : KY_OK;
}

static int sqlite_check(void *impl)
{
	db *d = impl;
	sqlite3_stmt *st = NULL;
	if (sqlite3_prepare_v2(d->h, "PRAGMA integrity_check", -1, &st, NULL) != SQLITE_OK)
		return fail(d, "checking integrity");
	int rc = KY_OK;
	if (sqlite3_step(st) != SQLITE_ROW)
		rc = fail(d, "checking integrity");
	else if (strcmp((const char *)sqlite3_column_text(st, 0), "ok") != 0)
		rc = ky_error_set(KY_ERROR, "%s: integrity check failed: %s", d->path, sqlite3_column_text(st, 0));
	sqlite3_finalize(st);
	st = NULL;
	/* The hub's own invariant beside SQLite's: its access rows repeat their additions. */
	if (rc == KY_OK)
		rc = prepare_once(d, &st, KY_SQL_CHECK_ENTRY_ACCESS, "checking the hub");
	if (rc == KY_OK && sqlite3_step(st) != SQLITE_ROW)
		rc = fail(d, "checking the hub");
	else if (rc == KY_OK && sqlite3_column_int64(st, 0) != 0)
		rc = ky_error_set(KY_ERROR, "%s: check failed: %lld access rows out of step with their additions", d->path,
				  (long long)sqlite3_column_int64(st, 0));
	sqlite3_finalize(st);
	return rc;
}

/* --- users and API keys ---------------------------------------------------------------------- */

/* Reads secret `name`: KY_OK, KY_ENOTFOUND, or another failure. */
static int read_secret(db *d, const char *name, uint8_t *out)
{
	sqlite3_stmt *st = NULL;
	int rc = prepare_once(d, &st, KY_SQL_SECRET_READ, "reading a secret");
	if (rc != KY_OK)
		return rc;
	sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
	int step = sqlite3_step(st);
	if (step == SQLITE_ROW && sqlite3_column_bytes(st, 0) == KY_STORE_SECRET_SIZE) {
		memcpy(out, sqlite3_column_blob(st, 0), KY_STORE_SECRET_SIZE);
		rc = KY_OK;
	} else if (step == SQLITE_ROW) {
		rc = ky_error_set(KY_EINVALID, "%s: the secret %s is not %d bytes long", d->path, name, KY_STORE_SECRET_SIZE);
	} else if (step == SQLITE_DONE) {
		rc = ky_error_set(KY_ENOTFOUND, "%s: no secret %s", d->path, name);
	} else {
		rc = fail(d, "reading a secret");
	}
	sqlite3_finalize(st);
	return rc;
}

static int sqlite_secret(void *impl, const char *name, const uint8_t *fresh, int64_t now_us, uint8_t *out)
{
	db *d = impl;
	int rc = read_secret(d, name, out);
	if (rc != KY_ENOTFOUND || fresh == NULL)
		return rc;
	sqlite3_stmt *st = NULL;
	rc = prepare_once(d, &st, KY_SQL_SECRET_ADD, "storing a secret");
	if (rc != KY_OK)
		return rc;
	sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
	sqlite3_bind_blob(st, 2, fresh, KY_STORE_SECRET_SIZE, SQLITE_STATIC);
	sqlite3_bind_int64(st, 3, now_us);
	rc = sqlite3_step(st) == SQLITE_DONE ? KY_OK : fail(d, "storing a secret");
	sqlite3_finalize(st);
	return rc == KY_OK ? read_secret(d, name, out) : rc;
}

/* --- removals ----------------------------------------------------------------------------- */

/* user_id as stored: NULL for 0 (no user: the operator). */
static void bind_user(sqlite3_stmt *st, int i, int64_t user_id)
{
	if (user_id != 0)
		sqlite3_bind_int64(st, i, user_id);
	else
		sqlite3_bind_null(st, i);
}

/*
 * One BEGIN IMMEDIATE transaction: the selected entries are copied to removals with the time
 * and the user, deleted from entries (found again through removals_by_collection: this
 * moment's removals of the object; numbers are never reused, so older ones match nothing),
 * and the object's newest remaining entry in the collection gets the `latest` mark.
 */
static int sqlite_remove(void *impl, const ky_store_removal_filter *filter, int64_t user_id, int64_t now_us,
			 uint64_t *removed, ky_store_tx_body *audit, void *ctx)
{
	db *d = impl;
	ky_store_sql sel;
	char sql[sizeof(sel.text) + 256];
	sqlite3_stmt *move = NULL, *drop = NULL, *mark = NULL, *mark_access = NULL, *unreadable = NULL;
	int rc = ky_store_sql_removal(filter, '?', &sel);
	if (rc != KY_OK)
		return rc;
	snprintf(sql, sizeof(sql),
		 "INSERT INTO removals (seq, collection_id, vid, stix_id, type, version_key, date_added_us, removed_us, user_id)"
		 " SELECT seq, collection_id, vid, stix_id, type, version_key, date_added_us, ?3, ?4 FROM entries"
		 " WHERE seq IN (%s)",
		 sel.text);
	rc = exec(d, "BEGIN IMMEDIATE");
	if (rc != KY_OK)
		return rc;
	rc = prepare_once(d, &move, sql, "removing versions");
	if (rc == KY_OK)
		rc = prepare_once(d, &drop,
				  "DELETE FROM entries WHERE seq IN (SELECT r.seq FROM removals r WHERE r.collection_id = ?1"
				  " AND r.removed_us = ?3 AND r.stix_id = ?2)",
				  "removing versions");
	if (rc == KY_OK)
		rc = prepare_once(d, &mark, KY_SQL_REMOVAL_MARK_LATEST, "removing versions");
	if (rc == KY_OK)
		rc = prepare_once(d, &mark_access, KY_SQL_REMOVAL_MARK_LATEST_ACCESS, "removing versions");
	if (rc == KY_OK)
		rc = prepare_once(d, &unreadable, KY_SQL_REMOVAL_DROP_ACCESS, "removing versions");
	if (rc != KY_OK)
		goto done;
	sqlite3_stmt *stmts[] = {move, drop, mark, mark_access, unreadable};
	for (size_t i = 0; i < sizeof(stmts) / sizeof(stmts[0]); i++) {
		/* Parameters a statement does not have are refused (SQLITE_RANGE) and ignored. */
		sqlite3_bind_int64(stmts[i], 1, filter->collection_id);
		sqlite3_bind_text(stmts[i], 2, filter->id, -1, SQLITE_STATIC);
		sqlite3_bind_int64(stmts[i], 3, now_us);
	}
	bind_user(move, 4, user_id);
	for (size_t i = 0; i < sel.nparams; i++)
		sqlite3_bind_text(move, (int)(i + sel.nfixed + 1), sel.params[i], -1, SQLITE_STATIC);
	if (sqlite3_step(move) != SQLITE_DONE) {
		rc = sqlite3_errcode(d->h) == SQLITE_CONSTRAINT
			     ? ky_error_set(KY_ENOTFOUND, "%s: removing versions of %s: user %lld does not exist", d->path,
					    filter->id, (long long)user_id)
			     : fail(d, "recording a removal");
		goto done;
	}
	*removed = (uint64_t)sqlite3_changes(d->h);
	if (*removed == 0)
		goto done;
	if (sqlite3_step(drop) != SQLITE_DONE) {
		rc = fail(d, "removing versions from a collection");
		goto done;
	}
	if ((uint64_t)sqlite3_changes(d->h) != *removed) {
		rc = ky_error_set(KY_ERROR, "%s: removing versions of %s: %llu recorded but %d removed", d->path, filter->id,
				  (unsigned long long)*removed, sqlite3_changes(d->h));
		goto done;
	}
	if (sqlite3_step(mark) != SQLITE_DONE || sqlite3_step(mark_access) != SQLITE_DONE)
		rc = fail(d, "marking the latest version after a removal");
	else if (sqlite3_step(unreadable) != SQLITE_DONE)
		rc = fail(d, "removing the access of removed versions");
done:
	sqlite3_finalize(unreadable);
	sqlite3_finalize(move);
	sqlite3_finalize(drop);
	sqlite3_finalize(mark);
	sqlite3_finalize(mark_access);
	if (rc == KY_OK && *removed > 0) {
		ky_store_tx tx = {.impl = d};
		rc = audit(&tx, ctx);
	}
	if (rc == KY_OK)
		rc = exec(d, "COMMIT");
	if (rc != KY_OK) {
		*removed = 0;
		sqlite3_exec(d->h, "ROLLBACK", NULL, NULL, NULL);
	}
	return rc;
}

static int sqlite_removal_list(void *impl, int64_t collection_id, int (*fn)(void *ctx, const ky_store_removal *r),
			       void *ctx)
{
	db *d = impl;
	sqlite3_stmt *st = NULL;
	int step = SQLITE_DONE;
	int rc = prepare_once(d, &st, KY_SQL_REMOVAL_LIST, "listing removals");
	if (rc != KY_OK)
		return rc;
	sqlite3_bind_int64(st, 1, collection_id);
	while (rc == KY_OK && (step = sqlite3_step(st)) == SQLITE_ROW) {
		ky_store_removal r = {
			.seq = (uint64_t)sqlite3_column_int64(st, 0),
			.date_added_us = sqlite3_column_int64(st, 1),
			.removed_us = sqlite3_column_int64(st, 2),
			.user_id = sqlite3_column_int64(st, 3),
			.id = (const char *)sqlite3_column_text(st, 4),
			.modified = (const char *)sqlite3_column_text(st, 5),
		};
		rc = fn(ctx, &r);
	}
	if (rc == KY_OK && step != SQLITE_DONE)
		rc = fail(d, "listing removals");
	sqlite3_finalize(st);
	return rc < 0 ? rc : KY_OK;
}

/* --- Add Objects requests ---------------------------------------------------------------- */

/* A row of KY_SQL_REQUEST_COLUMNS into *out. */
static void read_request(sqlite3_stmt *st, ky_store_request *out)
{
	memset(out, 0, sizeof(*out));
	snprintf(out->id, sizeof(out->id), "%s", (const char *)sqlite3_column_text(st, 0));
	out->collection_id = sqlite3_column_int64(st, 1);
	out->user_id = sqlite3_column_int64(st, 2);
	out->received_us = sqlite3_column_int64(st, 3);
	out->complete = sqlite3_column_int(st, 4) != 0;
	out->total = (uint64_t)sqlite3_column_int64(st, 5);
	out->successes = (uint64_t)sqlite3_column_int64(st, 6);
	out->failures = (uint64_t)sqlite3_column_int64(st, 7);
	out->token = (uint64_t)sqlite3_column_int64(st, 8);
}

static int sqlite_request_add(void *impl, const ky_store_request *r, const char *envelope, size_t len)
{
	db *d = impl;
	sqlite3_stmt *st = NULL;
	int rc = prepare_once(d, &st, KY_SQL_REQUEST_ADD, "recording a request");
	if (rc != KY_OK)
		return rc;
	sqlite3_bind_text(st, 1, r->id, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, r->collection_id);
	bind_user(st, 3, r->user_id);
	sqlite3_bind_int64(st, 4, r->received_us);
	sqlite3_bind_int64(st, 5, (sqlite3_int64)r->total);
	sqlite3_bind_blob64(st, 6, envelope, len, SQLITE_STATIC);
	int step = sqlite3_step(st);
	if (step == SQLITE_CONSTRAINT && sqlite3_extended_errcode(d->h) == SQLITE_CONSTRAINT_PRIMARYKEY)
		rc = ky_error_set(KY_EEXISTS, "%s: a request with id %s exists already", d->path, r->id);
	else if (step == SQLITE_CONSTRAINT)
		rc = ky_error_set(KY_ENOTFOUND, "%s: request %s: collection %lld or user %lld does not exist", d->path, r->id,
				  (long long)r->collection_id, (long long)r->user_id);
	else if (step != SQLITE_DONE)
		rc = fail(d, "recording a request");
	sqlite3_finalize(st);
	return rc;
}

static int sqlite_request_get(void *impl, const char *id, ky_store_request *out)
{
	db *d = impl;
	sqlite3_stmt *st = NULL;
	int rc = prepare_once(d, &st, KY_SQL_REQUEST_GET, "reading a request");
	if (rc != KY_OK)
		return rc;
	sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
	int step = sqlite3_step(st);
	if (step == SQLITE_ROW)
		read_request(st, out);
	rc = step == SQLITE_ROW    ? KY_OK
		 : step == SQLITE_DONE ? ky_error_set(KY_ENOTFOUND, "no request %s in this hub", id)
				       : fail(d, "reading a request");
	sqlite3_finalize(st);
	return rc;
}

static int sqlite_request_objects(void *impl, const char *id, int (*fn)(void *ctx, const ky_store_request_object *o),
				  void *ctx)
{
	db *d = impl;
	sqlite3_stmt *st = NULL;
	int step = SQLITE_DONE;
	int rc = prepare_once(d, &st, KY_SQL_REQUEST_OBJECTS, "listing a request's outcomes");
	if (rc != KY_OK)
		return rc;
	sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
	while (rc == KY_OK && (step = sqlite3_step(st)) == SQLITE_ROW) {
		ky_store_request_object o = {
			.index = (uint64_t)sqlite3_column_int64(st, 0),
			.id = (const char *)sqlite3_column_text(st, 1),
			.version = (const char *)sqlite3_column_text(st, 2),
			.success = sqlite3_column_int(st, 3) != 0,
			.message = (const char *)sqlite3_column_text(st, 4),
		};
		rc = fn(ctx, &o);
	}
	if (rc == KY_OK && step != SQLITE_DONE)
		rc = fail(d, "listing a request's outcomes");
	sqlite3_finalize(st);
	return rc < 0 ? rc : KY_OK;
}

/* Why a write fenced by a token changed no row: the request is gone, or another claim holds it. */
static int fence_failure(db *d, const char *id)
{
	sqlite3_stmt *st = NULL;
	int rc = prepare_once(d, &st, KY_SQL_REQUEST_EXISTS, "reading a request");
	if (rc != KY_OK)
		return rc;
	sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
	int step = sqlite3_step(st);
	rc = step == SQLITE_ROW    ? ky_store_taken_over(id)
		 : step == SQLITE_DONE ? ky_error_set(KY_ENOTFOUND, "no request %s in this hub", id)
				       : fail(d, "reading a request");
	sqlite3_finalize(st);
	return rc;
}

/*
 * Inside the caller's transaction: the objects of request `id` without an outcome are
 * recorded as failures (KY_STORE_REQUEST_UNRECORDED), its counts updated and the request
 * completed, if `token` is still its claim's.
 */
static int finish_request(db *d, const char *id, uint64_t token)
{
	sqlite3_stmt *fill = NULL, *close = NULL;
	int rc = prepare_once(d, &fill, KY_SQL_REQUEST_FILL_UNRECORDED, "completing a request as failed");
	if (rc == KY_OK)
		rc = prepare_once(d, &close, KY_SQL_REQUEST_CLOSE_FAILED, "completing a request as failed");
	if (rc != KY_OK)
		goto done;
	sqlite3_bind_text(fill, 1, id, -1, SQLITE_STATIC);
	sqlite3_bind_text(fill, 2, KY_STORE_REQUEST_UNRECORDED, -1, SQLITE_STATIC);
	sqlite3_bind_int64(fill, 3, (sqlite3_int64)token);
	rc = step_done(d, fill, "recording the outcomes a request could not record");
	if (rc != KY_OK)
		goto done;
	sqlite3_bind_text(close, 1, id, -1, SQLITE_STATIC);
	sqlite3_bind_int64(close, 2, (sqlite3_int64)token);
	rc = step_done(d, close, "completing a request as failed");
	if (rc == KY_OK && sqlite3_changes(d->h) != 1)
		rc = fence_failure(d, id);
done:
	sqlite3_finalize(fill);
	sqlite3_finalize(close);
	return rc;
}

/* BEGIN IMMEDIATE: one writer at a time, so no two connections find the same request
 * unclaimed. A request claimed too often is finished as failed, and the next one looked for. */
static int sqlite_request_claim(void *impl, int64_t now_us, int64_t lease_us, ky_store_request *out, char **envelope,
				size_t *len)
{
	db *d = impl;
	sqlite3_stmt *find = NULL, *hold = NULL, *envelope_of = NULL;
	int rc = exec(d, "BEGIN IMMEDIATE");
	if (rc != KY_OK)
		return rc;
	rc = prepare_once(d, &find, KY_SQL_REQUEST_NEXT, "claiming a request");
	if (rc == KY_OK)
		rc = prepare_once(d, &hold, KY_SQL_REQUEST_HOLD, "claiming a request");
	if (rc == KY_OK)
		rc = prepare_once(d, &envelope_of, KY_SQL_REQUEST_ENVELOPE, "claiming a request");
	if (rc != KY_OK)
		goto done;
	sqlite3_bind_int64(find, 1, now_us);
	for (;;) {
		int step = sqlite3_step(find);
		if (step == SQLITE_DONE) {
			rc = ky_error_set(KY_ENOTFOUND, "%s: no request waiting to be processed", d->path);
			goto done;
		}
		if (step != SQLITE_ROW) {
			rc = fail(d, "claiming a request");
			goto done;
		}
		read_request(find, out);
		if (out->token < KY_STORE_REQUEST_CLAIMS_MAX)
			break;
		sqlite3_reset(find);
		rc = finish_request(d, out->id, out->token);
		if (rc != KY_OK)
			goto done;
	}
	sqlite3_bind_text(envelope_of, 1, out->id, -1, SQLITE_STATIC);
	if (sqlite3_step(envelope_of) != SQLITE_ROW) {
		rc = fail(d, "reading a request's envelope");
		goto done;
	}
	size_t n = (size_t)sqlite3_column_bytes(envelope_of, 0);
	*envelope = malloc(n ? n : 1);
	if (*envelope == NULL) {
		rc = ky_error_set(KY_ENOMEM, "out of memory");
		goto done;
	}
	if (n > 0)
		memcpy(*envelope, sqlite3_column_blob(envelope_of, 0), n);
	*len = n;
	sqlite3_bind_text(hold, 1, out->id, -1, SQLITE_STATIC);
	sqlite3_bind_int64(hold, 2, now_us + lease_us);
	if (sqlite3_step(hold) != SQLITE_DONE)
		rc = fail(d, "claiming a request");
	out->token++;
done:
	sqlite3_finalize(find);
	sqlite3_finalize(hold);
	sqlite3_finalize(envelope_of);
	if (rc == KY_OK)
		rc = exec(d, "COMMIT");
	if (rc != KY_OK) {
		sqlite3_exec(d->h, "ROLLBACK", NULL, NULL, NULL);
		free(*envelope);
		*envelope = NULL;
		*len = 0;
		memset(out, 0, sizeof(*out));
	}
	return rc;
}

static void bind_text_or_null(sqlite3_stmt *st, int i, const char *text)
{
	if (text != NULL)
		sqlite3_bind_text(st, i, text, -1, SQLITE_STATIC);
	else
		sqlite3_bind_null(st, i);
}

/* The token is checked first, before anything is written, and again by the final UPDATE
 * (BEGIN IMMEDIATE already keeps other writers out between the two). */
static int sqlite_request_record(void *impl, const char *id, uint64_t token, const ky_store_request_object *objects,
				 size_t n, int64_t now_us, int64_t lease_us)
{
	db *d = impl;
	sqlite3_stmt *find = NULL, *upsert = NULL, *counts = NULL;
	int rc = exec(d, "BEGIN IMMEDIATE");
	if (rc != KY_OK)
		return rc;
	rc = prepare_once(d, &find, KY_SQL_REQUEST_FENCE, "recording a request's outcomes");
	if (rc == KY_OK)
		rc = prepare_once(d, &upsert, KY_SQL_OUTCOME_INSERT "($1, $2, $3, $4, $5, $6)" KY_SQL_OUTCOME_UPSERT,
				  "recording a request's outcomes");
	if (rc == KY_OK)
		rc = prepare_once(d, &counts, KY_SQL_REQUEST_COUNT, "recording a request's outcomes");
	if (rc != KY_OK)
		goto done;
	sqlite3_bind_text(find, 1, id, -1, SQLITE_STATIC);
	int step = sqlite3_step(find);
	if (step == SQLITE_DONE) {
		rc = ky_error_set(KY_ENOTFOUND, "no request %s in this hub", id);
		goto done;
	}
	if (step != SQLITE_ROW) {
		rc = fail(d, "recording a request's outcomes");
		goto done;
	}
	uint64_t total = (uint64_t)sqlite3_column_int64(find, 0);
	if ((uint64_t)sqlite3_column_int64(find, 1) != token) {
		rc = ky_store_taken_over(id);
		goto done;
	}
	sqlite3_bind_text(upsert, 1, id, -1, SQLITE_STATIC);
	for (size_t i = 0; rc == KY_OK && i < n; i++) {
		const ky_store_request_object *o = &objects[i];
		if (o->index >= total) {
			rc = ky_error_set(KY_EINVALID, "request %s: object %llu is past the envelope's %llu objects", id,
					  (unsigned long long)o->index, (unsigned long long)total);
			break;
		}
		sqlite3_bind_int64(upsert, 2, (sqlite3_int64)o->index);
		bind_text_or_null(upsert, 3, o->id);
		bind_text_or_null(upsert, 4, o->version);
		sqlite3_bind_int(upsert, 5, o->success);
		bind_text_or_null(upsert, 6, o->message);
		rc = step_done(d, upsert, "recording a request's outcome");
	}
	if (rc == KY_OK) {
		sqlite3_bind_text(counts, 1, id, -1, SQLITE_STATIC);
		sqlite3_bind_int64(counts, 2, now_us + lease_us);
		sqlite3_bind_int64(counts, 3, (sqlite3_int64)token);
		rc = step_done(d, counts, "counting a request's outcomes");
	}
	if (rc == KY_OK && sqlite3_changes(d->h) != 1)
		rc = ky_store_taken_over(id);
done:
	sqlite3_finalize(find);
	sqlite3_finalize(upsert);
	sqlite3_finalize(counts);
	if (rc == KY_OK)
		rc = exec(d, "COMMIT");
	if (rc != KY_OK)
		sqlite3_exec(d->h, "ROLLBACK", NULL, NULL, NULL);
	return rc;
}

static int sqlite_request_complete(void *impl, const char *id, uint64_t token)
{
	db *d = impl;
	sqlite3_stmt *st = NULL;
	int rc = prepare_once(d, &st, KY_SQL_REQUEST_COMPLETE, "completing a request");
	if (rc != KY_OK)
		return rc;
	sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, (sqlite3_int64)token);
	rc = sqlite3_step(st) != SQLITE_DONE ? fail(d, "completing a request")
		 : sqlite3_changes(d->h) == 0 ? fence_failure(d, id)
					       : KY_OK;
	sqlite3_finalize(st);
	return rc;
}

static int sqlite_request_abandon(void *impl, const char *id, uint64_t token)
{
	db *d = impl;
	int rc = exec(d, "BEGIN IMMEDIATE");
	if (rc != KY_OK)
		return rc;
	rc = finish_request(d, id, token);
	if (rc == KY_OK)
		rc = exec(d, "COMMIT");
	if (rc != KY_OK)
		sqlite3_exec(d->h, "ROLLBACK", NULL, NULL, NULL);
	return rc;
}

/* --- the statement interface (store_backend.h) ---------------------------------------------- */

/* A read body runs its statements each on its own, as on PostgreSQL: BEGIN and COMMIT, which
 * sqlite3_exec() parses anew each time, cost a key lookup more than the lookup does. */
static int sqlite_transact(void *impl, bool write, ky_store_tx_body *body, void *ctx)
{
	db *d = impl;
	int rc = write ? exec(d, "BEGIN IMMEDIATE") : KY_OK;
	if (rc != KY_OK)
		return rc;
	ky_store_tx tx = {.impl = d, .retry = false};
	rc = body(&tx, ctx);
	if (rc == KY_OK && write)
		rc = exec(d, "COMMIT");
	if (rc != KY_OK && write)
		sqlite3_exec(d->h, "ROLLBACK", NULL, NULL, NULL);
	return rc;
}

/* The status of a statement that failed: constraints told apart, as the interface says. */
static int run_failure(db *d)
{
	int code = sqlite3_extended_errcode(d->h);
	int status = code == SQLITE_CONSTRAINT_FOREIGNKEY ? KY_ENOTFOUND
		     : code == SQLITE_CONSTRAINT_CHECK || code == SQLITE_CONSTRAINT_NOTNULL ? KY_EINVALID
											    : status_of(d);
	return ky_error_set(status, "%s: %s", d->path, sqlite3_errmsg(d->h));
}

static int sqlite_run(ky_store_tx *tx, const char *sql, const ky_store_value *values, int n, ky_store_cells_fn *fn,
		      void *ctx, uint64_t *changed)
{
	db *d = tx->impl;
	char *text = malloc(strlen(sql) + 1);
	if (text == NULL)
		return ky_error_set(KY_ENOMEM, "out of memory");
	ky_store_sql_marks(sql, '?', text);
	sqlite3_stmt *st = NULL;
	int rc = cached_query(d, text, &st, "preparing a statement");
	free(text);
	if (rc != KY_OK)
		return rc;
	for (int i = 0; i < n; i++) {
		if (values[i].kind == KY_STORE_VINT)
			sqlite3_bind_int64(st, i + 1, values[i].i);
		else if (values[i].kind == KY_STORE_VTEXT)
			sqlite3_bind_text(st, i + 1, values[i].text, -1, SQLITE_STATIC);
		else if (values[i].kind == KY_STORE_VBLOB)
			sqlite3_bind_blob(st, i + 1, values[i].bytes, (int)values[i].len, SQLITE_STATIC);
		else
			sqlite3_bind_null(st, i + 1);
	}
	int step;
	while ((step = sqlite3_step(st)) == SQLITE_ROW) {
		ky_store_cell cells[KY_STORE_CELLS_MAX];
		int ncols = sqlite3_column_count(st);
		if (ncols > KY_STORE_CELLS_MAX)
			ncols = KY_STORE_CELLS_MAX;
		for (int i = 0; i < ncols; i++) {
			const unsigned char *value = sqlite3_column_text(st, i);
			cells[i].null = value == NULL;
			cells[i].text = value ? (const char *)value : "";
			cells[i].len = value ? (size_t)sqlite3_column_bytes(st, i) : 0;
		}
		int stop = fn ? fn(ctx, cells, ncols) : 0;
		if (stop != 0) {
			rc = stop < 0 ? stop : KY_OK;
			step = SQLITE_DONE;
			break;
		}
	}
	if (step != SQLITE_DONE)
		rc = run_failure(d);
	else if (changed != NULL)
		*changed = (uint64_t)sqlite3_changes(d->h);
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	return rc;
}

const ky_store_backend ky_store_sqlite = {
	.name = "sqlite",
	.open = sqlite_open,
	.close = sqlite_close,
	.migrate = sqlite_migrate,
	.schema_version = sqlite_schema_version,
	.collection_create = sqlite_collection_create,
	.collection_find = sqlite_collection_find,
	.collection_list = sqlite_collection_list,
	.collection_additions = sqlite_collection_additions,
	.commit = sqlite_commit,
	.query = sqlite_query,
	.stats = sqlite_stats,
	.type_counts = sqlite_type_counts,
	.check = sqlite_check,
	.secret = sqlite_secret,
	.remove = sqlite_remove,
	.removal_list = sqlite_removal_list,
	.request_add = sqlite_request_add,
	.request_get = sqlite_request_get,
	.request_objects = sqlite_request_objects,
	.request_claim = sqlite_request_claim,
	.request_record = sqlite_request_record,
	.request_complete = sqlite_request_complete,
	.request_abandon = sqlite_request_abandon,
	.transact = sqlite_transact,
	.run = sqlite_run,
};
