/// A token-proposal method: how a speculator proposes draft tokens and how they are accepted
/// (`speculators_config.proposal_methods[i]`). Concrete types are chosen by `proposal_type`.
public protocol TokenProposalConfig: ConfigModel {
    /// The discriminator value (`"greedy"`).
    static var proposalType: String { get }
    /// Draft tokens proposed per verification step; vLLM's `num_speculative_tokens`.
    var speculativeTokens: Int { get }
}

extension TokenProposalConfig {
    public var proposalType: String { Self.proposalType }
}

/// The proposal types, keyed by `proposal_type`. To add one: write a type conforming to
/// `TokenProposalConfig` in its own file and add it to `types`.
public enum ProposalRegistry {
    public static let discriminator = "proposal_type"

    /// Registration order is the order used in messages (the Python library's order).
    public static var types: [any TokenProposalConfig.Type] {
        [
            GreedyTokenProposalConfig.self,
        ]
    }

    public static var names: [String] { types.map { $0.proposalType } }

    public static func type(named name: String) -> (any TokenProposalConfig.Type)? {
        types.first { $0.proposalType == name }
    }

    /// Reads one proposal object, choosing its type by `proposal_type`.
    public static func decode(_ value: JSONValue, at path: JSONPath, issues: inout IssueCollector) -> (any TokenProposalConfig)? {
        guard case .object(let object) = value else {
            issues.add(.error(.expectedObject, at: path, value: value,
                "must be a proposal object with a '\(discriminator)' key; got \(LaxCoercion.describe(value))"))
            return nil
        }
        let known = names.map { "'\($0)'" }.joined(separator: ", ")
        guard let tag = object[discriminator] else {
            issues.add(.error(.missingProposalType, at: path, value: value,
                "cannot tell which proposal method this is: the key '\(discriminator)' is missing (known types: \(known))"))
            return nil
        }
        guard case .string(let name) = tag, let type = type(named: name) else {
            issues.add(.error(.unknownProposalType, at: path.appending(discriminator), value: tag,
                "\(tag.compactDescription) is not a known \(discriminator); known types: \(known)"))
            return nil
        }
        return type.decode(value, at: path, issues: &issues)
    }
}

extension ConfigField {
    /// A list of proposal objects, each resolved through `ProposalRegistry`.
    static func proposalList(_ name: String, _ keyPath: Path<[any TokenProposalConfig]>, required: Bool, doc: String) -> Self {
        Self(name: name, shape: .list(.taggedList(discriminator: ProposalRegistry.discriminator, schemaName: "TokenProposalConfig")),
            isRequired: required, doc: doc,
            decode: { root, value, path, issues in
                guard let elements = LaxCoercion.array(value, at: path, &issues) else { return }
                var result: [any TokenProposalConfig] = []
                for (i, element) in elements.enumerated() {
                    if let proposal = ProposalRegistry.decode(element, at: path.appending(index: i), issues: &issues) {
                        result.append(proposal)
                    }
                }
                if result.count == elements.count { root[keyPath: keyPath] = result }
            },
            encode: { root in .array(root[keyPath: keyPath].map { .object($0.encodeFields()) }) })
    }
}
