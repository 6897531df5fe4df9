/*
 * store: the backend-independent half of store.h. It picks the backend from the location,
 * takes each object's id, type and version out of its parse, keeps a batch in memory until
 * commit, and hands the backend finished items.
 */
#include "store/store.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "store/store_audit.h"
#include "store/store_backend.h"
#include "store/store_events.h"
#include "store/store_reports.h"
#include "store/store_council.h"
#include "stix/stix_selector.h"
#include "util/ky_arena.h"
#include "util/ky_clock.h"
#include "util/ky_error.h"
#include "util/ky_grow.h"
#include "util/ky_utf8.h"
#include "util/ky_uuid.h"

/* More than the hub has names for (auth, cursor, audience and the like). */
#define SECRETS_HELD 8

struct ky_store {
	const ky_store_backend *backend;
	void *impl;
	/* The server secrets read on this connection: they never change once stored, so each
	 * is asked for once (ky_store_secret), however a request alternates between them (the
	 * key hash's and the cursor's on every paged request). Wiped on close. */
	struct {
		char name[32];
		uint8_t value[KY_STORE_SECRET_SIZE];
	} secrets[SECRETS_HELD];
	size_t nsecrets;
};

struct ky_store_batch {
	ky_store *store;
	int64_t collection_id;
	ky_store_item *items;
	size_t n, cap;
	ky_arena *arena;      /* the items' bytes and strings: one free for the whole batch */
	ky_store_actor actor; /* who adds them, for the audit log; its strings in the arena */
	ky_store_scope submitter; /* whose eyes the workflow sees through; keys in the arena */
	ky_store_transition *transition; /* the state change it makes; in the arena, or NULL */
	bool workflow;        /* an item has a workflow (store_reports.h) */
};

static bool scope_holds(const ky_store_scope *scope, const char *key)
{
	for (size_t i = 0; i < scope->nkeys; i++)
		if (strcmp(scope->keys[i], key) == 0)
			return true;
	return false;
}

/* Hands fn the row without the parts scope holds no key of (scope is not the provider's,
 * which reads all of its object, the versions the secretariat adds to it too: their parts'
 * keys are the secretariat's). What cannot be read as the parts say is not handed at all:
 * the parts are the store's own, written with the version. */
static int without_parts(const ky_store_scope *scope, const ky_store_row *row, ky_store_row_fn *fn, void *ctx)
{
	json_t *parts = json_loads(row->parts, 0, NULL);
	const char *selectors[KY_STORE_PARTS_MAX];
	size_t n = 0, i, k;
	json_t *part, *key;
	json_array_foreach(parts, i, part)
	{
		bool held = false;
		json_array_foreach(json_object_get(part, "keys"), k, key)
		held = held || (json_is_string(key) && scope_holds(scope, json_string_value(key)));
		const char *selector = json_string_value(json_object_get(part, "selector"));
		if (!held && selector != NULL && n < KY_STORE_PARTS_MAX)
			selectors[n++] = selector;
	}
	int rc = parts == NULL ? ky_error_set(KY_ERROR, "version %s of %s: its parts are not JSON", row->modified, row->id)
			       : KY_OK;
	if (rc == KY_OK && n == 0) {
		json_decref(parts);
		return fn(ctx, row);
	}
	json_t *object = rc == KY_OK ? json_loadb(row->raw, row->raw_len, 0, NULL) : NULL;
	if (rc == KY_OK && object == NULL)
		rc = ky_error_set(KY_ENOMEM, "out of memory");
	if (rc == KY_OK)
		rc = ky_stix_remove_selected(object, selectors, n);
	char *text = rc == KY_OK ? json_dumps(object, JSON_COMPACT) : NULL;
	if (rc == KY_OK && text == NULL)
		rc = ky_error_set(KY_ENOMEM, "out of memory");
	json_decref(object);
	json_decref(parts);
	if (rc == KY_OK) {
		ky_store_row shown = *row;
		shown.raw = text;
		shown.raw_len = strlen(text);
		rc = fn(ctx, &shown);
	}
	free(text);
	return rc;
}

void ky_store_reads_clear(ky_store_reads *r)
{
	free(r->vids);
	*r = (ky_store_reads){0};
}

void ky_store_reads_note(ky_store_reads *r, uint64_t vid)
{
	if (ky_grow((void **)&r->vids, &r->cap, r->n, sizeof(*r->vids)) == KY_OK)
		r->vids[r->n++] = vid;
	else
		r->incomplete = true;
}

int ky_store_page_row(ky_store_page *page, const ky_store_scope *scope, const ky_store_row *row, ky_store_row_fn *fn,
		      void *ctx)
{
	if (page->count == 0)
		page->first_date_added_us = row->date_added_us;
	page->last_date_added_us = row->date_added_us;
	page->last_seq = row->seq;
	page->count++;
	if (scope->reads != NULL && row->tlp != 0)
		ky_store_reads_note(scope->reads, row->vid);
	return ky_store_row_shown(scope, row, fn, ctx);
}

bool ky_store_scope_reads(const ky_store_scope *scope, const char *const *keys, size_t n)
{
	for (size_t i = 0; !scope->everything && i < n; i++)
		if (scope_holds(scope, keys[i]))
			return true;
	return scope->everything;
}

int ky_store_row_shown(const ky_store_scope *scope, const ky_store_row *row, ky_store_row_fn *fn, void *ctx)
{
	if (scope->everything || (row->shared == NULL && row->parts == NULL))
		return fn(ctx, row);
	/* The provider reads what it submitted, every other viewer the shared form. */
	char own[32];
	snprintf(own, sizeof(own), KY_STORE_MEMBER_KEY, (long long)row->provider);
	bool provider = scope_holds(scope, own);
	ky_store_row shown = *row;
	if (row->shared != NULL && !provider) {
		shown.raw = row->shared;
		shown.raw_len = row->shared_len;
	}
	if (row->parts != NULL && !provider)
		return without_parts(scope, &shown, fn, ctx);
	return fn(ctx, &shown);
}

int64_t ky_store_cell_int(const ky_store_cell *cell)
{
	return cell->null ? 0 : strtoll(cell->text, NULL, 10);
}

int ky_store_int_cell(void *ctx, const ky_store_cell *cells, int ncols)
{
	(void)ncols;
	*(int64_t *)ctx = ky_store_cell_int(&cells[0]);
	return 0;
}

bool ky_store_is_postgresql(const ky_store *s)
{
	return strcmp(s->backend->name, "postgresql") == 0;
}

/* The process's commit listener (ky_store_on_commit). */
static _Atomic(ky_store_commit_fn *) commit_listener;
static _Atomic(void *) commit_listener_ctx;

void ky_store_on_commit(ky_store_commit_fn *fn, void *ctx)
{
	atomic_store(&commit_listener, NULL);
	atomic_store(&commit_listener_ctx, ctx);
	atomic_store(&commit_listener, fn);
}

