#!/usr/bin/env node
import { Emulator } from './server';

/**
 * `npm run emulator`: a Defender SIEM API stand-in on loopback for building flows before there is a
 * tenant. PORT chooses the port (default 8080). Two switches make it behave as large tenants do:
 * GRAPH_NEXT_LINK=false answers Graph lists without @odata.nextLink ($top at most 1000, $skip at most 500),
 * GRAPH_EXPAND_FAILS_ABOVE=N answers 500 to an incident list with $expand=alerts when an incident has more
 * than N alerts.
 */

const DEMO_TENANT = '00000000-0000-4000-8000-000000000000';
const STREAM_EVERY_MS = 20_000;
const INITIAL_DETECTIONS = 25;

function port(): number {
  const raw = process.env.PORT ?? '8080';
  const value = Number(raw);
  if (!/^\d+$/.test(raw) || value > 65535) {
    throw new RangeError(`PORT must be a port number from 0 to 65535, got ${JSON.stringify(raw)}`);
  }
  return value;
}

/** GRAPH_NEXT_LINK: true (default) or false. */
function graphNextLink(): boolean {
  const raw = (process.env.GRAPH_NEXT_LINK ?? 'true').trim().toLowerCase();
  if (raw !== 'true' && raw !== 'false') throw new RangeError(`GRAPH_NEXT_LINK must be true or false, got ${JSON.stringify(process.env.GRAPH_NEXT_LINK)}`);
  return raw === 'true';
}

/** GRAPH_EXPAND_FAILS_ABOVE: a number of alerts, or unset (never fails). */
function graphExpandFailsAbove(): number {
  const raw = process.env.GRAPH_EXPAND_FAILS_ABOVE;
  if (raw === undefined || raw.trim() === '') return Infinity;
  if (!/^\d+$/.test(raw.trim())) throw new RangeError(`GRAPH_EXPAND_FAILS_ABOVE must be a number of alerts (0 or more), got ${JSON.stringify(raw)}`);
  return Number(raw);
}

async function main(): Promise<void> {
  const emulator = new Emulator({ initialDetections: INITIAL_DETECTIONS, graphNextLink: graphNextLink(), graphExpandFailsAbove: graphExpandFailsAbove() });
  const clientId = 'emulator-client-id';
  const clientSecret = 'emulator-client-secret';
  const url = await emulator.listen(port(), '127.0.0.1');
  emulator.startStream({ everyMs: STREAM_EVERY_MS, lateMs: 60_000, updateRatio: 0.1 });

  const lines = [
    'Microsoft Defender for Endpoint SIEM API emulator',
    '',
    `  Base URL (use as the custom region / API base):  ${url}`,
    `  Login URL (token endpoint is {login}/{tenant}/oauth2/token):  ${url}`,
    `  Tenant ID:      ${DEMO_TENANT}  (any GUID works)`,
    `  Client ID:      ${clientId}`,
    `  Client secret:  ${clientSecret}`,
    '',
    '  Microsoft Graph (defender-config api "graph", custom region, the same two URLs):',
    `    token   POST ${url}/{tenant}/oauth2/v2.0/token   scope=https://graph.microsoft.com/.default`,
    `    alerts  GET  ${url}/v1.0/security/alerts_v2      the same detections as alerts_v2 alerts`,
    `    update  PATCH ${url}/v1.0/security/alerts_v2/{id}   status, classification, determination, assignedTo`,
    `    comment POST ${url}/v1.0/security/alerts_v2/{id}/comments`,
    `    incidents GET ${url}/v1.0/security/incidents      the alerts grouped into incidents ($expand=alerts)`,
    `    update  PATCH ${url}/v1.0/security/incidents/{id}   status, classification, determination, assignedTo, customTags`,
    `    comment POST ${url}/v1.0/security/incidents/{id}/comments`,
    '',
    '  Other sign-in modes (defender-config "auth"):',
    `    certificate        POST ${url}/emulator/certificates     {"certificates":["-----BEGIN CERTIFICATE-----…"]}`,
    `    workload-identity  POST ${url}/emulator/federated-tokens {"tokens":["<the content of AZURE_FEDERATED_TOKEN_FILE>"]}`,
    `    managed-identity   AZURE_POD_IDENTITY_AUTHORITY_HOST=${url}  (instance metadata service), or`,
    `                       IDENTITY_ENDPOINT=${url}/msi/token IDENTITY_HEADER=emulator-identity-header  (App Service)`,
    '',
    `  ${INITIAL_DETECTIONS} detections from the last 2 hours; a new one about every ${STREAM_EVERY_MS / 1000} s.`,
    `  Graph lists ${graphNextLink() ? 'with' : 'without'} @odata.nextLink (GRAPH_NEXT_LINK=false: none, as large tenants see);`,
    `  GRAPH_EXPAND_FAILS_ABOVE=N: incidents with $expand=alerts answer 500 above N alerts.`,
    '',
    '  Admin endpoints (loopback, no auth):',
    `    POST   ${url}/emulator/faults        {"kind":"http429","retryAfter":"5","times":1}`,
    `           kinds: http204 http401 http403 http404 http410 http429 http500 http503 delay truncated html redirect reset echo;`,
    `           "on":"token" to hit the token endpoints, "after":N, "times":N or "Infinity", "delayMs":N;`,
    `           echo quotes the request back, with any "status":N; http404 and http410 are the managed`,
    `           identity endpoint still starting ("on":"token"); http204 answers a change without its body`,
    `    GET    ${url}/emulator/faults`,
    `    DELETE ${url}/emulator/faults`,
    `    POST   ${url}/emulator/detections    {"count":10}`,
    `    GET    ${url}/emulator/stats`,
    `    POST   ${url}/emulator/revoke-tokens`,
    `    GET    ${url}/emulator/permissions`,
    `    PUT    ${url}/emulator/permissions   {"graph":["SecurityAlert.Read.All"]} (the app's Graph permissions; new tokens carry them)`,
    `    GET    ${url}/emulator/incidents`,
    `    POST   ${url}/emulator/incidents/{id}        {"assignedTo":"soc@contoso.com","status":"inProgress"} (an analyst's edit)`,
    `    POST   ${url}/emulator/incidents/{id}/merge  {"into":"1002"} (Defender merges two incidents)`,
    `    POST   ${url}/emulator/reset`,
    '',
    '  Ctrl+C stops it.',
  ];
  process.stdout.write(`${lines.join('\n')}\n`);

  let stopping = false;
  const stop = (signal: NodeJS.Signals): void => {
    if (stopping) return;
    stopping = true;
    process.stdout.write(`\n${signal}: stopping the emulator\n`);
    emulator.close().then(
      () => process.exit(0),
      (err: unknown) => {
        process.stderr.write(`failed to stop cleanly: ${String(err)}\n`);
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}

main().catch((err: unknown) => {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  const message = code === 'EADDRINUSE'
    ? `port ${process.env.PORT ?? '8080'} is in use; set PORT to another port`
    : err instanceof Error ? err.message : String(err);
  process.stderr.write(`emulator: ${message}\n`);
  process.exit(1);
});
