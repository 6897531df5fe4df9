/*
 * ky_slice: bytes with their length, the way kyoyu carries text that came from outside (a
 * request's path segments and parameters). Nothing measures such text with strlen, so a NUL
 * inside it cannot silently cut it; the HTTP layer refuses NULs and controls in a request
 * before any handler sees it, and NUL-terminates its slices only for the libraries that want
 * C strings.
 */
#ifndef KY_SLICE_H
#define KY_SLICE_H

#include <stdbool.h>
#include <stddef.h>
#include <string.h>

typedef struct ky_slice {
	const char *ptr;   /* borrowed; NULL only for the empty slice {NULL, 0} */
	size_t len;
} ky_slice;

/* Whether s holds exactly the bytes of the C string literal. */
static inline bool ky_slice_is(ky_slice s, const char *literal)
{
	size_t n = strlen(literal);
	return s.len == n && (n == 0 || memcmp(s.ptr, literal, n) == 0);
}

/* Whether a and b hold the same bytes. */
static inline bool ky_slice_eq(ky_slice a, ky_slice b)
{
	return a.len == b.len && (a.len == 0 || memcmp(a.ptr, b.ptr, a.len) == 0);
}

#endif
