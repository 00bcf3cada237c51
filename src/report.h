/*
 * report: a diff as text for people.
 *
 * The text `diff` prints: the counts first ("FILE against TARGET: 93
 * missing, 93 unexpected, 0 mismatched (...)", or "FILE matches TARGET"),
 * then the missing and the unexpected keys in groups (a subtree the other
 * side has nothing under is one line, "prefix.*  N keys"; other keys one
 * a line with dtype and shape; at most 40 lines a section), the mismatched
 * keys with both types, and the suggestions as script lines, each after a
 * "# reason (fixes N)" comment.  File names and keys are shown with their
 * control characters as '?'.  The TUI shows the same text.
 */
#ifndef REPORT_H
#define REPORT_H

#include <stddef.h>

#include "buf.h"
#include "ckerr.h"
#include "layout.h"
#include "suggest.h"

struct report {
	const char *file, *target;	/* names to show */
	struct layout *have, *want;	/* borrowed */
	const struct layout_diff *d;	/* have against want */
	const struct suggestions *s;
};

/* Leave the suggestions section out (the TUI lists them itself). */
#define REPORT_NO_SUGGESTIONS 1u

/* Append the report; -1 (CKERR_NOMEM) when memory runs out. */
int report_text(const struct report *rp, unsigned flags, struct buf *out,
		struct ckerr *err);

/* Append only the suggestions, as a script with a comment header
 * (diff --suggest); -1 when memory runs out. */
int report_script(const struct report *rp, struct buf *out);

/* The differences the suggestions fix in all. */
size_t report_fixed(const struct suggestions *s);

/* Append the suggestions as script lines, each after its "# reason
 * (fixes N)" comment line, every line after indent. */
int report_add_script(struct buf *out, const struct suggestions *s,
		      const char *indent);

#endif
