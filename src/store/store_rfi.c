/*
 * store_rfi: requests for information (store_rfi.h), written once for both backends.
 */
#include "store/store_rfi.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/store_backend.h"
#include "util/ky_arena.h"
#include "util/ky_clock.h"
#include "util/ky_error.h"

static const char *const ANSWERS[] = {"open", "answered", "nothing-seen", "declined"};

const char *ky_rfi_answer_name(ky_rfi_answer a)
{
	return (unsigned)a < sizeof(ANSWERS) / sizeof(ANSWERS[0]) ? ANSWERS[a] : "?";
}

bool ky_rfi_answer_parse(const char *name, ky_rfi_answer *out)
{
	for (size_t i = 0; name != NULL && i < sizeof(ANSWERS) / sizeof(ANSWERS[0]); i++)
		if (strcmp(name, ANSWERS[i]) == 0) {
			*out = (ky_rfi_answer)i;
			return true;
		}
	return false;
}

static char *detail_of(json_t *d)
{
	char *text = d ? json_dumps(d, JSON_COMPACT) : NULL;
	json_decref(d);
	return text;
}

/* --- asking ---------------------------------------------------------------------------------- */

typedef struct ask_op {
	ky_store *s;
	const char *subject, *question;
	const int64_t *members;
	size_t n;
	const ky_store_actor *actor;
	char token[37];
	int64_t id;
} ask_op;

static int ask_body(ky_store_tx *tx, void *ctx)
{
	ask_op *op = ctx;
	bool done;
	int rc = ky_store_change_committed(op->s, tx, op->token, &done);
	if (rc != KY_OK)
		return rc;
	if (done) {
		/* Its retry: the request it made is the newest with this subject and question. */
		ky_store_value v[] = {ky_sv_text(op->subject), ky_sv_text(op->question)};
		return ky_store_run(op->s, tx, "SELECT MAX(id) FROM rfis WHERE subject = $1 AND question = $2", v, 2, ky_store_int_cell,
				    &op->id, NULL);
	}
	int64_t now = ky_clock_now_us();
	ky_store_value v[] = {ky_sv_text(op->subject), ky_sv_text(op->question), ky_sv_int(now)};
	rc = ky_store_run(op->s, tx, "INSERT INTO rfis (subject, question, asked_us) VALUES ($1, $2, $3) RETURNING id", v, 3,
			  ky_store_int_cell, &op->id, NULL);
	char *detail = rc == KY_OK ? detail_of(json_pack("{s:I,s:s}", "rfi", (json_int_t)op->id, "question", op->question))
				   : NULL;
	if (rc == KY_OK && detail == NULL)
		rc = ky_error_set(KY_ENOMEM, "out of memory");
	for (size_t i = 0; rc == KY_OK && i < op->n; i++) {
		ky_store_value a[] = {ky_sv_int(op->id), ky_sv_int(op->members[i])};
		rc = ky_store_run(op->s, tx, "INSERT INTO rfi_addressees (rfi_id, member_id, state) VALUES ($1, $2, 'open')", a,
				  2, NULL, NULL, NULL);
		if (rc == KY_EEXISTS)
			rc = ky_error_set(KY_EINVALID, "a request names each member once");
		if (rc == KY_OK)
			rc = ky_store_notify_tx(op->s, tx, op->members[i], "rfi", op->subject, detail);
	}
	char subject[32];
	snprintf(subject, sizeof(subject), "rfi %lld", (long long)op->id);
	if (rc == KY_OK)
		rc = ky_store_change_record(op->s, tx, op->token, 1, op->actor, "rfi.ask", subject, detail, NULL);
	free(detail);
	return rc;
}

int ky_store_rfi_ask(ky_store *s, const char *subject, const char *question, const int64_t *members, size_t n,
		     const ky_store_actor *actor, int64_t *id)
{
	if (n == 0 || n > KY_STORE_RFI_ADDRESSEES_MAX)
		return ky_error_set(KY_EINVALID, "a request for information names 1 to %d members", KY_STORE_RFI_ADDRESSEES_MAX);
	ask_op op = {.s = s, .subject = subject, .question = question, .members = members, .n = n, .actor = actor};
	int rc = ky_store_change_token(op.token);
	if (rc == KY_OK)
		rc = ky_store_transact(s, true, ask_body, &op);
	if (rc == KY_OK)
		*id = op.id;
	return rc;
}

