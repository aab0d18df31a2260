import { createHash } from 'node:crypto';
import type { Detection } from '../defender/services/detection';
import { QueryError } from './query';
import { SeededRandom } from './random';
import { type AlertTriage, UNTOUCHED } from './graph-write';
import type { StoredView } from './store';
import { MIN_INSTANT, formatMs, instantToMs, parseDateTime } from './timestamps';

/**
 * The Microsoft Graph side of the emulator: `GET /v1.0/security/alerts_v2` over the same stored detections
 * the SIEM endpoint serves, so one test can pull the same detections through both APIs. Each stored
 * detection is shown as the alerts_v2 alert Defender would show for it: same id, title, severity, category,
 * times, device, file, process, network and user, as evidence objects; the SIEM-only fields (IoC, report
 * and part ids) have no place in it, as in Graph.
 */

/** What one Graph collection lets $filter compare: its filterable properties, and which of them are times. */
export interface FilterSchema {
  properties: readonly string[];
  times: readonly string[];
  /** A string property's value as an error suggests it. */
  example: (property: string) => string;
}

/** The properties alerts_v2 documents as filterable. */
export const ALERTS_FILTER: FilterSchema = {
  properties: ['assignedTo', 'classification', 'determination', 'createdDateTime', 'lastUpdateDateTime', 'severity', 'serviceSource', 'status'],
  times: ['createdDateTime', 'lastUpdateDateTime'],
  example: (property) => (property === 'serviceSource' ? 'microsoftDefenderForEndpoint' : 'high'),
};

type Operator = 'eq' | 'ne' | 'gt' | 'ge' | 'lt' | 'le';
const OPERATORS: readonly Operator[] = ['eq', 'ne', 'gt', 'ge', 'lt', 'le'];

interface Clause {
  property: string;
  operator: Operator;
  /** Fixed-width instant for time properties, the string (or null) otherwise. */
  value: string | null;
  time: boolean;
}

/** A clause, or a parenthesised group of clauses joined with "or" (`(status eq 'active' or status eq 'inProgress')`). */
export type Condition = Clause | { any: Clause[] };

/** What one GET of a collection (alerts_v2, incidents) asks for, validated. */
export interface ListRequest {
  clauses: Condition[];
  /** Bounds of lastUpdateDateTime the clauses imply, inclusive, for the store's window scan. */
  since: string;
  until: string;
  /** undefined: no $orderby given (Graph lists the most recent first). */
  orderBy?: 'asc' | 'desc';
  top?: number;
  skip: number;
  count: boolean;
  /** $expand's navigation properties, as given (incidents: `alerts`). */
  expand: string[];
  /** Where the previous page ended ($skiptoken of a nextLink). */
  after?: { k: string; s: number };
  /** The query string minus $skip and $skiptoken, for the nextLink. */
  carried: Array<[string, string]>;
}

const FAR_FUTURE = '9999-12-31T23:59:59.9999999Z';

function bad(parameter: string, message: string): QueryError {
  return new QueryError(parameter, message);
}

/** Splits a $filter into tokens: 'string' literals ('' escapes a quote), words, date-time or number literals, and parentheses. */
function tokenize(filter: string): string[] {
  const tokens: string[] = [];
  const re = /\s*(?:('(?:[^']|'')*')|([A-Za-z_][\w/.]*)|([0-9][0-9A-Za-z:.+\-]*)|([()])|(\S))/y;
  let m: RegExpExecArray | null;
  while (re.lastIndex < filter.length && (m = re.exec(filter)) !== null) {
    if (m[5] !== undefined) {
      throw bad('$filter', `Invalid filter clause: the character '${m[5]}' is not supported here. This service accepts clauses such as "lastUpdateDateTime ge 2024-01-15T10:00:00Z" joined with "and", and groups such as "(status eq 'active' or status eq 'inProgress')".`);
    }
    tokens.push(m[1] ?? m[2] ?? m[3] ?? m[4]);
    if (/^\s*$/.test(filter.slice(re.lastIndex))) break;
  }
  return tokens;
}

