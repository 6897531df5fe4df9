/*
 * store_council: the council's records (store_council.h), in SQL both backends run, through
 * the statement interface. Each write is a body run by ky_store_transact(): it checks first,
 * on a retry, whether its own change record is there (the attempt that lost its connection
 * committed), then writes, then records the change in the same transaction.
 *
 * Lists are read whole into memory before the caller's callback sees them (a council has
 * hundreds of members, not millions): a callback then never runs inside a transaction, and
 * a body run again after a lost connection starts from an empty list.
 */
#include "store/store_council.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/store_audit.h"
#include "store/store_backend.h"
#include "store/store_statements.h"
#include "util/ky_clock.h"
#include "util/ky_error.h"
#include "util/ky_uuid.h"

/* --- names ------------------------------------------------------------------------------- */

static const char *const tier_names[] = {"secretariat", "contributor", "general"};
static const char *const role_names[] = {"reader", "analyst", "admin"};

const char *ky_tier_name(ky_tier tier)
{
	return (unsigned)tier < 3 ? tier_names[tier] : "?";
}

const char *ky_role_name(ky_role role)
{
	return (unsigned)role < 3 ? role_names[role] : "?";
}

static bool parse_name(const char *const *names, const char *name, int *out)
{
	for (int i = 0; i < 3; i++)
		if (name != NULL && strcmp(name, names[i]) == 0) {
			*out = i;
			return true;
		}
	return false;
}

bool ky_tier_parse(const char *name, ky_tier *out)
{
	int i;
	if (!parse_name(tier_names, name, &i))
		return false;
	*out = (ky_tier)i;
	return true;
}

bool ky_role_parse(const char *name, ky_role *out)
{
	int i;
	if (!parse_name(role_names, name, &i))
		return false;
	*out = (ky_role)i;
	return true;
}

/* --- small helpers ------------------------------------------------------------------------- */

static void copy_cell(char *out, size_t size, const ky_store_cell *cell)
{
	snprintf(out, size, "%s", cell->text);
}

/* A token for the changes of one write, made before its transaction so that a retry of the
 * body carries the same one. */
int ky_store_change_token(char out[37])
{
	return ky_uuid4(out) == KY_OK ? KY_OK : ky_error_set(KY_ERROR, "no randomness for a change's token");
}

/* Adds a row of `size` bytes, zeroed, to the growing array whose pointer is at rows_field (a
 * T **, copied as bytes: every object pointer has one representation here) with *n rows in
 * room for *cap; returns it, or NULL with KY_ENOMEM set. */
void *ky_store_row_add(void *rows_field, size_t *n, size_t *cap, size_t size)
{
	char *rows;
	memcpy(&rows, rows_field, sizeof(rows));
	if (*n == *cap) {
		size_t grown_cap = *cap ? 2 * *cap : 8;
		char *grown = realloc(rows, grown_cap * size);
		if (grown == NULL) {
			ky_error_set(KY_ENOMEM, "out of memory");
			return NULL;
		}
		rows = grown;
		*cap = grown_cap;
		memcpy(rows_field, &rows, sizeof(rows));
	}
	char *row = rows + (*n)++ * size;
	memset(row, 0, size);
	return row;
}

/* How many of the n rows read for a page of `limit` (0: all) to hand on, and *more (may be
 * NULL): whether rows remain after them. None when the read failed (rc). */
static size_t page_shown(int rc, size_t n, size_t limit, bool *more)
{
	size_t shown = rc != KY_OK ? 0 : limit && n > limit ? limit : n;
	if (more != NULL)
		*more = rc == KY_OK && shown < n;
	return shown;
}

static int row_found(void *ctx, const ky_store_cell *cells, int n)
{
	(void)cells;
	(void)n;
	*(bool *)ctx = true;
	return 1;
}

/* Whether the change of `token` (its first record) was committed: the retry of a write
 * whose first attempt lost its connection after COMMIT. */
int ky_store_change_committed(ky_store *s, ky_store_tx *tx, const char *token, bool *found)
{
	char first[48];
	snprintf(first, sizeof(first), "%s.1", token);
	*found = false;
	if (!tx->retry)
		return KY_OK;
	ky_store_value v[] = {ky_sv_text(first)};
	return ky_store_run(s, tx, "SELECT 1 FROM changes WHERE token = $1", v, 1, row_found, found, NULL);
}

/* Records change number `nth` (from 1) of the write of `token`. */
int ky_store_change_record(ky_store *s, ky_store_tx *tx, const char *token, int nth, const ky_store_actor *actor,
			 const char *action, const char *subject, const char *detail, const char *reason)
{
	char id[48];
	snprintf(id, sizeof(id), "%s.%d", token, nth);
	ky_store_value v[] = {ky_sv_text(id),
			      ky_sv_int(ky_clock_now_us()),
			      actor->user_id ? ky_sv_int(actor->user_id) : ky_sv_null(),
			      actor->member_id ? ky_sv_int(actor->member_id) : ky_sv_null(),
			      ky_sv_text(actor->via ? actor->via : "kyoyu"),
			      ky_sv_text(action),
			      ky_sv_text(subject),
			      ky_sv_text(detail),
			      ky_sv_text(reason ? reason : "")};
	int rc = ky_store_run(s, tx,
			      "INSERT INTO changes (token, at_us, actor_user_id, actor_member_id, via, action, subject, detail,"
			      " reason) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
			      v, 9, NULL, NULL, NULL);
	ky_store_audit_entry e = {.at_us = v[1].i, .user_id = actor->user_id, .member_id = actor->member_id,
				  .via = v[4].text, .origin = actor->origin, .action = action, .subject = subject,
				  .detail = detail};
	return rc == KY_OK ? ky_store_audit_append_tx(s, tx, &e) : rc;
}

/* --- members: reading ------------------------------------------------------------------------ */

#define MEMBER_COLUMNS                                                                           \
	"SELECT m.id, m.name, m.title, m.tier, m.country, m.contact, m.status, m.identity_id, m.created_us" \
	" FROM members m"

/* Members read whole (see the top of the file). */
typedef struct member_rows {
	ky_store_member *rows;
	size_t n, cap;
} member_rows;

static void member_rows_clear(member_rows *r)
{
	free(r->rows);
	*r = (member_rows){0};
}

static int member_row(void *ctx, const ky_store_cell *c, int n)
{
	member_rows *r = ctx;
	if (n < 9)
		return ky_error_set(KY_ERROR, "a member row has %d columns", n);
	ky_store_member *m = ky_store_row_add(&r->rows, &r->n, &r->cap, sizeof(*m));
	if (m == NULL)
		return KY_ENOMEM;
	m->id = ky_store_cell_int(&c[0]);
	copy_cell(m->name, sizeof(m->name), &c[1]);
	copy_cell(m->title, sizeof(m->title), &c[2]);
	if (!ky_tier_parse(c[3].text, &m->tier))
		m->tier = KY_TIER_GENERAL;
	copy_cell(m->country, sizeof(m->country), &c[4]);
	copy_cell(m->contact, sizeof(m->contact), &c[5]);
	m->suspended = strcmp(c[6].text, "suspended") == 0;
	copy_cell(m->identity_id, sizeof(m->identity_id), &c[7]);
	m->created_us = ky_store_cell_int(&c[8]);
	return 0;
}

static int sector_row(void *ctx, const ky_store_cell *c, int n)
{
	(void)n;
	ky_store_member *m = ctx;
	if (m->nsectors < KY_STORE_SECTORS_MAX)
		copy_cell(m->sectors[m->nsectors++], sizeof(m->sectors[0]), &c[0]);
	return 0;
}

/* Reads the members `sql` selects (MEMBER_COLUMNS and a condition on $1, $2, ...) with their
 * sectors into *rows (emptied first). */
static int read_members(ky_store *s, ky_store_tx *tx, const char *sql, const ky_store_value *v, int n,
			member_rows *rows)
{
	member_rows_clear(rows);
	int rc = ky_store_run(s, tx, sql, v, n, member_row, rows, NULL);
	for (size_t i = 0; rc == KY_OK && i < rows->n; i++) {
		ky_store_value id[] = {ky_sv_int(rows->rows[i].id)};
		rc = ky_store_run(s, tx, "SELECT sector FROM member_sectors WHERE member_id = $1 ORDER BY sector", id, 1,
				  sector_row, &rows->rows[i], NULL);
	}
	return rc;
}

/* One member by a condition: KY_ENOTFOUND with `what` when there is none. */
static int read_member(ky_store *s, ky_store_tx *tx, const char *sql, ky_store_value key, const char *what,
		       ky_store_member *out)
{
	member_rows rows = {0};
	int rc = read_members(s, tx, sql, &key, 1, &rows);
	if (rc == KY_OK && rows.n == 0)
		rc = ky_error_set(KY_ENOTFOUND, "there is no member %s in this hub", what);
	if (rc == KY_OK && out != NULL)
		*out = rows.rows[0];
	member_rows_clear(&rows);
	return rc;
}

static int member_named(ky_store *s, ky_store_tx *tx, const char *name, ky_store_member *out)
{
	char what[KY_STORE_NAME_MAX + 3];
	snprintf(what, sizeof(what), "\"%s\"", name);
	return read_member(s, tx, MEMBER_COLUMNS " WHERE m.name = $1", ky_sv_text(name), what, out);
}

