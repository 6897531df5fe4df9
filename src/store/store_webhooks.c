/*
 * store_webhooks: endpoints and the queue of deliveries (store_webhooks.h), written once for
 * both backends; only the claim's row locking differs.
 */
#include "store/store_webhooks.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "store/store_backend.h"
#include "util/ky_clock.h"
#include "util/ky_error.h"
#include "util/ky_uuid.h"

enum { PENDING = 0, DELIVERED = 1, DEAD = 2 };

#define WEBHOOK_COLUMNS                                                                                  \
	"SELECT w.id, w.uuid, w.member_id, m.name, w.url, w.own, w.filter, w.sealed, w.from_seq, w.created_us," \
	" w.removed_us, w.blocked_until_us,"                                                              \
	" (SELECT COUNT(*) FROM webhook_deliveries d WHERE d.webhook_id = w.id AND d.state = 0),"          \
	" (SELECT COUNT(*) FROM webhook_deliveries d WHERE d.webhook_id = w.id AND d.state = 1),"          \
	" (SELECT COUNT(*) FROM webhook_deliveries d WHERE d.webhook_id = w.id AND d.state = 2)"           \
	" FROM webhooks w JOIN members m ON m.id = w.member_id"

static void copy_text(char *out, size_t cap, const ky_store_cell *c)
{
	size_t n = c->len < cap - 1 ? c->len : cap - 1;
	memcpy(out, c->text, n);
	out[n] = '\0';
}

typedef struct webhook_rows {
	int (*fn)(void *ctx, const ky_store_webhook *w);
	void *ctx;
	ky_store_webhook *one;    /* or one row into this */
	bool found;
} webhook_rows;

static int webhook_cell(void *ctx, const ky_store_cell *c, int n)
{
	(void)n;
	webhook_rows *r = ctx;
	ky_store_webhook w, *out = r->one ? r->one : &w;
	memset(out, 0, sizeof(*out));
	out->id = ky_store_cell_int(&c[0]);
	copy_text(out->uuid, sizeof(out->uuid), &c[1]);
	out->member_id = ky_store_cell_int(&c[2]);
	copy_text(out->member, sizeof(out->member), &c[3]);
	copy_text(out->url, sizeof(out->url), &c[4]);
	out->own = ky_store_cell_int(&c[5]) != 0;
	copy_text(out->filter, sizeof(out->filter), &c[6]);
	copy_text(out->sealed, sizeof(out->sealed), &c[7]);
	out->from_seq = ky_store_cell_int(&c[8]);
	out->created_us = ky_store_cell_int(&c[9]);
	out->removed_us = ky_store_cell_int(&c[10]);
	out->blocked_until_us = ky_store_cell_int(&c[11]);
	out->pending = ky_store_cell_int(&c[12]);
	out->delivered = ky_store_cell_int(&c[13]);
	out->dead = ky_store_cell_int(&c[14]);
	r->found = true;
	return r->one ? 0 : r->fn(r->ctx, out);
}

/* One statement in a transaction of its own. */
typedef struct one_op {
	ky_store *s;
	const char *sql;
	const ky_store_value *v;
	int n;
	ky_store_cells_fn *fn;
	void *ctx;
	uint64_t changed;
} one_op;

static int one_body(ky_store_tx *tx, void *ctx)
{
	one_op *op = ctx;
	return ky_store_run(op->s, tx, op->sql, op->v, op->n, op->fn, op->ctx, &op->changed);
}

static int one(ky_store *s, bool write, const char *sql, const ky_store_value *v, int n, ky_store_cells_fn *fn,
	       void *ctx, uint64_t *changed)
{
	one_op op = {s, sql, v, n, fn, ctx, 0};
	int rc = ky_store_transact(s, write, one_body, &op);
	if (changed != NULL)
		*changed = op.changed;
	return rc;
}

int ky_store_webhook_get(ky_store *s, const char *uuid, ky_store_webhook *out)
{
	webhook_rows r = {.one = out};
	ky_store_value v[] = {ky_sv_text(uuid)};
	int rc = one(s, false, WEBHOOK_COLUMNS " WHERE w.uuid = $1", v, 1, webhook_cell, &r, NULL);
	if (rc == KY_OK && !r.found)
		rc = ky_error_set(KY_ENOTFOUND, "no webhook %.40s in this hub", uuid);
	return rc;
}

