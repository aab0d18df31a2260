import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import vm from 'node:vm';
import {
  ALERT_CLASSIFICATIONS, ALERT_DETERMINATIONS, ALERT_ENUMS, ALERT_STATUSES, findAlertId, parseAlertChanges, parseAlertValue, parseUpdateObject,
  requireChanges, validateAlertId,
} from '../../../src/defender/writing/alert-update';
import { thrown } from '../../fixtures/thrown';

describe('the change set of an alert update', () => {
  it('takes every value of each of Graph\'s enums in any case and answers it in Graph\'s casing', () => {
    assert.deepEqual(ALERT_STATUSES, ['new', 'inProgress', 'resolved']);
    assert.equal(ALERT_CLASSIFICATIONS.length, 4);
    assert.equal(ALERT_DETERMINATIONS.length, 15);
    for (const [field, values] of Object.entries(ALERT_ENUMS) as Array<[keyof typeof ALERT_ENUMS, readonly string[]]>) {
      for (const value of values) {
        assert.equal(parseAlertValue(field, value), value);
        assert.equal(parseAlertValue(field, value.toUpperCase()), value);
        assert.equal(parseAlertValue(field, `  ${value.toLowerCase()} `), value);
      }
    }
  });

  it('refuses a value Graph does not know with the valid ones, as INVALID_QUERY', () => {
    const status = thrown(() => parseAlertValue('status', 'closed'));
    assert.equal(status.code, 'INVALID_QUERY');
    assert.equal(status.message, 'status must be one of new, inProgress, resolved (in any case), got "closed"');
    assert.match(thrown(() => parseAlertValue('determination', 'clean')).message, /^determination must be one of unknown, apt, malware, .*lineOfBusinessApplication \(in any case\), got "clean"$/);
    assert.match(thrown(() => parseAlertValue('classification', 'unknownFutureValue')).message, /classification must be one of unknown, falsePositive, truePositive, informationalExpectedActivity/);
  });

  it('reads empty as "leave it as it is", null only as "unassign", and refuses what is not text', () => {
    assert.equal(parseAlertValue('status', ''), undefined);
    assert.equal(parseAlertValue('comment', '   '), undefined);
    assert.equal(parseAlertValue('assignedTo', undefined), undefined);
    assert.equal(parseAlertValue('assignedTo', null), null);
    assert.match(thrown(() => parseAlertValue('status', null)).message, /^status cannot be null/);
    assert.equal(thrown(() => parseAlertValue('assignedTo', 42)).message, 'assignedTo must be text, got 42');
    assert.equal(thrown(() => parseAlertValue('comment', { text: 'x' })).message, 'comment must be text, got {"text":"x"}');
  });

  it('keeps a comment as written and an owner without stray spaces', () => {
    assert.equal(parseAlertValue('comment', ' E-mailed.\nTicket INC-42 '), ' E-mailed.\nTicket INC-42 ');
    assert.equal(parseAlertValue('assignedTo', ' soc@contoso.com '), 'soc@contoso.com');
  });

  it('lets a field given empty keep another change set\'s value out when spread over it', () => {
    const node = parseAlertChanges({ status: 'inProgress', assignedTo: 'soc@contoso.com' });
    const message = parseAlertChanges({ status: '' });
    assert.deepEqual(requireChanges({ ...node, ...message }), { assignedTo: 'soc@contoso.com' });
    assert.equal(thrown(() => requireChanges({ ...node, ...parseAlertChanges({ status: '', assignedTo: '' }) })).message,
      'nothing to change: give status, classification, determination, assignedTo or comment in the node or in msg.update');
  });

  it('reads msg.update with keys in any case, from any realm, and refuses unknown keys and non-objects', () => {
    assert.deepEqual(parseUpdateObject({ Status: 'RESOLVED', CLASSIFICATION: 'falsepositive', determination: 'NotMalicious' }), {
      status: 'resolved', classification: 'falsePositive', determination: 'notMalicious',
    });
    // What a function node builds has another realm's Object.prototype.
    assert.deepEqual(parseUpdateObject(vm.runInNewContext('({ status: "inprogress", assignedTo: null })')), { status: 'inProgress', assignedTo: null });
    assert.equal(thrown(() => parseUpdateObject({ state: 'new' })).message,
      'unknown property "state" in msg.update: the known ones are status, classification, determination, assignedTo, comment');
    assert.equal(thrown(() => parseUpdateObject(['resolved'])).message, 'msg.update must be an object such as {"status": "inProgress"}, got an array');
    assert.equal(thrown(() => parseUpdateObject('resolved')).code, 'INVALID_QUERY');
  });
});

describe('the alert id', () => {
  it('comes from msg.alertId, else the payload\'s id (Graph), else its AlertId (SIEM)', () => {
    assert.equal(findAlertId({ alertId: 'da1_2', payload: { id: 'x', AlertId: 'y' } }), 'da1_2');
    assert.equal(findAlertId({ payload: { id: 'da637551227677560813_-961444813', AlertId: 'y' } }), 'da637551227677560813_-961444813');
    assert.equal(findAlertId({ payload: { AlertId: 'da3_4' } }), 'da3_4');
    assert.equal(findAlertId({ alertId: '', payload: vm.runInNewContext('({ id: "fa1-2.3" })') }), 'fa1-2.3');
  });

  it('is refused when missing, or when it could change which URL is asked', () => {
    assert.match(thrown(() => findAlertId({ payload: 1700000000000 })).message, /^no alert id: set msg.alertId/);
    for (const bad of ['a/b', 'a?b', 'a#b', 'a%2Fb', 'a..b', '..', 'a b', '', '-a', 'a\\b', 'é']) {
      const error = thrown(() => validateAlertId(bad, 'msg.alertId'));
      assert.equal(error.code, 'INVALID_QUERY', bad);
      assert.match(error.message, /^the alert id in msg.alertId must be an id such as da637551227677560813_-961444813/, bad);
    }
    assert.equal(thrown(() => findAlertId({ alertId: 42 })).message.endsWith('got 42'), true);
    // A bad msg.alertId is not passed over for the payload's id: the flow meant that one.
    assert.match(thrown(() => findAlertId({ alertId: '../x', payload: { id: 'da1_2' } })).message, /in msg.alertId/);
  });
});
