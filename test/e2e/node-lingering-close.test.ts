/**
 * NODE-LINGERING-CLOSE (RFC 9112 §9.6, the TCP reset problem): an answer that
 * closes the connection before the request body was read must still reach a
 * client that is uploading, and an upload that never stops must not hold the
 * socket beyond the linger bound. A raw socket client keeps writing after the
 * server answered and reads only later, as a client busy uploading does; with
 * Node's immediate close the server's kernel resets the connection and the
 * client's next write fails (EPIPE/ECONNRESET) before it reads the 413.
 */
import type { AddressInfo } from "node:net";
import { connect, type Socket } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { LINGER_MS, serveNode } from "../../src/runtime/node-server.ts";

let server: ReturnType<typeof serveNode>;
let port: number;
let bodiesSeen = 0;
/** Far beyond the socket buffers, so the answer is still being written when the reader pauses. */
const BIG = 32 * 2 ** 20;

beforeAll(async () => {
  server = serveNode({
    // Refuses every upload at once, unread, as a declared length over the limit is refused.
    fetch: (request) => {
      if (request.url.endsWith("/big")) {
        return new Response(new Uint8Array(BIG).fill(0x61), { headers: { connection: "close" } });
      }
      if (request.method === "POST" && request.url.endsWith("/read")) {
        bodiesSeen++;
        return request.arrayBuffer().then(() => new Response("read\n"));
      }
      return new Response('{"code":"ERR_BODY_TOO_LARGE"}', {
        status: 413,
        headers: { "content-type": "application/problem+json", connection: "close" },
      });
    },
  });
  await new Promise<void>((resolve) => server.once("listening", resolve));
  port = (server.address() as AddressInfo).port;
});
afterAll(async () => {
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

interface UploadResult {
  response: string;
  error?: string;
  /** ms from the first byte of the answer to the socket's close. */
  closedAfterMs: number;
}

/**
 * POSTs a declared `declared` bytes, writing 64 KiB every few ms; reading starts
 * only after `readAfterMs`. With `stopOnAnswer` the client stops writing once
 * it has the whole answer and closes; otherwise it writes until the server
 * closes the connection.
 */
function upload(options: {
  declared: number;
  readAfterMs: number;
  stopOnAnswer: boolean;
  path?: string;
}): Promise<UploadResult> {
  return new Promise((resolve) => {
    // Half-open allowed: the server's FIN does not end our side, we go on writing as an
    // uploading client whose write loop has not noticed yet does.
    const socket: Socket = connect({ port, host: "127.0.0.1", allowHalfOpen: true });
    const chunk = Buffer.alloc(64 * 1024, 0x20);
    let response = "";
    let error: string | undefined;
    let answeredAt = 0;
    let writing = true;
    let sent = 0;
    socket.pause();
    socket.on("error", (err: NodeJS.ErrnoException) => {
      error ??= err.code ?? err.message;
    });
    socket.on("close", () => {
      writing = false;
      resolve({
        response,
        ...(error ? { error } : {}),
        closedAfterMs: answeredAt ? performance.now() - answeredAt : Number.NaN,
      });
    });
    socket.once("connect", () => {
      socket.write(
        `POST ${options.path ?? "/upload"} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: ${options.declared}\r\n\r\n`,
      );
      const pump = () => {
        if (!writing || socket.destroyed) return;
        if (sent + chunk.length <= options.declared) {
          sent += chunk.length;
          socket.write(chunk);
        }
        setTimeout(pump, 2);
      };
      pump();
      setTimeout(() => {
        socket.on("data", (data: Buffer) => {
          if (!answeredAt) answeredAt = performance.now();
          response += data.toString("latin1");
          if (options.stopOnAnswer && response.includes("ERR_BODY_TOO_LARGE")) {
            writing = false;
            socket.end();
          }
        });
        socket.resume();
      }, options.readAfterMs);
    });
  });
}

describe("[NODE-LINGERING-CLOSE] a closing answer reaches a client that is still uploading", () => {
  it("[NODE-LINGERING-CLOSE][SERVER-BAD-INPUT] 10 uploads refused at once, read late: every client reads its 413, none is reset", async () => {
    for (let i = 0; i < 10; i++) {
      const result = await upload({ declared: 64 * 2 ** 20, readAfterMs: 150, stopOnAnswer: true });
      expect(result.error, `upload ${i}: ${result.response.slice(0, 80)}`).toBeUndefined();
      expect(result.response).toMatch(/^HTTP\/1\.1 413 /);
      expect(result.response).toMatch(/\r\nconnection: close\r\n/i);
      expect(result.response).toContain('{"code":"ERR_BODY_TOO_LARGE"}');
    }
  });

  it("[NODE-LINGERING-CLOSE] an upload that never stops is cut off within the linger bound after the answer", async () => {
    const result = await upload({ declared: 2 ** 40, readAfterMs: 0, stopOnAnswer: false });
    expect(result.response).toMatch(/^HTTP\/1\.1 413 /);
    expect(result.closedAfterMs).toBeGreaterThan(LINGER_MS * 0.5);
    expect(result.closedAfterMs).toBeLessThan(LINGER_MS + 3_000);
  }, 15_000);

  it("[NODE-LINGERING-CLOSE] a request sent after the closing answer reaches no handler", async () => {
    const before = bodiesSeen;
    const socket = connect({ port, host: "127.0.0.1", allowHalfOpen: true });
    await new Promise<void>((resolve) => socket.once("connect", () => resolve()));
    let response = "";
    socket.on("data", (data: Buffer) => {
      response += data.toString("latin1");
    });
    let writeError: string | undefined;
    socket.on("error", (err: NodeJS.ErrnoException) => {
      writeError ??= err.code;
    });
    const body = "x".repeat(32);
    socket.write(
      `POST /upload HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: ${body.length}\r\n\r\n${body}`,
    );
    await expect.poll(() => response).toContain("ERR_BODY_TOO_LARGE");
    // The server is lingering now: it reads, but must not serve what it reads.
    socket.write("POST /read HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 2\r\n\r\nhi");
    await new Promise((resolve) => setTimeout(resolve, 500));
    socket.destroy();
    expect(response).toMatch(/^HTTP\/1\.1 413 /);
    expect(response).not.toContain("read\n");
    expect(bodiesSeen, writeError).toBe(before);
  }, 15_000);

  it("[NODE-LINGERING-CLOSE] a keep-alive request whose body was read keeps its connection", async () => {
    const socket = connect(port, "127.0.0.1");
    await new Promise<void>((resolve) => socket.once("connect", () => resolve()));
    let response = "";
    socket.on("data", (data: Buffer) => {
      response += data.toString("latin1");
    });
    socket.write("POST /read HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 2\r\n\r\nhi");
    socket.write("POST /read HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 2\r\n\r\nhi");
    await expect.poll(() => response.split("read\n").length - 1).toBe(2);
    socket.destroy();
  });

  it("[NODE-LINGERING-CLOSE] a large closing answer to a reader that pauses past the linger bound arrives whole", async () => {
    const socket = connect({ port, host: "127.0.0.1", allowHalfOpen: true });
    await new Promise<void>((resolve) => socket.once("connect", () => resolve()));
    socket.pause();
    socket.write("GET /big HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
    // Not reading for longer than LINGER_MS: the answer cannot be out by then.
    await new Promise((resolve) => setTimeout(resolve, LINGER_MS + 500));
    let received = 0;
    let head = "";
    socket.on("data", (data: Buffer) => {
      if (head.length < 200) head += data.subarray(0, 200).toString("latin1");
      received += data.length;
    });
    socket.resume();
    await new Promise<void>((resolve) => socket.once("end", () => resolve()));
    socket.destroy();
    expect(head).toMatch(/^HTTP\/1\.1 200 /);
    const headerBytes = head.indexOf("\r\n\r\n") + 4;
    expect(received - headerBytes).toBe(BIG);
  }, 20_000);
});
