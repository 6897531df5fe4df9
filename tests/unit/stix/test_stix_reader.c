/*
 * test_stix_reader: the streaming reader — the three input shapes, exact raw bytes,
 * per-element errors that do not stop the stream, fatal structure errors, limits, and
 * memory that does not grow with the input; messages that are valid UTF-8 whatever the
 * input and its name hold.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "stix/stix_reader.h"
#include "util/ky_error.h"
#include "util/ky_utf8.h"

typedef struct run {
	ky_stix_reader *reader;
	FILE *in;
	char *text; /* copy the reader reads from */
} run;

static void start(run *r, const char *text, size_t max_object)
{
	r->text = strdup(text);
	r->in = fmemopen(r->text, strlen(text), "rb");
	assert_non_null(r->in);
	assert_int_equal(ky_stix_reader_new(&r->reader, r->in, max_object, "test"), KY_OK);
}

static void stop(run *r)
{
	ky_stix_reader_free(r->reader);
	fclose(r->in);
	free(r->text);
}

static const char *type_of(const ky_stix_item *item)
{
	return json_string_value(json_object_get(item->object, "type"));
}

static void test_bundle_streams_each_object(void **state)
{
	(void)state;
	run r;
	const char *text = "{\"type\": \"bundle\", \"id\": \"bundle--5d0092c5-5f74-4287-9642-33f4c354e56d\",\n"
			   " \"objects\": [\n  {\"type\": \"a-one\", \"x\": \"} ] \\\" {\"},\n  {\"type\": \"b-two\"} ]}\n";
	start(&r, text, 0);
	ky_stix_item item;
	assert_int_equal(ky_stix_reader_next(r.reader, &item), 1);
	assert_string_equal(type_of(&item), "a-one");
	assert_int_equal(item.index, 0);
	assert_int_equal(item.line, 3);
	assert_int_equal(item.column, 3);
	assert_int_equal(item.raw_len, strlen("{\"type\": \"a-one\", \"x\": \"} ] \\\" {\"}"));
	assert_memory_equal(item.raw, "{\"type\": \"a-one\"", 16);
	assert_int_equal(ky_stix_reader_next(r.reader, &item), 1);
	assert_string_equal(type_of(&item), "b-two");
	assert_int_equal(item.index, 1);
	assert_int_equal(ky_stix_reader_next(r.reader, &item), 0);
	assert_int_equal(ky_stix_reader_shape(r.reader), KY_STIX_SHAPE_BUNDLE);
	const json_t *env = ky_stix_reader_envelope(r.reader);
	assert_non_null(env);
	assert_string_equal(json_string_value(json_object_get(env, "type")), "bundle");
	assert_int_equal(json_array_size(json_object_get(env, "objects")), 0);
	stop(&r);
}

static void test_keys_after_objects_are_kept(void **state)
{
	(void)state;
	run r;
	start(&r, "{\"objects\": [{\"type\": \"x-a\"}], \"type\": \"bundle\", \"id\": \"bundle--5d0092c5-5f74-4287-9642-33f4c354e56d\"}", 0);
	ky_stix_item item;
	assert_int_equal(ky_stix_reader_next(r.reader, &item), 1);
	assert_int_equal(ky_stix_reader_next(r.reader, &item), 0);
	const json_t *env = ky_stix_reader_envelope(r.reader);
	assert_string_equal(json_string_value(json_object_get(env, "type")), "bundle");
	assert_non_null(json_object_get(env, "id"));
	stop(&r);
}

/* STIX 2.1 §8: a bundle may omit objects; it is then an empty bundle, not a lone object. */
static void test_bundle_without_objects(void **state)
{
	(void)state;
	run r;
	ky_stix_item item;
	start(&r, "{\"type\": \"bundle\", \"id\": \"bundle--5d0092c5-5f74-4287-9642-33f4c354e56d\"}", 0);
	assert_int_equal(ky_stix_reader_next(r.reader, &item), 0);
	assert_int_equal(ky_stix_reader_shape(r.reader), KY_STIX_SHAPE_BUNDLE);
	assert_non_null(ky_stix_reader_envelope(r.reader));
	stop(&r);
}

