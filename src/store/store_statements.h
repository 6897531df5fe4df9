/*
 * store_statements: the SQL statements both backends run, each written once. Internal to
 * the store module.
 *
 * The texts are PostgreSQL's as they stand, with numbered placeholders $1, $2, ... and no
 * casts (PostgreSQL takes each parameter's type from the column it meets); store_sqlite.c
 * runs them through ky_store_sql_marks(), which makes them ?1, ?2, ... (SQLite reads "$1" as
 * a named parameter, numbered by first appearance). So no text here may hold a '$' other
 * than a placeholder's. Both dialects take ON CONFLICT (SQLite >= 3.24) and RETURNING
 * (>= 3.35). Where the dialects lock differently, a statement is written without its lock
 * and store_pg.c appends it (" FOR UPDATE"): on SQLite the transaction holds the write lock
 * from its BEGIN IMMEDIATE. Binary values are bound and read as each library does (blobs;
 * bytea as hex input, read back in binary). What differs for real stays in the backends: a
 * batch's commit (prepared single-row statements on SQLite; a staging table and set-based
 * statements on PostgreSQL), a removal's move (PostgreSQL deletes and records in one
 * statement), the byte counts and sizes of the statistics, the integrity check, and PostgreSQL's
 * checks after a lost connection.
 */
#ifndef KY_STORE_STATEMENTS_H
#define KY_STORE_STATEMENTS_H

/* --- the counter --- */
#define KY_SQL_COUNTER_READ "SELECT last_seq, last_date_added_us FROM sequence WHERE id = 1"
#define KY_SQL_COUNTER_WRITE "UPDATE sequence SET last_seq = $1, last_date_added_us = $2 WHERE id = 1"

/* --- a batch's provider and access (store.h: ky_store_access) --- */
/* An object's provider: the member of its versions (each carries the object's: store.h), 0
 * for none recorded. Its earliest version's, in the order of the (stix_id, version_key) index:
 * ordered by vid, PostgreSQL's planner walks every version in vid order to find it. */
#define KY_SQL_OBJECT_PROVIDER                                                                   \
	"SELECT coalesce(provider_id, 0) FROM versions WHERE stix_id = $1 ORDER BY version_key LIMIT 1"
/* A new addition ($1 collection, $2 number, $3 version, $4 its `latest` mark, $5 its date)
 * takes its version's keys. */
#define KY_SQL_ENTRY_ACCESS_ADD                                                                  \
	"INSERT INTO entry_access (collection_id, key, seq, latest, vid, date_added_us)"        \
	" SELECT $1, key, $2, $4, $3, $5 FROM version_access WHERE vid = $3"
/* Addition $2 of collection $1 (of version $3) is no longer its object's latest: its access
 * rows lose the mark too, found by the version's keys (one probe each). */
#define KY_SQL_ENTRY_ACCESS_UNMARK                                                               \
	"UPDATE entry_access SET latest = 0 WHERE collection_id = $1"                           \
	" AND key IN (SELECT key FROM version_access WHERE vid = $3) AND seq = $2"

/* The access rows that do not repeat their addition's mark, version and date (ky_store_check). */
#define KY_SQL_CHECK_ENTRY_ACCESS                                                                \
	"SELECT count(*) FROM entry_access a LEFT JOIN entries e ON e.seq = a.seq WHERE e.seq IS NULL" \
	" OR e.collection_id <> a.collection_id OR e.latest <> a.latest OR e.vid <> a.vid"          \
	" OR e.date_added_us <> a.date_added_us"

/* --- collections; the columns as read_collection() reads them --- */
#define KY_SQL_COLLECTION_ADD                                                                    \
	"INSERT INTO collections (uuid, name, title, description, created_us) VALUES ($1, $2, $3, $4, $5)" \
	" RETURNING id"
#define KY_SQL_COLLECTION_COLUMNS "SELECT c.id, c.uuid, c.name, c.title, c.description FROM collections c"
#define KY_SQL_COLLECTION_FIND KY_SQL_COLLECTION_COLUMNS " WHERE c.name = $1 OR c.uuid = $1"
#define KY_SQL_COLLECTION_LIST KY_SQL_COLLECTION_COLUMNS " ORDER BY c.name"
/* An index-only count on entries_by_collection. */
#define KY_SQL_COLLECTION_ADDITIONS "SELECT count(*) FROM entries WHERE collection_id = $1"

