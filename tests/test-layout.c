/*
 * test-layout: layout files (every accepted form, every error message,
 * the round trip print -> parse), lookups and diffs, the edits suggest()
 * finds (and the ambiguous ones it withholds), checked by applying them
 * to the layout, and the key groups of a diff report.
 */
#include "config.h"

#include <inttypes.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "edit.h"
#include "layout.h"
#include "script.h"
#include "suggest.h"
#include "banned.h"

#define NAME "t.layout"
#define LINE_HELP "expected 'KEY DTYPE [d0, d1, ...]'"
#define N(a) (sizeof(a) / sizeof((a)[0]))

/* ---- helpers ------------------------------------------------------------- */

/* One tensor of a hand-built layout. */
struct spec {
	const char *key;
	enum dtype dt;
	int ndim;
	int64_t shape[4];
};

static void
build(struct layout *l, const struct spec *s, size_t n)
{
	struct ckerr err = CKERR_INIT;
	size_t i;

	memset(l, 0, sizeof(*l));
	for (i = 0; i < n; i++)
		if (layout_add(l, s[i].key, s[i].dt, s[i].ndim, s[i].shape, 0,
			       &err) < 0)
			fail_msg("layout_add '%s': %s", s[i].key, err.msg);
}

/* The layout as `layout` prints it, one entry a line. */
static char *
layout_text(const struct layout *l)
{
	struct buf b = BUF_INIT;
	size_t i;

	for (i = 0; i < l->n; i++)
		assert_int_equal(layout_print_entry(&l->v[i], &b), 0);
	assert_int_equal(buf_grow(&b, 0), 0);
	return buf_detach(&b, NULL);
}

static void
parse_ok_len(const char *text, size_t len, struct layout *l)
{
	struct ckerr err = CKERR_INIT;

	if (layout_parse(text, len, NAME, l, &err) < 0)
		fail_msg("'%s' does not parse: %s", text, err.msg);
	assert_int_equal(err.code, CKERR_OK);
}

static void
parse_ok(const char *text, struct layout *l)
{
	parse_ok_len(text, strlen(text), l);
}

/* text parses to the layout that prints as want. */
static void
assert_parses(const char *text, const char *want)
{
	struct layout l;
	char *got;

	parse_ok(text, &l);
	got = layout_text(&l);
	if (strcmp(got, want))
		fail_msg("'%s' parses to\n%s\nnot\n%s", text, got, want);
	free(got);
	layout_release(&l);
}

/* text fails with this code and message, and leaves the layout empty. */
static void
assert_parse_fails_len(const char *text, size_t len, enum ckerr_code code,
		       const char *msg)
{
	struct ckerr err = CKERR_INIT;
	struct layout l;

	memset(&l, 0xa5, sizeof(l));
	if (layout_parse(text, len, NAME, &l, &err) != -1)
		fail_msg("'%s' parsed", text);
	if (strcmp(err.msg, msg))
		fail_msg("'%s': message '%s', want '%s'", text, err.msg, msg);
	assert_int_equal(err.code, code);
	assert_null(l.v);
	assert_null(l.sorted);
	assert_int_equal(l.n, 0);
	assert_int_equal(l.alloc, 0);
}

static void
assert_parse_fails(const char *text, const char *msg)
{
	assert_parse_fails_len(text, strlen(text), CKERR_USAGE, msg);
}

/* The same keys in the same order with the same dtypes and shapes. */
static void
assert_same_layout(const struct layout *a, const struct layout *b)
{
	size_t i;

	assert_int_equal(a->n, b->n);
	for (i = 0; i < a->n; i++) {
		if (strcmp(a->v[i].key, b->v[i].key))
			fail_msg("entry %zu: key '%s', not '%s'", i,
				 a->v[i].key, b->v[i].key);
		if (!layout_entry_same(&a->v[i], &b->v[i]))
			fail_msg("entry %zu ('%s'): another dtype or shape", i,
				 a->v[i].key);
	}
}

/* Print every entry, parse the text again: the same layout, and the
 * same text when printed again. */
static void
assert_round_trip(const struct layout *l)
{
	struct layout back;
	char *text = layout_text(l), *again;

	parse_ok(text, &back);
	assert_same_layout(l, &back);
	again = layout_text(&back);
	assert_string_equal(again, text);
	free(again);
	free(text);
	layout_release(&back);
}

static char *
key_text(const char *key)
{
	struct buf b = BUF_INIT;

	assert_int_equal(layout_add_key(&b, key), 0);
	assert_int_equal(buf_grow(&b, 0), 0);
	return buf_detach(&b, NULL);
}

/* "NAME DTYPE [d...]" for n dims of 1 (quoted: the key in quotes). */
static char *
many_dims_line(int n, bool quoted)
{
	struct buf b = BUF_INIT;
	int i;

	assert_int_equal(buf_addstr(&b, quoted ? "\"a\" float32 [" :
				    "a float32 ["), 0);
	for (i = 0; i < n; i++)
		assert_int_equal(buf_addstr(&b, i ? ", 1" : "1"), 0);
	assert_int_equal(buf_addstr(&b, "]\n"), 0);
	return buf_detach(&b, NULL);
}

/* ---- layout files: what parses ------------------------------------------- */

struct parse_case {
	const char *text;
	const char *want;	/* as layout_print_entry prints it */
};

static void
check_parses(const struct parse_case *cases, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		assert_parses(cases[i].text, cases[i].want);
}

static void
test_layout__parse_contract_format(void **state)
{
	static const struct parse_case cases[] = {
		{ "a float32 [3, 4]\n", "a float32 [3, 4]\n" },
		{ "a float32 []\n", "a float32 []\n" },
		{ "a float32 [ ]\n", "a float32 []\n" },
		{ "a int64 [7]\n", "a int64 [7]\n" },
		{ "a float32 [3,4]\n", "a float32 [3, 4]\n" },
		{ "a float32 [ 3 , 4 ]\n", "a float32 [3, 4]\n" },
		{ "a float32 [007, 0]\n", "a float32 [7, 0]\n" },
		{ "a float32 [9223372036854775807]\n",
		  "a float32 [9223372036854775807]\n" },
		{ "model.enc.0.weight bfloat16 [8, 3, 3, 3]\n"
		  "model.enc.0.bias bfloat16 [8]\n"
		  "model.step int64 []\n",
		  "model.enc.0.weight bfloat16 [8, 3, 3, 3]\n"
		  "model.enc.0.bias bfloat16 [8]\n"
		  "model.step int64 []\n" },
		/* no final newline; an empty file; only comments */
		{ "a float32 [1]", "a float32 [1]\n" },
		{ "", "" },
		{ "\n\n# nothing here\n", "" },
	};

	(void)state;
	check_parses(cases, N(cases));
}

static void
test_layout__parse_python_prints(void **state)
{
	static const struct parse_case cases[] = {
		/* print(k, v.dtype, list(v.shape)) */
		{ "enc.weight torch.float32 [3, 4]\nenc.step torch.int64 []\n",
		  "enc.weight float32 [3, 4]\nenc.step int64 []\n" },
		/* print(k, v.dtype, v.shape) */
		{ "enc.weight torch.float32 torch.Size([3, 4])\n"
		  "enc.step torch.int64 torch.Size([])\n",
		  "enc.weight float32 [3, 4]\nenc.step int64 []\n" },
		{ "a torch.float16 torch.Size([5])\n", "a float16 [5]\n" },
		/* print(k, v.dtype, tuple(v.shape)) */
		{ "a torch.float32 (3, 4)\nb torch.float32 (3,)\n"
		  "c torch.float32 ()\n",
		  "a float32 [3, 4]\nb float32 [3]\nc float32 []\n" },
		{ "a float32 ( 3 , )\n", "a float32 [3]\n" },
	};

	(void)state;
	check_parses(cases, N(cases));
}

static void
test_layout__parse_dtype_names(void **state)
{
	static const struct parse_case cases[] = {
		/* safetensors names */
		{ "a F32 [1]\nb BF16 [1]\nc I64 [1]\nd BOOL [1]\ne F16 [1]\n"
		  "f U8 [1]\ng F8_E4M3 [1]\n",
		  "a float32 [1]\nb bfloat16 [1]\nc int64 [1]\nd bool [1]\n"
		  "e float16 [1]\nf uint8 [1]\ng float8_e4m3fn [1]\n" },
		/* torch's aliases, with or without "torch." */
		{ "a torch.float [1]\nb torch.long [1]\nc half [1]\n"
		  "d torch.double [1]\ne int [1]\nf torch.cfloat [1]\n",
		  "a float32 [1]\nb int64 [1]\nc float16 [1]\nd float64 [1]\n"
		  "e int32 [1]\nf complex64 [1]\n" },
		{ "a torch.bfloat16 [2]\nb torch.bool []\nc uint64 [1]\n",
		  "a bfloat16 [2]\nb bool []\nc uint64 [1]\n" },
	};

	(void)state;
	check_parses(cases, N(cases));
}

static void
test_layout__parse_blank_comment_crlf_bom(void **state)
{
	static const struct parse_case cases[] = {
		{ "\n\n# a comment\n   \t\n  # an indented one\na float32 [1]\n"
		  "\n", "a float32 [1]\n" },
		/* a comment after the shape, with or without a blank */
		{ "a float32 [1] # trailing\nb int8 [2]# tight\n"
		  "c int8 torch.Size([3])\t#\n",
		  "a float32 [1]\nb int8 [2]\nc int8 [3]\n" },
		/* blanks around the fields, tabs between them */
		{ "  a\tfloat32\t[1,2]  \t\n", "a float32 [1, 2]\n" },
		/* CRLF, also on the last line and on blank ones */
		{ "a float32 [1]\r\n\r\nb float32 [2]\r\n",
		  "a float32 [1]\nb float32 [2]\n" },
		{ "a float32 [1]\r", "a float32 [1]\n" },
		/* a UTF-8 byte order mark */
		{ "\xef\xbb\xbf" "a float32 [1]\n", "a float32 [1]\n" },
		{ "\xef\xbb\xbf" "# c\r\na float32 [1]\r\n",
		  "a float32 [1]\n" },
	};

	(void)state;
	check_parses(cases, N(cases));
}

