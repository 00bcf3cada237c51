/*
 * test-unpickle: the pickle virtual machine on hand-made pickles.
 *
 * Every pickle below is a byte array written out in the test.  Most were
 * produced by CPython 3.11's pickle module (the comment gives the Python
 * expression); the rest were written by hand to reach an opcode Python
 * never emits, and were checked with pickletools.dis / pickle.loads (the
 * comment says what pickle.loads returns).  Error messages are compared
 * whole: they must name the byte offset and the opcode.
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "pickleops.h"
#include "pyval.h"
#include "torchpkl.h"
#include "unpickle.h"
#include "banned.h"

/* A pickle literal as (bytes, length): literals may hold NULs. */
#define PK(lit) (const uint8_t *)(lit), (sizeof(lit) - 1)

/* Per test: an arena, an error, and a torch context when one is used. */
struct fx {
	struct pyarena *a;
	struct ckerr err;
	struct torchpkl tp;
	bool tp_used;
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

/* Runs even when a test fails, so failed tests leak nothing either. */
static int
teardown(void **state)
{
	struct fx *f = *state;

	if (f->tp_used)
		torchpkl_release(&f->tp);
	pyarena_free(f->a);
	free(f);
	return 0;
}

/* ---- helpers ---------------------------------------------------------- */

/* Unpickle data[0..len) that must load whole (consumed == len). */
static struct pyval *
load_ok(struct fx *f, const uint8_t *data, size_t len)
{
	size_t consumed = 0;
	struct pyval *v;

	ckerr_clear(&f->err);
	v = unpickle(f->a, data, len, NULL, &consumed, &f->err);
	if (!v)
		fail_msg("unpickle failed: %s", f->err.msg);
	assert_int_equal(f->err.code, CKERR_OK);
	assert_int_equal(consumed, len);
	return v;
}
#define LOAD(f, lit) load_ok((f), PK(lit))

/* Unpickle data that must fail with exactly this code and message. */
static void
load_fails(struct fx *f, const uint8_t *data, size_t len,
	   enum ckerr_code code, const char *msg)
{
	size_t consumed = 12345;

