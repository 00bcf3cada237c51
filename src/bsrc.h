/*
 * bsrc: a read-only byte source, either a regular file or a memory buffer.
 *
 * Every reader of a checkpoint goes through this, so the same parsing code
 * serves files on disk, in-memory tests and fuzzers.  Reads are positional
 * (no shared file position) and exact: a read that would cross the end of
 * the source fails with "unexpected end of file".
 */
#ifndef BSRC_H
#define BSRC_H

#include <stddef.h>
#include <stdint.h>

#include "ckerr.h"

struct bsrc;

/*
 * Open a regular file for reading.  Directories, devices and FIFOs are
 * refused (they could block or never end).  Returns NULL and fills err.
 */
struct bsrc *bsrc_open_file(const char *path, struct ckerr *err);

/* Wrap len bytes at data (borrowed: must outlive the source). */
struct bsrc *bsrc_from_memory(const void *data, size_t len,
			      struct ckerr *err);

void bsrc_free(struct bsrc *s);

/* Size in bytes, fixed at open. */
uint64_t bsrc_size(const struct bsrc *s);

/* The file descriptor of a file source, or -1 for memory. */
int bsrc_fd(const struct bsrc *s);

/* Read exactly n bytes at off into buf. */
int bsrc_pread(struct bsrc *s, void *buf, size_t n, uint64_t off,
	       struct ckerr *err);

/*
 * A read-only view of [off, off + len) of the source.  For files this is an
 * mmap (the range needs no alignment); for memory, a pointer into it.
 */
struct bmap {
	const uint8_t *data;	/* the requested range */
	size_t len;
	void *base;		/* what to unmap, NULL when nothing */
	size_t base_len;
};

#define BMAP_INIT { NULL, 0, NULL, 0 }

int bsrc_map(struct bsrc *s, uint64_t off, uint64_t len, struct bmap *out,
	     struct ckerr *err);

/* Release a view; a zeroed or already released view is fine. */
void bmap_release(struct bmap *m);

#endif
