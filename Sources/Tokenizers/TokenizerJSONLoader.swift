import Foundation

/// Reads a Hugging Face tokenizer folder: `tokenizer.json` (the pipeline), `tokenizer_config.json` (special
/// tokens, add_bos_token, chat template), `chat_template.jinja` and `generation_config.json` (end-of-turn ids).
enum TokenizerJSONLoader {
    static func definition(tokenizerJSON: Data, tokenizerConfigJSON: Data?, generationConfigJSON: Data?,
                           chatTemplate: String?) throws -> TokenizerDefinition {
        let root = try JSONFile.object(from: tokenizerJSON, name: "tokenizer.json:")
        var definition = TokenizerDefinition()
        try readModel(try root.requiredObject("model"), into: &definition)
        definition.addedTokens = try readAddedTokens(root)
        if let normalizer = try root.object("normalizer") { definition.normalizer = try Normalizer.parse(normalizer) }
        definition.preTokenizer = try readPreTokenizer(try root.object("pre_tokenizer"), keyPath: root.keyPath("pre_tokenizer"))
        try checkDecoder(try root.object("decoder"), keyPath: root.keyPath("decoder"))
        if let processor = try root.object("post_processor") {
            try readPostProcessor(processor, vocabulary: definition.vocabulary,
                                  prefix: &definition.specialPrefix, suffix: &definition.specialSuffix)
        }

        let config = try tokenizerConfigJSON.map { try JSONFile.object(from: $0, name: "tokenizer_config.json:") }
        let generation = try generationConfigJSON.map { try JSONFile.object(from: $0, name: "generation_config.json:") }
        var ids = definition.vocabulary
        for token in definition.addedTokens { ids[token.content] = token.id }
        let tokenId = { (text: String?) in text.flatMap { ids[$0] } }
        let bosText = try config.flatMap { try tokenText($0, "bos_token") }
        let eosText = try config.flatMap { try tokenText($0, "eos_token") }
        let padText = try config.flatMap { try tokenText($0, "pad_token") }
        definition.bosTokenId = try tokenId(bosText) ?? generation?.int("bos_token_id")
        definition.padTokenId = try tokenId(padText) ?? generation?.int("pad_token_id")
        var eos: [Int] = []
        if let id = tokenId(eosText) { eos.append(id) }
        if let generation {
            eos += try idList(generation, "eos_token_id")
        }
        definition.eosTokenIds = eos

        if let config {
            if try config.bool("add_bos_token") == true, let bos = definition.bosTokenId, definition.specialPrefix.first != bos {
                definition.specialPrefix.insert(bos, at: 0)
            }
            if try config.bool("add_eos_token") == true, let last = eos.first, definition.specialSuffix.last != last {
                definition.specialSuffix.append(last)
            }
        }
        definition.chatTemplate = try chatTemplate ?? config.flatMap { try templateText($0) }
        return definition
    }

    // MARK: model

    private static func readModel(_ model: JSONObject, into definition: inout TokenizerDefinition) throws {
        let type = try model.string("type") ?? "BPE"
        guard type == "BPE" else {
            throw TokenizerError.unsupported("\(model.keyPath("type")): model \(type.debugDescription); only byte-level BPE is implemented")
        }
        if try model.bool("byte_fallback") == true {
            throw TokenizerError.unsupported("\(model.keyPath("byte_fallback")): byte-fallback (SentencePiece-style) BPE")
        }
        for key in ["continuing_subword_prefix", "end_of_word_suffix"] {
            if let affix = try model.string(key), !affix.isEmpty {
                throw TokenizerError.unsupported("\(model.keyPath(key)) \(affix.debugDescription)")
            }
        }
        let vocabularyObject = try model.requiredObject("vocab")
        var vocabulary: [String: Int] = [:]
        vocabulary.reserveCapacity(vocabularyObject.values.count)
        for (token, value) in vocabularyObject.values {
            guard let id = JSONObject.asInt(value), id >= 0 else {
                throw TokenizerError.invalidValue(keyPath: vocabularyObject.keyPath(token.debugDescription),
                                                  problem: "expected a non-negative integer id")
            }
            vocabulary[token] = id
        }
        definition.vocabulary = vocabulary
        let mergesPath = model.keyPath("merges")
        definition.mergesKeyPath = mergesPath
        let merges = try model.array("merges") ?? []
        definition.merges.reserveCapacity(merges.count)
        for (index, merge) in merges.enumerated() {
            if let text = merge as? String {
                let parts = text.split(separator: " ", omittingEmptySubsequences: false)
                guard parts.count == 2 else {
                    throw TokenizerError.invalidValue(keyPath: "\(mergesPath)[\(index)]", problem: "expected \"left right\", found \(text.debugDescription)")
                }
                definition.merges.append((String(parts[0]), String(parts[1])))
            } else if let pair = merge as? [Any], pair.count == 2, let left = pair[0] as? String, let right = pair[1] as? String {
                definition.merges.append((left, right))
            } else {
                throw TokenizerError.invalidValue(keyPath: "\(mergesPath)[\(index)]", problem: "expected a pair of strings")
            }
        }
        definition.ignoreMerges = try model.bool("ignore_merges") ?? false
        definition.unknownToken = try model.string("unk_token")
        definition.fuseUnknown = try model.bool("fuse_unk") ?? false
    }

