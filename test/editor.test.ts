/**
 * What the editor saves must be what the runtime reads: the dialogs' defaults, the example flows and the
 * message catalogs are checked against the runtime's own lists.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { inspect } from 'node:util';
import { describe, it } from 'node:test';
import vm from 'node:vm';
import { ALERT_ENUMS } from '../src/defender/writing/alert-update';
import { INCIDENT_ENUMS } from '../src/defender/writing/incident-update';
import { MESSAGES } from '../src/defender/messages';
import { INCIDENT_QUERY } from '../src/defender/services/incidents';
import { ISO_DATE_TIME, parseQuery } from '../src/defender/pulling/query';
import { REGIONS, resolveConnection } from '../src/defender/services/regions';
import { AUTH_MODES } from '../src/defender/sign-in/credential';
import { resolveSignIn } from '../src/defender/sign-in/modes';
import { NODE_PROPERTIES, type NodeType } from '../src/nodes/properties';
import { INCIDENTS_NODE, readIncidentsSettings, readSettings } from '../src/nodes/settings';
import { ALERT_UPDATE_NODE, INCIDENT_UPDATE_NODE } from '../src/nodes/update-node';
import { readUpdateSettings, type UpdateNodeProperties, updateProperty } from '../src/nodes/update-settings';
import { runtimeKey } from '../src/nodes/language';

const root = path.resolve(__dirname, '..', '..');
const read = (p: string): string => fs.readFileSync(path.join(root, p), 'utf8');
/** The nodes as this build assembled them: dist, or the BUILD_DIR the tests were compiled into. */
const built = path.resolve(__dirname, '..', 'src', 'nodes');

const RUNTIME = 'defender-detections.runtime.';
const INCIDENTS_RUNTIME = 'defender-incidents.runtime.';

/** A catalog as "a.b.c" → text. */
function flatten(o: unknown, prefix = ''): Record<string, string> {
  if (typeof o === 'string') return { [prefix.slice(0, -1)]: o };
  return Object.assign({}, ...Object.entries(o as object).map(([k, v]) => flatten(v, `${prefix}${k}.`)));
}

/** The update nodes, each with the values Graph lets a client set. */
const UPDATE_NODES = [
  { spec: ALERT_UPDATE_NODE, enums: ALERT_ENUMS },
  { spec: INCIDENT_UPDATE_NODE, enums: INCIDENT_ENUMS },
] as const;

/** The table of defaults the build wrote into a dialog. */
function builtDefaults(type: string): unknown {
  const html = fs.readFileSync(path.join(built, `${type}.html`), 'utf8');
  // The table is the call's argument, on the line that ends the written-in function.
  const m = /var properties = \([\s\S]*?function nodeProperties[\s\S]*?\n\}\)\((\{[^\n]*\})\);\n/.exec(html);
  assert.ok(m, `${type}.html: the build did not write the properties table`);
  return JSON.parse(m[1]);
}

type Validator = (this: Record<string, unknown>, value: unknown) => true | string;
interface EditorDefinition {
  defaults: Record<string, { value?: unknown; validate?: Validator }>;
  label: (this: Record<string, unknown>) => string;
}

/** The editor's RED._ over one language's catalog of a node set: "<module>/<set>:<key>" or the key alone. */
function editorTranslate(set: string, lang: string): (key: string, vars?: Record<string, unknown>) => string {
  const catalog = flatten(JSON.parse(read(`nodes/locales/${lang}/${set}.json`)));
  return (key, vars) => {
    const bare = key.slice(key.indexOf(':') + 1);
    return bare in catalog ? catalog[bare].replace(/__(\w+)__/g, (whole, name: string) => (vars && name in vars ? String(vars[name]) : whole)) : key;
  };
}

/**
 * Runs a node's editor script as the build wrote it (with its table of defaults) and the editor runs it,
 * with just enough of RED and jQuery (no dialog open), and answers what it registered.
 */
