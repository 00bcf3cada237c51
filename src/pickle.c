/* pickle: graph -> protocol 2, as Python's pickler would write it. */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "pickle.h"
#include "pickleops.h"
#include "torchpkl.h"
#include "banned.h"

/* SETITEMS/APPENDS come in batches, as Python's pickler writes them. */
#define BATCH 1000

struct pk {
	struct buf *out;
	const struct pickle_hooks *hooks;
	struct ckerr *err;
	uint32_t *memo;		/* by node id: memo index + 1, 0 = not yet */
	size_t nodes;
	uint32_t next;		/* next memo index */
	int depth;
};

static int save(struct pk *p, const struct pyval *v);

static int
put(struct pk *p, int c)
{
	return buf_addch(p->out, c) < 0 ? ckerr_nomem(p->err) : 0;
}

static int
put_bytes(struct pk *p, const void *data, size_t len)
{
	return buf_add(p->out, data, len) < 0 ? ckerr_nomem(p->err) : 0;
}

static int
put_le(struct pk *p, uint64_t v, int n)
{
	uint8_t b[8];
	int i;

	for (i = 0; i < n; i++)
		b[i] = (uint8_t)(v >> (8 * i));
	return put_bytes(p, b, (size_t)n);
}

static int
memo_lookup(const struct pk *p, const struct pyval *v)
{
	return v->id < p->nodes && p->memo[v->id] ? (int)p->memo[v->id] : 0;
}

/* BINPUT/LONG_BINPUT the object just written. */
static int
memoize(struct pk *p, const struct pyval *v)
{
	uint32_t idx = p->next++;

	if (v->id >= p->nodes)
		return ckerr_set(p->err, CKERR_FORMAT, "node outside the graph");
	p->memo[v->id] = idx + 1;
	if (idx < 256)
		return put(p, OP_BINPUT) < 0 ? -1 : put(p, (int)idx);
	return put(p, OP_LONG_BINPUT) < 0 ? -1 : put_le(p, idx, 4);
}

static int
get(struct pk *p, uint32_t idx)
{
	if (idx < 256)
		return put(p, OP_BINGET) < 0 ? -1 : put(p, (int)idx);
	return put(p, OP_LONG_BINGET) < 0 ? -1 : put_le(p, idx, 4);
}

static int
save_int(struct pk *p, int64_t i)
{
	uint8_t b[8];
	int n = 1, k;

	if (i >= 0 && i < 256)
		return put(p, OP_BININT1) < 0 ? -1 : put(p, (int)i);
	if (i >= 0 && i < 65536)
		return put(p, OP_BININT2) < 0 ? -1 : put_le(p, (uint64_t)i, 2);
	if (i >= INT32_MIN && i <= INT32_MAX)
		return put(p, OP_BININT) < 0 ? -1 :
		       put_le(p, (uint64_t)(uint32_t)(int32_t)i, 4);
	/* LONG1: the fewest two's-complement bytes that hold i */
	while (n < 8 && (i >> (8 * n - 1)) != 0 && (i >> (8 * n - 1)) != -1)
		n++;
	for (k = 0; k < n; k++)
		b[k] = (uint8_t)((uint64_t)i >> (8 * k));
	if (put(p, OP_LONG1) < 0 || put(p, n) < 0)
		return -1;
	return put_bytes(p, b, (size_t)n);
}

/* A str value written without memoizing it (parts of persistent ids). */
static int
emit_str(struct pk *p, const char *s, size_t len)
{
	if (put(p, OP_BINUNICODE) < 0 || put_le(p, len, 4) < 0)
		return -1;
	return put_bytes(p, s, len);
}

static int
save_str(struct pk *p, const struct pyval *v)
{
	return emit_str(p, v->u.s.data, v->u.s.len) < 0 ? -1 : memoize(p, v);
}