static void test_array_and_single_object(void **state)
{
	(void)state;
	run r;
	ky_stix_item item;
	start(&r, " [ {\"type\": \"x-a\"} , {\"type\": \"x-b\"} ] ", 0);
	assert_int_equal(ky_stix_reader_next(r.reader, &item), 1);
	assert_int_equal(ky_stix_reader_next(r.reader, &item), 1);
	assert_string_equal(type_of(&item), "x-b");
	assert_int_equal(ky_stix_reader_next(r.reader, &item), 0);
	assert_int_equal(ky_stix_reader_shape(r.reader), KY_STIX_SHAPE_ARRAY);
	assert_null(ky_stix_reader_envelope(r.reader));
	stop(&r);

	/* A lone object, even one with an "objects" dictionary (observed-data, §4.14). */
	const char *single = "{\"type\": \"observed-data\", \"objects\": {\"0\": {\"type\": \"file\"}}}";
	start(&r, single, 0);
	assert_int_equal(ky_stix_reader_next(r.reader, &item), 1);
	assert_string_equal(type_of(&item), "observed-data");
	assert_int_equal(item.raw_len, strlen(single));
	assert_memory_equal(item.raw, single, strlen(single));
	assert_int_equal(ky_stix_reader_next(r.reader, &item), 0);
	assert_int_equal(ky_stix_reader_shape(r.reader), KY_STIX_SHAPE_SINGLE);
	stop(&r);
}

static void test_bad_element_does_not_stop_the_stream(void **state)
{
	(void)state;
	run r;
	ky_stix_item item;
	start(&r, "[{\"type\": \"x-a\"},\n {\"a\": 1, \"a\": 2},\n 42, {\"s\": \"\xff\"}, {\"n\": 99999999999999999999999}, {\"type\": \"x-z\"}]", 0);
	assert_int_equal(ky_stix_reader_next(r.reader, &item), 1);
	assert_non_null(item.object);
	assert_int_equal(ky_stix_reader_next(r.reader, &item), 1);
	assert_null(item.object);
	assert_int_equal(item.error_code, KY_EINVALID);
	assert_non_null(strstr(item.error, "line 2"));
	assert_non_null(strstr(item.error, "duplicate"));
	assert_int_equal(ky_stix_reader_next(r.reader, &item), 1);
	assert_non_null(strstr(item.error, "expected a JSON object, found an integer"));
	assert_int_equal(ky_stix_reader_next(r.reader, &item), 1);
	assert_null(item.object); /* invalid UTF-8 */
	assert_int_equal(ky_stix_reader_next(r.reader, &item), 1);
	assert_null(item.object); /* integer beyond 64 bits */
	assert_int_equal(ky_stix_reader_next(r.reader, &item), 1);
	assert_string_equal(type_of(&item), "x-z");
	assert_int_equal(item.index, 5);
	assert_int_equal(ky_stix_reader_next(r.reader, &item), 0);
	stop(&r);
}

static void expect_fatal(const char *text, int code, const char *words)
{
	run r;
	ky_stix_item item;
	int rc;
	start(&r, text, 64);
	while ((rc = ky_stix_reader_next(r.reader, &item)) == 1)
		;
	assert_int_equal(rc, code);
	if (strstr(ky_error_last(), words) == NULL)
		fail_msg("for %.40s: expected '%s' in: %s", text, words, ky_error_last());
	/* Once failed, it stays failed. */
	assert_int_equal(ky_stix_reader_next(r.reader, &item), code);
	stop(&r);
}

