/* tensor: strided element access, decoding, statistics, previews. */
#include "config.h"

#include <math.h>
#include <string.h>

#include "tensor.h"
#include "banned.h"

uint64_t
tensor_nbytes(const struct pv_tensor *t)
{
	return t->numel * dtype_size(t->dtype);
}

bool
tensor_decodable(const struct pv_tensor *t)
{
	return dtype_kind(t->dtype) != DK_FLOAT8 && t->dtype != DT_INVALID;
}

enum tval_kind
tensor_value_kind(const struct pv_tensor *t)
{
	switch (dtype_kind(t->dtype)) {
	case DK_COMPLEX:
		return TV_COMPLEX;
	case DK_SINT:
		return TV_SINT;
	case DK_UINT:
		return TV_UINT;
	case DK_BOOL:
		return TV_BOOL;
	default:
		return TV_FLOAT;	/* floats, and quantized (dequantized) */
	}
}

static double
half_to_double(uint16_t h)
{
	int e = (h >> 10) & 0x1f, m = h & 0x3ff;
	double v;

	if (e == 0)
		v = ldexp(m, -24);
	else if (e == 31)
		v = m ? NAN : INFINITY;
	else
		v = ldexp(m + 1024, e - 25);
	return (h & 0x8000) ? -v : v;
}

static double
bf16_to_double(uint16_t b)
{
	uint32_t u = (uint32_t)b << 16;
	float f;

	memcpy(&f, &u, sizeof(f));
	return f;
}

static uint64_t
load_le(const uint8_t *p, size_t n)
{
	uint64_t v = 0;

	while (n--)
		v = v << 8 | p[n];
	return v;
}

/* The raw integer of quantized element idx (logical index for packed). */
static int64_t
quant_raw(enum dtype dt, const uint8_t *b, uint64_t idx)
{
	switch (dt) {
	case DT_QINT8:
		return (int8_t)b[idx];
	case DT_QUINT8:
		return b[idx];
	case DT_QINT32:
		return (int32_t)(uint32_t)load_le(b + idx * 4, 4);
	case DT_QUINT4X2:
		return (b[idx / 2] >> (4 * (idx % 2))) & 0xf;
	case DT_QUINT2X4:
		return (b[idx / 4] >> (2 * (idx % 4))) & 0x3;
	default:
		return 0;
	}
}

/* torch's scalar dequantize: (float(q) - zero_point) * scale, as float. */
static double
dequantize(int64_t q, double scale, int64_t zp)
{
	float d = (float)q - (float)zp;

	return (float)((double)d * scale);
}

/*
 * Decode storage element idx (in elements of t->dtype; for the packed
 * quantized types a logical index).  chan is the index along the
 * quantization axis (per-channel only).
 */
