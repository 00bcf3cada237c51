/*
 * tzwriter: writes the zip container of a torch checkpoint, laid out as
 * torch's own writer (PyTorchStreamWriter over miniz) lays it out:
 * every record STORED, its data at an offset that is a multiple of the
 * alignment (64) thanks to an "FB" (0x4246) padding field in the local
 * header, CRC and sizes in a data descriptor after the data, zip64 fields
 * for sizes and offsets that reach 0xFFFFFFFF, and zip64 end records
 * always (torch-format.md sections 1.5 to 1.7).
 *
 * Records are written in the order they are added, sequentially, to a
 * file descriptor; tzwriter_finish() writes the central directory.
 */
#ifndef TZWRITER_H
#define TZWRITER_H

#include <stddef.h>
#include <stdint.h>

#include "ckerr.h"

/* Write every record with zip64 fields (tests: zip64 without 4 GiB). */
#define TZW_FORCE_ZIP64 1u

struct tzwriter;

/*
 * Start an archive on fd (an empty file, written from its start) whose
 * records live in folder.  alignment is a power of two from 1 to 32768
 * (torch: 64).
 */
struct tzwriter *tzwriter_new(int fd, const char *folder, unsigned alignment,
			      unsigned flags, struct ckerr *err);

/*
 * Stream a record of exactly size bytes: begin, write the bytes in pieces,
 * end with their CRC-32 (bounded memory for records of any size).
 */
int tzwriter_begin(struct tzwriter *w, const char *rel, uint64_t size,
		   struct ckerr *err);
int tzwriter_write(struct tzwriter *w, const void *data, size_t len,
		   struct ckerr *err);
int tzwriter_end(struct tzwriter *w, uint32_t crc, struct ckerr *err);

/* Add the record folder/rel holding len bytes at data. */
int tzwriter_add(struct tzwriter *w, const char *rel, const void *data,
		 size_t len, struct ckerr *err);

/*
 * Add the record folder/rel holding len bytes copied from src_fd at
 * src_off (in the kernel when it can), whose CRC-32 is already known.
 */
int tzwriter_copy(struct tzwriter *w, const char *rel, int src_fd,
		  uint64_t src_off, uint64_t len, uint32_t crc,
		  struct ckerr *err);

/* Write the central directory and the end records. */
int tzwriter_finish(struct tzwriter *w, struct ckerr *err);

void tzwriter_free(struct tzwriter *w);

#endif
