"""An independent implementation of the CPNS secure channel's key schedule and
record format, written from spec/channel.md alone with Python's `cryptography`
(Debian's python3-cryptography). Reads the vectors as JSON on stdin, recomputes
every key, IV, plaintext and record, and prints one JSON line per check."""
import json
import struct
import sys

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

LABEL = "cpns-channel-v1"
TYPES = {"request": 1, "response": 2, "close": 3}


def hkdf(secret, salt, info, length):
    return HKDF(algorithm=hashes.SHA256(), length=length, salt=salt, info=info).derive(secret)


def derive(ctx, label, direction, epoch, length):
    info = "\x00".join(
        [LABEL, label, direction, ctx["clientId"], ctx["serverId"], ctx["sessionId"], str(epoch)]
    ).encode()
    salt = (ctx["nonce"] + ":" + ctx["cnonce"]).encode()
    return hkdf(bytes.fromhex(ctx["secretHex"]), salt, info, length)


def field(text):
    data = text.encode()
    return struct.pack(">H", len(data)) + data


def headers(pairs):
    return struct.pack(">H", len(pairs)) + b"".join(field(n.lower()) + field(v) for n, v in pairs)


def record(ctx, place, direction, epoch, kind, seq, plaintext, binding=None):
    key = derive(ctx, "key", direction, epoch, 32)
    iv = derive(ctx, "iv", direction, epoch, 12)
    header = bytes([1, TYPES[kind]]) + struct.pack(">IQ", epoch, seq)
    nonce = iv[:4] + bytes(a ^ b for a, b in zip(iv[4:], struct.pack(">Q", seq)))
    aad = (LABEL + "\x00" + place["sessionId"] + "\x00").encode() + header
    aad += ("\x00" + place["method"] + "\x00" + place["path"]).encode()
    if binding is not None:
        aad += b"\x00" + struct.pack(">IQ", binding["epoch"], binding["seq"])
    return header + AESGCM(key).encrypt(nonce, plaintext, aad)


def main():
    vectors = json.load(sys.stdin)
    ctx, place = vectors["context"], vectors["place"]
    out = []
    for k in vectors["keys"]:
        out.append({
            "check": "key %s %d" % (k["direction"], k["epoch"]),
            "key": derive(ctx, "key", k["direction"], k["epoch"], 32).hex(),
            "iv": derive(ctx, "iv", k["direction"], k["epoch"], 12).hex(),
        })
    req = vectors["records"]["request"]
    inner = req["inner"]
    plain = field(inner["method"]) + field(inner["target"]) + headers(inner["headers"])
    out.append({"check": "request plaintext", "hex": plain.hex()})
    out.append({"check": "request record",
                "hex": record(ctx, place, "c2s", 0, "request", req["seq"], plain).hex()})
    res = vectors["records"]["response"]
    inner = res["inner"]
    plain = struct.pack(">H", inner["status"]) + headers(inner["headers"]) + inner["body"].encode()
    out.append({"check": "response plaintext", "hex": plain.hex()})
    out.append({"check": "response record",
                "hex": record(ctx, place, "s2c", 0, "response", res["seq"], plain, res["binding"]).hex()})
    close = vectors["records"]["close"]
    out.append({"check": "close record",
                "hex": record(ctx, place, "c2s", 0, "close", close["seq"], b"").hex()})
    print(json.dumps(out))


main()
