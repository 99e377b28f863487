/**
 * Issue #10, "TLS where both ends support it" (TLS-DEV-CERT): where a Node
 * process that serves HTTPS (`npm start`, `cpns gateway serve`) gets its
 * certificate. Either the operator's own (a PEM certificate chain and key
 * file), or a self-signed one generated on first start with
 * src/channel/certificate.ts and kept in the process's folder (key 0600),
 * reused on later starts so that its SPKI pin stays the same. The pin is
 * written as "sha256//<base64>" (RFC 7469, curl's --pinnedpubkey form) to
 * `<folder>/tls.pin` for a client on the same machine.
 *
 * Implements: TLS-DEV-CERT, TLS-SELF-SIGNED
 */
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { generateSelfSignedCertificate, spkiPinOfCertificate } from "../channel/certificate.ts";

export const CERT_FILE = "tls-cert.pem";
export const KEY_FILE = "tls-key.pem";
export const PIN_FILE = "tls.pin";

export interface ServingCertificate {
  cert: string;
  key: string;
  /** "sha256//<base64>" of the certificate's key. */
  pin: string;
  certFile: string;
  keyFile: string;
  /** Where the pin was written. */
  pinFile: string;
  /** "operator": given files; "generated": made now; "kept": made at an earlier start. */
  origin: "operator" | "generated" | "kept";
}

export class TlsFilesError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "TlsFilesError";
  }
}

const WILDCARD = new Set(["0.0.0.0", "::", "[::]", ""]);

/** subjectAltName entries for a development certificate: the listen host and the loopback names. */
export function developmentHosts(listenHost: string): string[] {
  const host = listenHost.replace(/^\[(.*)\]$/, "$1");
  const hosts = WILDCARD.has(host) ? [] : [host];
  for (const name of ["localhost", "127.0.0.1", "::1"]) if (!hosts.includes(name)) hosts.push(name);
  return hosts;
}

/** Whole file or none: a crash between write and rename leaves the old file (or nothing). */
function writeWhole(file: string, text: string, mode: number): void {
  const temporary = `${file}.${process.pid}.tmp`;
  writeFileSync(temporary, text, { mode });
  renameSync(temporary, file);
}

function readPem(file: string, what: string): string {
  try {
    return readFileSync(file, "utf8");
  } catch (err) {
    throw new TlsFilesError(
      `cannot read the TLS ${what} ${file}: ${(err as NodeJS.ErrnoException).code ?? "unreadable"}`,
    );
  }
}

export interface CertificateSource {
  /** Folder of the generated certificate, its key and tls.pin (the data folder, the key store). */
  folder: string;
  /** Subject common name of a generated certificate. */
  commonName: string;
  /** subjectAltName of a generated certificate. */
  hosts: readonly string[];
  /** The operator's own certificate and key (both or neither). */
  certFile?: string;
  keyFile?: string;
}

/** The operator's certificate, else the kept one, else a new self-signed one; tls.pin rewritten. */
export async function servingCertificate(source: CertificateSource): Promise<ServingCertificate> {
  const pinFile = join(source.folder, PIN_FILE);
  mkdirSync(source.folder, { recursive: true, mode: 0o700 });
  let result: Omit<ServingCertificate, "pin" | "pinFile"> & { pin?: string };
  if (source.certFile || source.keyFile) {
    if (!source.certFile || !source.keyFile) {
      throw new TlsFilesError("give both the TLS certificate file and its key file, or neither");
    }
    result = {
      cert: readPem(source.certFile, "certificate"),
      key: readPem(source.keyFile, "key"),
      certFile: source.certFile,
      keyFile: source.keyFile,
      origin: "operator",
    };
  } else {
    const certFile = join(source.folder, CERT_FILE);
    const keyFile = join(source.folder, KEY_FILE);
    if (existsSync(certFile) && existsSync(keyFile)) {
      result = {
        cert: readPem(certFile, "certificate"),
        key: readPem(keyFile, "key"),
        certFile,
        keyFile,
        origin: "kept",
      };
    } else {
      const generated = await generateSelfSignedCertificate({
        commonName: source.commonName,
        hosts: source.hosts,
      });
      // Key first: a certificate without its key on disk would be kept and fail to serve.
      writeWhole(keyFile, generated.keyPem, 0o600);
      writeWhole(certFile, generated.certPem, 0o600);
      result = {
        cert: generated.certPem,
        key: generated.keyPem,
        certFile,
        keyFile,
        origin: "generated",
        pin: generated.spkiPin,
      };
    }
  }
  let pin: string;
  try {
    pin = `sha256//${result.pin ?? (await spkiPinOfCertificate(result.cert))}`;
  } catch {
    throw new TlsFilesError(`${result.certFile} is not a PEM certificate`);
  }
  // Public, but only this process may say which key is ours: rewritten at every start.
  writeWhole(pinFile, `${pin}\n`, 0o600);
  return { ...result, pin, pinFile };
}

/** Plain HTTP (development mode): no pin may suggest that TLS is on. */
export function forgetPin(folder: string): void {
  rmSync(join(folder, PIN_FILE), { force: true });
}
