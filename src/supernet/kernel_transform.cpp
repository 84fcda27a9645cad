// The kernel transform as one autograd node. Why: on a small subnet the LibTorch chain costs ~6
// nodes per depthwise layer (slice, index_select, index_select of matrix rows, linear = t + mm)
// and its matrix products go to the system BLAS, which on Debian is the unoptimised reference
// one: ~2.5% of a random Fashion-MNIST subnet's step. Here the crop is a gather, the products are
// seq_gemm (the reference BLAS's summation order, vectorised), and the backward writes straight
// into full-size gradients, with the values the chain's backward would give.
#include "supernet/kernel_transform.h"

#include <torch/csrc/autograd/function.h>
#include <torch/csrc/autograd/functions/utils.h>

#include "core/error.h"
#include "supernet/seq_gemm.h"

namespace ofa::supernet {

namespace {

using torch::autograd::variable_list;

// rows x cols (row-major) -> cols x rows.
torch::Tensor transposed(const torch::Tensor& m) {
  const int64_t r = m.size(0), c = m.size(1);
  auto t = torch::empty({c, r}, m.options());
  const float* src = m.data_ptr<float>();
  float* dst = t.data_ptr<float>();
  for (int64_t i = 0; i < r; ++i)
    for (int64_t j = 0; j < c; ++j) dst[j * r + i] = src[i * c + j];
  return t;
}

// The rows `rows` of a contiguous matrix (all of it when `rows` is empty), contiguous.
torch::Tensor select_rows(const torch::Tensor& m, const std::vector<int64_t>& rows) {
  if (rows.empty()) return m.clone(torch::MemoryFormat::Contiguous);  // not an alias of the parameter
  const int64_t cols = m.size(1);
  auto out = torch::empty({static_cast<int64_t>(rows.size()), cols}, m.options());
  auto src = m.contiguous();
  const float* s = src.data_ptr<float>();
  float* d = out.data_ptr<float>();
  for (size_t r = 0; r < rows.size(); ++r) std::copy_n(s + rows[r] * cols, cols, d + r * cols);
  return out;
}

struct KernelTransformBackward : torch::autograd::Node {
  std::shared_ptr<const TransformPlan> plan;
  std::vector<int64_t> weight_sizes;
  int64_t channels = 0;
  std::vector<int64_t> matrix_sizes;  // n of each step's (square) matrix
  std::vector<torch::Tensor> xs;      // each step's input [channels, L]
  std::vector<torch::Tensor> ms;      // each step's matrix rows as used [N, L]

  std::string name() const override { return "ofa::KernelTransformBackward"; }
  void release_variables() override {
    xs.clear();
    ms.clear();
  }

