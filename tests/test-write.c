/*
 * test-write: the atomic writer under failure.  write, fsync, rename,
 * renameat2 and copy_file_range are wrapped at link time; each test makes
 * one of them fail (ENOSPC, EIO, EACCES...) at some call and checks that
 * nothing the user had changes: the output does not appear (or keeps its
 * bytes), no temporary file is left beside it, the input is untouched.
 * Also: refusal to overwrite or to write over the input, and archives
 * written with zip64 fields everywhere, read back by our reader (which
 * cross-checks libzip) and, when torch is there, by torch.
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "ckpt.h"
#include "tzwriter.h"
#include "write.h"
#include "banned.h"

ssize_t __real_write(int fd, const void *buf, size_t n);
int __real_fsync(int fd);
int __real_rename(const char *a, const char *b);
int __real_renameat2(int da, const char *a, int db, const char *b,
		     unsigned flags);
ssize_t __real_copy_file_range(int in, loff_t *ino, int out, loff_t *outo,
			       size_t len, unsigned flags);
ssize_t __wrap_write(int fd, const void *buf, size_t n);
int __wrap_fsync(int fd);
int __wrap_rename(const char *a, const char *b);
int __wrap_renameat2(int da, const char *a, int db, const char *b,
		     unsigned flags);
ssize_t __wrap_copy_file_range(int in, loff_t *ino, int out, loff_t *outo,
			       size_t len, unsigned flags);

/* Test-only state: which call fails, at which occurrence, how. */
enum call { C_NONE, C_WRITE, C_FSYNC, C_RENAME, C_COPY };
static enum call fail_call;
static int fail_at, fail_errno, seen;

static int
failing(enum call c)
{
	if (c != fail_call)
		return 0;
	if (++seen < fail_at)
		return 0;
	errno = fail_errno;
	return 1;
}

ssize_t
__wrap_write(int fd, const void *buf, size_t n)
{
	return failing(C_WRITE) ? -1 : __real_write(fd, buf, n);
}

int
__wrap_fsync(int fd)
{
	return failing(C_FSYNC) ? -1 : __real_fsync(fd);
}

int
__wrap_rename(const char *a, const char *b)
{
	return failing(C_RENAME) ? -1 : __real_rename(a, b);
}

int
__wrap_renameat2(int da, const char *a, int db, const char *b, unsigned flags)
{
	return failing(C_RENAME) ? -1 : __real_renameat2(da, a, db, b, flags);
}

ssize_t
__wrap_copy_file_range(int in, loff_t *ino, int out, loff_t *outo, size_t len,
		       unsigned flags)
{
	return failing(C_COPY) ? -1 :
	       __real_copy_file_range(in, ino, out, outo, len, flags);
}

static char dir[2048], input[4096];

/* Bytes of a file (caller frees), NULL when it does not exist. */
static char *
slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *p;
	long n;

	if (!f)
		return NULL;
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	rewind(f);
	p = malloc((size_t)n + 1);
	assert_non_null(p);
	assert_int_equal(fread(p, 1, (size_t)n, f), (size_t)n);
	fclose(f);
	*len = (size_t)n;
	return p;
}

/* Files in dir other than the input copy and keep (NULL: none kept). */
static int
stray_files(const char *keep)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	int n = 0;

	assert_non_null(d);
	while ((de = readdir(d)))
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, "..") &&
		    strcmp(de->d_name, "in.ckpt") &&
		    (!keep || strcmp(de->d_name, keep)))
			n++;
	closedir(d);
	return n;
}

static void
path_in_dir(char *out, size_t n, const char *name)
{
	snprintf(out, n, "%s/%s", dir, name);
}

/* Write input (after a rename-worthy change when repickle) to out. */
static int
write_once(const char *out, bool force, bool repickle, unsigned zip_flags,
	   struct ckerr *err)
{
	struct write_opts o = { force, zip_flags };
	struct ckpt *ck = ckpt_open(input, err);
	int r;

	assert_non_null(ck);
	if (repickle)
		ckpt_mark_changed(ck);
	r = ckpt_write(ck, out, &o, err);
	ckpt_free(ck);
	return r;
}

struct failure {
	const char *name;
	enum call call;
	int at, err;
	bool repickle;
	const char *expect;	/* in the message */
};

