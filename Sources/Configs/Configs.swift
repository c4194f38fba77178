// The Configs module: speculator `config.json` files, as the Python `speculators` library
// (0.9.0) reads and writes them. Foundation only; no numerics.
//
// Where things are:
//   JSON/           JSONValue (ints apart from floats, ordered keys), a parser like json.loads,
//                   and a writer that reproduces json.dumps byte for byte (Python float repr).
//   Fields/         ConfigField and ConfigModel: each config type lists its fields once; decoding,
//                   lax coercion, validation, encoding and the JSON Schema are driven by that list.
//   Validation/     issues (path, value, rule, message), rules, the report, and
//                   SpeculatorConfigValidator, the entry point for the CLI and the server.
//   Proposals/      TokenProposalConfig, its registry, and the `greedy` proposal.
//   Speculators/    the base SpeculatorModelConfig, SpeculatorsConfig, VerifierConfig, the model-type
//                   registry, and reading/writing a speculator folder's config.json.
//   SpeculatorTypes/ one file per registered type: eagle3, peagle, dflash, dflash2, dspark, mtp, xpress.
//   LayerConfig/    transformer_layer_config: transformers class defaults and both RoPE spellings.
//   Schema/         the JSON Schema (draft 2020-12) of the whole registry.
//
// Typical use:
//   let config = try SpeculatorModelConfig.load(from: folder)        // any registered type
//   let eagle = try Eagle3SpeculatorConfig.load(from: folder)        // or a specific one
//   let report = SpeculatorConfigValidator.validate(data: body)      // errors + warnings, never throws
//   try eagle.save(toFolder: out)                                    // byte-identical to the library
