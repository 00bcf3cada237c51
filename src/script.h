/*
 * script: the edit language of ckpt-surgeon-script(5), as data.
 *
 * A script is lines of edits, split at '\n'; a '\r' just before the line
 * end is dropped (CRLF files), and a UTF-8 byte order mark opening the
 * text is skipped.  '#' outside quotes starts a comment, anywhere on the
 * line (so a#b is the argument 'a').  Arguments are separated by blanks
 * (space, tab; nothing else is a blank) and may be quoted: in
 * 'single quotes' every character is literal; in "double quotes" a
 * backslash escapes only '"' and '\' and is otherwise literal; "" is the
 * empty argument; outside quotes a backslash is an ordinary character.
 * Quoted and unquoted pieces written together form one argument
 * (a"b c"d is the argument 'ab cd').  Quotes end on their line: an
 * argument cannot hold a newline.  A NUL byte anywhere is an error.
 *
 * An unquoted word starting with "--" is an option: "--dim 0" or
 * "--dim=0"; a quoted one ('--x', -"-x") is an argument.  The option's
 * name runs to the first unquoted '=' (--except="a=b" gives 'a=b'); in
 * the two-word form the value may not itself be an option.  Options may
 * come anywhere after the edit's name.  Which edits take which option is
 * read from the usage strings of EDIT_TABLE; --dim and --value may be
 * given once, --except and --also repeat.  --also KEY[:D] splits at its
 * last unquoted ':' when what follows is a (possibly negative) decimal
 * integer, else the whole word is the key: 'a:1' (quoted) is the key a:1.
 *
 * Integers: FROM TO AT INDEX are non-negative decimal int64 (leading
 * zeros allowed, no sign); --dim and the D of --also may have a '-'.
 * --value is kept as written and must be what Python's float() or int()
 * accepts without blanks or '_' ([+-] digits [. digits] [e[+-]digits],
 * inf, infinity, nan; any case) or true/false (any case).
 *
 * Every edit the TUI makes, every suggestion of diff and every line of a
 * script is a struct edit parsed here, and edit_print() turns one back
 * into its canonical line: parsing a printed edit gives an equal edit.
 *
 * Positions are 1-based line and column (in bytes) of where each part
 * starts, so the engine can report "script.cks:3:14: no key 'x'"; an
 * option's position is that of its value (after '=' in --opt=value).
 *
 * Errors: "NAME:LINE:COL: message" in the ckerr (NAME is the script name
 * given to the parser, COL the offending token), with code CKERR_USAGE
 * for every mistake in the text, CKERR_LIMIT for the limits below and
 * CKERR_NOMEM when memory runs out.  Only the first error is reported;
 * nothing is allocated on error and the output is left empty.
 */
#ifndef SCRIPT_H
#define SCRIPT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "ckerr.h"

/* X(ENUM, name, positional string args, positional integer args, usage) */
#define EDIT_TABLE(X) \
	X(RENAME, "rename", 2, 0, "rename OLD NEW") \
	X(RENAME_PREFIX, "rename-prefix", 2, 0, \
	  "rename-prefix OLD NEW [--except GLOB]...") \
	X(RENAME_REGEX, "rename-regex", 2, 0, "rename-regex REGEX REPLACEMENT") \
	X(DELETE, "delete", 1, 0, "delete GLOB") \
	X(MOVE_COLUMN, "move-column", 1, 2, \
	  "move-column KEY FROM TO [--dim D] [--also KEY[:D]]...") \
	X(INSERT_COLUMN, "insert-column", 1, 1, \
	  "insert-column KEY AT [--dim D] [--value X] [--also KEY[:D]]...") \
	X(DELETE_COLUMN, "delete-column", 1, 1, \
	  "delete-column KEY INDEX [--dim D] [--also KEY[:D]]...") \
	X(DROP, "drop", 1, 0, "drop PATH")

enum edit_op {
#define EDIT_ENUM(e, ...) EDIT_##e,
	EDIT_TABLE(EDIT_ENUM)
#undef EDIT_ENUM
	EDIT__COUNT
};

/* The default dimension of the column edits: the input features of a
 * Linear weight [out, in]. */
#define EDIT_DEFAULT_DIM 1

/* The longest line (bytes, without its line end) and the most edits a
 * script may hold; beyond them parsing fails with CKERR_LIMIT. */
#define SCRIPT_MAX_LINE ((size_t)1 << 20)
#define SCRIPT_MAX_EDITS 1000000

