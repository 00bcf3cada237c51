/*
 * fuzz-layout: libFuzzer target for layout files and the analysis built on
 * them (layout_diff, suggest, suggest_groups).  Any bytes are parsed as a
 * layout file; then, as invariants that abort when broken:
 *   - a failed parse names the file first in its message ("NAME:...") and
 *     leaves the layout empty;
 *   - the entries printed with layout_print_entry parse back to the same
 *     keys, dtypes and shapes (unless a key holds a control character,
 *     which printing shows as '?');
 *   - split at the first line that is only "---", the text before is the
 *     checkpoint's layout (have) and the text after the target's (want);
 *     their diff agrees with both layouts; every suggestion prints as a
 *     script line that parses back to an equal edit; the suggestions,
 *     applied in order to a copy of have, leave no two keys of one name
 *     and at most the differences they do not promise to fix;
 *     suggest_groups puts each missing (and unexpected) key in one group,
 *     a group of several keys under a prefix the other side has no key
 *     under.
 * The corpus in tests/fuzz/corpus/layout is replayed by every 'make check'.
 */
#include "config.h"

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "edit.h"
#include "layout.h"
#include "script.h"
#include "suggest.h"
#include "banned.h"

/* Longer inputs are cut here: the analysis is bounded work per input. */
#define MAX_INPUT ((size_t)64 << 10)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void __attribute__((noreturn))
die(const char *what, const char *detail)
{
	fprintf(stderr, "fuzz-layout: invariant broken: %s%s%s\n", what,
		detail ? ": " : "", detail ? detail : "");
	abort();
}

/* A failed parse: "NAME:..." (or out of memory) and nothing left. */
static void
check_parse_error(const struct layout *l, const struct ckerr *err,
		  const char *name)
{
	size_t n = strlen(name);

	if (l->n || l->alloc || l->v || l->sorted)
		die("a failed parse left entries", err->msg);
	if (err->code == CKERR_NOMEM)
		return;
	if (err->code != CKERR_USAGE && err->code != CKERR_LIMIT)
		die("a parse error with an unexpected code", err->msg);
	if (strncmp(err->msg, name, n) || err->msg[n] != ':')
		die("a parse error does not start with the name", err->msg);
}

/* Parse, checking the error invariants; 0 on success. */
static int
parse(const char *text, size_t len, const char *name, struct layout *l)
{
	struct ckerr err = CKERR_INIT;

	if (layout_parse(text, len, name, l, &err) == 0) {
		if (ckerr_isset(&err))
			die("a successful parse set an error", err.msg);
		return 0;
	}
	if (!ckerr_isset(&err))
		die("a failed parse set no error", NULL);
	check_parse_error(l, &err, name);
	return -1;
}

static bool
same_entry(const struct layout_entry *a, const struct layout_entry *b)
{
	return !strcmp(a->key, b->key) && layout_entry_same(a, b);
}

/* Print every entry; the text parses back to the same layout. */
static void
roundtrip(const struct layout *l)
{
	struct buf text = BUF_INIT;
	struct layout again;
	bool control = false;
	size_t i;

	for (i = 0; i < l->n; i++) {
		const unsigned char *k = (const unsigned char *)l->v[i].key;

		if (layout_print_entry(&l->v[i], &text) < 0)
			die("layout_print_entry failed", l->v[i].key);
		for (; *k; k++)
			if ((*k < 0x20 && *k != '\t') || *k == 0x7f)
				control = true;
	}
	if (control) {		/* shown as '?': not the same key */
		buf_release(&text);
		return;
	}
	if (parse(text.data ? text.data : "", text.len, "printed", &again) < 0)
		die("printed entries do not parse", text.data);
	if (again.n != l->n)
		die("printed entries parse to another number of keys",
		    text.data);
	for (i = 0; i < l->n; i++)
		if (!same_entry(&l->v[i], &again.v[i]))
			die("a printed entry parses to another entry",
			    l->v[i].key);
	layout_release(&again);
	buf_release(&text);
}

/* The first line that is only "---" (CRLF allowed) splits the input. */
static bool
split(const char *s, size_t n, size_t *have_len, size_t *want_off)
{
	const char *p = s, *end = s + n;

	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *le = nl ? nl : end;
		size_t len = (size_t)(le - p);

		if (len && p[len - 1] == '\r')
			len--;
		if (len == 3 && !memcmp(p, "---", 3)) {
			*have_len = (size_t)(p - s);
			*want_off = nl ? (size_t)(nl + 1 - s) : n;
			return true;
		}
		p = nl ? nl + 1 : end;
	}
	return false;
}

