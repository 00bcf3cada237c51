/* cmd-show: one tensor in detail, with statistics and a value preview. */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "jsonv.h"
#include "torchpkl.h"
#include "grow.h"
#include "banned.h"

#define SHOW_DEFAULT_VALUES 10
#define SHOW_MAX_VALUES 1000000

struct shown {
	const char *file, *key;
	char *path;		/* full dotted path */
	struct pyval *value;	/* tensor or Parameter */
	const struct pv_tensor *t;
	struct ckpt_list shared;/* other paths viewing the same storage */
	bool have_stats;
	struct tstats st;
	char stats_why[CKERR_MSG_MAX];
	struct tval *vals;
	size_t nvals;
};

/* Find KEY in the state dict, else as a full path from the top. */
static int
locate(struct ckpt *ck, const struct ckpt_root *root, struct shown *s)
{
	struct ckerr err = CKERR_INIT, err2 = CKERR_INIT;
	struct buf path = BUF_INIT;
	struct pyval *v;

	/* an exact key first: keys may be "" or hold dots */
	v = ckpt_child(root->node, s->key);
	if (!v && s->key[0])
		v = ckpt_resolve(ck, root->node, s->key, &err);
	if (v) {
		if ((root->path[0] && buf_addf(&path, "%s.", root->path) < 0) ||
		    buf_addstr(&path, s->key) < 0) {
			buf_release(&path);
			return cli_error(s->file, "out of memory");
		}
	} else {
		v = ckpt_resolve(ck, NULL, s->key, &err2);
		if (!v) {
			buf_release(&path);
			return cli_error(s->file, "no tensor '%s' in the state "
					 "dict%s%s%s or the file", s->key,
					 root->path[0] ? " '" : "", root->path,
					 root->path[0] ? "'" : "");
		}
		if (buf_addstr(&path, s->key) < 0) {
			buf_release(&path);
			return cli_error(s->file, "out of memory");
		}
	}
	if (!torchpkl_tensor_node(v)) {
		buf_release(&path);
		return cli_error(s->file, "'%s' is a %s, not a tensor", s->key,
				 pyval_kind_name(v->kind));
	}
	s->path = buf_detach(&path, NULL);
	if (!s->path)
		return cli_error(s->file, "out of memory");
	s->value = v;
	s->t = torchpkl_tensor(v);
	return EXIT_OK;
}

static int
find_shared(struct ckpt *ck, struct shown *s)
{
	struct ckpt_list all = CKPT_LIST_INIT;
	struct ckerr err = CKERR_INIT;
	size_t i;

	if (ckpt_list_all(ck, &all, &err) < 0) {
		ckpt_list_release(&all);
		return cli_fail(s->file, &err);
	}
	for (i = 0; i < all.n; i++) {
		struct ckpt_entry *e = &all.v[i];

		if (e->tensor->u.tensor->storage != s->t->storage ||
		    !strcmp(e->key, s->path))
			continue;
		if (s->shared.n == s->shared.alloc) {
			struct ckpt_entry *p = grow_array(s->shared.v,
							  &s->shared.alloc,
							  s->shared.n + 1,
							  sizeof(*p), 8);

			if (!p) {
				ckpt_list_release(&all);
				return cli_error(s->file, "out of memory");
			}
			s->shared.v = p;
		}
		s->shared.v[s->shared.n++] = *e;
		e->key = NULL;	/* moved */
	}
	ckpt_list_release(&all);
	return EXIT_OK;
}

/* requires_grad: the Parameter's flag, else the tensor's. */
static bool
requires_grad(const struct shown *s)
{
	const struct pyval *rg = s->t->requires_grad;

	if (s->value->kind == PV_OBJECT && s->value->u.obj->args->u.seq.len > 1)
		rg = s->value->u.obj->args->u.seq.items[1];
	return rg && rg->kind == PV_BOOL && rg->u.b;
}

static struct jsonv *
json_tval(const struct tval *v)
{
	struct jsonv *a;

	switch (v->kind) {
	case TV_SINT:
		return jsonv_int(v->i);
	case TV_UINT:
		return jsonv_uint(v->u);
	case TV_BOOL:
		return jsonv_bool(v->i != 0);
	case TV_COMPLEX:
		a = jsonv_array();
		if (jsonv_push(a, jsonv_real(v->re)) < 0 ||
		    jsonv_push(a, jsonv_real(v->im)) < 0) {
			jsonv_free(a);
			return NULL;
		}
		return a;
	default:
		return jsonv_real(v->re);
	}
}

