/*
 * test_util: the small pieces under src/util — the arena (alignment, zeroing, many and large
 * blocks, the bytes counted, and requests near SIZE_MAX that must fail instead of wrapping:
 * issue 11, defect 11), the thread-local error message (cut at KY_ERROR_MAX on a character
 * boundary), the UTF-8 checks and cut (RFC 3629: overlongs, surrogates, past U+10FFFF,
 * truncated sequences) and random UUIDs (RFC 4122 §4.4).
 */
#include <setjmp.h>
#include <stdalign.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <pthread.h>

#include <cmocka.h>

#include "util/ky_arena.h"
#include "util/ky_error.h"
#include "util/ky_utf8.h"
#include "util/ky_uuid.h"

/* --- ky_arena ---------------------------------------------------------------------------- */

static void test_arena_alignment_and_zeroing(void **state)
{
	(void)state;
	ky_arena *a = ky_arena_new();
	assert_non_null(a);
	unsigned char *blocks[300];
	for (size_t k = 0; k < 300; k++) {
		size_t size = k % 50;
		blocks[k] = ky_arena_alloc(a, size);
		assert_non_null(blocks[k]);
		assert_int_equal((uintptr_t)blocks[k] % alignof(max_align_t), 0);
		for (size_t i = 0; i < size; i++)
			assert_int_equal(blocks[k][i], 0);
		memset(blocks[k], (int)(k & 0xff), size);
	}
	/* No block overlaps another: each still holds what was written into it. */
	for (size_t k = 0; k < 300; k++)
		for (size_t i = 0; i < k % 50; i++)
			assert_int_equal(blocks[k][i], k & 0xff);
	/* Size 0 gives distinct pointers too. */
	assert_ptr_not_equal(ky_arena_alloc(a, 0), ky_arena_alloc(a, 0));
	ky_arena_free(a);
	ky_arena_free(NULL);
}

static void test_arena_many_and_big_blocks(void **state)
{
	(void)state;
	ky_arena *a = ky_arena_new();
	assert_non_null(a);
	assert_int_equal(ky_arena_used(a), 0);
	/* 20000 x 100 bytes span hundreds of 4 KiB blocks; used counts each rounded up. */
	const size_t rounded = (100 + alignof(max_align_t) - 1) / alignof(max_align_t) * alignof(max_align_t);
	for (size_t k = 0; k < 20000; k++) {
		char *p = ky_arena_alloc(a, 100);
		assert_non_null(p);
		memset(p, 'x', 100);
	}
	assert_int_equal(ky_arena_used(a), 20000 * rounded);
	/* A large allocation gets a block of its own, and small ones still come after it. */
	size_t before = ky_arena_used(a);
	unsigned char *big = ky_arena_alloc(a, 3 * 1024 * 1024 + 5);
	assert_non_null(big);
	for (size_t i = 0; i < 3 * 1024 * 1024 + 5; i += 4093)
		assert_int_equal(big[i], 0);
	memset(big, 0xab, 3 * 1024 * 1024 + 5);
	assert_true(ky_arena_used(a) - before >= 3 * 1024 * 1024 + 5);
	char *small = ky_arena_alloc(a, 10);
	assert_non_null(small);
	assert_int_equal(small[0], 0);
	assert_int_equal(big[3 * 1024 * 1024 + 4], 0xab);
	ky_arena_free(a);
}

static void test_arena_strndup(void **state)
{
	(void)state;
	ky_arena *a = ky_arena_new();
	assert_non_null(a);
	char *s = ky_arena_strndup(a, "abcdef", 3);
	assert_string_equal(s, "abc");
	s = ky_arena_strndup(a, "a\0b", 3);
	assert_memory_equal(s, "a\0b", 4);
	s = ky_arena_strndup(a, "", 0);
	assert_string_equal(s, "");
	ky_arena_free(a);
}

/* Issue 11, defect 11: the rounding up to the alignment and the block size wrapped, so a
 * request near SIZE_MAX got a small block (and the zeroing then wrote far past it). */
static void test_arena_sizes_near_size_max(void **state)
{
	(void)state;
	ky_arena *a = ky_arena_new();
	assert_non_null(a);
	assert_non_null(ky_arena_alloc(a, 8));
	for (size_t k = 0; k <= 40; k++) {
		if (ky_arena_alloc(a, SIZE_MAX - k) != NULL)
			fail_msg("ky_arena_alloc(SIZE_MAX - %zu) gave a block", k);
	}
	assert_null(ky_arena_alloc(a, SIZE_MAX));
	/* n + 1 wrapped to 0: a 16-byte block, then a copy of SIZE_MAX bytes into it. */
	assert_null(ky_arena_strndup(a, "abc", SIZE_MAX));
	/* The arena is still usable and counted nothing for the refusals. */
	size_t used = ky_arena_used(a);
	char *s = ky_arena_strndup(a, "abc", 3);
	assert_string_equal(s, "abc");
	assert_int_equal(ky_arena_used(a), used + alignof(max_align_t));
	ky_arena_free(a);
}

/* --- ky_error ---------------------------------------------------------------------------- */