function parseClause(tokens: readonly string[], i: number, schema: FilterSchema): Clause {
  const [name, op, literal] = tokens.slice(i, i + 3);
  const property = schema.properties.find((p) => p.toLowerCase() === (name ?? '').toLowerCase());
  if (!property) {
    throw bad('$filter', `Invalid filter clause: could not find a property named '${name ?? ''}' that supports filtering. The following properties support $filter: ${schema.properties.join(', ')}.`);
  }
  const operator = (op ?? '').toLowerCase() as Operator;
  if (!OPERATORS.includes(operator) || literal === undefined || literal === '(' || literal === ')') {
    throw bad('$filter', `Invalid filter clause: expected "${property} <eq|ne|gt|ge|lt|le> <value>", got "${tokens.slice(i, i + 3).join(' ')}".`);
  }
  const time = schema.times.includes(property);
  let value: string | null;
  if (time) {
    const instant = parseDateTime(literal.replace(/^'(.*)'$/, '$1'));
    if (instant === undefined) throw bad('$filter', `Invalid filter clause: '${literal}' is not a valid DateTimeOffset for ${property}; use e.g. 2024-01-15T10:00:00Z.`);
    value = instant;
  } else {
    if (operator !== 'eq' && operator !== 'ne') throw bad('$filter', `Invalid filter clause: ${property} supports only eq and ne, got ${operator}.`);
    if (literal.toLowerCase() === 'null') value = null;
    else if (/^'.*'$/.test(literal)) value = literal.slice(1, -1).replace(/''/g, "'");
    else throw bad('$filter', `Invalid filter clause: ${property} must be compared with a quoted string such as '${schema.example(property)}', got ${literal}.`);
  }
  return { property, operator, value, time };
}

/** Clauses joined with "and"; a clause may be a parenthesised group of clauses joined with "or". */
function parseFilter(filter: string, schema: FilterSchema): Condition[] {
  const tokens = tokenize(filter);
  const conditions: Condition[] = [];
  for (let i = 0; i < tokens.length; ) {
    if (tokens[i] === '(') {
      const any: Clause[] = [];
      i++;
      for (;;) {
        any.push(parseClause(tokens, i, schema));
        i += 3;
        const next = (tokens[i] ?? '').toLowerCase();
        i++;
        if (next === ')') break;
        if (next !== 'or') throw bad('$filter', `Invalid filter clause: expected "or" or ")" in a group, got "${tokens[i - 1] ?? 'the end of the filter'}". Groups join clauses with "or" only.`);
      }
      conditions.push({ any });
    } else {
      conditions.push(parseClause(tokens, i, schema));
      i += 3;
    }
    if (i < tokens.length) {
      if (tokens[i].toLowerCase() !== 'and') {
        throw bad('$filter', `Invalid filter clause: expected "and" between clauses, got "${tokens[i]}". This service supports "or" only inside parentheses, and no "not".`);
      }
      i++;
      if (i >= tokens.length) throw bad('$filter', 'Invalid filter clause: the filter ends with "and".');
    }
  }
  return conditions;
}

function decodeCursor(token: string): { k: string; s: number } {
  try {
    const value = JSON.parse(Buffer.from(token, 'base64url').toString('utf8')) as { k?: unknown; s?: unknown };
    if (typeof value.k === 'string' && typeof value.s === 'number') return { k: value.k, s: value.s };
  } catch {
    // fall through
  }
  throw bad('$skiptoken', 'The $skiptoken is not valid: follow @odata.nextLink as it was sent.');
}

export function encodeCursor(view: Listed): string {
  return Buffer.from(JSON.stringify({ k: view.key, s: view.seq })).toString('base64url');
}

function nonNegative(name: string, text: string): number {
  if (!/^\s*\d+\s*$/.test(text)) throw bad(name, `The value '${text}' of ${name} is not a non-negative integer.`);
  return Number(text);
}

/** The navigation properties an `$expand` names ("alerts", "alerts,comments"). */
export function navigationProperties(expand: string): string[] {
  return expand.split(',').map((p) => p.trim()).filter((p) => p !== '');
}

/**
 * Reads the OData options of a GET of a collection (case-insensitive names, as Graph reads them), its
 * $filter by the collection's `schema` (default alerts_v2's). `orderBy` chooses whether `$orderby` is served
 * or refused the way an OData service that does not allow it answers.
 */
