/* fdio: writing to file descriptors. */
#ifndef FDIO_H
#define FDIO_H

#include <stddef.h>

#include "ckerr.h"

/*
 * Write all len bytes of data to fd, retrying short writes and EINTR.
 * -1 with err set ("cannot write: ...") on failure.
 */
int fd_write_all(int fd, const void *data, size_t len, struct ckerr *err);

#endif
