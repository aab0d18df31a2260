/**
 * `bench-sink`: the downstream node of every benchmark flow. It counts what arrives and notes when, at the
 * least cost a node can have, so the flows differ only in what comes before it.
 */
import type { Node, NodeAPI, NodeDef, NodeMessageInFlow } from 'node-red';
import { sinkFor } from './sinks';

export = function register(RED: NodeAPI): void {
  function BenchSink(this: Node, def: NodeDef): void {
    RED.nodes.createNode(this, def);
    const state = sinkFor(def.id);
    this.on('input', (msg: NodeMessageInFlow, _send: unknown, done: () => void) => {
      state.take(msg);
      done();
    });
  }
  RED.nodes.registerType('bench-sink', BenchSink);
};
