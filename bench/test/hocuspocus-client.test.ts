/**
 * The Hocuspocus writer encodes its updates itself (appendUpdate) instead of keeping a
 * Y.Doc: the server must see exactly the bytes a Y.Doc would have sent.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import * as Y from "yjs";
import { appendUpdate, TEXT } from "../src/clients/hocuspocus.ts";
import { formatEdit } from "../src/edits.ts";

function yDocUpdates(clientId: number, payloads: string[]): Uint8Array[] {
  const doc = new Y.Doc();
  doc.clientID = clientId;
  const updates: Uint8Array[] = [];
  doc.on("update", (u: Uint8Array) => updates.push(u));
  const text = doc.getText(TEXT);
  for (const p of payloads) text.insert(text.length, p);
  return updates;
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
