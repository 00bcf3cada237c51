/* jsonv: a thin, failure-tolerant builder over jansson. */
#include "config.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <jansson.h>

#include "buf.h"
#include "jsonv.h"
#include "banned.h"

/* A jsonv is a json_t; the cast keeps jansson out of our headers. */
#define J(v) ((json_t *)(v))
#define V(j) ((struct jsonv *)(j))

struct jsonv *
jsonv_object(void)
{
	return V(json_object());
}

struct jsonv *
jsonv_array(void)
{
	return V(json_array());
}

/* Length of the valid UTF-8 sequence at p, or 0. */
static size_t
utf8_seq(const unsigned char *p, size_t left)
{
	size_t n, i;
	uint32_t cp;

	if (p[0] < 0x80)
		return 1;
	if ((p[0] & 0xe0) == 0xc0) {
		n = 2;
		cp = p[0] & 0x1f;
	} else if ((p[0] & 0xf0) == 0xe0) {
		n = 3;
		cp = p[0] & 0x0f;
	} else if ((p[0] & 0xf8) == 0xf0) {
		n = 4;
		cp = p[0] & 0x07;
	} else {
		return 0;
	}
	if (n > left)
		return 0;
	for (i = 1; i < n; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (p[i] & 0x3f);
	}
	if ((n == 2 && cp < 0x80) || (n == 3 && cp < 0x800) ||
	    (n == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
	    (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return n;
}

struct jsonv *
jsonv_string(const char *s, size_t len)
{
	const unsigned char *p = (const unsigned char *)s;
	struct buf b = BUF_INIT;
	json_t *j;
	size_t i = 0, n;

	for (n = 0; i < len; i += n)
		if (!(n = utf8_seq(p + i, len - i)))
			break;
	if (i == len)
		return V(json_stringn(s, len));
	for (i = 0; i < len; i += n) {
		n = utf8_seq(p + i, len - i);
		if (n ? buf_add(&b, p + i, n) < 0
		      : buf_addstr(&b, "\xef\xbf\xbd") < 0) {
			buf_release(&b);
			return NULL;
		}
		if (!n)
			n = 1;
	}
	j = json_stringn(b.data, b.len);
	buf_release(&b);
	return V(j);
}

struct jsonv *
jsonv_cstring(const char *s)
{
	return jsonv_string(s, strlen(s));
}

struct jsonv *
jsonv_int(int64_t i)
{
	return V(json_integer((json_int_t)i));
}

struct jsonv *
jsonv_uint(uint64_t u)
{
	if (u <= INT64_MAX)
		return V(json_integer((json_int_t)u));
	return V(json_real((double)u));
}

struct jsonv *
jsonv_real(double f)
{
	if (isnan(f))
		return jsonv_cstring("nan");
	if (isinf(f))
		return jsonv_cstring(f < 0 ? "-inf" : "inf");
	return V(json_real(f));
}

struct jsonv *
jsonv_bool(bool b)
{
	return V(json_boolean(b));
}

struct jsonv *
jsonv_null(void)
{
	return V(json_null());
}

int
jsonv_set(struct jsonv *obj, const char *key, struct jsonv *val)
{
	if (!obj || !val) {
		json_decref(J(val));
		return -1;
	}
	return json_object_set_new(J(obj), key, J(val)) ? -1 : 0;
}

int
jsonv_push(struct jsonv *arr, struct jsonv *val)
{
	if (!arr || !val) {
		json_decref(J(val));
		return -1;
	}
	return json_array_append_new(J(arr), J(val)) ? -1 : 0;
}

char *
jsonv_dump(const struct jsonv *v)
{
	if (!v)
		return NULL;
	return json_dumps(J(v), JSON_COMPACT | JSON_PRESERVE_ORDER |
				 JSON_REAL_PRECISION(17));
}

void
jsonv_free(struct jsonv *v)
{
	json_decref(J(v));
}
