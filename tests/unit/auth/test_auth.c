/*
 * test_auth: API keys (src/auth/auth.h) and the store's users, keys and secrets under them
 * (store.h, store_council.h), on the backend under test (tests/support/ky_test_hub.h:
 * SQLite, or PostgreSQL with KY_TEST_BACKEND=postgresql). Keys are made, verified with and
 * without a user name (HTTP Basic, Bearer) and revoked; every refusal (wrong key, wrong user
 * with a right key, unknown user, revoked key, a disabled user's key, malformed keys) is the
 * same KY_EDENIED with the same message; keys are unique; the hub keeps
 * HMAC-SHA256(secret, key) and never the key; the first key of a new user makes it an admin
 * of the secretariat, and users created at once from several connections are each created
 * once; a suspended member's key still verifies, saying so; what a verified key says of its
 * user (role, member, tier, rules) is the hub's at the moment of the check; and two threads
 * verify at once, each with its own connection.
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
#include "store/store_council.h"
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

/* Who the tests' changes are made by: the operator, as with kyoyu key create. */
static const ky_store_actor operator = {.via = "test_auth"};

/* A key for `user`, made as kyoyu key create makes the first one: the user is found, or
 * created as an admin of the secretariat, then given a key. *created (may be NULL) says
 * whether the user was new. */
static void new_key(ky_store *s, const char *user, char key[KY_AUTH_KEY_MAX], bool *created)
{
	ky_store_user u;
	int rc = ky_store_user_ensure(s, user, &operator, "a key for the test", &u);
	if (rc == KY_OK)
		rc = ky_auth_key_create(s, u.id, &operator, "a key for the test", key);
	if (rc != KY_OK)
		fail_msg("key create %s: %s", user, ky_error_last());
	if (created != NULL)
		*created = u.created;
}

/* A member of the hub besides the secretariat, with no sectors. */
static ky_store_member new_member(ky_store *s, const char *name, ky_tier tier)
{
	ky_store_member m = {.tier = tier}, out;
	snprintf(m.name, sizeof(m.name), "%s", name);
	snprintf(m.title, sizeof(m.title), "Member %s", name);
	if (ky_store_member_add(s, &m, &operator, "a member for the test", &out) != KY_OK)
		fail_msg("member add %s: %s", name, ky_error_last());
	return out;
}

