import Foundation
import Models
import Tensors

/// Runs many requests together: chunked prefill, batched EAGLE-3 drafting and batched
/// verification, one step at a time.
///
/// Each `step()` is "verify the drafts proposed last step, then draft for the next step"
/// (vLLM's order): one verifier forward over every running sequence (its last token plus its
/// drafts, or a prefill chunk), acceptance per sequence, rollback of rejected positions in both
/// caches, then one batched draft context pass and `k - 1` batched chain steps. Greedy requests
/// emit exactly the tokens plain greedy decoding would; sampled requests follow the verifier's
/// distribution exactly. Not thread-safe: the scheduler's loop owns it.
public final class SpeculativeEngine {
    public struct Configuration: Sendable {
        /// Most draft tokens per step (the speculator's default proposal length unless set).
        public var maxSpeculativeTokens: Int
        /// Pins k for every request that does not pin its own (nil: adaptive).
        public var speculativeTokens: Int?
        /// Prompt tokens per prefill chunk; prompts are always cut at multiples of this, so a
        /// prompt's arithmetic never depends on what else is running.
        public var prefillChunk: Int
        /// Verifier rows per step, drafts and prefill chunks included (at least one chunk runs).
        public var maxBatchTokens: Int
        /// Longest sequence (prompt + output) a request may reach.
        public var maxModelLength: Int
        public var eosTokenIds: Set<Int>
        /// Draft features a request that is not drafting may queue; beyond them its draft
        /// restarts from the newest half (see `restartDraft`). Eight: the planner charges a
        /// request that starts drafting for catching its draft up on the queued rows, all in that
        /// one step, so with up to 64 a request that had idled a while looked too dear to draft
        /// again where verification is cheap relative to the draft (quantised weights, MT-Bench
        /// batch 1, same runs against k = 1's 1.13x: adaptive 1.044x with 64, 1.109x with 8, and
        /// the first draft position accepted a little more often, 0.592 against 0.576). With
        /// float32 weights, adaptive against k = 3 at batch 1 and against plain at batch 8 stayed
        /// where it was (1.384x against 1.343x; 0.999x).
        public var draftRestartRows: Int
        /// Verifier layers (ids as `TransformerModel.forward`'s `auxiliaryLayers`) whose outputs
        /// are recorded for every position of every request, prompt and output, and handed over
        /// on the finishing event (`GenerationEvent.capturedStates`). For training data: it
        /// saves running each finished sequence through the verifier a second time. Only
        /// without a draft (a draft needs its own layers).
        public var captureLayers: [Int]
        /// When plain decoding wins for a request, may it still draft one token and have it
        /// verified only if the draft is sure enough (`ConfidenceCalibration`)? Adaptive only:
        /// requests with a pinned k never are gated. Off by default: with the shipped SmolLM2 draft
        /// it wins and loses by about as much (config/README.md has the numbers).
        public var confidenceGate: Bool
        /// Greedy rows without log-probabilities get their argmax from the verifier's bfloat16-
        /// screened head (`ScreenedArgmaxHead`: the same tokens, half the head's bytes read).
        public var argmaxScreening: Bool

        public init(maxSpeculativeTokens: Int = 3, speculativeTokens: Int? = nil, prefillChunk: Int = 256,
                    maxBatchTokens: Int = 512, maxModelLength: Int, eosTokenIds: Set<Int>, draftRestartRows: Int = 8,
                    captureLayers: [Int] = [], confidenceGate: Bool = false, argmaxScreening: Bool = true) {
            self.maxSpeculativeTokens = maxSpeculativeTokens
            self.speculativeTokens = speculativeTokens
            self.prefillChunk = prefillChunk
            self.maxBatchTokens = maxBatchTokens
            self.maxModelLength = maxModelLength
            self.eosTokenIds = eosTokenIds
            self.draftRestartRows = max(2, draftRestartRows)
            self.captureLayers = captureLayers
            self.confidenceGate = confidenceGate
            self.argmaxScreening = argmaxScreening
        }
    }

