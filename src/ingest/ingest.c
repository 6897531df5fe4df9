/*
 * ingest: a two-stage pipeline. The reader thread turns the input into chunks (one batch's
 * worth of objects, each with its bytes, its parse and, when refused, its reasons) and hands
 * them over through a one-slot queue; the caller's thread commits each chunk as one batch and
 * reports its objects in input order. The slot holds at most one chunk, so the reader runs at
 * most one batch ahead of the database.
 */
#include "ingest/ingest.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "stix/stix_reader.h"
#include "stix/stix_validate.h"
#include "util/ky_arena.h"
#include "util/ky_error.h"

#define DEFAULT_BATCH_OBJECTS 1000
#define DEFAULT_BATCH_BYTES ((size_t)16 << 20)

/* One object of a chunk. Its parse is gone by the time the writer sees it: the reader
 * keeps only what the store needs, so the trees are freed on the thread that made them. */
typedef struct entry {
	size_t index;
	const char *raw;
	size_t raw_len;
	ky_store_meta meta;   /* id and type are NULL when the element is not a STIX object */
	const char **problems; /* set when refused */
	size_t nproblems;
	ky_store_access access; /* of a valid object: its keys in the chunk's arena */
	const char *warning;
	bool unresolved;       /* stored fail closed for a marking the hub does not hold yet */
	const ky_admitted_pseudonym *pseudonyms; /* the identities its shared form names, in the
						  * arena; stored in its batch, never reported */
	size_t npseudonyms;
	ky_store_access pseudonym_access;
} entry;

typedef struct chunk {
	entry *entries;
	size_t n, cap, bytes;
	ky_arena *arena;      /* every entry's bytes and strings */
	bool last;            /* the input ends (or broke) with this chunk */
	int end_status;       /* KY_OK, or why reading stopped */
	char message[KY_ERROR_MAX];
	char envelope_problem[512];
	unsigned long long bytes_read;
} chunk;

typedef struct pipeline {
	ky_stix_reader *reader;
	const ky_ingest_options *options;
	size_t batch_objects, batch_bytes;
	pthread_mutex_t lock;
	pthread_cond_t changed;
	chunk *slot;          /* the chunk handed over, or NULL */
	atomic_bool stop;     /* the writer gave up: the reader must not go on */
	bool reader_failed;   /* the reader could not allocate a chunk */
	/* Objects stored with a warning, to look at again once the input is read: the writer's. */
	struct revisit {
		size_t index;
		char *id, *type, *version;
	} *revisit;
	size_t nrevisit, revisit_cap;
} pipeline;

/* Bounds the objects kept to look at again, so memory stays bounded whatever the input. */
#define REVISIT_MAX 1000000

static void chunk_free(chunk *c)
{
	if (c == NULL)
		return;
	ky_arena_free(c->arena);
	free(c->entries);
	free(c);
}

static const char *keep(chunk *c, const char *s)
{
	return s ? ky_arena_strndup(c->arena, s, strlen(s)) : NULL;
}

/* Gives the entry its reasons for refusal: the reader's, or the validator's. */
static int refuse(chunk *c, entry *e, const ky_stix_item *item, const ky_stix_problems *problems)
{
	size_t n = item->error ? 1 : ky_stix_problems_kept(problems);
	size_t more = !item->error && ky_stix_problems_count(problems) > n ? ky_stix_problems_count(problems) - n : 0;
	e->problems = ky_arena_alloc(c->arena, (n + 1) * sizeof(*e->problems));
	if (e->problems == NULL)
		return KY_ENOMEM;
	for (size_t i = 0; i < n; i++)
		if ((e->problems[e->nproblems++] = keep(c, item->error ? item->error : ky_stix_problems_get(problems, i))) == NULL)
			return KY_ENOMEM;
	if (more > 0) {
		char text[64];
		snprintf(text, sizeof(text), "... and %zu more problems", more);
		if ((e->problems[e->nproblems++] = keep(c, text)) == NULL)
			return KY_ENOMEM;
	}
	return KY_OK;
}

static int refuse_with(chunk *c, entry *e, const char *reason)
{
	e->problems = ky_arena_alloc(c->arena, sizeof(*e->problems));
	if (e->problems == NULL || (e->problems[0] = keep(c, reason)) == NULL)
		return KY_ENOMEM;
	e->nproblems = 1;
	return KY_OK;
}

