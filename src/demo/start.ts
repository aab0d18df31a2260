/**
 * `npm start`: the emulator plus a Node-RED with this package installed and a demo flow deployed, so
 * detections show in the debug sidebar of http://127.0.0.1:1880 without a Microsoft tenant.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { X509Certificate } from 'node:crypto';
import { Emulator, throwawayCertificate, type ThrowawayCertificate } from '../emulator';
import { installBuild, root } from './install';

const userDir = process.env.NODE_RED_DEMO_DIR ? path.resolve(process.env.NODE_RED_DEMO_DIR) : path.join(root, '.node-red-demo');
const port = Number(process.env.PORT || 1880);
const emulatorPort = Number(process.env.EMULATOR_PORT || 0);
const TENANT = '00000000-0000-4000-8000-000000000000';
const CLIENT_ID = 'emulator-client-id';
const SECRET = 'emulator-client-secret';

/**
 * DEMO_AUTH=certificate: the demo config node signs in with a throwaway key and self-signed certificate made
 * at start, which the emulator is given as the app registration's. The default is the client secret.
 */
const DEMO_AUTHS = ['secret', 'certificate'] as const;
const demoAuth = process.env.DEMO_AUTH || 'secret';
/** Where the throwaway key and certificate are written, so they can be looked at or pasted into a dialog. */
const certificateDir = path.join(userDir, 'demo-certificate');

/** The demo config node's sign-in properties: the client secret, or the throwaway certificate. */
function signIn(certificate: ThrowawayCertificate | undefined): Record<string, string> {
  return certificate ? { auth: 'certificate', certificate: certificate.certificatePem } : { auth: 'secret', certificate: '' };
}

function demoFlow(emulatorUrl: string, certificate: ThrowawayCertificate | undefined): Array<Record<string, unknown>> {
  return [
    { id: 'demo-tab', type: 'tab', label: 'Defender detections (demo)' },
    {
      id: 'demo-cfg', type: 'defender-config', name: 'Local emulator', tenantId: TENANT, clientId: CLIENT_ID,
      region: 'custom', api: 'siem', apiBaseUrl: emulatorUrl, authorityUrl: emulatorUrl, resource: '', ...signIn(certificate),
    },
    {
      id: 'demo-comment', type: 'comment', z: 'demo-tab', name: 'Polls the local emulator every 20 s; new detections appear in the debug sidebar',
      info: 'Each detection is one message. The summary output reports every pull. Point the config node at your tenant to use it for real.',
      x: 330, y: 40, wires: [],
    },
    {
      id: 'demo-inject', type: 'inject', z: 'demo-tab', name: 'every 20 s', props: [{ p: 'payload' }], repeat: '20',
      crontab: '', once: true, onceDelay: '1', topic: '', payload: '', payloadType: 'date', x: 140, y: 120, wires: [['demo-det']],
    },
    {
      id: 'demo-det', type: 'defender-detections', z: 'demo-tab', name: '', defender: 'demo-cfg', sinceTimeUtc: '',
      untilTimeUtc: '', ago: '', limit: '', machinegroups: '', DeviceCreatedMachineTags: '', CloudCreatedMachineTags: '',
      incremental: true, initialAgo: 'PT2H', overlap: 'PT5M', store: '', requestTimeout: 60, maxRetries: 4, maxResponseMB: 256,
      x: 350, y: 120, wires: [['demo-debug'], ['demo-summary']],
    },
    {
      id: 'demo-debug', type: 'debug', z: 'demo-tab', name: 'detection', active: true, tosidebar: true, console: false,
      tostatus: false, complete: 'true', targetType: 'full', x: 580, y: 100, wires: [],
    },
    {
      id: 'demo-summary', type: 'debug', z: 'demo-tab', name: 'pull summary', active: true, tosidebar: true, console: false,
      tostatus: true, complete: 'payload', targetType: 'msg', statusVal: 'payload.count', statusType: 'msg', x: 590, y: 140, wires: [],
    },
    { id: 'demo-catch', type: 'catch', z: 'demo-tab', name: '', scope: ['demo-det'], uncaught: false, x: 140, y: 200, wires: [['demo-error']] },
    {
      id: 'demo-error', type: 'debug', z: 'demo-tab', name: 'error', active: true, tosidebar: true, console: false,
      tostatus: false, complete: 'error', targetType: 'msg', x: 330, y: 200, wires: [],
    },
  ];
}

