import Foundation
import Models
import Synchronization

/// Everything the engine keeps for one running request. Owned by the engine loop; only
/// `cancelled` is touched from other threads.
final class SequenceState {
    let id: Int
    let request: GenerationRequest
    /// The prompt's distinct token ids (for the repetition penalty), made when first needed.
    lazy var promptTokens = Set(request.prompt)
    /// The ids `min_tokens` holds back: the request's stop ids and the model's EOS ids.
    let minTokensHeldIds: Set<Int>
    var verifierCache: KVCache?
    var draftCache: KVCache?
    /// Prompt tokens already in the verifier cache.
    var prefilled = 0
    var output: [Int] = []
    /// The newest token: emitted, not yet in the verifier cache.
    var lastToken = -1
    /// Draft tokens to verify in the next step, and the draft's confidence in each.
    var drafts: [Int] = []
    var draftConfidences: [Float] = []
    /// This step's confidence gate: the acceptance its draft must reach to be verified (nil: not gated).
    var gateThreshold: Double?
    /// The drafts to verify passed the gate: they say nothing of how often this request's drafts
    /// are accepted in general, which its controller estimates.
    var draftsGated = false
    /// Rows waiting for the draft's context pass: the token at position t+1 and the verifier
    /// features at position t, for consecutive positions starting at `draftSynced`.
    var pendingTokens: [Int] = []
    var pendingFeatures: [Float] = []
    /// Draft cache positions built from verifier features (chain entries lie beyond).
    var draftSynced = 0
    /// Outputs of the engine's `captureLayers` for the positions run so far (capturing engines only).
    var captured: [Float] = []
    var text: OutputText
    var random: RandomSource
    var stats = SpeculationStats()
    /// Tokens the controller expected of `drafts` when the planner chose their number (`PlannerAudit`).
    var predictedTokens = 0.0
    var controller: AdaptiveSpeculation
    var finish: FinishReason?
    var stopReason: StopReason?
    let cancelled = Atomic<Bool>(false)
    /// Tokens emitted since the last event.
    var newTokens: [Int] = []
    /// The storage `newTokens` takes next (`takeNewTokens`).
    private var spareTokens: [Int] = []
    /// The last token and drafts of the step's verification (storage reused from step to step).
    var verifyTokens: [Int] = []
    /// The token a draft chain step feeds (storage reused likewise).
    var chainToken: [Int] = []
    /// Queued rows the step's draft context pass takes (`proposeDrafts`).
    var draftContextRows = 0
    var newLogprobs: [TokenLogprob] = []
    /// Prompt positions scored so far (`GenerationRequest.promptLogprobs`), and whether they went
    /// out on an event.
    var promptLogprobs: [TokenLogprob] = []
    var promptLogprobsSent = false
    var firstTokenEmitted = false

    init(id: Int, request: GenerationRequest, verifierCache: KVCache, draftCache: KVCache?, text: OutputText,
         controller: AdaptiveSpeculation, eosTokenIds: Set<Int> = []) {
        self.id = id
        self.request = request
        minTokensHeldIds = request.minTokens > 0 ? request.stopTokenIds.union(eosTokenIds) : []
        self.verifierCache = verifierCache
        self.draftCache = draftCache
        self.text = text
        self.controller = controller
        random = request.sampling.seed.map { RandomSource(seed: $0) } ?? RandomSource()
    }

    /// The tokens emitted since the last event, leaving `newTokens` empty. Two arrays take
    /// turns: the event gets one, and `newTokens` continues in the other, which the event before
    /// last had, so that no step allocates once the consumer lets its events go.
    func takeNewTokens() -> [Int] {
        let taken = newTokens
        newTokens = spareTokens
        spareTokens = taken // before emptying `newTokens`, which must then be its storage's only holder
        newTokens.removeAll(keepingCapacity: true)
        return taken
    }

    /// Sizes the arrays a decode step appends to for the whole request (`outputTokens` tokens
    /// at most, `drafts` drafts a step), so that they never grow while it decodes.
    func reserveCapacity(outputTokens: Int, drafts: Int) {
        output.reserveCapacity(outputTokens)
        self.drafts.reserveCapacity(drafts)
        draftConfidences.reserveCapacity(drafts)
        verifyTokens.reserveCapacity(drafts + 1)
        newTokens.reserveCapacity(drafts + 1)
        spareTokens.reserveCapacity(drafts + 1)
        chainToken.reserveCapacity(1)
    }

    var isPrefilling: Bool { prefilled < request.prompt.count }
    /// Its next rows may be changed before a token is chosen (`LogitProcessor`): penalties, bias
    /// or allowed tokens, or `min_tokens` still holding EOS and stop ids back. They then need
    /// every logit (no argmax screening).
    var adjustsNextRows: Bool { request.sampling.adjustsLogits || output.count < request.minTokens }
    var isFinished: Bool { finish != nil }
    /// Tokens in the sequence so far (prompt and output).
    var length: Int { request.prompt.count + output.count }

    /// Frees both caches at once (finished or cancelled requests).
    func release() {
        verifierCache = nil
        draftCache = nil
        pendingFeatures = []
        pendingTokens = []
        drafts = []
        draftConfidences = []
        captured = []
    }
}