typedef struct member_get_op {
	ky_store *s;
	const char *name;
	int64_t id;
	ky_store_member *out;
} member_get_op;

static int member_get_body(ky_store_tx *tx, void *ctx)
{
	member_get_op *op = ctx;
	if (op->name != NULL)
		return member_named(op->s, tx, op->name, op->out);
	char what[32];
	snprintf(what, sizeof(what), "with id %lld", (long long)op->id);
	return read_member(op->s, tx, MEMBER_COLUMNS " WHERE m.id = $1", ky_sv_int(op->id), what, op->out);
}

int ky_store_member_get(ky_store *s, const char *name, ky_store_member *out)
{
	member_get_op op = {s, name, 0, out};
	return ky_store_transact(s, false, member_get_body, &op);
}

int ky_store_member_by_id(ky_store *s, int64_t id, ky_store_member *out)
{
	member_get_op op = {s, NULL, id, out};
	return ky_store_transact(s, false, member_get_body, &op);
}

typedef struct identity_op {
	ky_store *s;
	const char *name;
	char *json;
} identity_op;

static int identity_row(void *ctx, const ky_store_cell *c, int n)
{
	(void)n;
	identity_op *op = ctx;
	op->json = strndup(c[0].text, c[0].len);
	return op->json ? 1 : ky_error_set(KY_ENOMEM, "out of memory");
}

static int identity_body(ky_store_tx *tx, void *ctx)
{
	identity_op *op = ctx;
	free(op->json);
	op->json = NULL;
	ky_store_value v[] = {ky_sv_text(op->name)};
	int rc = ky_store_run(op->s, tx, "SELECT identity FROM members WHERE name = $1", v, 1, identity_row, op, NULL);
	if (rc == KY_OK && op->json == NULL)
		rc = ky_error_set(KY_ENOTFOUND, "there is no member \"%s\" in this hub", op->name);
	return rc;
}

int ky_store_member_identity(ky_store *s, const char *name, char **json)
{
	identity_op op = {s, name, NULL};
	int rc = ky_store_transact(s, false, identity_body, &op);
	if (rc != KY_OK) {
		free(op.json);
		op.json = NULL;
	}
	*json = op.json;
	return rc;
}

/* A page: `limit` rows after `after` and one more, which says whether more follow. */
typedef struct list_op {
	ky_store *s;
	const char *after;
	int64_t filter;      /* a member id, or an id to start after */
	size_t limit;
	member_rows members;
} list_op;

static int member_list_body(ky_store_tx *tx, void *ctx)
{
	list_op *op = ctx;
	ky_store_value v[] = {ky_sv_text(op->after ? op->after : ""), ky_sv_int(op->limit ? (int64_t)op->limit + 1 : INT64_MAX)};
	return read_members(op->s, tx, MEMBER_COLUMNS " WHERE m.name > $1 ORDER BY m.name LIMIT $2",
			    v, 2, &op->members);
}

int ky_store_member_list(ky_store *s, const char *after, size_t limit,
			 int (*fn)(void *ctx, const ky_store_member *m), void *ctx, bool *more)
{
	list_op op = {.s = s, .after = after, .limit = limit};
	int rc = ky_store_transact(s, false, member_list_body, &op);
	size_t shown = page_shown(rc, op.members.n, limit, more);
	for (size_t i = 0; i < shown; i++) {
		int stop = fn(ctx, &op.members.rows[i]);
		if (stop != 0) {
			rc = stop < 0 ? stop : KY_OK;
			break;
		}
	}
	member_rows_clear(&op.members);
	return rc;
}

/* --- sectors ------------------------------------------------------------------------------- */

typedef struct sector_rows {
	char (*rows)[3][KY_STORE_TITLE_MAX + 1];
	size_t n, cap;
} sector_rows;

static int sector_list_row(void *ctx, const ky_store_cell *c, int n)
{
	(void)n;
	sector_rows *r = ctx;
	char(*row)[KY_STORE_TITLE_MAX + 1] = ky_store_row_add(&r->rows, &r->n, &r->cap, sizeof(*r->rows));
	if (row == NULL)
		return KY_ENOMEM;
	for (int i = 0; i < 3; i++)
		copy_cell(row[i], sizeof(row[i]), &c[i]);
	return 0;
}

typedef struct sectors_op {
	ky_store *s;
	sector_rows rows;
} sectors_op;

static int sector_list_body(ky_store_tx *tx, void *ctx)
{
	sectors_op *op = ctx;
	free(op->rows.rows);
	op->rows = (sector_rows){0};
	return ky_store_run(op->s, tx, "SELECT name, stix, title FROM sectors ORDER BY name", NULL, 0, sector_list_row,
			    &op->rows, NULL);
}

int ky_store_sector_list(ky_store *s, int (*fn)(void *ctx, const char *name, const char *stix, const char *title),
			 void *ctx)
{
	sectors_op op = {s, {0}};
	int rc = ky_store_transact(s, false, sector_list_body, &op);
	for (size_t i = 0; rc == KY_OK && i < op.rows.n; i++) {
		int stop = fn(ctx, op.rows.rows[i][0], op.rows.rows[i][1], op.rows.rows[i][2]);
		if (stop != 0) {
			rc = stop < 0 ? stop : KY_OK;
			break;
		}
	}
	free(op.rows.rows);
	return rc;
}

/* --- members: writing ------------------------------------------------------------------------ */

/* The STIX industry sectors of a member's hub sectors, collected for its identity. */
typedef struct stix_sectors {
	json_t *list;
	bool found;
} stix_sectors;

static int stix_sector_row(void *ctx, const ky_store_cell *c, int n)
{
	(void)n;
	stix_sectors *out = ctx;
	out->found = true;
	/* Two hub sectors may stand for one STIX sector; the identity lists it once. */
	size_t i;
	json_t *v;
	json_array_foreach(out->list, i, v)
	{
		if (strcmp(json_string_value(v), c[0].text) == 0)
			return 1;
	}
	return json_array_append_new(out->list, json_string(c[0].text)) == 0 ? 1
									    : ky_error_set(KY_ENOMEM, "out of memory");
}

static int sector_names(void *ctx, const char *name, const char *stix, const char *title)
{
	(void)stix;
	(void)title;
	char *list = ctx;
	size_t used = strlen(list);
	snprintf(list + used, 512 - used, "%s%s", used ? ", " : "", name);
	return 0;
}

/* The identity the hub makes for a member: STIX 2.1 §4.5, with the STIX sectors of its hub
 * sectors (KY_ENOTFOUND "unknown sector" for one the hub does not keep). *out is malloc'd
 * JSON. */
static int member_identity(ky_store *s, ky_store_tx *tx, const ky_store_member *m, const char *identity_id,
			   int64_t now_us, char **out)
{
	char now[32];
	ky_clock_format(now_us, now);
	*out = NULL;
	stix_sectors sectors = {json_array(), false};
	int rc = sectors.list ? KY_OK : ky_error_set(KY_ENOMEM, "out of memory");
	for (size_t i = 0; rc == KY_OK && i < m->nsectors; i++) {
		ky_store_value v[] = {ky_sv_text(m->sectors[i])};
		sectors.found = false;
		rc = ky_store_run(s, tx, "SELECT stix FROM sectors WHERE name = $1", v, 1, stix_sector_row, &sectors, NULL);
		if (rc == KY_OK && !sectors.found)
			rc = ky_error_set(KY_ENOTFOUND, "unknown sector \"%s\"", m->sectors[i]);
	}
	json_t *o = NULL;
	if (rc == KY_OK)
		o = json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:s}", "type", "identity", "spec_version", "2.1", "id", identity_id,
			      "created", now, "modified", now, "name", m->title, "identity_class", "organization");
	if (o != NULL && json_array_size(sectors.list) > 0)
		json_object_set(o, "sectors", sectors.list);
	if (o != NULL && m->contact[0])
		json_object_set_new(o, "contact_information", json_string(m->contact));
	json_decref(sectors.list);
	if (o != NULL)
		*out = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
	json_decref(o);
	if (rc == KY_OK && *out == NULL)
		rc = ky_error_set(KY_ENOMEM, "out of memory");
	return rc;
}

typedef struct member_add_op {
	ky_store *s;
	const ky_store_member *m;
	const ky_store_actor *actor;
	const char *reason;
	char token[37];
	ky_store_member *out;
} member_add_op;

