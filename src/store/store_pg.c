/*
 * store_pg: the PostgreSQL backend of the store (libpq), for hubs that outgrow one process:
 * several kyoyu nodes write to one database at once.
 *
 * The tables are those of store_migrations.c, in PostgreSQL's types (text compared in "C"
 * collation, so version keys sort as bytes), plus `commits`, which makes a batch safe to
 * retry; the statements it shares with SQLite are store_statements.h's. A batch commits in
 * one transaction:
 *
 *   1. its rows go into a temporary staging table (multi-row prepared INSERTs, 64 rows a
 *      statement: the fastest bulk path measured here);
 *   2. the counter row is locked (SELECT ... FOR UPDATE) and held to the commit: a second
 *      writer waits here, so numbers are handed out in commit order;
 *   3. new versions are inserted from the staging table: their vids, the hub-wide numbers,
 *      are handed out under the lock too, so they follow commit order as well;
 *   4. entries are inserted set-based, numbered in input order from the counter, the first
 *      copy of each version only, none already in the collection;
 *   5. the `latest` marks of the objects touched are moved;
 *   6. the counter is advanced, and the batch's outcome recorded in `commits` under a
 *      token the client chose; then COMMIT.
 * If the connection breaks, the client reconnects (for up to retry_seconds) and asks for
 * its token: found, the batch committed and its outcome is read back, so an object is
 * neither stored twice nor reported twice; not found, the batch runs again. Every other
 * write that a retry may run a second time finds out first whether the lost attempt
 * committed, by what it wrote: a request by its id and fields, a collection by its uuid, a
 * key by its hash, a revocation or a removal by its time (taken once, before the first
 * attempt), an Add Objects outcome by its claim's token (writing it again is harmless).
 */
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "store/store_backend.h"
#include "store/store_statements.h"
#include "util/ky_clock.h"
#include "util/ky_error.h"
#include "util/ky_uri.h"
#include "util/ky_uuid.h"

/* An operation failed because the connection is gone: reconnect and try again. Internal. */
#define LOST (-100)

#define STAGE_ROWS 64
#define STAGE_COLUMNS 15
#define DEFAULT_RETRY_MS 60000
#define DEFAULT_LOCK_TIMEOUT_MS 10000

/* How many statements a connection keeps prepared for the reads of every request. */
#define STATEMENT_CACHE 16

typedef struct pg {
	PGconn *conn;
	char *uri;
	char label[256];   /* the URI for messages, passwords hidden (ky_uri_redact) */
	int schema;
	int retry_ms;
	int lock_timeout_ms; /* how long a statement waits for another writer's lock (busy_timeout_ms) */
	bool prepared;     /* the staging table and statements exist on this connection */
	bool analysed;     /* the staging table has statistics on this connection */
	bool raced;        /* the last failure was a deadlock or serialisation race */
	unsigned commits;  /* batches this connection committed, counted up to ANALYSE_AFTER */
	/* The texts of the statements prepared on this connection by exec_cached(), whose
	 * slot i is named "ky_cached_i". */
	char *cached_sql[STATEMENT_CACHE];
	unsigned cached_next;
	unsigned cuts;     /* ky_store_test_cut_after_commit(): transactions still to cut after */
} pg;

/* --- errors and connection loss ------------------------------------------------------- */

static bool lost(pg *p, const PGresult *r)
{
	if (PQstatus(p->conn) != CONNECTION_OK)
		return true;
	const char *state = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;
	/* An error the server did not send (no SQLSTATE) is libpq's. The first statement after
	 * the server closed an idle connection fails so ("server closed the connection
	 * unexpectedly") while PQstatus still says CONNECTION_OK (libpq 15); reading from the
	 * socket tells a closed connection from an error of the client's own. */
	if (state == NULL && r != NULL && PQresultStatus(r) == PGRES_FATAL_ERROR) {
		PQconsumeInput(p->conn);
		return PQstatus(p->conn) != CONNECTION_OK;
	}
	/* Class 08: connection exception; 57P01-57P03: the server is shutting down or starting. */
	return state != NULL && (strncmp(state, "08", 2) == 0 || strcmp(state, "57P01") == 0 ||
				 strcmp(state, "57P02") == 0 || strcmp(state, "57P03") == 0);
}

/* The status of a failed result: LOST, or a store code with the server's message set. */
static int failed(pg *p, PGresult *r, const char *what)
{
	int rc;
	const char *sqlstate = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;
	if (lost(p, r)) {
		rc = LOST;
	} else if (sqlstate != NULL && (strcmp(sqlstate, "40P01") == 0 || strcmp(sqlstate, "40001") == 0)) {
		/* A deadlock or serialisation race: the transaction was rolled back whole. */
		p->raced = true;
		rc = ky_error_set(KY_EBUSY, "%s: %s: %s", p->label, what, PQresultErrorMessage(r));
	} else {
		const char *state = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;
		/* 55P03: another writer held a lock past lock_timeout, as SQLite's busy timeout. */
		bool locked = state && strcmp(state, "55P03") == 0;
		/* Class 22, data exceptions (text that is not UTF-8, a number out of range), and 54,
		 * limits exceeded: the input is wrong, and sending it again will not help. */
		int code = state && strcmp(state, "23503") == 0	 ? KY_ENOTFOUND
			   : state && strncmp(state, "23", 2) == 0	 ? KY_EEXISTS
			   : state && strcmp(state, "40001") == 0	 ? KY_EBUSY
			   : locked					 ? KY_EBUSY
			   : state && strcmp(state, "53200") == 0	 ? KY_ENOMEM
			   : state && strncmp(state, "22", 2) == 0	 ? KY_EINVALID
			   : state && strncmp(state, "54", 2) == 0	 ? KY_ETOOBIG
									 : KY_ERROR;
		rc = ky_error_set(code, "%s: %s: %s%s", p->label, what, locked ? "the hub is locked by another writer: " : "",
				  r ? PQresultErrorMessage(r) : PQerrorMessage(p->conn));
	}
	PQclear(r);
	return rc;
}

/*
 * The test hook ky_store_test_cut_after_commit(): whether to cut the connection now, after a
 * statement that succeeded. It is cut once the statement ended a transaction (the connection
 * is idle again), its answer dropped: the caller returns LOST, as if the answer had never
 * come, and the retry must find out itself that the transaction committed.
 */
static bool cut_now(pg *p)
{
	if (p->cuts == 0 || PQtransactionStatus(p->conn) != PQTRANS_IDLE)
		return false;
	p->cuts--;
	shutdown(PQsocket(p->conn), SHUT_RDWR);
	return true;
}

/* Runs a statement without parameters that returns no rows. */
static int exec(pg *p, const char *sql, const char *what)
{
	PGresult *r = PQexec(p->conn, sql);
	ExecStatusType st = PQresultStatus(r);
	if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK)
		return failed(p, r, what);
	PQclear(r);
	return cut_now(p) ? LOST : KY_OK;
}

/* Runs a statement with text parameters, its result in `format` (0 text, 1 binary); *out
 * gets the result (the caller clears it). */
static int query_as(pg *p, const char *sql, int n, const char *const *values, int format, PGresult **out,
		    const char *what)
{
	PGresult *r = PQexecParams(p->conn, sql, n, NULL, values, NULL, NULL, format);
	ExecStatusType st = PQresultStatus(r);
	*out = NULL;
	if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK)
		return failed(p, r, what);
	if (cut_now(p)) {
		PQclear(r);
		return LOST;
	}
	*out = r;
	return KY_OK;
}

/* query_as() with a result in text. */
static int query(pg *p, const char *sql, int n, const char *const *values, PGresult **out, const char *what)
{
	return query_as(p, sql, n, values, 0, out, what);
}

/*
 * Runs a read that requests repeat (a page, a key, a collection) as a statement prepared on
 * this connection, preparing it the first time its text is seen: PostgreSQL then plans it
 * once, where PQexecParams would plan it on every call (about 0.7 ms, several times what
 * running a page costs). Returns the result as PQexecParams would.
 */
static PGresult *exec_cached(pg *p, const char *sql, int n, const Oid *types, const char *const *values)
{
	char name[32];
	for (unsigned i = 0; i < STATEMENT_CACHE; i++) {
		if (p->cached_sql[i] != NULL && strcmp(p->cached_sql[i], sql) == 0) {
			snprintf(name, sizeof(name), "ky_cached_%u", i);
			return PQexecPrepared(p->conn, name, n, values, NULL, NULL, 0);
		}
	}
	char *copy = strdup(sql);
	if (copy == NULL)
		return PQexecParams(p->conn, sql, n, types, values, NULL, NULL, 0);
	unsigned slot = p->cached_next++ % STATEMENT_CACHE;
	snprintf(name, sizeof(name), "ky_cached_%u", slot);
	if (p->cached_sql[slot] != NULL) {
		char deallocate[64];
		snprintf(deallocate, sizeof(deallocate), "DEALLOCATE %s", name);
		PQclear(PQexec(p->conn, deallocate));
		free(p->cached_sql[slot]);
		p->cached_sql[slot] = NULL;
	}
	PGresult *r = PQprepare(p->conn, name, sql, n, types);
	if (PQresultStatus(r) != PGRES_COMMAND_OK) {
		free(copy);
		return r;
	}
	PQclear(r);
	p->cached_sql[slot] = copy;
	return PQexecPrepared(p->conn, name, n, values, NULL, NULL, 0);
}

/* Forgets the prepared statements, which a new connection does not have. */
static void forget_cached(pg *p)
{
	for (unsigned i = 0; i < STATEMENT_CACHE; i++) {
		free(p->cached_sql[i]);
		p->cached_sql[i] = NULL;
	}
}

/* query() for the reads of every request, through exec_cached(). */
static int query_cached(pg *p, const char *sql, int n, const char *const *values, PGresult **out, const char *what)
{
	PGresult *r = exec_cached(p, sql, n, NULL, values);
	ExecStatusType st = PQresultStatus(r);
	if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
		*out = NULL;
		return failed(p, r, what);
	}
	*out = r;
	return KY_OK;
}

static void rollback(pg *p)
{
	if (PQstatus(p->conn) == CONNECTION_OK && PQtransactionStatus(p->conn) != PQTRANS_IDLE)
		PQclear(PQexec(p->conn, "ROLLBACK"));
}

static int64_t integer(const PGresult *r, int row, int col)
{
	return PQgetisnull(r, row, col) ? 0 : strtoll(PQgetvalue(r, row, col), NULL, 10);
}

/* --- schema and migrations ------------------------------------------------------------ */

