/* tree: the checkpoint as a tree of rows for the TUI. */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "grow.h"
#include "torchpkl.h"
#include "tree.h"
#include "banned.h"

static struct tree_node *
node_new(const char *name, size_t nlen, const char *path, size_t plen,
	 enum tree_kind kind)
{
	struct tree_node *n = calloc(1, sizeof(*n));

	if (!n)
		return NULL;
	n->name = strndup(name, nlen);
	n->path = strndup(path, plen);
	if (!n->name || !n->path) {
		free(n->name);
		free(n->path);
		free(n);
		return NULL;
	}
	n->kind = kind;
	n->seq = SIZE_MAX;
	return n;
}

static void
node_free(struct tree_node *n)
{
	size_t i;

	if (!n)
		return;
	for (i = 0; i < n->nkids; i++)
		node_free(n->kids[i]);
	free(n->kids);
	free(n->name);
	free(n->path);
	free(n);
}

static int
add_kid(struct tree *t, struct tree_node *parent, struct tree_node *kid)
{
	if (parent->nkids == parent->akids) {
		struct tree_node **p = grow_array(parent->kids, &parent->akids,
						  parent->nkids + 1, sizeof(*p),
						  4);

		if (!p)
			return -1;
		parent->kids = p;
	}
	kid->idx = parent->nkids;
	parent->kids[parent->nkids++] = kid;
	kid->parent = parent;
	t->nnodes++;
	return 0;
}

void
tree_free(struct tree *t)
{
	node_free(t->root);
	free(t->rows);
	free(t->filter);
	memset(t, 0, sizeof(*t));
}

/* ---- the state dict: keys split at dots ------------------------------ */

/* One key to place: a tensor of cur, or a key the target misses. */
struct place {
	const char *key;
	size_t seq;
	const struct layout_entry *have, *want;
	enum tree_mark mark;
};

/* Keys compared component by component, so that a key's subtree sorts
 * right after it ("a", "a.b", then "a-b"). */
static int
cmp_components(const char *a, const char *b)
{
	for (;;) {
		size_t la = strcspn(a, "."), lb = strcspn(b, ".");
		int c = memcmp(a, b, la < lb ? la : lb);

		if (c)
			return c;
		if (la != lb)
			return la < lb ? -1 : 1;
		a += la;
		b += lb;
		if (!*a || !*b)
			return (*a != '\0') - (*b != '\0');
		a++;
		b++;
	}
}

static int
cmp_place(const void *x, const void *y)
{
	const struct place *a = x, *b = y;
	int c = cmp_components(a->key, b->key);

	return c ? c : (a->seq > b->seq) - (a->seq < b->seq);
}

/* The value at cur's key i: the listing's when it is in step with cur
 * (layout_from_root lists the same way), else looked up. */
static struct pyval *
sd_value(const struct ckpt_root *root, const struct ckpt_list *list,
	 const struct layout *cur, size_t i)
{
	if (i < list->n && !strcmp(list->v[i].key, cur->v[i].key))
		return list->v[i].value;
	return ckpt_child(root->node, cur->v[i].key);
}

static int
build_sd(struct tree *t, struct tree_node *top, const struct ckpt *ck,
	 const struct ckpt_root *root, const struct layout *cur,
	 const struct layout *target, const struct layout_diff *d)
{
	struct ckpt_list list = CKPT_LIST_INIT;
	size_t n = cur->n + (d && target ? d->nmissing : 0), i, depth = 0;
	struct place *v = calloc(n + 1, sizeof(*v));
	struct tree_node **stack = NULL;
	size_t astack = 0;
	int r = -1;

	if (!v || ckpt_list_root(ck, root, &list, NULL) < 0) {
		free(v);
		return -1;
	}
	for (i = 0; i < cur->n; i++)
		v[i] = (struct place){ cur->v[i].key, i, &cur->v[i], NULL,
				       TM_NONE };
	if (d && target) {
		for (i = 0; i < d->nunexpected; i++)
			v[d->unexpected[i]].mark = TM_UNEXPECTED;
		for (i = 0; i < d->nmismatched; i++) {
			v[d->mismatched[i].have].mark = TM_MISMATCHED;
			v[d->mismatched[i].have].want =
			    &target->v[d->mismatched[i].want];
		}
		for (i = 0; i < d->nmissing; i++)
			v[cur->n + i] = (struct place){
				target->v[d->missing[i]].key, cur->n + i, NULL,
				&target->v[d->missing[i]], TM_MISSING };
	}
	qsort(v, n, sizeof(*v), cmp_place);
	for (i = 0; i < n; i++) {
		const char *key = v[i].key, *c = key;
		size_t k = 0;
		struct tree_node *leaf;

		/* keep the open nodes whose components the key shares */
		for (;;) {
			size_t len = strcspn(c, ".");

			if (k == depth || strlen(stack[k]->name) != len ||
			    memcmp(stack[k]->name, c, len) || !c[len])
				break;
			k++;
			c += len + 1;
		}
		depth = k;
		for (;;) {
			size_t len = strcspn(c, ".");
			struct tree_node *parent = depth ? stack[depth - 1] : top;
			bool last = !c[len];
			struct tree_node *nn;

			nn = node_new(c, len, key, (size_t)(c - key) + len,
				      last ? (v[i].mark == TM_MISSING ?
					      TK_MISSING : TK_TENSOR) :
				      TK_BRANCH);
			if (!nn || add_kid(t, parent, nn) < 0) {
				node_free(nn);
				goto out;
			}
			nn->sd = true;
			if (depth == astack) {
				struct tree_node **p = grow_array(stack, &astack,
								  depth + 1,
								  sizeof(*p),
								  16);

				if (!p)
					goto out;
				stack = p;
			}
			stack[depth++] = nn;
			if (last)
				break;
			c += len + 1;
		}
		leaf = stack[depth - 1];
		leaf->seq = v[i].seq;
		leaf->mark = v[i].mark;
		leaf->want = v[i].want;
		if (v[i].have) {
			leaf->value = sd_value(root, &list, cur, v[i].seq);
			leaf->t = leaf->value ? torchpkl_tensor(leaf->value) : NULL;
		}
	}
	r = 0;
out:
	ckpt_list_release(&list);
	free(stack);
	free(v);
	return r;
}