static int insert_member(ky_store *s, ky_store_tx *tx, const ky_store_member *m, int64_t *id)
{
	char uuid[37], identity_id[KY_STORE_IDENTITY_MAX];
	if (ky_uuid4(uuid) != KY_OK)
		return ky_error_set(KY_ERROR, "no randomness for a member's identity id");
	snprintf(identity_id, sizeof(identity_id), "identity--%s", uuid);
	int64_t now = ky_clock_now_us();
	char *identity = NULL;
	int rc = member_identity(s, tx, m, identity_id, now, &identity);
	if (rc != KY_OK)
		return rc;
	ky_store_value v[] = {ky_sv_text(m->name),     ky_sv_text(m->title),
			      ky_sv_text(ky_tier_name(m->tier)), m->country[0] ? ky_sv_text(m->country) : ky_sv_null(),
			      m->contact[0] ? ky_sv_text(m->contact) : ky_sv_null(), ky_sv_text(identity_id),
			      ky_sv_text(identity), ky_sv_int(now)};
	*id = 0;
	rc = ky_store_run(s, tx,
			  "INSERT INTO members (name, title, tier, country, contact, identity_id, identity, created_us)"
			  " VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id",
			  v, 8, NULL, NULL, NULL);
	free(identity);
	if (rc == KY_EEXISTS)
		return ky_error_set(KY_EEXISTS, "a member named \"%s\" exists already", m->name);
	if (rc != KY_OK)
		return rc;
	ky_store_member stored;
	rc = member_named(s, tx, m->name, &stored);
	*id = stored.id;
	for (size_t i = 0; rc == KY_OK && i < m->nsectors; i++) {
		ky_store_value sv[] = {ky_sv_int(*id), ky_sv_text(m->sectors[i])};
		rc = ky_store_run(s, tx,
				  "INSERT INTO member_sectors (member_id, sector) VALUES ($1, $2) ON CONFLICT DO NOTHING", sv,
				  2, NULL, NULL, NULL);
	}
	return rc;
}

/* A change's detail: a JSON object of the fields changed, compact. malloc'd. */
static char *detail_of(json_t *o)
{
	char *text = o ? json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
	json_decref(o);
	return text;
}

static int member_add_body(ky_store_tx *tx, void *ctx)
{
	member_add_op *op = ctx;
	bool done;
	int rc = ky_store_change_committed(op->s, tx, op->token, &done);
	if (rc == KY_OK && !done) {
		int64_t id;
		rc = insert_member(op->s, tx, op->m, &id);
		json_t *sectors = json_array();
		for (size_t i = 0; rc == KY_OK && i < op->m->nsectors; i++)
			json_array_append_new(sectors, json_string(op->m->sectors[i]));
		char *detail = rc == KY_OK ? detail_of(json_pack("{s:s,s:o}", "tier", ky_tier_name(op->m->tier), "sectors",
								 sectors))
					   : (json_decref(sectors), NULL);
		if (rc == KY_OK)
			rc = ky_store_change_record(op->s, tx, op->token, 1, op->actor, "member.add", op->m->name, detail, op->reason);
		free(detail);
	}
	if (rc == KY_OK)
		rc = member_named(op->s, tx, op->m->name, op->out);
	return rc;
}

int ky_store_member_add(ky_store *s, const ky_store_member *m, const ky_store_actor *actor, const char *reason,
			ky_store_member *out)
{
	ky_store_member unused;
	member_add_op op = {s, m, actor, reason, {0}, out ? out : &unused};
	if (m->nsectors > KY_STORE_SECTORS_MAX)
		return ky_error_set(KY_ETOOBIG, "a member has at most %d sectors", KY_STORE_SECTORS_MAX);
	int rc = ky_store_change_token(op.token);
	if (rc == KY_OK)
		rc = ky_store_transact(s, true, member_add_body, &op);
	if (rc == KY_ENOTFOUND && strncmp(ky_error_last(), "unknown sector", 14) == 0) {
		char message[256], known[512] = "";
		snprintf(message, sizeof(message), "%s", ky_error_last());
		ky_store_sector_list(s, sector_names, known);
		rc = ky_error_set(KY_ENOTFOUND, "%s (this hub keeps: %s)", message, known);
	}
	return rc;
}

typedef struct member_set_op {
	ky_store *s;
	const char *name;
	const ky_tier *tier;
	const bool *suspended;
	const ky_store_actor *actor;
	const char *reason;
	char token[37];
	ky_store_member *out;
} member_set_op;

typedef struct count_op {
	int64_t n;
} count_op;

static int count_row(void *ctx, const ky_store_cell *c, int n)
{
	(void)n;
	((count_op *)ctx)->n = ky_store_cell_int(&c[0]);
	return 1;
}

static int member_set_body(ky_store_tx *tx, void *ctx)
{
	member_set_op *op = ctx;
	bool done;
	ky_store_member before;
	int rc = ky_store_change_committed(op->s, tx, op->token, &done);
	if (rc == KY_OK && !done)
		rc = member_named(op->s, tx, op->name, &before);
	if (rc != KY_OK || done)
		return rc != KY_OK ? rc : member_named(op->s, tx, op->name, op->out);
	bool new_tier = op->tier && *op->tier != before.tier;
	bool new_status = op->suspended && *op->suspended != before.suspended;
	bool leaves = before.tier == KY_TIER_SECRETARIAT && !before.suspended && (new_tier || (new_status && *op->suspended));
	if (leaves) {
		count_op others = {0};
		ky_store_value v[] = {ky_sv_int(before.id)};
		rc = ky_store_run(op->s, tx,
				  "SELECT count(*) FROM members WHERE tier = 'secretariat' AND status = 'active' AND id <> $1", v,
				  1, count_row, &others, NULL);
		if (rc == KY_OK && others.n == 0)
			return ky_error_set(KY_ECONFLICT,
					    "member \"%s\" is the hub's last active secretariat member: add or resume another "
					    "secretariat member first",
					    op->name);
	}
	int nth = 0;
	if (rc == KY_OK && new_tier) {
		ky_store_value v[] = {ky_sv_text(ky_tier_name(*op->tier)), ky_sv_int(before.id)};
		rc = ky_store_run(op->s, tx, "UPDATE members SET tier = $1 WHERE id = $2", v, 2, NULL, NULL, NULL);
		char *detail = detail_of(json_pack("{s:s,s:s}", "from", ky_tier_name(before.tier), "to", ky_tier_name(*op->tier)));
		if (rc == KY_OK)
			rc = ky_store_change_record(op->s, tx, op->token, ++nth, op->actor, "member.set-tier", op->name, detail, op->reason);
		free(detail);
	}
	if (rc == KY_OK && new_status) {
		ky_store_value v[] = {ky_sv_text(*op->suspended ? "suspended" : "active"), ky_sv_int(before.id)};
		rc = ky_store_run(op->s, tx, "UPDATE members SET status = $1 WHERE id = $2", v, 2, NULL, NULL, NULL);
		if (rc == KY_OK)
			rc = ky_store_change_record(op->s, tx, op->token, ++nth, op->actor,
					   *op->suspended ? "member.suspend" : "member.resume", op->name, NULL, op->reason);
	}
	if (rc == KY_OK)
		rc = member_named(op->s, tx, op->name, op->out);
	return rc;
}

int ky_store_member_set(ky_store *s, const char *name, const ky_tier *tier, const bool *suspended,
			const ky_store_actor *actor, const char *reason, ky_store_member *out)
{
	ky_store_member unused;
	member_set_op op = {s, name, tier, suspended, actor, reason, {0}, out ? out : &unused};
	int rc = ky_store_change_token(op.token);
	return rc == KY_OK ? ky_store_transact(s, true, member_set_body, &op) : rc;
}

/* --- users --------------------------------------------------------------------------------- */

#define USER_COLUMNS                                                                             \
	"SELECT u.id, u.name, u.member_id, m.name, m.tier, u.role, u.disabled_us, u.created_us,"   \
	" (SELECT max(a.version) FROM rule_acceptances a WHERE a.user_id = u.id)"                \
	" FROM users u JOIN members m ON m.id = u.member_id"

typedef struct user_rows {
	ky_store_user *rows;
	size_t n, cap;
} user_rows;

static void user_rows_clear(user_rows *r)
{
	free(r->rows);
	*r = (user_rows){0};
}

static int user_row(void *ctx, const ky_store_cell *c, int n)
{
	user_rows *r = ctx;
	if (n < 9)
		return ky_error_set(KY_ERROR, "a user row has %d columns", n);
	ky_store_user *u = ky_store_row_add(&r->rows, &r->n, &r->cap, sizeof(*u));
	if (u == NULL)
		return KY_ENOMEM;
	u->id = ky_store_cell_int(&c[0]);
	copy_cell(u->name, sizeof(u->name), &c[1]);
	u->member_id = ky_store_cell_int(&c[2]);
	copy_cell(u->member, sizeof(u->member), &c[3]);
	if (!ky_tier_parse(c[4].text, &u->tier))
		u->tier = KY_TIER_GENERAL;
	if (!ky_role_parse(c[5].text, &u->role))
		u->role = KY_ROLE_READER;
	u->disabled = !c[6].null;
	u->created_us = ky_store_cell_int(&c[7]);
	u->rules_accepted = ky_store_cell_int(&c[8]);
	return 0;
}

static int user_named(ky_store *s, ky_store_tx *tx, const char *name, ky_store_user *out)
{
	user_rows rows = {0};
	ky_store_value v[] = {ky_sv_text(name)};
	int rc = ky_store_run(s, tx, USER_COLUMNS " WHERE u.name = $1", v, 1, user_row, &rows, NULL);
	if (rc == KY_OK && rows.n == 0)
		rc = ky_error_set(KY_ENOTFOUND, "there is no user \"%s\" in this hub", name);
	if (rc == KY_OK && out != NULL)
		*out = rows.rows[0];
	user_rows_clear(&rows);
	return rc;
}

