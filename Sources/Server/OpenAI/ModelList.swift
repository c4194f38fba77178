// GET /v1/models: one card per served name. The speculator is never listed; the verifier is
// the model (as when vLLM swaps a speculators checkpoint for its verifier).

/// One entry of `/v1/models`.
public struct ModelCard: Sendable, Equatable {
    /// The served name.
    public var id: String
    /// The path or id that was loaded.
    public var root: String
    public var maxModelLen: Int
    public var ownedBy: String

    public init(id: String, root: String, maxModelLen: Int, ownedBy: String = "vllm") {
        self.id = id
        self.root = root
        self.maxModelLen = maxModelLen
        self.ownedBy = ownedBy
    }
}

/// The `/v1/models` body.
public struct ModelList: Sendable, Equatable {
    public var cards: [ModelCard]

    public init(cards: [ModelCard]) { self.cards = cards }

    /// `created` is the time of the call; each permission gets a fresh `modelperm-<hex>` id
    /// unless `permissionIDs` provides them (for reproducible tests).
    public func jsonString(created: Int, permissionIDs: [String]? = nil) -> String {
        var w = JSONWriter(reservingCapacity: 512)
        w.beginObject()
        w.field("object", "list")
        w.key("data")
        w.beginArray()
        for (i, card) in cards.enumerated() {
            w.beginObject()
            w.field("id", card.id)
            w.field("object", "model")
            w.field("created", created)
            w.field("owned_by", card.ownedBy)
            w.field("root", card.root)
            w.nullField("parent")
            w.field("max_model_len", card.maxModelLen)
            w.key("permission")
            w.beginArray()
            w.beginObject()
            let permission = permissionIDs.flatMap { i < $0.count ? $0[i] : nil } ?? "modelperm-" + RequestID.random()
            w.field("id", permission)
            w.field("object", "model_permission")
            w.field("created", created)
            w.field("allow_create_engine", false)
            w.field("allow_sampling", true)
            w.field("allow_logprobs", true)
            w.field("allow_search_indices", false)
            w.field("allow_view", true)
            w.field("allow_fine_tuning", false)
            w.field("organization", "*")
            w.nullField("group")
            w.field("is_blocking", false)
            w.endObject()
            w.endArray()
            w.endObject()
        }
        w.endArray()
        w.endObject()
        return w.text
    }
}
