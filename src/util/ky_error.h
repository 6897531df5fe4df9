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
	KY_ENOMEM = -7,     /* an allocation failed */
	/* What a request to the server can fail with besides the above; src/http/http_status.c
	 * turns every code into an HTTP status and an error body. */
	KY_EUNAUTHENTICATED = -8, /* no credentials, or wrong ones */
	KY_EMETHOD = -9,          /* the resource does not take this method */
	KY_ENOTACCEPTABLE = -10,  /* the Accept header admits nothing the resource is served as */
	KY_EMEDIATYPE = -11,      /* the body is not of a media type the resource takes */
	KY_ETOOMANY = -12,        /* too many requests (or failures) from this client lately */
	KY_EUNAVAILABLE = -13,    /* the hub's database cannot be reached */
	KY_EURITOOLONG = -14,     /* the request's target is over the server's limit */
	KY_EHEADERSTOOBIG = -15,  /* the request's headers are over the server's limit */
	/* What used to be one "conflict", one thing each. */
	KY_EBUSY = -16,     /* another writer holds the lock past the timeout, or a deadlock or
			     * serialisation race rolled the transaction back: try again */
	KY_EEXISTS = -17,   /* what is to be made exists already (a name, an id, a key) */
	KY_ESCHEMA = -18,   /* the hub's schema is not this build's (migrate, or a newer kyoyu) */
	KY_ESTALE = -19,    /* the claim this write was made under was taken over by another */
	KY_EINUSE = -20,    /* the address to listen on is taken */
	KY_ECONFLICT = -21, /* the request contradicts the state it meets (rules accepted at a
			     * version no longer in force, the last secretariat suspended) */
};

/*
 * Records `code` with a printf-style message for this thread and returns `code`, so that
 * `return ky_error_set(KY_EINVALID, "...")` both reports and propagates. The message is
 * truncated at KY_ERROR_MAX bytes, at a character boundary. Thread-safe: each thread has its own slot.
 */
#define KY_ERROR_MAX 1024
int ky_error_set(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Changes the code of this thread's last error to `code`, keeping its message, and returns
 * `code`: for a caller that reclassifies a failure it passes on (a store failure becomes the
 * request's "unavailable"). */
int ky_error_recode(int code);

/* The message of this thread's last ky_error_set(), or "" if none. Borrowed: valid until
 * the next ky_error_set() or ky_error_clear() on this thread. */
const char *ky_error_last(void);

/* The code of this thread's last ky_error_set(), or KY_OK. */
int ky_error_last_code(void);

void ky_error_clear(void);

/* A short name for a status code ("invalid", "not found", ...); never NULL. */
const char *ky_error_name(int code);

#endif
