/*
 * pyval: Python objects as data (the value graph).
 *
 * The unpickler builds a graph of struct pyval nodes that represents what
 * Python would have built, without running anything: scalars, strings,
 * containers, references to globals (classes and functions, by name),
 * opaque objects built by REDUCE/NEWOBJ/BUILD, and the torch-specific
 * nodes for storages and tensors.  Every later stage reads or edits this
 * graph; it is the single source of truth of a checkpoint's contents.
 *
 * Ownership: all nodes, strings and arrays belong to one struct pyarena and
 * are freed together by pyarena_free(); nothing is ever freed one by one.
 * Identity: a Python object referenced twice (memo, tied weights) is one
 * node referenced twice, so sharing survives a round trip.  Graphs may hold
 * cycles (a list appended to itself); walkers must not assume a tree.
 * Every node has an id, unique within its arena and stable for its
 * lifetime, usable as an index (bitmaps, UI rows).
 *
 * Functions that allocate return NULL / -1 when memory runs out (or an
 * arena limit is hit) and fill the ckerr when one is passed.
 */
#ifndef PYVAL_H
#define PYVAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ckerr.h"
#include "dtype.h"

enum pyval_kind {
	PV_NONE,
	PV_BOOL,
	PV_INT,		/* fits int64 */
	PV_BIGINT,	/* two's-complement little-endian bytes (pickle LONG) */
	PV_FLOAT,
	PV_STR,		/* bytes as pickled (UTF-8 unless the file says else) */
	PV_BYTES,
	PV_BYTEARRAY,
	PV_TUPLE,
	PV_LIST,
	PV_SET,
	PV_FROZENSET,
	PV_DICT,	/* dict, or a mapping class such as OrderedDict */
	PV_GLOBAL,	/* a class or function by module + name, never imported */
	PV_OBJECT,	/* anything built by calling a global: opaque */
	PV_PERSID,	/* a persistent id nobody interpreted */
	PV_STORAGE,	/* a torch storage (persistent id 'storage') */
	PV_TENSOR,	/* a torch tensor rebuilt from a storage */
	PV__KIND_COUNT
};

/* How a PV_OBJECT was created; the writer re-emits the same way. */
enum pv_how {
	PV_BY_REDUCE,	/* callable(*args) */
	PV_BY_NEWOBJ,	/* cls.__new__(cls, *args) */
	PV_BY_NEWOBJ_EX,/* cls.__new__(cls, *args, **kwargs) */
	PV_BY_INST,	/* protocol 0/1 INST or OBJ */
};

/* How a tensor was rebuilt (the torch._utils function). */
enum pv_rebuild {
	PV_REBUILD_V1,	/* _rebuild_tensor(storage, offset, size, stride) */
	PV_REBUILD_V2,	/* _rebuild_tensor_v2(..., requires_grad, hooks[, metadata]) */
	PV_REBUILD_V3,	/* _rebuild_tensor_v3(..., hooks, dtype[, metadata]) */
	PV_REBUILD_QTENSOR, /* _rebuild_qtensor(..., qparams, requires_grad, hooks) */
};

struct pyval;

struct pv_item {
	struct pyval *key;
	struct pyval *value;
	uint64_t hash;
};

struct pv_dict {
	struct pv_item *items;	/* in insertion order */
	size_t len, alloc;
	uint32_t *index;	/* open addressing; slot holds item index + 1 */
	size_t index_cap;	/* power of two, > 2 * len; 0: not built */
	struct pyval *cls;	/* NULL for dict; else the class REDUCEd */
	struct pyval *args;	/* the REDUCE args (usually an empty tuple) */
	struct pyval *state;	/* BUILD state (OrderedDict: {'_metadata':..}) */
	const uint64_t *seed;	/* the arena's hash key (borrowed) */
};

struct pv_object {
	enum pv_how how;
	struct pyval *callable;	/* REDUCE: the callable; NEWOBJ: the class */
	struct pyval *args;	/* a tuple */
	struct pyval *kwargs;	/* NEWOBJ_EX only, else NULL */
	struct pyval *state;	/* BUILD argument, or NULL */
	struct pyval *items;	/* PV_DICT of SETITEM(S) on the object, or NULL */
	struct pyval *listitems;/* PV_LIST of APPEND(S) on the object, or NULL */
};

