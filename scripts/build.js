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
// nodes/editor holds code the build writes into the dialogs; Node-RED need not see it on its own.
fs.cpSync(path.join(root, 'nodes'), out, { recursive: true, filter: (src) => src !== path.join(root, 'nodes', 'editor') });
fs.cpSync(path.join(root, 'icons'), path.join(out, 'icons'), { recursive: true });

// Each dialog gets its node's property defaults from the table the runtime reads (src/nodes/properties.ts),
// so the editor and the runtime cannot disagree on what a property the flow leaves out means.
const { NODE_PROPERTIES } = require(path.join(out, 'properties.js'));
const editorProperties = fs.readFileSync(path.join(root, 'nodes', 'editor', 'properties.js'), 'utf8').trim();
const MARKER = /\/\* @node-properties ([\w-]+) \*\//g;
// What several dialogs share: code (nodes/editor/<name>.js), written where a dialog's script has the line
// /* @editor <name> */, and rows of the form (nodes/editor/<name>.html, without its first line, a comment),
// written where its template has <!-- @editor <name> --> with {type} the node's type.
const SHARED_CODE = /\/\* @editor ([\w-]+) \*\//g;
const SHARED_ROWS = /^( *)<!-- @editor ([\w-]+) -->\n/gm;
const editorFile = (name, ext) => fs.readFileSync(path.join(root, 'nodes', 'editor', `${name}.${ext}`), 'utf8');
const shared = (html, type) =>
  html
    .replace(SHARED_CODE, (line, name) => editorFile(name, 'js').trim())
    .replace(SHARED_ROWS, (line, indent, name) => editorFile(name, 'html').split('\n').slice(1).join('\n').split('{type}').join(type));
for (const type of Object.keys(NODE_PROPERTIES)) {
  const file = path.join(out, `${type}.html`);
  const html = fs.readFileSync(file, 'utf8');
  const marked = [...html.matchAll(MARKER)].map((m) => m[1]);
  if (marked.length !== 1 || marked[0] !== type) {
    console.error(`build failed: nodes/${type}.html must hold the line /* @node-properties ${type} */ once (found: ${marked.join(', ') || 'none'})`);
    process.exit(1);
  }
  const table = JSON.stringify(NODE_PROPERTIES[type]);
  fs.writeFileSync(file, shared(html.replace(MARKER, () => `var properties = (${editorProperties})(${table});`), type));
}