static void test_broken_structure_is_fatal(void **state)
{
	(void)state;
	expect_fatal("", KY_EINVALID, "empty input");
	expect_fatal("   \n ", KY_EINVALID, "empty input");
	expect_fatal("\"hello\"", KY_EINVALID, "found '\"'");
	expect_fatal("[{\"a\": 1}", KY_EINVALID, "found end of input");
	expect_fatal("[{\"a\": \"unterminated}]", KY_EINVALID, "unexpected end of input");
	expect_fatal("[{\"a\": 1}] trailing", KY_EINVALID, "nothing after the end");
	expect_fatal("[{\"a\": 1},]", KY_EINVALID, "expected an object");
	expect_fatal("[{\"a\": [1}]", KY_EINVALID, "does not close");
	expect_fatal("{\"type\": \"bundle\", \"objects\": [] \"id\": 1}", KY_EINVALID, "expected ',' or '}'");
	expect_fatal("{\"type\": \"bundle\", \"type\": \"x\", \"objects\": []}", KY_EINVALID, "duplicate");
	expect_fatal("{\"type\": \"bundle\", \"objects\": [{}] \n", KY_EINVALID, "line 2");
}

/* A file name may be any bytes, and jansson quotes the input near an error: the messages
 * are valid UTF-8 all the same (JSON output and the store take nothing else). */
static void test_messages_are_utf8(void **state)
{
	(void)state;
	static const char text[] = "[{\"type\": \"x\xff\"}, {\"a\": \xe3\x81\x82}] trailing";
	char *copy = strdup(text);
	FILE *in = fmemopen(copy, strlen(text), "rb");
	ky_stix_reader *reader = NULL;
	ky_stix_item item;
	assert_int_equal(ky_stix_reader_new(&reader, in, 0, "bad\xff\xfe name.json"), KY_OK);
	for (int i = 0; i < 2; i++) {
		assert_int_equal(ky_stix_reader_next(reader, &item), 1);
		assert_non_null(item.error);
		assert_true(ky_utf8_valid(item.error, strlen(item.error)));
	}
	assert_int_equal(ky_stix_reader_next(reader, &item), KY_EINVALID);
	const char *message = ky_error_last();
	if (!ky_utf8_valid(message, strlen(message)) || strstr(message, "bad\\xff\\xfe name.json: line 1") == NULL)
		fail_msg("expected the name escaped, valid UTF-8: %s", message);
	ky_stix_reader_free(reader);
	fclose(in);
	free(copy);
}

static void test_limits(void **state)
{
	(void)state;
	run r;
	ky_stix_item item;
	/* An element over the limit is refused on its own; the next one is read. */
	char text[4096];
	char big[1024];
	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	snprintf(text, sizeof(text), "[{\"big\": \"%s\"}, {\"type\": \"x-small\"}]", big);
	start(&r, text, 256);
	assert_int_equal(ky_stix_reader_next(r.reader, &item), 1);
	assert_int_equal(item.error_code, KY_ETOOBIG);
	assert_non_null(strstr(item.error, "larger than the limit of 256 bytes"));
	assert_int_equal(ky_stix_reader_next(r.reader, &item), 1);
	assert_string_equal(type_of(&item), "x-small");
	stop(&r);

	/* Absurd nesting is refused, not recursed into. */
	size_t depth = 20000;
	char *deep = malloc(depth * 2 + 3);
	deep[0] = '[';
	memset(deep + 1, '[', depth);
	memset(deep + 1 + depth, ']', depth);
	strcpy(deep + 1 + 2 * depth, "]");
	start(&r, deep, 0);
	assert_int_equal(ky_stix_reader_next(r.reader, &item), KY_ETOOBIG);
	assert_non_null(strstr(ky_error_last(), "nesting deeper"));
	stop(&r);
	free(deep);
}

static void test_byte_order_mark_is_skipped(void **state)
{
	(void)state;
	run r;
	ky_stix_item item;
	start(&r, "\xEF\xBB\xBF{\"type\": \"x-a\"}", 0);
	assert_int_equal(ky_stix_reader_next(r.reader, &item), 1);
	assert_string_equal(type_of(&item), "x-a");
	stop(&r);
}

