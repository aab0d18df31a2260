import type { HttpTransport, RequestOptions } from '../transport/http';
import type { Connection } from '../services/regions';
import type { RetryPolicy } from '../transport/retry';
import type { AccessToken } from './token';

/** The defender-config node's `auth` property: how the node proves who it is to Microsoft Entra ID. */
export const AUTH_MODES = ['secret', 'certificate', 'managed-identity', 'workload-identity'] as const;
export type AuthMode = (typeof AUTH_MODES)[number];

/** Environment variables as a sign-in reads them: process.env in the runtime, a plain object in a test. */
export type Environment = Readonly<Record<string, string | undefined>>;

/** What one token request may use: the config node's transport, limits and retry policy, its closing signal. */
export interface TokenRequestContext extends RequestOptions {
  transport: Pick<HttpTransport, 'get' | 'postForm'>;
  retry: RetryPolicy;
  now?: () => number;
}

/**
 * Where a config node's tokens come from. A token request is a function of the target it is for (the
 * token URL and the `resource` of the v1 endpoint or the `scope` of the v2 one, both from a Connection),
 * so one source serves the SIEM API and Microsoft Graph alike: a second TokenProvider for another
 * Connection signs in the same way. Nothing secret is ever handed out.
 */
export interface CredentialSource {
  readonly mode: AuthMode;
  requestToken(connection: Connection, context: TokenRequestContext): Promise<AccessToken>;
}
