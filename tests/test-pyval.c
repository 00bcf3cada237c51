/*
 * test-pyval: the value graph -- dict semantics (Python's key rules, order,
 * the hash index), big-int normalisation, global names, node ids and
 * arena strings.
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "pyval.h"
#include "banned.h"

/* Per test: an arena and an error. */
struct fx {
	struct pyarena *a;
	struct ckerr err;
};

static int
setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	if (!f)
		return -1;
	f->a = pyarena_new(&f->err);
	if (!f->a) {
		free(f);
		return -1;
	}
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fx *f = *state;

	pyarena_free(f->a);
	free(f);
	return 0;
}

/* ---- helpers ---------------------------------------------------------- */

static struct pyval *
str(struct fx *f, const char *s)
{
	struct pyval *v = pyval_str(f->a, s, strlen(s));

	assert_non_null(v);
	return v;
}

static struct pyval *
int_(struct fx *f, int64_t i)
{
	struct pyval *v = pyval_int(f->a, i);

	assert_non_null(v);
	return v;
}

static struct pyval *
float_(struct fx *f, double d)
{
	struct pyval *v = pyval_float(f->a, d);

	assert_non_null(v);
	return v;
}

static struct pyval *
new_dict(struct fx *f)
{
	struct pyval *d = pyval_dict(f->a);

	assert_non_null(d);
	assert_int_equal(d->kind, PV_DICT);
	return d;
}

/* A sequence of kind holding the n items given. */
static struct pyval *
seq_of(struct fx *f, enum pyval_kind kind, size_t n, ...)
{
	struct pyval *s = pyval_seq(f->a, kind);
	va_list ap;
	size_t i;

	assert_non_null(s);
	va_start(ap, n);
	for (i = 0; i < n; i++)
		assert_int_equal(pyval_seq_append(s, va_arg(ap, struct pyval *),
						  &f->err), 0);
	va_end(ap);
	return s;
}

/* A SET or FROZENSET of the n elements given (duplicates dropped). */
static struct pyval *
set_of(struct fx *f, enum pyval_kind kind, size_t n, ...)
{
	struct pyval *s = pyval_set(f->a, kind);
	va_list ap;
	size_t i;

	assert_non_null(s);
	va_start(ap, n);
	for (i = 0; i < n; i++)
		assert_int_equal(pyval_set_add(s, va_arg(ap, struct pyval *),
					       &f->err), 0);
	va_end(ap);
	return s;
}

/* d[k] = v, which must succeed. */
static void
set_ok(struct fx *f, struct pyval *d, struct pyval *k, struct pyval *v)
{
	if (pyval_dict_set(d, k, v, &f->err) < 0)
		fail_msg("pyval_dict_set: %s", f->err.msg);
}

/* d[k] = v, which must be refused with this code and message. */
static void
set_refused_code(struct fx *f, struct pyval *d, struct pyval *k,
		 enum ckerr_code code, const char *msg)
{
	size_t len = d->u.dict->len;

	ckerr_clear(&f->err);
	assert_int_equal(pyval_dict_set(d, k, int_(f, 1), &f->err), -1);
	assert_int_equal(f->err.code, code);
	assert_string_equal(f->err.msg, msg);
	assert_int_equal(d->u.dict->len, len);		/* unchanged */
	assert_null(pyval_dict_get(d, k));
}

/* d[k] = v, which must be refused as an unhashable key. */
static void
set_refused(struct fx *f, struct pyval *d, struct pyval *k, const char *msg)
{
	set_refused_code(f, d, k, CKERR_FORMAT, msg);
}

static void
assert_int_v(const struct pyval *v, int64_t want)
{
	assert_non_null(v);
	assert_int_equal(v->kind, PV_INT);
	assert_true(v->u.i == want);
}

/* pyval_bigint of a byte literal. */
#define BIGINT(f, lit) \
	pyval_bigint((f)->a, (const uint8_t *)(lit), sizeof(lit) - 1)

/* ---- dict: order and replacement -------------------------------------- */

