// marl_rec — a simulator of users: a seeded catalog and population whose clicks, purchases,
// fatigue and satisfaction follow a known model, so that online learning, multi-slot pages and
// agent coordination can be watched and measured against ground truth. The model, its equations
// and every config field are in docs/simulator.md.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <span>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "marl_rec/core/catalog.hpp"
#include "marl_rec/core/error.hpp"
#include "marl_rec/core/id_map.hpp"
#include "marl_rec/core/logged_decision.hpp"
#include "marl_rec/core/rng.hpp"
#include "marl_rec/simd/aligned_vector.hpp"
#include "marl_rec/simd/kernels.hpp"
#include "marl_rec/simd/matrix_view.hpp"
#include "marl_rec/simd/top_k.hpp"
#include "marl_rec/simd/xsimd_compat.hpp"

namespace marl_rec::eval {

/// Everything that defines a simulated world. Same config (seed included), same world. With the
/// defaults a page of 8 random items is clicked about 12 % of the time, the user's 8 items of
/// highest affinity (near-duplicates of each other, mostly) about 29 %, and 8 high-affinity items
/// with no near-duplicates among them about 52 %. What each field does: docs/simulator.md.
struct SimulatorConfig {
  /// Users in the population (≥ 1).
  std::size_t users{1000};
  /// Items in the catalog (≥ 1).
  std::size_t items{500};
  /// Dimension of the item and user vectors.
  std::size_t dim{16};
  /// Categories (clusters of item vectors; each user has a favourite one), ≥ 1.
  std::size_t categories{10};
  /// Providers, assigned to items uniformly at random (≥ 1).
  std::size_t providers{20};

  /// Noise around its category centre that an item vector gets before normalisation (per
  /// component N(0, item_spread² / dim), so about item_spread in norm). Smaller: tighter
  /// clusters, more near-duplicates. In [0, 100].
  double item_spread{0.5};
  /// The same for a user's latent vector around its favourite category's centre, in [0, 100].
  double user_spread{0.8};
  /// Noise of the observable features around the latent vector (per component
  /// N(0, feature_noise² / dim)): what a recommender sees is not the truth. In [0, 100].
  double feature_noise{0.3};

  /// Utility per unit of affinity (latent cosine), in [0, 100].
  double affinity_scale{4.0};
  /// Examination probability of slot k is position_decay^k, in (0, 1].
  double position_decay{0.85};
  /// Utility of not clicking for a user at the initial satisfaction, in [-100, 100].
  double no_click_utility{4.6};
  /// Two items on one page are near-duplicates when the cosine of their vectors is ≥ this, in
  /// [-1, 1].
  double duplicate_similarity{0.85};
  /// Utility an item loses per other near-duplicate on the same page (≥ 0).
  double duplicate_penalty{0.3};

  /// Fatigue a category gains for each of its items a user is shown (≥ 0).
  double fatigue_growth{0.05};
  /// Share of fatigue kept from one page of the user to the next, in [0, 1].
  double fatigue_retention{0.8};
  /// Utility an item loses per unit of its category's fatigue (≥ 0).
  double fatigue_weight{1.0};

  /// Satisfaction of a new user, in [0, 1].
  double initial_satisfaction{0.5};
  /// Share of the gap to 1 that satisfaction closes after a click, in [0, 1].
  double satisfaction_click_gain{0.1};
  /// ... and again after a purchase, in [0, 1].
  double satisfaction_purchase_gain{0.2};
  /// Share of satisfaction lost after a non-empty page without a click, in [0, 1].
  double satisfaction_ignore_loss{0.05};
  /// Utility of not clicking rises by this per unit of satisfaction below the initial one, in
  /// [0, 100].
  double satisfaction_weight{1.0};
  /// Probability that a drawn user with satisfaction 0 comes back (1 at satisfaction 1), in (0, 1].
  double return_floor{0.2};

  /// Mean item price (> 0).
  double price_mean{20.0};
  /// Log-normal spread of prices (≥ 0, ≤ 5).
  double price_spread{0.5};
  /// Log-normal spread of the users' price sensitivities (median 1; ≥ 0, ≤ 5).
  double price_sensitivity_spread{0.5};
  /// Probability of buying an item after clicking it as its price tends to 0, in [0, 1]. (An
  /// item of price 0 — content, in a world over your own catalog — is never bought.)
  double purchase_rate{0.5};
  /// Reward of a purchase on top of the click's 1 (finite).
  double purchase_bonus{1.0};

