/*
 * audit: checkpoints, verification and the writer of read entries (audit.h).
 */
#include "audit/audit.h"

#include <errno.h>
#include <stdarg.h>
#include <inttypes.h>
#include <jansson.h>
#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "auth/auth.h"
#include "util/ky_clock.h"
#include "util/ky_error.h"
#include "util/ky_grow.h"

#define SIGNING_SECRET "audit-signing"

void ky_audit_checkpoint_path(const ky_config *config, const char *db, char *out, size_t cap)
{
	if (config != NULL && config->audit_checkpoints[0] != '\0')
		snprintf(out, cap, "%s", config->audit_checkpoints);
	else if (strncmp(db, "postgres", 8) == 0)
		snprintf(out, cap, "kyoyu-audit.checkpoints");
	else
		snprintf(out, cap, "%s.checkpoints", db);
}

/* The hub's signing key pair, from its secret (made on first use). */
static int key_pair(ky_store *s, uint8_t pk[crypto_sign_PUBLICKEYBYTES], uint8_t sk[crypto_sign_SECRETKEYBYTES])
{
	uint8_t fresh[KY_STORE_SECRET_SIZE], seed[KY_STORE_SECRET_SIZE];
	_Static_assert(KY_STORE_SECRET_SIZE == crypto_sign_SEEDBYTES, "a hub secret is an Ed25519 seed");
	int rc = ky_auth_init();
	if (rc != KY_OK)
		return rc;
	randombytes_buf(fresh, sizeof(fresh));
	rc = ky_store_secret(s, SIGNING_SECRET, fresh, seed);
	if (rc == KY_OK)
		crypto_sign_seed_keypair(pk, sk, seed);
	sodium_memzero(fresh, sizeof(fresh));
	sodium_memzero(seed, sizeof(seed));
	return rc;
}

int ky_audit_public_key(ky_store *s, char out[KY_AUDIT_KEY_HEX])
{
	uint8_t pk[crypto_sign_PUBLICKEYBYTES], sk[crypto_sign_SECRETKEYBYTES];
	int rc = key_pair(s, pk, sk);
	sodium_memzero(sk, sizeof(sk));
	if (rc == KY_OK)
		sodium_bin2hex(out, KY_AUDIT_KEY_HEX, pk, sizeof(pk));
	return rc;
}

/* What a checkpoint's signature covers. */
static int signed_text(uint64_t seq, int64_t at_us, const char *hash, char *out, size_t cap)
{
	return snprintf(out, cap, "kyoyu audit checkpoint 1\n%" PRIu64 "\n%" PRId64 "\n%s", seq, at_us, hash);
}

static int last_checkpoint(void *ctx, const ky_store_audit_checkpoint *c)
{
	*(uint64_t *)ctx = c->seq;
	return 0;
}

