import { readFile } from 'node:fs/promises';
import { invalidConfig } from '../errors';
import { fieldName, message } from '../messages';
import type { Connection, ConnectionSettings } from '../services/regions';
import type { AccessToken } from './token';
import type { CredentialSource, Environment, TokenRequestContext } from './credential';
import { postClientAssertion } from './token-request';

/**
 * The ids and authority of workload identity federation, as the AKS webhook puts them in the environment.
 * The node's own tenant and client ids win when filled; so does the custom region's authority URL.
 */
export function workloadSettings<S extends ConnectionSettings>(settings: S, env: Environment): S {
  const pick = (own: string | undefined, name: string, variable: string): string => {
    const value = (own ?? '').trim() || (env[variable] ?? '').trim();
    if (value === '') throw invalidConfig(message('signin.workload-missing', { name: fieldName(name), env: variable }));
    return value;
  };
  const authorityHost = (env.AZURE_AUTHORITY_HOST ?? '').trim();
  const custom = settings.region === 'custom' && (settings.authorityUrl ?? '').trim() === '' && authorityHost !== '';
  return {
    ...settings,
    tenantId: pick(settings.tenantId, 'tenantId', 'AZURE_TENANT_ID'),
    clientId: pick(settings.clientId, 'clientId', 'AZURE_CLIENT_ID'),
    ...(custom ? { authorityUrl: authorityHost } : {}),
  };
}

/**
 * `auth: workload-identity`: client credentials with the federated token the platform writes to a file as
 * the assertion. The file is read for every token request: Kubernetes rotates the token in place.
 */
export class WorkloadIdentityCredential implements CredentialSource {
  readonly mode = 'workload-identity';

  constructor(readonly tokenFile: string) {}

  static fromEnvironment(env: Environment): WorkloadIdentityCredential {
    const file = (env.AZURE_FEDERATED_TOKEN_FILE ?? '').trim();
    if (file === '') throw invalidConfig(message('signin.token-file-unset'));
    return new WorkloadIdentityCredential(file);
  }

  requestToken(connection: Connection, context: TokenRequestContext): Promise<AccessToken> {
    return postClientAssertion(connection, () => this.federatedToken(), message('signin.check-workload-identity'), context);
  }

  private async federatedToken(): Promise<string> {
    let text: string;
    try {
      text = await readFile(this.tokenFile, 'utf8');
    } catch (err) {
      const reason = (err as NodeJS.ErrnoException).code ?? String(err);
      throw invalidConfig(message('signin.token-file-unreadable', { path: this.tokenFile, reason }));
    }
    // A JWT holds no whitespace; a trailing newline from an editor or `echo` is not part of it.
    const token = text.trim();
    if (token === '') throw invalidConfig(message('signin.token-file-empty', { path: this.tokenFile }));
    return token;
  }
}
