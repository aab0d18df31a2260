/**
 * Every property each node of the package saves in a flow, with the value it has when the flow does not
 * give it: a flow written by hand or by a pipeline (Admin API, FlowFuse DevOps), or saved by an older
 * version before the property existed. This is the one place those defaults are written down:
 * - the runtime reads a node's properties through `withDefaults`, so a missing property means its default;
 * - the build (scripts/build.js) writes each node's table into its editor dialog, where the validators,
 *   the dialog's fields and the node's label read a missing property as the same default.
 *
 * A property added later must take a default that keeps the behaviour flows had before it existed.
 * Config-node references (`defender`, `proxy`, `tls`) default to '' (none chosen).
 */
/** What both pull nodes (detections, incidents) have, in three runs of their tables: the query's time range and limit, */
const PULL_WINDOW = { sinceTimeUtc: '', untilTimeUtc: '', ago: '', limit: '' } as const;

/** …incremental polling and the reliability limits, */
const PULL_POLLING = {
  incremental: true,
  initialAgo: 'PT2H',
  overlap: 'PT5M',
  store: '',
  requestTimeout: 60,
  maxRetries: 4,
  maxResponseMB: 256,
} as const;

/** …and which versions go out, and delivery confirmation. */
const PULL_LIFECYCLE = {
  // 0.2.0: which versions of an alert go out ('all' is what earlier versions did), and for how long the
  // node remembers an alert it sent.
  events: 'all',
  remember: 'P30D',
  // Delivery confirmation (SPEC section 11): 'none' is what earlier versions did; 'nodes' waits for the
  // delivering nodes chosen in confirmNodes to be done with each detection, and sends again what they were not.
  confirm: 'none',
  confirmNodes: [],
  deliveryTimeout: 'PT1M',
  maxDeliveries: 10,
} as const;

export const NODE_PROPERTIES = {
  'defender-config': {
    name: '',
    tenantId: '',
    clientId: '',
    // 0.1.0 shipped with these two: a config node without them meant the EU host of the SIEM API.
    region: 'eu',
    api: 'siem',
    apiBaseUrl: '',
    authorityUrl: '',
    resource: '',
    // Sign-in (SPEC section 8): a config node saved before the modes existed signed in with its client secret.
    auth: 'secret',
    certificate: '',
    managedIdentityClientId: '',
    proxy: '',
    tls: '',
    // Several instances, one poll (SPEC section 13): 'none' is what earlier versions did (each polls alone).
    coordination: 'none',
    redisUrl: '',
    redisKeyPrefix: 'defender:',
    leaseTtl: 30,
  },
  'defender-detections': {
    name: '',
    defender: '',
    ...PULL_WINDOW,
    machinegroups: '',
    DeviceCreatedMachineTags: '',
    CloudCreatedMachineTags: '',
    // Where each of those four comes from (the editor's TypedInput): the field itself unless chosen.
    limitType: 'num',
    machinegroupsType: 'str',
    DeviceCreatedMachineTagsType: 'str',
    CloudCreatedMachineTagsType: 'str',
    ...PULL_POLLING,
    // '' (or 'siem'): SIEM field names; 'native': Graph's alerts_v2 objects as sent.
    shape: '',
    ...PULL_LIFECYCLE,
  },
  'defender-incidents': {
    name: '',
    defender: '',
    ...PULL_WINDOW,
    // Where the limit comes from (the editor's TypedInput): the field itself unless chosen.
    limitType: 'num',
    // The filterable properties of Graph's incidents, each a list separated by commas ('' = any). The
    // status is `incidentStatus`: the editor keeps a node's runtime status in `node.status`.
    incidentStatus: '',
    severity: '',
    assignedTo: '',
    classification: '',
    determination: '',
    ...PULL_POLLING,
    // 'include': each incident with its alerts in payload.alerts; 'none': the incidents alone.
    alerts: 'include',
    ...PULL_LIFECYCLE,
  },
  'defender-alert-update': {
    name: '',
    defender: '',
    // Each value '' (the alert's own is left as it is), taken from the field itself unless the TypedInput
    // chooses msg, flow, global or env. The alert's status is `alertStatus`: the editor keeps a node's
    // runtime status in `node.status`, and overwrote a property of that name once the node showed a status.
    alertStatus: '',
    alertStatusType: 'str',
    classification: '',
    classificationType: 'str',
    determination: '',
    determinationType: 'str',
    assignedTo: '',
    assignedToType: 'str',
    comment: '',
    commentType: 'str',
    // Read, never written: what a flow saved before the rename holds; the runtime and the editor move it over.
    status: '',
    statusType: '',
  },
  'defender-incident-update': {
    name: '',
    defender: '',
    // As the alert update node's: each value '' (the incident's own is left as it is), from the field itself
    // unless the TypedInput chooses msg, flow, global or env; the status is `incidentStatus`, never `status`
    // (the editor keeps a node's runtime status there). customTags: a list, or tags separated by commas.
    incidentStatus: '',
    incidentStatusType: 'str',
    classification: '',
    classificationType: 'str',
    determination: '',
    determinationType: 'str',
    assignedTo: '',
    assignedToType: 'str',
    customTags: '',
    customTagsType: 'str',
    comment: '',
    commentType: 'str',
  },
} as const satisfies Record<string, Record<string, string | number | boolean | readonly string[]>>;

export type NodeType = keyof typeof NODE_PROPERTIES;

/** The properties of a node type as the runtime reads them: every one present, with its declared type. */
export type PropertiesOf<T extends NodeType> = { -readonly [K in keyof (typeof NODE_PROPERTIES)[T]]: Widen<(typeof NODE_PROPERTIES)[T][K]> };

/**
 * A default of 60 says "a number"; the flow may hold "60" as text, which the settings readers accept. A list
 * of node ids (a scope, as the Complete node's) may come as a comma-separated text from a hand-written flow.
 */
type Widen<V> = V extends readonly string[] ? readonly string[] | string : V extends boolean ? boolean | string : V extends number ? number | string : string;

/** The names of a node type's properties, in the table's order. */
export function propertyNames<T extends NodeType>(type: T): Array<keyof (typeof NODE_PROPERTIES)[T] & string> {
  return Object.keys(NODE_PROPERTIES[type]) as Array<keyof (typeof NODE_PROPERTIES)[T] & string>;
}

/**
 * A node's properties as the flow gave them, with every missing one (absent, undefined or null) set to
 * its default. Properties the table does not know (x, y, wires, a test's extras) are kept as they are.
 */
export function withDefaults<T extends NodeType, P extends object>(type: T, given: P): P & PropertiesOf<T> {
  const out: Record<string, unknown> = { ...(given as Record<string, unknown>) };
  for (const [name, value] of Object.entries(NODE_PROPERTIES[type])) {
    if (out[name] === undefined || out[name] === null) out[name] = value;
  }
  return out as P & PropertiesOf<T>;
}
