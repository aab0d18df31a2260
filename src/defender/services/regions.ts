import { invalidConfig } from '../errors';
import { fieldName, message } from '../messages';

export const REGIONS = ['eu', 'us', 'uk', 'us-gcc', 'us-gcc-high', 'us-dod', 'custom'] as const;
export type Region = (typeof REGIONS)[number];

/** The regions each API knows. The SIEM API has one host for GCC High and DoD, so `us-dod` is Graph's only. */
const SIEM_REGIONS: readonly Region[] = ['eu', 'us', 'uk', 'us-gcc', 'us-gcc-high', 'custom'];

export const APIS = ['siem', 'graph'] as const;
/** `siem`: the SIEM API of the seed (GET /api/alerts). `graph`: Microsoft Graph security alerts_v2. */
export type Api = (typeof APIS)[number];

/** Where one tenant's detections and tokens live. */
export interface Endpoints {
  /** Base URL of the detections API (for `graph`: the Microsoft Graph service root), without a trailing slash. */
  apiBaseUrl: string;
  /**
   * Base URL of the token authority; the token URL is `{authorityUrl}/{tenantId}/oauth2/token`, or
   * `{authorityUrl}/{tenantId}/oauth2/v2.0/token` for `graph`.
   */
  authorityUrl: string;
}

const PUBLIC_LOGIN = 'https://login.microsoftonline.com';
const US_GOV_LOGIN = 'https://login.microsoftonline.us';

// The seed documents eu, us and uk; the government hosts come from Microsoft's 2021 government page.
// Sources disagree on those, which is why `custom` can override both URLs.
const KNOWN: Record<Exclude<Region, 'custom' | 'us-dod'>, Endpoints> = {
  eu: { apiBaseUrl: 'https://wdatp-alertexporter-eu.windows.com', authorityUrl: PUBLIC_LOGIN },
  us: { apiBaseUrl: 'https://wdatp-alertexporter-us.windows.com', authorityUrl: PUBLIC_LOGIN },
  uk: { apiBaseUrl: 'https://wdatp-alertexporter-uk.windows.com', authorityUrl: PUBLIC_LOGIN },
  'us-gcc': { apiBaseUrl: 'https://wdatp-alertexporter-us.gcc.securitycenter.windows.us', authorityUrl: PUBLIC_LOGIN },
  'us-gcc-high': {
    apiBaseUrl: 'https://wdatp-alertexporter-us.securitycenter.windows.us',
    authorityUrl: US_GOV_LOGIN,
  },
};

const COMMERCIAL_GRAPH = 'https://graph.microsoft.com';

// Microsoft Graph's national cloud page: a Microsoft 365 GCC tenant keeps using the worldwide Graph and
// login endpoints; GCC High uses graph.microsoft.us and DoD dod-graph.microsoft.us, both with the US
// Government login. (Some third-party pages put GCC on graph.microsoft.us; Microsoft's own page does not.)
const GRAPH: Record<Exclude<Region, 'custom'>, Endpoints> = {
  eu: { apiBaseUrl: COMMERCIAL_GRAPH, authorityUrl: PUBLIC_LOGIN },
  us: { apiBaseUrl: COMMERCIAL_GRAPH, authorityUrl: PUBLIC_LOGIN },
  uk: { apiBaseUrl: COMMERCIAL_GRAPH, authorityUrl: PUBLIC_LOGIN },
  'us-gcc': { apiBaseUrl: COMMERCIAL_GRAPH, authorityUrl: PUBLIC_LOGIN },
  'us-gcc-high': { apiBaseUrl: 'https://graph.microsoft.us', authorityUrl: US_GOV_LOGIN },
  'us-dod': { apiBaseUrl: 'https://dod-graph.microsoft.us', authorityUrl: US_GOV_LOGIN },
};

export const DEFAULT_RESOURCE = 'https://graph.windows.net';

