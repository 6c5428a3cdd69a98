#!/usr/bin/env python3
"""A SAML 2.0 identity provider that is not ours, for the sign-in tests: pysaml2, signing
and encrypting through Debian's xmlsec1. It listens on 127.0.0.1 and prints its port as its
first line.

    idp.py KEY_DIR

    GET  /metadata   its metadata (entity ID, signing certificate, single sign-on URL)
    PUT  /sp         the service provider's metadata it trusts from now on
    GET  /sso        takes an AuthnRequest on the HTTP-Redirect binding and answers with
                     the auto-posting form of the HTTP-POST binding, as the user `user`

What a test asks of the answer, as further query parameters of /sso (a real provider would
not take these; a test stands for a provider that misbehaves or is impersonated):
    sign_assertion=0|1 (1)  sign_response=0|1 (0)  encrypt=0|1 (0)
    audience=URI   the assertion is for another service provider
    age=SECONDS    the answer was made that long ago (negative: not yet valid)
    in_response_to=ID  it answers another request
    issuer=URI     another provider says it made the answer (signed with this one's key)
    destination=URI  the answer is addressed to another service provider's endpoint
    status=CODE    a signed error answer with the SAML status CODE (e.g. AuthnFailed), no assertion
    user=nouid     a user without the uid attribute the gateway names users by
    want_signed=1  (on PUT /sp) AuthnRequests must be signed from now on
    no_keys=1      (on GET /metadata) the metadata names no certificate
"""

import datetime as _datetime
import functools
import html
import os
import re
import subprocess
import sys
import time as _time
import urllib.parse
from http.server import BaseHTTPRequestHandler, HTTPServer

import saml2.entity
import saml2.time_util
from saml2 import BINDING_HTTP_POST, BINDING_HTTP_REDIRECT
from saml2.authn_context import PASSWORD
from saml2.config import IdPConfig
from saml2.metadata import create_metadata_string
from saml2.saml import NAME_FORMAT_URI, NAMEID_FORMAT_PERSISTENT, NameID
from saml2.server import Server
from saml2.sigver import pre_encryption_part
from saml2.xmldsig import DIGEST_SHA256, SIG_RSA_SHA256

AES128_CBC = "http://www.w3.org/2001/04/xmlenc#aes128-cbc"

USERS = {
    "alice": {"uid": ["alice"], "mail": ["alice@example.test"], "displayName": ["Alice"]},
    "mallory": {"uid": ["mallory"], "mail": ["mallory@example.test"], "displayName": ["Mallory"]},
    "nouid": {"mail": ["nouid@example.test"], "displayName": ["No UID"]},
}


class Clock:
    """pysaml2 reads the time through its time_util module: shifting what that module sees
    back makes an answer that was issued in the past."""

    offset = 0

    class time:
        def __getattr__(self, name):
            return getattr(_time, name)

        def time(self):
            return _time.time() - Clock.offset

        def gmtime(self, seconds=None):
            return _time.gmtime(self.time() if seconds is None else seconds)

    class datetime(_datetime.datetime):
        @classmethod
        def now(cls, tz=None):
            return _datetime.datetime.now(tz) - _datetime.timedelta(seconds=Clock.offset)


saml2.time_util.time = Clock.time()
saml2.time_util.datetime = Clock.datetime


def keys(key_dir):
    key, cert = os.path.join(key_dir, "idp.key"), os.path.join(key_dir, "idp.crt")
    if not os.path.exists(cert):
        subprocess.run(
            ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-sha256", "-days", "2",
             "-subj", "/CN=saml-idp.test", "-keyout", key, "-out", cert],
            check=True, capture_output=True)
    return key, cert


def server(base, key, cert, sp_metadata=None, want_signed=False):
    config = {
        "entityid": f"{base}/metadata",
        "service": {
            "idp": {
                "name": "Test SAML provider",
                "endpoints": {
                    "single_sign_on_service": [(f"{base}/sso", BINDING_HTTP_REDIRECT)],
                },
                "name_id_format": [NAMEID_FORMAT_PERSISTENT],
                "want_authn_requests_signed": want_signed,
                "policy": {"default": {"lifetime": {"minutes": 5}, "name_form": NAME_FORMAT_URI}},
            },
        },
        "key_file": key,
        "cert_file": cert,
        "metadata": {"local": [sp_metadata]} if sp_metadata else {},
        "xmlsec_binary": "/usr/bin/xmlsec1",
        "delete_tmpfiles": True,
    }
    loaded = IdPConfig()
    loaded.load(config)
    return Server(config=loaded)


