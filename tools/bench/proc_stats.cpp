#include "tools/bench/proc_stats.hpp"

#include <sys/resource.h>
#include <unistd.h>

#include <fstream>
#include <sstream>
#include <string>

namespace parley::bench {

namespace {

bool read_cpu(int pid, double& cpu_s) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  if (!std::getline(in, line))
    return false;
  // proc(5): the command name in parentheses may contain spaces; fields resume after ')'.
  auto close = line.rfind(')');
  if (close == std::string::npos)
    return false;
  std::istringstream fields(line.substr(close + 2));
  std::string f;
  unsigned long long utime = 0, stime = 0;
  // After ')' come field 3 (state) ... ; utime is field 14, stime field 15.
  for (int i = 3; i <= 15 && fields >> f; ++i) {
    if (i == 14)
      utime = std::stoull(f);
    if (i == 15)
      stime = std::stoull(f);
  }
  cpu_s = static_cast<double>(utime + stime) / static_cast<double>(sysconf(_SC_CLK_TCK));
  return true;
}

bool read_rss(int pid, uint64_t& rss_kb) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string key;
  while (in >> key) {
    if (key == "VmRSS:") {
      in >> rss_kb;
      return true;
    }
    in.ignore(1 << 20, '\n');
  }
  return false;
}

} // namespace

node_sample sample_nodes(const std::vector<int>& pids) {
  node_sample s;
  s.ok = !pids.empty();
  for (int pid : pids) {
    double cpu = 0;
    uint64_t rss = 0;
    if (!read_cpu(pid, cpu) || !read_rss(pid, rss)) {
      s.ok = false;
      continue;
    }
    s.cpu_s += cpu;
    s.rss_kb += rss;
  }
  return s;
}

uint64_t raise_fd_limit() {
  rlimit lim{};
  if (getrlimit(RLIMIT_NOFILE, &lim) != 0)
    return 0;
  if (lim.rlim_cur < lim.rlim_max) {
    rlimit want = lim;
    want.rlim_cur = lim.rlim_max;
    if (setrlimit(RLIMIT_NOFILE, &want) == 0)
      return want.rlim_cur;
  }
  return lim.rlim_cur;
}

} // namespace parley::bench
