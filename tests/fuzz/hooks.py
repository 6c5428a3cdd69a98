"""Schemathesis hooks for the gateway's contract run: the credentials each operation's
security requirement names, taken the way real callers take them.

- backend: the demo requestor's API key (LINKGATE_BACKEND_KEY).
- app: an Adobe v2 app registered with a software statement the demo trusts
  (LINKGATE_APP_STATEMENT), then its client-credentials token from /o/client/token.
- device: the backend's credential, which every device call also takes on the device's
  behalf (a device's own token is only good for the one device a generated path names).

Operations whose requirements include an empty one (anyone) are called without a credential
half the time, so both sides of "anyone; once linked, the device" are exercised.
"""

import os
import random

import requests
import schemathesis

BACKEND_KEY = os.environ["LINKGATE_BACKEND_KEY"]
APP_STATEMENT = os.environ["LINKGATE_APP_STATEMENT"]
BASE_URL = os.environ["LINKGATE_BASE_URL"]
TIMEOUT = 10


def app_token():
    """Registers an app and takes its access token, as a v2 app does on first start."""
    registered = requests.post(
        f"{BASE_URL}/o/client/register",
        json={"software_statement": APP_STATEMENT},
        timeout=TIMEOUT,
    )
    registered.raise_for_status()
    client = registered.json()
    token = requests.post(
        f"{BASE_URL}/o/client/token",
        data={
            "grant_type": "client_credentials",
            "client_id": client["client_id"],
            "client_secret": client["client_secret"],
        },
        timeout=TIMEOUT,
    )
    token.raise_for_status()
    return token.json()["access_token"]


def schemes(case):
    """The scheme names of the operation's security requirements, in order."""
    requirements = case.operation.definition.raw.get("security") or []
    return [next(iter(r), "") for r in requirements]


@schemathesis.auth(refresh_interval=3600)
class Credentials:
    def get(self, case, ctx):
        return {"backend": BACKEND_KEY, "device": BACKEND_KEY, "app": app_token()}

    def set(self, case, data, ctx):
        names = schemes(case)
        if not names or ("" in names and random.random() < 0.5):
            return
        chosen = next((n for n in names if n in data), None)
        if chosen is None:
            return
        case.headers = case.headers or {}
        case.headers["Authorization"] = f"Bearer {data[chosen]}"