/* Keys with blanks as Python prints them (bare), and quoted ones. */
static void
test_layout__parse_keys_with_blanks_and_quotes(void **state)
{
	static const struct parse_case cases[] = {
		{ "encoder layer.weight torch.float32 [3, 4]\n",
		  "\"encoder layer.weight\" float32 [3, 4]\n" },
		{ "a  b\tc float32 [1]\n", "\"a  b\tc\" float32 [1]\n" },
		/* the dtype: the first word followed by a shape, the end */
		{ "a float32 b float32 [3]\n",
		  "\"a float32 b\" float32 [3]\n" },
		{ "x float32 [3] float32 [4]\n",
		  "\"x float32 [3]\" float32 [4]\n" },
		{ "a b [3] float32 [4]\n", "\"a b [3]\" float32 [4]\n" },
		/* ... but not one inside the trailing comment */
		{ "a float32 [3] # float32 [4]\n", "a float32 [3]\n" },
		/* keys that look like dtypes or shapes */
		{ "float32 float32 [1]\n", "float32 float32 [1]\n" },
		{ "[3] float32 [1]\n(3,) float32 [2]\n",
		  "[3] float32 [1]\n(3,) float32 [2]\n" },
		{ "torch.Size([3]) float32 [1]\n",
		  "torch.Size([3]) float32 [1]\n" },
		/* quoted keys */
		{ "\"a b\" float32 [1]\n", "\"a b\" float32 [1]\n" },
		{ "  \"a b\"\ttorch.float32 torch.Size([2]) # c\n",
		  "\"a b\" float32 [2]\n" },
		{ "\"plain\" float32 [1]\n", "plain float32 [1]\n" },
		{ "\"q\\\"x\\\\y\" float32 [1]\n",
		  "\"q\\\"x\\\\y\" float32 [1]\n" },
		/* a backslash before anything else is literal */
		{ "\"a\\nb\" float32 [1]\n", "\"a\\\\nb\" float32 [1]\n" },
		{ "\"\" float32 [1]\n", "\"\" float32 [1]\n" },
		{ "\"#x\" float32 [1] # c\n", "\"#x\" float32 [1]\n" },
		{ "\"a float32 [3]\" int8 [4]\n",
		  "\"a float32 [3]\" int8 [4]\n" },
		{ "\"tab\there\" float32 [1]\n",
		  "\"tab\there\" float32 [1]\n" },
		{ "\"it's\" float32 [1]\n", "\"it's\" float32 [1]\n" },
		/* a quote inside a bare key is an ordinary character */
		{ "a\"b float32 [1]\n", "\"a\\\"b\" float32 [1]\n" },
	};

	(void)state;
	check_parses(cases, N(cases));
}

static void
test_layout__parse_records_lines(void **state)
{
	static const char text[] =
		"# header\n"
		"a float32 [1]\r\n"
		"\n"
		"  # indented comment\n"
		"\"b c\" int64 []\n"
		"d e torch.float16 torch.Size([2])\n";
	struct layout l;

	(void)state;
	parse_ok(text, &l);
	assert_int_equal(l.n, 3);
	assert_string_equal(l.v[0].key, "a");
	assert_int_equal(l.v[0].line, 2);
	assert_int_equal(l.v[0].dtype, DT_FLOAT32);
	assert_int_equal(l.v[0].ndim, 1);
	assert_true(l.v[0].shape[0] == 1);
	assert_string_equal(l.v[1].key, "b c");
	assert_int_equal(l.v[1].line, 5);
	assert_int_equal(l.v[1].dtype, DT_INT64);
	assert_int_equal(l.v[1].ndim, 0);
	assert_null(l.v[1].shape);
	assert_string_equal(l.v[2].key, "d e");
	assert_int_equal(l.v[2].line, 6);
	assert_int_equal(l.v[2].dtype, DT_FLOAT16);
	/* the index is built: lookups work at once */
	assert_non_null(l.sorted);
	assert_int_equal(layout_find(&l, "b c"), 1);
	layout_release(&l);
	assert_null(l.v);
	assert_int_equal(l.n, 0);
}

/* Only len bytes are read; a NUL-free text need not end in a NUL. */
static void
test_layout__parse_reads_len_bytes(void **state)
{
	static const char text[] = "a float32 [1]\nb float32 [2]\n";
	struct layout l;

	(void)state;
	parse_ok_len(text, 14, &l);
	assert_int_equal(l.n, 1);
	layout_release(&l);
	/* cut inside the second line's shape */
	assert_parse_fails_len(text, 26, CKERR_USAGE, NAME ":2: " LINE_HELP);
}

static void
test_layout__parse_64_dimensions(void **state)
{
	char *line = many_dims_line(64, false);
	struct layout l;

	(void)state;
	parse_ok(line, &l);
	assert_int_equal(l.n, 1);
	assert_int_equal(l.v[0].ndim, 64);
	assert_round_trip(&l);
	layout_release(&l);
	free(line);
	line = many_dims_line(64, true);
	parse_ok(line, &l);
	assert_int_equal(l.v[0].ndim, 64);
	layout_release(&l);
	free(line);
}

/* ---- layout files: errors ------------------------------------------------ */

struct error_case {
	const char *text;
	const char *msg;
};

static void
check_errors(const struct error_case *cases, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		assert_parse_fails(cases[i].text, cases[i].msg);
}

static void
test_layout__parse_errors_expected(void **state)
{
	static const struct error_case cases[] = {
		{ "a\n", NAME ":1: " LINE_HELP },
		{ "a float32\n", NAME ":1: " LINE_HELP },
		{ "a [3]\n", NAME ":1: " LINE_HELP },
		{ "float32 [3]\n", NAME ":1: " LINE_HELP },	/* no key */
		{ "a float32 [3] x\n", NAME ":1: " LINE_HELP },
		{ "a float32 [3\n", NAME ":1: " LINE_HELP },
		{ "a float32 [3)\n", NAME ":1: " LINE_HELP },
		{ "a float32 (3]\n", NAME ":1: " LINE_HELP },
		{ "a float32 [3,]\n", NAME ":1: " LINE_HELP },
		{ "a float32 [,3]\n", NAME ":1: " LINE_HELP },
		{ "a float32 (3)\n", NAME ":1: " LINE_HELP },
		{ "a float32 (3, 4,)\n", NAME ":1: " LINE_HELP },
		{ "a float32 (,)\n", NAME ":1: " LINE_HELP },
		{ "a float32 [-1]\n", NAME ":1: " LINE_HELP },
		{ "a float32 [+1]\n", NAME ":1: " LINE_HELP },
		{ "a float32 [3 4]\n", NAME ":1: " LINE_HELP },
		{ "a float32 [3,,4]\n", NAME ":1: " LINE_HELP },
		{ "a float32 [x]\n", NAME ":1: " LINE_HELP },
		{ "a float32 [0x10]\n", NAME ":1: " LINE_HELP },
		{ "a float32 torch.Size([3]\n", NAME ":1: " LINE_HELP },
		{ "a float32 torch.Size((3,))\n", NAME ":1: " LINE_HELP },
		{ "a float32 torch.Size(3)\n", NAME ":1: " LINE_HELP },
		{ "\"a\"float32 [3]\n", NAME ":1: " LINE_HELP },
		{ "\"a\"\n", NAME ":1: " LINE_HELP },
		{ "\"a\" float32\n", NAME ":1: " LINE_HELP },
		{ "\"a\" float32 [3] x\n", NAME ":1: " LINE_HELP },
		{ "\"a\" float32 (3)\n", NAME ":1: " LINE_HELP },
		/* the line number counts blank and comment lines, and CRLF */
		{ "ok float32 [1]\n\n# c\n  bad line here\n", NAME ":4: "
		  LINE_HELP },
		{ "a float32 [1]\r\nb\r\n", NAME ":2: " LINE_HELP },
		{ "\xef\xbb\xbf" "a float32 [1]\nb\n", NAME ":2: " LINE_HELP },
	};

	(void)state;
	check_errors(cases, N(cases));
}

static void
test_layout__parse_errors_dtype(void **state)
{
	static const struct error_case cases[] = {
		{ "a float33 [3]\n", NAME ":1: unknown dtype 'float33'" },
		{ "a Float32 [3]\n", NAME ":1: unknown dtype 'Float32'" },
		{ "a torch.floaty torch.Size([3])\n", NAME ":1: unknown dtype "
		  "'torch.floaty'" },
		{ "a torch. [3]\n", NAME ":1: unknown dtype 'torch.'" },
		{ "a b c (3,)\n", NAME ":1: unknown dtype 'c'" },
		{ "\"a\" nope [3]\n", NAME ":1: unknown dtype 'nope'" },
		{ "\"a b\"  f32 torch.Size([])\n",
		  NAME ":1: unknown dtype 'f32'" },
		{ "x float32 [1]\ny int65 []\n",
		  NAME ":2: unknown dtype 'int65'" },
	};

	(void)state;
	check_errors(cases, N(cases));
}

static void
test_layout__parse_errors_limits(void **state)
{
	static const struct error_case cases[] = {
		{ "a float32 [9223372036854775808]\n", NAME ":1: a dimension "
		  "larger than 2^63-1" },
		{ "a float32 [3, 99999999999999999999999]\n", NAME ":1: a "
		  "dimension larger than 2^63-1" },
		{ "a torch.float32 torch.Size([18446744073709551616])\n", NAME
		  ":1: a dimension larger than 2^63-1" },
		{ "\"a\" float32 (9223372036854775808,)\n",
		  NAME ":1: a dimension larger than 2^63-1" },
	};
	char *line;

	(void)state;
	check_errors(cases, N(cases));
	line = many_dims_line(65, false);
	assert_parse_fails(line, NAME ":1: more than 64 dimensions");
	free(line);
	line = many_dims_line(65, true);
	assert_parse_fails(line, NAME ":1: more than 64 dimensions");
	free(line);
}

static void
test_layout__parse_errors_duplicate_key(void **state)
{
	static const struct error_case cases[] = {
		{ "a float32 [1]\n\nb int64 []\na float32 [1]\n",
		  NAME ":4: key 'a' listed twice (first on line 1)" },
		/* a quoted key and a bare one name the same key */
		{ "# c\n\"a b\" float32 [1]\na b int8 [2]\n", NAME ":3: key "
		  "'a b' listed twice (first on line 2)" },
		{ "x float32 [1]\r\nx float32 [1]\r\n",
		  NAME ":2: key 'x' listed twice (first on line 1)" },
	};

	(void)state;
	check_errors(cases, N(cases));
}

