/**
 * HTTP Digest access authentication (RFC 7616, RFC 2617 compatible, RFC 7615):
 * server verifier, Hono middleware, fetch client, replay ledger port. This
 * folder knows nothing of CPNS and could be published on its own: this file is
 * its only way in (package.json `exports` "./digest"), for the CPNS code too.
 *
 * Implements: DIGEST-WALLS
 */
export type { AlgorithmSpec, DigestAlgorithm } from "./algorithms.ts";
export {
  ALGORITHMS,
  CLIENT_PREFERENCE,
  DEFAULT_ALGORITHMS,
  parseAlgorithm,
  STRONG_ALGORITHMS,
} from "./algorithms.ts";
export {
  createDigestFetch,
  type DigestExchange,
  type DigestFetchOptions,
  digestExchangeOf,
  type FetchLike,
  proxyExchangeOf,
} from "./client.ts";
export { computeHa1, computeHa2, computeResponse, computeUserhash, sessionHa1 } from "./compute.ts";
export { staticCredentials } from "./credentials.ts";
export {
  DIGEST_PROBLEM_TYPE,
  DIGEST_PROBLEMS,
  DigestError,
  type DigestErrorCode,
  type DigestProblemRenderer,
  digestProblemResponse,
} from "./errors.ts";
export {
  advanceWindow,
  DEFAULT_NC_WINDOW,
  EPOCH_BYTES,
  MemoryReplayLedger,
  type ReplayLedger,
} from "./ledger.ts";
export {
  type DigestAuthOptions,
  type DigestEnv,
  type DigestFailure,
  digestAuth,
} from "./middleware.ts";
export {
  type AuthElement,
  DigestParseError,
  parseChallenges,
  parseCredentials,
  splitChallenges,
} from "./params.ts";
export {
  DIGEST_PROFILES,
  type DigestAlgorithmSetting,
  type DigestProfile,
  type DigestProfileName,
  isDigestProfileName,
  parseDigestAlgorithmSetting,
} from "./profiles.ts";
export {
  type ClaimedIdentity,
  type Credential,
  type CredentialLookup,
  type CredentialRequest,
  createDigestVerifier,
  type DigestOutcome,
  type DigestPrincipal,
  type DigestRequest,
  type DigestServerOptions,
  type DigestVerifier,
  type Qop,
} from "./server.ts";
