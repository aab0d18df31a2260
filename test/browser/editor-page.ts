/**
 * The Node-RED editor as a person drives it: palette, workspace, edit dialogs, deploy and the debug
 * sidebar. Selectors are Node-RED's own; RED.* in the page is read only to learn the ids of what the
 * mouse made.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { Browser, BrowserContext, Locator, Page } from 'playwright-core';

/** Where the browser tests leave their screenshots (gitignored; `npm run screenshots` picks the README's). */
export const SCREENSHOTS = path.resolve(__dirname, '..', '..', '..', 'screenshots');

/** The flags Debian's Chromium needs as root on a closed network (see .ci/run). */
export const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

/** Where Debian's Chromium is, or CHROMIUM_PATH. */
export const CHROMIUM = process.env.CHROMIUM_PATH || '/usr/bin/chromium';
/** CI sets BROWSER_TESTS=required: a missing Chromium then fails the browser tests instead of skipping them. */
export const BROWSER_REQUIRED = process.env.BROWSER_TESTS === 'required';
/** Why the browser tests cannot run here, if they cannot. */
export const CHROMIUM_MISSING = fs.existsSync(CHROMIUM) ? undefined : `no Chromium at ${CHROMIUM} (apt-get install chromium, or set CHROMIUM_PATH)`;

/** An editor node as the page's RED sees it: enough to tell whether it is valid and why not. */
interface EditorNode {
  id: string;
  type: string;
  valid?: boolean;
  validationErrors?: string[];
  [property: string]: unknown;
}

interface RedGlobal {
  nodes: {
    node(id: string): EditorNode | null;
    eachNode(cb: (n: EditorNode) => void): void;
    filterNodes(filter: { type?: string; z?: string }): EditorNode[];
    workspace(id: string): unknown;
    eachConfig(cb: (n: EditorNode) => void): void;
    filterLinks(filter: object): Array<{ source: { id: string }; sourcePort: number; target: { id: string } }>;
    dirty(): boolean;
  };
  editor: { validateNode(n: EditorNode): boolean };
  view: { importNodes(flow: unknown[], options: { generateIds: boolean; addFlow: boolean }): void };
  workspaces: { delete(workspace: unknown): void };
}
declare const RED: RedGlobal;

export class EditorPage {
  private constructor(
    readonly context: BrowserContext,
    readonly page: Page,
  ) {}

  /** Opens the editor in a new browser context; `locale` is the browser's language, which the editor follows. */
  static async open(browser: Browser, url: string, locale = 'en-US'): Promise<EditorPage> {
    const context = await browser.newContext({ viewport: { width: 1400, height: 900 }, locale });
    const page = await context.newPage();
    page.setDefaultTimeout(15_000);
    // Only this machine: the palette manager's catalogue and anything else out there is refused at once.
    await page.route(/^(?!https?:\/\/(127\.0\.0\.1|localhost)[:/])/, (route) => route.abort());
    await page.goto(url);
    await page.waitForSelector('#red-ui-palette .red-ui-palette-node', { timeout: 30_000 });
    return new EditorPage(context, page);
  }

  paletteNode(type: string): Locator {
    return this.page.locator(`#red-ui-palette .red-ui-palette-node[data-palette-type="${type}"]`).first();
  }

  /** The node's group on the workspace. */
  flowNode(id: string): Locator {
    return this.page.locator(`#red-ui-workspace-chart g.red-ui-flow-node-group[id="${id}"]`);
  }

  /** Drags a node from the palette to (x, y) of the workspace and answers the new node's id. */
  async drop(type: string, x: number, y: number): Promise<string> {
    const before = new Set(await this.page.evaluate((t) => RED.nodes.filterNodes({ type: t }).map((n) => n.id), type));
    const from = this.paletteNode(type);
    await from.scrollIntoViewIfNeeded();
    const source = await box(from);
    const chart = await box(this.page.locator('#red-ui-workspace-chart'));
    await this.page.mouse.move(source.x + source.width / 2, source.y + source.height / 2);
    await this.page.mouse.down();
    await this.page.mouse.move(source.x + source.width / 2 + 20, source.y + source.height / 2 + 5, { steps: 5 });
    await this.page.mouse.move(chart.x + x, chart.y + y, { steps: 20 });
    await this.page.mouse.up();
    const ids = await this.page.evaluate((t) => RED.nodes.filterNodes({ type: t }).map((n) => n.id), type);
    const added = ids.filter((id) => !before.has(id));
    if (added.length !== 1) throw new Error(`dropping ${type} made ${added.length} nodes`);
    return added[0];
  }