static void
test_pyval__dict_insertion_order(void **state)
{
	struct fx *f = *state;
	struct pyval *d = new_dict(f);
	static const char *const keys[] = { "c", "a", "b", "z", "" };
	size_t i;

	for (i = 0; i < 5; i++)
		set_ok(f, d, str(f, keys[i]), int_(f, (int64_t)i));
	assert_int_equal(d->u.dict->len, 5);
	for (i = 0; i < 5; i++) {
		assert_true(pyval_is_str(d->u.dict->items[i].key, keys[i]));
		assert_int_v(d->u.dict->items[i].value, (int64_t)i);
		assert_int_equal(pyval_dict_find_str(d, keys[i],
						     strlen(keys[i])),
				 (ptrdiff_t)i);
	}
	assert_int_equal(pyval_dict_find_str(d, "q", 1), -1);
	assert_null(pyval_dict_get_str(d, "q", 1));
}

static void
test_pyval__dict_replace_keeps_position_and_first_key(void **state)
{
	struct fx *f = *state;
	struct pyval *d = new_dict(f);
	struct pyval *a1 = str(f, "a"), *a2 = str(f, "a");
	struct pyval *v3 = int_(f, 3);

	set_ok(f, d, a1, int_(f, 1));
	set_ok(f, d, str(f, "b"), int_(f, 2));
	set_ok(f, d, a2, v3);			/* d['a'] = 3, another 'a' */
	assert_int_equal(d->u.dict->len, 2);
	assert_ptr_equal(d->u.dict->items[0].key, a1);	/* first key kept */
	assert_ptr_equal(d->u.dict->items[0].value, v3);	/* new value */
	assert_true(pyval_is_str(d->u.dict->items[1].key, "b"));
	assert_ptr_equal(pyval_dict_get(d, a2), v3);
	assert_ptr_equal(pyval_dict_get_str(d, "a", 1), v3);
}

static void
test_pyval__dict_many_keys_use_the_index(void **state)
{
	struct fx *f = *state;
	struct pyval *d = new_dict(f), *n = new_dict(f);
	char key[32];
	int i, len;

	for (i = 0; i < 10000; i++) {
		len = snprintf(key, sizeof(key), "layer.%d.weight", i);
		set_ok(f, d, pyval_str(f->a, key, (size_t)len), int_(f, i));
		set_ok(f, n, int_(f, (int64_t)i * 7919), int_(f, i));
	}
	assert_int_equal(d->u.dict->len, 10000);
	assert_int_equal(n->u.dict->len, 10000);
	/* the hash index exists and keeps its load factor */
	assert_true(d->u.dict->index_cap > 2 * d->u.dict->len);
	assert_int_equal(d->u.dict->index_cap & (d->u.dict->index_cap - 1), 0);
	for (i = 0; i < 10000; i++) {
		len = snprintf(key, sizeof(key), "layer.%d.weight", i);
		assert_int_v(pyval_dict_get_str(d, key, (size_t)len), i);
		assert_int_equal(pyval_dict_find_str(d, key, (size_t)len), i);
		/* a fresh, equal key node finds it too */
		assert_int_v(pyval_dict_get(d, pyval_str(f->a, key,
							 (size_t)len)), i);
		assert_int_v(pyval_dict_get(n, int_(f, (int64_t)i * 7919)), i);
		assert_true(pyval_is_str(d->u.dict->items[i].key, key));
	}
	assert_null(pyval_dict_get_str(d, "layer.10000.weight", 18));
	assert_null(pyval_dict_get(n, int_(f, 1)));
	/* replacing still keeps position once the index is in use */
	set_ok(f, d, str(f, "layer.5000.weight"), int_(f, -1));
	assert_int_equal(d->u.dict->len, 10000);
	assert_int_v(d->u.dict->items[5000].value, -1);
}

/* ---- dict: Python's key rules ----------------------------------------- */

