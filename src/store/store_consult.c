/*
 * store_consult: confidential consultations (store_consult.h), written once for both backends.
 */
#include "store/store_consult.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/store_audit.h"
#include "store/store_backend.h"
#include "util/ky_arena.h"
#include "util/ky_clock.h"
#include "util/ky_error.h"

/* "consultation N", the subject of its entries in the audit log. */
static void subject_of(int64_t id, char out[48])
{
	snprintf(out, 48, "consultation %lld", (long long)id);
}

/* The scope's filter on a thread `c`, its keys bound from $first on: none for the operator
 * and the secretariat, else one of its keys among the thread's. Into sql (cap bytes). */
static int scope_filter(const ky_store_scope *scope, int first, char *sql, size_t cap, ky_store_value *values)
{
	if (scope == NULL)
		return ky_error_set(KY_EDENIED, "a consultation is read in a viewer's scope");
	sql[0] = '\0';
	if (scope->everything)
		return KY_OK;
	if (scope->nkeys == 0) {
		snprintf(sql, cap, " AND 0 = 1");
		return KY_OK;
	}
	size_t len = (size_t)snprintf(sql, cap, " AND EXISTS (SELECT 1 FROM consultation_keys k WHERE k.consultation_id = c.id"
						" AND k.key IN (");
	for (size_t i = 0; i < scope->nkeys && len < cap; i++) {
		values[i] = ky_sv_text(scope->keys[i]);
		len += (size_t)snprintf(sql + len, cap - len, "%s$%d", i ? ", " : "", first + (int)i);
	}
	if (len < cap)
		len += (size_t)snprintf(sql + len, cap - len, "))");
	return len < cap ? KY_OK : ky_error_set(KY_ETOOBIG, "a scope of %zu keys is too many", scope->nkeys);
}

#define FILTER_MAX (160 + KY_STORE_ACCESS_KEYS_MAX * 8)

/* The members to notify of a message by `author` in thread id: its parties, the
 * secretariat's members and its opener, but the author. */
typedef struct recipients {
	int64_t ids[KY_STORE_CONSULT_PARTIES_MAX + 8];
	size_t n;
} recipients;

static int recipient_row(void *ctx, const ky_store_cell *c, int n)
{
	(void)n;
	recipients *r = ctx;
	if (r->n < sizeof(r->ids) / sizeof(r->ids[0]))
		r->ids[r->n++] = ky_store_cell_int(&c[0]);
	return 0;
}

static int notify_parties(ky_store *s, ky_store_tx *tx, int64_t id, int64_t n, int64_t author)
{
	recipients r = {0};
	ky_store_value v[] = {ky_sv_int(id), ky_sv_int(author)};
	int rc = ky_store_run(s, tx,
			      "SELECT member_id FROM consultation_parties WHERE consultation_id = $1 AND member_id <> $2"
			      " UNION SELECT opener_id FROM consultations WHERE id = $1 AND opener_id <> $2"
			      " UNION SELECT id FROM members WHERE tier = 'secretariat' AND id <> $2",
			      v, 2, recipient_row, &r, NULL);
	char detail[64];
	snprintf(detail, sizeof(detail), "{\"consultation\":%lld,\"message\":%lld}", (long long)id, (long long)n);
	for (size_t i = 0; rc == KY_OK && i < r.n; i++)
		rc = ky_store_notify_tx(s, tx, r.ids[i], "consultation", "", detail);
	return rc;
}

/* The message's entry: which thread, its number and the ids of what it attaches, never its
 * text. */
static char *message_detail(int64_t id, int64_t n, const char *objects)
{
	json_t *d = json_pack("{s:I,s:I}", "consultation", (json_int_t)id, "message", (json_int_t)n);
	json_t *list = objects ? json_loads(objects, 0, NULL) : NULL;
	if (d != NULL && list != NULL) {
		json_t *ids = json_array();
		size_t i;
		json_t *o;
		json_array_foreach(list, i, o)
			json_array_append(ids, json_object_get(o, "id"));
		json_object_set_new(d, "objects", ids ? ids : json_array());
	}
	json_decref(list);
	char *text = d ? json_dumps(d, JSON_COMPACT) : NULL;
	json_decref(d);
	return text;
}

