#!/usr/bin/env bash
# Typing probes (docs/packaging.md): __test__/types/valid.ts and esm.mts hold valid usages
# (`// valid:` lines) that must compile; invalid.ts holds wrong usages, each under a
# `// @ts-expect-error`, that must not (an unused directive is error TS2578). One strict tsc run
# under --module nodenext, importing the package by its name (self-reference through the exports
# map: `require` types for .ts, `import` types for .mts). The last line is the tally.
set -euo pipefail
cd "$(dirname "$0")/.."
DIR=__test__/types
valid=$(grep -cE '^\s*// valid:' "$DIR/valid.ts" "$DIR/esm.mts" | awk -F: '{ s += $2 } END { print s + 0 }')
invalid=$(grep -cE '^\s*// @ts-expect-error' "$DIR/invalid.ts")
out="$(node node_modules/typescript/bin/tsc --noEmit --strict --target es2022 --module nodenext \
  --moduleResolution nodenext --types node "$DIR/valid.ts" "$DIR/esm.mts" "$DIR/invalid.ts" 2>&1)" || true
printf '%s\n' "$out" | grep -E 'error TS' || true
# One failure per line with an error: in valid.ts/esm.mts any error, in invalid.ts an unused
# directive (TS2578) or an error on a line no directive covers.
count() { # <awk regex on the "file(line," prefix>: distinct lines with an error
  printf '%s\n' "$out" | awk -v re="$1" '/error TS/ && match($0, re) { split($0, a, ","); seen[a[1]] = 1 } END { print length(seen) }'
}
failed_valid=$(count "^$DIR/(valid[.]ts|esm[.]mts)[(]")
failed_invalid=$(count "^$DIR/invalid[.]ts[(]")
all=$(count "")
other=$((all - failed_valid - failed_invalid))
failed=$((failed_valid + failed_invalid + other))
echo "types: valid $valid, invalid $invalid (each must fail to compile)"
echo "types: $((valid + invalid - failed_valid - failed_invalid)) passed, $failed failed"
[ "$failed" -eq 0 ]
