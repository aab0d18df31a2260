import { DETECTION_FIELDS, type Detection, type DetectionAccessor, type DetectionField } from './detection';
import { graphFacts } from '../pulling/lifecycle';

/**
 * Microsoft Graph security `alerts_v2` objects and their translation into the SIEM API's detection shape,
 * following Microsoft's table "Migrate from the MDE SIEM API to the Microsoft Defender XDR alerts API"
 * (configure-siem), with the departures noted where they are made.
 */

/** One alerts_v2 alert as Graph sends it. Every property is read defensively: Graph adds new ones over time. */
export type GraphAlert = Detection & {
  id?: string;
  title?: string;
  severity?: string;
  /** Deprecated by Graph (2026-03-18, removed 2028-03-18) for `categories`. */
  category?: string;
  categories?: unknown;
  createdDateTime?: string;
  lastUpdateDateTime?: string;
  evidence?: unknown;
};

type Json = Record<string, unknown>;

const EVIDENCE = '#microsoft.graph.security.';

function text(value: unknown): string {
  return typeof value === 'string' || typeof value === 'number' ? String(value) : '';
}

function isObject(value: unknown): value is Json {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

function strings(value: unknown): string[] {
  return Array.isArray(value) ? value.map(text).filter((s) => s !== '') : [];
}

/** The evidence items of an alert, by type name (deviceEvidence, fileEvidence…), in the order Graph sent them. */
export function evidenceOf(alert: Json, type: string): Json[] {
  const list = Array.isArray(alert.evidence) ? alert.evidence : [];
  const wanted = `${EVIDENCE}${type}`.toLowerCase();
  return list.filter((e): e is Json => isObject(e) && text(e['@odata.type']).toLowerCase() === wanted);
}

/**
 * An enum value as Graph sent it, or '' for `unknownFutureValue`: the placeholder Graph sends for a member
 * the client cannot be told (a member newer than Graph v1.0, or, without the Prefer header, one added after
 * the placeholder). It is no value, and never text a switch could route on.
 */
function member(value: unknown): string {
  const s = text(value);
  return s.toLowerCase() === 'unknownfuturevalue' ? '' : s;
}

/** Graph's lower-camel enum values as the SIEM API spells them: "high" → "High"; the placeholder is ''. */
function capitalised(value: unknown): string {
  const s = member(value);
  return s ? s[0].toUpperCase() + s.slice(1) : '';
}

/**
 * The SIEM API's one Category. Graph deprecated `category` for the array `categories`; the array wins when it
 * holds a value, since it is what Graph keeps, its values joined with "," as this mapping's other lists are.
 */
function category(alert: GraphAlert): string {
  const categories = strings(alert.categories);
  return categories.length > 0 ? categories.join(',') : text(alert.category);
}

/**
 * Graph's detectionSource for the SIEM API's Source. The SIEM API named the EDR sensor "EDR" (the seed's
 * sample); the others keep their names. Values without a SIEM counterpart are capitalised.
 */
export const SOURCE_BY_DETECTION_SOURCE: Readonly<Record<string, string>> = {
  microsoftDefenderForEndpoint: 'EDR',
  antivirus: 'Antivirus',
  smartScreen: 'SmartScreen',
  customTi: 'CustomTI',
  automatedInvestigation: 'AutomatedInvestigation',
  microsoftThreatExperts: 'ThreatExperts',
  customDetection: 'CustomDetection',
};

/**
 * Evidence remediation status → RemediationIsSuccess ("implied", says Microsoft's table). Of the members Graph
 * added later, a remediation that ended short of success is false (unremediated, partiallyRemediated,
 * declined); one with no outcome yet is null (active, pendingApproval, running), as no remediation is.
 */
function remediationSucceeded(status: string): boolean | null {
  if (status === 'remediated' || status === 'prevented' || status === 'blocked') return true;
  if (status === 'notFound' || status === 'unremediated' || status === 'partiallyRemediated' || status === 'declined') return false;
  return null;
}

/**
 * processEvidence.detectionStatus → WasExecutingWhileDetected: "detected" (a product of the threat that
 * executed was detected) and "blocked" (remediated at run time) mean it ran; "prevented" means it never did.
 */
function wasExecuting(status: string): boolean | null {
  if (status === 'detected' || status === 'blocked') return true;
  if (status === 'prevented') return false;
  return null;
}

/** Graph's device name is the FQDN; the SIEM API also gave its first label and the rest apart. */
function splitDnsName(dnsName: string): { machine: string; domain: string } {
  const dot = dnsName.indexOf('.');
  return dot < 0 ? { machine: dnsName, domain: '' } : { machine: dnsName.slice(0, dot), domain: dnsName.slice(dot + 1) };
}

/**
 * An alerts_v2 alert as a SIEM API detection: the 50 fields of the seed's sample, in its order, "" where
 * Graph has no counterpart (IoC fields, AlertPart, ReportID, ExternalId, IocUniqueId).
 *
 * Identity and time: FullId and AlertId ← id, and LastProcessedTimeUtc ← lastUpdateDateTime, which is what
 * the query's time range filters on and what changes when an alert is updated, so the dedupe key
 * `FullId|LastProcessedTimeUtc` and the checkpoint work as they do for the SIEM API. (Microsoft's table maps
 * LastProcessedTimeUtc to lastActivityDateTime, which neither the filter uses nor an update moves.)
 */
export function toSiemDetection(alert: GraphAlert): Detection {
  const device = evidenceOf(alert, 'deviceEvidence')[0] ?? {};
  const file = evidenceOf(alert, 'fileEvidence')[0];
  const proc = evidenceOf(alert, 'processEvidence')[0];
  const ip = evidenceOf(alert, 'ipEvidence')[0];
  const url = evidenceOf(alert, 'urlEvidence')[0];
  const user = evidenceOf(alert, 'userEvidence')[0];

  // Microsoft's table: file evidence, or else the image file of the process evidence.
  const fileDetails = (isObject(file?.fileDetails) ? file?.fileDetails : isObject(proc?.imageFile) ? proc?.imageFile : undefined) as Json | undefined;
  const artifact = file ?? proc;
  const remediation = member(artifact?.remediationStatus);
  const detectionStatus = member(proc?.detectionStatus) || member(file?.detectionStatus);
  const account = (isObject(user?.userAccount) ? user?.userAccount : {}) as Json;
  const dnsName = text(device.deviceDnsName);
  const { machine, domain } = splitDnsName(dnsName);
  const interfaces = strings(device.ipInterfaces);
  const tags = strings(device.tags).join(',');
  const loggedOn = (Array.isArray(device.loggedOnUsers) ? device.loggedOnUsers : [])
    .filter(isObject)
    .map((u) => (text(u.domainName) ? `${text(u.domainName)}\\${text(u.accountName)}` : text(u.accountName)))
    .filter((u) => u !== '');
  const sha1 = text(fileDetails?.sha1);
  const sha256 = text(fileDetails?.sha256);
  const detectionSource = member(alert.detectionSource);

  const mapped: Partial<Record<DetectionField, string | number | boolean | null>> = {
    AlertTime: text(alert.createdDateTime),
    ComputerDnsName: dnsName,
    AlertTitle: text(alert.title),
    Category: category(alert),
    Severity: capitalised(alert.severity),
    AlertId: text(alert.id),
    Actor: text(alert.actorDisplayName),
    LinkToWDATP: text(alert.alertWebUrl),
    Sha1: sha1,
    FileName: text(fileDetails?.fileName),
    FilePath: text(fileDetails?.filePath),
    IpAddress: text(ip?.ipAddress),
    Url: text(url?.url),
    IoaDefinitionId: text(alert.detectorId),
    UserName: text(account.accountName),
    FullId: text(alert.id),
    LastProcessedTimeUtc: text(alert.lastUpdateDateTime),
    // Microsoft's table maps ThreatCategory to mitreTechniques: technique ids, not the SIEM API's categories.
    ThreatCategory: strings(alert.mitreTechniques).join(','),
    ThreatFamily: text(alert.threatFamilyName),
    ThreatName: text(alert.threatDisplayName),
    RemediationAction: remediation === 'none' ? '' : remediation,
    RemediationIsSuccess: remediationSucceeded(remediation),
    Source: SOURCE_BY_DETECTION_SOURCE[detectionSource] ?? capitalised(detectionSource),
    // Not in Microsoft's table, but fileDetails carries md5 when Defender has it.
    Md5: text(fileDetails?.md5),
    Sha256: sha256,
    WasExecutingWhileDetected: wasExecuting(detectionStatus),
    UserDomain: text(account.domainName),
    LogOnUsers: loggedOn.join(';'),
    MachineDomain: domain,
    MachineName: machine,
    // Microsoft's table says "not supported"; the device evidence's ipInterfaces carry the same addresses.
    InternalIPv4List: interfaces.filter((a) => !a.includes(':')).join(';'),
    InternalIPv6List: interfaces.filter((a) => a.includes(':')).join(';'),
    FileHash: sha1 || sha256,
    DeviceID: text(device.mdeDeviceId),
    MachineGroup: text(device.rbacGroupName),
    Description: text(alert.description),
    // Graph keeps one tag list per device; it does not say which tags came from the registry and which
    // from the portal, so both fields carry all of them.
    DeviceCreatedMachineTags: tags,
    CloudCreatedMachineTags: tags,
    CommandLine: text(proc?.processCommandLine),
    IncidentLinkToWDATP: text(alert.incidentWebUrl),
    LinkToMTP: text(alert.alertWebUrl),
    IncidentLinkToMTP: text(alert.incidentWebUrl),
  };
  const detection: Detection = {};
  for (const field of DETECTION_FIELDS) detection[field] = mapped[field] === undefined ? '' : mapped[field];
  return detection;
}

/** Dedupe key of a native alert: alerts are updatable, so the same id with a new lastUpdateDateTime passes. */
export function graphAlertKey(alert: GraphAlert): string {
  return `${text(alert.id)}|${text(alert.lastUpdateDateTime)}`;
}

/** msg.topic of a native alert, like the SIEM one: `[High] title on device`. */
export function graphAlertTopic(alert: GraphAlert): string {
  const severity = capitalised(alert.severity) || 'Unknown';
  const title = text(alert.title) || text(alert.description) || 'Defender alert';
  const device = evidenceOf(alert, 'deviceEvidence')[0];
  const machine = text(device?.deviceDnsName) || text(device?.mdeDeviceId);
  return `[${severity}] ${title}${machine ? ` on ${machine}` : ''}`.replace(/[\r\n]+/g, ' ');
}

/** For `shape: native`: identity and time come from alerts_v2's own fields. */
export const GRAPH_NATIVE_ACCESSOR: DetectionAccessor = {
  key: graphAlertKey,
  time: (d) => (d as GraphAlert).lastUpdateDateTime,
  topic: graphAlertTopic,
  facts: (d) => graphFacts(d),
};

/**
 * Whether an alert is on a device of one of the groups, or carries the tag. Graph's $filter cannot reach
 * into the evidence, so the SIEM API's machinegroups and tag parameters are applied here, to the alert's
 * device evidence (rbacGroupName, tags), case-insensitively like the SIEM API.
 */
export interface DeviceFilter {
  machinegroups?: readonly string[];
  tags?: readonly string[];
}

export function matchesDeviceFilter(alert: GraphAlert, filter: DeviceFilter): boolean {
  const groups = filter.machinegroups?.map((g) => g.toLowerCase());
  const tags = filter.tags?.map((t) => t.toLowerCase());
  if ((!groups || groups.length === 0) && (!tags || tags.length === 0)) return true;
  const devices = evidenceOf(alert, 'deviceEvidence');
  if (groups && groups.length > 0 && !devices.some((d) => groups.includes(text(d.rbacGroupName).toLowerCase()))) return false;
  if (tags && tags.length > 0) {
    const deviceTags = new Set(devices.flatMap((d) => strings(d.tags).map((t) => t.toLowerCase())));
    if (!tags.every((t) => deviceTags.has(t))) return false;
  }
  return true;
}
