/* suggest: script lines that fix the differences between two layouts. */
#include "config.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "edit.h"
#include "grow.h"
#include "mix.h"
#include "suggest.h"
#include "banned.h"

/* Prefixes that wrappers add to every key, and what they are. */
static const struct {
	const char *prefix;
	const char *what;
} wrappers[] = {
	{ "module", "the prefix DataParallel and DistributedDataParallel add" },
	{ "_orig_mod", "the prefix torch.compile adds" },
	{ "_fsdp_wrapped_module", "the prefix FullyShardedDataParallel adds" },
	{ "model", "the prefix of a wrapper holding the network as self.model "
		   "(as Lightning modules often do)" },
};

/* At most this many --except keys in a suggested rename-prefix. */
#define MAX_EXCEPT 64
/*
 * Prefixes are looked for at a key's first dots only: real keys have a
 * few components, and a hostile one with thousands must not cost the
 * square of its length.
 */
#define MAX_DEPTH 32
/* Single renames compare keys pairwise within a group up to this size. */
#define MAX_PAIRS 1000000

/* What a round of suggestions looks at. */
struct work {
	struct layout cur;	/* have, as the suggestions so far leave it */
	struct layout *want;
	struct layout_diff d;
	bool *unexp;		/* per cur entry: unexpected */
	bool *miss;		/* per want entry: missing */
};

void
suggestions_release(struct suggestions *s)
{
	size_t i;

	for (i = 0; i < s->n; i++) {
		edit_release(&s->v[i].edit);
		free(s->v[i].reason);
	}
	free(s->v);
	memset(s, 0, sizeof(*s));
}

/* Append a suggestion; takes the edit's contents and the reason (also on
 * error). */
static int
push(struct suggestions *s, struct edit *e, char *reason, size_t fixes,
     struct ckerr *err)
{
	struct suggestion *p;

	if (!reason) {
		edit_release(e);
		return ckerr_nomem(err);
	}
	if (s->n == s->alloc) {
		p = grow_array(s->v, &s->alloc, s->n + 1, sizeof(*p), 8);
		if (!p) {
			edit_release(e);
			free(reason);
			return ckerr_nomem(err);
		}
		s->v = p;
	}
	p = &s->v[s->n++];
	p->edit = *e;
	p->reason = reason;
	p->fixes = fixes;
	memset(e, 0, sizeof(*e));
	return 0;
}

static char *
strf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static char *
strf(const char *fmt, ...)
{
	struct buf b = BUF_INIT;
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = buf_vaddf(&b, fmt, ap);
	va_end(ap);
	if (r < 0) {
		buf_release(&b);
		return NULL;
	}
	return buf_detach(&b, NULL);
}

/* "float32 [8, 66]" in a fresh string. */
static char *
type_text(const struct layout_entry *e)
{
	struct buf b = BUF_INIT;

	if (layout_add_type(&b, e) < 0) {
		buf_release(&b);
		return NULL;
	}
	return buf_detach(&b, NULL);
}

static int
layout_copy(struct layout *dst, const struct layout *src, struct ckerr *err)
{
	size_t i;

	memset(dst, 0, sizeof(*dst));
	for (i = 0; i < src->n; i++)
		if (layout_add(dst, src->v[i].key, src->v[i].dtype,
			       src->v[i].ndim, src->v[i].shape, src->v[i].line,
			       err) < 0) {
			layout_release(dst);
			return -1;
		}
	if (layout_index(dst, err) < 0) {
		layout_release(dst);
		return -1;
	}
	return 0;
}

static void
work_flags_release(struct work *w)
{
	layout_diff_release(&w->d);
	free(w->unexp);
	free(w->miss);
	w->unexp = w->miss = NULL;
}

/* The diff of cur against want, and who is missing or unexpected. */
static int
work_diff(struct work *w, struct ckerr *err)
{
	size_t i;

	work_flags_release(w);
	if (layout_diff(&w->cur, w->want, &w->d, err) < 0)
		return -1;
	w->unexp = calloc(w->cur.n + 1, sizeof(*w->unexp));
	w->miss = calloc(w->want->n + 1, sizeof(*w->miss));
	if (!w->unexp || !w->miss)
		return ckerr_nomem(err);
	for (i = 0; i < w->d.nunexpected; i++)
		w->unexp[w->d.unexpected[i]] = true;
	for (i = 0; i < w->d.nmissing; i++)
		w->miss[w->d.missing[i]] = true;
	return 0;
}

