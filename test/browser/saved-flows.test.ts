/**
 * Flows the editor did not write, imported into the editor as a user does (Menu → Import): a node of every
 * type given only its type and what it cannot do without (a flow from a pipeline or written by hand), and the
 * example flows as 0.1.0 shipped them. No node may be marked invalid, Deploy must not warn, and a dialog
 * shows the defaults the runtime uses, so Done stores them.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { NODE_PROPERTIES } from '../../src/nodes/properties';
import { editorSuite } from './suite';

type FlowNode = Record<string, unknown> & { id: string; type: string };

const OLD_FLOWS = path.resolve(__dirname, '..', '..', '..', 'test', 'fixtures', 'flows-0.1.0');

/** One node of every type of the package, with only its type, its config node and its tenant. */
const MINIMAL: FlowNode[] = [
  { id: 'm0000000000000a1', type: 'tab', label: 'minimal' },
  // A config node cannot do without its tenant and app: everything else is left out.
  { id: 'm0000000000000c1', type: 'defender-config', tenantId: '00000000-0000-4000-8000-000000000000', clientId: 'app' },
  { id: 'm0000000000000d1', type: 'defender-detections', z: 'm0000000000000a1', defender: 'm0000000000000c1', x: 200, y: 100, wires: [[], []] },
  { id: 'm0000000000000u1', type: 'defender-alert-update', z: 'm0000000000000a1', defender: 'm0000000000000c1', x: 420, y: 100, wires: [[]] },
];

/**
 * The example flows of 0.1.0. The e-mail node (node-red-node-email) is not installed in the test's
 * Node-RED, where Deploy would rightly warn of an unknown type; it is left out, with the wire to it.
 */
function oldExamples(): FlowNode[] {
  return fs
    .readdirSync(OLD_FLOWS)
    .filter((f) => f.endsWith('.json'))
    .flatMap((f) => JSON.parse(fs.readFileSync(path.join(OLD_FLOWS, f), 'utf8')) as FlowNode[])
    .filter((n) => n.type !== 'e-mail')
    .map((n) => (Array.isArray(n.wires) ? { ...n, wires: (n.wires as string[][]).map((port) => port.filter((id) => !id.startsWith('d3f1000000000008'))) } : n));
}

