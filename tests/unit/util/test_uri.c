/*
 * test_uri: ky_uri_redact — every password in a hub location becomes "***": the userinfo
 * password of a URI (with '@', ':' or '/' inside it), password query parameters in any
 * position, case and percent-encoding, the keywords of a libpq connection string, quoted or
 * not; a location without a password comes out unchanged; a cut result is still valid
 * UTF-8 and still holds no byte of a password.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "util/ky_uri.h"
#include "util/ky_utf8.h"

typedef struct redact_case {
	const char *location, *expected, *secret;  /* secret: must not appear; NULL: none */
} redact_case;

static const redact_case cases[] = {
	/* File paths and URIs without a password are left alone. */
	{"kyoyu.db", "kyoyu.db", NULL},
	{"/srv/kyoyu/hub:1@x.db", "/srv/kyoyu/hub:1@x.db", NULL},
	{"", "", NULL},
	{"postgresql://db.example/hub", "postgresql://db.example/hub", NULL},
	{"postgresql://kyoyu@db.example/hub?sslmode=require", "postgresql://kyoyu@db.example/hub?sslmode=require", NULL},
	{"postgresql://db.example:5432/hub", "postgresql://db.example:5432/hub", NULL},
	{"postgresql://[::1]:5432/hub", "postgresql://[::1]:5432/hub", NULL},
	{"postgresql://h/hub?user=a:b@c", "postgresql://h/hub?user=a:b@c", NULL},
	{"postgresql://h/hub?passfile=/x", "postgresql://h/hub?passfile=/x", NULL},
	{"postgresql://h/hub?password", "postgresql://h/hub?password", NULL},
	/* The userinfo password. */
	{"postgresql://u:secret@h/db", "postgresql://u:***@h/db", "secret"},
	{"postgres://u:secret@h/db", "postgres://u:***@h/db", "secret"},
	{"PostgreSQL://u:secret@h/db", "PostgreSQL://u:***@h/db", "secret"},
	{"postgresql://u:secret@h", "postgresql://u:***@h", "secret"},
	{"postgresql://:secret@h/db", "postgresql://:***@h/db", "secret"},
	{"postgresql://u:@h/db", "postgresql://u:***@h/db", NULL},
	{"postgresql://u:s%40cr%3At@h/db", "postgresql://u:***@h/db", "s%40cr%3At"},
	{"postgresql://u:se@cr@et@h:5432/db", "postgresql://u:***@h:5432/db", "cr@et"},
	{"postgresql://u:se:cr:et@h/db", "postgresql://u:***@h/db", "cr:et"},
	{"postgresql://u:se?cr=et@h/db", "postgresql://u:***@h/db", "cr=et"},
	{"postgresql://u:p@[::1]:5432/db", "postgresql://u:***@[::1]:5432/db", NULL},
	{"postgresql://u:p@h1:5432,h2:5433/db", "postgresql://u:***@h1:5432,h2:5433/db", NULL},
	/* An '@' only after the first '/': a raw '/' in the password, hidden to that '@'. */
	{"postgresql://u:se/cret@h/db", "postgresql://u:***@h/db", "cret"},
	/* which hides more than needed when the '@' was in the query: safe, if not pretty */
	{"postgresql://h:5432/db?user=me@srv", "postgresql://h:***@srv", NULL},
	/* Password parameters: first, middle, last, empty, any case, percent-encoded name. */
	{"postgresql://h/db?password=secret", "postgresql://h/db?password=***", "secret"},
	{"postgresql://h/db?password=secret&sslmode=require", "postgresql://h/db?password=***&sslmode=require", "secret"},
	{"postgresql://h/db?sslmode=require&password=secret&connect_timeout=5",
	 "postgresql://h/db?sslmode=require&password=***&connect_timeout=5", "secret"},
	{"postgresql://h/db?sslmode=require&password=secret", "postgresql://h/db?sslmode=require&password=***", "secret"},
	{"postgresql://h/db?password=", "postgresql://h/db?password=***", NULL},
	{"postgresql://h/db?password=&sslmode=disable", "postgresql://h/db?password=***&sslmode=disable", NULL},
	{"postgresql://h/db?a=1&PassWord=secret", "postgresql://h/db?a=1&PassWord=***", "secret"},
	{"postgresql://h/db?PASSWORD=secret", "postgresql://h/db?PASSWORD=***", "secret"},
	{"postgresql://h/db?pass%77ord=secret", "postgresql://h/db?pass%77ord=***", "secret"},
	{"postgresql://h/db?%70%61%73%73%57%4F%52%44=secret", "postgresql://h/db?%70%61%73%73%57%4F%52%44=***", "secret"},
	{"postgresql://h/db?ppassword=secret", "postgresql://h/db?ppassword=***", "secret"},
	{"postgresql://h/db?sslpassword=secret", "postgresql://h/db?sslpassword=***", "secret"},
	{"postgresql://h/db?password=se@c:r/e?t", "postgresql://h/db?password=***", "se@c:r/e?t"},
	{"postgresql://h/db?password=a&password=b", "postgresql://h/db?password=***&password=***", NULL},
	{"postgresql://h/db?x=a?password=secret", "postgresql://h/db?x=a?password=***", "secret"},
	{"postgresql://u:one@h/db?password=two", "postgresql://u:***@h/db?password=***", "one"},
	{"postgresql://u:one@h/db?password=two", "postgresql://u:***@h/db?password=***", "two"},
	/* Connection strings. */
	{"host=h password=secret dbname=hub", "host=h password=*** dbname=hub", "secret"},
	{"password=secret", "password=***", "secret"},
	{"host=h password = secret", "host=h password = ***", "secret"},
	{"host=h password='se cr\\'et' dbname=hub", "host=h password=*** dbname=hub", "cr\\'et"},
	{"host=h password=se\\ cret dbname=hub", "host=h password=*** dbname=hub", "cret"},
	{"host=h password='unterminated secret", "host=h password=***", "secret"},
	/* libpq skips white space after '=': here the password is "dbname=hub". */
	{"host=h password= dbname=hub", "host=h password= ***", "dbname"},
	{"host=h password=", "host=h password=***", NULL},
	{"host=h password='' dbname=hub", "host=h password=*** dbname=hub", NULL},
	{"host=h PASSWORD=secret", "host=h PASSWORD=***", "secret"},
	{"host=h sslpassword=secret", "host=h sslpassword=***", "secret"},
	{"junk\tpassword=secret", "junk\tpassword=***", "secret"},
	{"dbname='a password=b' host=h", "dbname='a password=b' host=h", NULL},
};

