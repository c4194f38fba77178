/// Everything needed to build a `Tokenizer`, whichever file it came from (tokenizer.json or GGUF metadata).
struct TokenizerDefinition {
    var vocabulary: [String: Int] = [:]
    var merges: [(String, String)] = []
    /// Where the merges came from, for error messages (`tokenizer.json: model.merges`).
    var mergesKeyPath = "merges"
    var ignoreMerges = false
    var unknownToken: String?
    var fuseUnknown = false
    var addedTokens: [AddedToken] = []
    var normalizer: Normalizer?
    var preTokenizer = PreTokenizer.gpt2
    /// Ids that `encode(addSpecialTokens: true)` puts before and after the text (post-processor, add_bos_token).
    var specialPrefix: [Int] = []
    var specialSuffix: [Int] = []
    var bosTokenId: Int?
    var eosTokenIds: [Int] = []
    var padTokenId: Int?
    var chatTemplate: String?
}
