import Foundation
import Models
import Tensors

/// How the training-time-test forward runs (`training.md` §7).
public struct TTTOptions: Sendable, Equatable {
    /// Draft steps per position (`--ttt-steps`).
    public var steps: Int
    /// Step `k`'s loss is multiplied by `stepLossDecay^k` (`--ttt-step-loss-decay`).
    public var stepLossDecay: Double
    public var loss: DraftLossSpec
    /// Precision of the matrix products of the draft's layers and head, forward and backward, and
    /// of the verifier head that gives the target distributions (`--matmul-precision`), as the
    /// Python library's bf16 autocast computes them. Attention scores are always float32.
    public var precision: MatmulPrecision

    public init(steps: Int = 3, stepLossDecay: Double = 1.0, loss: DraftLossSpec = .klDivergence,
                precision: MatmulPrecision = .float32) {
        self.steps = steps
        self.stepLossDecay = stepLossDecay
        self.loss = loss
        self.precision = precision
    }
}

/// What one decoder layer of one TTT step keeps for the backward pass.
final class LayerActivations: @unchecked Sendable {
    /// Attention input: `[norm(e) | norm(h)]` (`[T, 2H]`) for layer 0, `norm(z)` (`[T, H]`) otherwise.
    let input = Scratch()
    /// `1/rms` of the embedding (layer 0) or of the layer input (later layers).
    let inputInverse = Scratch()
    /// Layer 0: `1/rms` of the hidden input.
    let hiddenInverse = Scratch()
    /// The layer's residual input (later layers: the previous layer's output).
    let residualInput = Scratch()
    /// Post-RoPE q, k, v of every row: this step's block of the TTT key/value cache.
    let qkv = Scratch()
    let attended = Scratch()
    let afterAttention = Scratch()
    let mlpInput = Scratch()
    let mlpInverse = Scratch()
    let gateUp = Scratch()
    let activated = Scratch()
    let output = Scratch()
    let attention = TTTAttentionRecord()
    /// Gradient of `qkv` (k/v columns accumulate over later steps).
    let qkvGradient = Scratch()
}

/// What one TTT step keeps.
final class StepActivations: @unchecked Sendable {
    let embedded = Scratch()
    let hiddenInput = Scratch()
    let finalNormed = Scratch()
    let finalInverse = Scratch()
    /// `∂L/∂(final normed)` from this step's loss (zero on rows without a loss).
    let headGradient = Scratch()
    var layers: [LayerActivations]
    init(layerCount: Int) { layers = (0..<layerCount).map { _ in LayerActivations() } }
}

/// The EAGLE-3 training forward with training-time test, and its hand-written backward pass.
///
/// Forward (`training.md` §7, `eagle3-model.md` §4): `g = fc(norms(aux))`; for each step `k`,
/// layer 0 attends over `[norm(embed(x_{t+1+k})) | hidden_norm(h_k)]` with the TTT block mask,
/// further layers are standard, `logits_k = lm_head(norm(z_k))`, and `h_{k+1} = norm_output ? n_k : z_k`.
/// Every step's loss compares row `t` with the verifier's distribution at row `t + k`.
///
/// Backward runs the steps in reverse: a step's key/value gradients are complete once all later
/// steps (which attend to its block through the diagonal) have been processed, and the gradient of
/// its output hidden state arrives from the next step. Frozen tensors (embedding, `lm_head`, the
/// verifier's norm and head) get no gradient, but gradients flow through `lm_head` to the draft.
///
/// Not re-entrant; activations live in reusable scratch buffers, so steady-state steps allocate
/// almost nothing.
public final class DraftTrainingPass: @unchecked Sendable {
    public let draft: TrainableDraft
    public let options: TTTOptions
    let pool: ThreadPool
    let rope: RotaryTables

    var steps: [StepActivations] = []
    let targets = TargetDistributions()
    let fcInput = Scratch()
    let fcInputInverse = Scratch()
    let logits = Scratch()
    let gathered = Scratch()
    let gatheredGradient = Scratch()
    let partials = Scratch()
    let hiddenGradient = Scratch()
    let nextHiddenGradient = Scratch()
    let outputGradient = Scratch()
    let residualGradient = Scratch()
    let mlpGradient = Scratch()
    let gateUpGradient = Scratch()
    let attendedGradient = Scratch()
    let inputGradient = Scratch()
    let attentionWorkspace: [Scratch]

