/*
 * torchzip: the zip container of torch checkpoints (read side).
 *
 * Two readers look at every archive.  libzip is the validating reader: it
 * opens the archive, and inflates DEFLATE records (checking their CRC).
 * Our own central-directory reader gives what libzip does not expose: the
 * file offset of each record's data (from the LOCAL header, as torch's own
 * reader computes it), so stored records can be mapped or copied without
 * going through libzip.  At open the two must agree on every entry's
 * name, sizes, method and CRC, or the archive is refused.
 *
 * Torch's layout rules are enforced as torch enforces them: every entry
 * lives under one top-level folder (the "prefix", taken from the first
 * entry), the folder name is never compared with the file name.
 * This is the only module that includes <zip.h>.
 */
#ifndef TORCHZIP_H
#define TORCHZIP_H

#include <stddef.h>
#include <stdint.h>

#include "bsrc.h"
#include "buf.h"
#include "ckerr.h"

/* Largest number of entries we accept (each costs ~100 bytes). */
#define TZIP_MAX_ENTRIES ((size_t)1 << 24)

/* Zip compression methods we can read. */
#define TZIP_STORED 0
#define TZIP_DEFLATED 8

struct tzip_entry {
	const char *name;	/* full name as stored */
	const char *rel;	/* the name after "<prefix>/" */
	uint64_t usize;		/* uncompressed size */
	uint64_t csize;		/* compressed size */
	uint64_t lho;		/* offset of the local header */
	uint32_t crc;
	uint16_t method;
	uint16_t flags;
	uint64_t index;		/* position in the central directory */
	int64_t data_off;	/* -1 until the local header was read */
};

struct tzip;

/*
 * Open the archive in src (borrowed; must outlive the tzip).  Fails with a
 * one-line reason on anything libzip or our reader refuses.
 */
struct tzip *tzip_open(struct bsrc *src, struct ckerr *err);
void tzip_free(struct tzip *z);

/* The top-level folder every record lives in ("sd" for sd/data.pkl). */
const char *tzip_prefix(const struct tzip *z);

size_t tzip_count(const struct tzip *z);
const struct tzip_entry *tzip_entry(const struct tzip *z, size_t i);

/* The entry "<prefix>/<rel>", or NULL. */
const struct tzip_entry *tzip_find(const struct tzip *z, const char *rel);

/*
 * File offset of an entry's data, read from its local header (cached).
 * Checks the local header's signature and name and that the data lies
 * inside the file.
 */
int tzip_data_offset(struct tzip *z, const struct tzip_entry *e,
		     uint64_t *off, struct ckerr *err);

/* How tzip_read gets the bytes. */
enum tzip_via {
	TZIP_VIA_ANY,		/* stored: straight from the file; else libzip */
	TZIP_VIA_LIBZIP,	/* always through libzip (checks the CRC) */
};

/*
 * Read a whole record into out (appended).  Refuses records larger than
 * cap bytes (0: no cap) and compressed records whose claimed size is
 * beyond what DEFLATE can produce from their compressed size.
 */
int tzip_read(struct tzip *z, const struct tzip_entry *e, struct buf *out,
	      size_t cap, enum tzip_via via, struct ckerr *err);

/*
 * Read a record through libzip in pieces of at most 1 MiB, calling fn on
 * each (inflating compressed records and checking the CRC at the end).
 * Stops at the first error, fn's included.
 */
int tzip_read_chunks(struct tzip *z, const struct tzip_entry *e,
		     int (*fn)(void *ctx, const void *data, size_t len,
			       struct ckerr *err),
		     void *ctx, struct ckerr *err);

/* A record's bytes in memory: a mapping of the file, or a private copy. */
struct tzip_data {
	const uint8_t *data;
	size_t len;
	struct bmap map;
	struct buf copy;
};

/*
 * Make a record's bytes available: stored records are mapped from the
 * file (no copy), compressed ones are inflated into memory.
 */
int tzip_data_get(struct tzip *z, const struct tzip_entry *e,
		  struct tzip_data *out, struct ckerr *err);
void tzip_data_release(struct tzip_data *d);

#endif