	ckerr_clear(&f->err);
	assert_null(unpickle(f->a, data, len, NULL, &consumed, &f->err));
	assert_string_equal(f->err.msg, msg);
	assert_int_equal(f->err.code, code);
	assert_int_equal(consumed, 12345);	/* untouched on error */
}
#define FAILS(f, lit, code, msg) load_fails((f), PK(lit), (code), (msg))

/* A TUPLE/LIST of kind with n items. */
static void
assert_seq(const struct pyval *v, enum pyval_kind kind, size_t n)
{
	assert_non_null(v);
	assert_int_equal(v->kind, kind);
	assert_int_equal(v->u.seq.len, n);
}

/* Item i of a sequence (bounds-checked). */
static struct pyval *
at(const struct pyval *v, size_t i)
{
	assert_true(v->kind == PV_TUPLE || v->kind == PV_LIST);
	if (i >= v->u.seq.len)
		fail_msg("item %zu of a %zu-item sequence", i, v->u.seq.len);
	return v->u.seq.items[i];
}

/* A SET/FROZENSET of kind with n elements (kept in a pv_dict). */
static void
assert_set(const struct pyval *v, enum pyval_kind kind, size_t n)
{
	assert_non_null(v);
	assert_int_equal(v->kind, kind);
	assert_int_equal(v->u.dict->len, n);
}

/* Element i of a set, in insertion order. */
static struct pyval *
elem(const struct pyval *v, size_t i)
{
	assert_true(v->kind == PV_SET || v->kind == PV_FROZENSET);
	if (i >= v->u.dict->len)
		fail_msg("element %zu of a %zu-element set", i, v->u.dict->len);
	assert_null(v->u.dict->items[i].value);
	return v->u.dict->items[i].key;
}

static void
assert_int_v(const struct pyval *v, int64_t want)
{
	assert_non_null(v);
	assert_int_equal(v->kind, PV_INT);
	assert_true(v->u.i == want);
}

static void
assert_bool_v(const struct pyval *v, bool want)
{
	assert_non_null(v);
	assert_int_equal(v->kind, PV_BOOL);
	assert_int_equal(v->u.b, want);
}

/* A STR/BYTES/BYTEARRAY/BIGINT node holding exactly data[0..len). */
static void
assert_bytes_v(const struct pyval *v, enum pyval_kind kind, const char *data,
	       size_t len)
{
	assert_non_null(v);
	assert_int_equal(v->kind, kind);
	assert_int_equal(v->u.s.len, len);
	if (len)
		assert_memory_equal(v->u.s.data, data, len);
	assert_int_equal(v->u.s.data[len], '\0');
}
#define ASSERT_STR(v, lit) assert_bytes_v((v), PV_STR, (lit), sizeof(lit) - 1)
#define ASSERT_BYTES(v, kind, lit) \
	assert_bytes_v((v), (kind), (lit), sizeof(lit) - 1)
/* A PV_BIGINT with these two's-complement little-endian bytes. */
#define ASSERT_BIGINT(v, lit) \
	assert_bytes_v((v), PV_BIGINT, (lit), sizeof(lit) - 1)

/* A float with exactly these IEEE-754 bits. */
static void
assert_float_bits(const struct pyval *v, uint64_t bits)
{
	uint64_t got;

	assert_non_null(v);
	assert_int_equal(v->kind, PV_FLOAT);
	memcpy(&got, &v->u.f, sizeof(got));
	assert_true(got == bits);
}

/* A GLOBAL spelled exactly module.name (no Python 2 mapping). */
static void
assert_global_v(const struct pyval *v, const char *module, const char *name)
{
	assert_non_null(v);
	assert_int_equal(v->kind, PV_GLOBAL);
	assert_string_equal(v->u.global.module, module);
	assert_string_equal(v->u.global.name, name);
}

/* A dict of n items. */
static void
assert_dict(const struct pyval *v, size_t n)
{
	assert_non_null(v);
	assert_int_equal(v->kind, PV_DICT);
	assert_int_equal(v->u.dict->len, n);
}

/* Item i of a dict (in insertion order): its key must be the str key. */
static struct pyval *
dict_item(const struct pyval *d, size_t i, const char *key)
{
	assert_int_equal(d->kind, PV_DICT);
	if (i >= d->u.dict->len)
		fail_msg("item %zu of a %zu-item dict", i, d->u.dict->len);
	assert_true(pyval_is_str(d->u.dict->items[i].key, key));
	return d->u.dict->items[i].value;
}

/* d[key] for a str key that must be present. */
static struct pyval *
dict_str(const struct pyval *d, const char *key)
{
	struct pyval *v = pyval_dict_get_str(d, key, strlen(key));

	if (!v)
		fail_msg("key '%s' missing", key);
	return v;
}

/* A PV_OBJECT made the given way. */
static struct pv_object *
assert_object(const struct pyval *v, enum pv_how how)
{
	assert_non_null(v);
	assert_int_equal(v->kind, PV_OBJECT);
	assert_int_equal(v->u.obj->how, how);
	return v->u.obj;
}

/* ---- protocol 0: text opcodes ----------------------------------------- */

static void
test_unpickle__p0_int(void **state)
{
	struct fx *f = *state;
	/* pickle.dumps((42, -7, True, False), 0) */
	struct pyval *t = LOAD(f, "(I42\nI-7\nI01\nI00\ntp0\n.");

	assert_seq(t, PV_TUPLE, 4);
	assert_int_v(at(t, 0), 42);
	assert_int_v(at(t, 1), -7);
	assert_bool_v(at(t, 2), true);		/* I01 is True, not 1 */
	assert_bool_v(at(t, 3), false);
}

static void
test_unpickle__p0_int_beyond_64_bits(void **state)
{
	struct fx *f = *state;
	/*
	 * Hand-made; pickle.loads gives (2**63-1, -2**63, 2**63, 5, 10**20-1,
	 * -(10**20-1)).
	 */
	struct pyval *t = LOAD(f, "(I9223372036854775807\n"
			       "I-9223372036854775808\nI9223372036854775808\n"
			       "I+5\nI99999999999999999999\n"
			       "I-99999999999999999999\nt.");

	assert_seq(t, PV_TUPLE, 6);
	assert_int_v(at(t, 0), INT64_MAX);
	assert_int_v(at(t, 1), INT64_MIN);
	ASSERT_BIGINT(at(t, 2), "\x00\x00\x00\x00\x00\x00\x00\x80\x00");
	assert_int_v(at(t, 3), 5);
	/* (10**20-1).to_bytes(9, 'little', signed=True) */
	ASSERT_BIGINT(at(t, 4), "\xff\xff\x0f" "c-^\xc7k\x05");
	ASSERT_BIGINT(at(t, 5), "\x01\x00\xf0\x9c\xd2\xa1" "8\x94\xfa");
}

static void
test_unpickle__p0_long(void **state)
{
	struct fx *f = *state;
	/* pickle.dumps((2**63-1, 2**64, -2**64, 2**70, -2**63-1), 0) */
	struct pyval *t = LOAD(f,
	    "(L9223372036854775807L\nL18446744073709551616L\nL-18446744073709"
	    "551616L\nL1180591620717411303424L\nL-9223372036854775809L\ntp0\n"
	    ".");

	assert_seq(t, PV_TUPLE, 5);
	assert_int_v(at(t, 0), INT64_MAX);	/* fits: normalised to int */
	ASSERT_BIGINT(at(t, 1), "\x00\x00\x00\x00\x00\x00\x00\x00\x01");
	ASSERT_BIGINT(at(t, 2), "\x00\x00\x00\x00\x00\x00\x00\x00\xff");
	ASSERT_BIGINT(at(t, 3), "\x00\x00\x00\x00\x00\x00\x00\x00\x40");
	ASSERT_BIGINT(at(t, 4), "\xff\xff\xff\xff\xff\xff\xff\x7f\xff");
}

static void
test_unpickle__p0_float(void **state)
{
	struct fx *f = *state;
	/* pickle.dumps((1.5, -0.1, 1e300), 0) */
	struct pyval *t = LOAD(f, "(F1.5\nF-0.1\nF1e+300\ntp0\n.");

	assert_seq(t, PV_TUPLE, 3);
	assert_float_bits(at(t, 0), 0x3ff8000000000000ULL);
	assert_float_bits(at(t, 1), 0xbfb999999999999aULL);
	assert_float_bits(at(t, 2), 0x7e37e43c8800759cULL);
}

static void
test_unpickle__p0_string_escapes(void **state)
{
	struct fx *f = *state;
	/*
	 * Hand-made Python 2 STRING; pickle.loads(..., encoding='bytes')
	 * gives b"a\nAA'q\\z\\w": \n, \x41, octal \101, \', \\ are decoded,
	 * the unknown escape \w stays as written.
	 */
	struct pyval *t = LOAD(f, "(S'a\\n\\x41\\101\\'q\\\\z\\w'\n"
			       "S\"it's\"\nS''\nt.");

	assert_seq(t, PV_TUPLE, 3);
	ASSERT_STR(at(t, 0), "a\nAA'q\\z\\w");
	ASSERT_STR(at(t, 1), "it's");		/* double quotes */
	ASSERT_STR(at(t, 2), "");
}

static void
test_unpickle__p0_unicode_escapes(void **state)
{
	struct fx *f = *state;
	/* pickle.dumps('\u00e9\u20ac\U0001F600 a\\b\n', 0) */
	struct pyval *v = LOAD(f,
	    "V\xe9\\u20ac\\U0001f600 a\\u005cb\\u000a\np0\n.");

	/* raw latin-1 byte, \u, \U escapes, all as UTF-8 */
	ASSERT_STR(v, "\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80 a\\b\n");
}

static void
test_unpickle__p0_get_put(void **state)
{
	struct fx *f = *state;
	/* l = [1]; pickle.dumps((l, l), 0) */
	struct pyval *t = LOAD(f, "((lp0\nI1\nag0\ntp1\n.");

	assert_seq(t, PV_TUPLE, 2);
	assert_seq(at(t, 0), PV_LIST, 1);
	assert_int_v(at(at(t, 0), 0), 1);
	assert_ptr_equal(at(t, 0), at(t, 1));	/* one list, twice */
}

static void
test_unpickle__p0_dict_list_tuple(void **state)
{
	struct fx *f = *state;
	/* pickle.dumps({'a': [1, 2], 'b': (3,)}, 0): DICT, LIST, TUPLE */
	struct pyval *d = LOAD(f,
	    "(dp0\nVa\np1\n(lp2\nI1\naI2\nasVb\np3\n(I3\ntp4\ns.");
	struct pyval *l, *t;

	assert_dict(d, 2);
	assert_null(d->u.dict->cls);
	l = dict_item(d, 0, "a");
	assert_seq(l, PV_LIST, 2);
	assert_int_v(at(l, 0), 1);
	assert_int_v(at(l, 1), 2);
	t = dict_item(d, 1, "b");
	assert_seq(t, PV_TUPLE, 1);
	assert_int_v(at(t, 0), 3);
}

static void
test_unpickle__p0_dict_items_in_mark(void **state)
{
	struct fx *f = *state;
	/* Hand-made; pickle.loads gives {'a': 1, 'b': 2} */
	struct pyval *d = LOAD(f, "(Va\nI1\nVb\nI2\nd.");

	assert_dict(d, 2);
	assert_int_v(dict_item(d, 0, "a"), 1);
	assert_int_v(dict_item(d, 1, "b"), 2);
}

static void
test_unpickle__p0_inst(void **state)
{
	struct fx *f = *state;
	/* Hand-made; pickle.loads gives mymod.K(1, 2) */
	struct pyval *v = LOAD(f, "(I1\nI2\nimymod\nK\n.");
	struct pv_object *o = assert_object(v, PV_BY_INST);

	assert_global_v(o->callable, "mymod", "K");
	assert_seq(o->args, PV_TUPLE, 2);
	assert_int_v(at(o->args, 0), 1);
	assert_int_v(at(o->args, 1), 2);
	assert_null(o->state);
	assert_null(o->kwargs);
}

static void
test_unpickle__p0_obj(void **state)
{
	struct fx *f = *state;
	/* Hand-made; pickle.loads gives mymod.K(1) */
	struct pyval *v = LOAD(f, "(cmymod\nK\nI1\no.");
	struct pv_object *o = assert_object(v, PV_BY_INST);

	assert_global_v(o->callable, "mymod", "K");
	assert_seq(o->args, PV_TUPLE, 1);
	assert_int_v(at(o->args, 0), 1);
}

static void
test_unpickle__p0_persid(void **state)
{
	struct fx *f = *state;
	/* Pickler(f, 0) with persistent_id returning 'key1', dump('X') */
	struct pyval *v = LOAD(f, "Pkey1\n.");

	assert_int_equal(v->kind, PV_PERSID);
	ASSERT_STR(v->u.persid, "key1");
}

static void
test_unpickle__p0_pop_pop_mark_dup(void **state)
{
	struct fx *f = *state;
	/*
	 * Hand-made; pickle.loads gives (1, 3, 3): POP drops 2, POP_MARK
	 * drops (9, 9) and its MARK, DUP repeats 3.
	 */
	struct pyval *t = LOAD(f, "(I1\nI2\n0I3\n(I9\nI9\n12t.");

	assert_seq(t, PV_TUPLE, 3);
	assert_int_v(at(t, 0), 1);
	assert_int_v(at(t, 1), 3);
	assert_ptr_equal(at(t, 1), at(t, 2));	/* DUP: the same object */
}

static void
test_unpickle__p0_pop_on_empty_frame_drops_mark(void **state)
{
	struct fx *f = *state;
	/* Hand-made; pickle.loads gives 7 (POP with nothing above MARK) */
	assert_int_v(LOAD(f, "I7\n(0."), 7);
}

/* ---- protocols 1 and 2: binary opcodes -------------------------------- */

static void
test_unpickle__binint_and_long1(void **state)
{
	struct fx *f = *state;
	/*
	 * pickle.dumps((0, 255, 256, 65535, 65536, -1, 2**31-1, -2**31,
	 *               2**31, -2**31-1, 2**63-1, -2**63, 2**64, -2**70), 2)
	 */
	struct pyval *t = LOAD(f,
	    "\x80\x02(K\x00K\xffM\x00\x01M\xff\xffJ\x00\x00\x01\x00J\xff\xff"
	    "\xff\xffJ\xff\xff\xff\x7fJ\x00\x00\x00\x80\x8a\x05\x00\x00\x00\x80"
	    "\x00\x8a\x05\xff\xff\xff\x7f\xff\x8a\x08\xff\xff\xff\xff\xff\xff"
	    "\xff\x7f\x8a\x08\x00\x00\x00\x00\x00\x00\x00\x80\x8a\x09\x00\x00"
	    "\x00\x00\x00\x00\x00\x00\x01\x8a\x09\x00\x00\x00\x00\x00\x00\x00"
	    "\x00\xc0tq\x00.");

	assert_seq(t, PV_TUPLE, 14);
	assert_int_v(at(t, 0), 0);			/* BININT1 */
	assert_int_v(at(t, 1), 255);			/* BININT1 unsigned */
	assert_int_v(at(t, 2), 256);			/* BININT2 */
	assert_int_v(at(t, 3), 65535);			/* BININT2 unsigned */
	assert_int_v(at(t, 4), 65536);			/* BININT */
	assert_int_v(at(t, 5), -1);			/* BININT signed */
	assert_int_v(at(t, 6), INT32_MAX);
	assert_int_v(at(t, 7), INT32_MIN);
	assert_int_v(at(t, 8), (int64_t)1 << 31);	/* LONG1, 5 bytes */
	assert_int_v(at(t, 9), -((int64_t)1 << 31) - 1);
	assert_int_v(at(t, 10), INT64_MAX);		/* LONG1, 8 bytes */
	assert_int_v(at(t, 11), INT64_MIN);
	ASSERT_BIGINT(at(t, 12), "\x00\x00\x00\x00\x00\x00\x00\x00\x01");
	ASSERT_BIGINT(at(t, 13), "\x00\x00\x00\x00\x00\x00\x00\x00\xc0");
}

static void
test_unpickle__long4(void **state)
{
	struct fx *f = *state;
	/* pickle.dumps(2**2047, 2): LONG4 with 257 bytes (256 zero-padded) */
	static const uint8_t head[] = "\x80\x02\x8b\x01\x01\x00\x00";
	uint8_t buf[sizeof(head) - 1 + 257 + 1];
	struct pyval *v;
	size_t i;

	memcpy(buf, head, sizeof(head) - 1);
	memset(buf + sizeof(head) - 1, 0, 257);
	buf[sizeof(head) - 1 + 255] = 0x80;	/* 2**2047 */
	buf[sizeof(buf) - 1] = '.';
	v = load_ok(f, buf, sizeof(buf));
	assert_int_equal(v->kind, PV_BIGINT);
	assert_int_equal(v->u.s.len, 257);
	for (i = 0; i < 255; i++)
		assert_int_equal((uint8_t)v->u.s.data[i], 0);
	assert_int_equal((uint8_t)v->u.s.data[255], 0x80);
	assert_int_equal((uint8_t)v->u.s.data[256], 0);
}

static void
test_unpickle__binfloat_none_bools(void **state)
{
	struct fx *f = *state;
	/* pickle.dumps((1.5, -0.0, float('inf'), None, True, False), 2) */
	struct pyval *t = LOAD(f,
	    "\x80\x02(G?\xf8\x00\x00\x00\x00\x00\x00G\x80\x00\x00\x00\x00\x00"
	    "\x00\x00G\x7f\xf0\x00\x00\x00\x00\x00\x00N\x88\x89tq\x00.");

	assert_seq(t, PV_TUPLE, 6);
	assert_float_bits(at(t, 0), 0x3ff8000000000000ULL);	/* big-endian */
	assert_float_bits(at(t, 1), 0x8000000000000000ULL);	/* -0.0 kept */
	assert_float_bits(at(t, 2), 0x7ff0000000000000ULL);
	assert_int_equal(at(t, 3)->kind, PV_NONE);
	assert_bool_v(at(t, 4), true);
	assert_bool_v(at(t, 5), false);
}

static void
test_unpickle__binstring(void **state)
{
	struct fx *f = *state;
	/*
	 * Hand-made (Python 2 str opcodes); pickle.loads(...,
	 * encoding='bytes') gives (b'abc', b'a\x00c')
	 */
	struct pyval *t = LOAD(f, "(U\x03" "abc"
			       "T\x03\x00\x00\x00" "a\x00" "ct.");

	assert_seq(t, PV_TUPLE, 2);
	ASSERT_STR(at(t, 0), "abc");		/* SHORT_BINSTRING */
	ASSERT_STR(at(t, 1), "a\0c");		/* BINSTRING, NUL kept */
}

static void
test_unpickle__binunicode(void **state)
{
	struct fx *f = *state;
	/* pickle.dumps('h\u00e9', 2) */
	ASSERT_STR(LOAD(f, "\x80\x02X\x03\x00\x00\x00h\xc3\xa9q\x00."),
		   "h\xc3\xa9");
}

static void
test_unpickle__containers(void **state)
{
	struct fx *f = *state;
	/*
	 * pickle.dumps(([1, 2], {'a': 1, 'b': 2}, (), (1,), (1, 2),
	 *               (1, 2, 3), (1, 2, 3, 4)), 2)
	 */
	struct pyval *t = LOAD(f,
	    "\x80\x02(]q\x00(K\x01K\x02" "e}q\x01(X\x01\x00\x00\x00" "aq\x02K"
	    "\x01X\x01\x00\x00\x00" "bq\x03K\x02u)K\x01\x85q\x04K\x01K\x02\x86"
	    "q\x05K\x01K\x02K\x03\x87q\x06(K\x01K\x02K\x03K\x04tq\x07tq\x08.");
	size_t i;

	assert_seq(t, PV_TUPLE, 7);
	assert_seq(at(t, 0), PV_LIST, 2);		/* EMPTY_LIST APPENDS */
	assert_int_v(at(at(t, 0), 0), 1);
	assert_int_v(at(at(t, 0), 1), 2);
	assert_dict(at(t, 1), 2);		/* EMPTY_DICT SETITEMS */
	assert_int_v(dict_item(at(t, 1), 0, "a"), 1);
	assert_int_v(dict_item(at(t, 1), 1, "b"), 2);
	assert_seq(at(t, 2), PV_TUPLE, 0);		/* EMPTY_TUPLE */
	for (i = 1; i <= 4; i++) {			/* TUPLE1..3, TUPLE */
		size_t k;

		assert_seq(at(t, 2 + i), PV_TUPLE, i);
		for (k = 0; k < i; k++)
			assert_int_v(at(at(t, 2 + i), k), (int64_t)k + 1);
	}
}

static void
test_unpickle__dict_order(void **state)
{
	struct fx *f = *state;
	/* pickle.dumps({'z': 1, 'a': 2, 'm': 3}, 2): order as pickled */
	struct pyval *d = LOAD(f,
	    "\x80\x02}q\x00(X\x01\x00\x00\x00zq\x01K\x01X\x01\x00\x00\x00" "a"
	    "q\x02K\x02X\x01\x00\x00\x00mq\x03K\x03u.");

	assert_dict(d, 3);
	assert_int_v(dict_item(d, 0, "z"), 1);
	assert_int_v(dict_item(d, 1, "a"), 2);
	assert_int_v(dict_item(d, 2, "m"), 3);
	assert_int_v(dict_str(d, "a"), 2);
}

static void
test_unpickle__binpersid_without_hook(void **state)
{
	struct fx *f = *state;
	/* Pickler(f, 2) with persistent_id returning 'key1', dump('X') */
	struct pyval *v = LOAD(f, "\x80\x02X\x04\x00\x00\x00key1q\x00Q.");

	assert_int_equal(v->kind, PV_PERSID);
	ASSERT_STR(v->u.persid, "key1");
}

/* ---- protocol 3: bytes ------------------------------------------------ */

static void
test_unpickle__bytes(void **state)
{
	struct fx *f = *state;
	/* pickle.dumps((b'ab\x00c',), 3): SHORT_BINBYTES */
	struct pyval *t = LOAD(f, "\x80\x03" "C\x04" "ab\x00"
			       "cq\x00\x85q\x01.");
	/* Hand-made BINBYTES; pickle.loads gives b'a\x00b' */
	struct pyval *b = LOAD(f, "\x80\x03" "B\x03\x00\x00\x00" "a\x00" "b.");

	assert_seq(t, PV_TUPLE, 1);
	ASSERT_BYTES(at(t, 0), PV_BYTES, "ab\0c");
	ASSERT_BYTES(b, PV_BYTES, "a\0b");
}

/* ---- protocol 4 ------------------------------------------------------- */

static void
test_unpickle__frame_memoize(void **state)
{
	struct fx *f = *state;
	/* l = []; pickle.dumps((l, 'ab', 'ab', l), 4) */
	struct pyval *t = LOAD(f,
	    "\x80\x04\x95\x0f\x00\x00\x00\x00\x00\x00\x00(]\x94\x8c\x02" "ab"
	    "\x94h\x01h\x00t\x94.");

	assert_seq(t, PV_TUPLE, 4);
	assert_seq(at(t, 0), PV_LIST, 0);
	ASSERT_STR(at(t, 1), "ab");			/* SHORT_BINUNICODE */
	assert_ptr_equal(at(t, 1), at(t, 2));		/* MEMOIZE as 1 */
	assert_ptr_equal(at(t, 0), at(t, 3));		/* MEMOIZE as 0 */
}

static void
test_unpickle__memoize_numbers_by_memo_size(void **state)
{
	struct fx *f = *state;
	/*
	 * Hand-made; pickle.loads gives 8: after BINPUT 5 the memo holds
	 * one entry, so MEMOIZE stores at index len(memo) == 1, not 6.
	 */
	assert_int_v(LOAD(f, "\x80\x04Kxq\x05" "0K\x08\x94" "0h\x01."), 8);
}

static void
test_unpickle__stack_global_ordered_dict(void **state)
{
	struct fx *f = *state;
	/* pickle.dumps(collections.OrderedDict(a=1), 4) */
	struct pyval *d = LOAD(f,
	    "\x80\x04\x95)\x00\x00\x00\x00\x00\x00\x00\x8c\x0b" "collections"
	    "\x94\x8c\x0bOrderedDict\x94\x93\x94)R\x94\x8c\x01" "a\x94K\x01s.");

	assert_dict(d, 1);
	assert_global_v(d->u.dict->cls, "collections", "OrderedDict");
	assert_int_v(dict_item(d, 0, "a"), 1);
}

static void
test_unpickle__empty_set_additems(void **state)
{
	struct fx *f = *state;
	/* pickle.dumps({1, 2}, 4) */
	struct pyval *s = LOAD(f,
	    "\x80\x04\x95\x09\x00\x00\x00\x00\x00\x00\x00\x8f\x94(K\x01K\x02"
	    "\x90.");

	assert_set(s, PV_SET, 2);
	assert_int_v(elem(s, 0), 1);
	assert_int_v(elem(s, 1), 2);
}

static void
test_unpickle__frozenset(void **state)
{
	struct fx *f = *state;
	/* pickle.dumps(frozenset({3}), 4) */
	struct pyval *s = LOAD(f,
	    "\x80\x04\x95\x06\x00\x00\x00\x00\x00\x00\x00(K\x03\x91\x94.");

	assert_set(s, PV_FROZENSET, 1);
	assert_int_v(elem(s, 0), 3);
}

static void
test_unpickle__newobj_ex(void **state)
{
	struct fx *f = *state;
	/*
	 * pickle.dumps(mymod.K(), 4) where K.__getnewargs_ex__ returns
	 * ((1,), {'k': 2})
	 */
	struct pyval *v = LOAD(f,
	    "\x80\x04\x95\x1e\x00\x00\x00\x00\x00\x00\x00\x8c\x05mymod\x94\x8c"
	    "\x01K\x94\x93\x94K\x01\x85\x94}\x94\x8c\x01k\x94K\x02s\x92\x94.");
	struct pv_object *o = assert_object(v, PV_BY_NEWOBJ_EX);

	assert_global_v(o->callable, "mymod", "K");
	assert_seq(o->args, PV_TUPLE, 1);
	assert_int_v(at(o->args, 0), 1);
	assert_dict(o->kwargs, 1);
	assert_int_v(dict_item(o->kwargs, 0, "k"), 2);
}

static void
test_unpickle__binunicode8_binbytes8(void **state)
{
	struct fx *f = *state;
	/*
	 * Hand-made (Python uses these above 4 GiB); pickle.loads gives
	 * ('hi', b'\xff')
	 */
	struct pyval *t = LOAD(f,
	    "\x80\x04\x8d\x02\x00\x00\x00\x00\x00\x00\x00hi"
	    "\x8e\x01\x00\x00\x00\x00\x00\x00\x00\xff\x86.");

	assert_seq(t, PV_TUPLE, 2);
	ASSERT_STR(at(t, 0), "hi");
	ASSERT_BYTES(at(t, 1), PV_BYTES, "\xff");
}

/* ---- protocol 5 ------------------------------------------------------- */

static void
test_unpickle__bytearray8(void **state)
{
	struct fx *f = *state;
	/* pickle.dumps(bytearray(b'ab\x00'), 5) */
	struct pyval *v = LOAD(f,
	    "\x80\x05\x95\x0e\x00\x00\x00\x00\x00\x00\x00\x96\x03\x00\x00\x00"
	    "\x00\x00\x00\x00" "ab\x00\x94.");

	ASSERT_BYTES(v, PV_BYTEARRAY, "ab\0");
}

/* ---- the memo --------------------------------------------------------- */

static void
test_unpickle__long_binput_long_binget(void **state)
{
	struct fx *f = *state;
	/*
	 * Hand-made; pickle.loads gives ([], [], {}) with the two lists one
	 * object: LONG_BINPUT 300 / LONG_BINGET 300 (all four index bytes
	 * matter: BINPUT 44 = 300 & 0xff holds the dict).  A 300-character
	 * string is popped in between so that index 300 is within the size
	 * of the pickle.
	 */
	static const uint8_t head[] = "\x80\x02]r\x2c\x01\x00\x00}q\x2c" "0"
				      "X\x2c\x01\x00\x00";
	static const uint8_t tail[] = "0j\x2c\x01\x00\x00h\x2c\x87.";
	uint8_t buf[sizeof(head) - 1 + 300 + sizeof(tail) - 1];
	struct pyval *t;

	memcpy(buf, head, sizeof(head) - 1);
	memset(buf + sizeof(head) - 1, 'x', 300);
	memcpy(buf + sizeof(head) - 1 + 300, tail, sizeof(tail) - 1);
	t = load_ok(f, buf, sizeof(buf));
	assert_seq(t, PV_TUPLE, 3);
	assert_seq(at(t, 0), PV_LIST, 0);
	assert_ptr_equal(at(t, 0), at(t, 1));
	assert_dict(at(t, 2), 0);
}

static void
test_unpickle__memo_shares_identity(void **state)
{
	struct fx *f = *state;
	/* Hand-made; pickle.loads gives (d, d, 'k'), d = {'k': 1} one dict */
	struct pyval *t = LOAD(f, "\x80\x02}q\x07X\x01\x00\x00\x00kq\x08K\x01s"
			       "h\x07h\x08\x87.");

	assert_seq(t, PV_TUPLE, 3);
	assert_dict(at(t, 0), 1);
	assert_ptr_equal(at(t, 0), at(t, 1));		/* the same node */
	assert_ptr_equal(dict_item(at(t, 0), 0, "k"),
			 dict_item(at(t, 1), 0, "k"));
	assert_ptr_equal(at(t, 0)->u.dict->items[0].key, at(t, 2));
}

/* ---- marks ------------------------------------------------------------ */

static void
test_unpickle__nested_marks(void **state)
{
	struct fx *f = *state;
	/* Hand-made; pickle.loads gives ((1, (2,), 3), 4) */
	struct pyval *t = LOAD(f, "\x80\x02((K\x01(K\x02tK\x03tK\x04t.");

	assert_seq(t, PV_TUPLE, 2);
	assert_seq(at(t, 0), PV_TUPLE, 3);
	assert_int_v(at(at(t, 0), 0), 1);
	assert_seq(at(at(t, 0), 1), PV_TUPLE, 1);
	assert_int_v(at(at(at(t, 0), 1), 0), 2);
	assert_int_v(at(at(t, 0), 2), 3);
	assert_int_v(at(t, 1), 4);
}

static void
test_unpickle__pop_below_mark_fails(void **state)
{
	struct fx *f = *state;

	/* TUPLE2 sees one item above the MARK */
	FAILS(f, "\x80\x02K\x01(K\x02\x86.", CKERR_FORMAT,
	      "byte 7: TUPLE2: stack underflow");
	/* APPEND: the list is below the MARK */
	FAILS(f, "\x80\x02](K\x01" "a.", CKERR_FORMAT,
	      "byte 6: APPEND: stack underflow");
	/* SETITEM: the dict is below the MARK */
	FAILS(f, "\x80\x02}(K\x01K\x02s.", CKERR_FORMAT,
	      "byte 8: SETITEM: stack underflow");
	/* BUILD: the object is below the MARK */
	FAILS(f, "\x80\x02K\x01(}b.", CKERR_FORMAT,
	      "byte 6: BUILD: stack underflow");
	/* STOP inside an open MARK */
	FAILS(f, "\x80\x02K\x01(.", CKERR_FORMAT,
	      "byte 5: STOP: stack underflow");
	/* POP_MARK without a MARK */
	FAILS(f, "\x80\x02K\x01" "1.", CKERR_FORMAT,
	      "byte 4: POP_MARK: no MARK on the stack");
}

static void
test_unpickle__mark_limit(void **state)
{
	struct fx *f = *state;
	uint8_t buf[UNPICKLE_MAX_MARKS + 3];

	/* exactly UNPICKLE_MAX_MARKS MARKs is fine */
	memset(buf, '(', UNPICKLE_MAX_MARKS);
	memcpy(buf + UNPICKLE_MAX_MARKS, "K\x01.", 3);
	assert_int_v(load_ok(f, buf, sizeof(buf)), 1);
	/* one more is a named limit */
	memset(buf, '(', sizeof(buf));
	buf[sizeof(buf) - 1] = '.';
	load_fails(f, buf, sizeof(buf), CKERR_LIMIT,
		   "byte 4096: MARK: MARKs nested more than 4096 deep");
}

/* ---- builtins understood as values ------------------------------------ */

static void
test_unpickle__ordered_dict(void **state)
{
	struct fx *f = *state;
	/* pickle.dumps(collections.OrderedDict([('b', 1), ('a', 2)]), 2) */
	struct pyval *d = LOAD(f,
	    "\x80\x02" "ccollections\nOrderedDict\nq\x00)Rq\x01(X\x01\x00\x00"
	    "\x00" "bq\x02K\x01X\x01\x00\x00\x00" "aq\x03K\x02u.");

	assert_dict(d, 2);
	assert_global_v(d->u.dict->cls, "collections", "OrderedDict");
	assert_seq(d->u.dict->args, PV_TUPLE, 0);
	assert_null(d->u.dict->state);
	assert_int_v(dict_item(d, 0, "b"), 1);
	assert_int_v(dict_item(d, 1, "a"), 2);
}

static void
test_unpickle__ordered_dict_from_pairs(void **state)
{
	struct fx *f = *state;
	/* Hand-made OrderedDict([('a', 1)]) as one REDUCE argument */
	struct pyval *d = LOAD(f, "\x80\x02" "ccollections\nOrderedDict\n"
			       "]X\x01\x00\x00\x00" "aK\x01\x86" "a\x85R.");

	assert_dict(d, 1);
	assert_non_null(d->u.dict->cls);
	assert_int_v(dict_item(d, 0, "a"), 1);
}

static void
test_unpickle__ordered_dict_build_metadata(void **state)
{
	struct fx *f = *state;
	/*
	 * od = OrderedDict([('w', 1)])
	 * od._metadata = OrderedDict([('', {'version': 1})])
	 * pickle.dumps(od, 2) -- a state dict's shape
	 */
	struct pyval *d = LOAD(f,
	    "\x80\x02" "ccollections\nOrderedDict\nq\x00)Rq\x01X\x01\x00\x00"
	    "\x00wq\x02K\x01s}q\x03X\x09\x00\x00\x00_metadataq\x04h\x00)Rq\x05X"
	    "\x00\x00\x00\x00q\x06}q\x07X\x07\x00\x00\x00versionq\x08K\x01sssb"
	    ".");
	struct pyval *st, *md;

	assert_dict(d, 1);			/* '_metadata' is not an item */
	assert_int_v(dict_item(d, 0, "w"), 1);
	st = d->u.dict->state;			/* BUILD sets the attribute */
	assert_dict(st, 1);
	md = dict_item(st, 0, "_metadata");
	assert_dict(md, 1);
	assert_ptr_equal(md->u.dict->cls, d->u.dict->cls);	/* BINGET 0 */
	assert_int_v(dict_str(dict_item(md, 0, ""), "version"), 1);
}

static void
test_unpickle__codecs_encode_is_bytes(void **state)
{
	struct fx *f = *state;
	/* pickle.dumps(b'\x00\xffA', 2): protocol 2 bytes on Python 3 */
	struct pyval *v = LOAD(f,
	    "\x80\x02" "c_codecs\nencode\nq\x00X\x04\x00\x00\x00\x00\xc3\xbf"
	    "Aq\x01X\x06\x00\x00\x00latin1q\x02\x86q\x03Rq\x04.");

	ASSERT_BYTES(v, PV_BYTES, "\x00\xff" "A");
}

static void
test_unpickle__codecs_encode_non_latin1_stays_object(void **state)
{
	struct fx *f = *state;
	/* Hand-made _codecs.encode('\u20ac', 'latin1'): Python raises */
	struct pyval *v = LOAD(f, "\x80\x02" "c_codecs\nencode\n"
			       "X\x03\x00\x00\x00\xe2\x82\xac"
			       "X\x06\x00\x00\x00latin1\x86R.");
	struct pv_object *o = assert_object(v, PV_BY_REDUCE);

	assert_global_v(o->callable, "_codecs", "encode");
	assert_seq(o->args, PV_TUPLE, 2);
}

static void
test_unpickle__set_builtin(void **state)
{
	struct fx *f = *state;
	/* pickle.dumps({1, 2, 3}, 2): __builtin__.set([1, 2, 3]) */
	struct pyval *s2 = LOAD(f,
	    "\x80\x02" "c__builtin__\nset\nq\x00]q\x01(K\x01K\x02K\x03" "e\x85"
	    "q\x02Rq\x03.");
	/* pickle.dumps({1}, 3): builtins.set([1]) */
	struct pyval *s3 = LOAD(f,
	    "\x80\x03" "cbuiltins\nset\nq\x00]q\x01K\x01" "a\x85q\x02Rq\x03.");
	/* pickle.dumps(frozenset({7}), 2) */
	struct pyval *fs = LOAD(f,
	    "\x80\x02" "c__builtin__\nfrozenset\nq\x00]q\x01K\x07" "a\x85q\x02"
	    "Rq\x03.");
	/* Hand-made builtins.set(): loads gives set() */
	struct pyval *s0 = LOAD(f, "\x80\x03" "cbuiltins\nset\n)R.");

	assert_set(s2, PV_SET, 3);
	assert_int_v(elem(s2, 0), 1);
	assert_int_v(elem(s2, 2), 3);
	assert_set(s3, PV_SET, 1);
	assert_int_v(elem(s3, 0), 1);
	assert_set(fs, PV_FROZENSET, 1);
	assert_int_v(elem(fs, 0), 7);
	assert_set(s0, PV_SET, 0);
}

static void
test_unpickle__sets_are_sets(void **state)
{
	struct fx *f = *state;
	/* Hand-made: {1, 1} through ADDITEMS and FROZENSET; loads gives {1} */
	struct pyval *s = LOAD(f, "\x80\x04\x8f(K\x01K\x01\x90.");
	struct pyval *fs = LOAD(f, "\x80\x04(K\x02K\x02\x91.");
	/* the same element as int and float: {1, 1.0} == {1} */
	struct pyval *m = LOAD(f, "\x80\x04\x8f(K\x01G?\xf0\x00\x00\x00\x00"
			       "\x00\x00\x90.");

	assert_set(s, PV_SET, 1);
	assert_set(fs, PV_FROZENSET, 1);
	assert_set(m, PV_SET, 1);
	assert_int_v(elem(m, 0), 1);	/* the first element stays */
	/* Python refuses unhashable elements (TypeError) */
	FAILS(f, "\x80\x04\x8f(]\x90.", CKERR_FORMAT,
	      "byte 5: ADDITEMS: unhashable set item (list)");
	FAILS(f, "\x80\x04(}\x91.", CKERR_FORMAT,
	      "byte 4: FROZENSET: unhashable set item (dict)");
}

static void
test_unpickle__bytes_builtins(void **state)
{
	struct fx *f = *state;
	/* pickle.dumps(b'', 2) */
	struct pyval *e = LOAD(f, "\x80\x02" "c__builtin__\nbytes\nq\x00)Rq\x01.");
	/* pickle.dumps(bytearray(b'ab'), 2) */
	struct pyval *ba = LOAD(f,
	    "\x80\x02" "c__builtin__\nbytearray\nq\x00" "c_codecs\nencode\nq\x01"
	    "X\x02\x00\x00\x00" "abq\x02X\x06\x00\x00\x00latin1q\x03\x86q\x04"
	    "Rq\x05\x85q\x06Rq\x07.");

	ASSERT_BYTES(e, PV_BYTES, "");
	ASSERT_BYTES(ba, PV_BYTEARRAY, "ab");
}

static void
test_unpickle__second_build_does_not_touch_shared_state(void **state)
{
	struct fx *f = *state;
	/*
	 * Hand-made: a Namespace BUILT twice; the first state is memo 0 and
	 * is also put in the result tuple.  pickle.loads leaves memo 0 as
	 * {'a': 1} (BUILD updates the instance's own __dict__).
	 */
	struct pyval *t = LOAD(f,
	    "\x80\x02(cargparse\nNamespace\n)\x81}q\x00X\x01\x00\x00\x00" "aK\x01sb}"
	    "X\x01\x00\x00\x00" "bK\x02sbh\x00t.");
	struct pv_object *o;

	assert_seq(t, PV_TUPLE, 2);
	o = assert_object(at(t, 0), PV_BY_NEWOBJ);
	assert_dict(o->state, 2);
	assert_int_v(dict_item(o->state, 0, "a"), 1);
	assert_int_v(dict_item(o->state, 1, "b"), 2);
	assert_dict(at(t, 1), 1);		/* the shared first state */
	assert_int_v(dict_item(at(t, 1), 0, "a"), 1);
}

static void
test_unpickle__text_opcodes_like_python(void **state)
{
	struct fx *f = *state;
	struct pyval *v;

	/* int(x, 0): prefixes and underscores */
	assert_int_v(LOAD(f, "I0x10\n."), 16);
	assert_int_v(LOAD(f, "I-0o17\n."), -15);
	assert_int_v(LOAD(f, "I0b101\n."), 5);
	assert_int_v(LOAD(f, "I1_000\n."), 1000);
	assert_int_v(LOAD(f, "I000\n."), 0);
	assert_int_v(LOAD(f, "L  42L\n."), 42);
	/* a LONG that fits stays an int, whatever its length */
	assert_int_v(LOAD(f, "L-9223372036854775808L\n."), INT64_MIN);
	/* UNICODE: an escaped backslash does not start an escape */
	v = LOAD(f, "V\\\\u0041\n.");
	ASSERT_STR(v, "\\\\u0041");
	v = LOAD(f, "V\\\\\\u0041\n.");
	ASSERT_STR(v, "\\\\A");
	/* float(): words, exponents, underscores */
	assert_float_bits(LOAD(f, "F1_0.5\n."), 0x4025000000000000ULL);
	assert_float_bits(LOAD(f, "F-Infinity\n."), 0xfff0000000000000ULL);
}

static void
test_unpickle__text_opcodes_python_refuses(void **state)
{
	struct fx *f = *state;

	/* int("010", 0) and friends raise ValueError in Python */
	FAILS(f, "I010\n.", CKERR_FORMAT, "byte 0: INT: malformed integer");
	FAILS(f, "I1__0\n.", CKERR_FORMAT, "byte 0: INT: malformed integer");
	FAILS(f, "I0x\n.", CKERR_FORMAT, "byte 0: INT: malformed integer");
	FAILS(f, "I12a\n.", CKERR_FORMAT, "byte 0: INT: malformed integer");
	/* codecs.escape_decode errors */
	FAILS(f, "S'a\\'\n.", CKERR_FORMAT, "byte 0: STRING: trailing \\ in STRING");
	FAILS(f, "S'\\xzz'\n.", CKERR_FORMAT,
	      "byte 0: STRING: invalid \\x escape in STRING");
	/* float() has no hex floats and no nan payloads */
	FAILS(f, "F0x1p3\n.", CKERR_FORMAT, "byte 0: FLOAT: malformed float");
	FAILS(f, "Fnan(1)\n.", CKERR_FORMAT, "byte 0: FLOAT: malformed float");
	FAILS(f, "F1e\n.", CKERR_FORMAT, "byte 0: FLOAT: malformed float");
}

static void
test_unpickle__long_digit_limit(void **state)
{
	struct fx *f = *state;
	/* Python 3.11 refuses int() of more than 4300 digits; so do we,
	 * since the conversion is quadratic */
	size_t n = 4301, i;
	uint8_t *p = malloc(n + 4);

	assert_non_null(p);
	p[0] = 'L';
	for (i = 1; i <= n; i++)
		p[i] = '7';
	p[n + 1] = '\n';
	p[n + 2] = '.';
	load_fails(f, p, n + 3, CKERR_LIMIT,
		   "byte 0: LONG: integer of 4301 digits (limit 4300)");
	/* 4300 digits is fine: a PV_BIGINT */
	p[n] = '\n';
	p[n + 1] = '.';
	assert_int_equal(load_ok(f, p, n + 2)->kind, PV_BIGINT);
	free(p);
}

static void
test_unpickle__namespace_newobj_build(void **state)
{
	struct fx *f = *state;
	/* pickle.dumps(argparse.Namespace(lr=0.001, layers=[1, 2]), 2) */
	struct pyval *v = LOAD(f,
	    "\x80\x02" "cargparse\nNamespace\nq\x00)\x81q\x01}q\x02(X\x02\x00"
	    "\x00\x00lrq\x03G?PbM\xd2\xf1\xa9\xfcX\x06\x00\x00\x00layersq\x04"
	    "]q\x05(K\x01K\x02" "eub.");
	struct pv_object *o = assert_object(v, PV_BY_NEWOBJ);

	assert_global_v(o->callable, "argparse", "Namespace");
	assert_seq(o->args, PV_TUPLE, 0);
	assert_dict(o->state, 2);
	assert_float_bits(dict_item(o->state, 0, "lr"), 0x3f50624dd2f1a9fcULL);
	assert_seq(dict_item(o->state, 1, "layers"), PV_LIST, 2);
	assert_null(o->items);
	assert_null(o->listitems);
}

static void
test_unpickle__unknown_globals_stay_opaque(void **state)
{
	struct fx *f = *state;
	/* Hand-made (pickletools-checked): foo.bar.Baz, Baz(1), Baz()+items */
	struct pyval *g = LOAD(f, "\x80\x02" "cfoo.bar\nBaz\nq\x00.");
	struct pyval *r = LOAD(f, "\x80\x02" "cfoo.bar\nBaz\nK\x01\x85R.");
	struct pyval *n = LOAD(f, "\x80\x02" "cfoo.bar\nBaz\n)\x81K\x01K\x02s"
			       "K\x03" "a.");
	struct pv_object *o;

	assert_global_v(g, "foo.bar", "Baz");
	o = assert_object(r, PV_BY_REDUCE);
	assert_global_v(o->callable, "foo.bar", "Baz");
	assert_seq(o->args, PV_TUPLE, 1);
	assert_int_v(at(o->args, 0), 1);
	/* SETITEM / APPEND on an opaque object are recorded on it */
	o = assert_object(n, PV_BY_NEWOBJ);
	assert_dict(o->items, 1);
	assert_int_v(o->items->u.dict->items[0].key, 1);
	assert_int_v(o->items->u.dict->items[0].value, 2);
	assert_seq(o->listitems, PV_LIST, 1);
	assert_int_v(at(o->listitems, 0), 3);
}

/* ---- consumed: concatenated pickles ----------------------------------- */

static void
test_unpickle__consumed_concatenated(void **state)
{
	struct fx *f = *state;
	/* pickle.dumps(1, 2) + pickle.dumps('ab', 2) */
	static const uint8_t two[] =
	    "\x80\x02K\x01.\x80\x02X\x02\x00\x00\x00" "abq\x00.";
	size_t len = sizeof(two) - 1, consumed = 0;
	struct pyval *v;

	v = unpickle(f->a, two, len, NULL, &consumed, &f->err);
	assert_int_v(v, 1);
	assert_int_equal(consumed, 5);
	consumed = 0;
	v = unpickle(f->a, two + 5, len - 5, NULL, &consumed, &f->err);
	ASSERT_STR(v, "ab");
	assert_int_equal(consumed, len - 5);
	/* consumed may be NULL */
	assert_int_v(unpickle(f->a, two, len, NULL, NULL, &f->err), 1);
}

/* ---- hooks ------------------------------------------------------------ */

/* What the hooks saw. */
struct hook_log {
	int npersid, nreduce;
	struct pyval *pid;
	struct pyarena *arena;
	struct pyval *loaded;
	enum pv_how how[4];
	struct pyval *callable[4], *args[4];
};

static struct pyval *
log_persid(void *ctx, struct pyarena *a, struct pyval *pid, struct ckerr *err)
{
	struct hook_log *l = ctx;

	l->npersid++;
	l->pid = pid;
	l->arena = a;
	if (pyval_is_str(pid, "nope")) {
		ckerr_set(err, CKERR_NOTFOUND, "no such pid");
		return NULL;
	}
	return l->loaded = pyval_str(a, "loaded", 6);
}

/* Takes over mymod.take(...), refuses mymod.bad, leaves the rest. */
static int
log_reduce(void *ctx, struct pyarena *a, enum pv_how how,
	   struct pyval *callable, struct pyval *args, struct pyval **out,
	   struct ckerr *err)
{
	struct hook_log *l = ctx;

