/*
 * mix: a 64-bit finaliser (MurmurHash3's fmix64), spreading every input
 * bit over every output bit.  For combining hashes that are not keyed
 * against hostile input (pyval's dict index keys its own with SipHash).
 */
#ifndef MIX_H
#define MIX_H

#include <stdint.h>

static inline uint64_t
mix64(uint64_t x)
{
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdULL;
	x ^= x >> 33;
	x *= 0xc4ceb9fe1a85ec53ULL;
	x ^= x >> 33;
	return x;
}

#endif
