/* torchzip: central-directory reader cross-checked against libzip. */
#include "config.h"

#include <stdlib.h>
#include <string.h>
#include <zip.h>

#include "rd.h"
#include "torchzip.h"
#include "banned.h"

#define SIG_LOCAL	0x04034b50u
#define SIG_CENTRAL	0x02014b50u
#define SIG_EOCD	0x06054b50u
#define SIG_EOCD64	0x06064b50u
#define SIG_LOC64	0x07064b50u
#define EOCD_LEN	22
#define EOCD_MAX_SCAN	(EOCD_LEN + 65535)
#define CENTRAL_LEN	46
#define LOCAL_LEN	30
/* Inflated records are read this much at a time. */
#define INFLATE_CHUNK ((uint64_t)1 << 20)
/* DEFLATE cannot expand data more than ~1032:1. */
#define DEFLATE_MAX_RATIO 1032

struct tzip {
	struct bsrc *src;
	zip_t *lz;		/* libzip's view of the same bytes */
	struct srcstate *ss;
	struct tzip_entry *e;
	size_t n;
	struct tzip_entry **sorted;	/* by rel name, for tzip_find */
	char *names;		/* all names, NUL-separated */
	char *prefix;
};

/*
 * libzip reads through this callback, so it sees exactly our bytes.  It
 * reads the central directory a few dozen bytes at a time, so small reads
 * are served from a read-ahead window (one system call per window, not two
 * per entry).
 */
#define SRC_WINDOW 65536

struct srcstate {
	struct bsrc *src;
	uint64_t pos;
	zip_error_t error;
	uint64_t win_off;	/* file offset of window[0] */
	size_t win_len;		/* valid bytes in window */
	uint8_t window[SRC_WINDOW];
};

/* Read n bytes at s->pos, through the window when they are few. */
static int
src_read(struct srcstate *s, uint8_t *out, uint64_t n)
{
	uint64_t size = bsrc_size(s->src);

	if (n >= SRC_WINDOW)
		return bsrc_pread(s->src, out, (size_t)n, s->pos, NULL);
	if (s->pos < s->win_off || s->pos + n > s->win_off + s->win_len) {
		s->win_off = s->pos;
		s->win_len = size - s->pos < SRC_WINDOW ?
			     (size_t)(size - s->pos) : SRC_WINDOW;
		if (bsrc_pread(s->src, s->window, s->win_len, s->win_off,
			       NULL) < 0) {
			s->win_len = 0;
			return -1;
		}
	}
	memcpy(out, s->window + (s->pos - s->win_off), (size_t)n);
	return 0;
}

static zip_int64_t
src_callback(void *ud, void *data, zip_uint64_t len, zip_source_cmd_t cmd)
{
	struct srcstate *s = ud;
	uint64_t size = bsrc_size(s->src);

	switch (cmd) {
	case ZIP_SOURCE_OPEN:
		s->pos = 0;
		return 0;
	case ZIP_SOURCE_READ: {
		uint64_t n = size - s->pos < len ? size - s->pos : len;

		if (n && src_read(s, data, n) < 0) {
			zip_error_set(&s->error, ZIP_ER_READ, 0);
			return -1;
		}
		s->pos += n;
		return (zip_int64_t)n;
	}
	case ZIP_SOURCE_CLOSE:
		return 0;
	case ZIP_SOURCE_STAT: {
		zip_stat_t *st = ZIP_SOURCE_GET_ARGS(zip_stat_t, data, len,
						     &s->error);

		if (!st)
			return -1;
		zip_stat_init(st);
		st->size = size;
		st->valid |= ZIP_STAT_SIZE;
		return sizeof(*st);
	}
	case ZIP_SOURCE_ERROR:
		return zip_error_to_data(&s->error, data, len);
	case ZIP_SOURCE_FREE:
		return 0;
	case ZIP_SOURCE_SEEK: {
		zip_int64_t np = zip_source_seek_compute_offset(s->pos, size,
								data, len,
								&s->error);

		if (np < 0)
			return -1;
		s->pos = (uint64_t)np;
		return 0;
	}
	case ZIP_SOURCE_TELL:
		return (zip_int64_t)s->pos;
	case ZIP_SOURCE_SUPPORTS:
		return zip_source_make_command_bitmap(
			ZIP_SOURCE_OPEN, ZIP_SOURCE_READ, ZIP_SOURCE_CLOSE,
			ZIP_SOURCE_STAT, ZIP_SOURCE_ERROR, ZIP_SOURCE_FREE,
			ZIP_SOURCE_SEEK, ZIP_SOURCE_TELL, ZIP_SOURCE_SUPPORTS,
			-1);
	default:
		zip_error_set(&s->error, ZIP_ER_OPNOTSUPP, 0);
		return -1;
	}
}

