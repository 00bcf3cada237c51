/* edit: plan edits on the key list, check them all, then change the graph. */
#include "config.h"

#include <regex.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "column.h"
#include "edit.h"
#include "ere.h"
#include "optim.h"
#include "torchpkl.h"
#include "grow.h"
#include "banned.h"

/* A problem with an edit of the script: "NAME:LINE:COL: message". */
#define fail_at(err, name, pos, ...) \
	script_fail_at(err, CKERR_USAGE, name, pos, __VA_ARGS__)

/* The keys of the state dict as the edits see them, in order. */
struct key {
	char *name;		/* NULL for a key that is not a str */
	size_t len;
	struct pyval *value;	/* its value when the script started */
	size_t orig;		/* its position when the script started */
	int ndim;		/* its shape after earlier column edits, */
	int64_t *shape;		/* or NULL: the value's own */
};

struct keyset {
	struct key *v;
	size_t n;
};

/* What one edit does to a keyset: renamed and deleted positions. */
struct step {
	size_t pos;
	char *to;		/* new name, NULL to delete */
};

/* A column edit: the tensors it changes and how. */
struct coltarget {
	size_t pos;		/* in the keyset (= in the dict) */
	size_t orig;		/* position when the script started */
	struct column_op op;	/* with this tensor's own dim and fill */
	uint8_t fill[16];
	int ndim;		/* its shape before the edit */
	int64_t shape[TENSOR_MAX_DIMS];
};

struct colplan {
	struct coltarget *t;	/* the key, then each --also */
	size_t n;
};

/* An entry drop removes, and where it is. */
struct dropitem {
	const struct pyval *holder;
	size_t index;
	char *path;
};

struct dropplan {
	struct dropitem *v;
	size_t n, alloc;
	size_t seq;		/* the edit's number in its script */
};

/* An entry a drop of the script removes, as the script found it. */
struct gone {
	const struct pyval *holder;
	size_t index;
	size_t seq;		/* the number of the edit that drops it */
	const char *path;	/* borrowed from its dropplan */
};

struct plan {
	struct step *v;
	size_t n, alloc;
	struct colplan *col;	/* column edits */
	struct dropplan *drop;	/* drop */
	char *warning;
};

/* What every plan of a script run may look at. */
/* An optimizer tensor's shape after the column edits checked so far. */
struct momshape {
	const struct pyval *value;	/* the tensor as the script found it */
	int ndim;
	int64_t shape[TENSOR_MAX_DIMS];
};

struct run {
	struct ckpt *ck;
	const struct ckpt_root *root;
	struct pyval *sd;
	struct optim_set opts;
	/*
	 * Every edit is checked before the first one changes the graph: what
	 * the edits checked so far will have done to what lies outside the
	 * state dict.  seq is the number of the edit being checked.
	 */
	struct momshape *mom;
	size_t nmom, amom;
	struct gone *gone;
	size_t ngone, agone;
	size_t seq;
};

/* Whether an edit before edit seq drops the entry at (holder, index). */
static bool
is_gone(const struct run *run, const struct pyval *holder, size_t index,
	size_t seq)
{
	size_t i;

	for (i = 0; i < run->ngone; i++)
		if (run->gone[i].holder == holder &&
		    run->gone[i].index == index && run->gone[i].seq < seq)
			return true;
	return false;
}

/* How many entries of holder before index the edits before edit seq drop. */
static size_t
gone_before(const struct run *run, const struct pyval *holder, size_t index,
	    size_t seq)
{
	size_t i, n = 0;

	for (i = 0; i < run->ngone; i++)
		n += run->gone[i].holder == holder &&
		     run->gone[i].index < index && run->gone[i].seq < seq;
	return n;
}

/* Whether an edit before edit seq drops path or what holds it. */
static bool
path_gone(const struct run *run, const char *path, size_t seq)
{
	size_t i, n;

	for (i = 0; i < run->ngone; i++) {
		n = strlen(run->gone[i].path);
		if (run->gone[i].seq < seq && !strncmp(run->gone[i].path, path, n)
		    && (path[n] == '\0' || path[n] == '.'))
			return true;
	}
	return false;
}


static void
keyset_release(struct keyset *ks)
{
	size_t i;

	for (i = 0; i < ks->n; i++) {
		free(ks->v[i].name);
		free(ks->v[i].shape);
	}
	free(ks->v);
	ks->v = NULL;
	ks->n = 0;
}

static int
keyset_from_dict(const struct pyval *d, struct keyset *ks, struct ckerr *err)
{
	size_t i;

	ks->n = d->u.dict->len;
	ks->v = calloc(ks->n + 1, sizeof(*ks->v));
	if (!ks->v)
		return ckerr_nomem(err);
	for (i = 0; i < ks->n; i++) {
		const struct pyval *k = d->u.dict->items[i].key;

		ks->v[i].value = d->u.dict->items[i].value;
		ks->v[i].orig = i;
		/* keys holding a NUL cannot be named in a script */
		if (k->kind != PV_STR || memchr(k->u.s.data, '\0', k->u.s.len))
			continue;
		ks->v[i].name = strndup(k->u.s.data, k->u.s.len);
		if (!ks->v[i].name) {
			keyset_release(ks);
			return ckerr_nomem(err);
		}
		ks->v[i].len = k->u.s.len;
	}
	return 0;
}

static void
plan_release(struct plan *pl)
{
	size_t i;

	for (i = 0; i < pl->n; i++)
		free(pl->v[i].to);
	free(pl->v);
	if (pl->col)
		free(pl->col->t);
	free(pl->col);
	for (i = 0; pl->drop && i < pl->drop->n; i++)
		free(pl->drop->v[i].path);
	if (pl->drop)
		free(pl->drop->v);
	free(pl->drop);
	free(pl->warning);
	memset(pl, 0, sizeof(*pl));
}

/* Record position i becoming to (owned), or deleted when to is NULL. */
static int
plan_add(struct plan *pl, size_t i, char *to, struct ckerr *err)
{
	if (pl->n == pl->alloc) {
		struct step *p = grow_array(pl->v, &pl->alloc, pl->n + 1,
					    sizeof(*p), 16);

		if (!p) {
			free(to);
			return ckerr_nomem(err);
		}
		pl->v = p;
	}
	pl->v[pl->n].pos = i;
	pl->v[pl->n++].to = to;
	return 0;
}

/* Glob: '*' any run of characters (dots too), '?' one character. */
static bool
glob_match(const char *pat, const char *s)
{
	const char *star = NULL, *resume = NULL;

	while (*s) {
		if (*pat == '*') {
			star = pat++;
			resume = s;
		} else if (*pat == '?' || *pat == *s) {
			pat++;
			s++;
		} else if (star) {
			pat = star + 1;
			s = ++resume;
		} else {
			return false;
		}
	}
	while (*pat == '*')
		pat++;
	return !*pat;
}

/* key under prefix old (whole dotted components; "" is every key) */
static bool
under_prefix(const char *key, const char *old)
{
	size_t n = strlen(old);

	return !n || (!strncmp(key, old, n) && (key[n] == '\0' || key[n] == '.'));
}

/* The name rename-prefix gives key (which is under old). */
static char *
prefixed_name(const char *key, const char *old, const char *new)
{
	size_t n = strlen(old);
	struct buf b = BUF_INIT;
	const char *rest = key + n;	/* "" or ".x" (or all of key for "") */
	int r;

	if (!n)
		r = buf_addf(&b, "%s%s%s", new, *new && *key ? "." : "", key);
	else if (!*new)
		r = buf_addstr(&b, *rest == '.' ? rest + 1 : rest);
	else
		r = buf_addf(&b, "%s%s", new, rest);
	if (r < 0 || buf_grow(&b, 0) < 0) {	/* "" still needs its NUL */
		buf_release(&b);
		return NULL;
	}
	return buf_detach(&b, NULL);
}