static void
test_pyval__dict_numeric_keys_like_python(void **state)
{
	struct fx *f = *state;
	struct pyval *d = new_dict(f);
	struct pyval *one = int_(f, 1), *zero = int_(f, 0), *last;

	/* d[1] = 'i'; d[1.0] = 'f'; d[True] = 'b': one key, the int */
	set_ok(f, d, one, str(f, "i"));
	set_ok(f, d, float_(f, 1.0), str(f, "f"));
	last = str(f, "b");
	set_ok(f, d, pyval_bool(f->a, true), last);
	assert_int_equal(d->u.dict->len, 1);
	assert_ptr_equal(d->u.dict->items[0].key, one);
	assert_ptr_equal(d->u.dict->items[0].value, last);
	assert_ptr_equal(pyval_dict_get(d, float_(f, 1.0)), last);
	assert_ptr_equal(pyval_dict_get(d, pyval_bool(f->a, true)), last);
	/* 0 == -0.0 == False */
	set_ok(f, d, zero, str(f, "zero"));
	set_ok(f, d, float_(f, -0.0), str(f, "negzero"));
	set_ok(f, d, pyval_bool(f->a, false), str(f, "false"));
	assert_int_equal(d->u.dict->len, 2);
	assert_ptr_equal(d->u.dict->items[1].key, zero);
	assert_true(pyval_is_str(pyval_dict_get(d, float_(f, 0.0)), "false"));
	/* but 2 != 2.5, 1 != '1', and None is its own key */
	set_ok(f, d, float_(f, 2.5), str(f, "x"));
	set_ok(f, d, int_(f, 2), str(f, "y"));
	set_ok(f, d, str(f, "1"), str(f, "s"));
	set_ok(f, d, pyval_none(f->a), str(f, "n"));
	assert_int_equal(d->u.dict->len, 6);
	assert_true(pyval_is_str(pyval_dict_get(d, float_(f, 2.0)), "y"));
	assert_null(pyval_dict_get(d, float_(f, 1.5)));
	/* the same rules through pyval_key_equal */
	assert_true(pyval_key_equal(int_(f, 3), float_(f, 3.0)));
	assert_true(pyval_key_equal(pyval_bool(f->a, true), int_(f, 1)));
	assert_false(pyval_key_equal(int_(f, 3), float_(f, 3.5)));
	assert_false(pyval_key_equal(int_(f, 1), str(f, "1")));
	assert_false(pyval_key_equal(pyval_none(f->a), int_(f, 0)));
}

static void
test_pyval__dict_str_and_bytes_differ(void **state)
{
	struct fx *f = *state;
	struct pyval *d = new_dict(f);
	struct pyval *b = pyval_bytes(f->a, PV_BYTES, "k", 1);

	assert_non_null(b);
	set_ok(f, d, str(f, "k"), int_(f, 1));
	set_ok(f, d, b, int_(f, 2));		/* 'k' != b'k' */
	assert_int_equal(d->u.dict->len, 2);
	assert_int_v(pyval_dict_get_str(d, "k", 1), 1);
	assert_int_v(pyval_dict_get(d, b), 2);
}

static void
test_pyval__dict_tuple_keys_by_value(void **state)
{
	struct fx *f = *state;
	struct pyval *d = new_dict(f);
	struct pyval *k1 = seq_of(f, PV_TUPLE, 2, int_(f, 1), str(f, "a"));
	struct pyval *inner;

	set_ok(f, d, k1, str(f, "first"));
	/* an equal tuple made separately is the same key */
	set_ok(f, d, seq_of(f, PV_TUPLE, 2, int_(f, 1), str(f, "a")),
	       str(f, "second"));
	assert_int_equal(d->u.dict->len, 1);
	assert_ptr_equal(d->u.dict->items[0].key, k1);
	/* numeric rules apply inside: (1.0, 'a') == (1, 'a') */
	assert_true(pyval_is_str(pyval_dict_get(d, seq_of(f, PV_TUPLE, 2,
			float_(f, 1.0), str(f, "a"))), "second"));
	/* different values, lengths or order are different keys */
	set_ok(f, d, seq_of(f, PV_TUPLE, 2, int_(f, 1), str(f, "b")),
	       int_(f, 0));
	set_ok(f, d, seq_of(f, PV_TUPLE, 2, str(f, "a"), int_(f, 1)),
	       int_(f, 0));
	set_ok(f, d, seq_of(f, PV_TUPLE, 1, int_(f, 1)), int_(f, 0));
	set_ok(f, d, seq_of(f, PV_TUPLE, 0), int_(f, 0));
	assert_int_equal(d->u.dict->len, 5);
	/* nested tuples */
	inner = seq_of(f, PV_TUPLE, 2, int_(f, 1), int_(f, 2));
	set_ok(f, d, seq_of(f, PV_TUPLE, 2, inner, int_(f, 3)), str(f, "n"));
	assert_true(pyval_is_str(pyval_dict_get(d, seq_of(f, PV_TUPLE, 2,
			seq_of(f, PV_TUPLE, 2, int_(f, 1), int_(f, 2)),
			int_(f, 3))), "n"));
	assert_null(pyval_dict_get(d, seq_of(f, PV_TUPLE, 2,
			seq_of(f, PV_TUPLE, 2, int_(f, 1), int_(f, 9)),
			int_(f, 3))));
}

