/**
 * The zone a GCP stack deploys to when config sets none: the region's "-a" zone, except
 * in the two regions that have none. us-east1 and europe-west1 have zones b, c and d only
 * (cloud.google.com/compute/docs/regions-zones; `gcloud compute zones list`): "-a" there
 * made every deploy fail at the disk. Their "-b" is taken instead. Fixed per region, never
 * looked up at deploy time: the disk's zone is ForceNew, so a default that moved with the
 * zone list would one day plan to replace the (protected) data disk.
 */
const WITHOUT_ZONE_A: ReadonlySet<string> = new Set(["us-east1", "europe-west1"]);

export function defaultZone(region: string): string {
  return `${region}-${WITHOUT_ZONE_A.has(region) ? "b" : "a"}`;
}