editorSuite('flows written without optional properties, in the editor', (suite) => {
  const { step } = suite;

  step('imports a node of every type given only its type and config node, and marks none invalid', async () => {
    await suite.editor.importFlow(MINIMAL);
    assert.deepEqual(await suite.editor.invalidNodes(), []);
    await suite.editor.showTab('m0000000000000a1');
    // The label reads the missing properties as their defaults: nothing asked beyond them.
    await suite.editor.label('m0000000000000d1', 'defender detections');
  });

  step('shows the defaults in the detections dialog, and Done stores them', async () => {
    const page = suite.editor.page;
    const id = 'm0000000000000d1';
    assert.equal(await suite.editor.property(id, 'initialAgo'), undefined, 'the premise: the flow has no initialAgo');
    await suite.editor.openNode(id, '#node-input-initialAgo');
    const defaults = NODE_PROPERTIES['defender-detections'];
    assert.equal(await page.locator('#node-input-initialAgo').inputValue(), defaults.initialAgo);
    assert.equal(await page.locator('#node-input-overlap').inputValue(), defaults.overlap);
    assert.equal(await page.locator('#node-input-requestTimeout').inputValue(), String(defaults.requestTimeout));
    assert.equal(await page.locator('#node-input-maxRetries').inputValue(), String(defaults.maxRetries));
    assert.equal(await page.locator('#node-input-maxResponseMB').inputValue(), String(defaults.maxResponseMB));
    assert.equal(await page.locator('#node-input-incremental').isChecked(), defaults.incremental);
    assert.equal(await page.locator('#node-input-limitType').inputValue(), defaults.limitType);
    assert.equal(await page.locator('#node-input-events').inputValue(), defaults.events);
    assert.equal(await page.locator('#node-input-remember').inputValue(), defaults.remember);
    // The lifecycle setting a user changes most: send new alerts only.
    await page.selectOption('#node-input-events', 'new');
    assert.doesNotMatch(String(await page.locator('#node-input-initialAgo').getAttribute('class')), /input-error/);
    await page.click('#node-dialog-ok');
    await page.locator('#node-input-initialAgo').waitFor({ state: 'detached' });
    assert.equal(await suite.editor.property(id, 'initialAgo'), defaults.initialAgo);
    assert.equal(await suite.editor.property(id, 'incremental'), true);
    assert.equal(Number(await suite.editor.property(id, 'requestTimeout')), defaults.requestTimeout);
    assert.equal(await suite.editor.property(id, 'events'), 'new');
    assert.equal(await suite.editor.property(id, 'remember'), defaults.remember);
  });

  step('shows the update dialog\'s defaults: every value from its field, left unchanged', async () => {
    const page = suite.editor.page;
    const id = 'm0000000000000u1';
    await suite.editor.label(id, 'update alert');
    await suite.editor.openNode(id, '#node-input-defender');
    const defaults = NODE_PROPERTIES['defender-alert-update'];
    for (const field of ['alertStatus', 'classification', 'determination', 'assignedTo', 'comment'] as const) {
      assert.equal(await page.locator(`#node-input-${field}Type`).inputValue(), defaults[`${field}Type`], field);
      assert.equal(await page.locator(`#node-input-${field}`).inputValue(), defaults[field], field);
      assert.doesNotMatch(String(await page.locator(`#node-input-${field}`).getAttribute('class')), /input-error/, field);
    }
    await page.click('#node-dialog-ok');
    await page.locator('#node-input-defender').waitFor({ state: 'detached' });
    assert.equal(await suite.editor.property(id, 'alertStatusType'), 'str');
  });


  step('shows the region, API and sign-in defaults in the config dialog', async () => {
    const page = suite.editor.page;
    await suite.editor.openNode('m0000000000000d1', '#node-input-initialAgo');
    await page.locator('#node-input-btn-defender-edit, #node-input-lookup-defender').first().click();
    await page.locator('#node-config-input-tenantId').waitFor({ state: 'visible' });
    assert.equal(await page.locator('#node-config-input-region').inputValue(), NODE_PROPERTIES['defender-config'].region);
    assert.equal(await page.locator('#node-config-input-api').inputValue(), NODE_PROPERTIES['defender-config'].api);
    // Saved without auth, the node signs in with its secret: the dialog says so and shows that field only.
    assert.equal(await page.locator('#node-config-input-auth').inputValue(), NODE_PROPERTIES['defender-config'].auth);
    assert.equal(await page.locator('#node-config-input-clientSecret').isVisible(), true);
    assert.equal(await page.locator('#node-config-input-privateKey').isVisible(), false);
    await page.click('#node-config-dialog-cancel');
    await page.locator('#node-config-input-tenantId').waitFor({ state: 'detached' });
    await page.click('#node-dialog-cancel');
    await page.locator('#node-input-initialAgo').waitFor({ state: 'detached' });
  });

  step('imports the example flows as 0.1.0 shipped them and marks none of their nodes invalid', async () => {
    await suite.editor.importFlow(oldExamples());
    assert.deepEqual(await suite.editor.invalidNodes(), []);
  });

  step('deploys all of it without a warning', async () => {
    await suite.editor.deployWithoutWarning();
  });

  step('moves the status of an update node saved before alertStatus existed over, as the editor adds the node', async () => {
    const legacy = { id: 'm0000000000000u2', type: 'defender-alert-update', z: 'm0000000000000a1', defender: 'm0000000000000c1', status: 'resolved', statusType: 'str', x: 420, y: 160, wires: [[]] };
    await suite.editor.importFlow([legacy]);
    assert.equal(await suite.editor.property(legacy.id, 'alertStatus'), 'resolved');
    assert.equal(await suite.editor.property(legacy.id, 'alertStatusType'), 'str');
    await suite.editor.label(legacy.id, 'resolved');
    assert.deepEqual((await suite.editor.invalidNodes()).filter((n) => n.includes(legacy.id)), []);
  });
});