static int insert_message(ky_store *s, ky_store_tx *tx, int64_t id, int64_t n, const ky_store_consult_message *m)
{
	ky_store_value v[] = {ky_sv_int(id), ky_sv_int(n), ky_sv_int(m->member), ky_sv_text(m->text),
			      ky_sv_text(m->objects), ky_sv_int(ky_clock_now_us())};
	return ky_store_run(s, tx,
			    "INSERT INTO consultation_messages (consultation_id, n, member_id, body, objects, posted_us)"
			    " VALUES ($1, $2, $3, $4, $5, $6)",
			    v, 6, NULL, NULL, NULL);
}

/* --- opening ------------------------------------------------------------------------------- */

typedef struct open_op {
	ky_store *s;
	const ky_store_consult *c;
	const char *const *keys;
	size_t nkeys;
	const ky_store_consult_message *first;
	const ky_store_actor *actor;
	char token[37];
	int64_t id;
} open_op;

static int open_body(ky_store_tx *tx, void *ctx)
{
	open_op *op = ctx;
	bool done;
	int rc = ky_store_change_committed(op->s, tx, op->token, &done);
	if (rc != KY_OK)
		return rc;
	if (done) {
		/* Its retry: the thread it opened is the opener's newest. */
		ky_store_value v[] = {ky_sv_int(op->c->opener)};
		return ky_store_run(op->s, tx, "SELECT MAX(id) FROM consultations WHERE opener_id = $1", v, 1, ky_store_int_cell, &op->id,
				    NULL);
	}
	ky_store_value v[] = {ky_sv_text(op->c->subject), ky_sv_int(op->c->opener), ky_sv_int(op->c->named ? 1 : 0),
			      ky_sv_text(op->c->tlp), ky_sv_int(ky_clock_now_us())};
	rc = ky_store_run(op->s, tx,
			  "INSERT INTO consultations (subject, opener_id, named, tlp, opened_us) VALUES ($1, $2, $3, $4, $5)"
			  " RETURNING id",
			  v, 5, ky_store_int_cell, &op->id, NULL);
	for (size_t i = 0; rc == KY_OK && i < op->c->nparties; i++) {
		ky_store_value p[] = {ky_sv_int(op->id), ky_sv_int(op->c->parties[i])};
		rc = ky_store_run(op->s, tx, "INSERT INTO consultation_parties (consultation_id, member_id) VALUES ($1, $2)", p,
				  2, NULL, NULL, NULL);
		if (rc == KY_EEXISTS)
			rc = ky_error_set(KY_EINVALID, "a consultation names each contributor once");
	}
	for (size_t i = 0; rc == KY_OK && i < op->nkeys; i++) {
		ky_store_value k[] = {ky_sv_text(op->keys[i]), ky_sv_int(op->id)};
		rc = ky_store_run(op->s, tx, "INSERT INTO consultation_keys (key, consultation_id) VALUES ($1, $2)", k, 2, NULL,
				  NULL, NULL);
	}
	if (rc == KY_OK)
		rc = insert_message(op->s, tx, op->id, 1, op->first);
	if (rc == KY_OK)
		rc = notify_parties(op->s, tx, op->id, 1, op->c->opener);
	char subject[48], *detail = rc == KY_OK ? message_detail(op->id, 1, op->first->objects) : NULL;
	subject_of(op->id, subject);
	if (rc == KY_OK && detail == NULL)
		rc = ky_error_set(KY_ENOMEM, "out of memory");
	if (rc == KY_OK)
		rc = ky_store_change_record(op->s, tx, op->token, 1, op->actor, "consultation.open", subject, detail, NULL);
	free(detail);
	return rc;
}

int ky_store_consult_open(ky_store *s, const ky_store_consult *c, const char *const *keys, size_t nkeys,
			  const ky_store_consult_message *first, const ky_store_actor *actor, int64_t *id)
{
	if (c->nparties > KY_STORE_CONSULT_PARTIES_MAX)
		return ky_error_set(KY_EINVALID, "a consultation names at most %d contributors", KY_STORE_CONSULT_PARTIES_MAX);
	if (nkeys == 0)
		return ky_error_set(KY_EINVALID, "a consultation is readable by its parties: it needs their keys");
	open_op op = {.s = s, .c = c, .keys = keys, .nkeys = nkeys, .first = first, .actor = actor};
	int rc = ky_store_change_token(op.token);
	if (rc == KY_OK)
		rc = ky_store_transact(s, true, open_body, &op);
	if (rc == KY_OK)
		*id = op.id;
	return rc;
}

/* --- posting and closing ------------------------------------------------------------------- */

typedef struct thread_state {
	bool found, closed, named;
	int64_t opener, messages;
} thread_state;

