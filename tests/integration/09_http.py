"""HTTP on a `protocol websockets` listener with `http_dir`: static files with their
content types and Cache-Control, precompressed .gz files, path traversal refused,
404/405, GET /healthz, HEAD, keep-alive. Raw sockets: what the server sent is checked
byte for byte, and nothing normalises the request paths on the way.

Run: NATTER_SERVER=... /usr/bin/python3 -m unittest -v 09_http
"""

import gzip
import importlib
import os
import select
import socket
import time
import unittest

from harness import HOST, WAIT, natter_only

support = importlib.import_module("09_support")

INDEX = b"<!doctype html><title>natter</title><p>index</p>\n"
APP_JS = b"console.log('app');\n"
HASHED_JS = b"export const x = 1;\n" * 200  # big enough that gzip matters
STYLE = b"body { color: black; }\n"
SUB_INDEX = b"<!doctype html><p>sub</p>\n"
SECRET_OUTSIDE = b"TOP-SECRET-OUTSIDE-HTTP-DIR"
SECRET_HIDDEN = b"TOP-SECRET-HIDDEN-FILE"


class Response:
    def __init__(self, status, reason, headers, body):
        self.status, self.reason, self.headers, self.body = status, reason, headers, body

    def __repr__(self):
        return f"<{self.status} {self.reason} {self.headers} {self.body[:80]!r}>"


