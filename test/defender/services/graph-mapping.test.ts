import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DETECTION_FIELDS } from '../../../src/defender/services/detection';
import {
  GRAPH_NATIVE_ACCESSOR, type GraphAlert, graphAlertTopic, matchesDeviceFilter, toSiemDetection,
} from '../../../src/defender/services/graph-mapping';

/** An alerts_v2 alert in the shape of Microsoft's List alerts_v2 sample, with every evidence type the mapping reads. */
function sampleAlert(overrides: Partial<GraphAlert> = {}): GraphAlert {
  return {
    '@odata.type': '#microsoft.graph.security.alert',
    id: 'da637551227677560813_-961444813',
    providerAlertId: 'da637551227677560813_-961444813',
    incidentId: '28282',
    status: 'new',
    severity: 'high',
    serviceSource: 'microsoftDefenderForEndpoint',
    detectionSource: 'antivirus',
    detectorId: 'e0da400f-affd-43ef-b1d5-afc2eb6f2756',
    title: 'Suspicious execution of hidden file',
    description: 'A hidden file has been launched.',
    category: 'DefenseEvasion',
    alertWebUrl: 'https://security.microsoft.com/alerts/da637551227677560813_-961444813?tid=t',
    incidentWebUrl: 'https://security.microsoft.com/incidents/28282?tid=t',
    actorDisplayName: 'CINDER TEMPEST',
    threatDisplayName: 'Trojan:Win32/Emotet.RT!MTB',
    threatFamilyName: 'Emotet',
    mitreTechniques: ['T1564.001', 'T1059'],
    createdDateTime: '2021-04-27T12:19:27.7211305Z',
    lastUpdateDateTime: '2021-05-02T14:19:01.3266667Z',
    firstActivityDateTime: '2021-04-26T07:45:50.116Z',
    lastActivityDateTime: '2021-05-02T07:56:58.222Z',
    evidence: [
      {
        '@odata.type': '#microsoft.graph.security.deviceEvidence',
        mdeDeviceId: '73e7e2de709dff64ef64b1d0c30e67fab63279db',
        deviceDnsName: 'lon-ws-0042.uk.contoso.com',
        rbacGroupName: 'UKMachines',
        tags: ['VIP', 'Laptop'],
        ipInterfaces: ['10.1.2.3', '127.0.0.1', 'fe80::1:2:3:4', '::1'],
        loggedOnUsers: [{ accountName: 'alice', domainName: 'UK' }, { accountName: 'bob', domainName: 'UK' }],
      },
      {
        '@odata.type': '#microsoft.graph.security.fileEvidence',
        remediationStatus: 'remediated',
        detectionStatus: 'detected',
        fileDetails: {
          sha1: '5f1e8acedc065031aad553b710838eb366cfee9a',
          sha256: '8963a19fb992ad9a76576c5638fd68292cffb9aaac29eb8285f9abf6196a7dec',
          md5: '0123456789abcdef0123456789abcdef',
          fileName: 'MsSense.exe',
          filePath: 'C:\\Program Files\\temp',
        },
      },
      {
        '@odata.type': '#microsoft.graph.security.processEvidence',
        processCommandLine: '"MsSense.exe" -run',
        detectionStatus: 'prevented',
        imageFile: { sha1: 'ffff', fileName: 'other.exe', filePath: 'C:\\other' },
      },
      { '@odata.type': '#microsoft.graph.security.ipEvidence', ipAddress: '203.0.113.9' },
      { '@odata.type': '#microsoft.graph.security.urlEvidence', url: 'https://bad.example/x' },
      { '@odata.type': '#microsoft.graph.security.userEvidence', userAccount: { accountName: 'alice', domainName: 'UK' } },
    ],
    ...overrides,
  };
}

