/*
 * store_audit: the audit log's chain, written once over the statement interface
 * (store_backend.h) for both backends (store_audit.h).
 */
#include "store/store_audit.h"

#include <inttypes.h>
#include <pthread.h>
#include <jansson.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/store_backend.h"
#include "util/ky_clock.h"
#include "util/ky_error.h"
#include "util/ky_grow.h"

static void put_int(crypto_generichash_state *h, int64_t v)
{
	uint8_t b[8];
	for (int i = 0; i < 8; i++)
		b[i] = (uint8_t)((uint64_t)v >> (56 - 8 * i));
	crypto_generichash_update(h, b, sizeof(b));
}

/* A string with its length, so that no two sequences of fields give the same bytes; NULL is
 * a length no string has. */
static void put_text(crypto_generichash_state *h, const char *s, size_t len)
{
	uint8_t b[4];
	uint32_t n = s ? (uint32_t)len : UINT32_MAX;
	for (int i = 0; i < 4; i++)
		b[i] = (uint8_t)(n >> (24 - 8 * i));
	crypto_generichash_update(h, b, sizeof(b));
	if (s != NULL)
		crypto_generichash_update(h, (const uint8_t *)s, len);
}

static void put_string(crypto_generichash_state *h, const char *s)
{
	put_text(h, s, s ? strlen(s) : 0);
}

void ky_store_audit_hash(const uint8_t prev[KY_STORE_AUDIT_HASH_SIZE], const ky_store_audit_row *row,
			 uint8_t out[KY_STORE_AUDIT_HASH_SIZE])
{
	static const char domain[] = "kyoyu audit entry 1";
	crypto_generichash_state h;
	crypto_generichash_init(&h, NULL, 0, KY_STORE_AUDIT_HASH_SIZE);
	crypto_generichash_update(&h, (const uint8_t *)domain, sizeof(domain));
	crypto_generichash_update(&h, prev, KY_STORE_AUDIT_HASH_SIZE);
	put_int(&h, (int64_t)row->seq);
	put_int(&h, row->at_us);
	put_int(&h, row->user_id);
	put_int(&h, row->member_id);
	put_string(&h, row->via);
	put_string(&h, row->origin);
	put_string(&h, row->action);
	put_string(&h, row->subject);
	put_string(&h, row->detail);
	put_text(&h, row->versions, row->versions_len);
	crypto_generichash_final(&h, out, KY_STORE_AUDIT_HASH_SIZE);
}

typedef struct head {
	uint64_t seq;
	char hash[KY_STORE_AUDIT_HEX];
	bool found;
} head;

static int head_row(void *ctx, const ky_store_cell *c, int n)
{
	(void)n;
	head *h = ctx;
	h->seq = (uint64_t)ky_store_cell_int(&c[0]);
	snprintf(h->hash, sizeof(h->hash), "%s", c[1].null ? "" : c[1].text);
	h->found = true;
	return 0;
}

/* A growing text, for the JSON a group of entries is inserted as. */
typedef struct text {
	char *p;
	size_t len, cap;
	bool failed;
} text;

static void add(text *t, const char *s, size_t n)
{
	if (t->failed)
		return;
	if (t->len + n + 1 > t->cap) {
		size_t cap = t->cap ? t->cap : 4096;
		while (t->len + n + 1 > cap)
			cap *= 2;
		char *grown = realloc(t->p, cap);
		if (grown == NULL) {
			t->failed = true;
			return;
		}
		t->p = grown;
		t->cap = cap;
	}
	memcpy(t->p + t->len, s, n);
	t->len += n;
	t->p[t->len] = '\0';
}

static void add_json(text *t, const char *s)
{
	if (s == NULL) {
		add(t, "null", 4);
		return;
	}
	json_t *j = json_string(s);
	char *dumped = j ? json_dumps(j, JSON_ENCODE_ANY) : NULL;
	if (dumped == NULL)
		t->failed = true;
	else
		add(t, dumped, strlen(dumped));
	free(dumped);
	json_decref(j);
}

