import Foundation
import Models
import Tensors

/// The backward pass of `DraftTrainingPass` (see its documentation for the order of the steps).
extension DraftTrainingPass {
    func backward(batch: TrainingBatch, geometry: TTTAttentionGeometry, gradients: DraftTrainables) {
        let config = draft.config, layer = config.layer, h = layer.hiddenSize, T = batch.rows, K = options.steps
        let L = layer.layerCount
        let qkvWidth = geometry.qkvWidth
        for k in 0..<K { for l in 0..<L { steps[k].layers[l].qkvGradient.pointer(T * qkvWidth).update(repeating: 0, count: T * qkvWidth) } }
        let dNext = nextHiddenGradient.pointer(T * h)
        dNext.update(repeating: 0, count: T * h)
        let dz = outputGradient.pointer(T * h)
        let dh = hiddenGradient.pointer(T * h)
        for k in stride(from: K - 1, through: 0, by: -1) {
            let step = steps[k]
            // Head: n = norm(z); the fed-back hidden is n (norm_output) or z.
            let dn = step.headGradient.pointer(T * h)
            if config.normOutput { Kernels.add(dNext, into: dn, count: T * h) }
            let zLast = step.layers[L - 1].output.pointer(T * h)
            if config.normOutput { dz.update(repeating: 0, count: T * h) } else { dz.update(from: dNext, count: T * h) }
            TrainingKernels.rmsNormBackward(dn, lddy: h, x: zLast, ldx: h, weight: draft.weights.norm.base,
                                            inverseRMS: step.finalInverse.pointer(T), rows: T, dim: h, dx: dz, lddx: h,
                                            dw: gradients.norm.base, partials: partials, pool: pool)
            for l in stride(from: L - 1, through: 0, by: -1) {
                layerBackward(step: k, layer: l, rows: T, geometry: geometry, dOutput: dz, gradients: gradients)
                // layerBackward leaves ∂L/∂(residual input) in dz and ∂L/∂(attention input) in inputGradient.
                let weights = draft.weights.layers[l], acts = step.layers[l]
                let dIn = inputGradient.pointer(T * (l == 0 ? 2 * h : h))
                if l > 0 {
                    TrainingKernels.rmsNormBackward(dIn, lddy: h, x: acts.residualInput.pointer(T * h), ldx: h,
                                                    weight: weights.inputNorm.base, inverseRMS: acts.inputInverse.pointer(T),
                                                    rows: T, dim: h, dx: dz, lddx: h,
                                                    dw: gradients.layers[l].inputNorm.base, partials: partials, pool: pool)
                    continue
                }
                // Layer 0: u = [norm(e) | hidden_norm(h)], residual = norm(h) or h.
                TrainingKernels.rmsNormBackward(dIn, lddy: 2 * h, x: step.embedded.pointer(T * h), ldx: h,
                                                weight: weights.inputNorm.base, inverseRMS: acts.inputInverse.pointer(T),
                                                rows: T, dim: h, dx: nil, lddx: h,
                                                dw: gradients.layers[0].inputNorm.base, partials: partials, pool: pool)
                let dHiddenNormed = dIn + h
                if config.normBeforeResidual {
                    for t in 0..<T { Kernels.add(dz + t * h, into: dHiddenNormed + t * 2 * h, count: h) }
                    dh.update(repeating: 0, count: T * h)
                } else {
                    dh.update(from: dz, count: T * h)
                }
                let hiddenNorm = weights.hiddenNorm ?? weights.inputNorm
                let hiddenNormGradient = gradients.layers[0].hiddenNorm ?? gradients.layers[0].inputNorm
                TrainingKernels.rmsNormBackward(dHiddenNormed, lddy: 2 * h, x: step.hiddenInput.pointer(T * h), ldx: h,
                                                weight: hiddenNorm.base, inverseRMS: acts.hiddenInverse.pointer(T),
                                                rows: T, dim: h, dx: dh, lddx: h, dw: hiddenNormGradient.base,
                                                partials: partials, pool: pool)
            }
            if k > 0 {
                dNext.update(from: dh, count: T * h)
            } else {
                fcBackward(batch: batch, dg: dh, gradients: gradients)
            }
        }
    }

    /// `fc` (and `input_norm` / `fc_norm`) weight gradients from `∂L/∂g`.
    func fcBackward(batch: TrainingBatch, dg: UnsafeMutablePointer<Float>, gradients: DraftTrainables) {
        let config = draft.config, h = config.layer.hiddenSize, T = batch.rows, width = config.featureWidth
        let normed = draft.weights.inputNorm != nil || !draft.weights.fcNorms.isEmpty
        let input = normed ? UnsafePointer(fcInput.pointer(T * width)) : UnsafePointer(batch.features.base)
        TrainingKernels.linearWeightGradient(dg, rows: T, lddy: h, x: input, ldx: width, into: gradients.fc, precision: options.precision, pool: pool)
        guard normed else { return }
        let dInput = inputGradient.pointer(T * width)
        TrainingKernels.linearInputGradient(dg, rows: T, lddy: h, weight: draft.weights.fc, into: dInput, lddx: width,
                                            accumulate: false, precision: options.precision, pool: pool)
        if let inputNorm = draft.weights.inputNorm, let inputNormGradient = gradients.inputNorm {
            TrainingKernels.rmsNormBackward(dInput, lddy: width, x: batch.features.base, ldx: width, weight: inputNorm.base,
                                            inverseRMS: fcInputInverse.pointer(T), rows: T, dim: width, dx: nil, lddx: width,
                                            dw: inputNormGradient.base, partials: partials, pool: pool)
        } else {
            let chunk = config.targetHiddenSize
            let inverse = fcInputInverse.pointer(T * draft.weights.fcNorms.count)
            for (i, norm) in draft.weights.fcNorms.enumerated() where i < gradients.fcNorms.count {
                TrainingKernels.rmsNormBackward(dInput + i * chunk, lddy: width, x: batch.features.base + i * chunk, ldx: width,
                                                weight: norm.base, inverseRMS: inverse + i * T, rows: T, dim: chunk, dx: nil,
                                                lddx: width, dw: gradients.fcNorms[i].base, partials: partials, pool: pool)
            }
        }
    }

