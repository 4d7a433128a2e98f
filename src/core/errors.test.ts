import { describe, expect, it } from 'vitest';
import { HV_ERROR_CODES, HvError, isHvError, isHvErrorJSON } from './errors.ts';

describe('HvError', () => {
  it('carries code, message and details', () => {
    const e = new HvError('pool-exhausted', 'cannot start web1: needs 128 MiB', { requestedMiB: 128 });
    expect(e).toBeInstanceOf(Error);
    expect(e.name).toBe('HvError');
    expect(e.code).toBe('pool-exhausted');
    expect(e.message).toBe('cannot start web1: needs 128 MiB');
    expect(e.details).toEqual({ requestedMiB: 128 });
  });

  it.each(HV_ERROR_CODES.map((code) => [code]))('round-trips code %s through JSON', (code) => {
    const e = new HvError(code, `failed with ${code}`, { n: 1, nested: { a: [1, 2] } });
    const back = HvError.from(JSON.parse(JSON.stringify(e)));
    expect(back).toBeInstanceOf(HvError);
    expect(back.toJSON()).toEqual(e.toJSON());
  });

  it('round-trips through structured clone', () => {
    const e = new HvError('not-found', 'no VM named db', { name: 'db' });
    const cloned: unknown = structuredClone(e.toJSON());
    expect(HvError.from(cloned).toJSON()).toEqual(e.toJSON());
  });

  it('returns the same instance for an HvError', () => {
    const e = new HvError('internal', 'x');
    expect(HvError.from(e)).toBe(e);
  });

  it.each([
    ['a plain Error', new TypeError('boom'), 'boom'],
    ['a string', 'boom', 'unexpected failure: boom'],
    ['JSON with an unknown code', { name: 'HvError', code: 'nope', message: 'm', details: {} }, 'unexpected failure: [object Object]'],
  ])('wraps %s as internal', (_what, value, message) => {
    const e = HvError.from(value);
    expect(e.code).toBe('internal');
    expect(e.message).toBe(message);
  });

  it.each([
    [new HvError('illegal-state', 'x'), undefined, true],
    [new HvError('illegal-state', 'x'), 'illegal-state', true],
    [new HvError('illegal-state', 'x'), 'not-found', false],
    [new HvError('illegal-state', 'x').toJSON(), 'illegal-state', true],
    [new Error('x'), undefined, false],
    [null, undefined, false],
    [{ name: 'HvError', code: 'not-found', message: 'm' }, undefined, false],
  ] as const)('isHvError(%o, %s) = %s', (value, code, expected) => {
    expect(isHvError(value, code)).toBe(expected);
  });

  it('isHvErrorJSON rejects a missing details object', () => {
    expect(isHvErrorJSON({ name: 'HvError', code: 'internal', message: 'm', details: null })).toBe(false);
  });
});
