// marl_rec — a type-erased BatchRecommender, for programs that choose the model at run time
// (the evaluation command, an engine reading a config file). The only virtual call is per user,
// never per item.
#pragma once

#include <cstddef>
#include <memory>
#include <span>
#include <string_view>
#include <utility>

#include "marl_rec/concepts/batch_recommender.hpp"

namespace marl_rec::eval {

/// Holds any BatchRecommender by value behind one virtual interface.
class AnyBatchRecommender {
 public:
  template <BatchRecommender R>
  explicit AnyBatchRecommender(R model) : self_(std::make_unique<Holder<R>>(std::move(model))) {}

  std::string_view name() const { return self_->name(); }
  void fit(const Interactions& train) { self_->fit(train); }
  void score_user(std::size_t user, std::span<float> scores) const { self_->score_user(user, scores); }

 private:
  struct Interface {
    virtual ~Interface() = default;
    virtual std::string_view name() const = 0;
    virtual void fit(const Interactions& train) = 0;
    virtual void score_user(std::size_t user, std::span<float> scores) const = 0;
  };
  template <class R>
  struct Holder final : Interface {
    explicit Holder(R m) : model(std::move(m)) {}
    std::string_view name() const override { return model.name(); }
    void fit(const Interactions& train) override { model.fit(train); }
    void score_user(std::size_t user, std::span<float> scores) const override {
      model.score_user(user, scores);
    }
    R model;
  };
  std::unique_ptr<Interface> self_;
};

static_assert(BatchRecommender<AnyBatchRecommender>);

}  // namespace marl_rec::eval
