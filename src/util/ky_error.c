/*
 * ky_error: the thread-local last-error slot behind ky_error_set() and ky_error_last().
 */
#include "util/ky_error.h"

#include <stdio.h>

static _Thread_local char last_message[KY_ERROR_MAX];
static _Thread_local int last_code;

int ky_error_set(int code, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(last_message, sizeof(last_message), fmt, ap);
	va_end(ap);
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
	case KY_ECONFLICT: return "conflict";
	case KY_ENOMEM: return "out of memory";
	default: return "error";
	}
}
