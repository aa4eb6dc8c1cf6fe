/**
 * The peer: a Hocuspocus 4 server process with its defaults (flushDelay 0: updates that
 * arrive in one event-loop turn go out merged as one message per client; SQLite stores
 * the whole document debounced 2 s, at most every 10 s), except:
 * - `timeout` is raised from 60 s to 10 min: it closes a connection that sent nothing for
 *   that long, and the benchmark's readers only listen (a provider would send awareness
 *   every 15 s; our server's heartbeat is a ws ping the client answers by itself);
 * - `quiet`, loopback only.
 * Configuration names are from node_modules/@hocuspocus/server/dist/index.d.ts
 * (ServerConfiguration, Configuration) and extension-sqlite's SQLiteConfiguration.
 */
import { parseArgs } from "node:util";
import { Server } from "@hocuspocus/server";
import { SQLite } from "@hocuspocus/extension-sqlite";

const { values } = parseArgs({
  options: { port: { type: "string" }, store: { type: "string" }, database: { type: "string" } },
});
const port = Number(values.port);
if (!Number.isInteger(port) || port <= 0) throw new Error("--port is required");
if (values.store !== "memory" && values.store !== "sqlite") throw new Error("--store must be memory or sqlite");
if (values.store === "sqlite" && !values.database) throw new Error("--database is required with --store sqlite");

const server = new Server({
  port,
  address: "127.0.0.1",
  quiet: true,
  stopOnSignals: true,
  timeout: 10 * 60_000,
  extensions: values.store === "sqlite" ? [new SQLite({ database: values.database! })] : [],
});
await server.listen();
