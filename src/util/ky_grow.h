/*
 * ky_grow: room for one more item in a malloc'd array that doubles as it fills, the one way
 * the modules grow their lists.
 */
#ifndef KY_GROW_H
#define KY_GROW_H

#include <stddef.h>

/*
 * Makes *items (an array of *cap items of `size` bytes, n of them used; NULL with cap 0 to
 * start) hold at least n + 1: KY_OK, or KY_ENOMEM with a message and *items as it was. The
 * caller owns *items and frees it.
 */
int ky_grow(void **items, size_t *cap, size_t n, size_t size);

#endif
