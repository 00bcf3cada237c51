/* session: an interactively edited checkpoint, its history and target. */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "export.h"
#include "grow.h"
#include "session.h"
#include "write.h"
#include "banned.h"

/* Scripts and programs the session writes: at most this large. */
#define SESSION_MAX_SCRIPT ((size_t)64 << 20)

static void
analysis_release(struct session *s)
{
	layout_release(&s->cur);
	layout_diff_release(&s->diff);
	suggestions_release(&s->sugg);
	s->analyzed = false;
}

int
session_open(struct session *s, const char *path, const char *root,
	     struct ckerr *err)
{
	memset(s, 0, sizeof(*s));
	s->path = strdup(path);
	s->root_arg = root ? strdup(root) : NULL;
	if (!s->path || (root && !s->root_arg)) {
		free(s->path);
		free(s->root_arg);
		memset(s, 0, sizeof(*s));
		return ckerr_nomem(err);
	}
	s->ck = ckpt_open(path, err);
	if (!s->ck || ckpt_find_root(s->ck, root, &s->root, err) < 0) {
		session_close(s);
		return -1;
	}
	s->saved = 0;
	return 0;
}

static void
step_release(struct session_step *st)
{
	edit_release(&st->edit);
	edit_undo_free(st->undo);
	edit_result_release(&st->result);
}

static void
undone_clear(struct session *s)
{
	size_t i;

	for (i = 0; i < s->nundone; i++)
		edit_release(&s->undone[i]);
	s->nundone = 0;
}

void
session_close(struct session *s)
{
	size_t i;

	/* undo records refer to the graph: free them before it */
	for (i = s->ndone; i-- > 0;)
		step_release(&s->done[i]);
	free(s->done);
	undone_clear(s);
	free(s->undone);
	analysis_release(s);
	layout_release(&s->target);
	free(s->target_path);
	if (s->ck)
		ckpt_root_release(&s->root);
	ckpt_free(s->ck);
	free(s->path);
	free(s->root_arg);
	memset(s, 0, sizeof(*s));
}

/* Apply e and record it as a step; the redo list is left alone. */
static int
push_step(struct session *s, const struct edit *e, struct ckerr *err)
{
	struct session_step st;

	memset(&st, 0, sizeof(st));
	if (s->ndone == s->adone) {
		struct session_step *p = grow_array(s->done, &s->adone,
						    s->ndone + 1, sizeof(*p), 16);

		if (!p)
			return ckerr_nomem(err);
		s->done = p;
	}
	if (edit_copy(&st.edit, e, err) < 0)
		return -1;
	if (edit_apply_one(s->ck, &s->root, e, SESSION_SCRIPT_NAME, &st.result,
			   &st.undo, err) < 0) {
		edit_release(&st.edit);
		edit_result_release(&st.result);
		return -1;
	}
	s->done[s->ndone++] = st;
	s->gen++;
	return 0;
}

int
session_apply(struct session *s, const struct edit *e, struct ckerr *err)
{
	if (push_step(s, e, err) < 0)
		return -1;
	undone_clear(s);
	/* the written state cannot come back by redo any more */
	if (s->saved != SIZE_MAX && s->saved >= s->ndone)
		s->saved = SIZE_MAX;
	return 0;
}

int
session_apply_line(struct session *s, const char *line, struct ckerr *err)
{
	struct edit e;
	int r = script_parse_line(line, strlen(line), SESSION_SCRIPT_NAME,
				  (unsigned)(s->ndone + 1), &e, err);

	if (r <= 0)
		return r;
	r = session_apply(s, &e, err) < 0 ? -1 : 1;
	edit_release(&e);
	return r;
}

int
session_undo(struct session *s, struct ckerr *err)
{
	struct session_step *st;

	if (!s->ndone)
		return 0;
	st = &s->done[s->ndone - 1];
	if (s->nundone == s->aundone) {
		struct edit *p = grow_array(s->undone, &s->aundone,
					    s->nundone + 1, sizeof(*p), 16);

		if (!p)
			return ckerr_nomem(err);
		s->undone = p;
	}
	if (edit_undo_apply(s->ck, st->undo, err) < 0)
		return -1;
	s->undone[s->nundone++] = st->edit;	/* moved, not copied */
	memset(&st->edit, 0, sizeof(st->edit));
	step_release(st);
	s->ndone--;
	s->gen++;
	return 1;
}

int
session_redo(struct session *s, struct ckerr *err)
{
	struct edit *e;

	if (!s->nundone)
		return 0;
	e = &s->undone[s->nundone - 1];
	if (push_step(s, e, err) < 0)
		return -1;
	edit_release(e);
	s->nundone--;
	return 1;
}

bool
session_dirty(const struct session *s)
{
	return s->saved != s->ndone;
}

