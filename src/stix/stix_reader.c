/*
 * stix_reader: the streaming reader behind ky_stix_reader_next().
 *
 * The reader never parses the whole input. It scans the outer structure byte by byte and
 * delimits each element of the objects array; jansson then parses exactly that slice.
 * For the input
 *
 *     {"type": "bundle", "id": "bundle--…", "objects": [ {"type": "indicator", …}, {…} ]}
 *
 * the scan keeps the bytes of the top-level object (the "envelope") while it reads the
 * keys before "objects", copies them out when it meets the '[' of the objects array,
 * delimits and hands out one element at a time (the buffer then holds only that element),
 * and after the closing ']' keeps the rest of the envelope again. The envelope is parsed at
 * the end as `{"type": "bundle", "id": "bundle--…", "objects": []}`. A top-level object with
 * no objects array is a single STIX object: its kept bytes are that object exactly.
 *
 * Brackets are matched with an explicit stack, not recursion, so nesting cannot overflow
 * the C stack; nesting deeper than MAX_DEPTH is refused as too big.
 */
#include "stix/stix_reader.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "stix/stix_schema.h"
#include "stix/stix_text.h"
#include "util/ky_error.h"
#include "util/ky_utf8.h"

#define CHUNK ((size_t)64 << 10)
#define MAX_DEPTH 10000
#define END_OF_INPUT (-1)
#define READ_FAILED (-2)
#define OVER_LIMIT (-3)  /* the top-level object outgrew max_object */

/* What a refill may drop of the bytes already scanned. */
typedef enum bound {
	BOUND_SKIP,      /* between values: nothing scanned is needed */
	BOUND_ELEMENT,   /* an objects-array element: kept up to max_object, then skipped */
	BOUND_ENVELOPE,  /* the top-level object: kept, and over max_object it is an error */
} bound;

typedef enum state {
	ST_START,          /* before the first byte of the top-level value */
	ST_TOP_KEY,        /* in the top-level object, expecting a key or '}' */
	ST_TOP_NEXT,       /* in the top-level object, after a value: ',' or '}' */
	ST_ARRAY_FIRST,    /* just after '[' of the objects array: element or ']' */
	ST_ARRAY_ELEMENT,  /* after ',' in the objects array: an element must follow */
	ST_ARRAY_NEXT,     /* after an element: ',' or ']' */
	ST_TRAILER,        /* top-level value complete: only whitespace may follow */
	ST_DONE,
	ST_FAILED,
} state;

struct ky_stix_reader {
	FILE *in;
	const char *source;
	size_t max_object;

	char *buf;             /* buf[0..len) holds input not yet discarded */
	size_t cap, len, pos;  /* pos: next byte to scan */
	size_t keep;           /* bytes from buf[keep] on must survive a refill */
	bool eof;
	unsigned long long discarded; /* input bytes dropped before buf[0] */
	size_t line, column;   /* position of buf[pos] */

	bound bound;
	bool too_big;          /* the element being scanned went over max_object */
	state st;
	ky_stix_shape shape;
	bool seen_objects;
	size_t index;

	char *env;             /* the envelope's bytes, objects array emptied */
	size_t env_len, env_cap;
	size_t env_line, env_column;
	json_t *envelope;

	unsigned char *stack;  /* open brackets of the value being scanned */
	size_t stack_cap;

	json_t *current;
	char message[640];
};

/* Bytes held for the value being scanned, counting the envelope already set aside. */
static size_t held(const ky_stix_reader *r)
{
	return r->pos - r->keep + (r->bound == BOUND_ENVELOPE ? r->env_len : 0);
}

/*
 * Refills the buffer; called when every byte in it has been scanned. This is where memory
 * would grow, so the bound is applied here: a huge string inside an element cannot make the
 * reader hold more than max_object plus a chunk.
 */
