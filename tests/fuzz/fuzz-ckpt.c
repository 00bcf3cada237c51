/*
 * fuzz-ckpt: libFuzzer target for a whole checkpoint in memory: the zip
 * container, the pickle, the state-dict walk and every tensor's
 * statistics and values.  The corpus in tests/fuzz/corpus/ckpt is
 * replayed by every 'make check'.
 */
#include "config.h"

#include <stddef.h>
#include <stdint.h>

#include "ckpt.h"
#include "banned.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ckerr err = CKERR_INIT;
	struct ckpt *ck = ckpt_open_memory(data, size, &err);
	struct ckpt_root root = { NULL, NULL };
	struct ckpt_list l = CKPT_LIST_INIT;
	size_t i;

	if (!ck)
		return 0;
	if (ckpt_find_root(ck, NULL, &root, &err) == 0 &&
	    ckpt_list_all(ck, &l, &err) == 0) {
		for (i = 0; i < l.n; i++) {
			struct tstats st;
			struct tval v[8];

			ckerr_clear(&err);
			(void)ckpt_tensor_stats(ck, l.v[i].tensor->u.tensor,
						&st, &err);
			ckerr_clear(&err);
			(void)ckpt_tensor_values(ck, l.v[i].tensor->u.tensor,
						 v, 8, &err);
		}
	}
	ckpt_list_release(&l);
	ckpt_root_release(&root);
	ckpt_free(ck);
	return 0;
}
