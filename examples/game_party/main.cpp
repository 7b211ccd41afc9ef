// marl_rec_game_party — group recommendation for a game: a party of players is about to queue,
// and the lobby suggests three maps for all of them. The same learned model scores every map for
// every player; each group rule of coord/group_aggregation.hpp turns those scores into the
// party's three maps, side by side, and each player's hidden taste says how happy they are.
//
// The world (all of it drawn from --seed):
// - The game: 36 maps in 8 modes (team deathmatch, capture the flag, battle royale, king of the
//   hill, co-op survival, racing, heist, puzzle), each with one to three tags (close quarters,
//   long range, vehicles, night, fast, tactical, large, melee, chaotic, casual); the table is
//   below.
// - Players (--players, 500): each belongs to one of four hidden archetypes (sharpshooters,
//   party gamers, speed freaks, planners) whose prototype gives a weight to every mode and tag;
//   the player's taste is the prototype plus N(0, 0.5²) per weight. A player's true rating of a
//   map, in stars, is 3 + 0.7 · (mode weight + the map's tag weights) + N(0, 0.25²) (a taste for
//   that map alone), clamped to [1, 5]. Nobody but this program's report sees it.
// - History: the game's rotation put each player on --matches (15) distinct maps drawn uniformly;
//   after each match the player rated it 1..5: the true rating + N(0, 0.5²), rounded and clamped.
// - Model: MatrixFactorization (4 factors) trained online on those ratings, as a game would after
//   each match: fit() with epochs = 0 sets up the random factors over the players and maps, then
//   40 shuffled passes of update(Context{.user = player}, map, (stars − 3) / 2), learning rate
//   0.05, L2 0.05. Chosen on seed 101 (not the reported seed 1) by the error against the true
//   ratings of unplayed maps: the grid factors {4, 8, 16} × learning rate {0.02, 0.05} × L2
//   {0.02, 0.05, 0.1} × passes {20, 40, 80} gave 0.67 to 0.96 stars; this setting gave 0.67, the
//   lowest (tied with 80 passes, and with L2 0.02 at 80 passes). The program prints that error
//   beside the error of a map's mean rating, so the reader can see how well the model knows each
//   player.
//
// The group list: recommend_for_group(model, the party's contexts, all maps, equal weights, k = 3,
// rule) for each GroupRule: average, least_misery, most_pleasure, borda, fair (every player first
// gets one of their 5 best maps where possible: liked = 5, fair_minimum = 1) and least_satisfied
// (β = 0.25, the library's default). Rules see only the model's predicted scores.
// A player's satisfaction with a list is the mean of their true ratings of its 3 maps, in stars;
// a party's mean and min are over its players.
//
// Printed: two example parties of 4 — a cohesive one (a random player and the 3 whose true
// ratings correlate best with theirs) and a split one (a random player, their 2 best-correlated
// players, and the player whose true ratings of the trio's 3 favourite maps are the lowest: the
// one who hates what the others love) — with each rule's picks and each player's satisfaction;
// then, over --parties (200) random parties and as many split parties (built as above from
// random first players), each rule's mean satisfaction, mean worst-player satisfaction, and the
// share of parties in which somebody gets a list they rate below 2.5 stars on average. A random
// list of 3 maps and each player's own best 3 maps (not a group list: the ceiling) are the
// references.
//
// Usage: marl_rec_game_party [--players N] [--matches M] [--parties P] [--party-size S]
//                            [--seed S] [--help]
// The defaults run in well under a second at -O3 (CTest runs them).
#include <algorithm>
#include <array>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <limits>
#include <numeric>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "../support/flags.hpp"
#include "marl_rec/coord/group_aggregation.hpp"
#include "marl_rec/core/context.hpp"
#include "marl_rec/core/error.hpp"
#include "marl_rec/core/id_map.hpp"
#include "marl_rec/core/interactions.hpp"
#include "marl_rec/core/rng.hpp"
#include "marl_rec/models/matrix_factorization.hpp"

