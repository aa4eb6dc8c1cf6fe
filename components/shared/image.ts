import fs from "node:fs";
import path from "node:path";
import * as docker from "@pulumi/docker";
import * as pulumi from "@pulumi/pulumi";

/**
 * The server image's build context: the package root, which holds server/ (with its
 * Dockerfile), the shared protocol/ and client/ (the image bundles its demo outliner). Found by walking up, because this file runs
 * from components/shared/ in a checkout and from dist/components/shared/ when the
 * package is installed from npm.
 */
export function packageRoot(from: string = __dirname): string {
  for (let dir = from; ; dir = path.dirname(dir)) {
    if (fs.existsSync(path.join(dir, "server", "Dockerfile")) && fs.existsSync(path.join(dir, "protocol"))) return dir;
    if (path.dirname(dir) === dir) throw new Error(`cannot find the server's build context (server/Dockerfile) above ${from}; pass buildContext`);
  }
}
export const DEFAULT_BUILD_CONTEXT = packageRoot();

export interface RegistryLogin {
  readonly server: pulumi.Input<string>;
  readonly username: pulumi.Input<string>;
  readonly password: pulumi.Input<string>;
}

export interface ServerImageArgs {
  /** repository[:tag] to build and push. */
  readonly imageName: pulumi.Input<string>;
  readonly nodeImage: string;
  /** Build context holding server/ and protocol/ (the repository root). */
  readonly buildContext?: string;
  /** Push target; omit to keep the image local (the docker provider). */
  readonly registry?: pulumi.Input<RegistryLogin>;
}

/** Builds server/ (and pushes it when a registry is given). Reference it by `repoDigest`, never by tag. */
export function serverImage(name: string, args: ServerImageArgs, parent: pulumi.Resource): docker.Image {
  return new docker.Image(
    `${name}-image`,
    {
      imageName: args.imageName,
      build: {
        context: args.buildContext ?? DEFAULT_BUILD_CONTEXT,
        dockerfile: path.join(args.buildContext ?? DEFAULT_BUILD_CONTEXT, "server", "Dockerfile"),
        platform: "linux/amd64",
        args: { NODE_IMAGE: args.nodeImage },
      },
      registry: args.registry,
      skipPush: args.registry === undefined,
    },
    { parent },
  );
}

/** `repo[:tag][@digest]` → `repo` (a registry host's port is kept). */
export function repositoryOf(ref: string): string {
  const noDigest = ref.split("@")[0]!;
  const slash = noDigest.lastIndexOf("/");
  const colon = noDigest.lastIndexOf(":");
  return colon > slash ? noDigest.slice(0, colon) : noDigest;
}

/** The tag to give a mirrored copy: the source's tag, else "mirror". */
export function mirrorTag(ref: string): string {
  const noDigest = ref.split("@")[0]!;
  const slash = noDigest.lastIndexOf("/");
  const colon = noDigest.lastIndexOf(":");
  return colon > slash ? noDigest.slice(colon + 1) : "mirror";
}

/**
 * Copies a public image (Caddy) into the stack's own registry at deploy time and returns
 * it by digest: VMs pull only from the stack's registry, never from Docker Hub (no rate
 * limits, and an air-gapped VM works when `source` names a local mirror).
 */
export function mirrorImage(
  name: string,
  args: { readonly source: string; readonly target: pulumi.Input<string>; readonly registry: pulumi.Input<RegistryLogin> },
  parent: pulumi.Resource,
): pulumi.Output<string> {
  const provider = new docker.Provider(
    `${name}-registry`,
    { registryAuth: [pulumi.output(args.registry).apply((r) => ({ address: r.server, username: r.username, password: r.password }))] },
    { parent },
  );
  const pulled = new docker.RemoteImage(`${name}-pull`, { name: args.source, platform: "linux/amd64", keepLocally: true }, { parent });
  const tagged = new docker.Tag(`${name}-tag`, { sourceImage: pulled.imageId, targetImage: args.target }, { parent });
  const pushed = new docker.RegistryImage(`${name}-push`, { name: tagged.targetImage, keepRemotely: true, triggers: { source: pulled.repoDigest } }, { parent, provider });
  return pulumi.all([pulumi.output(args.target), pushed.sha256Digest]).apply(([target, digest]) => `${repositoryOf(target)}@${digest}`);
}