static void
test_layout__parse_errors_quotes_and_nul(void **state)
{
	static const struct error_case cases[] = {
		{ "\"abc float32 [3]\n", NAME ":1: unterminated quoted key" },
		{ "\"a\\\" float32 [3]\n", NAME ":1: unterminated quoted key" },
		{ "a float32 [1]\n  \"\n", NAME ":2: unterminated quoted key" },
	};
	static const char nul1[] = "a float32 [3]\n\0\n";
	static const char nul2[] = "# c\0mment\na float32 [3]\n";
	static const char nul3[] = "a float32 [3]\nb\0 float32 [3]";

	(void)state;
	check_errors(cases, N(cases));
	assert_parse_fails_len(nul1, sizeof(nul1) - 1, CKERR_USAGE, NAME ":2: "
			       "a NUL byte (is this a binary file?)");
	assert_parse_fails_len(nul2, sizeof(nul2) - 1, CKERR_USAGE, NAME ":1: "
			       "a NUL byte (is this a binary file?)");
	assert_parse_fails_len(nul3, sizeof(nul3) - 1, CKERR_USAGE, NAME ":2: "
			       "a NUL byte (is this a binary file?)");
}

/* An error after good lines frees them: nothing is left. */
static void
test_layout__parse_error_leaves_layout_empty(void **state)
{
	static const char text[] =
		"a float32 [1]\nb float32 [2]\nc float32 [3]\nd float32 [4]\n"
		"e float32 [5]\nbroken\n";

	(void)state;
	assert_parse_fails(text, NAME ":6: " LINE_HELP);
	assert_parse_fails("a float32 [1]\nb float32 [2]\na float32 [1]\n",
			   NAME ":3: key 'a' listed twice (first on line 1)");
}

static void
test_layout__parse_file_too_large(void **state)
{
	size_t len = LAYOUT_MAX_FILE + 1;
	char *big = malloc(len);	/* never read: the size is refused */

	(void)state;
	if (!big)
		skip();
	assert_parse_fails_len(big, len, CKERR_LIMIT,
			       NAME ": larger than 256 MiB");
	free(big);
}

/* ---- printing and the round trip ----------------------------------------- */

static void
test_layout__print_keys(void **state)
{
	static const struct {
		const char *key, *want;
	} cases[] = {
		{ "model.enc.0.weight", "model.enc.0.weight" },
		{ "", "\"\"" },
		{ "a b", "\"a b\"" },
		{ "a\tb", "\"a\tb\"" },
		{ "q\"x", "\"q\\\"x\"" },
		{ "back\\slash", "\"back\\\\slash\"" },
		{ "it's", "\"it's\"" },
		{ "#x", "\"#x\"" },
		{ "x#", "\"x#\"" },
		{ "caf\xc3\xa9", "caf\xc3\xa9" },
		/* control characters cannot reach the terminal */
		{ "a\x1b[31m", "a?[31m" },
		{ "a\nb", "\"a?b\"" },
		{ "a\rb", "\"a?b\"" },
		{ "a\x7f", "a?" },
	};
	size_t i;

	(void)state;
	for (i = 0; i < N(cases); i++) {
		char *got = key_text(cases[i].key);

		assert_string_equal(got, cases[i].want);
		free(got);
	}
}

static void
test_layout__print_shapes_and_types(void **state)
{
	static const int64_t dims[] = { 3, 4, INT64_MAX };
	static const struct spec s[] = {
		{ "w", DT_BFLOAT16, 2, { 8, 66 } },
		{ "step", DT_INT64, 0, { 0 } },
		{ "a b", DT_BOOL, 1, { 0 } },
	};
	struct buf b = BUF_INIT;
	struct layout l;

	(void)state;
	assert_int_equal(layout_add_shape(&b, NULL, 0), 0);
	assert_string_equal(b.data, "[]");
	buf_reset(&b);
	assert_int_equal(layout_add_shape(&b, dims, 3), 0);
	assert_string_equal(b.data, "[3, 4, 9223372036854775807]");
	buf_reset(&b);
	build(&l, s, N(s));
	assert_int_equal(layout_add_type(&b, &l.v[0]), 0);
	assert_string_equal(b.data, "bfloat16 [8, 66]");
	buf_reset(&b);
	assert_int_equal(layout_add_type(&b, &l.v[1]), 0);
	assert_string_equal(b.data, "int64 []");
	buf_release(&b);
	{
		char *text = layout_text(&l);

		assert_string_equal(text, "w bfloat16 [8, 66]\n"
				    "step int64 []\n"
				    "\"a b\" bool [0]\n");
		free(text);
	}
	layout_release(&l);
}

/* Every parsed entry printed and parsed again gives the same layout. */
static void
test_layout__round_trip_parsed(void **state)
{
	static const char text[] =
		"\xef\xbb\xbf# a layout in every form\r\n"
		"enc.weight torch.float32 torch.Size([3, 4])\r\n"
		"enc.bias torch.float32 (3,)\n"
		"step torch.long ()\n"
		"encoder layer.weight BF16 [2, 2]   # Python printed it bare\n"
		"\"q\\\"x\\\\y\" half []\n"
		"\"#not a comment\" int8 [1]\n"
		"\"\" bool [0]\n"
		"a float32 b int64 [5, 0, 1]\n"
		"\"tab\tkey\" F8_E5M2 [9223372036854775807]\n"
		"\"ends\\\\\" uint8 [1]\n";
	struct layout l;

	(void)state;
	parse_ok(text, &l);
	assert_int_equal(l.n, 10);
	assert_string_equal(l.v[3].key, "encoder layer.weight");
	assert_string_equal(l.v[4].key, "q\"x\\y");
	assert_string_equal(l.v[5].key, "#not a comment");
	assert_string_equal(l.v[6].key, "");
	assert_string_equal(l.v[7].key, "a float32 b");
	assert_string_equal(l.v[8].key, "tab\tkey");
	assert_string_equal(l.v[9].key, "ends\\");
	assert_round_trip(&l);
	layout_release(&l);
}

/* Keys made by code (any printable bytes) survive print -> parse. */
static void
test_layout__round_trip_built(void **state)
{
	static const struct spec s[] = {
		{ "plain.key", DT_FLOAT32, 2, { 3, 4 } },
		{ "with blank", DT_FLOAT32, 0, { 0 } },
		{ " leading", DT_INT64, 1, { 1 } },
		{ "trailing ", DT_INT64, 1, { 2 } },
		{ "  ", DT_INT64, 1, { 3 } },
		{ "tab\there", DT_FLOAT16, 1, { 4 } },
		{ "quote\"inside", DT_BFLOAT16, 1, { 5 } },
		{ "\"starts", DT_BOOL, 1, { 6 } },
		{ "\"", DT_BOOL, 1, { 7 } },
		{ "\"\"", DT_BOOL, 1, { 8 } },
		{ "hash#inside", DT_UINT8, 1, { 9 } },
		{ "#starts", DT_UINT8, 1, { 10 } },
		{ "# a b", DT_UINT8, 1, { 11 } },
		{ "back\\slash", DT_INT8, 1, { 12 } },
		{ "ends\\", DT_INT8, 1, { 13 } },
		{ "\\", DT_INT8, 1, { 14 } },
		{ "\\\"", DT_INT8, 1, { 15 } },
		{ "a\\\" float32 [1]", DT_INT8, 1, { 16 } },
		{ "", DT_INT16, 1, { 17 } },
		{ "x float32 [3]", DT_INT32, 1, { 18 } },
		{ "x float32 [3] # c", DT_INT32, 1, { 19 } },
		{ "a torch.Size([3])", DT_INT32, 1, { 20 } },
		{ "(3,)", DT_COMPLEX64, 1, { 21 } },
		{ "torch.float32", DT_FLOAT64, 1, { 22 } },
		{ "F32", DT_FLOAT64, 1, { 23 } },
		{ "[]", DT_FLOAT64, 4, { 1, 2, 3, 4 } },
		{ "caf\xc3\xa9.\xe2\x82\xac", DT_QINT8, 1, { 24 } },
		{ "a  b", DT_UINT64, 1, { 25 } },
		{ "it's", DT_UINT64, 1, { 26 } },
		{ "(", DT_UINT64, 1, { 27 } },
		{ "'", DT_UINT64, 1, { 28 } },
	};
	struct layout l;

	(void)state;
	build(&l, s, N(s));
	assert_round_trip(&l);
	layout_release(&l);
}

/*
 * A key that starts with a UTF-8 byte order mark, printed first, is
 * printed bare; parsing then takes the mark for the file's and drops it.
 */
static void
test_layout__round_trip_key_starting_with_bom(void **state)
{
	static const struct spec s[] = {
		{ "\xef\xbb\xbfk", DT_FLOAT32, 1, { 2 } },
		{ "\xef\xbb\xbfj", DT_FLOAT32, 1, { 3 } },
	};
	struct layout l, back;
	char *text;
	bool same;

	(void)state;
	build(&l, s, N(s));
	text = layout_text(&l);
	parse_ok(text, &back);
	same = back.n == 2 && !strcmp(back.v[0].key, l.v[0].key);
	free(text);
	layout_release(&back);
	layout_release(&l);
	if (!same)
		fail_msg("the first key lost its byte order mark");
}

/* ---- lookups ------------------------------------------------------------- */

static void
test_layout__find_and_index(void **state)
{
	static const struct spec s[] = {
		{ "b", DT_FLOAT32, 0, { 0 } },
		{ "a", DT_FLOAT32, 0, { 0 } },
		{ "a.b", DT_FLOAT32, 0, { 0 } },
		{ "", DT_FLOAT32, 0, { 0 } },
		{ "c", DT_FLOAT32, 0, { 0 } },
	};
	struct ckerr err = CKERR_INIT;
	struct layout l = LAYOUT_INIT;
	int64_t one = 1;

	(void)state;
	assert_int_equal(layout_find(&l, "a"), -1);
	assert_int_equal(layout_index(&l, &err), 0);
	layout_release(&l);
	build(&l, s, N(s));
	assert_null(l.sorted);
	assert_int_equal(layout_find(&l, "b"), 0);
	assert_int_equal(layout_find(&l, "a"), 1);
	assert_int_equal(layout_find(&l, "a.b"), 2);
	assert_int_equal(layout_find(&l, ""), 3);
	assert_int_equal(layout_find(&l, "c"), 4);
	assert_int_equal(layout_find(&l, "d"), -1);
	assert_int_equal(layout_find(&l, "a."), -1);
	assert_int_equal(layout_find(&l, "A"), -1);
	assert_non_null(l.sorted);
	/* adding makes the index stale; the next lookup rebuilds it */
	assert_int_equal(layout_add(&l, "0", DT_INT8, 1, &one, 0, &err), 0);
	assert_null(l.sorted);
	assert_int_equal(layout_find(&l, "0"), 5);
	assert_int_equal(layout_find(&l, "c"), 4);
	assert_int_equal(layout_index(&l, &err), 0);
	assert_int_equal(err.code, CKERR_OK);
	layout_release(&l);
}

