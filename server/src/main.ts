import { ConfigError, loadConfig } from "./config";
import { createLogger } from "./logger";
import { SyncServer } from "./server";
import { serverVersion } from "./version";

/** Process entry point: the only place that installs signal handlers or exits. */
export async function main(): Promise<void> {
  let config;
  try {
    config = loadConfig();
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`${err.message}\n`);
      process.exit(2);
    }
    throw err;
  }
  const logger = createLogger(config.logLevel);
  const server = new SyncServer(config, { logger, version: serverVersion(config.build) });

  let signals = 0;
  const onSignal = (signal: NodeJS.Signals) => {
    signals++;
    if (signals > 1) {
      logger.warn({ signal }, "second signal: exiting now");
      process.exit(1);
    }
    logger.info({ signal }, "signal received: draining");
    setTimeout(() => {
      logger.error({ timeoutMs: config.shutdownTimeoutMs }, "shutdown timed out: exiting");
      process.exit(1);
    }, config.shutdownTimeoutMs).unref();
    server.stop().then(
      () => process.exit(0),
      (err: unknown) => {
        logger.error({ err }, "shutdown failed");
        process.exit(1);
      },
    );
  };
  process.on("SIGTERM", onSignal);
  process.on("SIGINT", onSignal);

  try {
    await server.start();
  } catch (err) {
    logger.fatal({ err }, "failed to start");
    process.exit(1);
  }
}

if (require.main === module) void main();
