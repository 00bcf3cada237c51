/*
 * suggest: the edits that would make one layout match another.
 *
 * Given the layout of a checkpoint (have) and the layout the new code
 * expects (want), suggest() finds script lines that fix sets of missing,
 * unexpected and mismatched keys:
 *
 *  - a prefix added to or removed from the keys: `rename-prefix "" P
 *    [--except KEY]...` or `rename-prefix P ""` (the wrapper prefixes
 *    module., _orig_mod., _fsdp_wrapped_module. and model. are named in
 *    the reason);
 *  - a subtree renamed: every unexpected key under A matches, by name
 *    below A, dtype and shape, a missing key under B, and no other
 *    subtree on either side has the same contents: `rename-prefix A B`;
 *  - a single key renamed: of the keys left, the unexpected and the
 *    missing key have the same dtype, shape and last component, and each
 *    is the other's only best match by the longest common dotted ending:
 *    `rename OLD NEW`;
 *  - a mismatched key whose shape differs by one along one dimension:
 *    `insert-column KEY N --dim D` (a column appended at the end) or
 *    `delete-column KEY N-1 --dim D` (the last removed); where the new or
 *    removed feature really is cannot be known from shapes, and the
 *    reason says so.
 *
 * Nothing ambiguous is suggested (two subtrees with the same contents,
 * two equally good prefixes or renames).  The suggestions form a script:
 * each is found on the layout the ones before it leave, so they are meant
 * to be applied in order; each is the one that fixes the most differences
 * at its turn (renames of whole subtrees before single keys, column edits
 * last).  Applying them all gives the layout the simulation reached;
 * nothing here touches a checkpoint.
 */
#ifndef SUGGEST_H
#define SUGGEST_H

#include <stdbool.h>
#include <stddef.h>

#include "ckerr.h"
#include "layout.h"
#include "script.h"

struct suggestion {
	struct edit edit;	/* the script line (positions are 0) */
	char *reason;		/* one sentence for the user */
	size_t fixes;		/* differences it removes, after the ones
				 * before it */
};

struct suggestions {
	struct suggestion *v;
	size_t n, alloc;
};

#define SUGGESTIONS_INIT { NULL, 0, 0 }

/* At most this many suggestions are made. */
#define SUGGEST_MAX 10000

int suggest(const struct layout *have, struct layout *want,
	    struct suggestions *out, struct ckerr *err);

void suggestions_release(struct suggestions *s);

/*
 * Keys in groups, for a report: of the keys at positions order[0..n) of
 * l (missing ones of the target, say: flag marks them all), each whole
 * subtree of l whose keys are all flagged, with two keys or more, and
 * under which other (optional: the other side of the diff) has no key,
 * is one group (the outermost such subtree; its prefix then runs down
 * while all its keys share the next component); a key in no such subtree
 * is a group of its own.  Groups come in the order of their first key.
 */
struct key_group {
	size_t pos;		/* position in l of its first key in order */
	size_t plen;		/* 0: that key alone; else the group's prefix
				 * is the first plen bytes of that key */
	size_t count;		/* keys in the group */
};

int suggest_groups(struct layout *l, const bool *flag, const size_t *order,
		   size_t n, struct layout *other, struct key_group **out,
		   size_t *nout, struct ckerr *err);

#endif
