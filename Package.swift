// swift-tools-version:6.1
// Speculators for Swift: EAGLE-3 speculative decoding on the CPU.
//
// Dependencies point one way:
//   Tensors <- Checkpoints <- Models <- Engine <- Server
//   Configs is a leaf; Tokenizers sits beside Models; HTTP knows nothing of models.
import PackageDescription

/// Numeric targets are compiled for AVX2 + FMA (`haswell`, every x86-64 server since 2013): the
/// SIMD kernels need 8-lane fused multiply-adds to reach memory bandwidth. (The decode and
/// verification product, in CMatmul, also has AVX-512 code chosen at run time.)
let optimised: [SwiftSetting] = [
    .unsafeFlags(["-Ounchecked", "-wmo", "-target-cpu", "haswell"], .when(configuration: .release)),
]

let package = Package(
    name: "Speculators",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "speculators", targets: ["SpeculatorsCLI"]),
        .executable(name: "speculators-fuzz", targets: ["SpeculatorsFuzz"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.6.0"),
    ],
    targets: [
        // System libraries (installed by `make deps`).
        .systemLibrary(name: "CBLAS", path: "Sources/CBLAS"),
        .systemLibrary(name: "CZlib", path: "Sources/CZlib"),
        // The C kernels: the batch-invariant matrix product and decode attention (AVX-512, AVX2 and
        // portable variants chosen at run time) and the bfloat16 GEMM training uses (AVX-512 BF16
        // intrinsics, which Swift does not expose). Always optimised: the tests run them too.
        .target(name: "CMatmul", path: "Sources/CMatmul", cSettings: [.unsafeFlags(["-O3"])]),

        // Numerics: buffers, BLAS-backed kernels, the thread pool.
        .target(name: "Tensors", dependencies: ["CBLAS", "CMatmul"], swiftSettings: optimised),
        // File formats: safetensors, GGUF, dequantisation, the tensor-name table.
        .target(name: "Checkpoints", dependencies: ["Tensors"], swiftSettings: optimised),
        // Speculator config.json: typed configs, registries, validation, schema. No numerics.
        .target(name: "Configs"),
        // Byte-level BPE tokenizers (tokenizer.json or GGUF vocab) and chat templates.
        .target(name: "Tokenizers", swiftSettings: optimised),
        // Verifier transformers and the EAGLE-3 draft: one file per architecture.
        .target(name: "Models", dependencies: ["Tensors", "Checkpoints", "Configs"], swiftSettings: optimised),
        // Sampling, speculative decoding, batching, the scheduler.
        .target(name: "Engine", dependencies: ["Models", "Checkpoints", "Tokenizers", "Configs",
                                               .product(name: "Logging", package: "swift-log")],
                swiftSettings: optimised),
        // HTTP/1.1 on sockets with Foundation and Dispatch: parser, connections, responses.
        .target(name: "HTTP", dependencies: [.product(name: "Logging", package: "swift-log")]),
        // The inference service: routes, OpenAI schema, metrics, registry endpoints.
        .target(name: "Server", dependencies: ["Engine", "HTTP", "Configs",
                                               .product(name: "Logging", package: "swift-log")]),
        // Research-checkpoint conversion into the speculators format.
        .target(name: "Conversion", dependencies: ["Checkpoints", "Configs", "Models"], swiftSettings: optimised),
        // Data generation, vocabulary mapping and EAGLE-3 training.
        .target(name: "Training", dependencies: ["Engine", "Models", "Checkpoints", "Configs", "Tokenizers", "CZlib",
                                                 .product(name: "Logging", package: "swift-log")],
                swiftSettings: optimised),
        .executableTarget(
            name: "SpeculatorsCLI",
            dependencies: ["Server", "Engine", "Training", "Conversion", "Configs", "Checkpoints", "Models", "Tokenizers",
                           .product(name: "ArgumentParser", package: "swift-argument-parser"),
                           .product(name: "Logging", package: "swift-log")],
            swiftSettings: optimised),

        // libFuzzer harnesses for every reader of untrusted bytes (scripts/fuzz/run.sh); built
        // normally, a driver that replays saved inputs (the regression corpus in Tests/Fuzz).
        .executableTarget(
            name: "SpeculatorsFuzz",
            dependencies: ["Server", "HTTP", "Engine", "Models", "Checkpoints", "Configs", "Tokenizers", "Tensors", "Conversion",
                           .product(name: "Logging", package: "swift-log")]),

        .testTarget(name: "TensorsTests", dependencies: ["Tensors"]),
        .testTarget(name: "CheckpointsTests", dependencies: ["Checkpoints", "Tensors"], exclude: ["Fixtures"]),
        .testTarget(name: "ConfigsTests", dependencies: ["Configs"], exclude: ["Fixtures"]),
        .testTarget(name: "TokenizersTests", dependencies: ["Tokenizers"], exclude: ["Fixtures"]),
        .testTarget(name: "ModelsTests", dependencies: ["Models", "Checkpoints", "Tensors"], exclude: ["Fixtures"]),
        // Counts a thread's heap allocations (it replaces the test executable's malloc family).
        .target(name: "AllocationCounter", path: "Tests/Support/AllocationCounter"),
        .testTarget(name: "EngineTests", dependencies: ["Engine", "Models", "AllocationCounter"], exclude: ["Fixtures"]),
        .testTarget(name: "HTTPTests", dependencies: ["HTTP"], exclude: ["Fixtures"]),
        .testTarget(name: "ServerTests", dependencies: ["Server", "HTTP"], exclude: ["Fixtures"]),
        .testTarget(name: "ConversionTests", dependencies: ["Conversion", "Models", "Checkpoints", "Configs"], exclude: ["Fixtures"]),
        .testTarget(name: "TrainingTests", dependencies: ["Training"], exclude: ["Fixtures"]),
    ]
)
