// sacct cross-check (see sacct.h): fork/exec without a shell, output read through a pipe with a
// deadline so a hung slurmdbd cannot hang the end of training.
#include "energy/sacct.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <sstream>
#include <vector>

#include "core/error.h"

namespace ofa::energy {
namespace {

// Runs argv, returns stdout; false with *note on failure or timeout.
// Appends what fd yields to *out until end of file or an error; false when timeout_s passed first.
bool read_until(int fd, double timeout_s, std::string* out) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(timeout_s);
  char buf[4096];
  for (;;) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return false;
    pollfd p{fd, POLLIN, 0};
    int r = ::poll(&p, 1, int(left.count()));
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return r != 0;
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return true;
    out->append(buf, size_t(n));
  }
}

bool run_capture(const std::vector<std::string>& argv, double timeout_s, std::string* out, std::string* note) {
  // Built before fork: the child of a threaded process may only make async-signal-safe calls.
  std::vector<char*> args;
  for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) {
    *note = "pipe failed";
    return false;
  }
  pid_t pid = ::fork();
  if (pid < 0) {
    ::close(fds[0]);
    ::close(fds[1]);
    *note = "fork failed";
    return false;
  }
  if (pid == 0) {
    ::dup2(fds[1], STDOUT_FILENO);
    int devnull = ::open("/dev/null", O_WRONLY);
    if (devnull >= 0) ::dup2(devnull, STDERR_FILENO);
    ::execvp(args[0], args.data());
    ::_exit(127);
  }
  ::close(fds[1]);
  const bool timed_out = !read_until(fds[0], timeout_s, out);
  ::close(fds[0]);
  if (timed_out) ::kill(pid, SIGKILL);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (timed_out) {
    *note = argv[0] + " did not answer within " + std::to_string(int(timeout_s)) + " s";
    return false;
  }
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    *note = argv[0] + (WIFEXITED(status) && WEXITSTATUS(status) == 127 ? " not found"
                                                                        : " failed (status " + std::to_string(status) + ")");
    return false;
  }
  return true;
}

}  // namespace

SacctResult sacct_consumed_energy(const std::string& job_id, const std::string& sacct, double timeout_s) {
  OFA_CHECK(!job_id.empty(), "sacct cross-check: empty job id");
  for (char c : job_id)
    OFA_CHECK(std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '.' || c == '+', "sacct cross-check: ",
              "job id '", job_id, "' has characters a Slurm job id cannot have");
  SacctResult res;
  std::string out;
  if (!run_capture({sacct, "-j", job_id, "-n", "-P", "-o", "ConsumedEnergyRaw"}, timeout_s, &out, &res.note))
    return res;
  std::istringstream is(out);
  std::string line;
  double best = 0;
  while (std::getline(is, line)) {
    size_t b = line.find_first_not_of(" \t\r");
    if (b == std::string::npos) continue;
    line = line.substr(b, line.find_last_not_of(" \t\r") - b + 1);
    char* end = nullptr;
    const double v = std::strtod(line.c_str(), &end);
    if (end && *end == '\0' && v > best) best = v;
  }
  if (best > 0)
    res.joules = best;
  else
    res.note = "sacct reports no ConsumedEnergyRaw for job " + job_id + " (no energy accounting plugin?)";
  return res;
}

}  // namespace ofa::energy