/* Serialises schema changes between kyoyu processes on one database. */
#define SCHEMA_LOCK "SELECT pg_advisory_xact_lock(7300560001)"

/* The hub's schema version: 0 when there is none (nothing in the schema kyoyu's tables go
 * to), -1 when the database holds something else (tables of someone else's, as SQLite
 * refuses a file with tables) or kyoyu_schema in a form this build cannot read. pg_class is
 * read with the statement's snapshot, not through the catalog caches as to_regclass() is:
 * a second `kyoyu init` that waited for the first's SCHEMA_LOCK must see its tables. */
static int read_schema(pg *p, int *out)
{
	PGresult *r;
	int rc = query(p,
		       "SELECT count(*) FILTER (WHERE c.relname = 'kyoyu_schema' AND c.relkind = 'r'), count(*)"
		       " FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace"
		       " WHERE n.nspname = current_schema()",
		       0, NULL, &r, "reading the schema version");
	if (rc != KY_OK)
		return rc;
	bool exists = integer(r, 0, 0) > 0, empty = integer(r, 0, 1) == 0;
	PQclear(r);
	if (!exists) {
		*out = empty ? 0 : -1;
		return KY_OK;
	}
	rc = query(p, "SELECT version FROM kyoyu_schema", 0, NULL, &r, "reading the schema version");
	if (rc != KY_OK)
		return rc;
	*out = PQntuples(r) == 1 ? (int)integer(r, 0, 0) : -1;
	PQclear(r);
	return KY_OK;
}

/* Runs migration v (schema v to v + 1, store_migrations.c) inside the caller's transaction. */
static int run_migration(pg *p, int v)
{
	char what[64], *sql = NULL;
	snprintf(what, sizeof(what), "migrating from schema %d to %d", v, v + 1);
	int rc = ky_store_migration_sql(v, '$', &sql);
	if (rc == KY_OK)
		rc = exec(p, sql, what);
	free(sql);
	return rc;
}

/* --- connecting --------------------------------------------------------------------------- */

static int connect_once(pg *p)
{
	PQfinish(p->conn);
	p->prepared = false;
	p->analysed = false;
	forget_cached(p);
	/* TCP keepalives find a dead network path in about a minute, where the default would
	 * wait for hours; the URI's own settings, expanded after these, win. */
	const char *const keywords[] = {"keepalives", "keepalives_idle", "keepalives_interval", "keepalives_count",
					"dbname", NULL};
	const char *const values[] = {"1", "30", "10", "3", p->uri, NULL};
	p->conn = PQconnectdbParams(keywords, values, 1);
	if (p->conn == NULL)
		return ky_error_set(KY_ENOMEM, "out of memory");
	if (PQstatus(p->conn) != CONNECTION_OK)
		return ky_error_set(KY_ERROR, "%s: cannot connect: %s", p->label, PQerrorMessage(p->conn));
	/* The stored bytes are the JSON as received, UTF-8 by the time it is valid: kept as
	 * text, they must pass through the connection unconverted. */
	if (PQsetClientEncoding(p->conn, "UTF8") != 0)
		return ky_error_set(KY_ERROR, "%s: cannot use UTF-8 on the connection", p->label);
	const char *server = PQparameterStatus(p->conn, "server_encoding");
	if (server == NULL || (strcmp(server, "UTF8") != 0 && strcmp(server, "SQL_ASCII") != 0))
		return ky_error_set(KY_EINVALID, "%s: the database's encoding is %s; kyoyu needs a UTF8 database", p->label,
				    server ? server : "unknown");
	/* Waiting for another writer is bounded as on SQLite (busy_timeout_ms): past it the
	 * statement fails with 55P03, KY_EBUSY, and the caller may retry. */
	/* kyoyu never waits inside a transaction: a session idle in one is a client whose side
	 * of the connection died, and the server must end it, or its lock on the counter row
	 * stops every other writer of the hub. */
	/* kyoyu's reads are keyset pages of at most a few thousand rows, run as prepared
	 * statements (exec_cached): a generic plan does not know the LIMIT and may gather
	 * parallel workers for them, whose start-up costs more than the page (measured: 4 ms
	 * against under 1 ms) and takes cores from the other requests. Nor is JIT compilation
	 * worth it for statements of a few thousand rows, which the planner may cost high enough
	 * to start it (measured: 25 ms of compiling for a 1 ms check of a batch's providers).
	 * Without parallel workers, those generic plans are the plans wanted: every read walks
	 * an index whatever its parameters, and the planner, left to choose, kept planning a
	 * viewer's page again on every request (its cost guessed from the parameters), which
	 * took more than running it (measured: a filtered page 3 times faster with generic
	 * plans, an unfiltered one 1.2 times; bench/README.md). Statements run once (query())
	 * are planned with their values as before. */
	char set[256];
	snprintf(set, sizeof(set),
		 "SET lock_timeout = %d; SET idle_in_transaction_session_timeout = 30000;"
		 " SET max_parallel_workers_per_gather = 0; SET jit = off; SET plan_cache_mode = force_generic_plan",
		 p->lock_timeout_ms > 0 ? p->lock_timeout_ms : DEFAULT_LOCK_TIMEOUT_MS);
	PGresult *r = PQexec(p->conn, set);
	bool ok = PQresultStatus(r) == PGRES_COMMAND_OK;
	PQclear(r);
	if (!ok)
		return ky_error_set(KY_ERROR, "%s: cannot set lock_timeout: %s", p->label, PQerrorMessage(p->conn));
	return KY_OK;
}

/*
 * Connects again after a loss, retrying with growing pauses for up to retry_ms: a server
 * restarting or failing over comes back within that, and the operation then goes on.
 */
static int reconnect(pg *p)
{
	int waited = 0, pause = 100;
	for (;;) {
		int rc = connect_once(p);
		if (rc == KY_OK || rc == KY_EINVALID || rc == KY_ENOMEM)
			return rc;
		if (waited >= p->retry_ms)
			return ky_error_set(KY_ERROR, "%s: the database has been unreachable for %d s: %s", p->label,
					    waited / 1000, PQerrorMessage(p->conn));
		usleep((useconds_t)pause * 1000);
		waited += pause;
		pause = pause < 1000 ? pause * 2 : 1000;
	}
}

/* Runs call until it does not lose the connection, reconnecting in between. `retry`, a
 * bool that call may read, is true from the second attempt on, when the lost one may have
 * committed: a write that must not be done twice checks first (WITH_RETRY_KNOWING). */
#define WITH_RETRY_KNOWING(p, retry, call)                     \
	do {                                                   \
		for (bool retry = false;; retry = true) {      \
			int rc_ = (call);                      \
			if (rc_ != LOST)                       \
				return rc_;                    \
			rc_ = reconnect(p);                    \
			if (rc_ != KY_OK)                      \
				return rc_;                    \
		}                                              \
	} while (0)

/* For operations that are safe to repeat as they are. */
#define WITH_RETRY(p, call) WITH_RETRY_KNOWING(p, retry_, ((void)retry_, (call)))

static void pg_free(pg *p)
{
	if (p == NULL)
		return;
	PQfinish(p->conn);
	forget_cached(p);
	/* The URI may hold a password. */
	if (p->uri != NULL)
		explicit_bzero(p->uri, strlen(p->uri));
	free(p->uri);
	free(p);
}

/*
 * The label of `uri` for messages, and whether libpq can read it: libpq's own message for a
 * URI it cannot read quotes the part where it stopped, which may be a password, so it is not
 * passed on.
 */
static int set_uri(pg *p, const char *uri)
{
	ky_uri_redact(uri, p->label, sizeof(p->label));
	char *why = NULL;
	PQconninfoOption *parsed = PQconninfoParse(uri, &why);
	int rc = parsed != NULL ? KY_OK
		 : why == NULL	? ky_error_set(KY_ENOMEM, "out of memory")
				: ky_error_set(KY_EINVALID,
					       "%s: libpq cannot read this URI; expected"
					       " postgresql://[user[:password]@][host][:port][/dbname][?param=value&...]",
					       p->label);
	PQfreemem(why);
	PQconninfoFree(parsed);
	return rc;
}

static int create_hub(pg *p, bool *created)
{
	char uuid[37];
	int rc = exec(p, "BEGIN", "creating the hub");
	if (rc == KY_OK)
		rc = exec(p, SCHEMA_LOCK, "creating the hub");
	if (rc == KY_OK)
		rc = read_schema(p, &p->schema);
	*created = rc == KY_OK && p->schema == 0;
	for (int v = 0; rc == KY_OK && *created && v < KY_STORE_SCHEMA_VERSION; v++)
		rc = run_migration(p, v);
	if (rc == KY_OK && *created)
		rc = ky_uuid4(uuid);
	if (rc == KY_OK && *created) {
		char now[24];
		snprintf(now, sizeof(now), "%lld", (long long)ky_clock_now_us());
		const char *values[] = {uuid, KY_STORE_DEFAULT_COLLECTION, "Default collection",
					"Where objects go when no collection is named.", now};
		PGresult *r;
		rc = query(p, KY_SQL_COLLECTION_ADD, 5, values, &r, "creating the default collection");
		PQclear(r);
	}
	if (rc == KY_OK)
		rc = exec(p, "COMMIT", "creating the hub");
	if (rc != KY_OK) {
		rollback(p);
		return rc;
	}
	if (*created)
		p->schema = KY_STORE_SCHEMA_VERSION;
	return KY_OK;
}

static int pg_open(void **impl, const char *uri, const ky_store_options *options, bool *created)
{
	pg *p = calloc(1, sizeof(*p));
	bool made = false;
	if (created != NULL)
		*created = false;
	if (p == NULL || (p->uri = strdup(uri)) == NULL) {
		free(p);
		return ky_error_set(KY_ENOMEM, "out of memory");
	}
	p->retry_ms = options->retry_seconds > 0 ? options->retry_seconds * 1000 : DEFAULT_RETRY_MS;
	p->lock_timeout_ms = options->busy_timeout_ms;
	int rc = set_uri(p, uri);
	if (rc == KY_OK)
		rc = connect_once(p);
	if (rc == KY_OK)
		rc = read_schema(p, &p->schema);
	if (rc == KY_OK && p->schema == 0 && options->create)
		rc = create_hub(p, &made);
	if (rc == KY_OK)
		rc = ky_store_schema_refusal(p->label, p->schema);
	if (rc == LOST)
		rc = ky_error_set(KY_ERROR, "%s: the connection broke while opening the hub", p->label);
	if (rc != KY_OK) {
		pg_free(p);
		return rc;
	}
	if (created != NULL)
		*created = made;
	*impl = p;
	return KY_OK;
}

