import Foundation

/// Reads the integer and integer-list columns of an Arrow IPC stream file, the format Hugging Face
/// `datasets` saves (`data-00000-of-00001.arrow`), which is how the Python speculators library
/// keeps its offline training rows (`input_ids`, `loss_mask`, `seq_len`).
///
/// Only what those rows need is read: a schema of signed or unsigned integer fields and lists
/// (or large lists) of them, without nulls, compression or dictionaries. Anything else is an
/// error that names the file and the field. Every offset is bounds-checked: a corrupt file is
/// an error, never a trap.
public struct ArrowStream {
    public enum Column: Equatable, Sendable {
        case integers([Int64])
        case integerLists([[Int64]])
    }

    public struct Failure: Error, CustomStringConvertible {
        public let file: String
        public let problem: String
        public var description: String { "\(file): \(problem)" }
    }

    /// Columns by field name, every record batch appended.
    public private(set) var columns: [String: Column] = [:]
    public private(set) var rowCount = 0

    public init(url: URL) throws {
        guard let data = FileManager.default.contents(atPath: url.path) else {
            throw Failure(file: url.path, problem: "cannot be read")
        }
        let bytes = [UInt8](data)
        let file = url.path
        var reader = MessageReader(bytes: bytes, file: file)
        var schema: [FieldType]?
        while let message = try reader.next() {
            switch message.headerType {
            case 1:
                schema = try FlatTable(bytes: bytes, at: message.header, file: file).vector(1).map {
                    try FieldType(FlatTable(bytes: bytes, at: $0, file: file), file: file)
                }
            case 3:
                guard let schema else { throw Failure(file: file, problem: "a record batch comes before the schema") }
                try append(batch: FlatTable(bytes: bytes, at: message.header, file: file), body: message.body,
                           schema: schema, bytes: bytes, file: file)
            case 2:
                throw Failure(file: file, problem: "dictionary-encoded columns are not supported")
            default:
                throw Failure(file: file, problem: "unexpected message type \(message.headerType)")
            }
        }
        guard schema != nil else { throw Failure(file: file, problem: "no schema message: not an Arrow stream") }
    }

    /// One field of the schema as far as these rows need it.
    struct FieldType {
        enum Kind { case integer(bytes: Int, signed: Bool), list(large: Bool, element: (bytes: Int, signed: Bool)) }
        let name: String
        let kind: Kind

        fileprivate init(_ field: FlatTable, file: String) throws {
            name = try field.string(0) ?? ""
            let typeType = try field.scalar(2, as: UInt8.self) ?? 0
            func integer(_ table: FlatTable) throws -> (Int, Bool) {
                let width = Int(try table.scalar(0, as: Int32.self) ?? 0)
                guard [8, 16, 32, 64].contains(width) else {
                    throw Failure(file: file, problem: "field '\(field.name ?? "")': integer width \(width)")
                }
                return (width / 8, (try table.scalar(1, as: UInt8.self) ?? 0) != 0)
            }
            switch typeType {
            case 2:
                let (bytes, signed) = try integer(try field.table(3))
                kind = .integer(bytes: bytes, signed: signed)
            case 12, 21:
                let children = try field.vector(5)
                guard children.count == 1 else { throw Failure(file: file, problem: "field '\(name)': a list needs one child") }
                let child = FlatTable(bytes: field.bytes, at: children[0], file: file)
                guard try child.scalar(2, as: UInt8.self) == 2 else {
                    throw Failure(file: file, problem: "field '\(name)': only lists of integers are supported")
                }
                let (bytes, signed) = try integer(try child.table(3))
                kind = .list(large: typeType == 21, element: (bytes, signed))
            default:
                throw Failure(file: file, problem: "field '\(name)': Arrow type \(typeType) is not supported (integers and lists of integers only)")
            }
        }
    }

