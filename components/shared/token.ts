import * as pulumi from "@pulumi/pulumi";
import * as random from "@pulumi/random";

/** The deployment's access token: 48 random characters, stored only as a secret. */
export function accessToken(name: string, parent: pulumi.Resource): pulumi.Output<string> {
  const password = new random.RandomPassword(`${name}-token`, { length: 48, special: false }, { parent, additionalSecretOutputs: ["result"] });
  return pulumi.secret(password.result);
}