static void pg_close(void *impl)
{
	pg_free(impl);
}

static int pg_migrate(const char *uri, int *from, int *to)
{
	pg *p = calloc(1, sizeof(*p));
	if (p == NULL || (p->uri = strdup(uri)) == NULL) {
		free(p);
		return ky_error_set(KY_ENOMEM, "out of memory");
	}
	p->retry_ms = DEFAULT_RETRY_MS;
	int version = 0;
	int rc = set_uri(p, uri);
	if (rc == KY_OK)
		rc = connect_once(p);
	if (rc == KY_OK)
		rc = exec(p, "BEGIN", "migrating");
	if (rc == KY_OK)
		rc = exec(p, SCHEMA_LOCK, "migrating");
	if (rc == KY_OK)
		rc = read_schema(p, &version);
	if (from != NULL)
		*from = version;
	if (rc == KY_OK && (version <= 0 || version > KY_STORE_SCHEMA_VERSION))
		rc = ky_store_schema_refusal(p->label, version);
	/* All versions in one transaction: PostgreSQL's DDL is transactional. */
	for (int v = version; rc == KY_OK && v < KY_STORE_SCHEMA_VERSION; v++)
		rc = run_migration(p, v);
	if (rc == KY_OK)
		rc = exec(p, "COMMIT", "migrating");
	if (rc != KY_OK)
		rollback(p);
	if (rc == LOST)
		rc = ky_error_set(KY_ERROR, "%s: the connection broke while migrating; nothing changed", p->label);
	if (to != NULL)
		*to = rc == KY_OK ? KY_STORE_SCHEMA_VERSION : version;
	pg_free(p);
	return rc;
}

static int pg_schema_version(void *impl)
{
	return ((pg *)impl)->schema;
}

/* --- collections -------------------------------------------------------------------------- */

/*
 * Runs `insert` (n values, RETURNING the new row's id) for a write that a retry may repeat.
 * `retry`: a lost attempt may have committed; when the insert now finds its row taken,
 * `same` (the first n_same values) looks for the row that attempt would have written, and
 * the row found is the outcome. KY_EEXISTS when the row is someone else's.
 */
static int insert_once(pg *p, bool retry, const char *insert, int n, const char *same, int n_same,
		       const char *const *values, PGresult **r, const char *what)
{
	int rc = query(p, insert, n, values, r, what);
	if (rc == KY_EEXISTS && retry) {
		rc = query(p, same, n_same, values, r, what);
		if (rc == KY_OK && PQntuples(*r) != 1) {
			PQclear(*r);
			*r = NULL;
			rc = KY_EEXISTS;
		}
	}
	return rc;
}

/* `retry`: a lost attempt may have committed; a collection with this uuid (the caller's,
 * random), name, title and description is then that attempt's, and is the one created. */
static int collection_create_once(pg *p, bool retry, const char *uuid, const char *name, const char *title,
				  const char *description, int64_t *id)
{
	char now[24];
	snprintf(now, sizeof(now), "%lld", (long long)ky_clock_now_us());
	const char *values[] = {uuid, name, title, description, now};
	PGresult *r;
	int rc = insert_once(p, retry, KY_SQL_COLLECTION_ADD, 5,
			     "SELECT id FROM collections WHERE uuid = $1 AND name = $2 AND title = $3"
			     " AND description IS NOT DISTINCT FROM $4",
			     4, values, &r, "creating a collection");
	if (rc == KY_EEXISTS)
		return ky_error_set(KY_EEXISTS, "a collection named \"%s\" exists already", name);
	if (rc != KY_OK)
		return rc;
	*id = integer(r, 0, 0);
	PQclear(r);
	return KY_OK;
}

static int pg_collection_create(void *impl, const char *uuid, const char *name, const char *title,
				const char *description, int64_t *id)
{
	WITH_RETRY_KNOWING((pg *)impl, retry, collection_create_once(impl, retry, uuid, name, title, description, id));
}

static char *value_strdup(const PGresult *r, int row, int col)
{
	return PQgetisnull(r, row, col) ? NULL : strdup(PQgetvalue(r, row, col));
}

static void read_collection(const PGresult *r, int row, ky_store_collection *out)
{
	memset(out, 0, sizeof(*out));
	out->id = integer(r, row, 0);
	snprintf(out->uuid, sizeof(out->uuid), "%s", PQgetvalue(r, row, 1));
	out->name = value_strdup(r, row, 2);
	out->title = value_strdup(r, row, 3);
	out->description = value_strdup(r, row, 4);
}

static int collection_find_once(pg *p, const char *key, ky_store_collection *out)
{
	PGresult *r;
	memset(out, 0, sizeof(*out));
	int rc = query_cached(p, KY_SQL_COLLECTION_FIND, 1, &key, &r, "finding a collection");
	if (rc != KY_OK)
		return rc;
	if (PQntuples(r) == 0) {
		PQclear(r);
		return ky_error_set(KY_ENOTFOUND, "no collection named \"%s\" in this hub", key);
	}
	read_collection(r, 0, out);
	PQclear(r);
	return out->name && out->title ? KY_OK : ky_error_set(KY_ENOMEM, "out of memory");
}

static int pg_collection_find(void *impl, const char *key, ky_store_collection *out)
{
	WITH_RETRY((pg *)impl, collection_find_once(impl, key, out));
}

static int collection_list_once(pg *p, int (*fn)(void *ctx, const ky_store_collection *c), void *ctx)
{
	PGresult *r;
	int rc = query(p, KY_SQL_COLLECTION_LIST, 0, NULL, &r, "listing collections");
	for (int i = 0; rc == KY_OK && i < PQntuples(r); i++) {
		ky_store_collection c;
		read_collection(r, i, &c);
		rc = fn(ctx, &c);
		ky_store_collection_clear(&c);
	}
	PQclear(r);
	return rc < 0 ? rc : KY_OK;
}

static int collection_additions_once(pg *p, int64_t collection_id, uint64_t *out)
{
	char id[24];
	snprintf(id, sizeof(id), "%lld", (long long)collection_id);
	const char *values[] = {id};
	PGresult *r;
	int rc = query(p, KY_SQL_COLLECTION_ADDITIONS, 1, values, &r, "counting a collection's additions");
	if (rc != KY_OK)
		return rc;
	*out = (uint64_t)integer(r, 0, 0);
	PQclear(r);
	return KY_OK;
}

static int pg_collection_additions(void *impl, int64_t collection_id, uint64_t *out)
{
	WITH_RETRY((pg *)impl, collection_additions_once(impl, collection_id, out));
}

static int pg_collection_list(void *impl, int (*fn)(void *ctx, const ky_store_collection *c), void *ctx)
{
	WITH_RETRY((pg *)impl, collection_list_once(impl, fn, ctx));
}

/* --- writing ------------------------------------------------------------------------------ */

/* The staging table and statements, made once per connection. */
static int prepare(pg *p)
{
	if (p->prepared)
		return KY_OK;
	int rc = exec(p,
		      "CREATE TEMP TABLE IF NOT EXISTS ky_stage (ord integer, stix_id text COLLATE \"C\","
		      " type text COLLATE \"C\", spec_version text, modified text, version_key text COLLATE \"C\","
		      " raw text, added_us bigint, provider bigint, any_object boolean, tlp integer, keys text, creator bigint, parts text,"
		      " shared text)"
		      " ON COMMIT DELETE ROWS",
		      "preparing the staging table");
	for (int rows = 1; rc == KY_OK && rows <= STAGE_ROWS; rows += STAGE_ROWS - 1) {
		char name[32], sql[16384];
		size_t len = (size_t)snprintf(sql, sizeof(sql), "INSERT INTO ky_stage VALUES ");
		for (int i = 0; i < rows; i++) {
			int b = i * STAGE_COLUMNS;
			len += (size_t)snprintf(sql + len, sizeof(sql) - len,
						"%s($%d, $%d, $%d, $%d, $%d, $%d, $%d, $%d, $%d, $%d, $%d, $%d, $%d, $%d, $%d)",
						i ? ", " : "", b + 1, b + 2, b + 3, b + 4, b + 5, b + 6, b + 7, b + 8, b + 9,
						b + 10, b + 11, b + 12, b + 13, b + 14, b + 15);
		}
		snprintf(name, sizeof(name), "ky_stage_%d", rows);
		PGresult *r = PQprepare(p->conn, name, sql, rows * STAGE_COLUMNS, NULL);
		if (PQresultStatus(r) != PGRES_COMMAND_OK)
			rc = failed(p, r, "preparing the staging statement");
		else
			PQclear(r);
	}
	p->prepared = rc == KY_OK;
	return rc;
}

/* Puts items[from, from + rows) into the staging table with one statement. */
static int stage(pg *p, const ky_store_item *items, size_t from, int rows)
{
	const char *values[STAGE_ROWS * STAGE_COLUMNS];
	char numbers[STAGE_ROWS][5][24];
	for (int i = 0; i < rows; i++) {
		const ky_store_item *it = &items[from + (size_t)i];
		const char **v = values + i * STAGE_COLUMNS;
		snprintf(numbers[i][0], sizeof(numbers[i][0]), "%zu", from + (size_t)i);
		snprintf(numbers[i][1], sizeof(numbers[i][1]), "%lld", (long long)it->added_us);
		v[0] = numbers[i][0];
		v[1] = it->id;
		v[2] = it->type;
		v[3] = it->spec_version;
		v[4] = it->modified;
		v[5] = it->version_key;
		v[6] = it->raw;
		v[7] = numbers[i][1];
		snprintf(numbers[i][2], sizeof(numbers[i][2]), "%lld", (long long)it->provider);
		snprintf(numbers[i][3], sizeof(numbers[i][3]), "%d", it->tlp);
		v[8] = numbers[i][2];
		v[9] = it->any_object ? "t" : "f";
		v[10] = numbers[i][3];
		v[11] = it->keys;
		snprintf(numbers[i][4], sizeof(numbers[i][4]), "%lld", (long long)it->creator);
		v[12] = numbers[i][4];
		v[13] = it->parts;
		v[14] = it->shared;
	}
	char name[32];
	snprintf(name, sizeof(name), "ky_stage_%d", rows);
	PGresult *r = PQexecPrepared(p->conn, name, rows * STAGE_COLUMNS, values, NULL, NULL, 0);
	if (PQresultStatus(r) != PGRES_COMMAND_OK)
		return failed(p, r, "staging a batch");
	PQclear(r);
	return KY_OK;
}

