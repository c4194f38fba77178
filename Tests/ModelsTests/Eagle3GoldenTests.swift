import Foundation
import Models
import Tensors
import Testing

@Suite("EAGLE-3 draft against the speculators goldens")
struct Eagle3GoldenTests {
    static let drafts = ["tiny-eagle3", "tiny-eagle3-normfc"]

    func load(_ name: String) throws -> (TransformerModel, Eagle3DraftModel) {
        let verifier = try TransformerModel.load(from: Fixtures.folder("tiny-llama"))
        let folder = Fixtures.folder(name)
        let config = try Eagle3DraftConfig(folder: folder, verifierLayerCount: verifier.config.layerCount)
        return (verifier, try Eagle3DraftModel.load(folder: folder, config: config, verifier: verifier))
    }

    @Test("The verifier's auxiliary states at ids [1, 2, 3] equal the fixture's draft features")
    func verifierFeatures() throws {
        let (verifier, draft) = try load("tiny-eagle3")
        let expected = try Fixtures.expected("tiny-eagle3")
        let ids = ints(expected["verifier_input_ids"])
        let output = try verifier.forward([.init(cache: try verifier.makeCache(), tokens: ids, logits: .last)],
                                          auxiliaryLayers: draft.config.auxiliaryLayerIds, pool: Fixtures.pool)
        let rows = try #require(expected["aux_hidden_states"] as? [Any])
        let auxiliary = try #require(output.auxiliary)
        for (row, values) in rows.enumerated() {
            expectClose(rowArray(auxiliary + row * output.auxiliaryWidth, output.auxiliaryWidth), floats(values), "aux row \(row)")
        }
        #expect(Kernels.argmax(output.logits(request: 0, row: 0), count: 384) == expected["verifier_next_token"] as? Int)
    }

    @Test("Prefill logits, mapped argmax and the 3-step KV-cached chain match", arguments: drafts)
    func prefillAndChain(name: String) throws {
        let (_, draft) = try load(name)
        let expected = try Fixtures.expected(name)
        let prefill = try #require(expected["prefill"] as? [String: Any])
        let tokens = ints(prefill["draft_input_ids"])
        let features = (expected["aux_hidden_states"] as? [Any] ?? []).flatMap { floats($0) }
        let cache = try draft.makeCache(capacity: 64)
        let output = try features.withUnsafeBufferPointer { buffer in
            try draft.forward([.init(cache: cache, tokens: tokens, logits: .all)],
                              hidden: .verifierFeatures(try #require(buffer.baseAddress)), pool: Fixtures.pool)
        }
        let vd = draft.config.draftVocabSize
        let logits = try #require(prefill["draft_logits"] as? [Any])
        for (row, values) in logits.enumerated() {
            expectClose(rowArray(output.logits + row * vd, vd), floats(values), "\(name) prefill row \(row)")
        }
        #expect(output.proposedTokens == ints(prefill["argmax_target_ids"]))
        if draft.config.normOutput == false {
            let prenorm = try #require(prefill["layer_output_prenorm"] as? [Any])
            for (row, values) in prenorm.enumerated() {
                expectClose(rowArray(output.nextHidden + row * draft.hiddenSize, draft.hiddenSize), floats(values),
                            "\(name) pre-norm output row \(row)")
            }
        }

        // The chain: step 1 is prefill row 11; steps 2 and 3 feed back the hidden and the token.
        let chain = try #require(expected["chain"] as? [[String: Any]])
        var hidden = rowArray(output.nextHidden + (tokens.count - 1) * draft.hiddenSize, draft.hiddenSize)
        var token = output.proposedTokens[tokens.count - 1]
        #expect(token == chain[0]["target_id"] as? Int)
        var proposed = [token]
        for step in chain.dropFirst() {
            let result = try hidden.withUnsafeBufferPointer { buffer in
                try draft.forward([.init(cache: cache, tokens: [token], logits: .last)],
                                  hidden: .draftHidden(try #require(buffer.baseAddress)), pool: Fixtures.pool)
            }
            expectClose(rowArray(result.logits, vd), floats(step["draft_logits"]), "\(name) chain step \(step["step"] ?? "?")")
            let key = draft.config.normOutput ? "layer_output_postnorm" : "layer_output_prenorm"
            expectClose(rowArray(result.nextHidden, draft.hiddenSize), floats(step[key]), "\(name) chain hidden")
            hidden = rowArray(result.nextHidden, draft.hiddenSize)
            token = result.proposedTokens[0]
            proposed.append(token)
        }
        #expect(proposed == ints(expected["chain_target_ids"]))
    }

    @Test("A draft without embed_tokens takes the verifier's embedding; without lm_head, the verifier head rows")
    func fallsBackToVerifierWeights() throws {
        let (verifier, draft) = try load("tiny-eagle3")
        #expect(draft.embedding.array == verifier.embedding.array)
        let h = draft.hiddenSize
        let draftHead = try #require(draft.head.weight), verifierHead = try #require(verifier.head.weight)
        for (slot, target) in draft.draftToTarget.enumerated().prefix(10) {
            #expect(rowArray(draftHead.base + slot * h, h) == rowArray(verifierHead.base + target * h, h))
        }
    }
}
