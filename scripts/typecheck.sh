#!/usr/bin/env bash
# mypy cannot follow setuptools' editable-install finder for our package-dir mapping
# (scenarios/ → hpabench.scenarios, …), so it would see every cross-package import as Any.
# Build a throw-away tree of symlinks in the installed layout and check that instead.
set -euo pipefail
cd "$(dirname "$0")/.."
tree=.typecheck
rm -rf "$tree"
mkdir -p "$tree/hpabench"
for f in hpabench/*.py; do ln -s "../../$f" "$tree/hpabench/$(basename "$f")"; done
ln -s ../../hpabench/study "$tree/hpabench/study"
ln -s ../../scenarios "$tree/hpabench/scenarios"
ln -s ../../deploy "$tree/hpabench/deploy"
ln -s ../../analysis "$tree/hpabench/analysis"
ln -s ../deploy/app/hpabench_refapp "$tree/hpabench_refapp"
MYPYPATH="$tree" "${MYPY:-.venv/bin/mypy}" --explicit-package-bases -p hpabench -p hpabench_refapp "$@"
