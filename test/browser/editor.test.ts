/**
 * The editor as a user meets it, in a real Chromium against a real Node-RED with this build installed
 * (the `npm start` demo on free ports, an empty flow): find the nodes, build inject → defender detections
 * → debug with the mouse, create a defender-config that points at the emulator, deploy, test the
 * connection, switch it to certificate sign-in with the demo's throwaway key and certificate, pull, and read the
 * detections in the debug sidebar; put an update alert node behind it, choose a status in its dialog and see
 * the alerts change, and an update incident node behind that, and see their incidents change; drop defender
 * incidents beside it, check its dialog's validation and pull incidents; then the same dialogs, and the
 * incidents help, in Japanese.
 * Screenshots go to screenshots/ (gitignored).
 *
 * Runs when Chromium is installed (/usr/bin/chromium, or CHROMIUM_PATH); otherwise it is skipped with a
 * line saying why, unless BROWSER_TESTS=required (CI), which turns a missing Chromium into a failure.
 */
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { ALERT_ENUMS } from '../../src/defender/writing/alert-update';
import { EditorPage } from './editor-page';
import { editorSuite } from './suite';

const TENANT = '00000000-0000-4000-8000-000000000000';
const CLIENT_ID = 'emulator-client-id';
const SECRET = 'emulator-client-secret';
const TOPIC = /^\[(Informational|Low|Medium|High)\] .+ on .+/;