/* The pseudonyms' identities of a decision, and their access, kept in the chunk. */
static int keep_pseudonyms(chunk *c, entry *e, const ky_admitted *admitted)
{
	ky_admitted_pseudonym *kept = ky_arena_alloc(c->arena, admitted->npseudonyms * sizeof(*kept));
	const char **keys = ky_arena_alloc(c->arena, (admitted->pseudonym_access.nkeys + 1) * sizeof(*keys));
	if (kept == NULL || keys == NULL)
		return KY_ENOMEM;
	for (size_t i = 0; i < admitted->npseudonyms; i++) {
		kept[i] = admitted->pseudonyms[i];
		if ((kept[i].raw = ky_arena_strndup(c->arena, admitted->pseudonyms[i].raw, admitted->pseudonyms[i].raw_len)) == NULL)
			return KY_ENOMEM;
	}
	for (size_t i = 0; i < admitted->pseudonym_access.nkeys; i++)
		if ((keys[i] = keep(c, admitted->pseudonym_access.keys[i])) == NULL)
			return KY_ENOMEM;
	e->pseudonyms = kept;
	e->npseudonyms = admitted->npseudonyms;
	e->pseudonym_access = admitted->pseudonym_access;
	e->pseudonym_access.keys = keys;
	return KY_OK;
}

/* What an exchange object is to the workflow, kept in the chunk (its refs are the object's,
 * which is freed before the writer sees the entry). */
static const ky_store_workflow *keep_workflow(chunk *c, const ky_store_workflow *w)
{
	ky_store_workflow *kept = ky_arena_alloc(c->arena, sizeof(*kept));
	const char **refs = ky_arena_alloc(c->arena, (w->nrefs + 1) * sizeof(*refs));
	if (kept == NULL || refs == NULL)
		return NULL;
	*kept = *w;
	for (size_t i = 0; i < w->nrefs; i++)
		if ((refs[i] = keep(c, w->refs[i])) == NULL)
			return NULL;
	kept->refs = refs;
	return kept;
}

/* The policy's decision on a valid object: its access, kept in the chunk, or a refusal. */
static int admit(pipeline *p, chunk *c, entry *e, const json_t *object)
{
	ky_admitted admitted;
	int rc = ky_admission_decide(p->options->admission, object, &admitted);
	if (rc == KY_EDENIED)
		return refuse_with(c, e, ky_error_last());
	if (rc != KY_OK)
		return rc == KY_ENOMEM ? KY_ENOMEM : refuse_with(c, e, ky_error_last());
	const char **keys = ky_arena_alloc(c->arena, (admitted.keys.n ? admitted.keys.n : 1) * sizeof(*keys));
	bool kept = keys != NULL;
	for (size_t i = 0; kept && i < admitted.keys.n; i++)
		kept = (keys[i] = keep(c, admitted.keys.key[i])) != NULL;
	if (!kept) {
		ky_admitted_clear(&admitted);
		return KY_ENOMEM;
	}
	e->access = admitted.access;
	e->access.keys = keys;
	e->access.parts = admitted.parts ? keep(c, admitted.parts) : NULL;
	e->access.shared = admitted.shared ? keep(c, admitted.shared) : NULL;
	kept = (admitted.parts == NULL || e->access.parts != NULL) && (admitted.shared == NULL || e->access.shared != NULL);
	if (kept && admitted.access.workflow != NULL)
		kept = (e->access.workflow = keep_workflow(c, admitted.access.workflow)) != NULL;
	if (kept && admitted.npseudonyms > 0)
		kept = keep_pseudonyms(c, e, &admitted) == KY_OK;
	e->unresolved = admitted.unresolved;
	ky_admitted_clear(&admitted);
	if (!kept || (admitted.warning[0] != '\0' && (e->warning = keep(c, admitted.warning)) == NULL))
		return KY_ENOMEM;
	return KY_OK;
}

