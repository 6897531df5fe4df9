/*
 * alloc_fail: allocation-failure injection for the tests in tests/unit/alloc/, as SQLite's
 * OOM tests and curl's torture mode do it: the n-th allocation made while injection is armed
 * returns NULL, and a scenario is run with n = 1, 2, ... until a run in which the n-th
 * allocation never came, which must then succeed.
 *
 * What is counted: every malloc, calloc, realloc, strdup, strndup and vasprintf called by
 * kyoyu_core and the test itself (the executables are linked with -Wl,--wrap=..., and
 * kyoyu_core is a static library, so its calls bind to the __wrap_ functions below);
 * jansson's allocations, which go through kyoyu's own jansson allocator (stix_reader.c
 * installs it before main, and its malloc is wrapped) or, without it, through one set
 * here (json_set_alloc_funcs); and SQLite's (SQLITE_CONFIG_MALLOC): both are shared
 * libraries whose own calls the linker cannot wrap. Out of reach: what
 * libmicrohttpd, libpq, libsodium and glibc allocate for themselves (fopen, pthread_create).
 * Only allocations made while armed count, from any thread.
 */
#ifndef KY_ALLOC_FAIL_H
#define KY_ALLOC_FAIL_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

/* A scenario that still fails at this n has a failure that never ends (a retry loop that
 * allocates): the loop stops with a test failure. */
#define ALLOC_FAIL_MAX_N 100000

/* Routes SQLite, and jansson unless kyoyu did, through the counting allocator. Call first in main, before SQLite is
 * initialised (it initialises SQLite). Aborts if SQLite
 * refuses the allocator (it was initialised already). */
void alloc_fail_init(void);

/* Arms injection: the n-th allocation from now (n >= 1) returns NULL; the ones after it
 * succeed again. */
void alloc_fail_arm(unsigned long n);

/* Disarms injection. Returns whether the armed allocation failed, and the allocations
 * counted while armed in *counted (may be NULL). */
bool alloc_fail_disarm(unsigned long *counted);

/*
 * One attempt of a scenario with its n-th allocation failing: arms, runs, disarms, checks
 * the outcome with cmocka's asserts (a clean error when `fired`, a complete success when
 * not), and returns whether injection fired. `ctx` is the scenario's.
 */
typedef bool alloc_fail_attempt(void *ctx, unsigned long n);

/*
 * Runs `attempt` for n = 1, 2, ... until it returns false (the n-th allocation was never
 * reached: the operation ran to its end), failing the test past ALLOC_FAIL_MAX_N. In the
 * sanitizer build, checks for leaks (LeakSanitizer) after every 8th attempt and the last,
 * and fails naming the attempts since the previous check. Prints "<what>: N allocation
 * points, A attempts, T s" on stdout and returns N, the allocations of the complete run.
 * In the environment: KY_ALLOC_FAIL_FROM=n starts the loop at n (to reproduce one failure
 * quickly), KY_ALLOC_FAIL_LEAK_EVERY=k checks for leaks every k attempts instead,
 * KY_ALLOC_FAIL_BACKTRACE=1 prints the stack of every failed allocation on stderr.
 */
unsigned long alloc_fail_loop(const char *what, alloc_fail_attempt *attempt, void *ctx);

/* A test's temporary directory (set it, e.g. with mkdtemp), removed by
 * alloc_fail_remove_dir(), a cmocka group teardown, however the test ends. */
extern char alloc_fail_dir[64];
int alloc_fail_remove_dir(void **state);

/* The wrapped functions (the linker points every call in the executable at these). */
void *__wrap_malloc(size_t size);
void *__wrap_calloc(size_t n, size_t size);
void *__wrap_realloc(void *p, size_t size);
char *__wrap_strdup(const char *s);
char *__wrap_strndup(const char *s, size_t n);
int __wrap_vasprintf(char **out, const char *fmt, va_list ap);

#endif
