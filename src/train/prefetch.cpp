// BatchFeeder (see prefetch.h).
#include "train/prefetch.h"

#include <chrono>

#include "core/rng.h"

namespace ofa::train {

uint64_t BatchFeeder::Key::hash() const {
  return hash_keys({uint64_t(phase), uint64_t(step), uint64_t(micro), uint64_t(resolution)});
}

BatchFeeder::BatchFeeder(TrainBatches& batches, const Coordinator& coord, const std::vector<PhaseConfig>& phases,
                         FeederOptions options)
    : batches_(batches), coord_(coord), phases_(phases), options_(options) {
  if (options_.threads > 0 && options_.prefetch > 0)
    loader_ = std::make_unique<data::Loader>(data::LoaderOptions{options_.threads, options_.prefetch});
}

void BatchFeeder::start_phase(int p, int64_t total_steps, int64_t next_steps) {
  phase_ = p;
  total_steps_ = total_steps;
  next_steps_ = p + 1 < int(phases_.size()) ? next_steps : 0;
}

BatchFeeder::Key BatchFeeder::next_after(const Key& k) {
  if (k.micro + 1 < batches_.grad_accum()) return {k.phase, k.step, k.micro + 1, k.resolution};
  int p = k.phase;
  int64_t s = k.step + 1;
  if (p == phase_ && s >= total_steps_) {  // the phase's last step: the next phase's first
    ++p;
    s = 0;
  }
  const bool planned = (p == phase_ && s < total_steps_) || (p == phase_ + 1 && s < next_steps_);
  if (!planned) return {-1, 0, 0, 0};
  if (res_phase_ != p || res_step_ != s) {
    res_ = coord_.sample(p, phases_.at(size_t(p)), s).resolution;
    res_phase_ = p;
    res_step_ = s;
  }
  return {p, s, 0, res_};
}

void BatchFeeder::top_up(const Key& last) {
  Key k = in_flight_.empty() ? last : in_flight_.back();
  while (int(in_flight_.size()) < options_.prefetch) {
    k = next_after(k);
    if (k.phase < 0) return;  // nothing planned after this: the rest starts on the spot
    const int64_t spe = batches_.steps_per_epoch();
    loader_->submit(k.hash(), batches_.job(batches_.epoch_key(k.phase, k.step), k.step % spe, k.micro, k.resolution));
    in_flight_.push_back(k);
  }
}

data::Batch BatchFeeder::get(int p, int64_t s, int micro, int resolution) {
  const auto t0 = std::chrono::steady_clock::now();
  const Key want{p, s, micro, resolution};
  const int64_t spe = batches_.steps_per_epoch();
  data::Batch b;
  if (!loader_) {
    b = batches_.get(batches_.epoch_key(p, s), s % spe, micro, resolution);
    ++built_sync_;
  } else {
    const bool hit = !in_flight_.empty() && in_flight_.front() == want;
    if (hit) {
      in_flight_.pop_front();
      b = loader_->take(want.hash());
      ++prefetched_;
    } else {
      loader_->clear();  // not what the trainer runs next: build it here, prefetch from it
      in_flight_.clear();
      b = batches_.get(batches_.epoch_key(p, s), s % spe, micro, resolution);
      ++built_sync_;
    }
    top_up(want);
  }
  wait_s_ += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return b;
}

double BatchFeeder::take_wait() {
  const double w = wait_s_;
  wait_s_ = 0;
  return w;
}

}  // namespace ofa::train