/* key is prefix p (plen bytes) or under it */
static bool
under(const char *key, const char *p, size_t plen)
{
	return !strncmp(key, p, plen) && (key[plen] == '\0' || key[plen] == '.');
}

static const char *
wrapper_of(const char *p, size_t plen)
{
	size_t i;

	for (i = 0; i < sizeof(wrappers) / sizeof(wrappers[0]); i++)
		if (strlen(wrappers[i].prefix) == plen &&
		    !memcmp(wrappers[i].prefix, p, plen))
			return wrappers[i].what;
	return NULL;
}

static int
edit_rename_prefix(struct edit *e, const char *from, size_t flen,
		   const char *to, size_t tlen)
{
	memset(e, 0, sizeof(*e));
	e->op = EDIT_RENAME_PREFIX;
	e->str[0] = strndup(from, flen);
	e->str[1] = strndup(to, tlen);
	return e->str[0] && e->str[1] ? 0 : -1;
}

static int
edit_add_except(struct edit *e, const char *key)
{
	char **x = realloc(e->except, (e->nexcept + 1) * sizeof(*x));
	struct edit_pos *xp;

	if (!x)
		return -1;
	e->except = x;
	xp = realloc(e->except_pos, (e->nexcept + 1) * sizeof(*xp));
	if (!xp)
		return -1;
	e->except_pos = xp;
	memset(&xp[e->nexcept], 0, sizeof(*xp));
	x[e->nexcept] = strdup(key);
	if (!x[e->nexcept])
		return -1;
	e->nexcept++;
	return 0;
}

/* ---- a prefix added to or removed from the keys --------------------- */

struct pfx {
	const char *p;		/* the prefix is the first len bytes of p */
	size_t len;
	bool add;		/* the target has it, the checkpoint not */
};

static int
cmp_pfx(const void *a, const void *b)
{
	const struct pfx *x = a, *y = b;
	int c;

	if (x->add != y->add)
		return x->add ? -1 : 1;
	if (x->len != y->len)
		return x->len < y->len ? -1 : 1;
	c = memcmp(x->p, y->p, x->len);
	return c;
}

/* Each pair (unexpected u, missing P.u) or (unexpected P.m, missing m). */
static int
prefix_pairs(struct work *w, struct pfx **out, size_t *n, struct ckerr *err)
{
	struct pfx *v = NULL;
	size_t alloc = 0, i;
	int side;

	*n = 0;
	for (side = 0; side < 2; side++) {
		size_t count = side ? w->d.nunexpected : w->d.nmissing;

		for (i = 0; i < count; i++) {
			const struct layout_entry *e = side ?
			    &w->cur.v[w->d.unexpected[i]] :
			    &w->want->v[w->d.missing[i]];
			struct layout *other = side ? w->want : &w->cur;
			const bool *flag = side ? w->miss : w->unexp;
			const char *dot;
			int depth = 0;

			for (dot = strchr(e->key, '.'); dot && depth < MAX_DEPTH;
			     dot = strchr(dot + 1, '.'), depth++) {
				ptrdiff_t o;

				if (dot == e->key)
					continue;
				o = layout_find(other, dot + 1);
				if (o == -2)
					goto nomem;
				if (o < 0 || !flag[o] ||
				    !layout_entry_same(e, &other->v[o]))
					continue;
				if (*n == alloc) {
					struct pfx *p = grow_array(v, &alloc,
								   *n + 1,
								   sizeof(*p),
								   64);
					if (!p)
						goto nomem;
					v = p;
				}
				v[*n].p = e->key;
				v[*n].len = (size_t)(dot - e->key);
				v[(*n)++].add = !side;
			}
		}
	}
	*out = v;
	return 0;
nomem:
	free(v);
	return ckerr_nomem(err);
}

