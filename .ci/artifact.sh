#!/usr/bin/env bash
# Install the built wheel (not the source tree) into a fresh environment, as a user would, and use it:
#
#   .ci/artifact.sh floors   Python 3.11, every direct dependency (with the [testing] extra) at its
#                            declared floor (uv --resolution lowest-direct), plus the pins that
#                            floor's Airflow line needs; the floors must be what gets installed
#   .ci/artifact.sh newest   Python 3.13, the versions of uv.lock (its newest Airflow 3.3.x)
#
# In the environment: `airflow providers get`, the connection form as Airflow registers it, every example DAG
# imported, and the demo run with that environment's interpreter from outside the repository.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/_uv.sh

mode="${1:?usage: .ci/artifact.sh floors|newest}"
repo="$PWD"
wheel="$(ls "$repo"/dist/*.whl)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

"${UV[@]}" export --frozen --quiet --no-hashes --all-extras --all-groups --no-emit-project \
  --output-file "$work/lock.txt"
.venv/bin/python .ci/check_dist.py requirements "$wheel" > "$work/direct.txt"

case "$mode" in
  floors)
    python="$(resolve_python python3.11)"
    airflow_floor="$(sed -n 's/^apache-airflow[<>=,.0-9]*>=\([0-9.]*\).*/\1/p' "$work/direct.txt")"
    # uv.lock's pins belong to its newer Airflow; the floor gets only what its Airflow line needs.
    airflow_line_pins "$airflow_floor" | tr ' ' '\n' > "$work/constraints.txt"
    resolution=(--resolution lowest-direct -r "$work/direct.txt")
    ;;
  newest)
    python="$(resolve_python python3.13)"
    cp "$work/lock.txt" "$work/constraints.txt"
    resolution=()
    ;;
  *) echo "unknown mode $mode (floors or newest)" >&2; exit 2 ;;
esac

venv="$work/venv"
"${UV[@]}" venv --quiet --python "$python" "$venv"
"${UV[@]}" pip install --quiet --python "$venv/bin/python" -c "$work/constraints.txt" \
  "airflow-provider-assemblyai[testing] @ file://$wheel" "${resolution[@]}"
echo "installed into a fresh $("$venv/bin/python" -V) environment: $("${UV[@]}" pip freeze --quiet \
  --python "$venv/bin/python" | wc -l) packages"
echo "direct requirements (declared floor vs installed):"
if [ "$mode" = floors ]; then
  "$venv/bin/python" .ci/check_dist.py floors "$wheel"
else
  "$venv/bin/python" .ci/check_dist.py installed "$wheel"
fi

# What the demo needs besides the package: a local S3 (moto's server); never the source tree.
"${UV[@]}" pip install --quiet --python "$venv/bin/python" -c "$work/constraints.txt" "moto[server]"
if [ "$mode" = floors ]; then
  "$venv/bin/python" .ci/check_dist.py floors "$wheel" >/dev/null  # the test tools moved no floor
fi

cd "$work"
export AIRFLOW_HOME="$work/airflow-home"
export AIRFLOW__CORE__LOAD_EXAMPLES=False
"$venv/bin/airflow" providers get airflow-provider-assemblyai
"$venv/bin/python" "$repo/.ci/check_installed.py" "$repo/dags"
"$venv/bin/python" "$repo/scripts/demo.py"
