/*
 * store_audit: the hub's audit log (schema 11, docs/audit.md), one hash chain for the whole
 * hub, whatever the number of processes writing to it.
 *
 * Each entry says who (user, member; 0: the operator), how (`via`: the HTTP route or the
 * command), from where (`origin`: the client's address; NULL for a command), when, what it
 * did (`action`: "read", "member.add", "objects.add", "pseudonym.resolve", ...) to what
 * (`subject`, `detail`) and which object versions it read or changed (their numbers in the
 * hub, `vids`). An entry's hash covers the previous entry's hash and every field of its own
 * (ky_store_audit_hash), so that changing, removing, inserting or reordering an entry breaks
 * the chain from there on; the checkpoints (audit/audit.h) sign the chain's head so that a
 * chain rewritten whole is caught too.
 *
 * Appending takes the chain's head row (audit_head) for update, inside the transaction that
 * writes the entry: appenders on every connection of every process wait for each other there,
 * so the chain has one order. A change's entry is appended in the change's own transaction
 * (store_council.c's records, the batches of objects); reads are appended in groups
 * (ky_store_audit_append) by the audit module's writer.
 */
#ifndef KY_STORE_AUDIT_H
#define KY_STORE_AUDIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "store/store.h"

#define KY_STORE_AUDIT_HASH_SIZE 32   /* BLAKE2b-256 */
#define KY_STORE_AUDIT_HEX (2 * KY_STORE_AUDIT_HASH_SIZE + 1)

/* One entry as appended; everything is borrowed for the call. */
typedef struct ky_store_audit_entry {
	int64_t at_us;                /* when it happened (the request's arrival); 0: now */
	int64_t user_id, member_id;   /* 0: none (the operator) */
	const char *via;              /* required */
	const char *origin;           /* may be NULL */
	const char *action;           /* required */
	const char *subject, *detail; /* may be NULL */
	const uint64_t *vids;         /* the versions read or changed */
	size_t nvids;
} ky_store_audit_entry;

/* Appends entries[0..n) in one transaction, in order. Store failures as returned. */
int ky_store_audit_append(ky_store *s, const ky_store_audit_entry *entries, size_t n);

/* One entry as stored: the versions as their decimal numbers joined by commas (NULL: none)
 * and the hash as stored (lowercase hex). Borrowed for the callback. */
typedef struct ky_store_audit_row {
	uint64_t seq;
	int64_t at_us, user_id, member_id;
	const char *via, *origin, *action, *subject, *detail;
	const char *versions;
	size_t versions_len;
	const char *hash;
	/* For listings (ky_store_audit_find): the names of the user and member; "" when none. */
	const char *user, *member;
} ky_store_audit_row;

typedef int ky_store_audit_row_fn(void *ctx, const ky_store_audit_row *row);

/* Versions are indexed by bucket (their number / KY_STORE_AUDIT_BUCKET), one index row per
 * bucket an entry touches: a page of a collection is mostly consecutive numbers, so an entry
 * costs an index row or two where one per version cost a hundred (bench/README.md, "Auditing
 * reads"). A search by object reads the bucket's entries and keeps those whose versions hold
 * the object's. */
#define KY_STORE_AUDIT_BUCKET 1024

/* Whether an entry's versions text (ky_store_audit_row.versions: sorted numbers and runs
 * "first-last", joined by commas) holds version vid. */
bool ky_store_audit_versions_hold(const char *versions, size_t len, uint64_t vid);

/* How many versions an entry's versions text lists, and how many index rows (buckets) it has. */
void ky_store_audit_versions_count(const char *versions, size_t len, uint64_t *count, uint64_t *buckets);

/* The hash of entry `row` following `prev` (the previous entry's, all zero for the first), as
 * lowercase hex into out. */
void ky_store_audit_hash(const uint8_t prev[KY_STORE_AUDIT_HASH_SIZE], const ky_store_audit_row *row,
			 uint8_t out[KY_STORE_AUDIT_HASH_SIZE]);

/* Calls fn for every entry numbered above `after`, in order (the whole log, for verify; in
 * pages, one read transaction each). Nonzero from fn stops. */
int ky_store_audit_scan(ky_store *s, uint64_t after, ky_store_audit_row_fn *fn, void *ctx);

/* The chain's head as audit_head holds it: its last entry's number and hash (hex; "" before
 * the first entry). */
int ky_store_audit_head(ky_store *s, uint64_t *seq, char hash[KY_STORE_AUDIT_HEX]);

/* How many rows the audit_buckets index holds, for verify to compare with the entries'. */
int ky_store_audit_index_count(ky_store *s, uint64_t *count);

/* A signed checkpoint of the chain (audit/audit.h). Hex text, borrowed. */
typedef struct ky_store_audit_checkpoint {
	uint64_t seq;
	int64_t at_us;
	const char *hash, *public_key, *signature;
} ky_store_audit_checkpoint;

int ky_store_audit_checkpoint_add(ky_store *s, const ky_store_audit_checkpoint *c);
/* In order of seq. */
int ky_store_audit_checkpoint_list(ky_store *s, int (*fn)(void *ctx, const ky_store_audit_checkpoint *c), void *ctx);

/* What `kyoyu audit show` asks: every filter given must hold (0 / NULL: no filter). */
typedef struct ky_store_audit_filter {
	const char *object;           /* a STIX id: entries that read or changed one of its versions */
	int64_t member_id, user_id;
	int64_t since_us;
	size_t limit;                 /* 0: 1000 */
} ky_store_audit_filter;

/* The entries matching f, newest first. */
int ky_store_audit_find(ky_store *s, const ky_store_audit_filter *f, ky_store_audit_row_fn *fn, void *ctx);

/* For each object of provider `member` that members other than itself have read: its id and
 * how many distinct members read it (a count, never who), in order of id. */
int ky_store_audit_readers(ky_store *s, int64_t member, int (*fn)(void *ctx, const char *id, uint64_t members),
			   void *ctx);

#endif
