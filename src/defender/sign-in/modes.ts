import { invalidConfig } from '../errors';
import { message } from '../messages';
import { type Connection, type ConnectionSettings, resolveConnection } from '../services/regions';
import { ClientCertificateCredential } from './client-certificate';
import { ClientSecretCredential } from './client-secret';
import { AUTH_MODES, type AuthMode, type CredentialSource, type Environment } from './credential';
import { ManagedIdentityCredential } from './managed-identity';
import { WorkloadIdentityCredential, workloadSettings } from './workload-identity';

/** The sign-in properties of a defender-config node, as the editor saves them. */
export interface SignInSettings {
  /** Absent (a flow saved before sign-in modes existed) means `secret`. */
  auth?: string;
  /** certificate: the PEM certificate uploaded to the app registration. */
  certificate?: string;
  /** managed-identity: the client id of a user-assigned identity; empty for the system-assigned one. */
  managedIdentityClientId?: string;
}

/** The Node-RED credentials of a defender-config node: each is a password field, never sent back to the editor. */
export interface SignInCredentials {
  clientSecret?: string;
  privateKey?: string;
  privateKeyPassphrase?: string;
}

export function authMode(raw: unknown): AuthMode {
  const value = typeof raw === 'string' ? raw.trim() : raw;
  if (value === undefined || value === null || value === '') return 'secret';
  if (typeof value === 'string' && (AUTH_MODES as readonly string[]).includes(value)) return value as AuthMode;
  throw invalidConfig(message('signin.bad-auth', { known: AUTH_MODES.join(', '), value: String(raw) }));
}

/**
 * A config node's sign-in: its validated connection (a workload identity's ids filled in from the
 * environment) and where its tokens come from; `graphConnection` of that connection serves Graph the same way.
 */
export interface SignIn {
  connection: Connection;
  credential: CredentialSource;
}

/**
 * Reads the connection and the sign-in of a config node, in that order: the settings every mode shares are
 * checked first, then the mode's own (a certificate and its key, the environment of a managed or workload
 * identity). Every problem is INVALID_CONFIG, found before any request.
 */
export function resolveSignIn(
  settings: ConnectionSettings & SignInSettings,
  credentials: SignInCredentials,
  env: Environment,
  nowMs: number = Date.now(),
): SignIn {
  const mode = authMode(settings.auth);
  const effective = mode === 'workload-identity' ? workloadSettings(settings, env) : settings;
  // A managed identity's own endpoint knows the tenant, and the identity is not the app registration.
  const connection = resolveConnection(effective, mode !== 'managed-identity');
  let credential: CredentialSource;
  switch (mode) {
    case 'secret':
      credential = new ClientSecretCredential(credentials.clientSecret ?? '');
      break;
    case 'certificate':
      credential = ClientCertificateCredential.load(
        { certificate: settings.certificate ?? '', privateKey: credentials.privateKey ?? '', passphrase: credentials.privateKeyPassphrase ?? '' },
        nowMs,
      );
      break;
    case 'managed-identity':
      credential = ManagedIdentityCredential.fromEnvironment(settings.managedIdentityClientId, env);
      break;
    case 'workload-identity':
      credential = WorkloadIdentityCredential.fromEnvironment(env);
      break;
  }
  return { connection, credential };
}
