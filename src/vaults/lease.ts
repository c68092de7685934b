import type { Lease } from '../types';

/**
 * A held lease, as every vault hands it out: `release()` runs the vault's own release once and
 * is idempotent; the vault's release removes the lease only while `owner` still holds it.
 */
export class HeldLease implements Lease {
  private released = false;

  constructor(
    readonly key: string,
    readonly owner: string,
    readonly expiresAt: number,
    private readonly releaseStored: () => Promise<void>,
  ) {}

  async release(): Promise<void> {
    if (this.released) return;
    await this.releaseStored();
    this.released = true;
  }
}
