/* draw: the screens (tree with detail pane, diff, help) and status line. */
#include "config.h"

#define NCURSES_WIDECHAR 1
#include <curses.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <wchar.h>

#include "torchpkl.h"
#include "ui.h"
#include "banned.h"

enum {
	PAIR_HEADER = 1,
	PAIR_SELECT,
	PAIR_MISSING,
	PAIR_UNEXPECTED,
	PAIR_MISMATCHED,
	PAIR_DIM,
	PAIR_ERROR,
};

void
ui_colors_init(struct ui *ui)
{
	ui->color = has_colors() && !getenv("NO_COLOR");
	if (!ui->color)
		return;
	start_color();
	use_default_colors();
	init_pair(PAIR_HEADER, COLOR_BLACK, COLOR_CYAN);
	init_pair(PAIR_SELECT, COLOR_BLACK, COLOR_WHITE);
	init_pair(PAIR_MISSING, COLOR_RED, -1);
	init_pair(PAIR_UNEXPECTED, COLOR_YELLOW, -1);
	init_pair(PAIR_MISMATCHED, COLOR_MAGENTA, -1);
	init_pair(PAIR_DIM, COLOR_BLUE, -1);
	init_pair(PAIR_ERROR, COLOR_RED, -1);
}

static void
set_pair(const struct ui *ui, int pair, bool on)
{
	if (!ui->color)
		return;
	if (on)
		attron(COLOR_PAIR(pair));
	else
		attroff(COLOR_PAIR(pair));
}

/* "1.5 MiB" */
static void
human(char *out, size_t len, uint64_t n)
{
	static const char *const unit[] = { "B", "KiB", "MiB", "GiB", "TiB",
					    "PiB", "EiB" };
	double v = (double)n;
	int u = 0;

	while (v >= 1024 && u < 6) {
		v /= 1024;
		u++;
	}
	if (u == 0)
		snprintf(out, len, "%" PRIu64 " B", n);
	else
		snprintf(out, len, "%.1f %s", v, unit[u]);
}

/* "[d0, d1]" as layout files write shapes, cut to len. */
static void
shape_text(char *out, size_t len, const int64_t *dims, int n)
{
	struct buf b = BUF_INIT;

	snprintf(out, len, "%s", layout_add_shape(&b, dims, n) < 0 ? "[...]" :
		 b.data);
	buf_release(&b);
}

/*
 * Put text at (y, x) in exactly width columns (cut or padded), as the
 * locale decodes it; control characters and undecodable bytes (keys come
 * from untrusted files) are shown as '?' so they cannot drive the
 * terminal.
 */
static void
put(int y, int x, const char *text, int width)
{
	size_t left = strlen(text);
	const char *p = text;
	mbstate_t st;
	int col = 0;

	if (width <= 0)
		return;
	memset(&st, 0, sizeof(st));
	move(y, x);
	while (left && col < width) {
		wchar_t wc;
		size_t k = mbrtowc(&wc, p, left, &st);
		int w;

		if (k == (size_t)-1 || k == (size_t)-2 || k == 0) {
			wc = L'?';
			k = 1;
			memset(&st, 0, sizeof(st));
		}
		if (wc < 0x20 || wc == 0x7f || (wc >= 0x80 && wc < 0xa0))
			wc = L'?';
		w = wcwidth(wc);
		if (w < 0) {
			wc = L'?';
			w = 1;
		}
		if (col + w > width)
			break;
		addnwstr(&wc, 1);
		col += w;
		p += k;
		left -= k;
	}
	for (; col < width; col++)
		addch(' ');
}

/* ---- header ---------------------------------------------------------- */

static void
draw_header(struct ui *ui)
{
	char line[1024], size[32];
	const struct tree_node *sd = ui->tree.sd;
	int at;

	const char *base = strrchr(ui->s.path, '/');

	human(size, sizeof(size), sd ? sd->bytes : 0);
	at = snprintf(line, sizeof(line), " %s (%s)  %" PRIu64 " tensors, %s  "
		      "edits: %zu%s", base ? base + 1 : ui->s.path,
		      ckpt_format_name(ckpt_format(ui->s.ck)),
		      sd ? sd->tensors : 0, size, ui->s.ndone,
		      session_dirty(&ui->s) ? " unsaved" : "");
	if (ui->s.target_path && at > 0 && (size_t)at < sizeof(line))
		snprintf(line + at, sizeof(line) - (size_t)at,
			 "  | target: %zu missing, %zu unexpected, %zu "
			 "mismatched", ui->s.diff.nmissing,
			 ui->s.diff.nunexpected, ui->s.diff.nmismatched);
	attron(A_BOLD);
	set_pair(ui, PAIR_HEADER, true);
	if (!ui->color)
		attron(A_REVERSE);
	put(0, 0, line, ui->cols);
	attroff(A_REVERSE);
	set_pair(ui, PAIR_HEADER, false);
	attroff(A_BOLD);
}