int
session_replay(struct session *s, const char *path, struct ckerr *err)
{
	struct buf text = BUF_INIT;
	struct script sc;
	char chunk[65536];
	size_t n, i, before = s->ndone;
	FILE *f = fopen(path, "rb");
	int r = 0;

	if (!f)
		return ckerr_errno(err, "%s: cannot open", path);
	buf_init(&text, SESSION_MAX_SCRIPT);
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0 && r == 0)
		if (buf_add(&text, chunk, n) < 0)
			r = errno == ENOMEM ? ckerr_nomem(err) :
			    ckerr_set(err, CKERR_LIMIT, "%s: script larger than "
				      "%zu MiB", path, SESSION_MAX_SCRIPT >> 20);
	if (r == 0 && ferror(f))
		r = ckerr_errno(err, "%s: cannot read", path);
	fclose(f);
	if (r == 0)
		r = script_parse(text.data ? text.data : "", text.len, path,
				 &sc, err);
	buf_release(&text);
	if (r < 0)
		return -1;
	/* the whole script is checked first, as apply does */
	if (edit_check(s->ck, &s->root, &sc, NULL, err) < 0) {
		script_release(&sc);
		return -1;
	}
	for (i = 0; i < sc.n && r == 0; i++)
		r = session_apply(s, &sc.edits[i], err);
	script_release(&sc);
	if (r < 0) {
		/* back to where the replay started */
		while (s->ndone > before && session_undo(s, NULL) > 0)
			;
		undone_clear(s);
		return -1;
	}
	return 0;
}

int
session_script(const struct session *s, struct buf *out)
{
	size_t i;

	if (buf_addf(out, "# ckpt-surgeon %s: edits made on %s\n",
		     PACKAGE_VERSION, s->path) < 0)
		return -1;
	for (i = 0; i < s->ndone; i++)
		if (edit_print(&s->done[i].edit, out) < 0 ||
		    buf_addch(out, '\n') < 0)
			return -1;
	return 0;
}

/* The session's edits as a struct script (borrowing the edits). */
static struct script
as_script(const struct session *s, struct edit *tmp)
{
	struct script sc;
	size_t i;

	for (i = 0; i < s->ndone; i++)
		tmp[i] = s->done[i].edit;
	sc.name = (char *)SESSION_SCRIPT_NAME;
	sc.edits = tmp;
	sc.n = s->ndone;
	return sc;
}

/* Options for a script or program written beside the checkpoint: never
 * over the checkpoint itself. */
static void
text_opts(const struct session *s, bool force, mode_t mode,
	  struct atomic_opts *o, struct stat *st)
{
	memset(o, 0, sizeof(*o));
	o->force = force;
	o->mode = mode;
	o->keep_what = "the checkpoint";
	if (stat(s->path, st) == 0)
		o->keep = st;
}

int
session_save_script(const struct session *s, const char *path, bool force,
		    struct ckerr *err)
{
	struct buf text = BUF_INIT;
	struct atomic_opts o;
	struct stat st;
	int r;

	if (session_script(s, &text) < 0) {
		buf_release(&text);
		return ckerr_nomem(err);
	}
	text_opts(s, force, 0644, &o, &st);
	r = write_buf_atomic(path, &text, &o, err);
	buf_release(&text);
	return r;
}

int
session_export(const struct session *s, const char *path, bool force,
	       struct ckerr *err)
{
	struct edit *tmp = calloc(s->ndone + 1, sizeof(*tmp));
	struct buf prog = BUF_INIT;
	struct atomic_opts o;
	struct script sc;
	struct stat st;
	int r;

	if (!tmp)
		return ckerr_nomem(err);
	sc = as_script(s, tmp);
	r = export_python(&sc, s->root_arg, PACKAGE_VERSION, &prog, err);
	free(tmp);
	if (r == 0) {
		text_opts(s, force, 0755, &o, &st);
		r = write_buf_atomic(path, &prog, &o, err);
	}
	buf_release(&prog);
	return r;
}

int
session_write(struct session *s, const char *path, bool force,
	      struct ckerr *err)
{
	struct write_opts o = { force, 0 };

	if (ckpt_write(s->ck, path, &o, err) < 0)
		return -1;
	s->saved = s->ndone;
	return 0;
}

int
session_set_target(struct session *s, const char *path, struct ckerr *err)
{
	struct layout l;
	char *p = NULL;

	if (path) {
		p = strdup(path);
		if (!p)
			return ckerr_nomem(err);
		if (layout_load(path, &l, err) < 0) {
			free(p);
			return -1;
		}
	}
	layout_release(&s->target);
	free(s->target_path);
	s->target_path = p;
	if (p)
		s->target = l;
	s->analyzed = false;
	return 0;
}

int
session_analyze(struct session *s, struct ckerr *err)
{
	if (s->analyzed && s->agen == s->gen)
		return 0;
	analysis_release(s);
	if (layout_from_root(s->ck, &s->root, &s->cur, err) < 0)
		return -1;
	if (s->target_path &&
	    (layout_diff(&s->cur, &s->target, &s->diff, err) < 0 ||
	     suggest(&s->cur, &s->target, &s->sugg, err) < 0)) {
		analysis_release(s);
		return -1;
	}
	s->agen = s->gen;
	s->analyzed = true;
	return 0;
}
