import Foundation
import Models
import Tensors
import Testing

/// Locates and decodes the test fixtures that live beside this file.
enum Fixtures {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures")

    static func folder(_ name: String) -> URL { root.appendingPathComponent(name) }

    static func expected(_ name: String) throws -> [String: Any] {
        let data = try Data(contentsOf: folder(name).appendingPathComponent("expected.json"))
        return try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
    }

    static let pool = ThreadPool(threadCount: 2)
}

/// Numeric views of JSON values.
func floats(_ value: Any?) -> [Float] { (value as? [Any])?.compactMap { ($0 as? NSNumber)?.floatValue } ?? [] }
func ints(_ value: Any?) -> [Int] { (value as? [Any])?.compactMap { ($0 as? NSNumber)?.intValue } ?? [] }

/// The tolerance of the tiny fixtures: |a - b| <= 1e-4 + 1e-4·|b|.
func expectClose(_ actual: [Float], _ expected: [Float], absolute: Float = 1e-4, relative: Float = 1e-4,
                 _ what: String, sourceLocation: SourceLocation = #_sourceLocation) {
    #expect(actual.count == expected.count, "\(what): \(actual.count) values, expected \(expected.count)",
            sourceLocation: sourceLocation)
    var worst: Float = 0
    var worstIndex = -1
    for (index, (a, b)) in zip(actual, expected).enumerated() {
        let excess = abs(a - b) - (absolute + relative * abs(b))
        if excess > worst { worst = excess; worstIndex = index }
    }
    #expect(worstIndex < 0, "\(what): index \(worstIndex) is \(worstIndex < 0 ? 0 : actual[worstIndex]), expected \(worstIndex < 0 ? 0 : expected[worstIndex])",
            sourceLocation: sourceLocation)
}

func rowArray(_ pointer: UnsafePointer<Float>, _ count: Int) -> [Float] {
    Array(UnsafeBufferPointer(start: pointer, count: count))
}
