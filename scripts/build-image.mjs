#!/usr/bin/env node
// Builds the Dockerfile's `cpu` target into docker's image store as augserve:cpu and
// augserve:<version>-cpu (docs/DEPLOY.md, "Building here").
//   npm run build:image [-- --gpu] [--no-base] [--quiet]
//
// - Engine: docker when `docker info` answers (BuildKit through buildx where the CLI has it,
//   otherwise the classic builder: the Dockerfile builds with either); else podman, whose image
//   is then loaded into docker when docker answers, or stays in podman's store.
//   AUGSERVE_BUILDER=docker|podman picks one (podman, then loaded into docker, where docker
//   answers but should not build).
// - Base image: the Dockerfile's `FROM node:<NODE_VERSION>-bookworm-slim` as present, else pulled,
//   else (no registry reachable, as on this project's machines) made locally with the same
//   content: `debootstrap --variant=minbase bookworm` from the host's Debian mirror, Node from the
//   npm registry's node-linux-<arch> package, npm from the `npm` package, `docker import`ed under
//   the Dockerfile's name. It carries labels org.augserve.base.recipe (what it was made from; a
//   change remakes it) and org.augserve.base.rootfs-sha256 (the imported tar's content hash).
//   --no-base never makes one.
// - CA bundle: AUGSERVE_BUILD_CA, else the host npm's `cafile`, else NODE_EXTRA_CA_CERTS, is
//   copied to deploy/build-ca/ca.pem for the build's npm stages only and removed afterwards.
// - GPU: `--gpu` also builds the default `gpu` target when its CUDA base is present or can be
//   pulled; otherwise the script says why it did not.
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { copyFileSync, createReadStream, existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync, mkdirSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const root = resolve(import.meta.dirname, '..');
const args = new Set(process.argv.slice(2));
const quiet = args.has('--quiet');
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
const TAGS = ['augserve:cpu', `augserve:${pkg.version}-cpu`];
const GPU_TAGS = ['augserve:gpu', `augserve:${pkg.version}-gpu`];
// Bump when the way the local base is made changes, so that a cached one is remade.
const BASE_RECIPE_REVISION = 2;
// The npm that goes into a locally made base (the official node images carry the npm of their
// Node release; the node-linux-* packages carry no npm).
const NPM_VERSION = '11.6.2';

const log = (line) => console.log(`build:image: ${line}`);

function run(cmd, argv, options = {}) {
  const result = spawnSync(cmd, argv, { cwd: root, encoding: 'utf8', stdio: options.stdio ?? 'pipe', env: options.env ?? process.env, input: options.input, timeout: options.timeout, maxBuffer: 1 << 28 });
  return { ok: result.status === 0, status: result.status, stdout: result.stdout ?? '', stderr: result.stderr ?? '', error: result.error };
}

function must(cmd, argv, options = {}) {
  const result = run(cmd, argv, { stdio: 'inherit', ...options });
  if (!result.ok) throw new Error(`${cmd} ${argv.join(' ')} exited with ${result.status ?? result.error?.message}`);
  return result;
}

const has = (cmd) => run('sh', ['-c', `command -v ${cmd}`]).ok;

// ---- what the Dockerfile names ----------------------------------------------------------------
const dockerfile = readFileSync(join(root, 'Dockerfile'), 'utf8');
const argDefault = (name) => dockerfile.match(new RegExp(`^ARG ${name}=(\\S+)`, 'm'))?.[1];
const NODE_VERSION = argDefault('NODE_VERSION');
const CUDA_IMAGE = argDefault('CUDA_IMAGE');
const fromNode = dockerfile.match(/^FROM (node:\S+) AS node$/m)?.[1];
if (!NODE_VERSION || !fromNode || !CUDA_IMAGE) throw new Error('Dockerfile: expected ARG NODE_VERSION, ARG CUDA_IMAGE and `FROM node:... AS node`');
const BASE_IMAGE = fromNode.replace('${NODE_VERSION}', NODE_VERSION);
const suite = BASE_IMAGE.match(/-(\w+)-slim$/)?.[1] ?? 'bookworm';

// ---- engine ------------------------------------------------------------------------------------
function pickEngine() {
  const forced = process.env.AUGSERVE_BUILDER;
  if (forced === 'docker' || forced === 'podman') return forced;
  if (has('docker') && run('docker', ['info'], { timeout: 20000 }).ok) return 'docker';
  if (has('podman') && run('podman', ['info'], { timeout: 20000 }).ok) return 'podman';
  return undefined;
}

const imageLabels = (engine, image) => {
  const r = run(engine, ['image', 'inspect', '--format', '{{json .Config.Labels}}', image]);
  return r.ok ? (JSON.parse(r.stdout.trim() || 'null') ?? {}) : undefined;
};

function hostMirror() {
  const files = ['/etc/apt/sources.list', ...(existsSync('/etc/apt/sources.list.d') ? readdirSync('/etc/apt/sources.list.d').map((f) => join('/etc/apt/sources.list.d', f)) : [])];
  for (const file of files) {
    if (!existsSync(file)) continue;
    const text = readFileSync(file, 'utf8');
    const url = text.match(/^URIs:\s*(\S+\/debian)\/?\s*$/m)?.[1] ?? text.match(/^deb\s+(?:\[[^\]]*\]\s+)?(\S+\/debian)\/?\s+\w+/m)?.[1];
    if (url) return url;
  }
  return 'http://deb.debian.org/debian';
}

