/*
 * auth: API keys, and who presents one. Users and machine clients authenticate to the
 * server with HTTP Basic (user name, and an API key as the password: what standard TAXII
 * clients send) or with `Authorization: Bearer KEY`; the server hands what it got to
 * ky_auth_verify().
 *
 * A key is 256 random bits (libsodium's randombytes_buf), written in base64url without
 * padding after the prefix "kyk_", so that it is recognisable in logs and by leak scanners:
 * "kyk_" and 43 characters, 47 in all. It is shown once, when it is made; the hub keeps only
 * its first 8 characters (to name it in listings and to revoke it) and a keyed hash of it,
 * HMAC-SHA256 under a server secret (secrets.key_hmac, 32 random bytes stored by the first
 * key made). Not a slow password hash: a key is random, so nothing is gained against
 * guessing, and argon2id's 80 ms and 64 MB per check would cap the server at a dozen
 * requests a second and let wrong keys exhaust its memory. A check is one HMAC and one
 * indexed lookup by hash (store.h: ky_store_key_find), which also makes revocation immediate.
 *
 * Thread safety: functions take the caller's ky_store, a connection used by one thread at
 * a time; the server gives each worker thread its own. There is no other shared mutable
 * state: the server secret, which never changes, is kept per connection by the store, and
 * libsodium is initialised once (pthread_once).
 */
#ifndef KY_AUTH_H
#define KY_AUTH_H

#include <stdbool.h>
#include <stdint.h>

#include "store/store.h"
#include "store/store_council.h"

#define KY_AUTH_KEY_PREFIX "kyk_"
#define KY_AUTH_KEY_LEN 47                 /* "kyk_" and 43 characters of base64url */
#define KY_AUTH_KEY_MAX (KY_AUTH_KEY_LEN + 1) /* a buffer for a key and its NUL */
#define KY_AUTH_USER_MAX KY_STORE_USER_MAX /* longest user name, in bytes */

/* The name of the server secret keys are hashed under (the secrets table). */
#define KY_AUTH_SECRET_NAME "key_hmac"

/* Who a verified key belongs to: the user, its role, its member and the rules it accepted,
 * as the hub holds them at the moment of the check. */
typedef struct ky_auth_identity {
	char user[KY_AUTH_USER_MAX + 1];
	int64_t user_id;
	int64_t key_id;
	ky_role role;
	int64_t member_id;
	char member[KY_STORE_NAME_MAX + 1];
	ky_tier tier;
	bool suspended;          /* the member is suspended: the server refuses its requests (403) */
	int64_t rules_version;   /* the rules in force (0: none) */
	int64_t rules_accepted;  /* the latest version the user accepted (0: none) */
} ky_auth_identity;

/* Initialises libsodium, once per process however many threads call it; the other functions
 * call it themselves. KY_ERROR if libsodium cannot start (no source of randomness). */
int ky_auth_init(void);

/* Whether `name` may be a user name: 1 to KY_AUTH_USER_MAX letters, digits, '.', '_', '-',
 * '@' or '+', starting with a letter or digit (so never a ':', which HTTP Basic cannot carry
 * in a user name, nor spaces or control characters). */
bool ky_auth_user_valid(const char *name);

/*
 * Makes a new key for user user_id (who makes it and why go to the record of changes). On
 * KY_OK key_out holds the key, NUL-terminated: show it to the person once, it cannot be had
 * again. Its first KY_STORE_KEY_PREFIX_LEN characters are its prefix. KY_ENOTFOUND for no
 * such user; store failures as the store returns them.
 */
int ky_auth_key_create(ky_store *s, int64_t user_id, const ky_store_actor *actor, const char *reason,
		       char key_out[KY_AUTH_KEY_MAX]);

/*
 * Checks a presented key: hashes it, looks it up, and when user_or_null is not NULL (HTTP
 * Basic) checks that the key is that user's, comparing the names in constant time over
 * fixed-size buffers. On KY_OK *out says whose key it is. Every refusal (a malformed key:
 * empty, too long, not base64url; an unknown or revoked key; a user who does not exist or
 * is not the key's; a disabled user) is KY_EDENIED with the one message "invalid
 * credentials", and the
 * database is asked the same question whatever the user name, so that nothing tells whether
 * a user exists. A store that fails (the database is down) returns its own code, not
 * KY_EDENIED: the server should answer that with a server error, not 401.
 */
int ky_auth_verify(ky_store *s, const char *user_or_null, const char *key, ky_auth_identity *out);

/* Whose key `was` is now, for a connection that outlives its request (the live stream):
 * *out as ky_auth_verify would make it for the same key, or KY_EDENIED once the key is
 * revoked or its user disabled. Store failures as returned. */
int ky_auth_recheck(ky_store *s, const ky_auth_identity *was, ky_auth_identity *out);

#endif