struct edit_pos {
	unsigned line, col;	/* 1-based; 0 when made by code, not parsed */
};

/* --also KEY[:D]: a linked tensor edited the same way. */
struct edit_also {
	char *key;
	bool dim_set;		/* false: the edit's own dim */
	int64_t dim;
	struct edit_pos pos;
};

struct edit {
	enum edit_op op;
	struct edit_pos pos;		/* of the edit's name */
	/*
	 * Positional strings: rename/rename-prefix OLD NEW, rename-regex
	 * REGEX REPLACEMENT, delete GLOB, column edits KEY, drop PATH
	 * (str[0]).
	 */
	char *str[2];
	struct edit_pos str_pos[2];
	/* Positional integers (>= 0): move-column FROM TO, insert-column AT,
	 * delete-column INDEX. */
	int64_t num[2];
	struct edit_pos num_pos[2];
	/* rename-prefix --except GLOB (repeatable, in order) */
	char **except;
	struct edit_pos *except_pos;
	size_t nexcept;
	/* column edits --dim D (may be negative: counted from the end) */
	bool dim_set;
	int64_t dim;
	struct edit_pos dim_pos;
	/* insert-column --value X, as written (a number, nan, inf, true,
	 * false); NULL when not given (the value is 0) */
	char *value;
	struct edit_pos value_pos;
	/* column edits --also KEY[:D] (repeatable, in order) */
	struct edit_also *also;
	size_t nalso;
};

struct script {
	char *name;		/* as given to script_parse, for messages */
	struct edit *edits;
	size_t n;
};

/*
 * The edit's name ("rename-prefix") and usage line, from the table
 * (static strings; "invalid" and "" for an op outside the table).
 */
const char *edit_name(enum edit_op op);
const char *edit_usage(enum edit_op op);

/*
 * Parse a whole script.  name is used in error messages (and copied to
 * out->name).  On success out holds the edits in order (blank and comment
 * lines produce none); the caller releases it with script_release().  On
 * error out is empty.
 */
int script_parse(const char *text, size_t len, const char *name,
		 struct script *out, struct ckerr *err);

/*
 * Parse one line (the TUI's ':' prompt) as line number lineno, by the
 * rules of a script's line (a final '\r' is dropped; a '\n' is an error).
 * Returns 1 with *out filled (the caller releases it with edit_release()),
 * 0 when the line is blank or a comment, -1 on error; *out is empty (all
 * zero) unless 1 is returned.
 */
int script_parse_line(const char *line, size_t len, const char *name,
		      unsigned lineno, struct edit *out, struct ckerr *err);

/* Free what the struct holds and leave it empty (all zero); safe to call
 * on an empty struct. */
void script_release(struct script *s);
void edit_release(struct edit *e);

/* Deep copy (positions included) into dst, which the caller releases;
 * -1 with CKERR_NOMEM (and dst empty) when memory runs out. */
int edit_copy(struct edit *dst, const struct edit *src, struct ckerr *err);

/*
 * Append the canonical line of an edit (no newline): the edit name, its
 * arguments quoted only when they must be (bare when possible, else in
 * single quotes, else in double quotes with '"' and '\' escaped), then the
 * options in a fixed order (--dim, --value, --except..., --also...), in
 * the two-word form ("--dim 0").  Only the fields the edit's op takes are
 * printed; integers in decimal.  An argument is bare when it is not
 * empty, does not start with "--" and holds no blank, quote, '#',
 * backslash or '\r'; an --also key without its own D is also quoted when
 * it ends in ':' and an integer, so that it is not split.
 *
 * Returns 0, or -1 with errno EINVAL (an argument holds a newline, which
 * no line can hold, or op is not in the table), ENOMEM or EOVERFLOW; out
 * is then unchanged.
 */
int edit_print(const struct edit *e, struct buf *out);

/*
 * Report a problem with an edit at pos: "NAME:LINE:COL: message" (NAME
 * "script" when name is NULL), or the bare message for an edit made by
 * code (pos.line 0).  Returns -1, for `return script_fail_at(...)`.
 */
int script_fail_at(struct ckerr *err, enum ckerr_code code, const char *name,
		   struct edit_pos pos, const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));

/* Quote one argument the way edit_print does (same errors). */
int script_quote(const char *arg, struct buf *out);

/* Equal edits: the same op and the same fields that op takes (a --dim,
 * --value or --also D not given is equal only to one not given);
 * positions are ignored. */
bool edit_equal(const struct edit *a, const struct edit *b);

#endif
