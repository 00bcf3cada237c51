/*
 * grow: room for more items in a heap array that doubles as it fills.
 *
 *	if (n == alloc) {
 *		struct item *p = grow_array(items, &alloc, n + 1, sizeof(*p), 16);
 *		if (!p)
 *			return ckerr_nomem(err);
 *		items = p;
 *	}
 *
 * The doubling and the overflow checks live here only.
 */
#ifndef GROW_H
#define GROW_H

#include <stdint.h>
#include <stdlib.h>

/*
 * A reallocation of items holding at least need items of size bytes:
 * *alloc doubles (from first when 0) until it is enough.  Returns NULL,
 * leaving items and *alloc as they were, when memory runs out or the size
 * would overflow.
 */
static inline void *
grow_array(void *items, size_t *alloc, size_t need, size_t size, size_t first)
{
	size_t n = *alloc ? *alloc : first;
	void *p;

	while (n < need) {
		if (n > SIZE_MAX / 2)
			return NULL;
		n *= 2;
	}
	if (n > SIZE_MAX / size)
		return NULL;
	p = realloc(items, n * size);
	if (p)
		*alloc = n;
	return p;
}

#endif
