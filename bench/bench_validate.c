/*
 * bench_validate: times one way of reading a STIX bundle, so bench/run-validate can set the
 * cost of validation against what parsing alone costs.
 *
 *     bench_validate MODE bundle.json
 *
 *   kyoyu            ky_stix_reader streams the bundle and every object goes through
 *                    ky_stix_validate_object(), then the envelope through
 *                    ky_stix_validate_envelope(): what `kyoyu validate` and ingestion do;
 *   jansson-objects  the same reader, no validation: splitting plus one json_loadb() per
 *                    object, i.e. the floor under the kyoyu mode;
 *   jansson-whole    json_load_file() of the whole bundle with JSON_REJECT_DUPLICATES, the
 *                    flag the reader gives jansson: the naive way, for speed and memory.
 *
 * One mode per process, so the peak RSS (getrusage ru_maxrss) is that mode's alone. Prints
 * one line of key=value pairs; wall time covers opening the file to freeing the last object.
 * Exits 1 if the bundle cannot be read, or, in kyoyu mode, if any object is invalid: the
 * benchmark input is meant to be valid, so a refusal means the figure would measure the
 * wrong path.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>

#include "stix/stix_reader.h"
#include "stix/stix_validate.h"
#include "util/ky_error.h"

typedef struct tally {
	unsigned long long objects;
	unsigned long long invalid;
	unsigned long long bytes;
} tally;

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Prints at most a few problems of one object, enough to see what went wrong. */
static void show_problems(const tally *t, const ky_stix_item *item, const ky_stix_problems *p)
{
	if (t->invalid > 5)
		return;
	for (size_t i = 0; i < ky_stix_problems_kept(p); i++)
		fprintf(stderr, "object %zu (line %zu): %s\n", item->index, item->line, ky_stix_problems_get(p, i));
}

/* Streams the bundle; validates each object when `validate` is set. */
static int read_stream(tally *t, const char *path, int validate)
{
	int rc = KY_ERROR;
	FILE *in = fopen(path, "rb");
	ky_stix_reader *r = NULL;
	ky_stix_problems *problems = NULL;
	ky_stix_item item;

	if (in == NULL) {
		perror(path);
		goto done;
	}
	if (ky_stix_reader_new(&r, in, 0, path) != KY_OK || ky_stix_problems_new(&problems) != KY_OK) {
		fprintf(stderr, "bench_validate: %s\n", ky_error_last());
		goto done;
	}
	while ((rc = ky_stix_reader_next(r, &item)) == 1) {
		t->objects++;
		if (item.object == NULL) {
			t->invalid++;
			fprintf(stderr, "%s\n", item.error);
			continue;
		}
		if (!validate)
			continue;
		ky_stix_problems_clear(problems);
		int v = ky_stix_validate_object(problems, item.object);
		if (v == KY_ENOMEM) {
			rc = v;
			goto done;
		}
		if (v != KY_OK) {
			t->invalid++;
			show_problems(t, &item, problems);
		}
	}
	if (rc < 0) {
		fprintf(stderr, "bench_validate: %s\n", ky_error_last());
		goto done;
	}
	const json_t *envelope = ky_stix_reader_envelope(r);
	if (validate && envelope != NULL) {
		ky_stix_problems_clear(problems);
		if (ky_stix_validate_envelope(problems, envelope) != KY_OK) {
			t->invalid++;
			fprintf(stderr, "the bundle's envelope is invalid\n");
		}
	}
	t->bytes = ky_stix_reader_bytes(r);
	rc = KY_OK;
done:
	ky_stix_problems_free(problems);
	ky_stix_reader_free(r);
	if (in != NULL)
		fclose(in);
	return rc;
}

static int read_whole(tally *t, const char *path)
{
	json_error_t err;
	json_t *root = json_load_file(path, JSON_REJECT_DUPLICATES, &err);
	if (root == NULL) {
		fprintf(stderr, "%s: line %d column %d: %s\n", path, err.line, err.column, err.text);
		return KY_EINVALID;
	}
	t->objects = json_array_size(json_object_get(root, "objects"));
	json_decref(root);
	struct stat st;
	if (stat(path, &st) == 0)
		t->bytes = (unsigned long long)st.st_size;
	return KY_OK;
}

int main(int argc, char **argv)
{
	tally t = {0};
	int rc;

	if (argc != 3) {
		fprintf(stderr, "usage: bench_validate kyoyu|jansson-objects|jansson-whole bundle.json\n");
		return 2;
	}
	const char *mode = argv[1], *path = argv[2];
	double start = now();
	if (strcmp(mode, "kyoyu") == 0) {
		rc = read_stream(&t, path, 1);
	} else if (strcmp(mode, "jansson-objects") == 0) {
		rc = read_stream(&t, path, 0);
	} else if (strcmp(mode, "jansson-whole") == 0) {
		rc = read_whole(&t, path);
	} else {
		fprintf(stderr, "bench_validate: unknown mode %s\n", mode);
		return 2;
	}
	double seconds = now() - start;
	if (rc != KY_OK)
		return 1;

	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	printf("mode=%s objects=%llu invalid=%llu bytes=%llu seconds=%.3f objects_per_s=%.0f mb_per_s=%.1f "
	       "peak_rss_kib=%ld\n",
	       mode, t.objects, t.invalid, t.bytes, seconds, (double)t.objects / seconds,
	       (double)t.bytes / 1e6 / seconds, ru.ru_maxrss);
	return t.invalid > 0 ? 1 : 0;
}