static int
save_global_names(struct pk *p, const char *module, const char *name)
{
	return put(p, OP_GLOBAL) < 0 || put_bytes(p, module, strlen(module)) < 0 ||
	       put(p, '\n') < 0 || put_bytes(p, name, strlen(name)) < 0 ||
	       put(p, '\n') < 0 ? -1 : 0;
}

/* A temporary global that is not a node (not memoized). */
static int
save_builtin(struct pk *p, const char *module, const char *name)
{
	return save_global_names(p, module, name);
}

/* Items of a sequence, each saved. */
static int
save_items(struct pk *p, struct pyval *const *items, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (save(p, items[i]) < 0)
			return -1;
	return 0;
}

/* APPENDS in batches. */
static int
save_appends(struct pk *p, struct pyval *const *items, size_t n)
{
	size_t i, k;

	for (i = 0; i < n; i += k) {
		k = n - i < BATCH ? n - i : BATCH;
		if (k == 1) {
			if (save(p, items[i]) < 0 || put(p, OP_APPEND) < 0)
				return -1;
			continue;
		}
		if (put(p, OP_MARK) < 0 || save_items(p, items + i, k) < 0 ||
		    put(p, OP_APPENDS) < 0)
			return -1;
	}
	return 0;
}

/* SETITEMS in batches. */
static int
save_setitems(struct pk *p, const struct pv_dict *d)
{
	size_t i, k, j;

	for (i = 0; i < d->len; i += k) {
		k = d->len - i < BATCH ? d->len - i : BATCH;
		if (k == 1) {
			if (save(p, d->items[i].key) < 0 ||
			    save(p, d->items[i].value) < 0 || put(p, OP_SETITEM) < 0)
				return -1;
			continue;
		}
		if (put(p, OP_MARK) < 0)
			return -1;
		for (j = i; j < i + k; j++)
			if (save(p, d->items[j].key) < 0 ||
			    save(p, d->items[j].value) < 0)
				return -1;
		if (put(p, OP_SETITEMS) < 0)
			return -1;
	}
	return 0;
}

/*
 * A tuple.  As in Python, if saving the items made the tuple itself
 * memoized (a recursive reference through a list or dict), the items are
 * dropped again and the memoized tuple fetched.
 */
static int
save_tuple(struct pk *p, const struct pyval *v)
{
	static const uint8_t by_len[] = { OP_EMPTY_TUPLE, OP_TUPLE1, OP_TUPLE2,
					  OP_TUPLE3 };
	size_t n = v->u.seq.len, i;
	int m;

	if (n == 0)
		return put(p, OP_EMPTY_TUPLE);
	if (n > 3 && put(p, OP_MARK) < 0)
		return -1;
	if (save_items(p, v->u.seq.items, n) < 0)
		return -1;
	if ((m = memo_lookup(p, v))) {
		if (n > 3)
			return put(p, OP_POP_MARK) < 0 ? -1 : get(p, (uint32_t)m - 1);
		for (i = 0; i < n; i++)
			if (put(p, OP_POP) < 0)
				return -1;
		return get(p, (uint32_t)m - 1);
	}
	if (put(p, n > 3 ? OP_TUPLE : by_len[n]) < 0)
		return -1;
	return memoize(p, v);
}

/*
 * bytes as protocol 2 writes them on Python 3: bytes() when empty, else
 * _codecs.encode(s, 'latin1') with each byte as a code point; not
 * memoized here.
 */
