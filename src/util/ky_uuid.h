/*
 * ky_uuid: random (version 4) UUIDs, RFC 4122 §4.4, for the ids kyoyu makes: bundles,
 * collections, and later the objects it writes itself; and UUIDs of the same form derived
 * under a key, for ids every process of a hub must agree on without storing them (audiences,
 * pseudonyms).
 */
#include <stddef.h>
#include <stdint.h>

#ifndef KY_UUID_H
#define KY_UUID_H

/* Writes a random UUID in its 36-character lowercase form and a NUL into out. Returns KY_OK,
 * or KY_ERROR when the system has no randomness to give. Thread-safe. */
int ky_uuid4(char out[37]);

/* Writes into out the UUID derived from data[0..len) under key (keyed BLAKE2b, with the
 * version 4 and RFC 4122 variant bits set, so that it looks like any random UUID): the same
 * for the same key and data, and nothing about the data without the key. libsodium must be
 * initialised (sodium_init). */
void ky_uuid_keyed(const uint8_t key[32], const void *data, size_t len, char out[37]);

#endif
