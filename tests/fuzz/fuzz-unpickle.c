/*
 * fuzz-unpickle: libFuzzer target for the pickle VM with torch's hooks
 * (any bytes as data.pkl).  Built with --enable-fuzzing; the corpus in
 * tests/fuzz/corpus/unpickle is replayed by every 'make check'.
 */
#include "config.h"

#include <stddef.h>
#include <stdint.h>

#include "torchpkl.h"
#include "unpickle.h"
#include "banned.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ckerr err = CKERR_INIT;
	struct pyarena *a = pyarena_new(&err);
	struct torchpkl tp;
	struct unpickle_hooks hooks;

	if (!a)
		return 0;
	if (torchpkl_init(&tp, a, 5, &err) == 0) {
		hooks = torchpkl_hooks(&tp);
		(void)unpickle(a, data, size, &hooks, NULL, &err);
		torchpkl_release(&tp);
	}
	pyarena_free(a);
	return 0;
}
