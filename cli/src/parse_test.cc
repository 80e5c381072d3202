#include "parse.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "minetrace/base/bytes.h"

namespace minetrace::cli {
namespace {

namespace fs = std::filesystem;

TEST(ParseWeight, ConvertsDecimalKilogramsToExactGrams) {
  EXPECT_EQ(ParseWeightGrams("1", "--w").value(), 1000u);
  EXPECT_EQ(ParseWeightGrams("25.3", "--w").value(), 25300u);
  EXPECT_EQ(ParseWeightGrams("25.30", "--w").value(), 25300u);
  EXPECT_EQ(ParseWeightGrams("0.001", "--w").value(), 1u);
  EXPECT_EQ(ParseWeightGrams("0.1", "--w").value(), 100u);
  EXPECT_EQ(ParseWeightGrams("1.234", "--w").value(), 1234u);
  EXPECT_EQ(ParseWeightGrams("007.5", "--w").value(), 7500u);
  EXPECT_EQ(ParseWeightGrams("123456.789", "--w").value(), 123456789u);
  EXPECT_EQ(ParseWeightGrams("18446744073709551.615", "--w").value(), UINT64_MAX);
}

TEST(ParseWeight, RefusesMalformedNegativeZeroAndTooPrecise) {
  for (const char* bad : {"1.2345", "-1", "abc", "", ".5", "1.", "1e3", " 1", "1 ", "1.2.3", "+1",
                          "0", "0.000", "1,5", "18446744073709551.616", "99999999999999999999"}) {
    auto r = ParseWeightGrams(bad, "--weight-kg");
    ASSERT_FALSE(r.has_value()) << "accepted \"" << bad << "\"";
    EXPECT_EQ(r.error().code, ErrorCode::kInvalidArgument) << bad;
    EXPECT_NE(r.error().message.find("--weight-kg"), std::string::npos) << r.error().message;
  }
}

TEST(ParseWeight, SaysWhyFourDecimalsAreRefused) {
  auto r = ParseWeightGrams("1.2345", "--weight-kg");
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("more than 3 decimals"), std::string::npos) << r.error().message;
}

TEST(ParseGrade, ConvertsPercentToBasisPoints) {
  EXPECT_EQ(ParseGradeBasisPoints("45.5", "--g").value(), 4550u);
  EXPECT_EQ(ParseGradeBasisPoints("45.55", "--g").value(), 4555u);
  EXPECT_EQ(ParseGradeBasisPoints("0", "--g").value(), 0u);
  EXPECT_EQ(ParseGradeBasisPoints("0.01", "--g").value(), 1u);
  EXPECT_EQ(ParseGradeBasisPoints("100", "--g").value(), 10000u);
  EXPECT_EQ(ParseGradeBasisPoints("100.00", "--g").value(), 10000u);
}

TEST(ParseGrade, RefusesAboveHundredTooPreciseAndNegative) {
  for (const char* bad : {"100.01", "101", "45.555", "-3", "x", "", "50%"}) {
    EXPECT_FALSE(ParseGradeBasisPoints(bad, "--grade-percent")) << bad;
  }
}

TEST(ParseMicrodegrees, ConvertsSignedDecimalDegrees) {
  EXPECT_EQ(ParseMicrodegrees("-1.5", 90, "--lat").value(), -1500000);
  EXPECT_EQ(ParseMicrodegrees("28.123456", 180, "--lon").value(), 28123456);
  EXPECT_EQ(ParseMicrodegrees("90", 90, "--lat").value(), 90000000);
  EXPECT_EQ(ParseMicrodegrees("-180", 180, "--lon").value(), -180000000);
  EXPECT_EQ(ParseMicrodegrees("0", 90, "--lat").value(), 0);
}

TEST(ParseMicrodegrees, RefusesOutOfRangeAndMalformed) {
  for (const char* bad : {"90.000001", "-91", "1.1234567", "-", "--1", "+1", "N1", ""}) {
    EXPECT_FALSE(ParseMicrodegrees(bad, 90, "--lat")) << bad;
  }
}

TEST(ParseNames, AcceptsEveryRoleMineralAndStatusByName) {
  for (const char* name : {"administrator", "regulator", "agent", "cooperative", "trader",
                           "processor", "exporter", "certifier", "smelter"}) {
    auto role = ParseRole(name);
    ASSERT_TRUE(role) << name;
    EXPECT_EQ(RoleName(*role), name);
  }
  EXPECT_EQ(ParseRole("Agent").value(), v1::ROLE_AGENT);
  EXPECT_EQ(ParseMineral("cassiterite").value(), v1::MINERAL_CASSITERITE);
  EXPECT_EQ(ParseMineral("wolframite").value(), v1::MINERAL_WOLFRAMITE);
  EXPECT_EQ(ParseMineral("COLTAN").value(), v1::MINERAL_COLTAN);
  EXPECT_EQ(ParseSiteStatus("green").value(), v1::SITE_STATUS_GREEN);
  EXPECT_EQ(ParseSiteStatus("yellow").value(), v1::SITE_STATUS_YELLOW);
  EXPECT_EQ(ParseSiteStatus("red").value(), v1::SITE_STATUS_RED);
  EXPECT_EQ(ParseSiteStatus("blue").value(), v1::SITE_STATUS_BLUE);
  EXPECT_EQ(ParseLotStatus("held").value(), v1::LOT_STATUS_HELD);
  EXPECT_EQ(ParseLotStatus("in-transit").value(), v1::LOT_STATUS_IN_TRANSIT);
  EXPECT_EQ(ParseLotStatus("in_transit").value(), v1::LOT_STATUS_IN_TRANSIT);
  EXPECT_EQ(ParseLotStatus("consumed").value(), v1::LOT_STATUS_CONSUMED);
  EXPECT_EQ(ParseLotStatus("exported").value(), v1::LOT_STATUS_EXPORTED);
}

TEST(ParseNames, RefusesUnknownNamesAndListsTheAcceptedOnes) {
  auto role = ParseRole("miner");
  ASSERT_FALSE(role);
  EXPECT_NE(role.error().message.find("smelter"), std::string::npos) << role.error().message;
  EXPECT_FALSE(ParseRole(""));
  EXPECT_FALSE(ParseRole("unspecified"));
  EXPECT_FALSE(ParseMineral("gold"));
  EXPECT_FALSE(ParseMineral("tin"));  // the ore is cassiterite; the metal is not a mineral
  EXPECT_FALSE(ParseSiteStatus("orange"));
  EXPECT_FALSE(ParseLotStatus("lost"));
}

TEST(ParseNames, NewEnumsByFriendlyLowercaseNames) {
  EXPECT_EQ(ParseIncidentCategory("armed-groups").value(), v1::INCIDENT_CATEGORY_ARMED_GROUPS);
  EXPECT_EQ(ParseIncidentCategory("ARMED_GROUPS").value(), v1::INCIDENT_CATEGORY_ARMED_GROUPS);
  EXPECT_EQ(ParseIncidentCategory("tag-misuse").value(), v1::INCIDENT_CATEGORY_TAG_MISUSE);
  EXPECT_EQ(ParseIncidentStatus("under-mitigation").value(),
            v1::INCIDENT_STATUS_UNDER_MITIGATION);
  EXPECT_EQ(ParseIncidentOutcome("no-action-possible").value(),
            v1::INCIDENT_OUTCOME_NO_ACTION_POSSIBLE);
  EXPECT_EQ(ParseIncidentSource("hotline").value(), v1::INCIDENT_SOURCE_HOTLINE);
  EXPECT_EQ(ParseIncidentSubjectKind("member").value(), v1::INCIDENT_SUBJECT_MEMBER);
  EXPECT_EQ(ParseShipmentStatus("certificate-refused").value(),
            v1::SHIPMENT_STATUS_CERTIFICATE_REFUSED);
  EXPECT_EQ(ParseAuditFlag("red").value(), v1::AUDIT_FLAG_RED);
  EXPECT_EQ(ParseTagKind("processor").value(), v1::TAG_KIND_PROCESSOR);
  EXPECT_EQ(ParseProcessingKind("split").value(), v1::PROCESSING_KIND_SPLIT);
  EXPECT_EQ(ParseLotStatus("in-shipment").value(), v1::LOT_STATUS_IN_SHIPMENT);
  EXPECT_EQ(ParseLotStatus("delivered").value(), v1::LOT_STATUS_DELIVERED);
  // Names print back as they parse.
  EXPECT_EQ(IncidentCategoryName(v1::INCIDENT_CATEGORY_CHILD_LABOUR), "child-labour");
  EXPECT_EQ(IncidentStatusName(v1::INCIDENT_STATUS_UNDER_MITIGATION), "under-mitigation");
  EXPECT_EQ(ShipmentStatusName(v1::SHIPMENT_STATUS_DISPATCHED), "dispatched");
  EXPECT_EQ(AuditFlagName(v1::AUDIT_FLAG_UNSPECIFIED), "unset");
  EXPECT_EQ(TagStatusName(v1::TAG_STATUS_WITHDRAWN), "withdrawn");
  EXPECT_EQ(LotOriginName(v1::LOT_ORIGIN_PROCESSING), "processing");
  auto bad = ParseIncidentCategory("unspecified");
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().message.find("armed-groups"), std::string::npos) << bad.error().message;
  EXPECT_FALSE(ParseAuditFlag("unset"));
}

