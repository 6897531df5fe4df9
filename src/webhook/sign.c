/*
 * webhook/sign: the Standard Webhooks signature and the sealing of endpoints' secrets
 * (sign.h), on libsodium.
 */
#include "webhook/sign.h"

#include <string.h>

#include <sodium.h>

#include "util/ky_error.h"

#define PREFIX "whsec_"
#define PREFIX_LEN (sizeof(PREFIX) - 1)
#define KEY_MIN 24
#define KEY_MAX 64
#define ID_MAX 255

int ky_webhook_secret_new(char out[KY_WEBHOOK_SECRET_MAX])
{
	if (sodium_init() < 0)
		return ky_error_set(KY_ERROR, "libsodium could not start (no source of randomness)");
	uint8_t key[KY_WEBHOOK_SECRET_BYTES];
	randombytes_buf(key, sizeof(key));
	memcpy(out, PREFIX, PREFIX_LEN);
	sodium_bin2base64(out + PREFIX_LEN, KY_WEBHOOK_SECRET_MAX - PREFIX_LEN, key, sizeof(key),
			  sodium_base64_VARIANT_ORIGINAL);
	sodium_memzero(key, sizeof(key));
	return KY_OK;
}

/* The HMAC key a secret stands for, into key[0..*len). */
static int secret_key(const char *secret, uint8_t key[KEY_MAX], size_t *len)
{
	size_t n = strnlen(secret, KY_WEBHOOK_SECRET_MAX);
	const char *end = NULL;
	if (n < PREFIX_LEN || n == KY_WEBHOOK_SECRET_MAX || memcmp(secret, PREFIX, PREFIX_LEN) != 0 ||
	    sodium_base642bin(key, KEY_MAX, secret + PREFIX_LEN, n - PREFIX_LEN, NULL, len, &end,
			      sodium_base64_VARIANT_ORIGINAL) != 0 ||
	    end != secret + n || *len < KEY_MIN)
		return ky_error_set(KY_EINVALID, "the endpoint's secret is not \"whsec_\" and the base64 of %d to %d bytes",
				    KEY_MIN, KEY_MAX);
	return KY_OK;
}

int ky_webhook_sign(const char *secret, const char *id, int64_t timestamp, const char *body, size_t body_len,
		    char out[KY_WEBHOOK_SIGNATURE_MAX])
{
	size_t id_len = strnlen(id, ID_MAX + 1);
	if (id_len == 0 || id_len > ID_MAX || memchr(id, '.', id_len) != NULL)
		return ky_error_set(KY_EINVALID, "a delivery's id is 1 to %d bytes without a '.'", ID_MAX);
	uint8_t key[KEY_MAX];
	size_t key_len = 0;
	int rc = secret_key(secret, key, &key_len);
	if (rc != KY_OK)
		return rc;
	char stamp[24];
	int stamp_len = snprintf(stamp, sizeof(stamp), ".%lld.", (long long)timestamp);
	crypto_auth_hmacsha256_state st;
	uint8_t mac[crypto_auth_hmacsha256_BYTES];
	crypto_auth_hmacsha256_init(&st, key, key_len);
	crypto_auth_hmacsha256_update(&st, (const uint8_t *)id, id_len);
	crypto_auth_hmacsha256_update(&st, (const uint8_t *)stamp, (size_t)stamp_len);
	crypto_auth_hmacsha256_update(&st, (const uint8_t *)body, body_len);
	crypto_auth_hmacsha256_final(&st, mac);
	sodium_memzero(key, sizeof(key));
	sodium_memzero(&st, sizeof(st));
	memcpy(out, "v1,", 3);
	sodium_bin2base64(out + 3, KY_WEBHOOK_SIGNATURE_MAX - 3, mac, sizeof(mac), sodium_base64_VARIANT_ORIGINAL);
	return KY_OK;
}

/* The associated data that binds a sealed secret to its endpoint. */
static void endpoint_ad(int64_t endpoint_id, uint8_t ad[8])
{
	for (int i = 0; i < 8; i++)
		ad[i] = (uint8_t)((uint64_t)endpoint_id >> (56 - 8 * i));
}

int ky_webhook_seal(const uint8_t hub_key[KY_WEBHOOK_HUB_KEY_BYTES], int64_t endpoint_id, const char *secret,
		    uint8_t out[KY_WEBHOOK_SEALED_MAX], size_t *out_len)
{
	size_t n = strnlen(secret, KY_WEBHOOK_SECRET_MAX);
	if (n == KY_WEBHOOK_SECRET_MAX)
		return ky_error_set(KY_EINVALID, "the endpoint's secret is over %d bytes", KY_WEBHOOK_SECRET_MAX - 1);
	if (sodium_init() < 0)
		return ky_error_set(KY_ERROR, "libsodium could not start (no source of randomness)");
	uint8_t ad[8];
	endpoint_ad(endpoint_id, ad);
	uint8_t *nonce = out;
	randombytes_buf(nonce, crypto_aead_xchacha20poly1305_ietf_NPUBBYTES);
	unsigned long long sealed = 0;
	crypto_aead_xchacha20poly1305_ietf_encrypt(out + crypto_aead_xchacha20poly1305_ietf_NPUBBYTES, &sealed,
						   (const uint8_t *)secret, n, ad, sizeof(ad), NULL, nonce, hub_key);
	*out_len = crypto_aead_xchacha20poly1305_ietf_NPUBBYTES + (size_t)sealed;
	return KY_OK;
}

int ky_webhook_open(const uint8_t hub_key[KY_WEBHOOK_HUB_KEY_BYTES], int64_t endpoint_id, const uint8_t *sealed,
		    size_t sealed_len, char secret_out[KY_WEBHOOK_SECRET_MAX])
{
	const size_t overhead = crypto_aead_xchacha20poly1305_ietf_NPUBBYTES + crypto_aead_xchacha20poly1305_ietf_ABYTES;
	uint8_t ad[8];
	endpoint_ad(endpoint_id, ad);
	unsigned long long n = 0;
	if (sealed_len < overhead || sealed_len - overhead >= KY_WEBHOOK_SECRET_MAX ||
	    crypto_aead_xchacha20poly1305_ietf_decrypt(
		    (uint8_t *)secret_out, &n, NULL, sealed + crypto_aead_xchacha20poly1305_ietf_NPUBBYTES,
		    sealed_len - crypto_aead_xchacha20poly1305_ietf_NPUBBYTES, ad, sizeof(ad), sealed, hub_key) != 0)
		return ky_error_set(KY_EINVALID, "endpoint %lld's sealed secret does not open under the hub's key "
				    "(altered, or another endpoint's)", (long long)endpoint_id);
	secret_out[n] = '\0';
	return KY_OK;
}
