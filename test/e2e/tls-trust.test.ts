// Issue #10 "TLS where both ends support it" (TLS-TRUST, TLS-PIN-FIRST): the Node FetchLike that trusts
// a server by CA file or by RFC 7469 SPKI pin, on real loopback TLS. From the attacker's side: an
// impostor with another key (a raw TLS server that records every decrypted byte) must see nothing
// at all, a CA file never excuses a wrong host name, and a pin never excuses plain http.
import { createHash } from "node:crypto";
import type { AddressInfo } from "node:net";
import { createServer as createTlsServer, type Server as TlsServer } from "node:tls";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  type GeneratedCertificate,
  generateSelfSignedCertificate,
} from "../../src/channel/certificate.ts";
import { parsePin } from "../../src/channel/tls-pin.ts";
import { CpnsError } from "../../src/errors.ts";
import { serveNode } from "../../src/runtime/node-server.ts";
import { createTrustedFetch } from "../../src/runtime/node-tls-trust.ts";

const codeOf = async (promise: unknown) => {
  try {
    await promise;
    return "resolved";
  } catch (err) {
    return err instanceof CpnsError ? err.code : `other: ${(err as Error).message}`;
  }
};

describe("[TLS-TRUST] trusting a server by CA file or SPKI pin (Node fetch)", () => {
  let genuine: GeneratedCertificate;
  let other: GeneratedCertificate;
  let port: number;
  let impostorPort: number;
  let requests = 0;
  let impostorBytes = 0;
  let impostorConnections = 0;
  let closeAll: () => Promise<void>;

  beforeAll(async () => {
    genuine = await generateSelfSignedCertificate({ commonName: "genuine", hosts: ["127.0.0.1"] });
    other = await generateSelfSignedCertificate({ commonName: "impostor", hosts: ["127.0.0.1"] });
    const server = await new Promise<ReturnType<typeof serveNode>>((resolve) => {
      const s = serveNode(
        {
          fetch: async (request) => {
            requests++;
            const body = request.method === "POST" ? await request.text() : "";
            return new Response(JSON.stringify({ ok: true, echo: body }), {
              headers: { "content-type": "application/json" },
            });
          },
          tls: { cert: genuine.certPem, key: genuine.keyPem },
        },
        () => resolve(s),
      );
    });
    port = (server.address() as AddressInfo).port;
    // The impostor: a TLS server with another key that records whatever the client sends after
    // the handshake (an HTTP request line would show up here).
    const impostor: TlsServer = createTlsServer(
      { cert: other.certPem, key: other.keyPem },
      (socket) => {
        socket.on("data", (chunk: Buffer) => {
          impostorBytes += chunk.length;
        });
        socket.on("error", () => {});
      },
    );
    // Counted at TCP level: the client hangs up as soon as its side of the handshake is done,
    // which can be before the server's side completes.
    impostor.on("connection", () => {
      impostorConnections++;
    });
    await new Promise<void>((resolve) => impostor.listen(0, "127.0.0.1", resolve));
    impostorPort = (impostor.address() as AddressInfo).port;
    closeAll = async () => {
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await new Promise<void>((resolve) => impostor.close(() => resolve()));
    };
  });

  afterAll(async () => {
    await closeAll?.();
  });

  it("[TLS-TRUST][SEED-5.x.4-6] by CA file and by pin the request and its body go through", async () => {
    const byCa = createTrustedFetch({ ca: genuine.certPem });
    const res = await byCa(
      new Request(`https://127.0.0.1:${port}/x`, { method: "POST", body: "hi" }),
    );
    expect(await res.json()).toEqual({ ok: true, echo: "hi" });
    expect(res).toBeInstanceOf(Response);
    await byCa.close();
    const byPin = createTrustedFetch({ pin: `sha256//${genuine.spkiPin}` });
    expect((await byPin(new Request(`https://127.0.0.1:${port}/x`))).status).toBe(200);
    await byPin.close();
    const both = createTrustedFetch({ ca: genuine.certPem, pin: `sha256//${genuine.spkiPin}` });
    expect((await both(new Request(`https://127.0.0.1:${port}/x`))).status).toBe(200);
    await both.close();
  });

  it("[TLS-TRUST][TLS-PIN-FIRST] an impostor with another key gets no HTTP byte: the pin is checked on the handshake", async () => {
    const before = requests;
    const byPin = createTrustedFetch({ pin: `sha256//${genuine.spkiPin}` });
    const code = await codeOf(
      byPin(new Request(`https://127.0.0.1:${impostorPort}/x`, { method: "POST", body: "secret" })),
    );
    expect(code).toBe("ERR_TLS_PIN_MISMATCH");
    // A connection was made (so the check really ran on a live TLS connection)...
    expect(impostorConnections).toBeGreaterThan(0);
    // ...and nothing was written after it.
    await new Promise((resolve) => setImmediate(resolve));
    expect(impostorBytes).toBe(0);
    expect(requests).toBe(before);
    await byPin.close();
  });

  it("[TLS-TRUST] the wrong CA, and the right CA under a host name the certificate does not name, are refused", async () => {
    const before = requests;
    const wrongCa = createTrustedFetch({ ca: other.certPem });
    expect(await codeOf(wrongCa(new Request(`https://127.0.0.1:${port}/x`)))).toBe(
      "ERR_TLS_UNTRUSTED",
    );
    await wrongCa.close();
    // The certificate names 127.0.0.1 only: "localhost" resolves there but is not its name.
    const rightCa = createTrustedFetch({ ca: genuine.certPem });
    expect(await codeOf(rightCa(new Request(`https://localhost:${port}/x`)))).toBe(
      "ERR_TLS_UNTRUSTED",
    );
    // CA and pin: a genuine chain with the wrong pin is still refused.
    const caWrongPin = createTrustedFetch({ ca: genuine.certPem, pin: `sha256//${other.spkiPin}` });
    expect(await codeOf(caWrongPin(new Request(`https://127.0.0.1:${port}/x`)))).toBe(
      "ERR_TLS_PIN_MISMATCH",
    );
    await rightCa.close();
    await caWrongPin.close();
    expect(requests).toBe(before);
  });

  it("[TLS-TRUST] a pin never excuses plain http, and a malformed pin is refused before any connection", async () => {
    const byPin = createTrustedFetch({ pin: `sha256//${genuine.spkiPin}` });
    expect(await codeOf(byPin(new Request(`http://127.0.0.1:${port}/x`)))).toBe(
      "ERR_TLS_UNTRUSTED",
    );
    await byPin.close();
    const sha1 = createHash("sha1").update("k").digest("base64");
    for (const bad of [
      genuine.spkiPin,
      `sha1//${sha1}`,
      `sha256//${sha1}`,
      "sha256//",
      "x".repeat(5000),
    ]) {
      expect(() => parsePin(bad)).toThrow(CpnsError);
      expect(() => createTrustedFetch({ pin: bad })).toThrow(/sha256\/\//);
    }
    expect(parsePin(` sha256//${genuine.spkiPin}\n`)).toBe(`sha256//${genuine.spkiPin}`);
  });
});
