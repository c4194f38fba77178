#!/usr/bin/env python3
"""Builds the ConversionTests fixtures (run once; the output is committed).

Inputs (read-only): the shared reference fixtures `tiny-llama`, `tiny-eagle3`, `tiny-eagle3-normfc`
(speculators 0.9.0 / transformers 5.19.0 outputs).

Outputs under Tests/ConversionTests/Fixtures/:
  tiny-llama/                 the verifier, copied unchanged
  reference/<variant>/        speculators-format drafts (config.json + model.safetensors) that our
                              loader reads directly; the conversion of research/<variant> must load to
                              the same model. Derived from tiny-eagle3(-normfc): extra tensors
                              (layers.1.*, fc_norm.*, a 2-aux fc, a full-vocab lm_head) are seeded random.
  research/<variant>/         the same weights in the SafeAILab research layout (`midlayer.*`, no
                              `embed_tokens` unless the variant says so) with a research config.json.
  python-converted/<variant>.json
                              what speculators 0.9.0's Eagle3Converter writes for research/<variant>
                              (config.json text, tensor names/dtypes/shapes), or the error it raises.

Usage: python scripts/make_conversion_fixtures.py /work/shared/fixtures Tests/ConversionTests/Fixtures
(needs torch, safetensors 0.8.0, transformers 5.19.0, speculators 0.9.0).
"""
import copy, json, os, shutil, sys, tempfile, traceback

import torch
from safetensors.torch import load_file, save_file

shared, out = os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2])
gen = torch.Generator().manual_seed(20261129)


def randn(*shape):
    return torch.randn(*shape, generator=gen, dtype=torch.float32)


def norm_weight(n):
    return 1.0 + 0.2 * randn(n)


def write_json(path, obj):
    with open(path, "w") as f:
        f.write(json.dumps(obj, indent=2, sort_keys=True) + "\n")


base_config = json.load(open(os.path.join(shared, "tiny-eagle3", "config.json")))
base_weights = load_file(os.path.join(shared, "tiny-eagle3", "model.safetensors"))
normfc_config = json.load(open(os.path.join(shared, "tiny-eagle3-normfc", "config.json")))
normfc_weights = load_file(os.path.join(shared, "tiny-eagle3-normfc", "model.safetensors"))
verifier_weights = load_file(os.path.join(shared, "tiny-llama", "model.safetensors"))


def layer_tensors(prefix):
    return {
        prefix + "input_layernorm.weight": norm_weight(64),
        prefix + "self_attn.q_proj.weight": randn(64, 64) / 8,
        prefix + "self_attn.k_proj.weight": randn(32, 64) / 8,
        prefix + "self_attn.v_proj.weight": randn(32, 64) / 8,
        prefix + "self_attn.o_proj.weight": randn(64, 64) / 8,
        prefix + "post_attention_layernorm.weight": norm_weight(64),
        prefix + "mlp.gate_proj.weight": randn(160, 64) / 8,
        prefix + "mlp.up_proj.weight": randn(160, 64) / 8,
        prefix + "mlp.down_proj.weight": randn(64, 160) / (160 ** 0.5),
    }


# variant -> (speculators config, weights, research extras, kwargs for the Python converter, research embed?)
variants = {}

# 1. The tiny-eagle3 draft; aux ids in an `eagle_config` block, norm_before_residual in the config.
variants["single"] = dict(config=base_config, weights=dict(base_weights), embed=False,
                          research={"norm_before_residual": True,
                                    "eagle_config": {"eagle_aux_hidden_state_layer_ids": [1, 2, 3]}},
                          kwargs={"norm_before_residual": True, "eagle_aux_hidden_state_layer_ids": [1, 2, 3]})
# 2. Same, but the research checkpoint carries embed_tokens and is declared bfloat16.
variants["embed-bf16"] = dict(config=base_config, weights=dict(base_weights), embed=True,
                              research={"torch_dtype": "bfloat16"},
                              kwargs={"norm_before_residual": True, "eagle_aux_hidden_state_layer_ids": [1, 2, 3]})