export function parseListQuery(params: URLSearchParams, orderBy: 'supported' | 'refused', schema: FilterSchema = ALERTS_FILTER): ListRequest {
  const request: ListRequest = { clauses: [], since: MIN_INSTANT, until: FAR_FUTURE, skip: 0, count: false, expand: [], carried: [] };
  for (const [rawName, value] of params) {
    const name = rawName.toLowerCase();
    if (name !== '$skip' && name !== '$skiptoken') request.carried.push([rawName, value]);
    switch (name) {
      case '$filter':
        request.clauses.push(...parseFilter(value, schema));
        break;
      case '$top': {
        const top = nonNegative('$top', value);
        request.top = top;
        break;
      }
      case '$skip':
        request.skip = nonNegative('$skip', value);
        break;
      case '$count':
        if (!/^(true|false)$/i.test(value)) throw bad('$count', `$count must be true or false, got '${value}'.`);
        request.count = value.toLowerCase() === 'true';
        break;
      case '$skiptoken':
        request.after = decodeCursor(value);
        break;
      case '$expand':
        request.expand.push(...navigationProperties(value));
        break;
      case '$orderby': {
        if (orderBy === 'refused') {
          throw bad('$orderby', "Query option 'OrderBy' is not allowed. To allow it, set the 'AllowedQueryOptions' property on EnableQueryAttribute or QueryValidationSettings.");
        }
        const m = /^\s*lastUpdateDateTime(?:\s+(asc|desc))?\s*$/i.exec(value);
        if (!m) throw bad('$orderby', `OrderBy is supported on lastUpdateDateTime only (asc or desc), got '${value}'.`);
        request.orderBy = (m[1] ?? 'asc').toLowerCase() as 'asc' | 'desc';
        break;
      }
      default:
        // $select and the like are not emulated; unknown options are ignored.
        break;
    }
  }
  for (const c of request.clauses) {
    if (!('property' in c) || c.property !== 'lastUpdateDateTime' || c.value === null) continue;
    if ((c.operator === 'ge' || c.operator === 'gt' || c.operator === 'eq') && c.value > request.since) request.since = c.value;
    if ((c.operator === 'le' || c.operator === 'lt' || c.operator === 'eq') && c.value < request.until) request.until = c.value;
  }
  return request;
}

/** A GET of alerts_v2. */
export function parseAlertsV2Query(params: URLSearchParams, orderBy: 'supported' | 'refused'): ListRequest {
  return parseListQuery(params, orderBy, ALERTS_FILTER);
}

// ---- the alert a detection is shown as ---------------------------------------------------------------

const DETECTION_SOURCE: Record<string, string> = {
  EDR: 'microsoftDefenderForEndpoint',
  Antivirus: 'antivirus',
  SmartScreen: 'smartScreen',
  CustomTI: 'customTi',
  AutomatedInvestigation: 'automatedInvestigation',
  ThreatExperts: 'microsoftThreatExperts',
  CustomDetection: 'customDetection',
};

/**
 * One of Graph v1.0's evolvable enums as its schema (msgraph-metadata's CSDL) lists it: the members before the
 * sentinel unknownFutureValue, and those added after it. An added member reaches only a client that sends
 * `Prefer: include-unknown-enum-members`; any other client gets unknownFutureValue in its place, and every
 * client does for a value v1.0 does not list at all (a member newer than the schema).
 */
export interface EvolvableEnum {
  members: readonly string[];
  added: readonly string[];
}

export const UNKNOWN_FUTURE_VALUE = 'unknownFutureValue';

export const ALERT_SEVERITY: EvolvableEnum = { members: ['unknown', 'informational', 'low', 'medium', 'high'], added: [] };

const DETECTION_SOURCE_ENUM: EvolvableEnum = {
  members: [
    'unknown', 'microsoftDefenderForEndpoint', 'antivirus', 'smartScreen', 'customTi', 'microsoftDefenderForOffice365',
    'automatedInvestigation', 'microsoftThreatExperts', 'customDetection', 'microsoftDefenderForIdentity', 'cloudAppSecurity',
    'microsoft365Defender', 'azureAdIdentityProtection', 'manual', 'microsoftDataLossPrevention', 'appGovernancePolicy',
    'appGovernanceDetection',
  ],
  added: [
    'microsoftDefenderForCloud', 'microsoftDefenderForIoT', 'microsoftDefenderForServers', 'microsoftDefenderForStorage',
    'microsoftDefenderForDNS', 'microsoftDefenderForDatabases', 'microsoftDefenderForContainers', 'microsoftDefenderForNetwork',
    'microsoftDefenderForAppService', 'microsoftDefenderForKeyVault', 'microsoftDefenderForResourceManager',
    'microsoftDefenderForApiManagement', 'nrtAlerts', 'scheduledAlerts', 'microsoftDefenderThreatIntelligenceAnalytics', 'builtInMl',
    'microsoftInsiderRiskManagement', 'microsoftThreatIntelligence', 'microsoftDefenderForAIServices', 'securityCopilot',
    'microsoftSentinel',
  ],
};