typedef struct user_get_op {
	ky_store *s;
	const char *name;
	ky_store_user *out;
} user_get_op;

static int user_get_body(ky_store_tx *tx, void *ctx)
{
	user_get_op *op = ctx;
	return user_named(op->s, tx, op->name, op->out);
}

int ky_store_user_get(ky_store *s, const char *name, ky_store_user *out)
{
	user_get_op op = {s, name, out};
	return ky_store_transact(s, false, user_get_body, &op);
}

typedef struct user_id_op {
	ky_store *s;
	int64_t id;
	ky_store_user *out;
} user_id_op;

static int user_id_body(ky_store_tx *tx, void *ctx)
{
	user_id_op *op = ctx;
	user_rows rows = {0};
	ky_store_value v[] = {ky_sv_int(op->id)};
	int rc = ky_store_run(op->s, tx, USER_COLUMNS " WHERE u.id = $1", v, 1, user_row, &rows, NULL);
	if (rc == KY_OK && rows.n == 0)
		rc = ky_error_set(KY_ENOTFOUND, "there is no user %lld in this hub", (long long)op->id);
	if (rc == KY_OK)
		*op->out = rows.rows[0];
	user_rows_clear(&rows);
	return rc;
}

int ky_store_user_by_id(ky_store *s, int64_t id, ky_store_user *out)
{
	user_id_op op = {s, id, out};
	return ky_store_transact(s, false, user_id_body, &op);
}

/* The rules version in force (0: none) into *version. */
static int rules_version(ky_store *s, ky_store_tx *tx, int64_t *version)
{
	count_op c = {0};
	int rc = ky_store_run(s, tx, "SELECT coalesce(max(version), 0) FROM rules", NULL, 0, count_row, &c, NULL);
	*version = c.n;
	return rc;
}

static int accept_rules(ky_store *s, ky_store_tx *tx, int64_t user_id, int64_t version, int64_t now)
{
	ky_store_value v[] = {ky_sv_int(user_id), ky_sv_int(version), ky_sv_int(now)};
	return ky_store_run(s, tx,
			    "INSERT INTO rule_acceptances (user_id, version, accepted_us) VALUES ($1, $2, $3)"
			    " ON CONFLICT DO NOTHING",
			    v, 3, NULL, NULL, NULL);
}

/* Inserts user `name` into member member_id, its acceptance of the rules in force too when
 * accepts_rules, and records the change. */
static int insert_user(ky_store *s, ky_store_tx *tx, const char *token, const char *name, const ky_store_member *m,
		       ky_role role, bool accepts_rules, const ky_store_actor *actor, const char *reason)
{
	int64_t now = ky_clock_now_us();
	ky_store_value v[] = {ky_sv_text(name), ky_sv_int(m->id), ky_sv_text(ky_role_name(role)), ky_sv_int(now)};
	int rc = ky_store_run(s, tx, "INSERT INTO users (name, member_id, role, created_us) VALUES ($1, $2, $3, $4)", v, 4,
			      NULL, NULL, NULL);
	if (rc == KY_EEXISTS)
		return ky_error_set(KY_EEXISTS, "a user named \"%s\" exists already", name);
	ky_store_user u;
	if (rc == KY_OK)
		rc = user_named(s, tx, name, &u);
	int64_t version = 0;
	if (rc == KY_OK && accepts_rules)
		rc = rules_version(s, tx, &version);
	if (rc == KY_OK && version > 0)
		rc = accept_rules(s, tx, u.id, version, now);
	char *detail = detail_of(json_pack("{s:s,s:s}", "member", m->name, "role", ky_role_name(role)));
	if (rc == KY_OK)
		rc = ky_store_change_record(s, tx, token, 1, actor, "user.add", name, detail, reason);
	free(detail);
	return rc;
}

typedef struct user_add_op {
	ky_store *s;
	const char *name, *member;
	ky_role role;
	bool accepts_rules;
	bool ensure;            /* ky_store_user_ensure(): find, or add to the secretariat */
	const ky_store_actor *actor;
	const char *reason;
	char token[37];
	ky_store_user *out;
} user_add_op;

static int first_secretariat(ky_store *s, ky_store_tx *tx, ky_store_member *out)
{
	return read_member(s, tx, MEMBER_COLUMNS " WHERE m.tier = $1 ORDER BY m.id LIMIT 1", ky_sv_text("secretariat"),
			   "of tier secretariat", out);
}

static int ensure_secretariat(ky_store *s, ky_store_tx *tx, const char *token, const ky_store_actor *actor,
			      ky_store_member *out);

static int user_add_body(ky_store_tx *tx, void *ctx)
{
	user_add_op *op = ctx;
	bool done;
	int rc = ky_store_change_committed(op->s, tx, op->token, &done);
	if (rc == KY_OK && done) {
		/* The attempt that lost its connection made the user. */
		rc = user_named(op->s, tx, op->name, op->out);
		op->out->created = rc == KY_OK;
		return rc;
	}
	if (rc != KY_OK)
		return rc;
	if (op->ensure) {
		rc = user_named(op->s, tx, op->name, op->out);
		if (rc != KY_ENOTFOUND)
			return rc;
	}
	ky_store_member m;
	char member_token[40];
	snprintf(member_token, sizeof(member_token), "%.36s-s", op->token);
	rc = op->ensure ? ensure_secretariat(op->s, tx, member_token, op->actor, &m) : member_named(op->s, tx, op->member, &m);
	if (rc == KY_OK)
		rc = insert_user(op->s, tx, op->token, op->name, &m, op->role, op->accepts_rules, op->actor, op->reason);
	if (rc == KY_OK)
		rc = user_named(op->s, tx, op->name, op->out);
	op->out->created = rc == KY_OK;
	return rc;
}

int ky_store_user_add(ky_store *s, const char *name, const char *member, ky_role role, bool accepts_rules,
		      const ky_store_actor *actor, const char *reason, ky_store_user *out)
{
	ky_store_user unused;
	user_add_op op = {s, name, member, role, accepts_rules, false, actor, reason, {0}, out ? out : &unused};
	int rc = ky_store_change_token(op.token);
	return rc == KY_OK ? ky_store_transact(s, true, user_add_body, &op) : rc;
}

int ky_store_user_ensure(ky_store *s, const char *name, const ky_store_actor *actor, const char *reason,
			 ky_store_user *out)
{
	size_t len = strlen(name);
	if (len == 0 || len > KY_STORE_USER_MAX)
		return ky_error_set(KY_EINVALID, "a user name has 1 to %d bytes", KY_STORE_USER_MAX);
	ky_store_user unused;
	user_add_op op = {s, name, NULL, KY_ROLE_ADMIN, true, true, actor, reason, {0}, out ? out : &unused};
	int rc = ky_store_change_token(op.token);
	return rc == KY_OK ? ky_store_transact(s, true, user_add_body, &op) : rc;
}

typedef struct user_list_op {
	ky_store *s;
	int64_t member_id;
	const char *after;
	size_t limit;
	user_rows rows;
} user_list_op;

static int user_list_body(ky_store_tx *tx, void *ctx)
{
	user_list_op *op = ctx;
	user_rows_clear(&op->rows);
	ky_store_value v[] = {ky_sv_text(op->after ? op->after : ""), ky_sv_int(op->member_id),
			      ky_sv_int(op->limit ? (int64_t)op->limit + 1 : INT64_MAX)};
	return ky_store_run(op->s, tx,
			    USER_COLUMNS " WHERE u.name > $1 AND (u.member_id = $2 OR $2 = 0) ORDER BY u.name"
					 " LIMIT $3",
			    v, 3, user_row, &op->rows, NULL);
}

int ky_store_user_list(ky_store *s, int64_t member_id, const char *after, size_t limit,
		       int (*fn)(void *ctx, const ky_store_user *u), void *ctx, bool *more)
{
	user_list_op op = {.s = s, .member_id = member_id, .after = after, .limit = limit};
	int rc = ky_store_transact(s, false, user_list_body, &op);
	size_t shown = page_shown(rc, op.rows.n, limit, more);
	for (size_t i = 0; i < shown; i++) {
		int stop = fn(ctx, &op.rows.rows[i]);
		if (stop != 0) {
			rc = stop < 0 ? stop : KY_OK;
			break;
		}
	}
	user_rows_clear(&op.rows);
	return rc;
}

typedef struct user_set_op {
	ky_store *s;
	const char *name;
	const ky_role *role;
	bool disable;
	const ky_store_actor *actor;
	const char *reason;
	char token[37];
	ky_store_user *out;
} user_set_op;

