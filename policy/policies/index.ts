import { dataVolumeEncrypted } from "./data-volume-encrypted";
import { dataVolumeNotReplaced } from "./data-volume-not-replaced";
import { dataVolumeProtected } from "./data-volume-protected";
import { dataVolumeSnapshots } from "./data-volume-snapshots";
import { imdsv2Required } from "./imdsv2-required";
import { noWorldSsh } from "./no-world-ssh";
import { serverImageByDigest } from "./server-image-by-digest";

/** Every policy of the pack, in the order the CLI reports them. */
export const POLICIES = [dataVolumeEncrypted, dataVolumeProtected, dataVolumeNotReplaced, dataVolumeSnapshots, noWorldSsh, imdsv2Required, serverImageByDigest] as const;
