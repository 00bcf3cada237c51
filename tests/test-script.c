/*
 * test-script: the edit language -- lexing (quotes, escapes, comments,
 * line ends), every edit with every option form, positions, every error
 * message, the canonical printer and the round trip parse(print(e)) == e
 * over a table of tricky edits and over random ones.
 */
#include "config.h"

#include <errno.h>
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

#include "script.h"
#include "banned.h"

#define NAME "t.cks"

/* ---- helpers ------------------------------------------------------------- */

/* Parse one line that must give an edit. */
static void
parse1(const char *line, struct edit *e)
{
	struct ckerr err = CKERR_INIT;
	int r = script_parse_line(line, strlen(line), NAME, 1, e, &err);

	if (r != 1)
		fail_msg("'%s': got %d: %s", line, r, err.msg);
}

/* Parse a script that must fail with this code and message. */
static void
parse_fails_len(const char *text, size_t len, enum ckerr_code code,
		const char *msg)
{
	struct ckerr err = CKERR_INIT;
	struct script s;

	memset(&s, 0xa5, sizeof(s));
	if (script_parse(text, len, NAME, &s, &err) != -1)
		fail_msg("'%s' parsed", text);
	assert_string_equal(err.msg, msg);
	assert_int_equal(err.code, code);
	/* nothing allocated: the output is empty */
	assert_null(s.name);
	assert_null(s.edits);
	assert_int_equal(s.n, 0);
}

static void
parse_fails(const char *text, const char *msg)
{
	parse_fails_len(text, strlen(text), CKERR_USAGE, msg);
}

/* The canonical line of e (which must print). */
static char *
print(const struct edit *e)
{
	struct buf b = BUF_INIT;

	assert_int_equal(edit_print(e, &b), 0);
	return buf_detach(&b, NULL);
}

static void
assert_prints(const struct edit *e, const char *want)
{
	char *got = print(e);

	assert_string_equal(got, want);
	free(got);
}

/* What line becomes when parsed and printed again. */
static void
assert_canonical(const char *line, const char *want)
{
	struct edit e;

	parse1(line, &e);
	assert_prints(&e, want);
	edit_release(&e);
}

static void
assert_pos(struct edit_pos p, unsigned line, unsigned col)
{
	if (p.line != line || p.col != col)
		fail_msg("position %u:%u, want %u:%u", p.line, p.col, line,
			 col);
}

/* A short description of e for failure messages. */
static void
describe(const struct edit *e, char *out, size_t size)
{
	struct buf b = BUF_INIT;

	if (edit_print(e, &b) < 0)
		snprintf(out, size, "(unprintable: %s)", strerror(errno));
	else
		snprintf(out, size, "%s", b.data);
	buf_release(&b);
}

/*
 * e must print, parse back equal (through both entry points), and print
 * the same again: the canonical line is a fixed point.
 */
static void
assert_round_trip(const struct edit *e)
{
	struct ckerr err = CKERR_INIT;
	struct edit back;
	struct script s;
	char *line = print(e), *again, what[512];

	describe(e, what, sizeof(what));
	if (script_parse_line(line, strlen(line), NAME, 4, &back, &err) != 1)
		fail_msg("'%s' does not parse: %s", line, err.msg);
	if (!edit_equal(e, &back))
		fail_msg("'%s' parses to a different edit", what);
	assert_int_equal(back.pos.line, 4);
	again = print(&back);
	assert_string_equal(again, line);
	free(again);
	edit_release(&back);

	if (script_parse(line, strlen(line), NAME, &s, &err) < 0)
		fail_msg("'%s': %s", line, err.msg);
	assert_int_equal(s.n, 1);
	assert_true(edit_equal(e, &s.edits[0]));
	script_release(&s);
	free(line);
}

/* An edit made by code, as the TUI or diff would make one. */
static struct edit
mk(enum edit_op op, const char *a, const char *b)
{
	struct edit e;

	memset(&e, 0, sizeof(e));
	e.op = op;
	e.str[0] = a ? strdup(a) : NULL;
	e.str[1] = b ? strdup(b) : NULL;
	return e;
}

static void
add_except(struct edit *e, const char *glob)
{
	e->except = realloc(e->except, (e->nexcept + 1) * sizeof(*e->except));
	e->except_pos = realloc(e->except_pos,
				(e->nexcept + 1) * sizeof(*e->except_pos));
	assert_non_null(e->except);
	assert_non_null(e->except_pos);
	memset(&e->except_pos[e->nexcept], 0, sizeof(*e->except_pos));
	e->except[e->nexcept] = strdup(glob);
	assert_non_null(e->except[e->nexcept]);
	e->nexcept++;
}

static void
add_also(struct edit *e, const char *key, bool dim_set, int64_t dim)
{
	struct edit_also *a;

	e->also = realloc(e->also, (e->nalso + 1) * sizeof(*e->also));
	assert_non_null(e->also);
	a = &e->also[e->nalso++];
	memset(a, 0, sizeof(*a));
	a->key = strdup(key);
	assert_non_null(a->key);
	a->dim_set = dim_set;
	a->dim = dim_set ? dim : 0;
}

static void
set_value(struct edit *e, const char *v)
{
	free(e->value);
	e->value = strdup(v);
	assert_non_null(e->value);
}

/* ---- the table ----------------------------------------------------------- */

static void
test_script__table_names_and_usages(void **state)
{
	static const char *const names[] = {
		"rename", "rename-prefix", "rename-regex", "delete",
		"move-column", "insert-column", "delete-column", "drop",
	};
	int i;

	(void)state;
	assert_int_equal(EDIT__COUNT, 8);
	for (i = 0; i < EDIT__COUNT; i++) {
		assert_string_equal(edit_name((enum edit_op)i), names[i]);
		/* a usage starts with the name */
		assert_memory_equal(edit_usage((enum edit_op)i), names[i],
				    strlen(names[i]));
	}
	assert_string_equal(edit_usage(EDIT_RENAME), "rename OLD NEW");
	assert_string_equal(edit_name(EDIT__COUNT), "invalid");
	assert_string_equal(edit_usage(EDIT__COUNT), "");
	assert_string_equal(edit_name((enum edit_op)-1), "invalid");
}

/*
 * Which edit takes which option, written out here independently of the
 * usage strings the parser reads it from.
 */
static void
test_script__options_each_edit_takes(void **state)
{
	static const struct {
		const char *edit;	/* with its positionals */
		const char *takes;	/* options it takes */
	} rows[] = {
		{ "rename a b", "" },
		{ "rename-prefix a b", "except" },
		{ "rename-regex a b", "" },
		{ "delete a", "" },
		{ "move-column k 1 2", "dim also" },
		{ "insert-column k 1", "dim value also" },
		{ "delete-column k 1", "dim also" },
		{ "drop a.b", "" },
	};
	static const char *const opts[] = { "dim", "value", "except", "also" };
	static const char *const vals[] = { "0", "1", "g", "x:0" };
	size_t i, j;

	(void)state;
	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		for (j = 0; j < 4; j++) {
			struct ckerr err = CKERR_INIT;
			struct edit e;
			char line[128];
			bool takes = strstr(rows[i].takes, opts[j]) != NULL;
			int r;

			snprintf(line, sizeof(line), "%s --%s %s",
				 rows[i].edit, opts[j], vals[j]);
			r = script_parse_line(line, strlen(line), NAME, 1, &e,
					      &err);
			if (takes && r != 1)
				fail_msg("'%s' refused: %s", line, err.msg);
			if (!takes) {
				char want[256];
				const char *sp = strchr(rows[i].edit, ' ');

				if (r != -1)
					fail_msg("'%s' accepted", line);
				snprintf(want, sizeof(want),
					 NAME ":1:%zu: option '--%s' does not "
					 "apply to %.*s (usage: %s)",
					 strlen(rows[i].edit) + 2, opts[j],
					 (int)(sp - rows[i].edit), rows[i].edit,
					 edit_usage((enum edit_op)i));
				assert_string_equal(err.msg, want);
			}
			edit_release(&e);
		}
	}
}