# 3. norm_before_fc + norm_output (input_norm.weight), flags in the research config.
variants["norm-before-fc"] = dict(config=normfc_config, weights=dict(normfc_weights), embed=False,
                                  research={"norm_before_fc": True, "norm_output": True, "norm_before_residual": True,
                                            "eagle_config": {"eagle_aux_hidden_state_layer_ids": [1, 2, 3]}},
                                  kwargs={"norm_before_residual": True, "eagle_aux_hidden_state_layer_ids": [1, 2, 3]})
# 4. fc_norm (fc_norm.{0,1,2}.weight) + norm_output.
w = dict(base_weights)
for i in range(3):
    w[f"fc_norm.{i}.weight"] = norm_weight(64)
c = copy.deepcopy(base_config); c["fc_norm"] = True; c["norm_output"] = True
variants["fc-norm"] = dict(config=c, weights=w, embed=False,
                           research={"fc_norm": True, "norm_output": True, "norm_before_residual": True,
                                     "eagle_config": {"eagle_aux_hidden_state_layer_ids": [1, 2, 3]}},
                           kwargs={"norm_before_residual": True, "eagle_aux_hidden_state_layer_ids": [1, 2, 3]})
# 5. Two draft layers (layers.1.* in the research layout too).
w = dict(base_weights); w.update(layer_tensors("layers.1."))
c = copy.deepcopy(base_config); c["transformer_layer_config"]["num_hidden_layers"] = 2
variants["two-layers"] = dict(config=c, weights=w, embed=False,
                              research={"num_hidden_layers": 2, "norm_before_residual": True,
                                        "eagle_config": {"eagle_aux_hidden_state_layer_ids": [1, 2, 3]}},
                              kwargs={"norm_before_residual": True, "eagle_aux_hidden_state_layer_ids": [1, 2, 3]})
# 6. Two aux layers [1, 3]: fc is [64, 128].
w = dict(base_weights); w["fc.weight"] = randn(64, 128) / (128 ** 0.5)
c = copy.deepcopy(base_config); c["eagle_aux_hidden_state_layer_ids"] = [1, 3]
variants["two-aux"] = dict(config=c, weights=w, embed=False,
                           research={"norm_before_residual": True,
                                     "eagle_config": {"eagle_aux_hidden_state_layer_ids": [1, 3]}},
                           kwargs={"norm_before_residual": True, "eagle_aux_hidden_state_layer_ids": [1, 3]})
# 7. Full vocabulary: no d2t/t2d, lm_head has all 384 rows (the verifier's).
w = {k: v for k, v in base_weights.items() if k not in ("d2t", "t2d")}
w["lm_head.weight"] = verifier_weights["lm_head.weight"].clone()
c = copy.deepcopy(base_config); c["draft_vocab_size"] = 384
variants["full-vocab"] = dict(config=c, weights=w, embed=False,
                              research={"draft_vocab_size": 384, "norm_before_residual": True,
                                        "eagle_config": {"eagle_aux_hidden_state_layer_ids": [1, 2, 3]}},
                              kwargs={"norm_before_residual": True, "eagle_aux_hidden_state_layer_ids": [1, 2, 3]})


def research_config(extra):
    layer = base_config["transformer_layer_config"]
    cfg = {
        "architectures": ["LlamaForCausalLMEagle3"], "bos_token_id": 1, "eos_token_id": 2, "hidden_act": "silu",
        "hidden_size": 64, "initializer_range": 0.02, "intermediate_size": 160, "max_position_embeddings": 256,
        "model_type": "llama", "num_attention_heads": 4, "num_hidden_layers": 1, "num_key_value_heads": 2,
        "pretraining_tp": 1, "rms_norm_eps": 1e-05, "rope_scaling": None, "rope_theta": 10000.0,
        "tie_word_embeddings": False, "torch_dtype": "float32", "transformers_version": "4.46.0", "use_cache": True,
        "vocab_size": layer["vocab_size"], "draft_vocab_size": 96,
    }
    cfg.update(extra)
    return cfg


def research_weights(weights, embed):
    out = {}
    for k, v in weights.items():
        if k == "embed_tokens.weight" and not embed:
            continue
        out["midlayer." + k[len("layers.0."):] if k.startswith("layers.0.") else k] = v
    return out


