import Checkpoints
import Configs
import Foundation
import Models

/// One tensor of a converted checkpoint: its speculators name, shape and where its values come from.
public struct ConvertedTensor: Sendable, Equatable {
    public enum Origin: Sendable, Equatable {
        /// A float tensor of the source, cast to the output dtype.
        case floats(source: String)
        /// Rows `rows` of a float source tensor (a fused projection split into its parts).
        case floatRows(source: String, rows: Range<Int>)
        /// Several float source tensors laid end to end (per-expert MoE weights fused into one).
        case concatenation([String])
        /// An integer tensor of the source, widened to I64 (`d2t`).
        case int64(source: String)
        /// A BOOL tensor of the source (`t2d`).
        case bool(source: String)
        /// `d2t` derived from the source's `t2d`.
        case derivedOffsets([Int64])
        /// `t2d` derived from the source's `d2t`.
        case derivedMask([Bool])
    }

    /// The speculators name.
    public let name: String
    public let shape: [Int]
    public let origin: Origin

    public init(name: String, shape: [Int], origin: Origin) {
        self.name = name
        self.shape = shape
        self.origin = origin
    }
}

/// Everything a conversion will write, decided before any tensor data is read: the speculators
/// config and, for every output tensor, where it comes from. Building the plan is where every rule
/// of convert.md §4 is checked; `Eagle3Converter.write` only moves bytes.
public struct Eagle3ConversionPlan: Sendable {
    public typealias Origin = ConvertedTensor.Origin
    public typealias Entry = ConvertedTensor

    public let config: Eagle3SpeculatorConfig
    /// The numbers our loader derives from `config` for the verifier summarised at planning time.
    public let draftConfig: Eagle3DraftConfig
    /// Output tensors, sorted by name.
    public let entries: [Entry]
    /// The dtype floats are written in (F32, BF16 or F16).
    public let floatType: TensorDataType
    /// Decisions a user should know about (derived values, overridden source flags).
    public let notes: [String]
    /// The opened source weights.
    public let weights: TensorSource
}

/// The dtype names `torch_dtype` / `--dtype` accept, and the safetensors type each is written as.
public enum FloatDType {
    public static let names: [String: TensorDataType] = [
        "float32": .f32, "float": .f32, "fp32": .f32, "f32": .f32,
        "bfloat16": .bf16, "bf16": .bf16,
        "float16": .f16, "half": .f16, "fp16": .f16, "f16": .f16,
    ]

    /// The torch spelling written into `config.json`.
    public static func torchName(_ type: TensorDataType) -> String {
        switch type {
        case .bf16: return "bfloat16"
        case .f16: return "float16"
        default: return "float32"
        }
    }

    public static func parse(_ name: String, key: String, file: String?) throws(ConversionError) -> TensorDataType {
        guard let type = names[name.lowercased()] else {
            let problem = "names an unsupported dtype '\(name)' (use float32, bfloat16 or float16)"
            if let file { throw ConversionError.invalidKey(file: file, key: key, problem: problem) }
            throw ConversionError.invalidOption(key: key, problem: problem)
        }
        return type
    }
}
