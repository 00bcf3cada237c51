/*
 * ckerr: the error report every core function fills.
 *
 * Core functions return 0 / a pointer on success and -1 / NULL on failure,
 * after filling a caller-supplied struct ckerr.  The first error wins: later
 * calls to ckerr_set() on an already-set error are ignored, so a low-level
 * function can report precisely and its callers can add context with
 * ckerr_prefix() without overwriting the cause.
 *
 * Messages follow one style: lowercase, no final period, the subject quoted,
 * what failed first, e.g. "cannot read 'data/3': record is 12 bytes, storage
 * needs 48".  The front end prints "ckpt-surgeon: FILE: " + msg.
 */
#ifndef CKERR_H
#define CKERR_H

#include <stdarg.h>
#include <stddef.h>

enum ckerr_code {
	CKERR_OK = 0,
	CKERR_USAGE,		/* bad arguments from the caller or user */
	CKERR_IO,		/* a system call failed */
	CKERR_NOMEM,		/* an allocation failed */
	CKERR_FORMAT,		/* the input is corrupt or malformed */
	CKERR_UNSUPPORTED,	/* well-formed input we do not handle */
	CKERR_LIMIT,		/* a named limit was exceeded */
	CKERR_NOTFOUND,		/* a key, path or record does not exist */
};

#define CKERR_MSG_MAX 512

struct ckerr {
	enum ckerr_code code;
	char msg[CKERR_MSG_MAX];
};

#define CKERR_INIT { CKERR_OK, "" }

/* Reset to "no error". */
void ckerr_clear(struct ckerr *e);

/*
 * Record an error unless one is already recorded.  e may be NULL (the error
 * is then dropped).  Always returns -1 so callers can `return ckerr_set(...)`.
 */
int ckerr_set(struct ckerr *e, enum ckerr_code code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
int ckerr_vset(struct ckerr *e, enum ckerr_code code, const char *fmt,
	       va_list ap) __attribute__((format(printf, 3, 0)));

/* Like ckerr_set with code CKERR_IO, appending ": " and strerror(errno). */
int ckerr_errno(struct ckerr *e, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Shorthand for an allocation failure. */
int ckerr_nomem(struct ckerr *e);

/*
 * Prepend context ("'data.pkl': ") to an error that is already set; does
 * nothing when no error is set.  Returns -1.
 */
int ckerr_prefix(struct ckerr *e, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* True when an error is recorded. */
static inline int
ckerr_isset(const struct ckerr *e)
{
	return e && e->code != CKERR_OK;
}

#endif
