/*
 * fuzz_replay: runs a libFuzzer target's LLVMFuzzerTestOneInput() over saved inputs, so the
 * corpus is an ordinary test in every build, with or without clang and libFuzzer.
 *
 *     fuzz_replay_stix_reader fuzz/corpus/stix_reader [more files or directories...]
 *
 * Each argument is a file or a directory whose regular files (not recursively, dot files
 * skipped) are run in byte order of their names, so every run is the same run. Each input
 * is handed over in a buffer of exactly its size, so AddressSanitizer sees any read past its
 * end. A crash or an abort from the target fails the run; finding no input at all fails it
 * too, since that means the corpus path is wrong.
 */
#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Reads the whole file into an exactly sized buffer (one byte for an empty file). */
static int run_file(const char *path)
{
	int rc = -1;
	uint8_t *buf = NULL;
	FILE *f = fopen(path, "rb");
	struct stat st;

	if (f == NULL || fstat(fileno(f), &st) != 0) {
		fprintf(stderr, "fuzz_replay: %s: %s\n", path, strerror(errno));
		goto done;
	}
	size_t size = (size_t)st.st_size;
	buf = malloc(size ? size : 1);
	if (buf == NULL) {
		fprintf(stderr, "fuzz_replay: %s: out of memory\n", path);
		goto done;
	}
	if (size > 0 && fread(buf, 1, size, f) != size) {
		fprintf(stderr, "fuzz_replay: %s: short read\n", path);
		goto done;
	}
	/* Named before it runs, so a crash says which input it was. */
	fprintf(stderr, "Running: %s\n", path);
	LLVMFuzzerTestOneInput(buf, size);
	rc = 0;
done:
	free(buf);
	if (f != NULL)
		fclose(f);
	return rc;
}

static int by_name(const struct dirent **x, const struct dirent **y)
{
	return strcmp((*x)->d_name, (*y)->d_name);
}

static int keep_entry(const struct dirent *e)
{
	return e->d_name[0] != '.';
}

/* Runs every regular file of a directory; returns how many ran, or -1. */
static long run_dir(const char *dir)
{
	struct dirent **names = NULL;
	long ran = 0;
	int n = scandir(dir, &names, keep_entry, by_name);

	if (n < 0) {
		fprintf(stderr, "fuzz_replay: %s: %s\n", dir, strerror(errno));
		return -1;
	}
	for (int i = 0; i < n; i++) {
		char path[4096];
		struct stat st;
		snprintf(path, sizeof(path), "%s/%s", dir, names[i]->d_name);
		if (ran >= 0 && stat(path, &st) == 0 && S_ISREG(st.st_mode))
			ran = run_file(path) == 0 ? ran + 1 : -1;
		free(names[i]);
	}
	free(names);
	return ran;
}

int main(int argc, char **argv)
{
	long total = 0;

	if (argc < 2) {
		fprintf(stderr, "usage: %s FILE-OR-DIRECTORY...\n", argv[0]);
		return 2;
	}
	for (int i = 1; i < argc; i++) {
		struct stat st;
		long ran;
		if (stat(argv[i], &st) != 0) {
			fprintf(stderr, "fuzz_replay: %s: %s\n", argv[i], strerror(errno));
			return 1;
		}
		ran = S_ISDIR(st.st_mode) ? run_dir(argv[i]) : (run_file(argv[i]) == 0 ? 1 : -1);
		if (ran < 0)
			return 1;
		total += ran;
	}
	printf("fuzz_replay: %ld inputs ran\n", total);
	if (total == 0) {
		fprintf(stderr, "fuzz_replay: no inputs found\n");
		return 1;
	}
	return 0;
}
