import { SqliteStore } from "../src/storage/sqlite-store";

/** A real SqliteStore whose fsyncs complete only when the test says so. */
export class HeldSyncStore extends SqliteStore {
  readonly held: Array<(err: Error | null) => void> = [];
  override sync(done: (err: Error | null) => void): void {
    this.held.push(done);
  }
  /** Completes the oldest fsync in flight: for real, or with the given error. */
  release(err: Error | null = null): void {
    const done = this.held.shift();
    if (!done) throw new Error("no fsync in flight");
    if (err) done(err);
    else super.sync(done);
  }
}
