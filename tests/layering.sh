#!/bin/sh
# layering: the rules of style.md that a compiler cannot check.
#   - the core library never includes curses or readline, never prints to
#     the terminal and never exits;
#   - each third-party library is wrapped by exactly one module;
#   - every .c file includes "banned.h" last.
srcdir=${CKS_SRCDIR:-.}
. "$srcdir/tests/tap.sh"
cd "$srcdir" || exit 1

# The library is every src/ file except the command line's own.
lib=$(ls src/*.c src/*.h | grep -v -e '^src/main\.c$' -e '^src/cli\.[ch]$' -e '^src/cmd-')

hits=$(grep -n -E '#include *<(n?curses|readline)' $lib src/*.c src/*.h 2>/dev/null)
if [ -z "$hits" ]; then ok "no curses or readline outside ui/"; else not_ok "no curses or readline outside ui/" "$hits"; fi
users=$(grep -l -E '#include *<readline/' ui/*.c ui/*.h src/*.c src/*.h tests/*.c 2>/dev/null | sort -u)
if [ "$users" = "ui/prompt.c" ]; then ok "only ui/prompt.c includes readline"; else not_ok "only ui/prompt.c includes readline" "$users"; fi
hits=$(grep -n -E '(^|[^a-z_])rl_[a-z_]+' ui/*.c | grep -v '^ui/prompt\.c:')
if [ -z "$hits" ]; then ok "readline is used in ui/prompt.c only"; else not_ok "readline is used in ui/prompt.c only" "$hits"; fi

# (comment lines and lines of string literals, such as the Python program
# export writes, are not code)
hits=$(grep -n -E '(^|[^a-z_])(printf|fprintf|vfprintf|puts|fputs|putchar|perror|exit|_exit)[[:space:]]*\(|\b(stdout|stderr)\b' $lib | grep -v -E '^[^:]+:[0-9]+:[[:space:]]*(/?\*|//|")')
if [ -z "$hits" ]; then ok "the library never prints or exits"; else not_ok "the library never prints or exits" "$hits"; fi

for pair in "zip.h:src/torchzip.c" "jansson.h:src/jsonv.c" "zlib.h:src/crc32.c"; do
	header=${pair%%:*}; owner=${pair#*:}
	users=$(grep -l -E "#include *<$header>" src/*.c src/*.h ui/*.c ui/*.h tests/*.c 2>/dev/null | sort -u)
	if [ "$users" = "$owner" ]; then ok "only $owner includes <$header>"; else not_ok "only $owner includes <$header>" "$users"; fi
done

bad=""
for f in src/*.c ui/*.c tests/*.c tests/fuzz/*.c; do
	[ -f "$f" ] || continue
	last=$(grep -E '^#include' "$f" | tail -n 1)
	[ "$last" = '#include "banned.h"' ] || bad="$bad $f"
done
if [ -z "$bad" ]; then ok "every .c includes banned.h last"; else not_ok "every .c includes banned.h last" "$bad"; fi
tap_done
