"""The .deb, end to end, without root and without systemd:

1. cpack builds natter_VERSION_ARCH.deb from this build tree (NATTER_BUILD_DIR).
2. Its control data: Depends (dpkg-shlibdeps' list plus adduser; `apt-get -s install` resolves
   it on this machine), the conffiles, maintainer scripts that parse.
3. Real dpkg installs it into a throw-away root (dpkg --root --force-not-root
   --force-script-chrootless), with this machine's package database copied in so Depends
   are checked. The postinst runs for real; only the tools that need root or a running
   systemd (adduser, chown, deb-systemd-helper, deb-systemd-invoke, systemctl) are replaced
   by stubs that record their arguments.
4. Every file is where README.md's "Install as a service" says; the unit passes
   `systemd-analyze verify` and `systemd-analyze security` (offline).
5. The installed natter-server runs with the shipped natter.conf (paths moved under the
   root, ports made free: nothing else changed), reports READY over NOTIFY_SOCKET as systemd
   would see it, and the install guide's walk-through works with the installed natter-passwd,
   natter-pub and natter-sub: users in the password file, a wrong password refused with
   "not authorised", a user added and loaded with SIGHUP (ExecReload).
6. An upgrade to a newer version keeps the operator's natter.conf and password file; purge
   removes them.

Run: NATTER_BUILD_DIR=build/release /usr/bin/python3 -m unittest -v deb_test
"""

import configparser
import glob
import os
import re
import shutil
import signal
import socket
import stat
import subprocess
import tempfile
import time
import unittest
import urllib.request

WAIT = 10
HOST = "127.0.0.1"
BUILD = os.environ.get("NATTER_BUILD_DIR", "")
CPACK = os.environ.get("NATTER_CPACK", shutil.which("cpack") or "cpack")
STUBS = ("adduser", "chown", "deb-systemd-helper", "deb-systemd-invoke", "systemctl")

# Where README.md's "Install as a service" says the package puts things.
INSTALLED_FILES = [
    "usr/bin/natter-server", "usr/bin/natter-passwd", "usr/bin/natter-pub",
    "usr/bin/natter-sub",
    "etc/natter/natter.conf", "etc/natter/acl",
    "usr/lib/systemd/system/natter.service",
    "usr/share/doc/natter/README.md", "usr/share/doc/natter/configuration.md",
    "usr/share/doc/natter/natter-server.txt",
]
INSTALLED_DIRS = ["etc/natter/conf.d"]


def run(cmd, check=True, **kw):
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=120, **kw)
    if check and p.returncode != 0:
        raise AssertionError(f"{cmd} exited {p.returncode}\nstdout:\n{p.stdout}\n"
                             f"stderr:\n{p.stderr}")
    return p


def free_port():
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def wait_until(predicate, what, timeout=WAIT):
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)


