/* tensor: strided element access, decoding, statistics, previews. */
#include "config.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

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

/* float -> IEEE half, round to nearest even (as c10::Half does). */
static uint16_t
float_to_half(float f)
{
	uint32_t x, mant, sign, half, rem, halfway;
	int32_t exp;

	memcpy(&x, &f, sizeof(x));
	sign = (x >> 16) & 0x8000;
	mant = x & 0x7fffff;
	exp = (int32_t)((x >> 23) & 0xff);
	if (exp == 0xff)
		return (uint16_t)(sign | 0x7c00 | (mant ? 0x200 : 0));
	exp = exp - 127 + 15;
	if (exp >= 31)
		return (uint16_t)(sign | 0x7c00);
	if (exp <= 0) {		/* subnormal or zero */
		if (exp < -10)
			return (uint16_t)sign;
		mant |= 0x800000;
		half = mant >> (14 - exp);
		rem = mant & ((1u << (14 - exp)) - 1);
		halfway = 1u << (13 - exp);
		if (rem > halfway || (rem == halfway && (half & 1)))
			half++;
		return (uint16_t)(sign | half);
	}
	half = sign | (uint32_t)exp << 10 | mant >> 13;
	rem = mant & 0x1fff;
	if (rem > 0x1000 || (rem == 0x1000 && (half & 1)))
		half++;		/* may carry into the exponent: right */
	return (uint16_t)half;
}

/* float -> bfloat16, round to nearest even (as c10::BFloat16 does). */
static uint16_t
float_to_bf16(float f)
{
	uint32_t x;

	memcpy(&x, &f, sizeof(x));
	if (isnan(f))
		return 0x7fc0;	/* c10 makes every NaN this one */
	x += 0x7fff + ((x >> 16) & 1);
	return (uint16_t)(x >> 16);
}

static void
store_le(uint8_t *p, uint64_t v, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

/* A decimal integer that fits int64: the exact value, not via double. */
static int
parse_exact_int(const char *s, int64_t *out)
{
	char *end;
	long long v;

	if (!*s || strspn(s + (*s == '-' || *s == '+'), "0123456789") !=
		   strlen(s + (*s == '-' || *s == '+')))
		return -1;
	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno || *end)
		return -1;
	*out = v;
	return 0;
}

int
tensor_encode_value(enum dtype dt, const char *text, uint8_t *out,
		    struct ckerr *err)
{
	const char *name = dtype_name(dt);
	size_t es = dtype_size(dt);
	double x;
	int64_t i;
	char *end;
	float f;

