/* tui: the interactive UI's main loop, its commands and answers. */
#include "config.h"

#include <curses.h>
#include <inttypes.h>
#include <langinfo.h>
#include <locale.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "report.h"
#include "ui.h"
#include "banned.h"

void
ui_message(struct ui *ui, enum ui_msg kind, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(ui->msg, sizeof(ui->msg), fmt, ap);
	va_end(ap);
	ui->msg_kind = kind;
}

struct tree_node *
ui_selected(const struct ui *ui)
{
	if (!ui->tree_built || ui->tv.cur >= ui->tree.nrows)
		return NULL;
	return ui->tree.rows[ui->tv.cur].node;
}

enum ui_pane
ui_pane(const struct ui *ui, size_t *tree_h, size_t *pane_h)
{
	size_t body = ui->rows > 2 ? (size_t)(ui->rows - 2) : 1;

	*tree_h = body;
	*pane_h = 0;
	if (ui->screen != SCREEN_TREE || !ui->detail)
		return PANE_NONE;
	if (ui->cols >= DETAIL_MIN_COLS)
		return PANE_SIDE;
	if (body < DETAIL_BELOW_MIN_BODY)
		return PANE_NONE;
	*pane_h = body / 3 < DETAIL_BELOW_ROWS ? body / 3 : DETAIL_BELOW_ROWS;
	*tree_h = body - *pane_h;
	return PANE_BELOW;
}

size_t
ui_tree_height(const struct ui *ui)
{
	size_t tree_h, pane_h;

	ui_pane(ui, &tree_h, &pane_h);
	return tree_h;
}

size_t
ui_diff_first(const struct ui *ui)
{
	return ui->diff_lines + 2;	/* a blank line, the heading */
}

/* The rows of the current screen's list. */
static size_t
list_len(const struct ui *ui)
{
	switch (ui->screen) {
	case SCREEN_DIFF:
		return ui_diff_first(ui) + ui->s.sugg.n;
	case SCREEN_HELP:
		return ui_nbindings + 2;
	default:
		return ui->tree.nrows;
	}
}

static struct view *
list_view(struct ui *ui)
{
	return ui->screen == SCREEN_DIFF ? &ui->dv :
	       ui->screen == SCREEN_HELP ? &ui->hv : &ui->tv;
}

/* Select node n (revealing it). */
static void
select_node(struct ui *ui, struct tree_node *n)
{
	struct ckerr err = CKERR_INIT;
	ptrdiff_t row;

	tree_reveal(n);
	if (tree_rows(&ui->tree, &err) < 0) {
		ui_message(ui, MSG_ERROR, "%s", err.msg);
		return;
	}
	row = tree_row_of(&ui->tree, n);
	if (row >= 0)
		view_goto(&ui->tv, (size_t)row, ui->tree.nrows,
			  ui_tree_height(ui));
}

/* The diff screen's report, for the session as it now is; the cursor
 * goes to the first suggestion. */
static void
diff_refresh(struct ui *ui)
{
	struct ckerr err = CKERR_INIT;
	struct report rp = { ui->s.path, ui->s.target_path, &ui->s.cur,
			     &ui->s.target, &ui->s.diff, &ui->s.sugg };
	const char *p;

	buf_reset(&ui->diff_text);
	ui->diff_lines = 0;
	if (!ui->s.target_path)
		return;
	if (report_text(&rp, REPORT_NO_SUGGESTIONS, &ui->diff_text, &err) < 0) {
		ui_message(ui, MSG_ERROR, "%s", err.msg);
		buf_reset(&ui->diff_text);
		return;
	}
	for (p = ui->diff_text.data; p && *p; p++)
		ui->diff_lines += *p == '\n';
	view_goto(&ui->dv, ui->s.sugg.n ? ui_diff_first(ui) : 0,
		  ui_diff_first(ui) + ui->s.sugg.n, ui_tree_height(ui));
}

