#!/usr/bin/env python3
"""Tests of examples/partner_client.py against a scripted stand-in server (standard library):
it must pace itself by the `RateLimit` field, wait `retry_after_ms` on 429, create a new
session on 401 and go on where it was,
follow `_links.next` to the last page, and end its (newest) session even when a call fails.

    python3 examples/test_partner_client.py
"""
import http.server
import json
import pathlib
import sys
import threading
import time
import unittest

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
import partner_client  # noqa: E402


class Script:
    """What the stand-in server answers, and what it was asked."""

    def __init__(self):
        self.requests = []
        self.sessions = 0
        self.pages_refused = set()
        self.fail_page = None
        self.rate_limit = None


def handler_for(script):
    class Handler(http.server.BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def answer(self, status, body):
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            if script.rate_limit and self.command == "GET":
                self.send_header("RateLimit-Policy", '"session";q=1;w=1')
                self.send_header("RateLimit", script.rate_limit)
            self.end_headers()
            self.wfile.write(data)

        def do_POST(self):
            length = int(self.headers.get("Content-Length", 0))
            json.loads(self.rfile.read(length))
            script.requests.append(("POST", self.path, None, time.monotonic()))
            script.sessions += 1
            token = f"pps_token{script.sessions}"
            self.answer(201, {"_data": [{"session_token": token, "expires_at": "2026-11-24T12:00:00Z",
                                         "scopes": ["me:read"]}], "_links": {}, "_meta": {"request_id": "r"}})

        def do_DELETE(self):
            script.requests.append(("DELETE", self.path, self.headers.get("Authorization"), time.monotonic()))
            self.answer(200, {"_data": [], "_links": {}, "_meta": {"request_id": "r"}})

        def do_GET(self):
            token = self.headers.get("Authorization")
            script.requests.append(("GET", self.path, token, time.monotonic()))
            page = int(self.path.rsplit("page=", 1)[1]) if "page=" in self.path else 1
            if page == script.fail_page:
                return self.answer(500, {"status_code": 500, "additional_info": {"error_code": 10100, "detail": "x"},
                                         "_meta": {"request_id": "r"}})
            if page == 2 and ("429", page) not in script.pages_refused:
                script.pages_refused.add(("429", page))
                return self.answer(429, {"status_code": 429, "retry_after_ms": 300,
                                         "additional_info": {"error_code": 12002, "detail": "slow down"},
                                         "_meta": {"request_id": "r"}})
            if page == 3 and token == "Session pps_token1":
                return self.answer(401, {"status_code": 401, "additional_info": {"error_code": 11001, "detail": "ended"},
                                         "_meta": {"request_id": "r"}})
            links = {"self": {"href": f"{base(self)}/v1/items?page={page}"}}
            if page < 4:
                links["next"] = {"href": f"{base(self)}/v1/items?page={page + 1}"}
            self.answer(200, {"_data": [{"id": f"{page}-{i}"} for i in range(2)], "_links": links,
                              "_meta": {"request_id": "r", "offset": (page - 1) * 2, "total": 8}})

    def base(handler):
        return f"http://127.0.0.1:{handler.server.server_address[1]}"

    return Handler


class PartnerClientTest(unittest.TestCase):
    def setUp(self):
        self.script = Script()
        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler_for(self.script))
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.client = partner_client.PortalClient(url, "hsp_org_x", "hsp_x")

    def tearDown(self):
        self.server.shutdown()
        self.server.server_close()

    def test_walks_every_page_waiting_on_429_and_renewing_on_401(self):
        items = [item["id"] for item in partner_client.run(self.client, "/v1/items?page=1")]
        self.assertEqual(items, [f"{page}-{i}" for page in range(1, 5) for i in range(2)])
        calls = [(method, path.split("?")[-1], token) for method, path, token, _ in self.script.requests]
        self.assertEqual(calls, [
            ("POST", "/v1/auth/session", None),
            ("GET", "page=1", "Session pps_token1"),
            ("GET", "page=2", "Session pps_token1"),   # 429
            ("GET", "page=2", "Session pps_token1"),
            ("GET", "page=3", "Session pps_token1"),   # 401: the session ended
            ("POST", "/v1/auth/session", None),
            ("GET", "page=3", "Session pps_token2"),
            ("GET", "page=4", "Session pps_token2"),
            ("DELETE", "/v1/auth/session", "Session pps_token2"),
        ])
        refused, retried = self.script.requests[2][3], self.script.requests[3][3]
        self.assertGreaterEqual(retried - refused, 0.3, "waited retry_after_ms before retrying")

    def test_waits_as_the_ratelimit_field_says_before_the_next_request(self):
        self.script.rate_limit = '"session";r=0;t=1'
        items = list(partner_client.run(self.client, "/v1/items?page=1"))
        self.assertEqual(len(items), 8)
        gets = [at for method, _, _, at in self.script.requests if method == "GET"]
        gaps = [later - earlier for earlier, later in zip(gets, gets[1:])]
        self.assertTrue(all(gap >= 0.95 for gap in gaps), gaps)

    def test_reads_the_ratelimit_field(self):
        self.assertEqual(partner_client.rate_limit_wait('"session";r=0;t=1'), 1)
        self.assertEqual(partner_client.rate_limit_wait('"session";r=0;t=3'), 3)
        self.assertEqual(partner_client.rate_limit_wait('"session";r=4;t=3'), 0)
        self.assertEqual(partner_client.rate_limit_wait(None), 0)
        self.assertEqual(partner_client.rate_limit_wait("garbage"), 0)

    def test_ends_its_session_when_a_call_fails(self):
        self.script.fail_page = 2
        with self.assertRaises(partner_client.ApiError) as failure:
            partner_client.run(self.client, "/v1/items?page=1")
        self.assertEqual(failure.exception.status, 500)
        self.assertEqual(self.script.requests[-1][:3], ("DELETE", "/v1/auth/session", "Session pps_token1"))


if __name__ == "__main__":
    unittest.main(verbosity=2)
