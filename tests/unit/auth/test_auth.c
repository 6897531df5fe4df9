/*
 * test_auth: API keys (src/auth/auth.h) and the store's users, keys and secrets under them
 * (store.h, schema 3), on the backend under test (tests/support/ky_test_hub.h: SQLite, or
 * PostgreSQL with KY_TEST_BACKEND=postgresql). Keys are made, verified with and without a
 * user name (HTTP Basic, Bearer) and revoked; every refusal (wrong key, wrong user with a
 * right key, unknown user, revoked key, malformed keys) is the same KY_EDENIED with the same
 * message; keys are unique; the hub keeps HMAC-SHA256(secret, key) and never the key; the
 * first user, and only one even when users are created at once, is the owner; and two
 * threads verify at once, each with its own connection.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <libpq-fe.h>
#include <sodium.h>
#include <sqlite3.h>

#include "auth/auth.h"
#include "ky_test_hub.h"
#include "store/store.h"
#include "util/ky_error.h"

enum { LOCATION_MAX = 512 };

typedef struct fx {
	char dir[64];
	char path[LOCATION_MAX];
	ky_store *s;
} fx;

static int setup(void **state)
{
	fx *f = calloc(1, sizeof(*f));
	if (f == NULL)
		return -1;
	snprintf(f->dir, sizeof(f->dir), "/tmp/ky-test-auth-XXXXXX");
	if (mkdtemp(f->dir) == NULL || ky_test_hub_location(f->path, sizeof(f->path), f->dir, "hub.db") != 0) {
		free(f);
		return -1;
	}
	ky_store_options options = {.create = true};
	if (ky_store_open(&f->s, f->path, &options, NULL) != KY_OK) {
		fprintf(stderr, "test_auth: %s\n", ky_error_last());
		ky_test_hub_drop(f->path);
		free(f);
		return -1;
	}
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	fx *f = *state;
	ky_store_close(f->s);
	ky_test_hub_drop(f->path);
	ky_test_remove_dir(f->dir);
	free(f);
	return 0;
}

/* Another connection to the test's hub. */
static ky_store *connect_again(const fx *f)
{
	ky_store *s = NULL;
	if (ky_store_open(&s, f->path, NULL, NULL) != KY_OK)
		fail_msg("open: %s", ky_error_last());
	return s;
}

/* One text value of the hub read directly, beside the store ("" for none). */
static void raw_text(const char *path, const char *sql, char *out, size_t n)
{
	out[0] = '\0';
	if (ky_test_hub_is_pg()) {
		PGconn *conn = PQconnectdb(path);
		PGresult *r = PQexec(conn, sql);
		if (PQresultStatus(r) != PGRES_TUPLES_OK)
			fail_msg("%s: %s", sql, PQresultErrorMessage(r));
		if (PQntuples(r) > 0 && !PQgetisnull(r, 0, 0))
			snprintf(out, n, "%s", PQgetvalue(r, 0, 0));
		PQclear(r);
		PQfinish(conn);
		return;
	}
	sqlite3 *h = NULL;
	sqlite3_stmt *st = NULL;
	assert_int_equal(sqlite3_open(path, &h), SQLITE_OK);
	if (sqlite3_prepare_v2(h, sql, -1, &st, NULL) != SQLITE_OK)
		fail_msg("%s: %s", sql, sqlite3_errmsg(h));
	if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_text(st, 0) != NULL)
		snprintf(out, n, "%s", (const char *)sqlite3_column_text(st, 0));
	sqlite3_finalize(st);
	sqlite3_close(h);
}

/* Lower-case hex of a blob column, in either backend's SQL. */
static const char *hex_of(const char *column, char *out, size_t n)
{
	snprintf(out, n, ky_test_hub_is_pg() ? "encode(%s, 'hex')" : "lower(hex(%s))", column);
	return out;
}

static void new_key(ky_store *s, const char *user, char key[KY_AUTH_KEY_MAX], bool *created)
{
	int rc = ky_auth_key_create(s, user, key, created);
	if (rc != KY_OK)
		fail_msg("key create %s: %s", user, ky_error_last());
}