static int
libzip_open(struct tzip *z, struct ckerr *err)
{
	zip_error_t ze;
	zip_source_t *zs;

	z->ss = calloc(1, sizeof(*z->ss));
	if (!z->ss)
		return ckerr_nomem(err);
	z->ss->src = z->src;
	zip_error_init(&z->ss->error);
	zip_error_init(&ze);
	zs = zip_source_function_create(src_callback, z->ss, &ze);
	if (!zs) {
		zip_error_fini(&ze);
		return ckerr_nomem(err);
	}
	z->lz = zip_open_from_source(zs, ZIP_RDONLY, &ze);
	if (!z->lz) {
		ckerr_set(err, CKERR_FORMAT, "not a valid zip archive: %s",
			  zip_error_strerror(&ze));
		zip_source_free(zs);
		zip_error_fini(&ze);
		return -1;
	}
	zip_error_fini(&ze);
	return 0;
}

/* Find and parse the end-of-central-directory records. */
static int
read_eocd(struct tzip *z, uint64_t *cd_off, uint64_t *cd_size,
	  uint64_t *count, struct ckerr *err)
{
	uint64_t size = bsrc_size(z->src), tail_off, eocd_at = 0;
	size_t tail_len, i;
	uint8_t *tail;
	int found = 0;
	struct rd r;
	uint16_t disk, cd_disk, n_disk, n_total, clen;
	uint32_t csz, coff;

	if (size < EOCD_LEN)
		return ckerr_set(err, CKERR_FORMAT, "file too short for a zip");
	tail_len = size < EOCD_MAX_SCAN + 20 ? (size_t)size : EOCD_MAX_SCAN + 20;
	tail_off = size - tail_len;
	tail = malloc(tail_len);
	if (!tail)
		return ckerr_nomem(err);
	if (bsrc_pread(z->src, tail, tail_len, tail_off, err) < 0)
		goto fail;
	for (i = tail_len - EOCD_LEN + 1; i-- > 0;) {
		if (rd_le(tail + i, 4) == SIG_EOCD &&
		    i + EOCD_LEN + rd_le(tail + i + 20, 2) <= tail_len) {
			eocd_at = i;
			found = 1;
			break;
		}
	}
	if (!found) {
		ckerr_set(err, CKERR_FORMAT, "no zip end-of-central-directory record");
		goto fail;
	}
	rd_init(&r, tail + eocd_at + 4, EOCD_LEN - 4);
	rd_u16le(&r, &disk);
	rd_u16le(&r, &cd_disk);
	rd_u16le(&r, &n_disk);
	rd_u16le(&r, &n_total);
	rd_u32le(&r, &csz);
	rd_u32le(&r, &coff);
	rd_u16le(&r, &clen);
	*cd_off = coff;
	*cd_size = csz;
	*count = n_total;
	if (eocd_at >= 20 && rd_le(tail + eocd_at - 20, 4) == SIG_LOC64) {
		uint8_t z64[56];
		uint64_t z64_off = rd_le(tail + eocd_at - 20 + 8, 8);
		uint64_t sz;

		if (bsrc_pread(z->src, z64, sizeof(z64), z64_off, err) < 0) {
			ckerr_prefix(err, "zip64 end record: ");
			goto fail;
		}
		if (rd_le(z64, 4) != SIG_EOCD64) {
			ckerr_set(err, CKERR_FORMAT, "bad zip64 end record");
			goto fail;
		}
		sz = rd_le(z64 + 4, 8);
		if (sz < 44) {
			ckerr_set(err, CKERR_FORMAT, "bad zip64 end record");
			goto fail;
		}
		disk = rd_le(z64 + 16, 4) ? 1 : 0;
		cd_disk = rd_le(z64 + 20, 4) ? 1 : 0;
		*count = rd_le(z64 + 32, 8);
		*cd_size = rd_le(z64 + 40, 8);
		*cd_off = rd_le(z64 + 48, 8);
	} else if (n_total == 0xffff || csz == 0xffffffffu ||
		   coff == 0xffffffffu) {
		ckerr_set(err, CKERR_FORMAT, "zip64 locator missing");
		goto fail;
	}
	if (disk || cd_disk) {
		ckerr_set(err, CKERR_UNSUPPORTED, "multi-disk zip archives are "
			  "not supported");
		goto fail;
	}
	free(tail);
	if (*cd_off > size || *cd_size > size - *cd_off)
		return ckerr_set(err, CKERR_FORMAT, "zip central directory lies "
				 "outside the file");
	if (*count > *cd_size / CENTRAL_LEN)
		return ckerr_set(err, CKERR_FORMAT, "zip claims %llu entries in "
				 "a %llu-byte central directory",
				 (unsigned long long)*count,
				 (unsigned long long)*cd_size);
	if (*count > TZIP_MAX_ENTRIES)
		return ckerr_set(err, CKERR_LIMIT, "zip has %llu entries "
				 "(limit %zu)", (unsigned long long)*count,
				 TZIP_MAX_ENTRIES);
	return 0;
fail:
	free(tail);
	return -1;
}

