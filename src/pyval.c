/* pyval: the arena, node constructors, and dict/sequence operations. */
#include "config.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "mix.h"
#include "pyval.h"
#include "grow.h"
#include "banned.h"

#define NODE_CHUNK 4096		/* nodes per chunk */
#define BUMP_CHUNK 65536	/* bytes per bump block */

struct bump {
	struct bump *next;
	size_t used, size;
	max_align_t data[];
};

struct pyarena {
	struct pyval **chunks;	/* NODE_CHUNK nodes each */
	size_t nchunks, chunks_alloc;
	size_t count;		/* nodes handed out */
	struct bump *bump;	/* newest first */
	uint64_t seed[2];	/* SipHash key: flooding resistance */
	struct pyval *none, *true_, *false_;
};

struct pyarena *
pyarena_new(struct ckerr *err)
{
	struct pyarena *a = calloc(1, sizeof(*a));

	if (!a) {
		ckerr_nomem(err);
		return NULL;
	}
	if (getrandom(a->seed, sizeof(a->seed), GRND_NONBLOCK) !=
	    (ssize_t)sizeof(a->seed)) {
		/* Only resistance to hash flooding depends on this. */
		a->seed[0] = (uint64_t)(uintptr_t)a ^ 0x736f6d6570736575ULL;
		a->seed[1] = (uint64_t)(uintptr_t)&a ^ 0x646f72616e646f6dULL;
	}
	return a;
}

/* Free what a node owns outside the bump blocks. */
static void
node_release(struct pyval *v)
{
	switch (v->kind) {
	case PV_TUPLE:
	case PV_LIST:
		free(v->u.seq.items);
		break;
	case PV_DICT:
	case PV_SET:
	case PV_FROZENSET:
		if (v->u.dict) {
			free(v->u.dict->items);
			free(v->u.dict->index);
		}
		break;
	default:
		break;
	}
}

void
pyarena_free(struct pyarena *a)
{
	size_t i;

	if (!a)
		return;
	for (i = 0; i < a->count; i++)
		node_release(&a->chunks[i / NODE_CHUNK][i % NODE_CHUNK]);
	for (i = 0; i < a->nchunks; i++)
		free(a->chunks[i]);
	free(a->chunks);
	while (a->bump) {
		struct bump *next = a->bump->next;

		free(a->bump);
		a->bump = next;
	}
	free(a);
}

size_t
pyarena_count(const struct pyarena *a)
{
	return a->count;
}

struct pyval *
pyarena_node(const struct pyarena *a, size_t id)
{
	if (id >= a->count)
		return NULL;
	return &a->chunks[id / NODE_CHUNK][id % NODE_CHUNK];
}

void *
pyarena_alloc(struct pyarena *a, size_t len)
{
	const size_t align = sizeof(max_align_t);
	struct bump *b = a->bump;
	size_t need = (len + align - 1) / align * align;
	void *p;

	if (len > SIZE_MAX / 2)
		return NULL;
	if (!b || b->size - b->used < need) {
		size_t size = need > BUMP_CHUNK / 4 ? need : BUMP_CHUNK;

		b = malloc(sizeof(*b) + size);
		if (!b)
			return NULL;
		b->used = 0;
		b->size = size;
		if (size == need && a->bump) {
			/* A big block: keep the current one for small ones. */
			b->next = a->bump->next;
			a->bump->next = b;
		} else {
			b->next = a->bump;
			a->bump = b;
		}
	}
	p = (char *)b->data + b->used;
	b->used += need;
	memset(p, 0, len);
	return p;
}

char *
pyarena_strdup(struct pyarena *a, const char *s, size_t len)
{
	char *p;

	if (len == SIZE_MAX)
		return NULL;
	p = pyarena_alloc(a, len + 1);
	if (!p)
		return NULL;
	if (len)
		memcpy(p, s, len);
	p[len] = '\0';
	return p;
}

