/*
 * auth: making API keys and checking them (auth.h says what and why). Keys are random
 * 32-byte values in base64url behind "kyk_"; the hub stores HMAC-SHA256(secret, key), the
 * key being the whole 47-character text as presented, so that a check is one HMAC and one
 * indexed lookup, and no encoding of a key but the one handed out can match.
 */
#include "auth/auth.h"

#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include "util/ky_error.h"

/* How many keys to draw when a new key's prefix is taken already: 24 random bits in each
 * prefix, so with a few thousand keys a second draw is rare and a ninth unheard of. */
#define KEY_ATTEMPTS 8

_Static_assert(crypto_auth_hmacsha256_BYTES == KY_STORE_KEY_HASH_SIZE, "the stored hash is an HMAC-SHA256");
_Static_assert(crypto_auth_hmacsha256_KEYBYTES == KY_STORE_SECRET_SIZE, "the secret is an HMAC-SHA256 key");
_Static_assert(sizeof(KY_AUTH_KEY_PREFIX) - 1 + sodium_base64_ENCODED_LEN(32, sodium_base64_VARIANT_URLSAFE_NO_PADDING) ==
		       KY_AUTH_KEY_MAX,
	       "a key is the prefix and 32 bytes in base64url");

static int sodium_status = -1;

static void start_sodium(void)
{
	sodium_status = sodium_init() < 0 ? -1 : 0;
}

int ky_auth_init(void)
{
	static pthread_once_t once = PTHREAD_ONCE_INIT;
	pthread_once(&once, start_sodium);
	return sodium_status == 0 ? KY_OK : ky_error_set(KY_ERROR, "libsodium cannot start (no source of randomness?)");
}

