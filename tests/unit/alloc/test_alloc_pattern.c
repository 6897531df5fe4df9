/*
 * test_alloc_pattern: the pattern parser and printer (src/pattern/, STIX 2.1 §9) with their
 * n-th allocation failing, n = 1, 2, ... (alloc_fail.h), for each of a few patterns: most
 * kinds of comparison, qualifiers, an IN set, binary and hex literals, and one pattern cut
 * short. An attempt ends with KY_ENOMEM from the parser or NULL from the printer, or with
 * exactly the undisturbed verdict and text.
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
#include "pattern/pattern.h"
#include "util/ky_error.h"

static const char *const patterns[] = {
	"[ipv4-addr:value = '203.0.113.45']",
	"[file:hashes.'SHA-256' = 'aec070645fe53ee3b3763059376134f058cc337247c978add178b6ccdfb0019f' AND file:size > 1024] "
	"FOLLOWEDBY [network-traffic:dst_ref.value ISSUBSET '198.51.100.0/24'] WITHIN 600 SECONDS",
	"([domain-name:value IN ('a.example', 'b.example', 'c.example')] OR [url:value LIKE 'http://%.example/%']) "
	"REPEATS 3 TIMES START t'2026-01-01T00:00:00Z' STOP t'2026-02-01T00:00:00Z'",
	"[process:command_line MATCHES '^cmd\\\\.exe /c' AND process:pid NOT <= 4 OR process:extensions.'windows-process-ext'.aslr_enabled = true]",
	"[x-custom-type:values[*].name = 'x' AND x-custom-type:n != 2.5 AND x-custom-type:b = b'AAEC' AND x-custom-type:h = h'00ff']",
	"[ipv4-addr:value = '203.0.113.45' AND",
};

/* The outcome of one parse and print: "rc: text" or "rc: message". */
static int run(const char *text, char *out, size_t size)
{
	ky_pattern *p = NULL;
	char *printed = NULL;
	int rc = ky_pattern_parse(&p, text, strlen(text));
	if (rc != KY_OK) {
		if (rc != KY_ENOMEM)
			snprintf(out, size, "%d: %s", rc, ky_error_last());
		goto cleanup;
	}
	size_t len;
	printed = ky_pattern_print(ky_pattern_root(p), &len);
	if (printed == NULL) {
		rc = KY_ENOMEM;
		goto cleanup;
	}
	snprintf(out, size, "0: %.*s", (int)len, printed);
cleanup:
	free(printed);
	ky_pattern_free(p);
	return rc;
}

typedef struct scenario {
	const char *text;
	char expected[2048];
} scenario;

static bool attempt(void *ctx, unsigned long n)
{
	scenario *s = ctx;
	char got[2048] = "";
	alloc_fail_arm(n);
	int rc = run(s->text, got, sizeof(got));
	bool fired = alloc_fail_disarm(NULL);
	if (rc == KY_ENOMEM) {
		if (!fired)
			fail_msg("%s: KY_ENOMEM, yet allocation %lu was not reached", s->text, n);
	} else if (strcmp(got, s->expected) != 0) {
		fail_msg("%s: allocation %lu %s, and the outcome was\n%s\ninstead of\n%s", s->text, n,
			 fired ? "failed" : "was not reached", got, s->expected);
	}
	return fired;
}

static void test_parse_and_print(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(patterns) / sizeof(patterns[0]); i++) {
		scenario s = {.text = patterns[i]};
		assert_int_not_equal(run(s.text, s.expected, sizeof(s.expected)), KY_ENOMEM);
		/* All are valid but the last, which is cut short. */
		assert_true(strncmp(s.expected, i + 1 < sizeof(patterns) / sizeof(patterns[0]) ? "0: " : "-3: ", 3) == 0);
		char what[64];
		snprintf(what, sizeof(what), "pattern %zu", i);
		alloc_fail_loop(what, attempt, &s);
	}
}

int main(void)
{
	alloc_fail_init();
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_and_print),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