static bool
excepted(const struct edit *e, const char *key)
{
	size_t i;

	for (i = 0; i < e->nexcept; i++)
		if (glob_match(e->except[i], key))
			return true;
	return false;
}

int
edit_renamed(const struct edit *e, const char *key, char **out)
{
	*out = NULL;
	if (e->op == EDIT_RENAME) {
		if (strcmp(key, e->str[0]) || !strcmp(key, e->str[1]))
			return 0;
		*out = strdup(e->str[1]);
	} else if (e->op == EDIT_RENAME_PREFIX) {
		if (!under_prefix(key, e->str[0]) || excepted(e, key))
			return 0;
		*out = prefixed_name(key, e->str[0], e->str[1]);
		if (*out && !strcmp(*out, key)) {
			free(*out);
			*out = NULL;
			return 0;
		}
	} else {
		return 0;
	}
	return *out ? 1 : -1;
}

static int
plan_rename(const struct keyset *ks, const struct edit *e, const char *sname,
	    struct plan *pl, struct ckerr *err)
{
	size_t i;

	for (i = 0; i < ks->n; i++)
		if (ks->v[i].name && !strcmp(ks->v[i].name, e->str[0]))
			break;
	if (i == ks->n)
		return fail_at(err, sname, e->str_pos[0], "no key '%s' in the "
			       "state dict", e->str[0]);
	if (!strcmp(e->str[0], e->str[1]))
		return 0;
	return plan_add(pl, i, strdup(e->str[1]), err) < 0 ? -1 :
	       pl->v[pl->n - 1].to ? 0 : ckerr_nomem(err);
}

static int
plan_rename_prefix(const struct keyset *ks, const struct edit *e,
		   const char *sname, struct plan *pl, struct ckerr *err)
{
	size_t i, matched = 0;

	for (i = 0; i < ks->n; i++) {
		const char *k = ks->v[i].name;
		char *to;

		if (!k || !under_prefix(k, e->str[0]) || excepted(e, k))
			continue;
		matched++;
		to = prefixed_name(k, e->str[0], e->str[1]);
		if (!to)
			return ckerr_nomem(err);
		if (!strcmp(to, k)) {
			free(to);
			continue;
		}
		if (plan_add(pl, i, to, err) < 0)
			return -1;
	}
	if (!matched)
		return fail_at(err, sname, e->str_pos[0], *e->str[0] ?
			       "no key is '%s' or starts with '%s.'" :
			       "no key to rename%s%s", e->str[0], e->str[0]);
	return 0;
}

/* REPLACEMENT with \0..\9 and \\ expanded for one match. */
static char *
regex_replacement(const char *repl, const char *key, const regmatch_t *m,
		  size_t ngroups)
{
	struct buf b = BUF_INIT;
	const char *p;
	int bad = buf_grow(&b, 0);	/* "" still needs its NUL */

	for (p = repl; *p && !bad; p++) {
		if (*p == '\\' && p[1] >= '0' && p[1] <= '9') {
			/* user group n is our group n + 1 (we wrap in ^(...)$) */
			size_t g = (size_t)(p[1] - '0');
			const regmatch_t *r = &m[g == 0 ? 0 : g + 1];

			if (g <= ngroups && r->rm_so >= 0)
				bad = buf_add(&b, key + r->rm_so,
					      (size_t)(r->rm_eo - r->rm_so));
			p++;
		} else if (*p == '\\' && p[1] == '\\') {
			bad = buf_addch(&b, '\\');
			p++;
		} else {
			bad = buf_addch(&b, *p);
		}
	}
	if (bad) {
		buf_release(&b);
		return NULL;
	}
	return buf_detach(&b, NULL);
}

/* Highest \N the replacement refers to (-1: none). */
static int
max_group_ref(const char *repl)
{
	int max = -1;

	for (; *repl; repl++) {
		if (*repl == '\\' && repl[1] == '\\') {
			repl++;
		} else if (*repl == '\\' && repl[1] >= '0' && repl[1] <= '9') {
			if (repl[1] - '0' > max)
				max = repl[1] - '0';
			repl++;
		}
	}
	return max;
}

/*
 * Compile rename-regex's REGEX as it matches whole keys (wrapped in
 * "^(" ")$") and check the replacement's groups exist; on success the
 * caller regfree()s re.
 */
static int
compile_rename_regex(const struct edit *e, const char *sname, regex_t *re,
		     struct ckerr *err)
{
	struct buf pattern = BUF_INIT;
	const char *refusal = ere_refusal(e->str[0]);
	size_t ngroups;
	int rc;

	if (refusal)
		return fail_at(err, sname, e->str_pos[0], "invalid regex '%s': "
			       "%s", e->str[0], refusal);
	if (buf_addf(&pattern, "^(%s)$", e->str[0]) < 0)
		return ckerr_nomem(err);
	rc = regcomp(re, pattern.data, REG_EXTENDED);
	buf_release(&pattern);
	if (rc) {
		char why[256];

		regerror(rc, NULL, why, sizeof(why));
		return fail_at(err, sname, e->str_pos[0], "invalid regex '%s': "
			       "%s", e->str[0], why);
	}
	ngroups = re->re_nsub - 1;
	if (max_group_ref(e->str[1]) > (int)ngroups) {
		regfree(re);
		return fail_at(err, sname, e->str_pos[1], "the replacement "
			       "refers to group \\%d, the regex has %zu",
			       max_group_ref(e->str[1]), ngroups);
	}
	return 0;
}

int
edit_check_regex(const struct edit *e, const char *sname, struct ckerr *err)
{
	regex_t re;

	if (compile_rename_regex(e, sname, &re, err) < 0)
		return -1;
	regfree(&re);
	return 0;
}

static int
plan_rename_regex(const struct keyset *ks, const struct edit *e,
		  const char *sname, struct plan *pl, struct ckerr *err)
{
	regmatch_t m[12];
	regex_t re;
	size_t i;

	if (compile_rename_regex(e, sname, &re, err) < 0)
		return -1;
	for (i = 0; i < ks->n; i++) {
		const char *k = ks->v[i].name;
		char *to;

		if (!k || regexec(&re, k, sizeof(m) / sizeof(m[0]), m, 0))
			continue;
		to = regex_replacement(e->str[1], k, m, re.re_nsub - 1);
		if (!to) {
			regfree(&re);
			return ckerr_nomem(err);
		}
		if (!strcmp(to, k)) {
			free(to);
			continue;
		}
		if (plan_add(pl, i, to, err) < 0) {
			regfree(&re);
			return -1;
		}
	}
	regfree(&re);
	if (!pl->n && !(pl->warning = strdup("rename-regex renames no key")))
		return ckerr_nomem(err);
	return 0;
}

static int
plan_delete(const struct keyset *ks, const struct edit *e, const char *sname,
	    struct plan *pl, struct ckerr *err)
{
	size_t i;

	for (i = 0; i < ks->n; i++)
		if (ks->v[i].name && glob_match(e->str[0], ks->v[i].name) &&
		    plan_add(pl, i, NULL, err) < 0)
			return -1;
	if (!pl->n)
		return fail_at(err, sname, e->str_pos[0], "no key matches '%s'",
			       e->str[0]);
	return 0;
}

