// The VM lifecycle as data. Every command is legal in some states only; the
// table below is the single source of truth for the UI (which buttons are
// enabled, and why not) and for the host (which refuses illegal commands).
import { HvError } from './errors.ts';
import { joinWords } from './format.ts';

/** Every lifecycle state of a VM. */
export const VM_STATES = ['defined', 'booting', 'running', 'paused', 'stopped', 'crashed', 'migrating', 'destroyed'] as const;
/** A lifecycle state of a VM. */
export type VmState = (typeof VM_STATES)[number];

/** Commands a user (UI, API, lab file) may issue. */
export const USER_COMMANDS = ['start', 'pause', 'resume', 'stop', 'restart', 'destroy', 'migrate'] as const;
/** A command a user may issue. */
export type UserCommand = (typeof USER_COMMANDS)[number];

/** Events the host raises from what the guest does. */
export const INTERNAL_EVENTS = ['booted', 'crash', 'migrated'] as const;
/** An event the host raises from what the guest does. */
export type InternalEvent = (typeof INTERNAL_EVENTS)[number];

/** Anything that can move a VM from one state to another. */
export type VmCommand = UserCommand | InternalEvent;
/** Every command and event, user commands first. */
export const VM_COMMANDS: readonly VmCommand[] = [...USER_COMMANDS, ...INTERNAL_EVENTS];

type Table = { readonly [S in VmState]: Readonly<Partial<Record<VmCommand, VmState>>> };

/** The transition table: TRANSITIONS[state][command] is the next state, absent when illegal. */
export const TRANSITIONS: Table = {
  defined: { start: 'booting', destroy: 'destroyed' },
  booting: { booted: 'running', crash: 'crashed', stop: 'stopped', destroy: 'destroyed' },
  running: { pause: 'paused', stop: 'stopped', restart: 'booting', crash: 'crashed', migrate: 'migrating', destroy: 'destroyed' },
  paused: { resume: 'running', stop: 'stopped', restart: 'booting', migrate: 'migrating', crash: 'crashed', destroy: 'destroyed' },
  stopped: { start: 'booting', destroy: 'destroyed' },
  crashed: { restart: 'booting', start: 'booting', stop: 'stopped', destroy: 'destroyed' },
  migrating: { migrated: 'running', crash: 'crashed' },
  destroyed: {},
};

// States in which a command would be a no-op, so the message can say "already".
const ALREADY: Partial<Record<VmCommand, readonly VmState[]>> = {
  start: ['booting', 'running'],
  pause: ['paused'],
  resume: ['running'],
  stop: ['stopped'],
  destroy: ['destroyed'],
  migrate: ['migrating'],
  booted: ['running'],
};

/** True when `command` is legal in `state`. */
export function canTransition(state: VmState, command: VmCommand): boolean {
  return TRANSITIONS[state][command] !== undefined;
}

/** Returns the next state, or throws HvError 'illegal-state' naming the VM and the legal states. */
export function transition(state: VmState, command: VmCommand, name?: string): VmState {
  const next = TRANSITIONS[state][command];
  if (next !== undefined) return next;
  throw new HvError('illegal-state', whyIllegal(state, command, name) ?? 'illegal command', {
    state,
    command,
    name: name ?? null,
    legalIn: statesWhereLegal(command),
  });
}

/** Commands and events legal in `state`, in table order. */
export function legalCommands(state: VmState): VmCommand[] {
  return VM_COMMANDS.filter((c) => canTransition(state, c));
}

/** User commands legal in `state` (what the UI enables). */
export function legalUserCommands(state: VmState): UserCommand[] {
  return USER_COMMANDS.filter((c) => canTransition(state, c));
}

/** States in which `command` is legal, in lifecycle order. */
export function statesWhereLegal(command: VmCommand): VmState[] {
  return VM_STATES.filter((s) => canTransition(s, command));
}

/** Why `command` is refused in `state` (a disabled button's tooltip), or null when it is legal. */
export function whyIllegal(state: VmState, command: VmCommand, name?: string): string | null {
  if (canTransition(state, command)) return null;
  const who = name ?? 'the VM';
  const already = ALREADY[command]?.includes(state) ? 'already ' : '';
  const legal = statesWhereLegal(command);
  const hint = legal.length === 0 ? `${command} is never legal` : `${command} is legal when ${joinWords(legal)}`;
  return `cannot ${command} ${who}: it is ${already}${state} (${hint})`;
}

/** True when the guest should execute, i.e. be in the CPU scheduler (booting or running). */
export function isRunnable(state: VmState): boolean {
  return state === 'booting' || state === 'running';
}

/** True while the VM keeps its RAM reserved: its instance exists (a crashed one's worker is released at once). */
export function holdsMemory(state: VmState): boolean {
  return state === 'booting' || state === 'running' || state === 'paused' || state === 'migrating';
}