/*
 * Rebuild the tree from the session after a change, keeping what was
 * expanded, the filter, and the selection (following the selected key
 * when the last edit renamed it).
 */
static void
rebuild(struct ui *ui)
{
	struct ckerr err = CKERR_INIT;
	struct tree nt;
	struct tree_node *sel = ui_selected(ui), *n;
	char *path = sel ? strdup(sel->path) : NULL;
	bool sd = sel && sel->sd;
	size_t i;

	if (session_analyze(&ui->s, &err) < 0 ||
	    tree_build(&nt, ui->s.ck, &ui->s.root, &ui->s.cur,
		       ui->s.target_path ? &ui->s.target : NULL,
		       ui->s.target_path ? &ui->s.diff : NULL, &err) < 0) {
		ui_message(ui, MSG_ERROR, "%s", err.msg);
		free(path);
		ui->tree_gen = ui->s.gen;
		return;
	}
	if (ui->tree_built) {
		tree_keep_state(&nt, &ui->tree);
		if (ui->tree.filter)
			tree_set_filter(&nt, ui->tree.filter, &err);
		tree_free(&ui->tree);
	}
	ui->tree = nt;
	ui->tree_built = true;
	ui->tree_gen = ui->s.gen;
	ui->stats_for = NULL;
	if (tree_rows(&ui->tree, &err) < 0)
		ui_message(ui, MSG_ERROR, "%s", err.msg);
	if (path && sd && ui->s.ndone) {
		const struct edit_result *res = &ui->s.done[ui->s.ndone - 1].result;

		for (i = 0; i < res->n; i++)
			if (res->changes[i].to && !strcmp(res->changes[i].from,
							  path)) {
				free(path);
				path = strdup(res->changes[i].to);
				break;
			}
	}
	n = path ? tree_find(&ui->tree, path, sd) : NULL;
	if (n)
		select_node(ui, n);
	view_fit(&ui->tv, ui->tree.nrows, ui_tree_height(ui));
	free(path);
	diff_refresh(ui);
}

/* ---- commands -------------------------------------------------------- */

static void
cmd_up(struct ui *ui, const char *arg)
{
	(void)arg;
	view_step(list_view(ui), -1, list_len(ui), ui_tree_height(ui));
}

static void
cmd_down(struct ui *ui, const char *arg)
{
	(void)arg;
	view_step(list_view(ui), 1, list_len(ui), ui_tree_height(ui));
}

static void
cmd_page_up(struct ui *ui, const char *arg)
{
	(void)arg;
	view_page(list_view(ui), -1, list_len(ui), ui_tree_height(ui));
}

static void
cmd_page_down(struct ui *ui, const char *arg)
{
	(void)arg;
	view_page(list_view(ui), 1, list_len(ui), ui_tree_height(ui));
}

static void
cmd_top(struct ui *ui, const char *arg)
{
	(void)arg;
	view_goto(list_view(ui), 0, list_len(ui), ui_tree_height(ui));
}

static void
cmd_bottom(struct ui *ui, const char *arg)
{
	size_t n = list_len(ui);

	(void)arg;
	view_goto(list_view(ui), n ? n - 1 : 0, n, ui_tree_height(ui));
}

static void
relist(struct ui *ui)
{
	struct ckerr err = CKERR_INIT;

	if (tree_rows(&ui->tree, &err) < 0)
		ui_message(ui, MSG_ERROR, "%s", err.msg);
	view_fit(&ui->tv, ui->tree.nrows, ui_tree_height(ui));
}

static void apply_suggestion(struct ui *ui);

static void
cmd_toggle(struct ui *ui, const char *arg)
{
	struct tree_node *n = ui_selected(ui);

	(void)arg;
	if (ui->screen == SCREEN_DIFF) {
		apply_suggestion(ui);
		return;
	}
	if (n && n->nkids) {
		n->expanded = !n->expanded;
		relist(ui);
	}
}

