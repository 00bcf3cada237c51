/* report: a diff as text for people (counts, groups, mismatches, fixes). */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "report.h"
#include "banned.h"

/* Lines of keys per section of the text report. */
#define REPORT_LINES 40

/* A file name in a heading: control characters shown as '?'. */
static int
add_name(struct buf *out, const char *name)
{
	for (; *name; name++)
		if (buf_addch(out, (unsigned char)*name < 0x20 || *name == 0x7f ?
				   '?' : *name) < 0)
			return -1;
	return 0;
}

/* One line per group of keys (subtrees other has nothing under). */
static int
add_groups(struct buf *out, struct layout *l, const size_t *order, size_t n,
	   struct layout *other, struct ckerr *err)
{
	struct key_group *g;
	size_t ng, i, shown = 0, width = 0;
	bool *flag = calloc(l->n + 1, sizeof(*flag));
	struct buf label = BUF_INIT;
	int bad = 0;

	if (!flag)
		return ckerr_nomem(err);
	for (i = 0; i < n; i++)
		flag[order[i]] = true;
	if (suggest_groups(l, flag, order, n, other, &g, &ng, err) < 0) {
		free(flag);
		return -1;
	}
	free(flag);
	for (i = 0; i < ng && i < REPORT_LINES; i++) {
		const char *key = l->v[g[i].pos].key;
		size_t w;

		buf_reset(&label);
		if (g[i].plen) {
			char *p = strndup(key, g[i].plen);

			bad |= !p || layout_add_key(&label, p) < 0;
			free(p);
			w = label.len + 2;
		} else {
			bad |= layout_add_key(&label, key) < 0;
			w = label.len;
		}
		if (w > width)
			width = w;
	}
	if (width > 60)
		width = 60;
	for (i = 0; i < ng && i < REPORT_LINES && !bad; i++) {
		const struct layout_entry *e = &l->v[g[i].pos];

		buf_reset(&label);
		if (g[i].plen) {
			char *p = strndup(e->key, g[i].plen);

			bad |= !p || layout_add_key(&label, p) < 0 ||
			       buf_addstr(&label, ".*") < 0;
			free(p);
		} else {
			bad |= layout_add_key(&label, e->key) < 0;
		}
		bad |= buf_addf(out, "  %-*s  ", (int)width,
				label.data ? label.data : "") < 0;
		if (g[i].plen)
			bad |= buf_addf(out, "%zu keys\n", g[i].count) < 0;
		else
			bad |= layout_add_type(out, e) < 0 ||
			       buf_addch(out, '\n') < 0;
		shown += g[i].count;
	}
	if (!bad && ng > REPORT_LINES)
		bad |= buf_addf(out, "  ... and %zu more keys in %zu more lines "
				"(--json lists every key)\n", n - shown,
				ng - REPORT_LINES) < 0;
	buf_release(&label);
	free(g);
	return bad ? ckerr_nomem(err) : 0;
}

static int
add_mismatched(struct buf *out, const struct report *rp)
{
	size_t i, width = 0;
	struct buf label = BUF_INIT;
	int bad = 0;

	for (i = 0; i < rp->d->nmismatched && i < REPORT_LINES; i++) {
		buf_reset(&label);
		bad |= layout_add_key(&label,
				      rp->want->v[rp->d->mismatched[i].want].key);
		if (label.len > width)
			width = label.len;
	}
	if (width > 60)
		width = 60;
	for (i = 0; i < rp->d->nmismatched && i < REPORT_LINES && !bad; i++) {
		const struct layout_pair *p = &rp->d->mismatched[i];

		buf_reset(&label);
		bad |= layout_add_key(&label, rp->want->v[p->want].key) < 0 ||
		       buf_addf(out, "  %-*s  ", (int)width, label.data) < 0 ||
		       layout_add_type(out, &rp->have->v[p->have]) < 0 ||
		       buf_addstr(out, ", target ") < 0 ||
		       layout_add_type(out, &rp->want->v[p->want]) < 0 ||
		       buf_addch(out, '\n') < 0;
	}
	if (!bad && rp->d->nmismatched > REPORT_LINES)
		bad |= buf_addf(out, "  ... and %zu more (--json lists every "
				"key)\n", rp->d->nmismatched - REPORT_LINES) < 0;
	buf_release(&label);
	return bad ? -1 : 0;
}