/* The rename-prefix that adds or removes the best prefix, if one wins. */
static int
gen_prefix(struct work *w, struct suggestions *out, struct ckerr *err)
{
	struct pfx *v = NULL, best = { NULL, 0, false };
	size_t n, i, j, nbest = 0, nsecond = 0, moved = 0;
	struct edit e;
	char *reason = NULL;
	const char *who;
	int r = -1;

	if (prefix_pairs(w, &v, &n, err) < 0)
		return -1;
	if (n)
		qsort(v, n, sizeof(*v), cmp_pfx);
	for (i = 0; i < n; i = j) {
		for (j = i + 1; j < n && !cmp_pfx(&v[i], &v[j]); j++)
			;
		if (j - i > nbest) {
			nsecond = nbest;
			nbest = j - i;
			best = v[i];
		} else if (j - i > nsecond) {
			nsecond = j - i;
		}
	}
	free(v);
	if (nbest < 2 || nsecond == nbest)
		return 0;
	if (best.add ? edit_rename_prefix(&e, "", 0, best.p, best.len)
		     : edit_rename_prefix(&e, best.p, best.len, "", 0)) {
		edit_release(&e);
		return ckerr_nomem(err);
	}
	/*
	 * Keys the target already has stay; so do keys whose new name a key
	 * that stays holds, and (removing) the key that is the prefix.
	 */
	for (i = 0; i < w->cur.n; i++) {
		const char *k = w->cur.v[i].key;
		bool keep;
		char *to;

		if (!best.add && !under(k, best.p, best.len))
			continue;
		keep = !w->unexp[i] || (!best.add && k[best.len] == '\0');
		if (!keep) {
			ptrdiff_t o;

			to = best.add ? strf("%.*s.%s", (int)best.len, best.p, k)
				      : strdup(k + best.len + 1);
			if (!to)
				goto nomem;
			o = layout_find(&w->cur, to);
			free(to);
			if (o == -2)
				goto nomem;
			keep = o >= 0 && (!w->unexp[o] ||
					  (!best.add && !under(w->cur.v[o].key,
							       best.p,
							       best.len)));
		}
		if (!keep) {
			moved++;
			continue;
		}
		if (strpbrk(k, "*?") || e.nexcept == MAX_EXCEPT) {
			r = 0;	/* cannot be excepted exactly, or too many */
			goto out;
		}
		if (edit_add_except(&e, k) < 0)
			goto nomem;
	}
	if (e.nexcept > nbest) {
		r = 0;
		goto out;
	}
	who = wrapper_of(best.p, best.len);
	if (best.add && who)
		reason = strf("the target's keys carry '%.*s.', %s: under it, "
			      "%zu keys match%s", (int)best.len, best.p, who,
			      nbest, e.nexcept ?
			      "; the keys listed keep their names" : "");
	else if (best.add)
		reason = strf("under '%.*s.', %zu keys match the target (%zu "
			      "keys move%s)", (int)best.len, best.p, nbest,
			      moved, e.nexcept ? "; the keys listed keep their "
			      "names" : "");
	else if (who)
		reason = strf("'%.*s.' is %s: without it, %zu keys match the "
			      "target", (int)best.len, best.p, who, nbest);
	else
		reason = strf("without the prefix '%.*s.', %zu keys match the "
			      "target", (int)best.len, best.p, nbest);
	return push(out, &e, reason, 2 * nbest, err);
nomem:
	ckerr_nomem(err);
out:
	edit_release(&e);
	return r;
}

/* ---- whole subtrees renamed ----------------------------------------- */

/* A hash of a name below a prefix, with the entry's dtype and shape. */
static uint64_t
entry_hash(const char *rest, const struct layout_entry *e)
{
	uint64_t h = 1469598103934665603ULL;
	int i;

	for (; *rest; rest++)
		h = (h ^ (uint8_t)*rest) * 1099511628211ULL;
	h = mix64(h ^ (uint64_t)e->dtype);
	h = mix64(h ^ (uint64_t)e->ndim);
	for (i = 0; i < e->ndim; i++)
		h = mix64(h ^ (uint64_t)e->shape[i]);
	return h;
}

struct subtree {
	const char *key;	/* a key under it: the prefix is its first plen
				 * bytes */
	size_t plen;
	size_t first, count;	/* its keys: sorted[first .. first+count) */
	size_t flagged;
	uint64_t hash;
	int side;		/* 0: the checkpoint's, 1: the target's */
};

struct subtrees {
	struct subtree *v;
	size_t n, alloc;
};

static int
subtrees_push(struct subtrees *s, const struct subtree *t)
{
	if (s->n == s->alloc) {
		struct subtree *p = grow_array(s->v, &s->alloc, s->n + 1,
					       sizeof(*p), 64);
		if (!p)
			return -1;
		s->v = p;
	}
	s->v[s->n++] = *t;
	return 0;
}

/* Keep a closed subtree when every key under it is flagged and no key
 * is the prefix itself. */
static int
subtree_close(struct layout *l, const struct subtree *t, struct subtrees *out)
{
	char *p;
	ptrdiff_t o;

	if (t->flagged != t->count)
		return 0;
	p = strndup(t->key, t->plen);
	if (!p)
		return -1;
	o = layout_find(l, p);
	free(p);
	if (o == -2)
		return -1;
	return o >= 0 ? 0 : subtrees_push(out, t);
}