static void committed(void)
{
	ky_store_commit_fn *fn = atomic_load(&commit_listener);
	if (fn != NULL)
		fn(atomic_load(&commit_listener_ctx));
}

int ky_store_transact(ky_store *s, bool write, ky_store_tx_body *body, void *ctx)
{
	int rc = s->backend->transact(s->impl, write, body, ctx);
	if (rc == KY_OK && write)
		committed();
	return rc;
}

int ky_store_run(ky_store *s, ky_store_tx *tx, const char *sql, const ky_store_value *values, int n,
		 ky_store_cells_fn *fn, void *ctx, uint64_t *changed)
{
	return s->backend->run(tx, sql, values, n, fn, ctx, changed);
}

void ky_store_test_cut_after_commit(ky_store *s, unsigned n)
{
	if (s->backend->test_cut_after_commit != NULL)
		s->backend->test_cut_after_commit(s->impl, n);
}

int ky_store_taken_over(const char *id)
{
	return ky_error_set(KY_ESTALE, "the claim on request %s was taken over: another processor holds it now", id);
}

/*
 * "2016-04-06T20:03:48.1Z" -> "2016-04-06T20:03:48.100000000Z": the seconds as written and the
 * fraction padded (or cut) to nine digits, so that comparing keys as strings compares times
 * and "…48.1Z" and "…48.100Z" are the same version, as STIX means them to be (§3.6).
 */
void ky_store_version_key(const char *timestamp, char out[32])
{
	if (timestamp == NULL || strlen(timestamp) < 20) {
		out[0] = '\0';
		return;
	}
	memcpy(out, timestamp, 19);
	out[19] = '.';
	const char *frac = timestamp[19] == '.' ? timestamp + 20 : "";
	for (int i = 0; i < 9; i++) {
		char c = *frac >= '0' && *frac <= '9' ? *frac++ : '0';
		out[20 + i] = c;
	}
	out[29] = 'Z';
	out[30] = '\0';
}

int ky_store_schema_refusal(const char *where, int schema)
{
	if (schema < 0)
		return ky_error_set(KY_EINVALID, "%s: this database is not a kyoyu hub", where);
	if (schema == 0)
		return ky_error_set(KY_ENOTFOUND, "%s: no hub there; create one with kyoyu init", where);
	if (schema < KY_STORE_SCHEMA_VERSION)
		return ky_error_set(KY_ESCHEMA, "%s: the hub's schema is version %d and this kyoyu uses %d: run kyoyu migrate",
				    where, schema, KY_STORE_SCHEMA_VERSION);
	if (schema > KY_STORE_SCHEMA_VERSION)
		return ky_error_set(KY_ESCHEMA,
				    "%s: the hub's schema is version %d, newer than this kyoyu knows (%d): use a newer kyoyu; nothing changed",
				    where, schema, KY_STORE_SCHEMA_VERSION);
	return KY_OK;
}

static const ky_store_backend *backend_for(const char *location)
{
	if (strncmp(location, "postgresql://", 13) == 0 || strncmp(location, "postgres://", 11) == 0)
		return &ky_store_pg;
	return &ky_store_sqlite;
}

int ky_store_open(ky_store **out, const char *location, const ky_store_options *options, bool *created)
{
	static const ky_store_options defaults = {0};
	*out = NULL;
	if (created != NULL)
		*created = false;
	const ky_store_backend *backend = backend_for(location);
	ky_store *s = calloc(1, sizeof(*s));
	if (s == NULL)
		return ky_error_set(KY_ENOMEM, "out of memory");
	s->backend = backend;
	bool made = false;
	int rc = backend->open(&s->impl, location, options ? options : &defaults, &made);
	if (rc != KY_OK) {
		free(s);
		return rc;
	}
	/* A council starts with its secretariat (store_council.h). */
	ky_store_actor operator = {.via = "kyoyu init"};
	if (made && ((rc = ky_store_secretariat_ensure(s, &operator, NULL)) != KY_OK || (rc = ky_store_workflow_ensure(s)) != KY_OK)) {
		ky_store_close(s);
		return rc;
	}
	if (created != NULL)
		*created = made;
	*out = s;
	return KY_OK;
}

void ky_store_close(ky_store *s)
{
	if (s == NULL)
		return;
	s->backend->close(s->impl);
	explicit_bzero(s->secrets, sizeof(s->secrets));
	free(s);
}

int ky_store_migrate(const char *location, int *from, int *to)
{
	int rc = backend_for(location)->migrate(location, from, to);
	if (rc != KY_OK)
		return rc;
	/* Schema 6 brought members; the secretariat they start with, and that the users of an
	 * older hub join, needs a random identity id that SQL cannot make. */
	ky_store *s;
	rc = ky_store_open(&s, location, NULL, NULL);
	ky_store_actor operator = {.via = "kyoyu migrate"};
	if (rc == KY_OK)
		rc = ky_store_secretariat_ensure(s, &operator, NULL);
	if (rc == KY_OK)
		rc = ky_store_workflow_ensure(s);
	ky_store_close(s);
	return rc;
}

int ky_store_schema_version(ky_store *s)
{
	return s->backend->schema_version(s->impl);
}

void ky_store_collection_clear(ky_store_collection *c)
{
	free(c->name);
	free(c->title);
	free(c->description);
	c->name = c->title = c->description = NULL;
}

