/*
 * prompt: the status-line prompt, GNU readline inside curses through its
 * callback interface (the only module that knows readline).
 *
 * Keys come from the UI's input (rl_getc_function returns the key the
 * UI hands over), the line is drawn by the UI (rl_redisplay_function),
 * and readline never touches the terminal modes or signals: curses owns
 * the terminal.  History and tab-completion of edit names, UI commands
 * and keys come with it.
 */
#include "config.h"

#include <curses.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <wchar.h>

#include <readline/history.h>
#include <readline/readline.h>

#include "script.h"
#include "ui.h"
#include "banned.h"

static struct ui *prompt_ui;	/* readline's callbacks take no context */
static int pending;		/* the byte handed to readline */
static bool have_pending;
static FILE *devnull;

static const char *const ask_text[] = {
	[ASK_COMMAND] = ":",
	[ASK_SEARCH] = "/",
	[ASK_FILTER] = "filter (empty: all): ",
	[ASK_TARGET] = "target (checkpoint or layout file): ",
	[ASK_WRITE] = "write the checkpoint to: ",
	[ASK_SAVE] = "save the script to: ",
	[ASK_EXPORT] = "export the Python program to: ",
};

static int
getc_from_ui(FILE *f)
{
	(void)f;
	have_pending = false;
	return pending;
}

static int
input_available(void)
{
	return have_pending;
}

static void
redisplay(void)
{
	if (prompt_ui) {
		prompt_draw(prompt_ui);
		refresh();
	}
}

static void
no_prep(int meta)
{
	(void)meta;
}

static void
no_deprep(void)
{
}

static void
got_line(char *line)
{
	struct ui *ui = prompt_ui;
	enum ui_ask ask = ui->ask;

	rl_callback_handler_remove();
	ui->prompting = false;
	if (line && *line && (ask == ASK_COMMAND || ask == ASK_SEARCH ||
			      ask == ASK_FILTER))
		add_history(line);
	ui_answer(ui, ask, line ? line : "");
	free(line);
}

/* ---- completion ------------------------------------------------------ */

static size_t gen_index;

/* Edit names, then UI commands, starting with text. */
static char *
gen_command(const char *text, int state)
{
	size_t len = strlen(text);

	if (!state)
		gen_index = 0;
	while (gen_index < EDIT__COUNT + ui_ncommands) {
		size_t i = gen_index++;
		const char *name = i < EDIT__COUNT ? edit_name((enum edit_op)i) :
				   ui_commands[i - EDIT__COUNT].name;

		if (!strncmp(name, text, len))
			return strdup(name);
	}
	return NULL;
}

/* Keys of the state dict starting with text. */
static char *
gen_key(const char *text, int state)
{
	const struct layout *l = &prompt_ui->s.cur;
	size_t len = strlen(text);

	if (!state)
		gen_index = 0;
	while (gen_index < l->n) {
		const char *k = l->v[gen_index++].key;

		if (!strncmp(k, text, len))
			return strdup(k);
	}
	return NULL;
}

static char **
complete(const char *text, int start, int end)
{
	(void)end;
	switch (prompt_ui->ask) {
	case ASK_COMMAND:
		rl_attempted_completion_over = 1;
		return rl_completion_matches(text, start ? gen_key : gen_command);
	case ASK_SEARCH:
	case ASK_FILTER:
		rl_attempted_completion_over = 1;
		return rl_completion_matches(text, gen_key);
	default:
		return NULL;	/* file names */
	}
}

/* Several matches: list them on the status line. */
static void
show_matches(char **matches, int n, int longest)
{
	struct buf b = BUF_INIT;
	int i;

	(void)longest;
	buf_addf(&b, "%d matches:", n);
	for (i = 1; i <= n && b.len < 400; i++)
		buf_addf(&b, " %s", matches[i]);
	if (i <= n)
		buf_addstr(&b, " ...");
	ui_message(prompt_ui, MSG_INFO, "%s", b.data ? b.data : "");
	buf_release(&b);
	ui_draw(prompt_ui);
}

