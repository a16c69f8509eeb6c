// server/auth: mosquitto-compatible password files and ACL files.
//
// Password vectors below were written by Debian's mosquitto_passwd 2.0.11; files are also made
// by the real /usr/bin/mosquitto_passwd at test time when it is installed. ACL expectations are
// mosquitto 2.0's (security_default.c), except where acl.hpp documents Natter's stricter rule.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <optional>
#include <regex>
#include <string>
#include <vector>

#include "auth/acl.hpp"
#include "auth/password_file.hpp"

namespace auth = natter::auth;
namespace fs = std::filesystem;

namespace {

// alice:secret, 101 iterations (mosquitto_passwd -c -b f alice secret)
constexpr const char* alice_line =
    "alice:$7$101$/m4MXbifHas9lTB9$MnG62+DqIFhy0X1rUuftO9lYZ1exk319jdOW/"
    "xrFGi2ZTYrjC1GZxszK3Dus4GVFOSFlAVQZkxF3RYw/TD56hw==";
// bob:pw2 (mosquitto_passwd -H sha512 -b f bob pw2)
constexpr const char* bob_line =
    "bob:$6$lCvltezguB+DtL7o$S6za/Ahh1+n5wgkL9mJDPDx/XNyeFa+2dO4tfmx1Pbn7p75P3rc7h8f7LRVXWx9d"
    "lorboqqBgWpVRlHRugER9w==";
// carol:pw3, 210000 iterations (mosquitto_passwd -I 210000 -b f carol pw3)
constexpr const char* carol_line =
    "carol:$7$210000$OuYVdFvMeXH+Ghf7$qEf9ubnBvZG7QWoES7OTlzozhwiu7thVCrD4XsDfpOcQaN2Z3EKVooxa5"
    "zw3ByfalH8q3LEmcRNw6oeauGtd8w==";

class temp_dir {
 public:
  temp_dir() {
    std::string tmpl = (fs::temp_directory_path() / "natter_auth_XXXXXX").string();
    path_ = mkdtemp(tmpl.data());
  }
  ~temp_dir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  fs::path operator/(const std::string& name) const { return fs::path(path_) / name; }