/* A key for a new user `name` of `member` with `role`. */
static ky_store_user new_user_key(ky_store *s, const char *name, const char *member, ky_role role,
				  char key[KY_AUTH_KEY_MAX])
{
	ky_store_user u;
	int rc = ky_store_user_add(s, name, member, role, false, &operator, "a user for the test", &u);
	if (rc == KY_OK)
		rc = ky_auth_key_create(s, u.id, &operator, "a key for the test", key);
	if (rc != KY_OK)
		fail_msg("user %s of %s: %s", name, member, ky_error_last());
	return u;
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
	/* The first key of a new user makes it an admin of the secretariat. */
	assert_int_equal(id.role, KY_ROLE_ADMIN);
	assert_string_equal(id.member, "secretariat");
	assert_int_equal(id.tier, KY_TIER_SECRETARIAT);
	assert_true(id.member_id > 0);
	assert_false(id.suspended);
	assert_int_equal(id.rules_version, 0);
	assert_int_equal(id.rules_accepted, 0);
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
	assert_int_equal(ky_store_key_revoke(f->s, prefix, &operator, "revoked by the test", &k), KY_OK);
	assert_string_equal(k.user, "alice");
	assert_string_equal(k.prefix, prefix);
	assert_true(k.revoked_us >= k.created_us && k.revoked_us > 0);
	assert_denied(f->s, "alice", key);
	assert_denied(other, "alice", key);
	assert_denied(other, NULL, key);
	assert_int_equal(ky_auth_verify(other, "alice", second, &id2), KY_OK);
	/* Revoking it again: no such active key. */
	assert_int_equal(ky_store_key_revoke(f->s, prefix, &operator, "again", NULL), KY_ENOTFOUND);
	assert_non_null(strstr(ky_error_last(), prefix));
	assert_int_equal(ky_store_key_revoke(f->s, "kyk_none", &operator, "none", NULL), KY_ENOTFOUND);
	assert_int_equal(ky_store_key_revoke(f->s, "kyk_", &operator, "none", NULL), KY_ENOTFOUND);
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
	assert_int_equal(ky_store_key_revoke(f->s, prefix_of(revoked, prefix), &operator, "revoked by the test", NULL),
			 KY_OK);

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
	/* There is no first user any more: every user kyoyu key create makes is a
	 * secretariat admin. */
	assert_int_equal(id.role, KY_ROLE_ADMIN);
	assert_string_equal(id.member, "secretariat");
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

/* Which names may be users' (the council checks them with ky_auth_user_valid before the
 * store sees them), names compared byte for byte, and a key only for a user that exists. */
static void test_user_names(void **state)
{
	fx *f = *state;
	char key[KY_AUTH_KEY_MAX];
	bool created = true;
	static const char *const bad[] = {"", " alice", "a b", "a:b", "-a", ".a", "a\nb", "ä", "a/b", "a\"b", "a'b", "a;b"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_false(ky_auth_user_valid(bad[i]));
	/* A key for no user: nothing is made, nothing handed out. */
	memset(key, 'x', sizeof(key));
	assert_int_equal(ky_auth_key_create(f->s, 4242, &operator, "no such user", key), KY_ENOTFOUND);
	assert_string_equal(key, "");
	char text[32];
	raw_text(f->path, "SELECT count(*) FROM api_keys", text, sizeof(text));
	assert_string_equal(text, "0");
	char too_long[KY_AUTH_USER_MAX + 2];
	memset(too_long, 'a', sizeof(too_long) - 1);
	too_long[sizeof(too_long) - 1] = '\0';
	assert_false(ky_auth_user_valid(too_long));
	ky_store_user u;
	assert_int_equal(ky_store_user_ensure(f->s, too_long, &operator, "too long", &u), KY_EINVALID);
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
	assert_int_equal(ky_store_user_ensure(f->s, "", &operator, "empty", &u), KY_EINVALID);
	char longer[KY_STORE_USER_MAX + 2];
	memset(longer, 'b', sizeof(longer) - 1);
	longer[sizeof(longer) - 1] = '\0';
	assert_int_equal(ky_store_user_ensure(f->s, longer, &operator, "too long", &u), KY_EINVALID);
	assert_int_equal(ky_store_user_count(f->s, &users), KY_OK);
	assert_int_equal(users, 7);
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
	assert_int_equal(ky_store_key_list(f->s, 0, collect, &l), KY_OK);
	assert_int_equal(l.n, N);
	for (int i = 0; i < N; i++) {
		assert_string_equal(l.k[i].user, i < N / 2 ? "alice" : "bob");
		assert_int_equal(l.k[i].revoked_us, 0);
		assert_true(l.k[i].created_us > 0);
		assert_int_equal(l.k[i].role, KY_ROLE_ADMIN);
		assert_string_equal(l.k[i].member, "secretariat");
		assert_true(i == 0 || l.k[i].user_id != l.k[i - 1].user_id || l.k[i].id > l.k[i - 1].id);
	}
	char prefix[KY_STORE_KEY_PREFIX_LEN + 1];
	assert_string_equal(l.k[0].prefix, prefix_of(keys[0], prefix));
	assert_string_equal(l.k[N / 2].prefix, prefix_of(keys[1], prefix));
	/* One user's keys alone; a user without keys has none listed. */
	listed bob = {0};
	assert_int_equal(ky_store_key_list(f->s, l.k[N / 2].user_id, collect, &bob), KY_OK);
	assert_int_equal(bob.n, N / 2);
	for (int i = 0; i < N / 2; i++)
		assert_string_equal(bob.k[i].prefix, l.k[N / 2 + i].prefix);
	ky_store_user carol;
	assert_int_equal(ky_store_user_ensure(f->s, "carol", &operator, "no keys", &carol), KY_OK);
	listed none = {0};
	assert_int_equal(ky_store_key_list(f->s, carol.id, collect, &none), KY_OK);
	assert_int_equal(none.n, 0);
}

/* The record of changes as "action subject reason;" each, the secretariat's own making
 * (with the hub) left out. */
typedef struct changes {
	char text[1024];
	size_t len;
} changes;

static int collect_change(void *ctx, const ky_store_change *c)
{
	changes *l = ctx;
	if (strcmp(c->action, "member.add") == 0 && strcmp(c->subject, "secretariat") == 0)
		return 0;
	assert_string_equal(c->via, "test_auth");
	assert_string_equal(c->user, "");
	int n = snprintf(l->text + l->len, sizeof(l->text) - l->len, "%s %s %s;", c->action, c->subject, c->reason);
	assert_true(n > 0 && (size_t)n < sizeof(l->text) - l->len);
	l->len += (size_t)n;
	return 0;
}

/* The store's own refusals: a taken prefix or hash, a user that does not exist. */
static void test_store_key_conflicts(void **state)
{
	fx *f = *state;
	ky_store_user u;
	assert_int_equal(ky_store_user_ensure(f->s, "alice", &operator, "first", &u), KY_OK);
	assert_true(u.created);
	assert_int_equal(u.role, KY_ROLE_ADMIN);
	assert_string_equal(u.member, "secretariat");
	assert_int_equal(u.tier, KY_TIER_SECRETARIAT);
	assert_false(u.disabled);
	ky_store_user same;
	assert_int_equal(ky_store_user_ensure(f->s, "alice", &operator, "again", &same), KY_OK);
	assert_false(same.created);
	assert_int_equal(same.id, u.id);
	assert_int_equal(same.member_id, u.member_id);
	uint8_t h1[KY_STORE_KEY_HASH_SIZE] = {1}, h2[KY_STORE_KEY_HASH_SIZE] = {2}, h3[KY_STORE_KEY_HASH_SIZE] = {3};
	int64_t id = 0;
	assert_int_equal(ky_store_key_add(f->s, u.id, "kyk_aaaa", h1, &operator, "first key", &id), KY_OK);
	assert_true(id > 0);
	assert_int_equal(ky_store_key_add(f->s, u.id, "kyk_aaaa", h2, &operator, "taken prefix", NULL), KY_EEXISTS);
	assert_int_equal(ky_store_key_add(f->s, u.id, "kyk_bbbb", h1, &operator, "taken hash", NULL), KY_EEXISTS);
	assert_int_equal(ky_store_key_add(f->s, u.id + 100, "kyk_cccc", h3, &operator, "no user", NULL), KY_ENOTFOUND);
	assert_int_equal(ky_store_key_add(f->s, u.id, "short", h3, &operator, "short prefix", NULL), KY_EINVALID);
	/* A revoked key's prefix stays taken: a prefix names one key for good. */
	ky_store_key k;
	assert_int_equal(ky_store_key_revoke(f->s, "kyk_aaaa", &operator, "revoked", &k), KY_OK);
	assert_int_equal(k.id, id);
	assert_int_equal(ky_store_key_add(f->s, u.id, "kyk_aaaa", h3, &operator, "taken prefix", NULL), KY_EEXISTS);
	assert_int_equal(ky_store_key_find(f->s, h1, &k), KY_ENOTFOUND);
	/* ky_store_key_get finds a key by prefix, revoked or not. */
	assert_int_equal(ky_store_key_get(f->s, "kyk_aaaa", &k), KY_OK);
	assert_int_equal(k.id, id);
	assert_true(k.revoked_us > 0);
	assert_int_equal(ky_store_key_get(f->s, "kyk_zzzz", &k), KY_ENOTFOUND);
	assert_int_equal(ky_store_key_add(f->s, u.id, "kyk_dddd", h3, &operator, "second key", &id), KY_OK);
	assert_int_equal(ky_store_key_find(f->s, h3, &k), KY_OK);
	assert_int_equal(k.id, id);
	assert_string_equal(k.prefix, "kyk_dddd");
	assert_string_equal(k.user, "alice");
	assert_int_equal(k.user_id, u.id);
	assert_int_equal(k.revoked_us, 0);
	assert_int_equal(k.role, KY_ROLE_ADMIN);
	assert_int_equal(k.member_id, u.member_id);
	assert_false(k.disabled);
	assert_false(k.suspended);

	/* Each key made and revoked is in the record of changes, with who, how and why; the
	 * refused ones are not. */
	changes c = {0};
	assert_int_equal(ky_store_change_list(f->s, 0, 0, collect_change, &c, NULL), KY_OK);
	assert_string_equal(c.text, "user.add alice first;key.create alice first key;key.revoke alice revoked;"
				    "key.create alice second key;");

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
	ky_store_user created[THREADS]; /* create_users(): user<i> as its call found it */
	int rc;
	char message[256];
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

/* Finds or creates every user user0 .. user<THREADS-1>, starting at its own, on a connection
 * of its own, and gives each a key. */
static void *create_users(void *arg)
{
	worker *w = arg;
	ky_store *s = NULL;
	w->rc = ky_store_open(&s, w->f->path, NULL, NULL);
	for (int i = 0; w->rc == KY_OK && i < THREADS; i++) {
		int n = (w->index + i) % THREADS;
		char name[32], key[KY_AUTH_KEY_MAX];
		snprintf(name, sizeof(name), "user%d", n);
		w->rc = ky_store_user_ensure(s, name, &operator, "at once", &w->created[n]);
		if (w->rc == KY_OK)
			w->rc = ky_auth_key_create(s, w->created[n].id, &operator, "at once", key);
	}
	if (w->rc != KY_OK)
		snprintf(w->message, sizeof(w->message), "%s", ky_error_last());
	ky_store_close(s);
	return NULL;
}

/* Users created at once, each name by every connection, on a new hub: each is created once
 * (one call says it made it, the others find it), none fails, and all are admins of the one
 * secretariat. */
static void test_users_created_at_once(void **state)
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
			w[i] = (worker){.f = f, .index = i};
			assert_int_equal(pthread_create(&t[i], NULL, create_users, &w[i]), 0);
		}
		for (int i = 0; i < THREADS; i++) {
			pthread_join(t[i], NULL);
			if (w[i].rc != KY_OK)
				fail_msg("connection %d: %s", i, w[i].message);
		}
		for (int n = 0; n < THREADS; n++) {
			int made = 0;
			for (int i = 0; i < THREADS; i++) {
				made += w[i].created[n].created;
				assert_int_equal(w[i].created[n].id, w[0].created[n].id);
				assert_int_equal(w[i].created[n].role, KY_ROLE_ADMIN);
				assert_string_equal(w[i].created[n].member, "secretariat");
			}
			assert_int_equal(made, 1);
		}
		uint64_t users = 0;
		assert_int_equal(ky_store_user_count(f->s, &users), KY_OK);
		assert_int_equal(users, THREADS);
		char text[32];
		raw_text(f->path, "SELECT count(*) FROM members", text, sizeof(text));
		assert_string_equal(text, "1");
		raw_text(f->path, "SELECT count(*) FROM api_keys", text, sizeof(text));
		assert_int_equal(atoi(text), THREADS * THREADS);
		raw_text(f->path, "SELECT count(*) FROM changes WHERE action = 'user.add'", text, sizeof(text));
		assert_int_equal(atoi(text), THREADS);
	}
}