bool ky_auth_user_valid(const char *name)
{
	size_t n = strlen(name);
	if (n == 0 || n > KY_AUTH_USER_MAX)
		return false;
	char c = name[0];
	if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')))
		return false;
	return strspn(name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-@+") == n;
}

/* The server secret, made (from libsodium's randomness) by the first caller that needs one
 * when `create`, else KY_ENOTFOUND while there is none. */
static int secret(ky_store *s, bool create, uint8_t out[KY_STORE_SECRET_SIZE])
{
	uint8_t fresh[KY_STORE_SECRET_SIZE];
	if (create)
		randombytes_buf(fresh, sizeof(fresh));
	int rc = ky_store_secret(s, KY_AUTH_SECRET_NAME, create ? fresh : NULL, out);
	sodium_memzero(fresh, sizeof(fresh));
	return rc;
}

static void hash_key(const uint8_t secret_key[KY_STORE_SECRET_SIZE], const char *key, uint8_t out[KY_STORE_KEY_HASH_SIZE])
{
	crypto_auth_hmacsha256(out, (const unsigned char *)key, KY_AUTH_KEY_LEN, secret_key);
}

int ky_auth_key_create(ky_store *s, int64_t user_id, const ky_store_actor *actor, const char *reason,
		       char key_out[KY_AUTH_KEY_MAX])
{
	uint8_t secret_key[KY_STORE_SECRET_SIZE], raw[32], hash[KY_STORE_KEY_HASH_SIZE];
	int rc = ky_auth_init();

	memset(key_out, 0, KY_AUTH_KEY_MAX);
	if (rc == KY_OK)
		rc = secret(s, true, secret_key);
	if (rc != KY_OK)
		goto cleanup;
	/* A prefix (or, never in practice, a hash) that is taken already: draw another key. */
	rc = KY_EEXISTS;
	for (int attempt = 0; rc == KY_EEXISTS && attempt < KEY_ATTEMPTS; attempt++) {
		char prefix[KY_STORE_KEY_PREFIX_LEN + 1];
		randombytes_buf(raw, sizeof(raw));
		memcpy(key_out, KY_AUTH_KEY_PREFIX, sizeof(KY_AUTH_KEY_PREFIX) - 1);
		sodium_bin2base64(key_out + sizeof(KY_AUTH_KEY_PREFIX) - 1, KY_AUTH_KEY_MAX - (sizeof(KY_AUTH_KEY_PREFIX) - 1),
				  raw, sizeof(raw), sodium_base64_VARIANT_URLSAFE_NO_PADDING);
		hash_key(secret_key, key_out, hash);
		memcpy(prefix, key_out, KY_STORE_KEY_PREFIX_LEN);
		prefix[KY_STORE_KEY_PREFIX_LEN] = '\0';
		rc = ky_store_key_add(s, user_id, prefix, hash, actor, reason, NULL);
	}

cleanup:
	if (rc != KY_OK)
		sodium_memzero(key_out, KY_AUTH_KEY_MAX);
	sodium_memzero(secret_key, sizeof(secret_key));
	sodium_memzero(raw, sizeof(raw));
	return rc;
}

/* A key as kyoyu makes them: "kyk_" and the canonical base64url (no padding, unused bits
 * zero: libsodium checks) of 32 bytes, and nothing after. */
static bool well_formed(const char *key)
{
	const size_t skip = sizeof(KY_AUTH_KEY_PREFIX) - 1;
	uint8_t raw[32];
	size_t len = 0;
	const char *end = NULL;
	if (strnlen(key, KY_AUTH_KEY_LEN + 1) != KY_AUTH_KEY_LEN || memcmp(key, KY_AUTH_KEY_PREFIX, skip) != 0)
		return false;
	bool ok = sodium_base642bin(raw, sizeof(raw), key + skip, KY_AUTH_KEY_LEN - skip, NULL, &len, &end,
				    sodium_base64_VARIANT_URLSAFE_NO_PADDING) == 0 &&
		  len == sizeof(raw) && end == key + KY_AUTH_KEY_LEN;
	sodium_memzero(raw, sizeof(raw));
	return ok;
}

static int denied(void)
{
	return ky_error_set(KY_EDENIED, "invalid credentials");
}

static void identity_of(const ky_store_key *k, ky_auth_identity *out)
{
	memcpy(out->user, k->user, sizeof(out->user));
	out->user[KY_AUTH_USER_MAX] = '\0';
	out->user_id = k->user_id;
	out->key_id = k->id;
	out->role = k->role;
	out->member_id = k->member_id;
	snprintf(out->member, sizeof(out->member), "%s", k->member);
	out->tier = k->tier;
	out->suspended = k->suspended;
	out->rules_version = k->rules_version;
	out->rules_accepted = k->rules_accepted;
}

int ky_auth_verify(ky_store *s, const char *user_or_null, const char *key, ky_auth_identity *out)
{
	uint8_t secret_key[KY_STORE_SECRET_SIZE], hash[KY_STORE_KEY_HASH_SIZE];
	ky_store_key k;
	int rc = ky_auth_init();

	memset(out, 0, sizeof(*out));
	if (rc != KY_OK)
		return rc;
	if (key == NULL || !well_formed(key))
		return denied();
	/* No secret yet: no key was ever made, so none can match. */
	rc = secret(s, false, secret_key);
	if (rc == KY_ENOTFOUND)
		return denied();
	if (rc != KY_OK)
		return rc;
	hash_key(secret_key, key, hash);
	sodium_memzero(secret_key, sizeof(secret_key));
	rc = ky_store_key_find(s, hash, &k);
	if (rc == KY_ENOTFOUND)
		return denied();
	if (rc != KY_OK)
		return rc;
	if (k.disabled)
		return denied();
	if (user_or_null != NULL) {
		/* Both names in zeroed buffers of one size, compared whole: the time taken says
		 * nothing of where they differ. (Names hold no NUL, so equal buffers are equal
		 * names.) A name too long for the buffer matches nothing. */
		char given[KY_AUTH_USER_MAX + 1] = {0}, owner_of_key[KY_AUTH_USER_MAX + 1] = {0};
		size_t n = strnlen(user_or_null, KY_AUTH_USER_MAX + 1);
		bool fits = n <= KY_AUTH_USER_MAX;
		memcpy(given, user_or_null, fits ? n : 0);
		memcpy(owner_of_key, k.user, strnlen(k.user, KY_AUTH_USER_MAX));
		bool same = sodium_memcmp(given, owner_of_key, sizeof(given)) == 0;
		if (!fits || !same)
			return denied();
	}
	identity_of(&k, out);
	return KY_OK;
}

int ky_auth_recheck(ky_store *s, const ky_auth_identity *was, ky_auth_identity *out)
{
	ky_store_key k;
	memset(out, 0, sizeof(*out));
	int rc = ky_store_key_by_id(s, was->key_id, &k);
	if (rc == KY_ENOTFOUND || (rc == KY_OK && k.disabled))
		return denied();
	if (rc == KY_OK)
		identity_of(&k, out);
	return rc;
}
