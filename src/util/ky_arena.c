/*
 * ky_arena: blocks, each a header and then the bytes handed out in order. The first block is
 * 1 KiB and each next one twice the last, up to 64 KiB: an arena that holds little (a
 * request's record, which an open stream keeps for as long as it lasts) costs little, and
 * one that holds much (a page of objects) a few allocations. An allocation larger than the
 * next block gets a block of its own.
 */
#include "util/ky_arena.h"

#include <stdalign.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

struct block {
	struct block *next;
	size_t size, used;
	alignas(max_align_t) unsigned char data[];
};

#define FIRST_BLOCK ((size_t)1024 - sizeof(struct block))
#define LAST_BLOCK (((size_t)64 << 10) - sizeof(struct block))

struct ky_arena {
	struct block *head;
	size_t total;
	size_t next_block;   /* the size of the next block made for small allocations */
};

ky_arena *ky_arena_new(void)
{
	return calloc(1, sizeof(ky_arena));
}

void ky_arena_free(ky_arena *a)
{
	if (a == NULL)
		return;
	for (struct block *b = a->head, *next; b != NULL; b = next) {
		next = b->next;
		free(b);
	}
	free(a);
}

void *ky_arena_alloc(ky_arena *a, size_t size)
{
	const size_t align = alignof(max_align_t);
	/* A size near SIZE_MAX would wrap in the rounding or the block size and come back as a
	 * small block that the caller then writes `size` bytes into. */
	if (size > SIZE_MAX - sizeof(struct block) - (align - 1))
		return NULL;
	size = (size + align - 1) & ~(align - 1);
	if (size == 0)
		size = align;
	struct block *b = a->head;
	if (b == NULL || b->size - b->used < size) {
		size_t block = a->next_block ? a->next_block : FIRST_BLOCK;
		size_t cap = size > block ? size : block;
		b = malloc(sizeof(*b) + cap);
		if (b == NULL)
			return NULL;
		b->size = cap;
		b->used = 0;
		if (cap == block)
			a->next_block = block * 2 + sizeof(*b) > LAST_BLOCK ? LAST_BLOCK : block * 2 + sizeof(*b);
		/* A block made for one large allocation goes behind the current one, which may
		 * still have room for small ones. */
		if (a->head != NULL && cap > block) {
			b->next = a->head->next;
			a->head->next = b;
		} else {
			b->next = a->head;
			a->head = b;
		}
	}
	void *p = b->data + b->used;
	b->used += size;
	a->total += size;
	memset(p, 0, size);
	return p;
}

char *ky_arena_strndup(ky_arena *a, const char *s, size_t n)
{
	if (n == SIZE_MAX)
		return NULL;   /* n + 1 would be 0 */
	char *copy = ky_arena_alloc(a, n + 1);
	if (copy != NULL) {
		memcpy(copy, s, n);
		copy[n] = '\0';
	}
	return copy;
}

size_t ky_arena_used(const ky_arena *a)
{
	return a->total;
}
