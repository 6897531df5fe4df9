/*
 * ky_error: status codes and the thread-local message that goes with them.
 *
 * Every kyoyu function that can fail returns an int status: KY_OK (0) or one of the
 * negative codes below, and leaves a message a person can act on (which object, which
 * field, what was expected) in a thread-local slot that ky_error_last() reads. The model
 * is libgit2's docs/error-handling.md: the code is for programs, the message for people.
 */
#ifndef KY_ERROR_H
#define KY_ERROR_H

#include <stdarg.h>

enum {
	KY_OK = 0,
	KY_ERROR = -1,      /* generic failure: I/O, out of memory, a library error */
	KY_ENOTFOUND = -2,  /* the thing asked for does not exist */
	KY_EINVALID = -3,   /* the input is malformed or breaks a rule */
	KY_ETOOBIG = -4,    /* the input is over a configured limit */
	KY_EDENIED = -5,    /* the caller may not do this */
	KY_ECONFLICT = -6,  /* the change conflicts with what exists */
	KY_ENOMEM = -7,     /* an allocation failed */
};

/*
 * Records `code` with a printf-style message for this thread and returns `code`, so that
 * `return ky_error_set(KY_EINVALID, "...")` both reports and propagates. The message is
 * truncated at KY_ERROR_MAX bytes. Thread-safe: each thread has its own slot.
 */
#define KY_ERROR_MAX 1024
int ky_error_set(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* The message of this thread's last ky_error_set(), or "" if none. Borrowed: valid until
 * the next ky_error_set() or ky_error_clear() on this thread. */
const char *ky_error_last(void);

/* The code of this thread's last ky_error_set(), or KY_OK. */
int ky_error_last_code(void);

void ky_error_clear(void);

/* A short name for a status code ("invalid", "not found", ...); never NULL. */
const char *ky_error_name(int code);

#endif
