#!/usr/bin/env node
// Runs every compiled test file with Node's own test runner, one file at a time (the Node-RED test
// helper is a single runtime per process, and the files start servers of their own).
'use strict';
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const dir = path.join(path.resolve(__dirname, '..', process.env.BUILD_DIR || 'dist'), 'test');
const only = process.argv.slice(2);
const files = [];
(function walk(d) {
  for (const entry of fs.readdirSync(d, { withFileTypes: true })) {
    const p = path.join(d, entry.name);
    if (entry.isDirectory()) walk(p);
    else if (entry.name.endsWith('.test.js') && (only.length === 0 || only.some((o) => p.includes(o)))) files.push(p);
  }
})(dir);
files.sort();
// NODE_RED_PATH selects another node-red package (CI's Node-RED 5 column); say which one this run uses.
const nodeRed = process.env.NODE_RED_PATH ? path.resolve(process.env.NODE_RED_PATH) : path.dirname(require.resolve('node-red/package.json'));
console.log(`tests on Node.js ${process.version}, Node-RED ${require(path.join(nodeRed, 'package.json')).version} (${path.relative(process.cwd(), nodeRed) || nodeRed})`);
const result = spawnSync(process.execPath, ['--test', '--test-concurrency=1', ...files], { stdio: 'inherit' });
process.exit(result.status === null ? 1 : result.status);