/* Reads the next chunk; never NULL unless memory ran out. */
static chunk *read_chunk(pipeline *p, ky_stix_problems *problems)
{
	chunk *c = calloc(1, sizeof(*c));
	if (c == NULL || (c->arena = ky_arena_new()) == NULL) {
		free(c);
		return NULL;
	}
	/* After a failed commit the writer stops; the reader then stops too, at the next object
	 * rather than after a whole batch more of input. */
	while (c->n < p->batch_objects && c->bytes < p->batch_bytes && !atomic_load(&p->stop)) {
		ky_stix_item item;
		int rc = ky_stix_reader_next(p->reader, &item);
		if (rc <= 0) {
			c->last = true;
			c->end_status = rc;
			if (rc < 0) {
				snprintf(c->message, sizeof(c->message), "%s", ky_error_last());
			} else if (!p->options->taxii_envelope && ky_stix_reader_envelope(p->reader) != NULL) {
				ky_stix_problems_clear(problems);
				if (ky_stix_validate_envelope(problems, ky_stix_reader_envelope(p->reader)) != KY_OK &&
				    ky_stix_problems_kept(problems) > 0)
					snprintf(c->envelope_problem, sizeof(c->envelope_problem), "%s",
						 ky_stix_problems_get(problems, 0));
			}
			break;
		}
		if (c->n == c->cap) {
			size_t cap = c->cap ? c->cap * 2 : 64;
			entry *grown = realloc(c->entries, cap * sizeof(*grown));
			if (grown == NULL)
				goto oom;
			c->entries = grown;
			c->cap = cap;
		}
		/* The entry counts only once it is whole: a chunk cut short by memory still has its
		 * complete entries stored, and never one with its copy, verdict or metadata
		 * missing. */
		entry *e = &c->entries[c->n];
		memset(e, 0, sizeof(*e));
		e->index = item.index;
		if (item.raw_len > 0) {
			if ((e->raw = ky_arena_strndup(c->arena, item.raw, item.raw_len)) == NULL)
				goto oom;
			e->raw_len = item.raw_len;
			c->bytes += item.raw_len;
		}
		ky_stix_problems_clear(problems);
		int verdict = item.object ? ky_stix_validate_object(problems, item.object) : KY_EINVALID;
		if (verdict == KY_ENOMEM)
			goto oom;
		ky_store_meta meta = {0};
		if (item.object != NULL)
			ky_store_meta_of(item.object, &meta);
		e->meta.id = keep(c, meta.id);
		e->meta.type = keep(c, meta.type);
		e->meta.spec_version = keep(c, meta.spec_version);
		e->meta.version = keep(c, meta.version);
		if ((meta.id && !e->meta.id) || (meta.type && !e->meta.type) || (meta.spec_version && !e->meta.spec_version) ||
		    (meta.version && !e->meta.version))
			goto oom;
		if (verdict != KY_OK && refuse(c, e, &item, problems) != KY_OK)
			goto oom;
		if (verdict == KY_OK && admit(p, c, e, item.object) != KY_OK)
			goto oom;
		c->n++;
	}
	c->bytes_read = ky_stix_reader_bytes(p->reader);
	return c;
oom:
	c->last = true;
	c->end_status = KY_ENOMEM;
	snprintf(c->message, sizeof(c->message), "out of memory while reading");
	return c;
}

static void *reader_main(void *arg)
{
	pipeline *p = arg;
	ky_stix_problems *problems = NULL;
	bool last = false;
	if (ky_stix_problems_new(&problems) != KY_OK)
		problems = NULL;
	while (!last) {
		chunk *c = problems ? read_chunk(p, problems) : NULL;
		pthread_mutex_lock(&p->lock);
		while (p->slot != NULL && !p->stop)
			pthread_cond_wait(&p->changed, &p->lock);
		bool stop = p->stop;
		if (!stop && c == NULL)
			p->reader_failed = true;
		else if (!stop)
			p->slot = c;
		last = stop || c == NULL || c->last;
		pthread_cond_broadcast(&p->changed);
		pthread_mutex_unlock(&p->lock);
		if (stop)
			chunk_free(c);
	}
	ky_stix_problems_free(problems);
	return NULL;
}

/* Waits for the next chunk; NULL when the reader could not make one. */
static chunk *take(pipeline *p)
{
	pthread_mutex_lock(&p->lock);
	while (p->slot == NULL && !p->reader_failed)
		pthread_cond_wait(&p->changed, &p->lock);
	chunk *c = p->slot;
	p->slot = NULL;
	pthread_cond_broadcast(&p->changed);
	pthread_mutex_unlock(&p->lock);
	return c;
}

