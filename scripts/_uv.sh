# Sourced by scripts/_bootstrap.sh and .ci/artifact.sh: find uv (installing it with pip if missing),
# find interpreters, and know the pins an older Airflow line needs beyond its own requirements.

# Compile bytecode at install time: every Airflow process would otherwise recompile on start.
export UV_COMPILE_BYTECODE=1

if command -v uv >/dev/null 2>&1 && uv --version >/dev/null 2>&1; then
  UV=(uv)
elif python3 -m uv --version >/dev/null 2>&1; then
  UV=(python3 -m uv)
else
  echo "Installing uv with pip (one time)..." >&2
  python3 -m pip install --quiet uv
  UV=(python3 -m uv)
fi

# Print the path of a working interpreter called NAME (python3.13, say): from PATH, or from the
# pyenv version that provides it when PATH holds only pyenv's shim.
resolve_python() {
  local name="$1" version
  if "$name" -c 'import sys' >/dev/null 2>&1; then
    "$name" -c 'import sys; print(sys.executable)'
    return
  fi
  if command -v pyenv >/dev/null 2>&1; then
    version="$(pyenv whence "$name" 2>/dev/null | tail -n 1)"
    if [ -n "$version" ]; then
      PYENV_VERSION="$version" pyenv which "$name"
      return
    fi
  fi
  echo "no working $name on this machine (PATH or pyenv)" >&2
  return 1
}

# Print the requirements an Airflow line needs that its own metadata does not declare.
airflow_line_pins() {
  case "$1" in
    # svcs 26 changed its FastAPI lifespan in a way Airflow 3.2's in-process execution API cannot use;
    # with cadwyn 9 (and the FastAPI it allows) Airflow 3.2's execution API models fail to build.
    3.2.*) echo "svcs<26 cadwyn<8" ;;
  esac
}
