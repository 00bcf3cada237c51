/* cmd-export: a script of edits as a standalone Python migration program. */
#include "config.h"

#include <stdbool.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"
#include "export.h"
#include "script.h"
#include "write.h"
#include "banned.h"

/* The program is executable (the umask still applies). */
#define PROGRAM_MODE 0755

/* Write the program to out atomically, never over SCRIPT. */
static int
write_program(const char *out, struct buf *prog, const char *script,
	      bool force)
{
	struct atomic_opts o = { force, PROGRAM_MODE, NULL, "the script" };
	struct ckerr err = CKERR_INIT;
	struct stat st;

	if (stat(script, &st) == 0)
		o.keep = &st;
	if (write_buf_atomic(out, prog, &o, &err) < 0)
		return cli_error(out, "%s", err.msg);
	return EXIT_OK;
}

int
cmd_export(const struct cli_cmd *cmd, const struct cli_args *args)
{
	const char *spath = args->ops[0], *out = args->val[OPT_OUTPUT];
	const char *root = args->set[OPT_ROOT] ? args->val[OPT_ROOT] : NULL;
	struct ckerr err = CKERR_INIT;
	struct buf prog = BUF_INIT;
	struct script s;
	int r;

	(void)cmd;
	if (cli_load_script(spath, &s) < 0)
		return EXIT_ERROR;
	if (export_python(&s, root, PACKAGE_VERSION, &prog, &err) < 0)
		/* script problems carry their position */
		r = strncmp(err.msg, s.name, strlen(s.name)) ?
		    cli_error(spath, "%s", err.msg) :
		    cli_error(NULL, "%s", err.msg);
	else if (!out)
		r = cli_write(&prog);
	else
		r = write_program(out, &prog, spath, args->set[OPT_FORCE]);
	buf_release(&prog);
	script_release(&s);
	return r;
}
