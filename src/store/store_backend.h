/*
 * store_backend: what a storage backend implements behind store.h, and the helpers the
 * backends share. Internal to the store module.
 *
 * store.c does everything that does not depend on the database: it takes the id, type and
 * version out of each object, keeps the batch in memory, and hands the backend finished
 * rows. A backend (store_sqlite.c, store_pg.c) turns them into SQL. Sequence numbers
 * and dates are assigned by the backend inside commit, under its counter lock.
 */
#ifndef KY_STORE_BACKEND_H
#define KY_STORE_BACKEND_H

#include "store/store.h"

/* One object of a batch as the backend receives it. */
typedef struct ky_store_item {
	const char *raw;                 /* these live in the batch's arena */
	size_t raw_len;
	const char *id, *type, *spec_version;  /* spec_version may be NULL (SCOs may omit it) */
	const char *modified;            /* as written, "" when the object has no version */
	char version_key[32];            /* fixed-width, sorts in time order: "YYYY-MM-DDThh:mm:ss.nnnnnnnnnZ" */
	int64_t added_us;
	/* Set by the backend at commit. */
	ky_store_status status;
	uint64_t seq;
} ky_store_item;

/* What ky_store_remove() selects, as the backends receive it (borrowed). */
typedef struct ky_store_removal_filter {
	int64_t collection_id;
	const char *id;
	unsigned versions;                /* KY_STORE_* flags; 0: as store.h says */
	const char *const *modified;      /* at most 64 */
	size_t nmodified;
	const char *const *spec_versions;
	size_t nspec_versions;
} ky_store_removal_filter;

typedef struct ky_store_backend {
	const char *name;
	int (*open)(void **impl, const char *location, const ky_store_options *options, bool *created);
	void (*close)(void *impl);
	int (*migrate)(const char *location, int *from, int *to);
	int (*schema_version)(void *impl);
	int (*collection_create)(void *impl, const char *uuid, const char *name, const char *title,
				 const char *description, int64_t *id);
	int (*collection_find)(void *impl, const char *name_or_uuid, ky_store_collection *out);
	int (*collection_list)(void *impl, int (*fn)(void *ctx, const ky_store_collection *c), void *ctx);
	int (*collection_additions)(void *impl, int64_t collection_id, uint64_t *out);
	/* Stores items[0..n) in collection_id in one transaction, setting status and seq. */
	int (*commit)(void *impl, int64_t collection_id, ky_store_item *items, size_t n);
	int (*query)(void *impl, const ky_store_query *q, ky_store_row_fn *fn, void *ctx, ky_store_page *page);
	int (*stats)(void *impl, ky_store_stats *out);
	int (*type_counts)(void *impl, int (*fn)(void *ctx, const char *type, uint64_t count), void *ctx);
	int (*check)(void *impl);
	/* Users, keys and secrets (schema 3); names, prefixes and lengths are checked by store.c,
	 * and times come from it. */
	int (*user_ensure)(void *impl, const char *name, int64_t now_us, ky_store_user *out);
	int (*user_count)(void *impl, uint64_t *out);
	int (*key_add)(void *impl, int64_t user_id, const char *prefix, const uint8_t *hash, int64_t now_us,
		       int64_t *key_id);
	int (*key_find)(void *impl, const uint8_t *hash, ky_store_key *out);
	int (*key_list)(void *impl, int (*fn)(void *ctx, const ky_store_key *k), void *ctx);
	int (*key_revoke)(void *impl, const char *prefix, int64_t now_us, ky_store_key *out);
	/* Reads secret `name` (KY_STORE_SECRET_SIZE bytes) into out; stores `fresh` first when
	 * it is not NULL and there is none. KY_ENOTFOUND when there is none (and no fresh). */
	int (*secret)(void *impl, const char *name, const uint8_t *fresh, int64_t now_us, uint8_t *out);
	/* Removals and Add Objects requests (schema 4); arguments are checked by store.c (flags,
	 * counts, id lengths, leases), and times come from it. user_id 0 is stored as none. */
	int (*remove)(void *impl, const ky_store_removal_filter *filter, int64_t user_id, int64_t now_us,
		      uint64_t *removed);
	int (*removal_list)(void *impl, int64_t collection_id, int (*fn)(void *ctx, const ky_store_removal *r),
			    void *ctx);
	int (*request_add)(void *impl, const ky_store_request *r, const char *envelope, size_t len);
	int (*request_get)(void *impl, const char *id, ky_store_request *out);
	int (*request_objects)(void *impl, const char *id, int (*fn)(void *ctx, const ky_store_request_object *o),
			       void *ctx);
	/* Claims as store.h says, holding the request until now_us + lease_us; *envelope is
	 * malloc'd (never NULL on KY_OK, even for 0 bytes). */
	int (*request_claim)(void *impl, int64_t now_us, int64_t lease_us, ky_store_request *out, char **envelope,
			     size_t *len);
	/* Record, complete and abandon as store.h says, each fenced by `token`; the outcomes'
	 * strings are valid UTF-8 by then (store.c). */
	int (*request_record)(void *impl, const char *id, uint64_t token, const ky_store_request_object *objects,
			      size_t n, int64_t now_us, int64_t lease_us);
	int (*request_complete)(void *impl, const char *id, uint64_t token);
	int (*request_abandon)(void *impl, const char *id, uint64_t token);
	/* ky_store_test_cut_after_commit(); NULL for a backend without connections to cut. */
	void (*test_cut_after_commit)(void *impl, unsigned n);
} ky_store_backend;