/*
 * layout_add takes a key twice (the header says it refuses it); the
 * index then reports it: with a line from a layout file (CKERR_USAGE),
 * or without one, from a checkpoint (CKERR_FORMAT).  Lookups fail (-2).
 */
static void
test_layout__index_duplicate_keys(void **state)
{
	struct ckerr err = CKERR_INIT;
	struct layout l = LAYOUT_INIT;
	struct layout_diff d;
	int64_t one = 1;

	(void)state;
	assert_int_equal(layout_add(&l, "a", DT_INT8, 1, &one, 2, &err), 0);
	assert_int_equal(layout_add(&l, "b", DT_INT8, 1, &one, 3, &err), 0);
	assert_int_equal(layout_add(&l, "a", DT_INT8, 0, NULL, 5, &err), 0);
	assert_int_equal(layout_index(&l, &err), -1);
	assert_int_equal(err.code, CKERR_USAGE);
	assert_string_equal(err.msg, "5: key 'a' listed twice (first on "
			    "line 2)");
	assert_null(l.sorted);
	assert_int_equal(layout_find(&l, "b"), -2);
	ckerr_clear(&err);
	assert_int_equal(layout_diff(&l, &l, &d, &err), -1);
	assert_null(d.missing);
	layout_release(&l);

	ckerr_clear(&err);
	assert_int_equal(layout_add(&l, "k", DT_INT8, 1, &one, 0, &err), 0);
	assert_int_equal(layout_add(&l, "k", DT_INT8, 1, &one, 0, &err), 0);
	assert_int_equal(layout_index(&l, &err), -1);
	assert_int_equal(err.code, CKERR_FORMAT);
	assert_string_equal(err.msg, "two keys are named 'k'");
	layout_release(&l);
}

static void
test_layout__add_limits(void **state)
{
	static const int64_t dims[65];
	struct ckerr err = CKERR_INIT;
	struct layout l = LAYOUT_INIT;

	(void)state;
	assert_int_equal(layout_add(&l, "k", DT_INT8, 65, dims, 0, &err), -1);
	assert_int_equal(err.code, CKERR_LIMIT);
	assert_string_equal(err.msg, "'k' has 65 dimensions, more than 64");
	assert_int_equal(l.n, 0);
	ckerr_clear(&err);
	assert_int_equal(layout_add(&l, "k", DT_INT8, -1, dims, 0, &err), -1);
	assert_int_equal(err.code, CKERR_LIMIT);
	ckerr_clear(&err);
	assert_int_equal(layout_add(&l, "k", DT_INT8, 64, dims, 0, &err), 0);
	assert_int_equal(l.n, 1);
	assert_int_equal(l.v[0].ndim, 64);
	layout_release(&l);
}

/* ---- the diff ------------------------------------------------------------ */

static void
test_layout__diff(void **state)
{
	static const struct spec have_s[] = {
		{ "same", DT_FLOAT32, 1, { 2 } },		/* 0 */
		{ "dt", DT_FLOAT32, 1, { 3 } },		/* 1 */
		{ "shape", DT_FLOAT32, 2, { 3, 4 } },	/* 2 */
		{ "ndim", DT_FLOAT32, 1, { 3 } },		/* 3 */
		{ "zero", DT_FLOAT32, 0, { 0 } },		/* 4 */
		{ "u1", DT_FLOAT32, 0, { 0 } },		/* 5 */
		{ "only.here", DT_INT64, 0, { 0 } },	/* 6 */
		{ "scalar", DT_INT64, 0, { 0 } },		/* 7 */
		{ "u0", DT_FLOAT32, 0, { 0 } },		/* 8 */
	};
	static const struct spec want_s[] = {
		{ "m2", DT_FLOAT32, 0, { 0 } },		/* 0 */
		{ "ndim", DT_FLOAT32, 2, { 3, 1 } },	/* 1 */
		{ "shape", DT_FLOAT32, 2, { 4, 3 } },	/* 2 */
		{ "same", DT_FLOAT32, 1, { 2 } },		/* 3 */
		{ "dt", DT_FLOAT16, 1, { 3 } },		/* 4 */
		{ "m1", DT_FLOAT32, 0, { 0 } },		/* 5 */
		{ "zero", DT_FLOAT32, 1, { 1 } },		/* 6 */
		{ "scalar", DT_INT64, 0, { 0 } },		/* 7 */
	};
	struct ckerr err = CKERR_INIT;
	struct layout have, want;
	struct layout_diff d;

	(void)state;
	build(&have, have_s, N(have_s));
	build(&want, want_s, N(want_s));
	assert_int_equal(layout_diff(&have, &want, &d, &err), 0);
	/* missing: in the target's order */
	assert_int_equal(d.nmissing, 2);
	assert_int_equal(d.missing[0], 0);
	assert_int_equal(d.missing[1], 5);
	/* unexpected: in the checkpoint's order */
	assert_int_equal(d.nunexpected, 3);
	assert_int_equal(d.unexpected[0], 5);
	assert_int_equal(d.unexpected[1], 6);
	assert_int_equal(d.unexpected[2], 8);
	/* mismatched: in the target's order, with both positions */
	assert_int_equal(d.nmismatched, 4);
	assert_int_equal(d.mismatched[0].want, 1);	/* ndim differs */
	assert_int_equal(d.mismatched[0].have, 3);
	assert_int_equal(d.mismatched[1].want, 2);	/* shape differs */
	assert_int_equal(d.mismatched[1].have, 2);
	assert_int_equal(d.mismatched[2].want, 4);	/* dtype differs */
	assert_int_equal(d.mismatched[2].have, 1);
	assert_int_equal(d.mismatched[3].want, 6);	/* [] against [1] */
	assert_int_equal(d.mismatched[3].have, 4);
	assert_int_equal(layout_diff_count(&d), 9);
	layout_diff_release(&d);
	assert_null(d.missing);
	assert_int_equal(layout_diff_count(&d), 0);

	/* the other way round */
	assert_int_equal(layout_diff(&want, &have, &d, &err), 0);
	assert_int_equal(d.nmissing, 3);
	assert_int_equal(d.nunexpected, 2);
	assert_int_equal(d.nmismatched, 4);
	assert_int_equal(d.mismatched[0].want, 1);	/* dt */
	assert_int_equal(d.mismatched[0].have, 4);
	layout_diff_release(&d);

	/* a layout against itself, and empty layouts */
	assert_int_equal(layout_diff(&have, &have, &d, &err), 0);
	assert_int_equal(layout_diff_count(&d), 0);
	layout_diff_release(&d);
	layout_release(&want);
	assert_int_equal(layout_diff(&have, &want, &d, &err), 0);
	assert_int_equal(d.nunexpected, have.n);
	assert_int_equal(layout_diff_count(&d), have.n);
	layout_diff_release(&d);
	layout_release(&have);
	assert_int_equal(layout_diff(&have, &want, &d, &err), 0);
	assert_int_equal(layout_diff_count(&d), 0);
	layout_diff_release(&d);
	layout_release(&have);	/* the (empty) indexes the diff built */
	layout_release(&want);
}

static void
test_layout__entry_same(void **state)
{
	static const struct spec s[] = {
		{ "a", DT_FLOAT32, 0, { 0 } },
		{ "b", DT_FLOAT32, 0, { 0 } },
		{ "c", DT_INT32, 0, { 0 } },
		{ "d", DT_FLOAT32, 2, { 3, 4 } },
		{ "e", DT_FLOAT32, 2, { 3, 4 } },
		{ "f", DT_FLOAT32, 2, { 4, 3 } },
		{ "g", DT_FLOAT32, 1, { 3 } },
	};
	struct layout l;

	(void)state;
	build(&l, s, N(s));
	assert_true(layout_entry_same(&l.v[0], &l.v[1]));
	assert_false(layout_entry_same(&l.v[0], &l.v[2]));
	assert_true(layout_entry_same(&l.v[3], &l.v[4]));
	assert_false(layout_entry_same(&l.v[3], &l.v[5]));
	assert_false(layout_entry_same(&l.v[3], &l.v[6]));
	assert_false(layout_entry_same(&l.v[0], &l.v[6]));
	layout_release(&l);
}

/* ---- suggestions --------------------------------------------------------- */

struct sg {
	struct layout have, want;
	struct suggestions s;
	size_t total;		/* differences before any edit */
};

static char *
edit_text(const struct edit *e)
{
	struct buf b = BUF_INIT;

	assert_int_equal(edit_print(e, &b), 0);
	return buf_detach(&b, NULL);
}

static void
sg_run(struct sg *c, const struct spec *have, size_t nh,
       const struct spec *want, size_t nw)
{
	struct ckerr err = CKERR_INIT;
	struct layout_diff d;

	build(&c->have, have, nh);
	build(&c->want, want, nw);
	assert_int_equal(layout_diff(&c->have, &c->want, &d, &err), 0);
	c->total = layout_diff_count(&d);
	layout_diff_release(&d);
	if (suggest(&c->have, &c->want, &c->s, &err) < 0)
		fail_msg("suggest: %s", err.msg);
	assert_int_equal(err.code, CKERR_OK);
}

static void
sg_release(struct sg *c)
{
	suggestions_release(&c->s);
	assert_null(c->s.v);
	layout_release(&c->have);
	layout_release(&c->want);
}

/*
 * The suggestions print as these lines (NULL-terminated): in this order,
 * or (any_order: single renames of one round come in no particular
 * order) in some order.
 */
static void
sg_expect_lines(const struct sg *c, const char *const *lines,
		bool any_order)
{
	struct buf all = BUF_INIT;
	bool used[16] = { false };
	size_t i, j, n;
	bool ok;

	for (n = 0; lines[n]; n++)
		;
	assert_true(n <= N(used));
	ok = n == c->s.n;
	for (i = 0; i < c->s.n; i++) {
		char *got = edit_text(&c->s.v[i].edit);

		if (!any_order && i < n && strcmp(got, lines[i]))
			ok = false;
		for (j = 0; any_order && j < n; j++)
			if (!used[j] && !strcmp(got, lines[j]))
				break;
		if (any_order && j == n)
			ok = false;
		else if (any_order)
			used[j] = true;
		buf_addf(&all, "\n  %s (fixes %zu: %s)", got, c->s.v[i].fixes,
			 c->s.v[i].reason);
		free(got);
	}
	if (!ok)
		fail_msg("%zu suggestions, %zu expected:%s", c->s.n, n,
			 all.len ? all.data : " (none)");
	buf_release(&all);
}

static void
sg_expect(const struct sg *c, const char *const *lines)
{
	sg_expect_lines(c, lines, false);
}

/*
 * Apply one suggested edit to l the way the engine would: renames by
 * edit_renamed, a column edit by one more or fewer along its dimension
 * (only ever the last column); each must change some key and leave no two
 * keys with one name.
 */
