/**
 * A browser test file's frame: the `npm start` demo with an empty flow, Chromium, and one editor page,
 * started before the steps and stopped after them; steps that build on each other; and the rule that a
 * missing Chromium skips the file with a line saying why, unless BROWSER_TESTS=required (CI), which turns it
 * into a failure.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { chromium, type Browser } from 'playwright-core';
import { Demo, startDemo } from '../fixtures/demo';
import { BROWSER_REQUIRED, CHROMIUM, CHROMIUM_ARGS, CHROMIUM_MISSING, EditorPage } from './editor-page';

export interface EditorSuite {
  readonly demo: Demo;
  readonly browser: Browser;
  readonly editor: EditorPage;
  /** A step of the story: once one fails, the later ones say so instead of failing for the same reason. */
  step(name: string, fn: () => Promise<void>): void;
}

/** `demoEnv`: environment of the demo (DEMO_AUTH=certificate gives the emulator a throwaway certificate). */
export function editorSuite(name: string, body: (suite: EditorSuite) => void, options: { demoEnv?: Record<string, string> } = {}): void {
  if (CHROMIUM_MISSING && !BROWSER_REQUIRED) console.log(`browser tests skipped: ${CHROMIUM_MISSING}`);
  describe(name, { skip: CHROMIUM_MISSING && !BROWSER_REQUIRED ? CHROMIUM_MISSING : false }, () => {
    if (CHROMIUM_MISSING) {
      it('has Chromium to run in', () => assert.fail(`BROWSER_TESTS=required, but there is ${CHROMIUM_MISSING}`));
      return;
    }
    let demo: Demo | undefined;
    let browser: Browser | undefined;
    let editor: EditorPage | undefined;
    let failed: string | undefined;

    before(async () => {
      demo = await startDemo({ emptyFlow: true, ...(options.demoEnv ? { env: options.demoEnv } : {}) });
      browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS, timeout: 30_000 });
      editor = await EditorPage.open(browser, demo.editorUrl);
    }, { timeout: 120_000 });

    after(async () => {
      await browser?.close().catch(() => undefined);
      await demo?.stop();
    });

    const started = <T>(what: string, value: T | undefined): T => {
      if (value === undefined) throw new Error(`the ${what} did not start`);
      return value;
    };
    body({
      get demo() {
        return started('demo', demo);
      },
      get browser() {
        return started('browser', browser);
      },
      get editor() {
        return started('editor page', editor);
      },
      step(stepName, fn) {
        it(stepName, { timeout: 60_000 }, async (t) => {
          if (failed) return t.skip(`an earlier step failed: ${failed}`);
          try {
            await fn();
          } catch (err) {
            failed = stepName;
            if (demo) t.diagnostic(`demo output:\n${demo.output().slice(-3000)}`);
            throw err;
          }
        });
      },
    });
  });
}