/* --- answering and closing ------------------------------------------------------------------- */

typedef struct answer_op {
	ky_store *s;
	int64_t id, member;
	ky_rfi_answer answer;
	const char *reason, *objects, *close_reason;
	const ky_store_actor *actor;
	char token[37];
} answer_op;

typedef struct state_row {
	bool found;
	char state[16];
	bool closed;
	char subject[KY_STORE_STIX_ID_MAX];
} state_row;

static int state_cell(void *ctx, const ky_store_cell *c, int n)
{
	(void)n;
	state_row *r = ctx;
	r->found = true;
	snprintf(r->state, sizeof(r->state), "%s", c[0].text);
	r->closed = !c[1].null;
	snprintf(r->subject, sizeof(r->subject), "%s", c[2].text);
	return 0;
}

/* Each object named must be one the member submitted: an answer only points at them. */
static int own_objects(answer_op *op, ky_store_tx *tx)
{
	json_t *ids = op->objects ? json_loads(op->objects, 0, NULL) : NULL;
	size_t i;
	json_t *item;
	int rc = KY_OK;
	json_array_foreach(ids, i, item) {
		int64_t found = 0;
		ky_store_value v[] = {ky_sv_text(json_string_value(item)), ky_sv_int(op->member)};
		rc = ky_store_run(op->s, tx, "SELECT COUNT(*) FROM versions WHERE stix_id = $1 AND provider_id = $2", v, 2,
				  ky_store_int_cell, &found, NULL);
		if (rc == KY_OK && found == 0)
			rc = ky_error_set(KY_EINVALID,
					  "objects[%zu] (%s) is not an object your member submitted: submit it first (as feedback"
					  " or a report), then name it",
					  i, json_string_value(item));
		if (rc != KY_OK)
			break;
	}
	json_decref(ids);
	return rc;
}

static int secretariat_row(void *ctx, const ky_store_cell *c, int n)
{
	(void)n;
	int64_t *ids = ctx;
	if (ids[0] < KY_STORE_RFI_ADDRESSEES_MAX)
		ids[1 + ids[0]++] = ky_store_cell_int(&c[0]);
	return 0;
}

static int answer_body(ky_store_tx *tx, void *ctx)
{
	answer_op *op = ctx;
	bool done;
	int rc = ky_store_change_committed(op->s, tx, op->token, &done);
	if (rc != KY_OK || done)
		return rc;
	state_row r = {0};
	ky_store_value v[] = {ky_sv_int(op->id), ky_sv_int(op->member)};
	rc = ky_store_run(op->s, tx,
			  "SELECT a.state, q.closed_us, q.subject FROM rfi_addressees a JOIN rfis q ON q.id = a.rfi_id"
			  " WHERE a.rfi_id = $1 AND a.member_id = $2",
			  v, 2, state_cell, &r, NULL);
	if (rc == KY_OK && !r.found)
		rc = ky_error_set(KY_ENOTFOUND, "no request for information %lld is addressed to your member", (long long)op->id);
	if (rc == KY_OK && (r.closed || strcmp(r.state, "open") != 0))
		rc = ky_error_set(KY_ECONFLICT, "request for information %lld is %s: it takes no more answers", (long long)op->id,
				  r.closed ? "closed" : "answered already");
	if (rc == KY_OK && op->answer == KY_RFI_ANSWERED)
		rc = own_objects(op, tx);
	if (rc == KY_OK) {
		ky_store_value a[] = {ky_sv_int(op->id), ky_sv_int(op->member), ky_sv_text(ky_rfi_answer_name(op->answer)),
				      op->reason ? ky_sv_text(op->reason) : ky_sv_null(),
				      op->objects ? ky_sv_text(op->objects) : ky_sv_null(), ky_sv_int(ky_clock_now_us())};
		rc = ky_store_run(op->s, tx,
				  "UPDATE rfi_addressees SET state = $3, reason = $4, objects = $5, answered_us = $6"
				  " WHERE rfi_id = $1 AND member_id = $2 AND state = 'open'",
				  a, 6, NULL, NULL, NULL);
	}
	char *detail = rc == KY_OK ? detail_of(json_pack("{s:I,s:s}", "rfi", (json_int_t)op->id, "answer",
						       ky_rfi_answer_name(op->answer)))
				   : NULL;
	if (rc == KY_OK && detail == NULL)
		rc = ky_error_set(KY_ENOMEM, "out of memory");
	int64_t secretariat[1 + KY_STORE_RFI_ADDRESSEES_MAX] = {0};
	if (rc == KY_OK)
		rc = ky_store_run(op->s, tx, "SELECT id FROM members WHERE tier = 'secretariat' ORDER BY id", NULL, 0,
				  secretariat_row, secretariat, NULL);
	for (int64_t i = 0; rc == KY_OK && i < secretariat[0]; i++)
		rc = ky_store_notify_tx(op->s, tx, secretariat[1 + i], "rfi", r.subject, detail);
	char subject[32];
	snprintf(subject, sizeof(subject), "rfi %lld", (long long)op->id);
	if (rc == KY_OK)
		rc = ky_store_change_record(op->s, tx, op->token, 1, op->actor, "rfi.answer", subject, detail, op->reason);
	free(detail);
	return rc;
}