/* Reads back a committed batch's outcome by its token. *found tells whether it committed. */
static int recall(pg *p, const char *token, ky_store_item *items, size_t n, bool *found)
{
	PGresult *r;
	int rc = query(p, "SELECT first_seq, outcome FROM commits WHERE token = $1", 1, &token, &r, "recalling a batch");
	if (rc != KY_OK)
		return rc;
	*found = PQntuples(r) == 1;
	if (*found) {
		uint64_t seq = (uint64_t)integer(r, 0, 0);
		const char *outcome = PQgetvalue(r, 0, 1);
		for (size_t i = 0; i < n; i++) {
			items[i].status = outcome[i] == 'S'   ? KY_STORE_STORED
					  : outcome[i] == 'N' ? KY_STORE_NOT_PROVIDER
					  : outcome[i] == 'C' ? KY_STORE_NOT_CREATOR
							      : KY_STORE_DUPLICATE;
			items[i].seq = outcome[i] == 'S' ? seq++ : 0;
		}
	}
	PQclear(r);
	return KY_OK;
}

/* A new addition as the entries INSERT returns it. */
typedef struct added {
	const char *id, *version_key;
	uint64_t seq;
	bool claimed;
} added;

static int added_cmp(const void *a, const void *b)
{
	const added *x = a, *y = b;
	int c = strcmp(x->id, y->id);
	return c ? c : strcmp(x->version_key, y->version_key);
}

/*
 * Each input object's outcome from the additions the batch made: the first copy of a
 * version that has a new entry is stored with its number (numbers follow input order, so
 * the first copy is the one numbered); every other object is a duplicate.
 */
static int assign_outcomes(const PGresult *r, ky_store_item *items, size_t n, char *outcome, uint64_t *last)
{
	size_t rows = (size_t)PQntuples(r);
	added *a = calloc(rows ? rows : 1, sizeof(*a));
	if (a == NULL)
		return ky_error_set(KY_ENOMEM, "out of memory");
	for (size_t i = 0; i < rows; i++) {
		a[i].seq = (uint64_t)integer(r, (int)i, 0);
		a[i].id = PQgetvalue(r, (int)i, 1);
		a[i].version_key = PQgetvalue(r, (int)i, 2);
	}
	qsort(a, rows, sizeof(*a), added_cmp);
	for (size_t i = 0; i < n; i++) {
		if (items[i].status != KY_STORE_STORED) {
			items[i].seq = 0;
			outcome[i] = items[i].status == KY_STORE_NOT_PROVIDER ? 'N' : 'C';
			continue;
		}
		added key = {.id = items[i].id, .version_key = items[i].version_key};
		added *hit = rows ? bsearch(&key, a, rows, sizeof(*a), added_cmp) : NULL;
		bool stored = hit != NULL && !hit->claimed;
		if (stored) {
			hit->claimed = true;
			if (hit->seq > *last)
				*last = hit->seq;
		}
		items[i].status = stored ? KY_STORE_STORED : KY_STORE_DUPLICATE;
		items[i].seq = stored ? hit->seq : 0;
		outcome[i] = stored ? 'S' : 'D';
	}
	free(a);
	return KY_OK;
}

static int commit_once(pg *p, const char *token, bool retry, int64_t collection_id, ky_store_item *items, size_t n,
		       ky_store_tx_body *audit, void *ctx)
{
	PGresult *r = NULL;
	char collection[24], last_seq_text[24], base_date_text[24];
	char *outcome = NULL;
	int rc;

	if (retry) {
		bool found = false;
		rc = recall(p, token, items, n, &found);
		if (rc != KY_OK || found)
			return rc;
	}
	rc = prepare(p);
	if (rc == KY_OK)
		rc = exec(p, "BEGIN", "beginning a batch");
	for (size_t i = 0; rc == KY_OK && i < n;) {
		int rows = n - i >= STAGE_ROWS ? STAGE_ROWS : 1;
		rc = stage(p, items, i, rows);
		i += (size_t)rows;
	}
	/* A temporary table has no statistics until analysed; without them the planner
	 * guesses it large and scans the whole of entries instead of probing its indexes.
	 * Once per connection is enough: the statistics outlive each commit's truncation. */
	if (rc == KY_OK && !p->analysed) {
		rc = exec(p, "ANALYZE ky_stage", "analysing the batch");
		p->analysed = rc == KY_OK;
	}

	/* From here to COMMIT the counter row is ours: numbers follow commit order. */
	int64_t last_seq = 0, last_date = 0;
	if (rc == KY_OK)
		rc = query(p, KY_SQL_COUNTER_READ " FOR UPDATE", 0, NULL, &r,
			   "locking the sequence");
	if (rc == KY_OK) {
		last_seq = integer(r, 0, 0);
		last_date = integer(r, 0, 1);
		PQclear(r);
		r = NULL;
	}
	/*
	 * store.h's rules against each object's provider (OWNER: the member of its first version
	 * or, for an object new to the hub, of its first copy in the batch), under the lock, so
	 * that two members racing to provide one new object cannot both succeed: the refused
	 * leave the batch, and the secretariat's versions of a member's object become that
	 * member's, with its key (KY_STORE_MEMBER_KEY's form, "m:" and the id).
	 */
#define OWNER                                                                                    \
	"coalesce((SELECT coalesce(v.provider_id, 0) FROM versions v WHERE v.stix_id = s.stix_id"   \
	" ORDER BY v.version_key LIMIT 1), (SELECT t.provider FROM ky_stage t"                      \
	" WHERE t.stix_id = s.stix_id ORDER BY t.ord LIMIT 1))"
	static const struct {
		const char *sql;
		ky_store_status status;
	} rules[] = {
		/* CASE, so that the owner is looked up only where it matters (PostgreSQL orders the
		 * terms of an AND as it likes). */
		{"DELETE FROM ky_stage s WHERE CASE WHEN s.any_object THEN false ELSE s.provider <> " OWNER " END RETURNING ord",
		 KY_STORE_NOT_PROVIDER},
		{"DELETE FROM ky_stage s WHERE CASE WHEN s.creator = 0 THEN false ELSE s.creator <> " OWNER " END RETURNING ord",
		 KY_STORE_NOT_CREATOR},
		/* Each row's owner once (MATERIALIZED), not once per pair of a join; only objects the
		 * hub holds already can be another member's (a batch is one submitter's: ingest.h). */
		{"WITH o AS MATERIALIZED (SELECT s.ord, (SELECT coalesce(v.provider_id, 0) FROM versions v"
		 " WHERE v.stix_id = s.stix_id ORDER BY v.version_key LIMIT 1) AS owner FROM ky_stage s WHERE s.any_object)"
		 " UPDATE ky_stage s SET provider = o.owner, keys = s.keys || ' m:' || o.owner FROM o"
		 " WHERE s.ord = o.ord AND o.owner <> s.provider AND o.owner <> 0 RETURNING s.ord",
		 KY_STORE_STORED},
	};
#undef OWNER
	for (size_t i = 0; i < n; i++)
		items[i].status = KY_STORE_STORED;
	for (size_t k = 0; rc == KY_OK && k < sizeof(rules) / sizeof(rules[0]); k++) {
		rc = query(p, rules[k].sql, 0, NULL, &r, "checking the batch's providers");
		for (int row = 0; rc == KY_OK && row < PQntuples(r); row++) {
			int64_t ord = integer(r, row, 0);
			if (ord >= 0 && (size_t)ord < n)
				items[ord].status = rules[k].status;
		}
		if (rc == KY_OK)
			PQclear(r);
		r = NULL;
	}
	/*
	 * New versions go in under the lock too: their vid is the hub-wide number (the cursor of
	 * hub-wide pages), so it must follow commit order as the entries' numbers do; numbered
	 * before the lock, a batch that commits later could take a lower vid than one a reader
	 * has already passed. In input order, so that versions are numbered as they arrived, as
	 * on SQLite; and only the versions not there yet, since ON CONFLICT would use up a
	 * vid for every duplicate (no writer inserts versions without the lock, so NOT EXISTS
	 * sees them all).
	 */
	/* With their access keys, the first copy's, as SQLite takes them. */
	if (rc == KY_OK)
		rc = exec(p,
			  "WITH d AS (SELECT DISTINCT ON (stix_id, version_key) * FROM ky_stage ORDER BY stix_id, version_key, ord),"
			  " ins AS (INSERT INTO versions (stix_id, type, spec_version, modified, version_key, raw, added_us,"
			  "  provider_id, tlp, parts, shared)"
			  "  SELECT stix_id, type, spec_version, modified, version_key, raw, added_us, provider, tlp, parts, shared FROM d"
			  "  WHERE NOT EXISTS (SELECT 1 FROM versions v WHERE v.stix_id = d.stix_id AND v.version_key = d.version_key)"
			  "  ORDER BY ord ON CONFLICT (stix_id, version_key) DO NOTHING RETURNING vid, stix_id, version_key)"
			  /* The keys from a narrow copy: d holds the objects' bytes. */
			  " , a AS (SELECT DISTINCT ON (stix_id, version_key) stix_id, version_key, keys FROM ky_stage"
			  "  ORDER BY stix_id, version_key, ord)"
			  " INSERT INTO version_access (vid, key)"
			  " SELECT i.vid, k.key FROM ins i JOIN a ON a.stix_id = i.stix_id AND a.version_key = i.version_key"
			  " CROSS JOIN LATERAL unnest(string_to_array(a.keys, ' ')) AS k(key) WHERE k.key <> ''"
			  " ON CONFLICT DO NOTHING",
			  "storing versions");
	int64_t now = ky_clock_now_us();
	/* Dates: the first new addition at now (or just after the previous one), then one
	 * microsecond apart, so they are unique and increase with the numbers. */
	int64_t base_date = (now > last_date ? now : last_date + 1) - 1;
	snprintf(collection, sizeof(collection), "%lld", (long long)collection_id);
	snprintf(last_seq_text, sizeof(last_seq_text), "%lld", (long long)last_seq);
	snprintf(base_date_text, sizeof(base_date_text), "%lld", (long long)base_date);
	const char *numbering[] = {collection, last_seq_text, base_date_text};
	/*
	 * One statement numbers the new additions and moves the `latest` marks (§3.6: the newest
	 * modified is the current version): a new addition is the latest if it is its object's
	 * newest in the batch and newer than the collection's current latest, which then loses
	 * its mark. Every step probes an index per object of the batch.
	 */
	if (rc == KY_OK)
		rc = query(p,
			   "WITH staged AS ("
			   "  SELECT s.ord, v.vid, s.stix_id, s.type, s.version_key FROM ky_stage s"
			   "  JOIN versions v ON v.stix_id = s.stix_id AND v.version_key = s.version_key),"
			   " fresh AS ("
			   "  SELECT DISTINCT ON (vid) ord, vid, stix_id, type, version_key FROM staged st"
			   "  WHERE NOT EXISTS (SELECT 1 FROM entries e WHERE e.collection_id = $1::bigint AND e.vid = st.vid)"
			   "  ORDER BY vid, ord),"
			   " numbered AS ("
			   "  SELECT ord, vid, stix_id, type, version_key, $2::bigint + row_number() OVER (ORDER BY ord) AS seq"
			   "  FROM fresh),"
			   " newest AS (SELECT stix_id, max(version_key) AS version_key FROM numbered GROUP BY stix_id),"
			   /* The collection's current latest of each object is its newest version: one
			    * backward probe of entries_by_object per object (LATERAL ... LIMIT 1),
			    * whatever the planner believes of a freshly grown table. */
			   " current AS ("
			   "  SELECT e.seq, e.stix_id, e.version_key FROM newest n CROSS JOIN LATERAL ("
			   "   SELECT seq, stix_id, version_key FROM entries WHERE collection_id = $1::bigint"
			   "   AND stix_id = n.stix_id ORDER BY version_key DESC LIMIT 1) e),"
			   " cleared AS ("
			   "  UPDATE entries x SET latest = 0 FROM current c JOIN newest n ON n.stix_id = c.stix_id"
			   "  WHERE x.seq = c.seq AND n.version_key > c.version_key RETURNING x.seq, x.vid),"
			   /* (Run though nothing reads it, as every data-modifying WITH is.) */
			   " unmarked AS ("
			   "  UPDATE entry_access a SET latest = 0 FROM cleared c JOIN version_access va ON va.vid = c.vid"
			   "  WHERE a.collection_id = $1::bigint AND a.key = va.key AND a.seq = c.seq)"
			   " INSERT INTO entries (seq, collection_id, vid, stix_id, type, version_key, date_added_us, latest)"
			   " SELECT m.seq, $1::bigint, m.vid, m.stix_id, m.type, m.version_key, $3::bigint + (m.seq - $2::bigint),"
			   "  CASE WHEN m.version_key = n.version_key AND NOT EXISTS ("
			   "   SELECT 1 FROM current c WHERE c.stix_id = m.stix_id AND c.version_key > m.version_key)"
			   "  THEN 1 ELSE 0 END"
			   " FROM numbered m JOIN newest n ON n.stix_id = m.stix_id"
			   " RETURNING seq, stix_id, version_key",
			   3, numbering, &r, "recording additions");
	uint64_t next_seq = (uint64_t)last_seq;
	int64_t first_seq = last_seq + 1;
	if (rc == KY_OK) {
		outcome = calloc(n + 1, 1);
		rc = outcome ? assign_outcomes(r, items, n, outcome, &next_seq) : ky_error_set(KY_ENOMEM, "out of memory");
		PQclear(r);
		r = NULL;
	}
	if (rc == KY_OK)
		rc = query(p,
			   "INSERT INTO entry_access (collection_id, key, seq, latest, vid, date_added_us)"
			   " SELECT e.collection_id, va.key, e.seq, e.latest, e.vid, e.date_added_us"
			   " FROM entries e JOIN version_access va ON va.vid = e.vid WHERE e.collection_id = $1::bigint"
			   " AND e.seq > $2::bigint",
			   2, numbering, &r, "recording who may read the additions");
	if (rc == KY_OK) {
		PQclear(r);
		r = NULL;
	}
	if (rc == KY_OK) {
		char seq_text[24], date_text[24], first_text[24], now_text[24];
		int64_t stored = (int64_t)next_seq - last_seq;
		snprintf(seq_text, sizeof(seq_text), "%llu", (unsigned long long)next_seq);
		snprintf(date_text, sizeof(date_text), "%lld", (long long)(stored ? base_date + stored : last_date));
		snprintf(first_text, sizeof(first_text), "%lld", (long long)first_seq);
		snprintf(now_text, sizeof(now_text), "%lld", (long long)now);
		const char *counter[] = {seq_text, date_text};
		const char *record[] = {token, first_text, outcome, now_text};
		rc = query(p, KY_SQL_COUNTER_WRITE, 2, counter, &r, "advancing the sequence");
		if (rc == KY_OK) {
			PQclear(r);
			rc = query(p, "INSERT INTO commits (token, first_seq, outcome, committed_us) VALUES ($1, $2, $3, $4)", 4,
				   record, &r, "recording the batch");
		}
		if (rc == KY_OK)
			PQclear(r);
	}
	if (rc == KY_OK) {
		ky_store_tx tx = {.impl = p, .retry = retry};
		rc = audit(&tx, ctx);
	}
	if (rc == KY_OK)
		rc = exec(p, "COMMIT", "committing a batch");
	if (rc != KY_OK)
		rollback(p);
	free(outcome);
	return rc;
}