describe('toSiemDetection', () => {
  it('gives all 50 SIEM fields in the documented order', () => {
    assert.deepEqual(Object.keys(toSiemDetection(sampleAlert())), [...DETECTION_FIELDS]);
    assert.deepEqual(Object.keys(toSiemDetection({})), [...DETECTION_FIELDS]);
  });

  it('maps the alert following Microsoft’s SIEM → alerts_v2 table', () => {
    const d = toSiemDetection(sampleAlert());
    assert.equal(d.AlertTime, '2021-04-27T12:19:27.7211305Z');
    assert.equal(d.AlertTitle, 'Suspicious execution of hidden file');
    assert.equal(d.Category, 'DefenseEvasion');
    assert.equal(d.Severity, 'High');
    assert.equal(d.AlertId, 'da637551227677560813_-961444813');
    assert.equal(d.FullId, 'da637551227677560813_-961444813');
    assert.equal(d.LastProcessedTimeUtc, '2021-05-02T14:19:01.3266667Z');
    assert.equal(d.Actor, 'CINDER TEMPEST');
    assert.equal(d.LinkToWDATP, 'https://security.microsoft.com/alerts/da637551227677560813_-961444813?tid=t');
    assert.equal(d.LinkToMTP, d.LinkToWDATP);
    assert.equal(d.IncidentLinkToWDATP, 'https://security.microsoft.com/incidents/28282?tid=t');
    assert.equal(d.IncidentLinkToMTP, d.IncidentLinkToWDATP);
    assert.equal(d.IoaDefinitionId, 'e0da400f-affd-43ef-b1d5-afc2eb6f2756');
    assert.equal(d.ThreatCategory, 'T1564.001,T1059');
    assert.equal(d.ThreatFamily, 'Emotet');
    assert.equal(d.ThreatName, 'Trojan:Win32/Emotet.RT!MTB');
    assert.equal(d.Source, 'Antivirus');
    assert.equal(d.Description, 'A hidden file has been launched.');
  });

  it('takes the device, file, process, network and user fields from their evidence', () => {
    const d = toSiemDetection(sampleAlert());
    assert.equal(d.ComputerDnsName, 'lon-ws-0042.uk.contoso.com');
    assert.equal(d.MachineName, 'lon-ws-0042');
    assert.equal(d.MachineDomain, 'uk.contoso.com');
    assert.equal(d.MachineGroup, 'UKMachines');
    assert.equal(d.DeviceID, '73e7e2de709dff64ef64b1d0c30e67fab63279db');
    assert.equal(d.LogOnUsers, 'UK\\alice;UK\\bob');
    assert.equal(d.InternalIPv4List, '10.1.2.3;127.0.0.1');
    assert.equal(d.InternalIPv6List, 'fe80::1:2:3:4;::1');
    assert.equal(d.DeviceCreatedMachineTags, 'VIP,Laptop');
    assert.equal(d.CloudCreatedMachineTags, 'VIP,Laptop');
    // File evidence wins over the process image, as Microsoft's table says.
    assert.equal(d.Sha1, '5f1e8acedc065031aad553b710838eb366cfee9a');
    assert.equal(d.FileName, 'MsSense.exe');
    assert.equal(d.FilePath, 'C:\\Program Files\\temp');
    assert.equal(d.Sha256, '8963a19fb992ad9a76576c5638fd68292cffb9aaac29eb8285f9abf6196a7dec');
    assert.equal(d.Md5, '0123456789abcdef0123456789abcdef');
    assert.equal(d.FileHash, '5f1e8acedc065031aad553b710838eb366cfee9a');
    assert.equal(d.CommandLine, '"MsSense.exe" -run');
    assert.equal(d.WasExecutingWhileDetected, false, 'processEvidence "prevented": it never ran');
    assert.equal(d.RemediationAction, 'remediated');
    assert.equal(d.RemediationIsSuccess, true);
    assert.equal(d.IpAddress, '203.0.113.9');
    assert.equal(d.Url, 'https://bad.example/x');
    assert.equal(d.UserName, 'alice');
    assert.equal(d.UserDomain, 'UK');
  });

  it('leaves the fields Graph has no counterpart for empty', () => {
    const d = toSiemDetection(sampleAlert());
    for (const field of ['IocName', 'IocValue', 'CreatorIocName', 'CreatorIocValue', 'AlertPart', 'ReportID', 'ExternalId', 'IocUniqueId'] as const) {
      assert.equal(d[field], '', field);
    }
  });

  it('falls back to the process image file, and to null booleans, when evidence is missing', () => {
    const alert = sampleAlert();
    alert.evidence = (alert.evidence as Array<Record<string, unknown>>).filter((e) => e['@odata.type'] !== '#microsoft.graph.security.fileEvidence');
    const d = toSiemDetection(alert);
    assert.equal(d.FileName, 'other.exe');
    assert.equal(d.Sha1, 'ffff');
    assert.equal(d.Sha256, '');
    const bare = toSiemDetection({ id: 'x', severity: 'informational', detectionSource: 'microsoftDefenderForEndpoint', evidence: [] });
    assert.equal(bare.Severity, 'Informational');
    assert.equal(bare.Source, 'EDR');
    assert.equal(bare.WasExecutingWhileDetected, null);
    assert.equal(bare.RemediationIsSuccess, null);
    assert.equal(bare.ComputerDnsName, '');
    assert.equal(bare.MachineGroup, '');
  });

  it('capitalises detection sources without a SIEM name', () => {
    assert.equal(toSiemDetection({ detectionSource: 'customTi' }).Source, 'CustomTI');
    assert.equal(toSiemDetection({ detectionSource: 'microsoftThreatExperts' }).Source, 'ThreatExperts');
    assert.equal(toSiemDetection({ detectionSource: 'manual' }).Source, 'Manual');
    assert.equal(toSiemDetection({ detectionSource: 'microsoftThreatIntelligence' }).Source, 'MicrosoftThreatIntelligence');
  });

  it('maps Graph\'s placeholder unknownFutureValue to no value, never to text', () => {
    const alert = sampleAlert({ severity: 'unknownFutureValue', detectionSource: 'unknownFutureValue' });
    alert.evidence = (alert.evidence as Array<Record<string, unknown>>).map((e) =>
      e['@odata.type'] === '#microsoft.graph.security.deviceEvidence' ? e : { ...e, remediationStatus: 'unknownFutureValue', detectionStatus: 'unknownFutureValue' });
    const d = toSiemDetection(alert);
    assert.deepEqual([d.Severity, d.Source, d.RemediationAction], ['', '', '']);
    assert.deepEqual([d.RemediationIsSuccess, d.WasExecutingWhileDetected], [null, null]);
    assert.ok(!JSON.stringify(d).toLowerCase().includes('unknownfuturevalue'));
  });

  it('implies RemediationIsSuccess from the remediation statuses Graph added after the placeholder too', () => {
    const outcome = (remediationStatus: string): unknown => toSiemDetection({ evidence: [{ '@odata.type': '#microsoft.graph.security.fileEvidence', remediationStatus }] });
    const implied = Object.fromEntries(['unremediated', 'partiallyRemediated', 'declined', 'active', 'pendingApproval', 'running'].map((s) => {
      const d = outcome(s) as { RemediationAction: string; RemediationIsSuccess: boolean | null };
      assert.equal(d.RemediationAction, s);
      return [s, d.RemediationIsSuccess];
    }));
    assert.deepEqual(implied, { unremediated: false, partiallyRemediated: false, declined: false, active: null, pendingApproval: null, running: null });
  });

  it('takes Category from categories, which replaces the deprecated category, joined with ","; else from category', () => {
    assert.equal(toSiemDetection(sampleAlert({ category: undefined, categories: ['Malware'] })).Category, 'Malware');
    assert.equal(toSiemDetection(sampleAlert({ categories: ['Execution', '', 'Persistence'] })).Category, 'Execution,Persistence');
    assert.equal(toSiemDetection(sampleAlert({ categories: [] })).Category, 'DefenseEvasion');
    assert.equal(toSiemDetection(sampleAlert({ categories: null })).Category, 'DefenseEvasion');
    assert.equal(toSiemDetection({ id: 'x' }).Category, '');
  });
});

