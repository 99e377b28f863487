/**
 * `npm run bench:story` (issue #12, Speed): the whole CPNS story on loopback,
 * timed step by step over N runs (default 1,000; `--runs N`): a real CPNS
 * Server (the Node wiring of src/runtime/node-server.ts on a loopback port,
 * memory storage whose prefix listings read only the prefix, bench/prefix-memory-driver.ts) and the project's own agents over real HTTP:
 *
 *   enroll   a new PNE enrolls for the user (EntityAgent.enroll: user Digest, EUKey sealed)
 *   whoami   the PNE authenticates as an entity, rspauth verified by the agent
 *   deposit  the PN GW generates an OTK for the PNE and deposits it (PnGateway.offer)
 *   delivery the PNE lists its inbox and fetches (consumes) the OTK
 *   session  PNE and PN GW authenticate each other with Digest over the OTK (PeerSession.open)
 *   message  the first protected message and its answer (session.send)
 *
 * The one-time steps (user creation, the PN GW's own enrollment, starting the
 * PN GW's listener) are outside the timing. p50 and p99 per step and for the
 * whole story; target p50 < 20 ms for the whole.
 *
 * Implements: DIGEST-SPEED-STORY
 */
import { cpus } from "node:os";
import { parseArgs } from "node:util";
import { createStorage } from "unstorage";
import { PeerSession } from "../src/agent/peer.ts";
import { installAeadBackend } from "../src/crypto/aead.ts";
import { installHashBackend } from "../src/crypto/hash.ts";
import { nodeAead } from "../src/runtime/node-aead.ts";
import { nodeHashes } from "../src/runtime/node-hashes.ts";
import { enrollDevice, startGateway } from "../test/e2e/peer-helpers.ts";
import { startTestServer } from "../test/e2e/server-helpers.ts";
import { prefixMemoryDriver } from "./prefix-memory-driver.ts";

// As the Node runtime entry (npm start, the CLI's server and PN GW) does: OpenSSL's hashes
// and AES-GCM.
installHashBackend(nodeHashes);
installAeadBackend(nodeAead);

export const STEPS = ["enroll", "whoami", "deposit", "delivery", "session", "message"] as const;
export type Step = (typeof STEPS)[number] | "whole";

export interface StoryReport {
  runs: number;
  /** Milliseconds per step and for the whole story, one entry per run. */
  samples: Record<Step, number[]>;
  /**
   * CPU milliseconds (user + system) of this process per run, the runs only: client,
   * server and PN GW share the process, so this is the floor of a run's wall time on
   * an idle core, whatever the machine's load.
   */
  cpuMsPerRun: number;
}

/** The q-quantile (nearest rank) of `values`. */
export function quantile(values: readonly number[], q: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.min(sorted.length, Math.max(1, Math.ceil(q * sorted.length)));
  return sorted[rank - 1] as number;
}

export async function runStory(runs: number): Promise<StoryReport> {
  const owner = { userId: "bench-user", password: "bench-user-password-1" };
  const server = await startTestServer({
    controlledClock: false,
    storage: createStorage({ driver: prefixMemoryDriver(undefined) }),
  });
  // The server runs on the real clock here; the helpers' agents, OTK clients and
  // PN GW read server.clock.now, so it follows the real clock too.
  Object.defineProperty(server.clock, "now", { get: () => Date.now() });
  const samples = Object.fromEntries([...STEPS, "whole"].map((s) => [s, [] as number[]])) as Record<
    Step,
    number[]
  >;
  let cpuMsPerRun = Number.NaN;
  try {
    await server.createUser(owner.userId, owner.password);
    const gw = await enrollDevice(server, owner, "bench-gw", "PNGW");
    const gateway = await startGateway(server, gw);
    try {
      const cpuBefore = process.cpuUsage();
      for (let run = 0; run < runs; run++) {
        const pneId = `bench-pne-${run}`;
        const t0 = performance.now();
        const pne = await enrollDevice(server, owner, pneId, "PNE");
        const t1 = performance.now();
        const me = await pne.agent.whoami(pneId);
        if (me.entityId !== pneId) throw new Error(`whoami answered ${String(me.entityId)}`);
        const t2 = performance.now();
        await gateway.gateway.offer(pneId);
        const t3 = performance.now();
        const waiting = (await pne.otks.inbox(pneId)).filter((o) => o.issuerId === "bench-gw");
        const newest = waiting[waiting.length - 1];
        if (!newest) throw new Error(`no OTK from bench-gw for ${pneId}`);
        const received = await pne.otks.fetch(pneId, newest.otkId);
        const t4 = performance.now();
        const session = await PeerSession.open({
          entityId: pneId,
          received,
          now: () => Date.now(),
        });
        const t5 = performance.now();
        const echo = (await session.send("first protected message")) as { echo?: string };
        if (echo.echo !== "first protected message") {
          throw new Error("the PN GW did not echo the first message");
        }
        const t6 = performance.now();
        await session.close();
        samples.enroll.push(t1 - t0);
        samples.whoami.push(t2 - t1);
        samples.deposit.push(t3 - t2);
        samples.delivery.push(t4 - t3);
        samples.session.push(t5 - t4);
        samples.message.push(t6 - t5);
        samples.whole.push(t6 - t0);
      }
      const cpu = process.cpuUsage(cpuBefore);
      cpuMsPerRun = (cpu.user + cpu.system) / 1000 / runs;
    } finally {
      await gateway.close();
    }
  } finally {
    await server.close();
  }
  return { runs, samples, cpuMsPerRun };
}

/** The report as printed: p50 and p99 per step and for the whole, and the verdict on the target. */
export function formatStory(report: StoryReport): string[] {
  const out = [`| step     |    p50 ms |    p99 ms |`, `|----------|-----------|-----------|`];
  for (const step of [...STEPS, "whole"] as Step[]) {
    const values = report.samples[step];
    out.push(
      `| ${step.padEnd(8)} | ${quantile(values, 0.5).toFixed(2).padStart(9)} | ${quantile(values, 0.99).toFixed(2).padStart(9)} |`,
    );
  }
  const p50 = quantile(report.samples.whole, 0.5);
  out.push(
    `CPU time per run (this process: client, server and PN GW) ${report.cpuMsPerRun.toFixed(2)} ms`,
  );
  out.push(`whole story p50 ${p50.toFixed(2)} ms (target < 20 ms) ${p50 < 20 ? "PASS" : "MISS"}`);
  return out;
}

const isMain =
  process.argv[1] !== undefined && import.meta.url.endsWith(process.argv[1].replace(/^.*\//, "/"));
if (isMain) {
  const { values } = parseArgs({ options: { runs: { type: "string", default: "1000" } } });
  const runs = Number(values.runs);
  console.log(
    `${new Date().toISOString()} ${cpus().length} x ${cpus()[0]?.model}, node ${process.version}: the CPNS story on loopback, ${runs} runs`,
  );
  const report = await runStory(runs);
  for (const line of formatStory(report)) console.log(line);
}
