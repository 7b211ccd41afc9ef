#include <doctest/doctest.h>

#include <cmath>
#include <cstddef>
#include <filesystem>
#include <sstream>
#include <string>
#include <vector>

#include "marl_rec/io/obd.hpp"
#include "support/errors.hpp"

namespace mr = marl_rec;
namespace io = marl_rec::io;

namespace {

const std::string items_text =
    ",item_id,item_feature_0,item_feature_1,item_feature_2,item_feature_3\n"
    "0,1,0.25,a2,b1,c1\n"  // rows need not be in item_id order
    "1,0,-0.5,a1,b1,c1\n";
const std::string log_header =
    ",timestamp,item_id,position,click,propensity_score,user_feature_0,user_feature_1,user_feature_"
    "2,"
    "user_feature_3,user-item_affinity_0,user-item_affinity_1\n";
const std::string good_row = "0,2019-11-24 00:03:13+00:00,1,1,0,0.5,ua,ub,uc,ud,0.0,0.0\n";

io::ObdLog read(const std::string& log, const std::string& items = items_text,
                io::ReadReport* report = nullptr) {
  std::istringstream log_in(log);
  std::istringstream items_in(items);
  return io::read_obd(log_in, "log.csv", items_in, "item_context.csv", report);
}

using marl_rec::test::error_of;

std::vector<float> row(mr::MatrixView m, std::size_t r) {
  return {m.row(r).begin(), m.row(r).end()};
}

}  // namespace

TEST_CASE("read_obd: decisions, one-hot user context with affinities, item features") {
  io::ReadReport report;
  const std::string dir = MARL_REC_TEST_DATA_DIR "/io/obd/";
  const io::ObdLog log = io::read_obd(dir + "log.csv", dir + "item_context.csv", &report);
  CHECK(log.n_actions == 3);
  CHECK(log.n_positions == 3);
  REQUIRE(log.decisions.size() == 3);
  CHECK(log.decisions[0] == mr::LoggedDecision{.context = 0,
                                               .action = 2,
                                               .position = 0,
                                               .reward = 0.0,
                                               .propensity = 0.3333333333333333,
                                               .timestamp = log.decisions[0].timestamp});
  CHECK(log.decisions[0].timestamp == doctest::Approx(1574553793.442536).epsilon(1e-15));
  CHECK(log.decisions[1] == mr::LoggedDecision{.context = 1,
                                               .action = 0,
                                               .position = 2,
                                               .reward = 1.0,
                                               .propensity = 0.3333333333333333,
                                               .timestamp = 1574553794.0});
  CHECK(report.summary() == dir + "log.csv: 3 rows read, 3 kept, 0 skipped");

  // user_feature_0 has ua, uy; _1 has ub, ux; _2 uc; _3 ud; then 3 affinities.
  CHECK(log.context_names ==
        std::vector<std::string>{"user_feature_0=ua", "user_feature_0=uy", "user_feature_1=ub",
                                 "user_feature_1=ux", "user_feature_2=uc", "user_feature_3=ud",
                                 "user-item_affinity_0", "user-item_affinity_1",
                                 "user-item_affinity_2"});
  const mr::MatrixView c = log.context_matrix();
  REQUIRE(c.rows() == 3);
  REQUIRE(c.cols() == 9);
  CHECK(row(c, 0) == std::vector<float>{1, 0, 1, 0, 1, 1, 0, 0, 0});
  CHECK(row(c, 1) == std::vector<float>{1, 0, 0, 1, 1, 1, 0, 2, 0});
  CHECK(row(c, 2) == std::vector<float>{0, 1, 1, 0, 1, 1, 0.5f, 0, 0});

  // item_feature_1 has a1, a2; _2 b1, b2; _3 c1.
  CHECK(log.action_feature_names ==
        std::vector<std::string>{"item_feature_0", "item_feature_1=a1", "item_feature_1=a2",
                                 "item_feature_2=b1", "item_feature_2=b2", "item_feature_3=c1"});
  const mr::MatrixView a = log.action_matrix();
  REQUIRE(a.rows() == 3);
  CHECK(row(a, 0) == std::vector<float>{-0.5f, 1, 0, 1, 0, 1});
  CHECK(row(a, 1) == std::vector<float>{0.25f, 0, 1, 1, 0, 1});
  CHECK(row(a, 2) == std::vector<float>{1.0f, 1, 0, 0, 1, 1});
}

