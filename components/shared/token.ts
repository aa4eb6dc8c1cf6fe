import * as pulumi from "@pulumi/pulumi";
import * as random from "@pulumi/random";

/** The deployment's access token: 48 random characters, stored only as a secret. */
export function accessToken(name: string, parent: pulumi.Resource): pulumi.Output<string> {
  const password = new random.RandomPassword(`${name}-token`, { length: 48, special: false }, { parent, additionalSecretOutputs: ["result"] });
  return pulumi.secret(password.result);
}

/**
 * The operator's admin token (SYNC_ADMIN_TOKEN), for the server's `/admin/*` endpoints:
 * its own 48 random characters, so a client's access token never opens them. A secret
 * in the state and in the stack outputs (`adminToken`).
 */
export function adminToken(name: string, parent: pulumi.Resource): pulumi.Output<string> {
  const password = new random.RandomPassword(`${name}-admin-token`, { length: 48, special: false }, { parent, additionalSecretOutputs: ["result"] });
  return pulumi.secret(password.result);
}
