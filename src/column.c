/* column: new tensors with one dimension's slices moved, inserted, deleted. */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "column.h"
#include "torchpkl.h"
#include "banned.h"

int64_t
column_new_size(const struct column_op *op, int64_t n)
{
	return op->op == EDIT_INSERT_COLUMN ? n + 1 :
	       op->op == EDIT_DELETE_COLUMN ? n - 1 : n;
}

/* The source index along the dimension for output index j, -1 = filled. */
static int64_t
source_index(const struct column_op *op, int64_t j)
{
	int64_t k;

	switch (op->op) {
	case EDIT_MOVE_COLUMN:
		/* moved = w[FROM]; w' = w without FROM; out = w'[:TO] moved w'[TO:] */
		if (j == op->b)
			return op->a;
		k = j < op->b ? j : j - 1;
		return k < op->a ? k : k + 1;
	case EDIT_INSERT_COLUMN:
		return j == op->a ? -1 : j < op->a ? j : j - 1;
	default:	/* delete */
		return j < op->a ? j : j + 1;
	}
}

static bool
per_channel_axis(const struct pv_tensor *t, int dim)
{
	const struct pyval *qp = t->qparams;

	if (!qp || qp->kind != PV_TUPLE || qp->u.seq.len != 4 ||
	    qp->u.seq.items[3]->kind != PV_INT)
		return false;
	return qp->u.seq.items[3]->u.i == dim;
}

const char *
column_refusal(const struct pv_tensor *t, const struct column_op *op)
{
	if (t->ndim == 0)
		return "is a 0-dimensional tensor: it has no columns";
	if (dtype_per_byte(t->dtype) > 1)
		return "is a packed quantized tensor (values share bytes)";
	if (t->rebuild == PV_REBUILD_QTENSOR && op->op == EDIT_INSERT_COLUMN)
		return "is quantized: a new column would need quantizing";
	if (t->rebuild == PV_REBUILD_QTENSOR && per_channel_axis(t, op->dim))
		return "is quantized per channel along that dimension";
	return NULL;
}

/* A copy of a tensor payload with a new storage, shape and strides. */
static struct pyval *
new_tensor_node(struct ckpt *ck, const struct pv_tensor *t,
		struct pyval *storage, const int64_t *shape,
		struct ckerr *err)
{
	struct pyarena *a = ckpt_arena(ck);
	struct pyval *node = pyval_tensor(a);
	struct pv_tensor *n;
	int64_t stride = 1;
	int d;

	if (!node)
		return ckerr_nomem(err), NULL;
	n = node->u.tensor;
	*n = *t;
	n->storage = storage;
	n->offset = 0;
	n->shape = pyarena_alloc(a, ((size_t)t->ndim + 1) * sizeof(*n->shape));
	n->stride = pyarena_alloc(a, ((size_t)t->ndim + 1) * sizeof(*n->stride));
	if (!n->shape || !n->stride)
		return ckerr_nomem(err), NULL;
	n->numel = 1;
	for (d = t->ndim - 1; d >= 0; d--) {
		n->shape[d] = shape[d];
		n->stride[d] = stride;
		stride *= shape[d] ? shape[d] : 1;
		n->numel *= (uint64_t)shape[d];
	}
	return node;
}

/* A Parameter like old around the new tensor. */
static struct pyval *
new_parameter(struct ckpt *ck, const struct pyval *old, struct pyval *tensor,
	      struct ckerr *err)
{
	struct pyarena *a = ckpt_arena(ck);
	const struct pv_object *o = old->u.obj;
	struct pyval *args = pyval_seq(a, PV_TUPLE), *node;
	size_t i;

	if (!args)
		return ckerr_nomem(err), NULL;
	for (i = 0; i < o->args->u.seq.len; i++)
		if (pyval_seq_append(args, i ? o->args->u.seq.items[i] : tensor,
				     err) < 0)
			return NULL;
	node = pyval_object(a, o->how, o->callable, args);
	if (!node)
		return ckerr_nomem(err), NULL;
	node->u.obj->state = o->state;
	node->u.obj->items = o->items;
	node->u.obj->listitems = o->listitems;
	node->u.obj->kwargs = o->kwargs;
	return node;
}

struct pyval *
column_apply(struct ckpt *ck, const struct pyval *value,
	     const struct column_op *op, struct ckerr *err)
{
	const struct pv_tensor *t = torchpkl_tensor(value);
	const struct pv_storage *s = t->storage->u.storage;
	int64_t shape[TENSOR_MAX_DIMS], idx[TENSOR_MAX_DIMS];
	size_t es = dtype_size(t->dtype), nbytes;
	struct tzip_data src;
	struct pyval *storage, *node;
	uint8_t *out, *o;
	uint64_t numel = 1;
	int d, nd = t->ndim;

	for (d = 0; d < nd; d++) {
		shape[d] = d == op->dim ? column_new_size(op, t->shape[d])
					: t->shape[d];
		numel *= (uint64_t)shape[d];
	}
	nbytes = (size_t)(numel * es);
	if (ckpt_storage_data(ck, t->storage, &src, err) < 0)
		return NULL;
	if (tensor_check_bytes(t, src.len, err) < 0) {
		tzip_data_release(&src);
		return NULL;
	}
	out = malloc(nbytes ? nbytes : 1);
	if (!out) {
		tzip_data_release(&src);
		return ckerr_nomem(err), NULL;
	}
	/* every output element, in row-major order */
	memset(idx, 0, sizeof(idx));
	for (o = out; numel && o < out + nbytes; o += es) {
		int64_t j = source_index(op, idx[op->dim]);

		if (j < 0) {
			if (op->fill)
				memcpy(o, op->fill, es);
			else
				memset(o, 0, es);
		} else {
			uint64_t at = t->offset;

			for (d = 0; d < nd; d++)
				at += (uint64_t)(d == op->dim ? j : idx[d]) *
				      (uint64_t)t->stride[d];
			memcpy(o, src.data + at * es, es);
		}
		for (d = nd - 1; d >= 0; d--) {
			if (++idx[d] < shape[d])
				break;
			idx[d] = 0;
		}
	}
	tzip_data_release(&src);
	storage = ckpt_new_storage(ck, t->dtype,
				   s->untyped || t->rebuild == PV_REBUILD_V3,
				   s->location, out, nbytes, err);
	if (!storage)
		return NULL;
	node = new_tensor_node(ck, t, storage, shape, err);
	if (!node || value->kind == PV_TENSOR)
		return node;
	return new_parameter(ck, value, node, err);
}
