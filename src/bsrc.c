/* bsrc: positional reads and mappings over a file or a memory buffer. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bsrc.h"
#include "banned.h"

struct bsrc {
	int fd;			/* -1 for memory */
	const uint8_t *mem;
	uint64_t size;
};

struct bsrc *
bsrc_open_file(const char *path, struct ckerr *err)
{
	struct bsrc *s;
	struct stat st;
	int fd;

	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0) {
		ckerr_errno(err, "cannot open");
		return NULL;
	}
	if (fstat(fd, &st) < 0) {
		ckerr_errno(err, "cannot stat");
		close(fd);
		return NULL;
	}
	if (!S_ISREG(st.st_mode)) {
		ckerr_set(err, CKERR_IO, "not a regular file");
		close(fd);
		return NULL;
	}
	s = calloc(1, sizeof(*s));
	if (!s) {
		ckerr_nomem(err);
		close(fd);
		return NULL;
	}
	s->fd = fd;
	s->size = (uint64_t)st.st_size;
	return s;
}

struct bsrc *
bsrc_from_memory(const void *data, size_t len, struct ckerr *err)
{
	struct bsrc *s = calloc(1, sizeof(*s));

	if (!s) {
		ckerr_nomem(err);
		return NULL;
	}
	s->fd = -1;
	s->mem = data;
	s->size = len;
	return s;
}

void
bsrc_free(struct bsrc *s)
{
	if (!s)
		return;
	if (s->fd >= 0)
		close(s->fd);
	free(s);
}

uint64_t
bsrc_size(const struct bsrc *s)
{
	return s->size;
}

int
bsrc_fd(const struct bsrc *s)
{
	return s->fd;
}

static int
bsrc_check_range(const struct bsrc *s, uint64_t off, uint64_t n,
		 struct ckerr *err)
{
	if (off > s->size || n > s->size - off)
		return ckerr_set(err, CKERR_FORMAT,
				 "unexpected end of file: %llu bytes at offset "
				 "%llu, file is %llu bytes",
				 (unsigned long long)n,
				 (unsigned long long)off,
				 (unsigned long long)s->size);
	return 0;
}

int
bsrc_pread(struct bsrc *s, void *buf, size_t n, uint64_t off,
	   struct ckerr *err)
{
	uint8_t *p = buf;

	if (bsrc_check_range(s, off, n, err) < 0)
		return -1;
	if (s->fd < 0) {
		if (n)
			memcpy(buf, s->mem + off, n);
		return 0;
	}
	while (n) {
		ssize_t r = pread(s->fd, p, n, (off_t)off);

		if (r < 0) {
			if (errno == EINTR)
				continue;
			return ckerr_errno(err, "read failed");
		}
		if (r == 0)
			return ckerr_set(err, CKERR_IO,
					 "file shrank while being read");
		p += r;
		n -= (size_t)r;
		off += (uint64_t)r;
	}
	return 0;
}

int
bsrc_map(struct bsrc *s, uint64_t off, uint64_t len, struct bmap *out,
	 struct ckerr *err)
{
	long page = sysconf(_SC_PAGESIZE);
	uint64_t start, delta;
	void *base;

	memset(out, 0, sizeof(*out));
	if (bsrc_check_range(s, off, len, err) < 0)
		return -1;
	if (len > SIZE_MAX)
		return ckerr_set(err, CKERR_LIMIT, "range too large to map");
	if (s->fd < 0) {
		out->data = s->mem + off;
		out->len = (size_t)len;
		return 0;
	}
	if (len == 0) {
		out->data = (const uint8_t *)"";
		return 0;
	}
	if (page <= 0)
		page = 4096;
	start = off - off % (uint64_t)page;
	delta = off - start;
	base = mmap(NULL, (size_t)(len + delta), PROT_READ, MAP_PRIVATE, s->fd,
		    (off_t)start);
	if (base == MAP_FAILED)
		return ckerr_errno(err, "cannot map %llu bytes at offset %llu",
				   (unsigned long long)len,
				   (unsigned long long)off);
	out->base = base;
	out->base_len = (size_t)(len + delta);
	out->data = (const uint8_t *)base + delta;
	out->len = (size_t)len;
	return 0;
}

void
bmap_release(struct bmap *m)
{
	if (m->base)
		munmap(m->base, m->base_len);
	memset(m, 0, sizeof(*m));
}