    /// Record every row's logits of every step in `recordedLogits` (tests; costs a full head pass).
    public var recordLogits = false
    /// `[step][rows · Vd]` when `recordLogits` is set.
    public private(set) var recordedLogits: [[Float]] = []

    public init(draft: TrainableDraft, options: TTTOptions = TTTOptions(), pool: ThreadPool) throws {
        try draft.validate()
        guard options.steps >= 1 else { throw TrainingError.invalidOption("--ttt-steps must be at least 1, got \(options.steps)") }
        guard options.stepLossDecay.isFinite, options.stepLossDecay >= 0 else {
            throw TrainingError.invalidOption("--ttt-step-loss-decay must be a non-negative number")
        }
        guard !options.loss.terms.isEmpty else { throw TrainingError.invalidOption("the loss has no terms") }
        self.draft = draft
        self.options = options
        self.pool = pool
        BLAS.configure()  // all parallelism is the pool's; OpenBLAS threads would fight it
        let layer = draft.config.layer
        rope = RotaryTables(RotaryEmbedding(headDim: layer.headDim, theta: layer.ropeTheta, scaling: layer.ropeScaling,
                                            maxPositions: layer.maxPositions))
        attentionWorkspace = (0..<pool.threadCount).map { _ in Scratch() }
    }

    /// Forward over `batch`; with `gradients`, also the backward pass, *adding* `∂loss/∂θ` into it.
    public func run(_ batch: TrainingBatch, gradients: DraftTrainables? = nil) throws -> TrainingMetrics {
        let config = draft.config, layer = config.layer
        let h = layer.hiddenSize, T = batch.rows, K = options.steps
        guard batch.hiddenSize == h, batch.featureWidth == config.featureWidth else {
            throw TrainingError.invalidBatch("batch widths \(batch.featureWidth)/\(batch.hiddenSize) do not match the draft (\(config.featureWidth)/\(h))")
        }
        for (row, token) in batch.tokens.enumerated() where token < 0 || token >= layer.vocabSize {
            throw TrainingError.invalidBatch("row \(row): token id \(token) outside 0..<\(layer.vocabSize)")
        }
        if let highest = batch.positions.max(), highest + K > rope.positions {
            throw TrainingError.invalidBatch("position \(highest) plus \(K) TTT steps exceeds max_position_embeddings \(rope.positions)")
        }
        var metrics = TrainingMetrics(steps: K, terms: options.loss.terms.count)
        metrics.tokens = T
        guard T > 0 else { return metrics }
        while steps.count < K { steps.append(StepActivations(layerCount: layer.layerCount)) }
        recordedLogits = recordLogits ? Array(repeating: [], count: K) : []

        // Target distributions: every row some step compares against.
        var neededTargets = [Bool](repeating: false, count: T)
        for t in 0..<T where batch.lossMask[t] {
            for k in 0..<K where t + k < T { neededTargets[t + k] = true }
            neededTargets[t] = true
        }
        if recordLogits { neededTargets = [Bool](repeating: true, count: T) }
        targets.compute(lastHidden: batch.lastHidden.base, hidden: h, needed: neededTargets, draft: draft,
                        precision: options.precision, pool: pool)

        let geometry = TTTAttentionGeometry(headCount: layer.headCount, kvHeadCount: layer.kvHeadCount,
                                            headDim: layer.headDim, window: layer.slidingWindow,
                                            documents: batch.documents, rows: T)
        var prevCorrect = batch.lossMask
        // Serving's view of each anchor row: how many leading drafts, mapped to verifier ids, are the
        // tokens the verifier wrote next (the chain is unbroken before step k while it equals k).
        var acceptedRun = [Int](repeating: 0, count: T)
        let training = gradients != nil
        positionsOfStep = batch.positions

        // g = fc(norms(features)).
        let fcIn = fcInputPointer(batch)
        let g = steps[0].hiddenInput.pointer(T * h)
        TrainingKernels.linear(fcIn, rows: T, ldx: config.featureWidth, weight: draft.weights.fc, into: g, ldy: h, precision: options.precision, pool: pool)

        for k in 0..<K {
            let step = steps[k]
            if k > 0 {
                let previous = steps[k - 1]
                let source = config.normOutput ? previous.finalNormed.pointer(T * h)
                                               : previous.layers[layer.layerCount - 1].output.pointer(T * h)
                step.hiddenInput.pointer(T * h).update(from: source, count: T * h)
            }
            var tokens = [Int](repeating: 0, count: T)
            for t in 0..<T where t + k < T { tokens[t] = batch.tokens[t + k] }
            let positions = batch.positions.map { $0 + k }
            forwardLayers(step: k, tokens: tokens, positions: positions, rows: T, geometry: geometry)
            let z = step.layers[layer.layerCount - 1].output.pointer(T * h)
            let n = step.finalNormed.pointer(T * h)
            TrainingKernels.rmsNorm(z, ldx: h, weight: draft.weights.norm.base, eps: layer.rmsNormEps, rows: T, dim: h,
                                    into: n, ldy: h, inverseRMS: step.finalInverse.pointer(T), pool: pool)
            stepLoss(step: k, batch: batch, prevCorrect: &prevCorrect, acceptedRun: &acceptedRun, training: training,
                     metrics: &metrics)
        }
        metrics.addServingWalk(acceptedRun: acceptedRun, lossMask: batch.lossMask, documents: batch.documents)
        metrics.lossSum = metrics.stepLossSum.reduce(0, +)
        metrics.lossTotal = 1
        if let gradients { backward(batch: batch, geometry: geometry, gradients: gradients) }
        return metrics
    }