static void add_int(text *t, const char *sep, int64_t v, bool null_when_zero)
{
	char b[32];
	int n = null_when_zero && v == 0 ? snprintf(b, sizeof(b), "%snull", sep)
					 : snprintf(b, sizeof(b), "%s%" PRId64, sep, v);
	add(t, b, (size_t)n);
}

static int by_number(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

/* The versions as an entry keeps them: sorted, each once, runs of consecutive numbers as
 * "first-last" ("12-111,140"), since a page of a collection is mostly one run; NULL for none.
 * Their buckets (KY_STORE_AUDIT_BUCKET) go into *buckets (each once). The caller frees both. */
static char *versions_text(const uint64_t *vids, size_t n, size_t *len, uint64_t **buckets, size_t *nbuckets)
{
	*len = 0;
	*buckets = NULL;
	*nbuckets = 0;
	if (n == 0)
		return NULL;
	uint64_t *sorted = malloc(n * sizeof(*sorted));
	char *out = malloc(n * 42 + 1);
	uint64_t *b = malloc(n * sizeof(*b));
	if (sorted == NULL || out == NULL || b == NULL) {
		free(sorted);
		free(out);
		free(b);
		return NULL;
	}
	memcpy(sorted, vids, n * sizeof(*sorted));
	qsort(sorted, n, sizeof(*sorted), by_number);
	for (size_t i = 0; i < n;) {
		size_t j = i;
		while (j + 1 < n && (sorted[j + 1] == sorted[j] || sorted[j + 1] == sorted[j] + 1))
			j++;
		if (sorted[j] == sorted[i])
			*len += (size_t)sprintf(out + *len, "%s%" PRIu64, *len ? "," : "", sorted[i]);
		else
			*len += (size_t)sprintf(out + *len, "%s%" PRIu64 "-%" PRIu64, *len ? "," : "", sorted[i], sorted[j]);
		for (uint64_t k = sorted[i] / KY_STORE_AUDIT_BUCKET; k <= sorted[j] / KY_STORE_AUDIT_BUCKET; k++)
			if (*nbuckets == 0 || b[*nbuckets - 1] != k)
				b[(*nbuckets)++] = k;
		i = j + 1;
	}
	free(sorted);
	*buckets = b;
	return out;
}

/* Calls fn for each run first..last of a versions text; nonzero stops and is returned. */
static int each_run(const char *versions, size_t len, int (*fn)(void *ctx, uint64_t first, uint64_t last), void *ctx)
{
	const char *p = versions, *end = versions + len;
	while (p != NULL && p < end) {
		char *after;
		uint64_t first = strtoull(p, &after, 10), last = first;
		if (after < end && *after == '-')
			last = strtoull(after + 1, &after, 10);
		int rc = fn(ctx, first, last);
		if (rc != 0)
			return rc;
		p = after < end && *after == ',' ? after + 1 : NULL;
	}
	return 0;
}

typedef struct holding {
	uint64_t vid;                 /* the version looked for */
	uint64_t count, buckets, last_bucket;
} holding;

static int run_holds(void *ctx, uint64_t first, uint64_t last)
{
	holding *h = ctx;
	return h->vid >= first && h->vid <= last;
}

bool ky_store_audit_versions_hold(const char *versions, size_t len, uint64_t vid)
{
	holding h = {.vid = vid};
	return versions != NULL && each_run(versions, len, run_holds, &h) == 1;
}

static int run_counted(void *ctx, uint64_t first, uint64_t last)
{
	holding *h = ctx;
	h->count += last - first + 1;
	/* Runs are sorted: a bucket shared with the run before is counted once. */
	for (uint64_t k = first / KY_STORE_AUDIT_BUCKET; k <= last / KY_STORE_AUDIT_BUCKET; k++)
		if (h->buckets == 0 || h->last_bucket != k) {
			h->last_bucket = k;
			h->buckets++;
		}
	return 0;
}

void ky_store_audit_versions_count(const char *versions, size_t len, uint64_t *count, uint64_t *buckets)
{
	holding h = {0};
	if (versions != NULL)
		each_run(versions, len, run_counted, &h);
	*count = h.count;
	*buckets = h.buckets;
}

/*
 * PostgreSQL's statements for a group: the entries and the index rows arrive as one JSON text
 * each, so that a group of a thousand reads is four statements, not thousands (each statement
 * is a round trip; the writer must keep up with the server). As jsonb, parsed once: as json,
 * every ->> lexed its element again, the writer's backend's main cost. SQLite, in process,
 * runs one prepared statement per row (insert_row).
 */
static const char insert_entries[] =
	"INSERT INTO audit (seq, at_us, user_id, member_id, via, origin, action, subject, detail, versions, hash)"
	" SELECT (e->>0)::bigint, (e->>1)::bigint, (e->>2)::bigint, (e->>3)::bigint, e->>4, e->>5, e->>6, e->>7,"
	" e->>8, e->>9, e->>10 FROM jsonb_array_elements($1::jsonb) e";
static const char insert_index[] = "INSERT INTO audit_buckets (bucket, seq) SELECT (e->>1)::bigint, (e->>0)::bigint"
				   " FROM jsonb_array_elements($1::jsonb) e ON CONFLICT DO NOTHING";

static int insert_row(ky_store *s, ky_store_tx *tx, const ky_store_audit_row *row, const char *hash,
		      const uint64_t *buckets, size_t nbuckets)
{
	ky_store_value v[] = {ky_sv_int((int64_t)row->seq),
			      ky_sv_int(row->at_us),
			      row->user_id ? ky_sv_int(row->user_id) : ky_sv_null(),
			      row->member_id ? ky_sv_int(row->member_id) : ky_sv_null(),
			      ky_sv_text(row->via),
			      ky_sv_text(row->origin),
			      ky_sv_text(row->action),
			      ky_sv_text(row->subject),
			      ky_sv_text(row->detail),
			      ky_sv_text(row->versions),
			      ky_sv_text(hash)};
	int rc = ky_store_run(s, tx,
			      "INSERT INTO audit (seq, at_us, user_id, member_id, via, origin, action, subject, detail, versions,"
			      " hash) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
			      v, 11, NULL, NULL, NULL);
	for (size_t k = 0; rc == KY_OK && k < nbuckets; k++) {
		ky_store_value b[] = {ky_sv_int((int64_t)buckets[k]), ky_sv_int((int64_t)row->seq)};
		rc = ky_store_run(s, tx, "INSERT INTO audit_buckets (bucket, seq) VALUES ($1, $2) ON CONFLICT DO NOTHING", b, 2,
				  NULL, NULL, NULL);
	}
	return rc;
}

static int append_group(ky_store *s, ky_store_tx *tx, const ky_store_audit_entry *entries, size_t n)
{
	head h = {0};
	ky_store_value count[] = {ky_sv_int((int64_t)n)};
	int rc = ky_store_run(s, tx, "UPDATE audit_head SET seq = seq + $1 WHERE id = 1 RETURNING seq, hash", count, 1,
			      head_row, &h, NULL);
	if (rc == KY_OK && !h.found)
		rc = ky_error_set(KY_ERROR, "the audit log has no head row: run kyoyu migrate");
	if (rc != KY_OK)
		return rc;
	uint8_t prev[KY_STORE_AUDIT_HASH_SIZE] = {0}, hash[KY_STORE_AUDIT_HASH_SIZE];
	if (h.hash[0] != '\0' && sodium_hex2bin(prev, sizeof(prev), h.hash, strlen(h.hash), NULL, NULL, NULL) != 0)
		return ky_error_set(KY_ERROR, "the audit log's head holds a hash that is not hex");
	int pg = ky_store_is_postgresql(s);
	text rows = {0}, index = {0};
	char hex[KY_STORE_AUDIT_HEX];
	add(&rows, "[", 1);
	add(&index, "[", 1);
	int64_t now = ky_clock_now_us();
	size_t indexed = 0;
	for (size_t i = 0; rc == KY_OK && i < n && !rows.failed && !index.failed; i++) {
		const ky_store_audit_entry *e = &entries[i];
		size_t versions_len, nbuckets;
		uint64_t *buckets;
		char *versions = versions_text(e->vids, e->nvids, &versions_len, &buckets, &nbuckets);
		if (e->nvids > 0 && versions == NULL) {
			rows.failed = true;
			break;
		}
		ky_store_audit_row row = {.seq = h.seq - n + 1 + i, .at_us = e->at_us ? e->at_us : now,
					  .user_id = e->user_id, .member_id = e->member_id, .via = e->via,
					  .origin = e->origin, .action = e->action, .subject = e->subject,
					  .detail = e->detail, .versions = versions, .versions_len = versions_len};
		ky_store_audit_hash(prev, &row, hash);
		memcpy(prev, hash, sizeof(hash));
		sodium_bin2hex(hex, sizeof(hex), hash, sizeof(hash));
		if (!pg) {
			/* SQLite has no round trips to save: a prepared statement per row is cheaper
			 * than parsing JSON back into rows. */
			rc = insert_row(s, tx, &row, hex, buckets, nbuckets);
			free(versions);
			free(buckets);
			if (rc != KY_OK)
				break;
			continue;
		}
		add_int(&rows, i ? ",[" : "[", (int64_t)row.seq, false);
		add_int(&rows, ",", row.at_us, false);
		add_int(&rows, ",", row.user_id, true);
		add_int(&rows, ",", row.member_id, true);
		const char *texts[] = {row.via, row.origin, row.action, row.subject, row.detail, versions, hex};
		for (size_t k = 0; k < sizeof(texts) / sizeof(texts[0]); k++) {
			add(&rows, ",", 1);
			add_json(&rows, texts[k]);
		}
		add(&rows, "]", 1);
		for (size_t k = 0; k < nbuckets; k++) {
			char pair[64];
			int len = snprintf(pair, sizeof(pair), "%s[%" PRIu64 ",%" PRIu64 "]", indexed++ ? "," : "", row.seq,
					   buckets[k]);
			add(&index, pair, (size_t)len);
		}
		free(versions);
		free(buckets);
	}
	add(&rows, "]", 1);
	add(&index, "]", 1);
	if (rows.failed || index.failed)
		rc = ky_error_set(KY_ENOMEM, "out of memory");
	ky_store_value rows_value[] = {ky_sv_text(rows.p)}, index_value[] = {ky_sv_text(index.p)},
		       head_value[] = {ky_sv_text(hex)};
	if (rc == KY_OK && pg)
		rc = ky_store_run(s, tx, insert_entries, rows_value, 1, NULL, NULL, NULL);
	if (rc == KY_OK && pg && indexed > 0)
		rc = ky_store_run(s, tx, insert_index, index_value, 1, NULL, NULL, NULL);
	if (rc == KY_OK)
		rc = ky_store_run(s, tx, "UPDATE audit_head SET hash = $1 WHERE id = 1", head_value, 1, NULL, NULL, NULL);
	free(rows.p);
	free(index.p);
	return rc;
}

int ky_store_audit_append_tx(ky_store *s, ky_store_tx *tx, const ky_store_audit_entry *e)
{
	return append_group(s, tx, e, 1);
}

typedef struct append_op {
	ky_store *s;
	const ky_store_audit_entry *entries;
	size_t n;
} append_op;

static int append_body(ky_store_tx *tx, void *ctx)
{
	append_op *op = ctx;
	return append_group(op->s, tx, op->entries, op->n);
}

int ky_store_audit_append(ky_store *s, const ky_store_audit_entry *entries, size_t n)
{
	if (n == 0)
		return KY_OK;
	append_op op = {s, entries, n};
	return ky_store_transact(s, true, append_body, &op);
}

/* --- reading ------------------------------------------------------------------------------ */

#define ROW_COLUMNS                                                                                       \
	"SELECT a.seq, a.at_us, a.user_id, a.member_id, a.via, a.origin, a.action, a.subject, a.detail,"   \
	" a.versions, a.hash"

#define SCAN_PAGE 1000

typedef struct scan_op {
	ky_store *s;
	uint64_t after;
	ky_store_audit_row_fn *fn;
	void *ctx;
	size_t n;
	int stop;
	bool names;
} scan_op;

static int audit_row(void *ctx, const ky_store_cell *c, int n)
{
	(void)n;
	scan_op *op = ctx;
	ky_store_audit_row row = {
		.seq = (uint64_t)ky_store_cell_int(&c[0]),
		.at_us = ky_store_cell_int(&c[1]),
		.user_id = ky_store_cell_int(&c[2]),
		.member_id = ky_store_cell_int(&c[3]),
		.via = c[4].null ? NULL : c[4].text,
		.origin = c[5].null ? NULL : c[5].text,
		.action = c[6].null ? NULL : c[6].text,
		.subject = c[7].null ? NULL : c[7].text,
		.detail = c[8].null ? NULL : c[8].text,
		.versions = c[9].null ? NULL : c[9].text,
		.versions_len = c[9].null ? 0 : c[9].len,
		.hash = c[10].text,
		.user = op->names ? c[11].text : "",
		.member = op->names ? c[12].text : "",
	};
	op->after = row.seq;
	op->n++;
	op->stop = op->fn(op->ctx, &row);
	return op->stop;
}

static int scan_body(ky_store_tx *tx, void *ctx)
{
	scan_op *op = ctx;
	ky_store_value v[] = {ky_sv_int((int64_t)op->after), ky_sv_int(SCAN_PAGE)};
	return ky_store_run(op->s, tx, ROW_COLUMNS " FROM audit a WHERE a.seq > $1 ORDER BY a.seq LIMIT $2", v, 2, audit_row,
			    op, NULL);
}

int ky_store_audit_scan(ky_store *s, uint64_t after, ky_store_audit_row_fn *fn, void *ctx)
{
	scan_op op = {.s = s, .after = after, .fn = fn, .ctx = ctx};
	int rc;
	do {
		op.n = 0;
		rc = ky_store_transact(s, false, scan_body, &op);
	} while (rc == KY_OK && op.stop == 0 && op.n == SCAN_PAGE);
	return rc < 0 ? rc : KY_OK;
}

typedef struct head_op {
	ky_store *s;
	head h;
} head_op;

static int head_body(ky_store_tx *tx, void *ctx)
{
	head_op *op = ctx;
	return ky_store_run(op->s, tx, "SELECT seq, hash FROM audit_head WHERE id = 1", NULL, 0, head_row, &op->h, NULL);
}

int ky_store_audit_head(ky_store *s, uint64_t *seq, char hash[KY_STORE_AUDIT_HEX])
{
	head_op op = {.s = s};
	int rc = ky_store_transact(s, false, head_body, &op);
	*seq = op.h.seq;
	snprintf(hash, KY_STORE_AUDIT_HEX, "%s", op.h.hash);
	return rc;
}

static int count_cell(void *ctx, const ky_store_cell *c, int n)
{
	(void)n;
	*(uint64_t *)ctx = (uint64_t)ky_store_cell_int(&c[0]);
	return 0;
}

typedef struct count_op {
	ky_store *s;
	uint64_t count;
} count_op;

static int index_count_body(ky_store_tx *tx, void *ctx)
{
	count_op *op = ctx;
	return ky_store_run(op->s, tx, "SELECT COUNT(*) FROM audit_buckets", NULL, 0, count_cell, &op->count, NULL);
}

int ky_store_audit_index_count(ky_store *s, uint64_t *count)
{
	count_op op = {s, 0};
	int rc = ky_store_transact(s, false, index_count_body, &op);
	*count = op.count;
	return rc;
}

/* --- checkpoints ------------------------------------------------------------------------- */

typedef struct checkpoint_op {
	ky_store *s;
	const ky_store_audit_checkpoint *c;
	int (*fn)(void *ctx, const ky_store_audit_checkpoint *c);
	void *ctx;
} checkpoint_op;

static int checkpoint_add_body(ky_store_tx *tx, void *ctx)
{
	checkpoint_op *op = ctx;
	ky_store_value v[] = {ky_sv_int((int64_t)op->c->seq), ky_sv_int(op->c->at_us), ky_sv_text(op->c->hash),
			      ky_sv_text(op->c->public_key), ky_sv_text(op->c->signature)};
	return ky_store_run(op->s, tx,
			    "INSERT INTO audit_checkpoints (seq, at_us, hash, public_key, signature) VALUES ($1, $2, $3, $4, $5)"
			    " ON CONFLICT DO NOTHING",
			    v, 5, NULL, NULL, NULL);
}

int ky_store_audit_checkpoint_add(ky_store *s, const ky_store_audit_checkpoint *c)
{
	checkpoint_op op = {.s = s, .c = c};
	return ky_store_transact(s, true, checkpoint_add_body, &op);
}

static int checkpoint_row(void *ctx, const ky_store_cell *c, int n)
{
	(void)n;
	checkpoint_op *op = ctx;
	ky_store_audit_checkpoint cp = {.seq = (uint64_t)ky_store_cell_int(&c[0]), .at_us = ky_store_cell_int(&c[1]),
					.hash = c[2].text, .public_key = c[3].text, .signature = c[4].text};
	return op->fn(op->ctx, &cp);
}

static int checkpoint_list_body(ky_store_tx *tx, void *ctx)
{
	checkpoint_op *op = ctx;
	return ky_store_run(op->s, tx, "SELECT seq, at_us, hash, public_key, signature FROM audit_checkpoints ORDER BY seq",
			    NULL, 0, checkpoint_row, op, NULL);
}

int ky_store_audit_checkpoint_list(ky_store *s, int (*fn)(void *ctx, const ky_store_audit_checkpoint *c), void *ctx)
{
	checkpoint_op op = {.s = s, .fn = fn, .ctx = ctx};
	int rc = ky_store_transact(s, false, checkpoint_list_body, &op);
	return rc < 0 ? rc : KY_OK;
}

/* --- finding ------------------------------------------------------------------------------ */

typedef struct find_op {
	scan_op scan;
	const ky_store_audit_filter *f;
	uint64_t *vids;               /* the object's versions, when f->object */
	size_t nvids, cap, found;
	ky_store_audit_row_fn *fn;
	void *ctx;
} find_op;

static int object_vid(void *ctx, const ky_store_cell *c, int n)
{
	(void)n;
	find_op *op = ctx;
	int rc = ky_grow((void **)&op->vids, &op->cap, op->nvids, sizeof(*op->vids));
	if (rc != KY_OK)
		return rc;
	op->vids[op->nvids++] = (uint64_t)ky_store_cell_int(&c[0]);
	return 0;
}

/* The index names the entries that read a version near one of the object's: each is held to
 * its versions before it is passed on. */
static int found_row(void *ctx, const ky_store_audit_row *row)
{
	find_op *op = ctx;
	bool holds = op->f->object == NULL;
	for (size_t i = 0; !holds && i < op->nvids; i++)
		holds = ky_store_audit_versions_hold(row->versions, row->versions_len, op->vids[i]);
	if (!holds)
		return 0;
	int rc = op->fn(op->ctx, row);
	return rc != 0 ? rc : ++op->found == (op->f->limit ? op->f->limit : 1000);
}

static int find_body(ky_store_tx *tx, void *ctx)
{
	find_op *op = ctx;
	const ky_store_audit_filter *f = op->f;
	char sql[1024];
	ky_store_value v[6];
	int n = 0;
	op->nvids = op->found = 0;
	if (f->object != NULL) {
		ky_store_value id[] = {ky_sv_text(f->object)};
		int rc = ky_store_run(op->scan.s, tx, "SELECT vid FROM versions WHERE stix_id = $1", id, 1, object_vid, op, NULL);
		if (rc != KY_OK || op->nvids == 0)
			return rc;
	}
	size_t len = (size_t)snprintf(sql, sizeof(sql),
				      ROW_COLUMNS ", COALESCE(u.name, ''), COALESCE(m.name, '') FROM audit a"
						  " LEFT JOIN users u ON u.id = a.user_id LEFT JOIN members m ON m.id = a.member_id"
						  " WHERE 1 = 1");
	if (f->object != NULL) {
		v[n++] = ky_sv_text(f->object);
		len += (size_t)snprintf(sql + len, sizeof(sql) - len,
					" AND a.seq IN (SELECT ab.seq FROM versions ov JOIN audit_buckets ab"
					" ON ab.bucket = ov.vid / %d WHERE ov.stix_id = $%d)",
					KY_STORE_AUDIT_BUCKET, n);
	}
	if (f->member_id != 0) {
		v[n++] = ky_sv_int(f->member_id);
		len += (size_t)snprintf(sql + len, sizeof(sql) - len, " AND a.member_id = $%d", n);
	}
	if (f->user_id != 0) {
		v[n++] = ky_sv_int(f->user_id);
		len += (size_t)snprintf(sql + len, sizeof(sql) - len, " AND a.user_id = $%d", n);
	}
	if (f->since_us != 0) {
		v[n++] = ky_sv_int(f->since_us);
		len += (size_t)snprintf(sql + len, sizeof(sql) - len, " AND a.at_us >= $%d", n);
	}
	/* With an object, the limit counts the entries that hold it, not the index's candidates. */
	if (f->object == NULL) {
		v[n++] = ky_sv_int((int64_t)(f->limit ? f->limit : 1000));
		snprintf(sql + len, sizeof(sql) - len, " ORDER BY a.seq DESC LIMIT $%d", n);
	} else {
		snprintf(sql + len, sizeof(sql) - len, " ORDER BY a.seq DESC");
	}
	return ky_store_run(op->scan.s, tx, sql, v, n, audit_row, &op->scan, NULL);
}

int ky_store_audit_find(ky_store *s, const ky_store_audit_filter *f, ky_store_audit_row_fn *fn, void *ctx)
{
	find_op op = {.f = f, .fn = fn, .ctx = ctx};
	op.scan = (scan_op){.s = s, .fn = found_row, .ctx = &op, .names = true};
	int rc = ky_store_transact(s, false, find_body, &op);
	free(op.vids);
	return rc < 0 ? rc : KY_OK;
}

typedef struct provided {
	uint64_t vid;
	char *id;
} provided;

typedef struct reading {
	size_t object;                /* index into the objects of the provider */
	int64_t member;
} reading;

typedef struct readers_op {
	ky_store *s;
	int64_t member;
	provided *objects;            /* the provider's versions, by vid */
	size_t n, cap;
	reading *reads;
	size_t nreads, rcap;
	int64_t reader;               /* of the entry being read */
	int status;
} readers_op;

static int provided_row(void *ctx, const ky_store_cell *c, int n)
{
	(void)n;
	readers_op *op = ctx;
	int rc = ky_grow((void **)&op->objects, &op->cap, op->n, sizeof(*op->objects));
	if (rc != KY_OK)
		return rc;
	op->objects[op->n].vid = (uint64_t)ky_store_cell_int(&c[0]);
	if ((op->objects[op->n].id = strdup(c[1].text)) == NULL)
		return ky_error_set(KY_ENOMEM, "out of memory");
	op->n++;
	return 0;
}

/* Notes a reading of each of the provider's versions in first..last. */
static int run_read(void *ctx, uint64_t first, uint64_t last)
{
	readers_op *op = ctx;
	size_t lo = 0, hi = op->n;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		if (op->objects[mid].vid < first)
			lo = mid + 1;
		else
			hi = mid;
	}
	for (size_t i = lo; i < op->n && op->objects[i].vid <= last; i++) {
		if (ky_grow((void **)&op->reads, &op->rcap, op->nreads, sizeof(*op->reads)) != KY_OK)
			return op->status = KY_ENOMEM;
		op->reads[op->nreads++] = (reading){i, op->reader};
	}
	return 0;
}