static void test_error_set_and_clear(void **state)
{
	(void)state;
	ky_error_clear();
	assert_string_equal(ky_error_last(), "");
	assert_int_equal(ky_error_last_code(), KY_OK);
	assert_int_equal(ky_error_set(KY_EINVALID, "line %d: %s", 3, "bad"), KY_EINVALID);
	assert_string_equal(ky_error_last(), "line 3: bad");
	assert_int_equal(ky_error_last_code(), KY_EINVALID);
	ky_error_clear();
	assert_string_equal(ky_error_last(), "");
	assert_int_equal(ky_error_last_code(), KY_OK);

	assert_string_equal(ky_error_name(KY_OK), "ok");
	assert_string_equal(ky_error_name(KY_ENOTFOUND), "not found");
	assert_string_equal(ky_error_name(KY_EINVALID), "invalid");
	assert_string_equal(ky_error_name(KY_ETOOBIG), "too big");
	assert_string_equal(ky_error_name(KY_EDENIED), "denied");
	assert_string_equal(ky_error_name(KY_ENOMEM), "out of memory");
	assert_string_equal(ky_error_name(KY_ERROR), "error");
	assert_string_equal(ky_error_name(-1000), "error");
}

/* A long message is cut at KY_ERROR_MAX, at a character boundary and no earlier than it
 * must be: after 0, 1 and 2 ASCII bytes, 2000 bytes of "あ" reach the limit at each of the
 * three places inside a character. */
static void test_error_truncation(void **state)
{
	(void)state;
	static char text[2100];
	for (size_t lead = 0; lead < 3; lead++) {
		size_t n = 0;
		memset(text, 'x', lead);
		n = lead;
		while (n + 3 <= 2000 + lead) {
			memcpy(text + n, "あ", 3);
			n += 3;
		}
		text[n] = '\0';
		ky_error_set(KY_EINVALID, "%s", text);
		const char *m = ky_error_last();
		size_t len = strlen(m);
		assert_true(len <= KY_ERROR_MAX - 1);
		assert_true(len >= KY_ERROR_MAX - 3);
		assert_true(ky_utf8_valid(m, len));
		assert_memory_equal(m, text, len);
	}
	/* A message that fits exactly is kept whole. */
	memset(text, 'y', KY_ERROR_MAX - 1);
	text[KY_ERROR_MAX - 1] = '\0';
	ky_error_set(KY_ERROR, "%s", text);
	assert_int_equal(strlen(ky_error_last()), KY_ERROR_MAX - 1);
	ky_error_clear();
}

static void *set_in_thread(void *arg)
{
	(void)arg;
	ky_error_set(KY_EDENIED, "from the thread");
	return NULL;
}

static void test_error_is_per_thread(void **state)
{
	(void)state;
	ky_error_set(KY_ENOTFOUND, "from main");
	pthread_t t;
	assert_int_equal(pthread_create(&t, NULL, set_in_thread, NULL), 0);
	assert_int_equal(pthread_join(t, NULL), 0);
	assert_string_equal(ky_error_last(), "from main");
	assert_int_equal(ky_error_last_code(), KY_ENOTFOUND);
	ky_error_clear();
}

/* --- ky_utf8 ----------------------------------------------------------------------------- */

typedef struct bytes {
	const char *s;
	size_t len;
} bytes;

#define B(lit) {lit, sizeof(lit) - 1}

static void test_utf8_valid(void **state)
{
	(void)state;
	static const bytes good[] = {
		B(""), B("plain ascii"), B("\x7f"), B("\xc2\x80"), B("\xdf\xbf"), B("あ"), B("\xe0\xa0\x80"),
		B("\xef\xbf\xbf"), B("\xed\x9f\xbf"), B("\xee\x80\x80"), B("\xf0\x90\x80\x80"), B("😀"),
		B("\xf4\x8f\xbf\xbf"), B("a\0b"), B("mixé あ😀z"),
	};
	static const bytes bad[] = {
		B("\xc0\xaf"),          /* overlong '/' */
		B("\xc1\xbf"),          /* overlong */
		B("\xe0\x80\xaf"),      /* overlong, 3 bytes */
		B("\xe0\x9f\xbf"),      /* overlong, 3 bytes, the largest */
		B("\xf0\x80\x80\xaf"),  /* overlong, 4 bytes */
		B("\xf0\x8f\xbf\xbf"),  /* overlong, 4 bytes, the largest */
		B("\xed\xa0\x80"),      /* U+D800, a surrogate */
		B("\xed\xbf\xbf"),      /* U+DFFF */
		B("\xf4\x90\x80\x80"),  /* U+110000 */
		B("\xf5\x80\x80\x80"), B("\xf8\x88\x80\x80\x80"), B("\xff"), B("\xfe"), B("\xff\xfe"),
		B("\x80"),              /* a continuation byte alone */
		B("a\xbf"), B("\xc2"), B("\xe3\x81"), B("\xf0\x9f\x98"),  /* truncated */
		B("\xc2\x41"), B("\xe3\x41\x82"), B("\xf0\x9f\x41\x80"),  /* a continuation missing */
		B("ok \xe3\x81 then"),
	};
	for (size_t k = 0; k < sizeof(good) / sizeof(good[0]); k++)
		if (!ky_utf8_valid(good[k].s, good[k].len))
			fail_msg("good case %zu refused", k);
	for (size_t k = 0; k < sizeof(bad) / sizeof(bad[0]); k++) {
		if (ky_utf8_valid(bad[k].s, bad[k].len))
			fail_msg("bad case %zu accepted", k);
		if (ky_utf8_text(bad[k].s, bad[k].len))
			fail_msg("bad case %zu accepted as text", k);
	}
	/* The length is what counts, not a NUL. */
	assert_true(ky_utf8_valid("\xe3\x81\x82\xff", 3));
	assert_false(ky_utf8_valid("\xe3\x81\x82\xff", 4));
}