/* Position of a str key in the keyset, or -1. */
static ptrdiff_t
key_find(const struct keyset *ks, const char *name)
{
	size_t i;

	for (i = 0; i < ks->n; i++)
		if (ks->v[i].name && !strcmp(ks->v[i].name, name))
			return (ptrdiff_t)i;
	return -1;
}

/* A key's shape as the script has left it. */
static void
key_shape(const struct key *k, const struct pv_tensor *t, int *ndim,
	  const int64_t **shape)
{
	*ndim = k->shape ? k->ndim : t->ndim;
	*shape = k->shape ? k->shape : t->shape;
}

static bool
is_floating(const struct pv_tensor *t)
{
	enum dtype_kind k = dtype_kind(t->dtype);

	return k == DK_FLOAT || k == DK_COMPLEX || k == DK_FLOAT8;
}

/*
 * Set up one tensor of a column edit: the key at position k, along dim
 * (as written: may be negative), with the edit's indices.  pos is where
 * errors about the tensor point.
 */
static int
plan_target(const struct keyset *ks, size_t k, const struct edit *e,
	    int64_t dim, struct edit_pos dim_pos, const char *sname,
	    struct edit_pos pos, struct coltarget *t, struct ckerr *err)
{
	const char *name = ks->v[k].name, *why;
	const struct pv_tensor *x = torchpkl_tensor(ks->v[k].value);
	const int64_t *shape;
	int64_t n;
	int ndim;

	if (!x)
		return fail_at(err, sname, pos, "'%s' is a %s, not a tensor",
			       name, pyval_kind_name(ks->v[k].value->kind));
	key_shape(&ks->v[k], x, &ndim, &shape);
	if (ndim == 0)
		return fail_at(err, sname, pos, "'%s' is a 0-dimensional tensor: "
			       "it has no columns", name);
	if (dim < -ndim || dim >= ndim)
		return fail_at(err, sname, dim_pos.line ? dim_pos : pos,
			       "dimension %lld is out of range for '%s', which "
			       "has %d", (long long)dim, name, ndim);
	memset(t, 0, sizeof(*t));
	t->pos = k;
	t->orig = ks->v[k].orig;
	t->ndim = ndim;
	memcpy(t->shape, shape, sizeof(*shape) * (size_t)ndim);
	t->op.op = e->op;
	t->op.dim = (int)(dim < 0 ? dim + ndim : dim);
	t->op.a = e->num[0];
	t->op.b = e->num[1];
	why = column_refusal(x, &t->op);
	if (why)
		return fail_at(err, sname, pos, "'%s' %s", name, why);
	n = shape[t->op.dim];
	if (e->op == EDIT_INSERT_COLUMN ? t->op.a > n : t->op.a >= n)
		return fail_at(err, sname, e->num_pos[0], "%s %lld is out of "
			       "range: '%s' has %lld along dimension %d",
			       e->op == EDIT_MOVE_COLUMN ? "FROM" :
			       e->op == EDIT_INSERT_COLUMN ? "AT" : "INDEX",
			       (long long)t->op.a, name, (long long)n, t->op.dim);
	if (e->op == EDIT_MOVE_COLUMN && t->op.b >= n)
		return fail_at(err, sname, e->num_pos[1], "TO %lld is out of "
			       "range: '%s' has %lld along dimension %d",
			       (long long)t->op.b, name, (long long)n, t->op.dim);
	if (e->op == EDIT_INSERT_COLUMN) {
		if (tensor_encode_value(x->dtype, e->value ? e->value : "0",
					t->fill, err) < 0)
			return ckerr_prefix(err, "%s:%u:%u: ", sname ? sname :
					    "script", e->value_pos.line ?
					    e->value_pos.line : e->pos.line,
					    e->value_pos.line ? e->value_pos.col :
					    e->pos.col);
		t->op.fill = t->fill;
	}
	return 0;
}

/* The warning for a floating key no optimizer can be matched for. */
static int
optimizer_warning(const struct run *run, const struct pv_tensor *x,
		  const char *name, size_t key_orig, struct plan *pl,
		  struct ckerr *err)
{
	struct buf b = BUF_INIT;
	size_t i;

	if (pl->warning || !is_floating(x))
		return 0;
	for (i = 0; i < run->opts.n; i++) {
		const struct optim *o = &run->opts.v[i];

		if (key_orig >= o->nkeys || o->param_at[key_orig] != OPTIM_UNKNOWN)
			continue;
		if (buf_addf(&b, "the optimizer state at '%s' no longer matches "
			     "'%s' (cannot tell which of its entries belong to "
			     "which parameter); to reset it, add: drop "
			     "'%s.state.*'", o->path, name, o->path) < 0) {
			buf_release(&b);
			return ckerr_nomem(err);
		}
		pl->warning = buf_detach(&b, NULL);
		return pl->warning ? 0 : ckerr_nomem(err);
	}
	return 0;
}

static int
plan_column(const struct run *run, const struct keyset *ks,
	    const struct edit *e, const char *sname, struct plan *pl,
	    struct ckerr *err)
{
	int64_t dim = e->dim_set ? e->dim : EDIT_DEFAULT_DIM;
	ptrdiff_t k = key_find(ks, e->str[0]);
	struct colplan *c;
	size_t i, j;

	if (k < 0)
		return fail_at(err, sname, e->str_pos[0], "no key '%s' in the "
			       "state dict", e->str[0]);
	c = calloc(1, sizeof(*c));
	if (!c || !(c->t = calloc(e->nalso + 1, sizeof(*c->t)))) {
		free(c);
		return ckerr_nomem(err);
	}
	pl->col = c;
	if (plan_target(ks, (size_t)k, e, dim, e->dim_pos, sname, e->str_pos[0],
			&c->t[0], err) < 0)
		return -1;
	c->n = 1;
	for (i = 0; i < e->nalso; i++) {
		const struct edit_also *al = &e->also[i];
		ptrdiff_t ak = key_find(ks, al->key);
		struct coltarget *t = &c->t[c->n];
		int64_t n0 = c->t[0].shape[c->t[0].op.dim];

		if (ak < 0)
			return fail_at(err, sname, al->pos, "--also: no key '%s' "
				       "in the state dict", al->key);
		for (j = 0; j < c->n; j++)
			if (c->t[j].pos == (size_t)ak)
				return fail_at(err, sname, al->pos, "--also: '%s' "
					       "is already edited by this line",
					       al->key);
		if (plan_target(ks, (size_t)ak, e, al->dim_set ? al->dim : dim,
				al->pos, sname, al->pos, t, err) < 0)
			return -1;
		if (t->shape[t->op.dim] != n0)
			return fail_at(err, sname, al->pos, "--also: '%s' has %lld "
				       "along dimension %d, '%s' has %lld",
				       al->key, (long long)t->shape[t->op.dim],
				       t->op.dim, e->str[0], (long long)n0);
		c->n++;
	}
	/* moving a column onto itself changes nothing */
	if (e->op == EDIT_MOVE_COLUMN && e->num[0] == e->num[1]) {
		c->n = 0;
		return 0;
	}
	for (i = 0; i < c->n; i++)
		if (optimizer_warning(run, torchpkl_tensor(ks->v[c->t[i].pos].value),
				      ks->v[c->t[i].pos].name, c->t[i].orig, pl,
				      err) < 0)
			return -1;
	return 0;
}

