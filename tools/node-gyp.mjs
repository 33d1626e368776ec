// Runs node-gyp for the build scripts: the one npm passes to install scripts
// (npm_config_node_gyp), else one on PATH, else the one bundled with this Node's npm.
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { delimiter, dirname, join } from 'node:path';

function nodeGypCommand() {
  if (process.env.npm_config_node_gyp) return [process.execPath, process.env.npm_config_node_gyp];
  const onPath = (process.env.PATH ?? '').split(delimiter).find((d) => d && existsSync(join(d, 'node-gyp')));
  if (onPath) return [join(onPath, 'node-gyp')];
  const bundled = join(dirname(process.execPath), '..', 'lib', 'node_modules', 'npm', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js');
  if (existsSync(bundled)) return [process.execPath, bundled];
  throw new Error('node-gyp not found: run this through npm (npm run build:native), or install node-gyp');
}

/**
 * The running Node's own headers when it ships them (NodeSource, nodejs.org, Debian's libnode-dev):
 * without them node-gyp downloads headers from nodejs.org, which an offline machine cannot reach.
 */
function localNodeDir(env) {
  if (env.npm_config_nodedir) return undefined;
  const prefix = join(dirname(process.execPath), '..');
  return existsSync(join(prefix, 'include', 'node', 'node_version.h')) ? prefix : undefined;
}

/** node-gyp ARGS in `cwd`, output to the terminal; throws when it fails. */
export function nodeGyp(args, { cwd, env } = {}) {
  const [cmd, ...pre] = nodeGypCommand();
  const base = env ?? process.env;
  const nodedir = localNodeDir(base);
  execFileSync(cmd, [...pre, ...args], { cwd, env: nodedir ? { ...base, npm_config_nodedir: nodedir } : base, stdio: 'inherit' });
}
