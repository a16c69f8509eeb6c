// natter-passwd: manages password files for Natter (and mosquitto: the files are the same).
//
// The command line, messages and exit codes are mosquitto_passwd 2.0's, so scripts and guides
// written for it work unchanged (checked against Debian's mosquitto_passwd 2.0.11):
//   natter-passwd [-H sha512 | -H sha512-pbkdf2] [-I iterations] [-c | -D] passwordfile username
//   natter-passwd [-H ...] [-I iterations] [-c] -b passwordfile username password
//   natter-passwd [-H ...] [-I iterations] -U passwordfile
// Options are read up to the first word that is not one, exactly as mosquitto_passwd does.
//
// Where it differs, on purpose:
//  - New PBKDF2 hashes use 210000 iterations, not 101 (mosquitto accepts both).
//  - -U leaves lines that already hold a valid hash alone; mosquitto_passwd hashes the hash
//    again, which locks those users out. -U also honours -I and -H.
//  - Blank lines and '#' comments are kept; mosquitto_passwd calls them a corrupt file (its
//    broker ignores them).
//  - A plain-text password is everything after the first ':' (mosquitto_passwd stops at a
//    second ':', silently changing such a password).
//  - The file is replaced atomically (temporary file in the same directory, fsync, rename), with
//    mode 0600 and the previous owner and group, instead of being rewritten in place; the file
//    always ends with a newline.
//  - Echo is turned off before the prompt is printed (mosquitto_passwd prints first, so fast
//    typing can echo), and line editing keeps working; on Ctrl-C the terminal is restored and
//    the process dies of the signal (mosquitto_passwd exits 0).
//  - Empty usernames, and usernames with leading or trailing blanks (the broker would trim them,
//    so the user could never log in), are refused.
#include <fcntl.h>
#include <openssl/crypto.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "auth/password_file.hpp"

namespace {

namespace auth = natter::auth;

constexpr std::size_t max_field = 65535;  // usernames and passwords are MQTT strings

void print_usage() {
  std::printf(
      "natter-passwd is a tool for managing password files for Natter and mosquitto.\n\n"
      "Usage: natter-passwd [-H sha512 | -H sha512-pbkdf2] [-I iterations] [-c | -D] "
      "passwordfile username\n"
      "       natter-passwd [-H sha512 | -H sha512-pbkdf2] [-I iterations] [-c] -b "
      "passwordfile username password\n"
      "       natter-passwd [-H sha512 | -H sha512-pbkdf2] [-I iterations] -U passwordfile\n"
      " -b : run in batch mode to allow passing passwords on the command line.\n"
      " -c : create a new password file. This will overwrite existing files.\n"
      " -D : delete the username rather than adding/updating its password.\n"
      " -H : specify the hashing algorithm. Defaults to sha512-pbkdf2, which is recommended.\n"
      "      Mosquitto 1.6 and earlier defaulted to sha512.\n"
      " -I : number of PBKDF2 iterations for new hashes. Defaults to %d.\n"
      " -U : update a plain text password file to use hashed passwords.\n"
      "      Lines that already hold a hash are left as they are.\n\n"
      "The file is also read by mosquitto 2.0 and later.\n\n",
      auth::default_iterations);
}

// ---------------------------------------------------------------------------------------------
// Signals: restore the terminal and remove our temporary file, then die of the signal.

termios saved_termios;
volatile std::sig_atomic_t echo_is_off = 0;
char temp_path[PATH_MAX];
volatile std::sig_atomic_t temp_exists = 0;

extern "C" void on_signal(int sig) {
  if (echo_is_off) tcsetattr(STDIN_FILENO, TCSANOW, &saved_termios);
  if (temp_exists) unlink(temp_path);
  std::signal(sig, SIG_DFL);
  std::raise(sig);
}

// Overwrites a secret before its memory is released.
struct wiped_string {
  std::string s;
  ~wiped_string() {
    if (!s.empty()) OPENSSL_cleanse(s.data(), s.size());
  }
};

// ---------------------------------------------------------------------------------------------
// Password prompt (mosquitto's get_password.c: same prompts, messages and return codes).

// Prints `prompt` and reads one line from stdin, with echo off when stdin is a terminal. Echo
// goes off before the prompt appears, so a reply typed at once is not shown. False at end of
// input.
bool ask(const char* prompt, std::string& out) {
  const bool tty = tcgetattr(STDIN_FILENO, &saved_termios) == 0;
  if (tty) {
    termios quiet = saved_termios;
    quiet.c_lflag &= ~static_cast<tcflag_t>(ECHO);  // keep ICANON: backspace must still work
    echo_is_off = 1;
    tcsetattr(STDIN_FILENO, TCSANOW, &quiet);
  }
  std::fputs(prompt, stdout);
  std::fflush(stdout);
  out.clear();
  out.reserve(256);  // fewer reallocations leaving unwiped copies behind
  bool got_any = false;
  for (int c; (c = std::getc(stdin)) != EOF;) {
    got_any = true;
    if (c == '\n') break;
    if (out.size() <= max_field) out.push_back(static_cast<char>(c));
  }
  if (tty) {
    tcsetattr(STDIN_FILENO, TCSANOW, &saved_termios);
    echo_is_off = 0;
  }
  while (!out.empty() && (out.back() == '\r' || out.back() == '\n')) out.pop_back();
  return got_any;
}

// 0 on success, 1 for an empty password, 2 when the two entries differ.
int get_password(std::string& password) {
  wiped_string again;
  if (!ask("Password: ", password) || password.empty()) {
    std::fputs("Error: Empty password.\n", stderr);
    return 1;
  }
  std::fputs("\n", stdout);
  if (!ask("Reenter password: ", again.s) || again.s.empty()) {
    std::fputs("Error: Empty password.\n", stderr);
    return 1;
  }
  std::fputs("\n", stdout);
  std::fflush(stdout);
  if (password != again.s) {
    std::fputs("Error: Passwords do not match.\n", stderr);
    return 2;
  }
  if (password.size() > max_field) {
    std::fputs("Error: Password must be less than 65536 characters long.\n", stderr);
    return 1;
  }
  return 0;
}

// ---------------------------------------------------------------------------------------------
// Files.

bool read_file(const std::string& path, std::string& out) {
  const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  char buf[65536];
  for (;;) {
    const ssize_t n = read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      const int e = errno;
      close(fd);
      errno = e;
      return false;
    }
    if (n == 0) break;
    out.append(buf, static_cast<std::size_t>(n));
  }
  close(fd);
  return true;
}

