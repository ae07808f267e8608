#pragma once

#include <cstdlib>
#include <string>

#include <jwt.h>

namespace jobwire::test {

/// A JWT carrying `claims_json` (a JSON object), signed HS256 with `key`;
/// with an empty `key`, unsigned (`alg` none), as a forger would send it.
/// `headers_json` adds header parameters.
inline std::string signed_token(const std::string& claims_json,
                                const std::string& key,
                                const std::string& headers_json = "") {
  jwt_t* jwt = nullptr;
  jwt_new(&jwt);
  jwt_add_grants_json(jwt, claims_json.c_str());
  if (!headers_json.empty())
    jwt_add_headers_json(jwt, headers_json.c_str());
  if (!key.empty())
    jwt_set_alg(jwt, JWT_ALG_HS256,
                reinterpret_cast<const unsigned char*>(key.data()),
                static_cast<int>(key.size()));
  char* text = jwt_encode_str(jwt);
  std::string out{text};
  std::free(text);
  jwt_free(jwt);
  return out;
}

} // namespace jobwire::test
