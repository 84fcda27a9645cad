// The precompiled header shared by every module: LibTorch plus the standard library.
#pragma once
#include <torch/torch.h>
#include <algorithm>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>
