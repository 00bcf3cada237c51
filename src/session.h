/*
 * session: a checkpoint being edited interactively, with its history.
 *
 * The TUI's document: the open checkpoint, the edits applied so far (each
 * with the record that undoes it), the edits undone (for redo), an
 * optional target layout, and the analysis of the current state against
 * it (layout, diff, suggestions), recomputed only when something changed.
 * Every edit goes through the engine the command line uses
 * (edit_apply_one), so what the session records is a script that `apply`
 * replays to the same result.  No curses here: the TUI holds views only.
 */
#ifndef SESSION_H
#define SESSION_H

#include <stdbool.h>
#include <stddef.h>

#include "buf.h"
#include "ckerr.h"
#include "ckpt.h"
#include "edit.h"
#include "layout.h"
#include "script.h"
#include "suggest.h"

/* The name edits typed in a session carry in messages ("session:3:8: ..."
 * refers to the third edit of the session). */
#define SESSION_SCRIPT_NAME "session"

struct session_step {
	struct edit edit;	/* as applied (positions: line = its number) */
	struct edit_undo *undo;
	struct edit_result result;	/* what it changed */
};

struct session {
	char *path;
	struct ckpt *ck;
	struct ckpt_root root;
	char *root_arg;		/* --root as given, or NULL */

	struct session_step *done;	/* applied, oldest first */
	size_t ndone, adone;
	struct edit *undone;	/* undone, the most recent last (redo) */
	size_t nundone, aundone;
	size_t saved;		/* ndone when last written; SIZE_MAX: the
				 * written state is no longer reachable */
	unsigned long gen;	/* changes with every edit, undo and redo */

	char *target_path;	/* NULL: no target */
	struct layout target;

	/* analysis of the current state, valid when agen == gen */
	unsigned long agen;
	bool analyzed;
	struct layout cur;
	struct layout_diff diff;
	struct suggestions sugg;
};

/* Open path (root: --root, or NULL).  On failure s is empty. */
int session_open(struct session *s, const char *path, const char *root,
		 struct ckerr *err);
void session_close(struct session *s);

/*
 * Apply one edit (checked first; nothing changes on error, whose message
 * is "session:N:COL: ..." for an edit with positions, the bare message
 * for one made by code); the redo list is cleared.  What it changed is
 * then done[ndone - 1].result.
 */
int session_apply(struct session *s, const struct edit *e,
		  struct ckerr *err);

/* Parse one script line (the ':' prompt; its line number is the edit's
 * number in the session) and apply it.  Returns 1 when applied, 0 for a
 * blank or comment line, -1 on error. */
int session_apply_line(struct session *s, const char *line,
		       struct ckerr *err);

/* Replay a script file's edits one by one into the history (--script);
 * on error nothing of it stays applied. */
int session_replay(struct session *s, const char *path, struct ckerr *err);

/* Undo the newest edit / redo the newest undone.  0 when there is
 * nothing to undo or redo (and nothing changes), 1 when done, -1 on
 * error. */
int session_undo(struct session *s, struct ckerr *err);
int session_redo(struct session *s, struct ckerr *err);

/* Unsaved edits: the state differs from what was last written (or, never
 * written, from the file as opened). */
bool session_dirty(const struct session *s);

/* The edits applied, as a script (a comment header, then one canonical
 * line per edit). */
int session_script(const struct session *s, struct buf *out);

/* Write the script to path atomically (force: replace it). */
int session_save_script(const struct session *s, const char *path,
			bool force, struct ckerr *err);

/* Export the edits as a Python program at path (see export_python). */
int session_export(const struct session *s, const char *path, bool force,
		   struct ckerr *err);

/* Write the edited checkpoint to path, by apply's rules (never over the
 * input; an existing file only with force). */
int session_write(struct session *s, const char *path, bool force,
		  struct ckerr *err);

/* Load a target layout (a checkpoint or a layout file); NULL clears it. */
int session_set_target(struct session *s, const char *path,
		       struct ckerr *err);

/* Bring cur, diff and sugg up to date (diff and sugg only with a
 * target). */
int session_analyze(struct session *s, struct ckerr *err);

#endif
