// The published vectors of the CPNS secure channel (test/vectors/channel-v1.ts, spec/channel.md)
// reproduced by our implementation, and opened by it: an outside implementer who matches these
// interoperates with us. test/interop/channel-vectors.test.ts has Python recompute them.
import { describe, expect, it } from "vitest";
import { ChannelEndpoint } from "../../src/channel/endpoint.ts";
import { encodeRequest, encodeResponse } from "../../src/channel/inner.ts";
import { deriveDirectionBytes, deriveDirectionKeys } from "../../src/channel/keys.ts";
import { decodeHeader, sealRecord } from "../../src/channel/record.ts";
import { fromHex, fromUtf8, toHex, utf8 } from "../../src/crypto/bytes.ts";
import {
  CHANNEL_V1_CONTEXT,
  CHANNEL_V1_KEYS,
  CHANNEL_V1_PLACE,
  CHANNEL_V1_RECORDS,
} from "../vectors/channel-v1.ts";

const context = { ...CHANNEL_V1_CONTEXT, secret: fromHex(CHANNEL_V1_CONTEXT.secretHex) };
const { request, response, close } = CHANNEL_V1_RECORDS;

describe("[CHANNEL-KEYS][CHANNEL-VECTORS] channel v1 vectors", () => {
  for (const vector of CHANNEL_V1_KEYS) {
    it(`[CHANNEL-KEYS][CHANNEL-VECTORS] K and IV for ${vector.direction}, epoch ${vector.epoch}`, async () => {
      const bytes = await deriveDirectionBytes(context, vector.direction, vector.epoch);
      expect(toHex(bytes.key)).toBe(vector.key);
      expect(toHex(bytes.iv)).toBe(vector.iv);
    });
  }

  it("[CHANNEL-VECTORS][CHANNEL-BINDING] request, response and close records, byte for byte", async () => {
    const c2s = await deriveDirectionKeys(context, "c2s", 0);
    const s2c = await deriveDirectionKeys(context, "s2c", 0);
    const requestPlain = encodeRequest({
      method: request.inner.method,
      target: request.inner.target,
      headers: request.inner.headers.map(([n, v]) => [n, v]),
      body: new Uint8Array(0),
    });
    expect(toHex(requestPlain)).toBe(request.plaintext);
    const sealedRequest = await sealRecord(
      c2s,
      { type: "request", epoch: 0, seq: request.seq },
      CHANNEL_V1_PLACE,
      requestPlain,
    );
    expect(toHex(sealedRequest)).toBe(request.record);
    const responsePlain = encodeResponse({
      status: response.inner.status,
      headers: response.inner.headers.map(([n, v]) => [n, v]),
      body: utf8(response.inner.body),
    });
    expect(toHex(responsePlain)).toBe(response.plaintext);
    const sealedResponse = await sealRecord(
      s2c,
      { type: "response", epoch: 0, seq: response.seq },
      CHANNEL_V1_PLACE,
      responsePlain,
      response.binding,
    );
    expect(toHex(sealedResponse)).toBe(response.record);
    const sealedClose = await sealRecord(
      c2s,
      { type: "close", epoch: 0, seq: close.seq },
      CHANNEL_V1_PLACE,
      new Uint8Array(0),
    );
    expect(toHex(sealedClose)).toBe(close.record);
    expect(decodeHeader(fromHex(response.record))).toEqual({ type: "response", epoch: 0, seq: 3 });
  });

  it("[CHANNEL-VECTORS] the vector records open at the two ends of a channel", async () => {
    const server = await ChannelEndpoint.open("server", context);
    const client = await ChannelEndpoint.open("client", context);
    const opened = await server.openRequest(fromHex(request.record), CHANNEL_V1_PLACE);
    expect(opened.binding).toEqual({ epoch: 0, seq: 7 });
    expect(opened.request).toMatchObject({ method: "GET", target: "/cpns/v1/whoami" });
    const answer = await client.openResponse(
      fromHex(response.record),
      CHANNEL_V1_PLACE,
      response.binding,
    );
    if (answer === "closed") throw new Error("unexpected close");
    expect(answer.status).toBe(200);
    expect(JSON.parse(fromUtf8(answer.body))).toMatchObject({ entityId: "pne-1" });
  });
});
