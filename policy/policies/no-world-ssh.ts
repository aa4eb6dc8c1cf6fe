import type { ResourceValidationPolicy } from "@pulumi/policy";

const WORLD = new Set(["0.0.0.0/0", "::/0"]);
const anyWorld = (ranges: unknown): boolean => Array.isArray(ranges) && ranges.some((r) => WORLD.has(String(r)));

/** Does a port spec cover 22? Accepts numbers, "22", "20-30", "all", "1-65535". */
export function coversPort22(spec: unknown): boolean {
  if (spec === undefined || spec === null || spec === "" || spec === "all") return true;
  const text = String(spec);
  const range = /^(\d+)-(\d+)$/.exec(text);
  if (range) return Number(range[1]) <= 22 && 22 <= Number(range[2]);
  return Number(text) === 22;
}

const ALL_PROTOCOLS = new Set(["-1", "all"]);

function awsRuleOpensSsh(rule: Record<string, unknown>): boolean {
  const protocol = String(rule.protocol ?? rule.ipProtocol ?? "").toLowerCase();
  if (!ALL_PROTOCOLS.has(protocol) && protocol !== "tcp" && protocol !== "6") return false;
  const from = Number(rule.fromPort ?? 0);
  const to = Number(rule.toPort ?? 65535);
  const covers = ALL_PROTOCOLS.has(protocol) || (from <= 22 && 22 <= to);
  const cidrs = [rule.cidrBlocks, rule.ipv6CidrBlocks, [rule.cidrIpv4, rule.cidrIpv6].filter(Boolean)];
  return covers && cidrs.some(anyWorld);
}

function gcpFirewallOpensSsh(props: Record<string, unknown>): boolean {
  if (props.disabled === true || String(props.direction ?? "INGRESS") !== "INGRESS") return false;
  if (!anyWorld(props.sourceRanges)) return false;
  const allows = (props.allows ?? []) as { protocol?: string; ports?: string[] }[];
  return allows.some((a) => {
    const protocol = String(a.protocol ?? "").toLowerCase();
    if (protocol !== "tcp" && protocol !== "all" && protocol !== "6") return false;
    return !a.ports || a.ports.length === 0 || a.ports.some(coversPort22);
  });
}

function doFirewallOpensSsh(props: Record<string, unknown>): boolean {
  const rules = (props.inboundRules ?? []) as { protocol?: string; portRange?: string; sourceAddresses?: string[] }[];
  return rules.some((r) => String(r.protocol) === "tcp" && coversPort22(r.portRange) && anyWorld(r.sourceAddresses));
}

/**
 * SSH is never open to the whole internet, on any cloud. Every resource type that can
 * open a port is checked, whoever created it, because one world-open rule is enough.
 */
export const noWorldSsh: ResourceValidationPolicy = {
  name: "no-world-ssh",
  description: "No ingress from 0.0.0.0/0 or ::/0 to port 22.",
  enforcementLevel: "mandatory",
  validateResource: (args, reportViolation) => {
    const fix = "Allow port 22 only from your own CIDRs (the `sshCidrs` config key), or use the cloud's console/serial access described in the README.";
    const p = args.props as Record<string, unknown>;
    switch (args.type) {
      case "aws:ec2/securityGroup:SecurityGroup":
        if (((p.ingress ?? []) as Record<string, unknown>[]).some(awsRuleOpensSsh)) reportViolation(`The security group opens port 22 to the world. ${fix}`);
        return;
      case "aws:ec2/securityGroupRule:SecurityGroupRule":
        if (p.type === "ingress" && awsRuleOpensSsh(p)) reportViolation(`The security group rule opens port 22 to the world. ${fix}`);
        return;
      case "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule":
        if (awsRuleOpensSsh(p)) reportViolation(`The ingress rule opens port 22 to the world. ${fix}`);
        return;
      case "gcp:compute/firewall:Firewall":
        if (gcpFirewallOpensSsh(p)) reportViolation(`The firewall rule allows port 22 from the world. ${fix}`);
        return;
      case "digitalocean:index/firewall:Firewall":
        if (doFirewallOpensSsh(p)) reportViolation(`The firewall opens port 22 to the world. ${fix}`);
        return;
    }
  },
};
