/*
 * fuzz_pattern: libFuzzer target for the STIX pattern parser (src/pattern/). Any bytes are a
 * candidate pattern. A refusal must be a clean KY_EINVALID or KY_ETOOBIG with a message;
 * an accepted pattern must survive the round trip the module promises: print, parse the
 * print, equal tree, and the second print byte for byte the first.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pattern/pattern.h"
#include "util/ky_error.h"

#define CHECK(cond)                                                                            \
	do {                                                                                   \
		if (!(cond)) {                                                                 \
			fprintf(stderr, "%s:%d: pattern contract broken: %s\n", __FILE__, __LINE__, #cond); \
			abort();                                                               \
		}                                                                              \
	} while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	ky_pattern *p = NULL, *again = NULL;
	int rc = ky_pattern_parse(&p, (const char *)data, size);
	CHECK(rc == KY_OK || rc == KY_EINVALID || rc == KY_ETOOBIG);
	CHECK((rc == KY_OK) == (p != NULL));
	if (rc != KY_OK) {
		CHECK(strncmp(ky_error_last(), "column ", 7) == 0 || strncmp(ky_error_last(), "line ", 5) == 0 ||
		      rc == KY_ETOOBIG);
		return 0;
	}
	size_t n1, n2;
	char *first = ky_pattern_print(ky_pattern_root(p), &n1);
	CHECK(first != NULL);
	if (ky_pattern_parse(&again, first, n1) != KY_OK) {
		fprintf(stderr, "the print of an accepted pattern is refused: %s\n%s\n", ky_error_last(), first);
		abort();
	}
	CHECK(ky_pattern_equal(ky_pattern_root(p), ky_pattern_root(again)));
	char *second = ky_pattern_print(ky_pattern_root(again), &n2);
	CHECK(second != NULL && n1 == n2 && memcmp(first, second, n1) == 0);
	free(first);
	free(second);
	ky_pattern_free(again);
	ky_pattern_free(p);
	return 0;
}
