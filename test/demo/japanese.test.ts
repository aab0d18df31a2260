/**
 * A Node-RED runtime that runs in Japanese (LANG=ja_JP.UTF-8, as on a Japanese server) says the nodes'
 * errors and status in Japanese: the real runtime of `npm start`, a flow deployed through the admin API,
 * and the debug sidebar's and status' events read on /comms as the editor reads them.
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import WebSocket from 'ws';
import { Demo, startDemo } from '../fixtures/demo';
import { CLIENT_ID, SECRET, TENANT } from '../fixtures/harness';

interface CommsEvent {
  topic: string;
  data: { msg?: string; text?: string; fill?: string };
}

describe('a Japanese Node-RED runtime', () => {
  let demo: Demo | undefined;

  after(async () => {
    await demo?.stop();
  });

  it('reports a pull that fails in Japanese, in the debug sidebar and the status, with the code unchanged', async () => {
    demo = await startDemo({ emptyFlow: true, env: { LC_ALL: 'ja_JP.UTF-8', LANG: 'ja_JP.UTF-8' } });
    const flow = [
      { id: 'ja-tab', type: 'tab', label: 'ja' },
      {
        id: 'ja-cfg',
        type: 'defender-config',
        name: 'emulator',
        tenantId: TENANT,
        clientId: CLIENT_ID,
        region: 'custom',
        apiBaseUrl: demo.emulatorUrl,
        authorityUrl: demo.emulatorUrl,
        credentials: { clientSecret: SECRET },
      },
      { id: 'ja-inject', type: 'inject', z: 'ja-tab', props: [{ p: 'payload' }], payloadType: 'date', wires: [['ja-det']] },
      // The device groups are to come from flow context, where nothing is set: the pull must fail, not widen.
      { id: 'ja-det', type: 'defender-detections', z: 'ja-tab', defender: 'ja-cfg', machinegroups: 'groups', machinegroupsType: 'flow', wires: [[], []] },
      { id: 'ja-catch', type: 'catch', z: 'ja-tab', scope: ['ja-det'], wires: [['ja-debug']] },
      { id: 'ja-debug', type: 'debug', z: 'ja-tab', active: true, complete: 'error', targetType: 'msg', tosidebar: true, wires: [] },
    ];
    const deployed = await fetch(`${demo.editorUrl}flows`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', 'Node-RED-Deployment-Type': 'full' },
      body: JSON.stringify(flow),
    });
    assert.equal(deployed.status, 204, await deployed.text());

    const socket = new WebSocket(`${demo.editorUrl.replace(/^http/, 'ws')}comms`);
    const events: CommsEvent[] = [];
    const seen = new Promise<{ error: { message: string; code: string }; status: string }>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no error and status within 30 s; events: ${JSON.stringify(events).slice(0, 2000)}`)), 30_000);
      let error: { message: string; code: string } | undefined;
      let status: string | undefined;
      socket.on('open', () => {
        socket.send(JSON.stringify({ subscribe: 'debug' }));
        socket.send(JSON.stringify({ subscribe: 'status/#' }));
        // Subscribed: now pull, as the inject button does.
        setTimeout(() => void fetch(`${demo!.editorUrl}inject/ja-inject`, { method: 'POST' }), 200);
      });
      socket.on('message', (data) => {
        for (const event of JSON.parse(String(data)) as CommsEvent[]) {
          events.push(event);
          if (event.topic === 'debug' && event.data.msg && !error) error = JSON.parse(event.data.msg) as { message: string; code: string };
          if (event.topic === 'status/ja-det' && event.data.fill === 'red') status = event.data.text;
          if (error && status) {
            clearTimeout(timer);
            resolve({ error, status });
          }
        }
      });
      socket.on('error', reject);
    });
    const { error, status } = await seen;
    socket.close();
    assert.equal(error.code, 'INVALID_CONFIG');
    assert.equal(
      error.message,
      'machinegroups は flow コンテキスト "groups" から取得する設定ですが、このキーは設定されていません。キーを設定するか (空文字列は machinegroups の指定なしを意味します)、ノードで別の取得元を選択してください。',
    );
    assert.equal(status, '設定が無効です (Catch のメッセージを参照)');
  });
});
