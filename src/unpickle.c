/* unpickle: the pickle virtual machine, building pyvals instead of objects. */
#include "config.h"

#include <errno.h>
#include <locale.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "buf.h"
#include "pickleops.h"
#include "rd.h"
#include "unpickle.h"
#include "grow.h"
#include "banned.h"

struct up {
	struct pyarena *a;
	const struct unpickle_hooks *hooks;
	struct ckerr *err;
	struct rd r;
	struct pyval **stack;
	size_t sp, salloc;
	size_t marks[UNPICKLE_MAX_MARKS];
	size_t nmarks;
	struct pyval **memo;	/* NULL slots were never set */
	size_t memo_alloc;
	size_t memo_count;	/* distinct indices set (for MEMOIZE) */
	size_t memo_max;	/* indices above this cannot be legitimate */
};

const char *
unpickle_opname(uint8_t op)
{
	switch (op) {
#define PICKLE_OP_NAME(byte, name, proto) case byte: return #name;
	PICKLE_OPCODES(PICKLE_OP_NAME)
#undef PICKLE_OP_NAME
	default:
		return NULL;
	}
}

static int
fail(struct up *u, enum ckerr_code code, const char *msg)
{
	return ckerr_set(u->err, code, "%s", msg);
}

static int
truncated(struct up *u)
{
	return fail(u, CKERR_FORMAT, "pickle is truncated");
}

static int
push(struct up *u, struct pyval *v)
{
	if (!v)
		return ckerr_nomem(u->err);
	if (u->sp == u->salloc) {
		struct pyval **s = grow_array(u->stack, &u->salloc, u->sp + 1,
					      sizeof(*s), 64);

		if (!s)
			return ckerr_nomem(u->err);
		u->stack = s;
	}
	u->stack[u->sp++] = v;
	return 0;
}

/* Lowest stack slot the current MARK frame may touch. */
static size_t
floor_(const struct up *u)
{
	return u->nmarks ? u->marks[u->nmarks - 1] : 0;
}

static int
pop(struct up *u, struct pyval **out)
{
	if (u->sp <= floor_(u))
		return fail(u, CKERR_FORMAT, "stack underflow");
	*out = u->stack[--u->sp];
	return 0;
}

static int
top(struct up *u, struct pyval **out)
{
	if (u->sp <= floor_(u))
		return fail(u, CKERR_FORMAT, "stack underflow");
	*out = u->stack[u->sp - 1];
	return 0;
}

/*
 * Pop everything above the innermost MARK.  The items stay readable at
 * *items until the next push.
 */
static int
pop_mark(struct up *u, struct pyval ***items, size_t *n)
{
	size_t start;

	if (!u->nmarks)
		return fail(u, CKERR_FORMAT, "no MARK on the stack");
	start = u->marks[--u->nmarks];
	*items = u->stack + start;
	*n = u->sp - start;
	u->sp = start;
	return 0;
}

static int
memo_put(struct up *u, uint64_t idx, struct pyval *v)
{
	if (idx > u->memo_max)
		return ckerr_set(u->err, CKERR_FORMAT,
				 "memo index %llu out of range",
				 (unsigned long long)idx);
	if (idx >= u->memo_alloc) {
		size_t n = u->memo_alloc ? u->memo_alloc : 64;
		struct pyval **m;

		while (n <= idx)
			n *= 2;
		m = realloc(u->memo, n * sizeof(*m));
		if (!m)
			return ckerr_nomem(u->err);
		memset(m + u->memo_alloc, 0, (n - u->memo_alloc) * sizeof(*m));
		u->memo = m;
		u->memo_alloc = n;
	}
	if (!u->memo[idx])
		u->memo_count++;
	u->memo[idx] = v;
	return 0;
}

static int
memo_get(struct up *u, uint64_t idx)
{
	if (idx >= u->memo_alloc || !u->memo[idx])
		return ckerr_set(u->err, CKERR_FORMAT,
				 "memo index %llu was never set",
				 (unsigned long long)idx);
	return push(u, u->memo[idx]);
}

static struct pyval *
seq_from(struct up *u, enum pyval_kind kind, struct pyval **items, size_t n)
{
	struct pyval *t = pyval_seq(u->a, kind);
	size_t i;

	if (!t || pyval_seq_reserve(t, n, u->err) < 0) {
		ckerr_nomem(u->err);
		return NULL;
	}
	for (i = 0; i < n; i++)
		if (pyval_seq_append(t, items[i], u->err) < 0)
			return NULL;
	return t;
}

/* Push a sequence of the items popped to the innermost MARK. */
static int
push_seq_from_mark(struct up *u, enum pyval_kind kind)
{
	struct pyval **items = NULL, *t;
	size_t n = 0;

	if (pop_mark(u, &items, &n) < 0)
		return -1;
	t = seq_from(u, kind, items, n);
	return t ? push(u, t) : -1;
}

static int
push_tuple_n(struct up *u, size_t n)
{
	struct pyval *t;

	if (u->sp - floor_(u) < n)
		return fail(u, CKERR_FORMAT, "stack underflow");
	t = seq_from(u, PV_TUPLE, u->stack + u->sp - n, n);
	if (!t)
		return -1;
	u->sp -= n;
	return push(u, t);
}

