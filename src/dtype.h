/*
 * dtype: the element types a checkpoint can hold, as one table.
 *
 * Everything about a dtype (its name, size, kind, the legacy torch storage
 * class that carries it, its safetensors name, torch's aliases) lives in
 * DTYPE_TABLE below; the functions here only look things up in it.
 */
#ifndef DTYPE_H
#define DTYPE_H

#include <stddef.h>
#include <stdint.h>

enum dtype_kind {
	DK_FLOAT,	/* IEEE binary (float16/32/64) or bfloat16 */
	DK_FLOAT8,	/* 8-bit floats of torch 2.x */
	DK_COMPLEX,	/* two floats, real then imaginary */
	DK_SINT,	/* two's-complement signed integer */
	DK_UINT,	/* unsigned integer */
	DK_BOOL,	/* one byte, 0 or 1 */
	DK_QUANT,	/* quantized integers (need scale/zero point) */
};

/*
 * X(ENUM, name, size, per_byte, kind, storage class, safetensors, aliases)
 *   size      bytes per storage element
 *   per_byte  values packed in one storage byte (sub-byte quantized types),
 *             else 1
 *   aliases   other names torch accepts, space-separated ("" for none)
 */
#define DTYPE_TABLE(X) \
	X(FLOAT64, "float64", 8, 1, DK_FLOAT, "DoubleStorage", "F64", "double") \
	X(FLOAT32, "float32", 4, 1, DK_FLOAT, "FloatStorage", "F32", "float") \
	X(FLOAT16, "float16", 2, 1, DK_FLOAT, "HalfStorage", "F16", "half") \
	X(BFLOAT16, "bfloat16", 2, 1, DK_FLOAT, "BFloat16Storage", "BF16", "") \
	X(COMPLEX128, "complex128", 16, 1, DK_COMPLEX, "ComplexDoubleStorage", NULL, "cdouble") \
	X(COMPLEX64, "complex64", 8, 1, DK_COMPLEX, "ComplexFloatStorage", "C64", "cfloat") \
	X(COMPLEX32, "complex32", 4, 1, DK_COMPLEX, NULL, NULL, "chalf") \
	X(INT64, "int64", 8, 1, DK_SINT, "LongStorage", "I64", "long") \
	X(INT32, "int32", 4, 1, DK_SINT, "IntStorage", "I32", "int") \
	X(INT16, "int16", 2, 1, DK_SINT, "ShortStorage", "I16", "short") \
	X(INT8, "int8", 1, 1, DK_SINT, "CharStorage", "I8", "") \
	X(UINT8, "uint8", 1, 1, DK_UINT, "ByteStorage", "U8", "") \
	X(UINT16, "uint16", 2, 1, DK_UINT, NULL, "U16", "") \
	X(UINT32, "uint32", 4, 1, DK_UINT, NULL, "U32", "") \
	X(UINT64, "uint64", 8, 1, DK_UINT, NULL, "U64", "") \
	X(BOOL, "bool", 1, 1, DK_BOOL, "BoolStorage", "BOOL", "") \
	X(QINT8, "qint8", 1, 1, DK_QUANT, "QInt8Storage", NULL, "") \
	X(QUINT8, "quint8", 1, 1, DK_QUANT, "QUInt8Storage", NULL, "") \
	X(QINT32, "qint32", 4, 1, DK_QUANT, "QInt32Storage", NULL, "") \
	X(QUINT4X2, "quint4x2", 1, 2, DK_QUANT, "QUInt4x2Storage", NULL, "") \
	X(QUINT2X4, "quint2x4", 1, 4, DK_QUANT, "QUInt2x4Storage", NULL, "") \
	X(FLOAT8_E5M2, "float8_e5m2", 1, 1, DK_FLOAT8, NULL, "F8_E5M2", "") \
	X(FLOAT8_E4M3FN, "float8_e4m3fn", 1, 1, DK_FLOAT8, NULL, "F8_E4M3", "") \
	X(FLOAT8_E5M2FNUZ, "float8_e5m2fnuz", 1, 1, DK_FLOAT8, NULL, NULL, "") \
	X(FLOAT8_E4M3FNUZ, "float8_e4m3fnuz", 1, 1, DK_FLOAT8, NULL, NULL, "") \
	X(FLOAT8_E8M0FNU, "float8_e8m0fnu", 1, 1, DK_FLOAT8, NULL, "F8_E8M0", "")

enum dtype {
	DT_INVALID = 0,
#define DTYPE_ENUM(e, ...) DT_##e,
	DTYPE_TABLE(DTYPE_ENUM)
#undef DTYPE_ENUM
	DT__COUNT
};

/* Canonical name ("float32"); "invalid" for DT_INVALID. */
const char *dtype_name(enum dtype dt);

/* Bytes per storage element (1 for the packed quint4x2/quint2x4). */
size_t dtype_size(enum dtype dt);

/* Values packed per storage byte: 2 for quint4x2, 4 for quint2x4, else 1. */
unsigned dtype_per_byte(enum dtype dt);

enum dtype_kind dtype_kind(enum dtype dt);

/* The legacy torch storage class name ("FloatStorage") or NULL. */
const char *dtype_storage_class(enum dtype dt);

/* dtype of a legacy storage class name, DT_INVALID when unknown. */
enum dtype dtype_from_storage_class(const char *name);

/*
 * Parse a dtype name as users and files write it: the canonical names,
 * with or without "torch.", torch's aliases ("half", "long") and the
 * safetensors names ("F32", "BF16").  DT_INVALID when unknown.
 */
enum dtype dtype_from_name(const char *s, size_t len);

#endif