/* min/max as JSON: integers for integer and bool dtypes. */
static struct jsonv *
json_extreme(const struct tstats *st, const struct tval *v)
{
	if (st->finite == 0 || st->kind == TV_COMPLEX)
		return jsonv_null();
	if (v->kind == TV_BOOL)
		return jsonv_int(v->i);
	return json_tval(v);
}

static struct jsonv *
json_stats(const struct shown *s)
{
	const struct tstats *st = &s->st;
	struct jsonv *o, *mean;
	int bad = 0;

	if (!s->have_stats)
		return jsonv_null();
	o = jsonv_object();
	if (st->finite == 0) {
		mean = jsonv_null();
	} else if (st->kind == TV_COMPLEX) {
		mean = jsonv_array();
		bad |= jsonv_push(mean, jsonv_real(st->mean));
		bad |= jsonv_push(mean, jsonv_real(st->mean_im));
	} else {
		mean = jsonv_real(st->mean);
	}
	bad |= jsonv_set(o, "count", jsonv_uint(st->count));
	bad |= jsonv_set(o, "nan", jsonv_uint(st->nan));
	bad |= jsonv_set(o, "inf", jsonv_uint(st->inf));
	bad |= jsonv_set(o, "min", json_extreme(st, &st->min));
	bad |= jsonv_set(o, "max", json_extreme(st, &st->max));
	bad |= jsonv_set(o, "mean", mean);
	bad |= jsonv_set(o, "std", st->finite > 1 ? jsonv_real(st->std)
						   : jsonv_null());
	if (bad) {
		jsonv_free(o);
		return NULL;
	}
	return o;
}

static struct jsonv *
json_dims(const int64_t *d, int n)
{
	struct jsonv *a = jsonv_array();
	int i, bad = 0;

	for (i = 0; i < n; i++)
		bad |= jsonv_push(a, jsonv_int(d[i]));
	if (bad) {
		jsonv_free(a);
		return NULL;
	}
	return a;
}

static int
show_json(struct ckpt *ck, const struct shown *s)
{
	const struct pv_tensor *t = s->t;
	const struct pv_storage *sto = t->storage->u.storage;
	struct jsonv *doc = jsonv_object(), *st = jsonv_object();
	struct jsonv *shared = jsonv_array(), *prev = jsonv_array();
	struct buf out = BUF_INIT;
	char *text;
	size_t i;
	int bad = 0, r;

	bad |= jsonv_set(st, "key", jsonv_cstring(sto->key));
	bad |= jsonv_set(st, "record",
			 jsonv_cstring(ckpt_storage_record(ck, t->storage)));
	bad |= jsonv_set(st, "dtype", jsonv_cstring(dtype_name(sto->dtype)));
	bad |= jsonv_set(st, "numel", jsonv_uint(sto->numel));
	bad |= jsonv_set(st, "bytes", jsonv_uint(sto->nbytes));
	bad |= jsonv_set(st, "location", jsonv_cstring(sto->location));
	for (i = 0; i < s->shared.n; i++)
		bad |= jsonv_push(shared, jsonv_cstring(s->shared.v[i].key));
	for (i = 0; i < s->nvals; i++)
		bad |= jsonv_push(prev, json_tval(&s->vals[i]));

	bad |= jsonv_set(doc, "file", jsonv_cstring(s->file));
	bad |= jsonv_set(doc, "key", jsonv_cstring(s->key));
	bad |= jsonv_set(doc, "path", jsonv_cstring(s->path));
	bad |= jsonv_set(doc, "dtype", jsonv_cstring(dtype_name(t->dtype)));
	bad |= jsonv_set(doc, "shape", json_dims(t->shape, t->ndim));
	bad |= jsonv_set(doc, "stride", json_dims(t->stride, t->ndim));
	bad |= jsonv_set(doc, "storage_offset", jsonv_uint(t->offset));
	bad |= jsonv_set(doc, "numel", jsonv_uint(t->numel));
	bad |= jsonv_set(doc, "bytes", jsonv_uint(tensor_nbytes(t)));
	bad |= jsonv_set(doc, "requires_grad", jsonv_bool(requires_grad(s)));
	bad |= jsonv_set(doc, "storage", st);
	bad |= jsonv_set(doc, "shared_with", shared);
	bad |= jsonv_set(doc, "stats", json_stats(s));
	if (!s->have_stats)
		bad |= jsonv_set(doc, "stats_unavailable",
				 jsonv_cstring(s->stats_why));
	bad |= jsonv_set(doc, "preview", prev);
	text = bad ? NULL : jsonv_dump(doc);
	jsonv_free(doc);
	if (!text)
		return cli_error(s->file, "out of memory");
	r = buf_addstr(&out, text) < 0 || buf_addch(&out, '\n') < 0 ?
	    cli_error(s->file, "out of memory") : cli_write(&out);
	free(text);
	buf_release(&out);
	return r;
}

