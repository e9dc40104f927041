#!/usr/bin/env bash
# What `mvn -B verify` needs besides Maven artifacts, set up on first use (the root build runs
# this script before any module):
#  - a Python virtual environment with the packages of build/test-requirements.txt, in
#    ~/.cache/dl-analyze/python-<hash of that file>, created once, from the index in pip's
#    configuration (`pip config list`) or else pip's default index; the tests find it through
#    target/test-env/python, a link to it;
#  - Chromium for the HTML report test and zsh for ReleaseIT: installed with apt-get when
#    missing and running as root, otherwise this fails at once with the command that does.
# A second run finds both and returns at once.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
requirements="$root/build/test-requirements.txt"
cache="${XDG_CACHE_HOME:-$HOME/.cache}/dl-analyze"
hash="$(sha256sum "$requirements" | cut -c1-12)"
venv="$cache/python-$hash"
base="${DL_ANALYZE_PYTHON:-python3}"

say() { echo "test-env: $*" >&2; }

make_venv() {
  if ! command -v "$base" >/dev/null 2>&1; then
    say "no $base to build the test environment from: install Python 3.11 (or set DL_ANALYZE_PYTHON)"
    exit 1
  fi
  say "creating $venv (once; a few minutes)"
  rm -rf "$venv"
  if ! "$base" -m venv "$venv"; then
    say "$base cannot create a virtual environment: apt-get install python3-venv"
    exit 1
  fi
  # The indexes of pip's configuration, passed on explicitly: its index-url, or else its first
  # extra-index-url, as --index-url (so that pip does not try its default index first); the
  # other ones and its find-links as they are. Without any, pip's default index.
  local index="" extra=() links=() key value v
  while IFS='=' read -r key value; do
    value="${value#\'}"; value="${value%\'}"
    case "$key" in
      *.extra-index-url) for v in $value; do extra+=("$v"); done ;;
      *.index-url) index="$value" ;;
      *.find-links) for v in $value; do links+=("$v"); done ;;
    esac
  done < <("$base" -m pip config list 2>/dev/null || true)
  if [ -z "$index" ] && [ ${#extra[@]} -gt 0 ]; then
    index="${extra[0]}"; extra=("${extra[@]:1}")
  fi
  local args=()
  [ -n "$index" ] && args+=(--index-url "$index")
  for v in ${extra[@]+"${extra[@]}"}; do args+=(--extra-index-url "$v"); done
  for v in ${links[@]+"${links[@]}"}; do args+=(--find-links "$v"); done
  say "pip install ${args[*]:-} -r build/test-requirements.txt"
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check ${args[@]+"${args[@]}"} \
    -r "$requirements"
  "$venv/bin/python" -c 'import torch, tensorflow, keras, pyarrow, lightning, sklearn, pytest' \
    2>/dev/null
  touch "$venv/.complete"
}

mkdir -p "$cache"
if [ ! -f "$venv/.complete" ]; then
  exec 9>"$venv.lock"
  flock 9  # another checkout may be creating the same environment
  [ -f "$venv/.complete" ] || make_venv
  exec 9>&-
fi
mkdir -p "$root/target/test-env"
ln -sfn "$venv" "$root/target/test-env/python"

# Debian packages: chromium (the HTML report test), zsh (ReleaseIT runs the completion script).
need=()
command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1 || need+=(chromium)
command -v zsh >/dev/null 2>&1 || need+=(zsh)
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    say "installing ${need[*]} (once)"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >/dev/null
    apt-get install -y -qq "${need[@]}" >/dev/null
  else
    say "missing ${need[*]} (the tests use them): sudo apt-get install ${need[*]}"
    exit 1
  fi
fi
