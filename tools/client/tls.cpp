#include "tools/client/tls.hpp"

#include <cerrno>
#include <cstring>
#include <fstream>
#include <stdexcept>

#include <boost/asio/ip/address.hpp>
#include <openssl/ssl.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>

namespace parley::client {

namespace ssl = boost::asio::ssl;

std::shared_ptr<ssl::context> make_client_context(const tls_options& options) {
  auto ctx = std::make_shared<ssl::context>(ssl::context::tls_client);
  ctx->set_options(ssl::context::default_workarounds | ssl::context::no_sslv2
                   | ssl::context::no_sslv3 | ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1);
  boost::system::error_code ec;
  if (options.ca_file.empty()) {
    ctx->set_default_verify_paths(ec);
  } else {
    // OpenSSL 3 words a missing file poorly: ask the OS first.
    if (!std::ifstream{options.ca_file})
      throw std::invalid_argument("cannot read CA file '" + options.ca_file
                                  + "': " + std::strerror(errno));
    ctx->load_verify_file(options.ca_file, ec);
  }
  if (ec)
    throw std::invalid_argument("cannot load CA file '" + options.ca_file
                                + "': " + ec.message() + " (expected PEM certificates)");
  ctx->set_verify_mode(ssl::verify_peer);
  return ctx;
}

void expect_host(tls_stream& stream, const std::string& host) {
  // OpenSSL checks the name itself, so a mismatch shows in the verification result.
  SSL* handle = stream.native_handle();
  boost::system::error_code ec;
  boost::asio::ip::make_address(host, ec);
  if (ec) {
    SSL_set_tlsext_host_name(handle, host.c_str());
    SSL_set1_host(handle, host.c_str());
  } else {
    X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(handle), host.c_str());
  }
}

std::string describe_handshake_failure(tls_stream& stream, boost::beast::error_code ec) {
  if (ec == boost::beast::error::timeout)
    return "timed out";
  auto result = SSL_get_verify_result(stream.native_handle());
  if (result != X509_V_OK)
    return "certificate verify failed: " + std::string(X509_verify_cert_error_string(result));
  return ec.message();
}

} // namespace parley::client
