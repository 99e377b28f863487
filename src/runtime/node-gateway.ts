/**
 * Seed 5.x.2, second bullet: the Node half of `cpns gateway serve` (CPNS-1/6
 * and CPNS-3 reach the PN GW over HTTP). It serves the PN GW's fetch handler
 * with serveNode (one challenge per header line, like the CPNS Server) and
 * reports the first SIGINT or SIGTERM, so the command can shut down cleanly.
 * The CLI reaches it through CliContext.serve (src/runtime/node-cli.ts), which
 * keeps node:http out of src/cli and out of the start-up of other commands,
 * and turns a ServeError into the CLI's error: nothing here imports src/cli
 * (issue #11, the CLI/runtime wall).
 *
 * Issue #10 (TLS-GATEWAY): with `tls`, HTTPS with the operator's certificate
 * or a self-signed one generated on first start and kept beside the key store
 * (src/runtime/node-tls-files.ts); the answer carries its SPKI pin, which the
 * PN GW seals with each OTK so that its peers pin it.
 *
 * Implements: CLI-FLOWS
 * Implements: TLS-GATEWAY
 */
import type { Server } from "node:http";
import { serveNode } from "./node-server.ts";
import {
  type CertificateSource,
  type ServingCertificate,
  servingCertificate,
  TlsFilesError,
} from "./node-tls-files.ts";

/** Why serving could not start: a bad certificate source (ERR_CONFIG) or a port in use (ERR_LISTEN). */
export class ServeError extends Error {
  constructor(
    readonly code: "ERR_CONFIG" | "ERR_LISTEN",
    message: string,
  ) {
    super(message);
    this.name = "ServeError";
  }
}

export interface ServeOptions {
  hostname: string;
  /** 0: the kernel picks a free port (the answer says which). */
  port: number;
  fetch: (request: Request) => Response | Promise<Response>;
  /** Serve HTTPS with this certificate source; without it, plain HTTP. */
  tls?: CertificateSource;
}

export interface Serving {
  /** The bound address as a URL (the real port when 0 was asked). */
  url: string;
  port: number;
  /** The certificate served (pin "sha256//...", files, origin); undefined for plain HTTP. */
  certificate?: Pick<ServingCertificate, "pin" | "pinFile" | "certFile" | "origin">;
  /** Resolves with the first SIGINT or SIGTERM received after listening started. */
  stopped: Promise<string>;
  /** Stops accepting, drops open connections, and waits for the server to close. */
  close(): Promise<void>;
}

const SIGNALS = ["SIGINT", "SIGTERM"] as const;

function hostForUrl(hostname: string): string {
  return hostname.includes(":") ? `[${hostname}]` : hostname;
}

export async function serveUntilSignal(options: ServeOptions): Promise<Serving> {
  let server!: Server;
  let certificate: ServingCertificate | undefined;
  if (options.tls) {
    try {
      certificate = await servingCertificate(options.tls);
    } catch (err) {
      if (err instanceof TlsFilesError) throw new ServeError("ERR_CONFIG", err.message);
      throw err;
    }
  }
  const tls = certificate ? { cert: certificate.cert, key: certificate.key } : undefined;
  const port = await new Promise<number>((resolve, reject) => {
    server = serveNode(
      { fetch: options.fetch, port: options.port, hostname: options.hostname, tls },
      (info) => resolve(info.port),
    ) as Server;
    server.once("error", (err: NodeJS.ErrnoException) => {
      const where = `${hostForUrl(options.hostname)}:${options.port}`;
      reject(new ServeError("ERR_LISTEN", `cannot listen on ${where}: ${err.code ?? err.message}`));
    });
  });

  // Listeners are installed only once listening, and removed at the first signal
  // (or at close): a second Ctrl-C then gets Node's default, an immediate exit,
  // should the shutdown hang.
  let onSignal: (signal: NodeJS.Signals) => void = () => {};
  const unlisten = () => {
    for (const name of SIGNALS) process.off(name, onSignal);
  };
  const stopped = new Promise<string>((resolve) => {
    onSignal = (signal) => {
      unlisten();
      resolve(signal);
    };
    for (const name of SIGNALS) process.on(name, onSignal);
  });

  return {
    url: `${certificate ? "https" : "http"}://${hostForUrl(options.hostname)}:${port}`,
    port,
    ...(certificate
      ? {
          certificate: {
            pin: certificate.pin,
            pinFile: certificate.pinFile,
            certFile: certificate.certFile,
            origin: certificate.origin,
          },
        }
      : {}),
    stopped,
    close: () =>
      new Promise<void>((resolve) => {
        unlisten();
        // Keep-alive connections would otherwise hold close() open until they time out.
        server.closeAllConnections?.();
        server.close(() => resolve());
      }),
  };
}
