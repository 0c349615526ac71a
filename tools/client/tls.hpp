#pragma once

#include <memory>
#include <string>

#include <boost/asio/ssl/context.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>

namespace parley::client {

/// How the client trusts an https:// or wss:// node. The peer is always verified (chain and
/// host name); `ca_file` (PEM) is trusted in place of the system CAs, e.g. a node's
/// self-signed dev certificate.
struct tls_options {
  std::string ca_file;
};

/// The stream of a TLS connection.
using tls_stream = boost::beast::ssl_stream<boost::beast::tcp_stream>;

/// A client TLS context verifying peers; throws std::invalid_argument when `ca_file` cannot
/// be read as PEM.
std::shared_ptr<boost::asio::ssl::context> make_client_context(const tls_options& options);

/// Prepares `stream` to connect to `host`: SNI for names, and the certificate must match
/// `host` (a DNS name or an IP address).
void expect_host(tls_stream& stream, const std::string& host);

/// Names why a TLS handshake failed, with OpenSSL's verification result when the
/// certificate was refused (e.g. "certificate verify failed: self-signed certificate").
std::string describe_handshake_failure(tls_stream& stream, boost::beast::error_code ec);

} // namespace parley::client
