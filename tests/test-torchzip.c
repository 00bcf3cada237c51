/*
 * test-torchzip: our central-directory reader against libzip, on every
 * fixture written by real torch.  For each record the bytes read at the
 * offset we computed (no libzip) must equal what libzip inflates and
 * CRC-checks, and records torch wrote must start 64-byte aligned.
 */
#include "config.h"

#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "bsrc.h"
#include "buf.h"
#include "torchzip.h"
#include "tap-skip.h"
#include "banned.h"

static const char *fixtures;

struct fixture {
	char path[4096];
};

/*
 * Did torch's writer make this record?  It pads every local header with
 * an extra field of id 0x4246 ("FB") so the data starts 64-byte aligned;
 * other zip writers (Python's zipfile in repacked fixtures) do not.
 */
static int
has_fb_padding(struct bsrc *src, const struct tzip_entry *e)
{
	struct ckerr err = CKERR_INIT;
	uint8_t hdr[30], extra[65536];
	size_t nl, xl, i;

	assert_int_equal(bsrc_pread(src, hdr, sizeof(hdr), e->lho, &err), 0);
	nl = hdr[26] | (size_t)hdr[27] << 8;
	xl = hdr[28] | (size_t)hdr[29] << 8;
	assert_int_equal(bsrc_pread(src, extra, xl, e->lho + 30 + nl, &err), 0);
	for (i = 0; i + 4 <= xl; i += 4 + (extra[i + 2] | (size_t)extra[i + 3] << 8))
		if (extra[i] == 0x46 && extra[i + 1] == 0x42)
			return 1;
	return 0;
}

static void
check_file(void **state)
{
	const struct fixture *fx = *state;
	struct ckerr err = CKERR_INIT;
	struct bsrc *src = bsrc_open_file(fx->path, &err);
	struct tzip *z;
	size_t i;

	assert_non_null(src);
	z = tzip_open(src, &err);
	if (!z)
		fail_msg("%s: %s", fx->path, err.msg);
	assert_true(tzip_count(z) > 0);
	assert_non_null(tzip_find(z, "data.pkl"));
	/* the folder is the first entry's, and every entry lives in it */
	assert_int_equal(strncmp(tzip_entry(z, 0)->name, tzip_prefix(z),
				 strlen(tzip_prefix(z))), 0);
	for (i = 0; i < tzip_count(z); i++) {
		const struct tzip_entry *e = tzip_entry(z, i);
		struct buf ours = BUF_INIT, lib = BUF_INIT;
		uint64_t off;

		assert_ptr_equal(tzip_find(z, e->rel), e);
		assert_int_equal(tzip_read(z, e, &ours, 0, TZIP_VIA_ANY, &err), 0);
		assert_int_equal(tzip_read(z, e, &lib, 0, TZIP_VIA_LIBZIP, &err),
				 0);
		assert_int_equal(ours.len, e->usize);
		assert_int_equal(lib.len, e->usize);
		assert_memory_equal(ours.data, lib.data, lib.len);
		if (e->method == TZIP_STORED) {
			struct tzip_data d;

			assert_int_equal(tzip_data_offset(z, e, &off, &err), 0);
			if (has_fb_padding(src, e))
				assert_int_equal(off % 64, 0);
			assert_int_equal(tzip_data_get(z, e, &d, &err), 0);
			assert_int_equal(d.len, e->usize);
			assert_memory_equal(d.data, lib.data, lib.len);
			tzip_data_release(&d);
		}
		buf_release(&ours);
		buf_release(&lib);
	}
	tzip_free(z);
	bsrc_free(src);
}

static int
is_checkpoint(const char *name)
{
	const char *dot = strrchr(name, '.');

	return dot && (!strcmp(dot, ".pt") || !strcmp(dot, ".ckpt") ||
		       !strcmp(dot, ".pth")) &&
	       strncmp(name, "unsupported", 11) != 0;
}

int
main(void)
{
	struct CMUnitTest *tests = NULL;
	struct fixture *fx = NULL;
	struct dirent *de;
	size_t n = 0, i;
	DIR *d;
	int r;

	fixtures = fixtures_or_skip();
	d = opendir(fixtures);
	if (!d) {
		printf("Bail out! cannot open %s\n", fixtures);
		return 1;
	}
	while ((de = readdir(d))) {
		if (!is_checkpoint(de->d_name))
			continue;
		tests = realloc(tests, (n + 1) * sizeof(*tests));
		fx = realloc(fx, (n + 1) * sizeof(*fx));
		assert_non_null(tests);
		assert_non_null(fx);
		snprintf(fx[n].path, sizeof(fx[n].path), "%s/%s", fixtures,
			 de->d_name);
		n++;
	}
	closedir(d);
	if (n == 0) {
		printf("Bail out! no fixtures in %s\n", fixtures);
		return 1;
	}
	for (i = 0; i < n; i++) {
		tests[i].name = strrchr(fx[i].path, '/') + 1;
		tests[i].test_func = check_file;
		tests[i].setup_func = NULL;
		tests[i].teardown_func = NULL;
		tests[i].initial_state = &fx[i];
	}
	r = _cmocka_run_group_tests("test_torchzip__fixtures", tests, n, NULL,
				    NULL);
	free(tests);
	free(fx);
	return r;
}