/* ---- the rest of the file: the value graph -------------------------- */

struct walk {
	struct tree *t;
	const struct ckpt *ck;
	struct tree_node *parent;
	const struct ckpt_root *root;
	const struct layout *cur, *target;
	const struct layout_diff *d;
	uint8_t *seen;		/* containers already shown, by node id */
	size_t nseen;
	size_t seq;
	int depth;
	int failed;
};

static bool
is_container(const struct pyval *v)
{
	return v->kind == PV_DICT || v->kind == PV_LIST ||
	       v->kind == PV_TUPLE || v->kind == PV_OBJECT;
}

static int walk_node(struct walk *w, struct tree_node *n, struct pyval *v);

static int
visit_child(void *ctx, const struct ckpt_child *c)
{
	struct walk *w = ctx;
	struct tree_node *parent = w->parent, *n;
	struct buf path = BUF_INIT;
	const struct pyval *v = c->value;
	enum tree_kind kind;

	if (parent->kind != TK_ROOT && buf_addf(&path, "%s.", parent->path) < 0)
		goto fail;
	if (buf_add(&path, c->name, c->len) < 0 || buf_grow(&path, 0) < 0)
		goto fail;
	kind = torchpkl_tensor(v) ? TK_TENSOR :
	       is_container(v) ? TK_BRANCH : TK_VALUE;
	n = node_new(c->name, c->len, path.data, path.len, kind);
	buf_release(&path);
	if (!n || add_kid(w->t, parent, n) < 0) {
		node_free(n);
		w->failed = 1;
		return -1;
	}
	n->value = c->value;
	n->seq = w->seq++;
	if (kind == TK_TENSOR)
		n->t = torchpkl_tensor(v);
	if (kind == TK_BRANCH && walk_node(w, n, c->value) < 0)
		return -1;
	return 0;
fail:
	buf_release(&path);
	w->failed = 1;
	return -1;
}

static int
walk_node(struct walk *w, struct tree_node *n, struct pyval *v)
{
	struct tree_node *saved = w->parent;
	struct ckerr err = CKERR_INIT;
	int r;

	if (v == w->root->node) {	/* the state dict, as keys */
		n->sd = true;
		w->t->sd = n;
		return build_sd(w->t, n, w->ck, w->root, w->cur, w->target,
				w->d) < 0 ?
		       (w->failed = 1, -1) : 0;
	}
	/* a container reached again (or too deep) is shown once */
	if (v->id < w->nseen && w->seen[v->id])
		return 0;
	if (v->id < w->nseen)
		w->seen[v->id] = 1;
	if (w->depth >= CKPT_MAX_DEPTH)
		return 0;
	w->depth++;
	w->parent = n;
	r = ckpt_children(v, visit_child, w, &err);
	w->parent = saved;
	w->depth--;
	if (r < 0 && err.code != CKERR_OK && err.code != CKERR_NOMEM)
		r = 0;		/* a child we cannot name: stop listing */
	return r < 0 || w->failed ? -1 : 0;
}

/* ---- aggregates and order ------------------------------------------- */

/* Sums below each node; a branch made for a key prefix takes the file
 * position of its first key. */
