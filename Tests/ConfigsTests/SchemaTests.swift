import Foundation
import Testing
import Configs

/// The generated JSON Schema describes every registered type and field, and agrees with the
/// validator on the reference configs.
@Suite struct SchemaTests {
    static let schema = SpeculatorJSONSchema.generate()

    static func def(_ name: String) -> JSONObject? { schema["$defs"]?.objectValue?[name]?.objectValue }

    @Test("The schema declares draft 2020-12 and a oneOf over every registered type")
    func header() throws {
        #expect(Self.schema["$schema"] == .string(SpeculatorJSONSchema.dialect))
        #expect(Self.schema["required"] == ["speculators_model_type"])
        let tags = try #require(Self.schema["properties"]?.objectValue?["speculators_model_type"]?.objectValue?["enum"]?.arrayValue)
        #expect(tags.compactMap(\.stringValue) == SpeculatorRegistry.names)
        #expect(Self.schema["oneOf"]?.arrayValue?.count == SpeculatorRegistry.types.count)
    }

    @Test("Every registered type has a definition listing each of its fields", arguments: SpeculatorRegistry.names)
    func everyTypeAndField(name: String) throws {
        let type = try #require(SpeculatorRegistry.type(named: name))
        let definition = try #require(Self.def(type.schemaTitle))
        let properties = try #require(definition["properties"]?.objectValue)
        #expect(properties.keys == type.fieldNames)
        for (key, property) in properties.entries {
            #expect(property.objectValue?["description"]?.stringValue?.isEmpty == false, "\(key) has no description")
        }
        #expect(properties["speculators_model_type"]?.objectValue?["const"] == .string(name))
        #expect(definition["required"]?.arrayValue?.contains("speculators_model_type") == true)
    }

    @Test("Defaults, bounds and requirements come from the field descriptions")
    func constraints() throws {
        let greedy = try #require(Self.def("GreedyTokenProposalConfig")?["properties"]?.objectValue)
        #expect(greedy["speculative_tokens"]?.objectValue?["minimum"] == 1)
        #expect(greedy["speculative_tokens"]?.objectValue?["default"] == 5)
        #expect(greedy["accept_tolerance"]?.objectValue?["minimum"] == 0.0)
        let eagle = try #require(Self.def("Eagle3SpeculatorConfig")?["properties"]?.objectValue)
        #expect(eagle["draft_vocab_size"]?.objectValue?["default"] == 32000)
        #expect(eagle["architectures"]?.objectValue?["default"] == ["Eagle3Speculator"])
        let peagle = try #require(Self.def("PEagleSpeculatorConfig")?["properties"]?.objectValue)
        #expect(peagle["embed_requires_grad"]?.objectValue?["default"] == true)
        #expect(Self.def("SpeculatorsConfig")?["required"] == ["algorithm", "proposal_methods", "default_proposal_method", "verifier"])
        #expect(Self.def("VerifierConfig")?["required"] == ["name_or_path", "architectures"])
        #expect(Self.def("DSparkSpeculatorConfig")?["properties"]?.objectValue?["markov_head_type"]?.objectValue?["enum"] == ["vanilla", "gated", "rnn"])
        #expect(Self.def("Eagle3SpeculatorConfig")?["x-rules"]?.arrayValue?.isEmpty == false)
    }

    @Test("The schema text is stable JSON that parses back to the same value")
    func text() throws {
        let text = SpeculatorJSONSchema.text
        #expect(text.hasSuffix("}\n"))
        #expect(try JSONParser.parse(text) == Self.schema)
    }

    @Test("Every valid fixture satisfies the schema, except values the validator accepted only by coercion",
          arguments: Fixtures.validNames)
    func validFixtures(name: String) throws {
        let document = try Fixtures.json("valid", name)
        let failures = SchemaChecker(root: Self.schema).failures(document)
        let report = SpeculatorConfigValidator.validate(json: document)
        let coerced = report.warnings.filter { $0.rule == .coercedValue }.map(\.path)
        // 96.0 is an integer for JSON Schema too; strings and 1-for-true are not.
        let schemaCoerced = coerced.filter { document[$0]?.doubleValue == nil || document[$0]?.intValue != nil }
        #expect(Set(failures) == Set(schemaCoerced), "\(failures)")
    }

    @Test("The saved (normalised) form of every valid fixture satisfies the schema", arguments: Fixtures.validNames)
    func savedFixtures(name: String) throws {
        let config = try SpeculatorModelConfig.fromJSON(try Fixtures.text("valid", name))
        #expect(SchemaChecker(root: Self.schema).failures(.object(config.toDiffDict())).isEmpty)
    }

