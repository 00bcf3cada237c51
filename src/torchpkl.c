/* torchpkl: torch storages and tensors recognised while unpickling. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "torchpkl.h"
#include "grow.h"
#include "banned.h"

int
torchpkl_init(struct torchpkl *t, struct pyarena *a, int pid_fields,
	      struct ckerr *err)
{
	memset(t, 0, sizeof(*t));
	t->a = a;
	t->pid_fields = pid_fields;
	t->by_key = pyval_dict(a);
	if (!t->by_key)
		return ckerr_nomem(err);
	return 0;
}

void
torchpkl_release(struct torchpkl *t)
{
	free(t->storages);
	t->storages = NULL;
	t->nstorages = t->alloc = 0;
}

static int
as_u64(const struct pyval *v, uint64_t *out)
{
	if (!v || v->kind != PV_INT || v->u.i < 0)
		return -1;
	*out = (uint64_t)v->u.i;
	return 0;
}

static int
mul_u64(uint64_t a, uint64_t b, uint64_t *out)
{
	if (a && b > UINT64_MAX / a)
		return -1;
	*out = a * b;
	return 0;
}

/* Printable name of a GLOBAL for messages. */
static void
global_name(const struct pyval *g, char *out, size_t n)
{
	if (g && g->kind == PV_GLOBAL)
		snprintf(out, n, "%s.%s", g->u.global.module, g->u.global.name);
	else
		snprintf(out, n, "a %s", g ? pyval_kind_name(g->kind) : "?");
}

static struct pyval *
load_storage(void *ctx, struct pyarena *a, struct pyval *pid,
	     struct ckerr *err)
{
	struct torchpkl *t = ctx;
	struct pyval **f, *type, *node, *key;
	struct pv_storage *s;
	const char *cls;
	uint64_t numel;
	char name[256];

	if (pid->kind != PV_TUPLE || pid->u.seq.len < 1 ||
	    !pyval_is_str(pid->u.seq.items[0], "storage")) {
		ckerr_set(err, CKERR_UNSUPPORTED,
			  "unsupported persistent id (not a storage)");
		return NULL;
	}
	if (pid->u.seq.len != (size_t)t->pid_fields) {
		ckerr_set(err, CKERR_FORMAT,
			  "storage persistent id has %zu fields, expected %d",
			  pid->u.seq.len, t->pid_fields);
		return NULL;
	}
	f = pid->u.seq.items;
	type = f[1];
	key = f[2];
	if (type->kind != PV_GLOBAL || !strstr(type->u.global.name, "Storage")) {
		global_name(type, name, sizeof(name));
		ckerr_set(err, CKERR_FORMAT, "storage type is %s", name);
		return NULL;
	}
	if (key->kind != PV_STR || f[3]->kind != PV_STR ||
	    as_u64(f[4], &numel) < 0) {
		ckerr_set(err, CKERR_FORMAT, "malformed storage persistent id");
		return NULL;
	}
	/* the key names a record: a NUL would make two keys one record */
	if (memchr(key->u.s.data, '\0', key->u.s.len) ||
	    memchr(f[3]->u.s.data, '\0', f[3]->u.s.len)) {
		ckerr_set(err, CKERR_FORMAT, "storage key or location holds a "
			  "NUL byte");
		return NULL;
	}
	node = pyval_dict_get(t->by_key, key);
	if (node)	/* torch caches by key: the first type wins */
		return node;

