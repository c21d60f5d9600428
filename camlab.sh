#!/usr/bin/env bash
# camlab's one entry point on a fresh machine: it creates ./.venv with python3 -m venv, installs camlab and
# its test tools there (again only when pyproject.toml changes), then runs what you ask for.
#
#   ./camlab.sh test     run every test: unit tests, then the solution and student notebooks under nbval
#   ./camlab.sh demo     the course's main job (python -m camlab demo): dataset, model, CAM, boxes, figures
#   ./camlab.sh lab      open the course in JupyterLab (you work in notebooks/student/)
#   ./camlab.sh ARGS...  anything else goes to `python -m camlab ARGS...`
set -euo pipefail
cd "$(dirname "$0")"
PYTHON=${PYTHON:-python3}
VENV=${CAMLAB_VENV:-.venv}

setup() {
  if [ ! -x "$VENV/bin/python" ]; then
    echo "camlab: creating $VENV with $($PYTHON --version)" >&2
    "$PYTHON" -m venv "$VENV"
  fi
  local stamp="$VENV/.camlab-installed" want
  want=$(cat pyproject.toml | "$VENV/bin/python" -c "import hashlib,sys; print(hashlib.sha256(sys.stdin.buffer.read()).hexdigest())")
  if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
    echo "camlab: installing camlab and its dependencies into $VENV (first time: a few minutes)" >&2
    "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check --upgrade pip
    "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check -e ".[test]"
    echo "$want" > "$stamp"
  fi
  export PATH="$PWD/$VENV/bin:$PATH"
  export TF_CPP_MIN_LOG_LEVEL=${TF_CPP_MIN_LOG_LEVEL:-2}
}

cmd=${1:-help}
case "$cmd" in
  test)
    shift; setup
    python -m pytest "$@"
    python -m pytest -p no:cacheprovider --nbval --nbval-sanitize-with notebooks/sanitize.cfg \
      --nbval-cell-timeout 600 notebooks/*.ipynb
    python -m pytest -p no:cacheprovider --nbval-lax --nbval-cell-timeout 600 notebooks/student/*.ipynb
    ;;
  demo)
    shift; setup
    python -m camlab demo "$@"
    ;;
  lab)
    shift; setup
    root=(); [ "$(id -u)" = 0 ] && root=(--allow-root)   # containers often run as root
    echo "camlab: work in notebooks/student/ (your notebooks, exercises empty); notebooks/NN_*.ipynb are the" >&2
    echo "        solutions with their outputs, to read. JupyterLab opens in student/: start with 01_data.ipynb." >&2
    exec jupyter lab "${root[@]}" --ServerApp.root_dir=notebooks --LabApp.default_url=/lab/tree/student "$@"
    ;;
  setup)
    setup
    ;;
  help|-h|--help)
    sed -n '2,9p' "$0" | sed 's/^# \{0,1\}//'
    ;;
  *)
    setup
    exec python -m camlab "$@"
    ;;
esac
