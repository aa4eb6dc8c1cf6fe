import type { ResourceValidationPolicy } from "@pulumi/policy";

/**
 * IMDSv2 (session tokens) stops a server-side request forgery, or a container that can
 * reach 169.254.169.254, from reading the instance role's credentials with one GET.
 */
export const imdsv2Required: ResourceValidationPolicy = {
  name: "imdsv2-required",
  description: "EC2 instances and launch templates require IMDSv2 (metadataOptions.httpTokens = required).",
  enforcementLevel: "mandatory",
  validateResource: (args, reportViolation) => {
    if (args.type !== "aws:ec2/instance:Instance" && args.type !== "aws:ec2/launchTemplate:LaunchTemplate") return;
    const tokens = (args.props.metadataOptions as { httpTokens?: string } | undefined)?.httpTokens;
    if (tokens !== "required") {
      reportViolation('IMDSv1 is allowed. Set `metadataOptions: { httpTokens: "required", httpEndpoint: "enabled" }`.');
    }
  },
};