/* ---- the tree -------------------------------------------------------- */

/* Is n the last of its siblings that the rows show? */
static bool
last_shown(const struct tree *t, const struct tree_node *n)
{
	const struct tree_node *p = n->parent;
	size_t i;

	if (!p)
		return true;
	if (!t->filter)
		return n->idx + 1 == p->nkids;
	for (i = n->idx + 1; i < p->nkids; i++)
		if (p->kids[i]->match)
			return false;
	return true;
}

static void
tree_prefix(const struct ui *ui, const struct tree_row *r, char *out,
	    size_t len)
{
	const char *vert = ui->utf8 ? "\u2502 " : "| ";
	const char *tee = ui->utf8 ? "\u251c\u2500" : "|-";
	const char *elbow = ui->utf8 ? "\u2514\u2500" : "`-";
	const struct tree_node *chain[64];
	const struct tree_node *n = r->node;
	size_t at = 0;
	int d, depth = r->depth < 64 ? r->depth : 63;

	/* the ancestors at depths 1 .. depth-1 draw a line when more of their
	 * siblings follow */
	for (d = r->depth; d >= 0; d--) {
		if (d < 64)
			chain[d] = n;
		n = n->parent;
	}
	out[0] = '\0';
	for (d = 1; d <= depth && at + 8 < len; d++) {
		const char *s = d == depth ?
		    (last_shown(&ui->tree, chain[d]) ? elbow : tee) :
		    (last_shown(&ui->tree, chain[d]) ? "  " : vert);

		at += (size_t)snprintf(out + at, len - at, "%s", s);
	}
}

static int
mark_pair(const struct tree_node *n)
{
	switch (n->mark) {
	case TM_MISSING:
		return PAIR_MISSING;
	case TM_UNEXPECTED:
		return PAIR_UNEXPECTED;
	case TM_MISMATCHED:
		return PAIR_MISMATCHED;
	default:
		return 0;
	}
}

/* "822", "1.3M": an element count in four characters or so. */
static void
count_text(char *out, size_t len, uint64_t n)
{
	static const char unit[] = "kMGTPE";
	double v = (double)n;
	int u = -1;

	if (n < 10000) {
		snprintf(out, len, "%" PRIu64, n);
		return;
	}
	while (v >= 1000 && u < 5) {
		v /= 1000;
		u++;
	}
	snprintf(out, len, "%.*f%c", v < 10 ? 1 : 0, v, unit[u]);
}

/* A short Python-like text of a value outside the state dict. */
static void
value_repr(char *out, size_t len, const struct pyval *v)
{
	switch (v->kind) {
	case PV_NONE:
		snprintf(out, len, "None");
		break;
	case PV_BOOL:
		snprintf(out, len, "%s", v->u.b ? "True" : "False");
		break;
	case PV_INT:
		snprintf(out, len, "%" PRId64, v->u.i);
		break;
	case PV_FLOAT:
		snprintf(out, len, "%.6g", v->u.f);
		break;
	case PV_STR:
		snprintf(out, len, "'%.*s'", (int)(v->u.s.len > 60 ? 60 :
						   v->u.s.len), v->u.s.data);
		break;
	default:
		snprintf(out, len, "(%s)", pyval_kind_name(v->kind));
		break;
	}
}

