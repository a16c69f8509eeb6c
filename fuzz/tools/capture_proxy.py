#!/usr/bin/python3
"""A tiny TCP proxy that records real traffic for the fuzz corpus.

Every connection accepted on the listen port is forwarded to the target; what each side
sent is kept as two byte strings (client->server, server->client). make_corpus.py runs
it between real clients (paho, mosquitto_pub/sub, MQTT.js) and natter-server; by hand:

    /usr/bin/python3 fuzz/tools/capture_proxy.py LISTEN_PORT TARGET_PORT OUT_DIR

writes OUT_DIR/conn-N.c2s and OUT_DIR/conn-N.s2c when each connection ends (Ctrl-C stops).
Loopback only. Standard library only.
"""

import os
import select
import socket
import sys
import threading

HOST = "127.0.0.1"


class CaptureProxy:
    """Forwards 127.0.0.1:port -> 127.0.0.1:target_port; .sessions holds (c2s, s2c) of
    each finished connection, in the order they finished."""

    def __init__(self, target_port, port=0):
        self.target_port = target_port
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind((HOST, port))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]
        self.sessions = []
        self._lock = threading.Lock()
        self._threads = []
        self._running = True
        self._acceptor = threading.Thread(target=self._accept_loop, daemon=True)
        self._acceptor.start()

    def _accept_loop(self):
        while self._running:
            try:
                client, _ = self.sock.accept()
            except OSError:
                return
            t = threading.Thread(target=self._pump, args=(client,), daemon=True)
            self._threads.append(t)
            t.start()

    def _pump(self, client):
        try:
            server = socket.create_connection((HOST, self.target_port))
        except OSError:
            client.close()
            return
        c2s, s2c = bytearray(), bytearray()
        peers = {client: (server, c2s), server: (client, s2c)}
        open_ends = {client, server}
        while open_ends:
            readable, _, _ = select.select(list(open_ends), [], [], 30)
            if not readable:
                break
            for s in readable:
                other, log = peers[s]
                try:
                    data = s.recv(65536)
                except OSError:
                    data = b""
                if not data:
                    open_ends.discard(s)
                    try:
                        other.shutdown(socket.SHUT_WR)
                    except OSError:
                        pass
                    continue
                log += data
                try:
                    other.sendall(data)
                except OSError:
                    open_ends.clear()
        client.close()
        server.close()
        with self._lock:
            self.sessions.append((bytes(c2s), bytes(s2c)))

    def wait_idle(self, timeout=10):
        """Waits for every connection so far to finish."""
        for t in list(self._threads):
            t.join(timeout)

    def close(self):
        self._running = False
        self.sock.close()
        self.wait_idle(2)


def main():
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    listen_port, target_port, out = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
    os.makedirs(out, exist_ok=True)
    proxy = CaptureProxy(target_port, listen_port)
    print(f"proxy 127.0.0.1:{proxy.port} -> 127.0.0.1:{target_port}, writing {out}", flush=True)
    written = 0
    try:
        while True:
            proxy.wait_idle(1)
            with proxy._lock:
                done, proxy.sessions = proxy.sessions, []
            for c2s, s2c in done:
                written += 1
                for suffix, data in (("c2s", c2s), ("s2c", s2c)):
                    with open(os.path.join(out, f"conn-{written}.{suffix}"), "wb") as f:
                        f.write(data)
    except KeyboardInterrupt:
        proxy.close()


if __name__ == "__main__":
    main()