static const struct failure failures[] = {
	{ "first write, disk full", C_WRITE, 1, ENOSPC, false,
	  "No space left on device" },
	{ "a later write, disk full", C_WRITE, 3, ENOSPC, true,
	  "No space left on device" },
	{ "copy of a storage, I/O error", C_COPY, 1, EIO, false,
	  "Input/output error" },
	{ "fsync fails", C_FSYNC, 1, EIO, true, "Input/output error" },
	{ "rename refused", C_RENAME, 1, EACCES, false, "Permission denied" },
};

static void
test_write__failures_leave_nothing(void **state)
{
	size_t i, before_len, after_len;
	char out[4096], *before = slurp(input, &before_len), *after;

	(void)state;
	path_in_dir(out, sizeof(out), "out.ckpt");
	for (i = 0; i < sizeof(failures) / sizeof(failures[0]); i++) {
		const struct failure *f = &failures[i];
		struct ckerr err = CKERR_INIT;

		fail_call = f->call;
		fail_at = f->at;
		fail_errno = f->err;
		seen = 0;
		if (write_once(out, false, f->repickle, 0, &err) == 0)
			fail_msg("%s: the write succeeded", f->name);
		fail_call = C_NONE;
		if (!strstr(err.msg, f->expect))
			fail_msg("%s: message '%s'", f->name, err.msg);
		assert_int_equal(access(out, F_OK), -1);
		if (stray_files(NULL))
			fail_msg("%s: a temporary file was left", f->name);
		after = slurp(input, &after_len);
		assert_int_equal(after_len, before_len);
		assert_memory_equal(after, before, before_len);
		free(after);
	}
	free(before);
}

/* A failure while replacing (--force) keeps the old output's bytes. */
static void
test_write__failed_replace_keeps_old_output(void **state)
{
	struct ckerr err = CKERR_INIT;
	char out[4096], *old, *now;
	size_t old_len, now_len;
	int fd;

	(void)state;
	path_in_dir(out, sizeof(out), "old.ckpt");
	fd = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	assert_true(fd >= 0);
	assert_int_equal(__real_write(fd, "precious", 8), 8);
	close(fd);
	old = slurp(out, &old_len);
	fail_call = C_WRITE;
	fail_at = 2;
	fail_errno = ENOSPC;
	seen = 0;
	assert_int_equal(write_once(out, true, true, 0, &err), -1);
	fail_call = C_NONE;
	now = slurp(out, &now_len);
	assert_int_equal(now_len, old_len);
	assert_memory_equal(now, old, old_len);
	assert_int_equal(stray_files("old.ckpt"), 0);
	unlink(out);
	free(old);
	free(now);
}

static void
test_write__refuses_existing_output_and_the_input(void **state)
{
	struct ckerr err = CKERR_INIT;
	char out[4096], link_path[4096], *data;
	size_t len;

	(void)state;
	path_in_dir(out, sizeof(out), "taken.ckpt");
	assert_int_equal(write_once(out, false, false, 0, &err), 0);
	data = slurp(out, &len);
	ckerr_clear(&err);
	assert_int_equal(write_once(out, false, true, 0, &err), -1);
	assert_string_equal(err.msg, "exists (use --force to replace it)");
	free(slurp(out, &len));
	/* --force replaces it */
	ckerr_clear(&err);
	assert_int_equal(write_once(out, true, true, 0, &err), 0);
	unlink(out);
	free(data);
	/* never the input, even with force, even under another name */
	ckerr_clear(&err);
	assert_int_equal(write_once(input, true, false, 0, &err), -1);
	assert_string_equal(err.msg, "this is the input file: write to "
			    "another file");
	path_in_dir(link_path, sizeof(link_path), "alias.ckpt");
	assert_int_equal(symlink(input, link_path), 0);
	ckerr_clear(&err);
	assert_int_equal(write_once(link_path, true, false, 0, &err), -1);
	assert_string_equal(err.msg, "this is the input file: write to "
			    "another file");
	unlink(link_path);
	assert_int_equal(stray_files(NULL), 0);
}

static void
test_write__output_directory_problems(void **state)
{
	struct ckerr err = CKERR_INIT;
	char out[4096];

	(void)state;
	path_in_dir(out, sizeof(out), "no/such/dir/out.ckpt");
	assert_int_equal(write_once(out, false, false, 0, &err), -1);
	assert_non_null(strstr(err.msg, "No such file or directory"));
	/* a file where a directory should be */
	path_in_dir(out, sizeof(out), "in.ckpt/out.ckpt");
	ckerr_clear(&err);
	assert_int_equal(write_once(out, false, false, 0, &err), -1);
	assert_non_null(strstr(err.msg, "Not a directory"));
	assert_int_equal(stray_files(NULL), 0);
}

