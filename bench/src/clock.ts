/**
 * One clock for every process of a run: CLOCK_MONOTONIC, which the kernel shares across
 * processes on one machine. A writer stamps an edit with it and a reader in another
 * process subtracts its own reading, so fan-out latency needs no clock sync.
 */
export function nowMs(): number {
  return Number(process.hrtime.bigint()) / 1e6;
}
