import type { NodeAPI } from 'node-red';
import { registerPullNode } from './pull-node';
import { INCIDENTS_NODE, readIncidentsSettings } from './settings';

/**
 * defender-incidents: Defender XDR's incidents, each with its alerts, always through Microsoft Graph. Each
 * message names its incident in `msg.incidentId`, the id Graph's /security/incidents/{id} takes.
 */
export = function register(RED: NodeAPI): void {
  registerPullNode(RED, {
    kind: INCIDENTS_NODE,
    readSettings: readIncidentsSettings,
    source: (tenant, options, settings) => tenant.incidents({ ...options, alerts: settings.alerts }),
    own: ['incidentId'],
    mark: (out, incident) => {
      out.incidentId = String(incident.id ?? '');
    },
  });
};
