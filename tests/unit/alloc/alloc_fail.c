/*
 * alloc_fail: the counting allocator and the loop of alloc_fail.h. One countdown, atomic
 * because the ingest pipeline and the HTTP server allocate on threads of their own: each
 * allocation made while it is positive takes one from it, and the one that takes it from 1
 * to 0 fails; at 0 (or below, when threads race past) nothing counts any more.
 */
#include "alloc_fail.h"

#include <execinfo.h>
#include <setjmp.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "ky_test_hub.h"
#include <jansson.h>
#include <sqlite3.h>

#ifdef KY_TEST_SANITIZE
#include <sanitizer/lsan_interface.h>
#endif

void *__real_malloc(size_t size);
void *__real_calloc(size_t n, size_t size);
void *__real_realloc(void *p, size_t size);
char *__real_strdup(const char *s);
char *__real_strndup(const char *s, size_t n);
int __real_vasprintf(char **out, const char *fmt, va_list ap);

static atomic_long countdown;
static atomic_ulong counted;
static atomic_bool fired;
static unsigned long last_counted; /* by the last disarm */
static bool backtraces;

static bool should_fail(void)
{
	if (atomic_load(&countdown) <= 0)
		return false;
	atomic_fetch_add(&counted, 1);
	if (atomic_fetch_sub(&countdown, 1) != 1)
		return false;
	atomic_store(&fired, true);
	if (backtraces) {
		void *frames[32];
		int n = backtrace(frames, 32);
		static const char line[] = "alloc_fail: this allocation fails:\n";
		if (write(STDERR_FILENO, line, sizeof(line) - 1) < 0)
			return true;
		backtrace_symbols_fd(frames, n, STDERR_FILENO);
	}
	return true;
}

void *__wrap_malloc(size_t size)
{
	return should_fail() ? NULL : __real_malloc(size);
}

void *__wrap_calloc(size_t n, size_t size)
{
	return should_fail() ? NULL : __real_calloc(n, size);
}

void *__wrap_realloc(void *p, size_t size)
{
	return should_fail() ? NULL : __real_realloc(p, size);
}

char *__wrap_strdup(const char *s)
{
	return should_fail() ? NULL : __real_strdup(s);
}

char *__wrap_strndup(const char *s, size_t n)
{
	return should_fail() ? NULL : __real_strndup(s, n);
}

int __wrap_vasprintf(char **out, const char *fmt, va_list ap)
{
	if (should_fail()) {
		*out = NULL;
		return -1;
	}
	return __real_vasprintf(out, fmt, ap);
}

/* jansson's, when nothing set one: libjansson's own calls to malloc are out of the linker's
 * reach. */
static void *json_malloc(size_t size)
{
	return __wrap_malloc(size);
}

/* SQLite's: its default methods, with the countdown in front of the two that allocate. */
static sqlite3_mem_methods sqlite_default;

static void *sqlite_malloc(int size)
{
	return should_fail() ? NULL : sqlite_default.xMalloc(size);
}

static void *sqlite_realloc(void *p, int size)
{
	return should_fail() ? NULL : sqlite_default.xRealloc(p, size);
}

void alloc_fail_init(void)
{
	const char *trace = getenv("KY_ALLOC_FAIL_BACKTRACE");
	backtraces = trace != NULL && strcmp(trace, "1") == 0;
	if (backtraces) {
		/* The first backtrace() loads libgcc_s: done now, not inside a failing call. */
		void *frame;
		backtrace(&frame, 1);
	}
	/* kyoyu's reader installs an allocator of its own for jansson before main, which
	 * calls malloc and is wrapped: it stays. jansson's default, libc's malloc, is not. */
	json_malloc_t json_current;
	json_free_t json_free;
	json_get_alloc_funcs(&json_current, &json_free);
	if (json_current == __real_malloc)
		json_set_alloc_funcs(json_malloc, free);
	sqlite3_mem_methods methods;
	if (sqlite3_config(SQLITE_CONFIG_GETMALLOC, &sqlite_default) != SQLITE_OK)
		abort();
	methods = sqlite_default;
	methods.xMalloc = sqlite_malloc;
	methods.xRealloc = sqlite_realloc;
	/* The store switches memory statistics off too (store_sqlite.c); its call, after this
	 * initialisation, is then refused, which it ignores. */
	if (sqlite3_config(SQLITE_CONFIG_MALLOC, &methods) != SQLITE_OK || sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0) != SQLITE_OK ||
	    sqlite3_initialize() != SQLITE_OK)
		abort();
}

void alloc_fail_arm(unsigned long n)
{
	atomic_store(&fired, false);
	atomic_store(&counted, 0);
	atomic_store(&countdown, (long)n);
}

bool alloc_fail_disarm(unsigned long *out)
{
	atomic_store(&countdown, 0);
	last_counted = atomic_load(&counted);
	if (out != NULL)
		*out = last_counted;
	return atomic_load(&fired);
}

/* A leak check scans the whole heap, some 0.1 s in the ingest scenario's process under the
 * sanitizers; one every few attempts keeps that scenario within its budget, and the
 * report's stack says where the leaked block came from anyway. */
#define LEAK_CHECK_EVERY 8

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

unsigned long alloc_fail_loop(const char *what, alloc_fail_attempt *attempt, void *ctx)
{
	const char *from = getenv("KY_ALLOC_FAIL_FROM");
	unsigned long n = from != NULL ? strtoul(from, NULL, 10) : 1;
	n = n ? n : 1;
	const char *every_text = getenv("KY_ALLOC_FAIL_LEAK_EVERY");
	unsigned long every = every_text != NULL ? strtoul(every_text, NULL, 10) : LEAK_CHECK_EVERY;
	every = every ? every : 1;
	unsigned long checked = n - 1; /* the attempts checked for leaks so far */
	double start = now();
	for (; n <= ALLOC_FAIL_MAX_N; n++) {
		bool more = attempt(ctx, n);
#ifdef KY_TEST_SANITIZE
		if ((n - checked >= every || !more) && __lsan_do_recoverable_leak_check() != 0)
			fail_msg("%s: memory leaked in the attempts %lu to %lu (the report above has its stack; "
				 "KY_ALLOC_FAIL_FROM=%lu KY_ALLOC_FAIL_LEAK_EVERY=1 names the attempt)", what, checked + 1, n, checked + 1);
		if (n - checked >= every)
			checked = n;
#else
		(void)every;
		(void)checked;
#endif
		if (!more) {
			printf("%s: %lu allocation points, %lu attempts, %.1f s\n", what, last_counted, n, now() - start);
			fflush(stdout);
			return last_counted;
		}
	}
	fail_msg("%s: still failing with allocation %d failed: an attempt that never ends", what, ALLOC_FAIL_MAX_N);
	return 0;
}

char alloc_fail_dir[64];

int alloc_fail_remove_dir(void **state)
{
	(void)state;
	if (alloc_fail_dir[0] != '\0')
		ky_test_remove_dir(alloc_fail_dir);
	return 0;
}
