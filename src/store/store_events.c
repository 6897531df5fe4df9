/*
 * store_events: the hub's events in one sequence (store_events.h), written once for both
 * backends.
 */
#include "store/store_events.h"

#include <stdlib.h>
#include <string.h>

#include "util/ky_arena.h"
#include "util/ky_clock.h"
#include "util/ky_error.h"
#include "util/ky_grow.h"

/* One statement in a read transaction of its own. */
typedef struct select_op {
	ky_store *s;
	const char *sql;
	const ky_store_value *values;
	int n;
	ky_store_cells_fn *fn;
	void *ctx;
} select_op;

static int select_body(ky_store_tx *tx, void *ctx)
{
	select_op *op = ctx;
	return ky_store_run(op->s, tx, op->sql, op->values, op->n, op->fn, op->ctx, NULL);
}

static int select_rows(ky_store *s, const char *sql, const ky_store_value *values, int n, ky_store_cells_fn *fn,
		       void *ctx)
{
	select_op op = {s, sql, values, n, fn, ctx};
	return ky_store_transact(s, false, select_body, &op);
}

/* --- recording ------------------------------------------------------------------------------ */

typedef struct numbered {
	int64_t seq, date_us;
} numbered;

static int numbered_cell(void *ctx, const ky_store_cell *c, int n)
{
	(void)n;
	numbered *out = ctx;
	out->seq = ky_store_cell_int(&c[0]);
	out->date_us = ky_store_cell_int(&c[1]);
	return 0;
}

int ky_store_event_tx(ky_store *s, ky_store_tx *tx, const ky_store_event_new *e)
{
	/* The date as a batch gives its additions: now, or just after the last if the clock has
	 * not moved on, so that dates increase with the numbers. */
	ky_store_value now[] = {ky_sv_int(ky_clock_now_us())};
	numbered n = {0, 0};
	int rc = ky_store_run(s, tx,
			      "UPDATE sequence SET last_seq = last_seq + 1, last_date_added_us = CASE WHEN"
			      " last_date_added_us >= $1 THEN last_date_added_us + 1 ELSE $1 END WHERE id = 1"
			      " RETURNING last_seq, last_date_added_us",
			      now, 1, numbered_cell, &n, NULL);
	if (rc == KY_OK && n.seq == 0)
		rc = ky_error_set(KY_ERROR, "the hub has no sequence row");
	ky_store_value v[] = {ky_sv_int(n.seq),
			      ky_sv_text(e->kind),
			      e->collection_id ? ky_sv_int(e->collection_id) : ky_sv_null(),
			      e->vid ? ky_sv_int((int64_t)e->vid) : ky_sv_null(),
			      e->member ? ky_sv_int(e->member) : ky_sv_null(),
			      ky_sv_text(e->stix_id),
			      ky_sv_text(e->detail),
			      ky_sv_int(n.date_us)};
	if (rc == KY_OK)
		rc = ky_store_run(s, tx,
				  "INSERT INTO events (seq, kind, collection_id, vid, member_id, stix_id, detail, added_us)"
				  " VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
				  v, 8, NULL, NULL, NULL);
	return rc;
}

/* --- reading -------------------------------------------------------------------------------- */

/* The events of one read, copied out of the statement so that each version's keys can be
 * read after it. */
typedef struct read_op {
	ky_store *s;
	uint64_t after;
	size_t limit;
	ky_arena *arena;
	ky_store_event *rows;
	size_t n, cap;
	const char **keys;       /* the current row's, while its keys are read */
	size_t nkeys, keys_cap;
} read_op;

static const char *copy_cell(read_op *op, const ky_store_cell *c, size_t *len)
{
	if (len != NULL)
		*len = c->len;
	return c->null ? NULL : ky_arena_strndup(op->arena, c->text, c->len);
}