bool write_all(int fd, std::string_view data) {
  while (!data.empty()) {
    const ssize_t n = write(fd, data.data(), data.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return false;
    data.remove_prefix(static_cast<std::size_t>(n));
  }
  return true;
}

enum class write_failure { none, temp_file, update };

// Replaces `path` with `content`: a temporary file next to it, mode 0600 and the old file's
// owner and group, fsync, rename over the old file, fsync the directory. A crash leaves either
// the old file or the new one, never half of one.
write_failure replace_file(const std::string& path, std::string_view content,
                           const struct stat* old) {
  const auto slash = path.rfind('/');
  const std::string dir = slash == std::string::npos ? "." : path.substr(0, slash + 1);
  const std::string base = slash == std::string::npos ? path : path.substr(slash + 1);
  const std::string tmpl = dir + (slash == std::string::npos ? "/." : ".") + base + ".XXXXXX";
  if (tmpl.size() >= sizeof temp_path) {
    errno = ENAMETOOLONG;
    return write_failure::temp_file;
  }
  std::memcpy(temp_path, tmpl.c_str(), tmpl.size() + 1);
  const int fd = mkstemp(temp_path);  // O_EXCL, mode 0600
  if (fd < 0) return write_failure::temp_file;
  temp_exists = 1;
  const auto fail = [&] {
    const int e = errno;
    close(fd);
    unlink(temp_path);
    temp_exists = 0;
    errno = e;
    return write_failure::update;
  };
  if (fchmod(fd, S_IRUSR | S_IWUSR) != 0) return fail();
  // Keep the owner (e.g. the service account that reads the file); only root can, others
  // simply create the file as themselves.
  if (old != nullptr && (old->st_uid != geteuid() || old->st_gid != getegid()))
    if (fchown(fd, old->st_uid, old->st_gid) != 0 && errno != EPERM) return fail();
  if (!write_all(fd, content) || fsync(fd) != 0) return fail();
  if (close(fd) != 0) {
    const int e = errno;
    unlink(temp_path);
    temp_exists = 0;
    errno = e;
    return write_failure::update;
  }
  if (rename(temp_path, path.c_str()) != 0) {
    const int e = errno;
    unlink(temp_path);
    temp_exists = 0;
    errno = e;
    return write_failure::update;
  }
  temp_exists = 0;
  const int dfd = open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) {
    fsync(dfd);  // best effort: the rename itself has happened
    close(dfd);
  }
  return write_failure::none;
}

// ---------------------------------------------------------------------------------------------

struct options {
  auth::hash_type type = auth::hash_type::sha512_pbkdf2;
  int iterations = auth::default_iterations;
};

