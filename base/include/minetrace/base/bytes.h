// Byte strings, fixed-size hashes and hex. Bytes owns; ByteView borrows and must not outlive
// what it points into. Hash32 is a SHA-256 output or a 32-byte key.
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "minetrace/base/result.h"

namespace minetrace {

using Bytes = std::vector<uint8_t>;
using ByteView = std::span<const uint8_t>;
using Hash32 = std::array<uint8_t, 32>;

inline ByteView AsBytes(std::string_view s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}
inline std::string_view AsChars(ByteView b) {
  return {reinterpret_cast<const char*>(b.data()), b.size()};
}
inline std::string ToString(ByteView b) { return std::string(AsChars(b)); }
inline Bytes ToBytes(std::string_view s) { return Bytes(s.begin(), s.end()); }

std::string ToHex(ByteView bytes);
// Accepts upper or lower case, no prefix; refuses odd length and non-hex characters.
Result<Bytes> FromHex(std::string_view hex);
// Exactly 32 bytes of hex (64 characters).
Result<Hash32> Hash32FromHex(std::string_view hex);
// Exactly 32 bytes; refuses any other size.
Result<Hash32> Hash32FromBytes(ByteView bytes);

// Big-endian fixed-width integers, used in storage keys so that byte order is numeric order.
void AppendBigEndian64(std::string& out, uint64_t v);
uint64_t ReadBigEndian64(std::string_view in);  // in.size() must be >= 8

}  // namespace minetrace
