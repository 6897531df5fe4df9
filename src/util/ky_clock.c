#include "util/ky_clock.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static _Atomic int64_t offset_us;
static pthread_once_t environment_once = PTHREAD_ONCE_INIT;

static int64_t real_now_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

#ifdef KY_TEST_HOOKS
/* KYOYU_TEST_CLOCK as an offset from the real time; false when it is neither form. */
static int parse_setting(const char *text, int64_t *offset)
{
	char *end;
	if (text[0] == '+' || text[0] == '-') {
		long long seconds = strtoll(text, &end, 10);
		if (*end != '\0' || end == text + 1)
			return 0;
		*offset = (int64_t)seconds * 1000000;
		return 1;
	}
	struct tm tm = {0};
	end = strptime(text, "%Y-%m-%dT%H:%M:%SZ", &tm);
	if (end == NULL || *end != '\0')
		return 0;
	*offset = (int64_t)timegm(&tm) * 1000000 - real_now_us();
	return 1;
}
#endif

static void read_environment(void)
{
#ifdef KY_TEST_HOOKS
	const char *text = getenv("KYOYU_TEST_CLOCK");
	int64_t offset = 0;
	if (text == NULL || *text == '\0')
		return;
	if (parse_setting(text, &offset))
		atomic_store_explicit(&offset_us, offset, memory_order_relaxed);
	else
		fprintf(stderr, "kyoyu: KYOYU_TEST_CLOCK must be +SECONDS, -SECONDS or YYYY-MM-DDThh:mm:ssZ; ignored\n");
#endif
}

int64_t ky_clock_now_us(void)
{
	pthread_once(&environment_once, read_environment);
	return real_now_us() + atomic_load_explicit(&offset_us, memory_order_relaxed);
}

void ky_clock_test_offset(int64_t offset)
{
	pthread_once(&environment_once, read_environment);
	atomic_store_explicit(&offset_us, offset, memory_order_relaxed);
}

void ky_clock_format(int64_t t, char out[32])
{
	time_t seconds = (time_t)(t / 1000000);
	long micros = (long)(t % 1000000);
	if (micros < 0) {
		micros += 1000000;
		seconds--;
	}
	struct tm tm;
	gmtime_r(&seconds, &tm);
	size_t n = strftime(out, 32, "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(out + n, 32 - n, ".%06ldZ", micros);
}
