/**
 * The athens-sync client: a local read-only datascript replica kept in step with the
 * server, transactions acked by the server, reconnect with catch-up, an offline queue
 * and presence. The state machine is written down in ../README.md.
 */
export { connect, SyncClient, type Ack, type ConnectOptions, type Presence, type Status, type TxReport } from "./client";
export { SyncClientError, ClientErrorCode } from "./errors";
export { indexedDbPersistence, memoryPersistence, type Persistence, type PersistedState } from "./persist";
export { backoffDelay, closeAction, DEFAULT_BACKOFF, type BackoffOptions, type CloseAction } from "./backoff";
export { datascript, type Db } from "./replica";
export type { SocketLike, WebSocketConstructor } from "./transport";
export { ErrorCode } from "../../protocol/src/codes";
export { CloseCode, PROTOCOL_VERSION, type WireDatom } from "../../protocol/src/frames";