/* Remembers a stored object with an unresolved marking, to look at again at the end (best
 * effort: one not remembered keeps its fail-closed access). */
static void keep_revisit(pipeline *p, const entry *e)
{
	if (p->nrevisit == REVISIT_MAX || e->meta.id == NULL)
		return;
	if (p->nrevisit == p->revisit_cap) {
		size_t cap = p->revisit_cap ? p->revisit_cap * 2 : 256;
		struct revisit *grown = realloc(p->revisit, cap * sizeof(*grown));
		if (grown == NULL)
			return;
		p->revisit = grown;
		p->revisit_cap = cap;
	}
	struct revisit *r = &p->revisit[p->nrevisit];
	r->index = e->index;
	r->id = strdup(e->meta.id);
	r->type = strdup(e->meta.type ? e->meta.type : "");
	r->version = e->meta.version ? strdup(e->meta.version) : NULL;
	if (r->id == NULL || r->type == NULL || (e->meta.version && r->version == NULL)) {
		free(r->id);
		free(r->type);
		free(r->version);
		return;
	}
	p->nrevisit++;
}

typedef struct revisiting {
	json_t *object;
} revisiting;

static int parse_row(void *ctx, const ky_store_row *row)
{
	revisiting *v = ctx;
	v->object = json_loadb(row->raw, row->raw_len, 0, NULL);
	return 1;
}

/* Adds one pseudonym's identity to a batch. */
static int add_pseudonym(ky_store_batch *b, const ky_admitted_pseudonym *p, const ky_store_access *access)
{
	ky_store_meta meta = {.id = p->id, .type = "identity", .spec_version = "2.1", .version = KY_PSEUDONYM_CREATED};
	int index = ky_store_batch_add_meta(b, p->raw, p->raw_len, &meta, access);
	return index < 0 ? index : KY_OK;
}

/* The pseudonyms' identities of an object given its access after its batch: a batch of their
 * own. */
static int store_pseudonyms(ky_store *store, const ky_ingest_options *options, const ky_admitted *admitted)
{
	ky_store_batch *b;
	int rc = ky_store_batch_begin(store, options->collection_id, &b);
	if (rc == KY_OK && options->actor != NULL)
		ky_store_batch_actor(b, options->actor);
	for (size_t i = 0; rc == KY_OK && i < admitted->npseudonyms; i++)
		rc = add_pseudonym(b, &admitted->pseudonyms[i], &admitted->pseudonym_access);
	if (rc != KY_OK) {
		ky_store_batch_abort(b);
		return rc;
	}
	return ky_store_batch_commit(b, NULL, NULL);
}

/*
 * After the input: each object stored fail closed for a marking the hub did not hold, which a
 * later object of the input was, is decided again and given the access its markings give it.
 */
static int revisit_all(ky_store *store, pipeline *p, ky_ingest_report_fn *report, void *ctx, bool *any)
{
	int rc = KY_OK;
	*any = false;
	for (size_t i = 0; rc == KY_OK && i < p->nrevisit; i++) {
		struct revisit *r = &p->revisit[i];
		const char *ids[1] = {r->id}, *versions[1] = {r->version};
		ky_store_query q = {.scope = &ky_store_operator_scope, .collection_id = p->options->collection_id, .ids = ids,
				    .nids = 1, .modified = r->version ? versions : NULL, .nmodified = r->version ? 1 : 0,
				    .versions = r->version ? 0 : KY_STORE_ALL, .limit = 1};
		revisiting v = {NULL};
		rc = ky_store_query_run(store, &q, parse_row, &v, NULL);
		if (rc == 1)
			rc = KY_OK;
		ky_admitted admitted;
		bool revised = false;
		if (rc == KY_OK && v.object != NULL && ky_admission_decide(p->options->admission, v.object, &admitted) == KY_OK) {
			if (!admitted.unresolved)
				rc = ky_store_access_revise(store, p->options->collection_id, r->id, r->version, &admitted.access,
							    &revised);
			if (rc == KY_OK && revised && admitted.npseudonyms > 0)
				rc = store_pseudonyms(store, p->options, &admitted);
			ky_admitted_clear(&admitted);
		}
		json_decref(v.object);
		if (rc == KY_OK && revised && report != NULL) {
			ky_ingest_report again = {.index = r->index, .id = r->id, .type = r->type, .version = r->version,
						  .outcome = KY_INGEST_STORED, .revised = true};
			report(ctx, &again);
		}
		*any = *any || revised;
	}
	return rc;
}