	node = pyval_storage(a);
	if (!node) {
		ckerr_nomem(err);
		return NULL;
	}
	s = node->u.storage;
	cls = type->u.global.name;
	/* torch maps any class whose name contains "Storage" by name alone */
	if (!strcmp(cls, "UntypedStorage") || !strcmp(cls, "_UntypedStorage")) {
		s->dtype = DT_UINT8;
		s->untyped = true;
	} else {
		s->dtype = dtype_from_storage_class(cls);
		if (s->dtype == DT_INVALID) {
			global_name(type, name, sizeof(name));
			ckerr_set(err, CKERR_UNSUPPORTED,
				  "unknown storage type '%s'", name);
			return NULL;
		}
	}
	s->key = key->u.s.data;
	s->location = f[3]->u.s.data;
	s->type = type;
	s->numel = numel;
	s->pid = pid;
	if (mul_u64(numel, dtype_size(s->dtype), &s->nbytes) < 0) {
		ckerr_set(err, CKERR_FORMAT, "storage '%s' size overflows",
			  s->key);
		return NULL;
	}
	if (t->nstorages == t->alloc) {
		struct pyval **p = grow_array(t->storages, &t->alloc,
					      t->nstorages + 1, sizeof(*p), 16);

		if (!p) {
			ckerr_nomem(err);
			return NULL;
		}
		t->storages = p;
	}
	s->index = t->nstorages;
	t->storages[t->nstorages++] = node;
	if (pyval_dict_set(t->by_key, key, node, err) < 0)
		return NULL;
	return node;
}

/* Read a tuple of non-negative ints (a size or a stride). */
static int
int_tuple(const struct pyval *v, int64_t **out, int *n, struct pyarena *a,
	  const char *what, struct ckerr *err)
{
	size_t i;

	if (!v || (v->kind != PV_TUPLE && v->kind != PV_LIST))
		return ckerr_set(err, CKERR_FORMAT, "tensor %s is not a tuple",
				 what);
	if (v->u.seq.len > TORCHPKL_MAX_DIMS)
		return ckerr_set(err, CKERR_LIMIT,
				 "tensor has %zu dimensions (limit %d)",
				 v->u.seq.len, TORCHPKL_MAX_DIMS);
	*n = (int)v->u.seq.len;
	*out = pyarena_alloc(a, (v->u.seq.len + 1) * sizeof(**out));
	if (!*out)
		return ckerr_nomem(err);
	for (i = 0; i < v->u.seq.len; i++) {
		const struct pyval *x = v->u.seq.items[i];

		if (x->kind != PV_INT || x->u.i < 0)
			return ckerr_set(err, CKERR_FORMAT,
					 "tensor %s holds a negative or "
					 "non-integer entry", what);
		(*out)[i] = x->u.i;
	}
	return 0;
}

/*
 * Check that the tensor's elements lie inside its storage, whose capacity
 * in tensor elements is cap.
 */
static int
check_extent(const struct pv_tensor *t, uint64_t cap, struct ckerr *err)
{
	uint64_t last = t->offset, step;
	int i;

	if (t->numel == 0) {
		if (t->offset <= cap)
			return 0;
		goto past;
	}
	for (i = 0; i < t->ndim; i++) {
		if (mul_u64((uint64_t)(t->shape[i] - 1), (uint64_t)t->stride[i],
			    &step) < 0 || last > UINT64_MAX - step)
			goto past;
		last += step;
	}
	if (last < cap)
		return 0;
past:
	return ckerr_set(err, CKERR_FORMAT,
			 "tensor view (offset %llu) extends past its storage "
			 "'%s' of %llu elements",
			 (unsigned long long)t->offset,
			 t->storage->u.storage->key, (unsigned long long)cap);
}

static struct pyval *
metadata_flag(const struct pyval *md, const char *name)
{
	return md && md->kind == PV_DICT ?
	       pyval_dict_get_str(md, name, strlen(name)) : NULL;
}

static int
is_true(const struct pyval *v)
{
	return v && v->kind == PV_BOOL && v->u.b;
}

enum rebuild_kind { RB_NONE = -1 };

