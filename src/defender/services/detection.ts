import { ALERT_FACTS, type AlertFacts, siemFacts } from '../pulling/lifecycle';

/**
 * A detection as the SIEM API returns it. Field names and order follow the sample response of
 * Microsoft's "Pull detections using SIEM REST API" page; empty values arrive as "" and some booleans
 * as null, so every field is typed loosely and passed on unchanged.
 */
export const DETECTION_FIELDS = [
  'AlertTime', 'ComputerDnsName', 'AlertTitle', 'Category', 'Severity', 'AlertId', 'Actor', 'LinkToWDATP',
  'IocName', 'IocValue', 'CreatorIocName', 'CreatorIocValue', 'Sha1', 'FileName', 'FilePath', 'IpAddress',
  'Url', 'IoaDefinitionId', 'UserName', 'AlertPart', 'FullId', 'LastProcessedTimeUtc', 'ThreatCategory',
  'ThreatFamily', 'ThreatName', 'RemediationAction', 'RemediationIsSuccess', 'Source', 'Md5', 'Sha256',
  'WasExecutingWhileDetected', 'UserDomain', 'LogOnUsers', 'MachineDomain', 'MachineName',
  'InternalIPv4List', 'InternalIPv6List', 'FileHash', 'DeviceID', 'MachineGroup', 'Description',
  'DeviceCreatedMachineTags', 'CloudCreatedMachineTags', 'CommandLine', 'IncidentLinkToWDATP', 'ReportID',
  'LinkToMTP', 'IncidentLinkToMTP', 'ExternalId', 'IocUniqueId',
] as const;

export type DetectionField = (typeof DETECTION_FIELDS)[number];

export type Detection = { [K in DetectionField]?: string | number | boolean | null } & {
  [extra: string]: unknown;
};

function text(value: unknown): string {
  return typeof value === 'string' || typeof value === 'number' ? String(value) : '';
}

/** The one-line summary used as msg.topic, fit for an e-mail subject. */
export function detectionTopic(d: Detection): string {
  const severity = text(d.Severity) || 'Unknown';
  const title = text(d.AlertTitle) || text(d.Description) || 'Defender detection';
  const machine = text(d.ComputerDnsName) || text(d.MachineName) || text(d.DeviceID);
  return `[${severity}] ${title}${machine ? ` on ${machine}` : ''}`.replace(/[\r\n]+/g, ' ');
}

/**
 * Identity of one version of a detection. FullId names the detection (AlertId alone is shared by the
 * detections the portal merges into one alert); LastProcessedTimeUtc changes when it is updated, so an
 * update is a new key and passes while an overlap repeat is dropped.
 */
export function detectionKey(d: Detection): string {
  const id = text(d.FullId) || text(d.AlertId);
  return `${id}|${text(d.LastProcessedTimeUtc)}`;
}

/**
 * What the pull and the checkpoint need to know about a detection, whatever its shape: its dedupe key, the
 * time it was last processed or updated (the field the query's time range applies to), and its msg.topic.
 */
export interface DetectionAccessor {
  key(d: Detection): string;
  /** The raw time value as the service sent it (an ISO 8601 string with up to 7 fractional digits). */
  time(d: Detection): unknown;
  topic(d: Detection): string;
  /** What the lifecycle reads of it: the alert's id, creation and tracked properties. */
  facts(d: Detection): AlertFacts;
}

/** SIEM-shaped detections: from the SIEM API, and from Graph with `shape: siem`. */
export const SIEM_ACCESSOR: DetectionAccessor = {
  key: detectionKey,
  time: (d) => d.LastProcessedTimeUtc,
  topic: detectionTopic,
  // Graph's alerts in the SIEM shape carry the facts of the alert they were mapped from.
  facts: (d) => (d as { [ALERT_FACTS]?: AlertFacts })[ALERT_FACTS] ?? siemFacts(d),
};
