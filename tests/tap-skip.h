/*
 * tap-skip.h: the torch-fixture policy shared by the C tests.
 *
 * Fixtures come from real torch (tests/torch/fixtures.py).  When torch is
 * missing the tests that need them say SKIP loudly, except in CI
 * (CKS_REQUIRE_TORCH=1), where a missing torch is a failure.
 */
#ifndef TAP_SKIP_H
#define TAP_SKIP_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/*
 * Return the fixtures directory, or exit after printing the TAP plan
 * that skips (or bails out in CI) when fixtures are unavailable.
 */
static inline const char *
fixtures_or_skip(void)
{
	const char *dir = getenv("CKS_FIXTURES");
	const char *ci = getenv("CKS_REQUIRE_TORCH");
	char marker[4096];
	FILE *f;

	if (dir) {
		snprintf(marker, sizeof(marker), "%s/NO_TORCH", dir);
		f = fopen(marker, "r");
		if (!f) {
			snprintf(marker, sizeof(marker), "%s/.stamp", dir);
			f = fopen(marker, "r");
			if (f) {
				fclose(f);
				return dir;
			}
		} else {
			fclose(f);
		}
	}
	if (ci && !strcmp(ci, "1")) {
		printf("Bail out! torch fixtures are required (install "
		       "python3-torch)\n");
		exit(1);
	}
	fprintf(stderr, "\n*** SKIP: these tests need the torch fixtures "
		"(python3-torch for /usr/bin/python3) ***\n\n");
	printf("1..0 # SKIP torch fixtures not available\n");
	exit(0);
}

#endif
