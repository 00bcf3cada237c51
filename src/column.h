/*
 * column: the tensor side of move-column, insert-column, delete-column.
 *
 * A column edit maps every index along one dimension of a tensor to a
 * source index (or to a new, filled slice).  The result is always a new
 * contiguous tensor with a storage of its own (made with
 * ckpt_new_storage), whatever the strides and storage offset of the
 * input; element bytes are copied as they are, so every dtype works the
 * same (bfloat16, complex, bool: a slice move is a byte move).  The input
 * tensor and everything sharing its storage are left alone.
 */
#ifndef COLUMN_H
#define COLUMN_H

#include <stdint.h>

#include "ckerr.h"
#include "ckpt.h"
#include "script.h"

struct column_op {
	enum edit_op op;	/* EDIT_MOVE_COLUMN, _INSERT_COLUMN, _DELETE_COLUMN */
	int dim;		/* normalised: 0 .. ndim-1 */
	int64_t a, b;		/* FROM TO / AT / INDEX */
	const uint8_t *fill;	/* insert: one element's bytes; NULL = zeros */
};

/* The size along op->dim after the edit, given the size n before. */
int64_t column_new_size(const struct column_op *op, int64_t n);

/*
 * Why the tensor cannot take this edit (NULL when it can): 0-dim,
 * packed quantized types, insert into quantized tensors, edits along the
 * channel axis of per-channel quantized tensors.
 */
const char *column_refusal(const struct pv_tensor *t, const struct column_op *op);

/*
 * A new value for value (a tensor or a Parameter) with the edit applied:
 * a new tensor node (a new Parameter around it for a Parameter), over a
 * new storage.  Indices must be valid (checked by the caller).
 */
struct pyval *column_apply(struct ckpt *ck, const struct pyval *value,
			   const struct column_op *op, struct ckerr *err);

#endif
