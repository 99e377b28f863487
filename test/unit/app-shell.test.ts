/**
 * Issue #11, one app shell (src/protocol/app-shell.ts): the CPNS Server, the PN GW and the
 * Digest demo answer an unknown route, an error nobody expected and a body over their
 * ceiling with the same problem+json, so a client (and the conformance suite) reads all three
 * the same way. The unexpected errors are injected through hooks that throw (mocks only to
 * inject the fault); their message holds a would-be secret that must never come out.
 */
import { createStorage } from "unstorage";
import memoryDriver from "unstorage/drivers/memory";
import { describe, expect, it } from "vitest";
import { createDemoApp } from "../../src/demo/app.ts";
import { shellApp } from "../../src/protocol/app-shell.ts";
import { createServerApp } from "../../src/server/app.ts";
import { offlineGateway } from "../e2e/peer-helpers.ts";

const SECRET = "do-not-leak-7f3a9c";

interface Target {
  name: string;
  /** Fires one request at the app. */
  fetch: (request: Request) => Response | Promise<Response>;
  /** Makes the next request fail inside the app with a plain Error carrying SECRET. */
  arm: () => void;
  /** A route that is real, and requests that reach the armed fault. */
  faulty: () => Request;
  /** A path that takes a POST body on this app. */
  postPath: string;
}

function serverTarget(): Target {
  let armed = false;
  const app = createServerApp({
    realm: "shell-test",
    storage: createStorage({ driver: memoryDriver() }),
    masterKey: new Uint8Array(32).fill(7),
    adminToken: "admin-token-for-the-shell-test",
    digestSecret: "a digest secret of the shell test",
    clientAddress: () => {
      if (armed) throw new Error(SECRET);
      return "127.0.0.1";
    },
  });
  return {
    name: "CPNS Server",
    fetch: (request) => app.fetch(request),
    arm: () => {
      armed = true;
    },
    faulty: () => new Request("http://server.test/cpns/v1/whoami"),
    postPath: "/cpns/v1/enrollments",
  };
}

function gatewayTarget(): Target {
  let armed = false;
  const gateway = offlineGateway({
    gatewayId: "gw-shell",
    digestSecret: "a digest secret of the shell test",
    now: () => {
      if (armed) throw new Error(SECRET);
      return 1_800_000_000_000;
    },
  });
  return {
    name: "PN GW",
    fetch: (request) => gateway.app.fetch(request),
    arm: () => {
      armed = true;
    },
    faulty: () => new Request("http://gw.test/cpns-gw/v1/sessions", { method: "POST" }),
    postPath: "/cpns-gw/v1/sessions",
  };
}

function demoTarget(): Target {
  let armed = false;
  const app = createDemoApp({
    realm: "shell-test",
    secret: "a digest secret of the shell test",
    users: { alice: "a password of alice" },
  });
  // The demo has no hook that could throw, so the fault is a route added to the app it
  // returns: what answers it is the app's own error mapping, the shell's.
  app.get("/fault", (c) => {
    if (armed) throw new Error(SECRET);
    return c.text("fine");
  });
  return {
    name: "Digest demo",
    fetch: (request) => app.fetch(request),
    arm: () => {
      armed = true;
    },
    faulty: () => new Request("http://demo.test/fault"),
    postPath: "/echo",
  };
}

async function expectProblem(res: Response, status: number, code: string) {
  expect(res.status).toBe(status);
  expect(res.headers.get("content-type")).toMatch(/^application\/problem\+json/);
  const text = await res.text();
  expect(text).not.toContain(SECRET);
  const body = JSON.parse(text);
  expect(body).toEqual({ type: `urn:cpns:problem:${code}`, title: body.title, status, code });
  expect(typeof body.title).toBe("string");
  return body;
}

describe("[FLEET-SHELL-ONE] one app shell: the same problem+json on the server, the PN GW and the demo", () => {
  const targets = [serverTarget, gatewayTarget, demoTarget];

  for (const make of targets) {
    const probe = make();

    it(`[FLEET-SHELL-ONE] ${probe.name}: an unknown route is 404 ERR_NOT_FOUND, without a challenge`, async () => {
      const { fetch } = make();
      for (const [method, path] of [
        ["GET", "/no-such-route"],
        ["POST", "/cpns/v2/anything"],
        ["DELETE", "/health/extra"],
      ] as const) {
        const res = await fetch(new Request(`http://t.test${path}`, { method }));
        await expectProblem(res, 404, "ERR_NOT_FOUND");
        expect(res.headers.get("www-authenticate")).toBeNull();
      }
    });

    it(`[FLEET-SHELL-ONE] ${probe.name}: an unexpected error is 500 ERR_INTERNAL with no detail and no message`, async () => {
      const target = make();
      // Before the fault, the same request is answered by the app itself (not a 500).
      const before = await target.fetch(target.faulty());
      expect(before.status).not.toBe(500);
      target.arm();
      const res = await target.fetch(target.faulty());
      const body = await expectProblem(res, 500, "ERR_INTERNAL");
      expect(body.detail).toBeUndefined();
    });

    it(`[FLEET-SHELL-ONE] ${probe.name}: a declared body over the ceiling is 413 ERR_BODY_TOO_LARGE before any authentication, and closes the connection`, async () => {
      const target = make();
      // Far over every app's ceiling; no credentials at all: the shell answers before the
      // Digest middleware would challenge (401/407) or the route would look at the body.
      const declared = String(64 * 1024 * 1024);
      const res = await target.fetch(
        new Request(`http://t.test${target.postPath}`, {
          method: "POST",
          headers: { "content-type": "application/json", "content-length": declared },
          body: "{}",
        }),
      );
      await expectProblem(res, 413, "ERR_BODY_TOO_LARGE");
      expect(res.headers.get("connection")).toBe("close");
      expect(res.headers.get("www-authenticate")).toBeNull();
    });
  }

  it("[FLEET-SHELL-ONE] the ceiling is exact: a declared length at it passes the shell, one byte more does not", async () => {
    const app = shellApp({ maxBodyBytes: 10 });
    app.post("/p", (c) => c.text("reached"));
    const at = await app.request("/p", {
      method: "POST",
      headers: { "content-length": "10" },
      body: "0123456789",
    });
    expect(at.status).toBe(200);
    const over = await app.request("/p", {
      method: "POST",
      headers: { "content-length": "11" },
      body: "0123456789a",
    });
    await expectProblem(over, 413, "ERR_BODY_TOO_LARGE");
    const chunked = await app.request("/p", { method: "POST", body: "no declared length" });
    expect(chunked.status).toBe(200);
  });
});