	if (l->nreduce < 4) {
		l->how[l->nreduce] = how;
		l->callable[l->nreduce] = callable;
		l->args[l->nreduce] = args;
	}
	l->nreduce++;
	if (pyval_is_global(callable, "mymod", "take")) {
		*out = pyval_int(a, 99);
		return 1;
	}
	if (pyval_is_global(callable, "mymod", "bad"))
		return ckerr_set(err, CKERR_UNSUPPORTED, "hook refused");
	return 0;
}

static void
test_unpickle__hooks_called_with_arguments(void **state)
{
	struct fx *f = *state;
	struct hook_log hl;
	struct unpickle_hooks h = { &hl, log_persid, log_reduce };
	/*
	 * Hand-made: ('pid' BINPERSID, mymod.take(1, 2), mymod.K() by NEWOBJ,
	 * collections.OrderedDict())
	 */
	static const uint8_t p[] =
	    "\x80\x02(X\x03\x00\x00\x00pidQ"
	    "cmymod\ntake\nK\x01K\x02\x86R"
	    "cmymod\nK\n)\x81"
	    "ccollections\nOrderedDict\n)Rt.";
	struct pyval *t;

	memset(&hl, 0, sizeof(hl));
	t = unpickle(f->a, p, sizeof(p) - 1, &h, NULL, &f->err);
	assert_seq(t, PV_TUPLE, 4);
	/* persistent_load: called once with the pid, its result used */
	assert_int_equal(hl.npersid, 1);
	ASSERT_STR(hl.pid, "pid");
	assert_ptr_equal(hl.arena, f->a);
	assert_ptr_equal(at(t, 0), hl.loaded);
	/* reduce: REDUCE and NEWOBJ calls, in order, with their arguments */
	assert_int_equal(hl.nreduce, 3);
	assert_int_equal(hl.how[0], PV_BY_REDUCE);
	assert_global_v(hl.callable[0], "mymod", "take");
	assert_seq(hl.args[0], PV_TUPLE, 2);
	assert_int_v(at(hl.args[0], 0), 1);
	assert_int_v(at(hl.args[0], 1), 2);
	assert_int_v(at(t, 1), 99);			/* taken over */
	assert_int_equal(hl.how[1], PV_BY_NEWOBJ);
	assert_global_v(hl.callable[1], "mymod", "K");
	assert_seq(hl.args[1], PV_TUPLE, 0);
	assert_object(at(t, 2), PV_BY_NEWOBJ);		/* returned 0 */
	assert_int_equal(hl.how[2], PV_BY_REDUCE);
	assert_global_v(hl.callable[2], "collections", "OrderedDict");
	assert_dict(at(t, 3), 0);	/* 0: the builtin still applies */
	assert_non_null(at(t, 3)->u.dict->cls);
}

static void
test_unpickle__hook_errors_propagate(void **state)
{
	struct fx *f = *state;
	struct hook_log hl;
	struct unpickle_hooks h = { &hl, log_persid, log_reduce };
	/* Hand-made: mymod.bad() */
	static const uint8_t bad[] = "cmymod\nbad\n)R.";
	/* Hand-made: 'nope' BINPERSID */
	static const uint8_t nope[] = "\x80\x02X\x04\x00\x00\x00nopeQ.";

	memset(&hl, 0, sizeof(hl));
	assert_null(unpickle(f->a, bad, sizeof(bad) - 1, &h, NULL, &f->err));
	assert_int_equal(f->err.code, CKERR_UNSUPPORTED);
	assert_string_equal(f->err.msg, "byte 12: REDUCE: hook refused");
	ckerr_clear(&f->err);
	assert_null(unpickle(f->a, nope, sizeof(nope) - 1, &h, NULL, &f->err));
	assert_int_equal(f->err.code, CKERR_NOTFOUND);
	assert_string_equal(f->err.msg, "byte 11: BINPERSID: no such pid");
}

/* ---- errors ----------------------------------------------------------- */

/* One failing pickle with its expected message (all CKERR_FORMAT). */
struct bad_pickle {
	const char *data;
	size_t len;
	const char *msg;
};
#define BAD(lit, msg) { (lit), sizeof(lit) - 1, (msg) }

static void
fails_all(struct fx *f, const struct bad_pickle *cases, size_t n,
	  enum ckerr_code code)
{
	size_t i;

