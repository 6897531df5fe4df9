/*
 * bench_serve_store: the serving benchmark's store ceiling (bench/run-serve): the pages the
 * TAXII server is asked for, read straight from kyoyu's store without HTTP, authentication
 * or routing: the same query (the collection's latest versions, 100 per page, from a random
 * added_after point or cursor) and the same copy of every object's stored bytes into a page
 * buffer, on THREADS threads with a connection each, for SECONDS.
 *
 *     bench_serve_store [-m MEMBER] HUB POSITIONS SECONDS THREADS
 *
 * POSITIONS holds one page start per line: "a MICROSECONDS" (added_after) or "c NUMBER" (the
 * sequence number a `next` cursor carries), as run-serve draws them for the HTTP requests.
 * Without -m, the pages are read in the operator's scope (everything, as the secretariat's
 * requests are); with -m, each thread builds MEMBER's viewer once (ky_policy_viewer_of_member,
 * what `--as MEMBER` uses) and reads in its scope (ky_policy_scope), the scope the server
 * gives that member's requests: the cursors' numbers must then be ones that member was given.
 * Prints pages read, pages/s, bytes per page and objects per page.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "policy/policy.h"
#include "store/store.h"
#include "util/ky_error.h"

typedef struct position {
	bool cursor;
	int64_t value;
} position;

typedef struct shared {
	const char *hub;
	const char *member;          /* NULL: the operator's scope */
	const position *positions;
	size_t npositions;
	double seconds;
	atomic_ullong pages, bytes, rows;
	atomic_int failed;
} shared;

typedef struct page {
	char *buf;
	size_t len, cap, rows;
} page;

static double now_s(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/* What the server's page builder does with a row: append its stored bytes. */
static int copy_row(void *ctx, const ky_store_row *row)
{
	page *p = ctx;
	if (p->len + row->raw_len + 1 > p->cap) {
		size_t cap = p->cap ? p->cap : 16384;
		while (cap < p->len + row->raw_len + 1)
			cap *= 2;
		char *grown = realloc(p->buf, cap);
		if (grown == NULL)
			return KY_ENOMEM;
		p->buf = grown;
		p->cap = cap;
	}
	if (p->len > 0)
		p->buf[p->len++] = ',';
	memcpy(p->buf + p->len, row->raw, row->raw_len);
	p->len += row->raw_len;
	p->rows++;
	return 0;
}

static void *reader_main(void *arg)
{
	shared *s = arg;
	ky_store *store = NULL;
	ky_store_collection c = {0};
	ky_store_member m;
	ky_viewer viewer;
	ky_store_scope scope = ky_store_operator_scope;
	if (ky_store_open(&store, s->hub, NULL, NULL) != KY_OK ||
	    ky_store_collection_find(store, KY_STORE_DEFAULT_COLLECTION, &c) != KY_OK ||
	    (s->member != NULL && (ky_store_member_get(store, s->member, &m) != KY_OK ||
				   ky_policy_viewer_of_member(store, &m, &viewer) != KY_OK))) {
		fprintf(stderr, "bench_serve_store: %s\n", ky_error_last());
		atomic_store(&s->failed, 1);
		ky_store_collection_clear(&c);
		ky_store_close(store);
		return NULL;
	}
	if (s->member != NULL)
		scope = ky_policy_scope(&viewer);
	unsigned seed = (unsigned)(uintptr_t)&c;
	page p = {0};
	double end = now_s() + s->seconds;
	while (now_s() < end) {
		const position *at = &s->positions[rand_r(&seed) % s->npositions];
		ky_store_query q = {.scope = &scope, .collection_id = c.id, .limit = 100};
		if (at->cursor)
			q.after = (uint64_t)at->value;
		else
			q.added_after_us = at->value;
		p.len = p.rows = 0;
		if (ky_store_query_run(store, &q, copy_row, &p, NULL) != KY_OK) {
			fprintf(stderr, "bench_serve_store: %s\n", ky_error_last());
			atomic_store(&s->failed, 1);
			break;
		}
		atomic_fetch_add(&s->pages, 1);
		atomic_fetch_add(&s->bytes, p.len);
		atomic_fetch_add(&s->rows, p.rows);
	}
	free(p.buf);
	ky_store_collection_clear(&c);
	ky_store_close(store);
	return NULL;
}

int main(int argc, char **argv)
{
	shared s = {0};
	if (argc == 7 && strcmp(argv[1], "-m") == 0) {
		s.member = argv[2];
		argv += 2;
		argc -= 2;
	}
	if (argc != 5) {
		fprintf(stderr, "usage: bench_serve_store [-m MEMBER] HUB POSITIONS SECONDS THREADS\n");
		return 2;
	}
	s.hub = argv[1];
	s.seconds = atof(argv[3]);
	int threads = atoi(argv[4]);
	FILE *f = fopen(argv[2], "r");
	if (f == NULL || threads < 1 || threads > 256) {
		fprintf(stderr, "bench_serve_store: cannot read %s, or bad thread count\n", argv[2]);
		return 2;
	}
	position *positions = NULL;
	size_t cap = 0;
	char kind;
	long long value;
	while (fscanf(f, " %c %lld", &kind, &value) == 2) {
		if (s.npositions == cap) {
			cap = cap ? cap * 2 : 1024;
			positions = realloc(positions, cap * sizeof(*positions));
		}
		positions[s.npositions++] = (position){kind == 'c', value};
	}
	fclose(f);
	if (s.npositions == 0) {
		fprintf(stderr, "bench_serve_store: %s has no positions\n", argv[2]);
		return 1;
	}
	s.positions = positions;
	pthread_t tids[256];
	double start = now_s();
	for (int i = 0; i < threads; i++)
		pthread_create(&tids[i], NULL, reader_main, &s);
	for (int i = 0; i < threads; i++)
		pthread_join(tids[i], NULL);
	double elapsed = now_s() - start;
	unsigned long long pages = atomic_load(&s.pages);
	printf("pages %llu pages_per_s %.0f bytes_per_page %.0f objects_per_page %.1f\n", pages, (double)pages / elapsed,
	       pages ? (double)atomic_load(&s.bytes) / (double)pages : 0.0,
	       pages ? (double)atomic_load(&s.rows) / (double)pages : 0.0);
	free(positions);
	return atomic_load(&s.failed) ? 1 : 0;
}