class DebPackage(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        if not BUILD or not os.path.exists(os.path.join(BUILD, "CPackConfig.cmake")):
            raise AssertionError("set NATTER_BUILD_DIR to a configured and built build tree")
        cls.tmp = tempfile.mkdtemp(prefix="natter-deb-")
        cls.deb = cls.build_package("v1")
        cls.root = os.path.join(cls.tmp, "root")
        cls.calls_file = os.path.join(cls.tmp, "calls")
        cls.stub_dir = os.path.join(cls.tmp, "stubs")
        os.makedirs(cls.stub_dir)
        for name in STUBS:
            path = os.path.join(cls.stub_dir, name)
            with open(path, "w") as f:
                f.write(f'#!/bin/sh\necho "{name} $*" >>"{cls.calls_file}"\n')
            os.chmod(path, 0o755)
        # A dpkg database for the root: this machine's, so that Depends are really checked.
        admin = os.path.join(cls.root, "var/lib/dpkg")
        for d in ("info", "updates", "triggers"):
            os.makedirs(os.path.join(admin, d))
        shutil.copy("/var/lib/dpkg/status", os.path.join(admin, "status"))
        os.makedirs(os.path.join(cls.root, "var/log"))
        cls.install_log = cls.dpkg("-i", cls.deb)

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)

    @classmethod
    def build_package(cls, name, version=None):
        out = os.path.join(cls.tmp, name)
        run([CPACK, "-G", "DEB", "--config", os.path.join(BUILD, "CPackConfig.cmake"),
             "-B", out, *(["-R", version] if version else [])])
        debs = glob.glob(os.path.join(out, "natter_*.deb"))
        if len(debs) != 1:
            raise AssertionError(f"cpack made {debs} in {out}")
        return debs[0]

    @classmethod
    def dpkg(cls, *args):
        """Real dpkg on the throw-away root; returns the stub calls the scripts made."""
        open(cls.calls_file, "w").close()
        env = dict(os.environ, PATH=cls.stub_dir + os.pathsep + os.environ["PATH"])
        run(["dpkg", f"--root={cls.root}", "--force-not-root", "--force-script-chrootless",
             f"--log={cls.root}/var/log/dpkg.log", *args], env=env)
        with open(cls.calls_file) as f:
            return f.read().splitlines()

    def path(self, rel):
        return os.path.join(self.root, rel)

    # ------------------------------------------------------------------ control data

    def test_control_fields(self):
        fields = run(["dpkg-deb", "-f", self.deb]).stdout
        self.assertRegex(fields, r"(?m)^Package: natter$")
        self.assertRegex(os.path.basename(self.deb), r"^natter_\d+\.\d+\.\d+_[a-z0-9]+\.deb$")
        depends = re.search(r"(?m)^Depends: (.*)$", fields).group(1)
        names = {d.strip().split()[0] for d in depends.split(",")}
        # adduser for the postinst; the rest from dpkg-shlibdeps.
        for lib in ("adduser", "libc6", "libssl3", "libsqlite3-0", "libsystemd0", "libstdc++6"):
            self.assertIn(lib, names, depends)
        # What `sudo apt install ./natter_*.deb` will do here: nothing missing.
        sim = run(["apt-get", "-s", "install", os.path.abspath(self.deb)])
        self.assertRegex(sim.stdout, r"(?m)^Inst natter ")
        self.assertRegex(sim.stdout, r"(?m)^Conf natter ")

    def test_maintainer_scripts_and_conffiles(self):
        ctl = os.path.join(self.tmp, "control")
        run(["dpkg-deb", "-e", self.deb, ctl])
        with open(os.path.join(ctl, "conffiles")) as f:
            self.assertEqual(sorted(f.read().split()),
                             ["/etc/natter/acl", "/etc/natter/natter.conf"])
        for script in ("postinst", "prerm", "postrm"):
            p = os.path.join(ctl, script)
            self.assertTrue(os.stat(p).st_mode & stat.S_IXUSR, script)
            run(["sh", "-n", p])

    def test_postinst_creates_user_password_file_and_enables_service(self):
        calls = self.install_log
        self.assertTrue(any(re.match(r"adduser --system --group .*natter$", c) for c in calls),
                        calls)
        self.assertIn(f"chown natter:natter {self.path('etc/natter/passwd')}", calls)
        self.assertIn("deb-systemd-helper enable natter.service", calls)
        # Started only where systemd runs (/run/systemd/system), never under dpkg --root.
        self.assertFalse(any(c.startswith("deb-systemd-invoke") for c in calls), calls)
        st = os.stat(self.path("etc/natter/passwd"))
        self.assertEqual(stat.S_IMODE(st.st_mode), 0o600)

    # ------------------------------------------------------------------ files, unit

    def test_files_are_where_the_readme_says(self):
        for rel in INSTALLED_FILES:
            self.assertTrue(os.path.isfile(self.path(rel)), rel)
        for rel in INSTALLED_DIRS:
            self.assertTrue(os.path.isdir(self.path(rel)), rel)
        for tool in ("natter-server", "natter-passwd", "natter-pub", "natter-sub"):
            self.assertTrue(os.access(self.path(f"usr/bin/{tool}"), os.X_OK), tool)
        with open(os.path.join(os.path.dirname(__file__), "..", "..", "README.md")) as f:
            readme = f.read()
        section = readme.split("## Install as a service", 1)[1].split("\n## ", 1)[0]
        for rel in INSTALLED_FILES + INSTALLED_DIRS:
            if rel.startswith("usr/bin/") or rel.endswith(".txt"):
                continue
            self.assertIn("/" + rel, section, "README's Install as a service names it")
        with open(self.path("etc/natter/natter.conf")) as f:
            conf = f.read()
        self.assertRegex(conf, r"(?m)^persistence_location /var/lib/natter/$")
        self.assertRegex(conf, r"(?m)^password_file /etc/natter/passwd$")
        self.assertRegex(conf, r"(?m)^allow_anonymous false$")
        if os.path.isdir(self.path("usr/share/natter/www")):
            self.assertRegex(conf, r"(?m)^http_dir /usr/share/natter/www$")

    def test_systemd_unit(self):
        unit = self.path("usr/lib/systemd/system/natter.service")
        cp = configparser.ConfigParser(strict=False, interpolation=None)
        cp.optionxform = str
        with open(unit) as f:
            cp.read_string(f.read())
        svc = cp["Service"]
        expected = {
            "Type": "notify", "User": "natter", "Restart": "on-failure",
            "ExecStart": "/usr/bin/natter-server -c /etc/natter/natter.conf",
            "ExecReload": "/bin/kill -HUP $MAINPID", "StateDirectory": "natter",
            "NoNewPrivileges": "yes", "ProtectSystem": "strict", "ProtectHome": "yes",
            "PrivateTmp": "yes",
        }
        for k, v in expected.items():
            self.assertEqual(svc.get(k), v, k)
        self.assertIn("AF_INET", svc["RestrictAddressFamilies"])
        self.assertEqual(cp["Install"]["WantedBy"], "multi-user.target")
        # systemd's own parser: no unknown or misspelt settings (it warns, even at exit 0).
        checked = os.path.join(self.tmp, "natter.service")
        with open(unit) as f, open(checked, "w") as g:
            g.write(f.read().replace("/usr/bin/natter-server", self.path("usr/bin/natter-server")))
        v = run(["systemd-analyze", "verify", checked])
        self.assertEqual((v.stdout + v.stderr).strip(), "", "systemd-analyze verify")
        # The hardening, as systemd scores it (0 = best, 10 = none; the threshold is in
        # tenths). Ours: ~1.5 on systemd 252.
        sec = run(["systemd-analyze", "security", "--offline=yes", f"--root={self.root}",
                   "--threshold=20", "natter.service"], check=False)
        self.assertEqual(sec.returncode, 0, sec.stdout[-3000:] + sec.stderr)

    # ------------------------------------------------------------------ run it

    def test_installed_server_runs_with_the_shipped_config(self):
        mqtt_port, ws_port = free_port(), free_port()
        state = os.path.join(self.tmp, "state")  # systemd's StateDirectory, here
        os.makedirs(state, exist_ok=True)
        with open(self.path("etc/natter/natter.conf")) as f:
            conf = f.read()
        # Only what a non-root temporary install needs: paths under the root, free ports.
        conf = conf.replace("/etc/natter", self.path("etc/natter"))
        conf = conf.replace("/usr/share/natter/www", self.path("usr/share/natter/www"))
        conf = conf.replace("/var/lib/natter/", state + "/")
        conf = re.sub(r"(?m)^listener 1883$", f"listener {mqtt_port}", conf)
        conf = re.sub(r"(?m)^listener 8080$", f"listener {ws_port}", conf)
        self.assertIn(f"listener {mqtt_port}", conf)
        self.assertIn(f"listener {ws_port}", conf)
        conf_path = os.path.join(self.tmp, "natter.conf")
        with open(conf_path, "w") as f:
            f.write(conf)
        bin_ = lambda tool: self.path(f"usr/bin/{tool}")
        passwd = self.path("etc/natter/passwd")

        run([bin_("natter-server"), "-t", "-c", conf_path])
        # The guide's section 3, with natter-passwd: a user in the (empty) password file.
        run([bin_("natter-passwd"), "-b", passwd, "john_doe", "EXAMPLE_PASSWORD"])

        notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        notify_path = os.path.join(self.tmp, "notify")
        notify.bind(notify_path)
        notify.settimeout(WAIT)
        self.addCleanup(notify.close)
        log_path = os.path.join(self.tmp, "server.log")
        log = open(log_path, "wb")
        self.addCleanup(log.close)
        server = subprocess.Popen([bin_("natter-server"), "-c", conf_path],
                                  stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                                  env=dict(os.environ, NOTIFY_SOCKET=notify_path))

        def server_log():
            with open(log_path, errors="replace") as f:
                return f.read()

        def stop():
            if server.poll() is None:
                server.kill()
                server.wait()
        self.addCleanup(stop)
        def next_state():
            """The next sd_notify state change (STATUS= refreshes skipped), as lines."""
            while True:
                try:
                    lines = notify.recv(4096).decode().splitlines()
                except socket.timeout:
                    raise AssertionError("no sd_notify message:\n" + server_log()) from None
                if any(not l.startswith("STATUS=") for l in lines):
                    return lines
        self.assertIn("READY=1", next_state())

        creds = ["-h", HOST, "-p", str(mqtt_port), "-u", "john_doe", "-P", "EXAMPLE_PASSWORD"]
        topic = "home/lights/sitting_room"
        subscriptions = self.sub_count(ws_port)  # the chat service may hold some
        sub = subprocess.Popen([bin_("natter-sub"), *creds, "-t", topic, "-C", "2"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.addCleanup(lambda: sub.poll() is None and sub.kill())
        wait_until(lambda: sub.poll() is not None or self.sub_count(ws_port) > subscriptions,
                   "natter-sub to subscribe")
        run([bin_("natter-pub"), *creds, "-t", topic, "-m", "ON"])
        run([bin_("natter-pub"), *creds, "-t", topic, "-m", "OFF"])
        out, err = sub.communicate(timeout=WAIT)
        self.assertEqual(sub.returncode, 0, err)
        self.assertEqual(out, "ON\nOFF\n")

        wrong = run([bin_("natter-pub"), "-h", HOST, "-p", str(mqtt_port), "-u", "john_doe",
                     "-P", "WRONG_PASSWORD", "-t", topic, "-m", "ON"], check=False)
        self.assertEqual(wrong.returncode, 5, wrong.stderr)
        self.assertIn("not authorised", wrong.stderr)
        anonymous = run([bin_("natter-pub"), "-h", HOST, "-p", str(mqtt_port), "-t", topic,
                         "-m", "ON"], check=False)
        self.assertEqual(anonymous.returncode, 5, anonymous.stderr)

        # A new user, loaded by SIGHUP (the unit's ExecReload) without a restart.
        run([bin_("natter-passwd"), "-b", passwd, "mary_smith", "EXAMPLE_PASSWORD_2"])
        server.send_signal(signal.SIGHUP)
        self.assertIn("RELOADING=1", next_state())
        self.assertIn("READY=1", next_state())
        run([bin_("natter-pub"), "-h", HOST, "-p", str(mqtt_port), "-u", "mary_smith",
             "-P", "EXAMPLE_PASSWORD_2", "-t", topic, "-m", "ON"])

        # The HTTP side of the WebSocket listener.
        with urllib.request.urlopen(f"http://{HOST}:{ws_port}/healthz", timeout=WAIT) as r:
            self.assertEqual(r.read(), b"ok\n")
        if os.path.isfile(self.path("usr/share/natter/www/index.html")):
            with urllib.request.urlopen(f"http://{HOST}:{ws_port}/", timeout=WAIT) as r:
                self.assertIn(b"<html", r.read().lower())

        server.send_signal(signal.SIGTERM)
        self.assertEqual(server.wait(WAIT), 0, server_log())
        self.assertTrue(os.path.isfile(os.path.join(state, "natter.db")),
                        "the store is in persistence_location")
        for marker in ("AddressSanitizer", "runtime error:"):
            self.assertNotIn(marker, server_log())

    def sub_count(self, ws_port):
        with urllib.request.urlopen(f"http://{HOST}:{ws_port}/metrics", timeout=WAIT) as r:
            for line in r.read().decode().splitlines():
                if line.startswith("natter_subscriptions "):
                    return float(line.split()[1])
        raise AssertionError("natter_subscriptions missing from /metrics")

    # ------------------------------------------------------------------ upgrade, purge

    def test_zz_upgrade_keeps_the_operators_files_and_purge_removes_them(self):
        conf = self.path("etc/natter/natter.conf")
        passwd = self.path("etc/natter/passwd")
        with open(conf, "a") as f:
            f.write("# changed by the operator\n")
        with open(passwd, "a") as f:
            f.write("")  # may hold users from the run test; must survive as it is
        with open(passwd, "rb") as f:
            users = f.read()
        local = self.path("etc/natter/conf.d/local.conf")
        with open(local, "w") as f:
            f.write("max_keepalive 300\n")

        version = run(["dpkg-deb", "-f", self.deb, "Version"]).stdout.strip()
        newer = version + ".1"
        deb2 = self.build_package("v2", newer)
        calls = self.dpkg("-i", deb2)
        status = run(["dpkg-query", f"--admindir={self.root}/var/lib/dpkg", "-W",
                      "-f=${Version}", "natter"]).stdout
        self.assertEqual(status, newer)
        with open(conf) as f:
            self.assertTrue(f.read().endswith("# changed by the operator\n"),
                            "the operator's natter.conf is kept on upgrade")
        with open(passwd, "rb") as f:
            self.assertEqual(f.read(), users)
        self.assertTrue(os.path.isfile(local))
        self.assertFalse(os.path.exists(conf + ".dpkg-new"))
        self.assertIn("deb-systemd-helper unmask natter.service", calls)

        calls = self.dpkg("--purge", "natter")
        for rel in ("etc/natter/natter.conf", "etc/natter/acl", "etc/natter/passwd",
                    "usr/bin/natter-server", "usr/lib/systemd/system/natter.service"):
            self.assertFalse(os.path.exists(self.path(rel)), rel)
        self.assertIn("deb-systemd-helper purge natter.service", calls)


if __name__ == "__main__":
    unittest.main()
