/*
 * test-edit: the edit engine on the demo checkpoint (no torch needed):
 * renames keep positions, _metadata follows, collisions and missing keys
 * are refused with script positions, a failing script changes nothing,
 * and every edit can be undone exactly.
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

#include "edit.h"
#include "script.h"
#include "banned.h"

struct fx {
	struct ckpt *ck;
	struct ckpt_root root;
	struct ckerr err;
};

static int
setup(void **state)
{
	const char *demo = getenv("CKS_DEMO");
	struct fx *f = calloc(1, sizeof(*f));

	if (!f)
		return -1;
	f->ck = ckpt_open(demo ? demo : "examples/demo.ckpt", &f->err);
	if (!f->ck || ckpt_find_root(f->ck, NULL, &f->root, &f->err) < 0) {
		fprintf(stderr, "setup: %s\n", f->err.msg);
		return -1;
	}
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fx *f = *state;

	ckpt_root_release(&f->root);
	ckpt_free(f->ck);
	free(f);
	return 0;
}

/* The state dict's keys (and values) joined, to compare whole states. */
static char *
snapshot(const struct fx *f, bool with_meta)
{
	const struct pv_dict *d = f->root.node->u.dict;
	struct buf b = BUF_INIT;
	size_t i;

	for (i = 0; i < d->len; i++)
		buf_addf(&b, "%s=%u;", d->items[i].key->u.s.data,
			 d->items[i].value->id);
	if (with_meta) {
		const struct pyval *m = pyval_dict_get_str(d->state, "_metadata", 9);
		const struct pyval *top = ckpt_top(f->ck), *opt;

		for (i = 0; m && i < m->u.dict->len; i++)
			buf_addf(&b, "|%s", m->u.dict->items[i].key->u.s.data);
		/* what drop and the optimizer side of column edits touch */
		for (i = 0; i < top->u.dict->len; i++)
			buf_addf(&b, "/%s=%u", top->u.dict->items[i].key->u.s.data,
				 top->u.dict->items[i].value->id);
		opt = pyval_dict_get_str(top, "optimizer_states", 16);
		opt = opt ? pyval_dict_get_str(opt->u.seq.items[0], "state", 5)
			  : NULL;
		for (i = 0; opt && i < opt->u.dict->len; i++) {
			const struct pyval *st = opt->u.dict->items[i].value;
			size_t k;

			for (k = 0; k < st->u.dict->len; k++)
				buf_addf(&b, "~%u", st->u.dict->items[k].value->id);
		}
	}
	return buf_detach(&b, NULL);
}

static void
parse(const char *text, struct script *s)
{
	struct ckerr err = CKERR_INIT;

	if (script_parse(text, strlen(text), "t.cks", s, &err) < 0)
		fail_msg("parse: %s", err.msg);
}

static ptrdiff_t
key_at(const struct fx *f, const char *key)
{
	return pyval_dict_find_str(f->root.node, key, strlen(key));
}

static bool
has_meta(const struct fx *f, const char *module)
{
	const struct pyval *m = pyval_dict_get_str(f->root.node->u.dict->state,
						   "_metadata", 9);

	return pyval_dict_find_str(m, module, strlen(module)) >= 0;
}

static void
test_edit__rename_prefix_keeps_positions_and_metadata(void **state)
{
	struct fx *f = *state;
	struct script s;
	ptrdiff_t at = key_at(f, "model.heads.label.weight");

	parse("rename-prefix model.heads out\n", &s);
	assert_int_equal(edit_apply(f->ck, &f->root, &s, NULL, &f->err), 0);
	assert_int_equal(key_at(f, "out.label.weight"), at);
	assert_int_equal(key_at(f, "model.heads.label.weight"), -1);
	assert_true(has_meta(f, "out.label"));
	assert_true(has_meta(f, "out"));
	assert_false(has_meta(f, "model.heads"));
	assert_true(has_meta(f, "model"));	/* not under the prefix */
	assert_true(ckpt_changed(f->ck));
	script_release(&s);
}

static void
test_edit__whole_components_only(void **state)
{
	struct fx *f = *state;
	struct script s;

	/* "model.enc" is not a prefix of "model.encoder.x" */
	parse("rename-prefix model.enc x\n", &s);
	assert_int_equal(edit_apply(f->ck, &f->root, &s, NULL, &f->err), -1);
	assert_string_equal(f->err.msg, "t.cks:1:15: no key is 'model.enc' or "
			    "starts with 'model.enc.'");
	assert_false(ckpt_changed(f->ck));
	script_release(&s);
}

