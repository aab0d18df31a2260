declare module 'node-red-node-test-helper' {
  import type { Node, NodeAPI } from 'node-red';

  type NodeModule = (RED: NodeAPI) => void;
  type FlowNode = Record<string, unknown> & { id: string; type: string };

  interface LogSpy {
    args: unknown[][];
  }

  interface NodeTestHelper {
    init(runtimePath?: string, userSettings?: Record<string, unknown>): void;
    settings(userSettings: Record<string, unknown>): Record<string, unknown>;
    load(nodes: NodeModule | NodeModule[], flow: FlowNode[], credentials?: Record<string, Record<string, string>>): Promise<void>;
    unload(): Promise<void>;
    /** Stops the flows (their close handlers run) without clearing node contexts or the registry. */
    clearFlows(): Promise<void>;
    /** Deploys `flow` as the editor would: "nodes" restarts only the nodes that changed. */
    setFlows(flow: FlowNode[], type: 'full' | 'flows' | 'nodes', credentials?: Record<string, Record<string, string>>): Promise<void>;
    getNode(id: string): Node & { receive(msg: Record<string, unknown>): void };
    startServer(): Promise<void>;
    stopServer(): Promise<void>;
    log(): LogSpy;
    url(): string;
  }

  const helper: NodeTestHelper;
  export = helper;
}