static struct pyval *
node_new(struct pyarena *a, enum pyval_kind kind)
{
	struct pyval *v;

	if (a->count >= PYARENA_MAX_NODES)
		return NULL;
	if (a->count == a->nchunks * NODE_CHUNK) {
		if (a->nchunks == a->chunks_alloc) {
			struct pyval **c = grow_array(a->chunks,
						      &a->chunks_alloc,
						      a->nchunks + 1,
						      sizeof(*c), 16);

			if (!c)
				return NULL;
			a->chunks = c;
		}
		a->chunks[a->nchunks] = malloc(NODE_CHUNK * sizeof(struct pyval));
		if (!a->chunks[a->nchunks])
			return NULL;
		a->nchunks++;
	}
	v = &a->chunks[a->count / NODE_CHUNK][a->count % NODE_CHUNK];
	memset(v, 0, sizeof(*v));
	v->kind = kind;
	v->id = (uint32_t)a->count++;
	return v;
}

struct pyval *
pyval_none(struct pyarena *a)
{
	if (!a->none)
		a->none = node_new(a, PV_NONE);
	return a->none;
}

struct pyval *
pyval_bool(struct pyarena *a, bool b)
{
	struct pyval **slot = b ? &a->true_ : &a->false_;

	if (!*slot) {
		*slot = node_new(a, PV_BOOL);
		if (*slot)
			(*slot)->u.b = b;
	}
	return *slot;
}

struct pyval *
pyval_int(struct pyarena *a, int64_t i)
{
	struct pyval *v = node_new(a, PV_INT);

	if (v)
		v->u.i = i;
	return v;
}

/* Length of le[0..len) without redundant sign bytes (Python's minimal form). */
static size_t
bigint_minimal_len(const uint8_t *le, size_t len)
{
	while (len > 1 &&
	       ((le[len - 1] == 0x00 && !(le[len - 2] & 0x80)) ||
		(le[len - 1] == 0xff && (le[len - 2] & 0x80))))
		len--;
	return len;
}

struct pyval *
pyval_bigint(struct pyarena *a, const uint8_t *le, size_t len)
{
	struct pyval *v;

	if (len == 0)
		return pyval_int(a, 0);
	len = bigint_minimal_len(le, len);
	if (len <= 8) {
		uint64_t u = 0;
		size_t k;

		for (k = len; k-- > 0;)
			u = u << 8 | le[k];
		if (len < 8 && (le[len - 1] & 0x80))
			u |= ~(uint64_t)0 << (8 * len);	/* sign-extend */
		return pyval_int(a, (int64_t)u);
	}
	v = node_new(a, PV_BIGINT);
	if (!v)
		return NULL;
	v->u.s.data = pyarena_strdup(a, (const char *)le, len);
	if (!v->u.s.data)
		return NULL;
	v->u.s.len = len;
	return v;
}

struct pyval *
pyval_float(struct pyarena *a, double f)
{
	struct pyval *v = node_new(a, PV_FLOAT);

	if (v)
		v->u.f = f;
	return v;
}

struct pyval *
pyval_bytes(struct pyarena *a, enum pyval_kind kind, const char *s,
	    size_t len)
{
	struct pyval *v = node_new(a, kind);

	if (!v)
		return NULL;
	v->u.s.data = pyarena_strdup(a, s, len);
	if (!v->u.s.data)
		return NULL;
	v->u.s.len = len;
	return v;
}

struct pyval *
pyval_str(struct pyarena *a, const char *s, size_t len)
{
	return pyval_bytes(a, PV_STR, s, len);
}

struct pyval *
pyval_seq(struct pyarena *a, enum pyval_kind kind)
{
	return node_new(a, kind);
}

struct pyval *
pyval_dict(struct pyarena *a)
{
	return pyval_set(a, PV_DICT);
}

struct pyval *
pyval_set(struct pyarena *a, enum pyval_kind kind)
{
	struct pyval *v = node_new(a, kind);

	if (!v)
		return NULL;
	v->u.dict = pyarena_alloc(a, sizeof(*v->u.dict));
	if (!v->u.dict)
		return NULL;
	v->u.dict->seed = a->seed;
	return v;
}

struct pyval *
pyval_global(struct pyarena *a, const char *module, size_t mlen,
	     const char *name, size_t nlen)
{
	struct pyval *v = node_new(a, PV_GLOBAL);

	if (!v)
		return NULL;
	v->u.global.module = pyarena_strdup(a, module, mlen);
	v->u.global.name = pyarena_strdup(a, name, nlen);
	if (!v->u.global.module || !v->u.global.name)
		return NULL;
	return v;
}

struct pyval *
pyval_object(struct pyarena *a, enum pv_how how, struct pyval *callable,
	     struct pyval *args)
{
	struct pyval *v = node_new(a, PV_OBJECT);