static void
test_edit__failing_script_changes_nothing(void **state)
{
	struct fx *f = *state;
	char *before = snapshot(f, true), *after;
	struct script s;

	/* the first two edits are fine, the third collides */
	parse("rename-prefix model net\n"
	      "delete net.heads.score.bias\n"
	      "rename net.heads.label.bias net.heads.label.weight\n", &s);
	assert_int_equal(edit_apply(f->ck, &f->root, &s, NULL, &f->err), -1);
	assert_string_equal(f->err.msg, "t.cks:3:1: 'net.heads.label.bias' "
			    "would be renamed to 'net.heads.label.weight', which "
			    "is already a key");
	after = snapshot(f, true);
	assert_string_equal(before, after);
	assert_false(ckpt_changed(f->ck));
	free(before);
	free(after);
	script_release(&s);
}

static void
test_edit__collision_between_renamed_keys(void **state)
{
	struct fx *f = *state;
	struct script s;

	parse("rename-regex 'model\\.encoder\\.blocks\\.[01]\\.(.*)' 'b.\\1'\n",
	      &s);
	assert_int_equal(edit_check(f->ck, &f->root, &s, NULL, &f->err), -1);
	assert_string_equal(f->err.msg, "t.cks:1:1: 'model.encoder.blocks.0."
			    "norm.bias' and 'model.encoder.blocks.1.norm.bias' "
			    "would both be named 'b.norm.bias'");
	script_release(&s);
}

struct error_case {
	const char *script;
	const char *msg;	/* NULL: an invalid regex at 1:14, in the
				 * C library's words */
};

/* Each script fails the check with its message. */
static void
check_errors(struct fx *f, const struct error_case *cases, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		struct script s;

		ckerr_clear(&f->err);
		parse(cases[i].script, &s);
		assert_int_equal(edit_check(f->ck, &f->root, &s, NULL, &f->err),
				 -1);
		if (cases[i].msg)
			assert_string_equal(f->err.msg, cases[i].msg);
		else
			assert_non_null(strstr(f->err.msg, "t.cks:1:14: invalid "
					       "regex '"));
		script_release(&s);
	}
}

static void
test_edit__errors_name_the_position(void **state)
{
	static const struct error_case cases[] = {
		{ "rename nope x\n", "t.cks:1:8: no key 'nope' in the state dict" },
		{ "\n  delete 'zz*'\n", "t.cks:2:10: no key matches 'zz*'" },
		{ "rename-regex '(' x\n", NULL },	/* regerror text varies */
		{ "rename-regex 'a(b)' '\\2'\n", "t.cks:1:21: the replacement "
		  "refers to group \\2, the regex has 1" },
	};

	check_errors(*state, cases, sizeof(cases) / sizeof(cases[0]));
}

/* The moments of the edited weight follow it; the others stay. */
static void
test_edit__column_edit_follows_optimizer(void **state)
{
	struct fx *f = *state;
	struct edit_report rep = EDIT_REPORT_INIT;
	struct script s;
	size_t i;
	int moments = 0;

	parse("move-column model.encoder.mlp.0.weight 0 7\n", &s);
	assert_int_equal(edit_check(f->ck, &f->root, &s, &rep, &f->err), 0);
	assert_null(rep.v[0].warning);
	for (i = 0; i < rep.v[0].n; i++)
		if (strstr(rep.v[0].changes[i].from, "optimizer_states.0.state."))
			moments++;
	assert_int_equal(moments, 2);	/* exp_avg, exp_avg_sq */
	edit_report_release(&rep);
	script_release(&s);
}

/* The report of a script follows the shapes earlier edits leave behind. */
static void
test_edit__report_follows_earlier_column_edits(void **state)
{
	struct fx *f = *state;
	struct edit_report rep = EDIT_REPORT_INIT;
	struct script s;
	size_t e, i;

	parse("insert-column model.encoder.mlp.0.weight 8\n"
	      "insert-column model.encoder.mlp.0.weight 9\n"
	      "delete-column model.encoder.mlp.0.weight 0\n", &s);
	assert_int_equal(edit_check(f->ck, &f->root, &s, &rep, &f->err), 0);
	for (e = 0; e < 3; e++) {
		int moments = 0;

		for (i = 0; i < rep.v[e].n; i++)
			if (strstr(rep.v[e].changes[i].from,
				   "optimizer_states.0.state.1."))
				moments++;
		if (moments != 2)
			fail_msg("edit %zu: %d optimizer tensors reported", e + 1,
				 moments);
	}
	edit_report_release(&rep);
	script_release(&s);
}

