/*
 * rd: a bounded cursor over a byte range, for parsing untrusted binary data.
 *
 * Every reader checks that the bytes are there before touching them and
 * advances only on success; on failure it returns -1 and leaves the cursor
 * where it was.  Nothing here allocates.
 */
#ifndef RD_H
#define RD_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

struct rd {
	const uint8_t *start;	/* for rd_pos() */
	const uint8_t *p;	/* next unread byte */
	const uint8_t *end;	/* one past the last byte */
};

static inline void
rd_init(struct rd *r, const void *data, size_t len)
{
	r->start = data;
	r->p = data;
	r->end = r->p + len;
}

/* Bytes left to read. */
static inline size_t
rd_left(const struct rd *r)
{
	return (size_t)(r->end - r->p);
}

/* Offset of the cursor from the start. */
static inline size_t
rd_pos(const struct rd *r)
{
	return (size_t)(r->p - r->start);
}

static inline int
rd_bytes(struct rd *r, size_t n, const uint8_t **out)
{
	if (rd_left(r) < n)
		return -1;
	*out = r->p;
	r->p += n;
	return 0;
}

static inline int
rd_skip(struct rd *r, size_t n)
{
	const uint8_t *unused;

	return rd_bytes(r, n, &unused);
}

static inline int
rd_u8(struct rd *r, uint8_t *out)
{
	if (rd_left(r) < 1)
		return -1;
	*out = *r->p++;
	return 0;
}

static inline uint64_t
rd_le(const uint8_t *p, int n)
{
	uint64_t v = 0;

	while (n--)
		v = v << 8 | p[n];
	return v;
}

static inline int
rd_u16le(struct rd *r, uint16_t *out)
{
	const uint8_t *p;

	if (rd_bytes(r, 2, &p) < 0)
		return -1;
	*out = (uint16_t)rd_le(p, 2);
	return 0;
}

static inline int
rd_u32le(struct rd *r, uint32_t *out)
{
	const uint8_t *p;

	if (rd_bytes(r, 4, &p) < 0)
		return -1;
	*out = (uint32_t)rd_le(p, 4);
	return 0;
}

static inline int
rd_u64le(struct rd *r, uint64_t *out)
{
	const uint8_t *p;

	if (rd_bytes(r, 8, &p) < 0)
		return -1;
	*out = rd_le(p, 8);
	return 0;
}

/* An IEEE-754 double stored big-endian (pickle's BINFLOAT). */
static inline int
rd_f64be(struct rd *r, double *out)
{
	const uint8_t *p;
	uint64_t v = 0;
	int i;

	if (rd_bytes(r, 8, &p) < 0)
		return -1;
	for (i = 0; i < 8; i++)
		v = v << 8 | p[i];
	memcpy(out, &v, sizeof(*out));
	return 0;
}

/*
 * A line ending in '\n': *out points at its first byte, *len excludes the
 * newline, which is consumed.  Fails when there is no newline.
 */
static inline int
rd_line(struct rd *r, const uint8_t **out, size_t *len)
{
	const uint8_t *nl = memchr(r->p, '\n', rd_left(r));

	if (!nl)
		return -1;
	*out = r->p;
	*len = (size_t)(nl - r->p);
	r->p = nl + 1;
	return 0;
}

#endif
