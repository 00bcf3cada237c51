/* keys: the key bindings of the tree screen, as data. */
#include "config.h"

#include <curses.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "script.h"
#include "ui.h"
#include "banned.h"

#define CTRL(c) ((c) & 0x1f)

/*
 * One entry per binding; help and the man page's key table list them in
 * this order.  Commands are those of ui_commands[] or, with a %k/%p, a
 * script line for the selected key or prefix.
 */
const struct ui_binding ui_bindings[] = {
	{ KEY_UP, "Up, k", "up", false, NULL },
	{ 'k', NULL, "up", false, NULL },
	{ KEY_DOWN, "Down, j", "down", false, NULL },
	{ 'j', NULL, "down", false, NULL },
	{ KEY_PPAGE, "PgUp, C-b", "page-up", false, NULL },
	{ CTRL('b'), NULL, "page-up", false, NULL },
	{ KEY_NPAGE, "PgDn, C-f, Space", "page-down", false, NULL },
	{ CTRL('f'), NULL, "page-down", false, NULL },
	{ ' ', NULL, "page-down", false, NULL },
	{ KEY_HOME, "Home, g", "top", false, NULL },
	{ 'g', NULL, "top", false, NULL },
	{ KEY_END, "End, G", "bottom", false, NULL },
	{ 'G', NULL, "bottom", false, NULL },
	{ '\n', "Enter", "toggle", false, NULL },
	{ KEY_ENTER, NULL, "toggle", false, NULL },
	{ KEY_RIGHT, "Right, l", "expand", false, NULL },
	{ 'l', NULL, "expand", false, NULL },
	{ KEY_LEFT, "Left, h", "collapse", false, NULL },
	{ 'h', NULL, "collapse", false, NULL },
	{ 'e', "e", "expand-all", false, NULL },
	{ 'c', "c", "collapse-all", false, NULL },
	{ '/', "/", "search", false, NULL },
	{ 'n', "n", "search-next", false, NULL },
	{ 'N', "N", "search-prev", false, NULL },
	{ 'f', "f", "filter", false, NULL },
	{ 's', "s", "sort", false, NULL },
	{ 'v', "v", "detail", false, NULL },
	{ 'r', "r", "%r %k %k", true,
	  "rename the selected key, or subtree (edit the line, then Enter)" },
	{ 'R', "R", "rename-prefix %p %p", true,
	  "rename the selected subtree: every key under it" },
	{ 'd', "d", "delete %k", false, "delete the selected key (u undoes)" },
	{ 'm', "m", "column move", false, NULL },
	{ 'i', "i", "column insert", false, NULL },
	{ 'x', "x", "column delete", false, NULL },
	{ ':', ":", "command", false, NULL },
	{ 'u', "u", "undo", false, NULL },
	{ CTRL('r'), "C-r", "redo", false, NULL },
	{ 't', "t", "target", false, NULL },
	{ 'D', "D", "diff", false, NULL },
	{ 'w', "w", "write", false, NULL },
	{ 'S', "S", "save", false, NULL },
	{ 'X', "X", "export", false, NULL },
	{ CTRL('l'), "C-l", "redraw", false, NULL },
	{ '?', "?", "help", false, NULL },
	{ 'q', "q", "quit", false, NULL },
};

const size_t ui_nbindings = sizeof(ui_bindings) / sizeof(ui_bindings[0]);

const struct ui_binding *
ui_binding_for(int key)
{
	size_t i;

	for (i = 0; i < ui_nbindings; i++)
		if (ui_bindings[i].key == key)
			return &ui_bindings[i];
	return NULL;
}

const struct ui_command *
ui_command_find(const char *name, size_t len)
{
	size_t i;

	for (i = 0; i < ui_ncommands; i++)
		if (strlen(ui_commands[i].name) == len &&
		    !memcmp(ui_commands[i].name, name, len))
			return &ui_commands[i];
	return NULL;
}

char *
ui_expand(const char *command, const struct tree_node *n)
{
	struct buf b = BUF_INIT;
	const char *p;
	int r = 0;

	for (p = command; *p && r == 0; p++) {
		if (p[0] == '%' && (p[1] == 'k' || p[1] == 'p')) {
			if (n && n->sd)
				r = script_quote(n->path, &b);
			p++;
			continue;
		}
		if (p[0] == '%' && p[1] == 'r') {
			r = buf_addstr(&b, n && n->kind == TK_TENSOR ? "rename" :
				       "rename-prefix");
			p++;
			continue;
		}
		r = buf_addch(&b, *p);
	}
	if (r < 0 || buf_grow(&b, 0) < 0) {
		buf_release(&b);
		return NULL;
	}
	return buf_detach(&b, NULL);
}

void
ui_keys_print(FILE *f)
{
	size_t i;

	for (i = 0; i < ui_nbindings; i++) {
		const struct ui_binding *kb = &ui_bindings[i];
		const struct ui_command *c;

		if (!kb->label)
			continue;
		c = ui_command_find(kb->command, strcspn(kb->command, " "));
		fprintf(f, "%s\t%s\t%s\n", kb->label, kb->command,
			kb->help ? kb->help : c ? c->help : "");
	}
}
