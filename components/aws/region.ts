/**
 * An AWS region's name as it goes into the scripts the VM runs (a URL, a SigV4 scope):
 * checked, so nothing but a region name is ever rendered into them.
 */
export function checkedRegion(region: string): string {
  if (!/^[a-z]{2}(-[a-z]+)+-\d$/.test(region)) throw new Error(`not an AWS region: ${region}`);
  return region;
}

/** Debian's AWS account, which publishes the AMIs the VM boots (wiki.debian.org/Cloud/AmazonEC2Image). */
export const DEBIAN_OWNER = "136693071363";

/**
 * The region, once the provider's partition (aws.getPartition) says it is AWS's commercial
 * one. Everything here assumes that partition: the AMI lookup names Debian's account there
 * (an account id belongs to one partition), the policy ARNs are `arn:aws:`, and the VM's
 * scripts reach Secrets Manager and the SSM agent's bucket under amazonaws.com. In China
 * (aws-cn), GovCloud (aws-us-gov) or an ISO partition the deploy would fail part way, or
 * preview would fail on an AMI lookup that names no cause: it stops here instead.
 */
export function commercialRegion(region: string, partition: string): string {
  if (partition !== "aws") {
    throw new Error(
      `aws:region "${region}" is in the AWS partition "${partition}", and this stack deploys only to AWS's commercial partition ("aws"): ` +
        `it boots Debian's AMIs from account ${DEBIAN_OWNER}, which exists only there. Set aws:region to a commercial region (for example us-east-1 or eu-central-1).`,
    );
  }
  return checkedRegion(region);
}