TEST(ParseUtcTime, DatesAndTimesInUtc) {
  EXPECT_EQ(ParseUtcTimeMs("1970-01-01", "t").value(), 0);
  EXPECT_EQ(ParseUtcTimeMs("2026-03-01", "t").value(), 1772323200000);
  EXPECT_EQ(ParseUtcTimeMs("2026-03-01T09:30:00Z", "t").value(), 1772357400000);
  EXPECT_EQ(ParseUtcTimeMs("2026-03-01T09:30:00.250Z", "t").value(), 1772357400250);
  EXPECT_EQ(ParseUtcTimeMs("2024-02-29T23:59:59Z", "t").value(), 1709251199000);
}

TEST(ParseUtcTime, RefusesLocalTimesBadDaysAndOtherFormats) {
  struct Case {
    const char* text;
    const char* words;
  };
  const Case cases[] = {
      {"2026-03-01T09:30:00", "must end in Z"},
      {"2026-03-01T09:30:00+02:00", "must end in Z"},
      {"2026-03-01T09:30:00.25Z", "exactly 3 digits"},
      {"2025-02-29", "has no day 29"},
      {"2026-13-01", "has no month 13"},
      {"2026-03-01T24:00:00Z", "has no such time"},
      {"1969-12-31", "before 1970"},
      {"01/03/2026", "is not a UTC date or time"},
      {"2026-3-1", "is not a UTC date or time"},
      {"", "is not a UTC date or time"},
  };
  for (const Case& c : cases) {
    auto t = ParseUtcTimeMs(c.text, "--date");
    ASSERT_FALSE(t) << c.text;
    EXPECT_EQ(t.error().message.rfind("--date: ", 0), 0u) << t.error().message;
    EXPECT_NE(t.error().message.find(c.words), std::string::npos)
        << c.text << ": " << t.error().message;
  }
}