  /** Drags a wire from an output port of one node to the input of another. */
  async wire(from: string, output: number, to: string): Promise<void> {
    const out = await box(this.flowNode(from).locator('.red-ui-flow-port-output').nth(output));
    const input = await box(this.flowNode(to).locator('.red-ui-flow-port-input').first());
    await this.page.mouse.move(out.x + out.width / 2, out.y + out.height / 2);
    await this.page.mouse.down();
    await this.page.mouse.move(input.x + input.width / 2, input.y + input.height / 2, { steps: 15 });
    await this.page.mouse.up();
  }

  /** The workspace's wires, as `source:port->target`. */
  links(): Promise<string[]> {
    return this.page.evaluate(() => RED.nodes.filterLinks({}).map((l) => `${l.source.id}:${l.sourcePort}->${l.target.id}`));
  }

  /** Double-clicks a node on the workspace and waits for its edit dialog. */
  async openNode(id: string, field: string): Promise<void> {
    // A double-click that lands while a tray is still closing is taken by nothing: try again, as a person would.
    for (let attempt = 1; ; attempt++) {
      await this.dismissNotifications();
      await this.flowNode(id).locator('rect.red-ui-flow-node').dblclick();
      try {
        await this.page.locator(field).waitFor({ state: 'visible', timeout: 5_000 });
        break;
      } catch (err) {
        if (attempt === 3) throw err;
      }
    }
    await this.settle();
  }

  /**
   * Opens a detections node's dialog, then the dialog of its config node with the pencil beside the config
   * field (Node-RED 4 and 5 name that button differently from Node-RED 3), and waits for `field` there.
   */
  async openConfigOf(detectionsId: string, field: string): Promise<void> {
    await this.openNode(detectionsId, '#node-input-initialAgo');
    await this.page.locator('#node-input-btn-defender-edit, #node-input-lookup-defender').first().click();
    await this.page.locator(field).waitFor({ state: 'visible' });
    await this.settle();
  }

  /**
   * The text box of a TypedInput field: Node-RED hides the original `#node-input-<property>` (which keeps the value
   * and the validation mark) and shows its own input next to it.
   */
  typedInput(property: string): Locator {
    return this.page.locator(`#node-input-${property} + .red-ui-typedInput-container input.red-ui-typedInput-input`);
  }

  /** Picks where a TypedInput field's value comes from (num, str, env, flow, global) in its menu. */
  async chooseSource(property: string, type: string): Promise<void> {
    await this.page.locator(`#node-input-${property} + .red-ui-typedInput-container button.red-ui-typedInput-type-select`).click();
    await this.page.locator(`.red-ui-typedInput-options a[value="${type}"]`).filter({ visible: true }).click();
  }

  /** Picks a value from the list a TypedInput field offers (the update node's status, classification…). */
  async chooseOption(property: string, value: string): Promise<void> {
    await this.page.locator(`#node-input-${property} + .red-ui-typedInput-container button.red-ui-typedInput-option-trigger`).click();
    await this.page.locator(`.red-ui-typedInput-options a[value="${value}"]`).filter({ visible: true }).click();
  }

  /** Waits until the topmost edit tray has stopped sliding in, so a screenshot shows it whole. */
  async settle(): Promise<void> {
    const tray = this.page.locator('.red-ui-tray').last();
    let last = '';
    for (let i = 0; i < 50; i++) {
      const now = JSON.stringify(await tray.boundingBox());
      if (now === last) return;
      last = now;
      await this.page.waitForTimeout(100);
    }
  }

  /** Scrolls the topmost edit tray back to its first field. */
  async scrollDialogTop(): Promise<void> {
    // Whichever box scrolls (Node-RED's tray markup differs between versions): every scrolled ancestor of the fields.
    await this.page.locator('.red-ui-tray').last().locator('.form-row').first().evaluate((row) => {
      for (let e: Element | null = row; e; e = e.parentElement) if (e.scrollTop > 0) e.scrollTop = 0;
    });
  }