/* Every subtree of l (key prefixes at dots) whose keys are all flagged. */
static int
subtrees_of(struct layout *l, const bool *flag, int side,
	    struct subtrees *out, struct ckerr *err)
{
	struct subtrees open = { NULL, 0, 0 };
	size_t i, d;

	if (layout_index(l, err) < 0)
		return -1;
	for (i = 0; i < l->n; i++) {
		const struct layout_entry *e = &l->v[l->sorted[i]];
		const char *dot;

		while (open.n && !(!strncmp(e->key, open.v[open.n - 1].key,
					    open.v[open.n - 1].plen) &&
				   e->key[open.v[open.n - 1].plen] == '.')) {
			if (subtree_close(l, &open.v[--open.n], out) < 0)
				goto nomem;
		}
		dot = strchr(e->key + (open.n ? open.v[open.n - 1].plen + 1 : 0),
			     '.');
		for (; dot && open.n < MAX_DEPTH; dot = strchr(dot + 1, '.')) {
			struct subtree t = { e->key, (size_t)(dot - e->key), i,
					     0, 0, 0, side };

			if (dot == e->key)
				continue;
			if (subtrees_push(&open, &t) < 0)
				goto nomem;
		}
		for (d = 0; d < open.n; d++) {
			struct subtree *t = &open.v[d];

			t->count++;
			t->flagged += flag[l->sorted[i]];
			t->hash = mix64(t->hash ^ entry_hash(e->key + t->plen + 1,
							   e));
		}
	}
	while (open.n)
		if (subtree_close(l, &open.v[--open.n], out) < 0)
			goto nomem;
	free(open.v);
	return 0;
nomem:
	free(open.v);
	return ckerr_nomem(err);
}

static int
cmp_subtree_hash(const void *a, const void *b)
{
	const struct subtree *x = a, *y = b;

	if (x->hash != y->hash)
		return x->hash < y->hash ? -1 : 1;
	return x->side - y->side;
}

/* The same names below the prefixes, dtypes and shapes. */
static bool
same_subtree(const struct layout *la, const struct subtree *a,
	     const struct layout *lb, const struct subtree *b)
{
	size_t i;

	if (a->count != b->count)
		return false;
	for (i = 0; i < a->count; i++) {
		const struct layout_entry *x = &la->v[la->sorted[a->first + i]];
		const struct layout_entry *y = &lb->v[lb->sorted[b->first + i]];

		if (strcmp(x->key + a->plen, y->key + b->plen) ||
		    !layout_entry_same(x, y))
			return false;
	}
	return true;
}

struct match {
	const struct subtree *a, *b;
};

static int
cmp_match(const void *x, const void *y)
{
	const struct match *m = x, *n = y;

	if (m->a->count != n->a->count)
		return m->a->count > n->a->count ? -1 : 1;
	if (m->a->plen != n->a->plen)
		return m->a->plen < n->a->plen ? -1 : 1;
	return strncmp(m->a->key, n->a->key, m->a->plen);
}

/* One prefix is the other or under it. */
static bool
nested(const struct subtree *x, const struct subtree *y)
{
	const struct subtree *s = x->plen <= y->plen ? x : y;
	const struct subtree *l = s == x ? y : x;

	return under(l->key, s->key, s->plen) &&
	       (l->plen == s->plen || l->key[s->plen] == '.');
}

