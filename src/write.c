/* write: assemble a torch zip from a checkpoint, atomically. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "crc32.h"
#include "fdio.h"
#include "pickle.h"
#include "tzwriter.h"
#include "write.h"
#include "grow.h"
#include "banned.h"

/* Records torch 2.x writes between data.pkl and the storages, in order. */
static const char *const torch2_records[] = {
	".format_version", ".storage_alignment", "byteorder",
};
#define NTORCH2 (sizeof(torch2_records) / sizeof(torch2_records[0]))

char *
write_folder_name(const char *path)
{
	const char *base = strrchr(path, '/');
	const char *dot, *p;
	char *name;

	base = base ? base + 1 : path;
	dot = strrchr(base, '.');
	name = strndup(base, dot ? (size_t)(dot - base) : strlen(base));
	if (!name)
		return NULL;
	for (p = name; *p; p++)
		if ((unsigned char)*p >= 0x80)
			break;
	if (!*name || *p) {
		free(name);
		return strdup("archive");
	}
	return name;
}

/* The storages in the order the new pickle uses them. */
struct plan {
	struct ckpt *ck;
	const struct pyval **order;	/* storage nodes, by new key */
	size_t n, alloc;
	int *key_of;		/* by storage index: new key + 1, 0 = unseen */
	size_t nkey;
	char keybuf[24];
};

static const char *
assign_key(void *ctx, const struct pyval *storage, struct ckerr *err)
{
	struct plan *pl = ctx;
	size_t i = storage->u.storage->index;

	if (i >= pl->nkey)
		return ckerr_set(err, CKERR_FORMAT, "storage outside the "
				 "checkpoint's table"), NULL;
	if (!pl->key_of[i]) {
		if (pl->n == pl->alloc) {
			const struct pyval **p = grow_array(pl->order,
							    &pl->alloc,
							    pl->n + 1,
							    sizeof(*p), 64);

			if (!p)
				return ckerr_nomem(err), NULL;
			pl->order = p;
		}
		pl->order[pl->n++] = storage;
		pl->key_of[i] = (int)pl->n;
	}
	snprintf(pl->keybuf, sizeof(pl->keybuf), "%d", pl->key_of[i] - 1);
	return pl->keybuf;
}

/* tzip_read_chunks callback: stream into the writer, CRC as we go. */
struct stream {
	struct tzwriter *w;
	uint32_t crc;
};

static int
stream_chunk(void *ctx, const void *data, size_t len, struct ckerr *err)
{
	struct stream *s = ctx;

	s->crc = crc32_update(s->crc, data, len);
	return tzwriter_write(s->w, data, len, err);
}

/* Copy an input record into the output under the name rel. */
static int
copy_record(struct ckpt *ck, struct tzwriter *w, const struct tzip_entry *e,
	    const char *rel, struct ckerr *err)
{
	struct tzip *z = ckpt_zip(ck);
	int fd = bsrc_fd(ckpt_bsrc(ck));
	struct stream s = { w, 0 };
	struct tzip_data d;
	uint64_t off;
	int r;

	if (e->method == TZIP_STORED && fd >= 0) {
		/* the bytes go through unchanged, so their CRC does too */
		if (tzip_data_offset(z, e, &off, err) < 0)
			return -1;
		return tzwriter_copy(w, rel, fd, off, e->usize, e->crc, err);
	}
	if (e->method == TZIP_STORED) {		/* an in-memory checkpoint */
		if (tzip_data_get(z, e, &d, err) < 0)
			return -1;
		r = tzwriter_add(w, rel, d.data, d.len, err);
		tzip_data_release(&d);
		return r;
	}
	if (tzwriter_begin(w, rel, e->usize, err) < 0 ||
	    tzip_read_chunks(z, e, stream_chunk, &s, err) < 0)
		return -1;
	return tzwriter_end(w, s.crc, err);
}