    fileprivate mutating func append(batch: FlatTable, body: Range<Int>, schema: [FieldType], bytes: [UInt8], file: String) throws {
        guard try batch.scalar(3, as: UInt32.self) == nil else {
            throw Failure(file: file, problem: "compressed record batches are not supported")
        }
        let length = Int(try batch.scalar(0, as: Int64.self) ?? 0)
        func word(_ at: Int) -> Int { Int(Int64(bitPattern: batch.bytes.int64(at: at))) }
        let nodes = try batch.structs(1, size: 16).map { (length: word($0), nulls: word($0 + 8)) }
        let buffers = try batch.structs(2, size: 16).map { (offset: word($0), length: word($0 + 8)) }
        var nodeIndex = 0, bufferIndex = 0
        func nextNode() throws -> Int {
            guard nodeIndex < nodes.count else { throw Failure(file: file, problem: "a record batch has too few field nodes") }
            defer { nodeIndex += 1 }
            guard nodes[nodeIndex].nulls == 0 else { throw Failure(file: file, problem: "null values are not supported") }
            // No field has more values than the file has bytes (which also keeps the sizes below small).
            guard (0...bytes.count).contains(nodes[nodeIndex].length) else {
                throw Failure(file: file, problem: "a field node claims \(nodes[nodeIndex].length) values")
            }
            return nodes[nodeIndex].length
        }
        func nextBuffer() throws -> Range<Int> {
            guard bufferIndex < buffers.count else { throw Failure(file: file, problem: "a record batch has too few buffers") }
            defer { bufferIndex += 1 }
            let (offset, count) = buffers[bufferIndex]
            guard offset >= 0, count >= 0, offset <= body.count - count else {
                throw Failure(file: file, problem: "a buffer runs past the end of its record batch")
            }
            return (body.lowerBound + offset)..<(body.lowerBound + offset + count)
        }
        func integers(_ range: Range<Int>, count: Int, width: Int, signed: Bool) throws -> [Int64] {
            guard count >= 0, count <= range.count / width else { throw Failure(file: file, problem: "a value buffer is too short") }
            return (0..<count).map { bytes.integer(at: range.lowerBound + $0 * width, width: width, signed: signed) }
        }
        for field in schema {
            let count = try nextNode()
            guard count == length else { throw Failure(file: file, problem: "field '\(field.name)' has \(count) rows, the batch \(length)") }
            _ = try nextBuffer()  // validity (no nulls)
            switch field.kind {
            case let .integer(width, signed):
                let values = try integers(try nextBuffer(), count: count, width: width, signed: signed)
                if case .integers(let old)? = columns[field.name] { columns[field.name] = .integers(old + values) } else { columns[field.name] = .integers(values) }
            case let .list(large, element):
                let offsets = try integers(try nextBuffer(), count: count + 1, width: large ? 8 : 4, signed: true)
                let childCount = try nextNode()
                _ = try nextBuffer()
                let values = try integers(try nextBuffer(), count: childCount, width: element.bytes, signed: element.signed)
                var lists: [[Int64]] = []
                for row in 0..<count {
                    let start = Int(offsets[row]), end = Int(offsets[row + 1])
                    guard 0 <= start, start <= end, end <= values.count else {
                        throw Failure(file: file, problem: "field '\(field.name)': list offsets out of range at row \(row)")
                    }
                    lists.append(Array(values[start..<end]))
                }
                if case .integerLists(let old)? = columns[field.name] { columns[field.name] = .integerLists(old + lists) } else { columns[field.name] = .integerLists(lists) }
            }
        }
        rowCount += length
    }
}

/// The encapsulated messages of a stream: `0xFFFFFFFF`, the metadata length, a FlatBuffers
/// `Message`, then its body; a zero length ends the stream.
fileprivate struct MessageReader {
    struct Message { let headerType: UInt8; let header: Int; let body: Range<Int> }
    let bytes: [UInt8]
    let file: String
    var position = 0

    mutating func next() throws -> Message? {
        guard position + 4 <= bytes.count else { return nil }
        var length = Int(Int32(truncatingIfNeeded: bytes.int64(at: position, width: 4)))
        position += 4
        if length == -1 {
            guard position + 4 <= bytes.count else { return nil }
            length = Int(Int32(truncatingIfNeeded: bytes.int64(at: position, width: 4)))
            position += 4
        }
        if length == 0 { return nil }
        guard length > 0, position <= bytes.count - length else {
            throw ArrowStream.Failure(file: file, problem: "a message runs past the end of the file")
        }
        let metadata = position
        position += length
        let message = FlatTable(bytes: bytes, root: metadata, file: file)
        let table = try message.resolved()
        let headerType = try table.scalar(1, as: UInt8.self) ?? 0
        let header = try table.offsetTarget(2)
        let bodyLength = Int(try table.scalar(3, as: Int64.self) ?? 0)
        guard bodyLength >= 0, position <= bytes.count - bodyLength else {
            throw ArrowStream.Failure(file: file, problem: "a message body runs past the end of the file")
        }
        let body = position..<(position + bodyLength)
        position += bodyLength
        return Message(headerType: headerType, header: header ?? 0, body: body)
    }
}

