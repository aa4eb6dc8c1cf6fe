/**
 * The socket the client needs: the browser's WebSocket and Node's `ws` both fit. `ws` is
 * injected by Node apps (`connect({ WebSocket })`), never imported here, so a browser
 * bundle carries no server dependency.
 */
export interface SocketLike {
  readonly readyState: number;
  send(data: string): void;
  close(code?: number, reason?: string): void;
  onopen: ((ev: unknown) => void) | null;
  onmessage: ((ev: { data: unknown }) => void) | null;
  onclose: ((ev: { code: number; reason: string }) => void) | null;
  onerror: ((ev: unknown) => void) | null;
}

/** `ws`'s constructor shape: `new WebSocket(url, { headers, maxPayload })`. */
export type WebSocketConstructor = new (url: string, options?: { headers?: Record<string, string>; maxPayload?: number }) => SocketLike;

export const OPEN = 1;

/**
 * Opens a socket. An injected constructor (Node's `ws`) gets the token in an
 * Authorization header; the browser's WebSocket cannot send headers, so the token goes
 * in the `token` query parameter, which the server accepts as well.
 */
export function openSocket(url: string, token: string | undefined, injected: WebSocketConstructor | undefined, maxPayload: number): SocketLike {
  // maxPayload: `ws` stops reading a larger frame (its default is 100 MiB) instead of buffering it.
  if (injected) return new injected(url, token ? { headers: { authorization: `Bearer ${token}` }, maxPayload } : { maxPayload });
  const Native = (globalThis as { WebSocket?: new (url: string) => SocketLike }).WebSocket;
  if (!Native) throw new Error("no WebSocket in this runtime; pass one: connect({ WebSocket }) with the `ws` package");
  if (!token) return new Native(url);
  const u = new URL(url);
  u.searchParams.set("token", token);
  return new Native(u.toString());
}

/** A text frame's payload as a string (ws gives Buffers to some listeners). */
export function frameText(data: unknown): string | null {
  if (typeof data === "string") return data;
  if (data instanceof ArrayBuffer) return new TextDecoder().decode(data);
  if (ArrayBuffer.isView(data)) return new TextDecoder().decode(data);
  return null;
}

/** `ws`'s error event for a frame over maxPayload (it then closes the socket with 1009 itself). */
export function isMaxPayloadError(ev: unknown): boolean {
  const e = ev as { error?: { code?: unknown }; message?: unknown } | null;
  return e?.error?.code === "WS_ERR_UNSUPPORTED_MESSAGE_LENGTH" || e?.message === "Max payload size exceeded";
}

/**
 * Closes with a protocol close code. `ws` sends 1002/1009 as given; a browser allows only
 * 1000 and 3000-4999 from scripts (and throws otherwise), so there it sends 4000 + the
 * code's last three digits (4002, 4009). Never throws: the socket may already be closing.
 */
export function closeSocket(socket: SocketLike, code: number, reason: string): void {
  try {
    socket.close(code, reason);
  } catch {
    try {
      socket.close(4000 + (code % 1000), reason);
    } catch {
      // already closed
    }
  }
}
