/*
 * ky_uuid: version 4 UUIDs from getrandom(): 122 random bits, the version and the RFC 4122
 * variant set in their places; keyed ones from BLAKE2b (libsodium) in the same form.
 */
#include "util/ky_uuid.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sodium.h>
#include <sys/random.h>

#include "util/ky_error.h"

static void format(unsigned char b[16], char out[37])
{
	b[6] = (unsigned char)((b[6] & 0x0F) | 0x40);
	b[8] = (unsigned char)((b[8] & 0x3F) | 0x80);
	snprintf(out, 37, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", b[0], b[1], b[2],
		 b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14], b[15]);
}

int ky_uuid4(char out[37])
{
	unsigned char b[16];
	if (getrandom(b, sizeof(b), 0) != (ssize_t)sizeof(b))
		return ky_error_set(KY_ERROR, "cannot read random bytes for a UUID: %s", strerror(errno));
	format(b, out);
	return KY_OK;
}

void ky_uuid_keyed(const uint8_t key[32], const void *data, size_t len, char out[37])
{
	unsigned char b[16];
	crypto_generichash(b, sizeof(b), data, len, key, 32);
	format(b, out);
}