static void
apply_edit(struct layout *l, const struct edit *e)
{
	struct ckerr err = CKERR_INIT;
	struct layout next = LAYOUT_INIT;
	char *line = edit_text(e);
	size_t i, hits = 0;

	for (i = 0; i < l->n; i++) {
		const struct layout_entry *x = &l->v[i];
		int64_t shape[64] = { 0 };
		const char *key = x->key;
		char *to = NULL;
		int r;

		if (x->ndim)
			memcpy(shape, x->shape,
			       (size_t)x->ndim * sizeof(*shape));
		switch (e->op) {
		case EDIT_RENAME:
		case EDIT_RENAME_PREFIX:
			r = edit_renamed(e, x->key, &to);
			assert_true(r >= 0);
			if (r) {
				key = to;
				hits++;
			}
			break;
		case EDIT_INSERT_COLUMN:
		case EDIT_DELETE_COLUMN:
			if (strcmp(x->key, e->str[0]))
				break;
			hits++;
			if (!e->dim_set || e->dim < 0 || e->dim >= x->ndim)
				fail_msg("'%s': no such dimension", line);
			if (e->op == EDIT_INSERT_COLUMN) {
				if (e->num[0] != shape[e->dim])
					fail_msg("'%s': not at the end", line);
				shape[e->dim]++;
			} else {
				if (e->num[0] != shape[e->dim] - 1)
					fail_msg("'%s': not the last", line);
				shape[e->dim]--;
			}
			break;
		default:
			fail_msg("'%s': not an edit suggest makes", line);
		}
		if (layout_add(&next, key, x->dtype, x->ndim, shape, 0,
			       &err) < 0)
			fail_msg("'%s': %s", line, err.msg);
		free(to);
	}
	if (!hits)
		fail_msg("'%s' changes no key", line);
	if (e->op != EDIT_RENAME_PREFIX && hits != 1)
		fail_msg("'%s' changes %zu keys", line, hits);
	if (layout_index(&next, &err) < 0)
		fail_msg("after '%s': %s", line, err.msg);
	layout_release(l);
	*l = next;
	free(line);
}

/* Each printed suggestion parses back to the same edit. */
static void
assert_reparses(const struct edit *e)
{
	struct ckerr err = CKERR_INIT;
	char *line = edit_text(e);
	struct edit back;

	if (script_parse_line(line, strlen(line), "t.cks", 1, &back, &err) != 1)
		fail_msg("'%s' does not parse: %s", line, err.msg);
	if (!edit_equal(e, &back))
		fail_msg("'%s' parses to another edit", line);
	edit_release(&back);
	free(line);
}

/*
 * The key property: applying every suggestion in order to the checkpoint
 * layout leaves total - sum(fixes) differences against the target; none
 * when complete.  Returns how many are left.
 */
static size_t
sg_left(struct sg *c, bool complete)
{
	struct ckerr err = CKERR_INIT;
	struct layout cur = LAYOUT_INIT;
	struct layout_diff d;
	size_t i, fixes = 0, left;

	for (i = 0; i < c->have.n; i++)
		assert_int_equal(layout_add(&cur, c->have.v[i].key,
					    c->have.v[i].dtype,
					    c->have.v[i].ndim,
					    c->have.v[i].shape, 0, &err), 0);
	for (i = 0; i < c->s.n; i++) {
		const struct suggestion *s = &c->s.v[i];

		assert_true(s->fixes > 0);
		assert_non_null(s->reason);
		assert_true(s->reason[0] != '\0');
		assert_reparses(&s->edit);
		apply_edit(&cur, &s->edit);
		fixes += s->fixes;
	}
	assert_int_equal(layout_diff(&cur, &c->want, &d, &err), 0);
	left = layout_diff_count(&d);
	layout_diff_release(&d);
	layout_release(&cur);
	if (fixes > c->total || left != c->total - fixes)
		fail_msg("%zu differences, the suggestions fix %zu, but %zu "
			 "are left after applying them", c->total, fixes, left);
	if (complete && left)
		fail_msg("%zu differences left", left);
	return left;
}

static void
sg_check(struct sg *c, bool complete)
{
	sg_left(c, complete);
}

/* Run, expect exactly these lines, check what they leave, release. */
static void
sg_case(const struct spec *have, size_t nh, const struct spec *want,
	size_t nw, const char *const *lines, bool complete)
{
	struct sg c;

	sg_run(&c, have, nh, want, nw);
	sg_expect(&c, lines);
	sg_check(&c, complete);
	sg_release(&c);
}

/* neural-lam: the network moved under forecaster.predictor; the two
 * buffers of the module itself stayed. */
static const struct spec lam_have[] = {
	{ "interior_mask_bool", DT_BOOL, 2, { 100, 1 } },
	{ "per_var_std", DT_FLOAT32, 1, { 17 } },
	{ "g2m_embedder.mlp.0.weight", DT_FLOAT32, 2, { 64, 4 } },
	{ "g2m_embedder.mlp.0.bias", DT_FLOAT32, 1, { 64 } },
	{ "encoding_grid_mlp.0.weight", DT_FLOAT32, 2, { 64, 47 } },
	{ "encoding_grid_mlp.0.bias", DT_FLOAT32, 1, { 64 } },
	{ "processor.0.edge_mlp.0.weight", DT_FLOAT32, 2, { 64, 192 } },
	{ "output_map.0.weight", DT_FLOAT32, 2, { 17, 64 } },
};

static const struct spec lam_want[] = {
	{ "interior_mask_bool", DT_BOOL, 2, { 100, 1 } },
	{ "forecaster.predictor.g2m_embedder.mlp.0.weight", DT_FLOAT32, 2,
	  { 64, 4 } },
	{ "forecaster.predictor.g2m_embedder.mlp.0.bias", DT_FLOAT32, 1,
	  { 64 } },
	{ "forecaster.predictor.encoding_grid_mlp.0.weight", DT_FLOAT32, 2,
	  { 64, 47 } },
	{ "forecaster.predictor.encoding_grid_mlp.0.bias", DT_FLOAT32, 1,
	  { 64 } },
	{ "forecaster.predictor.processor.0.edge_mlp.0.weight", DT_FLOAT32, 2,
	  { 64, 192 } },
	{ "forecaster.predictor.output_map.0.weight", DT_FLOAT32, 2,
	  { 17, 64 } },
	{ "per_var_std", DT_FLOAT32, 1, { 17 } },
};

static void
test_suggest__prefix_added_with_except(void **state)
{
	static const char *const lines[] = {
		"rename-prefix '' forecaster.predictor --except "
		"interior_mask_bool --except per_var_std",
		NULL
	};
	struct sg c;

	(void)state;
	sg_run(&c, lam_have, N(lam_have), lam_want, N(lam_want));
	sg_expect(&c, lines);
	assert_int_equal(c.total, 12);
	assert_int_equal(c.s.v[0].fixes, 12);
	assert_string_equal(c.s.v[0].reason, "under 'forecaster.predictor.', "
			    "6 keys match the target (6 keys move; the keys "
			    "listed keep their names)");
	sg_check(&c, true);
	sg_release(&c);
}

static const struct spec dp_bare[] = {
	{ "conv.weight", DT_FLOAT32, 4, { 8, 3, 3, 3 } },
	{ "conv.bias", DT_FLOAT32, 1, { 8 } },
	{ "fc.weight", DT_FLOAT32, 2, { 10, 8 } },
	{ "fc.bias", DT_FLOAT32, 1, { 10 } },
	{ "steps", DT_INT64, 0, { 0 } },
};

static const struct spec dp_module[] = {
	{ "module.conv.weight", DT_FLOAT32, 4, { 8, 3, 3, 3 } },
	{ "module.conv.bias", DT_FLOAT32, 1, { 8 } },
	{ "module.fc.weight", DT_FLOAT32, 2, { 10, 8 } },
	{ "module.fc.bias", DT_FLOAT32, 1, { 10 } },
	{ "module.steps", DT_INT64, 0, { 0 } },
};

static void
test_suggest__prefix_removed_dataparallel(void **state)
{
	static const char *const lines[] = { "rename-prefix module ''", NULL };
	struct sg c;

	(void)state;
	sg_run(&c, dp_module, N(dp_module), dp_bare, N(dp_bare));
	sg_expect(&c, lines);
	assert_int_equal(c.s.v[0].fixes, 10);
	assert_string_equal(c.s.v[0].reason, "'module.' is the prefix "
			    "DataParallel and DistributedDataParallel add: "
			    "without it, 5 keys match the target");
	sg_check(&c, true);
	sg_release(&c);
}

static void
test_suggest__prefix_added_wrapper_named(void **state)
{
	static const char *const lines[] = { "rename-prefix '' module", NULL };
	struct sg c;

	(void)state;
	sg_run(&c, dp_bare, N(dp_bare), dp_module, N(dp_module));
	sg_expect(&c, lines);
	assert_string_equal(c.s.v[0].reason, "the target's keys carry "
			    "'module.', the prefix DataParallel and "
			    "DistributedDataParallel add: under it, 5 keys "
			    "match");
	sg_check(&c, true);
	sg_release(&c);
}

/* torch.compile's _orig_mod., both ways. */
static void
test_suggest__prefix_orig_mod(void **state)
{
	static const struct spec comp[] = {
		{ "_orig_mod.conv.weight", DT_FLOAT32, 4, { 8, 3, 3, 3 } },
		{ "_orig_mod.conv.bias", DT_FLOAT32, 1, { 8 } },
		{ "_orig_mod.fc.weight", DT_FLOAT32, 2, { 10, 8 } },
		{ "_orig_mod.fc.bias", DT_FLOAT32, 1, { 10 } },
		{ "_orig_mod.steps", DT_INT64, 0, { 0 } },
	};
	static const char *const rm[] = { "rename-prefix _orig_mod ''", NULL };
	static const char *const add[] = { "rename-prefix '' _orig_mod", NULL };
	struct sg c;

	(void)state;
	sg_run(&c, comp, N(comp), dp_bare, N(dp_bare));
	sg_expect(&c, rm);
	assert_string_equal(c.s.v[0].reason, "'_orig_mod.' is the prefix "
			    "torch.compile adds: without it, 5 keys match the "
			    "target");
	sg_check(&c, true);
	sg_release(&c);

	sg_run(&c, dp_bare, N(dp_bare), comp, N(comp));
	sg_expect(&c, add);
	assert_string_equal(c.s.v[0].reason, "the target's keys carry "
			    "'_orig_mod.', the prefix torch.compile adds: "
			    "under it, 5 keys match");
	sg_check(&c, true);
	sg_release(&c);
}

