/*
 * jsonv: building JSON documents (wraps jansson; the only module that
 * includes <jansson.h>).
 *
 * Values are built bottom-up and handed to a container, which takes
 * ownership.  jsonv_set/jsonv_push accept NULL for a value that failed to
 * build and then fail (-1), so a caller can build a document and check
 * one accumulated status at the end instead of every step.
 * Strings that are not valid UTF-8 are repaired (each bad byte becomes
 * U+FFFD) rather than refused, since keys come from untrusted files.
 * Doubles that JSON cannot hold (NaN, infinities) become the strings
 * "nan", "inf" and "-inf".
 */
#ifndef JSONV_H
#define JSONV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct jsonv;

struct jsonv *jsonv_object(void);
struct jsonv *jsonv_array(void);
struct jsonv *jsonv_string(const char *s, size_t len);
struct jsonv *jsonv_cstring(const char *s);
struct jsonv *jsonv_int(int64_t i);
struct jsonv *jsonv_uint(uint64_t u);	/* above INT64_MAX: a real */
struct jsonv *jsonv_real(double f);
struct jsonv *jsonv_bool(bool b);
struct jsonv *jsonv_null(void);

/* Add a member / element; takes ownership of val even on failure. */
int jsonv_set(struct jsonv *obj, const char *key, struct jsonv *val);
int jsonv_push(struct jsonv *arr, struct jsonv *val);

/* Serialise compactly, members in insertion order; caller frees. */
char *jsonv_dump(const struct jsonv *v);

void jsonv_free(struct jsonv *v);

#endif
