#!/usr/bin/env bash
# Known vulnerabilities in the installed (locked) dependencies, from PyPI's advisory data.
# Where that service cannot be reached (offline, or a mirror without the JSON API: every
# package then reads "not found on PyPI"), the check is skipped with the reason printed
# instead of failing (docs/security.md).  A vulnerability found always fails.
set -uo pipefail
BIN="${1:-.venv/bin}"
out="$("$BIN/pip-audit" --progress-spinner off --skip-editable 2>&1)"
status=$?
if grep -qiE "known vulnerabilit(y|ies) in" <<<"$out"; then
  echo "$out"; exit 1
fi
audited_none=$(grep -c "could not be audited" <<<"$out" || true)
if grep -qiE "connection|resolve|timed out|Max retries" <<<"$out" || [ "$audited_none" -gt 20 ]; then
  echo "pip-audit skipped: PyPI's vulnerability data is not reachable from here ($audited_none packages unaudited)"
  exit 0
fi
echo "$out" | tail -5
exit $status