/* Removing: a key the target still has under the prefix stays. */
static void
test_suggest__prefix_removed_with_except(void **state)
{
	static const struct spec have[] = {
		{ "module.a.w", DT_FLOAT32, 2, { 4, 4 } },
		{ "module.a.b", DT_FLOAT32, 1, { 4 } },
		{ "module.c.w", DT_FLOAT32, 2, { 5, 4 } },
		{ "module.c.b", DT_FLOAT32, 1, { 5 } },
		{ "module.version", DT_INT64, 0, { 0 } },
		{ "other", DT_INT64, 0, { 0 } },
	};
	static const struct spec want[] = {
		{ "a.w", DT_FLOAT32, 2, { 4, 4 } },
		{ "a.b", DT_FLOAT32, 1, { 4 } },
		{ "c.w", DT_FLOAT32, 2, { 5, 4 } },
		{ "c.b", DT_FLOAT32, 1, { 5 } },
		{ "module.version", DT_INT64, 0, { 0 } },
		{ "other", DT_INT64, 0, { 0 } },
	};
	static const char *const lines[] = {
		"rename-prefix module '' --except module.version", NULL
	};
	struct sg c;

	(void)state;
	sg_run(&c, have, N(have), want, N(want));
	sg_expect(&c, lines);
	assert_int_equal(c.s.v[0].fixes, 8);
	sg_check(&c, true);
	sg_release(&c);
}

/* Removing: a key that is the prefix itself stays (it has no name
 * without it). */
static void
test_suggest__prefix_removed_key_is_prefix(void **state)
{
	static const struct spec have[] = {
		{ "module", DT_FLOAT32, 1, { 1 } },
		{ "module.a", DT_FLOAT32, 1, { 2 } },
		{ "module.b", DT_FLOAT32, 1, { 3 } },
	};
	static const struct spec want[] = {
		{ "a", DT_FLOAT32, 1, { 2 } },
		{ "b", DT_FLOAT32, 1, { 3 } },
	};
	static const char *const lines[] = {
		"rename-prefix module '' --except module", NULL
	};
	struct sg c;

	(void)state;
	sg_run(&c, have, N(have), want, N(want));
	sg_expect(&c, lines);
	assert_int_equal(c.s.v[0].fixes, 4);
	sg_check(&c, false);
	sg_release(&c);
}

/* More keys to except than keys matched: no rename-prefix; single
 * renames instead. */
static void
test_suggest__prefix_with_too_many_excepts(void **state)
{
	static const struct spec have[] = {
		{ "k1", DT_FLOAT32, 0, { 0 } },
		{ "k2", DT_FLOAT32, 0, { 0 } },
		{ "k3", DT_FLOAT32, 0, { 0 } },
		{ "a", DT_FLOAT32, 1, { 2 } },
		{ "b", DT_FLOAT32, 1, { 3 } },
	};
	static const struct spec want[] = {
		{ "k1", DT_FLOAT32, 0, { 0 } },
		{ "k2", DT_FLOAT32, 0, { 0 } },
		{ "k3", DT_FLOAT32, 0, { 0 } },
		{ "P.a", DT_FLOAT32, 1, { 2 } },
		{ "P.b", DT_FLOAT32, 1, { 3 } },
	};
	static const char *const lines[] = {
		"rename a P.a", "rename b P.b", NULL
	};
	struct sg c;
	size_t i;

	(void)state;
	sg_run(&c, have, N(have), want, N(want));
	sg_expect_lines(&c, lines, true);
	for (i = 0; i < c.s.n; i++)
		if (!strcmp(c.s.v[i].edit.str[0], "a"))
			assert_string_equal(c.s.v[i].reason, "the missing "
					    "key most like it: float32 [2], "
					    "the same ending 'a'");
	sg_check(&c, true);
	sg_release(&c);
}

/* A key to except that --except cannot name exactly (a glob character):
 * no rename-prefix. */
static void
test_suggest__prefix_except_needs_glob(void **state)
{
	static const struct spec have[] = {
		{ "w*", DT_FLOAT32, 1, { 1 } },
		{ "a", DT_FLOAT32, 1, { 2 } },
		{ "b", DT_FLOAT32, 1, { 3 } },
	};
	static const struct spec want[] = {
		{ "w*", DT_FLOAT32, 1, { 1 } },
		{ "P.a", DT_FLOAT32, 1, { 2 } },
		{ "P.b", DT_FLOAT32, 1, { 3 } },
	};
	static const char *const lines[] = {
		"rename a P.a", "rename b P.b", NULL
	};
	struct sg c;

	(void)state;
	sg_run(&c, have, N(have), want, N(want));
	sg_expect_lines(&c, lines, true);
	sg_check(&c, true);
	sg_release(&c);
}

/* Two prefixes match as many keys each: neither is suggested. */
static void
test_suggest__prefix_tie_withheld(void **state)
{
	static const struct spec have[] = {
		{ "w", DT_FLOAT32, 1, { 3 } },
		{ "b", DT_FLOAT32, 1, { 4 } },
	};
	static const struct spec want[] = {
		{ "p.w", DT_FLOAT32, 1, { 3 } },
		{ "p.b", DT_FLOAT32, 1, { 4 } },
		{ "q.w", DT_FLOAT32, 1, { 3 } },
		{ "q.b", DT_FLOAT32, 1, { 4 } },
	};
	static const char *const none[] = { NULL };
	struct sg c;

	(void)state;
	sg_run(&c, have, N(have), want, N(want));
	sg_expect(&c, none);
	assert_int_equal(c.total, 6);
	sg_check(&c, false);
	sg_release(&c);
}

static void
test_suggest__subtree_renamed(void **state)
{
	static const struct spec have[] = {
		{ "model.encoder.blocks.0.w", DT_FLOAT32, 2, { 8, 8 } },
		{ "model.encoder.blocks.0.b", DT_FLOAT32, 1, { 8 } },
		{ "model.encoder.blocks.1.w", DT_FLOAT32, 2, { 8, 16 } },
		{ "model.encoder.blocks.1.b", DT_FLOAT32, 1, { 8 } },
		{ "model.head.w", DT_FLOAT32, 2, { 2, 8 } },
	};
	static const struct spec want[] = {
		{ "model.enc.blocks.0.w", DT_FLOAT32, 2, { 8, 8 } },
		{ "model.enc.blocks.0.b", DT_FLOAT32, 1, { 8 } },
		{ "model.enc.blocks.1.w", DT_FLOAT32, 2, { 8, 16 } },
		{ "model.enc.blocks.1.b", DT_FLOAT32, 1, { 8 } },
		{ "model.head.w", DT_FLOAT32, 2, { 2, 8 } },
	};
	static const char *const lines[] = {
		"rename-prefix model.encoder model.enc", NULL
	};
	struct sg c;

	(void)state;
	sg_run(&c, have, N(have), want, N(want));
	sg_expect(&c, lines);
	assert_int_equal(c.s.v[0].fixes, 8);
	assert_string_equal(c.s.v[0].reason, "the 4 unexpected keys under "
			    "'model.encoder.' match the 4 missing under "
			    "'model.enc.' (names below them, dtypes and "
			    "shapes)");
	sg_check(&c, true);
	sg_release(&c);
}

/* Two subtrees renamed in one round, and a one-key subtree. */
static void
test_suggest__subtrees_renamed_together(void **state)
{
	static const struct spec have[] = {
		{ "net.body.0.w", DT_FLOAT32, 2, { 8, 8 } },
		{ "net.body.0.b", DT_FLOAT32, 1, { 8 } },
		{ "net.tail.w", DT_FLOAT32, 2, { 8, 3 } },
		{ "net.tail.b", DT_FLOAT32, 1, { 3 } },
		{ "net.stem.w", DT_FLOAT16, 2, { 3, 3 } },
		{ "net.keep", DT_INT64, 0, { 0 } },
	};
	static const struct spec want[] = {
		{ "net.trunk.0.w", DT_FLOAT32, 2, { 8, 8 } },
		{ "net.trunk.0.b", DT_FLOAT32, 1, { 8 } },
		{ "net.head.w", DT_FLOAT32, 2, { 8, 3 } },
		{ "net.head.b", DT_FLOAT32, 1, { 3 } },
		{ "net.root.w", DT_FLOAT16, 2, { 3, 3 } },
		{ "net.keep", DT_INT64, 0, { 0 } },
	};
	static const char *const lines[] = {
		"rename-prefix net.body net.trunk",
		"rename-prefix net.tail net.head",
		"rename-prefix net.stem net.root",
		NULL
	};
	struct sg c;

	(void)state;
	sg_run(&c, have, N(have), want, N(want));
	sg_expect(&c, lines);
	assert_string_equal(c.s.v[2].reason, "'net.stem.w' matches the missing "
			    "'net.root.w' (same name below 'net.stem.' and "
			    "'net.root.', dtype and shape)");
	assert_int_equal(c.s.v[2].fixes, 2);
	sg_check(&c, true);
	sg_release(&c);
}

/* A subtree with one shape changed is not renamed as a whole. */
static void
test_suggest__subtree_needs_same_shapes(void **state)
{
	static const struct spec have[] = {
		{ "enc.w", DT_FLOAT32, 2, { 4, 4 } },
		{ "enc.b", DT_FLOAT32, 1, { 4 } },
	};
	static const struct spec want[] = {
		{ "encoder.w", DT_FLOAT32, 2, { 4, 5 } },
		{ "encoder.b", DT_FLOAT32, 1, { 4 } },
	};
	static const char *const lines[] = { "rename enc.b encoder.b", NULL };

	(void)state;
	sg_case(have, N(have), want, N(want), lines, false);
}

/* Two unexpected subtrees with the same contents, two missing ones: no
 * rename-prefix among them; an unambiguous one beside them still is. */
static void
test_suggest__subtrees_ambiguous_withheld(void **state)
{
	static const struct spec have[] = {
		{ "old1.w", DT_FLOAT32, 2, { 4, 4 } },
		{ "old1.b", DT_FLOAT32, 1, { 4 } },
		{ "old2.w", DT_FLOAT32, 2, { 4, 4 } },
		{ "old2.b", DT_FLOAT32, 1, { 4 } },
		{ "enc.x", DT_FLOAT32, 1, { 7 } },
	};
	static const struct spec want[] = {
		{ "new1.w", DT_FLOAT32, 2, { 4, 4 } },
		{ "new1.b", DT_FLOAT32, 1, { 4 } },
		{ "new2.w", DT_FLOAT32, 2, { 4, 4 } },
		{ "new2.b", DT_FLOAT32, 1, { 4 } },
		{ "encoder.x", DT_FLOAT32, 1, { 7 } },
	};
	static const char *const lines[] = {
		"rename-prefix enc encoder", NULL
	};

	(void)state;
	sg_case(have, N(have), want, N(want), lines, false);
}

