/**
 * Issue #9 (mutation testing of src/server): the reviewer page's routes of
 * src/server/model-page.ts. Each test tells apart mutants the first
 * measurement of the file left undetected (docs/mutation.md, "model-page.ts"):
 * the headers that keep a browser from sniffing or caching what it must not
 * (the JSON model, a machine's XState export, a simulation step, an entity's
 * live state), the XState export's 404 for an unknown machine, and, from the
 * attacker's side, the state handlers' own admin check: should the policy
 * row ever be widened, a user or an entity still reads nobody's state, and
 * the store is not even asked.
 */
import { Hono } from "hono";
import { afterEach, describe, expect, it } from "vitest";
import { CpnsError } from "../../src/errors.ts";
import type { ServerEnv, ServerParts } from "../../src/server/context.ts";
import { modelPageHandlers } from "../../src/server/model-page.ts";
import { startTestServer, statusAndCode, type TestServer } from "../e2e/server-helpers.ts";

let server: TestServer | undefined;

afterEach(async () => {
  await server?.close();
  server = undefined;
});

describe("[SPEC-MODEL-PAGE] the model routes' answers and headers", () => {
  it("[SPEC-MODEL-PAGE] machines.json: not cached without asking, never sniffed", async () => {
    // Answers model-page.ts:101-103 (the header object and both values).
    server = await startTestServer();
    const res = await fetch(`${server.url}/model/machines.json`);
    expect(res.status).toBe(200);
    expect(res.headers.get("cache-control")).toBe("no-cache");
    expect(res.headers.get("x-content-type-options")).toBe("nosniff");
    const ids = ((await res.json()) as { machines: Array<{ id: string }> }).machines.map(
      (m) => m.id,
    );
    expect(ids).toContain("entity");
  });

  it("[SPEC-MODEL-PAGE] a machine as XState JSON: its own id, a file name for the download, not sniffed; an unknown machine is the 404 problem", async () => {
    // Answers model-page.ts:109 (the machine id read from the path), :110 (the 404 test),
    // :111-114 (the header object, its values, the file name).
    server = await startTestServer();
    const res = await fetch(`${server.url}/model/xstate/entity`);
    expect(res.status).toBe(200);
    expect(((await res.json()) as { id: string }).id).toBe("entity");
    expect(res.headers.get("cache-control")).toBe("no-cache");
    expect(res.headers.get("x-content-type-options")).toBe("nosniff");
    expect(res.headers.get("content-disposition")).toBe('inline; filename="entity.xstate.json"');
    const unknown = await fetch(`${server.url}/model/xstate/no-such-machine`);
    expect(await statusAndCode(unknown)).toEqual([404, "ERR_NOT_FOUND"]);
  });

  it("[PLAY-SIM-PURE] a simulation step is never stored by a cache (it carries the caller's snapshot) and not sniffed", async () => {
    // Answers model-page.ts:127 (no-store).
    server = await startTestServer();
    const res = await fetch(`${server.url}/model/simulate/entity`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: "{}",
    });
    expect(res.status).toBe(200);
    expect(res.headers.get("cache-control")).toBe("no-store");
    expect(res.headers.get("x-content-type-options")).toBe("nosniff");
  });

  it("[SPEC-MODEL-PAGE] an entity's live state (admin only) is never stored by a cache", async () => {
    // Answers model-page.ts:147 (no-store on the entity state).
    server = await startTestServer();
    await server.createUser("alice", "alice-model-page-password");
    await server.agent().enroll({
      userId: "alice",
      password: "alice-model-page-password",
      entityId: "watch-mp",
      type: "PNE",
    });
    const res = await server.admin("/cpns/v1/admin/entities/watch-mp/state");
    expect(res.status).toBe(200);
    expect(res.headers.get("cache-control")).toBe("no-store");
    expect(await res.json()).toMatchObject({
      machine: "entity",
      entityId: "watch-mp",
      value: "active",
    });
  });
});

describe("[PLAY-LIVE-STATE][SERVER-AUTHZ-POLICY] the state handlers check the admin themselves (defence in depth)", () => {
  /** The handlers mounted behind a principal of `kind`, with every store read counted. */
  function mounted(kind: "user" | "PNE" | "PNGW" | "anonymous" | "admin") {
    const reads: string[] = [];
    const parts = {
      config: {},
      entities: {
        get: async (id: string) => {
          reads.push(`entity ${id}`);
          return undefined;
        },
      },
      otks: {
        get: async (id: string) => {
          reads.push(`otk ${id}`);
          return undefined;
        },
      },
    } as unknown as ServerParts;
    const channelOf = (sessionId: string) => {
      reads.push(`channel ${sessionId}`);
      return undefined;
    };
    const handlers = modelPageHandlers(parts, channelOf);
    const app = new Hono<ServerEnv>();
    app.use(async (c, next) => {
      c.set("principal", { kind } as ServerEnv["Variables"]["principal"]);
      await next();
    });
    app.onError((err) =>
      err instanceof CpnsError
        ? Response.json({ code: err.code }, { status: err.status })
        : Response.json({ code: "unexpected" }, { status: 500 }),
    );
    app.get("/e/:entityId", handlers.entityState);
    app.get("/o/:otkId", handlers.otkState);
    app.get("/c/:sessionId", handlers.channelState);
    return { app, reads };
  }

  it.each(["user", "PNE", "PNGW", "anonymous"] as const)(
    "[PLAY-LIVE-STATE] a %s is refused 403 by each state handler, and nothing is looked up",
    async (kind) => {
      // Answers model-page.ts:132, :152 and :169 (each handler's `kind !== "admin"`).
      const { app, reads } = mounted(kind);
      for (const path of [
        "/e/watch-1",
        "/o/AAAAAAAAAAAAAAAAAAAAAAAAAAAA",
        "/c/AAAAAAAAAAAAAAAAAAAAAA",
      ]) {
        expect(await statusAndCode(await app.request(path)), path).toEqual([403, "ERR_FORBIDDEN"]);
      }
      expect(reads).toEqual([]);
    },
  );

  it("[PLAY-LIVE-STATE] the admin gets past the check: each handler looks its id up (404 here, nothing stored)", async () => {
    const { app, reads } = mounted("admin");
    for (const path of [
      "/e/watch-1",
      "/o/AAAAAAAAAAAAAAAAAAAAAAAAAAAA",
      "/c/AAAAAAAAAAAAAAAAAAAAAA",
    ]) {
      expect(await statusAndCode(await app.request(path)), path).toEqual([404, "ERR_NOT_FOUND"]);
    }
    expect(reads).toEqual([
      "entity watch-1",
      "otk AAAAAAAAAAAAAAAAAAAAAAAAAAAA",
      "channel AAAAAAAAAAAAAAAAAAAAAA",
    ]);
  });
});
