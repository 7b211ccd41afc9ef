// libFuzzer target: read_obd over arbitrary bytes. An even first byte fuzzes the log against a
// fixed item_context.csv (2 items); an odd one fuzzes item_context.csv against a fixed log. Only
// marl_rec::Error is an acceptable failure; a result must be consistent (ids and positions in
// range, propensities in (0, 1], matrix shapes, one 1 per categorical feature).
#include <cstddef>
#include <cstdint>
#include <sstream>
#include <string>

#include "fuzz_check.hpp"
#include "marl_rec/io/obd.hpp"

namespace io = marl_rec::io;

namespace {

const char* const fixed_items =
    ",item_id,item_feature_0,item_feature_1,item_feature_2,item_feature_3\n"
    "0,0,-0.5,a1,b1,c1\n"
    "1,1,0.25,a2,b1,c1\n";
const char* const fixed_log =
    ",timestamp,item_id,position,click,propensity_score,user_feature_0,user_feature_1,user_feature_"
    "2,"
    "user_feature_3,user-item_affinity_0,user-item_affinity_1\n"
    "0,2019-11-24 00:03:13.442536+00:00,1,1,0,0.5,ua,ub,uc,ud,0.0,0.0\n"
    "1,2019-11-24 00:03:14+00:00,0,3,1,0.5,ua,ux,uc,ud,0.0,2.0\n";

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const std::string text(reinterpret_cast<const char*>(data + 1), size - 1);
  const bool fuzz_items = (data[0] & 1) != 0;
  try {
    std::istringstream log_in(fuzz_items ? std::string(fixed_log) : text);
    std::istringstream items_in(fuzz_items ? text : std::string(fixed_items));
    const io::ObdLog log = io::read_obd(log_in, "log.csv", items_in, "item_context.csv");
    const std::size_t n = log.decisions.size();
    MARL_REC_FUZZ_CHECK(n > 0 && log.n_actions > 0 && log.n_positions > 0);
    MARL_REC_FUZZ_CHECK(log.context.size() == n * log.context_dim);
    MARL_REC_FUZZ_CHECK(log.context_names.size() == log.context_dim);
    MARL_REC_FUZZ_CHECK(log.action_features.size() == log.n_actions * log.action_dim);
    MARL_REC_FUZZ_CHECK(log.action_feature_names.size() == log.action_dim);
    const std::size_t one_hot_dim = log.context_dim - log.n_actions;
    for (std::size_t r = 0; r < n; ++r) {
      const marl_rec::LoggedDecision& d = log.decisions[r];
      MARL_REC_FUZZ_CHECK(d.context == r && d.action < log.n_actions &&
                          d.position < log.n_positions);
      MARL_REC_FUZZ_CHECK(d.propensity > 0.0 && d.propensity <= 1.0);
      MARL_REC_FUZZ_CHECK(d.reward == 0.0 || d.reward == 1.0);
      float ones = 0.0f;
      for (std::size_t j = 0; j < one_hot_dim; ++j) ones += log.context_matrix().row(r)[j];
      MARL_REC_FUZZ_CHECK(ones == 4.0f);
    }
  } catch (const marl_rec::Error&) {
  }
  return 0;
}