  /// Seeds everything random: the world, arrivals, pages and groups.
  std::uint64_t seed{42};
};

/// What came of one page shown to one user.
struct PageOutcome {
  /// The value of `clicked_slot` / `clicked_item` when nothing was clicked.
  static constexpr std::size_t no_click = std::numeric_limits<std::size_t>::max();

  /// The slot clicked (0 = first), or no_click.
  std::size_t clicked_slot = no_click;
  /// The item in that slot, or no_click.
  std::size_t clicked_item = no_click;
  /// Only ever true after a click.
  bool purchased = false;
  /// The clicked item's price when purchased, else 0.
  double revenue = 0.0;
  /// 1 for a click, plus `purchase_bonus` for a purchase.
  double reward = 0.0;
  /// The model's expected reward of this page, in the state it was shown in.
  double expected_reward = 0.0;
  /// The click probability of each slot, exactly as used to draw the click (they sum to less
  /// than 1; the rest is the probability of no click).
  std::vector<double> click_probabilities{};

  /// True when an item was clicked.
  bool clicked() const noexcept { return clicked_slot != no_click; }
  /// Field-by-field equality (determinism tests compare outcomes).
  friend bool operator==(const PageOutcome&, const PageOutcome&) = default;
};

/// A population of simulated users and the catalog they shop in. Users have latent taste
/// vectors (the truth) and observable features (a noisy view, what recommenders may see); they
/// look at a page slot by slot with decaying attention, click at most one item by a
/// multinomial logit against not clicking, may then buy it, and carry a per-category fatigue and
/// a satisfaction from page to page that change their clicks and how often they return. Near-
/// duplicates on one page lower each other's utility, so a diverse page of good items beats a
/// page of copies of the best one.
///
/// Deterministic: the same config gives the same catalog and users, and the same sequence of
/// calls gives the same results (on one build: the dot products use the SIMD kernels, whose last
/// bits depend on the instruction set). Arrivals, pages and groups draw from separate streams,
/// so e.g. making groups does not change later page outcomes. Not thread-safe; const members may
/// be called concurrently.
class Simulator {
 public:
  /// Builds the world of `config`. Throws Error naming the field when a value is out of range.
  explicit Simulator(SimulatorConfig config = {}) : config_(validated(config)), catalog_(config_.dim) {
    build();
  }

  /// Builds a world over your own items: the simulated users shop in `items` (e.g. your catalog
  /// embedded with HashingEmbedder) instead of a drawn catalog. From `items` come each item's
  /// vector (normalised to unit length), its category (the `category` attribute; items with the
  /// same name share one; an empty name is a category too), price and provider; the config's
  /// `items`, `dim`, `categories`, `providers`, `item_spread`, `price_mean` and `price_spread`
  /// are replaced by what the catalog holds (price_mean: the mean price of the priced items, 1
  /// when none has a price). An item of price 0 (content, a free article) can be clicked but not
  /// bought. Each user's taste is drawn near the mean vector of one category, drawn uniformly,
  /// as in a drawn world. Ids, titles and attributes are kept: catalog() returns a copy of
  /// `items` with unit vectors. Throws Error when `items` is empty, has a retired item (compact
  /// it first) or a zero vector, naming the item.
  Simulator(SimulatorConfig config, const Catalog& items) : config_(config), catalog_(items.dim()) {
    build_from(items);
  }

  /// The config the world was built from.
  const SimulatorConfig& config() const noexcept { return config_; }
  /// The items. In a drawn world: unit-length vectors clustered by category, ids "item<i>", with
  /// price, category ("category <c>") and provider ("provider <p>") attributes; in a world over
  /// your own catalog: a copy of it with unit-length vectors.
  const Catalog& catalog() const noexcept { return catalog_; }
  /// Number of users; users are 0 .. users() − 1.
  std::size_t users() const noexcept { return config_.users; }
  /// Number of items; items are the catalog's indices 0 .. items() − 1.
  std::size_t items() const noexcept { return config_.items; }
  /// Pages shown so far (all users).
  std::uint64_t pages_shown() const noexcept { return pages_shown_; }

  /// The next arriving user: a user drawn uniformly comes back with return_probability(user),
  /// otherwise another is drawn. Satisfied users come back more often.
  std::size_t next_user() {
    for (;;) {
      const auto user = static_cast<std::size_t>(arrival_rng_.below(config_.users));
      if (arrival_rng_.uniform() < return_probability(user)) return user;
    }
  }

  /// Shows `slate` (item indices, slot 0 first; may be empty) to `user`, draws what the user
  /// does, updates the user's fatigue and satisfaction, and returns the outcome. Throws Error on
  /// an unknown user or item or an item shown twice. O(slate² · dim).
  PageOutcome show(std::size_t user, std::span<const std::size_t> slate) {
    PageOutcome out;
    show(user, slate, out);
    return out;
  }