const EVIDENCE_REMEDIATION_STATUS: EvolvableEnum = {
  members: ['none', 'remediated', 'prevented', 'blocked', 'notFound'],
  added: ['active', 'pendingApproval', 'declined', 'unremediated', 'running', 'partiallyRemediated'],
};

export function shownMember(evolvable: EvolvableEnum, value: unknown, includeUnknown: boolean): unknown {
  if (typeof value !== 'string' || evolvable.members.includes(value)) return value;
  return includeUnknown && evolvable.added.includes(value) ? value : UNKNOWN_FUTURE_VALUE;
}

/** Whether a request's Prefer header asks for the members added after unknownFutureValue. */
export function includesUnknownEnumMembers(prefer: string | string[] | undefined): boolean {
  const preferences = (Array.isArray(prefer) ? prefer.join(',') : (prefer ?? '')).split(',');
  return preferences.some((p) => p.trim().toLowerCase() === 'include-unknown-enum-members');
}

/** The alert as a client sees it, with or without the Prefer header: its evolvable enums' values or the placeholder. */
export function withEvolvableEnums(alert: Record<string, unknown>, includeUnknown: boolean): Record<string, unknown> {
  const evidence = Array.isArray(alert.evidence)
    ? alert.evidence.map((e: Record<string, unknown>) =>
        'remediationStatus' in e ? { ...e, remediationStatus: shownMember(EVIDENCE_REMEDIATION_STATUS, e.remediationStatus, includeUnknown) } : e)
    : alert.evidence;
  return {
    ...alert,
    severity: shownMember(ALERT_SEVERITY, alert.severity, includeUnknown),
    detectionSource: shownMember(DETECTION_SOURCE_ENUM, alert.detectionSource, includeUnknown),
    evidence,
  };
}

/**
 * What Graph shows of an alert beyond what its SIEM detection says, for tests of Graph's own behaviour: a
 * detection source or remediation status the SIEM API has no word for, only the new `categories`.
 */
export interface GraphOverrides {
  /** Graph's detectionSource, e.g. `microsoftThreatIntelligence` (added after unknownFutureValue). */
  detectionSource?: string;
  /** The remediationStatus of the file and process evidence, e.g. `active` or `unremediated`. */
  remediationStatus?: string;
  /** The deprecated single category; null leaves it out, as an alert with only `categories` has it. */
  category?: string | null;
  /** The categories that replace it. */
  categories?: string[];
  /** The incident Defender put the alert in (default: the incident of its device in that hour; see incidents.ts). */
  incidentId?: string;
}