static int user_set_body(ky_store_tx *tx, void *ctx)
{
	user_set_op *op = ctx;
	bool done;
	ky_store_user before;
	int rc = ky_store_change_committed(op->s, tx, op->token, &done);
	if (rc == KY_OK && !done)
		rc = user_named(op->s, tx, op->name, &before);
	if (rc != KY_OK || done)
		return rc != KY_OK ? rc : user_named(op->s, tx, op->name, op->out);
	int nth = 0;
	if (op->role && *op->role != before.role) {
		ky_store_value v[] = {ky_sv_text(ky_role_name(*op->role)), ky_sv_int(before.id)};
		rc = ky_store_run(op->s, tx, "UPDATE users SET role = $1 WHERE id = $2", v, 2, NULL, NULL, NULL);
		char *detail = detail_of(json_pack("{s:s,s:s}", "from", ky_role_name(before.role), "to", ky_role_name(*op->role)));
		if (rc == KY_OK)
			rc = ky_store_change_record(op->s, tx, op->token, ++nth, op->actor, "user.set-role", op->name, detail, op->reason);
		free(detail);
	}
	if (rc == KY_OK && op->disable && !before.disabled) {
		ky_store_value v[] = {ky_sv_int(ky_clock_now_us()), ky_sv_int(before.id)};
		rc = ky_store_run(op->s, tx, "UPDATE users SET disabled_us = $1 WHERE id = $2", v, 2, NULL, NULL, NULL);
		if (rc == KY_OK)
			rc = ky_store_change_record(op->s, tx, op->token, ++nth, op->actor, "user.disable", op->name, NULL, op->reason);
	}
	if (rc == KY_OK)
		rc = user_named(op->s, tx, op->name, op->out);
	return rc;
}

int ky_store_user_set(ky_store *s, const char *name, const ky_role *role, bool disable, const ky_store_actor *actor,
		      const char *reason, ky_store_user *out)
{
	ky_store_user unused;
	user_set_op op = {s, name, role, disable, actor, reason, {0}, out ? out : &unused};
	int rc = ky_store_change_token(op.token);
	return rc == KY_OK ? ky_store_transact(s, true, user_set_body, &op) : rc;
}

typedef struct user_count_op {
	ky_store *s;
	count_op count;
} user_count_op;

static int user_count_body(ky_store_tx *tx, void *ctx)
{
	user_count_op *op = ctx;
	return ky_store_run(op->s, tx, "SELECT count(*) FROM users", NULL, 0, count_row, &op->count, NULL);
}

int ky_store_user_count(ky_store *s, uint64_t *out)
{
	user_count_op op = {s, {0}};
	int rc = ky_store_transact(s, false, user_count_body, &op);
	*out = (uint64_t)op.count.n;
	return rc;
}

/* --- the secretariat ------------------------------------------------------------------------ */

static int ensure_secretariat(ky_store *s, ky_store_tx *tx, const char *token, const ky_store_actor *actor,
			      ky_store_member *out)
{
	int rc = first_secretariat(s, tx, out);
	if (rc == KY_ENOTFOUND) {
		ky_store_member m = {.tier = KY_TIER_SECRETARIAT};
		snprintf(m.name, sizeof(m.name), "secretariat");
		snprintf(m.title, sizeof(m.title), "Secretariat");
		int64_t id;
		rc = insert_member(s, tx, &m, &id);
		if (rc == KY_OK)
			rc = ky_store_change_record(s, tx, token, 1, actor, "member.add", m.name, "{\"tier\":\"secretariat\"}",
					   "the hub's secretariat, made with the hub");
		if (rc == KY_OK)
			rc = first_secretariat(s, tx, out);
	}
	return rc;
}

typedef struct secretariat_op {
	ky_store *s;
	const ky_store_actor *actor;
	char token[37];
	ky_store_member *out;
} secretariat_op;

static int secretariat_body(ky_store_tx *tx, void *ctx)
{
	secretariat_op *op = ctx;
	bool done;
	int rc = ky_store_change_committed(op->s, tx, op->token, &done);
	if (rc == KY_OK)
		rc = done ? first_secretariat(op->s, tx, op->out) : ensure_secretariat(op->s, tx, op->token, op->actor, op->out);
	uint64_t given = 0;
	ky_store_value v[] = {ky_sv_int(op->out->id)};
	if (rc == KY_OK)
		rc = ky_store_run(op->s, tx, "UPDATE users SET member_id = $1, role = 'admin' WHERE member_id IS NULL", v, 1,
				  NULL, NULL, &given);
	if (rc == KY_OK && given > 0) {
		char detail[64];
		snprintf(detail, sizeof(detail), "{\"users\":%llu}", (unsigned long long)given);
		char migrated[48];
		snprintf(migrated, sizeof(migrated), "%.36s-u", op->token);
		rc = ky_store_change_record(op->s, tx, migrated, 1, op->actor, "member.adopt-users", op->out->name, detail,
				   "users of a hub from before members become secretariat admins");
	}
	return rc;
}

int ky_store_secretariat_ensure(ky_store *s, const ky_store_actor *actor, ky_store_member *out)
{
	ky_store_member unused;
	secretariat_op op = {s, actor, {0}, out ? out : &unused};
	int rc = ky_store_change_token(op.token);
	return rc == KY_OK ? ky_store_transact(s, true, secretariat_body, &op) : rc;
}

/* --- groups -------------------------------------------------------------------------------- */

typedef struct group_rows {
	ky_store_group *rows;
	size_t n, cap;
} group_rows;

static int group_row(void *ctx, const ky_store_cell *c, int n)
{
	(void)n;
	group_rows *r = ctx;
	ky_store_group *g = ky_store_row_add(&r->rows, &r->n, &r->cap, sizeof(*g));
	if (g == NULL)
		return KY_ENOMEM;
	g->id = ky_store_cell_int(&c[0]);
	copy_cell(g->name, sizeof(g->name), &c[1]);
	g->created_us = ky_store_cell_int(&c[2]);
	return 0;
}

static int group_named(ky_store *s, ky_store_tx *tx, const char *name, ky_store_group *out)
{
	group_rows rows = {0};
	ky_store_value v[] = {ky_sv_text(name)};
	int rc = ky_store_run(s, tx, "SELECT id, name, created_us FROM groups WHERE name = $1", v, 1, group_row, &rows, NULL);
	if (rc == KY_OK && rows.n == 0)
		rc = ky_error_set(KY_ENOTFOUND, "there is no group \"%s\" in this hub", name);
	if (rc == KY_OK && out != NULL)
		*out = rows.rows[0];
	free(rows.rows);
	return rc;
}

typedef struct group_op {
	ky_store *s;
	const char *name, *member;
	bool add;
	const ky_store_actor *actor;
	const char *reason;
	char token[37];
	ky_store_group *out;
	bool changed;
} group_op;

static int group_create_body(ky_store_tx *tx, void *ctx)
{
	group_op *op = ctx;
	bool done;
	int rc = ky_store_change_committed(op->s, tx, op->token, &done);
	if (rc == KY_OK && !done) {
		ky_store_value v[] = {ky_sv_text(op->name), ky_sv_int(ky_clock_now_us())};
		rc = ky_store_run(op->s, tx, "INSERT INTO groups (name, created_us) VALUES ($1, $2)", v, 2, NULL, NULL, NULL);
		if (rc == KY_EEXISTS)
			rc = ky_error_set(KY_EEXISTS, "a group named \"%s\" exists already", op->name);
		if (rc == KY_OK)
			rc = ky_store_change_record(op->s, tx, op->token, 1, op->actor, "group.create", op->name, NULL, op->reason);
	}
	return rc == KY_OK ? group_named(op->s, tx, op->name, op->out) : rc;
}

int ky_store_group_create(ky_store *s, const char *name, const ky_store_actor *actor, const char *reason,
			  ky_store_group *out)
{
	ky_store_group unused;
	group_op op = {.s = s, .name = name, .actor = actor, .reason = reason, .out = out ? out : &unused};
	int rc = ky_store_change_token(op.token);
	return rc == KY_OK ? ky_store_transact(s, true, group_create_body, &op) : rc;
}

static int group_get_body(ky_store_tx *tx, void *ctx)
{
	group_op *op = ctx;
	return group_named(op->s, tx, op->name, op->out);
}

int ky_store_group_get(ky_store *s, const char *name, ky_store_group *out)
{
	group_op op = {.s = s, .name = name, .out = out};
	return ky_store_transact(s, false, group_get_body, &op);
}

typedef struct group_list_op {
	ky_store *s;
	int64_t member_id;
	const char *after;
	size_t limit;
	group_rows rows;
} group_list_op;

static int group_list_body(ky_store_tx *tx, void *ctx)
{
	group_list_op *op = ctx;
	free(op->rows.rows);
	op->rows = (group_rows){0};
	ky_store_value v[] = {ky_sv_text(op->after ? op->after : ""), ky_sv_int(op->member_id),
			      ky_sv_int(op->limit ? (int64_t)op->limit + 1 : INT64_MAX)};
	return ky_store_run(op->s, tx,
			    "SELECT g.id, g.name, g.created_us FROM groups g WHERE g.name > $1 AND (EXISTS"
			    " (SELECT 1 FROM group_members gm WHERE gm.group_id = g.id AND gm.member_id = $2) OR $2 = 0)"
			    " ORDER BY g.name LIMIT $3",
			    v, 3, group_row, &op->rows, NULL);
}