  /// show() into an existing outcome, reusing its click_probabilities storage: no allocation
  /// once it has held a slate as long (the form to use in long simulations).
  void show(std::size_t user, std::span<const std::size_t> slate, PageOutcome& out) {
    check_page("Simulator::show", user, slate);
    out.click_probabilities.resize(slate.size());
    const PageValue value = weigh(user, slate, out.click_probabilities.data());
    for (double& p : out.click_probabilities) p /= value.denominator;
    out.expected_reward = value.reward / value.denominator;

    out.clicked_slot = PageOutcome::no_click;
    out.clicked_item = PageOutcome::no_click;
    out.purchased = false;
    const double draw = page_rng_.uniform();
    double cumulative = 0.0;
    for (std::size_t k = 0; k < slate.size(); ++k) {
      cumulative += out.click_probabilities[k];
      if (draw < cumulative) {
        out.clicked_slot = k;
        out.clicked_item = slate[k];
        out.purchased = page_rng_.uniform() < purchase_probability_of(user, slate[k]);
        break;
      }
    }
    out.revenue = out.purchased ? item_price_[out.clicked_item] : 0.0;
    out.reward = (out.clicked() ? 1.0 : 0.0) + (out.purchased ? config_.purchase_bonus : 0.0);
    update_state(user, slate, out);
  }

  /// The click probability of each slot of `slate` for `user` now, without changing anything.
  std::vector<double> click_probabilities(std::size_t user, std::span<const std::size_t> slate) const {
    check_page("Simulator::click_probabilities", user, slate);
    std::vector<double> p(slate.size());
    const PageValue value = weigh(user, slate, p.data());
    for (double& x : p) x /= value.denominator;
    return p;
  }

  /// The expected reward (clicks + purchase_bonus · purchases) of showing `slate` to `user` now,
  /// without changing anything.
  double expected_reward(std::size_t user, std::span<const std::size_t> slate) const {
    check_page("Simulator::expected_reward", user, slate);
    const PageValue value = weigh(user, slate, nullptr);
    return value.reward / value.denominator;
  }

  /// Probability that `user` buys `item` once clicked: purchase_rate · exp(−σ · price / price_mean)
  /// with σ the user's price sensitivity.
  double purchase_probability(std::size_t user, std::size_t item) const {
    check_user("Simulator::purchase_probability", user);
    check_item("Simulator::purchase_probability", item);
    return purchase_probability_of(user, item);
  }

  /// Ground truth: the cosine of `user`'s latent vector and `item`'s vector, in [−1, 1].
  double affinity(std::size_t user, std::size_t item) const {
    check_user("Simulator::affinity", user);
    check_item("Simulator::affinity", item);
    return affinity_of(user, item);
  }

  /// The `k` items of highest affinity for `user`, best first (ties: lower index first).
  std::vector<std::size_t> top_by_affinity(std::size_t user, std::size_t k) const {
    check_user("Simulator::top_by_affinity", user);
    std::vector<ScoredItem> scored(config_.items);
    for (std::size_t i = 0; i < scored.size(); ++i) {
      scored[i] = {i, dot(latent_row(user), item_row(i))};
    }
    const std::size_t n = std::min(k, scored.size());
    std::partial_sort(scored.begin(), scored.begin() + static_cast<std::ptrdiff_t>(n), scored.end(),
                      ranks_before);
    std::vector<std::size_t> best(n);
    for (std::size_t j = 0; j < n; ++j) best[j] = scored[j].index;
    return best;
  }

  /// The best single-item page for `user` now: the item whose one-slot page has the highest
  /// expected reward (fatigue and price included; ties: lower index).
  std::size_t best_item(std::size_t user) const {
    check_user("Simulator::best_item", user);
    const double none = std::exp(no_click_utility(user));
    std::size_t best = 0;
    double best_value = -std::numeric_limits<double>::infinity();
    for (std::size_t i = 0; i < config_.items; ++i) {
      const double w = std::exp(base_utility(user, i));
      const double value = w / (none + w) * (1.0 + config_.purchase_bonus * purchase_probability_of(user, i));
      if (value > best_value) {
        best = i;
        best_value = value;
      }
    }
    return best;
  }

  /// True when items `a` and `b` count as near-duplicates on one page (cosine ≥
  /// duplicate_similarity; an item is its own near-duplicate).
  bool near_duplicates(std::size_t a, std::size_t b) const {
    check_item("Simulator::near_duplicates", a);
    check_item("Simulator::near_duplicates", b);
    return duplicate_vectors(item_row(a), item_row(b));
  }