extern const ky_store_backend ky_store_sqlite;
extern const ky_store_backend ky_store_pg;

/* Why a hub at schema version `schema` (as read; -1: not a hub, 0: none) cannot be opened
 * by this build, with `where` (the path or URI) leading the message; KY_OK when it can. */
int ky_store_schema_refusal(const char *where, int schema);

/* Counts row into *page (first and last date, last number, count) and hands it to fn; returns
 * what fn returns (nonzero: stop). For the backends' query loops. */
int ky_store_page_row(ky_store_page *page, const ky_store_row *row, ky_store_row_fn *fn, void *ctx);

/* Microseconds since 1970 now, moved by ky_store_test_clock(). */
int64_t ky_store_now_us(void);

/* The message of a write under a claim that another claim has replaced (KY_ESTALE). */
int ky_store_taken_over(const char *id);

/* The fixed-width version key of a timestamp (ky_stix_time_parse-valid), "" for NULL. */
void ky_store_version_key(const char *timestamp, char out[32]);

/* Migration v of the schema (store_migrations.c: schema v to v + 1, migration 0 creating it)
 * in the dialect of `mark` ('?' SQLite, '$' PostgreSQL), the statement moving kyoyu_schema
 * to v + 1 last: one text of several statements, to run in the caller's transaction.
 * *out is malloc'd, the caller frees it. KY_EINVALID for a v out of 0 to
 * KY_STORE_SCHEMA_VERSION - 1, KY_ENOMEM. */
int ky_store_migration_sql(int v, char mark, char **out);

/* The SQL of a store query, shared by the backends (store_sql.c): numbered placeholders
 * `mark`1 (after), `mark`2 (collection), `mark`3 (limit), then params[i] as `mark`(4 + i).
 * (A removal's selection numbers its own; ky_store_sql_removal.) */
typedef struct ky_store_sql {
	char text[4096];
	size_t len;
	const char *params[256];
	size_t nparams;
	size_t nfixed;        /* placeholders before params[0]: 3 for queries, 4 for removals */
	bool overflow;
	char mark;            /* '?' for SQLite, '$' for PostgreSQL */
	char keys[64][32];    /* the version keys of q->modified, which params point into */
	char added_after[24]; /* q->added_after_us as text, likewise */
} ky_store_sql;

/* Builds the statement for q. KY_EINVALID for a malformed query (unknown flags, more than
 * 64 named versions, more filter values than fit). */
int ky_store_sql_build(const ky_store_query *q, char mark, ky_store_sql *out);

/* The statement selecting the entries a removal takes, "SELECT e.seq FROM entries e ...":
 * `mark`1 is the collection, `mark`2 the object's id, `mark`3 and `mark`4 are the caller's
 * (removal time and user, unused here), then params[i] as `mark`(5 + i). KY_EINVALID as
 * ky_store_sql_build(). */
int ky_store_sql_removal(const ky_store_removal_filter *filter, char mark, ky_store_sql *out);

/* Copies a statement of store_statements.h into out (strlen(sql) + 1 bytes), its
 * placeholders $1, $2, ... written with `mark` instead ('?' for SQLite). */
void ky_store_sql_marks(const char *sql, char mark, char *out);

#endif
