/*
 * ky_uuid: random (version 4) UUIDs, RFC 4122 §4.4, for the ids kyoyu makes: bundles,
 * collections, and later the objects it writes itself.
 */
#ifndef KY_UUID_H
#define KY_UUID_H

/* Writes a random UUID in its 36-character lowercase form and a NUL into out. Returns KY_OK,
 * or KY_ERROR when the system has no randomness to give. Thread-safe. */
int ky_uuid4(char out[37]);

#endif
