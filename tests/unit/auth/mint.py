#!/usr/bin/python3
"""Generate the JWT test vectors in vectors/ ONCE; the C tests only read them.

Run with Debian's interpreter and packages (PyPI is not used):
    apt-get install openssl python3-jwt python3-cryptography python3-jwcrypto
    /usr/bin/python3 tests/unit/auth/mint.py tests/unit/auth/vectors

Keys come from `openssl genpkey` (private keys stay in a temp dir and are
never committed). Valid tokens are minted by two independent libraries,
PyJWT and jwcrypto, for every algorithm; rejection cases are built with
PyJWT or by hand where a library refuses to make the bad token.

Outputs: jwks.json (public keys), *.pem (public keys for jwks_from_pem),
cases.json ([{name, token, expect, policy?, keys?}]), where expect is a
JWT_* error name and policy overrides the defaults below.
"""
import base64, hashlib, hmac, json, os, subprocess, sys, tempfile

import jwt as pyjwt
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from jwcrypto import jwk as jc_jwk, jws as jc_jws

NOW = 1700000000
ISS = "https://id.example.com/"
AUD = "api"


def b64(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


def ub64(s):
    return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))


def genpkey(tmp, name, *args):
    path = os.path.join(tmp, name + ".pem")
    subprocess.run(["openssl", "genpkey", *args, "-out", path], check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    with open(path, "rb") as f:
        return serialization.load_pem_private_key(f.read(), None)


def pub_pem(key):
    return key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)


def public_jwk(key, **extra):
    d = json.loads(jc_jwk.JWK.from_pem(pub_pem(key)).export_public())
    d.update(extra)
    return d


def claims(**over):
    c = {"iss": ISS, "aud": AUD, "sub": "user-42", "email": "u@example.com",
         "scope": "read write", "iat": NOW, "nbf": NOW, "exp": NOW + 3600}
    for k, v in over.items():
        if v is None:
            c.pop(k, None)
        else:
            c[k] = v
    return c


def manual(header, payload, sign):
    """A token assembled by hand: sign(bytes) -> signature bytes."""
    h = b64(json.dumps(header, separators=(",", ":")).encode()) if isinstance(header, dict) else b64(header)
    p = b64(json.dumps(payload, separators=(",", ":")).encode()) if isinstance(payload, dict) else b64(payload)
    si = (h + "." + p).encode()
    return h + "." + p + "." + b64(sign(si))