/* Storage records of an unchanged pickle: every data/<key>, by key. */
static int
cmp_storage_names(const void *a, const void *b)
{
	const char *x = (*(const struct tzip_entry *const *)a)->rel + 5;
	const char *y = (*(const struct tzip_entry *const *)b)->rel + 5;
	size_t lx = strlen(x), ly = strlen(y);

	/* numeric keys in numeric order, as torch 2.x writes them */
	if (lx != ly && strspn(x, "0123456789") == lx &&
	    strspn(y, "0123456789") == ly)
		return lx < ly ? -1 : 1;
	return strcmp(x, y);
}

static int
is_storage_record(const char *rel)
{
	return !strncmp(rel, "data/", 5) && rel[5];
}

static int
is_known_record(const char *rel)
{
	size_t i;

	if (!strcmp(rel, "data.pkl") || !strcmp(rel, "version") ||
	    !strcmp(rel, ".data/serialization_id") || is_storage_record(rel))
		return 1;
	for (i = 0; i < NTORCH2; i++)
		if (!strcmp(rel, torch2_records[i]))
			return 1;
	return 0;
}

/* The storage alignment the input declared, else torch's 64. */
static unsigned
input_alignment(struct ckpt *ck)
{
	const struct tzip_entry *e = tzip_find(ckpt_zip(ck), ".storage_alignment");
	struct buf b = BUF_INIT;
	struct ckerr ignored = CKERR_INIT;
	unsigned long v = 64;
	char *end;

	if (e && tzip_read(ckpt_zip(ck), e, &b, 16, TZIP_VIA_ANY, &ignored) == 0 &&
	    b.len) {
		v = strtoul(b.data, &end, 10);
		if (*end || !v || v > 32768 || (v & (v - 1)))
			v = 64;
	}
	buf_release(&b);
	return (unsigned)v;
}

static int
write_storages_unchanged(struct ckpt *ck, struct tzwriter *w,
			 struct ckerr *err)
{
	struct tzip *z = ckpt_zip(ck);
	const struct tzip_entry **v;
	size_t i, n = 0;
	int r = 0;

	v = calloc(tzip_count(z) + 1, sizeof(*v));
	if (!v)
		return ckerr_nomem(err);
	for (i = 0; i < tzip_count(z); i++)
		if (is_storage_record(tzip_entry(z, i)->rel))
			v[n++] = tzip_entry(z, i);
	qsort(v, n, sizeof(*v), cmp_storage_names);
	for (i = 0; i < n && r == 0; i++)
		r = copy_record(ck, w, v[i], v[i]->rel, err);
	free(v);
	return r;
}

static int
write_storages_planned(struct ckpt *ck, struct tzwriter *w,
		       const struct plan *pl, struct ckerr *err)
{
	char rel[32];
	size_t i;

	for (i = 0; i < pl->n; i++) {
		const struct tzip_entry *e = ckpt_storage_entry(ck, pl->order[i]);
		struct tzip_data d;
		int r;

		snprintf(rel, sizeof(rel), "data/%zu", i);
		if (e) {
			if (copy_record(ck, w, e, rel, err) < 0)
				return -1;
			continue;
		}
		/* made by an edit: its bytes are in memory */
		if (ckpt_storage_data(ck, pl->order[i], &d, err) < 0)
			return -1;
		r = tzwriter_add(w, rel, d.data, d.len, err);
		tzip_data_release(&d);
		if (r < 0)
			return -1;
	}
	return 0;
}

