/* tzwriter: torch's zip layout, written sequentially. */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "buf.h"
#include "crc32.h"
#include "fdio.h"
#include "tzwriter.h"
#include "grow.h"
#include "banned.h"

#define SIG_LOCAL	0x04034b50u
#define SIG_DESCRIPTOR	0x08074b50u
#define SIG_CENTRAL	0x02014b50u
#define SIG_EOCD64	0x06064b50u
#define SIG_LOC64	0x07064b50u
#define SIG_EOCD	0x06054b50u
#define LOCAL_LEN	30
#define ZIP32_MAX	0xffffffffu
#define FLAG_DESCRIPTOR	0x0008u
#define FLAG_UTF8	0x0800u
#define EXTRA_ZIP64	0x0001u
#define EXTRA_PAD	0x4246u		/* "FB": torch's alignment padding */
#define OUT_BUFFER	(1u << 20)

struct rec {
	char *name;
	uint64_t offset;	/* of the local header */
	uint64_t size;
	uint32_t crc;
};

struct tzwriter {
	int fd;
	char *folder;
	unsigned alignment;
	unsigned flags;
	uint64_t cursor;	/* bytes written so far (buffer included) */
	struct buf out;		/* pending bytes */
	struct rec *recs;
	size_t n, alloc;
};

