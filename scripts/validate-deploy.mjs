#!/usr/bin/env node
/**
 * Offline checks of the deployment files: Dockerfile, .dockerignore, docker-compose.yml,
 * deploy/ (Kubernetes, KServe, Prometheus) against each other and against openapi.yaml.
 * No Docker engine, cluster or network needed. Linters found on PATH (yamllint, shellcheck,
 * promtool, docker-compose / docker compose, kubeconform) also run unless --no-external; none is
 * required.
 *
 *   node scripts/validate-deploy.mjs [--root DIR] [--no-external] [--json]
 *
 * Exit status: 0 when no rule failed, 1 otherwise.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments, parse as parseYaml } from 'yaml';

const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

/** Services the image runs, with the variable holding each one's port. */
const SERVICES = { augment: 'AUGMENT_PORT', inference: 'INFERENCE_PORT' };

/** Every rule, with what it asserts; findings carry the rule id. */
export const RULES = {
  'yaml/parse': 'every YAML file parses without errors or warnings',
  'dockerfile/from-pinned': 'every FROM names an earlier stage or an image with an explicit tag or digest, never latest',
  'dockerfile/targets': 'stages gpu and cpu exist, gpu is the last (default) one',
  'dockerfile/user': 'each runtime stage switches to a non-root USER before ENTRYPOINT/CMD',
  'dockerfile/healthcheck': 'each runtime stage has a HEALTHCHECK that asks /health/live',
  'dockerfile/tini': 'each runtime stage has an exec-form ENTRYPOINT starting with tini --',
  'dockerfile/cmd': 'each runtime stage has an exec-form CMD naming a service',
  'dockerfile/env': 'each runtime stage sets MALLOC_ARENA_MAX=2, HOST=0.0.0.0, MODEL_REPOSITORY and both ports',
  'dockerfile/expose': 'each runtime stage EXPOSEs the port of both services',
  'dockerfile/gpu-install': 'the gpu stage gets node_modules from a stage that installs ORT with ONNXRUNTIME_NODE_INSTALL=cuda12 (directly or through `npm run install:cuda`)',
  'dockerfile/copy-source': 'every COPY source exists in the build context and is not excluded by .dockerignore',
  'dockerignore/required': '.dockerignore excludes node_modules, .git, .data, test-artifacts, bench/work and Python caches',
  'entrypoint/exec': 'the entrypoint script execs node for augment and for inference; the compiled dist/ it runs is built in a stage (npm run build) and copied into each runtime stage (or, for --import tsx, tsx is a production dependency)',
  'compose/services': 'docker-compose.yml runs augment and inference from one image with command, healthcheck and ports',
  'compose/gpu': 'the inference service reserves one NVIDIA GPU',
  'compose/monitoring': 'an optional prometheus service (profile monitoring) mounts deploy/prometheus/prometheus.yml',
  'prometheus/targets': 'Prometheus scrapes /metrics of both compose services on their ports',
  'k8s/required-fields': 'every manifest has apiVersion, kind and metadata.name',
  'k8s/kustomization': 'kustomization.yaml lists existing files and every manifest beside it (Jobs, run on demand, excepted)',
  'k8s/container': 'every container has an image, ports, readiness and liveness probes, resource requests and limits',
  'k8s/image-tag': 'every image has an explicit tag that is not latest',
  'k8s/probe-path': 'every httpGet probe path is a route of openapi.yaml',
  'k8s/probe-port': 'every probe port is a port the container declares',
  'k8s/security': 'pods run as non-root without privilege escalation',
  'k8s/gpu': 'the inference containers limit nvidia.com/gpu to 1 and have a startupProbe',
  'k8s/service-ports': 'each Service selects a Deployment and targets one of its container ports',
  'k8s/dataset-job': 'each Job is an Indexed Job running augment-dataset with --shard-index $(JOB_COMPLETION_INDEX) and --shard-count equal to completions, against an augment Service and port declared here, writing under a mounted PersistentVolumeClaim, its container with image, resources and security as the services',
  'k8s/hpa': 'each HorizontalPodAutoscaler targets an existing Deployment with sane bounds',
  'kserve/inferenceservice': 'the InferenceService speaks protocol v2 through a runtime whose container serves INFERENCE_PORT with probes',
  'ports/consistency': 'each service has one port everywhere: Dockerfile ENV and EXPOSE, compose, Prometheus, Kubernetes, KServe (inference gRPC: INFERENCE_GRPC_PORT, default 8001)',
};

/**
 * Runs every rule against the files under `root`.
 * @param {{ root?: string, external?: boolean }} [options]
 * @returns {{ errors: Array<{rule: string, file: string, message: string}>, ran: string[], tools: Array<{tool: string, ok: boolean, output: string}> }}
 * @example const { errors } = validateDeploy({ root: '/work/main', external: false });
 */
