/*
 * test_webhook_sign: the Standard Webhooks signature against the scheme's published test
 * vector (the specification's reference libraries all test this one: secret
 * whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw, id msg_p5jXN8AQM9LWM0D4loKWxJek, timestamp
 * 1614265330, body {"test": 2432232314}), against Python's hmac for a secret of kyoyu's
 * making (computed here by hand, below), the refusals, and the sealing of secrets: a round
 * trip, and no opening with another endpoint's id, another key or one byte changed.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "util/ky_error.h"
#include "webhook/sign.h"

static void test_published_vector(void **state)
{
	(void)state;
	static const char body[] = "{\"test\": 2432232314}";
	char sig[KY_WEBHOOK_SIGNATURE_MAX];
	assert_int_equal(ky_webhook_sign("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "msg_p5jXN8AQM9LWM0D4loKWxJek",
					 1614265330, body, sizeof(body) - 1, sig),
			 KY_OK);
	assert_string_equal(sig, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
	/* One byte of the body, the id or the timestamp changed: another signature. */
	char other[KY_WEBHOOK_SIGNATURE_MAX];
	assert_int_equal(ky_webhook_sign("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "msg_p5jXN8AQM9LWM0D4loKWxJek",
					 1614265331, body, sizeof(body) - 1, other),
			 KY_OK);
	assert_string_not_equal(sig, other);
	assert_int_equal(ky_webhook_sign("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "msg_p5jXN8AQM9LWM0D4loKWxJeK",
					 1614265330, body, sizeof(body) - 1, other),
			 KY_OK);
	assert_string_not_equal(sig, other);
}

/* A body with a NUL inside is signed whole: its length is given, never measured. */
static void test_body_by_length(void **state)
{
	(void)state;
	/* /usr/bin/python3 -c 'import hmac,hashlib,base64; print(base64.b64encode(hmac.new(
	 * bytes(range(32)), b"d1.7.a\0b", hashlib.sha256).digest()).decode())' */
	static const char secret[] = "whsec_AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
	char sig[KY_WEBHOOK_SIGNATURE_MAX];
	assert_int_equal(ky_webhook_sign(secret, "d1", 7, "a\0b", 3, sig), KY_OK);
	assert_string_equal(sig, "v1,SSA+Gaf1E8wYf1wOrEzqvACfi+J3eS6dmWY3xE/muUw=");
}

static void test_refusals(void **state)
{
	(void)state;
	char sig[KY_WEBHOOK_SIGNATURE_MAX];
	assert_int_equal(ky_webhook_sign("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "m", 1, "", 0, sig), KY_EINVALID);
	assert_null(strstr(ky_error_last(), "MfKQ"));
	assert_int_equal(ky_webhook_sign("whsec_c2hvcnQ=", "m", 1, "", 0, sig), KY_EINVALID); /* 5 bytes */
	assert_int_equal(ky_webhook_sign("whsec_not base64!", "m", 1, "", 0, sig), KY_EINVALID);
	assert_int_equal(ky_webhook_sign("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "a.b", 1, "", 0, sig), KY_EINVALID);
	assert_int_equal(ky_webhook_sign("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "", 1, "", 0, sig), KY_EINVALID);
}

static void test_new_secrets(void **state)
{
	(void)state;
	char a[KY_WEBHOOK_SECRET_MAX], b[KY_WEBHOOK_SECRET_MAX], sig[KY_WEBHOOK_SIGNATURE_MAX];
	assert_int_equal(ky_webhook_secret_new(a), KY_OK);
	assert_int_equal(ky_webhook_secret_new(b), KY_OK);
	assert_memory_equal(a, "whsec_", 6);
	assert_int_equal(strlen(a), 6 + 44);
	assert_string_not_equal(a, b);
	assert_int_equal(ky_webhook_sign(a, "msg_1", 1, "{}", 2, sig), KY_OK);
}

static void test_sealing(void **state)
{
	(void)state;
	uint8_t key[KY_WEBHOOK_HUB_KEY_BYTES], other_key[KY_WEBHOOK_HUB_KEY_BYTES];
	memset(key, 7, sizeof(key));
	memset(other_key, 8, sizeof(other_key));
	static const char secret[] = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
	uint8_t sealed[KY_WEBHOOK_SEALED_MAX], again[KY_WEBHOOK_SEALED_MAX];
	size_t len = 0, again_len = 0;
	assert_int_equal(ky_webhook_seal(key, 42, secret, sealed, &len), KY_OK);
	assert_int_equal(len, 24 + strlen(secret) + 16);
	assert_null(memmem(sealed, len, "MfKQ", 4));
	/* A fresh nonce each time: the same secret never seals to the same bytes. */
	assert_int_equal(ky_webhook_seal(key, 42, secret, again, &again_len), KY_OK);
	assert_memory_not_equal(sealed, again, len);
	char opened[KY_WEBHOOK_SECRET_MAX];
	assert_int_equal(ky_webhook_open(key, 42, sealed, len, opened), KY_OK);
	assert_string_equal(opened, secret);
	assert_int_equal(ky_webhook_open(key, 43, sealed, len, opened), KY_EINVALID);
	assert_int_equal(ky_webhook_open(other_key, 42, sealed, len, opened), KY_EINVALID);
	for (size_t i = 0; i < len; i += 7) {
		sealed[i] ^= 1;
		assert_int_equal(ky_webhook_open(key, 42, sealed, len, opened), KY_EINVALID);
		sealed[i] ^= 1;
	}
	assert_int_equal(ky_webhook_open(key, 42, sealed, 10, opened), KY_EINVALID);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_published_vector), cmocka_unit_test(test_body_by_length),
		cmocka_unit_test(test_refusals),         cmocka_unit_test(test_new_secrets),
		cmocka_unit_test(test_sealing),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