namespace mr = marl_rec;

namespace {

// ---- the game -------------------------------------------------------------------------------

enum Mode : std::size_t {
  deathmatch, capture_the_flag, battle_royale, king_of_the_hill, coop_survival, racing, heist, puzzle,
  mode_count
};
constexpr const char* mode_names[mode_count] = {"team deathmatch", "capture the flag", "battle royale",
                                                "king of the hill", "co-op survival",  "racing",
                                                "heist",           "puzzle"};
enum Tag : std::size_t {
  close_quarters, long_range, vehicles, night, fast, tactical, large, melee, chaotic, casual, tag_count
};
constexpr const char* tag_names[tag_count] = {"close quarters", "long range", "vehicles", "night", "fast",
                                              "tactical",       "large",      "melee",    "chaotic", "casual"};

struct GameMap {
  const char* name;
  Mode mode;
  std::array<Tag, 3> tags;  // unused entries are tag_count
};
constexpr Tag none = tag_count;
constexpr GameMap maps[] = {
    {"Rust Yard", deathmatch, {close_quarters, fast, none}},
    {"Skyline Towers", deathmatch, {long_range, tactical, none}},
    {"Neon Alley", deathmatch, {night, close_quarters, fast}},
    {"Frostbite Depot", deathmatch, {close_quarters, melee, none}},
    {"Sunken Temple", deathmatch, {chaotic, melee, none}},
    {"Twin Rivers", capture_the_flag, {large, vehicles, none}},
    {"Canyon Run", capture_the_flag, {fast, long_range, none}},
    {"Moonlit Keep", capture_the_flag, {night, tactical, none}},
    {"Gridlock", capture_the_flag, {close_quarters, chaotic, none}},
    {"Emerald Fields", capture_the_flag, {large, casual, none}},
    {"Shattered Isles", battle_royale, {large, vehicles, chaotic}},
    {"Last Light", battle_royale, {night, large, tactical}},
    {"Dustbowl", battle_royale, {long_range, large, none}},
    {"Carnival Panic", battle_royale, {chaotic, casual, fast}},
    {"Iron Summit", king_of_the_hill, {close_quarters, chaotic, none}},
    {"Lighthouse Point", king_of_the_hill, {long_range, tactical, none}},
    {"Bramble Hill", king_of_the_hill, {melee, fast, none}},
    {"Bouncy Castle", king_of_the_hill, {casual, chaotic, none}},
    {"Hollow Woods", coop_survival, {night, tactical, none}},
    {"Outpost Zero", coop_survival, {large, tactical, none}},
    {"Swarm Harbor", coop_survival, {chaotic, fast, none}},
    {"Frozen Lab", coop_survival, {close_quarters, night, none}},
    {"Picnic Siege", coop_survival, {casual, melee, none}},
    {"Coastal Sprint", racing, {vehicles, fast, none}},
    {"Night Circuit", racing, {vehicles, night, fast}},
    {"Mudslide Rally", racing, {vehicles, chaotic, none}},
    {"Kart Kingdom", racing, {vehicles, casual, none}},
    {"Desert Endurance", racing, {vehicles, large, none}},
    {"Vault 9", heist, {tactical, close_quarters, none}},
    {"Gala Night", heist, {night, tactical, none}},
    {"Train Job", heist, {vehicles, fast, none}},
    {"Museum Shadows", heist, {night, melee, none}},
    {"Clockwork Tower", puzzle, {casual, none, none}},
    {"Mirror Maze", puzzle, {tactical, casual, none}},
    {"Lava Logic", puzzle, {fast, chaotic, none}},
    {"Star Garden", puzzle, {casual, night, none}},
};
constexpr std::size_t map_count = std::size(maps);

// ---- the players ----------------------------------------------------------------------------

struct Archetype {
  const char* name;
  std::array<double, mode_count> modes;
  std::array<double, tag_count> tags;
};
// Prototype weights: a map's true rating is 3 + 0.7 · (its mode's weight + its tags' weights), so a
// mode weight of +1.2 alone makes the mode's maps about 3.8 stars.
constexpr Archetype archetypes[] = {
    //                 TDM   CTF   BR    KotH  co-op race  heist puzzle
    {"sharpshooter", {1.2, 0.8, 0.6, 0.8, -0.2, -0.6, 0.2, -1.5},
     //  cq   long  veh  night fast tact large melee chaos casual
     {0.3, 0.6, 0.0, 0.0, 0.5, 0.3, 0.0, 0.0, -0.2, -0.8}},
    {"party gamer", {-0.6, -0.2, -0.3, 0.3, 0.8, 0.6, -0.4, 1.0},
     {0.0, -0.5, 0.0, -0.3, 0.0, -0.6, 0.0, 0.0, 0.5, 1.0}},
    {"speed freak", {0.0, 0.3, 0.2, 0.0, -0.3, 1.5, -0.6, -0.8},
     {0.0, 0.0, 0.8, 0.0, 0.8, -0.4, 0.3, -0.5, 0.0, 0.0}},
    {"planner", {-0.4, 0.6, 0.0, -0.6, 0.6, -1.2, 1.4, 0.4},
     {0.0, 0.2, -0.3, 0.4, -0.4, 0.8, 0.0, 0.0, -0.8, 0.0}},
};
constexpr std::size_t archetype_count = std::size(archetypes);

struct Options {
  std::size_t players = 500;
  std::size_t matches = 15;
  std::size_t parties = 200;
  std::size_t party_size = 4;
  std::uint64_t seed = 1;
};

// The hidden truth and the observed history of every player.
struct World {
  std::vector<std::size_t> archetype;   // per player
  std::vector<double> stars;            // players × maps: the true rating, in [1, 5]
  mr::Interactions history;             // the rated matches

