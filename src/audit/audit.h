/*
 * audit: the hub's tamper-evident audit log (docs/audit.md) above the chain the store keeps
 * (store/store_audit.h): the server's writer of read entries, the signed checkpoints, and
 * the verification that finds the first entry that fails.
 *
 * Changes are logged by the store in their own transactions. Reads are not worth a
 * transaction each: the writer queues each request's entry and commits the queue as one
 * transaction at least every [audit] flush_ms (1 s by default) and whenever 1,000 entries
 * wait, so a crash loses at most the read entries of the last flush_ms, plus those of a
 * flush under way (docs/audit.md states it, tests/integration/audit_crash.sh tests it).
 *
 * A checkpoint is the chain's head (its last entry's number and hash) and the time, signed
 * with the hub's Ed25519 key, whose seed is the hub secret "audit-signing" (store.h:
 * ky_store_secret). It is kept in the database and appended, as one JSON line, to a file the
 * operator ships elsewhere ([audit] checkpoints): a copy kept out of the operator's reach is
 * what proves that the log before it was not rewritten.
 */
#ifndef KY_AUDIT_H
#define KY_AUDIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config/config.h"
#include "store/store.h"
#include "store/store_audit.h"

/* The checkpoint file of the hub at `db` under `config` ([audit] checkpoints, or the
 * default it names) into out (cap bytes). */
void ky_audit_checkpoint_path(const ky_config *config, const char *db, char *out, size_t cap);

/* The hub's public key for checkpoints, as lowercase hex (65 bytes with the NUL). */
#define KY_AUDIT_KEY_HEX 65
int ky_audit_public_key(ky_store *s, char out[KY_AUDIT_KEY_HEX]);

/*
 * Signs the chain's head now, keeps the checkpoint in the database and appends it to `file`
 * (may be NULL: the database only). *made (may be NULL) says whether there was anything new
 * to sign: a chain whose head is signed already gets no second checkpoint. KY_ERROR naming
 * the file when it cannot be written (the database's copy is kept); store failures.
 */
int ky_audit_checkpoint(ky_store *s, const char *file, bool *made);

/* What verify found. */
typedef struct ky_audit_verdict {
	bool intact;
	uint64_t entries;              /* read, in order */
	uint64_t checkpoints;          /* checked (the file's and the database's) */
	uint64_t checkpoint_seq;       /* the last checkpoint's entry (0: none) */
	int64_t checkpoint_us;
	uint64_t first_bad;            /* !intact: the first entry that fails (0: not one entry:
					* the head, the index, a checkpoint) */
	char problem[768];             /* !intact: what is wrong and where */
} ky_audit_verdict;

/*
 * Reads the whole log in order and checks: entries numbered from 1 without a gap; each hash
 * over its entry and the hash before it; each checkpoint (the database's, and the file's
 * when `file` is not NULL and exists) signed by the hub's key and matching the chain at its
 * entry, none beyond the log's end; the head naming the last entry; the index listing
 * as many versions as the entries do. KY_OK with *out filled whether or not the log is
 * intact (out->intact); a store failure, or a file that cannot be read or parsed, otherwise.
 */
int ky_audit_verify(ky_store *s, const char *file, ky_audit_verdict *out);

/* --- the server's writer of read entries ------------------------------------------------- */

typedef struct ky_audit_writer ky_audit_writer;

/*
 * Starts the writer for the hub at `db` (its own connection and thread): read entries are
 * committed every config's flush_ms, and a checkpoint signed every checkpoint_seconds when
 * the chain grew, into the checkpoint file of ky_audit_checkpoint_path. The caller owns *out.
 */
int ky_audit_writer_new(const char *db, const ky_config *config, ky_audit_writer **out);

/* Queues the entry of one request that read the versions in *reads (e's vids are ignored):
 * e's strings are copied and reads->vids is taken (*reads is left empty). Never blocks on the
 * database. An entry that cannot be queued (memory) is counted, and the count logged. */
void ky_audit_writer_read(ky_audit_writer *w, const ky_store_audit_entry *e, ky_store_reads *reads);

/* Commits what is queued now (the tests' and the shutdown's). */
int ky_audit_writer_flush(ky_audit_writer *w);

/* Commits what is queued, signs a checkpoint, stops and frees w. NULL does nothing. */
void ky_audit_writer_free(ky_audit_writer *w);

#endif
