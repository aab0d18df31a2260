import type { Node, NodeAPI, NodeDef, NodeMessage, NodeMessageInFlow } from 'node-red';
import { Checkpoint, isCheckpoint } from '../defender/checkpoint';
import { Detection, detectionTopic } from '../defender/detection';
import { DefenderError, invalidConfig, invalidQuery } from '../defender/errors';
import { pullDetections } from '../defender/pull';
import { DetectionQuery, mergeQuery, parseQuery } from '../defender/query';
import type { DefenderConfigNode } from './config-node';
import { DetectionsNodeProperties, DetectionsSettings, readSettings } from './settings';
import { PullStatus } from './status';

interface DetectionsDef extends NodeDef, DetectionsNodeProperties {
  defender: string;
}

type Send = (msg: Array<NodeMessage | null>) => void;
type Done = (err?: Error) => void;

const CHECKPOINT_KEY = 'checkpoint';
/** Detections sent between yields to the event loop, so the editor and other flows stay responsive. */
const SEND_CHUNK = 500;

function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return false;
  const proto = Object.getPrototypeOf(value) as unknown;
  return proto === Object.prototype || proto === null;
}

/** msg.query, else a plain-object msg.payload; an inject node's timestamp payload means "no query". */
function messageQuery(msg: NodeMessageInFlow): DetectionQuery {
  if (msg.query !== undefined) {
    if (!isPlainObject(msg.query)) {
      throw invalidQuery(`msg.query must be an object of query parameters such as {"limit": 20}, got ${Array.isArray(msg.query) ? 'an array' : typeof msg.query}`);
    }
    return parseQuery(msg.query);
  }
  return isPlainObject(msg.payload) ? parseQuery(msg.payload) : {};
}

/** msg.requestTimeout in milliseconds, as the core http request node reads it. */
function messageTimeout(msg: NodeMessageInFlow, fallbackMs: number): number {
  const raw = msg.requestTimeout;
  if (raw === undefined || raw === null || raw === '') return fallbackMs;
  const n = Number(raw);
  if (!Number.isFinite(n) || n <= 0) {
    throw invalidQuery(`msg.requestTimeout must be a number of milliseconds above 0, got ${JSON.stringify(raw)}`);
  }
  return n;
}

const nextTick = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

export = function register(RED: NodeAPI): void {
  function DefenderDetections(this: Node, def: DetectionsDef): void {
    RED.nodes.createNode(this, def);
    const node = this;
    const status = new PullStatus(node);
    const config = RED.nodes.getNode(def.defender) as DefenderConfigNode | null;
    const closing = new AbortController();
    let settings: DetectionsSettings | undefined;
    let settingsError: DefenderError | undefined;
    try {
      settings = readSettings(def);
    } catch (err) {
      settingsError = err as DefenderError;
      status.failed(settingsError.message);
    }

    const context = node.context();
    const loadCheckpoint = (store: string | undefined): Promise<Checkpoint | undefined> =>
      new Promise((resolve, reject) =>
        context.get(CHECKPOINT_KEY, store, (err: Error, value: unknown) => (err ? reject(err) : resolve(isCheckpoint(value) ? value : undefined))),
      );
    const saveCheckpoint = (store: string | undefined, value: Checkpoint | undefined): Promise<void> =>
      new Promise((resolve, reject) => context.set(CHECKPOINT_KEY, value, store, (err: Error) => (err ? reject(err) : resolve())));

    async function pull(msg: NodeMessageInFlow, send: Send): Promise<number | 'reset'> {
      if (settingsError || !settings) throw settingsError ?? invalidConfig('the node has no settings');
      if (!config) throw invalidConfig('no defender-config node is selected: open the node and choose or create one');
      if (!config.tenant) throw config.configError ?? invalidConfig('the defender-config node is not valid');
      const s = settings;
      const fromMessage = messageQuery(msg);
      const query = mergeQuery(s.defaults, fromMessage);
      const timeoutMs = messageTimeout(msg, s.timeoutMs);
      if (msg.reset === true) {
        await saveCheckpoint(s.store, undefined);
        if (Object.keys(fromMessage).length === 0) return 'reset';
      }

      const started = Date.now();
      let requests = 0;
      const source = config.tenant.detections({
        timeoutMs,
        maxResponseBytes: s.maxResponseBytes,
        retry: s.retry,
        signal: closing.signal,
        onRequest: () => requests++,
        onRetry: (error, delayMs) => node.debug(`retrying in ${Math.round(delayMs)} ms after: ${error.message}`),
      });
      const checkpoint = s.incremental ? await loadCheckpoint(s.store) : undefined;
      const result = await pullDetections(source, query, s.incremental, checkpoint);

      const id = RED.util.generateId();
      const count = result.detections.length;
      for (let index = 0; index < count; index++) {
        const detection: Detection = result.detections[index];
        // One send per message: Node-RED deep-clones every message after the first in a send() call.
        send([{ ...msg, payload: detection, topic: detectionTopic(detection), parts: { id, index, count, type: 'array' } }, null]);
        if ((index + 1) % SEND_CHUNK === 0) await nextTick();
      }
      // Only now that every detection went out may the checkpoint move past them.
      if (result.incremental && result.nextCheckpoint !== checkpoint) await saveCheckpoint(s.store, result.nextCheckpoint);

      send([
        null,
        {
          ...msg,
          payload: {
            count,
            duplicates: result.duplicates,
            query: result.query,
            since: result.since,
            until: result.until,
            requests,
            pages: result.pages,
            durationMs: Date.now() - started,
            incremental: result.incremental,
            checkpoint: result.incremental ? (result.nextCheckpoint?.highest ?? null) : null,
          },
        },
      ]);
      return count;
    }

    // Pulls of one node run one at a time, in the order their messages arrived.
    let queue: Promise<void> = Promise.resolve();
    node.on('input', (msg: NodeMessageInFlow, send: Send, done: Done) => {
      queue = queue.then(async () => {
        status.pulling();
        try {
          const outcome = await pull(msg, send);
          if (outcome === 'reset') status.info('checkpoint reset');
          else status.done(outcome);
          done();
        } catch (err) {
          const error = err instanceof DefenderError ? err : new DefenderError('NETWORK', err instanceof Error ? err.message : String(err));
          if (error.statusCode !== undefined) msg.statusCode = error.statusCode;
          status.failed(error.message);
          done(error);
        }
      });
    });

    node.on('close', (_removed: boolean, done: () => void) => {
      closing.abort();
      queue.then(() => {
        status.clear();
        done();
      }, done);
    });
  }

  RED.nodes.registerType('defender-detections', DefenderDetections);
};
