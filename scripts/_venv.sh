# Sourced by the scripts: finds Python 3.13 and keeps .venv in step with a requirements file.

find_python() {
  if command -v pyenv >/dev/null 2>&1 && PYENV_VERSION=3.13.0 pyenv which python3.13 >/dev/null 2>&1; then
    PYENV_VERSION=3.13.0 pyenv which python3.13
  elif command -v python3.13 >/dev/null 2>&1; then
    command -v python3.13
  else
    echo "Python 3.13 is needed (pyenv install 3.13.0, or a system python3.13)" >&2
    return 1
  fi
}

# ensure_venv REQUIREMENTS [VENV_DIR]: create the venv if missing and install the
# requirements when they changed since the last install.
ensure_venv() {
  local requirements=$1 venv=${2:-.venv}
  if [ ! -x "$venv/bin/python" ]; then
    "$(find_python)" -m venv "$venv"
  fi
  local stamp="$venv/.installed-$(basename "$requirements")"
  if [ ! -f "$stamp" ] || ! cmp -s "$requirements" "$stamp"; then
    "$venv/bin/python" -m pip install --quiet --upgrade pip uv
    "$venv/bin/python" -m uv pip install --quiet --python "$venv/bin/python" -r "$requirements"
    cp "$requirements" "$stamp"
  fi
}
