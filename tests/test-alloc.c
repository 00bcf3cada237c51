/*
 * test-alloc: allocation failure injection.  malloc, calloc and realloc
 * are wrapped at link time (-Wl,--wrap); for every N, the Nth allocation
 * made by our code fails, and opening, listing and reading the demo
 * checkpoint must then fail cleanly with CKERR_NOMEM: no crash, and (under
 * valgrind or ASan) no leak.  The loop ends when a run needs fewer than N
 * allocations, i.e. every allocation point has been failed once.
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

#include "ckpt.h"
#include "edit.h"
#include "export.h"
#include "layout.h"
#include "suggest.h"
#include "script.h"
#include "write.h"
#include "banned.h"

void *__real_malloc(size_t n);
void *__real_calloc(size_t n, size_t m);
void *__real_realloc(void *p, size_t n);
void *__wrap_malloc(size_t n);
void *__wrap_calloc(size_t n, size_t m);
void *__wrap_realloc(void *p, size_t n);

/* Test-only state: which allocation to fail, and how many we saw. */
static unsigned long fail_at, seen;

static int
should_fail(void)
{
	return fail_at && ++seen == fail_at;
}

void *
__wrap_malloc(size_t n)
{
	return should_fail() ? NULL : __real_malloc(n);
}

void *
__wrap_calloc(size_t n, size_t m)
{
	return should_fail() ? NULL : __real_calloc(n, m);
}

void *
__wrap_realloc(void *p, size_t n)
{
	return should_fail() ? NULL : __real_realloc(p, n);
}

static char *demo;
static size_t demo_len;

/* Open, find the root, list everything, read every tensor's values. */
static int
scenario(struct ckerr *err)
{
	struct ckpt *ck = ckpt_open_memory(demo, demo_len, err);
	struct ckpt_root root = { NULL, NULL };
	struct ckpt_list l = CKPT_LIST_INIT;
	size_t i;
	int r = -1;

	if (!ck)
		return -1;
	if (ckpt_find_root(ck, NULL, &root, err) < 0 ||
	    ckpt_list_all(ck, &l, err) < 0)
		goto out;
	for (i = 0; i < l.n; i++) {
		struct tstats st;
		struct tval v[4];

		if (ckpt_tensor_stats(ck, l.v[i].tensor->u.tensor, &st, err) < 0 ||
		    ckpt_tensor_values(ck, l.v[i].tensor->u.tensor, v, 4,
				       err) < 0)
			goto out;
	}
	r = 0;
out:
	ckpt_list_release(&l);
	ckpt_root_release(&root);
	ckpt_free(ck);
	return r;
}

static const char edit_script[] =
	"rename-prefix model net\n"
	"rename-regex 'net\\.encoder\\.blocks\\.([0-9]+)\\.(.*)' 'b.\\1.\\2'\n"
	"delete '*.num_batches_tracked'\n"
	"move-column net.encoder.mlp.0.weight 0 7 --also "
	"net.encoder.embed.weight\n"
	"insert-column net.encoder.mlp.0.weight 2 --value 1.5\n"
	"drop 'optimizer_states.0.state.1*'\n";

/* Parse a script, apply it, write the result (then remove it). */
static int
apply_scenario(struct ckerr *err)
{
	struct ckpt *ck = ckpt_open_memory(demo, demo_len, err);
	struct ckpt_root root = { NULL, NULL };
	struct write_opts o = { false, 0 };
	struct script s;
	char out[] = "/tmp/cks-alloc-XXXXXX";
	int fd, r = -1;

	if (!ck)
		return -1;
	fd = mkstemp(out);
	assert_true(fd >= 0);
	close(fd);
	unlink(out);
	if (script_parse(edit_script, sizeof(edit_script) - 1, "a.cks", &s,
			 err) < 0)
		goto free_ck;
	if (ckpt_find_root(ck, NULL, &root, err) == 0 &&
	    edit_apply(ck, &root, &s, NULL, err) == 0 &&
	    ckpt_write(ck, out, &o, err) == 0)
		r = 0;
	/* a failed write leaves no file behind */
	assert_int_equal(access(out, F_OK) == 0, r == 0);
	unlink(out);
	script_release(&s);
free_ck:
	ckpt_root_release(&root);
	ckpt_free(ck);
	return r;
}