    /// The `fc` input: the features, normalised when the draft has `input_norm` or `fc_norm`.
    private func fcInputPointer(_ batch: TrainingBatch) -> UnsafePointer<Float> {
        let config = draft.config, T = batch.rows, width = config.featureWidth
        let eps = config.layer.rmsNormEps
        if let inputNorm = draft.weights.inputNorm {
            let out = fcInput.pointer(T * width)
            TrainingKernels.rmsNorm(batch.features.base, ldx: width, weight: inputNorm.base, eps: eps, rows: T, dim: width,
                                    into: out, ldy: width, inverseRMS: fcInputInverse.pointer(T), pool: pool)
            return UnsafePointer(out)
        }
        if !draft.weights.fcNorms.isEmpty {
            let out = fcInput.pointer(T * width)
            let chunk = config.targetHiddenSize
            let inverse = fcInputInverse.pointer(T * draft.weights.fcNorms.count)
            for (i, norm) in draft.weights.fcNorms.enumerated() {
                TrainingKernels.rmsNorm(batch.features.base + i * chunk, ldx: width, weight: norm.base, eps: eps, rows: T,
                                        dim: chunk, into: out + i * chunk, ldy: width, inverseRMS: inverse + i * T, pool: pool)
            }
            return UnsafePointer(out)
        }
        return UnsafePointer(batch.features.base)
    }

