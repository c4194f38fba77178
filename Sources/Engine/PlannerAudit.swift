/// How well the planner's predictions held: what it expected of the steps it planned against
/// what they did.
///
/// The planner trades tokens for time on two estimates, each request's acceptance and each
/// pass's cost. When either is biased the trade goes wrong without any error to show for it;
/// under steady load with a weak draft, a batch of eight ran 7% slower with the draft than
/// without. These totals say which estimate to distrust: emitted over predicted tokens of the
/// requests that drafted, and measured over predicted seconds, split by whether the step drafted.
public struct PlannerAudit: Sendable, Equatable {
    public struct Timing: Sendable, Equatable {
        /// Steps counted (those whose verifier pass ran no prompt chunk).
        public var steps = 0
        public var predictedDraftSeconds = 0.0
        public var measuredDraftSeconds = 0.0
        public var predictedVerifySeconds = 0.0
        public var measuredVerifySeconds = 0.0

        /// Measured over predicted seconds of whole steps (1 when the cost curves are right).
        public var ratio: Double { Self.ratio(measuredDraftSeconds + measuredVerifySeconds,
                                              predictedDraftSeconds + predictedVerifySeconds) }
        public var draftRatio: Double { Self.ratio(measuredDraftSeconds, predictedDraftSeconds) }
        public var verifyRatio: Double { Self.ratio(measuredVerifySeconds, predictedVerifySeconds) }

        static func ratio(_ measured: Double, _ predicted: Double) -> Double { predicted > 0 ? measured / predicted : 0 }

        mutating func add(_ other: Timing) {
            steps += other.steps
            predictedDraftSeconds += other.predictedDraftSeconds
            measuredDraftSeconds += other.measuredDraftSeconds
            predictedVerifySeconds += other.predictedVerifySeconds
            measuredVerifySeconds += other.measuredVerifySeconds
        }
    }

    /// Steps in which some request drafted, and steps of plain decoding.
    public var drafting = Timing()
    public var plain = Timing()
    /// Steps whose verifier pass also ran prompt chunks: measured only (prompt chunks are not on
    /// the planner's curves). Their draft passes include the draft's prefill of new prompts.
    public var prompt = Timing()
    /// Over every verified draft: tokens its request's acceptance estimate predicted when the
    /// planner chose its k, and tokens the verification emitted.
    public var predictedTokens = 0.0
    public var emittedTokens = 0

    public init() {}

    /// Emitted over predicted tokens of drafting requests (1 when the acceptance estimates are right).
    public var tokenRatio: Double { predictedTokens > 0 ? Double(emittedTokens) / predictedTokens : 0 }

    /// One line for logs and benchmark output.
    public var summary: String {
        func part(_ name: String, _ timing: Timing) -> String {
            String(format: "%@ steps %d, %.1f s (draft passes %.1f s), measured/predicted %.3f (draft passes %.3f, verification %.3f)",
                   name, timing.steps, timing.measuredDraftSeconds + timing.measuredVerifySeconds,
                   timing.measuredDraftSeconds, timing.ratio, timing.draftRatio, timing.verifyRatio)
        }
        let promptPart = String(format: "steps with prompts %d, %.1f s (draft passes %.1f s)", prompt.steps,
                                prompt.measuredDraftSeconds + prompt.measuredVerifySeconds, prompt.measuredDraftSeconds)
        return [part("drafting", drafting), part("plain", plain), promptPart,
                String(format: "drafting requests emitted/predicted tokens %.3f", tokenRatio)].joined(separator: "; ")
    }

    public mutating func add(_ other: PlannerAudit) {
        drafting.add(other.drafting)
        plain.add(other.plain)
        prompt.add(other.prompt)
        predictedTokens += other.predictedTokens
        emittedTokens += other.emittedTokens
    }

    /// Settles the prediction for a step with the time its verifier pass took (`withPrompts`:
    /// the pass also ran prompt chunks, so only the measured times count).
    mutating func settle(_ prediction: PendingPrediction, verifySeconds: Double, withPrompts: Bool = false) {
        var timing = Timing()
        timing.steps = 1
        timing.measuredDraftSeconds = prediction.draftSeconds
        timing.measuredVerifySeconds = verifySeconds
        if withPrompts {
            prompt.add(timing)
            return
        }
        guard prediction.predictedVerifySeconds > 0 else { return }
        timing.predictedDraftSeconds = prediction.predictedDraftSeconds
        timing.predictedVerifySeconds = prediction.predictedVerifySeconds
        if prediction.drafting { drafting.add(timing) } else { plain.add(timing) }
    }
}

/// The planner's prediction for the step being prepared: its draft passes now and the
/// verification pass that follows in the next step.
struct PendingPrediction {
    var predictedDraftSeconds: Double
    var predictedVerifySeconds: Double
    var drafting: Bool
    var draftSeconds = 0.0
}
