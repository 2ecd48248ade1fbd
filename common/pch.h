// Precompiled header shared by every headscope target. ATen only: never <torch/torch.h>.
#pragma once
#include <ATen/ATen.h>
#include <c10/core/InferenceMode.h>
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>
#include <nlohmann/json.hpp>
