#!/usr/bin/env bash
# Make espeak-ng available to the tests that need real speech (airflow_assemblyai.testing.speech).
# Sourced by scripts/_bootstrap.sh; run it alone to (re)install: `bash scripts/_espeak.sh`.
#
# An espeak-ng on PATH is used as it is. Otherwise Debian's packages are downloaded with
# `apt-get download` (no root needed) and unpacked with `dpkg -x` into .cache/espeak-ng/, with a
# small wrapper, .cache/espeak-ng/bin/espeak-ng, that sets LD_LIBRARY_PATH and ESPEAK_DATA_PATH.
# Only the packages of espeak-ng's dependency closure that dpkg does not already list as installed
# are fetched. When the package lists are empty, root runs `apt-get update`; anyone else updates a
# private copy of the lists under .cache/espeak-ng/apt/. Exports ESPEAK_NG to the command to run.
# Never fatal when sourced: a machine without it still runs every test that does not speak, and
# those that do fail with a message naming this script.

espeak_install() {
  local root cache
  root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
  cache="$root/.cache/espeak-ng"
  if command -v espeak-ng >/dev/null 2>&1; then
    ESPEAK_NG="$(command -v espeak-ng)"
    return 0
  fi
  if [ -x "$cache/bin/espeak-ng" ] && "$cache/bin/espeak-ng" --version >/dev/null 2>&1; then
    ESPEAK_NG="$cache/bin/espeak-ng"
    return 0
  fi
  if ! command -v apt-get >/dev/null 2>&1 || ! command -v dpkg >/dev/null 2>&1; then
    echo "scripts/_espeak.sh: no espeak-ng on PATH and no apt-get/dpkg to fetch Debian's package" >&2
    return 1
  fi
  echo "Installing espeak-ng into .cache/espeak-ng (one time)..." >&2
  local apt_opts=() state="$cache/apt"
  if ! apt-cache policy espeak-ng 2>/dev/null | grep -q 'Candidate: [0-9]'; then
    if [ "$(id -u)" = 0 ]; then
      apt-get update -qq >&2 || return 1
    else
      mkdir -p "$state/lists/partial" "$state/archives/partial"
      apt_opts=(-o "Dir::State::Lists=$state/lists" -o "Dir::Cache=$state"
        -o "Debug::NoLocking=1")
      apt-get "${apt_opts[@]}" update -qq >&2 || return 1
    fi
  fi
  local wanted=() pkg
  # The closure of hard dependencies, less what this machine already has installed.
  for pkg in $(apt-cache "${apt_opts[@]}" depends --recurse --no-recommends --no-suggests \
    --no-conflicts --no-breaks --no-replaces --no-enhances espeak-ng 2>/dev/null \
    | grep -v '^ ' | grep -v '^<' | sort -u); do
    if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed'; then
      wanted+=("$pkg")
    fi
  done
  local debs="$cache/debs"
  rm -rf "$debs" "$cache/root" "$cache/bin"
  mkdir -p "$debs" "$cache/root" "$cache/bin"
  # apt hands downloads to its _apt user, which cannot write into a folder of ours: download as us.
  (cd "$debs" && apt-get "${apt_opts[@]}" -o "APT::Sandbox::User=$(id -un)" download -qq "${wanted[@]}" >&2) \
    || return 1
  local deb
  for deb in "$debs"/*.deb; do
    dpkg -x "$deb" "$cache/root" || return 1
  done
  local libdir
  libdir="$(dirname "$(find "$cache/root" -name 'libespeak-ng.so.1*' | head -n 1)")"
  cat >"$cache/bin/espeak-ng" <<EOF
#!/bin/sh
# Written by scripts/_espeak.sh: Debian's espeak-ng unpacked under .cache/espeak-ng/root.
export LD_LIBRARY_PATH="$libdir:$cache/root/usr/lib/x86_64-linux-gnu:$cache/root/usr/lib/aarch64-linux-gnu\${LD_LIBRARY_PATH:+:\$LD_LIBRARY_PATH}"
export ESPEAK_DATA_PATH="$cache/root/usr/lib/$(basename "$libdir")/espeak-ng-data"
exec "$cache/root/usr/bin/espeak-ng" "\$@"
EOF
  chmod +x "$cache/bin/espeak-ng"
  # ESPEAK_DATA_PATH names the folder that holds espeak-ng-data/ in some builds, the folder itself
  # in others: keep whichever makes the wrapper speak.
  if ! "$cache/bin/espeak-ng" --version >/dev/null 2>&1 || ! "$cache/bin/espeak-ng" --stdout "ok" >/dev/null 2>&1; then
    sed -i "s|/espeak-ng-data\"\$|\"|" "$cache/bin/espeak-ng"
  fi
  if ! "$cache/bin/espeak-ng" --stdout "ok" >/dev/null; then
    echo "scripts/_espeak.sh: the unpacked espeak-ng does not run (see the error above)" >&2
    return 1
  fi
  ESPEAK_NG="$cache/bin/espeak-ng"
}

if espeak_install; then
  export ESPEAK_NG
else
  echo "scripts/_espeak.sh: espeak-ng is not available; tests with synthesized speech will fail" >&2
fi