/// A FlatBuffers table: `position` is where the table starts (its signed offset to the vtable).
fileprivate struct FlatTable {
    let bytes: [UInt8]
    let position: Int
    let file: String
    var name: String? { try? string(0) }

    init(bytes: [UInt8], at position: Int, file: String) {
        self.bytes = bytes
        self.position = position
        self.file = file
    }

    /// The root table of a buffer that starts at `root` (its first word is the offset to it).
    init(bytes: [UInt8], root: Int, file: String) {
        self.init(bytes: bytes, at: root, file: file)
    }

    func resolved() throws -> FlatTable {
        try check(position, 4)
        return FlatTable(bytes: bytes, at: position + Int(bytes.int64(at: position, width: 4)), file: file)
    }

    private func check(_ at: Int, _ count: Int) throws {
        guard at >= 0, count >= 0, at <= bytes.count - count else {
            throw ArrowStream.Failure(file: file, problem: "a schema or batch record points outside the file")
        }
    }

    /// Where field `index` is stored, or nil when the vtable leaves it out.
    private func fieldPosition(_ index: Int) throws -> Int? {
        try check(position, 4)
        let vtable = position - Int(Int32(truncatingIfNeeded: bytes.int64(at: position, width: 4)))
        try check(vtable, 4)
        let vtableSize = Int(bytes.int64(at: vtable, width: 2))
        let entry = 4 + 2 * index
        guard entry + 2 <= vtableSize else { return nil }
        try check(vtable + entry, 2)
        let offset = Int(bytes.int64(at: vtable + entry, width: 2))
        return offset == 0 ? nil : position + offset
    }

    func scalar<T: FixedWidthInteger>(_ index: Int, as type: T.Type) throws -> T? {
        guard let at = try fieldPosition(index) else { return nil }
        try check(at, MemoryLayout<T>.size)
        return T(truncatingIfNeeded: bytes.int64(at: at, width: MemoryLayout<T>.size))
    }

    /// The absolute position an offset field points to.
    func offsetTarget(_ index: Int) throws -> Int? {
        guard let at = try fieldPosition(index) else { return nil }
        try check(at, 4)
        return at + Int(bytes.int64(at: at, width: 4))
    }

    func table(_ index: Int) throws -> FlatTable {
        guard let target = try offsetTarget(index) else {
            throw ArrowStream.Failure(file: file, problem: "a required schema entry is missing")
        }
        return FlatTable(bytes: bytes, at: target, file: file)
    }

    func string(_ index: Int) throws -> String? {
        guard let target = try offsetTarget(index) else { return nil }
        try check(target, 4)
        let count = Int(bytes.int64(at: target, width: 4))
        try check(target + 4, count)
        return String(decoding: bytes[(target + 4)..<(target + 4 + count)], as: UTF8.self)
    }

    /// The table positions of a vector of tables.
    func vector(_ index: Int) throws -> [Int] {
        guard let target = try offsetTarget(index) else { return [] }
        try check(target, 4)
        let count = Int(bytes.int64(at: target, width: 4))
        try check(target + 4, count * 4)
        return (0..<count).map { target + 4 + 4 * $0 + Int(bytes.int64(at: target + 4 + 4 * $0, width: 4)) }
    }

    /// The positions of a vector of structs of `size` bytes.
    func structs(_ index: Int, size: Int) throws -> [Int] {
        guard let target = try offsetTarget(index) else { return [] }
        try check(target, 4)
        let count = Int(bytes.int64(at: target, width: 4))
        try check(target + 4, count * size)
        return (0..<count).map { target + 4 + size * $0 }
    }
}

private extension Array where Element == UInt8 {
    /// The little-endian unsigned integer of `width` bytes at `at` (callers check the bounds).
    func int64(at: Int, width: Int = 8) -> UInt64 {
        var value: UInt64 = 0
        for i in 0..<width { value |= UInt64(self[at + i]) << (8 * i) }
        return value
    }

    func integer(at: Int, width: Int, signed: Bool) -> Int64 {
        let raw = int64(at: at, width: width)
        guard signed, width < 8 else { return Int64(bitPattern: raw) }
        let shift = UInt64(64 - 8 * width)
        return Int64(bitPattern: raw << shift) >> Int64(shift)
    }
}
