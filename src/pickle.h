/*
 * pickle: a value graph back to a protocol-2 pickle.
 *
 * The inverse of unpickle: writes what Python's pickler would write for
 * the objects the graph stands for, so torch.load rebuilds exactly the
 * objects that were read.  Shared objects stay shared (the memo is
 * rebuilt from node identity, not copied: an object reached twice is
 * written once and fetched with BINGET), opaque globals and objects are
 * written back as the calls that made them, and tensors as the torch
 * rebuild call they came from (_rebuild_tensor_v2 and friends) around a
 * storage persistent id.  Protocol 2 is what torch.save writes and what
 * every torch since 1.0 reads (weights_only included).
 */
#ifndef PICKLE_H
#define PICKLE_H

#include "buf.h"
#include "ckerr.h"
#include "pyval.h"

/* Nesting deeper than this is refused (Python's pickler recursion limit). */
#define PICKLE_MAX_DEPTH 1000

struct pickle_hooks {
	void *ctx;
	/*
	 * The key to write in the persistent id of a storage (torch numbers
	 * storages in order of first use: called in that order).  Returns a
	 * NUL-terminated key owned by the caller, or NULL with err set.
	 */
	const char *(*storage_key)(void *ctx, const struct pyval *storage,
				   struct ckerr *err);
};

/*
 * Append the pickle of top to out.  nodes is the number of node ids in
 * the graph's arena (pyarena_count), for the memo.
 */
int pickle_write(const struct pyval *top, size_t nodes,
		 const struct pickle_hooks *hooks, struct buf *out,
		 struct ckerr *err);

#endif
