import type { NodeAPI } from 'node-red';
import { INCIDENT_UPDATE_NODE, registerUpdateNode } from './update-node';

/** "update incident": changes a Defender incident through Microsoft Graph (update-node.ts does the work). */
export = function register(RED: NodeAPI): void {
  registerUpdateNode(RED, INCIDENT_UPDATE_NODE);
};
