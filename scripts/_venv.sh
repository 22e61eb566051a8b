# Sourced by the quick-start scripts: create (once) the project-local virtual environment in .venv
# and make it match a lock file. The system Python is never changed: every install goes into .venv.
# usage: ensure_venv requirements/<name>.lock [extra]
ensure_venv() {
  local lock="$1" extra="${2:-}" venv=".venv" stamp
  if [ ! -x "$venv/bin/python" ]; then
    python3 -m venv "$venv"
  fi
  # Reinstall only when the lock or the project's metadata changed since the last install.
  stamp="$(cat "$lock" pyproject.toml | sha256sum | cut -c1-16)-${extra}"
  if [ "$(cat "$venv/.scaleready-lock" 2>/dev/null)" != "$stamp" ]; then
    "$venv/bin/python" -m pip install -q --disable-pip-version-check --upgrade "pip>=24"
    "$venv/bin/python" -m pip install -q --disable-pip-version-check -r "$lock"
    "$venv/bin/python" -m pip install -q --disable-pip-version-check --no-deps -e ".${extra:+[$extra]}"
    echo "$stamp" > "$venv/.scaleready-lock"
  fi
  export VIRTUAL_ENV="$PWD/$venv"
  export PATH="$VIRTUAL_ENV/bin:$PATH"
}
