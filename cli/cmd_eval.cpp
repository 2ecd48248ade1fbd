// headscope eval: dense parallel evaluation of a model on a text (PPL, accuracy, speed).
#include <cstdio>

#include "cli/commands.h"
#include "cli/runtime.h"
#include "common/atomic_file.h"
#include "eval/parallel_eval.h"

namespace headscope::cli {

namespace {
struct EvalArgs {
  RuntimeOptions rt;
  TextOptions text;
  std::string json_out;
};
}  // namespace

void register_eval(CLI::App& app) {
  auto args = std::make_shared<EvalArgs>();
  CLI::App* sub = app.add_subcommand("eval", "perplexity and next-token accuracy of a model on a text");
  add_runtime_options(sub, args->rt);
  add_text_options(sub, args->text, 2048);
  sub->add_option("--json", args->json_out, "write the result as JSON to this file");
  sub->callback([args]() {
    NeoXModel model = load_model(args->rt);
    int64_t total = 0;
    std::vector<int64_t> ids = load_tokens(args->rt.model, args->text, &total);
    EvalResult r = evaluate_parallel(model, ids);
    std::printf("model      %s (%lld params)\n", args->rt.model.c_str(),
                (long long)model.num_parameters());
    std::printf("text       %s (%lld tokens, newlines=%s)\n", args->text.text.c_str(),
                (long long)total, args->text.newlines.c_str());
    std::printf("device     %s\n", describe_device(args->rt).c_str());
    std::printf("method     %s (parallel forward, rotary positions = token positions)\n",
                r.method.c_str());
    std::printf("tokens     %lld (%lld predictions)\n", (long long)r.tokens, (long long)r.tokens - 1);
    std::printf("ppl        %.4f\n", r.ppl);
    std::printf("accuracy   %.4f\n", r.accuracy);
    std::printf("wall       %.3f s\n", r.wall_s);
    std::printf("tokens/s   %.1f\n", r.tokens_per_s);
    if (!args->json_out.empty()) {
      nlohmann::json j = r.to_json();
      j["model"] = args->rt.model;
      j["text"] = args->text.text;
      j["newlines"] = args->text.newlines;
      j["device"] = describe_device(args->rt);
      write_file_atomic(args->json_out, j.dump(1) + "\n");
    }
  });
}

}  // namespace headscope::cli
