#!/usr/bin/env bash
# Install the package exactly as the README's install section says, as a new user would: the first
# ```bash block under "## Install", run verbatim with bash in a fresh python3.11 virtualenv (activated),
# from the root of a fresh copy of the repository (its tracked and unignored files, no .venv). Then
# check, from outside the copy, that Airflow finds the provider and that the package imported is the
# installed one, not the copy's source tree.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/_uv.sh  # resolve_python

repo="$PWD"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

block="$(python3 - "$repo/README.md" <<'EOF'
import re
import sys

text = open(sys.argv[1], encoding="utf-8").read()
section = re.search(r"^## Install\n(.*?)(?=^## )", text, re.DOTALL | re.MULTILINE)
if section is None:
    sys.exit("README.md has no '## Install' section")
block = re.search(r"^```bash\n(.*?)^```", section[1], re.DOTALL | re.MULTILINE)
if block is None:
    sys.exit("README.md's '## Install' section has no ```bash block")
print(block[1], end="")
EOF
)"
printf '%s\n' "$block" > "$work/install.sh"
echo "the README's install block:"
sed 's/^/    /' "$work/install.sh"

mkdir "$work/checkout"
git -C "$repo" ls-files -z --cached --others --exclude-standard \
  | (cd "$repo" && xargs -0 tar -cf - --no-recursion 2>/dev/null || true) \
  | tar -xf - -C "$work/checkout"
test -f "$work/checkout/pyproject.toml"

"$(resolve_python python3.11)" -m venv "$work/venv"
export AIRFLOW_HOME="$work/airflow-home"
export AIRFLOW__CORE__LOAD_EXAMPLES=False
export PIP_DISABLE_PIP_VERSION_CHECK=1
unset PYTHONPATH VIRTUAL_ENV

(
  # shellcheck disable=SC1091
  source "$work/venv/bin/activate"
  cd "$work/checkout"
  bash -euo pipefail "$work/install.sh"
)

cd "$work"
"$work/venv/bin/airflow" providers get airflow-provider-assemblyai
"$work/venv/bin/python" - "$work/checkout" <<'EOF'
import sys
from pathlib import Path

import airflow_assemblyai

location = Path(airflow_assemblyai.__file__).resolve()
assert Path(sys.argv[1]) not in location.parents, f"imported from the source copy: {location}"
assert "site-packages" in location.parts, f"not an installed package: {location}"
info = airflow_assemblyai.get_provider_info()
assert info["package-name"] == "airflow-provider-assemblyai", info["package-name"]
print(f"installed {info['package-name']} {airflow_assemblyai.__version__} at {location.parent}")
EOF
