#pragma once

#include <chrono>
#include <condition_variable>
#include <map>
#include <mutex>
#include <string>
#include <sys/types.h>
#include <thread>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "tools/client/http_client.hpp"
#include "tools/client/ws_client.hpp"

namespace parley::test {

/// The HS256 secret and admin token every test node runs with.
inline const std::string test_jwt_secret = "integration-test-secret-0123456789";
inline const std::string test_admin_token = "integration-admin-token-abcdef";

/// A real `parleyd` process on a fresh data directory and a free port.
///
/// Starts in the constructor and waits (20 s at most) for
/// `parleyd: listening on http(s)://127.0.0.1:<port>`; the node's stdout and stderr go to
/// `<data dir>/parleyd.log`. A node started with `--tls.cert FILE` serves https:// and the
/// helpers below trust FILE. Stops with SIGTERM, then SIGKILL after 5 s, in the destructor.
class node_process {
public:
  /// Starts parleyd with `--data-dir <temp> --http-port 0` plus `extra_args`.
  explicit node_process(std::vector<std::string> extra_args = {});

  /// Starts one node of a cluster file: `--config <config_file> --node <name> --data-dir
  /// <data_dir>` plus `extra_args`; the HTTP port is the one the file gives the node.
  node_process(const std::string& config_file, const std::string& name, std::string data_dir,
               std::vector<std::string> extra_args = {});
  ~node_process();

  node_process(const node_process&) = delete;
  node_process& operator=(const node_process&) = delete;

  /// "http://127.0.0.1:<port>" (or https://) of the running process.
  const std::string& base_url() const { return base_url_; }

  /// What clients of this node trust: the `--tls.cert` file it was started with, if any.
  const client::tls_options& tls() const { return tls_; }

  /// The process id of the running node.
  pid_t pid() const { return pid_; }

  /// The data directory, kept across restarts.
  const std::string& data_dir() const { return data_dir_; }

  /// Kills the process with SIGKILL (a crash) and reaps it.
  void kill9();

  /// Stops gracefully: SIGTERM, then SIGKILL after 5 s.
  void stop();

  /// Starts again on the same data dir (the port may change).
  void restart();

  /// The last lines the node printed (for failure messages).
  std::string log_tail(size_t lines = 30) const;

  /// How many lines the node printed so far, over all its runs (a mark for wait_for_line).
  uint64_t line_count() const;

  /// Waits until a line printed after the first `from` lines contains `needle` (with
  /// `at_end`: ends with it); false on timeout or when the process ended.
  bool wait_for_line(const std::string& needle, std::chrono::milliseconds timeout,
                     uint64_t from = 0, bool at_end = false) const;

  /// True while the process runs.
  bool running() const { return pid_ > 0; }

  /// A user JWT for `user` in `workspace`, valid for `ttl_s` seconds (negative = expired).
  static std::string token(const std::string& user, const std::string& workspace = "W1",
                           int64_t ttl_s = 3600);

  /// POST /v1/channels as admin; returns the new channel id (REQUIREs 201).
  std::string create_channel(const std::string& workspace, const std::string& name,
                             const std::vector<std::string>& members) const;

  /// POST /v1/channels/{id}/members as admin (REQUIREs 200).
  void add_members(const std::string& channel, const std::vector<std::string>& users) const;

  /// One HTTP call against this node.
  client::http_response http(const std::string& method, const std::string& target,
                             const std::string& body = "", const std::string& bearer = "") const;

  /// GET /v1/channels/{id}/messages, following has_more; returns every message (REQUIREs 200).
  std::vector<nlohmann::json> history(const std::string& channel, const std::string& user_token,
                                      uint64_t after_seq = 0) const;

private:
  void start();
  void reader(int fd);

  std::vector<std::string> extra_args_;
  std::string data_dir_;
  bool own_data_dir_ = true; // removed by the destructor
  std::string config_file_;  // cluster node: --config FILE --node NAME
  std::string node_name_;
  std::string base_url_;
  client::tls_options tls_;
  pid_t pid_ = -1;
  std::thread reader_;
  mutable std::mutex mtx_;
  mutable std::condition_variable cv_;
  int port_ = 0;
  std::string scheme_; // of the listening line: http or https
  bool eof_ = false;
  std::vector<std::string> lines_;
  uint64_t lines_dropped_ = 0; // lines erased from the front of lines_
};

/// A WebSocket session after a successful upgrade and hello.
struct session {
  client::ws_client ws;
  nlohmann::json hello_ack;
};

/// The upgrade target for a user token and workspace.
std::string ws_target(const std::string& token, const std::string& workspace = "W1");

/// Connects as `user` (REQUIREs 101), sends hello with `last_seq_map` and waits for hello_ack.
session open_session(const node_process& node, const std::string& user,
                     const std::string& workspace = "W1",
                     const nlohmann::json& last_seq_map = nlohmann::json::object());

/// Connects as `user` and upgrades (REQUIREs 101) without sending hello.
client::ws_client open_socket(const node_process& node, const std::string& user,
                              const std::string& workspace = "W1");

/// A message.send frame.
nlohmann::json send_frame(const std::string& channel, const std::string& text,
                          const std::string& client_msg_id);

/// Reads frames until one has `"type": type` (and, if given, `"channel_id": channel`).
nlohmann::json expect_frame(client::ws_client& ws, const std::string& type,
                            std::chrono::milliseconds timeout = std::chrono::seconds(5),
                            const std::string& channel = "");

/// Reads frames until an error frame; REQUIREs its code, returns it.
nlohmann::json expect_error(client::ws_client& ws, const std::string& code,
                            std::chrono::milliseconds timeout = std::chrono::seconds(5));

/// Parses a JSON body (REQUIREs it is JSON).
nlohmann::json parse_body(const client::http_response& res);

/// The exit status and output (stdout and stderr together) of a command run.
struct cli_result {
  int status = -1;
  std::string out;
};

/// Runs `command` through the shell, stderr merged into stdout; the output as printed.
cli_result run_command(const std::string& command);

/// Runs `parley <args>` through the shell with `env` prepended ("K=V K2=V2"); trailing
/// newlines are dropped from the output.
cli_result run_cli(const std::string& env, const std::string& args);

/// User ids "U<first>" ... "U<first+n-1>".
std::vector<std::string> user_range(int first, int n);

} // namespace parley::test
