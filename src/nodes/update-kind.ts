import type { Tenant } from '../defender/tenant';
import type { UpdateKind } from '../defender/writing/entity-update';
import type { AlertWriterOptions, GraphWriter } from '../defender/writing/graph-writer';

/**
 * What tells one update node from the other (an alert's, an incident's); everything else, from the dialog's
 * properties to the status, is the same code.
 */
export interface UpdateNodeKind {
  type: 'defender-alert-update' | 'defender-incident-update';
  /** What may be changed, and how each value is checked. */
  kind: UpdateKind;
  /**
   * The node property of the entity's status: not `status`, which the editor overwrites with the node's
   * runtime status as soon as the node shows one.
   */
  statusProperty: 'alertStatus' | 'incidentStatus';
  /** Where the output message tells which entity was changed. */
  idProperty: 'alertId' | 'incidentId';
  /** The entity a message is about, or why it names none. */
  findId(msg: Record<string, unknown>): string;
  /** The Graph writer of the config node's tenant for this kind. */
  writer(tenant: Tenant, options: AlertWriterOptions): GraphWriter;
}