/* A value as text: compact (%g), exact for integers. */
static int
add_tval(struct buf *b, const struct tval *v)
{
	switch (v->kind) {
	case TV_SINT:
		return buf_addf(b, "%" PRId64, v->i);
	case TV_UINT:
		return buf_addf(b, "%" PRIu64, v->u);
	case TV_BOOL:
		return buf_addstr(b, v->i ? "true" : "false");
	case TV_COMPLEX:
		return buf_addf(b, "(%g%+gj)", v->re, v->im);
	default:
		return buf_addf(b, "%g", v->re);
	}
}

/* Start a "label           value" line. */
static int
row(struct buf *out, const char *label)
{
	return buf_addf(out, "%-16s", label);
}

/* A whole line: label, then printf-formatted value. */
static int __attribute__((format(printf, 3, 4)))
rowf(struct buf *out, const char *label, const char *fmt, ...)
{
	va_list ap;
	int r;

	if (row(out, label) < 0)
		return -1;
	va_start(ap, fmt);
	r = buf_vaddf(out, fmt, ap);
	va_end(ap);
	return r < 0 ? -1 : buf_addch(out, '\n');
}

/* A line holding a key as text output shows keys. */
static int
row_key(struct buf *out, const char *label, const char *key)
{
	if (row(out, label) < 0 || layout_add_key(out, key) < 0)
		return -1;
	return buf_addch(out, '\n');
}

/* A line holding one decoded value. */
static int
row_value(struct buf *out, const char *label, const struct tval *v)
{
	if (row(out, label) < 0 || add_tval(out, v) < 0)
		return -1;
	return buf_addch(out, '\n');
}

static int
row_dims(struct buf *out, const char *label, const int64_t *d, int n)
{
	if (row(out, label) < 0 || layout_add_shape(out, d, n) < 0)
		return -1;
	return buf_addch(out, '\n');
}

static int
text_stats(struct buf *out, const struct shown *s)
{
	const struct tstats *st = &s->st;

	if (!s->have_stats)
		return rowf(out, "statistics", "unavailable: %s", s->stats_why);
	if (st->finite && st->kind != TV_COMPLEX &&
	    (row_value(out, "min", &st->min) < 0 ||
	     row_value(out, "max", &st->max) < 0))
		return -1;
	if (st->finite && st->kind == TV_COMPLEX &&
	    rowf(out, "mean", "(%g%+gj)", st->mean, st->mean_im) < 0)
		return -1;
	if (st->finite && st->kind != TV_COMPLEX &&
	    rowf(out, "mean", "%g", st->mean) < 0)
		return -1;
	if (st->finite > 1 && rowf(out, "std", "%g", st->std) < 0)
		return -1;
	if (rowf(out, "nan", "%" PRIu64, st->nan) < 0 ||
	    rowf(out, "inf", "%" PRIu64, st->inf) < 0)
		return -1;
	if (st->finite < st->count &&
	    rowf(out, "", "(min, max, mean and std cover the %" PRIu64
		 " finite values)", st->finite) < 0)
		return -1;
	return 0;
}

static int
text_values(struct buf *out, const struct shown *s)
{
	size_t i;

	if (row(out, "values") < 0 || buf_addch(out, '[') < 0)
		return -1;
	for (i = 0; i < s->nvals; i++)
		if ((i && buf_addstr(out, ", ") < 0) ||
		    add_tval(out, &s->vals[i]) < 0)
			return -1;
	if (s->nvals < s->t->numel &&
	    buf_addstr(out, s->nvals ? ", ..." : "...") < 0)
		return -1;
	return buf_addstr(out, "]\n");
}

