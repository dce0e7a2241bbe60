// Loads the npm packages the example validations use from .deps/examples
// (installed by scripts/test.sh), and fails with what to install when they
// are missing: a validation that cannot run must never pass.
import { createRequire } from 'node:module';
import fs from 'node:fs';
import path from 'node:path';

// Keep in step with the npm install line in scripts/test.sh.
export const PACKAGES = {
  'ajv': '8.20.0',
  'ajv-draft-04': '1.0.0',
  'js-yaml': '4.3.2',
  'velocityjs': '2.1.7',
  'jsonpath-plus': '10.4.0',
  '@aws-cdk/cfnspec': '2.72.1',
};

export function installHint(dir) {
  const list = Object.entries(PACKAGES).map(([n, v]) => `${n}@${v}`).join(' ');
  return `run scripts/test.sh, or: npm install --prefix ${dir} --no-audit --no-fund ${list}`;
}

export function loadDeps(names) {
  const dir = process.env.GDA_EXAMPLES_DEPS;
  if (!dir) {
    throw new Error('GDA_EXAMPLES_DEPS is not set (run this through meson test)');
  }
  const modules = path.join(dir, 'node_modules');
  const req = createRequire(path.join(modules, 'loader.cjs'));
  const out = {};
  for (const name of names) {
    const pkg = path.join(modules, name, 'package.json');
    if (!fs.existsSync(pkg)) {
      throw new Error(`npm package ${name} is not installed in ${dir}: ${installHint(dir)}`);
    }
    out[name] = req(name);
  }
  return out;
}
