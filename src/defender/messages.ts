/**
 * Every text a DefenderError can carry, in English, by id. An error keeps its id and values besides the
 * English text, so the Node-RED nodes can say it in the runtime's language: the translations are in
 * nodes/locales/<lang>/defender-detections.json under `defender-detections.runtime.<id>`, with the same
 * `__name__` placeholders. English lives only here; a test checks that each catalog has every id.
 */
export const MESSAGES = {
  // Query parameters (msg.query, msg.payload or the node's defaults)
  'query.bad-time':
    '__name__ must be an ISO 8601 date-time such as 2016-09-12T00:00:00.000Z (no zone means UTC), a Date or epoch milliseconds, got __value__',
  'query.bad-duration': '__name__ must be an ISO 8601 duration such as PT10M, PT2H or P1D, got __value__',
  'query.bad-limit': 'limit must be a positive integer, got __value__',
  'query.bad-group': '__name__ must be a non-empty string (a device group name), got __value__',
  'query.bad-tag': '__name__ must be a device tag (a non-empty string), got __value__',
  'query.unknown-key': 'unknown query parameter "__key__": the known parameters are __known__',
  'query.ago-with-range': 'ago cannot be combined with sinceTimeUtc or untilTimeUtc: give either a duration or a time range',
  'query.since-after-until': 'sinceTimeUtc (__since__) is after untilTimeUtc (__until__): expected since ≤ until',

  // The input message besides the query
  'input.query-not-object': 'msg.query must be an object of query parameters such as {"limit": 20}, got __got__',
  'input.an-array': 'an array',
  'input.a-date': 'a Date',
  'input.a-buffer': 'a Buffer',
  'input.an-instance': 'an instance of __name__',
  'input.bad-timeout': 'msg.requestTimeout must be a number of milliseconds above 0 and at most 3600000 (an hour), got __value__',
  'input.bad-reset': 'msg.reset must be true (clear the checkpoint) or false, got __value__',

  // The detections node's own settings
  'settings.from': '__from__: __detail__',
  'settings.node-default': 'node default',
  'settings.from-context': '__key__ from __scope__ context "__name__"',
  'settings.env-name-missing': '__key__: enter the name of the environment variable to read it from',
  'settings.env-not-set': '__key__ is to come from the environment variable __name__, which is not set',
  'settings.env-bad-value':
    'the environment variable __name__ does not hold a valid __key__; the help panel says what __key__ takes (the value is not shown here: environment variables may hold secrets)',
  'settings.context-key-missing': '__key__: enter the __scope__ context key to read it from',
  'settings.context-not-set':
    '__key__ is to come from __scope__ context "__name__", which is not set: set it (an empty string means no __key__) or choose another source in the node',
  'settings.context-unreadable': '__key__ is to come from __scope__ context "__name__", which cannot be read: __reason__',
  'settings.bad-source': '__key__Type must be str, num, env, flow or global, got "__value__"',
  'settings.bad-shape': 'shape must be "siem" or "native", got "__value__"',
  'settings.bad-events': 'events must be "all", "new" or "triage", got "__value__"',
  'settings.bad-timeout': 'requestTimeout must be a number of seconds above 0 and at most 3600, got "__value__"',
  'settings.bad-max-response': 'maxResponseMB must be a number of megabytes above 0 and at most 4096, got "__value__"',
  'settings.bad-retries': 'maxRetries must be a whole number from 0 to 10, got "__value__"',
  'settings.bad-retry-delay': 'retryBaseDelayMs must be a number of milliseconds, got "__value__"',
  'settings.bad-confirm': 'confirm must be "none" or "nodes", got "__value__"',
  'settings.bad-confirm-nodes': 'confirmNodes must be a list of node ids',
  'settings.confirm-no-nodes':
    'delivery confirmation needs the nodes that deliver (an e-mail or http request node): choose them under Confirm delivery, or turn confirmation off',
  'settings.no-hooks': 'delivery confirmation needs the messaging hooks of Node-RED 2 or later, which this runtime does not give to nodes',
  'settings.bad-max-deliveries': 'maxDeliveries must be a whole number from 1 to 100, got "__value__"',
  'settings.bad-redelivery-delay': 'redeliveryBaseDelayMs must be a number of milliseconds, got "__value__"',
  'settings.none': 'the node has no settings',
  'settings.no-config': 'no defender-config node is selected: open the node and choose or create one',
  'settings.config-invalid': 'the defender-config node is not valid',

  // The defender-config node
  'config.unexpected': 'the defender-config node could not be set up: __reason__',
  'config.tenant-missing': 'tenantId is missing: expected a GUID or a verified domain such as contoso.onmicrosoft.com',
  'config.tenant-invalid': 'tenantId must be a GUID or a domain name such as contoso.onmicrosoft.com, got "__value__"',
  'config.client-missing': 'clientId is missing: expected the application (client) id of the Azure app registration',
  'config.client-invalid': '__name__ must not contain / ? # % @ \\ or spaces, got "__value__"',
  'config.resource-invalid': 'resource must not contain spaces, got "__value__"',
  'config.secret-missing': 'clientSecret is missing: enter the application secret in the defender-config node',
  'config.bad-api': 'api must be "siem" or "graph", got "__value__"',
  'config.dod-siem': 'region us-dod is for api "graph"; with the SIEM API choose us-gcc-high, whose host serves GCC High and DoD',
  'config.bad-region': 'region must be one of __known__, got "__value__"',
  'config.url-missing': '__name__ is missing: expected a URL such as https://example.com',
  'config.url-not-absolute': '__name__ must be an absolute URL such as https://example.com, got "__value__"',
  'config.url-credentials': '__name__ must not contain a user name or password',
  'config.url-query': '__name__ must not contain a query or fragment, got "__value__"',
  'config.url-not-https': '__name__ must use https:// (http:// is allowed only to localhost or 127.0.0.1), got "__value__"',
  'config.url-not-http': '__name__ must be an http(s) URL, got "__value__"',
  'config.not-positive': '__name__ must be a number above 0, got "__value__"',
  'config.proxy-missing': 'the chosen http proxy node is missing: choose it again or clear the field',
  'config.tls-missing': 'the chosen tls-config node is missing: choose it again or clear the field',

  // Tokens
  'token.no-access-token': 'the token endpoint answered without an access_token',
  'token.http-said': 'token request to __host__ failed: HTTP __status__: __text__',
  'token.failed': 'token request to __host__ failed: __detail__',
  'token.refused': 'token request to __host__ failed: HTTP __status__. Check tenantId, clientId and the client secret',
  'token.refused-said': 'token request to __host__ failed: HTTP __status__: __text__. Check tenantId, clientId and the client secret',
  'token.not-json': 'the token endpoint answered HTTP 200 with a body that is not JSON (__type__)',

  // Sign-in
  'signin.bad-auth': 'auth must be one of __known__, got "__value__"',
  'signin.refused': 'token request to __host__ failed: HTTP __status__. Check __check__',
  'signin.refused-said': 'token request to __host__ failed: HTTP __status__: __text__. Check __check__',
  'signin.check-certificate': 'that the certificate is uploaded to the app registration (Certificates & secrets), and tenantId and clientId',
  'signin.check-managed-identity': 'that this Azure resource has the managed identity turned on (for a user-assigned one, its client id in managedIdentityClientId)',
  'signin.check-workload-identity': "the app registration's federated credential (issuer and subject of the pod's service account), and the tenant and client ids",
  'signin.key-missing': 'privateKey is missing: paste the PEM private key of the certificate uploaded to the app registration',
  'signin.key-not-pem':
    'privateKey must be a PEM private key (-----BEGIN PRIVATE KEY-----, -----BEGIN RSA PRIVATE KEY----- or -----BEGIN ENCRYPTED PRIVATE KEY-----); the text given is not one (it is not shown here)',
  'signin.key-unreadable': 'the private key cannot be read: it is not a valid PKCS#8 or PKCS#1 key (it is not shown here)',
  'signin.key-encrypted': 'the private key is encrypted: enter its passphrase in privateKeyPassphrase',
  'signin.key-passphrase': 'the private key cannot be decrypted with the passphrase given: check privateKeyPassphrase',
  'signin.key-not-rsa': 'the private key is a __type__ key; Microsoft Entra ID takes RSA keys for certificate credentials (PS256)',
  'signin.key-too-small': 'the RSA key has __bits__ bits; Microsoft Entra ID takes 2048 bits or more',
  'signin.key-mismatch': 'the private key does not belong to the certificate __thumbprint__: give the key the certificate was made with',
  'signin.certificate-missing':
    'certificate is missing: paste the PEM certificate (-----BEGIN CERTIFICATE-----) uploaded to the app registration, or put it after the key in privateKey',
  'signin.certificate-unreadable': 'certificate must be a PEM X.509 certificate (-----BEGIN CERTIFICATE-----); the text given cannot be read as one',
  'signin.certificate-expired':
    'the certificate __thumbprint__ expired on __date__: make a new one, upload it to the app registration and put it and its key here',
  'signin.certificate-not-yet-valid': 'the certificate __thumbprint__ is not valid before __date__',
  'signin.identity-header-missing':
    'IDENTITY_ENDPOINT is set but IDENTITY_HEADER is not: App Service, Container Apps and Functions set both when the managed identity is turned on',
  'signin.identity-unreachable':
    'the managed identity endpoint __host__ cannot be reached: __detail__. A managed identity works only on Azure (a VM or scale set, AKS, App Service, Container Apps, Functions) with the identity turned on',
  'signin.env-not-url':
    'the environment variable __name__ must hold an http or https URL (the value is not shown here: environment variables may hold secrets)',
  'signin.workload-missing': '__name__ is missing: fill it in or let the environment variable __env__ give it (the AKS workload identity webhook sets it)',
  'signin.token-file-unset':
    'auth workload-identity reads the federated token from the file that AZURE_FEDERATED_TOKEN_FILE names, and it is not set: on AKS, label the pod azure.workload.identity/use: "true" and annotate its service account with azure.workload.identity/client-id',
  'signin.token-file-unreadable': 'the federated token file __path__ (AZURE_FEDERATED_TOKEN_FILE) cannot be read: __reason__',
  'signin.token-file-empty': 'the federated token file __path__ (AZURE_FEDERATED_TOKEN_FILE) is empty',

  // Requests and answers
  'http.cancelled': 'request to __host__ cancelled: the node is closing',
  'http.timeout': 'no complete answer from __host__ within __seconds__ s',
  'http.network': 'network error talking to __host__: __reason__',
  'http.too-large': 'the answer from __host__ is larger than the __limit__ limit (maxResponseMB); narrow the query or raise the limit',
  'http.redirect':
    '__service__ answered HTTP __status__ redirecting elsewhere; redirects are not followed so the access token is never sent to another address. Check apiBaseUrl and the region',
  'http.status': '__service__ answered HTTP __status__: __meaning__',
  'http.status-wait': '__service__ answered HTTP __status__: __meaning__ (Retry-After __seconds__ s)',
  'http.status-said': '__service__ answered HTTP __status__: __meaning__ — the service said: __text__',
  'http.status-wait-said': '__service__ answered HTTP __status__: __meaning__ (Retry-After __seconds__ s) — the service said: __text__',
  'http.no-content-type': 'no content type',

  // Pulls in slices
  'slice.overflow': 'the answer holds more than the __count__ detections one slice of a pull may hold',
  'slice.instant-too-large':
    'more detections share the instant __time__ than fit in the __limit__ limit (maxResponseMB); the window cannot be cut finer than one millisecond: raise maxResponseMB',
  'slice.instant-unpageable':
    'more than __count__ Microsoft Graph alerts share the time __time__, and Graph gave no @odata.nextLink to read on ($top stops at 1000 and $skip at 500): the pull stops here rather than pass over the rest',

  // The services, as errors name them
  'service.siem': 'detections API',
  'service.graph': 'Microsoft Graph',

  // What an HTTP status means for each service (the SIEM API's are the seed's own words)
  'meaning.service-error': 'service error',
  'meaning.refused': 'request refused',
  'meaning.siem-401': 'malformed request or invalid token',
  'meaning.siem-403': 'unauthorized: the domain is not managed by the tenant administrator, or the tenant state is deleted',
  'meaning.too-many': 'too many requests',
  'meaning.graph-400': 'bad request: Graph refused the query',
  'meaning.graph-401': 'the token is invalid, expired or for another resource',
  'meaning.graph-403': 'forbidden: the app needs the SecurityAlert.Read.All application permission, with admin consent',
  'meaning.graph-429': 'too many requests (Graph allows about 150 a minute per app and tenant)',

  // Bodies that are not what was asked for
  'body.not-detections':
    'the detections API answered HTTP __status__ (__type__, __size__ bytes) with a body that __failure__; expected a JSON array of detections. It began: "__excerpt__"',
  'body.not-alerts':
    'Microsoft Graph answered HTTP __status__ (__type__, __size__ bytes) with a body that __failure__; expected a JSON object with a "value" array of alerts. It began: "__excerpt__"',
  'body.foreign-next-link':
    'Microsoft Graph answered a @odata.nextLink that does not point to __origin__; it is not followed, so the access token is never sent to another address',
  'failure.not-json': 'is not JSON',
  'failure.not-json-array': 'is not a JSON array',
  'failure.empty': 'is empty',
  'failure.blank': 'holds nothing but whitespace',
  'failure.cut-short': 'is cut short: it ends before the array is closed with "]"',
  'failure.byte': 'byte 0x__hex__',
  'failure.not-array': 'is JSON but not an array',
  'failure.no-value': 'has no "value" array',
  'failure.after-end': 'is not JSON: __char__ follows the closing "]" of the array at byte __at__',
  'failure.bad-element': 'is not JSON: the element that starts at byte __at__ is malformed',
  'failure.no-separator': 'is not JSON: __char__ at byte __at__ where "," or "]" should follow an element',
  'failure.trailing-comma': 'is not JSON: a "," comes just before the closing "]" at byte __at__',
  'failure.no-element': 'is not JSON: __char__ at byte __at__ where an element should begin',

  // Writing to alerts (the update node)
  'update.bad-enum': '__field__ must be one of __valid__ (in any case), got __value__',
  'update.not-text': '__field__ must be text, got __value__',
  'update.not-null': '__field__ cannot be null (only assignedTo can, to unassign the alert): give "" or leave it out to keep it as it is',
  'update.nothing':
    'nothing to change: give status, classification, determination, assignedTo or comment in the node or in msg.update',
  'update.not-object': 'msg.update must be an object such as {"status": "inProgress"}, got __got__',
  'update.unknown-key': 'unknown property "__key__" in msg.update: the known ones are __known__',
  'update.no-id':
    'no alert id: set msg.alertId, or send the alert itself as msg.payload (its id, or its AlertId in the SIEM shape)',
  'update.bad-id':
    'the alert id in __from__ must be an id such as da637551227677560813_-961444813 (letters, digits, "_", "-", "."), got __value__',
  'update.from-message': 'msg.__name__',
  'update.message-property-missing': '__key__: enter the msg property to read it from',
  'update.message-not-set':
    '__key__ is to come from msg.__name__, which this message does not have: set it, give msg.update.__key__, or choose another source in the node',
  'update.context-not-set':
    '__key__ is to come from __scope__ context "__name__", which is not set: set it (an empty string leaves __key__ as it is) or choose another source in the node',
  'update.bad-source': '__key__Type must be str, msg, flow, global or env, got "__value__"',
  'update.graph-400': 'bad request: Graph refused the change',
  'update.graph-403':
    'forbidden: changing alerts needs the SecurityAlert.ReadWrite.All application permission of Microsoft Graph, with admin consent',
  'update.graph-404':
    'not found: this tenant has no alert with the id "__id__" (check msg.alertId, and that the config node is for the tenant the alert came from)',
  'update.bad-body':
    'Microsoft Graph answered HTTP __status__ (__type__, __size__ bytes) with a body that __failure__; expected __expected__. It began: "__excerpt__"',
  'update.expected-alert': 'the alert as a JSON object',
  'update.expected-comments': 'a JSON object with a "value" array of comments',
  'update.not-an-object': 'is JSON but not an object',
  'update.comment-not-stored': '__answer__ The alert read after it does not show the comment: it was not stored, and sending the message again is safe',

  // Delivery confirmation
  'delivery.node-missing':
    'the delivering node __id__ is not in the deployed flows: detections that do not reach another delivering node count as dropped on purpose. Choose the delivering nodes again',
  'delivery.node-silent':
    'the delivering node __name__ never says when it is done with a message (as the Complete node needs too): a detection counts as delivered once it reaches it',
  'delivery.failed':
    '__topic__ was not confirmed delivered after __attempts__ deliveries and is passed over: it is not sent again. The delivering nodes\' own errors (Catch) say why they failed',

  // A setting as an error names it: in English its property; other languages give the dialog's label and the
  // property after it ("テナント ID (tenantId)"). fieldName() uses these where it knows the property.
  'field.tenantId': 'tenantId',
  'field.clientId': 'clientId',
  'field.managedIdentityClientId': 'managedIdentityClientId',
  'field.apiBaseUrl': 'apiBaseUrl',
  'field.authorityUrl': 'authorityUrl',
  'field.status': 'status',
  'field.classification': 'classification',
  'field.determination': 'determination',
  'field.assignedTo': 'assignedTo',
  'field.comment': 'comment',

  // Incidents (the incidents nodes; translated in defender-incidents.json, under runtime.incident)
  'incident.body-not-incidents':
    'Microsoft Graph answered HTTP __status__ (__type__, __size__ bytes) with a body that __failure__; expected a JSON object with a "value" array of incidents. It began: "__excerpt__"',
  'incident.meaning-403': 'forbidden: reading incidents needs the SecurityIncident.Read.All application permission of Microsoft Graph, with admin consent',
  'incident.query-bad-value': '__name__ must be one of __valid__ (in any case), or a list of them, got __value__',
  'incident.query-bad-text': '__name__ must be text (such as soc@contoso.com) or a list of texts, got __value__',
  'incident.bad-alerts': 'alerts must be "include" or "none", got "__value__"',
  'incident.status-refused':
    'status __value__ is set by Defender, not by a client (redirected when it merges incidents, awaitingAction by Defender Experts): give active, inProgress or resolved',
  'incident.nothing':
    'nothing to change: give status, classification, determination, assignedTo, customTags or comment in the node or in msg.update',
  'incident.not-null': '__field__ cannot be null (only assignedTo can, to unassign the incident): give "" or leave it out to keep it as it is',
  'incident.bad-tags': 'customTags must be a list of tags, or tags separated by commas (an empty list removes them all), got __value__',
  'incident.no-id':
    'no incident id: set msg.incidentId, or send one of its alerts as msg.payload (its incidentId, or IncidentId or the incident IncidentLinkToMTP links to in the SIEM shape; the SIEM API\'s own detections link no incident)',
  'incident.bad-id': 'the incident id in __from__ must be an id such as 29135 (letters, digits, "_", "-", "."), got __value__',
  'incident.graph-403':
    'forbidden: changing incidents needs the SecurityIncident.ReadWrite.All application permission of Microsoft Graph, with admin consent',
  'incident.graph-404':
    'not found: this tenant has no incident with the id "__id__" (check msg.incidentId, and that the config node is for the tenant the incident came from)',
  'incident.expected-incident': 'the incident as a JSON object',
  'incident.comment-not-stored': '__answer__ The incident read after it does not show the comment: it was not stored, and sending the message again is safe',

  // Several Node-RED instances, one poll (the config node's coordination)
  'coordination.bad-mode': 'coordination must be "none" or "redis", got "__value__"',
  'coordination.url-missing': 'redisUrl is missing: expected the Redis server\'s URL, such as redis://redis.example.com:6379 or rediss://… for TLS',
  'coordination.url-invalid':
    'redisUrl is not a valid URL: expected redis://host:port or rediss://host:port, with a database number as its path if any (the value is not shown: it may hold a password)',
  'coordination.url-scheme': 'redisUrl must start with redis:// or rediss:// (TLS), got __scheme__//',
  'coordination.url-path': 'redisUrl may have a database number as its path (redis://host:6379/0) and nothing else: no query or fragment',
  'coordination.prefix-missing': 'redisKeyPrefix is missing: expected a prefix for this deployment\'s keys such as defender: (the replicas share it; other deployments use their own)',
  'coordination.prefix-invalid': 'redisKeyPrefix must be 1 to 100 printable characters without spaces or braces, got "__value__"',
  'coordination.bad-ttl': 'leaseTtl must be a number of seconds from __min__ to __max__, got "__value__"',
  'coordination.unavailable': 'coordination unavailable: the Redis server at __url__ cannot be used (__reason__); no replica pulls until it is back',
  'coordination.lease-lost':
    'lease lost: another Node-RED instance took over this node\'s pulls (this one could not renew its lease in time); its commit was refused and it stands by',
  'coordination.bad-checkpoint': 'the checkpoint stored in Redis under __key__ is not one this node wrote; send msg.reset = true to start again from initialAgo',

  // Anything else
  'cancelled': 'cancelled: the node is closing',
  'unexpected': 'unexpected failure: __reason__',
} as const;