/** Keeps the user's edits across restarts; only the emulator's address and the demo's sign-in are brought up to date. */
function writeUserDir(emulatorUrl: string, certificate: ThrowawayCertificate | undefined): void {
  installBuild(userDir, 'node-red-demo');
  const flowsFile = path.join(userDir, 'flows.json');
  let flows: Array<Record<string, unknown>> = demoFlow(emulatorUrl, certificate);
  if (fs.existsSync(flowsFile)) {
    flows = JSON.parse(fs.readFileSync(flowsFile, 'utf8')) as Array<Record<string, unknown>>;
    for (const n of flows) {
      if (n.type === 'defender-config' && n.region === 'custom' && /^http:\/\/127\.0\.0\.1:\d+$/.test(String(n.apiBaseUrl))) {
        n.apiBaseUrl = emulatorUrl;
        n.authorityUrl = emulatorUrl;
      }
      // The key of a certificate from an earlier start is gone: the demo node signs in as this start says.
      if (n.id === 'demo-cfg') Object.assign(n, signIn(certificate));
    }
  }
  fs.writeFileSync(flowsFile, JSON.stringify(flows, null, 2));
  // The demo secret and key are the emulator's own; real ones belong in an encrypted credentials file.
  const credentials = certificate ? { privateKey: certificate.privateKeyPem } : { clientSecret: SECRET };
  fs.writeFileSync(path.join(userDir, 'flows_cred.json'), JSON.stringify({ 'demo-cfg': credentials }, null, 2));
  fs.rmSync(certificateDir, { recursive: true, force: true });
  if (certificate) {
    fs.mkdirSync(certificateDir, { recursive: true });
    fs.writeFileSync(path.join(certificateDir, 'private-key.pem'), certificate.privateKeyPem, { mode: 0o600 });
    fs.writeFileSync(path.join(certificateDir, 'certificate.pem'), certificate.certificatePem);
  }
  fs.writeFileSync(
    path.join(userDir, 'settings.js'),
    `module.exports = {
  uiHost: '127.0.0.1',
  uiPort: ${port},
  flowFile: 'flows.json',
  credentialSecret: false,
  contextStorage: { default: { module: 'localfilesystem' } },
  logging: { console: { level: 'info' } },
  editorTheme: { tours: false },
  // No consent prompt over the demo (and nothing sent): the user settings dialog can still turn it on.
  telemetry: { enabled: false },
};
`,
  );
}

async function main(): Promise<void> {
  if (!(DEMO_AUTHS as readonly string[]).includes(demoAuth)) {
    throw new Error(`DEMO_AUTH must be ${DEMO_AUTHS.join(' or ')}, got ${JSON.stringify(demoAuth)}`);
  }
  const certificate = demoAuth === 'certificate' ? throwawayCertificate({ commonName: 'node-red-defender-detections demo' }) : undefined;
  const emulator = new Emulator({
    clientId: CLIENT_ID,
    clientSecret: SECRET,
    initialDetections: 25,
    seed: Date.now() % 100000,
    certificates: certificate ? [certificate.certificatePem] : [],
  });
  const emulatorUrl = await emulator.listen(emulatorPort, '127.0.0.1');
  emulator.startStream({ everyMs: 15_000, perTick: 1, lateMs: 60_000, updateRatio: 0.1 });
  writeUserDir(emulatorUrl, certificate);
  console.log(`Defender SIEM API emulator on ${emulatorUrl}`);
  if (certificate) {
    const thumbprint = new X509Certificate(certificate.certificatePem).fingerprint.replace(/:/g, '');
    console.log(`Certificate sign-in: a throwaway key and certificate (thumbprint ${thumbprint}) in ${certificateDir}`);
  }
  console.log(`Node-RED on http://127.0.0.1:${port} (demo flow deployed; open the debug sidebar)`);

  // NODE_RED_PATH (the folder of another node-red package) lets CI run the demo on another Node-RED major.
  const redJs = process.env.NODE_RED_PATH ? path.join(path.resolve(process.env.NODE_RED_PATH), 'red.js') : require.resolve('node-red/red.js');
  const nodeRed = spawn(process.execPath, [redJs, '--userDir', userDir, '--settings', path.join(userDir, 'settings.js')], {
    stdio: 'inherit',
    env: { ...process.env },
  });
  const stop = (): void => {
    nodeRed.kill('SIGINT');
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
  nodeRed.on('exit', async (code) => {
    emulator.stopStream();
    await emulator.close();
    process.exit(code ?? 0);
  });
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