static void
cmd_expand(struct ui *ui, const char *arg)
{
	struct tree_node *n = ui_selected(ui);

	(void)arg;
	if (!n || !n->nkids)
		return;
	if (!n->expanded) {
		n->expanded = true;
		relist(ui);
	} else {
		cmd_down(ui, NULL);
	}
}

static void
cmd_collapse(struct ui *ui, const char *arg)
{
	struct tree_node *n = ui_selected(ui);

	(void)arg;
	if (!n)
		return;
	if (n->nkids && n->expanded) {
		n->expanded = false;
		relist(ui);
	} else if (n->parent && n->parent->kind != TK_ROOT) {
		select_node(ui, n->parent);
	}
}

static void
cmd_expand_all(struct ui *ui, const char *arg)
{
	struct tree_node *n = ui_selected(ui);

	(void)arg;
	tree_expand(n && n->nkids ? n : ui->tree.root, true, true);
	relist(ui);
}

static void
cmd_collapse_all(struct ui *ui, const char *arg)
{
	struct tree_node *n = ui_selected(ui);

	(void)arg;
	tree_expand(ui->tree.root, false, true);
	ui->tree.root->expanded = true;
	while (n && n->parent && n->parent->kind != TK_ROOT)
		n = n->parent;
	relist(ui);
	if (n)
		select_node(ui, n);
}

static void
search(struct ui *ui, bool backward)
{
	struct tree_node *n;

	if (!ui->search || !*ui->search) {
		ui_message(ui, MSG_INFO, "no search yet (press /)");
		return;
	}
	n = tree_search(&ui->tree, ui_selected(ui), ui->search, backward);
	if (!n) {
		ui_message(ui, MSG_ERROR, "not found: %s", ui->search);
		return;
	}
	select_node(ui, n);
}

static void
cmd_search(struct ui *ui, const char *arg)
{
	if (!arg || !*arg) {
		prompt_open(ui, ASK_SEARCH, NULL);
		return;
	}
	free(ui->search);
	ui->search = strdup(arg);
	search(ui, false);
}

static void
cmd_search_next(struct ui *ui, const char *arg)
{
	(void)arg;
	search(ui, false);
}

static void
cmd_search_prev(struct ui *ui, const char *arg)
{
	(void)arg;
	search(ui, true);
}

static void
set_filter(struct ui *ui, const char *text)
{
	struct ckerr err = CKERR_INIT;

	if (tree_set_filter(&ui->tree, text, &err) < 0)
		ui_message(ui, MSG_ERROR, "%s", err.msg);
	relist(ui);
	if (text && *text)
		ui_message(ui, MSG_INFO, "filter '%s': %zu rows (f then Enter "
			   "to clear)", text, ui->tree.nrows);
}

static void
cmd_filter(struct ui *ui, const char *arg)
{
	if (!arg) {
		prompt_open(ui, ASK_FILTER, ui->tree.filter);
		return;
	}
	set_filter(ui, arg);
}

static void
cmd_sort(struct ui *ui, const char *arg)
{
	static const char *const names[] = { "file", "name", "size" };
	int i;

	if (arg && *arg) {
		for (i = 0; i < 3 && strcmp(arg, names[i]); i++)
			;
		if (i == 3) {
			ui_message(ui, MSG_ERROR, "sort by file, name or size");
			return;
		}
		ui->tree.sort = (enum tree_sort)i;
	} else {
		ui->tree.sort = (enum tree_sort)((ui->tree.sort + 1) % 3);
	}
	relist(ui);
	ui_message(ui, MSG_INFO, "sorted by %s", names[ui->tree.sort]);
}

static void
cmd_detail(struct ui *ui, const char *arg)
{
	(void)arg;
	ui->detail = !ui->detail;
}