    @Test("Type errors of the invalid fixtures also fail the schema", arguments: [
        "type-aux-layer-ids-contains-string.json", "type-aux-layer-ids-string.json", "type-draft-vocab-size-fractional.json",
        "type-draft-vocab-size-string.json", "type-norm-before-residual-string.json", "type-proposal-methods-object.json",
        "type-speculative-tokens-fractional.json", "type-speculative-tokens-string.json", "type-speculators-config-list.json",
        "type-transformer-layer-config-string.json", "speculative-tokens-0.json", "verifier-accept-k-0.json",
        "accept-tolerance-negative.json", "missing-verifier.json", "verifier-null.json", "missing-proposal-type.json",
        "unknown-proposal-type.json", "unknown-speculators-model-type.json", "missing-speculators-model-type.json",
    ])
    func invalidFixtures(name: String) throws {
        #expect(!SchemaChecker(root: Self.schema).failures(try Fixtures.json("invalid", name)).isEmpty)
    }
}

/// A small JSON Schema checker covering the keywords the generated schema uses: `$ref` (local),
/// `allOf`, `anyOf`, `oneOf` (choosing the branch by the `discriminator` annotation when the
/// value's tag is known), `type`, `const`, `enum`, `minimum`, `properties`, `required`, `items`.
/// Returns the paths of the values that fail.
struct SchemaChecker {
    let root: JSONValue

    func failures(_ value: JSONValue) -> [JSONPath] { check(value, root, .root) }

    private func resolve(_ schema: JSONObject) -> JSONObject {
        guard let ref = schema["$ref"]?.stringValue, ref.hasPrefix("#/$defs/") else { return schema }
        return root["$defs"]?.objectValue?[String(ref.dropFirst("#/$defs/".count))]?.objectValue ?? [:]
    }

    private func typeMatches(_ value: JSONValue, _ type: String) -> Bool {
        switch (type, value) {
        case ("object", .object), ("array", .array), ("string", .string), ("boolean", .bool), ("null", .null): return true
        case ("number", .int), ("number", .double): return true
        case ("integer", .int): return true
        case ("integer", .double(let d)): return d.isFinite && d.rounded() == d
        default: return false
        }
    }

    func check(_ value: JSONValue, _ schemaValue: JSONValue, _ path: JSONPath) -> [JSONPath] {
        guard case .object(let unresolved) = schemaValue else { return [] }
        let schema = resolve(unresolved)
        var failures: [JSONPath] = []
        if schema["$ref"] == nil, unresolved["$ref"] != nil { failures += check(value, .object(schema), path) }
        for sub in schema["allOf"]?.arrayValue ?? [] { failures += check(value, sub, path) }
        if let options = schema["anyOf"]?.arrayValue, !options.contains(where: { check(value, $0, path).isEmpty }) {
            // Report against the branches meant for this kind of value (not `{"type": "null"}` for an object).
            let sameKind = options.filter { $0.objectValue?["type"]?.stringValue.map { typeMatches(value, $0) } ?? true }
            failures += (sameKind.isEmpty ? options : sameKind).map { check(value, $0, path) }.min { $0.count < $1.count } ?? [path]
        }
        if let options = schema["oneOf"]?.arrayValue, let property = schema["discriminator"]?.objectValue?["propertyName"]?.stringValue,
           let tag = value.objectValue?[property]?.stringValue,
           let target = schema["discriminator"]?.objectValue?["mapping"]?.objectValue?[tag] {
            // With a discriminator the branch is chosen by tag, so errors are reported against it.
            failures += check(value, ["$ref": target], path)
            _ = options
        } else if let options = schema["oneOf"]?.arrayValue {
            let results = options.map { check(value, $0, path) }
            if results.filter(\.isEmpty).count != 1 { failures += results.min { $0.count < $1.count } ?? [path] }
            if results.allSatisfy(\.isEmpty) && results.count > 1 { failures.append(path) }
        }
        if let type = schema["type"] {
            let types = type.arrayValue?.compactMap(\.stringValue) ?? [type.stringValue ?? ""]
            if !types.contains(where: { typeMatches(value, $0) }) { return failures + [path] }
        }
        if let constant = schema["const"], constant != value { failures.append(path) }
        if let options = schema["enum"]?.arrayValue, !options.contains(value) { failures.append(path) }
        if let minimum = schema["minimum"]?.doubleValue, let number = value.doubleValue, !(number >= minimum) { failures.append(path) }
        if case .object(let object) = value {
            for key in schema["required"]?.arrayValue?.compactMap(\.stringValue) ?? [] where object[key] == nil {
                failures.append(path.appending(key))
            }
            for (key, sub) in schema["properties"]?.objectValue?.entries ?? [] {
                if let child = object[key] { failures += check(child, sub, path.appending(key)) }
            }
        }
        if case .array(let elements) = value, let items = schema["items"] {
            for (i, element) in elements.enumerated() { failures += check(element, items, path.appending(index: i)) }
        }
        return failures
    }
}
