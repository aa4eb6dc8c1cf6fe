/**
 * Turns a service of the rendered compose file into plain `docker run` terms, so the
 * local stack (and the e2e test) run exactly what the VMs run, without a second
 * hand-written definition.
 */
export interface ContainerSpec {
  readonly image: string;
  readonly env: Readonly<Record<string, string>>;
  readonly volumes: ReadonlyArray<{ readonly source: string; readonly target: string; readonly readOnly: boolean; readonly named: boolean }>;
  readonly ports: ReadonlyArray<{ readonly external: number; readonly internal: number }>;
  readonly restart: string;
  readonly healthcheck?: { readonly tests: string[]; readonly interval: string; readonly timeout: string; readonly retries: number; readonly startPeriod: string };
  readonly stopSignal?: string;
  /** Seconds between SIGTERM and SIGKILL. */
  readonly stopTimeout?: number;
  readonly envFiles: readonly string[];
  readonly readOnly: boolean;
  readonly securityOpts: readonly string[];
  readonly capabilities: { readonly adds: readonly string[]; readonly drops: readonly string[] };
  /** Memory limit in MiB. */
  readonly memoryMb?: number;
  /** tmpfs mounts: path → options. */
  readonly tmpfs: Readonly<Record<string, string>>;
}

interface ComposeService {
  image: string;
  environment?: Record<string, string>;
  env_file?: string[];
  volumes?: string[];
  ports?: string[];
  restart?: string;
  healthcheck?: { test: string[]; interval: string; timeout: string; retries: number; start_period: string };
  stop_signal?: string;
  stop_grace_period?: string;
  read_only?: boolean;
  security_opt?: string[];
  cap_add?: string[];
  cap_drop?: string[];
  mem_limit?: string;
  tmpfs?: string[];
}

/** "1g" / "256m" → MiB. */
function mebibytes(size: string): number {
  const match = /^(\d+)([mg])$/.exec(size);
  if (!match) throw new Error(`unsupported size ${size}`);
  return Number(match[1]) * (match[2] === "g" ? 1024 : 1);
}

function seconds(duration: string): number {
  const match = /^(\d+)(s|m)?$/.exec(duration);
  if (!match) throw new Error(`unsupported duration ${duration}`);
  return Number(match[1]) * (match[2] === "m" ? 60 : 1);
}

export function containerSpec(compose: Record<string, unknown>, serviceName: string): ContainerSpec {
  const service = (compose.services as Record<string, ComposeService>)[serviceName];
  if (!service) throw new Error(`compose file has no service ${serviceName}`);
  return {
    image: service.image,
    env: { ...(service.environment ?? {}) },
    envFiles: service.env_file ?? [],
    volumes: (service.volumes ?? []).map((v) => {
      const [source, target, mode] = v.split(":") as [string, string, string | undefined];
      return { source, target, readOnly: mode === "ro", named: !source.startsWith("/") && !source.startsWith(".") };
    }),
    ports: (service.ports ?? []).map((p) => {
      const [external, internal] = p.split(":").map(Number) as [number, number];
      return { external, internal };
    }),
    restart: service.restart ?? "no",
    healthcheck: service.healthcheck && {
      tests: service.healthcheck.test,
      interval: service.healthcheck.interval,
      timeout: service.healthcheck.timeout,
      retries: service.healthcheck.retries,
      startPeriod: service.healthcheck.start_period,
    },
    stopSignal: service.stop_signal,
    stopTimeout: service.stop_grace_period ? seconds(service.stop_grace_period) : undefined,
    readOnly: service.read_only ?? false,
    securityOpts: service.security_opt ?? [],
    capabilities: { adds: service.cap_add ?? [], drops: service.cap_drop ?? [] },
    memoryMb: service.mem_limit ? mebibytes(service.mem_limit) : undefined,
    tmpfs: Object.fromEntries((service.tmpfs ?? []).map((t) => {
      const [target, options] = t.split(/:(.*)/s) as [string, string | undefined];
      return [target, options ?? ""];
    })),
  };
}
