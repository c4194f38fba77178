/// The keys a speculator config inherits from transformers' `PretrainedConfig`. The Python
/// library's config classes are pydantic models built on `PretrainedConfig`, so these keys are
/// pydantic fields there, checked (in lax mode) like any other, although no speculator reads
/// them. Here they stay top-level keys kept as written; this only checks them.
enum PretrainedConfigFields {
    /// The names `getattr(torch, name)` resolves to a `torch.dtype` (transformers turns a `dtype`
    /// string into one when it builds the config, so any other string fails there).
    static let torchDtypeNames: Set<String> = [
        "bcomplex32", "bfloat16", "bit", "bits16", "bits1x8", "bits2x4", "bits4x2", "bits8", "bool", "cdouble",
        "cfloat", "chalf", "complex128", "complex32", "complex64", "double", "float", "float16", "float32",
        "float4_e2m1fn_x2", "float64", "float8_e4m3fn", "float8_e4m3fnuz", "float8_e5m2", "float8_e5m2fnuz",
        "float8_e8m0fnu", "half", "int", "int1", "int16", "int2", "int3", "int32", "int4", "int5", "int6", "int64",
        "int7", "int8", "long", "qint32", "qint8", "quint2x4", "quint4x2", "quint8", "short", "uint1", "uint16",
        "uint2", "uint3", "uint32", "uint4", "uint5", "uint6", "uint64", "uint7", "uint8",
    ]

    /// `problem_type`'s literal values.
    static let problemTypes = ["regression", "single_label_classification", "multi_label_classification"]

    /// Reports every inherited key of `object` (a speculator config's top level) whose value the
    /// library would refuse, at its key path.
    static func check(_ object: JSONObject, issues: inout IssueCollector) {
        for (key, value) in object.entries {
            let path = JSONPath.root.appending(key)
            switch key {
            case "transformers_version":
                guard value != .null, value.stringValue == nil else { continue }
                issues.add(.error(.expectedString, at: path, value: value,
                    "must be a string or null (the transformers version that wrote the file); got \(LaxCoercion.describe(value))"))
            case "output_hidden_states", "return_dict":
                if value != .null { _ = LaxCoercion.bool(value, at: path, &issues) }
            case "is_encoder_decoder":
                _ = LaxCoercion.bool(value, at: path, &issues)
            case "chunk_size_feed_forward":
                _ = LaxCoercion.int(value, at: path, &issues)
            case "dtype", "torch_dtype":
                checkDtype(value, at: path, issues: &issues)
            case "problem_type":
                guard value != .null, !problemTypes.contains(value.stringValue ?? "") else { continue }
                issues.add(.error(.literal, at: path, value: value,
                    "must be null or one of \(problemTypes.map { "'\($0)'" }.joined(separator: ", ")); got \(LaxCoercion.describe(value))"))
            case "id2label", "label2id":
                checkLabelMap(value, key: key, at: path, issues: &issues)
            default:
                continue
            }
        }
    }

    static func checkDtype(_ value: JSONValue, at path: JSONPath, issues: inout IssueCollector) {
        switch value {
        case .null:
            return
        case .string(let name) where torchDtypeNames.contains(name):
            return
        case .string(let name):
            issues.add(.error(.literal, at: path, value: value,
                "'\(name)' is not a torch dtype name (such as float32, bfloat16, float16); transformers fails on it with \"module 'torch' has no attribute '\(name)'\""))
        default:
            issues.add(.error(.expectedString, at: path, value: value,
                "must be a torch dtype name such as \"float32\", or null; got \(LaxCoercion.describe(value))"))
        }
    }

    /// `id2label` (`dict[int, str] | dict[str, str]`) maps to strings; `label2id`
    /// (`dict[str, int] | dict[str, str]`) to integers or strings.
    static func checkLabelMap(_ value: JSONValue, key: String, at path: JSONPath, issues: inout IssueCollector) {
        guard value != .null else { return }
        guard case .object(let map) = value else {
            issues.add(.error(.expectedObject, at: path, value: value,
                "must be an object (a dictionary of labels) or null; got \(LaxCoercion.describe(value))"))
            return
        }
        for (label, entry) in map.entries {
            let fits = key == "id2label" ? entry.stringValue != nil : entry.stringValue != nil || entry.intValue != nil
            guard !fits else { continue }
            issues.add(.error(.expectedString, at: path.appending(label), value: entry,
                "must be \(key == "id2label" ? "a string" : "an integer or a string"); got \(LaxCoercion.describe(entry))"))
        }
    }
}