    public enum EngineError: Error, CustomStringConvertible {
        case promptTooLong(tokens: Int, limit: Int)
        case emptyPrompt
        case invalidToken(Int)
        case invalidRequest(String)
        public var description: String {
            switch self {
            case let .promptTooLong(tokens, limit): return "the prompt has \(tokens) tokens; the limit is \(limit)"
            case .emptyPrompt: return "the prompt is empty"
            case let .invalidToken(token): return "token id \(token) is outside the vocabulary"
            case let .invalidRequest(problem): return problem
            }
        }
    }

    public let verifier: TransformerModel
    public let draft: Eagle3DraftModel?
    public private(set) var configuration: Configuration
    public let pool: ThreadPool
    /// A text stream for a request; the argument says whether it leaves special tokens out.
    let makeTextStream: (_ skipSpecialTokens: Bool) -> any TextStream

    var sequences: [SequenceState] = []
    private var nextId = 0
    var sampler: Sampler
    /// Penalties, logit bias, allowed tokens and `min_tokens` applied to rows before choosing.
    let logitProcessor: LogitProcessor
    /// Measured pass costs the planner chooses draft lengths from (see `calibrateCosts`).
    public internal(set) var costs: SpeculationCosts
    /// Totals over every finished request.
    public private(set) var totals = SpeculationStats()
    /// True while not even a good draft would pay at the current batch (`planDraftLengths`).
    public internal(set) var draftingDormant = false
    /// The acceptance a new request's controller starts from: the draft's first-position
    /// acceptance over the drafts verified so far that were made with the whole context (once
    /// there are 50), else 0.6.
    ///
    /// With the fixed 0.6, every arriving request looked like a good drafter until a few of its
    /// own drafts had been rejected, so a batch of eight under steady load (requests arriving all
    /// the time) kept drafting where the draft, at 0.37, could not pay.
    ///
    /// Only drafts made with the whole context count, as a new request's are: a request that
    /// idles restarts its draft from its last few positions (`restartDraft`), and drafts from such
    /// a window are accepted less often, so counting them made every later request start lower.
    /// (Under one client the default server sometimes settles at plain decoding for a whole run:
    /// first-position acceptance 0.23-0.36 and 330-340 tok/s, against 0.56-0.63 and 360-384 in
    /// the other runs. Seen in 4 of 15 starts before this change, 2 of 8 after it, then in none
    /// of 22; the cause is not pinned down.)
    ///
    /// Once the confidence gate has run, verified drafts are a chosen few, so the prior is the
    /// calibrated acceptance of all recent first proposals instead.
    public var acceptancePrior: Double {
        if confidence.proposals >= 50 { return min(0.95, max(0.05, confidence.meanAcceptance)) }
        guard wholeContextDrafts >= 50 else { return 0.6 }
        return min(0.95, max(0.05, Double(wholeContextFirstAccepted) / Double(wholeContextDrafts)))
    }
    /// Verified drafts made with the draft's whole context, and those whose first token was accepted.
    public internal(set) var wholeContextDrafts = 0
    public internal(set) var wholeContextFirstAccepted = 0
    /// Acceptance by draft confidence, and how sure the draft's recent first proposals were.
    /// Settable so that an engine may start from another's (`bench spec` runs its turns on fresh engines).
    public var confidence = ConfidenceCalibration()
    /// Steps the confidence gate ran in, and gated drafts it dropped unverified.
    public internal(set) var gatedSteps = 0
    public internal(set) var gatedDraftsDropped = 0
    /// Rows a gated request's draft catches up on at most (`restartDraft(_:keeping:)`).
    static let gateRestartRows = 4