/* The column dialog for the selected tensor. */
static void
cmd_column(struct ui *ui, const char *arg)
{
	struct tree_node *n = ui_selected(ui);
	struct ui_dialog *dg = &ui->dialog;
	int dim;

	if (!n || !n->sd || n->kind != TK_TENSOR || !n->t) {
		ui_message(ui, MSG_ERROR, "select a tensor of the state dict "
			   "first");
		return;
	}
	memset(dg, 0, sizeof(*dg));
	dg->key = strdup(n->path);
	if (!dg->key)
		return;
	dim = n->t->ndim >= 2 ? 1 : 0;
	dg->open = true;
	snprintf(dg->text[0], sizeof(dg->text[0]), "%d", dim);
	dg->label[0] = "dim ";
	if (arg && !strcmp(arg, "insert")) {
		dg->op = EDIT_INSERT_COLUMN;
		dg->nfields = 3;
		dg->label[1] = "at ";
		dg->label[2] = "value ";
		snprintf(dg->text[1], sizeof(dg->text[1]), "%" PRId64,
			 n->t->ndim ? n->t->shape[dim] : 0);
		snprintf(dg->text[2], sizeof(dg->text[2]), "0");
	} else if (arg && !strcmp(arg, "delete")) {
		dg->op = EDIT_DELETE_COLUMN;
		dg->nfields = 2;
		dg->label[1] = "index ";
	} else {
		dg->op = EDIT_MOVE_COLUMN;
		dg->nfields = 3;
		dg->label[1] = "from ";
		dg->label[2] = "to ";
	}
	dg->field = 1;
	{
		struct buf b = BUF_INIT;

		snprintf(dg->shape, sizeof(dg->shape), "%s %s",
			 dtype_name(n->t->dtype),
			 layout_add_shape(&b, n->t->shape, n->t->ndim) < 0 ?
			 "[...]" : b.data);
		buf_release(&b);
	}
}

static void
cmd_command(struct ui *ui, const char *arg)
{
	prompt_open(ui, ASK_COMMAND, arg);
}

static void
cmd_undo(struct ui *ui, const char *arg)
{
	struct ckerr err = CKERR_INIT;
	int r;

	(void)arg;
	r = session_undo(&ui->s, &err);
	if (r < 0)
		ui_message(ui, MSG_ERROR, "%s", err.msg);
	else if (r == 0)
		ui_message(ui, MSG_INFO, "nothing to undo");
	else
		ui_message(ui, MSG_INFO, "undone (%zu edits left; C-r redoes)",
			   ui->s.ndone);
}

static void
cmd_redo(struct ui *ui, const char *arg)
{
	struct ckerr err = CKERR_INIT;
	int r;

	(void)arg;
	r = session_redo(&ui->s, &err);
	if (r < 0)
		ui_message(ui, MSG_ERROR, "%s", err.msg);
	else if (r == 0)
		ui_message(ui, MSG_INFO, "nothing to redo");
	else
		ui_message(ui, MSG_INFO, "redone (%zu edits)", ui->s.ndone);
}

static void
cmd_target(struct ui *ui, const char *arg)
{
	struct ckerr err = CKERR_INIT;

	if (!arg || !*arg) {
		prompt_open(ui, ASK_TARGET, ui->s.target_path);
		return;
	}
	if (session_set_target(&ui->s, arg, &err) < 0) {
		ui_message(ui, MSG_ERROR, "%s", err.msg);
		return;
	}
	ui->tree_gen = ui->s.gen - 1;	/* rebuild with the marks */
	ui_message(ui, MSG_INFO, "target %s loaded (D shows the diff)", arg);
}

static void
cmd_diff(struct ui *ui, const char *arg)
{
	(void)arg;
	ui->screen = ui->screen == SCREEN_DIFF ? SCREEN_TREE : SCREEN_DIFF;
	if (ui->screen == SCREEN_DIFF)
		view_goto(&ui->dv, ui->s.sugg.n ? ui_diff_first(ui) : 0,
			  list_len(ui), ui_tree_height(ui));
}

