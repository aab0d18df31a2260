import type { IncomingHttpHeaders } from 'node:http';
import { jsonReply, type Reply } from './http';

/**
 * The two shapes of the managed identity endpoint an Azure resource offers: the instance metadata service
 * of a VM (GET /metadata/identity/oauth2/token, header Metadata: true) and the local endpoint of App Service,
 * Container Apps and Functions (GET $IDENTITY_ENDPOINT, header X-IDENTITY-HEADER). Both answer Azure AD
 * v1-style tokens whose numbers are strings; their errors differ, as the real ones do.
 */

export const IMDS_PATH = /^\/metadata\/identity\/oauth2\/token\/?$/i;
export const APP_SERVICE_PATH = /^\/msi\/token\/?$/i;

export type IdentityShape = 'imds' | 'app-service';

export interface ManagedIdentityOptions {
  /** The secret App Service hands its app in IDENTITY_HEADER (default 'emulator-identity-header'). */
  identityHeader?: string;
  /** Client ids of the user-assigned identities the resource has (default none: only the system-assigned one). */
  userAssignedClientIds?: readonly string[];
  /** The client id of the system-assigned identity (default 'emulator-managed-identity'). */
  systemAssignedClientId?: string;
  /** The tenant its tokens are for (default 00000000-0000-4000-8000-000000000000). */
  tenantId?: string;
}

export type IdentityCheck = { ok: true; resource: string; clientId: string } | { ok: false; reply: Reply };

const API_VERSION: Record<IdentityShape, string> = { imds: '2018-02-01', 'app-service': '2019-08-01' };

/** An error in the endpoint's own shape. */
function errorReply(shape: IdentityShape, status: number, description: string): Reply {
  return shape === 'imds' ? jsonReply(status, { error: 'invalid_request', error_description: description }) : jsonReply(status, { statusCode: status, message: description });
}

function refuse(shape: IdentityShape, status: number, description: string): IdentityCheck {
  return { ok: false, reply: errorReply(shape, status, description) };
}

/**
 * What the endpoint answers while it starts or is being updated, as Microsoft documents the instance
 * metadata service's: 404 (retry with backoff) and 410 (back within 70 seconds). Clients are to retry both.
 */
export function updatingReply(path: string, status: 404 | 410): Reply {
  const shape: IdentityShape = IMDS_PATH.test(path) ? 'imds' : 'app-service';
  return errorReply(shape, status, status === 404
    ? 'The identity endpoint is being updated: retry with exponential backoff'
    : 'The instance metadata service is being updated and is available again within 70 seconds: retry');
}

function header(headers: IncomingHttpHeaders, name: string): string | undefined {
  const value = headers[name];
  return Array.isArray(value) ? value[0] : value;
}

/** Checks a managed identity token request in the order the service does: method, header, version, resource, identity. */
export function checkIdentityRequest(shape: IdentityShape, method: string, query: URLSearchParams, headers: IncomingHttpHeaders, options: Required<ManagedIdentityOptions>): IdentityCheck {
  if (method !== 'GET') return refuse(shape, 405, `The managed identity endpoint accepts GET only, got ${method}.`);
  if (shape === 'imds') {
    if (header(headers, 'metadata') !== 'true') return refuse(shape, 400, 'Required metadata header not specified');
    // IMDS refuses what came through a proxy: the token is for this machine.
    if (header(headers, 'x-forwarded-for') !== undefined) return refuse(shape, 400, 'Request was forwarded through a proxy, which the instance metadata service does not allow');
  } else if (header(headers, 'x-identity-header') !== options.identityHeader) {
    return refuse(shape, 401, 'The X-IDENTITY-HEADER header is missing or is not the one this app was given in IDENTITY_HEADER.');
  }
  const version = query.get('api-version');
  if (version !== API_VERSION[shape]) return refuse(shape, 400, `api-version must be ${API_VERSION[shape]}, got '${version ?? ''}'`);
  const resource = query.get('resource');
  if (!resource) return refuse(shape, 400, "Required query variable 'resource' is missing");
  const requested = query.get('client_id');
  if (requested !== null && requested !== options.systemAssignedClientId && !options.userAssignedClientIds.includes(requested)) {
    return shape === 'imds'
      ? refuse(shape, 400, 'Identity not found')
      : refuse(shape, 400, 'No User Assigned or Delegated Managed Identity found for specified ClientId/ResourceId/PrincipalId.');
  }
  return { ok: true, resource, clientId: requested ?? options.systemAssignedClientId };
}
