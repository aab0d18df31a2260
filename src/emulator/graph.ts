import { createHash } from 'node:crypto';
import type { Detection } from '../defender/detection';
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

/** The properties alerts_v2 documents as filterable. */
const FILTERABLE = ['assignedTo', 'classification', 'determination', 'createdDateTime', 'lastUpdateDateTime', 'severity', 'serviceSource', 'status'] as const;
type Filterable = (typeof FILTERABLE)[number];
const TIME_PROPERTIES: readonly Filterable[] = ['createdDateTime', 'lastUpdateDateTime'];
const BY_LOWER = new Map<string, Filterable>(FILTERABLE.map((p) => [p.toLowerCase(), p]));

type Operator = 'eq' | 'ne' | 'gt' | 'ge' | 'lt' | 'le';
const OPERATORS: readonly Operator[] = ['eq', 'ne', 'gt', 'ge', 'lt', 'le'];

interface Clause {
  property: Filterable;
  operator: Operator;
  /** Fixed-width instant for time properties, the string (or null) otherwise. */
  value: string | null;
}

/** What one GET of alerts_v2 asks for, validated. */
export interface AlertsV2Request {
  clauses: Clause[];
  /** Bounds of lastUpdateDateTime the clauses imply, inclusive, for the store's window scan. */
  since: string;
  until: string;
  /** undefined: no $orderby given (Graph lists the most recent first). */
  orderBy?: 'asc' | 'desc';
  top?: number;
  skip: number;
  count: boolean;
  /** Where the previous page ended ($skiptoken of a nextLink). */
  after?: { k: string; s: number };
  /** The query string minus $skip and $skiptoken, for the nextLink. */
  carried: Array<[string, string]>;
}

const FAR_FUTURE = '9999-12-31T23:59:59.9999999Z';

function bad(parameter: string, message: string): QueryError {
  return new QueryError(parameter, message);
}

/** Splits a $filter into tokens: 'string' literals ('' escapes a quote), words, and date-time or number literals. */
function tokenize(filter: string): string[] {
  const tokens: string[] = [];
  const re = /\s*(?:('(?:[^']|'')*')|([A-Za-z_][\w/.]*)|([0-9][0-9A-Za-z:.+\-]*)|(\S))/y;
  let m: RegExpExecArray | null;
  while (re.lastIndex < filter.length && (m = re.exec(filter)) !== null) {
    if (m[4] !== undefined) {
      throw bad('$filter', `Invalid filter clause: the character '${m[4]}' is not supported here. This service accepts clauses such as "lastUpdateDateTime ge 2024-01-15T10:00:00Z" joined with "and".`);
    }
    tokens.push(m[1] ?? m[2] ?? m[3]);
    if (/^\s*$/.test(filter.slice(re.lastIndex))) break;
  }
  return tokens;
}

