/*
 * test-session: the TUI's document model on the demo checkpoint.  Edits
 * typed as lines, undo and redo restoring the exact key list, the dirty
 * flag across writes and undos, the session as a script that `apply`
 * would replay, --script replay (all or nothing), a target with its diff
 * and suggestions following every change.
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "session.h"
#include "banned.h"

static const char *demo;

/* The state dict's layout as text, one line a key. */
static char *
layout_text(struct session *s)
{
	struct ckerr err = CKERR_INIT;
	struct buf b = BUF_INIT;
	size_t i;

	assert_int_equal(session_analyze(s, &err), 0);
	for (i = 0; i < s->cur.n; i++)
		assert_int_equal(layout_print_entry(&s->cur.v[i], &b), 0);
	assert_int_equal(buf_grow(&b, 0), 0);
	return buf_detach(&b, NULL);
}

static void
open_demo(struct session *s)
{
	struct ckerr err = CKERR_INIT;

	if (session_open(s, demo, NULL, &err) < 0)
		fail_msg("cannot open %s: %s", demo, err.msg);
}

static void
apply_ok(struct session *s, const char *line)
{
	struct ckerr err = CKERR_INIT;

	if (session_apply_line(s, line, &err) != 1)
		fail_msg("'%s': %s", line, err.msg);
}

static void
test_session__undo_redo_restore_exactly(void **state)
{
	struct ckerr err = CKERR_INIT;
	struct session s;
	char *l0, *l1, *l2, *l;

	(void)state;
	open_demo(&s);
	l0 = layout_text(&s);
	assert_false(session_dirty(&s));
	apply_ok(&s, "rename-prefix model net");
	l1 = layout_text(&s);
	assert_non_null(strstr(l1, "net.encoder.embed.weight float32 [32, 8]"));
	apply_ok(&s, "insert-column net.encoder.mlp.0.weight 8 --value 1");
	l2 = layout_text(&s);
	assert_non_null(strstr(l2, "net.encoder.mlp.0.weight float32 [16, 9]"));
	assert_true(session_dirty(&s));
	assert_int_equal(s.ndone, 2);
	/* what the edit changed is kept with it */
	assert_int_equal(s.done[0].result.n, 24);

	assert_int_equal(session_undo(&s, &err), 1);
	l = layout_text(&s);
	assert_string_equal(l, l1);
	free(l);
	assert_int_equal(session_undo(&s, &err), 1);
	l = layout_text(&s);
	assert_string_equal(l, l0);
	free(l);
	assert_false(session_dirty(&s));
	assert_int_equal(session_undo(&s, &err), 0);	/* nothing left */
	assert_int_equal(session_redo(&s, &err), 1);
	assert_int_equal(session_redo(&s, &err), 1);
	l = layout_text(&s);
	assert_string_equal(l, l2);
	free(l);
	assert_int_equal(session_redo(&s, &err), 0);
	/* a new edit after an undo drops the redo list */
	assert_int_equal(session_undo(&s, &err), 1);
	apply_ok(&s, "delete net.heads.score.bias");
	assert_int_equal(s.nundone, 0);
	assert_int_equal(session_redo(&s, &err), 0);
	free(l0);
	free(l1);
	free(l2);
	session_close(&s);
}

static void
test_session__errors_change_nothing(void **state)
{
	struct ckerr err = CKERR_INIT;
	struct session s;
	char *l0, *l;

	(void)state;
	open_demo(&s);
	l0 = layout_text(&s);
	apply_ok(&s, "rename model.heads.score.bias b");
	/* the second edit of the session: errors are "session:2:COL" */
	assert_int_equal(session_apply_line(&s, "rename nope x", &err), -1);
	assert_string_equal(err.msg, "session:2:8: no key 'nope' in the state "
			    "dict");
	ckerr_clear(&err);
	assert_int_equal(session_apply_line(&s, "frobnicate a", &err), -1);
	assert_non_null(strstr(err.msg, "session:2:1:"));
	ckerr_clear(&err);
	assert_int_equal(session_apply_line(&s, "  # a comment", &err), 0);
	assert_int_equal(s.ndone, 1);
	assert_int_equal(session_undo(&s, &err), 1);
	l = layout_text(&s);
	assert_string_equal(l, l0);
	free(l);
	free(l0);
	session_close(&s);
}