/* Each drop sees the checkpoint as the drops before it left it. */
static void
test_edit__drops_in_sequence(void **state)
{
	struct fx *f = *state;
	struct edit_report rep = EDIT_REPORT_INIT;
	struct pyval *st;
	struct script s;
	size_t i, n;

	st = ckpt_resolve(f->ck, NULL, "optimizer_states.0.state", &f->err);
	assert_non_null(st);
	n = st->u.dict->len;
	assert_true(n > 4);
	/* a moment dropped first is not reported as moved with its weight */
	parse("drop optimizer_states.0.state.1\n"
	      "drop optimizer_states.0.state.3\n"
	      "move-column model.encoder.mlp.0.weight 0 7\n", &s);
	assert_int_equal(edit_check(f->ck, &f->root, &s, &rep, &f->err), 0);
	for (i = 0; i < rep.v[2].n; i++)
		if (strstr(rep.v[2].changes[i].from, "optimizer_states"))
			fail_msg("reported: %s", rep.v[2].changes[i].from);
	edit_report_release(&rep);
	assert_int_equal(edit_apply(f->ck, &f->root, &s, NULL, &f->err), 0);
	script_release(&s);
	assert_int_equal(st->u.dict->len, n - 2);
	for (i = 0; i < st->u.dict->len; i++) {
		const struct pyval *k = st->u.dict->items[i].key;

		assert_int_equal(k->kind, PV_INT);
		assert_true(k->u.i == (int64_t)(i < 1 ? i : i < 2 ? i + 1 :
						i + 2));
	}
	/* what an earlier line dropped is not there for a later one */
	parse("drop epoch\ndrop epoch\n", &s);
	assert_int_equal(edit_check(f->ck, &f->root, &s, NULL, &f->err), -1);
	assert_string_equal(f->err.msg, "t.cks:2:6: nothing at 'epoch'");
	script_release(&s);
	ckerr_clear(&f->err);
	parse("drop optimizer_states\ndrop optimizer_states.0\n", &s);
	assert_int_equal(edit_check(f->ck, &f->root, &s, NULL, &f->err), -1);
	assert_string_equal(f->err.msg,
			    "t.cks:2:6: nothing at 'optimizer_states.0'");
	script_release(&s);
}

static void
test_edit__column_errors(void **state)
{
	static const struct error_case cases[] = {
		{ "move-column model.encoder.mlp.0.weight 8 1\n", "t.cks:1:40: "
		  "FROM 8 is out of range: 'model.encoder.mlp.0.weight' has 8 "
		  "along dimension 1" },
		{ "insert-column model.encoder.norm.num_batches_tracked 0\n",
		  "t.cks:1:15: 'model.encoder.norm.num_batches_tracked' is a "
		  "0-dimensional tensor: it has no columns" },
		{ "delete-column model.encoder.mlp.0.weight 0 --dim 2\n",
		  "t.cks:1:50: dimension 2 is out of range for "
		  "'model.encoder.mlp.0.weight', which has 2" },
		{ "insert-column model.encoder.mlp.0.weight 0 --value 1e40\n",
		  "t.cks:1:52: value '1e40' does not fit float32" },
		{ "move-column model.encoder.mlp.0.weight 0 1 --also "
		  "model.encoder.mlp.0.bias\n", "t.cks:1:51: dimension 1 is out "
		  "of range for 'model.encoder.mlp.0.bias', which has 1" },
		{ "drop nothing.here\n", "t.cks:1:6: nothing at 'nothing.here'" },
		/* glibc would need memory exponential in these patterns */
		{ "rename-regex 'a+++++++++++++++++++++++++++++++++++++++++' b\n",
		  "t.cks:1:14: invalid regex 'a+++++++++++++++++++++++++++++++++"
		  "++++++++': two repetition operators in a row are undefined in "
		  "POSIX" },
		{ "rename-regex 'model.*?' b\n", "t.cks:1:14: invalid regex "
		  "'model.*?': two repetition operators in a row are undefined in "
		  "POSIX" },
		{ "rename-regex '((a{100}){100}){100}' b\n", "t.cks:1:14: invalid "
		  "regex '((a{100}){100}){100}': its repetitions would expand to "
		  "more than 10000 copies of its parts" },
		{ "rename-regex '(((((((((((((((a+)+)+)+)+)+)+)+)+)+)+)+)+)+)+)' b\n",
		  "t.cks:1:14: invalid regex '(((((((((((((((a+)+)+)+)+)+)+)+)+)+)"
		  "+)+)+)+)+)': its repetitions would expand to more than 10000 "
		  "copies of its parts" },
		{ "drop state_dict\n", "t.cks:1:6: 'state_dict' holds the state "
		  "dict: use delete for its keys" },
	};

	check_errors(*state, cases, sizeof(cases) / sizeof(cases[0]));
}