static void
row_text(const struct ui *ui, const struct tree_row *r, char *left,
	 size_t llen, char *right, size_t rlen)
{
	const struct tree_node *n = r->node;
	const char *open = ui->utf8 ? "\u25be " : "- ";
	const char *shut = ui->utf8 ? "\u25b8 " : "+ ";
	char prefix[512], shape[256], size[32];
	const char *mark = n->mark == TM_MISSING ? "[missing] " :
			   n->mark == TM_UNEXPECTED ? "[unexpected] " :
			   n->mark == TM_MISMATCHED ? "[mismatched] " : "";

	tree_prefix(ui, r, prefix, sizeof(prefix));
	snprintf(left, llen, "%s%s%s%s", prefix,
		 n->nkids ? (n->expanded ? open : shut) : "  ", mark,
		 n->name[0] ? n->name : "''");
	right[0] = '\0';
	if (n->kind == TK_TENSOR && n->t) {
		shape_text(shape, sizeof(shape), n->t->shape, n->t->ndim);
		human(size, sizeof(size), tensor_nbytes(n->t));
		snprintf(right, rlen, "%s %s  %s", dtype_name(n->t->dtype),
			 shape, size);
	} else if (n->kind == TK_MISSING && n->want) {
		shape_text(shape, sizeof(shape), n->want->shape,
			   n->want->ndim);
		snprintf(right, rlen, "%s %s  (target)",
			 dtype_name(n->want->dtype), shape);
	} else if (n->kind == TK_VALUE) {
		value_repr(right, rlen, n->value);
	} else if (n->tensors) {
		char params[32];

		human(size, sizeof(size), n->bytes);
		count_text(params, sizeof(params), n->elems);
		snprintf(right, rlen, "%" PRIu64 " tensor%s  %s params  %s",
			 n->tensors, n->tensors == 1 ? "" : "s", params, size);
	} else if (n->kind == TK_BRANCH && !n->sd) {
		snprintf(right, rlen, "%zu entries", n->nkids);
	}
	if (n->kind != TK_MISSING && (n->missing || n->unexpected ||
				      n->mismatched) && n->nkids) {
		size_t at = strlen(right);

		static const char *const what[] = { "missing", "unexpected",
						    "mismatched" };
		size_t count[3] = { n->missing, n->unexpected, n->mismatched };
		int k;

		for (k = 0; k < 3 && at + 1 < rlen; k++) {
			if (!count[k])
				continue;
			snprintf(right + at, rlen - at, "%s%zu %s",
				 at ? "  " : "", count[k], what[k]);
			at = strlen(right);
		}
	}
}

static void
draw_tree(struct ui *ui, int width)
{
	size_t h = ui_tree_height(ui), i;
	int rmax = 0;

	/* one column for the sizes of the rows on screen */
	for (i = 0; i < h && ui->tv.top + i < ui->tree.nrows; i++) {
		char left[1024], right[512];

		row_text(ui, &ui->tree.rows[ui->tv.top + i], left, sizeof(left),
			 right, sizeof(right));
		if ((int)strlen(right) > rmax)
			rmax = (int)strlen(right);
	}
	if (rmax > width / 2)
		rmax = width / 2;
	for (i = 0; i < h; i++) {
		size_t row = ui->tv.top + i;
		int y = 1 + (int)i;
		char left[1024], right[512];
		int rw, lw;

		if (row >= ui->tree.nrows) {
			put(y, 0, "", width);
			continue;
		}
		row_text(ui, &ui->tree.rows[row], left, sizeof(left), right,
			 sizeof(right));
		rw = rmax;
		lw = width - rw - 1;
		if (row == ui->tv.cur) {
			if (ui->color)
				set_pair(ui, PAIR_SELECT, true);
			else
				attron(A_REVERSE);
		} else if (mark_pair(ui->tree.rows[row].node)) {
			set_pair(ui, mark_pair(ui->tree.rows[row].node), true);
		}
		put(y, 0, left, lw);
		addch(' ');
		put(y, lw + 1, right, rw);
		attroff(A_REVERSE);
		if (ui->color)
			attrset(A_NORMAL);
	}
}

/* ---- the detail pane ------------------------------------------------- */

static void
value_text(char *out, size_t len, const struct tval *v)
{
	switch (v->kind) {
	case TV_FLOAT:
		snprintf(out, len, "%.6g", v->re);
		break;
	case TV_COMPLEX:
		snprintf(out, len, "%.4g%+.4gj", v->re, v->im);
		break;
	case TV_UINT:
		snprintf(out, len, "%" PRIu64, v->u);
		break;
	case TV_BOOL:
		snprintf(out, len, "%s", v->i ? "True" : "False");
		break;
	default:
		snprintf(out, len, "%" PRId64, v->i);
		break;
	}
}

/* The other paths whose tensors view the same storage (tied weights). */
static void
sharing_walk(const struct tree_node *at, const struct tree_node *n,
	     struct buf *b, size_t *found)
{
	size_t i;

