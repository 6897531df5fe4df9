/*
 * ky_arena: a region allocator. Everything allocated from an arena is freed at once with
 * it, so a structure built of many small pieces (a pattern's syntax tree, later a request's
 * scratch memory) cannot leak one of them, and freeing costs one pass over a few blocks.
 */
#ifndef KY_ARENA_H
#define KY_ARENA_H

#include <stddef.h>

typedef struct ky_arena ky_arena;

/* Returns a new empty arena or NULL when memory ran out. Free it with ky_arena_free. */
ky_arena *ky_arena_new(void);

/* Frees the arena and everything allocated from it; NULL does nothing. */
void ky_arena_free(ky_arena *a);

/* `size` bytes aligned for any type, zeroed, owned by the arena; NULL when memory ran out or
 * `size` is more than can be allocated (near SIZE_MAX). Sets no error message: the caller
 * knows what it was allocating for. Not thread-safe: one arena belongs to one thread. */
void *ky_arena_alloc(ky_arena *a, size_t size);

/* A NUL-terminated copy of `n` bytes of `s` (which may hold NULs: `n` is the length, not a
 * maximum), owned by the arena; NULL when memory ran out or n + 1 is more than can be
 * allocated. */
char *ky_arena_strndup(ky_arena *a, const char *s, size_t n);

/* Bytes handed out so far (for limits and metrics). */
size_t ky_arena_used(const ky_arena *a);

#endif