static int state_cell(void *ctx, const ky_store_cell *c, int n)
{
	(void)n;
	thread_state *t = ctx;
	t->found = true;
	t->closed = !c[0].null;
	t->opener = ky_store_cell_int(&c[1]);
	t->messages = ky_store_cell_int(&c[2]);
	t->named = ky_store_cell_int(&c[3]) != 0;
	return 0;
}

/* The thread as `scope` sees it: found only when the scope reads it. */
static int thread_of(ky_store *s, ky_store_tx *tx, const ky_store_scope *scope, int64_t id, thread_state *out)
{
	ky_store_value v[1 + KY_STORE_ACCESS_KEYS_MAX] = {ky_sv_int(id)};
	char filter[FILTER_MAX], sql[FILTER_MAX + 256];
	int rc = scope_filter(scope, 2, filter, sizeof(filter), v + 1);
	if (rc != KY_OK)
		return rc;
	snprintf(sql, sizeof(sql),
		 "SELECT c.closed_us, c.opener_id, (SELECT COUNT(*) FROM consultation_messages m WHERE m.consultation_id = c.id),"
		 " c.named FROM consultations c WHERE c.id = $1%s",
		 filter);
	*out = (thread_state){0};
	rc = ky_store_run(s, tx, sql, v, 1 + (int)(scope->everything ? 0 : scope->nkeys), state_cell, out, NULL);
	if (rc == KY_OK && !out->found)
		rc = ky_error_set(KY_ENOTFOUND, "no consultation %lld is yours to read", (long long)id);
	return rc;
}

typedef struct post_op {
	ky_store *s;
	const ky_store_scope *scope;
	int64_t id, opener;
	const ky_store_consult_message *m;
	const ky_store_actor *actor;
	const char *reason;
	char token[37];
	int64_t n;
} post_op;

static int post_body(ky_store_tx *tx, void *ctx)
{
	post_op *op = ctx;
	bool done;
	int rc = ky_store_change_committed(op->s, tx, op->token, &done);
	thread_state t;
	if (rc == KY_OK)
		rc = thread_of(op->s, tx, op->scope, op->id, &t);
	if (rc != KY_OK)
		return rc;
	if (done) {
		op->n = t.messages;
		return KY_OK;
	}
	if (t.closed)
		return ky_error_set(KY_ECONFLICT, "consultation %lld is closed: it takes no more messages", (long long)op->id);
	if (op->m->names_author && t.opener == op->m->member && !t.named)
		return ky_error_set(KY_EINVALID,
				    "an attached object's created_by_ref names your member, which consultation %lld keeps from"
				    " the contributors: remove created_by_ref",
				    (long long)op->id);
	op->n = t.messages + 1;
	rc = insert_message(op->s, tx, op->id, op->n, op->m);
	if (rc == KY_OK)
		rc = notify_parties(op->s, tx, op->id, op->n, op->m->member);
	char subject[48], *detail = rc == KY_OK ? message_detail(op->id, op->n, op->m->objects) : NULL;
	subject_of(op->id, subject);
	if (rc == KY_OK && detail == NULL)
		rc = ky_error_set(KY_ENOMEM, "out of memory");
	if (rc == KY_OK)
		rc = ky_store_change_record(op->s, tx, op->token, 1, op->actor, "consultation.post", subject, detail, NULL);
	free(detail);
	return rc;
}

int ky_store_consult_post(ky_store *s, const ky_store_scope *scope, int64_t id, const ky_store_consult_message *m,
			  const ky_store_actor *actor, int64_t *n)
{
	post_op op = {.s = s, .scope = scope, .id = id, .m = m, .actor = actor};
	int rc = ky_store_change_token(op.token);
	if (rc == KY_OK)
		rc = ky_store_transact(s, true, post_body, &op);
	if (rc == KY_OK)
		*n = op.n;
	return rc;
}

static int close_body(ky_store_tx *tx, void *ctx)
{
	post_op *op = ctx;
	bool done;
	int rc = ky_store_change_committed(op->s, tx, op->token, &done);
	thread_state t;
	if (rc == KY_OK && !done)
		rc = thread_of(op->s, tx, op->scope, op->id, &t);
	if (rc != KY_OK || done)
		return rc;
	if (op->opener != 0 && t.opener != op->opener)
		return ky_error_set(KY_EDENIED, "only the member that opened consultation %lld, or the secretariat, closes it",
				    (long long)op->id);
	if (t.closed)
		return ky_error_set(KY_ECONFLICT, "consultation %lld is closed already", (long long)op->id);
	ky_store_value v[] = {ky_sv_int(op->id), ky_sv_int(ky_clock_now_us())};
	rc = ky_store_run(op->s, tx, "UPDATE consultations SET closed_us = $2 WHERE id = $1", v, 2, NULL, NULL, NULL);
	char subject[48];
	subject_of(op->id, subject);
	return rc == KY_OK ? ky_store_change_record(op->s, tx, op->token, 1, op->actor, "consultation.close", subject, NULL,
						    op->reason)
			   : rc;
}

