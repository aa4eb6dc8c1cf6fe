/**
 * The Hocuspocus writer encodes its updates itself (editUpdate, appendUpdate) instead of
 * keeping a Y.Doc: the server must see exactly the bytes a Y.Doc would have sent.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import * as Y from "yjs";
import { appendUpdate, type EditMode, editUpdate, HocuspocusClient, TEXT } from "../src/clients/hocuspocus.ts";
import { EditTracker, formatEdit } from "../src/edits.ts";
import { Histogram } from "../src/histogram.ts";

function yDocUpdates(clientId: number, payloads: string[], mode: "append" | "replace" = "append"): Uint8Array[] {
  const doc = new Y.Doc();
  doc.clientID = clientId;
  const updates: Uint8Array[] = [];
  doc.on("update", (u: Uint8Array) => updates.push(u));
  const text = doc.getText(TEXT);
  for (const p of payloads) {
    if (mode === "append") text.insert(text.length, p);
    else {
      doc.transact(() => {
        text.delete(0, text.length);
        text.insert(0, p);
      });
    }
  }
  return updates;
}

/** A writer's replace edits as the bench client sends them. */
function replaceUpdates(clientId: number, payloads: string[]): Uint8Array[] {
  let clock = 0;
  let last = 0;
  return payloads.map((p) => {
    const update = editUpdate(clientId, clock, TEXT, p, last);
    clock += p.length;
    last = p.length;
    return update;
  });
}

test("appendUpdate is byte for byte the update a writer's own Y.Doc emits", () => {
  for (const clientId of [1, 2, 100, 300, 2 ** 31 - 1]) {
    const payloads = Array.from({ length: 300 }, (_, seq) => formatEdit(clientId - 1, seq, 1234.5678 + seq * 1000.25));
    const expected = yDocUpdates(clientId, payloads);
    assert.equal(expected.length, payloads.length);
    let clock = 0;
    payloads.forEach((p, i) => {
      assert.deepEqual(appendUpdate(clientId, clock, TEXT, p), expected[i], `client ${clientId} edit ${i}`);
      clock += p.length;
    });
  }
});

test("a document built from appendUpdate holds the writer's text in order", () => {
  const server = new Y.Doc();
  const payloads = Array.from({ length: 50 }, (_, seq) => formatEdit(4, seq, seq));
  let clock = 0;
  for (const p of payloads) {
    Y.applyUpdate(server, appendUpdate(5, clock, TEXT, p));
    clock += p.length;
  }
  assert.equal(server.getText(TEXT).toString(), payloads.join(""));
});

test("editUpdate is byte for byte the update a writer's own Y.Doc emits for a replace", () => {
  for (const clientId of [1, 2, 100, 300, 2 ** 31 - 1]) {
    // Payload lengths vary (seq and sentAt grow a digit), as in a run.
    const payloads = Array.from({ length: 300 }, (_, seq) => formatEdit(clientId - 1, seq, 1234.5678 + seq * 1000.25));
    const expected = yDocUpdates(clientId, payloads, "replace");
    assert.equal(expected.length, payloads.length);
    const ours = replaceUpdates(clientId, payloads);
    payloads.forEach((_, i) => assert.deepEqual(ours[i], expected[i], `client ${clientId} edit ${i}`));
  }
});

test("replace updates from several writers leave each writer's last payload, and a small document", () => {
  const server = new Y.Doc(); // gc on, as Hocuspocus's documents
  const writers = [1, 2, 3, 17];
  const streams = writers.map((w) => replaceUpdates(w, Array.from({ length: 200 }, (_, seq) => formatEdit(w - 1, seq, seq * 3.25))));
  for (let seq = 0; seq < 200; seq++) {
    for (const updates of streams) Y.applyUpdate(server, updates[seq]!);
  }
  const text = server.getText(TEXT).toString();
  const last = writers.map((w) => formatEdit(w - 1, 199, 199 * 3.25));
  assert.equal(text.length, last.join("").length);
  assert.deepEqual([...last].sort(), text.split(";").filter(Boolean).map((p) => `${p};`).sort());
  // Each writer: one run of garbage-collected deletions and its live payload.
  let items = 0;
  for (let item = server.getText(TEXT)._start; item; item = item.right) items++;
  assert.ok(items <= 2 * writers.length, `${items} items`);
  // A newcomer's SyncStep2 carries the live text and the deletions' clock ranges, no deleted text.
  assert.ok(Y.encodeStateAsUpdate(server).length < text.length + 30 * writers.length, `${Y.encodeStateAsUpdate(server).length} bytes`);
});

test("one writer's replace updates, applied in order, leave exactly its last payload", () => {
  const server = new Y.Doc();
  const payloads = Array.from({ length: 50 }, (_, seq) => formatEdit(4, seq, seq));
  replaceUpdates(5, payloads).forEach((u, i) => {
    Y.applyUpdate(server, u);
    assert.equal(server.getText(TEXT).toString(), payloads[i]);
  });
});

/** A receiving client, fed updates directly (as the server's Update messages carry them). */
function receiver(edit: EditMode) {
  const failures: string[] = [];
  const tracker = new EditTracker(99);
  const client = new HocuspocusClient({ index: 99, url: "ws://unused", tracker, sink: { fanout: new Histogram(), fail: (m) => failures.push(m) } }, edit);
  const receive = (update: Uint8Array) => (client as unknown as { receiveUpdate(u: Uint8Array, at: number): void }).receiveUpdate(update, 0);
  return { failures, tracker, receive };
}

test("a receiver accepts replace updates, also merged as the server's flush merges them, and checks the deletions", () => {
  const writers = [1, 2, 3];
  const streams = writers.map((w) => replaceUpdates(w, Array.from({ length: 30 }, (_, seq) => formatEdit(w - 1, seq, seq))));
  const r = receiver("replace");
  for (let seq = 0; seq < 30; seq += 3) {
    r.receive(Y.mergeUpdates(streams.flatMap((updates) => updates.slice(seq, seq + 3))));
  }
  assert.deepEqual(r.failures, []);
  assert.equal(r.tracker.received, 90);

  // An update whose deletion leaves the previous payload live.
  const bad = receiver("replace");
  const [first, second] = replaceUpdates(1, [formatEdit(0, 0, 0), formatEdit(0, 1, 1)]);
  bad.receive(first!);
  bad.receive(appendUpdate(1, formatEdit(0, 0, 0).length, TEXT, formatEdit(0, 1, 1)));
  assert.match(bad.failures.join("\n"), /writer 0's text is not its last payload alone/);
  // Deletions are not expected when writers append.
  const append = receiver("append");
  append.receive(first!);
  append.receive(second!);
  assert.match(append.failures.join("\n"), /unexpected deletion/);
});
