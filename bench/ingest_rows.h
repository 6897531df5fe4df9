/*
 * ingest_rows: what both ingest ceilings (bench_ingest_ceiling, bench_ingest_ceiling_pg)
 * share: a bundle read, untimed, into the rows the store would write for it, and the clocks.
 */
#ifndef KY_BENCH_INGEST_ROWS_H
#define KY_BENCH_INGEST_ROWS_H

#include <stddef.h>

#include "util/ky_arena.h"

/* One row of versions (and of entries), as the store would write it. */
typedef struct ky_bench_row {
	const char *raw; /* the object's bytes as received */
	size_t raw_len;
	const char *id, *type, *spec_version, *modified; /* spec_version may be NULL; modified is
							  * modified, else created, else "" */
	char version_key[32]; /* ky_store_version_key of modified */
} ky_bench_row;

/* The rows of a bundle; every string lives in `arena`. Owned by the caller: release with
 * ky_bench_rows_free. */
typedef struct ky_bench_rows {
	ky_bench_row *v;
	size_t n, cap;
	unsigned long long bytes; /* the bundle's size as read */
	ky_arena *arena;
} ky_bench_rows;

/*
 * Reads every object of the bundle at `path` into *out (zeroed by the caller) as the store
 * prepares it (ky_store_meta_of, ky_store_version_key). Returns KY_OK, or an error after
 * printing "PROGRAM: why" on stderr: an unreadable bundle, an element that is not an object
 * with an id and type, or no memory. *out is to be freed on both paths.
 */
int ky_bench_rows_load(ky_bench_rows *out, const char *path, const char *program);

void ky_bench_rows_free(ky_bench_rows *rows);

/* CLOCK_MONOTONIC in seconds. */
double ky_bench_now(void);

/* The process's peak resident set so far (getrusage), in KiB. */
long ky_bench_peak_rss_kib(void);

#endif