/* One unexpected subtree, two missing with its contents: withheld. */
static void
test_suggest__subtree_two_candidates_withheld(void **state)
{
	static const struct spec have[] = {
		{ "old.w", DT_FLOAT32, 2, { 4, 4 } },
		{ "old.b", DT_FLOAT32, 1, { 4 } },
	};
	static const struct spec want[] = {
		{ "new1.w", DT_FLOAT32, 2, { 4, 4 } },
		{ "new1.b", DT_FLOAT32, 1, { 4 } },
		{ "new2.w", DT_FLOAT32, 2, { 4, 4 } },
		{ "new2.b", DT_FLOAT32, 1, { 4 } },
	};
	static const char *const none[] = { NULL };

	(void)state;
	sg_case(have, N(have), want, N(want), none, false);
	/* and the other way round */
	sg_case(want, N(want), have, N(have), none, false);
}

/* The missing key with the longest common dotted ending wins. */
static void
test_suggest__single_rename_longest_ending(void **state)
{
	static const struct spec have[] = {
		{ "enc.layer.weight", DT_FLOAT32, 2, { 4, 4 } },
		{ "enc.other", DT_FLOAT32, 1, { 2 } },
	};
	static const struct spec want[] = {
		{ "encoder.layer.weight", DT_FLOAT32, 2, { 4, 4 } },
		{ "dec.x.weight", DT_FLOAT32, 2, { 4, 4 } },
		{ "enc.other", DT_FLOAT32, 1, { 2 } },
	};
	static const char *const lines[] = {
		"rename enc.layer.weight encoder.layer.weight", NULL
	};
	struct sg c;

	(void)state;
	sg_run(&c, have, N(have), want, N(want));
	sg_expect(&c, lines);
	assert_int_equal(c.s.v[0].fixes, 2);
	assert_string_equal(c.s.v[0].reason, "the missing key most like it: "
			    "float32 [4, 4], the same ending 'weight'");
	sg_check(&c, false);
	sg_release(&c);
}

/* Two candidates with the same longest ending: no rename (either way). */
static void
test_suggest__single_rename_tie_withheld(void **state)
{
	static const struct spec have1[] = {
		{ "a.enc.w", DT_FLOAT32, 1, { 3 } },
		{ "a.other", DT_FLOAT32, 1, { 2 } },
	};
	static const struct spec want1[] = {
		{ "b.enc.w", DT_FLOAT32, 1, { 3 } },
		{ "c.enc.w", DT_FLOAT32, 1, { 3 } },
		{ "a.other", DT_FLOAT32, 1, { 2 } },
	};
	static const struct spec have2[] = {
		{ "x.enc.w", DT_FLOAT32, 1, { 3 } },
		{ "x.k", DT_FLOAT32, 0, { 0 } },
		{ "y.enc.w", DT_FLOAT32, 1, { 3 } },
		{ "y.k", DT_FLOAT32, 0, { 0 } },
	};
	static const struct spec want2[] = {
		{ "z.enc.w", DT_FLOAT32, 1, { 3 } },
		{ "x.k", DT_FLOAT32, 0, { 0 } },
		{ "y.k", DT_FLOAT32, 0, { 0 } },
	};
	static const char *const none[] = { NULL };

	(void)state;
	sg_case(have1, N(have1), want1, N(want1), none, false);
	sg_case(have2, N(have2), want2, N(want2), none, false);
}

/* Same last component but another shape or dtype: no rename. */
static void
test_suggest__single_rename_needs_same_type(void **state)
{
	static const struct spec have[] = {
		{ "a.w", DT_FLOAT32, 1, { 3 } },
		{ "a.v", DT_FLOAT32, 1, { 3 } },
		{ "a.k", DT_FLOAT32, 0, { 0 } },
	};
	static const struct spec want[] = {
		{ "b.w", DT_FLOAT32, 1, { 4 } },
		{ "b.v", DT_FLOAT16, 1, { 3 } },
		{ "a.k", DT_FLOAT32, 0, { 0 } },
	};
	static const char *const none[] = { NULL };

	(void)state;
	sg_case(have, N(have), want, N(want), none, false);
}

static void
test_suggest__columns(void **state)
{
	static const struct spec have[] = {
		{ "head.weight", DT_FLOAT32, 2, { 10, 64 } },
		{ "embed.weight", DT_FLOAT32, 2, { 100, 32 } },
		{ "proj.weight", DT_FLOAT32, 2, { 8, 8 } },
		{ "norm.weight", DT_FLOAT32, 1, { 5 } },
		{ "cast.weight", DT_FLOAT16, 1, { 3 } },
		{ "rank.weight", DT_FLOAT32, 2, { 3, 4 } },
		{ "head.bias", DT_FLOAT32, 1, { 10 } },
		{ "conv.weight", DT_FLOAT32, 4, { 8, 3, 3, 3 } },
		{ "cast2.weight", DT_FLOAT16, 1, { 3 } },
	};
	static const struct spec want[] = {
		{ "head.weight", DT_FLOAT32, 2, { 10, 65 } },	/* +1 */
		{ "embed.weight", DT_FLOAT32, 2, { 99, 32 } },	/* -1 */
		{ "proj.weight", DT_FLOAT32, 2, { 9, 9 } },	/* 2 dims */
		{ "norm.weight", DT_FLOAT32, 1, { 7 } },	/* by two */
		{ "cast.weight", DT_FLOAT32, 1, { 3 } },	/* dtype */
		{ "rank.weight", DT_FLOAT32, 3, { 3, 4, 1 } },	/* ndim */
		{ "head.bias", DT_FLOAT32, 1, { 11 } },
		{ "conv.weight", DT_FLOAT32, 4, { 8, 4, 3, 3 } },
		{ "cast2.weight", DT_FLOAT32, 1, { 4 } },	/* both */
	};
	static const char *const lines[] = {
		"insert-column head.weight 64 --dim 1",
		"delete-column embed.weight 99 --dim 0",
		"insert-column head.bias 10 --dim 0",
		"insert-column conv.weight 3 --dim 1",
		NULL
	};
	struct sg c;
	size_t i;

	(void)state;
	sg_run(&c, have, N(have), want, N(want));
	sg_expect(&c, lines);
	for (i = 0; i < c.s.n; i++)
		assert_int_equal(c.s.v[i].fixes, 1);
	assert_string_equal(c.s.v[0].reason, "the target has one more along "
			    "dimension 1 (65, not 64): this appends one filled "
			    "with 0 at the end; if the new feature is not the "
			    "last, change 64 to its index");
	assert_string_equal(c.s.v[1].reason, "the target has one fewer along "
			    "dimension 0 (99, not 100): this deletes the last; "
			    "if the removed feature is not the last, change 99 "
			    "to its index");
	assert_int_equal(c.total, 9);
	sg_check(&c, false);
	sg_release(&c);
}

/* A renamed subtree first, then the column its weight gained. */
static void
test_suggest__rounds_rename_then_column(void **state)
{
	static const struct spec have[] = {
		{ "enc.w", DT_FLOAT32, 2, { 8, 4 } },
		{ "enc.b", DT_FLOAT32, 1, { 8 } },
		{ "head.w", DT_FLOAT32, 2, { 2, 8 } },
	};
	static const struct spec want[] = {
		{ "encoder.w", DT_FLOAT32, 2, { 8, 4 } },
		{ "encoder.b", DT_FLOAT32, 1, { 8 } },
		{ "head.w", DT_FLOAT32, 2, { 3, 8 } },
	};
	static const char *const lines[] = {
		"rename-prefix enc encoder",
		"insert-column head.w 2 --dim 0",
		NULL
	};

	(void)state;
	sg_case(have, N(have), want, N(want), lines, true);
}

/* Nothing to do, and nothing in common. */
static void
test_suggest__nothing_to_suggest(void **state)
{
	static const struct spec other[] = {
		{ "x", DT_INT8, 1, { 1 } },
	};
	static const char *const none[] = { NULL };
	struct sg c;

	(void)state;
	sg_run(&c, lam_have, N(lam_have), lam_have, N(lam_have));
	assert_int_equal(c.total, 0);
	sg_expect(&c, none);
	sg_release(&c);
	sg_case(lam_have, N(lam_have), other, N(other), none, false);
	sg_run(&c, other, 0, other, 0);
	sg_expect(&c, none);
	sg_release(&c);
}

static void
test_suggest__duplicate_keys_refused(void **state)
{
	static const struct spec dup[] = {
		{ "a", DT_INT8, 1, { 1 } },
		{ "a", DT_INT8, 1, { 1 } },
	};
	static const struct spec one[] = {
		{ "a", DT_INT8, 1, { 1 } },
	};
	struct ckerr err = CKERR_INIT;
	struct layout have, want;
	struct suggestions s;

	(void)state;
	build(&have, dup, N(dup));
	build(&want, one, N(one));
	memset(&s, 0xa5, sizeof(s));
	assert_int_equal(suggest(&have, &want, &s, &err), -1);
	assert_int_equal(err.code, CKERR_FORMAT);
	assert_string_equal(err.msg, "two keys are named 'a'");
	assert_null(s.v);
	assert_int_equal(s.n, 0);
	ckerr_clear(&err);
	assert_int_equal(suggest(&want, &have, &s, &err), -1);
	assert_int_equal(err.code, CKERR_FORMAT);
	assert_null(s.v);
	layout_release(&have);
	layout_release(&want);
}

/*
 * neural-lam with a grown input: the prefix rename also moves a key whose
 * shape the target changed, turning two differences (missing and
 * unexpected) into one (mismatched); its fixes count that one too, so
 * the report's "they fix N of M" adds up, and the column edit follows.
 */
static void
test_suggest__fixes_count_a_moved_mismatched_key(void **state)
{
	static const char *const lines[] = {
		"rename-prefix '' forecaster.predictor --except "
		"interior_mask_bool --except per_var_std",
		"insert-column forecaster.predictor.g2m_embedder.mlp.0.weight "
		"4 --dim 1",
		NULL
	};
	struct spec want[N(lam_want)];
	struct sg c;

	(void)state;
	memcpy(want, lam_want, sizeof(want));
	want[1].shape[1] = 5;	/* one more input feature */
	sg_run(&c, lam_have, N(lam_have), want, N(want));
	sg_expect(&c, lines);
	assert_int_equal(c.total, 12);
	sg_check(&c, true);
	sg_release(&c);
}

