/* crc32: the zip CRC-32 (IEEE 802.3), computed by zlib. */
#ifndef CRC32_H
#define CRC32_H

#include <stddef.h>
#include <stdint.h>

/* Continue a CRC over len more bytes; start with crc = 0. */
uint32_t crc32_update(uint32_t crc, const void *data, size_t len);

#endif