int ky_store_consult_close(ky_store *s, const ky_store_scope *scope, int64_t id, int64_t opener,
			   const ky_store_actor *actor, const char *reason)
{
	post_op op = {.s = s, .scope = scope, .id = id, .opener = opener, .actor = actor, .reason = reason};
	int rc = ky_store_change_token(op.token);
	return rc == KY_OK ? ky_store_transact(s, true, close_body, &op) : rc;
}

/* --- reading ------------------------------------------------------------------------------- */

typedef struct thread_row {
	ky_store_consult c;
	size_t first_party, nparty;
} thread_row;

typedef struct list_op {
	ky_store *s;
	const ky_store_scope *scope;
	int64_t id;
	const ky_store_actor *actor;
	thread_row *rows;
	size_t nrows, caprows;
	int64_t *parties;
	size_t nparties, capparties;
	ky_store_consult_message *messages;
	size_t nmessages, capmessages;
	size_t cursor;
	ky_arena *arena;
} list_op;

static const char *kept(list_op *op, const ky_store_cell *c)
{
	return c->null ? NULL : ky_arena_strndup(op->arena, c->text, c->len);
}

static int thread_cell(void *ctx, const ky_store_cell *c, int n)
{
	(void)n;
	list_op *op = ctx;
	thread_row *row = ky_store_row_add(&op->rows, &op->nrows, &op->caprows, sizeof(*op->rows));
	if (row == NULL)
		return KY_ENOMEM;
	row->c.id = ky_store_cell_int(&c[0]);
	row->c.subject = kept(op, &c[1]);
	row->c.opener = ky_store_cell_int(&c[2]);
	row->c.named = ky_store_cell_int(&c[3]) != 0;
	row->c.tlp = kept(op, &c[4]);
	row->c.opened_us = ky_store_cell_int(&c[5]);
	row->c.closed_us = c[6].null ? 0 : ky_store_cell_int(&c[6]);
	row->c.nmessages = (size_t)ky_store_cell_int(&c[7]);
	row->c.last_us = ky_store_cell_int(&c[8]);
	return row->c.subject && row->c.tlp ? 0 : KY_ENOMEM;
}

/* The row of thread `id`, the cursor moving on only: parties and messages come by thread,
 * newest first, as the threads do. */
static thread_row *row_of(list_op *op, int64_t id)
{
	while (op->cursor < op->nrows && op->rows[op->cursor].c.id > id)
		op->cursor++;
	return op->cursor < op->nrows && op->rows[op->cursor].c.id == id ? &op->rows[op->cursor] : NULL;
}

static int party_cell(void *ctx, const ky_store_cell *c, int n)
{
	(void)n;
	list_op *op = ctx;
	int64_t *p = ky_store_row_add(&op->parties, &op->nparties, &op->capparties, sizeof(*op->parties));
	if (p == NULL)
		return KY_ENOMEM;
	*p = ky_store_cell_int(&c[1]);
	thread_row *r = row_of(op, ky_store_cell_int(&c[0]));
	if (r != NULL && r->nparty++ == 0)
		r->first_party = op->nparties - 1;
	return 0;
}

static int message_cell(void *ctx, const ky_store_cell *c, int n)
{
	(void)n;
	list_op *op = ctx;
	ky_store_consult_message *m = ky_store_row_add(&op->messages, &op->nmessages, &op->capmessages,
						       sizeof(*op->messages));
	if (m == NULL)
		return KY_ENOMEM;
	m->n = ky_store_cell_int(&c[0]);
	m->member = ky_store_cell_int(&c[1]);
	m->text = kept(op, &c[2]);
	m->objects = kept(op, &c[3]);
	m->posted_us = ky_store_cell_int(&c[4]);
	return m->text && (c[3].null || m->objects) ? 0 : KY_ENOMEM;
}

