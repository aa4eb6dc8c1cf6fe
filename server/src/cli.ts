#!/usr/bin/env node
import path from "node:path";
import Database from "better-sqlite3";
import { signJwt } from "./auth";
import { ConfigError, loadConfig } from "./config";
import { BACKUP_DIR, restoreBackup, writeBackup } from "./storage/backups";
import { DB_FILE } from "./storage/sqlite-store";

const USAGE = `usage: sync-server <command>

  serve              run the server (the image's default command)
  backup             write a consistent backup of $SYNC_DATA_DIR/sync.db into $SYNC_DATA_DIR/backups
  restore <file>     replace the db with a backup; refuses while a server holds the data dir
  jwt <sub> [ttl-s]  print an HS256 JWT for SYNC_JWT_SECRET with the given sub
`;

/** Reads only what the maintenance commands need, so they run without a token. */
function config() {
  return loadConfig({ ...process.env, SYNC_INSECURE_NO_AUTH: process.env.SYNC_TOKEN ? "0" : "1" });
}

async function run(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  switch (command) {
    case "serve": {
      const { main } = await import("./main");
      await main();
      return -1;
    }
    case "backup": {
      const cfg = config();
      const db = new Database(path.join(cfg.dataDir, DB_FILE), { readonly: true, fileMustExist: true });
      try {
        // One step: this connection is not the server's, and SQLite restarts a stepwise copy
        // whenever another connection writes between steps, so under steady writes a large db
        // was copied from the start again and again and the backup never finished. One step
        // is one read transaction (WAL: the server goes on writing meanwhile).
        const backupTo = async (p: string) => void (await db.backup(p, { progress: () => 0x7fffffff }));
        const file = await writeBackup({ backupTo }, path.join(cfg.dataDir, BACKUP_DIR), cfg.backupKeep, new Date(), ({ removed, problems }) => {
          for (const f of removed) process.stderr.write(`removed ${f}, left by a backup cut short\n`);
          for (const p of problems) process.stderr.write(`could not remove a copy left by a backup cut short: ${p}\n`);
        });
        process.stdout.write(`${file}\n`);
      } finally {
        db.close();
      }
      return 0;
    }
    case "restore": {
      const file = rest[0];
      if (!file) break;
      const cfg = config();
      const { replaced } = restoreBackup(path.resolve(file), cfg.dataDir);
      process.stdout.write(`restored ${file} into ${cfg.dataDir}${replaced ? `; the previous db is kept as ${replaced}` : ""}\n`);
      return 0;
    }
    case "jwt": {
      const [sub, ttl = "86400"] = rest;
      const cfg = config();
      const secret = cfg.jwtSecret;
      const { jwtAudience: aud, jwtIssuer: iss } = cfg.security;
      if (!sub || !secret) {
        process.stderr.write("jwt needs a sub argument and SYNC_JWT_SECRET\n");
        return 2;
      }
      const now = Math.floor(Date.now() / 1000);
      process.stdout.write(`${signJwt({ sub, iat: now, exp: now + Number(ttl), ...(aud ? { aud } : {}), ...(iss ? { iss } : {}) }, secret)}\n`);
      return 0;
    }
  }
  process.stderr.write(USAGE);
  return 2;
}

run(process.argv.slice(2)).then(
  (code) => {
    if (code >= 0) process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`${err instanceof ConfigError ? err.message : (err as Error).message}\n`);
    process.exitCode = 1;
  },
);
