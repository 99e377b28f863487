/**
 * Issue #9 "Reliability figures", fourth bullet: SIGKILL of the CPNS Server
 * in the middle of the load, restart on the same data folder, then: every
 * acknowledged enrollment still authenticates, every record in the store
 * validates against its zod schema (src/store/records.ts), and a request
 * captured (and accepted) before the kill is refused after the restart.
 * Rotation is left out of this load: a rotation cut by the kill may have
 * changed the key without the client ever learning the new one.
 *
 * Implements: SOAK-CRASH, SOAK-CRASH-REPLAY
 */
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join, relative, sep } from "node:path";
import { createDigestFetch, type FetchLike } from "../../src/digest/index.ts";
import { entityRecordSchema, otkRecordSchema, userRecordSchema } from "../../src/store/records.ts";
import { checkEnrollments, createWorld, runLoad } from "./load.ts";
import { startServerProcess } from "./processes.ts";

export interface CrashResult {
  acknowledgedBeforeKill: number;
  requestsCutByKill: number;
  restartMs: number;
  enrollmentsChecked: number;
  enrollmentsFailed: number;
  enrollmentSamples: string[];
  storeFiles: number;
  storeInvalid: number;
  storeSamples: string[];
  replayBeforeKillStatus: number;
  replayAfterRestartStatus: number;
}

/** Every file of the fs store parsed and checked: records against their schema, indexes as `{ id }`. */
export function validateStore(storeDir: string): {
  files: number;
  invalid: number;
  samples: string[];
} {
  const out = { files: 0, invalid: 0, samples: [] as string[] };
  const walk = (dir: string) => {
    for (const name of readdirSync(dir)) {
      const path = join(dir, name);
      if (statSync(path).isDirectory()) {
        walk(path);
        continue;
      }
      out.files++;
      const kind = relative(storeDir, path).split(sep)[0] ?? "";
      try {
        const value = JSON.parse(readFileSync(path, "utf8")) as unknown;
        const schema =
          kind === "entity"
            ? entityRecordSchema
            : kind === "user"
              ? userRecordSchema
              : kind === "otk"
                ? otkRecordSchema
                : undefined;
        const ok = schema
          ? schema.safeParse(value).success
          : typeof (value as { id?: unknown } | null)?.id === "string";
        if (!ok) throw new Error("does not validate");
      } catch (err) {
        out.invalid++;
        if (out.samples.length < 10)
          out.samples.push(`${relative(storeDir, path)}: ${String(err)}`);
      }
    }
  };
  walk(storeDir);
  return out;
}

export async function crashRun(input: {
  dataDir: string;
  entities: number;
  concurrency: number;
  killAfterMs: number;
  seed: number;
}): Promise<CrashResult> {
  let server = await startServerProcess(input.dataDir);
  const world = await createWorld({
    serverUrl: server.url,
    adminToken: server.adminToken,
    entities: input.entities,
    entitiesPerUser: 25,
    prefix: "crash",
  });
  // One entity enrolled first; one of its requests is captured as it went on the wire.
  const witness = world.entities[0];
  if (!witness) throw new Error("no entities");
  const record = await witness.agent.enroll({
    userId: witness.userId,
    password: world.users[0]?.password as string,
    entityId: witness.entityId,
    type: witness.type,
  });
  witness.acknowledged = { eukey: record.eukey, keyVersion: record.keyVersion };
  let captured: { path: string; authorization: string } | undefined;
  const capture: FetchLike = async (request) => {
    const res = await fetch(request);
    const authorization = request.headers.get("authorization");
    if (authorization && res.status === 200) {
      captured = { path: new URL(request.url).pathname, authorization };
    }
    return res;
  };
  const witnessClient = createDigestFetch({
    username: witness.entityId,
    password: record.eukey,
    requireRspauth: true,
    fetch: capture,
  });
  await (await witnessClient(`${server.url}/cpns/v1/whoami`)).arrayBuffer();
  if (!captured) throw new Error("no accepted request captured");
  const replay = async (url: string) => {
    const res = await fetch(`${url}${captured?.path}`, {
      headers: { authorization: captured?.authorization as string },
    });
    await res.arrayBuffer();
    return res.status;
  };
  const replayBeforeKillStatus = await replay(server.url);

  const stop = { stopped: false };
  const load = runLoad(world, {
    durationMs: 10 * 60_000,
    concurrency: input.concurrency,
    seed: input.seed,
    rotate: false,
    stop,
  });
  await new Promise((r) => setTimeout(r, input.killAfterMs));
  await server.proc.kill9();
  stop.stopped = true;
  const cut = await load;
  const acknowledgedBeforeKill = world.entities.filter((e) => e.acknowledged).length;

  const restartStarted = Date.now();
  server = await startServerProcess(input.dataDir);
  const restartMs = Date.now() - restartStarted;
  try {
    const enrollments = await checkEnrollments(server.url, world.entities);
    const store = validateStore(join(input.dataDir, "store"));
    const replayAfterRestartStatus = await replay(server.url);
    return {
      acknowledgedBeforeKill,
      requestsCutByKill: cut.errorsAfterStop,
      restartMs,
      enrollmentsChecked: enrollments.checked,
      enrollmentsFailed: enrollments.failed,
      enrollmentSamples: enrollments.samples,
      storeFiles: store.files,
      storeInvalid: store.invalid,
      storeSamples: store.samples,
      replayBeforeKillStatus,
      replayAfterRestartStatus,
    };
  } finally {
    await server.proc.stop();
  }
}
