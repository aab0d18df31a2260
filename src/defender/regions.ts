import { invalidConfig } from './errors';

export const REGIONS = ['eu', 'us', 'uk', 'us-gcc', 'us-gcc-high', 'custom'] as const;
export type Region = (typeof REGIONS)[number];

/** Where one tenant's detections and tokens live. */
export interface Endpoints {
  /** Base URL of the detections API, without a trailing slash. */
  apiBaseUrl: string;
  /** Base URL of the token authority; the token URL is `{authorityUrl}/{tenantId}/oauth2/token`. */
  authorityUrl: string;
}

const PUBLIC_LOGIN = 'https://login.microsoftonline.com';

// The seed documents eu, us and uk; the government hosts come from Microsoft's 2021 government page.
// Sources disagree on those, which is why `custom` can override both URLs.
const KNOWN: Record<Exclude<Region, 'custom'>, Endpoints> = {
  eu: { apiBaseUrl: 'https://wdatp-alertexporter-eu.windows.com', authorityUrl: PUBLIC_LOGIN },
  us: { apiBaseUrl: 'https://wdatp-alertexporter-us.windows.com', authorityUrl: PUBLIC_LOGIN },
  uk: { apiBaseUrl: 'https://wdatp-alertexporter-uk.windows.com', authorityUrl: PUBLIC_LOGIN },
  'us-gcc': { apiBaseUrl: 'https://wdatp-alertexporter-us.gcc.securitycenter.windows.us', authorityUrl: PUBLIC_LOGIN },
  'us-gcc-high': {
    apiBaseUrl: 'https://wdatp-alertexporter-us.securitycenter.windows.us',
    authorityUrl: 'https://login.microsoftonline.us',
  },
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
}

/** Validated settings: everything a token request and an API call need, except the secret. */
export interface Connection {
  tenantId: string;
  clientId: string;
  region: Region;
  api: 'siem';
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
  if (value === '') throw invalidConfig('tenantId is missing: expected a GUID or a verified domain such as contoso.onmicrosoft.com');
  if (/[/?#%@\\\s]/.test(value) || value.includes('..') || !(GUID.test(value) || DNS_NAME.test(value))) {
    throw invalidConfig(
      `tenantId must be a GUID or a domain name such as contoso.onmicrosoft.com, got "${value}"`,
    );
  }
  return value;
}

function isLoopbackHost(hostname: string): boolean {
  const host = hostname.replace(/^\[|\]$/g, '').toLowerCase();
  return host === 'localhost' || host === '::1' || /^127(?:\.\d{1,3}){3}$/.test(host);
}

/** https everywhere, plain http only to this machine (the local emulator). */
export function validateBaseUrl(name: string, raw: string | undefined): string {
  const value = (raw ?? '').trim();
  if (value === '') throw invalidConfig(`${name} is missing: expected a URL such as https://example.com`);
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw invalidConfig(`${name} must be an absolute URL such as https://example.com, got "${value}"`);
  }
  if (url.username || url.password) throw invalidConfig(`${name} must not contain a user name or password`);
  if (url.search || url.hash) throw invalidConfig(`${name} must not contain a query or fragment, got "${value}"`);
  if (url.protocol === 'http:' && !isLoopbackHost(url.hostname)) {
    throw invalidConfig(`${name} must use https:// (http:// is allowed only to localhost or 127.0.0.1), got "${value}"`);
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') {
    throw invalidConfig(`${name} must be an http(s) URL, got "${value}"`);
  }
  return url.toString().replace(/\/+$/, '');
}

export function resolveConnection(settings: ConnectionSettings): Connection {
  const tenantId = validateTenantId(settings.tenantId ?? '');
  const clientId = (settings.clientId ?? '').trim();
  if (clientId === '') throw invalidConfig('clientId is missing: expected the application (client) id of the Azure app registration');
  const api = settings.api || 'siem';
  if (api !== 'siem') throw invalidConfig(`api must be "siem", got "${api}"`);
  const region = (settings.region || 'eu') as Region;
  if (!REGIONS.includes(region)) {
    throw invalidConfig(`region must be one of ${REGIONS.join(', ')}, got "${settings.region}"`);
  }
  const endpoints: Endpoints =
    region === 'custom'
      ? {
          apiBaseUrl: validateBaseUrl('apiBaseUrl', settings.apiBaseUrl),
          authorityUrl: validateBaseUrl('authorityUrl', settings.authorityUrl),
        }
      : KNOWN[region];
  const resource = (settings.resource ?? '').trim() || DEFAULT_RESOURCE;
  return { tenantId, clientId, region, api, resource, endpoints };
}

export function tokenUrl(connection: Connection): string {
  return `${connection.endpoints.authorityUrl}/${encodeURIComponent(connection.tenantId)}/oauth2/token`;
}

export function alertsUrl(connection: Connection): string {
  return `${connection.endpoints.apiBaseUrl}/api/alerts`;
}