/* Apply a zip64 extended-information field to the 32-bit placeholders. */
static int
apply_zip64(struct tzip_entry *e, const uint8_t *extra, size_t len,
	    int need_u, int need_c, int need_o)
{
	struct rd r;

	rd_init(&r, extra, len);
	while (rd_left(&r) >= 4) {
		uint16_t id = 0, sz = 0;
		struct rd f;
		const uint8_t *p;

		rd_u16le(&r, &id);
		rd_u16le(&r, &sz);
		if (rd_bytes(&r, sz, &p) < 0)
			return -1;
		if (id != 0x0001)
			continue;
		rd_init(&f, p, sz);
		if ((need_u && rd_u64le(&f, &e->usize) < 0) ||
		    (need_c && rd_u64le(&f, &e->csize) < 0) ||
		    (need_o && rd_u64le(&f, &e->lho) < 0))
			return -1;
		return 0;
	}
	return need_u || need_c || need_o ? -1 : 0;
}

static int
cmp_rel(const void *a, const void *b)
{
	const struct tzip_entry *x = *(struct tzip_entry *const *)a;
	const struct tzip_entry *y = *(struct tzip_entry *const *)b;

	return strcmp(x->rel, y->rel);
}

static int
read_central(struct tzip *z, uint64_t cd_off, uint64_t cd_size,
	     uint64_t count, struct ckerr *err)
{
	uint64_t size = bsrc_size(z->src);
	uint8_t *cd;
	struct rd r;
	size_t i, prefix_len = 0;
	char *np;

	cd = malloc(cd_size ? (size_t)cd_size : 1);
	if (!cd)
		return ckerr_nomem(err);
	if (bsrc_pread(z->src, cd, (size_t)cd_size, cd_off, err) < 0)
		goto fail;
	z->e = calloc(count ? (size_t)count : 1, sizeof(*z->e));
	z->names = malloc((size_t)cd_size + 1);
	if (!z->e || !z->names) {
		ckerr_nomem(err);
		goto fail;
	}
	np = z->names;
	rd_init(&r, cd, (size_t)cd_size);
	for (i = 0; i < count; i++) {
		struct tzip_entry *e = &z->e[i];
		uint32_t sig, crc, csz, usz, lho, attr;
		uint16_t made, need, flags, method, t, d, nl, xl, cl, disk, ia;
		const uint8_t *name, *extra, *comment;

		if (rd_u32le(&r, &sig) < 0 || sig != SIG_CENTRAL ||
		    rd_u16le(&r, &made) < 0 || rd_u16le(&r, &need) < 0 ||
		    rd_u16le(&r, &flags) < 0 || rd_u16le(&r, &method) < 0 ||
		    rd_u16le(&r, &t) < 0 || rd_u16le(&r, &d) < 0 ||
		    rd_u32le(&r, &crc) < 0 || rd_u32le(&r, &csz) < 0 ||
		    rd_u32le(&r, &usz) < 0 || rd_u16le(&r, &nl) < 0 ||
		    rd_u16le(&r, &xl) < 0 || rd_u16le(&r, &cl) < 0 ||
		    rd_u16le(&r, &disk) < 0 || rd_u16le(&r, &ia) < 0 ||
		    rd_u32le(&r, &attr) < 0 || rd_u32le(&r, &lho) < 0 ||
		    rd_bytes(&r, nl, &name) < 0 || rd_bytes(&r, xl, &extra) < 0 ||
		    rd_bytes(&r, cl, &comment) < 0) {
			ckerr_set(err, CKERR_FORMAT, "zip central directory "
				  "entry %zu is malformed", i);
			goto fail;
		}
		if (memchr(name, '\0', nl)) {
			ckerr_set(err, CKERR_FORMAT, "zip entry %zu has a NUL "
				  "in its name", i);
			goto fail;
		}
		memcpy(np, name, nl);
		np[nl] = '\0';
		e->name = np;
		np += nl + 1;
		e->crc = crc;
		e->csize = csz;
		e->usize = usz;
		e->lho = lho;
		e->flags = flags;
		e->method = method;
		e->index = i;
		e->data_off = -1;
		if (apply_zip64(e, extra, xl, usz == 0xffffffffu,
				csz == 0xffffffffu, lho == 0xffffffffu) < 0) {
			ckerr_set(err, CKERR_FORMAT, "zip entry '%s' has a bad "
				  "zip64 field", e->name);
			goto fail;
		}
		if (e->lho > size || e->csize > size) {
			ckerr_set(err, CKERR_FORMAT, "zip entry '%s' lies "
				  "outside the file", e->name);
			goto fail;
		}
		if (flags & 1) {
			ckerr_set(err, CKERR_UNSUPPORTED, "zip entry '%s' is "
				  "encrypted", e->name);
			goto fail;
		}
		if (i == 0) {
			const char *slash = strchr(e->name, '/');

			if (!slash) {
				ckerr_set(err, CKERR_FORMAT, "'%s' is not in a "
					  "folder: torch archives keep every "
					  "record under one folder", e->name);
				goto fail;
			}
			prefix_len = (size_t)(slash - e->name);
			z->prefix = strndup(e->name, prefix_len);
			if (!z->prefix) {
				ckerr_nomem(err);
				goto fail;
			}
		}
		if (strncmp(e->name, z->prefix, prefix_len) ||
		    e->name[prefix_len] != '/') {
			ckerr_set(err, CKERR_FORMAT, "'%s' is outside the "
				  "archive folder '%s/'", e->name, z->prefix);
			goto fail;
		}
		e->rel = e->name + prefix_len + 1;
	}
	z->n = (size_t)count;
	free(cd);

	z->sorted = malloc((z->n ? z->n : 1) * sizeof(*z->sorted));
	if (!z->sorted)
		return ckerr_nomem(err);
	for (i = 0; i < z->n; i++)
		z->sorted[i] = &z->e[i];
	qsort(z->sorted, z->n, sizeof(*z->sorted), cmp_rel);
	for (i = 1; i < z->n; i++)
		if (!strcmp(z->sorted[i - 1]->rel, z->sorted[i]->rel))
			return ckerr_set(err, CKERR_FORMAT, "the archive holds "
					 "'%s' twice", z->sorted[i]->name);
	return 0;
fail:
	free(cd);
	return -1;
}

