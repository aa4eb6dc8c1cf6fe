import type { ResourceValidationPolicy } from "@pulumi/policy";
import { isDataVolume } from "./data-volume";

/**
 * AWS: EBS volumes are encrypted only when asked (`encrypted: true`).
 * GCP persistent disks and DigitalOcean volumes are always encrypted at rest by the
 * cloud, so there is nothing to set there; the local Docker volume is the host's disk.
 */
export const dataVolumeEncrypted: ResourceValidationPolicy = {
  name: "data-volume-encrypted",
  description: "The sync server's data volume is encrypted at rest.",
  enforcementLevel: "mandatory",
  validateResource: (args, reportViolation) => {
    if (!isDataVolume(args) || args.type !== "aws:ebs/volume:Volume") return;
    if (args.props.encrypted !== true) {
      reportViolation(
        "The data volume is not encrypted. Set `encrypted: true` on the EBS volume (optionally `kmsKeyId`). " +
          "An existing unencrypted volume cannot be encrypted in place: snapshot it, copy the snapshot with encryption, and restore from the copy.",
      );
    }
  },
};
