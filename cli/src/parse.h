// Parsing of command-line values into ledger units: decimal kilograms into grams, percent into
// basis points, decimal degrees into microdegrees, names into enum values, and key arguments
// (hex, .pub file or .key file) into public keys. Decimals are parsed as digit strings, never
// through floating point, because 0.1 kg must be exactly 100 g on a signed transaction.
// Every refusal is kInvalidArgument with a message that names the flag (`what`).
// Thread-safety: free functions over values; ParseKeyArgument reads files.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "minetrace/base/result.h"
#include "minetrace/crypto/keys.h"
#include "minetrace/v1/ledger.pb.h"

namespace minetrace::cli {

// Parses "12", "12.3", "12.345" (digits, at most one point, at most max_decimals digits after
// it, at least one digit before it) into value * 10^max_decimals. Refuses signs, spaces,
// exponents, a bare or trailing point, too many decimals and values above uint64.
Result<uint64_t> ParseScaledDecimal(std::string_view text, int max_decimals, std::string_view what);

// Kilograms with up to 3 decimals into grams; refuses zero (no lot weighs nothing).
Result<uint64_t> ParseWeightGrams(std::string_view kg, std::string_view what);
// Percent with up to 2 decimals into basis points, 0..100 %.
Result<uint32_t> ParseGradeBasisPoints(std::string_view percent, std::string_view what);
// Decimal degrees with up to 6 decimals and an optional leading '-' into microdegrees, with
// |value| <= limit_degrees (90 for latitude, 180 for longitude).
Result<int64_t> ParseMicrodegrees(std::string_view degrees, int64_t limit_degrees,
                                  std::string_view what);

// Names as on the command line (case-insensitive): "agent", "cassiterite", "green", "held",
// "in-transit". Refusals list the accepted names.
Result<v1::Role> ParseRole(std::string_view name);
Result<v1::Mineral> ParseMineral(std::string_view name);
Result<v1::SiteStatus> ParseSiteStatus(std::string_view name);
Result<v1::LotStatus> ParseLotStatus(std::string_view name);
// Names are lowercase with '-' between words ("under-mitigation", "armed-groups"); '_' is
// accepted for '-' as the proto enums spell them.
Result<v1::TagKind> ParseTagKind(std::string_view name);                 // mine, processor
Result<v1::TagStatus> ParseTagStatus(std::string_view name);             // allocated, used, ...
Result<v1::ProcessingKind> ParseProcessingKind(std::string_view name);   // merge, split
Result<v1::ShipmentStatus> ParseShipmentStatus(std::string_view name);   // formed, certified...
Result<v1::IncidentSubjectKind> ParseIncidentSubjectKind(std::string_view name);  // site, lot...
Result<v1::IncidentCategory> ParseIncidentCategory(std::string_view name);  // armed-groups...
Result<v1::IncidentStatus> ParseIncidentStatus(std::string_view name);  // open, under-mitigation
Result<v1::IncidentOutcome> ParseIncidentOutcome(std::string_view name);  // mitigated...
Result<v1::IncidentSource> ParseIncidentSource(std::string_view name);  // field, hotline...
Result<v1::AuditFlag> ParseAuditFlag(std::string_view name);            // green, yellow, red

// The command-line names of enum values, for human output ("?" for unknown values).
std::string_view RoleName(v1::Role role);
std::string_view MineralName(v1::Mineral mineral);
std::string_view SiteStatusName(v1::SiteStatus status);
std::string_view LotStatusName(v1::LotStatus status);
std::string_view MemberStatusName(v1::MemberStatus status);
std::string_view TagStatusName(v1::TagStatus status);
std::string_view TxStatusName(v1::TxStatus status);
std::string_view TagKindName(v1::TagKind kind);
std::string_view LotOriginName(v1::LotOrigin origin);  // mine, processing
std::string_view ProcessingKindName(v1::ProcessingKind kind);
std::string_view ShipmentStatusName(v1::ShipmentStatus status);
std::string_view IncidentSubjectKindName(v1::IncidentSubjectKind kind);
std::string_view IncidentCategoryName(v1::IncidentCategory category);
std::string_view IncidentStatusName(v1::IncidentStatus status);
std::string_view IncidentOutcomeName(v1::IncidentOutcome outcome);
std::string_view IncidentSourceName(v1::IncidentSource source);
std::string_view AuditFlagName(v1::AuditFlag flag);  // "unset" for never audited

// Every accepted name of an enum, comma-separated, for --help texts.
std::string IncidentCategoryNames();
std::string IncidentOutcomeNames();

// A UTC date or time: "2026-03-01" (midnight UTC), "2026-03-01T09:30:00Z" or with
// milliseconds "2026-03-01T09:30:00.250Z", into Unix ms. Only 'Z' (UTC) is accepted: a local
// time without its offset would be signed as a different instant on another device. Years
// 1970..9999; the day must exist in its month.
Result<int64_t> ParseUtcTimeMs(std::string_view text, std::string_view what);

// A public key named on the command line: 64 hex characters, or the path of a ".pub" file
// (64 hex characters and optional whitespace) or of a ".key" file (a private key file, read
// with crypto::ReadKeyFile, whose public key is taken). Other file names are refused so that
// a private key file is never mistaken for a public key by its content.
Result<crypto::PublicKey> ParseKeyArgument(std::string_view arg, std::string_view what);

// Reads a ".key" or ".pub" file and returns its public key (for `minetrace keys show`).
Result<crypto::PublicKey> ReadPublicKeyFromFile(const std::string& path);

// A tx id or other 32-byte hash given as 64 hex characters.
Result<Hash32> ParseHashArgument(std::string_view hex, std::string_view what);

// "LOT_ID:WEIGHT_KG" as given to `tx receive --lot`, split at the last ':'.
Result<v1::ReceivedLot> ParseReceivedLot(std::string_view arg);

// "TAG_ID:WEIGHT_KG:GRADE_PERCENT" as given to `tx process --output`, split at the last two
// ':' (e.g. P0000001:120.5:62.25).
Result<v1::ProcessedOutput> ParseProcessedOutput(std::string_view arg);

}  // namespace minetrace::cli