static int
show_text(struct ckpt *ck, const struct shown *s, size_t want)
{
	const struct pv_tensor *t = s->t;
	const struct pv_storage *sto = t->storage->u.storage;
	struct buf out = BUF_INIT;
	size_t i;
	int bad, r;

	bad = row_key(&out, "key", s->key) < 0 ||
	      row_key(&out, "path", s->path) < 0 ||
	      rowf(&out, "dtype", "%s", dtype_name(t->dtype)) < 0 ||
	      row_dims(&out, "shape", t->shape, t->ndim) < 0 ||
	      row_dims(&out, "stride", t->stride, t->ndim) < 0 ||
	      rowf(&out, "storage offset", "%" PRIu64, t->offset) < 0 ||
	      rowf(&out, "elements", "%" PRIu64, t->numel) < 0 ||
	      row(&out, "bytes") < 0 ||
	      buf_addf(&out, "%" PRIu64, tensor_nbytes(t)) < 0 ||
	      cli_add_human(&out, tensor_nbytes(t)) < 0 ||
	      buf_addch(&out, '\n') < 0 ||
	      rowf(&out, "requires_grad", "%s",
		   requires_grad(s) ? "true" : "false") < 0 ||
	      rowf(&out, "storage", "%s (%s, %" PRIu64 " elements, %" PRIu64
		   " bytes, %s)", ckpt_storage_record(ck, t->storage),
		   dtype_name(sto->dtype), sto->numel, sto->nbytes,
		   sto->location) < 0;
	for (i = 0; !bad && i < s->shared.n; i++)
		bad = row_key(&out, i ? "" : "shared with",
			      s->shared.v[i].key) < 0;
	if (!bad)
		bad = text_stats(&out, s) < 0;
	if (!bad && (s->nvals || (want && s->have_stats)))
		bad = text_values(&out, s) < 0;
	r = bad ? cli_error(s->file, "out of memory") : cli_write(&out);
	buf_release(&out);
	return r;
}

static int
parse_count(const char *s, size_t *out)
{
	char *end;
	unsigned long long v;

	errno = 0;
	if (!*s || *s == '-')
		return -1;
	v = strtoull(s, &end, 10);
	if (errno || *end || v > SHOW_MAX_VALUES)
		return -1;
	*out = (size_t)v;
	return 0;
}

int
cmd_show(const struct cli_cmd *cmd, const struct cli_args *args)
{
	struct shown s;
	struct ckpt_root root;
	struct ckerr err = CKERR_INIT;
	struct ckpt *ck;
	size_t want = SHOW_DEFAULT_VALUES;
	ptrdiff_t got;
	int r;

	if (args->set[OPT_VALUES] && parse_count(args->val[OPT_VALUES], &want) < 0)
		return cli_error(cmd->name, "--values wants a count from 0 to %d, "
				 "not '%s'", SHOW_MAX_VALUES, args->val[OPT_VALUES]);
	memset(&s, 0, sizeof(s));
	s.file = args->ops[0];
	s.key = args->ops[1];
	ck = cli_open(s.file, args, &root);
	if (!ck)
		return EXIT_ERROR;
	r = locate(ck, &root, &s);
	if (r == EXIT_OK)
		r = find_shared(ck, &s);
	if (r == EXIT_OK) {
		if (ckpt_tensor_stats(ck, s.t, &s.st, &err) == 0) {
			s.have_stats = true;
		} else if (err.code == CKERR_UNSUPPORTED) {
			snprintf(s.stats_why, sizeof(s.stats_why), "%s", err.msg);
		} else {
			r = cli_fail(s.file, &err);
		}
	}
	if (r == EXIT_OK && s.have_stats && want) {
		size_t n = want < s.t->numel ? want : (size_t)s.t->numel;

		s.vals = calloc(n ? n : 1, sizeof(*s.vals));
		if (!s.vals) {
			r = cli_error(s.file, "out of memory");
		} else {
			got = ckpt_tensor_values(ck, s.t, s.vals, n, &err);
			if (got < 0)
				r = cli_fail(s.file, &err);
			else
				s.nvals = (size_t)got;
		}
	}
	if (r == EXIT_OK)
		r = args->set[OPT_JSON] ? show_json(ck, &s)
					: show_text(ck, &s, want);
	free(s.vals);
	free(s.path);
	ckpt_list_release(&s.shared);
	ckpt_root_release(&root);
	ckpt_free(ck);
	return r;
}
