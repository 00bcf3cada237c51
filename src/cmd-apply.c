/* cmd-apply: replay a script of edits and write the result. */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "edit.h"
#include "script.h"
#include "write.h"
#include "banned.h"

/* "SCRIPT:LINE:COL: warning: ..." for every edit that warned. */
static void
print_warnings(const struct script *s, const struct edit_report *rep)
{
	size_t i;

	for (i = 0; i < rep->n; i++)
		if (rep->v[i].warning)
			cli_error(NULL, "%s:%u:%u: warning: %s", s->name,
				  s->edits[i].pos.line, s->edits[i].pos.col,
				  rep->v[i].warning);
}

/* --dry-run: each edit's line, then what it changes. */
static int
print_dry_run(const struct script *s, const struct edit_report *rep)
{
	struct buf out = BUF_INIT;
	size_t i, k;
	int bad = 0;

	for (i = 0; i < rep->n && !bad; i++) {
		const struct edit_result *res = &rep->v[i];

		bad = buf_addf(&out, "%s:%u: ", s->name, s->edits[i].pos.line) < 0 ||
		      edit_print(&s->edits[i], &out) < 0 ||
		      buf_addch(&out, '\n') < 0;
		for (k = 0; k < res->n && !bad; k++) {
			const struct edit_change *c = &res->changes[k];

			bad = buf_addstr(&out, "  ") < 0 ||
			      layout_add_key(&out, c->from) < 0;
			if (!bad && c->note)
				bad = buf_addf(&out, ": %s", c->note) < 0;
			else if (!bad && c->to)
				bad = buf_addstr(&out, " -> ") < 0 ||
				      layout_add_key(&out, c->to) < 0;
			else if (!bad)
				bad = buf_addstr(&out, " (deleted)") < 0;
			bad = bad || buf_addch(&out, '\n') < 0;
		}
	}
	bad = bad ? cli_error(NULL, "out of memory") : cli_write(&out);
	buf_release(&out);
	return bad;
}

/* The result's diff against TARGET; a dry run names it "FILE after
 * SCRIPT". */
static int
report_target(const char *out, const char *file, const char *spath,
	      const char *target, struct layout *after, struct layout *want)
{
	struct buf name = BUF_INIT;
	int r;

	if (out)
		return cli_diff_report(out, target, after, want, REPORT_TEXT);
	if (buf_addf(&name, "%s after %s", file, spath) < 0)
		return cli_error(NULL, "out of memory");
	r = cli_diff_report(name.data, target, after, want, REPORT_TEXT);
	buf_release(&name);
	return r;
}

int
cmd_apply(const struct cli_cmd *cmd, const struct cli_args *args)
{
	const char *spath = args->ops[0], *file = args->ops[1];
	const char *out = args->val[OPT_OUTPUT];
	bool dry = args->set[OPT_DRY_RUN];
	struct edit_report rep = EDIT_REPORT_INIT;
	struct write_opts wo = { args->set[OPT_FORCE], 0 };
	struct ckerr err = CKERR_INIT;
	const char *target = args->val[OPT_TARGET];
	struct layout want = LAYOUT_INIT, after = LAYOUT_INIT;
	struct script s;
	struct ckpt_root root;
	struct ckpt *ck;
	int r;

	if (!dry && !out)
		return cli_error(cmd->name, "missing -o OUT (or --dry-run)");
	if (cli_load_script(spath, &s) < 0)
		return EXIT_ERROR;
	if (target && cli_load_target(target, &want) < 0) {
		script_release(&s);
		return EXIT_ERROR;
	}
	ck = cli_open(file, args, &root);
	if (!ck) {
		script_release(&s);
		layout_release(&want);
		return EXIT_ERROR;
	}
	if (dry && target)
		r = edit_check_layout(ck, &root, &s, &rep, &after, &err);
	else
		r = dry ? edit_check(ck, &root, &s, &rep, &err)
			: edit_apply(ck, &root, &s, &rep, &err);
	if (r < 0) {
		/* script problems carry their position; others are FILE's */
		r = strncmp(err.msg, s.name, strlen(s.name)) ?
		    cli_error(file, "%s", err.msg) : cli_error(NULL, "%s", err.msg);
	} else {
		print_warnings(&s, &rep);
		if (dry)
			r = print_dry_run(&s, &rep);
		else if (ckpt_write(ck, out, &wo, &err) < 0)
			r = cli_error(out, "%s", err.msg);
		/* what was written (or would be) against the target */
		if (r == EXIT_OK && target && !dry &&
		    layout_from_root(ck, &root, &after, &err) < 0)
			r = cli_fail(file, &err);
		if (r == EXIT_OK && target)
			r = report_target(dry ? NULL : out, file, spath, target,
					  &after, &want);
	}
	layout_release(&after);
	layout_release(&want);
	edit_report_release(&rep);
	ckpt_root_release(&root);
	ckpt_free(ck);
	script_release(&s);
	return r;
}
