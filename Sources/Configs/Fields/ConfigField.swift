/// One key of a config object: its JSON name, shape, whether it is required, its documentation,
/// and how to move its value between JSON and the Swift property it lives in.
///
/// Each config type lists its fields once (`static var fields`). Decoding, validation, encoding
/// and the JSON Schema are all driven by that list. A field's default is the value its Swift
/// property has in the type's `init()`, read back through `encode`, so it too has one source.
public struct ConfigField<Root>: Sendable {
    public let name: String
    public let shape: FieldShape
    public let isRequired: Bool
    public let doc: String
    let decodeValue: @Sendable (inout Root, JSONValue, JSONPath, inout IssueCollector) -> Void
    let encodeValue: @Sendable (Root) -> JSONValue

    init(name: String, shape: FieldShape, isRequired: Bool, doc: String,
         decode: @escaping @Sendable (inout Root, JSONValue, JSONPath, inout IssueCollector) -> Void,
         encode: @escaping @Sendable (Root) -> JSONValue) {
        self.name = name
        self.shape = shape
        self.isRequired = isRequired
        self.doc = doc
        self.decodeValue = decode
        self.encodeValue = encode
    }

    /// The same field for a type that stores `Root` at `keyPath`.
    func lifted<Outer>(_ keyPath: WritableKeyPath<Outer, Root> & Sendable) -> ConfigField<Outer> {
        let decode = decodeValue
        let encode = encodeValue
        return ConfigField<Outer>(name: name, shape: shape, isRequired: isRequired, doc: doc,
            decode: { outer, value, path, issues in decode(&outer[keyPath: keyPath], value, path, &issues) },
            encode: { outer in encode(outer[keyPath: keyPath]) })
    }

    /// The same field with another documentation string (for subclasses that reword a field).
    func documented(_ newDoc: String) -> ConfigField<Root> {
        ConfigField(name: name, shape: shape, isRequired: isRequired, doc: newDoc, decode: decodeValue, encode: encodeValue)
    }
}

// MARK: - Field constructors, one per kind of Swift property.

extension ConfigField {
    typealias Path<Value> = WritableKeyPath<Root, Value> & Sendable

    private static func below(_ minimum: Int?, _ value: Int, _ input: JSONValue, _ path: JSONPath, _ issues: inout IssueCollector) -> Bool {
        guard let minimum, value < minimum else { return false }
        issues.add(.error(.minimum, at: path, value: input,
            "must be greater than or equal to \(minimum); got \(value)"))
        return true
    }

    static func integer(_ name: String, _ keyPath: Path<Int>, minimum: Int? = nil, required: Bool = false, doc: String) -> Self {
        Self(name: name, shape: .integer(minimum: minimum), isRequired: required, doc: doc,
            decode: { root, value, path, issues in
                guard let i = LaxCoercion.int(value, at: path, &issues), !below(minimum, i, value, path, &issues) else { return }
                root[keyPath: keyPath] = i
            },
            encode: { .int($0[keyPath: keyPath]) })
    }

    static func optionalInteger(_ name: String, _ keyPath: Path<Int?>, minimum: Int? = nil, doc: String) -> Self {
        Self(name: name, shape: .nullable(.integer(minimum: minimum)), isRequired: false, doc: doc,
            decode: { root, value, path, issues in
                if value.isNull {
                    root[keyPath: keyPath] = nil
                    return
                }
                guard let i = LaxCoercion.int(value, at: path, &issues), !below(minimum, i, value, path, &issues) else { return }
                root[keyPath: keyPath] = i
            },
            encode: { $0[keyPath: keyPath].map { .int($0) } ?? .null })
    }

    static func optionalIntegerList(_ name: String, _ keyPath: Path<[Int]?>, doc: String) -> Self {
        Self(name: name, shape: .nullable(.list(.integer(minimum: nil))), isRequired: false, doc: doc,
            decode: { root, value, path, issues in
                if value.isNull {
                    root[keyPath: keyPath] = nil
                    return
                }
                guard let elements = LaxCoercion.array(value, at: path, &issues) else { return }
                var result: [Int] = []
                for (i, element) in elements.enumerated() {
                    if let n = LaxCoercion.int(element, at: path.appending(index: i), &issues) { result.append(n) }
                }
                if result.count == elements.count { root[keyPath: keyPath] = result }
            },
            encode: { root in root[keyPath: keyPath].map { .array($0.map { .int($0) }) } ?? .null })
    }