/* ---- every edit, every option form --------------------------------------- */

static void
test_script__parse_rename(void **state)
{
	struct edit e;

	(void)state;
	parse1("rename encoder.w decoder.w", &e);
	assert_int_equal(e.op, EDIT_RENAME);
	assert_string_equal(e.str[0], "encoder.w");
	assert_string_equal(e.str[1], "decoder.w");
	assert_int_equal(e.nexcept, 0);
	assert_int_equal(e.nalso, 0);
	assert_false(e.dim_set);
	assert_null(e.value);
	edit_release(&e);
	/* edit_release leaves it empty, and again is harmless */
	assert_null(e.str[0]);
	edit_release(&e);
}

static void
test_script__parse_rename_prefix_with_excepts(void **state)
{
	struct edit e;

	(void)state;
	parse1("rename-prefix \"\" forecaster.predictor --except "
	       "interior_mask_bool --except=per_var_std --except='a b'", &e);
	assert_int_equal(e.op, EDIT_RENAME_PREFIX);
	assert_string_equal(e.str[0], "");
	assert_string_equal(e.str[1], "forecaster.predictor");
	assert_int_equal(e.nexcept, 3);
	assert_string_equal(e.except[0], "interior_mask_bool");
	assert_string_equal(e.except[1], "per_var_std");
	assert_string_equal(e.except[2], "a b");
	edit_release(&e);

	/* many excepts: the arrays grow */
	{
		struct buf b = BUF_INIT;
		int i;

		assert_int_equal(buf_addstr(&b, "rename-prefix a b"), 0);
		for (i = 0; i < 1000; i++)
			assert_int_equal(buf_addf(&b, " --except g%d", i), 0);
		parse1(b.data, &e);
		assert_int_equal(e.nexcept, 1000);
		assert_string_equal(e.except[999], "g999");
		assert_string_equal(e.except[513], "g513");
		edit_release(&e);
		buf_release(&b);
	}
}

static void
test_script__parse_rename_regex_and_delete(void **state)
{
	struct edit e;

	(void)state;
	parse1("rename-regex \"layers\\.([0-9]+)\\.(.*)\" 'block\\1.\\2'", &e);
	assert_int_equal(e.op, EDIT_RENAME_REGEX);
	assert_string_equal(e.str[0], "layers\\.([0-9]+)\\.(.*)");
	assert_string_equal(e.str[1], "block\\1.\\2");
	edit_release(&e);

	parse1("delete *.num_batches_tracked", &e);
	assert_int_equal(e.op, EDIT_DELETE);
	assert_string_equal(e.str[0], "*.num_batches_tracked");
	assert_null(e.str[1]);
	edit_release(&e);
}

static void
test_script__parse_move_column(void **state)
{
	struct edit e;

	(void)state;
	parse1("move-column grid_prev_embedder.0.weight 49 34", &e);
	assert_int_equal(e.op, EDIT_MOVE_COLUMN);
	assert_string_equal(e.str[0], "grid_prev_embedder.0.weight");
	assert_true(e.num[0] == 49);
	assert_true(e.num[1] == 34);
	assert_false(e.dim_set);
	edit_release(&e);

	parse1("move-column w 0 3 --dim 0 --also b:0 --also=n.weight:1 "
	       "--also c --also \"d e\":-1", &e);
	assert_true(e.dim_set);
	assert_true(e.dim == 0);
	assert_int_equal(e.nalso, 4);
	assert_string_equal(e.also[0].key, "b");
	assert_true(e.also[0].dim_set);
	assert_true(e.also[0].dim == 0);
	assert_string_equal(e.also[1].key, "n.weight");
	assert_true(e.also[1].dim == 1);
	assert_string_equal(e.also[2].key, "c");
	assert_false(e.also[2].dim_set);
	assert_string_equal(e.also[3].key, "d e");
	assert_true(e.also[3].dim == -1);
	edit_release(&e);

	/* options anywhere after the name, = or two words */
	parse1("move-column --dim=-2 w --also x 5 7", &e);
	assert_string_equal(e.str[0], "w");
	assert_true(e.num[0] == 5 && e.num[1] == 7);
	assert_true(e.dim_set && e.dim == -2);
	assert_string_equal(e.also[0].key, "x");
	edit_release(&e);
}

static void
test_script__parse_insert_and_delete_column(void **state)
{
	struct edit e;

	(void)state;
	parse1("insert-column w 3 --value -1.5e-3 --dim -1", &e);
	assert_int_equal(e.op, EDIT_INSERT_COLUMN);
	assert_string_equal(e.str[0], "w");
	assert_true(e.num[0] == 3);
	assert_string_equal(e.value, "-1.5e-3");
	assert_true(e.dim_set && e.dim == -1);
	edit_release(&e);

	parse1("insert-column w 0", &e);
	assert_null(e.value);
	edit_release(&e);

	parse1("delete-column w 7 --also w2:0", &e);
	assert_int_equal(e.op, EDIT_DELETE_COLUMN);
	assert_true(e.num[0] == 7);
	assert_string_equal(e.also[0].key, "w2");
	edit_release(&e);
}

static void
test_script__integers(void **state)
{
	struct edit e;

	(void)state;
	parse1("move-column k 007 9223372036854775807", &e);
	assert_true(e.num[0] == 7);
	assert_true(e.num[1] == INT64_MAX);
	edit_release(&e);
	parse1("delete-column k \"12\" --dim=-9223372036854775808", &e);
	assert_true(e.num[0] == 12);
	assert_true(e.dim == INT64_MIN);
	edit_release(&e);
	parse1("delete-column k 0 --dim -0 --also a:-9223372036854775808", &e);
	assert_true(e.num[0] == 0 && e.dim == 0 && e.dim_set);
	assert_true(e.also[0].dim == INT64_MIN);
	edit_release(&e);
}

static void
test_script__values(void **state)
{
	static const char *const good[] = {
		"0", "1", "-1", "+1", "007", "1.", ".5", "-.5", "1.5", "1e5",
		"1E+05", "1e-5", "2.5e10", "-0.0", "inf", "-inf", "+Inf",
		"INFINITY", "-Infinity", "nan", "NaN", "-nan", "true", "false",
		"True", "FALSE", "123456789012345678901234567890", "1e999",
	};
	static const char *const bad[] = {
		"", ".", "-", "+", "e5", "1e", "1e+", "1.2.3", "0x10", "1_000",
		"++1", "+-1", "1,5", "infin", "nana", "yes", "+true", "1 ",
		" 1", "1f", "inf1", "--1", "1e5.0", "١",
	};
	struct ckerr err;
	struct edit e;
	char line[128], want[256];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		snprintf(line, sizeof(line), "insert-column k 0 --value='%s'",
			 good[i]);
		parse1(line, &e);
		assert_string_equal(e.value, good[i]);	/* as written */
		assert_round_trip(&e);
		edit_release(&e);
	}
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		ckerr_clear(&err);
		snprintf(line, sizeof(line), "insert-column k 0 --value '%s'",
			 bad[i]);
		assert_int_equal(script_parse_line(line, strlen(line), NAME, 1,
						   &e, &err), -1);
		snprintf(want, sizeof(want), NAME ":1:27: bad --value '%s': "
			 "not a number, inf, nan, true or false", bad[i]);
		assert_string_equal(err.msg, want);
	}
}

