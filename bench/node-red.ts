/**
 * A real Node-RED runtime embedded in the benchmark process: `require('node-red')`, RED.init on an HTTP
 * server bound to 127.0.0.1, a throw-away userDir under the OS temp folder, this package's compiled nodes
 * and the `bench-sink` node loaded through `nodesDir`, and Node-RED's own core nodes (function,
 * http request, split, catch) from its installation. Default runtime settings otherwise (asynchronous
 * message delivery, memory context), the editor served as usual.
 */
import type { EventEmitter } from 'node:events';
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import type { Node } from 'node-red';
import nodeRed from 'node-red';

export type FlowNode = { id: string; type: string } & Record<string, unknown>;

export type InputNode = Node & { receive(msg: Record<string, unknown>): void };

/** The parts of the embedding API used here (the published typings do not cover them all). */
interface EmbeddedNodeRed {
  init(server: http.Server, settings: Record<string, unknown>): void;
  start(): Promise<void>;
  stop(): Promise<void>;
  readonly nodes: { getNode(id: string): Node | null };
  readonly events: EventEmitter;
  readonly httpAdmin: http.RequestListener;
}

export interface RunningNodeRed {
  node(id: string): InputNode;
  stop(): Promise<void>;
}

const SINK_HTML = `<script type="text/javascript">
RED.nodes.registerType('bench-sink', { category: 'output', color: '#ddd', defaults: { name: { value: '' } }, inputs: 1, outputs: 0,
  label: function () { return this.name || 'bench sink'; } });
</script>
`;

function listen(server: http.Server): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve((server.address() as AddressInfo).port));
  });
}

/** Starts Node-RED with these flows and credentials; resolves once the flows run. One per process. */
export async function startNodeRed(flows: FlowNode[], credentials: Record<string, Record<string, string>> = {}): Promise<RunningNodeRed> {
  const RED = nodeRed as unknown as EmbeddedNodeRed;
  const userDir = fs.mkdtempSync(path.join(os.tmpdir(), 'defender-bench-'));
  // Removed however the process ends (the children end with process.exit once they have reported).
  process.once('exit', () => fs.rmSync(userDir, { recursive: true, force: true }));
  const benchNodes = path.join(userDir, 'bench-nodes');
  fs.mkdirSync(benchNodes);
  // Node-RED loads a node from a .js with its .html beside it; the .js hands over to the compiled sink.
  fs.writeFileSync(path.join(benchNodes, 'bench-sink.js'), `module.exports = require(${JSON.stringify(path.join(__dirname, 'sink-node.js'))});\n`);
  fs.writeFileSync(path.join(benchNodes, 'bench-sink.html'), SINK_HTML);
  // Node-RED takes a node without a position for a config node, so every flow node gets one.
  const placed = flows.map((n, i) => (n.z !== undefined && n.x === undefined ? { ...n, x: 120 + (i % 8) * 160, y: 40 + Math.floor(i / 8) * 40 } : n));
  fs.writeFileSync(path.join(userDir, 'flows.json'), JSON.stringify(placed));
  fs.writeFileSync(path.join(userDir, 'flows_cred.json'), JSON.stringify(credentials));

  const server = http.createServer();
  const port = await listen(server);
  RED.init(server, {
    userDir,
    flowFile: 'flows.json',
    credentialSecret: false,
    uiHost: '127.0.0.1',
    uiPort: port,
    httpAdminRoot: '/',
    httpNodeRoot: '/api',
    // this package's compiled nodes (with their .html, as the build assembles them) and the sink
    nodesDir: [path.resolve(__dirname, '..', 'src', 'nodes'), benchNodes],
    logging: { console: { level: 'error', metrics: false, audit: false } },
    telemetry: { enabled: false, updateNotification: false },
    diagnostics: { enabled: false },
    editorTheme: { tours: false },
    externalModules: { autoInstall: false, palette: { allowInstall: false } },
    contextStorage: { default: { module: 'memory' } },
  });
  server.on('request', RED.httpAdmin);
  const started = new Promise<void>((resolve) => RED.events.once('flows:started', () => resolve()));
  await RED.start();
  await started;

  return {
    node(id: string): InputNode {
      const node = RED.nodes.getNode(id);
      if (!node) throw new Error(`no node ${id} in the running flows (did its type load?)`);
      return node as InputNode;
    },
    async stop(): Promise<void> {
      await RED.stop();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      fs.rmSync(userDir, { recursive: true, force: true });
    },
  };
}
