/*
 * ky_utf8: checking and cutting UTF-8 text that came from outside (a request, a bundle, a
 * pattern). Messages quote such text, and a quote cut at a byte count can end inside a
 * character: jansson then refuses the message, PostgreSQL refuses to store it, and a
 * terminal shows garbage. Everything that shortens text for a message cuts it with
 * ky_utf8_prefix(), at a character boundary.
 *
 * Pure functions over (pointer, length): no allocation, no NUL needed, thread-safe.
 */
#ifndef KY_UTF8_H
#define KY_UTF8_H

#include <stdbool.h>
#include <stddef.h>

/* Whether text[0..len) is well-formed UTF-8 (RFC 3629): no overlong forms, no UTF-16
 * surrogates, nothing past U+10FFFF. NUL and controls are allowed here. */
bool ky_utf8_valid(const char *text, size_t len);

/* The length of the well-formed character at text[0..len), or 0 when the bytes there do not
 * start one (a stray continuation byte, an overlong form, a surrogate, a code point past
 * U+10FFFF, a sequence cut short, or len 0). */
size_t ky_utf8_char_length(const char *text, size_t len);

/* The length of the longest prefix of text[0..len) that is well-formed UTF-8. */
size_t ky_utf8_valid_prefix(const char *text, size_t len);

/* Whether text[0..len) is well-formed UTF-8 without NUL, other C0 controls or DEL: what a
 * request's path or parameter, or a name, may hold. */
bool ky_utf8_text(const char *text, size_t len);

/* The length of the longest prefix of text[0..len) that is at most max bytes and does not
 * end inside a character: a character that the cut (or the end of text, when text was
 * already cut) would split is left out whole. Bytes that are not UTF-8 are cut anywhere. */
size_t ky_utf8_prefix(const char *text, size_t len, size_t max);

#endif