  /// The category of `item`, 0-based (its attribute reads "category <c>").
  std::size_t category(std::size_t item) const {
    check_item("Simulator::category", item);
    return item_category_[item];
  }
  /// The price of `item`: the catalog attribute, as a double.
  double price(std::size_t item) const {
    check_item("Simulator::price", item);
    return item_price_[item];
  }

  /// Ground truth: `user`'s latent taste vector (unit length).
  std::span<const float> latent(std::size_t user) const {
    check_user("Simulator::latent", user);
    return latent_matrix().row(user);
  }
  /// What a recommender may see of `user`: the latent vector plus noise.
  std::span<const float> features(std::size_t user) const {
    check_user("Simulator::features", user);
    return feature_matrix().row(user);
  }
  /// All latent vectors, one row per user.
  MatrixView latent_matrix() const {
    return MatrixView(std::span<const float>(latent_), config_.users, config_.dim);
  }
  /// All observable feature vectors, one row per user.
  MatrixView feature_matrix() const {
    return MatrixView(std::span<const float>(features_), config_.users, config_.dim);
  }

  /// `user`'s satisfaction now, in [0, 1].
  double satisfaction(std::size_t user) const {
    check_user("Simulator::satisfaction", user);
    return satisfaction_[user];
  }
  /// `user`'s fatigue with `category` now (≥ 0).
  double fatigue(std::size_t user, std::size_t category) const {
    check_user("Simulator::fatigue", user);
    marl_rec::detail::require(category < config_.categories, [&] {
      return "Simulator::fatigue: category " + std::to_string(category) + " out of range (" +
             std::to_string(config_.categories) + " categories)";
    });
    return fatigue_[user * config_.categories + category];
  }
  /// Probability that `user`, when drawn, comes back: return_floor + (1 − return_floor) · satisfaction.
  double return_probability(std::size_t user) const {
    check_user("Simulator::return_probability", user);
    return config_.return_floor + (1.0 - config_.return_floor) * satisfaction_[user];
  }

  /// `count` groups of `size` distinct users each (groups may share users). Random groups are
  /// uniform samples; similar groups are a uniformly drawn user followed by its size − 1 nearest
  /// neighbours by latent cosine (ties: lower index). Throws Error when size is 0 or more than
  /// users().
  std::vector<std::vector<std::size_t>> make_groups(std::size_t count, std::size_t size, bool similar) {
    marl_rec::detail::require(size >= 1 && size <= config_.users, [&] {
      return "Simulator::make_groups: size must be in [1, " + std::to_string(config_.users) + "], got " +
             std::to_string(size);
    });
    std::vector<std::vector<std::size_t>> groups(count);
    if (similar) {
      std::vector<ScoredItem> scored(config_.users);
      for (auto& group : groups) {
        const auto seed = static_cast<std::size_t>(group_rng_.below(config_.users));
        for (std::size_t u = 0; u < config_.users; ++u) {
          // The seed first whatever the scores: it defines the group.
          scored[u] = {
              u, u == seed ? std::numeric_limits<float>::infinity() : dot(latent_row(seed), latent_row(u))};
        }
        std::partial_sort(scored.begin(), scored.begin() + static_cast<std::ptrdiff_t>(size), scored.end(),
                          ranks_before);
        group.resize(size);
        for (std::size_t j = 0; j < size; ++j) group[j] = scored[j].index;
      }
    } else {
      // A partial Fisher–Yates per group over one running permutation: each prefix is a
      // uniform sample without replacement, whatever order the previous groups left.
      std::vector<std::size_t> order(config_.users);
      for (std::size_t u = 0; u < order.size(); ++u) order[u] = u;
      for (auto& group : groups) {
        for (std::size_t j = 0; j < size; ++j) {
          const auto pick = j + static_cast<std::size_t>(group_rng_.below(config_.users - j));
          std::swap(order[j], order[pick]);
        }
        group.assign(order.begin(), order.begin() + static_cast<std::ptrdiff_t>(size));
      }
    }
    return groups;
  }

 private:
  // The unnormalised terms of a page: denominator = exp(u_0) + Σ_k w_k, reward = Σ_k w_k ·
  // (1 + bonus · P(buy_k)), where w_k = decay^k · exp(u_k).
  struct PageValue {
    double denominator = 0.0;
    double reward = 0.0;
  };

