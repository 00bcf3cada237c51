/*
 * tensor: reading a tensor's values from its storage bytes.
 *
 * A tensor (struct pv_tensor) is a strided view of a storage: element
 * (i0, i1, ...) lives at storage element offset + sum(ik * stride_k).  The
 * functions here walk that view in row-major logical order, decode each
 * element whatever its dtype (half and bfloat16 included; the sub-byte
 * quantized types unpacked; the 2.x neg/conj bits applied; quantized
 * values dequantized with their scale and zero point), and compute
 * statistics or a preview.  They never allocate per element and read only
 * the bytes the view covers; the caller supplies the storage bytes.
 */
#ifndef TENSOR_H
#define TENSOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ckerr.h"
#include "pyval.h"

/* Same bound as torchpkl enforces on what it builds. */
#define TENSOR_MAX_DIMS 64

/* One decoded element. */
enum tval_kind { TV_FLOAT, TV_SINT, TV_UINT, TV_BOOL, TV_COMPLEX };

struct tval {
	enum tval_kind kind;
	double re, im;		/* TV_FLOAT, TV_COMPLEX (and dequantized) */
	int64_t i;		/* TV_SINT, TV_BOOL */
	uint64_t u;		/* TV_UINT */
};

/* Quantization parameters, resolved by the caller from the qparams. */
enum tquant_scheme { TQ_NONE, TQ_PER_TENSOR, TQ_PER_CHANNEL };

struct tquant {
	enum tquant_scheme scheme;
	double scale;		/* per tensor */
	int64_t zero_point;
	const double *scales;	/* per channel: nch entries (borrowed) */
	const int64_t *zero_points;
	size_t nch;
	int axis;
};

/* Statistics over a tensor's values (see tensor_stats). */
struct tstats {
	uint64_t count;		/* elements */
	uint64_t nan, inf;	/* as torch.isnan / torch.isinf count them */
	uint64_t finite;	/* elements that min/max/mean/std cover */
	enum tval_kind kind;	/* of the values (dequantized: TV_FLOAT) */
	struct tval min, max;	/* valid when finite > 0 (not complex) */
	double mean, mean_im;	/* valid when finite > 0 */
	double std;		/* unbiased; valid when finite > 1 */
};

/* The kind of value tensor_value() yields for this tensor. */
enum tval_kind tensor_value_kind(const struct pv_tensor *t);

/* Can this tensor's values be decoded (false for the 8-bit floats)? */
bool tensor_decodable(const struct pv_tensor *t);

/*
 * Check that the view fits in nbytes of storage (already guaranteed for
 * tensors made by torchpkl against the declared storage size; this
 * re-checks against the bytes actually supplied).
 */
int tensor_check_bytes(const struct pv_tensor *t, size_t nbytes,
		       struct ckerr *err);

/*
 * Compute statistics.  min/max/mean/std cover the finite elements only
 * (a complex element is finite when both parts are); nan and inf count
 * what torch.isnan and torch.isinf would.  q is NULL unless quantized.
 */
int tensor_stats(const struct pv_tensor *t, const uint8_t *bytes,
		 size_t nbytes, const struct tquant *q, struct tstats *out,
		 struct ckerr *err);

/*
 * Decode the first n elements (row-major logical order) into out; returns
 * how many were written (min(n, numel)) or -1.
 */
ptrdiff_t tensor_values(const struct pv_tensor *t, const uint8_t *bytes,
			size_t nbytes, const struct tquant *q,
			struct tval *out, size_t n, struct ckerr *err);

/*
 * Encode the value text (a number, inf, nan, true or false, as the script
 * language writes it) as one element of dtype dt into out (dtype_size(dt)
 * bytes), converting as torch.tensor(X, dtype=dt) does.  Fails when the
 * value does not fit: a finite number that rounds to infinity, a
 * non-integer or out-of-range value for an integer dtype, anything but
 * true/false/1/0 for bool; and for quantized and 8-bit float dtypes.
 */
int tensor_encode_value(enum dtype dt, const char *text, uint8_t *out,
			struct ckerr *err);

/* Bytes of the tensor's elements: numel * element size. */
uint64_t tensor_nbytes(const struct pv_tensor *t);

#endif