static void
le(uint8_t *p, uint64_t v, int n)
{
	int i;

	for (i = 0; i < n; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static int
flush(struct tzwriter *w, struct ckerr *err)
{
	if (fd_write_all(w->fd, w->out.data, w->out.len, err) < 0)
		return -1;
	buf_reset(&w->out);
	return 0;
}

static int
emit(struct tzwriter *w, const void *data, size_t len, struct ckerr *err)
{
	if (w->out.len + len > OUT_BUFFER && flush(w, err) < 0)
		return -1;
	if (len >= OUT_BUFFER) {	/* big blocks go straight out */
		if (fd_write_all(w->fd, data, len, err) < 0)
			return -1;
	} else if (buf_add(&w->out, data, len) < 0) {
		return ckerr_nomem(err);
	}
	w->cursor += len;
	return 0;
}

static int
emit_le(struct tzwriter *w, uint64_t v, int n, struct ckerr *err)
{
	uint8_t b[8];

	le(b, v, n);
	return emit(w, b, (size_t)n, err);
}

struct tzwriter *
tzwriter_new(int fd, const char *folder, unsigned alignment, unsigned flags,
	     struct ckerr *err)
{
	struct tzwriter *w;

	if (!alignment || alignment > 32768 || (alignment & (alignment - 1))) {
		ckerr_set(err, CKERR_USAGE, "alignment %u is not a power of two "
			  "up to 32768", alignment);
		return NULL;
	}
	w = calloc(1, sizeof(*w));
	if (!w || !(w->folder = strdup(folder))) {
		free(w);
		ckerr_nomem(err);
		return NULL;
	}
	w->fd = fd;
	w->alignment = alignment;
	w->flags = flags;
	buf_init(&w->out, 0);
	return w;
}

void
tzwriter_free(struct tzwriter *w)
{
	size_t i;

	if (!w)
		return;
	for (i = 0; i < w->n; i++)
		free(w->recs[i].name);
	free(w->recs);
	free(w->folder);
	buf_release(&w->out);
	free(w);
}

/* Does this record need zip64 fields for its size / its offset? */
static int
big_size(const struct tzwriter *w, uint64_t size)
{
	return (w->flags & TZW_FORCE_ZIP64) || size >= ZIP32_MAX;
}

static int
big_offset(const struct tzwriter *w, uint64_t offset)
{
	return (w->flags & TZW_FORCE_ZIP64) || offset >= ZIP32_MAX;
}

/*
 * The local header, its zip64 field when needed, and the FB padding that
 * puts the data on an aligned offset (torch's detail::getPadding).
 */
static int
begin_record(struct tzwriter *w, const char *rel, uint64_t size,
	     struct ckerr *err)
{
	struct buf name = BUF_INIT;
	uint64_t at = w->cursor, start;
	int zsize = big_size(w, size), zoff = big_offset(w, at);
	size_t z64 = zsize || zoff ? 4 + (zsize ? 16 : 0) + (zoff ? 8 : 0) : 0;
	size_t pad, extra, i;
	uint8_t h[LOCAL_LEN];
	struct rec *r;

	if (buf_addf(&name, "%s/%s", w->folder, rel) < 0)
		return ckerr_nomem(err);
	if (name.len > 0xffff) {
		buf_release(&name);
		return ckerr_set(err, CKERR_LIMIT, "record name '%s' is too "
				 "long", rel);
	}
	start = at + LOCAL_LEN + name.len + 4 + z64;
	pad = (size_t)((w->alignment - start % w->alignment) % w->alignment);
	extra = z64 + 4 + pad;
	if (w->n == w->alloc) {
		struct rec *p = grow_array(w->recs, &w->alloc, w->n + 1,
					   sizeof(*p), 64);

		if (!p) {
			buf_release(&name);
			return ckerr_nomem(err);
		}
		w->recs = p;
	}
	r = &w->recs[w->n];
	r->offset = at;
	r->size = size;
	r->crc = 0;
	r->name = buf_detach(&name, NULL);
	if (!r->name)
		return ckerr_nomem(err);
	w->n++;

	memset(h, 0, sizeof(h));
	le(h, SIG_LOCAL, 4);
	/* version needed 0, time and date 0, CRC and sizes 0: as torch */
	le(h + 6, size ? FLAG_DESCRIPTOR | FLAG_UTF8 : FLAG_UTF8, 2);
	le(h + 26, strlen(r->name), 2);
	le(h + 28, extra, 2);
	if (emit(w, h, sizeof(h), err) < 0 ||
	    emit(w, r->name, strlen(r->name), err) < 0)
		return -1;
	if (z64) {
		/* torch's local zip64 field: size and a 0 compressed size,
		 * and the header's own offset */
		if (emit_le(w, EXTRA_ZIP64, 2, err) < 0 ||
		    emit_le(w, z64 - 4, 2, err) < 0 ||
		    (zsize && (emit_le(w, size, 8, err) < 0 ||
			       emit_le(w, 0, 8, err) < 0)) ||
		    (zoff && emit_le(w, at, 8, err) < 0))
			return -1;
	}
	if (emit_le(w, EXTRA_PAD, 2, err) < 0 || emit_le(w, pad, 2, err) < 0)
		return -1;
	for (i = 0; i < pad; i++)
		if (emit(w, "Z", 1, err) < 0)
			return -1;
	return 0;
}

/* The data descriptor after the data (none for empty records). */
static int
end_record(struct tzwriter *w, uint32_t crc, struct ckerr *err)
{
	struct rec *r = &w->recs[w->n - 1];
	int wide = big_size(w, r->size) || big_offset(w, r->offset);

	r->crc = crc;
	if (r->size == 0)
		return 0;
	return emit_le(w, SIG_DESCRIPTOR, 4, err) < 0 ||
	       emit_le(w, crc, 4, err) < 0 ||
	       emit_le(w, r->size, wide ? 8 : 4, err) < 0 ||
	       emit_le(w, r->size, wide ? 8 : 4, err) < 0 ? -1 : 0;
}

int
tzwriter_begin(struct tzwriter *w, const char *rel, uint64_t size,
	       struct ckerr *err)
{
	return begin_record(w, rel, size, err);
}

int
tzwriter_write(struct tzwriter *w, const void *data, size_t len,
	       struct ckerr *err)
{
	return emit(w, data, len, err);
}

int
tzwriter_end(struct tzwriter *w, uint32_t crc, struct ckerr *err)
{
	const struct rec *r = &w->recs[w->n - 1];

	if (w->cursor < r->offset || w->cursor - r->offset < r->size)
		return ckerr_set(err, CKERR_FORMAT, "'%s': fewer bytes written "
				 "than announced", r->name);
	return end_record(w, crc, err);
}

int
tzwriter_add(struct tzwriter *w, const char *rel, const void *data,
	     size_t len, struct ckerr *err)
{
	if (begin_record(w, rel, len, err) < 0 || emit(w, data, len, err) < 0)
		return -1;
	return end_record(w, crc32_update(0, data, len), err);
}

/* Copy len bytes from src_fd at off: in the kernel, else through memory. */
static int
copy_bytes(struct tzwriter *w, int src_fd, uint64_t off, uint64_t len,
	   struct ckerr *err)
{
	uint8_t *tmp;
	loff_t in = (loff_t)off;

	if (flush(w, err) < 0)
		return -1;
	while (len > 0) {
		ssize_t r = copy_file_range(src_fd, &in, w->fd, NULL,
					    len > (1u << 30) ? (1u << 30) : len,
					    0);

		if (r > 0) {
			len -= (uint64_t)r;
			w->cursor += (uint64_t)r;
			continue;
		}
		if (r == 0)
			return ckerr_set(err, CKERR_IO, "input file shrank while "
					 "being copied");
		if (errno == EINTR)
			continue;
		if (errno != EXDEV && errno != EINVAL && errno != ENOSYS &&
		    errno != EOPNOTSUPP && errno != EBADF)
			return ckerr_errno(err, "cannot copy");
		break;	/* not here: copy through memory below */
	}
	if (len == 0)
		return 0;
	tmp = malloc(OUT_BUFFER);
	if (!tmp)
		return ckerr_nomem(err);
	while (len > 0) {
		size_t want = len < OUT_BUFFER ? (size_t)len : OUT_BUFFER;
		ssize_t r = pread(src_fd, tmp, want, in);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			free(tmp);
			return r < 0 ? ckerr_errno(err, "cannot read") :
			       ckerr_set(err, CKERR_IO, "input file shrank while "
					 "being copied");
		}
		if (emit(w, tmp, (size_t)r, err) < 0 || flush(w, err) < 0) {
			free(tmp);
			return -1;
		}
		in += r;
		len -= (uint64_t)r;
	}
	free(tmp);
	return 0;
}

int
tzwriter_copy(struct tzwriter *w, const char *rel, int src_fd,
	      uint64_t src_off, uint64_t len, uint32_t crc, struct ckerr *err)
{
	if (begin_record(w, rel, len, err) < 0 ||
	    copy_bytes(w, src_fd, src_off, len, err) < 0)
		return -1;
	return end_record(w, crc, err);
}

static int
central_entry(struct tzwriter *w, const struct rec *r, struct ckerr *err)
{
	int zsize = big_size(w, r->size), zoff = big_offset(w, r->offset);
	size_t z64 = zsize || zoff ? 4 + (zsize ? 16 : 0) + (zoff ? 8 : 0) : 0;
	uint8_t h[46];

	memset(h, 0, sizeof(h));
	le(h, SIG_CENTRAL, 4);
	le(h + 4, 0, 2);			/* made by: as torch */
	le(h + 6, z64 ? 45 : 0, 2);		/* needed */
	le(h + 8, r->size ? FLAG_DESCRIPTOR | FLAG_UTF8 : FLAG_UTF8, 2);
	le(h + 16, r->crc, 4);
	le(h + 20, zsize ? ZIP32_MAX : r->size, 4);
	le(h + 24, zsize ? ZIP32_MAX : r->size, 4);
	le(h + 28, strlen(r->name), 2);
	le(h + 30, z64, 2);
	le(h + 42, zoff ? ZIP32_MAX : r->offset, 4);
	if (emit(w, h, sizeof(h), err) < 0 ||
	    emit(w, r->name, strlen(r->name), err) < 0)
		return -1;
	if (!z64)
		return 0;
	return emit_le(w, EXTRA_ZIP64, 2, err) < 0 ||
	       emit_le(w, z64 - 4, 2, err) < 0 ||
	       (zsize && (emit_le(w, r->size, 8, err) < 0 ||
			  emit_le(w, r->size, 8, err) < 0)) ||
	       (zoff && emit_le(w, r->offset, 8, err) < 0) ? -1 : 0;
}

int
tzwriter_finish(struct tzwriter *w, struct ckerr *err)
{
	uint64_t cd_start = w->cursor, cd_size, eocd64;
	uint8_t e[56];
	size_t i;

	for (i = 0; i < w->n; i++)
		if (central_entry(w, &w->recs[i], err) < 0)
			return -1;
	cd_size = w->cursor - cd_start;
	eocd64 = w->cursor;
	/* zip64 end record and locator: torch always writes them */
	memset(e, 0, sizeof(e));
	le(e, SIG_EOCD64, 4);
	le(e + 4, 44, 8);
	le(e + 12, 0x031e, 2);
	le(e + 14, 45, 2);
	le(e + 24, w->n, 8);
	le(e + 32, w->n, 8);
	le(e + 40, cd_size, 8);
	le(e + 48, cd_start, 8);
	if (emit(w, e, 56, err) < 0)
		return -1;
	memset(e, 0, 20);
	le(e, SIG_LOC64, 4);
	le(e + 8, eocd64, 8);
	le(e + 16, 1, 4);
	if (emit(w, e, 20, err) < 0)
		return -1;
	memset(e, 0, 22);
	le(e, SIG_EOCD, 4);
	le(e + 8, w->n >= 0xffff ? 0xffff : w->n, 2);
	le(e + 10, w->n >= 0xffff ? 0xffff : w->n, 2);
	le(e + 12, cd_size >= ZIP32_MAX ? ZIP32_MAX : cd_size, 4);
	le(e + 16, cd_start >= ZIP32_MAX ? ZIP32_MAX : cd_start, 4);
	if (emit(w, e, 22, err) < 0)
		return -1;
	return flush(w, err);
}
