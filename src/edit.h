/*
 * edit: checking and applying edits to a checkpoint's state dict.
 *
 * The same engine serves apply, the TUI and diff's suggestions: a script
 * is checked as a whole first (each edit against the keys the previous
 * edits leave), and only when every edit is valid is the graph changed,
 * so a failing script changes nothing.  Errors carry the script position
 * ("script.cks:3:14: no key 'x' in the state dict").
 *
 * Semantics (ckpt-surgeon-script(5)): renames keep each key's position;
 * no two keys may end up with the same name; rename-regex renaming
 * nothing is a warning; the state dict's _metadata follows renames.
 * Every applied edit can be undone (edit_undo), for the TUI.
 */
#ifndef EDIT_H
#define EDIT_H

#include <stdbool.h>
#include <stddef.h>

#include "ckerr.h"
#include "ckpt.h"
#include "layout.h"
#include "script.h"

/* One key (or, for drop, one path) changed by an edit. */
struct edit_change {
	char *from;
	char *to;		/* NULL for a deleted key (or a note) */
	char *note;		/* what happened to it, when not a rename */
};

/* What one edit did (or, checked only, would do). */
struct edit_result {
	struct edit_change *changes;
	size_t n, alloc;
	char *warning;		/* NULL, or a message for the user */
};

struct edit_report {
	struct edit_result *v;	/* one per edit of the script */
	size_t n;
};

#define EDIT_REPORT_INIT { NULL, 0 }

/*
 * Check every edit of s against the state dict at root without changing
 * anything; rep (optional) gets what each edit would do.
 */
int edit_check(struct ckpt *ck, const struct ckpt_root *root,
	       const struct script *s, struct edit_report *rep,
	       struct ckerr *err);

/* Check, then apply every edit in order.  On error nothing is changed. */
int edit_apply(struct ckpt *ck, const struct ckpt_root *root,
	       const struct script *s, struct edit_report *rep,
	       struct ckerr *err);

/*
 * Check like edit_check, and give the layout of the state dict the
 * script would leave (keys, dtypes, shapes after every edit) in *after,
 * which the caller releases; nothing is changed.
 */
int edit_check_layout(struct ckpt *ck, const struct ckpt_root *root,
		      const struct script *s, struct edit_report *rep,
		      struct layout *after, struct ckerr *err);

void edit_report_release(struct edit_report *r);

/*
 * The name a rename or rename-prefix edit gives key, by the rules
 * edit_apply follows: 1 with *out a new string (the caller frees it), 0
 * when the edit leaves key as it is (every other op does), -1 when
 * memory runs out.
 */
int edit_renamed(const struct edit *e, const char *key, char **out);

/* How to put the state dict back as it was before one edit. */
struct edit_undo;

/*
 * Apply one edit (checked first); *undo (optional) receives the record
 * that reverts it.  name is the script name for messages (may be NULL).
 */
int edit_apply_one(struct ckpt *ck, const struct ckpt_root *root,
		   const struct edit *e, const char *name,
		   struct edit_result *res, struct edit_undo **undo,
		   struct ckerr *err);

/* Revert the edit undo was made for (the newest edit not yet undone). */
int edit_undo_apply(struct ckpt *ck, struct edit_undo *undo,
		    struct ckerr *err);
void edit_undo_free(struct edit_undo *undo);

void edit_result_release(struct edit_result *r);

/*
 * The checks of a rename-regex edit that need no checkpoint: its REGEX
 * compiles and the replacement's groups exist.  -1 with apply's message
 * ("NAME:LINE:COL: invalid regex ...", CKERR_USAGE) otherwise.
 */
int edit_check_regex(const struct edit *e, const char *sname,
		     struct ckerr *err);

#endif
