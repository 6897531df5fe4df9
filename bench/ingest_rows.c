#include "ingest_rows.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "stix/stix_reader.h"
#include "store/store.h"
#include "store/store_backend.h"
#include "util/ky_error.h"

double ky_bench_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

long ky_bench_peak_rss_kib(void)
{
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	return ru.ru_maxrss;
}

static const char *keep(ky_arena *a, const char *s)
{
	return s ? ky_arena_strndup(a, s, strlen(s)) : NULL;
}

void ky_bench_rows_free(ky_bench_rows *rows)
{
	ky_arena_free(rows->arena);
	free(rows->v);
	*rows = (ky_bench_rows){0};
}

int ky_bench_rows_load(ky_bench_rows *out, const char *path, const char *program)
{
	int rc = KY_ERROR;
	FILE *in = fopen(path, "rb");
	ky_stix_reader *r = NULL;
	ky_stix_item item;

	if (in == NULL) {
		perror(path);
		return KY_ERROR;
	}
	if ((out->arena = ky_arena_new()) == NULL || ky_stix_reader_new(&r, in, 0, path) != KY_OK) {
		fprintf(stderr, "%s: out of memory\n", program);
		goto done;
	}
	while ((rc = ky_stix_reader_next(r, &item)) == 1) {
		ky_store_meta meta;
		if (item.object == NULL || ky_store_meta_of(item.object, &meta) != KY_OK) {
			fprintf(stderr, "%s: object %zu: %s\n", program, item.index,
				item.error ? item.error : ky_error_last());
			rc = KY_EINVALID;
			goto done;
		}
		if (out->n == out->cap) {
			size_t cap = out->cap ? out->cap * 2 : 1024;
			ky_bench_row *grown = realloc(out->v, cap * sizeof(*grown));
			if (grown == NULL) {
				rc = KY_ENOMEM;
				goto done;
			}
			out->v = grown;
			out->cap = cap;
		}
		ky_bench_row *w = &out->v[out->n++];
		w->raw = ky_arena_strndup(out->arena, item.raw, item.raw_len);
		w->raw_len = item.raw_len;
		w->id = keep(out->arena, meta.id);
		w->type = keep(out->arena, meta.type);
		w->spec_version = keep(out->arena, meta.spec_version);
		w->modified = keep(out->arena, meta.version ? meta.version : "");
		ky_store_version_key(meta.version, w->version_key);
		if (w->raw == NULL || w->id == NULL || w->type == NULL || w->modified == NULL ||
		    (meta.spec_version && w->spec_version == NULL)) {
			rc = KY_ENOMEM;
			goto done;
		}
	}
	if (rc < 0) {
		fprintf(stderr, "%s: %s\n", program, ky_error_last());
		goto done;
	}
	out->bytes = ky_stix_reader_bytes(r);
	rc = KY_OK;
done:
	if (rc == KY_ENOMEM)
		fprintf(stderr, "%s: out of memory\n", program);
	ky_stix_reader_free(r);
	fclose(in);
	return rc;
}