    /// Steps whose draft lengths were chosen to measure a pass the planner had stopped running
    /// (`planDraftLengths`), and steps since the last one.
    public internal(set) var costChecks = 0
    var stepsSinceCostCheck = 0
    static let costCheckInterval = 64
    /// Times a request's draft restarted from recent positions after idling (`restartDraft`).
    public internal(set) var draftRestarts = 0
    /// Times a request's due probe waited a step because it would have cost more than its budget.
    public internal(set) var probesPostponed = 0
    /// The planner's predictions against what the steps it planned did.
    public internal(set) var audit = PlannerAudit()
    /// The prediction for the drafts proposed last, settled by the next verification.
    var pendingPrediction: PendingPrediction?
    /// What the last step did: drafts verified, tokens accepted and emitted (for live metrics).
    public internal(set) var lastStep = StepReport()
    /// Copies of the verifier features a step's draft context pass needs.
    var hiddenScratch: [Float] = []
    /// Draft chain state between steps: each proposing row's hidden state, and the rows going on
    /// (kept across steps so drafting reuses their storage instead of allocating per token).
    var chainScratch: [Float] = []
    var chainInputScratch: [Float] = []
    /// A step's bookkeeping, kept between steps so that the arrays keep their storage and a step
    /// allocates nothing once they have grown to the batch (each is emptied before it is filled,
    /// and what holds other arrays is emptied when the step is done with it).
    var verificationPlan: [VerificationItem] = []
    var verifierRequests: [TransformerModel.Request] = []
    var acceptedTokens: [Int] = []
    var acceptedRows: [UnsafePointer<Float>] = []
    var stepEvents: [GenerationEvent] = []
    var draftRequests: [Eagle3DraftModel.Request] = []
    var proposingSequences: [ProposingSequence] = []
    var draftPlan: [(SequenceState, Int)] = []
    var plannedSequences: [SequenceState] = []
    var prefillingSequences: [SequenceState] = []
    var plannerCandidates: [SpeculationPlanner.Candidate] = []
    var optimisticCandidates: [SpeculationPlanner.Candidate] = []
    var gatedRequests: [Bool] = []
    let plannerWorkspace = SpeculationPlanner.Workspace()

    public init(verifier: TransformerModel, draft: Eagle3DraftModel?, configuration: Configuration,
                pool: ThreadPool, costs: SpeculationCosts? = nil,
                makeTextStream: @escaping (_ skipSpecialTokens: Bool) -> any TextStream) {
        self.verifier = verifier
        self.draft = draft
        var configuration = configuration
        configuration.maxModelLength = min(configuration.maxModelLength, verifier.config.maxPositions)
        if draft == nil { configuration.maxSpeculativeTokens = 0 } else { configuration.captureLayers = [] }
        // Only a batch-invariant verifier screens (see `TransformerModel.computeHead`).
        if configuration.argmaxScreening {
            configuration.argmaxScreening = verifier.batchInvariant && verifier.enableArgmaxScreening()
        }
        self.configuration = configuration
        self.pool = pool
        self.makeTextStream = makeTextStream
        sampler = Sampler(vocabularySize: verifier.config.vocabSize)
        logitProcessor = LogitProcessor(vocabularySize: verifier.config.vocabSize)
        self.costs = costs ?? SpeculationCosts(maxRows: configuration.maxBatchTokens)
        acceptedTokens.reserveCapacity(configuration.maxSpeculativeTokens + 1)
        acceptedRows.reserveCapacity(configuration.maxSpeculativeTokens + 1)
    }

    public var activeCount: Int { sequences.count }
    /// Verifier KV-cache positions held by the running requests (prompt and output so far).
    public var cachedPositions: Int { sequences.reduce(0) { $0 + ($1.verifierCache?.length ?? 0) } }
    public var hasWork: Bool { !sequences.isEmpty }

    /// Admits a request; it starts prefilling in the next step. Returns its id.
    @discardableResult
    public func add(_ request: GenerationRequest) throws -> Int {
        guard !request.prompt.isEmpty else { throw EngineError.emptyPrompt }
        if let problem = request.problem { throw EngineError.invalidRequest(problem) }
        let vocabulary = 0..<verifier.config.vocabSize
        if let bad = request.prompt.first(where: { !vocabulary.contains($0) }) { throw EngineError.invalidToken(bad) }
        if let bad = request.sampling.logitBias.keys.first(where: { !vocabulary.contains($0) }) {
            throw EngineError.invalidRequest("logit_bias names token id \(bad), outside the vocabulary (0..<\(vocabulary.upperBound))")
        }
        if let bad = request.sampling.allowedTokenIds?.first(where: { !vocabulary.contains($0) }) {
            throw EngineError.invalidRequest("allowed_token_ids names token id \(bad), outside the vocabulary (0..<\(vocabulary.upperBound))")
        }
        let limit = configuration.maxModelLength
        guard request.prompt.count < limit else { throw EngineError.promptTooLong(tokens: request.prompt.count, limit: limit) }
        let maxDraft = draft == nil ? 0 : configuration.maxSpeculativeTokens
        // + 2: the bonus token, and the final token a capturing engine runs (`captureFinalPositions`).
        let capacity = min(limit, request.prompt.count + request.maxTokens + maxDraft + 2)
        let verifierCache = try verifier.makeCache(capacity: capacity)
        let draftCache = try draft.map { try $0.makeCache(capacity: capacity) }
        let pinned = request.speculativeTokens ?? configuration.speculativeTokens
        let state = SequenceState(
            id: nextId, request: request, verifierCache: verifierCache, draftCache: draftCache,
            text: OutputText(stream: makeTextStream(request.skipSpecialTokens), stopStrings: request.stopStrings,
                             includeStopString: request.includeStopStringInOutput),
            controller: AdaptiveSpeculation(maxTokens: draft == nil ? 0 : configuration.maxSpeculativeTokens,
                                            pinned: draft == nil ? 0 : pinned, prior: acceptancePrior),
            eosTokenIds: configuration.eosTokenIds)
        state.reserveCapacity(outputTokens: max(0, min(request.maxTokens, capacity - request.prompt.count)), drafts: maxDraft)
        nextId += 1
        sequences.append(state)
        return state.id
    }

