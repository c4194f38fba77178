import Engine
import Foundation

/// Magpie-style prompt synthesis: the verifier writes the user turns itself. The chat template is rendered
/// up to an open user header (after the system turn), and the verifier continues it at temperature 1.0 /
/// top-p 0.95 until its end-of-turn token. Unfinished prompts (no end token within `maxTokens`) are dropped,
/// duplicates (by normalised text) and evaluation prompts too.
///
/// With `openings`, the user turn is started for the verifier: attempt `i` begins with
/// `openings[i % openings.count]` ("Write a", "Imagine you are", ...). Left free, a small verifier
/// mostly writes short questions; started, it writes the tasks and role-plays users also ask for.
public struct MagpieSynthesizer {
    public var system: String?
    public var openings: [String] = []
    public var maxTokens = 60
    public var temperature: Float = 1.0
    public var topP: Float = 0.95
    public var seed: UInt64

    public init(system: String? = nil, seed: UInt64) {
        self.system = system
        self.seed = seed
    }

    /// Up to `count` distinct prompts, in the order they were sampled (attempt `i` uses seed `seed + i`,
    /// so the list depends only on the seed and the count). Gives up after `4 · count + 16` attempts.
    public func synthesize(count: Int, renderer: any ConversationRenderer, generator: ResponseGenerator,
                           guard evaluationGuard: EvaluationGuard, report: @escaping (String) -> Void = { _ in }) throws -> [String] {
        let headers = try (openings.isEmpty ? [""] : openings).map { try renderer.openUserTurn(system: system, opening: $0) }
        let openingTexts = openings.isEmpty ? [""] : openings
        var prompts: [String] = []
        var seen = Set<String>()
        var attempts = 0
        let limit = 4 * count + 16
        var meter = ProgressMeter(label: "magpie prompts", total: count, tokenUnit: "generated tokens", report: report)
        var generated = 0
        var dropped = (unfinished: 0, duplicate: 0, evaluation: 0)
        while prompts.count < count, attempts < limit {
            // A quarter more than still needed: about that many are unfinished or duplicates.
            let batch = min(limit - attempts, (count - prompts.count) * 5 / 4 + 4)
            let first = attempts
            let completions = try generator.generate(
                (first..<(first + batch)).map { headers[$0 % headers.count] }, maxTokens: maxTokens,
                sampling: { SamplingParameters(temperature: temperature, topP: topP, seed: seed &+ UInt64(first + $0)) })
            attempts += batch
            generated += completions.reduce(0) { $0 + $1.tokens.count }
            var unused = 0
            for (offset, completion) in completions.enumerated() {
                guard prompts.count < count else { unused += 1; continue }
                guard completion.stopped, completion.tokens.count > 1 else { dropped.unfinished += 1; continue }
                let opening = openingTexts[(first + offset) % openingTexts.count]
                let text = (opening + renderer.text(of: Array(completion.tokens.dropLast()))).trimmingCharacters(in: .whitespacesAndNewlines)
                guard !text.isEmpty else { dropped.unfinished += 1; continue }
                guard evaluationGuard.evaluationSet(of: text) == nil else { dropped.evaluation += 1; continue }
                guard seen.insert(EvaluationGuard.normalise(text)).inserted else { dropped.duplicate += 1; continue }
                prompts.append(text)
            }
            attempts -= unused
            meter.update(done: prompts.count, tokens: generated, force: true)
        }
        report("magpie prompts: \(prompts.count) kept of \(attempts) sampled (\(dropped.unfinished) unfinished, \(dropped.duplicate) duplicates, \(dropped.evaluation) evaluation prompts)")
        return prompts
    }
}
