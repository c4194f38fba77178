import Configs
import Conversion
import Foundation
import Models

/// `speculators convert` on a corrupt research EAGLE-3 checkpoint: the first byte chooses
/// whether the input replaces the fixture's `config.json` (even) or its `model.safetensors`
/// (odd). Oracles: conversion succeeds or throws a `ConversionError`, never traps; and whatever
/// it writes is a speculator we serve: its config validates and the draft loads against the
/// verifier it was converted for.
enum ConversionHarness {
    static let fixtures = FuzzFixtures.tests("ConversionTests/Fixtures")
    static let verifierFolder = fixtures.appendingPathComponent("tiny-llama")
    static let verifierSummary: VerifierSummary? = try? VerifierSummary(path: verifierFolder.path)
    static let verifier: TransformerModel? = try? TransformerModel.load(from: verifierFolder)

    /// A copy of the research checkpoint whose files the inputs replace.
    static let source: URL = {
        let folder = FuzzFixtures.scratch.appendingPathComponent("research")
        try? FileManager.default.removeItem(at: folder)
        try? FileManager.default.copyItem(at: fixtures.appendingPathComponent("research/single"), to: folder)
        return folder
    }()
    static let output = FuzzFixtures.scratch.appendingPathComponent("converted")
    static let pristine = fixtures.appendingPathComponent("research/single")

    static func run(_ input: [UInt8]) {
        guard let selector = input.first, let verifierSummary, let verifier else { return }
        let replaced = selector & 1 == 0 ? "config.json" : "model.safetensors"
        let kept = selector & 1 == 0 ? "model.safetensors" : "config.json"
        let fileManager = FileManager.default
        try? fileManager.removeItem(at: source.appendingPathComponent(kept))
        try? fileManager.copyItem(at: pristine.appendingPathComponent(kept), to: source.appendingPathComponent(kept))
        guard (try? Data(input.dropFirst()).write(to: source.appendingPathComponent(replaced))) != nil else { return }
        try? fileManager.removeItem(at: output)
        do throws(ConversionError) {
            try SpeculatorConverter.convert(model: source.path, verifier: verifierSummary, algorithm: "eagle3",
                                            outputPath: output.path)
        } catch {
            if FuzzFixtures.verbose { print("convert: \(error.description.prefix(160))") }
            return
        }
        if FuzzFixtures.verbose { print("convert: converted; checking the output") }
        let configFile = output.appendingPathComponent("config.json")
        let report = SpeculatorConfigValidator.validate(data: (try? Data(contentsOf: configFile)) ?? Data(),
                                                        source: configFile.path, verifierLayerCount: verifier.config.layerCount)
        if !report.isValid { oracleFailure("convert wrote a config that does not validate: \(report.errors)", input: input) }
        do {
            _ = try SpeculatorModelRegistry.load(folder: output, verifier: verifier)
        } catch {
            oracleFailure("convert wrote a draft that does not load: \(error)", input: input)
        }
    }
}