static void test_utf8_text(void **state)
{
	(void)state;
	assert_true(ky_utf8_text("", 0));
	assert_true(ky_utf8_text("attack-pattern あ 😀 ~", strlen("attack-pattern あ 😀 ~")));
	assert_false(ky_utf8_text("a\0b", 3));
	assert_false(ky_utf8_text("a\tb", 3));
	assert_false(ky_utf8_text("a\nb", 3));
	assert_false(ky_utf8_text("\x1f", 1));
	assert_false(ky_utf8_text("\x7f", 1));
	/* C1 controls are characters here (U+0080..U+009F encode as C2 80..C2 9F). */
	assert_true(ky_utf8_text("\xc2\x80", 2));
}

/* Whether text[0..at) ends on a character boundary of the well-formed text[0..len). */
static bool is_boundary(const char *text, size_t len, size_t at)
{
	return at == 0 || at == len || ((unsigned char)text[at] & 0xc0) != 0x80;
}

static void test_utf8_prefix(void **state)
{
	(void)state;
	/* 1, 2, 3 and 4-byte characters in every order. */
	static const char mixed[] = "aé😀あbあ😀é😀😀zéé";
	size_t len = sizeof(mixed) - 1;
	for (size_t max = 0; max <= len + 2; max++) {
		size_t p = ky_utf8_prefix(mixed, len, max);
		assert_true(p <= max && p <= len);
		assert_true(ky_utf8_valid(mixed, p));
		/* Maximal: no boundary lies between the cut and the limit. */
		for (size_t q = p + 1; q <= max && q <= len; q++)
			if (is_boundary(mixed, len, q))
				fail_msg("max %zu: cut at %zu though %zu is a boundary", max, p, q);
		/* Text already cut at max: the last, split character is left out whole. */
		size_t cut = max < len ? max : len;
		assert_int_equal(ky_utf8_prefix(mixed, cut, cut), p);
		assert_int_equal(ky_utf8_prefix(mixed, cut, len + 10), p);
	}
	/* Bytes that are not UTF-8 are cut anywhere. */
	assert_int_equal(ky_utf8_prefix("\x80\x80\x80\x80\x80\x80", 6, 5), 5);
	assert_int_equal(ky_utf8_prefix("abc", 3, 0), 0);
	assert_int_equal(ky_utf8_prefix("", 0, 5), 0);
	/* Bytes that never start a character of several bytes are cut anywhere. */
	assert_int_equal(ky_utf8_prefix("\xff\xff\xff", 3, 2), 2);
	assert_int_equal(ky_utf8_prefix("a\xc0\xaf", 3, 2), 2);
}

/* --- ky_uuid ----------------------------------------------------------------------------- */

static int compare(const void *x, const void *y)
{
	return strcmp(x, y);
}

static void test_uuid4(void **state)
{
	(void)state;
	static char ids[1000][37];
	for (size_t k = 0; k < 1000; k++) {
		memset(ids[k], 'Z', 37);
		assert_int_equal(ky_uuid4(ids[k]), KY_OK);
		const char *u = ids[k];
		assert_int_equal(strlen(u), 36);
		for (size_t i = 0; i < 36; i++) {
			if (i == 8 || i == 13 || i == 18 || i == 23)
				assert_int_equal(u[i], '-');
			else
				assert_non_null(strchr("0123456789abcdef", u[i]));
		}
		assert_int_equal(u[14], '4');                  /* the version */
		assert_non_null(strchr("89ab", u[19]));        /* the RFC 4122 variant */
	}
	qsort(ids, 1000, sizeof(ids[0]), compare);
	for (size_t k = 1; k < 1000; k++)
		assert_string_not_equal(ids[k - 1], ids[k]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_arena_alignment_and_zeroing),
		cmocka_unit_test(test_arena_many_and_big_blocks),
		cmocka_unit_test(test_arena_strndup),
		cmocka_unit_test(test_arena_sizes_near_size_max),
		cmocka_unit_test(test_error_set_and_clear),
		cmocka_unit_test(test_error_truncation),
		cmocka_unit_test(test_error_is_per_thread),
		cmocka_unit_test(test_utf8_valid),
		cmocka_unit_test(test_utf8_text),
		cmocka_unit_test(test_utf8_prefix),
		cmocka_unit_test(test_uuid4),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
