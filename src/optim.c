/* optim: optimizer states found and matched to state-dict keys. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "optim.h"
#include "torchpkl.h"
#include "banned.h"

static bool
is_floating(const struct pyval *v)
{
	const struct pv_tensor *t = torchpkl_tensor(v);
	enum dtype_kind k;

	if (!t)
		return false;
	k = dtype_kind(t->dtype);
	return k == DK_FLOAT || k == DK_COMPLEX || k == DK_FLOAT8;
}

static bool
same_shape(const struct pv_tensor *a, int ndim, const int64_t *shape)
{
	return a->ndim == ndim && !memcmp(a->shape, shape, sizeof(*shape) *
					  (size_t)ndim);
}

/*
 * The shape every tensor of a parameter's state shares (0-dim tensors
 * such as 'step' aside): 1 with *t set, 0 when it has none, -1 when its
 * tensors disagree.
 */
static int
state_shape(const struct pyval *st, const struct pv_tensor **t)
{
	size_t i;

	*t = NULL;
	if (!st || st->kind != PV_DICT)
		return 0;
	for (i = 0; i < st->u.dict->len; i++) {
		const struct pv_tensor *x = torchpkl_tensor(st->u.dict->items[i].value);

		if (!x || x->ndim == 0)
			continue;
		if (*t && !same_shape(x, (*t)->ndim, (*t)->shape))
			return -1;
		if (!*t)
			*t = x;
	}
	return *t ? 1 : 0;
}

struct pyval *
optim_param_state(const struct optim *o, int64_t p)
{
	struct pyval probe = { .kind = PV_INT };

	if (p < 0 || (size_t)p >= o->nparams)
		return NULL;
	probe.u.i = o->ids[p];
	return pyval_dict_get(o->state, &probe);
}

/* Parameter ids from param_groups, in order; -1 when malformed. */
static int
read_ids(struct optim *o, const struct pyval *groups, struct ckerr *err)
{
	size_t g, k, n = 0;

	for (g = 0; g < groups->u.seq.len; g++) {
		const struct pyval *grp = groups->u.seq.items[g];
		const struct pyval *ps = grp->kind == PV_DICT ?
			pyval_dict_get_str(grp, "params", 6) : NULL;

		if (!ps || ps->kind != PV_LIST)
			return 1;	/* not an optimizer we understand */
		n += ps->u.seq.len;
	}
	o->ids = calloc(n + 1, sizeof(*o->ids));
	if (!o->ids)
		return ckerr_nomem(err);
	for (g = 0; g < groups->u.seq.len; g++) {
		const struct pyval *ps =
			pyval_dict_get_str(groups->u.seq.items[g], "params", 6);

		for (k = 0; k < ps->u.seq.len; k++) {
			if (ps->u.seq.items[k]->kind != PV_INT)
				return 1;
			o->ids[o->nparams++] = ps->u.seq.items[k]->u.i;
		}
	}
	return 0;
}

/*
 * Which parameter each key is in every order-preserving assignment.
 * F(i, j): ways to place parameters [0, i) on candidates [0, j); B(i, j):
 * ways to place [i, np) on [j, nc); both capped at 2.  Parameter i can sit
 * on candidate j when some assignment does it: match(i, j), F(i, j) and
 * B(i + 1, j + 1).  Candidate j can be left out when F(i, j) and
 * B(i, j + 1) for some i.  A key has a parameter for sure when exactly one
 * i can sit on it and it cannot be left out.
 */
