import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { cpSync, lstatSync, mkdtempSync, readFileSync, rmSync, symlinkSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { RULES, parseDockerfile, validateDeploy } from '../../scripts/validate-deploy.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const script = path.join(root, 'scripts', 'validate-deploy.mjs');

/** Deploy files are copied so they can be broken; what the Dockerfile COPYs is linked. */
function fixture(): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'augserve-deploy-'));
  for (const file of ['Dockerfile', '.dockerignore', 'docker-compose.yml', 'openapi.yaml']) cpSync(path.join(root, file), path.join(dir, file));
  cpSync(path.join(root, 'deploy'), path.join(dir, 'deploy'), { recursive: true });
  for (const source of ['package.json', 'package-lock.json', '.npmrc', 'tsconfig.json', 'tsconfig.build.json', 'scripts', 'services', 'models', 'client']) {
    symlinkSync(path.join(root, source), path.join(dir, source));
  }
  return dir;
}

function edit(dir: string, file: string, change: (text: string) => string): void {
  const full = path.join(dir, file);
  const before = readFileSync(full, 'utf8');
  const after = change(before);
  assert.notEqual(after, before, `the breakage of ${file} changed nothing: fix the test, not the validator`);
  // A linked file is replaced by a broken copy; writing through the link would break the repository.
  if (lstatSync(full).isSymbolicLink()) unlinkSync(full);
  writeFileSync(full, after);
}

test('the real deploy files pass every rule', () => {
  const { errors, ran } = validateDeploy({ root, external: false });
  assert.deepEqual(errors, []);
  assert.deepEqual(ran, Object.keys(RULES).sort());
});

test('every rule holds on the real files, one by one', async (t) => {
  const { errors } = validateDeploy({ root, external: false });
  for (const [rule, description] of Object.entries(RULES)) {
    await t.test(`${rule}: ${description}`, () => {
      assert.deepEqual(errors.filter((e) => e.rule === rule), []);
    });
  }
});

