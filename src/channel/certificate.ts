/**
 * Seed 5.x.4 (TLS where both ends support it): self-signed certificates for
 * the PN GW (DESIGN §4: "A PN GW's certificate is self-signed; its SPKI
 * fingerprint travels with the OTK") and for the CPNS Server's development
 * default, and the SPKI pin a client checks instead of a CA. WebCrypto only
 * (through @peculiar/x509), so it runs on Node, Deno and workerd.
 *
 * The pin is RFC 7469's pin-sha256: base64 (standard alphabet, padded) of
 * SHA-256 over the DER SubjectPublicKeyInfo, the same value curl's
 * `--pinnedpubkey sha256//<pin>` takes. Pinning the key rather than the
 * certificate lets an operator renew the certificate without new pins.
 *
 * Implements: TLS-SELF-SIGNED, OTK-TLS-PIN
 */
import "reflect-metadata"; // @peculiar/x509's dependency injection needs it loaded first
import * as x509 from "@peculiar/x509";
import { type CryptoProvider, defaultCrypto } from "../crypto/provider.ts";

export interface CertificateOptions {
  /** Subject common name, e.g. the PN GW's Entity ID. */
  commonName: string;
  /** DNS names and IP addresses the certificate is valid for (subjectAltName). */
  hosts: readonly string[];
  /** Default 365 days. */
  validityDays?: number;
  now?: () => number;
  crypto?: CryptoProvider;
}

export interface GeneratedCertificate {
  certPem: string;
  keyPem: string;
  /** RFC 7469 pin-sha256 of the certificate's key. */
  spkiPin: string;
  notAfter: Date;
}

const IPV4 = /^\d{1,3}(\.\d{1,3}){3}$/;

/** An IP literal (v4, or v6 with a colon) is an iPAddress name; anything else a dNSName. */
function generalName(host: string): { type: "ip" | "dns"; value: string } {
  return { type: IPV4.test(host) || host.includes(":") ? "ip" : "dns", value: host };
}

function base64(bytes: Uint8Array): string {
  let binary = "";
  for (const byte of bytes) binary += String.fromCharCode(byte);
  return btoa(binary);
}

function pem(label: string, der: ArrayBuffer): string {
  const body = base64(new Uint8Array(der)).replace(/.{64}/g, "$&\n");
  return `-----BEGIN ${label}-----\n${body.replace(/\n$/, "")}\n-----END ${label}-----\n`;
}

async function pinOf(spki: ArrayBuffer, crypto: CryptoProvider): Promise<string> {
  return base64(new Uint8Array(await crypto.subtle.digest("SHA-256", spki)));
}

/** An ECDSA P-256 key and a self-signed certificate for TLS server use. */
export async function generateSelfSignedCertificate(
  options: CertificateOptions,
): Promise<GeneratedCertificate> {
  const crypto = options.crypto ?? defaultCrypto();
  if (options.hosts.length === 0) throw new TypeError("certificate: at least one host is needed");
  const notBefore = new Date((options.now ?? Date.now)() - 60_000); // tolerate a little clock skew
  const notAfter = new Date(notBefore.getTime() + (options.validityDays ?? 365) * 86_400_000);
  const algorithm = { name: "ECDSA", namedCurve: "P-256" } as const;
  const keys = (await crypto.subtle.generateKey(algorithm, true, [
    "sign",
    "verify",
  ])) as CryptoKeyPair;
  const certificate = await x509.X509CertificateGenerator.createSelfSigned(
    {
      name: [{ CN: [options.commonName] }],
      notBefore,
      notAfter,
      keys,
      signingAlgorithm: { name: "ECDSA", hash: "SHA-256" },
      extensions: [
        new x509.BasicConstraintsExtension(false, undefined, true),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
        new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth]),
        new x509.SubjectAlternativeNameExtension(options.hosts.map(generalName)),
      ],
    },
    crypto,
  );
  const spki = await crypto.subtle.exportKey("spki", keys.publicKey);
  return {
    certPem: certificate.toString("pem"),
    keyPem: pem("PRIVATE KEY", await crypto.subtle.exportKey("pkcs8", keys.privateKey)),
    spkiPin: await pinOf(spki, crypto),
    notAfter,
  };
}

/** The pin-sha256 of a PEM certificate's key (for operator-supplied certificates). */
export async function spkiPinOfCertificate(
  certPem: string,
  crypto: CryptoProvider = defaultCrypto(),
): Promise<string> {
  const certificate = new x509.X509Certificate(certPem);
  return pinOf(certificate.publicKey.rawData, crypto);
}
