#!/usr/bin/env node
// Refreshes the README's pictures: builds, runs the browser test (which needs Chromium, see .ci/run) and
// copies the screenshots it took from screenshots/ (gitignored) to docs/screenshots/, which is committed.
'use strict';
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const README_PICTURES = ['flow', 'detections-dialog', 'config-dialog', 'config-certificate', 'test-connection', 'ja-detections-dialog', 'ja-test-connection', 'ja-update-dialog', 'update-dialog', 'incident-update-dialog', 'delivery-flow', 'delivery-dialog'];
const root = path.resolve(__dirname, '..');
const env = { ...process.env, BROWSER_TESTS: 'required' };
for (const args of [['scripts/build.js'], ['scripts/test.js', 'test/browser/editor.test']]) {
  const result = spawnSync(process.execPath, args, { cwd: root, env, stdio: 'inherit' });
  if (result.status !== 0) process.exit(result.status ?? 1);
}
const to = path.join(root, 'docs', 'screenshots');
fs.mkdirSync(to, { recursive: true });
for (const name of README_PICTURES) {
  fs.copyFileSync(path.join(root, 'screenshots', `${name}.png`), path.join(to, `${name}.png`));
  console.log(`docs/screenshots/${name}.png`);
}