static int
gen_subtrees(struct work *w, struct suggestions *out, struct ckerr *err)
{
	struct subtrees all = { NULL, 0, 0 };
	struct match *m = NULL, *ok;
	size_t nm = 0, i, j, k, nok = 0;
	int r = -1;

	if (subtrees_of(&w->cur, w->unexp, 0, &all, err) < 0 ||
	    subtrees_of(w->want, w->miss, 1, &all, err) < 0)
		goto out;
	if (all.n)
		qsort(all.v, all.n, sizeof(*all.v), cmp_subtree_hash);
	m = calloc(all.n / 2 + 1, sizeof(*m));
	if (!m) {
		ckerr_nomem(err);
		goto out;
	}
	for (i = 0; i < all.n; i = j) {
		for (j = i + 1; j < all.n && all.v[j].hash == all.v[i].hash; j++)
			;
		/* exactly one on each side: unambiguous */
		if (j - i != 2 || all.v[i].side != 0 || all.v[i + 1].side != 1)
			continue;
		if (!same_subtree(&w->cur, &all.v[i], w->want, &all.v[i + 1]))
			continue;
		m[nm].a = &all.v[i];
		m[nm++].b = &all.v[i + 1];
	}
	qsort(m, nm, sizeof(*m), cmp_match);
	ok = m;		/* accepted matches, compacted in place */
	for (i = 0; i < nm; i++) {
		struct match c = m[i];
		struct edit e;
		char *reason;

		for (k = 0; k < nok; k++)
			if (nested(c.a, ok[k].a) || nested(c.b, ok[k].b) ||
			    nested(c.a, ok[k].b) || nested(c.b, ok[k].a))
				break;
		if (k < nok)
			continue;
		ok[nok++] = c;
		if (edit_rename_prefix(&e, c.a->key, c.a->plen, c.b->key,
				       c.b->plen) < 0) {
			edit_release(&e);
			ckerr_nomem(err);
			goto out;
		}
		reason = c.a->count == 1 ?
		    strf("'%s' matches the missing '%s' (same name below "
			 "'%.*s.' and '%.*s.', dtype and shape)",
			 c.a->key, c.b->key, (int)c.a->plen, c.a->key,
			 (int)c.b->plen, c.b->key) :
		    strf("the %zu unexpected keys under '%.*s.' match the %zu "
			 "missing under '%.*s.' (names below them, dtypes and "
			 "shapes)", c.a->count, (int)c.a->plen, c.a->key,
			 c.b->count, (int)c.b->plen, c.b->key);
		if (push(out, &e, reason, 2 * c.a->count, err) < 0)
			goto out;
	}
	r = 0;
out:
	free(m);
	free(all.v);
	return r;
}

/* ---- single keys renamed -------------------------------------------- */

static const char *
last_component(const char *key)
{
	const char *d = strrchr(key, '.');

	return d ? d + 1 : key;
}

/* Whole dotted components two keys end with. */
static size_t
common_ending(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b), n = 0;

	while (la && lb && a[la - 1] == b[lb - 1]) {
		la--;
		lb--;
		if ((!la || a[la - 1] == '.') && (!lb || b[lb - 1] == '.'))
			n++;
		if (!la || !lb)
			break;
	}
	return n;
}

struct single {
	size_t pos;		/* in cur (unexpected) or want (missing) */
	uint64_t hash;		/* last component, dtype, shape */
	size_t best;		/* index of its best match in the group */
	size_t score;
	bool tie;
};

static int
cmp_single(const void *a, const void *b)
{
	const struct single *x = a, *y = b;

	if (x->hash != y->hash)
		return x->hash < y->hash ? -1 : 1;
	return (x->pos > y->pos) - (x->pos < y->pos);
}

static void
consider(struct single *s, size_t other, size_t score)
{
	if (score > s->score) {
		s->score = score;
		s->best = other;
		s->tie = false;
	} else if (score == s->score) {
		s->tie = true;
	}
}

/* Suggestions in the order of their first key in cur. */
static int
cmp_by_key(const void *a, const void *b, void *ctx)
{
	struct layout *cur = ctx;
	ptrdiff_t x = layout_find(cur, ((const struct suggestion *)a)->edit.str[0]);
	ptrdiff_t y = layout_find(cur, ((const struct suggestion *)b)->edit.str[0]);

	return (x > y) - (x < y);
}

