// A token bucket on a port's ingress, as Open vSwitch's ingress policing:
// `rateKbps` kilobits per second refill a bucket of `burstKb` kilobits; a
// frame passes when the bucket holds its bits, and is dropped otherwise.
import type { Clock } from '../clock.ts';

export interface RateLimit {
  /** Sustained rate, kbit/s (1000 bits). */
  rateKbps: number;
  /** Bucket size, kbit; a burst of this much passes at once. */
  burstKb: number;
}

export class TokenBucket {
  private bits: number;
  private at: number;

  constructor(
    readonly limit: RateLimit,
    private readonly clock: Clock,
  ) {
    if (!(limit.rateKbps > 0) || !Number.isFinite(limit.rateKbps)) throw new RangeError(`rate limit: rate ${limit.rateKbps} kbit/s must be a positive number`);
    if (!(limit.burstKb > 0) || !Number.isFinite(limit.burstKb)) throw new RangeError(`rate limit: burst ${limit.burstKb} kbit must be a positive number`);
    this.bits = limit.burstKb * 1000;
    this.at = clock.now();
  }

  /** Take a frame of `bytes` if the bucket holds it. */
  take(bytes: number): boolean {
    const now = this.clock.now();
    const capacity = this.limit.burstKb * 1000;
    this.bits = Math.min(capacity, this.bits + (now - this.at) * this.limit.rateKbps);
    this.at = now;
    const need = bytes * 8;
    if (need > this.bits) return false;
    this.bits -= need;
    return true;
  }
}
