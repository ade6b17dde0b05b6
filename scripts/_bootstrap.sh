# Sourced by scripts/demo and scripts/test: make .venv match uv.lock, installing uv first if missing.
#
# AIRFLOW_VERSION=3.2.2 selects a second environment, .venv-airflow-3.2.2, holding the locked
# dependencies with that Airflow release instead (how CI tests the supported floor).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

# Compile bytecode at install time: every Airflow process would otherwise recompile on start.
export UV_COMPILE_BYTECODE=1

if command -v uv >/dev/null 2>&1; then
  UV=(uv)
elif python3 -m uv --version >/dev/null 2>&1; then
  UV=(python3 -m uv)
else
  echo "Installing uv with pip (one time)..." >&2
  python3 -m pip install --quiet uv
  UV=(python3 -m uv)
fi

if [ -n "${AIRFLOW_VERSION:-}" ]; then
  VENV=".venv-airflow-${AIRFLOW_VERSION}"
  UV_PROJECT_ENVIRONMENT="$VENV" "${UV[@]}" sync --frozen --quiet
  # svcs 26 changed its FastAPI lifespan in a way Airflow 3.2's in-process execution API cannot use.
  floor_pins=()
  case "$AIRFLOW_VERSION" in 3.2.*) floor_pins=("svcs<26") ;; esac
  "${UV[@]}" pip install --quiet --python "$VENV/bin/python" "apache-airflow==${AIRFLOW_VERSION}" "${floor_pins[@]}"
else
  VENV=".venv"
  "${UV[@]}" sync --frozen --quiet
fi
export VENV