static int
gen_singles(struct work *w, struct suggestions *out, struct ckerr *err)
{
	size_t nu = w->d.nunexpected, nmi = w->d.nmissing, i, j, a, b, x, y;
	struct single *u = calloc(nu + 1, sizeof(*u));
	struct single *m = calloc(nmi + 1, sizeof(*m));
	int r = -1;

	if (!u || !m) {
		ckerr_nomem(err);
		goto out;
	}
	for (i = 0; i < nu; i++) {
		const struct layout_entry *e = &w->cur.v[w->d.unexpected[i]];

		u[i].pos = w->d.unexpected[i];
		u[i].hash = entry_hash(last_component(e->key), e);
	}
	for (i = 0; i < nmi; i++) {
		const struct layout_entry *e = &w->want->v[w->d.missing[i]];

		m[i].pos = w->d.missing[i];
		m[i].hash = entry_hash(last_component(e->key), e);
	}
	qsort(u, nu, sizeof(*u), cmp_single);
	qsort(m, nmi, sizeof(*m), cmp_single);
	for (i = j = 0; i < nu && j < nmi;) {
		if (u[i].hash != m[j].hash) {
			if (u[i].hash < m[j].hash)
				i++;
			else
				j++;
			continue;
		}
		for (a = i; a < nu && u[a].hash == u[i].hash; a++)
			;
		for (b = j; b < nmi && m[b].hash == m[j].hash; b++)
			;
		if ((a - i) * (b - j) <= MAX_PAIRS) {
			for (x = i; x < a; x++)
				for (y = j; y < b; y++) {
					const struct layout_entry *p =
					    &w->cur.v[u[x].pos];
					const struct layout_entry *q =
					    &w->want->v[m[y].pos];
					size_t s;

					if (strcmp(last_component(p->key),
						   last_component(q->key)) ||
					    !layout_entry_same(p, q))
						continue;
					s = common_ending(p->key, q->key);
					consider(&u[x], y, s);
					consider(&m[y], x, s);
				}
			for (x = i; x < a; x++) {
				const struct layout_entry *p, *q;
				struct edit e;
				char *type;

				y = u[x].best;
				if (!u[x].score || u[x].tie || m[y].tie ||
				    m[y].best != x)
					continue;
				p = &w->cur.v[u[x].pos];
				q = &w->want->v[m[y].pos];
				memset(&e, 0, sizeof(e));
				e.op = EDIT_RENAME;
				e.str[0] = strdup(p->key);
				e.str[1] = strdup(q->key);
				type = type_text(p);
				if (!e.str[0] || !e.str[1] || !type) {
					free(type);
					edit_release(&e);
					ckerr_nomem(err);
					goto out;
				}
				if (push(out, &e, strf("the missing key most like "
						       "it: %s, the same ending "
						       "'%s'", type,
						       last_component(p->key)),
					 2, err) < 0) {
					free(type);
					goto out;
				}
				free(type);
			}
		}
		i = a;
		j = b;
	}
	if (out->n)
		qsort_r(out->v, out->n, sizeof(*out->v), cmp_by_key, &w->cur);
	r = 0;
out:
	free(u);
	free(m);
	return r;
}

/* ---- a column more or fewer ----------------------------------------- */

static int
gen_columns(struct work *w, struct suggestions *out, struct ckerr *err)
{
	size_t i;

	for (i = 0; i < w->d.nmismatched; i++) {
		const struct layout_entry *h = &w->cur.v[w->d.mismatched[i].have];
		const struct layout_entry *t =
		    &w->want->v[w->d.mismatched[i].want];
		int d, dim = -1;
		struct edit e;
		char *reason;

		if (h->dtype != t->dtype || h->ndim != t->ndim)
			continue;
		for (d = 0; d < h->ndim; d++) {
			if (h->shape[d] == t->shape[d])
				continue;
			/* sizes are >= 0: their difference cannot overflow */
			if (dim >= 0 || (h->shape[d] - t->shape[d] != 1 &&
					 t->shape[d] - h->shape[d] != 1)) {
				dim = -2;
				break;
			}
			dim = d;
		}
		if (dim < 0)
			continue;
		memset(&e, 0, sizeof(e));
		e.str[0] = strdup(h->key);
		e.dim_set = true;
		e.dim = dim;
		if (h->shape[dim] < t->shape[dim]) {
			e.op = EDIT_INSERT_COLUMN;
			e.num[0] = h->shape[dim];
			reason = strf("the target has one more along dimension %d "
				      "(%" PRId64 ", not %" PRId64 "): this "
				      "appends one filled with 0 at the end; if "
				      "the new feature is not the last, change "
				      "%" PRId64 " to its index", dim,
				      t->shape[dim], h->shape[dim],
				      h->shape[dim]);
		} else {
			e.op = EDIT_DELETE_COLUMN;
			e.num[0] = h->shape[dim] - 1;
			reason = strf("the target has one fewer along dimension %d "
				      "(%" PRId64 ", not %" PRId64 "): this "
				      "deletes the last; if the removed feature "
				      "is not the last, change %" PRId64 " to "
				      "its index", dim, t->shape[dim],
				      h->shape[dim], h->shape[dim] - 1);
		}
		if (!e.str[0]) {
			free(reason);
			edit_release(&e);
			return ckerr_nomem(err);
		}
		if (push(out, &e, reason, 1, err) < 0)
			return -1;
	}
	return 0;
}

/* ---- the rounds ----------------------------------------------------- */

