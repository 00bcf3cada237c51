/* cmd-list: 'ls' and 'layout', the state dict's tensors one per line. */
#include "config.h"

#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "jsonv.h"
#include "torchpkl.h"
#include "banned.h"

/* Sum of the listed tensors' bytes and elements; -1 when it overflows. */
static int
totals(const struct ckpt_list *l, uint64_t *bytes, uint64_t *elems)
{
	size_t i;

	*bytes = *elems = 0;
	for (i = 0; i < l->n; i++) {
		const struct pv_tensor *t = l->v[i].tensor->u.tensor;

		if (tensor_nbytes(t) > UINT64_MAX - *bytes ||
		    t->numel > UINT64_MAX - *elems)
			return -1;
		*bytes += tensor_nbytes(t);
		*elems += t->numel;
	}
	return 0;
}

/* The listing a command asks for: the root's tensors, or all of them. */
static int
gather(struct ckpt *ck, const struct ckpt_root *root, bool all,
       struct ckpt_list *l, const char *file)
{
	struct ckerr err = CKERR_INIT;
	int r = all ? ckpt_list_all(ck, l, &err)
		    : ckpt_list_root(ck, root, l, &err);

	return r < 0 ? cli_fail(file, &err) : EXIT_OK;
}

static int
ls_json(const char *file, struct ckpt *ck, const struct ckpt_root *root,
	const struct ckpt_list *l, uint64_t total)
{
	struct jsonv *doc = jsonv_object(), *arr = jsonv_array();
	struct buf out = BUF_INIT;
	char *text;
	size_t i;
	int bad = 0, r;

	for (i = 0; i < l->n; i++) {
		const struct pv_tensor *t = l->v[i].tensor->u.tensor;
		struct jsonv *o = jsonv_object(), *shape = jsonv_array();
		int d;

		for (d = 0; d < t->ndim; d++)
			bad |= jsonv_push(shape, jsonv_int(t->shape[d]));
		bad |= jsonv_set(o, "key", jsonv_cstring(l->v[i].key));
		bad |= jsonv_set(o, "dtype", jsonv_cstring(dtype_name(t->dtype)));
		bad |= jsonv_set(o, "shape", shape);
		bad |= jsonv_set(o, "bytes", jsonv_uint(tensor_nbytes(t)));
		bad |= jsonv_push(arr, o);
	}
	bad |= jsonv_set(doc, "file", jsonv_cstring(file));
	bad |= jsonv_set(doc, "format",
			 jsonv_cstring(ckpt_format_name(ckpt_format(ck))));
	bad |= jsonv_set(doc, "root", jsonv_cstring(root->path));
	bad |= jsonv_set(doc, "count", jsonv_uint(l->n));
	bad |= jsonv_set(doc, "total_bytes", jsonv_uint(total));
	bad |= jsonv_set(doc, "tensors", arr);
	text = bad ? NULL : jsonv_dump(doc);
	jsonv_free(doc);
	if (!text)
		return cli_error(file, "out of memory");
	r = buf_addstr(&out, text) < 0 || buf_addch(&out, '\n') < 0 ?
	    cli_error(file, "out of memory") : cli_write(&out);
	free(text);
	buf_release(&out);
	return r;
}

static int
ls_text(const char *file, const struct ckpt_list *l, uint64_t total,
	uint64_t elems)
{
	struct buf out = BUF_INIT, *keys, *shapes;
	size_t i, wk = 0, wd = 0, ws = 0, wb = 0;
	int r = EXIT_OK, bad = 0;

	keys = calloc(l->n + 1, sizeof(*keys));
	shapes = calloc(l->n + 1, sizeof(*shapes));
	if (!keys || !shapes) {
		free(keys);
		free(shapes);
		return cli_error(file, "out of memory");
	}
	for (i = 0; i < l->n; i++) {
		const struct pv_tensor *t = l->v[i].tensor->u.tensor;
		char num[32];

		bad |= layout_add_key(&keys[i], l->v[i].key);
		bad |= layout_add_shape(&shapes[i], t->shape, t->ndim);
		if (keys[i].len > wk)
			wk = keys[i].len;
		if (strlen(dtype_name(t->dtype)) > wd)
			wd = strlen(dtype_name(t->dtype));
		if (shapes[i].len > ws)
			ws = shapes[i].len;
		snprintf(num, sizeof(num), "%" PRIu64, tensor_nbytes(t));
		if (strlen(num) > wb)
			wb = strlen(num);
	}
	for (i = 0; i < l->n; i++) {
		const struct pv_tensor *t = l->v[i].tensor->u.tensor;

		bad |= buf_addf(&out, "%-*s  %-*s  %-*s  %*" PRIu64 "\n",
				(int)wk, keys[i].data ? keys[i].data : "",
				(int)wd, dtype_name(t->dtype), (int)ws,
				shapes[i].data, (int)wb, tensor_nbytes(t));
		buf_release(&keys[i]);
		buf_release(&shapes[i]);
	}
	free(keys);
	free(shapes);
	bad |= buf_addf(&out, "total: %zu tensors, %" PRIu64 " elements, %"
			PRIu64 " bytes", l->n, elems, total);
	bad |= cli_add_human(&out, total);
	bad |= buf_addch(&out, '\n');
	r = bad ? cli_error(file, "out of memory") : cli_write(&out);
	buf_release(&out);
	return r;
}

int
cmd_ls(const struct cli_cmd *cmd, const struct cli_args *args)
{
	const char *file = args->ops[0];
	struct ckpt_root root;
	struct ckpt_list l = CKPT_LIST_INIT;
	uint64_t total, elems;
	struct ckpt *ck;
	int r;

	(void)cmd;
	ck = cli_open(file, args, &root);
	if (!ck)
		return EXIT_ERROR;
	r = gather(ck, &root, args->set[OPT_ALL], &l, file);
	if (r == EXIT_OK && totals(&l, &total, &elems) < 0)
		r = cli_error(file, "the listed tensors hold more than 2^64 "
			      "bytes in all");
	if (r == EXIT_OK)
		r = args->set[OPT_JSON] ? ls_json(file, ck, &root, &l, total)
					: ls_text(file, &l, total, elems);
	ckpt_list_release(&l);
	ckpt_root_release(&root);
	ckpt_free(ck);
	return r;
}

int
cmd_layout(const struct cli_cmd *cmd, const struct cli_args *args)
{
	const char *file = args->ops[0];
	struct ckpt_root root;
	struct layout l = LAYOUT_INIT;
	struct ckerr err = CKERR_INIT;
	struct buf out = BUF_INIT;
	struct ckpt *ck;
	size_t i;
	int r, bad = 0;

	(void)cmd;
	ck = cli_open(file, args, &root);
	if (!ck)
		return EXIT_ERROR;
	r = layout_from_root(ck, &root, &l, &err) < 0 ? cli_fail(file, &err)
						      : EXIT_OK;
	for (i = 0; r == EXIT_OK && i < l.n; i++)
		bad |= layout_print_entry(&l.v[i], &out);
	if (r == EXIT_OK)
		r = bad ? cli_error(file, "out of memory") : cli_write(&out);
	buf_release(&out);
	layout_release(&l);
	ckpt_root_release(&root);
	ckpt_free(ck);
	return r;
}
