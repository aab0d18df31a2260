/**
 * A Node-RED runtime that runs in Japanese (LANG=ja_JP.UTF-8, as on a Japanese server) says the nodes'
 * errors and status in Japanese: the real runtime of `npm start`, a flow deployed through the admin API,
 * and the debug sidebar's and status' events read on /comms as the editor reads them.
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { Demo, startDemo } from '../fixtures/demo';
import { failingPull } from '../fixtures/failing-pull';

describe('a Japanese Node-RED runtime', () => {
  let demo: Demo | undefined;

  after(async () => {
    await demo?.stop();
  });

  it('reports a pull that fails in Japanese, in the debug sidebar and the status, with the code unchanged', async () => {
    demo = await startDemo({ emptyFlow: true, env: { LC_ALL: 'ja_JP.UTF-8', LANG: 'ja_JP.UTF-8' } });
    const { error, status } = await failingPull(demo, 'ja');
    assert.equal(error.code, 'INVALID_CONFIG');
    assert.equal(
      error.message,
      'machinegroups は flow コンテキスト "groups" から取得する設定ですが、このキーは設定されていません。キーを設定するか (空文字列は machinegroups の指定なしを意味します)、ノードで別の取得元を選択してください。',
    );
    assert.equal(status, '設定が無効です (Catch のメッセージを参照)');
  });
});