/* An endless generator of a bundle, so that the test reads far more than it could hold. */
typedef struct generator {
	size_t objects_left;
	size_t written;
	size_t at; /* position in `pending` */
	size_t len;
	char pending[512];
	int phase; /* 0 header, 1 objects, 2 trailer, 3 done */
} generator;

static ssize_t generate(void *cookie, char *buf, size_t size)
{
	generator *g = cookie;
	size_t out = 0;
	while (out < size && g->phase < 3) {
		if (g->at == g->len) {
			g->at = 0;
			if (g->phase == 0) {
				g->len = (size_t)snprintf(g->pending, sizeof(g->pending),
							  "{\"type\": \"bundle\", \"id\": \"bundle--5d0092c5-5f74-4287-9642-33f4c354e56d\", \"objects\": [");
				g->phase = 1;
			} else if (g->phase == 1 && g->objects_left > 0) {
				g->len = (size_t)snprintf(g->pending, sizeof(g->pending),
							  "%s{\"type\": \"x-filler\", \"n\": %zu, \"text\": \"%0300d\"}",
							  g->written == 0 ? "" : g->written % 7 ? "," : ",\n", g->objects_left, 0);
				g->objects_left--;
				g->written++;
			} else if (g->phase == 1) {
				g->len = (size_t)snprintf(g->pending, sizeof(g->pending), "]}");
				g->phase = 2;
			} else {
				g->phase = 3;
				break;
			}
		}
		size_t n = g->len - g->at < size - out ? g->len - g->at : size - out;
		memcpy(buf + out, g->pending + g->at, n);
		g->at += n;
		out += n;
	}
	return (ssize_t)out;
}

static void test_memory_does_not_grow_with_input(void **state)
{
	(void)state;
	generator g = {.objects_left = 200000}; /* about 70 MB */
	cookie_io_functions_t io = {.read = generate};
	FILE *in = fopencookie(&g, "r", io);
	assert_non_null(in);
	ky_stix_reader *reader;
	assert_int_equal(ky_stix_reader_new(&reader, in, 4096, "generator"), KY_OK);
	ky_stix_item item;
	size_t count = 0, errors = 0, footprint = 0;
	int rc;
	while ((rc = ky_stix_reader_next(reader, &item)) == 1) {
		count++;
		errors += item.object == NULL;
		if (ky_stix_reader_footprint(reader) > footprint)
			footprint = ky_stix_reader_footprint(reader);
	}
	if (rc != 0)
		fail_msg("stream stopped: %s", ky_error_last());
	assert_int_equal(count, 200000);
	assert_int_equal(errors, 0);
	assert_true(ky_stix_reader_bytes(reader) > 60u << 20);
	assert_true(footprint < (1u << 20));
	ky_stix_reader_free(reader);
	fclose(in);
}

/* A stream of prefix, then `count` copies of one byte, then suffix: huge inputs in no memory. */
typedef struct repeat {
	const char *prefix, *suffix;
	char byte;
	unsigned long long count, at;
} repeat;

static ssize_t read_repeat(void *cookie, char *buf, size_t size)
{
	repeat *g = cookie;
	size_t out = 0;
	size_t np = strlen(g->prefix), ns = strlen(g->suffix);
	while (out < size) {
		unsigned long long total = np + g->count + ns;
		if (g->at >= total)
			break;
		if (g->at < np)
			buf[out] = g->prefix[g->at];
		else if (g->at < np + g->count)
			buf[out] = g->byte;
		else
			buf[out] = g->suffix[g->at - np - g->count];
		out++;
		g->at++;
	}
	return (ssize_t)out;
}

