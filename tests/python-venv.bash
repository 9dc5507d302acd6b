# The Python tools the scripts run (cargo-lambda, cfn-lint, yamllint, shellcheck, PyYAML) live in
# a virtual environment of the project's own, never in the system's Python: Debian's refuses pip
# installs (PEP 668, "externally managed"), and a tool found elsewhere on PATH may belong to
# another Python. Sourced by tests/run, tests/manifests, tests/deploy/install-tools,
# tests/lambda-package and tests/static-root.
#
#   source tests/python-venv.bash
#   use_python_venv                   # creates the venv if need be; puts its bin/ first on PATH
#   python_tool cfn-lint              # COMMAND [PACKAGE]: use_python_venv, then pip installs PACKAGE
#                                     # (default: COMMAND) into the venv unless the venv has COMMAND
#   python_module yaml pyyaml         # MODULE [PACKAGE]: the same for a module the venv's Python imports

PYTHON_VENV="${XDG_CACHE_HOME:-$HOME/.cache}/wx-stats/venv"

venv_die() { printf 'python-venv: %s\n' "$*" >&2; exit 1; }

# A venv counts only if its Python runs and has pip: a half-made one (python3 -m venv without
# ensurepip) or one whose Python was removed is made again.
venv_usable() { "$PYTHON_VENV/bin/python" -c 'import pip' >/dev/null 2>&1; }

make_python_venv() {
  local log
  command -v python3 >/dev/null || venv_die "python3 not found: install Python 3 (Debian: apt-get install python3 python3-venv)"
  printf 'python-venv: creating %s with %s\n' "$PYTHON_VENV" "$(command -v python3)" >&2
  mkdir -p "$(dirname "$PYTHON_VENV")"
  log="$(python3 -m venv --clear "$PYTHON_VENV" 2>&1)" && venv_usable && return
  # Debian's python3 leaves venv's ensurepip out, in python3-venv.
  if command -v apt-get >/dev/null && ((EUID == 0)); then
    printf 'python-venv: python3 -m venv failed; installing python3-venv with apt-get\n' >&2
    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv; } >&2 ||
      venv_die "apt-get install python3-venv failed: install it (as root: apt-get install python3-venv)"
    log="$(python3 -m venv --clear "$PYTHON_VENV" 2>&1)" && venv_usable && return
  fi
  printf '%s\n' "$log" >&2
  venv_die "python3 -m venv $PYTHON_VENV failed (error above); on Debian, install python3-venv (apt-get install python3-venv)"
}

use_python_venv() {
  venv_usable || make_python_venv
  case ":$PATH:" in
    ":$PYTHON_VENV/bin:"*) ;;
    *) PATH="$PYTHON_VENV/bin:$PATH" ;;
  esac
  export PATH
  hash -r
}

# venv_pip_install PACKAGE...: into the venv, or die.
venv_pip_install() {
  printf 'python-venv: pip install %s into %s\n' "$*" "$PYTHON_VENV" >&2
  "$PYTHON_VENV/bin/python" -m pip install --quiet --disable-pip-version-check "$@" ||
    venv_die "pip install $* into $PYTHON_VENV failed"
  hash -r
}

python_tool() {
  local command="$1" package="${2:-$1}"
  use_python_venv
  [[ -x "$PYTHON_VENV/bin/$command" ]] && return
  venv_pip_install "$package"
  [[ -x "$PYTHON_VENV/bin/$command" ]] || venv_die "pip installed $package, but $PYTHON_VENV/bin has no $command"
}

python_module() {
  local module="$1" package="${2:-$1}"
  use_python_venv
  "$PYTHON_VENV/bin/python" -c "import $module" 2>/dev/null && return
  venv_pip_install "$package"
  "$PYTHON_VENV/bin/python" -c "import $module" || venv_die "pip installed $package, but the venv's Python cannot import $module"
}
