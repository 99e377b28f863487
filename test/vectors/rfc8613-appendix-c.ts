/**
 * RFC 8613 Appendix C.1-C.3 (OSCORE key derivation test vectors), as data:
 * HKDF-SHA-256 with the Master Salt (or none) as salt, the Master Secret as
 * IKM, and the CBOR `info` the RFC prints. Only the derivations: their AEAD
 * (AES-CCM-16-64-128) is not in WebCrypto, and the CPNS channel uses AES-GCM.
 *
 * Implements: CHANNEL-KEYS
 */
const MASTER_SECRET = "0102030405060708090a0b0c0d0e0f10";

export interface Rfc8613DerivationVector {
  title: string;
  masterSecret: string;
  masterSalt: string;
  idContext: string | null;
  senderId: string;
  recipientId: string;
  senderKeyInfo: string;
  recipientKeyInfo: string;
  commonIvInfo: string;
  senderKey: string;
  recipientKey: string;
  commonIv: string;
}

export const RFC8613_DERIVATIONS: readonly Rfc8613DerivationVector[] = [
  {
    title: "RFC 8613 C.1.1 client, with Master Salt",
    masterSecret: MASTER_SECRET,
    masterSalt: "9e7ca92223786340",
    idContext: null,
    senderId: "",
    recipientId: "01",
    senderKeyInfo: "8540f60a634b657910",
    recipientKeyInfo: "854101f60a634b657910",
    commonIvInfo: "8540f60a6249560d",
    senderKey: "f0910ed7295e6ad4b54fc793154302ff",
    recipientKey: "ffb14e093c94c9cac9471648b4f98710",
    commonIv: "4622d4dd6d944168eefb54987c",
  },
  {
    title: "RFC 8613 C.1.2 server, with Master Salt",
    masterSecret: MASTER_SECRET,
    masterSalt: "9e7ca92223786340",
    idContext: null,
    senderId: "01",
    recipientId: "",
    senderKeyInfo: "854101f60a634b657910",
    recipientKeyInfo: "8540f60a634b657910",
    commonIvInfo: "8540f60a6249560d",
    senderKey: "ffb14e093c94c9cac9471648b4f98710",
    recipientKey: "f0910ed7295e6ad4b54fc793154302ff",
    commonIv: "4622d4dd6d944168eefb54987c",
  },
  {
    title: "RFC 8613 C.2.1 client, without Master Salt",
    masterSecret: MASTER_SECRET,
    masterSalt: "",
    idContext: null,
    senderId: "00",
    recipientId: "01",
    senderKeyInfo: "854100f60a634b657910",
    recipientKeyInfo: "854101f60a634b657910",
    commonIvInfo: "8540f60a6249560d",
    senderKey: "321b26943253c7ffb6003b0b64d74041",
    recipientKey: "e57b5635815177cd679ab4bcec9d7dda",
    commonIv: "be35ae297d2dace910c52e99f9",
  },
  {
    title: "RFC 8613 C.2.2 server, without Master Salt",
    masterSecret: MASTER_SECRET,
    masterSalt: "",
    idContext: null,
    senderId: "01",
    recipientId: "00",
    senderKeyInfo: "854101f60a634b657910",
    recipientKeyInfo: "854100f60a634b657910",
    commonIvInfo: "8540f60a6249560d",
    senderKey: "e57b5635815177cd679ab4bcec9d7dda",
    recipientKey: "321b26943253c7ffb6003b0b64d74041",
    commonIv: "be35ae297d2dace910c52e99f9",
  },
  {
    title: "RFC 8613 C.3.1 client, with ID Context",
    masterSecret: MASTER_SECRET,
    masterSalt: "9e7ca92223786340",
    idContext: "37cbf3210017a2d3",
    senderId: "",
    recipientId: "01",
    senderKeyInfo: "85404837cbf3210017a2d30a634b657910",
    recipientKeyInfo: "8541014837cbf3210017a2d30a634b657910",
    commonIvInfo: "85404837cbf3210017a2d30a6249560d",
    senderKey: "af2a1300a5e95788b356336eeecd2b92",
    recipientKey: "e39a0c7c77b43f03b4b39ab9a268699f",
    commonIv: "2ca58fb85ff1b81c0b7181b85e",
  },
  {
    title: "RFC 8613 C.3.2 server, with ID Context",
    masterSecret: MASTER_SECRET,
    masterSalt: "9e7ca92223786340",
    idContext: "37cbf3210017a2d3",
    senderId: "01",
    recipientId: "",
    senderKeyInfo: "8541014837cbf3210017a2d30a634b657910",
    recipientKeyInfo: "85404837cbf3210017a2d30a634b657910",
    commonIvInfo: "85404837cbf3210017a2d30a6249560d",
    senderKey: "e39a0c7c77b43f03b4b39ab9a268699f",
    recipientKey: "af2a1300a5e95788b356336eeecd2b92",
    commonIv: "2ca58fb85ff1b81c0b7181b85e",
  },
];
