/*
 * test_alloc_stix: the STIX reader and validator (src/stix/) with their n-th allocation
 * failing, n = 1, 2, ... (alloc_fail.h), over a small bundle that has valid objects of
 * several kinds, one with problems, one element that is not a JSON object and one that is
 * not JSON at all. Each attempt must end with KY_ENOMEM from the call whose allocation
 * failed, or, once no allocation fails, with exactly the verdicts of an undisturbed read:
 * an allocation failure that turned into another verdict ("not valid JSON", "invalid")
 * would tell a member their valid object is broken.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "alloc_fail.h"
#include "stix/stix_reader.h"
#include "stix/stix_validate.h"
#include "util/ky_error.h"

static const char bundle[] =
	"{\"type\": \"bundle\", \"id\": \"bundle--8a1c6b32-3f6e-4b0e-9d7c-2b6f1a9e4c10\", \"objects\": [\n"
	"{\"type\": \"identity\", \"spec_version\": \"2.1\", \"id\": \"identity--6f2b9a44-0f6e-4c55-9a3e-7a0b1c2d3e4f\",\n"
	" \"created\": \"2026-11-01T09:00:00.000Z\", \"modified\": \"2026-11-01T09:00:00.000Z\",\n"
	" \"name\": \"Example vendor\", \"identity_class\": \"organization\", \"sectors\": [\"technology\"]},\n"
	"{\"type\": \"indicator\", \"spec_version\": \"2.1\", \"id\": \"indicator--0f8e2d3c-4b5a-4c6d-8e7f-9a0b1c2d3e4f\",\n"
	" \"created\": \"2026-11-20T08:15:00.000Z\", \"modified\": \"2026-11-20T08:15:00.000Z\",\n"
	" \"indicator_types\": [\"malicious-activity\"], \"pattern_type\": \"stix\", \"valid_from\": \"2026-11-20T08:15:00Z\",\n"
	" \"pattern\": \"[ipv4-addr:value = '203.0.113.45'] AND [domain-name:value = 'example.com']\"},\n"
	"{\"type\": \"malware\", \"spec_version\": \"2.1\", \"id\": \"malware--3c4d5e6f-7a8b-4c9d-8e0f-1a2b3c4d5e6f\",\n"
	" \"created\": \"2026-11-20T08:15:00.000Z\", \"modified\": \"2026-11-20T08:15:00.000Z\", \"name\": \"ExampleLocker\",\n"
	" \"malware_types\": [\"ransomware\"], \"is_family\": true,\n"
	" \"external_references\": [{\"source_name\": \"x\", \"url\": \"https://example.com/a?b=c\"}]},\n"
	"{\"type\": \"relationship\", \"spec_version\": \"2.1\", \"id\": \"relationship--9d8c7b6a-5f4e-4d3c-9b2a-1f0e9d8c7b6a\",\n"
	" \"created\": \"2026-11-20T08:15:00.000Z\", \"modified\": \"2026-11-20T08:15:00.000Z\", \"relationship_type\": \"indicates\",\n"
	" \"source_ref\": \"indicator--0f8e2d3c-4b5a-4c6d-8e7f-9a0b1c2d3e4f\", \"target_ref\": \"malware--3c4d5e6f-7a8b-4c9d-8e0f-1a2b3c4d5e6f\"},\n"
	"{\"type\": \"ipv4-addr\", \"spec_version\": \"2.1\", \"id\": \"ipv4-addr--b7c6d5e4-f3a2-5b1c-9d0e-8f7a6b5c4d3e\", \"value\": \"203.0.113.45\"},\n"
	"{\"type\": \"indicator\", \"spec_version\": \"2.1\", \"id\": \"indicator--1f8e2d3c-4b5a-4c6d-8e7f-9a0b1c2d3e4f\",\n"
	" \"created\": \"2026-13-20T08:15:00.000Z\", \"modified\": \"2026-11-20T08:15:00.000Z\", \"confidence\": 101,\n"
	" \"pattern_type\": \"stix\", \"valid_from\": \"yesterday\", \"pattern\": \"[ipv4-addr:value = \"},\n"
	"[1, 2, 3],\n"
	"{\"type\": \"malware\", \"name\": \"x\", \"name\": \"y\"}\n"
	"]}\n";

/* The verdicts of one read, one line per element and one for the envelope. */
typedef struct verdicts {
	char text[8192];
	size_t len;
} verdicts;