/* drop: walking the checkpoint for the entries a path names. */
struct dropwalk {
	struct run *run;
	char **comp;		/* the path's components */
	size_t ncomp, at;
	struct buf path;	/* where the walk is */
	struct dropplan *dp;
	const char *sname;
	const struct edit *e;
	struct ckerr *err;
	int depth;
};

static int drop_visit(void *ctx, const struct ckpt_child *c);

static int
drop_add(struct dropwalk *w, const struct ckpt_child *c)
{
	struct dropplan *dp = w->dp;
	const char *root = w->run->root->path;
	size_t n = w->path.len;

	/* the state dict, or what holds it, is not drop's to remove */
	if (!strncmp(root, w->path.data, n) && (root[n] == '\0' ||
						 root[n] == '.'))
		return fail_at(w->err, w->sname, w->e->str_pos[0], "'%s' holds "
			       "the state dict: use delete for its keys",
			       w->path.data), -1;
	if (c->holder == w->run->sd)
		return fail_at(w->err, w->sname, w->e->str_pos[0], "'%s' is a "
			       "state-dict key: use delete to remove it",
			       w->path.data), -1;
	if (c->holder->kind == PV_TUPLE)
		return fail_at(w->err, w->sname, w->e->str_pos[0], "'%s' is in a "
			       "tuple, which cannot lose items", w->path.data), -1;
	if (dp->n == dp->alloc) {
		struct dropitem *p = grow_array(dp->v, &dp->alloc, dp->n + 1,
						sizeof(*p), 8);

		if (!p)
			return ckerr_nomem(w->err), -1;
		dp->v = p;
	}
	dp->v[dp->n].holder = c->holder;
	dp->v[dp->n].index = c->index;
	dp->v[dp->n].path = strdup(w->path.data);
	if (!dp->v[dp->n].path)
		return ckerr_nomem(w->err), -1;
	dp->n++;
	return 0;
}

static int
drop_visit(void *ctx, const struct ckpt_child *c)
{
	struct dropwalk *w = ctx;
	struct buf joined = BUF_INIT;
	size_t need = 1, i, saved = w->path.len, at = w->at, len = c->len;
	const char *p, *name = c->name;
	char num[24];
	int r = 0;

	if (is_gone(w->run, c->holder, c->index, w->run->seq))
		return 0;
	/* list items after those earlier drops removed have moved up */
	if (c->holder->kind == PV_LIST &&
	    (i = gone_before(w->run, c->holder, c->index, w->run->seq))) {
		len = (size_t)snprintf(num, sizeof(num), "%zu", c->index - i);
		name = num;
	}
	/* a name with dots spans as many components of the path */
	for (p = name; p < name + len; p++)
		need += *p == '.';
	if (w->at + need > w->ncomp || memchr(name, '\0', len))
		return 0;
	for (i = 0; i < need; i++)
		if ((i && buf_addch(&joined, '.') < 0) ||
		    buf_addstr(&joined, w->comp[w->at + i]) < 0)
			return buf_release(&joined), ckerr_nomem(w->err), -1;
	if (!glob_match(joined.data ? joined.data : "", name)) {
		buf_release(&joined);
		return 0;
	}
	buf_release(&joined);
	if ((saved && buf_addch(&w->path, '.') < 0) ||
	    buf_add(&w->path, name, len) < 0)
		return ckerr_nomem(w->err), -1;
	if (w->at + need == w->ncomp) {
		r = drop_add(w, c);
	} else if (c->value == w->run->sd) {
		r = fail_at(w->err, w->sname, w->e->str_pos[0], "'%s' is the "
			    "state dict: use delete for its keys",
			    w->path.data) < 0 ? -1 : 0;
	} else if (w->depth < CKPT_MAX_DEPTH) {
		w->at += need;
		w->depth++;
		r = ckpt_children(c->value, drop_visit, w, w->err);
		w->depth--;
		w->at = at;
	}
	w->path.len = saved;
	w->path.data[saved] = '\0';
	return r;
}

static int
plan_drop(struct run *run, const struct edit *e, const char *sname,
	  struct plan *pl, struct ckerr *err)
{
	struct dropwalk w;
	char *copy, *p;
	size_t i;
	int r = -1;

	if (!*e->str[0])
		return fail_at(err, sname, e->str_pos[0], "drop needs a path");
	memset(&w, 0, sizeof(w));
	copy = strdup(e->str[0]);
	w.comp = calloc(strlen(e->str[0]) + 2, sizeof(*w.comp));
	pl->drop = calloc(1, sizeof(*pl->drop));
	if (!copy || !w.comp || !pl->drop) {
		ckerr_nomem(err);
		goto out;
	}
	for (p = copy, w.ncomp = 0;; p++) {
		w.comp[w.ncomp++] = p;
		p = strchr(p, '.');
		if (!p)
			break;
		*p = '\0';
	}
	w.run = run;
	w.dp = pl->drop;
	w.sname = sname;
	w.e = e;
	w.err = err;
	buf_init(&w.path, 0);
	if (ckpt_children(ckpt_top(run->ck), drop_visit, &w, err) < 0 ||
	    ckerr_isset(err))
		goto out;
	if (!pl->drop->n) {
		fail_at(err, sname, e->str_pos[0], "nothing at '%s'", e->str[0]);
		goto out;
	}
	/* the edits after this one see the entries gone */
	pl->drop->seq = run->seq;
	for (i = 0; i < pl->drop->n; i++) {
		struct gone *g = grow_array(run->gone, &run->agone,
					    run->ngone + 1, sizeof(*g), 16);

		if (!g) {
			ckerr_nomem(err);
			goto out;
		}
		run->gone = g;
		g = &run->gone[run->ngone++];
		g->holder = pl->drop->v[i].holder;
		g->index = pl->drop->v[i].index;
		g->seq = run->seq;
		g->path = pl->drop->v[i].path;
	}
	r = 0;
out:
	buf_release(&w.path);
	free(w.comp);
	free(copy);
	return r;
}

/* The names after a plan, to look for collisions. */
struct named {
	const char *name;
	size_t at;		/* position in the keyset */
	bool renamed;
};

static int
cmp_named(const void *a, const void *b)
{
	return strcmp(((const struct named *)a)->name,
		      ((const struct named *)b)->name);
}

/* No two keys may share a name after the plan. */
static int
check_collisions(const struct keyset *ks, const struct plan *pl,
		 const struct edit *e, const char *sname, struct ckerr *err)
{
	struct named *v = calloc(ks->n + 1, sizeof(*v));
	size_t i, n = 0;
	int r = 0;

	if (!v)
		return ckerr_nomem(err);
	for (i = 0; i < ks->n; i++)
		if (ks->v[i].name)
			v[i].name = ks->v[i].name, v[i].at = i;
	for (i = 0; i < pl->n; i++)
		if (pl->v[i].to) {
			v[pl->v[i].pos].name = pl->v[i].to;
			v[pl->v[i].pos].renamed = true;
		} else {
			v[pl->v[i].pos].name = NULL;	/* deleted */
		}
	for (i = 0; i < ks->n; i++)
		if (v[i].name)
			v[n++] = v[i];
	qsort(v, n, sizeof(*v), cmp_named);
	for (i = 1; i < n && r == 0; i++) {
		const struct named *a = &v[i - 1], *b = &v[i];

		if (strcmp(a->name, b->name))
			continue;
		if (a->renamed && b->renamed)
			r = fail_at(err, sname, e->pos, "'%s' and '%s' would both "
				    "be named '%s'", ks->v[a->at].name,
				    ks->v[b->at].name, a->name);
		else
			r = fail_at(err, sname, e->pos, "'%s' would be renamed to "
				    "'%s', which is already a key",
				    ks->v[a->renamed ? a->at : b->at].name,
				    a->name);
	}
	free(v);
	return r;
}

