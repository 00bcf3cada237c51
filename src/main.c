/* main: the command table, option parsing, help and dispatch. */
#include "config.h"

#include <getopt.h>
#include <unistd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "ui.h"
#include "banned.h"

#define O(x) (1u << (x))

static const struct cli_cmd commands[] = {
	{ "tui", "FILE", 1, 1, O(OPT_TARGET) | O(OPT_SCRIPT) | O(OPT_ROOT),
	  "the interactive UI (also: ckpt-surgeon FILE)",
	  "Browse the checkpoint as a tree, edit it (every edit a script line,\n"
	  "with undo), compare it with a target and apply the suggested\n"
	  "fixes, then write the checkpoint and save the edits as a script or\n"
	  "a Python program.  Press ? inside for the keys.",
	  cmd_tui },
	{ "ls", "FILE", 1, 1, O(OPT_JSON) | O(OPT_ALL) | O(OPT_ROOT),
	  "list the state dict's tensors: key, dtype, shape, bytes",
	  "Lists the tensors of the state dict in file order, then a total\n"
	  "line.  Reads only the pickle, never tensor bytes.",
	  cmd_ls },
	{ "layout", "FILE", 1, 1, O(OPT_ROOT),
	  "print the state dict's layout file: KEY DTYPE [d0, d1, ...]",
	  "One tensor a line, in the layout-file format other commands read.",
	  cmd_layout },
	{ "show", "FILE KEY", 2, 2, O(OPT_JSON) | O(OPT_ROOT) | O(OPT_VALUES),
	  "one tensor in detail: strides, storage, sharing, statistics, values",
	  "KEY is a key of the state dict, or a full dotted path from the top\n"
	  "of the file (e.g. optimizer_states.0.state.0.exp_avg).  min, max,\n"
	  "mean and std (unbiased) cover the finite values; nan and inf are\n"
	  "counted; quantized tensors are dequantized.",
	  cmd_show },
	{ "diff", "FILE TARGET", 2, 2, O(OPT_JSON) | O(OPT_ROOT) | O(OPT_SUGGEST),
	  "compare the state dict with a target layout; suggest the fixes",
	  "TARGET is a checkpoint or a layout file (what 'layout' prints, or\n"
	  "Python's print(k, v.dtype, v.shape) lines).  Reports missing keys\n"
	  "(in TARGET only), unexpected keys (in FILE only) and mismatched ones\n"
	  "(another dtype or shape), then the script lines that fix them, in\n"
	  "the order to apply them.  Exit status 0 when the layouts match,\n"
	  "1 when they differ.",
	  cmd_diff },
	{ "apply", "SCRIPT FILE", 2, 2,
	  O(OPT_OUTPUT) | O(OPT_DRY_RUN) | O(OPT_FORCE) | O(OPT_ROOT) |
	  O(OPT_TARGET),
	  "replay a script of edits on FILE and write the result to OUT",
	  "The whole script is checked against FILE first; a failing edit\n"
	  "aborts with SCRIPT:LINE:COL and nothing is written.  The result is\n"
	  "written to a temporary file beside OUT, flushed, then renamed.\n"
	  "Everything the edits do not touch is carried over unchanged.\n"
	  "With --target, the result's remaining diff against TARGET is\n"
	  "printed, and the exit status is 1 when it is not empty.\n"
	  "See ckpt-surgeon-script(5) for the edits.",
	  cmd_apply },
	{ "export", "SCRIPT", 1, 1, O(OPT_OUTPUT) | O(OPT_FORCE) | O(OPT_ROOT),
	  "write SCRIPT as a standalone Python migration program",
	  "The program needs only torch (1.13 or 2.x).  Run as\n"
	  "'python3 OUT IN NEW' it loads IN, makes the edits and saves NEW;\n"
	  "its migrate(checkpoint) makes them on a loaded checkpoint (for a\n"
	  "Lightning on_load_checkpoint hook).  The result equals what apply\n"
	  "writes.  Without -o the program goes to standard output; with -o\n"
	  "it is written atomically, never over SCRIPT.",
	  cmd_export },
};