int ky_store_rfi_answer(ky_store *s, int64_t id, int64_t member, ky_rfi_answer answer, const char *reason,
			const char *objects, const ky_store_actor *actor)
{
	answer_op op = {.s = s, .id = id, .member = member, .answer = answer, .reason = reason, .objects = objects,
			.actor = actor};
	int rc = ky_store_change_token(op.token);
	return rc == KY_OK ? ky_store_transact(s, true, answer_body, &op) : rc;
}

static int close_body(ky_store_tx *tx, void *ctx)
{
	answer_op *op = ctx;
	bool done;
	int rc = ky_store_change_committed(op->s, tx, op->token, &done);
	if (rc != KY_OK || done)
		return rc;
	int64_t found = 0;
	ky_store_value v[] = {ky_sv_int(op->id), ky_sv_int(ky_clock_now_us())};
	rc = ky_store_run(op->s, tx, "SELECT COUNT(*) FROM rfis WHERE id = $1", v, 1, ky_store_int_cell, &found, NULL);
	if (rc == KY_OK && found == 0)
		return ky_error_set(KY_ENOTFOUND, "no request for information %lld", (long long)op->id);
	uint64_t changed = 0;
	if (rc == KY_OK)
		rc = ky_store_run(op->s, tx, "UPDATE rfis SET closed_us = $2 WHERE id = $1 AND closed_us IS NULL", v, 2, NULL,
				  NULL, &changed);
	if (rc == KY_OK && changed == 0)
		return ky_error_set(KY_ECONFLICT, "request for information %lld is closed already", (long long)op->id);
	char subject[32];
	snprintf(subject, sizeof(subject), "rfi %lld", (long long)op->id);
	return rc == KY_OK ? ky_store_change_record(op->s, tx, op->token, 1, op->actor, "rfi.close", subject, NULL,
						    op->close_reason)
			   : rc;
}

int ky_store_rfi_close(ky_store *s, int64_t id, const ky_store_actor *actor, const char *reason)
{
	answer_op op = {.s = s, .id = id, .actor = actor, .close_reason = reason};
	int rc = ky_store_change_token(op.token);
	return rc == KY_OK ? ky_store_transact(s, true, close_body, &op) : rc;
}

/* --- listing --------------------------------------------------------------------------------- */

typedef struct rfi_row {
	ky_store_rfi r;
	size_t first, n;                 /* its addressees in the op's array */
} rfi_row;

typedef struct list_op {
	ky_store *s;
	int64_t member, id;
	rfi_row *rows;
	size_t nrows, caprows;
	ky_store_rfi_addressee *addressees;
	size_t naddr, capaddr;
	size_t cursor;                   /* the request the addressee rows are at */
	ky_arena *arena;
} list_op;

static const char *kept(list_op *op, const ky_store_cell *c)
{
	return c->null ? NULL : ky_arena_strndup(op->arena, c->text, c->len);
}