/** The alert with the overrides laid over it. */
export function withOverrides(alert: Record<string, unknown>, overrides: GraphOverrides | undefined): Record<string, unknown> {
  if (!overrides) return alert;
  const { remediationStatus, ...properties } = overrides;
  const evidence = remediationStatus === undefined || !Array.isArray(alert.evidence)
    ? alert.evidence
    : alert.evidence.map((e: Record<string, unknown>) =>
        /#microsoft\.graph\.security\.(file|process)Evidence$/.test(String(e['@odata.type'])) ? { ...e, remediationStatus } : e);
  return { ...alert, ...properties, evidence };
}

const MITRE: Record<string, readonly string[]> = {
  Execution: ['T1059.001'],
  CredentialAccess: ['T1003.001'],
  Persistence: ['T1053.005'],
  Discovery: ['T1087.002', 'T1482'],
  LateralMovement: ['T1021.002', 'T1569.002'],
  CommandAndControl: ['T1071.001', 'T1105'],
  Malware: ['T1204.002'],
  Ransomware: ['T1486', 'T1490'],
  DefenseEvasion: ['T1562.001'],
  InitialAccess: ['T1566.002'],
};

const RECOMMENDED =
  'Validate the alert and scope the incident. Review the device timeline for activity before and after the alert, isolate the device if the activity is confirmed, and collect an investigation package.';

function text(value: unknown): string {
  return typeof value === 'string' || typeof value === 'number' ? String(value) : '';
}

function seeded(value: string): SeededRandom {
  return new SeededRandom(createHash('sha256').update(value).digest().readUInt32BE(0));
}

function orNull(value: unknown): string | null {
  const s = text(value);
  return s === '' ? null : s;
}

function secondsBefore(instant: string, r: SeededRandom, min: number, max: number): string {
  return formatMs(instantToMs(instant) - r.int(min, max) * 1000, r.int(0, 9999));
}

/** Graph's evidence remediation status of what the SIEM API reported. */
function remediationStatus(d: Detection): string {
  if (d.RemediationIsSuccess === true) return 'remediated';
  if (d.RemediationIsSuccess === false) return 'notFound';
  return 'none';
}

/** Graph's detectionStatus: the threat ran and was detected, or was stopped before it ran. */
function detectionStatus(d: Detection): string | null {
  if (d.WasExecutingWhileDetected === true) return 'detected';
  if (d.WasExecutingWhileDetected === false) return 'prevented';
  return null;
}

function fileDetails(d: Detection, r: SeededRandom): Record<string, unknown> {
  const path = text(d.FilePath);
  const system = /^C:\\(Windows|Program Files)/i.test(path);
  return {
    sha1: orNull(d.Sha1),
    sha256: orNull(d.Sha256),
    md5: orNull(d.Md5),
    fileName: text(d.FileName),
    filePath: path,
    fileSize: r.int(20_000, 9_000_000),
    filePublisher: system ? 'Microsoft Corporation' : null,
    signer: system ? 'Microsoft Windows' : null,
    issuer: system ? 'Microsoft Windows Production PCA 2011' : null,
  };
}

function evidenceBase(type: string, created: string, extra: Record<string, unknown>): Record<string, unknown> {
  return {
    '@odata.type': `#microsoft.graph.security.${type}`,
    createdDateTime: created,
    verdict: 'suspicious',
    remediationStatus: 'none',
    remediationStatusDetails: null,
    roles: [],
    detailedRoles: [],
    tags: [],
    ...extra,
  };
}

/**
 * The alerts_v2 alert of a stored detection, for the tenant that asks. Derived, not stored: the same
 * detection always gives the same alert (its random parts are seeded by the detection's FullId), and an
 * update of the detection (a new LastProcessedTimeUtc) is an update of the alert (lastUpdateDateTime).
 */
export function graphAlertOf(d: Detection, tenantId: string): Record<string, unknown> {
  const r = seeded(`alert:${text(d.FullId)}`);
  const device = seeded(`device:${text(d.DeviceID)}`);
  const id = text(d.AlertId);
  const created = text(d.AlertTime);
  const severity = text(d.Severity).toLowerCase();
  const incidentId = String(r.int(1000, 99_999));
  const server = /^srv-/i.test(text(d.MachineName));
  const users = text(d.LogOnUsers).split(';').filter((u) => u !== '').map((u) => {
    const slash = u.indexOf('\\');
    return slash < 0 ? { accountName: u, domainName: null } : { accountName: u.slice(slash + 1), domainName: u.slice(0, slash) };
  });
  const tags = [...text(d.DeviceCreatedMachineTags).split(','), ...text(d.CloudCreatedMachineTags).split(',')].map((t) => t.trim()).filter((t) => t !== '');
  const interfaces = [...text(d.InternalIPv4List).split(';'), ...text(d.InternalIPv6List).split(';')].filter((a) => a !== '');
  const executed = detectionStatus(d);
  const remediation = remediationStatus(d);
  const evidenceCreated = created;

  const evidence: Array<Record<string, unknown>> = [
    evidenceBase('deviceEvidence', evidenceCreated, {
      roles: ['compromised'],
      detailedRoles: ['PrimaryDevice'],
      tags,
      firstSeenDateTime: formatMs(instantToMs(created) - device.int(30, 700) * 86_400_000, device.int(0, 9999)),
      mdeDeviceId: text(d.DeviceID),
      azureAdDeviceId: device.guid(),
      deviceDnsName: text(d.ComputerDnsName),
      osPlatform: server ? 'WindowsServer2022' : 'Windows11',
      osBuild: server ? 20348 : device.pick([22621, 22631, 26100]),
      version: server ? '21H2' : device.pick(['22H2', '23H2', '24H2']),
      healthStatus: 'active',
      riskScore: severity === 'high' ? 'high' : severity === 'medium' ? 'medium' : 'low',
      rbacGroupId: text(d.MachineGroup) === '' ? null : 100 + (createHash('sha256').update(text(d.MachineGroup)).digest().readUInt16BE(0) % 900),
      rbacGroupName: orNull(d.MachineGroup),
      onboardingStatus: 'onboarded',
      defenderAvStatus: 'updated',
      ipInterfaces: interfaces,
      loggedOnUsers: users,
      vmMetadata: null,
    }),
  ];
  const details = text(d.FileName) !== '' ? fileDetails(d, r) : undefined;
  if (details) {
    evidence.push(evidenceBase('fileEvidence', evidenceCreated, {
      verdict: 'malicious',
      remediationStatus: remediation,
      detectionStatus: executed,
      mdeDeviceId: text(d.DeviceID),
      roles: ['contextual'],
      fileDetails: details,
    }));
  }
  if (text(d.CommandLine) !== '') {
    const runner = users[0] ?? { accountName: 'SYSTEM', domainName: 'NT AUTHORITY' };
    evidence.push(evidenceBase('processEvidence', evidenceCreated, {
      remediationStatus: remediation,
      detectionStatus: executed,
      mdeDeviceId: text(d.DeviceID),
      processId: r.int(400, 30_000),
      parentProcessId: r.int(400, 30_000),
      processCommandLine: text(d.CommandLine),
      processCreationDateTime: secondsBefore(created, r, 1, 90),
      parentProcessCreationDateTime: secondsBefore(created, r, 600, 86_400),
      imageFile: details ?? null,
      parentProcessImageFile: { sha1: null, sha256: null, md5: null, fileName: 'explorer.exe', filePath: 'C:\\Windows', fileSize: 5_456_200, filePublisher: 'Microsoft Corporation', signer: null, issuer: null },
      userAccount: {
        accountName: runner.accountName,
        domainName: runner.domainName,
        userSid: `S-1-5-21-${r.int(1_000_000_000, 2_000_000_000)}-${r.int(1_000_000_000, 2_000_000_000)}-${r.int(1_000_000_000, 2_000_000_000)}-${r.int(1000, 9999)}`,
        azureAdUserId: null,
        userPrincipalName: null,
        displayName: runner.accountName,
      },
    }));
  }
  if (text(d.IpAddress) !== '') {
    evidence.push(evidenceBase('ipEvidence', evidenceCreated, { roles: ['destination'], ipAddress: text(d.IpAddress), countryLetterCode: null }));
  }
  if (text(d.Url) !== '') {
    evidence.push(evidenceBase('urlEvidence', evidenceCreated, { roles: ['destination'], url: text(d.Url) }));
  }
  if (text(d.UserName) !== '') {
    const domain = text(d.UserDomain);
    evidence.push(evidenceBase('userEvidence', evidenceCreated, {
      roles: ['compromised'],
      userAccount: {
        accountName: text(d.UserName),
        domainName: orNull(domain),
        userSid: `S-1-5-21-${r.int(1_000_000_000, 2_000_000_000)}-${r.int(1000, 9999)}`,
        azureAdUserId: r.guid(),
        userPrincipalName: `${text(d.UserName)}@${text(d.MachineDomain) || 'contoso.com'}`,
        displayName: text(d.UserName),
      },
    }));
  }

  return {
    '@odata.type': '#microsoft.graph.security.alert',
    id,
    providerAlertId: id,
    incidentId,
    status: 'new',
    severity,
    // As tenants answer a fresh alert (Microsoft's samples say "unknown"): see UNTOUCHED.
    classification: UNTOUCHED.classification,
    determination: UNTOUCHED.determination,
    serviceSource: 'microsoftDefenderForEndpoint',
    // A Source the SIEM API has no counterpart for names Graph's member ("MicrosoftThreatIntelligence").
    detectionSource: DETECTION_SOURCE[text(d.Source)] ?? (text(d.Source) === '' ? 'unknown' : `${text(d.Source)[0].toLowerCase()}${text(d.Source).slice(1)}`),
    productName: 'Microsoft Defender for Endpoint',
    detectorId: orNull(d.IoaDefinitionId),
    tenantId,
    title: text(d.AlertTitle),
    description: text(d.Description),
    recommendedActions: RECOMMENDED,
    // Graph deprecated category for categories (2026-03-18, removed 2028-03-18); until then it sends both.
    category: text(d.Category),
    categories: text(d.Category) === '' ? [] : [text(d.Category)],
    assignedTo: null,
    alertWebUrl: `https://security.microsoft.com/alerts/${id}?tid=${tenantId}`,
    incidentWebUrl: `https://security.microsoft.com/incidents/${incidentId}?tid=${tenantId}`,
    actorDisplayName: orNull(d.Actor),
    threatDisplayName: orNull(d.ThreatName),
    threatFamilyName: orNull(d.ThreatFamily),
    mitreTechniques: [...(MITRE[text(d.Category)] ?? [])],
    createdDateTime: created,
    lastUpdateDateTime: text(d.LastProcessedTimeUtc),
    resolvedDateTime: null,
    firstActivityDateTime: secondsBefore(created, r, 5, 600),
    lastActivityDateTime: secondsBefore(created, r, 0, 4),
    comments: [],
    evidence,
    systemTags: [],
  };
}

/** The value of a filterable property of the alert a detection is shown as, without building the alert. */
function scalar(d: Detection, view: StoredView, property: string, triage: Readonly<AlertTriage>): string | null {
  switch (property) {
    case 'lastUpdateDateTime':
      return view.key;
    case 'createdDateTime':
      return parseDateTime(text(d.AlertTime)) ?? null;
    case 'severity':
      return text(d.Severity).toLowerCase();
    case 'serviceSource':
      return 'microsoftDefenderForEndpoint';
    case 'status':
    case 'classification':
    case 'determination':
    case 'assignedTo':
      return triage[property];
    default:
      return null;
  }
}

function holds(clause: Clause, actual: string | null): boolean {
  const expected = clause.value;
  if (actual === null || expected === null) {
    if (clause.operator === 'eq') return actual === expected;
    if (clause.operator === 'ne') return actual !== expected;
    return false;
  }
  const a = clause.time ? actual : actual.toLowerCase();
  const e = clause.time ? expected : expected.toLowerCase();
  switch (clause.operator) {
    case 'eq': return a === e;
    case 'ne': return a !== e;
    case 'gt': return a > e;
    case 'ge': return a >= e;
    case 'lt': return a < e;
    case 'le': return a <= e;
  }
}

/** Whether an entity whose filterable properties `valueOf` reads meets every condition. */
export function meetsConditions(conditions: readonly Condition[], valueOf: (property: string) => string | null): boolean {
  return conditions.every((c) => ('any' in c ? c.any.some((one) => holds(one, valueOf(one.property))) : holds(c, valueOf(c.property))));
}

/** Whether the alert of `view`, after its `triage` (none: untouched), meets every clause. */
export function matchesClauses(view: StoredView, clauses: readonly Condition[], triage: Readonly<AlertTriage> = UNTOUCHED): boolean {
  return meetsConditions(clauses, (property) => scalar(view.detection, view, property, triage));
}

/** An entry of a listing: its lastUpdateDateTime as a fixed-width key, and what breaks ties (later, newer). */
export interface Listed {
  readonly key: string;
  readonly seq: number;
}

/** Whether `view` comes after the cursor in the listing order. */
export function isAfter(view: Listed, cursor: { k: string; s: number }, order: 'asc' | 'desc'): boolean {
  if (order === 'desc') return view.key < cursor.k || (view.key === cursor.k && view.seq < cursor.s);
  return view.key > cursor.k || (view.key === cursor.k && view.seq > cursor.s);
}

/**
 * One page of a listing as Graph pages it: `matching` newest first, ordered as asked, from the cursor or
 * `$skip` on, at most `largest` (and `$top`) entries; `more` when entries follow it.
 */
export function pageOf<T extends Listed>(matching: readonly T[], request: ListRequest, largest: number): { page: T[]; more: boolean } {
  const order = request.orderBy ?? 'desc';
  const ordered = order === 'asc' ? [...matching].reverse() : matching;
  let start = 0;
  if (request.after) {
    const after = request.after;
    start = ordered.findIndex((v) => isAfter(v, after, order));
    if (start < 0) start = ordered.length;
  }
  start += request.skip;
  const size = Math.min(request.top ?? largest, largest);
  const page = ordered.slice(start, start + size);
  return { page, more: page.length > 0 && start + page.length < ordered.length };
}
