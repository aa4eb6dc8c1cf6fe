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

/** `ws`'s constructor shape: `new WebSocket(url, { headers })`. */
export type WebSocketConstructor = new (url: string, options?: { headers?: Record<string, string> }) => SocketLike;

export const OPEN = 1;

/**
 * Opens a socket. An injected constructor (Node's `ws`) gets the token in an
 * Authorization header; the browser's WebSocket cannot send headers, so the token goes
 * in the `token` query parameter, which the server accepts as well.
 */
export function openSocket(url: string, token: string | undefined, injected: WebSocketConstructor | undefined): SocketLike {
  if (injected) return new injected(url, token ? { headers: { authorization: `Bearer ${token}` } } : {});
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