int ky_store_webhook_by_id(ky_store *s, int64_t id, ky_store_webhook *out)
{
	webhook_rows r = {.one = out};
	ky_store_value v[] = {ky_sv_int(id)};
	int rc = one(s, false, WEBHOOK_COLUMNS " WHERE w.id = $1", v, 1, webhook_cell, &r, NULL);
	if (rc == KY_OK && !r.found)
		rc = ky_error_set(KY_ENOTFOUND, "no webhook %lld in this hub", (long long)id);
	return rc;
}

int ky_store_webhook_list(ky_store *s, int64_t member, int (*fn)(void *ctx, const ky_store_webhook *w), void *ctx)
{
	webhook_rows r = {.fn = fn, .ctx = ctx};
	ky_store_value v[] = {ky_sv_int(member)};
	return one(s, false, WEBHOOK_COLUMNS " WHERE w.removed_us IS NULL AND ($1 = 0 OR w.member_id = $1) ORDER BY w.id",
		   v, 1, webhook_cell, &r, NULL);
}

/* --- adding and removing --------------------------------------------------------------------- */

typedef struct change_op {
	ky_store *s;
	const ky_store_webhook *w;
	ky_store_webhook_seal_fn *seal;
	void *seal_ctx;
	const ky_store_actor *actor;
	const char *reason, *uuid;
	char token[37];
	char new_uuid[37];
	int64_t id, delivery;
	uint64_t changed;
} change_op;

