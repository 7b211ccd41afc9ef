// The off-policy pipeline on the real Open Bandit logs: reader → estimators. The uniform-random
// logging policy's value estimated by IPS must equal its empirical click rate exactly (every
// propensity is 1/K, so every importance weight is 1), inside the bootstrap interval.
#include <doctest/doctest.h>

#ifdef MARL_REC_SHARED_DATA_DIR

#include <string>
#include <vector>

#include "marl_rec/eval/off_policy.hpp"
#include "marl_rec/io/obd.hpp"

TEST_CASE("OBD random logs: IPS of the uniform policy equals the click rate, inside its interval") {
  for (const std::string campaign : {"men", "women"}) {
    CAPTURE(campaign);
    const std::string dir = std::string(MARL_REC_SHARED_DATA_DIR) + "/obd/random/" + campaign;
    const auto log = marl_rec::io::read_obd(dir + "/" + campaign + ".csv", dir + "/item_context.csv");
    double clicks = 0;
    for (const auto& d : log.decisions) clicks += d.reward;
    const double rate = clicks / static_cast<double>(log.decisions.size());
    const std::vector<double> uniform(log.decisions.size(), 1.0 / static_cast<double>(log.n_actions));
    const auto ips = marl_rec::eval::ips(log.decisions, uniform, {.samples = 500, .confidence = 0.95, .seed = 3});
    const auto snips = marl_rec::eval::snips(log.decisions, uniform, {.samples = 500, .confidence = 0.95, .seed = 3});
    CHECK(ips.value == doctest::Approx(rate).epsilon(1e-12));
    CHECK(snips.value == doctest::Approx(rate).epsilon(1e-12));
    CHECK(ips.ci_low <= rate);
    CHECK(rate <= ips.ci_high);
    CHECK(ips.ci_low < ips.ci_high);
    CHECK(clicks == 46);
  }
}

#endif
