/*
 * test-ui: the UI's logic that needs no terminal.  Scrolling (the view's
 * invariants under every move, for lists shorter and longer than the
 * window), the key table (every binding names a command of the table or
 * a script edit, help has a label for every command bound), the
 * expansion of %k/%p/%r for keys that need quoting, and lines typed at
 * the prompt running through the session (a script edit, a UI command,
 * an error that changes nothing).
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "ui.h"
#include "banned.h"

static void
check_view(const struct view *v, size_t n, size_t h)
{
	if (!n) {
		assert_int_equal(v->cur, 0);
		assert_int_equal(v->top, 0);
		return;
	}
	assert_true(v->cur < n);
	assert_true(v->top <= v->cur);
	assert_true(v->cur < v->top + h);
	if (n <= h)
		assert_int_equal(v->top, 0);
	else
		assert_true(v->top <= n - h);
}

static void
test_ui__view_invariants(void **state)
{
	static const size_t lens[] = { 0, 1, 5, 10, 11, 1000 };
	static const size_t heights[] = { 1, 3, 10 };
	size_t a, b, step;

	(void)state;
	for (a = 0; a < sizeof(lens) / sizeof(lens[0]); a++)
		for (b = 0; b < sizeof(heights) / sizeof(heights[0]); b++) {
			size_t n = lens[a], h = heights[b];
			struct view v = { 0, 0 };

			/* a fixed walk through every kind of move */
			for (step = 0; step < 200; step++) {
				switch (step % 7) {
				case 0:
					view_step(&v, (long)(step % 13) - 4, n, h);
					break;
				case 1:
					view_page(&v, 1, n, h);
					break;
				case 2:
					view_page(&v, -1, n, h);
					break;
				case 3:
					view_goto(&v, step * 7, n, h);
					break;
				case 4:
					view_step(&v, 1, n, h);
					break;
				case 5:
					v.cur = step * 3;	/* the list shrank */
					view_fit(&v, n, h);
					break;
				default:
					view_goto(&v, 0, n, h);
				}
				check_view(&v, n, h);
			}
		}
}

static void
test_ui__view_moves(void **state)
{
	struct view v = { 0, 0 };

	(void)state;
	view_step(&v, 5, 100, 10);
	assert_int_equal(v.cur, 5);
	assert_int_equal(v.top, 0);
	view_step(&v, 10, 100, 10);
	assert_int_equal(v.cur, 15);
	assert_int_equal(v.top, 6);
	view_page(&v, 1, 100, 10);	/* a page keeps one row of context */
	assert_int_equal(v.cur, 24);
	assert_int_equal(v.top, 15);
	view_goto(&v, 99, 100, 10);
	assert_int_equal(v.cur, 99);
	assert_int_equal(v.top, 90);
	view_step(&v, -1000, 100, 10);
	assert_int_equal(v.cur, 0);
	assert_int_equal(v.top, 0);
	view_goto(&v, 50, 100, 9);	/* off screen: a third down */
	assert_int_equal(v.top, 47);
}

/* Every binding's command is a UI command or a script edit. */
static void
test_ui__bindings_name_commands(void **state)
{
	size_t i, j;

	(void)state;
	for (i = 0; i < ui_nbindings; i++) {
		const struct ui_binding *kb = &ui_bindings[i];
		const char *cmd = kb->command;
		size_t len = strcspn(cmd, " ");
		bool edit = false;

		if (!strncmp(cmd, "%r", 2))
			edit = true;
		for (j = 0; j < EDIT__COUNT; j++)
			if (strlen(edit_name((enum edit_op)j)) == len &&
			    !strncmp(edit_name((enum edit_op)j), cmd, len))
				edit = true;
		if (!edit && !ui_command_find(cmd, len))
			fail_msg("binding '%s': no command '%.*s'",
				 kb->label ? kb->label : "?", (int)len, cmd);
		/* unlabelled keys repeat the labelled binding before them */
		if (!kb->label) {
			assert_true(i > 0);
			for (j = i; j-- > 0 && !ui_bindings[j].label;)
				;
			assert_string_equal(ui_bindings[j].command, cmd);
		}
		/* no key is bound twice */
		for (j = 0; j < i; j++)
			assert_int_not_equal(ui_bindings[j].key, kb->key);
		assert_ptr_equal(ui_binding_for(kb->key), kb);
	}
	assert_null(ui_binding_for('Z'));
}

static void
test_ui__expand_quotes_keys(void **state)
{
	char w[] = "w", wp[] = "enc oder.w", e[] = "enc", lr[] = "lr",
	     lrp[] = "hparams.lr";
	struct tree_node key = { .name = w, .path = wp, .kind = TK_TENSOR,
				 .sd = true };
	struct tree_node sub = { .name = e, .path = e, .kind = TK_BRANCH,
				 .sd = true };
	struct tree_node other = { .name = lr, .path = lrp, .kind = TK_VALUE };
	char *s;

	(void)state;
	s = ui_expand("%r %k %k", &key);
	assert_string_equal(s, "rename 'enc oder.w' 'enc oder.w'");
	free(s);
	s = ui_expand("%r %k %k", &sub);
	assert_string_equal(s, "rename-prefix enc enc");
	free(s);
	s = ui_expand("delete %k", &other);	/* not a state-dict key */
	assert_string_equal(s, "delete ");
	free(s);
	s = ui_expand("up", NULL);
	assert_string_equal(s, "up");
	free(s);
}

static void
test_ui__lines_run_through_the_session(void **state)
{
	const char *demo = getenv("CKS_DEMO");
	struct ckerr err = CKERR_INIT;
	struct ui ui;

	(void)state;
	memset(&ui, 0, sizeof(ui));
	if (session_open(&ui.s, demo ? demo : "examples/demo.ckpt", NULL,
			 &err) < 0)
		fail_msg("%s", err.msg);
	ui_run_line(&ui, "rename-prefix model net");
	assert_int_equal(ui.s.ndone, 1);
	assert_int_equal(ui.msg_kind, MSG_INFO);
	assert_non_null(strstr(ui.msg, "rename-prefix model net: 24 changed"));
	ui_run_line(&ui, "rename nope x");
	assert_int_equal(ui.s.ndone, 1);
	assert_int_equal(ui.msg_kind, MSG_ERROR);
	assert_string_equal(ui.msg, "session:2:8: no key 'nope' in the state "
			    "dict");
	ui_run_line(&ui, "  undo");
	assert_int_equal(ui.s.ndone, 0);
	assert_int_equal(ui.s.nundone, 1);
	ui_run_line(&ui, "redo");
	assert_int_equal(ui.s.ndone, 1);
	ui_run_line(&ui, "# a comment");
	assert_int_equal(ui.s.ndone, 1);
	session_close(&ui.s);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ui__view_invariants),
		cmocka_unit_test(test_ui__view_moves),
		cmocka_unit_test(test_ui__bindings_name_commands),
		cmocka_unit_test(test_ui__expand_quotes_keys),
		cmocka_unit_test(test_ui__lines_run_through_the_session),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