static int event_cell(void *ctx, const ky_store_cell *c, int ncols)
{
	(void)ncols;
	read_op *op = ctx;
	int rc = ky_grow((void **)&op->rows, &op->cap, op->n, sizeof(*op->rows));
	if (rc != KY_OK)
		return rc;
	ky_store_event *e = &op->rows[op->n];
	memset(e, 0, sizeof(*e));
	e->seq = (uint64_t)ky_store_cell_int(&c[0]);
	e->kind = copy_cell(op, &c[1], NULL);
	e->collection_id = ky_store_cell_int(&c[2]);
	e->vid = (uint64_t)ky_store_cell_int(&c[3]);
	e->member = ky_store_cell_int(&c[4]);
	e->stix_id = c[5].null ? "" : copy_cell(op, &c[5], NULL);
	e->detail = copy_cell(op, &c[6], NULL);
	e->date_us = ky_store_cell_int(&c[7]);
	e->type = copy_cell(op, &c[8], NULL);
	e->modified = copy_cell(op, &c[9], NULL);
	e->raw = copy_cell(op, &c[10], &e->raw_len);
	e->shared = copy_cell(op, &c[11], &e->shared_len);
	e->parts = copy_cell(op, &c[12], NULL);
	e->provider = ky_store_cell_int(&c[13]);
	e->tlp = c[14].null ? -1 : (int)ky_store_cell_int(&c[14]);
	e->report_state = copy_cell(op, &c[15], NULL);
	if (e->kind == NULL || e->stix_id == NULL || (!c[10].null && e->raw == NULL))
		return ky_error_set(KY_ENOMEM, "out of memory");
	op->n++;
	return 0;
}

static int key_cell(void *ctx, const ky_store_cell *c, int ncols)
{
	(void)ncols;
	read_op *op = ctx;
	int rc = ky_grow((void **)&op->keys, &op->keys_cap, op->nkeys, sizeof(*op->keys));
	if (rc != KY_OK)
		return rc;
	if ((op->keys[op->nkeys] = ky_arena_strndup(op->arena, c[0].text, c[0].len)) == NULL)
		return ky_error_set(KY_ENOMEM, "out of memory");
	op->nkeys++;
	return 0;
}

/* Each side of the union is cut at the read's length before they are merged, so that a
 * read far behind the head costs two index ranges of its length, not a sort of everything
 * since. */
#define EVENTS_SQL                                                                                                 \
	"SELECT x.seq, x.kind, x.collection_id, x.vid, x.member_id, x.stix_id, x.detail, x.date_us, v.type, v.modified," \
	" v.raw, v.shared, v.parts, v.provider_id, v.tlp, COALESCE(r.state, own.state) FROM ("                        \
	" SELECT * FROM (SELECT seq, CAST('object' AS text) AS kind, collection_id, vid, CAST(NULL AS bigint) AS member_id," \
	"  stix_id, CAST(NULL AS text) AS detail, date_added_us AS date_us FROM entries WHERE seq > $1 ORDER BY seq LIMIT $2)" \
	" additions"                     \
	" UNION ALL"                                                                                                   \
	" SELECT * FROM (SELECT seq, kind, collection_id, vid, member_id, stix_id, detail, added_us AS date_us"       \
	"  FROM events WHERE seq > $1 ORDER BY seq LIMIT $2) recorded) x"                                            \
	" LEFT JOIN versions v ON v.vid = x.vid"                                                                      \
	" LEFT JOIN report_objects ro ON ro.stix_id = x.stix_id LEFT JOIN reports r ON r.id = ro.report_id"           \
	" LEFT JOIN reports own ON own.id = x.stix_id"                                                                \
	" ORDER BY x.seq LIMIT $2"

static int read_body(ky_store_tx *tx, void *ctx)
{
	read_op *op = ctx;
	ky_store_value v[] = {ky_sv_int((int64_t)op->after), ky_sv_int((int64_t)op->limit)};
	op->n = 0;
	int rc = ky_store_run(op->s, tx, EVENTS_SQL, v, 2, event_cell, op, NULL);
	for (size_t i = 0; rc == KY_OK && i < op->n; i++) {
		ky_store_event *e = &op->rows[i];
		if (e->vid == 0)
			continue;
		op->nkeys = 0;
		ky_store_value w[] = {ky_sv_int((int64_t)e->vid)};
		rc = ky_store_run(op->s, tx, "SELECT key FROM version_access WHERE vid = $1 ORDER BY key", w, 1, key_cell, op,
				  NULL);
		const char **keys = op->nkeys ? ky_arena_alloc(op->arena, op->nkeys * sizeof(*keys)) : NULL;
		if (rc == KY_OK && op->nkeys && keys == NULL)
			rc = ky_error_set(KY_ENOMEM, "out of memory");
		if (rc == KY_OK && keys != NULL)
			memcpy(keys, op->keys, op->nkeys * sizeof(*keys));
		e->keys = keys;
		e->nkeys = op->nkeys;
	}
	return rc;
}