    private func forwardLayers(step k: Int, tokens: [Int], positions: [Int], rows T: Int, geometry: TTTAttentionGeometry) {
        let config = draft.config, layer = config.layer, h = layer.hiddenSize
        let eps = layer.rmsNormEps
        let step = steps[k]
        let hiddenIn = step.hiddenInput.pointer(T * h)
        let embedded = step.embedded.pointer(T * h)
        let embedding = draft.frozen.embedding.base
        pool.parallelRanges(T) { range in
            for t in range { (embedded + t * h).update(from: embedding + tokens[t] * h, count: h) }
        }
        for (l, weights) in draft.weights.layers.enumerated() {
            let acts = step.layers[l]
            let inWidth = l == 0 ? 2 * h : h
            let input = acts.input.pointer(T * inWidth)
            let x = acts.output.pointer(T * h)
            if l == 0 {
                TrainingKernels.rmsNorm(embedded, ldx: h, weight: weights.inputNorm.base, eps: eps, rows: T, dim: h,
                                        into: input, ldy: 2 * h, inverseRMS: acts.inputInverse.pointer(T), pool: pool)
                let hiddenNorm = weights.hiddenNorm?.base ?? weights.inputNorm.base
                TrainingKernels.rmsNorm(hiddenIn, ldx: h, weight: hiddenNorm, eps: eps, rows: T, dim: h, into: input + h,
                                        ldy: 2 * h, inverseRMS: acts.hiddenInverse.pointer(T), pool: pool)
                for t in 0..<T {
                    (x + t * h).update(from: config.normBeforeResidual ? input + t * 2 * h + h : hiddenIn + t * h, count: h)
                }
            } else {
                let previous = step.layers[l - 1].output.pointer(T * h)
                acts.residualInput.pointer(T * h).update(from: previous, count: T * h)
                x.update(from: previous, count: T * h)
                TrainingKernels.rmsNorm(previous, ldx: h, weight: weights.inputNorm.base, eps: eps, rows: T, dim: h,
                                        into: input, ldy: h, inverseRMS: acts.inputInverse.pointer(T), pool: pool)
            }
            // Attention.
            let qkvWidth = geometry.qkvWidth
            let qkv = acts.qkv.pointer(T * qkvWidth)
            TrainingKernels.linear(input, rows: T, ldx: inWidth, weight: weights.qkv, into: qkv, ldy: qkvWidth, precision: options.precision, pool: pool)
            pool.parallelRanges(T) { range in
                for t in range {
                    let row = qkv + t * qkvWidth
                    self.rope.rotate(row, heads: geometry.headCount, position: positions[t], inverse: false)
                    self.rope.rotate(row + geometry.qWidth, heads: geometry.kvHeadCount, position: positions[t], inverse: false)
                }
            }
            let blocks = (0...k).map { steps[$0].layers[l].qkv.pointer(T * qkvWidth) }
            let attended = acts.attended.pointer(T * geometry.qWidth)
            TTTAttention.forward(step: k, blocks: blocks, geometry: geometry, record: acts.attention, output: attended, pool: pool)
            let projected = acts.afterAttention.pointer(T * h)
            TrainingKernels.linear(attended, rows: T, ldx: geometry.qWidth, weight: weights.output, into: projected, ldy: h, precision: options.precision, pool: pool)
            Kernels.add(x, into: projected, count: T * h)     // r1 = residual + attention
            // MLP.
            let inner = layer.intermediateSize
            let mlpIn = acts.mlpInput.pointer(T * h)
            TrainingKernels.rmsNorm(projected, ldx: h, weight: weights.postAttentionNorm.base, eps: eps, rows: T, dim: h,
                                    into: mlpIn, ldy: h, inverseRMS: acts.mlpInverse.pointer(T), pool: pool)
            let gateUp = acts.gateUp.pointer(T * 2 * inner)
            TrainingKernels.linear(mlpIn, rows: T, ldx: h, weight: weights.gateUp, into: gateUp, ldy: 2 * inner, precision: options.precision, pool: pool)
            let activated = acts.activated.pointer(T * inner)
            pool.parallelRanges(T) { range in
                for t in range {
                    let g = gateUp + t * 2 * inner, u = g + inner, a = activated + t * inner
                    for i in 0..<inner { a[i] = g[i] / (1 + Kernels.exp(-g[i])) * u[i] }
                }
            }
            TrainingKernels.linear(activated, rows: T, ldx: inner, weight: weights.down, into: x, ldy: h, precision: options.precision, pool: pool)
            Kernels.add(projected, into: x, count: T * h)     // z = r1 + mlp
        }
    }

