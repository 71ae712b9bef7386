"""Keys, a JWKS and bearer tokens for the jwt profile, made with the
openssl command line only (bench/compare runs under any python3, which may
not have PyJWT): an RSA 2048 key (RS256) and an Ed25519 key (EdDSA), the
JWKS gatewayd reads, the RSA public key PEM HAProxy's jwt_verify reads, and
one token per algorithm valid for a day."""
import base64
import json
import os
import subprocess
import time

ISS = "https://id.example.com/"
AUD = "bench"


def _b64(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


def _openssl(*args, data=None):
    return subprocess.run(["openssl", *args], input=data, check=True,
                          capture_output=True, timeout=60).stdout


def _sign(alg, key, signing_input, tmp):
    if alg == "RS256":
        return _openssl("dgst", "-sha256", "-sign", key, data=signing_input)
    # Ed25519 signs the message itself (no digest): pkeyutl -rawin.
    path = os.path.join(tmp, "signing-input")
    with open(path, "wb") as f:
        f.write(signing_input)
    return _openssl("pkeyutl", "-sign", "-inkey", key, "-rawin", "-in", path)


def token(alg, kid, key, tmp, sub="bench"):
    now = int(time.time())
    head = _b64(json.dumps({"alg": alg, "typ": "JWT", "kid": kid}).encode())
    body = _b64(json.dumps({"iss": ISS, "aud": AUD, "sub": sub, "iat": now - 60,
                            "exp": now + 86400}).encode())
    signing_input = f"{head}.{body}".encode()
    return f"{head}.{body}.{_b64(_sign(alg, key, signing_input, tmp))}"


def make(tmp):
    """Everything under tmp/jwt/: returns {"jwks", "rsa_pub", "tokens": {alg: token}}."""
    d = os.path.join(tmp, "jwt")
    os.makedirs(d, exist_ok=True)
    rsa, ed = os.path.join(d, "rsa.pem"), os.path.join(d, "ed.pem")
    rsa_pub = os.path.join(d, "rsa-pub.pem")
    _openssl("genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out", rsa)
    _openssl("genpkey", "-algorithm", "ED25519", "-out", ed)
    _openssl("pkey", "-in", rsa, "-pubout", "-out", rsa_pub)
    modulus = _openssl("rsa", "-in", rsa, "-noout", "-modulus").decode().strip().split("=", 1)[1]
    ed_der = _openssl("pkey", "-in", ed, "-pubout", "-outform", "DER")
    jwks = {"keys": [
        {"kty": "RSA", "kid": "rsa", "alg": "RS256", "use": "sig",
         "n": _b64(bytes.fromhex(modulus)), "e": "AQAB"},
        {"kty": "OKP", "crv": "Ed25519", "kid": "ed", "alg": "EdDSA", "use": "sig",
         "x": _b64(ed_der[-32:])},
    ]}
    path = os.path.join(d, "jwks.json")
    with open(path, "w") as f:
        json.dump(jwks, f)
    return {"jwks": path, "rsa_pub": rsa_pub,
            "tokens": {"RS256": token("RS256", "rsa", rsa, d),
                       "EdDSA": token("EdDSA", "ed", ed, d)}}
