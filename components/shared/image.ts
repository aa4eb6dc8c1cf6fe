import fs from "node:fs";
import path from "node:path";
import * as docker from "@pulumi/docker";
import * as pulumi from "@pulumi/pulumi";

/**
 * The server image's build context: the package root, which holds server/ (with its
 * Dockerfile) and the shared protocol/. Found by walking up, because this file runs
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

export interface ServerImageArgs {
  /** repository[:tag] to build and push. */
  readonly imageName: pulumi.Input<string>;
  readonly nodeImage: string;
  /** Build context holding server/ and protocol/ (the repository root). */
  readonly buildContext?: string;
  /** Push target; omit to keep the image local (the docker provider). */
  readonly registry?: pulumi.Input<{ server: pulumi.Input<string>; username: pulumi.Input<string>; password: pulumi.Input<string> }>;
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
