import type { NodeAPI } from 'node-red';
import { ALERT_UPDATE_NODE, registerUpdateNode } from './update-node';

/** "update alert": changes an alerts_v2 alert through Microsoft Graph (update-node.ts does the work). */
export = function register(RED: NodeAPI): void {
  registerUpdateNode(RED, ALERT_UPDATE_NODE);
};
