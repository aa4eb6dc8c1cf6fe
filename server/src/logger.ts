import pino, { type Logger } from "pino";

export type { Logger };

/** Structured JSON logs to stdout; one logger per process, injected everywhere else. */
export function createLogger(level: string): Logger {
  return pino({ level, base: { service: "sync-server" }, timestamp: pino.stdTimeFunctions.isoTime });
}

export const silentLogger: Logger = pino({ level: "silent" });