int ky_store_group_list(ky_store *s, int64_t member_id, const char *after, size_t limit,
			int (*fn)(void *ctx, const ky_store_group *g), void *ctx, bool *more)
{
	group_list_op op = {.s = s, .member_id = member_id, .after = after, .limit = limit};
	int rc = ky_store_transact(s, false, group_list_body, &op);
	size_t shown = page_shown(rc, op.rows.n, limit, more);
	for (size_t i = 0; i < shown; i++) {
		int stop = fn(ctx, &op.rows.rows[i]);
		if (stop != 0) {
			rc = stop < 0 ? stop : KY_OK;
			break;
		}
	}
	free(op.rows.rows);
	return rc;
}

typedef struct name_rows {
	char (*rows)[KY_STORE_NAME_MAX + 1];
	size_t n, cap;
} name_rows;

static int name_row(void *ctx, const ky_store_cell *c, int n)
{
	(void)n;
	name_rows *r = ctx;
	char *row = ky_store_row_add(&r->rows, &r->n, &r->cap, sizeof(*r->rows));
	if (row == NULL)
		return KY_ENOMEM;
	copy_cell(row, sizeof(*r->rows), &c[0]);
	return 0;
}

typedef struct group_members_op {
	ky_store *s;
	int64_t group_id;
	name_rows rows;
} group_members_op;

static int group_members_body(ky_store_tx *tx, void *ctx)
{
	group_members_op *op = ctx;
	free(op->rows.rows);
	op->rows = (name_rows){0};
	ky_store_value v[] = {ky_sv_int(op->group_id)};
	return ky_store_run(op->s, tx,
			    "SELECT m.name FROM group_members gm JOIN members m ON m.id = gm.member_id WHERE gm.group_id = $1"
			    " ORDER BY m.name",
			    v, 1, name_row, &op->rows, NULL);
}

int ky_store_group_members(ky_store *s, int64_t group_id, int (*fn)(void *ctx, const char *member), void *ctx)
{
	group_members_op op = {s, group_id, {0}};
	int rc = ky_store_transact(s, false, group_members_body, &op);
	for (size_t i = 0; rc == KY_OK && i < op.rows.n; i++) {
		int stop = fn(ctx, op.rows.rows[i]);
		if (stop != 0) {
			rc = stop < 0 ? stop : KY_OK;
			break;
		}
	}
	free(op.rows.rows);
	return rc;
}

static int group_member_body(ky_store_tx *tx, void *ctx)
{
	group_op *op = ctx;
	bool done;
	ky_store_group g = {0};
	ky_store_member m = {0};
	int rc = ky_store_change_committed(op->s, tx, op->token, &done);
	if (rc != KY_OK || done) {
		op->changed = done;
		return rc;
	}
	rc = group_named(op->s, tx, op->name, &g);
	if (rc == KY_OK)
		rc = member_named(op->s, tx, op->member, &m);
	uint64_t touched = 0;
	ky_store_value v[] = {ky_sv_int(g.id), ky_sv_int(m.id)};
	if (rc == KY_OK)
		rc = ky_store_run(op->s, tx,
				  op->add ? "INSERT INTO group_members (group_id, member_id) VALUES ($1, $2) ON CONFLICT DO NOTHING"
					  : "DELETE FROM group_members WHERE group_id = $1 AND member_id = $2",
				  v, 2, NULL, NULL, &touched);
	op->changed = touched > 0;
	char *detail = detail_of(json_pack("{s:s}", "member", op->member));
	if (rc == KY_OK && op->changed)
		rc = ky_store_change_record(op->s, tx, op->token, 1, op->actor, op->add ? "group.add" : "group.remove", op->name,
				   detail, op->reason);
	free(detail);
	return rc;
}

static int group_member_change(ky_store *s, const char *group, const char *member, bool add,
			       const ky_store_actor *actor, const char *reason, bool *changed)
{
	group_op op = {.s = s, .name = group, .member = member, .add = add, .actor = actor, .reason = reason};
	int rc = ky_store_change_token(op.token);
	if (rc == KY_OK)
		rc = ky_store_transact(s, true, group_member_body, &op);
	if (changed != NULL)
		*changed = rc == KY_OK && op.changed;
	return rc;
}

int ky_store_group_member_add(ky_store *s, const char *group, const char *member, const ky_store_actor *actor,
			      const char *reason, bool *changed)
{
	return group_member_change(s, group, member, true, actor, reason, changed);
}

int ky_store_group_member_remove(ky_store *s, const char *group, const char *member, const ky_store_actor *actor,
				 const char *reason, bool *changed)
{
	return group_member_change(s, group, member, false, actor, reason, changed);
}

typedef struct member_groups_op {
	ky_store *s;
	int64_t member_id;
	int64_t *ids;
	size_t max, n;
	bool over;
} member_groups_op;

static int group_id_row(void *ctx, const ky_store_cell *c, int n)
{
	(void)n;
	member_groups_op *op = ctx;
	if (op->n == op->max) {
		op->over = true;
		return 1;
	}
	op->ids[op->n++] = ky_store_cell_int(&c[0]);
	return 0;
}

static int member_groups_body(ky_store_tx *tx, void *ctx)
{
	member_groups_op *op = ctx;
	op->n = 0;
	op->over = false;
	ky_store_value v[] = {ky_sv_int(op->member_id)};
	return ky_store_run(op->s, tx, "SELECT group_id FROM group_members WHERE member_id = $1 ORDER BY group_id", v, 1,
			    group_id_row, op, NULL);
}

int ky_store_member_groups(ky_store *s, int64_t member_id, int64_t *ids, size_t max, size_t *n)
{
	member_groups_op op = {s, member_id, ids, max, 0, false};
	int rc = ky_store_transact(s, false, member_groups_body, &op);
	*n = op.n;
	if (rc == KY_OK && op.over)
		rc = ky_error_set(KY_ETOOBIG, "member %lld is in more than %zu groups", (long long)member_id, max);
	return rc;
}

typedef struct reach_op {
	ky_store *s;
	int64_t member_id;
	char (*sectors)[KY_STORE_SECTOR_MAX + 1];
	int64_t *groups;
	size_t nsectors, ngroups;
	ky_store_access_keys conjunctions;
	size_t capacity;
	bool over, nomem;
} reach_op;

static int reach_row(void *ctx, const ky_store_cell *c, int n)
{
	(void)n;
	reach_op *op = ctx;
	if (c[0].text[0] == 's' && op->nsectors < KY_STORE_SECTORS_MAX)
		copy_cell(op->sectors[op->nsectors++], KY_STORE_SECTOR_MAX + 1, &c[1]);
	else if (c[0].text[0] == 'g' && op->ngroups < KY_STORE_GROUPS_MAX)
		op->groups[op->ngroups++] = ky_store_cell_int(&c[1]);
	else if (c[0].text[0] == 'k') {
		ky_store_access_keys *l = &op->conjunctions;
		if (l->n == op->capacity) {
			size_t capacity = op->capacity ? 2 * op->capacity : 8;
			void *grown = realloc(l->keys, capacity * sizeof(*l->keys));
			if (grown == NULL)
				return op->nomem = true;
			l->keys = grown;
			op->capacity = capacity;
		}
		copy_cell(l->keys[l->n++], KY_STORE_ACCESS_KEY_MAX + 1, &c[1]);
	} else
		op->over = true;
	return op->over;
}

static int reach_body(ky_store_tx *tx, void *ctx)
{
	reach_op *op = ctx;
	op->nsectors = op->ngroups = op->conjunctions.n = 0;
	op->over = op->nomem = false;
	ky_store_value v[] = {ky_sv_int(op->member_id)};
	return ky_store_run(op->s, tx,
			    "SELECT 's', sector FROM member_sectors WHERE member_id = $1"
			    " UNION ALL SELECT 'g', CAST(group_id AS TEXT) FROM group_members WHERE member_id = $1"
			    " UNION ALL SELECT 'k', key FROM access_conjunctions",
			    v, 1, reach_row, op, NULL);
}

int ky_store_member_reach(ky_store *s, int64_t member_id, char sectors[KY_STORE_SECTORS_MAX][KY_STORE_SECTOR_MAX + 1],
			  size_t *nsectors, int64_t groups[KY_STORE_GROUPS_MAX], size_t *ngroups,
			  ky_store_access_keys *conjunctions)
{
	reach_op op = {.s = s, .member_id = member_id, .sectors = sectors, .groups = groups};
	int rc = ky_store_transact(s, false, reach_body, &op);
	*nsectors = op.nsectors;
	*ngroups = op.ngroups;
	*conjunctions = op.conjunctions;
	if (rc > 0)
		rc = KY_OK;
	if (op.nomem)
		rc = ky_error_set(KY_ENOMEM, "out of memory");
	if (rc == KY_OK && op.over)
		rc = ky_error_set(KY_ETOOBIG, "member %lld is in more than %d groups", (long long)member_id, KY_STORE_GROUPS_MAX);
	return rc;
}

/* --- rules --------------------------------------------------------------------------------- */

void ky_store_rules_clear(ky_store_rules *r)
{
	free(r->text);
	*r = (ky_store_rules){0};
}

typedef struct rules_op {
	ky_store *s;
	const char *text;
	size_t len;
	int64_t user_id, version;
	const ky_store_actor *actor;
	const char *reason;
	char token[37];
	ky_store_rules rules;
	int64_t accepted_us;
} rules_op;