static int
plan_edit(struct run *run, const struct keyset *ks,
	  const struct edit *e, const char *sname, struct plan *pl,
	  struct ckerr *err)
{
	int r;

	switch (e->op) {
	case EDIT_RENAME:
		r = plan_rename(ks, e, sname, pl, err);
		break;
	case EDIT_RENAME_PREFIX:
		r = plan_rename_prefix(ks, e, sname, pl, err);
		break;
	case EDIT_RENAME_REGEX:
		r = plan_rename_regex(ks, e, sname, pl, err);
		break;
	case EDIT_DELETE:
		r = plan_delete(ks, e, sname, pl, err);
		break;
	case EDIT_DROP:
		return plan_drop(run, e, sname, pl, err);
	default:
		return plan_column(run, ks, e, sname, pl, err);
	}
	if (r == 0 && e->op != EDIT_DELETE)
		r = check_collisions(ks, pl, e, sname, err);
	return r;
}

/* Make the keyset what the plan leaves. */
static int
keyset_apply(struct keyset *ks, const struct plan *pl, struct ckerr *err)
{
	size_t i, n = 0;
	bool *drop = calloc(ks->n + 1, sizeof(*drop));

	if (!drop)
		return ckerr_nomem(err);
	for (i = 0; pl->col && i < pl->col->n; i++) {
		const struct coltarget *t = &pl->col->t[i];
		struct key *k = &ks->v[t->pos];

		free(k->shape);
		k->shape = malloc(sizeof(*k->shape) * (size_t)t->ndim);
		if (!k->shape) {
			free(drop);
			return ckerr_nomem(err);
		}
		memcpy(k->shape, t->shape, sizeof(*k->shape) * (size_t)t->ndim);
		k->shape[t->op.dim] = column_new_size(&t->op,
						      t->shape[t->op.dim]);
		k->ndim = t->ndim;
	}
	for (i = 0; i < pl->n; i++) {
		struct key *k = &ks->v[pl->v[i].pos];

		if (!pl->v[i].to) {
			drop[pl->v[i].pos] = true;
			continue;
		}
		free(k->name);
		k->name = strdup(pl->v[i].to);
		if (!k->name) {
			free(drop);
			return ckerr_nomem(err);
		}
		k->len = strlen(k->name);
	}
	for (i = 0; i < ks->n; i++) {
		if (drop[i]) {
			free(ks->v[i].name);
			free(ks->v[i].shape);
		} else {
			ks->v[n++] = ks->v[i];
		}
	}
	ks->n = n;
	free(drop);
	return 0;
}

static int
result_add_note(struct edit_result *res, const char *from, const char *to,
		const char *note, struct ckerr *err);

static int
result_add(struct edit_result *res, const char *from, const char *to,
	   struct ckerr *err)
{
	return result_add_note(res, from, to, NULL, err);
}

static int
result_add_note(struct edit_result *res, const char *from, const char *to,
		const char *note, struct ckerr *err)
{
	struct edit_change *c;

	if (res->n == res->alloc) {
		struct edit_change *p = grow_array(res->changes, &res->alloc,
						   res->n + 1, sizeof(*p), 16);

		if (!p)
			return ckerr_nomem(err);
		res->changes = p;
	}
	c = &res->changes[res->n];
	c->from = strdup(from);
	c->to = to ? strdup(to) : NULL;
	c->note = note ? strdup(note) : NULL;
	if (!c->from || (to && !c->to) || (note && !c->note)) {
		free(c->from);
		free(c->to);
		free(c->note);
		return ckerr_nomem(err);
	}
	res->n++;
	return 0;
}

/* "moved column 3 to 1 along dimension 0" */
static int
column_note(const struct column_op *op, struct buf *b)
{
	switch (op->op) {
	case EDIT_MOVE_COLUMN:
		return buf_addf(b, "column %lld moved to %lld along dimension %d",
				(long long)op->a, (long long)op->b, op->dim);
	case EDIT_INSERT_COLUMN:
		return buf_addf(b, "column inserted at %lld along dimension %d",
				(long long)op->a, op->dim);
	default:
		return buf_addf(b, "column %lld deleted along dimension %d",
				(long long)op->a, op->dim);
	}
}

/* The shape the edits checked so far left an optimizer tensor with. */
static struct momshape *
mom_find(struct run *run, const struct pyval *value, const struct pv_tensor *x,
	 struct ckerr *err)
{
	struct momshape *m;
	size_t i;

	for (i = 0; i < run->nmom; i++)
		if (run->mom[i].value == value)
			return &run->mom[i];
	m = grow_array(run->mom, &run->amom, run->nmom + 1, sizeof(*m), 8);
	if (!m)
		return ckerr_nomem(err), NULL;
	run->mom = m;
	m = &run->mom[run->nmom++];
	m->value = value;
	m->ndim = x->ndim;
	memcpy(m->shape, x->shape, sizeof(*x->shape) * (size_t)x->ndim);
	return m;
}

/*
 * The optimizer tensors a column target changes, as paths: those of its
 * parameter's state with the key's shape before the edit, as it will be
 * when the edits before it have been applied.
 */
static int
note_optimizer(struct run *run, const struct coltarget *t,
	       struct edit_result *res, struct ckerr *err)
{
	size_t i, k;

	for (i = 0; i < run->opts.n; i++) {
		const struct optim *o = &run->opts.v[i];
		const struct pyval *st;
		int64_t p;

		if (t->orig >= o->nkeys || (p = o->param_at[t->orig]) < 0 ||
		    !(st = optim_param_state(o, p)) || st->kind != PV_DICT)
			continue;
		for (k = 0; k < st->u.dict->len; k++) {
			const struct pv_item *it = &st->u.dict->items[k];
			const struct pv_tensor *x = torchpkl_tensor(it->value);
			struct buf path = BUF_INIT;
			struct momshape *m;
			int r;

			if (!x || x->ndim < 1)
				continue;
			if (!(m = mom_find(run, it->value, x, err)))
				return -1;
			if (m->ndim != t->ndim ||
			    memcmp(m->shape, t->shape, sizeof(*t->shape) *
				   (size_t)t->ndim))
				continue;
			if (buf_addf(&path, "%s.state.%lld.", o->path,
				     (long long)o->ids[p]) < 0 ||
			    ckpt_key_name(it->key, &path) < 0) {
				buf_release(&path);
				return ckerr_nomem(err);
			}
			if (path_gone(run, path.data, run->seq)) {
				buf_release(&path);
				continue;
			}
			m->shape[t->op.dim] = column_new_size(&t->op,
						m->shape[t->op.dim]);
			r = result_add_note(res, path.data, NULL,
					    "the same edit (optimizer state)",
					    err);
			buf_release(&path);
			if (r < 0)
				return ckerr_isset(err) ? -1 : ckerr_nomem(err);
		}
	}
	return 0;
}