	if (at != n && at->t && at->t->storage == n->t->storage) {
		if (*found < 4)
			buf_addf(b, "  %s\n", at->path);
		(*found)++;
	}
	for (i = 0; i < at->nkids; i++)
		sharing_walk(at->kids[i], n, b, found);
}

static void
sharing_lines(const struct tree *t, const struct tree_node *n, struct buf *b)
{
	struct buf list = BUF_INIT;
	size_t found = 0;

	sharing_walk(t->root, n, &list, &found);
	if (found)
		buf_addf(b, "storage shared with %zu:\n%s%s", found,
			 list.data, found > 4 ? "  ...\n" : "");
	buf_release(&list);
}

/* Statistics, the first values and the sharing of a tensor, made once
 * per node (the pane is drawn on every key). */
static void
tensor_stats_text(struct ui *ui, const struct tree_node *n)
{
	struct ckerr err = CKERR_INIT;
	struct buf shared = BUF_INIT;
	struct tstats st;
	struct tval vals[6];
	char a[48], b[48];
	ptrdiff_t nv, i;
	size_t at = 0;

	if (ui->stats_for == n && ui->stats_gen == ui->s.gen)
		return;
	ui->stats_for = n;
	ui->stats_gen = ui->s.gen;
	ui->stats_text[0] = '\0';
	if (!tensor_decodable(n->t)) {
		snprintf(ui->stats_text, sizeof(ui->stats_text),
			 "(values of %s are not decoded)",
			 dtype_name(n->t->dtype));
		return;
	}
	if (ckpt_tensor_stats(ui->s.ck, n->t, &st, &err) < 0) {
		snprintf(ui->stats_text, sizeof(ui->stats_text), "%s", err.msg);
		return;
	}
	if (st.finite && st.kind != TV_COMPLEX) {
		value_text(a, sizeof(a), &st.min);
		value_text(b, sizeof(b), &st.max);
		at += (size_t)snprintf(ui->stats_text + at,
				       sizeof(ui->stats_text) - at,
				       "min %s  max %s\nmean %.6g  std %.6g\n",
				       a, b, st.mean, st.finite > 1 ? st.std :
				       0.0);
	}
	if (at < sizeof(ui->stats_text))
		at += (size_t)snprintf(ui->stats_text + at,
				       sizeof(ui->stats_text) - at,
				       "nan %" PRIu64 "  inf %" PRIu64 "\n",
				       st.nan, st.inf);
	nv = ckpt_tensor_values(ui->s.ck, n->t, vals, 6, &err);
	for (i = 0; i < nv && at < sizeof(ui->stats_text); i++) {
		value_text(a, sizeof(a), &vals[i]);
		at += (size_t)snprintf(ui->stats_text + at,
				       sizeof(ui->stats_text) - at, "%s%s",
				       i ? ", " : "values: ", a);
	}
	if ((uint64_t)nv < n->t->numel && at < sizeof(ui->stats_text))
		at += (size_t)snprintf(ui->stats_text + at,
				       sizeof(ui->stats_text) - at, ", ...");
	sharing_lines(&ui->tree, n, &shared);
	if (shared.data && at < sizeof(ui->stats_text))
		snprintf(ui->stats_text + at, sizeof(ui->stats_text) - at,
			 "\n%s", shared.data);
	buf_release(&shared);
}

