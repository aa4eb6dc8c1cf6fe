import path from "node:path";
import * as docker from "@pulumi/docker";
import * as pulumi from "@pulumi/pulumi";

export const DEFAULT_SERVER_DIR = path.join(__dirname, "..", "..", "server");

export interface ServerImageArgs {
  /** repository[:tag] to build and push. */
  readonly imageName: pulumi.Input<string>;
  readonly nodeImage: string;
  readonly serverDir?: string;
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
        context: args.serverDir ?? DEFAULT_SERVER_DIR,
        dockerfile: path.join(args.serverDir ?? DEFAULT_SERVER_DIR, "Dockerfile"),
        platform: "linux/amd64",
        args: { NODE_IMAGE: args.nodeImage },
      },
      registry: args.registry,
      skipPush: args.registry === undefined,
    },
    { parent },
  );
}
