/**
 * One hostile HTTP request must never end the process (found in review):
 * - a request-target that Node's HTTP parser accepts but the WHATWG URL parser refuses
 *   ("//[") threw out of the request handler (an unhandled rejection) and the upgrade
 *   listener (an uncaught exception): one unauthenticated request, exit 1;
 * - an upgrade the gate refuses is answered on the raw socket, which had no 'error'
 *   listener once Node handed it to the 'upgrade' event: a peer that resets at once made
 *   that write fail, an unheard 'error' event, exit 1 ("write ECONNRESET").
 */
import fs from "node:fs";
import net from "node:net";
import { exited, spawnServer, tmpDir } from "./helpers";

function raw(port: number, text: string): Promise<string> {
  return new Promise((resolve) => {
    let got = "";
    const s = net.connect(port, "127.0.0.1", () => s.write(text));
    s.on("data", (d: Buffer) => (got += d.toString()));
    s.on("close", () => resolve(got));
    s.on("error", () => resolve(got));
    // A bound, not an expectation: a freshly spawned server on a loaded machine may be slow.
    setTimeout(() => s.destroy(), 10_000).unref();
  });
}

describe("an unparseable request-target (\"//[\")", () => {
  for (const [name, request] of [
    ["a plain GET", "GET //[ HTTP/1.1\r\nHost: x\r\n\r\n"],
    ["an upgrade request", "GET //[ HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n"],
  ] as const) {
    test(`${name} to "//[" without any token: answered 400, and the server stays up`, async () => {
      const dataDir = tmpDir();
      const { child, port, output } = await spawnServer(dataDir);
      try {
        expect(await raw(port, request)).toMatch(/^HTTP\/1.1 400 Bad Request\r\n[^]*bad request target\n/);
        await new Promise((r) => setTimeout(r, 500));
        const state = { exitCode: child.exitCode, signal: child.signalCode, error: child.exitCode === null ? "" : (/(TypeError|Error)[^\n]*/.exec(output())?.[0] ?? "") };
        expect(state).toEqual({ exitCode: null, signal: null, error: "" });
        expect(await raw(port, "GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")).toMatch(/^HTTP\/1.1 200/);
      } finally {
        if (child.exitCode === null && child.signalCode === null) child.kill("SIGTERM");
        await exited(child);
        fs.rmSync(dataDir, { recursive: true, force: true });
      }
    }, 20_000);
  }
});

const REQUEST = "GET /ws HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n";

test("refused upgrades whose peer resets at once do not end the server", async () => {
  const dataDir = tmpDir();
  const { child, port, output } = await spawnServer(dataDir);
  try {
    // At most 200 short attempts on loopback, stopping as soon as the server is gone.
    for (let i = 0; i < 200 && child.exitCode === null; i++) {
      await new Promise<void>((resolve) => {
        const s = net.connect(port, "127.0.0.1", () => {
          s.write(REQUEST);
          setTimeout(() => s.resetAndDestroy(), i % 4);
        });
        s.on("error", () => undefined);
        s.on("close", () => resolve());
      });
    }
    await new Promise((r) => setTimeout(r, 300));
    const out = output();
    const at = out.indexOf("Error: ");
    // On a crash: "Error: write ECONNRESET ... at Socket.end ... at refuseUpgrade (upgrade-gate.js)".
    const state = { exitCode: child.exitCode, error: child.exitCode === null || at < 0 ? "" : out.slice(at, at + 600) };
    expect(state).toEqual({ exitCode: null, error: "" });
  } finally {
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGTERM");
    await exited(child);
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
}, 30_000);