int
cmd_tui(const struct cli_cmd *cmd, const struct cli_args *args)
{
	(void)cmd;
	return tui_main(args->ops[0], args->val[OPT_TARGET],
			args->val[OPT_SCRIPT],
			args->set[OPT_ROOT] ? args->val[OPT_ROOT] : NULL);
}

#define NCOMMANDS (sizeof(commands) / sizeof(commands[0]))

static const struct cli_cmd *
find_command(const char *name)
{
	size_t i;

	for (i = 0; i < NCOMMANDS; i++)
		if (!strcmp(commands[i].name, name))
			return &commands[i];
	return NULL;
}

static void
usage_line(FILE *f, const struct cli_cmd *c)
{
	int i;

	fprintf(f, "usage: %s %s %s", PROGRAM, c->name, c->operands);
	for (i = 0; i < OPT__COUNT; i++) {
		if (!(c->opts & O(i)))
			continue;
		if (cli_opts[i].short_name)
			fprintf(f, " [-%c %s]", cli_opts[i].short_name,
				cli_opts[i].arg);
		else if (cli_opts[i].arg)
			fprintf(f, " [--%s %s]", cli_opts[i].name,
				cli_opts[i].arg);
		else
			fprintf(f, " [--%s]", cli_opts[i].name);
	}
	fputc('\n', f);
}

static void
command_help(FILE *f, const struct cli_cmd *c)
{
	int i;

	usage_line(f, c);
	fprintf(f, "\n%s.\n\n%s\n", c->summary, c->description);
	if (c->opts)
		fputs("\noptions:\n", f);
	for (i = 0; i < OPT__COUNT; i++) {
		char head[64];

		if (!(c->opts & O(i)))
			continue;
		snprintf(head, sizeof(head), "%s%c%s--%s%s%s",
			 cli_opts[i].short_name ? "-" : "",
			 cli_opts[i].short_name ? cli_opts[i].short_name : ' ',
			 cli_opts[i].short_name ? ", " : "", cli_opts[i].name,
			 cli_opts[i].arg ? " " : "",
			 cli_opts[i].arg ? cli_opts[i].arg : "");
		fprintf(f, "  %-16s %s\n", head, cli_opts[i].help);
	}
}

static void
general_help(FILE *f)
{
	size_t i;

	fprintf(f, "usage: %s COMMAND [ARGS...]\n"
		   "       %s FILE  (the interactive UI; 'help keys' lists its "
		   "keys)\n"
		   "       %s help COMMAND | --help | --version\n\n"
		   "Opens PyTorch checkpoints without Python and shows what is "
		   "inside.\n\ncommands:\n", PROGRAM, PROGRAM, PROGRAM);
	for (i = 0; i < NCOMMANDS; i++)
		fprintf(f, "  %-8s %s\n", commands[i].name, commands[i].summary);
	fprintf(f, "\nExit status: 0 success, 1 a difference found (diff, "
		   "apply --target),\n2 usage error, unreadable input or an "
		   "edit that cannot apply.\nSee %s(1).\n", PROGRAM);
}