	if (!v)
		return NULL;
	v->u.obj = pyarena_alloc(a, sizeof(*v->u.obj));
	if (!v->u.obj)
		return NULL;
	v->u.obj->how = how;
	v->u.obj->callable = callable;
	v->u.obj->args = args;
	return v;
}

struct pyval *
pyval_persid(struct pyarena *a, struct pyval *pid)
{
	struct pyval *v = node_new(a, PV_PERSID);

	if (v)
		v->u.persid = pid;
	return v;
}

struct pyval *
pyval_storage(struct pyarena *a)
{
	struct pyval *v = node_new(a, PV_STORAGE);

	if (!v)
		return NULL;
	v->u.storage = pyarena_alloc(a, sizeof(*v->u.storage));
	return v->u.storage ? v : NULL;
}

struct pyval *
pyval_tensor(struct pyarena *a)
{
	struct pyval *v = node_new(a, PV_TENSOR);

	if (!v)
		return NULL;
	v->u.tensor = pyarena_alloc(a, sizeof(*v->u.tensor));
	return v->u.tensor ? v : NULL;
}

int
pyval_seq_reserve(struct pyval *seq, size_t n, struct ckerr *err)
{
	struct pyval **p;

	if (n <= seq->u.seq.alloc)
		return 0;
	if (n > SIZE_MAX / 2 / sizeof(*p))
		return ckerr_nomem(err);
	p = realloc(seq->u.seq.items, n * sizeof(*p));
	if (!p)
		return ckerr_nomem(err);
	seq->u.seq.items = p;
	seq->u.seq.alloc = n;
	return 0;
}

int
pyval_seq_append(struct pyval *seq, struct pyval *item, struct ckerr *err)
{
	if (seq->u.seq.len == seq->u.seq.alloc &&
	    pyval_seq_reserve(seq, seq->u.seq.alloc ? seq->u.seq.alloc * 2 : 4,
			      err) < 0)
		return -1;
	seq->u.seq.items[seq->u.seq.len++] = item;
	return 0;
}

int
pyval_seq_insert_at(struct pyval *seq, size_t i, struct pyval *item,
		    struct ckerr *err)
{
	size_t n = seq->u.seq.len;

	if (i > n)
		return ckerr_set(err, CKERR_USAGE, "no position %zu", i);
	if (pyval_seq_append(seq, item, err) < 0)
		return -1;
	memmove(seq->u.seq.items + i + 1, seq->u.seq.items + i,
		(n - i) * sizeof(*seq->u.seq.items));
	seq->u.seq.items[i] = item;
	return 0;
}

/* SipHash-1-3 (Aumasson & Bernstein): keyed, so hostile keys cannot
 * be chosen to collide. */
#define ROTL(x, b) (uint64_t)(((x) << (b)) | ((x) >> (64 - (b))))
#define SIPROUND \
	do { \
		v0 += v1; v1 = ROTL(v1, 13); v1 ^= v0; v0 = ROTL(v0, 32); \
		v2 += v3; v3 = ROTL(v3, 16); v3 ^= v2; \
		v0 += v3; v3 = ROTL(v3, 21); v3 ^= v0; \
		v2 += v1; v1 = ROTL(v1, 17); v1 ^= v2; v2 = ROTL(v2, 32); \
	} while (0)

static uint64_t
siphash13(const uint64_t key[2], const uint8_t *in, size_t len)
{
	uint64_t v0 = 0x736f6d6570736575ULL ^ key[0];
	uint64_t v1 = 0x646f72616e646f6dULL ^ key[1];
	uint64_t v2 = 0x6c7967656e657261ULL ^ key[0];
	uint64_t v3 = 0x7465646279746573ULL ^ key[1];
	uint64_t b = (uint64_t)len << 56, m;
	size_t i, tail = len & 7;

	for (i = 0; i + 8 <= len; i += 8) {
		memcpy(&m, in + i, 8);
		v3 ^= m;
		SIPROUND;
		v0 ^= m;
	}
	for (i = 0; i < tail; i++)
		b |= (uint64_t)in[len - tail + i] << (8 * i);
	v3 ^= b;
	SIPROUND;
	v0 ^= b;
	v2 ^= 0xff;
	SIPROUND;
	SIPROUND;
	SIPROUND;
	return v0 ^ v1 ^ v2 ^ v3;
}

