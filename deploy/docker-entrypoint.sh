#!/bin/sh
# Picks the service from the first argument and execs it, so that node replaces this shell and
# receives tini's SIGTERM directly. Anything else runs as given (`docker run IMAGE sh`, `node -e ...`).
set -eu

cd "${AUGSERVE_HOME:-/app}"

case "${1:-}" in
  augment | inference)
    service="$1"
    shift
    # libuv reads its pool size once, at first use: set it from the cores (AUGSERVE_CORES, which
    # the Kubernetes manifests take from the CPU limit, else the CPUs this container may use)
    # before node starts, unless the operator set it.
    if [ -z "${UV_THREADPOOL_SIZE:-}" ]; then
      UV_THREADPOOL_SIZE="$(node dist/services/shared/parallelism.mjs threadpool "${service}")"
      export UV_THREADPOOL_SIZE
    fi
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
