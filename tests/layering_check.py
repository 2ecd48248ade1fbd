#!/usr/bin/env python3
"""The one-way layering, checked against the real build (ctest `layering`).

Every folder library compiles against an include root of its own (build/layers/<library>/,
made by CMakeLists.txt's headscope_library). This test states the intended layering
independently of CMakeLists.txt and, for every library, compiles probes with that library's
exact compile command from compile_commands.json:
  - a header of each folder it may use must be found;
  - a header of each folder it must not use must NOT be found ("No such file");
  - no library compiles with the source root (which would see every folder) on its path;
  - the torch-free libraries do not have ATen on their include path at all.
usage: layering_check.py BUILD_DIR SOURCE_DIR
"""
import json, os, shlex, subprocess, sys, tempfile

FOLDERS = ["common", "model/tokenizer", "model", "formats", "dataset", "compress", "eval",
           "analyzer", "headaware", "sweep", "viz"]
# library -> folders it may include (its own and everything below it in the layering)
ALLOWED = {
    "common": {"common"},
    "tokenizer": {"common", "model/tokenizer"},
    "model": {"common", "model/tokenizer", "model"},
    "formats": {"common", "formats"},          # plus model/visibility.h alone (the mask predicate)
    "dataset": {"common", "dataset"},
    "compress": {"common", "model/tokenizer", "model", "compress"},
    "eval": {"common", "model/tokenizer", "model", "compress", "eval"},
    "analyzer": {"common", "model/tokenizer", "model", "analyzer"},
    "headaware": {"common", "model/tokenizer", "model", "compress", "eval", "analyzer", "dataset",
                  "formats", "headaware"},
    "sweep": {"common", "model/tokenizer", "model", "compress", "eval", "analyzer", "dataset",
              "formats", "headaware", "sweep"},
    "viz": {"common", "viz"},
}
TORCH_FREE = {"tokenizer", "formats", "dataset", "viz"}
# one header of each folder that includes nothing outside the folder's allowed set
PROBE = {"common": "common/error.h", "model/tokenizer": "model/tokenizer/normalizer.h",
         "model": "model/config.h", "formats": "formats/policy_file.h",
         "dataset": "dataset/documents.h", "compress": "compress/registry.h",
         "eval": "eval/metrics.h", "analyzer": "analyzer/head_classification.h",
         "headaware": "headaware/allocator.h", "sweep": "sweep/manifest.h", "viz": "viz/style.h"}


def main():
    build, src = os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2])
    commands = json.load(open(os.path.join(build, "compile_commands.json")))
    failures, probes = [], 0
    with tempfile.TemporaryDirectory() as tmp:
        for lib, allowed in ALLOWED.items():
            cmd = next((c for c in commands if f"/headscope_{lib}.dir/" in c.get("output", c["command"])
                        or f"headscope_{lib}.dir" in c["command"]), None)
            if cmd is None:
                failures.append(f"{lib}: no compile command (is it still a library?)")
                continue
            args = shlex.split(cmd["command"])
            includes = [a[2:] for a in args if a.startswith("-I")] + \
                       [args[i + 1] for i, a in enumerate(args) if a in ("-isystem",)]
            if src in [os.path.abspath(i) for i in includes]:
                failures.append(f"{lib}: compiles with the source root on its include path")
            if lib in TORCH_FREE and any("torch" in i.lower() for i in includes):
                failures.append(f"{lib}: torch-free library has libtorch on its include path")
            # drop output/dependency options and the source; keep flags, include paths, PCH
            keep, skip = [], False
            for a in args:
                if skip:
                    skip = False
                    continue
                if a in ("-o", "-MF", "-MT", "-c"):
                    skip = True
                    continue
                if a == "-MD" or a.startswith("-Winvalid-pch") or "cmake_pch" in a:
                    continue
                if a == "-include" or a == "-Xclang":  # the precompiled header (not needed to
                    skip = True                          # resolve includes, slow to load)
                    continue
                keep.append(a)
            for folder in FOLDERS:
                probe = os.path.join(tmp, f"{lib}_{folder.replace('/', '_')}.cpp")
                with open(probe, "w") as f:
                    f.write(f'#include "{PROBE[folder]}"\n')
                r = subprocess.run(keep + ["-E", "-o", os.devnull, probe], cwd=cmd["directory"],
                                   capture_output=True, text=True)
                probes += 1
                found = f"{PROBE[folder]}: No such file" not in r.stderr
                if folder in allowed and r.returncode != 0:
                    failures.append(f"{lib} must see {PROBE[folder]}: {r.stderr.strip().splitlines()[:2]}")
                if folder not in allowed and found:
                    failures.append(f"{lib} must not see {PROBE[folder]}, but it compiles against it")
    for f in failures:
        print("layering:", f)
    print(f"layering: {len(ALLOWED)} libraries, {probes} probes, {len(failures)} failures")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
