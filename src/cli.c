/* cli: helpers shared by the commands. */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "script.h"
#include "banned.h"

const struct cli_opt cli_opts[OPT__COUNT] = {
	[OPT_JSON] = { "json", 0, NULL, "print one JSON object" },
	[OPT_ALL] = { "all", 0, NULL,
		      "list every tensor in the file, keyed by full dotted path" },
	[OPT_ROOT] = { "root", 0, "PATH",
		       "use the mapping at dotted PATH as the state dict" },
	[OPT_VALUES] = { "values", 0, "N",
			 "preview the first N values (default 10)" },
	[OPT_OUTPUT] = { "output", 'o', "OUT",
			 "write the result to OUT (atomically)" },
	[OPT_DRY_RUN] = { "dry-run", 0, NULL,
			  "print what each edit would change, write nothing" },
	[OPT_FORCE] = { "force", 0, NULL, "replace OUT when it exists" },
	[OPT_TARGET] = { "target", 0, "TARGET",
			 "then print the result's diff against TARGET" },
	[OPT_SUGGEST] = { "suggest", 0, NULL,
			  "print only the suggested edits, as a script" },
	[OPT_SCRIPT] = { "script", 0, "SCRIPT",
			 "replay SCRIPT first (its edits can be undone)" },
};

int
cli_error(const char *where, const char *fmt, ...)
{
	struct buf line = BUF_INIT, out = BUF_INIT;
	const unsigned char *p;
	va_list ap;
	int bad;

	fflush(stdout);
	bad = buf_addf(&line, "%s: ", PROGRAM);
	if (where)
		bad |= buf_addf(&line, "%s: ", where);
	va_start(ap, fmt);
	bad |= buf_vaddf(&line, fmt, ap);
	va_end(ap);
	/*
	 * One problem, one line: names quoted from the file may hold
	 * newlines or terminal escapes, so control characters are escaped.
	 */
	for (p = (const unsigned char *)line.data; !bad && p && *p; p++) {
		if (*p == '\n')
			bad |= buf_addstr(&out, "\\n");
		else if (*p == '\t')
			bad |= buf_addstr(&out, "\\t");
		else if (*p < 0x20 || *p == 0x7f)
			bad |= buf_addf(&out, "\\x%02x", *p);
		else
			bad |= buf_addch(&out, *p);
	}
	if (bad)
		fprintf(stderr, "%s: out of memory\n", PROGRAM);
	else
		fprintf(stderr, "%s\n", out.data);
	buf_release(&line);
	buf_release(&out);
	return EXIT_ERROR;
}

int
cli_fail(const char *file, const struct ckerr *err)
{
	return cli_error(file, "%s", err->msg[0] ? err->msg : "unknown error");
}

struct ckpt *
cli_open(const char *file, const struct cli_args *args,
	 struct ckpt_root *root)
{
	struct ckerr err = CKERR_INIT;
	struct ckpt *ck = ckpt_open(file, &err);

	if (!ck) {
		cli_fail(file, &err);
		return NULL;
	}
	if (ckpt_find_root(ck, args->set[OPT_ROOT] ? args->val[OPT_ROOT] : NULL,
			   root, &err) < 0) {
		cli_fail(file, &err);
		ckpt_root_release(root);
		ckpt_free(ck);
		return NULL;
	}
	return ck;
}

int
cli_add_human(struct buf *out, uint64_t bytes)
{
	static const char *const units[] = { "KiB", "MiB", "GiB", "TiB",
					     "PiB", "EiB" };
	double v = (double)bytes;
	int u = -1;

	while (v >= 1024 && u < 5) {
		v /= 1024;
		u++;
	}
	if (u < 0)
		return 0;
	return buf_addf(out, " (%.1f %s)", v, units[u]);
}

int
cli_write(const struct buf *b)
{
	if (b->len && fwrite(b->data, 1, b->len, stdout) != b->len)
		return cli_error(NULL, "cannot write output: %s",
				 strerror(errno));
	return EXIT_OK;
}

/* Scripts are text people write: far below this. */
#define SCRIPT_MAX_BYTES ((size_t)64 << 20)

/* Read a whole file of at most cap bytes; reports and returns -1 on
 * failure. */
static int
read_text(const char *path, size_t cap, const char *what, struct buf *text)
{
	char chunk[65536];
	FILE *f = fopen(path, "rb");
	size_t n;

	if (!f)
		return cli_error(path, "cannot open: %s", strerror(errno)), -1;
	buf_init(text, cap);
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
		if (buf_add(text, chunk, n) < 0) {
			fclose(f);
			buf_release(text);
			if (errno == ENOMEM)
				return cli_error(path, "out of memory"), -1;
			return cli_error(path, "%s larger than %zu MiB", what,
					 cap >> 20), -1;
		}
	if (ferror(f)) {
		fclose(f);
		buf_release(text);
		return cli_error(path, "cannot read: %s", strerror(errno)), -1;
	}
	fclose(f);
	return 0;
}

int
cli_load_script(const char *path, struct script *s)
{
	struct ckerr err = CKERR_INIT;
	struct buf text = BUF_INIT;
	int r;

	if (read_text(path, SCRIPT_MAX_BYTES, "script", &text) < 0)
		return -1;
	r = script_parse(text.data ? text.data : "", text.len, path, s, &err);
	buf_release(&text);
	if (r < 0)
		return cli_error(NULL, "%s", err.msg), -1;
	return 0;
}

int
cli_load_target(const char *path, struct layout *out)
{
	struct ckerr err = CKERR_INIT;

	if (layout_load(path, out, &err) < 0)
		return cli_error(NULL, "%s", err.msg), -1;
	return 0;
}
