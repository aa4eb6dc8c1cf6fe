import type { ResourceValidationPolicy } from "@pulumi/policy";
import { isDataVolume } from "./data-volume";

/**
 * `protect` makes the Pulumi engine refuse to delete the resource, and so also refuse any
 * replacement (a replace deletes the old one): a preview that would delete or replace the
 * data volume fails instead of running. (CrossGuard does not pass `retainOnDelete` to
 * policies; the mock tests in test/ assert it for every stack.)
 */
export const dataVolumeProtected: ResourceValidationPolicy = {
  name: "data-volume-protected",
  description: "The sync server's data volume has `protect`, so no preview or update can delete or replace it.",
  enforcementLevel: "mandatory",
  validateResource: (args, reportViolation) => {
    if (!isDataVolume(args)) return;
    if (args.opts.protect !== true) {
      reportViolation(
        "The data volume is not protected. Keep the component's `protect: true` and `retainOnDelete: true` on it; " +
          "if you really mean to delete the data, first `pulumi state unprotect <urn>` on purpose.",
      );
    }
  },
};
