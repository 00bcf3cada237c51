/* layout: key -> dtype and shape, from checkpoints and layout files; diff. */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "grow.h"
#include "layout.h"
#include "banned.h"

void
layout_release(struct layout *l)
{
	size_t i;

	for (i = 0; i < l->n; i++) {
		free(l->v[i].key);
		free(l->v[i].shape);
	}
	free(l->v);
	free(l->sorted);
	memset(l, 0, sizeof(*l));
}

int
layout_add(struct layout *l, const char *key, enum dtype dt, int ndim,
	   const int64_t *shape, unsigned line, struct ckerr *err)
{
	struct layout_entry *e;

	if (ndim < 0 || ndim > TENSOR_MAX_DIMS)
		return ckerr_set(err, CKERR_LIMIT, "'%s' has %d dimensions, "
				 "more than %d", key, ndim, TENSOR_MAX_DIMS);
	if (l->n >= LAYOUT_MAX_KEYS)
		return ckerr_set(err, CKERR_LIMIT, "more than %d keys",
				 LAYOUT_MAX_KEYS);
	if (l->n == l->alloc) {
		e = grow_array(l->v, &l->alloc, l->n + 1, sizeof(*e), 64);
		if (!e)
			return ckerr_nomem(err);
		l->v = e;
	}
	e = &l->v[l->n];
	memset(e, 0, sizeof(*e));
	e->key = strdup(key);
	if (ndim) {
		e->shape = malloc((size_t)ndim * sizeof(*e->shape));
		if (e->shape)
			memcpy(e->shape, shape, (size_t)ndim * sizeof(*shape));
	}
	if (!e->key || (ndim && !e->shape)) {
		free(e->key);
		free(e->shape);
		return ckerr_nomem(err);
	}
	e->dtype = dt;
	e->ndim = ndim;
	e->line = line;
	l->n++;
	free(l->sorted);
	l->sorted = NULL;
	return 0;
}

static int
cmp_pos(const void *a, const void *b, void *ctx)
{
	const struct layout *l = ctx;
	size_t x = *(const size_t *)a, y = *(const size_t *)b;
	int c = strcmp(l->v[x].key, l->v[y].key);

	return c ? c : (x > y) - (x < y);
}

int
layout_index(struct layout *l, struct ckerr *err)
{
	size_t i, dup = SIZE_MAX;

	if (l->sorted)
		return 0;
	l->sorted = malloc((l->n ? l->n : 1) * sizeof(*l->sorted));
	if (!l->sorted)
		return ckerr_nomem(err);
	for (i = 0; i < l->n; i++)
		l->sorted[i] = i;
	qsort_r(l->sorted, l->n, sizeof(*l->sorted), cmp_pos, l);
	/* of the keys listed twice, the one whose second listing comes
	 * first in the file */
	for (i = 1; i < l->n; i++) {
		size_t a = l->sorted[i - 1], b = l->sorted[i];

		if (strcmp(l->v[a].key, l->v[b].key))
			continue;
		if (dup == SIZE_MAX || b < l->sorted[dup])
			dup = i;
	}
	if (dup == SIZE_MAX)
		return 0;
	{
		const struct layout_entry *first = &l->v[l->sorted[dup - 1]];
		const struct layout_entry *again = &l->v[l->sorted[dup]];

		/* the first listing of that key sorts before the others */
		while (dup > 1 &&
		       !strcmp(l->v[l->sorted[dup - 2]].key, again->key))
			first = &l->v[l->sorted[--dup - 1]];
		if (again->line)
			ckerr_set(err, CKERR_USAGE, "%u: key '%s' listed twice "
				  "(first on line %u)", again->line, again->key,
				  first->line);
		else
			ckerr_set(err, CKERR_FORMAT, "two keys are named '%s'",
				  again->key);
	}
	free(l->sorted);
	l->sorted = NULL;
	return -1;
}

