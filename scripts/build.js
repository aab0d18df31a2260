#!/usr/bin/env node
// Compiles the TypeScript and assembles dist/src/nodes as Node-RED loads it: the compiled .js files
// need their .html, locales/ and icons/ beside them, because Node-RED looks for all three next to the
// .js file named in package.json's "node-red.nodes" map.
'use strict';
const { execFileSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const root = path.resolve(__dirname, '..');
// BUILD_DIR lets several people build and test in one checkout without deleting each other's output.
const dist = path.resolve(root, process.env.BUILD_DIR || 'dist');
const out = path.join(dist, 'src', 'nodes');

fs.rmSync(dist, { recursive: true, force: true });
try {
  execFileSync(process.execPath, [require.resolve('typescript/bin/tsc'), '-p', root, '--outDir', dist], { stdio: 'inherit' });
} catch {
  console.error('build failed: the TypeScript errors are listed above');
  process.exit(1);
}

fs.mkdirSync(out, { recursive: true });
fs.cpSync(path.join(root, 'nodes'), out, { recursive: true });
fs.cpSync(path.join(root, 'icons'), path.join(out, 'icons'), { recursive: true });