static void
cmd_help(struct ui *ui, const char *arg)
{
	(void)arg;
	ui->screen = ui->screen == SCREEN_HELP ? SCREEN_TREE : SCREEN_HELP;
}

/* Ask before replacing path; else run "NAME-force path". */
static bool
ask_replace(struct ui *ui, const char *name, const char *path)
{
	struct ui_confirm *c = &ui->confirm;
	size_t len;

	if (access(path, F_OK) != 0)
		return false;
	free(c->command);
	len = strlen(name) + strlen(path) + 8;
	c->command = malloc(len);
	if (!c->command)
		return false;
	snprintf(c->command, len, "%s-force %s", name, path);
	snprintf(c->question, sizeof(c->question), "%s exists: replace it? "
		 "(y/n)", path);
	c->open = true;
	return true;
}

/* What w, S and X write. */
enum output { OUT_WRITE, OUT_SAVE, OUT_EXPORT };

static const struct {
	const char *name;	/* its command; NAME-force replaces a file */
	enum ui_ask ask;
	const char *done;	/* what the message says before the path */
} outputs[] = {
	[OUT_WRITE] = { "write", ASK_WRITE, "wrote" },
	[OUT_SAVE] = { "save", ASK_SAVE, "saved the script to" },
	[OUT_EXPORT] = { "export", ASK_EXPORT,
			 "exported the edits as Python to" },
};

/* Write path (asking first when it exists and force is not given; with
 * no path, asking for one). */
static void
output(struct ui *ui, enum output o, const char *path, bool force)
{
	struct ckerr err = CKERR_INIT;
	int r;

	if (!path || !*path) {
		prompt_open(ui, outputs[o].ask, NULL);
		return;
	}
	if (!force && ask_replace(ui, outputs[o].name, path))
		return;
	r = o == OUT_WRITE ? session_write(&ui->s, path, force, &err) :
	    o == OUT_SAVE ? session_save_script(&ui->s, path, force, &err) :
	    session_export(&ui->s, path, force, &err);
	if (r < 0)
		ui_message(ui, MSG_ERROR, "%s", err.msg);
	else
		ui_message(ui, MSG_INFO, "%s %s (%zu edits)", outputs[o].done,
			   path, ui->s.ndone);
}

static void
cmd_write(struct ui *ui, const char *arg)
{
	output(ui, OUT_WRITE, arg, false);
}

static void
cmd_write_force(struct ui *ui, const char *arg)
{
	output(ui, OUT_WRITE, arg, true);
}

static void
cmd_save(struct ui *ui, const char *arg)
{
	output(ui, OUT_SAVE, arg, false);
}

static void
cmd_save_force(struct ui *ui, const char *arg)
{
	output(ui, OUT_SAVE, arg, true);
}

static void
cmd_export(struct ui *ui, const char *arg)
{
	output(ui, OUT_EXPORT, arg, false);
}

static void
cmd_export_force(struct ui *ui, const char *arg)
{
	output(ui, OUT_EXPORT, arg, true);
}

static void
cmd_redraw(struct ui *ui, const char *arg)
{
	(void)ui;
	(void)arg;
	clearok(curscr, TRUE);
}

static void
cmd_quit(struct ui *ui, const char *arg)
{
	(void)arg;
	if (ui->screen != SCREEN_TREE) {
		ui->screen = SCREEN_TREE;
		return;
	}
	if (session_dirty(&ui->s)) {
		free(ui->confirm.command);
		ui->confirm.command = strdup("quit-force");
		snprintf(ui->confirm.question, sizeof(ui->confirm.question),
			 "%zu unsaved edits (w writes the checkpoint): quit "
			 "anyway? (y/n)", ui->s.ndone);
		ui->confirm.open = ui->confirm.command != NULL;
		return;
	}
	ui->quit = true;
}

static void
cmd_quit_force(struct ui *ui, const char *arg)
{
	(void)arg;
	ui->quit = true;
}