static int rules_row(void *ctx, const ky_store_cell *c, int n)
{
	(void)n;
	ky_store_rules *r = ctx;
	r->version = ky_store_cell_int(&c[0]);
	r->text = strndup(c[1].text, c[1].len);
	r->len = c[1].len;
	r->set_us = ky_store_cell_int(&c[2]);
	return r->text ? 1 : ky_error_set(KY_ENOMEM, "out of memory");
}

static int rules_read(ky_store *s, ky_store_tx *tx, ky_store_rules *out)
{
	ky_store_rules_clear(out);
	return ky_store_run(s, tx, "SELECT version, text, set_us FROM rules ORDER BY version DESC LIMIT 1", NULL, 0,
			    rules_row, out, NULL);
}

static int rules_set_body(ky_store_tx *tx, void *ctx)
{
	rules_op *op = ctx;
	bool done;
	int rc = ky_store_change_committed(op->s, tx, op->token, &done);
	if (rc == KY_OK && !done) {
		int64_t last;
		rc = rules_version(op->s, tx, &last);
		ky_store_value v[] = {ky_sv_int(last + 1), ky_sv_text(op->text), ky_sv_int(ky_clock_now_us())};
		if (rc == KY_OK)
			rc = ky_store_run(op->s, tx, "INSERT INTO rules (version, text, set_us) VALUES ($1, $2, $3)", v, 3, NULL,
					  NULL, NULL);
		char detail[48];
		snprintf(detail, sizeof(detail), "{\"version\":%lld}", (long long)(last + 1));
		if (rc == KY_OK)
			rc = ky_store_change_record(op->s, tx, op->token, 1, op->actor, "rules.set", "rules", detail, op->reason);
	}
	if (rc == KY_OK)
		rc = rules_version(op->s, tx, &op->version);
	return rc;
}

int ky_store_rules_set(ky_store *s, const char *text, size_t len, const ky_store_actor *actor, const char *reason,
		       int64_t *version)
{
	if (len > KY_STORE_RULES_MAX)
		return ky_error_set(KY_ETOOBIG, "the rules' text has %zu bytes; at most %d are kept", len, KY_STORE_RULES_MAX);
	if (memchr(text, '\0', len) != NULL)
		return ky_error_set(KY_EINVALID, "the rules' text holds a NUL byte");
	rules_op op = {.s = s, .text = text, .len = len, .actor = actor, .reason = reason};
	int rc = ky_store_change_token(op.token);
	if (rc == KY_OK)
		rc = ky_store_transact(s, true, rules_set_body, &op);
	if (rc == KY_OK && version != NULL)
		*version = op.version;
	return rc;
}

static int rules_get_body(ky_store_tx *tx, void *ctx)
{
	rules_op *op = ctx;
	return rules_read(op->s, tx, &op->rules);
}

int ky_store_rules_get(ky_store *s, ky_store_rules *out)
{
	rules_op op = {.s = s};
	int rc = ky_store_transact(s, false, rules_get_body, &op);
	if (rc != KY_OK)
		ky_store_rules_clear(&op.rules);
	*out = op.rules;
	return rc;
}

static int accepted_row(void *ctx, const ky_store_cell *c, int n)
{
	(void)n;
	*(int64_t *)ctx = ky_store_cell_int(&c[0]);
	return 1;
}

static int rules_accept_body(ky_store_tx *tx, void *ctx)
{
	rules_op *op = ctx;
	int64_t current;
	int rc = rules_version(op->s, tx, &current);
	if (rc != KY_OK)
		return rc;
	if (current == 0)
		return ky_error_set(KY_ENOTFOUND, "this hub has no rules to accept");
	if (op->version != current)
		return ky_error_set(KY_ECONFLICT,
				    "the rules in force are version %lld, not %lld: read them again and accept version %lld",
				    (long long)current, (long long)op->version, (long long)current);
	ky_store_value v[] = {ky_sv_int(op->user_id), ky_sv_int(op->version)};
	op->accepted_us = 0;
	rc = ky_store_run(op->s, tx, "SELECT accepted_us FROM rule_acceptances WHERE user_id = $1 AND version = $2", v, 2,
			  accepted_row, &op->accepted_us, NULL);
	if (rc != KY_OK || op->accepted_us != 0)
		return rc;
	op->accepted_us = ky_clock_now_us();
	rc = accept_rules(op->s, tx, op->user_id, op->version, op->accepted_us);
	char detail[48];
	snprintf(detail, sizeof(detail), "{\"version\":%lld}", (long long)op->version);
	/* The acceptance itself makes a retry harmless; its record is made once with it. */
	if (rc == KY_OK)
		rc = ky_store_change_record(op->s, tx, op->token, 1, op->actor, "rules.accept", "rules", detail, "");
	return rc;
}

int ky_store_rules_accept(ky_store *s, int64_t user_id, int64_t version, const ky_store_actor *actor,
			  int64_t *accepted_us)
{
	rules_op op = {.s = s, .user_id = user_id, .version = version, .actor = actor};
	int rc = ky_store_change_token(op.token);
	if (rc == KY_OK)
		rc = ky_store_transact(s, true, rules_accept_body, &op);
	if (rc == KY_OK && accepted_us != NULL)
		*accepted_us = op.accepted_us;
	return rc;
}

/* --- API keys ------------------------------------------------------------------------------ */

typedef struct key_rows {
	ky_store_key *rows;
	size_t n, cap;
} key_rows;

static int key_row(void *ctx, const ky_store_cell *c, int n)
{
	key_rows *r = ctx;
	if (n < KY_SQL_KEY_COLUMN_COUNT)
		return ky_error_set(KY_ERROR, "a key row has %d columns", n);
	ky_store_key *k = ky_store_row_add(&r->rows, &r->n, &r->cap, sizeof(*k));
	if (k == NULL)
		return KY_ENOMEM;
	k->id = ky_store_cell_int(&c[0]);
	k->user_id = ky_store_cell_int(&c[1]);
	copy_cell(k->user, sizeof(k->user), &c[2]);
	copy_cell(k->prefix, sizeof(k->prefix), &c[3]);
	k->created_us = ky_store_cell_int(&c[4]);
	k->revoked_us = ky_store_cell_int(&c[5]);
	/* The schema's checks keep a role or tier known; reader and general are the least a
	 * reading could grant if one were not. */
	if (!ky_role_parse(c[6].text, &k->role))
		k->role = KY_ROLE_READER;
	k->disabled = !c[7].null;
	k->member_id = ky_store_cell_int(&c[8]);
	copy_cell(k->member, sizeof(k->member), &c[9]);
	if (!ky_tier_parse(c[10].text, &k->tier))
		k->tier = KY_TIER_GENERAL;
	k->suspended = strcmp(c[11].text, "suspended") == 0;
	k->rules_version = ky_store_cell_int(&c[12]);
	k->rules_accepted = ky_store_cell_int(&c[13]);
	return 0;
}

typedef struct key_op {
	ky_store *s;
	const uint8_t *hash;
	const char *prefix;
	int64_t user_id;
	const ky_store_actor *actor;
	const char *reason;
	char token[37];
	key_rows rows;
	int64_t key_id;
} key_op;

static int key_read(key_op *op, ky_store_tx *tx, const char *sql, ky_store_value key)
{
	free(op->rows.rows);
	op->rows = (key_rows){0};
	return ky_store_run(op->s, tx, sql, &key, 1, key_row, &op->rows, NULL);
}

static int key_find_body(ky_store_tx *tx, void *ctx)
{
	key_op *op = ctx;
	return key_read(op, tx, KY_SQL_KEY_FIND, ky_sv_blob(op->hash, KY_STORE_KEY_HASH_SIZE));
}

/* The first key op->rows holds into *out, or KY_ENOTFOUND with `message`. */
static int key_result(key_op *op, int rc, ky_store_key *out, const char *message)
{
	if (rc == KY_OK && op->rows.n == 0)
		rc = ky_error_set(KY_ENOTFOUND, "%s", message);
	if (rc == KY_OK && out != NULL)
		*out = op->rows.rows[0];
	free(op->rows.rows);
	return rc;
}

int ky_store_key_find(ky_store *s, const uint8_t hash[KY_STORE_KEY_HASH_SIZE], ky_store_key *out)
{
	key_op op = {.s = s, .hash = hash};
	memset(out, 0, sizeof(*out));
	return key_result(&op, ky_store_transact(s, false, key_find_body, &op), out, "no active key with this hash");
}

static int key_get_body(ky_store_tx *tx, void *ctx)
{
	key_op *op = ctx;
	return key_read(op, tx, KY_SQL_KEY_COLUMNS " WHERE k.prefix = $1", ky_sv_text(op->prefix));
}

int ky_store_key_get(ky_store *s, const char *prefix, ky_store_key *out)
{
	key_op op = {.s = s, .prefix = prefix};
	char message[64];
	snprintf(message, sizeof(message), "no key with prefix %.8s in this hub", prefix);
	return key_result(&op, ky_store_transact(s, false, key_get_body, &op), out, message);
}

