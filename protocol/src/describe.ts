/**
 * How an error message names an item of a frame it refuses: the frame came from a peer
 * that may be hostile, so nothing of the item is called (an object parsed from JSON can
 * carry its own `toString`) and a long string is not quoted back. Shared by the client's
 * frame checks and the `txs` frame's decoder. No runtime dependencies.
 */
export function describe(v: unknown): string {
  if (v === undefined) return "missing";
  if (v === null) return "null";
  if (Array.isArray(v)) return "a list";
  if (typeof v === "string") return v.length > 40 ? "a long string" : JSON.stringify(v);
  return typeof v === "object" ? "an object" : `${typeof v} ${String(v)}`;
}
