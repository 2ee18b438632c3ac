#include "models/sequence/gru_member.h"

#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <random>

namespace sinyal::models {

namespace {

constexpr float kClip = 6.0f;

struct Net : torch::nn::Module {
  Net(int in, int hidden)
      : gru(register_module("gru",
                            torch::nn::GRU(torch::nn::GRUOptions(in, hidden).batch_first(true)))),
        out(register_module("out", torch::nn::Linear(hidden, 1))) {}
  torch::Tensor forward(const torch::Tensor& x) {
    auto y = std::get<0>(gru->forward(x));   // [B, T, H]
    auto last = y.select(1, y.size(1) - 1);  // [B, H]
    return out->forward(last).squeeze(1);    // logits [B]
  }
  torch::nn::GRU gru;
  torch::nn::Linear out;
};

bool WindowDefined(std::span<const float> inputs, size_t bar, int window) {
  if (bar + 1 < static_cast<size_t>(window)) return false;
  const size_t first = bar + 1 - static_cast<size_t>(window);
  for (size_t t = first; t <= bar; ++t) {
    for (int k = 0; k < kSequenceInputs; ++k) {
      if (!std::isfinite(inputs[t * kSequenceInputs + k])) return false;
    }
  }
  return true;
}

float Sigmoid(float x) { return 1.0f / (1.0f + std::exp(-x)); }

std::vector<float> ToVector(const torch::Tensor& t) {
  auto c = t.detach().contiguous().to(torch::kFloat32);
  return std::vector<float>(c.data_ptr<float>(), c.data_ptr<float>() + c.numel());
}

}  // namespace

std::vector<float> SequenceInputs(const BarColumns& b) {
  const size_t n = b.size();
  std::vector<float> out(n * kSequenceInputs, std::nanf(""));
  std::vector<double> r2(n, 0);
  for (size_t i = 1; i < n; ++i) {
    const double r = std::log(b.close[i] / b.close[i - 1]);
    r2[i] = r * r;
  }
  double sum = 0;
  for (size_t i = 1; i < n; ++i) {
    sum += r2[i];
    if (i > 24) sum -= r2[i - 24];
    if (i < 25) continue;
    const double sigma = std::sqrt(sum / 24.0);
    if (!(sigma > 0)) continue;
    const double prev = b.close[i - 1];
    const double hour = static_cast<double>((b.ts[i] / kNanosPerHour) % 24);
    float* row = out.data() + i * kSequenceInputs;
    auto clip = [](double v) {
      return static_cast<float>(std::clamp(v, -double{kClip}, double{kClip}));
    };
    row[0] = clip(std::log(b.close[i] / prev) / sigma);
    row[1] = clip((b.high[i] - b.low[i]) / (prev * sigma));
    row[2] = clip((b.close[i] - b.open[i]) / (prev * sigma));
    row[3] = static_cast<float>(std::sin(2 * M_PI * hour / 24.0));
    row[4] = static_cast<float>(std::cos(2 * M_PI * hour / 24.0));
  }
  return out;
}

Result<GruMember> GruMember::Train(const Dataset& ds, std::span<const size_t> fit,
                                   std::span<const float> inputs, const GruConfig& c) {
  if (c.window < 4 || c.window > 512)
    return Status::InvalidArgument("window must be in [4, 512]", "window");
  if (c.hidden < 2 || c.hidden > 256)
    return Status::InvalidArgument("hidden must be in [2, 256]", "hidden");
  if (c.epochs < 1 || c.epochs > 100)
    return Status::InvalidArgument("epochs must be in [1, 100]", "epochs");
  if (c.batch < 16 || c.batch > 4096)
    return Status::InvalidArgument("batch must be in [16, 4096]", "batch");
  if (ds.num_classes != 2)
    return Status::InvalidArgument("the sequence member is binary", "num_classes");
  std::vector<size_t> usable;
  for (size_t i : fit) {
    if (WindowDefined(inputs, ds.rows[i].bar, c.window)) usable.push_back(i);
  }
  if (usable.size() < 200) {
    return Status::FailedPrecondition(
        "too little data for the sequence member: " + std::to_string(usable.size()) +
            " rows with a full window",
        "data");
  }
  torch::manual_seed(c.seed);
  at::set_num_threads(std::max(1, c.threads));
  const int64_t W = c.window, I = kSequenceInputs;
  auto make = [&](std::span<const size_t> rows, torch::Tensor* x, torch::Tensor* y) {
    *x = torch::empty({static_cast<int64_t>(rows.size()), W, I}, torch::kFloat32);
    *y = torch::empty({static_cast<int64_t>(rows.size())}, torch::kFloat32);
    float* px = x->data_ptr<float>();
    float* py = y->data_ptr<float>();
    for (size_t k = 0; k < rows.size(); ++k) {
      const size_t bar = ds.rows[rows[k]].bar;
      const size_t first = bar + 1 - static_cast<size_t>(W);
      std::copy(inputs.begin() + static_cast<std::ptrdiff_t>(first * I),
                inputs.begin() + static_cast<std::ptrdiff_t>((bar + 1) * I), px + k * W * I);
      py[k] = ds.rows[rows[k]].label == kUp ? 1.0f : 0.0f;
    }
  };
  const size_t n_val = std::max<size_t>(usable.size() / 10, 50);
  std::span<const size_t> train_rows(usable.data(), usable.size() - n_val);
  std::span<const size_t> val_rows(usable.data() + usable.size() - n_val, n_val);
  torch::Tensor xt, yt, xv, yv;
  make(train_rows, &xt, &yt);
  make(val_rows, &xv, &yv);

  auto net = std::make_shared<Net>(static_cast<int>(I), c.hidden);
  torch::optim::Adam opt(net->parameters(),
                         torch::optim::AdamOptions(c.lr).weight_decay(c.weight_decay));
  std::mt19937_64 rng(c.seed);
  std::vector<int64_t> order(static_cast<size_t>(xt.size(0)));
  std::iota(order.begin(), order.end(), 0);
  GruMember m;
  m.window_ = c.window;
  m.hidden_ = c.hidden;
  double best = std::numeric_limits<double>::infinity();
  std::vector<torch::Tensor> best_params;
  for (int epoch = 1; epoch <= c.epochs; ++epoch) {
    net->train();
    std::shuffle(order.begin(), order.end(), rng);
    for (size_t b0 = 0; b0 < order.size(); b0 += static_cast<size_t>(c.batch)) {
      const size_t b1 = std::min(order.size(), b0 + static_cast<size_t>(c.batch));
      auto idx = torch::from_blob(order.data() + b0, {static_cast<int64_t>(b1 - b0)}, torch::kInt64)
                     .clone();
      auto logits = net->forward(xt.index_select(0, idx));
      auto loss = torch::binary_cross_entropy_with_logits(logits, yt.index_select(0, idx));
      opt.zero_grad();
      loss.backward();
      opt.step();
    }
    net->eval();
    torch::NoGradGuard ng;
    const double v = torch::binary_cross_entropy_with_logits(net->forward(xv), yv).item<double>();
    if (v < best) {
      best = v;
      m.best_epoch_ = epoch;
      best_params.clear();
      for (const auto& p : net->parameters()) best_params.push_back(p.detach().clone());
    }
  }
  {
    torch::NoGradGuard ng;
    auto params = net->parameters();
    for (size_t i = 0; i < params.size(); ++i) params[i].copy_(best_params[i]);
  }
  m.val_loss_ = best;
  for (const auto& p : net->named_parameters()) {
    const std::string& name = p.key();
    if (name == "gru.weight_ih_l0") m.w_ih_ = ToVector(p.value());
    if (name == "gru.weight_hh_l0") m.w_hh_ = ToVector(p.value());
    if (name == "gru.bias_ih_l0") m.b_ih_ = ToVector(p.value());
    if (name == "gru.bias_hh_l0") m.b_hh_ = ToVector(p.value());
    if (name == "out.weight") m.w_out_ = ToVector(p.value());
    if (name == "out.bias") m.b_out_ = ToVector(p.value())[0];
  }
  const size_t H = static_cast<size_t>(c.hidden);
  if (m.w_ih_.size() != 3 * H * I || m.w_hh_.size() != 3 * H * H || m.b_ih_.size() != 3 * H ||
      m.b_hh_.size() != 3 * H || m.w_out_.size() != H) {
    return Status::Internal("unexpected GRU parameter shapes from libtorch");
  }
  return m;
}

double GruMember::Predict(std::span<const float> inputs, size_t bar) const {
  if (!WindowDefined(inputs, bar, window_)) return std::nan("");
  const size_t H = static_cast<size_t>(hidden_), I = kSequenceInputs;
  float h[256] = {0}, gi[768], gh[768], hn[256];
  const size_t first = bar + 1 - static_cast<size_t>(window_);
  for (size_t t = first; t <= bar; ++t) {
    const float* x = inputs.data() + t * I;
    for (size_t g = 0; g < 3 * H; ++g) {
      float a = b_ih_[g], b = b_hh_[g];
      const float* wi = w_ih_.data() + g * I;
      for (size_t k = 0; k < I; ++k) a += wi[k] * x[k];
      const float* wh = w_hh_.data() + g * H;
      for (size_t k = 0; k < H; ++k) b += wh[k] * h[k];
      gi[g] = a;
      gh[g] = b;
    }
    for (size_t j = 0; j < H; ++j) {
      const float r = Sigmoid(gi[j] + gh[j]);
      const float z = Sigmoid(gi[H + j] + gh[H + j]);
      const float nn = std::tanh(gi[2 * H + j] + r * gh[2 * H + j]);
      hn[j] = (1 - z) * nn + z * h[j];
    }
    std::copy(hn, hn + H, h);
  }
  float logit = b_out_;
  for (size_t j = 0; j < H; ++j) logit += w_out_[j] * h[j];
  return Sigmoid(logit);
}

Result<double> GruMember::PredictTorch(std::span<const float> inputs, size_t bar) const {
  if (!WindowDefined(inputs, bar, window_))
    return Status::InvalidArgument("window not defined", "bar");
  Net net(kSequenceInputs, hidden_);
  torch::NoGradGuard ng;
  auto set = [](torch::Tensor t, const std::vector<float>& v) {
    t.copy_(torch::from_blob(const_cast<float*>(v.data()), t.sizes(), torch::kFloat32));
  };
  for (auto& p : net.named_parameters()) {
    const std::string& name = p.key();
    if (name == "gru.weight_ih_l0") set(p.value(), w_ih_);
    if (name == "gru.weight_hh_l0") set(p.value(), w_hh_);
    if (name == "gru.bias_ih_l0") set(p.value(), b_ih_);
    if (name == "gru.bias_hh_l0") set(p.value(), b_hh_);
    if (name == "out.weight") set(p.value(), w_out_);
    if (name == "out.bias") p.value().fill_(b_out_);
  }
  net.eval();
  const int64_t W = window_, I = kSequenceInputs;
  const size_t first = bar + 1 - static_cast<size_t>(W);
  auto x =
      torch::from_blob(const_cast<float*>(inputs.data() + first * I), {1, W, I}, torch::kFloat32);
  return torch::sigmoid(net.forward(x)).item<double>();
}

}  // namespace sinyal::models
