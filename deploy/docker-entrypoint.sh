#!/bin/sh
# Picks the service from the first argument and execs it, so that node replaces this shell and
# receives tini's SIGTERM directly. Anything else runs as given (`docker run IMAGE sh`, `node -e ...`).
set -eu

cd "${AUGSERVE_HOME:-/app}"

case "${1:-}" in
  augment | inference)
    service="$1"
    shift
    exec node "dist/services/${service}/server.js" "$@"
    ;;
  "" | -h | --help)
    echo "usage: docker run IMAGE augment|inference  (or any command to run instead)" >&2
    exit 64
    ;;
  *)
    exec "$@"
    ;;
esac
