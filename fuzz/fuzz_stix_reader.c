/*
 * fuzz_stix_reader: libFuzzer target for the streaming STIX reader and the validator, the
 * first code that touches bytes a peer sends us.
 *
 * Each input is read twice, and the two runs must agree:
 *   A. as given, with a 1 MiB object limit: every parsed object goes through
 *      ky_stix_validate_object() and a bundle's envelope through ky_stix_validate_envelope();
 *   B. behind leading whitespace sized so that the reader's 64 KiB refill boundary falls
 *      inside the input, which inputs of fuzzing size never reach otherwise. For inputs of
 *      even length the limit stays and B must hand out exactly what A did, so a mistake in
 *      moving or discarding the buffer shows as a difference, not only as a crash. For odd
 *      lengths the limit is a third of the input, the too-big path: objects B still hands
 *      out must equal A's, the others must be refused as too big.
 * (Scanning the padding costs most of each run, hence one padded run per input, not both.)
 * Besides the sanitizers, CHECK() aborts when the reader breaks its contract
 * (stix_reader.h): an item with both or neither of object and error, an item after a fatal
 * error, a bundle ending without an envelope, `raw` bytes that do not parse to `object`.
 *
 * Built with -fsanitize=fuzzer as `fuzz_stix_reader`, and with fuzz_replay.c as
 * `fuzz_replay_stix_reader`, which ctest runs over fuzz/corpus/stix_reader/.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "stix/stix_reader.h"
#include "stix/stix_validate.h"
#include "util/ky_error.h"

/* A broken expectation: a line naming it, then abort() so libFuzzer saves the input. */
#define CHECK(cond)                                                                     \
	do {                                                                            \
		if (!(cond)) {                                                          \
			fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
			abort();                                                        \
		}                                                                       \
	} while (0)

