#include "logbook.h"

#include <gtest/gtest.h>

namespace minetrace::cli {
namespace {

const std::string kProducer(64, 'c');
const std::string kHeader =
    "tag_id,site_id,mineral,weight_kg,grade_percent,producer_key,recorded_at\n";

std::string Row(const std::string& tag, const std::string& weight = "25.3",
                const std::string& at = "2026-03-01T09:30:00Z") {
  return tag + ",CD-SK-0042,cassiterite," + weight + ",45.5," + kProducer + "," + at + "\n";
}

TEST(Csv, QuotedFieldsHoldCommasQuotesAndLineBreaks) {
  auto records = ParseCsv("a,\"b, c\",\"say \"\"hi\"\"\"\r\n\"two\nlines\",x\n  y ,z");
  ASSERT_EQ(records.size(), 3u);
  EXPECT_EQ(records[0].line, 1u);
  EXPECT_EQ(records[0].fields, (std::vector<std::string>{"a", "b, c", "say \"hi\""}));
  EXPECT_EQ(records[1].line, 2u);
  EXPECT_EQ(records[1].fields, (std::vector<std::string>{"two\nlines", "x"}));
  EXPECT_EQ(records[2].line, 4u);  // the quoted line break moved it down one line
  EXPECT_EQ(records[2].fields, (std::vector<std::string>{"y", "z"}));
  for (const CsvRecord& r : records) EXPECT_EQ(r.error, "");
}

TEST(Csv, EmptyFieldsAndTrailingCommaAndByteOrderMark) {
  auto records = ParseCsv("\xEF\xBB\xBFh1,h2,h3\n,,\na,b,\n");
  ASSERT_EQ(records.size(), 3u);
  EXPECT_EQ(records[0].fields[0], "h1");
  EXPECT_EQ(records[1].fields, (std::vector<std::string>{"", "", ""}));
  EXPECT_EQ(records[2].fields, (std::vector<std::string>{"a", "b", ""}));
}

TEST(Csv, BrokenQuotesAreReportedOnTheirRecord) {
  auto after = ParseCsv("a,\"b\"c,d\nok,1,2\n");
  ASSERT_EQ(after.size(), 2u);
  EXPECT_NE(after[0].error.find("text after the closing quote of field 2"), std::string::npos)
      << after[0].error;
  EXPECT_EQ(after[1].error, "");
  auto open = ParseCsv("x,y\n\"never closed,1\n2\n");
  ASSERT_EQ(open.size(), 2u);
  EXPECT_EQ(open[1].line, 2u);
  EXPECT_NE(open[1].error.find("not closed"), std::string::npos);
}

TEST(Logbook, GoodRowsBecomeRecordLotBodiesWithDeviceTime) {
  auto book = ParseLogbook(kHeader + Row("T0000012") + Row("T0000013", "1.5", ""));
  ASSERT_TRUE(book) << book.error().message;
  EXPECT_TRUE(book->errors.empty());
  EXPECT_EQ(book->data_rows, 2u);
  ASSERT_EQ(book->rows.size(), 2u);
  const v1::TxBody& first = book->rows[0].body;
  EXPECT_EQ(book->rows[0].line, 2u);
  EXPECT_EQ(first.record_mine_lot().tag_id(), "T0000012");
  EXPECT_EQ(first.record_mine_lot().site_id(), "CD-SK-0042");
  EXPECT_EQ(first.record_mine_lot().mineral(), v1::MINERAL_CASSITERITE);
  EXPECT_EQ(first.record_mine_lot().weight_grams(), 25300u);
  EXPECT_EQ(first.record_mine_lot().grade_basis_points(), 4550u);
  EXPECT_EQ(first.record_mine_lot().producer_key(), std::string(32, '\xcc'));
  EXPECT_EQ(first.created_at_ms(), 1772357400000);  // 2026-03-01T09:30:00Z
  EXPECT_EQ(book->rows[1].body.created_at_ms(), 0);  // empty: the signing time
  EXPECT_EQ(book->rows[1].body.record_mine_lot().weight_grams(), 1500u);
}

TEST(Logbook, ColumnsInAnyOrderAndRecordedAtOptional) {
  auto book = ParseLogbook("Producer_Key, weight_kg ,tag_id,mineral,site_id,grade_percent\n" +
                           kProducer + ",\"3,5\",T1,coltan,S1,30\n" + kProducer +
                           ",3.5,T2,coltan,S1,30\n");
  ASSERT_TRUE(book) << book.error().message;
  ASSERT_EQ(book->rows.size(), 1u);
  EXPECT_EQ(book->rows[0].body.record_mine_lot().tag_id(), "T2");
  ASSERT_EQ(book->errors.size(), 1u);
  // "3,5" (a decimal comma) is one quoted field, and not a weight.
  EXPECT_EQ(book->errors[0].line, 2u);
  EXPECT_NE(book->errors[0].reason.find("weight_kg: \"3,5\""), std::string::npos)
      << book->errors[0].reason;
}

TEST(Logbook, BadRowsAreReportedByLineAndGoodRowsKept) {
  const std::string csv = kHeader + Row("T1") +          // line 2: good
                          Row("T2", "1.2345") +          // 3: four decimals
                          "\n" +                          // 4: blank, skipped
                          Row("T3", "2", "2026-03-01") +  // 5: a date is a time at 00:00Z
                          Row("T4", "2", "2026-03-01T09:30:00") +  // 6: no Z
                          "T5,CD-SK-0042,gold,1,1," + kProducer + ",\n" +  // 7: mineral
                          "T6,CD-SK-0042,coltan,1\n" +                     // 8: too few fields
                          ",CD-SK-0042,coltan,1,1," + kProducer + ",\n" +  // 9: no tag
                          "T7,CD-SK-0042,coltan,1,1,bob,\n" +              // 10: producer
                          Row("T1") +                                      // 11: tag again
                          ",,,,,,\n" +                                     // 12: blank
                          Row("T8");                                       // 13: good
  auto book = ParseLogbook(csv);
  ASSERT_TRUE(book) << book.error().message;
  EXPECT_EQ(book->data_rows, 10u);
  ASSERT_EQ(book->rows.size(), 3u);
  EXPECT_EQ(book->rows[0].line, 2u);
  EXPECT_EQ(book->rows[1].line, 5u);
  EXPECT_EQ(book->rows[1].body.created_at_ms(), 1772323200000);
  EXPECT_EQ(book->rows[2].line, 13u);
  struct Expected {
    size_t line;
    const char* words;
  };
  const Expected expected[] = {
      {3, "weight_kg: \"1.2345\" has more than 3 decimals"},
      {6, "recorded_at: \"2026-03-01T09:30:00\" must end in Z"},
      {7, "mineral: unknown mineral \"gold\""},
      {8, "4 fields, but the header has 7"},
      {9, "tag_id is empty"},
      {10, "producer_key: \"bob\" is neither 64 hex characters"},
      {11, "tag T1 is already used on line 2"},
  };
  ASSERT_EQ(book->errors.size(), std::size(expected));
  for (size_t i = 0; i < book->errors.size(); ++i) {
    EXPECT_EQ(book->errors[i].line, expected[i].line) << book->errors[i].reason;
    EXPECT_NE(book->errors[i].reason.find(expected[i].words), std::string::npos)
        << "line " << expected[i].line << ": " << book->errors[i].reason;
  }
}

TEST(Logbook, BadHeadersStopEverything) {
  struct Case {
    std::string csv;
    const char* words;
  };
  const Case cases[] = {
      {"", "line 1: the file is empty"},
      {"\n\n", "line 1: the file is empty"},
      {"tag_id,site_id,mineral,weight_kg,grade_percent,producer_key,recorded_on\n",
       "line 1: unknown column \"recorded_on\""},
      {"tag_id,site_id,mineral,weight_kg,grade_percent\n", "the header has no column producer_key"},
      {"tag_id,TAG_ID,site_id,mineral,weight_kg,grade_percent,producer_key\n",
       "column tag_id appears twice"},
      {"\n" + std::string("tag_id,\"site_id\n"), "line 2: header: a quoted field is not closed"},
  };
  for (const Case& c : cases) {
    auto book = ParseLogbook(c.csv);
    ASSERT_FALSE(book) << c.csv;
    EXPECT_EQ(book.error().code, ErrorCode::kInvalidArgument);
    EXPECT_NE(book.error().message.find(c.words), std::string::npos)
        << c.words << " in: " << book.error().message;
  }
}

}  // namespace
}  // namespace minetrace::cli