static int
result_fill(struct run *run, struct edit_result *res,
	    const struct keyset *ks, const struct plan *pl, struct ckerr *err)
{
	size_t i;

	for (i = 0; i < pl->n; i++)
		if (result_add(res, ks->v[pl->v[i].pos].name, pl->v[i].to,
			       err) < 0)
			return -1;
	for (i = 0; pl->col && i < pl->col->n; i++) {
		const struct coltarget *t = &pl->col->t[i];
		struct buf note = BUF_INIT;
		int r = column_note(&t->op, &note) < 0 ? ckerr_nomem(err) :
			result_add_note(res, ks->v[t->pos].name, NULL, note.data,
					err);

		buf_release(&note);
		if (r < 0 || note_optimizer(run, t, res, err) < 0)
			return -1;
	}
	for (i = 0; pl->drop && i < pl->drop->n; i++)
		if (result_add_note(res, pl->drop->v[i].path, NULL, "dropped",
				    err) < 0)
			return -1;
	if (pl->warning && !(res->warning = strdup(pl->warning)))
		return ckerr_nomem(err);
	return 0;
}

void
edit_result_release(struct edit_result *r)
{
	size_t i;

	for (i = 0; i < r->n; i++) {
		free(r->changes[i].from);
		free(r->changes[i].to);
		free(r->changes[i].note);
	}
	free(r->changes);
	free(r->warning);
	memset(r, 0, sizeof(*r));
}

void
edit_report_release(struct edit_report *r)
{
	size_t i;

	for (i = 0; i < r->n; i++)
		edit_result_release(&r->v[i]);
	free(r->v);
	r->v = NULL;
	r->n = 0;
}

/* The state dict edits work on: a dict at the root. */
static struct pyval *
state_dict(const struct ckpt_root *root, struct ckerr *err)
{
	if (root->node->kind == PV_DICT)
		return root->node;
	ckerr_set(err, CKERR_USAGE, "the state dict at '%s' is a %s, not a "
		  "dict: edits need a dict (see --root)", root->path,
		  pyval_kind_name(root->node->kind));
	return NULL;
}

/* The _metadata dict of a state dict (per-module versions), or NULL. */
static struct pyval *
metadata_of(const struct pyval *sd)
{
	const struct pyval *st = sd->u.dict->state;
	struct pyval *m;

	if (!st || st->kind != PV_DICT)
		return NULL;
	m = pyval_dict_get_str(st, "_metadata", 9);
	return m && m->kind == PV_DICT ? m : NULL;
}

/* The module of a key: everything before its last dot ("" for none). */
static size_t
module_len(const char *key)
{
	const char *dot = strrchr(key, '.');

	return dot ? (size_t)(dot - key) : 0;
}

/* A value replaced in a dict (column edits). */
struct replaced {
	struct pyval *holder;
	size_t index;
	struct pyval *old;
};

/* An item removed from a dict or a list (drop). */
struct removed {
	struct pyval *holder;
	size_t index;		/* before the removal; ascending per holder */
	struct pyval *key;	/* NULL in a list */
	struct pyval *value;
};

struct edit_undo {
	struct replaced *repl;
	size_t nrepl, repl_alloc;
	struct removed *rem;
	size_t nrem;
	struct pyval *dict;
	/* renamed positions and their old keys */
	size_t *pos;
	struct pyval **old_keys;
	size_t nrenamed;
	/* deleted items, with their positions before the delete (ascending) */
	struct pv_item *deleted;
	size_t *deleted_pos;
	size_t ndeleted;
	/* the _metadata entries' keys before the edit */
	struct pyval *meta;
	struct pyval **meta_keys;
	size_t nmeta;
};

void
edit_undo_free(struct edit_undo *u)
{
	if (!u)
		return;
	free(u->repl);
	free(u->rem);
	free(u->pos);
	free(u->old_keys);
	free(u->deleted);
	free(u->deleted_pos);
	free(u->meta_keys);
	free(u);
}

/*
 * A metadata entry's new name under a rename-prefix: *to is set to it, or
 * to NULL to keep the entry.  -1 only when memory runs out.
 */
static int
meta_prefix_name(const struct edit *e, const struct keyset *before,
		 const char *module, char **to)
{
	size_t i, n = strlen(module);

	*to = NULL;
	if (!under_prefix(module, e->str[0]))
		return 0;
	/* a module that keeps an excepted key keeps its entry */
	for (i = 0; i < before->n; i++) {
		const char *k = before->v[i].name;

		if (k && under_prefix(k, e->str[0]) && excepted(e, k) &&
		    module_len(k) == n && !strncmp(k, module, n))
			return 0;
	}
	*to = prefixed_name(module, e->str[0], e->str[1]);
	return *to ? 0 : -1;
}

/*
 * rename/rename-regex: module M becomes M' when every key M held moved
 * to M' (one M' for all), and M' has no entry yet.  *to as above.
 */
static int
meta_moved_name(const struct keyset *before, const struct plan *pl,
		const char *module, char **to)
{
	size_t n = strlen(module), i, j, held = 0, moved = 0;
	const char *target = NULL;
	size_t tlen = 0;

	*to = NULL;
	for (i = 0; i < before->n; i++) {
		const char *k = before->v[i].name;

		if (!k || module_len(k) != n || strncmp(k, module, n))
			continue;
		held++;
		for (j = 0; j < pl->n; j++)
			if (pl->v[j].pos == i && pl->v[j].to)
				break;
		if (j == pl->n)
			return 0;	/* a key stays */
		if (!target) {
			target = pl->v[j].to;
			tlen = module_len(target);
		} else if (module_len(pl->v[j].to) != tlen ||
			   strncmp(pl->v[j].to, target, tlen)) {
			return 0;	/* keys went to different modules */
		}
		moved++;
	}
	if (!held || moved != held || (tlen == n && !strncmp(target, module, n)))
		return 0;
	*to = strndup(target, tlen);
	return *to ? 0 : -1;
}

/* Rename _metadata entries after a rename edit; undo keeps the old keys. */
static int
apply_metadata(struct ckpt *ck, struct pyval *sd, const struct edit *e,
	       const struct keyset *before, const struct plan *pl,
	       struct edit_undo *u, struct ckerr *err)
{
	struct pyval *meta = metadata_of(sd);
	struct pyarena *a = ckpt_arena(ck);
	size_t i, n;
	int r = 0;

	if (!meta || e->op == EDIT_DELETE || !pl->n)
		return 0;
	n = meta->u.dict->len;
	if (u) {
		u->meta = meta;
		u->nmeta = n;
		u->meta_keys = calloc(n + 1, sizeof(*u->meta_keys));
		if (!u->meta_keys)
			return ckerr_nomem(err);
		for (i = 0; i < n; i++)
			u->meta_keys[i] = meta->u.dict->items[i].key;
	}
	for (i = 0; i < n && r == 0; i++) {
		const struct pyval *k = meta->u.dict->items[i].key;
		struct pyval *node;
		char *to;

		if (k->kind != PV_STR || memchr(k->u.s.data, '\0', k->u.s.len))
			continue;
		if ((e->op == EDIT_RENAME_PREFIX ?
		     meta_prefix_name(e, before, k->u.s.data, &to) :
		     meta_moved_name(before, pl, k->u.s.data, &to)) < 0) {
			r = ckerr_nomem(err);
			break;
		}
		if (!to)
			continue;
		/* never onto an entry that exists: keep both then */
		if (strcmp(to, k->u.s.data) &&
		    pyval_dict_find_str(meta, to, strlen(to)) < 0) {
			node = pyval_str(a, to, strlen(to));
			r = node ? pyval_dict_rekey(meta, i, node, err) :
			    ckerr_nomem(err);
		}
		free(to);
	}
	return r == 0 ? pyval_dict_reindex(meta, err) : -1;
}

