#include "util/ky_grow.h"

#include <stdint.h>
#include <stdlib.h>

#include "util/ky_error.h"

int ky_grow(void **items, size_t *cap, size_t n, size_t size)
{
	if (n < *cap)
		return KY_OK;
	size_t more = *cap ? *cap * 2 : 64;
	if (more > SIZE_MAX / size)
		return ky_error_set(KY_ENOMEM, "out of memory");
	void *grown = realloc(*items, more * size);
	if (grown == NULL)
		return ky_error_set(KY_ENOMEM, "out of memory");
	*items = grown;
	*cap = more;
	return KY_OK;
}
