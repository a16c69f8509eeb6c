#include "systemd_notify.hpp"

#include <sys/stat.h>
#include <systemd/sd-daemon.h>

#include <cstdio>
#include <cstdlib>
#include <string>

namespace natter::app::systemd {
namespace {

void send(const std::string& state) {
  // 0: keep NOTIFY_SOCKET in the environment (nothing we start needs it, but unsetting it
  // would not be thread-safe). sd_notify returns 0 without a socket: nothing to do.
  sd_notify(0, state.c_str());
}

}  // namespace

void notify_ready(std::string_view status) {
  send("READY=1\nSTATUS=" + std::string(status));
}

void notify_reloading() {
  send("RELOADING=1\nSTATUS=Reloading");
}

void notify_stopping() {
  send("STOPPING=1\nSTATUS=Shutting down");
}

void notify_status(std::string_view status) {
  send("STATUS=" + std::string(status));
}

bool is_journal_stream(int fd) {
  const char* env = std::getenv("JOURNAL_STREAM");
  if (!env) return false;
  unsigned long long dev = 0, ino = 0;
  if (std::sscanf(env, "%llu:%llu", &dev, &ino) != 2) return false;
  struct stat st {};
  if (fstat(fd, &st) != 0) return false;
  return static_cast<unsigned long long>(st.st_dev) == dev &&
         static_cast<unsigned long long>(st.st_ino) == ino;
}

}  // namespace natter::app::systemd
