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
constexpr std::array<NameEntry<v1::LotStatus>, 6> kLotStatuses = {{
    {"held", v1::LOT_STATUS_HELD},
    {"in-transit", v1::LOT_STATUS_IN_TRANSIT},
    {"consumed", v1::LOT_STATUS_CONSUMED},
    {"exported", v1::LOT_STATUS_EXPORTED},
    {"in-shipment", v1::LOT_STATUS_IN_SHIPMENT},
    {"delivered", v1::LOT_STATUS_DELIVERED},
}};
constexpr std::array<NameEntry<v1::MemberStatus>, 2> kMemberStatuses = {{
    {"active", v1::MEMBER_STATUS_ACTIVE},
    {"suspended", v1::MEMBER_STATUS_SUSPENDED},
}};
constexpr std::array<NameEntry<v1::TagStatus>, 5> kTagStatuses = {{
    {"allocated", v1::TAG_STATUS_ALLOCATED},
    {"used", v1::TAG_STATUS_USED},
    {"void", v1::TAG_STATUS_VOID},
    {"lost", v1::TAG_STATUS_LOST},
    {"withdrawn", v1::TAG_STATUS_WITHDRAWN},
}};
constexpr std::array<NameEntry<v1::TagKind>, 2> kTagKinds = {{
    {"mine", v1::TAG_KIND_MINE},
    {"processor", v1::TAG_KIND_PROCESSOR},
}};
constexpr std::array<NameEntry<v1::LotOrigin>, 2> kLotOrigins = {{
    {"mine", v1::LOT_ORIGIN_MINE},
    {"processing", v1::LOT_ORIGIN_PROCESSING},
}};
constexpr std::array<NameEntry<v1::ProcessingKind>, 2> kProcessingKinds = {{
    {"merge", v1::PROCESSING_KIND_MERGE},
    {"split", v1::PROCESSING_KIND_SPLIT},
}};
constexpr std::array<NameEntry<v1::ShipmentStatus>, 6> kShipmentStatuses = {{
    {"formed", v1::SHIPMENT_STATUS_FORMED},
    {"certified", v1::SHIPMENT_STATUS_CERTIFIED},
    {"certificate-refused", v1::SHIPMENT_STATUS_CERTIFICATE_REFUSED},
    {"dispatched", v1::SHIPMENT_STATUS_DISPATCHED},
    {"received", v1::SHIPMENT_STATUS_RECEIVED},
    {"cancelled", v1::SHIPMENT_STATUS_CANCELLED},
}};
constexpr std::array<NameEntry<v1::IncidentSubjectKind>, 4> kSubjectKinds = {{
    {"site", v1::INCIDENT_SUBJECT_SITE},
    {"lot", v1::INCIDENT_SUBJECT_LOT},
    {"member", v1::INCIDENT_SUBJECT_MEMBER},
    {"tag", v1::INCIDENT_SUBJECT_TAG},
}};
constexpr std::array<NameEntry<v1::IncidentCategory>, 16> kIncidentCategories = {{
    {"child-labour", v1::INCIDENT_CATEGORY_CHILD_LABOUR},
    {"forced-labour", v1::INCIDENT_CATEGORY_FORCED_LABOUR},
    {"torture", v1::INCIDENT_CATEGORY_TORTURE},
    {"sexual-violence", v1::INCIDENT_CATEGORY_SEXUAL_VIOLENCE},
    {"war-crimes", v1::INCIDENT_CATEGORY_WAR_CRIMES},
    {"armed-groups", v1::INCIDENT_CATEGORY_ARMED_GROUPS},
    {"security-forces", v1::INCIDENT_CATEGORY_SECURITY_FORCES},
    {"bribery-fraud", v1::INCIDENT_CATEGORY_BRIBERY_FRAUD},
    {"money-laundering", v1::INCIDENT_CATEGORY_MONEY_LAUNDERING},
    {"taxes-royalties", v1::INCIDENT_CATEGORY_TAXES_ROYALTIES},
    {"tag-misuse", v1::INCIDENT_CATEGORY_TAG_MISUSE},
    {"smuggling", v1::INCIDENT_CATEGORY_SMUGGLING},
    {"traceability-breach", v1::INCIDENT_CATEGORY_TRACEABILITY_BREACH},
    {"safety", v1::INCIDENT_CATEGORY_SAFETY},
    {"environment", v1::INCIDENT_CATEGORY_ENVIRONMENT},
    {"other", v1::INCIDENT_CATEGORY_OTHER},
}};
constexpr std::array<NameEntry<v1::IncidentStatus>, 4> kIncidentStatuses = {{
    {"open", v1::INCIDENT_STATUS_OPEN},
    {"under-mitigation", v1::INCIDENT_STATUS_UNDER_MITIGATION},
    {"resolved", v1::INCIDENT_STATUS_RESOLVED},
    {"closed", v1::INCIDENT_STATUS_CLOSED},
}};
constexpr std::array<NameEntry<v1::IncidentOutcome>, 5> kIncidentOutcomes = {{
    {"mitigated", v1::INCIDENT_OUTCOME_MITIGATED},
    {"unsubstantiated", v1::INCIDENT_OUTCOME_UNSUBSTANTIATED},
    {"sanction-applied", v1::INCIDENT_OUTCOME_SANCTION_APPLIED},
    {"referred", v1::INCIDENT_OUTCOME_REFERRED},
    {"no-action-possible", v1::INCIDENT_OUTCOME_NO_ACTION_POSSIBLE},
}};
constexpr std::array<NameEntry<v1::IncidentSource>, 5> kIncidentSources = {{
    {"field", v1::INCIDENT_SOURCE_FIELD},
    {"hotline", v1::INCIDENT_SOURCE_HOTLINE},
    {"anomaly", v1::INCIDENT_SOURCE_ANOMALY},
    {"audit", v1::INCIDENT_SOURCE_AUDIT},
    {"other", v1::INCIDENT_SOURCE_OTHER},
}};
constexpr std::array<NameEntry<v1::AuditFlag>, 3> kAuditFlags = {{
    {"green", v1::AUDIT_FLAG_GREEN},
    {"yellow", v1::AUDIT_FLAG_YELLOW},
    {"red", v1::AUDIT_FLAG_RED},
}};
constexpr std::array<NameEntry<v1::TxStatus>, 2> kTxStatuses = {{
    {"OK", v1::TX_STATUS_OK},
    {"FAILED", v1::TX_STATUS_FAILED},
}};