def flip_sig(tok):
    h, p, s = tok.split(".")
    raw = bytearray(ub64(s))
    raw[len(raw) // 2] ^= 0x01
    return h + "." + p + "." + b64(bytes(raw))


def main(out):
    tmp = tempfile.mkdtemp()
    rsa = genpkey(tmp, "rsa", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048")
    rsa2 = genpkey(tmp, "rsa2", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048")
    rsa1k = genpkey(tmp, "rsa1k", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:1024")
    p256 = genpkey(tmp, "p256", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256")
    p384 = genpkey(tmp, "p384", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-384")
    ed = genpkey(tmp, "ed", "-algorithm", "ED25519")
    ed_other = genpkey(tmp, "ed2", "-algorithm", "ED25519")
    secret = os.urandom(64)
    short = os.urandom(16)

    jwks = {"keys": [
        {"kty": "oct", "kid": "hmac", "k": b64(secret)},
        {"kty": "oct", "kid": "hs256only", "alg": "HS256", "k": b64(secret)},
        {"kty": "oct", "kid": "short", "k": b64(short)},
        public_jwk(rsa, kid="rsa", use="sig"),
        public_jwk(rsa2, kid="rsa2"),
        public_jwk(rsa, kid="rsa-enc", use="enc"),
        public_jwk(p256, kid="p256", alg="ES256"),
        public_jwk(p384, kid="p384"),
        public_jwk(ed, kid="ed"),
        # Unsupported but harmless: must be skipped, not fail the set.
        {"kty": "OKP", "crv": "X25519", "kid": "x25519",
         "x": "hSDwCYkwp1R0i33ctD73Wg2_Og0mOBr066SpjqqbTmo"},
    ]}
    keys = {"HS": (secret, "hmac"), "RS": (rsa, "rsa"), "PS": (rsa, "rsa"),
            "ES256": (p256, "p256"), "ES384": (p384, "p384"), "EdDSA": (ed, "ed")}
    algs = ["HS256", "HS384", "HS512", "RS256", "RS384", "RS512", "PS256", "PS384",
            "PS512", "ES256", "ES384", "EdDSA"]

    def key_for(alg):
        return keys.get(alg) or keys[alg[:2]]

    def pyjwt_tok(alg, c=None, kid="default", headers=None, key=None):
        k, default_kid = key_for(alg)
        h = dict(headers or {})
        if kid == "default":
            kid = default_kid
        if kid is not None:
            h["kid"] = kid
        return pyjwt.encode(c or claims(), key if key is not None else k, algorithm=alg, headers=h)

    def jwcrypto_tok(alg):
        k, kid = key_for(alg)
        if isinstance(k, bytes):
            jk = jc_jwk.JWK(kty="oct", k=b64(k))
        else:
            jk = jc_jwk.JWK.from_pem(k.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption()))
        s = jc_jws.JWS(json.dumps(claims(sub="jwcrypto")).encode())
        s.add_signature(jk, None, json.dumps({"alg": alg, "kid": kid}), None)
        return s.serialize(compact=True)

    hs = lambda si: hmac.new(secret, si, hashlib.sha256).digest()
    cases = []

    def case(name, token, expect, **kw):
        cases.append({"name": name, "token": token, "expect": expect, **kw})

    for alg in algs:
        case("pyjwt_" + alg, pyjwt_tok(alg), "JWT_OK", sub="user-42")
        case("pyjwt_nokid_" + alg, pyjwt_tok(alg, kid=None), "JWT_OK", sub="user-42")
        case("jwcrypto_" + alg, jwcrypto_tok(alg), "JWT_OK", sub="jwcrypto")
    case("nokid_second_rsa_key", pyjwt_tok("RS256", kid=None, key=rsa2), "JWT_OK")

    # Algorithm refusals.
    case("alg_none", pyjwt.encode(claims(), None, algorithm=None), "JWT_ERR_ALG")
    case("alg_None_case", manual({"alg": "None"}, claims(), lambda si: b""), "JWT_ERR_ALG")
    case("alg_unknown", manual({"alg": "HS1024", "kid": "hmac"}, claims(), hs), "JWT_ERR_ALG")
    case("alg_not_allowed", pyjwt_tok("HS384"), "JWT_ERR_ALG",
         policy={"algs": "RS256 ES256 EdDSA HS256"})
    case("alg_not_string", manual({"alg": 256}, claims(), hs), "JWT_ERR_MALFORMED")
    # The classic confusion: HS256 keyed with the RSA public key's PEM bytes.
    # PyJWT refuses to do it, so sign by hand.
    conf = lambda si: hmac.new(pub_pem(rsa), si, hashlib.sha256).digest()
    case("hs256_with_rsa_pubkey_kid", manual({"alg": "HS256", "kid": "rsa"}, claims(), conf),
         "JWT_ERR_KEY_MISMATCH")
    case("hs256_with_rsa_pubkey_pemset", manual({"alg": "HS256"}, claims(), conf),
         "JWT_ERR_KEY_MISMATCH", keys="rsa_pub.pem")
    case("es256_on_p384_key", pyjwt_tok("ES256", kid="p384"), "JWT_ERR_KEY_MISMATCH")
    case("rs256_on_ec_key", pyjwt_tok("RS256", kid="p256"), "JWT_ERR_KEY_MISMATCH")
    case("es384_on_key_alg_es256", pyjwt_tok("ES384", kid="p256", key=p256), "JWT_ERR_KEY_MISMATCH")
    case("hs512_on_key_alg_hs256", pyjwt_tok("HS512", kid="hs256only"), "JWT_ERR_KEY_MISMATCH")
    case("hs256_on_key_alg_hs256", pyjwt_tok("HS256", kid="hs256only"), "JWT_OK")
    case("hs256_short_secret", pyjwt_tok("HS256", kid="short", key=short), "JWT_ERR_KEY_MISMATCH")
    case("rs256_on_use_enc_key", pyjwt_tok("RS256", kid="rsa-enc"), "JWT_ERR_KEY_MISMATCH")
    case("kid_unknown", pyjwt_tok("RS256", kid="nope"), "JWT_ERR_KID_UNKNOWN")
    case("kid_not_string", manual({"alg": "HS256", "kid": 7}, claims(), hs), "JWT_ERR_MALFORMED")
    case("jku_ignored", pyjwt_tok("HS256", headers={"jku": "https://evil.example/jwks"}), "JWT_OK")
    case("crit_refused", manual({"alg": "HS256", "kid": "hmac", "crit": ["exp"], "exp": 1}, claims(), hs),
         "JWT_ERR_MALFORMED")

    # Signatures.
    for alg in ["HS256", "RS256", "PS256", "ES256", "ES384", "EdDSA"]:
        case("flipped_sig_" + alg, flip_sig(pyjwt_tok(alg)), "JWT_ERR_SIGNATURE")
    case("eddsa_other_key", pyjwt_tok("EdDSA", kid=None, key=ed_other), "JWT_ERR_SIGNATURE")
    der = lambda si: p256.sign(si, ec.ECDSA(hashes.SHA256()))
    case("es256_der_signature", manual({"alg": "ES256", "kid": "p256"}, claims(), der), "JWT_ERR_SIGNATURE")
    case("empty_signature", pyjwt_tok("RS256").rsplit(".", 1)[0] + ".", "JWT_ERR_SIGNATURE")

    # Time.
    case("exp_past", pyjwt_tok("HS256", claims(exp=NOW - 31)), "JWT_ERR_EXPIRED")
    case("exp_within_leeway", pyjwt_tok("HS256", claims(exp=NOW - 29)), "JWT_OK")
    case("exp_now_no_leeway", pyjwt_tok("HS256", claims(exp=NOW)), "JWT_ERR_EXPIRED",
         policy={"leeway": 0})
    case("exp_fraction", manual({"alg": "HS256", "kid": "hmac"}, claims(exp=NOW + 1.5), hs), "JWT_OK",
         policy={"leeway": 0})
    case("exp_fraction_floored", manual({"alg": "HS256", "kid": "hmac"}, claims(exp=NOW + 0.5), hs),
         "JWT_ERR_EXPIRED", policy={"leeway": 0})
    case("exp_string", manual({"alg": "HS256", "kid": "hmac"}, claims(exp=str(NOW + 100)), hs),
         "JWT_ERR_MALFORMED")
    case("exp_missing", pyjwt_tok("HS256", claims(exp=None)), "JWT_ERR_CLAIM_MISSING")
    case("exp_missing_not_required", pyjwt_tok("HS256", claims(exp=None)), "JWT_OK",
         policy={"require_exp": False})
    case("exp_huge", manual({"alg": "HS256", "kid": "hmac"}, claims(exp=1e300), hs), "JWT_OK")
    case("nbf_future", pyjwt_tok("HS256", claims(nbf=NOW + 31)), "JWT_ERR_NOT_YET")
    case("nbf_within_leeway", pyjwt_tok("HS256", claims(nbf=NOW + 29)), "JWT_OK")
    case("iat_future", pyjwt_tok("HS256", claims(iat=NOW + 120)), "JWT_ERR_NOT_YET")

    # Issuer and audience.
    case("iss_wrong", pyjwt_tok("HS256", claims(iss="https://evil.example/")), "JWT_ERR_ISSUER")
    case("iss_no_slash", pyjwt_tok("HS256", claims(iss="https://id.example.com")), "JWT_ERR_ISSUER")
    case("iss_missing", pyjwt_tok("HS256", claims(iss=None)), "JWT_ERR_ISSUER")
    case("aud_wrong", pyjwt_tok("HS256", claims(aud="other")), "JWT_ERR_AUDIENCE")
    case("aud_missing", pyjwt_tok("HS256", claims(aud=None)), "JWT_ERR_AUDIENCE")
    case("aud_array", pyjwt_tok("HS256", claims(aud=["x", "api"])), "JWT_OK")
    case("aud_array_without", pyjwt_tok("HS256", claims(aud=["x", "apix"])), "JWT_ERR_AUDIENCE")
    case("aud_unchecked", pyjwt_tok("HS256", claims(aud="other")), "JWT_OK", policy={"aud": None})

    # Malformed framing and JSON.
    good = pyjwt_tok("HS256")
    h, p, s = good.split(".")
    case("padding", h + "." + p + "=." + s, "JWT_ERR_MALFORMED")
    case("padding_sig", good + "=", "JWT_ERR_MALFORMED")
    case("plus_char", h + "." + p + "." + s.replace(s[0], "+", 1), "JWT_ERR_MALFORMED")
    case("slash_char", h + "." + p + "." + s.replace(s[0], "/", 1), "JWT_ERR_MALFORMED")
    case("space_char", h + ". " + p + "." + s, "JWT_ERR_MALFORMED")
    case("noncanonical_bits", h[:-1] + chr(ord(h[-1]) + 1) + "." + p + "." + s, "JWT_ERR_MALFORMED")
    case("two_parts", h + "." + p, "JWT_ERR_MALFORMED")
    case("four_parts", good + ".", "JWT_ERR_MALFORMED")
    case("jwe_five_parts", h + ".." + p + "." + s + ".x", "JWT_ERR_MALFORMED")
    case("empty", "", "JWT_ERR_MALFORMED")
    case("dots_only", "..", "JWT_ERR_MALFORMED")
    case("header_not_json", manual(b"not json", claims(), hs), "JWT_ERR_MALFORMED")
    case("header_array", manual(b'["alg","HS256"]', claims(), hs), "JWT_ERR_MALFORMED")
    case("header_dup_alg", manual(b'{"alg":"HS256","kid":"hmac","alg":"none"}', claims(), hs),
         "JWT_ERR_MALFORMED")
    case("payload_not_json", manual({"alg": "HS256", "kid": "hmac"}, b"{\"sub\":", hs), "JWT_ERR_MALFORMED")
    case("payload_array", manual({"alg": "HS256", "kid": "hmac"}, b"[1,2]", hs), "JWT_ERR_MALFORMED")
    case("payload_dup_exp", manual({"alg": "HS256", "kid": "hmac"},
         ('{"iss":"%s","aud":"api","exp":1,"exp":%d}' % (ISS, NOW + 99)).encode(), hs), "JWT_ERR_MALFORMED")
    case("payload_nul", manual({"alg": "HS256", "kid": "hmac"},
         ('{"iss":"%s","aud":"api","exp":%d,"sub":"a\\u0000b"}' % (ISS, NOW + 99)).encode(), hs),
         "JWT_ERR_MALFORMED")
    case("oversized", pyjwt_tok("HS256", claims(pad="x" * 9000)), "JWT_ERR_TOO_LARGE")
    case("max_len_policy", pyjwt_tok("HS256"), "JWT_ERR_TOO_LARGE", policy={"max_len": 64})

    # Claim helpers: read back on success by the C test.
    case("claims_for_helpers", pyjwt_tok("HS256", claims(
        scp=["admin", "ops"], roles=["a", "b"], tenant=7, beta=True,
        crlf="x\r\nInjected: 1")), "JWT_OK", sub="user-42")

    os.makedirs(out, exist_ok=True)
    with open(os.path.join(out, "jwks.json"), "w") as f:
        json.dump(jwks, f, indent=1)
    with open(os.path.join(out, "cases.json"), "w") as f:
        json.dump({"now": NOW, "iss": ISS, "aud": AUD, "leeway": 30, "cases": cases}, f, indent=1)
    for name, key in [("rsa_pub", rsa), ("ec_p256_pub", p256), ("ec_p384_pub", p384),
                      ("ed25519_pub", ed), ("rsa1024_pub", rsa1k)]:
        with open(os.path.join(out, name + ".pem"), "wb") as f:
            f.write(pub_pem(key))
    with open(os.path.join(out, "rsa1024.jwk.json"), "w") as f:
        json.dump({"keys": [public_jwk(rsa1k, kid="small")]}, f)
    print("%d cases in %s" % (len(cases), out))


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "vectors"))