/* Every record of the archive, in torch's order. */
static int
write_records(struct ckpt *ck, struct tzwriter *w, struct ckerr *err)
{
	struct tzip *z = ckpt_zip(ck);
	const struct tzip_entry *e;
	struct plan pl;
	struct buf pkl = BUF_INIT;
	size_t i;
	int r = -1;

	memset(&pl, 0, sizeof(pl));
	if (ckpt_changed(ck)) {
		struct pickle_hooks hooks = { &pl, assign_key };

		pl.ck = ck;
		pl.nkey = ckpt_storage_count(ck);
		pl.key_of = calloc(pl.nkey + 1, sizeof(*pl.key_of));
		if (!pl.key_of) {
			ckerr_nomem(err);
			goto out;
		}
		if (pickle_write(ckpt_top(ck), pyarena_count(ckpt_arena(ck)),
				 &hooks, &pkl, err) < 0 ||
		    tzwriter_add(w, "data.pkl", pkl.data, pkl.len, err) < 0)
			goto out;
	} else if (copy_record(ck, w, tzip_find(z, "data.pkl"), "data.pkl",
			       err) < 0) {
		goto out;
	}
	for (i = 0; i < NTORCH2; i++)
		if ((e = tzip_find(z, torch2_records[i])) &&
		    copy_record(ck, w, e, e->rel, err) < 0)
			goto out;
	if ((ckpt_changed(ck) ? write_storages_planned(ck, w, &pl, err)
			      : write_storages_unchanged(ck, w, err)) < 0)
		goto out;
	/* what else the input carried, as it was */
	for (i = 0; i < tzip_count(z); i++) {
		e = tzip_entry(z, i);
		if (!is_known_record(e->rel) && copy_record(ck, w, e, e->rel,
							     err) < 0)
			goto out;
	}
	e = tzip_find(z, "version");
	if (e ? copy_record(ck, w, e, "version", err) < 0
	      : tzwriter_add(w, "version", "3\n", 2, err) < 0)
		goto out;
	r = tzwriter_finish(w, err);
out:
	buf_release(&pkl);
	free(pl.order);
	free(pl.key_of);
	return r;
}

/* dir and base of path: "." for a bare name. Caller frees *dir. */
static int
split_path(const char *path, char **dir, const char **base)
{
	const char *slash = strrchr(path, '/');

	*base = slash ? slash + 1 : path;
	*dir = slash ? strndup(path, slash == path ? 1 : (size_t)(slash - path))
		     : strdup(".");
	return *dir ? 0 : -1;
}

/* Create a hidden, unique temporary file in dir. */
static int
open_temp(const char *dir, const char *base, mode_t mode, struct buf *name,
	  struct ckerr *err)
{
	int tries, fd;

	for (tries = 0; tries < 100; tries++) {
		uint64_t r;

		if (getrandom(&r, sizeof(r), 0) != (ssize_t)sizeof(r))
			r = (uint64_t)getpid() << 32 ^ (uint64_t)tries;
		buf_reset(name);
		if (buf_addf(name, "%s/.%s.%016llx.tmp", dir, base,
			     (unsigned long long)r) < 0)
			return ckerr_nomem(err);
		fd = open(name->data, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC,
			  mode);
		if (fd >= 0)
			return fd;
		if (errno != EEXIST)
			return ckerr_errno(err, "cannot create a file in '%s'",
					   dir);
	}
	return ckerr_set(err, CKERR_IO, "cannot create a temporary file in "
			 "'%s'", dir);
}

/* Move tmp to out: never over an existing file unless force. */
static int
publish(const char *tmp, const char *out, bool force, struct ckerr *err)
{
	if (force) {
		if (rename(tmp, out) < 0)
			return ckerr_errno(err, "cannot rename the written file "
					   "into place");
		return 0;
	}
	if (renameat2(AT_FDCWD, tmp, AT_FDCWD, out, RENAME_NOREPLACE) == 0)
		return 0;
	if (errno == EEXIST)
		return ckerr_set(err, CKERR_USAGE, "exists (use --force to "
				 "replace it)");
	if (errno != EINVAL && errno != ENOSYS)
		return ckerr_errno(err, "cannot rename the written file into "
				   "place");
	/* a file system without RENAME_NOREPLACE: link() never replaces */
	if (link(tmp, out) < 0)
		return errno == EEXIST ?
		       ckerr_set(err, CKERR_USAGE, "exists (use --force to "
				 "replace it)") :
		       ckerr_errno(err, "cannot create the file");
	unlink(tmp);
	return 0;
}

/*
 * Make the rename durable.  Best effort: the output exists by now, and an
 * error here must not report a failure (exit 2 promises no output).
 */
static void
sync_dir(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (fd >= 0) {
		fsync(fd);
		close(fd);
	}
}