bool is_username_valid(const char* username) {
  if (username == nullptr) return true;
  const std::string_view u(username);
  if (u.size() > max_field) {
    std::fputs("Error: Username must be less than 65536 characters long.\n", stderr);
    return false;
  }
  for (const char c : u) {
    const auto b = static_cast<unsigned char>(c);
    if (b < 0x20 || b == 0x7f) {
      std::fputs("Error: Username must not contain control characters.\n", stderr);
      return false;
    }
  }
  if (u.find(':') != std::string_view::npos) {
    std::fputs("Error: Username must not contain the ':' character.\n", stderr);
    return false;
  }
  if (u.empty()) {
    std::fputs("Error: Username must not be empty.\n", stderr);
    return false;
  }
  if (u.front() == ' ' || u.back() == ' ') {
    std::fputs("Error: Username must not start or end with a space.\n", stderr);
    return false;
  }
  if (u.front() == '#') {  // the line would read as a comment: the user could never log in
    std::fputs("Error: Username must not start with '#'.\n", stderr);
    return false;
  }
  return true;
}

// "username:$7$...\n", or nullopt after printing mosquitto_passwd's message.
std::optional<std::string> new_line(std::string_view username, std::string_view password,
                                    const options& o) {
  auto h = auth::hash_new(password, o.iterations, o.type);
  if (!h) {
    std::fputs("Error: Unable to hash password.\n", stderr);
    return std::nullopt;
  }
  std::string line(username);
  line += ':';
  line += *h;
  line += '\n';
  return line;
}

struct file_line {
  std::string text;  // without '\n'
  auth::password_line parsed;
};

// Splits and checks an existing file. Returns false after printing mosquitto's message.
bool parse_file(const std::string& content, std::vector<file_line>& lines) {
  std::string_view rest = content;
  while (!rest.empty()) {
    const auto nl = rest.find('\n');
    lines.push_back({std::string(rest.substr(0, nl)), {}});
    rest = nl == std::string_view::npos ? std::string_view{} : rest.substr(nl + 1);
  }
  for (std::size_t i = 0; i < lines.size(); ++i) {
    lines[i].parsed = auth::classify_line(lines[i].text);  // views into lines[i].text
    if (lines[i].parsed.kind == auth::password_line::corrupt) {
      std::fprintf(stderr, "Error: Corrupt password file at line %zu.\n", i + 1);
      return false;
    }
  }
  return true;
}