  /** Closes the editor's notifications (deployed, injected…) so they do not cover a screenshot. */
  async dismissNotifications(): Promise<void> {
    const notifications = this.page.locator('.red-ui-notification');
    for (let n = await notifications.count(); n > 0; n = await notifications.count()) {
      await notifications.first().click({ timeout: 2_000 }).catch(() => undefined);
      await this.page.waitForTimeout(100);
    }
  }

  /** Whether the dialog marks a field (by its selector) as invalid. */
  async marked(field: string): Promise<boolean> {
    return /input-error/.test(String(await this.page.locator(field).getAttribute('class')));
  }

  /** Types `bad` into a field and checks that the dialog marks it, then `good` and checks that it does not. */
  async checkMarking(field: string, bad: string, good: string): Promise<void> {
    for (const [value, expected] of [[bad, true], [good, false]] as const) {
      await this.page.fill(field, value);
      await this.page.locator(field).press('Tab');
      if ((await this.marked(field)) !== expected) throw new Error(`${field} "${value}" is ${expected ? 'not ' : ''}marked`);
    }
  }

  /** The text of a dialog's label for an input, e.g. `node-input-limit`. */
  labelOf(inputId: string): Promise<string> {
    return this.page.locator(`label[for="${inputId}"]`).first().innerText();
  }

  /** Imports a flow as a user does: Menu → Import, paste the JSON, Import. */
  async importFlow(flow: unknown[]): Promise<void> {
    await this.page.click('#red-ui-header-button-sidemenu');
    await this.page.click('#menu-item-import');
    const text = this.page.locator('#red-ui-clipboard-dialog-import-text');
    await text.fill(JSON.stringify(flow));
    // The dialog checks the text on keyup, as when it is typed or pasted, and only then enables Import.
    await text.press('End');
    await this.page.click('#red-ui-clipboard-dialog-ok');
    await text.waitFor({ state: 'hidden' });
  }

  /** Imports a flow as a copy, every node with a new id, as the editor does when its ids exist already or it is pasted. */
  importCopy(flow: unknown[]): Promise<void> {
    return this.page.evaluate((nodes) => RED.view.importNodes(nodes, { generateIds: true, addFlow: false }), flow);
  }

  /** The nodes of a type as the editor holds them: id, flow tab and the properties named. */
  nodesOfType(type: string, properties: string[]): Promise<Array<Record<string, unknown> & { id: string; z: string }>> {
    return this.page.evaluate(
      ([t, names]) => RED.nodes.filterNodes({ type: t }).map((n) => ({ id: n.id, z: String(n.z), ...Object.fromEntries(names.map((name) => [name, n[name]])) })),
      [type, properties] as const,
    );
  }

  /** Removes a flow tab and its nodes, undeployed. */
  deleteTab(id: string): Promise<void> {
    return this.page.evaluate((tab) => RED.workspaces.delete(RED.nodes.workspace(tab)), id);
  }

  /** Brings a flow tab to the front by clicking its tab. */
  async showTab(id: string): Promise<void> {
    await this.page.locator(`#red-ui-tab-${id} a`).first().click();
  }

  /** Every node and config node the editor finds invalid, with its reasons, checked afresh. */
  invalidNodes(): Promise<string[]> {
    return this.page.evaluate(() => {
      const found: string[] = [];
      const check = (n: EditorNode): void => {
        if (!RED.editor.validateNode(n)) found.push(`${n.type} ${n.id}: ${JSON.stringify(n.validationErrors ?? [])}`);
      };
      RED.nodes.eachNode(check);
      RED.nodes.eachConfig(check);
      return found;
    });
  }

  /** A property of a node as the editor holds it (what Deploy would save). */
  property(id: string, name: string): Promise<unknown> {
    return this.page.evaluate(([nodeId, property]) => RED.nodes.node(nodeId)?.[property], [id, name] as const);
  }