TEST_CASE("read_obd: action rows are placed by item_id, whatever the file order") {
  const io::ObdLog log = read(log_header + good_row);
  CHECK(log.n_actions == 2);
  CHECK(log.action_feature_names[1] == "item_feature_1=a2");  // first appearance in the file
  CHECK(row(log.action_matrix(), 0) == std::vector<float>{-0.5f, 0, 1, 1, 1});
  CHECK(row(log.action_matrix(), 1) == std::vector<float>{0.25f, 1, 0, 1, 1});
  CHECK(io::ObdLog{}.context_matrix().empty());
}

TEST_CASE("read_obd: bad values in the log name the file, line, column and what was expected") {
  const auto bad = [](const std::string& r) {
    return error_of([&] { read(log_header + good_row + r); });
  };
  CHECK(bad("1,2019-11-24 00:03:13+00:00,2,1,0,0.5,ua,ub,uc,ud,0.0,0.0\n") ==
        "log.csv:3:29 (item_id): expected an item of item_context.csv (0..1), got 2");
  CHECK(bad("1,2019-11-24 00:03:13+00:00,-1,1,0,0.5,ua,ub,uc,ud,0.0,0.0\n") ==
        "log.csv:3:29 (item_id): expected an item of item_context.csv (0..1), got -1");
  CHECK(bad("1,2019-11-24 00:03:13+00:00,x,1,0,0.5,ua,ub,uc,ud,0.0,0.0\n") ==
        "log.csv:3:29 (item_id): expected an integer, got 'x'");
  CHECK(bad("1,2019-11-24 00:03:13+00:00,1,0,0,0.5,ua,ub,uc,ud,0.0,0.0\n") ==
        "log.csv:3:31 (position): expected a position >= 1 (1 = left), got 0");
  CHECK(bad("1,2019-11-24 00:03:13+00:00,1,1,2,0.5,ua,ub,uc,ud,0.0,0.0\n") ==
        "log.csv:3:33 (click): expected a click of 0 or 1, got 2");
  CHECK(bad("1,2019-11-24 00:03:13+00:00,1,1,0,0,ua,ub,uc,ud,0.0,0.0\n") ==
        "log.csv:3:35 (propensity_score): expected a propensity in (0, 1], got '0'");
  CHECK(bad("1,2019-11-24 00:03:13+00:00,1,1,0,1.5,ua,ub,uc,ud,0.0,0.0\n") ==
        "log.csv:3:35 (propensity_score): expected a propensity in (0, 1], got '1.5'");
  CHECK(bad("1,2019-11-24 00:03:13+00:00,1,1,0,nan,ua,ub,uc,ud,0.0,0.0\n") ==
        "log.csv:3:35 (propensity_score): expected a finite number, got 'nan'");
  CHECK(
      bad("1,2019-11-31 00:03:13+00:00,1,1,0,0.5,ua,ub,uc,ud,0.0,0.0\n") ==
      "log.csv:3:3 (timestamp): day 31 does not exist in 2019-11, got '2019-11-31 00:03:13+00:00'");
  CHECK(bad("1,2019-11-24 00:03:13+00:00,1,1,0,0.5,ua,ub,uc,ud,0.0,NaN\n") ==
        "log.csv:3:55 (user-item_affinity_1): expected a finite number, got 'NaN'");
  CHECK(bad("1,2019-11-24 00:03:13+00:00,1,1,0,0.5,ua,ub,uc,ud,0.0\n") ==
        "log.csv:3: expected 12 fields (as in the header), got 11");
}

TEST_CASE("read_obd: the column set is checked, naming the missing or unexpected column") {
  CHECK(error_of([] { read(",timestamp,item_id,position,click\n"); }) ==
        "log.csv:1: missing column 'propensity_score'");
  // One affinity column per item of item_context.csv.
  CHECK(error_of([] {
          read(
              ",timestamp,item_id,position,click,propensity_score,user_feature_0,user_feature_1,"
              "user_feature_2,"
              "user_feature_3,user-item_affinity_0\n");
        }) == "log.csv:1: missing column 'user-item_affinity_1'");
  CHECK(error_of([] {
          read(log_header.substr(0, log_header.size() - 1) + ",user-item_affinity_2\n");
        }) ==
        "log.csv:1:154: unexpected column 'user-item_affinity_2' (expected the Open Bandit Dataset "
        "columns; see "
        "docs/data_formats.md)");
  CHECK(error_of([] { read(",timestamp,timestamp\n"); }) ==
        "log.csv:1:12: column 'timestamp' appears twice");
  CHECK(error_of([] {
          read(log_header + good_row,
               ",item_id,item_feature_0,item_feature_1,item_feature_3\n0,0,1,a,b\n");
        }) == "item_context.csv:1: missing column 'item_feature_2'");
}