static void
test_script__also_splits_at_last_unquoted_colon(void **state)
{
	static const struct {
		const char *word;
		const char *key;
		bool dim_set;
		int64_t dim;
	} rows[] = {
		{ "a:1", "a", true, 1 },
		{ "a:-2", "a", true, -2 },
		{ "a:007", "a", true, 7 },
		{ "a.b:c", "a.b:c", false, 0 },
		{ "a:", "a:", false, 0 },
		{ "a:-", "a:-", false, 0 },
		{ "a:+1", "a:+1", false, 0 },
		{ "a:1x", "a:1x", false, 0 },
		{ "a:1:2", "a:1", true, 2 },
		{ "a:1:b", "a:1:b", false, 0 },
		{ ":3", "", true, 3 },
		{ "::", "::", false, 0 },
		{ "'a:1'", "a:1", false, 0 },
		{ "\"a:1\"", "a:1", false, 0 },
		{ "'a':1", "a", true, 1 },
		{ "'a:1':2", "a:1", true, 2 },
		{ "a':1'", "a:1", false, 0 },
		{ "a:'1'", "a", true, 1 },	/* the ':' is what counts */
		{ "'a b':0", "a b", true, 0 },
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		struct edit e;
		char line[128];

		snprintf(line, sizeof(line), "move-column k 1 2 --also %s",
			 rows[i].word);
		parse1(line, &e);
		assert_int_equal(e.nalso, 1);
		if (strcmp(e.also[0].key, rows[i].key) ||
		    e.also[0].dim_set != rows[i].dim_set ||
		    (rows[i].dim_set && e.also[0].dim != rows[i].dim))
			fail_msg("--also %s: key '%s' dim_set %d dim %" PRId64,
				 rows[i].word, e.also[0].key,
				 e.also[0].dim_set, e.also[0].dim);
		assert_round_trip(&e);
		edit_release(&e);
		/* the = form splits the same way */
		snprintf(line, sizeof(line), "move-column k 1 2 --also=%s",
			 rows[i].word);
		parse1(line, &e);
		assert_string_equal(e.also[0].key, rows[i].key);
		assert_int_equal(e.also[0].dim_set, rows[i].dim_set);
		edit_release(&e);
	}
}

/* ---- lexical rules ------------------------------------------------------- */

/* The one argument of "delete WORD". */
static void
assert_word(const char *word, const char *want)
{
	struct edit e;
	char line[256];

	snprintf(line, sizeof(line), "delete %s", word);
	parse1(line, &e);
	if (strcmp(e.str[0], want))
		fail_msg("%s: got '%s', want '%s'", word, e.str[0], want);
	edit_release(&e);
}

static void
test_script__quoting(void **state)
{
	(void)state;
	assert_word("plain", "plain");
	assert_word("'a b'", "a b");
	assert_word("\"a b\"", "a b");
	assert_word("''", "");
	assert_word("\"\"", "");
	/* single quotes: everything literal */
	assert_word("'a\\b'", "a\\b");
	assert_word("'a\\'", "a\\");
	assert_word("'\"#--'", "\"#--");
	/* double quotes: \" and \\ are escapes, any other \ is literal */
	assert_word("\"a\\.b\"", "a\\.b");
	assert_word("\"a\\\"b\"", "a\"b");
	assert_word("\"a\\\\b\"", "a\\b");
	assert_word("\"a\\\\\"", "a\\");
	assert_word("\"\\n\\t\\x\"", "\\n\\t\\x");
	assert_word("\"\\\\\\\"\"", "\\\"");
	assert_word("\"it's\"", "it's");
	assert_word("'say \"hi\"'", "say \"hi\"");
	/* outside quotes a backslash is an ordinary character */
	assert_word("a\\b", "a\\b");
	assert_word("a\\", "a\\");
	assert_word("\\'a b'", "\\a b");
	/* pieces written together form one argument */
	assert_word("a\"b c\"d", "ab cd");
	assert_word("'a'\"b\"c", "abc");
	assert_word("''\"\"''", "");
	assert_word("'it'\"'\"'s'", "it's");
	/* '#' inside quotes, blanks inside quotes */
	assert_word("'#a'", "#a");
	assert_word("\"a#b\"", "a#b");
	assert_word("'a\tb'", "a\tb");
	/* other bytes are ordinary: UTF-8, control characters, '=' and ':' */
	assert_word("grüße.日本", "grüße.日本");
	assert_word("a\vb\fc", "a\vb\fc");
	assert_word("a=b:c", "a=b:c");
	assert_word("-x", "-x");
	assert_word("-", "-");
}

static void
test_script__blanks_are_space_and_tab(void **state)
{
	struct edit e;

	(void)state;
	parse1(" \t rename\t\ta  \t b \t ", &e);
	assert_string_equal(e.str[0], "a");
	assert_string_equal(e.str[1], "b");
	assert_pos(e.pos, 1, 4);
	assert_pos(e.str_pos[0], 1, 12);
	assert_pos(e.str_pos[1], 1, 17);
	edit_release(&e);
}

static void
test_script__options_versus_arguments(void **state)
{
	struct edit e;

	(void)state;
	/* a quoted "--" word is an argument */
	parse1("rename '--a' \"--b\"", &e);
	assert_string_equal(e.str[0], "--a");
	assert_string_equal(e.str[1], "--b");
	edit_release(&e);
	parse1("rename -'-a' -\"-\"", &e);
	assert_string_equal(e.str[0], "--a");
	assert_string_equal(e.str[1], "--");
	edit_release(&e);
	/* an option's value that starts with "--" */
	parse1("rename-prefix a b --except '--x' --except=--y "
	       "--except=\"--z\"", &e);
	assert_string_equal(e.except[0], "--x");
	assert_string_equal(e.except[1], "--y");
	assert_string_equal(e.except[2], "--z");
	edit_release(&e);
	/* the name ends at the first unquoted '=' */
	parse1("rename-prefix a b --except=a=b --except=\"=\"c "
	       "--except='x=y' --except=", &e);
	assert_string_equal(e.except[0], "a=b");
	assert_string_equal(e.except[1], "=c");
	assert_string_equal(e.except[2], "x=y");
	assert_string_equal(e.except[3], "");
	edit_release(&e);
	/* quotes in the value of --opt=value */
	parse1("rename-prefix a b --except=\"a b\"'c'", &e);
	assert_string_equal(e.except[0], "a bc");
	edit_release(&e);
	/* a negative number is a value, not an option */
	parse1("move-column k 1 2 --dim -1", &e);
	assert_true(e.dim == -1);
	edit_release(&e);
	/* the edit's name may be quoted */
	parse1("'rename' a b", &e);
	assert_int_equal(e.op, EDIT_RENAME);
	edit_release(&e);
}

