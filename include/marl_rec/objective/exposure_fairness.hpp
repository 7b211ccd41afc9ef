// marl_rec — ExposureFairness: keeps each provider's share of the exposure near a target, across
// the pages served and within the list being built.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <istream>
#include <map>
#include <ostream>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "marl_rec/core/catalog.hpp"
#include "marl_rec/core/error.hpp"
#include "marl_rec/io/model_stream.hpp"
#include "marl_rec/io/string_fields.hpp"
#include "marl_rec/objective/ranking_input.hpp"

namespace marl_rec {

/// Settings of ExposureFairness.
struct ExposureFairnessConfig {
  /// At each record(), the exposure remembered so far is multiplied by `decay` before the page's
  /// own is added: 1 never forgets; 0.99 halves a page's weight after about 69 more pages.
  /// Must be in (0, 1].
  double decay = 1.0;
  /// The share of the exposure each provider should get (normalised to sum to 1; a provider not
  /// listed gets 0). Empty: uniform over the providers known (see ExposureFairness).
  std::map<std::string, double, std::less<>> target_share{};
};

/// Exposure fairness across providers (ItemAttributes::provider; "" is a provider like any
/// other). A slot at position j (0 = top) gives its item's provider the exposure 1 / log2(j + 2),
/// the DCG discount. The objective remembers the exposure of the pages actually shown (record(),
/// with the optional decay) and adds that of the list being built (select()).
///
/// Value of candidate c of provider p, with E_p the exposure of p so far (remembered + this list)
/// and s_p = E_p / Σ_q E_q its share (0 while nothing was exposed), t_p its target share:
///
///   v(c) = (1 + clamp((t_p − s_p) / t_p, −1, 1)) / 2 = max(0, 1 − s_p / (2 t_p)),
///
/// so v ∈ [0, 1]: 1 for a provider not exposed yet, 1/2 at its target, 0 at twice its target or
/// more; an under-exposed provider's items are worth more than an over-exposed one's. A provider
/// with target 0 is worth 0. The share is taken *before* c's own slot: counting c's exposure at
/// the next position too (s = (E_p + e)/(Σ E + e)) would give every candidate a share near 1 at
/// the top of a fresh list, so with many providers every value would be clamped to 0 and the
/// objective would say nothing until much exposure had accumulated; before-the-slot shares rank
/// providers the same way (at one step e is the same for all) without that blind spot.
///
/// Providers known: those of every catalog prepare() or record() sees (scanned when the catalog's
/// address or size differs from the last one scanned — O(catalog) then; after changing
/// providers with Catalog::set_attributes, call reset()), plus any new provider of a candidate.
/// With no configured target, each known provider's target is 1 / (number known).
///
/// Needs RankingInput::catalog. list_dependent = true. A RecordingObjective. Allocates only when
/// providers or the candidate count grow. Not thread-safe.
///
/// Persistence: save() writes the config, the providers known and their remembered exposure
/// (type "exposure_fairness", version 1); load() replaces them. The ranking in progress is not
/// saved: after a load, prepare() a ranking before value() or select(). The catalog is not
/// saved either; the next prepare() or record() scans it again (which finds no provider a loaded
/// objective did not know, when it is the catalog the saved one had seen).
class ExposureFairness {
 public:
  static constexpr bool list_dependent = true;

  ExposureFairness() = default;
  /// Throws Error when decay is not in (0, 1], a target share is not finite or negative, or the
  /// target shares are given and sum to 0.
  explicit ExposureFairness(ExposureFairnessConfig config) : config_(std::move(config)) {
    marl_rec::detail::require(config_.decay > 0.0 && config_.decay <= 1.0, [&] {
      return "ExposureFairness: decay must be in (0, 1], got " + std::to_string(config_.decay);
    });
    double sum = 0.0;
    for (const auto& entry : config_.target_share) {
      // (Not a structured binding: clang 14 cannot capture one in the message lambda.)
      marl_rec::detail::require(std::isfinite(entry.second) && entry.second >= 0.0, [&] {
        return "ExposureFairness: the target share of '" + entry.first + "' must be finite and >= 0, got " +
               std::to_string(entry.second);
      });
      sum += entry.second;
    }
    marl_rec::detail::require(config_.target_share.empty() || sum > 0.0,
                              "ExposureFairness: the target shares sum to 0");
    target_sum_ = sum;
  }

  const ExposureFairnessConfig& config() const noexcept { return config_; }
  std::string_view name() const noexcept { return "exposure_fairness"; }

  /// Starts a ranking: learns the candidates' providers. Throws Error when the catalog is null or
  /// a candidate is outside it.
  void prepare(const RankingInput& input) {
    const Catalog* catalog = input.catalog;
    marl_rec::detail::require(catalog != nullptr, "ExposureFairness::prepare: RankingInput::catalog is null");
    const std::size_t n = input.items.size();
    for (std::size_t p = 0; p < n; ++p) {
      marl_rec::detail::require(input.items[p] < catalog->size(), [&] {
        return "ExposureFairness::prepare: candidate " + std::to_string(p) + " is item " +
               std::to_string(input.items[p]) + ", outside the catalog (size " + std::to_string(catalog->size()) +
               ")";
      });
    }
    learn_providers(*catalog);
    provider_of_.resize(n);
    target_of_.resize(n);
    for (std::size_t p = 0; p < n; ++p) {
      provider_of_[p] = provider_index(catalog->attributes(input.items[p]).provider);
    }
    for (std::size_t p = 0; p < n; ++p) target_of_[p] = target(provider_of_[p]);
    for (const std::size_t i : touched_) in_list_[i] = 0.0;
    touched_.clear();
    list_total_ = 0.0;
    list_length_ = 0;
  }