TEST_CASE("read_obd: item_context.csv ids must be exactly 0..K-1") {
  const std::string header =
      ",item_id,item_feature_0,item_feature_1,item_feature_2,item_feature_3\n";
  const auto bad = [&](const std::string& rows) {
    return error_of([&] { read(log_header + good_row, header + rows); });
  };
  CHECK(
      bad("0,0,1,a,b,c\n1,2,1,a,b,c\n") ==
      "item_context.csv:3:3 (item_id): expected an item_id in 0..1 (the file has 2 items), got 2");
  CHECK(bad("0,0,1,a,b,c\n1,0,1,a,b,c\n") ==
        "item_context.csv:3:3 (item_id): item_id 0 appears twice (first on line 2)");
  CHECK(bad("0,0,inf,a,b,c\n") ==
        "item_context.csv:2:5 (item_feature_0): expected a finite number, got 'inf'");
  CHECK(bad("") == "item_context.csv: no items (no data rows)");
  CHECK(error_of([] { read(log_header + good_row, ""); }) ==
        "item_context.csv: no items (the file is empty)");
}

TEST_CASE("read_obd: empty logs, missing files") {
  CHECK(error_of([] { read(""); }) == "log.csv: no decisions (the file is empty)");
  CHECK(error_of([] { read(log_header); }) == "log.csv: no decisions (no data rows)");
  CHECK(error_of([] { io::read_obd("/nonexistent/men.csv", "/nonexistent/item_context.csv"); }) ==
        "/nonexistent/item_context.csv: cannot open: no such file");
}

#ifdef MARL_REC_SHARED_DATA_DIR
TEST_CASE("read_obd: both Open Bandit campaigns load whole") {
  struct Campaign {
    const char* name;
    std::size_t items;
    std::size_t user_values;  // distinct values of user_feature_0..3
    std::size_t item_values;  // distinct values of item_feature_1..3
  };
  for (const Campaign& campaign : {Campaign{"men", 34, 3 + 5 + 9 + 8, 7 + 16 + 4},
                                   Campaign{"women", 46, 3 + 5 + 8 + 7, 10 + 15 + 7}}) {
    CAPTURE(campaign.name);
    const std::string dir =
        std::string(MARL_REC_SHARED_DATA_DIR "/obd/random/") + campaign.name + "/";
    const std::string log_csv = dir + campaign.name + ".csv";
    REQUIRE_MESSAGE(std::filesystem::exists(log_csv), "missing shared data file ", log_csv);
    REQUIRE_MESSAGE(std::filesystem::exists(dir + "item_context.csv"), "missing shared data file ",
                    dir);
    io::ReadReport report;
    const io::ObdLog log = io::read_obd(log_csv, dir + "item_context.csv", &report);
    CHECK(report.rows_read == 10000);
    REQUIRE(log.decisions.size() == 10000);
    CHECK(log.n_actions == campaign.items);
    CHECK(log.n_positions == 3);
    CHECK(log.context_dim == campaign.user_values + campaign.items);
    CHECK(log.action_dim == 1 + campaign.item_values);
    CHECK(log.context_matrix().rows() == 10000);
    CHECK(log.action_matrix().rows() == campaign.items);
    double clicks = 0.0;
    std::size_t wrong_propensity = 0;
    std::size_t out_of_order = 0;
    std::vector<std::size_t> per_position(3, 0);
    const double one_over_k = 1.0 / static_cast<double>(campaign.items);
    for (std::size_t r = 0; r < log.decisions.size(); ++r) {
      const mr::LoggedDecision& d = log.decisions[r];
      clicks += d.reward;
      wrong_propensity += d.propensity == one_over_k ? 0 : 1;
      out_of_order += r > 0 && d.timestamp < log.decisions[r - 1].timestamp ? 1 : 0;
      ++per_position[d.position];
    }
    CHECK(clicks == 46.0);
    CHECK(wrong_propensity == 0);
    CHECK(out_of_order == 0);  // the files are sorted by timestamp
    CHECK(log.decisions.front().timestamp >= io::parse_timestamp("2019-11-24"));
    CHECK(log.decisions.back().timestamp < io::parse_timestamp("2019-12-01"));
    // Every context row has exactly one 1 per user feature.
    float ones = 0.0f;
    for (std::size_t j = 0; j < campaign.user_values; ++j) ones += log.context_matrix().row(123)[j];
    CHECK(ones == 4.0f);
  }
}
#endif