/* dict item i of holder gets value; undo remembers the old one. */
static int
replace_value(struct pyval *holder, size_t i, struct pyval *value,
	      struct edit_undo *u, struct ckerr *err)
{
	if (u) {
		if (u->nrepl == u->repl_alloc) {
			struct replaced *p = grow_array(u->repl, &u->repl_alloc,
							u->nrepl + 1, sizeof(*p),
							8);

			if (!p)
				return ckerr_nomem(err);
			u->repl = p;
		}
		u->repl[u->nrepl].holder = holder;
		u->repl[u->nrepl].index = i;
		u->repl[u->nrepl++].old = holder->u.dict->items[i].value;
	}
	holder->u.dict->items[i].value = value;
	return 0;
}

/* The same column edit on the matched optimizers' state of a target. */
static int
apply_column_optimizer(struct ckpt *ck, const struct run *run,
		       const struct coltarget *t, struct edit_undo *u,
		       struct ckerr *err)
{
	struct column_op zero = t->op;
	size_t i, k;

	zero.fill = NULL;	/* new moments start at 0 */
	for (i = 0; i < run->opts.n; i++) {
		const struct optim *o = &run->opts.v[i];
		struct pyval *st;
		int64_t p;

		if (t->orig >= o->nkeys || (p = o->param_at[t->orig]) < 0 ||
		    !(st = optim_param_state(o, p)) || st->kind != PV_DICT)
			continue;
		for (k = 0; k < st->u.dict->len; k++) {
			const struct pyval *v = st->u.dict->items[k].value;
			const struct pv_tensor *x = torchpkl_tensor(v);
			struct pyval *nv;

			if (!x || x->ndim != t->ndim ||
			    memcmp(x->shape, t->shape, sizeof(*t->shape) *
				   (size_t)t->ndim))
				continue;
			nv = column_apply(ck, v, &zero, err);
			if (!nv || replace_value(st, k, nv, u, err) < 0)
				return -1;
		}
	}
	return 0;
}

static int
apply_column(struct ckpt *ck, const struct run *run, struct pyval *sd,
	     const struct colplan *c, struct edit_undo *u, struct ckerr *err)
{
	size_t i;

	for (i = 0; i < c->n; i++) {
		const struct coltarget *t = &c->t[i];
		struct pyval *nv = column_apply(ck, sd->u.dict->items[t->pos].value,
						&t->op, err);

		if (!nv || replace_value(sd, t->pos, nv, u, err) < 0 ||
		    apply_column_optimizer(ck, run, t, u, err) < 0)
			return -1;
	}
	if (c->n)
		ckpt_mark_changed(ck);
	return 0;
}

static int
cmp_dropitem(const void *a, const void *b)
{
	const struct dropitem *x = a, *y = b;

	if (x->holder != y->holder)
		return x->holder < y->holder ? -1 : 1;
	return x->index < y->index ? -1 : x->index > y->index;
}

/*
 * Remove the planned entries, each holder at once.  Their positions are
 * those the script found; the drops before this one removed those before
 * them.
 */
static int
apply_drop(struct ckpt *ck, const struct run *run, struct dropplan *dp,
	   struct edit_undo *u, struct ckerr *err)
{
	size_t i, j, k;

	for (i = 0; i < dp->n; i++)
		dp->v[i].index -= gone_before(run, dp->v[i].holder,
					      dp->v[i].index, dp->seq);
	qsort(dp->v, dp->n, sizeof(*dp->v), cmp_dropitem);
	if (u && dp->n && !(u->rem = calloc(dp->n, sizeof(*u->rem))))
		return ckerr_nomem(err);
	for (i = 0; i < dp->n; i = j) {
		struct pyval *h = (struct pyval *)dp->v[i].holder;
		size_t len = h->kind == PV_DICT ? h->u.dict->len : h->u.seq.len;
		bool *drop = calloc(len + 1, sizeof(*drop));

		if (!drop)
			return ckerr_nomem(err);
		for (j = i; j < dp->n && dp->v[j].holder == h; j++) {
			size_t at = dp->v[j].index;

			drop[at] = true;
			if (u) {
				struct removed *r = &u->rem[u->nrem++];

				r->holder = h;
				r->index = at;
				r->key = h->kind == PV_DICT ?
					 h->u.dict->items[at].key : NULL;
				r->value = h->kind == PV_DICT ?
					   h->u.dict->items[at].value :
					   h->u.seq.items[at];
			}
		}
		if (h->kind == PV_DICT) {
			pyval_dict_remove(h, drop);
			if (pyval_dict_reindex(h, err) < 0) {
				free(drop);
				return -1;
			}
		} else {
			for (k = 0, len = 0; k < h->u.seq.len; k++)
				if (!drop[k])
					h->u.seq.items[len++] = h->u.seq.items[k];
			h->u.seq.len = len;
		}
		free(drop);
	}
	ckpt_mark_changed(ck);
	return 0;
}

/* Change the graph as the (checked) plan says. */
static int
apply_plan(struct ckpt *ck, const struct run *run, struct pyval *sd,
	   const struct edit *e, const struct keyset *before,
	   const struct plan *pl, struct edit_undo *u, struct ckerr *err)
{
	struct pv_dict *d = sd->u.dict;
	bool *drop;
	size_t i;

	if (pl->col)
		return apply_column(ck, run, sd, pl->col, u, err);
	if (pl->drop)
		return apply_drop(ck, run, pl->drop, u, err);

	if (u) {
		u->dict = sd;
		u->pos = calloc(pl->n + 1, sizeof(*u->pos));
		u->old_keys = calloc(pl->n + 1, sizeof(*u->old_keys));
		u->deleted = calloc(pl->n + 1, sizeof(*u->deleted));
		u->deleted_pos = calloc(pl->n + 1, sizeof(*u->deleted_pos));
		if (!u->pos || !u->old_keys || !u->deleted || !u->deleted_pos)
			return ckerr_nomem(err);
	}
	/* metadata first: it reads the keys as they were */
	if (apply_metadata(ck, sd, e, before, pl, u, err) < 0)
		return -1;
	drop = calloc(d->len + 1, sizeof(*drop));
	if (!drop)
		return ckerr_nomem(err);
	for (i = 0; i < pl->n; i++) {
		size_t at = pl->v[i].pos;
		struct pyval *node;

		if (!pl->v[i].to) {
			drop[at] = true;
			continue;
		}
		node = pyval_str(ckpt_arena(ck), pl->v[i].to, strlen(pl->v[i].to));
		if (u) {
			u->pos[u->nrenamed] = at;
			u->old_keys[u->nrenamed++] = d->items[at].key;
		}
		if (!node || pyval_dict_rekey(sd, at, node, err) < 0) {
			free(drop);
			return node ? -1 : ckerr_nomem(err);
		}
	}
	if (e->op == EDIT_DELETE) {
		for (i = 0; u && i < d->len; i++)
			if (drop[i]) {
				u->deleted_pos[u->ndeleted] = i;
				u->deleted[u->ndeleted++] = d->items[i];
			}
		pyval_dict_remove(sd, drop);
	}
	free(drop);
	if (pl->n)
		ckpt_mark_changed(ck);
	return pyval_dict_reindex(sd, err);
}