  /// max(0, 1 − s_p / (2 t_p)) for the candidate's provider p (see the class comment).
  double value(std::size_t position) const noexcept {
    const double t = target_of_[position];
    if (!(t > 0.0)) return 0.0;
    const std::size_t i = provider_of_[position];
    const double total = total_ * scale_ + list_total_;
    const double share = total > 0.0 ? (exposure_[i] * scale_ + in_list_[i]) / total : 0.0;
    return (1.0 + std::clamp((t - share) / t, -1.0, 1.0)) / 2.0;
  }

  /// Candidate `position` took the next slot of the list: its provider gains that slot's exposure.
  /// Throws Error when position is not a candidate of the prepared ranking.
  void select(std::size_t position) {
    marl_rec::detail::require(position < provider_of_.size(), [&] {
      return "ExposureFairness::select: position " + std::to_string(position) + " out of range (" +
             std::to_string(provider_of_.size()) + " candidates)";
    });
    const std::size_t i = provider_of_[position];
    const double e = slot_exposure(list_length_++);
    if (in_list_[i] == 0.0) touched_.push_back(i);
    in_list_[i] += e;
    list_total_ += e;
  }

  /// A page was shown: `items` (catalog indices, best first) give their providers the exposure of
  /// their slots, after the remembered exposure decays. Throws Error, changing nothing, when an
  /// item is outside the catalog.
  void record(std::span<const std::size_t> items, const Catalog& catalog) {
    for (std::size_t j = 0; j < items.size(); ++j) {
      marl_rec::detail::require(items[j] < catalog.size(), [&] {
        return "ExposureFairness::record: slot " + std::to_string(j) + " holds item " + std::to_string(items[j]) +
               ", outside the catalog (size " + std::to_string(catalog.size()) + ")";
      });
    }
    learn_providers(catalog);
    // Decay lazily: the stored values are in units of scale_ (true = stored × scale_), so a decay
    // costs O(1) rather than O(providers); renormalise before scale_ underflows.
    scale_ *= config_.decay;
    if (scale_ < 1e-100) {
      for (double& e : exposure_) e *= scale_;
      total_ *= scale_;
      scale_ = 1.0;
    }
    for (std::size_t j = 0; j < items.size(); ++j) {
      const std::size_t i = provider_index(catalog.attributes(items[j]).provider);
      const double e = slot_exposure(j) / scale_;
      exposure_[i] += e;
      total_ += e;
    }
  }

  /// The exposure remembered for `provider` (recorded pages, decayed; not the list being built);
  /// 0 for a provider never seen.
  double exposure(std::string_view provider) const {
    const auto it = index_.find(provider);
    return it == index_.end() ? 0.0 : exposure_[it->second] * scale_;
  }
  /// `provider`'s share of the remembered exposure (0 when nothing was recorded).
  double exposure_share(std::string_view provider) const {
    const auto it = index_.find(provider);
    if (it == index_.end() || !(total_ > 0.0)) return 0.0;
    return exposure_[it->second] / total_;
  }
  /// `provider`'s target share (configured, normalised; or uniform over the providers known).
  double target_share(std::string_view provider) const {
    if (!config_.target_share.empty()) {
      const auto it = config_.target_share.find(provider);
      return it == config_.target_share.end() ? 0.0 : it->second / target_sum_;
    }
    return index_.contains(provider) ? 1.0 / static_cast<double>(index_.size()) : 0.0;
  }
  /// Number of providers known.
  std::size_t providers() const noexcept { return index_.size(); }

  /// Forgets every recorded exposure and the providers known (they are learnt again from the next
  /// catalog seen).
  void reset() {
    index_.clear();
    exposure_.clear();
    in_list_.clear();
    configured_target_.clear();
    touched_.clear();
    provider_of_.clear();
    target_of_.clear();
    total_ = 0.0;
    scale_ = 1.0;
    list_total_ = 0.0;
    list_length_ = 0;
    scanned_ = nullptr;
    scanned_size_ = 0;
  }

  /// Writes the config and the remembered exposure (see the class comment).
  void save(std::ostream& out) const {
    io::ModelWriter w(out, "exposure_fairness", 1);
    w.f64("decay", config_.decay);
    std::vector<const std::string*> targets;
    std::vector<double> shares;
    for (const auto& entry : config_.target_share) {
      targets.push_back(&entry.first);
      shares.push_back(entry.second);
    }
    io::write_strings(w, "target_providers", targets.size(),
                      [&](std::size_t i) -> std::string_view { return *targets[i]; });
    w.doubles("target_shares", shares);
    std::vector<const std::string*> providers(index_.size());
    for (const auto& entry : index_) providers[entry.second] = &entry.first;
    io::write_strings(w, "providers", providers.size(),
                      [&](std::size_t i) -> std::string_view { return *providers[i]; });
    w.doubles("exposure", exposure_);
    w.f64("total", total_);
    w.f64("scale", scale_);
    w.finish();
  }