test('the Dockerfile parser joins continued lines and resolves global ARGs in FROM', () => {
  const { stages } = parseDockerfile(readFileSync(path.join(root, 'Dockerfile'), 'utf8'));
  const gpu = stages.find((s) => s.name === 'gpu');
  assert.match(gpu?.image ?? '', /^nvidia\/cuda:12\.\d+\.\d+-cudnn-runtime-ubuntu\d+\.\d+$/);
  assert.match(stages.find((s) => s.name === 'node')?.image ?? '', /^node:24\.\d+\.\d+-bookworm-slim$/);
  assert.equal(stages.at(-1)?.name, 'gpu');
  const healthcheck = gpu?.instructions.find((i) => i.op === 'HEALTHCHECK');
  assert.match(healthcheck?.args ?? '', /--retries=\d+\s+CMD \[/);
});

/** One deliberate breakage per case, and the rule that must catch it. */
const breakages: Array<{ name: string; file: string; change: (text: string) => string; rule: string }> = [
  { name: 'an unpinned base image', file: 'Dockerfile', change: (s) => s.replace(/^ARG CUDA_IMAGE=.*$/m, 'ARG CUDA_IMAGE=nvidia/cuda'), rule: 'dockerfile/from-pinned' },
  { name: 'a latest base image', file: 'Dockerfile', change: (s) => s.replace(/^ARG NODE_VERSION=.*$/m, 'ARG NODE_VERSION=latest').replace('node:${NODE_VERSION}-bookworm-slim', 'node:${NODE_VERSION}'), rule: 'dockerfile/from-pinned' },
  { name: 'no cpu target', file: 'Dockerfile', change: (s) => s.replace('FROM node AS cpu', 'FROM node AS cpu-only'), rule: 'dockerfile/targets' },
  { name: 'cpu as the default target', file: 'Dockerfile', change: (s) => `${s}\nFROM cpu AS cpu-default\n`, rule: 'dockerfile/targets' },
  { name: 'no USER', file: 'Dockerfile', change: (s) => s.replace(/^USER .*$/gm, ''), rule: 'dockerfile/user' },
  { name: 'USER root', file: 'Dockerfile', change: (s) => s.replace(/^USER .*$/gm, 'USER root'), rule: 'dockerfile/user' },
  { name: 'USER after CMD only', file: 'Dockerfile', change: (s) => s.replace(/^USER .*$/gm, '').replace(/^CMD (.*)$/gm, 'CMD $1\nUSER 10001'), rule: 'dockerfile/user' },
  { name: 'no HEALTHCHECK', file: 'Dockerfile', change: (s) => s.replace(/^HEALTHCHECK [^\n]*\\\n[^\n]*\n/gm, ''), rule: 'dockerfile/healthcheck' },
  { name: 'an ENTRYPOINT without tini', file: 'Dockerfile', change: (s) => s.replaceAll('ENTRYPOINT ["/usr/bin/tini", "--", ', 'ENTRYPOINT ['), rule: 'dockerfile/tini' },
  { name: 'a shell-form CMD', file: 'Dockerfile', change: (s) => s.replace('CMD ["augment"]', 'CMD augment'), rule: 'dockerfile/cmd' },
  { name: 'no MALLOC_ARENA_MAX', file: 'Dockerfile', change: (s) => s.replaceAll('MALLOC_ARENA_MAX=2', 'MALLOC_ARENA_MAX=8'), rule: 'dockerfile/env' },
  { name: 'a port missing from EXPOSE', file: 'Dockerfile', change: (s) => s.replaceAll('EXPOSE 3001 3002', 'EXPOSE 3001'), rule: 'dockerfile/expose' },
  { name: 'a GPU image without the CUDA provider', file: 'Dockerfile', change: (s) => s.replaceAll('npm run install:cuda', 'true'), rule: 'dockerfile/gpu-install' },
  { name: 'an install:cuda script that installs no CUDA', file: 'package.json', change: (s) => s.replace('ONNXRUNTIME_NODE_INSTALL=cuda12', 'ONNXRUNTIME_NODE_INSTALL=skip'), rule: 'dockerfile/gpu-install' },
  { name: 'a COPY of something the context lacks', file: 'Dockerfile', change: (s) => s.replace('COPY services ./services', 'COPY services ./services\nCOPY plugins ./plugins'), rule: 'dockerfile/copy-source' },
  { name: 'a .dockerignore that drops the sources', file: '.dockerignore', change: (s) => `${s}services\n`, rule: 'dockerfile/copy-source' },
  { name: 'a .dockerignore that lets node_modules in', file: '.dockerignore', change: (s) => s.replace('**/node_modules\n', ''), rule: 'dockerignore/required' },
  { name: 'an entrypoint that does not exec', file: 'deploy/docker-entrypoint.sh', change: (s) => s.replace('exec node', 'node'), rule: 'entrypoint/exec' },
  { name: 'an entrypoint running the sources through tsx, a devDependency', file: 'deploy/docker-entrypoint.sh', change: (s) => s.replace('node "dist/services/${service}/server.js"', 'node --import tsx "services/${service}/server.ts"'), rule: 'entrypoint/exec' },
  { name: 'an image that never builds dist/', file: 'Dockerfile', change: (s) => s.replace('RUN npm run build', 'RUN true'), rule: 'entrypoint/exec' },
  { name: 'a runtime stage without dist/', file: 'Dockerfile', change: (s) => s.replace('COPY --from=build /app/dist ./dist\n', ''), rule: 'entrypoint/exec' },
  { name: 'broken YAML', file: 'deploy/kubernetes/augment-service.yaml', change: (s) => s.replace('  type: ClusterIP', '  type: [ClusterIP'), rule: 'yaml/parse' },
  { name: 'a manifest without a name', file: 'deploy/kubernetes/augment-pdb.yaml', change: (s) => s.replace('  name: augment\n', ''), rule: 'k8s/required-fields' },
  { name: 'a kustomization missing a manifest', file: 'deploy/kubernetes/kustomization.yaml', change: (s) => s.replace('  - augment-hpa.yaml\n', ''), rule: 'k8s/kustomization' },
  { name: 'a kustomization listing a missing file', file: 'deploy/kubernetes/kustomization.yaml', change: (s) => s.replace('  - namespace.yaml\n', '  - namespace.yaml\n  - gone.yaml\n'), rule: 'k8s/kustomization' },
  { name: 'a container without a readiness probe', file: 'deploy/kubernetes/augment-deployment.yaml', change: (s) => s.replace('readinessProbe:', 'readinessProbeGone:'), rule: 'k8s/container' },
  { name: 'a container without resources', file: 'deploy/kubernetes/augment-deployment.yaml', change: (s) => s.replace('          resources:', '          resourcesGone:'), rule: 'k8s/container' },
  { name: 'a latest image', file: 'deploy/kubernetes/augment-deployment.yaml', change: (s) => s.replace('augserve:0.1.0-cpu', 'augserve:latest'), rule: 'k8s/image-tag' },
  { name: 'an untagged image', file: 'deploy/kserve/servingruntime.yaml', change: (s) => s.replace('augserve:0.1.0-gpu', 'augserve'), rule: 'k8s/image-tag' },
  { name: 'a probe on a path the contract lacks', file: 'deploy/kubernetes/augment-deployment.yaml', change: (s) => s.replace('path: /health/ready', 'path: /healthz'), rule: 'k8s/probe-path' },
  { name: 'a probe on a port the container lacks', file: 'deploy/kubernetes/inference-deployment.yaml', change: (s) => s.replace(/(livenessProbe:\n\s+httpGet:\n\s+path: \S+\n\s+port:) http/, '$1 metrics'), rule: 'k8s/probe-port' },
  { name: 'a pod allowed to run as root', file: 'deploy/kubernetes/augment-deployment.yaml', change: (s) => s.replace('runAsNonRoot: true', 'runAsNonRoot: false'), rule: 'k8s/security' },
  { name: 'privilege escalation', file: 'deploy/kubernetes/inference-deployment.yaml', change: (s) => s.replace('allowPrivilegeEscalation: false', 'allowPrivilegeEscalation: true'), rule: 'k8s/security' },
  { name: 'inference without a GPU', file: 'deploy/kubernetes/inference-deployment.yaml', change: (s) => s.replaceAll(/^\s+nvidia\.com\/gpu: 1\n/gm, ''), rule: 'k8s/gpu' },
  { name: 'inference without a startup probe', file: 'deploy/kubernetes/inference-deployment.yaml', change: (s) => s.replace('startupProbe:', 'startupProbeGone:'), rule: 'k8s/gpu' },
  { name: 'a Service targeting a port no container has', file: 'deploy/kubernetes/augment-service.yaml', change: (s) => s.replace('targetPort: http', 'targetPort: 8080'), rule: 'k8s/service-ports' },
  { name: 'a Service selecting nothing', file: 'deploy/kubernetes/inference-service.yaml', change: (s) => s.replace(/(selector:\n\s+app\.kubernetes\.io\/name:) inference/, '$1 inferense'), rule: 'k8s/service-ports' },
  { name: 'a dataset Job that is not Indexed', file: 'deploy/kubernetes/augment-dataset-job.yaml', change: (s) => s.replace('completionMode: Indexed', 'completionMode: NonIndexed'), rule: 'k8s/dataset-job' },
  { name: 'a dataset Job whose --shard-count is not its completions', file: 'deploy/kubernetes/augment-dataset-job.yaml', change: (s) => s.replace('completions: 8', 'completions: 6'), rule: 'k8s/dataset-job' },
  { name: 'a dataset Job with a fixed --shard-index', file: 'deploy/kubernetes/augment-dataset-job.yaml', change: (s) => s.replace('- $(JOB_COMPLETION_INDEX)', '- "0"'), rule: 'k8s/dataset-job' },
  { name: 'a dataset Job calling a Service that does not exist', file: 'deploy/kubernetes/augment-dataset-job.yaml', change: (s) => s.replace('http://augment:3001', 'http://augmenter:3001'), rule: 'k8s/dataset-job' },
  { name: 'a dataset Job writing outside its volume', file: 'deploy/kubernetes/augment-dataset-job.yaml', change: (s) => s.replace('- /data/augmented/epoch0', '- /tmp/epoch0'), rule: 'k8s/dataset-job' },
  { name: 'an HPA on a missing Deployment', file: 'deploy/kubernetes/augment-hpa.yaml', change: (s) => s.replace(/(kind: Deployment\n\s+name:) augment/, '$1 augmenter'), rule: 'k8s/hpa' },
  { name: 'an HPA with max below min', file: 'deploy/kubernetes/inference-hpa.yaml', change: (s) => s.replace(/maxReplicas: \d+/, 'maxReplicas: 0'), rule: 'k8s/hpa' },
  { name: 'an InferenceService on protocol v1', file: 'deploy/kserve/inferenceservice.yaml', change: (s) => s.replace('protocolVersion: v2', 'protocolVersion: v1'), rule: 'kserve/inferenceservice' },
  { name: 'an InferenceService naming a missing runtime', file: 'deploy/kserve/inferenceservice.yaml', change: (s) => s.replace('runtime: augserve-onnx', 'runtime: triton'), rule: 'kserve/inferenceservice' },
  { name: 'a runtime container on another port', file: 'deploy/kserve/servingruntime.yaml', change: (s) => s.replace('- containerPort: 3002', '- containerPort: 8080'), rule: 'kserve/inferenceservice' },
  { name: 'compose without augment', file: 'docker-compose.yml', change: (s) => s.replace('  augment:\n', '  augmenter:\n'), rule: 'compose/services' },
  { name: 'compose without the GPU reservation', file: 'docker-compose.yml', change: (s) => s.replace('driver: nvidia', 'driver: amd'), rule: 'compose/gpu' },
  { name: 'prometheus always on', file: 'docker-compose.yml', change: (s) => s.replace('    profiles: [monitoring]\n', ''), rule: 'compose/monitoring' },
  { name: 'compose publishing the wrong container port', file: 'docker-compose.yml', change: (s) => s.replace('"3002:3002"', '"3002:3003"'), rule: 'ports/consistency' },
  { name: 'a Deployment on another port', file: 'deploy/kubernetes/augment-deployment.yaml', change: (s) => s.replace('containerPort: 3001', 'containerPort: 8080'), rule: 'ports/consistency' },
  { name: 'an image listening elsewhere', file: 'Dockerfile', change: (s) => s.replace('INFERENCE_PORT=3002', 'INFERENCE_PORT=3003'), rule: 'ports/consistency' },
  { name: 'Prometheus scraping the wrong port', file: 'deploy/prometheus/prometheus.yml', change: (s) => s.replace('"inference:3002"', '"inference:9102"'), rule: 'ports/consistency' },
  { name: 'Prometheus not scraping augment', file: 'deploy/prometheus/prometheus.yml', change: (s) => s.replace('"augment:3001"', '"augmenter:3001"'), rule: 'prometheus/targets' },
];

test('a deliberately broken copy is caught by the rule that guards it', async (t) => {
  for (const { name, file, change, rule } of breakages) {
    await t.test(`${rule} catches ${name}`, () => {
      const dir = fixture();
      try {
        assert.deepEqual(validateDeploy({ root: dir, external: false }).errors, [], 'the unbroken copy passes');
        edit(dir, file, change);
        const { errors } = validateDeploy({ root: dir, external: false });
        assert.ok(errors.some((e) => e.rule === rule), `expected a ${rule} finding, got ${JSON.stringify(errors, null, 1)}`);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });
  }
});

test('every rule is exercised by at least one breakage', () => {
  const guarded = new Set(breakages.map((b) => b.rule));
  assert.deepEqual(Object.keys(RULES).filter((r) => !guarded.has(r)), []);
});

test('the command line exits 0 on the real files and 1 on a broken copy', () => {
  const good = spawnSync(process.execPath, [script, '--no-external'], { cwd: root, encoding: 'utf8' });
  assert.equal(good.status, 0, good.stdout + good.stderr);
  assert.match(good.stdout, /deploy files valid/);

  const dir = fixture();
  try {
    edit(dir, 'Dockerfile', (s) => s.replace(/^HEALTHCHECK [^\n]*\\\n[^\n]*\n/gm, ''));
    const bad = spawnSync(process.execPath, [script, '--no-external', '--root', dir, '--json'], { encoding: 'utf8' });
    assert.equal(bad.status, 1);
    const result = JSON.parse(bad.stdout) as { errors: Array<{ rule: string }> };
    assert.ok(result.errors.some((e) => e.rule === 'dockerfile/healthcheck'));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('linters found on PATH agree with the files (skipped where none is installed)', (t) => {
  const { tools, errors } = validateDeploy({ root, external: true });
  if (tools.length === 0) {
    t.skip('no yamllint, shellcheck, promtool, docker compose or kubeconform here');
    return;
  }
  assert.deepEqual(errors.filter((e) => e.rule.startsWith('external/')), [], tools.map((x) => `${x.tool}\n${x.output}`).join('\n'));
});