  static SimulatorConfig validated(const SimulatorConfig& c) {
    const auto in = [](const char* name, double value, double lo, double hi, bool open_lo = false) {
      marl_rec::detail::require(
          std::isfinite(value) && (open_lo ? value > lo : value >= lo) && value <= hi, [&] {
            return std::string("SimulatorConfig: ") + name + " must be in " + (open_lo ? "(" : "[") +
                   number(lo) + ", " + number(hi) + "], got " + number(value);
          });
    };
    const auto count = [](const char* name, std::size_t value) {
      marl_rec::detail::require(
          value >= 1, [&] { return std::string("SimulatorConfig: ") + name + " must be at least 1"; });
    };
    constexpr double inf = std::numeric_limits<double>::infinity();
    count("users", c.users);
    count("items", c.items);
    count("dim", c.dim);
    count("categories", c.categories);
    count("providers", c.providers);
    // Spreads above 100 would only make noise of the vectors (and could overflow float).
    in("item_spread", c.item_spread, 0.0, 100.0);
    in("user_spread", c.user_spread, 0.0, 100.0);
    in("feature_noise", c.feature_noise, 0.0, 100.0);
    in("affinity_scale", c.affinity_scale, 0.0, 100.0);
    in("position_decay", c.position_decay, 0.0, 1.0, true);
    in("no_click_utility", c.no_click_utility, -100.0, 100.0);
    in("duplicate_similarity", c.duplicate_similarity, -1.0, 1.0);
    in("duplicate_penalty", c.duplicate_penalty, 0.0, inf);
    in("fatigue_growth", c.fatigue_growth, 0.0, inf);
    in("fatigue_retention", c.fatigue_retention, 0.0, 1.0);
    in("fatigue_weight", c.fatigue_weight, 0.0, inf);
    in("initial_satisfaction", c.initial_satisfaction, 0.0, 1.0);
    in("satisfaction_click_gain", c.satisfaction_click_gain, 0.0, 1.0);
    in("satisfaction_purchase_gain", c.satisfaction_purchase_gain, 0.0, 1.0);
    in("satisfaction_ignore_loss", c.satisfaction_ignore_loss, 0.0, 1.0);
    in("satisfaction_weight", c.satisfaction_weight, 0.0, 100.0);
    in("return_floor", c.return_floor, 0.0, 1.0, true);
    in("price_mean", c.price_mean, 0.0, inf, true);
    in("price_spread", c.price_spread, 0.0, 5.0);
    in("price_sensitivity_spread", c.price_sensitivity_spread, 0.0, 5.0);
    in("purchase_rate", c.purchase_rate, 0.0, 1.0);
    in("purchase_bonus", c.purchase_bonus, -inf, inf);
    return c;
  }
  // A value as a stream prints it ("1.5", "0", "inf"): error messages show it as written.
  static std::string number(double x) {
    std::ostringstream out;
    out << x;
    return out.str();
  }

  // Draws the world. The order of the draws is part of what a seed means: change it and every
  // recorded seeded result changes.
  void build() {
    const std::size_t d = config_.dim;
    Rng root(config_.seed);
    Rng world = root.split();
    arrival_rng_ = root.split();
    page_rng_ = root.split();
    group_rng_ = root.split();
    const double per_component = 1.0 / std::sqrt(static_cast<double>(d));

    std::vector<float> centres(config_.categories * d);
    for (std::size_t c = 0; c < config_.categories; ++c) {
      const std::span<float> centre(centres.data() + c * d, d);
      do {
        for (float& x : centre) x = static_cast<float>(world.normal());
      } while (!simd::l2_normalize(centre));
    }
    // A vector near a category centre, normalised (a zero draw is redrawn).
    const auto near_centre = [&](std::size_t c, double spread, std::span<float> out) {
      do {
        for (std::size_t j = 0; j < d; ++j) {
          out[j] = centres[c * d + j] + static_cast<float>(spread * per_component * world.normal());
        }
      } while (!simd::l2_normalize(out));
    };

    std::vector<float> v(d);
    item_category_.resize(config_.items);
    item_price_.resize(config_.items);
    const double log_mean = std::log(config_.price_mean) - 0.5 * config_.price_spread * config_.price_spread;
    for (std::size_t i = 0; i < config_.items; ++i) {
      const auto c = static_cast<std::size_t>(world.below(config_.categories));
      const auto p = static_cast<std::size_t>(world.below(config_.providers));
      near_centre(c, config_.item_spread, v);
      // Prices in cents, at least one cent, like a shop's. item_price_ holds the float's exact
      // value, so revenue equals the catalog's price bit for bit.
      const double raw = std::exp(log_mean + config_.price_spread * world.normal());
      const float price = static_cast<float>(std::max(1.0, std::round(raw * 100.0)) / 100.0);
      ItemAttributes attributes;
      attributes.title = "item " + std::to_string(i);
      attributes.price = price;
      attributes.category = "category " + std::to_string(c);
      attributes.provider = "provider " + std::to_string(p);
      catalog_.add(marl_rec::numbered_id("item", i), v, std::move(attributes));
      item_category_[i] = c;
      item_price_[i] = static_cast<double>(price);
    }

    draw_users(world, centres);
  }

