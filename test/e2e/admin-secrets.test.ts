/**
 * Issue #9 items 6 and 7 from the attacker's side, over real HTTP on loopback.
 *
 * Against the route (a test server with a controllable clock): a clear
 * password or HA1 values over plain HTTP are refused; a captured envelope that
 * is bit-flipped, moved to another User ID, sealed to another key, or replayed
 * after its lifetime is refused; weak passwords are refused even when sealed.
 * Every refusal is a 4xx problem that echoes nothing, and the store is as before.
 *
 * Against the CLI (`node bin/cpns.mjs`, the real `npm start` server process):
 * a passive recorder between them sees neither the password nor any HA1 in
 * any byte; a man in the middle who serves its own admin transport key is
 * refused before the password is read or anything is posted; a weak password
 * never leaves the CLI.
 */

import { mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { connect, createServer as createTcpServer, type Server as TcpServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { fromBase64url, fromHex, toBase64url } from "../../src/crypto/bytes.ts";
import { ALGORITHMS, computeHa1 } from "../../src/digest/index.ts";
import {
  ADMIN_ENVELOPE_MAX_AGE_SECONDS,
  ADMIN_KEY_PATH,
  type AdminKeyDocument,
  adminKeyDocument,
  generateAdminTransportSecret,
  importAdminTransportKey,
  sealAdminSecret,
} from "../../src/protocol/admin-transport.ts";
import { fetchAdminKey, sealedFor } from "../admin-users.ts";
import { runCli, type ServerProcess, startServer } from "./cli-helpers.ts";
import {
  expectProblem,
  findLeaks,
  json,
  REALM,
  startTestServer,
  type TestServer,
} from "./server-helpers.ts";

const STRONG = "Tr0ub4dor-staple-horse-e2e";
const T = 60_000;

function ha1Secrets(userId: string, realm: string, password: string) {
  const out: Record<string, string | Uint8Array> = { password };
  for (const hash of ["SHA-256", "SHA-512-256", "MD5"] as const) {
    const hex = computeHa1(ALGORITHMS[hash], userId, realm, password);
    out[`HA1 ${hash} (hex)`] = hex;
    out[`HA1 ${hash} (HEX)`] = hex.toUpperCase();
    out[`HA1 ${hash} (bytes)`] = fromHex(hex);
  }
  return out;
}

describe("[ADMIN-NO-PLAIN-SECRET][ADMIN-SEALED-SECRET][PASSWORD-POLICY] POST /cpns/v1/admin/users under attack", () => {
  let server: TestServer;
  const storeSnapshot = async () => {
    const out: Record<string, unknown> = {};
    for (const key of (await server.storage.getKeys()).sort()) {
      out[key] = await server.storage.getItem(key);
    }
    return out;
  };
  const post = (body: unknown) => server.admin("/cpns/v1/admin/users", json("POST", body));
  const seal = (userId: string, password: string) =>
    sealedFor(
      (request) => fetch(request),
      server.url,
      userId,
      password,
      () => server.clock.now,
    );

  /** A refusal: status and code, nothing stored, and the password nowhere in the answer. */
  async function expectRefused(res: Response, status: number, code: string, password: string) {
    const before = await storeSnapshot();
    const text = await res.clone().text();
    await expectProblem(res, status, code);
    expect(findLeaks(text, { password })).toEqual([]);
    expect(await storeSnapshot()).toEqual(before);
  }

  beforeAll(async () => {
    server = await startTestServer();
  });
  afterAll(async () => {
    await server.close();
  });

  it("[ADMIN-TRANSPORT-KEY] the admin transport key is public: anonymous GET, pin = base64url(SHA-256(x))", async () => {
    const res = await server.fetch(ADMIN_KEY_PATH);
    expect(res.status).toBe(200);
    const doc = (await res.json()) as AdminKeyDocument;
    expect(doc).toMatchObject({ kty: "OKP", crv: "X25519", alg: "X25519-HKDF-SHA256-A256GCM" });
    const digest = await crypto.subtle.digest("SHA-256", fromBase64url(doc.x) as BufferSource);
    expect(doc.pin).toBe(toBase64url(new Uint8Array(digest)));
  });

  it("[ADMIN-NO-PLAIN-SECRET] a clear password and HA1 values over plain HTTP are refused, nothing stored", async () => {
    await expectRefused(
      await post({ userId: "carol", password: STRONG }),
      400,
      "ERR_ADMIN_PLAIN_SECRET",
      STRONG,
    );
    const ha1 = Object.fromEntries(
      (["SHA-256", "SHA-512-256", "MD5"] as const).map((hash) => [
        hash,
        computeHa1(ALGORITHMS[hash], "carol", REALM, STRONG),
      ]),
    );
    await expectRefused(await post({ userId: "carol", ha1 }), 400, "ERR_ADMIN_HA1_RETIRED", STRONG);
    expect(await (await server.admin("/cpns/v1/admin/users")).json()).toEqual({ users: [] });
  });

  it("[ADMIN-SEALED-SECRET] a rewritten envelope (bit flips in ct, epk, kid), one moved to another User ID, or one sealed to the attacker's key is refused", async () => {
    const sealed = await seal("carol", STRONG);
    const flip = (text: string, at: number) => {
      const bytes = fromBase64url(text);
      bytes[at] = (bytes[at] as number) ^ 0x01;
      return toBase64url(bytes);
    };
    const ctLength = fromBase64url(sealed.ct).length;
    for (const at of [0, 12, ctLength - 17, ctLength - 1]) {
      await expectRefused(
        await post({ userId: "carol", sealed: { ...sealed, ct: flip(sealed.ct, at) } }),
        400,
        "ERR_ADMIN_ENVELOPE_INVALID",
        STRONG,
      );
    }
    await expectRefused(
      await post({ userId: "carol", sealed: { ...sealed, epk: flip(sealed.epk, 5) } }),
      400,
      "ERR_ADMIN_ENVELOPE_INVALID",
      STRONG,
    );
    await expectRefused(
      await post({ userId: "carol", sealed: { ...sealed, kid: flip(sealed.kid, 0) } }),
      400,
      "ERR_ADMIN_ENVELOPE_KEY",
      STRONG,
    );
    // The same envelope presented for mallory: the AAD binds carol.
    await expectRefused(
      await post({ userId: "mallory", sealed }),
      400,
      "ERR_ADMIN_ENVELOPE_INVALID",
      STRONG,
    );
    // Sealed to a key the attacker holds, with the server's kid pasted in.
    const attacker = await importAdminTransportKey(generateAdminTransportSecret());
    const forged = await sealAdminSecret(attacker.publicKey, "carol", STRONG, {
      now: () => server.clock.now,
    });
    await expectRefused(
      await post({ userId: "carol", sealed: { ...forged, kid: sealed.kid } }),
      400,
      "ERR_ADMIN_ENVELOPE_INVALID",
      STRONG,
    );
    expect(await (await server.admin("/cpns/v1/admin/users")).json()).toEqual({ users: [] });
  });

  it("[ADMIN-SEALED-SECRET] a captured envelope replayed after its lifetime is refused; a burst of replays within it creates one user", async () => {
    const late = await seal("dave", STRONG);
    server.clock.now += (ADMIN_ENVELOPE_MAX_AGE_SECONDS + 1) * 1000;
    await expectRefused(
      await post({ userId: "dave", sealed: late }),
      400,
      "ERR_ADMIN_ENVELOPE_EXPIRED",
      STRONG,
    );
    const fresh = await seal("dave", STRONG);
    const burst = await Promise.all(
      Array.from({ length: 10 }, () => post({ userId: "dave", sealed: fresh })),
    );
    const statuses = burst.map((res) => res.status).sort();
    expect(statuses).toEqual([201, ...Array(9).fill(409)]);
    expect(await (await server.admin("/cpns/v1/admin/users")).json()).toEqual({ users: ["dave"] });
    const ok = await server.asUser("dave", STRONG)("/cpns/v1/entities");
    expect(ok.status).toBe(200);
  });

  it("[PASSWORD-POLICY] 1-character, common and User ID-based passwords are refused even sealed (400 ERR_WEAK_PASSWORD, the library's advice, never the password); a strong one is accepted", async () => {
    for (const [userId, weak] of [
      ["erin", "x"],
      ["erin", "password1234"],
      ["erin", "qwertyuiop123"],
      ["zorblax.quintavius", "zorblax.quintavius1"],
    ] as const) {
      const res = await post({ userId, sealed: await seal(userId, weak) });
      const text = await res.clone().text();
      await expectRefused(res, 400, "ERR_WEAK_PASSWORD", weak);
      expect(JSON.parse(text).detail).toMatch(/at least 12 characters|too easy to guess/);
    }
    const common = await post({ userId: "erin", sealed: await seal("erin", "password1234") });
    expect(((await common.json()) as { detail: string }).detail).toMatch(/commonly used/);
    expect((await server.postUser("erin", STRONG)).status).toBe(201);
  });
});

// ------------------------------------------------------------------ the CLI on the wire

/** A TCP forwarder that records every byte in both directions. */
async function startRecorder(
  target: string,
): Promise<{ url: string; bytes(): Buffer; close(): Promise<void> }> {
  const { port: targetPort, hostname } = new URL(target);
  const chunks: Buffer[] = [];
  const server: TcpServer = createTcpServer((client) => {
    const upstream = connect(Number(targetPort), hostname);
    client.on("data", (chunk: Buffer) => {
      chunks.push(chunk);
      upstream.write(chunk);
    });
    upstream.on("data", (chunk: Buffer) => {
      chunks.push(chunk);
      client.write(chunk);
    });
    client.on("end", () => upstream.end());
    upstream.on("end", () => client.end());
    client.on("error", () => upstream.destroy());
    upstream.on("error", () => client.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    bytes: () => Buffer.concat(chunks),
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

/**
 * An HTTP man in the middle: relays to the real server, records each request
 * line, and (when `substitute` is set) answers the admin key route with its own key.
 */
async function startMitm(target: string, substitute: AdminKeyDocument | undefined) {
  const requests: string[] = [];
  const server: Server = createServer(async (req: IncomingMessage, res: ServerResponse) => {
    requests.push(`${req.method} ${req.url}`);
    if (substitute && req.url === ADMIN_KEY_PATH) {
      res.writeHead(200, { "content-type": "application/json" });
      res.end(JSON.stringify(substitute));
      return;
    }
    const body: Buffer[] = [];
    for await (const chunk of req) body.push(chunk as Buffer);
    const headers = new Headers();
    for (const [name, value] of Object.entries(req.headers)) {
      if (typeof value === "string" && name !== "host" && name !== "connection") {
        headers.set(name, value);
      }
    }
    const upstream = await fetch(`${target}${req.url}`, {
      method: req.method,
      headers,
      body: body.length > 0 ? Buffer.concat(body) : undefined,
    });
    const out: Record<string, string> = {};
    upstream.headers.forEach((value, name) => {
      if (name !== "content-length" && name !== "transfer-encoding") out[name] = value;
    });
    res.writeHead(upstream.status, out);
    res.end(Buffer.from(await upstream.arrayBuffer()));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

describe("[ADMIN-SEALED-SECRET][ADMIN-KEY-PIN][ADMIN-TRANSPORT-KEY][PASSWORD-POLICY-CLI] cpns user add against the real server process", () => {
  let root = "";
  let dataDir = "";
  let server: ServerProcess | undefined;

  beforeAll(async () => {
    root = mkdtempSync(join(tmpdir(), "cpns-admin-e2e-"));
    dataDir = join(root, "data");
    server = await startServer(dataDir);
  }, T);
  afterAll(async () => {
    await server?.stop();
    if (root) rmSync(root, { recursive: true, force: true });
  }, T);

  const cli = (
    args: string[],
    serverUrl: string,
    stdin: string,
    env: Record<string, string> = {},
  ) =>
    runCli([...args, "--password-stdin"], {
      stdin: `${stdin}\n`,
      env: { CPNS_SERVER: serverUrl, CPNS_DATA_DIR: dataDir, ...env },
    });
  const users = async () =>
    (
      (await (
        await fetch(`${server?.baseUrl}/cpns/v1/admin/users`, {
          headers: {
            authorization: `Bearer ${readFileSync(join(dataDir, "admin.token"), "utf8").trim()}`,
          },
        })
      ).json()) as { users: string[] }
    ).users;

  it(
    "[ADMIN-TRANSPORT-KEY] npm start prints the pin, keeps it in <data>/admin-key.pin, and keeps the key owner-only so a restart serves the same key",
    async () => {
      const pin = readFileSync(join(dataDir, "admin-key.pin"), "utf8").trim();
      // The pin line follows the "listening" line the harness waits for.
      for (let i = 0; i < 100 && !server?.output().includes("admin key pin:"); i++) {
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      expect(server?.output()).toContain(`admin key pin: ${pin}`);
      expect(statSync(join(dataDir, "admin-transport.key")).mode & 0o777).toBe(0o600);
      expect(statSync(join(dataDir, "admin-key.pin")).mode & 0o777).toBe(0o600);
      const served = await fetchAdminKey((r) => fetch(r), server?.baseUrl as string);
      expect(served.pin).toBe(pin);
      await server?.stop();
      server = await startServer(dataDir);
      const again = await fetchAdminKey((r) => fetch(r), server.baseUrl);
      expect(again.x).toBe(served.x);
    },
    T,
  );

  it(
    "[ADMIN-SEALED-SECRET][ADMIN-KEY-PIN] a passive recorder of `user add` sees neither the password nor any HA1 (SHA-256, SHA-512-256, MD5) in any byte; the user then enrolls with that password",
    async () => {
      const recorder = await startRecorder(server?.baseUrl as string);
      try {
        const added = await cli(["user", "add", "alice"], recorder.url, STRONG);
        const captured = recorder.bytes();
        // Checked first: with HA1s or the password on the wire this is what fails.
        expect(findLeaks(captured, ha1Secrets("alice", "cpns", STRONG))).toEqual([]);
        expect(added.stderr).toBe("");
        expect(added.code).toBe(0);
        expect(captured.toString("latin1")).toContain('"sealed":{');
      } finally {
        await recorder.close();
      }
      const enrolled = await runCli(
        ["enroll", "--user", "alice", "--entity", "watch-1", "--type", "PNE", "--password-stdin"],
        {
          stdin: `${STRONG}\n`,
          env: {
            CPNS_SERVER: server?.baseUrl as string,
            CPNS_DATA_DIR: dataDir,
            CPNS_KEYSTORE: join(root, "device"),
          },
        },
      );
      expect(enrolled.stderr).toBe("");
      expect(enrolled.code).toBe(0);
    },
    T,
  );

  it(
    "[ADMIN-KEY-PIN] a man in the middle serving its own admin transport key (self-consistent pin) is refused before the password is read or anything is posted",
    async () => {
      const attacker = adminKeyDocument(
        await importAdminTransportKey(generateAdminTransportSecret()),
      );
      const mitm = await startMitm(server?.baseUrl as string, attacker);
      try {
        const result = await cli(["user", "add", "bob"], mitm.url, STRONG);
        expect(result.code).toBe(1);
        expect(result.stderr).toContain("(ERR_ADMIN_KEY_PIN_MISMATCH)");
        expect(result.stderr).not.toContain(STRONG);
        expect(mitm.requests).toEqual(["GET /cpns/v1", `GET ${ADMIN_KEY_PATH}`]);
      } finally {
        await mitm.close();
      }
      expect(await users()).not.toContain("bob");
    },
    T,
  );

  it(
    "[ADMIN-KEY-PIN] without a pin, plain HTTP is refused (ERR_NO_ADMIN_KEY_PIN); a remote admin passes --admin-key-pin",
    async () => {
      const elsewhere = join(root, "remote-admin");
      const token = readFileSync(join(dataDir, "admin.token"), "utf8").trim();
      const env = { CPNS_DATA_DIR: elsewhere, CPNS_ADMIN_TOKEN: token };
      const refused = await cli(["user", "add", "bob"], server?.baseUrl as string, STRONG, env);
      expect(refused.code).toBe(1);
      expect(refused.stderr).toContain("(ERR_NO_ADMIN_KEY_PIN)");
      const pin = readFileSync(join(dataDir, "admin-key.pin"), "utf8").trim();
      const added = await cli(
        ["user", "add", "bob", "--admin-key-pin", pin],
        server?.baseUrl as string,
        "bob-Bu1lder-staple-4821",
        env,
      );
      expect(added.stderr).toBe("");
      expect(added.code).toBe(0);
      expect(await users()).toContain("bob");
    },
    T,
  );

  it(
    "[PASSWORD-POLICY-CLI] a 1-character or dictionary password is refused by the CLI before anything is posted",
    async () => {
      const relay = await startMitm(server?.baseUrl as string, undefined);
      try {
        for (const weak of ["x", "password1234"]) {
          const result = await cli(["user", "add", "erin"], relay.url, weak);
          expect(result.code).toBe(1);
          expect(result.stderr).toContain("(ERR_WEAK_PASSWORD)");
          expect(result.stderr).not.toContain(`${weak} `);
        }
        expect(relay.requests.filter((line) => line.startsWith("POST"))).toEqual([]);
      } finally {
        await relay.close();
      }
      expect(await users()).not.toContain("erin");
    },
    T,
  );
});