/*
 * Until autovacuum analyses `entries` again, its statistics say nothing of a collection that
 * is filling now (a new one, or one a large POST goes to), and the planner, believing it
 * nearly empty, probes the collection's current versions in the commit (the `current` CTE)
 * through whichever index starts with collection_id, sorting: measured at 5 s per batch of
 * 1,000 on a collection grown to 78,000 additions in a 1M hub, against 0.003 ms per object
 * through entries_by_object. So a connection that writes analyses entries once, after its
 * first few batches, outside any transaction (the commit is done: a failure here changes
 * nothing stored, and the next statement reports a lost connection).
 */
#define ANALYSE_AFTER 3

static void analyse_entries(pg *p)
{
	PQclear(PQexec(p->conn, "ANALYZE entries"));
}

static int pg_commit(void *impl, int64_t collection_id, ky_store_item *items, size_t n, ky_store_tx_body *audit,
		     void *ctx)
{
	pg *p = impl;
	int raced = 0;
	char token[37];
	int rc = ky_uuid4(token);
	if (rc != KY_OK)
		return rc;
	for (bool retry = false;; retry = true) {
		p->raced = false;
		rc = commit_once(p, token, retry, collection_id, items, n, audit, ctx);
		/* A deadlock or serialisation failure rolled the batch back whole: run it again. */
		if (rc == KY_EBUSY && p->raced && ++raced < 5)
			continue;
		if (rc == KY_OK && p->commits < ANALYSE_AFTER && ++p->commits == ANALYSE_AFTER)
			analyse_entries(p);
		if (rc != LOST)
			return rc;
		rc = reconnect(p);
		if (rc != KY_OK)
			return rc;
	}
}

/* --- reading ------------------------------------------------------------------------------ */

static int query_once(pg *p, const ky_store_query *q, ky_store_row_fn *fn, void *ctx, ky_store_page *page)
{
	ky_store_sql text;
	char after[24], collection[24], limit[24];
	int rc = ky_store_sql_build(q, '$', &text);
	if (rc != KY_OK)
		return rc;
	const char *values[3 + 256];
	snprintf(after, sizeof(after), "%llu", (unsigned long long)q->after);
	snprintf(collection, sizeof(collection), "%lld", (long long)q->collection_id);
	/* One row more than asked for tells whether another page follows; NULL: no limit. */
	snprintf(limit, sizeof(limit), "%zu", q->limit + 1);
	values[0] = after;
	values[1] = q->collection_id ? collection : NULL;
	values[2] = q->limit ? limit : NULL;
	for (size_t i = 0; i < text.nparams; i++)
		values[3 + i] = text.params[i];
	/* The hub-wide statement does not use $2; PostgreSQL must still learn its type. */
	Oid types[3 + 256] = {20, 20, 20};
	PGresult *r = exec_cached(p, text.text, 3 + (int)text.nparams, types, values);
	if (PQresultStatus(r) != PGRES_TUPLES_OK)
		return failed(p, r, "running a query");
	memset(page, 0, sizeof(*page));
	page->last_seq = q->after;
	int rows = PQntuples(r);
	for (int i = 0; i < rows; i++) {
		if (q->limit && page->count == q->limit) {
			page->more = true;
			break;
		}
		ky_store_row row = {
			.seq = (uint64_t)integer(r, i, 0),
			.date_added_us = integer(r, i, 1),
			.id = PQgetvalue(r, i, 2),
			.type = PQgetvalue(r, i, 3),
			.spec_version = PQgetisnull(r, i, 4) ? NULL : PQgetvalue(r, i, 4),
			.modified = PQgetvalue(r, i, 5),
			.raw = PQgetvalue(r, i, 6),
			.raw_len = (size_t)PQgetlength(r, i, 6),
			.parts = PQgetisnull(r, i, 7) ? NULL : PQgetvalue(r, i, 7),
			.provider = integer(r, i, 8),
			.tlp = PQgetisnull(r, i, 9) ? -1 : (int)integer(r, i, 9),
			.shared = PQgetisnull(r, i, 10) ? NULL : PQgetvalue(r, i, 10),
			.shared_len = (size_t)PQgetlength(r, i, 10),
			.vid = (uint64_t)integer(r, i, 11),
		};
		int stop = ky_store_page_row(page, q->scope, &row, fn, ctx);
		if (stop != 0) {
			rc = stop < 0 ? stop : KY_OK;
			break;
		}
	}
	PQclear(r);
	return rc;
}

static int pg_query(void *impl, const ky_store_query *q, ky_store_row_fn *fn, void *ctx, ky_store_page *page)
{
	WITH_RETRY((pg *)impl, query_once(impl, q, fn, ctx, page));
}

/* --- statistics and checks ------------------------------------------------------------------ */

static int stats_once(pg *p, ky_store_stats *out)
{
	PGresult *r;
	int rc = query(p,
		       KY_SQL_STATS_COUNTS ", (SELECT coalesce(sum(octet_length(raw)), 0) FROM versions),"
				   " pg_database_size(current_database())",
		       0, NULL, &r, "counting");
	if (rc != KY_OK)
		return rc;
	out->schema_version = p->schema;
	out->versions = (uint64_t)integer(r, 0, 0);
	out->objects = (uint64_t)integer(r, 0, 1);
	out->additions = (uint64_t)integer(r, 0, 2);
	out->collections = (uint64_t)integer(r, 0, 3);
	out->last_seq = (uint64_t)integer(r, 0, 4);
	out->bytes = (uint64_t)integer(r, 0, 5);
	out->database_bytes = (uint64_t)integer(r, 0, 6);
	PQclear(r);
	return KY_OK;
}