readme = os.path.join(out, "README.md")
readme_text = open(readme).read() if os.path.exists(readme) else None
shutil.rmtree(out, ignore_errors=True)
os.makedirs(out)
if readme_text is not None:
    open(readme, "w").write(readme_text)
shutil.copytree(os.path.join(shared, "tiny-llama"), os.path.join(out, "tiny-llama"),
                ignore=shutil.ignore_patterns("expected.json"))
from speculators.convert.eagle.eagle3_converter import Eagle3Converter

for name, v in variants.items():
    ref = os.path.join(out, "reference", name)
    os.makedirs(ref)
    ref_weights = {k: t for k, t in v["weights"].items() if k != "embed_tokens.weight"}
    save_file(ref_weights, os.path.join(ref, "model.safetensors"), metadata={"format": "pt"})
    write_json(os.path.join(ref, "config.json"), v["config"])
    res = os.path.join(out, "research", name)
    os.makedirs(res)
    save_file(research_weights(v["weights"], v["embed"]), os.path.join(res, "model.safetensors"), metadata={"format": "pt"})
    write_json(os.path.join(res, "config.json"), research_config(v["research"]))

    # What the Python converter makes of it (verifier given as the relative name "tiny-llama").
    golden = {"kwargs": v["kwargs"]}
    cwd = os.getcwd()
    with tempfile.TemporaryDirectory() as tmp:
        try:
            os.chdir(out)
            dst = os.path.join(tmp, "converted")
            Eagle3Converter().convert(os.path.join("research", name), dst, "tiny-llama", validate=False, **v["kwargs"])
            golden["config_json"] = open(os.path.join(dst, "config.json")).read()
            from safetensors import safe_open
            with safe_open(os.path.join(dst, "model.safetensors"), "pt") as f:
                golden["tensors"] = {k: {"dtype": str(f.get_slice(k).get_dtype()), "shape": list(f.get_slice(k).get_shape())}
                                     for k in sorted(f.keys())}
        except Exception as e:  # record the library's failure
            golden["error"] = f"{type(e).__name__}: {e}"
        finally:
            os.chdir(cwd)
    os.makedirs(os.path.join(out, "python-converted"), exist_ok=True)
    write_json(os.path.join(out, "python-converted", name + ".json"), golden)
    print(name, "error" if "error" in golden else "ok", golden.get("error", "")[:200])

# ---------------------------------------------------------------------------------------------
# DFlash (z-lab layout) sources and what speculators 0.9.0's DFlashConverter makes of them.
# Verifier: the shared tiny-qwen3 (only its config.json is copied; the converter reads its weights).
# Outputs: dflash/tiny-qwen3/config.json, dflash/source/<variant>/, dflash/python-converted/<variant>/
# (config.json + model.safetensors as written, or error.txt).
from speculators.convert.dflash.converter import DFlashConverter

dflash_root = os.path.join(out, "dflash")
os.makedirs(os.path.join(dflash_root, "tiny-qwen3"))
shutil.copy(os.path.join(shared, "tiny-qwen3", "config.json"), os.path.join(dflash_root, "tiny-qwen3", "config.json"))
qwen3_config = json.load(open(os.path.join(shared, "tiny-qwen3", "config.json")))


def dflash_layer(prefix, fused):
    t = {prefix + "input_layernorm.weight": norm_weight(64), prefix + "post_attention_layernorm.weight": norm_weight(64),
         prefix + "self_attn.o_proj.weight": randn(64, 64) / 8, prefix + "self_attn.q_norm.weight": norm_weight(16),
         prefix + "self_attn.k_norm.weight": norm_weight(16), prefix + "mlp.gate_proj.weight": randn(160, 64) / 8,
         prefix + "mlp.up_proj.weight": randn(160, 64) / 8, prefix + "mlp.down_proj.weight": randn(64, 160) / 12.6}
    q, k, v = randn(64, 64) / 8, randn(32, 64) / 8, randn(32, 64) / 8
    if fused:
        t[prefix + "self_attn.qkv_proj.weight"] = torch.cat([q, k, v], 0)
    else:
        t.update({prefix + "self_attn.q_proj.weight": q, prefix + "self_attn.k_proj.weight": k, prefix + "self_attn.v_proj.weight": v})
    return t


