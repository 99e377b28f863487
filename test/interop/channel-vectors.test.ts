// Interop: an independent implementation of the CPNS secure channel (test/interop/
// channel_vectors.py, Python's `cryptography` from Debian's python3-cryptography, written from
// spec/channel.md alone) recomputes every published vector (test/vectors/channel-v1.ts).
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import {
  CHANNEL_V1_CONTEXT,
  CHANNEL_V1_KEYS,
  CHANNEL_V1_PLACE,
  CHANNEL_V1_RECORDS,
} from "../vectors/channel-v1.ts";
import { requirePrerequisites } from "./helpers.ts";

const PYTHON = "/usr/bin/python3";
const SCRIPT = join(dirname(fileURLToPath(import.meta.url)), "channel_vectors.py");

function cryptographyAvailable(): boolean {
  if (!existsSync(PYTHON)) return false;
  return spawnSync(PYTHON, ["-c", "import cryptography"], { timeout: 15_000 }).status === 0;
}

describe("[CHANNEL-VECTORS] Python cryptography recomputes the channel vectors", () => {
  if (!requirePrerequisites(cryptographyAvailable() ? [] : ["python3-cryptography"])) return;

  it("[CHANNEL-VECTORS][CHANNEL-KEYS][CHANNEL-BINDING] keys, IVs, plaintexts and records agree byte for byte", () => {
    const input = JSON.stringify({
      context: CHANNEL_V1_CONTEXT,
      place: CHANNEL_V1_PLACE,
      keys: CHANNEL_V1_KEYS,
      records: CHANNEL_V1_RECORDS,
    });
    const run = spawnSync(PYTHON, [SCRIPT], { input, encoding: "utf8", timeout: 30_000 });
    expect(run.status, run.stderr).toBe(0);
    const results = JSON.parse(run.stdout) as Array<{ check: string; [k: string]: string }>;
    const byCheck = new Map(results.map((r) => [r.check, r]));
    for (const vector of CHANNEL_V1_KEYS) {
      const got = byCheck.get(`key ${vector.direction} ${vector.epoch}`);
      expect(got?.key).toBe(vector.key);
      expect(got?.iv).toBe(vector.iv);
    }
    expect(byCheck.get("request plaintext")?.hex).toBe(CHANNEL_V1_RECORDS.request.plaintext);
    expect(byCheck.get("request record")?.hex).toBe(CHANNEL_V1_RECORDS.request.record);
    expect(byCheck.get("response plaintext")?.hex).toBe(CHANNEL_V1_RECORDS.response.plaintext);
    expect(byCheck.get("response record")?.hex).toBe(CHANNEL_V1_RECORDS.response.record);
    expect(byCheck.get("close record")?.hex).toBe(CHANNEL_V1_RECORDS.close.record);
  });
});