static int pg_stats(void *impl, ky_store_stats *out)
{
	WITH_RETRY((pg *)impl, stats_once(impl, out));
}

static int type_counts_once(pg *p, int (*fn)(void *ctx, const char *type, uint64_t count), void *ctx)
{
	PGresult *r;
	int rc = query(p, KY_SQL_TYPE_COUNTS, 0, NULL, &r, "counting types");
	for (int i = 0; rc == KY_OK && i < PQntuples(r); i++)
		rc = fn(ctx, PQgetvalue(r, i, 0), (uint64_t)integer(r, i, 1));
	PQclear(r);
	return rc < 0 ? rc : KY_OK;
}

static int pg_type_counts(void *impl, int (*fn)(void *ctx, const char *type, uint64_t count), void *ctx)
{
	WITH_RETRY((pg *)impl, type_counts_once(impl, fn, ctx));
}

/*
 * PostgreSQL checks its pages itself (checksums, amcheck for the operator); what the hub can
 * check is its own invariants: every number at most the counter, each version once per
 * collection, one latest mark per object and collection, access rows that repeat their
 * additions.
 */
static int check_once(pg *p)
{
	PGresult *r;
	int rc = query(p,
		       "SELECT (SELECT count(*) FROM entries WHERE seq > (SELECT last_seq FROM sequence)),"
		       " (SELECT count(*) FROM (SELECT 1 FROM entries WHERE latest = 1"
		       "  GROUP BY collection_id, stix_id HAVING count(*) > 1) t), (" KY_SQL_CHECK_ENTRY_ACCESS ")",
		       0, NULL, &r, "checking the hub");
	if (rc != KY_OK)
		return rc;
	int64_t ahead = integer(r, 0, 0), doubled = integer(r, 0, 1), astray = integer(r, 0, 2);
	PQclear(r);
	if (ahead || doubled || astray)
		return ky_error_set(KY_ERROR,
				    "%s: check failed: %lld additions numbered past the counter, %lld objects with two latest versions,"
				    " %lld access rows out of step with their additions",
				    p->label, (long long)ahead, (long long)doubled, (long long)astray);
	return KY_OK;
}

static int pg_check(void *impl)
{
	WITH_RETRY((pg *)impl, check_once(impl));
}

/* --- users and API keys ---------------------------------------------------------------------- */

/* Bytes as bytea's hex input, "\x0a1b...", into out (2 * n + 3 bytes). */
static void bytea_hex(const uint8_t *bytes, size_t n, char *out)
{
	static const char digits[] = "0123456789abcdef";
	*out++ = '\\';
	*out++ = 'x';
	for (size_t i = 0; i < n; i++) {
		*out++ = digits[bytes[i] >> 4];
		*out++ = digits[bytes[i] & 15];
	}
	*out = '\0';
}

/*
 * Reads secret `name`, storing `fresh` first if there is none: INSERT ... ON CONFLICT DO
 * NOTHING waits for a concurrent insert of the same name and then does nothing, and the
 * SELECT after it, a new snapshot, reads whichever value won.
 */
static int secret_once(pg *p, const char *name, const uint8_t *fresh, int64_t now_us, uint8_t *out)
{
	PGresult *r;
	int rc;
	for (int attempt = 0;; attempt++) {
		/* In binary: the bytes themselves, whatever the server's bytea_output. */
		rc = query_as(p, KY_SQL_SECRET_READ, 1, &name, 1, &r, "reading a secret");
		if (rc != KY_OK)
			return rc;
		if (PQntuples(r) == 1) {
			bool ok = PQgetlength(r, 0, 0) == KY_STORE_SECRET_SIZE;
			if (ok)
				memcpy(out, PQgetvalue(r, 0, 0), KY_STORE_SECRET_SIZE);
			PQclear(r);
			return ok ? KY_OK
				  : ky_error_set(KY_EINVALID, "%s: the secret %s is not %d bytes long", p->label, name,
						 KY_STORE_SECRET_SIZE);
		}
		PQclear(r);
		if (fresh == NULL || attempt > 0)
			return ky_error_set(KY_ENOTFOUND, "%s: no secret %s", p->label, name);
		char now[24], hex[2 * KY_STORE_SECRET_SIZE + 3];
		snprintf(now, sizeof(now), "%lld", (long long)now_us);
		bytea_hex(fresh, KY_STORE_SECRET_SIZE, hex);
		const char *values[] = {name, hex, now};
		rc = query(p, KY_SQL_SECRET_ADD, 3, values, &r, "storing a secret");
		if (rc != KY_OK)
			return rc;
		PQclear(r);
	}
}

static int pg_secret(void *impl, const char *name, const uint8_t *fresh, int64_t now_us, uint8_t *out)
{
	WITH_RETRY((pg *)impl, secret_once(impl, name, fresh, now_us, out));
}

/* --- removals ----------------------------------------------------------------------------- */

/*
 * One transaction: the counter row is locked first, as a commit locks it, because both move
 * `latest` marks (a commit adding a newer version while a removal recomputes the mark would
 * leave two); then one statement deletes the selected entries and records them in
 * removals, and the object's newest remaining entry gets the mark.
 * `retry`: a lost attempt may have committed; the removals it recorded are then those of this
 * object from this collection at this very time (now_us was taken once, before the first
 * attempt) by this user, and their number is the outcome.
 */
static int remove_once(pg *p, bool retry, const ky_store_removal_filter *filter, int64_t user_id, int64_t now_us,
		       uint64_t *removed, ky_store_tx_body *audit, void *ctx)
{
	ky_store_sql sel;
	char sql[sizeof(sel.text) + 512], collection[24], now[24], user[24];
	const char *values[4 + 256];
	PGresult *r = NULL;
	*removed = 0;
	int rc = ky_store_sql_removal(filter, '$', &sel);
	if (rc != KY_OK)
		return rc;
	snprintf(sql, sizeof(sql),
		 "WITH gone AS (DELETE FROM entries WHERE seq IN (%s)"
		 "  RETURNING seq, collection_id, vid, stix_id, type, version_key, date_added_us)"
		 " INSERT INTO removals (seq, collection_id, vid, stix_id, type, version_key, date_added_us, removed_us, user_id)"
		 " SELECT seq, collection_id, vid, stix_id, type, version_key, date_added_us, $3::bigint, $4::bigint FROM gone",
		 sel.text);
	snprintf(collection, sizeof(collection), "%lld", (long long)filter->collection_id);
	snprintf(now, sizeof(now), "%lld", (long long)now_us);
	snprintf(user, sizeof(user), "%lld", (long long)user_id);
	values[0] = collection;
	values[1] = filter->id;
	values[2] = now;
	values[3] = user_id != 0 ? user : NULL;
	for (size_t i = 0; i < sel.nparams; i++)
		values[4 + i] = sel.params[i];
	if (retry) {
		rc = query(p,
			   "SELECT count(*) FROM removals WHERE collection_id = $1::bigint AND stix_id = $2"
			   " AND removed_us = $3::bigint AND user_id IS NOT DISTINCT FROM $4::bigint",
			   4, values, &r, "removing versions");
		if (rc != KY_OK)
			return rc;
		*removed = (uint64_t)integer(r, 0, 0);
		PQclear(r);
		r = NULL;
		if (*removed > 0)
			return KY_OK;
	}
	rc = exec(p, "BEGIN", "removing versions");
	if (rc == KY_OK)
		rc = exec(p, "SELECT 1 FROM sequence WHERE id = 1 FOR UPDATE", "locking the sequence");
	if (rc == KY_OK)
		rc = query(p, sql, 4 + (int)sel.nparams, values, &r, "removing versions");
	if (rc == KY_OK) {
		*removed = strtoull(PQcmdTuples(r), NULL, 10);
		PQclear(r);
	}
	if (rc == KY_OK && *removed > 0) {
		rc = query(p, KY_SQL_REMOVAL_MARK_LATEST, 2, values, &r, "marking the latest version after a removal");
		if (rc == KY_OK) {
			PQclear(r);
			rc = query(p, KY_SQL_REMOVAL_MARK_LATEST_ACCESS, 2, values, &r, "marking the latest version after a removal");
		}
		if (rc == KY_OK) {
			PQclear(r);
			rc = query(p, KY_SQL_REMOVAL_DROP_ACCESS, 3, values, &r, "removing the access of removed versions");
		}
		if (rc == KY_OK)
			PQclear(r);
	}
	if (rc == KY_OK && *removed > 0) {
		ky_store_tx tx = {.impl = p, .retry = retry};
		rc = audit(&tx, ctx);
	}
	if (rc == KY_OK)
		rc = exec(p, "COMMIT", "removing versions");
	if (rc != KY_OK) {
		*removed = 0;
		rollback(p);
	}
	return rc;
}

static int pg_remove(void *impl, const ky_store_removal_filter *filter, int64_t user_id, int64_t now_us,
		     uint64_t *removed, ky_store_tx_body *audit, void *ctx)
{
	WITH_RETRY_KNOWING((pg *)impl, retry, remove_once(impl, retry, filter, user_id, now_us, removed, audit, ctx));
}

static int removal_list_once(pg *p, int64_t collection_id, int (*fn)(void *ctx, const ky_store_removal *r), void *ctx)
{
	char collection[24];
	snprintf(collection, sizeof(collection), "%lld", (long long)collection_id);
	const char *values[] = {collection};
	PGresult *r;
	int rc = query(p, KY_SQL_REMOVAL_LIST, 1, values, &r, "listing removals");
	for (int i = 0; rc == KY_OK && i < PQntuples(r); i++) {
		ky_store_removal m = {
			.seq = (uint64_t)integer(r, i, 0),
			.date_added_us = integer(r, i, 1),
			.removed_us = integer(r, i, 2),
			.user_id = integer(r, i, 3),
			.id = PQgetvalue(r, i, 4),
			.modified = PQgetvalue(r, i, 5),
		};
		rc = fn(ctx, &m);
	}
	PQclear(r);
	return rc < 0 ? rc : KY_OK;
}

static int pg_removal_list(void *impl, int64_t collection_id, int (*fn)(void *ctx, const ky_store_removal *r), void *ctx)
{
	WITH_RETRY((pg *)impl, removal_list_once(impl, collection_id, fn, ctx));
}

/* --- Add Objects requests ---------------------------------------------------------------- */