dflash_variants = {
    # Two draft layers, target_layer_ids [0, 2] -> aux ids [1, 3]; block_size at the top level.
    "qwen3": dict(fused=False, top_block=True, target_ids=[0, 2], fc_width=128),
    # Laguna style: fused qkv_proj, block_size inside dflash_config, target id 3 -> 4 == N is dropped.
    "laguna-fused-qkv": dict(fused=True, top_block=False, target_ids=[0, 2], fc_width=128),
}
for name, v in dflash_variants.items():
    src = os.path.join(dflash_root, "source", name)
    os.makedirs(src)
    w = {"fc.weight": randn(64, v["fc_width"]) / 11.3, "hidden_norm.weight": norm_weight(64), "norm.weight": norm_weight(64)}
    for i in range(2):
        w.update(dflash_layer(f"layers.{i}.", v["fused"]))
    save_file(w, os.path.join(src, "model.safetensors"), metadata={"format": "pt"})
    cfg = {k: x for k, x in qwen3_config.items()}
    cfg.update({"architectures": ["DFlashDraftModel"], "num_hidden_layers": 2, "layer_types": ["full_attention"] * 2,
                "num_target_layers": 4,
                "dflash_config": {"target_layer_ids": v["target_ids"], "mask_token_id": 383}})
    if v["top_block"]:
        cfg["block_size"] = 4
    else:
        cfg["dflash_config"]["block_size"] = 8
    write_json(os.path.join(src, "config.json"), cfg)
    dst = os.path.join(dflash_root, "python-converted", name)
    cwd = os.getcwd()
    try:
        os.chdir(out)
        shutil.copytree(os.path.join(shared, "tiny-qwen3"), "tiny-qwen3")
        DFlashConverter().convert(os.path.join("dflash", "source", name), os.path.join("dflash", "python-converted", name),
                                  "tiny-qwen3", validate=False)
        for artifact in ("config.py",):
            if os.path.exists(os.path.join("dflash", "python-converted", name, artifact)):
                os.remove(os.path.join("dflash", "python-converted", name, artifact))
        print("dflash", name, "ok")
    except Exception as e:
        os.makedirs(dst, exist_ok=True)
        open(os.path.join(dst, "error.txt"), "w").write(f"{type(e).__name__}: {e}\n")
        print("dflash", name, "error", e)
    finally:
        shutil.rmtree(os.path.join(out, "tiny-qwen3"), ignore_errors=True)
        os.chdir(cwd)

# ---------------------------------------------------------------------------------------------
# MTP: a verifier checkpoint with a native `mtp.*` head and what MTPConverter extracts from it.
# Source: tiny-qwen3's config + its layer 3 (the reference layer the MTP layer mirrors) + seeded
# mtp.* tensors. Output: mtp/source/, mtp/python-converted/ (config.json + model.safetensors).
from speculators.convert.mtp.converter import MTPConverter

mtp_root = os.path.join(out, "mtp")
src = os.path.join(mtp_root, "source")
os.makedirs(src)
shutil.copy(os.path.join(shared, "tiny-qwen3", "config.json"), os.path.join(src, "config.json"))
qwen3_weights = load_file(os.path.join(shared, "tiny-qwen3", "model.safetensors"))
w = {k: v for k, v in qwen3_weights.items() if k.startswith("model.layers.3.")}
w.update({"mtp.fc.weight": randn(64, 128) / 11.3, "mtp.norm.weight": norm_weight(64),
          "mtp.pre_fc_norm_hidden.weight": norm_weight(64), "mtp.pre_fc_norm_embedding.weight": norm_weight(64)})
for k, v in qwen3_weights.items():
    if k.startswith("model.layers.3."):
        w["mtp.layers.0." + k[len("model.layers.3."):]] = v + 0.05 * randn(*v.shape)
save_file(w, os.path.join(src, "model.safetensors"), metadata={"format": "pt"})
cwd = os.getcwd()
try:
    os.chdir(mtp_root)
    MTPConverter().convert("source", "python-converted", "source", num_speculative_steps=2, validate=False)
    os.remove(os.path.join("python-converted", "config.py"))
    print("mtp ok")
finally:
    os.chdir(cwd)