  double truth(std::size_t player, std::size_t map) const { return stars[player * map_count + map]; }
};

World make_world(const Options& o) {
  mr::Rng rng(o.seed);
  World w;
  w.archetype.resize(o.players);
  w.stars.resize(o.players * map_count);
  for (std::size_t p = 0; p < o.players; ++p) {
    const Archetype& a = archetypes[rng.below(archetype_count)];
    w.archetype[p] = static_cast<std::size_t>(&a - archetypes);
    std::array<double, mode_count> mode_weight{};
    std::array<double, tag_count> tag_weight{};
    for (std::size_t m = 0; m < mode_count; ++m) mode_weight[m] = a.modes[m] + rng.normal(0.0, 0.5);
    for (std::size_t t = 0; t < tag_count; ++t) tag_weight[t] = a.tags[t] + rng.normal(0.0, 0.5);
    for (std::size_t m = 0; m < map_count; ++m) {
      double taste = mode_weight[maps[m].mode];
      for (const Tag t : maps[m].tags) taste += t == none ? 0.0 : tag_weight[t];
      // 0.7 keeps most ratings inside the 1..5 bounds, so that a 5 still means "best of all".
      w.stars[p * map_count + m] = std::clamp(3.0 + 0.7 * taste + rng.normal(0.0, 0.25), 1.0, 5.0);
    }
  }
  // The id maps: players "player<i>" and maps by name, in index order.
  for (std::size_t p = 0; p < o.players; ++p) w.history.users.intern(mr::numbered_id("player", p));
  for (const GameMap& m : maps) w.history.items.intern(m.name);
  w.history.has_rating = true;
  std::vector<std::size_t> order(map_count);
  for (std::size_t p = 0; p < o.players; ++p) {
    // The rotation: `matches` distinct maps, uniformly (a partial Fisher–Yates shuffle).
    std::iota(order.begin(), order.end(), std::size_t{0});
    for (std::size_t j = 0; j < o.matches; ++j) {
      std::swap(order[j], order[j + static_cast<std::size_t>(rng.below(map_count - j))]);
      const double rated = std::clamp(std::round(w.truth(p, order[j]) + rng.normal(0.0, 0.5)), 1.0, 5.0);
      w.history.rows.push_back({.user = p, .item = order[j], .rating = static_cast<float>(rated),
                                .source_row = w.history.rows.size()});
    }
  }
  return w;
}

// ---- the model ------------------------------------------------------------------------------

mr::MatrixFactorization train(const World& w, std::uint64_t seed) {
  mr::MatrixFactorization model({.factors = 4, .epochs = 0, .regularization = 0.05f, .learning_rate = 0.05f,
                                 .init_scale = 0.1f, .seed = seed});
  model.fit(w.history);  // epochs = 0: random factors for every player and map, nothing learned yet
  std::vector<std::size_t> order(w.history.size());
  std::iota(order.begin(), order.end(), std::size_t{0});
  mr::Rng rng(seed + 1);
  for (int pass = 0; pass < 40; ++pass) {
    mr::shuffle(order.begin(), order.end(), rng);
    for (const std::size_t r : order) {
      const mr::Interaction& row = w.history.rows[r];
      // Stars 1..5 as a reward in [−1, 1]: the model has no bias terms, so centre them.
      model.update(mr::Context{.user = row.user}, row.item, (row.rating - 3.0) / 2.0);
    }
  }
  return model;
}

// Root-mean-square error, in stars, over the (player, map) pairs the player never played: the
// model's prediction (3 + 2 · score) and, as a reference, the map's mean rating.
void print_model_quality(const World& w, const mr::MatrixFactorization& model, const Options& o) {
  std::vector<unsigned char> played(o.players * map_count, 0);
  std::vector<double> sum(map_count, 0.0), count(map_count, 0.0);
  for (const mr::Interaction& r : w.history.rows) {
    played[r.user * map_count + r.item] = 1;
    sum[r.item] += r.rating;
    count[r.item] += 1.0;
  }
  std::vector<float> scores(map_count);
  double se_model = 0.0, se_mean = 0.0, n = 0.0;
  for (std::size_t p = 0; p < o.players; ++p) {
    model.score_user(p, scores);
    for (std::size_t m = 0; m < map_count; ++m) {
      if (played[p * map_count + m] != 0) continue;
      const double truth = w.truth(p, m);
      const double predicted = std::clamp(3.0 + 2.0 * static_cast<double>(scores[m]), 1.0, 5.0);
      const double mean = count[m] > 0.0 ? sum[m] / count[m] : 3.0;
      se_model += (predicted - truth) * (predicted - truth);
      se_mean += (mean - truth) * (mean - truth);
      n += 1.0;
    }
  }
  std::printf("Model: MatrixFactorization, 4 factors, trained online on %zu ratings (40 passes). On the %.0f "
              "unplayed (player, map) pairs its predicted rating is off by %.2f stars (RMSE); a map's mean rating is "
              "off by %.2f.\n",
              w.history.size(), n, std::sqrt(se_model / n), std::sqrt(se_mean / n));
}

// ---- parties --------------------------------------------------------------------------------

// Sorts (value, index) pairs best first; ties: the lower index.
bool higher(const std::pair<double, std::size_t>& a, const std::pair<double, std::size_t>& b) {
  return a.first > b.first || (a.first == b.first && a.second < b.second);
}

// Pearson correlation of two players' true ratings over all maps.
double correlation(const World& w, std::size_t a, std::size_t b) {
  double ma = 0.0, mb = 0.0;
  for (std::size_t m = 0; m < map_count; ++m) {
    ma += w.truth(a, m);
    mb += w.truth(b, m);
  }
  ma /= map_count;
  mb /= map_count;
  double sab = 0.0, saa = 0.0, sbb = 0.0;
  for (std::size_t m = 0; m < map_count; ++m) {
    const double da = w.truth(a, m) - ma, db = w.truth(b, m) - mb;
    sab += da * db;
    saa += da * da;
    sbb += db * db;
  }
  return saa > 0.0 && sbb > 0.0 ? sab / std::sqrt(saa * sbb) : 0.0;
}

// `first` and the `more` players whose true ratings correlate best with theirs.
std::vector<std::size_t> cohesive(const World& w, std::size_t first, std::size_t more, std::size_t players) {
  std::vector<std::pair<double, std::size_t>> others;
  for (std::size_t p = 0; p < players; ++p) {
    if (p != first) others.push_back({correlation(w, first, p), p});
  }
  std::partial_sort(others.begin(), others.begin() + static_cast<std::ptrdiff_t>(more), others.end(), higher);
  std::vector<std::size_t> party{first};
  for (std::size_t j = 0; j < more; ++j) party.push_back(others[j].second);
  return party;
}

// A cohesive core of size − 1 and the outsider who likes the core's 3 favourite maps least.
std::vector<std::size_t> split(const World& w, std::size_t first, std::size_t size, std::size_t players) {
  std::vector<std::size_t> party = cohesive(w, first, size - 2, players);
  std::vector<std::pair<double, std::size_t>> liked(map_count);
  for (std::size_t m = 0; m < map_count; ++m) {
    double s = 0.0;
    for (const std::size_t p : party) s += w.truth(p, m);
    liked[m] = {s, m};
  }
  std::partial_sort(liked.begin(), liked.begin() + 3, liked.end(), higher);
  std::size_t outsider = 0;
  double lowest = std::numeric_limits<double>::infinity();
  for (std::size_t p = 0; p < players; ++p) {
    if (std::find(party.begin(), party.end(), p) != party.end()) continue;
    double s = 0.0;
    for (std::size_t j = 0; j < 3; ++j) s += w.truth(p, liked[j].second);
    if (s < lowest) {
      lowest = s;
      outsider = p;
    }
  }
  party.push_back(outsider);
  return party;
}

// ---- rules and satisfaction -----------------------------------------------------------------

constexpr std::size_t list_size = 3;
constexpr mr::GroupRule rules[] = {mr::GroupRule::average, mr::GroupRule::least_misery, mr::GroupRule::most_pleasure,
                                   mr::GroupRule::borda,   mr::GroupRule::fair,         mr::GroupRule::least_satisfied};

mr::GroupConfig config_of(mr::GroupRule rule) { return {.rule = rule, .liked = 5, .fair_minimum = 1}; }

// The party's list under `rule`, as map indices.
std::vector<std::size_t> group_list(const mr::MatrixFactorization& model, std::span<const std::size_t> party,
                                    mr::GroupRule rule) {
  std::vector<mr::Context> members;
  for (const std::size_t p : party) members.push_back(mr::Context{.user = p});
  mr::GroupList list;
  mr::recommend_for_group(model, members, mr::Candidates::all(map_count), {}, list_size, config_of(rule), list);
  return list.positions;  // Candidates::all: a position is the map's index
}

// Each player's mean true rating of `list`.
std::vector<double> satisfaction(const World& w, std::span<const std::size_t> party,
                                 std::span<const std::size_t> list) {
  std::vector<double> s;
  for (const std::size_t p : party) {
    double sum = 0.0;
    for (const std::size_t m : list) sum += w.truth(p, m);
    s.push_back(sum / static_cast<double>(list.size()));
  }
  return s;
}

// The player's own best `list_size` maps by true rating.
std::vector<std::size_t> own_best(const World& w, std::size_t player) {
  std::vector<std::size_t> order(map_count);
  std::iota(order.begin(), order.end(), std::size_t{0});
  std::partial_sort(order.begin(), order.begin() + list_size, order.end(), [&](std::size_t a, std::size_t b) {
    return w.truth(player, a) > w.truth(player, b) || (w.truth(player, a) == w.truth(player, b) && a < b);
  });
  order.resize(list_size);
  return order;
}

double min_of(const std::vector<double>& v) { return *std::min_element(v.begin(), v.end()); }
double mean_of(const std::vector<double>& v) {
  return std::accumulate(v.begin(), v.end(), 0.0) / static_cast<double>(v.size());
}

// "racing: vehicles, fast".
std::string describe(std::size_t map) {
  std::string s = mode_names[maps[map].mode];
  const char* separator = ": ";
  for (const Tag t : maps[map].tags) {
    if (t == none) continue;
    s += separator;
    s += tag_names[t];
    separator = ", ";
  }
  return s;
}

std::string joined(std::span<const std::size_t> list) {
  std::string s;
  for (const std::size_t m : list) {
    if (!s.empty()) s += ", ";
    s += maps[m].name;
  }
  return s;
}

void print_party(const World& w, const mr::MatrixFactorization& model, const char* title,
                 const std::vector<std::size_t>& party) {
  std::printf("\n%s\n\n", title);
  for (const std::size_t p : party) {
    const auto best = own_best(w, p);
    std::size_t worst = 0;
    for (std::size_t m = 1; m < map_count; ++m) worst = w.truth(p, m) < w.truth(p, worst) ? m : worst;
    std::printf("- player %zu, a hidden %s: loves %s (%s; %.1f stars), likes %s least (%s; %.1f)\n", p,
                archetypes[w.archetype[p]].name, maps[best[0]].name, describe(best[0]).c_str(), w.truth(p, best[0]),
                maps[worst].name, describe(worst).c_str(), w.truth(p, worst));
  }
  std::printf("\n| rule | the party's 3 maps |");
  for (const std::size_t p : party) std::printf(" player %zu |", p);
  std::printf(" min | mean |\n|---|---|");
  for (std::size_t j = 0; j < party.size() + 2; ++j) std::printf("---|");
  std::printf("\n");
  const auto row = [&](const std::string& name, const std::string& picks, const std::vector<double>& s) {
    std::printf("| %s | %s |", name.c_str(), picks.c_str());
    for (const double v : s) std::printf(" %.1f |", v);
    std::printf(" %.1f | %.2f |\n", min_of(s), mean_of(s));
  };
  std::vector<double> ideal;
  for (const std::size_t p : party) ideal.push_back(satisfaction(w, std::span(&p, 1), own_best(w, p))[0]);
  row("each player's own best 3 (not a group list)", "-", ideal);
  for (const mr::GroupRule rule : rules) {
    const auto list = group_list(model, party, rule);
    row(std::string(mr::group_rule_name(rule)), joined(list), satisfaction(w, party, list));
  }
}

// Mean satisfaction, mean worst-player satisfaction and share of parties with a player below
// 2.5 stars, per rule, over `parties`.
void print_summary(const World& w, const mr::MatrixFactorization& model, const char* title,
                   const std::vector<std::vector<std::size_t>>& parties, std::uint64_t seed) {
  struct Tally {
    double mean = 0.0, min = 0.0, miserable = 0.0;
    void add(const std::vector<double>& s) {
      mean += mean_of(s);
      min += min_of(s);
      miserable += min_of(s) < 2.5 ? 1.0 : 0.0;
    }
  };
  const auto n = static_cast<double>(parties.size());
  std::printf("\n%s\n\n| rule | mean satisfaction | worst player's satisfaction | parties with a player below 2.5 "
              "stars |\n|---|---|---|---|\n",
              title);
  const auto row = [&](const std::string& name, const Tally& t) {
    std::printf("| %s | %.2f | %.2f | %.0f%% |\n", name.c_str(), t.mean / n, t.min / n, 100.0 * t.miserable / n);
  };
  Tally ideal, random;
  mr::Rng rng(seed);
  std::vector<std::size_t> order(map_count);
  for (const auto& party : parties) {
    std::vector<double> own;
    for (const std::size_t p : party) own.push_back(satisfaction(w, std::span(&p, 1), own_best(w, p))[0]);
    ideal.add(own);
    std::iota(order.begin(), order.end(), std::size_t{0});
    for (std::size_t j = 0; j < list_size; ++j) {
      std::swap(order[j], order[j + static_cast<std::size_t>(rng.below(map_count - j))]);
    }
    random.add(satisfaction(w, party, std::span(order).first(list_size)));
  }
  row("each player's own best 3 (not a group list)", ideal);
  row("3 random maps", random);
  for (const mr::GroupRule rule : rules) {
    Tally t;
    for (const auto& party : parties) t.add(satisfaction(w, party, group_list(model, party, rule)));
    row(std::string(mr::group_rule_name(rule)), t);
  }
}

// ---- command line ---------------------------------------------------------------------------

const char* usage =
    "usage: marl_rec_game_party [--players N] [--matches M] [--parties P] [--party-size S] [--seed S] [--help]\n"
    "Suggests 3 maps for a party of players under each group rule and shows how happy each player is.\n"
    "  --players N     simulated players (500)\n"
    "  --matches M     rated matches per player, distinct maps, at most 36 (15)\n"
    "  --parties P     random parties and split parties in the summary (200 each)\n"
    "  --party-size S  players per party, 3 to 8 (4)\n"
    "  --seed S        seeds the players, their histories, the model and the parties (1)\n";

Options parse(int argc, char** argv) {
  Options o;
  mr::examples::Flags flags(argc, argv);
  while (flags.next()) {
    if (flags.is("--help") || flags.is("-h")) {
      std::fputs(usage, stdout);
      std::exit(0);
    }
    if (flags.is("--players")) o.players = flags.whole(1);
    else if (flags.is("--matches")) o.matches = flags.whole(1);
    else if (flags.is("--parties")) o.parties = flags.whole(1);
    else if (flags.is("--party-size")) o.party_size = flags.whole(1);
    else if (flags.is("--seed")) o.seed = flags.whole();
    else flags.unknown();
  }
  if (o.matches > map_count) throw mr::Error("--matches: at most " + std::to_string(map_count) + " (the maps)");
  if (o.party_size < 3 || o.party_size > 8) throw mr::Error("--party-size: expected 3 to 8");
  if (o.players < 2 * o.party_size) throw mr::Error("--players: expected at least twice the party size");
  return o;
}

}  // namespace