static void
test_session__script_and_dirty_after_write(void **state)
{
	struct ckerr err = CKERR_INIT;
	struct buf b = BUF_INIT;
	char dir[] = "/tmp/cks-session-XXXXXX", out[64], cks[64];
	struct session s, t;
	char *l1, *l;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(out, sizeof(out), "%s/out.ckpt", dir);
	snprintf(cks, sizeof(cks), "%s/edits.cks", dir);
	open_demo(&s);
	apply_ok(&s, "rename-prefix model.encoder 'enc oder'");
	apply_ok(&s, "move-column 'enc oder.mlp.0.weight' 0 7");
	assert_int_equal(session_script(&s, &b), 0);
	assert_non_null(strstr(b.data, "\nrename-prefix model.encoder 'enc oder'\n"
			       "move-column 'enc oder.mlp.0.weight' 0 7\n"));
	buf_release(&b);
	assert_true(session_dirty(&s));
	assert_int_equal(session_write(&s, out, false, &err), 0);
	assert_false(session_dirty(&s));
	/* never over an existing file without force */
	assert_int_equal(session_write(&s, out, false, &err), -1);
	ckerr_clear(&err);
	assert_int_equal(session_undo(&s, &err), 1);
	assert_true(session_dirty(&s));
	assert_int_equal(session_redo(&s, &err), 1);
	assert_false(session_dirty(&s));
	/* another edit where the written one was: that state is gone, the
	 * session dirty whatever is undone or redone */
	assert_int_equal(session_undo(&s, &err), 1);
	apply_ok(&s, "delete 'enc oder.norm.weight'");
	assert_true(session_dirty(&s));
	assert_int_equal(session_undo(&s, &err), 1);
	assert_true(session_dirty(&s));
	assert_int_equal(session_redo(&s, &err), 1);
	assert_int_equal(session_redo(&s, &err), 0);
	assert_true(session_dirty(&s));
	/* the script as saved, replayed on the demo, gives the same state */
	assert_int_equal(session_undo(&s, &err), 1);
	apply_ok(&s, "move-column 'enc oder.mlp.0.weight' 0 7");
	assert_true(session_dirty(&s));
	assert_int_equal(session_save_script(&s, cks, false, &err), 0);
	l1 = layout_text(&s);
	open_demo(&t);
	assert_int_equal(session_replay(&t, cks, &err), 0);
	assert_int_equal(t.ndone, 2);
	l = layout_text(&t);
	assert_string_equal(l, l1);
	free(l);
	free(l1);
	/* a script that fails half-way leaves nothing applied */
	{
		FILE *f = fopen(cks, "w");

		assert_non_null(f);
		fputs("rename-prefix model m\nrename nope x\n", f);
		fclose(f);
	}
	assert_int_equal(session_replay(&t, cks, &err), -1);
	assert_non_null(strstr(err.msg, ":2:8: no key 'nope'"));
	assert_int_equal(t.ndone, 2);
	session_close(&t);
	session_close(&s);
	unlink(out);
	unlink(cks);
	rmdir(dir);
}

static void
test_session__target_follows_edits(void **state)
{
	struct ckerr err = CKERR_INIT;
	char path[] = "/tmp/cks-target-XXXXXX";
	struct session s;
	FILE *f;
	int fd;

	(void)state;
	fd = mkstemp(path);
	assert_true(fd >= 0);
	f = fdopen(fd, "w");
	assert_non_null(f);
	fputs("net.encoder.embed.weight float32 [32, 8]\n"
	      "net.heads.score.weight torch.float32 torch.Size([1, 8])\n", f);
	fclose(f);
	open_demo(&s);
	assert_int_equal(session_set_target(&s, path, &err), 0);
	assert_int_equal(session_analyze(&s, &err), 0);
	assert_int_equal(s.diff.nmissing, 2);
	assert_int_equal(s.diff.nunexpected, 24);
	assert_true(s.sugg.n >= 1);
	apply_ok(&s, "rename-prefix model net");
	assert_int_equal(session_analyze(&s, &err), 0);
	assert_int_equal(s.diff.nmissing, 0);
	assert_int_equal(s.diff.nunexpected, 22);
	assert_int_equal(session_undo(&s, &err), 1);
	assert_int_equal(session_analyze(&s, &err), 0);
	assert_int_equal(s.diff.nmissing, 2);
	/* a bad target keeps the old one */
	assert_int_equal(session_set_target(&s, "/nonexistent/t", &err), -1);
	assert_non_null(strstr(err.msg, "/nonexistent/t: cannot open"));
	assert_string_equal(s.target_path, path);
	ckerr_clear(&err);
	assert_int_equal(session_set_target(&s, NULL, &err), 0);
	assert_int_equal(session_analyze(&s, &err), 0);
	assert_int_equal(layout_diff_count(&s.diff), 0);
	session_close(&s);
	unlink(path);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_session__undo_redo_restore_exactly),
		cmocka_unit_test(test_session__errors_change_nothing),
		cmocka_unit_test(test_session__script_and_dirty_after_write),
		cmocka_unit_test(test_session__target_follows_edits),
	};

	demo = getenv("CKS_DEMO");
	if (!demo)
		demo = "examples/demo.ckpt";
	return cmocka_run_group_tests(tests, NULL, NULL);
}
