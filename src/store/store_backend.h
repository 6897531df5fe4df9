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
	int64_t provider;                /* ky_store_access's, copied */
	bool any_object;
	int64_t creator;
	int64_t owner;                   /* set by the backend: the object's provider when it is not
					  * `provider` (a version the secretariat adds), else 0 */
	int tlp;
	const char *keys;                /* the access keys, separated by single spaces */
	const char *parts;               /* ky_store_access's, copied; NULL: none */
	const char *shared;              /* ky_store_access's, copied; NULL: none */
	const struct ky_store_workflow *workflow; /* ky_store_access's, copied; NULL: none */
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
	int64_t provider;                 /* 0: any provider's versions */
} ky_store_removal_filter;

/*
 * The statement interface: what the modules written once over both backends (the council's
 * records: store_council.c) use instead of backend code of their own. A transaction runs a
 * body; the body runs statements of store_statements.h ($1, $2, ... placeholders) with
 * values bound and reads rows as text cells.
 */
typedef enum ky_store_value_kind { KY_STORE_VNULL, KY_STORE_VINT, KY_STORE_VTEXT, KY_STORE_VBLOB } ky_store_value_kind;

/* A value bound to a statement. Text is NUL-terminated and holds no other NUL: PostgreSQL
 * takes text parameters so, and the council's strings are checked before they get here.
 * A blob is `len` bytes at `bytes` (at most KY_STORE_BLOB_MAX: hashes and secrets). */
typedef struct ky_store_value {
	ky_store_value_kind kind;
	int64_t i;
	const char *text;
	const uint8_t *bytes;
	size_t len;
} ky_store_value;

#define KY_STORE_BLOB_MAX 64

static inline ky_store_value ky_sv_null(void)
{
	return (ky_store_value){.kind = KY_STORE_VNULL};
}

static inline ky_store_value ky_sv_int(int64_t v)
{
	return (ky_store_value){.kind = KY_STORE_VINT, .i = v};
}

/* NULL text is SQL's NULL. */
static inline ky_store_value ky_sv_text(const char *v)
{
	return (ky_store_value){.kind = v ? KY_STORE_VTEXT : KY_STORE_VNULL, .text = v};
}

static inline ky_store_value ky_sv_blob(const uint8_t *bytes, size_t len)
{
	return (ky_store_value){.kind = KY_STORE_VBLOB, .bytes = bytes, .len = len};
}

/* One column of a result row as text (numbers in decimal), borrowed for the callback. */
typedef struct ky_store_cell {
	const char *text;      /* NUL-terminated; "" for NULL */
	size_t len;
	bool null;
} ky_store_cell;

/* The most columns a statement of the interface may return. */
#define KY_STORE_CELLS_MAX 24

/* Called once per row; nonzero stops the statement (a negative value is returned by run). */
typedef int ky_store_cells_fn(void *ctx, const ky_store_cell *cells, int ncols);

/* A transaction in progress, as the backend's transact hands it to the body. */
typedef struct ky_store_tx {
	void *impl;
	/* PostgreSQL: this run of the body follows one that lost its connection and may have
	 * committed (the body checks, by the token of what it wrote, before writing again). */
	bool retry;
} ky_store_tx;

/* A transaction's body: KY_OK commits, anything else rolls back and is returned. */
typedef int ky_store_tx_body(ky_store_tx *tx, void *ctx);

/* The number as a cell holds it (0 for NULL or text that is no number). */
int64_t ky_store_cell_int(const ky_store_cell *cell);

/* A ky_store_cells_fn for a statement of one number: its first column into the int64_t at
 * ctx (the last row's, when there are several). */
int ky_store_int_cell(void *ctx, const ky_store_cell *cells, int ncols);

/* The backend's transact and run for s, for the modules written over the interface. */
int ky_store_transact(ky_store *s, bool write, ky_store_tx_body *body, void *ctx);

/* Appends one entry to the audit log (store_audit.h) inside tx: a change's entry, in the
 * change's own transaction. */
struct ky_store_audit_entry;
/* Whether s is on PostgreSQL: for the few statements whose text differs (JSON functions). */
bool ky_store_is_postgresql(const ky_store *s);
int ky_store_audit_append_tx(ky_store *s, ky_store_tx *tx, const struct ky_store_audit_entry *e);
int ky_store_run(ky_store *s, ky_store_tx *tx, const char *sql, const ky_store_value *values, int n,
		 ky_store_cells_fn *fn, void *ctx, uint64_t *changed);

/* The record of changes (store_council.c), for every module that changes the council's
 * records: a token made before the transaction, so that a retried body carries the same;
 * whether a retried body's first attempt committed (its first record is there); and record
 * `nth` (from 1) of the write of `token`, in the record of changes and the audit log. */
int ky_store_change_token(char out[37]);
int ky_store_change_committed(ky_store *s, ky_store_tx *tx, const char *token, bool *found);
int ky_store_change_record(ky_store *s, ky_store_tx *tx, const char *token, int nth, const ky_store_actor *actor,
			   const char *action, const char *subject, const char *detail, const char *reason);

/* Adds a zeroed row of `size` bytes to the growing array whose pointer is at rows_field (a
 * T **) with *n rows in room for *cap; NULL with KY_ENOMEM set. */