int main(int argc, char** argv) try {
  const Options o = parse(argc, argv);
  const World w = make_world(o);
  std::printf("Game night: %zu maps in %zu modes; %zu players (%zu hidden archetypes), %zu rated matches each; seed "
              "%llu.\n",
              map_count, static_cast<std::size_t>(mode_count), o.players, archetype_count, o.matches,
              static_cast<unsigned long long>(o.seed));
  const mr::MatrixFactorization model = train(w, o.seed);
  print_model_quality(w, model, o);
  std::printf("Satisfaction: a player's mean true rating of the party's 3 maps, in stars (1 to 5).\n");

  mr::Rng rng(o.seed + 2);
  const auto pick = [&] { return static_cast<std::size_t>(rng.below(o.players)); };
  print_party(w, model, "Party A, cohesive: a player and the 3 whose tastes are closest to theirs",
              cohesive(w, pick(), o.party_size - 1, o.players));
  print_party(w, model, "Party B, split: three players who like the same maps, and one who hates those maps",
              split(w, pick(), o.party_size, o.players));

  std::vector<std::vector<std::size_t>> random_parties, split_parties;
  for (std::size_t i = 0; i < o.parties; ++i) {
    std::vector<std::size_t> party;
    while (party.size() < o.party_size) {
      const std::size_t p = pick();
      if (std::find(party.begin(), party.end(), p) == party.end()) party.push_back(p);
    }
    random_parties.push_back(std::move(party));
    split_parties.push_back(split(w, pick(), o.party_size, o.players));
  }
  char title[128];
  std::snprintf(title, sizeof title, "%zu random parties of %zu", o.parties, o.party_size);
  print_summary(w, model, title, random_parties, o.seed + 3);
  std::snprintf(title, sizeof title, "%zu split parties of %zu (built as party B)", o.parties, o.party_size);
  print_summary(w, model, title, split_parties, o.seed + 4);
  return 0;
} catch (const std::exception& e) {
  std::fprintf(stderr, "marl_rec_game_party: %s\n", e.what());
  return 1;
}
