#include "submit.h"

#include <gtest/gtest.h>

#include <sstream>

namespace minetrace::cli {
namespace {

TEST(Progress, OnATerminalOneBarRedrawnInPlace) {
  std::ostringstream err;
  Progress p(err, /*terminal=*/true);
  p.Start("uploaded", 4);
  p.Update(2);
  p.Update(4);
  p.Finish();
  const std::string bar30 = std::string(30, '#');
  EXPECT_EQ(err.str(), "\ruploaded [" + std::string(30, '-') + "] 0/4" + "\ruploaded [" +
                           std::string(15, '#') + std::string(15, '-') + "] 2/4" +
                           "\ruploaded [" + bar30 + "] 4/4\n");
}

TEST(Progress, OtherwiseALineAtEachQuarterOnly) {
  std::ostringstream err;
  Progress p(err, /*terminal=*/false);
  p.Start("committed", 1000);
  for (size_t i = 1; i <= 1000; ++i) p.Update(i);
  p.Finish();
  EXPECT_EQ(err.str(),
            "minetrace: committed 250/1000\nminetrace: committed 500/1000\n"
            "minetrace: committed 750/1000\nminetrace: committed 1000/1000\n");
}

TEST(BatchResults, TableAndCountsSayWhatBecameOfEachTx) {
  std::vector<BatchTxResult> results(3);
  results[0].index = 1;
  results[0].outcome = TxOutcome::kOk;
  results[0].height = 7;
  results[0].already = true;
  results[0].action = "record-lot T1";
  results[1].index = 2;
  results[1].outcome = TxOutcome::kFailed;
  results[1].height = 8;
  results[1].code = "FAILED_PRECONDITION";
  results[1].reason = "tag T2 was withdrawn";
  v1::Anomaly a;
  a.set_kind("tag_off_site");
  a.set_tag_id("T2");
  results[1].anomalies.push_back(a);
  results[2].index = 3;
  results[2].outcome = TxOutcome::kRefused;
  results[2].code = "PERMISSION_DENIED";
  results[2].reason = "not a member";
  std::ostringstream out;
  PrintBatchTable(out, results);
  const std::string text = out.str();
  EXPECT_NE(text.find("OK height 7 (already)"), std::string::npos) << text;
  EXPECT_NE(text.find("\n   FAILED_PRECONDITION: tag T2 was withdrawn\n   anomaly tag_off_site "
                      "(tag T2)\n"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("\n   PERMISSION_DENIED: not a member\n"), std::string::npos) << text;
  EXPECT_NE(text.find("3 txs: 1 OK, 1 FAILED, 1 refused, 0 pending (1 was already on the node)\n"),
            std::string::npos)
      << text;
  auto json = BatchResultsJson(results);
  ASSERT_TRUE(json);
  EXPECT_NE(json->find("\"result\":\"FAILED\",\"already\":false,\"height\":\"8\","
                       "\"code\":\"FAILED_PRECONDITION\""),
            std::string::npos)
      << *json;
  EXPECT_NE(json->find("\"counts\":{\"total\":3,\"ok\":1,\"failed\":1,\"refused\":1,"
                       "\"pending\":0,\"already\":1}"),
            std::string::npos)
      << *json;
}

}  // namespace
}  // namespace minetrace::cli
