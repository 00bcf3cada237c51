/*
 * test-tree: the TUI's tree of the demo checkpoint, without a terminal.
 * Rows in file order with the state dict's keys split at dots, sums per
 * subtree, expand/collapse, sorting (numbers in names as numbers, sizes),
 * filter and search, a key that is also a prefix, the marks and ghost
 * nodes of a target, and the expanded state kept across a rebuild.
 * Expectations come from the checkpoint's own listings, not constants.
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
#include "tree.h"
#include "banned.h"

static const char *demo;

static void
build(struct session *s, struct tree *t, bool with_target)
{
	struct ckerr err = CKERR_INIT;

	assert_int_equal(session_analyze(s, &err), 0);
	if (tree_build(t, s->ck, &s->root, &s->cur,
		       with_target ? &s->target : NULL,
		       with_target ? &s->diff : NULL, &err) < 0)
		fail_msg("tree_build: %s", err.msg);
}

static void
open_demo(struct session *s)
{
	struct ckerr err = CKERR_INIT;

	if (session_open(s, demo, NULL, &err) < 0)
		fail_msg("%s: %s", demo, err.msg);
}

static int
collect_name(void *ctx, const struct ckpt_child *c)
{
	struct buf *b = ctx;

	return buf_add(b, c->name, c->len) < 0 || buf_addch(b, '\n') < 0 ?
	       -1 : 0;
}

static void
test_tree__top_level_in_file_order(void **state)
{
	struct ckerr err = CKERR_INIT;
	struct buf want = BUF_INIT, got = BUF_INIT;
	struct session s;
	struct tree t;
	size_t i;

	(void)state;
	open_demo(&s);
	build(&s, &t, false);
	assert_int_equal(ckpt_children(ckpt_top(s.ck), collect_name, &want,
				       &err), 0);
	for (i = 0; i < t.nrows; i++)
		if (t.rows[i].depth == 0)
			assert_int_equal(buf_addf(&got, "%s\n",
						  t.rows[i].node->name), 0);
	assert_string_equal(got.data, want.data);
	/* the state dict starts expanded, its keys split at dots */
	assert_non_null(t.sd);
	assert_string_equal(t.sd->path, s.root.path);
	assert_true(t.sd->expanded);
	assert_int_equal(t.sd->nkids, 1);
	assert_string_equal(t.sd->kids[0]->name, "model");
	assert_true(t.sd->kids[0]->sd);
	buf_release(&want);
	buf_release(&got);
	tree_free(&t);
	session_close(&s);
}

static void
test_tree__sums_and_full_expansion(void **state)
{
	struct ckerr err = CKERR_INIT;
	struct session s;
	struct tree t;
	struct tree_node *n;
	uint64_t bytes = 0, elems = 0;
	size_t i, leaves = 0;

	(void)state;
	open_demo(&s);
	build(&s, &t, false);
	for (i = 0; i < s.cur.n; i++) {
		n = tree_find(&t, s.cur.v[i].key, true);
		assert_non_null(n);
		assert_int_equal(n->kind, TK_TENSOR);
		assert_non_null(n->t);
		assert_int_equal(n->t->ndim, s.cur.v[i].ndim);
		bytes += tensor_nbytes(n->t);
		elems += n->t->numel;
	}
	assert_int_equal(t.sd->tensors, s.cur.n);
	assert_int_equal(t.sd->bytes, bytes);
	assert_int_equal(t.sd->elems, elems);
	/* expanded everywhere, every node below the root is a row */
	tree_expand(t.root, true, true);
	assert_int_equal(tree_rows(&t, &err), 0);
	assert_int_equal(t.nrows, t.nnodes);
	for (i = 0; i < t.nrows; i++)
		leaves += t.rows[i].node->kind == TK_TENSOR;
	assert_int_equal(leaves, t.root->tensors);
	/* collapsed: the top level only */
	tree_expand(t.root, false, true);
	t.root->expanded = true;
	assert_int_equal(tree_rows(&t, &err), 0);
	for (i = 0; i < t.nrows; i++)
		assert_int_equal(t.rows[i].depth, 0);
	tree_free(&t);
	session_close(&s);
}

static void
test_tree__sorting(void **state)
{
	struct ckerr err = CKERR_INIT;
	struct session s;
	struct tree t;
	struct tree_node *st;
	size_t i;

	(void)state;
	open_demo(&s);
	build(&s, &t, false);
	st = tree_find(&t, "optimizer_states.0.state", false);
	assert_non_null(st);
	assert_true(st->nkids > 10);
	t.sort = TS_NAME;
	assert_int_equal(tree_rows(&t, &err), 0);
	/* "2" before "10": names as numbers */
	for (i = 1; i < st->nkids; i++)
		assert_true(strtol(st->kids[i - 1]->name, NULL, 10) <
			    strtol(st->kids[i]->name, NULL, 10));
	t.sort = TS_SIZE;
	assert_int_equal(tree_rows(&t, &err), 0);
	for (i = 1; i < st->nkids; i++)
		assert_true(st->kids[i - 1]->bytes >= st->kids[i]->bytes);
	t.sort = TS_FILE;
	assert_int_equal(tree_rows(&t, &err), 0);
	for (i = 1; i < st->nkids; i++)
		assert_true(st->kids[i - 1]->seq < st->kids[i]->seq);
	tree_free(&t);
	session_close(&s);
}