/* Keyed hash of a 64-bit integer: ints, bools, integral floats, ids. */
static uint64_t
hash_u64(const uint64_t *key, uint64_t v)
{
	uint8_t b[8];
	int i;

	for (i = 0; i < 8; i++)
		b[i] = (uint8_t)(v >> (8 * i));
	return siphash13(key, b, sizeof(b));
}

/* Is f an integer that int64 can hold exactly? */
static bool
float_is_i64(double f)
{
	return f >= -9223372036854775808.0 && f < 9223372036854775808.0 &&
	       f == floor(f);
}

/*
 * The minimal two's-complement bytes of an integral double beyond int64
 * (what a PV_BIGINT of the same value holds).  out needs 136 bytes.
 */
static size_t
float_bigint_bytes(double f, uint8_t *out)
{
	int e, i;
	double m = frexp(fabs(f), &e);	/* |f| = m * 2^e, m in [0.5, 1) */
	uint64_t mant = (uint64_t)ldexp(m, 53);
	int shift = e - 53;		/* >= 10 here: |f| >= 2^63 */
	size_t n = (size_t)(e / 8 + 2);

	memset(out, 0, n);
	for (i = 0; i < 53; i++)
		if (mant >> i & 1)
			out[(i + shift) / 8] |= (uint8_t)(1u << ((i + shift) % 8));
	if (f < 0) {
		unsigned carry = 1;
		size_t k;

		for (k = 0; k < n; k++) {
			unsigned x = (uint8_t)~out[k] + carry;

			out[k] = (uint8_t)x;
			carry = x >> 8;
		}
	}
	return bigint_minimal_len(out, n);
}

static uint64_t
hash_bytes(const uint64_t *key, enum pyval_kind kind, const void *p, size_t n)
{
	return siphash13(key, p, n) ^ mix64((uint64_t)kind);
}

/* 0: hashed; -1: unhashable; -2: nested beyond PYVAL_MAX_KEY_DEPTH. */
static int
hash_depth(const struct pyval *v, const uint64_t *key, uint64_t *out,
	   int depth)
{
	uint8_t big[136];
	uint64_t h;
	size_t i;
	int r;

	if (depth > PYVAL_MAX_KEY_DEPTH)
		return -2;
	switch (v->kind) {
	case PV_NONE:
		*out = mix64(0x6e6f6e65);
		return 0;
	case PV_BOOL:
		*out = hash_u64(key, (uint64_t)v->u.b);
		return 0;
	case PV_INT:
		*out = hash_u64(key, (uint64_t)v->u.i);
		return 0;
	case PV_FLOAT:
		if (float_is_i64(v->u.f)) {
			*out = hash_u64(key, (uint64_t)(int64_t)v->u.f);
		} else if (isfinite(v->u.f) && v->u.f == floor(v->u.f)) {
			*out = hash_bytes(key, PV_BIGINT, big,
					  float_bigint_bytes(v->u.f, big));
		} else {
			memcpy(&h, &v->u.f, sizeof(h));
			*out = hash_bytes(key, PV_FLOAT, &h, sizeof(h));
		}
		return 0;
	case PV_STR:
	case PV_BYTES:
	case PV_BIGINT:
		*out = hash_bytes(key, v->kind, v->u.s.data, v->u.s.len);
		return 0;
	case PV_TUPLE:
		h = mix64(0x7475706c65 + v->u.seq.len);
		for (i = 0; i < v->u.seq.len; i++) {
			uint64_t eh;

			r = hash_depth(v->u.seq.items[i], key, &eh, depth + 1);
			if (r < 0)
				return r;
			h = mix64(h ^ eh);
		}
		*out = h;
		return 0;
	case PV_FROZENSET:
		/* order-free: a commutative combination */
		h = mix64(0x66726f7a656e + v->u.dict->len);
		for (i = 0; i < v->u.dict->len; i++)
			h += mix64(v->u.dict->items[i].hash);
		*out = h;
		return 0;
	case PV_GLOBAL:
		*out = hash_bytes(key, PV_GLOBAL, v->u.global.module,
				  strlen(v->u.global.module)) ^
		       mix64(hash_bytes(key, PV_GLOBAL, v->u.global.name,
					strlen(v->u.global.name)));
		return 0;
	case PV_OBJECT:
	case PV_PERSID:
	case PV_STORAGE:
	case PV_TENSOR:
		/* identity, as object.__hash__ */
		*out = hash_u64(key, v->id) ^ mix64((uint64_t)v->kind);
		return 0;
	case PV_LIST:
	case PV_DICT:
	case PV_SET:
	case PV_BYTEARRAY:
	default:
		return -1;
	}
}