typedef struct pseudonym_ref {
	const ky_admitted_pseudonym *p;
	const ky_store_access *access;
} pseudonym_ref;

static int by_pseudonym(const void *x, const void *y)
{
	return strcmp(((const pseudonym_ref *)x)->p->id, ((const pseudonym_ref *)y)->p->id);
}

/* Adds, after the chunk's objects, the identities of the pseudonyms their shared forms name,
 * each once (one pseudonym has one audience, so one access). */
static int add_pseudonyms(ky_store_batch *b, const chunk *c)
{
	size_t n = 0;
	for (size_t i = 0; i < c->n; i++)
		n += c->entries[i].nproblems == 0 ? c->entries[i].npseudonyms : 0;
	if (n == 0)
		return KY_OK;
	pseudonym_ref *refs = malloc(n * sizeof(*refs));
	if (refs == NULL)
		return ky_error_set(KY_ENOMEM, "out of memory");
	n = 0;
	for (size_t i = 0; i < c->n; i++)
		for (size_t j = 0; c->entries[i].nproblems == 0 && j < c->entries[i].npseudonyms; j++)
			refs[n++] = (pseudonym_ref){&c->entries[i].pseudonyms[j], &c->entries[i].pseudonym_access};
	qsort(refs, n, sizeof(*refs), by_pseudonym);
	int rc = KY_OK;
	for (size_t i = 0; rc == KY_OK && i < n; i++)
		if (i == 0 || by_pseudonym(&refs[i - 1], &refs[i]) != 0)
			rc = add_pseudonym(b, refs[i].p, refs[i].access);
	free(refs);
	return rc;
}

/* Stores the chunk's valid objects as one batch and reports every object in order. */
static int write_chunk(ky_store *store, pipeline *p, chunk *c, ky_ingest_report_fn *report, void *ctx,
		       ky_ingest_totals *totals)
{
	size_t valid = 0, identities = 0;
	for (size_t i = 0; i < c->n; i++) {
		valid += c->entries[i].nproblems == 0;
		identities += c->entries[i].nproblems == 0 ? c->entries[i].npseudonyms : 0;
	}
	/* The statuses of the pseudonyms' identities follow the objects' and are not reported. */
	ky_store_status *statuses = calloc(valid + identities + 1, sizeof(*statuses));
	uint64_t *seqs = calloc(valid + identities + 1, sizeof(*seqs));
	ky_store_batch *batch = NULL;
	int rc = statuses && seqs ? KY_OK : ky_error_set(KY_ENOMEM, "out of memory");
	if (rc == KY_OK && valid > 0) {
		rc = ky_store_batch_begin(store, p->options->collection_id, &batch);
		if (rc == KY_OK && p->options->actor != NULL)
			ky_store_batch_actor(batch, p->options->actor);
		if (rc == KY_OK && p->options->submitter != NULL)
			ky_store_batch_submitter(batch, p->options->submitter);
		for (size_t i = 0; rc == KY_OK && i < c->n; i++) {
			if (c->entries[i].nproblems > 0)
				continue;
			int index = ky_store_batch_add_meta(batch, c->entries[i].raw, c->entries[i].raw_len, &c->entries[i].meta,
							    &c->entries[i].access);
			if (index < 0)
				rc = index;
		}
		if (rc == KY_OK)
			rc = add_pseudonyms(batch, c);
		if (rc == KY_OK)
			rc = ky_store_batch_commit(batch, statuses, seqs);
		else
			ky_store_batch_abort(batch);
	}
	if (rc == KY_OK) {
		totals->batches += valid > 0;
		for (size_t i = 0, k = 0; i < c->n; i++) {
			const entry *e = &c->entries[i];
			ky_ingest_report r = {
				.index = e->index,
				.id = e->meta.id,
				.type = e->meta.type,
				.version = e->meta.version,
				.problems = e->problems,
				.nproblems = e->nproblems,
			};
			char not_provider[512];
			const char *refusal[] = {not_provider};
			if (e->nproblems == 0 && (statuses[k] == KY_STORE_NOT_PROVIDER || statuses[k] == KY_STORE_NOT_CREATOR)) {
				snprintf(not_provider, sizeof(not_provider),
					 statuses[k] == KY_STORE_NOT_PROVIDER
						 ? "%s is another member's object: only its provider or the secretariat may add"
						   " versions of it"
						 : "%s: created_by_ref names a member that did not provide this object: an object"
						   " is attributed to its provider only",
					 e->meta.id);
				k++;
				r.problems = refusal;
				r.nproblems = 1;
				r.outcome = KY_INGEST_REFUSED;
				totals->refused++;
			} else if (e->nproblems > 0) {
				r.outcome = KY_INGEST_REFUSED;
				totals->refused++;
			} else {
				r.warning = e->warning;
				if (e->unresolved && statuses[k] == KY_STORE_STORED)
					keep_revisit(p, e);
				r.outcome = statuses[k] == KY_STORE_STORED ? KY_INGEST_STORED : KY_INGEST_DUPLICATE;
				r.seq = seqs[k++];
				if (r.outcome == KY_INGEST_STORED)
					totals->stored++;
				else
					totals->duplicate++;
			}
			totals->objects++;
			if (report != NULL)
				report(ctx, &r);
		}
		totals->bytes = c->bytes_read;
	}
	free(statuses);
	free(seqs);
	return rc;
}