  // Inputs (next edges): 0 the weight, 1 + s the matrix of step s. The values are those of the
  // chain's backward: mm's two products (sums over the same index, in the same order), zeros
  // plus the index_select gradients, the slice's zero-padded copy.
  variable_list apply(variable_list&& grads) override {
    const size_t n_steps = plan->steps.size();
    variable_list out(1 + n_steps);
    if (!grads[0].defined()) return out;
    OFA_ASSERT(!xs.empty(), "kernel transform: backward through the graph a second time");
    auto g = grads[0].contiguous().view({channels, -1});
    const bool need_weight = task_should_compute_output(0);
    for (size_t s = n_steps; s-- > 0;) {
      const auto& x = xs[s];
      const auto& m = ms[s];
      const int64_t n = m.size(0), l = m.size(1);
      if (task_should_compute_output(1 + s)) {
        auto dm = torch::empty({n, l}, x.options());
        seq_gemm(n, channels, l, g.data_ptr<float>(), 1, n, x.data_ptr<float>(), dm.data_ptr<float>());
        const auto& rows = plan->steps[s].rows;
        if (rows.empty()) {
          out[1 + s] = dm;
        } else {
          const int64_t full = matrix_sizes[s];
          auto dfull = torch::zeros({full, full}, x.options());
          float* d = dfull.data_ptr<float>();
          const float* p = dm.data_ptr<float>();
          for (size_t r = 0; r < rows.size(); ++r)
            for (int64_t j = 0; j < l; ++j) d[rows[r] * full + j] += p[r * l + j];
          out[1 + s] = dfull;
        }
      }
      if (s == 0 && !need_weight) break;
      auto dx = torch::empty({channels, l}, x.options());
      seq_gemm(channels, n, l, g.data_ptr<float>(), n, 1, m.data_ptr<float>(), dx.data_ptr<float>());
      g = dx;
    }
    if (need_weight) {
      auto dw = torch::zeros(weight_sizes, g.options());
      float* d = dw.data_ptr<float>();
      const float* p = g.data_ptr<float>();
      const auto& crop = plan->crop;
      const int64_t area = plan->big_area, l = static_cast<int64_t>(crop.size());
      for (int64_t c = 0; c < channels; ++c)
        for (int64_t j = 0; j < l; ++j) d[c * area + crop[j]] += p[c * l + j];
      out[0] = dw;
    }
    return out;  // the engine calls release_variables() unless the graph is retained
  }
};

bool cpu_float(const torch::Tensor& t) { return t.device().is_cpu() && t.scalar_type() == torch::kFloat; }

}  // namespace

torch::Tensor transform_kernel_torch(const torch::Tensor& weight, int64_t channels,
                                     const std::vector<torch::Tensor>& matrices,
                                     const TransformPlan& plan) {
  auto on = [&](const torch::Tensor& idx) {
    return idx.device() == weight.device() ? idx : idx.to(weight.device());
  };
  auto filt = channels == weight.size(0) ? weight : weight.narrow(0, 0, channels);
  auto flat = filt.view({channels, plan.big_area}).index_select(1, on(plan.crop_index));
  for (const auto& step : plan.steps) {
    const auto& m = matrices.at(step.matrix);
    flat = torch::linear(flat, step.rows_index.defined() ? m.index_select(0, on(step.rows_index)) : m);
  }
  return flat.view({channels, 1, plan.kernel, plan.kernel});
}

torch::Tensor transform_kernel(const torch::Tensor& weight, int64_t channels,
                               const std::vector<torch::Tensor>& matrices,
                               const std::shared_ptr<const TransformPlan>& plan) {
  bool fast = cpu_float(weight);
  for (const auto& step : plan->steps) fast = fast && cpu_float(matrices.at(step.matrix));
  if (!fast) return transform_kernel_torch(weight, channels, matrices, *plan);

  // Forward without autograd, on the raw values.
  auto w = weight.detach().contiguous();
  const int64_t area = plan->big_area, l0 = static_cast<int64_t>(plan->crop.size());
  OFA_ASSERT(channels <= w.size(0) && w.numel() == w.size(0) * area, "kernel transform: weight ",
             w.sizes(), " does not hold ", channels, " kernels of ", area);
  auto x = torch::empty({channels, l0}, w.options());
  {
    const float* src = w.data_ptr<float>();
    float* dst = x.data_ptr<float>();
    for (int64_t c = 0; c < channels; ++c)
      for (int64_t j = 0; j < l0; ++j) dst[c * l0 + j] = src[c * area + plan->crop[j]];
  }
  std::vector<torch::Tensor> xs, ms;
  variable_list inputs{weight};
  std::vector<int64_t> matrix_sizes;
  for (const auto& step : plan->steps) {
    const auto& mat = matrices.at(step.matrix);
    auto m = select_rows(mat.detach(), step.rows);  // [N, L]
    OFA_ASSERT(m.size(1) == x.size(1), "kernel transform: matrix ", mat.sizes(), " after ", x.sizes());
    auto mt = transposed(m);                         // [L, N]
    // The last step's result is allocated in the filter's shape: the output must not be a view.
    const bool last = &step == &plan->steps.back();
    auto y = last ? torch::empty({channels, 1, plan->kernel, plan->kernel}, w.options())
                  : torch::empty({channels, m.size(0)}, w.options());
    OFA_ASSERT(!last || m.size(0) == plan->kernel * plan->kernel, "kernel transform: last matrix ",
               m.sizes(), " for kernel ", plan->kernel);
    seq_gemm(channels, m.size(1), m.size(0), x.data_ptr<float>(), m.size(1), 1, mt.data_ptr<float>(),
             y.data_ptr<float>());
    xs.push_back(x);
    ms.push_back(m);
    inputs.push_back(mat);
    matrix_sizes.push_back(mat.size(0));
    x = y;
  }
  auto out = x;
  if (torch::autograd::compute_requires_grad(inputs)) {
    auto node = std::shared_ptr<KernelTransformBackward>(new KernelTransformBackward(),
                                                         torch::autograd::deleteNode);
    node->set_next_edges(torch::autograd::collect_next_edges(inputs));
    node->plan = plan;
    node->weight_sizes = weight.sizes().vec();
    node->channels = channels;
    node->matrix_sizes = std::move(matrix_sizes);
    node->xs = std::move(xs);
    node->ms = std::move(ms);
    torch::autograd::set_history(out, node);
  }
  return out;
}

}  // namespace ofa::supernet
