/* ckerr: first-error-wins error reports. */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "ckerr.h"
#include "banned.h"

void
ckerr_clear(struct ckerr *e)
{
	if (!e)
		return;
	e->code = CKERR_OK;
	e->msg[0] = '\0';
}

int
ckerr_vset(struct ckerr *e, enum ckerr_code code, const char *fmt, va_list ap)
{
	if (!e || e->code != CKERR_OK)
		return -1;
	e->code = code;
	vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
	return -1;
}

int
ckerr_set(struct ckerr *e, enum ckerr_code code, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	ckerr_vset(e, code, fmt, ap);
	va_end(ap);
	return -1;
}

int
ckerr_errno(struct ckerr *e, const char *fmt, ...)
{
	int saved = errno;
	char what[CKERR_MSG_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	return ckerr_set(e, saved == ENOMEM ? CKERR_NOMEM : CKERR_IO, "%s: %s",
			 what, strerror(saved));
}

int
ckerr_nomem(struct ckerr *e)
{
	return ckerr_set(e, CKERR_NOMEM, "out of memory");
}

int
ckerr_prefix(struct ckerr *e, const char *fmt, ...)
{
	char old[CKERR_MSG_MAX];
	va_list ap;
	int n;

	if (!e || e->code == CKERR_OK)
		return -1;
	memcpy(old, e->msg, sizeof(old));
	va_start(ap, fmt);
	n = vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
	va_end(ap);
	/* the cause matters more than the context: keep all of it we can */
	if (n < 0)
		n = 0;
	if ((size_t)n >= sizeof(e->msg))
		n = sizeof(e->msg) - 1;
	if ((size_t)n < sizeof(e->msg) - 1)
		memcpy(e->msg + n, old, sizeof(e->msg) - 1 - (size_t)n);
	e->msg[sizeof(e->msg) - 1] = '\0';
	return -1;
}
