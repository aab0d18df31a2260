#!/usr/bin/env node
// Runs the Flow Library's own validator (`node-red-dev validate`, pinned below) on the package as npm would
// publish it: package.json, README, LICENSE, examples/, icons/ and the build under dist/src, with its
// production dependencies installed. The validator is installed into a temporary folder, not into this
// project. Build first (`node scripts/build.js`; BUILD_DIR is honoured).
//
// P08 and N01 compare names with the Flow Library's catalogue, which this closed network cannot reach: the
// catalogue is answered as empty so the other checks run, and those two are reported as not run. P02 is
// disabled inside the validator itself.
'use strict';
const { execFileSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const VALIDATOR = 'node-red-dev@0.1.6';
const CATALOGUE = 'https://catalogue.nodered.org/';
const root = path.resolve(__dirname, '..');
const build = path.resolve(root, process.env.BUILD_DIR || 'dist');
if (!fs.existsSync(path.join(build, 'src', 'nodes'))) {
  console.error(`no build in ${path.relative(root, build)}: run node scripts/build.js first`);
  process.exit(1);
}

const work = fs.mkdtempSync(path.join(os.tmpdir(), 'flow-library-check-'));
try {
  const pkg = path.join(work, 'package');
  fs.mkdirSync(path.join(pkg, 'dist'), { recursive: true });
  for (const f of ['package.json', 'package-lock.json', 'README.md', 'LICENSE']) fs.copyFileSync(path.join(root, f), path.join(pkg, f));
  for (const d of ['examples', 'icons']) fs.cpSync(path.join(root, d), path.join(pkg, d), { recursive: true });
  fs.cpSync(path.join(build, 'src'), path.join(pkg, 'dist', 'src'), { recursive: true });
  const npm = (args, cwd) => execFileSync('npm', [...args, '--no-audit', '--no-fund', '--loglevel=error'], { cwd, stdio: ['ignore', 'ignore', 'inherit'] });
  npm(['ci', '--omit=dev', '--ignore-scripts'], pkg);
  const tool = path.join(work, 'validator');
  fs.mkdirSync(tool);
  fs.writeFileSync(path.join(tool, 'package.json'), '{"private":true}');
  npm(['install', '--ignore-scripts', VALIDATOR], tool);

  const toolDir = path.join(tool, 'node_modules', 'node-red-dev');
  const axios = require(require.resolve('axios', { paths: [path.join(toolDir, 'src', 'libs')] }));
  const get = axios.get.bind(axios);
  axios.get = (url, ...rest) => (String(url).startsWith(CATALOGUE) ? Promise.resolve({ data: { modules: [] } }) : get(url, ...rest));
  const scorecard = path.join(work, 'scorecard.json');
  console.log(`${VALIDATOR}: the catalogue is answered as empty, so its lines on similar names (P08) and unique node names (N01) mean nothing here`);
  require(path.join(toolDir, 'src', 'commands', 'validate.js'))
    .run(['--path', pkg, '--output', scorecard, '--embed', 'yes'])
    .then(() => {
      const card = JSON.parse(fs.readFileSync(scorecard, 'utf8'));
      for (const id of ['P08', 'N01']) card[id] = { test: null, notRun: 'needs the Flow Library catalogue, not reachable from here' };
      console.log('\nscorecard:');
      let failed = 0;
      for (const [id, result] of Object.entries(card)) {
        if (id === 'package') continue;
        const verdict = result.test === true ? 'pass' : result.test === false ? 'FAIL' : 'not run';
        if (result.test === false) failed++;
        console.log(`  ${id}  ${verdict}${result.notRun ? ` (${result.notRun})` : ''}`);
      }
      fs.rmSync(work, { recursive: true, force: true });
      process.exit(failed ? 1 : 0);
    });
} catch (err) {
  fs.rmSync(work, { recursive: true, force: true });
  throw err;
}
