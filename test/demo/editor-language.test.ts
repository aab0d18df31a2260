/**
 * A Japanese editor on a runtime that has no language of its own: no LANG, LC_ALL or LC_MESSAGES and no
 * `lang` in settings.js, as on Windows, in most containers and on hosted Node-RED. The real runtime of
 * `npm start`; the editor's requests are made as the editor makes them.
 *
 * What the dialog asks (Test connection, the certificate check) is answered in the editor's language. The
 * status under a node and the error a Catch node gets are the runtime's, by design (the README's "Japanese"
 * section says why and how to set it): here English.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Demo, startDemo } from '../fixtures/demo';
import { failingPull } from '../fixtures/failing-pull';
import { CLIENT_ID, SECRET, TENANT } from '../fixtures/harness';

interface TestAnswer {
  ok: boolean;
  code?: string;
  message?: string;
  detections?: number;
}

describe('a Japanese editor on a runtime without a language', () => {
  let demo: Demo;

  before(async () => {
    demo = await startDemo({ emptyFlow: true, env: { LANG: undefined, LC_ALL: undefined, LC_MESSAGES: undefined } });
    // What the editor does first: it loads the node set's messages in its own language, and with them the
    // runtime reads the Japanese catalogs from disk.
    for (const set of ['defender-config', 'defender-detections']) {
      const catalog = await fetch(`${demo.editorUrl}locales/node-red-contrib-defender-detections/${set}?lng=ja`);
      assert.equal(catalog.status, 200);
      assert.ok(JSON.stringify(await catalog.json()).includes('テナント ID'), `${set}: no Japanese catalog`);
    }
  });

  after(async () => {
    await demo?.stop();
  });

  /** The dialog's values of a secret sign-in to the emulator, as the config dialog posts them. */
  function dialog(values: Record<string, string>): Record<string, string> {
    return {
      tenantId: TENANT,
      clientId: CLIENT_ID,
      auth: 'secret',
      clientSecret: SECRET,
      privateKey: '',
      privateKeyPassphrase: '',
      certificate: '',
      managedIdentityClientId: '',
      region: 'custom',
      api: 'siem',
      apiBaseUrl: demo.emulatorUrl,
      authorityUrl: demo.emulatorUrl,
      resource: '',
      proxy: '',
      tls: '',
      ...values,
    };
  }

  async function ask(what: 'test' | 'certificate', body: Record<string, string>): Promise<TestAnswer & { problem?: { code: string; message: string } }> {
    const answer = await fetch(`${demo.editorUrl}defender-config/new-config/${what}`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify(body),
    });
    assert.equal(answer.status, 200);
    return (await answer.json()) as TestAnswer;
  }

  it('answers Test connection in Japanese when the dialog is in Japanese', async () => {
    const host = new URL(demo.emulatorUrl).host;
    const refused = await ask('test', dialog({ clientSecret: 'not-the-emulator-secret', lang: 'ja' }));
    assert.equal(refused.ok, false);
    assert.equal(refused.code, 'TOKEN_FAILED');
    assert.match(refused.message ?? '', new RegExp(`^${host.replace(/\./g, '\\.')} へのトークン要求が HTTP 401 で拒否されました`));
    assert.match(refused.message ?? '', /テナント ID \(tenantId\)、アプリケーション \(クライアント\) ID \(clientId\)、クライアント シークレットを確認してください。$/);
    // The dialog shows it as 「失敗しました (TOKEN_FAILED): …」: nothing in it is English but the service's own words.
    assert.doesNotMatch(refused.message ?? '', /token request|Check|failed/);

    const noSecret = await ask('test', dialog({ clientSecret: '', lang: 'ja' }));
    assert.deepEqual(noSecret, {
      ok: false,
      code: 'INVALID_CONFIG',
      message: 'クライアント シークレットがありません。アプリのシークレットを入力するか、ノードをデプロイしてからこの項目を変更せずにテストしてください。',
    });

    const ok = await ask('test', dialog({ lang: 'ja' }));
    assert.deepEqual(ok, { ok: true, detections: 1 });
  });

  it('answers the certificate check in Japanese too', async () => {
    const answer = await ask('certificate', { certificate: '-----BEGIN CERTIFICATE-----\nnot base64\n-----END CERTIFICATE-----', privateKey: '', privateKeyPassphrase: '', lang: 'ja' });
    assert.equal(answer.problem?.code, 'INVALID_CONFIG');
    assert.match(answer.problem?.message ?? '', /^証明書 \(certificate\) には PEM 形式の X\.509 証明書/);
  });

  it('answers each dialog in its own language: an English one in English, one in a language the node set lacks in English', async () => {
    for (const lang of ['en-US', 'fr', undefined]) {
      const answer = await ask('test', dialog({ clientSecret: '', ...(lang ? { lang } : {}) }));
      assert.equal(answer.message, 'No client secret: type the app\'s secret, or deploy the node first and leave the field unchanged', String(lang));
    }
    // A language tag that is not one is not handed to the runtime's i18n (which reads files by that name).
    const odd = await ask('test', dialog({ clientSecret: '', lang: '../../ja' }));
    assert.match(odd.message ?? '', /^No client secret/);
  });

  it('says the status and the Catch node\'s error in the runtime\'s language, English here, by design', async () => {
    const { error, status } = await failingPull(demo, 'lang');
    assert.equal(status, 'invalid configuration: see the Catch message');
    assert.match(error.message, /^machinegroups is to come from flow context "groups", which is not set/);
  });
});