def answer(idp, request, query):
    """The Response to `request`, as the query's knobs shape it."""
    args = idp.response_args(request.message, [BINDING_HTTP_POST])
    user = query.get("user", "alice")
    sp = args["sp_entity_id"]
    encrypt = query.get("encrypt") == "1"
    if encrypt:
        # pysaml2 encrypts with 3DES by default; AES-128 is what service providers take.
        saml2.entity.pre_encryption_part = functools.partial(pre_encryption_part, msg_enc=AES128_CBC)
        crypto = idp.sec.crypto
        plain = type(crypto).encrypt_assertion
        crypto.encrypt_assertion = (
            lambda statement, key, template, key_type=None, node_xpath=None, node_id=None:
            plain(crypto, statement, key, template, key_type="aes-128", node_xpath=node_xpath, node_id=node_id))
    if "status" in query:
        code = f"urn:oasis:names:tc:SAML:2.0:status:{query['status']}"
        response = idp.create_error_response(args["in_response_to"], args["destination"], (code, "refused"),
                                             sign=True, sign_alg=SIG_RSA_SHA256, digest_alg=DIGEST_SHA256)
        return args["destination"], str(response)
    Clock.offset = int(query.get("age", "0"))
    try:
        response = idp.create_authn_response(
            identity=USERS[user],
            in_response_to=query.get("in_response_to", args["in_response_to"]),
            destination=query.get("destination", args["destination"]),
            sp_entity_id=query.get("audience", sp),
            issuer=query.get("issuer"),
            name_id=NameID(format=NAMEID_FORMAT_PERSISTENT, sp_name_qualifier=sp, text=f"{user}-nameid"),
            userid=user,
            authn={"class_ref": PASSWORD, "authn_auth": idp.config.entityid},
            sign_assertion=query.get("sign_assertion", "1") == "1",
            sign_response=query.get("sign_response", "0") == "1",
            encrypt_assertion=encrypt,
            encrypt_cert_assertion=sp_certificate(idp, sp) if encrypt else None,
            sign_alg=SIG_RSA_SHA256,
            digest_alg=DIGEST_SHA256,
        )
    finally:
        Clock.offset = 0
    return args["destination"], str(response)


def sp_certificate(idp, sp):
    certs = idp.metadata.certs(sp, "spsso", "encryption")
    pem = certs[0][1]
    return pem if pem.startswith("-----") else f"-----BEGIN CERTIFICATE-----\n{pem}\n-----END CERTIFICATE-----\n"


class Handler(BaseHTTPRequestHandler):
    def send(self, status, content_type, body):
        data = body.encode()
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        url = urllib.parse.urlsplit(self.path)
        query = dict(urllib.parse.parse_qsl(url.query))
        state = self.server.state
        try:
            if url.path == "/metadata":
                md = create_metadata_string(None, config=state["idp"].config, valid=48)
                md = md.decode() if isinstance(md, bytes) else md
                if query.get("no_keys") == "1":
                    md = re.sub(r"<(\w+:)?KeyDescriptor.*?</(\w+:)?KeyDescriptor>", "", md, flags=re.S)
                return self.send(200, "application/samlmetadata+xml", md)
            if url.path == "/sso":
                idp = state["idp"]
                # With want_signed, pysaml2 checks the signature against the SP's certificate.
                request = idp.parse_authn_request(query["SAMLRequest"], BINDING_HTTP_REDIRECT,
                                                  relay_state=query.get("RelayState"),
                                                  sigalg=query.get("SigAlg"),
                                                  signature=query.get("Signature"))
                acs, response = answer(idp, request, query)
                http = idp.apply_binding(BINDING_HTTP_POST, response, acs, query.get("RelayState", ""),
                                         response=True)
                return self.send(200, "text/html", http["data"])
            return self.send(404, "text/plain", "not found\n")
        except Exception as e:  # a test provider: say what went wrong
            print(f"idp: {e!r}", file=sys.stderr)
            return self.send(400, "text/plain", f"refused: {e!r}\n")

    def do_PUT(self):
        url = urllib.parse.urlsplit(self.path)
        if url.path != "/sp":
            return self.send(404, "text/plain", "not found\n")
        body = self.rfile.read(int(self.headers["Content-Length"]))
        state = self.server.state
        with open(state["sp_metadata"], "wb") as f:
            f.write(body)
        state["want_signed"] = dict(urllib.parse.parse_qsl(url.query)).get("want_signed") == "1"
        state["idp"] = server(state["base"], *state["keys"], state["sp_metadata"], state["want_signed"])
        return self.send(204, "text/plain", "")

    def log_message(self, fmt, *args):
        pass


def main():
    key_dir = sys.argv[1]
    httpd = HTTPServer(("127.0.0.1", 0), Handler)
    base = f"http://127.0.0.1:{httpd.server_address[1]}"
    pair = keys(key_dir)
    httpd.state = {
        "base": base,
        "keys": pair,
        "sp_metadata": os.path.join(key_dir, "sp-metadata.xml"),
        "want_signed": False,
        "idp": server(base, *pair),
    }
    print(httpd.server_address[1], flush=True)
    httpd.serve_forever()


if __name__ == "__main__":
    main()