    /// Marks a request cancelled (any thread); its caches are freed at the next step.
    public func cancel(_ id: Int) {
        sequences.first { $0.id == id }?.cancelled.store(true, ordering: .releasing)
    }

    /// Runs one step and returns the events it produced (one per request that made progress).
    /// The array returned is the engine's own, overwritten by the next step: a caller that lets
    /// it go before then (all of ours do) saves an allocation a step; one that keeps it keeps
    /// its events all the same (the next step then writes to a copy).
    public func step() throws -> [GenerationEvent] {
        stepEvents.removeAll(keepingCapacity: true)
        for sequence in sequences where sequence.cancelled.load(ordering: .acquiring) && !sequence.isFinished {
            sequence.finish = .abort
            stepEvents.append(makeEvent(sequence, flush: false))
        }
        sequences.removeAll { $0.isFinished }
        lastStep.startStep()
        guard !sequences.isEmpty else { return stepEvents }

        let plan = planVerification()
        lastStep.scheduledTokens = plan.reduce(0) { $0 + $1.tokens.count }
        lastStep.prefillTokens = plan.filter(\.isPrefill).reduce(0) { $0 + $1.tokens.count }
        try verify(plan)
        if !configuration.captureLayers.isEmpty {
            try captureFinalPositions(plan.map(\.sequence).filter { $0.isFinished && $0.finish != .abort })
        }
        for item in plan where item.sequence.isFinished || !item.sequence.newTokens.isEmpty {
            stepEvents.append(makeEvent(item.sequence, flush: true))
        }
        for sequence in sequences where sequence.isFinished {
            totals.add(sequence.stats)
            sequence.release()
        }
        sequences.removeAll { $0.isFinished }
        try proposeDrafts()
        lastStep.plannerAudit = audit
        lastStep.gatedSteps = gatedSteps
        lastStep.gatedDraftsDropped = gatedDraftsDropped
        return stepEvents
    }

    /// Builds a request's event from what it emitted since the last one.
    func makeEvent(_ sequence: SequenceState, flush: Bool) -> GenerationEvent {
        let text = sequence.isFinished ? sequence.text.takeAll(flush: flush && sequence.finish != .abort)
                                       : sequence.text.takeReleasable()
        var promptLogprobs: [TokenLogprob]?
        if sequence.request.promptLogprobs != nil, !sequence.promptLogprobsSent, !sequence.isPrefilling {
            promptLogprobs = sequence.promptLogprobs
            sequence.promptLogprobs = []
            sequence.promptLogprobsSent = true
        }
        let event = GenerationEvent(
            requestId: sequence.id, tokens: sequence.takeNewTokens(), text: text, logprobs: sequence.newLogprobs,
            promptLogprobs: promptLogprobs,
            finish: sequence.finish, stopReason: sequence.stopReason,
            stats: sequence.isFinished ? sequence.stats : nil, promptTokens: sequence.request.prompt.count,
            generatedTokens: sequence.output.count,
            capturedStates: sequence.isFinished && !configuration.captureLayers.isEmpty ? sequence.captured : nil)
        if sequence.isFinished { sequence.captured = [] }
        sequence.newLogprobs.removeAll(keepingCapacity: true)
        return event
    }
}