static void
test_pyval__dict_object_keys_by_identity(void **state)
{
	struct fx *f = *state;
	struct pyval *d = new_dict(f);
	struct pyval *cls = pyval_global(f->a, "m", 1, "C", 1);
	struct pyval *args = seq_of(f, PV_TUPLE, 0);
	struct pyval *o1 = pyval_object(f->a, PV_BY_REDUCE, cls, args);
	struct pyval *o2 = pyval_object(f->a, PV_BY_REDUCE, cls, args);
	struct pyval *g2 = pyval_global(f->a, "m", 1, "C", 1);

	assert_non_null(o1);
	assert_non_null(o2);
	assert_non_null(g2);
	/* two objects built the same way are still two objects */
	set_ok(f, d, o1, int_(f, 1));
	set_ok(f, d, o2, int_(f, 2));
	assert_int_equal(d->u.dict->len, 2);
	assert_int_v(pyval_dict_get(d, o1), 1);
	assert_int_v(pyval_dict_get(d, o2), 2);
	set_ok(f, d, o1, int_(f, 3));
	assert_int_equal(d->u.dict->len, 2);
	assert_int_v(pyval_dict_get(d, o1), 3);
	assert_false(pyval_key_equal(o1, o2));
	assert_true(pyval_key_equal(o1, o1));
	/* a class is one object: two GLOBAL nodes of m.C are one key */
	set_ok(f, d, cls, int_(f, 4));
	set_ok(f, d, g2, int_(f, 5));
	assert_int_equal(d->u.dict->len, 3);
	assert_int_v(pyval_dict_get(d, cls), 5);
}

static void
test_pyval__dict_unhashable_keys_refused(void **state)
{
	struct fx *f = *state;
	struct pyval *d = new_dict(f);
	struct pyval *ba = pyval_bytes(f->a, PV_BYTEARRAY, "x", 1);

	set_ok(f, d, str(f, "ok"), int_(f, 0));
	set_refused(f, d, seq_of(f, PV_LIST, 0), "unhashable dict key (list)");
	set_refused(f, d, new_dict(f), "unhashable dict key (dict)");
	set_refused(f, d, set_of(f, PV_SET, 1, int_(f, 1)),
		    "unhashable dict key (set)");
	set_refused(f, d, ba, "unhashable dict key (bytearray)");
	/* a tuple holding a list is unhashable too */
	set_refused(f, d, seq_of(f, PV_TUPLE, 2, int_(f, 1),
				 seq_of(f, PV_LIST, 0)),
		    "unhashable dict key (tuple)");
	assert_int_equal(d->u.dict->len, 1);
	/* but a frozenset is hashable */
	set_ok(f, d, set_of(f, PV_FROZENSET, 1, int_(f, 1)), int_(f, 1));
	assert_int_equal(d->u.dict->len, 2);
}

/* A tuple key nested n tuples deep: (((1,),),) for n = 3. */
static struct pyval *
nested_tuple(struct fx *f, int n)
{
	struct pyval *k = int_(f, 1);

	while (n-- > 0)
		k = seq_of(f, PV_TUPLE, 1, k);
	return k;
}

static void
test_pyval__dict_key_depth_limit(void **state)
{
	struct fx *f = *state;
	struct pyval *d = new_dict(f);
	struct pyval *deep = nested_tuple(f, PYVAL_MAX_KEY_DEPTH);

	set_ok(f, d, deep, int_(f, 1));
	assert_int_v(pyval_dict_get(d, nested_tuple(f, PYVAL_MAX_KEY_DEPTH)),
		     1);
	/* one level deeper is refused (a limit), not recursed into */
	set_refused_code(f, d, nested_tuple(f, PYVAL_MAX_KEY_DEPTH + 1),
			 CKERR_LIMIT, "key nested more than 64 deep");
}