/* The diff says what the layouts say. */
static void
check_diff(struct layout *have, struct layout *want,
	   const struct layout_diff *d)
{
	size_t i;

	if (d->nmissing > want->n || d->nunexpected > have->n ||
	    d->nmismatched > want->n ||
	    want->n - d->nmissing != have->n - d->nunexpected)
		die("diff counts disagree with the layouts", NULL);
	for (i = 0; i < d->nmissing; i++)
		if (d->missing[i] >= want->n ||
		    layout_find(have, want->v[d->missing[i]].key) != -1 ||
		    (i && d->missing[i] <= d->missing[i - 1]))
			die("a missing key is not missing", NULL);
	for (i = 0; i < d->nunexpected; i++)
		if (d->unexpected[i] >= have->n ||
		    layout_find(want, have->v[d->unexpected[i]].key) != -1 ||
		    (i && d->unexpected[i] <= d->unexpected[i - 1]))
			die("an unexpected key is not unexpected", NULL);
	for (i = 0; i < d->nmismatched; i++) {
		const struct layout_pair *m = &d->mismatched[i];

		if (m->have >= have->n || m->want >= want->n ||
		    strcmp(have->v[m->have].key, want->v[m->want].key) ||
		    layout_entry_same(&have->v[m->have], &want->v[m->want]))
			die("a mismatched key is not mismatched",
			    m->want < want->n ? want->v[m->want].key : NULL);
	}
}

/* A suggestion's edit printed and parsed again is the same edit. */
static void
check_edit(const struct suggestion *s)
{
	struct ckerr err = CKERR_INIT;
	struct buf line = BUF_INIT;
	struct edit again;

	if (!s->reason || !*s->reason)
		die("a suggestion without a reason", NULL);
	if (s->edit.pos.line || s->edit.pos.col)
		die("a suggested edit has a position", NULL);
	if (edit_print(&s->edit, &line) < 0)
		die("a suggested edit does not print", strerror(errno));
	if (script_parse_line(line.data, line.len, "suggested", 1, &again,
			      &err) != 1)
		die("a suggested edit does not parse", err.msg);
	if (!edit_equal(&s->edit, &again))
		die("a suggested edit parses to another edit", line.data);
	edit_release(&again);
	buf_release(&line);
}

static void
copy_layout(struct layout *dst, const struct layout *src)
{
	struct ckerr err = CKERR_INIT;
	size_t i;

	memset(dst, 0, sizeof(*dst));
	for (i = 0; i < src->n; i++)
		if (layout_add(dst, src->v[i].key, src->v[i].dtype,
			       src->v[i].ndim, src->v[i].shape, src->v[i].line,
			       &err) < 0)
			die("cannot copy a layout", err.msg);
}

/* What one suggested edit does to a layout (as edit_apply would). */
static void
apply(struct layout *l, const struct edit *e)
{
	ptrdiff_t o;
	size_t i;

	switch (e->op) {
	case EDIT_RENAME:
	case EDIT_RENAME_PREFIX:
		for (i = 0; i < l->n; i++) {
			char *to;
			int r = edit_renamed(e, l->v[i].key, &to);

			if (r < 0)
				die("edit_renamed failed", NULL);
			if (r) {
				free(l->v[i].key);
				l->v[i].key = to;
			}
		}
		free(l->sorted);
		l->sorted = NULL;
		break;
	case EDIT_INSERT_COLUMN:
	case EDIT_DELETE_COLUMN:
		o = layout_find(l, e->str[0]);
		if (o < 0)
			die("a column edit before which the key is missing or "
			    "two keys share a name", e->str[0]);
		if (!e->dim_set || e->dim < 0 || e->dim >= l->v[o].ndim)
			die("a column edit outside the key's dimensions",
			    e->str[0]);
		if (e->op == EDIT_INSERT_COLUMN) {
			if (e->num[0] != l->v[o].shape[e->dim])
				die("insert-column does not append", e->str[0]);
			l->v[o].shape[e->dim]++;
		} else {
			if (e->num[0] != l->v[o].shape[e->dim] - 1)
				die("delete-column does not delete the last",
				    e->str[0]);
			l->v[o].shape[e->dim]--;
		}
		break;
	default:
		die("a suggestion of an unexpected kind", edit_name(e->op));
	}
}