static int read_more(ky_stix_reader *r)
{
	if (r->eof)
		return END_OF_INPUT;
	if (r->bound == BOUND_SKIP) {
		r->keep = r->pos;
	} else if (held(r) > r->max_object) {
		if (r->bound == BOUND_ENVELOPE)
			return OVER_LIMIT;
		r->too_big = true;
		r->keep = r->pos;
	}
	/* Drop what no one needs any more, then make room for a chunk. */
	if (r->keep > 0) {
		memmove(r->buf, r->buf + r->keep, r->len - r->keep);
		r->discarded += r->keep;
		r->len -= r->keep;
		r->pos -= r->keep;
		r->keep = 0;
	}
	if (r->cap - r->len < CHUNK) {
		size_t cap = r->cap ? r->cap * 2 : CHUNK * 2;
		while (cap - r->len < CHUNK)
			cap *= 2;
		char *grown = realloc(r->buf, cap);
		if (grown == NULL)
			return READ_FAILED;
		r->buf = grown;
		r->cap = cap;
	}
	size_t got = fread(r->buf + r->len, 1, CHUNK, r->in);
	if (got == 0) {
		if (ferror(r->in))
			return READ_FAILED;
		r->eof = true;
		return END_OF_INPUT;
	}
	r->len += got;
	return 0;
}

/* The byte at pos without consuming it, or END_OF_INPUT, READ_FAILED, OVER_LIMIT. */
static inline int peek(ky_stix_reader *r)
{
	if (r->pos >= r->len) {
		int rc = read_more(r);
		if (rc < 0)
			return rc;
	}
	return (unsigned char)r->buf[r->pos];
}

static inline void advance(ky_stix_reader *r)
{
	if (r->buf[r->pos] == '\n') {
		r->line++;
		r->column = 1;
	} else {
		r->column++;
	}
	r->pos++;
}

/* Room for the source name in a message. */
#define SOURCE_SIZE 1024
/* Room for jansson's error text with every byte escaped. */
#define JSON_TEXT_SIZE (4 * JSON_ERROR_TEXT_LENGTH)

/* "NAME: " or "": the source name as messages show it. A file name may be any bytes, and a
 * message must stay valid UTF-8 (stix_text.h). */
static const char *source_prefix(const ky_stix_reader *r, char *buf, size_t size)
{
	if (r->source == NULL)
		return "";
	ky_stix_excerpt(buf, size - 2, r->source, strlen(r->source));
	strcat(buf, ": ");
	return buf;
}

/* jansson's error text as messages show it: it quotes the input near the error. */
static const char *json_text(const json_error_t *err, char *buf, size_t size)
{
	return ky_stix_excerpt(buf, size, err->text, strnlen(err->text, sizeof(err->text)));
}

/* jansson's allocations, with those that fail counted per thread: jansson 2.14 reports
 * some of its own failures as bad JSON ("invalid token near ..." when its copy of a string
 * token cannot be made) and returns others without any message, so the reader asks this
 * counter, not the message, whether a parse ran out of memory. Installed before main, and
 * so before any thread or JSON value exists, for the whole process. */
static _Thread_local unsigned long json_alloc_failures;

static void *json_alloc(size_t size)
{
	void *p = malloc(size);
	if (p == NULL)
		json_alloc_failures++;
	return p;
}

__attribute__((constructor)) static void json_alloc_install(void)
{
	json_set_alloc_funcs(json_alloc, free);
}

/* Whether jansson ran out of memory since the count was `before`: then the parse is
 * worth nothing, even one that returned a value, since jansson's lexer drops a byte it
 * cannot save. */
static bool json_out_of_memory(unsigned long before)
{
	return json_alloc_failures != before;
}