/* Which torch._utils rebuild function a global is, or RB_NONE. */
static int
rebuild_kind(const struct pyval *g)
{
	if (pyval_is_global(g, "torch._utils", "_rebuild_tensor_v2"))
		return PV_REBUILD_V2;
	if (pyval_is_global(g, "torch._utils", "_rebuild_tensor_v3"))
		return PV_REBUILD_V3;
	if (pyval_is_global(g, "torch._utils", "_rebuild_tensor"))
		return PV_REBUILD_V1;
	if (pyval_is_global(g, "torch._utils", "_rebuild_qtensor"))
		return PV_REBUILD_QTENSOR;
	return RB_NONE;
}

/* Build a PV_TENSOR from the arguments of a rebuild function. */
static struct pyval *
make_tensor(struct pyarena *a, int kind, struct pyval *func,
	    struct pyval *args, struct ckerr *err)
{
	static const struct {
		size_t min, max;
	} nargs[] = {
		[PV_REBUILD_V1] = { 4, 4 },
		[PV_REBUILD_V2] = { 6, 7 },
		[PV_REBUILD_V3] = { 7, 8 },
		[PV_REBUILD_QTENSOR] = { 7, 7 },
	};
	struct pyval **av = args->u.seq.items, *node;
	struct pv_tensor *t;
	struct pv_storage *s;
	size_t n = args->u.seq.len;
	uint64_t cap, nbytes;
	int nstride, i;
	char fname[256];

	global_name(func, fname, sizeof(fname));
	if (n < nargs[kind].min || n > nargs[kind].max) {
		ckerr_set(err, CKERR_FORMAT, "%s takes %zu to %zu arguments, "
			  "got %zu", fname, nargs[kind].min, nargs[kind].max, n);
		return NULL;
	}
	if (av[0]->kind != PV_STORAGE) {
		ckerr_set(err, CKERR_FORMAT, "%s: first argument is a %s, "
			  "not a storage", fname, pyval_kind_name(av[0]->kind));
		return NULL;
	}
	node = pyval_tensor(a);
	if (!node) {
		ckerr_nomem(err);
		return NULL;
	}
	t = node->u.tensor;
	t->rebuild = (enum pv_rebuild)kind;
	t->func = func;
	t->storage = av[0];
	s = av[0]->u.storage;
	if (as_u64(av[1], &t->offset) < 0) {
		ckerr_set(err, CKERR_FORMAT, "%s: bad storage offset", fname);
		return NULL;
	}
	if (int_tuple(av[2], &t->shape, &t->ndim, a, "size", err) < 0 ||
	    int_tuple(av[3], &t->stride, &nstride, a, "stride", err) < 0)
		return NULL;
	if (nstride != t->ndim) {
		ckerr_set(err, CKERR_FORMAT, "%s: size has %d dimensions, "
			  "stride %d", fname, t->ndim, nstride);
		return NULL;
	}
	t->numel = 1;
	for (i = 0; i < t->ndim; i++)
		if (mul_u64(t->numel, (uint64_t)t->shape[i], &t->numel) < 0 ||
		    t->numel > (uint64_t)INT64_MAX) {
			ckerr_set(err, CKERR_FORMAT, "tensor size overflows");
			return NULL;
		}

	t->dtype = s->dtype;
	switch (kind) {
	case PV_REBUILD_V2:
		t->requires_grad = av[4];
		t->hooks = av[5];
		t->metadata = n > 6 ? av[6] : NULL;
		break;
	case PV_REBUILD_V3:
		t->requires_grad = av[4];
		t->hooks = av[5];
		t->dtype_arg = av[6];
		t->metadata = n > 7 ? av[7] : NULL;
		if (av[6]->kind != PV_GLOBAL ||
		    strcmp(av[6]->u.global.module, "torch") ||
		    (t->dtype = dtype_from_name(av[6]->u.global.name,
						strlen(av[6]->u.global.name))) ==
		    DT_INVALID) {
			global_name(av[6], fname, sizeof(fname));
			ckerr_set(err, CKERR_UNSUPPORTED,
				  "unsupported tensor dtype '%s'", fname);
			return NULL;
		}
		break;
	case PV_REBUILD_QTENSOR:
		t->qparams = av[4];
		t->requires_grad = av[5];
		t->hooks = av[6];
		break;
	default:
		break;
	}
	/* torch computes nbytes in int64: larger tensors cannot exist */
	if (mul_u64(t->numel, dtype_size(t->dtype), &nbytes) < 0 ||
	    nbytes > (uint64_t)INT64_MAX) {
		ckerr_set(err, CKERR_FORMAT, "tensor of %llu elements of %s is "
			  "larger than 2^63 bytes",
			  (unsigned long long)t->numel, dtype_name(t->dtype));
		return NULL;
	}
	t->neg = is_true(metadata_flag(t->metadata, "neg"));
	t->conj = is_true(metadata_flag(t->metadata, "conj"));

