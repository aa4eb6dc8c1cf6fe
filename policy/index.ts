/**
 * The athens-sync policy pack. Run it with any stack of this project (or any program that
 * uses the package's components): `pulumi preview --policy-pack ./policy`.
 * Each policy is one small file under policies/: data plus one function.
 */
import { PolicyPack } from "@pulumi/policy";
import { POLICIES } from "./policies";

new PolicyPack("athens-sync", { enforcementLevel: "mandatory", policies: [...POLICIES] });