export type MessageId = keyof typeof MESSAGES;
export type MessageValue = string | number | Message;

/** A text as an id and the values of its placeholders; a value may itself be a text. */
export interface Message {
  readonly id: MessageId;
  readonly vars: Readonly<Record<string, MessageValue>>;
}

/** The placeholder names of a template: "__host__ … __status__" gives "host" | "status". */
type Placeholders<T extends string> = T extends `${string}__${infer Name}__${infer Rest}` ? Name | Placeholders<Rest> : never;

/** The values a text needs: one per placeholder, checked by the compiler at every call. */
export type MessageVars<I extends MessageId> = { readonly [Name in Placeholders<(typeof MESSAGES)[I]>]: MessageValue };

export function message<I extends MessageId>(id: I, ...vars: [Placeholders<(typeof MESSAGES)[I]>] extends [never] ? [] : [MessageVars<I>]): Message {
  return { id, vars: vars[0] ?? {} };
}

/** A setting's name for an error: a text of its own where the catalogs have one (see `field.*`), else the name as it is. */
export function fieldName(name: string): MessageValue {
  const id = `field.${name}`;
  return Object.prototype.hasOwnProperty.call(MESSAGES, id) ? { id: id as MessageId, vars: {} } : name;
}

/** The text of an id in another language, with its values filled in; undefined when it has none. */
export type Translate = (id: MessageId, vars: Record<string, string | number>) => string | undefined;

/** Fills `__name__` placeholders, the syntax of Node-RED's catalogs. */
export function fill(template: string, vars: Readonly<Record<string, string | number>>): string {
  return template.replace(/__(\w+?)__/g, (whole, name: string) => (name in vars ? String(vars[name]) : whole));
}

/** The text in English, or through `translate` where it knows the id (nested texts first). */
export function render(text: Message, translate?: Translate): string {
  const vars: Record<string, string | number> = {};
  for (const [name, value] of Object.entries(text.vars)) vars[name] = typeof value === 'object' ? render(value, translate) : value;
  return translate?.(text.id, vars) ?? fill(MESSAGES[text.id], vars);
}
