/*
 * fuzz-script: libFuzzer target for the script language and the edit
 * engine.  Any bytes are parsed as a script; then, as invariants that
 * abort when broken:
 *   - every parsed edit printed and parsed again is an equal edit;
 *   - export writes the script as Python, or refuses it with a message
 *     (never a crash, and its output is untouched then);
 *   - on the demo checkpoint (CKS_FUZZ_CKPT, default the one in the source
 *     tree), the edits that apply are applied one by one and undone in
 *     reverse, after which every tensor path, dtype, shape and its first
 *     values are what they were.
 * The corpus in tests/fuzz/corpus/script is replayed by every 'make check'.
 */
#include "config.h"

#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "ckpt.h"
#include "edit.h"
#include "export.h"
#include "script.h"
#include "banned.h"

#ifndef CKS_FUZZ_DEMO
#define CKS_FUZZ_DEMO "examples/demo.ckpt"
#endif

/* Edits applied per input: enough for interplay, bounded for speed. */
#define MAX_APPLIED 16
#define NVALUES 8

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void __attribute__((noreturn))
die(const char *what, const char *detail)
{
	fprintf(stderr, "fuzz-script: invariant broken: %s%s%s\n", what,
		detail ? ": " : "", detail ? detail : "");
	abort();
}

/* The demo checkpoint's bytes, read once. */
static const uint8_t *
demo(size_t *len)
{
	static uint8_t *bytes;
	static size_t n;
	const char *path;
	FILE *f;
	long sz;

	if (bytes) {
		*len = n;
		return bytes;
	}
	path = getenv("CKS_FUZZ_CKPT");
	if (!path)
		path = CKS_FUZZ_DEMO;
	f = fopen(path, "rb");
	if (!f || fseek(f, 0, SEEK_END) < 0 || (sz = ftell(f)) <= 0)
		die("cannot read the checkpoint", path);
	rewind(f);
	bytes = malloc((size_t)sz);
	if (!bytes || fread(bytes, 1, (size_t)sz, f) != (size_t)sz)
		die("cannot read the checkpoint", path);
	fclose(f);
	n = (size_t)sz;
	*len = n;
	return bytes;
}

/* Every tensor's path, dtype, shape and first values, as text. */
static char *
fingerprint(struct ckpt *ck)
{
	struct ckerr err = CKERR_INIT;
	struct ckpt_list l = CKPT_LIST_INIT;
	struct buf b = BUF_INIT;
	size_t i, k;
	int d;

	if (ckpt_list_all(ck, &l, &err) < 0)
		die("listing failed", err.msg);
	for (i = 0; i < l.n; i++) {
		const struct pv_tensor *t = l.v[i].tensor->u.tensor;
		struct tval v[NVALUES];
		ptrdiff_t got;

		buf_addf(&b, "%s %d [", l.v[i].key, (int)t->dtype);
		for (d = 0; d < t->ndim; d++)
			buf_addf(&b, "%lld,", (long long)t->shape[d]);
		buf_addstr(&b, "]");
		memset(v, 0, sizeof(v));
		got = ckpt_tensor_values(ck, t, v, NVALUES, &err);
		if (got < 0) {
			buf_addf(&b, " (%s)", err.msg);
			ckerr_clear(&err);
		}
		for (k = 0; got > 0 && k < (size_t)got; k++)
			buf_addf(&b, " %d:%a:%a:%lld:%llu", (int)v[k].kind,
				   v[k].re, v[k].im, (long long)v[k].i,
				   (unsigned long long)v[k].u);
		buf_addch(&b, '\n');
	}
	ckpt_list_release(&l);
	return buf_detach(&b, NULL);
}

static void
roundtrip(const struct edit *e)
{
	struct ckerr err = CKERR_INIT;
	struct buf line = BUF_INIT;
	struct edit again;

	if (edit_print(e, &line) < 0) {
		if (errno == EINVAL)	/* an argument holds a newline */
			return;
		die("edit_print failed", NULL);
	}
	if (script_parse_line(line.data, line.len, "rt", 1, &again, &err) != 1)
		die("a printed edit does not parse", err.msg);
	if (!edit_equal(e, &again))
		die("a printed edit parses to another edit", line.data);
	edit_release(&again);
	buf_release(&line);
}

static void
export_once(const struct script *s)
{
	struct ckerr err = CKERR_INIT;
	struct buf out = BUF_INIT;

	if (export_python(s, NULL, "fuzz", &out, &err) == 0) {
		if (!out.len)
			die("export wrote nothing", NULL);
	} else if (out.len) {
		die("a failed export left output", err.msg);
	} else if (!err.msg[0]) {
		die("a failed export gave no message", NULL);
	}
	buf_release(&out);
}

static void
apply_and_undo(const struct script *s)
{
	struct ckerr err = CKERR_INIT;
	struct edit_undo *undo[MAX_APPLIED];
	struct ckpt_root root = { NULL, NULL };
	struct ckpt *ck;
	size_t len, i, n = 0;
	const uint8_t *bytes = demo(&len);
	char *before, *after;

	ck = ckpt_open_memory(bytes, len, &err);
	if (!ck || ckpt_find_root(ck, NULL, &root, &err) < 0)
		die("cannot open the checkpoint", err.msg);
	before = fingerprint(ck);
	for (i = 0; i < s->n && n < MAX_APPLIED; i++) {
		ckerr_clear(&err);
		undo[n] = NULL;
		if (edit_apply_one(ck, &root, &s->edits[i], "f.cks", NULL,
				   &undo[n], &err) == 0)
			n++;
	}
	while (n-- > 0) {
		if (edit_undo_apply(ck, undo[n], &err) < 0)
			die("undo failed", err.msg);
		edit_undo_free(undo[n]);
	}
	after = fingerprint(ck);
	if (strcmp(before, after))
		die("undo did not restore the checkpoint", NULL);
	free(before);
	free(after);
	ckpt_root_release(&root);
	ckpt_free(ck);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ckerr err = CKERR_INIT;
	struct script s;
	size_t i;

	if (script_parse((const char *)data, size, "f.cks", &s, &err) < 0)
		return 0;
	for (i = 0; i < s.n; i++)
		roundtrip(&s.edits[i]);
	export_once(&s);
	apply_and_undo(&s);
	script_release(&s);
	return 0;
}
