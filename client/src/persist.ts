import type { Value } from "../../protocol/src/frames";

/** What survives a reload: the replica at t, and the transactions not yet acked, in order. */
export interface PersistedState {
  readonly t: number;
  readonly datoms: Array<[number, string, Value, number]>;
  readonly outbox: Array<{ id: string; tx: unknown[] }>;
}

/** Where the client keeps its replica and queue between page loads. */
export interface Persistence {
  load(): Promise<PersistedState | null>;
  saveReplica(t: number, datoms: Array<[number, string, Value, number]>): Promise<void>;
  /** Called before the transaction is first sent. */
  putTx(seq: number, id: string, tx: unknown[]): Promise<void>;
  /** Called once it is acked or rejected. */
  deleteTx(id: string): Promise<void>;
  close(): void;
}

const REPLICA = "replica";
const OUTBOX = "outbox";

function request<T>(req: IDBRequest<T>): Promise<T> {
  return new Promise((resolve, reject) => {
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(req.error);
  });
}

function done(tx: IDBTransaction): Promise<void> {
  return new Promise((resolve, reject) => {
    tx.oncomplete = () => resolve();
    tx.onerror = () => reject(tx.error);
    tx.onabort = () => reject(tx.error);
  });
}

/**
 * IndexedDB persistence (browsers). One database per `name`: use one per server and
 * user. The replica and its t are written together in one IndexedDB transaction, so a
 * reload never pairs datoms with the wrong t; the queue is keyed by a sequence number
 * so it reloads in the order the app made the edits.
 */
export function indexedDbPersistence(name: string, factory: IDBFactory = globalThis.indexedDB): Persistence {
  let opened: Promise<IDBDatabase> | null = null;
  const open = () =>
    (opened ??= new Promise<IDBDatabase>((resolve, reject) => {
      const req = factory.open(`athens-sync:${name}`, 1);
      req.onupgradeneeded = () => {
        req.result.createObjectStore(REPLICA);
        req.result.createObjectStore(OUTBOX, { keyPath: "id" }).createIndex("seq", "seq");
      };
      req.onsuccess = () => resolve(req.result);
      req.onerror = () => reject(req.error);
    }));
  return {
    async load() {
      const db = await open();
      const tx = db.transaction([REPLICA, OUTBOX], "readonly");
      const replica = (await request(tx.objectStore(REPLICA).get("db"))) as { t: number; datoms: PersistedState["datoms"] } | undefined;
      const rows = (await request(tx.objectStore(OUTBOX).index("seq").getAll())) as Array<{ id: string; tx: unknown[]; seq: number }>;
      if (!replica && rows.length === 0) return null;
      return { t: replica?.t ?? 0, datoms: replica?.datoms ?? [], outbox: rows.map(({ id, tx: txData }) => ({ id, tx: txData })) };
    },
    async saveReplica(t, datoms) {
      const db = await open();
      const tx = db.transaction(REPLICA, "readwrite");
      tx.objectStore(REPLICA).put({ t, datoms }, "db");
      await done(tx);
    },
    async putTx(seq, id, txData) {
      const db = await open();
      const tx = db.transaction(OUTBOX, "readwrite");
      tx.objectStore(OUTBOX).put({ id, tx: txData, seq });
      await done(tx);
    },
    async deleteTx(id) {
      const db = await open();
      const tx = db.transaction(OUTBOX, "readwrite");
      tx.objectStore(OUTBOX).delete(id);
      await done(tx);
    },
    close() {
      void opened?.then((db) => db.close());
      opened = null;
    },
  };
}

/**
 * Keeps the state in memory: a new client given the same object resumes where the last
 * one stopped (since, queue). For Node apps that recreate clients, and for tests.
 */
export function memoryPersistence(): Persistence & { state: { t: number; datoms: PersistedState["datoms"]; outbox: Map<string, { seq: number; tx: unknown[] }> } } {
  const state = { t: 0, datoms: [] as PersistedState["datoms"], outbox: new Map<string, { seq: number; tx: unknown[] }>() };
  return {
    state,
    async load() {
      if (state.t === 0 && state.outbox.size === 0) return null;
      const outbox = [...state.outbox.entries()].sort((a, b) => a[1].seq - b[1].seq).map(([id, { tx }]) => ({ id, tx }));
      return { t: state.t, datoms: state.datoms, outbox };
    },
    async saveReplica(t, datoms) {
      state.t = t;
      state.datoms = datoms;
    },
    async putTx(seq, id, tx) {
      state.outbox.set(id, { seq, tx });
    },
    async deleteTx(id) {
      state.outbox.delete(id);
    },
    close() {},
  };
}