int
pyval_hash(const struct pyval *v, const uint64_t key[2], uint64_t *out)
{
	return hash_depth(v, key, out, 0) < 0 ? -1 : 0;
}

static bool
is_number(const struct pyval *v)
{
	return v->kind == PV_BOOL || v->kind == PV_INT || v->kind == PV_FLOAT ||
	       v->kind == PV_BIGINT;
}

/* Python's == between two numbers, exactly (no rounding through double). */
static bool
number_equal(const struct pyval *a, const struct pyval *b)
{
	uint8_t big[136];
	size_t n;

	if (a->kind == PV_FLOAT && b->kind != PV_FLOAT) {
		const struct pyval *t = a;

		a = b;
		b = t;
	}
	/* now b is the float, if either is */
	if (b->kind == PV_FLOAT) {
		if (a->kind == PV_FLOAT)
			return a->u.f == b->u.f;
		if (a->kind == PV_BIGINT) {
			if (!isfinite(b->u.f) || b->u.f != floor(b->u.f) ||
			    float_is_i64(b->u.f))
				return false;
			n = float_bigint_bytes(b->u.f, big);
			return n == a->u.s.len && !memcmp(big, a->u.s.data, n);
		}
		return float_is_i64(b->u.f) &&
		       (int64_t)b->u.f == (a->kind == PV_INT ? a->u.i : a->u.b);
	}
	if (a->kind == PV_BIGINT || b->kind == PV_BIGINT)
		return a->kind == b->kind && a->u.s.len == b->u.s.len &&
		       !memcmp(a->u.s.data, b->u.s.data, a->u.s.len);
	return (a->kind == PV_INT ? a->u.i : a->u.b) ==
	       (b->kind == PV_INT ? b->u.i : b->u.b);
}

static ptrdiff_t dict_lookup(const struct pv_dict *d, const struct pyval *key,
			     uint64_t h);

static bool
equal_depth(const struct pyval *a, const struct pyval *b, int depth)
{
	size_t i;

	if (a == b)
		return true;
	if (depth > PYVAL_MAX_KEY_DEPTH)
		return false;
	if (is_number(a) && is_number(b))
		return number_equal(a, b);
	if (a->kind != b->kind)
		return false;
	switch (a->kind) {
	case PV_NONE:
		return true;
	case PV_STR:
	case PV_BYTES:
		return a->u.s.len == b->u.s.len &&
		       !memcmp(a->u.s.data, b->u.s.data, a->u.s.len);
	case PV_TUPLE:
		if (a->u.seq.len != b->u.seq.len)
			return false;
		for (i = 0; i < a->u.seq.len; i++)
			if (!equal_depth(a->u.seq.items[i], b->u.seq.items[i],
					 depth + 1))
				return false;
		return true;
	case PV_FROZENSET:
		if (a->u.dict->len != b->u.dict->len)
			return false;
		for (i = 0; i < a->u.dict->len; i++) {
			const struct pv_item *it = &a->u.dict->items[i];
			uint64_t h;

			/* b may hash with another seed: rehash */
			if (hash_depth(it->key, b->u.dict->seed, &h, depth + 1) < 0 ||
			    dict_lookup(b->u.dict, it->key, h) < 0)
				return false;
		}
		return true;
	case PV_GLOBAL:
		return !strcmp(a->u.global.module, b->u.global.module) &&
		       !strcmp(a->u.global.name, b->u.global.name);
	default:
		return false;	/* identity, already compared */
	}
}

bool
pyval_key_equal(const struct pyval *a, const struct pyval *b)
{
	return equal_depth(a, b, 0);
}

#define DICT_LINEAR_MAX 8	/* below this, no hash index */

static int
dict_index_build(struct pv_dict *d, size_t want)
{
	size_t cap = 16, i;
	uint32_t *idx;

	while (cap < 2 * want + 2)
		cap *= 2;
	idx = calloc(cap, sizeof(*idx));
	if (!idx)
		return -1;
	for (i = 0; i < d->len; i++) {
		size_t slot = d->items[i].hash & (cap - 1);

		while (idx[slot])
			slot = (slot + 1) & (cap - 1);
		idx[slot] = (uint32_t)(i + 1);
	}
	free(d->index);
	d->index = idx;
	d->index_cap = cap;
	return 0;
}

