/*
 * optim: optimizer states in a checkpoint, and which state-dict key each
 * of their parameters is.
 *
 * An optimizer's state dict ({'state': {id: {...}}, 'param_groups':
 * [{'params': [ids], ...}]}) names parameters by number, not by key.
 * Parameters are the state dict's floating-point tensors in order (the
 * buffers are skipped), so the correspondence is an order-preserving
 * assignment of parameters to floating-point keys in which every
 * parameter with state matches a key of the shape of its state tensors.
 * A key's parameter is trusted only when every such assignment gives it
 * the same parameter (BatchNorm's running_mean and its weight may trade
 * places between assignments; a [out, in] weight of its own shape never
 * does).
 */
#ifndef OPTIM_H
#define OPTIM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ckerr.h"
#include "ckpt.h"

/* Above this (parameters x candidate keys) matching is not attempted. */
#define OPTIM_MAX_WORK ((size_t)1 << 26)
/* Optimizers looked at (Lightning may hold several). */
#define OPTIM_MAX 8

/* param_at values that are not a parameter index */
#define OPTIM_BUFFER (-1)	/* a parameter in no assignment */
#define OPTIM_UNKNOWN (-2)	/* cannot tell */

struct optim {
	char *path;		/* "optimizer_states.0", "optimizer", ... */
	struct pyval *state;	/* the 'state' dict */
	size_t nparams;
	int64_t *ids;		/* parameter ids, in group order */
	/*
	 * By position in the state dict: the parameter index every
	 * assignment gives that key, OPTIM_BUFFER, or OPTIM_UNKNOWN.
	 */
	int64_t *param_at;
	size_t nkeys;
};

struct optim_set {
	struct optim v[OPTIM_MAX];
	size_t n;
};

/*
 * Find the optimizer states at the top of the checkpoint (the list
 * optimizer_states, and the entries optimizer, optimizer_state_dict,
 * optim) and match their parameters to the keys of state_dict.
 */
int optim_find(struct ckpt *ck, const struct pyval *state_dict,
	       struct optim_set *out, struct ckerr *err);
void optim_release(struct optim_set *s);

/* The per-parameter state dict of parameter index p, or NULL. */
struct pyval *optim_param_state(const struct optim *o, int64_t p);

#endif
