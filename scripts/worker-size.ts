/**
 * `npm run size:worker` (issue #11: "Report the Worker bundle size (minified,
 * gzipped) with a command; keep it <= 150 KB and say what dominates it"):
 * bundles the CPNS Server Worker exactly as a deploy would
 * (`wrangler deploy --dry-run --minify`, wrangler.toml, no network), gzips
 * the output, prints both sizes and the minified bytes per package or source
 * folder (from esbuild's metafile), and exits 1 above the limit.
 *
 * Implements: FLEET-WORKERS-SIZE
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { gzipSync } from "node:zlib";

export const LIMIT_GZIP_BYTES = 150 * 1024;

const root = resolve(import.meta.dirname, "..");
const dir = mkdtempSync(join(tmpdir(), "cpns-worker-size-"));
try {
  const outdir = join(dir, "out");
  const metafile = join(dir, "meta.json");
  const run = spawnSync(
    join(root, "node_modules", ".bin", "wrangler"),
    ["deploy", "--dry-run", "--minify", "--outdir", outdir, "--metafile", metafile],
    {
      cwd: root,
      encoding: "utf8",
      env: {
        ...process.env,
        CI: "true",
        NO_COLOR: "1",
        WRANGLER_SEND_METRICS: "false",
        CLOUDFLARE_CF_FETCH_ENABLED: "false",
      },
    },
  );
  if (run.status !== 0) {
    process.stderr.write(`${run.stdout}\n${run.stderr}\nwrangler deploy --dry-run failed\n`);
    process.exit(2);
  }
  const bundle = readFileSync(join(outdir, "worker.js"));
  const gzipped = gzipSync(bundle, { level: 9 }).length;
  const meta = JSON.parse(readFileSync(metafile, "utf8")) as {
    outputs: Record<string, { inputs?: Record<string, { bytesInOutput: number }> }>;
  };
  const output = Object.entries(meta.outputs).find(([name]) => name.endsWith("worker.js"));
  const parts = new Map<string, number>();
  for (const [file, { bytesInOutput }] of Object.entries(output?.[1].inputs ?? {})) {
    const part = file.includes("node_modules/")
      ? (file.match(/node_modules\/((?:@[^/]+\/)?[^/]+)/)?.[1] ?? file)
      : (file.match(/^(src\/[^/]+|machines|test\/[^/]+)/)?.[1] ?? file);
    parts.set(part, (parts.get(part) ?? 0) + bytesInOutput);
  }
  const kb = (bytes: number) => `${(bytes / 1024).toFixed(1)} KB`;
  console.log(`worker bundle (src/runtime/worker.ts, wrangler.toml)`);
  console.log(`  minified: ${bundle.length} bytes (${kb(bundle.length)})`);
  console.log(`  gzipped:  ${gzipped} bytes (${kb(gzipped)}), limit ${kb(LIMIT_GZIP_BYTES)}`);
  console.log("  minified bytes by package or folder:");
  for (const [part, bytes] of [...parts].sort((a, b) => b[1] - a[1])) {
    console.log(
      `    ${part.padEnd(28)} ${String(bytes).padStart(8)}  ${((100 * bytes) / bundle.length).toFixed(1)}%`,
    );
  }
  if (gzipped > LIMIT_GZIP_BYTES) {
    console.error(`FAIL: ${gzipped} bytes gzipped is over the ${LIMIT_GZIP_BYTES}-byte limit`);
    process.exit(1);
  }
  console.log("OK: under the limit");
} finally {
  rmSync(dir, { recursive: true, force: true });
}