/* Reads the whole stream; returns the items' error codes (0 for an object) and the end. */
static int read_repeat_all(repeat *g, size_t max_object, int *codes, size_t ncodes, size_t *footprint)
{
	cookie_io_functions_t io = {.read = read_repeat};
	FILE *in = fopencookie(g, "r", io);
	ky_stix_reader *reader;
	ky_stix_item item;
	size_t n = 0;
	int rc;
	assert_int_equal(ky_stix_reader_new(&reader, in, max_object, "repeat"), KY_OK);
	*footprint = 0;
	while ((rc = ky_stix_reader_next(reader, &item)) == 1) {
		if (n < ncodes)
			codes[n++] = item.error_code;
		if (ky_stix_reader_footprint(reader) > *footprint)
			*footprint = ky_stix_reader_footprint(reader);
	}
	if (ky_stix_reader_footprint(reader) > *footprint)
		*footprint = ky_stix_reader_footprint(reader);
	ky_stix_reader_free(reader);
	fclose(in);
	return rc;
}

static void test_huge_values_stay_bounded(void **state)
{
	(void)state;
	int codes[4] = {-99, -99, -99, -99};
	size_t footprint;

	/* A 64 MB string inside one element: refused as too big, never held. */
	repeat huge_string = {"[{\"s\": \"", "\"}, {\"type\": \"x-after\"}]", 'a', 64ull << 20, 0};
	assert_int_equal(read_repeat_all(&huge_string, 1 << 20, codes, 4, &footprint), 0);
	assert_int_equal(codes[0], KY_ETOOBIG);
	assert_int_equal(codes[1], KY_OK);
	assert_true(footprint < (4u << 20));

	/* 64 MB of whitespace between two elements. */
	repeat spaces = {"[{\"type\": \"x-a\"}", ", {\"type\": \"x-b\"}]", ' ', 64ull << 20, 0};
	assert_int_equal(read_repeat_all(&spaces, 1 << 20, codes, 4, &footprint), 0);
	assert_int_equal(codes[0], KY_OK);
	assert_int_equal(codes[1], KY_OK);
	assert_true(footprint < (4u << 20));

	/* A single top-level object larger than the limit is an error, not a buffer. */
	repeat single = {"{\"type\": \"x-a\", \"s\": \"", "\"}", 'a', 64ull << 20, 0};
	assert_int_equal(read_repeat_all(&single, 1 << 20, codes, 4, &footprint), KY_ETOOBIG);
	assert_non_null(strstr(ky_error_last(), "larger than the limit"));
	assert_true(footprint < (4u << 20));
}

static void test_limit_is_exact(void **state)
{
	(void)state;
	int codes[2];
	size_t footprint;
	/* {"s":"aaa...a"} is 8 bytes plus the a's. */
	repeat at_limit = {"[{\"s\":\"", "\"}]", 'a', 100 - 8, 0};
	assert_int_equal(read_repeat_all(&at_limit, 100, codes, 2, &footprint), 0);
	assert_int_equal(codes[0], KY_OK);
	repeat over_limit = {"[{\"s\":\"", "\"}]", 'a', 100 - 7, 0};
	assert_int_equal(read_repeat_all(&over_limit, 100, codes, 2, &footprint), 0);
	assert_int_equal(codes[0], KY_ETOOBIG);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_bundle_streams_each_object),
		cmocka_unit_test(test_keys_after_objects_are_kept),
		cmocka_unit_test(test_bundle_without_objects),
		cmocka_unit_test(test_array_and_single_object),
		cmocka_unit_test(test_bad_element_does_not_stop_the_stream),
		cmocka_unit_test(test_messages_are_utf8),
		cmocka_unit_test(test_broken_structure_is_fatal),
		cmocka_unit_test(test_limits),
		cmocka_unit_test(test_byte_order_mark_is_skipped),
		cmocka_unit_test(test_memory_does_not_grow_with_input),
		cmocka_unit_test(test_huge_values_stay_bounded),
		cmocka_unit_test(test_limit_is_exact),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
