/**
 * The wire protocol: error codes (codes.ts), constants and server frame types (frames.ts),
 * and the zod schemas of client frames (schemas.ts). Browser code should import codes.ts
 * and frames.ts directly, and schemas.ts only with `import type`, to keep zod out of its bundle.
 */
export * from "./codes";
export * from "./frames";
export * from "./schemas";
export * from "./attributes";
export * from "./tx-datoms";
export * from "./txs-frame";
export * from "./admin";
