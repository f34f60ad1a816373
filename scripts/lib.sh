# Shared by the scripts in this folder (sourced, not run).

# ensure_venv REQUIREMENTS_FILE ESTIMATE [VENV]: create VENV (default .venv) if missing and install the pinned
# requirements, saying what it does and how long it took. Skipped when the requirements have not changed
# since the last install (a stamp in the venv holds their checksum).
ensure_venv() {
  local requirements="$1" venv="${3:-.venv}" stamp sum started
  stamp="$venv/.installed-$(basename "$requirements").sha256"
  # Every requirements file: a file may include another with -r.
  sum=$(cat requirements*.txt | sha256sum | cut -c1-64)
  if [ -x "$venv/bin/python" ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$sum" ]; then
    return 0
  fi
  started=$(date +%s)
  if [ ! -x "$venv/bin/python" ]; then
    echo "${0##*/}: creating $venv with $(python3 --version 2>&1)" >&2
    python3 -m venv "$venv"
  fi
  echo "${0##*/}: installing the pinned dependencies of $requirements into $venv (first run: about $2; later runs skip this)" >&2
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check --progress-bar off -r "$requirements" &
  local pip=$! waited=0
  # A line a minute, so a long install (a compiler at work) never looks hung.
  while kill -0 "$pip" 2>/dev/null; do
    sleep 5
    waited=$((waited + 5))
    if [ $((waited % 60)) -eq 0 ] && kill -0 "$pip" 2>/dev/null; then
      echo "${0##*/}: still installing ($((waited / 60)) min so far)" >&2
    fi
  done
  wait "$pip"
  echo "$sum" > "$stamp"
  echo "${0##*/}: dependencies installed in $(( $(date +%s) - started )) s" >&2
}