TEST(ParseProcessedOutput, SplitsTagWeightAndGradeAtTheLastTwoColons) {
  auto out = ParseProcessedOutput("P:0000001:120.5:62.25");
  ASSERT_TRUE(out) << out.error().message;
  EXPECT_EQ(out->tag_id(), "P:0000001");
  EXPECT_EQ(out->weight_grams(), 120500u);
  EXPECT_EQ(out->grade_basis_points(), 6225u);
  EXPECT_FALSE(ParseProcessedOutput("P0000001:120.5"));
  EXPECT_FALSE(ParseProcessedOutput("P0000001:0:10"));
  EXPECT_FALSE(ParseProcessedOutput("P0000001:1:"));
}

class KeyArgumentTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("minetrace_cli_parse_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  void WriteText(const fs::path& path, const std::string& text) { std::ofstream(path) << text; }

  fs::path dir_;
};

TEST_F(KeyArgumentTest, AcceptsHexInEitherCase) {
  const std::string hex(64, 'a');
  auto lower = ParseKeyArgument(hex, "--to");
  ASSERT_TRUE(lower);
  EXPECT_EQ(ToHex(*lower), hex);
  auto upper = ParseKeyArgument(std::string(64, 'A'), "--to");
  ASSERT_TRUE(upper);
  EXPECT_EQ(*upper, *lower);
}