const struct ui_command ui_commands[] = {
	{ "up", "", cmd_up, "move up a row" },
	{ "down", "", cmd_down, "move down a row" },
	{ "page-up", "", cmd_page_up, "up a screen" },
	{ "page-down", "", cmd_page_down, "down a screen" },
	{ "top", "", cmd_top, "the first row" },
	{ "bottom", "", cmd_bottom, "the last row" },
	{ "toggle", "", cmd_toggle, "open or close the subtree; in the diff, "
	  "apply the selected suggestion" },
	{ "expand", "", cmd_expand, "open the subtree (or go into it)" },
	{ "collapse", "", cmd_collapse, "close the subtree (or go to its "
	  "parent)" },
	{ "expand-all", "", cmd_expand_all, "open everything under the row" },
	{ "collapse-all", "", cmd_collapse_all, "close everything" },
	{ "search", "TEXT", cmd_search, "find a path containing TEXT" },
	{ "search-next", "", cmd_search_next, "the next match" },
	{ "search-prev", "", cmd_search_prev, "the previous match" },
	{ "filter", "TEXT", cmd_filter, "show only paths containing TEXT" },
	{ "sort", "[file|name|size]", cmd_sort, "order siblings by file "
	  "order, name or size" },
	{ "detail", "", cmd_detail, "show or hide the detail pane" },
	{ "column", "move|insert|delete", cmd_column, "a column edit of the "
	  "selected tensor, in a dialog" },
	{ "command", "", cmd_command, "type a script line or a command" },
	{ "undo", "", cmd_undo, "undo the last edit" },
	{ "redo", "", cmd_redo, "redo what was undone" },
	{ "target", "PATH", cmd_target, "compare with a target (checkpoint "
	  "or layout file)" },
	{ "diff", "", cmd_diff, "the diff against the target and its "
	  "suggestions" },
	{ "write", "PATH", cmd_write, "write the edited checkpoint" },
	{ "write-force", "PATH", cmd_write_force, "write, replacing PATH" },
	{ "save", "PATH", cmd_save, "save the edits as a script" },
	{ "save-force", "PATH", cmd_save_force, "save, replacing PATH" },
	{ "export", "PATH", cmd_export, "export the edits as Python" },
	{ "export-force", "PATH", cmd_export_force, "export, replacing PATH" },
	{ "redraw", "", cmd_redraw, "redraw the screen" },
	{ "help", "", cmd_help, "this screen" },
	{ "quit", "", cmd_quit, "quit (asks when edits are unsaved)" },
	{ "quit-force", "", cmd_quit_force, "quit without asking" },
};

const size_t ui_ncommands = sizeof(ui_commands) / sizeof(ui_commands[0]);

/* ---- running lines --------------------------------------------------- */

static void
report_edit(struct ui *ui)
{
	const struct session_step *st = &ui->s.done[ui->s.ndone - 1];
	struct buf line = BUF_INIT;

	edit_print(&st->edit, &line);
	if (st->result.warning)
		ui_message(ui, MSG_ERROR, "warning: %s", st->result.warning);
	else
		ui_message(ui, MSG_INFO, "%s: %zu changed (u undoes)",
			   line.data ? line.data : "", st->result.n);
	buf_release(&line);
}

void
ui_run_line(struct ui *ui, const char *line)
{
	struct ckerr err = CKERR_INIT;
	const struct ui_command *c;
	size_t len;
	int r;

	while (*line == ' ' || *line == '\t')
		line++;
	len = strcspn(line, " \t");
	c = ui_command_find(line, len);
	if (c) {
		const char *arg = line + len;

		while (*arg == ' ' || *arg == '\t')
			arg++;
		c->exec(ui, *arg ? arg : NULL);
		return;
	}
	r = session_apply_line(&ui->s, line, &err);
	if (r < 0)
		ui_message(ui, MSG_ERROR, "%s", err.msg);
	else if (r > 0)
		report_edit(ui);
}