  // The world over a user's catalog (the catalog constructor). Its users are drawn as build()
  // draws them (draw_users), after the centres it computes instead of drawing.
  void build_from(const Catalog& items) {
    const std::size_t n = items.size();
    const std::size_t d = items.dim();
    marl_rec::detail::require(n >= 1, "Simulator: the catalog is empty");
    IdMap categories, providers;  // the distinct names, in order of first appearance
    item_category_.resize(n);
    item_price_.resize(n);
    double price_sum = 0.0;
    std::size_t priced = 0;
    std::vector<float> v(d);
    for (std::size_t i = 0; i < n; ++i) {
      const std::string id(items.id(i));
      marl_rec::detail::require(!items.retired(i), [&] {
        return "Simulator: item '" + id + "' is retired (compact the catalog first)";
      });
      const ItemAttributes& a = items.attributes(i);  // Catalog keeps prices finite and >= 0
      const auto row = items.vector(i);
      std::copy(row.begin(), row.end(), v.begin());
      marl_rec::detail::require(simd::l2_normalize(std::span<float>(v)),
                                [&] { return "Simulator: item '" + id + "' has a zero vector"; });
      item_category_[i] = categories.intern(a.category);
      providers.intern(a.provider);  // counted: config().providers
      item_price_[i] = static_cast<double>(a.price);
      if (a.price > 0.0f) {
        price_sum += item_price_[i];
        ++priced;
      }
      catalog_.add(id, v, a);
    }
    config_.items = n;
    config_.dim = d;
    config_.categories = categories.size();
    config_.providers = providers.size();
    config_.item_spread = 0.0;
    config_.price_mean = priced > 0 ? price_sum / static_cast<double>(priced) : 1.0;
    config_.price_spread = 0.0;
    config_ = validated(config_);

    Rng root(config_.seed);
    Rng world = root.split();
    arrival_rng_ = root.split();
    page_rng_ = root.split();
    group_rng_ = root.split();
    // Category centres: the normalised mean vector of each category's items.
    std::vector<float> centres(config_.categories * d, 0.0f);
    for (std::size_t i = 0; i < n; ++i) {
      simd::axpy(1.0f, std::span<const float>(item_row(i), d),
                 std::span<float>(centres.data() + item_category_[i] * d, d));
    }
    for (std::size_t c = 0; c < config_.categories; ++c) {
      const std::span<float> centre(centres.data() + c * d, d);
      marl_rec::detail::require(simd::l2_normalize(centre), [&] {
        return "Simulator: the vectors of category '" + categories.id(c) + "' sum to zero";
      });
    }
    draw_users(world, centres);
  }

  // Users near the category centres (both constructors).
  void draw_users(Rng& world, const std::vector<float>& centres) {
    const std::size_t d = config_.dim;
    const double per_component = 1.0 / std::sqrt(static_cast<double>(d));
    latent_.resize(config_.users * d);
    features_.resize(config_.users * d);
    price_sensitivity_.resize(config_.users);
    for (std::size_t u = 0; u < config_.users; ++u) {
      const auto c = static_cast<std::size_t>(world.below(config_.categories));
      const std::span<float> out(latent_.data() + u * d, d);
      do {
        for (std::size_t j = 0; j < d; ++j) {
          out[j] = centres[c * d + j] + static_cast<float>(config_.user_spread * per_component * world.normal());
        }
      } while (!simd::l2_normalize(out));
      for (std::size_t j = 0; j < d; ++j) {
        features_[u * d + j] =
            latent_[u * d + j] + static_cast<float>(config_.feature_noise * per_component * world.normal());
      }
      price_sensitivity_[u] = std::exp(config_.price_sensitivity_spread * world.normal());
    }
    satisfaction_.assign(config_.users, config_.initial_satisfaction);
    fatigue_.assign(config_.users * config_.categories, 0.0);
  }