static void
decode(const struct pv_tensor *t, const uint8_t *b, uint64_t idx,
       const struct tquant *q, int64_t chan, struct tval *v)
{
	const uint8_t *p = b + idx * dtype_size(t->dtype);
	float f32;

	memset(v, 0, sizeof(*v));
	v->kind = tensor_value_kind(t);
	switch (t->dtype) {
	case DT_FLOAT64:
		memcpy(&v->re, p, 8);
		break;
	case DT_FLOAT32:
		memcpy(&f32, p, 4);
		v->re = f32;
		break;
	case DT_FLOAT16:
		v->re = half_to_double((uint16_t)load_le(p, 2));
		break;
	case DT_BFLOAT16:
		v->re = bf16_to_double((uint16_t)load_le(p, 2));
		break;
	case DT_COMPLEX128:
		memcpy(&v->re, p, 8);
		memcpy(&v->im, p + 8, 8);
		break;
	case DT_COMPLEX64:
		memcpy(&f32, p, 4);
		v->re = f32;
		memcpy(&f32, p + 4, 4);
		v->im = f32;
		break;
	case DT_COMPLEX32:
		v->re = half_to_double((uint16_t)load_le(p, 2));
		v->im = half_to_double((uint16_t)load_le(p + 2, 2));
		break;
	case DT_INT64:
	case DT_INT32:
	case DT_INT16:
	case DT_INT8: {
		size_t n = dtype_size(t->dtype);
		uint64_t u = load_le(p, n);

		if (n < 8 && (u >> (8 * n - 1)))
			u |= ~(uint64_t)0 << (8 * n);
		v->i = (int64_t)u;
		break;
	}
	case DT_UINT8:
	case DT_UINT16:
	case DT_UINT32:
	case DT_UINT64:
		v->u = load_le(p, dtype_size(t->dtype));
		break;
	case DT_BOOL:
		v->i = p[0] != 0;
		break;
	case DT_QINT8:
	case DT_QUINT8:
	case DT_QINT32:
	case DT_QUINT4X2:
	case DT_QUINT2X4: {
		int64_t raw = quant_raw(t->dtype, b, idx);

		if (q && q->scheme == TQ_PER_CHANNEL && chan >= 0 &&
		    (size_t)chan < q->nch)
			v->re = dequantize(raw, q->scales[chan],
					   q->zero_points[chan]);
		else if (q && q->scheme == TQ_PER_TENSOR)
			v->re = dequantize(raw, q->scale, q->zero_point);
		else
			v->re = (double)raw;
		break;
	}
	default:
		v->re = NAN;
		break;
	}
	if (t->conj)
		v->im = -v->im;
	if (t->neg) {
		v->re = -v->re;
		v->im = -v->im;
		v->i = (int64_t)(0 - (uint64_t)v->i);
	}
}

/* Largest storage element index the view touches, plus one (0: none). */
static uint64_t
view_end(const struct pv_tensor *t)
{
	uint64_t last = t->offset;
	int i;

	if (t->numel == 0)
		return 0;
	for (i = 0; i < t->ndim; i++)
		last += (uint64_t)(t->shape[i] - 1) * (uint64_t)t->stride[i];
	return last + 1;
}

int
tensor_check_bytes(const struct pv_tensor *t, size_t nbytes,
		   struct ckerr *err)
{
	uint64_t end = view_end(t), have;
	unsigned per = dtype_per_byte(t->dtype);

	/* torchpkl already proved the sums cannot overflow */
	have = (uint64_t)nbytes / dtype_size(t->dtype) * per;
	if (end > have)
		return ckerr_set(err, CKERR_FORMAT, "tensor needs %llu "
				 "elements of storage, only %llu are there",
				 (unsigned long long)end,
				 (unsigned long long)have);
	return 0;
}

/*
 * Call fn for each element in row-major logical order with its storage
 * element index and its index along axis (or -1).  Stops after limit
 * elements.
 */
typedef void (*elem_fn)(void *ctx, uint64_t idx, int64_t chan);

static void
foreach_elem(const struct pv_tensor *t, int axis, uint64_t limit, elem_fn fn,
	     void *ctx)
{
	int64_t idx[TENSOR_MAX_DIMS];
	uint64_t pos = t->offset, done = 0;
	int d, nd = t->ndim;

	if (t->numel == 0 || limit == 0)
		return;
	if (nd == 0) {
		fn(ctx, pos, -1);
		return;
	}
	memset(idx, 0, sizeof(idx));
	for (;;) {
		/* innermost dimension in a tight loop */
		int64_t n = t->shape[nd - 1], s = t->stride[nd - 1], k;
		uint64_t p = pos;

		for (k = 0; k < n && done < limit; k++, p += (uint64_t)s, done++)
			fn(ctx, p, axis < 0 ? -1 :
				   axis == nd - 1 ? k : idx[axis]);
		if (done >= limit)
			return;
		for (d = nd - 2; d >= 0; d--) {
			pos += (uint64_t)t->stride[d];
			if (++idx[d] < t->shape[d])
				break;
			pos -= (uint64_t)t->stride[d] * (uint64_t)t->shape[d];
			idx[d] = 0;
		}
		if (d < 0)
			return;
	}
}

