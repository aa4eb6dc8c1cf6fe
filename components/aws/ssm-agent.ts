import type { ExtraUnit } from "../render/cloud-init";
import { checkedRegion } from "./region";

export const SSM_AGENT_INSTALL = "/usr/local/sbin/sync-ssm-agent-install";
export const SSM_AGENT_UNIT = "sync-ssm-agent-install.service";

/**
 * The shell on AWS is Session Manager, whose agent is not a Debian package. This installs
 * AWS's own .deb from the region's SSM bucket over HTTPS (the documented Debian path:
 * https://docs.aws.amazon.com/systems-manager/latest/userguide/agent-install-deb.html).
 * It runs apart from the stack: a failed download never holds the server back, and
 * systemd retries it until the agent is in.
 */
export function renderSsmAgentInstall(region: string): string {
  checkedRegion(region);
  return `#!/bin/sh
# Rendered by components/aws/ssm-agent.ts.
set -eu
if systemctl is-active --quiet amazon-ssm-agent; then exit 0; fi
deb=$(mktemp --suffix .deb)
trap 'rm -f "$deb"' EXIT
curl -fsS --retry 5 --max-time 300 --proto '=https' -o "$deb" "https://s3.${region}.amazonaws.com/amazon-ssm-${region}/latest/debian_amd64/amazon-ssm-agent.deb"
DEBIAN_FRONTEND=noninteractive apt-get install -y "$deb"
systemctl enable --now amazon-ssm-agent
`;
}

export function ssmAgentUnits(): ExtraUnit[] {
  return [
    {
      name: SSM_AGENT_UNIT,
      enable: true,
      content: `[Unit]\nDescription=Install AWS's SSM agent (Session Manager shell), retried until it succeeds\nWants=network-online.target\nAfter=network-online.target sync-install.service\nStartLimitIntervalSec=0\n\n[Service]\nType=oneshot\nRemainAfterExit=yes\nExecStart=${SSM_AGENT_INSTALL}\nRestart=on-failure\nRestartSec=60\n\n[Install]\nWantedBy=multi-user.target\n`,
    },
  ];
}