/* RFC 4122 §3: 8-4-4-4-12 hex digits; lowercase, as kyoyu writes and compares them. */
static bool canonical_uuid(const char *text)
{
	for (int i = 0; i < 36; i++) {
		char c = text[i];
		bool dash = i == 8 || i == 13 || i == 18 || i == 23;
		if (dash ? c != '-' : !((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
			return false;
	}
	return text[36] == '\0';
}

int ky_store_collection_create(ky_store *s, const char *uuid, const char *name, const char *title,
			       const char *description, ky_store_collection *out)
{
	char fresh[37];
	ky_store_collection taken = {0};
	int64_t id;
	int rc = KY_OK;
	if (uuid == NULL) {
		rc = ky_uuid4(fresh);
		uuid = fresh;
	} else if (!canonical_uuid(uuid)) {
		return ky_error_set(KY_EINVALID, "a collection id must be a lowercase UUID (RFC 4122), not \"%.40s\"", uuid);
	} else {
		/* A name cannot look like a UUID, so a match is a collection with this id. The
		 * uuid column's unique index still refuses a second one made meanwhile. */
		rc = s->backend->collection_find(s->impl, uuid, &taken);
		if (rc == KY_OK)
			rc = ky_error_set(KY_EEXISTS, "collection %s has the id %s already", taken.name, uuid);
		else if (rc == KY_ENOTFOUND)
			rc = KY_OK;
		ky_store_collection_clear(&taken);
	}
	if (rc == KY_OK)
		rc = s->backend->collection_create(s->impl, uuid, name, title, description, &id);
	if (rc == KY_OK && out != NULL)
		rc = s->backend->collection_find(s->impl, uuid, out);
	return rc;
}

int ky_store_collection_find(ky_store *s, const char *name_or_uuid, ky_store_collection *out)
{
	return s->backend->collection_find(s->impl, name_or_uuid, out);
}

int ky_store_collection_list(ky_store *s, int (*fn)(void *ctx, const ky_store_collection *c), void *ctx)
{
	return s->backend->collection_list(s->impl, fn, ctx);
}

int ky_store_collection_additions(ky_store *s, int64_t collection_id, uint64_t *out)
{
	return s->backend->collection_additions(s->impl, collection_id, out);
}

typedef struct ids_op {
	ky_store *s;
	const char *type;
	int (*fn)(void *ctx, const char *id);
	void *ctx;
} ids_op;

static int id_cell(void *ctx, const ky_store_cell *cells, int n)
{
	(void)n;
	ids_op *op = ctx;
	return op->fn(op->ctx, cells[0].text);
}

static int ids_body(ky_store_tx *tx, void *ctx)
{
	ids_op *op = ctx;
	ky_store_value v[] = {ky_sv_text(op->type)};
	return ky_store_run(op->s, tx, "SELECT DISTINCT stix_id FROM versions WHERE type = $1 ORDER BY stix_id", v, 1, id_cell,
			    op, NULL);
}

int ky_store_ids_of_type(ky_store *s, const char *type, int (*fn)(void *ctx, const char *id), void *ctx)
{
	ids_op op = {s, type, fn, ctx};
	return ky_store_transact(s, false, ids_body, &op);
}

typedef struct keys_op {
	ky_store *s;
	const char *id;
	int (*fn)(void *ctx, const char *key);
	void *ctx;
} keys_op;

static int key_cell(void *ctx, const ky_store_cell *cells, int n)
{
	(void)n;
	keys_op *op = ctx;
	return op->fn(op->ctx, cells[0].text);
}

static int keys_body(ky_store_tx *tx, void *ctx)
{
	keys_op *op = ctx;
	ky_store_value v[] = {ky_sv_text(op->id)};
	return ky_store_run(op->s, tx,
			    "SELECT DISTINCT a.key FROM versions v JOIN version_access a ON a.vid = v.vid WHERE v.stix_id = $1"
			    " ORDER BY a.key",
			    v, 1, key_cell, op, NULL);
}

int ky_store_object_keys(ky_store *s, const char *id, int (*fn)(void *ctx, const char *key), void *ctx)
{
	keys_op op = {s, id, fn, ctx};
	int rc = ky_store_transact(s, false, keys_body, &op);
	return rc < 0 ? rc : KY_OK;
}

static int check_access(const ky_store_access *access, const char *id);

/* Lists key (n bytes) in access_conjunctions if it is one (decision.h), so that viewers
 * holding it find it. */
static int register_conjunction(ky_store *s, ky_store_tx *tx, const char *key, size_t n)
{
	/* And the good standing's own key: a hub that lists none holds no locked material, and
	 * its viewers need no standing (policy.h). */
	if (memchr(key, '&', n) == NULL && !(n == 1 && key[0] == 'k'))
		return KY_OK;
	char text[KY_STORE_ACCESS_KEY_MAX + 1];
	snprintf(text, sizeof(text), "%.*s", (int)n, key);
	ky_store_value v[] = {ky_sv_text(text)};
	return ky_store_run(s, tx, "INSERT INTO access_conjunctions (key) VALUES ($1) ON CONFLICT DO NOTHING", v, 1, NULL,
			    NULL, NULL);
}

typedef struct unsettled_op {
	ky_store *s;
	uint64_t after;
	size_t limit, n;
	ky_store_row_fn *fn;
	void *ctx;
} unsettled_op;

static int unsettled_row(void *ctx, const ky_store_cell *c, int n)
{
	(void)n;
	unsettled_op *op = ctx;
	if (op->n++ == op->limit)
		return 1;
	ky_store_row row = {
		.seq = (uint64_t)ky_store_cell_int(&c[0]),
		.id = c[1].text,
		.type = c[2].text,
		.modified = c[3].text,
		.raw = c[4].text,
		.raw_len = c[4].len,
	};
	return op->fn(op->ctx, &row);
}

static int unsettled_body(ky_store_tx *tx, void *ctx)
{
	unsettled_op *op = ctx;
	op->n = 0;
	ky_store_value v[] = {ky_sv_int((int64_t)op->after), ky_sv_int((int64_t)op->limit + 1)};
	return ky_store_run(op->s, tx,
			    "SELECT vid, stix_id, type, modified, raw FROM versions WHERE vid > $1 AND tlp IS NULL"
			    " ORDER BY vid LIMIT $2",
			    v, 2, unsettled_row, op, NULL);
}

int ky_store_unsettled(ky_store *s, uint64_t after, size_t limit, ky_store_row_fn *fn, void *ctx, bool *more)
{
	unsettled_op op = {s, after, limit ? limit : 1000, 0, fn, ctx};
	int rc = ky_store_transact(s, false, unsettled_body, &op);
	*more = rc == KY_OK && op.n > op.limit;
	return rc > 0 ? KY_OK : rc;
}

typedef struct settle_op {
	ky_store *s;
	const uint64_t *vids;
	const ky_store_access *access;
	size_t n;
} settle_op;

static int settle_body(ky_store_tx *tx, void *ctx)
{
	settle_op *op = ctx;
	int rc = KY_OK;
	for (size_t i = 0; rc == KY_OK && i < op->n; i++) {
		const ky_store_access *a = &op->access[i];
		uint64_t changed = 0;
		ky_store_value v[] = {ky_sv_int((int64_t)op->vids[i]), ky_sv_int(a->tlp), ky_sv_int(a->provider),
				      a->parts ? ky_sv_text(a->parts) : ky_sv_null(), a->shared ? ky_sv_text(a->shared) : ky_sv_null()};
		rc = ky_store_run(op->s, tx,
				  "UPDATE versions SET tlp = $2, provider_id = coalesce(provider_id, $3), parts = $4, shared = $5"
				  " WHERE vid = $1 AND tlp IS NULL",
				  v, 5, NULL, NULL, &changed);
		for (size_t k = 0; rc == KY_OK && changed > 0 && k < a->nkeys; k++) {
			ky_store_value kv[] = {ky_sv_int((int64_t)op->vids[i]), ky_sv_text(a->keys[k])};
			rc = register_conjunction(op->s, tx, a->keys[k], strlen(a->keys[k]));
			if (rc != KY_OK)
				break;
			rc = ky_store_run(op->s, tx, "INSERT INTO version_access (vid, key) VALUES ($1, $2) ON CONFLICT DO NOTHING", kv,
					  2, NULL, NULL, NULL);
		}
	}
	return rc;
}

static int settle_additions_body(ky_store_tx *tx, void *ctx)
{
	return ky_store_run(ctx, tx,
			    "INSERT INTO entry_access (collection_id, key, seq, latest, vid, date_added_us)"
			    " SELECT e.collection_id, va.key, e.seq, e.latest, e.vid, e.date_added_us"
			    " FROM entries e JOIN version_access va ON va.vid = e.vid ON CONFLICT DO NOTHING",
			    NULL, 0, NULL, NULL, NULL);
}

int ky_store_settle_additions(ky_store *s)
{
	return ky_store_transact(s, true, settle_additions_body, s);
}

int ky_store_settle(ky_store *s, const uint64_t *vids, const ky_store_access *access, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		int rc = check_access(&access[i], NULL);
		if (rc != KY_OK)
			return rc;
		if (i > 0 && vids[i] <= vids[i - 1])
			return ky_error_set(KY_EINVALID, "versions are settled in the order of their numbers");
	}
	settle_op op = {s, vids, access, n};
	return n == 0 ? KY_OK : ky_store_transact(s, true, settle_body, &op);
}

typedef struct revise_op {
	ky_store *s;
	int64_t collection_id;
	const char *id;
	char version_key[32];
	const ky_store_access *access;
	bool revised;
} revise_op;

static int revise_body(ky_store_tx *tx, void *ctx)
{
	revise_op *op = ctx;
	op->revised = false;
	char own[32];
	snprintf(own, sizeof(own), KY_STORE_MEMBER_KEY, (long long)op->access->provider);
	int64_t vid = 0, others = 1;
	ky_store_value v[] = {ky_sv_text(op->id), ky_sv_text(op->version_key), ky_sv_int(op->access->provider),
			      ky_sv_text(own)};
	int rc = ky_store_run(op->s, tx, "SELECT vid FROM versions WHERE stix_id = $1 AND version_key = $2 AND provider_id = $3",
			      v, 3, ky_store_int_cell, &vid, NULL);
	ky_store_value w[] = {ky_sv_int(vid), ky_sv_text(own)};
	if (rc == KY_OK && vid != 0)
		rc = ky_store_run(op->s, tx,
				  "SELECT count(*) FROM version_access WHERE vid = $1 AND key <> $2", w, 2, ky_store_int_cell, &others, NULL);
	if (rc != KY_OK || vid == 0 || others != 0)
		return rc;
	ky_store_value at[] = {ky_sv_int(op->collection_id), ky_sv_text(op->id), ky_sv_text(op->version_key)};
	rc = ky_store_run(op->s, tx,
			  "DELETE FROM entry_access WHERE (collection_id, key, seq) IN (SELECT e.collection_id, va.key, e.seq"
			  " FROM entries e JOIN version_access va ON va.vid = e.vid WHERE e.collection_id = $1 AND e.stix_id = $2"
			  " AND e.version_key = $3)",
			  at, 3, NULL, NULL, NULL);
	if (rc == KY_OK)
		rc = ky_store_run(op->s, tx, "DELETE FROM version_access WHERE vid = $1", w, 1, NULL, NULL, NULL);
	for (size_t k = 0; rc == KY_OK && k < op->access->nkeys; k++) {
		ky_store_value kv[] = {ky_sv_int(vid), ky_sv_text(op->access->keys[k])};
		rc = register_conjunction(op->s, tx, op->access->keys[k], strlen(op->access->keys[k]));
		if (rc != KY_OK)
			break;
		rc = ky_store_run(op->s, tx, "INSERT INTO version_access (vid, key) VALUES ($1, $2) ON CONFLICT DO NOTHING", kv, 2,
				  NULL, NULL, NULL);
	}
	ky_store_value tlp[] = {ky_sv_int(vid), ky_sv_int(op->access->tlp),
				op->access->parts ? ky_sv_text(op->access->parts) : ky_sv_null(),
				op->access->shared ? ky_sv_text(op->access->shared) : ky_sv_null()};
	if (rc == KY_OK)
		rc = ky_store_run(op->s, tx, "UPDATE versions SET tlp = $2, parts = $3, shared = $4 WHERE vid = $1", tlp, 4,
				  NULL, NULL, NULL);
	if (rc == KY_OK)
		rc = ky_store_run(op->s, tx,
				  "INSERT INTO entry_access (collection_id, key, seq, latest, vid, date_added_us)"
				  " SELECT e.collection_id, va.key, e.seq, e.latest, e.vid, e.date_added_us"
				  " FROM entries e JOIN version_access va ON va.vid = e.vid WHERE e.collection_id = $1"
				  " AND e.stix_id = $2 AND e.version_key = $3",
				  at, 3, NULL, NULL, NULL);
	op->revised = rc == KY_OK;
	return rc;
}

/* The additions of version $1 in every collection: one probe of entries_by_object each. */
#define VERSION_ADDITIONS                                                                        \
	" FROM versions ver CROSS JOIN collections c JOIN entries e ON e.collection_id = c.id"    \
	" AND e.stix_id = ver.stix_id AND e.version_key = ver.version_key"                        \
	" JOIN version_access va ON va.vid = ver.vid WHERE ver.vid = $1"

int ky_store_access_replace_tx(ky_store *s, ky_store_tx *tx, uint64_t vid, const ky_store_access *access)
{
	ky_store_value v[] = {ky_sv_int((int64_t)vid), ky_sv_int(access->tlp),
			      access->parts ? ky_sv_text(access->parts) : ky_sv_null(),
			      access->shared ? ky_sv_text(access->shared) : ky_sv_null()};
	int rc = ky_store_run(s, tx,
			      "DELETE FROM entry_access WHERE (collection_id, key, seq) IN (SELECT e.collection_id, va.key, e.seq"
			      VERSION_ADDITIONS ")",
			      v, 1, NULL, NULL, NULL);
	if (rc == KY_OK)
		rc = ky_store_run(s, tx, "DELETE FROM version_access WHERE vid = $1", v, 1, NULL, NULL, NULL);
	for (size_t k = 0; rc == KY_OK && k < access->nkeys; k++) {
		ky_store_value kv[] = {v[0], ky_sv_text(access->keys[k])};
		rc = register_conjunction(s, tx, access->keys[k], strlen(access->keys[k]));
		if (rc == KY_OK)
			rc = ky_store_run(s, tx, "INSERT INTO version_access (vid, key) VALUES ($1, $2) ON CONFLICT DO NOTHING", kv,
					  2, NULL, NULL, NULL);
	}
	if (rc == KY_OK)
		rc = ky_store_run(s, tx, "UPDATE versions SET tlp = $2, parts = $3, shared = $4 WHERE vid = $1", v, 4, NULL,
				  NULL, NULL);
	if (rc == KY_OK)
		rc = ky_store_run(s, tx,
				  "INSERT INTO entry_access (collection_id, key, seq, latest, vid, date_added_us)"
				  " SELECT e.collection_id, va.key, e.seq, e.latest, e.vid, e.date_added_us" VERSION_ADDITIONS,
				  v, 1, NULL, NULL, NULL);
	return rc;
}

int ky_store_access_revise(ky_store *s, int64_t collection_id, const char *id, const char *modified,
			   const ky_store_access *access, bool *revised)
{
	revise_op op = {.s = s, .collection_id = collection_id, .id = id, .access = access};
	ky_store_version_key(modified, op.version_key);
	int rc = check_access(access, id);
	if (rc == KY_OK)
		rc = ky_store_transact(s, true, revise_body, &op);
	if (revised != NULL)
		*revised = rc == KY_OK && op.revised;
	return rc;
}

int ky_store_batch_begin(ky_store *s, int64_t collection_id, ky_store_batch **out)
{
	ky_store_batch *b = calloc(1, sizeof(*b));
	*out = NULL;
	if (b == NULL || (b->arena = ky_arena_new()) == NULL) {
		free(b);
		return ky_error_set(KY_ENOMEM, "out of memory");
	}
	b->store = s;
	b->collection_id = collection_id;
	*out = b;
	return KY_OK;
}

int ky_store_meta_of(const json_t *object, ky_store_meta *out)
{
	const json_t *id = json_object_get(object, "id");
	const json_t *type = json_object_get(object, "type");
	if (!json_is_string(id) || !json_is_string(type))
		return ky_error_set(KY_EINVALID, "an object without a string id and type cannot be stored");
	/* STIX 2.1 §3.6: a version is the id and modified; objects that are not versioned
	 * (markings, SCOs) have created at most, and then a single version. */
	const json_t *version = json_object_get(object, "modified");
	if (!json_is_string(version))
		version = json_object_get(object, "created");
	out->id = json_string_value(id);
	out->type = json_string_value(type);
	out->spec_version = json_string_value(json_object_get(object, "spec_version"));
	out->version = json_string_value(version);
	return KY_OK;
}

static const char *arena_copy(ky_arena *a, const char *s)
{
	return s ? ky_arena_strndup(a, s, strlen(s)) : NULL;
}

const ky_store_scope ky_store_operator_scope = {.everything = true};

/* The access keys as the backends take them: one string, separated by spaces. */
static const char *access_keys(ky_arena *a, const ky_store_access *access)
{
	size_t size = 1;
	for (size_t i = 0; i < access->nkeys; i++)
		size += strlen(access->keys[i]) + 1;
	char *text = ky_arena_alloc(a, size), *end = text;
	for (size_t i = 0; text != NULL && i < access->nkeys; i++)
		end += sprintf(end, "%s%s", i ? " " : "", access->keys[i]);
	if (text != NULL)
		*end = '\0';
	return text;
}

static int check_access(const ky_store_access *access, const char *id)
{
	if (access == NULL || access->provider <= 0)
		return ky_error_set(KY_EINVALID, "%s: a version is stored with the member that provides it", id ? id : "an object");
	if (access->nkeys > KY_STORE_ACCESS_KEYS_MAX)
		return ky_error_set(KY_EINVALID, "%s: at most %d access keys, not %zu", id ? id : "an object",
				    KY_STORE_ACCESS_KEYS_MAX, access->nkeys);
	for (size_t i = 0; i < access->nkeys; i++) {
		size_t n = access->keys[i] ? strlen(access->keys[i]) : 0;
		if (n == 0 || n > KY_STORE_ACCESS_KEY_MAX || strchr(access->keys[i], ' ') != NULL)
			return ky_error_set(KY_EINVALID, "access key %zu is empty, longer than %d bytes or holds a space", i,
					    KY_STORE_ACCESS_KEY_MAX);
	}
	return KY_OK;
}

static const char *const *strings_copy(ky_arena *a, const char *const *strings, size_t n)
{
	const char **copy = ky_arena_alloc(a, (n ? n : 1) * sizeof(*copy));
	for (size_t i = 0; copy != NULL && i < n; i++)
		if ((copy[i] = arena_copy(a, strings[i])) == NULL)
			return NULL;
	return copy;
}

static const ky_store_workflow *workflow_copy(ky_arena *a, const ky_store_workflow *w)
{
	ky_store_workflow *copy = ky_arena_alloc(a, sizeof(*copy));
	if (copy == NULL)
		return NULL;
	*copy = *w;
	copy->refs = strings_copy(a, w->refs, w->nrefs);
	return copy->refs ? copy : NULL;
}

int ky_store_batch_add_meta(ky_store_batch *b, const char *raw, size_t raw_len, const ky_store_meta *meta,
			    const ky_store_access *access)
{
	int rc = check_access(access, meta->id);
	if (rc != KY_OK)
		return rc;
	if (b->n == b->cap) {
		size_t cap = b->cap ? b->cap * 2 : 64;
		ky_store_item *grown = realloc(b->items, cap * sizeof(*grown));
		if (grown == NULL)
			return ky_error_set(KY_ENOMEM, "out of memory");
		b->items = grown;
		b->cap = cap;
	}
	ky_store_item *it = &b->items[b->n];
	memset(it, 0, sizeof(*it));
	it->raw = ky_arena_strndup(b->arena, raw, raw_len);
	it->raw_len = raw_len;
	it->id = arena_copy(b->arena, meta->id);
	it->type = arena_copy(b->arena, meta->type);
	it->spec_version = arena_copy(b->arena, meta->spec_version);
	it->modified = arena_copy(b->arena, meta->version ? meta->version : "");
	ky_store_version_key(meta->version, it->version_key);
	it->added_us = ky_clock_now_us();
	it->provider = access->provider;
	it->any_object = access->any_object;
	it->creator = access->creator;
	it->tlp = access->tlp;
	it->keys = access_keys(b->arena, access);
	it->parts = arena_copy(b->arena, access->parts);
	it->shared = arena_copy(b->arena, access->shared);
	if (access->workflow != NULL && (it->workflow = workflow_copy(b->arena, access->workflow)) == NULL)
		return ky_error_set(KY_ENOMEM, "out of memory");
	b->workflow = b->workflow || access->workflow != NULL;
	if (it->raw == NULL || it->id == NULL || it->type == NULL || it->modified == NULL || it->keys == NULL ||
	    (meta->spec_version && it->spec_version == NULL) || (access->parts && it->parts == NULL) ||
	    (access->shared && it->shared == NULL))
		return ky_error_set(KY_ENOMEM, "out of memory");
	return (int)b->n++;
}

int ky_store_batch_add(ky_store_batch *b, const char *raw, size_t raw_len, const json_t *object,
		       const ky_store_access *access)
{
	ky_store_meta meta;
	int rc = ky_store_meta_of(object, &meta);
	return rc == KY_OK ? ky_store_batch_add_meta(b, raw, raw_len, &meta, access) : rc;
}


static int batch_conjunctions_body(ky_store_tx *tx, void *ctx)
{
	ky_store_batch *b = ctx;
	int rc = KY_OK;
	for (size_t i = 0; rc == KY_OK && i < b->n; i++)
		for (const char *k = b->items[i].keys; rc == KY_OK && *k; k += *k == ' ') {
			size_t n = strcspn(k, " ");
			rc = register_conjunction(b->store, tx, k, n);
			k += n;
		}
	for (size_t i = 0; rc == KY_OK && b->transition != NULL && i < b->transition->nrepublish; i++)
		for (size_t k = 0; rc == KY_OK && k < b->transition->republish[i].access->nkeys; k++) {
			const char *key = b->transition->republish[i].access->keys[k];
			rc = register_conjunction(b->store, tx, key, strlen(key));
		}
	return rc;
}

typedef struct batch_audit {
	uint64_t *vids;
	size_t n;
} batch_audit;

static int vid_cell(void *ctx, const ky_store_cell *c, int n)
{
	(void)n;
	batch_audit *a = ctx;
	a->vids[a->n++] = (uint64_t)ky_store_cell_int(&c[0]);
	return 0;
}

/* The batch's entry in the audit log: the versions it added to the collection, numbered
 * consecutively by the commit. A batch of duplicates changed nothing and has none. */
static int batch_audit_body(ky_store_tx *tx, void *ctx)
{
	ky_store_batch *b = ctx;
	uint64_t first = 0, last = 0;
	size_t stored = 0;
	for (size_t i = 0; i < b->n; i++)
		if (b->items[i].status == KY_STORE_STORED) {
			first = first && first < b->items[i].seq ? first : b->items[i].seq;
			last = last > b->items[i].seq ? last : b->items[i].seq;
			stored++;
		}
	if (stored == 0)
		return KY_OK;
	batch_audit a = {ky_arena_alloc(b->arena, stored * sizeof(*a.vids)), 0};
	if (a.vids == NULL)
		return ky_error_set(KY_ENOMEM, "out of memory");
	ky_store_value v[] = {ky_sv_int((int64_t)first), ky_sv_int((int64_t)last)};
	int rc = ky_store_run(b->store, tx, "SELECT vid FROM entries WHERE seq >= $1 AND seq <= $2 ORDER BY seq", v, 2,
			      vid_cell, &a, NULL);
	if (rc == KY_OK && a.n != stored)
		rc = ky_error_set(KY_ERROR, "a batch's additions are not numbered consecutively");
	char detail[64];
	snprintf(detail, sizeof(detail), "{\"collection_id\":%lld}", (long long)b->collection_id);
	ky_store_audit_entry e = {.user_id = b->actor.user_id, .member_id = b->actor.member_id,
				  .via = b->actor.via ? b->actor.via : "kyoyu", .origin = b->actor.origin,
				  .action = "objects.add", .detail = detail, .vids = a.vids, .nvids = a.n};
	return rc == KY_OK ? ky_store_audit_append_tx(b->store, tx, &e) : rc;
}

/* What the batch's transaction does once its items have their numbers: its entry in the
 * audit log, then the workflow's records. */
static int batch_commit_body(ky_store_tx *tx, void *ctx)
{
	ky_store_batch *b = ctx;
	int rc = batch_audit_body(tx, b);
	if (rc == KY_OK && (b->workflow || b->transition != NULL))
		rc = ky_store_workflow_apply_tx(b->store, tx, b->collection_id, b->items, b->n, &b->submitter,
						b->transition);
	return rc;
}

void ky_store_batch_submitter(ky_store_batch *b, const ky_store_scope *scope)
{
	b->submitter.everything = scope->everything;
	b->submitter.keys = scope->everything ? NULL : strings_copy(b->arena, scope->keys, scope->nkeys);
	b->submitter.nkeys = b->submitter.keys ? scope->nkeys : 0;
}

int ky_store_batch_transition(ky_store_batch *b, const ky_store_transition *t)
{
	ky_store_transition *copy = ky_arena_alloc(b->arena, sizeof(*copy));
	ky_store_actor *actor = ky_arena_alloc(b->arena, sizeof(*actor));
	ky_store_republish *republish = ky_arena_alloc(b->arena, (t->nrepublish + 1) * sizeof(*republish));
	ky_store_access *access = ky_arena_alloc(b->arena, (t->nrepublish + 1) * sizeof(*access));
	if (copy == NULL || actor == NULL || republish == NULL || access == NULL)
		return ky_error_set(KY_ENOMEM, "out of memory");
	*copy = *t;
	*actor = *t->actor;
	actor->via = arena_copy(b->arena, t->actor->via);
	actor->origin = arena_copy(b->arena, t->actor->origin);
	copy->actor = actor;
	copy->report = arena_copy(b->arena, t->report);
	copy->reason = arena_copy(b->arena, t->reason);
	copy->course_of_action = arena_copy(b->arena, t->course_of_action);
	bool kept = copy->report != NULL && (t->reason == NULL || copy->reason != NULL) &&
		    (t->course_of_action == NULL || copy->course_of_action != NULL);
	for (size_t i = 0; kept && i < t->nrepublish; i++) {
		access[i] = *t->republish[i].access;
		access[i].keys = strings_copy(b->arena, access[i].keys, access[i].nkeys);
		access[i].parts = arena_copy(b->arena, access[i].parts);
		access[i].shared = arena_copy(b->arena, access[i].shared);
		access[i].workflow = NULL;
		republish[i] = (ky_store_republish){t->republish[i].vid, &access[i]};
		kept = access[i].keys != NULL && (t->republish[i].access->parts == NULL || access[i].parts != NULL) &&
		       (t->republish[i].access->shared == NULL || access[i].shared != NULL);
	}
	if (!kept)
		return ky_error_set(KY_ENOMEM, "out of memory");
	copy->republish = republish;
	b->transition = copy;
	return KY_OK;
}

void ky_store_batch_actor(ky_store_batch *b, const ky_store_actor *actor)
{
	b->actor = *actor;
	b->actor.via = actor->via ? ky_arena_strndup(b->arena, actor->via, strlen(actor->via)) : NULL;
	b->actor.origin = actor->origin ? ky_arena_strndup(b->arena, actor->origin, strlen(actor->origin)) : NULL;
}

int ky_store_batch_commit(ky_store_batch *b, ky_store_status *statuses, uint64_t *seqs)
{
	/* Before the versions that use them, in a transaction of its own: a conjunction listed
	 * for a version that then fails opens nothing, since no version holds it. */
	bool conjunctions = false;
	for (size_t i = 0; i < b->n && !conjunctions; i++)
		conjunctions = strchr(b->items[i].keys, '&') != NULL;
	for (size_t i = 0; b->transition != NULL && i < b->transition->nrepublish && !conjunctions; i++)
		for (size_t k = 0; k < b->transition->republish[i].access->nkeys && !conjunctions; k++)
			conjunctions = strchr(b->transition->republish[i].access->keys[k], '&') != NULL;
	int rc = conjunctions ? ky_store_transact(b->store, true, batch_conjunctions_body, b) : KY_OK;
	if (rc == KY_OK && b->n)
		rc = b->store->backend->commit(b->store->impl, b->collection_id, b->items, b->n, batch_commit_body, b);
	else if (rc == KY_OK && b->transition != NULL)
		rc = ky_store_report_transition(b->store, b->transition);
	for (size_t i = 0; i < b->n; i++) {
		if (rc == KY_OK && statuses != NULL)
			statuses[i] = b->items[i].status;
		if (rc == KY_OK && seqs != NULL)
			seqs[i] = b->items[i].seq;
	}
	if (rc == KY_OK && b->n)
		committed();
	ky_store_batch_abort(b);
	return rc;
}

void ky_store_batch_abort(ky_store_batch *b)
{
	if (b == NULL)
		return;
	ky_arena_free(b->arena);
	free(b->items);
	free(b);
}

int ky_store_query_run(ky_store *s, const ky_store_query *q, ky_store_row_fn *fn, void *ctx, ky_store_page *page)
{
	ky_store_page unused;
	memset(page ? page : &unused, 0, sizeof(unused));
	if (q->scope == NULL)
		return ky_error_set(KY_EDENIED, "a read of objects names whose eyes it is for: a viewer or the operator");
	if (!q->scope->everything && q->scope->nkeys > KY_STORE_ACCESS_KEYS_MAX)
		return ky_error_set(KY_EINVALID, "a viewer has at most %d audience keys", KY_STORE_ACCESS_KEYS_MAX);
	/* An empty page's cursor is where the reader was, so that passing it on never rewinds. */
	(page ? page : &unused)->last_seq = q->after;
	return s->backend->query(s->impl, q, fn, ctx, page ? page : &unused);
}

int ky_store_stats_get(ky_store *s, ky_store_stats *out)
{
	memset(out, 0, sizeof(*out));
	return s->backend->stats(s->impl, out);
}

int ky_store_type_counts(ky_store *s, int (*fn)(void *ctx, const char *type, uint64_t count), void *ctx)
{
	return s->backend->type_counts(s->impl, fn, ctx);
}

int ky_store_check(ky_store *s)
{
	return s->backend->check(s->impl);
}

/* --- users and API keys ------------------------------------------------------------------- */

int ky_store_secret(ky_store *s, const char *name, const uint8_t *fresh, uint8_t out[KY_STORE_SECRET_SIZE])
{
	if (strlen(name) >= sizeof(s->secrets[0].name))
		return ky_error_set(KY_EINVALID, "a secret's name has at most %zu bytes", sizeof(s->secrets[0].name) - 1);
	for (size_t i = 0; i < s->nsecrets; i++) {
		if (strcmp(s->secrets[i].name, name) == 0) {
			memcpy(out, s->secrets[i].value, KY_STORE_SECRET_SIZE);
			return KY_OK;
		}
	}
	int rc = s->backend->secret(s->impl, name, fresh, ky_clock_now_us(), out);
	if (rc == KY_OK && s->nsecrets < SECRETS_HELD) {
		snprintf(s->secrets[s->nsecrets].name, sizeof(s->secrets[0].name), "%s", name);
		memcpy(s->secrets[s->nsecrets].value, out, KY_STORE_SECRET_SIZE);
		s->nsecrets++;
	}
	return rc;
}

/* --- removals ----------------------------------------------------------------------------- */

typedef struct removal_audit {
	ky_store *s;
	const ky_store_removal_filter *filter;
	int64_t user_id, now_us;
	uint64_t *vids;
	size_t n, cap;
	int64_t member_id;
} removal_audit;

static int removed_vid(void *ctx, const ky_store_cell *c, int n)
{
	(void)n;
	removal_audit *a = ctx;
	int rc = ky_grow((void **)&a->vids, &a->cap, a->n, sizeof(*a->vids));
	if (rc != KY_OK)
		return rc;
	a->vids[a->n++] = (uint64_t)ky_store_cell_int(&c[0]);
	return 0;
}

/* The removal's entry in the audit log: the versions it took out of the collection, by whom. */
static int removal_audit_body(ky_store_tx *tx, void *ctx)
{
	removal_audit *a = ctx;
	a->n = 0;
	ky_store_value v[] = {ky_sv_int(a->filter->collection_id), ky_sv_text(a->filter->id), ky_sv_int(a->now_us)};
	int rc = ky_store_run(a->s, tx,
			      "SELECT vid FROM removals WHERE collection_id = $1 AND stix_id = $2 AND removed_us = $3 ORDER BY seq",
			      v, 3, removed_vid, a, NULL);
	ky_store_value u[] = {ky_sv_int(a->user_id)};
	if (rc == KY_OK && a->user_id != 0)
		rc = ky_store_run(a->s, tx, "SELECT member_id FROM users WHERE id = $1", u, 1, ky_store_int_cell, &a->member_id, NULL);
	char detail[64];
	snprintf(detail, sizeof(detail), "{\"collection_id\":%lld}", (long long)a->filter->collection_id);
	ky_store_audit_entry e = {.at_us = a->now_us, .user_id = a->user_id, .member_id = a->member_id,
				  .via = a->user_id ? "TAXII delete object" : "kyoyu", .action = "objects.remove",
				  .subject = a->filter->id, .detail = detail, .vids = a->vids, .nvids = a->n};
	if (rc == KY_OK)
		rc = ky_store_audit_append_tx(a->s, tx, &e);
	/* The live stream's events: each removed version, for those who read it. */
	for (size_t i = 0; rc == KY_OK && i < a->n; i++) {
		ky_store_event_new gone = {.kind = "deleted", .vid = a->vids[i], .collection_id = a->filter->collection_id,
					   .stix_id = a->filter->id};
		rc = ky_store_event_tx(a->s, tx, &gone);
	}
	return rc;
}

int ky_store_remove(ky_store *s, int64_t collection_id, const char *id, unsigned versions, const char *const *modified,
		    size_t nmodified, const char *const *spec_versions, size_t nspec_versions, int64_t provider,
		    int64_t user_id, uint64_t *removed)
{
	uint64_t unused;
	uint64_t *count = removed ? removed : &unused;
	*count = 0;
	if (id == NULL || id[0] == '\0')
		return ky_error_set(KY_EINVALID, "a removal names the object whose versions it removes");
	if (versions & ~(unsigned)(KY_STORE_LAST | KY_STORE_FIRST | KY_STORE_ALL))
		return ky_error_set(KY_EINVALID, "unknown versions flags 0x%x in a removal", versions);
	if (nmodified > 64)
		return ky_error_set(KY_EINVALID, "at most 64 versions may be named in one removal, not %zu", nmodified);
	if ((nmodified > 0 && modified == NULL) || (nspec_versions > 0 && spec_versions == NULL))
		return ky_error_set(KY_EINVALID, "a removal's list of versions or spec_versions is missing");
	const ky_store_removal_filter filter = {
		.collection_id = collection_id,
		.id = id,
		.versions = versions,
		.modified = modified,
		.nmodified = nmodified,
		.spec_versions = spec_versions,
		.nspec_versions = nspec_versions,
		.provider = provider,
	};
	removal_audit a = {s, &filter, user_id, ky_clock_now_us(), NULL, 0, 0, 0};
	int rc = s->backend->remove(s->impl, &filter, user_id, a.now_us, count, removal_audit_body, &a);
	free(a.vids);
	if (rc == KY_OK && *count > 0)
		committed();
	return rc;
}

int ky_store_removal_list(ky_store *s, int64_t collection_id, int (*fn)(void *ctx, const ky_store_removal *r), void *ctx)
{
	return s->backend->removal_list(s->impl, collection_id, fn, ctx);
}

/* --- Add Objects requests ----------------------------------------------------------------- */

/* The longest request id: ky_store_request.id's room, a UUID's length. */
#define REQUEST_ID_MAX (sizeof(((ky_store_request *)0)->id) - 1)

static bool valid_request_id(const char *id)
{
	size_t n = id ? strlen(id) : 0;
	return n > 0 && n <= REQUEST_ID_MAX;
}

/* An id no request can have is one the hub has no request under. */
static int no_request(const char *id)
{
	return ky_error_set(KY_ENOTFOUND, "no request %s in this hub (an id has 1 to %zu bytes)", id ? id : "(null)",
			    REQUEST_ID_MAX);
}

int ky_store_request_add(ky_store *s, const ky_store_request *r, const char *envelope, size_t len)
{
	if (!valid_request_id(r->id))
		return ky_error_set(KY_EINVALID, "a request's id has 1 to %zu bytes", REQUEST_ID_MAX);
	if (envelope == NULL && len > 0)
		return ky_error_set(KY_EINVALID, "request %s: an envelope of %zu bytes is missing", r->id, len);
	if (r->total > INT64_MAX)
		return ky_error_set(KY_EINVALID, "request %s: %llu objects is more than a request can have", r->id,
				    (unsigned long long)r->total);
	return s->backend->request_add(s->impl, r, envelope ? envelope : "", len);
}

int ky_store_request_get(ky_store *s, const char *id, ky_store_request *out)
{
	memset(out, 0, sizeof(*out));
	if (!valid_request_id(id))
		return no_request(id);
	return s->backend->request_get(s->impl, id, out);
}

int ky_store_request_objects(ky_store *s, const char *id, int (*fn)(void *ctx, const ky_store_request_object *o),
			     void *ctx)
{
	if (!valid_request_id(id))
		return no_request(id);
	return s->backend->request_objects(s->impl, id, fn, ctx);
}

int ky_store_request_claim(ky_store *s, int64_t lease_us, ky_store_request *out, char **envelope, size_t *len)
{
	memset(out, 0, sizeof(*out));
	*envelope = NULL;
	*len = 0;
	int64_t now = ky_clock_now_us();
	if (lease_us <= 0 || lease_us > INT64_MAX - now)
		return ky_error_set(KY_EINVALID, "a claim's lease is a positive number of microseconds that ends, not %lld",
				    (long long)lease_us);
	return s->backend->request_claim(s->impl, now, lease_us, out, envelope, len);
}

#define CUT_MARK " (cut: not UTF-8)"

/* text itself when it is valid UTF-8 (or NULL); else a copy in `a`, cut before its first
 * invalid byte and marked; NULL when the copy cannot be made. */
static const char *utf8_or_cut(ky_arena *a, const char *text)
{
	size_t len = text ? strlen(text) : 0;
	if (text == NULL || ky_utf8_valid(text, len))
		return text;
	size_t keep = ky_utf8_valid_prefix(text, len);
	/* Nothing kept: the mark alone, without its leading space. */
	const char *mark = keep ? CUT_MARK : &CUT_MARK[1];
	size_t mark_len = strlen(mark);
	char *out = ky_arena_alloc(a, keep + mark_len + 1);
	if (out == NULL)
		return NULL;
	memcpy(out, text, keep);
	memcpy(out + keep, mark, mark_len + 1);
	return out;
}

static bool utf8_or_null(const char *text)
{
	return text == NULL || ky_utf8_valid(text, strlen(text));
}

int ky_store_request_record(ky_store *s, const char *id, uint64_t token, const ky_store_request_object *objects,
			    size_t n, int64_t lease_us)
{
	if (!valid_request_id(id))
		return no_request(id);
	if (objects == NULL && n > 0)
		return ky_error_set(KY_EINVALID, "request %s: %zu outcomes to record are missing", id, n);
	int64_t now = ky_clock_now_us();
	if (lease_us < 0 || lease_us > INT64_MAX - now)
		return ky_error_set(KY_EINVALID, "request %s: a lease of %lld microseconds is negative or never ends", id,
				    (long long)lease_us);
	/* PostgreSQL refuses text that is not UTF-8, and the status resource could not show it:
	 * such a string is stored cut, in a copy of the outcomes, made only when one needs it. */
	ky_store_request_object *fixed = NULL;
	ky_arena *strings = NULL;
	int rc = KY_OK;
	for (size_t i = 0; rc == KY_OK && i < n; i++) {
		const ky_store_request_object *o = &objects[i];
		if (utf8_or_null(o->id) && utf8_or_null(o->version) && utf8_or_null(o->message))
			continue;
		if (fixed == NULL) {
			fixed = malloc(n * sizeof(*fixed));
			strings = ky_arena_new();
			if (fixed == NULL || strings == NULL) {
				rc = ky_error_set(KY_ENOMEM, "out of memory recording the outcomes of request %s", id);
				break;
			}
			memcpy(fixed, objects, n * sizeof(*fixed));
		}
		fixed[i].id = utf8_or_cut(strings, o->id);
		fixed[i].version = utf8_or_cut(strings, o->version);
		fixed[i].message = utf8_or_cut(strings, o->message);
		if ((o->id && !fixed[i].id) || (o->version && !fixed[i].version) || (o->message && !fixed[i].message))
			rc = ky_error_set(KY_ENOMEM, "out of memory recording the outcomes of request %s", id);
	}
	if (rc == KY_OK)
		rc = s->backend->request_record(s->impl, id, token, fixed ? fixed : objects, n, now, lease_us);
	free(fixed);
	ky_arena_free(strings);
	return rc;
}

int ky_store_request_complete(ky_store *s, const char *id, uint64_t token)
{
	if (!valid_request_id(id))
		return no_request(id);
	return s->backend->request_complete(s->impl, id, token);
}

int ky_store_request_abandon(ky_store *s, const char *id, uint64_t token)
{
	if (!valid_request_id(id))
		return no_request(id);
	return s->backend->request_abandon(s->impl, id, token);
}