template <class E, size_t N>
Result<E> ParseName(const std::array<NameEntry<E>, N>& table, std::string_view name,
                    std::string_view kind) {
  std::string lower = Lower(name);
  for (char& c : lower) {
    if (c == '_') c = '-';
  }
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

template <class E, size_t N>
std::string AllNames(const std::array<NameEntry<E>, N>& table) {
  std::string out;
  for (const auto& entry : table) {
    if (!out.empty()) out += ", ";
    out += entry.name;
  }
  return out;
}

// Days since 1970-01-01 of a proleptic Gregorian date (the usual civil-from-days inverse).
int64_t DaysFromCivil(int64_t y, int64_t m, int64_t d) {
  y -= m <= 2 ? 1 : 0;
  const int64_t era = y / 400;
  const int64_t yoe = y - era * 400;
  const int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + doe - 719468;
}

bool IsLeapYear(int64_t y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }

// Reads exactly `n` digits at `pos` of `s`.
bool Digits(std::string_view s, size_t pos, size_t n, int64_t* value) {
  if (pos + n > s.size()) return false;
  int64_t v = 0;
  for (size_t i = pos; i < pos + n; ++i) {
    if (!IsDigit(s[i])) return false;
    v = v * 10 + (s[i] - '0');
  }
  *value = v;
  return true;
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
  // "in_transit" is what the enum says; ParseName accepts it too rather than make people guess.
  return ParseName(kLotStatuses, name, "lot status");
}
Result<v1::TagKind> ParseTagKind(std::string_view name) {
  return ParseName(kTagKinds, name, "tag kind");
}
Result<v1::TagStatus> ParseTagStatus(std::string_view name) {
  return ParseName(kTagStatuses, name, "tag status");
}
Result<v1::ProcessingKind> ParseProcessingKind(std::string_view name) {
  return ParseName(kProcessingKinds, name, "processing kind");
}
Result<v1::ShipmentStatus> ParseShipmentStatus(std::string_view name) {
  return ParseName(kShipmentStatuses, name, "shipment status");
}
Result<v1::IncidentSubjectKind> ParseIncidentSubjectKind(std::string_view name) {
  return ParseName(kSubjectKinds, name, "incident subject");
}
Result<v1::IncidentCategory> ParseIncidentCategory(std::string_view name) {
  return ParseName(kIncidentCategories, name, "incident category");
}
Result<v1::IncidentStatus> ParseIncidentStatus(std::string_view name) {
  return ParseName(kIncidentStatuses, name, "incident status");
}
Result<v1::IncidentOutcome> ParseIncidentOutcome(std::string_view name) {
  return ParseName(kIncidentOutcomes, name, "incident outcome");
}
Result<v1::IncidentSource> ParseIncidentSource(std::string_view name) {
  return ParseName(kIncidentSources, name, "incident source");
}
Result<v1::AuditFlag> ParseAuditFlag(std::string_view name) {
  return ParseName(kAuditFlags, name, "audit flag");
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
std::string_view TagKindName(v1::TagKind kind) { return NameOf(kTagKinds, kind); }
std::string_view LotOriginName(v1::LotOrigin origin) { return NameOf(kLotOrigins, origin); }
std::string_view ProcessingKindName(v1::ProcessingKind kind) {
  return NameOf(kProcessingKinds, kind);
}
std::string_view ShipmentStatusName(v1::ShipmentStatus status) {
  return NameOf(kShipmentStatuses, status);
}
std::string_view IncidentSubjectKindName(v1::IncidentSubjectKind kind) {
  return NameOf(kSubjectKinds, kind);
}
std::string_view IncidentCategoryName(v1::IncidentCategory category) {
  return NameOf(kIncidentCategories, category);
}
std::string_view IncidentStatusName(v1::IncidentStatus status) {
  return NameOf(kIncidentStatuses, status);
}
std::string_view IncidentOutcomeName(v1::IncidentOutcome outcome) {
  return NameOf(kIncidentOutcomes, outcome);
}
std::string_view IncidentSourceName(v1::IncidentSource source) {
  return NameOf(kIncidentSources, source);
}
std::string_view AuditFlagName(v1::AuditFlag flag) {
  if (flag == v1::AUDIT_FLAG_UNSPECIFIED) return "unset";
  return NameOf(kAuditFlags, flag);
}

std::string IncidentCategoryNames() { return AllNames(kIncidentCategories); }
std::string IncidentOutcomeNames() { return AllNames(kIncidentOutcomes); }

Result<int64_t> ParseUtcTimeMs(std::string_view text, std::string_view what) {
  const std::string shown = Quoted(text);
  const std::string expected =
      " is not a UTC date or time like 2026-03-01 or 2026-03-01T09:30:00Z";
  int64_t year = 0, month = 0, day = 0, hour = 0, minute = 0, second = 0, millis = 0;
  if (!Digits(text, 0, 4, &year) || text.size() < 10 || text[4] != '-' ||
      !Digits(text, 5, 2, &month) || text[7] != '-' || !Digits(text, 8, 2, &day)) {
    return Invalid(what, shown + expected);
  }
  if (text.size() > 10) {
    // HH:MM:SS then an optional .mmm then Z: "T09:30:00Z" or "T09:30:00.250Z".
    if (text[10] != 'T' || !Digits(text, 11, 2, &hour) || text.size() < 19 || text[13] != ':' ||
        !Digits(text, 14, 2, &minute) || text[16] != ':' || !Digits(text, 17, 2, &second)) {
      return Invalid(what, shown + expected);
    }
    size_t pos = 19;
    if (pos < text.size() && text[pos] == '.') {
      if (!Digits(text, pos + 1, 3, &millis)) {
        return Invalid(what, shown + " needs exactly 3 digits of milliseconds after the point");
      }
      pos += 4;
    }
    if (pos >= text.size() || text[pos] != 'Z' || pos + 1 != text.size()) {
      return Invalid(what, shown + " must end in Z (UTC); local times with offsets are not "
                                   "accepted, convert them to UTC");
    }
  }
  static constexpr std::array<int64_t, 12> kDaysInMonth = {31, 28, 31, 30, 31, 30,
                                                           31, 31, 30, 31, 30, 31};
  if (year < 1970) return Invalid(what, shown + " is before 1970");
  if (month < 1 || month > 12) return Invalid(what, shown + " has no month " + std::to_string(month));
  const int64_t days_in_month =
      kDaysInMonth[static_cast<size_t>(month - 1)] + (month == 2 && IsLeapYear(year) ? 1 : 0);
  if (day < 1 || day > days_in_month) {
    return Invalid(what, shown + " has no day " + std::to_string(day) + " in its month");
  }
  if (hour > 23 || minute > 59 || second > 59) return Invalid(what, shown + " has no such time");
  const int64_t days = DaysFromCivil(year, month, day);
  return ((days * 24 + hour) * 60 + minute) * 60'000 + second * 1000 + millis;
}

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

Result<v1::ProcessedOutput> ParseProcessedOutput(std::string_view arg) {
  constexpr std::string_view kWhat = "--output";
  const size_t grade_colon = arg.rfind(':');
  const size_t weight_colon =
      grade_colon == std::string_view::npos || grade_colon == 0
          ? std::string_view::npos
          : arg.rfind(':', grade_colon - 1);
  if (weight_colon == std::string_view::npos) {
    return Invalid(kWhat, Quoted(arg) +
                              " must be TAG_ID:WEIGHT_KG:GRADE_PERCENT, e.g. P0000001:120.5:62.25");
  }
  const std::string_view tag_id = arg.substr(0, weight_colon);
  if (tag_id.empty()) return Invalid(kWhat, Quoted(arg) + " has no tag id before the weight");
  auto grams =
      ParseWeightGrams(arg.substr(weight_colon + 1, grade_colon - weight_colon - 1), kWhat);
  if (!grams) return tl::unexpected(grams.error());
  auto grade = ParseGradeBasisPoints(arg.substr(grade_colon + 1), kWhat);
  if (!grade) return tl::unexpected(grade.error());
  v1::ProcessedOutput out;
  out.set_tag_id(std::string(tag_id));
  out.set_weight_grams(*grams);
  out.set_grade_basis_points(*grade);
  return out;
}

}  // namespace minetrace::cli
