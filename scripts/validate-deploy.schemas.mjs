#!/usr/bin/env node
/**
 * Optional second opinion on the deploy files from two npm linters the project does not depend
 * on: kubernetes-models (the Kubernetes OpenAPI schemas, for every built-in kind under
 * deploy/kubernetes) and dockerfile-utils (the Dockerfile linter of the VS Code Docker
 * extension). Install them anywhere and point --modules at that node_modules:
 *
 *   npm install --prefix /tmp/deploy-lint kubernetes-models@5 dockerfile-utils@0.16 yaml@2
 *   node scripts/validate-deploy.schemas.mjs --modules /tmp/deploy-lint/node_modules
 *
 * A linter that is not installed is reported as skipped. Exit status 1 when one finds an error.
 * KServe resources are custom resources: kubernetes-models has no schema for them, and
 * scripts/validate-deploy.mjs checks the fields that matter.
 */
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const args = process.argv.slice(2);
const modulesIndex = args.indexOf('--modules');
const modules = path.resolve(modulesIndex >= 0 ? args[modulesIndex + 1] : path.join(root, 'node_modules'));

let failed = 0;
const say = (status, text) => process.stdout.write(`${status.padEnd(4)} ${text}\n`);

function listYaml(dir) {
  return readdirSync(dir).flatMap((name) => {
    const full = path.join(dir, name);
    return statSync(full).isDirectory() ? listYaml(full) : /\.ya?ml$/.test(name) ? [full] : [];
  });
}

// Kubernetes built-in kinds against the OpenAPI schemas.
const models = path.join(modules, 'kubernetes-models');
if (!existsSync(models)) say('skip', `kubernetes-models is not in ${modules}`);
else {
  const { parseAllDocuments } = await import(pathToFileURL(path.join(modules, 'yaml', 'dist', 'index.js')).href).catch(() => import('yaml'));
  for (const file of listYaml(path.join(root, 'deploy', 'kubernetes'))) {
    for (const doc of parseAllDocuments(readFileSync(file, 'utf8'))) {
      const object = doc.toJS();
      if (!object?.apiVersion || !object?.kind) continue;
      const where = `${path.relative(root, file)} ${object.kind} ${object.metadata?.name ?? ''}`;
      const modelFile = path.join(models, ...object.apiVersion.split('/'), `${object.kind}.js`);
      if (!existsSync(modelFile)) {
        say('skip', `${where}: no schema for ${object.apiVersion} ${object.kind}`);
        continue;
      }
      const Model = (await import(pathToFileURL(modelFile).href))[object.kind];
      try {
        new Model(object).validate();
        say('ok', `${where}: valid ${object.apiVersion} ${object.kind}`);
      } catch (error) {
        failed++;
        say('FAIL', `${where}: ${error.message}`);
      }
    }
  }
}

// The Dockerfile against dockerfile-utils' rules (instructions, flags, arguments).
const dockerfileUtils = path.join(modules, 'dockerfile-utils');
if (!existsSync(dockerfileUtils)) say('skip', `dockerfile-utils is not in ${modules}`);
else {
  const { validate } = createRequire(path.join(modules, 'noop.js'))('dockerfile-utils');
  const problems = validate(readFileSync(path.join(root, 'Dockerfile'), 'utf8'));
  for (const p of problems) {
    const error = p.severity === 1;
    if (error) failed++;
    say(error ? 'FAIL' : 'warn', `Dockerfile:${p.range.start.line + 1}: ${p.message}`);
  }
  if (problems.length === 0) say('ok', 'Dockerfile: no dockerfile-utils problems');
}

process.stdout.write(failed === 0 ? 'schemas: no errors\n' : `schemas: ${failed} error(s)\n`);
process.exitCode = failed === 0 ? 0 : 1;