/* ---- big ints --------------------------------------------------------- */

static void
test_pyval__bigint_fits_becomes_int(void **state)
{
	struct fx *f = *state;

	assert_int_v(pyval_bigint(f->a, NULL, 0), 0);	/* LONG1 0 bytes */
	assert_int_v(BIGINT(f, "\x00"), 0);
	assert_int_v(BIGINT(f, "\x7f"), 127);
	assert_int_v(BIGINT(f, "\x80"), -128);
	assert_int_v(BIGINT(f, "\xff"), -1);
	assert_int_v(BIGINT(f, "\x00\x01"), 256);
	assert_int_v(BIGINT(f, "\xff\x7f"), 32767);
	assert_int_v(BIGINT(f, "\x00\x80"), -32768);
	assert_int_v(BIGINT(f, "\x00\x00\x00\x80\x00"), (int64_t)1 << 31);
	assert_int_v(BIGINT(f, "\xff\xff\xff\x7f\xff"),
		     -((int64_t)1 << 31) - 1);
	assert_int_v(BIGINT(f, "\xff\xff\xff\xff\xff\xff\xff\x7f"), INT64_MAX);
	assert_int_v(BIGINT(f, "\x00\x00\x00\x00\x00\x00\x00\x80"), INT64_MIN);
	assert_int_v(BIGINT(f, "\x01\x02\x03\x04\x05\x06\x07\x08"),
		     0x0807060504030201LL);
}

static void
test_pyval__bigint_sign_extension(void **state)
{
	struct fx *f = *state;
	uint8_t le[8];
	size_t len;

	for (len = 1; len <= 8; len++) {
		int64_t top = (int64_t)((uint64_t)1 << (8 * len - 1));

		/* all ones: -1 at every width */
		memset(le, 0xff, len);
		assert_int_v(pyval_bigint(f->a, le, len), -1);
		/* only the sign bit: the most negative value of the width */
		memset(le, 0, len);
		le[len - 1] = 0x80;
		assert_int_v(pyval_bigint(f->a, le, len),
			     len == 8 ? INT64_MIN : -top);
		/* all but the sign bit: the largest value of the width */
		memset(le, 0xff, len);
		le[len - 1] = 0x7f;
		assert_int_v(pyval_bigint(f->a, le, len),
			     len == 8 ? INT64_MAX : top - 1);
		/* a positive value with bit 7 set in a lower byte */
		memset(le, 0, len);
		le[0] = 0x80;
		assert_int_v(pyval_bigint(f->a, le, len),
			     len == 1 ? -128 : 128);
	}
}

static void
test_pyval__bigint_kept_when_too_big(void **state)
{
	struct fx *f = *state;
	static const char two63[] = "\x00\x00\x00\x00\x00\x00\x00\x80\x00";
	static const char minus[] = "\xff\xff\xff\xff\xff\xff\xff\x7f\xff";
	struct pyval *a = BIGINT(f, two63), *b = BIGINT(f, minus);
	struct pyval *d = new_dict(f);

	/* 2**63 and -2**63-1: the first values that need 9 bytes */
	assert_non_null(a);
	assert_int_equal(a->kind, PV_BIGINT);
	assert_int_equal(a->u.s.len, 9);
	assert_memory_equal(a->u.s.data, two63, 9);
	assert_int_equal(b->kind, PV_BIGINT);
	assert_memory_equal(b->u.s.data, minus, 9);
	/* big ints are keys by value */
	set_ok(f, d, a, int_(f, 1));
	set_ok(f, d, BIGINT(f, two63), int_(f, 2));
	set_ok(f, d, b, int_(f, 3));
	assert_int_equal(d->u.dict->len, 2);
	assert_int_v(pyval_dict_get(d, a), 2);
}

/* ---- globals ---------------------------------------------------------- */