/* libzip and our reader must see the same entries. */
static int
cross_check(struct tzip *z, struct ckerr *err)
{
	zip_int64_t n = zip_get_num_entries(z->lz, 0);
	size_t i;

	if (n < 0 || (uint64_t)n != z->n)
		return ckerr_set(err, CKERR_FORMAT, "zip directory is "
				 "inconsistent: libzip sees %lld entries, the "
				 "directory declares %zu", (long long)n, z->n);
	for (i = 0; i < z->n; i++) {
		const struct tzip_entry *e = &z->e[i];
		zip_stat_t st;

		if (zip_stat_index(z->lz, i, ZIP_FL_ENC_RAW, &st) < 0)
			return ckerr_set(err, CKERR_FORMAT, "zip entry '%s': "
					 "%s", e->name,
					 zip_error_strerror(zip_get_error(z->lz)));
		if (strcmp(st.name, e->name) || st.size != e->usize ||
		    st.comp_size != e->csize || st.crc != e->crc ||
		    st.comp_method != e->method)
			return ckerr_set(err, CKERR_FORMAT, "zip directory is "
					 "inconsistent at entry '%s'", e->name);
	}
	return 0;
}

struct tzip *
tzip_open(struct bsrc *src, struct ckerr *err)
{
	struct tzip *z = calloc(1, sizeof(*z));
	uint64_t cd_off = 0, cd_size = 0, count = 0;

	if (!z) {
		ckerr_nomem(err);
		return NULL;
	}
	z->src = src;
	if (read_eocd(z, &cd_off, &cd_size, &count, err) < 0 ||
	    read_central(z, cd_off, cd_size, count, err) < 0 ||
	    libzip_open(z, err) < 0 || cross_check(z, err) < 0) {
		tzip_free(z);
		return NULL;
	}
	return z;
}

