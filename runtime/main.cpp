#include <csignal>
#include <cstdlib>
#include <cstdio>
#include <iostream>
#include <stdexcept>

#include "runtime/node.hpp"
#include "storage/soci_store.hpp"

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  for (auto& a : args)
    if (a == "--help" || a == "-h") {
      std::cout << parley::usage();
      return 0;
    }
  // SIGINT/SIGTERM are taken with sigwait by the main thread; block them before any thread.
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  std::signal(SIGPIPE, SIG_IGN);
  try {
    auto cfg = parley::parse_config(args);
    parley::node n{cfg};
    auto& c = n.config();
    auto url = std::string(c.tls_cert.empty() ? "http://" : "https://") + c.http_host + ":"
               + std::to_string(n.port());
    auto storage = c.storage_shards.size() == 1
                     ? parley::storage::redact_connection(c.storage_shards[0])
                     : std::to_string(c.storage_shards.size()) + " shards";
    std::cout << "parleyd: node " << c.node_name << ", storage " << storage << ", max "
              << c.max_connections << " connections\n";
    if (c.secrets_generated) {
      std::cout << "parleyd: dev secrets generated (set PARLEY_JWT_SECRET and PARLEY_ADMIN_TOKEN "
                   "to keep them)\n"
                << "parleyd: admin token: " << c.admin_token << "\n"
                << "parleyd: jwt secret: " << c.jwt_secret << "\n";
    }
    std::cout << "parleyd: mint a user token: PARLEY_JWT_SECRET="
              << (c.secrets_generated ? c.jwt_secret : "<secret>")
              << " parley token --user U1 --workspace W1\n"
              << "parleyd: listening on " << url << std::endl;
    n.wait_for_signal();
    std::cout << "parleyd: shutting down" << std::endl;
    // Every ack was sent after its commit, so leaving now loses nothing that was acked. Exiting
    // without unwinding avoids tearing down sockets, actors and the actor system in an order
    // where one still holds the other.
    std::_Exit(0);
  } catch (const std::exception& e) {
    std::cerr << "parleyd: " << e.what() << std::endl;
    return 1;
  }
  return 0;
}