/* A key's prefix, its first KY_STORE_KEY_PREFIX_LEN characters. */
static const char *prefix_of(const char *key, char out[KY_STORE_KEY_PREFIX_LEN + 1])
{
	memcpy(out, key, KY_STORE_KEY_PREFIX_LEN);
	out[KY_STORE_KEY_PREFIX_LEN] = '\0';
	return out;
}

/* A refusal: KY_EDENIED and nothing but "invalid credentials", identity wiped. */
static void assert_denied(ky_store *s, const char *user, const char *key)
{
	ky_auth_identity id;
	memset(&id, 0x55, sizeof(id));
	ky_error_clear();
	assert_int_equal(ky_auth_verify(s, user, key, &id), KY_EDENIED);
	assert_string_equal(ky_error_last(), "invalid credentials");
	assert_string_equal(id.user, "");
	assert_int_equal(id.user_id, 0);
	assert_int_equal(id.key_id, 0);
}

/* --- making and checking keys ----------------------------------------------------------------- */

static void test_create_verify_revoke(void **state)
{
	fx *f = *state;
	char key[KY_AUTH_KEY_MAX];
	bool created = false;
	new_key(f->s, "alice", key, &created);
	assert_true(created);
	assert_int_equal(strlen(key), KY_AUTH_KEY_LEN);
	assert_memory_equal(key, "kyk_", 4);
	assert_int_equal(strspn(key + 4, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"), 43);

	/* HTTP Basic (user and key) and Bearer (key alone). */
	ky_auth_identity id;
	assert_int_equal(ky_auth_verify(f->s, "alice", key, &id), KY_OK);
	assert_string_equal(id.user, "alice");
	assert_true(id.user_id > 0);
	assert_true(id.key_id > 0);
	assert_true(id.owner);
	ky_auth_identity bearer;
	assert_int_equal(ky_auth_verify(f->s, NULL, key, &bearer), KY_OK);
	assert_string_equal(bearer.user, "alice");
	assert_int_equal(bearer.key_id, id.key_id);

	/* A second key for the same user; the user is not created again. */
	char second[KY_AUTH_KEY_MAX];
	new_key(f->s, "alice", second, &created);
	assert_false(created);
	ky_auth_identity id2;
	assert_int_equal(ky_auth_verify(f->s, "alice", second, &id2), KY_OK);
	assert_int_equal(id2.user_id, id.user_id);
	assert_int_not_equal(id2.key_id, id.key_id);

	/* Revoked: refused at once, on this connection and on another one that had verified
	 * it before; the other key still works. */
	ky_store *other = connect_again(f);
	assert_int_equal(ky_auth_verify(other, "alice", key, &id), KY_OK);
	char prefix[KY_STORE_KEY_PREFIX_LEN + 1];
	prefix_of(key, prefix);
	ky_store_key k;
	assert_int_equal(ky_store_key_revoke(f->s, prefix, &k), KY_OK);
	assert_string_equal(k.user, "alice");
	assert_string_equal(k.prefix, prefix);
	assert_true(k.revoked_us >= k.created_us && k.revoked_us > 0);
	assert_denied(f->s, "alice", key);
	assert_denied(other, "alice", key);
	assert_denied(other, NULL, key);
	assert_int_equal(ky_auth_verify(other, "alice", second, &id2), KY_OK);
	/* Revoking it again: no such active key. */
	assert_int_equal(ky_store_key_revoke(f->s, prefix, NULL), KY_ENOTFOUND);
	assert_non_null(strstr(ky_error_last(), prefix));
	assert_int_equal(ky_store_key_revoke(f->s, "kyk_none", NULL), KY_ENOTFOUND);
	assert_int_equal(ky_store_key_revoke(f->s, "kyk_", NULL), KY_ENOTFOUND);
	ky_store_close(other);
}

/* Every way of failing looks the same: one code, one message, no identity. */
static void test_failures_look_alike(void **state)
{
	fx *f = *state;
	char alice[KY_AUTH_KEY_MAX], bob[KY_AUTH_KEY_MAX], revoked[KY_AUTH_KEY_MAX];
	new_key(f->s, "alice", alice, NULL);
	new_key(f->s, "bob", bob, NULL);
	new_key(f->s, "carol", revoked, NULL);
	char prefix[KY_STORE_KEY_PREFIX_LEN + 1];
	assert_int_equal(ky_store_key_revoke(f->s, prefix_of(revoked, prefix), NULL), KY_OK);

	/* A well-formed key nobody was given: the right key with its last data character
	 * changed (the last one carries unused bits, which must stay zero). */
	char wrong[KY_AUTH_KEY_MAX];
	memcpy(wrong, alice, sizeof(wrong));
	wrong[KY_AUTH_KEY_LEN - 2] = wrong[KY_AUTH_KEY_LEN - 2] == 'A' ? 'B' : 'A';
	assert_denied(f->s, "alice", wrong);
	assert_denied(f->s, NULL, wrong);
	/* A right key with the wrong user, or a user who does not exist. */
	assert_denied(f->s, "bob", alice);
	assert_denied(f->s, "alice", bob);
	assert_denied(f->s, "mallory", alice);
	assert_denied(f->s, "mallory", wrong);
	assert_denied(f->s, "Alice", alice);
	assert_denied(f->s, "alic", alice);
	assert_denied(f->s, "alicee", alice);
	assert_denied(f->s, "", alice);
	char long_user[300];
	memset(long_user, 'a', sizeof(long_user) - 1);
	long_user[sizeof(long_user) - 1] = '\0';
	assert_denied(f->s, long_user, alice);
	/* A user name as long as any can be, the key's user's as its start. */
	char max_user[KY_AUTH_USER_MAX + 1];
	memset(max_user, 'a', KY_AUTH_USER_MAX);
	memcpy(max_user, "alice", 5);
	max_user[KY_AUTH_USER_MAX] = '\0';
	assert_denied(f->s, max_user, alice);
	/* Revoked. */
	assert_denied(f->s, "carol", revoked);
	assert_denied(f->s, NULL, revoked);

	/* Malformed keys: empty, short, too long, not base64url, wrong prefix, padding, bits
	 * past the 256, and bytes that are not text. */
	char text[512];
	assert_denied(f->s, "alice", "");
	assert_denied(f->s, "alice", "kyk_");
	assert_denied(f->s, NULL, NULL);
	snprintf(text, sizeof(text), "%.*s", KY_AUTH_KEY_LEN - 1, alice);
	assert_denied(f->s, "alice", text);
	snprintf(text, sizeof(text), "%sA", alice);
	assert_denied(f->s, "alice", text);
	snprintf(text, sizeof(text), "%s%s%s%s", alice, alice, alice, alice);
	assert_denied(f->s, "alice", text);
	snprintf(text, sizeof(text), "%s=", alice);
	assert_denied(f->s, "alice", text);
	snprintf(text, sizeof(text), "%s", alice);
	text[10] = '+';
	assert_denied(f->s, "alice", text);
	text[10] = '/';
	assert_denied(f->s, "alice", text);
	text[10] = '.';
	assert_denied(f->s, "alice", text);
	text[10] = '\xc3';
	assert_denied(f->s, "alice", text);
	snprintf(text, sizeof(text), "%s", alice);
	memcpy(text, "KYK_", 4);
	assert_denied(f->s, "alice", text);
	memcpy(text, "kyk-", 4);
	assert_denied(f->s, "alice", text);
	/* The same 32 bytes in standard base64 (when they hold a '-' or '_'), or with the
	 * unused low bits of the last character set: a key has one spelling. */
	snprintf(text, sizeof(text), "%s", alice);
	char last = text[KY_AUTH_KEY_LEN - 1];
	static const char b64url[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
	const char *at = strchr(b64url, last);
	assert_non_null(at);
	assert_int_equal((at - b64url) % 4, 0);
	text[KY_AUTH_KEY_LEN - 1] = b64url[(at - b64url) + 1];
	assert_denied(f->s, "alice", text);
	/* The hash of a key is not a key. */
	snprintf(text, sizeof(text), "kyk_%043d", 0);
	assert_denied(f->s, "alice", text);

	/* And the right ones still work. */
	ky_auth_identity id;
	assert_int_equal(ky_auth_verify(f->s, "alice", alice, &id), KY_OK);
	assert_int_equal(ky_auth_verify(f->s, "bob", bob, &id), KY_OK);
	assert_string_equal(id.user, "bob");
	assert_false(id.owner);
}

/* A hub that never made a key has no secret: verification refuses, and does not write. */
static void test_no_keys_yet(void **state)
{
	fx *f = *state;
	char key[KY_AUTH_KEY_MAX];
	snprintf(key, sizeof(key), "kyk_%s", "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA");
	assert_denied(f->s, NULL, key);
	assert_denied(f->s, "alice", key);
	char text[64];
	raw_text(f->path, "SELECT count(*) FROM secrets", text, sizeof(text));
	assert_string_equal(text, "0");
	uint8_t secret[KY_STORE_SECRET_SIZE];
	assert_int_equal(ky_store_secret(f->s, KY_AUTH_SECRET_NAME, NULL, secret), KY_ENOTFOUND);
	uint64_t users = 99;
	assert_int_equal(ky_store_user_count(f->s, &users), KY_OK);
	assert_int_equal(users, 0);
}

static void test_user_names(void **state)
{
	fx *f = *state;
	char key[KY_AUTH_KEY_MAX];
	bool created = true;
	static const char *const bad[] = {"", " alice", "a b", "a:b", "-a", ".a", "a\nb", "ä", "a/b", "a\"b", "a'b", "a;b"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_false(ky_auth_user_valid(bad[i]));
		assert_int_equal(ky_auth_key_create(f->s, bad[i], key, &created), KY_EINVALID);
		assert_false(created);
		assert_string_equal(key, "");
	}
	char too_long[KY_AUTH_USER_MAX + 2];
	memset(too_long, 'a', sizeof(too_long) - 1);
	too_long[sizeof(too_long) - 1] = '\0';
	assert_false(ky_auth_user_valid(too_long));
	assert_int_equal(ky_auth_key_create(f->s, too_long, key, NULL), KY_EINVALID);
	too_long[KY_AUTH_USER_MAX] = '\0';
	assert_true(ky_auth_user_valid(too_long));
	new_key(f->s, too_long, key, NULL);
	ky_auth_identity id;
	assert_int_equal(ky_auth_verify(f->s, too_long, key, &id), KY_OK);
	assert_string_equal(id.user, too_long);

	static const char *const good[] = {"Bob", "bob", "ops-bot_2", "alice@example.org", "a.b+siem", "7"};
	char bob_upper[KY_AUTH_KEY_MAX] = {0};
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		assert_true(ky_auth_user_valid(good[i]));
		new_key(f->s, good[i], key, &created);
		assert_true(created);
		assert_int_equal(ky_auth_verify(f->s, good[i], key, &id), KY_OK);
		assert_string_equal(id.user, good[i]);
		if (i == 0)
			memcpy(bob_upper, key, sizeof(bob_upper));
	}
	/* Names are compared byte for byte: Bob is not bob. */
	assert_denied(f->s, "bob", bob_upper);
	assert_denied(f->s, "BOB", bob_upper);
	assert_int_equal(ky_auth_verify(f->s, "Bob", bob_upper, &id), KY_OK);
	uint64_t users = 0;
	assert_int_equal(ky_store_user_count(f->s, &users), KY_OK);
	assert_int_equal(users, 7);
	/* The store refuses names that do not fit, whoever calls it. */
	ky_store_user u;
	assert_int_equal(ky_store_user_ensure(f->s, "", &u), KY_EINVALID);
	char longer[KY_STORE_USER_MAX + 2];
	memset(longer, 'b', sizeof(longer) - 1);
	longer[sizeof(longer) - 1] = '\0';
	assert_int_equal(ky_store_user_ensure(f->s, longer, &u), KY_EINVALID);
}

/* --- what the hub keeps ---------------------------------------------------------------------- */

typedef struct listed {
	ky_store_key k[16];
	int n;
} listed;

static int collect(void *ctx, const ky_store_key *k)
{
	listed *l = ctx;
	if (l->n < 16)
		l->k[l->n++] = *k;
	return 0;
}

static void test_keys_unique_and_hashed(void **state)
{
	fx *f = *state;
	enum { N = 12 };
	char keys[N][KY_AUTH_KEY_MAX];
	for (int i = 0; i < N; i++)
		new_key(f->s, i % 2 ? "bob" : "alice", keys[i], NULL);
	for (int i = 0; i < N; i++)
		for (int j = i + 1; j < N; j++) {
			assert_string_not_equal(keys[i], keys[j]);
			assert_memory_not_equal(keys[i], keys[j], KY_STORE_KEY_PREFIX_LEN);
		}

	/* The secret: 32 bytes, one for the hub, the same on every connection. */
	char text[256], column[64];
	raw_text(f->path, "SELECT count(*) FROM secrets", text, sizeof(text));
	assert_string_equal(text, "1");
	char sql[1024];
	snprintf(sql, sizeof(sql), "SELECT %s FROM secrets WHERE name = 'key_hmac'", hex_of("value", column, sizeof(column)));
	char secret_hex[2 * KY_STORE_SECRET_SIZE + 1];
	raw_text(f->path, sql, secret_hex, sizeof(secret_hex));
	assert_int_equal(strlen(secret_hex), 2 * KY_STORE_SECRET_SIZE);
	uint8_t secret[KY_STORE_SECRET_SIZE], again[KY_STORE_SECRET_SIZE];
	size_t len = 0;
	assert_int_equal(sodium_hex2bin(secret, sizeof(secret), secret_hex, strlen(secret_hex), NULL, &len, NULL), 0);
	assert_int_equal(len, KY_STORE_SECRET_SIZE);
	ky_store *other = connect_again(f);
	uint8_t ignored[KY_STORE_SECRET_SIZE] = {1};
	assert_int_equal(ky_store_secret(other, KY_AUTH_SECRET_NAME, ignored, again), KY_OK);
	assert_memory_equal(secret, again, sizeof(secret));
	ky_store_close(other);

	/* Each key is kept as its prefix and HMAC-SHA256(secret, key): the key itself is
	 * nowhere, nor its plain SHA-256. */
	for (int i = 0; i < N; i++) {
		uint8_t mac[32], plain[32];
		char mac_hex[65], plain_hex[65], prefix[KY_STORE_KEY_PREFIX_LEN + 1];
		prefix_of(keys[i], prefix);
		crypto_auth_hmacsha256(mac, (const unsigned char *)keys[i], KY_AUTH_KEY_LEN, secret);
		crypto_hash_sha256(plain, (const unsigned char *)keys[i], KY_AUTH_KEY_LEN);
		sodium_bin2hex(mac_hex, sizeof(mac_hex), mac, sizeof(mac));
		sodium_bin2hex(plain_hex, sizeof(plain_hex), plain, sizeof(plain));
		snprintf(sql, sizeof(sql), "SELECT %s FROM api_keys WHERE prefix = '%s'", hex_of("hash", column, sizeof(column)),
			 prefix);
		raw_text(f->path, sql, text, sizeof(text));
		assert_string_equal(text, mac_hex);
		assert_string_not_equal(text, plain_hex);
		snprintf(sql, sizeof(sql),
			 "SELECT count(*) FROM api_keys WHERE prefix = '%s' OR %s LIKE '%%%s%%'", keys[i],
			 hex_of("hash", column, sizeof(column)), plain_hex);
		raw_text(f->path, sql, text, sizeof(text));
		assert_string_equal(text, "0");
	}
	/* On SQLite, not a byte of any key is in the database's files (the WAL included). */
	if (!ky_test_hub_is_pg()) {
		static const char *const suffixes[] = {"", "-wal"};
		for (size_t s = 0; s < 2; s++) {
			char file[LOCATION_MAX + 8];
			snprintf(file, sizeof(file), "%s%s", f->path, suffixes[s]);
			FILE *in = fopen(file, "rb");
			if (in == NULL)
				continue;
			static char bytes[1 << 22];
			size_t n = fread(bytes, 1, sizeof(bytes), in);
			fclose(in);
			for (int i = 0; i < N; i++)
				assert_null(memmem(bytes, n, keys[i] + 4, 16));
		}
	}

	/* The list: every key by user, then creation, with its prefix and times. */
	listed l = {0};
	assert_int_equal(ky_store_key_list(f->s, collect, &l), KY_OK);
	assert_int_equal(l.n, N);
	for (int i = 0; i < N; i++) {
		assert_string_equal(l.k[i].user, i < N / 2 ? "alice" : "bob");
		assert_int_equal(l.k[i].revoked_us, 0);
		assert_true(l.k[i].created_us > 0);
		assert_int_equal(l.k[i].owner, i < N / 2);
	}
	char prefix[KY_STORE_KEY_PREFIX_LEN + 1];
	assert_string_equal(l.k[0].prefix, prefix_of(keys[0], prefix));
	assert_string_equal(l.k[N / 2].prefix, prefix_of(keys[1], prefix));
}

/* The store's own refusals: a taken prefix or hash, a user that does not exist. */
static void test_store_key_conflicts(void **state)
{
	fx *f = *state;
	ky_store_user u;
	assert_int_equal(ky_store_user_ensure(f->s, "alice", &u), KY_OK);
	assert_true(u.created);
	assert_true(u.owner);
	ky_store_user same;
	assert_int_equal(ky_store_user_ensure(f->s, "alice", &same), KY_OK);
	assert_false(same.created);
	assert_true(same.owner);
	assert_int_equal(same.id, u.id);
	uint8_t h1[KY_STORE_KEY_HASH_SIZE] = {1}, h2[KY_STORE_KEY_HASH_SIZE] = {2}, h3[KY_STORE_KEY_HASH_SIZE] = {3};
	int64_t id = 0;
	assert_int_equal(ky_store_key_add(f->s, u.id, "kyk_aaaa", h1, &id), KY_OK);
	assert_true(id > 0);
	assert_int_equal(ky_store_key_add(f->s, u.id, "kyk_aaaa", h2, NULL), KY_EEXISTS);
	assert_int_equal(ky_store_key_add(f->s, u.id, "kyk_bbbb", h1, NULL), KY_EEXISTS);
	assert_int_equal(ky_store_key_add(f->s, u.id + 100, "kyk_cccc", h3, NULL), KY_ENOTFOUND);
	assert_int_equal(ky_store_key_add(f->s, u.id, "short", h3, NULL), KY_EINVALID);
	/* A revoked key's prefix stays taken: a prefix names one key for good. */
	assert_int_equal(ky_store_key_revoke(f->s, "kyk_aaaa", NULL), KY_OK);
	assert_int_equal(ky_store_key_add(f->s, u.id, "kyk_aaaa", h3, NULL), KY_EEXISTS);
	ky_store_key k;
	assert_int_equal(ky_store_key_find(f->s, h1, &k), KY_ENOTFOUND);
	assert_int_equal(ky_store_key_add(f->s, u.id, "kyk_dddd", h3, &id), KY_OK);
	assert_int_equal(ky_store_key_find(f->s, h3, &k), KY_OK);
	assert_int_equal(k.id, id);
	assert_string_equal(k.prefix, "kyk_dddd");
	assert_string_equal(k.user, "alice");
	assert_int_equal(k.revoked_us, 0);

	/* A secret, once stored, stays: a later fresh value is ignored. */
	uint8_t a[KY_STORE_SECRET_SIZE], b[KY_STORE_SECRET_SIZE], got[KY_STORE_SECRET_SIZE];
	memset(a, 0xaa, sizeof(a));
	memset(b, 0xbb, sizeof(b));
	assert_int_equal(ky_store_secret(f->s, "test", NULL, got), KY_ENOTFOUND);
	assert_int_equal(ky_store_secret(f->s, "test", a, got), KY_OK);
	assert_memory_equal(got, a, sizeof(a));
	ky_store *other = connect_again(f);
	assert_int_equal(ky_store_secret(other, "test", b, got), KY_OK);
	assert_memory_equal(got, a, sizeof(a));
	ky_store_close(other);
}

/* --- at once --------------------------------------------------------------------------------- */

enum { THREADS = 4, ROUNDS = 150 };

typedef struct worker {
	const fx *f;
	const char (*keys)[KY_AUTH_KEY_MAX];
	const char *const *users;
	int index;
	int ok, denied, wrong, failed;
	char user[32];
	ky_store_user created;
	int rc;
} worker;

/* Verifies its own key and the others' (with the wrong user) ROUNDS times, on a connection
 * of its own. */
static void *verify_many(void *arg)
{
	worker *w = arg;
	ky_store *s = NULL;
	if (ky_store_open(&s, w->f->path, NULL, NULL) != KY_OK) {
		w->failed++;
		return NULL;
	}
	for (int r = 0; r < ROUNDS; r++) {
		int mine = (w->index + r) % 2;
		ky_auth_identity id;
		int rc = ky_auth_verify(s, w->users[w->index], w->keys[mine ? w->index : 1 - w->index], &id);
		if (rc == KY_OK && mine && strcmp(id.user, w->users[w->index]) == 0)
			w->ok++;
		else if (rc == KY_EDENIED && !mine && strcmp(ky_error_last(), "invalid credentials") == 0)
			w->denied++;
		else
			w->wrong++;
		rc = ky_auth_verify(s, NULL, w->keys[w->index], &id);
		if (rc != KY_OK || strcmp(id.user, w->users[w->index]) != 0)
			w->wrong++;
	}
	ky_store_close(s);
	return NULL;
}

static void test_verify_from_two_threads(void **state)
{
	fx *f = *state;
	static const char *const users[] = {"alice", "bob"};
	char keys[2][KY_AUTH_KEY_MAX];
	new_key(f->s, users[0], keys[0], NULL);
	new_key(f->s, users[1], keys[1], NULL);
	worker w[2];
	pthread_t t[2];
	for (int i = 0; i < 2; i++) {
		w[i] = (worker){.f = f, .keys = (const char(*)[KY_AUTH_KEY_MAX])keys, .users = users, .index = i};
		assert_int_equal(pthread_create(&t[i], NULL, verify_many, &w[i]), 0);
	}
	for (int i = 0; i < 2; i++) {
		pthread_join(t[i], NULL);
		assert_int_equal(w[i].failed, 0);
		assert_int_equal(w[i].wrong, 0);
		assert_int_equal(w[i].ok, ROUNDS / 2);
		assert_int_equal(w[i].denied, ROUNDS / 2);
	}
}

static void *create_user(void *arg)
{
	worker *w = arg;
	ky_store *s = NULL;
	w->rc = ky_store_open(&s, w->f->path, NULL, NULL);
	if (w->rc == KY_OK)
		w->rc = ky_store_user_ensure(s, w->user, &w->created);
	ky_store_close(s);
	return NULL;
}

/* Users created at once on an empty hub: exactly one becomes the owner. */
static void test_one_owner(void **state)
{
	fx *f = *state;
	for (int round = 0; round < 3; round++) {
		if (round > 0) {
			/* Start again from no users. */
			ky_store_close(f->s);
			f->s = NULL;
			ky_test_hub_drop(f->path);
			char name[32];
			snprintf(name, sizeof(name), "hub%d.db", round);
			assert_int_equal(ky_test_hub_location(f->path, sizeof(f->path), f->dir, name), 0);
			ky_store_options options = {.create = true};
			assert_int_equal(ky_store_open(&f->s, f->path, &options, NULL), KY_OK);
		}
		worker w[THREADS];
		pthread_t t[THREADS];
		for (int i = 0; i < THREADS; i++) {
			w[i] = (worker){.f = f};
			snprintf(w[i].user, sizeof(w[i].user), "user%d", i);
			assert_int_equal(pthread_create(&t[i], NULL, create_user, &w[i]), 0);
		}
		int owners = 0;
		for (int i = 0; i < THREADS; i++) {
			pthread_join(t[i], NULL);
			if (w[i].rc != KY_OK)
				fail_msg("user %d: %s", i, ky_error_last());
			assert_true(w[i].created.created);
			owners += w[i].created.owner;
		}
		assert_int_equal(owners, 1);
		uint64_t users = 0;
		assert_int_equal(ky_store_user_count(f->s, &users), KY_OK);
		assert_int_equal(users, THREADS);
		char text[32];
		raw_text(f->path, "SELECT count(*) FROM users WHERE owner = 1", text, sizeof(text));
		assert_string_equal(text, "1");
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_create_verify_revoke, setup, teardown),
		cmocka_unit_test_setup_teardown(test_failures_look_alike, setup, teardown),
		cmocka_unit_test_setup_teardown(test_no_keys_yet, setup, teardown),
		cmocka_unit_test_setup_teardown(test_user_names, setup, teardown),
		cmocka_unit_test_setup_teardown(test_keys_unique_and_hashed, setup, teardown),
		cmocka_unit_test_setup_teardown(test_store_key_conflicts, setup, teardown),
		cmocka_unit_test_setup_teardown(test_verify_from_two_threads, setup, teardown),
		cmocka_unit_test_setup_teardown(test_one_owner, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