static void
test_edit__regex_renaming_nothing_warns(void **state)
{
	struct fx *f = *state;
	struct edit_report rep = EDIT_REPORT_INIT;
	struct script s;

	parse("rename-regex 'nomatch(.*)' 'x\\1'\n", &s);
	assert_int_equal(edit_apply(f->ck, &f->root, &s, &rep, &f->err), 0);
	assert_int_equal(rep.n, 1);
	assert_string_equal(rep.v[0].warning, "rename-regex renames no key");
	assert_int_equal(rep.v[0].n, 0);
	assert_false(ckpt_changed(f->ck));
	edit_report_release(&rep);
	script_release(&s);
}

static void
test_edit__report_lists_changes(void **state)
{
	struct fx *f = *state;
	struct edit_report rep = EDIT_REPORT_INIT;
	struct script s;

	parse("rename model.heads.score.bias b\ndelete 'model.encoder.norm.*'\n",
	      &s);
	assert_int_equal(edit_check(f->ck, &f->root, &s, &rep, &f->err), 0);
	assert_int_equal(rep.v[0].n, 1);
	assert_string_equal(rep.v[0].changes[0].from, "model.heads.score.bias");
	assert_string_equal(rep.v[0].changes[0].to, "b");
	assert_int_equal(rep.v[1].n, 5);
	assert_null(rep.v[1].changes[0].to);
	/* checking changes nothing */
	assert_true(key_at(f, "model.heads.score.bias") >= 0);
	assert_false(ckpt_changed(f->ck));
	edit_report_release(&rep);
	script_release(&s);
}

/* Apply each edit, undo it, and compare with the state before. */
static void
test_edit__undo_restores_exactly(void **state)
{
	struct fx *f = *state;
	static const char *const edits[] = {
		"rename model.heads.score.bias b",
		"rename-prefix model x",
		"rename-prefix '' wrapped --except 'model.encoder.*'",
		"rename-prefix model ''",
		"rename-regex 'model\\.(.*)\\.weight' 'w.\\1'",
		"delete 'model.encoder.blocks.*'",
		"delete '*.bias'",
		"move-column model.encoder.mlp.0.weight 1 5",
		"insert-column model.encoder.mlp.0.weight 3 --dim 0 --value 2",
		"delete-column model.encoder.mlp.3.weight 0 --dim 0 "
		"--also model.encoder.mlp.3.bias",
		"drop 'optimizer_states.0.state.*'",
		"drop lr_schedulers",
	};
	size_t i;

	for (i = 0; i < sizeof(edits) / sizeof(edits[0]); i++) {
		char *before = snapshot(f, true), *during, *after;
		struct edit_undo *undo = NULL;
		struct edit e;
		int r;

		r = script_parse_line(edits[i], strlen(edits[i]), "t.cks", 1, &e,
				      &f->err);
		assert_int_equal(r, 1);
		if (edit_apply_one(f->ck, &f->root, &e, "t.cks", NULL, &undo,
				   &f->err) < 0)
			fail_msg("%s: %s", edits[i], f->err.msg);
		during = snapshot(f, true);
		assert_string_not_equal(before, during);
		assert_int_equal(edit_undo_apply(f->ck, undo, &f->err), 0);
		after = snapshot(f, true);
		if (strcmp(before, after))
			fail_msg("undo of '%s' did not restore the state", edits[i]);
		/* lookups work again after the undo (index rebuilt) */
		assert_int_equal(key_at(f, "model.heads.score.bias"),
				 (ptrdiff_t)f->root.node->u.dict->len - 1);
		edit_undo_free(undo);
		edit_release(&e);
		free(before);
		free(during);
		free(after);
	}
}

int
main(void)
{
#define T(name) cmocka_unit_test_setup_teardown(test_edit__##name, setup, \
						teardown)
	const struct CMUnitTest tests[] = {
		T(rename_prefix_keeps_positions_and_metadata),
		T(whole_components_only),
		T(failing_script_changes_nothing),
		T(collision_between_renamed_keys),
		T(errors_name_the_position),
		T(regex_renaming_nothing_warns),
		T(column_edit_follows_optimizer),
		T(report_follows_earlier_column_edits),
		T(drops_in_sequence),
		T(column_errors),
		T(report_lists_changes),
		T(undo_restores_exactly),
	};
#undef T
	return cmocka_run_group_tests(tests, NULL, NULL);
}