static void note(verdicts *v, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void note(verdicts *v, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(v->text + v->len, sizeof(v->text) - v->len, fmt, ap);
	va_end(ap);
	assert_true(n >= 0 && (size_t)n < sizeof(v->text) - v->len);
	v->len += (size_t)n;
}

/* Reads and validates the bundle into *v; returns KY_OK or the first failing call's code. */
static int read_all(verdicts *v)
{
	FILE *in = NULL;
	ky_stix_reader *r = NULL;
	ky_stix_problems *problems = NULL;
	ky_stix_item item;
	int rc = ky_stix_problems_new(&problems);
	if (rc != KY_OK)
		goto cleanup;
	/* fmemopen's own buffer is glibc's (not counted); the reader's are. */
	in = fmemopen((void *)bundle, sizeof(bundle) - 1, "r");
	assert_non_null(in);
	rc = ky_stix_reader_new(&r, in, 0, "bundle.json");
	if (rc != KY_OK)
		goto cleanup;
	while ((rc = ky_stix_reader_next(r, &item)) == 1) {
		if (item.error != NULL) {
			note(v, "%zu: %d %s\n", item.index, item.error_code, item.error);
			continue;
		}
		ky_stix_problems_clear(problems);
		rc = ky_stix_validate_object(problems, item.object);
		if (rc == KY_ENOMEM)
			goto cleanup;
		note(v, "%zu: %d", item.index, rc);
		for (size_t i = 0; i < ky_stix_problems_kept(problems); i++)
			note(v, " | %s", ky_stix_problems_get(problems, i));
		note(v, "\n");
	}
	if (rc < 0)
		goto cleanup;
	ky_stix_problems_clear(problems);
	rc = ky_stix_validate_envelope(problems, ky_stix_reader_envelope(r));
	if (rc == KY_ENOMEM)
		goto cleanup;
	note(v, "envelope: %d %zu\n", rc, ky_stix_problems_count(problems));
	rc = KY_OK;
cleanup:
	ky_stix_reader_free(r);
	ky_stix_problems_free(problems);
	if (in != NULL)
		fclose(in);
	return rc;
}

typedef struct scenario {
	verdicts expected;
} scenario;

static bool attempt(void *ctx, unsigned long n)
{
	scenario *s = ctx;
	verdicts got = {0};
	alloc_fail_arm(n);
	int rc = read_all(&got);
	bool fired = alloc_fail_disarm(NULL);
	if (rc == KY_OK) {
		if (strcmp(got.text, s->expected.text) != 0)
			fail_msg("allocation %lu failed%s, yet the read succeeded with other verdicts:\n%s\nexpected:\n%s", n,
				 fired ? "" : " (not reached)", got.text, s->expected.text);
	} else if (!fired || rc != KY_ENOMEM) {
		fail_msg("allocation %lu%s: %d (%s), expected KY_ENOMEM", n, fired ? " failed" : " was not reached", rc,
			 ky_error_last());
	}
	return fired;
}

static void test_reader_and_validator(void **state)
{
	(void)state;
	scenario s = {0};
	assert_int_equal(read_all(&s.expected), KY_OK);
	/* The bundle holds what it is meant to: 8 elements, 5 valid, 3 refused, a good envelope. */
	assert_non_null(strstr(s.expected.text, "4: 0\n"));
	assert_non_null(strstr(s.expected.text, "5: -"));
	assert_non_null(strstr(s.expected.text, "envelope: 0 0\n"));
	assert_true(alloc_fail_loop("stix reader and validator", attempt, &s) > 0);
}

int main(void)
{
	alloc_fail_init();
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_reader_and_validator),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
