/* crc32: the zip CRC-32, from zlib (the only module that includes zlib.h). */
#include "config.h"

#include <limits.h>
#include <zlib.h>

#include "crc32.h"
#include "banned.h"

uint32_t
crc32_update(uint32_t crc, const void *data, size_t len)
{
	const Bytef *p = data;

	/* zlib takes lengths as uInt: feed it in pieces */
	while (len > 0) {
		uInt n = len > UINT_MAX ? UINT_MAX : (uInt)len;

		crc = (uint32_t)crc32((uLong)crc, p, n);
		p += n;
		len -= n;
	}
	return crc;
}
