/**
 * An AWS region's name as it goes into the scripts the VM runs (a URL, a SigV4 scope):
 * checked, so nothing but a region name is ever rendered into them.
 */
export function checkedRegion(region: string): string {
  if (!/^[a-z]{2}(-[a-z]+)+-\d$/.test(region)) throw new Error(`not an AWS region: ${region}`);
  return region;
}
