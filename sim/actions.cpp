// Action sources and per-latent aggregation (see actions.h).
#include "sim/actions.h"

#include <algorithm>
#include <cmath>

#include "envs/bindings.h"
#include "envs/policies.h"
#include "envs/world.h"
#include "kernels/core/error.h"
#include "sim/dataset.h"

namespace wl {

// [SECTION] action sources

namespace {

class InputActions final : public ActionSource {
 public:
  explicit InputActions(const Bindings& bindings) : mapper_(bindings) {}
  std::vector<float> next(const InputSnapshot& input) override { return clamp_action(mapper_.action_spec(), mapper_.map(input)); }
  void reset(uint64_t) override { mapper_.reset(); }
  std::string name() const override { return "you"; }

 private:
  InputMapper mapper_;
};

class StickyActions final : public ActionSource {
 public:
  StickyActions(const std::string& world, uint64_t seed) : spec_(action_spec_for(world)), actions_(spec_, seed) {}
  std::vector<float> next(const InputSnapshot&) override { return actions_.next(); }
  void reset(uint64_t seed) override { actions_ = StickyRandomActions(spec_, seed); }
  std::string name() const override { return "policy sticky_random"; }

 private:
  ActionSpec spec_;
  StickyRandomActions actions_;
};

// A scripted policy needs a world to look at: the ground-truth simulator, stepped in lockstep.
class PolicyActions final : public ActionSource {
 public:
  PolicyActions(const std::string& policy, const std::string& world, uint64_t seed)
      : name_(policy), world_(make_world(world)), policy_(make_policy(policy, world)) {
    reset(seed);
  }
  std::vector<float> next(const InputSnapshot&) override {
    std::vector<float> action = clamp_action(world_->action_spec(), policy_->next(*world_));
    world_->step(action);
    return action;
  }
  void reset(uint64_t seed) override {
    world_->reset(seed);
    policy_->reset(seed);
  }
  std::string name() const override { return "policy " + name_; }

 private:
  std::string name_;
  std::unique_ptr<World> world_;
  std::unique_ptr<Policy> policy_;
};

}  // namespace

std::unique_ptr<ActionSource> make_input_actions(const Bindings& bindings) { return std::make_unique<InputActions>(bindings); }

std::unique_ptr<ActionSource> make_scripted_actions(const std::string& policy, const std::string& world, uint64_t seed) {
  if (policy == "sticky_random") return std::make_unique<StickyActions>(world, seed);
  return std::make_unique<PolicyActions>(policy, world, seed);
}

// [SECTION] aggregation

std::vector<float> aggregate_actions(const ActionSpec& spec, std::span<const std::vector<float>> frames) {
  const int A = spec.width();
  std::vector<float> out(A, 0.f);
  if (frames.empty()) return out;
  for (int a = 0; a < A; ++a) {
    const ActionDim& d = spec.dims[a];
    float centre = 0.5f * (d.min + d.max), value = frames.front()[a], sum = 0.f;
    for (const auto& f : frames) {
      WL_CHECK(static_cast<int>(f.size()) == A, "actions: a frame has ", f.size(), " values, the ", spec.world, " spec ", A);
      float v = f[a];
      sum += v;
      switch (d.kind) {
        case ActionKind::Binary: value = std::max(value, v); break;
        case ActionKind::Discrete:
          if (std::abs(v - centre) >= std::abs(value - centre)) value = v;
          break;
        case ActionKind::Continuous: break;
      }
    }
    out[a] = d.kind == ActionKind::Continuous ? sum / static_cast<float>(frames.size()) : value;
  }
  return out;
}

ActionAggregator::ActionAggregator(ActionSpec spec) : spec_(std::move(spec)) { reset(); }

void ActionAggregator::reset() {
  frames_.clear();
  previous_.clear();
  held_.clear();
  event_ = last_event_ = -1.0;
}

void ActionAggregator::add(std::vector<float> action, double time_s) {
  if (!previous_.empty() && action != previous_ && event_ < 0) event_ = time_s;
  previous_ = action;
  frames_.push_back(std::move(action));
}

ActionTensor ActionAggregator::take(int T) {
  WL_CHECK(T >= 1, "actions: a block needs at least one latent frame, asked for ", T);
  const int A = spec_.width();
  ActionTensor out{T, A, std::vector<float>(static_cast<size_t>(T) * A)};
  if (held_.empty()) held_ = aggregate_actions(spec_, {});   // nothing ever sampled: zeros
  const size_t p = frames_.size();
  for (int t = 0; t < T; ++t) {
    // Ceiling division: with fewer frames than rows the newest input lands in the first rows (it
    // takes effect as early as possible) and the later rows hold it.
    size_t begin = (p * t + T - 1) / T, end = (p * (t + 1) + T - 1) / T;
    if (end > begin) held_ = aggregate_actions(spec_, std::span(frames_).subspan(begin, end - begin));
    std::copy(held_.begin(), held_.end(), out.row(t));
  }
  frames_.clear();
  last_event_ = event_;
  event_ = -1.0;
  return out;
}

}  // namespace wl
