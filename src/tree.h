/*
 * tree: a checkpoint as the TUI shows it, a tree of rows.
 *
 * The state dict's keys are split at dots into components (a key that is
 * also a prefix of others, "a" and "a.b", is one node holding a tensor
 * and children); with a target, the keys it misses appear as ghost nodes
 * where they belong, and every node carries its diff mark.  The other
 * top-level entries of the file (optimizer state, hyper-parameters,
 * epochs) are branches of their own, walked through the value graph.
 * Every node aggregates the tensors, bytes and elements below it.
 *
 * Views are rows: the nodes visible under the expanded ones, siblings in
 * file order, by name (numbers in names compared as numbers) or by size,
 * optionally only those whose path contains a filter string (with their
 * ancestors).  Building is O(n log n) in the keys, rows O(visible), so
 * 100,000 keys stay interactive.  No curses here.
 */
#ifndef TREE_H
#define TREE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ckerr.h"
#include "ckpt.h"
#include "layout.h"

enum tree_kind {
	TK_ROOT,
	TK_BRANCH,	/* a key prefix, or a container outside the state dict */
	TK_TENSOR,	/* a tensor (a state-dict key, or one elsewhere) */
	TK_VALUE,	/* any other value outside the state dict */
	TK_MISSING,	/* a key the target has and the checkpoint lacks */
};

enum tree_mark {
	TM_NONE,
	TM_UNEXPECTED,	/* the key is not in the target */
	TM_MISMATCHED,	/* in the target with another dtype or shape */
	TM_MISSING,	/* TK_MISSING */
};

enum tree_sort { TS_FILE, TS_NAME, TS_SIZE };

struct tree_node {
	char *name;		/* its component or entry name */
	char *path;		/* the key (or prefix) in the state dict, or the
				 * dotted path from the top of the file */
	enum tree_kind kind;
	bool sd;		/* a state-dict key or prefix */
	struct pyval *value;	/* the value (TK_TENSOR, TK_VALUE, branches
				 * outside the state dict) */
	const struct pv_tensor *t;	/* TK_TENSOR */
	const struct layout_entry *want;	/* the target's entry
						 * (TK_MISSING, TM_MISMATCHED) */
	enum tree_mark mark;
	struct tree_node *parent;
	size_t idx;		/* its position in parent->kids */
	struct tree_node **kids;
	size_t nkids, akids;
	size_t seq;		/* file order (of its first key) */
	bool expanded;
	bool match;		/* the filter matches it or something below */
	uint64_t tensors, bytes, elems;	/* below it, itself included */
	size_t unexpected, mismatched, missing;	/* marks below it */
};

struct tree_row {
	struct tree_node *node;
	int depth;
};

struct tree {
	struct tree_node *root;
	struct tree_node *sd;	/* the state dict's node (may be root) */
	size_t nnodes;		/* below the root */
	struct tree_row *rows;
	size_t nrows, arows;
	enum tree_sort sort;	/* set it, then tree_rows() */
	int sorted_as;		/* the order the kids are in */
	char *filter;		/* NULL: none */
};

/*
 * Build the tree of ck: the state dict at root from cur (its layout, as
 * session_analyze computes it), with the target's missing keys and the
 * marks of d when target and d are given, then the other top-level
 * entries.  The root and the state dict's node start expanded.
 */
int tree_build(struct tree *t, struct ckpt *ck, const struct ckpt_root *root,
	       const struct layout *cur, const struct layout *target,
	       const struct layout_diff *d, struct ckerr *err);

void tree_free(struct tree *t);

/* Recompute the rows after expanding, collapsing, sorting, filtering. */
int tree_rows(struct tree *t, struct ckerr *err);

void tree_expand(struct tree_node *n, bool expanded, bool recursive);

/* Make n visible: expand every ancestor. */
void tree_reveal(struct tree_node *n);

/* Keep only nodes whose path contains s (and their ancestors); NULL or
 * "" shows all.  Matching nodes' ancestors are expanded.  Call tree_rows
 * after. */
int tree_set_filter(struct tree *t, const char *s, struct ckerr *err);

/*
 * The next node after from (NULL: the first) in the order the fully
 * expanded tree shows them, whose path contains s; backward: the
 * previous one.  Wraps around; NULL when none.
 */
struct tree_node *tree_search(struct tree *t, struct tree_node *from,
			      const char *s, bool backward);

/* The row showing n, or -1. */
ptrdiff_t tree_row_of(const struct tree *t, const struct tree_node *n);

/* The node at path (a state-dict key when sd, else a dotted path from
 * the top), or NULL. */
struct tree_node *tree_find(const struct tree *t, const char *path, bool sd);

/*
 * Carry the expanded nodes of old over to t (matched by path), so a
 * rebuild after an edit keeps what the user opened.
 */
void tree_keep_state(struct tree *t, const struct tree *old);

#endif
