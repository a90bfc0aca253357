#!/usr/bin/env bash
# Each plugin installed alone — with only the core, the mock and the contract kit beside it, no
# other plugin — must pass its own tests. Slow (a virtual environment per plugin, ~2 minutes),
# so it is a release check rather than part of the README test command.
# Usage: bash tools/plugins_alone.sh      (from anywhere; needs uv: python3 -m pip install uv)
set -u
cd "$(dirname "$0")/.."
status=0
for dir in plugins/*/; do
  name=$(basename "$dir")
  venv=$(mktemp -d)/venv
  python3 -m uv venv -q "$venv" >/dev/null
  if ! python3 -m uv pip install -q --python "$venv/bin/python" \
      -e core -e mockserver -e contract_tests -e "$dir" pytest pytest-xdist hypothesis >/dev/null; then
    echo "$name: install failed"; status=1; continue
  fi
  summary=$(cd "$dir" && "$venv/bin/python" -m pytest -q -p no:cacheprovider \
      -c ../../pyproject.toml --rootdir ../.. tests 2>&1 | tail -n 1)
  echo "$name: $summary"
  case "$summary" in *failed*|*error*|*"no tests ran"*) status=1 ;; esac
  rm -rf "$(dirname "$venv")"
done
exit $status