class HttpConnection:
    """One TCP connection; requests are written as given, responses read by Content-Length."""

    def __init__(self, port):
        self.sock = socket.create_connection((HOST, port), timeout=WAIT)
        self.buf = b""

    def request(self, method, target, headers=(), body=b"", version="HTTP/1.1"):
        lines = [f"{method} {target} {version}", f"Host: {HOST}"] + list(headers)
        if body:
            lines.append(f"Content-Length: {len(body)}")
        self.sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode() + body)
        return self.response(head_only=method == "HEAD")

    def _more(self, deadline):
        remaining = deadline - time.monotonic()
        r, _, _ = select.select([self.sock], [], [], max(0.0, remaining))
        if not r:
            raise AssertionError(f"no complete HTTP response within {WAIT}s: {self.buf!r}")
        try:
            chunk = self.sock.recv(65536)
        except ConnectionResetError:
            chunk = b""
        if not chunk:
            return False
        self.buf += chunk
        return True

    def response(self, head_only=False):
        deadline = time.monotonic() + WAIT
        while b"\r\n\r\n" not in self.buf:
            if not self._more(deadline):
                raise AssertionError(f"connection closed before a response: {self.buf!r}")
        head, self.buf = self.buf.split(b"\r\n\r\n", 1)
        lines = head.decode("latin-1").split("\r\n")
        _, status, reason = (lines[0].split(" ", 2) + [""])[:3]
        headers = {}
        for line in lines[1:]:
            k, _, v = line.partition(":")
            headers[k.strip().lower()] = v.strip()
        length = 0 if head_only else int(headers.get("content-length", "0"))
        self.assertFalse_chunked(headers)
        while len(self.buf) < length:
            if not self._more(deadline):
                break
        body, self.buf = self.buf[:length], self.buf[length:]
        return Response(int(status), reason, headers, body)

    @staticmethod
    def assertFalse_chunked(headers):
        if "chunked" in headers.get("transfer-encoding", ""):
            raise AssertionError("chunked responses are not expected from a static file server")

    def is_closed(self, timeout=WAIT):
        """True once the server closes; False if still open after timeout."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            r, _, _ = select.select([self.sock], [], [], max(0.0, deadline - time.monotonic()))
            if not r:
                return False
            try:
                chunk = self.sock.recv(65536)
            except ConnectionResetError:
                return True
            if not chunk:
                return True
            self.buf += chunk
        return False

    def close(self):
        self.sock.close()


class HttpTest(support.ListenerTest):
    broker_ports = ("ws",)
    broker_config = ["listener {ws} 127.0.0.1", "protocol websockets", "http_dir {dir}/www"]

    def prepare_broker(self, broker):
        www = os.path.join(broker.dir, "www")
        files = {
            "index.html": INDEX,
            "app.js": APP_JS,
            "style.css": STYLE,
            "data.json": b'{"a": 1}\n',
            "logo.svg": b"<svg xmlns='http://www.w3.org/2000/svg'/>\n",
            "assets/app-3f2a9c1b.js": HASHED_JS,
            "assets/app-3f2a9c1b.js.gz": gzip.compress(HASHED_JS),
            "sub/index.html": SUB_INDEX,
            ".secret": SECRET_HIDDEN,
            "assets/.hidden.js": SECRET_HIDDEN,
        }
        for name, data in files.items():
            path = os.path.join(www, name)
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(path, "wb") as f:
                f.write(data)
        with open(os.path.join(broker.dir, "secret.txt"), "wb") as f:
            f.write(SECRET_OUTSIDE)
        for root, dirs, names in os.walk(broker.dir):
            for d in dirs:
                os.chmod(os.path.join(root, d), 0o755)
            for n in names:
                os.chmod(os.path.join(root, n), 0o644)

    def conn(self):
        c = HttpConnection(self.broker.ports["ws"])
        self.addCleanup(c.close)
        return c

    def get(self, target, headers=(), method="GET"):
        return self.conn().request(method, target, headers)

    def assertType(self, res, expected):
        self.assertEqual(res.headers.get("content-type", "").split(";")[0].strip(), expected, res)

    def test_index(self):
        for target in ("/", "/index.html"):
            with self.subTest(target=target):
                res = self.get(target)
                self.assertEqual(res.status, 200, res)
                self.assertEqual(res.body, INDEX)
                self.assertType(res, "text/html")
                self.assertEqual(res.headers.get("cache-control"), "no-cache", res)

    def test_directory_index(self):
        res = self.get("/sub/")
        self.assertEqual((res.status, res.body), (200, SUB_INDEX), res)
        self.assertType(res, "text/html")

    def test_content_types(self):
        for target, expected in (("/app.js", "text/javascript"), ("/style.css", "text/css"),
                                 ("/data.json", "application/json"),
                                 ("/logo.svg", "image/svg+xml")):
            with self.subTest(target=target):
                res = self.get(target)
                self.assertEqual(res.status, 200, res)
                self.assertType(res, expected)

    def test_unhashed_js_is_no_cache(self):
        res = self.get("/app.js")
        self.assertEqual(res.body, APP_JS)
        self.assertEqual(res.headers.get("cache-control"), "no-cache", res)

    def test_assets_are_immutable(self):
        res = self.get("/assets/app-3f2a9c1b.js")
        self.assertEqual((res.status, res.body), (200, HASHED_JS), res)
        self.assertType(res, "text/javascript")
        cc = [d.strip() for d in res.headers.get("cache-control", "").split(",")]
        self.assertIn("immutable", cc, res)
        self.assertTrue(any(d.startswith("max-age=") and int(d[8:]) >= 86400 * 30 for d in cc), res)
        self.assertNotIn("content-encoding", res.headers, "gzip sent to a client that did not ask")

    def test_gzip_when_accepted_and_present(self):
        res = self.get("/assets/app-3f2a9c1b.js", ["Accept-Encoding: gzip, deflate, br"])
        self.assertEqual(res.status, 200, res)
        self.assertEqual(res.headers.get("content-encoding"), "gzip", res)
        self.assertEqual(gzip.decompress(res.body), HASHED_JS)
        self.assertType(res, "text/javascript")  # the type of the content, not of the .gz file
        self.assertIn("accept-encoding", res.headers.get("vary", "").lower(), res)
        self.assertEqual(int(res.headers["content-length"]), len(res.body))

    def test_no_gzip_file_means_identity(self):
        res = self.get("/app.js", ["Accept-Encoding: gzip"])
        self.assertEqual((res.status, res.body), (200, APP_JS), res)
        self.assertNotIn("content-encoding", res.headers)

    def test_traversal_and_hidden_files_refused(self):
        for target in ("/../secret.txt", "/%2e%2e/secret.txt", "/%2E%2E/secret.txt",
                       "/assets/../../secret.txt", "/assets/%2e%2e/%2e%2e/secret.txt",
                       "/..%2fsecret.txt", "/%2e%2e%2fsecret.txt", "/.secret", "/%2esecret",
                       "/assets/.hidden.js", "/./.secret", "/sub/../../secret.txt",
                       "/..\\secret.txt", "/%2e%2e%5csecret.txt"):
            with self.subTest(target=target):
                res = self.get(target)
                self.assertIn(res.status, (400, 403, 404), res)
                self.assertNotIn(b"TOP-SECRET", res.body)

    def test_missing_file_404(self):
        res = self.get("/missing.html")
        self.assertEqual(res.status, 404, res)
        res = self.get("/assets/missing.js", ["Accept-Encoding: gzip"])
        self.assertEqual(res.status, 404, res)

    def test_post_405(self):
        c = self.conn()
        res = c.request("POST", "/", ["Content-Length: 0"])
        self.assertEqual(res.status, 405, res)
        self.assertIn("GET", res.headers.get("allow", ""), res)

    def test_post_with_body_405(self):
        # A form post: the body is small, the answer is still 405, not a dropped connection.
        res = self.conn().request("POST", "/index.html", ["Content-Type: text/plain"],
                                  body=b"hello")
        self.assertEqual(res.status, 405, res)

    def test_healthz(self):
        res = self.get("/healthz")
        self.assertEqual(res.status, 200, res)
        self.assertEqual(res.body.strip(), b"ok")
        res = self.get("/healthz", method="HEAD")
        self.assertEqual((res.status, res.body), (200, b""), res)

    def test_head(self):
        c = self.conn()
        res = c.request("HEAD", "/index.html")
        self.assertEqual(res.status, 200, res)
        self.assertEqual(int(res.headers.get("content-length", -1)), len(INDEX), res)
        self.assertType(res, "text/html")
        # No body followed the head: the next response starts right after it.
        res = c.request("GET", "/healthz")
        self.assertEqual((res.status, res.body.strip()), (200, b"ok"), res)

    def test_keep_alive_two_requests_one_connection(self):
        c = self.conn()
        first = c.request("GET", "/index.html")
        self.assertEqual((first.status, first.body), (200, INDEX), first)
        self.assertNotEqual(first.headers.get("connection", "").lower(), "close", first)
        second = c.request("GET", "/app.js")
        self.assertEqual((second.status, second.body), (200, APP_JS), second)
        third = c.request("GET", "/missing")
        self.assertEqual(third.status, 404, third)

    def test_connection_close_honoured(self):
        c = self.conn()
        res = c.request("GET", "/healthz", ["Connection: close"])
        self.assertEqual(res.status, 200, res)
        self.assertTrue(c.is_closed(), "still open after Connection: close")

    def test_http10_closes_after_response(self):
        c = self.conn()
        res = c.request("GET", "/index.html", version="HTTP/1.0")
        self.assertEqual((res.status, res.body), (200, INDEX), res)
        self.assertTrue(c.is_closed(), "HTTP/1.0 without keep-alive left open")

    def test_websocket_still_works_next_to_http(self):
        self.assertEqual(self.get("/").status, 200)
        r = self.ws_raw(client_id="next-to-http")
        self.assertEqual(r.subscribe("h", 0), [0])


# mosquitto 2.0.11 serves http_dir too, but without /healthz, precompressed files,
# Cache-Control or 405: the whole class is natter's behaviour.
HttpTest = natter_only("natter's HTTP server (healthz, gzip, Cache-Control)")(HttpTest)


if __name__ == "__main__":
    unittest.main()
