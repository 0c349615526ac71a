#pragma once

#include <memory>
#include <string>

#include <boost/asio/ssl/context.hpp>

namespace parley {

/// The server TLS context of the listener from PEM files (`tls.cert`, `tls.key`). Throws
/// std::runtime_error with one line naming the file when a file cannot be read or used.
std::shared_ptr<boost::asio::ssl::context> make_server_tls_context(const std::string& cert_file,
                                                                   const std::string& key_file);

/// Checks the inter-node TLS files (`cluster.tls-*`) at startup: CAF's openssl module reads
/// them only when the first peer connects, and throws from its multiplexer thread then.
/// Throws std::runtime_error with one line naming the file.
void check_cluster_tls_files(const std::string& cert_file, const std::string& key_file,
                             const std::string& ca_file);

} // namespace parley
