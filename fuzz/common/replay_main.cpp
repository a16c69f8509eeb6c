// Replays inputs through a fuzz target's LLVMFuzzerTestOneInput without libFuzzer, so the
// ordinary GCC builds (Release and ASan+UBSan) run every saved crash and the seed corpus as a
// ctest: a fixed bug cannot come back unnoticed, and a checkout without clang still tests it.
//
//   fuzz_replay_<target> PATH...   each PATH a file, or a directory whose files are replayed
//                                  in name order (subdirectories and dotfiles skipped)
// Exit status 0 when every input ran; a crash or a broken invariant aborts on that input
// (its name is printed first, so the log says which one).
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size);

namespace fs = std::filesystem;

namespace {

void run_file(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  if (!in) {
    std::fprintf(stderr, "cannot read %s\n", p.c_str());
    std::exit(2);
  }
  std::vector<char> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::fprintf(stderr, "replay %s (%zu bytes)\n", p.c_str(), bytes.size());
  // A copy of exactly the input's size, as libFuzzer passes it: reading one byte past the
  // end is then an ASan report here too.
  std::vector<std::uint8_t> data(bytes.begin(), bytes.end());
  LLVMFuzzerTestOneInput(data.empty() ? nullptr : data.data(), data.size());
}

}  // namespace

int main(int argc, char** argv) {
  std::size_t count = 0;
  for (int i = 1; i < argc; ++i) {
    const fs::path arg = argv[i];
    std::error_code ec;
    if (fs::is_directory(arg, ec)) {
      std::vector<fs::path> files;
      for (const auto& e : fs::directory_iterator(arg)) {
        const auto name = e.path().filename().string();
        if (e.is_regular_file() && !name.starts_with(".") && name != "README.md")
          files.push_back(e.path());
      }
      std::sort(files.begin(), files.end());
      for (const auto& f : files) run_file(f), ++count;
    } else if (fs::exists(arg, ec)) {
      run_file(arg), ++count;
    } else {
      std::fprintf(stderr, "no such file or directory: %s\n", argv[i]);
      return 2;
    }
  }
  std::printf("replayed %zu inputs\n", count);
  return 0;
}