void
prompt_init(struct ui *ui)
{
	prompt_ui = ui;
	devnull = fopen("/dev/null", "w");
	rl_readline_name = "ckpt-surgeon";
	rl_getc_function = getc_from_ui;
	rl_input_available_hook = input_available;
	rl_redisplay_function = redisplay;
	rl_prep_term_function = no_prep;
	rl_deprep_term_function = no_deprep;
	rl_catch_signals = 0;
	rl_catch_sigwinch = 0;
	rl_change_environment = 0;
	if (devnull)
		rl_outstream = devnull;
	rl_attempted_completion_function = complete;
	rl_completion_display_matches_hook = show_matches;
	rl_basic_word_break_characters = " \t";
	using_history();
}

void
prompt_release(void)
{
	if (prompt_ui && prompt_ui->prompting)
		rl_callback_handler_remove();
	clear_history();
	if (devnull)
		fclose(devnull);
	devnull = NULL;
	prompt_ui = NULL;
}

void
prompt_open(struct ui *ui, enum ui_ask ask, const char *text)
{
	ui->prompting = true;
	ui->ask = ask;
	rl_callback_handler_install(ask_text[ask], got_line);
	if (text && *text)
		rl_insert_text(text);
	redisplay();
}

/* Hand one byte to readline. */
static void
feed(int byte)
{
	pending = byte;
	have_pending = true;
	rl_callback_read_char();
}

static void
feed_seq(const char *s)
{
	for (; *s && prompt_ui->prompting; s++)
		feed((unsigned char)*s);
}

void
prompt_key(struct ui *ui, int key)
{
	static const struct {
		int key;
		const char *seq;
	} keys[] = {
		{ KEY_LEFT, "\033[D" }, { KEY_RIGHT, "\033[C" },
		{ KEY_UP, "\033[A" }, { KEY_DOWN, "\033[B" },
		{ KEY_HOME, "\033[H" }, { KEY_END, "\033[F" },
		{ KEY_DC, "\033[3~" }, { KEY_BACKSPACE, "\177" },
		{ KEY_ENTER, "\r" },
	};
	size_t i;

	if (key == 27 || key == 7) {	/* Escape, C-g: cancel */
		rl_callback_handler_remove();
		ui->prompting = false;
		ui_message(ui, MSG_INFO, "cancelled");
		return;
	}
	if (key >= 0 && key < 256) {
		feed(key);
		return;
	}
	for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		if (keys[i].key == key) {
			feed_seq(keys[i].seq);
			return;
		}
}

/* Screen columns of the bytes line[from .. to) in the locale. */
static int
columns(const char *line, size_t from, size_t to)
{
	mbstate_t st;
	int cols = 0;

	memset(&st, 0, sizeof(st));
	while (from < to) {
		wchar_t wc;
		size_t k = mbrtowc(&wc, line + from, to - from, &st);
		int w;

		if (k == (size_t)-1 || k == (size_t)-2 || k == 0) {
			k = 1;
			wc = L'?';
			memset(&st, 0, sizeof(st));
		}
		w = wcwidth(wc);
		cols += w > 0 ? w : 1;
		from += k;
	}
	return cols;
}

void
prompt_draw(struct ui *ui)
{
	const char *p = rl_display_prompt ? rl_display_prompt : "";
	const char *line = rl_line_buffer ? rl_line_buffer : "";
	int plen = (int)strlen(p), width = ui->cols - plen - 1;
	size_t start = 0, point = rl_point > 0 ? (size_t)rl_point : 0;
	int y = ui->rows - 1;

	if (width < 1)
		width = 1;
	if (point > strlen(line))
		point = strlen(line);
	/* scroll the line (by whole characters) so that the cursor, counted
	 * in columns, stays in view */
	while (start < point && columns(line, start, point) >= width) {
		start++;
		while (start < point && (line[start] & 0xc0) == 0x80)
			start++;
	}
	move(y, 0);
	clrtoeol();
	attron(A_BOLD);
	addstr(p);
	attroff(A_BOLD);
	{
		size_t end = start, len = strlen(line);

		/* as much of the line as fits */
		while (end < len) {
			size_t next = end + 1;

			while (next < len && (line[next] & 0xc0) == 0x80)
				next++;
			if (columns(line, start, next) > width)
				break;
			end = next;
		}
		addnstr(line + start, (int)(end - start));
	}
	move(y, plen + columns(line, start, point));
	curs_set(1);
}
