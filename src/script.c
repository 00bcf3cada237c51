/* script: the edit language -- lexer, parser and printer of struct edit. */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "script.h"
#include "grow.h"
#include "banned.h"

struct edit_info {
	const char *name;
	unsigned nstr, nnum;	/* positional strings, then integers */
	const char *usage;
};

static const struct edit_info edit_info[EDIT__COUNT] = {
#define EDIT_INFO(e, name, nstr, nnum, usage) \
	[EDIT_##e] = { name, nstr, nnum, usage },
	EDIT_TABLE(EDIT_INFO)
#undef EDIT_INFO
};

/* The most a did-you-mean suggestion may differ from what was written. */
#define SUGGEST_MAX_DISTANCE 2

/* One lexed word of a line: lx->text[off..off + len), NUL-terminated. */
struct word {
	size_t off, len;
	unsigned col;
	bool option;		/* starts with two unquoted '-' */
};

/*
 * The lexer's state for the line being parsed.  Its buffers are reused
 * from line to line; text, col and quoted run in parallel.
 */
struct lexer {
	const char *name;
	unsigned line;
	struct ckerr *err;
	char *text;		/* the words' bytes, each NUL-terminated */
	unsigned *col;		/* source column of each byte of text */
	bool *quoted;		/* the byte came from inside quotes */
	size_t alloc;		/* of text, col and quoted */
	struct word *w;
	size_t nw, walloc;
};

/* An option's value: a NUL-terminated tail of lx->text. */
struct value {
	size_t off;		/* in lx->text */
	unsigned col;		/* where it starts in the line */
};

struct opt_info {
	const char *name;
	int (*set)(struct lexer *lx, struct edit *e, const struct word *opt,
		   const struct value *v);
};

static int opt_dim(struct lexer *, struct edit *, const struct word *,
		   const struct value *);
static int opt_value(struct lexer *, struct edit *, const struct word *,
		     const struct value *);
static int opt_except(struct lexer *, struct edit *, const struct word *,
		      const struct value *);
static int opt_also(struct lexer *, struct edit *, const struct word *,
		    const struct value *);

/* Every option of the language; EDIT_TABLE's usages say who takes which. */
static const struct opt_info opt_info[] = {
	{ "dim", opt_dim },
	{ "value", opt_value },
	{ "except", opt_except },
	{ "also", opt_also },
};
#define NOPTS (sizeof(opt_info) / sizeof(opt_info[0]))

static const struct edit_info *
info(enum edit_op op)
{
	return (unsigned)op < EDIT__COUNT ? &edit_info[op] : NULL;
}

const char *
edit_name(enum edit_op op)
{
	return info(op) ? info(op)->name : "invalid";
}

const char *
edit_usage(enum edit_op op)
{
	return info(op) ? info(op)->usage : "";
}

/* Does op's usage list "[--name ...]"? */
static bool
edit_takes(enum edit_op op, const char *name)
{
	const char *p = info(op)->usage;
	size_t n = strlen(name);

	while ((p = strstr(p, "[--"))) {
		p += 3;
		if (!strncmp(p, name, n) && (p[n] == ' ' || p[n] == ']'))
			return true;
	}
	return false;
}

/* The positional part of op's usage ("KEY FROM TO"), as pointer + length. */
static const char *
edit_positionals(enum edit_op op, int *len)
{
	const char *u = info(op)->usage + strlen(info(op)->name);
	size_t n;

	u += strspn(u, " ");
	n = strcspn(u, "[");
	while (n && u[n - 1] == ' ')
		n--;
	*len = (int)n;
	return u;
}

/* The name of op's i-th positional argument ("FROM"). */
static const char *
edit_positional(enum edit_op op, unsigned i, int *len)
{
	int n;
	const char *u = edit_positionals(op, &n);

	while (i--) {
		u += strcspn(u, " ");
		u += strspn(u, " ");
	}
	*len = (int)strcspn(u, " [");
	return u;
}

/* ---- errors and small parsers -------------------------------------------- */

static int lx_fail(struct lexer *lx, enum ckerr_code code, unsigned col,
		   const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/* Report "NAME:LINE:COL: message"; returns -1. */
static int
lx_fail(struct lexer *lx, enum ckerr_code code, unsigned col, const char *fmt,
	...)
{
	char msg[CKERR_MSG_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return ckerr_set(lx->err, code, "%s:%u:%u: %s", lx->name, lx->line,
			 col, msg);
}

static int
lx_nomem(struct lexer *lx)
{
	return ckerr_nomem(lx->err);
}

static struct edit_pos
lx_pos(const struct lexer *lx, unsigned col)
{
	struct edit_pos p = { lx->line, col };

	return p;
}

/*
 * Parse a decimal int64, with a '-' when neg allows it: 0, or -1 when s
 * is not one, -2 when it is but does not fit.
 */
static int
parse_int(const char *s, bool neg, int64_t *out)
{
	uint64_t v = 0, lim = INT64_MAX;
	bool minus = false, big = false;

	if (neg && *s == '-') {
		minus = true;
		lim = (uint64_t)INT64_MAX + 1;
		s++;
	}
	if (!*s)
		return -1;
	for (; *s; s++) {
		unsigned d = (unsigned char)*s - '0';

		if (d > 9)
			return -1;
		if (v > (lim - d) / 10)
			big = true;
		else
			v = v * 10 + d;
	}
	if (big)
		return -2;
	if (!minus)
		*out = (int64_t)v;
	else if (v == (uint64_t)INT64_MAX + 1)
		*out = INT64_MIN;
	else
		*out = -(int64_t)v;
	return 0;
}

/* ASCII case-insensitive string equality (no locale). */
static bool
ascii_ieq(const char *a, const char *b)
{
	for (; *a && *b; a++, b++) {
		int x = (unsigned char)*a, y = (unsigned char)*b;

		if (x >= 'A' && x <= 'Z')
			x += 'a' - 'A';
		if (y >= 'A' && y <= 'Z')
			y += 'a' - 'A';
		if (x != y)
			return false;
	}
	return *a == *b;
}

static size_t
digits(const char *s)
{
	return strspn(s, "0123456789");
}

/* Would Python's float() or int() accept s (no blanks, no '_'), or is it
 * true/false? */
static bool
is_number(const char *s)
{
	size_t n, frac = 0;

	if (ascii_ieq(s, "true") || ascii_ieq(s, "false"))
		return true;
	if (*s == '+' || *s == '-')
		s++;
	if (ascii_ieq(s, "inf") || ascii_ieq(s, "infinity") ||
	    ascii_ieq(s, "nan"))
		return true;
	n = digits(s);
	s += n;
	if (*s == '.') {
		frac = digits(++s);
		s += frac;
	}
	if (!n && !frac)
		return false;
	if (*s == 'e' || *s == 'E') {
		s++;
		if (*s == '+' || *s == '-')
			s++;
		n = digits(s);
		if (!n)
			return false;
		s += n;
	}
	return !*s;
}

/* Levenshtein distance of a and b, or max + 1 once it exceeds max. */
static size_t
distance(const char *a, size_t alen, const char *b, size_t blen, size_t max)
{
	/* b is a name from our tables: short */
	size_t row[32], i, j;

	if (blen >= sizeof(row) / sizeof(row[0]) ||
	    (alen > blen ? alen - blen : blen - alen) > max)
		return max + 1;
	for (j = 0; j <= blen; j++)
		row[j] = j;
	for (i = 1; i <= alen; i++) {
		size_t diag = row[0], best;

		row[0] = i;
		best = row[0];
		for (j = 1; j <= blen; j++) {
			size_t up = row[j];
			size_t d = diag + (a[i - 1] != b[j - 1]);

			if (up + 1 < d)
				d = up + 1;
			if (row[j - 1] + 1 < d)
				d = row[j - 1] + 1;
			row[j] = d;
			diag = up;
			if (d < best)
				best = d;
		}
		if (best > max)
			return max + 1;
	}
	return row[blen] <= max ? row[blen] : max + 1;
}

/* ---- lexer --------------------------------------------------------------- */

static bool
is_blank(char c)
{
	return c == ' ' || c == '\t';
}

static void
lexer_init(struct lexer *lx, const char *name, struct ckerr *err)
{
	memset(lx, 0, sizeof(*lx));
	lx->name = name ? name : "script";
	lx->err = err;
}

static void
lexer_release(struct lexer *lx)
{
	free(lx->text);
	free(lx->col);
	free(lx->quoted);
	free(lx->w);
}

/* Room for n bytes of words (with their NULs). */
static int
lexer_reserve(struct lexer *lx, size_t n)
{
	char *t;
	unsigned *c;
	bool *q;

	if (n <= lx->alloc)
		return 0;
	t = realloc(lx->text, n);
	if (t)
		lx->text = t;
	c = realloc(lx->col, n * sizeof(*c));
	if (c)
		lx->col = c;
	q = realloc(lx->quoted, n * sizeof(*q));
	if (q)
		lx->quoted = q;
	if (!t || !c || !q)
		return lx_nomem(lx);
	lx->alloc = n;
	return 0;
}

static int
lexer_push(struct lexer *lx, const struct word *w)
{
	if (lx->nw == lx->walloc) {
		struct word *p = grow_array(lx->w, &lx->walloc, lx->nw + 1,
					    sizeof(*p), 16);

		if (!p)
			return lx_nomem(lx);
		lx->w = p;
	}
	lx->w[lx->nw++] = *w;
	return 0;
}

/*
 * Split s[0..len) (one line, without its line end) into words.  A word's
 * bytes never outnumber the source bytes it came from, and every word but
 * the last is followed by a blank, so len + 1 bytes hold all the words
 * with their NULs.
 */
static int
lex(struct lexer *lx, const char *s, size_t len)
{
	const char *nul = memchr(s, '\0', len);
	size_t i = 0, o = 0;

	lx->nw = 0;
	if (nul)
		return lx_fail(lx, CKERR_USAGE, (unsigned)(nul - s) + 1,
			       "NUL byte in the script");
	if (lexer_reserve(lx, len + 1) < 0)
		return -1;
	for (;;) {
		struct word w;

		while (i < len && is_blank(s[i]))
			i++;
		if (i == len || s[i] == '#')
			return 0;
		w.off = o;
		w.col = (unsigned)i + 1;
		while (i < len && !is_blank(s[i]) && s[i] != '#') {
			char q = s[i];
			size_t open = i;

			if (q != '\'' && q != '"') {
				lx->text[o] = q;
				lx->col[o] = (unsigned)i + 1;
				lx->quoted[o++] = false;
				i++;
				continue;
			}
			for (i++; i < len && s[i] != q; i++) {
				if (q == '"' && s[i] == '\\' && i + 1 < len &&
				    (s[i + 1] == '"' || s[i + 1] == '\\'))
					i++;
				lx->text[o] = s[i];
				lx->col[o] = (unsigned)i + 1;
				lx->quoted[o++] = true;
			}
			if (i == len)
				return lx_fail(lx, CKERR_USAGE,
					       (unsigned)open + 1,
					       "unterminated %s quote",
					       q == '"' ? "double" : "single");
			i++;
		}
		w.len = o - w.off;
		w.option = w.len >= 2 && lx->text[w.off] == '-' &&
			   lx->text[w.off + 1] == '-' && !lx->quoted[w.off] &&
			   !lx->quoted[w.off + 1];
		lx->text[o] = '\0';
		lx->col[o] = (unsigned)i + 1;
		lx->quoted[o++] = false;
		if (lexer_push(lx, &w) < 0)
			return -1;
	}
}

/* ---- parser -------------------------------------------------------------- */

/*
 * The array p of n items, with room for one more: the parser's arrays
 * hold the next power of two, so appending stays linear.  NULL when memory
 * runs out (p is then unchanged).
 */
static void *
grow(void *p, size_t n, size_t size)
{
	size_t cap;

	if (n & (n - 1))
		return p;	/* not a power of two: there is room */
	cap = n ? n * 2 : 1;
	if (cap > SIZE_MAX / size)
		return NULL;
	return realloc(p, cap * size);
}

static int
opt_dim(struct lexer *lx, struct edit *e, const struct word *opt,
	const struct value *v)
{
	const char *s = lx->text + v->off;
	int r;

	if (e->dim_set)
		return lx_fail(lx, CKERR_USAGE, opt->col,
			       "option '--dim' given twice");
	r = parse_int(s, true, &e->dim);
	if (r < 0)
		return lx_fail(lx, CKERR_USAGE, v->col, "bad --dim '%s': %s", s,
			       r == -1 ? "not an integer" : "out of range");
	e->dim_set = true;
	e->dim_pos = lx_pos(lx, v->col);
	return 0;
}

static int
opt_value(struct lexer *lx, struct edit *e, const struct word *opt,
	  const struct value *v)
{
	const char *s = lx->text + v->off;

	if (e->value)
		return lx_fail(lx, CKERR_USAGE, opt->col,
			       "option '--value' given twice");
	if (!is_number(s))
		return lx_fail(lx, CKERR_USAGE, v->col,
			       "bad --value '%s': not a number, inf, nan, true "
			       "or false", s);
	e->value = strdup(s);
	if (!e->value)
		return lx_nomem(lx);
	e->value_pos = lx_pos(lx, v->col);
	return 0;
}

static int
opt_except(struct lexer *lx, struct edit *e, const struct word *opt,
	   const struct value *v)
{
	char **ex, *s;
	struct edit_pos *pos;

	(void)opt;
	ex = grow(e->except, e->nexcept, sizeof(*ex));
	if (!ex)
		return lx_nomem(lx);
	e->except = ex;
	pos = grow(e->except_pos, e->nexcept, sizeof(*pos));
	if (!pos)
		return lx_nomem(lx);
	e->except_pos = pos;
	s = strdup(lx->text + v->off);
	if (!s)
		return lx_nomem(lx);
	e->except[e->nexcept] = s;
	e->except_pos[e->nexcept++] = lx_pos(lx, v->col);
	return 0;
}

static int
opt_also(struct lexer *lx, struct edit *e, const struct word *opt,
	 const struct value *v)
{
	const char *s = lx->text + v->off;
	size_t len = strlen(s), keylen = len, i;
	struct edit_also a = { NULL, false, 0, lx_pos(lx, v->col) }, *also;

	(void)opt;
	/* the last unquoted ':', when an integer follows it */
	for (i = len; i-- > 0;) {
		if (s[i] != ':' || lx->quoted[v->off + i])
			continue;
		switch (parse_int(s + i + 1, true, &a.dim)) {
		case -2:
			return lx_fail(lx, CKERR_USAGE,
				       lx->col[v->off + i + 1],
				       "bad --also dimension '%s': out of "
				       "range", s + i + 1);
		case 0:
			a.dim_set = true;
			keylen = i;
			break;
		}
		break;
	}
	also = grow(e->also, e->nalso, sizeof(*also));
	if (!also)
		return lx_nomem(lx);
	e->also = also;
	a.key = strndup(s, keylen);
	if (!a.key)
		return lx_nomem(lx);
	e->also[e->nalso++] = a;
	return 0;
}

/* The option word w (index *k; its value may be the next word). */
static int
parse_option(struct lexer *lx, struct edit *e, size_t *k)
{
	const struct word *w = &lx->w[*k];
	const char *name = lx->text + w->off + 2;
	const struct opt_info *opt = NULL;
	const char *best = NULL;
	size_t n, i, bestd = SUGGEST_MAX_DISTANCE + 1;
	struct value v;

	/* the name runs to the first unquoted '=' */
	for (n = 0; n + 2 < w->len; n++)
		if (name[n] == '=' && !lx->quoted[w->off + 2 + n])
			break;
	if (!n)
		return lx_fail(lx, CKERR_USAGE, w->col,
			       "missing option name after '--'");
	for (i = 0; i < NOPTS; i++) {
		size_t d;

		if (strlen(opt_info[i].name) == n &&
		    !memcmp(opt_info[i].name, name, n))
			opt = &opt_info[i];
		else if (edit_takes(e->op, opt_info[i].name) &&
			 (d = distance(name, n, opt_info[i].name,
				       strlen(opt_info[i].name),
				       SUGGEST_MAX_DISTANCE)) < bestd) {
			bestd = d;
			best = opt_info[i].name;
		}
	}
	if (!opt && best)
		return lx_fail(lx, CKERR_USAGE, w->col,
			       "unknown option '--%.*s' (did you mean '--%s'?)",
			       (int)n, name, best);
	if (!opt)
		return lx_fail(lx, CKERR_USAGE, w->col,
			       "unknown option '--%.*s' (usage: %s)", (int)n,
			       name, edit_usage(e->op));
	if (!edit_takes(e->op, opt->name))
		return lx_fail(lx, CKERR_USAGE, w->col,
			       "option '--%s' does not apply to %s (usage: %s)",
			       opt->name, edit_name(e->op), edit_usage(e->op));
	if (n + 2 < w->len) {
		/* --opt=value: the value starts right after the '=' */
		v.off = w->off + 2 + n + 1;
		v.col = lx->col[w->off + 2 + n] + 1;
	} else if (*k + 1 < lx->nw && !lx->w[*k + 1].option) {
		++*k;
		v.off = lx->w[*k].off;
		v.col = lx->w[*k].col;
	} else {
		return lx_fail(lx, CKERR_USAGE, w->col,
			       "option '--%s' needs a value", opt->name);
	}
	return opt->set(lx, e, w, &v);
}

/* The positional word w, the npos-th. */
static int
parse_positional(struct lexer *lx, struct edit *e, const struct word *w,
		 unsigned npos)
{
	const struct edit_info *in = info(e->op);
	const char *s = lx->text + w->off;
	const char *what;
	unsigned j;
	int n, r;

	if (npos >= in->nstr + in->nnum)
		return lx_fail(lx, CKERR_USAGE, w->col,
			       "unexpected argument '%s' (usage: %s)", s,
			       in->usage);
	if (npos < in->nstr) {
		e->str[npos] = strdup(s);
		if (!e->str[npos])
			return lx_nomem(lx);
		e->str_pos[npos] = lx_pos(lx, w->col);
		return 0;
	}
	j = npos - in->nstr;
	r = parse_int(s, false, &e->num[j]);
	if (r < 0) {
		what = edit_positional(e->op, npos, &n);
		return lx_fail(lx, CKERR_USAGE, w->col, "bad %.*s '%s': %s", n,
			       what, s,
			       r == -1 ? "not a non-negative integer"
				       : "out of range");
	}
	e->num_pos[j] = lx_pos(lx, w->col);
	return 0;
}

/* The edit named by the first word, or -1 with the error set. */
static int
parse_op(struct lexer *lx, enum edit_op *op)
{
	const struct word *w = &lx->w[0];
	const char *s = lx->text + w->off;
	const char *best = NULL;
	size_t bestd = SUGGEST_MAX_DISTANCE + 1;
	int i;

	if (w->option)
		return lx_fail(lx, CKERR_USAGE, w->col,
			       "expected an edit, not option '%s'", s);
	for (i = 0; i < EDIT__COUNT; i++) {
		const char *name = edit_info[i].name;
		size_t d;

		if (!strcmp(s, name)) {
			*op = (enum edit_op)i;
			return 0;
		}
		d = distance(s, w->len, name, strlen(name),
			     SUGGEST_MAX_DISTANCE);
		if (d < bestd) {
			bestd = d;
			best = name;
		}
	}
	if (best)
		return lx_fail(lx, CKERR_USAGE, w->col,
			       "unknown edit '%s' (did you mean '%s'?)", s,
			       best);
	return lx_fail(lx, CKERR_USAGE, w->col, "unknown edit '%s'", s);
}

/* The lexed words of a line as an edit: 1, or -1 with *e empty. */
static int
parse_words(struct lexer *lx, struct edit *e)
{
	const struct edit_info *in;
	unsigned npos = 0;
	enum edit_op op = EDIT__COUNT;
	size_t k;
	int n;

	if (parse_op(lx, &op) < 0)
		return -1;
	in = info(op);
	e->op = op;
	e->pos = lx_pos(lx, lx->w[0].col);
	for (k = 1; k < lx->nw; k++) {
		if (lx->w[k].option ? parse_option(lx, e, &k) < 0
				    : parse_positional(lx, e, &lx->w[k],
						       npos++) < 0)
			goto fail;
	}
	if (npos < in->nstr + in->nnum) {
		const char *what = edit_positionals(op, &n);

		lx_fail(lx, CKERR_USAGE, e->pos.col,
			"%s needs %.*s (usage: %s)", in->name, n, what,
			in->usage);
		goto fail;
	}
	return 1;
fail:
	edit_release(e);
	return -1;
}

/* One line without its '\n': 1 with *e filled, 0 when blank, -1. */
static int
parse_line(struct lexer *lx, const char *s, size_t len, unsigned lineno,
	   struct edit *e)
{
	memset(e, 0, sizeof(*e));
	lx->line = lineno;
	if (len && s[len - 1] == '\r')
		len--;
	if (len > SCRIPT_MAX_LINE)
		return lx_fail(lx, CKERR_LIMIT, (unsigned)SCRIPT_MAX_LINE + 1,
			       "line is longer than %zu bytes",
			       SCRIPT_MAX_LINE);
	if (lex(lx, s, len) < 0)
		return -1;
	return lx->nw ? parse_words(lx, e) : 0;
}

int
script_parse_line(const char *line, size_t len, const char *name,
		  unsigned lineno, struct edit *out, struct ckerr *err)
{
	struct lexer lx;
	/* past the longest line, parse_line() reports the length instead */
	const char *nl = memchr(line, '\n',
				len < SCRIPT_MAX_LINE ? len : SCRIPT_MAX_LINE);
	int r;

	lexer_init(&lx, name, err);
	if (nl) {
		memset(out, 0, sizeof(*out));
		lx.line = lineno;
		return lx_fail(&lx, CKERR_USAGE, (unsigned)(nl - line) + 1,
			       "line break inside a line");
	}
	r = parse_line(&lx, line, len, lineno, out);
	lexer_release(&lx);
	return r;
}

int
script_parse(const char *text, size_t len, const char *name,
	     struct script *out, struct ckerr *err)
{
	static const char bom[] = "\xef\xbb\xbf";
	struct script s = { NULL, NULL, 0 };
	struct lexer lx;
	size_t i = 0, alloc = 0;
	unsigned lineno = 0;

	memset(out, 0, sizeof(*out));
	lexer_init(&lx, name, err);
	s.name = strdup(lx.name);
	if (!s.name)
		return lx_nomem(&lx);
	if (len >= 3 && !memcmp(text, bom, 3))
		i = 3;
	while (i < len) {
		const char *nl = memchr(text + i, '\n', len - i);
		size_t end = nl ? (size_t)(nl - text) : len;
		struct edit e;
		int r;

		if (lineno == UINT_MAX) {
			lx_fail(&lx, CKERR_LIMIT, 1, "too many lines");
			goto fail;
		}
		r = parse_line(&lx, text + i, end - i, ++lineno, &e);
		if (r < 0)
			goto fail;
		i = end + 1;
		if (!r)
			continue;
		if (s.n == SCRIPT_MAX_EDITS) {
			lx_fail(&lx, CKERR_LIMIT, e.pos.col,
				"script holds more than %d edits",
				SCRIPT_MAX_EDITS);
			edit_release(&e);
			goto fail;
		}
		if (s.n == alloc) {
			struct edit *p = grow_array(s.edits, &alloc, s.n + 1,
						    sizeof(*p), 16);

			if (!p) {
				edit_release(&e);
				lx_nomem(&lx);
				goto fail;
			}
			s.edits = p;
		}
		s.edits[s.n++] = e;
	}
	lexer_release(&lx);
	*out = s;
	return 0;
fail:
	lexer_release(&lx);
	script_release(&s);
	return -1;
}

/* ---- lifecycle, comparison, copy ----------------------------------------- */

void
edit_release(struct edit *e)
{
	size_t i;

	free(e->str[0]);
	free(e->str[1]);
	for (i = 0; i < e->nexcept; i++)
		free(e->except[i]);
	free(e->except);
	free(e->except_pos);
	free(e->value);
	for (i = 0; i < e->nalso; i++)
		free(e->also[i].key);
	free(e->also);
	memset(e, 0, sizeof(*e));
}

void
script_release(struct script *s)
{
	size_t i;

	for (i = 0; i < s->n; i++)
		edit_release(&s->edits[i]);
	free(s->edits);
	free(s->name);
	memset(s, 0, sizeof(*s));
}

static bool
str_equal(const char *a, const char *b)
{
	return a && b ? !strcmp(a, b) : a == b;
}

bool
edit_equal(const struct edit *a, const struct edit *b)
{
	const struct edit_info *in = info(a->op);
	size_t i;

	if (a->op != b->op || !in)
		return a->op == b->op;
	for (i = 0; i < in->nstr; i++)
		if (!str_equal(a->str[i], b->str[i]))
			return false;
	for (i = 0; i < in->nnum; i++)
		if (a->num[i] != b->num[i])
			return false;
	if (edit_takes(a->op, "dim") &&
	    (a->dim_set != b->dim_set || (a->dim_set && a->dim != b->dim)))
		return false;
	if (edit_takes(a->op, "value") && !str_equal(a->value, b->value))
		return false;
	if (edit_takes(a->op, "except")) {
		if (a->nexcept != b->nexcept)
			return false;
		for (i = 0; i < a->nexcept; i++)
			if (!str_equal(a->except[i], b->except[i]))
				return false;
	}
	if (edit_takes(a->op, "also")) {
		if (a->nalso != b->nalso)
			return false;
		for (i = 0; i < a->nalso; i++) {
			const struct edit_also *x = &a->also[i];
			const struct edit_also *y = &b->also[i];

			if (!str_equal(x->key, y->key) ||
			    x->dim_set != y->dim_set ||
			    (x->dim_set && x->dim != y->dim))
				return false;
		}
	}
	return true;
}

/* *dst = a copy of src (NULL stays NULL); false when memory runs out. */
static bool
dup_str(char **dst, const char *src)
{
	*dst = src ? strdup(src) : NULL;
	return !src || *dst;
}

/* A copy of n items of size bytes (zeroed when src is NULL: positions an
 * edit made by code left out); NULL when n is 0 or memory runs out. */
static void *
dup_array(const void *src, size_t n, size_t size)
{
	void *p = n ? calloc(n, size) : NULL;

	if (p && src)
		memcpy(p, src, n * size);
	return p;
}

int
edit_copy(struct edit *dst, const struct edit *src, struct ckerr *err)
{
	struct edit e = *src;
	size_t i;
	bool ok;

	/* nothing of src is owned by e until each pointer is replaced */
	e.str[0] = e.str[1] = e.value = NULL;
	e.except = NULL;
	e.except_pos = NULL;
	e.also = NULL;
	e.nexcept = e.nalso = 0;
	if (src->nexcept) {
		e.except = dup_array(src->except, src->nexcept,
				     sizeof(*e.except));
		e.except_pos = dup_array(src->except_pos, src->nexcept,
					 sizeof(*e.except_pos));
	}
	if (src->nalso)
		e.also = dup_array(src->also, src->nalso, sizeof(*e.also));
	ok = dup_str(&e.str[0], src->str[0]) &&
	     dup_str(&e.str[1], src->str[1]) &&
	     dup_str(&e.value, src->value) &&
	     (!src->nexcept || (e.except && e.except_pos)) &&
	     (!src->nalso || e.also);
	/* the arrays hold src's strings until replaced: count only ours */
	for (i = 0; ok && i < src->nexcept; i++, e.nexcept++)
		ok = dup_str(&e.except[i], src->except[i]);
	for (i = 0; ok && i < src->nalso; i++, e.nalso++)
		ok = dup_str(&e.also[i].key, src->also[i].key);
	if (!ok) {
		/* the copied arrays still hold src's pointers past our count */
		edit_release(&e);
		memset(dst, 0, sizeof(*dst));
		return ckerr_nomem(err);
	}
	*dst = e;
	return 0;
}

/* ---- printing ------------------------------------------------------------ */

/* Can arg be written without quotes? */
static bool
is_bare(const char *arg)
{
	if (!*arg || (arg[0] == '-' && arg[1] == '-'))
		return false;
	return !arg[strcspn(arg, " \t'\"#\\\r")];
}

/* Would --also take arg's tail ":D" for a dimension? */
static bool
ends_in_dim(const char *arg)
{
	const char *c = strrchr(arg, ':');
	int64_t d;

	return c && parse_int(c + 1, true, &d) != -1;
}

/* Append arg, quoted when it must be or when force says so. */
static int
quote(const char *arg, bool force, struct buf *out)
{
	const char *p;

	if (strchr(arg, '\n')) {
		errno = EINVAL;
		return -1;
	}
	if (!force && is_bare(arg))
		return buf_addstr(out, arg);
	if (!strchr(arg, '\''))
		return buf_addf(out, "'%s'", arg);
	if (buf_addch(out, '"') < 0)
		return -1;
	for (p = arg; *p; p++)
		if (((*p == '"' || *p == '\\') && buf_addch(out, '\\') < 0) ||
		    buf_addch(out, *p) < 0)
			return -1;
	return buf_addch(out, '"');
}

int
script_quote(const char *arg, struct buf *out)
{
	size_t len = out->len;

	if (quote(arg, false, out) < 0) {
		if (out->data && out->len != len) {
			out->len = len;
			out->data[len] = '\0';
		}
		return -1;
	}
	return 0;
}

/* Append " --name ARG" (ARG quoted as needed). */
static int
print_opt(struct buf *out, const char *name, const char *arg, bool force)
{
	return buf_addf(out, " --%s ", name) < 0 ? -1 : quote(arg, force, out);
}

static int
print_edit(const struct edit *e, struct buf *out)
{
	const struct edit_info *in = info(e->op);
	size_t i;

	if (!in) {
		errno = EINVAL;
		return -1;
	}
	if (buf_addstr(out, in->name) < 0)
		return -1;
	for (i = 0; i < in->nstr; i++)
		if (buf_addch(out, ' ') < 0 ||
		    quote(e->str[i] ? e->str[i] : "", false, out) < 0)
			return -1;
	for (i = 0; i < in->nnum; i++)
		if (buf_addf(out, " %" PRId64, e->num[i]) < 0)
			return -1;
	if (edit_takes(e->op, "dim") && e->dim_set &&
	    buf_addf(out, " --dim %" PRId64, e->dim) < 0)
		return -1;
	if (edit_takes(e->op, "value") && e->value &&
	    print_opt(out, "value", e->value, false) < 0)
		return -1;
	for (i = 0; edit_takes(e->op, "except") && i < e->nexcept; i++)
		if (print_opt(out, "except", e->except[i], false) < 0)
			return -1;
	for (i = 0; edit_takes(e->op, "also") && i < e->nalso; i++) {
		const struct edit_also *a = &e->also[i];

		/* a key that looks like KEY:D is quoted unless a D follows */
		if (print_opt(out, "also", a->key,
			      !a->dim_set && ends_in_dim(a->key)) < 0 ||
		    (a->dim_set && buf_addf(out, ":%" PRId64, a->dim) < 0))
			return -1;
	}
	return 0;
}

int
edit_print(const struct edit *e, struct buf *out)
{
	size_t len = out->len;

	if (print_edit(e, out) < 0) {
		/* leave out as it was */
		if (out->data && out->len != len) {
			out->len = len;
			out->data[len] = '\0';
		}
		return -1;
	}
	return 0;
}

int
script_fail_at(struct ckerr *err, enum ckerr_code code, const char *name,
	       struct edit_pos pos, const char *fmt, ...)
{
	char msg[CKERR_MSG_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (!pos.line)
		return ckerr_set(err, code, "%s", msg);
	return ckerr_set(err, code, "%s:%u:%u: %s", name ? name : "script",
			 pos.line, pos.col, msg);
}