/* What an edit does to a layout, as edit_apply does it to a state dict. */
static int
simulate_edit(struct layout *l, const struct edit *e, struct ckerr *err)
{
	size_t i;

	if (e->op == EDIT_RENAME || e->op == EDIT_RENAME_PREFIX) {
		for (i = 0; i < l->n; i++) {
			char *to;
			int r = edit_renamed(e, l->v[i].key, &to);

			if (r < 0)
				return ckerr_nomem(err);
			if (r) {
				free(l->v[i].key);
				l->v[i].key = to;
			}
		}
		free(l->sorted);
		l->sorted = NULL;
		return 0;
	}
	if (e->op == EDIT_INSERT_COLUMN || e->op == EDIT_DELETE_COLUMN) {
		ptrdiff_t o = layout_find(l, e->str[0]);

		if (o == -2)
			return ckerr_nomem(err);
		if (o >= 0)
			l->v[o].shape[e->dim] += e->op == EDIT_INSERT_COLUMN ? 1 : -1;
	}
	return 0;
}

/*
 * Apply a round's suggestions to a copy of cur; keep the result when it
 * has no two keys of one name and removes at least the differences the
 * suggestions promise.  *kept says which.
 */
static int
simulate(struct work *w, struct suggestions *round, bool *kept,
	 struct ckerr *err)
{
	struct layout next;
	struct layout_diff d;
	size_t i, promised = 0, before = layout_diff_count(&w->d);
	struct ckerr dup = CKERR_INIT;

	*kept = false;
	if (layout_copy(&next, &w->cur, err) < 0)
		return -1;
	for (i = 0; i < round->n; i++) {
		promised += round->v[i].fixes;
		if (simulate_edit(&next, &round->v[i].edit, err) < 0) {
			layout_release(&next);
			return -1;
		}
	}
	if (layout_index(&next, &dup) < 0) {
		layout_release(&next);
		return dup.code == CKERR_NOMEM ? ckerr_nomem(err) : 0;
	}
	if (layout_diff(&next, w->want, &d, err) < 0) {
		layout_release(&next);
		return -1;
	}
	if (promised <= before && layout_diff_count(&d) <= before - promised) {
		/* one edit: what it really fixes (a pair it joins may still
		 * differ in shape, or keys it moves may match by chance) */
		if (round->n == 1)
			round->v[0].fixes = before - layout_diff_count(&d);
		layout_release(&w->cur);
		w->cur = next;
		*kept = true;
	} else {
		layout_release(&next);
	}
	layout_diff_release(&d);
	return 0;
}

int
suggest(const struct layout *have, struct layout *want,
	struct suggestions *out, struct ckerr *err)
{
	struct work w;
	int r = -1;

	memset(&w, 0, sizeof(w));
	memset(out, 0, sizeof(*out));
	w.want = want;
	if (layout_copy(&w.cur, have, err) < 0 || layout_index(want, err) < 0)
		goto out;
	while (out->n < SUGGEST_MAX) {
		struct suggestions round = SUGGESTIONS_INIT, sub = SUGGESTIONS_INIT;
		bool kept = false;
		size_t i;

		if (work_diff(&w, err) < 0)
			goto out;
		if (!layout_diff_count(&w.d))
			break;
		if (gen_prefix(&w, &round, err) < 0 ||
		    gen_subtrees(&w, &sub, err) < 0) {
			suggestions_release(&round);
			suggestions_release(&sub);
			goto out;
		}
		/* the prefix wins only when it fixes more than any subtree */
		if (sub.n && (!round.n || sub.v[0].fixes >= round.v[0].fixes)) {
			suggestions_release(&round);
			round = sub;
		} else {
			suggestions_release(&sub);
		}
		if (!round.n && gen_singles(&w, &round, err) < 0)
			goto fail_round;
		if (!round.n && gen_columns(&w, &round, err) < 0)
			goto fail_round;
		if (round.n && simulate(&w, &round, &kept, err) == 0 && !kept &&
		    round.n > 1) {
			/* edits of one round that interfere: the first alone */
			while (round.n > 1) {
				round.n--;
				edit_release(&round.v[round.n].edit);
				free(round.v[round.n].reason);
			}
			if (simulate(&w, &round, &kept, err) < 0)
				kept = false;
		}
		if (!round.n || (err && err->code != CKERR_OK) || !kept) {
			bool failed = err && err->code != CKERR_OK;

			suggestions_release(&round);
			if (failed)
				goto out;
			break;
		}
		for (i = 0; i < round.n && out->n < SUGGEST_MAX; i++) {
			struct suggestion *s = &round.v[i];

			if (push(out, &s->edit, s->reason, s->fixes, err) < 0) {
				s->reason = NULL;
				suggestions_release(&round);
				goto out;
			}
			s->reason = NULL;
		}
		suggestions_release(&round);
		continue;
fail_round:
		suggestions_release(&round);
		goto out;
	}
	r = 0;
out:
	work_flags_release(&w);
	layout_release(&w.cur);
	if (r < 0)
		suggestions_release(out);
	return r;
}

