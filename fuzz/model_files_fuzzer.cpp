// libFuzzer target: the load() of every saved type over arbitrary bytes — format 1 and format 2
// streams; the seeds are the golden files (tests/data/golden/v*/), one per type, so every
// type's loader is reached from a valid stream and mutated from there. Only marl_rec::Error is
// an acceptable failure. For the types below, a stream that loads must also save again, and
// that stream must load into a fresh object that saves the very same bytes (a load neither
// loses nor invents state). Every other type is loaded through its golden recipe (which then
// uses the loaded object: scores, decisions, counters).
#include <cstddef>
#include <cstdint>
#include <sstream>
#include <string>
#include <type_traits>
#include <vector>

#include "fuzz_check.hpp"
#include "marl_rec/marl_rec.hpp"
#include "persist/golden_all.hpp"

namespace mr = marl_rec;

namespace {

template <class T>
T fresh() {
  if constexpr (std::is_same_v<T, mr::Catalog>) {
    return mr::Catalog(1);  // no default: any dim, load replaces it
  } else {
    return T{};
  }
}

template <class T>
void check_round_trip(const std::string& bytes) {
  T object = fresh<T>();
  {
    std::istringstream in(bytes);
    try {
      object.load(in);
    } catch (const mr::Error&) {
      return;
    }
  }
  std::ostringstream first;
  object.save(first);
  T again = fresh<T>();
  std::istringstream in(first.str());
  again.load(in);
  std::ostringstream second;
  again.save(second);
  MARL_REC_FUZZ_CHECK(first.str() == second.str());
}

// The type name a stream's header claims (format 1 or 2), or "" when there is none: only the
// loaders of that type get past the header, so only they are run (the others would reject the
// stream at its type name, which linucb's loader checks for every input).
std::string claimed_type(const std::string& bytes) {
  const bool v1 = bytes.compare(0, 8, "MRECMDL1") == 0;
  const bool v2 = bytes.compare(0, 8, "MRECMDL2") == 0;
  if (!v1 && !v2) return "";
  const std::size_t at = v1 ? 8 : 12;
  if (bytes.size() < at + 8) return "";
  std::uint64_t n = 0;
  for (int i = 0; i < 8; ++i) n |= std::uint64_t{static_cast<unsigned char>(bytes[at + static_cast<std::size_t>(i)])} << (8 * i);
  if (n > 256 || bytes.size() < at + 8 + n) return "";
  return bytes.substr(at + 8, static_cast<std::size_t>(n));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const std::vector<mr::test::golden::Recipe> recipes = mr::test::golden::all_recipes();
  const std::string bytes(reinterpret_cast<const char*>(data), size);
  const std::string type = claimed_type(bytes);
  check_round_trip<mr::LinUcb>(bytes);  // every input: the header checks
  if (type == "linthompson") check_round_trip<mr::LinThompson>(bytes);
  if (type == "linear_q") check_round_trip<mr::LinearQ>(bytes);
  if (type == "tabular_q") check_round_trip<mr::TabularQ>(bytes);
  if (type == "mlp") check_round_trip<mr::MlpScorer>(bytes);
  if (type == "matrix_factorization") check_round_trip<mr::MatrixFactorization>(bytes);
  if (type == "ease") check_round_trip<mr::Ease>(bytes);
  if (type == "itemknn") check_round_trip<mr::ItemKnn>(bytes);
  if (type == "federated_averaging") check_round_trip<mr::FederatedAveraging>(bytes);
  if (type == "catalog") check_round_trip<mr::Catalog>(bytes);
  if (type == "epsilon_greedy") check_round_trip<mr::EpsilonGreedy>(bytes);
  for (const auto& recipe : recipes) {
    if (recipe.type != type) continue;
    std::istringstream in(bytes);
    try {
      (void)recipe.load(in);
    } catch (const mr::Error&) {
    }
  }
  return 0;
}
