/**
 * Serves a fetch handler on Node with @hono/node-server, plus one thing the
 * Fetch API cannot express: each WWW-Authenticate challenge on its own header
 * line (and each Proxy-Authenticate one, for the PN GW relay). Fetch `Headers` joins repeated fields with ", "; RFC 9110 allows that,
 * but curl reads only the first challenge of a line and answers the last one
 * of a joined line, so with separate lines it picks our most preferred
 * algorithm (RFC 7616 §3.7) as intended.
 *
 * Implements: DIGEST-RUNTIME-NODE, SEED-5.x.4-6, FFS-TLS-VERSION
 */
import { type IncomingMessage, type OutgoingHttpHeaders, ServerResponse } from "node:http";
import { createServer as createHttpsServer } from "node:https";
import type { AddressInfo } from "node:net";
import { serve } from "@hono/node-server";
import { splitChallenges } from "../digest/index.ts";

class ChallengeLinesResponse<Request extends IncomingMessage> extends ServerResponse<Request> {
  // biome-ignore lint/suspicious/noExplicitAny: mirrors ServerResponse.writeHead's overloads.
  override writeHead(statusCode: number, ...rest: any[]): this {
    const headers = rest[rest.length - 1] as OutgoingHttpHeaders | undefined;
    if (headers && typeof headers === "object" && !Array.isArray(headers)) {
      for (const name of Object.keys(headers)) {
        const value = headers[name];
        const lower = name.toLowerCase();
        if (
          (lower === "www-authenticate" || lower === "proxy-authenticate") &&
          typeof value === "string"
        ) {
          headers[name] = splitChallenges(value);
        }
      }
    }
    return super.writeHead(statusCode, ...rest);
  }
}

/** PEM certificate chain and private key: serve HTTPS instead of HTTP. */
export interface NodeTlsOptions {
  cert: string | Buffer;
  key: string | Buffer;
}

export interface NodeServeOptions {
  fetch: (request: Request, env?: unknown) => Response | Promise<Response>;
  port?: number;
  hostname?: string;
  tls?: NodeTlsOptions;
}

/**
 * TLS 1.2 minimum, 1.3 preferred (our resolution of the seed's FFS on the TLS
 * version, after RFC 8996, which retired TLS 1.0 and 1.1). OpenSSL negotiates
 * the highest version both ends have, so a TLS 1.3 client gets TLS 1.3.
 */
export const TLS_MIN_VERSION = "TLSv1.2";

export function serveNode(options: NodeServeOptions, onListen?: (info: AddressInfo) => void) {
  const common = {
    fetch: options.fetch,
    port: options.port ?? 0,
    hostname: options.hostname ?? "127.0.0.1",
  };
  if (!options.tls) {
    return serve(
      { ...common, serverOptions: { ServerResponse: ChallengeLinesResponse } },
      onListen,
    );
  }
  return serve(
    {
      ...common,
      createServer: createHttpsServer,
      serverOptions: {
        ServerResponse: ChallengeLinesResponse,
        cert: options.tls.cert,
        key: options.tls.key,
        minVersion: TLS_MIN_VERSION,
      },
    },
    onListen,
  );
}
