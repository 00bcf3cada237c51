/*
 * cli: the command line's shared pieces (not part of the library).
 *
 * Commands are entries of one table (main.c): name, operands, options,
 * summary and the function that runs them.  The table drives option
 * parsing, usage errors and help, so they cannot drift apart.  Options are
 * declared once in cli_opts[] and each command lists the ones it takes.
 *
 * Exit codes (cli-contract.md): 0 success, 1 a difference found, 2 usage
 * error or bad input.  Errors print one line each to stderr:
 * "ckpt-surgeon: <file>: <message>".
 */
#ifndef CLI_H
#define CLI_H

#include <stdbool.h>
#include <stdint.h>

#include "buf.h"
#include "ckerr.h"
#include "ckpt.h"
#include "layout.h"

#define PROGRAM "ckpt-surgeon"

enum { EXIT_OK = 0, EXIT_DIFF = 1, EXIT_ERROR = 2 };

enum cli_opt_id {
	OPT_JSON,
	OPT_ALL,
	OPT_ROOT,
	OPT_VALUES,
	OPT_OUTPUT,
	OPT_DRY_RUN,
	OPT_FORCE,
	OPT_TARGET,
	OPT_SUGGEST,
	OPT_SCRIPT,
	OPT__COUNT
};

struct cli_opt {
	const char *name;	/* long name, without "--" */
	char short_name;	/* one-letter form, or 0 */
	const char *arg;	/* argument name, NULL for a flag */
	const char *help;
};

extern const struct cli_opt cli_opts[OPT__COUNT];

#define CLI_MAX_OPERANDS 4

/* What the parser hands a command. */
struct cli_args {
	int nops;
	const char *ops[CLI_MAX_OPERANDS];
	bool set[OPT__COUNT];
	const char *val[OPT__COUNT];
};

struct cli_cmd {
	const char *name;
	const char *operands;	/* for usage: "FILE KEY" */
	int min_ops, max_ops;
	unsigned opts;		/* bit (1u << OPT_x) per accepted option */
	const char *summary;
	const char *description;/* a few lines for 'help COMMAND' */
	int (*exec)(const struct cli_cmd *cmd, const struct cli_args *args);
};

/* Command implementations. */
int cmd_ls(const struct cli_cmd *cmd, const struct cli_args *args);
int cmd_layout(const struct cli_cmd *cmd, const struct cli_args *args);
int cmd_show(const struct cli_cmd *cmd, const struct cli_args *args);
int cmd_diff(const struct cli_cmd *cmd, const struct cli_args *args);
int cmd_tui(const struct cli_cmd *cmd, const struct cli_args *args);
int cmd_apply(const struct cli_cmd *cmd, const struct cli_args *args);
int cmd_export(const struct cli_cmd *cmd, const struct cli_args *args);

/*
 * Print "ckpt-surgeon: WHERE: message" to stderr as one line (control
 * characters escaped as \n, \t, \xNN); returns EXIT_ERROR.
 */
int cli_error(const char *where, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Report a library error about FILE; returns EXIT_ERROR. */
int cli_fail(const char *file, const struct ckerr *err);

/*
 * Open FILE and find its state dict (root override from --root).  On
 * failure prints the error and returns NULL.
 */
struct ckpt *cli_open(const char *file, const struct cli_args *args,
		      struct ckpt_root *root);

/* Append " (1.5 MiB)" for sizes of at least 1 KiB, nothing below. */
int cli_add_human(struct buf *out, uint64_t bytes);

struct script;

/*
 * Read and parse the script at path (at most 64 MiB); on failure prints
 * the error (with SCRIPT:LINE:COL) and returns -1.
 */
int cli_load_script(const char *path, struct script *s);

/*
 * Load TARGET's layout: a checkpoint (its state dict, found as for FILE
 * without --root) or a layout file, told apart by their first bytes.
 * On failure prints the error and returns -1.
 */
int cli_load_target(const char *path, struct layout *out);

enum cli_report { REPORT_TEXT, REPORT_JSON, REPORT_SCRIPT };

/*
 * Print the diff of have (FILE's layout) against want (TARGET's) with
 * its suggestions: as text, as diff --json, or (REPORT_SCRIPT) only the
 * suggested edits as a script.  Returns EXIT_OK when they match,
 * EXIT_DIFF when they differ, EXIT_ERROR after reporting a failure.
 */
int cli_diff_report(const char *file, const char *target,
		    struct layout *have, struct layout *want,
		    enum cli_report how);

/* Write a buffer to stdout; returns EXIT_ERROR after reporting a failure. */
int cli_write(const struct buf *b);

#endif