static void test_cases(void **state)
{
	(void)state;
	for (size_t k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
		char out[256];
		memset(out, 'X', sizeof(out));
		ky_uri_redact(cases[k].location, out, sizeof(out));
		if (strcmp(out, cases[k].expected) != 0)
			fail_msg("'%s' gave '%s', expected '%s'", cases[k].location, out, cases[k].expected);
		if (cases[k].secret != NULL && strstr(out, cases[k].secret) != NULL)
			fail_msg("'%s' gave '%s', which holds '%s'", cases[k].location, out, cases[k].secret);
	}
}

/* Every output size from 0 up: NUL-terminated, never past size, a prefix of the whole
 * result cut at a character boundary and maximal, never a byte of the password. */
static void test_cut(void **state)
{
	(void)state;
	static const char *const locations[] = {
		"postgresql://ユーザー:秘密のパスワード@ホスト/データ?password=秘密&x=あい",
		"host=ホスト password='秘密 の' dbname=データ",
		"/srv/kyoyu/ハブ.db",
	};
	for (size_t k = 0; k < sizeof(locations) / sizeof(locations[0]); k++) {
		char whole[512];
		ky_uri_redact(locations[k], whole, sizeof(whole));
		size_t n = strlen(whole);
		assert_null(strstr(whole, "秘密"));
		for (size_t size = 0; size <= n + 2; size++) {
			char out[512];
			memset(out, 'X', sizeof(out));
			ky_uri_redact(locations[k], out, size);
			if (size == 0) {
				assert_int_equal(out[0], 'X');
				continue;
			}
			size_t len = strnlen(out, size);
			assert_true(len < size);
			assert_int_equal(out[size], 'X');
			assert_memory_equal(out, whole, len);
			assert_true(ky_utf8_valid(out, len));
			assert_int_equal(len, ky_utf8_prefix(whole, n, size - 1));
			assert_null(strstr(out, "\xe7\xa7\x98"));  /* 秘, the password's first character */
		}
	}
}