static void
test_script__comments_and_blank_lines(void **state)
{
	static const char text[] =
		"# ckpt-surgeon 0.1.0 script\n"
		"\n"
		"   \n"
		"\t\n"
		"rename a b # trailing comment\n"
		"  # indented comment\n"
		"delete x#y\n"
		"delete 'x#y'#z\n"
		"#rename no thing\n"
		"rename c \"d#e\" # f\n";
	struct ckerr err = CKERR_INIT;
	struct script s;

	(void)state;
	if (script_parse(text, strlen(text), NAME, &s, &err) < 0)
		fail_msg("%s", err.msg);
	assert_string_equal(s.name, NAME);
	assert_int_equal(s.n, 4);
	assert_string_equal(s.edits[0].str[1], "b");
	assert_pos(s.edits[0].pos, 5, 1);
	/* '#' outside quotes starts a comment even inside a word */
	assert_string_equal(s.edits[1].str[0], "x");
	assert_pos(s.edits[1].pos, 7, 1);
	assert_string_equal(s.edits[2].str[0], "x#y");
	assert_pos(s.edits[2].pos, 8, 1);
	assert_string_equal(s.edits[3].str[1], "d#e");
	assert_pos(s.edits[3].pos, 10, 1);
	script_release(&s);

	/* a quoted '#' is an argument; the unquoted one after it is not */
	parse_fails("delete 'x#y' \"#\"#z\n",
		    NAME ":1:14: unexpected argument '#' (usage: delete GLOB)");
	parse_fails("rename c#d e\n",
		    NAME ":1:1: rename needs OLD NEW (usage: rename OLD NEW)");

	/* an empty script, and one of comments only */
	assert_int_equal(script_parse("", 0, NAME, &s, &err), 0);
	assert_int_equal(s.n, 0);
	assert_null(s.edits);
	assert_string_equal(s.name, NAME);
	script_release(&s);
	assert_int_equal(script_parse("#\n#\n\n", 5, NAME, &s, &err), 0);
	assert_int_equal(s.n, 0);
	script_release(&s);
	script_release(&s);	/* twice is harmless */
}

static void
test_script__parse_line_blank_or_comment_gives_0(void **state)
{
	static const char *const lines[] = {
		"", " ", "\t \t", "#", "# rename a b", "   # x 'y",
		"\r", " \r", "#\"unterminated",
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(lines) / sizeof(lines[0]); i++) {
		struct ckerr err = CKERR_INIT;
		struct edit e;

		memset(&e, 0x5a, sizeof(e));
		assert_int_equal(script_parse_line(lines[i], strlen(lines[i]),
						   NAME, 3, &e, &err), 0);
		assert_int_equal(err.code, CKERR_OK);
		assert_null(e.str[0]);
		assert_null(e.also);
	}
}

static void
test_script__crlf_and_line_ends(void **state)
{
	static const char text[] = "rename a b\r\n\r\n";
	struct ckerr err = CKERR_INIT;
	struct script s;
	struct edit e;

	(void)state;
	parse_fails("delete 'c\rd' e\r\r\n", NAME ":1:14: unexpected "
		    "argument 'e\r' (usage: delete GLOB)");
	assert_int_equal(script_parse(text, sizeof(text) - 1, NAME, &s, &err),
			 0);
	assert_int_equal(s.n, 1);
	assert_string_equal(s.edits[0].str[1], "b");	/* no '\r' */
	script_release(&s);

	/* the last line needs no line end, and keeps an inner '\r' */
	assert_int_equal(script_parse("#\n\nrename x\ry z", 15, NAME, &s,
				      &err), 0);
	assert_int_equal(s.n, 1);
	assert_string_equal(s.edits[0].str[0], "x\ry");
	assert_pos(s.edits[0].pos, 3, 1);
	script_release(&s);
	/* ... but not one that ends it */
	assert_int_equal(script_parse("delete a\r", 9, NAME, &s, &err), 0);
	assert_string_equal(s.edits[0].str[0], "a");
	script_release(&s);

	/* script_parse_line drops a final '\r' too */
	parse1("rename a b\r", &e);
	assert_string_equal(e.str[1], "b");
	edit_release(&e);

	/* a byte order mark opening the text is skipped */
	assert_int_equal(script_parse("\xef\xbb\xbfrename a b\n", 14, NAME,
				      &s, &err), 0);
	assert_int_equal(s.n, 1);
	assert_pos(s.edits[0].pos, 1, 1);
	script_release(&s);
	/* ... only there */
	parse_fails("\n\xef\xbb\xbfrename a b\n",
		    NAME ":2:1: unknown edit '\xef\xbb\xbfrename'");
}

/* ---- positions ----------------------------------------------------------- */

static void
test_script__positions(void **state)
{
	static const char text[] =
		"# header\n"
		"\n"
		"  move-column\t\"k y\" 01 2 --dim=0 --also 'a b':1 "
		"--also=c\n"
		"insert-column k 3 --value \"-1\" --dim -1\n"
		"rename-prefix '' p --except x --except=\"y\"\n";
	struct ckerr err = CKERR_INIT;
	struct script s;
	const struct edit *e;

	(void)state;
	if (script_parse(text, strlen(text), NAME, &s, &err) < 0)
		fail_msg("%s", err.msg);
	assert_int_equal(s.n, 3);
	e = &s.edits[0];
	assert_pos(e->pos, 3, 3);
	assert_pos(e->str_pos[0], 3, 15);
	assert_pos(e->num_pos[0], 3, 21);
	assert_pos(e->num_pos[1], 3, 24);
	assert_pos(e->dim_pos, 3, 32);		/* the value, after '=' */
	assert_pos(e->also[0].pos, 3, 41);
	assert_pos(e->also[1].pos, 3, 56);
	e = &s.edits[1];
	assert_pos(e->pos, 4, 1);
	assert_pos(e->str_pos[0], 4, 15);
	assert_pos(e->num_pos[0], 4, 17);
	assert_pos(e->value_pos, 4, 27);
	assert_pos(e->dim_pos, 4, 38);
	e = &s.edits[2];
	assert_pos(e->str_pos[0], 5, 15);
	assert_pos(e->str_pos[1], 5, 18);
	assert_pos(e->except_pos[0], 5, 29);
	assert_pos(e->except_pos[1], 5, 40);
	script_release(&s);

	/* script_parse_line numbers its line as told */
	{
		struct edit ed;

		assert_int_equal(script_parse_line("delete x", 8, NAME, 42,
						   &ed, &err), 1);
		assert_pos(ed.pos, 42, 1);
		assert_pos(ed.str_pos[0], 42, 8);
		edit_release(&ed);
	}
}

/* ---- errors -------------------------------------------------------------- */

