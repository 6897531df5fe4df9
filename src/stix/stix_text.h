/*
 * stix_text: untrusted text as the messages of the stix and pattern modules quote it.
 *
 * A message names the value that is wrong, and the value came from outside: it may be a
 * megabyte long, hold line feeds or escape sequences, or (given to the pattern parser
 * directly) not be UTF-8 at all. A message must stay one readable line of valid UTF-8,
 * because jansson refuses to put anything else in a JSON string (`kyoyu validate --json`
 * then printed "errors":[]) and PostgreSQL refuses to store it. So every quoted value goes
 * through ky_stix_excerpt(), which cuts at a character boundary (ky_utf8_prefix's rule)
 * and writes what a terminal or a JSON string cannot carry as \xNN.
 *
 * For "valid_from" = 30 x "あ" (90 bytes), an excerpt of 81 bytes of room is the first 25
 * characters (75 bytes) and "...": never 77 bytes, which would end inside the 26th.
 *
 * Pure functions over (pointer, length): no allocation, no NUL needed, thread-safe.
 */
#ifndef KY_STIX_TEXT_H
#define KY_STIX_TEXT_H

#include <stddef.h>

/*
 * Writes text[0..length) into out (size bytes, at least 8) for a one-line message: each
 * character as it is, except that a byte that is not part of a well-formed UTF-8 character,
 * a C0 control (U+0000 to U+001F) and DEL are written as \xNN. When that does not fit in
 * size - 1 bytes, as much as fits with "..." after it, cut between characters. The result
 * is NUL-terminated, valid UTF-8 and free of control characters. Returns out.
 */
const char *ky_stix_excerpt(char *out, size_t size, const char *text, size_t length);

#endif
