import type { Connection } from "../src/connection";
import { CatchUpPump } from "../src/sync/catch-up";
import type { SyncEngine } from "../src/sync/engine";
import type { SnapshotCache } from "../src/sync/snapshot-cache";

/**
 * A catch-up that cannot go on (here: a db whose log ends before its t, as a doctored
 * restore could leave it) closes that one client 1011. It used to throw from the pump,
 * which runs from setImmediate and timers: an uncaught exception that ended the process.
 */
test("a log that ends before the db's t closes the joining client 1011 instead of throwing", async () => {
  const closed: Array<[number, string]> = [];
  const errors: unknown[] = [];
  const conn = {
    ws: { readyState: 1, OPEN: 1 },
    buffered: 0,
    maxBufferedBytes: 1024 * 1024,
    sendText: () => true,
    close: (code: number, reason: string) => closed.push([code, reason]),
    log: { error: (obj: unknown) => errors.push(obj) },
  } as unknown as Connection;
  const engine = { t: 10, logAfter: () => [], logCatchUpFits: () => true } as unknown as SyncEngine;
  const snapshots = { usable: () => true } as unknown as SnapshotCache;
  const pump = new CatchUpPump(conn, engine, snapshots, () => undefined);
  expect(() => pump.start(5)).not.toThrow();
  expect(closed).toEqual([[1011, "catch-up failed; retry"]]);
  expect(errors).toHaveLength(1);
});