    /// Backward of one decoder layer at one step. On entry `dOutput` holds `∂L/∂z_l`; on exit it
    /// holds `∂L/∂(residual input)` and `inputGradient` holds `∂L/∂(attention input)`.
    func layerBackward(step k: Int, layer l: Int, rows T: Int, geometry: TTTAttentionGeometry,
                               dOutput dz: UnsafeMutablePointer<Float>, gradients: DraftTrainables) {
        let config = draft.config, layer = config.layer, h = layer.hiddenSize, inner = layer.intermediateSize
        let weights = draft.weights.layers[l], grads = gradients.layers[l], acts = steps[k].layers[l]
        let inWidth = l == 0 ? 2 * h : h
        // MLP: z = r1 + down(silu(gate)·up), gate/up from norm(r1).
        let dAct = mlpGradient.pointer(T * inner)
        TrainingKernels.linearInputGradient(dz, rows: T, lddy: h, weight: weights.down, into: dAct, lddx: inner,
                                            accumulate: false, precision: options.precision, pool: pool)
        TrainingKernels.linearWeightGradient(dz, rows: T, lddy: h, x: acts.activated.pointer(T * inner), ldx: inner,
                                             into: grads.down, precision: options.precision, pool: pool)
        let dGateUp = gateUpGradient.pointer(T * 2 * inner)
        TrainingKernels.siluMultiplyBackward(acts.gateUp.pointer(T * 2 * inner), dActivated: dAct, rows: T, inner: inner,
                                             into: dGateUp, pool: pool)
        let dMlpIn = residualGradient.pointer(T * h)
        TrainingKernels.linearInputGradient(dGateUp, rows: T, lddy: 2 * inner, weight: weights.gateUp, into: dMlpIn, lddx: h,
                                            accumulate: false, precision: options.precision, pool: pool)
        TrainingKernels.linearWeightGradient(dGateUp, rows: T, lddy: 2 * inner, x: acts.mlpInput.pointer(T * h), ldx: h,
                                             into: grads.gateUp, precision: options.precision, pool: pool)
        // dz becomes ∂L/∂r1.
        TrainingKernels.rmsNormBackward(dMlpIn, lddy: h, x: acts.afterAttention.pointer(T * h), ldx: h,
                                        weight: weights.postAttentionNorm.base, inverseRMS: acts.mlpInverse.pointer(T),
                                        rows: T, dim: h, dx: dz, lddx: h, dw: grads.postAttentionNorm.base,
                                        partials: partials, pool: pool)
        // Attention: r1 = residual + o_proj(attn).
        let dAttended = attendedGradient.pointer(T * geometry.qWidth)
        TrainingKernels.linearInputGradient(dz, rows: T, lddy: h, weight: weights.output, into: dAttended, lddx: geometry.qWidth,
                                            accumulate: false, precision: options.precision, pool: pool)
        TrainingKernels.linearWeightGradient(dz, rows: T, lddy: h, x: acts.attended.pointer(T * geometry.qWidth),
                                             ldx: geometry.qWidth, into: grads.output, precision: options.precision, pool: pool)
        let qkvWidth = geometry.qkvWidth
        let blocks = (0...k).map { steps[$0].layers[l].qkv.pointer(T * qkvWidth) }
        let blockGradients = (0...k).map { steps[$0].layers[l].qkvGradient.pointer(T * qkvWidth) }
        TTTAttention.backward(step: k, blocks: blocks, gradients: blockGradients, attended: acts.attended.pointer(T * geometry.qWidth),
                              dOutput: dAttended, geometry: geometry, record: acts.attention, workspace: attentionWorkspace,
                              pool: pool)
        // This block's gradient is now complete: undo RoPE, then through the q/k/v projection.
        let dqkv = blockGradients[k]
        pool.parallelRanges(T) { range in
            for t in range {
                let row = dqkv + t * qkvWidth
                let position = self.positionsOfStep[t] + k
                self.rope.rotate(row, heads: geometry.headCount, position: position, inverse: true)
                self.rope.rotate(row + geometry.qWidth, heads: geometry.kvHeadCount, position: position, inverse: true)
            }
        }
        let input = acts.input.pointer(T * inWidth)
        let dIn = inputGradient.pointer(T * inWidth)
        TrainingKernels.linearInputGradient(dqkv, rows: T, lddy: qkvWidth, weight: weights.qkv, into: dIn, lddx: inWidth,
                                            accumulate: false, precision: options.precision, pool: pool)
        TrainingKernels.linearWeightGradient(dqkv, rows: T, lddy: qkvWidth, x: input, ldx: inWidth, into: grads.qkv, precision: options.precision, pool: pool)
    }
}