static int
read_line(struct up *u, const uint8_t **p, size_t *len)
{
	if (rd_line(&u->r, p, len) < 0)
		return fail(u, CKERR_FORMAT, "line not terminated");
	return 0;
}

static int
hexval(uint8_t c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/*
 * Python's int(text, 0), as load_int and load_long use it: optional blanks
 * and sign, a 0x/0o/0b prefix or a decimal without leading zeros, single
 * underscores between digits.  At most UNPICKLE_MAX_DIGITS digits, like
 * Python 3.11's int_max_str_digits (the conversion is quadratic).  Returns
 * a PV_INT or PV_BIGINT node, or NULL with err set.
 */
#define UNPICKLE_MAX_DIGITS 4300

static struct pyval *
parse_pyint(struct up *u, const uint8_t *p, size_t len)
{
	unsigned base = 10, carry;
	size_t i = 0, ndig = 0, nbytes, k;
	uint8_t *mag;
	int neg = 0, prev_digit = 0;
	struct pyval *v;

	while (len && (p[len - 1] == ' ' || p[len - 1] == '\t' ||
		       p[len - 1] == '\r'))
		len--;
	while (i < len && (p[i] == ' ' || p[i] == '\t'))
		i++;
	if (i < len && (p[i] == '-' || p[i] == '+'))
		neg = p[i++] == '-';
	if (i + 1 < len && p[i] == '0' && strchr("xXoObB", p[i + 1]) &&
	    p[i + 1]) {
		base = strchr("xX", p[i + 1]) ? 16 : strchr("oO", p[i + 1]) ? 8 : 2;
		i += 2;
		prev_digit = 1;	/* "0x_1" is valid */
	} else if (i + 1 < len && p[i] == '0') {
		size_t j;

		for (j = i; j < len; j++)	/* only zeros may lead */
			if (p[j] != '0' && p[j] != '_')
				goto bad;
	}
	for (k = i; k < len; k++) {
		int d = hexval(p[k]);

		if (p[k] == '_' && prev_digit && k + 1 < len && p[k + 1] != '_') {
			prev_digit = 0;
			continue;
		}
		if (d < 0 || (unsigned)d >= base)
			goto bad;
		prev_digit = 1;
		ndig++;
	}
	if (ndig == 0 || !prev_digit)
		goto bad;
	if (ndig > UNPICKLE_MAX_DIGITS) {
		ckerr_set(u->err, CKERR_LIMIT, "integer of %zu digits (limit %d)",
			  ndig, UNPICKLE_MAX_DIGITS);
		return NULL;
	}
	nbytes = ndig / 2 + 3;	/* base^ndig < 256^(ndig/2 + 2), plus sign */
	mag = calloc(nbytes, 1);
	if (!mag) {
		ckerr_nomem(u->err);
		return NULL;
	}
	for (; i < len; i++) {
		if (p[i] == '_')
			continue;
		carry = (unsigned)hexval(p[i]);
		for (k = 0; k < nbytes; k++) {
			unsigned x = mag[k] * base + carry;

			mag[k] = (uint8_t)x;
			carry = x >> 8;
		}
	}
	if (neg) {
		carry = 1;
		for (k = 0; k < nbytes; k++) {
			unsigned x = (uint8_t)~mag[k] + carry;

			mag[k] = (uint8_t)x;
			carry = x >> 8;
		}
	}
	v = pyval_bigint(u->a, mag, nbytes);
	free(mag);
	if (!v)
		ckerr_nomem(u->err);
	return v;
bad:
	fail(u, CKERR_FORMAT, "malformed integer");
	return NULL;
}

/* A memo index written in decimal (PUT, GET). */
static int
parse_index(const uint8_t *p, size_t len, uint64_t *out)
{
	uint64_t v = 0;
	size_t i;

	if (len == 0 || len > 19)
		return -1;
	for (i = 0; i < len; i++) {
		if (p[i] < '0' || p[i] > '9')
			return -1;
		v = v * 10 + (uint64_t)(p[i] - '0');
	}
	*out = v;
	return 0;
}

static int
utf8_put(struct buf *b, uint32_t cp)
{
	char s[4];
	size_t n;

	if (cp < 0x80) {
		s[0] = (char)cp;
		n = 1;
	} else if (cp < 0x800) {
		s[0] = (char)(0xc0 | cp >> 6);
		s[1] = (char)(0x80 | (cp & 0x3f));
		n = 2;
	} else if (cp < 0x10000) {
		s[0] = (char)(0xe0 | cp >> 12);
		s[1] = (char)(0x80 | (cp >> 6 & 0x3f));
		s[2] = (char)(0x80 | (cp & 0x3f));
		n = 3;
	} else {
		s[0] = (char)(0xf0 | cp >> 18);
		s[1] = (char)(0x80 | (cp >> 12 & 0x3f));
		s[2] = (char)(0x80 | (cp >> 6 & 0x3f));
		s[3] = (char)(0x80 | (cp & 0x3f));
		n = 4;
	}
	return buf_add(b, s, n);
}

/* STRING: a quoted Python 2 repr; decode it like codecs.escape_decode. */
static int
op_string(struct up *u)
{
	static const char simple[] = "\\\\''\"\"a\ab\bf\fn\nr\rt\tv\v";
	const uint8_t *p;
	size_t len, i, end;
	struct buf b = BUF_INIT;
	int r;

	if (read_line(u, &p, &len) < 0)
		return -1;
	if (len < 2 || (p[0] != '"' && p[0] != '\'') || p[len - 1] != p[0])
		return fail(u, CKERR_FORMAT, "the STRING opcode argument must be quoted");
	end = len - 1;
	for (i = 1; i < end; i++) {
		uint8_t c = p[i];
		const char *e;
		int out;

		if (c != '\\') {
			out = c;
		} else if (++i == end) {
			buf_release(&b);
			return fail(u, CKERR_FORMAT, "trailing \\ in STRING");
		} else if ((c = p[i]) != 0 &&
			   (e = memchr(simple, c, sizeof(simple) - 1)) != NULL &&
			   (e - simple) % 2 == 0) {
			out = e[1];
		} else if (c == 'x') {
			if (i + 2 >= end || hexval(p[i + 1]) < 0 ||
			    hexval(p[i + 2]) < 0) {
				buf_release(&b);
				return fail(u, CKERR_FORMAT, "invalid \\x escape "
					    "in STRING");
			}
			out = hexval(p[i + 1]) * 16 + hexval(p[i + 2]);
			i += 2;
		} else if (c >= '0' && c <= '7') {
			unsigned v = c - '0', k;

			for (k = 0; k < 2 && i + 1 < end && p[i + 1] >= '0' &&
				    p[i + 1] <= '7'; k++)
				v = v * 8 + (p[++i] - '0');
			out = (int)(v & 0xff);
		} else {
			/* unknown escapes stay as written */
			if (buf_addch(&b, '\\') < 0)
				goto nomem;
			out = c;
		}
		if (buf_addch(&b, out) < 0)
			goto nomem;
	}
	r = push(u, pyval_str(u->a, b.data ? b.data : "", b.len));
	buf_release(&b);
	return r;
nomem:
	buf_release(&b);
	return ckerr_nomem(u->err);
}

/*
 * UNICODE: raw-unicode-escape.  Only \uXXXX and \UXXXXXXXX are escapes,
 * and only after an odd run of backslashes; other bytes are latin-1.
 */
static int
op_unicode(struct up *u)
{
	const uint8_t *p;
	size_t len, i = 0, run, k;
	struct buf b = BUF_INIT;
	int r;

	if (read_line(u, &p, &len) < 0)
		return -1;
	while (i < len) {
		uint32_t cp = p[i];

		if (p[i] == '\\') {
			for (run = 0; i + run < len && p[i + run] == '\\'; run++)
				;
			if (run % 2 && i + run < len &&
			    (p[i + run] == 'u' || p[i + run] == 'U')) {
				size_t nd = p[i + run] == 'u' ? 4 : 8;
				size_t at = i + run + 1;

				for (k = 0; k + 1 < run; k++)
					if (buf_addch(&b, '\\') < 0)
						goto nomem;
				if (at + nd > len)
					goto bad;
				cp = 0;
				for (k = 0; k < nd; k++) {
					int h = hexval(p[at + k]);

					if (h < 0)
						goto bad;
					cp = cp << 4 | (uint32_t)h;
				}
				if (cp > 0x10ffff)
					goto bad;
				if (utf8_put(&b, cp) < 0)
					goto nomem;
				i = at + nd;
				continue;
			}
			for (k = 0; k < run; k++)
				if (buf_addch(&b, '\\') < 0)
					goto nomem;
			i += run;
			continue;
		}
		if (utf8_put(&b, cp) < 0)
			goto nomem;
		i++;
	}
	r = push(u, pyval_str(u->a, b.data ? b.data : "", b.len));
	buf_release(&b);
	return r;
bad:
	buf_release(&b);
	return fail(u, CKERR_FORMAT, "malformed \\u escape in UNICODE");
nomem:
	buf_release(&b);
	return ckerr_nomem(u->err);
}

/* A length-prefixed string-like argument of width bytes (1, 4 or 8). */
static int
op_counted(struct up *u, int width, enum pyval_kind kind, int is_signed)
{
	const uint8_t *p, *data;
	uint64_t n;

	if (rd_bytes(&u->r, (size_t)width, &p) < 0)
		return truncated(u);
	n = rd_le(p, width);
	if (is_signed && width == 4 && (n & 0x80000000u))
		return fail(u, CKERR_FORMAT, "negative byte count");
	if (n > rd_left(&u->r))
		return ckerr_set(u->err, CKERR_FORMAT,
				 "length %llu exceeds the %zu bytes left",
				 (unsigned long long)n, rd_left(&u->r));
	rd_bytes(&u->r, (size_t)n, &data);
	if (kind == PV_BIGINT)
		return push(u, pyval_bigint(u->a, data, (size_t)n));
	return push(u, pyval_bytes(u->a, kind, (const char *)data, (size_t)n));
}

static int
op_global(struct up *u)
{
	const uint8_t *m, *n;
	size_t ml, nl;

	if (read_line(u, &m, &ml) < 0 || read_line(u, &n, &nl) < 0)
		return -1;
	return push(u, pyval_global(u->a, (const char *)m, ml,
				    (const char *)n, nl));
}

static int
op_stack_global(struct up *u)
{
	struct pyval *m, *n;

	if (pop(u, &n) < 0 || pop(u, &m) < 0)
		return -1;
	if (m->kind != PV_STR || n->kind != PV_STR)
		return fail(u, CKERR_FORMAT, "module and name must be str");
	return push(u, pyval_global(u->a, m->u.s.data, m->u.s.len,
				    n->u.s.data, n->u.s.len));
}

/* Decode UTF-8 that holds only code points < 256 into raw bytes. */
static int
latin1_from_utf8(const struct pyval *s, struct buf *out)
{
	const uint8_t *p = (const uint8_t *)s->u.s.data;
	size_t i = 0, n = s->u.s.len;

	while (i < n) {
		if (p[i] < 0x80) {
			if (buf_addch(out, p[i]) < 0)
				return -1;
			i++;
		} else if ((p[i] == 0xc2 || p[i] == 0xc3) && i + 1 < n &&
			   (p[i + 1] & 0xc0) == 0x80) {
			if (buf_addch(out, ((p[i] & 0x1f) << 6) |
					       (p[i + 1] & 0x3f)) < 0)
				return -1;
			i += 2;
		} else {
			return -1;
		}
	}
	return 0;
}

static struct pyval *set_from(struct up *u, enum pyval_kind kind,
			      struct pyval **items, size_t n);

/* The builtins we understand as values rather than opaque calls. */
static int
builtin_reduce(struct up *u, struct pyval *callable, struct pyval *args,
	       struct pyval **out)
{
	size_t nargs = args->u.seq.len;
	struct pyval **av = args->u.seq.items;
	size_t i;

	if (pyval_is_global(callable, "collections", "OrderedDict") &&
	    (nargs == 0 || (nargs == 1 && (av[0]->kind == PV_LIST ||
					   av[0]->kind == PV_TUPLE)))) {
		struct pyval *d = pyval_dict(u->a);
		/* the writer re-emits OrderedDict(): keep the pickle's own
		 * empty tuple when it gave one */
		struct pyval *empty = nargs ? pyval_seq(u->a, PV_TUPLE) : args;

		if (!d || !empty)
			return ckerr_nomem(u->err);
		d->u.dict->cls = callable;
		d->u.dict->args = empty;
		for (i = 0; nargs && i < av[0]->u.seq.len; i++) {
			struct pyval *pair = av[0]->u.seq.items[i];

			if ((pair->kind != PV_TUPLE && pair->kind != PV_LIST) ||
			    pair->u.seq.len != 2)
				return fail(u, CKERR_FORMAT,
					    "OrderedDict items must be pairs");
			if (pyval_dict_set(d, pair->u.seq.items[0],
					   pair->u.seq.items[1], u->err) < 0)
				return -1;
		}
		*out = d;
		return 1;
	}
	if (pyval_is_global(callable, "_codecs", "encode") && nargs == 2 &&
	    av[0]->kind == PV_STR && (pyval_is_str(av[1], "latin1") ||
				      pyval_is_str(av[1], "latin-1"))) {
		struct buf b = BUF_INIT;

		if (latin1_from_utf8(av[0], &b) < 0) {
			buf_release(&b);
			return 0;	/* Python would fail; stay opaque */
		}
		*out = pyval_bytes(u->a, PV_BYTES, b.data ? b.data : "", b.len);
		buf_release(&b);
		return *out ? 1 : ckerr_nomem(u->err);
	}
	if ((pyval_is_global(callable, "builtins", "set") ||
	     pyval_is_global(callable, "builtins", "frozenset")) &&
	    (nargs == 0 || (nargs == 1 && (av[0]->kind == PV_LIST ||
					   av[0]->kind == PV_TUPLE)))) {
		enum pyval_kind k = callable->u.global.name[0] == 's' ?
				    PV_SET : PV_FROZENSET;

		*out = set_from(u, k, nargs ? av[0]->u.seq.items : NULL,
				nargs ? av[0]->u.seq.len : 0);
		return *out ? 1 : -1;
	}
	/* protocol 2 on Python 3: b'' is bytes(), bytearray(b) wraps bytes */
	if ((pyval_is_global(callable, "builtins", "bytes") ||
	     pyval_is_global(callable, "builtins", "bytearray")) &&
	    (nargs == 0 || (nargs == 1 && av[0]->kind == PV_BYTES))) {
		enum pyval_kind k = callable->u.global.name[4] == 'a' ?
				    PV_BYTEARRAY : PV_BYTES;

		*out = pyval_bytes(u->a, k, nargs ? av[0]->u.s.data : "",
				   nargs ? av[0]->u.s.len : 0);
		return *out ? 1 : ckerr_nomem(u->err);
	}
	return 0;
}

static int
do_reduce(struct up *u, enum pv_how how, struct pyval *callable,
	  struct pyval *args)
{
	struct pyval *out = NULL;
	int r;

	if (args->kind != PV_TUPLE)
		return ckerr_set(u->err, CKERR_FORMAT,
				 "arguments must be a tuple, not %s",
				 pyval_kind_name(args->kind));
	if (u->hooks && u->hooks->reduce) {
		r = u->hooks->reduce(u->hooks->ctx, u->a, how, callable, args,
				     &out, u->err);
		if (r < 0)
			return ckerr_isset(u->err) ? -1 : ckerr_nomem(u->err);
		if (r > 0)
			return push(u, out);
	}
	if (how == PV_BY_REDUCE) {
		r = builtin_reduce(u, callable, args, &out);
		if (r < 0)
			return -1;
		if (r > 0)
			return push(u, out);
	}
	return push(u, pyval_object(u->a, how, callable, args));
}

static int
persistent_load(struct up *u, struct pyval *pid)
{
	if (u->hooks && u->hooks->persistent_load) {
		struct pyval *v = u->hooks->persistent_load(u->hooks->ctx, u->a,
							    pid, u->err);

		if (!v) {
			if (!ckerr_isset(u->err))
				ckerr_nomem(u->err);
			return -1;
		}
		return push(u, v);
	}
	return push(u, pyval_persid(u->a, pid));
}

/* Copy the items of dict src into dict dst. */
static int
dict_update(struct up *u, struct pyval *dst, const struct pyval *src)
{
	size_t i;

	for (i = 0; i < src->u.dict->len; i++)
		if (pyval_dict_set(dst, src->u.dict->items[i].key,
				   src->u.dict->items[i].value, u->err) < 0)
			return -1;
	return 0;
}

/*
 * Record BUILD state.  The first BUILD keeps the state object itself (its
 * identity matters when the writer re-pickles it); a second one merges, as
 * __dict__.update would, into a fresh dict, never into the first state,
 * which may be shared through the memo.
 */
static int
build_into(struct up *u, struct pyval **slot, struct pyval *state)
{
	struct pyval *merged;

	if (*slot && (*slot)->kind == PV_DICT && state->kind == PV_DICT) {
		merged = pyval_dict(u->a);
		if (!merged)
			return ckerr_nomem(u->err);
		if (dict_update(u, merged, *slot) < 0 ||
		    dict_update(u, merged, state) < 0)
			return -1;
		*slot = merged;
		return 0;
	}
	*slot = state;
	return 0;
}

static int
op_build(struct up *u)
{
	struct pyval *state, *inst;

	if (pop(u, &state) < 0 || top(u, &inst) < 0)
		return -1;
	/* a plain dict has no __dict__ for BUILD; dict subclasses do */
	if (inst->kind == PV_DICT && inst->u.dict->cls)
		return build_into(u, &inst->u.dict->state, state);
	if (inst->kind == PV_OBJECT)
		return build_into(u, &inst->u.obj->state, state);
	return ckerr_set(u->err, CKERR_FORMAT, "cannot BUILD a value of type %s",
			 pyval_kind_name(inst->kind));
}

/* The items dict of a dict-like target of SETITEM(S). */
static struct pyval *
mapping_target(struct up *u, struct pyval *target)
{
	if (target->kind == PV_DICT)
		return target;
	if (target->kind == PV_OBJECT) {
		if (!target->u.obj->items)
			target->u.obj->items = pyval_dict(u->a);
		if (!target->u.obj->items)
			ckerr_nomem(u->err);
		return target->u.obj->items;
	}
	ckerr_set(u->err, CKERR_FORMAT, "cannot set items on a value of type "
		  "%s", pyval_kind_name(target->kind));
	return NULL;
}

static struct pyval *
list_target(struct up *u, struct pyval *target)
{
	if (target->kind == PV_LIST)
		return target;
	if (target->kind == PV_OBJECT) {
		if (!target->u.obj->listitems)
			target->u.obj->listitems = pyval_seq(u->a, PV_LIST);
		if (!target->u.obj->listitems)
			ckerr_nomem(u->err);
		return target->u.obj->listitems;
	}
	ckerr_set(u->err, CKERR_FORMAT, "cannot append to a value of type %s",
		  pyval_kind_name(target->kind));
	return NULL;
}

static int
set_pairs(struct up *u, struct pyval *d, struct pyval **items, size_t n)
{
	size_t i;

	if (n % 2)
		return fail(u, CKERR_FORMAT, "odd number of items for a dict");
	for (i = 0; i < n; i += 2)
		if (pyval_dict_set(d, items[i], items[i + 1], u->err) < 0)
			return -1;
	return 0;
}

static int
add_all(struct up *u, struct pyval *set, struct pyval **items, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (pyval_set_add(set, items[i], u->err) < 0)
			return -1;
	return 0;
}

/* A SET or FROZENSET of items (duplicates dropped, unhashables refused). */
static struct pyval *
set_from(struct up *u, enum pyval_kind kind, struct pyval **items, size_t n)
{
	struct pyval *s = pyval_set(u->a, kind);

	if (!s) {
		ckerr_nomem(u->err);
		return NULL;
	}
	return add_all(u, s, items, n) < 0 ? NULL : s;
}

static int
append_all(struct up *u, struct pyval *seq, struct pyval **items, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (pyval_seq_append(seq, items[i], u->err) < 0)
			return -1;
	return 0;
}

/* What Python's float() accepts: no hex floats, no "nan(...)". */
static int
python_float_syntax(const char *s)
{
	static const char *const words[] = { "inf", "infinity", "nan" };
	int digits = 0;
	size_t i;

	if (*s == '+' || *s == '-')
		s++;
	for (i = 0; i < sizeof(words) / sizeof(words[0]); i++)
		if (!strcasecmp(s, words[i]))
			return 1;
	for (; (*s >= '0' && *s <= '9') || *s == '_'; s++)
		digits += *s != '_';
	if (*s == '.')
		for (s++; (*s >= '0' && *s <= '9') || *s == '_'; s++)
			digits += *s != '_';
	if (!digits)
		return 0;
	if (*s == 'e' || *s == 'E') {
		s++;
		if (*s == '+' || *s == '-')
			s++;
		if (!(*s >= '0' && *s <= '9'))
			return 0;
		while ((*s >= '0' && *s <= '9') || *s == '_')
			s++;
	}
	return *s == '\0';
}

static int
op_float_text(struct up *u)
{
	const uint8_t *p;
	size_t len;
	char tmp[64], *end;
	locale_t c;
	double f;

	if (read_line(u, &p, &len) < 0)
		return -1;
	if (len == 0 || len >= sizeof(tmp))
		return fail(u, CKERR_FORMAT, "malformed float");
	memcpy(tmp, p, len);
	tmp[len] = '\0';
	if (!python_float_syntax(tmp))
		return fail(u, CKERR_FORMAT, "malformed float");
	for (end = tmp; *end; end++)	/* strtod does not know "1_000.5" */
		if (*end == '_')
			memmove(end, end + 1, strlen(end));
	/* Pickles always use '.', whatever the user's locale says. */
	c = newlocale(LC_NUMERIC_MASK, "C", (locale_t)0);
	if (!c)
		return ckerr_nomem(u->err);
	errno = 0;
	f = strtod_l(tmp, &end, c);
	freelocale(c);
	if (*end)
		return fail(u, CKERR_FORMAT, "malformed float");
	return push(u, pyval_float(u->a, f));
}

static int
op_int_text(struct up *u, int is_long)
{
	const uint8_t *p;
	size_t len;

	if (read_line(u, &p, &len) < 0)
		return -1;
	if (is_long && len && p[len - 1] == 'L')
		len--;
	if (!is_long && len == 2 && p[0] == '0' && (p[1] == '0' || p[1] == '1'))
		return push(u, pyval_bool(u->a, p[1] == '1'));
	return push(u, parse_pyint(u, p, len));
}

static int
read_uint(struct up *u, int width, uint64_t *out)
{
	const uint8_t *p;

	if (rd_bytes(&u->r, (size_t)width, &p) < 0)
		return truncated(u);
	*out = rd_le(p, width);
	return 0;
}

static int
text_index(struct up *u, uint64_t *out)
{
	const uint8_t *p;
	size_t len;

	if (read_line(u, &p, &len) < 0)
		return -1;
	if (parse_index(p, len, out) < 0)
		return fail(u, CKERR_FORMAT, "malformed memo index");
	return 0;
}

/* Execute one opcode; *done is set by STOP. */
static int
step(struct up *u, uint8_t op, struct pyval **result, int *done)
{
	struct pyval *a, *b, *c, **items = NULL;
	uint64_t x = 0;
	size_t n = 0;

	switch (op) {
	case OP_MARK:
		if (u->nmarks == UNPICKLE_MAX_MARKS)
			return ckerr_set(u->err, CKERR_LIMIT,
					 "MARKs nested more than %d deep",
					 UNPICKLE_MAX_MARKS);
		u->marks[u->nmarks++] = u->sp;
		return 0;
	case OP_STOP:
		if (pop(u, result) < 0)
			return -1;
		*done = 1;
		return 0;
	case OP_POP:
		if (u->sp > floor_(u)) {
			u->sp--;
			return 0;
		}
		return pop_mark(u, &items, &n);
	case OP_POP_MARK:
		return pop_mark(u, &items, &n);
	case OP_DUP:
		return top(u, &a) < 0 ? -1 : push(u, a);
	case OP_FLOAT:
		return op_float_text(u);
	case OP_INT:
		return op_int_text(u, 0);
	case OP_LONG:
		return op_int_text(u, 1);
	case OP_BININT:
		if (read_uint(u, 4, &x) < 0)
			return -1;
		return push(u, pyval_int(u->a, (int32_t)(uint32_t)x));
	case OP_BININT1:
		if (read_uint(u, 1, &x) < 0)
			return -1;
		return push(u, pyval_int(u->a, (int64_t)x));
	case OP_BININT2:
		if (read_uint(u, 2, &x) < 0)
			return -1;
		return push(u, pyval_int(u->a, (int64_t)x));
	case OP_LONG1:
		return op_counted(u, 1, PV_BIGINT, 0);
	case OP_LONG4:
		return op_counted(u, 4, PV_BIGINT, 1);
	case OP_BINFLOAT: {
		double f;

		if (rd_f64be(&u->r, &f) < 0)
			return truncated(u);
		return push(u, pyval_float(u->a, f));
	}
	case OP_NONE:
		return push(u, pyval_none(u->a));
	case OP_NEWTRUE:
		return push(u, pyval_bool(u->a, true));
	case OP_NEWFALSE:
		return push(u, pyval_bool(u->a, false));
	case OP_STRING:
		return op_string(u);
	case OP_BINSTRING:
		return op_counted(u, 4, PV_STR, 1);
	case OP_SHORT_BINSTRING:
		return op_counted(u, 1, PV_STR, 0);
	case OP_UNICODE:
		return op_unicode(u);
	case OP_BINUNICODE:
		return op_counted(u, 4, PV_STR, 0);
	case OP_SHORT_BINUNICODE:
		return op_counted(u, 1, PV_STR, 0);
	case OP_BINUNICODE8:
		return op_counted(u, 8, PV_STR, 0);
	case OP_BINBYTES:
		return op_counted(u, 4, PV_BYTES, 0);
	case OP_SHORT_BINBYTES:
		return op_counted(u, 1, PV_BYTES, 0);
	case OP_BINBYTES8:
		return op_counted(u, 8, PV_BYTES, 0);
	case OP_BYTEARRAY8:
		return op_counted(u, 8, PV_BYTEARRAY, 0);
	case OP_EMPTY_TUPLE:
		return push(u, pyval_seq(u->a, PV_TUPLE));
	case OP_EMPTY_LIST:
		return push(u, pyval_seq(u->a, PV_LIST));
	case OP_EMPTY_SET:
		return push(u, pyval_set(u->a, PV_SET));
	case OP_EMPTY_DICT:
		return push(u, pyval_dict(u->a));
	case OP_TUPLE:
		return push_seq_from_mark(u, PV_TUPLE);
	case OP_LIST:
		return push_seq_from_mark(u, PV_LIST);
	case OP_FROZENSET:
		if (pop_mark(u, &items, &n) < 0)
			return -1;
		a = set_from(u, PV_FROZENSET, items, n);
		return a ? push(u, a) : -1;
	case OP_TUPLE1:
		return push_tuple_n(u, 1);
	case OP_TUPLE2:
		return push_tuple_n(u, 2);
	case OP_TUPLE3:
		return push_tuple_n(u, 3);
	case OP_DICT:
		if (pop_mark(u, &items, &n) < 0)
			return -1;
		a = pyval_dict(u->a);
		if (!a)
			return ckerr_nomem(u->err);
		/* items stay valid: nothing was pushed since pop_mark */
		if (set_pairs(u, a, items, n) < 0)
			return -1;
		return push(u, a);
	case OP_APPEND:
		if (pop(u, &b) < 0 || top(u, &a) < 0)
			return -1;
		a = list_target(u, a);
		return a ? pyval_seq_append(a, b, u->err) : -1;
	case OP_APPENDS:
		if (pop_mark(u, &items, &n) < 0 || top(u, &a) < 0)
			return -1;
		a = list_target(u, a);
		return a ? append_all(u, a, items, n) : -1;
	case OP_ADDITEMS:
		if (pop_mark(u, &items, &n) < 0 || top(u, &a) < 0)
			return -1;
		if (a->kind != PV_SET)
			return ckerr_set(u->err, CKERR_FORMAT, "cannot add items "
					 "to a value of type %s",
					 pyval_kind_name(a->kind));
		return add_all(u, a, items, n);
	case OP_SETITEM:
		if (pop(u, &c) < 0 || pop(u, &b) < 0 || top(u, &a) < 0)
			return -1;
		a = mapping_target(u, a);
		return a ? pyval_dict_set(a, b, c, u->err) : -1;
	case OP_SETITEMS:
		if (pop_mark(u, &items, &n) < 0 || top(u, &a) < 0)
			return -1;
		a = mapping_target(u, a);
		return a ? set_pairs(u, a, items, n) : -1;
	case OP_GET:
		return text_index(u, &x) < 0 ? -1 : memo_get(u, x);
	case OP_BINGET:
		return read_uint(u, 1, &x) < 0 ? -1 : memo_get(u, x);
	case OP_LONG_BINGET:
		return read_uint(u, 4, &x) < 0 ? -1 : memo_get(u, x);
	case OP_PUT:
		if (text_index(u, &x) < 0 || top(u, &a) < 0)
			return -1;
		return memo_put(u, x, a);
	case OP_BINPUT:
		if (read_uint(u, 1, &x) < 0 || top(u, &a) < 0)
			return -1;
		return memo_put(u, x, a);
	case OP_LONG_BINPUT:
		if (read_uint(u, 4, &x) < 0 || top(u, &a) < 0)
			return -1;
		return memo_put(u, x, a);
	case OP_MEMOIZE:
		if (top(u, &a) < 0)
			return -1;
		return memo_put(u, u->memo_count, a);
	case OP_GLOBAL:
		return op_global(u);
	case OP_STACK_GLOBAL:
		return op_stack_global(u);
	case OP_REDUCE:
		if (pop(u, &b) < 0 || pop(u, &a) < 0)
			return -1;
		return do_reduce(u, PV_BY_REDUCE, a, b);
	case OP_NEWOBJ:
		if (pop(u, &b) < 0 || pop(u, &a) < 0)
			return -1;
		return do_reduce(u, PV_BY_NEWOBJ, a, b);
	case OP_NEWOBJ_EX:
		if (pop(u, &c) < 0 || pop(u, &b) < 0 || pop(u, &a) < 0)
			return -1;
		if (b->kind != PV_TUPLE || c->kind != PV_DICT)
			return fail(u, CKERR_FORMAT,
				    "NEWOBJ_EX needs a tuple and a dict");
		if (push(u, pyval_object(u->a, PV_BY_NEWOBJ_EX, a, b)) < 0)
			return -1;
		u->stack[u->sp - 1]->u.obj->kwargs = c;
		return 0;
	case OP_INST: {
		struct pyval *cls, *args;

		if (op_global(u) < 0 || pop(u, &cls) < 0)
			return -1;
		if (pop_mark(u, &items, &n) < 0)
			return -1;
		args = seq_from(u, PV_TUPLE, items, n);
		if (!args)
			return -1;
		return push(u, pyval_object(u->a, PV_BY_INST, cls, args));
	}
	case OP_OBJ: {
		struct pyval *args;

		if (pop_mark(u, &items, &n) < 0)
			return -1;
		if (n == 0)
			return fail(u, CKERR_FORMAT, "OBJ without a class");
		args = seq_from(u, PV_TUPLE, items + 1, n - 1);
		if (!args)
			return -1;
		return push(u, pyval_object(u->a, PV_BY_INST, items[0], args));
	}
	case OP_BUILD:
		return op_build(u);
	case OP_PERSID: {
		const uint8_t *p;
		size_t len;
		struct pyval *pid;

		if (read_line(u, &p, &len) < 0)
			return -1;
		pid = pyval_str(u->a, (const char *)p, len);
		if (!pid)
			return ckerr_nomem(u->err);
		return persistent_load(u, pid);
	}
	case OP_BINPERSID:
		if (pop(u, &a) < 0)
			return -1;
		return persistent_load(u, a);
	case OP_PROTO:
		if (read_uint(u, 1, &x) < 0)
			return -1;
		if (x > PICKLE_HIGHEST_PROTOCOL)
			return ckerr_set(u->err, CKERR_UNSUPPORTED,
					 "pickle protocol %llu is not supported",
					 (unsigned long long)x);
		return 0;
	case OP_FRAME:
		if (read_uint(u, 8, &x) < 0)
			return -1;
		if (x > rd_left(&u->r))
			return fail(u, CKERR_FORMAT,
				    "frame extends past the end of the pickle");
		return 0;	/* frames only group bytes for buffering */
	case OP_EXT1:
	case OP_EXT2:
	case OP_EXT4:
		return fail(u, CKERR_UNSUPPORTED,
			    "the copyreg extension registry is not supported");
	case OP_NEXT_BUFFER:
	case OP_READONLY_BUFFER:
		return fail(u, CKERR_UNSUPPORTED,
			    "out-of-band buffers are not supported");
	default:
		return ckerr_set(u->err, CKERR_FORMAT, "unknown opcode 0x%02x",
				 op);
	}
}

struct pyval *
unpickle(struct pyarena *a, const uint8_t *data, size_t len,
	 const struct unpickle_hooks *hooks, size_t *consumed,
	 struct ckerr *err)
{
	struct up *u;
	struct pyval *result = NULL;
	int done = 0;

	u = calloc(1, sizeof(*u));
	if (!u) {
		ckerr_nomem(err);
		return NULL;
	}
	u->a = a;
	u->hooks = hooks;
	u->err = err;
	u->memo_max = len;
	u->salloc = 64;
	u->stack = malloc(u->salloc * sizeof(*u->stack));
	if (!u->stack) {
		free(u);
		ckerr_nomem(err);
		return NULL;
	}
	rd_init(&u->r, data, len);
	while (!done) {
		size_t at = rd_pos(&u->r);
		const char *name;
		uint8_t op;

		if (rd_u8(&u->r, &op) < 0) {
			ckerr_set(err, CKERR_FORMAT,
				  "byte %zu: pickle ends without STOP", at);
			result = NULL;
			break;
		}
		if (step(u, op, &result, &done) < 0) {
			name = unpickle_opname(op);
			if (name)
				ckerr_prefix(err, "byte %zu: %s: ", at, name);
			else
				ckerr_prefix(err, "byte %zu: ", at);
			result = NULL;
			break;
		}
	}
	if (done && consumed)
		*consumed = rd_pos(&u->r);
	free(u->stack);
	free(u->memo);
	free(u);
	return result;
}
