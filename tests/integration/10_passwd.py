#!/usr/bin/python3
"""natter-passwd writes password files that the real mosquitto broker accepts, and speaks
mosquitto_passwd's command line (same messages and exit codes).

Run: NATTER_PASSWD=build/.../natter-passwd /usr/bin/python3 tests/integration/10_passwd.py -v
Needs the Debian packages mosquitto and mosquitto-clients for the broker tests (skipped
without them) and mosquitto_passwd for the side-by-side comparison.
"""
import contextlib
import os
import pty
import select
import shutil
import socket
import stat
import subprocess
import tempfile
import termios
import time
import unittest

NATTER_PASSWD = os.environ.get("NATTER_PASSWD", "")
MOSQUITTO = "/usr/sbin/mosquitto"
MOSQUITTO_PUB = "/usr/bin/mosquitto_pub"
MOSQUITTO_PASSWD = "/usr/bin/mosquitto_passwd"
HAVE_BROKER = os.access(MOSQUITTO, os.X_OK) and os.access(MOSQUITTO_PUB, os.X_OK)


def read_text(path):
    with open(path) as f:
        return f.read()


def passwd(*args, input=None):
    return subprocess.run([NATTER_PASSWD, *args], input=input, capture_output=True,
                          text=True, timeout=120)


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def mosquitto_broker(password_file, workdir):
    """The real mosquitto on a free loopback port, clients must log in from password_file."""
    port = free_port()
    conf = os.path.join(workdir, "mosquitto.conf")
    with open(conf, "w") as f:
        f.write(f"listener {port} 127.0.0.1\n"
                "allow_anonymous false\n"
                f"password_file {password_file}\n"
                "log_dest stderr\n")
        if os.geteuid() == 0:
            # As root mosquitto drops to the 'mosquitto' user after reading its config and
            # could then not read our 0600 root-owned file; keep root for the test.
            f.write("user root\n")
    log_path = os.path.join(workdir, "mosquitto.log")
    log = open(log_path, "w")
    proc = subprocess.Popen([MOSQUITTO, "-c", conf], stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    log.flush()
                    raise RuntimeError("mosquitto did not start:\n" + read_text(log_path))
                time.sleep(0.05)
        yield port
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()
    # mosquitto logs and drops entries it cannot read ("Error: Invalid password hash for user
    # ..., removing entry."): none of ours may be among them.
    text = read_text(log_path)
    if "Error" in text:
        raise AssertionError("mosquitto complained about the password file:\n" + text)


def mosquitto_pub(port, user, password):
    return subprocess.run([MOSQUITTO_PUB, "-h", "127.0.0.1", "-p", str(port), "-u", user,
                           "-P", password, "-t", "natter/test", "-m", "hello"],
                          capture_output=True, text=True, timeout=30)


def run_in_pty(argv, replies, timeout=30):
    """Runs argv on a pseudo-terminal, typing each reply as soon as its prompt appears.
    Returns (everything the terminal showed, exit code)."""
    pid, fd = pty.fork()
    if pid == 0:
        os.execv(argv[0], argv)
    out = b""
    deadline = time.monotonic() + timeout

    def read_some(wait):
        nonlocal out
        r, _, _ = select.select([fd], [], [], wait)
        if not r:
            return False
        try:
            data = os.read(fd, 4096)
        except OSError:  # EIO: the child closed the terminal
            return None
        if not data:
            return None
        out += data
        return True

    for prompt, reply in replies:
        while prompt not in out and time.monotonic() < deadline:
            if read_some(0.1) is None:
                break
        # Typed at once: natter-passwd turns echo off before it prints the prompt.
        os.write(fd, reply)
        out = out.replace(prompt, b"<" + prompt.strip() + b">", 1)
    while time.monotonic() < deadline and read_some(0.5) is not None:
        pass
    status = reap(pid, deadline)
    os.close(fd)
    return out.decode(errors="replace"), os.waitstatus_to_exitcode(status)


def reap(pid, deadline):
    """waitpid that kills the child once `deadline` has passed, so a test cannot hang."""
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return status
        if time.monotonic() > deadline:
            os.kill(pid, 9)
            return os.waitpid(pid, 0)[1]
        time.sleep(0.02)


@unittest.skipUnless(os.access(NATTER_PASSWD, os.X_OK), "set NATTER_PASSWD to natter-passwd")
class NatterPasswd(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="natter_passwd_")
        self.file = os.path.join(self.dir, "passwd")

    def tearDown(self):
        shutil.rmtree(self.dir, ignore_errors=True)

    def lines(self):
        return read_text(self.file).splitlines()

    def mode(self):
        return stat.S_IMODE(os.stat(self.file).st_mode)

    def write(self, text, mode=0o644):
        with open(self.file, "w") as f:
            f.write(text)
        os.chmod(self.file, mode)

    def assert_no_temp_files(self):
        self.assertEqual(sorted(os.listdir(self.dir)),
                         sorted(n for n in os.listdir(self.dir) if not n.startswith(".")))

    # The install guide: write plain-text passwords, hash them in place with -U.
    def test_install_guide_update_then_mosquitto_accepts(self):
        self.write("john_doe:EXAMPLE_PASSWORD\nmary_smith:EXAMPLE_PASSWORD_2\n")
        r = passwd("-U", self.file)
        self.assertEqual((r.returncode, r.stdout, r.stderr), (0, "", ""))
        lines = self.lines()
        self.assertEqual(len(lines), 2)
        for line, user in zip(lines, ["john_doe", "mary_smith"]):
            self.assertTrue(line.startswith(user + ":$7$210000$"), line)
        self.assertEqual(self.mode(), 0o600)
        self.assert_no_temp_files()

        # Running -U again leaves hashed lines alone (mosquitto_passwd would hash the hashes).
        r = passwd("-U", self.file)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(self.lines(), lines)

        if not HAVE_BROKER:
            self.skipTest("mosquitto / mosquitto_pub not installed")
        with mosquitto_broker(self.file, self.dir) as port:
            ok = mosquitto_pub(port, "john_doe", "EXAMPLE_PASSWORD")
            self.assertEqual(ok.returncode, 0, ok.stderr)
            ok = mosquitto_pub(port, "mary_smith", "EXAMPLE_PASSWORD_2")
            self.assertEqual(ok.returncode, 0, ok.stderr)
            for user, pw in [("john_doe", "wrong"), ("john_doe", "EXAMPLE_PASSWORD_2"),
                             ("mary_smith", "EXAMPLE_PASSWORD"), ("nobody", "EXAMPLE_PASSWORD")]:
                bad = mosquitto_pub(port, user, pw)
                self.assertEqual(bad.returncode, 5, (user, pw, bad.stderr))
                self.assertIn("Connection Refused: not authorised.", bad.stderr)

    def test_batch_create_and_delete_accepted_by_mosquitto(self):
        r = passwd("-c", "-b", self.file, "alice", "first")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(self.mode(), 0o600)
        # -c overwrites
        r = passwd("-c", "-b", self.file, "alice", "alice pw")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(len(self.lines()), 1)
        for args in (["-b", self.file, "bob", "bob:pw"],                 # ':' in a password
                     ["-H", "sha512", "-b", self.file, "old", "old pw"],  # mosquitto 1.x $6$
                     ["-I", "101", "-b", self.file, "fast", "fast pw"],
                     ["-b", self.file, "gone", "gone pw"]):
            r = passwd(*args)
            self.assertEqual(r.returncode, 0, (args, r.stderr))
        r = passwd("-b", self.file, "bob", "bob new")  # update in place
        self.assertEqual(r.returncode, 0, r.stderr)
        r = passwd("-D", self.file, "gone")
        self.assertEqual(r.returncode, 0, r.stderr)
        users = [line.split(":")[0] for line in self.lines()]
        self.assertEqual(users, ["alice", "bob", "old", "fast"])
        self.assertTrue(self.lines()[2].startswith("old:$6$"))
        self.assertTrue(self.lines()[3].startswith("fast:$7$101$"))

        r = passwd("-D", self.file, "gone")
        self.assertEqual((r.returncode, r.stderr),
                         (1, "Warning: User gone not found in password file.\n"))

        if not HAVE_BROKER:
            self.skipTest("mosquitto / mosquitto_pub not installed")
        with mosquitto_broker(self.file, self.dir) as port:
            for user, pw in [("alice", "alice pw"), ("bob", "bob new"), ("old", "old pw"),
                             ("fast", "fast pw")]:
                r = mosquitto_pub(port, user, pw)
                self.assertEqual(r.returncode, 0, (user, r.stderr))
            for user, pw in [("alice", "first"), ("bob", "bob:pw"), ("gone", "gone pw")]:
                r = mosquitto_pub(port, user, pw)
                self.assertEqual(r.returncode, 5, (user, r.stderr))

    def test_update_keeps_comments_blank_lines_and_mode_0600(self):
        self.write("# users\n\nalice:plain\n", mode=0o644)
        r = passwd("-b", self.file, "bob", "x")
        self.assertEqual(r.returncode, 0, r.stderr)
        lines = self.lines()
        self.assertEqual(lines[:3], ["# users", "", "alice:plain"])
        self.assertTrue(lines[3].startswith("bob:$7$"))
        self.assertEqual(self.mode(), 0o600)
        r = passwd("-U", self.file)
        self.assertEqual(r.returncode, 0, r.stderr)
        lines2 = self.lines()
        self.assertEqual(lines2[:2], ["# users", ""])
        self.assertTrue(lines2[2].startswith("alice:$7$210000$"))
        self.assertEqual(lines2[3], lines[3])  # already hashed: untouched

    def test_corrupt_file_is_refused_and_left_alone(self):
        self.write("alice:plain\nno colon here\n")
        before = read_text(self.file)
        r = passwd("-U", self.file)
        self.assertEqual((r.returncode, r.stderr), (1, "Error: Corrupt password file at line 2.\n"))
        self.assertEqual(read_text(self.file), before)
        self.assert_no_temp_files()

    def test_missing_file(self):
        missing = os.path.join(self.dir, "missing")
        r = passwd("-b", missing, "u", "p")
        self.assertEqual(r.returncode, 1)
        self.assertEqual(r.stderr,
                         f"Error: Unable to open password file {missing}. No such file or directory.\n")
        self.assertFalse(os.path.exists(missing))

    def test_symlink_is_followed_not_replaced(self):
        real = os.path.join(self.dir, "real")
        with open(real, "w") as f:
            f.write("")
        os.symlink("real", self.file)
        r = passwd("-b", self.file, "u", "p")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertTrue(os.path.islink(self.file))
        self.assertTrue(read_text(real).startswith("u:$7$"))

    def test_bad_usernames_are_refused(self):
        self.write("")
        for user, message in [
                ("a:b", "Error: Username must not contain the ':' character.\n"),
                ("a\tb", "Error: Username must not contain control characters.\n"),
                ("a\nb", "Error: Username must not contain control characters.\n"),
                ("", "Error: Username must not be empty.\n"),
                (" padded", "Error: Username must not start or end with a space.\n"),
                ("x" * 65536, "Error: Username must be less than 65536 characters long.\n")]:
            r = passwd("-b", self.file, user, "pw")
            self.assertEqual((r.returncode, r.stderr), (1, message), repr(user[:10]))
        self.assertEqual(read_text(self.file), "")

    def test_interactive_prompt_without_echo(self):
        out, code = run_in_pty([NATTER_PASSWD, "-c", self.file, "carol"],
                               [(b"Password: ", b"s3cret typed\n"),
                                (b"Reenter password: ", b"s3cret typed\n")])
        self.assertEqual(code, 0, out)
        self.assertIn("<Password:>", out)
        self.assertIn("<Reenter password:>", out)
        self.assertNotIn("s3cret", out)  # echo was off
        self.assertTrue(self.lines()[0].startswith("carol:$7$210000$"))
        first = self.lines()

        # Mismatch: mosquitto_passwd's message and exit code 2; the file is untouched.
        out, code = run_in_pty([NATTER_PASSWD, self.file, "dave"],
                               [(b"Password: ", b"one\n"), (b"Reenter password: ", b"two\n")])
        self.assertEqual(code, 2, out)
        self.assertIn("Error: Passwords do not match.", out)
        self.assertEqual(self.lines(), first)

        out, code = run_in_pty([NATTER_PASSWD, self.file, "dave"], [(b"Password: ", b"\n")])
        self.assertEqual(code, 1, out)
        self.assertIn("Error: Empty password.", out)

        # Ctrl-D at the prompt ends input: an empty password, not a hang.
        out, code = run_in_pty([NATTER_PASSWD, self.file, "dave"], [(b"Password: ", b"\x04")])
        self.assertEqual(code, 1, out)
        self.assertEqual(self.lines(), first)

        if HAVE_BROKER:
            with mosquitto_broker(self.file, self.dir) as port:
                r = mosquitto_pub(port, "carol", "s3cret typed")
                self.assertEqual(r.returncode, 0, r.stderr)

    def test_ctrl_c_at_the_prompt_restores_echo(self):
        pid, fd = pty.fork()
        if pid == 0:
            os.execv(NATTER_PASSWD, [NATTER_PASSWD, "-c", self.file, "u"])
        try:
            out = b""
            deadline = time.monotonic() + 10
            while b"Password: " not in out and time.monotonic() < deadline:
                if select.select([fd], [], [], 0.1)[0]:
                    out += os.read(fd, 1024)
            self.assertFalse(termios.tcgetattr(fd)[3] & termios.ECHO)  # echo off while asking
            os.write(fd, b"\x03")
            status = reap(pid, time.monotonic() + 10)
            pid = 0
            self.assertEqual(os.waitstatus_to_exitcode(status), -2)  # died of SIGINT
            self.assertTrue(termios.tcgetattr(fd)[3] & termios.ECHO)  # and gave echo back
        finally:
            if pid:
                reap(pid, 0)
            os.close(fd)
        self.assertFalse(os.path.exists(self.file))

    def test_password_from_a_pipe(self):
        r = passwd("-c", self.file, "erin", input="piped\npiped\n")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout, "Password: \nReenter password: \n")
        r = passwd(self.file, "erin", input="a\nb\n")
        self.assertEqual((r.returncode, r.stderr), (2, "Error: Passwords do not match.\n"))

    @unittest.skipUnless(os.access(MOSQUITTO_PASSWD, os.X_OK), "mosquitto_passwd not installed")
    def test_command_line_errors_match_mosquitto_passwd(self):
        self.write("alice:$7$101$/m4MXbifHas9lTB9$MnG62+DqIFhy0X1rUuftO9lYZ1exk319jdOW/xrFGi2Z"
                   "TYrjC1GZxszK3Dus4GVFOSFlAVQZkxF3RYw/TD56hw==\n")
        f = self.file
        cases = [["-b", f, "a:b", "x"], ["-b", f, "a\x01b", "x"], ["-D", f, "nobody"],
                 ["-b", "-D", f, "bob"], ["-c", "-D", f, "bob"], ["-c", "-U", f],
                 ["-D", "-U", f], ["-U"], ["-U", f, "extra"], ["-H", "md5", f, "x"],
                 ["-I", "0", f, "x"], ["-I", "abc", f, "x"], ["-I"], ["-H"], ["-c", f],
                 ["-c", "-b", f, "u"], ["-D", f], ["-b", os.path.join(self.dir, "nope"), "u", "p"],
                 ["-b", f, "u", "x" * 65536]]
        for args in cases:
            ours = passwd(*args)
            theirs = subprocess.run([MOSQUITTO_PASSWD, *args], capture_output=True, text=True)
            self.assertEqual((ours.returncode, ours.stderr), (theirs.returncode, theirs.stderr),
                             args[:4])
        # Usage: same exit code, same lines apart from the name and our -I documentation.
        for args in [[], ["-b", f, "u"], [f]]:
            ours, theirs = passwd(*args), subprocess.run([MOSQUITTO_PASSWD, *args],
                                                         capture_output=True, text=True)
            self.assertEqual(ours.returncode, theirs.returncode)
            self.assertEqual(theirs.returncode, 1)
            self.assertIn("Usage: natter-passwd", ours.stdout)


if __name__ == "__main__":
    unittest.main()
