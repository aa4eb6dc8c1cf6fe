/**
 * The package's public API: `import { createSyncServer, stackConfig } from "athens-sync-deploy"`.
 * Each cloud's typed component is its own entry point, so a program loads only the SDK
 * it uses: `import { SyncServer } from "athens-sync-deploy/aws"` (also /digitalocean,
 * /gcp, /docker). This repository's own stack entry (index.ts) uses exactly this API.
 */
import * as pulumi from "@pulumi/pulumi";
import { parseConfig, projectConfig, type StackConfig } from "./config";
import type { SyncServerArgs, SyncServerOutputs } from "./contract";
import { loadProvider } from "./providers";

export { PROJECT, PROVIDERS, parseConfig, projectConfig, StackConfigError, type ProviderName, type StackConfig } from "./config";
export type { SyncProvider, SyncServerArgs, SyncServerOutputs } from "./contract";
export { loadProvider } from "./providers";

/**
 * This stack's `athens-sync:*` config, parsed once; throws one error naming every bad key
 * and its fix, before any resource exists. `fixed` pins keys a program decides itself,
 * e.g. `stackConfig({ provider: "aws" })` in the AWS template. An empty value counts as
 * unset, like a `pulumi new` prompt left blank (which the CLI does not store).
 */
export function stackConfig(fixed: Readonly<Record<string, string>> = {}): StackConfig {
  const given = Object.entries(projectConfig(pulumi.runtime.allConfig())).filter(([, v]) => v !== "");
  return parseConfig({ ...Object.fromEntries(given), ...fixed });
}

/**
 * The SyncServer component of the configured provider (`args.config.provider`), loading
 * only that cloud's SDK.
 * @example
 * const server = await createSyncServer("sync", { config: stackConfig() });
 * export const url = server.url;
 */
export async function createSyncServer(
  name: string,
  args: SyncServerArgs,
  opts?: pulumi.ComponentResourceOptions,
): Promise<pulumi.ComponentResource & SyncServerOutputs> {
  const provider = await loadProvider(args.config.provider);
  await provider.preflight?.(opts);
  return provider.create(name, args, opts);
}
