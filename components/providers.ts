import type { ProviderName } from "./config";
import type { SyncProvider } from "./contract";

/**
 * The provider module for a stack. Loaded lazily: a stack only pays for its own
 * cloud SDK. The switch ends in a `never` check, so adding a provider name without a
 * module does not compile.
 */
export async function loadProvider(name: ProviderName): Promise<SyncProvider> {
  switch (name) {
    case "aws":
      return (await import("./aws")).awsProvider;
    case "digitalocean":
      return (await import("./digitalocean")).digitaloceanProvider;
    case "gcp":
      return (await import("./gcp")).gcpProvider;
    case "docker":
      return (await import("./docker")).dockerProvider;
    default: {
      const unknown: never = name;
      throw new Error(`unknown provider ${String(unknown)}`);
    }
  }
}