/* A row of KY_SQL_REQUEST_COLUMNS into *out. */
static void read_request(const PGresult *r, int row, ky_store_request *out)
{
	memset(out, 0, sizeof(*out));
	snprintf(out->id, sizeof(out->id), "%s", PQgetvalue(r, row, 0));
	out->collection_id = integer(r, row, 1);
	out->user_id = integer(r, row, 2);
	out->received_us = integer(r, row, 3);
	out->complete = integer(r, row, 4) != 0;
	out->total = (uint64_t)integer(r, row, 5);
	out->successes = (uint64_t)integer(r, row, 6);
	out->failures = (uint64_t)integer(r, row, 7);
	out->token = (uint64_t)integer(r, row, 8);
}

/*
 * Inserts the request, its envelope sent as binary (no hex doubling). `retry`: an earlier
 * attempt lost the connection, maybe after its COMMIT; a row with this id and the same
 * fields and envelope length is then that attempt's, and the request is recorded.
 */
static int request_add_once(pg *p, const ky_store_request *req, const char *envelope, size_t len, bool retry)
{
	char collection[24], user[24], received[24], total[24];
	snprintf(collection, sizeof(collection), "%lld", (long long)req->collection_id);
	snprintf(user, sizeof(user), "%lld", (long long)req->user_id);
	snprintf(received, sizeof(received), "%lld", (long long)req->received_us);
	snprintf(total, sizeof(total), "%llu", (unsigned long long)req->total);
	const char *values[] = {req->id, collection, req->user_id != 0 ? user : NULL, received, total, envelope};
	const Oid types[] = {0, 20, 20, 20, 20, 17};
	const int lengths[] = {0, 0, 0, 0, 0, (int)len};
	const int formats[] = {0, 0, 0, 0, 0, 1};
	PGresult *r = PQexecParams(p->conn, KY_SQL_REQUEST_ADD,
				   6, types, values, lengths, formats, 0);
	if (PQresultStatus(r) == PGRES_COMMAND_OK) {
		PQclear(r);
		return KY_OK;
	}
	const char *state = PQresultErrorField(r, PG_DIAG_SQLSTATE);
	bool taken = state && strcmp(state, "23505") == 0, missing = state && strcmp(state, "23503") == 0;
	if (!taken && !missing)
		return failed(p, r, "recording a request");
	PQclear(r);
	if (missing)
		return ky_error_set(KY_ENOTFOUND, "%s: request %s: collection %lld or user %lld does not exist", p->label,
				    req->id, (long long)req->collection_id, (long long)req->user_id);
	if (retry) {
		char length[24];
		snprintf(length, sizeof(length), "%zu", len);
		const char *same[] = {req->id, collection, values[2], received, total, length};
		int rc = query(p,
			       "SELECT 1 FROM requests WHERE id = $1 AND collection_id = $2::bigint"
			       " AND user_id IS NOT DISTINCT FROM $3::bigint AND received_us = $4::bigint AND total = $5::bigint"
			       " AND octet_length(envelope) = $6::bigint",
			       6, same, &r, "recording a request");
		if (rc != KY_OK)
			return rc;
		bool ours = PQntuples(r) == 1;
		PQclear(r);
		if (ours)
			return KY_OK;
	}
	return ky_error_set(KY_EEXISTS, "%s: a request with id %s exists already", p->label, req->id);
}

static int pg_request_add(void *impl, const ky_store_request *r, const char *envelope, size_t len)
{
	pg *p = impl;
	if (len > (size_t)INT32_MAX)
		return ky_error_set(KY_ETOOBIG, "%s: request %s: an envelope of %zu bytes is more than PostgreSQL takes",
				    p->label, r->id, len);
	for (bool retry = false;; retry = true) {
		int rc = request_add_once(p, r, envelope, len, retry);
		if (rc != LOST)
			return rc;
		rc = reconnect(p);
		if (rc != KY_OK)
			return rc;
	}
}

static int request_get_once(pg *p, const char *id, ky_store_request *out)
{
	PGresult *r;
	int rc = query(p, KY_SQL_REQUEST_GET, 1, &id, &r, "reading a request");
	if (rc != KY_OK)
		return rc;
	if (PQntuples(r) == 1)
		read_request(r, 0, out);
	else
		rc = ky_error_set(KY_ENOTFOUND, "no request %s in this hub", id);
	PQclear(r);
	return rc;
}

static int pg_request_get(void *impl, const char *id, ky_store_request *out)
{
	WITH_RETRY((pg *)impl, request_get_once(impl, id, out));
}

static const char *value_or_null(const PGresult *r, int row, int col)
{
	return PQgetisnull(r, row, col) ? NULL : PQgetvalue(r, row, col);
}

static int request_objects_once(pg *p, const char *id, int (*fn)(void *ctx, const ky_store_request_object *o),
				void *ctx)
{
	PGresult *r;
	int rc = query(p, KY_SQL_REQUEST_OBJECTS, 1, &id, &r, "listing a request's outcomes");
	for (int i = 0; rc == KY_OK && i < PQntuples(r); i++) {
		ky_store_request_object o = {
			.index = (uint64_t)integer(r, i, 0),
			.id = value_or_null(r, i, 1),
			.version = value_or_null(r, i, 2),
			.success = integer(r, i, 3) != 0,
			.message = value_or_null(r, i, 4),
		};
		rc = fn(ctx, &o);
	}
	PQclear(r);
	return rc < 0 ? rc : KY_OK;
}

static int pg_request_objects(void *impl, const char *id, int (*fn)(void *ctx, const ky_store_request_object *o),
			      void *ctx)
{
	WITH_RETRY((pg *)impl, request_objects_once(impl, id, fn, ctx));
}

/* Why a write fenced by a token changed no row: the request is gone, or another claim holds it. */
static int fence_failure(pg *p, const char *id)
{
	PGresult *r;
	int rc = query(p, KY_SQL_REQUEST_EXISTS, 1, &id, &r, "reading a request");
	if (rc != KY_OK)
		return rc;
	rc = PQntuples(r) == 1 ? ky_store_taken_over(id) : ky_error_set(KY_ENOTFOUND, "no request %s in this hub", id);
	PQclear(r);
	return rc;
}

/*
 * Inside the caller's transaction: the objects of request `id` without an outcome are
 * recorded as failures (KY_STORE_REQUEST_UNRECORDED), its counts updated and the request
 * completed, if `token` is still its claim's.
 */
static int finish_request(pg *p, const char *id, uint64_t token)
{
	char claim[24];
	snprintf(claim, sizeof(claim), "%llu", (unsigned long long)token);
	const char *fill[] = {id, KY_STORE_REQUEST_UNRECORDED, claim};
	const char *close[] = {id, claim};
	PGresult *r;
	int rc = query(p, KY_SQL_REQUEST_FILL_UNRECORDED, 3, fill, &r, "recording the outcomes a request could not record");
	if (rc == KY_OK) {
		PQclear(r);
		rc = query(p, KY_SQL_REQUEST_CLOSE_FAILED, 2, close, &r, "completing a request as failed");
	}
	if (rc == KY_OK) {
		bool closed = strcmp(PQcmdTuples(r), "1") == 0;
		PQclear(r);
		if (!closed)
			rc = fence_failure(p, id);
	}
	return rc;
}

/*
 * The oldest unheld request, taken with FOR UPDATE SKIP LOCKED: a claimer skips rows another
 * is claiming, and one whose claim committed meanwhile fails the lease condition when
 * re-checked, so no two connections hold a request at once. A request claimed too often is
 * finished as failed and the next one looked for. The envelope is read in the same
 * transaction, as binary.
 */
static int request_claim_once(pg *p, int64_t now_us, int64_t lease_us, ky_store_request *out, char **envelope,
			      size_t *len)
{
	char now[24], until[24];
	snprintf(now, sizeof(now), "%lld", (long long)now_us);
	snprintf(until, sizeof(until), "%lld", (long long)(now_us + lease_us));
	const char *values[] = {now, until};
	PGresult *r = NULL;
	int rc = exec(p, "BEGIN", "claiming a request");
	while (rc == KY_OK) {
		rc = query(p, KY_SQL_REQUEST_NEXT " FOR UPDATE SKIP LOCKED", 1, values, &r, "claiming a request");
		if (rc == KY_OK && PQntuples(r) == 0)
			rc = ky_error_set(KY_ENOTFOUND, "%s: no request waiting to be processed", p->label);
		if (rc == KY_OK)
			read_request(r, 0, out);
		PQclear(r);
		r = NULL;
		if (rc != KY_OK || out->token < KY_STORE_REQUEST_CLAIMS_MAX)
			break;
		rc = finish_request(p, out->id, out->token);
	}
	if (rc == KY_OK) {
		const char *hold[] = {out->id, until};
		rc = query(p, KY_SQL_REQUEST_HOLD, 2, hold, &r, "claiming a request");
		PQclear(r);
		r = NULL;
		out->token++;
	}
	if (rc == KY_OK) {
		const char *id = out->id;
		rc = query_as(p, KY_SQL_REQUEST_ENVELOPE, 1, &id, 1, &r, "reading a request's envelope");
		if (rc == KY_OK && PQntuples(r) != 1) {
			rc = ky_error_set(KY_ERROR, "%s: request %s vanished while claimed", p->label, out->id);
		}
	}
	if (rc == KY_OK) {
		size_t n = (size_t)PQgetlength(r, 0, 0);
		*envelope = malloc(n ? n : 1);
		if (*envelope == NULL) {
			rc = ky_error_set(KY_ENOMEM, "out of memory");
		} else {
			memcpy(*envelope, PQgetvalue(r, 0, 0), n);
			*len = n;
		}
	}
	PQclear(r);
	if (rc == KY_OK)
		rc = exec(p, "COMMIT", "claiming a request");
	if (rc != KY_OK) {
		rollback(p);
		free(*envelope);
		*envelope = NULL;
		*len = 0;
		memset(out, 0, sizeof(*out));
	}
	return rc;
}

static int pg_request_claim(void *impl, int64_t now_us, int64_t lease_us, ky_store_request *out, char **envelope,
			    size_t *len)
{
	WITH_RETRY((pg *)impl, request_claim_once(impl, now_us, lease_us, out, envelope, len));
}

#define OUTCOME_ROWS 64
#define OUTCOME_COLUMNS 5

/*
 * Upserts objects[from, from + rows) with one statement ($1 the request id). The rows have
 * distinct indexes: ON CONFLICT DO UPDATE may not touch a row twice in one statement.
 */
