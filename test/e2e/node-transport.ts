/**
 * One fetch over node:http or node:https for the end-to-end tests, for what
 * the global fetch cannot do: bind the client socket to a chosen 127.0.0.0/8
 * address (so the server sees another client address on a real socket), trust
 * exactly one self-signed certificate, or report the TLS version each answer
 * came over. A fresh connection per request (agent: false).
 */
import { request as httpRequest, type IncomingMessage } from "node:http";
import { request as httpsRequest } from "node:https";
import type { TLSSocket } from "node:tls";
import type { FetchLike } from "../../src/digest/index.ts";

export interface NodeTransportOptions {
  /** The client socket's local address (plain HTTP). */
  localAddress?: string;
  /** Certificates to trust, and only these (HTTPS). */
  ca?: string | string[];
  /** Receives the negotiated TLS version of each answer (HTTPS). */
  tlsVersions?: string[];
}

export function nodeTransport(options: NodeTransportOptions = {}): FetchLike {
  return async (request) => {
    const body = request.body ? Buffer.from(await request.arrayBuffer()) : undefined;
    const target = new URL(request.url);
    const headers: Record<string, string> = {};
    request.headers.forEach((value, name) => {
      headers[name] = value;
    });
    if (body) headers["content-length"] = String(body.length);
    const send = target.protocol === "https:" ? httpsRequest : httpRequest;
    return await new Promise<Response>((resolve, reject) => {
      const req = send(
        {
          host: target.hostname,
          port: target.port,
          path: target.pathname + target.search,
          method: request.method,
          headers,
          agent: false,
          ...(options.localAddress ? { localAddress: options.localAddress } : {}),
          ...(options.ca ? { ca: options.ca } : {}),
        },
        (res: IncomingMessage) => {
          if (options.tlsVersions && target.protocol === "https:") {
            options.tlsVersions.push(String((res.socket as TLSSocket).getProtocol()));
          }
          const chunks: Buffer[] = [];
          res.on("data", (chunk: Buffer) => chunks.push(chunk));
          res.on("error", reject);
          res.on("end", () => {
            const out = new Headers();
            for (let i = 0; i + 1 < res.rawHeaders.length; i += 2) {
              out.append(res.rawHeaders[i] as string, res.rawHeaders[i + 1] as string);
            }
            const status = res.statusCode ?? 500;
            const empty = status === 204 || status === 304;
            resolve(new Response(empty ? null : Buffer.concat(chunks), { status, headers: out }));
          });
        },
      );
      req.on("error", reject);
      req.end(body);
    });
  };
}
