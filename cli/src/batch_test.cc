#include "batch.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

namespace minetrace::cli {
namespace {

namespace fs = std::filesystem;

v1::SignedTx Tx(int n) {
  v1::SignedTx tx;
  tx.set_body("body " + std::to_string(n));
  tx.set_signer(std::string(32, static_cast<char>('a' + n)));
  tx.set_signature(std::string(64, 's'));
  return tx;
}

class BatchFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("minetrace_cli_batch_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    file_ = dir_ / "batch.pb";
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::string Bytes() {
    std::ifstream in(file_, std::ios::binary);
    std::stringstream buf;
    buf << in.rdbuf();
    return buf.str();
  }
  void WriteBytes(const std::string& bytes) {
    std::ofstream(file_, std::ios::binary | std::ios::trunc) << bytes;
  }

  fs::path dir_;
  fs::path file_;
};

TEST_F(BatchFileTest, RecordIsBigEndianLengthThenTheSignedTx) {
  const v1::SignedTx tx = Tx(1);
  const std::string record = EncodeBatchRecord(tx);
  const std::string body = tx.SerializeAsString();
  ASSERT_EQ(record.size(), 4 + body.size());
  EXPECT_EQ(record.substr(0, 4), std::string("\0\0\0", 3) + static_cast<char>(body.size()));
  EXPECT_EQ(record.substr(4), body);
}

TEST_F(BatchFileTest, AppendsKeepEarlierRecordsAndCountThem) {
  const v1::SignedTx first = Tx(1);
  auto before = AppendToBatch(file_, std::span<const v1::SignedTx>(&first, 1));
  ASSERT_TRUE(before) << before.error().message;
  EXPECT_EQ(*before, 0u);
  const std::vector<v1::SignedTx> more = {Tx(2), Tx(3)};
  before = AppendToBatch(file_, more);
  ASSERT_TRUE(before) << before.error().message;
  EXPECT_EQ(*before, 1u);
  EXPECT_EQ(Bytes(), EncodeBatchRecord(Tx(1)) + EncodeBatchRecord(Tx(2)) +
                         EncodeBatchRecord(Tx(3)));
  auto txs = ReadBatch(file_);
  ASSERT_TRUE(txs) << txs.error().message;
  ASSERT_EQ(txs->size(), 3u);
  EXPECT_EQ((*txs)[0].body(), "body 1");
  EXPECT_EQ((*txs)[2].signer(), Tx(3).signer());
}

TEST_F(BatchFileTest, EmptyFileIsAnEmptyBatch) {
  WriteBytes("");
  auto txs = ReadBatch(file_);
  ASSERT_TRUE(txs);
  EXPECT_TRUE(txs->empty());
}

TEST_F(BatchFileTest, TruncatedTailIsRefusedWithItsRecordNumber) {
  const std::string two = EncodeBatchRecord(Tx(1)) + EncodeBatchRecord(Tx(2));
  const std::string third = EncodeBatchRecord(Tx(3));
  // Cut inside the third record's body, then inside its length.
  WriteBytes(two + third.substr(0, third.size() - 5));
  auto body_cut = ReadBatch(file_);
  ASSERT_FALSE(body_cut);
  EXPECT_EQ(body_cut.error().code, ErrorCode::kDataLoss);
  EXPECT_NE(body_cut.error().message.find("record 3 is truncated: " +
                                          std::to_string(third.size() - 9) + " of " +
                                          std::to_string(third.size() - 4) + " bytes"),
            std::string::npos)
      << body_cut.error().message;
  WriteBytes(two + third.substr(0, 2));
  auto length_cut = ReadBatch(file_);
  ASSERT_FALSE(length_cut);
  EXPECT_NE(length_cut.error().message.find("record 3 is truncated: 2 of its 4 length bytes"),
            std::string::npos)
      << length_cut.error().message;
}

TEST_F(BatchFileTest, RefusesToAppendAfterADamagedRecordAndLeavesTheFileAlone) {
  const std::string damaged = EncodeBatchRecord(Tx(1)) + std::string("\0\0\1", 3);
  WriteBytes(damaged);
  const v1::SignedTx tx = Tx(2);
  auto appended = AppendToBatch(file_, std::span<const v1::SignedTx>(&tx, 1));
  ASSERT_FALSE(appended);
  EXPECT_EQ(appended.error().code, ErrorCode::kDataLoss);
  EXPECT_NE(appended.error().message.find("record 2 is truncated"), std::string::npos)
      << appended.error().message;
  EXPECT_NE(appended.error().message.find("nothing was appended"), std::string::npos);
  EXPECT_EQ(Bytes(), damaged);
}

TEST_F(BatchFileTest, RefusesOversizedLengthsAndBytesThatAreNotATx) {
  WriteBytes(std::string("\x7f\xff\xff\xff", 4) + "xx");
  auto huge = ReadBatch(file_);
  ASSERT_FALSE(huge);
  EXPECT_NE(huge.error().message.find("record 1 has length 2147483647"), std::string::npos)
      << huge.error().message;
  WriteBytes(std::string("\0\0\0\0", 4));
  EXPECT_FALSE(ReadBatch(file_));
  // 0xff is no valid protobuf tag.
  WriteBytes(EncodeBatchRecord(Tx(1)) + std::string("\0\0\0\2\xff\xff", 6));
  auto garbage = ReadBatch(file_);
  ASSERT_FALSE(garbage);
  EXPECT_NE(garbage.error().message.find("record 2 does not parse"), std::string::npos)
      << garbage.error().message;
}

TEST_F(BatchFileTest, ConcurrentAppendersNeverInterleave) {
  // Two processes' worth of appenders (threads here; flock serializes both alike).
  auto append = [&](int base) {
    for (int i = 0; i < 50; ++i) {
      const v1::SignedTx tx = Tx(base + i);
      ASSERT_TRUE(AppendToBatch(file_, std::span<const v1::SignedTx>(&tx, 1)));
    }
  };
  std::thread a(append, 0);
  std::thread b(append, 100);
  a.join();
  b.join();
  auto txs = ReadBatch(file_);
  ASSERT_TRUE(txs) << txs.error().message;
  EXPECT_EQ(txs->size(), 100u);
}

TEST_F(BatchFileTest, MissingFileIsNotFound) {
  auto txs = ReadBatch(dir_ / "nope.pb");
  ASSERT_FALSE(txs);
  EXPECT_EQ(txs.error().code, ErrorCode::kNotFound);
}

}  // namespace
}  // namespace minetrace::cli