static int add_body(ky_store_tx *tx, void *ctx)
{
	change_op *op = ctx;
	bool done;
	int rc = ky_store_change_committed(op->s, tx, op->token, &done);
	if (rc != KY_OK || done)
		return rc;
	int64_t head = 0;
	rc = ky_store_run(op->s, tx, "SELECT last_seq FROM sequence WHERE id = 1", NULL, 0, ky_store_int_cell, &head, NULL);
	ky_store_value v[] = {ky_sv_text(op->new_uuid), ky_sv_int(op->w->member_id), ky_sv_text(op->w->url),
			      ky_sv_int(op->w->own), ky_sv_text(op->w->filter), ky_sv_int(head),
			      ky_sv_int(ky_clock_now_us())};
	if (rc == KY_OK)
		rc = ky_store_run(op->s, tx,
				  "INSERT INTO webhooks (uuid, member_id, url, own, filter, from_seq, created_us)"
				  " VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
				  v, 7, ky_store_int_cell, &op->id, NULL);
	char sealed[KY_STORE_WEBHOOK_SEALED_MAX + 1];
	if (rc == KY_OK)
		rc = op->seal(op->seal_ctx, op->id, sealed, sizeof(sealed));
	ky_store_value u[] = {ky_sv_text(sealed), ky_sv_int(op->id)};
	if (rc == KY_OK)
		rc = ky_store_run(op->s, tx, "UPDATE webhooks SET sealed = $1 WHERE id = $2", u, 2, NULL, NULL, NULL);
	json_t *d = json_pack("{s:s,s:s,s:s}", "url", op->w->url, "declared", op->w->own ? "own" : "third-party",
			      "filter", op->w->filter);
	char *detail = d ? json_dumps(d, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
	json_decref(d);
	if (rc == KY_OK && detail == NULL)
		rc = ky_error_set(KY_ENOMEM, "out of memory");
	if (rc == KY_OK)
		rc = ky_store_change_record(op->s, tx, op->token, 1, op->actor, "webhook.add", op->new_uuid, detail,
					    op->reason);
	free(detail);
	return rc;
}

int ky_store_webhook_add(ky_store *s, const ky_store_webhook *w, ky_store_webhook_seal_fn *seal, void *seal_ctx,
			 const ky_store_actor *actor, const char *reason, ky_store_webhook *out)
{
	if (strlen(w->url) > KY_STORE_WEBHOOK_URL_MAX || strlen(w->filter) > KY_STORE_WEBHOOK_FILTER_MAX)
		return ky_error_set(KY_EINVALID, "a webhook's URL has at most %d bytes, its filter %d",
				    KY_STORE_WEBHOOK_URL_MAX, KY_STORE_WEBHOOK_FILTER_MAX);
	change_op op = {.s = s, .w = w, .seal = seal, .seal_ctx = seal_ctx, .actor = actor, .reason = reason};
	int rc = ky_store_change_token(op.token);
	if (rc == KY_OK)
		rc = ky_uuid4(op.new_uuid);
	if (rc == KY_OK)
		rc = ky_store_transact(s, true, add_body, &op);
	if (rc == KY_OK && out != NULL)
		rc = ky_store_webhook_get(s, op.new_uuid, out);
	return rc;
}

static int remove_body(ky_store_tx *tx, void *ctx)
{
	change_op *op = ctx;
	bool done;
	int rc = ky_store_change_committed(op->s, tx, op->token, &done);
	if (rc != KY_OK || done)
		return rc;
	ky_store_value v[] = {ky_sv_text(op->uuid), ky_sv_int(ky_clock_now_us())};
	uint64_t changed = 0;
	rc = ky_store_run(op->s, tx, "UPDATE webhooks SET removed_us = $2 WHERE uuid = $1 AND removed_us IS NULL", v, 2,
			  NULL, NULL, &changed);
	if (rc == KY_OK && changed == 0)
		return ky_error_set(KY_ENOTFOUND, "no webhook %.40s in this hub", op->uuid);
	if (rc == KY_OK)
		rc = ky_store_change_record(op->s, tx, op->token, 1, op->actor, "webhook.remove", op->uuid, NULL, op->reason);
	return rc;
}

int ky_store_webhook_remove(ky_store *s, const char *uuid, const ky_store_actor *actor, const char *reason,
			    ky_store_webhook *out)
{
	change_op op = {.s = s, .uuid = uuid, .actor = actor, .reason = reason};
	int rc = ky_store_change_token(op.token);
	if (rc == KY_OK)
		rc = ky_store_transact(s, true, remove_body, &op);
	if (rc == KY_OK && out != NULL)
		rc = ky_store_webhook_get(s, uuid, out);
	return rc;
}

/* --- queueing -------------------------------------------------------------------------------- */

int ky_store_webhook_cursor(ky_store *s, uint64_t *out)
{
	int64_t seq = 0;
	int rc = one(s, false, "SELECT seq FROM webhook_cursor WHERE id = 1", NULL, 0, ky_store_int_cell, &seq, NULL);
	*out = (uint64_t)seq;
	return rc;
}

typedef struct enqueue_op {
	ky_store *s;
	uint64_t from, to;
	const ky_store_delivery_new *d;
	size_t n;
	const char *const *bodies;
	size_t nbodies;
	int64_t *body_ids;
	bool queued;
} enqueue_op;

static int enqueue_body(ky_store_tx *tx, void *ctx)
{
	enqueue_op *op = ctx;
	op->queued = false;
	ky_store_value c[] = {ky_sv_int((int64_t)op->to), ky_sv_int((int64_t)op->from)};
	uint64_t moved = 0;
	int rc = ky_store_run(op->s, tx, "UPDATE webhook_cursor SET seq = $1 WHERE id = 1 AND seq = $2", c, 2, NULL, NULL,
			      &moved);
	if (rc != KY_OK || moved == 0)
		return rc;
	for (size_t i = 0; rc == KY_OK && i < op->nbodies; i++) {
		ky_store_value b[] = {ky_sv_text(op->bodies[i])};
		op->body_ids[i] = 0;
		rc = ky_store_run(op->s, tx, "INSERT INTO webhook_bodies (body) VALUES ($1) RETURNING id", b, 1,
				  ky_store_int_cell, &op->body_ids[i], NULL);
	}
	int64_t now = ky_clock_now_us();
	for (size_t i = 0; rc == KY_OK && i < op->n; i++) {
		ky_store_value v[] = {ky_sv_int(op->d[i].webhook_id), ky_sv_int((int64_t)op->d[i].seq),
				      ky_sv_text(op->d[i].kind), ky_sv_int(op->body_ids[op->d[i].body]), ky_sv_int(now)};
		rc = ky_store_run(op->s, tx,
				  "INSERT INTO webhook_deliveries (webhook_id, seq, kind, body_id, created_us, next_us)"
				  " VALUES ($1, $2, $3, $4, $5, $5)",
				  v, 5, NULL, NULL, NULL);
	}
	op->queued = rc == KY_OK;
	return rc;
}

int ky_store_webhook_enqueue(ky_store *s, uint64_t from, uint64_t to, const ky_store_delivery_new *d, size_t n,
			     const char *const *bodies, size_t nbodies, bool *queued)
{
	int64_t *ids = calloc(nbodies ? nbodies : 1, sizeof(*ids));
	if (ids == NULL)
		return ky_error_set(KY_ENOMEM, "out of memory");
	enqueue_op op = {s, from, to, d, n, bodies, nbodies, ids, false};
	int rc = ky_store_transact(s, true, enqueue_body, &op);
	free(ids);
	*queued = rc == KY_OK && op.queued;
	return rc;
}

/* --- claiming and recording ------------------------------------------------------------------- */

/* The due deliveries, a few per endpoint, of endpoints with none under lease and not backing
 * off. On PostgreSQL the rows are locked, skipping those another process holds. The UPDATE
 * checks state and lease again on each row, so a row another process leased in between is
 * passed over however its lock was taken. */
#define CLAIM_DUE                                                                                          \
	"SELECT id FROM (SELECT d.id, d.next_us, ROW_NUMBER() OVER (PARTITION BY d.webhook_id"              \
	" ORDER BY d.next_us, d.id) AS nth FROM webhook_deliveries d JOIN webhooks w ON w.id = d.webhook_id" \
	" WHERE d.state = 0 AND d.next_us <= $2 AND d.lease_until_us <= $2 AND w.removed_us IS NULL"        \
	" AND w.blocked_until_us <= $2 AND NOT EXISTS (SELECT 1 FROM webhook_deliveries x"                  \
	" WHERE x.webhook_id = d.webhook_id AND x.state = 0 AND x.lease_until_us > $2)) due"                 \
	" WHERE nth <= $3 ORDER BY next_us, id LIMIT $4"
#define CLAIM_SET                                                                                           \
	"UPDATE webhook_deliveries SET lease_until_us = $1, attempts = attempts + 1"                         \
	" WHERE state = 0 AND lease_until_us <= $2 AND id IN "
#define CLAIM_RETURNING " RETURNING id, webhook_id, seq, kind, attempts, created_us, body_id"

static const char claim_sqlite[] = CLAIM_SET "(" CLAIM_DUE ")" CLAIM_RETURNING;
static const char claim_pg[] = CLAIM_SET "(SELECT id FROM webhook_deliveries WHERE id IN (" CLAIM_DUE
					 ") FOR UPDATE SKIP LOCKED)" CLAIM_RETURNING;

typedef struct claimed {
	int64_t id, webhook_id, seq, created_us, body_id;
	int attempts;
	char kind[16];
	char *body;
	size_t body_len;
} claimed;

typedef struct claim_op {
	ky_store *s;
	int64_t now, lease;
	size_t per_endpoint, limit;
	claimed *rows;
	size_t n;
} claim_op;

static int claim_cell(void *ctx, const ky_store_cell *c, int ncols)
{
	(void)ncols;
	claim_op *op = ctx;
	if (op->n == op->limit)
		return 0;
	claimed *r = &op->rows[op->n++];
	memset(r, 0, sizeof(*r));
	r->id = ky_store_cell_int(&c[0]);
	r->webhook_id = ky_store_cell_int(&c[1]);
	r->seq = ky_store_cell_int(&c[2]);
	copy_text(r->kind, sizeof(r->kind), &c[3]);
	r->attempts = (int)ky_store_cell_int(&c[4]);
	r->created_us = ky_store_cell_int(&c[5]);
	r->body_id = ky_store_cell_int(&c[6]);
	return 0;
}

typedef struct body_read {
	char *text;
	size_t len;
} body_read;

static int body_cell(void *ctx, const ky_store_cell *c, int ncols)
{
	(void)ncols;
	body_read *b = ctx;
	free(b->text);
	b->text = malloc(c->len + 1);
	if (b->text == NULL)
		return ky_error_set(KY_ENOMEM, "out of memory");
	memcpy(b->text, c->text, c->len);
	b->text[c->len] = '\0';
	b->len = c->len;
	return 0;
}

static int claim_body(ky_store_tx *tx, void *ctx)
{
	claim_op *op = ctx;
	for (size_t i = 0; i < op->n; i++)
		free(op->rows[i].body);
	op->n = 0;
	ky_store_value v[] = {ky_sv_int(op->now + op->lease), ky_sv_int(op->now), ky_sv_int((int64_t)op->per_endpoint),
			      ky_sv_int((int64_t)op->limit)};
	int rc = ky_store_run(op->s, tx, ky_store_is_postgresql(op->s) ? claim_pg : claim_sqlite, v, 4, claim_cell, op,
			      NULL);
	/* The bodies, once each: the deliveries of one event mostly share theirs. */
	for (size_t i = 0; rc == KY_OK && i < op->n; i++) {
		for (size_t j = 0; j < i && op->rows[i].body == NULL; j++)
			if (op->rows[j].body_id == op->rows[i].body_id && op->rows[j].body != NULL) {
				op->rows[i].body = strdup(op->rows[j].body);
				op->rows[i].body_len = op->rows[j].body_len;
				if (op->rows[i].body == NULL)
					rc = ky_error_set(KY_ENOMEM, "out of memory");
			}
		if (rc != KY_OK || op->rows[i].body != NULL)
			continue;
		body_read b = {NULL, 0};
		ky_store_value id[] = {ky_sv_int(op->rows[i].body_id)};
		rc = ky_store_run(op->s, tx, "SELECT body FROM webhook_bodies WHERE id = $1", id, 1, body_cell, &b, NULL);
		op->rows[i].body = b.text;
		op->rows[i].body_len = b.len;
		if (rc == KY_OK && b.text == NULL)
			rc = ky_error_set(KY_ERROR, "delivery %lld has no body", (long long)op->rows[i].id);
	}
	return rc;
}

int ky_store_webhook_claim(ky_store *s, int64_t now_us, int64_t lease_us, size_t per_endpoint, size_t limit,
			   int (*fn)(void *ctx, const ky_store_delivery *d), void *ctx)
{
	if (limit == 0)
		return KY_OK;
	claim_op op = {s, now_us, lease_us, per_endpoint, limit, calloc(limit, sizeof(claimed)), 0};
	if (op.rows == NULL)
		return ky_error_set(KY_ENOMEM, "out of memory");
	int rc = ky_store_transact(s, true, claim_body, &op);
	for (size_t i = 0; i < op.n; i++) {
		claimed *r = &op.rows[i];
		ky_store_delivery d = {r->id, r->webhook_id, (uint64_t)r->seq, r->kind, r->attempts, r->created_us, r->body,
				       r->body_len};
		if (rc == KY_OK)
			rc = fn(ctx, &d);
		free(r->body);
	}
	free(op.rows);
	return rc;
}

typedef struct record_op {
	ky_store *s;
	const ky_store_delivery_result *r;
	size_t n;
	int64_t now;
} record_op;

static int record_body(ky_store_tx *tx, void *ctx)
{
	record_op *op = ctx;
	int rc = KY_OK;
	for (size_t i = 0; rc == KY_OK && i < op->n; i++) {
		const ky_store_delivery_result *r = &op->r[i];
		int state = r->delivered ? DELIVERED : r->retry_at_us == 0 ? DEAD : PENDING;
		ky_store_value v[] = {ky_sv_int(r->id), ky_sv_int(state), r->status ? ky_sv_int(r->status) : ky_sv_null(),
				      ky_sv_text(r->error), ky_sv_int(state == PENDING ? r->retry_at_us : 0),
				      state == PENDING ? ky_sv_null() : ky_sv_int(op->now)};
		rc = ky_store_run(op->s, tx,
				  "UPDATE webhook_deliveries SET state = $2, last_status = $3, last_error = $4,"
				  " next_us = CASE WHEN $2 = 0 THEN $5 ELSE next_us END, lease_until_us = 0, done_us = $6"
				  " WHERE id = $1 AND state = 0",
				  v, 6, NULL, NULL, NULL);
		ky_store_value w[] = {ky_sv_int(r->webhook_id), ky_sv_int(r->delivered ? 0 : r->retry_at_us)};
		if (rc == KY_OK)
			rc = ky_store_run(op->s, tx, "UPDATE webhooks SET blocked_until_us = $2 WHERE id = $1", w, 2, NULL, NULL,
					  NULL);
	}
	return rc;
}

int ky_store_webhook_record(ky_store *s, const ky_store_delivery_result *r, size_t n, int64_t now_us)
{
	record_op op = {s, r, n, now_us};
	return n == 0 ? KY_OK : ky_store_transact(s, true, record_body, &op);
}

int ky_store_webhook_expire(ky_store *s, int64_t before_us, int64_t now_us, uint64_t *n)
{
	ky_store_value v[] = {ky_sv_int(before_us), ky_sv_int(now_us)};
	return one(s, true,
		   "UPDATE webhook_deliveries SET state = 2, done_us = $2,"
		   " last_error = COALESCE(last_error, 'not delivered') WHERE state = 0 AND created_us < $1"
		   " AND lease_until_us <= $2",
		   v, 2, NULL, NULL, n);
}

/* --- the dead letters ------------------------------------------------------------------------ */

typedef struct dead_rows {
	int (*fn)(void *ctx, const ky_store_delivery_info *d);
	void *ctx;
	size_t limit, n;
	bool more;
} dead_rows;

static int dead_cell(void *ctx, const ky_store_cell *c, int ncols)
{
	(void)ncols;
	dead_rows *r = ctx;
	if (r->n == r->limit) {
		r->more = true;
		return 1;
	}
	r->n++;
	ky_store_delivery_info d = {.id = ky_store_cell_int(&c[0]),
				    .seq = (uint64_t)ky_store_cell_int(&c[1]),
				    .kind = c[2].text,
				    .state = (int)ky_store_cell_int(&c[3]),
				    .attempts = (int)ky_store_cell_int(&c[4]),
				    .created_us = ky_store_cell_int(&c[5]),
				    .done_us = ky_store_cell_int(&c[6]),
				    .last_status = (int)ky_store_cell_int(&c[7]),
				    .last_error = c[8].text};
	return r->fn(r->ctx, &d);
}

int ky_store_webhook_dead_list(ky_store *s, int64_t webhook_id, int64_t after, size_t limit,
			       int (*fn)(void *ctx, const ky_store_delivery_info *d), void *ctx, bool *more)
{
	dead_rows r = {fn, ctx, limit, 0, false};
	ky_store_value v[] = {ky_sv_int(webhook_id), ky_sv_int(after), ky_sv_int((int64_t)limit + 1)};
	int rc = one(s, false,
		     "SELECT id, seq, kind, state, attempts, created_us, done_us, last_status, last_error"
		     " FROM webhook_deliveries WHERE webhook_id = $1 AND state = 2 AND id > $2 ORDER BY id LIMIT $3",
		     v, 3, dead_cell, &r, NULL);
	*more = r.more;
	return rc;
}

static int replay_body(ky_store_tx *tx, void *ctx)
{
	change_op *op = ctx;
	bool done;
	int rc = ky_store_change_committed(op->s, tx, op->token, &done);
	if (rc != KY_OK || done)
		return rc;
	ky_store_value v[] = {ky_sv_int(op->id), ky_sv_int(op->delivery), ky_sv_int(ky_clock_now_us())};
	rc = ky_store_run(op->s, tx,
			  "UPDATE webhook_deliveries SET state = 0, attempts = 0, created_us = $3, next_us = $3,"
			  " lease_until_us = 0, done_us = NULL WHERE webhook_id = $1 AND state = 2 AND ($2 = 0 OR id = $2)",
			  v, 3, NULL, NULL, &op->changed);
	if (rc == KY_OK)
		rc = ky_store_run(op->s, tx, "UPDATE webhooks SET blocked_until_us = 0 WHERE id = $1", v, 1, NULL, NULL,
				  NULL);
	char detail[96];
	snprintf(detail, sizeof(detail), "{\"deliveries\":%llu}", (unsigned long long)op->changed);
	if (rc == KY_OK && op->changed > 0)
		rc = ky_store_change_record(op->s, tx, op->token, 1, op->actor, "webhook.replay", op->uuid, detail,
					    op->reason);
	return rc;
}

int ky_store_webhook_replay(ky_store *s, int64_t webhook_id, int64_t delivery, const ky_store_actor *actor,
			    const char *reason, uint64_t *n)
{
	ky_store_webhook w;
	int rc = ky_store_webhook_by_id(s, webhook_id, &w);
	change_op op = {.s = s, .id = webhook_id, .delivery = delivery, .actor = actor, .reason = reason, .uuid = w.uuid};
	if (rc == KY_OK)
		rc = ky_store_change_token(op.token);
	if (rc == KY_OK)
		rc = ky_store_transact(s, true, replay_body, &op);
	*n = op.changed;
	return rc;
}