  /// Replaces the config and the remembered exposure with what save() wrote. Throws Error
  /// (objective unchanged) on a truncated, corrupted or foreign stream, a config the constructor
  /// refuses, a provider or target named twice, or an exposure, total or scale that is negative
  /// or not finite (the scale must lie in (0, 1]).
  void load(std::istream& in) {
    constexpr const char* where = "loading a 'exposure_fairness' model";
    const auto check = [&](bool ok, auto&& message) {
      marl_rec::detail::require(ok, [&] { return std::string(where) + ": " + message(); });
    };
    io::ModelReader r(in, "exposure_fairness", 1);
    ExposureFairnessConfig c;
    c.decay = r.f64("decay");
    std::vector<std::string> targets = io::read_strings(r, "target_providers", where);
    const std::vector<double> shares = r.doubles("target_shares", targets.size());
    for (std::size_t i = 0; i < targets.size(); ++i) {
      check(c.target_share.emplace(std::move(targets[i]), shares[i]).second,
            [&] { return "target provider " + std::to_string(i) + " is given twice"; });
    }
    ExposureFairness loaded = [&] {
      try {
        return ExposureFairness(std::move(c));
      } catch (const Error& e) {
        throw Error(std::string(where) + ": " + e.what());
      }
    }();
    std::vector<std::string> providers = io::read_strings(r, "providers", where);
    loaded.exposure_ = r.doubles("exposure", providers.size());
    loaded.total_ = r.f64("total");
    loaded.scale_ = r.f64("scale");
    r.finish();
    const auto valid = [](double x) { return std::isfinite(x) && x >= 0.0; };
    for (std::size_t i = 0; i < providers.size(); ++i) {
      check(valid(loaded.exposure_[i]), [&] {
        return "the exposure of provider '" + providers[i] + "' is " + std::to_string(loaded.exposure_[i]);
      });
    }
    check(valid(loaded.total_), [&] { return "the total exposure is " + std::to_string(loaded.total_); });
    check(loaded.scale_ > 0.0 && loaded.scale_ <= 1.0,
          [&] { return "the scale " + std::to_string(loaded.scale_) + " is not in (0, 1]"; });
    for (std::size_t i = 0; i < providers.size(); ++i) {
      check(loaded.index_.emplace(providers[i], i).second,
            [&] { return "provider '" + providers[i] + "' is given twice"; });
      loaded.configured_target_.push_back(
          loaded.config_.target_share.empty() ? 0.0 : loaded.target_share(providers[i]));
    }
    loaded.in_list_.assign(providers.size(), 0.0);
    *this = std::move(loaded);
  }

  /// The exposure of slot j (0 = top): 1 / log2(j + 2).
  static double slot_exposure(std::size_t j) noexcept { return 1.0 / std::log2(static_cast<double>(j) + 2.0); }

 private:
  void learn_providers(const Catalog& catalog) {
    if (scanned_ == &catalog && scanned_size_ == catalog.size()) return;
    for (std::size_t i = 0; i < catalog.size(); ++i) provider_index(catalog.attributes(i).provider);
    scanned_ = &catalog;
    scanned_size_ = catalog.size();
  }

  std::size_t provider_index(const std::string& provider) {
    const auto it = index_.find(provider);
    if (it != index_.end()) return it->second;
    const std::size_t i = index_.size();
    exposure_.push_back(0.0);
    in_list_.push_back(0.0);
    configured_target_.push_back(config_.target_share.empty() ? 0.0 : target_share(provider));
    index_.emplace(provider, i);
    return i;
  }

  double target(std::size_t provider) const {
    if (config_.target_share.empty()) return 1.0 / static_cast<double>(index_.size());
    return configured_target_[provider];
  }

  ExposureFairnessConfig config_{};
  double target_sum_ = 0.0;
  // Provider name → dense index into the per-provider vectors.
  std::map<std::string, std::size_t, std::less<>> index_;
  // Per provider: the configured target share (normalised; unused when the target is uniform).
  std::vector<double> configured_target_;
  // Remembered exposure per provider and in total, in units of scale_.
  std::vector<double> exposure_;
  double total_ = 0.0;
  double scale_ = 1.0;
  // The list being built: exposure per provider (true units), the providers touched, the total
  // and the next slot.
  std::vector<double> in_list_;
  std::vector<std::size_t> touched_;
  double list_total_ = 0.0;
  std::size_t list_length_ = 0;
  // Per candidate: provider index and target share.
  std::vector<std::size_t> provider_of_;
  std::vector<double> target_of_;
  // The catalog last scanned for providers.
  const Catalog* scanned_ = nullptr;
  std::size_t scanned_size_ = 0;
};

}  // namespace marl_rec
