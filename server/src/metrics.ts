import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from "prom-client";

/** Prometheus metrics, one registry per server so tests can run several servers. */
export class Metrics {
  readonly registry = new Registry();
  readonly connections = new Gauge({ name: "sync_connections", help: "Open WebSocket connections", registers: [this.registry] });
  readonly transactions = new Counter({ name: "sync_transactions_total", help: "Committed transactions", registers: [this.registry] });
  readonly rejected = new Counter({ name: "sync_rejected_total", help: "Rejected transactions, by code", labelNames: ["code"], registers: [this.registry] });
  readonly frameErrors = new Counter({ name: "sync_frame_errors_total", help: "Error frames sent, by code", labelNames: ["code"], registers: [this.registry] });
  readonly groupSize = new Histogram({
    name: "sync_commit_group_size",
    help: "Transactions per group commit (per fsync)",
    buckets: [1, 2, 4, 8, 16, 32, 64, 128, 256],
    registers: [this.registry],
  });
  readonly commitSeconds = new Histogram({
    name: "sync_commit_seconds",
    help: "Time to write and fsync one commit group",
    buckets: [0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1],
    registers: [this.registry],
  });
  readonly fsyncRunning = new Gauge({ name: "sync_fsync_running_seconds", help: "How long the log's fsync in flight has run (0: none is); acks wait for it", registers: [this.registry] });
  readonly t = new Gauge({ name: "sync_tx_id", help: "Newest committed tx id", registers: [this.registry] });

  constructor() {
    collectDefaultMetrics({ register: this.registry });
  }
}