    /// Logits, loss, metrics and (when training) `∂L/∂n` of step `k`.
    private func stepLoss(step k: Int, batch: TrainingBatch, prevCorrect: inout [Bool], acceptedRun: inout [Int], training: Bool,
                          metrics: inout TrainingMetrics) {
        let h = draft.config.layer.hiddenSize, vd = draft.config.draftVocabSize, T = batch.rows
        let stepActs = steps[k]
        let n = stepActs.finalNormed.pointer(T * h)
        let mask = batch.lossMask
        var selected: [Int] = []
        for t in 0..<T {
            let inRange = t + k < T
            if recordLogits || (inRange && (mask[t + k] || prevCorrect[t])) { selected.append(t) }
        }
        var denominator = 0.0
        for t in 0..<(T - min(k, T)) where mask[t + k] { denominator += 1 }
        let scale = Foundation.pow(options.stepLossDecay, Double(k)) / (denominator + 1e-5)
        let R = selected.count
        let headGradient = stepActs.headGradient.pointer(T * h)
        if training { headGradient.update(repeating: 0, count: T * h) }
        guard R > 0 else {
            metrics.stepLossTotal[k] = 1
            return
        }
        let rowsIn = gathered.pointer(R * h)
        for (slot, t) in selected.enumerated() { (rowsIn + slot * h).update(from: n + t * h, count: h) }
        let out = logits.pointer(R * vd)
        TrainingKernels.linear(rowsIn, rows: R, ldx: h, weight: draft.frozen.lmHead, into: out, ldy: vd, precision: options.precision, pool: pool)
        if recordLogits { recordedLogits[k] = Array(UnsafeBufferPointer(start: out, count: R * vd)) }

        let terms = options.loss.terms
        let parts = ThreadPool.split(R, into: pool.threadCount)
        // Per part: [fullCorrect, fullTotal, condTotal, term sums...]
        let stride = 3 + terms.count
        var sums = [Double](repeating: 0, count: max(parts.count, 1) * stride)
        // Per selected row: bit 0, the chain so far is the verifier's argmax within the draft
        // vocabulary (the library's accuracy); bit 1, this step's draft is the token serving accepts.
        var flagBits = [UInt8](repeating: 0, count: R)
        let previous = prevCorrect
        let targets = self.targets
        let draftToTarget = draft.draftToTarget, tokens = batch.tokens, positions = batch.positions
        sums.withUnsafeMutableBufferPointer { sumBuffer in
            flagBits.withUnsafeMutableBufferPointer { flagBuffer in
                guard let sumBase = sumBuffer.baseAddress, let flags = flagBuffer.baseAddress else { return }
                pool.parallelFor(parts.count) { p in
                    let acc = sumBase + p * stride
                    for slot in parts[p] {
                        let t = selected[slot]
                        let row = out + slot * vd
                        guard t + k < T else {
                            if training { row.update(repeating: 0, count: vd) }
                            continue
                        }
                        let targetSlot = targets.slotOfRow[t + k]
                        let targetBest = targets.argmax[targetSlot]
                        let predicted = Kernels.argmax(row, count: vd)
                        let correct = previous[t] && predicted == targetBest
                        // Serving accepts the draft only if it is the verifier's next token in the full
                        // vocabulary (the data is greedy), which also needs it in the draft vocabulary.
                        let next = t + k + 1
                        let served = next < T && positions[next] == positions[t] + k + 1
                            && draftToTarget[predicted] == tokens[next]
                        flags[slot] = (correct ? 1 : 0) | (served ? 2 : 0)
                        if previous[t] { acc[2] += 1 }
                        guard mask[t + k] else {
                            if training { row.update(repeating: 0, count: vd) }
                            continue
                        }
                        acc[1] += 1
                        if correct { acc[0] += 1 }
                        LossMath.logSoftmax(row, count: vd)
                        let logP = targets.logProbabilities(slot: targetSlot)
                        for (index, term) in terms.enumerated() {
                            switch term.kind {
                            case .klDivergence:
                                acc[3 + index] += LossMath.klDivergence(logP: logP, logQ: row, count: vd)
                            case .crossEntropy:
                                acc[3 + index] += Double(-row[targetBest])
                            }
                        }
                        guard training else { continue }
                        // ∂/∂logits: Σ_terms weight · (q − p) or (q − onehot), times the step scale.
                        var klWeight: Float = 0, ceWeight: Float = 0
                        for term in terms {
                            switch term.kind {
                            case .klDivergence: klWeight += Float(term.weight * scale)
                            case .crossEntropy: ceWeight += Float(term.weight * scale)
                            }
                        }
                        LossMath.gradient(logQ: row, logP: logP, count: vd, total: klWeight + ceWeight, klWeight: klWeight)
                        row[targetBest] -= ceWeight
                    }
                }
            }
        }
        var fullCorrect = 0.0, fullTotal = 0.0, condTotal = 0.0
        var termSums = [Double](repeating: 0, count: terms.count)
        for p in 0..<parts.count {
            fullCorrect += sums[p * stride]
            fullTotal += sums[p * stride + 1]
            condTotal += sums[p * stride + 2]
            for i in terms.indices { termSums[i] += sums[p * stride + 3 + i] }
        }
        for (slot, t) in selected.enumerated() {
            if t + k < T { prevCorrect[t] = flagBits[slot] & 1 != 0 }
            if acceptedRun[t] == k && flagBits[slot] & 2 != 0 { acceptedRun[t] = k + 1 }
        }
        var stepLoss = 0.0
        for (i, term) in terms.enumerated() {
            let value = termSums[i] * scale
            metrics.termLossSum[k][i] += value
            stepLoss += term.weight * value
        }
        metrics.stepLossSum[k] += stepLoss
        metrics.stepLossTotal[k] += 1
        metrics.fullCorrect[k] += fullCorrect
        metrics.fullTotal[k] += fullTotal
        metrics.conditionalCorrect[k] += fullCorrect
        metrics.conditionalTotal[k] += condTotal

        guard training else { return }
        let dn = gatheredGradient.pointer(R * h)
        TrainingKernels.linearInputGradient(out, rows: R, lddy: vd, weight: draft.frozen.lmHead, into: dn, lddx: h,
                                            accumulate: false, precision: options.precision, pool: pool)
        for (slot, t) in selected.enumerated() { (headGradient + t * h).update(from: dn + slot * h, count: h) }
    }

    /// Step-0 positions of the batch being run (set by `run`).
    var positionsOfStep: [Int] = []
}