static void
apply_suggestion(struct ui *ui)
{
	struct ckerr err = CKERR_INIT;

	size_t first = ui_diff_first(ui);

	if (ui->dv.cur < first || ui->dv.cur - first >= ui->s.sugg.n) {
		ui_message(ui, MSG_INFO, "select a suggested edit first");
		return;
	}
	if (session_apply(&ui->s, &ui->s.sugg.v[ui->dv.cur - first].edit,
			  &err) < 0)
		ui_message(ui, MSG_ERROR, "%s", err.msg);
	else
		report_edit(ui);
}

void
ui_answer(struct ui *ui, enum ui_ask ask, const char *text)
{
	switch (ask) {
	case ASK_COMMAND:
		ui_run_line(ui, text);
		break;
	case ASK_SEARCH:
		if (*text)
			cmd_search(ui, text);
		else
			search(ui, false);
		break;
	case ASK_FILTER:
		set_filter(ui, text);
		break;
	case ASK_TARGET:
		if (*text)
			cmd_target(ui, text);
		break;
	case ASK_WRITE:
		if (*text)
			cmd_write(ui, text);
		break;
	case ASK_SAVE:
		if (*text)
			cmd_save(ui, text);
		break;
	case ASK_EXPORT:
		if (*text)
			cmd_export(ui, text);
		break;
	}
}

/* ---- dialog, confirm, mouse, keys ----------------------------------- */

static void
dialog_key(struct ui *ui, int key)
{
	struct ui_dialog *dg = &ui->dialog;
	char *t = dg->text[dg->field];
	size_t len = strlen(t);

	if (key == 27 || key == 7) {
		dg->open = false;
		ui_message(ui, MSG_INFO, "cancelled");
	} else if (key == '\t' || key == KEY_DOWN || key == KEY_RIGHT) {
		dg->field = (dg->field + 1) % dg->nfields;
	} else if (key == KEY_BTAB || key == KEY_UP || key == KEY_LEFT) {
		dg->field = (dg->field + dg->nfields - 1) % dg->nfields;
	} else if (key == KEY_BACKSPACE || key == 127 || key == 8) {
		if (len)
			t[len - 1] = '\0';
	} else if (key == '\n' || key == '\r' || key == KEY_ENTER) {
		struct buf line = BUF_INIT;
		struct buf q = BUF_INIT;

		script_quote(dg->key, &q);
		buf_addf(&line, "%s %s", edit_name((enum edit_op)dg->op),
			 q.data ? q.data : "''");
		if (dg->op == EDIT_MOVE_COLUMN)
			buf_addf(&line, " %s %s", dg->text[1], dg->text[2]);
		else
			buf_addf(&line, " %s", dg->text[1]);
		buf_addf(&line, " --dim %s", dg->text[0]);
		if (dg->op == EDIT_INSERT_COLUMN && dg->text[2][0])
			buf_addf(&line, " --value %s", dg->text[2]);
		dg->open = false;
		if (line.data)
			ui_run_line(ui, line.data);
		buf_release(&line);
		buf_release(&q);
	} else if (key > ' ' && key < 127 && len + 1 < sizeof(dg->text[0])) {
		t[len] = (char)key;
		t[len + 1] = '\0';
	}
	if (!dg->open) {
		free(dg->key);
		dg->key = NULL;
	}
}

static void
mouse(struct ui *ui)
{
	MEVENT ev;
	size_t h = ui_tree_height(ui);

	if (getmouse(&ev) != OK)
		return;
	if (ev.bstate & BUTTON4_PRESSED) {
		view_step(list_view(ui), -3, list_len(ui), h);
	} else if (ev.bstate & BUTTON5_PRESSED) {
		view_step(list_view(ui), 3, list_len(ui), h);
	} else if (ev.bstate & (BUTTON1_CLICKED | BUTTON1_PRESSED |
				BUTTON1_DOUBLE_CLICKED)) {
		struct view *v = list_view(ui);

		if (ev.y < 1 || (size_t)ev.y > h)
			return;
		view_goto(v, v->top + (size_t)ev.y - 1, list_len(ui), h);
		if (ev.bstate & BUTTON1_DOUBLE_CLICKED)
			cmd_toggle(ui, NULL);
	}
}

