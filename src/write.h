/*
 * write: an open (possibly edited) checkpoint to a new torch zip file.
 *
 * Never in place: the archive is written to a hidden temporary file in
 * the output's directory (created with O_EXCL), flushed with fsync, and
 * renamed over the output; on any failure the temporary file is removed
 * and nothing the user had changes.  An existing output is replaced only
 * with force; the input itself can never be the output.  An output named
 * *.safetensors is refused (CKERR_UNSUPPORTED): the contract has that
 * extension select the safetensors format, which is not written yet.
 *
 * What is written: the records torch's writer writes (data.pkl, the
 * storages as data/<key>, version, and the torch 2.x records the input
 * had), in torch's order and layout (tzwriter), and any other record the
 * input carried.  When the graph is unchanged the pickle's bytes and
 * storage keys are kept as they were; otherwise the graph is pickled
 * anew, storages renumbered in order of first use and storages no tensor
 * uses any more dropped.  Storages are copied as raw bytes (stored ones in
 * the kernel, reusing their CRC; compressed ones inflated in pieces).
 */
#ifndef WRITE_H
#define WRITE_H

#include <stdbool.h>
#include <sys/stat.h>

#include "buf.h"
#include "ckerr.h"
#include "ckpt.h"

struct write_opts {
	bool force;		/* replace an existing output */
	unsigned zip_flags;	/* TZW_* (tests) */
};

int ckpt_write(struct ckpt *ck, const char *out, const struct write_opts *o,
	       struct ckerr *err);

/* How write_atomic() may create its output. */
struct atomic_opts {
	bool force;		/* replace an existing output */
	mode_t mode;		/* of the new file (the umask applies) */
	const struct stat *keep;	/* a file the output may never be */
	const char *keep_what;	/* what it is, for the message */
};

/*
 * Create the file out with what fill() writes to fd, atomically: a hidden
 * temporary file beside out (O_EXCL), flushed, renamed to out (never over
 * an existing file without force, never over keep, never over a
 * directory) and the rename made durable.  On any failure, fill's
 * included, the temporary file is removed and nothing else changes.
 */
int write_atomic(const char *out, const struct atomic_opts *o,
		 int (*fill)(int fd, void *ctx, struct ckerr *err), void *ctx,
		 struct ckerr *err);

/* write_atomic() of a buffer's bytes. */
int write_buf_atomic(const char *out, const struct buf *b,
		     const struct atomic_opts *o, struct ckerr *err);

/*
 * The folder name torch's writer gives an archive written to path: the
 * basename cut at its last '.', "archive" when that is empty or not ASCII.
 * Caller frees.
 */
char *write_folder_name(const char *path);

#endif
