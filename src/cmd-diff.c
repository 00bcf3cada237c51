/* cmd-diff: compare a checkpoint's layout with a target, suggest edits. */
#include "config.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "jsonv.h"
#include "report.h"
#include "suggest.h"
#include "banned.h"

/* {"key": ..., "dtype": ..., "shape": [...]} (without "key": keyed false) */
static struct jsonv *
json_entry(const struct layout_entry *e, bool keyed)
{
	struct jsonv *o = jsonv_object(), *shape = jsonv_array();
	int bad = 0, i;

	for (i = 0; i < e->ndim; i++)
		bad |= jsonv_push(shape, jsonv_int(e->shape[i]));
	if (keyed)
		bad |= jsonv_set(o, "key", jsonv_cstring(e->key));
	bad |= jsonv_set(o, "dtype", jsonv_cstring(dtype_name(e->dtype)));
	bad |= jsonv_set(o, "shape", shape);
	if (bad) {
		jsonv_free(o);
		return NULL;
	}
	return o;
}

static int
report_json(const struct report *rp, struct buf *out)
{
	struct jsonv *doc = jsonv_object(), *mi = jsonv_array(),
		     *un = jsonv_array(), *mm = jsonv_array(),
		     *su = jsonv_array();
	char *text;
	size_t i;
	int bad = 0;

	for (i = 0; i < rp->d->nmissing; i++)
		bad |= jsonv_push(mi, json_entry(&rp->want->v[rp->d->missing[i]], true));
	for (i = 0; i < rp->d->nunexpected; i++)
		bad |= jsonv_push(un,
				  json_entry(&rp->have->v[rp->d->unexpected[i]], true));
	for (i = 0; i < rp->d->nmismatched; i++) {
		const struct layout_pair *p = &rp->d->mismatched[i];
		struct jsonv *o = jsonv_object();

		bad |= jsonv_set(o, "key", jsonv_cstring(rp->want->v[p->want].key));
		bad |= jsonv_set(o, "have", json_entry(&rp->have->v[p->have], false));
		bad |= jsonv_set(o, "want", json_entry(&rp->want->v[p->want], false));
		bad |= jsonv_push(mm, o);
	}
	for (i = 0; i < rp->s->n; i++) {
		struct jsonv *o = jsonv_object();
		struct buf line = BUF_INIT;

		bad |= edit_print(&rp->s->v[i].edit, &line) < 0 ||
		       buf_grow(&line, 0) < 0;
		bad |= jsonv_set(o, "edit", bad ? NULL : jsonv_cstring(line.data));
		bad |= jsonv_set(o, "reason", jsonv_cstring(rp->s->v[i].reason));
		bad |= jsonv_set(o, "fixes", jsonv_uint(rp->s->v[i].fixes));
		bad |= jsonv_push(su, o);
		buf_release(&line);
	}
	bad |= jsonv_set(doc, "missing", mi);
	bad |= jsonv_set(doc, "unexpected", un);
	bad |= jsonv_set(doc, "mismatched", mm);
	bad |= jsonv_set(doc, "suggestions", su);
	text = bad ? NULL : jsonv_dump(doc);
	jsonv_free(doc);
	if (!text)
		return -1;
	bad = buf_addstr(out, text) < 0 || buf_addch(out, '\n') < 0;
	free(text);
	return bad ? -1 : 0;
}

int
cli_diff_report(const char *file, const char *target, struct layout *have,
		struct layout *want, enum cli_report how)
{
	struct layout_diff d = LAYOUT_DIFF_INIT;
	struct suggestions sg = SUGGESTIONS_INIT;
	struct report rp = { file, target, have, want, &d, &sg };
	struct ckerr err = CKERR_INIT;
	struct buf out = BUF_INIT;
	int r;

	r = layout_diff(have, want, &d, &err);
	if (r == 0 && layout_diff_count(&d))
		r = suggest(have, want, &sg, &err);
	if (r == 0) {
		if (how == REPORT_JSON)
			r = report_json(&rp, &out) < 0 ? ckerr_nomem(&err) : 0;
		else if (how == REPORT_SCRIPT)
			r = report_script(&rp, &out) < 0 ? ckerr_nomem(&err) : 0;
		else
			r = report_text(&rp, 0, &out, &err);
	}
	if (r < 0)
		r = cli_fail(file, &err);
	else
		r = cli_write(&out) != EXIT_OK ? EXIT_ERROR :
		    layout_diff_count(&d) ? EXIT_DIFF : EXIT_OK;
	buf_release(&out);
	layout_diff_release(&d);
	suggestions_release(&sg);
	return r;
}

int
cmd_diff(const struct cli_cmd *cmd, const struct cli_args *args)
{
	const char *file = args->ops[0], *target = args->ops[1];
	struct layout have = LAYOUT_INIT, want = LAYOUT_INIT;
	struct ckerr err = CKERR_INIT;
	struct ckpt_root root;
	struct ckpt *ck;
	int r;

	(void)cmd;
	if (args->set[OPT_JSON] && args->set[OPT_SUGGEST])
		return cli_error(cmd->name, "--json and --suggest exclude each "
				 "other");
	ck = cli_open(file, args, &root);
	if (!ck)
		return EXIT_ERROR;
	r = layout_from_root(ck, &root, &have, &err) < 0 ? cli_fail(file, &err)
							 : EXIT_OK;
	ckpt_root_release(&root);
	ckpt_free(ck);
	if (r == EXIT_OK && cli_load_target(target, &want) < 0)
		r = EXIT_ERROR;
	if (r == EXIT_OK)
		r = cli_diff_report(file, target, &have, &want,
				    args->set[OPT_JSON] ? REPORT_JSON :
				    args->set[OPT_SUGGEST] ? REPORT_SCRIPT :
				    REPORT_TEXT);
	layout_release(&have);
	layout_release(&want);
	return r;
}
