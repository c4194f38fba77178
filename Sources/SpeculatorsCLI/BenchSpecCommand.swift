import ArgumentParser
import Engine
import Foundation
import Models
import Tensors

/// `speculators bench spec`: a prompt set with and without drafts in the same run.
///
/// For every batch size it runs plain decoding and every draft (`--speculator` plus each
/// `--compare`) at each pinned k and in adaptive mode, and prints tokens per second, the speedup
/// over plain decoding, the mean acceptance length, per-position acceptance, and whether the
/// greedy outputs equal the plain ones token for token.
///
/// The variants take turns on consecutive chunks of the prompt set (chunk 1: plain, A k=1, ...;
/// chunk 2: plain, A k=1, ...). On a shared machine whose speed drifts by tens of percent from
/// minute to minute, that keeps every ratio a comparison of the same minutes, not of two
/// different stretches of the run. One request at a time, the turns are two prompts long:
/// two identical variants (plain decoding, and the draft loaded at k = 0) measured 0.900x,
/// 1.121x and 1.155x in turns of 16 prompts (about 25 s each), 1.005x, 1.005x and 1.025x in
/// turns of two. A batch keeps turns of 16 prompts (at least twice the batch), so that the
/// stretch at the end of a turn where the batch runs short stays a small part of it. Adaptive
/// variants keep what they learnt (pass costs, the gate's calibration) from turn to turn, as a
/// server does.
struct BenchSpecCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "spec", abstract: "Speculative decoding speed and acceptance on a prompt set (default MT-Bench).")

    @OptionGroup var models: ModelOptions
    @Option(help: "Another speculator folder measured in the same run (repeatable), e.g. a reference draft.")
    var compare: [String] = []
    @Option(help: "Prompts: MT-Bench question.jsonl (first turns) or JSONL with a \"prompt\" or \"text\" field.")
    var prompts = "data/mt_bench_question.jsonl"
    @Option(help: "Use only the first N prompts.") var limit: Int?
    @Option(help: "New tokens per prompt.") var maxTokens = 128
    @Option(help: "Draft lengths to pin, comma-separated.") var k = "1,2,3,4,5"
    @Option(help: "Concurrent requests, comma-separated.") var batch = "1,4,8"
    @Option(help: "Prompts per turn of the interleaving (default: 2 at batch 1, else 16; at least twice the batch).")
    var chunk: Int?
    @Flag(help: "Also run adaptive speculation (without and with the confidence gate).") var adaptive = false
    @Flag(help: "Send prompts as raw text instead of chat turns.") var raw = false
    @Flag(help: "Generate max-tokens tokens even past the end-of-sequence token (by default a response ends there, as in vLLM's spec_decode example and in real requests).")
    var ignoreEos = false

    /// One configuration measured: a draft (or none) and its pinned k (nil: adaptive, with or
    /// without the confidence gate).
    struct Variant {
        let label: String
        let draft: Eagle3DraftModel?
        let k: Int?
        var costs: SpeculationCosts? = nil
        var gate = false
    }

    func validate() throws {
        try requireOption(maxTokens >= 1, "--max-tokens must be at least 1, got \(maxTokens)")
        if let limit { try requireOption(limit >= 1, "--limit must be at least 1, got \(limit)") }
        if let chunk { try requireOption(chunk >= 1, "--chunk must be at least 1, got \(chunk)") }
        _ = try integerList(k, option: "--k", minimum: 0)
        _ = try integerList(batch, option: "--batch", minimum: 1)
    }

    func run() throws {
        let bundle = try models.loadBundle()
        var drafts: [(name: String, model: Eagle3DraftModel)] = []
        for folder in (models.speculator.map { [$0] } ?? []) + compare {
            // Labelled by folder name, or by the path as given when two folders share a name.
            let name = URL(fileURLWithPath: folder).lastPathComponent
            let shared = ((models.speculator.map { [$0] } ?? []) + compare).filter { URL(fileURLWithPath: $0).lastPathComponent == name }
            drafts.append((shared.count > 1 ? folder : name,
                           try Eagle3DraftModel.load(folder: URL(fileURLWithPath: folder), verifier: bundle.verifier)))
        }
        guard !drafts.isEmpty else { throw CommandFailure("bench spec needs --speculator <folder>") }
        let promptSet = try PromptSet.load(path: prompts, limit: limit)
        let encoded = try promptSet.map { try PromptEncoding.encode($0.text, chat: !raw, bundle: bundle) }
        let categories = promptSet.map(\.category)
        let pool = ThreadPool(threadCount: models.threads)
        let ks = try integerList(k, option: "--k", minimum: 0)
        let batches = try integerList(batch, option: "--batch", minimum: 1)
        report("verifier \(bundle.path.lastPathComponent), speculators \(drafts.map(\.name).joined(separator: ", ")), \(encoded.count) prompts, \(maxTokens) new tokens at most\(ignoreEos ? " (past end-of-sequence)" : " (a response ends at end-of-sequence)"), greedy, \(pool.threadCount) threads")
        var variants = [Variant(label: "plain", draft: nil, k: 0)]
        for (name, model) in drafts {
            let prefix = drafts.count > 1 ? "\(name) " : ""
            variants += ks.map { Variant(label: "\(prefix)k=\($0)", draft: model, k: $0) }
            if adaptive {
                // Measured once per draft and handed to every engine of the variant, as the
                // server measures once at start.
                let calibration = makeEngine(bundle: bundle, draft: model, k: nil, pool: pool)
                try calibration.calibrateCosts(maxRows: min(64, batches.map { $0 * 6 }.max() ?? 8))
                report("\(name) pass costs: \(calibration.costs.summary())")
                variants.append(Variant(label: "\(prefix)adaptive", draft: model, k: nil, costs: calibration.costs))
                variants.append(Variant(label: "\(prefix)adaptive with gate", draft: model, k: nil, costs: calibration.costs, gate: true))
            }
        }
        var summary: [String] = []
        for size in batches {
            let chunkSize = max(chunk ?? (size == 1 ? 2 : 16), 2 * size)
            var results = Array(repeating: SetResult(), count: variants.count)
            for start in stride(from: 0, to: encoded.count, by: chunkSize) {
                let part = Array(encoded[start..<min(start + chunkSize, encoded.count)])
                for (index, variant) in variants.enumerated() {
                    // The pass costs learnt and the gate's calibration carry over from one turn
                    // to the next, as in a server.
                    var continued = variant
                    if let learnt = results[index].costs { continued.costs = learnt }
                    results[index].append(try runSet(bundle: bundle, variant: continued, confidence: results[index].confidence,
                                                     prompts: part, batch: size, pool: pool))
                }
                // Progress every 16 prompts or so, however short the turns.
                let done = min(start + chunkSize, encoded.count)
                if done / 16 > start / 16 || done == encoded.count {
                    printError("batch \(size): \(done)/\(encoded.count) prompts done by every variant")
                }
            }
            for (index, variant) in variants.enumerated() {
                let line = results[index].line(label: "batch \(size) \(variant.label)", baseline: results[0])
                report(line)
                if variant.k == nil, variant.draft != nil { report("  planner: \(results[index].audit.summary); due probes waited \(results[index].probesPostponed) request-steps") }
                if variant.gate, let confidence = results[index].confidence {
                    report("  confidence gate: ran in \(results[index].gatedSteps) steps, dropped \(results[index].gatedDraftsDropped) drafts; acceptance by confidence (share of first proposals): \(confidence.summary)")
                }
                if variant.draft != nil, let line = results[index].byCategory(categories) { report("  by category: \(line)") }
                if index > 0 { summary.append(line) }
            }
        }
        report("\nsummary")
        for line in summary { report(line) }
    }

    struct SetResult {
        var tokens = 0
        var seconds = 0.0
        var outputs: [[Int]] = []
        /// Each prompt's own statistics, in prompt order.
        var perPrompt: [SpeculationStats] = []
        var audit = PlannerAudit()
        /// Request-steps in which a due probe waited (`SpeculationPlanner.affordableProbes`).
        var probesPostponed = 0
        /// The pass costs an adaptive engine had learnt by the end of the newest turn.
        var costs: SpeculationCosts?
        /// The confidence gate's calibration after the newest turn, its steps and dropped drafts.
        var confidence: ConfidenceCalibration?
        var gatedSteps = 0
        var gatedDraftsDropped = 0

        var rate: Double { Double(tokens) / max(seconds, 1e-9) }
        var stats: SpeculationStats { perPrompt.reduce(into: SpeculationStats()) { $0.add($1) } }

        mutating func append(_ other: SetResult) {
            tokens += other.tokens
            seconds += other.seconds
            outputs += other.outputs
            perPrompt += other.perPrompt
            audit.add(other.audit)
            probesPostponed += other.probesPostponed
            costs = other.costs
            confidence = other.confidence
            gatedSteps += other.gatedSteps
            gatedDraftsDropped += other.gatedDraftsDropped
        }

        /// Mean acceptance length per prompt category, in order of first appearance (nil when the
        /// prompts have no categories).
        func byCategory(_ categories: [String?]) -> String? {
            guard categories.contains(where: { $0 != nil }), categories.count == perPrompt.count else { return nil }
            var order: [String] = []
            var totals: [String: SpeculationStats] = [:]
            for (category, stats) in zip(categories, perPrompt) {
                let name = category ?? "other"
                if totals[name] == nil { order.append(name) }
                totals[name, default: SpeculationStats()].add(stats)
            }
            return order.map { String(format: "%@ %.3f", $0, totals[$0]?.meanAcceptanceLength ?? 0) }.joined(separator: ", ")
        }

        func line(label: String, baseline: SetResult) -> String {
            let stats = self.stats
            let positions = stats.acceptedPerPosition.map { String(format: "%.3f", Double($0) / Double(max(stats.drafts, 1))) }
            let same = zip(outputs, baseline.outputs).filter { $0 == $1 }.count
            return String(format: "%@: %.1f tok/s, speedup %.3fx, mean acceptance length %.3f, per-position [%@], identical to plain %d/%d",
                          label, rate, rate / baseline.rate, stats.meanAcceptanceLength,
                          positions.joined(separator: ", "), same, outputs.count)
        }
    }

    func makeEngine(bundle: ModelBundle, draft: Eagle3DraftModel?, k: Int?, costs: SpeculationCosts? = nil,
                    gate: Bool = false, pool: ThreadPool) -> SpeculativeEngine {
        SpeculativeEngine(
            verifier: bundle.verifier, draft: draft,
            configuration: .init(maxSpeculativeTokens: draft == nil ? 0 : max(k ?? 0, draft?.config.speculativeTokens ?? 0, 5),
                                 speculativeTokens: draft == nil ? 0 : k, maxModelLength: bundle.verifier.config.maxPositions,
                                 eosTokenIds: bundle.eosTokenIds, confidenceGate: gate),
            pool: pool, costs: costs, makeTextStream: { bundle.textStream(skipSpecialTokens: $0) })
    }

    /// Runs every prompt with at most `batch` requests in flight (continuous batching).
    func runSet(bundle: ModelBundle, variant: Variant, confidence: ConfidenceCalibration?, prompts: [[Int]],
                batch: Int, pool: ThreadPool) throws -> SetResult {
        let engine = makeEngine(bundle: bundle, draft: variant.draft, k: variant.k, costs: variant.costs,
                                gate: variant.gate, pool: pool)
        if let confidence { engine.confidence = confidence }
        var outputs = Array(repeating: [Int](), count: prompts.count)
        var perPrompt = Array(repeating: SpeculationStats(), count: prompts.count)
        var slotOfRequest: [Int: Int] = [:]
        var next = 0
        var tokens = 0
        let start = now()
        while next < prompts.count || engine.hasWork {
            while next < prompts.count && engine.activeCount < batch {
                let id = try engine.add(GenerationRequest(prompt: prompts[next], maxTokens: maxTokens, ignoreEOS: ignoreEos))
                slotOfRequest[id] = next
                next += 1
            }
            for event in try engine.step() {
                guard let slot = slotOfRequest[event.requestId] else { continue }
                outputs[slot] += event.tokens
                tokens += event.tokens.count
                if let finished = event.stats { perPrompt[slot] = finished }
            }
        }
        return SetResult(tokens: tokens, seconds: now() - start, outputs: outputs, perPrompt: perPrompt,
                         audit: engine.audit, probesPostponed: engine.probesPostponed,
                         costs: variant.k == nil ? engine.costs : nil, confidence: engine.confidence,
                         gatedSteps: engine.gatedSteps, gatedDraftsDropped: engine.gatedDraftsDropped)
    }
}

