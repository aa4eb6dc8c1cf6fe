import type { ResourceValidationPolicy } from "@pulumi/policy";
import { isDataVolume } from "./data-volume";

/**
 * A replacement of the data volume is a new, empty disk. Two option settings make one
 * possible without `protect` noticing in time: `deleteBeforeReplace` (the old volume goes
 * first) and `replaceOnChanges` (policies cannot see it, so the component never sets it).
 * With `protect` on (data-volume-protected), the engine fails any preview that would
 * delete or replace the volume; this policy keeps the options that would plan one away.
 */
export const dataVolumeNotReplaced: ResourceValidationPolicy = {
  name: "data-volume-not-replaced",
  description: "The sync server's data volume is never planned for replacement or deletion.",
  enforcementLevel: "mandatory",
  validateResource: (args, reportViolation) => {
    if (!isDataVolume(args)) return;
    if (args.opts.deleteBeforeReplace === true) {
      reportViolation(
        "The data volume has `deleteBeforeReplace`: a replacement would delete it before creating an empty one. " +
          "Remove the option; grow the volume in place (volumeSizeGb) or restore from a snapshot into a new volume instead.",
      );
    }
    if (args.opts.protect !== true) {
      reportViolation("The data volume can be deleted or replaced by a preview because it lacks `protect: true`; restore the component's protect option.");
    }
  },
};