ptrdiff_t
layout_find(struct layout *l, const char *key)
{
	size_t lo = 0, hi = l->n;

	if (!l->sorted && layout_index(l, NULL) < 0)
		return -2;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strcmp(key, l->v[l->sorted[mid]].key);

		if (!c)
			return (ptrdiff_t)l->sorted[mid];
		if (c < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return -1;
}

int
layout_from_root(const struct ckpt *ck, const struct ckpt_root *root,
		 struct layout *out, struct ckerr *err)
{
	struct ckpt_list list = CKPT_LIST_INIT;
	size_t i;
	int r = 0;

	if (ckpt_list_root(ck, root, &list, err) < 0)
		return -1;
	for (i = 0; i < list.n && r == 0; i++) {
		const struct pv_tensor *t = list.v[i].tensor->u.tensor;

		r = layout_add(out, list.v[i].key, t->dtype, t->ndim, t->shape,
			       0, err);
	}
	ckpt_list_release(&list);
	if (r == 0)
		r = layout_index(out, err);
	if (r < 0)
		layout_release(out);
	return r;
}

/* ---- layout files ---------------------------------------------------- */

static bool
is_blank(char c)
{
	return c == ' ' || c == '\t';
}

static const char *
skip_blanks(const char *p, const char *end)
{
	while (p < end && is_blank(*p))
		p++;
	return p;
}

/* A shape and what follows it: [..], torch.Size([..]) or (..); then
 * blanks and an optional comment.  Returns the number of dims or -1. */
struct shape_parse {
	int ndim;
	int64_t dims[TENSOR_MAX_DIMS];
	const char *problem;	/* why it is not a shape (for messages) */
};

static bool
parse_shape(const char *p, const char *end, struct shape_parse *sp)
{
	static const char size_open[] = "torch.Size([";
	char close;
	bool tuple = false, size = false, comma = false;

	sp->ndim = 0;
	sp->problem = NULL;
	if ((size_t)(end - p) >= sizeof(size_open) - 1 &&
	    !memcmp(p, size_open, sizeof(size_open) - 1)) {
		p += sizeof(size_open) - 1;
		size = true;
		close = ']';
	} else if (p < end && *p == '[') {
		p++;
		close = ']';
	} else if (p < end && *p == '(') {
		p++;
		close = ')';
		tuple = true;
	} else {
		return false;
	}
	p = skip_blanks(p, end);
	while (p < end && *p != close) {
		int64_t v = 0;

		if (sp->ndim && !comma)
			return false;
		if (*p < '0' || *p > '9')
			return false;
		while (p < end && *p >= '0' && *p <= '9') {
			if (v > (INT64_MAX - (*p - '0')) / 10) {
				sp->problem = "a dimension larger than 2^63-1";
				return false;
			}
			v = v * 10 + (*p++ - '0');
		}
		if (sp->ndim == TENSOR_MAX_DIMS) {
			sp->problem = "more than 64 dimensions";
			return false;
		}
		sp->dims[sp->ndim++] = v;
		p = skip_blanks(p, end);
		comma = p < end && *p == ',';
		if (comma)
			p = skip_blanks(p + 1, end);
	}
	if (p == end)
		return false;
	/* a trailing comma only in a tuple: (3,) */
	if (comma && !(tuple && sp->ndim == 1))
		return false;
	if (tuple && sp->ndim == 1 && !comma)
		return false;
	p++;
	if (size) {
		if (p == end || *p != ')')
			return false;
		p++;
	}
	p = skip_blanks(p, end);
	return p == end || *p == '#';
}

/* A double-quoted key as `layout` prints it; *pp moves past it. */
static char *
quoted_key(const char **pp, const char *end)
{
	struct buf b = BUF_INIT;
	const char *p = *pp + 1;

	while (p < end && *p != '"') {
		if (*p == '\\' && p + 1 < end && (p[1] == '"' || p[1] == '\\'))
			p++;
		if (buf_addch(&b, *p++) < 0) {
			buf_release(&b);
			return NULL;
		}
	}
	if (p == end || buf_grow(&b, 0) < 0) {
		buf_release(&b);
		errno = EINVAL;
		return NULL;
	}
	*pp = p + 1;
	return buf_detach(&b, NULL);
}

/* A word (len bytes) that opens a shape rather than naming a dtype. */
static bool
shape_like(const char *w, size_t len)
{
	return (len && (*w == '[' || *w == '(')) ||
	       (len >= 11 && !memcmp(w, "torch.Size(", 11));
}

static int __attribute__((format(printf, 4, 5)))
line_error(struct ckerr *err, const char *name, unsigned line,
	   const char *fmt, ...)
{
	char msg[CKERR_MSG_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return ckerr_set(err, CKERR_USAGE, "%s:%u: %s", name, line, msg);
}

#define LINE_HELP "expected 'KEY DTYPE [d0, d1, ...]'"

static int
parse_line(const char *p, const char *end, const char *name, unsigned line,
	   struct layout *out, struct ckerr *err)
{
	const char *q, *keyend = NULL, *dt_word = NULL;
	size_t dt_len = 0;
	struct shape_parse sp, found;
	enum dtype dt = DT_INVALID;
	char *key;
	int r;

	if (memchr(p, '\0', (size_t)(end - p)))
		return line_error(err, name, line, "a NUL byte (is this a "
				  "binary file?)");
	p = skip_blanks(p, end);
	while (end > p && is_blank(end[-1]))
		end--;
	if (p == end || *p == '#')
		return 0;
	if (*p == '"') {
		/* "quoted key" DTYPE SHAPE */
		q = p;
		key = quoted_key(&q, end);
		if (!key)
			return errno == EINVAL ?
			       line_error(err, name, line, "unterminated quoted "
					  "key") : ckerr_nomem(err);
		if (q == end || !is_blank(*q)) {
			free(key);
			return line_error(err, name, line, LINE_HELP);
		}
		q = skip_blanks(q, end);
		dt_word = q;
		while (q < end && !is_blank(*q))
			q++;
		dt_len = (size_t)(q - dt_word);
		dt = dtype_from_name(dt_word, dt_len);
		q = skip_blanks(q, end);
		if (dt == DT_INVALID || !parse_shape(q, end, &found)) {
			free(key);
			if (dt == DT_INVALID && !shape_like(dt_word, dt_len))
				return line_error(err, name, line, "unknown dtype "
						  "'%.*s'", (int)dt_len, dt_word);
			if (dt == DT_INVALID)
				return line_error(err, name, line, LINE_HELP);
			return line_error(err, name, line, "%s",
					  found.problem ? found.problem :
					  LINE_HELP);
		}
	} else {
		/* the first blank-led word that names a dtype and is followed
		 * by a shape and the line's end: the key is what precedes it */
		const char *problem = NULL;

		for (q = p + 1; q < end && !keyend; q++) {
			const char *w, *we;

			if (!is_blank(q[-1]) || is_blank(*q))
				continue;
			w = q;
			we = w;
			while (we < end && !is_blank(*we))
				we++;
			if (we == end)
				break;
			if (!parse_shape(skip_blanks(we, end), end, &sp)) {
				if (sp.problem)
					problem = sp.problem;
				continue;
			}
			dt = dtype_from_name(w, (size_t)(we - w));
			if (dt == DT_INVALID) {
				if (!shape_like(w, (size_t)(we - w))) {
					dt_word = w;
					dt_len = (size_t)(we - w);
				}
				continue;
			}
			keyend = q;
			found = sp;
		}
		if (!keyend) {
			if (problem)
				return line_error(err, name, line, "%s", problem);
			if (dt_word)
				return line_error(err, name, line, "unknown dtype "
						  "'%.*s'", (int)dt_len, dt_word);
			return line_error(err, name, line, LINE_HELP);
		}
		while (keyend > p && is_blank(keyend[-1]))
			keyend--;
		key = strndup(p, (size_t)(keyend - p));
		if (!key)
			return ckerr_nomem(err);
	}
	r = layout_add(out, key, dt, found.ndim, found.dims, line, err);
	if (r < 0)
		ckerr_prefix(err, "%s:%u: ", name, line);
	free(key);
	return r;
}

int
layout_parse(const char *text, size_t len, const char *name,
	     struct layout *out, struct ckerr *err)
{
	const char *p = text, *end = text + len;
	unsigned line = 0;

	memset(out, 0, sizeof(*out));
	if (len > LAYOUT_MAX_FILE)
		return ckerr_set(err, CKERR_LIMIT, "%s: larger than %zu MiB",
				 name, LAYOUT_MAX_FILE >> 20);
	if (len >= 3 && !memcmp(p, "\xef\xbb\xbf", 3))
		p += 3;
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *le = nl ? nl : end;

		if (line == UINT32_MAX) {
			layout_release(out);
			return ckerr_set(err, CKERR_LIMIT, "%s: too many lines",
					 name);
		}
		line++;
		if (le > p && le[-1] == '\r')
			le--;
		if (parse_line(p, le, name, line, out, err) < 0) {
			layout_release(out);
			return -1;
		}
		p = nl ? nl + 1 : end;
	}
	if (layout_index(out, err) < 0) {
		if (err && err->code == CKERR_USAGE)
			ckerr_prefix(err, "%s:", name);
		layout_release(out);
		return -1;
	}
	return 0;
}

/* A checkpoint rather than a layout file: binary bytes near its start. */
static int
looks_binary(FILE *f, bool *yes)
{
	unsigned char head[4096];
	size_t n = fread(head, 1, sizeof(head), f);

	if (ferror(f))
		return -1;
	*yes = (n >= 2 && head[0] == 'P' && head[1] == 'K') ||
	       (n >= 1 && head[0] == 0x80) || memchr(head, '\0', n) != NULL;
	return 0;
}

static int
load_checkpoint(const char *path, struct layout *out, struct ckerr *err)
{
	struct ckpt_root root;
	struct ckpt *ck = ckpt_open(path, err);
	int r;

	if (!ck)
		return -1;
	r = ckpt_find_root(ck, NULL, &root, err);
	if (r == 0) {
		r = layout_from_root(ck, &root, out, err);
		ckpt_root_release(&root);
	}
	ckpt_free(ck);
	return r;
}

int
layout_load(const char *path, struct layout *out, struct ckerr *err)
{
	struct buf text = BUF_INIT;
	char chunk[65536];
	bool binary = false;
	FILE *f;
	size_t n;
	int r;

	memset(out, 0, sizeof(*out));
	f = fopen(path, "rb");
	if (!f)
		return ckerr_errno(err, "%s: cannot open", path);
	if (looks_binary(f, &binary) < 0) {
		fclose(f);
		return ckerr_errno(err, "%s: cannot read", path);
	}
	if (binary) {
		fclose(f);
		if (load_checkpoint(path, out, err) < 0)
			return ckerr_prefix(err, "%s: ", path), -1;
		return 0;
	}
	rewind(f);
	buf_init(&text, LAYOUT_MAX_FILE);
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
		if (buf_add(&text, chunk, n) < 0) {
			fclose(f);
			buf_release(&text);
			if (errno == ENOMEM)
				return ckerr_nomem(err);
			return ckerr_set(err, CKERR_LIMIT, "%s: layout file "
					 "larger than %zu MiB", path,
					 LAYOUT_MAX_FILE >> 20);
		}
	if (ferror(f)) {
		fclose(f);
		buf_release(&text);
		return ckerr_errno(err, "%s: cannot read", path);
	}
	fclose(f);
	r = layout_parse(text.data ? text.data : "", text.len, path, out, err);
	buf_release(&text);
	return r;
}

/* ---- printing -------------------------------------------------------- */

static bool
needs_quotes(const char *s)
{
	/* a key opening with a byte order mark would lose it as a file's
	 * first line */
	return !*s || strpbrk(s, " \t\n\r\v\f\"'#\\") != NULL ||
	       !strncmp(s, "\xef\xbb\xbf", 3);
}

int
layout_add_key(struct buf *out, const char *key)
{
	bool q = needs_quotes(key);
	const unsigned char *p;

	if (q && buf_addch(out, '"') < 0)
		return -1;
	for (p = (const unsigned char *)key; *p; p++) {
		int c = *p;

		/* a tab is literal inside quotes; other controls could drive
		 * the terminal or break the line */
		if ((c < 0x20 && !(c == '\t' && q)) || c == 0x7f)
			c = '?';
		else if (q && (c == '"' || c == '\\') && buf_addch(out, '\\') < 0)
			return -1;
		if (buf_addch(out, c) < 0)
			return -1;
	}
	return q ? buf_addch(out, '"') : 0;
}

int
layout_add_shape(struct buf *out, const int64_t *dims, int n)
{
	int i;

	if (buf_addch(out, '[') < 0)
		return -1;
	for (i = 0; i < n; i++)
		if (buf_addf(out, i ? ", %" PRId64 : "%" PRId64, dims[i]) < 0)
			return -1;
	return buf_addch(out, ']');
}

int
layout_add_type(struct buf *out, const struct layout_entry *e)
{
	return buf_addf(out, "%s ", dtype_name(e->dtype)) < 0 ? -1 :
	       layout_add_shape(out, e->shape, e->ndim);
}

int
layout_print_entry(const struct layout_entry *e, struct buf *out)
{
	if (layout_add_key(out, e->key) < 0 || buf_addch(out, ' ') < 0 ||
	    layout_add_type(out, e) < 0)
		return -1;
	return buf_addch(out, '\n');
}

bool
layout_entry_same(const struct layout_entry *a, const struct layout_entry *b)
{
	return a->dtype == b->dtype && a->ndim == b->ndim &&
	       (!a->ndim || !memcmp(a->shape, b->shape,
				    (size_t)a->ndim * sizeof(*a->shape)));
}

/* ---- diff ------------------------------------------------------------ */

void
layout_diff_release(struct layout_diff *d)
{
	free(d->missing);
	free(d->unexpected);
	free(d->mismatched);
	memset(d, 0, sizeof(*d));
}

size_t
layout_diff_count(const struct layout_diff *d)
{
	return d->nmissing + d->nunexpected + d->nmismatched;
}

int
layout_diff(struct layout *have, struct layout *want, struct layout_diff *d,
	    struct ckerr *err)
{
	size_t i;

	memset(d, 0, sizeof(*d));
	if (layout_index(have, err) < 0 || layout_index(want, err) < 0)
		return -1;
	d->missing = malloc((want->n + 1) * sizeof(*d->missing));
	d->mismatched = malloc((want->n + 1) * sizeof(*d->mismatched));
	d->unexpected = malloc((have->n + 1) * sizeof(*d->unexpected));
	if (!d->missing || !d->mismatched || !d->unexpected) {
		layout_diff_release(d);
		return ckerr_nomem(err);
	}
	for (i = 0; i < want->n; i++) {
		ptrdiff_t h = layout_find(have, want->v[i].key);

		if (h < 0)
			d->missing[d->nmissing++] = i;
		else if (!layout_entry_same(&have->v[h], &want->v[i])) {
			d->mismatched[d->nmismatched].have = (size_t)h;
			d->mismatched[d->nmismatched++].want = i;
		}
	}
	for (i = 0; i < have->n; i++)
		if (layout_find(want, have->v[i].key) < 0)
			d->unexpected[d->nunexpected++] = i;
	return 0;
}
