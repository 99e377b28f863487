/**
 * RFC 7616 §3.4.1-§3.4.4 and §3.5: the Digest arithmetic, shared by the server
 * verifier and the client. Pure and synchronous; every value is lower-case hex.
 *
 * Implements: DIGEST-VECTORS, DIGEST-AUTHINT
 */
import { hashHex } from "../crypto/hash.ts";
import type { AlgorithmSpec } from "./algorithms.ts";

/** H(username ":" realm ":" password), the stored form of a password (§3.4.2). */
export function computeHa1(
  algorithm: AlgorithmSpec,
  username: string,
  realm: string,
  password: string,
): string {
  return hashHex(algorithm.hash, `${username}:${realm}:${password}`);
}

/** For "-sess" algorithms HA1 is rebound to this nonce and cnonce (§3.4.2). */
export function sessionHa1(
  algorithm: AlgorithmSpec,
  ha1: string,
  nonce: string,
  cnonce: string,
): string {
  return algorithm.session ? hashHex(algorithm.hash, `${ha1}:${nonce}:${cnonce}`) : ha1;
}

/**
 * HA2 (§3.4.3). `method` is empty for rspauth (§3.5). For auth-int the hex hash
 * of the entity body is appended.
 */
export function computeHa2(
  algorithm: AlgorithmSpec,
  method: string,
  uri: string,
  bodyHash?: string,
): string {
  return hashHex(
    algorithm.hash,
    bodyHash === undefined ? `${method}:${uri}` : `${method}:${uri}:${bodyHash}`,
  );
}

export interface ResponseInputs {
  ha1: string;
  nonce: string;
  nc: string;
  cnonce: string;
  qop: string;
  ha2: string;
}

/** KD(HA1, nonce:nc:cnonce:qop:HA2) (§3.4.1). */
export function computeResponse(algorithm: AlgorithmSpec, inputs: ResponseInputs): string {
  const { ha1, nonce, nc, cnonce, qop, ha2 } = inputs;
  return hashHex(algorithm.hash, `${ha1}:${nonce}:${nc}:${cnonce}:${qop}:${ha2}`);
}

/** H(username ":" realm), sent instead of the username when userhash=true (§3.4.4). */
export function computeUserhash(algorithm: AlgorithmSpec, username: string, realm: string): string {
  return hashHex(algorithm.hash, `${username}:${realm}`);
}
