import { invalidConfig } from '../errors';
import { message } from '../messages';
import { type Connection, validateClientId } from '../services/regions';
import type { AccessToken } from './token';
import type { CredentialSource, Environment, TokenRequestContext } from './credential';
import { exchangeToken } from './token-request';

/** Azure's instance metadata service, on the link-local address every Azure VM can reach. */
export const IMDS_HOST = 'http://169.254.169.254';
const IMDS_PATH = '/metadata/identity/oauth2/token';

/** Where a managed identity's tokens come from, as Microsoft's libraries find it in the environment. */
export type IdentityEndpoint =
  /** App Service, Container Apps, Functions: a local endpoint that wants the secret header it was given. */
  | { kind: 'app-service'; url: string; header: string }
  /** A VM, scale set or AKS node: the instance metadata service. */
  | { kind: 'imds'; url: string };

function environmentUrl(name: string, value: string): URL {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw invalidConfig(message('signin.env-not-url', { name }));
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw invalidConfig(message('signin.env-not-url', { name }));
  return url;
}

/**
 * IDENTITY_ENDPOINT with IDENTITY_HEADER (App Service and its kin), else the instance metadata service, whose
 * host AZURE_POD_IDENTITY_AUTHORITY_HOST overrides. IDENTITY_ENDPOINT without its header is refused rather
 * than passed over for IMDS, which would only time out where there is none.
 */
export function identityEndpoint(env: Environment): IdentityEndpoint {
  const endpoint = env.IDENTITY_ENDPOINT?.trim();
  if (endpoint) {
    const header = env.IDENTITY_HEADER?.trim();
    if (!header) throw invalidConfig(message('signin.identity-header-missing'));
    return { kind: 'app-service', url: environmentUrl('IDENTITY_ENDPOINT', endpoint).toString(), header };
  }
  const host = env.AZURE_POD_IDENTITY_AUTHORITY_HOST?.trim();
  const base = host ? environmentUrl('AZURE_POD_IDENTITY_AUTHORITY_HOST', host) : new URL(IMDS_HOST);
  return { kind: 'imds', url: new URL(IMDS_PATH, base).toString() };
}

/**
 * `auth: managed-identity`: no secret at all; the Azure resource Node-RED runs on asks for a token for the
 * API's resource, for its system-assigned identity or, with a client id, a user-assigned one.
 */
export class ManagedIdentityCredential implements CredentialSource {
  readonly mode = 'managed-identity';

  constructor(
    readonly endpoint: IdentityEndpoint,
    private readonly clientId?: string,
  ) {}

  static fromEnvironment(clientId: string | undefined, env: Environment): ManagedIdentityCredential {
    return new ManagedIdentityCredential(identityEndpoint(env), validateClientId('managedIdentityClientId', clientId) || undefined);
  }

  requestToken(connection: Connection, context: TokenRequestContext): Promise<AccessToken> {
    const { endpoint } = this;
    const url = new URL(endpoint.url);
    url.searchParams.set('api-version', endpoint.kind === 'imds' ? '2018-02-01' : '2019-08-01');
    url.searchParams.set('resource', connection.resource);
    if (this.clientId) url.searchParams.set('client_id', this.clientId);
    const headers: Record<string, string> = endpoint.kind === 'imds' ? { Metadata: 'true' } : { 'X-IDENTITY-HEADER': endpoint.header };
    const host = url.host;
    return exchangeToken(
      {
        send: (options) => context.transport.get(url.toString(), { ...headers, Accept: 'application/json' }, { ...options, direct: true }),
        host,
        secrets: () => (endpoint.kind === 'app-service' ? [endpoint.header] : []),
        check: message('signin.check-managed-identity'),
        // Microsoft's IMDS guidance: 404 and 410 mean the service is still coming up or being updated.
        ...(endpoint.kind === 'imds' ? { retryStatuses: [404, 410] } : {}),
        unreachable: (detail) => message('signin.identity-unreachable', { host, detail }),
      },
      context,
    );
  }
}