/* Refuse to write over the file to keep, or over anything without force. */
static int
check_output(const char *out, const struct atomic_opts *o, struct ckerr *err)
{
	struct stat st;

	if (stat(out, &st) < 0) {
		if (errno == ENOENT)
			return 0;
		return ckerr_errno(err, "cannot check the output");
	}
	if (o->keep && o->keep->st_dev == st.st_dev &&
	    o->keep->st_ino == st.st_ino)
		return ckerr_set(err, CKERR_USAGE, "this is %s: write to "
				 "another file", o->keep_what);
	if (S_ISDIR(st.st_mode))
		return ckerr_set(err, CKERR_USAGE, "is a directory");
	if (!o->force)
		return ckerr_set(err, CKERR_USAGE, "exists (use --force to "
				 "replace it)");
	return 0;
}

int
write_atomic(const char *out, const struct atomic_opts *o,
	     int (*fill)(int fd, void *ctx, struct ckerr *err), void *ctx,
	     struct ckerr *err)
{
	struct buf tmp = BUF_INIT;
	const char *base;
	char *dir = NULL;
	int fd = -1, r = -1;

	if (check_output(out, o, err) < 0)
		return -1;
	if (split_path(out, &dir, &base) < 0) {
		ckerr_nomem(err);
		goto out;
	}
	if (!*base) {
		ckerr_set(err, CKERR_USAGE, "names a directory");
		goto out;
	}
	fd = open_temp(dir, base, o->mode, &tmp, err);
	if (fd < 0 || fill(fd, ctx, err) < 0)
		goto out;
	if (fsync(fd) < 0) {
		ckerr_errno(err, "cannot write");
		goto out;
	}
	if (close(fd) < 0) {
		fd = -1;
		ckerr_errno(err, "cannot write");
		goto out;
	}
	fd = -1;
	if (publish(tmp.data, out, o->force, err) < 0)
		goto out;
	buf_reset(&tmp);	/* published: nothing to remove */
	sync_dir(dir);
	r = 0;
out:
	if (fd >= 0)
		close(fd);
	if (tmp.len)
		unlink(tmp.data);
	buf_release(&tmp);
	free(dir);
	return r;
}

struct ckpt_fill {
	struct ckpt *ck;
	const char *folder;
	unsigned zip_flags;
};

static int
fill_ckpt(int fd, void *ctx, struct ckerr *err)
{
	struct ckpt_fill *f = ctx;
	struct tzwriter *w = tzwriter_new(fd, f->folder, input_alignment(f->ck),
					  f->zip_flags, err);
	int r = w && write_records(f->ck, w, err) == 0 ? 0 : -1;

	tzwriter_free(w);
	return r;
}

int
ckpt_write(struct ckpt *ck, const char *out, const struct write_opts *o,
	   struct ckerr *err)
{
	struct atomic_opts ao = { o->force, 0666, NULL, "the input file" };
	struct ckpt_fill f = { ck, NULL, o->zip_flags };
	struct stat in;
	int fd = bsrc_fd(ckpt_bsrc(ck)), r;
	size_t len = strlen(out);

	/* the contract says OUT's extension picks the format: a torch zip
	 * named .safetensors would mislead whoever loads it */
	if (len >= 12 && !strcasecmp(out + len - 12, ".safetensors"))
		return ckerr_set(err, CKERR_UNSUPPORTED, "writing safetensors "
				 "is not supported yet; name the output .pt or "
				 ".ckpt for a torch checkpoint");
	if (fd >= 0 && fstat(fd, &in) == 0)
		ao.keep = &in;
	f.folder = write_folder_name(out);
	if (!f.folder)
		return ckerr_nomem(err);
	r = write_atomic(out, &ao, fill_ckpt, &f, err);
	free((char *)f.folder);
	return r;
}

static int
fill_buf(int fd, void *ctx, struct ckerr *err)
{
	const struct buf *b = ctx;

	return fd_write_all(fd, b->data, b->len, err);
}

int
write_buf_atomic(const char *out, const struct buf *b,
		 const struct atomic_opts *o, struct ckerr *err)
{
	return write_atomic(out, o, fill_buf, (void *)b, err);
}