static void
test_script__errors(void **state)
{
	static const struct {
		const char *text;
		const char *msg;
	} rows[] = {
		/* unknown edits, with a suggestion when one is close */
		{ "renam a b", "1:1: unknown edit 'renam' (did you mean "
		  "'rename'?)" },
		{ "  rename_prefix a b", "1:3: unknown edit 'rename_prefix' "
		  "(did you mean 'rename-prefix'?)" },
		{ "delte a", "1:1: unknown edit 'delte' (did you mean "
		  "'delete'?)" },
		{ "Delete a", "1:1: unknown edit 'Delete' (did you mean "
		  "'delete'?)" },
		{ "move-colum k 1 2", "1:1: unknown edit 'move-colum' (did "
		  "you mean 'move-column'?)" },
		{ "insert-col k 1", "1:1: unknown edit 'insert-col'" },
		{ "frobnicate x", "1:1: unknown edit 'frobnicate'" },
		{ "mv a b", "1:1: unknown edit 'mv'" },
		{ "'' a b", "1:1: unknown edit ''" },
		{ "--dim 1", "1:1: expected an edit, not option '--dim'" },
		/* argument counts */
		{ "rename a", "1:1: rename needs OLD NEW (usage: rename OLD "
		  "NEW)" },
		{ " rename", "1:2: rename needs OLD NEW (usage: rename OLD "
		  "NEW)" },
		{ "rename-regex x", "1:1: rename-regex needs REGEX "
		  "REPLACEMENT (usage: rename-regex REGEX REPLACEMENT)" },
		{ "delete", "1:1: delete needs GLOB (usage: delete GLOB)" },
		{ "move-column k 1", "1:1: move-column needs KEY FROM TO "
		  "(usage: move-column KEY FROM TO [--dim D] "
		  "[--also KEY[:D]]...)" },
		{ "insert-column k --value 1", "1:1: insert-column needs KEY "
		  "AT (usage: insert-column KEY AT [--dim D] [--value X] "
		  "[--also KEY[:D]]...)" },
		{ "delete-column", "1:1: delete-column needs KEY INDEX "
		  "(usage: delete-column KEY INDEX [--dim D] "
		  "[--also KEY[:D]]...)" },
		{ "rename a b c", "1:12: unexpected argument 'c' (usage: "
		  "rename OLD NEW)" },
		{ "rename a b ''", "1:12: unexpected argument '' (usage: "
		  "rename OLD NEW)" },
		{ "delete a '--b'", "1:10: unexpected argument '--b' (usage: "
		  "delete GLOB)" },
		{ "delete-column k 1 2", "1:19: unexpected argument '2' "
		  "(usage: delete-column KEY INDEX [--dim D] "
		  "[--also KEY[:D]]...)" },
		/* options */
		{ "rename a b --frob", "1:12: unknown option '--frob' "
		  "(usage: rename OLD NEW)" },
		{ "rename-prefix a b --exept x", "1:19: unknown option "
		  "'--exept' (did you mean '--except'?)" },
		{ "move-column k 1 2 --dimm=1", "1:19: unknown option "
		  "'--dimm' (did you mean '--dim'?)" },
		{ "move-column k 1 2 --als x", "1:19: unknown option "
		  "'--als' (did you mean '--also'?)" },
		{ "insert-column k 1 --valeu 1", "1:19: unknown option "
		  "'--valeu' (did you mean '--value'?)" },
		{ "move-column k 1 2 --Dim 1", "1:19: unknown option "
		  "'--Dim' (did you mean '--dim'?)" },
		{ "rename a b --dim 0", "1:12: option '--dim' does not apply "
		  "to rename (usage: rename OLD NEW)" },
		{ "delete a --except=b", "1:10: option '--except' does not "
		  "apply to delete (usage: delete GLOB)" },
		{ "move-column k 1 2 --value 1", "1:19: option '--value' does "
		  "not apply to move-column (usage: move-column KEY FROM TO "
		  "[--dim D] [--also KEY[:D]]...)" },
		{ "move-column k 1 2 --dim", "1:19: option '--dim' needs a "
		  "value" },
		{ "move-column k 1 2 --dim --also x", "1:19: option '--dim' "
		  "needs a value" },
		{ "rename-prefix a b --except", "1:19: option '--except' "
		  "needs a value" },
		{ "move-column k 1 2 --also --dim 0", "1:19: option '--also' "
		  "needs a value" },
		{ "move-column k 1 2 --dim 0 --dim 1", "1:27: option '--dim' "
		  "given twice" },
		{ "move-column k 1 2 --dim 0 --dim=0", "1:27: option '--dim' "
		  "given twice" },
		{ "insert-column k 1 --value 1 --value=2", "1:29: option "
		  "'--value' given twice" },
		/* the name runs to the first unquoted '=' */
		{ "move-column k 1 2 --dim\"=0\"", "1:19: unknown option "
		  "'--dim=0' (did you mean '--dim'?)" },
		{ "rename-prefix a b --'except=x'", "1:19: unknown option "
		  "'--except=x' (did you mean '--except'?)" },
		{ "rename-prefix a b --'exc=xyz'", "1:19: unknown option "
		  "'--exc=xyz' (usage: rename-prefix OLD NEW "
		  "[--except GLOB]...)" },
		{ "rename a b --", "1:12: missing option name after '--'" },
		{ "rename a b --=x", "1:12: missing option name after '--'" },
		{ "rename -- a b", "1:8: missing option name after '--'" },
		/* numbers */
		{ "move-column k x 2", "1:15: bad FROM 'x': not a "
		  "non-negative integer" },
		{ "move-column k 1 -2", "1:17: bad TO '-2': not a "
		  "non-negative integer" },
		{ "move-column k 1 +2", "1:17: bad TO '+2': not a "
		  "non-negative integer" },
		{ "move-column k '' 2", "1:15: bad FROM '': not a "
		  "non-negative integer" },
		{ "insert-column k 9223372036854775808", "1:17: bad AT "
		  "'9223372036854775808': out of range" },
		{ "insert-column k 99999999999999999999999", "1:17: bad AT "
		  "'99999999999999999999999': out of range" },
		{ "delete-column k 1.0", "1:17: bad INDEX '1.0': not a "
		  "non-negative integer" },
		{ "delete-column k ' 1'", "1:17: bad INDEX ' 1': not a "
		  "non-negative integer" },
		{ "move-column k 1 2 --dim x", "1:25: bad --dim 'x': not an "
		  "integer" },
		{ "move-column k 1 2 --dim=", "1:25: bad --dim '': not an "
		  "integer" },
		{ "move-column k 1 2 --dim=--1", "1:25: bad --dim '--1': not "
		  "an integer" },
		{ "move-column k 1 2 --dim=9223372036854775808", "1:25: bad "
		  "--dim '9223372036854775808': out of range" },
		{ "move-column k 1 2 --dim -9223372036854775809", "1:25: bad "
		  "--dim '-9223372036854775809': out of range" },
		{ "insert-column k 0 --value=abc", "1:27: bad --value 'abc': "
		  "not a number, inf, nan, true or false" },
		{ "move-column k 1 2 --also a:99999999999999999999", "1:28: "
		  "bad --also dimension '99999999999999999999': out of "
		  "range" },
		{ "move-column k 1 2 --also='a b':-9223372036854775809",
		  "1:32: bad --also dimension '-9223372036854775809': out of "
		  "range" },
		/* quotes */
		{ "rename 'a b", "1:8: unterminated single quote" },
		{ "rename a \"b", "1:10: unterminated double quote" },
		{ "rename a \"b\\\"", "1:10: unterminated double quote" },
		{ "rename a b'", "1:11: unterminated single quote" },
		{ "rename a 'b'\"", "1:13: unterminated double quote" },
		{ "rename a \"b\\\\\"\"", "1:15: unterminated double quote" },
		/* line numbers */
		{ "\n\n  delete\n", "3:3: delete needs GLOB (usage: delete "
		  "GLOB)" },
		{ "rename a b\r\nrename a 'b\r\n", "2:10: unterminated single "
		  "quote" },
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		char want[512];

		snprintf(want, sizeof(want), NAME ":%s", rows[i].msg);
		parse_fails(rows[i].text, want);
	}
	/* a comment hides a quote */
	{
		struct edit e;

		parse1("rename a b # it's", &e);
		edit_release(&e);
	}
}

static void
test_script__nul_and_newline(void **state)
{
	static const char text[] = "delete a\n# x\0y\n";
	struct ckerr err = CKERR_INIT;
	struct edit e;

	(void)state;
	parse_fails_len("rename a\0b c", 12, CKERR_USAGE,
			NAME ":1:9: NUL byte in the script");
	parse_fails_len(text, sizeof(text) - 1, CKERR_USAGE,
			NAME ":2:4: NUL byte in the script");
	parse_fails_len("delete 'a\0'", 11, CKERR_USAGE,
			NAME ":1:10: NUL byte in the script");

	memset(&e, 0x5a, sizeof(e));
	assert_int_equal(script_parse_line("rename a\nb c", 12, "prompt", 7,
					   &e, &err), -1);
	assert_string_equal(err.msg, "prompt:7:9: line break inside a line");
	assert_int_equal(err.code, CKERR_USAGE);
	assert_null(e.str[0]);
	ckerr_clear(&err);
	assert_int_equal(script_parse_line("rename a\0b c", 12, "prompt", 7,
					   &e, &err), -1);
	assert_string_equal(err.msg, "prompt:7:9: NUL byte in the script");
	/* a line is only its len bytes */
	assert_int_equal(script_parse_line("rename a b\nxyz", 10, "prompt",
					   1, &e, &err), 1);
	assert_string_equal(e.str[1], "b");
	edit_release(&e);
}