/* A location that is not UTF-8 is copied as it is, bytes and all. */
static void test_not_utf8(void **state)
{
	(void)state;
	char out[64];
	ky_uri_redact("/srv/\xff\xfe.db", out, sizeof(out));
	assert_string_equal(out, "/srv/\xff\xfe.db");
	ky_uri_redact("postgresql://u:\xff\xfe@h/db", out, sizeof(out));
	assert_string_equal(out, "postgresql://u:***@h/db");
}

/* A long location: the password is hidden however far it is from the start. */
static void test_long(void **state)
{
	(void)state;
	char location[5000], out[6000];
	int n = snprintf(location, sizeof(location), "postgresql://h/db?");
	for (int k = 0; k < 400; k++)
		n += snprintf(location + n, sizeof(location) - (size_t)n, "k%d=v&", k);
	snprintf(location + n, sizeof(location) - (size_t)n, "password=secret");
	ky_uri_redact(location, out, sizeof(out));
	assert_null(strstr(out, "secret"));
	assert_non_null(strstr(out, "&k399=v&password=***"));
}

/* Random URIs and connection strings whose passwords start and end with 'Z', a byte that
 * occurs nowhere else: an output without 'Z' hid every password whole, since a hidden span
 * is contiguous. Userinfo passwords may hold any character but '/' raw; parameter values
 * anything but '&' (which ends a value, as in libpq); quoted keyword values anything. */
static unsigned next_random(unsigned *seed)
{
	*seed = *seed * 1103515245u + 12345u;
	return *seed >> 16;
}

static void add_secret(char *out, size_t size, unsigned *seed, const char *alphabet)
{
	size_t n = strlen(out), k = next_random(seed) % 12, len = strlen(alphabet);
	n += (size_t)snprintf(out + n, size - n, "Z");
	for (size_t i = 0; i < k; i++)
		n += (size_t)snprintf(out + n, size - n, "%c", alphabet[next_random(seed) % len]);
	snprintf(out + n, size - n, "Z");
}

static void test_random_locations(void **state)
{
	(void)state;
	static const char *const hosts[] = {"h", "db.example:5432", "[::1]:5432", "h1:1,h2:2", ""};
	static const char *const params[] = {"sslmode=require", "user=u", "connect_timeout=5", "application_name=k"};
	unsigned seed = 11;
	for (int round = 0; round < 5000; round++) {
		char location[512], out[1024];
		snprintf(location, sizeof(location), "%s", next_random(&seed) % 2 ? "postgresql://" : "postgres://");
		if (round % 7 == 6) {
			/* a connection string */
			snprintf(location, sizeof(location), "host=h ");
			for (int k = 0; k < 3; k++) {
				strcat(location, next_random(&seed) % 2 ? "password='" : "sslpassword = '");
				add_secret(location, sizeof(location), &seed, "ab @:/?&=%");
				strcat(location, "' dbname=hub ");
			}
		} else {
			if (next_random(&seed) % 3 != 0) {
				strcat(location, "u:");
				add_secret(location, sizeof(location), &seed, "ab@:?&=%#;");
				strcat(location, "@");
			}
			strcat(location, hosts[next_random(&seed) % 5]);
			strcat(location, "/hub");
			unsigned nparams = next_random(&seed) % 5;
			for (unsigned k = 0; k < nparams; k++) {
				strcat(location, k == 0 ? "?" : "&");
				if (next_random(&seed) % 2) {
					strcat(location, next_random(&seed) % 2 ? "password=" : "PassWord=");
					add_secret(location, sizeof(location), &seed, "ab@:/?=%#");
				} else {
					strcat(location, params[next_random(&seed) % 4]);
				}
			}
		}
		ky_uri_redact(location, out, sizeof(out));
		if (strchr(out, 'Z') != NULL)
			fail_msg("'%s' gave '%s'", location, out);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cases),
		cmocka_unit_test(test_cut),
		cmocka_unit_test(test_not_utf8),
		cmocka_unit_test(test_long),
		cmocka_unit_test(test_random_locations),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
