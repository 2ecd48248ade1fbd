// `headscope sweep run DIR --shard K/N`: evaluates this shard's units of DIR/manifest.json,
// each result written atomically to DIR/units/<id>.json as soon as it is done. Units that
// already have a "done" file are skipped, so a rerun or a requeued array task redoes only
// unfinished (missing or failed) units. A unit that throws is recorded as "failed" with its
// error message and the others go on. The model and the tokenized documents are loaded once
// per process; documents are re-read and must still match the manifest's SHA-256s.
#pragma once
#include <cstdio>
#include <string>

#include <nlohmann/json.hpp>

#include "sweep/manifest.h"
#include "sweep/shard.h"

namespace headscope {

inline constexpr const char* kSweepUnitSchema = "headscope.sweep-unit/1";

struct SweepRunOptions {
  Shard shard;
  std::string device = "cpu";
  int64_t threads = -1;      // -1: the spec's
  std::FILE* log = nullptr;  // one line per unit
};

struct SweepRunStats {
  int64_t assigned = 0, already_done = 0, evaluated = 0, failed = 0;
  double wall_s = 0;
  std::string first_error;
};

SweepRunStats run_sweep(const std::string& dir, const SweepManifest& m, const SweepRunOptions& opt);

// The unit's result file if it exists and is a finished result of this unit ("done"); else
// null. A file that is not one of this sweep's unit files is an Error.
nlohmann::json read_unit_result(const std::string& dir, const SweepUnit& u);

}  // namespace headscope