/* Appends the checkpoint as one JSON line, synced: it is the copy that leaves the machine. */
static int append_line(const char *file, const ky_store_audit_checkpoint *c)
{
	json_t *line = json_pack("{s:I,s:I,s:s,s:s,s:s}", "seq", (json_int_t)c->seq, "at_us", (json_int_t)c->at_us, "hash",
				 c->hash, "public_key", c->public_key, "signature", c->signature);
	char *text = line ? json_dumps(line, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
	json_decref(line);
	if (text == NULL)
		return ky_error_set(KY_ENOMEM, "out of memory");
	FILE *f = fopen(file, "a");
	int rc = KY_OK;
	if (f == NULL || fprintf(f, "%s\n", text) < 0 || fflush(f) != 0 || fsync(fileno(f)) != 0)
		rc = ky_error_set(KY_ERROR, "cannot append the audit checkpoint to %s: %s (the database keeps it)", file,
				  strerror(errno));
	if (f != NULL && fclose(f) != 0 && rc == KY_OK)
		rc = ky_error_set(KY_ERROR, "cannot append the audit checkpoint to %s: %s", file, strerror(errno));
	free(text);
	return rc;
}

int ky_audit_checkpoint(ky_store *s, const char *file, bool *made)
{
	bool unused;
	bool *out = made ? made : &unused;
	*out = false;
	uint64_t seq, signed_seq = 0;
	char hash[KY_STORE_AUDIT_HEX];
	int rc = ky_store_audit_head(s, &seq, hash);
	if (rc == KY_OK)
		rc = ky_store_audit_checkpoint_list(s, last_checkpoint, &signed_seq);
	if (rc != KY_OK || seq == 0 || seq == signed_seq)
		return rc;
	uint8_t pk[crypto_sign_PUBLICKEYBYTES], sk[crypto_sign_SECRETKEYBYTES], sig[crypto_sign_BYTES];
	rc = key_pair(s, pk, sk);
	if (rc != KY_OK)
		return rc;
	int64_t now = ky_clock_now_us();
	char text[256], pk_hex[KY_AUDIT_KEY_HEX], sig_hex[2 * crypto_sign_BYTES + 1];
	signed_text(seq, now, hash, text, sizeof(text));
	crypto_sign_detached(sig, NULL, (const uint8_t *)text, strlen(text), sk);
	sodium_memzero(sk, sizeof(sk));
	sodium_bin2hex(pk_hex, sizeof(pk_hex), pk, sizeof(pk));
	sodium_bin2hex(sig_hex, sizeof(sig_hex), sig, sizeof(sig));
	ky_store_audit_checkpoint c = {.seq = seq, .at_us = now, .hash = hash, .public_key = pk_hex, .signature = sig_hex};
	rc = ky_store_audit_checkpoint_add(s, &c);
	if (rc == KY_OK)
		*out = true;
	if (rc == KY_OK && file != NULL)
		rc = append_line(file, &c);
	return rc;
}

/* --- verification ---------------------------------------------------------------------------- */

typedef struct checkpoint {
	uint64_t seq;
	int64_t at_us;
	char hash[KY_STORE_AUDIT_HEX];
	char public_key[KY_AUDIT_KEY_HEX];
	char signature[2 * crypto_sign_BYTES + 1];
	const char *from;              /* "the database", or the file's name */
} checkpoint;

typedef struct verifying {
	ky_audit_verdict *v;
	checkpoint *cps;
	size_t ncps, cap;
	const char *from;
	size_t next_cp;                /* the next checkpoint the scan reaches */
	uint64_t expected;             /* the number the next entry must have */
	uint8_t prev[KY_STORE_AUDIT_HASH_SIZE];
	uint64_t buckets;              /* index rows the entries' versions make */
	uint64_t last_good_cp;         /* the entry of the last checkpoint passed */
	int status;
} verifying;

static void fail(verifying *x, uint64_t first_bad, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static void fail(verifying *x, uint64_t first_bad, const char *fmt, ...)
{
	if (!x->v->intact)
		return;
	x->v->intact = false;
	x->v->first_bad = first_bad;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(x->v->problem, sizeof(x->v->problem), fmt, ap);
	va_end(ap);
}

static int keep_checkpoint(verifying *x, uint64_t seq, int64_t at_us, const char *hash, const char *pk, const char *sig)
{
	int rc = ky_grow((void **)&x->cps, &x->cap, x->ncps, sizeof(*x->cps));
	if (rc != KY_OK)
		return rc;
	checkpoint *c = &x->cps[x->ncps++];
	c->seq = seq;
	c->at_us = at_us;
	snprintf(c->hash, sizeof(c->hash), "%s", hash);
	snprintf(c->public_key, sizeof(c->public_key), "%s", pk);
	snprintf(c->signature, sizeof(c->signature), "%s", sig);
	c->from = x->from;
	return KY_OK;
}

static int db_checkpoint(void *ctx, const ky_store_audit_checkpoint *c)
{
	return keep_checkpoint(ctx, c->seq, c->at_us, c->hash, c->public_key, c->signature);
}

static int read_file(verifying *x, const char *file)
{
	FILE *f = fopen(file, "r");
	if (f == NULL)
		return errno == ENOENT ? KY_OK : ky_error_set(KY_ERROR, "cannot read %s: %s", file, strerror(errno));
	char line[1024];
	int rc = KY_OK;
	for (size_t n = 1; rc == KY_OK && fgets(line, sizeof(line), f) != NULL; n++) {
		json_error_t e;
		json_t *o = json_loads(line, 0, &e);
		const char *hash = json_string_value(json_object_get(o, "hash"));
		const char *pk = json_string_value(json_object_get(o, "public_key"));
		const char *sig = json_string_value(json_object_get(o, "signature"));
		json_t *seq = json_object_get(o, "seq"), *at = json_object_get(o, "at_us");
		if (!json_is_integer(seq) || !json_is_integer(at) || hash == NULL || pk == NULL || sig == NULL)
			rc = ky_error_set(KY_EINVALID,
					  "%s line %zu is not a checkpoint (one JSON object per line: seq, at_us, hash,"
					  " public_key, signature)",
					  file, n);
		else
			rc = keep_checkpoint(x, (uint64_t)json_integer_value(seq), (int64_t)json_integer_value(at), hash, pk,
					     sig);
		json_decref(o);
	}
	fclose(f);
	return rc;
}

static int by_seq(const void *a, const void *b)
{
	const checkpoint *x = a, *y = b;
	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* Sorts the checkpoints and checks each one's signature, and that two copies of one agree. */
static void check_checkpoints(verifying *x, const char *public_key)
{
	if (x->ncps > 0)
		qsort(x->cps, x->ncps, sizeof(*x->cps), by_seq);
	uint8_t pk[crypto_sign_PUBLICKEYBYTES];
	sodium_hex2bin(pk, sizeof(pk), public_key, strlen(public_key), NULL, NULL, NULL);
	for (size_t i = 0; i < x->ncps && x->v->intact; i++) {
		const checkpoint *c = &x->cps[i];
		char text[256], when[40];
		uint8_t sig[crypto_sign_BYTES];
		size_t len = 0;
		ky_clock_format(c->at_us, when);
		signed_text(c->seq, c->at_us, c->hash, text, sizeof(text));
		if (strcmp(c->public_key, public_key) != 0)
			fail(x, 0, "the checkpoint of entry %" PRIu64 " (%s, in %s) is signed by another key than this hub's (%s)",
			     c->seq, when, c->from, public_key);
		else if (sodium_hex2bin(sig, sizeof(sig), c->signature, strlen(c->signature), NULL, &len, NULL) != 0 ||
			 len != sizeof(sig) || crypto_sign_verify_detached(sig, (const uint8_t *)text, strlen(text), pk) != 0)
			fail(x, 0, "the checkpoint of entry %" PRIu64 " (%s, in %s) has a signature that does not verify: it was"
				   " altered",
			     c->seq, when, c->from);
		else if (i > 0 && x->cps[i - 1].seq == c->seq && strcmp(x->cps[i - 1].hash, c->hash) != 0)
			fail(x, 0, "two checkpoints of entry %" PRIu64 " disagree (in %s and in %s)", c->seq, x->cps[i - 1].from,
			     c->from);
	}
}

static int verify_row(void *ctx, const ky_store_audit_row *row)
{
	verifying *x = ctx;
	x->v->entries++;
	if (row->seq != x->expected) {
		if (row->seq > x->expected)
			fail(x, x->expected,
			     "entry %" PRIu64 " is missing: the log goes from entry %" PRIu64 " to entry %" PRIu64
			     " (entries were removed)",
			     x->expected, x->expected - 1, row->seq);
		return 1;
	}
	uint8_t hash[KY_STORE_AUDIT_HASH_SIZE];
	char hex[KY_STORE_AUDIT_HEX];
	ky_store_audit_hash(x->prev, row, hash);
	sodium_bin2hex(hex, sizeof(hex), hash, sizeof(hash));
	if (strcmp(hex, row->hash) != 0) {
		fail(x, row->seq,
		     "entry %" PRIu64 " does not match its hash: it, or its place after entry %" PRIu64
		     ", was changed (an entry edited, inserted or moved)",
		     row->seq, row->seq - 1);
		return 1;
	}
	/* A chain rewritten whole from some entry on has hashes that match: only a signed
	 * checkpoint tells it from the chain that was. */
	while (x->next_cp < x->ncps && x->cps[x->next_cp].seq == row->seq) {
		const checkpoint *c = &x->cps[x->next_cp++];
		if (strcmp(c->hash, hex) != 0) {
			char when[40];
			ky_clock_format(c->at_us, when);
			fail(x, x->last_good_cp + 1,
			     "the log was rewritten between entries %" PRIu64 " and %" PRIu64
			     ": entry %" PRIu64 " differs from the checkpoint signed at %s (in %s)",
			     x->last_good_cp + 1, row->seq, row->seq, when, c->from);
			return 1;
		}
		x->last_good_cp = row->seq;
		x->v->checkpoint_seq = c->seq;
		x->v->checkpoint_us = c->at_us;
	}
	uint64_t versions, buckets;
	ky_store_audit_versions_count(row->versions, row->versions_len, &versions, &buckets);
	x->buckets += buckets;
	memcpy(x->prev, hash, sizeof(hash));
	x->expected++;
	return 0;
}

int ky_audit_verify(ky_store *s, const char *file, ky_audit_verdict *out)
{
	memset(out, 0, sizeof(*out));
	out->intact = true;
	verifying x = {.v = out, .from = "the database", .expected = 1};
	char public_key[KY_AUDIT_KEY_HEX];
	int rc = ky_audit_public_key(s, public_key);
	if (rc == KY_OK)
		rc = ky_store_audit_checkpoint_list(s, db_checkpoint, &x);
	if (rc == KY_OK && file != NULL) {
		x.from = file;
		rc = read_file(&x, file);
	}
	if (rc == KY_OK) {
		out->checkpoints = x.ncps;
		check_checkpoints(&x, public_key);
		/* Checkpoints before the first entry would be of no log: skip none, they fail below. */
		rc = out->intact ? ky_store_audit_scan(s, 0, verify_row, &x) : KY_OK;
	}
	uint64_t last = x.expected - 1;
	if (rc == KY_OK && out->intact && x.next_cp < x.ncps) {
		const checkpoint *c = &x.cps[x.ncps - 1];
		char when[40];
		ky_clock_format(c->at_us, when);
		fail(&x, last + 1,
		     "the log ends at entry %" PRIu64 " but the checkpoint signed at %s (in %s) covers entry %" PRIu64
		     ": entries %" PRIu64 " to %" PRIu64 " were removed (the log was cut)",
		     last, when, c->from, c->seq, last + 1, c->seq);
	}
	uint64_t head_seq = 0, indexed = 0;
	char head_hash[KY_STORE_AUDIT_HEX];
	if (rc == KY_OK)
		rc = ky_store_audit_head(s, &head_seq, head_hash);
	if (rc == KY_OK && out->intact && head_seq != last)
		fail(&x, head_seq > last ? last + 1 : 0,
		     "the log's head names entry %" PRIu64 " as its last, but the log ends at entry %" PRIu64 "%s", head_seq,
		     last, head_seq > last ? ": the entries after it were removed (the log was cut)" : "");
	if (rc == KY_OK && out->intact)
		rc = ky_store_audit_index_count(s, &indexed);
	if (rc == KY_OK && out->intact && indexed != x.buckets)
		fail(&x, 0,
		     "the index of the versions entries read or changed (audit_buckets) holds %" PRIu64
		     " rows where the entries make %" PRIu64 ": rows were %s it, so audit show --object would answer wrong",
		     indexed, x.buckets, indexed > x.buckets ? "added to" : "removed from");
	free(x.cps);
	return rc;
}

/* --- the writer ----------------------------------------------------------------------------- */

/* One queued entry: its strings after it, in the same allocation. */
typedef struct queued {
	struct queued *next;
	ky_store_audit_entry e;
	uint64_t *vids;
} queued;

/* So many entries waiting wake the writer before its time. */
#define FLUSH_EARLY 1000

struct ky_audit_writer {
	ky_store *store;
	char checkpoints[KY_CONFIG_DB_MAX + 64];
	int64_t flush_us, checkpoint_us, last_checkpoint_us;
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t wake;
	pthread_mutex_t flushing;      /* one flush at a time: the thread's or a caller's */
	queued *head, **tail;
	size_t queued;
	uint64_t dropped;
	bool stop;
};

static char *copy_after(char **at, const char *s)
{
	if (s == NULL)
		return NULL;
	size_t n = strlen(s) + 1;
	char *out = memcpy(*at, s, n);
	*at += n;
	return out;
}

void ky_audit_writer_read(ky_audit_writer *w, const ky_store_audit_entry *e, ky_store_reads *reads)
{
	const char *texts[] = {e->via, e->origin, e->action, e->subject, e->detail};
	size_t bytes = sizeof(queued);
	for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++)
		bytes += texts[i] ? strlen(texts[i]) + 1 : 0;
	queued *q = malloc(bytes);
	if (q == NULL) {
		pthread_mutex_lock(&w->lock);
		w->dropped++;
		pthread_mutex_unlock(&w->lock);
		ky_store_reads_clear(reads);
		return;
	}
	char *at = (char *)(q + 1);
	q->next = NULL;
	q->e = *e;
	q->e.via = copy_after(&at, e->via);
	q->e.origin = copy_after(&at, e->origin);
	q->e.action = copy_after(&at, e->action);
	q->e.subject = copy_after(&at, e->subject);
	q->e.detail = copy_after(&at, e->detail);
	q->vids = reads->vids;
	q->e.vids = reads->vids;
	q->e.nvids = reads->n;
	*reads = (ky_store_reads){0};
	pthread_mutex_lock(&w->lock);
	*w->tail = q;
	w->tail = &q->next;
	if (++w->queued >= FLUSH_EARLY)
		pthread_cond_signal(&w->wake);
	pthread_mutex_unlock(&w->lock);
}

static void free_queue(queued *q)
{
	while (q != NULL) {
		queued *next = q->next;
		free(q->vids);
		free(q);
		q = next;
	}
}

/* Commits the queue as one transaction; on failure the entries go back to its front. */
static int flush_now(ky_audit_writer *w)
{
	pthread_mutex_lock(&w->flushing);
	pthread_mutex_lock(&w->lock);
	queued *taken = w->head;
	size_t n = w->queued;
	w->head = NULL;
	w->tail = &w->head;
	w->queued = 0;
	uint64_t dropped = w->dropped;
	w->dropped = 0;
	pthread_mutex_unlock(&w->lock);
	int rc = KY_OK;
	if (dropped > 0)
		fprintf(stderr, "kyoyu serve: the audit log could not queue %" PRIu64 " read entries (out of memory)\n",
			dropped);
	if (n > 0) {
		ky_store_audit_entry *entries = malloc(n * sizeof(*entries));
		size_t i = 0;
		for (queued *q = taken; entries != NULL && q != NULL; q = q->next)
			entries[i++] = q->e;
		rc = entries ? ky_store_audit_append(w->store, entries, n) : ky_error_set(KY_ENOMEM, "out of memory");
		free(entries);
		if (rc == KY_OK) {
			free_queue(taken);
		} else {
			/* Kept for the next flush, ahead of what came since, so the chain keeps their order. */
			pthread_mutex_lock(&w->lock);
			queued **end = &taken;
			while (*end != NULL)
				end = &(*end)->next;
			*end = w->head;
			if (w->head == NULL)
				w->tail = end;
			w->head = taken;
			w->queued += n;
			pthread_mutex_unlock(&w->lock);
			fprintf(stderr, "kyoyu serve: the audit log could not commit %zu read entries (kept to try again): %s\n",
				n, ky_error_last());
		}
	}
	pthread_mutex_unlock(&w->flushing);
	return rc;
}

int ky_audit_writer_flush(ky_audit_writer *w)
{
	return flush_now(w);
}

static void maybe_checkpoint(ky_audit_writer *w, bool now)
{
	int64_t t = ky_clock_now_us();
	if (!now && t - w->last_checkpoint_us < w->checkpoint_us)
		return;
	w->last_checkpoint_us = t;
	pthread_mutex_lock(&w->flushing);
	if (ky_audit_checkpoint(w->store, w->checkpoints, NULL) != KY_OK)
		fprintf(stderr, "kyoyu serve: the audit log's checkpoint failed: %s\n", ky_error_last());
	pthread_mutex_unlock(&w->flushing);
}

static void *writer_main(void *arg)
{
	ky_audit_writer *w = arg;
	pthread_mutex_lock(&w->lock);
	while (!w->stop) {
		/* The flush interval is real time, not the test clock: it bounds what a crash loses. */
		struct timespec until;
		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_nsec += (long)(w->flush_us % 1000000) * 1000;
		until.tv_sec += (time_t)(w->flush_us / 1000000) + until.tv_nsec / 1000000000;
		until.tv_nsec %= 1000000000;
		while (!w->stop && w->queued < FLUSH_EARLY &&
		       pthread_cond_timedwait(&w->wake, &w->lock, &until) == 0)
			;
		pthread_mutex_unlock(&w->lock);
		flush_now(w);
		maybe_checkpoint(w, false);
		pthread_mutex_lock(&w->lock);
	}
	pthread_mutex_unlock(&w->lock);
	return NULL;
}

int ky_audit_writer_new(const char *db, const ky_config *config, ky_audit_writer **out)
{
	*out = NULL;
	ky_audit_writer *w = calloc(1, sizeof(*w));
	if (w == NULL)
		return ky_error_set(KY_ENOMEM, "out of memory");
	ky_store_options options = {.retry_seconds = (int)config->retry_seconds,
				    .synchronous_normal = config->synchronous_normal};
	int rc = ky_store_open(&w->store, db, &options, NULL);
	if (rc != KY_OK) {
		free(w);
		return rc;
	}
	ky_audit_checkpoint_path(config, db, w->checkpoints, sizeof(w->checkpoints));
	w->flush_us = (int64_t)config->audit_flush_ms * 1000;
	w->checkpoint_us = (int64_t)config->audit_checkpoint_seconds * 1000000;
	w->last_checkpoint_us = ky_clock_now_us();
	w->tail = &w->head;
	pthread_mutex_init(&w->lock, NULL);
	pthread_mutex_init(&w->flushing, NULL);
	pthread_cond_init(&w->wake, NULL);
	if (pthread_create(&w->thread, NULL, writer_main, w) != 0) {
		pthread_cond_destroy(&w->wake);
		pthread_mutex_destroy(&w->flushing);
		pthread_mutex_destroy(&w->lock);
		ky_store_close(w->store);
		free(w);
		return ky_error_set(KY_ERROR, "cannot start the audit log's writer");
	}
	*out = w;
	return KY_OK;
}

void ky_audit_writer_free(ky_audit_writer *w)
{
	if (w == NULL)
		return;
	pthread_mutex_lock(&w->lock);
	w->stop = true;
	pthread_cond_signal(&w->wake);
	pthread_mutex_unlock(&w->lock);
	pthread_join(w->thread, NULL);
	flush_now(w);
	maybe_checkpoint(w, true);
	free_queue(w->head);
	pthread_cond_destroy(&w->wake);
	pthread_mutex_destroy(&w->flushing);
	pthread_mutex_destroy(&w->lock);
	ky_store_close(w->store);
	free(w);
}