function registeredType(type: string, translate: (key: string, vars?: Record<string, unknown>) => string = (key) => key): EditorDefinition {
  const html = fs.readFileSync(path.join(built, `${type}.html`), 'utf8');
  const script = /<script type="text\/javascript">([\s\S]*?)<\/script>/.exec(html)?.[1];
  assert.ok(script, 'no editor script');
  const registered: Record<string, EditorDefinition> = {};
  const RED = {
    _: translate,
    nodes: { registerType: (name: string, definition: EditorDefinition) => (registered[name] = definition) },
    events: { on: () => undefined },
  };
  const $ = Object.assign(() => ({ length: 0, val: () => undefined }), { extend: (...objects: object[]) => Object.assign({}, ...objects) });
  vm.runInNewContext(script, { RED, $, URL });
  assert.ok(registered[type], `${type} was not registered`);
  return registered[type];
}

describe('editor and runtime agree', () => {
  for (const type of Object.keys(NODE_PROPERTIES) as NodeType[]) {
    it(`the ${type} dialog has the defaults the runtime reads, written in by the build, and validates only declared properties`, () => {
      assert.deepEqual(builtDefaults(type), NODE_PROPERTIES[type]);
      assert.match(read(`nodes/${type}.html`), /defaults: (properties|dialog)\.defaults\(\{/, 'the dialog does not build its defaults from the declared properties');
      // properties.defaults() throws for a property the table does not declare: registering is the check.
      const { defaults } = registeredType(type);
      assert.deepEqual(Object.keys(defaults).sort(), Object.keys(NODE_PROPERTIES[type]).sort());
      assert.ok(Object.values(defaults).some((spec) => spec.validate), 'no validator at all');
    });
  }

  it('the runtime reads a detections or incidents node without properties as one with every declared default written out', () => {
    const { name: _name, defender: _defender, ...declared } = NODE_PROPERTIES['defender-detections'];
    assert.deepEqual(inspect(readSettings({})), inspect(readSettings(declared)));
    const { name: _n, defender: _d, ...incidents } = NODE_PROPERTIES['defender-incidents'];
    assert.deepEqual(inspect(readIncidentsSettings({})), inspect(readIncidentsSettings(incidents)));
  });

  it('the config dialog keeps every credential a password and offers every region and sign-in mode', () => {
    const html = read('nodes/defender-config.html');
    const block = /credentials: \{([^}]*(?:\}[^}]*)*?)\n\s*\},/.exec(html)?.[1] ?? '';
    const declared = [...block.matchAll(/(\w+): \{ type: "(\w+)" \}/g)].map((m) => `${m[1]}:${m[2]}`);
    assert.deepEqual(declared, ['clientSecret:password', 'privateKey:password', 'privateKeyPassphrase:password', 'redisPassword:password']);
    for (const mode of AUTH_MODES) assert.ok(html.includes(`<option value="${mode}"`), `sign-in mode ${mode} missing from the dialog`);
    for (const region of REGIONS) assert.ok(html.includes(`"${region}"`), `region ${region} missing from the dialog`);
  });

  it('the incidents dialog knows the values Graph filters incidents on as the runtime does', () => {
    const listed = /var FILTERS = (\{[\s\S]*?\});/.exec(read('nodes/defender-incidents.html'))?.[1];
    const editor = JSON.parse(JSON.stringify(vm.runInNewContext(`(${listed ?? '{}'})`))) as Record<string, string[]>;
    const runtime = Object.fromEntries(Object.entries(INCIDENTS_NODE.fields).map(([property, key]) => [property, key]));
    for (const [property, values] of Object.entries(editor)) {
      for (const value of values) assert.doesNotThrow(() => parseQuery({ [runtime[property]]: value.toUpperCase() }, INCIDENT_QUERY), `${property} ${value}`);
      assert.throws(() => parseQuery({ [runtime[property]]: values.join('') }, INCIDENT_QUERY), `${property}`);
    }
    assert.deepEqual(Object.keys(editor).sort(), ['classification', 'determination', 'incidentStatus', 'severity']);
  });

  for (const { spec, enums } of UPDATE_NODES) {
    const { type } = spec;
    it(`the ${type} dialog offers Graph's values as the runtime knows them, in any case`, () => {
      const listed = /var ENUMS = (\{[\s\S]*?\});/.exec(read(`nodes/${type}.html`))?.[1];
      assert.deepEqual(JSON.parse(JSON.stringify(vm.runInNewContext(`(${listed ?? '{}'})`))), JSON.parse(JSON.stringify(enums)));
      const { defaults } = registeredType(type);
      for (const [field, values] of Object.entries(enums)) {
        const property = updateProperty(spec, field);
        const validate = defaults[property].validate as Validator;
        for (const value of values) assert.equal(validate.call({}, value.toUpperCase()), true, `${field} ${value}`);
        assert.notEqual(validate.call({}, 'closed'), true, `${field} "closed" is not refused`);
        assert.equal(validate.call({ [`${property}Type`]: 'flow' }, 'triage.status'), true);
        assert.notEqual(validate.call({ [`${property}Type`]: 'flow' }, ''), true, 'a context source needs a key');
      }
    });

    it(`names every Graph value the ${type} dialog offers in Japanese, with the value after it, in the options and the node's label`, () => {
      const ja = flatten(JSON.parse(read(`nodes/locales/ja/${type}.json`)));
      const en = flatten(JSON.parse(read(`nodes/locales/en-US/${type}.json`)));
      // Microsoft's Japanese keeps a few words as they are (APT).
      const sameInJapanese = new Set(['apt']);
      for (const [field, values] of Object.entries(enums)) {
        for (const value of values) {
          const label = ja[`${type}.values.${field}.${value}`];
          assert.ok(label, `${field} ${value} has no Japanese label`);
          if (!sameInJapanese.has(value)) assert.match(label, /[\u3040-\u30ff\u4e00-\u9fff]/, `${field} ${value}: "${label}" is not Japanese`);
          assert.equal(en[`${type}.values.${field}.${value}`], value, `${field} ${value}: English shows Graph's word`);
        }
        const labelled = Object.keys(ja).filter((k) => k.startsWith(`${type}.values.${field}.`)).map((k) => k.split('.').pop());
        assert.deepEqual(labelled.sort(), [...values].sort(), `${field}: a Japanese label for a value Graph does not have`);
      }
      const translate = editorTranslate(type, 'ja');
      const { label } = registeredType(type, translate);
      const node = { [spec.statusProperty]: 'RESOLVED', classification: 'truePositive', determination: 'apt', _: translate };
      assert.equal(label.call(node), '解決済み (resolved) · 真陽性 (truePositive) · APT (apt)');
      assert.equal(label.call({ ...node, determination: 'notAGraphValue' }), '解決済み (resolved) · 真陽性 (truePositive) · notAGraphValue');
      const english = editorTranslate(type, 'en-US');
      assert.equal(registeredType(type, english).label.call({ ...node, _: english }), 'resolved · truePositive · apt');
    });

    it(`keeps a ${type} node saved without its optional properties, or with null for them, valid in the editor, and means their defaults in the runtime`, () => {
      const { defaults } = registeredType(type);
      const { name: _name, defender: _defender, ...declared } = NODE_PROPERTIES[type];
      // Some pipelines write a property they have no value for as null: the same as leaving it out.
      const nulls: UpdateNodeProperties = Object.fromEntries(Object.keys(declared).map((name) => [name, null]));
      for (const name of Object.keys(declared)) {
        const validate = defaults[name].validate;
        if (validate) assert.equal(validate.call({}, undefined), true, `${name} absent is refused`);
        if (validate) assert.equal(validate.call({ ...nulls }, null), true, `${name} null is refused`);
      }
      assert.deepEqual(inspect(readUpdateSettings(spec, {})), inspect(readUpdateSettings(spec, declared)));
      assert.deepEqual(inspect(readUpdateSettings(spec, nulls)), inspect(readUpdateSettings(spec, declared)));
    });

    it(`the ${type} dialog accepts what a user types exactly when the runtime does`, () => {
      const { defaults } = registeredType(type);
      const values = ['', '  ', 'inProgress', 'INPROGRESS', ' resolved ', 'closed', 'active', 'redirected', 'truePositive', 'malware', 'soc@example.com', 'e-mailed', 'VIP, Ransomware', ',', 'triage.status', '0'];
      // An environment variable is the runtime's to read (the dialog cannot know it is set): left out here.
      const sources = ['', 'str', 'msg', 'flow', 'global', 'nope'];
      const disagree: string[] = [];
      for (const field of spec.kind.fields.map((f) => updateProperty(spec, f))) {
        for (const source of sources) {
          for (const value of values) {
            const node = { [field]: value, [`${field}Type`]: source };
            const typeValid = defaults[`${field}Type`].validate?.call(node, source) ?? true;
            const editor = typeValid === true && defaults[field].validate?.call(node, value) === true;
            let runtime = true;
            try {
              readUpdateSettings(spec, node as never);
            } catch {
              runtime = false;
            }
            if (editor !== runtime) disagree.push(`${field}=${JSON.stringify(value)} from ${JSON.stringify(source)}: the dialog ${editor ? 'accepts' : 'refuses'} it, the runtime ${runtime ? 'accepts' : 'refuses'} it`);
          }
        }
      }
      assert.deepEqual(disagree, []);
    });
  }

  // What a user can type into a field, or a flow can hold: each must be accepted by the dialog exactly when
  // the runtime accepts it (an empty or blank field means the default its placeholder shows, in both).
  const TYPED = ['', '  ', '0', '-1', '1', ' 7 ', '2.5', '1e3', '0x10', '10', '11', '3600', '3601', '4096', '4097', 'abc', 'true',
    'PT0S', 'PT2H', 'pt2h', 'P1D', 'P1M', 'P', 'PT', 'P1DT', 'PT1,5M', 'P1,5D', 'pt1,5h', 'PT0.5S', 'P1DT2H', '2026-11-01T00:00:00Z', '2026-11-01T09:00:00.123+09:00', '2026-11-01T10:00+0900',
    '2026-11-01', '2026-11-01Z', '2026-11-01t10:00z', '2026-02-30', '2026-11-01T24:00', '2026-11', '2026-W44', '10:00',
    'UKMachines', 'UKMachines, FranceMachines', 'a,,b', ',', 'active', 'Active, inprogress', 'closed', 'high', 'soc@contoso.com', 'malware, apt', 'include', 'none'];
  // The fields a node reads in each mode: in incremental mode it picks the window itself (the dialog greys the
  // time fields out); an explicit node has no initial window or overlap.
  const UNREAD = { incremental: ['sinceTimeUtc', 'untilTimeUtc', 'ago'], explicit: ['initialAgo', 'overlap'] };

  const PULL_NODES = [['defender-detections', readSettings], ['defender-incidents', readIncidentsSettings]] as const;
  for (const [type, read] of PULL_NODES) for (const mode of ['incremental', 'explicit'] as const) {
    it(`the ${type} dialog accepts what a user types exactly when the runtime does (${mode} mode)`, () => {
      const { defaults } = registeredType(type);
      const disagree: string[] = [];
      let compared = 0;
      for (const [name, spec] of Object.entries(defaults)) {
        if (!spec.validate || name === 'defender' || UNREAD[mode].includes(name)) continue;
        for (const value of TYPED) {
          const node = { incremental: mode === 'incremental', [name]: value };
          const editor = spec.validate.call(node, value) === true;
          let runtime = true;
          try {
            read(node as never);
          } catch {
            runtime = false;
          }
          compared++;
          if (editor !== runtime) disagree.push(`${name}=${JSON.stringify(value)}: the dialog ${editor ? 'accepts' : 'refuses'} it, the runtime ${runtime ? 'accepts' : 'refuses'} it`);
        }
      }
      assert.deepEqual(disagree, []);
      assert.ok(compared > 300, `only ${compared} values compared`);
    });
  }

  it('the config dialog accepts what a user types exactly when the runtime does', () => {
    const { defaults } = registeredType('defender-config');
    const GUID_ID = '00000000-0000-0000-0000-000000000001';
    const bases: Array<Record<string, string>> = [
      { auth: 'secret', region: 'eu', api: 'siem', tenantId: GUID_ID, clientId: 'app' },
      { auth: '', region: 'us-dod', api: 'graph', tenantId: 'contoso.onmicrosoft.com', clientId: 'app' },
      { auth: 'secret', region: 'custom', api: 'graph', apiBaseUrl: 'https://graph.example', authorityUrl: 'https://login.example', tenantId: GUID_ID, clientId: 'app' },
      { auth: 'managed-identity', region: 'custom', api: 'siem', apiBaseUrl: 'http://127.0.0.1:8080', tenantId: '', clientId: '' },
    ];
    const values: Record<string, string[]> = {
      tenantId: ['', '  ', GUID_ID, ` ${GUID_ID} `, 'contoso.onmicrosoft.com', 'contoso', 'a/b', 'a..b.com', 'x%2f.com', 'a b.com'],
      clientId: ['', '  ', 'app', ' app ', GUID_ID, 'a/b', 'a?b', 'a b'],
      region: ['', 'eu', 'us', 'uk', 'us-gov', 'us-dod', 'custom', 'mars', 'EU'],
      api: ['', 'siem', 'graph', 'Graph', 'rest'],
      apiBaseUrl: ['', '  ', 'https://api.example', 'http://127.0.0.1:1', 'http://localhost:1', 'http://api.example', 'ftp://x', 'https://u:p@x', 'https://x/?a=1', 'https://x/#h', 'not a url'],
      authorityUrl: ['', 'https://login.example', 'http://api.example', 'nope'],
      resource: ['', 'https://api.securitycenter.microsoft.com', ' https://r ', 'a b'],
      auth: ['', 'secret', 'managed-identity', 'token', 'Secret'],
      managedIdentityClientId: ['', GUID_ID, 'a b', 'a/b'],
    };
    const disagree: string[] = [];
    for (const base of bases) {
      for (const [name, typed] of Object.entries(values)) {
        for (const value of typed) {
          const node: Record<string, string> = { ...base, [name]: value };
          // Node-RED marks a node when any one of its properties is refused.
          const editor = Object.entries(defaults).every(([property, spec]) => !spec.validate || spec.validate.call(node, node[property] ?? (NODE_PROPERTIES['defender-config'] as Record<string, unknown>)[property]) === true);
          let runtime = true;
          try {
            resolveSignIn(node as never, { clientSecret: 'secret' }, {});
          } catch {
            runtime = false;
          }
          if (editor !== runtime) disagree.push(`${name}=${JSON.stringify(value)} with ${JSON.stringify(base)}: the dialog ${editor ? 'accepts' : 'refuses'} it, the runtime ${runtime ? 'accepts' : 'refuses'} it`);
        }
      }
    }
    assert.deepEqual(disagree, []);
  });

  it('the dialogs and the runtime read a date-time by the same pattern', () => {
    const editor = /\n\s*var DATE_TIME = (\/.*\/);\n/.exec(read('nodes/editor/pull-dialog.js'))?.[1];
    assert.equal(editor, String(ISO_DATE_TIME));
  });

  it('has the same message keys in English and Japanese', () => {
    for (const file of ['defender-config.json', 'defender-detections.json', 'defender-alert-update.json', 'defender-incidents.json', 'defender-incident-update.json']) {
      const en = Object.keys(flatten(JSON.parse(read(`nodes/locales/en-US/${file}`))));
      // The runtime's error texts are in English in messages.ts, translated under `runtime` (next test).
      const ja = Object.keys(flatten(JSON.parse(read(`nodes/locales/ja/${file}`)))).filter((k) => !k.startsWith(RUNTIME) && !k.startsWith(INCIDENTS_RUNTIME));
      assert.deepEqual(ja.sort(), en.sort(), file);
    }
  });

  it('translates every runtime error text into Japanese with the same placeholders, each in the catalog the runtime reads it from', () => {
    // The incidents nodes' own texts (incident.*) live in their catalog, the others in the detections node's.
    const ja = { ...flatten(JSON.parse(read('nodes/locales/ja/defender-detections.json'))), ...flatten(JSON.parse(read('nodes/locales/ja/defender-incidents.json'))) };
    const key = (id: string): string => runtimeKey(id).slice(runtimeKey(id).indexOf(':') + 1);
    const translated = Object.keys(ja).filter((k) => k.startsWith(RUNTIME) || k.startsWith(INCIDENTS_RUNTIME));
    assert.deepEqual(translated.sort(), Object.keys(MESSAGES).map(key).sort());
    const placeholders = (text: string) => (text.match(/__\w+?__/g) ?? []).sort();
    for (const [id, english] of Object.entries(MESSAGES)) {
      assert.deepEqual(placeholders(ja[key(id)]), placeholders(english), id);
    }
  });
});