/*
 * Two subtree renames found in one round where the second's source holds
 * the first's destination (p -> q.r, then q -> s would also move q.r):
 * a script that fixes everything exists (q -> s first), yet nothing at
 * all is suggested.
 */
static void
test_suggest__subtree_renames_that_overlap(void **state)
{
	static const struct spec have[] = {
		{ "p.w", DT_FLOAT32, 1, { 3 } },
		{ "q.a", DT_FLOAT32, 1, { 5 } },
	};
	static const struct spec want[] = {
		{ "q.r.w", DT_FLOAT32, 1, { 3 } },
		{ "s.a", DT_FLOAT32, 1, { 5 } },
	};
	struct sg c;
	size_t left, n;

	(void)state;
	sg_run(&c, have, N(have), want, N(want));
	left = sg_left(&c, false);
	n = c.s.n;
	sg_release(&c);
	if (left)
		fail_msg("%zu suggestions, %zu of 4 differences left", n, left);
}

/* ---- groups of keys ------------------------------------------------------ */

/* suggest_groups over the flagged keys, in order (other: the other side
 * or NULL), as text: "PREFIX.*:COUNT" for a group, the key for a key
 * alone. */
static char *
groups_text(struct layout *l, const char *const *flagged, size_t n,
	    struct layout *other)
{
	struct ckerr err = CKERR_INIT;
	struct key_group *g;
	struct buf b = BUF_INIT;
	bool *flag = calloc(l->n + 1, sizeof(*flag));
	size_t *order = calloc(n + 1, sizeof(*order));
	size_t i, ng, total = 0;

	assert_non_null(flag);
	assert_non_null(order);
	for (i = 0; i < n; i++) {
		ptrdiff_t p = layout_find(l, flagged[i]);

		assert_true(p >= 0);
		order[i] = (size_t)p;
		flag[p] = true;
	}
	if (suggest_groups(l, flag, order, n, other, &g, &ng, &err) < 0)
		fail_msg("suggest_groups: %s", err.msg);
	for (i = 0; i < ng; i++) {
		const char *key = l->v[g[i].pos].key;

		if (i)
			assert_int_equal(buf_addch(&b, ' '), 0);
		if (g[i].plen) {
			assert_true(g[i].plen < strlen(key));
			assert_true(key[g[i].plen] == '.');
			assert_true(g[i].count >= 2);
			assert_int_equal(buf_addf(&b, "%.*s.*:%zu",
						  (int)g[i].plen, key,
						  g[i].count), 0);
		} else {
			assert_int_equal(g[i].count, 1);
			assert_int_equal(buf_addstr(&b, key), 0);
		}
		total += g[i].count;
	}
	assert_int_equal(total, n);
	assert_int_equal(buf_grow(&b, 0), 0);
	free(g);
	free(flag);
	free(order);
	return buf_detach(&b, NULL);
}

static void
assert_groups(struct layout *l, const char *const *flagged, size_t n,
	      struct layout *other, const char *want)
{
	char *got = groups_text(l, flagged, n, other);

	assert_string_equal(got, want);
	free(got);
}

static void
test_suggest__groups(void **state)
{
	static const struct spec s[] = {
		{ "enc.blocks.0.w", DT_FLOAT32, 0, { 0 } },
		{ "enc.blocks.0.b", DT_FLOAT32, 0, { 0 } },
		{ "enc.blocks.1.w", DT_FLOAT32, 0, { 0 } },
		{ "dec.w", DT_FLOAT32, 0, { 0 } },
		{ "dec.b", DT_FLOAT32, 0, { 0 } },
		{ "head.out.w", DT_FLOAT32, 0, { 0 } },
		{ "head.out.b", DT_FLOAT32, 0, { 0 } },
		{ "x", DT_FLOAT32, 0, { 0 } },
		{ "y.z", DT_FLOAT32, 0, { 0 } },
		{ "m.enc.l.x", DT_FLOAT32, 0, { 0 } },
		{ "m.enc.l.y", DT_FLOAT32, 0, { 0 } },
		{ "m.dec", DT_FLOAT32, 0, { 0 } },
		{ "t.a.b.c", DT_FLOAT32, 0, { 0 } },
		{ "t.a.b.d", DT_FLOAT32, 0, { 0 } },
		{ "t.e", DT_FLOAT32, 0, { 0 } },
	};
	/* the order of first appearance, not the layout's */
	static const char *const flagged[] = {
		"x", "enc.blocks.0.w", "enc.blocks.0.b", "dec.w", "head.out.w",
		"enc.blocks.1.w", "head.out.b", "y.z", "m.enc.l.y", "t.e",
		"m.enc.l.x", "t.a.b.d", "t.a.b.c",
	};
	static const char *const two[] = { "dec.b", "dec.w" };
	static const char *const one[] = { "head.out.b" };
	struct layout l;

	(void)state;
	build(&l, s, N(s));
	/*
	 * enc: the whole subtree, its prefix down the single-child chain;
	 * dec.w alone (dec.b is not flagged); head.out; y has one key;
	 * m is not all flagged, m.enc is (and runs down to m.enc.l);
	 * t is the outermost all-flagged subtree (t.a.b is inside it).
	 */
	assert_groups(&l, flagged, N(flagged), NULL, "x enc.blocks.*:3 dec.w "
		      "head.out.*:2 y.z m.enc.l.*:2 t.*:3");
	assert_groups(&l, two, N(two), NULL, "dec.*:2");
	assert_groups(&l, one, N(one), NULL, "head.out.b");
	assert_groups(&l, one, 0, NULL, "");
	layout_release(&l);
}

/* A subtree the other side has keys under is no group; its inner
 * subtrees still can be. */
static void
test_suggest__groups_other_side(void **state)
{
	static const struct spec s[] = {
		{ "enc.a", DT_FLOAT32, 0, { 0 } },
		{ "enc.b", DT_FLOAT32, 0, { 0 } },
		{ "t.a.b.c", DT_FLOAT32, 0, { 0 } },
		{ "t.a.b.d", DT_FLOAT32, 0, { 0 } },
		{ "t.e", DT_FLOAT32, 0, { 0 } },
	};
	/* keys beside "enc." but not under it, on both sides in sort order */
	static const struct spec near[] = {
		{ "enc", DT_FLOAT32, 0, { 0 } },
		{ "enc-x.y", DT_FLOAT32, 0, { 0 } },
		{ "enc/q", DT_FLOAT32, 0, { 0 } },
		{ "encoder.z", DT_FLOAT32, 0, { 0 } },
		{ "t", DT_FLOAT32, 0, { 0 } },
		{ "t.a.b", DT_FLOAT32, 0, { 0 } },
	};
	static const struct spec under_enc[] = {
		{ "a", DT_FLOAT32, 0, { 0 } },
		{ "enc.z", DT_FLOAT32, 0, { 0 } },
		{ "t.zz", DT_FLOAT32, 0, { 0 } },
	};
	static const char *const flagged[] = {
		"enc.a", "enc.b", "t.a.b.c", "t.a.b.d", "t.e",
	};
	struct layout l, o;

	(void)state;
	build(&l, s, N(s));
	build(&o, near, N(near));
	/* the key t.a.b of other is under t and t.a, not under t.a.b */
	assert_groups(&l, flagged, N(flagged), &o, "enc.*:2 t.a.b.*:2 t.e");
	layout_release(&o);
	build(&o, under_enc, N(under_enc));
	assert_groups(&l, flagged, N(flagged), &o, "enc.a enc.b t.a.b.*:2 t.e");
	layout_release(&o);
	build(&o, near, 5);	/* without t.a.b */
	assert_groups(&l, flagged, N(flagged), &o, "enc.*:2 t.*:3");
	layout_release(&o);
	layout_release(&l);
}

/*
 * Last: on the sanitizer build this one stops the program when the bug
 * is there (signed overflow in gen_columns on a dimension of 2^63-1).
 */
static void
test_suggest__columns_huge_dimension(void **state)
{
	static const struct spec have[] = {
		{ "w", DT_FLOAT32, 1, { INT64_MAX } },
		{ "v", DT_FLOAT32, 1, { 5 } },
	};
	static const struct spec want[] = {
		{ "w", DT_FLOAT32, 1, { 5 } },
		{ "v", DT_FLOAT32, 1, { INT64_MAX } },
	};
	static const char *const none[] = { NULL };
	struct sg c;

	(void)state;
	sg_run(&c, have, N(have), want, N(want));
	sg_expect(&c, none);
	sg_release(&c);
}

int
main(void)
{
#define L(name) cmocka_unit_test(test_layout__##name)
#define S(name) cmocka_unit_test(test_suggest__##name)
	const struct CMUnitTest tests[] = {
		L(parse_contract_format),
		L(parse_python_prints),
		L(parse_dtype_names),
		L(parse_blank_comment_crlf_bom),
		L(parse_keys_with_blanks_and_quotes),
		L(parse_records_lines),
		L(parse_reads_len_bytes),
		L(parse_64_dimensions),
		L(parse_errors_expected),
		L(parse_errors_dtype),
		L(parse_errors_limits),
		L(parse_errors_duplicate_key),
		L(parse_errors_quotes_and_nul),
		L(parse_error_leaves_layout_empty),
		L(parse_file_too_large),
		L(print_keys),
		L(print_shapes_and_types),
		L(round_trip_parsed),
		L(round_trip_built),
		L(round_trip_key_starting_with_bom),
		L(find_and_index),
		L(index_duplicate_keys),
		L(add_limits),
		L(diff),
		L(entry_same),
		S(prefix_added_with_except),
		S(prefix_removed_dataparallel),
		S(prefix_added_wrapper_named),
		S(prefix_orig_mod),
		S(prefix_removed_with_except),
		S(prefix_removed_key_is_prefix),
		S(prefix_with_too_many_excepts),
		S(prefix_except_needs_glob),
		S(prefix_tie_withheld),
		S(subtree_renamed),
		S(subtrees_renamed_together),
		S(subtree_needs_same_shapes),
		S(subtrees_ambiguous_withheld),
		S(subtree_two_candidates_withheld),
		S(single_rename_longest_ending),
		S(single_rename_tie_withheld),
		S(single_rename_needs_same_type),
		S(columns),
		S(rounds_rename_then_column),
		S(nothing_to_suggest),
		S(duplicate_keys_refused),
		S(fixes_count_a_moved_mismatched_key),
		S(subtree_renames_that_overlap),
		S(groups),
		S(groups_other_side),
		S(columns_huge_dimension),
	};
#undef L
#undef S
	return cmocka_run_group_tests(tests, NULL, NULL);
}