static void
aggregate(struct tree_node *n)
{
	size_t i, first = SIZE_MAX;

	n->tensors = n->bytes = n->elems = 0;
	n->unexpected = n->mismatched = n->missing = 0;
	if (n->t) {
		n->tensors = 1;
		n->bytes = tensor_nbytes(n->t);
		n->elems = n->t->numel;
	}
	n->unexpected = n->mark == TM_UNEXPECTED;
	n->mismatched = n->mark == TM_MISMATCHED;
	n->missing = n->mark == TM_MISSING;
	for (i = 0; i < n->nkids; i++) {
		struct tree_node *k = n->kids[i];

		aggregate(k);
		n->tensors += k->tensors;
		n->bytes = k->bytes > UINT64_MAX - n->bytes ? UINT64_MAX :
			   n->bytes + k->bytes;
		n->elems = k->elems > UINT64_MAX - n->elems ? UINT64_MAX :
			   n->elems + k->elems;
		n->unexpected += k->unexpected;
		n->mismatched += k->mismatched;
		n->missing += k->missing;
		if (k->seq < first)
			first = k->seq;
	}
	if (n->seq == SIZE_MAX)
		n->seq = first;
}

/* Names with their digit runs compared as numbers: 2 before 10. */
static int
cmp_natural(const char *a, const char *b)
{
	while (*a && *b) {
		if (*a >= '0' && *a <= '9' && *b >= '0' && *b <= '9') {
			const char *x = a, *y = b;
			size_t lx, ly;

			while (*x == '0')
				x++;
			while (*y == '0')
				y++;
			lx = strspn(x, "0123456789");
			ly = strspn(y, "0123456789");
			if (lx != ly)
				return lx < ly ? -1 : 1;
			if (memcmp(x, y, lx))
				return memcmp(x, y, lx);
			a = x + lx;
			b = y + ly;
			continue;
		}
		if (*a != *b)
			return (unsigned char)*a - (unsigned char)*b;
		a++;
		b++;
	}
	return (*a != '\0') - (*b != '\0');
}

static int
cmp_kids(const void *x, const void *y, void *ctx)
{
	const struct tree_node *a = *(const struct tree_node *const *)x;
	const struct tree_node *b = *(const struct tree_node *const *)y;
	enum tree_sort how = *(const enum tree_sort *)ctx;
	int c = 0;

	if (how == TS_NAME)
		c = cmp_natural(a->name, b->name);
	else if (how == TS_SIZE)
		c = (a->bytes < b->bytes) - (a->bytes > b->bytes);
	if (!c)
		c = (a->seq > b->seq) - (a->seq < b->seq);
	return c;
}

static void
sort_kids(struct tree_node *n, enum tree_sort how)
{
	size_t i;

	if (n->nkids > 1)
		qsort_r(n->kids, n->nkids, sizeof(*n->kids), cmp_kids, &how);
	for (i = 0; i < n->nkids; i++) {
		n->kids[i]->idx = i;
		sort_kids(n->kids[i], how);
	}
}

int
tree_build(struct tree *t, struct ckpt *ck, const struct ckpt_root *root,
	   const struct layout *cur, const struct layout *target,
	   const struct layout_diff *d, struct ckerr *err)
{
	struct walk w;
	struct pyval *top = ckpt_top(ck);
	size_t maxid = 0;

	memset(t, 0, sizeof(*t));
	memset(&w, 0, sizeof(w));
	t->root = node_new("", 0, "", 0, TK_ROOT);
	if (!t->root)
		return ckerr_nomem(err);
	t->root->expanded = true;
	w.t = t;
	w.ck = ck;
	w.root = root;
	w.cur = cur;
	w.target = target;
	w.d = d;
	w.parent = t->root;
	maxid = pyarena_count(ckpt_arena(ck));
	w.seen = calloc(maxid + 1, 1);
	w.nseen = w.seen ? maxid + 1 : 0;
	if (!w.seen || walk_node(&w, t->root, top) < 0) {
		free(w.seen);
		tree_free(t);
		return ckerr_nomem(err);
	}
	free(w.seen);
	if (!t->sd)		/* the root was not reached from the top */
		t->sd = t->root;
	t->sd->expanded = true;
	aggregate(t->root);
	sort_kids(t->root, TS_FILE);
	t->sort = TS_FILE;
	t->sorted_as = TS_FILE;
	return tree_rows(t, err);
}

/* ---- rows ------------------------------------------------------------ */

static int
push_row(struct tree *t, struct tree_node *n, int depth)
{
	if (t->nrows == t->arows) {
		struct tree_row *p = grow_array(t->rows, &t->arows, t->nrows + 1,
						sizeof(*p), 256);

		if (!p)
			return -1;
		t->rows = p;
	}
	t->rows[t->nrows].node = n;
	t->rows[t->nrows++].depth = depth;
	return 0;
}

