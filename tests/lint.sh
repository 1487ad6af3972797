#!/bin/bash
# SPDX-License-Identifier: MIT
# tests/lint.sh: the C sources follow .clang-format, and shellcheck finds
# no warning in the shell scripts (those with a bash or sh shebang, and
# tests/lib.sh). Run by tests/run-all.sh from a git checkout; needs
# clang-format and shellcheck (tests/deps.sh installs them).
. "$(dirname "$0")/lib.sh"
need_cmd clang-format
need_cmd shellcheck
cd "$SRCDIR" || fail "no source tree at $SRCDIR"
git rev-parse --git-dir >/dev/null 2>&1 || skip "not a git checkout"

mapfile -t c_files < <(git ls-files '*.c' '*.h')
clang-format --dry-run -Werror "${c_files[@]}" ||
  fail "not formatted as .clang-format says: clang-format -i FILE..."

scripts=(tests/lib.sh)
while IFS= read -r f; do
  case $(head -n 1 "$f" 2>/dev/null | tr -d '\0') in
  '#!'*bash* | '#!/bin/sh'*) scripts+=("$f") ;;
  esac
done < <(git ls-files | grep -v '\.\(c\|h\|py\|png\|md\)$')
shellcheck -x -S warning "${scripts[@]}" || fail "shellcheck warnings above"
log "ok - ${#c_files[@]} C files formatted, ${#scripts[@]} shell scripts shellcheck-clean"
