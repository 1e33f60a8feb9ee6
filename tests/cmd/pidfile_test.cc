#include "cmd/pidfile.h"

#include <doctest/doctest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>

namespace fs = std::filesystem;

namespace {

struct TempDir {
  fs::path path;
  TempDir() {
    char name[] = "/tmp/tcpdp-pidfile-XXXXXX";
    REQUIRE(mkdtemp(name));
    path = name;
  }
  ~TempDir() { fs::remove_all(path); }
};

std::string read_all(const fs::path& p) {
  std::ifstream f(p);
  std::string s;
  std::getline(f, s);
  return s;
}

}  // namespace

TEST_CASE("the pidfile names this process, refuses a live holder, replaces a dead one") {
  TempDir dir;
  const std::string path = (dir.path / "tcpdp.pid").string();
  std::string error;
  {
    tcpdp::Pidfile p;
    REQUIRE_MESSAGE(p.create(path, &error), error);
    CHECK(read_all(path) == std::to_string(getpid()));
  }
  CHECK_FALSE(fs::exists(path));  // removed at the end

  // A live process holds it.
  const pid_t child = fork();
  REQUIRE(child >= 0);
  if (child == 0) {
    for (;;) pause();
  }
  {
    std::ofstream(path) << child << "\n";
  }
  tcpdp::Pidfile refused;
  CHECK_FALSE(refused.create(path, &error));
  CHECK(error == "the pidfile " + path + " names process " + std::to_string(child) +
                     ", which is running: is tcpdp running already? (stop it, or set [tcpdp] "
                     "pidfile)");
  CHECK(read_all(path) == std::to_string(child));  // left alone

  // Once it is gone, its pidfile is taken over.
  kill(child, SIGKILL);
  waitpid(child, nullptr, 0);
  {
    tcpdp::Pidfile p;
    REQUIRE_MESSAGE(p.create(path, &error), error);
    CHECK(read_all(path) == std::to_string(getpid()));
  }

  tcpdp::Pidfile nowhere;
  CHECK_FALSE(nowhere.create((dir.path / "no" / "such" / "dir.pid").string(), &error));
  CHECK(error.find("No such file or directory") != std::string::npos);
  CHECK(std::distance(fs::directory_iterator(dir.path), fs::directory_iterator()) == 0);
}

TEST_CASE("take_over (start_server's next generation): the file names the newest, the old one "
          "leaves it in place") {
  TempDir dir;
  const std::string path = (dir.path / "tcpdp.pid").string();
  std::string error;
  const pid_t previous = fork();  // the generation still finishing its connections
  REQUIRE(previous >= 0);
  if (previous == 0) {
    for (;;) pause();
  }
  {
    std::ofstream(path) << previous << "\n";
  }
  {
    tcpdp::Pidfile p;
    REQUIRE_MESSAGE(p.create(path, &error, /*take_over=*/true), error);
    CHECK(read_all(path) == std::to_string(getpid()));
    // The previous generation's exit must not remove it: it no longer names that process,
    // which is what the destructor checks; here the roles are swapped by writing it back.
    std::ofstream(path) << previous << "\n";
  }
  CHECK(read_all(path) == std::to_string(previous));  // not ours any more: left alone
  kill(previous, SIGKILL);
  waitpid(previous, nullptr, 0);
}
