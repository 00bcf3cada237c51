/*
 * replay: runs a fuzz target over corpus files without libFuzzer, so
 * every 'make check' exercises the corpus (as sqlite's fuzzcheck does).
 * Usage: replay-X FILE_OR_DIR...  Prints TAP, one line per input.  Each
 * input runs in-process; a crash or sanitizer report fails the test.
 */
#include "config.h"

#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "banned.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int
read_file(const char *path, uint8_t **data, size_t *len)
{
	FILE *f = fopen(path, "rb");
	long n;

	if (!f)
		return -1;
	if (fseek(f, 0, SEEK_END) < 0 || (n = ftell(f)) < 0) {
		fclose(f);
		return -1;
	}
	rewind(f);
	*data = malloc(n ? (size_t)n : 1);
	if (!*data || fread(*data, 1, (size_t)n, f) != (size_t)n) {
		free(*data);
		fclose(f);
		return -1;
	}
	fclose(f);
	*len = (size_t)n;
	return 0;
}

static int
cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int
main(int argc, char **argv)
{
	char **files = NULL;
	size_t n = 0, i;
	int k, failed = 0;

	for (k = 1; k < argc; k++) {
		struct stat st;
		DIR *d;
		struct dirent *de;

		if (stat(argv[k], &st) < 0) {
			printf("Bail out! cannot stat %s\n", argv[k]);
			return 1;
		}
		if (!S_ISDIR(st.st_mode)) {
			files = realloc(files, (n + 1) * sizeof(*files));
			files[n++] = strdup(argv[k]);
			continue;
		}
		d = opendir(argv[k]);
		while (d && (de = readdir(d))) {
			char path[4096];

			if (de->d_name[0] == '.')
				continue;
			snprintf(path, sizeof(path), "%s/%s", argv[k], de->d_name);
			files = realloc(files, (n + 1) * sizeof(*files));
			files[n++] = strdup(path);
		}
		if (d)
			closedir(d);
	}
	qsort(files, n, sizeof(*files), cmp_str);
	printf("1..%zu\n", n);
	for (i = 0; i < n; i++) {
		uint8_t *data;
		size_t len;

		fflush(stdout);
		if (read_file(files[i], &data, &len) < 0) {
			printf("not ok %zu - %s (unreadable)\n", i + 1, files[i]);
			failed = 1;
		} else {
			LLVMFuzzerTestOneInput(data, len);
			free(data);
			printf("ok %zu - %s\n", i + 1, files[i]);
		}
		free(files[i]);
	}
	free(files);
	return failed;
}