static int candidate_row(void *ctx, const ky_store_cell *c, int n)
{
	(void)n;
	readers_op *op = ctx;
	op->reader = ky_store_cell_int(&c[0]);
	return c[1].null ? 0 : each_run(c[1].text, c[1].len, run_read, op);
}

static int readers_body(ky_store_tx *tx, void *ctx)
{
	readers_op *op = ctx;
	ky_store_value v[] = {ky_sv_int(op->member)};
	char sql[512];
	int rc = ky_store_run(op->s, tx, "SELECT vid, stix_id FROM versions WHERE provider_id = $1 ORDER BY vid", v, 1,
			      provided_row, op, NULL);
	snprintf(sql, sizeof(sql),
		 "SELECT a.member_id, a.versions FROM audit a WHERE a.action = 'read' AND a.member_id <> $1"
		 " AND a.seq IN (SELECT b.seq FROM versions v JOIN audit_buckets b ON b.bucket = v.vid / %d"
		 " WHERE v.provider_id = $1)",
		 KY_STORE_AUDIT_BUCKET);
	if (rc == KY_OK && op->n > 0)
		rc = ky_store_run(op->s, tx, sql, v, 1, candidate_row, op, NULL);
	return rc != KY_OK ? rc : op->status;
}

static const provided *sorting_objects;