static int record_rows(pg *p, const char *id, const ky_store_request_object *objects, size_t from, size_t rows)
{
	char sql[OUTCOME_ROWS * 64 + 512], numbers[OUTCOME_ROWS][2][24];
	const char *values[1 + OUTCOME_ROWS * OUTCOME_COLUMNS];
	size_t len = (size_t)snprintf(sql, sizeof(sql), "%s", KY_SQL_OUTCOME_INSERT);
	values[0] = id;
	for (size_t i = 0; i < rows; i++) {
		const ky_store_request_object *o = &objects[from + i];
		size_t b = 1 + i * OUTCOME_COLUMNS;
		snprintf(numbers[i][0], sizeof(numbers[i][0]), "%llu", (unsigned long long)o->index);
		snprintf(numbers[i][1], sizeof(numbers[i][1]), "%d", o->success ? 1 : 0);
		values[b] = numbers[i][0];
		values[b + 1] = o->id;
		values[b + 2] = o->version;
		values[b + 3] = numbers[i][1];
		values[b + 4] = o->message;
		len += (size_t)snprintf(sql + len, sizeof(sql) - len, "%s($1, $%zu::bigint, $%zu, $%zu, $%zu::integer, $%zu)",
					i ? ", " : "", b + 1, b + 2, b + 3, b + 4, b + 5);
	}
	snprintf(sql + len, sizeof(sql) - len, "%s", KY_SQL_OUTCOME_UPSERT);
	PGresult *r;
	int rc = query(p, sql, 1 + (int)(rows * OUTCOME_COLUMNS), values, &r, "recording a request's outcomes");
	if (rc == KY_OK)
		PQclear(r);
	return rc;
}

/* How many of objects[from, from + OUTCOME_ROWS) can go in one statement: up to the first
 * index repeated. */
static size_t distinct_run(const ky_store_request_object *objects, size_t from, size_t n)
{
	size_t rows = 0;
	while (from + rows < n && rows < OUTCOME_ROWS) {
		for (size_t j = 0; j < rows; j++)
			if (objects[from + j].index == objects[from + rows].index)
				return rows;
		rows++;
	}
	return rows;
}

/* One transaction, the request's row locked first: records of one request are serialised,
 * so the counts set at the end are those of every outcome recorded, and the token read with
 * the lock stays the request's to the COMMIT (the final UPDATE checks it once more). A retry
 * after a lost COMMIT writes the same rows again, harmlessly: its token is still current
 * unless another claim took over, and then it changes nothing. */
static int request_record_once(pg *p, const char *id, uint64_t token, const ky_store_request_object *objects, size_t n,
			       int64_t now_us, int64_t lease_us)
{
	char until[24], claim[24];
	snprintf(until, sizeof(until), "%lld", (long long)(now_us + lease_us));
	snprintf(claim, sizeof(claim), "%llu", (unsigned long long)token);
	const char *values[] = {id, until, claim};
	PGresult *r = NULL;
	int rc = exec(p, "BEGIN", "recording a request's outcomes");
	if (rc == KY_OK)
		rc = query(p, KY_SQL_REQUEST_FENCE " FOR UPDATE", 1, values, &r,
			   "recording a request's outcomes");
	if (rc == KY_OK && PQntuples(r) == 0)
		rc = ky_error_set(KY_ENOTFOUND, "no request %s in this hub", id);
	if (rc == KY_OK && (uint64_t)integer(r, 0, 1) != token)
		rc = ky_store_taken_over(id);
	uint64_t total = rc == KY_OK ? (uint64_t)integer(r, 0, 0) : 0;
	PQclear(r);
	for (size_t i = 0; rc == KY_OK && i < n; i++)
		if (objects[i].index >= total)
			rc = ky_error_set(KY_EINVALID, "request %s: object %llu is past the envelope's %llu objects", id,
					  (unsigned long long)objects[i].index, (unsigned long long)total);
	for (size_t i = 0; rc == KY_OK && i < n;) {
		size_t rows = distinct_run(objects, i, n);
		rc = record_rows(p, id, objects, i, rows);
		i += rows;
	}
	if (rc == KY_OK)
		rc = query(p, KY_SQL_REQUEST_COUNT, 3, values, &r, "counting a request's outcomes");
	if (rc == KY_OK) {
		bool ours = strcmp(PQcmdTuples(r), "1") == 0;
		PQclear(r);
		rc = ours ? exec(p, "COMMIT", "recording a request's outcomes") : ky_store_taken_over(id);
	}
	if (rc != KY_OK)
		rollback(p);
	return rc;
}

static int pg_request_record(void *impl, const char *id, uint64_t token, const ky_store_request_object *objects,
			     size_t n, int64_t now_us, int64_t lease_us)
{
	WITH_RETRY((pg *)impl, request_record_once(impl, id, token, objects, n, now_us, lease_us));
}

/* One statement; a retry after a lost COMMIT finds the row as it left it (complete, the same
 * token) and succeeds again. */
static int request_complete_once(pg *p, const char *id, uint64_t token)
{
	char claim[24];
	snprintf(claim, sizeof(claim), "%llu", (unsigned long long)token);
	const char *values[] = {id, claim};
	PGresult *r;
	int rc = query(p, KY_SQL_REQUEST_COMPLETE, 2, values, &r, "completing a request");
	if (rc != KY_OK)
		return rc;
	bool done = strcmp(PQcmdTuples(r), "1") == 0;
	PQclear(r);
	return done ? KY_OK : fence_failure(p, id);
}

static int pg_request_complete(void *impl, const char *id, uint64_t token)
{
	WITH_RETRY((pg *)impl, request_complete_once(impl, id, token));
}

/* As complete: a retry finds every outcome recorded and the request complete under its token. */
static int request_abandon_once(pg *p, const char *id, uint64_t token)
{
	int rc = exec(p, "BEGIN", "completing a request as failed");
	if (rc == KY_OK)
		rc = finish_request(p, id, token);
	if (rc == KY_OK)
		rc = exec(p, "COMMIT", "completing a request as failed");
	if (rc != KY_OK)
		rollback(p);
	return rc;
}

static int pg_request_abandon(void *impl, const char *id, uint64_t token)
{
	WITH_RETRY((pg *)impl, request_abandon_once(impl, id, token));
}

/* --- the statement interface (store_backend.h) ---------------------------------------------- */

/* Serialises the writers of the council's records, as SQLite's BEGIN IMMEDIATE does. */
#define COUNCIL_LOCK "SELECT pg_advisory_xact_lock(7300560002)"

static int transact_once(pg *p, bool retry, bool write, ky_store_tx_body *body, void *ctx)
{
	int rc = write ? exec(p, "BEGIN", "beginning a transaction") : KY_OK;
	if (rc == KY_OK && write)
		rc = exec(p, COUNCIL_LOCK, "taking the council lock");
	ky_store_tx tx = {.impl = p, .retry = retry};
	if (rc == KY_OK)
		rc = body(&tx, ctx);
	if (rc == KY_OK && write)
		rc = exec(p, "COMMIT", "committing");
	if (rc != KY_OK)
		rollback(p);
	return rc;
}

static int pg_transact(void *impl, bool write, ky_store_tx_body *body, void *ctx)
{
	WITH_RETRY_KNOWING((pg *)impl, retry, transact_once(impl, retry, write, body, ctx));
}

static int pg_run(ky_store_tx *tx, const char *sql, const ky_store_value *values, int n, ky_store_cells_fn *fn,
		  void *ctx, uint64_t *changed)
{
	pg *p = tx->impl;
	char numbers[KY_STORE_CELLS_MAX][24];
	const char *texts[KY_STORE_CELLS_MAX];
	if (n > KY_STORE_CELLS_MAX)
		return ky_error_set(KY_EINVALID, "a statement of the interface takes at most %d values", KY_STORE_CELLS_MAX);
	char blobs[KY_STORE_CELLS_MAX][2 * KY_STORE_BLOB_MAX + 3];
	for (int i = 0; i < n; i++) {
		if (values[i].kind == KY_STORE_VINT) {
			snprintf(numbers[i], sizeof(numbers[i]), "%lld", (long long)values[i].i);
			texts[i] = numbers[i];
		} else if (values[i].kind == KY_STORE_VBLOB) {
			if (values[i].len > KY_STORE_BLOB_MAX)
				return ky_error_set(KY_EINVALID, "a blob of the interface has at most %d bytes", KY_STORE_BLOB_MAX);
			/* bytea's text input. */
			bytea_hex(values[i].bytes, values[i].len, blobs[i]);
			texts[i] = blobs[i];
		} else {
			texts[i] = values[i].kind == KY_STORE_VTEXT ? values[i].text : NULL;
		}
	}
	PGresult *r;
	int rc = query_cached(p, sql, n, texts, &r, "running a statement");
	if (rc != KY_OK)
		return rc;
	int rows = PQntuples(r), ncols = PQnfields(r);
	if (ncols > KY_STORE_CELLS_MAX)
		ncols = KY_STORE_CELLS_MAX;
	for (int row = 0; row < rows && fn != NULL && rc == KY_OK; row++) {
		ky_store_cell cells[KY_STORE_CELLS_MAX];
		for (int i = 0; i < ncols; i++) {
			cells[i].null = PQgetisnull(r, row, i);
			cells[i].text = PQgetvalue(r, row, i);
			cells[i].len = (size_t)PQgetlength(r, row, i);
		}
		int stop = fn(ctx, cells, ncols);
		if (stop != 0)
			rc = stop < 0 ? stop : 1;
	}
	if (changed != NULL)
		*changed = (uint64_t)strtoull(PQcmdTuples(r), NULL, 10);
	PQclear(r);
	return rc == 1 ? KY_OK : rc;
}

static void pg_test_cut_after_commit(void *impl, unsigned n)
{
	((pg *)impl)->cuts = n;
}

const ky_store_backend ky_store_pg = {
	.name = "postgresql",
	.open = pg_open,
	.close = pg_close,
	.migrate = pg_migrate,
	.schema_version = pg_schema_version,
	.collection_create = pg_collection_create,
	.collection_find = pg_collection_find,
	.collection_list = pg_collection_list,
	.collection_additions = pg_collection_additions,
	.commit = pg_commit,
	.query = pg_query,
	.stats = pg_stats,
	.type_counts = pg_type_counts,
	.check = pg_check,
	.secret = pg_secret,
	.remove = pg_remove,
	.removal_list = pg_removal_list,
	.request_add = pg_request_add,
	.request_get = pg_request_get,
	.request_objects = pg_request_objects,
	.request_claim = pg_request_claim,
	.request_record = pg_request_record,
	.request_complete = pg_request_complete,
	.request_abandon = pg_request_abandon,
	.transact = pg_transact,
	.run = pg_run,
	.test_cut_after_commit = pg_test_cut_after_commit,
};
