/*
 * torchpkl: what torch puts in a pickle, recognised in the value graph.
 *
 * Supplies the unpickler hooks that turn torch's persistent ids into
 * PV_STORAGE nodes (one node per storage key, so every tensor viewing a
 * storage points at the same node) and torch's rebuild calls into
 * PV_TENSOR nodes: torch._utils._rebuild_tensor, _rebuild_tensor_v2 (with
 * the 2.x metadata argument), _rebuild_tensor_v3, _rebuild_qtensor, and
 * torch._tensor._rebuild_from_type_v2 around any of them.  Parameters
 * (_rebuild_parameter[_with_state]) stay PV_OBJECT nodes wrapping a
 * tensor; torchpkl_tensor() sees through them.  Anything else stays opaque.
 *
 * Every number read from the pickle is checked: shapes and strides are
 * non-negative and at most TORCHPKL_MAX_DIMS long, element counts do not
 * overflow, and each tensor's extent fits the storage size its persistent
 * id declares (the record size is checked against that by the reader).
 */
#ifndef TORCHPKL_H
#define TORCHPKL_H

#include <stddef.h>

#include "ckerr.h"
#include "pyval.h"
#include "tensor.h"
#include "unpickle.h"

#define TORCHPKL_MAX_DIMS TENSOR_MAX_DIMS

struct torchpkl {
	struct pyarena *a;
	struct pyval *by_key;	/* PV_DICT: storage key str -> PV_STORAGE */
	struct pyval **storages;/* in order of first appearance */
	size_t nstorages, alloc;
	int pid_fields;		/* 5 for the zip format, 6 for legacy */
};

/* Prepare a context for one pickle; pid_fields is 5 (zip) or 6 (legacy). */
int torchpkl_init(struct torchpkl *t, struct pyarena *a, int pid_fields,
		  struct ckerr *err);
void torchpkl_release(struct torchpkl *t);

/* Unpickler hooks bound to t (t must outlive the unpickle call). */
struct unpickle_hooks torchpkl_hooks(struct torchpkl *t);

/*
 * The tensor a value stands for: a PV_TENSOR itself, or a Parameter
 * (PV_OBJECT made by torch._utils._rebuild_parameter[_with_state]) holding
 * one.  NULL for anything else.
 */
struct pv_tensor *torchpkl_tensor(const struct pyval *v);

/* The PV_TENSOR node of such a value (NULL when not a tensor). */
struct pyval *torchpkl_tensor_node(const struct pyval *v);

#endif