static int
emit_bytes(struct pk *p, const char *data, size_t len)
{
	const uint8_t *s = (const uint8_t *)data;
	struct buf latin1 = BUF_INIT;
	size_t i;
	int r = 0;

	if (len == 0)
		return save_builtin(p, "__builtin__", "bytes") < 0 ||
		       put(p, OP_EMPTY_TUPLE) < 0 ? -1 : put(p, OP_REDUCE);
	for (i = 0; i < len && r == 0; i++)
		r = s[i] < 0x80 ? buf_addch(&latin1, s[i])
				: buf_addch(&latin1, 0xc0 | s[i] >> 6) < 0 ||
				  buf_addch(&latin1, 0x80 | (s[i] & 0x3f)) < 0 ? -1 : 0;
	if (r < 0) {
		buf_release(&latin1);
		return ckerr_nomem(p->err);
	}
	r = save_builtin(p, "_codecs", "encode") < 0 ||
	    emit_str(p, latin1.data, latin1.len) < 0 ||
	    emit_str(p, "latin1", 6) < 0 || put(p, OP_TUPLE2) < 0 ||
	    put(p, OP_REDUCE) < 0 ? -1 : 0;
	buf_release(&latin1);
	return r;
}

static int
save_bytes(struct pk *p, const struct pyval *v)
{
	return emit_bytes(p, v->u.s.data, v->u.s.len) < 0 ? -1 : memoize(p, v);
}

/* set([...]) and frozenset([...]) as protocol 2 writes them */
static int
save_container_call(struct pk *p, const struct pyval *v)
{
	const struct pv_dict *d = v->u.dict;
	size_t i;

	if (save_builtin(p, "__builtin__", v->kind == PV_SET ? "set" :
			 "frozenset") < 0 || put(p, OP_EMPTY_LIST) < 0)
		return -1;
	if (d->len && put(p, OP_MARK) < 0)
		return -1;
	for (i = 0; i < d->len; i++)
		if (save(p, d->items[i].key) < 0)
			return -1;
	if ((d->len && put(p, OP_APPENDS) < 0) || put(p, OP_TUPLE1) < 0 ||
	    put(p, OP_REDUCE) < 0)
		return -1;
	return memoize(p, v);
}

/* bytearray(b): protocol 2 on Python 3 */
static int
save_bytearray(struct pk *p, const struct pyval *v)
{
	if (save_builtin(p, "__builtin__", "bytearray") < 0)
		return -1;
	if (v->u.s.len == 0 ? put(p, OP_EMPTY_TUPLE) < 0 :
	    emit_bytes(p, v->u.s.data, v->u.s.len) < 0 || put(p, OP_TUPLE1) < 0)
		return -1;
	return put(p, OP_REDUCE) < 0 ? -1 : memoize(p, v);
}

/* A dict, or a mapping made by calling a class (OrderedDict). */
static int
save_dict(struct pk *p, const struct pyval *v)
{
	const struct pv_dict *d = v->u.dict;

	if (!d->cls) {
		if (put(p, OP_EMPTY_DICT) < 0 || memoize(p, v) < 0)
			return -1;
	} else {
		if (save(p, d->cls) < 0 ||
		    (d->args ? save(p, d->args) : put(p, OP_EMPTY_TUPLE)) < 0 ||
		    put(p, OP_REDUCE) < 0 || memoize(p, v) < 0)
			return -1;
	}
	if (save_setitems(p, d) < 0)
		return -1;
	if (d->state && (save(p, d->state) < 0 || put(p, OP_BUILD) < 0))
		return -1;
	return 0;
}

static int
save_object(struct pk *p, const struct pyval *v)
{
	const struct pv_object *o = v->u.obj;

	switch (o->how) {
	case PV_BY_NEWOBJ:
		if (save(p, o->callable) < 0 || save(p, o->args) < 0 ||
		    put(p, OP_NEWOBJ) < 0)
			return -1;
		break;
	case PV_BY_NEWOBJ_EX:
		/* protocol 2 has no NEWOBJ_EX: copyreg.__newobj_ex__ does
		 * the same call */
		if (save_builtin(p, "copyreg", "__newobj_ex__") < 0 ||
		    save(p, o->callable) < 0 || save(p, o->args) < 0 ||
		    save(p, o->kwargs) < 0 || put(p, OP_TUPLE3) < 0 ||
		    put(p, OP_REDUCE) < 0)
			return -1;
		break;
	default:	/* REDUCE, and protocol 0/1 INST/OBJ: cls(*args) */
		if (save(p, o->callable) < 0 || save(p, o->args) < 0 ||
		    put(p, OP_REDUCE) < 0)
			return -1;
		break;
	}
	if (memoize(p, v) < 0)
		return -1;
	if (o->listitems &&
	    save_appends(p, o->listitems->u.seq.items, o->listitems->u.seq.len) < 0)
		return -1;
	if (o->items && save_setitems(p, o->items->u.dict) < 0)
		return -1;
	if (o->state && (save(p, o->state) < 0 || put(p, OP_BUILD) < 0))
		return -1;
	return 0;
}