static void
test_script__errors_leave_output_empty(void **state)
{
	static const char bad[] = "move-column k 1 2 --also a --also b --dim x";
	struct ckerr err = CKERR_INIT;
	struct edit e;
	struct script s;

	(void)state;
	/* an error after parts were allocated */
	memset(&e, 0x5a, sizeof(e));
	assert_int_equal(script_parse_line(bad, strlen(bad), NAME, 1, &e,
					   &err), -1);
	assert_null(e.str[0]);
	assert_null(e.also);
	assert_int_equal(e.nalso, 0);
	/* an error on a later line releases the earlier edits */
	ckerr_clear(&err);
	assert_int_equal(script_parse("rename a b\ndelete x\nfrobz\n", 26,
				      NAME, &s, &err), -1);
	assert_string_equal(err.msg, NAME ":3:1: unknown edit 'frobz'");
	assert_null(s.edits);
	/* the first error wins: an error already set is kept */
	assert_int_equal(script_parse("frobz\n", 6, NAME, &s, &err), -1);
	assert_string_equal(err.msg, NAME ":3:1: unknown edit 'frobz'");
	/* no name: messages say "script" */
	ckerr_clear(&err);
	assert_int_equal(script_parse("frobz\n", 6, NULL, &s, &err), -1);
	assert_string_equal(err.msg, "script:1:1: unknown edit 'frobz'");
	ckerr_clear(&err);
	assert_int_equal(script_parse("delete a", 8, NULL, &s, &err), 0);
	assert_string_equal(s.name, "script");
	script_release(&s);
}

/* ---- limits -------------------------------------------------------------- */

static void
test_script__line_length_limit(void **state)
{
	size_t n = SCRIPT_MAX_LINE + 1;
	char *text = malloc(n + 2);
	struct ckerr err = CKERR_INIT;
	struct script s;
	struct edit e;

	(void)state;
	assert_non_null(text);
	/* exactly the limit (plus CRLF): fine */
	memcpy(text, "delete ", 7);
	memset(text + 7, 'x', n - 7);
	memcpy(text + SCRIPT_MAX_LINE, "\r\n", 2);
	assert_int_equal(script_parse(text, SCRIPT_MAX_LINE + 2, NAME, &s,
				      &err), 0);
	assert_int_equal(strlen(s.edits[0].str[0]), SCRIPT_MAX_LINE - 7);
	script_release(&s);
	assert_int_equal(script_parse_line(text, SCRIPT_MAX_LINE, NAME, 1, &e,
					   &err), 1);
	edit_release(&e);
	/* one byte more: refused */
	memset(text + 7, 'x', n - 7);
	memcpy(text + n, "\n", 1);
	parse_fails_len(text, n + 1, CKERR_LIMIT,
			NAME ":1:1048577: line is longer than 1048576 bytes");
	assert_int_equal(script_parse_line(text, n, NAME, 2, &e, &err), -1);
	assert_string_equal(err.msg,
			    NAME ":2:1048577: line is longer than 1048576 "
			    "bytes");
	assert_int_equal(err.code, CKERR_LIMIT);
	/* a newline past the limit: the length is what is reported */
	text[n] = '\n';
	ckerr_clear(&err);
	assert_int_equal(script_parse_line(text, n + 1, NAME, 2, &e, &err),
			 -1);
	assert_int_equal(err.code, CKERR_LIMIT);
	free(text);
}

static void
test_script__edit_count_limit(void **state)
{
	static const char line[] = "delete a\n";
	size_t n = (size_t)SCRIPT_MAX_EDITS + 1, len = (sizeof(line) - 1) * n;
	char *text = malloc(len + 1);
	struct ckerr err = CKERR_INIT;
	struct script s;
	size_t i;

	(void)state;
	assert_non_null(text);
	for (i = 0; i < n; i++)
		memcpy(text + i * (sizeof(line) - 1), line, sizeof(line) - 1);
	/* the limit itself: fine */
	assert_int_equal(script_parse(text, len - (sizeof(line) - 1), NAME,
				      &s, &err), 0);
	assert_int_equal(s.n, SCRIPT_MAX_EDITS);
	script_release(&s);
	/* one more (comments and blank lines do not count) */
	parse_fails_len(text, len, CKERR_LIMIT,
			NAME ":1000001:1: script holds more than 1000000 "
			"edits");
	memcpy(text + len - (sizeof(line) - 1), "#elete a\n", 9);
	assert_int_equal(script_parse(text, len, NAME, &s, &err), 0);
	script_release(&s);
	free(text);
}

/* ---- printing ------------------------------------------------------------ */

static void
test_script__print_quoting(void **state)
{
	static const struct {
		const char *arg;
		const char *want;
	} rows[] = {
		{ "a.b", "a.b" },
		{ "grüße", "grüße" },
		{ "a=b:c", "a=b:c" },
		{ "-x", "-x" },
		{ "-", "-" },
		{ "a-", "a-" },
		{ "a--b", "a--b" },
		{ "", "''" },
		{ "--", "'--'" },
		{ "--x", "'--x'" },
		{ "a b", "'a b'" },
		{ "a\tb", "'a\tb'" },
		{ "#", "'#'" },
		{ "a#", "'a#'" },
		{ "a\\.b", "'a\\.b'" },
		{ "\"", "'\"'" },
		{ "a\rb", "'a\rb'" },
		{ "a\r", "'a\r'" },
		{ "'", "\"'\"" },
		{ "it's", "\"it's\"" },
		{ "it's \"x\"", "\"it's \\\"x\\\"\"" },
		{ "'\\", "\"'\\\\\"" },
		{ "'\\n", "\"'\\\\n\"" },
		{ "--'", "\"--'\"" },
		{ "a'b", "\"a'b\"" },
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		struct buf b = BUF_INIT;
		struct edit e;
		char line[128];

		assert_int_equal(buf_addstr(&b, "x="), 0);
		assert_int_equal(script_quote(rows[i].arg, &b), 0);
		if (strcmp(b.data + 2, rows[i].want))
			fail_msg("quote '%s': got %s, want %s", rows[i].arg,
				 b.data + 2, rows[i].want);
		buf_release(&b);
		/* and the quoted form reads back */
		snprintf(line, sizeof(line), "delete %s", rows[i].want);
		parse1(line, &e);
		assert_string_equal(e.str[0], rows[i].arg);
		edit_release(&e);
	}
}

static void
test_script__print_canonical(void **state)
{
	(void)state;
	assert_canonical("  rename\t a   b  # c", "rename a b");
	assert_canonical("rename \"a\" 'b'", "rename a b");
	assert_canonical("rename \"\" 'a b'", "rename '' 'a b'");
	assert_canonical("rename-prefix '' forecaster.predictor --except "
			 "interior_mask_bool --except=per_var_std",
			 "rename-prefix '' forecaster.predictor --except "
			 "interior_mask_bool --except per_var_std");
	assert_canonical("rename-regex \"a\\.(.*)\" \"b.\\1\"",
			 "rename-regex 'a\\.(.*)' 'b.\\1'");
	/* options in a fixed order, integers in decimal */
	assert_canonical("insert-column --also=x:01 --value 1e3 k 007 "
			 "--dim=-0 --also y",
			 "insert-column k 7 --dim 0 --value 1e3 --also x:1 "
			 "--also y");
	assert_canonical("move-column w 49 34", "move-column w 49 34");
	assert_canonical("delete-column w 1 --also 'a:1' --also 'a:1':2 "
			 "--also 'a b':-1",
			 "delete-column w 1 --also 'a:1' --also a:1:2 "
			 "--also 'a b':-1");
	assert_canonical("delete \"it's\"", "delete \"it's\"");
}

