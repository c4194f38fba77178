/// A typed GGUF metadata value, exactly as stored (integer widths and signedness are kept).
public enum GGUFValue: Sendable, Equatable {
    case uint8(UInt8), int8(Int8), uint16(UInt16), int16(Int16), uint32(UInt32), int32(Int32)
    case uint64(UInt64), int64(Int64)
    case float32(Float), float64(Double)
    case bool(Bool)
    case string(String)
    /// Arrays may hold any value type, including arrays.
    case array([GGUFValue])

    /// Any integer value that fits in Int.
    public var intValue: Int? {
        switch self {
        case let .uint8(value): return Int(value)
        case let .int8(value): return Int(value)
        case let .uint16(value): return Int(value)
        case let .int16(value): return Int(value)
        case let .uint32(value): return Int(value)
        case let .int32(value): return Int(value)
        case let .uint64(value): return Int(exactly: value)
        case let .int64(value): return Int(value)
        default: return nil
        }
    }

    /// A float value, or an integer value converted.
    public var doubleValue: Double? {
        switch self {
        case let .float32(value): return Double(value)
        case let .float64(value): return value
        default: return intValue.map(Double.init)
        }
    }

    public var boolValue: Bool? { if case let .bool(value) = self { return value } else { return nil } }
    public var stringValue: String? { if case let .string(value) = self { return value } else { return nil } }
    public var arrayValue: [GGUFValue]? { if case let .array(value) = self { return value } else { return nil } }

    /// An array whose elements are all strings.
    public var stringArray: [String]? {
        guard let elements = arrayValue else { return nil }
        var result: [String] = []
        result.reserveCapacity(elements.count)
        for element in elements {
            guard case let .string(text) = element else { return nil }
            result.append(text)
        }
        return result
    }

    /// The GGUF type name, for error messages.
    public var typeName: String {
        switch self {
        case .uint8: return "uint8"
        case .int8: return "int8"
        case .uint16: return "uint16"
        case .int16: return "int16"
        case .uint32: return "uint32"
        case .int32: return "int32"
        case .uint64: return "uint64"
        case .int64: return "int64"
        case .float32: return "float32"
        case .float64: return "float64"
        case .bool: return "bool"
        case .string: return "string"
        case let .array(elements): return "array[\(elements.first?.typeName ?? "")] of \(elements.count)"
        }
    }

    /// Scalars as text (what `TensorSource.metadata` shows); nil for arrays.
    var scalarText: String? {
        switch self {
        case let .string(text): return text
        case let .bool(flag): return flag ? "true" : "false"
        case let .float32(value): return "\(value)"
        case let .float64(value): return "\(value)"
        case .array: return nil
        default: return intValue.map { String($0) } ?? {
            if case let .uint64(value) = self { return String(value) } else { return nil }
        }()
        }
    }
}