/* A tuple of ints written inline (sizes and strides). */
static int
save_dims(struct pk *p, const int64_t *d, int n)
{
	static const uint8_t by_len[] = { OP_EMPTY_TUPLE, OP_TUPLE1, OP_TUPLE2,
					  OP_TUPLE3 };
	int i;

	if (n > 3 && put(p, OP_MARK) < 0)
		return -1;
	for (i = 0; i < n; i++)
		if (save_int(p, d[i]) < 0)
			return -1;
	return put(p, n > 3 ? OP_TUPLE : by_len[n]);
}

/* The persistent id ('storage', type, key, location, numel). */
static int
save_storage(struct pk *p, const struct pyval *v)
{
	const struct pv_storage *s = v->u.storage;
	const char *key = p->hooks && p->hooks->storage_key ?
			  p->hooks->storage_key(p->hooks->ctx, v, p->err) : s->key;

	if (!key)
		return -1;
	if (put(p, OP_MARK) < 0 || emit_str(p, "storage", 7) < 0 ||
	    save(p, s->type) < 0 || emit_str(p, key, strlen(key)) < 0 ||
	    emit_str(p, s->location, strlen(s->location)) < 0 ||
	    save_int(p, (int64_t)s->numel) < 0 || put(p, OP_TUPLE) < 0)
		return -1;
	return put(p, OP_BINPERSID);
}

/* The rebuild call's argument tuple. */
static int
save_tensor_args(struct pk *p, const struct pv_tensor *t)
{
	if (put(p, OP_MARK) < 0 || save(p, t->storage) < 0 ||
	    save_int(p, (int64_t)t->offset) < 0 ||
	    save_dims(p, t->shape, t->ndim) < 0 ||
	    save_dims(p, t->stride, t->ndim) < 0)
		return -1;
	switch (t->rebuild) {
	case PV_REBUILD_V1:
		break;
	case PV_REBUILD_QTENSOR:
		if (save(p, t->qparams) < 0 || save(p, t->requires_grad) < 0 ||
		    save(p, t->hooks) < 0)
			return -1;
		break;
	case PV_REBUILD_V3:
		if (save(p, t->requires_grad) < 0 || save(p, t->hooks) < 0 ||
		    save(p, t->dtype_arg) < 0 ||
		    (t->metadata && save(p, t->metadata) < 0))
			return -1;
		break;
	default:
		if (save(p, t->requires_grad) < 0 || save(p, t->hooks) < 0 ||
		    (t->metadata && save(p, t->metadata) < 0))
			return -1;
		break;
	}
	return put(p, OP_TUPLE);
}

static int
save_tensor(struct pk *p, const struct pyval *v)
{
	const struct pv_tensor *t = v->u.tensor;

	if (t->wrap_func) {
		/* _rebuild_from_type_v2(func, new_type, args, state) */
		if (save(p, t->wrap_func) < 0 || put(p, OP_MARK) < 0 ||
		    save(p, t->func) < 0 || save(p, t->wrap_type) < 0 ||
		    save_tensor_args(p, t) < 0 || save(p, t->wrap_state) < 0 ||
		    put(p, OP_TUPLE) < 0 || put(p, OP_REDUCE) < 0)
			return -1;
	} else if (save(p, t->func) < 0 || save_tensor_args(p, t) < 0 ||
		   put(p, OP_REDUCE) < 0) {
		return -1;
	}
	return memoize(p, v);
}