/* Index of key in d, or -1. */
static ptrdiff_t
dict_lookup(const struct pv_dict *d, const struct pyval *key, uint64_t h)
{
	size_t i;

	if (!d->index_cap) {
		for (i = 0; i < d->len; i++)
			if (d->items[i].hash == h &&
			    pyval_key_equal(d->items[i].key, key))
				return (ptrdiff_t)i;
		return -1;
	}
	for (i = h & (d->index_cap - 1); d->index[i];
	     i = (i + 1) & (d->index_cap - 1)) {
		size_t k = d->index[i] - 1;

		if (d->items[k].hash == h && pyval_key_equal(d->items[k].key, key))
			return (ptrdiff_t)k;
	}
	return -1;
}

int
pyval_set_add(struct pyval *set, struct pyval *item, struct ckerr *err)
{
	/* an equal element keeps its place and identity, as in Python */
	return pyval_dict_set(set, item, NULL, err);
}

int
pyval_dict_set(struct pyval *dv, struct pyval *key, struct pyval *value,
	       struct ckerr *err)
{
	struct pv_dict *d = dv->u.dict;
	ptrdiff_t at;
	uint64_t h;

	switch (hash_depth(key, d->seed, &h, 0)) {
	case -1:
		return ckerr_set(err, CKERR_FORMAT, "unhashable %s (%s)",
				 dv->kind == PV_DICT ? "dict key" : "set item",
				 pyval_kind_name(key->kind));
	case -2:
		return ckerr_set(err, CKERR_LIMIT, "key nested more than %d "
				 "deep", PYVAL_MAX_KEY_DEPTH);
	default:
		break;
	}
	at = dict_lookup(d, key, h);
	if (at >= 0) {
		d->items[at].value = value;
		return 0;
	}
	if (d->len == d->alloc) {
		struct pv_item *p;

		/* the hash index stores positions in 32 bits */
		if (d->len >= UINT32_MAX / 2)
			return ckerr_set(err, CKERR_LIMIT, "dict too large");
		p = grow_array(d->items, &d->alloc, d->len + 1, sizeof(*p), 8);
		if (!p)
			return ckerr_nomem(err);
		d->items = p;
	}
	d->items[d->len].key = key;
	d->items[d->len].value = value;
	d->items[d->len].hash = h;
	d->len++;
	if (d->index_cap && 2 * d->len + 2 <= d->index_cap) {
		size_t i = h & (d->index_cap - 1);

		while (d->index[i])
			i = (i + 1) & (d->index_cap - 1);
		d->index[i] = (uint32_t)d->len;
	} else if (d->len > DICT_LINEAR_MAX) {
		if (dict_index_build(d, d->len * 2) < 0) {
			d->len--;
			return ckerr_nomem(err);
		}
	}
	return 0;
}

ptrdiff_t
pyval_dict_find(const struct pyval *dv, const struct pyval *key)
{
	uint64_t h;

	if ((dv->kind != PV_DICT && dv->kind != PV_SET &&
	     dv->kind != PV_FROZENSET) ||
	    pyval_hash(key, dv->u.dict->seed, &h) < 0)
		return -1;
	return dict_lookup(dv->u.dict, key, h);
}

int
pyval_dict_rekey(struct pyval *dv, size_t i, struct pyval *key,
		 struct ckerr *err)
{
	struct pv_dict *d = dv->u.dict;
	uint64_t h;

	if (i >= d->len)
		return ckerr_set(err, CKERR_USAGE, "no item %zu", i);
	if (hash_depth(key, d->seed, &h, 0) < 0)
		return ckerr_set(err, CKERR_FORMAT, "unhashable dict key (%s)",
				 pyval_kind_name(key->kind));
	d->items[i].key = key;
	d->items[i].hash = h;
	free(d->index);		/* stale until pyval_dict_reindex */
	d->index = NULL;
	d->index_cap = 0;
	return 0;
}

void
pyval_dict_remove(struct pyval *dv, const bool *drop)
{
	struct pv_dict *d = dv->u.dict;
	size_t i, n = 0;

	for (i = 0; i < d->len; i++)
		if (!drop[i])
			d->items[n++] = d->items[i];
	d->len = n;
	free(d->index);
	d->index = NULL;
	d->index_cap = 0;
}

