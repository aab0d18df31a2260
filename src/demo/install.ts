/**
 * This very build, installed as the package a Node-RED user folder loads: for `npm start` and for the tests
 * that run Node-RED as a process of its own (test/fixtures/replica.ts).
 */
import fs from 'node:fs';
import path from 'node:path';

// This file runs from <build>/src/demo/, where <build> is dist/ or the folder BUILD_DIR named.
export const build = path.resolve(__dirname, '..', '..');
export const root = path.resolve(build, '..');

/**
 * The checkout's package.json names the nodes under dist/, while this may run from another build folder
 * (BUILD_DIR, so that people and tests working in one checkout each see their own nodes): the build folder
 * gets a copy with the nodes map pointing into it.
 */
function writePackage(): string {
  const manifest = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8')) as { 'node-red': { nodes: Record<string, string> } };
  const nodes = manifest['node-red'].nodes;
  for (const type of Object.keys(nodes)) nodes[type] = nodes[type].replace(/^dist\//, '');
  fs.writeFileSync(path.join(build, 'package.json'), JSON.stringify(manifest, null, 2));
  const examples = path.join(build, 'examples');
  if (!fs.existsSync(examples)) fs.symlinkSync(path.join(root, 'examples'), examples, 'dir');
  return build;
}

/** Links the build into `userDir`'s node_modules, as `npm install` of the package would put it there. */
export function installBuild(userDir: string, name: string): void {
  fs.mkdirSync(path.join(userDir, 'node_modules'), { recursive: true });
  const link = path.join(userDir, 'node_modules', 'node-red-contrib-defender-detections');
  const target = writePackage();
  const existing = fs.lstatSync(link, { throwIfNoEntry: false });
  if (existing?.isSymbolicLink() && fs.readlinkSync(link) !== target) fs.unlinkSync(link);
  if (!fs.lstatSync(link, { throwIfNoEntry: false })) fs.symlinkSync(target, link, 'dir');
  fs.writeFileSync(path.join(userDir, 'package.json'), JSON.stringify({ name, private: true, dependencies: {} }, null, 2));
}
