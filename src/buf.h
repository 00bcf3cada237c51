/*
 * buf: a growable, binary-safe byte buffer with a size cap.
 *
 * Invariants: when alloc > 0, data[len] == '\0' (so text can be used as a C
 * string; binary data may contain NULs); len <= cap.  A zeroed struct
 * (BUF_INIT) is a valid empty buffer with no cap beyond BUF_DEFAULT_CAP.
 * Functions return 0 on success and -1 when memory runs out or the cap would
 * be exceeded (errno is ENOMEM or EOVERFLOW); the buffer is then unchanged.
 */
#ifndef BUF_H
#define BUF_H

#include <stdarg.h>
#include <stddef.h>

/* The cap of a buffer whose cap is 0: far above anything we build in memory. */
#define BUF_DEFAULT_CAP ((size_t)1 << 40)

struct buf {
	char *data;
	size_t len;
	size_t alloc;
	size_t cap;	/* 0 means BUF_DEFAULT_CAP */
};

#define BUF_INIT { NULL, 0, 0, 0 }

/* Initialise an empty buffer that refuses to grow past cap bytes (0: default). */
void buf_init(struct buf *b, size_t cap);

/* Free the storage; the buffer is empty (and reusable) afterwards. */
void buf_release(struct buf *b);

/* Make room for extra more bytes (plus the terminating NUL). */
int buf_grow(struct buf *b, size_t extra);

int buf_add(struct buf *b, const void *data, size_t len);
int buf_addstr(struct buf *b, const char *s);
int buf_addch(struct buf *b, int c);
int buf_addf(struct buf *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
int buf_vaddf(struct buf *b, const char *fmt, va_list ap)
	__attribute__((format(printf, 2, 0)));

/* Drop the contents, keep the storage. */
void buf_reset(struct buf *b);

/*
 * Take the storage: returns a NUL-terminated heap string (never NULL unless
 * memory runs out) which the caller frees; *len (optional) gets its length.
 * The buffer is empty afterwards.
 */
char *buf_detach(struct buf *b, size_t *len);

#endif