    private static func readAddedTokens(_ root: JSONObject) throws -> [AddedToken] {
        let entries = try root.array("added_tokens") ?? []
        return try entries.enumerated().map { index, entry in
            let token = try JSONObject(entry, path: root.keyPath("added_tokens[\(index)]"))
            guard let id = try token.int("id"), id >= 0 else { throw token.missing("id") }
            let special = try token.bool("special") ?? false
            return AddedToken(id: id, content: try token.requiredString("content"),
                              singleWord: try token.bool("single_word") ?? false,
                              lstrip: try token.bool("lstrip") ?? false, rstrip: try token.bool("rstrip") ?? false,
                              normalized: try token.bool("normalized") ?? !special, special: special)
        }
    }

    // MARK: pre-tokenizer and decoder

    static func readPreTokenizer(_ json: JSONObject?, keyPath: String) throws -> PreTokenizer {
        guard let json else {
            throw TokenizerError.unsupported("\(keyPath) is null: without a ByteLevel pre-tokenizer this is not a byte-level BPE tokenizer")
        }
        var steps: [PreTokenizerStep] = []
        try appendSteps(json, to: &steps)
        guard steps.contains(where: { if case .byteLevel = $0 { return true } else { return false } }) else {
            throw TokenizerError.unsupported("\(keyPath) has no ByteLevel step: not a byte-level BPE tokenizer")
        }
        return PreTokenizer(steps: steps)
    }

    private static func appendSteps(_ json: JSONObject, to steps: inout [PreTokenizerStep]) throws {
        let type = try json.requiredString("type")
        switch type {
        case "Sequence":
            for (index, member) in (try json.array("pretokenizers") ?? []).enumerated() {
                try appendSteps(JSONObject(member, path: json.keyPath("pretokenizers[\(index)]")), to: &steps)
            }
        case "ByteLevel":
            steps.append(.byteLevel(addPrefixSpace: try json.bool("add_prefix_space") ?? true,
                                    useRegex: try json.bool("use_regex") ?? true))
        case "Digits":
            steps.append(.digits(individual: try json.bool("individual_digits") ?? false))
        case "Split":
            let pattern = try json.requiredObject("pattern")
            let splitPattern: SplitPattern
            if let regex = try pattern.string("Regex") {
                splitPattern = try SplitPattern.forRegex(regex)
            } else if let literal = try pattern.string("String") {
                splitPattern = .literal(Array(literal.utf8))
            } else {
                throw TokenizerError.invalidValue(keyPath: json.keyPath("pattern"), problem: "expected {\"Regex\": ...} or {\"String\": ...}")
            }
            let behaviorName = try json.requiredString("behavior")
            guard let behavior = SplitBehavior(rawValue: behaviorName) else {
                throw TokenizerError.invalidValue(keyPath: json.keyPath("behavior"), problem: "unknown split behavior \(behaviorName.debugDescription)")
            }
            steps.append(.split(splitPattern, behavior, invert: try json.bool("invert") ?? false))
        default:
            throw TokenizerError.unsupported("\(json.keyPath("type")): pre-tokenizer \(type.debugDescription)")
        }
    }

