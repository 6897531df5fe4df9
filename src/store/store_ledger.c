/*
 * store_ledger: the ledger's counts, one statement per kind of contribution, each written
 * once for both backends, and its settings (store_ledger.h).
 */
#include "store/store_ledger.h"

#include <jansson.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/store_audit.h"
#include "store/store_backend.h"
#include "util/ky_error.h"

/* A report reached its final state in the window. */
#define FINAL_IN_WINDOW " r.state IN ('countermeasure', 'refuted') AND r.state_us >= $1 AND r.state_us <= $2"

/* Feedback counts only when given before its report's final state: agreeing with what the
 * council already decided earns nothing. */
#define FEEDBACK_SQL                                                                                                   \
	"SELECT f.member_id, r.state,"                                                                                 \
	" (SELECT l.opinion FROM feedback l WHERE l.report_id = r.id AND l.member_id = f.member_id"                    \
	"  AND l.opinion IS NOT NULL AND l.at_us <= r.state_us ORDER BY l.vid DESC LIMIT 1),"                        \
	" MAX(CASE WHEN f.type = 'sighting' THEN 1 ELSE 0 END)"                                                        \
	" FROM feedback f JOIN reports r ON r.id = f.report_id"                                                        \
	" WHERE" FINAL_IN_WINDOW " AND r.provider_id <> f.member_id AND f.at_us <= r.state_us"                       \
	" AND ($3 = 0 OR f.member_id = $3)"                       \
	" GROUP BY f.member_id, r.id, r.state, r.state_us"

/* Another member's sighting, or its agreeing opinion, confirms a sighting; the same member
 * through another key is the same member. */
#define SIGHTINGS_SQL                                                                                                  \
	"SELECT s.member_id, COUNT(DISTINCT s.report_id) FROM feedback s JOIN reports r ON r.id = s.report_id"         \
	" WHERE s.type = 'sighting' AND s.member_id <> r.provider_id AND s.at_us >= $1 AND s.at_us <= $2"              \
	" AND ($3 = 0 OR s.member_id = $3)"              \
	" AND EXISTS (SELECT 1 FROM feedback o WHERE o.report_id = s.report_id AND o.member_id <> s.member_id"         \
	"  AND (o.type = 'sighting' OR o.opinion > 0))"                                                                \
	" GROUP BY s.member_id"

/* A course-of-action is its first version's provider's, whoever versioned it later. */
#define COUNTERMEASURES_SQL                                                                                            \
	"SELECT v.provider_id, COUNT(DISTINCT ro.stix_id) FROM report_objects ro JOIN reports r ON r.id = ro.report_id" \
	" JOIN versions v ON v.stix_id = ro.stix_id"                                                                   \
	" WHERE r.state = 'countermeasure' AND r.state_us >= $1 AND r.state_us <= $2"                              \
	" AND substr(ro.stix_id, 1, 18) = 'course-of-action--' AND v.provider_id IS NOT NULL"                          \
	" AND v.vid = (SELECT MIN(first.vid) FROM versions first WHERE first.stix_id = ro.stix_id)"                    \
	" AND ($3 = 0 OR v.provider_id = $3)"                    \
	" GROUP BY v.provider_id"

typedef struct tally {
	ky_store_ledger_counts *rows; /* by member */
	size_t n, cap;
	size_t field;                 /* count_cell's: the offset of the count it adds to */
} tally;

static int by_member(const void *key, const void *row)
{
	int64_t a = *(const int64_t *)key, b = ((const ky_store_ledger_counts *)row)->member;
	return a < b ? -1 : a > b;
}

