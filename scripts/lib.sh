# Shared by the scripts in this folder (sourced, not run).
# ensure_venv REQUIREMENTS_FILE: create .venv if missing and install the pinned requirements.
ensure_venv() {
  if [ ! -x .venv/bin/python ]; then
    python3 -m venv .venv
  fi
  .venv/bin/python -m pip install --quiet --disable-pip-version-check -r "$1"
}