/* The statistics' counts: versions, objects, additions, collections, the last number; each
 * backend adds the stored bytes (SQLite's length() of a blob, PostgreSQL's octet_length() of
 * text) and its own measures. */
#define KY_SQL_STATS_COUNTS                                                                      \
	"SELECT (SELECT count(*) FROM versions), (SELECT count(DISTINCT stix_id) FROM versions),"   \
	" (SELECT count(*) FROM entries), (SELECT count(*) FROM collections), (SELECT last_seq FROM sequence)"
#define KY_SQL_TYPE_COUNTS "SELECT type, count(*) AS n FROM versions GROUP BY type ORDER BY n DESC, type"

/* --- keys and secrets (users are store_council.c's) --- */
/* A key with its user, member and rules status (ky_store_key_fill() reads the columns). */
#define KY_SQL_KEY_SELECT                                                                        \
	"SELECT k.id, k.user_id, u.name, k.prefix, k.created_us, k.revoked_us, u.role, u.disabled_us,"  \
	" m.id, m.name, m.tier, m.status, (SELECT max(r.version) FROM rules r),"                 \
	" (SELECT max(a.version) FROM rule_acceptances a WHERE a.user_id = u.id)"
#define KY_SQL_KEY_JOINS " JOIN users u ON u.id = k.user_id LEFT JOIN members m ON m.id = u.member_id"
#define KY_SQL_KEY_COLUMNS KY_SQL_KEY_SELECT " FROM api_keys k" KY_SQL_KEY_JOINS
#define KY_SQL_KEY_COLUMN_COUNT 14
#define KY_SQL_KEY_FIND KY_SQL_KEY_COLUMNS " WHERE k.hash = $1 AND k.revoked_us IS NULL"
/* Revokes the active key of prefix $1 at time $2. */
#define KY_SQL_KEY_REVOKE "UPDATE api_keys SET revoked_us = $2 WHERE prefix = $1 AND revoked_us IS NULL"
#define KY_SQL_SECRET_READ "SELECT value FROM secrets WHERE name = $1"
/* Whoever inserts first wins; everyone reads the winner's value back. */
#define KY_SQL_SECRET_ADD "INSERT INTO secrets (name, value, created_us) VALUES ($1, $2, $3) ON CONFLICT (name) DO NOTHING"

/* --- removals --- */
#define KY_SQL_REMOVAL_LIST                                                                      \
	"SELECT r.seq, r.date_added_us, r.removed_us, r.user_id, r.stix_id, v.modified"         \
	" FROM removals r JOIN versions v ON v.vid = r.vid WHERE r.collection_id = $1"          \
	" ORDER BY r.removed_us, r.seq"
/* A removal's access rows go with its entries: those of object $2 removed from collection $1
 * at time $3, found by the version's keys (entry_access is keyed by collection, key and
 * number, and this way every row is one probe of it). */
#define KY_SQL_REMOVAL_DROP_ACCESS                                                               \
	"DELETE FROM entry_access WHERE (collection_id, key, seq) IN (SELECT r.collection_id, va.key, r.seq"   \
	" FROM removals r JOIN version_access va ON va.vid = r.vid WHERE r.collection_id = $1"   \
	" AND r.stix_id = $2 AND r.removed_us = $3)"
/* After a removal, the object's newest remaining entry in collection $1 is the latest. */
#define KY_SQL_REMOVAL_MARK_LATEST                                                               \
	"UPDATE entries SET latest = CASE WHEN seq = (SELECT f.seq FROM entries f WHERE f.collection_id = $1" \
	" AND f.stix_id = $2 ORDER BY f.version_key DESC LIMIT 1) THEN 1 ELSE 0 END"            \
	" WHERE collection_id = $1 AND stix_id = $2"
/* ... and its additions' access rows carry their marks again. */
#define KY_SQL_REMOVAL_MARK_LATEST_ACCESS                                                        \
	"UPDATE entry_access SET latest = (SELECT e.latest FROM entries e WHERE e.seq = entry_access.seq)" \
	" WHERE (collection_id, key, seq) IN (SELECT e.collection_id, va.key, e.seq FROM entries e"      \
	" JOIN version_access va ON va.vid = e.vid WHERE e.collection_id = $1 AND e.stix_id = $2)"

