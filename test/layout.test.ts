// The layout is part of the design: features in their own folders of src/, the shared plumbing in src/shared, the
// machines in actors/. This test keeps the arrows pointing one way, so a reader can trust the tree.
import { describe, expect, test } from "bun:test";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";

const ROOT = resolve(import.meta.dir, "..");

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return sources(path);
    return path.endsWith(".ts") ? [path] : [];
  });
}

/** The unit an import is judged by: `actors`, `src` (its top-level files), or the folder right under src/. */
function unitOf(file: string): string {
  const parts = relative(ROOT, file).split("/");
  if (parts[0] === "actors") return "actors";
  return parts.length === 2 ? "src" : `src/${parts[1]}`;
}

function importsOf(file: string): string[] {
  const text = readFileSync(file, "utf8");
  return [...text.matchAll(/(?:from|import)\s*\(?\s*"(\.{1,2}\/[^"]+)"/g)].map((m) => resolve(dirname(file), m[1]!));
}

const files = [...sources(join(ROOT, "src")), ...sources(join(ROOT, "actors"))];
const edges = new Map<string, Set<string>>();
for (const file of files) {
  const from = unitOf(file);
  for (const target of importsOf(file)) {
    const to = unitOf(target);
    if (to === from) continue;
    edges.set(from, (edges.get(from) ?? new Set()).add(to));
  }
}
const uses = (unit: string) => [...(edges.get(unit) ?? [])].sort();

/** Feature-to-feature imports that are allowed; everything else between features goes over NATS subjects. */
const FEATURE_IMPORTS: Record<string, string[]> = {
  // Every actor commit is fenced by its ownership epoch, which the cluster's store checks.
  "src/concert-event": ["src/cluster"],
  "src/queue": ["src/cluster"],
  // The token command signs bearer tokens as the HTTP edge verifies them.
  "src/cli": ["src/http"],
  // The pages' typed client is made from the app's route types (a type import: nothing of the server is bundled).
  "src/pages": ["src/http"],
};

describe("source layout", () => {
  test("at most six files stand directly in src/", () => {
    const top = readdirSync(join(ROOT, "src")).filter((name) => name.endsWith(".ts"));
    expect(top.length).toBeLessThanOrEqual(6);
  });

  test("the shared plumbing and the machines never import a feature", () => {
    expect(uses("src/shared")).toEqual([]);
    expect(uses("actors")).toEqual(["src/shared"]);
  });

  test("features use the plumbing, the machines and only the features listed here; nothing uses the wiring", () => {
    for (const [unit, targets] of edges) {
      if (unit === "src" || unit === "actors" || unit === "src/shared") continue;
      const allowed = new Set(["src/shared", "actors", ...(FEATURE_IMPORTS[unit] ?? [])]);
      expect({ unit, uses: [...targets].filter((t) => !allowed.has(t)) }).toEqual({ unit, uses: [] });
    }
  });

  test("the folders' imports form no cycle", () => {
    const visiting = new Set<string>();
    const done = new Set<string>();
    const cycle: string[] = [];
    const visit = (unit: string, path: string[]): void => {
      if (done.has(unit)) return;
      if (visiting.has(unit)) return void cycle.push([...path, unit].join(" → "));
      visiting.add(unit);
      for (const next of edges.get(unit) ?? []) visit(next, [...path, unit]);
      visiting.delete(unit);
      done.add(unit);
    };
    for (const unit of edges.keys()) visit(unit, []);
    expect(cycle).toEqual([]);
  });
});