/* The member's row, made where it belongs in the order; NULL with KY_ENOMEM set. */
static ky_store_ledger_counts *row_of(tally *t, int64_t member)
{
	size_t lo = 0, hi = t->n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = by_member(&member, &t->rows[mid]);
		if (c == 0)
			return &t->rows[mid];
		if (c < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	if (t->n == t->cap) {
		size_t cap = t->cap ? t->cap * 2 : 32;
		ky_store_ledger_counts *grown = realloc(t->rows, cap * sizeof(*grown));
		if (grown == NULL) {
			ky_error_set(KY_ENOMEM, "out of memory");
			return NULL;
		}
		t->rows = grown;
		t->cap = cap;
	}
	memmove(&t->rows[lo + 1], &t->rows[lo], (t->n - lo) * sizeof(*t->rows));
	t->n++;
	t->rows[lo] = (ky_store_ledger_counts){.member = member};
	return &t->rows[lo];
}

static int report_cell(void *ctx, const ky_store_cell *c, int n)
{
	(void)n;
	ky_store_ledger_counts *row = row_of(ctx, ky_store_cell_int(&c[0]));
	if (row == NULL)
		return KY_ENOMEM;
	*(strcmp(c[1].text, "countermeasure") == 0 ? &row->reports_countermeasure : &row->reports_refuted) +=
		ky_store_cell_int(&c[2]);
	return 0;
}

static int feedback_cell(void *ctx, const ky_store_cell *c, int n)
{
	(void)n;
	ky_store_ledger_counts *row = row_of(ctx, ky_store_cell_int(&c[0]));
	if (row == NULL)
		return KY_ENOMEM;
	row->feedback++;
	bool countermeasure = strcmp(c[1].text, "countermeasure") == 0;
	int64_t opinion = c[2].null ? 0 : ky_store_cell_int(&c[2]);
	bool agrees = c[2].null ? ky_store_cell_int(&c[3]) != 0 : opinion > 0;
	bool disagrees = !c[2].null && opinion < 0;
	if (countermeasure ? agrees : disagrees)
		row->feedback_agreed++;
	return 0;
}

/* A (member, count) row added to the field the tally is counting now. */
static int count_cell(void *ctx, const ky_store_cell *c, int n)
{
	(void)n;
	tally *t = ctx;
	ky_store_ledger_counts *row = row_of(t, ky_store_cell_int(&c[0]));
	if (row == NULL)
		return KY_ENOMEM;
	*(int64_t *)((char *)row + t->field) += ky_store_cell_int(&c[1]);
	return 0;
}

typedef struct count_op {
	ky_store *s;
	int64_t since_us, until_us, member;
	tally t;
} count_op;

static int count_body(ky_store_tx *tx, void *ctx)
{
	count_op *op = ctx;
	op->t.n = 0;
	ky_store_value v[] = {ky_sv_int(op->since_us), ky_sv_int(op->until_us), ky_sv_int(op->member)};
	int rc = ky_store_run(op->s, tx,
			      "SELECT r.provider_id, r.state, COUNT(*) FROM reports r WHERE" FINAL_IN_WINDOW
			      " AND ($3 = 0 OR r.provider_id = $3) GROUP BY r.provider_id, r.state",
			      v, 3, report_cell, &op->t, NULL);
	if (rc == KY_OK)
		rc = ky_store_run(op->s, tx, FEEDBACK_SQL, v, 3, feedback_cell, &op->t, NULL);
	op->t.field = offsetof(ky_store_ledger_counts, sightings_confirmed);
	if (rc == KY_OK)
		rc = ky_store_run(op->s, tx, SIGHTINGS_SQL, v, 3, count_cell, &op->t, NULL);
	op->t.field = offsetof(ky_store_ledger_counts, countermeasures);
	if (rc == KY_OK)
		rc = ky_store_run(op->s, tx, COUNTERMEASURES_SQL, v, 3, count_cell, &op->t, NULL);
	return rc;
}

int ky_store_ledger_count(ky_store *s, int64_t since_us, int64_t until_us, int64_t member,
			  ky_store_ledger_counts **out, size_t *n)
{
	count_op op = {.s = s, .since_us = since_us, .until_us = until_us, .member = member};
	int rc = ky_store_transact(s, false, count_body, &op);
	*out = NULL;
	*n = 0;
	if (rc != KY_OK) {
		free(op.t.rows);
		return rc;
	}
	*out = op.t.rows;
	*n = op.t.n;
	return KY_OK;
}

/* --- locked material ----------------------------------------------------------------------- */

typedef struct locked_row {
	int64_t vid, added_us;
	bool report;
} locked_row;

typedef struct locked_op {
	ky_store *s;
	const char *const *keys;
	size_t nkeys;
	int64_t member;
	locked_row *rows;
	size_t n, cap;
} locked_op;

static int locked_cell(void *ctx, const ky_store_cell *c, int n)
{
	(void)n;
	locked_op *op = ctx;
	locked_row *row = ky_store_row_add(&op->rows, &op->n, &op->cap, sizeof(*op->rows));
	if (row == NULL)
		return KY_ENOMEM;
	*row = (locked_row){ky_store_cell_int(&c[0]), ky_store_cell_int(&c[1]), strcmp(c[2].text, "report") == 0};
	return 0;
}

static int locked_body(ky_store_tx *tx, void *ctx)
{
	locked_op *op = ctx;
	op->n = 0;
	int rc = KY_OK;
	/* One index range per key, as a viewer's page is read. Identities are not material: the
	 * pseudonyms that locked material names are stored for its audience too. */
	for (size_t i = 0; rc == KY_OK && i < op->nkeys; i++) {
		ky_store_value v[] = {ky_sv_text(op->keys[i]), ky_sv_int(op->member)};
		rc = ky_store_run(op->s, tx,
				  "SELECT ea.vid, ea.date_added_us, ver.type FROM entry_access ea JOIN versions ver ON ver.vid = ea.vid"
				  " WHERE ea.key = $1 AND ea.latest = 1 AND ver.provider_id <> $2 AND ver.type <> 'identity'",
				  v, 2, locked_cell, op, NULL);
	}
	return rc;
}

static int by_vid(const void *a, const void *b)
{
	int64_t x = ((const locked_row *)a)->vid, y = ((const locked_row *)b)->vid;
	return (x > y) - (x < y);
}

int ky_store_locked_count(ky_store *s, const char *const *keys, size_t nkeys, int64_t member, ky_store_locked *out)
{
	locked_op op = {.s = s, .keys = keys, .nkeys = nkeys, .member = member};
	*out = (ky_store_locked){0};
	int rc = nkeys > 0 ? ky_store_transact(s, false, locked_body, &op) : KY_OK;
	if (rc == KY_OK && op.n > 0)
		qsort(op.rows, op.n, sizeof(*op.rows), by_vid);
	/* A version in several collections, or under several keys, is one. */
	for (size_t i = 0; rc == KY_OK && i < op.n; i++) {
		if (i > 0 && op.rows[i].vid == op.rows[i - 1].vid)
			continue;
		out->objects++;
		out->reports += op.rows[i].report;
		int64_t t = op.rows[i].added_us;
		if (out->oldest_us == 0 || t < out->oldest_us)
			out->oldest_us = t;
		if (t > out->newest_us)
			out->newest_us = t;
	}
	free(op.rows);
	return rc;
}

/* --- reads ----------------------------------------------------------------------------------- */

typedef struct member_reads {
	int64_t member;
	uint64_t reads;
} member_reads;

typedef struct reads_op {
	ky_store *s;
	int64_t since_us, until_us;
	member_reads *rows;
	size_t n, cap;
} reads_op;

static int read_cell(void *ctx, const ky_store_cell *c, int n)
{
	(void)n;
	reads_op *op = ctx;
	int64_t member = ky_store_cell_int(&c[0]);
	uint64_t count = 0, buckets = 0;
	if (!c[1].null)
		ky_store_audit_versions_count(c[1].text, c[1].len, &count, &buckets);
	/* The rows come by member: the last row is this member's, or a new one starts. */
	if (op->n == 0 || op->rows[op->n - 1].member != member) {
		member_reads *row = ky_store_row_add(&op->rows, &op->n, &op->cap, sizeof(*op->rows));
		if (row == NULL)
			return KY_ENOMEM;
		row->member = member;
	}
	op->rows[op->n - 1].reads += count;
	return 0;
}

static int reads_body(ky_store_tx *tx, void *ctx)
{
	reads_op *op = ctx;
	op->n = 0;
	ky_store_value v[] = {ky_sv_int(op->since_us), ky_sv_int(op->until_us)};
	return ky_store_run(op->s, tx,
			    "SELECT member_id, versions FROM audit WHERE action = 'read' AND member_id IS NOT NULL"
			    " AND at_us >= $1 AND at_us <= $2 ORDER BY member_id",
			    v, 2, read_cell, op, NULL);
}

int ky_store_ledger_reads(ky_store *s, int64_t since_us, int64_t until_us,
			  int (*fn)(void *ctx, int64_t member, uint64_t reads), void *ctx)
{
	reads_op op = {.s = s, .since_us = since_us, .until_us = until_us};
	int rc = ky_store_transact(s, false, reads_body, &op);
	for (size_t i = 0; rc == KY_OK && i < op.n; i++) {
		int stop = fn(ctx, op.rows[i].member, op.rows[i].reads);
		if (stop != 0) {
			rc = stop < 0 ? stop : KY_OK;
			break;
		}
	}
	free(op.rows);
	return rc;
}

/* --- settings ------------------------------------------------------------------------------ */

typedef struct setting {
	char name[KY_STORE_NAME_MAX + 1];
	int64_t value;
} setting;

typedef struct setting_rows {
	setting *rows;
	size_t n, cap;
} setting_rows;

static int setting_cell(void *ctx, const ky_store_cell *c, int n)
{
	(void)n;
	setting_rows *r = ctx;
	setting *row = ky_store_row_add(&r->rows, &r->n, &r->cap, sizeof(*r->rows));
	if (row == NULL)
		return KY_ENOMEM;
	snprintf(row->name, sizeof(row->name), "%s", c[0].text);
	row->value = ky_store_cell_int(&c[1]);
	return 0;
}

typedef struct settings_op {
	ky_store *s;
	const char *name;
	int64_t value;
	const ky_store_actor *actor;
	const char *reason;
	char token[37];
	setting_rows rows;
} settings_op;

static int settings_body(ky_store_tx *tx, void *ctx)
{
	settings_op *op = ctx;
	op->rows.n = 0;
	return ky_store_run(op->s, tx, "SELECT name, value FROM contribution_settings ORDER BY name", NULL, 0, setting_cell,
			    &op->rows, NULL);
}

int ky_store_ledger_settings(ky_store *s, int (*fn)(void *ctx, const char *name, int64_t value), void *ctx)
{
	settings_op op = {.s = s};
	int rc = ky_store_transact(s, false, settings_body, &op);
	for (size_t i = 0; rc == KY_OK && i < op.rows.n; i++) {
		int stop = fn(ctx, op.rows.rows[i].name, op.rows.rows[i].value);
		if (stop != 0) {
			rc = stop < 0 ? stop : KY_OK;
			break;
		}
	}
	free(op.rows.rows);
	return rc;
}

static int set_body(ky_store_tx *tx, void *ctx)
{
	settings_op *op = ctx;
	bool done;
	int rc = ky_store_change_committed(op->s, tx, op->token, &done);
	if (rc != KY_OK || done)
		return rc;
	ky_store_value v[] = {ky_sv_text(op->name), ky_sv_int(op->value)};
	rc = ky_store_run(op->s, tx,
			  "INSERT INTO contribution_settings (name, value) VALUES ($1, $2)"
			  " ON CONFLICT (name) DO UPDATE SET value = excluded.value",
			  v, 2, NULL, NULL, NULL);
	json_t *d = json_pack("{s:I}", "value", (json_int_t)op->value);
	char *detail = d ? json_dumps(d, JSON_COMPACT) : NULL;
	json_decref(d);
	if (rc == KY_OK && detail == NULL)
		rc = ky_error_set(KY_ENOMEM, "out of memory");
	if (rc == KY_OK)
		rc = ky_store_change_record(op->s, tx, op->token, 1, op->actor, "contribution.set", op->name, detail,
					    op->reason);
	free(detail);
	return rc;
}

int ky_store_ledger_setting_set(ky_store *s, const char *name, int64_t value, const ky_store_actor *actor,
				const char *reason)
{
	settings_op op = {.s = s, .name = name, .value = value, .actor = actor, .reason = reason};
	int rc = ky_store_change_token(op.token);
	return rc == KY_OK ? ky_store_transact(s, true, set_body, &op) : rc;
}
