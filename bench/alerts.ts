/** Alerts shaped as Graph's for the alert-memory benches (lifecycle.ts, commits.ts): alert i at version v. */
import { timeKey } from '../src/defender/pulling/time-key';

export const DAY = 24 * 60 * 60 * 1000;
const STATUSES = ['new', 'inProgress', 'resolved'];

export function alert(i: number, version: number, now: number): Record<string, unknown> {
  return {
    id: `da${(638_000_000_000_000_000 + i * 7919).toString()}_${(i * 104_729) % 2_147_483_647}`,
    createdDateTime: new Date(now - (i % 29) * DAY - 3_600_000).toISOString(),
    status: STATUSES[(i + version) % 3],
    severity: ['low', 'medium', 'high'][i % 3],
    classification: version > 0 ? 'truePositive' : null,
    determination: null,
    assignedTo: version > 0 ? 'soc@contoso.com' : null,
    title: `Suspicious PowerShell command line on host ${i % 5000}`,
    evidence: new Array(1 + (i % 4)),
    comments: new Array(version),
  };
}

/** The time key of alert i's version v: spread over the last 28 days, later versions later. */
export function versionTime(i: number, version: number, now: number): string {
  return timeKey(new Date(now - (i % 28) * DAY + version * 1000 + (i % 1000)).toISOString());
}
