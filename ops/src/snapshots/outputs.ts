import { z } from "zod";
import { PROVIDERS, type ProviderName } from "../../../components/config";

/**
 * A stack's outputs as `pulumi stack output --json --show-secrets` prints them (or a saved
 * copy of that), as the stack entry (index.ts) and every template export them
 * (components/contract.ts SyncServerOutputs). Parsed once, here; every operator command
 * reads this type.
 */
const SECRET_PLACEHOLDER = "[secret]";

const SnapshotTag = z.strictObject({ key: z.string().min(1), value: z.string().min(1) });

export const StackOutputsSchema = z
  .looseObject({
    /** wss://<hostname>/ws (not needed to list snapshots: a copy given with --url may lack the rest). */
    url: z.string().min(1).optional(),
    hostname: z.string().min(1).optional(),
    ip: z.string().min(1).optional(),
    /** The attached data volume (GCP: projects/P/zones/Z/disks/NAME). */
    volumeId: z.string({ message: "is missing: the snapshots are found by the stack's data volume; read the outputs with `pulumi stack output --json --show-secrets`" }).min(1),
    image: z.string().min(1).optional(),
    token: z.string().min(1).optional(),
    adminToken: z.string().min(1).optional(),
    cloud: z.enum(PROVIDERS).optional(),
    /** The repository's own stack entry exported the cloud as `provider` before `cloud` existed. */
    provider: z.enum(PROVIDERS).optional(),
    region: z.string().min(1).optional(),
    /** EC2 instance id, Droplet id, GCE projects/P/zones/Z/instances/NAME, or the local server container. */
    instanceId: z.string().min(1).optional(),
    /** Data volumes the stack keeps but does not attach (the original one while a restore is in effect). */
    retainedVolumeIds: z.array(z.string().min(1)).default([]),
    /** The tag (AWS) or label (GCP) on this stack's scheduled snapshots. */
    snapshotTag: SnapshotTag.optional(),
    /** GCP: for gcloud. */
    zone: z.string().min(1).optional(),
    project: z.string().min(1).optional(),
    instanceName: z.string().min(1).optional(),
    /** Docker: the server container. */
    container: z.string().min(1).optional(),
  })
  .superRefine((o, ctx) => {
    if (!o.cloud && !o.provider) ctx.addIssue({ code: "custom", path: ["cloud"], message: "is missing: these are not the outputs of an athens-sync stack (or of one deployed before `cloud` was exported; run `pulumi up` once)" });
    for (const key of ["token", "adminToken"] as const) {
      if (o[key] === SECRET_PLACEHOLDER) ctx.addIssue({ code: "custom", path: [key], message: "is hidden; read the outputs with `pulumi stack output --json --show-secrets`" });
    }
  })
  .transform((o) => ({ ...o, cloud: (o.cloud ?? o.provider) as ProviderName }));

export type StackOutputs = z.output<typeof StackOutputsSchema>;

export class StackOutputsError extends Error {
  override readonly name = "StackOutputsError";
}

/** The parsed outputs; throws one error naming every bad output and its fix. */
export function parseStackOutputs(raw: unknown): StackOutputs {
  const parsed = StackOutputsSchema.safeParse(raw);
  if (parsed.success) return parsed.data;
  const lines = parsed.error.issues.map((i) => `  ${i.path.join(".") || "(outputs)"}: ${i.message}`);
  throw new StackOutputsError(`unusable stack outputs:\n${lines.join("\n")}`);
}