  /**
   * Deploys and fails if Node-RED asks first: its confirmation lists nodes that are not properly configured
   * or of unknown types instead of deploying.
   */
  async deployWithoutWarning(): Promise<void> {
    await this.page.click('#red-ui-header-button-deploy');
    const warning = this.page.locator('.red-ui-notification .red-ui-deploy-dialog-confirm-list');
    const outcome = await Promise.race([
      this.page.waitForFunction(() => !RED.nodes.dirty(), undefined, { timeout: 15_000 }).then(() => 'deployed'),
      warning.first().waitFor({ state: 'visible', timeout: 15_000 }).then(() => 'warned'),
    ]);
    if (outcome === 'warned') {
      const text = await this.page.locator('.red-ui-notification').last().innerText();
      throw new Error(`Deploy warned instead of deploying: ${text}`);
    }
  }

  async deploy(): Promise<void> {
    await this.page.click('#red-ui-header-button-deploy');
    await this.page.waitForFunction(() => !RED.nodes.dirty(), undefined, { timeout: 15_000 });
  }

  /** The ids of the config nodes of a type. */
  configNodes(type: string): Promise<string[]> {
    return this.page.evaluate((t) => {
      const ids: string[] = [];
      RED.nodes.eachConfig((n) => {
        if (n.type === t) ids.push(n.id);
      });
      return ids;
    }, type);
  }

  /** Clicks an inject node's button. */
  async inject(id: string): Promise<void> {
    await this.flowNode(id).locator('.red-ui-flow-node-button').click();
  }

  /**
   * Waits for a node's label on the workspace to read `expected`: the editor redraws a node after its dialog
   * closes, on a later frame, which a busy machine can make a moment late.
   */
  async label(id: string, expected: string, timeoutMs = 5_000): Promise<void> {
    const label = this.flowNode(id).locator('.red-ui-flow-node-label-text');
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const text = (await label.textContent()) ?? '';
      if (text === expected) return;
      if (Date.now() > deadline) throw new Error(`the label of ${id} is "${text}", expected "${expected}"`);
      await this.page.waitForTimeout(100);
    }
  }

  /** Waits for a node's status text on the workspace to match, and answers it. */
  async status(id: string, pattern: RegExp, timeoutMs = 20_000): Promise<string> {
    const label = this.flowNode(id).locator('.red-ui-flow-node-status-label');
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const text = (await label.textContent()) ?? '';
      if (pattern.test(text)) return text;
      if (Date.now() > deadline) throw new Error(`status of ${id} is "${text}", expected ${pattern}`);
      await this.page.waitForTimeout(100);
    }
  }

  /** Scrolls the workspace back to its top left corner, where the test put the nodes (an edit tray moves it). */
  async scrollHome(): Promise<void> {
    await this.page.locator('#red-ui-workspace-chart').evaluate((chart) => {
      chart.scrollLeft = 0;
      chart.scrollTop = 0;
    });
  }

  /** Node-RED 4 has a sidebar tab button, Node-RED 5 a panel; both answer to the shortcut ctrl-g d. */
  async showDebugSidebar(): Promise<void> {
    await this.page.locator('#red-ui-workspace-chart').focus().catch(() => undefined);
    await this.page.keyboard.press('Control+g');
    await this.page.keyboard.press('d');
    await this.page.locator('.red-ui-debug-content').filter({ visible: true }).first().waitFor({ state: 'visible' });
  }

  /** The topics of the messages in the debug sidebar, waiting for at least `count`. */
  async debugTopics(count: number, timeoutMs = 20_000): Promise<string[]> {
    const topics = this.page.locator('.red-ui-debug-msg .red-ui-debug-msg-topic');
    await topics.nth(count - 1).waitFor({ state: 'attached', timeout: timeoutMs });
    return topics.allInnerTexts();
  }

  async screenshot(name: string): Promise<string> {
    fs.mkdirSync(SCREENSHOTS, { recursive: true });
    const file = path.join(SCREENSHOTS, `${name}.png`);
    await this.dismissNotifications();
    await this.page.screenshot({ path: file });
    return file;
  }

  close(): Promise<void> {
    return this.context.close();
  }
}

async function box(locator: Locator): Promise<{ x: number; y: number; width: number; height: number }> {
  const b = await locator.boundingBox();
  if (!b) throw new Error(`${String(locator)} is not on screen`);
  return b;
}