static int
match(struct optim *o, const struct pyval *sd, struct ckerr *err)
{
	const struct pv_dict *d = sd->u.dict;
	size_t np = o->nparams, nc = 0, i, j;
	size_t *cand = NULL;		/* candidate positions in the dict */
	const struct pv_tensor **want = NULL;
	uint8_t *fw = NULL, *bw = NULL;	/* (np+1) x (nc+1) each */
	bool ambiguous = false;
	int r = -1;

	o->nkeys = d->len;
	o->param_at = malloc((d->len + 1) * sizeof(*o->param_at));
	cand = malloc((d->len + 1) * sizeof(*cand));
	want = calloc(np + 1, sizeof(*want));
	if (!o->param_at || !cand || !want)
		goto nomem;
	for (i = 0; i < d->len; i++) {
		o->param_at[i] = OPTIM_BUFFER;	/* not floating: a buffer */
		if (is_floating(d->items[i].value)) {
			o->param_at[i] = OPTIM_UNKNOWN;
			cand[nc++] = i;
		}
	}
	for (i = 0; i < np; i++)
		if (state_shape(optim_param_state(o, (int64_t)i), &want[i]) < 0)
			ambiguous = true;	/* its state disagrees with itself */
	if (ambiguous || np > nc || (np + 1) > OPTIM_MAX_WORK / (nc + 1)) {
		r = 0;			/* every candidate stays unknown */
		goto out;
	}
	fw = malloc((np + 1) * (nc + 1));
	bw = malloc((np + 1) * (nc + 1));
	if (!fw || !bw)
		goto nomem;
#define F(i, j) fw[(i) * (nc + 1) + (j)]
#define B(i, j) bw[(i) * (nc + 1) + (j)]
#define FITS(i, j) (!want[i] || same_shape(torchpkl_tensor( \
		d->items[cand[j]].value), want[i]->ndim, want[i]->shape))
	for (j = 0; j <= nc; j++)
		F(0, j) = 1;
	for (i = 1; i <= np; i++) {
		F(i, 0) = 0;
		for (j = 1; j <= nc; j++) {
			unsigned n = F(i, j - 1) +
				     (FITS(i - 1, j - 1) ? F(i - 1, j - 1) : 0);

			F(i, j) = (uint8_t)(n > 2 ? 2 : n);
		}
	}
	for (j = 0; j <= nc; j++)
		B(np, j) = 1;
	for (i = np; i-- > 0;) {
		B(i, nc) = 0;
		for (j = nc; j-- > 0;) {
			unsigned n = B(i, j + 1) +
				     (FITS(i, j) ? B(i + 1, j + 1) : 0);

			B(i, j) = (uint8_t)(n > 2 ? 2 : n);
		}
	}
	if (B(0, 0) == 0) {		/* no assignment at all */
		r = 0;
		goto out;
	}
	for (j = 0; j < nc; j++) {
		int64_t at = OPTIM_BUFFER;
		bool skippable = false;

		for (i = 0; i <= np; i++) {
			if (F(i, j) && B(i, j + 1))
				skippable = true;
			if (i < np && FITS(i, j) && F(i, j) && B(i + 1, j + 1))
				at = at == OPTIM_BUFFER ? (int64_t)i : OPTIM_UNKNOWN;
		}
		o->param_at[cand[j]] = at >= 0 && skippable ? OPTIM_UNKNOWN : at;
	}
#undef F
#undef B
#undef FITS
	r = 0;
	goto out;
nomem:
	ckerr_nomem(err);
out:
	free(fw);
	free(bw);
	free(cand);
	free(want);
	return r;
}

static int
add_optimizer(struct optim_set *s, const struct pyval *v, const char *path,
	      const struct pyval *sd, struct ckerr *err)
{
	const struct pyval *st, *groups;
	struct optim *o;
	int r;

	if (s->n == OPTIM_MAX || !v || v->kind != PV_DICT)
		return 0;
	st = pyval_dict_get_str(v, "state", 5);
	groups = pyval_dict_get_str(v, "param_groups", 12);
	if (!st || st->kind != PV_DICT || !groups || groups->kind != PV_LIST)
		return 0;
	o = &s->v[s->n];
	memset(o, 0, sizeof(*o));
	o->state = (struct pyval *)st;
	o->path = strdup(path);
	if (!o->path)
		return ckerr_nomem(err);
	s->n++;
	r = read_ids(o, groups, err);
	if (r != 0)
		return r < 0 ? -1 : 0;	/* unreadable: never matched */
	return match(o, sd, err);
}

int
optim_find(struct ckpt *ck, const struct pyval *sd, struct optim_set *out,
	   struct ckerr *err)
{
	static const char *const names[] = {
		"optimizer", "optimizer_state_dict", "optim",
	};
	const struct pyval *top = ckpt_top(ck), *list;
	char path[64];
	size_t i;

	memset(out, 0, sizeof(*out));
	if (top->kind != PV_DICT || sd->kind != PV_DICT)
		return 0;
	list = pyval_dict_get_str(top, "optimizer_states", 16);
	for (i = 0; list && list->kind == PV_LIST && i < list->u.seq.len; i++) {
		snprintf(path, sizeof(path), "optimizer_states.%zu", i);
		if (add_optimizer(out, list->u.seq.items[i], path, sd, err) < 0)
			return -1;
	}
	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (add_optimizer(out, pyval_dict_get_str(top, names[i],
							  strlen(names[i])),
				  names[i], sd, err) < 0)
			return -1;
	return 0;
}

void
optim_release(struct optim_set *s)
{
	size_t i;

	for (i = 0; i < s->n; i++) {
		free(s->v[i].path);
		free(s->v[i].ids);
		free(s->v[i].param_at);
	}
	s->n = 0;
}