struct pv_storage {
	const char *key;	/* persistent-id key: record data/<key> */
	const char *location;	/* "cpu", "cuda:0", ... (bytes are on the host) */
	struct pyval *type;	/* the storage class GLOBAL as read */
	enum dtype dtype;	/* element type; uint8 for UntypedStorage */
	bool untyped;
	uint64_t numel;		/* elements of dtype (bytes when untyped) */
	uint64_t nbytes;	/* numel * element size, overflow-checked */
	size_t index;		/* slot in the checkpoint's storage table */
	struct pyval *pid;	/* the persistent id tuple as read */
};

struct pv_tensor {
	enum pv_rebuild rebuild;
	struct pyval *func;	/* the rebuild GLOBAL as read */
	struct pyval *storage;	/* PV_STORAGE */
	enum dtype dtype;
	uint64_t offset;	/* storage offset, in elements */
	int ndim;
	int64_t *shape;		/* ndim entries, each >= 0 */
	int64_t *stride;	/* ndim entries, each >= 0 */
	uint64_t numel;		/* product of shape, overflow-checked */
	struct pyval *requires_grad;	/* as read; NULL for V1 */
	struct pyval *hooks;		/* backward_hooks as read; NULL for V1 */
	struct pyval *metadata;		/* V2/V3 trailing metadata dict or NULL */
	struct pyval *dtype_arg;	/* V3: the dtype GLOBAL */
	struct pyval *qparams;		/* QTENSOR: quantizer params tuple */
	bool neg, conj;			/* from metadata */
	/* torch._tensor._rebuild_from_type_v2(func, type, args, state) */
	struct pyval *wrap_func;	/* NULL unless a tensor subclass */
	struct pyval *wrap_type;
	struct pyval *wrap_state;
};

struct pyval {
	enum pyval_kind kind;
	uint32_t id;
	union {
		bool b;
		int64_t i;
		double f;
		struct {		/* STR BYTES BYTEARRAY BIGINT */
			const char *data;	/* NUL-terminated copy */
			size_t len;
		} s;
		struct {		/* TUPLE LIST */
			struct pyval **items;
			size_t len, alloc;
		} seq;
		struct pv_dict *dict;	/* DICT; SET and FROZENSET (values NULL) */
		struct {
			const char *module;
			const char *name;
		} global;
		struct pv_object *obj;
		struct pyval *persid;	/* the pid value */
		struct pv_storage *storage;
		struct pv_tensor *tensor;
	} u;
};

/* Limits that keep hostile input from exhausting memory or the stack. */
#define PYARENA_MAX_NODES	((size_t)1 << 30)
#define PYVAL_MAX_KEY_DEPTH	64	/* nesting of tuples used as dict keys */

struct pyarena;

struct pyarena *pyarena_new(struct ckerr *err);
void pyarena_free(struct pyarena *a);

/* Number of nodes made so far; ids are 0 .. count-1. */
size_t pyarena_count(const struct pyarena *a);

/* The node with that id (NULL when out of range). */
struct pyval *pyarena_node(const struct pyarena *a, size_t id);

/* Copy len bytes into the arena, NUL-terminated; NULL on OOM. */
char *pyarena_strdup(struct pyarena *a, const char *s, size_t len);

/*
 * Allocate len zeroed bytes owned by the arena (for payload structs);
 * NULL on OOM.
 */
void *pyarena_alloc(struct pyarena *a, size_t len);

/* Constructors.  Strings are copied. */
struct pyval *pyval_none(struct pyarena *a);
struct pyval *pyval_bool(struct pyarena *a, bool b);
struct pyval *pyval_int(struct pyarena *a, int64_t i);
/*
 * Two's-complement LE bytes, normalised as Python would store the value:
 * redundant sign bytes dropped, and a PV_INT when it fits 64 bits.
 */
struct pyval *pyval_bigint(struct pyarena *a, const uint8_t *le, size_t len);
struct pyval *pyval_float(struct pyarena *a, double f);
struct pyval *pyval_str(struct pyarena *a, const char *s, size_t len);
struct pyval *pyval_bytes(struct pyarena *a, enum pyval_kind kind,
			  const char *s, size_t len);
