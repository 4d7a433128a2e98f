import { describe, expect, it } from 'vitest';
import { HvError } from './errors.ts';
import {
  holdsMemory,
  isRunnable,
  legalCommands,
  legalUserCommands,
  transition,
  VM_COMMANDS,
  VM_STATES,
  whyIllegal,
  type VmCommand,
  type VmState,
} from './lifecycle.ts';

// The expected table, written out independently of TRANSITIONS.
const LEGAL: Record<VmState, Partial<Record<VmCommand, VmState>>> = {
  defined: { start: 'booting', destroy: 'destroyed' },
  booting: { booted: 'running', crash: 'crashed', stop: 'stopped', destroy: 'destroyed' },
  running: { pause: 'paused', stop: 'stopped', restart: 'booting', crash: 'crashed', migrate: 'migrating', destroy: 'destroyed' },
  paused: { resume: 'running', stop: 'stopped', restart: 'booting', migrate: 'migrating', crash: 'crashed', destroy: 'destroyed' },
  stopped: { start: 'booting', destroy: 'destroyed' },
  crashed: { restart: 'booting', start: 'booting', stop: 'stopped', destroy: 'destroyed' },
  migrating: { migrated: 'running', crash: 'crashed' },
  destroyed: {},
};

const PAIRS = VM_STATES.flatMap((state) =>
  VM_COMMANDS.map((command) => [state, command, LEGAL[state][command] ?? null] as const),
);

describe('lifecycle transitions', () => {
  it('covers every (state, command) pair', () => {
    expect(PAIRS).toHaveLength(8 * 10);
  });

  it.each(PAIRS)('%s + %s -> %s', (state, command, expected) => {
    if (expected !== null) {
      expect(transition(state, command, 'web1')).toBe(expected);
      expect(whyIllegal(state, command, 'web1')).toBeNull();
      return;
    }
    let caught: unknown;
    try {
      transition(state, command, 'web1');
    } catch (e) {
      caught = e;
    }
    expect(caught).toBeInstanceOf(HvError);
    const err = caught as HvError;
    expect(err.code).toBe('illegal-state');
    expect(err.message).toMatch(new RegExp(`^cannot ${command} web1: it is (already )?${state} \\(`));
    expect(err.message).toBe(whyIllegal(state, command, 'web1'));
    expect(err.details).toMatchObject({ state, command, name: 'web1' });
  });
});

describe('whyIllegal', () => {
  it.each([
    ['stopped', 'pause', 'web1', 'cannot pause web1: it is stopped (pause is legal when running)'],
    ['stopped', 'stop', 'web1', 'cannot stop web1: it is already stopped (stop is legal when booting, running, paused or crashed)'],
    ['running', 'start', 'db', 'cannot start db: it is already running (start is legal when defined, stopped or crashed)'],
    ['defined', 'resume', undefined, 'cannot resume the VM: it is defined (resume is legal when paused)'],
    ['destroyed', 'destroy', 'x', 'cannot destroy x: it is already destroyed (destroy is legal when defined, booting, running, paused, stopped or crashed)'],
  ] as const)('%s + %s', (state, command, name, message) => {
    expect(whyIllegal(state, command, name)).toBe(message);
  });
});

describe('state queries', () => {
  it.each([
    ['defined', ['start', 'destroy']],
    ['running', ['pause', 'stop', 'restart', 'destroy', 'migrate', 'crash']],
    ['migrating', ['crash', 'migrated']],
    ['destroyed', []],
  ] as const)('legalCommands(%s)', (state, commands) => {
    expect(legalCommands(state)).toEqual(commands);
  });

  it('legalUserCommands leaves internal events out', () => {
    expect(legalUserCommands('booting')).toEqual(['stop', 'destroy']);
  });

  it.each(VM_STATES.map((s) => [s]))('isRunnable / holdsMemory for %s', (state) => {
    expect(isRunnable(state)).toBe(state === 'booting' || state === 'running');
    expect(holdsMemory(state)).toBe(!['defined', 'stopped', 'crashed', 'destroyed'].includes(state));
  });
});