  void check_user(const char* where, std::size_t user) const {
    marl_rec::detail::require(user < config_.users, [&] {
      return std::string(where) + ": user " + std::to_string(user) + " out of range (" +
             std::to_string(config_.users) + " users)";
    });
  }
  void check_item(const char* where, std::size_t item) const {
    marl_rec::detail::require(item < config_.items, [&] {
      return std::string(where) + ": item " + std::to_string(item) + " out of range (" +
             std::to_string(config_.items) + " items)";
    });
  }
  // Pages are short: the pairwise check costs less than any set would.
  void check_page(const char* where, std::size_t user, std::span<const std::size_t> slate) const {
    check_user(where, user);
    for (std::size_t k = 0; k < slate.size(); ++k) {
      marl_rec::detail::require(slate[k] < config_.items, [&] {
        return std::string(where) + ": slot " + std::to_string(k) + " holds item " +
               std::to_string(slate[k]) + ", out of range (" + std::to_string(config_.items) + " items)";
      });
      for (std::size_t j = 0; j < k; ++j) {
        marl_rec::detail::require(slate[j] != slate[k], [&] {
          return std::string(where) + ": item " + std::to_string(slate[k]) + " is in slots " +
                 std::to_string(j) + " and " + std::to_string(k);
        });
      }
    }
  }

  float dot(const float* a, const float* b) const noexcept {
    return simd::kernels::Dot{}(simd::compat::default_arch{}, a, b, config_.dim);
  }
  const float* item_row(std::size_t item) const noexcept {
    return catalog_.embeddings().data() + item * config_.dim;
  }
  const float* latent_row(std::size_t user) const noexcept { return latent_.data() + user * config_.dim; }
  bool duplicate_vectors(const float* a, const float* b) const noexcept {
    return static_cast<double>(dot(a, b)) >= config_.duplicate_similarity;
  }
  double affinity_of(std::size_t user, std::size_t item) const noexcept {
    return static_cast<double>(dot(latent_row(user), item_row(item)));
  }
  // Free items (price 0: content) cannot be bought; a drawn world's prices are at least 0.01.
  double purchase_probability_of(std::size_t user, std::size_t item) const noexcept {
    if (item_price_[item] == 0.0) return 0.0;
    return config_.purchase_rate *
           std::exp(-price_sensitivity_[user] * item_price_[item] / config_.price_mean);
  }
  // An item's utility before page effects: affinity minus its category's fatigue.
  double base_utility(std::size_t user, std::size_t item) const noexcept {
    return config_.affinity_scale * affinity_of(user, item) -
           config_.fatigue_weight * fatigue_[user * config_.categories + item_category_[item]];
  }
  double no_click_utility(std::size_t user) const noexcept {
    return config_.no_click_utility +
           config_.satisfaction_weight * (config_.initial_satisfaction - satisfaction_[user]);
  }

  // The page model for a checked page; writes w_k to weights[k] when weights is not null.
  PageValue weigh(std::size_t user, std::span<const std::size_t> slate, double* weights) const noexcept {
    PageValue value;
    double examination = 1.0;
    const float* items = catalog_.embeddings().data();  // once: the view checks its shape
    const float* theta = latent_row(user);
    const double* fatigue = fatigue_.data() + user * config_.categories;
    for (std::size_t k = 0; k < slate.size(); ++k) {
      const float* v = items + slate[k] * config_.dim;
      std::size_t duplicates = 0;
      for (std::size_t j = 0; j < slate.size(); ++j) {
        if (j != k && duplicate_vectors(v, items + slate[j] * config_.dim)) ++duplicates;
      }
      // base_utility(), inlined with the pointers above.
      const double utility = config_.affinity_scale * static_cast<double>(dot(theta, v)) -
                             config_.fatigue_weight * fatigue[item_category_[slate[k]]] -
                             config_.duplicate_penalty * static_cast<double>(duplicates);
      const double w = examination * std::exp(utility);
      if (weights != nullptr) weights[k] = w;
      value.denominator += w;
      value.reward += w * (1.0 + config_.purchase_bonus * purchase_probability_of(user, slate[k]));
      examination *= config_.position_decay;
    }
    value.denominator += std::exp(no_click_utility(user));
    return value;
  }

  void update_state(std::size_t user, std::span<const std::size_t> slate, const PageOutcome& out) noexcept {
    double* fatigue = fatigue_.data() + user * config_.categories;
    for (std::size_t c = 0; c < config_.categories; ++c) fatigue[c] *= config_.fatigue_retention;
    for (const std::size_t item : slate) fatigue[item_category_[item]] += config_.fatigue_growth;
    if (!slate.empty()) {
      double& s = satisfaction_[user];
      if (out.clicked()) {
        s += config_.satisfaction_click_gain * (1.0 - s);
        if (out.purchased) s += config_.satisfaction_purchase_gain * (1.0 - s);
      } else {
        s -= config_.satisfaction_ignore_loss * s;
      }
    }
    ++pages_shown_;
  }

