/**
 * Serves a fetch handler on Node with @hono/node-server, plus one thing the
 * Fetch API cannot express: each WWW-Authenticate challenge on its own header
 * line (and each Proxy-Authenticate one, for the PN GW relay). Fetch `Headers` joins repeated fields with ", "; RFC 9110 allows that,
 * but curl reads only the first challenge of a line and answers the last one
 * of a joined line, so with separate lines it picks our most preferred
 * algorithm (RFC 7616 §3.7) as intended.
 *
 * And a lingering close (RFC 9112 §9.6): when an answer closes the connection
 * before the request body was read (413 on a declared length, a Digest refusal
 * of an upload), Node would close the socket with the client's bytes still
 * unread, the kernel would answer them with a reset, and a client still
 * uploading would lose the answer (EPIPE/ECONNRESET instead of the 413).
 *
 * Implements: DIGEST-RUNTIME-NODE, SEED-5.x.4-6, FFS-TLS-VERSION, NODE-LINGERING-CLOSE
 */
import { type IncomingMessage, type OutgoingHttpHeaders, ServerResponse } from "node:http";
import { createServer as createHttpsServer } from "node:https";
import type { AddressInfo, Socket } from "node:net";
import { serve } from "@hono/node-server";
import { splitChallenges } from "../digest/index.ts";

/**
 * How long a closing connection keeps reading (and discarding) what the
 * client still sends after our answer, at most: as Apache's lingering close
 * (2 s); nginx waits up to 5 s per read. Long enough for a client on loopback
 * or a LAN to read the answer and stop, short enough that an upload that never
 * stops holds the socket only briefly.
 */
export const LINGER_MS = 2_000;

const lingering = Symbol("cpns.lingeringClose");
/** Sockets whose last answer is written: what arrives on them now is only read to be dropped. */
const closing = new WeakSet<Socket>();

/**
 * The application behind a lingering socket: a request parsed from what the
 * client sent after our closing answer (a pipelined one, say) must not run,
 * since the client was told the connection is over and no answer can reach it.
 */
function closingGuard(fetch: NodeServeOptions["fetch"]): NodeServeOptions["fetch"] {
  return (request, env) => {
    const socket = (env as { incoming?: IncomingMessage } | undefined)?.incoming?.socket;
    if (socket && closing.has(socket))
      return new Response(null, { status: 400, headers: { connection: "close" } });
    return fetch(request, env);
  };
}

/**
 * Replaces the socket's destroySoon (what Node's HTTP server calls once an
 * answer with Connection: close is written) with a staged close: our FIN after
 * the answer, then keep reading until the client closes its side or LINGER_MS
 * pass. Node's parser goes on consuming the rest of the request body and drops
 * it (the server dumps an unread request); a request it parses after that is
 * answered by `closingGuard` without reaching the application.
 */
function lingerOnClose(socket: Socket & { [lingering]?: true }): void {
  if (socket[lingering]) return;
  socket[lingering] = true;
  socket.destroySoon = function lingeringClose(this: Socket) {
    closing.add(this);
    if (this.writable) this.end();
    // The linger starts once the answer is out, as Node's own close waits for it: a
    // large answer to a slow reader must not be cut at LINGER_MS.
    const linger = () => {
      if (this.readableEnded || this.destroyed) {
        this.destroy();
        return;
      }
      const timer = setTimeout(() => this.destroy(), LINGER_MS);
      timer.unref();
      this.once("end", () => this.destroy());
      this.once("close", () => clearTimeout(timer));
    };
    if (this.writableFinished) linger();
    else this.once("finish", linger);
  };
}

class ChallengeLinesResponse<Request extends IncomingMessage> extends ServerResponse<Request> {
  // Node passes options (highWaterMark, rejectNonStandardBodyWrites) its types do not declare.
  // biome-ignore lint/suspicious/noExplicitAny: passed through untouched.
  constructor(req: Request, ...options: any[]) {
    // @ts-expect-error: the options argument exists at run time (node:_http_server).
    super(req, ...options);
    // HTTPS included: the socket here is the TLS socket the parser reads from.
    lingerOnClose(req.socket);
  }

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
    fetch: closingGuard(options.fetch),
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
