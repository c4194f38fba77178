import Foundation
import Testing

/// Locates test data relative to this file, so tests never depend on the working directory.
enum Fixtures {
    static let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures")
    /// The package root (…/Tests/CheckpointsTests/Fixtures.swift → three levels up).
    static let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent()

    static func url(_ relative: String) -> URL { directory.appendingPathComponent(relative) }

    static func data(_ relative: String) throws -> Data { try Data(contentsOf: url(relative)) }

    static func decode<T: Decodable>(_ type: T.Type, _ relative: String) throws -> T {
        try JSONDecoder().decode(type, from: data(relative))
    }

    /// A fresh empty folder under the system temporary directory.
    static func temporaryFolder() throws -> URL {
        let folder = FileManager.default.temporaryDirectory
            .appendingPathComponent("checkpoints-tests-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        return folder
    }
}

/// `safetensors-expected.json`: what the Python reader sees in each fixture file.
struct ExpectedSafetensors: Decodable {
    struct Tensor: Decodable {
        let dtype: String
        let shape: [Int]
        let sum: Double?
        let first: [FloatOrBool]?
        let last: Double?
        let values: [Int64]?
        let true_count: Int?
    }

    /// `first` holds floats for float tensors and booleans for BOOL tensors.
    enum FloatOrBool: Decodable {
        case number(Double)
        case flag(Bool)
        init(from decoder: Decoder) throws {
            let container = try decoder.singleValueContainer()
            if let flag = try? container.decode(Bool.self) { self = .flag(flag) } else { self = .number(try container.decode(Double.self)) }
        }
        var number: Double? { if case let .number(value) = self { return value } else { return nil } }
        var flag: Bool? { if case let .flag(value) = self { return value } else { return nil } }
    }

    let metadata: [String: String]
    let tensors: [String: Tensor]
}

/// Reads the 8-byte length and JSON header of a safetensors file and rebuilds files with an edited header.
enum HeaderSurgery {
    static func split(_ data: Data) -> (header: [String: Any], body: Data) {
        let length = Int(data.prefix(8).withUnsafeBytes { $0.loadUnaligned(as: UInt64.self) })
        let json = data.subdata(in: 8..<(8 + length))
        let header = (try? JSONSerialization.jsonObject(with: json)) as? [String: Any] ?? [:]
        return (header, data.subdata(in: (8 + length)..<data.count))
    }

    static func join(_ header: [String: Any], _ body: Data) throws -> Data {
        var json = try JSONSerialization.data(withJSONObject: header)
        while json.count % 8 != 0 { json.append(0x20) }
        var out = Data()
        withUnsafeBytes(of: UInt64(json.count).littleEndian) { out.append(contentsOf: $0) }
        return out + json + body
    }

    /// The file with `edit` applied to its parsed header.
    static func edited(_ data: Data, _ edit: (inout [String: Any]) -> Void) throws -> Data {
        var (header, body) = split(data)
        edit(&header)
        return try join(header, body)
    }

    /// Name and [begin, end] of every tensor in a header, in offset order.
    static func layout(_ header: [String: Any]) -> [(name: String, begin: Int, end: Int)] {
        header.compactMap { name, value -> (name: String, begin: Int, end: Int)? in
            guard let entry = value as? [String: Any], let offsets = entry["data_offsets"] as? [Int] else { return nil }
            return (name, offsets[0], offsets[1])
        }.sorted { ($0.begin, $0.end) < ($1.begin, $1.end) }
    }
}
