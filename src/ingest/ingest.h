/*
 * ingest: the one path by which content enters the hub. It reads STIX content as a stream
 * (stix_reader), validates each object (stix_validate), and stores the valid ones in batches
 * (store), reporting every object's outcome once its batch is durable. `kyoyu import` uses
 * it; TAXII's Add Objects will too, so validation, deduplication and numbering have one
 * implementation.
 *
 * Reading and validating run on one thread while the store commits the previous batch on
 * the caller's: JSON parsing is the costlier half, and a second core hides the database
 * behind it. At most three batches exist at once (being filled, waiting, being written), each
 * bounded in objects and bytes, so memory does not grow with the input.
 */
#ifndef KY_INGEST_H
#define KY_INGEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "policy/admission.h"
#include "store/store.h"

typedef enum ky_ingest_outcome {
	KY_INGEST_STORED,     /* new in the collection, durable */
	KY_INGEST_DUPLICATE,  /* the collection had this version already; nothing new stored */
	KY_INGEST_REFUSED,    /* not valid JSON or STIX, or refused by the policy
				 * (policy/admission.h): nothing stored */
} ky_ingest_outcome;

/* One object's outcome. Everything is borrowed for the callback only. */
typedef struct ky_ingest_report {
	size_t index;               /* position in the input (objects array), from 0 */
	const char *id, *type;      /* NULL when the object has none (or is not JSON) */
	const char *version;        /* its modified, or created; NULL when it has neither */
	ky_ingest_outcome outcome;
	uint64_t seq;               /* STORED: the addition's sequence number */
	const char *const *problems; /* REFUSED: the reasons, one per line */
	size_t nproblems;
	const char *warning;        /* STORED or DUPLICATE: what the submitter should know (a
				     * marking the hub cannot resolve); NULL when nothing */
	bool revised;               /* a second report of an object STORED with a warning: the
				     * marking-definition it named came later in the input, and
				     * the object now has the access its markings give it */
} ky_ingest_report;

typedef void ky_ingest_report_fn(void *ctx, const ky_ingest_report *report);

typedef struct ky_ingest_options {
	int64_t collection_id;      /* where the objects go */
	ky_admission *admission;    /* who provides them and who reads them (required); used
				     * from the reader's thread for the whole stream */
	size_t batch_objects;       /* per transaction; 0: 1000 */
	size_t batch_bytes;         /* per transaction; 0: 16 MiB */
	size_t max_object;          /* largest object read; 0: the reader's default */
	const char *source_name;    /* for messages (a file name, "<stdin>"); may be NULL */
	bool taxii_envelope;        /* the input is a TAXII envelope (§3.7), not a STIX bundle:
				     * its own properties are not judged as a bundle's */
	const ky_store_actor *actor; /* who adds the objects, for the audit log (store.h:
				     * ky_store_batch_actor); NULL: the operator */
	const ky_store_scope *submitter; /* whose eyes the submitter's are, for the workflow
				     * (store.h: ky_store_batch_submitter); NULL: the operator's */
} ky_ingest_options;

typedef struct ky_ingest_totals {
	size_t objects, stored, duplicate, refused;
	size_t batches;
	unsigned long long bytes;   /* input read */
	char envelope_problem[512]; /* the bundle's own first problem, "" when none */
} ky_ingest_totals;

/*
 * Reads `in` to its end and stores what is valid into options->collection_id. `report` (may
 * be NULL) is called for every object, in input order, after the batch holding it has
 * committed: a STORED report is an acknowledgement that survives a crash. An object stored
 * fail closed because it names a marking-definition the hub did not hold, which the input
 * brings later (ATT&CK's bundles end with theirs), is given its access at the end and
 * reported again (`revised`), followed by one more `progress`. `progress` (may be
 * NULL) is called after each batch with the totals so far.
 * Returns KY_OK when the input was read to its end (refused objects included), a negative
 * code when the input's structure broke (KY_EINVALID, KY_ETOOBIG; everything before the break
 * was stored and reported) or the store failed (that batch was not stored; earlier ones
 * were), with the reason in ky_error_last(). `in` is borrowed.
 */
int ky_ingest_stream(ky_store *store, FILE *in, const ky_ingest_options *options, ky_ingest_report_fn *report,
		     void (*progress)(void *ctx, const ky_ingest_totals *totals), void *ctx, ky_ingest_totals *totals);

#endif
