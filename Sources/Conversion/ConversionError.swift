/// Why a conversion failed. Every case names the file, tensor or key involved, so the message
/// alone tells the user what to fix.
public enum ConversionError: Error, CustomStringConvertible, Sendable, Equatable {
    /// The source or verifier path does not exist (hub ids cannot be downloaded here).
    case notFound(path: String, what: String)
    /// A folder lacks a file the conversion needs (`config.json`, weights).
    case missingFile(path: String, problem: String)
    /// A config key has a value the conversion cannot use.
    case invalidKey(file: String, key: String, problem: String)
    /// A source tensor the output model has no place for: conversion never drops a tensor.
    case unplacedTensors(file: String, names: [String], hint: String)
    /// A tensor the output model needs is absent from the source.
    case missingTensor(file: String, tensor: String, problem: String)
    /// A tensor exists but cannot be used as it is (shape, dtype, contents).
    case invalidTensor(file: String, tensor: String, problem: String)
    /// A converter option (`--algorithm-kwargs` key, `--dtype`, ...) is wrong.
    case invalidOption(key: String, problem: String)
    /// `--algorithm` names a converter that does not exist or is not implemented here.
    case unsupportedAlgorithm(name: String, supported: [String])
    /// The converted folder failed to load (`--validate`).
    case validationFailed(path: String, problem: String)
    /// The output could not be written.
    case writeFailed(path: String, problem: String)

    public var description: String {
        switch self {
        case let .notFound(path, what):
            return "\(what) not found: \(path) (only local paths are supported; download hub models first)"
        case let .missingFile(path, problem):
            return "\(path): \(problem)"
        case let .invalidKey(file, key, problem):
            return "\(file): key '\(key)' \(problem)"
        case let .unplacedTensors(file, names, hint):
            let list = names.count > 12 ? names.prefix(12).joined(separator: ", ") + ", … (\(names.count) in all)"
                                        : names.joined(separator: ", ")
            return "\(file): no place in the converted model for tensor\(names.count == 1 ? "" : "s") \(list)"
                + (hint.isEmpty ? "" : " (\(hint))")
        case let .missingTensor(file, tensor, problem):
            return "\(file): tensor '\(tensor)' is missing: \(problem)"
        case let .invalidTensor(file, tensor, problem):
            return "\(file): tensor '\(tensor)' \(problem)"
        case let .invalidOption(key, problem):
            return "option '\(key)' \(problem)"
        case let .unsupportedAlgorithm(name, supported):
            return "unsupported algorithm '\(name)'; supported: " + supported.joined(separator: ", ")
        case let .validationFailed(path, problem):
            return "\(path): the converted checkpoint does not load: \(problem)"
        case let .writeFailed(path, problem):
            return "cannot write \(path): \(problem)"
        }
    }
}