/* --- who a key says it is ------------------------------------------------------------------- */

/* A disabled user's keys are refused at once, on every connection, as a wrong key is; and
 * disabling is for good. */
static void test_disabled_user_refused(void **state)
{
	fx *f = *state;
	char key[KY_AUTH_KEY_MAX], second[KY_AUTH_KEY_MAX], other_key[KY_AUTH_KEY_MAX];
	new_key(f->s, "alice", key, NULL);
	new_key(f->s, "alice", second, NULL);
	new_key(f->s, "bob", other_key, NULL);
	ky_store *other = connect_again(f);
	ky_auth_identity id;
	assert_int_equal(ky_auth_verify(other, "alice", key, &id), KY_OK);

	ky_store_user u;
	assert_int_equal(ky_store_user_set(f->s, "alice", NULL, true, &operator, "left the company", &u), KY_OK);
	assert_true(u.disabled);
	assert_denied(f->s, "alice", key);
	assert_denied(f->s, NULL, key);
	assert_denied(f->s, "alice", second);
	assert_denied(other, "alice", key);
	assert_denied(other, NULL, second);
	/* The key is not revoked: the store still finds it, and says its user is disabled. */
	uint8_t secret[KY_STORE_SECRET_SIZE], hash[KY_STORE_KEY_HASH_SIZE];
	assert_int_equal(ky_store_secret(f->s, KY_AUTH_SECRET_NAME, NULL, secret), KY_OK);
	crypto_auth_hmacsha256(hash, (const unsigned char *)key, KY_AUTH_KEY_LEN, secret);
	ky_store_key k;
	assert_int_equal(ky_store_key_find(f->s, hash, &k), KY_OK);
	assert_true(k.disabled);
	assert_int_equal(k.revoked_us, 0);
	/* Another user's key still works. */
	assert_int_equal(ky_auth_verify(other, "bob", other_key, &id), KY_OK);
	assert_string_equal(id.user, "bob");
	/* A disabled user stays disabled: a change of role does not enable it, nor does
	 * kyoyu key create finding it again. */
	ky_role reader = KY_ROLE_READER;
	assert_int_equal(ky_store_user_set(f->s, "alice", &reader, false, &operator, "role", &u), KY_OK);
	assert_true(u.disabled);
	assert_int_equal(ky_store_user_ensure(f->s, "alice", &operator, "again", &u), KY_OK);
	assert_false(u.created);
	assert_true(u.disabled);
	assert_denied(other, "alice", key);
	ky_store_close(other);
}

