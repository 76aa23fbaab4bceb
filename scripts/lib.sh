# shellcheck shell=bash
# Helpers shared by the scripts in this directory. Source it; it sets no shell
# options of its own.

# Prints a message prefixed with the calling script's name to stderr.
weir_log() {
  printf '%s: %s\n' "${0##*/}" "$*" >&2
}

# Prints a message to stderr and exits 1.
weir_die() {
  weir_log "error: $*"
  exit 1
}

# Runs a command as root: directly when already root, else through sudo.
weir_as_root() {
  if [[ ${EUID:-$(id -u)} -eq 0 ]]; then
    "$@"
  elif command -v sudo >/dev/null 2>&1; then
    sudo "$@"
  else
    weir_die "need root (or sudo) to run: $*"
  fi
}

# True when a TCP listener answers on 127.0.0.1:PORT.
weir_port_open() {
  local port=$1
  (exec 3<>"/dev/tcp/127.0.0.1/${port}") 2>/dev/null
}

# Cache directory for downloaded artefacts (Kafka jars, ...).
weir_cache_dir() {
  printf '%s\n' "${WEIR_CACHE_DIR:-${HOME}/.cache/weir}"
}

# Escapes a string for use as a literal inside an extended regular expression.
weir_regex_escape() {
  printf '%s' "$1" | sed -e 's/[][\\.*^$+?(){}|]/\\&/g'
}

# Prints the CMake argument that compiles through ccache when it is installed
# and WEIR_CCACHE is not 0, else one that compiles directly (so a build
# directory configured with ccache can be switched off). Paths under the
# checkout are hashed relative to it, so clones in other folders share hits.
weir_compiler_launcher() {
  if [[ ${WEIR_CCACHE:-1} != 0 ]] && command -v ccache >/dev/null 2>&1; then
    local root
    root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
    printf '%s\n' "-DCMAKE_CXX_COMPILER_LAUNCHER=env;CCACHE_BASEDIR=$root;CCACHE_NOHASHDIR=true;ccache"
  else
    printf '%s\n' "-DCMAKE_CXX_COMPILER_LAUNCHER="
  fi
}