static void
test_tree__filter_and_search(void **state)
{
	struct ckerr err = CKERR_INIT;
	struct ckpt_list all = CKPT_LIST_INIT;
	struct session s;
	struct tree t;
	struct tree_node *n, *first;
	size_t i, want = 0, got = 0;

	(void)state;
	open_demo(&s);
	build(&s, &t, false);
	assert_int_equal(ckpt_list_all(s.ck, &all, &err), 0);
	for (i = 0; i < all.n; i++)
		want += strstr(all.v[i].key, "exp_avg_sq") != NULL;
	assert_true(want > 0);
	assert_int_equal(tree_set_filter(&t, "exp_avg_sq", &err), 0);
	assert_int_equal(tree_rows(&t, &err), 0);
	for (i = 0; i < t.nrows; i++) {
		n = t.rows[i].node;
		assert_true(n->match);
		if (n->kind == TK_TENSOR) {
			assert_non_null(strstr(n->path, "exp_avg_sq"));
			got++;
		}
	}
	assert_int_equal(got, want);
	assert_int_equal(tree_set_filter(&t, NULL, &err), 0);
	assert_int_equal(tree_rows(&t, &err), 0);
	/* search visits every match in order and wraps around */
	first = tree_search(&t, NULL, "exp_avg_sq", false);
	assert_non_null(first);
	n = first;
	for (i = 1; i < want; i++) {
		n = tree_search(&t, n, "exp_avg_sq", false);
		assert_non_null(n);
		assert_ptr_not_equal(n, first);
	}
	assert_ptr_equal(tree_search(&t, n, "exp_avg_sq", false), first);
	assert_ptr_equal(tree_search(&t, first, "exp_avg_sq", true), n);
	assert_null(tree_search(&t, NULL, "no such thing", false));
	/* revealed, it has a row */
	tree_reveal(n);
	assert_int_equal(tree_rows(&t, &err), 0);
	assert_true(tree_row_of(&t, n) >= 0);
	ckpt_list_release(&all);
	tree_free(&t);
	session_close(&s);
}

static void
test_tree__key_that_is_a_prefix(void **state)
{
	struct ckerr err = CKERR_INIT;
	struct session s;
	struct tree t;
	struct tree_node *n;

	(void)state;
	open_demo(&s);
	assert_int_equal(session_apply_line(&s, "rename model.heads.score.bias "
					    "model.heads.score", &err), 1);
	build(&s, &t, false);
	n = tree_find(&t, "model.heads.score", true);
	assert_non_null(n);
	assert_int_equal(n->kind, TK_TENSOR);
	assert_non_null(n->t);
	assert_int_equal(n->nkids, 1);
	assert_string_equal(n->kids[0]->path, "model.heads.score.weight");
	assert_int_equal(n->tensors, 2);
	tree_free(&t);
	session_close(&s);
}

static void
test_tree__target_marks(void **state)
{
	struct ckerr err = CKERR_INIT;
	char path[] = "/tmp/cks-tree-XXXXXX";
	struct session s;
	struct tree t;
	struct tree_node *n;
	FILE *f;
	int fd;

	(void)state;
	fd = mkstemp(path);
	assert_true(fd >= 0);
	f = fdopen(fd, "w");
	assert_non_null(f);
	fputs("model.encoder.embed.weight float32 [32, 9]\n"
	      "model.heads.extra.weight float32 [2, 8]\n", f);
	fclose(f);
	open_demo(&s);
	assert_int_equal(session_set_target(&s, path, &err), 0);
	build(&s, &t, true);
	assert_int_equal(t.sd->missing, s.diff.nmissing);
	assert_int_equal(t.sd->unexpected, s.diff.nunexpected);
	assert_int_equal(t.sd->mismatched, s.diff.nmismatched);
	n = tree_find(&t, "model.heads.extra.weight", true);
	assert_non_null(n);
	assert_int_equal(n->kind, TK_MISSING);
	assert_int_equal(n->mark, TM_MISSING);
	assert_non_null(n->want);
	assert_int_equal(n->want->shape[0], 2);
	assert_null(n->t);
	n = tree_find(&t, "model.encoder.embed.weight", true);
	assert_non_null(n);
	assert_int_equal(n->mark, TM_MISMATCHED);
	assert_int_equal(n->want->shape[1], 9);
	n = tree_find(&t, "model.heads.label.bias", true);
	assert_int_equal(n->mark, TM_UNEXPECTED);
	tree_free(&t);
	session_close(&s);
	unlink(path);
}

static void
test_tree__state_kept_across_rebuild(void **state)
{
	struct ckerr err = CKERR_INIT;
	struct session s;
	struct tree t, u;
	struct tree_node *n;

	(void)state;
	open_demo(&s);
	build(&s, &t, false);
	n = tree_find(&t, "model.encoder", true);
	assert_non_null(n);
	n->expanded = true;
	tree_find(&t, "optimizer_states", false)->expanded = true;
	t.sort = TS_NAME;
	assert_int_equal(session_apply_line(&s, "delete model.heads.label.bias",
					    &err), 1);
	build(&s, &u, false);
	tree_keep_state(&u, &t);
	assert_true(tree_find(&u, "model.encoder", true)->expanded);
	assert_true(tree_find(&u, "optimizer_states", false)->expanded);
	assert_false(tree_find(&u, "loops", false)->expanded);
	assert_int_equal(u.sort, TS_NAME);
	assert_null(tree_find(&u, "model.heads.label.bias", true));
	tree_free(&t);
	tree_free(&u);
	session_close(&s);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_tree__top_level_in_file_order),
		cmocka_unit_test(test_tree__sums_and_full_expansion),
		cmocka_unit_test(test_tree__sorting),
		cmocka_unit_test(test_tree__filter_and_search),
		cmocka_unit_test(test_tree__key_that_is_a_prefix),
		cmocka_unit_test(test_tree__target_marks),
		cmocka_unit_test(test_tree__state_kept_across_rebuild),
	};

	demo = getenv("CKS_DEMO");
	if (!demo)
		demo = "examples/demo.ckpt";
	return cmocka_run_group_tests(tests, NULL, NULL);
}