    private static func checkDecoder(_ json: JSONObject?, keyPath: String) throws {
        guard let json else {
            throw TokenizerError.unsupported("\(keyPath) is null: decoding needs the ByteLevel decoder")
        }
        let type = try json.requiredString("type")
        switch type {
        case "ByteLevel": return
        case "Sequence":
            let members = try json.array("decoders") ?? []
            guard members.count == 1 else {
                throw TokenizerError.unsupported("\(keyPath): a decoder sequence other than [ByteLevel]")
            }
            try checkDecoder(try JSONObject(members[0], path: json.keyPath("decoders[0]")), keyPath: json.keyPath("decoders[0]"))
        default:
            throw TokenizerError.unsupported("\(json.keyPath("type")): decoder \(type.debugDescription); only ByteLevel")
        }
    }

    // MARK: post-processor

    /// Collects the special ids that `encode(addSpecialTokens: true)` adds around a single text.
    private static func readPostProcessor(_ json: JSONObject, vocabulary: [String: Int],
                                          prefix: inout [Int], suffix: inout [Int]) throws {
        let type = try json.requiredString("type")
        switch type {
        case "ByteLevel": return
        case "Sequence":
            for (index, member) in (try json.array("processors") ?? []).enumerated() {
                try readPostProcessor(JSONObject(member, path: json.keyPath("processors[\(index)]")),
                                      vocabulary: vocabulary, prefix: &prefix, suffix: &suffix)
            }
        case "TemplateProcessing":
            let specials = try json.object("special_tokens")
            var seenSequence = false
            for (index, piece) in (try json.array("single") ?? []).enumerated() {
                let item = try JSONObject(piece, path: json.keyPath("single[\(index)]"))
                if item.values["Sequence"] != nil { seenSequence = true; continue }
                let special = try item.requiredObject("SpecialToken")
                let name = try special.requiredString("id")
                var ids: [Int] = []
                if let entry = try specials?.object(name), let listed = try entry.array("ids") {
                    ids = listed.compactMap(JSONObject.asInt)
                } else if let id = vocabulary[name] {
                    ids = [id]
                } else {
                    throw TokenizerError.inconsistentVocabulary("\(special.keyPath("id")): special token \(name.debugDescription) is unknown")
                }
                if seenSequence { suffix += ids } else { prefix += ids }
            }
        case "RobertaProcessing", "BertProcessing":
            func id(_ key: String) throws -> Int? {
                guard let pair = try json.array(key), pair.count == 2 else { return nil }
                return JSONObject.asInt(pair[1])
            }
            if let cls = try id("cls") { prefix.append(cls) }
            if let sep = try id("sep") { suffix.append(sep) }
        default:
            throw TokenizerError.unsupported("\(json.keyPath("type")): post-processor \(type.debugDescription)")
        }
    }

    // MARK: tokenizer_config.json and generation_config.json

    /// A special token written either as a string or as an AddedToken object `{"content": ...}`.
    private static func tokenText(_ config: JSONObject, _ key: String) throws -> String? {
        if config.isMissing(key) { return nil }
        if let text = config.values[key] as? String { return text }
        return try config.requiredObject(key).requiredString("content")
    }

    /// `eos_token_id` as one id or a list of ids.
    private static func idList(_ json: JSONObject, _ key: String) throws -> [Int] {
        if json.isMissing(key) { return [] }
        if let id = JSONObject.asInt(json.values[key]) { return [id] }
        guard let list = try json.array(key) else { return [] }
        return try list.enumerated().map { index, value in
            guard let id = JSONObject.asInt(value) else {
                throw TokenizerError.invalidValue(keyPath: json.keyPath("\(key)[\(index)]"), problem: "expected an integer id")
            }
            return id
        }
    }

    /// `chat_template` as a string, or as a list of named templates (the one named "default").
    private static func templateText(_ config: JSONObject) throws -> String? {
        if config.isMissing("chat_template") { return nil }
        if let text = config.values["chat_template"] as? String { return text }
        guard let list = try config.array("chat_template") else { return nil }
        for (index, entry) in list.enumerated() {
            let named = try JSONObject(entry, path: config.keyPath("chat_template[\(index)]"))
            if try named.string("name") == "default" { return try named.requiredString("template") }
        }
        return nil
    }
}