void
tzip_free(struct tzip *z)
{
	if (!z)
		return;
	if (z->lz)
		zip_discard(z->lz);
	if (z->ss)
		zip_error_fini(&z->ss->error);
	free(z->ss);
	free(z->e);
	free(z->sorted);
	free(z->names);
	free(z->prefix);
	free(z);
}

const char *
tzip_prefix(const struct tzip *z)
{
	return z->prefix ? z->prefix : "";
}

size_t
tzip_count(const struct tzip *z)
{
	return z->n;
}

const struct tzip_entry *
tzip_entry(const struct tzip *z, size_t i)
{
	return i < z->n ? &z->e[i] : NULL;
}

const struct tzip_entry *
tzip_find(const struct tzip *z, const char *rel)
{
	struct tzip_entry probe, *pp = &probe, **hit;

	probe.rel = rel;
	hit = bsearch(&pp, z->sorted, z->n, sizeof(*z->sorted), cmp_rel);
	return hit ? *hit : NULL;
}

int
tzip_data_offset(struct tzip *z, const struct tzip_entry *ce, uint64_t *off,
		 struct ckerr *err)
{
	struct tzip_entry *e = &z->e[ce->index];
	uint8_t hdr[LOCAL_LEN];
	uint64_t size = bsrc_size(z->src), nl, xl, start;
	size_t name_len = strlen(e->name);
	char *name;

	if (e->data_off >= 0) {
		*off = (uint64_t)e->data_off;
		return 0;
	}
	if (bsrc_pread(z->src, hdr, sizeof(hdr), e->lho, err) < 0 ||
	    rd_le(hdr, 4) != SIG_LOCAL)
		return ckerr_set(err, CKERR_FORMAT, "'%s': bad local header",
				 e->name);
	nl = rd_le(hdr + 26, 2);
	xl = rd_le(hdr + 28, 2);
	if (nl != name_len)
		return ckerr_set(err, CKERR_FORMAT, "'%s': local header names "
				 "another record", e->name);
	name = malloc(name_len + 1);
	if (!name)
		return ckerr_nomem(err);
	if (bsrc_pread(z->src, name, name_len, e->lho + LOCAL_LEN, err) < 0 ||
	    memcmp(name, e->name, name_len)) {
		free(name);
		return ckerr_set(err, CKERR_FORMAT, "'%s': local header names "
				 "another record", e->name);
	}
	free(name);
	start = e->lho + LOCAL_LEN + nl + xl;
	if (start > size || e->csize > size - start)
		return ckerr_set(err, CKERR_FORMAT, "'%s': record data (%llu "
				 "bytes at %llu) runs past the end of the file",
				 e->name, (unsigned long long)e->csize,
				 (unsigned long long)start);
	e->data_off = (int64_t)start;
	*off = start;
	return 0;
}

static int
check_method(const struct tzip_entry *e, struct ckerr *err)
{
	if (e->method == TZIP_STORED) {
		if (e->csize != e->usize)
			return ckerr_set(err, CKERR_FORMAT, "'%s': stored record "
					 "has different compressed (%llu) and "
					 "uncompressed (%llu) sizes", e->name,
					 (unsigned long long)e->csize,
					 (unsigned long long)e->usize);
		return 0;
	}
	if (e->method != TZIP_DEFLATED)
		return ckerr_set(err, CKERR_UNSUPPORTED, "'%s': compression "
				 "method %u is not supported", e->name,
				 e->method);
	if (e->usize / DEFLATE_MAX_RATIO > e->csize + 1)
		return ckerr_set(err, CKERR_FORMAT, "'%s': %llu compressed "
				 "bytes cannot inflate to %llu", e->name,
				 (unsigned long long)e->csize,
				 (unsigned long long)e->usize);
	return 0;
}

