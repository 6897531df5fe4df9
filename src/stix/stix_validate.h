/*
 * stix_validate: strict STIX 2.1 validation of one object, or of a bundle's envelope.
 *
 * Checks what the standard requires (STIX 2.1 §2, §3, §4-§7, §11): the common properties by
 * object category, then the required and constrained properties of every type, its
 * enumerations, references, timestamps and cross-property rules. What real producers send is
 * valid when the standard says so: references to objects not at hand, custom object types and
 * properties, extensions. Open vocabularies accept any string; enumerations do not.
 *
 * Problems are collected, not just the first: each is one line naming the field and what
 * was expected, e.g.
 *     valid_from: "2024-13-01" is not an RFC 3339 timestamp (STIX 2.1 §2.16)
 * The caller prefixes the object's position and id.
 */
#ifndef KY_STIX_VALIDATE_H
#define KY_STIX_VALIDATE_H

#include <jansson.h>
#include <stddef.h>

/* A list of problem messages. */
typedef struct ky_stix_problems ky_stix_problems;

/* At most this many problems are kept per object; further ones are counted, not kept. */
#define KY_STIX_PROBLEMS_MAX 32

/* Returns KY_OK or KY_ENOMEM. The caller owns *out and frees it with ky_stix_problems_free. */
int ky_stix_problems_new(ky_stix_problems **out);
void ky_stix_problems_free(ky_stix_problems *p);
/* Empties the list for reuse. */
void ky_stix_problems_clear(ky_stix_problems *p);
/* Number of problems found, including those beyond KY_STIX_PROBLEMS_MAX. */
size_t ky_stix_problems_count(const ky_stix_problems *p);
/* Number of messages kept (≤ KY_STIX_PROBLEMS_MAX). */
size_t ky_stix_problems_kept(const ky_stix_problems *p);
/* Message i (< kept); borrowed, valid until the list is cleared or freed. */
const char *ky_stix_problems_get(const ky_stix_problems *p, size_t i);
/* Appends a message (printf-style) as it is. Returns KY_OK or KY_ENOMEM. */
int ky_stix_problems_add(ky_stix_problems *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/*
 * Validates one STIX 2.1 object. Appends one message per problem to `problems`.
 * Returns KY_OK when the object is valid, KY_EINVALID when at least one problem was added,
 * KY_ENOMEM if memory ran out (the verdict is then unknown). `object` is borrowed.
 * Thread-safe for distinct problem lists: the type tables are read-only.
 */
int ky_stix_validate_object(ky_stix_problems *problems, const json_t *object);

/*
 * Validates a bundle's own properties (STIX 2.1 §8): type "bundle", an id of type bundle,
 * "objects" a list. `envelope` is what ky_stix_reader_envelope() returns.
 * Same returns as ky_stix_validate_object().
 */
int ky_stix_validate_envelope(ky_stix_problems *problems, const json_t *envelope);

#endif
