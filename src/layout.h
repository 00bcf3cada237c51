/*
 * layout: what a state dict holds, key by key (dtype and shape), and how
 * two layouts differ.
 *
 * A layout comes from a checkpoint (the tensors of its state dict, in
 * order) or from a layout file, the text `ckpt-surgeon layout` prints:
 *
 *     KEY DTYPE [d0, d1, ...]
 *
 * one tensor a line, a 0-dim tensor as [].  Reading, the parser also
 * takes what Python prints for print(k, v.dtype, list(v.shape)),
 * print(k, v.dtype, v.shape) and print(k, v.dtype, tuple(v.shape)):
 * `torch.float32`, `torch.Size([3, 4])`, `(3,)`; any dtype name
 * dtype_from_name() knows; blank lines; `#` comment lines and a `#`
 * comment after the shape.  The dtype is the first word after the key's
 * first character that names one and is followed by a shape and the
 * line's end, so a key may hold blanks (Python prints keys bare); a
 * key in double quotes (as `layout` prints keys with blanks, quotes, `#`
 * or backslashes) has `\"` and `\\` unescaped.  Errors are
 * "NAME:LINE: message" (CKERR_USAGE; CKERR_LIMIT past the limits below).
 *
 * The diff is in torch's terms (load_state_dict): missing keys are in the
 * target and not in the checkpoint, unexpected keys the other way round,
 * mismatched keys are in both with a different dtype or shape.
 */
#ifndef LAYOUT_H
#define LAYOUT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "ckerr.h"
#include "ckpt.h"
#include "dtype.h"

/* A layout file may be at most this long, with at most this many keys. */
#define LAYOUT_MAX_FILE ((size_t)256 << 20)
#define LAYOUT_MAX_KEYS 10000000

struct layout_entry {
	char *key;
	enum dtype dtype;
	int ndim;		/* at most TENSOR_MAX_DIMS */
	int64_t *shape;		/* ndim sizes (NULL when 0-dim) */
	unsigned line;		/* in the layout file; 0 from a checkpoint */
};

struct layout {
	struct layout_entry *v;	/* in order */
	size_t n, alloc;
	size_t *sorted;		/* positions by key, for lookups; NULL when
				 * stale (layout_find rebuilds it) */
};

#define LAYOUT_INIT { NULL, 0, 0, NULL }

void layout_release(struct layout *l);

/* Append an entry (key copied).  Keys are not checked here: a key
 * listed twice is found by layout_index(). */
int layout_add(struct layout *l, const char *key, enum dtype dt, int ndim,
	       const int64_t *shape, unsigned line, struct ckerr *err);

/* Position of key, or -1.  Builds the lookup index when it is stale;
 * -2 when that fails (memory ran out, or a key is listed twice). */
ptrdiff_t layout_find(struct layout *l, const char *key);

/*
 * Sort the lookup index.  -1 when memory runs out (CKERR_NOMEM) or a key
 * is listed twice: of those, the one listed again earliest, as
 * "LINE: key 'k' listed twice (first on line N)" (CKERR_USAGE) for
 * entries with line numbers, else "two keys are named 'k'"
 * (CKERR_FORMAT).  layout_find calls it as needed.
 */
int layout_index(struct layout *l, struct ckerr *err);

/* The layout of the state dict at root (its tensors, in order). */
int layout_from_root(const struct ckpt *ck, const struct ckpt_root *root,
		     struct layout *out, struct ckerr *err);

/* Parse a layout file's text; name is for messages. */
int layout_parse(const char *text, size_t len, const char *name,
		 struct layout *out, struct ckerr *err);

/*
 * Append a key as text output shows it: as is, or double-quoted (with \"
 * and \\) when empty or holding blanks, quotes, '#' or '\'; control
 * characters are shown as '?' so they cannot drive the terminal.
 */
int layout_add_key(struct buf *out, const char *key);

/* Append "[d0, d1, ...]". */
int layout_add_shape(struct buf *out, const int64_t *dims, int n);

/* Append "DTYPE [d0, d1, ...]". */
int layout_add_type(struct buf *out, const struct layout_entry *e);

/*
 * Load a target: a checkpoint (its state dict, found as ckpt_find_root
 * finds it without an override) or a layout file, told apart by their
 * first bytes (a zip or pickle signature, or a NUL in the first 4 KiB,
 * make a checkpoint).  Every error message starts with path.
 */
int layout_load(const char *path, struct layout *out, struct ckerr *err);

/* Append one entry's line (with its newline), as `layout` prints it. */
int layout_print_entry(const struct layout_entry *e, struct buf *out);

/* Same dtype and shape. */
bool layout_entry_same(const struct layout_entry *a,
		       const struct layout_entry *b);

/* A mismatched key: its position in each layout. */
struct layout_pair {
	size_t have, want;
};

struct layout_diff {
	size_t *missing;	/* positions in want, in want's order */
	size_t nmissing;
	size_t *unexpected;	/* positions in have, in have's order */
	size_t nunexpected;
	struct layout_pair *mismatched;	/* in want's order */
	size_t nmismatched;
};

#define LAYOUT_DIFF_INIT { NULL, 0, NULL, 0, NULL, 0 }

/* Compare have (the checkpoint) with want (the target). */
int layout_diff(struct layout *have, struct layout *want,
		struct layout_diff *d, struct ckerr *err);

/* Missing + unexpected + mismatched. */
size_t layout_diff_count(const struct layout_diff *d);

void layout_diff_release(struct layout_diff *d);

#endif