	/* Capacity of the storage in elements of the tensor's dtype. */
	if (s->untyped || s->dtype != t->dtype) {
		if (!s->untyped && kind != PV_REBUILD_V3) {
			ckerr_set(err, CKERR_FORMAT, "tensor dtype %s does not "
				  "match its storage '%s' (%s)",
				  dtype_name(t->dtype), s->key,
				  dtype_name(s->dtype));
			return NULL;
		}
		cap = s->nbytes / dtype_size(t->dtype);
	} else {
		cap = s->numel;
	}
	if (mul_u64(cap, dtype_per_byte(t->dtype), &cap) < 0)
		cap = UINT64_MAX;
	if (check_extent(t, cap, err) < 0)
		return NULL;
	return node;
}

static int
reduce_hook(void *ctx, struct pyarena *a, enum pv_how how,
	    struct pyval *callable, struct pyval *args, struct pyval **out,
	    struct ckerr *err)
{
	struct pyval **av = args->u.seq.items, *node;
	int kind;

	(void)ctx;
	if (how != PV_BY_REDUCE)
		return 0;
	kind = rebuild_kind(callable);
	if (kind != RB_NONE) {
		*out = make_tensor(a, kind, callable, args, err);
		return *out ? 1 : -1;
	}
	/* _rebuild_from_type_v2(func, new_type, args, state) */
	if (pyval_is_global(callable, "torch._tensor", "_rebuild_from_type_v2") &&
	    args->u.seq.len == 4 && av[2]->kind == PV_TUPLE &&
	    (kind = rebuild_kind(av[0])) != RB_NONE) {
		node = make_tensor(a, kind, av[0], av[2], err);
		if (!node)
			return -1;
		node->u.tensor->wrap_func = callable;
		node->u.tensor->wrap_type = av[1];
		node->u.tensor->wrap_state = av[3];
		*out = node;
		return 1;
	}
	return 0;
}

struct unpickle_hooks
torchpkl_hooks(struct torchpkl *t)
{
	struct unpickle_hooks h = { t, load_storage, reduce_hook };

	return h;
}

struct pyval *
torchpkl_tensor_node(const struct pyval *v)
{
	struct pyval *const *av;

	if (!v)
		return NULL;
	if (v->kind == PV_TENSOR)
		return (struct pyval *)v;
	if (v->kind != PV_OBJECT || v->u.obj->how != PV_BY_REDUCE ||
	    v->u.obj->args->u.seq.len < 1)
		return NULL;
	if (!pyval_is_global(v->u.obj->callable, "torch._utils",
			     "_rebuild_parameter") &&
	    !pyval_is_global(v->u.obj->callable, "torch._utils",
			     "_rebuild_parameter_with_state"))
		return NULL;
	av = v->u.obj->args->u.seq.items;
	return av[0]->kind == PV_TENSOR ? av[0] : NULL;
}

struct pv_tensor *
torchpkl_tensor(const struct pyval *v)
{
	struct pyval *n = torchpkl_tensor_node(v);

	return n ? n->u.tensor : NULL;
}