/* Parse the script and write it as a Python program. */
static int
export_scenario(struct ckerr *err)
{
	struct buf out = BUF_INIT;
	struct script s;
	int r;

	if (script_parse(edit_script, sizeof(edit_script) - 1, "a.cks", &s,
			 err) < 0)
		return -1;
	r = export_python(&s, NULL, "test", &out, err);
	/* on failure the output is left as it was */
	assert_true(r == 0 ? out.len > 0 : out.len == 0);
	buf_release(&out);
	script_release(&s);
	return r;
}

/* The demo's layout with model. stripped, encoder.mlp renamed ffn, one
 * input feature more for the embedding and a block's norm renamed. */
static const char target_layout[] =
	"# a target for the demo\n"
	"encoder.embed.weight float32 [32, 9]\n"
	"encoder.ffn.0.weight torch.float32 torch.Size([16, 8])\n"
	"encoder.ffn.0.bias float32 [16]\n"
	"encoder.ffn.2.weight float32 [16]\n"
	"encoder.ffn.2.bias float32 [16]\n"
	"encoder.ffn.3.weight float32 [8, 16]\n"
	"encoder.ffn.3.bias float32 [8]\n"
	"encoder.norm.weight float32 [8]\n"
	"encoder.norm.bias float32 [8]\n"
	"encoder.norm.running_mean float32 [8]\n"
	"encoder.norm.running_var float32 [8]\n"
	"encoder.norm.num_batches_tracked int64 []\n"
	"encoder.blocks.0.norm.weight float32 [8]\n"
	"encoder.blocks.0.norm.bias float32 [8]\n"
	"encoder.blocks.0.proj.weight float32 [8, 8]\n"
	"encoder.blocks.0.proj.bias float32 [8]\n"
	"encoder.blocks.1.norm.weight float32 [8]\n"
	"encoder.blocks.1.norm.bias float32 [8]\n"
	"encoder.blocks.1.proj.weight float32 [8, 8]\n"
	"encoder.blocks.1.proj.bias float32 [8]\n"
	"heads.label.weight float32 [4, 8]\n"
	"heads.label.bias float32 [4]\n"
	"heads.score.weight float32 (1, 8)\n"
	"heads.score.bias float32 (1,)\n";

/* Parse a target layout, diff the demo against it, suggest, group; and
 * the layout a script would leave. */
static int
diff_scenario(struct ckerr *err)
{
	struct ckpt *ck = ckpt_open_memory(demo, demo_len, err);
	struct ckpt_root root = { NULL, NULL };
	struct layout have = LAYOUT_INIT, want = LAYOUT_INIT, after = LAYOUT_INIT;
	struct layout_diff d = LAYOUT_DIFF_INIT;
	struct suggestions sg = SUGGESTIONS_INIT;
	struct key_group *g = NULL;
	struct script s = { NULL, NULL, 0 };
	size_t ng = 0;
	bool *flag = NULL;
	int r = -1;

	if (!ck)
		return -1;
	if (ckpt_find_root(ck, NULL, &root, err) < 0 ||
	    layout_from_root(ck, &root, &have, err) < 0 ||
	    layout_parse(target_layout, sizeof(target_layout) - 1, "t.layout",
			 &want, err) < 0 ||
	    layout_diff(&have, &want, &d, err) < 0 ||
	    suggest(&have, &want, &sg, err) < 0)
		goto out;
	/* the scenario must exercise every kind of suggestion */
	assert_true(sg.n >= 3);
	flag = calloc(have.n, sizeof(*flag));
	if (!flag) {
		ckerr_nomem(err);
		goto out;
	}
	for (size_t i = 0; i < d.nunexpected; i++)
		flag[d.unexpected[i]] = true;
	if (suggest_groups(&have, flag, d.unexpected, d.nunexpected, &want, &g,
			   &ng, err) < 0 ||
	    script_parse(edit_script, sizeof(edit_script) - 1, "a.cks", &s,
			 err) < 0 ||
	    edit_check_layout(ck, &root, &s, NULL, &after, err) < 0)
		goto out;
	r = 0;
out:
	script_release(&s);
	free(g);
	free(flag);
	suggestions_release(&sg);
	layout_diff_release(&d);
	layout_release(&after);
	layout_release(&want);
	layout_release(&have);
	ckpt_root_release(&root);
	ckpt_free(ck);
	return r;
}