    static func number(_ name: String, _ keyPath: Path<Double>, minimum: Double? = nil, doc: String) -> Self {
        Self(name: name, shape: .number(minimum: minimum), isRequired: false, doc: doc,
            decode: { root, value, path, issues in
                guard let d = LaxCoercion.double(value, at: path, &issues) else { return }
                // `!(d >= minimum)` also rejects NaN, as pydantic's comparison does.
                if let minimum, !(d >= minimum) {
                    issues.add(.error(.minimum, at: path, value: value,
                        "must be greater than or equal to \(PythonFloat.repr(minimum)); got \(PythonFloat.repr(d))"))
                    return
                }
                root[keyPath: keyPath] = d
            },
            encode: { .double($0[keyPath: keyPath]) })
    }

    static func boolean(_ name: String, _ keyPath: Path<Bool>, doc: String) -> Self {
        Self(name: name, shape: .boolean, isRequired: false, doc: doc,
            decode: { root, value, path, issues in
                if let b = LaxCoercion.bool(value, at: path, &issues) { root[keyPath: keyPath] = b }
            },
            encode: { .bool($0[keyPath: keyPath]) })
    }

    static func string(_ name: String, _ keyPath: Path<String>, required: Bool = false, doc: String) -> Self {
        Self(name: name, shape: .string, isRequired: required, doc: doc,
            decode: { root, value, path, issues in
                if let s = LaxCoercion.string(value, at: path, &issues) { root[keyPath: keyPath] = s }
            },
            encode: { .string($0[keyPath: keyPath]) })
    }

    /// A string that may be `null`; `required` means the key must be present even if its value is null.
    static func optionalString(_ name: String, _ keyPath: Path<String?>, required: Bool = false, doc: String) -> Self {
        Self(name: name, shape: .nullable(.string), isRequired: required, doc: doc,
            decode: { root, value, path, issues in
                if value.isNull {
                    root[keyPath: keyPath] = nil
                } else if let s = LaxCoercion.string(value, at: path, &issues) {
                    root[keyPath: keyPath] = s
                }
            },
            encode: { $0[keyPath: keyPath].map { .string($0) } ?? .null })
    }

    static func stringList(_ name: String, _ keyPath: Path<[String]>, required: Bool = false, doc: String) -> Self {
        Self(name: name, shape: .list(.string), isRequired: required, doc: doc,
            decode: { root, value, path, issues in
                guard let elements = LaxCoercion.array(value, at: path, &issues) else { return }
                var result: [String] = []
                for (i, element) in elements.enumerated() {
                    if let s = LaxCoercion.string(element, at: path.appending(index: i), &issues) { result.append(s) }
                }
                if result.count == elements.count { root[keyPath: keyPath] = result }
            },
            encode: { .array($0[keyPath: keyPath].map { .string($0) }) })
    }

    static func choice(_ name: String, _ keyPath: Path<String>, _ allowed: [String], doc: String) -> Self {
        Self(name: name, shape: .choice(allowed), isRequired: false, doc: doc,
            decode: { root, value, path, issues in
                guard case .string(let s) = value, allowed.contains(s) else {
                    let list = allowed.map { "'\($0)'" }.joined(separator: ", ")
                    issues.add(.error(.literal, at: path, value: value,
                        "must be one of \(list); got \(LaxCoercion.describe(value))"))
                    return
                }
                root[keyPath: keyPath] = s
            },
            encode: { .string($0[keyPath: keyPath]) })
    }

    /// A discriminator fixed to one string. It has no storage: the type itself is the value.
    static func constant(_ name: String, _ value: String, doc: String) -> Self {
        Self(name: name, shape: .constant(value), isRequired: false, doc: doc,
            decode: { _, input, path, issues in
                if input != .string(value) {
                    issues.add(.error(.literal, at: path, value: input,
                        "must be '\(value)' for this config type; got \(LaxCoercion.describe(input))"))
                }
            },
            encode: { _ in .string(value) })
    }

    static func model<M: ConfigModel>(_ name: String, _ keyPath: Path<M>, required: Bool = false, doc: String) -> Self {
        Self(name: name, shape: .model(M.schemaTitle), isRequired: required, doc: doc,
            decode: { root, value, path, issues in
                if let m = M.decode(value, at: path, issues: &issues) { root[keyPath: keyPath] = m }
            },
            encode: { .object($0[keyPath: keyPath].encodeFields()) })
    }

    static func optionalModel<M: ConfigModel>(_ name: String, _ keyPath: Path<M?>, doc: String) -> Self {
        Self(name: name, shape: .nullable(.model(M.schemaTitle)), isRequired: false, doc: doc,
            decode: { root, value, path, issues in
                if value.isNull {
                    root[keyPath: keyPath] = nil
                } else if let m = M.decode(value, at: path, issues: &issues) {
                    root[keyPath: keyPath] = m
                }
            },
            encode: { $0[keyPath: keyPath].map { .object($0.encodeFields()) } ?? .null })
    }
}