/* --- Add Objects requests; a request's columns as read_request() reads them --- */
#define KY_SQL_REQUEST_COLUMNS "id, collection_id, user_id, received_us, complete, total, successes, failures, claims"
#define KY_SQL_REQUEST_ADD                                                                       \
	"INSERT INTO requests (id, collection_id, user_id, received_us, total, envelope)"      \
	" VALUES ($1, $2, $3, $4, $5, $6)"
#define KY_SQL_REQUEST_GET "SELECT " KY_SQL_REQUEST_COLUMNS " FROM requests WHERE id = $1"
#define KY_SQL_REQUEST_EXISTS "SELECT 1 FROM requests WHERE id = $1"
#define KY_SQL_REQUEST_OBJECTS                                                                   \
	"SELECT idx, stix_id, version, success, message FROM request_objects WHERE request_id = $1 ORDER BY idx"
/* The oldest request whose lease ($1: now) has ended (store_pg.c adds its row lock). */
#define KY_SQL_REQUEST_NEXT                                                                      \
	"SELECT " KY_SQL_REQUEST_COLUMNS " FROM requests WHERE complete = 0 AND lease_until_us < $1" \
	" ORDER BY received_us, id LIMIT 1"
#define KY_SQL_REQUEST_HOLD "UPDATE requests SET lease_until_us = $2, claims = claims + 1 WHERE id = $1"
#define KY_SQL_REQUEST_ENVELOPE "SELECT envelope FROM requests WHERE id = $1"
/* A request's total and current token, read before recording (store_pg.c adds its row lock). */
#define KY_SQL_REQUEST_FENCE "SELECT total, claims FROM requests WHERE id = $1"
/* Outcomes, one row ($1 the request id, then index, id, version, success, message) per
 * object: the backend writes the VALUES rows between these two. */
#define KY_SQL_OUTCOME_INSERT "INSERT INTO request_objects (request_id, idx, stix_id, version, success, message) VALUES "
#define KY_SQL_OUTCOME_UPSERT                                                                    \
	" ON CONFLICT (request_id, idx) DO UPDATE SET stix_id = excluded.stix_id, version = excluded.version," \
	" success = excluded.success, message = excluded.message"
/* The counts of request $1 from its outcomes, to follow SET. */
#define KY_SQL_REQUEST_RECOUNT                                                                   \
	" successes = (SELECT count(*) FROM request_objects o WHERE o.request_id = $1 AND o.success = 1)," \
	" failures = (SELECT count(*) FROM request_objects o WHERE o.request_id = $1 AND o.success = 0),"
/* After recording: the counts, and the lease renewed to $2, if token $3 still holds. */
#define KY_SQL_REQUEST_COUNT "UPDATE requests SET" KY_SQL_REQUEST_RECOUNT " lease_until_us = $2 WHERE id = $1 AND claims = $3"
#define KY_SQL_REQUEST_COMPLETE "UPDATE requests SET complete = 1, envelope = NULL WHERE id = $1 AND claims = $2"
/* Completing as failed: every object of request $1 without an outcome fails with message
 * $2, if token $3 still holds; its indexes are counted out up to the total by a recursive
 * CTE. Then the counts, and completion under token $2. */
#define KY_SQL_REQUEST_FILL_UNRECORDED                                                           \
	"WITH RECURSIVE g(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM g"                        \
	"  WHERE i + 1 < (SELECT total FROM requests WHERE id = $1))"                           \
	" INSERT INTO request_objects (request_id, idx, success, message)"                      \
	" SELECT $1, i, 0, $2 FROM g WHERE i < (SELECT total FROM requests WHERE id = $1 AND claims = $3)" \
	" ON CONFLICT (request_id, idx) DO NOTHING"
#define KY_SQL_REQUEST_CLOSE_FAILED                                                              \
	"UPDATE requests SET" KY_SQL_REQUEST_RECOUNT " complete = 1, envelope = NULL WHERE id = $1 AND claims = $2"

#endif