int
tzip_read_chunks(struct tzip *z, const struct tzip_entry *e,
		 int (*fn)(void *ctx, const void *data, size_t len,
			   struct ckerr *err),
		 void *ctx, struct ckerr *err)
{
	zip_file_t *f;
	uint64_t left = e->usize;
	char *chunk;
	int r = 0;

	if (check_method(e, err) < 0)
		return -1;
	f = zip_fopen_index(z->lz, e->index, 0);
	if (!f)
		return ckerr_set(err, CKERR_FORMAT, "'%s': %s", e->name,
				 zip_error_strerror(zip_get_error(z->lz)));
	chunk = malloc(INFLATE_CHUNK);
	if (!chunk) {
		zip_fclose(f);
		return ckerr_nomem(err);
	}
	while (r == 0) {
		/* a byte past the announced size must not come: reading on to
		 * the end also makes libzip verify the CRC */
		uint64_t want = left < INFLATE_CHUNK ? left + 1 : INFLATE_CHUNK;
		zip_int64_t n = zip_fread(f, chunk, want);

		if (n < 0) {
			r = ckerr_set(err, CKERR_FORMAT, "'%s': %s", e->name,
				      zip_error_strerror(zip_file_get_error(f)));
		} else if ((uint64_t)n > left) {
			r = ckerr_set(err, CKERR_FORMAT, "'%s': record is longer "
				      "than its size", e->name);
		} else if (n == 0) {
			if (left)
				r = ckerr_set(err, CKERR_FORMAT, "'%s': record is "
					      "shorter than its size", e->name);
			break;
		} else {
			left -= (uint64_t)n;
			r = fn(ctx, chunk, (size_t)n, err);
		}
	}
	free(chunk);
	zip_fclose(f);
	return r;
}

/* tzip_read_chunks callback: append to a buffer. */
static int
append_chunk(void *ctx, const void *data, size_t len, struct ckerr *err)
{
	return buf_add(ctx, data, len) < 0 ? ckerr_nomem(err) : 0;
}

static int
read_libzip(struct tzip *z, const struct tzip_entry *e, struct buf *out,
	    struct ckerr *err)
{
	/* the buffer grows as data really arrives: a size may lie */
	if (buf_grow(out, 0) < 0)	/* an empty record still gets its NUL */
		return ckerr_nomem(err);
	return tzip_read_chunks(z, e, append_chunk, out, err);
}

int
tzip_read(struct tzip *z, const struct tzip_entry *e, struct buf *out,
	  size_t cap, enum tzip_via via, struct ckerr *err)
{
	uint64_t off;

	if (check_method(e, err) < 0)
		return -1;
	if (cap && e->usize > cap)
		return ckerr_set(err, CKERR_LIMIT, "'%s' is %llu bytes (limit "
				 "%zu)", e->name, (unsigned long long)e->usize,
				 cap);
	if (e->usize > SIZE_MAX / 2)
		return ckerr_set(err, CKERR_LIMIT, "'%s' is too large to read "
				 "into memory", e->name);
	if (via == TZIP_VIA_LIBZIP || e->method != TZIP_STORED)
		return read_libzip(z, e, out, err);
	if (tzip_data_offset(z, e, &off, err) < 0)
		return -1;
	if (buf_grow(out, (size_t)e->usize) < 0)
		return ckerr_nomem(err);
	if (bsrc_pread(z->src, out->data + out->len, (size_t)e->usize, off,
		       err) < 0)
		return -1;
	out->len += (size_t)e->usize;
	out->data[out->len] = '\0';
	return 0;
}

int
tzip_data_get(struct tzip *z, const struct tzip_entry *e,
	      struct tzip_data *out, struct ckerr *err)
{
	uint64_t off;

	memset(out, 0, sizeof(*out));
	if (check_method(e, err) < 0)
		return -1;
	if (e->method != TZIP_STORED) {
		if (tzip_read(z, e, &out->copy, 0, TZIP_VIA_LIBZIP, err) < 0) {
			buf_release(&out->copy);
			return -1;
		}
		out->data = (const uint8_t *)(out->copy.data ? out->copy.data : "");
		out->len = out->copy.len;
		return 0;
	}
	if (tzip_data_offset(z, e, &off, err) < 0 ||
	    bsrc_map(z->src, off, e->usize, &out->map, err) < 0)
		return -1;
	out->data = out->map.data;
	out->len = out->map.len;
	return 0;
}

void
tzip_data_release(struct tzip_data *d)
{
	bmap_release(&d->map);
	buf_release(&d->copy);
	d->data = NULL;
	d->len = 0;
}