static struct pyval *
global(struct fx *f, const char *module, const char *name)
{
	struct pyval *g = pyval_global(f->a, module, strlen(module), name,
				       strlen(name));

	assert_non_null(g);
	assert_int_equal(g->kind, PV_GLOBAL);
	assert_string_equal(g->u.global.module, module);	/* as read */
	assert_string_equal(g->u.global.name, name);
	return g;
}

static void
test_pyval__is_global_python2_names(void **state)
{
	struct fx *f = *state;
	struct pyval *py2 = global(f, "__builtin__", "set");
	struct pyval *py3 = global(f, "builtins", "set");
	struct pyval *creg = global(f, "copy_reg", "_reconstructor");
	struct pyval *od = global(f, "collections", "OrderedDict");

	assert_true(pyval_is_global(py2, "builtins", "set"));	/* mapped */
	assert_true(pyval_is_global(py3, "builtins", "set"));
	assert_true(pyval_is_global(creg, "copyreg", "_reconstructor"));
	assert_true(pyval_is_global(od, "collections", "OrderedDict"));
	assert_false(pyval_is_global(py2, "builtins", "frozenset"));
	assert_false(pyval_is_global(od, "collection", "OrderedDict"));
	assert_false(pyval_is_global(od, "collections", "Ordered"));
	assert_false(pyval_is_global(str(f, "builtins.set"), "builtins",
				     "set"));
	assert_false(pyval_is_global(NULL, "builtins", "set"));
}

/* ---- node ids and arena strings --------------------------------------- */

static void
test_pyval__node_ids_dense_and_stable(void **state)
{
	struct fx *f = *state;
	enum { N = 10000 };	/* more than two node chunks */
	struct pyval **made = calloc(2 * N, sizeof(*made));
	size_t base = pyarena_count(f->a), i;

	assert_non_null(made);
	for (i = 0; i < 2 * N; i++) {
		switch (i % 4) {
		case 0:
			made[i] = pyval_int(f->a, (int64_t)i);
			break;
		case 1:
			made[i] = pyval_str(f->a, "s", 1);
			break;
		case 2:
			made[i] = pyval_dict(f->a);
			break;
		default:
			made[i] = pyval_seq(f->a, PV_LIST);
			break;
		}
		if (!made[i])
			break;
		if (made[i]->id != base + i)	/* dense: next id each time */
			break;
	}
	if (i < 2 * N) {
		free(made);
		fail_msg("node %zu: bad id", i);
	}
	assert_int_equal(pyarena_count(f->a), base + 2 * N);
	/* every node is still where it was, and found by its id */
	for (i = 0; i < 2 * N; i++)
		if (pyarena_node(f->a, made[i]->id) != made[i] ||
		    made[i]->id != base + i ||
		    (i % 4 == 0 && made[i]->u.i != (int64_t)i))
			break;
	free(made);
	if (i < 2 * N)
		fail_msg("node %zu moved or changed", i);
	assert_null(pyarena_node(f->a, base + 2 * N));
	assert_null(pyarena_node(f->a, (size_t)-1));
}

static void
test_pyval__none_and_bools_are_singletons(void **state)
{
	struct fx *f = *state;
	struct pyval *n = pyval_none(f->a), *t = pyval_bool(f->a, true);
	struct pyval *fa = pyval_bool(f->a, false);
	size_t count = pyarena_count(f->a);

	assert_int_equal(n->kind, PV_NONE);
	assert_true(t->u.b);
	assert_false(fa->u.b);
	assert_ptr_not_equal(t, fa);
	assert_ptr_equal(pyval_none(f->a), n);
	assert_ptr_equal(pyval_bool(f->a, true), t);
	assert_ptr_equal(pyval_bool(f->a, false), fa);
	assert_int_equal(pyarena_count(f->a), count);	/* no new nodes */
	assert_ptr_equal(pyarena_node(f->a, t->id), t);
}

static void
test_pyval__strdup_embedded_nul(void **state)
{
	struct fx *f = *state;
	char *p = pyarena_strdup(f->a, "a\0b", 3);
	char *e = pyarena_strdup(f->a, "xyz", 0);
	struct pyval *s = pyval_str(f->a, "k\0v", 3);

	assert_non_null(p);
	assert_memory_equal(p, "a\0b", 3);
	assert_int_equal(p[3], '\0');			/* terminated */
	assert_non_null(e);
	assert_int_equal(e[0], '\0');
	/* strings keep their length, not their strlen */
	assert_int_equal(s->u.s.len, 3);
	assert_memory_equal(s->u.s.data, "k\0v", 4);
	assert_false(pyval_is_str(s, "k"));
	assert_int_equal(pyval_dict_find_str(new_dict(f), "k\0v", 3), -1);
}

