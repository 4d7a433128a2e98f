// One typed error for everything the hypervisor refuses. The UI shows
// `message` as is, so messages are whole sentences with numbers and units;
// `code` is for programs, `details` carries the numbers for the UI to reuse.

/** Every reason the hypervisor can refuse or fail. */
export type HvErrorCode =
  | 'illegal-state'
  | 'pool-exhausted'
  | 'invalid-argument'
  | 'reservation-overcommit'
  | 'not-found'
  | 'duplicate-name'
  | 'image-corrupt'
  | 'image-missing'
  | 'boot-timeout'
  | 'guest-crashed'
  | 'restore-failed'
  | 'unsupported'
  | 'cancelled'
  | 'internal';

/** All error codes, for validation and exhaustive tests. */
export const HV_ERROR_CODES: readonly HvErrorCode[] = [
  'illegal-state',
  'pool-exhausted',
  'invalid-argument',
  'reservation-overcommit',
  'not-found',
  'duplicate-name',
  'image-corrupt',
  'image-missing',
  'boot-timeout',
  'guest-crashed',
  'restore-failed',
  'unsupported',
  'cancelled',
  'internal',
];

/** The plain-data form of an HvError: survives JSON and structured clone. */
export interface HvErrorJSON {
  name: 'HvError';
  code: HvErrorCode;
  message: string;
  details: Record<string, unknown>;
}

/** A refusal or failure of the hypervisor, with a machine code and the numbers behind it. */
export class HvError extends Error {
  override readonly name = 'HvError';
  readonly code: HvErrorCode;
  readonly details: Record<string, unknown>;

  /** Creates an error; `message` is the human-readable sentence shown to users. */
  constructor(code: HvErrorCode, message: string, details: Record<string, unknown> = {}, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.details = details;
  }

  /** Plain data for postMessage / JSON; `HvError.from` turns it back into an HvError. */
  toJSON(): HvErrorJSON {
    return { name: 'HvError', code: this.code, message: this.message, details: { ...this.details } };
  }

  /** Rebuilds an HvError from its JSON form; wraps anything else as code 'internal'. */
  static from(value: unknown): HvError {
    if (value instanceof HvError) return value;
    if (isHvErrorJSON(value)) return new HvError(value.code, value.message, { ...value.details });
    if (value instanceof Error) return new HvError('internal', value.message, { name: value.name }, { cause: value });
    return new HvError('internal', `unexpected failure: ${String(value)}`, {}, { cause: value });
  }
}

/** True for an HvError (or its JSON form after a trip through a worker), optionally of one code. */
export function isHvError(value: unknown, code?: HvErrorCode): value is HvError | HvErrorJSON {
  const ok = value instanceof HvError || isHvErrorJSON(value);
  return ok && (code === undefined || (value as { code: unknown }).code === code);
}

/** True when `value` has the shape of HvErrorJSON with a known code. */
export function isHvErrorJSON(value: unknown): value is HvErrorJSON {
  if (typeof value !== 'object' || value === null) return false;
  const v = value as Record<string, unknown>;
  return (
    v['name'] === 'HvError' &&
    typeof v['message'] === 'string' &&
    typeof v['code'] === 'string' &&
    (HV_ERROR_CODES as readonly string[]).includes(v['code']) &&
    typeof v['details'] === 'object' &&
    v['details'] !== null
  );
}