static void
test_script__print_only_what_the_edit_takes(void **state)
{
	struct edit e = mk(EDIT_RENAME, "a", "b"), f;

	(void)state;
	/* fields rename does not take are neither printed nor compared */
	e.dim_set = true;
	e.dim = 3;
	set_value(&e, "1");
	add_except(&e, "x");
	add_also(&e, "y", false, 0);
	assert_prints(&e, "rename a b");
	f = mk(EDIT_RENAME, "a", "b");
	assert_true(edit_equal(&e, &f));
	edit_release(&e);
	edit_release(&f);

	/* a NULL argument prints as '' */
	e = mk(EDIT_DELETE, NULL, NULL);
	assert_prints(&e, "delete ''");
	edit_release(&e);
}

static void
test_script__print_refuses_newline_and_keeps_buffer(void **state)
{
	struct buf b = BUF_INIT;
	struct edit e = mk(EDIT_RENAME_PREFIX, "a", "b");

	(void)state;
	assert_int_equal(buf_addstr(&b, "keep"), 0);
	add_except(&e, "ok");
	add_except(&e, "x\ny");
	errno = 0;
	assert_int_equal(edit_print(&e, &b), -1);
	assert_int_equal(errno, EINVAL);
	assert_string_equal(b.data, "keep");
	assert_int_equal(b.len, 4);
	errno = 0;
	assert_int_equal(script_quote("a\n", &b), -1);
	assert_int_equal(errno, EINVAL);
	assert_string_equal(b.data, "keep");
	edit_release(&e);

	/* an op outside the table */
	memset(&e, 0, sizeof(e));
	e.op = EDIT__COUNT;
	errno = 0;
	assert_int_equal(edit_print(&e, &b), -1);
	assert_int_equal(errno, EINVAL);
	assert_string_equal(b.data, "keep");
	buf_release(&b);

	/* a full buffer: EOVERFLOW, and nothing half written */
	buf_init(&b, 20);
	assert_int_equal(buf_addstr(&b, "keep"), 0);
	e = mk(EDIT_RENAME, "abcdefgh", "it's long");
	assert_int_equal(edit_print(&e, &b), -1);
	assert_int_equal(errno, EOVERFLOW);
	assert_string_equal(b.data, "keep");
	assert_int_equal(script_quote("it's a long one", &b), -1);
	assert_string_equal(b.data, "keep");
	edit_release(&e);
	buf_release(&b);
}

/* ---- round trips --------------------------------------------------------- */

static void
test_script__round_trip_table(void **state)
{
	static const char *const args[] = {
		"", " ", "\t", "a", "a b", " a", "a ", "--", "--a", "-", "-a",
		"---", "#", "a#b", "#a", "'", "''", "\"", "\"\"", "\\", "\\\\",
		"a\\", "\\'", "'\\", "\\\"", "\"\\", "it's \"quoted\" \\ #",
		"'\"'\"", "a\rb", "\r", "a\r", "grüße", "日本語.weight", "🙂",
		"\xc3", "\xff\xfe", "a=b", "a:1", "a:-1", ":", ":1", "x\v\f",
		"\x01\x1f\x7f", "layers\\.([0-9]+)\\.(.*)", "\\1.\\0\\\\",
		"*.num_batches_tracked", "?", "[a-z]",
	};
	size_t n = sizeof(args) / sizeof(args[0]), i, j;
	int op;

	(void)state;
	for (op = 0; op < EDIT__COUNT; op++)
		for (i = 0; i < n; i++) {
			struct edit e = mk((enum edit_op)op, args[i],
					   args[(i + 7) % n]);

			if (op >= EDIT_MOVE_COLUMN || op == EDIT_DELETE) {
				free(e.str[1]);
				e.str[1] = NULL;
			}
			e.num[0] = (int64_t)i;
			e.num[1] = op == EDIT_MOVE_COLUMN ? INT64_MAX : 0;
			assert_round_trip(&e);
			edit_release(&e);
		}
	/* every option with every tricky argument */
	for (i = 0; i < n; i++) {
		struct edit e = mk(EDIT_RENAME_PREFIX, args[i], args[i]);

		for (j = 0; j < n; j++)
			add_except(&e, args[(i + j) % n]);
		assert_round_trip(&e);
		edit_release(&e);

		e = mk(EDIT_INSERT_COLUMN, args[i], NULL);
		e.dim_set = true;
		e.dim = i % 2 ? INT64_MIN : -(int64_t)i;
		set_value(&e, i % 2 ? "-inf" : "1.5e-3");
		for (j = 0; j < n; j++)
			add_also(&e, args[(i + j) % n], j % 3 != 0,
				 j % 3 == 2 ? INT64_MIN : (int64_t)j - 5);
		assert_round_trip(&e);
		edit_release(&e);
	}
}

/* xorshift64*: the random test's own generator, seeded, no global state. */
static uint64_t
rnd(uint64_t *s)
{
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return *s * 2685821657736338717ULL;
}

/* A random argument: printable ASCII, blanks, quotes, backslashes, '#',
 * '-', ':', '\r', UTF-8; sometimes empty or starting with "--". */
static char *
random_arg(uint64_t *s)
{
	static const char *const pieces[] = {
		" ", "\t", "'", "\"", "\\", "#", "-", "--", ":", "=", "\r",
		"é", "日", "🙂", "\xc3", ":1", ":-2", "\\\"", "''", "\"\"",
	};
	struct buf b = BUF_INIT;
	size_t n = rnd(s) % 12, i;

	if (rnd(s) % 8 == 0)
		assert_int_equal(buf_addstr(&b, "--"), 0);
	for (i = 0; i < n; i++) {
		uint64_t r = rnd(s);

		if (r % 3 == 0)
			assert_int_equal(buf_addstr(&b, pieces[(r >> 8) %
				(sizeof(pieces) / sizeof(pieces[0]))]), 0);
		else
			assert_int_equal(buf_addch(&b, ' ' + (int)((r >> 8) %
						   95)), 0);
	}
	if (!b.data)
		assert_int_equal(buf_addstr(&b, ""), 0);
	return buf_detach(&b, NULL);
}

static int64_t
random_int(uint64_t *s, bool neg)
{
	static const int64_t edges[] = { 0, 1, 9, 10, INT64_MAX, -1,
					 INT64_MIN, -10 };
	uint64_t r = rnd(s);
	int64_t v;

	if (r % 4 == 0)
		return edges[(r >> 8) % (neg ? 8 : 5)];
	v = (int64_t)(rnd(s) >> 1) >> (r % 63);
	return neg && rnd(s) % 2 ? -v : v;
}