/** Settings of a defender-config node, as the editor stores them. */
export interface ConnectionSettings {
  tenantId: string;
  clientId: string;
  region: string;
  api?: string;
  apiBaseUrl?: string;
  authorityUrl?: string;
  resource?: string;
  /** Not in the editor: Graph requests per minute this config node allows itself (default 140). */
  graphRequestsPerMinute?: number | string;
  /** Not in the editor: how many Graph requests may go at once before the rate applies (default 10). */
  graphBurst?: number | string;
}

/** Validated settings: everything a token request and an API call need, except the secret. */
export interface Connection {
  tenantId: string;
  clientId: string;
  region: Region;
  api: Api;
  /**
   * `siem`: the token's resource. `graph`: the Graph service root the token is for; the token request asks
   * for the scope `{resource}/.default`.
   */
  resource: string;
  endpoints: Endpoints;
}

const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const DNS_NAME = /^(?=.{1,253}$)[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)+$/i;

/**
 * The tenant id becomes part of the token URL's path, so anything that could change which URL is asked
 * (a slash, a query, an encoded character, a dot-dot) is refused before a request is made.
 */
export function validateTenantId(tenantId: string): string {
  const value = tenantId.trim();
  if (value === '') throw invalidConfig(message('config.tenant-missing'));
  if (/[/?#%@\\\s]/.test(value) || value.includes('..') || !(GUID.test(value) || DNS_NAME.test(value))) {
    throw invalidConfig(message('config.tenant-invalid', { value }));
  }
  return value;
}

/** An app's or identity's client id goes into a form or a query string: nothing there may look like a URL's part. */
export function validateClientId(name: string, raw: string | undefined): string {
  const value = (raw ?? '').trim();
  if (/[/?#%@\\\s]/.test(value)) throw invalidConfig(message('config.client-invalid', { name: fieldName(name), value }));
  return value;
}

function isLoopbackHost(hostname: string): boolean {
  const host = hostname.replace(/^\[|\]$/g, '').toLowerCase();
  return host === 'localhost' || host === '::1' || /^127(?:\.\d{1,3}){3}$/.test(host);
}

/** https everywhere, plain http only to this machine (the local emulator). */
export function validateBaseUrl(name: string, raw: string | undefined): string {
  const value = (raw ?? '').trim();
  if (value === '') throw invalidConfig(message('config.url-missing', { name: fieldName(name) }));
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw invalidConfig(message('config.url-not-absolute', { name: fieldName(name), value }));
  }
  if (url.username || url.password) throw invalidConfig(message('config.url-credentials', { name: fieldName(name) }));
  if (url.search || url.hash) throw invalidConfig(message('config.url-query', { name: fieldName(name), value }));
  if (url.protocol === 'http:' && !isLoopbackHost(url.hostname)) {
    throw invalidConfig(message('config.url-not-https', { name: fieldName(name), value }));
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') {
    throw invalidConfig(message('config.url-not-http', { name: fieldName(name), value }));
  }
  return url.toString().replace(/\/+$/, '');
}

/**
 * The connection of a config node's settings. A client-credentials token (`asClient`, every mode but a managed
 * identity) needs the tenant, the app and, for the custom region, the authority; a managed identity asks its
 * own endpoint and needs none of them, which are then checked only when given.
 */
export function resolveConnection(settings: ConnectionSettings, asClient = true): Connection {
  const given = (value: string | undefined): boolean => (value ?? '').trim() !== '';
  const tenantId = asClient || given(settings.tenantId) ? validateTenantId(settings.tenantId ?? '') : '';
  const clientId = validateClientId('clientId', settings.clientId);
  if (clientId === '' && asClient) throw invalidConfig(message('config.client-missing'));
  // A flow saved before the property existed has no api: it meant the SIEM API.
  const api = (settings.api || 'siem') as Api;
  if (!APIS.includes(api)) throw invalidConfig(message('config.bad-api', { value: String(settings.api) }));
  const region = (settings.region || 'eu') as Region;
  if (api === 'siem' && region === 'us-dod') {
    throw invalidConfig(message('config.dod-siem'));
  }
  const known = api === 'graph' ? REGIONS : SIEM_REGIONS;
  if (!known.includes(region)) {
    throw invalidConfig(message('config.bad-region', { known: known.join(', '), value: String(settings.region) }));
  }
  const endpoints: Endpoints =
    region === 'custom'
      ? {
          apiBaseUrl: validateBaseUrl('apiBaseUrl', settings.apiBaseUrl),
          authorityUrl: asClient || given(settings.authorityUrl) ? validateBaseUrl('authorityUrl', settings.authorityUrl) : '',
        }
      : api === 'graph'
        ? GRAPH[region]
        : KNOWN[region as Exclude<Region, 'custom' | 'us-dod'>];
  // Graph's scope is always its own service root: a resource left in from the SIEM API must not carry over.
  const ownResource = (settings.resource ?? '').trim();
  if (api === 'siem' && /\s/.test(ownResource)) throw invalidConfig(message('config.resource-invalid', { value: ownResource }));
  const resource = api === 'graph' ? endpoints.apiBaseUrl : ownResource || DEFAULT_RESOURCE;
  return { tenantId, clientId, region, api, resource, endpoints };
}

/** The token endpoints: Azure AD v1, asked for a `resource`, and the Microsoft identity platform's v2.0, for a `scope`. */
export type TokenEndpoint = 'v1' | 'v2';

/**
 * Where a connection's client credentials go unless the sign-in says otherwise: v2.0 for Graph, v1 for the
 * SIEM API as the seed documents it (assertion sign-in asks v2.0 for both: see postClientAssertion).
 */
export function tokenEndpointOf(connection: Connection): TokenEndpoint {
  return connection.api === 'graph' ? 'v2' : 'v1';
}

export function tokenUrl(connection: Connection, endpoint: TokenEndpoint = tokenEndpointOf(connection)): string {
  const path = endpoint === 'v2' ? 'oauth2/v2.0/token' : 'oauth2/token';
  return `${connection.endpoints.authorityUrl}/${encodeURIComponent(connection.tenantId)}/${path}`;
}

/**
 * The OAuth 2.0 scope of a v2.0 token for the connection's resource (Graph's service root, or the SIEM API's
 * resource): the resource with `/.default`, the app's granted permissions, as MSAL forms it.
 */
export function tokenScope(connection: Connection): string {
  return `${connection.resource}/.default`;
}

export function alertsUrl(connection: Connection): string {
  return connection.api === 'graph'
    ? `${connection.endpoints.apiBaseUrl}/v1.0/security/alerts_v2`
    : `${connection.endpoints.apiBaseUrl}/api/alerts`;
}

/**
 * The same tenant, app and cloud as `connection`, speaking Microsoft Graph: what the update node uses,
 * whatever API the config node reads detections from. A known region maps to its cloud's Graph root and
 * login (section 6); with `custom` the configured URLs serve both APIs (the emulator does), so the API base
 * URL is taken as the Graph root and the authority stays as it is.
 */
export function graphConnection(connection: Connection): Connection {
  if (connection.api === 'graph') return connection;
  const endpoints = connection.region === 'custom' ? connection.endpoints : GRAPH[connection.region];
  return { ...connection, api: 'graph', resource: endpoints.apiBaseUrl, endpoints };
}

/** A collection of Graph's security API (alerts_v2, incidents) of a Graph connection. */
export function collectionUrl(connection: Connection, collection: string): string {
  return `${connection.endpoints.apiBaseUrl}/v1.0/security/${collection}`;
}

/** One alerts_v2 alert of a Graph connection; the id is %-encoded, so it stays one path segment. */
export function alertUrl(connection: Connection, alertId: string): string {
  return `${connection.endpoints.apiBaseUrl}/v1.0/security/alerts_v2/${encodeURIComponent(alertId)}`;
}
