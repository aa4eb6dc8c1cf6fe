import fs from "node:fs";
import path from "node:path";
import { parse } from "yaml";
import { ConfigSchema } from "../components/config";
import { declarations, missingKeys, validateProject } from "./pulumi-cli-rules";

const ROOT = path.join(__dirname, "..");

/** Pulumi.yaml at the root and every template's (templates/<name>/Pulumi.yaml), with their stack files. */
function projects(): Array<{ file: string; doc: { name: string; config?: Record<string, unknown>; stackConfigDir?: string; template?: { config?: Record<string, unknown> } }; stacks: string[] }> {
  const files = [path.join(ROOT, "Pulumi.yaml")];
  const templates = path.join(ROOT, "templates");
  if (fs.existsSync(templates)) {
    for (const t of fs.readdirSync(templates)) {
      const f = path.join(templates, t, "Pulumi.yaml");
      if (fs.existsSync(f)) files.push(f);
    }
  }
  return files.map((file) => {
    const doc = parse(fs.readFileSync(file, "utf8"));
    const dir = path.join(path.dirname(file), doc.stackConfigDir ?? ".");
    const stacks = fs.existsSync(dir) ? fs.readdirSync(dir).filter((f) => /^Pulumi\..+\.ya?ml$/.test(f)).map((f) => path.join(dir, f)) : [];
    return { file, doc, stacks };
  });
}

describe("the Pulumi CLI's config rules (pulumi/pulumi mergeConfig, Project.Validate)", () => {
  test("the rule catches what the CLI rejects (a declared key with no default, unset by the stack)", () => {
    const config = { "athens-sync:region": { type: "string" }, "athens-sync:volumeSizeGb": { type: "integer", default: 20 }, instanceSize: "t3.small" };
    expect(missingKeys("athens-sync", config, {})).toEqual(["athens-sync:region"]);
    expect(missingKeys("athens-sync", config, { "athens-sync:region": "fra1" })).toEqual([]);
    expect(missingKeys("athens-sync", { region: { type: "string" } }, { "athens-sync:region": "x" })).toEqual([]);
    // Other namespaces are never "missing" (the CLI only checks the project's own).
    expect(missingKeys("athens-sync", { "aws:region": { value: "us-east-1" } }, {})).toEqual([]);
    expect(validateProject("athens-sync", { "athens-sync:n": { type: "integer", default: "x" } })).toHaveLength(1);
    expect(validateProject("athens-sync", { "athens-sync:l": { type: "array" } })).toHaveLength(1);
    expect(validateProject("athens-sync", { "aws:region": { type: "string" } }).length).toBeGreaterThan(0);
  });

  const all = projects();
  test("the root project and its four stacks are found", () => {
    expect(all[0]!.stacks.map((s) => path.basename(s)).sort()).toEqual(["Pulumi.aws-prod.yaml", "Pulumi.do-prod.yaml", "Pulumi.gcp-prod.yaml", "Pulumi.local.yaml"]);
  });

  test.each(all.map((p) => [path.relative(ROOT, p.file), p] as const))("%s passes Project.Validate", (_f, p) => {
    expect(validateProject(p.doc.name, p.doc.config)).toEqual([]);
  });

  test.each(all.flatMap((p) => p.stacks.map((s) => [path.relative(ROOT, s), p, s] as const)))("%s is not missing any declared key", (_f, p, stackFile) => {
    const stack = parse(fs.readFileSync(stackFile, "utf8")) ?? {};
    expect(missingKeys(p.doc.name, p.doc.config, stack.config ?? {})).toEqual([]);
  });

  test.each(all.map((p) => [path.relative(ROOT, p.file), p] as const))("a fresh stack of %s (no config yet) is not missing any key the template does not prompt for", (_f, p) => {
    const prompted = Object.fromEntries(Object.keys(p.doc.template?.config ?? {}).map((k) => [k, "prompted"]));
    expect(missingKeys(p.doc.name, p.doc.config, prompted)).toEqual([]);
  });

  test.each(all.map((p) => [path.relative(ROOT, p.file), p] as const))("zod stays the one schema: %s declares only keys it knows, with its defaults", (_f, p) => {
    const shape = ConfigSchema.shape;
    for (const [key, d] of Object.entries(declarations(p.doc.name, p.doc.config))) {
      const colon = key.indexOf(":");
      if (colon >= 0 && key.slice(0, colon) !== "athens-sync") continue;
      const name = colon >= 0 ? key.slice(colon + 1) : key;
      expect([key, name in shape]).toEqual([key, true]);
      if (d.default !== undefined) expect([key, (shape as Record<string, { parse(v: unknown): unknown }>)[name]!.parse(undefined)]).toEqual([key, d.default]);
    }
  });
});