	for (i = 0; i < n; i++)
		load_fails(f, (const uint8_t *)cases[i].data, cases[i].len,
			   code, cases[i].msg);
}

static void
test_unpickle__err_empty_and_no_stop(void **state)
{
	struct fx *f = *state;

	load_fails(f, (const uint8_t *)"", 0, CKERR_FORMAT,
		   "byte 0: pickle ends without STOP");
	FAILS(f, "\x80\x02K\x01", CKERR_FORMAT,
	      "byte 4: pickle ends without STOP");
}

static void
test_unpickle__err_truncated_arguments(void **state)
{
	struct fx *f = *state;
	/* each opcode's fixed-size argument cut short */
	static const struct bad_pickle cases[] = {
		BAD("T\x01\x00", "byte 0: BINSTRING: pickle is truncated"),
		BAD("U", "byte 0: SHORT_BINSTRING: pickle is truncated"),
		BAD("X\x01\x00\x00", "byte 0: BINUNICODE: pickle is truncated"),
		BAD("\x8c", "byte 0: SHORT_BINUNICODE: pickle is truncated"),
		BAD("\x8d\x01\x00\x00\x00\x00\x00\x00",
		    "byte 0: BINUNICODE8: pickle is truncated"),
		BAD("B\x01", "byte 0: BINBYTES: pickle is truncated"),
		BAD("C", "byte 0: SHORT_BINBYTES: pickle is truncated"),
		BAD("\x8e\x01\x00\x00",
		    "byte 0: BINBYTES8: pickle is truncated"),
		BAD("\x96\x01", "byte 0: BYTEARRAY8: pickle is truncated"),
		BAD("\x8a", "byte 0: LONG1: pickle is truncated"),
		BAD("\x8b\x01\x00\x00", "byte 0: LONG4: pickle is truncated"),
		BAD("\x95\x01\x00\x00\x00\x00\x00\x00",
		    "byte 0: FRAME: pickle is truncated"),
		BAD("J\x01\x00\x00", "byte 0: BININT: pickle is truncated"),
		BAD("K", "byte 0: BININT1: pickle is truncated"),
		BAD("M\x01", "byte 0: BININT2: pickle is truncated"),
		BAD("G?\xf0\x00\x00\x00\x00\x00",
		    "byte 0: BINFLOAT: pickle is truncated"),
		BAD("h", "byte 0: BINGET: pickle is truncated"),
		BAD("j\x00\x00", "byte 0: LONG_BINGET: pickle is truncated"),
		BAD("Nq", "byte 1: BINPUT: pickle is truncated"),
		BAD("Nr\x00", "byte 1: LONG_BINPUT: pickle is truncated"),
		BAD("\x80", "byte 0: PROTO: pickle is truncated"),
	};

	fails_all(f, cases, sizeof(cases) / sizeof(cases[0]), CKERR_FORMAT);
}

static void
test_unpickle__err_lines_not_terminated(void **state)
{
	struct fx *f = *state;
	/* text opcodes whose line has no newline */
	static const struct bad_pickle cases[] = {
		BAD("I12", "byte 0: INT: line not terminated"),
		BAD("L12L", "byte 0: LONG: line not terminated"),
		BAD("F1.5", "byte 0: FLOAT: line not terminated"),
		BAD("S'a'", "byte 0: STRING: line not terminated"),
		BAD("Vab", "byte 0: UNICODE: line not terminated"),
		BAD("cmod\nname", "byte 0: GLOBAL: line not terminated"),
		BAD("(imod\nname", "byte 1: INST: line not terminated"),
		BAD("Pkey", "byte 0: PERSID: line not terminated"),
		BAD("g0", "byte 0: GET: line not terminated"),
		BAD("Np0", "byte 1: PUT: line not terminated"),
	};

	fails_all(f, cases, sizeof(cases) / sizeof(cases[0]), CKERR_FORMAT);
}

static void
test_unpickle__err_length_past_end(void **state)
{
	struct fx *f = *state;
	/* a declared length larger than what follows (3 bytes: "ab.") */
	static const struct bad_pickle cases[] = {
		BAD("T\x05\x00\x00\x00" "ab.",
		    "byte 0: BINSTRING: length 5 exceeds the 3 bytes left"),
		BAD("U\x05" "ab.",
		    "byte 0: SHORT_BINSTRING: length 5 exceeds the 3 bytes "
		    "left"),
		BAD("X\x05\x00\x00\x00" "ab.",
		    "byte 0: BINUNICODE: length 5 exceeds the 3 bytes left"),
		BAD("X\xff\xff\xff\xff" "ab.",	/* unsigned: not negative */
		    "byte 0: BINUNICODE: length 4294967295 exceeds the 3 bytes "
		    "left"),
		BAD("\x8c\x05" "ab.", "byte 0: SHORT_BINUNICODE: length 5 "
		    "exceeds the 3 bytes left"),
		BAD("\x8d\x05\x00\x00\x00\x00\x00\x00\x00" "ab.",
		    "byte 0: BINUNICODE8: length 5 exceeds the 3 bytes left"),
		BAD("B\x05\x00\x00\x00" "ab.",
		    "byte 0: BINBYTES: length 5 exceeds the 3 bytes left"),
		BAD("C\x05" "ab.",
		    "byte 0: SHORT_BINBYTES: length 5 exceeds the 3 bytes "
		    "left"),
		BAD("\x8e\xff\xff\xff\xff\xff\xff\xff\xff" "ab.",
		    "byte 0: BINBYTES8: length 18446744073709551615 exceeds "
		    "the 3 bytes left"),
		BAD("\x96\x05\x00\x00\x00\x00\x00\x00\x00" "ab.",
		    "byte 0: BYTEARRAY8: length 5 exceeds the 3 bytes left"),
		BAD("\x8a\x05" "ab.",
		    "byte 0: LONG1: length 5 exceeds the 3 bytes left"),
		BAD("\x8b\x05\x00\x00\x00" "ab.",
		    "byte 0: LONG4: length 5 exceeds the 3 bytes left"),
		BAD("\x95\x05\x00\x00\x00\x00\x00\x00\x00" "ab.",
		    "byte 0: FRAME: frame extends past the end of the pickle"),
		/* signed 4-byte counts must not be negative */
		BAD("T\xff\xff\xff\xff" "ab.",
		    "byte 0: BINSTRING: negative byte count"),
		BAD("\x8b\xff\xff\xff\xff" "ab.",
		    "byte 0: LONG4: negative byte count"),
	};

	fails_all(f, cases, sizeof(cases) / sizeof(cases[0]), CKERR_FORMAT);
}

static void
test_unpickle__err_memo(void **state)
{
	struct fx *f = *state;
	static const struct bad_pickle cases[] = {
		/* never set */
		BAD("\x80\x02h\x46.",
		    "byte 2: BINGET: memo index 70 was never set"),
		BAD("\x80\x02Nq\x00h\x01.",
		    "byte 5: BINGET: memo index 1 was never set"),
		BAD("\x80\x02j\x00\x00\x00\x01.",
		    "byte 2: LONG_BINGET: memo index 16777216 was never set"),
		BAD("g3\n.", "byte 0: GET: memo index 3 was never set"),
		/* an index no pickle of this size can have written */
		BAD("\x80\x02Nr\xff\xff\xff\xff.",
		    "byte 3: LONG_BINPUT: memo index 4294967295 out of range"),
		BAD("\x80\x02Nr\x00\x01\x00\x00.",
		    "byte 3: LONG_BINPUT: memo index 256 out of range"),
		BAD("Np99999\n.", "byte 1: PUT: memo index 99999 out of range"),
		BAD("Np-1\n.", "byte 1: PUT: malformed memo index"),
		/* PUT with nothing to store */
		BAD("\x80\x02q\x00.", "byte 2: BINPUT: stack underflow"),
	};

	fails_all(f, cases, sizeof(cases) / sizeof(cases[0]), CKERR_FORMAT);
}

static void
test_unpickle__err_stack(void **state)
{
	struct fx *f = *state;
	static const struct bad_pickle cases[] = {
		BAD(".", "byte 0: STOP: stack underflow"),
		BAD("\x80\x02\x86.", "byte 2: TUPLE2: stack underflow"),
		BAD("\x80\x02K\x01\x87.", "byte 4: TUPLE3: stack underflow"),
		BAD("\x80\x02" "a.", "byte 2: APPEND: stack underflow"),
		BAD("\x80\x02R.", "byte 2: REDUCE: stack underflow"),
		BAD("\x80\x02\x32.", "byte 2: DUP: stack underflow"),
		BAD("\x80\x02t.", "byte 2: TUPLE: no MARK on the stack"),
		BAD("\x80\x02" "0.", "byte 2: POP: no MARK on the stack"),
		BAD("\x80\x02Q.", "byte 2: BINPERSID: stack underflow"),
		BAD("\x80\x04K\x01\x93.",
		    "byte 4: STACK_GLOBAL: stack underflow"),
	};

	fails_all(f, cases, sizeof(cases) / sizeof(cases[0]), CKERR_FORMAT);
}

static void
test_unpickle__err_bad_operands(void **state)
{
	struct fx *f = *state;
	static const struct bad_pickle cases[] = {
		BAD("\x80\x02}(K\x01u.",
		    "byte 6: SETITEMS: odd number of items for a dict"),
		BAD("(K\x01" "d.",
		    "byte 3: DICT: odd number of items for a dict"),
		BAD("\x80\x02}]K\x01s.",
		    "byte 6: SETITEM: unhashable dict key (list)"),
		BAD("\x80\x02}(}K\x01u.",
		    "byte 7: SETITEMS: unhashable dict key (dict)"),
		BAD("\x80\x02}K\x01" "a.",
		    "byte 5: APPEND: cannot append to a value of type dict"),
		BAD("\x80\x02K\x01(K\x02" "e.",
		    "byte 7: APPENDS: cannot append to a value of type int"),
		BAD("\x80\x04](K\x01\x90.",
		    "byte 6: ADDITEMS: cannot add items to a value of type list"),
		BAD("\x80\x02]K\x01K\x02s.",
		    "byte 7: SETITEM: cannot set items on a value of type list"),
		BAD("\x80\x02K\x01}b.",
		    "byte 5: BUILD: cannot BUILD a value of type int"),
		/* a plain dict has no __dict__: pickle.loads raises */
		BAD("\x80\x02}}b.",
		    "byte 4: BUILD: cannot BUILD a value of type dict"),
		BAD("\x80\x02" "cm\nf\nK\x01R.",
		    "byte 9: REDUCE: arguments must be a tuple, not int"),
		BAD("\x80\x02" "cm\nf\n]\x81.",
		    "byte 8: NEWOBJ: arguments must be a tuple, not list"),
		BAD("\x80\x04K\x01K\x02\x93.",
		    "byte 6: STACK_GLOBAL: module and name must be str"),
		BAD("\x80\x04" "cm\nK\n)))\x92.",
		    "byte 10: NEWOBJ_EX: NEWOBJ_EX needs a tuple and a dict"),
		BAD("(o.", "byte 1: OBJ: OBJ without a class"),
		BAD("\x80\x02" "ccollections\nOrderedDict\n]K\x01" "a\x85R.",
		    "byte 32: REDUCE: OrderedDict items must be pairs"),
	};

	fails_all(f, cases, sizeof(cases) / sizeof(cases[0]), CKERR_FORMAT);
}

static void
test_unpickle__err_malformed_text(void **state)
{
	struct fx *f = *state;
	static const struct bad_pickle cases[] = {
		BAD("F1.5x\n.", "byte 0: FLOAT: malformed float"),
		BAD("F\n.", "byte 0: FLOAT: malformed float"),
		BAD("I1x\n.", "byte 0: INT: malformed integer"),
		BAD("I\n.", "byte 0: INT: malformed integer"),
		BAD("L-L\n.", "byte 0: LONG: malformed integer"),
		BAD("Sabc\n.", "byte 0: STRING: the STRING opcode argument "
		    "must be quoted"),
		BAD("S'abc\"\n.", "byte 0: STRING: the STRING opcode argument "
		    "must be quoted"),
		BAD("V\\u12\n.",
		    "byte 0: UNICODE: malformed \\u escape in UNICODE"),
		BAD("V\\U00110000\n.",
		    "byte 0: UNICODE: malformed \\u escape in UNICODE"),
	};

	fails_all(f, cases, sizeof(cases) / sizeof(cases[0]), CKERR_FORMAT);
}

static void
test_unpickle__err_unknown_opcode(void **state)
{
	struct fx *f = *state;

	FAILS(f, "\x80\x02\xff.", CKERR_FORMAT, "byte 2: unknown opcode 0xff");
	FAILS(f, "\x80\x02\x99.", CKERR_FORMAT, "byte 2: unknown opcode 0x99");
	FAILS(f, "\x80\x02\x00.", CKERR_FORMAT, "byte 2: unknown opcode 0x00");
}

static void
test_unpickle__err_unsupported(void **state)
{
	struct fx *f = *state;
	static const struct bad_pickle cases[] = {
		BAD("\x80\x06K\x01.",
		    "byte 0: PROTO: pickle protocol 6 is not supported"),
		BAD("\x80\x02\x82\x01.", "byte 2: EXT1: the copyreg extension "
		    "registry is not supported"),
		BAD("\x80\x02\x83\x01\x00.", "byte 2: EXT2: the copyreg "
		    "extension registry is not supported"),
		BAD("\x80\x02\x84\x01\x00\x00\x00.", "byte 2: EXT4: the "
		    "copyreg extension registry is not supported"),
		BAD("\x80\x05\x97.", "byte 2: NEXT_BUFFER: out-of-band buffers "
		    "are not supported"),
		BAD("\x80\x05\x98.", "byte 2: READONLY_BUFFER: out-of-band "
		    "buffers are not supported"),
	};

	fails_all(f, cases, sizeof(cases) / sizeof(cases[0]),
		  CKERR_UNSUPPORTED);
}

static void
test_unpickle__opnames(void **state)
{
	size_t named = 0, listed = 0;
	unsigned b;

	(void)state;
#define CHECK_OPNAME(byte, name, proto) \
	assert_string_equal(unpickle_opname(byte), #name); \
	assert_in_range(proto, 0, PICKLE_HIGHEST_PROTOCOL); \
	listed++;
	PICKLE_OPCODES(CHECK_OPNAME)
#undef CHECK_OPNAME
	for (b = 0; b < 256; b++)
		named += unpickle_opname((uint8_t)b) != NULL;
	assert_int_equal(named, listed);	/* nothing else has a name */
	assert_null(unpickle_opname(0xff));
}

/* ---- torch-shaped pickles through the torch hooks --------------------- */

/*
 * The pickles below come from CPython's pickle.Pickler(f, 2) with fake
 * modules standing in for torch: torch._utils._rebuild_tensor_v2 and
 * _rebuild_parameter are plain functions, torch.FloatStorage a class,
 * persistent_id returns ('storage', cls, key, 'cpu', numel) like torch's,
 * and a tensor's __reduce_ex__ returns (_rebuild_tensor_v2, (storage,
 * offset, size, stride, False, OrderedDict())).  T(key, numel, offset,
 * size, stride) below means such a tensor.
 */

/* Unpickle through torchpkl's hooks (zip format: 5-field pids). */
static struct pyval *
torch_load(struct fx *f, const uint8_t *data, size_t len)
{
	struct unpickle_hooks h;

	assert_int_equal(torchpkl_init(&f->tp, f->a, 5, &f->err), 0);
	f->tp_used = true;
	h = torchpkl_hooks(&f->tp);
	ckerr_clear(&f->err);
	return unpickle(f->a, data, len, &h, NULL, &f->err);
}

static void
torch_fails(struct fx *f, const uint8_t *data, size_t len,
	    enum ckerr_code code, const char *msg)
{
	assert_null(torch_load(f, data, len));
	assert_string_equal(f->err.msg, msg);
	assert_int_equal(f->err.code, code);
}

/* {'a': T('0', 12, 0, (3, 4), (4, 1)), 'b': T('0', 12, 4, (2, 2), (4, 2))} */
static const char two_views[] =
    "\x80\x02}q\x00(X\x01\x00\x00\x00" "aq\x01" "ctorch._utils\n_rebu"
    "ild_tensor_v2\nq\x02((X\x07\x00\x00\x00storageq\x03" "ctorch\nFl"
    "oatStorage\nq\x04X\x01\x00\x00\x00" "0q\x05X\x03\x00\x00\x00" "c"
    "puq\x06K\x0ctq\x07QK\x00K\x03K\x04\x86q\x08K\x04K\x01\x86q\x09\x89"
    "ccollections\nOrderedDict\nq\n)Rq\x0btq\x0cRq\x0dX\x01\x00\x00\x00"
    "bq\x0eh\x02((h\x03h\x04h\x05h\x06K\x0ctq\x0fQK\x04K\x02K\x02\x86"
    "q\x10K\x04K\x02\x86q\x11\x89h\n)Rq\x12tq\x13Rq\x14u.";

static void
assert_dims(const struct pv_tensor *t, int ndim, const int64_t *shape,
	    const int64_t *stride)
{
	int i;

	assert_int_equal(t->ndim, ndim);
	for (i = 0; i < ndim; i++) {
		assert_int_equal(t->shape[i], shape[i]);
		assert_int_equal(t->stride[i], stride[i]);
	}
}

static void
test_unpickle__torch_tensors_share_storage(void **state)
{
	struct fx *f = *state;
	static const int64_t sa[] = { 3, 4 }, ta[] = { 4, 1 };
	static const int64_t sb[] = { 2, 2 }, tb[] = { 4, 2 };
	struct pyval *d = torch_load(f, PK(two_views));
	struct pv_tensor *a, *b;
	struct pv_storage *s;

	assert_int_equal(f->err.code, CKERR_OK);
	assert_dict(d, 2);
	assert_int_equal(dict_item(d, 0, "a")->kind, PV_TENSOR);
	a = torchpkl_tensor(dict_item(d, 0, "a"));
	b = torchpkl_tensor(dict_item(d, 1, "b"));
	assert_non_null(a);
	assert_non_null(b);
	/* the first view */
	assert_int_equal(a->rebuild, PV_REBUILD_V2);
	assert_global_v(a->func, "torch._utils", "_rebuild_tensor_v2");
	assert_int_equal(a->dtype, DT_FLOAT32);
	assert_int_equal(a->offset, 0);
	assert_dims(a, 2, sa, ta);
	assert_int_equal(a->numel, 12);
	assert_bool_v(a->requires_grad, false);
	assert_dict(a->hooks, 0);
	assert_non_null(a->hooks->u.dict->cls);
	assert_null(a->metadata);
	assert_false(a->neg || a->conj);
	/* the second: a strided view at offset 4 */
	assert_int_equal(b->offset, 4);
	assert_dims(b, 2, sb, tb);
	assert_int_equal(b->numel, 4);
	/* one storage node for key '0', in the table and the key index */
	assert_ptr_equal(a->storage, b->storage);
	assert_int_equal(a->storage->kind, PV_STORAGE);
	s = a->storage->u.storage;
	assert_string_equal(s->key, "0");
	assert_string_equal(s->location, "cpu");
	assert_global_v(s->type, "torch", "FloatStorage");
	assert_int_equal(s->dtype, DT_FLOAT32);
	assert_false(s->untyped);
	assert_int_equal(s->numel, 12);
	assert_int_equal(s->nbytes, 48);
	assert_int_equal(s->index, 0);
	assert_seq(s->pid, PV_TUPLE, 5);
	assert_int_equal(f->tp.nstorages, 1);
	assert_ptr_equal(f->tp.storages[0], a->storage);
	assert_ptr_equal(pyval_dict_get_str(f->tp.by_key, "0", 1), a->storage);
}

/* T('0', 12, 10, (3,), (1,)): elements 10..12 of a 12-element storage */
static const char past_end[] =
    "\x80\x02" "ctorch._utils\n_rebuild_tensor_v2\nq\x00((X\x07\x00\x00"
    "\x00storageq\x01" "ctorch\nFloatStorage\nq\x02X\x01\x00\x00\x00" "0"
    "q\x03X\x03\x00\x00\x00" "cpuq\x04K\x0ctq\x05QK\nK\x03\x85q\x06K\x01"
    "\x85q\x07\x89" "ccollections\nOrderedDict\nq\x08)Rq\x09tq\nRq\x0b"
    ".";
#define PAST_END_OFFSET_AT 100	/* the byte of BININT1 10 (the offset) */

static void
test_unpickle__torch_view_past_end(void **state)
{
	struct fx *f = *state;

	torch_fails(f, PK(past_end), CKERR_FORMAT,
		    "byte 146: REDUCE: tensor view (offset 10) extends past "
		    "its storage '0' of 12 elements");
}

static void
test_unpickle__torch_view_ending_at_storage_end(void **state)
{
	struct fx *f = *state;
	uint8_t buf[sizeof(past_end) - 1];
	struct pyval *v;

	/* the same pickle with offset 9: elements 9..11, the last ones */
	memcpy(buf, past_end, sizeof(buf));
	assert_int_equal(buf[PAST_END_OFFSET_AT], 10);
	buf[PAST_END_OFFSET_AT] = 9;
	v = torch_load(f, buf, sizeof(buf));
	if (!v)
		fail_msg("%s", f->err.msg);
	assert_int_equal(torchpkl_tensor(v)->offset, 9);
	assert_int_equal(torchpkl_tensor(v)->numel, 3);
}

static void
test_unpickle__torch_negative_size(void **state)
{
	struct fx *f = *state;
	/* T('0', 12, 0, (-1,), (1,)) */
	static const char neg_size[] =
	    "\x80\x02" "ctorch._utils\n_rebuild_tensor_v2\nq\x00((X\x07\x00\x00"
	    "\x00storageq\x01" "ctorch\nFloatStorage\nq\x02X\x01\x00\x00\x00"
	    "0q\x03X\x03\x00\x00\x00" "cpuq\x04K\x0ctq\x05QK\x00J\xff\xff\xff"
	    "\xff\x85q\x06K\x01\x85q\x07\x89" "ccollections\nOrderedDict\nq\x08"
	    ")Rq\x09tq\nRq\x0b.";

	torch_fails(f, PK(neg_size), CKERR_FORMAT,
		    "byte 149: REDUCE: tensor size holds a negative or "
		    "non-integer entry");
}

static void
test_unpickle__torch_unknown_storage_class(void **state)
{
	struct fx *f = *state;
	/* T with torch.FooStorage as the storage class */
	static const char foo_storage[] =
	    "\x80\x02" "ctorch._utils\n_rebuild_tensor_v2\nq\x00((X\x07\x00\x00"
	    "\x00storageq\x01" "ctorch\nFooStorage\nq\x02X\x01\x00\x00\x00" "0"
	    "q\x03X\x03\x00\x00\x00" "cpuq\x04K\x0ctq\x05QK\x00K\x03\x85q\x06"
	    "K\x01\x85q\x07\x89" "ccollections\nOrderedDict\nq\x08)Rq\x09tq\n"
	    "Rq\x0b.";

	torch_fails(f, PK(foo_storage), CKERR_UNSUPPORTED,
		    "byte 96: BINPERSID: unknown storage type "
		    "'torch.FooStorage'");
}

static void
test_unpickle__torch_pid_field_count(void **state)
{
	struct fx *f = *state;
	/* T whose pid is ('storage', FloatStorage, '0', 'cpu'): 4 fields */
	static const char pid4[] =
	    "\x80\x02" "ctorch._utils\n_rebuild_tensor_v2\nq\x00((X\x07\x00\x00"
	    "\x00storageq\x01" "ctorch\nFloatStorage\nq\x02X\x01\x00\x00\x00"
	    "0q\x03X\x03\x00\x00\x00" "cpuq\x04tq\x05QK\x00K\x03\x85q\x06K\x01"
	    "\x85q\x07\x89" "ccollections\nOrderedDict\nq\x08)Rq\x09tq\nRq\x0b"
	    ".";

	torch_fails(f, PK(pid4), CKERR_FORMAT,
		    "byte 96: BINPERSID: storage persistent id has 4 fields, "
		    "expected 5");
}

static void
test_unpickle__torch_parameter(void **state)
{
	struct fx *f = *state;
	/*
	 * _rebuild_parameter(T('0', 6, 0, (2, 3), (3, 1)), True,
	 *                    OrderedDict())
	 */
	static const char param[] =
	    "\x80\x02" "ctorch._utils\n_rebuild_parameter\nq\x00" "ctorch._ut"
	    "ils\n_rebuild_tensor_v2\nq\x01((X\x07\x00\x00\x00storageq\x02" "c"
	    "torch\nFloatStorage\nq\x03X\x01\x00\x00\x00" "0q\x04X\x03\x00\x00"
	    "\x00" "cpuq\x05K\x06tq\x06QK\x00K\x02K\x03\x86q\x07K\x03K\x01\x86"
	    "q\x08\x89" "ccollections\nOrderedDict\nq\x09)Rq\ntq\x0bRq\x0c\x88"
	    "h\x09)Rq\x0d\x87q\x0eRq\x0f.";
	static const int64_t shape[] = { 2, 3 }, stride[] = { 3, 1 };
	struct pyval *v = torch_load(f, PK(param));
	struct pv_object *o;
	struct pv_tensor *t;

	assert_int_equal(f->err.code, CKERR_OK);
	o = assert_object(v, PV_BY_REDUCE);	/* a Parameter stays opaque */
	assert_global_v(o->callable, "torch._utils", "_rebuild_parameter");
	assert_seq(o->args, PV_TUPLE, 3);
	assert_int_equal(at(o->args, 0)->kind, PV_TENSOR);
	t = torchpkl_tensor(v);			/* ... but is seen through */
	assert_ptr_equal(t, at(o->args, 0)->u.tensor);
	assert_ptr_equal(torchpkl_tensor_node(v), at(o->args, 0));
	assert_dims(t, 2, shape, stride);
	assert_int_equal(t->storage->u.storage->numel, 6);
	assert_bool_v(at(o->args, 1), true);
	/* not tensors */
	assert_null(torchpkl_tensor(at(o->args, 1)));
	assert_null(torchpkl_tensor(at(o->args, 2)));
}

/* A LONG1 written with redundant bytes is still the int it holds. */
static void
test_unpickle__long1_nonminimal_is_int(void **state)
{
	struct fx *f = *state;
	/*
	 * Hand-made LONG1 of 1 written in 9 bytes; pickle.loads gives 1, and
	 * a PV_BIGINT here would not equal (or hash like) the int 1.
	 */
	struct pyval *v = LOAD(f, "\x80\x02\x8a\x09\x01\x00\x00\x00\x00\x00"
			       "\x00\x00\x00.");

	assert_int_v(v, 1);
}

int
main(void)
{
#define T(name) cmocka_unit_test_setup_teardown(test_unpickle__##name, \
						setup, teardown)
	const struct CMUnitTest tests[] = {
		/* protocol 0 */
		T(p0_int),
		T(p0_int_beyond_64_bits),
		T(p0_long),
		T(p0_float),
		T(p0_string_escapes),
		T(p0_unicode_escapes),
		T(p0_get_put),
		T(p0_dict_list_tuple),
		T(p0_dict_items_in_mark),
		T(p0_inst),
		T(p0_obj),
		T(p0_persid),
		T(p0_pop_pop_mark_dup),
		T(p0_pop_on_empty_frame_drops_mark),
		T(text_opcodes_like_python),
		T(text_opcodes_python_refuses),
		T(long_digit_limit),
		/* protocols 1-2 */
		T(binint_and_long1),
		T(long4),
		T(binfloat_none_bools),
		T(binstring),
		T(binunicode),
		T(long1_nonminimal_is_int),
		T(containers),
		T(dict_order),
		T(binpersid_without_hook),
		/* protocols 3-5 */
		T(bytes),
		T(frame_memoize),
		T(memoize_numbers_by_memo_size),
		T(stack_global_ordered_dict),
		T(empty_set_additems),
		T(frozenset),
		T(newobj_ex),
		T(binunicode8_binbytes8),
		T(bytearray8),
		/* memo and marks */
		T(long_binput_long_binget),
		T(memo_shares_identity),
		T(nested_marks),
		T(pop_below_mark_fails),
		T(mark_limit),
		/* builtins */
		T(ordered_dict),
		T(ordered_dict_from_pairs),
		T(ordered_dict_build_metadata),
		T(codecs_encode_is_bytes),
		T(codecs_encode_non_latin1_stays_object),
		T(set_builtin),
		T(sets_are_sets),
		T(bytes_builtins),
		T(second_build_does_not_touch_shared_state),
		T(namespace_newobj_build),
		T(unknown_globals_stay_opaque),
		/* consumed, hooks */
		T(consumed_concatenated),
		T(hooks_called_with_arguments),
		T(hook_errors_propagate),
		/* errors */
		T(err_empty_and_no_stop),
		T(err_truncated_arguments),
		T(err_lines_not_terminated),
		T(err_length_past_end),
		T(err_memo),
		T(err_stack),
		T(err_bad_operands),
		T(err_malformed_text),
		T(err_unknown_opcode),
		T(err_unsupported),
		T(opnames),
		/* torch */
		T(torch_tensors_share_storage),
		T(torch_view_past_end),
		T(torch_view_ending_at_storage_end),
		T(torch_negative_size),
		T(torch_unknown_storage_class),
		T(torch_pid_field_count),
		T(torch_parameter),
	};
#undef T

	return cmocka_run_group_tests(tests, NULL, NULL);
}