static int
save(struct pk *p, const struct pyval *v)
{
	double f;
	uint8_t be[8];
	uint64_t bits;
	int m, r, i;

	if (!v)
		return ckerr_set(p->err, CKERR_FORMAT, "missing value in the graph");
	if ((m = memo_lookup(p, v)))
		return get(p, (uint32_t)m - 1);
	if (++p->depth > PICKLE_MAX_DEPTH) {
		p->depth--;
		return ckerr_set(p->err, CKERR_LIMIT, "objects nested more than "
				 "%d deep cannot be pickled", PICKLE_MAX_DEPTH);
	}
	switch (v->kind) {
	case PV_NONE:
		r = put(p, OP_NONE);
		break;
	case PV_BOOL:
		r = put(p, v->u.b ? OP_NEWTRUE : OP_NEWFALSE);
		break;
	case PV_INT:
		r = save_int(p, v->u.i);
		break;
	case PV_BIGINT:
		r = v->u.s.len < 256 ?
		    (put(p, OP_LONG1) < 0 || put(p, (int)v->u.s.len) < 0 ? -1 : 0) :
		    (put(p, OP_LONG4) < 0 || put_le(p, v->u.s.len, 4) < 0 ? -1 : 0);
		if (r == 0)
			r = put_bytes(p, v->u.s.data, v->u.s.len);
		break;
	case PV_FLOAT:
		f = v->u.f;
		memcpy(&bits, &f, sizeof(bits));
		for (i = 0; i < 8; i++)
			be[i] = (uint8_t)(bits >> (56 - 8 * i));
		r = put(p, OP_BINFLOAT) < 0 ? -1 : put_bytes(p, be, 8);
		break;
	case PV_STR:
		r = save_str(p, v);
		break;
	case PV_BYTES:
		r = save_bytes(p, v);
		break;
	case PV_BYTEARRAY:
		r = save_bytearray(p, v);
		break;
	case PV_TUPLE:
		r = save_tuple(p, v);
		break;
	case PV_LIST:
		r = put(p, OP_EMPTY_LIST) < 0 || memoize(p, v) < 0 ||
		    save_appends(p, v->u.seq.items, v->u.seq.len) < 0 ? -1 : 0;
		break;
	case PV_SET:
	case PV_FROZENSET:
		r = save_container_call(p, v);
		break;
	case PV_DICT:
		r = save_dict(p, v);
		break;
	case PV_GLOBAL:
		r = save_global_names(p, v->u.global.module, v->u.global.name) < 0 ?
		    -1 : memoize(p, v);
		break;
	case PV_OBJECT:
		r = save_object(p, v);
		break;
	case PV_PERSID:
		r = save(p, v->u.persid) < 0 ? -1 : put(p, OP_BINPERSID);
		break;
	case PV_STORAGE:
		r = save_storage(p, v);
		break;
	case PV_TENSOR:
		r = save_tensor(p, v);
		break;
	default:
		r = ckerr_set(p->err, CKERR_FORMAT, "cannot pickle a %s",
			      pyval_kind_name(v->kind));
		break;
	}
	p->depth--;
	return r;
}

int
pickle_write(const struct pyval *top, size_t nodes,
	     const struct pickle_hooks *hooks, struct buf *out,
	     struct ckerr *err)
{
	struct pk p;
	int r;

	memset(&p, 0, sizeof(p));
	p.out = out;
	p.hooks = hooks;
	p.err = err;
	p.nodes = nodes;
	p.memo = calloc(nodes ? nodes : 1, sizeof(*p.memo));
	if (!p.memo)
		return ckerr_nomem(err);
	r = put(&p, OP_PROTO) < 0 || put(&p, 2) < 0 || save(&p, top) < 0 ||
	    put(&p, OP_STOP) < 0 ? -1 : 0;
	free(p.memo);
	return r;
}