/* Lines of the detail pane for the selected node. */
static void
detail_lines(struct ui *ui, const struct tree_node *n, struct buf *b)
{
	char shape[256], size[32];

	buf_addf(b, "%s\n", n->path[0] ? n->path : "(top)");
	if (n->kind == TK_TENSOR && n->t) {
		const struct pv_tensor *t = n->t;
		const struct pv_storage *s = t->storage->u.storage;

		shape_text(shape, sizeof(shape), t->shape, t->ndim);
		buf_addf(b, "dtype %s\nshape %s\n", dtype_name(t->dtype), shape);
		shape_text(shape, sizeof(shape), t->stride, t->ndim);
		human(size, sizeof(size), tensor_nbytes(t));
		buf_addf(b, "stride %s  offset %" PRIu64 "\n%" PRIu64
			 " elements, %s\nstorage data/%s (%s, %s)\n", shape,
			 t->offset, t->numel, size, s->key,
			 dtype_name(s->dtype), s->location);
		if (n->mark == TM_MISMATCHED && n->want) {
			shape_text(shape, sizeof(shape), n->want->shape,
				   n->want->ndim);
			buf_addf(b, "target wants %s %s\n",
				 dtype_name(n->want->dtype), shape);
		} else if (n->mark == TM_UNEXPECTED) {
			buf_addstr(b, "not in the target\n");
		}
		tensor_stats_text(ui, n);
		buf_addf(b, "%s\n", ui->stats_text);
	} else if (n->kind == TK_MISSING && n->want) {
		shape_text(shape, sizeof(shape), n->want->shape, n->want->ndim);
		buf_addf(b, "missing: the target has it\n%s %s\n",
			 dtype_name(n->want->dtype), shape);
	} else if (n->kind == TK_VALUE) {
		buf_addf(b, "%s\n", pyval_kind_name(n->value->kind));
		if (n->value->kind == PV_INT)
			buf_addf(b, "%" PRId64 "\n", n->value->u.i);
		else if (n->value->kind == PV_FLOAT)
			buf_addf(b, "%.17g\n", n->value->u.f);
		else if (n->value->kind == PV_BOOL)
			buf_addf(b, "%s\n", n->value->u.b ? "True" : "False");
		else if (n->value->kind == PV_STR)
			buf_addf(b, "'%.*s'\n", (int)(n->value->u.s.len > 200 ?
						      200 : n->value->u.s.len),
				 n->value->u.s.data);
	} else {
		human(size, sizeof(size), n->bytes);
		buf_addf(b, "%" PRIu64 " tensors\n%" PRIu64 " elements\n%s\n",
			 n->tensors, n->elems, size);
		if (n->missing || n->unexpected || n->mismatched)
			buf_addf(b, "%zu missing, %zu unexpected,\n%zu "
				 "mismatched below\n", n->missing,
				 n->unexpected, n->mismatched);
	}
}

/* The pane in the box at (y0, x), width by h; below the tree its first
 * row is a rule. */
static void
draw_detail(struct ui *ui, int y0, int x, int width, int h, bool below)
{
	struct tree_node *n = ui_selected(ui);
	struct buf b = BUF_INIT;
	const char *p;
	int y = 0;

	if (n)
		detail_lines(ui, n, &b);
	p = b.data ? b.data : "";
	if (below) {
		struct buf rule = BUF_INIT;
		int i;

		for (i = 0; i < width; i++)
			buf_addstr(&rule, ui->utf8 ? "\u2500" : "-");
		set_pair(ui, PAIR_DIM, true);
		put(y0, x, rule.data ? rule.data : "", width);
		set_pair(ui, PAIR_DIM, false);
		buf_release(&rule);
		y = 1;
	}
	for (; y < h; y++) {
		const char *nl = strchr(p, '\n');
		int len = nl ? (int)(nl - p) : (int)strlen(p);
		char line[512];

		snprintf(line, sizeof(line), "%.*s", len, p);
		if (below) {
			put(y0 + y, x, line, width);
		} else {
			mvaddch(y0 + y, x, ui->utf8 ? ' ' : '|');
			put(y0 + y, x + 1, line, width - 1);
		}
		p = nl ? nl + 1 : p + len;
	}
	buf_release(&b);
}

/* ---- the diff screen ------------------------------------------------- */

static void
draw_diff(struct ui *ui)
{
	size_t h = ui_tree_height(ui), i, ns = ui->s.sugg.n;
	size_t first = ui_diff_first(ui);
	const char *text = ui->diff_text.data ? ui->diff_text.data : "";
	char line[1024];

	if (!ui->s.target_path) {
		put(1, 0, "No target: press t to load one (a checkpoint or a "
		    "layout file).", ui->cols);
		for (i = 1; i < h; i++)
			put(1 + (int)i, 0, "", ui->cols);
		return;
	}
	for (i = 0; i < h; i++) {
		size_t row = ui->dv.top + i;

		line[0] = '\0';
		if (row < ui->diff_lines) {
			const char *p = text, *nl;
			size_t k;

			for (k = 0; k < row && (nl = strchr(p, '\n')); k++)
				p = nl + 1;
			snprintf(line, sizeof(line), "%.*s",
				 (int)strcspn(p, "\n"), p);
		} else if (row == first - 1) {
			snprintf(line, sizeof(line), ns ? "%zu suggested edits, "
				 "to apply in this order (Enter applies the "
				 "selected one):" : "no edit to suggest: nothing "
				 "matches unambiguously", ns);
		} else if (row >= first && row - first < ns) {
			struct buf e = BUF_INIT;
			const struct suggestion *sg = &ui->s.sugg.v[row - first];

			edit_print(&sg->edit, &e);
			snprintf(line, sizeof(line), "  %s  # %s (fixes %zu)",
				 e.data ? e.data : "", sg->reason, sg->fixes);
			buf_release(&e);
		}
		if (row == ui->dv.cur && row >= first)
			attron(A_REVERSE);
		put(1 + (int)i, 0, line, ui->cols);
		attroff(A_REVERSE);
	}
}