static int list_body(ky_store_tx *tx, void *ctx)
{
	list_op *op = ctx;
	op->nrows = op->nparties = op->nmessages = op->cursor = 0;
	ky_store_value v[1 + KY_STORE_ACCESS_KEYS_MAX] = {ky_sv_int(op->id)};
	char filter[FILTER_MAX], sql[FILTER_MAX + 512];
	int rc = scope_filter(op->scope, 2, filter, sizeof(filter), v + 1);
	int nv = 1 + (int)(op->scope->everything ? 0 : op->scope->nkeys);
	snprintf(sql, sizeof(sql),
		 "SELECT c.id, c.subject, c.opener_id, c.named, c.tlp, c.opened_us, c.closed_us,"
		 " (SELECT COUNT(*) FROM consultation_messages m WHERE m.consultation_id = c.id),"
		 " (SELECT MAX(m.posted_us) FROM consultation_messages m WHERE m.consultation_id = c.id)"
		 " FROM consultations c WHERE ($1 = 0 OR c.id = $1)%s ORDER BY c.id DESC",
		 filter);
	if (rc == KY_OK)
		rc = ky_store_run(op->s, tx, sql, v, nv, thread_cell, op, NULL);
	if (rc == KY_OK && op->id != 0 && op->nrows == 0)
		rc = ky_error_set(KY_ENOTFOUND, "no consultation %lld is yours to read", (long long)op->id);
	snprintf(sql, sizeof(sql),
		 "SELECT p.consultation_id, p.member_id FROM consultation_parties p JOIN consultations c ON c.id = p.consultation_id"
		 " WHERE ($1 = 0 OR c.id = $1)%s ORDER BY p.consultation_id DESC, p.member_id",
		 filter);
	if (rc == KY_OK && op->nrows > 0)
		rc = ky_store_run(op->s, tx, sql, v, nv, party_cell, op, NULL);
	if (rc == KY_OK && op->id != 0) {
		ky_store_value m[] = {ky_sv_int(op->id)};
		rc = ky_store_run(op->s, tx,
				  "SELECT n, member_id, body, objects, posted_us FROM consultation_messages WHERE consultation_id = $1"
				  " ORDER BY n",
				  m, 1, message_cell, op, NULL);
	}
	if (rc != KY_OK)
		return rc;
	/* The read's entry: which threads, and how many messages of the one read whole. */
	json_t *ids = json_array();
	for (size_t i = 0; ids != NULL && i < op->nrows; i++)
		json_array_append_new(ids, json_integer(op->rows[i].c.id));
	json_t *d = ids ? json_pack("{s:o}", "consultations", ids) : NULL;
	if (d != NULL && op->id != 0)
		json_object_set_new(d, "messages", json_integer((json_int_t)op->nmessages));
	char *detail = d ? json_dumps(d, JSON_COMPACT) : NULL, subject[48];
	json_decref(d);
	if (detail == NULL)
		return ky_error_set(KY_ENOMEM, "out of memory");
	subject_of(op->id, subject);
	ky_store_audit_entry e = {.user_id = op->actor->user_id, .member_id = op->actor->member_id,
				  .via = op->actor->via ? op->actor->via : "kyoyu", .origin = op->actor->origin,
				  .action = "consultation.read", .subject = op->id ? subject : "consultations",
				  .detail = detail};
	rc = ky_store_audit_append_tx(op->s, tx, &e);
	free(detail);
	return rc;
}

int ky_store_consult_list(ky_store *s, const ky_store_scope *scope, int64_t id, const ky_store_actor *actor,
			  int (*fn)(void *ctx, const ky_store_consult *c), void *ctx)
{
	if (scope == NULL)
		return ky_error_set(KY_EDENIED, "a consultation is read in a viewer's scope");
	list_op op = {.s = s, .scope = scope, .id = id, .actor = actor, .arena = ky_arena_new()};
	if (op.arena == NULL)
		return ky_error_set(KY_ENOMEM, "out of memory");
	int rc = ky_store_transact(s, true, list_body, &op);
	if (rc == KY_ENOMEM)
		ky_error_set(KY_ENOMEM, "out of memory");
	for (size_t i = 0; rc == KY_OK && i < op.nrows; i++) {
		thread_row *r = &op.rows[i];
		r->c.parties = r->nparty ? &op.parties[r->first_party] : NULL;
		r->c.nparties = r->nparty;
		r->c.messages = id != 0 ? op.messages : NULL;
		int stop = fn(ctx, &r->c);
		if (stop != 0) {
			rc = stop < 0 ? stop : KY_OK;
			break;
		}
	}
	free(op.rows);
	free(op.parties);
	free(op.messages);
	ky_arena_free(op.arena);
	return rc;
}