int
edit_undo_apply(struct ckpt *ck, struct edit_undo *u, struct ckerr *err)
{
	size_t i;

	for (i = u->nrepl; i-- > 0;)	/* newest first: the oldest wins */
		u->repl[i].holder->u.dict->items[u->repl[i].index].value =
			u->repl[i].old;
	for (i = 0; i < u->nrem; i++) {	/* ascending per holder */
		struct removed *r = &u->rem[i];

		if (r->key ? pyval_dict_insert_at(r->holder, r->index, r->key,
						  r->value, err) < 0 :
		    pyval_seq_insert_at(r->holder, r->index, r->value, err) < 0)
			return -1;
		if (r->key && pyval_dict_reindex(r->holder, err) < 0)
			return -1;
	}
	if (!u->dict) {			/* a column edit or a drop */
		ckpt_mark_changed(ck);
		return 0;
	}

	for (i = 0; i < u->nrenamed; i++)
		if (pyval_dict_rekey(u->dict, u->pos[i], u->old_keys[i], err) < 0)
			return -1;
	for (i = 0; i < u->ndeleted; i++)	/* ascending positions */
		if (pyval_dict_insert_at(u->dict, u->deleted_pos[i],
					 u->deleted[i].key, u->deleted[i].value,
					 err) < 0)
			return -1;
	for (i = 0; u->meta && i < u->nmeta; i++)
		if (pyval_dict_rekey(u->meta, i, u->meta_keys[i], err) < 0)
			return -1;
	if (u->meta && pyval_dict_reindex(u->meta, err) < 0)
		return -1;
	ckpt_mark_changed(ck);
	return pyval_dict_reindex(u->dict, err);
}

/* Set up what the plans of one run look at (the optimizers, matched). */
static int
run_init(struct run *run, struct ckpt *ck, const struct ckpt_root *root,
	 struct ckerr *err)
{
	memset(run, 0, sizeof(*run));
	run->ck = ck;
	run->root = root;
	run->sd = state_dict(root, err);
	if (!run->sd)
		return -1;
	return optim_find(ck, run->sd, &run->opts, err);
}

static void
run_release(struct run *run)
{
	optim_release(&run->opts);
	free(run->mom);
	free(run->gone);
}

/* The keys as an edit saw them, names only (for _metadata). */
static int
keyset_names(const struct keyset *ks, struct keyset *out, struct ckerr *err)
{
	size_t k;

	out->v = calloc(ks->n + 1, sizeof(*out->v));
	if (!out->v)
		return ckerr_nomem(err);
	out->n = ks->n;
	for (k = 0; k < ks->n; k++) {
		out->v[k].len = ks->v[k].len;
		if (ks->v[k].name && !(out->v[k].name = strdup(ks->v[k].name)))
			return ckerr_nomem(err);
	}
	return 0;
}

/* The layout of the tensors of sd as the keyset leaves them. */
static int
keyset_layout(const struct pyval *sd, const struct keyset *ks,
	      struct layout *out, struct ckerr *err)
{
	struct buf name = BUF_INIT;
	size_t i;
	int r = 0;

	for (i = 0; i < ks->n && r == 0; i++) {
		const struct key *k = &ks->v[i];
		const struct pv_tensor *t = torchpkl_tensor(k->value);
		const int64_t *shape;
		int ndim;

		if (!t)
			continue;
		key_shape(k, t, &ndim, &shape);
		buf_reset(&name);
		if (!k->name &&
		    (ckpt_key_name(sd->u.dict->items[k->orig].key, &name) < 0 ||
		     buf_grow(&name, 0) < 0)) {
			r = ckerr_nomem(err);
			break;
		}
		r = layout_add(out, k->name ? k->name : name.data, t->dtype,
			       ndim, shape, 0, err);
	}
	buf_release(&name);
	if (r == 0)
		r = layout_index(out, err);
	if (r < 0)
		layout_release(out);
	return r;
}

/* Check all edits of s; with apply, then change the graph. */
static int
run_script(struct ckpt *ck, const struct ckpt_root *root,
	   const struct script *s, struct edit_report *rep, bool apply,
	   struct layout *after, struct ckerr *err)
{
	struct keyset ks = { NULL, 0 };
	struct plan *plans = NULL;
	struct keyset *befores = NULL;
	struct run run;
	size_t i;
	int r = -1;

	if (s->n == 0)		/* nothing to check: any checkpoint will do */
		return after ? layout_from_root(ck, root, after, err) : 0;
	if (run_init(&run, ck, root, err) < 0 ||
	    keyset_from_dict(run.sd, &ks, err) < 0) {
		run_release(&run);
		return -1;
	}
	plans = calloc(s->n + 1, sizeof(*plans));
	befores = calloc(s->n + 1, sizeof(*befores));
	if (rep) {
		rep->v = calloc(s->n + 1, sizeof(*rep->v));
		rep->n = rep->v ? s->n : 0;
	}
	if (!plans || !befores || (rep && !rep->v)) {
		ckerr_nomem(err);
		goto out;
	}
	/* check everything first, on the key list alone */
	for (i = 0; i < s->n; i++) {
		run.seq = i;
		if (plan_edit(&run, &ks, &s->edits[i], s->name, &plans[i],
			      err) < 0)
			goto out;
		if (rep && result_fill(&run, &rep->v[i], &ks, &plans[i],
				       err) < 0)
			goto out;
		if (keyset_names(&ks, &befores[i], err) < 0 ||
		    keyset_apply(&ks, &plans[i], err) < 0)
			goto out;
	}
	if (after && keyset_layout(run.sd, &ks, after, err) < 0)
		goto out;
	for (i = 0; apply && i < s->n; i++)
		if (apply_plan(ck, &run, run.sd, &s->edits[i], &befores[i],
			       &plans[i], NULL, err) < 0)
			goto out;
	r = 0;
out:
	for (i = 0; plans && befores && i <= s->n; i++) {
		plan_release(&plans[i]);
		keyset_release(&befores[i]);
	}
	free(plans);
	free(befores);
	keyset_release(&ks);
	run_release(&run);
	if (r < 0 && rep)
		edit_report_release(rep);
	return r;
}

int
edit_check(struct ckpt *ck, const struct ckpt_root *root,
	   const struct script *s, struct edit_report *rep, struct ckerr *err)
{
	return run_script(ck, root, s, rep, false, NULL, err);
}

int
edit_check_layout(struct ckpt *ck, const struct ckpt_root *root,
		  const struct script *s, struct edit_report *rep,
		  struct layout *after, struct ckerr *err)
{
	memset(after, 0, sizeof(*after));
	return run_script(ck, root, s, rep, false, after, err);
}

int
edit_apply(struct ckpt *ck, const struct ckpt_root *root,
	   const struct script *s, struct edit_report *rep, struct ckerr *err)
{
	return run_script(ck, root, s, rep, true, NULL, err);
}

int
edit_apply_one(struct ckpt *ck, const struct ckpt_root *root,
	       const struct edit *e, const char *name, struct edit_result *res,
	       struct edit_undo **undo, struct ckerr *err)
{
	struct keyset ks = { NULL, 0 };
	struct plan pl;
	struct edit_undo *u = NULL;
	struct run run;
	int r = -1;

	memset(&pl, 0, sizeof(pl));
	if (undo)
		*undo = NULL;
	if (run_init(&run, ck, root, err) < 0 ||
	    keyset_from_dict(run.sd, &ks, err) < 0)
		goto out;
	if (plan_edit(&run, &ks, e, name, &pl, err) < 0 ||
	    (res && result_fill(&run, res, &ks, &pl, err) < 0))
		goto out;
	if (undo && !(u = calloc(1, sizeof(*u)))) {
		ckerr_nomem(err);
		goto out;
	}
	if (apply_plan(ck, &run, run.sd, e, &ks, &pl, u, err) < 0)
		goto out;
	if (undo) {
		*undo = u;
		u = NULL;
	}
	r = 0;
out:
	edit_undo_free(u);
	plan_release(&pl);
	keyset_release(&ks);
	run_release(&run);
	return r;
}