/* A suspended member's keys still verify (the server refuses its requests with 403, not 401:
 * the key is right), and the identity says it is suspended, at once, on every connection. */
static void test_suspended_member_verifies(void **state)
{
	fx *f = *state;
	ky_store_member acme = new_member(f->s, "acme", KY_TIER_CONTRIBUTOR);
	char key[KY_AUTH_KEY_MAX];
	ky_store_user eve = new_user_key(f->s, "eve", "acme", KY_ROLE_ANALYST, key);
	ky_store *other = connect_again(f);
	ky_auth_identity id;
	assert_int_equal(ky_auth_verify(other, "eve", key, &id), KY_OK);
	assert_false(id.suspended);

	bool suspend = true;
	ky_store_member m;
	assert_int_equal(ky_store_member_set(f->s, "acme", NULL, &suspend, &operator, "unpaid", &m), KY_OK);
	assert_true(m.suspended);
	memset(&id, 0, sizeof(id));
	assert_int_equal(ky_auth_verify(other, "eve", key, &id), KY_OK);
	assert_true(id.suspended);
	assert_string_equal(id.user, "eve");
	assert_int_equal(id.user_id, eve.id);
	assert_int_equal(id.member_id, acme.id);
	assert_string_equal(id.member, "acme");
	assert_int_equal(id.tier, KY_TIER_CONTRIBUTOR);
	assert_int_equal(id.role, KY_ROLE_ANALYST);
	assert_int_equal(ky_auth_verify(f->s, NULL, key, &id), KY_OK);
	assert_true(id.suspended);
	/* A wrong user with the key is still refused, suspended or not. */
	assert_denied(other, "alice", key);

	suspend = false;
	assert_int_equal(ky_store_member_set(f->s, "acme", NULL, &suspend, &operator, "paid", NULL), KY_OK);
	assert_int_equal(ky_auth_verify(other, "eve", key, &id), KY_OK);
	assert_false(id.suspended);
	ky_store_close(other);
}

