import Foundation

/// The fuzz harnesses, one per kind of untrusted input.
enum Harness: String, CaseIterable {
    /// Raw bytes into the HTTP/1.1 request parser, whole and cut into pieces the input chooses:
    /// the events must not depend on the cutting.
    case http
    /// A JSON body for /v1/completions, /v1/chat/completions, /tokenize and /detokenize, decoded
    /// and validated as the server does before any model work.
    case request
    /// A posted speculator config.json, validated as POST /v1/speculators/validate does.
    case config
    /// A GGUF file, opened and loaded as a verifier with its tokenizer and quantised blocks.
    case gguf
    /// An EAGLE-3 draft's model.safetensors, opened, read tensor by tensor, and loaded against
    /// the tiny verifier.
    case safetensors
    /// An EAGLE-3 draft's config.json, loaded with the fixture weights against the tiny verifier.
    case draft
    /// A research EAGLE-3 checkpoint with a corrupt config or weights file, converted; what the
    /// conversion writes must validate and load.
    case convert
    /// Text and token ids through the SmolLM2 tokenizer: encoding then decoding gives the text
    /// back (less the bytes it has no token for), and streaming detokenisation gives what
    /// decoding the whole sequence gives.
    case tokenizer
    /// A JSON body or raw bytes sent over a real socket to a live server on the tiny models: the
    /// answer must be a well-formed success or an OpenAI error, never a 500 or a dropped
    /// connection; greedy answers equal a draftless server's, seeded ones reproduce.
    case server

    func run(_ input: [UInt8]) {
        switch self {
        case .http: HTTPParserHarness.run(input)
        case .request: RequestHarness.run(input)
        case .config: ConfigHarness.run(input)
        case .gguf: CheckpointHarness.runGGUF(input)
        case .safetensors: CheckpointHarness.runSafetensors(input)
        case .draft: CheckpointHarness.runDraftConfig(input)
        case .convert: ConversionHarness.run(input)
        case .tokenizer: TokenizerHarness.run(input)
        case .server: ServerHarness.run(input)
        }
    }
}

/// Files the harnesses start from: the test fixtures of this repository.
enum FuzzFixtures {
    /// `SPECULATORS_FUZZ_VERBOSE=1`: harnesses print what each input got (to check a harness).
    static let verbose = ProcessInfo.processInfo.environment["SPECULATORS_FUZZ_VERBOSE"] != nil

    static let repository: URL = {
        if let root = ProcessInfo.processInfo.environment["SPECULATORS_ROOT"] { return URL(fileURLWithPath: root) }
        // Sources/SpeculatorsFuzz/Harness.swift → the repository root.
        return URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    }()

    static func tests(_ path: String) -> URL { repository.appendingPathComponent("Tests").appendingPathComponent(path) }

    /// A folder `name` in `scratch` holding a fresh copy of `fixture`'s file `file`; a harness
    /// writes each input beside it as the folder's other file.
    static func scratchFolder(_ name: String, holding file: String, from fixture: URL) -> URL {
        let folder = scratch.appendingPathComponent(name)
        try? FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        try? FileManager.default.removeItem(at: folder.appendingPathComponent(file))
        try? FileManager.default.copyItem(at: fixture.appendingPathComponent(file), to: folder.appendingPathComponent(file))
        return folder
    }

    /// A scratch folder of this process (in /dev/shm when there is one: the checkpoint harnesses
    /// write a file per input).
    static let scratch: URL = {
        let base = FileManager.default.fileExists(atPath: "/dev/shm") ? "/dev/shm" : NSTemporaryDirectory()
        let url = URL(fileURLWithPath: base).appendingPathComponent("speculators-fuzz-\(getpid())")
        try? FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }()
}
