/**
 * Issue #9 "Reliability figures": the fuzzer's HTTP client. Keep-alive
 * node:http (one Agent; sockets are pooled per source address), a source
 * address per request (see identities.ts), and a raw TCP path for requests
 * node:http refuses to write (control characters, code points above U+00FF,
 * broken header names): those must reach the server too, byte for byte.
 *
 * A connection reset without an answer is retried once on a fresh
 * connection, because a pooled socket may be closed by the server's idle
 * timeout just as it is reused (a client-side race, not a server fault); a
 * second reset is reported as `reset`. On the raw path a reset is expected:
 * Node's HTTP parser answers 400 and closes at once, and the bytes it left
 * unread turn the close into a TCP reset that may destroy the 400 in flight.
 */
import { Agent, request as httpRequest } from "node:http";
import { connect } from "node:net";

export interface WireRequest {
  url: string;
  method: string;
  /** In order; duplicates allowed. */
  headers: Array<[string, string]>;
  body?: Uint8Array;
  localAddress?: string;
}

export type WireResult =
  | { kind: "answer"; status: number; headers: Headers; body: Buffer }
  /** No answer. `raw`: the request was not valid HTTP (it went by the raw path). */
  | { kind: "reset"; error: string; raw: boolean };

/** What node:http accepts in a header value (its own check); the rest goes raw. */
const WRITABLE_VALUE = /^[\t\x20-\x7e\x80-\xff]*$/;
/** Node's default --max-http-header-size. */
const MAX_NODE_HEADER_BYTES = 16 * 1024;
const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

export class Wire {
  readonly #agent = new Agent({ keepAlive: true, maxSockets: 256, maxFreeSockets: 512 });

  async send(request: WireRequest): Promise<WireResult> {
    const raw = request.headers.some(
      ([name, value]) => !TOKEN.test(name) || !WRITABLE_VALUE.test(value),
    );
    const attempt = raw ? () => this.#raw(request) : (fresh: boolean) => this.#http(request, fresh);
    const first = await attempt(false);
    if (first.kind === "answer") return first;
    const second = await attempt(true);
    // Headers past Node's limit (16 KiB): its parser answers 431 and closes at once,
    // and a body still on its way turns the close into a reset, as on the raw path.
    const headerBytes = request.headers.reduce((n, [k, v]) => n + k.length + v.length + 4, 0);
    if (second.kind === "reset" && headerBytes > MAX_NODE_HEADER_BYTES) {
      return { ...second, raw: true };
    }
    return second;
  }

  close(): void {
    this.#agent.destroy();
  }

  #http(request: WireRequest, fresh: boolean): Promise<WireResult> {
    const target = new URL(request.url);
    // Raw (array) headers get no Host from node:http: add it unless the request has one.
    const headers: Array<[string, string]> = [...request.headers];
    if (!headers.some(([n]) => n.toLowerCase() === "host")) headers.unshift(["host", target.host]);
    if (request.body && !headers.some(([n]) => n.toLowerCase() === "content-length")) {
      headers.push(["content-length", String(request.body.length)]);
    }
    return new Promise<WireResult>((resolve) => {
      const flat: string[] = [];
      for (const [name, value] of headers) flat.push(name, value);
      let req: ReturnType<typeof httpRequest>;
      try {
        req = httpRequest(
          {
            host: target.hostname,
            port: target.port,
            path: target.pathname + target.search,
            method: request.method,
            headers: flat,
            agent: fresh ? false : this.#agent,
            ...(request.localAddress ? { localAddress: request.localAddress } : {}),
          },
          (res) => {
            const chunks: Buffer[] = [];
            res.on("data", (chunk: Buffer) => chunks.push(chunk));
            res.on("error", (err) => resolve({ kind: "reset", error: String(err), raw: false }));
            res.on("end", () => {
              const out = new Headers();
              for (let i = 0; i + 1 < res.rawHeaders.length; i += 2) {
                try {
                  out.append(res.rawHeaders[i] as string, res.rawHeaders[i + 1] as string);
                } catch {
                  // a header Headers cannot hold: irrelevant to the oracle
                }
              }
              resolve({
                kind: "answer",
                status: res.statusCode ?? 0,
                headers: out,
                body: Buffer.concat(chunks),
              });
            });
          },
        );
      } catch {
        // node:http refused to write it: send it raw instead.
        resolve(this.#raw(request));
        return;
      }
      req.on("error", (err: NodeJS.ErrnoException) =>
        resolve({ kind: "reset", error: err.code ?? err.message, raw: false }),
      );
      req.end(request.body);
    });
  }

  /** One request on its own connection, written as bytes (UTF-8), answer read to its end. */
  #raw(request: WireRequest): Promise<WireResult> {
    const target = new URL(request.url);
    const body = Buffer.from(request.body ?? new Uint8Array());
    const lines = [`${request.method} ${target.pathname}${target.search} HTTP/1.1`];
    lines.push(`host: ${target.host}`);
    for (const [name, value] of request.headers) {
      if (name.toLowerCase() !== "host" && name.toLowerCase() !== "content-length") {
        lines.push(`${name}: ${value}`);
      }
    }
    lines.push(`content-length: ${body.length}`, "connection: close", "", "");
    return new Promise<WireResult>((resolve) => {
      const socket = connect({
        host: target.hostname,
        port: Number(target.port),
        ...(request.localAddress ? { localAddress: request.localAddress } : {}),
      });
      const chunks: Buffer[] = [];
      let settled = false;
      const settle = (result: WireResult) => {
        if (settled) return;
        settled = true;
        socket.destroy();
        resolve(result);
      };
      socket.setTimeout(30_000, () => settle({ kind: "reset", error: "timeout", raw: true }));
      socket.on("data", (chunk: Buffer) => chunks.push(chunk));
      socket.on("error", (err: NodeJS.ErrnoException) => {
        // A write after the server answered and closed: the answer may be in already.
        if (chunks.length === 0)
          settle({ kind: "reset", error: err.code ?? err.message, raw: true });
      });
      socket.on("close", () => {
        const all = Buffer.concat(chunks);
        const end = all.indexOf("\r\n\r\n");
        if (end < 0) {
          settle({ kind: "reset", error: "closed without an answer", raw: true });
          return;
        }
        const [statusLine, ...headerLines] = all.subarray(0, end).toString("latin1").split("\r\n");
        const headers = new Headers();
        for (const line of headerLines) {
          const colon = line.indexOf(":");
          try {
            headers.append(line.slice(0, colon).trim(), line.slice(colon + 1).trim());
          } catch {
            // ignored, as above
          }
        }
        settle({
          kind: "answer",
          status: Number(statusLine?.split(" ")[1] ?? 0),
          headers,
          body: all.subarray(end + 4),
        });
      });
      socket.end(Buffer.concat([Buffer.from(lines.join("\r\n"), "utf8"), body]));
    });
  }
}