void *ky_store_row_add(void *rows_field, size_t *n, size_t *cap, size_t size);

/* Adds a notification for member in tx (store_reports.h): kind, the STIX id it is about,
 * its detail (a JSON object's text). */
int ky_store_notify_tx(ky_store *s, ky_store_tx *tx, int64_t member, const char *kind, const char *report,
		       const char *detail);

/* Gives version vid `access`'s keys, TLP, parts and shared form in place of those it has, in
 * tx, for each of its additions in every collection too. */
int ky_store_access_replace_tx(ky_store *s, ky_store_tx *tx, uint64_t vid, const ky_store_access *access);

/* The council workflow's part of a batch's commit (store_reports.c), in its transaction once
 * the items have their numbers: the reports and feedback that the items with a workflow
 * make, seen through `submitter`, and the batch's state change (may be NULL). */
struct ky_store_transition;
int ky_store_workflow_apply_tx(ky_store *s, ky_store_tx *tx, int64_t collection_id, const ky_store_item *items,
			       size_t n, const ky_store_scope *submitter, const struct ky_store_transition *transition);

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
	/* `audit` runs inside the batch's transaction once the items have their numbers, before
	 * it commits: the batch's entry in the audit log. */
	int (*commit)(void *impl, int64_t collection_id, ky_store_item *items, size_t n, ky_store_tx_body *audit,
		      void *ctx);
	int (*query)(void *impl, const ky_store_query *q, ky_store_row_fn *fn, void *ctx, ky_store_page *page);
	int (*stats)(void *impl, ky_store_stats *out);
	int (*type_counts)(void *impl, int (*fn)(void *ctx, const char *type, uint64_t count), void *ctx);
	int (*check)(void *impl);
	/* Secrets (schema 3); lengths are checked by store.c,
	 * and times come from it. */
	/* Reads secret `name` (KY_STORE_SECRET_SIZE bytes) into out; stores `fresh` first when
	 * it is not NULL and there is none. KY_ENOTFOUND when there is none (and no fresh). */
	int (*secret)(void *impl, const char *name, const uint8_t *fresh, int64_t now_us, uint8_t *out);
	/* Removals and Add Objects requests (schema 4); arguments are checked by store.c (flags,
	 * counts, id lengths, leases), and times come from it. user_id 0 is stored as none. */
	/* `audit` runs inside the removal's transaction when it removed something, before it
	 * commits: the removal's entry in the audit log. */
	int (*remove)(void *impl, const ky_store_removal_filter *filter, int64_t user_id, int64_t now_us,
		      uint64_t *removed, ky_store_tx_body *audit, void *ctx);
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
	/* Runs body in one transaction; with `write`, holding the hub's council lock from the
	 * start (SQLite: BEGIN IMMEDIATE; PostgreSQL: an advisory lock), so that two writers of
	 * the council's records never interleave. A read body (no `write`) runs its statements
	 * each on its own, without BEGIN and COMMIT, whose two round trips on PostgreSQL (and
	 * two parses on SQLite) would cost more than the key lookup every request makes: a read
	 * body must not need its statements to see one snapshot. On PostgreSQL a lost connection reconnects and
	 * runs the body again with tx->retry set: a body must start from scratch each time
	 * (clear what an earlier run collected). */
	int (*transact)(void *impl, bool write, ky_store_tx_body *body, void *ctx);
	/* Runs one statement of the body's transaction with n values bound, calling fn (may be
	 * NULL) per row; *changed (may be NULL) gets the rows an INSERT, UPDATE or DELETE
	 * touched. A unique constraint broken is KY_EEXISTS, a foreign key KY_ENOTFOUND, a check
	 * KY_EINVALID, each with the database's message; the body sets its own where it knows
	 * better. */
	int (*run)(ky_store_tx *tx, const char *sql, const ky_store_value *values, int n, ky_store_cells_fn *fn,
		   void *ctx, uint64_t *changed);
	/* ky_store_test_cut_after_commit(); NULL for a backend without connections to cut. */
	void (*test_cut_after_commit)(void *impl, unsigned n);
} ky_store_backend;

extern const ky_store_backend ky_store_sqlite;
extern const ky_store_backend ky_store_pg;

/* Why a hub at schema version `schema` (as read; -1: not a hub, 0: none) cannot be opened
 * by this build, with `where` (the path or URI) leading the message; KY_OK when it can. */
int ky_store_schema_refusal(const char *where, int schema);

/* Counts row into *page (first and last date, last number, count) and hands it to fn as
 * `scope` reads it (a viewer other than the provider: the shared form if the version has one,
 * without the parts it holds no key of); returns what fn returns (nonzero:
 * stop), or KY_ENOMEM. For the backends' query loops. */
int ky_store_page_row(ky_store_page *page, const ky_store_scope *scope, const ky_store_row *row, ky_store_row_fn *fn,
		      void *ctx);

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
	char text[16384];
	size_t len;
	const char *params[256];
	size_t nparams;
	size_t nfixed;        /* placeholders before params[0]: 3 for queries, 4 for removals */
	bool overflow;
	char mark;            /* '?' for SQLite, '$' for PostgreSQL */
	char keys[64][32];    /* the version keys of q->modified, which params point into */
	char added_after[24]; /* q->added_after_us as text, likewise */
	char provider[24];    /* a removal's provider as text, likewise */
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