 private:
  std::string path_;
};

void write_text(const fs::path& p, const std::string& text) {
  std::ofstream(p, std::ios::binary) << text;
}

constexpr const char* mosquitto_passwd = "/usr/bin/mosquitto_passwd";

// Runs the real mosquitto_passwd with `args`; its exit status.
int run_mosquitto_passwd(const std::vector<std::string>& args) {
  const pid_t pid = fork();
  if (pid == 0) {
    std::vector<char*> argv;
    argv.push_back(const_cast<char*>(mosquitto_passwd));
    for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    execv(mosquitto_passwd, argv.data());
    _exit(127);
  }
  int status = 0;
  waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

auth::password_db parse_ok(const std::string& text) {
  auto r = auth::password_db::parse(text, "passwd");
  EXPECT_TRUE(r.has_value()) << (r.has_error() ? r.error().message : "");
  return r.has_value() ? std::move(*r) : auth::password_db{};
}

std::string parse_error(const std::string& text) {
  auto r = auth::password_db::parse(text, "passwd");
  EXPECT_TRUE(r.has_error());
  return r.has_error() ? r.error().message : "";
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// Password files

TEST(PasswordFile, VerifiesMosquittoPasswdVectors) {
  const auto db = parse_ok(std::string(alice_line) + "\n" + bob_line + "\n" + carol_line + "\n");
  EXPECT_EQ(db.size(), 3u);
  EXPECT_TRUE(db.verify("alice", "secret"));   // $7$, 101 iterations
  EXPECT_TRUE(db.verify("bob", "pw2"));        // $6$
  EXPECT_TRUE(db.verify("carol", "pw3"));      // $7$, 210000 iterations
  EXPECT_FALSE(db.verify("alice", "Secret"));  // wrong passwords
  EXPECT_FALSE(db.verify("alice", "secret "));
  EXPECT_FALSE(db.verify("alice", ""));
  EXPECT_FALSE(db.verify("bob", "pw3"));
  EXPECT_FALSE(db.verify("carol", "pw2"));
  EXPECT_FALSE(db.verify("dave", "secret"));                      // unknown user
  EXPECT_FALSE(db.verify("Alice", "secret"));                     // usernames are case-sensitive
  EXPECT_FALSE(db.verify("alice", std::string("secret\0x", 8)));  // bytes after NUL count
}

TEST(PasswordFile, ParseHashRoundTrips) {
  const std::string field = std::string(alice_line).substr(6);
  const auto h = auth::parse_hash(field);
  ASSERT_TRUE(h);
  EXPECT_EQ(h->type, auth::hash_type::sha512_pbkdf2);
  EXPECT_EQ(h->iterations, 101);
  EXPECT_EQ(auth::format_hash(*h), field);

  const std::string field6 = std::string(bob_line).substr(4);
  const auto h6 = auth::parse_hash(field6);
  ASSERT_TRUE(h6);
  EXPECT_EQ(h6->type, auth::hash_type::sha512);
  EXPECT_EQ(auth::format_hash(*h6), field6);
}

TEST(PasswordFile, ParseHashRejectsMalformedFields) {
  const std::string salt = "/m4MXbifHas9lTB9";  // 12 bytes
  const std::string hash =
      "MnG62+DqIFhy0X1rUuftO9lYZ1exk319jdOW/xrFGi2ZTYrjC1GZxszK3Dus4GVFOSFlAVQZkxF3RYw/TD56hw==";
  ASSERT_TRUE(auth::parse_hash("$7$101$" + salt + "$" + hash));
  for (const std::string& bad : {
           std::string("EXAMPLE_PASSWORD"),  // plain text
           "$5$" + salt + "$" + hash,        // unknown type
           "$7$0$" + salt + "$" + hash,      // iterations must be >= 1
           "$7$-1$" + salt + "$" + hash,
           "$7$1x$" + salt + "$" + hash,
           "$7$$" + salt + "$" + hash,
           "$7$99999999999$" + salt + "$" + hash,  // overflows int
           "$7$101$" + salt,                       // no hash
           "$7$101$" + salt + "$",
           "$7$101$" + salt.substr(4) + "$" + hash,              // 9-byte salt
           "$7$101$" + salt + "AAAA$" + hash,                    // 15-byte salt
           "$7$101$" + salt + "$" + hash.substr(0, 84),          // short hash
           "$7$101$" + salt + "$" + hash.substr(0, 86),          // padding missing
           "$7$101$" + salt + "$" + hash + "$",                  // trailing field
           "$7$101$" + salt + "$" + hash.substr(0, 85) + "x==",  // non-zero bits under padding
           "$7$101$" + salt.substr(0, 15) + "*$" + hash,         // not base64
           "$6$" + salt + "$" + hash.substr(0, 86) + "=A",
       }) {
    EXPECT_FALSE(auth::parse_hash(bad)) << bad;
  }
}

TEST(PasswordFile, HashNewMakesPbkdf2LinesWithFreshSalt) {
  const auto a = auth::hash_new("EXAMPLE_PASSWORD", 1000);
  const auto b = auth::hash_new("EXAMPLE_PASSWORD", 1000);
  ASSERT_TRUE(a && b);
  const std::regex shape(R"(\$7\$1000\$[A-Za-z0-9+/]{16}\$[A-Za-z0-9+/]{86}==)");
  EXPECT_TRUE(std::regex_match(*a, shape)) << *a;
  EXPECT_NE(*a, *b);  // RAND_bytes salt
  const auto db = parse_ok("u:" + *a + "\n");
  EXPECT_TRUE(db.verify("u", "EXAMPLE_PASSWORD"));
  EXPECT_FALSE(db.verify("u", "EXAMPLE_PASSWORD_2"));

  const auto s = auth::hash_new("pw", 0, auth::hash_type::sha512);  // iterations unused
  ASSERT_TRUE(s);
  EXPECT_TRUE(std::regex_match(*s, std::regex(R"(\$6\$[A-Za-z0-9+/]{16}\$[A-Za-z0-9+/]{86}==)")));
  EXPECT_TRUE(parse_ok("u:" + *s).verify("u", "pw"));

  EXPECT_FALSE(auth::hash_new("pw", 0));  // PBKDF2 needs >= 1 iteration
}

TEST(PasswordFile, DefaultIterationsAre210000) {
  const auto h = auth::hash_new("pw");
  ASSERT_TRUE(h);
  EXPECT_EQ(h->rfind("$7$210000$", 0), 0u) << *h;
}

TEST(PasswordFile, IgnoresBlankLinesCommentsAndBlanksAroundFields) {
  const std::string field = std::string(alice_line).substr(6);
  const auto db = parse_ok("# users\n\n   \n  # indented comment\r\n  alice  :  " + field +
                           "  \r\n" + bob_line);  // CRLF and no final newline
  EXPECT_EQ(db.size(), 2u);
  EXPECT_TRUE(db.verify("alice", "secret"));
  EXPECT_TRUE(db.verify("bob", "pw2"));
  EXPECT_TRUE(parse_ok("").size() == 0);
}

TEST(PasswordFile, NamesFileAndLineOfBadLines) {
  EXPECT_EQ(parse_error(std::string(alice_line) + "\n\njohn_doe:EXAMPLE_PASSWORD\n")
                .rfind("passwd:3: password of user 'john_doe' is not hashed", 0),
            0u);
  EXPECT_EQ(parse_error("# c\njust_a_name\n").rfind("passwd:2: expected USERNAME:HASH", 0), 0u);
  EXPECT_EQ(parse_error(":$7$1$x$y\n").rfind("passwd:1: expected USERNAME:HASH", 0), 0u);
  EXPECT_EQ(parse_error("u:\n").rfind("passwd:1: expected USERNAME:HASH", 0), 0u);
  EXPECT_EQ(
      parse_error("u:$7$101$AAAA$BBBB\n").rfind("passwd:1: invalid password hash for user 'u'", 0),
      0u);
  EXPECT_EQ(parse_error(std::string(alice_line) + "\n" + alice_line + "\n")
                .rfind("passwd:2: duplicate user 'alice' (first on line 1)", 0),
            0u);
  EXPECT_EQ(parse_error(std::string(70000, 'x') + std::string(alice_line).substr(5))
                .rfind("passwd:1: username longer than 65535 bytes", 0),
            0u);
}

TEST(PasswordFile, LoadReportsUnreadableFile) {
  temp_dir dir;
  const auto r = auth::password_db::load((dir / "missing").string());
  ASSERT_TRUE(r.has_error());
  EXPECT_NE(r.error().message.find((dir / "missing").string() + ": cannot open password file"),
            std::string::npos)
      << r.error().message;
  EXPECT_THROW((void)r.value(), std::runtime_error);
}

TEST(PasswordFile, ClassifiesLinesLikeTheServer) {
  using L = auth::password_line;
  EXPECT_EQ(auth::classify_line("").kind, L::blank);
  EXPECT_EQ(auth::classify_line(" \t\r").kind, L::blank);
  EXPECT_EQ(auth::classify_line("#x:y").kind, L::comment);
  EXPECT_EQ(auth::classify_line("nocolon").kind, L::corrupt);
  const auto e = auth::classify_line(" john doe : pass:word \r");
  EXPECT_EQ(e.kind, L::entry);
  EXPECT_EQ(e.username, "john doe");
  EXPECT_EQ(e.secret, "pass:word");  // everything after the first ':'
}

TEST(PasswordFile, ReadsFilesWrittenByRealMosquittoPasswd) {
  if (access(mosquitto_passwd, X_OK) != 0) GTEST_SKIP() << mosquitto_passwd << " not installed";
  temp_dir dir;
  const std::string f = (dir / "passwd").string();
  ASSERT_EQ(run_mosquitto_passwd({"-c", "-b", f, "john_doe", "EXAMPLE_PASSWORD"}), 0);
  ASSERT_EQ(run_mosquitto_passwd({"-b", f, "mary_smith", "EXAMPLE_PASSWORD_2"}), 0);
  ASSERT_EQ(run_mosquitto_passwd({"-H", "sha512", "-b", f, "old_style", "pw with spaces"}), 0);
  ASSERT_EQ(run_mosquitto_passwd({"-I", "210000", "-b", f, "strong", "p@ss:w0rd"}), 0);

  const auto r = auth::password_db::load(f);
  ASSERT_TRUE(r.has_value()) << r.error().message;
  EXPECT_EQ(r->size(), 4u);
  EXPECT_TRUE(r->verify("john_doe", "EXAMPLE_PASSWORD"));
  EXPECT_TRUE(r->verify("mary_smith", "EXAMPLE_PASSWORD_2"));
  EXPECT_TRUE(r->verify("old_style", "pw with spaces"));
  EXPECT_TRUE(r->verify("strong", "p@ss:w0rd"));
  EXPECT_FALSE(r->verify("john_doe", "EXAMPLE_PASSWORD_2"));
  EXPECT_FALSE(r->verify("mary_smith", "EXAMPLE_PASSWORD"));
  EXPECT_FALSE(r->verify("nobody", "EXAMPLE_PASSWORD"));

  // And mosquitto_passwd -U on a plain-text file, as the install guide does.
  const std::string plain = (dir / "plain").string();
  write_text(plain, "john_doe:EXAMPLE_PASSWORD\nmary_smith:EXAMPLE_PASSWORD_2\n");
  ASSERT_EQ(run_mosquitto_passwd({"-U", plain}), 0);
  const auto u = auth::password_db::load(plain);
  ASSERT_TRUE(u.has_value()) << u.error().message;
  EXPECT_TRUE(u->verify("john_doe", "EXAMPLE_PASSWORD"));
  EXPECT_TRUE(u->verify("mary_smith", "EXAMPLE_PASSWORD_2"));
}

// An unknown user must cost a hash computation, like a known user with a wrong password.
// Bounds are loose (2 cores, sanitizers): the point is "one KDF run" versus "nothing".
TEST(PasswordFile, UnknownUsersTakeAsLongAsKnownOnes) {
  const auto line = auth::hash_new("right", 20000);
  ASSERT_TRUE(line);
  const auto db = parse_ok("known:" + *line + "\n");
  using clock = std::chrono::steady_clock;
  const auto time_of = [&](const char* user) {
    std::vector<double> v;
    for (int i = 0; i < 5; ++i) {
      const auto t0 = clock::now();
      EXPECT_FALSE(db.verify(user, "wrong"));
      v.push_back(std::chrono::duration<double>(clock::now() - t0).count());
    }
    std::sort(v.begin(), v.end());
    return v[2];
  };
  const double known = time_of("known");
  const double unknown = time_of("unknown");
  EXPECT_GT(unknown, known * 0.5) << "known " << known << " s, unknown " << unknown << " s";
  EXPECT_LT(unknown, known * 2.0) << "known " << known << " s, unknown " << unknown << " s";
}

// ---------------------------------------------------------------------------------------------
// ACL files

namespace {

auth::acl_db acl(const std::string& text) {
  auto r = auth::acl_db::parse(text, "acl");
  EXPECT_TRUE(r.has_value()) << (r.has_error() ? r.error().message : "");
  return r.has_value() ? std::move(*r) : auth::acl_db{};
}

std::string acl_error(const std::string& text) {
  auto r = auth::acl_db::parse(text, "acl");
  EXPECT_TRUE(r.has_error()) << text;
  return r.has_error() ? r.error().message : "";
}

constexpr auto R = auth::access::read;
constexpr auto W = auth::access::write;
const std::optional<std::string_view> anonymous = std::nullopt;

struct acl_case {
  std::optional<std::string_view> user;
  std::string_view client_id;
  std::string_view topic;
  auth::access access;
  bool allowed;
};

void expect_cases(const auth::acl_db& db, const std::vector<acl_case>& cases) {
  for (const auto& c : cases) {
    EXPECT_EQ(db.check(c.user, c.client_id, c.topic, c.access), c.allowed)
        << "user " << (c.user ? std::string(*c.user) : "(anonymous)") << ", client " << c.client_id
        << ", " << (c.access == R ? "read " : "write ") << c.topic;
  }
}

}  // namespace

TEST(AclMatch, MosquittoTopicMatching) {
  struct m {
    const char* filter;
    const char* topic;
    bool match;
  };
  for (const m& c : std::vector<m>{
           {"a/b", "a/b", true},       {"a/b", "a/c", false},      {"a/b", "a/b/c", false},
           {"a/b/c", "a/b", false},    {"a/+", "a/b", true},       {"a/+", "a/", true},
           {"a/+", "a/b/c", false},    {"+/+", "/x", true},        {"+", "/x", false},
           {"a/#", "a", true},         {"a/#", "a/b/c", true},     {"a/#", "ab", false},
           {"#", "a/b", true},         {"#", "/", true},           {"a/+/#", "a/b", true},
           {"a/+/#", "a", false},      {"#", "$SYS/x", false},     {"+/x", "$SYS/x", false},
           {"$SYS/#", "$SYS/x", true}, {"$SYS/#", "SYS/x", false}, {"a/b", "a/+", false},
           {"a/#", "a/#", false},      {"", "a", false},           {"a", "", false},
       }) {
    EXPECT_EQ(auth::acl_topic_matches(c.filter, c.topic), c.match) << c.filter << " " << c.topic;
  }
}

TEST(Acl, WithoutAclFileEverythingButSysWriteAndShare) {
  const auth::acl_db db;
  EXPECT_FALSE(db.restricted());
  expect_cases(db, {
                       {"alice", "c1", "any/topic", W, true},
                       {anonymous, "c1", "any/topic", R, true},
                       {"alice", "c1", "$SYS/broker/uptime", R, true},
                       {"alice", "c1", "$SYS/broker/uptime", W, false},  // never
                       {"alice", "c1", "$SYS", W, false},
                       {"alice", "c1", "$SYSTEM/x", W, false},  // mosquitto's prefix test
                       {"alice", "c1", "$share/g/t", W, false},
                       {"alice", "c1", "$share/g/t", R, false},
                       {"alice", "c1", "$other/t", W, true},
                   });
  EXPECT_TRUE(db.check_subscribe("alice", "c1", "#"));
  EXPECT_TRUE(db.check_subscribe("alice", "c1", "$share/g/#"));
}

TEST(Acl, AnonymousRulesComeBeforeTheFirstUserLine) {
  const auto db =
      acl("# comment\n"
          "topic read public/#\n"
          "topic deny public/secret\n"
          "\n"
          "user alice\n"
          "topic readwrite alice/#\n");
  expect_cases(db, {
                       {anonymous, "c", "public/news", R, true},
                       {anonymous, "c", "public/news", W, false},
                       {anonymous, "c", "public/secret", R, false},
                       {anonymous, "c", "alice/x", R, false},
                       {"alice", "c", "public/news", R, false},  // not for named users
                       {"alice", "c", "alice/x", W, true},
                       {"", "c", "public/news", R, false},  // empty username is a username
                       {"bob", "c", "alice/x", R, false},   // no block, no patterns: nothing
                       {"bob", "c", "public/news", R, false},
                   });
}

TEST(Acl, AccessWords) {
  const auto db =
      acl("user u\n"
          "topic read r\n"
          "topic write w\n"
          "topic readwrite rw\n"
          "topic both\n"  // no access word: readwrite
          "topic read\n"  // the topic "read", readwrite (mosquitto's reading)
          "topic deny d\n"
          "topic read  spaced   topic \n");  // the filter is the rest of the line, trimmed
  expect_cases(db, {
                       {"u", "c", "r", R, true},
                       {"u", "c", "r", W, false},
                       {"u", "c", "w", R, false},
                       {"u", "c", "w", W, true},
                       {"u", "c", "rw", R, true},
                       {"u", "c", "rw", W, true},
                       {"u", "c", "both", R, true},
                       {"u", "c", "both", W, true},
                       {"u", "c", "read", R, true},
                       {"u", "c", "read", W, true},
                       {"u", "c", "d", R, false},
                       {"u", "c", "d", W, false},
                       {"u", "c", "spaced   topic", R, true},
                   });
}

TEST(Acl, DenyWinsWhereverItIsWritten) {
  const auto db =
      acl("user u\n"
          "topic readwrite a/#\n"
          "topic deny a/secret/#\n"
          "pattern readwrite p/%u/#\n"
          "pattern deny p/%u/locked\n");
  expect_cases(db, {
                       {"u", "c", "a/x", R, true},
                       {"u", "c", "a/secret", R, false},
                       {"u", "c", "a/secret/x", W, false},
                       {"u", "c", "p/u/x", W, true},
                       {"u", "c", "p/u/locked", R, false},
                       {"v", "c", "p/v/locked", W, false},
                   });
}

TEST(Acl, UserGrantWinsOverDenyPattern) {  // mosquitto checks the user's rules first
  const auto db =
      acl("user u\n"
          "topic read x/#\n"
          "pattern deny x/%u\n");
  expect_cases(db, {{"u", "c", "x/u", R, true}, {"v", "c", "x/v", R, false}});
}

TEST(Acl, UserBlocksMergeAndNamesMayHoldSpaces) {
  const auto db =
      acl("user alice\n"
          "topic read a\n"
          "user john doe\n"
          "topic read j\n"
          "user alice\n"
          "topic read b\n");
  expect_cases(db, {
                       {"alice", "c", "a", R, true},
                       {"alice", "c", "b", R, true},
                       {"alice", "c", "j", R, false},
                       {"john doe", "c", "j", R, true},
                       {"john", "c", "j", R, false},
                   });
}

TEST(Acl, PatternsSubstituteUsernameAndClientId) {
  const auto db =
      acl("pattern read chat/%u/inbox/#\n"
          "pattern write presence/%u\n"
          "pattern readwrite devices/dev-%c/#\n");
  expect_cases(db, {
                       {"alice", "c1", "chat/alice/inbox/m1", R, true},
                       {"alice", "c1", "chat/alice/inbox", R, true},
                       {"alice", "c1", "chat/alice/inbox/m1", W, false},
                       {"alice", "c1", "chat/bob/inbox/m1", R, false},
                       {"alice", "c1", "presence/alice", W, true},
                       {"alice", "c1", "presence/bob", W, false},
                       {"alice", "c1", "devices/dev-c1/t", W, true},
                       {"alice", "c1", "devices/dev-c2/t", W, false},
                       // %u patterns skip anonymous clients; %c ones still apply
                       {anonymous, "c1", "chat/%u/inbox/m1", R, false},
                       {anonymous, "c1", "presence/", W, false},
                       {anonymous, "c1", "devices/dev-c1/t", R, true},
                   });
  EXPECT_EQ(db.warnings().size(), 0u);
}

TEST(Acl, WildcardsInUsernameOrClientIdCannotWidenPatterns) {
  const auto db =
      acl("user ev+il\n"
          "topic read own/#\n"
          "pattern read chat/%u/#\n"
          "pattern read dev/%c\n");
  expect_cases(db, {
                       {"+", "c", "chat/alice/x", R, false},
                       {"#", "c", "chat/alice/x", R, false},
                       {"#", "c", "chat/#/x", R, false},
                       {"a", "#", "dev/x", R, false},
                       {"a", "+", "dev/x", R, false},
                       // mosquitto refuses every pattern for such a client...
                       {"a#", "c", "dev/c", R, false},
                       // ...but its own topic rules still apply
                       {"ev+il", "c", "own/x", R, true},
                       {"ev+il", "c", "chat/ev+il/x", R, false},
                       {"ok", "c", "chat/ok/x", R, true},
                   });
}

TEST(Acl, SlashInSubstitutedValueIsRefused) {  // Natter's rule; mosquitto 2.0 allows it
  const auto db = acl("pattern read chat/%u/#\n");
  expect_cases(db, {
                       {"alice/x", "c", "chat/alice/x/m", R, false},
                       {"alice/x", "c", "chat/alice/m", R, false},
                       {"alice", "app/1", "chat/alice/m", R, true},  // %c is not used
                   });
  const auto by_id = acl("pattern read dev/%c/#\n");
  expect_cases(by_id, {
                          {"alice", "a/b", "dev/a/b/t", R, false},
                          {"alice/x", "ab", "dev/ab/t", R, true},  // %u is not used
                      });
}

TEST(Acl, DollarTopics) {
  const auto db =
      acl("user u\n"
          "topic readwrite #\n"
          "topic readwrite $SYS/#\n"
          "user v\n"
          "topic readwrite #\n"
          "topic read +/x\n");
  expect_cases(db, {
                       {"u", "c", "a/b", W, true},
                       {"u", "c", "$SYS/broker/uptime", R, true},
                       {"u", "c", "$SYS/broker/uptime", W, false},  // never
                       {"u", "c", "$share/g/t", R, false},
                       {"v", "c", "$SYS/broker/uptime", R, false},  // '#' misses '$' topics
                       {"v", "c", "$SYS/x", R, false},
                       {"v", "c", "$other/x", W, false},
                   });
}

TEST(Acl, WildcardFilters) {
  const auto db =
      acl("topic read sensors/+/temp\n"
          "topic read logs/#\n");
  expect_cases(db, {
                       {anonymous, "c", "sensors/a/temp", R, true},
                       {anonymous, "c", "sensors//temp", R, true},
                       {anonymous, "c", "sensors/a/b/temp", R, false},
                       {anonymous, "c", "logs", R, true},
                       {anonymous, "c", "logs/a/b", R, true},
                       {anonymous, "c", "logsx", R, false},
                   });
}

TEST(Acl, SubscribeIsGrantedAsMosquitto20DoesReadIsCheckedPerMessage) {
  const auto db = acl("user u\ntopic read a/b\ntopic deny c\n");
  EXPECT_TRUE(db.check_subscribe("u", "c", "#"));
  EXPECT_TRUE(db.check_subscribe("u", "c", "c"));
  EXPECT_TRUE(db.check_subscribe("u", "c", "$SYS/#"));
  EXPECT_TRUE(db.check_subscribe(anonymous, "c", "$share/g/a/b"));
  EXPECT_FALSE(db.check("u", "c", "c", R));
}

TEST(Acl, ClientAclOutlivesItsDb) {
  std::optional<auth::client_acl> c;
  {
    const auto db = acl("user u\ntopic read a\npattern read p/%u\n");
    c = db.for_client("u", "id");
  }
  EXPECT_TRUE(c->can_read("a"));
  EXPECT_TRUE(c->can_read("p/u"));
  EXPECT_FALSE(c->can_write("a"));
  EXPECT_TRUE(c->can_subscribe("#"));
}

TEST(Acl, ParseErrorsNameFileAndLine) {
  EXPECT_EQ(acl_error("topic read a\nbogus line\n").rfind("acl:2: invalid line", 0), 0u);
  EXPECT_EQ(acl_error("topic\n").rfind("acl:1: missing topic after 'topic'", 0), 0u);
  EXPECT_EQ(acl_error("\n\npattern   \n").rfind("acl:3: missing topic", 0), 0u);
  EXPECT_EQ(acl_error("user\n").rfind("acl:1: missing username", 0), 0u);
  EXPECT_EQ(acl_error("user   \n").rfind("acl:1: missing username", 0), 0u);
  EXPECT_EQ(acl_error("topic foo bar\n").rfind("acl:1: invalid access type 'foo'", 0), 0u);
  EXPECT_EQ(acl_error("topic Read a\n").rfind("acl:1: invalid access type 'Read'", 0), 0u);
  EXPECT_EQ(acl_error("topic read a/#/b\n").rfind("acl:1: invalid topic filter 'a/#/b'", 0), 0u);
  EXPECT_EQ(acl_error("topic read a+\n").rfind("acl:1: invalid topic filter", 0), 0u);
  EXPECT_EQ(acl_error("pattern read a/b#\n").rfind("acl:1: invalid topic filter", 0), 0u);
  EXPECT_EQ(acl_error("Topic read a\n").rfind("acl:1: invalid line", 0), 0u);    // case matters
  EXPECT_EQ(acl_error("topic\tread\ta\n").rfind("acl:1: invalid line", 0), 0u);  // spaces only
  const auto r = auth::acl_db::load("/nonexistent/acl");
  ASSERT_TRUE(r.has_error());
  EXPECT_EQ(r.error().message.rfind("/nonexistent/acl: cannot open acl file", 0), 0u);
}

TEST(Acl, TolerantReading) {
  const auto db =
      acl("   topic read a\r\n"     // leading spaces, CRLF
          "  # indented comment\n"  // (mosquitto rejects this line; accepting it changes nothing)
          "topic    write    b  \t\n"
          "topic read c");  // no final newline
  expect_cases(db, {
                       {anonymous, "x", "a", R, true},
                       {anonymous, "x", "b", W, true},
                       {anonymous, "x", "c", R, true},
                   });
}

TEST(Acl, WarnsAboutPatternsWithoutSubstitution) {
  const auto db = acl("pattern read everyone/#\npattern read %u/#\n");
  ASSERT_EQ(db.warnings().size(), 1u);
  EXPECT_EQ(db.warnings()[0].rfind("acl:1: pattern 'everyone/#' contains neither", 0), 0u);
  expect_cases(db, {{anonymous, "c", "everyone/x", R, true}});
}

TEST(Acl, ShippedDefaultAclLoads) {
  // packaging/acl, relative to this file.
  const fs::path p = fs::path(__FILE__).parent_path() / ".." / ".." / "packaging" / "acl";
  if (!fs::exists(p)) GTEST_SKIP() << p << " not found";
  const auto r = auth::acl_db::load(p.string());
  ASSERT_TRUE(r.has_value()) << r.error().message;
  // The patterns without %u/%c are deliberate: every user reads everyone's presence, and
  // other topics are open to everyone (the chat service, not the ACL, guards chat/ then).
  ASSERT_EQ(r->warnings().size(), 2u);
  EXPECT_NE(r->warnings()[0].find("presence/#"), std::string::npos);
  EXPECT_NE(r->warnings()[1].find("'#'"), std::string::npos);
  EXPECT_TRUE(r->check("alice", "web-1", "home/lights/sitting_room", W));
  EXPECT_TRUE(r->check("alice", "web-1", "home/lights/sitting_room", R));
  EXPECT_TRUE(r->check("alice", "web-1", "chat/alice/inbox", R));
  EXPECT_TRUE(r->check("alice", "web-1", "chat/alice/reply/web-1", R));
  EXPECT_TRUE(r->check("alice", "web-1", "chat/alice/outbox", W));
  EXPECT_TRUE(r->check("alice", "web-1", "presence/alice/web-1", W));
  EXPECT_TRUE(r->check("alice", "web-1", "presence/bob", R));
}