export function validateDeploy({ root = REPO_ROOT, external = true } = {}) {
  const errors = [];
  const ran = new Set();
  const rel = (file) => path.relative(root, file) || file;
  const fail = (rule, file, message) => errors.push({ rule, file: rel(file), message });
  const check = (rule) => ran.add(rule);

  // ---- YAML -------------------------------------------------------------------------------
  check('yaml/parse');
  const yamlFiles = [
    path.join(root, 'docker-compose.yml'),
    ...listFiles(path.join(root, 'deploy')).filter((f) => /\.ya?ml$/.test(f)),
  ];
  /** @type {Map<string, any[]>} */
  const docsByFile = new Map();
  for (const file of yamlFiles) {
    if (!existsSync(file)) {
      fail('yaml/parse', file, 'missing');
      continue;
    }
    const docs = [];
    for (const doc of parseAllDocuments(readFileSync(file, 'utf8'))) {
      for (const problem of [...doc.errors, ...doc.warnings]) fail('yaml/parse', file, problem.message.split('\n')[0]);
      const value = doc.toJS();
      if (value !== null && value !== undefined) docs.push(value);
    }
    docsByFile.set(file, docs);
  }
  const routes = openapiRoutes(root, fail);

  // ---- Dockerfile ---------------------------------------------------------------------------
  const dockerfilePath = path.join(root, 'Dockerfile');
  const dockerfile = existsSync(dockerfilePath) ? parseDockerfile(readFileSync(dockerfilePath, 'utf8')) : undefined;
  if (!dockerfile) fail('dockerfile/targets', dockerfilePath, 'missing');
  const ports = {};
  const dockerignore = readDockerignore(root);
  if (dockerfile) {
    const { stages } = dockerfile;
    const stageNames = new Set();
    check('dockerfile/from-pinned');
    for (const stage of stages) {
      const image = stage.image;
      if (!stageNames.has(image)) {
        const pinned = /@sha256:[0-9a-f]{64}$/.test(image) || /:[^/:]+$/.test(image);
        if (image.includes('$')) fail('dockerfile/from-pinned', dockerfilePath, `FROM ${stage.raw}: unresolved variable in ${image}`);
        else if (!pinned) fail('dockerfile/from-pinned', dockerfilePath, `FROM ${image}: no tag or digest`);
        else if (/:latest(@|$)/.test(image)) fail('dockerfile/from-pinned', dockerfilePath, `FROM ${image}: latest is not a pinned tag`);
      }
      if (stage.name) stageNames.add(stage.name);
    }

    check('dockerfile/targets');
    const byName = new Map(stages.filter((s) => s.name).map((s) => [s.name, s]));
    for (const target of ['gpu', 'cpu']) {
      if (!byName.has(target)) fail('dockerfile/targets', dockerfilePath, `no stage named ${target} (docker build --target ${target})`);
    }
    const last = stages.at(-1);
    if (last && last.name !== 'gpu') fail('dockerfile/targets', dockerfilePath, `the last stage (the default target) is ${last.name ?? 'unnamed'}, expected gpu`);

    const runtimeStages = ['cpu', 'gpu'].map((n) => byName.get(n)).filter(Boolean);
    for (const rule of ['dockerfile/user', 'dockerfile/healthcheck', 'dockerfile/tini', 'dockerfile/cmd', 'dockerfile/env', 'dockerfile/expose']) check(rule);
    for (const stage of runtimeStages) {
      const where = `stage ${stage.name}`;
      const ins = stage.instructions;
      const firstRun = ins.findIndex((i) => i.op === 'ENTRYPOINT' || i.op === 'CMD');
      const users = ins.filter((i, index) => i.op === 'USER' && (firstRun === -1 || index < firstRun));
      const lastUser = users.at(-1)?.args.trim().split(':')[0];
      if (!lastUser) fail('dockerfile/user', dockerfilePath, `${where}: no USER before ENTRYPOINT/CMD, so it runs as root`);
      else if (lastUser === 'root' || lastUser === '0') fail('dockerfile/user', dockerfilePath, `${where}: USER ${lastUser} is root`);
      if (ins.some((i, index) => i.op === 'USER' && index > ins.indexOf(users.at(-1)) && /^(root|0)(:|$)/.test(i.args.trim()))) {
        fail('dockerfile/user', dockerfilePath, `${where}: switches back to root`);
      }

      const health = ins.filter((i) => i.op === 'HEALTHCHECK').at(-1);
      if (!health || /^NONE\b/i.test(health.args.trim())) fail('dockerfile/healthcheck', dockerfilePath, `${where}: no HEALTHCHECK`);
      else if (!health.args.includes('/health/live')) fail('dockerfile/healthcheck', dockerfilePath, `${where}: HEALTHCHECK does not ask /health/live`);

      const entrypoint = execForm(ins.filter((i) => i.op === 'ENTRYPOINT').at(-1));
      if (!entrypoint) fail('dockerfile/tini', dockerfilePath, `${where}: no exec-form ENTRYPOINT`);
      else if (!/(^|\/)tini$/.test(entrypoint[0] ?? '') || entrypoint[1] !== '--') {
        fail('dockerfile/tini', dockerfilePath, `${where}: ENTRYPOINT ${JSON.stringify(entrypoint)} does not start with tini --`);
      } else {
        const script = entrypoint[2];
        const copied = script && ins.find((i) => i.op === 'COPY' && i.args.trim().endsWith(script));
        if (!copied) fail('dockerfile/tini', dockerfilePath, `${where}: ENTRYPOINT runs ${script}, which no COPY puts there`);
      }

      const cmd = execForm(ins.filter((i) => i.op === 'CMD').at(-1));
      if (!cmd) fail('dockerfile/cmd', dockerfilePath, `${where}: no exec-form CMD`);
      else if (!(cmd[0] in SERVICES)) fail('dockerfile/cmd', dockerfilePath, `${where}: CMD ${JSON.stringify(cmd)} names no service (${Object.keys(SERVICES).join(', ')})`);

      const env = stageEnv(stage);
      const expect = { MALLOC_ARENA_MAX: '2', HOST: '0.0.0.0' };
      for (const [name, value] of Object.entries(expect)) {
        if (env.get(name) !== value) fail('dockerfile/env', dockerfilePath, `${where}: expected ENV ${name}=${value}, got ${env.get(name) ?? 'nothing'}`);
      }
      if (!env.get('MODEL_REPOSITORY')) fail('dockerfile/env', dockerfilePath, `${where}: no ENV MODEL_REPOSITORY`);
      const exposed = new Set(ins.filter((i) => i.op === 'EXPOSE').flatMap((i) => i.args.trim().split(/\s+/).map((p) => p.split('/')[0])));
      for (const [service, variable] of Object.entries(SERVICES)) {
        const port = env.get(variable);
        if (!port) {
          fail('dockerfile/env', dockerfilePath, `${where}: no ENV ${variable}`);
          continue;
        }
        if (ports[service] && ports[service] !== Number(port)) fail('ports/consistency', dockerfilePath, `${where}: ${variable}=${port}, another stage says ${ports[service]}`);
        ports[service] ??= Number(port);
        if (!exposed.has(port)) fail('dockerfile/expose', dockerfilePath, `${where}: ${service} listens on ${port} but EXPOSE lists ${[...exposed].join(' ') || 'nothing'}`);
      }
    }

    check('dockerfile/gpu-install');
    const gpu = byName.get('gpu');
    if (gpu) {
      const chain = stageChain(byName, gpu.instructions.find((i) => i.op === 'COPY' && /--from=\S+/.test(i.args) && /node_modules/.test(i.args))?.args.match(/--from=(\S+)/)?.[1]);
      const cudaScript = readPackageJson(root)?.scripts?.['install:cuda'] ?? '';
      const installsCuda = (args) => /ONNXRUNTIME_NODE_INSTALL=cuda12\b/.test(args) || (/\bnpm run install:cuda\b/.test(args) && /ONNXRUNTIME_NODE_INSTALL=cuda12\b/.test(cudaScript));
      const installs = chain.some((s) => s.instructions.some((i) => i.op === 'RUN' && installsCuda(i.args)));
      if (!installs) fail('dockerfile/gpu-install', dockerfilePath, 'the gpu stage copies node_modules from no stage that runs the ORT install with ONNXRUNTIME_NODE_INSTALL=cuda12');
    }

    check('dockerfile/copy-source');
    for (const stage of stages) {
      for (const i of stage.instructions.filter((x) => x.op === 'COPY' || x.op === 'ADD')) {
        if (/--from=/.test(i.args)) continue;
        const parts = execForm(i) ?? i.args.trim().split(/\s+/).filter((p) => !p.startsWith('--'));
        for (const source of parts.slice(0, -1)) {
          const clean = source.replace(/^\.\//, '').replace(/\/$/, '');
          if (!existsSync(path.join(root, clean))) fail('dockerfile/copy-source', dockerfilePath, `COPY ${source}: not in the build context`);
          else if (dockerignore.excludes(clean)) fail('dockerfile/copy-source', dockerfilePath, `COPY ${source}: excluded by .dockerignore`);
        }
      }
    }
  }

  check('dockerignore/required');
  if (!dockerignore.found) fail('dockerignore/required', path.join(root, '.dockerignore'), 'missing');
  else {
    for (const p of ['node_modules', 'services/x/node_modules', '.git', '.data', 'test-artifacts', 'bench/work', 'models/training/__pycache__', 'x.pyc']) {
      if (!dockerignore.excludes(p)) fail('dockerignore/required', path.join(root, '.dockerignore'), `does not exclude ${p}`);
    }
  }

  check('entrypoint/exec');
  const entrypointPath = path.join(root, 'deploy', 'docker-entrypoint.sh');
  if (!existsSync(entrypointPath)) fail('entrypoint/exec', entrypointPath, 'missing');
  else {
    const text = readFileSync(entrypointPath, 'utf8');
    if (!text.startsWith('#!')) fail('entrypoint/exec', entrypointPath, 'no shebang line');
    if (!/\bexec node\b/.test(text)) fail('entrypoint/exec', entrypointPath, 'does not exec node, so node would not get tini\'s signals');
    for (const service of Object.keys(SERVICES)) {
      if (!text.includes(service)) fail('entrypoint/exec', entrypointPath, `does not handle ${service}`);
    }
    const pkgPath = path.join(root, 'package.json');
    let pkg = {};
    try {
      pkg = JSON.parse(readFileSync(pkgPath, 'utf8'));
    } catch (error) {
      fail('entrypoint/exec', pkgPath, `unreadable: ${error.message}`);
    }
    if (/--import tsx\b/.test(text) && !pkg.dependencies?.tsx) {
      fail('entrypoint/exec', pkgPath, 'tsx runs the services but is not in dependencies, so npm ci --omit=dev leaves it out of the image');
    }
    const dockerfileStages = dockerfile?.stages;
    if (/\bdist\//.test(text) && dockerfileStages) {
      if (!dockerfileStages.some((stage) => stage.instructions.some((i) => i.op === 'RUN' && /\bnpm run build\b/.test(i.args)))) {
        fail('entrypoint/exec', dockerfilePath, 'the entrypoint runs dist/ but no stage runs npm run build');
      }
      for (const name of ['cpu', 'gpu']) {
        const stage = dockerfileStages.find((x) => x.name === name);
        if (stage && !stage.instructions.some((i) => i.op === 'COPY' && /\bdist\b/.test(i.args))) {
          fail('entrypoint/exec', dockerfilePath, `stage ${name} does not COPY the compiled dist/ the entrypoint runs`);
        }
      }
    }
  }

  // ---- docker compose + Prometheus ------------------------------------------------------------
  const composePath = path.join(root, 'docker-compose.yml');
  const compose = docsByFile.get(composePath)?.[0];
  for (const rule of ['compose/services', 'compose/gpu', 'compose/monitoring', 'ports/consistency', 'prometheus/targets']) check(rule);
  const promPath = path.join(root, 'deploy', 'prometheus', 'prometheus.yml');
  if (compose) {
    const images = new Set();
    for (const [service, variable] of Object.entries(SERVICES)) {
      const s = compose.services?.[service];
      if (!s) {
        fail('compose/services', composePath, `no service ${service}`);
        continue;
      }
      images.add(s.image);
      const command = Array.isArray(s.command) ? s.command : String(s.command ?? '').split(/\s+/);
      if (command[0] !== service) fail('compose/services', composePath, `${service}: command ${JSON.stringify(s.command)} does not start ${service}`);
      if (!s.healthcheck?.test) fail('compose/services', composePath, `${service}: no healthcheck`);
      const port = ports[service];
      const envPort = environment(s.environment)[variable];
      if (port && envPort !== undefined && Number(envPort) !== port) fail('ports/consistency', composePath, `${service}: ${variable}=${envPort}, the Dockerfile says ${port}`);
      const listen = Number(envPort ?? port);
      const targets = (s.ports ?? []).map(containerPort);
      if (targets.length === 0) fail('compose/services', composePath, `${service}: no ports`);
      else if (!targets.includes(listen)) fail('ports/consistency', composePath, `${service}: publishes container port ${targets.join(', ')}, but it listens on ${listen}`);
      const healthText = JSON.stringify(s.healthcheck?.test ?? '');
      const healthPort = healthText.match(/:(\d+)\/health\//)?.[1];
      if (healthPort && Number(healthPort) !== listen) fail('ports/consistency', composePath, `${service}: healthcheck asks port ${healthPort}, it listens on ${listen}`);
    }
    if (images.size > 1) fail('compose/services', composePath, `augment and inference use different images: ${[...images].join(', ')}`);
    for (const image of images) if (typeof image === 'string' && /:latest$/.test(image)) fail('k8s/image-tag', composePath, `image ${image}: latest`);

    const devices = compose.services?.inference?.deploy?.resources?.reservations?.devices ?? [];
    const gpu = devices.find((d) => d.driver === 'nvidia' && (d.capabilities ?? []).flat().includes('gpu'));
    if (!gpu) fail('compose/gpu', composePath, 'inference reserves no device with driver nvidia and capabilities [gpu]');
    else if (gpu.count !== 1 && gpu.count !== '1') fail('compose/gpu', composePath, `inference reserves count ${gpu.count}, expected 1`);

    const prom = compose.services?.prometheus;
    if (!prom) fail('compose/monitoring', composePath, 'no prometheus service');
    else {
      if (!(prom.profiles ?? []).includes('monitoring')) fail('compose/monitoring', composePath, 'prometheus is not in profile monitoring, so it would always start');
      if (!(prom.volumes ?? []).some((v) => String(typeof v === 'string' ? v : v.source).includes('deploy/prometheus/prometheus.yml'))) {
        fail('compose/monitoring', composePath, 'prometheus does not mount deploy/prometheus/prometheus.yml');
      }
      if (typeof prom.image !== 'string' || !/:[^/:]+$/.test(prom.image) || /:latest$/.test(prom.image)) fail('compose/monitoring', composePath, `prometheus image ${prom.image} is not pinned`);
    }
  } else if (docsByFile.has(composePath)) fail('compose/services', composePath, 'empty');

  const prom = docsByFile.get(promPath)?.[0];
  if (!prom) fail('prometheus/targets', promPath, 'missing or empty');
  else {
    for (const service of Object.keys(SERVICES)) {
      const jobs = (prom.scrape_configs ?? []).filter((job) => (job.static_configs ?? []).some((c) => (c.targets ?? []).some((t) => String(t).startsWith(`${service}:`))));
      if (jobs.length === 0) fail('prometheus/targets', promPath, `no job scrapes ${service}`);
      for (const job of jobs) {
        if ((job.metrics_path ?? '/metrics') !== '/metrics') fail('prometheus/targets', promPath, `job ${job.job_name}: metrics_path ${job.metrics_path}`);
        for (const target of job.static_configs.flatMap((c) => c.targets ?? []).filter((t) => String(t).startsWith(`${service}:`))) {
          const port = Number(String(target).split(':')[1]);
          if (ports[service] && port !== ports[service]) fail('ports/consistency', promPath, `job ${job.job_name}: scrapes ${target}, ${service} listens on ${ports[service]}`);
        }
      }
    }
  }

  // ---- Kubernetes + KServe -----------------------------------------------------------------------
  for (const rule of ['k8s/required-fields', 'k8s/kustomization', 'k8s/container', 'k8s/image-tag', 'k8s/probe-path', 'k8s/probe-port', 'k8s/security', 'k8s/gpu', 'k8s/service-ports', 'k8s/dataset-job', 'k8s/hpa', 'kserve/inferenceservice']) check(rule);
  const manifestDirs = [path.join(root, 'deploy', 'kubernetes'), path.join(root, 'deploy', 'kserve')];
  /** @type {Array<{file: string, doc: any}>} */
  const manifests = [];
  for (const [file, docs] of docsByFile) {
    if (!manifestDirs.some((dir) => file.startsWith(dir + path.sep))) continue;
    for (const doc of docs) {
      if (doc?.kind === 'Kustomization') continue;
      manifests.push({ file, doc });
      for (const field of ['apiVersion', 'kind']) if (!doc?.[field]) fail('k8s/required-fields', file, `a document has no ${field}`);
      if (!doc?.metadata?.name) fail('k8s/required-fields', file, `${doc?.kind ?? 'a document'} has no metadata.name`);
    }
  }

  const kustomizationPath = path.join(root, 'deploy', 'kubernetes', 'kustomization.yaml');
  const kustomization = docsByFile.get(kustomizationPath)?.[0];
  if (!kustomization) fail('k8s/kustomization', kustomizationPath, 'missing or empty');
  else {
    const listed = new Set((kustomization.resources ?? []).map((r) => path.join(root, 'deploy', 'kubernetes', r)));
    for (const file of listed) if (!existsSync(file)) fail('k8s/kustomization', kustomizationPath, `lists ${rel(file)}, which does not exist`);
    for (const file of readdirSync(path.join(root, 'deploy', 'kubernetes')).filter((f) => /\.ya?ml$/.test(f) && !/^kustomization\.ya?ml$/.test(f))) {
      const full = path.join(root, 'deploy', 'kubernetes', file);
      const docs = docsByFile.get(full) ?? [];
      if (docs.length > 0 && docs.every((doc) => doc?.kind === 'Job')) continue;
      if (!listed.has(full)) fail('k8s/kustomization', kustomizationPath, `does not list ${rel(full)}`);
    }
  }

  const deployments = manifests.filter((m) => m.doc?.kind === 'Deployment');
  const runtimes = manifests.filter((m) => m.doc?.kind === 'ServingRuntime' || m.doc?.kind === 'ClusterServingRuntime');
  for (const { file, doc } of [...deployments, ...runtimes]) {
    const pod = doc.kind === 'Deployment' ? doc.spec?.template?.spec : doc.spec;
    const containers = pod?.containers ?? [];
    if (containers.length === 0) fail('k8s/container', file, `${doc.kind} ${doc.metadata?.name}: no containers`);
    for (const c of containers) {
      const where = `${doc.kind} ${doc.metadata?.name}, container ${c.name}`;
      checkContainer({ file, where, c, pod, routes, ports, fail, requireStartup: isInference(c) });
      if (isInference(c) && doc.kind === 'Deployment') {
        const gpus = c.resources?.limits?.['nvidia.com/gpu'];
        if (Number(gpus) !== 1) fail('k8s/gpu', file, `${where}: limits nvidia.com/gpu is ${gpus ?? 'unset'}, expected 1`);
      }
    }
    if (doc.kind === 'Deployment') {
      const selector = doc.spec?.selector?.matchLabels ?? {};
      const labels = doc.spec?.template?.metadata?.labels ?? {};
      if (Object.keys(selector).length === 0 || !Object.entries(selector).every(([k, v]) => labels[k] === v)) {
        fail('k8s/required-fields', file, `Deployment ${doc.metadata?.name}: spec.selector does not match the pod template labels`);
      }
    }
  }

  for (const { file, doc } of manifests.filter((m) => m.doc?.kind === 'Service')) {
    const selector = doc.spec?.selector ?? {};
    const target = deployments.find(({ doc: d }) => Object.keys(selector).length > 0 && Object.entries(selector).every(([k, v]) => d.spec?.template?.metadata?.labels?.[k] === v));
    if (!target) {
      fail('k8s/service-ports', file, `Service ${doc.metadata?.name}: selector ${JSON.stringify(selector)} matches no Deployment`);
      continue;
    }
    const containerPorts = (target.doc.spec.template.spec.containers ?? []).flatMap((c) => c.ports ?? []);
    for (const p of doc.spec?.ports ?? []) {
      const targetPort = p.targetPort ?? p.port;
      const match = containerPorts.find((cp) => cp.name === targetPort || cp.containerPort === targetPort);
      if (!match) fail('k8s/service-ports', file, `Service ${doc.metadata?.name}: targetPort ${targetPort} is no container port of Deployment ${target.doc.metadata.name}`);
      const service = Object.keys(SERVICES).find((s) => target.doc.metadata.name === s);
      if (match?.name === 'grpc') {
        // The inference service's gRPC port (INFERENCE_GRPC_PORT, default 8001) beside its HTTP one.
        const container = (target.doc.spec.template.spec.containers ?? []).find((c) => (c.ports ?? []).includes(match));
        const grpcPort = Number(environment(container?.env)['INFERENCE_GRPC_PORT'] ?? 8001);
        if (service !== 'inference' || match.containerPort !== grpcPort || p.port !== grpcPort) fail('ports/consistency', file, `Service ${doc.metadata?.name}: grpc port ${p.port} -> ${match.containerPort}, the inference service's gRPC listens on ${grpcPort}`);
        continue;
      }
      if (service && ports[service] && p.port !== ports[service]) fail('ports/consistency', file, `Service ${doc.metadata?.name}: port ${p.port}, ${service} listens on ${ports[service]}`);
    }
  }

  for (const { file, doc } of manifests.filter((m) => m.doc?.kind === 'Job')) checkDatasetJob({ file, doc, manifests, ports, fail });

  for (const { file, doc } of manifests.filter((m) => m.doc?.kind === 'HorizontalPodAutoscaler')) {
    const ref = doc.spec?.scaleTargetRef;
    if (ref?.kind !== 'Deployment' || !deployments.some(({ doc: d }) => d.metadata?.name === ref?.name)) {
      fail('k8s/hpa', file, `HPA ${doc.metadata?.name}: scaleTargetRef ${JSON.stringify(ref)} is no Deployment here`);
    }
    const min = doc.spec?.minReplicas ?? 1;
    if (!(min >= 1 && doc.spec?.maxReplicas >= min)) fail('k8s/hpa', file, `HPA ${doc.metadata?.name}: replicas ${min}..${doc.spec?.maxReplicas}`);
    if (!(doc.spec?.metrics?.length > 0)) fail('k8s/hpa', file, `HPA ${doc.metadata?.name}: no metrics`);
  }

  const isvcs = manifests.filter((m) => m.doc?.kind === 'InferenceService');
  if (isvcs.length === 0) fail('kserve/inferenceservice', path.join(root, 'deploy', 'kserve', 'inferenceservice.yaml'), 'no InferenceService');
  for (const { file, doc } of isvcs) {
    const where = `InferenceService ${doc.metadata?.name}`;
    if (doc.apiVersion !== 'serving.kserve.io/v1beta1') fail('kserve/inferenceservice', file, `${where}: apiVersion ${doc.apiVersion}, expected serving.kserve.io/v1beta1`);
    const model = doc.spec?.predictor?.model;
    if (!model) {
      fail('kserve/inferenceservice', file, `${where}: no spec.predictor.model`);
      continue;
    }
    if (model.protocolVersion !== 'v2') fail('kserve/inferenceservice', file, `${where}: protocolVersion ${model.protocolVersion}, expected v2 (Open Inference Protocol)`);
    const runtime = runtimes.find(({ doc: r }) => r.metadata?.name === model.runtime);
    if (!runtime) {
      fail('kserve/inferenceservice', file, `${where}: runtime ${model.runtime} is no ServingRuntime here`);
      continue;
    }
    const rt = runtime.doc.spec ?? {};
    if (!(rt.protocolVersions ?? []).includes('v2')) fail('kserve/inferenceservice', runtime.file, `ServingRuntime ${model.runtime}: protocolVersions lacks v2`);
    if (!(rt.supportedModelFormats ?? []).some((f) => f.name === model.modelFormat?.name)) {
      fail('kserve/inferenceservice', runtime.file, `ServingRuntime ${model.runtime}: does not support model format ${model.modelFormat?.name}`);
    }
    const c = (rt.containers ?? []).find((x) => x.name === 'kserve-container');
    if (!c) fail('kserve/inferenceservice', runtime.file, `ServingRuntime ${model.runtime}: no container named kserve-container`);
    else {
      const env = { ...environment(c.env), ...environment(model.env) };
      const port = Number(env.INFERENCE_PORT);
      if (!port) fail('kserve/inferenceservice', file, `${where}: INFERENCE_PORT is not set`);
      else if (!(c.ports ?? []).some((p) => p.containerPort === port)) fail('kserve/inferenceservice', runtime.file, `kserve-container listens on ${port} but declares ${JSON.stringify(c.ports)}`);
      if (ports.inference && port && port !== ports.inference) fail('ports/consistency', file, `${where}: INFERENCE_PORT=${port}, the Dockerfile says ${ports.inference}`);
    }
    const gpus = model.resources?.limits?.['nvidia.com/gpu'] ?? c?.resources?.limits?.['nvidia.com/gpu'];
    if (Number(gpus) !== 1) fail('k8s/gpu', file, `${where}: limits nvidia.com/gpu is ${gpus ?? 'unset'}, expected 1`);
  }

  for (const { file, doc } of manifests.filter((m) => m.doc?.kind === 'Deployment')) {
    for (const c of doc.spec?.template?.spec?.containers ?? []) {
      const service = Object.keys(SERVICES).find((s) => (c.args ?? c.command ?? []).includes(s));
      const port = (c.ports ?? [])[0]?.containerPort;
      if (service && ports[service] && port !== ports[service]) fail('ports/consistency', file, `${doc.metadata?.name}: containerPort ${port}, ${service} listens on ${ports[service]}`);
      const envPort = environment(c.env)[SERVICES[service]];
      if (service && envPort !== undefined && Number(envPort) !== port) fail('ports/consistency', file, `${doc.metadata?.name}: ${SERVICES[service]}=${envPort} but containerPort ${port}`);
    }
  }

  const tools = external ? runExternal(root, yamlFiles, fail) : [];
  return { errors, ran: [...ran].sort(), tools };
}

// ---- helpers ---------------------------------------------------------------------------------

/** The value after `flag` in a container's args, or undefined. */
function argAfter(args, flag) {
  const i = args.indexOf(flag);
  return i >= 0 ? args[i + 1] : undefined;
}

function checkDatasetJob({ file, doc, manifests, ports, fail }) {
  const where = `Job ${doc.metadata?.name}`;
  const spec = doc.spec ?? {};
  const pod = spec.template?.spec ?? {};
  if (spec.completionMode !== 'Indexed') fail('k8s/dataset-job', file, `${where}: completionMode is ${spec.completionMode ?? 'unset'}, expected Indexed`);
  if (!(Number.isInteger(spec.completions) && spec.completions >= 1)) fail('k8s/dataset-job', file, `${where}: completions is ${spec.completions}`);
  if (!['Never', 'OnFailure'].includes(pod.restartPolicy)) fail('k8s/dataset-job', file, `${where}: restartPolicy ${pod.restartPolicy}, expected Never or OnFailure`);
  const containers = pod.containers ?? [];
  const c = containers.find((x) => (x.args ?? x.command ?? []).some((a) => String(a).includes('augment-dataset')));
  if (!c) {
    fail('k8s/dataset-job', file, `${where}: no container runs augment-dataset`);
    return;
  }
  const args = [...(c.command ?? []), ...(c.args ?? [])].map(String);
  const at = `${where}, container ${c.name}`;
  if (argAfter(args, '--shard-index') !== '$(JOB_COMPLETION_INDEX)') fail('k8s/dataset-job', file, `${at}: --shard-index is ${argAfter(args, '--shard-index')}, expected $(JOB_COMPLETION_INDEX)`);
  if (Number(argAfter(args, '--shard-count')) !== spec.completions) fail('k8s/dataset-job', file, `${at}: --shard-count ${argAfter(args, '--shard-count')} differs from completions ${spec.completions}`);
  const env = (c.env ?? []).find((e) => e.name === 'JOB_COMPLETION_INDEX');
  if (env && env.valueFrom?.fieldRef?.fieldPath !== "metadata.annotations['batch.kubernetes.io/job-completion-index']") fail('k8s/dataset-job', file, `${at}: JOB_COMPLETION_INDEX does not come from the completion-index annotation`);
  const services = (argAfter(args, '--services') ?? '').split(',').filter(Boolean);
  if (services.length === 0) fail('k8s/dataset-job', file, `${at}: no --services`);
  for (const url of services) {
    let parsed;
    try {
      parsed = new URL(url);
    } catch {
      fail('k8s/dataset-job', file, `${at}: --services ${url} is no URL`);
      continue;
    }
    const service = manifests.find((m) => m.doc?.kind === 'Service' && m.doc.metadata?.name === parsed.hostname.split('.')[0]);
    if (!service) fail('k8s/dataset-job', file, `${at}: --services ${url} names no Service here`);
    else if (!(service.doc.spec?.ports ?? []).some((p) => p.port === Number(parsed.port || 80))) fail('k8s/dataset-job', file, `${at}: Service ${service.doc.metadata.name} has no port ${parsed.port}`);
    if (ports.augment && Number(parsed.port) !== ports.augment) fail('ports/consistency', file, `${at}: --services ${url}, augment listens on ${ports.augment}`);
  }
  const positional = [];
  for (let i = args.findIndex((a) => /augment-dataset\/cli\.[jt]s$/.test(a)) + 1; i > 0 && i < args.length; i++) {
    if (args[i].startsWith('--')) i++;
    else positional.push(args[i]);
  }
  const claims = new Set((pod.volumes ?? []).filter((v) => v.persistentVolumeClaim).map((v) => v.name));
  const mounts = (c.volumeMounts ?? []).filter((m) => claims.has(m.name)).map((m) => m.mountPath.replace(/\/$/, ''));
  const output = positional[1];
  if (!output || !mounts.some((m) => output === m || output.startsWith(`${m}/`))) fail('k8s/dataset-job', file, `${at}: the output ${output ?? '(none)'} is not under a mounted PersistentVolumeClaim`);
  if (!c.image) fail('k8s/container', file, `${at}: no image`);
  else {
    const tag = String(c.image).split('@')[0].match(/:([^/:]+)$/)?.[1];
    if (!tag || tag === 'latest') fail('k8s/image-tag', file, `${at}: image ${c.image} has no explicit tag`);
  }
  for (const kind of ['requests', 'limits']) if (!c.resources?.[kind]?.memory) fail('k8s/container', file, `${at}: resources.${kind} lacks memory`);
  const sc = c.securityContext ?? {};
  if ((sc.runAsNonRoot ?? pod.securityContext?.runAsNonRoot) !== true) fail('k8s/security', file, `${at}: runAsNonRoot is not true`);
  if (sc.allowPrivilegeEscalation !== false) fail('k8s/security', file, `${at}: allowPrivilegeEscalation is not false`);
}

function isInference(container) {
  return (container.args ?? container.command ?? []).includes('inference');
}

function checkContainer({ file, where, c, pod, routes, fail, requireStartup }) {
  if (!c.image) fail('k8s/container', file, `${where}: no image`);
  else {
    const tag = String(c.image).split('@')[0].match(/:([^/:]+)$/)?.[1];
    if (!tag && !String(c.image).includes('@sha256:')) fail('k8s/image-tag', file, `${where}: image ${c.image} has no tag`);
    else if (tag === 'latest') fail('k8s/image-tag', file, `${where}: image ${c.image} is latest`);
  }
  if (!(c.ports?.length > 0)) fail('k8s/container', file, `${where}: no ports`);
  for (const probe of ['readinessProbe', 'livenessProbe']) if (!c[probe]) fail('k8s/container', file, `${where}: no ${probe}`);
  if (requireStartup && !c.startupProbe) fail('k8s/gpu', file, `${where}: no startupProbe to cover model loading and warm-up`);
  for (const kind of ['requests', 'limits']) {
    const r = c.resources?.[kind];
    if (!r?.memory || (kind === 'requests' && !r.cpu)) fail('k8s/container', file, `${where}: resources.${kind} lacks ${kind === 'requests' ? 'cpu and memory' : 'memory'}`);
  }
  for (const probe of ['readinessProbe', 'livenessProbe', 'startupProbe']) {
    const get = c[probe]?.httpGet;
    if (!c[probe]) continue;
    if (!get) {
      fail('k8s/probe-path', file, `${where}: ${probe} is not an httpGet probe`);
      continue;
    }
    if (routes && !routes.has(get.path)) fail('k8s/probe-path', file, `${where}: ${probe} asks ${get.path}, which openapi.yaml does not list`);
    const portOk = (c.ports ?? []).some((p) => p.name === get.port || p.containerPort === get.port);
    if (!portOk) fail('k8s/probe-port', file, `${where}: ${probe} port ${get.port} is no port of the container`);
  }
  const podSc = pod?.securityContext ?? {};
  const sc = c.securityContext ?? {};
  const nonRoot = sc.runAsNonRoot ?? podSc.runAsNonRoot;
  const user = sc.runAsUser ?? podSc.runAsUser;
  if (nonRoot !== true) fail('k8s/security', file, `${where}: runAsNonRoot is not true`);
  if (user === 0) fail('k8s/security', file, `${where}: runAsUser 0`);
  if (sc.allowPrivilegeEscalation !== false) fail('k8s/security', file, `${where}: allowPrivilegeEscalation is not false`);
  if (sc.privileged === true) fail('k8s/security', file, `${where}: privileged`);
}

/** The paths of openapi.yaml, or undefined (with a finding) when it cannot be read. */
function openapiRoutes(root, fail) {
  const file = path.join(root, 'openapi.yaml');
  if (!existsSync(file)) {
    fail('k8s/probe-path', file, 'missing: probe paths cannot be checked');
    return undefined;
  }
  try {
    // The contract is the project's own file, and every operation's path reuses the shared bodies
    // by alias: yaml's guard against alias bombs (100 aliases) is for files from elsewhere.
    return new Set(Object.keys(parseYaml(readFileSync(file, 'utf8'), { maxAliasCount: -1 })?.paths ?? {}));
  } catch (error) {
    fail('yaml/parse', file, String(error.message).split('\n')[0]);
    return undefined;
  }
}

function environment(env) {
  if (!env) return {};
  if (Array.isArray(env)) {
    return Object.fromEntries(env.map((e) => (typeof e === 'string' ? e.split(/=(.*)/s).slice(0, 2) : [e.name, e.value])));
  }
  return Object.fromEntries(Object.entries(env).map(([k, v]) => [k, v === null ? undefined : String(v)]));
}

/** The container port of a compose `ports` entry ("3001:3001", "127.0.0.1:3001:3001/tcp", or long form). */
function containerPort(entry) {
  if (typeof entry === 'object' && entry !== null) return Number(entry.target);
  return Number(String(entry).split('/')[0].split(':').at(-1));
}

function listFiles(dir) {
  if (!existsSync(dir)) return [];
  return readdirSync(dir).flatMap((name) => {
    const full = path.join(dir, name);
    return statSync(full).isDirectory() ? listFiles(full) : [full];
  });
}

/**
 * A Dockerfile as stages of instructions: continuation lines joined, comments and parser
 * directives dropped, global ARG defaults substituted into FROM.
 */
export function parseDockerfile(text) {
  const lines = [];
  let current = '';
  for (const raw of text.split(/\r?\n/)) {
    if (/^\s*#/.test(raw) && current === '') continue;
    if (/^\s*#/.test(raw)) continue; // comment inside a continued instruction
    if (/\\\s*$/.test(raw)) {
      current += raw.replace(/\\\s*$/, ' ');
      continue;
    }
    current += raw;
    if (current.trim()) lines.push(current.trim());
    current = '';
  }
  if (current.trim()) lines.push(current.trim());

  const globalArgs = new Map();
  const stages = [];
  for (const line of lines) {
    const [, opRaw, args = ''] = line.match(/^(\S+)\s*(.*)$/s) ?? [];
    const op = opRaw.toUpperCase();
    if (op === 'ARG' && stages.length === 0) {
      const [name, value] = args.split(/=(.*)/s);
      globalArgs.set(name.trim(), (value ?? '').trim().replace(/^"(.*)"$/, '$1'));
      continue;
    }
    if (op === 'FROM') {
      const words = args.split(/\s+/).filter((w) => !w.startsWith('--'));
      const image = words[0].replace(/\$\{?(\w+)(?::-([^}]*))?\}?/g, (m, name, fallback) => globalArgs.get(name) ?? fallback ?? m);
      const name = words[1]?.toUpperCase() === 'AS' ? words[2] : undefined;
      stages.push({ raw: args, image, name, base: image, instructions: [] });
      continue;
    }
    stages.at(-1)?.instructions.push({ op, args });
  }
  return { stages, globalArgs };
}

function execForm(instruction) {
  if (!instruction) return undefined;
  const text = instruction.args.replace(/^(--\S+\s+)+/, '').trim();
  if (!text.startsWith('[')) return undefined;
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/** ENV set in a stage itself (runtime stages start from an image, not from another stage). */
function stageEnv(stage) {
  const env = new Map();
  for (const i of stage.instructions.filter((x) => x.op === 'ENV')) {
    for (const [, name, value] of i.args.matchAll(/(\w+)=("[^"]*"|\S+)/g)) env.set(name, value.replace(/^"(.*)"$/, '$1'));
  }
  return env;
}

/** A stage and the stages it is built FROM, nearest first. */
/** The parsed package.json under root, or undefined when it is missing or unreadable. */
function readPackageJson(root) {
  try {
    return JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8'));
  } catch {
    return undefined;
  }
}

function stageChain(byName, name) {
  const chain = [];
  let stage = name ? byName.get(name) : undefined;
  while (stage && !chain.includes(stage)) {
    chain.push(stage);
    stage = byName.get(stage.base);
  }
  return chain;
}

/** .dockerignore as a matcher (Go filepath.Match with `**`, `!` exceptions, last match wins). */
function readDockerignore(root) {
  const file = path.join(root, '.dockerignore');
  if (!existsSync(file)) return { found: false, excludes: () => false };
  const rules = readFileSync(file, 'utf8')
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'))
    .map((l) => {
      const negate = l.startsWith('!');
      const pattern = path.posix.normalize((negate ? l.slice(1) : l).replace(/^\/+/, ''));
      return { negate, regex: globToRegex(pattern) };
    });
  return {
    found: true,
    /** Whether the path, or a folder above it, is excluded from the context. */
    excludes(p) {
      const parts = p.split('/');
      let excluded = false;
      for (let n = 1; n <= parts.length; n++) {
        const prefix = parts.slice(0, n).join('/');
        for (const rule of rules) if (rule.regex.test(prefix)) excluded = !rule.negate;
        if (excluded) return true;
      }
      return excluded;
    },
  };
}

function globToRegex(pattern) {
  let out = '';
  for (let i = 0; i < pattern.length; i++) {
    const ch = pattern[i];
    if (ch === '*' && pattern[i + 1] === '*') {
      i++;
      if (pattern[i + 1] === '/') {
        i++;
        out += '(?:.*/)?';
      } else out += '.*';
    } else if (ch === '*') out += '[^/]*';
    else if (ch === '?') out += '[^/]';
    else if (ch === '[') {
      const end = pattern.indexOf(']', i);
      out += pattern.slice(i, end + 1).replace(/^\[!/, '[^');
      i = end;
    } else out += ch.replace(/[.+^${}()|\\]/g, '\\$&');
  }
  return new RegExp(`^${out}$`);
}

function which(tool) {
  const result = spawnSync('sh', ['-c', `command -v ${tool}`], { encoding: 'utf8' });
  return result.status === 0 ? result.stdout.trim() : undefined;
}

/** Linters this machine happens to have; each that ran is reported, failures are findings. */
function runExternal(root, yamlFiles, fail) {
  const tools = [];
  const run = (tool, args, file) => {
    const result = spawnSync(tool, args, { cwd: root, encoding: 'utf8', timeout: 60_000 });
    const output = `${result.stdout ?? ''}${result.stderr ?? ''}`.trim();
    const ok = result.status === 0;
    tools.push({ tool: `${tool} ${args.filter((a) => !a.startsWith('{')).slice(0, 4).join(' ')}${args.length > 5 ? ' …' : ''}`, ok, output });
    if (!ok) fail(`external/${path.basename(tool)}`, file, output.split('\n').slice(0, 8).join('\n') || `exit ${result.status}`);
  };
  if (which('yamllint')) {
    const config = '{extends: default, rules: {line-length: {max: 140}, document-start: disable, truthy: {check-keys: false}}}';
    run('yamllint', ['--strict', '-d', config, ...yamlFiles.map((f) => path.relative(root, f))], path.join(root, 'deploy'));
  }
  if (which('shellcheck')) run('shellcheck', ['deploy/docker-entrypoint.sh'], path.join(root, 'deploy', 'docker-entrypoint.sh'));
  if (which('promtool')) run('promtool', ['check', 'config', 'deploy/prometheus/prometheus.yml'], path.join(root, 'deploy', 'prometheus', 'prometheus.yml'));
  // `config` needs no engine. The Compose v2 plugin first, else the standalone v1 (Debian's docker-compose).
  const composeV2 = which('docker') && spawnSync('docker', ['compose', 'version'], { encoding: 'utf8' }).status === 0;
  if (composeV2) run('docker', ['compose', '-f', 'docker-compose.yml', '--profile', 'monitoring', 'config', '-q'], path.join(root, 'docker-compose.yml'));
  else if (which('docker-compose')) run('docker-compose', ['-f', 'docker-compose.yml', '--profile', 'monitoring', 'config', '-q'], path.join(root, 'docker-compose.yml'));
  if (which('kubeconform')) {
    const files = yamlFiles.filter((f) => f.includes(`${path.sep}kubernetes${path.sep}`) && !f.endsWith('kustomization.yaml'));
    run('kubeconform', ['-strict', '-summary', '-ignore-missing-schemas', ...files.map((f) => path.relative(root, f))], path.join(root, 'deploy', 'kubernetes'));
  }
  return tools;
}

// ---- CLI -----------------------------------------------------------------------------------------

function main(argv) {
  const args = argv.slice(2);
  const rootIndex = args.indexOf('--root');
  const root = rootIndex >= 0 ? path.resolve(args[rootIndex + 1]) : REPO_ROOT;
  const result = validateDeploy({ root, external: !args.includes('--no-external') });
  if (args.includes('--json')) {
    process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
  } else {
    for (const rule of result.ran) {
      const found = result.errors.filter((e) => e.rule === rule);
      process.stdout.write(`${found.length === 0 ? 'ok  ' : 'FAIL'} ${rule}: ${RULES[rule]}\n`);
      for (const e of found) process.stdout.write(`       ${e.file}: ${e.message}\n`);
    }
    for (const t of result.tools) {
      process.stdout.write(`${t.ok ? 'ok  ' : 'FAIL'} external: ${t.tool}\n`);
      if (!t.ok) process.stdout.write(`${t.output.replace(/^/gm, '       ')}\n`);
    }
    const others = result.errors.filter((e) => !result.ran.includes(e.rule) && !e.rule.startsWith('external/'));
    for (const e of others) process.stdout.write(`FAIL ${e.rule}: ${e.file}: ${e.message}\n`);
    if (result.tools.length === 0 && !args.includes('--no-external')) process.stdout.write('(no external linter found on PATH; offline rules only)\n');
    process.stdout.write(`${result.errors.length === 0 ? 'deploy files valid' : `${result.errors.length} problem(s)`}\n`);
  }
  return result.errors.length === 0 ? 0 : 1;
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  process.exitCode = main(process.argv);
}