static int rfi_cell(void *ctx, const ky_store_cell *c, int n)
{
	(void)n;
	list_op *op = ctx;
	rfi_row *row = ky_store_row_add(&op->rows, &op->nrows, &op->caprows, sizeof(*op->rows));
	if (row == NULL)
		return KY_ENOMEM;
	row->r.id = ky_store_cell_int(&c[0]);
	row->r.subject = kept(op, &c[1]);
	row->r.question = kept(op, &c[2]);
	row->r.asked_us = ky_store_cell_int(&c[3]);
	row->r.closed_us = c[4].null ? 0 : ky_store_cell_int(&c[4]);
	return row->r.subject && row->r.question ? 0 : KY_ENOMEM;
}

static int addressee_cell(void *ctx, const ky_store_cell *c, int n)
{
	(void)n;
	list_op *op = ctx;
	ky_store_rfi_addressee *a = ky_store_row_add(&op->addressees, &op->naddr, &op->capaddr, sizeof(*op->addressees));
	if (a == NULL)
		return KY_ENOMEM;
	int64_t rfi = ky_store_cell_int(&c[0]);
	a->member = ky_store_cell_int(&c[1]);
	ky_rfi_answer_parse(c[2].text, &a->answer);
	a->reason = kept(op, &c[3]);
	a->objects = kept(op, &c[4]);
	a->answered_us = c[5].null ? 0 : ky_store_cell_int(&c[5]);
	/* Both come by request, newest first: the cursor only moves on. */
	while (op->cursor < op->nrows && op->rows[op->cursor].r.id > rfi)
		op->cursor++;
	if (op->cursor < op->nrows && op->rows[op->cursor].r.id == rfi) {
		rfi_row *r = &op->rows[op->cursor];
		if (r->n++ == 0)
			r->first = op->naddr - 1;
	}
	return 0;
}

static int list_body(ky_store_tx *tx, void *ctx)
{
	list_op *op = ctx;
	op->nrows = op->naddr = op->cursor = 0;
	ky_store_value v[] = {ky_sv_int(op->member), ky_sv_int(op->id)};
	int rc = ky_store_run(op->s, tx,
			      "SELECT q.id, q.subject, q.question, q.asked_us, q.closed_us FROM rfis q"
			      " WHERE ($2 = 0 OR q.id = $2) AND ($1 = 0 OR EXISTS (SELECT 1 FROM rfi_addressees a"
			      "  WHERE a.rfi_id = q.id AND a.member_id = $1))"
			      " ORDER BY q.id DESC",
			      v, 2, rfi_cell, op, NULL);
	if (rc == KY_OK)
		rc = ky_store_run(op->s, tx,
				  "SELECT a.rfi_id, a.member_id, a.state, a.reason, a.objects, a.answered_us FROM rfi_addressees a"
				  " WHERE ($2 = 0 OR a.rfi_id = $2) AND ($1 = 0 OR a.member_id = $1)"
				  " ORDER BY a.rfi_id DESC, a.member_id",
				  v, 2, addressee_cell, op, NULL);
	return rc;
}

int ky_store_rfi_list(ky_store *s, int64_t member, int64_t id, int (*fn)(void *ctx, const ky_store_rfi *r), void *ctx)
{
	list_op op = {.s = s, .member = member, .id = id, .arena = ky_arena_new()};
	if (op.arena == NULL)
		return ky_error_set(KY_ENOMEM, "out of memory");
	int rc = ky_store_transact(s, false, list_body, &op);
	if (rc == KY_ENOMEM)
		ky_error_set(KY_ENOMEM, "out of memory");
	for (size_t i = 0; rc == KY_OK && i < op.nrows; i++) {
		op.rows[i].r.addressees = op.rows[i].n ? &op.addressees[op.rows[i].first] : NULL;
		op.rows[i].r.naddressees = op.rows[i].n;
		int stop = fn(ctx, &op.rows[i].r);
		if (stop != 0) {
			rc = stop < 0 ? stop : KY_OK;
			break;
		}
	}
	free(op.rows);
	free(op.addressees);
	ky_arena_free(op.arena);
	return rc;
}