/* Every record the input had, with the same bytes, in the output. */
static void
assert_same_records(const char *a_path, const char *b_path)
{
	struct ckerr err = CKERR_INIT;
	struct bsrc *a = bsrc_open_file(a_path, &err), *b;
	struct tzip *za, *zb;
	size_t i;

	b = bsrc_open_file(b_path, &err);
	assert_non_null(a);
	assert_non_null(b);
	za = tzip_open(a, &err);
	assert_non_null(za);
	zb = tzip_open(b, &err);
	if (!zb)
		fail_msg("reading back %s: %s", b_path, err.msg);
	for (i = 0; i < tzip_count(za); i++) {
		const struct tzip_entry *e = tzip_entry(za, i), *f;
		struct buf x = BUF_INIT, y = BUF_INIT;

		f = tzip_find(zb, e->rel);
		if (!f)
			fail_msg("record '%s' missing", e->rel);
		assert_int_equal(f->method, TZIP_STORED);
		assert_int_equal(tzip_read(za, e, &x, 0, TZIP_VIA_LIBZIP, &err), 0);
		assert_int_equal(tzip_read(zb, f, &y, 0, TZIP_VIA_LIBZIP, &err), 0);
		assert_int_equal(x.len, y.len);
		assert_memory_equal(x.data, y.data, x.len);
		buf_release(&x);
		buf_release(&y);
	}
	tzip_free(za);
	tzip_free(zb);
	bsrc_free(a);
	bsrc_free(b);
}

static void
test_write__zip64_everywhere_reads_back(void **state)
{
	struct ckerr err = CKERR_INIT;
	char out[4096], cmd[16384];
	const char *py = getenv("TORCH_PYTHON");
	int r;

	(void)state;
	path_in_dir(out, sizeof(out), "z64.ckpt");
	assert_int_equal(write_once(out, false, false, TZW_FORCE_ZIP64, &err), 0);
	assert_same_records(input, out);
	/* torch reads it too, and sees the same checkpoint */
	if (py && access(py, X_OK) == 0) {
		snprintf(cmd, sizeof(cmd), "%s -c 'import sys, torch; "
			 "a = torch.load(sys.argv[1]); b = torch.load(sys.argv[2]); "
			 "sa, sb = a[\"state_dict\"], b[\"state_dict\"]; "
			 "assert list(sa) == list(sb); "
			 "assert all(torch.equal(sa[k], sb[k]) for k in sa); "
			 "assert sa._metadata == sb._metadata' '%s' '%s' 2>&1",
			 py, input, out);
		r = system(cmd);
		if (r != 0 && getenv("CKS_REQUIRE_TORCH"))
			fail_msg("torch could not read the zip64 archive");
		if (r != 0)
			print_message("# torch check skipped or failed (%d)\n", r);
	}
	unlink(out);
}

static int
setup_dir(void **state)
{
	const char *demo = getenv("CKS_DEMO");
	size_t len;
	char *data;
	int fd;

	(void)state;
	snprintf(dir, sizeof(dir), "%s/cks-write-XXXXXX",
		 getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	if (!mkdtemp(dir))
		return -1;
	data = slurp(demo ? demo : "examples/demo.ckpt", &len);
	if (!data)
		return -1;
	path_in_dir(input, sizeof(input), "in.ckpt");
	fd = open(input, O_WRONLY | O_CREAT | O_EXCL, 0644);
	if (fd < 0 || __real_write(fd, data, len) != (ssize_t)len)
		return -1;
	close(fd);
	free(data);
	return 0;
}

static int
teardown_dir(void **state)
{
	(void)state;
	unlink(input);
	return rmdir(dir);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_write__failures_leave_nothing),
		cmocka_unit_test(test_write__failed_replace_keeps_old_output),
		cmocka_unit_test(test_write__refuses_existing_output_and_the_input),
		cmocka_unit_test(test_write__output_directory_problems),
		cmocka_unit_test(test_write__zip64_everywhere_reads_back),
	};

	return cmocka_run_group_tests_name("test_write", tests, setup_dir,
					   teardown_dir);
}
