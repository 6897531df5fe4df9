/*
 * ky_error: the thread-local last-error slot behind ky_error_set() and ky_error_last().
 */
#include "util/ky_error.h"

#include <stdio.h>
#include <string.h>

#include "util/ky_utf8.h"

static _Thread_local char last_message[KY_ERROR_MAX];
static _Thread_local int last_code;

int ky_error_set(int code, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(last_message, sizeof(last_message), fmt, ap);
	va_end(ap);
	/* A long message is cut at a character boundary, never inside one. */
	if (n >= (int)sizeof(last_message)) {
		size_t len = sizeof(last_message) - 1;
		last_message[ky_utf8_prefix(last_message, len, len)] = '\0';
	}
	last_code = code;
	return code;
}

int ky_error_recode(int code)
{
	last_code = code;
	return code;
}

const char *ky_error_last(void)
{
	return last_message;
}

int ky_error_last_code(void)
{
	return last_code;
}

void ky_error_clear(void)
{
	last_message[0] = '\0';
	last_code = KY_OK;
}

const char *ky_error_name(int code)
{
	switch (code) {
	case KY_OK: return "ok";
	case KY_ENOTFOUND: return "not found";
	case KY_EINVALID: return "invalid";
	case KY_ETOOBIG: return "too big";
	case KY_EDENIED: return "denied";
	case KY_ENOMEM: return "out of memory";
	case KY_EUNAUTHENTICATED: return "unauthenticated";
	case KY_EMETHOD: return "method not allowed";
	case KY_ENOTACCEPTABLE: return "not acceptable";
	case KY_EMEDIATYPE: return "unsupported media type";
	case KY_ETOOMANY: return "too many requests";
	case KY_EUNAVAILABLE: return "unavailable";
	case KY_EURITOOLONG: return "target too long";
	case KY_EHEADERSTOOBIG: return "headers too big";
	case KY_EBUSY: return "busy";
	case KY_EEXISTS: return "exists";
	case KY_ESCHEMA: return "schema mismatch";
	case KY_ESTALE: return "claim taken over";
	case KY_EINUSE: return "address in use";
	case KY_ECONFLICT: return "conflict";
	default: return "error";
	}
}