size_t
report_fixed(const struct suggestions *s)
{
	size_t i, n = 0;

	for (i = 0; i < s->n; i++)
		n += s->v[i].fixes;
	return n;
}

/* The suggestions as a script: a comment with each reason, then its
 * edit; indent is put before every line. */
int
report_add_script(struct buf *out, const struct suggestions *s,
		  const char *indent)
{
	size_t i;

	for (i = 0; i < s->n; i++)
		if (buf_addf(out, "%s# %s (fixes %zu)\n%s", indent,
			     s->v[i].reason, s->v[i].fixes, indent) < 0 ||
		    edit_print(&s->v[i].edit, out) < 0 ||
		    buf_addch(out, '\n') < 0)
			return -1;
	return 0;
}

int
report_text(const struct report *rp, unsigned flags, struct buf *out,
	    struct ckerr *err)
{
	size_t total = layout_diff_count(rp->d);
	int bad = 0;

	bad |= add_name(out, rp->file);
	if (!total) {
		bad |= buf_addstr(out, " matches ") < 0 ||
		       add_name(out, rp->target) < 0 ||
		       buf_addf(out, ": %zu tensors, the same keys, dtypes and "
				"shapes\n", rp->want->n) < 0;
		return bad ? ckerr_nomem(err) : 0;
	}
	bad |= buf_addstr(out, " against ") < 0 ||
	       add_name(out, rp->target) < 0 ||
	       buf_addf(out, ": %zu missing, %zu unexpected, %zu mismatched "
			"(%zu tensors here, %zu in the target)\n",
			rp->d->nmissing, rp->d->nunexpected, rp->d->nmismatched,
			rp->have->n, rp->want->n) < 0;
	if (!bad && rp->d->nmissing) {
		bad |= buf_addf(out, "\nmissing: %zu the target has, not here\n",
				rp->d->nmissing) < 0;
		if (!bad && add_groups(out, rp->want, rp->d->missing,
				       rp->d->nmissing, rp->have, err) < 0)
			return -1;
	}
	if (!bad && rp->d->nunexpected) {
		bad |= buf_addf(out, "\nunexpected: %zu here, not in the "
				"target\n", rp->d->nunexpected) < 0;
		if (!bad && add_groups(out, rp->have, rp->d->unexpected,
				       rp->d->nunexpected, rp->want, err) < 0)
			return -1;
	}
	if (!bad && rp->d->nmismatched)
		bad |= buf_addf(out, "\nmismatched: %zu in both, with another "
				"dtype or shape (here, then the target's)\n",
				rp->d->nmismatched) < 0 ||
		       add_mismatched(out, rp) < 0;
	if (flags & REPORT_NO_SUGGESTIONS)
		return bad ? ckerr_nomem(err) : 0;
	if (!bad && rp->s->n)
		bad |= buf_addf(out, "\nsuggested edits, to apply in this order "
				"(they fix %zu of the %zu differences):\n",
				report_fixed(rp->s), total) < 0 ||
		       report_add_script(out, rp->s, "  ") < 0;
	else if (!bad)
		bad |= buf_addstr(out, "\nno edit to suggest: nothing matches "
				  "unambiguously\n") < 0;
	return bad ? ckerr_nomem(err) : 0;
}

int
report_script(const struct report *rp, struct buf *out)
{
	int bad = buf_addstr(out, "# ckpt-surgeon diff ") < 0 ||
		  add_name(out, rp->file) < 0 || buf_addch(out, ' ') < 0 ||
		  add_name(out, rp->target) < 0 ||
		  buf_addf(out, ": %zu differences, ",
			   layout_diff_count(rp->d)) < 0;

	if (!bad && !rp->s->n)
		return buf_addstr(out, "no edit to suggest\n");
	return bad || buf_addf(out, "the edits below fix %zu\n\n",
			       report_fixed(rp->s)) < 0 ||
	       report_add_script(out, rp->s, "") < 0 ? -1 : 0;
}

