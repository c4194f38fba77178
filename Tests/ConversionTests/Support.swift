import Checkpoints
import Conversion
import Foundation
import Models
import Tensors
import Testing

/// The fixtures beside this file (see Fixtures/README.md) and scratch folders.
enum Fixtures {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures")
    static let verifierFolder = root.appendingPathComponent("tiny-llama")
    static func research(_ variant: String) -> URL { root.appendingPathComponent("research/\(variant)") }
    static func reference(_ variant: String) -> URL { root.appendingPathComponent("reference/\(variant)") }
    static func pythonConverted(_ variant: String) throws -> [String: Any] {
        let data = try Data(contentsOf: root.appendingPathComponent("python-converted/\(variant).json"))
        return try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
    }

    /// The converter options the Python golden of `variant` was made with.
    static func pythonOptions(_ variant: String) throws -> Eagle3ConversionOptions {
        let kwargs = try #require(try pythonConverted(variant)["kwargs"])
        let text = try #require(String(data: try JSONSerialization.data(withJSONObject: kwargs), encoding: .utf8))
        return try Eagle3ConversionOptions(algorithmKwargs: text)
    }

    static let pool = ThreadPool(threadCount: 2)
    /// Serialises use of the shared `verifier` (see `draftLogits`).
    static let verifierLock = NSLock()
    static let verifier: TransformerModel? = try? TransformerModel.load(from: verifierFolder)

    /// The tiny-llama summary, recorded under the relative name the Python goldens used.
    static func verifierSummary() throws -> VerifierSummary {
        try VerifierSummary(path: verifierFolder.path, recordedName: "tiny-llama")
    }

    /// The parent of every scratch folder; the previous run's is removed on first use.
    static let scratchRoot: URL = {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("speculators-conversion-tests")
        try? FileManager.default.removeItem(at: url)
        return url
    }()

    /// A fresh empty folder under the temporary directory.
    static func scratch(_ label: String = "conversion") throws -> URL {
        let url = scratchRoot.appendingPathComponent("\(label)-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }
}

/// One stored tensor, read back to the values a test may edit.
enum StoredTensor {
    case floats(TensorDataType, [Int], [Float])
    case int64([Int], [Int64])
    case bool([Int], [Bool])
}

/// Reads every tensor of a safetensors file.
func readTensors(_ file: URL) throws -> [String: StoredTensor] {
    let source = try SafetensorsFile(url: file)
    var tensors: [String: StoredTensor] = [:]
    for name in source.tensorNames {
        let info = try source.requireInfo(name)
        switch info.dataType {
        case .i64, .i32: tensors[name] = .int64(info.shape, try source.loadInt64(name))
        case .bool: tensors[name] = .bool(info.shape, try source.loadBool(name))
        default: tensors[name] = .floats(info.dataType, info.shape, try source.loadFloat32(name).array)
        }
    }
    return tensors
}

func writeTensors(_ tensors: [String: StoredTensor], to file: URL) throws {
    var writer = SafetensorsWriter()
    for (name, tensor) in tensors {
        switch tensor {
        case let .floats(type, shape, values): try writer.add(name, dataType: type, shape: shape, values: values)
        case let .int64(shape, values): try writer.add(name, shape: shape, int64: values)
        case let .bool(shape, values): try writer.add(name, shape: shape, bool: values)
        }
    }
    try writer.write(to: file)
}

/// A copy of a research fixture with its tensors and config edited.
func mutatedResearch(_ variant: String, tensors edit: (inout [String: StoredTensor]) -> Void = { _ in },
                     config editConfig: (inout [String: Any]) -> Void = { _ in }) throws -> URL {
    let folder = try Fixtures.scratch("research-\(variant)")
    var tensors = try readTensors(Fixtures.research(variant).appendingPathComponent("model.safetensors"))
    edit(&tensors)
    try writeTensors(tensors, to: folder.appendingPathComponent("model.safetensors"))
    let configData = try Data(contentsOf: Fixtures.research(variant).appendingPathComponent("config.json"))
    var config = try #require(try JSONSerialization.jsonObject(with: configData) as? [String: Any])
    editConfig(&config)
    try JSONSerialization.data(withJSONObject: config, options: [.sortedKeys]).write(to: folder.appendingPathComponent("config.json"))
    return folder
}

/// Draft logits of a fixed 12-token context pass and two chain steps, concatenated: enough to
/// exercise fc (and its norms), every layer, the head and the fed-back hidden state.
func draftLogits(_ draft: Eagle3DraftModel, verifier: TransformerModel) throws -> [Float] {
    let ids = [5, 17, 42, 99, 3, 250, 7, 64, 128, 11, 300, 2]
    // The verifier is shared by tests running in parallel and its outputs live until its next
    // forward, so the forward and the copy of its features happen under one lock.
    Fixtures.verifierLock.lock()
    defer { Fixtures.verifierLock.unlock() }
    let verifierOutput = try verifier.forward([.init(cache: try verifier.makeCache(), tokens: ids, logits: .last)],
                                              auxiliaryLayers: draft.config.auxiliaryLayerIds, pool: Fixtures.pool)
    let features = try #require(verifierOutput.auxiliary)
    let width = verifierOutput.auxiliaryWidth
    let featureCopy = Array(UnsafeBufferPointer(start: features, count: ids.count * width))
    let cache = try draft.makeCache(capacity: 64)
    let tokens = Array(ids.dropFirst()) + [1]
    let vd = draft.config.draftVocabSize, h = draft.hiddenSize
    var logits: [Float] = []
    let context = try featureCopy.withUnsafeBufferPointer { buffer in
        try draft.forward([.init(cache: cache, tokens: tokens, logits: .all)],
                          hidden: .verifierFeatures(try #require(buffer.baseAddress)), pool: Fixtures.pool)
    }
    logits += Array(UnsafeBufferPointer(start: context.logits, count: tokens.count * vd))
    var hidden = Array(UnsafeBufferPointer(start: context.nextHidden + (tokens.count - 1) * h, count: h))
    var token = context.proposedTokens[tokens.count - 1]
    for _ in 0..<2 {
        let step = try hidden.withUnsafeBufferPointer { buffer in
            try draft.forward([.init(cache: cache, tokens: [token], logits: .last)],
                              hidden: .draftHidden(try #require(buffer.baseAddress)), pool: Fixtures.pool)
        }
        logits += Array(UnsafeBufferPointer(start: step.logits, count: vd))
        hidden = Array(UnsafeBufferPointer(start: step.nextHidden, count: h))
        token = step.proposedTokens[0]
    }
    return logits
}

/// float32 → bfloat16 → float32 with round-to-nearest-even (what torch's `.to(bfloat16)` does).
func bf16Rounded(_ value: Float) -> Float {
    let bits = value.bitPattern
    let rounded = (bits &+ 0x7FFF &+ ((bits >> 16) & 1)) & 0xFFFF_0000
    return Float(bitPattern: rounded)
}

/// Expects two logit vectors to be identical bit for bit, reporting only a summary when not.
func expectIdentical(_ actual: [Float], _ expected: [Float], _ what: String, sourceLocation: SourceLocation = #_sourceLocation) {
    #expect(actual.count == expected.count, "\(what): \(actual.count) values, expected \(expected.count)", sourceLocation: sourceLocation)
    let differing = zip(actual, expected).filter { $0.bitPattern != $1.bitPattern }
    let worst = differing.map { abs($0 - $1) }.max() ?? 0
    let differingCount = differing.count
    #expect(differingCount == 0, "\(what): \(differingCount) of \(actual.count) values differ (worst by \(worst))",
            sourceLocation: sourceLocation)
}