static void assert_identity(ky_store *s, const char *user, const char *key, ky_role role, const char *member,
			    ky_tier tier, int64_t rules_version, int64_t rules_accepted)
{
	ky_auth_identity id;
	if (ky_auth_verify(s, user, key, &id) != KY_OK)
		fail_msg("verify %s: %s", user, ky_error_last());
	assert_string_equal(id.user, user);
	assert_int_equal(id.role, role);
	assert_string_equal(id.member, member);
	assert_int_equal(id.tier, tier);
	assert_int_equal(id.rules_version, rules_version);
	assert_int_equal(id.rules_accepted, rules_accepted);
}

/* What a verified key says of its user is what the hub holds at the moment of the check:
 * role, member and tier, the rules in force and the last version the user accepted, as
 * they change (on another connection, so nothing is cached). */
static void test_identity_follows_the_hub(void **state)
{
	fx *f = *state;
	char admin[KY_AUTH_KEY_MAX], reader[KY_AUTH_KEY_MAX];
	new_key(f->s, "alice", admin, NULL);
	new_member(f->s, "acme", KY_TIER_GENERAL);
	ky_store_user bob = new_user_key(f->s, "bob", "acme", KY_ROLE_READER, reader);
	ky_store *other = connect_again(f);
	assert_identity(other, "alice", admin, KY_ROLE_ADMIN, "secretariat", KY_TIER_SECRETARIAT, 0, 0);
	assert_identity(other, "bob", reader, KY_ROLE_READER, "acme", KY_TIER_GENERAL, 0, 0);

	/* Rules set: in force for everyone, accepted by nobody yet. */
	static const char rules1[] = "Share what you may; keep TLP:RED red.";
	int64_t version = 0;
	assert_int_equal(ky_store_rules_set(f->s, rules1, sizeof(rules1) - 1, &operator, "first rules", &version), KY_OK);
	assert_int_equal(version, 1);
	assert_identity(other, "alice", admin, KY_ROLE_ADMIN, "secretariat", KY_TIER_SECRETARIAT, 1, 0);
	assert_identity(other, "bob", reader, KY_ROLE_READER, "acme", KY_TIER_GENERAL, 1, 0);
	ky_store_actor as_bob = {.user_id = bob.id, .member_id = bob.member_id, .via = "test_auth"};
	int64_t at = 0;
	assert_int_equal(ky_store_rules_accept(f->s, bob.id, 1, &as_bob, &at), KY_OK);
	assert_true(at > 0);
	assert_identity(other, "bob", reader, KY_ROLE_READER, "acme", KY_TIER_GENERAL, 1, 1);
	assert_identity(other, "alice", admin, KY_ROLE_ADMIN, "secretariat", KY_TIER_SECRETARIAT, 1, 0);

	/* A new version: bob's acceptance is of the old one until he accepts again. */
	static const char rules2[] = "Share what you may; keep TLP:RED red; report leaks.";
	assert_int_equal(ky_store_rules_set(f->s, rules2, sizeof(rules2) - 1, &operator, "second rules", &version), KY_OK);
	assert_int_equal(version, 2);
	assert_identity(other, "bob", reader, KY_ROLE_READER, "acme", KY_TIER_GENERAL, 2, 1);
	assert_int_equal(ky_store_rules_accept(f->s, bob.id, 1, &as_bob, NULL), KY_ECONFLICT);
	assert_identity(other, "bob", reader, KY_ROLE_READER, "acme", KY_TIER_GENERAL, 2, 1);
	assert_int_equal(ky_store_rules_accept(f->s, bob.id, 2, &as_bob, NULL), KY_OK);
	assert_identity(other, "bob", reader, KY_ROLE_READER, "acme", KY_TIER_GENERAL, 2, 2);
	/* A user kyoyu key create makes now has accepted the rules in force. */
	char carol[KY_AUTH_KEY_MAX];
	new_key(f->s, "carol", carol, NULL);
	assert_identity(other, "carol", carol, KY_ROLE_ADMIN, "secretariat", KY_TIER_SECRETARIAT, 2, 2);

	/* A new role, a new tier: the next check says so. */
	ky_role analyst = KY_ROLE_ANALYST;
	assert_int_equal(ky_store_user_set(f->s, "bob", &analyst, false, &operator, "promoted", NULL), KY_OK);
	assert_identity(other, "bob", reader, KY_ROLE_ANALYST, "acme", KY_TIER_GENERAL, 2, 2);
	ky_tier contributor = KY_TIER_CONTRIBUTOR;
	assert_int_equal(ky_store_member_set(f->s, "acme", &contributor, NULL, &operator, "contributes", NULL), KY_OK);
	assert_identity(other, "bob", reader, KY_ROLE_ANALYST, "acme", KY_TIER_CONTRIBUTOR, 2, 2);
	ky_store_close(other);
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
		cmocka_unit_test_setup_teardown(test_users_created_at_once, setup, teardown),
		cmocka_unit_test_setup_teardown(test_disabled_user_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_suspended_member_verifies, setup, teardown),
		cmocka_unit_test_setup_teardown(test_identity_follows_the_hub, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
