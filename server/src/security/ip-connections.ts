/**
 * Open sockets per client address (SYNC_MAX_CONNECTIONS_PER_IP), counted from the upgrade
 * until the TCP socket closes, hello or not: one address cannot hold every slot.
 */
export class PerIpConnections {
  private readonly counts = new Map<string, number>();
  constructor(private readonly max: number) {}

  /** Counts one more socket for ip, or returns false when ip is at the cap. */
  tryAdd(ip: string): boolean {
    const n = this.counts.get(ip) ?? 0;
    if (n >= this.max) return false;
    this.counts.set(ip, n + 1);
    return true;
  }

  release(ip: string): void {
    const n = this.counts.get(ip) ?? 0;
    if (n <= 1) this.counts.delete(ip);
    else this.counts.set(ip, n - 1);
  }

  get addresses(): number {
    return this.counts.size;
  }
}
