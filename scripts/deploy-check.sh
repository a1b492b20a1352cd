#!/usr/bin/env bash
# Validates the deployment files; exits non-zero on any invalid one:
#   - deploy/kubernetes/*.yaml against the Kubernetes API's schemas
#     (kubernetes-validate, strict) and KEDA's ScaledObject against the
#     schema of KEDA's CRD (cloudcoil-models-keda), see deploy/check.py;
#   - compose.yaml against the Compose Specification's JSON schema
#     (check-jsonschema's copy);
#   - both against Mixdown itself: queue, metric and setting names,
#     subcommands, drain timeouts against grace periods.
# The validators live in a virtualenv under
# ${XDG_CACHE_HOME:-$HOME/.cache}/mixdown/, installed from PyPI on first use.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
# shellcheck source=scripts/setup.sh
source scripts/setup.sh

requirements=(
  kubernetes-validate==1.37.0
  check-jsonschema==0.39.0
  cloudcoil==0.6.0
  cloudcoil-models-keda==2.16.1.0
  PyYAML==6.0.3
)
venv=${XDG_CACHE_HOME:-$HOME/.cache}/mixdown/deploy-check
stamp=$venv/requirements.txt

if [ "$(cat "$stamp" 2>/dev/null)" != "${requirements[*]}" ]; then
  mixdown_info "installing the deployment validators into $venv"
  python3 -m venv --help >/dev/null 2>&1 || mixdown_install_packages python3-venv
  rm -rf "$venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check "${requirements[@]}"
  echo "${requirements[*]}" >"$stamp"
fi

"$venv/bin/check-jsonschema" --builtin-schema vendor.compose-spec compose.yaml
"$venv/bin/python" deploy/check.py