int ky_store_events_read(ky_store *s, uint64_t after, size_t limit, ky_store_event_fn *fn, void *ctx, uint64_t *last)
{
	read_op op = {.s = s, .after = after, .limit = limit ? limit : 1, .arena = ky_arena_new()};
	*last = after;
	int rc = op.arena ? ky_store_transact(s, false, read_body, &op) : ky_error_set(KY_ENOMEM, "out of memory");
	for (size_t i = 0; rc == KY_OK && i < op.n; i++) {
		ky_store_event *e = &op.rows[i];
		int stop = fn(ctx, e);
		*last = e->seq;
		if (stop != 0) {
			rc = stop < 0 ? stop : KY_OK;
			break;
		}
	}
	free(op.rows);
	free(op.keys);
	ky_arena_free(op.arena);
	return rc;
}

static int seq_cell(void *ctx, const ky_store_cell *c, int n)
{
	(void)n;
	numbered *out = ctx;
	if (!c[0].null && (out->seq == 0 || ky_store_cell_int(&c[0]) < out->seq)) {
		out->seq = ky_store_cell_int(&c[0]);
		out->date_us = n > 1 ? ky_store_cell_int(&c[1]) : 0;
	}
	return 0;
}

int ky_store_events_head(ky_store *s, uint64_t *out)
{
	numbered n = {0, 0};
	int rc = select_rows(s, "SELECT last_seq FROM sequence WHERE id = 1", NULL, 0, seq_cell, &n);
	*out = (uint64_t)n.seq;
	return rc;
}

int ky_store_events_next(ky_store *s, uint64_t after, uint64_t *seq, int64_t *date_us)
{
	numbered n = {0, 0};
	ky_store_value v[] = {ky_sv_int((int64_t)after)};
	int rc = select_rows(s,
				 "SELECT seq, date_added_us FROM entries WHERE seq = (SELECT min(seq) FROM entries WHERE seq > $1)",
				 v, 1, seq_cell, &n);
	if (rc == KY_OK)
		rc = select_rows(s,
				     "SELECT seq, added_us FROM events WHERE seq = (SELECT min(seq) FROM events WHERE seq > $1)", v,
				     1, seq_cell, &n);
	*seq = (uint64_t)n.seq;
	*date_us = n.date_us;
	return rc;
}

int ky_store_events_since(ky_store *s, int64_t since_us, uint64_t *seq)
{
	numbered n = {0, 0};
	ky_store_value v[] = {ky_sv_int(since_us)};
	/* Dates increase with the numbers, hub-wide: the first addition dated since is the
	 * least of each collection's first, each one probe of entries_by_date_added. */
	int rc = select_rows(s,
			     "SELECT min((SELECT e.seq FROM entries e WHERE e.collection_id = c.id AND e.date_added_us >= $1"
			     " ORDER BY e.date_added_us LIMIT 1)) FROM collections c",
			     v, 1, seq_cell, &n);
	if (rc == KY_OK)
		rc = select_rows(s, "SELECT min(seq) FROM events WHERE added_us >= $1", v, 1, seq_cell, &n);
	*seq = (uint64_t)n.seq;
	return rc;
}

int ky_store_events_council(ky_store *s, int64_t *out)
{
	*out = 0;
	return select_rows(s, "SELECT max(id) FROM changes", NULL, 0, ky_store_int_cell, out);
}

typedef struct prune_op {
	ky_store *s;
	int64_t before_us;
	uint64_t deleted;
} prune_op;

static int prune_body(ky_store_tx *tx, void *ctx)
{
	prune_op *op = ctx;
	ky_store_value v[] = {ky_sv_int(op->before_us)};
	return ky_store_run(op->s, tx, "DELETE FROM events WHERE added_us < $1", v, 1, NULL, NULL, &op->deleted);
}

int ky_store_events_prune(ky_store *s, int64_t before_us, uint64_t *deleted)
{
	prune_op op = {.s = s, .before_us = before_us};
	int rc = ky_store_transact(s, true, prune_body, &op);
	if (deleted != NULL)
		*deleted = op.deleted;
	return rc;
}