/* ---- the help screen ------------------------------------------------- */

static void
draw_help(struct ui *ui)
{
	size_t h = ui_tree_height(ui), i, row = 0, skip = ui->hv.top;
	char line[512];

	for (i = 0; i < ui_nbindings + 2 && row < h; i++) {
		const struct ui_binding *kb;
		const struct ui_command *c;
		const char *help;

		if (i == 0) {
			snprintf(line, sizeof(line), "Keys (':' also takes any "
				 "script line, or a command by name; q closes "
				 "this screen):");
		} else if (i == 1) {
			line[0] = '\0';
		} else {
			kb = &ui_bindings[i - 2];
			if (!kb->label)
				continue;
			c = ui_command_find(kb->command,
					    strcspn(kb->command, " "));
			help = kb->help ? kb->help : c ? c->help : "";
			snprintf(line, sizeof(line), "  %-18s %-22s %s",
				 kb->label, kb->command, help);
		}
		if (skip) {
			skip--;
			continue;
		}
		put(1 + (int)row++, 0, line, ui->cols);
	}
	for (; row < h; row++)
		put(1 + (int)row, 0, "", ui->cols);
}

/* ---- the status line, dialogs --------------------------------------- */

static void
draw_status(struct ui *ui)
{
	int y = ui->rows - 1;
	struct tree_node *n = ui_selected(ui);

	if (ui->prompting) {
		prompt_draw(ui);
		return;
	}
	curs_set(0);
	if (ui->confirm.open) {
		attron(A_BOLD);
		put(y, 0, ui->confirm.question, ui->cols);
		attroff(A_BOLD);
		return;
	}
	if (ui->dialog.open) {
		char line[512];
		int at, f;

		at = snprintf(line, sizeof(line), "%s %s (%s):",
			      edit_name((enum edit_op)ui->dialog.op),
			      ui->dialog.key, ui->dialog.shape);
		for (f = 0; f < ui->dialog.nfields && at > 0 &&
		     (size_t)at < sizeof(line); f++)
			at += snprintf(line + at, sizeof(line) - (size_t)at,
				       "  %s%s[%s]", f == ui->dialog.field ?
				       ">" : "", ui->dialog.label[f],
				       ui->dialog.text[f]);
		if (at > 0 && (size_t)at < sizeof(line))
			snprintf(line + at, sizeof(line) - (size_t)at,
				 "   (Tab: next, Enter: apply, Esc: cancel)");
		attron(A_BOLD);
		put(y, 0, line, ui->cols);
		attroff(A_BOLD);
		return;
	}
	if (ui->msg[0]) {
		if (ui->msg_kind == MSG_ERROR) {
			set_pair(ui, PAIR_ERROR, true);
			attron(A_BOLD);
		}
		put(y, 0, ui->msg, ui->cols);
		attroff(A_BOLD);
		set_pair(ui, PAIR_ERROR, false);
		return;
	}
	set_pair(ui, PAIR_DIM, true);
	put(y, 0, n ? n->path : "", ui->cols);
	set_pair(ui, PAIR_DIM, false);
}

void
ui_draw(struct ui *ui)
{
	int tw = ui->cols;

	getmaxyx(stdscr, ui->rows, ui->cols);
	tw = ui->cols;
	draw_header(ui);
	if (ui->screen == SCREEN_HELP) {
		draw_help(ui);
	} else if (ui->screen == SCREEN_DIFF) {
		draw_diff(ui);
	} else {
		size_t th, ph;
		enum ui_pane pane = ui_pane(ui, &th, &ph);

		if (pane == PANE_SIDE)
			tw = ui->cols - DETAIL_WIDTH;
		draw_tree(ui, tw);
		if (pane == PANE_SIDE)
			draw_detail(ui, 1, tw, ui->cols - tw, (int)th, false);
		else if (pane == PANE_BELOW)
			draw_detail(ui, 1 + (int)th, 0, ui->cols, (int)ph, true);
	}
	draw_status(ui);
	refresh();
}