int
pyval_dict_insert_at(struct pyval *dv, size_t i, struct pyval *key,
		     struct pyval *value, struct ckerr *err)
{
	struct pv_dict *d = dv->u.dict;
	uint64_t h;

	if (i > d->len)
		return ckerr_set(err, CKERR_USAGE, "no position %zu", i);
	if (hash_depth(key, d->seed, &h, 0) < 0)
		return ckerr_set(err, CKERR_FORMAT, "unhashable dict key (%s)",
				 pyval_kind_name(key->kind));
	if (d->len == d->alloc) {
		struct pv_item *p = grow_array(d->items, &d->alloc, d->len + 1,
					       sizeof(*p), 8);

		if (!p)
			return ckerr_nomem(err);
		d->items = p;
	}
	memmove(d->items + i + 1, d->items + i, (d->len - i) * sizeof(*d->items));
	d->items[i].key = key;
	d->items[i].value = value;
	d->items[i].hash = h;
	d->len++;
	free(d->index);
	d->index = NULL;
	d->index_cap = 0;
	return 0;
}

int
pyval_dict_reindex(struct pyval *dv, struct ckerr *err)
{
	struct pv_dict *d = dv->u.dict;

	if (d->len <= DICT_LINEAR_MAX)
		return 0;
	return dict_index_build(d, d->len * 2) < 0 ? ckerr_nomem(err) : 0;
}

struct pyval *
pyval_dict_get(const struct pyval *dv, const struct pyval *key)
{
	ptrdiff_t at = pyval_dict_find(dv, key);

	return at < 0 ? NULL : dv->u.dict->items[at].value;
}

ptrdiff_t
pyval_dict_find_str(const struct pyval *dv, const char *key, size_t len)
{
	struct pyval probe;

	if (dv->kind != PV_DICT)
		return -1;
	memset(&probe, 0, sizeof(probe));
	probe.kind = PV_STR;
	probe.u.s.data = key;
	probe.u.s.len = len;
	return dict_lookup(dv->u.dict, &probe,
			   hash_bytes(dv->u.dict->seed, PV_STR, key, len));
}

struct pyval *
pyval_dict_get_str(const struct pyval *dv, const char *key, size_t len)
{
	ptrdiff_t at = pyval_dict_find_str(dv, key, len);

	return at < 0 ? NULL : dv->u.dict->items[at].value;
}

bool
pyval_is_str(const struct pyval *v, const char *s)
{
	size_t n = strlen(s);

	return v && v->kind == PV_STR && v->u.s.len == n &&
	       !memcmp(v->u.s.data, s, n);
}

/* Python 2 module names pickle's fix_imports maps to Python 3 ones. */
static const char *const module_map[][2] = {
	{ "__builtin__", "builtins" },
	{ "copy_reg", "copyreg" },
	{ "pytorch_lightning", "lightning.pytorch" },
};

bool
pyval_is_global(const struct pyval *v, const char *module, const char *name)
{
	const char *m;
	size_t i;

	if (!v || v->kind != PV_GLOBAL || strcmp(v->u.global.name, name))
		return false;
	m = v->u.global.module;
	if (!strcmp(m, module))
		return true;
	for (i = 0; i < sizeof(module_map) / sizeof(module_map[0]); i++)
		if (!strcmp(m, module_map[i][0]) &&
		    !strcmp(module, module_map[i][1]))
			return true;
	return false;
}

const char *
pyval_kind_name(enum pyval_kind kind)
{
	static const char *const names[PV__KIND_COUNT] = {
		[PV_NONE] = "None", [PV_BOOL] = "bool", [PV_INT] = "int",
		[PV_BIGINT] = "int", [PV_FLOAT] = "float", [PV_STR] = "str",
		[PV_BYTES] = "bytes", [PV_BYTEARRAY] = "bytearray",
		[PV_TUPLE] = "tuple", [PV_LIST] = "list", [PV_SET] = "set",
		[PV_FROZENSET] = "frozenset", [PV_DICT] = "dict",
		[PV_GLOBAL] = "global", [PV_OBJECT] = "object",
		[PV_PERSID] = "persistent id", [PV_STORAGE] = "storage",
		[PV_TENSOR] = "tensor",
	};

	return (unsigned)kind < PV__KIND_COUNT ? names[kind] : "?";
}
