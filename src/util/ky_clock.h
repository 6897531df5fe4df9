/*
 * ky_clock: the one wall clock of kyoyu. Every time the hub records or compares (when an
 * object was added, when a change was made, when rules were accepted, and later sliding
 * windows, retention and legal deadlines) comes from ky_clock_now_us(), so that a test can
 * move it instead of sleeping.
 *
 * Two ways to move it, both for tests only:
 * - ky_clock_test_offset(): in-process tests add an offset (which later calls replace).
 * - The environment variable KYOYU_TEST_CLOCK, read once, at the first reading of the clock:
 *   "+N" or "-N" seconds from the real time, or an RFC 3339 UTC time "YYYY-MM-DDThh:mm:ssZ"
 *   the clock starts at (and runs on from). It lets a test start a real server in another
 *   day, month or year. Builds configured with -DKY_TEST_HOOKS=OFF (release builds) ignore
 *   it, so that a production hub's clock cannot be set from its environment.
 * A value that is neither is ignored with one warning on stderr.
 *
 * Thread-safe: the offset is an atomic, read relaxed.
 */
#ifndef KY_CLOCK_H
#define KY_CLOCK_H

#include <stdint.h>

/* Microseconds since 1970 (UTC), as moved by the test offset. */
int64_t ky_clock_now_us(void);

/* Sets the test offset added to the real time (replacing any before, the environment's
 * included); 0 is the real time. */
void ky_clock_test_offset(int64_t offset_us);

/* Writes t (microseconds since 1970) as "2016-01-01T01:01:01.123456Z" (RFC 3339, UTC, six
 * digits of fraction) into out. */
void ky_clock_format(int64_t t, char out[32]);

#endif
