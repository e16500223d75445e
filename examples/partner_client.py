#!/usr/bin/env python3
"""A partner's client of the Partner Portal API, using only the standard library.

It creates a session, walks every page of a collection through `_links.next`, paces itself
by the `RateLimit` header (no request left: wait `t` seconds before the next one), still
waits `retry_after_ms` whenever the API answers 429 (or 503), creates a new session when the
API answers 401 (the session expired or was ended by an admin), and always ends its session.

    python3 examples/partner_client.py                       # /v1/customers, 10 a page
    python3 examples/partner_client.py "/v1/accounts?limit=100"  # another collection

Without settings it talks to `make run` (http://127.0.0.1:3000) with the first key of
`.local/demo.json` (PORTAL_DEMO_FILE names another file). To talk to any deployment, set
PORTAL_URL, PORTAL_ORGANIZATION_KEY and PORTAL_API_KEY.
"""

import json
import os
import re
import pathlib
import sys
import time
import urllib.error
import urllib.request

# Give up instead of waiting longer than this for a retry (a full session cap can take up
# to an hour to free a slot).
MAX_WAIT_SECONDS = 60


def rate_limit_wait(header):
    """Seconds to wait before the next request, from a `RateLimit` field such as
    `"session";r=0;t=1` (IETF httpapi draft): `t` when no request is left (`r=0`), else 0."""
    if not header:
        return 0
    remaining = re.search(r";\s*r=(\d+)", header)
    reset = re.search(r";\s*t=(\d+)", header)
    if remaining and reset and int(remaining.group(1)) == 0:
        return int(reset.group(1))
    return 0


class ApiError(Exception):
    def __init__(self, status, body):
        info = body.get("additional_info", {}) if isinstance(body, dict) else {}
        super().__init__(f"{status} {info.get('error_code')}: {info.get('detail', body)}")
        self.status = status
        self.body = body


class PortalClient:
    def __init__(self, base_url, organization_key, api_key):
        self.base_url = base_url.rstrip("/")
        self.organization_key = organization_key
        self.api_key = api_key
        self.token = None
        # When the session's next request is allowed (time.monotonic()), from `RateLimit`.
        self.ready_at = 0.0

    def _send(self, method, url, body=None, authorized=True):
        """One HTTP exchange: (status, parsed JSON body)."""
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(url, data=data, method=method)
        request.add_header("Accept", "application/json")
        if data is not None:
            request.add_header("Content-Type", "application/json")
        if authorized and self.token:
            request.add_header("Authorization", f"Session {self.token}")
            time.sleep(max(0.0, self.ready_at - time.monotonic()))
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                self._pace(response.headers)
                return response.status, json.load(response)
        except urllib.error.HTTPError as error:
            self._pace(error.headers)
            text = error.read()
            try:
                return error.code, json.loads(text)
            except ValueError:
                return error.code, {"message": text.decode(errors="replace")}

    def _pace(self, headers):
        """Remembers when the session may send again, as its `RateLimit` field says."""
        wait = rate_limit_wait(headers.get("RateLimit") if headers else None)
        if wait:
            self.ready_at = time.monotonic() + wait

    def _with_retries(self, method, url, body=None, authorized=True):
        """Sends until the answer is not a 429/503, waiting as the API says."""
        while True:
            status, answer = self._send(method, url, body, authorized)
            if status not in (429, 503):
                return status, answer
            wait = answer.get("retry_after_ms", 1000) / 1000
            if wait > MAX_WAIT_SECONDS:
                raise ApiError(status, answer)
            print(f"  {status}: waiting {wait:.3f} s as retry_after_ms says", file=sys.stderr)
            time.sleep(wait)

    def start_session(self):
        status, answer = self._with_retries(
            "POST",
            f"{self.base_url}/v1/auth/session",
            {"organization_key": self.organization_key, "api_key": self.api_key},
            authorized=False,
        )
        if status != 201:
            raise ApiError(status, answer)
        session = answer["_data"][0]
        self.token = session["session_token"]
        for warning in answer["_meta"].get("warnings", []):
            print(f"  warning: {warning}", file=sys.stderr)
        print(f"session created, expires {session['expires_at']}, scopes {', '.join(session['scopes'])}")

    def end_session(self):
        if not self.token:
            return
        status, answer = self._send("DELETE", f"{self.base_url}/v1/auth/session")
        self.token = None
        # 401: it had already expired or been ended; nothing left to end.
        if status not in (200, 401):
            raise ApiError(status, answer)
        print("session ended")

    def get(self, url):
        """GET `url` (absolute), renewing the session once if it is no longer valid."""
        for attempt in range(2):
            status, answer = self._with_retries("GET", url)
            if status == 401 and attempt == 0:
                print("  401: the session ended; creating a new one", file=sys.stderr)
                self.token = None
                self.start_session()
                continue
            if status != 200:
                raise ApiError(status, answer)
            return answer
        raise ApiError(status, answer)

    def walk(self, path):
        """Every item of a collection, following `_links.next` page by page."""
        url = f"{self.base_url}{path}"
        page = 0
        while url:
            answer = self.get(url)
            page += 1
            meta = answer["_meta"]
            print(f"page {page}: {len(answer['_data'])} items (offset {meta.get('offset')}, total {meta.get('total', '?')})")
            yield from answer["_data"]
            url = answer["_links"].get("next", {}).get("href")


def settings():
    """(base URL, organization key, API key) from the environment or the local demo file."""
    url, organization_key, api_key = (
        os.environ.get("PORTAL_URL"),
        os.environ.get("PORTAL_ORGANIZATION_KEY"),
        os.environ.get("PORTAL_API_KEY"),
    )
    if url and organization_key and api_key:
        return url, organization_key, api_key
    if url or organization_key or api_key:
        sys.exit("set all of PORTAL_URL, PORTAL_ORGANIZATION_KEY and PORTAL_API_KEY, or none")
    root = pathlib.Path(__file__).resolve().parent.parent
    demo_file = pathlib.Path(os.environ.get("PORTAL_DEMO_FILE", root / ".local" / "demo.json"))
    try:
        demo = json.loads(demo_file.read_text())
    except OSError:
        sys.exit(f"{demo_file} not found: start the local server with `make run`, or set PORTAL_URL, PORTAL_ORGANIZATION_KEY and PORTAL_API_KEY")
    return demo["base_url"], demo["organization_key"], demo["keys"][0]["api_key"]


def run(client, path):
    """Creates a session, reads every item of `path`, and always ends the session."""
    client.start_session()
    try:
        items = list(client.walk(path))
        print(f"{len(items)} items in {path}")
        return items
    finally:
        client.end_session()


def main():
    path = sys.argv[1] if len(sys.argv) > 1 else "/v1/customers?limit=10"
    try:
        run(PortalClient(*settings()), path)
    except ApiError as error:
        sys.exit(f"{path}: {error}")


if __name__ == "__main__":
    main()