/* Parse a command's options from the table; returns EXIT_OK or error. */
static int
parse(const struct cli_cmd *c, int argc, char **argv, struct cli_args *a)
{
	struct option longopts[OPT__COUNT + 2];
	char shorts[2 * OPT__COUNT + 3] = ":h", *sp = shorts + 2;
	int n = 0, i, ch;

	memset(a, 0, sizeof(*a));
	for (i = 0; i < OPT__COUNT; i++) {
		if (!(c->opts & O(i)))
			continue;
		longopts[n].name = cli_opts[i].name;
		longopts[n].has_arg = cli_opts[i].arg ? required_argument
						      : no_argument;
		longopts[n].flag = NULL;
		longopts[n].val = 256 + i;
		n++;
		if (cli_opts[i].short_name) {
			*sp++ = cli_opts[i].short_name;
			if (cli_opts[i].arg)
				*sp++ = ':';
		}
	}
	*sp = '\0';
	longopts[n].name = "help";
	longopts[n].has_arg = no_argument;
	longopts[n].flag = NULL;
	longopts[n].val = 'h';
	memset(&longopts[n + 1], 0, sizeof(longopts[0]));

	optind = 1;
	opterr = 0;
	while ((ch = getopt_long(argc, argv, shorts, longopts, NULL)) != -1) {
		if (ch == 'h') {
			command_help(stdout, c);
			return -1;
		}
		if (ch == '?')
			return cli_error(c->name, "unknown option '%s' (see '%s "
					 "help %s')", argv[optind - 1], PROGRAM,
					 c->name);
		if (ch == ':')
			return cli_error(c->name, "option '%s' needs an argument",
					 argv[optind - 1]);
		if (ch < 256)	/* a short option: find its id */
			for (i = 0; i < OPT__COUNT; i++)
				if (cli_opts[i].short_name == ch)
					ch = 256 + i;
		a->set[ch - 256] = true;
		a->val[ch - 256] = optarg;
	}
	for (i = optind; i < argc; i++) {
		if (a->nops == c->max_ops)
			return cli_error(c->name, "unexpected argument '%s' (see "
					 "'%s help %s')", argv[i], PROGRAM,
					 c->name);
		a->ops[a->nops++] = argv[i];
	}
	if (a->nops < c->min_ops)
		return cli_error(c->name, "missing %s (usage: %s %s %s)",
				 a->nops ? "arguments" : c->operands, PROGRAM,
				 c->name, c->operands);
	return EXIT_OK;
}

int
main(int argc, char **argv)
{
	const struct cli_cmd *c;
	struct cli_args args;
	int r;

	/*
	 * libzip converts every zip entry's DOS time with mktime(), and with
	 * TZ unset glibc re-reads /etc/localtime on each call: 100,000 stat()s
	 * for a 100,000-tensor checkpoint.  The same zone, named, is cached.
	 */
	if (!getenv("TZ"))
		setenv("TZ", ":/etc/localtime", 0);
	if (argc < 2)
		return cli_error(NULL, "no command given (see '%s --help')",
				 PROGRAM);
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
		general_help(stdout);
		return fflush(stdout) ? EXIT_ERROR : EXIT_OK;
	}
	if (!strcmp(argv[1], "--version")) {
		printf("%s %s\n", PROGRAM, PACKAGE_VERSION);
		return fflush(stdout) ? EXIT_ERROR : EXIT_OK;
	}
	if (!strcmp(argv[1], "help")) {
		if (argc == 2) {
			general_help(stdout);
			return EXIT_OK;
		}
		if (!strcmp(argv[2], "keys") && argc == 3) {
			ui_keys_print(stdout);
			return fflush(stdout) ? EXIT_ERROR : EXIT_OK;
		}
		c = find_command(argv[2]);
		if (!c || argc > 3)
			return cli_error("help", "no command '%s' (see '%s "
					 "--help')", argv[2], PROGRAM);
		command_help(stdout, c);
		return fflush(stdout) ? EXIT_ERROR : EXIT_OK;
	}
	c = find_command(argv[1]);
	if (!c && argv[1][0] == '-')
		return cli_error(NULL, "unknown option '%s' (see '%s --help')",
				 argv[1], PROGRAM);
	if (!c) {
		/* ckpt-surgeon FILE [...]: the interactive UI */
		if (access(argv[1], F_OK) != 0)
			return cli_error(NULL, "'%s' is neither a command nor a "
					 "file (see '%s --help')", argv[1],
					 PROGRAM);
		c = find_command("tui");
		r = parse(c, argc, argv, &args);
	} else {
		r = parse(c, argc - 1, argv + 1, &args);
	}
	if (r < 0)
		return fflush(stdout) ? EXIT_ERROR : EXIT_OK;
	if (r != EXIT_OK)
		return r;
	r = c->exec(c, &args);
	if (fflush(stdout) != 0 || ferror(stdout))
		return cli_error(NULL, "cannot write output");
	return r;
}