/* An empty TUPLE or LIST. */
struct pyval *pyval_seq(struct pyarena *a, enum pyval_kind kind);
struct pyval *pyval_dict(struct pyarena *a);
/*
 * An empty SET or FROZENSET: a pv_dict whose keys are the elements (values
 * NULL), so elements are unique and hashable as in Python.
 */
struct pyval *pyval_set(struct pyarena *a, enum pyval_kind kind);
struct pyval *pyval_global(struct pyarena *a, const char *module,
			   size_t mlen, const char *name, size_t nlen);
struct pyval *pyval_object(struct pyarena *a, enum pv_how how,
			   struct pyval *callable, struct pyval *args);
struct pyval *pyval_persid(struct pyarena *a, struct pyval *pid);
/* A node of kind PV_STORAGE / PV_TENSOR with a zeroed payload to fill. */
struct pyval *pyval_storage(struct pyarena *a);
struct pyval *pyval_tensor(struct pyarena *a);

/* Make room for n items in a TUPLE or LIST (no-op when there is room). */
int pyval_seq_reserve(struct pyval *seq, size_t n, struct ckerr *err);

/* Append to a TUPLE or LIST. */
int pyval_seq_append(struct pyval *seq, struct pyval *item, struct ckerr *err);

/* Insert into a TUPLE or LIST at position i (0 .. len). */
int pyval_seq_insert_at(struct pyval *seq, size_t i, struct pyval *item,
			struct ckerr *err);

/* Add to a SET/FROZENSET: a no-op when an equal element is present. */
int pyval_set_add(struct pyval *set, struct pyval *item, struct ckerr *err);

/*
 * Python's d[key] = value: a new key goes last; an existing key keeps its
 * position and its original key object, and gets the new value.  Fails on
 * an unhashable key (list, dict, set) like Python does.
 */
int pyval_dict_set(struct pyval *d, struct pyval *key, struct pyval *value,
		   struct ckerr *err);

/* Look up a key (in a dict or set); NULL when absent (or unhashable). */
struct pyval *pyval_dict_get(const struct pyval *d, const struct pyval *key);
/* Index of a key in the item array of a dict or set, or -1. */
ptrdiff_t pyval_dict_find(const struct pyval *d, const struct pyval *key);
/* Look up a str key. */
struct pyval *pyval_dict_get_str(const struct pyval *d, const char *key,
				 size_t len);
/* Index of a str key in the item array, or -1. */
ptrdiff_t pyval_dict_find_str(const struct pyval *d, const char *key,
			      size_t len);

/*
 * Batch edits of a dict's items.  They keep the item order and leave the
 * hash index stale: call pyval_dict_reindex() after the batch (lookups
 * are linear until then).  The caller keeps keys unique.
 */
int pyval_dict_rekey(struct pyval *d, size_t i, struct pyval *key,
		     struct ckerr *err);
/* Remove the items whose drop[i] is true. */
void pyval_dict_remove(struct pyval *d, const bool *drop);
/* Insert an item at position i (0 .. len). */
int pyval_dict_insert_at(struct pyval *d, size_t i, struct pyval *key,
			 struct pyval *value, struct ckerr *err);
int pyval_dict_reindex(struct pyval *d, struct ckerr *err);

/* True for a str node equal to the NUL-terminated s. */
bool pyval_is_str(const struct pyval *v, const char *s);
/* True for a GLOBAL named module.name (after Python 2 name mapping). */
bool pyval_is_global(const struct pyval *v, const char *module,
		     const char *name);

/* A short name for messages: "int", "dict", "tensor", ... */
const char *pyval_kind_name(enum pyval_kind kind);

/*
 * Hash (keyed SipHash, so hostile keys cannot be made to collide) and
 * equality of dict keys, with Python's rules: 1 == 1.0 == True; tuples by
 * value; objects by identity.  pyval_hash fails on unhashable values.
 */
int pyval_hash(const struct pyval *v, const uint64_t key[2], uint64_t *out);
bool pyval_key_equal(const struct pyval *a, const struct pyval *b);

#endif