static void
key(struct ui *ui, int ch)
{
	const struct ui_binding *kb;
	char *line;

	if (ch == KEY_RESIZE) {
		getmaxyx(stdscr, ui->rows, ui->cols);
		view_fit(&ui->tv, ui->tree.nrows, ui_tree_height(ui));
		return;
	}
	if (ui->prompting) {
		prompt_key(ui, ch);
		return;
	}
	ui->msg[0] = '\0';
	if (ui->confirm.open) {
		ui->confirm.open = false;
		if (ch == 'y' || ch == 'Y')
			ui_run_line(ui, ui->confirm.command);
		else
			ui_message(ui, MSG_INFO, "cancelled");
		return;
	}
	if (ui->dialog.open) {
		dialog_key(ui, ch);
		return;
	}
	if (ch == KEY_MOUSE) {
		mouse(ui);
		return;
	}
	if (ch == 27 && ui->screen != SCREEN_TREE) {
		ui->screen = SCREEN_TREE;
		return;
	}
	if (ch == '\r')
		ch = '\n';
	kb = ui_binding_for(ch);
	if (!kb)
		return;
	line = ui_expand(kb->command, ui_selected(ui));
	if (!line)
		return;
	if (kb->prompt)
		prompt_open(ui, ASK_COMMAND, line);
	else
		ui_run_line(ui, line);
	free(line);
}

int
tui_main(const char *file, const char *target, const char *script,
	 const char *root)
{
	struct ckerr err = CKERR_INIT;
	struct ui ui;

	memset(&ui, 0, sizeof(ui));
	setlocale(LC_ALL, "");
	ui.utf8 = !strcmp(nl_langinfo(CODESET), "UTF-8");
	if (session_open(&ui.s, file, root, &err) < 0) {
		fprintf(stderr, "ckpt-surgeon: %s: %s\n", file, err.msg);
		return 2;
	}
	if ((target && session_set_target(&ui.s, target, &err) < 0) ||
	    (script && session_replay(&ui.s, script, &err) < 0)) {
		fprintf(stderr, "ckpt-surgeon: %s\n", err.msg);
		session_close(&ui.s);
		return 2;
	}
	/* what is wrong with the input first, then the terminal */
	if (!isatty(STDIN_FILENO) || !isatty(STDOUT_FILENO)) {
		fprintf(stderr, "ckpt-surgeon: %s: the interactive UI needs a "
			"terminal (see 'ckpt-surgeon --help' for the commands)\n",
			file);
		session_close(&ui.s);
		return 2;
	}
	initscr();
	cbreak();
	noecho();
	nonl();
	keypad(stdscr, TRUE);
	set_escdelay(25);
	mousemask(BUTTON1_CLICKED | BUTTON1_DOUBLE_CLICKED | BUTTON4_PRESSED |
		  BUTTON5_PRESSED, NULL);
	curs_set(0);
	ui_colors_init(&ui);
	getmaxyx(stdscr, ui.rows, ui.cols);
	prompt_init(&ui);
	ui.detail = true;
	rebuild(&ui);
	if (script)
		ui_message(&ui, MSG_INFO, "replayed %zu edits of %s (u undoes)",
			   ui.s.ndone, script);
	while (!ui.quit) {
		if (!ui.tree_built || ui.tree_gen != ui.s.gen)
			rebuild(&ui);
		ui_draw(&ui);
		key(&ui, getch());
	}
	endwin();
	prompt_release();
	free(ui.search);
	buf_release(&ui.diff_text);
	free(ui.dialog.key);
	free(ui.confirm.command);
	tree_free(&ui.tree);
	session_close(&ui.s);
	return 0;
}