function parseFilter(filter: string): Clause[] {
  const tokens = tokenize(filter);
  const clauses: Clause[] = [];
  for (let i = 0; i < tokens.length; ) {
    const [name, op, literal] = tokens.slice(i, i + 3);
    const property = BY_LOWER.get((name ?? '').toLowerCase());
    if (!property) {
      throw bad('$filter', `Invalid filter clause: could not find a property named '${name ?? ''}' that supports filtering. The following properties support $filter: ${FILTERABLE.join(', ')}.`);
    }
    const operator = (op ?? '').toLowerCase() as Operator;
    if (!OPERATORS.includes(operator) || literal === undefined) {
      throw bad('$filter', `Invalid filter clause: expected "${property} <eq|ne|gt|ge|lt|le> <value>", got "${tokens.slice(i, i + 3).join(' ')}".`);
    }
    let value: string | null;
    if (TIME_PROPERTIES.includes(property)) {
      const instant = parseDateTime(literal.replace(/^'(.*)'$/, '$1'));
      if (instant === undefined) throw bad('$filter', `Invalid filter clause: '${literal}' is not a valid DateTimeOffset for ${property}; use e.g. 2024-01-15T10:00:00Z.`);
      value = instant;
    } else {
      if (operator !== 'eq' && operator !== 'ne') throw bad('$filter', `Invalid filter clause: ${property} supports only eq and ne, got ${operator}.`);
      if (literal.toLowerCase() === 'null') value = null;
      else if (/^'.*'$/.test(literal)) value = literal.slice(1, -1).replace(/''/g, "'");
      else throw bad('$filter', `Invalid filter clause: ${property} must be compared with a quoted string such as '${property === 'serviceSource' ? 'microsoftDefenderForEndpoint' : 'high'}', got ${literal}.`);
    }
    clauses.push({ property, operator, value });
    i += 3;
    if (i < tokens.length) {
      if (tokens[i].toLowerCase() !== 'and') {
        throw bad('$filter', `Invalid filter clause: expected "and" between clauses, got "${tokens[i]}". This service does not support "or", "not" or parentheses.`);
      }
      i++;
      if (i >= tokens.length) throw bad('$filter', 'Invalid filter clause: the filter ends with "and".');
    }
  }
  return clauses;
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

export function encodeCursor(view: StoredView): string {
  return Buffer.from(JSON.stringify({ k: view.key, s: view.seq })).toString('base64url');
}

function nonNegative(name: string, text: string): number {
  if (!/^\s*\d+\s*$/.test(text)) throw bad(name, `The value '${text}' of ${name} is not a non-negative integer.`);
  return Number(text);
}

/**
 * Reads the OData options of a GET alerts_v2 (case-insensitive names, as Graph reads them). `orderBy`
 * chooses whether `$orderby` is served or refused the way an OData service that does not allow it answers.
 */
export function parseAlertsV2Query(params: URLSearchParams, orderBy: 'supported' | 'refused'): AlertsV2Request {
  const request: AlertsV2Request = { clauses: [], since: MIN_INSTANT, until: FAR_FUTURE, skip: 0, count: false, carried: [] };
  for (const [rawName, value] of params) {
    const name = rawName.toLowerCase();
    if (name !== '$skip' && name !== '$skiptoken') request.carried.push([rawName, value]);
    switch (name) {
      case '$filter':
        request.clauses.push(...parseFilter(value));
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
        // $select, $expand and the like are not emulated; unknown options are ignored.
        break;
    }
  }
  for (const c of request.clauses) {
    if (c.property !== 'lastUpdateDateTime' || c.value === null) continue;
    if ((c.operator === 'ge' || c.operator === 'gt' || c.operator === 'eq') && c.value > request.since) request.since = c.value;
    if ((c.operator === 'le' || c.operator === 'lt' || c.operator === 'eq') && c.value < request.until) request.until = c.value;
  }
  return request;
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
interface EvolvableEnum {
  members: readonly string[];
  added: readonly string[];
}

export const UNKNOWN_FUTURE_VALUE = 'unknownFutureValue';

const ALERT_SEVERITY: EvolvableEnum = { members: ['unknown', 'informational', 'low', 'medium', 'high'], added: [] };

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

function shownMember(evolvable: EvolvableEnum, value: unknown, includeUnknown: boolean): unknown {
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
function scalar(d: Detection, view: StoredView, property: Filterable, triage: Readonly<AlertTriage>): string | null {
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
  }
}

function holds(clause: Clause, actual: string | null): boolean {
  const expected = clause.value;
  if (actual === null || expected === null) {
    if (clause.operator === 'eq') return actual === expected;
    if (clause.operator === 'ne') return actual !== expected;
    return false;
  }
  const a = TIME_PROPERTIES.includes(clause.property) ? actual : actual.toLowerCase();
  const e = TIME_PROPERTIES.includes(clause.property) ? expected : expected.toLowerCase();
  switch (clause.operator) {
    case 'eq': return a === e;
    case 'ne': return a !== e;
    case 'gt': return a > e;
    case 'ge': return a >= e;
    case 'lt': return a < e;
    case 'le': return a <= e;
  }
}

/** Whether the alert of `view`, after its `triage` (none: untouched), meets every clause. */
export function matchesClauses(view: StoredView, clauses: readonly Clause[], triage: Readonly<AlertTriage> = UNTOUCHED): boolean {
  return clauses.every((c) => holds(c, scalar(view.detection, view, c.property, triage)));
}

/** Whether `view` comes after the cursor in the listing order. */
export function isAfter(view: StoredView, cursor: { k: string; s: number }, order: 'asc' | 'desc'): boolean {
  if (order === 'desc') return view.key < cursor.k || (view.key === cursor.k && view.seq < cursor.s);
  return view.key > cursor.k || (view.key === cursor.k && view.seq > cursor.s);
}
