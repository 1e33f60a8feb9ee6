#include "sinks/rotating_file.h"

#include <doctest/doctest.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

using tcpdp::RotatingFile;
using tcpdp::RotationSettings;
namespace fs = std::filesystem;

namespace {

// 2026-11-23 14:05:06 UTC (date -u -d '2026-11-23 14:05:06' +%s)
constexpr std::time_t kT0 = 1795442706;

struct TempDir {
  fs::path path;
  TempDir() {
    char name[] = "/tmp/tcpdp-rotate-XXXXXX";
    REQUIRE(mkdtemp(name));
    path = name;
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
};

std::string slurp(const fs::path& p) {
  std::ifstream f(p);
  std::stringstream s;
  s << f.rdbuf();
  return s.str();
}

std::vector<std::string> names(const fs::path& dir) {
  std::vector<std::string> out;
  for (const auto& e : fs::directory_iterator(dir)) out.push_back(e.path().filename().string());
  std::sort(out.begin(), out.end());
  return out;
}

void put(RotatingFile& f, const std::string& text) {
  f.write(text.data(), text.size());
  f.flush();
}

struct Fixture {
  TempDir dir;
  std::time_t now = kT0;
  std::vector<std::string> reports;
  RotationSettings s;
  Fixture() {
    s.dir = (dir.path / "logs").string();  // made by the first write
    s.file_name = "dump.log";
  }
  RotatingFile make() {
    return RotatingFile(
        s, [this](const std::string& r) { reports.push_back(r); }, [this] { return now; });
  }
  // A shell script in the temporary directory as the rotation hook.
  void hook(const std::string& name, const std::string& body) {
    const fs::path path = dir.path / name;
    std::ofstream(path) << "#!/bin/sh\n" << body;
    fs::permissions(path, fs::perms::owner_all);
    s.hook = path.string();
  }
  // "a" in one second's file, "b" in the next's, and the hook's outcome waited for.
  void rotate_once() {
    auto f = make();
    put(f, "a\n");
    ++now;
    put(f, "b\n");
    f.wait_for_hooks(std::chrono::seconds(10));
  }
};

}  // namespace

TEST_CASE("each period names its files in UTC, and the link follows the current one") {
  const std::pair<const char*, const char*> periods[] = {{"secondly", "20261123140506"},
                                                         {"minutely", "202611231405"},
                                                         {"hourly", "2026112314"},
                                                         {"daily", "20261123"}};
  for (const auto& [period, key] : periods) {
    CAPTURE(period);
    Fixture fx;
    fx.s.period = period;
    auto f = fx.make();
    put(f, "one\n");
    const fs::path logs = fx.s.dir;
    CHECK(names(logs) == std::vector<std::string>{"dump.log", std::string("dump.log.") + key});
    CHECK(fs::read_symlink(logs / "dump.log") == std::string("dump.log.") + key);
    CHECK(slurp(logs / "dump.log") == "one\n");
  }
}

TEST_CASE("secondly rotation: a new file each second, the hook told both names") {
  Fixture fx;
  fx.s.period = "secondly";
  // No shell may read this name.
  fx.hook("after rotate;touch pwned",
          "printf '%s\\n' \"$1\" \"$2\" >> \"$(dirname \"$0\")/hook-args\"\n");
  fx.rotate_once();
  const fs::path logs = fx.s.dir;
  CHECK(names(logs) ==
        std::vector<std::string>{"dump.log", "dump.log.20261123140506", "dump.log.20261123140507"});
  CHECK(slurp(logs / "dump.log.20261123140506") == "a\n");
  CHECK(slurp(logs / "dump.log") == "b\n");
  CHECK(slurp(fx.dir.path / "hook-args") == (logs / "dump.log.20261123140506").string() + "\n" +
                                                (logs / "dump.log.20261123140507").string() + "\n");
  CHECK_FALSE(fs::exists(fx.dir.path / "pwned"));
  REQUIRE(fx.reports.size() == 1);
  CHECK(fx.reports[0].find("exited with status 0") != std::string::npos);
}

TEST_CASE("a failing hook is reported with its status and what it said") {
  Fixture fx;
  fx.s.period = "secondly";
  fx.hook("fails", "echo 'no room for the archive' >&2\nexit 3\n");
  fx.rotate_once();
  REQUIRE(fx.reports.size() == 1);
  CHECK(fx.reports[0].find("exited with status 3: no room for the archive") != std::string::npos);

  fx.s.hook = (fx.dir.path / "missing").string();
  auto g = fx.make();
  ++fx.now;
  put(g, "c\n");
  ++fx.now;
  put(g, "d\n");
  CHECK(fx.reports.back().find("not started: No such file or directory") != std::string::npos);
}

// A hook that notes its second argument in DIR/started and then runs until DIR/release exists.
void waiting_hook(Fixture& fx) {
  fx.hook("waits",
          "d=\"$(dirname \"$0\")\"\necho \"$2\" >> \"$d/started\"\n"
          "while [ ! -e \"$d/release\" ]; do sleep 0.02; done\n");
}

size_t count_of(const std::vector<std::string>& reports, const std::string& part) {
  return std::count_if(reports.begin(), reports.end(),
                       [&](const std::string& r) { return r.find(part) != std::string::npos; });
}

TEST_CASE("a rotation while the last hook still runs starts none: skipped, counted, said once") {
  Fixture fx;
  fx.s.period = "secondly";
  waiting_hook(fx);
  const fs::path logs = fx.s.dir;
  {
    auto f = fx.make();
    put(f, "0\n");
    for (int i = 0; i < 6; ++i) {
      ++fx.now;
      put(f, "x\n");
    }
    CHECK(f.skipped_hooks() == 5);
    CHECK(count_of(fx.reports, "not run for") == 1);  // again only a minute later
    CHECK(count_of(fx.reports, "is still running (1 skipped so far)") == 1);
    std::ofstream(fx.dir.path / "release").put('\n');
    f.wait_for_hooks(std::chrono::seconds(10));
    ++fx.now;
    put(f, "y\n");  // the one that ran has ended: this rotation's hook runs
    f.wait_for_hooks(std::chrono::seconds(10));
    CHECK(f.skipped_hooks() == 5);
  }
  CHECK(slurp(fx.dir.path / "started") == (logs / "dump.log.20261123140507").string() + "\n" +
                                              (logs / "dump.log.20261123140513").string() + "\n");
  CHECK(count_of(fx.reports, "exited with status 0") == 2);
}

TEST_CASE("a hook still running at the end is waited for up to hook_wait, then named") {
  Fixture fx;
  fx.s.period = "secondly";
  fx.s.hook_wait = std::chrono::milliseconds(100);
  waiting_hook(fx);
  {
    auto f = fx.make();
    put(f, "a\n");
    ++fx.now;
    put(f, "b\n");
  }
  REQUIRE(fx.reports.size() == 1);
  const std::string& said = fx.reports[0];
  CHECK(said.find("(" + (fs::path(fx.s.dir) / "dump.log.20261123140506").string()) !=
        std::string::npos);
  const std::string marker = "still running after 0.1 s at exit: left running as pid ";
  const size_t at = said.find(marker);
  REQUIRE(at != std::string::npos);
  const pid_t pid = std::stoi(said.substr(at + marker.size()));
  CHECK(kill(pid, 0) == 0);
  std::ofstream(fx.dir.path / "release").put('\n');
  int status = 0;
  CHECK(waitpid(pid, &status, 0) == pid);
}

TEST_CASE("only the newest files are kept") {
  Fixture fx;
  fx.s.period = "secondly";
  fx.s.keep = 3;
  auto f = fx.make();
  for (int i = 0; i < 6; ++i, ++fx.now) put(f, "x\n");
  CHECK(names(fx.s.dir) == std::vector<std::string>{"dump.log", "dump.log.20261123140509",
                                                    "dump.log.20261123140510",
                                                    "dump.log.20261123140511"});
}

TEST_CASE("size rotation within a period numbers the parts") {
  Fixture fx;
  fx.s.period = "daily";
  fx.s.max_size = 12;
  fx.s.keep = 100;
  auto f = fx.make();
  for (int i = 0; i < 12; ++i) put(f, "12345\n");  // two writes a file
  const auto all = names(fx.s.dir);
  CHECK(all.size() == 7);  // six files and the link
  CHECK(std::find(all.begin(), all.end(), "dump.log.20261123.5") != all.end());
  CHECK(fs::read_symlink(fs::path(fx.s.dir) / "dump.log") == "dump.log.20261123.5");
  fx.s.keep = 2;
  auto g = fx.make();  // a new run goes on after the full parts; pruning orders 10 after 9
  for (int i = 0; i < 10; ++i) put(g, "12345\n");
  CHECK(names(fx.s.dir) ==
        std::vector<std::string>{"dump.log", "dump.log.20261123.10", "dump.log.20261123.9"});
}

TEST_CASE("reopen after the file was moved away (logrotate)") {
  Fixture fx;
  fx.s.rotate = false;
  auto f = fx.make();
  put(f, "before\n");
  const fs::path log = fs::path(fx.s.dir) / "dump.log";
  fs::rename(log, fs::path(fx.s.dir) / "dump.log.1");
  f.reopen();
  put(f, "after\n");
  CHECK(slurp(fs::path(fx.s.dir) / "dump.log.1") == "before\n");
  CHECK(slurp(log) == "after\n");
}

TEST_CASE("a removed directory is made again") {
  Fixture fx;
  fx.s.rotate = false;
  auto f = fx.make();
  put(f, "one\n");
  fs::remove_all(fx.s.dir);
  put(f, "lost\n");  // written to the removed file
  f.reopen();
  put(f, "two\n");
  CHECK(slurp(fs::path(fx.s.dir) / "dump.log") == "two\n");
}

TEST_CASE("a full disk: reported once a minute, bytes counted, writing resumes with space") {
  if (geteuid() != 0) {
    MESSAGE("skipped: mounting a small tmpfs needs root");
    return;
  }
  Fixture fx;
  fx.s.rotate = false;
  fs::create_directories(fx.s.dir);
  REQUIRE(mount("tmpfs", fx.s.dir.c_str(), "tmpfs", 0, "size=64k") == 0);
  {
    auto f = fx.make();
    const std::string chunk(16 * 1024, 'x');
    for (int i = 0; i < 8; ++i) put(f, chunk);
    CHECK(f.lost_bytes() > 0);
    REQUIRE(fx.reports.size() == 1);
    CHECK(fx.reports[0].find("No space left on device") != std::string::npos);
    for (int i = 0; i < 4; ++i) put(f, chunk);
    CHECK(fx.reports.size() == 1);  // not again within the minute
    fx.now += 61;
    put(f, chunk);
    CHECK(fx.reports.size() == 2);
    // Space comes back: the next writes land.
    fs::remove(fs::path(fx.s.dir) / "dump.log");
    const uint64_t lost = f.lost_bytes();
    put(f, "back\n");
    CHECK(f.lost_bytes() == lost);
    CHECK(slurp(fs::path(fx.s.dir) / "dump.log") == "back\n");
  }
  umount(fx.s.dir.c_str());
}
