import { encodeTxsFrames, type ServerMessage, type TxEntry, toTxDatoms, type WireDatom } from "../../../protocol/src";
import type { LogEntry } from "../storage/store";

/**
 * Frames are built once per commit group and shared by every receiver: the cost of a
 * broadcast is one encode, then one (corked) socket write per client. Sending each
 * transaction as its own frame to each client made `writev` the top of the profile.
 */

/** A frame holding several transactions stays under this, so a client's frame limit is never the problem. */
export const MAX_TXS_FRAME_BYTES = 256 * 1024;
/** Snapshot chunks: small enough to interleave with other traffic and to respect the send cap. */
export const SNAPSHOT_CHUNK_BYTES = 256 * 1024;

export function txEntry(entry: LogEntry): TxEntry {
  return { t: entry.t, datoms: toTxDatoms(entry.datoms), author: entry.author, time: entry.time };
}

/**
 * Encodes entries (oldest first) as `txs` frames of at most about maxBytes each, in
 * protocol 5's compact form (protocol/src/txs-frame.ts); a single transaction larger than
 * that gets a frame of its own.
 */
export function encodeTxs(entries: readonly LogEntry[], maxBytes = MAX_TXS_FRAME_BYTES): Buffer[] {
  return encodeTxsFrames(entries.map(txEntry), maxBytes).map((text) => Buffer.from(text));
}

/** Encodes the datoms of the db at t as `snapshot` frames of about chunkBytes each (at least one frame). */
export function encodeSnapshot(t: number, datoms: readonly WireDatom[], chunkBytes = SNAPSHOT_CHUNK_BYTES): Buffer[] {
  const frames: Buffer[] = [];
  const head = `{"type":"snapshot","t":${t},"datoms":[`;
  let parts: string[] = [];
  let size = 0;
  const flush = () => {
    frames.push(Buffer.from(`${head}${parts.join(",")}]}`));
    parts = [];
    size = 0;
  };
  for (const datom of datoms) {
    const part = JSON.stringify(datom);
    parts.push(part);
    size += part.length + 1;
    if (size >= chunkBytes) flush();
  }
  if (parts.length > 0 || frames.length === 0) flush();
  return frames;
}

export function encode(msg: ServerMessage): Buffer {
  return Buffer.from(JSON.stringify(msg));
}
