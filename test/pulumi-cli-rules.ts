/**
 * The Pulumi CLI's own checks on project config, encoded from its source (we cannot run
 * the CLI here). Source: pulumi/pulumi at 1b5949891b3cefcb9974752b24a5ecef0acc86c8
 * - https://github.com/pulumi/pulumi/blob/1b5949891b3cefcb9974752b24a5ecef0acc86c8/pkg/workspace/config.go
 *   `mergeConfig`: a key declared in the project's `config:` in the project's namespace,
 *   with neither `default` nor `value`, that the stack does not set, is reported as
 *   "Stack '<stack>' is missing configuration value(s) ..." and the run stops.
 * - https://github.com/pulumi/pulumi/blob/1b5949891b3cefcb9974752b24a5ecef0acc86c8/sdk/go/common/workspace/project.go
 *   `RewriteShorthandConfigValues`: a scalar or list in place of a declaration is a
 *   `default` (project namespace) or a `value` (other namespaces).
 *   `(*Project).Validate`: not both `default` and `value`; an explicit `array` type needs
 *   `items`; an explicit type's `default` must have that type; keys of other namespaces
 *   may carry neither a type nor a default and must carry a `value`.
 */

export interface ConfigDeclaration {
  type?: string;
  items?: { type: string };
  default?: unknown;
  value?: unknown;
  description?: string;
  secret?: boolean;
}

function isShorthand(value: unknown): boolean {
  return value === null || typeof value !== "object" || Array.isArray(value);
}

/** `key` → namespace:key, the way parseConfigKey does it. */
function namespaced(project: string, key: string): { namespace: string; name: string } {
  const colon = key.indexOf(":");
  return colon >= 0 ? { namespace: key.slice(0, colon), name: key.slice(colon + 1) } : { namespace: project, name: key };
}

/** RewriteShorthandConfigValues. */
export function declarations(project: string, config: Record<string, unknown> | undefined): Record<string, ConfigDeclaration> {
  const out: Record<string, ConfigDeclaration> = {};
  for (const [key, raw] of Object.entries(config ?? {})) {
    if (isShorthand(raw)) out[key] = namespaced(project, key).namespace === project ? { default: raw } : { value: raw };
    else out[key] = raw as ConfigDeclaration;
  }
  return out;
}

function hasType(type: string, items: ConfigDeclaration["items"], value: unknown): boolean {
  switch (type) {
    case "string":
      return typeof value === "string";
    case "integer":
      return (typeof value === "number" && Number.isInteger(value)) || (typeof value === "string" && /^-?\d+$/.test(value));
    case "boolean":
      return typeof value === "boolean" || value === "true" || value === "false";
    case "object":
      return typeof value === "object" && value !== null && !Array.isArray(value);
    case "array":
      return Array.isArray(value) && items !== undefined && value.every((v) => hasType(items.type, undefined, v));
    default:
      return false;
  }
}

/** (*Project).Validate: errors the CLI raises when it loads Pulumi.yaml. */
export function validateProject(project: string, config: Record<string, unknown> | undefined): string[] {
  const errors: string[] = [];
  for (const [key, d] of Object.entries(declarations(project, config))) {
    if (d.default !== undefined && d.value !== undefined) errors.push(`project config '${key}' cannot have both a 'default' and 'value' attribute`);
    if (namespaced(project, key).namespace === project) {
      if (d.type === "array" && !d.items) errors.push(`The configuration key '${key}' declares an array but does not specify the underlying type via the 'items' attribute`);
      if (d.type !== undefined && d.default !== undefined && !hasType(d.type, d.items, d.default)) errors.push(`The default value specified for configuration key '${key}' is not of the expected type '${d.type}'`);
    } else {
      if (d.type !== undefined) errors.push(`Configuration key '${key}' is not namespaced by the project and should not define a type`);
      if (d.default !== undefined) errors.push(`Configuration key '${key}' is not namespaced by the project and should not define a default value`);
      if (d.value === undefined) errors.push(`Configuration key '${key}' is namespaced and must provide an attribute 'value'`);
    }
  }
  return errors;
}

/** mergeConfig: the keys a stack is missing; the CLI stops before the program runs if any. */
export function missingKeys(project: string, config: Record<string, unknown> | undefined, stackConfig: Record<string, unknown>): string[] {
  const set = new Set(Object.keys(stackConfig).map((k) => {
    const { namespace, name } = namespaced(project, k);
    return `${namespace}:${name}`;
  }));
  return Object.entries(declarations(project, config))
    .filter(([key, d]) => {
      const { namespace, name } = namespaced(project, key);
      return namespace === project && d.default === undefined && d.value === undefined && !set.has(`${namespace}:${name}`);
    })
    .map(([key]) => key)
    .sort();
}
