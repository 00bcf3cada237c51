/* fdio: writing to file descriptors. */
#include "config.h"

#include <errno.h>
#include <unistd.h>

#include "fdio.h"
#include "banned.h"

int
fd_write_all(int fd, const void *data, size_t len, struct ckerr *err)
{
	size_t done = 0;

	while (done < len) {
		ssize_t r = write(fd, (const char *)data + done, len - done);

		if (r < 0) {
			if (errno == EINTR)
				continue;
			return ckerr_errno(err, "cannot write");
		}
		if (r == 0) {
			errno = EIO;
			return ckerr_errno(err, "cannot write");
		}
		done += (size_t)r;
	}
	return 0;
}
