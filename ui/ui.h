/*
 * ui: the interactive terminal UI (ncursesw, readline through ui/prompt.c).
 *
 * The UI holds views, not model logic: the document is a struct session
 * (src/session.h: the checkpoint, the edits with undo, the target and its
 * diff), the tree is a struct tree (src/tree.h) rebuilt from it after
 * every change.  Every change goes through the script language: keys
 * expand to command strings (ui_bindings[]), the ':' prompt takes any
 * script line or UI command (ui_commands[]), and the session records the
 * script.
 *
 * Screens: the tree (with a detail pane), the diff report with its
 * suggestions, and the help screen; each has a draw and a key function.
 */
#ifndef UI_H
#define UI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "session.h"
#include "tree.h"
#include "view.h"

enum ui_screen { SCREEN_TREE, SCREEN_DIFF, SCREEN_HELP };

enum ui_msg { MSG_INFO, MSG_ERROR };

/* What a prompt's answer is for. */
enum ui_ask {
	ASK_COMMAND,		/* ':' a script line or a UI command */
	ASK_SEARCH,		/* '/' text to find */
	ASK_FILTER,		/* text the shown keys must contain */
	ASK_TARGET,		/* a target file */
	ASK_WRITE,		/* where to write the checkpoint */
	ASK_SAVE,		/* where to save the script */
	ASK_EXPORT,		/* where to export the Python program */
};

/* The column dialog: an edit's numbers, typed in fields. */
#define DIALOG_FIELDS 3
struct ui_dialog {
	bool open;
	int op;			/* EDIT_MOVE_COLUMN, _INSERT_, _DELETE_ */
	char *key;
	char shape[128];	/* "float32 [8, 66]", shown while typing */
	int nfields;
	const char *label[DIALOG_FIELDS];
	char text[DIALOG_FIELDS][24];
	int field;		/* the one being typed */
};

/* A y/n question; yes runs the command string. */
struct ui_confirm {
	bool open;
	char question[256];
	char *command;
};

struct ui {
	struct session s;
	struct tree tree;
	unsigned long tree_gen;	/* session generation the tree shows */
	bool tree_built;
	struct view tv;		/* the tree's cursor */
	struct view dv;		/* the diff screen's cursor */
	struct view hv;		/* the help screen's scroll */
	enum ui_screen screen;
	bool detail;		/* the detail pane is shown */
	char *search;		/* the last search */
	char msg[512];
	enum ui_msg msg_kind;
	bool utf8, color;
	int rows, cols;
	bool quit;
	/* what the prompt asks, while it is open */
	bool prompting;
	enum ui_ask ask;
	struct ui_dialog dialog;
	struct ui_confirm confirm;
	/* the diff screen: the report's lines, then the suggestions */
	struct buf diff_text;	/* the report without its suggestions */
	size_t diff_lines;	/* lines in it */
	/* the detail pane's statistics, for the node they were made for */
	const struct tree_node *stats_for;
	unsigned long stats_gen;
	bool stats_ok;
	char stats_text[1024];
};

/*
 * Run the UI on file (root: --root or NULL; target and script optional:
 * --target and --script).  Returns the exit status: 0, or 2 after
 * printing one error line when the file, target or script cannot be
 * used or there is no terminal.
 */
int tui_main(const char *file, const char *target, const char *script,
	     const char *root);

/* ---- commands and keys (ui/keys.c) ---------------------------------- */

struct ui_command {
	const char *name;
	const char *args;	/* for help: "PATH", "" */
	void (*exec)(struct ui *ui, const char *arg);
	const char *help;
};

/*
 * A key binding: the key, how help shows it, and a command string in
 * which %k and %p are the selected node's key or key prefix (quoted for
 * the script language; nothing outside the state dict), and %r is
 * "rename" on a key and "rename-prefix" on a subtree.  With prompt set the expanded string is put
 * in the ':' prompt for the user to finish, else it runs at once.
 */
struct ui_binding {
	int key;
	const char *label;
	const char *command;
	bool prompt;
	const char *help;	/* NULL: the command's own help */
};

extern const struct ui_command ui_commands[];
extern const size_t ui_ncommands;
extern const struct ui_binding ui_bindings[];
extern const size_t ui_nbindings;

/* The key table, a line per key: LABEL, COMMAND and HELP separated by
 * tabs (for 'help keys' and the man page). */
void ui_keys_print(FILE *f);

/* The binding of key on the tree screen, or NULL. */
const struct ui_binding *ui_binding_for(int key);

/* The UI command named name (the first word of line), or NULL. */
const struct ui_command *ui_command_find(const char *name, size_t len);

/*
 * Expand a binding's command string for the selected node (n may be
 * NULL; %k and %p then expand to nothing).  Caller frees; NULL when
 * memory runs out.
 */
char *ui_expand(const char *command, const struct tree_node *n);

/* ---- actions (ui/tui.c) --------------------------------------------- */

/* Run a line typed at ':' (a UI command or a script line). */
void ui_run_line(struct ui *ui, const char *line);

/* Set the status line. */
void ui_message(struct ui *ui, enum ui_msg kind, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* The selected tree node, or NULL. */
struct tree_node *ui_selected(const struct ui *ui);

/*
 * The detail pane goes beside the tree on screens of DETAIL_MIN_COLS
 * columns or more (DETAIL_WIDTH wide), else below it (a third of the
 * body, at most DETAIL_BELOW_ROWS rows) when the body has at least
 * DETAIL_BELOW_MIN_BODY rows, else nowhere.
 */
#define DETAIL_WIDTH 46
#define DETAIL_MIN_COLS 100
#define DETAIL_BELOW_ROWS 10
#define DETAIL_BELOW_MIN_BODY 15

enum ui_pane { PANE_NONE, PANE_SIDE, PANE_BELOW };

/* Where the detail pane goes now; *tree_h and *pane_h get the rows of the
 * list (tree, diff or help) and of a pane below it. */
enum ui_pane ui_pane(const struct ui *ui, size_t *tree_h, size_t *pane_h);

/* Rows of the list area on screen (the tree, the diff, the help). */
size_t ui_tree_height(const struct ui *ui);

/* The diff screen's row of the first suggestion. */
size_t ui_diff_first(const struct ui *ui);

/* ---- drawing (ui/draw.c) -------------------------------------------- */

void ui_draw(struct ui *ui);
void ui_colors_init(struct ui *ui);

/* ---- the prompt (ui/prompt.c, the only user of readline) ------------ */

/* Open the prompt for ask, with text already typed (may be NULL). */
void prompt_open(struct ui *ui, enum ui_ask ask, const char *text);

/* Feed one key to the open prompt (it closes itself on Enter/Escape and
 * runs what the answer is for). */
void prompt_key(struct ui *ui, int key);

/* Draw the prompt on the last screen line. */
void prompt_draw(struct ui *ui);

void prompt_init(struct ui *ui);
void prompt_release(void);

/* The function that takes the prompt's answer (tui.c). */
void ui_answer(struct ui *ui, enum ui_ask ask, const char *text);

#endif
