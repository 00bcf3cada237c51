/*
 * ckpt: an open checkpoint.
 *
 * ckpt_open() sniffs the format, parses the container and the pickle into
 * a value graph (never executing it), and checks every storage against its
 * record: the record exists and holds exactly the bytes the storage
 * declares, and every tensor's view lies inside its storage.  Opening reads
 * only the pickle and the zip directory, never tensor bytes, so it costs
 * what the pickle costs whatever the checkpoint's size.
 *
 * A struct ckpt owns everything it allocated (graph, mappings, file
 * descriptor) and releases it all in ckpt_free(); there is no global state.
 *
 * Addressing: a "path" is a dotted path from the top-level object, whose
 * components are dict keys (str as is, ints in decimal), list/tuple
 * indices and object attribute names.  Keys that contain dots are matched
 * whole (the longest key that fits wins).  The "state dict" is chosen as
 * ckpt_find_root() documents (cli-contract.md, "Which tensors a command
 * sees").
 */
#ifndef CKPT_H
#define CKPT_H

#include <stdbool.h>
#include <stddef.h>

#include "buf.h"
#include "ckerr.h"
#include "pyval.h"
#include "tensor.h"
#include "torchzip.h"

enum ckpt_format {
	CKPT_TORCH_ZIP,
	CKPT_TORCH_LEGACY,
	CKPT_SAFETENSORS,
};

/* "torch-zip", "torch-legacy", "safetensors" */
const char *ckpt_format_name(enum ckpt_format f);

/* Walks deeper than this are refused (the graph may be hostile). */
#define CKPT_MAX_DEPTH 256

struct ckpt;

/* Open a checkpoint file.  NULL with err set on any problem. */
struct ckpt *ckpt_open(const char *path, struct ckerr *err);

/* Open a checkpoint held in memory (borrowed: must outlive the ckpt). */
struct ckpt *ckpt_open_memory(const void *data, size_t len,
			      struct ckerr *err);

void ckpt_free(struct ckpt *ck);

enum ckpt_format ckpt_format(const struct ckpt *ck);

/* The unpickled top-level object. */
struct pyval *ckpt_top(const struct ckpt *ck);

/* The arena of the graph (edits add nodes to it). */
struct pyarena *ckpt_arena(const struct ckpt *ck);

/* The container and the byte source behind it (for the writer). */
struct tzip *ckpt_zip(const struct ckpt *ck);
struct bsrc *ckpt_bsrc(const struct ckpt *ck);

/*
 * Number of storages: those the pickle declared, then those edits made
 * (their indexes are 0 .. n-1).
 */
size_t ckpt_storage_count(const struct ckpt *ck);

/* The record holding a storage's bytes, NULL for a storage made by an edit. */
const struct tzip_entry *ckpt_storage_entry(const struct ckpt *ck,
					    const struct pyval *storage);

/*
 * A new storage holding nbytes bytes (takes ownership of bytes, which must
 * come from malloc; freed with the checkpoint, also on error) of dtype:
 * typed like torch's legacy <X>Storage classes when the dtype has one and
 * untyped is false, else an UntypedStorage.  location is copied.
 */
struct pyval *ckpt_new_storage(struct ckpt *ck, enum dtype dt, bool untyped,
			       const char *location, uint8_t *bytes,
			       size_t nbytes, struct ckerr *err);

/*
 * A storage's bytes (a mapping of its record, an inflated copy, or the
 * memory of a storage made by an edit); release with tzip_data_release.
 */
int ckpt_storage_data(struct ckpt *ck, const struct pyval *storage,
		      struct tzip_data *out, struct ckerr *err);

/*
 * Has the graph been changed since it was read?  Edits mark it; the
 * writer then pickles the graph instead of copying the pickle's bytes.
 */
bool ckpt_changed(const struct ckpt *ck);
void ckpt_mark_changed(struct ckpt *ck);

/* The record holding a storage's bytes ("data/3"), relative to the folder. */
const char *ckpt_storage_record(const struct ckpt *ck,
				const struct pyval *storage);

/* Where the state dict is. */
struct ckpt_root {
	struct pyval *node;	/* the mapping (borrowed from the graph) */
	char *path;		/* dotted path, "" for the top level; owned */
};

/*
 * Find the state dict: with override (a dotted path, "" for the top) use
 * that; otherwise a Lightning checkpoint's "state_dict", else the top level
 * if it maps strings to tensors, else the first of state_dict,
 * model_state_dict, model, module, net, ema that maps strings to tensors,
 * else the top level.  An override must name a dict, list, tuple or object.
 */
int ckpt_find_root(struct ckpt *ck, const char *override,
		   struct ckpt_root *out, struct ckerr *err);
void ckpt_root_release(struct ckpt_root *r);

/* True for a non-empty dict of str keys whose values are all tensors
 * (values of "_extra_state" keys excepted). */
bool ckpt_is_state_dict(const struct pyval *v);

/* Append the path component naming a dict key (str as is, int decimal). */
int ckpt_key_name(const struct pyval *key, struct buf *out);

/* A child of a container as paths name it, and where it is held. */
struct ckpt_child {
	const char *name;	/* its path component (valid during the call) */
	size_t len;
	struct pyval *value;
	const struct pyval *holder;	/* the dict, list or tuple holding it
					 * (an object's attribute dict) */
	size_t index;		/* its position in holder */
};

/*
 * Call fn for each child of node (dict items, list and tuple elements,
 * object attributes) until fn returns non-zero; -1 from fn stops with -1.
 */
int ckpt_children(const struct pyval *node,
		  int (*fn)(void *ctx, const struct ckpt_child *c), void *ctx,
		  struct ckerr *err);

/* The direct child of node whose path component is exactly name, or NULL. */
struct pyval *ckpt_child(const struct pyval *node, const char *name);

/*
 * Resolve a dotted path below from (NULL: the top level).  NULL with a
 * CKERR_NOTFOUND error naming the first component that does not exist.
 */
struct pyval *ckpt_resolve(const struct ckpt *ck, struct pyval *from,
			   const char *path, struct ckerr *err);

/* One listed tensor. */
struct ckpt_entry {
	char *key;		/* key in the root, or full path; owned */
	struct pyval *value;	/* the value at that key (maybe a Parameter) */
	struct pyval *tensor;	/* the PV_TENSOR it stands for */
};

struct ckpt_list {
	struct ckpt_entry *v;
	size_t n, alloc;
};

#define CKPT_LIST_INIT { NULL, 0, 0 }

/* The root's direct entries that are tensors, in order, keyed by key. */
int ckpt_list_root(const struct ckpt *ck, const struct ckpt_root *root,
		   struct ckpt_list *out, struct ckerr *err);

/*
 * Every tensor reachable from the top level, keyed by full dotted path, in
 * walk order (dict order, depth first).  A container reached a second time
 * is not walked again; a tensor is listed at every path that reaches it.
 */
int ckpt_list_all(const struct ckpt *ck, struct ckpt_list *out,
		  struct ckerr *err);

void ckpt_list_release(struct ckpt_list *l);

/* Statistics of a tensor, reading its storage bytes. */
int ckpt_tensor_stats(struct ckpt *ck, const struct pv_tensor *t,
		      struct tstats *out, struct ckerr *err);

/* The first n values of a tensor; returns how many, or -1. */
ptrdiff_t ckpt_tensor_values(struct ckpt *ck, const struct pv_tensor *t,
			     struct tval *out, size_t n, struct ckerr *err);

#endif