TEST_F(KeyArgumentTest, RefusesShortHexAndUnknownFileNames) {
  EXPECT_FALSE(ParseKeyArgument(std::string(63, 'a'), "--to"));
  EXPECT_FALSE(ParseKeyArgument(std::string(64, 'g'), "--to"));
  EXPECT_FALSE(ParseKeyArgument("", "--to"));
  // A private key file under another name must not be read as if it held a public key.
  auto key = crypto::PrivateKey::Generate();
  ASSERT_TRUE(key);
  const fs::path odd = dir_ / "alice.txt";
  ASSERT_TRUE(crypto::WriteKeyFile(odd, *key));
  auto r = ParseKeyArgument(odd.string(), "--to");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, ErrorCode::kInvalidArgument);
}

TEST_F(KeyArgumentTest, ReadsPublicKeyFromPubAndKeyFiles) {
  auto key = crypto::PrivateKey::Generate();
  ASSERT_TRUE(key);
  const fs::path key_file = dir_ / "alice.key";
  ASSERT_TRUE(crypto::WriteKeyFile(key_file, *key));
  const fs::path pub_file = dir_ / "alice.key.pub";
  WriteText(pub_file, ToHex(key->public_key()) + "\n");

  auto from_key = ParseKeyArgument(key_file.string(), "--member");
  ASSERT_TRUE(from_key) << from_key.error().message;
  EXPECT_EQ(*from_key, key->public_key());
  auto from_pub = ParseKeyArgument(pub_file.string(), "--member");
  ASSERT_TRUE(from_pub) << from_pub.error().message;
  EXPECT_EQ(*from_pub, key->public_key());
}

TEST_F(KeyArgumentTest, RefusesMissingBadAndExposedKeyFiles) {
  auto missing = ParseKeyArgument((dir_ / "nobody.key").string(), "--member");
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().code, ErrorCode::kNotFound);
  EXPECT_NE(missing.error().message.find("--member"), std::string::npos);

  EXPECT_FALSE(ParseKeyArgument((dir_ / "nobody.pub").string(), "--member"));

  const fs::path bad_pub = dir_ / "bad.pub";
  WriteText(bad_pub, "not a key\n");
  EXPECT_FALSE(ParseKeyArgument(bad_pub.string(), "--member"));

  auto key = crypto::PrivateKey::Generate();
  ASSERT_TRUE(key);
  const fs::path exposed = dir_ / "exposed.key";
  ASSERT_TRUE(crypto::WriteKeyFile(exposed, *key));
  ::chmod(exposed.c_str(), 0644);
  auto r = ParseKeyArgument(exposed.string(), "--member");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, ErrorCode::kPermissionDenied);
}

TEST(ParseReceivedLot, SplitsIdAndWeightAtTheLastColon) {
  auto lot = ParseReceivedLot("T0000012:25.1");
  ASSERT_TRUE(lot);
  EXPECT_EQ(lot->lot_id(), "T0000012");
  EXPECT_EQ(lot->weight_grams(), 25100u);
  auto odd = ParseReceivedLot("a:b:1");
  ASSERT_TRUE(odd);
  EXPECT_EQ(odd->lot_id(), "a:b");
  EXPECT_EQ(odd->weight_grams(), 1000u);
}

TEST(ParseReceivedLot, RefusesMissingIdOrWeight) {
  for (const char* bad : {"T0000012", ":1", "T1:", "T1:1.2345", "T1:-1", "T1:abc"}) {
    EXPECT_FALSE(ParseReceivedLot(bad)) << bad;
  }
}

TEST(ParseHashArgument, AcceptsOnly64Hex) {
  EXPECT_TRUE(ParseHashArgument(std::string(64, '0'), "TXID"));
  EXPECT_FALSE(ParseHashArgument(std::string(62, '0'), "TXID"));
  EXPECT_FALSE(ParseHashArgument("xyz", "TXID"));
}

}  // namespace
}  // namespace minetrace::cli