static void
test_pyval__dict_str_keys_with_nul(void **state)
{
	struct fx *f = *state;
	struct pyval *d = new_dict(f);

	set_ok(f, d, pyval_str(f->a, "k\0v", 3), int_(f, 1));
	set_ok(f, d, pyval_str(f->a, "k", 1), int_(f, 2));
	assert_int_equal(d->u.dict->len, 2);
	assert_int_v(pyval_dict_get_str(d, "k\0v", 3), 1);
	assert_int_v(pyval_dict_get_str(d, "k", 1), 2);
}

/* ---- Python's numeric key rules at the edges ---------------------------- */

/*
 * A value that fits int64 written with redundant sign bytes (a hand-made
 * LONG1 may do that) is the int: 1 and 1-in-9-bytes are one dict key.
 */
static void
test_pyval__bigint_nonminimal_normalised(void **state)
{
	struct fx *f = *state;
	struct pyval *d = new_dict(f);
	struct pyval *one9 = BIGINT(f, "\x01\x00\x00\x00\x00\x00\x00\x00\x00");

	assert_int_v(BIGINT(f, "\xff\xff\xff\xff\xff\xff\xff\xff\xff"), -1);
	assert_int_v(BIGINT(f, "\x00\x00\x00\x00\x00\x00\x00\x80\xff"),
		     INT64_MIN);
	set_ok(f, d, int_(f, 1), int_(f, 0));
	set_ok(f, d, one9, int_(f, 0));
	assert_int_equal(d->u.dict->len, 1);
	assert_int_v(one9, 1);
}

/*
 * Python: hash(-2**63) == hash(-2.0**63) and they are equal, so d[-2**63]
 * and d[-2.0**63] are one key, up to the very ends of int64.
 */
static void
test_pyval__int_float_keys_near_int64_limits(void **state)
{
	struct fx *f = *state;
	struct pyval *d = new_dict(f);

	set_ok(f, d, int_(f, INT64_MIN), str(f, "int"));
	set_ok(f, d, float_(f, -9223372036854775808.0), str(f, "float"));
	/* 2**63 - 1024 is a double exactly */
	set_ok(f, d, int_(f, INT64_MAX - 1023), str(f, "int"));
	set_ok(f, d, float_(f, 9223372036854774784.0), str(f, "float"));
	assert_int_equal(d->u.dict->len, 2);
}

/* Python compares ints and floats exactly: 2**53 + 1 != 2.0**53. */
static void
test_pyval__key_equal_int_float_exact(void **state)
{
	struct fx *f = *state;
	struct pyval *i = int_(f, ((int64_t)1 << 53) + 1);
	struct pyval *d = float_(f, 9007199254740992.0);	/* 2.0**53 */

	assert_false(pyval_key_equal(i, d));
	assert_false(pyval_key_equal(d, i));
}

/* Python: frozenset({1, 2}) == frozenset({2, 1}): one key. */
static void
test_pyval__frozenset_keys_ignore_order(void **state)
{
	struct fx *f = *state;
	struct pyval *d = new_dict(f);
	struct pyval *a = set_of(f, PV_FROZENSET, 2, int_(f, 1), int_(f, 2));
	struct pyval *b = set_of(f, PV_FROZENSET, 2, int_(f, 2), int_(f, 1));

	assert_true(pyval_key_equal(a, b));
	set_ok(f, d, a, int_(f, 1));
	set_ok(f, d, b, int_(f, 2));
	assert_int_equal(d->u.dict->len, 1);
}

/*
 * Python: 2**64 == 2.0**64 and -2**70 == -2.0**70 and they hash alike (one
 * dict key each); 2**64 + 1 has no float twin.
 */
