#!/usr/bin/env python3
"""Optional interop check for the Swift `Configs` module (not part of `make test`).

Checks that configs written by the Swift code load unchanged in the Python `speculators`
library (0.9.0, which needs torch and transformers 5). For each input config:

  1. run the Swift CLI `speculators validate --json <path>` and take the config it would save
     (the report's "config"; only valid configs have one);
  2. write it as config.json in a temporary folder and load that folder with
     `SpeculatorModelConfig.from_pretrained` (the library must accept it);
  3. compare the library's `to_diff_dict()` of the loaded config with what Swift wrote
     (`transformers_version`, which the library always rewrites, is ignored);
  4. compare the library's view of the Swift-written config with its view of the original file.

Usage:
    python3 scripts/interop/configs_roundtrip.py [--binary .build/release/speculators] [config.json|folder ...]

With no paths, every file in Tests/ConfigsTests/Fixtures/valid/ is used. Exit status 0 when every
config passes, 1 otherwise, 2 when the library or the binary is missing.
"""
import argparse
import json
import pathlib
import subprocess
import sys
import tempfile

ROOT = pathlib.Path(__file__).resolve().parents[2]
DEFAULT_INPUTS = sorted(p for p in (ROOT / "Tests/ConfigsTests/Fixtures/valid").glob("*.json") if p.name != "expected.json")
IGNORED_KEYS = {"transformers_version"}


def swift_saved_config(binary, path):
    """The config the Swift code would save for `path`, or None when it finds the config invalid."""
    run = subprocess.run([binary, "validate", "--json", str(path)], capture_output=True, text=True)
    if run.returncode not in (0, 1):
        raise RuntimeError(f"{binary} validate failed ({run.returncode}): {run.stderr.strip()}")
    report = json.loads(run.stdout)["reports"][0]
    return report["config"], report


def library_view(config):
    """The parts of a loaded config a model loader reads, as plain data."""
    layer = config.transformer_layer_config
    spec = config.speculators_config
    return {
        "class": type(config).__name__,
        "layer_config_class": type(layer).__name__,
        "layer": {k: v for k, v in layer.to_diff_dict().items() if k not in IGNORED_KEYS},
        "fields": {k: v for k, v in config.model_dump().items() if k not in ("transformer_layer_config", "speculators_config")},
        "speculators_config": spec.model_dump() if spec is not None else None,
    }


def strip(d):
    return {k: v for k, v in d.items() if k not in IGNORED_KEYS}


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--binary", default=str(ROOT / ".build/release/speculators"))
    parser.add_argument("paths", nargs="*", default=DEFAULT_INPUTS)
    args = parser.parse_args()

    try:
        from speculators import SpeculatorModelConfig
    except ImportError as error:
        print(f"interop: the Python speculators library is not importable ({error}); install speculators==0.9.0", file=sys.stderr)
        return 2
    if not pathlib.Path(args.binary).exists():
        print(f"interop: no Swift binary at {args.binary}; run `swift build -c release --product speculators`", file=sys.stderr)
        return 2

    failures = 0
    for path in map(pathlib.Path, args.paths):
        saved, report = swift_saved_config(args.binary, path)
        if saved is None:
            print(f"SKIP {path}: Swift reports it invalid ({len(report['errors'])} errors)")
            continue
        problems = []
        with tempfile.TemporaryDirectory() as folder:
            config_file = pathlib.Path(folder) / "config.json"
            config_file.write_text(json.dumps(saved, indent=2, sort_keys=True) + "\n")
            try:
                loaded = SpeculatorModelConfig.from_pretrained(folder)
            except Exception as error:  # the library rejected what Swift wrote
                problems.append(f"library rejects the Swift-written config: {error}")
                loaded = None
        if loaded is not None:
            if strip(loaded.to_diff_dict()) != strip(saved):
                library = strip(loaded.to_diff_dict())
                keys = sorted(k for k in set(library) | set(strip(saved)) if library.get(k) != saved.get(k))
                problems.append(f"to_diff_dict differs from the Swift output at keys {keys}")
            original_file = path / "config.json" if path.is_dir() else path
            original = SpeculatorModelConfig.from_dict(json.loads(original_file.read_text()))
            if library_view(loaded) != library_view(original):
                problems.append("the library reads the Swift-written config differently from the original")
        failures += bool(problems)
        print(("FAIL " if problems else "ok   ") + str(path))
        for problem in problems:
            print("     " + problem)
    print(f"interop: {len(args.paths) - failures} of {len(args.paths)} configs pass")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