/* Some key of l is prefix p (plen bytes) followed by a dot and more. */
static bool
has_under(const struct layout *l, const char *p, size_t plen)
{
	size_t i;

	for (i = 0; i < l->n; i++)
		if (!strncmp(l->v[i].key, p, plen) && l->v[i].key[plen] == '.')
			return true;
	return false;
}

/*
 * Each flagged key (order[0..n)) of l is in exactly one group; a group of
 * several keys is under a prefix other has no key under.
 */
static void
check_groups(struct layout *l, const size_t *order, size_t n,
	     struct layout *other)
{
	struct ckerr err = CKERR_INIT;
	struct key_group *g;
	bool *flag = calloc(l->n + 1, sizeof(*flag));
	bool *first = calloc(l->n + 1, sizeof(*first));
	size_t ng, i, sum = 0;

	if (!flag || !first)
		die("out of memory", NULL);
	for (i = 0; i < n; i++)
		flag[order[i]] = true;
	if (suggest_groups(l, flag, order, n, other, &g, &ng, &err) < 0)
		die("suggest_groups failed", err.msg);
	if (ng > n)
		die("more groups than keys", NULL);
	for (i = 0; i < ng; i++) {
		const char *key;

		if (g[i].pos >= l->n || !flag[g[i].pos] || first[g[i].pos])
			die("a group starts at a key not flagged, or twice",
			    NULL);
		first[g[i].pos] = true;
		key = l->v[g[i].pos].key;
		if (g[i].plen ? g[i].count < 2 || g[i].plen >= strlen(key) ||
				key[g[i].plen] != '.'
			      : g[i].count != 1)
			die("a group of the wrong size or prefix", key);
		/* a linear scan: only where it stays cheap */
		if (g[i].plen && other && other->n <= 1000 &&
		    has_under(other, key, g[i].plen))
			die("a group under a prefix the other side has", key);
		sum += g[i].count;
	}
	if (sum != n)
		die("groups do not cover the keys exactly once", NULL);
	free(g);
	free(flag);
	free(first);
}

/* Diff, suggestions and groups for two layouts. */
static void
analyse(struct layout *have, struct layout *want)
{
	struct ckerr err = CKERR_INIT;
	struct layout_diff d, after;
	struct suggestions s;
	struct layout cur;
	size_t total, fixes = 0, i;

	if (layout_diff(have, want, &d, &err) < 0)
		die("layout_diff failed", err.msg);
	check_diff(have, want, &d);
	total = layout_diff_count(&d);
	check_groups(want, d.missing, d.nmissing, have);
	check_groups(have, d.unexpected, d.nunexpected, want);
	check_groups(want, d.missing, d.nmissing, NULL);
	if (suggest(have, want, &s, &err) < 0)
		die("suggest failed", err.msg);
	if (total == 0 && s.n)
		die("suggestions for equal layouts", NULL);
	copy_layout(&cur, have);
	for (i = 0; i < s.n; i++) {
		check_edit(&s.v[i]);
		fixes += s.v[i].fixes;
		apply(&cur, &s.v[i].edit);
	}
	if (layout_index(&cur, &err) < 0)
		die("the suggestions leave two keys of one name", err.msg);
	if (layout_diff(&cur, want, &after, &err) < 0)
		die("layout_diff failed", err.msg);
	check_diff(&cur, want, &after);
	/* a round cut at SUGGEST_MAX promises less than it was checked for */
	if (s.n < SUGGEST_MAX &&
	    (fixes > total || layout_diff_count(&after) > total - fixes))
		die("the suggestions fix less than they promise", NULL);
	layout_diff_release(&after);
	layout_release(&cur);
	suggestions_release(&s);
	layout_diff_release(&d);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *text = (const char *)data;
	struct layout l, have, want;
	size_t have_len, want_off;

	if (size > MAX_INPUT)
		size = MAX_INPUT;
	if (parse(text, size, "fuzz", &l) == 0) {
		roundtrip(&l);
		layout_release(&l);
	}
	if (!split(text, size, &have_len, &want_off))
		return 0;
	if (parse(text, have_len, "have", &have) < 0)
		return 0;
	if (parse(text + want_off, size - want_off, "want", &want) == 0) {
		analyse(&have, &want);
		layout_release(&want);
	}
	layout_release(&have);
	return 0;
}
