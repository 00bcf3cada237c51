#!/bin/sh
# update-keys: print man/ckpt-surgeon.1 with its key table rebuilt from
# the program's own (`ckpt-surgeon help keys`), between the lines
# '.\" keys: begin' and '.\" keys: end'.  The table is never kept by
# hand: `make update-man-keys` rewrites it, and tests/man.sh fails when
# the page and the program disagree.
# usage: man/update-keys.sh BIN PAGE > NEWPAGE
set -eu
bin=$1
page=$2
table=$(mktemp)
trap 'rm -f "$table"' EXIT
"$bin" help keys | awk -F '\t' '
BEGIN { print ".Bl -tag -width \"PgDn, C-f, Space\" -compact" }
{
	printf ".It Ic \"%s\"\n%s\n.Pq Cm %s\n", $1, $3, $2
}
END { print ".El" }' >"$table"
awk -v table="$table" '
/^\.\\" keys: begin$/ { print; while ((getline line < table) > 0) print line; skip = 1; next }
/^\.\\" keys: end$/ { skip = 0 }
!skip { print }' "$page"