int ky_ingest_stream(ky_store *store, FILE *in, const ky_ingest_options *options, ky_ingest_report_fn *report,
		     void (*progress)(void *ctx, const ky_ingest_totals *totals), void *ctx, ky_ingest_totals *totals)
{
	pipeline p = {
		.options = options,
		.batch_objects = options->batch_objects ? options->batch_objects : DEFAULT_BATCH_OBJECTS,
		.batch_bytes = options->batch_bytes ? options->batch_bytes : DEFAULT_BATCH_BYTES,
	};
	pthread_t reader;
	memset(totals, 0, sizeof(*totals));
	if (options->admission == NULL)
		return ky_error_set(KY_EINVALID, "an ingest names who provides the objects (an admission)");
	int rc = ky_stix_reader_new(&p.reader, in, options->max_object, options->source_name);
	if (rc != KY_OK)
		return rc;
	pthread_mutex_init(&p.lock, NULL);
	pthread_cond_init(&p.changed, NULL);
	if (pthread_create(&reader, NULL, reader_main, &p) != 0) {
		rc = ky_error_set(KY_ERROR, "cannot start the reading thread");
		goto done;
	}
	for (;;) {
		chunk *c = take(&p);
		if (c == NULL) {
			rc = ky_error_set(KY_ENOMEM, "out of memory while reading");
		} else {
			rc = write_chunk(store, &p, c, report, ctx, totals);
			if (rc == KY_OK && c->last) {
				snprintf(totals->envelope_problem, sizeof(totals->envelope_problem), "%s", c->envelope_problem);
				rc = c->end_status;
				if (rc != KY_OK)
					ky_error_set(rc, "%s", c->message);
			}
			if (rc == KY_OK && progress != NULL)
				progress(ctx, totals);
		}
		bool last = c == NULL || c->last || rc != KY_OK;
		chunk_free(c);
		if (last)
			break;
	}
	/* Let the reader go if the writer stopped first. */
	pthread_mutex_lock(&p.lock);
	p.stop = true;
	chunk_free(p.slot);
	p.slot = NULL;
	pthread_cond_broadcast(&p.changed);
	pthread_mutex_unlock(&p.lock);
	pthread_join(reader, NULL);
	/* The reader is done with the admission: the writer may use it now. */
	bool revised = false;
	if (rc == KY_OK && p.nrevisit > 0)
		rc = revisit_all(store, &p, report, ctx, &revised);
	if (rc == KY_OK && revised && progress != NULL)
		progress(ctx, totals);
	for (size_t i = 0; i < p.nrevisit; i++) {
		free(p.revisit[i].id);
		free(p.revisit[i].type);
		free(p.revisit[i].version);
	}
	free(p.revisit);
done:
	pthread_cond_destroy(&p.changed);
	pthread_mutex_destroy(&p.lock);
	ky_stix_reader_free(p.reader);
	return rc;
}
