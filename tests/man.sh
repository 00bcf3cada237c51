#!/bin/sh
# man: the manual page is valid mdoc and documents every command and
# option the program's own table knows (the table is the source of truth).
srcdir=${CKS_SRCDIR:-.}
bin=${CKS_BIN:-src/ckpt-surgeon}
. "$srcdir/tests/tap.sh"
page="$srcdir/man/ckpt-surgeon.1"

out=$(groff -ww -z -mandoc "$page" 2>&1)
if [ -z "$out" ]; then ok "groff -ww accepts the page"; else not_ok "groff -ww accepts the page" "$out"; fi

cmds=$("$bin" --help | sed -n '/^commands:/,/^$/p' | awk 'NF && $1 != "commands:" {print $1}')
[ -n "$cmds" ] || not_ok "--help lists commands"
for c in $cmds; do
	if grep -q "^\.It Cm $c\b" "$page"; then ok "command $c documented"; else not_ok "command $c documented"; fi
	for opt in $("$bin" help "$c" | sed -n 's/^  --\([a-z-]*\).*/\1/p'); do
		if grep -q "^\.It Fl \\\\-$opt\b\|Fl \\\\-$opt\b" "$page"; then ok "option --$opt of $c documented"
		else not_ok "option --$opt of $c documented"; fi
	done
done
# the key table is the program's own
if sh "$srcdir/man/update-keys.sh" "$bin" "$page" | cmp -s - "$page"; then ok "the key table is the program's (make update-man-keys)"
else not_ok "the key table is the program's (make update-man-keys)" "$(sh "$srcdir/man/update-keys.sh" "$bin" "$page" | diff "$page" - | head -20)"; fi
for section in NAME SYNOPSIS DESCRIPTION "EXIT STATUS" EXAMPLES "SEE ALSO"; do
	if grep -q "^\.Sh $section\$" "$page"; then ok "section $section"; else not_ok "section $section"; fi
done
# the script page documents every edit of the parser's table, and its options
spage="$srcdir/man/ckpt-surgeon-script.5"
out=$(groff -ww -z -mandoc "$spage" 2>&1)
if [ -z "$out" ]; then ok "groff -ww accepts the script page"; else not_ok "groff -ww accepts the script page" "$out"; fi
usages=$(sed -n 's/^[[:space:]]*X([A-Z_]*, "[a-z-]*", [0-9], [0-9], *"\(.*\)").*/\1/p; s/^[[:space:]]*"\([a-z-]* [^"]*\)").*/\1/p' "$srcdir/src/script.h")
[ -n "$usages" ] || not_ok "edit usages found in src/script.h"
while read -r edit rest; do
	if grep -q "^\.It Cm $edit Ar" "$spage" && grep -q "^\.Cm $edit\$" "$spage"; then ok "edit $edit documented"
	else not_ok "edit $edit documented (SYNOPSIS and description)"; fi
	for opt in $(echo "$rest" | grep -o -- '--[a-z]*' | sort -u); do
		if grep -q "Fl \\\\${opt#-}\b" "$spage"; then ok "option $opt of $edit documented"
		else not_ok "option $opt of $edit documented"; fi
	done
done <<EOF
$usages
EOF
tap_done