/// Benchmark prompt files.
enum PromptSet {
    struct Prompt {
        let text: String
        /// MT-Bench's `category` (writing, math, ...), when the file has one.
        let category: String?
    }

    /// MT-Bench `question.jsonl` (first turn of `turns`) or JSONL with `prompt`/`text`.
    static func load(path: String, limit: Int?) throws -> [Prompt] {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw CommandFailure("\(path): cannot read the prompt file (run `make models` to fetch MT-Bench)")
        }
        var prompts: [Prompt] = []
        for (number, line) in String(decoding: data, as: UTF8.self).split(separator: "\n").enumerated() {
            let trimmed = line.trimmingCharacters(in: .whitespaces)
            if trimmed.isEmpty { continue }
            guard let object = try? JSONSerialization.jsonObject(with: Data(trimmed.utf8)) as? [String: Any] else {
                throw CommandFailure("\(path):\(number + 1): not a JSON object")
            }
            let category = object["category"] as? String
            if let turns = object["turns"] as? [String], let first = turns.first {
                prompts.append(Prompt(text: first, category: category))
            } else if let text = (object["prompt"] ?? object["text"]) as? String {
                prompts.append(Prompt(text: text, category: category))
            } else {
                throw CommandFailure("\(path):\(number + 1): no \"turns\", \"prompt\" or \"text\" field")
            }
            if let limit, prompts.count >= limit { break }
        }
        return prompts
    }
}
