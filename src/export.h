/*
 * export: a script of edits as a standalone Python migration program.
 *
 * The program needs only torch (1.13 or 2.x) and does what `apply` does:
 * run as `python3 OUT.py IN OUT` it loads IN, applies the edits and saves
 * a checkpoint whose torch.load() equals what apply writes; imported, its
 * migrate(checkpoint) changes an already loaded checkpoint dict in place
 * (a Lightning on_load_checkpoint hook, a registry of migrations).  Each
 * edit is one call in migrate(), under a comment holding the edit's
 * script line; the helpers the calls need follow (only those), each with
 * a docstring, in plain Python a person can maintain.
 *
 * Problems that do not depend on a checkpoint are reported at export
 * time, with the message apply would print ("SCRIPT:LINE:COL: invalid
 * regex ..."): a regex that does not compile, a replacement naming a
 * group the regex lacks.  Two more are export's own: an argument that is
 * not UTF-8 text (Python keys are text), and a regex the exporter cannot
 * translate to Python's syntax (an unmatched ')').  Everything else
 * (missing keys, collisions, indices out of range, values that do not
 * fit) is checked by the generated program, which raises an exception
 * naming the script line.  The program does what the engine does
 * (edit.c, column.c, optim.c), down to its messages: the optimizer
 * correspondence decided once, before the first edit, per key; what drop
 * refuses; the journal that makes a failing script change nothing.
 *
 * Regular expressions: rename-regex is POSIX extended syntax, matched by
 * the C library against each whole key's bytes.  The exporter translates
 * it to Python's re syntax with the same meaning (bracket expressions and
 * their [:classes:], escapes, anchors, stacked quantifiers, the GNU
 * extensions \w \s \b \< \> \` \') and the program matches it with
 * re.fullmatch on the key's UTF-8 bytes.
 */
#ifndef EXPORT_H
#define EXPORT_H

#include "buf.h"
#include "ckerr.h"
#include "script.h"

/*
 * Append the whole Python program for s (borrowed) to out.
 * root_override is the dotted path of the state dict (--root; "" is the
 * top level) baked into the program, or NULL for the contract's
 * detection; tool_version goes into the program's docstring.
 *
 * Returns 0, or -1 with err set; out is then unchanged.  A problem of
 * the script is "NAME:LINE:COL: ..." (NAME: s->name): CKERR_USAGE for
 * those apply reports too, with its message; CKERR_UNSUPPORTED for what
 * only export refuses.  CKERR_NOMEM when memory runs out.
 */
int export_python(const struct script *s, const char *root_override,
		  const char *tool_version, struct buf *out,
		  struct ckerr *err);

/*
 * Append the Python re pattern (its text, to be compiled as bytes with
 * re.DOTALL and matched with fullmatch) equivalent to the POSIX extended
 * regex ere as ckpt-surgeon's rename-regex compiles it, i.e. wrapped as
 * "^(" ERE ")$".  ere must have compiled that way; the capturing groups
 * keep their numbers (a back reference \N names the engine's group N, the
 * script's group N - 1, as the wrapping makes it).  Returns 0, or -1
 * with a CKERR_UNSUPPORTED message saying what cannot be translated
 * (CKERR_NOMEM); out is then unchanged.
 */
int export_regex(const char *ere, struct buf *out, struct ckerr *err);

#endif