editorSuite('the Node-RED editor in Chromium', (suite) => {
  const { step } = suite;
  const ids = { inject: '', detections: '', debug: '', config: '', update: '', incident: '', incidents: '' };

  step('lists the nodes of the package in the palette manager, and defender detections in the palette', async () => {
    await suite.editor.paletteNode('defender-detections').waitFor({ state: 'visible' });
    const page = suite.editor.page;
    await page.click('#red-ui-header-button-sidemenu');
    await page.click('#menu-item-edit-palette');
    const module = page.locator('.red-ui-palette-module-header', { hasText: 'node-red-contrib-defender-detections' }).locator('..');
    await module.locator('.red-ui-palette-module-set-button').click();
    const types = await module.locator('.red-ui-palette-module-type').allInnerTexts();
    assert.deepEqual(types.map((s) => s.trim()).sort(), ['defender-alert-update', 'defender-config', 'defender-detections', 'defender-incident-update', 'defender-incidents']);
    await page.click('.red-ui-tray-toolbar #node-dialog-ok');
    await page.locator('.red-ui-palette-module-header').first().waitFor({ state: 'detached' });
  });

  step('drags inject, defender detections and debug onto the workspace and wires them', async () => {
    ids.inject = await suite.editor.drop('inject', 160, 160);
    ids.detections = await suite.editor.drop('defender-detections', 380, 160);
    ids.debug = await suite.editor.drop('debug', 800, 220);
    await suite.editor.wire(ids.inject, 0, ids.detections);
    await suite.editor.wire(ids.detections, 0, ids.debug);
    assert.deepEqual((await suite.editor.links()).sort(), [`${ids.detections}:0->${ids.debug}`, `${ids.inject}:0->${ids.detections}`].sort());
  });

  step('marks bad values in the detections dialog', async () => {
    const page = suite.editor.page;
    const limit = suite.editor.typedInput('limit');
    const limitMarked = async () => /input-error/.test(String(await page.locator('#node-input-limit').getAttribute('class')));
    await suite.editor.openNode(ids.detections, '#node-input-initialAgo');
    assert.equal((await suite.editor.labelOf('node-input-limit')).trim(), 'Limit');
    await limit.fill('abc');
    await limit.press('Tab');
    await page.fill('#node-input-initialAgo', '2 hours');
    await page.locator('#node-input-initialAgo').press('Tab');
    assert.ok(await limitMarked(), 'limit "abc" is not marked');
    assert.match(String(await page.locator('#node-input-initialAgo').getAttribute('class')), /input-error/, 'initialAgo "2 hours" is not marked');
    await limit.fill('20');
    await limit.press('Tab');
    await page.fill('#node-input-initialAgo', 'PT2H');
    await page.locator('#node-input-initialAgo').press('Tab');
    await suite.editor.typedInput('machinegroups').fill('UKMachines, FranceMachines, Servers');
    assert.ok(!(await limitMarked()), 'limit 20 is marked');
    assert.doesNotMatch(String(await page.locator('#node-input-initialAgo').getAttribute('class')), /input-error/);
  });

  step('takes limit from flow context when chosen in the field\'s menu, and needs a key then', async () => {
    const page = suite.editor.page;
    const limit = suite.editor.typedInput('limit');
    const limitMarked = async () => /input-error/.test(String(await page.locator('#node-input-limit').getAttribute('class')));
    await suite.editor.chooseSource('limit', 'flow');
    assert.equal(await page.locator('#node-input-limitType').inputValue(), 'flow');
    await limit.fill('');
    await limit.press('Tab');
    assert.ok(await limitMarked(), 'an empty flow key is not marked');
    await limit.fill('maxAlerts');
    await limit.press('Tab');
    assert.ok(!(await limitMarked()), 'a flow key is marked as an error');
    await suite.editor.screenshot('typed-input');
    // Back to a number: the flow is deployed and pulled below, and flow.maxAlerts is not set there.
    await suite.editor.chooseSource('limit', 'num');
    await limit.fill('20');
    await limit.press('Tab');
    assert.equal(await page.locator('#node-input-limitType').inputValue(), 'num');
    assert.ok(!(await limitMarked()), 'limit 20 is marked');
  });

  step('creates a defender-config pointing at the emulator; the custom region reveals the URL fields', async () => {
    const page = suite.editor.page;
    // Node-RED 4 and 5 name the button that adds a config node differently from Node-RED 3.
    await page.locator('#node-input-btn-defender-add, #node-input-lookup-defender').first().click();
    await page.locator('#node-config-input-tenantId').waitFor({ state: 'visible' });
    await suite.editor.settle();
    await page.selectOption('#node-config-input-region', 'eu');
    assert.equal(await page.locator('#node-config-input-apiBaseUrl').isVisible(), false, 'URL fields shown for a known region');
    await page.selectOption('#node-config-input-region', 'custom');
    assert.equal(await page.locator('#node-config-input-apiBaseUrl').isVisible(), true, 'URL fields hidden for the custom region');
    await page.fill('#node-config-input-name', 'Local emulator');
    await page.fill('#node-config-input-tenantId', TENANT);
    await page.fill('#node-config-input-clientId', CLIENT_ID);
    await page.fill('#node-config-input-clientSecret', SECRET);
    await page.fill('#node-config-input-apiBaseUrl', suite.demo.emulatorUrl);
    await page.fill('#node-config-input-authorityUrl', suite.demo.emulatorUrl);
    await page.locator('#node-config-input-authorityUrl').press('Tab');
    await suite.editor.scrollDialogTop();
    await suite.editor.screenshot('config-dialog');
    await page.click('#node-config-dialog-ok');
    await page.locator('#node-config-input-tenantId').waitFor({ state: 'detached' });
    [ids.config] = await suite.editor.configNodes('defender-config');
    assert.ok(ids.config, 'no defender-config node was created');
    assert.equal(await page.locator('#node-input-defender').inputValue(), ids.config, 'the new config node is not selected');
    await suite.editor.settle();
    await suite.editor.screenshot('detections-dialog');
    await page.click('#node-dialog-ok');
    await page.locator('#node-input-limit').waitFor({ state: 'detached' });
    // Unnamed, the node shows what it asks for.
    await suite.editor.label(ids.detections, 'limit 20 · UKMachines, FranceMachines +1');
  });

  step('another node checked while this dialog is open is judged by its own fields', async () => {
    const page = suite.editor.page;
    const second = await suite.editor.drop('defender-detections', 380, 320);
    // Its own dialog: the same config node, limit from flow.maxAlerts.
    await suite.editor.openNode(second, '#node-input-initialAgo');
    await page.selectOption('#node-input-defender', ids.config);
    await suite.editor.chooseSource('limit', 'flow');
    await suite.editor.typedInput('limit').fill('maxAlerts');
    await page.click('#node-dialog-ok');
    await page.locator('#node-input-initialAgo').waitFor({ state: 'detached' });
    // Unnamed, its label says where the limit comes from.
    await suite.editor.label(second, 'limit flow.maxAlerts');
    // With the first node's dialog open (limit a number there), check the second again, as the editor does
    // for the users of a config node or after an import.
    await suite.editor.openNode(ids.detections, '#node-input-initialAgo');
    const valid = await page.evaluate((id) => {
      const RED = (window as unknown as { RED: { nodes: { node(id: string): { valid: boolean } }; editor: { validateNode(n: unknown): void } } }).RED;
      const node = RED.nodes.node(id);
      RED.editor.validateNode(node);
      return node.valid;
    }, second);
    await page.click('#node-dialog-cancel');
    await page.locator('#node-input-initialAgo').waitFor({ state: 'detached' });
    assert.equal(valid, true, 'the second node was checked against the first node\'s dialog');
    await suite.editor.flowNode(second).locator('rect.red-ui-flow-node').click();
    await page.keyboard.press('Delete');
    await suite.editor.flowNode(second).waitFor({ state: 'detached' });
  });

  step('deploys the flow', async () => {
    await suite.editor.deploy();
    // The runtime has the nodes: its status dot turns up once the first pull ran, not before.
    const flows = (await (await fetch(new URL('flows', suite.demo.editorUrl), { headers: { 'Node-RED-API-Version': 'v2' } })).json()) as {
      flows: Array<{ id: string; type: string }>;
    };
    const types = flows.flows.map((n) => n.type);
    for (const type of ['inject', 'defender-detections', 'debug', 'defender-config']) assert.ok(types.includes(type), `${type} not deployed`);
  });

  step('Test connection reports success with the stored secret, and the exact error for a wrong one', async () => {
    const page = suite.editor.page;
    await suite.editor.openConfigOf(ids.detections, '#defender-config-test');
    // Deployed and left unchanged, the secret field holds Node-RED's placeholder, not the secret.
    assert.equal(await page.locator('#node-config-input-clientSecret').inputValue(), '__PWRD__');
    await page.click('#defender-config-test');
    const result = page.locator('#defender-config-test-result');
    await page.locator('#defender-config-test-result.defender-config-test-ok').waitFor({ state: 'visible' });
    assert.match(await result.innerText(), /^Connected: a token was issued and the API answered \(1 detection read\)\.$/);
    await page.locator('#defender-config-test').scrollIntoViewIfNeeded();
    await suite.editor.screenshot('test-connection');

    await page.fill('#node-config-input-clientSecret', 'a-wrong-secret-typed-by-hand');
    await page.click('#defender-config-test');
    await page.locator('#defender-config-test-result.defender-config-test-failed').waitFor({ state: 'visible' });
    const failure = await result.innerText();
    assert.match(failure, /^Failed \(TOKEN_FAILED\): .*AADSTS7000215/);
    assert.ok(!failure.includes('a-wrong-secret-typed-by-hand'), 'the typed secret is shown back');
    // Cancel keeps the stored secret: nothing of the test is saved.
    await page.click('#node-config-dialog-cancel');
    await page.locator('#defender-config-test').waitFor({ state: 'detached' });
    await page.click('#node-dialog-cancel');
    await page.locator('#node-input-limit').waitFor({ state: 'detached' });
  });

  step('the sign-in select shows only the fields of the chosen mode', async () => {
    const page = suite.editor.page;
    await suite.editor.openConfigOf(ids.detections, '#node-config-input-auth');
    const shown = async (): Promise<string[]> => {
      const fields = ['tenantId', 'clientId', 'clientSecret', 'privateKey', 'privateKeyPassphrase', 'certificate', 'managedIdentityClientId'];
      const visible = await Promise.all(fields.map((f) => page.locator(`#node-config-input-${f}`).isVisible()));
      return fields.filter((_, i) => visible[i]);
    };
    assert.equal(await page.locator('#node-config-input-auth').inputValue(), 'secret');
    assert.deepEqual(await shown(), ['tenantId', 'clientId', 'clientSecret']);
    await page.selectOption('#node-config-input-auth', 'certificate');
    assert.deepEqual(await shown(), ['tenantId', 'clientId', 'privateKey', 'privateKeyPassphrase', 'certificate']);
    await page.selectOption('#node-config-input-auth', 'managed-identity');
    assert.deepEqual(await shown(), ['managedIdentityClientId']);
    await page.selectOption('#node-config-input-auth', 'workload-identity');
    assert.deepEqual(await shown(), ['tenantId', 'clientId']);
    assert.equal(await page.locator('#node-config-input-tenantId').getAttribute('placeholder'), 'empty: AZURE_TENANT_ID');
    assert.match(await page.locator('.defender-config-workload-identity-row .form-tips').innerText(), /AZURE_FEDERATED_TOKEN_FILE/);
  });

  step('signs in with a certificate loaded from files: the dialog shows its thumbprint and expiry, and Test connection passes', async () => {
    const page = suite.editor.page;
    const dir = path.join(suite.demo.userDir, 'demo-certificate');
    const certificate = new X509Certificate(fs.readFileSync(path.join(dir, 'certificate.pem')));
    await page.selectOption('#node-config-input-auth', 'certificate');
    // The certificate's file chosen for the key by mistake: the dialog and Test connection say so.
    await page.setInputFiles('#defender-config-privateKey-file', path.join(dir, 'certificate.pem'));
    await page.setInputFiles('#defender-config-certificate-file', path.join(dir, 'certificate.pem'));
    const info = page.locator('#defender-config-certificate-info');
    await info.filter({ hasText: 'privateKey must be a PEM private key' }).waitFor({ state: 'visible' });
    await page.click('#defender-config-test');
    await page.locator('#defender-config-test-result.defender-config-test-failed').waitFor({ state: 'visible' });
    assert.match(await page.locator('#defender-config-test-result').innerText(), /^Failed \(INVALID_CONFIG\): privateKey must be a PEM private key/);
    await page.setInputFiles('#defender-config-privateKey-file', path.join(dir, 'private-key.pem'));
    await info.filter({ hasText: 'belongs to this certificate' }).waitFor({ state: 'visible' });
    const thumbprint = certificate.fingerprint.replace(/:/g, '');
    const expiry = new Date(certificate.validTo).toISOString().slice(0, 10);
    assert.match(await info.innerText(), new RegExp(`^Thumbprint ${thumbprint} · valid until ${expiry} · CN=node-red-defender-detections demo\nThe private key belongs to this certificate\.$`));
    await page.click('#defender-config-test');
    await page.locator('#defender-config-test-result.defender-config-test-ok').waitFor({ state: 'visible' });
    await suite.editor.scrollDialogTop();
    await suite.editor.screenshot('config-certificate');
    await page.click('#node-config-dialog-ok');
    await page.locator('#node-config-input-auth').waitFor({ state: 'detached' });
    await page.click('#node-dialog-ok');
    await page.locator('#node-input-limit').waitFor({ state: 'detached' });
    await suite.editor.deploy();
    // What the editor may learn of the credentials: that the key is set, never the key.
    const answer = await fetch(new URL(`credentials/defender-config/${ids.config}`, suite.demo.editorUrl));
    const text = await answer.text();
    assert.deepEqual(JSON.parse(text), { has_clientSecret: true, has_privateKey: true, has_privateKeyPassphrase: false, has_redisPassword: false });
    const key = fs.readFileSync(path.join(dir, 'private-key.pem'), 'utf8');
    assert.ok(!text.includes(key.split('\n')[1]));
  });

  step('a pull from the inject button shows detections in the debug sidebar', async () => {
    await suite.editor.showDebugSidebar();
    await suite.editor.inject(ids.inject);
    const topics = await suite.editor.debugTopics(1);
    assert.ok(topics.some((topic) => TOPIC.test(topic)), `no detection topic among ${JSON.stringify(topics.slice(0, 5))}`);
    await suite.editor.status(ids.detections, /^\d+ new at \d\d:\d\d:\d\d$/);
    await suite.editor.scrollHome();
    await suite.editor.screenshot('flow');
  });

  step('puts an update alert node behind the pull, chooses a status and an owner in its dialog, and the pulled alerts change', async () => {
    const page = suite.editor.page;
    ids.update = await suite.editor.drop('defender-alert-update', 600, 100);
    await suite.editor.wire(ids.detections, 0, ids.update);
    await suite.editor.openNode(ids.update, '#node-input-defender');
    assert.equal((await suite.editor.labelOf('node-input-alertStatus')).trim(), 'Status');
    // Nothing chosen yet: each list starts at "leave unchanged".
    assert.equal(await page.locator('#node-input-alertStatus').inputValue(), '');
    await page.selectOption('#node-input-defender', ids.config);
    await suite.editor.chooseOption('alertStatus', 'inProgress');
    assert.equal(await page.locator('#node-input-alertStatus').inputValue(), 'inProgress');
    assert.equal(await page.locator('#node-input-alertStatusType').inputValue(), 'str');
    await suite.editor.typedInput('assignedTo').fill('soc@contoso.com');
    // A value from context needs its key.
    await suite.editor.chooseSource('comment', 'flow');
    await suite.editor.typedInput('comment').press('Tab');
    assert.match(String(await page.locator('#node-input-comment').getAttribute('class')), /input-error/, 'an empty flow key is not marked');
    await suite.editor.chooseSource('comment', 'str');
    await suite.editor.typedInput('comment').fill('Seen in Node-RED');
    await suite.editor.settle();
    await suite.editor.screenshot('update-dialog');
    await page.click('#node-dialog-ok');
    await page.locator('#node-input-defender').waitFor({ state: 'detached' });
    // Unnamed, it shows what it sets.
    await suite.editor.label(ids.update, 'inProgress');
    await suite.editor.deploy();

    // New detections in a group the detections node asks for, then a pull: each is changed through Graph,
    // although the config node reads the SIEM API.
    const emulator = suite.demo.emulatorUrl;
    const added = await fetch(`${emulator}/emulator/detections`, {
      method: 'POST',
      body: JSON.stringify({ count: 2, machineGroup: 'UKMachines', lastProcessedAt: Date.now() - 1000 }),
    });
    assert.equal(added.status, 201);
    await suite.editor.inject(ids.inject);
    await suite.editor.status(ids.update, /^inProgress at \d\d:\d\d:\d\d$/);
    const form = new URLSearchParams({ scope: `${emulator}/.default`, client_id: CLIENT_ID, client_secret: SECRET, grant_type: 'client_credentials' });
    const token = ((await (await fetch(`${emulator}/${TENANT}/oauth2/v2.0/token`, { method: 'POST', body: form })).json()) as { access_token: string }).access_token;
    const filter = encodeURIComponent("status eq 'inProgress' and assignedTo eq 'soc@contoso.com'");
    const changed = (await (await fetch(`${emulator}/v1.0/security/alerts_v2?$filter=${filter}`, { headers: { Authorization: `Bearer ${token}` } })).json()) as {
      value: Array<{ comments: Array<{ comment: string }> }>;
    };
    assert.ok(changed.value.length >= 2, `${changed.value.length} alerts changed`);
    assert.ok(changed.value.every((a) => a.comments.some((c) => c.comment === 'Seen in Node-RED')));
    // The node shows a status now, which the editor keeps as the node's `status`: the status to set is
    // another property, so the node stays valid and a deploy keeps what it sets.
    assert.equal(await suite.editor.property(ids.update, 'alertStatus'), 'inProgress');
    assert.deepEqual((await suite.editor.invalidNodes()).filter((n) => n.includes(ids.update)), []);
  });

  step('puts an update incident node behind the update alert node, chooses a status, tags and an owner in its dialog, and the alerts\' incidents change', async () => {
    const page = suite.editor.page;
    // The update alert node's dialog moved the workspace: back to where the nodes are.
    await suite.editor.scrollHome();
    ids.incident = await suite.editor.drop('defender-incident-update', 820, 100);
    // The update alert node sends the alert as Graph has it, with its incidentId.
    await suite.editor.wire(ids.update, 0, ids.incident);
    assert.ok((await suite.editor.links()).includes(`${ids.update}:0->${ids.incident}`), 'not wired');
    await suite.editor.openNode(ids.incident, '#node-input-defender');
    assert.equal((await suite.editor.labelOf('node-input-incidentStatus')).trim(), 'Status');
    assert.equal((await suite.editor.labelOf('node-input-customTags')).trim(), 'Tags');
    assert.equal(await page.locator('#node-input-incidentStatus').inputValue(), '');
    await page.selectOption('#node-input-defender', ids.config);
    // The list offers only what a client may set: Defender sets redirected and awaitingAction itself.
    await page.locator('#node-input-incidentStatus + .red-ui-typedInput-container button.red-ui-typedInput-option-trigger').click();
    const menu = page.locator('.red-ui-typedInput-options').filter({ visible: true });
    assert.deepEqual((await menu.locator('a').evaluateAll((as) => as.map((a) => a.getAttribute('value')))), ['', 'active', 'inProgress', 'resolved']);
    await menu.locator('a[value="inProgress"]').click();
    assert.equal(await page.locator('#node-input-incidentStatus').inputValue(), 'inProgress');
    assert.equal(await page.locator('#node-input-incidentStatusType').inputValue(), 'str');
    await suite.editor.typedInput('assignedTo').fill('soc@contoso.com');
    await suite.editor.typedInput('customTags').fill('Node-RED, Paged');
    // A value from the message needs its property.
    await suite.editor.chooseSource('comment', 'msg');
    await suite.editor.typedInput('comment').fill('');
    await suite.editor.typedInput('comment').press('Tab');
    assert.match(String(await page.locator('#node-input-comment').getAttribute('class')), /input-error/, 'an empty msg property is not marked');
    await suite.editor.chooseSource('comment', 'str');
    await suite.editor.typedInput('comment').fill('Paged the SOC from Node-RED');
    await suite.editor.settle();
    await suite.editor.screenshot('incident-update-dialog');
    await page.click('#node-dialog-ok');
    await page.locator('#node-input-defender').waitFor({ state: 'detached' });
    await suite.editor.label(ids.incident, 'inProgress');
    await suite.editor.deploy();

    const emulator = suite.demo.emulatorUrl;
    const added = await fetch(`${emulator}/emulator/detections`, {
      method: 'POST',
      body: JSON.stringify({ count: 1, machineGroup: 'UKMachines', lastProcessedAt: Date.now() - 1000 }),
    });
    assert.equal(added.status, 201);
    await suite.editor.inject(ids.inject);
    await suite.editor.status(ids.incident, /^inProgress at \d\d:\d\d:\d\d$/);
    const incidents = ((await (await fetch(`${emulator}/emulator/incidents`)).json()) as { value: Array<{ status: string; assignedTo: string; customTags: string[]; comments: Array<{ comment: string }> }> }).value;
    const changed = incidents.filter((i) => i.comments.some((c) => c.comment === 'Paged the SOC from Node-RED'));
    assert.ok(changed.length >= 1, 'no incident changed');
    for (const i of changed) assert.deepEqual([i.status, i.assignedTo, i.customTags], ['inProgress', 'soc@contoso.com', ['Node-RED', 'Paged']]);
    // The node shows a status now, which the editor keeps as its `status`: the status to set is incidentStatus.
    assert.equal(await suite.editor.property(ids.incident, 'incidentStatus'), 'inProgress');
    assert.deepEqual((await suite.editor.invalidNodes()).filter((n) => n.includes(ids.incident)), []);
  });

  step('imports example 02 with new ids and keeps its delivering node; the dialog ticks it, checks the delivery fields, and a node with none chosen is marked', async () => {
    const page = suite.editor.page;
    const example = JSON.parse(fs.readFileSync(path.resolve(__dirname, '..', '..', '..', 'examples', '02 Forward detections to a webhook.json'), 'utf8')) as Array<{ type: string }>;
    // As Menu → Import does for a flow whose nodes exist already, or a paste: every node gets a new id.
    await suite.editor.importCopy(example);
    const det = (await suite.editor.nodesOfType('defender-detections', ['confirm', 'confirmNodes'])).find((n) => n.confirm === 'nodes');
    assert.ok(det, 'no detections node confirming delivery was imported');
    const post = (await suite.editor.nodesOfType('http request', [])).find((n) => n.z === det.z);
    assert.ok(post);
    const imported = { det: det.id, post: post.id, tab: det.z, confirmNodes: det.confirmNodes };
    assert.notEqual(imported.post, 'd3f2000000000007', 'the premise: the import gave new ids');
    assert.deepEqual(imported.confirmNodes, [imported.post], 'the delivering node is the imported http request node, under its new id');
    await suite.editor.showTab(imported.tab);
    await suite.editor.screenshot('delivery-flow');
    await suite.editor.openNode(imported.det, '#node-input-initialAgo');
    await page.locator('#node-input-confirm').scrollIntoViewIfNeeded();
    assert.equal(await page.locator('#node-input-confirm').inputValue(), 'nodes');
    const list = page.locator('#defender-detections-confirm-nodes');
    const ticked = (): Promise<string[]> => list.evaluate((el) => ($(el) as unknown as { treeList(m: string): Array<{ node: { id: string } }> }).treeList('selected').map((i) => i.node.id));
    assert.deepEqual(await ticked(), [imported.post]);
    assert.equal(await page.locator('#node-input-deliveryTimeout').inputValue(), 'PT1M');
    await page.locator('#node-input-maxDeliveries').scrollIntoViewIfNeeded();
    await suite.editor.settle();
    await suite.editor.screenshot('delivery-dialog');
    await suite.editor.checkMarking('#node-input-deliveryTimeout', '1 minute', 'PT1M');
    await suite.editor.checkMarking('#node-input-maxDeliveries', '0', '10');
    // No delivering node left: the node is marked when the dialog closes, as the Complete node is without a scope.
    await list.locator('.red-ui-treeList-label', { hasText: 'POST to webhook' }).locator('input.red-ui-treeList-checkbox').click();
    assert.deepEqual(await ticked(), []);
    await page.click('#node-dialog-ok');
    await page.locator('#node-input-confirm').waitFor({ state: 'detached' });
    assert.deepEqual(await suite.editor.property(imported.det, 'confirmNodes'), []);
    assert.ok((await suite.editor.invalidNodes()).some((n) => n.startsWith(`defender-detections ${imported.det}`)), 'a node confirming with no delivering node is not marked');
    // Confirmation off: valid again, whatever the list holds.
    await suite.editor.openNode(imported.det, '#node-input-initialAgo');
    await page.selectOption('#node-input-confirm', 'none');
    assert.ok(!(await page.locator('#defender-detections-confirm-nodes').isVisible()), 'the delivery fields show while confirmation is off');
    await page.click('#node-dialog-ok');
    await page.locator('#node-input-confirm').waitFor({ state: 'detached' });
    assert.deepEqual((await suite.editor.invalidNodes()).filter((n) => n.includes(imported.det)), []);
    // The imported flow is not deployed: it goes again, and the first flow is shown.
    await suite.editor.deleteTab(imported.tab);
    await suite.editor.showTab(String(await suite.editor.property(ids.detections, 'z')));
  });

  step('drops defender incidents from the same palette category, marks filter values Graph does not know, and a pull shows incidents in the debug sidebar', async () => {
    const page = suite.editor.page;
    const category = (type: string): Promise<string | undefined> => suite.editor.paletteNode(type).evaluate((el) => el.closest('.red-ui-palette-category')?.id);
    assert.equal(await category('defender-incidents'), await category('defender-detections'));
    assert.equal((await suite.editor.paletteNode('defender-incidents').innerText()).replace(/\s+/g, ' ').trim(), 'defender incidents');
    ids.incidents = await suite.editor.drop('defender-incidents', 380, 320);
    await suite.editor.wire(ids.inject, 0, ids.incidents);
    await suite.editor.wire(ids.incidents, 0, ids.debug);
    await suite.editor.openNode(ids.incidents, '#node-input-initialAgo');
    assert.equal((await suite.editor.labelOf('node-input-incidentStatus')).trim(), 'Status');
    assert.equal(await page.locator('#node-input-alerts').inputValue(), 'include');
    assert.equal(await page.locator('#node-input-incremental').isChecked(), true);
    await page.selectOption('#node-input-defender', ids.config);
    await suite.editor.checkMarking('#node-input-incidentStatus', 'active, closed', 'Active, inProgress');
    await suite.editor.checkMarking('#node-input-severity', 'high, urgent', 'high, medium, low, informational');
    await suite.editor.checkMarking('#node-input-classification', 'malicious', '');
    await suite.editor.checkMarking('#node-input-initialAgo', '2 hours', 'PT2H');
    // A limit from flow context needs its key, as in the detections dialog.
    await suite.editor.chooseSource('limit', 'flow');
    await suite.editor.typedInput('limit').press('Tab');
    assert.ok(await suite.editor.marked('#node-input-limit'), 'an empty flow key is not marked');
    await suite.editor.chooseSource('limit', 'num');
    await suite.editor.settle();
    await suite.editor.screenshot('incidents-dialog');
    await page.click('#node-dialog-ok');
    await page.locator('#node-input-initialAgo').waitFor({ state: 'detached' });
    // Unnamed, it shows what it asks for, in Graph's words.
    assert.equal(await suite.editor.flowNode(ids.incidents).locator('.red-ui-flow-node-label-text').textContent(), 'status Active, inProgress · severity high, medium, low, informational');
    assert.deepEqual((await suite.editor.invalidNodes()).filter((n) => n.includes(ids.incidents)), []);
    await suite.editor.deploy();
    await suite.editor.inject(ids.inject);
    // Through Graph, although the config node reads the SIEM API.
    await suite.editor.status(ids.incidents, /^[1-9]\d* new at \d\d:\d\d:\d\d$/);
    // An incident's name says where: "on one endpoint" or "on multiple endpoints" (the detections' say which device).
    const incident = page.locator('.red-ui-debug-msg .red-ui-debug-msg-topic', { hasText: /^\[(Informational|Low|Medium|High)\] .* on (one endpoint|multiple endpoints)/ });
    await incident.first().waitFor({ state: 'attached', timeout: 20_000 });
  });

  step('shows the dialogs in Japanese when the browser\'s language is Japanese', async () => {
    // Node-RED's editor takes its language from the browser (or the user settings), not from the URL.
    const ja = await EditorPage.open(suite.browser, suite.demo.editorUrl, 'ja');
    try {
      const page = ja.page;
      await ja.openNode(ids.detections, '#node-input-initialAgo');
      assert.equal((await ja.labelOf('node-input-limit')).trim(), '件数の上限');
      assert.equal((await ja.labelOf('node-input-incremental')).trim(), '新しい検出のみプルする (差分)');
      assert.equal((await ja.labelOf('node-input-events')).trim(), '送信対象');
      assert.equal(await page.locator('#node-input-events option[value="triage"]').innerText(), '新しいアラートとトリアージの変更');
      assert.ok((await page.locator('.defender-detections-form h4').allInnerTexts()).includes('差分ポーリング'));
      await ja.screenshot('ja-detections-dialog');
      await page.locator('#node-input-btn-defender-edit, #node-input-lookup-defender').first().click();
      await page.locator('#node-config-input-tenantId').waitFor({ state: 'visible' });
      await ja.settle();
      assert.equal((await ja.labelOf('node-config-input-tenantId')).trim(), 'テナント ID');
      assert.equal(await page.locator('#node-config-input-region option:checked').innerText(), 'カスタム URL');
      assert.equal((await ja.labelOf('node-config-input-auth')).trim(), 'サインイン方法');
      assert.equal(await page.locator('#node-config-input-auth option:checked').innerText(), '証明書');
      assert.equal((await page.locator('#defender-config-test').innerText()).trim(), '接続をテスト');
      await ja.screenshot('ja-config-dialog');
      // The runtime has no language of its own here (LANG=C.UTF-8 or none): Test connection answers in the editor's.
      await page.fill('#node-config-input-clientId', 'not-the-registered-app');
      await page.click('#defender-config-test');
      await page.locator('#defender-config-test-result.defender-config-test-failed').waitFor({ state: 'visible' });
      const failure = await page.locator('#defender-config-test-result').innerText();
      assert.match(failure, /^失敗しました \(TOKEN_FAILED\): \S+ へのトークン要求が HTTP 40\d で拒否されました/);
      assert.match(failure, /を確認してください。$/);
      assert.doesNotMatch(failure, /token request|Check /);
      await page.locator('#defender-config-test').scrollIntoViewIfNeeded();
      await ja.screenshot('ja-test-connection');
      await page.click('#node-config-dialog-cancel');
      await page.locator('#node-config-input-tenantId').waitFor({ state: 'detached' });
      await page.click('#node-dialog-cancel');
      await page.locator('#node-input-initialAgo').waitFor({ state: 'detached' });
      await ja.openNode(ids.incidents, '#node-input-initialAgo');
      assert.equal((await ja.labelOf('node-input-incidentStatus')).trim(), '状態');
      assert.equal((await ja.labelOf('node-input-determination')).trim(), '判定');
      assert.equal((await ja.labelOf('node-input-incremental')).trim(), '新しいインシデントと変更されたインシデントだけをプルする (差分)');
      await ja.checkMarking('#node-input-severity', 'urgent', 'high');
      await ja.screenshot('ja-incidents-dialog');
      await page.click('#node-dialog-cancel');
      await page.locator('#node-input-initialAgo').waitFor({ state: 'detached' });
      // The help panel, in Japanese too.
      await page.evaluate(() => (window as unknown as { RED: { sidebar: { help: { show(type: string): void } } } }).RED.sidebar.help.show('defender-incidents'));
      const help = page.locator('.red-ui-help').filter({ visible: true }).first();
      await help.filter({ hasText: 'Microsoft Graph を通じて Microsoft Defender XDR のインシデントをアラートとともにプルし' }).waitFor({ state: 'visible' });
      assert.match(await help.innerText(), /SecurityIncident\.Read\.All/);
      await ja.openNode(ids.update, '#node-input-defender');
      assert.equal((await ja.labelOf('node-input-determination')).trim(), '判定');
      assert.equal((await ja.labelOf('node-input-assignedTo')).trim(), '割り当て先');
      // Every value each list offers is Microsoft's Japanese word with Graph's value after it.
      const catalog = JSON.parse(fs.readFileSync(path.join(__dirname, '..', '..', 'src', 'nodes', 'locales', 'ja', 'defender-alert-update.json'), 'utf8')) as {
        'defender-alert-update': { values: Record<string, Record<string, string>> };
      };
      for (const [field, values] of Object.entries(ALERT_ENUMS)) {
        const property = field === 'status' ? 'alertStatus' : field;
        await page.locator(`#node-input-${property} + .red-ui-typedInput-container button.red-ui-typedInput-option-trigger`).click();
        const menu = page.locator('.red-ui-typedInput-options').filter({ visible: true });
        for (const value of values) {
          const label = catalog['defender-alert-update'].values[field][value];
          assert.equal((await menu.locator(`a[value="${value}"]`).innerText()).trim(), `${label} (${value})`, `${field} ${value}`);
        }
        await page.keyboard.press('Escape');
        await menu.waitFor({ state: 'hidden' });
      }
      assert.match(await page.locator('#node-input-alertStatus + .red-ui-typedInput-container').innerText(), /進行中 \(inProgress\)/);
      await ja.screenshot('ja-update-dialog');
      await page.click('#node-dialog-cancel');
      await page.locator('#node-input-defender').waitFor({ state: 'detached' });
      await ja.label(ids.update, '進行中 (inProgress)');
      await ja.openNode(ids.incident, '#node-input-defender');
      assert.equal((await ja.labelOf('node-input-customTags')).trim(), 'タグ');
      await page.locator('#node-input-incidentStatus + .red-ui-typedInput-container button.red-ui-typedInput-option-trigger').click();
      const statuses = page.locator('.red-ui-typedInput-options').filter({ visible: true });
      assert.equal((await statuses.locator('a[value="active"]').innerText()).trim(), 'アクティブ (active)');
      await page.keyboard.press('Escape');
      await statuses.waitFor({ state: 'hidden' });
      await ja.screenshot('ja-incident-update-dialog');
      await page.click('#node-dialog-cancel');
      await page.locator('#node-input-defender').waitFor({ state: 'detached' });
      await ja.label(ids.incident, '進行中 (inProgress)');
    } finally {
      await ja.close();
    }
  });
}, { demoEnv: { DEMO_AUTH: 'certificate' } });
