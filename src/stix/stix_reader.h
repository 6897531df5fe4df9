/*
 * stix_reader: reads STIX content one object at a time, in memory that does not grow with
 * the input.
 *
 * Accepted shapes: a bundle (`{"type": "bundle", ..., "objects": [...]}`), a JSON array of
 * objects, or a single object. The reader scans the outer structure itself, delimits each
 * element of the objects array (strings and escapes respected, nesting counted without
 * recursion) and hands exactly those bytes to jansson, so a 10 GB bundle is read with one
 * object's worth of buffer. An element that is not well-formed JSON is reported on its own
 * item and reading goes on; only a broken outer structure stops the stream.
 *
 * JSON is read strictly (RFC 8259 plus I-JSON, RFC 7493): invalid UTF-8, duplicate keys,
 * trailing garbage and integers beyond 64 bits are refused with their line and column.
 */
#ifndef KY_STIX_READER_H
#define KY_STIX_READER_H

#include <jansson.h>
#include <stddef.h>
#include <stdio.h>

typedef struct ky_stix_reader ky_stix_reader;

typedef enum ky_stix_shape {
	KY_STIX_SHAPE_UNKNOWN = 0, /* nothing read yet */
	KY_STIX_SHAPE_BUNDLE,      /* an object with an "objects" array */
	KY_STIX_SHAPE_ARRAY,       /* a bare JSON array of objects */
	KY_STIX_SHAPE_SINGLE,      /* one object */
} ky_stix_shape;

/* Default largest single object, in bytes; larger ones are refused (KY_ETOOBIG item). */
#define KY_STIX_READER_MAX_OBJECT_DEFAULT ((size_t)32 << 20)

typedef struct ky_stix_item {
	size_t index;       /* position in the objects array; 0 for a single object */
	size_t line;        /* 1-based line of the object's first byte in the input */
	size_t column;      /* 1-based column (in bytes) of that byte */
	const char *raw;    /* the object's bytes exactly as received; not NUL-terminated */
	size_t raw_len;
	json_t *object;     /* the parsed JSON object, or NULL when `error` is set */
	const char *error;  /* why the element is not a JSON object, with line and column; else NULL */
	int error_code;     /* KY_EINVALID or KY_ETOOBIG when `error` is set, else KY_OK */
} ky_stix_item;

/*
 * Creates a reader over `in`, which stays the caller's (borrowed for the reader's life;
 * not closed). `max_object` bounds one element's size (0 = the default). `source_name`
 * (borrowed, may be NULL) prefixes fatal messages, e.g. the file name.
 * Returns KY_OK or KY_ENOMEM.
 */
int ky_stix_reader_new(ky_stix_reader **out, FILE *in, size_t max_object, const char *source_name);

/*
 * Reads the next element. Returns 1 with `*item` filled, 0 at the clean end of the input,
 * or a negative code when the outer structure is broken or reading fails (KY_EINVALID,
 * KY_ETOOBIG, KY_ERROR; KY_ENOMEM when memory ran out, jansson's included, rather than an
 * element reported as not JSON), with the reason and position in ky_error_last(); no further items
 * follow an error. Everything in `*item` is owned by the reader and valid only until the
 * next call or ky_stix_reader_free(); json_incref() the object to keep it.
 * Not thread-safe: one reader, one thread.
 */
int ky_stix_reader_next(ky_stix_reader *r, ky_stix_item *item);

/* The shape detected so far. */
ky_stix_shape ky_stix_reader_shape(const ky_stix_reader *r);

/*
 * For a bundle, after ky_stix_reader_next() returned 0: the bundle's own properties, with
 * "objects" emptied (`[]`); a bundle without an objects list (STIX 2.1 §8 makes it optional:
 * an empty bundle) keeps what it had there, for ky_stix_validate_envelope() to judge. NULL for other shapes or
 * before the end. Borrowed from the reader.
 */
const json_t *ky_stix_reader_envelope(const ky_stix_reader *r);

/* Bytes the reader holds in its buffers now: bounded by the largest object plus a read
 * chunk, whatever the size of the input. For metrics and tests. */
size_t ky_stix_reader_footprint(const ky_stix_reader *r);

/* Bytes consumed from the input so far. */
unsigned long long ky_stix_reader_bytes(const ky_stix_reader *r);

/* Frees the reader and everything it lent; NULL does nothing. Does not close the input. */
void ky_stix_reader_free(ky_stix_reader *r);

#endif