static void
test_pyval__bigint_equals_integral_float(void **state)
{
	struct fx *f = *state;
	struct pyval *d = new_dict(f);

	set_ok(f, d, BIGINT(f, "\x00\x00\x00\x00\x00\x00\x00\x00\x01"),
	       int_(f, 1));
	set_ok(f, d, float_(f, 18446744073709551616.0), int_(f, 2));
	assert_int_equal(d->u.dict->len, 1);
	/* -2**70: two's complement 00..00 c0 (9 bytes) */
	set_ok(f, d, BIGINT(f, "\x00\x00\x00\x00\x00\x00\x00\x00\xc0"),
	       int_(f, 3));
	set_ok(f, d, float_(f, -1180591620717411303424.0), int_(f, 4));
	assert_int_equal(d->u.dict->len, 2);
	assert_false(pyval_key_equal(
		BIGINT(f, "\x01\x00\x00\x00\x00\x00\x00\x00\x01"),
		float_(f, 18446744073709551616.0)));
}

/* Sets hold each element once, compared as dict keys are. */
static void
test_pyval__sets_keep_first_of_equal_elements(void **state)
{
	struct fx *f = *state;
	struct pyval *one = int_(f, 1);
	struct pyval *s = set_of(f, PV_SET, 4, one, float_(f, 1.0), int_(f, 2),
				 pyval_bool(f->a, true));

	assert_int_equal(s->u.dict->len, 2);
	assert_ptr_equal(s->u.dict->items[0].key, one);
	assert_int_equal(pyval_dict_find(s, float_(f, 2.0)), 1);
	assert_int_equal(pyval_dict_find(s, int_(f, 3)), -1);
	ckerr_clear(&f->err);
	assert_int_equal(pyval_set_add(s, seq_of(f, PV_LIST, 0), &f->err), -1);
	assert_string_equal(f->err.msg, "unhashable set item (list)");
}

/*
 * Hash flooding: int keys are hashed with the arena's secret key, so the
 * same ints land in different slots in two arenas (an attacker cannot
 * precompute colliding ints).
 */
static void
test_pyval__int_hashes_are_keyed(void **state)
{
	struct fx *f = *state;
	struct ckerr err = CKERR_INIT;
	struct pyarena *other = pyarena_new(&err);
	struct pyval *d1 = new_dict(f), *d2;
	uint64_t h1, h2;
	int differ = 0, i;

	assert_non_null(other);
	d2 = pyval_dict(other);
	assert_non_null(d2);
	for (i = 0; i < 8; i++) {
		assert_int_equal(pyval_hash(int_(f, i), d1->u.dict->seed, &h1), 0);
		assert_int_equal(pyval_hash(int_(f, i), d2->u.dict->seed, &h2), 0);
		differ += h1 != h2;
	}
	assert_true(differ >= 7);
	pyarena_free(other);
}

int
main(void)
{
#define T(name) cmocka_unit_test_setup_teardown(test_pyval__##name, \
						setup, teardown)
	const struct CMUnitTest tests[] = {
		/* dict order and replacement */
		T(dict_insertion_order),
		T(dict_replace_keeps_position_and_first_key),
		T(dict_many_keys_use_the_index),
		/* Python's key rules */
		T(dict_numeric_keys_like_python),
		T(dict_str_and_bytes_differ),
		T(dict_tuple_keys_by_value),
		T(dict_object_keys_by_identity),
		T(dict_unhashable_keys_refused),
		T(dict_key_depth_limit),
		/* big ints */
		T(bigint_fits_becomes_int),
		T(bigint_sign_extension),
		T(bigint_kept_when_too_big),
		/* globals, ids, strings */
		T(is_global_python2_names),
		T(node_ids_dense_and_stable),
		T(none_and_bools_are_singletons),
		T(strdup_embedded_nul),
		T(dict_str_keys_with_nul),
		/* numeric keys at the edges, sets, hashing */
		T(bigint_nonminimal_normalised),
		T(int_float_keys_near_int64_limits),
		T(key_equal_int_float_exact),
		T(frozenset_keys_ignore_order),
		T(bigint_equals_integral_float),
		T(sets_keep_first_of_equal_elements),
		T(int_hashes_are_keyed),
	};
#undef T

	return cmocka_run_group_tests(tests, NULL, NULL);
}