  SimulatorConfig config_;
  Catalog catalog_;
  std::vector<std::size_t> item_category_;
  std::vector<double> item_price_;
  AlignedVector<float> latent_;
  AlignedVector<float> features_;
  std::vector<double> price_sensitivity_;
  std::vector<double> satisfaction_;
  std::vector<double> fatigue_;  // users × categories
  Rng arrival_rng_;
  Rng page_rng_;
  Rng group_rng_;
  std::uint64_t pages_shown_ = 0;
};

/// A log of simulated pages for off-policy evaluation: one LoggedDecision per shown (slot,
/// item) — context = the page's row in context_matrix() (the user's observable features),
/// action = item, position = slot, reward = 1 if that slot was clicked else 0, propensity = what
/// the logging policy supplied. Keeps a pointer to the simulator, which must outlive it.
class SimulationLog {
 public:
  /// An empty log of pages shown by `simulator`.
  explicit SimulationLog(const Simulator& simulator) noexcept : simulator_(&simulator) {}

  /// Records the page `slate` shown to `user` with `outcome` (what Simulator::show returned for
  /// it); `propensities[k]` is the logging policy's probability of slate[k] in slot k, in (0, 1].
  /// Throws Error (and records nothing) on an unknown user or item, sizes that differ, a
  /// propensity outside (0, 1], or an outcome that does not fit the slate.
  void record(std::size_t user, std::span<const std::size_t> slate, std::span<const double> propensities,
              const PageOutcome& outcome) {
    constexpr const char* where = "SimulationLog::record";
    marl_rec::detail::require(user < simulator_->users(), [&] {
      return std::string(where) + ": user " + std::to_string(user) + " out of range (" +
             std::to_string(simulator_->users()) + " users)";
    });
    const auto sizes = [&](const char* what, std::size_t n) {
      marl_rec::detail::require(n == slate.size(), [&] {
        return std::string(where) + ": the slate has " + std::to_string(slate.size()) + " items but " + what +
               " has " + std::to_string(n);
      });
    };
    sizes("propensities", propensities.size());
    sizes("outcome.click_probabilities", outcome.click_probabilities.size());
    for (std::size_t k = 0; k < slate.size(); ++k) {
      marl_rec::detail::require(slate[k] < simulator_->items(), [&] {
        return std::string(where) + ": slot " + std::to_string(k) + " holds item " +
               std::to_string(slate[k]) + ", out of range (" + std::to_string(simulator_->items()) +
               " items)";
      });
      marl_rec::detail::require(propensities[k] > 0.0 && propensities[k] <= 1.0, [&] {
        return std::string(where) + ": propensity of slot " + std::to_string(k) + " must be in (0, 1], got " +
               number(propensities[k]);
      });
    }
    marl_rec::detail::require(
        !outcome.clicked() ||
            (outcome.clicked_slot < slate.size() && outcome.clicked_item == slate[outcome.clicked_slot]),
        [&] { return std::string(where) + ": the outcome's click does not match the slate"; });

    const std::span<const float> features = simulator_->features(user);
    const std::size_t row = users_.size();
    users_.push_back(user);
    contexts_.insert(contexts_.end(), features.begin(), features.end());
    for (std::size_t k = 0; k < slate.size(); ++k) {
      LoggedDecision d;
      d.context = row;
      d.action = slate[k];
      d.position = k;
      d.reward = outcome.clicked_slot == k ? 1.0 : 0.0;
      d.propensity = propensities[k];
      decisions_.push_back(d);
    }
  }

  /// The decisions, page after page, slot 0 first within a page.
  const std::vector<LoggedDecision>& decisions() const noexcept { return decisions_; }
  /// One row of observable user features per recorded page (pages() × the simulator's dim).
  MatrixView context_matrix() const {
    return MatrixView(std::span<const float>(contexts_), users_.size(), simulator_->config().dim);
  }
  /// The user of each context row (ground truth for evaluating estimators).
  std::span<const std::size_t> context_users() const noexcept { return users_; }
  /// Pages recorded.
  std::size_t pages() const noexcept { return users_.size(); }

 private:
  // As Simulator's: a value as a stream prints it.
  static std::string number(double x) {
    std::ostringstream out;
    out << x;
    return out.str();
  }

  const Simulator* simulator_;
  std::vector<LoggedDecision> decisions_;
  AlignedVector<float> contexts_;
  std::vector<std::size_t> users_;
};

}  // namespace marl_rec::eval
