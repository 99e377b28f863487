"""Drives Python requests' HTTPDigestAuth (RFC 7616 client side) for test/interop.

Run with Debian's /usr/bin/python3 (python3-requests). Reads one JSON object on stdin:

    {"username": "...", "password": "...",
     "requests": [{"method": "GET", "url": "http://...", "body": "optional"}, ...]}

All requests go through ONE requests.Session with ONE HTTPDigestAuth, so the nonce of the first
challenge is reused with an incrementing nc. Prints one JSON object on stdout:

    {"requests_version": "...", "results": [{"status": 200, "body": "...",
      "authorization": "<Authorization header sent on the final attempt, or null>",
      "authentication_info": "<response header or null>",
      "www_authenticate": "<merged response header or null>",
      "history": [401, ...]}, ...]}
"""

import json
import sys

import requests
from requests.auth import HTTPDigestAuth


def main() -> int:
    spec = json.load(sys.stdin)
    session = requests.Session()
    session.trust_env = False  # no proxies or .netrc from the environment
    session.auth = HTTPDigestAuth(spec["username"], spec["password"])
    results = []
    for item in spec["requests"]:
        response = session.request(
            item.get("method", "GET"),
            item["url"],
            data=item.get("body"),
            headers=item.get("headers"),
            timeout=10,
        )
        results.append(
            {
                "status": response.status_code,
                "body": response.text,
                "authorization": response.request.headers.get("Authorization"),
                "authentication_info": response.headers.get("Authentication-Info"),
                "www_authenticate": response.headers.get("WWW-Authenticate"),
                "history": [r.status_code for r in response.history],
            }
        )
    json.dump({"requests_version": requests.__version__, "results": results}, sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