describe('native alerts', () => {
  it('are identified by id|lastUpdateDateTime and ordered by lastUpdateDateTime', () => {
    const alert = sampleAlert();
    assert.equal(GRAPH_NATIVE_ACCESSOR.key(alert), 'da637551227677560813_-961444813|2021-05-02T14:19:01.3266667Z');
    assert.equal(GRAPH_NATIVE_ACCESSOR.time(alert), '2021-05-02T14:19:01.3266667Z');
  });

  it('get the same kind of topic as SIEM detections', () => {
    assert.equal(graphAlertTopic(sampleAlert()), '[High] Suspicious execution of hidden file on lon-ws-0042.uk.contoso.com');
    assert.equal(GRAPH_NATIVE_ACCESSOR.topic({ title: 'a\nb' }), '[Unknown] a b');
    assert.equal(GRAPH_NATIVE_ACCESSOR.topic({ title: 'a', severity: 'unknownFutureValue' }), '[Unknown] a');
  });
});

describe('matchesDeviceFilter', () => {
  it('applies machine groups and tags to the device evidence, case-insensitively', () => {
    const alert = sampleAlert();
    assert.equal(matchesDeviceFilter(alert, {}), true);
    assert.equal(matchesDeviceFilter(alert, { machinegroups: ['ukmachines', 'Servers'] }), true);
    assert.equal(matchesDeviceFilter(alert, { machinegroups: ['FranceMachines'] }), false);
    assert.equal(matchesDeviceFilter(alert, { tags: ['vip'] }), true);
    assert.equal(matchesDeviceFilter(alert, { tags: ['vip', 'laptop'] }), true);
    assert.equal(matchesDeviceFilter(alert, { tags: ['vip', 'Finance'] }), false);
    assert.equal(matchesDeviceFilter({ evidence: [] }, { machinegroups: ['UKMachines'] }), false);
  });
});
