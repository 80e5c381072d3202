#include "parse.h"

#include <array>
#include <cctype>
#include <fstream>
#include <limits>
#include <sstream>
#include <utility>

#include "minetrace/base/assert.h"
#include "minetrace/base/bytes.h"

namespace minetrace::cli {
namespace {

std::string Quoted(std::string_view s) { return "\"" + std::string(s) + "\""; }

tl::unexpected<Error> Invalid(std::string_view what, std::string message) {
  return MakeError(ErrorCode::kInvalidArgument, std::string(what) + ": " + message);
}

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

bool IsDigit(char c) { return c >= '0' && c <= '9'; }

// One table per enum keeps parsing and printing in agreement.
template <class E>
struct NameEntry {
  std::string_view name;
  E value;
};

constexpr std::array<NameEntry<v1::Role>, 9> kRoles = {{
    {"administrator", v1::ROLE_ADMINISTRATOR},
    {"regulator", v1::ROLE_REGULATOR},
    {"agent", v1::ROLE_AGENT},
    {"cooperative", v1::ROLE_COOPERATIVE},
    {"trader", v1::ROLE_TRADER},
    {"processor", v1::ROLE_PROCESSOR},
    {"exporter", v1::ROLE_EXPORTER},
    {"certifier", v1::ROLE_CERTIFIER},
    {"smelter", v1::ROLE_SMELTER},
}};
constexpr std::array<NameEntry<v1::Mineral>, 3> kMinerals = {{
    {"cassiterite", v1::MINERAL_CASSITERITE},
    {"wolframite", v1::MINERAL_WOLFRAMITE},
    {"coltan", v1::MINERAL_COLTAN},
}};
constexpr std::array<NameEntry<v1::SiteStatus>, 4> kSiteStatuses = {{
    {"green", v1::SITE_STATUS_GREEN},
    {"yellow", v1::SITE_STATUS_YELLOW},
    {"red", v1::SITE_STATUS_RED},
    {"blue", v1::SITE_STATUS_BLUE},
}};
constexpr std::array<NameEntry<v1::LotStatus>, 4> kLotStatuses = {{
    {"held", v1::LOT_STATUS_HELD},
    {"in-transit", v1::LOT_STATUS_IN_TRANSIT},
    {"consumed", v1::LOT_STATUS_CONSUMED},
    {"exported", v1::LOT_STATUS_EXPORTED},
}};
constexpr std::array<NameEntry<v1::MemberStatus>, 2> kMemberStatuses = {{
    {"active", v1::MEMBER_STATUS_ACTIVE},
    {"suspended", v1::MEMBER_STATUS_SUSPENDED},
}};
constexpr std::array<NameEntry<v1::TagStatus>, 4> kTagStatuses = {{
    {"allocated", v1::TAG_STATUS_ALLOCATED},
    {"used", v1::TAG_STATUS_USED},
    {"void", v1::TAG_STATUS_VOID},
    {"lost", v1::TAG_STATUS_LOST},
}};
constexpr std::array<NameEntry<v1::TxStatus>, 2> kTxStatuses = {{
    {"OK", v1::TX_STATUS_OK},
    {"FAILED", v1::TX_STATUS_FAILED},
}};

template <class E, size_t N>
Result<E> ParseName(const std::array<NameEntry<E>, N>& table, std::string_view name,
                    std::string_view kind) {
  const std::string lower = Lower(name);
  std::string accepted;
  for (const auto& entry : table) {
    if (entry.name == lower) return entry.value;
    if (!accepted.empty()) accepted += ", ";
    accepted += entry.name;
  }
  return MakeError(ErrorCode::kInvalidArgument, "unknown " + std::string(kind) + " " +
                                                    Quoted(name) + " (one of: " + accepted + ")");
}

template <class E, size_t N>
std::string_view NameOf(const std::array<NameEntry<E>, N>& table, E value) {
  for (const auto& entry : table) {
    if (entry.value == value) return entry.name;
  }
  return "?";
}

std::string_view TrimWhitespace(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return s;
}

bool EndsWith(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

}  // namespace

Result<uint64_t> ParseScaledDecimal(std::string_view text, int max_decimals,
                                    std::string_view what) {
  MT_ASSERT(max_decimals >= 0);
  MT_ASSERT(max_decimals <= 18);
  if (text.empty()) return Invalid(what, "empty number");
  const size_t point = text.find('.');
  const std::string_view whole = text.substr(0, point);
  const std::string_view fraction =
      point == std::string_view::npos ? std::string_view() : text.substr(point + 1);
  const std::string shown = Quoted(text);
  if (whole.empty()) return Invalid(what, shown + " needs a digit before the decimal point");
  if (point != std::string_view::npos && fraction.empty()) {
    return Invalid(what, shown + " ends with a decimal point");
  }
  for (char c : whole) {
    if (!IsDigit(c)) return Invalid(what, shown + " is not a non-negative decimal number");
  }
  for (char c : fraction) {
    if (!IsDigit(c)) return Invalid(what, shown + " is not a non-negative decimal number");
  }
  if (fraction.size() > static_cast<size_t>(max_decimals)) {
    return Invalid(what, shown + " has more than " + std::to_string(max_decimals) + " decimal" +
                             (max_decimals == 1 ? "" : "s"));
  }

  constexpr uint64_t kMax = std::numeric_limits<uint64_t>::max();
  uint64_t scale = 1;
  for (int i = 0; i < max_decimals; ++i) scale *= 10;
  uint64_t whole_value = 0;
  for (char c : whole) {
    const auto digit = static_cast<uint64_t>(c - '0');
    if (whole_value > (kMax - digit) / 10) return Invalid(what, shown + " is too large");
    whole_value = whole_value * 10 + digit;
  }
  uint64_t fraction_value = 0;
  for (int i = 0; i < max_decimals; ++i) {
    const size_t idx = static_cast<size_t>(i);
    fraction_value = fraction_value * 10 +
                     (idx < fraction.size() ? static_cast<uint64_t>(fraction[idx] - '0') : 0);
  }
  if (whole_value > (kMax - fraction_value) / scale) return Invalid(what, shown + " is too large");
  return whole_value * scale + fraction_value;
}

Result<uint64_t> ParseWeightGrams(std::string_view kg, std::string_view what) {
  auto grams = ParseScaledDecimal(kg, 3, what);
  if (!grams) return grams;
  if (*grams == 0) return Invalid(what, "a weight must be more than 0 kg");
  return grams;
}

Result<uint32_t> ParseGradeBasisPoints(std::string_view percent, std::string_view what) {
  auto bp = ParseScaledDecimal(percent, 2, what);
  if (!bp) return tl::unexpected(bp.error());
  if (*bp > 10000) return Invalid(what, "a grade is at most 100 %");
  return static_cast<uint32_t>(*bp);
}

Result<int64_t> ParseMicrodegrees(std::string_view degrees, int64_t limit_degrees,
                                  std::string_view what) {
  MT_ASSERT(limit_degrees > 0);
  const bool negative = !degrees.empty() && degrees.front() == '-';
  if (negative) degrees.remove_prefix(1);
  auto micro = ParseScaledDecimal(degrees, 6, what);
  if (!micro) return tl::unexpected(micro.error());
  const auto limit = static_cast<uint64_t>(limit_degrees) * 1'000'000;
  if (*micro > limit) {
    return Invalid(what, "must be between -" + std::to_string(limit_degrees) + " and " +
                             std::to_string(limit_degrees) + " degrees");
  }
  const auto value = static_cast<int64_t>(*micro);
  return negative ? -value : value;
}

Result<v1::Role> ParseRole(std::string_view name) { return ParseName(kRoles, name, "role"); }
Result<v1::Mineral> ParseMineral(std::string_view name) {
  return ParseName(kMinerals, name, "mineral");
}
Result<v1::SiteStatus> ParseSiteStatus(std::string_view name) {
  return ParseName(kSiteStatuses, name, "site status");
}
Result<v1::LotStatus> ParseLotStatus(std::string_view name) {
  // "in_transit" is what the enum says; accept it too rather than make people guess.
  if (Lower(name) == "in_transit") return v1::LOT_STATUS_IN_TRANSIT;
  return ParseName(kLotStatuses, name, "lot status");
}

std::string_view RoleName(v1::Role role) { return NameOf(kRoles, role); }
std::string_view MineralName(v1::Mineral mineral) { return NameOf(kMinerals, mineral); }
std::string_view SiteStatusName(v1::SiteStatus status) { return NameOf(kSiteStatuses, status); }
std::string_view LotStatusName(v1::LotStatus status) { return NameOf(kLotStatuses, status); }
std::string_view MemberStatusName(v1::MemberStatus status) {
  return NameOf(kMemberStatuses, status);
}
std::string_view TagStatusName(v1::TagStatus status) { return NameOf(kTagStatuses, status); }
std::string_view TxStatusName(v1::TxStatus status) { return NameOf(kTxStatuses, status); }

Result<crypto::PublicKey> ReadPublicKeyFromFile(const std::string& path) {
  if (EndsWith(path, ".key")) {
    auto key = crypto::ReadKeyFile(path);
    if (!key) return tl::unexpected(key.error());
    return key->public_key();
  }
  if (!EndsWith(path, ".pub")) {
    return MakeError(ErrorCode::kInvalidArgument,
                     path +
                         ": a key file name must end in .pub (public key) or .key "
                         "(private key)");
  }
  std::ifstream in(path);
  if (!in) return MakeError(ErrorCode::kNotFound, "cannot read public key file " + path);
  std::stringstream buf;
  // A .pub file is one line; reading more than a few hundred bytes means it is something else.
  char chunk[256];
  in.read(chunk, sizeof(chunk));
  buf.write(chunk, in.gcount());
  auto key = Hash32FromHex(TrimWhitespace(buf.str()));
  if (!key) {
    return MakeError(ErrorCode::kInvalidArgument,
                     path + ": a .pub file holds 64 hex characters (" + key.error().message + ")");
  }
  return *key;
}

Result<crypto::PublicKey> ParseKeyArgument(std::string_view arg, std::string_view what) {
  if (arg.size() == 64) {
    auto key = Hash32FromHex(arg);
    if (key) return *key;
  }
  if (!EndsWith(arg, ".pub") && !EndsWith(arg, ".key")) {
    return Invalid(what,
                   Quoted(arg) + " is neither 64 hex characters nor a .pub or .key file name");
  }
  auto key = ReadPublicKeyFromFile(std::string(arg));
  if (!key) return MakeError(key.error().code, std::string(what) + ": " + key.error().message);
  return key;
}

Result<Hash32> ParseHashArgument(std::string_view hex, std::string_view what) {
  auto hash = Hash32FromHex(hex);
  if (!hash) return Invalid(what, Quoted(hex) + " is not 64 hex characters");
  return hash;
}

Result<v1::ReceivedLot> ParseReceivedLot(std::string_view arg) {
  constexpr std::string_view kWhat = "--lot";
  const size_t colon = arg.rfind(':');
  if (colon == std::string_view::npos) {
    return Invalid(kWhat, Quoted(arg) + " must be LOT_ID:WEIGHT_KG, e.g. T0000012:25.1");
  }
  const std::string_view lot_id = arg.substr(0, colon);
  if (lot_id.empty()) return Invalid(kWhat, Quoted(arg) + " has no lot id before ':'");
  auto grams = ParseWeightGrams(arg.substr(colon + 1), kWhat);
  if (!grams) return tl::unexpected(grams.error());
  v1::ReceivedLot lot;
  lot.set_lot_id(std::string(lot_id));
  lot.set_weight_grams(*grams);
  return lot;
}

}  // namespace minetrace::cli
