#include "tests/integration/node_process.hpp"

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <filesystem>
#include <fstream>
#include <regex>
#include <signal.h>
#include <sstream>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>

#include "protocol/jwt.hpp"

extern char** environ;

namespace parley::test {

using json = nlohmann::json;
using namespace std::chrono_literals;

namespace {

std::string make_temp_dir() {
  const char* base = std::getenv("TMPDIR");
  std::string templ = std::string(base && *base ? base : "/tmp") + "/parley-it-XXXXXX";
  std::vector<char> buf(templ.begin(), templ.end());
  buf.push_back('\0');
  if (!mkdtemp(buf.data()))
    FAIL("mkdtemp failed: " << std::strerror(errno));
  return buf.data();
}

bool reap(pid_t pid, std::chrono::milliseconds within) {
  auto deadline = std::chrono::steady_clock::now() + within;
  for (;;) {
    int status = 0;
    pid_t r = waitpid(pid, &status, WNOHANG);
    if (r == pid || (r < 0 && errno == ECHILD))
      return true;
    if (std::chrono::steady_clock::now() >= deadline)
      return false;
    std::this_thread::sleep_for(10ms);
  }
}

} // namespace

namespace {

/// The value of `--key V` or `--key=V` in `args`, or "".
std::string flag_value(const std::vector<std::string>& args, const std::string& key) {
  for (size_t i = 0; i < args.size(); ++i) {
    if (args[i] == key && i + 1 < args.size())
      return args[i + 1];
    if (args[i].rfind(key + "=", 0) == 0)
      return args[i].substr(key.size() + 1);
  }
  return {};
}

} // namespace

node_process::node_process(std::vector<std::string> extra_args)
    : extra_args_(std::move(extra_args)), data_dir_(make_temp_dir()) {
  tls_.ca_file = flag_value(extra_args_, "--tls.cert");
  start();
}

node_process::node_process(const std::string& config_file, const std::string& name,
                           std::string data_dir, std::vector<std::string> extra_args)
    : extra_args_(std::move(extra_args)), data_dir_(std::move(data_dir)), own_data_dir_(false),
      config_file_(config_file), node_name_(name) {
  tls_.ca_file = flag_value(extra_args_, "--tls.cert");
  std::filesystem::create_directories(data_dir_);
  start();
}

node_process::~node_process() {
  stop();
  if (own_data_dir_ && !std::getenv("PARLEY_KEEP_TEST_DIRS")) {
    std::error_code ignored;
    std::filesystem::remove_all(data_dir_, ignored);
  }
}

void node_process::start() {
  {
    std::lock_guard<std::mutex> guard(mtx_);
    port_ = 0;
    eof_ = false;
  }
  // Everything the child needs is built before fork: only async-signal-safe calls after it.
  std::vector<std::string> args = {PARLEYD_PATH, "--data-dir", data_dir_};
  if (config_file_.empty()) {
    args.insert(args.end(), {"--http-port", "0"});
  } else {
    args.insert(args.end(), {"--config", config_file_, "--node", node_name_});
  }
  args.insert(args.end(), extra_args_.begin(), extra_args_.end());
  std::vector<std::string> env;
  for (char** e = environ; *e; ++e) {
    std::string kv = *e;
    if (kv.rfind("PARLEY_JWT_SECRET=", 0) == 0 || kv.rfind("PARLEY_ADMIN_TOKEN=", 0) == 0)
      continue;
    env.push_back(kv);
  }
  env.push_back("PARLEY_JWT_SECRET=" + test_jwt_secret);
  env.push_back("PARLEY_ADMIN_TOKEN=" + test_admin_token);
  std::vector<char*> argv, envp;
  for (auto& a : args)
    argv.push_back(a.data());
  argv.push_back(nullptr);
  for (auto& e : env)
    envp.push_back(e.data());
  envp.push_back(nullptr);

  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0)
    FAIL("pipe2 failed: " << std::strerror(errno));
  pid_t pid = fork();
  if (pid < 0)
    FAIL("fork failed: " << std::strerror(errno));
  if (pid == 0) {
    // The node must not outlive a crashed test binary.
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    dup2(fds[1], STDOUT_FILENO);
    dup2(fds[1], STDERR_FILENO);
    execve(argv[0], argv.data(), envp.data());
    const char msg[] = "exec of parleyd failed\n";
    ssize_t ignored = write(STDERR_FILENO, msg, sizeof(msg) - 1);
    (void)ignored;
    _exit(127);
  }
  close(fds[1]);
  pid_ = pid;
  reader_ = std::thread([this, fd = fds[0]] { reader(fd); });

