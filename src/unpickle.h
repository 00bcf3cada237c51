/*
 * unpickle: Python pickle (protocols 0 to 5) to a value graph, without
 * executing anything.
 *
 * The unpickler is Python's pickle virtual machine with every object it
 * would build replaced by a pyval: GLOBAL gives a PV_GLOBAL reference (never
 * an import), REDUCE/NEWOBJ/INST give PV_OBJECT nodes recording the call,
 * BUILD attaches state.  A few builtins are understood as values:
 * OrderedDict() (a PV_DICT with cls set), _codecs.encode(s, 'latin1')
 * (bytes, as protocol 2 writes them), set() and frozenset().  Anything
 * else the caller wants to interpret (torch tensors) goes through hooks.
 *
 * Hostile input: every length is checked against the bytes left; memo
 * indices are bounded by the pickle's size; MARK nesting is limited to
 * UNPICKLE_MAX_MARKS; there is no recursion.  On error the message names
 * the byte offset and opcode: "byte 1234: BINGET: memo index 70 was never
 * set".  Nodes created before an error stay in the arena (freed with it).
 */
#ifndef UNPICKLE_H
#define UNPICKLE_H

#include <stddef.h>
#include <stdint.h>

#include "ckerr.h"
#include "pyval.h"

#define UNPICKLE_MAX_MARKS 4096

struct unpickle_hooks {
	void *ctx;
	/*
	 * BINPERSID / PERSID: return the object for a persistent id, or NULL
	 * with err set.  When this hook is NULL, a PV_PERSID node is made.
	 */
	struct pyval *(*persistent_load)(void *ctx, struct pyarena *a,
					 struct pyval *pid, struct ckerr *err);
	/*
	 * REDUCE / NEWOBJ: return 1 and set *out to take over the call, 0 to
	 * let the unpickler build its generic object, -1 with err set to fail.
	 * May be NULL.
	 */
	int (*reduce)(void *ctx, struct pyarena *a, enum pv_how how,
		      struct pyval *callable, struct pyval *args,
		      struct pyval **out, struct ckerr *err);
};

/*
 * Unpickle one pickle from data[0..len).  Returns the object STOP
 * returns, and stores in *consumed (optional) the number of bytes read up
 * to and including STOP (pickles may be concatenated).  NULL on error.
 */
struct pyval *unpickle(struct pyarena *a, const uint8_t *data, size_t len,
		       const struct unpickle_hooks *hooks, size_t *consumed,
		       struct ckerr *err);

/* The name of an opcode byte ("BINPUT"), or NULL for an unknown byte. */
const char *unpickle_opname(uint8_t op);

#endif