static int key_by_id_body(ky_store_tx *tx, void *ctx)
{
	key_op *op = ctx;
	return key_read(op, tx, KY_SQL_KEY_COLUMNS " WHERE k.id = $1 AND k.revoked_us IS NULL", ky_sv_int(op->user_id));
}

int ky_store_key_by_id(ky_store *s, int64_t key_id, ky_store_key *out)
{
	key_op op = {.s = s, .user_id = key_id};
	return key_result(&op, ky_store_transact(s, false, key_by_id_body, &op), out, "no active key with this number");
}

static int key_list_body(ky_store_tx *tx, void *ctx)
{
	key_op *op = ctx;
	return key_read(op, tx, KY_SQL_KEY_COLUMNS " WHERE (k.user_id = $1 OR $1 = 0) ORDER BY u.name, k.id",
			ky_sv_int(op->user_id));
}

int ky_store_key_list(ky_store *s, int64_t user_id, int (*fn)(void *ctx, const ky_store_key *k), void *ctx)
{
	key_op op = {.s = s, .user_id = user_id};
	int rc = ky_store_transact(s, false, key_list_body, &op);
	for (size_t i = 0; rc == KY_OK && i < op.rows.n; i++) {
		int stop = fn(ctx, &op.rows.rows[i]);
		if (stop != 0) {
			rc = stop < 0 ? stop : KY_OK;
			break;
		}
	}
	free(op.rows.rows);
	return rc;
}

static int key_add_body(ky_store_tx *tx, void *ctx)
{
	key_op *op = ctx;
	bool done;
	int rc = ky_store_change_committed(op->s, tx, op->token, &done);
	if (rc == KY_OK && !done) {
		ky_store_value v[] = {ky_sv_int(op->user_id), ky_sv_text(op->prefix),
				      ky_sv_blob(op->hash, KY_STORE_KEY_HASH_SIZE), ky_sv_int(ky_clock_now_us())};
		rc = ky_store_run(op->s, tx, "INSERT INTO api_keys (user_id, prefix, hash, created_us) VALUES ($1, $2, $3, $4)",
				  v, 4, NULL, NULL, NULL);
		if (rc == KY_EEXISTS)
			return ky_error_set(KY_EEXISTS, "a key with prefix %s (or its hash) exists already", op->prefix);
		if (rc == KY_ENOTFOUND)
			return ky_error_set(KY_ENOTFOUND, "adding a key: user %lld does not exist", (long long)op->user_id);
	}
	if (rc == KY_OK)
		rc = key_read(op, tx, KY_SQL_KEY_COLUMNS " WHERE k.prefix = $1", ky_sv_text(op->prefix));
	if (rc == KY_OK && op->rows.n == 1 && !done) {
		char detail[48];
		snprintf(detail, sizeof(detail), "{\"prefix\":\"%s\"}", op->prefix);
		rc = ky_store_change_record(op->s, tx, op->token, 1, op->actor, "key.create", op->rows.rows[0].user, detail,
				   op->reason);
	}
	return rc;
}

int ky_store_key_add(ky_store *s, int64_t user_id, const char *prefix, const uint8_t hash[KY_STORE_KEY_HASH_SIZE],
		     const ky_store_actor *actor, const char *reason, int64_t *key_id)
{
	if (strlen(prefix) != KY_STORE_KEY_PREFIX_LEN)
		return ky_error_set(KY_EINVALID, "a key's prefix has %d characters", KY_STORE_KEY_PREFIX_LEN);
	key_op op = {.s = s, .hash = hash, .prefix = prefix, .user_id = user_id, .actor = actor, .reason = reason};
	ky_store_key k;
	int rc = ky_store_change_token(op.token);
	if (rc == KY_OK)
		rc = ky_store_transact(s, true, key_add_body, &op);
	rc = key_result(&op, rc, &k, "the key just added is not there");
	if (rc == KY_OK && key_id != NULL)
		*key_id = k.id;
	return rc;
}

static int key_revoke_body(ky_store_tx *tx, void *ctx)
{
	key_op *op = ctx;
	bool done;
	uint64_t touched = 0;
	int rc = ky_store_change_committed(op->s, tx, op->token, &done);
	ky_store_value v[] = {ky_sv_text(op->prefix), ky_sv_int(ky_clock_now_us())};
	if (rc == KY_OK && !done)
		rc = ky_store_run(op->s, tx, KY_SQL_KEY_REVOKE, v, 2, NULL, NULL, &touched);
	if (rc == KY_OK && !done && touched == 0)
		return ky_error_set(KY_ENOTFOUND, "no active key with prefix %s in this hub", op->prefix);
	if (rc == KY_OK)
		rc = key_read(op, tx, KY_SQL_KEY_COLUMNS " WHERE k.prefix = $1", ky_sv_text(op->prefix));
	if (rc == KY_OK && !done && op->rows.n == 1) {
		char detail[48];
		snprintf(detail, sizeof(detail), "{\"prefix\":\"%s\"}", op->prefix);
		rc = ky_store_change_record(op->s, tx, op->token, 1, op->actor, "key.revoke", op->rows.rows[0].user, detail,
				   op->reason);
	}
	return rc;
}

int ky_store_key_revoke(ky_store *s, const char *prefix, const ky_store_actor *actor, const char *reason,
			ky_store_key *out)
{
	if (strlen(prefix) != KY_STORE_KEY_PREFIX_LEN)
		return ky_error_set(KY_ENOTFOUND, "no active key with prefix %s (a prefix has %d characters)", prefix,
				    KY_STORE_KEY_PREFIX_LEN);
	key_op op = {.s = s, .prefix = prefix, .actor = actor, .reason = reason};
	int rc = ky_store_change_token(op.token);
	if (rc == KY_OK)
		rc = ky_store_transact(s, true, key_revoke_body, &op);
	return key_result(&op, rc, out, "the key just revoked is not there");
}

/* --- the record of changes ------------------------------------------------------------------- */

typedef struct change_rows {
	char **fields;       /* 7 strings a row: user, member, via, action, subject, detail, reason */
	int64_t *ids, *at;
	size_t n;
} change_rows;

static void change_rows_clear(change_rows *r)
{
	for (size_t i = 0; i < r->n * 7; i++)
		free(r->fields[i]);
	free(r->fields);
	free(r->ids);
	free(r->at);
	*r = (change_rows){0};
}

static int change_row(void *ctx, const ky_store_cell *c, int n)
{
	(void)n;
	change_rows *r = ctx;
	char **fields = realloc(r->fields, (r->n + 1) * 7 * sizeof(*fields));
	if (fields != NULL)
		r->fields = fields;
	int64_t *ids = fields ? realloc(r->ids, (r->n + 1) * sizeof(*ids)) : NULL;
	if (ids != NULL)
		r->ids = ids;
	int64_t *at = ids ? realloc(r->at, (r->n + 1) * sizeof(*at)) : NULL;
	if (at == NULL)
		return ky_error_set(KY_ENOMEM, "out of memory");
	r->at = at;
	r->ids[r->n] = ky_store_cell_int(&c[0]);
	r->at[r->n] = ky_store_cell_int(&c[1]);
	bool ok = true;
	for (int i = 0; i < 7; i++) {
		r->fields[r->n * 7 + i] = strndup(c[2 + i].text, c[2 + i].len);
		ok = ok && r->fields[r->n * 7 + i] != NULL;
	}
	r->n++;
	return ok ? 0 : ky_error_set(KY_ENOMEM, "out of memory");
}

typedef struct change_list_op {
	ky_store *s;
	int64_t after;
	size_t limit;
	change_rows rows;
} change_list_op;

static int change_list_body(ky_store_tx *tx, void *ctx)
{
	change_list_op *op = ctx;
	change_rows_clear(&op->rows);
	ky_store_value v[] = {ky_sv_int(op->after), ky_sv_int(op->limit ? (int64_t)op->limit + 1 : INT64_MAX)};
	return ky_store_run(op->s, tx,
			    "SELECT c.id, c.at_us, coalesce(u.name, ''), coalesce(m.name, ''), c.via, c.action, c.subject,"
			    " coalesce(c.detail, ''), c.reason FROM changes c LEFT JOIN users u ON u.id = c.actor_user_id"
			    " LEFT JOIN members m ON m.id = c.actor_member_id WHERE c.id > $1 ORDER BY c.id"
			    " LIMIT $2",
			    v, 2, change_row, &op->rows, NULL);
}

int ky_store_change_list(ky_store *s, int64_t after_id, size_t limit, int (*fn)(void *ctx, const ky_store_change *c),
			 void *ctx, bool *more)
{
	change_list_op op = {.s = s, .after = after_id, .limit = limit};
	int rc = ky_store_transact(s, false, change_list_body, &op);
	size_t shown = page_shown(rc, op.rows.n, limit, more);
	for (size_t i = 0; i < shown; i++) {
		char **f = &op.rows.fields[i * 7];
		ky_store_change c = {op.rows.ids[i], op.rows.at[i], f[0], f[1], f[2], f[3], f[4], f[5], f[6]};
		int stop = fn(ctx, &c);
		if (stop != 0) {
			rc = stop < 0 ? stop : KY_OK;
			break;
		}
	}
	change_rows_clear(&op.rows);
	return rc;
}
