import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { EditTracker, formatEdit, parseEdit } from "../src/edits.ts";
import { Histogram } from "../src/histogram.ts";

describe("edit payloads", () => {
  test("a payload names its writer, sequence number and send time", () => {
    assert.deepEqual(parseEdit(formatEdit(12, 345, 6789.0123)), { writer: 12, seq: 345, sentAt: 6789.012 });
  });

  test("text that is not a payload is not an edit", () => {
    for (const text of ["", "1.2.3", "1.2.3.000", "a.2.3.000;", "1.2.3.000;x"]) assert.equal(parseEdit(text), null, text);
  });
});

describe("EditTracker", () => {
  const edit = (writer: number, seq: number) => ({ writer, seq, sentAt: 0 });

  test("accepts each writer's edits in order and counts them", () => {
    const t = new EditTracker(7);
    for (const [w, s] of [[0, 0], [1, 0], [0, 1], [1, 1], [0, 2]] as const) assert.equal(t.accept(edit(w, s)), true);
    assert.equal(t.count(0), 3);
    assert.equal(t.count(1), 2);
    assert.deepEqual(t.missing({ 0: 3, 1: 2 }), []);
    assert.deepEqual(t.errors, []);
  });

  test("a gap is a lost edit", () => {
    const t = new EditTracker(7);
    t.accept(edit(0, 0));
    assert.equal(t.accept(edit(0, 2)), false);
    assert.match(t.errors[0]!, /writer 0 edit 2 arrived when 1 was due \(gap: lost edits\)/);
  });

  test("a repeat is a duplicate", () => {
    const t = new EditTracker(7);
    t.accept(edit(0, 0));
    assert.equal(t.accept(edit(0, 0)), false);
    assert.match(t.errors[0]!, /duplicate/);
  });

  test("missing() names writers whose edits have not all arrived, including ones never heard from", () => {
    const t = new EditTracker(7);
    t.accept(edit(0, 0));
    assert.deepEqual(t.missing({ 0: 2, 3: 1 }), [
      { writer: 0, have: 1, want: 2 },
      { writer: 3, have: 0, want: 1 },
    ]);
  });
});

describe("Histogram", () => {
  test("percentiles are within 1% of the exact values", () => {
    const h = new Histogram();
    for (let i = 1; i <= 1000; i++) h.record(i / 10);
    assert.ok(Math.abs(h.percentile(50) - 50) / 50 < 0.011, String(h.percentile(50)));
    assert.ok(Math.abs(h.percentile(99) - 99) / 99 < 0.011, String(h.percentile(99)));
    assert.equal(h.percentile(100), 100);
  });

  test("merged histograms equal one that saw every sample", () => {
    const a = new Histogram();
    const b = new Histogram();
    const all = new Histogram();
    for (let i = 0; i < 500; i++) {
      const v = (i * 7919) % 1000 / 7;
      (i % 2 ? a : b).record(v);
      all.record(v);
    }
    const merged = Histogram.from(a.toJSON()).merge(b.toJSON());
    for (const p of [1, 50, 90, 99]) assert.equal(merged.percentile(p), all.percentile(p));
    assert.equal(merged.count, 500);
  });

  test("an empty histogram has no percentiles", () => {
    assert.ok(Number.isNaN(new Histogram().percentile(50)));
  });
});