  std::unique_lock<std::mutex> lock(mtx_);
  bool ready = cv_.wait_for(lock, 20s, [this] { return port_ != 0 || eof_; });
  bool listening = ready && port_ != 0;
  auto scheme = scheme_;
  lock.unlock();
  if (!listening) {
    auto tail = log_tail();
    stop();
    FAIL("parleyd did not print 'parleyd: listening on http(s)://127.0.0.1:<port>' within 20 s"
         << (ready ? " (it exited)" : "") << "; its output:\n"
         << tail);
  }
  base_url_ = scheme + "://127.0.0.1:" + std::to_string(port_);
}

void node_process::reader(int fd) {
  static const std::regex listening(R"(parleyd: listening on (https?)://127\.0\.0\.1:(\d+))");
  std::ofstream log(data_dir_ + "/parleyd.log", std::ios::app);
  std::string partial;
  char buf[4096];
  for (;;) {
    ssize_t n = read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0)
      break;
    log.write(buf, n);
    log.flush();
    partial.append(buf, static_cast<size_t>(n));
    size_t pos;
    while ((pos = partial.find('\n')) != std::string::npos) {
      std::string line = partial.substr(0, pos);
      partial.erase(0, pos + 1);
      std::smatch m;
      std::lock_guard<std::mutex> guard(mtx_);
      if (port_ == 0 && std::regex_search(line, m, listening)) {
        scheme_ = m[1].str();
        port_ = std::stoi(m[2].str());
        cv_.notify_all();
      }
      lines_.push_back(std::move(line));
      // Keep memory bounded on chatty nodes; the log file has everything.
      if (lines_.size() > 2000) {
        lines_.erase(lines_.begin(), lines_.begin() + 1000);
        lines_dropped_ += 1000;
      }
      cv_.notify_all();
    }
  }
  close(fd);
  std::lock_guard<std::mutex> guard(mtx_);
  eof_ = true;
  cv_.notify_all();
}

void node_process::kill9() {
  if (pid_ > 0) {
    ::kill(pid_, SIGKILL);
    reap(pid_, 10s);
    pid_ = -1;
  }
  if (reader_.joinable())
    reader_.join();
}

void node_process::stop() {
  if (pid_ > 0) {
    ::kill(pid_, SIGTERM);
    if (!reap(pid_, 5s)) {
      ::kill(pid_, SIGKILL);
      reap(pid_, 10s);
    }
    pid_ = -1;
  }
  if (reader_.joinable())
    reader_.join();
}

void node_process::restart() {
  stop();
  start();
}

std::string node_process::log_tail(size_t lines) const {
  std::lock_guard<std::mutex> guard(mtx_);
  std::ostringstream out;
  size_t from = lines_.size() > lines ? lines_.size() - lines : 0;
  for (size_t i = from; i < lines_.size(); ++i)
    out << "  | " << lines_[i] << "\n";
  return out.str();
}

uint64_t node_process::line_count() const {
  std::lock_guard<std::mutex> guard(mtx_);
  return lines_dropped_ + lines_.size();
}

bool node_process::wait_for_line(const std::string& needle, std::chrono::milliseconds timeout,
                                 uint64_t from, bool at_end) const {
  std::unique_lock<std::mutex> lock(mtx_);
  uint64_t next = from; // absolute index of the next line to look at
  auto found = [&] {
    for (next = std::max(next, lines_dropped_); next < lines_dropped_ + lines_.size(); ++next)
      if (auto& line = lines_[next - lines_dropped_];
          at_end ? line.size() >= needle.size() &&
                       line.compare(line.size() - needle.size(), needle.size(), needle) == 0
                 : line.find(needle) != std::string::npos)
        return true;
    return false;
  };
  // The reader notifies on every line and at the end of the output.
  cv_.wait_for(lock, timeout, [&] { return found() || eof_; });
  return found();
}

std::string node_process::token(const std::string& user, const std::string& workspace,
                                int64_t ttl_s) {
  auto u = user_id::parse(user);
  auto w = workspace_id::parse(workspace);
  REQUIRE(u);
  REQUIRE(w);
  jwt_claims claims;
  claims.user = *u;
  claims.workspace = *w;
  claims.exp = std::chrono::duration_cast<std::chrono::seconds>(
                   std::chrono::system_clock::now().time_since_epoch())
                   .count() +
               ttl_s;
  return jwt_sign(claims, test_jwt_secret);
}

client::http_response node_process::http(const std::string& method, const std::string& target,
                                          const std::string& body,
                                          const std::string& bearer) const {
  return client::http_request(base_url_, method, target, body, bearer, 10s, tls_);
}