/* ---- groups of keys for a report ------------------------------------ */

static int
cmp_subtree_name(const void *a, const void *b)
{
	const struct subtree *x = a, *y = b;
	size_t n = x->plen < y->plen ? x->plen : y->plen;
	int c = memcmp(x->key, y->key, n);

	return c ? c : (x->plen > y->plen) - (x->plen < y->plen);
}

/* The common prefix of a subtree's keys, at a dot. */
static size_t
chain_prefix(const struct layout *l, const struct subtree *t)
{
	const char *a = l->v[l->sorted[t->first]].key;
	const char *b = l->v[l->sorted[t->first + t->count - 1]].key;
	size_t i, end = t->plen;

	for (i = 0; a[i] && a[i] == b[i]; i++)
		if (a[i] == '.' && i > end)
			end = i;
	return end;
}

/* Some key of l is under the prefix (plen bytes of p, then a dot). */
static int
has_under(struct layout *l, const char *p, size_t plen)
{
	size_t lo = 0, hi = l->n;

	if (layout_index(l, NULL) < 0)
		return -1;
	/* the first key not below "p." in sorted order */
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		const char *k = l->v[l->sorted[mid]].key;
		int c = strncmp(k, p, plen);

		if (c < 0 || (c == 0 && (unsigned char)k[plen] < '.'))
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < l->n && under(l->v[l->sorted[lo]].key, p, plen) &&
	       l->v[l->sorted[lo]].key[plen] == '.';
}

int
suggest_groups(struct layout *l, const bool *flag, const size_t *order,
	       size_t n, struct layout *other, struct key_group **out,
	       size_t *nout, struct ckerr *err)
{
	struct subtrees st = { NULL, 0, 0 };
	struct key_group *g = calloc(n + 1, sizeof(*g));
	size_t *slot = NULL, i, k;
	int r = -1;

	*out = NULL;
	*nout = 0;
	if (!g || subtrees_of(l, flag, 0, &st, err) < 0)
		goto fail;
	/* the subtrees of two keys or more that other has nothing under,
	 * by name */
	for (i = k = 0; i < st.n; i++) {
		int h = st.v[i].count < 2 || !other ? 0 :
			has_under(other, st.v[i].key, st.v[i].plen);

		if (h < 0)
			goto fail;
		if (st.v[i].count >= 2 && !h)
			st.v[k++] = st.v[i];
	}
	st.n = k;
	if (st.n)
		qsort(st.v, st.n, sizeof(*st.v), cmp_subtree_name);
	slot = malloc((st.n + 1) * sizeof(*slot));
	if (!slot)
		goto fail;
	for (i = 0; i < st.n; i++)
		slot[i] = SIZE_MAX;
	for (i = 0; i < n; i++) {
		const char *key = l->v[order[i]].key, *dot;
		struct subtree probe = { key, 0, 0, 0, 0, 0, 0 };
		struct subtree *hit = NULL;
		int depth = 0;

		/* the prefixes subtrees_of saw: none before a leading dot */
		for (dot = st.n ? strchr(key, '.') : NULL; dot && !hit;
		     dot = strchr(dot + 1, '.')) {
			if (dot == key)
				continue;
			if (depth++ == MAX_DEPTH)
				break;
			probe.plen = (size_t)(dot - key);
			hit = bsearch(&probe, st.v, st.n, sizeof(*st.v),
				      cmp_subtree_name);
		}
		if (!hit) {
			g[(*nout)++] = (struct key_group){ order[i], 0, 1 };
			continue;
		}
		k = (size_t)(hit - st.v);
		if (slot[k] == SIZE_MAX) {
			slot[k] = (*nout)++;
			g[slot[k]] = (struct key_group){ order[i],
				chain_prefix(l, hit), 0 };
		}
		g[slot[k]].count++;
	}
	*out = g;
	r = 0;
	g = NULL;
	goto out;
fail:
	if (err && err->code == CKERR_OK)
		ckerr_nomem(err);
	*nout = 0;
out:
	free(g);
	free(slot);
	free(st.v);
	return r;
}
