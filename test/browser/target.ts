/**
 * Where the demo outliner runs for the browser test: a server process on loopback (quick,
 * `npm --prefix client run test:browser`) or the local stack behind Caddy with `tls internal`
 * (the e2e suite, `npm run test:e2e`). The scenario (scenario.ts) is the same for both.
 */
export interface DemoTarget {
  /** The page's origin, e.g. http://127.0.0.1:34567 or https://localhost:9443. */
  readonly origin: string;
  readonly token: string;
  /** Chromium flags this target needs on top of the common ones (e.g. trusting Caddy's local CA). */
  readonly chromiumArgs: readonly string[];
  /** Where screenshots and the latency numbers go. */
  readonly artifacts: string;
  /** Stops the server the way a deploy does (SIGTERM: 1012 to every client). */
  stopServer(): Promise<void>;
  /** Starts it again on the same data and waits until it serves through the target's front. */
  startServer(): Promise<void>;
  /** The server's datoms as sorted "[e,a,v]" strings, read by a fresh connection. */
  facts(): Promise<string[]>;
  close(): Promise<void>;
}