std::string node_process::create_channel(const std::string& workspace, const std::string& name,
                                         const std::vector<std::string>& members) const {
  json body = {{"workspace_id", workspace}, {"name", name}, {"members", members}};
  auto res = http("POST", "/v1/channels", body.dump(), test_admin_token);
  INFO("POST /v1/channels -> " << res.status << " " << res.body);
  REQUIRE(res.status == 201);
  auto reply = parse_body(res);
  REQUIRE(reply.contains("channel_id"));
  auto id = reply["channel_id"].get<std::string>();
  REQUIRE(channel_id::parse(id));
  return id;
}

void node_process::add_members(const std::string& channel,
                               const std::vector<std::string>& users) const {
  json body = {{"user_ids", users}};
  auto res = http("POST", "/v1/channels/" + channel + "/members", body.dump(), test_admin_token);
  INFO("POST /v1/channels/" << channel << "/members -> " << res.status << " " << res.body);
  REQUIRE(res.status == 200);
}

std::vector<json> node_process::history(const std::string& channel,
                                        const std::string& user_token,
                                        uint64_t after_seq) const {
  std::vector<json> out;
  for (int page = 0; page < 10000; ++page) {
    auto res = http("GET",
                    "/v1/channels/" + channel + "/messages?after_seq=" +
                        std::to_string(after_seq) + "&limit=100",
                    "", user_token);
    INFO("GET history -> " << res.status << " " << res.body.substr(0, 300));
    REQUIRE(res.status == 200);
    auto body = parse_body(res);
    REQUIRE(body["messages"].is_array());
    for (auto& m : body["messages"])
      out.push_back(m);
    if (!body.value("has_more", false) || body["messages"].empty())
      break;
    after_seq = body["messages"].back()["channel_seq"].get<uint64_t>();
  }
  return out;
}

std::string ws_target(const std::string& token, const std::string& workspace) {
  return "/v1/ws?token=" + token + "&workspace_id=" + workspace;
}

client::ws_client open_socket(const node_process& node, const std::string& user,
                              const std::string& workspace) {
  client::ws_client ws{node.tls()};
  auto up = ws.connect(node.base_url(), ws_target(node_process::token(user, workspace), workspace));
  INFO("upgrade as " << user << " in " << workspace << " -> " << up.status << " " << up.body);
  REQUIRE(up.status == 101);
  return ws;
}

session open_session(const node_process& node, const std::string& user,
                     const std::string& workspace, const json& last_seq_map) {
  session s{open_socket(node, user, workspace), json()};
  s.ws.send_json({{"type", "hello"}, {"last_seq_map", last_seq_map}});
  s.hello_ack = expect_frame(s.ws, "hello_ack");
  REQUIRE(s.hello_ack.value("user_id", "") == user);
  return s;
}

json send_frame(const std::string& channel, const std::string& text,
                const std::string& client_msg_id) {
  return {{"type", "message.send"},
          {"channel_id", channel},
          {"text", text},
          {"client_msg_id", client_msg_id}};
}

json expect_frame(client::ws_client& ws, const std::string& type,
                  std::chrono::milliseconds timeout, const std::string& channel) {
  try {
    auto frames = ws.read_until(
        [&](const json& f) {
          return f.value("type", "") == type &&
                 (channel.empty() || f.value("channel_id", "") == channel);
        },
        timeout);
    return frames.back();
  } catch (const client::transport_error& e) {
    FAIL("expected a '" << type << "' frame" << (channel.empty() ? "" : " for " + channel)
                        << ": " << e.what());
  }
  return json();
}

json expect_error(client::ws_client& ws, const std::string& code,
                  std::chrono::milliseconds timeout) {
  auto e = expect_frame(ws, "error", timeout);
  INFO("error frame: " << e.dump());
  REQUIRE(e.value("code", "") == code);
  return e;
}

json parse_body(const client::http_response& res) {
  try {
    return json::parse(res.body);
  } catch (const json::parse_error&) {
    FAIL("HTTP " << res.status << " body is not JSON: " << res.body.substr(0, 300));
  }
  return json();
}

cli_result run_command(const std::string& command) {
  std::string cmd = command + " 2>&1";
  cli_result r;
  FILE* pipe = popen(cmd.c_str(), "r");
  REQUIRE(pipe);
  std::array<char, 4096> buf;
  size_t n;
  while ((n = fread(buf.data(), 1, buf.size(), pipe)) > 0)
    r.out.append(buf.data(), n);
  int status = pclose(pipe);
  r.status = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return r;
}

cli_result run_cli(const std::string& env, const std::string& args) {
  auto r = run_command(env + " " + PARLEY_CLI_PATH + " " + args);
  while (!r.out.empty() && r.out.back() == '\n')
    r.out.pop_back();
  return r;
}

std::vector<std::string> user_range(int first, int n) {
  std::vector<std::string> out;
  for (int i = 0; i < n; ++i)
    out.push_back("U" + std::to_string(first + i));
  return out;
}

} // namespace parley::test