int run(int argc, char* argv[]) {
  options o;
  bool batch_mode = false, create_new = false, delete_user = false, update_file = false;

  if (argc == 1) {
    print_usage();
    return 1;
  }
  int idx = 1;
  for (; idx < argc; ++idx) {
    const std::string_view a = argv[idx];
    if (a == "-H") {
      if (idx + 1 == argc) {
        std::fputs("Error: -H argument given but not enough other arguments.\n", stderr);
        return 1;
      }
      const std::string_view v = argv[idx + 1];
      if (v == "sha512") {
        o.type = auth::hash_type::sha512;
      } else if (v == "sha512-pbkdf2") {
        o.type = auth::hash_type::sha512_pbkdf2;
      } else {
        std::fprintf(stderr, "Error: Unknown hash type '%s'\n", argv[idx + 1]);
        return 1;
      }
      ++idx;
    } else if (a == "-b") {
      batch_mode = true;
    } else if (a == "-c") {
      create_new = true;
    } else if (a == "-D") {
      delete_user = true;
    } else if (a == "-I") {
      if (idx + 1 == argc) {
        std::fputs("Error: -I argument given but not enough other arguments.\n", stderr);
        return 1;
      }
      // atoi()'s reading, as mosquitto_passwd: leading digits count, the rest is ignored.
      const long n = std::strtol(argv[idx + 1], nullptr, 10);
      o.iterations = n > INT_MAX ? 0 : static_cast<int>(n);
      ++idx;
      if (o.iterations < 1) {
        std::fputs("Error: Number of iterations must be > 0.\n", stderr);
        return 1;
      }
    } else if (a == "-U") {
      update_file = true;
    } else {
      break;
    }
  }

  if (create_new && delete_user) {
    std::fputs("Error: -c and -D cannot be used together.\n", stderr);
    return 1;
  }
  if (create_new && update_file) {
    std::fputs("Error: -c and -U cannot be used together.\n", stderr);
    return 1;
  }
  if (delete_user && update_file) {
    std::fputs("Error: -D and -U cannot be used together.\n", stderr);
    return 1;
  }
  if (delete_user && batch_mode) {
    std::fputs("Error: -b and -D cannot be used together.\n", stderr);
    return 1;
  }

  const char* file_arg = nullptr;
  const char* username = nullptr;
  const char* password_arg = nullptr;
  if (create_new) {
    if (batch_mode) {
      if (idx + 2 >= argc) {
        std::fputs("Error: -c argument given but password file, username, or password missing.\n",
                   stderr);
        return 1;
      }
      file_arg = argv[idx];
      username = argv[idx + 1];
      password_arg = argv[idx + 2];
    } else {
      if (idx + 1 >= argc) {
        std::fputs("Error: -c argument given but password file or username missing.\n", stderr);
        return 1;
      }
      file_arg = argv[idx];
      username = argv[idx + 1];
    }
  } else if (delete_user) {
    if (idx + 1 >= argc) {
      std::fputs("Error: -D argument given but password file or username missing.\n", stderr);
      return 1;
    }
    file_arg = argv[idx];
    username = argv[idx + 1];
  } else if (update_file) {
    if (idx + 1 != argc) {
      std::fputs("Error: -U argument given but password file missing.\n", stderr);
      return 1;
    }
    file_arg = argv[idx];
  } else if (batch_mode && idx + 3 == argc) {
    file_arg = argv[idx];
    username = argv[idx + 1];
    password_arg = argv[idx + 2];
  } else if (!batch_mode && idx + 2 == argc) {
    file_arg = argv[idx];
    username = argv[idx + 1];
  } else {
    print_usage();
    return 1;
  }

  if (!is_username_valid(username)) return 1;
  if (password_arg != nullptr && std::strlen(password_arg) > max_field) {
    std::fputs("Error: Password must be less than 65536 characters long.\n", stderr);
    return 1;
  }

  // Work on the real file behind a symlink, so that the rename replaces it and not the link.
  std::string path;
  if (char* real = realpath(file_arg, nullptr)) {
    path = real;
    std::free(real);
  } else if (errno == ENOENT) {
    path = file_arg;
  } else {
    std::fprintf(stderr, "Error reading password file: %s\n", std::strerror(errno));
    return 1;
  }
  struct stat old_stat {};
  const bool exists = stat(path.c_str(), &old_stat) == 0;

  wiped_string password;
  if (password_arg != nullptr) password.s = password_arg;

  if (create_new) {
    if (!batch_mode) {
      if (const int rc = get_password(password.s); rc != 0) return rc;
    }
    const auto line = new_line(username, password.s, o);
    if (!line) return 1;
    if (replace_file(path, *line, exists ? &old_stat : nullptr) != write_failure::none) {
      std::fprintf(stderr, "Error: Unable to open file %s for writing. %s.\n", path.c_str(),
                   std::strerror(errno));
      return 1;
    }
    return 0;
  }

  // Update, delete or convert an existing file. mosquitto_passwd opens it read-write; ask for
  // the same rights so that a read-only file is refused rather than replaced.
  std::string content;
  if (!read_file(path, content) || access(path.c_str(), W_OK) != 0) {
    std::fprintf(stderr, "Error: Unable to open password file %s. %s.\n", path.c_str(),
                 std::strerror(errno));
    return 1;
  }
  std::vector<file_line> lines;
  const bool parsed = parse_file(content, lines);
  OPENSSL_cleanse(content.data(), content.size());  // may hold plain-text passwords (-U)
  if (!parsed) return 1;

  wiped_string out;
  if (delete_user) {
    bool found = false;
    for (const file_line& l : lines) {
      if (l.parsed.kind == auth::password_line::entry && l.parsed.username == username) {
        found = true;
        continue;
      }
      out.s += l.text;
      out.s += '\n';
    }
    if (!found) {
      std::fprintf(stderr, "Warning: User %s not found in password file.\n", username);
      return 1;
    }
  } else if (update_file) {
    for (const file_line& l : lines) {
      if (l.parsed.kind != auth::password_line::entry || auth::parse_hash(l.parsed.secret)) {
        out.s += l.text;  // blank, comment, or already hashed
        out.s += '\n';
        continue;
      }
      const auto line = new_line(l.parsed.username, l.parsed.secret, o);
      if (!line) return 1;
      out.s += *line;
    }
  } else {
    if (!batch_mode) {
      if (const int rc = get_password(password.s); rc != 0) return rc;
    }
    const auto line = new_line(username, password.s, o);
    if (!line) return 1;
    bool replaced = false;
    for (const file_line& l : lines) {
      if (l.parsed.kind == auth::password_line::entry && l.parsed.username == username) {
        if (!replaced) out.s += *line;  // later duplicates go: the server refuses them
        replaced = true;
        continue;
      }
      out.s += l.text;
      out.s += '\n';
    }
    if (!replaced) out.s += *line;
  }
  for (file_line& l : lines) OPENSSL_cleanse(l.text.data(), l.text.size());

  switch (replace_file(path, out.s, exists ? &old_stat : nullptr)) {
    case write_failure::none:
      return 0;
    case write_failure::temp_file:
      std::fprintf(stderr, "Error: Unable to open temporary file. %s.\n", std::strerror(errno));
      return 1;
    case write_failure::update:
      std::fprintf(stderr, "Error occurred updating password file. %s.\n", std::strerror(errno));
      return 1;
  }
  return 1;
}

}  // namespace

int main(int argc, char* argv[]) {
  std::signal(SIGINT, on_signal);
  std::signal(SIGTERM, on_signal);
  std::signal(SIGHUP, on_signal);
  return run(argc, argv);
}