function baseRecipe() {
  const arch = { x64: 'x64', arm64: 'arm64' }[process.arch];
  if (!arch) throw new Error(`no node-linux-${process.arch} package on the npm registry`);
  const mirror = hostMirror();
  const recipe = { revision: BASE_RECIPE_REVISION, suite, variant: 'minbase', mirror, node: `node-linux-${arch}@${NODE_VERSION}`, npm: `npm@${NPM_VERSION}` };
  return { ...recipe, hash: createHash('sha256').update(JSON.stringify(recipe)).digest('hex') };
}

async function sha256File(path) {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path)) hash.update(chunk);
  return hash.digest('hex');
}

/** Makes BASE_IMAGE locally (the recipe in the header comment) and imports it into `engine`. */
async function makeBase(engine, recipe) {
  if (process.getuid?.() !== 0) throw new Error('making the base image needs root (debootstrap, chroot)');
  if (!has('debootstrap')) throw new Error('making the base image needs debootstrap (apt-get install debootstrap)');
  const work = mkdtempSync(join(tmpdir(), 'augserve-base-'));
  const rootfs = join(work, 'rootfs');
  const started = performance.now();
  try {
    log(`making ${BASE_IMAGE} locally: debootstrap --variant=minbase ${suite} from ${recipe.mirror}, ${recipe.node}, ${recipe.npm}`);
    must('nice', ['-n', '10', 'debootstrap', '--variant=minbase', suite, rootfs, recipe.mirror], { stdio: quiet ? 'pipe' : ['ignore', 'ignore', 'inherit'] });
    // Debian's slim images: no documentation, manual pages or translations (dpkg keeps them out
    // of later installs too), no package lists or downloaded packages.
    writeFileSync(join(rootfs, 'etc/dpkg/dpkg.cfg.d/docker-slim'), [
      'path-exclude /usr/share/doc/*', 'path-include /usr/share/doc/*/copyright', 'path-exclude /usr/share/man/*',
      'path-exclude /usr/share/groff/*', 'path-exclude /usr/share/info/*', 'path-exclude /usr/share/lintian/*',
      'path-exclude /usr/share/linda/*', 'path-exclude /usr/share/locale/*', '',
    ].join('\n'));
    writeFileSync(join(rootfs, 'etc/apt/sources.list'), `deb ${recipe.mirror} ${suite} main\ndeb ${recipe.mirror} ${suite}-updates main\n`);
    must('sh', ['-c', [
      'set -e', `cd '${rootfs}'`,
      'rm -rf var/cache/apt/archives/*.deb var/lib/apt/lists/* usr/share/man/* usr/share/groff/* usr/share/info/* usr/share/lintian/* usr/share/locale/*',
      "find usr/share/doc -mindepth 1 -not -name copyright -not -type d -delete", 'find usr/share/doc -mindepth 1 -type d -empty -delete',
    ].join('\n')]);
    // Node: the official build, as the npm registry's node-linux-<arch> package carries it.
    const packs = join(work, 'packs');
    mkdirSync(packs);
    for (const spec of [recipe.node, recipe.npm]) {
      must('npm', ['pack', '--silent', '--pack-destination', packs, spec], { stdio: ['ignore', 'ignore', 'inherit'] });
    }
    const tgz = (prefix) => join(packs, readdirSync(packs).find((f) => f.startsWith(prefix)));
    const nodeDir = join(work, 'node');
    mkdirSync(nodeDir);
    must('tar', ['-xzf', tgz('node-linux-'), '-C', nodeDir, '--strip-components=1']);
    // Only the binary: the package's C headers (include/node, 67 MB with OpenSSL's for every
    // platform) serve node-gyp, and nothing in these images compiles an addon.
    must('install', ['-D', '-m', '0755', join(nodeDir, 'bin/node'), join(rootfs, 'usr/local/bin/node')]);
    const npmDir = join(rootfs, 'usr/local/lib/node_modules/npm');
    mkdirSync(npmDir, { recursive: true });
    must('tar', ['-xzf', tgz('npm-'), '-C', npmDir, '--strip-components=1', '--no-same-owner']);
    symlinkSync('../lib/node_modules/npm/bin/npm-cli.js', join(rootfs, 'usr/local/bin/npm'));
    symlinkSync('../lib/node_modules/npm/bin/npx-cli.js', join(rootfs, 'usr/local/bin/npx'));
    // The official images' user `node` (uid/gid 1000).
    must('chroot', [rootfs, 'sh', '-c', 'groupadd --gid 1000 node && useradd --uid 1000 --gid node --shell /bin/bash --create-home node']);
    const versions = run('chroot', [rootfs, 'sh', '-c', 'node --version && npm --version']);
    if (!versions.ok || versions.stdout.split('\n')[0] !== `v${NODE_VERSION}`) throw new Error(`node in the new base: ${versions.stdout}${versions.stderr}`);
    const tar = join(work, 'rootfs.tar');
    must('tar', ['--numeric-owner', '--sort=name', '-C', rootfs, '--exclude=./dev/*', '--exclude=./proc/*', '--exclude=./sys/*', '-cf', tar, '.']);
    const rootfsSha = await sha256File(tar);
    const changes = [
      `ENV NODE_VERSION=${NODE_VERSION}`, 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', 'CMD ["node"]',
      `LABEL org.augserve.base.recipe=${recipe.hash}`, `LABEL org.augserve.base.rootfs-sha256=${rootfsSha}`,
      `LABEL org.augserve.base.made-from="debootstrap --variant=minbase ${suite} ${recipe.mirror}; ${recipe.node}; ${recipe.npm}"`,
    ];
    must(engine, ['import', ...changes.flatMap((c) => ['--change', c]), tar, BASE_IMAGE], { stdio: ['ignore', 'ignore', 'inherit'] });
    log(`made ${BASE_IMAGE} in ${((performance.now() - started) / 1000).toFixed(1)} s (node ${versions.stdout.split('\n')[0]}, npm ${versions.stdout.split('\n')[1]}, rootfs sha256 ${rootfsSha.slice(0, 16)}…)`);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

async function ensureBase(engine) {
  const recipe = baseRecipe();
  const labels = imageLabels(engine, BASE_IMAGE);
  if (labels && !labels['org.augserve.base.recipe']) return log(`base ${BASE_IMAGE}: present (not made here)`);
  if (labels && labels['org.augserve.base.recipe'] === recipe.hash) {
    return log(`base ${BASE_IMAGE}: the one made here earlier (recipe ${recipe.hash.slice(0, 12)}, rootfs sha256 ${labels['org.augserve.base.rootfs-sha256']?.slice(0, 16)}…)`);
  }
  if (!labels) {
    const pulled = run(engine, ['pull', BASE_IMAGE], { timeout: 120000 });
    if (pulled.ok) return log(`base ${BASE_IMAGE}: pulled`);
    log(`base ${BASE_IMAGE}: cannot be pulled (${(pulled.stderr.trim().split('\n').at(-1) ?? '').slice(0, 160)})`);
  } else {
    log(`base ${BASE_IMAGE}: made here from another recipe, remaking it`);
  }
  if (args.has('--no-base')) throw new Error(`no ${BASE_IMAGE} and --no-base`);
  await makeBase(engine, recipe);
}

function hostCa() {
  const candidates = [process.env.AUGSERVE_BUILD_CA, run('npm', ['config', 'get', 'cafile']).stdout.trim(), process.env.NODE_EXTRA_CA_CERTS];
  return candidates.find((c) => c && c !== 'null' && c !== 'undefined' && existsSync(c));
}

function build(engine, target, tags) {
  const env = { ...process.env };
  let builder = engine;
  if (engine === 'docker') {
    const buildx = run('docker', ['buildx', 'version']).ok;
    env.DOCKER_BUILDKIT = buildx ? '1' : '0';
    builder = buildx ? 'docker (BuildKit)' : 'docker (classic builder)';
  }
  // podman writes OCI images by default, which have no HEALTHCHECK.
  const argv = ['build', ...(engine === 'podman' ? ['--format', 'docker'] : []), '--target', target, ...tags.flatMap((t) => ['-t', t]), '--label', `org.opencontainers.image.version=${pkg.version}`, '.'];
  if (engine === 'docker' && env.DOCKER_BUILDKIT === '0') argv.splice(1, 0, '--force-rm');
  log(`${builder}: ${engine} ${argv.join(' ')}`);
  const started = performance.now();
  must(engine, argv, { env, stdio: quiet ? ['ignore', 'ignore', 'inherit'] : 'inherit' });
  return (performance.now() - started) / 1000;
}

async function main() {
  const engine = pickEngine();
  if (!engine) {
    console.error('build:image: no container engine answers (docker info / podman info); start dockerd or install podman');
    process.exit(2);
  }
  await ensureBase(engine);
  const caPath = join(root, 'deploy/build-ca/ca.pem');
  const ca = hostCa();
  const wrote = ca && !existsSync(caPath);
  if (wrote) {
    copyFileSync(ca, caPath);
    log(`CA bundle ${ca} given to the npm stages (deploy/build-ca/ca.pem, removed after the build; in no layer of the image)`);
  }
  try {
    const seconds = build(engine, 'cpu', TAGS);
    if (engine === 'podman' && has('docker') && run('docker', ['info'], { timeout: 20000 }).ok) {
      // podman names local images localhost/<name>; docker gets the plain tags.
      must('sh', ['-c', `podman save --format docker-archive localhost/${TAGS[0]} | docker load`], { stdio: ['ignore', 'ignore', 'inherit'] });
      for (const tag of TAGS) must('docker', ['tag', `localhost/${TAGS[0]}`, tag]);
      must('docker', ['rmi', `localhost/${TAGS[0]}`], { stdio: 'ignore' });
      log(`loaded into docker as ${TAGS.join(', ')}`);
    }
    const size = Number(run(engine, ['image', 'inspect', '--format', '{{.Size}}', TAGS[0]]).stdout.trim());
    log(`built ${TAGS.join(', ')} in ${seconds.toFixed(1)} s, image size ${(size / 1e6).toFixed(0)} MB`);
    if (args.has('--gpu')) {
      const present = imageLabels(engine, CUDA_IMAGE) !== undefined || run(engine, ['pull', CUDA_IMAGE], { timeout: 600000 }).ok;
      if (present) log(`built ${GPU_TAGS.join(', ')} in ${build(engine, 'gpu', GPU_TAGS).toFixed(1)} s`);
      else log(`gpu target: not built: its base ${CUDA_IMAGE} cannot be pulled from here (no registry reachable)`);
    } else {
      log(`gpu target: not built (pass --gpu; needs ${CUDA_IMAGE} pullable and NuGet reachable for the CUDA provider)`);
    }
  } finally {
    if (wrote) rmSync(caPath, { force: true });
  }
}

main().catch((error) => {
  console.error(`build:image: ${error.message}`);
  process.exit(1);
});
