/*
 * webhook/sign: what a webhook delivery is signed with, by the Standard Webhooks scheme
 * (standardwebhooks.com, specification 1.0.0), so that a receiver verifies it with the
 * scheme's own libraries:
 *
 *   webhook-id:        the delivery's id, the same on every retry (the receiver's key for
 *                      dropping duplicates); no '.' in it
 *   webhook-timestamp: the attempt's time, integer Unix seconds
 *   webhook-signature: "v1," and the base64 HMAC-SHA256 of "id.timestamp.body" under the
 *                      endpoint's secret
 *
 * An endpoint's secret is "whsec_" and the base64 of 32 random bytes: shown once to the
 * member that registers the endpoint. The hub must sign with it later, so it keeps it sealed
 * (XChaCha20-Poly1305) under a key of its own, bound to the endpoint's id: a sealed secret
 * copied onto another endpoint's row does not open. Secrets never reach a log or an error.
 */
#ifndef KY_WEBHOOK_SIGN_H
#define KY_WEBHOOK_SIGN_H

#include <stddef.h>
#include <stdint.h>

#define KY_WEBHOOK_SECRET_BYTES 32
/* "whsec_" and up to 64 bytes in base64, with its NUL. */
#define KY_WEBHOOK_SECRET_MAX 96
/* "v1," and 32 bytes in base64, with its NUL. */
#define KY_WEBHOOK_SIGNATURE_MAX 48
#define KY_WEBHOOK_HUB_KEY_BYTES 32
/* What ky_webhook_seal writes: a nonce, the secret, a tag. */
#define KY_WEBHOOK_SEALED_MAX (24 + KY_WEBHOOK_SECRET_MAX + 16)

/* A new secret into out (NUL-terminated). KY_ERROR when libsodium cannot start. */
int ky_webhook_secret_new(char out[KY_WEBHOOK_SECRET_MAX]);

/*
 * The signature header's value for one attempt, into out (NUL-terminated): `secret` as
 * ky_webhook_secret_new makes it (any "whsec_" secret of 24 to 64 bytes, as the scheme
 * allows), `id` the delivery's id (1 to 255 bytes, no '.'), `body` the bytes sent, exactly.
 * KY_EINVALID for a secret that is not one, or an id with a '.', saying which (never the
 * secret itself).
 */
int ky_webhook_sign(const char *secret, const char *id, int64_t timestamp, const char *body, size_t body_len,
		    char out[KY_WEBHOOK_SIGNATURE_MAX]);

/*
 * Seals `secret` under `hub_key` for endpoint `endpoint_id` into out[0..*out_len), and opens
 * it back into secret_out. KY_EINVALID when the sealed bytes were altered, belong to another
 * endpoint or another key.
 */
int ky_webhook_seal(const uint8_t hub_key[KY_WEBHOOK_HUB_KEY_BYTES], int64_t endpoint_id, const char *secret,
		    uint8_t out[KY_WEBHOOK_SEALED_MAX], size_t *out_len);
int ky_webhook_open(const uint8_t hub_key[KY_WEBHOOK_HUB_KEY_BYTES], int64_t endpoint_id, const uint8_t *sealed,
		    size_t sealed_len, char secret_out[KY_WEBHOOK_SECRET_MAX]);

#endif
