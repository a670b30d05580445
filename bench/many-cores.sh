#!/usr/bin/env bash
# The augment service's scaling curve on a host with many cores (issue 16), where the 2-core
# development machine can only project it: bench/scaling.ts once per core count, then with
# AUGMENT_PROCESSES=auto, each run into $OUT.
#
#   OUT=/tmp/many-cores bash bench/many-cores.sh [core counts, default "1 2 4 8 16"]
#
# For a host without Node (the project's GPU test machine), pack Node and the service's
# production dependencies plus tsx and autocannon here first, and carry the pack there:
#
#   mkdir -p /tmp/pack/bin && strip -o /tmp/pack/bin/node "$(command -v node)"
#   cp -al node_modules /tmp/pack/ && (cd /tmp/pack/node_modules && rm -rf typescript @redocly playwright \
#     playwright-core @types openapi-typescript onnxruntime-node onnxruntime-common fast-check pure-rand \
#     @babel js-tokens js-yaml argparse yaml-ast-parser change-case pluralize index-to-position parse-json \
#     agent-base https-proxy-agent uri-js-replace @grpc protobufjs @protobufjs long)
#   mkdir -p .device && tar -C /tmp/pack -cf - bin node_modules | xz -T2 -9e > .device/pack.tar.xz
#
# (37 MB; without onnxruntime-node, so the augment service only: the repository and the pack must
# fit the GPU machine's 64 MiB transfer.) Results of the run quoted in docs/BENCHMARKS.md are in
# bench/results/many-cores/.
#
# The script unpacks it when `node` is missing. It first checks whether `taskset` holds a
# process to its cores on this host (some sandboxes accept the call and ignore it): where it
# does, the service is pinned to cores 0..n-1, with the
# shipped defaults (AUGSERVE_CORES=n sizes the pool); where it does not, the pool is set to n
# threads (UV_THREADPOOL_SIZE=n), which bounds sharp's work to n images at a time, and the
# report says the service could schedule its other threads anywhere.
set -uo pipefail
OUT=${OUT:-/tmp/many-cores}
mkdir -p "$OUT"
counts=${*:-1 2 4 8 16}
if [ -n "${FORCE_PACK:-}" ] || ! command -v node >/dev/null; then
  python3 -c 'import sys, tarfile; tarfile.open(sys.argv[1]).extractall(sys.argv[2])' "${PACK:-.device/pack.tar.xz}" /tmp/pack || exit 1
  export PATH=/tmp/pack/bin:$PATH
  [ -e node_modules ] || ln -s /tmp/pack/node_modules node_modules
fi
# scaling.ts starts the service under taskset; where there is none, a stand-in that runs the command.
if ! command -v taskset >/dev/null; then
  mkdir -p /tmp/pack/bin && printf '#!/bin/sh\nshift 2\nexec "$@"\n' >/tmp/pack/bin/taskset && chmod +x /tmp/pack/bin/taskset
  export PATH=/tmp/pack/bin:$PATH
fi
total=$(nproc)
# Four threads spinning for 1.5 s under `taskset -c 0`: about 1 CPU-second per second if the pin
# holds, about 4 if it does not.
spin='const { Worker } = require("node:worker_threads"); const t0 = Date.now(), c0 = process.cpuUsage();
const ws = [0, 1, 2, 3].map(() => new Worker("const end = Date.now() + 1500; while (Date.now() < end);", { eval: true }));
Promise.all(ws.map((w) => new Promise((r) => w.on("exit", r)))).then(() => { const c = process.cpuUsage(c0); console.log(((c.user + c.system) / 1000 / (Date.now() - t0)).toFixed(2)); });'
ratio=$(taskset -c 0 node -e "$spin" 2>/dev/null || echo none)
pinned=no
if [ "$ratio" != none ] && awk "BEGIN { exit !($ratio < 1.5) }"; then pinned=yes; fi
{
  echo "cores: $total ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//'))"
  echo "node: $(node -v); affinity: $(grep Cpus_allowed_list /proc/self/status | cut -f2)"
  echo "taskset -c 0 with 4 spinning threads: $ratio CPU-s/s, so pinning holds: $pinned"
} | tee "$OUT/host.txt"

for n in $counts; do
  [ "$n" -le "$total" ] || continue
  # Room for 4 requests per core (the service's default, 64, would refuse some at 16 cores).
  env=(--env "AUGSERVE_CORES=$n" --env "MAX_CONCURRENT_REQUESTS=$((8 * n))")
  [ $pinned = yes ] || env+=(--env "UV_THREADPOOL_SIZE=$n")
  # The load generator is not pinned: scaling.ts pins the service to the first n of the CPUs the
  # bench process may use, so pinning the bench process would move the service with it. (The run
  # quoted in docs/BENCHMARKS.md, made with this script at 7677b86, pinned the load generator to
  # CPUs n-15 for n <= 8, when scaling.ts still pinned the service to CPUs 0..n-1 regardless.)
  client=()
  "${client[@]}" node --import tsx bench/scaling.ts --cores "$n" --concurrency $((n < 8 ? 32 : 4 * n)) --only augment "${env[@]}" --out "$OUT/augment-$n.json" >/dev/null
  if [ "$n" -ge 8 ]; then
    # One process per 4 cores, each with a pool of its share (the launcher's default).
    auto=(--env "AUGSERVE_CORES=$n" --env "MAX_CONCURRENT_REQUESTS=$((8 * n))" --env AUGMENT_PROCESSES=auto)
    [ $pinned = yes ] || auto+=(--env UV_THREADPOOL_SIZE=4)
    "${client[@]}" node --import tsx bench/scaling.ts --cores "$n" --concurrency $((4 * n)) --only augment "${auto[@]}" --out "$OUT/augment-$n-processes-auto.json" >/dev/null
  fi
done

# The service against in-process sharp on the whole host (both with a pool of every core).
top=$(for n in $counts; do [ "$n" -le "$total" ] && echo "$n"; done | tail -1)
UV_THREADPOOL_SIZE=$top AUGSERVE_CORES=$top MAX_CONCURRENT_REQUESTS=$((16 * top)) node --import tsx bench/many-cores-suite.ts "$OUT/augment-suite-$top.json" $((4 * top)) 2>&1 | grep 'c='
