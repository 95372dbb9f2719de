"""Schemathesis hooks for scripts/api-contract.sh: signs the seed-004 (regex purge) requests.

Seed 004 authenticates each request with HTTP Basic, the password being
base64(HMAC-SHA1(API key, Date header)), so no static header can do; this provider signs every
request of those operations with a fresh Date. PURGER_ST_SEED004_USER and PURGER_ST_SEED004_KEY
name the user and the key.
"""

import base64
import hashlib
import hmac
import os
from email.utils import formatdate

import schemathesis


@schemathesis.auth().apply_to(path_regex="^/api/content/regular-url/")
class Seed004Signature:
    """A fresh `Date` and its signature on every seed-004 request."""

    def get(self, case, ctx):
        return (os.environ["PURGER_ST_SEED004_USER"], os.environ["PURGER_ST_SEED004_KEY"])

    def set(self, case, data, ctx):
        user, key = data
        date = formatdate(usegmt=True)
        digest = hmac.new(key.encode(), date.encode(), hashlib.sha1).digest()
        password = base64.b64encode(digest).decode()
        basic = base64.b64encode(f"{user}:{password}".encode()).decode()
        case.headers = case.headers or {}
        case.headers["Date"] = date
        case.headers["Authorization"] = f"Basic {basic}"
