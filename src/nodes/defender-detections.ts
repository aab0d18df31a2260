import type { NodeAPI } from 'node-red';
import { registerPullNode } from './pull-node';
import { DETECTIONS_NODE, readSettings } from './settings';

/** defender-detections: Defender for Endpoint's detections, from the SIEM API or Graph's alerts_v2. */
export = function register(RED: NodeAPI): void {
  registerPullNode(RED, {
    kind: DETECTIONS_NODE,
    readSettings,
    source: (tenant, options, settings) => tenant.detections({ ...options, shape: settings.shape }),
  });
};