static int fail(ky_stix_reader *r, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int fail(ky_stix_reader *r, int code, const char *fmt, ...)
{
	char what[512], source[SOURCE_SIZE];
	va_list ap;
	va_start(ap, fmt);
	if (vsnprintf(what, sizeof(what), fmt, ap) >= (int)sizeof(what))
		what[ky_utf8_prefix(what, sizeof(what) - 1, sizeof(what) - 1)] = '\0';
	va_end(ap);
	r->st = ST_FAILED;
	return ky_error_set(code, "%sline %zu column %zu: %s", source_prefix(r, source, sizeof(source)), r->line,
			    r->column, what);
}

static int fail_read(ky_stix_reader *r, int c)
{
	if (c == READ_FAILED)
		return fail(r, KY_ERROR, "cannot read input: %s", strerror(errno));
	if (c == OVER_LIMIT)
		return fail(r, KY_ETOOBIG, "the top-level object is larger than the limit of %zu bytes", r->max_object);
	return fail(r, KY_EINVALID, "unexpected end of input");
}

static void describe(char *out, size_t size, int c)
{
	if (c == END_OF_INPUT)
		snprintf(out, size, "end of input");
	else if (c >= 0x20 && c < 0x7f)
		snprintf(out, size, "'%c'", c);
	else
		snprintf(out, size, "byte 0x%02x", c);
}

/* Fails with "expected <what>, found <c>", or the read error that c stands for. */
static int unexpected(ky_stix_reader *r, int c, const char *what)
{
	char seen[32];
	if (c == READ_FAILED || c == OVER_LIMIT)
		return fail_read(r, c);
	describe(seen, sizeof(seen), c);
	return fail(r, KY_EINVALID, "expected %s, found %s", what, seen);
}

static int skip_space(ky_stix_reader *r)
{
	for (;;) {
		int c = peek(r);
		if (c != ' ' && c != '\t' && c != '\n' && c != '\r')
			return c;
		advance(r);
	}
}

static int env_append(ky_stix_reader *r, const char *bytes, size_t n)
{
	if (r->env_len + n > r->max_object)
		return fail(r, KY_ETOOBIG, "the top-level object is larger than the limit of %zu bytes", r->max_object);
	if (r->env_len + n + 1 > r->env_cap) {
		size_t cap = r->env_cap ? r->env_cap : 4096;
		while (cap < r->env_len + n + 1)
			cap *= 2;
		char *grown = realloc(r->env, cap);
		if (grown == NULL)
			return fail(r, KY_ENOMEM, "out of memory");
		r->env = grown;
		r->env_cap = cap;
	}
	memcpy(r->env + r->env_len, bytes, n);
	r->env_len += n;
	r->env[r->env_len] = '\0';
	return KY_OK;
}

/* Moves the kept envelope bytes buf[keep..pos) into env and stops keeping them. */
static int env_flush(ky_stix_reader *r)
{
	int rc = env_append(r, r->buf + r->keep, r->pos - r->keep);
	r->keep = r->pos;
	r->bound = BOUND_SKIP;
	return rc;
}

/* Scans past a string whose opening quote is at pos. Most of a bundle's bytes are in
 * strings, so the plain run up to the next quote, backslash or newline is skipped in one
 * tight loop rather than byte by byte through peek(). */
static int scan_string(ky_stix_reader *r)
{
	advance(r);
	for (;;) {
		int c = peek(r);
		if (c < 0)
			return fail_read(r, c);
		const char *p = r->buf + r->pos, *end = r->buf + r->len;
		while (p < end && *p != '"' && *p != '\\' && *p != '\n')
			p++;
		size_t run = (size_t)(p - (r->buf + r->pos));
		r->pos += run;
		r->column += run;
		if (p == end)
			continue;
		c = (unsigned char)*p;
		advance(r);
		if (c == '"')
			return KY_OK;
		if (c == '\\') {
			c = peek(r);
			if (c < 0)
				return fail_read(r, c);
			advance(r);
		}
	}
}

static int stack_push(ky_stix_reader *r, size_t depth, unsigned char open)
{
	if (depth >= MAX_DEPTH)
		return fail(r, KY_ETOOBIG, "nesting deeper than %d levels", MAX_DEPTH);
	if (depth >= r->stack_cap) {
		size_t cap = r->stack_cap ? r->stack_cap * 2 : 64;
		unsigned char *grown = realloc(r->stack, cap);
		if (grown == NULL)
			return fail(r, KY_ENOMEM, "out of memory");
		r->stack = grown;
		r->stack_cap = cap;
	}
	r->stack[depth] = open;
	return KY_OK;
}

/*
 * Scans past one JSON value starting at pos. Content errors inside it (bad literals, bad
 * UTF-8, duplicate keys) are left to jansson; only what decides where the value ends is
 * checked here. The reader's bound says what happens past max_object: an element is skipped
 * with its bytes dropped as they are read (r->too_big tells so), the envelope fails.
 */
static int scan_value(ky_stix_reader *r)
{
	size_t depth = 0;
	unsigned long long start = r->discarded + r->pos;
	int rc;

	do {
		int c = peek(r);
		if (c < 0)
			return fail_read(r, c);
		if (held(r) >= r->max_object) {
			if (r->bound == BOUND_ENVELOPE)
				return fail_read(r, OVER_LIMIT);
			r->too_big = true;
			r->keep = r->pos;
		}
		switch (c) {
		case '"':
			if ((rc = scan_string(r)) < 0)
				return rc;
			continue;
		case '{':
		case '[':
			if ((rc = stack_push(r, depth, (unsigned char)c)) < 0)
				return rc;
			depth++;
			advance(r);
			continue;
		case '}':
		case ']':
			if (depth == 0 || r->stack[depth - 1] != (c == '}' ? '{' : '['))
				return fail(r, KY_EINVALID, "'%c' does not close an open '%c'", c, c == '}' ? '{' : '[');
			depth--;
			advance(r);
			continue;
		default:
			break;
		}
		if (depth == 0) {
			/* A scalar ends at the first byte that cannot continue it. */
			while (c >= 0 && c != ',' && c != ']' && c != '}' && c != ' ' && c != '\t' && c != '\n' && c != '\r') {
				advance(r);
				c = peek(r);
			}
			if (c == READ_FAILED || c == OVER_LIMIT)
				return fail_read(r, c);
			if (r->discarded + r->pos == start)
				return fail(r, KY_EINVALID, "expected a JSON value");
			break;
		}
		advance(r);
	} while (depth > 0);
	/* The last bytes may have crossed the limit without another turn of the loop. */
	if (held(r) > r->max_object) {
		if (r->bound == BOUND_ENVELOPE)
			return fail_read(r, OVER_LIMIT);
		r->too_big = true;
	}
	return KY_OK;
}

/* Parses bytes[0..n) as one object into r->current, or explains in r->message. KY_ENOMEM
 * fails the stream: an element jansson had no memory for is not known to be bad. */
static int parse_element(ky_stix_reader *r, ky_stix_item *item, const char *bytes, size_t n)
{
	json_error_t err;
	unsigned long failures = json_alloc_failures;
	json_t *value = json_loadb(bytes, n, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &err);
	if (json_out_of_memory(failures)) {
		json_decref(value);
		return fail(r, KY_ENOMEM, "out of memory parsing the object that starts at line %zu column %zu", item->line,
			    item->column);
	}
	if (value == NULL) {
		/* jansson counts from the slice; translate to the input's lines and columns. */
		size_t line = err.line > 1 ? item->line + (size_t)err.line - 1 : item->line;
		size_t column = err.line > 1 ? (size_t)err.column : item->column + (size_t)(err.column > 0 ? err.column - 1 : 0);
		char text[JSON_TEXT_SIZE];
		if (snprintf(r->message, sizeof(r->message), "line %zu column %zu: %s", line, column,
			     json_text(&err, text, sizeof(text))) >= (int)sizeof(r->message))
			r->message[ky_utf8_prefix(r->message, sizeof(r->message) - 1, sizeof(r->message) - 1)] = '\0';
		item->error = r->message;
		item->error_code = KY_EINVALID;
		return KY_OK;
	}
	if (!json_is_object(value)) {
		snprintf(r->message, sizeof(r->message), "line %zu column %zu: expected a JSON object, found %s",
			 item->line, item->column, ky_stix_json_kind(value));
		json_decref(value);
		item->error = r->message;
		item->error_code = KY_EINVALID;
		return KY_OK;
	}
	r->current = value;
	item->object = value;
	return KY_OK;
}

/* Reads one element of the objects array into *item. */
static int read_element(ky_stix_reader *r, ky_stix_item *item)
{
	memset(item, 0, sizeof(*item));
	item->index = r->index++;
	item->line = r->line;
	item->column = r->column;
	/* The element's bytes stay pinned from here; a refill moves them but keeps them. */
	r->keep = r->pos;
	r->bound = BOUND_ELEMENT;
	r->too_big = false;
	int rc = scan_value(r);
	r->bound = BOUND_SKIP;
	if (rc < 0)
		return rc;
	if (r->too_big) {
		snprintf(r->message, sizeof(r->message),
			 "line %zu column %zu: the object is larger than the limit of %zu bytes", item->line,
			 item->column, r->max_object);
		item->error = r->message;
		item->error_code = KY_ETOOBIG;
		return 1;
	}
	item->raw = r->buf + r->keep;
	item->raw_len = r->pos - r->keep;
	return parse_element(r, item, item->raw, item->raw_len) == KY_OK ? 1 : KY_ENOMEM;
}

static int decode_key(ky_stix_reader *r, const char *bytes, size_t n, bool *is_objects)
{
	json_error_t err;
	unsigned long failures = json_alloc_failures;
	json_t *key = json_loadb(bytes, n, JSON_DECODE_ANY, &err);
	if (json_out_of_memory(failures)) {
		json_decref(key);
		return fail(r, KY_ENOMEM, "out of memory");
	}
	if (key == NULL) {
		char text[JSON_TEXT_SIZE];
		return fail(r, KY_EINVALID, "bad key in the top-level object: %s", json_text(&err, text, sizeof(text)));
	}
	*is_objects = strcmp(json_string_value(key), "objects") == 0;
	json_decref(key);
	return KY_OK;
}

/* Parses the envelope kept in env. */
static int finish_top_object(ky_stix_reader *r)
{
	json_error_t err;
	unsigned long failures = json_alloc_failures;
	json_t *value = json_loadb(r->env, r->env_len, JSON_REJECT_DUPLICATES, &err);
	if (json_out_of_memory(failures)) {
		json_decref(value);
		return fail(r, KY_ENOMEM, "out of memory");
	}
	if (value == NULL) {
		size_t line = err.line > 1 ? r->env_line + (size_t)err.line - 1 : r->env_line;
		char text[JSON_TEXT_SIZE], source[SOURCE_SIZE];
		r->st = ST_FAILED;
		return ky_error_set(KY_EINVALID, "%sline %zu: the top-level object is not valid JSON: %s",
				    source_prefix(r, source, sizeof(source)), line, json_text(&err, text, sizeof(text)));
	}
	r->envelope = value;
	return KY_OK;
}

int ky_stix_reader_new(ky_stix_reader **out, FILE *in, size_t max_object, const char *source_name)
{
	ky_stix_reader *r = calloc(1, sizeof(*r));
	*out = NULL;
	if (r == NULL)
		return ky_error_set(KY_ENOMEM, "out of memory");
	r->in = in;
	r->source = source_name;
	r->max_object = max_object ? max_object : KY_STIX_READER_MAX_OBJECT_DEFAULT;
	r->line = 1;
	r->column = 1;
	r->st = ST_START;
	*out = r;
	return KY_OK;
}

int ky_stix_reader_next(ky_stix_reader *r, ky_stix_item *item)
{
	int c, rc;

	json_decref(r->current);
	r->current = NULL;
	memset(item, 0, sizeof(*item));

	for (;;) {
		switch (r->st) {
		case ST_START:
			c = peek(r);
			/* A UTF-8 byte order mark is tolerated (RFC 8259 §8.1 lets parsers ignore it). */
			if (c == 0xEF && r->pos == 0) {
				while (r->len < 3 && !r->eof && read_more(r) == 0)
					;
				if (r->len >= 3 && memcmp(r->buf, "\xEF\xBB\xBF", 3) == 0)
					r->pos = 3;
			}
			c = skip_space(r);
			if (c == '[') {
				r->shape = KY_STIX_SHAPE_ARRAY;
				advance(r);
				r->keep = r->pos;
				r->st = ST_ARRAY_FIRST;
			} else if (c == '{') {
				r->env_line = r->line;
				r->env_column = r->column;
				r->keep = r->pos;
				r->bound = BOUND_ENVELOPE;
				advance(r);
				r->st = ST_TOP_KEY;
			} else if (c == END_OF_INPUT) {
				return fail(r, KY_EINVALID,
					    "empty input: expected a STIX bundle, a JSON array of objects or one object");
			} else {
				return unexpected(r, c, "a STIX bundle, a JSON array of objects or one object ('{' or '[')");
			}
			break;

		case ST_TOP_KEY: {
			c = skip_space(r);
			if (c == '}') {
				advance(r);
				if ((rc = env_flush(r)) < 0)
					return rc;
				r->st = ST_TRAILER;
				break;
			}
			if (c != '"')
				return unexpected(r, c, "a property name in quotes or '}'");
			/* Offsets from keep survive a refill, which moves the kept bytes to the front. */
			size_t key_offset = r->pos - r->keep;
			if ((rc = scan_string(r)) < 0)
				return rc;
			bool is_objects = false;
			if ((rc = decode_key(r, r->buf + r->keep + key_offset, r->pos - r->keep - key_offset, &is_objects)) < 0)
				return rc;
			c = skip_space(r);
			if (c != ':')
				return unexpected(r, c, "':' after a property name");
			advance(r);
			c = skip_space(r);
			if (is_objects && c == '[' && !r->seen_objects) {
				r->seen_objects = true;
				r->shape = KY_STIX_SHAPE_BUNDLE;
				advance(r);
				if ((rc = env_flush(r)) < 0)
					return rc;
				r->st = ST_ARRAY_FIRST;
				break;
			}
			if ((rc = scan_value(r)) < 0)
				return rc;
			r->st = ST_TOP_NEXT;
			break;
		}

		case ST_TOP_NEXT:
			c = skip_space(r);
			if (c == ',') {
				advance(r);
				r->st = ST_TOP_KEY;
			} else if (c == '}') {
				advance(r);
				if ((rc = env_flush(r)) < 0)
					return rc;
				r->st = ST_TRAILER;
			} else {
				return unexpected(r, c, "',' or '}' in the top-level object");
			}
			break;

		case ST_ARRAY_FIRST:
		case ST_ARRAY_ELEMENT:
			c = skip_space(r);
			if (c == ']' && r->st == ST_ARRAY_FIRST) {
				r->st = ST_ARRAY_NEXT;
				break;
			}
			if (c == ']' || c == ',' || c < 0)
				return unexpected(r, c, "an object in the objects array");
			r->st = ST_ARRAY_NEXT;
			return read_element(r, item);

		case ST_ARRAY_NEXT:
			c = skip_space(r);
			if (c == ',') {
				advance(r);
				r->st = ST_ARRAY_ELEMENT;
			} else if (c == ']') {
				advance(r);
				r->keep = r->pos - 1; /* the envelope resumes with this ']' */
				r->bound = r->shape == KY_STIX_SHAPE_BUNDLE ? BOUND_ENVELOPE : BOUND_SKIP;
				r->st = r->shape == KY_STIX_SHAPE_BUNDLE ? ST_TOP_NEXT : ST_TRAILER;
			} else {
				return unexpected(r, c, "',' or ']' after an object");
			}
			break;

		case ST_TRAILER:
			c = skip_space(r);
			if (c != END_OF_INPUT)
				return unexpected(r, c, "nothing after the end of the top-level value");
			r->st = ST_DONE;
			if (r->shape == KY_STIX_SHAPE_ARRAY)
				return 0;
			if ((rc = finish_top_object(r)) < 0)
				return rc;
			/* STIX 2.1 §8: objects is optional (a bundle with nothing to carry omits it, as
			 * the schema wants no empty list); such a bundle is empty, not a lone object. */
			const char *type = json_string_value(json_object_get(r->envelope, "type"));
			if (r->shape != KY_STIX_SHAPE_BUNDLE && type != NULL && strcmp(type, "bundle") == 0)
				r->shape = KY_STIX_SHAPE_BUNDLE;
			if (r->shape == KY_STIX_SHAPE_BUNDLE)
				return 0;
			/* No objects array: the top-level object is itself the one STIX object. */
			r->shape = KY_STIX_SHAPE_SINGLE;
			item->index = 0;
			item->line = r->env_line;
			item->column = r->env_column;
			item->raw = r->env;
			item->raw_len = r->env_len;
			item->object = r->envelope;
			r->current = r->envelope;
			r->envelope = NULL;
			return 1;

		case ST_DONE:
			return 0;

		case ST_FAILED:
			return ky_error_last_code() < 0 ? ky_error_last_code() : KY_ERROR;
		}
	}
}

ky_stix_shape ky_stix_reader_shape(const ky_stix_reader *r)
{
	return r->shape;
}

const json_t *ky_stix_reader_envelope(const ky_stix_reader *r)
{
	return r->st == ST_DONE && r->shape == KY_STIX_SHAPE_BUNDLE ? r->envelope : NULL;
}

size_t ky_stix_reader_footprint(const ky_stix_reader *r)
{
	return r->cap + r->env_cap + r->stack_cap;
}

unsigned long long ky_stix_reader_bytes(const ky_stix_reader *r)
{
	return r->discarded + r->pos;
}

void ky_stix_reader_free(ky_stix_reader *r)
{
	if (r == NULL)
		return;
	json_decref(r->current);
	json_decref(r->envelope);
	free(r->buf);
	free(r->env);
	free(r->stack);
	free(r);
}
