export {
  Emulator,
  type AddDetectionsOptions,
  type EmulatorOptions,
  type Fault,
  type FaultKind,
  type FaultTarget,
  type ManagedIdentityOptions,
  type RecordedRequest,
  type StreamOptions,
} from './server';
export { FAULT_KINDS } from './faults';
export { CLOUD_TAGS, DEVICE_TAGS, MACHINE_GROUPS, SEVERITIES } from './generator';
export { type TokenResponse, type TokenResponseV2 } from './tokens';
export { graphAlertOf, type GraphOverrides } from './graph';
export { selfSignedCertificate, throwawayCertificate, type CertificateOptions, type ThrowawayCertificate } from './certificates';
