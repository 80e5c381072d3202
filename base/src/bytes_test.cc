#include "minetrace/base/bytes.h"

#include <gtest/gtest.h>

namespace minetrace {
namespace {

TEST(Hex, RoundTrips) {
  Bytes b = {0x00, 0x01, 0xab, 0xff};
  EXPECT_EQ(ToHex(b), "0001abff");
  auto back = FromHex("0001ABff");
  ASSERT_TRUE(back);
  EXPECT_EQ(*back, b);
}

TEST(Hex, RefusesOddLengthAndBadDigits) {
  EXPECT_EQ(FromHex("abc").error().code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(FromHex("zz").error().code, ErrorCode::kInvalidArgument);
  EXPECT_FALSE(Hash32FromHex("00"));
}

TEST(BigEndian, KeepsNumericOrderAsByteOrder) {
  std::string a, b;
  AppendBigEndian64(a, 255);
  AppendBigEndian64(b, 256);
  EXPECT_LT(a, b);
  EXPECT_EQ(ReadBigEndian64(b), 256u);
}

TEST(Result, CarriesCodeAndMessage) {
  Result<int> r = MakeError(ErrorCode::kNotFound, "no lot L1");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().ToString(), "not found: no lot L1");
}

}  // namespace
}  // namespace minetrace
