import assert from 'node:assert/strict';
import { inspect } from 'node:util';
import vm from 'node:vm';
import { describe, it } from 'node:test';
import { isDate, isPlainObject, reasonOf } from '../../src/defender/realm';
import { parseQuery, toSearchParams } from '../../src/defender/pulling/query';

/** Runs `code` in a fresh vm context, as a Node-RED function node runs its body. */
const inAnotherRealm = (code: string): unknown => vm.runInNewContext(code);

describe('values made in another realm', () => {
  it('takes object literals, JSON.parse results and null-prototype objects of any realm as plain objects', () => {
    for (const value of [
      inAnotherRealm('({ limit: 7 })'),
      inAnotherRealm('JSON.parse(\'{"limit": 7}\')'),
      inAnotherRealm('Object.create(null)'),
      { limit: 7 },
      Object.create(null) as object,
    ]) {
      assert.equal(isPlainObject(value), true, inspect(value));
    }
  });

  it('refuses arrays, Dates, Buffers, Maps, class instances and non-objects of any realm', () => {
    class Query {
      limit = 7;
    }
    for (const value of [
      inAnotherRealm('[1, 2]'),
      inAnotherRealm('new Date()'),
      inAnotherRealm('new Map()'),
      inAnotherRealm('new (class Query { constructor() { this.limit = 7; } })()'),
      inAnotherRealm('Object.create({ inherited: 1 })'),
      [1, 2],
      new Date(),
      Buffer.from('{}'),
      new Map(),
      new Query(),
      null,
      undefined,
      '{"limit": 7}',
      7,
    ]) {
      assert.equal(isPlainObject(value), false, inspect(value));
    }
  });

  it('knows a Date of another realm, and a query takes it as a time', () => {
    const date = inAnotherRealm('new Date(Date.UTC(2026, 10, 1))');
    assert.equal(date instanceof Date, false, 'the premise: instanceof fails across realms');
    assert.equal(isDate(date), true);
    const query = parseQuery(inAnotherRealm('({ sinceTimeUtc: new Date(Date.UTC(2026, 10, 1)), machinegroups: ["UK", "France"], limit: 7 })') as Record<string, unknown>);
    assert.equal(toSearchParams(query).toString(), 'sinceTimeUtc=2026-11-01T00%3A00%3A00.000Z&limit=7&machinegroups=UK&machinegroups=France');
  });

  it('reads the message of an Error of another realm', () => {
    assert.equal(reasonOf(inAnotherRealm('new TypeError("store offline")')), 'store offline');
    assert.equal(reasonOf('plain text'), 'plain text');
  });
});
