/**
 * The Digest engine's walls (issue #12; docs/design.md §2 "src/digest/ imports
 * nothing from the CPNS parts"): read from the source itself, so a new import
 * across a wall fails here, not in a later review.
 */
import { spawnSync } from "node:child_process";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join, relative } from "node:path";
import { describe, expect, it } from "vitest";
import { REPO_ROOT } from "../conformance/spawn.ts";

const SRC = join(REPO_ROOT, "src");

function sourceFiles(folder: string): string[] {
  return readdirSync(folder).flatMap((name) => {
    const path = join(folder, name);
    if (statSync(path).isDirectory()) return sourceFiles(path);
    return path.endsWith(".ts") ? [path] : [];
  });
}

/** Every module specifier a file imports or re-exports (static and dynamic). */
function importsOf(file: string): string[] {
  const text = readFileSync(file, "utf8");
  const found: string[] = [];
  for (const match of text.matchAll(/(?:^|\n)\s*(?:import|export)[^"';]*?from\s*"([^"]+)"/g)) {
    found.push(match[1] as string);
  }
  for (const match of text.matchAll(/import\(\s*"([^"]+)"\s*\)/g)) found.push(match[1] as string);
  return found;
}

describe("[DIGEST-WALLS] src/digest stands alone and has one way in", () => {
  it("[DIGEST-WALLS] src/digest imports only itself, src/crypto and hono (types)", () => {
    const strays: string[] = [];
    for (const file of sourceFiles(join(SRC, "digest"))) {
      for (const spec of importsOf(file)) {
        const allowed = spec.startsWith("./") || spec.startsWith("../crypto/") || spec === "hono";
        if (!allowed) strays.push(`${relative(REPO_ROOT, file)} -> ${spec}`);
      }
    }
    expect(strays).toEqual([]);
  });

  it("[DIGEST-WALLS] the rest of src reaches the engine only through src/digest/index.ts", () => {
    const strays: string[] = [];
    for (const file of sourceFiles(SRC)) {
      if (file.startsWith(join(SRC, "digest"))) continue;
      for (const spec of importsOf(file)) {
        if (/\/digest\/(?!index\.ts$)[^/]+$/.test(spec)) {
          strays.push(`${relative(REPO_ROOT, file)} -> ${spec}`);
        }
      }
    }
    expect(strays).toEqual([]);
  });

  it("[DIGEST-WALLS] package.json exports the engine as cpns-security/digest", () => {
    const manifest = JSON.parse(readFileSync(join(REPO_ROOT, "package.json"), "utf8")) as {
      name: string;
      exports?: Record<string, unknown>;
    };
    expect(manifest.name).toBe("cpns-security");
    expect(manifest.exports?.["./digest"]).toBe("./src/digest/index.ts");
    // Resolved by name as a consumer would (Node's package self-reference), under tsx.
    const probe = spawnSync(
      join(REPO_ROOT, "node_modules/.bin/tsx"),
      [
        "--input-type=module",
        "-e",
        'const m = await import("cpns-security/digest"); console.log([typeof m.digestAuth, typeof m.createDigestFetch, typeof m.DigestError].join(","));',
      ],
      { cwd: REPO_ROOT, encoding: "utf8", timeout: 60_000 },
    );
    expect(probe.stdout.trim()).toBe("function,function,function");
  }, 90_000);
});
