/* edit: plan edits on the key list, check them all, then change the graph. */
#include "config.h"

#include <regex.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "edit.h"
#include "torchpkl.h"
#include "grow.h"
#include "banned.h"

/* The keys of the state dict as the edits see them, in order. */
struct key {
	char *name;		/* NULL for a key that is not a str */
	size_t len;
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

struct plan {
	struct step *v;
	size_t n, alloc;
	char *warning;
};

/* "NAME:LINE:COL: message", or just the message for code-made edits. */
static int __attribute__((format(printf, 4, 5)))
fail_at(struct ckerr *err, const char *name, struct edit_pos pos,
	const char *fmt, ...)
{
	char msg[CKERR_MSG_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (!pos.line)
		return ckerr_set(err, CKERR_USAGE, "%s", msg);
	return ckerr_set(err, CKERR_USAGE, "%s:%u:%u: %s",
			 name ? name : "script", pos.line, pos.col, msg);
}

static void
keyset_release(struct keyset *ks)
{
	size_t i;

	for (i = 0; i < ks->n; i++)
		free(ks->v[i].name);
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

static int
plan_rename_regex(const struct keyset *ks, const struct edit *e,
		  const char *sname, struct plan *pl, struct ckerr *err)
{
	struct buf pattern = BUF_INIT;
	regmatch_t m[12];
	regex_t re;
	size_t i, ngroups;
	int rc;

	if (buf_addf(&pattern, "^(%s)$", e->str[0]) < 0)
		return ckerr_nomem(err);
	rc = regcomp(&re, pattern.data, REG_EXTENDED);
	buf_release(&pattern);
	if (rc) {
		char why[256];

		regerror(rc, NULL, why, sizeof(why));
		return fail_at(err, sname, e->str_pos[0], "invalid regex '%s': "
			       "%s", e->str[0], why);
	}
	ngroups = re.re_nsub - 1;
	if (max_group_ref(e->str[1]) > (int)ngroups) {
		regfree(&re);
		return fail_at(err, sname, e->str_pos[1], "the replacement "
			       "refers to group \\%d, the regex has %zu",
			       max_group_ref(e->str[1]), ngroups);
	}
	for (i = 0; i < ks->n; i++) {
		const char *k = ks->v[i].name;
		char *to;

		if (!k || regexec(&re, k, sizeof(m) / sizeof(m[0]), m, 0))
			continue;
		to = regex_replacement(e->str[1], k, m, ngroups);
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
plan_edit(const struct keyset *ks, const struct edit *e, const char *sname,
	  struct plan *pl, struct ckerr *err)
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
	default:
		r = fail_at(err, sname, e->pos, "%s is not supported yet",
			    edit_name(e->op));
		break;
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
		if (drop[i])
			free(ks->v[i].name);
		else
			ks->v[n++] = ks->v[i];
	}
	ks->n = n;
	free(drop);
	return 0;
}

static int
result_add(struct edit_result *res, const char *from, const char *to,
	   struct ckerr *err)
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
	if (!c->from || (to && !c->to)) {
		free(c->from);
		free(c->to);
		return ckerr_nomem(err);
	}
	res->n++;
	return 0;
}

static int
result_fill(struct edit_result *res, const struct keyset *ks,
	    const struct plan *pl, struct ckerr *err)
{
	size_t i;

	for (i = 0; i < pl->n; i++)
		if (result_add(res, ks->v[pl->v[i].pos].name, pl->v[i].to, err) < 0)
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

struct edit_undo {
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

/* Change the graph as the (checked) plan says. */
static int
apply_plan(struct ckpt *ck, struct pyval *sd, const struct edit *e,
	   const struct keyset *before, const struct plan *pl,
	   struct edit_undo *u, struct ckerr *err)
{
	struct pv_dict *d = sd->u.dict;
	bool *drop;
	size_t i;

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

/* Check all edits of s; with apply, then change the graph. */
static int
run_script(struct ckpt *ck, const struct ckpt_root *root,
	   const struct script *s, struct edit_report *rep, bool apply,
	   struct ckerr *err)
{
	struct pyval *sd;
	struct keyset ks = { NULL, 0 };
	struct plan *plans = NULL;
	struct keyset *befores = NULL;
	size_t i;
	int r = -1;

	if (s->n == 0)		/* nothing to check: any checkpoint will do */
		return 0;
	sd = state_dict(root, err);
	if (!sd || keyset_from_dict(sd, &ks, err) < 0)
		return -1;
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
		size_t k;

		if (plan_edit(&ks, &s->edits[i], s->name, &plans[i], err) < 0)
			goto out;
		if (rep && result_fill(&rep->v[i], &ks, &plans[i], err) < 0)
			goto out;
		/* the keys as this edit saw them, for _metadata */
		befores[i].v = calloc(ks.n + 1, sizeof(*befores[i].v));
		if (!befores[i].v) {
			ckerr_nomem(err);
			goto out;
		}
		befores[i].n = ks.n;
		for (k = 0; k < ks.n; k++) {
			befores[i].v[k].len = ks.v[k].len;
			if (ks.v[k].name &&
			    !(befores[i].v[k].name = strdup(ks.v[k].name))) {
				ckerr_nomem(err);
				goto out;
			}
		}
		if (keyset_apply(&ks, &plans[i], err) < 0)
			goto out;
	}
	for (i = 0; apply && i < s->n; i++)
		if (apply_plan(ck, sd, &s->edits[i], &befores[i], &plans[i], NULL,
			       err) < 0)
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
	if (r < 0 && rep)
		edit_report_release(rep);
	return r;
}

int
edit_check(struct ckpt *ck, const struct ckpt_root *root,
	   const struct script *s, struct edit_report *rep, struct ckerr *err)
{
	return run_script(ck, root, s, rep, false, err);
}

int
edit_apply(struct ckpt *ck, const struct ckpt_root *root,
	   const struct script *s, struct edit_report *rep, struct ckerr *err)
{
	return run_script(ck, root, s, rep, true, err);
}

int
edit_apply_one(struct ckpt *ck, const struct ckpt_root *root,
	       const struct edit *e, const char *name, struct edit_result *res,
	       struct edit_undo **undo, struct ckerr *err)
{
	struct pyval *sd = state_dict(root, err);
	struct keyset ks = { NULL, 0 };
	struct plan pl;
	struct edit_undo *u = NULL;
	int r = -1;

	memset(&pl, 0, sizeof(pl));
	if (undo)
		*undo = NULL;
	if (!sd || keyset_from_dict(sd, &ks, err) < 0)
		return -1;
	if (plan_edit(&ks, e, name, &pl, err) < 0 ||
	    (res && result_fill(res, &ks, &pl, err) < 0))
		goto out;
	if (undo && !(u = calloc(1, sizeof(*u)))) {
		ckerr_nomem(err);
		goto out;
	}
	if (apply_plan(ck, sd, e, &ks, &pl, u, err) < 0)
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
	return r;
}