static int
rows_of(struct tree *t, struct tree_node *n, int depth)
{
	size_t i;

	for (i = 0; i < n->nkids; i++) {
		struct tree_node *k = n->kids[i];

		if (t->filter && !k->match)
			continue;
		if (push_row(t, k, depth) < 0)
			return -1;
		if (k->expanded && rows_of(t, k, depth + 1) < 0)
			return -1;
	}
	return 0;
}

int
tree_rows(struct tree *t, struct ckerr *err)
{
	if (t->sorted_as != (int)t->sort) {
		sort_kids(t->root, t->sort);
		t->sorted_as = (int)t->sort;
	}
	t->nrows = 0;
	if (rows_of(t, t->root, 0) < 0)
		return ckerr_nomem(err);
	return 0;
}

void
tree_expand(struct tree_node *n, bool expanded, bool recursive)
{
	size_t i;

	if (n->nkids || n->kind == TK_ROOT)
		n->expanded = expanded;
	if (recursive)
		for (i = 0; i < n->nkids; i++)
			tree_expand(n->kids[i], expanded, true);
}

void
tree_reveal(struct tree_node *n)
{
	for (n = n->parent; n; n = n->parent)
		n->expanded = true;
}

static bool
mark_matches(struct tree_node *n, const char *s)
{
	bool any = strstr(n->path, s) != NULL;
	size_t i;

	for (i = 0; i < n->nkids; i++)
		any |= mark_matches(n->kids[i], s);
	n->match = any;
	if (any && n->nkids)
		n->expanded = true;
	return any;
}

int
tree_set_filter(struct tree *t, const char *s, struct ckerr *err)
{
	free(t->filter);
	t->filter = NULL;
	if (!s || !*s)
		return 0;
	t->filter = strdup(s);
	if (!t->filter)
		return ckerr_nomem(err);
	mark_matches(t->root, s);
	return 0;
}

/* The next node in pre-order (all nodes), or NULL after the last. */
static struct tree_node *
next_pre(struct tree_node *n)
{
	if (n->nkids)
		return n->kids[0];
	while (n->parent) {
		struct tree_node *p = n->parent;

		if (n->idx + 1 < p->nkids)
			return p->kids[n->idx + 1];
		n = p;
	}
	return NULL;
}

/* The last node of n's subtree in pre-order. */
static struct tree_node *
last_pre(struct tree_node *n)
{
	while (n->nkids)
		n = n->kids[n->nkids - 1];
	return n;
}

static struct tree_node *
prev_pre(struct tree *t, struct tree_node *n)
{
	struct tree_node *p = n->parent;

	if (!p)
		return last_pre(t->root);
	return n->idx ? last_pre(p->kids[n->idx - 1]) : p;
}

struct tree_node *
tree_search(struct tree *t, struct tree_node *from, const char *s,
	    bool backward)
{
	struct tree_node *n = from ? from : t->root;
	size_t steps;

	if (!s || !*s)
		return NULL;
	for (steps = 0; steps <= t->nnodes + 1; steps++) {
		n = backward ? prev_pre(t, n) : next_pre(n);
		if (!n)
			n = t->root;
		if (n != t->root && strstr(n->path, s))
			return n;
		if (n == from)
			break;
	}
	return NULL;
}

ptrdiff_t
tree_row_of(const struct tree *t, const struct tree_node *n)
{
	size_t i;

	for (i = 0; i < t->nrows; i++)
		if (t->rows[i].node == n)
			return (ptrdiff_t)i;
	return -1;
}

static struct tree_node *
find_below(struct tree_node *n, const char *path, bool sd)
{
	size_t i;

	for (i = 0; i < n->nkids; i++) {
		struct tree_node *k = n->kids[i];
		size_t len = strlen(k->path);

		if (strncmp(path, k->path, len) ||
		    (path[len] != '\0' && path[len] != '.'))
			continue;
		if (!path[len] && k->sd == sd && k->kind != TK_ROOT)
			return k;
		if (path[len] == '.') {
			struct tree_node *f = find_below(k, path, sd);

			if (f)
				return f;
		}
	}
	return NULL;
}

struct tree_node *
tree_find(const struct tree *t, const char *path, bool sd)
{
	struct tree_node *from = sd ? t->sd : t->root;

	if (!*path)
		return sd ? t->sd : NULL;
	return find_below(from, path, sd);
}

static void
keep(struct tree *t, const struct tree_node *o)
{
	size_t i;

	if (o->expanded && o->kind != TK_ROOT) {
		struct tree_node *n = tree_find(t, o->path, o->sd);

		if (n && n->nkids)
			n->expanded = true;
	}
	for (i = 0; i < o->nkids; i++)
		keep(t, o->kids[i]);
}

void
tree_keep_state(struct tree *t, const struct tree *old)
{
	if (old->root)
		keep(t, old->root);
	t->sort = old->sort;
}
