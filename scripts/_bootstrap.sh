# Sourced by scripts/demo and scripts/test: make .venv match uv.lock, installing uv first if missing.
#
#   AIRFLOW_VERSION=3.2.2   .venv-airflow-3.2.2: the locked dependencies with that Airflow release
#                           instead (how CI tests the supported floor)
#   PYTHON=python3.13       .venv-py3.13: the locked dependencies on that interpreter
#
# Every environment gets the dev group and the [testing] extra (the emulator and its pytest plugin).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
source scripts/_uv.sh

suffix=""
sync_args=(sync --frozen --quiet --all-extras)
if [ -n "${PYTHON:-}" ]; then
  python_path="$(resolve_python "$PYTHON")"
  suffix="-py$("$python_path" -c 'import sys; print("%d.%d" % sys.version_info[:2])')"
  sync_args+=(--python "$python_path")
fi
if [ -n "${AIRFLOW_VERSION:-}" ]; then
  suffix="$suffix-airflow-${AIRFLOW_VERSION}"
fi
VENV=".venv$suffix"

UV_PROJECT_ENVIRONMENT="$VENV" "${UV[@]}" "${sync_args[@]}"
if [ -n "${AIRFLOW_VERSION:-}" ]; then
  # shellcheck disable=SC2046  # one requirement per word
  "${UV[@]}" pip install --quiet --python "$VENV/bin/python" "apache-airflow==${AIRFLOW_VERSION}" \
    $(airflow_line_pins "$AIRFLOW_VERSION")
fi
export VENV
# espeak-ng for the tests that synthesise speech (Debian's package, unpacked under .cache/).
source scripts/_espeak.sh