static void
test_script__round_trip_random(void **state)
{
	static const char *const values[] = {
		"0", "-1", "+2.5", "1e-7", ".5", "5.", "-inf", "NaN", "true",
		"False", "1E+300", "123456789012345678901234567890",
	};
	const size_t nvalues = sizeof(values) / sizeof(values[0]);
	uint64_t seed = 0x5eed2026c0ffeeULL;
	struct buf all = BUF_INIT;
	struct edit *made;
	struct ckerr err = CKERR_INIT;
	struct script s;
	int i, n = 5000;

	(void)state;
	made = calloc((size_t)n, sizeof(*made));
	assert_non_null(made);
	for (i = 0; i < n; i++) {
		struct edit *e = &made[i];
		enum edit_op op = (enum edit_op)(rnd(&seed) % EDIT__COUNT);
		int k, m;

		e->op = op;
		e->str[0] = random_arg(&seed);
		if (op <= EDIT_RENAME_REGEX)
			e->str[1] = random_arg(&seed);
		e->num[0] = random_int(&seed, false);
		if (op == EDIT_MOVE_COLUMN)
			e->num[1] = random_int(&seed, false);
		if (op >= EDIT_MOVE_COLUMN && rnd(&seed) % 2) {
			e->dim_set = true;
			e->dim = random_int(&seed, true);
		}
		if (op == EDIT_INSERT_COLUMN && rnd(&seed) % 2)
			set_value(e, values[rnd(&seed) % nvalues]);
		m = (int)(rnd(&seed) % 4);
		for (k = 0; op == EDIT_RENAME_PREFIX && k < m; k++) {
			char *a = random_arg(&seed);

			add_except(e, a);
			free(a);
		}
		for (k = 0; op >= EDIT_MOVE_COLUMN && k < m; k++) {
			char *a = random_arg(&seed);

			add_also(e, a, rnd(&seed) % 2,
				 random_int(&seed, true));
			free(a);
		}
		assert_round_trip(e);
		/* and all of them as one script, CRLF or LF */
		assert_int_equal(edit_print(e, &all), 0);
		assert_int_equal(buf_addstr(&all, i % 2 ? "\r\n" : "\n"), 0);
	}
	if (script_parse(all.data, all.len, NAME, &s, &err) < 0)
		fail_msg("%s", err.msg);
	assert_int_equal(s.n, n);
	for (i = 0; i < n; i++) {
		assert_true(edit_equal(&made[i], &s.edits[i]));
		assert_int_equal(s.edits[i].pos.line, i + 1);
		edit_release(&made[i]);
	}
	script_release(&s);
	buf_release(&all);
	free(made);
}

/* ---- copy and equality --------------------------------------------------- */

static void
test_script__copy_is_deep_and_equal(void **state)
{
	struct ckerr err = CKERR_INIT;
	struct edit e, c;

	(void)state;
	parse1("insert-column 'k y' 3 --dim 0 --value 2 --also a:1 --also b",
	       &e);
	assert_int_equal(edit_copy(&c, &e, &err), 0);
	assert_true(edit_equal(&e, &c));
	assert_ptr_not_equal(c.str[0], e.str[0]);
	assert_ptr_not_equal(c.value, e.value);
	assert_ptr_not_equal(c.also, e.also);
	assert_ptr_not_equal(c.also[0].key, e.also[0].key);
	assert_pos(c.pos, 1, 1);
	assert_pos(c.str_pos[0], 1, 15);
	assert_pos(c.value_pos, 1, 39);
	assert_pos(c.also[1].pos, 1, 59);
	edit_release(&e);
	/* the copy lives on alone */
	assert_string_equal(c.str[0], "k y");
	assert_string_equal(c.also[1].key, "b");
	edit_release(&c);

	parse1("rename-prefix a b --except x --except y", &e);
	assert_int_equal(edit_copy(&c, &e, &err), 0);
	assert_true(edit_equal(&e, &c));
	assert_ptr_not_equal(c.except, e.except);
	assert_ptr_not_equal(c.except[1], e.except[1]);
	assert_pos(c.except_pos[1], 1, 39);
	edit_release(&e);
	assert_string_equal(c.except[1], "y");
	edit_release(&c);

	/* an edit made by code without except positions */
	e = mk(EDIT_RENAME_PREFIX, "a", "b");
	add_except(&e, "x");
	free(e.except_pos);
	e.except_pos = NULL;
	assert_int_equal(edit_copy(&c, &e, &err), 0);
	assert_non_null(c.except_pos);
	assert_pos(c.except_pos[0], 0, 0);
	assert_true(edit_equal(&e, &c));
	edit_release(&e);
	edit_release(&c);

	/* an edit with no arrays */
	e = mk(EDIT_DELETE, "x", NULL);
	assert_int_equal(edit_copy(&c, &e, &err), 0);
	assert_null(c.except);
	assert_null(c.also);
	assert_true(edit_equal(&e, &c));
	edit_release(&e);
	edit_release(&c);
}

static void
test_script__equal_compares_every_field(void **state)
{
	static const char *const base = "insert-column k 3 --dim 1 "
					"--value 2 --also a:1 --also b";
	static const char *const differ[] = {
		"delete-column k 3 --dim 1 --also a:1 --also b",
		"insert-column K 3 --dim 1 --value 2 --also a:1 --also b",
		"insert-column k 4 --dim 1 --value 2 --also a:1 --also b",
		"insert-column k 3 --value 2 --also a:1 --also b",
		"insert-column k 3 --dim 2 --value 2 --also a:1 --also b",
		"insert-column k 3 --dim 1 --also a:1 --also b",
		"insert-column k 3 --dim 1 --value 2.0 --also a:1 --also b",
		"insert-column k 3 --dim 1 --value 2 --also a:1",
		"insert-column k 3 --dim 1 --value 2 --also a --also b",
		"insert-column k 3 --dim 1 --value 2 --also a:0 --also b",
		"insert-column k 3 --dim 1 --value 2 --also b:1 --also b",
		"insert-column k 3 --dim 1 --value 2 --also a:1 --also b:1",
		"insert-column k 3 --dim 1 --value 2 --also b --also a:1",
		"rename-prefix a b --except x",
		"rename-prefix a b",
		"rename-prefix a b --except y",
		"rename-prefix a b --except x --except x",
		"rename a b",
		"rename a c",
		"rename-regex a b",
		"move-column k 3 0 --dim 1 --also a:1 --also b",
	};
	struct edit e, f;
	size_t i, j;

	(void)state;
	parse1(base, &e);
	/* positions do not matter */
	parse1("  insert-column\tk 3 --also=a:1 --dim=1 --also=b --value=2",
	       &f);
	assert_true(edit_equal(&e, &f));
	edit_release(&f);
	for (i = 0; i < sizeof(differ) / sizeof(differ[0]); i++) {
		parse1(differ[i], &f);
		if (edit_equal(&e, &f))
			fail_msg("'%s' equals '%s'", differ[i], base);
		edit_release(&f);
	}
	edit_release(&e);
	/* and the rows differ from each other, but not from themselves */
	for (i = 0; i < sizeof(differ) / sizeof(differ[0]); i++) {
		parse1(differ[i], &e);
		for (j = 0; j < sizeof(differ) / sizeof(differ[0]); j++) {
			parse1(differ[j], &f);
			if (edit_equal(&e, &f) != (i == j))
				fail_msg("'%s' vs '%s'", differ[i], differ[j]);
			edit_release(&f);
		}
		edit_release(&e);
	}
}

int
main(void)
{
#define T(name) cmocka_unit_test(test_script__##name)
	const struct CMUnitTest tests[] = {
		/* the table */
		T(table_names_and_usages),
		T(options_each_edit_takes),
		/* every edit, every option form */
		T(parse_rename),
		T(parse_rename_prefix_with_excepts),
		T(parse_rename_regex_and_delete),
		T(parse_move_column),
		T(parse_insert_and_delete_column),
		T(integers),
		T(values),
		T(also_splits_at_last_unquoted_colon),
		/* lexical rules */
		T(quoting),
		T(blanks_are_space_and_tab),
		T(options_versus_arguments),
		T(comments_and_blank_lines),
		T(parse_line_blank_or_comment_gives_0),
		T(crlf_and_line_ends),
		/* positions and errors */
		T(positions),
		T(errors),
		T(nul_and_newline),
		T(errors_leave_output_empty),
		T(line_length_limit),
		T(edit_count_limit),
		/* printing */
		T(print_quoting),
		T(print_canonical),
		T(print_only_what_the_edit_takes),
		T(print_refuses_newline_and_keeps_buffer),
		/* round trips */
		T(round_trip_table),
		T(round_trip_random),
		/* copy and equality */
		T(copy_is_deep_and_equal),
		T(equal_compares_every_field),
	};
#undef T

	return cmocka_run_group_tests(tests, NULL, NULL);
}