describe('example flows', () => {
  const allowed = new Set([
    'tab', 'comment', 'inject', 'debug', 'catch', 'complete', 'status', 'switch', 'change', 'template', 'join', 'split',
    'http request', 'function', 'delay', 'e-mail', 'defender-config', 'defender-detections', 'defender-alert-update', 'defender-incidents', 'defender-incident-update',
  ]);
  const files = fs.readdirSync(path.join(root, 'examples')).filter((f) => f.endsWith('.json'));

  it('there are the promised examples, and every node of the package is in one (the Flow Library asks for that)', () => {
    assert.equal(files.length, 6);
    const used = new Set(files.flatMap((f) => (JSON.parse(read(`examples/${f}`)) as Array<{ type: string }>).map((n) => n.type)));
    for (const type of Object.keys(NODE_PROPERTIES)) assert.ok(used.has(type), `no example uses ${type}`);
  });

  for (const file of files) {
    it(`${file} uses only core nodes, e-mail and ours, with settings the runtime accepts and no secret`, () => {
      const flow = JSON.parse(read(`examples/${file}`)) as Array<Record<string, unknown>>;
      for (const n of flow) assert.ok(allowed.has(String(n.type)), `${file}: node type ${String(n.type)} is not core`);
      const configs = flow.filter((n) => n.type === 'defender-config');
      assert.equal(configs.length, 1);
      assert.equal(configs[0].credentials, undefined, 'an example must not carry credentials');
      assert.doesNotThrow(() => resolveConnection(configs[0] as never));
      const detections = flow.filter((n) => n.type === 'defender-detections');
      const incidents = flow.filter((n) => n.type === 'defender-incidents');
      const updates = UPDATE_NODES.flatMap(({ spec }) => flow.filter((n) => n.type === spec.type).map((n) => ({ spec, n })));
      assert.ok(detections.length + incidents.length + updates.length >= 1);
      for (const d of [...detections, ...incidents]) {
        assert.equal(d.defender, configs[0].id);
        assert.doesNotThrow(() => (d.type === 'defender-incidents' ? readIncidentsSettings(d) : readSettings(d)));
        assert.equal((d.wires as unknown[]).length, 2, 'both outputs wired');
      }
      for (const { spec, n } of updates) {
        assert.equal(n.defender, configs[0].id);
        assert.doesNotThrow(() => readUpdateSettings(spec, n));
      }
    });
  }
});