/* A disagreement between runs A and B, with what each saw and B's last error message. */
#define CHECK_SAME(cond)                                                                \
	do {                                                                            \
		if (!(cond)) {                                                          \
			fprintf(stderr, "%s:%d: runs A and B disagree: %s\n", __FILE__,       \
				__LINE__, #cond);                                       \
			describe_run("A", a);                                           \
			describe_run("B", b);                                           \
			fprintf(stderr, "  last error: %s\n", ky_error_last());        \
			abort();                                                        \
		}                                                                       \
	} while (0)

/* The limit for run A: far above any input libFuzzer makes. */
#define MAX_OBJECT ((size_t)1 << 20)

/* stix_reader.c fills its buffer this many bytes at a time. If that changes, the padded runs
 * still check the same things, only with the boundary elsewhere. */
#define READER_CHUNK ((size_t)64 << 10)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* What one run saw: per item, the object (a reference) or the error code as an integer. */
typedef struct run {
	json_t *items;     /* array */
	json_t *envelope;  /* a copy, or NULL */
	ky_stix_shape shape;
	int end;           /* 0 or the negative code that stopped the stream */
	unsigned long long bytes;
} run;

static void describe_run(const char *name, const run *x)
{
	fprintf(stderr, "  %s: end %d (%s), shape %d, %zu items, %llu bytes read\n", name, x->end,
		ky_error_name(x->end), (int)x->shape, json_array_size(x->items), x->bytes);
}

static void check_problems(const ky_stix_problems *p, int rc)
{
	CHECK(rc == KY_OK || rc == KY_EINVALID);
	CHECK((rc == KY_OK) == (ky_stix_problems_count(p) == 0));
	CHECK(ky_stix_problems_kept(p) <= KY_STIX_PROBLEMS_MAX);
	CHECK(ky_stix_problems_kept(p) <= ky_stix_problems_count(p));
	for (size_t i = 0; i < ky_stix_problems_kept(p); i++) {
		const char *m = ky_stix_problems_get(p, i);
		CHECK(m != NULL && m[0] != '\0');
	}
}

static void check_item(const ky_stix_item *item, size_t count, ky_stix_shape shape, size_t limit)
{
	CHECK((item->object == NULL) != (item->error == NULL));
	CHECK(item->line >= 1 && item->column >= 1);
	CHECK(item->index == (shape == KY_STIX_SHAPE_SINGLE ? 0 : count));
	if (item->error != NULL) {
		CHECK(item->error_code == KY_EINVALID || item->error_code == KY_ETOOBIG);
		CHECK(item->error[0] != '\0');
		return;
	}
	CHECK(item->error_code == KY_OK);
	CHECK(json_is_object(item->object));
	CHECK(item->raw != NULL && item->raw_len > 0 && item->raw_len <= limit);
	/* `raw` is documented as the object's bytes: they must parse to the same object. */
	json_t *again = json_loadb(item->raw, item->raw_len, JSON_REJECT_DUPLICATES, NULL);
	CHECK(again != NULL && json_equal(again, item->object));
	json_decref(again);
}

/*
 * Reads buf[0..len) to the end with `limit`, recording into *out; validates when `problems`
 * is given. Aborts on a broken contract.
 */
static void read_all(run *out, const uint8_t *buf, size_t len, size_t limit, ky_stix_problems *problems)
{
	static const char empty[1];
	FILE *in = fmemopen(len ? (void *)buf : (void *)empty, len, "r");
	ky_stix_reader *r = NULL;
	ky_stix_item item;
	int rc;

	memset(out, 0, sizeof(*out));
	out->items = json_array();
	CHECK(in != NULL && out->items != NULL);
	CHECK(ky_stix_reader_new(&r, in, limit, "fuzz") == KY_OK);

	while ((rc = ky_stix_reader_next(r, &item)) == 1) {
		check_item(&item, json_array_size(out->items), ky_stix_reader_shape(r), limit);
		if (item.object != NULL && problems != NULL) {
			ky_stix_problems_clear(problems);
			check_problems(problems, ky_stix_validate_object(problems, item.object));
		}
		CHECK(json_array_append_new(out->items, item.object ? json_incref(item.object)
								 : json_integer(item.error_code)) == 0);
		CHECK(ky_stix_reader_shape(r) != KY_STIX_SHAPE_UNKNOWN);
	}
	out->end = rc;
	out->shape = ky_stix_reader_shape(r);
	out->bytes = ky_stix_reader_bytes(r);
	CHECK(out->bytes <= len);

	const json_t *envelope = ky_stix_reader_envelope(r);
	if (rc < 0) {
		CHECK(rc == KY_EINVALID || rc == KY_ETOOBIG || rc == KY_ERROR || rc == KY_ENOMEM);
		CHECK(ky_error_last()[0] != '\0');
		CHECK(envelope == NULL);
		CHECK(ky_stix_reader_next(r, &item) < 0);
	} else {
		CHECK(rc == 0);
		CHECK(out->shape != KY_STIX_SHAPE_UNKNOWN);
		CHECK((out->shape == KY_STIX_SHAPE_BUNDLE) == (envelope != NULL));
		CHECK(out->shape != KY_STIX_SHAPE_SINGLE || json_array_size(out->items) == 1);
		if (envelope != NULL) {
			const json_t *objects = json_object_get(envelope, "objects");
			CHECK(json_is_object(envelope) && (!json_is_array(objects) || json_array_size(objects) == 0));
			out->envelope = json_deep_copy(envelope);
			CHECK(out->envelope != NULL);
			if (problems != NULL) {
				ky_stix_problems_clear(problems);
				check_problems(problems, ky_stix_validate_envelope(problems, envelope));
			}
		}
		CHECK(ky_stix_reader_next(r, &item) == 0);
	}

	ky_stix_reader_free(r);
	fclose(in);
}

static void run_free(run *x)
{
	json_decref(x->items);
	json_decref(x->envelope);
}

/*
 * Copies data behind whitespace so the reader's first refill lands `at` bytes into it. A BOM
 * stays in front: the reader accepts one only as the very first bytes.
 */
static uint8_t *pad(const uint8_t *data, size_t size, size_t at, size_t *len)
{
	size_t bom = size >= 3 && memcmp(data, "\xEF\xBB\xBF", 3) == 0 ? 3 : 0;
	size_t fill = READER_CHUNK - bom - at % (READER_CHUNK - bom);
	uint8_t *buf = malloc(size + fill);
	CHECK(buf != NULL);
	memcpy(buf, data, bom);
	memset(buf + bom, ' ', fill);
	if (size > bom)
		memcpy(buf + bom + fill, data + bom, size - bom);
	*len = size + fill;
	return buf;
}

/* B, read with A's limit and shifted by `shift` bytes of padding, must be A exactly. */
static void compare_same(const run *a, const run *b, unsigned long long shift)
{
	CHECK_SAME(b->end == a->end && b->shape == a->shape);
	CHECK_SAME(b->bytes - shift == a->bytes);
	CHECK_SAME(json_equal(b->items, a->items));
	CHECK_SAME((a->envelope == NULL && b->envelope == NULL) || json_equal(a->envelope, b->envelope));
}

/* B, read with a smaller limit, may refuse more as too big, but never differ otherwise. */
static void compare_smaller_limit(const run *a, const run *b)
{
	size_t na = json_array_size(a->items), nb = json_array_size(b->items);
	CHECK_SAME(nb <= na);
	for (size_t i = 0; i < nb; i++) {
		json_t *x = json_array_get(a->items, i), *y = json_array_get(b->items, i);
		if (json_is_object(y))
			CHECK_SAME(json_equal(x, y));
		else if (json_is_object(x))
			CHECK_SAME(json_integer_value(y) == KY_ETOOBIG);
		else
			CHECK_SAME(json_integer_value(y) == json_integer_value(x) || json_integer_value(y) == KY_ETOOBIG);
	}
	if (b->end != KY_ETOOBIG) {
		CHECK_SAME(b->end == a->end && nb == na);
		CHECK_SAME((a->envelope == NULL && b->envelope == NULL) || json_equal(a->envelope, b->envelope));
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	ky_stix_problems *problems = NULL;
	run a, b;
	size_t len;

	CHECK(ky_stix_problems_new(&problems) == KY_OK);
	read_all(&a, data, size, MAX_OBJECT, problems);
	ky_stix_problems_free(problems);

	bool same_limit = size % 2 == 0;
	uint8_t *padded = pad(data, size, same_limit ? size / 2 : size / 3, &len);
	read_all(&b, padded, len, same_limit ? MAX_OBJECT : size / 3 + 1, NULL);
	free(padded);
	if (same_limit)
		compare_same(&a, &b, len - size);
	else
		compare_smaller_limit(&a, &b);

	run_free(&a);
	run_free(&b);
	return 0;
}