/* Fail allocation 1, 2, ... of a scenario until one run needs fewer. */
static unsigned long
fail_each_allocation(int (*run)(struct ckerr *))
{
	struct ckerr err = CKERR_INIT;
	unsigned long n, total;

	fail_at = 0;
	seen = 0;
	if (run(&err) != 0)
		fail_msg("the scenario fails without injection: %s", err.msg);
	for (n = 1;; n++) {
		ckerr_clear(&err);
		fail_at = n;
		seen = 0;
		if (run(&err) == 0) {
			fail_at = 0;
			if (seen >= n)
				fail_msg("allocation %lu failed and nobody "
					 "noticed", n);
			break;
		}
		total = seen;
		fail_at = 0;
		if (err.code != CKERR_NOMEM)
			fail_msg("allocation %lu failed but the error was "
				 "'%s' (code %d)", n, err.msg, err.code);
		assert_true(total >= n);
	}
	return n - 1;
}

static void
test_alloc__every_failure_point(void **state)
{
	unsigned long n;

	(void)state;
	n = fail_each_allocation(scenario);
	print_message("# open/list/read: %lu allocation points failed one at "
		      "a time\n", n);
	assert_true(n > 100);
}

static void
test_alloc__apply_path(void **state)
{
	unsigned long n;

	(void)state;
	n = fail_each_allocation(apply_scenario);
	print_message("# parse/apply/write: %lu allocation points failed one "
		      "at a time\n", n);
	assert_true(n > 100);
}

static void
test_alloc__export_path(void **state)
{
	unsigned long n;

	(void)state;
	n = fail_each_allocation(export_scenario);
	print_message("# parse/export: %lu allocation points failed one at a "
		      "time\n", n);
	assert_true(n > 50);
}

static void
test_alloc__diff_path(void **state)
{
	unsigned long n;

	(void)state;
	n = fail_each_allocation(diff_scenario);
	print_message("# layout/diff/suggest: %lu allocation points failed one "
		      "at a time\n", n);
	assert_true(n > 100);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_alloc__diff_path),
		cmocka_unit_test(test_alloc__every_failure_point),
		cmocka_unit_test(test_alloc__apply_path),
		cmocka_unit_test(test_alloc__export_path),
	};
	const char *path = getenv("CKS_DEMO");
	FILE *f;
	long len;

	if (!path)
		path = "examples/demo.ckpt";
	f = fopen(path, "rb");
	if (!f || fseek(f, 0, SEEK_END) < 0 || (len = ftell(f)) <= 0) {
		printf("Bail out! cannot read %s\n", path);
		return 1;
	}
	rewind(f);
	demo_len = (size_t)len;
	demo = __real_malloc(demo_len);
	if (!demo || fread(demo, 1, demo_len, f) != demo_len) {
		printf("Bail out! cannot read %s\n", path);
		return 1;
	}
	fclose(f);
	len = cmocka_run_group_tests_name("test_alloc", tests, NULL, NULL);
	free(demo);
	return (int)len;
}