	memset(out, 0, es);
	errno = 0;
	x = strtod(text, &end);
	if (dt == DT_BOOL) {	/* true, false, or a number that is 1 or 0 */
		if (!strcasecmp(text, "true") || !strcasecmp(text, "false"))
			x = !strcasecmp(text, "true");
		else if (*end || end == text || (x != 0.0 && x != 1.0))
			return ckerr_set(err, CKERR_USAGE, "value '%s' is not a "
					 "bool (true, false, 1 or 0)", text);
		out[0] = x == 1.0;
		return 0;
	}
	if (*end || end == text)
		return ckerr_set(err, CKERR_USAGE, "value '%s' is not a number",
				 text);
	switch (dtype_kind(dt)) {
	case DK_FLOAT:
	case DK_COMPLEX:
		if (dt == DT_FLOAT64 || dt == DT_COMPLEX128) {
			memcpy(out, &x, 8);
			return 0;
		}
		f = (float)x;
		if (isinf(f) && isfinite(x))
			goto no_fit;
		if (dt == DT_FLOAT32 || dt == DT_COMPLEX64) {
			memcpy(out, &f, 4);
			return 0;
		}
		if (dt == DT_BFLOAT16) {
			store_le(out, float_to_bf16(f), 2);
			return isinf(bf16_to_double(float_to_bf16(f))) &&
			       isfinite(x) ? ckerr_set(err, CKERR_USAGE, "value "
				       "'%s' does not fit %s", text, name) : 0;
		}
		/* float16, complex32 */
		store_le(out, float_to_half(f), 2);
		if (isinf(half_to_double(float_to_half(f))) && isfinite(x))
			goto no_fit;
		return 0;
	case DK_SINT:
	case DK_UINT:
		if (parse_exact_int(text, &i) < 0) {
			if (!isfinite(x) || x != floor(x))
				return ckerr_set(err, CKERR_USAGE, "value '%s' is "
						 "not an integer (%s)", text, name);
			if (x < -9223372036854775808.0 ||
			    x >= 9223372036854775808.0)
				goto no_fit;
			i = (int64_t)x;
		}
		if (dtype_kind(dt) == DK_UINT ?
		    i < 0 || (es < 8 && (uint64_t)i >> (8 * es)) :
		    es < 8 && (i < -((int64_t)1 << (8 * es - 1)) ||
			       i >= (int64_t)1 << (8 * es - 1)))
			goto no_fit;
		store_le(out, (uint64_t)i, es);
		return 0;
	default:
		return ckerr_set(err, CKERR_UNSUPPORTED, "values of dtype %s "
				 "cannot be written", name);
	}
no_fit:
	return ckerr_set(err, CKERR_USAGE, "value '%s' does not fit %s", text,
			 name);
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
 * Walk the view in row-major logical order as runs along the innermost
 * dimension: fn gets n elements starting at storage element pos, stride
 * apart, with the index along the quantization axis of the first (chan,
 * -1 when none) and whether it advances per element (the axis is the
 * innermost one).  Stops after limit elements.
 */
typedef void (*run_fn)(void *ctx, uint64_t pos, int64_t stride, uint64_t n,
		       int64_t chan, int chan_step);

static void
foreach_run(const struct pv_tensor *t, int axis, uint64_t limit, run_fn fn,
	    void *ctx)
{
	int64_t idx[TENSOR_MAX_DIMS];
	uint64_t pos = t->offset, done = 0, n;
	int d, nd = t->ndim;

	if (t->numel == 0 || limit == 0)
		return;
	if (nd == 0) {
		fn(ctx, pos, 0, 1, -1, 0);
		return;
	}
	memset(idx, 0, sizeof(idx));
	for (;;) {
		n = (uint64_t)t->shape[nd - 1];
		if (n > limit - done)
			n = limit - done;
		fn(ctx, pos, t->stride[nd - 1], n,
		   axis < 0 ? -1 : axis == nd - 1 ? 0 : idx[axis],
		   axis == nd - 1);
		done += n;
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

/* Elements decoded at a time: small enough to stay in cache. */
#define BLOCK 1024

/* A block of decoded values; which arrays are used depends on the kind. */
struct block {
	double re[BLOCK], im[BLOCK];	/* TV_FLOAT, TV_COMPLEX */
	int64_t i[BLOCK];		/* TV_SINT, TV_BOOL */
	uint64_t u[BLOCK];		/* TV_UINT */
};

/* Per-channel (scale, zero point) of element k of a run. */
static void
channel_params(const struct tquant *q, int64_t chan, double *scale,
	       int64_t *zp)
{
	if (q->scheme == TQ_PER_CHANNEL && chan >= 0 && (size_t)chan < q->nch) {
		*scale = q->scales[chan];
		*zp = q->zero_points[chan];
	} else {
		*scale = q->scale;
		*zp = q->zero_point;
	}
}

/*
 * Decode n (<= BLOCK) elements of a run into blk, with the dtype switch
 * outside the loops.
 */
static void
decode_block(const struct pv_tensor *t, const uint8_t *b,
	     const struct tquant *q, uint64_t pos, int64_t stride, size_t n,
	     int64_t chan, int chan_step, struct block *blk)
{
	const size_t es = dtype_size(t->dtype);
	const uint8_t *p = b + pos * es;
	const ptrdiff_t step = (ptrdiff_t)(stride * (int64_t)es);
	size_t k;
	float f32;

#define EACH for (k = 0; k < n; k++, p += step)
	switch (t->dtype) {
	case DT_FLOAT64:
		EACH memcpy(&blk->re[k], p, 8);
		break;
	case DT_FLOAT32:
		EACH {
			memcpy(&f32, p, 4);
			blk->re[k] = f32;
		}
		break;
	case DT_FLOAT16:
		EACH blk->re[k] = half_to_double((uint16_t)load_le(p, 2));
		break;
	case DT_BFLOAT16:
		EACH blk->re[k] = bf16_to_double((uint16_t)load_le(p, 2));
		break;
	case DT_COMPLEX128:
		EACH {
			memcpy(&blk->re[k], p, 8);
			memcpy(&blk->im[k], p + 8, 8);
		}
		break;
	case DT_COMPLEX64:
		EACH {
			memcpy(&f32, p, 4);
			blk->re[k] = f32;
			memcpy(&f32, p + 4, 4);
			blk->im[k] = f32;
		}
		break;
	case DT_COMPLEX32:
		EACH {
			blk->re[k] = half_to_double((uint16_t)load_le(p, 2));
			blk->im[k] = half_to_double((uint16_t)load_le(p + 2, 2));
		}
		break;
	case DT_INT64:
	case DT_INT32:
	case DT_INT16:
	case DT_INT8:
		EACH {
			uint64_t u = load_le(p, es);

			if (es < 8 && (u >> (8 * es - 1)))
				u |= ~(uint64_t)0 << (8 * es);
			blk->i[k] = (int64_t)u;
		}
		break;
	case DT_UINT8:
	case DT_UINT16:
	case DT_UINT32:
	case DT_UINT64:
		EACH blk->u[k] = load_le(p, es);
		break;
	case DT_BOOL:
		EACH blk->i[k] = p[0] != 0;
		break;
	case DT_QINT8:
	case DT_QUINT8:
	case DT_QINT32:
	case DT_QUINT4X2:
	case DT_QUINT2X4: {
		/* packed types index values, not bytes: use the logical index */
		uint64_t at = pos;
		double scale;
		int64_t zp;

		for (k = 0; k < n; k++, at += (uint64_t)stride) {
			int64_t raw = quant_raw(t->dtype, b, at);

			if (!q || q->scheme == TQ_NONE) {
				blk->re[k] = (double)raw;
				continue;
			}
			channel_params(q, chan + (chan_step ? (int64_t)k : 0),
				       &scale, &zp);
			blk->re[k] = dequantize(raw, scale, zp);
		}
		break;
	}
	default:
		for (k = 0; k < n; k++)
			blk->re[k] = NAN;
		break;
	}
#undef EACH
	if (t->conj)
		for (k = 0; k < n; k++)
			blk->im[k] = -blk->im[k];
	if (t->neg)
		for (k = 0; k < n; k++) {
			blk->re[k] = -blk->re[k];
			blk->im[k] = -blk->im[k];
			blk->i[k] = (int64_t)(0 - (uint64_t)blk->i[k]);
		}
}

/* Running statistics: count, mean and sum of squared deviations (M2). */
struct moments {
	uint64_t n;
	long double mean, mean_im, m2;
};

/*
 * Merge a block's moments into the running ones (Chan, Golub and LeVeque):
 * stable, and each block is summed on its own, in cache.
 */
static void
moments_merge(struct moments *m, uint64_t nb, long double mean,
	      long double mean_im, long double m2)
{
	long double n, dx, dy;

	if (nb == 0)
		return;
	n = (long double)(m->n + nb);
	dx = mean - m->mean;
	dy = mean_im - m->mean_im;
	m->m2 += m2 + (dx * dx + dy * dy) * (long double)m->n *
		       (long double)nb / n;
	m->mean += dx * (long double)nb / n;
	m->mean_im += dy * (long double)nb / n;
	m->n += nb;
}

struct stats_ctx {
	const struct pv_tensor *t;
	const uint8_t *b;
	const struct tquant *q;
	struct tstats *s;
	struct moments m;
	struct block *blk;
};

/* Widen [lo, hi] to hold v; the first value sets both. */
#define TRACK_EXTREMES(lo, hi, v, first) \
	do { \
		if ((first) || (v) < (lo)) \
			(lo) = (v); \
		if ((first) || (v) > (hi)) \
			(hi) = (v); \
	} while (0)

/* Statistics of one block of floats or complex values. */
static void
stats_float_block(struct stats_ctx *c, size_t n, int complex_)
{
	const double *re = c->blk->re, *im = c->blk->im;
	struct tstats *s = c->s;
	long double sx = 0, sy = 0, mx, my, m2 = 0;
	uint64_t nf = 0;
	size_t k;

	for (k = 0; k < n; k++) {
		double y = complex_ ? im[k] : 0;
		int nan = isnan(re[k]) || isnan(y);
		int inf = isinf(re[k]) || isinf(y);

		s->nan += nan;
		s->inf += inf;
		if (nan || inf)
			continue;
		if (!complex_)
			TRACK_EXTREMES(s->min.re, s->max.re, re[k],
				       s->finite + nf == 0);
		sx += re[k];
		sy += y;
		nf++;
	}
	if (!nf)
		return;
	mx = sx / (long double)nf;
	my = sy / (long double)nf;
	for (k = 0; k < n; k++) {
		double y = complex_ ? im[k] : 0;
		long double dx, dy;

		if (!isfinite(re[k]) || !isfinite(y))
			continue;
		dx = re[k] - mx;
		dy = y - my;
		m2 += dx * dx + dy * dy;
	}
	s->finite += nf;
	moments_merge(&c->m, nf, mx, my, m2);
}

/* Statistics of one block of integers (exact min and max). */
static void
stats_int_block(struct stats_ctx *c, size_t n, int is_unsigned)
{
	struct tstats *s = c->s;
	long double sum = 0, mean, m2 = 0;
	size_t k;

	for (k = 0; k < n; k++) {
		if (is_unsigned) {
			TRACK_EXTREMES(s->min.u, s->max.u, c->blk->u[k],
				       s->finite + k == 0);
			sum += (long double)c->blk->u[k];
		} else {
			TRACK_EXTREMES(s->min.i, s->max.i, c->blk->i[k],
				       s->finite + k == 0);
			sum += (long double)c->blk->i[k];
		}
	}
	mean = sum / (long double)n;
	for (k = 0; k < n; k++) {
		long double d = (is_unsigned ? (long double)c->blk->u[k]
					     : (long double)c->blk->i[k]) - mean;

		m2 += d * d;
	}
	s->finite += n;
	moments_merge(&c->m, n, mean, 0, m2);
}

static void
stats_run(void *ctx, uint64_t pos, int64_t stride, uint64_t n, int64_t chan,
	  int chan_step)
{
	struct stats_ctx *c = ctx;
	enum tval_kind kind = c->s->kind;

	while (n) {
		size_t m = n < BLOCK ? (size_t)n : BLOCK;

		decode_block(c->t, c->b, c->q, pos, stride, m, chan, chan_step,
			     c->blk);
		c->s->count += m;
		if (kind == TV_FLOAT || kind == TV_COMPLEX)
			stats_float_block(c, m, kind == TV_COMPLEX);
		else
			stats_int_block(c, m, kind == TV_UINT);
		pos += (uint64_t)stride * m;
		if (chan_step)
			chan += (int64_t)m;
		n -= m;
	}
}

/*
 * The view without its stride-0 dimensions (an expand() only repeats
 * values; the quantization axis is kept).  Returns how many times each
 * value of the collapsed view repeats in the whole tensor.
 */
static uint64_t
collapse_expanded(const struct pv_tensor *t, int axis, struct pv_tensor *v,
		  int64_t *shape, int64_t *stride, int *new_axis)
{
	uint64_t reps = 1;
	int d, n = 0;

	*v = *t;
	*new_axis = -1;
	for (d = 0; d < t->ndim; d++) {
		if (t->stride[d] == 0 && d != axis) {
			reps *= (uint64_t)t->shape[d];
			continue;
		}
		if (d == axis)
			*new_axis = n;
		shape[n] = t->shape[d];
		stride[n++] = t->stride[d];
	}
	v->ndim = n;
	v->shape = shape;
	v->stride = stride;
	v->numel = reps ? t->numel / reps : 0;
	return reps;
}

/* Elements a view may read per stored element before we call it abuse. */
#define STATS_MAX_REREADS 16
#define STATS_MIN_WORK ((uint64_t)1 << 24)

int
tensor_stats(const struct pv_tensor *t, const uint8_t *bytes, size_t nbytes,
	     const struct tquant *q, struct tstats *out, struct ckerr *err)
{
	struct stats_ctx c;
	struct pv_tensor v;
	int64_t shape[TENSOR_MAX_DIMS], stride[TENSOR_MAX_DIMS];
	struct tquant qv;
	uint64_t reps, stored;
	int axis = q && q->scheme == TQ_PER_CHANNEL ? q->axis : -1;

	memset(out, 0, sizeof(*out));
	out->kind = tensor_value_kind(t);
	out->min.kind = out->max.kind = out->kind;
	if (!tensor_decodable(t))
		return ckerr_set(err, CKERR_UNSUPPORTED, "values of dtype %s "
				 "cannot be decoded", dtype_name(t->dtype));
	if (tensor_check_bytes(t, nbytes, err) < 0)
		return -1;
	reps = collapse_expanded(t, axis, &v, shape, stride, &axis);
	/* Other overlapping views (as_strided) could read a small storage
	 * 10^12 times: refuse rather than hang. */
	stored = (uint64_t)nbytes / dtype_size(t->dtype) * dtype_per_byte(t->dtype);
	if (v.numel > STATS_MIN_WORK && v.numel / STATS_MAX_REREADS > stored)
		return ckerr_set(err, CKERR_UNSUPPORTED, "the view reads its %llu "
				 "stored elements %llu times over (overlapping "
				 "strides); statistics are not computed",
				 (unsigned long long)stored,
				 (unsigned long long)(v.numel / (stored ? stored : 1)));
	if (q) {
		qv = *q;
		qv.axis = axis;
		q = &qv;
	}
	memset(&c, 0, sizeof(c));
	c.blk = malloc(sizeof(*c.blk));
	if (!c.blk)
		return ckerr_nomem(err);
	c.t = &v;
	c.b = bytes;
	c.q = q;
	c.s = out;
	foreach_run(&v, axis, UINT64_MAX, stats_run, &c);
	free(c.blk);
	/* each value of the collapsed view stands for reps equal values */
	out->count *= reps;
	out->nan *= reps;
	out->inf *= reps;
	out->finite *= reps;
	c.m.m2 *= (long double)reps;
	out->mean = (double)c.m.mean;
	out->mean_im = (double)c.m.mean_im;
	out->std = out->finite > 1 ?
		   (double)sqrtl(c.m.m2 / (long double)(out->finite - 1)) : NAN;
	return 0;
}

struct values_ctx {
	const struct pv_tensor *t;
	const uint8_t *b;
	const struct tquant *q;
	struct tval *out;
	size_t n;
	struct block *blk;
};

static void
values_run(void *ctx, uint64_t pos, int64_t stride, uint64_t n, int64_t chan,
	   int chan_step)
{
	struct values_ctx *c = ctx;
	enum tval_kind kind = tensor_value_kind(c->t);
	size_t k;

	while (n) {
		size_t m = n < BLOCK ? (size_t)n : BLOCK;

		decode_block(c->t, c->b, c->q, pos, stride, m, chan, chan_step,
			     c->blk);
		for (k = 0; k < m; k++) {
			struct tval *v = &c->out[c->n++];

			memset(v, 0, sizeof(*v));
			v->kind = kind;
			if (kind == TV_FLOAT || kind == TV_COMPLEX)
				v->re = c->blk->re[k];
			if (kind == TV_COMPLEX)
				v->im = c->blk->im[k];
			if (kind == TV_SINT || kind == TV_BOOL)
				v->i = c->blk->i[k];
			if (kind == TV_UINT)
				v->u = c->blk->u[k];
		}
		pos += (uint64_t)stride * m;
		if (chan_step)
			chan += (int64_t)m;
		n -= m;
	}
}

ptrdiff_t
tensor_values(const struct pv_tensor *t, const uint8_t *bytes, size_t nbytes,
	      const struct tquant *q, struct tval *out, size_t n,
	      struct ckerr *err)
{
	struct values_ctx c = { t, bytes, q, out, 0, NULL };

	if (!tensor_decodable(t))
		return ckerr_set(err, CKERR_UNSUPPORTED, "values of dtype %s "
				 "cannot be decoded", dtype_name(t->dtype));
	if (tensor_check_bytes(t, nbytes, err) < 0)
		return -1;
	c.blk = malloc(sizeof(*c.blk));
	if (!c.blk)
		return ckerr_nomem(err);
	foreach_run(t, q && q->scheme == TQ_PER_CHANNEL ? q->axis : -1, n,
		    values_run, &c);
	free(c.blk);
	return (ptrdiff_t)c.n;
}