static int by_object_and_reader(const void *a, const void *b)
{
	const reading *x = a, *y = b;
	int c = strcmp(sorting_objects[x->object].id, sorting_objects[y->object].id);
	return c != 0 ? c : (x->member > y->member) - (x->member < y->member);
}

int ky_store_audit_readers(ky_store *s, int64_t member, int (*fn)(void *ctx, const char *id, uint64_t members),
			   void *ctx)
{
	readers_op op = {.s = s, .member = member};
	int rc = ky_store_transact(s, false, readers_body, &op);
	if (rc == KY_OK && op.nreads > 0) {
		/* qsort has no context: the objects are read-only here, and one call at a time per
		 * thread is what the store promises anyway. */
		static pthread_mutex_t sorting = PTHREAD_MUTEX_INITIALIZER;
		pthread_mutex_lock(&sorting);
		sorting_objects = op.objects;
		qsort(op.reads, op.nreads, sizeof(*op.reads), by_object_and_reader);
		pthread_mutex_unlock(&sorting);
	}
	/* Each (object, member) once; several versions of one object are one object. */
	for (size_t i = 0; rc == KY_OK && i < op.nreads;) {
		const char *id = op.objects[op.reads[i].object].id;
		uint64_t members = 0;
		size_t j = i;
		for (; j < op.nreads && strcmp(op.objects[op.reads[j].object].id, id) == 0; j++)
			members += j == i || op.reads[j].member != op.reads[j - 1].member;
		rc = fn(ctx, id, members);
		i = j;
	}
	for (size_t i = 0; i < op.n; i++)
		free(op.objects[i].id);
	free(op.objects);
	free(op.reads);
	return rc < 0 ? rc : KY_OK;
}
