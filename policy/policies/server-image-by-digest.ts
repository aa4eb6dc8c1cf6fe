import type { ResourceValidationPolicy } from "@pulumi/policy";
import { parse } from "yaml";
import { SERVICE } from "../../components/spec";
import { ownedBySyncServer } from "./data-volume";

/** `repo@sha256:<64 hex>` (a pushed image) or `sha256:<64 hex>` (a local image id). */
export const DIGEST_REF = /^(?:[^\s@]+@)?sha256:[0-9a-f]{64}$/;

/** The VM's user data: a cloud-config whose write_files carry the compose file. */
function userDataOf(type: string, props: Record<string, unknown>): string | undefined {
  if (type === "gcp:compute/instance:Instance") return (props.metadata as Record<string, string> | undefined)?.["user-data"];
  return props.userData as string | undefined;
}

/** The server service's image in the compose file carried by the user data, or undefined when there is none. */
export function serverImageInUserData(userData: string): string | undefined {
  const doc = parse(userData) as { write_files?: { path?: string; content?: string }[] } | null;
  const compose = doc?.write_files?.find((f) => typeof f.path === "string" && f.path.endsWith("compose.yaml"));
  if (!compose?.content) return undefined;
  const services = (parse(compose.content) as { services?: Record<string, { image?: string }> }).services;
  return services?.[SERVICE.server]?.image;
}

const VMS = new Set(["aws:ec2/instance:Instance", "digitalocean:index/droplet:Droplet", "gcp:compute/instance:Instance"]);

/**
 * A tag can move under a running deployment; a digest cannot. The VM runs exactly the
 * image that was built and pushed, so an update is a visible diff, and a replaced VM
 * never pulls something else.
 */
export const serverImageByDigest: ResourceValidationPolicy = {
  name: "server-image-by-digest",
  description: "The sync server's image is referenced by digest, never by tag.",
  enforcementLevel: "mandatory",
  validateResource: (args, reportViolation) => {
    if (!ownedBySyncServer(args)) return;
    const fix = "Reference the image by the docker.Image's `repoDigest` (repo@sha256:…), as the components do; never by `:latest` or another tag.";
    if (VMS.has(args.type)) {
      const userData = userDataOf(args.type, args.props);
      if (userData === undefined) return;
      const image = serverImageInUserData(userData);
      if (image === undefined) reportViolation(`The VM's user data carries no compose file with a \`${SERVICE.server}\` service, so its image cannot be checked. ${fix}`);
      else if (!DIGEST_REF.test(image)) reportViolation(`The VM runs the server image \`${image}\` by tag. ${fix}`);
    } else if (args.type === "docker:index/container:Container" && args.name.endsWith("-server")) {
      const image = String(args.props.image);
      if (!DIGEST_REF.test(image)) reportViolation(`The server container runs \`${image}\` by tag. ${fix}`);
    }
  },
};
