/**
 * The production Worker (wrangler.toml, src/runtime/worker.ts) under
 * `wrangler dev --local`, started by `startWorkerServer()` as other suites
 * will: the CPNS story's core over HTTP (a user, an enrollment, whoami), and
 * the attacker who waits for a restart: a request captured and answered
 * before the Worker restarts is still refused after it (the ledger and its
 * epoch are in the Durable Objects, not in the isolate), while a genuine
 * client's nonce from before the restart still works once.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it, vi } from "vitest";
import { EntityAgent } from "../../src/agent/agent.ts";
import { MemoryKeyStore } from "../../src/agent/keystore.ts";
import { createDigestFetch } from "../../src/digest/index.ts";
import { createUserSealed } from "../admin-users.ts";
import { startWorkerServer, type WorkerServer, workerSecrets } from "./start.ts";

vi.setConfig({ testTimeout: 400_000, hookTimeout: 60_000 });

const transport = (request: Request) => fetch(request);

/** The next authorised request a genuine client would send, computed but not sent. */
async function capture(base: string, user: { userId: string; password: string }, path: string) {
  let held: Request | undefined;
  await createDigestFetch({
    username: user.userId,
    password: user.password,
    fetch: async (request) => {
      if (!request.headers.has("authorization")) return fetch(request);
      held = request.clone();
      return new Response(null, { status: 204 });
    },
  })(`${base}${path}`);
  if (!held) throw new Error("no authorised request was computed");
  return held;
}

const resend = (request: Request, base: string) =>
  fetch(`${base}${new URL(request.url).pathname}`, {
    method: request.method,
    headers: request.headers,
  });

describe("[FLEET-WORKERS-ENTRY] the CPNS Server Worker from wrangler.toml (startWorkerServer)", () => {
  const state = mkdtempSync(join(tmpdir(), "cpns-worker-state-"));
  let server: WorkerServer | undefined;
  afterAll(async () => {
    await server?.close();
    rmSync(state, { recursive: true, force: true });
  }, 60_000);

  it("[FLEET-WORKERS-ENTRY][FLEET-WORKERS-DO][DIGEST-REPLAY] serves the story's core, and a replay captured before a restart is refused after it", async () => {
    const secrets = workerSecrets();
    server = await startWorkerServer({ stateDir: state, secrets });
    const user = { userId: `w-${crypto.randomUUID().slice(0, 8)}`, password: "" };
    user.password = `${user.userId}-Correct-Horse-Battery`;
    const created = await createUserSealed({
      transport,
      base: server.baseUrl,
      adminToken: server.adminToken,
      ...user,
    });
    expect(created.status).toBe(201);

    const entityId = `pne-${crypto.randomUUID().slice(0, 8)}`;
    const keys = new MemoryKeyStore();
    await new EntityAgent({ serverUrl: server.baseUrl, store: keys, fetch: transport }).enroll({
      ...user,
      entityId,
      type: "PNE",
    });
    const agent = new EntityAgent({ serverUrl: server.baseUrl, store: keys, fetch: transport });
    expect(await agent.whoami(entityId)).toMatchObject({ entityId, userId: user.userId });

    const answered = await capture(server.baseUrl, user, "/cpns/v1/entities");
    const unsent = await capture(server.baseUrl, user, "/cpns/v1/entities");
    expect((await resend(answered, server.baseUrl)).status).toBe(200);
    expect((await resend(answered, server.baseUrl)).status).toBe(401);

    await server.close();
    server = await startWorkerServer({ stateDir: state, secrets });

    // Same objects, same epoch: the answered request stays spent; the unsent one is good once.
    expect((await resend(answered, server.baseUrl)).status).toBe(401);
    expect((await resend(unsent, server.baseUrl)).status).toBe(200);
    expect((await resend(unsent, server.baseUrl)).status).toBe(401);
    const again = new EntityAgent({ serverUrl: server.baseUrl, store: keys, fetch: transport });
    expect(await again.whoami(entityId)).toMatchObject({ entityId });
  });
});
