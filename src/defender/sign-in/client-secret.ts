import { DefenderError } from '../errors';
import { message } from '../messages';
import type { Connection } from '../services/regions';
import type { AccessToken } from './token';
import type { CredentialSource, TokenRequestContext } from './credential';
import { postClientCredentials } from './token-request';

/** `auth: secret` (the default): client credentials with the app's client secret. */
export class ClientSecretCredential implements CredentialSource {
  readonly mode = 'secret';

  constructor(private readonly secret: string) {}

  async requestToken(connection: Connection, context: TokenRequestContext): Promise<AccessToken> {
    if (!this.secret) throw new DefenderError('INVALID_CONFIG', message('config.secret-missing'));
    return postClientCredentials(connection, () => ({ client_secret: this.secret }), () => [this.secret], undefined, context);
  }
}
