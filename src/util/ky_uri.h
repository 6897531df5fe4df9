/*
 * ky_uri: a hub location made safe to show. A location is a file path, a PostgreSQL URI
 * (postgresql:// or postgres://) or a libpq "key=value" connection string, and the last two
 * may carry a password. Everything kyoyu prints, logs or answers shows a location only
 * through ky_uri_redact(), so that no password reaches a terminal, a log or a client.
 */
#ifndef KY_URI_H
#define KY_URI_H

#include <stddef.h>

/*
 * Writes `location` into out[0..size) with every password replaced by "***":
 *  - in a URI, the userinfo password (postgresql://u:secret@h/db -> postgresql://u:***@h/db),
 *    which runs from the first ':' of the userinfo to the last '@' before the first '/', so a
 *    raw '@' or ':' inside it is hidden too;
 *  - in a URI, the value of every query parameter whose name, percent-decoded and in any
 *    case, contains "password" (?password=x, &PassWord=x, pass%77ord=x, sslpassword=x), up
 *    to the next '&';
 *  - in anything else, the value of every "key = value" keyword whose name contains
 *    "password", quoted ('a b\'c') or not, as libpq's connection strings write it.
 * An empty password is shown as "***" as well, so the output does not tell that it is empty.
 * Where a URI is ambiguous (an '@' only after the first '/', as a password holding a raw '/'
 * would put it), more is hidden rather than less: from the userinfo's ':' to that '@'.
 * A file path comes out unchanged.
 *
 * Always NUL-terminates when size > 0 (size 0 writes nothing). A result longer than size - 1
 * bytes is cut at a UTF-8 character boundary; since it is a prefix of the redacted text, it
 * still holds no byte of a password. `location` is a NUL-terminated string; borrowed.
 * Pure and thread-safe.
 */
void ky_uri_redact(const char *location, char *out, size_t size);

/* The value of the hexadecimal digit c (RFC 3986 §2.1: either case), or -1 when it is not one. */
int ky_uri_hex_value(char c);

#endif