struct stats_ctx {
	const struct pv_tensor *t;
	const uint8_t *b;
	const struct tquant *q;
	struct tstats *s;
	long double mean, mean_im, m2;
};

static int
tval_less(const struct tval *a, const struct tval *b)
{
	switch (a->kind) {
	case TV_SINT:
	case TV_BOOL:
		return a->i < b->i;
	case TV_UINT:
		return a->u < b->u;
	default:
		return a->re < b->re;
	}
}

static void
stats_elem(void *ctx, uint64_t idx, int64_t chan)
{
	struct stats_ctx *c = ctx;
	struct tstats *s = c->s;
	struct tval v;
	long double x, y, dx, dy;

	decode(c->t, c->b, idx, c->q, chan, &v);
	s->count++;
	if (v.kind == TV_FLOAT || v.kind == TV_COMPLEX) {
		int nan = isnan(v.re) || isnan(v.im);
		int inf = isinf(v.re) || isinf(v.im);

		s->nan += nan;
		s->inf += inf;
		if (nan || inf)
			return;
	}
	x = v.kind == TV_SINT || v.kind == TV_BOOL ? (long double)v.i :
	    v.kind == TV_UINT ? (long double)v.u : (long double)v.re;
	y = v.im;
	if (s->finite == 0) {
		s->min = v;
		s->max = v;
	} else if (v.kind != TV_COMPLEX) {
		if (tval_less(&v, &s->min))
			s->min = v;
		if (tval_less(&s->max, &v))
			s->max = v;
	}
	/* Welford's update: stable for long runs of similar values */
	s->finite++;
	dx = x - c->mean;
	dy = y - c->mean_im;
	c->mean += dx / (long double)s->finite;
	c->mean_im += dy / (long double)s->finite;
	c->m2 += dx * (x - c->mean) + dy * (y - c->mean_im);
}

int
tensor_stats(const struct pv_tensor *t, const uint8_t *bytes, size_t nbytes,
	     const struct tquant *q, struct tstats *out, struct ckerr *err)
{
	struct stats_ctx c;

	memset(out, 0, sizeof(*out));
	out->kind = tensor_value_kind(t);
	if (!tensor_decodable(t))
		return ckerr_set(err, CKERR_UNSUPPORTED, "values of dtype %s "
				 "cannot be decoded", dtype_name(t->dtype));
	if (tensor_check_bytes(t, nbytes, err) < 0)
		return -1;
	memset(&c, 0, sizeof(c));
	c.t = t;
	c.b = bytes;
	c.q = q;
	c.s = out;
	foreach_elem(t, q && q->scheme == TQ_PER_CHANNEL ? q->axis : -1,
		     UINT64_MAX, stats_elem, &c);
	out->mean = (double)c.mean;
	out->mean_im = (double)c.mean_im;
	out->std = out->finite > 1 ?
		   (double)sqrtl(c.m2 / (long double)(out->finite - 1)) : NAN;
	return 0;
}

struct values_ctx {
	const struct pv_tensor *t;
	const uint8_t *b;
	const struct tquant *q;
	struct tval *out;
	size_t n;
};

static void
values_elem(void *ctx, uint64_t idx, int64_t chan)
{
	struct values_ctx *c = ctx;

	decode(c->t, c->b, idx, c->q, chan, &c->out[c->n++]);
}

ptrdiff_t
tensor_values(const struct pv_tensor *t, const uint8_t *bytes, size_t nbytes,
	      const struct tquant *q, struct tval *out, size_t n,
	      struct ckerr *err)
{
	struct values_ctx c = { t, bytes, q, out, 0 };

	if (!tensor_decodable(t))
		return ckerr_set(err, CKERR_UNSUPPORTED, "values of dtype %s "
				 "cannot be decoded", dtype_name(t->dtype));
	if (tensor_check_bytes(t, nbytes, err) < 0)
		return -1;
	foreach_elem(t, q && q->scheme == TQ_PER_CHANNEL ? q->axis : -1, n,
		     values_elem, &c);
	return (ptrdiff_t)c.n;
}
