import Foundation
import Models
import Tensors
import Testing

@Suite("Verifier transformer against the reference goldens")
struct TransformerGoldenTests {
    static let models = ["tiny-llama", "tiny-qwen3", "tiny-llama-bf16"]

    @Test("A full forward pass gives the reference last-position logits and per-position argmax", arguments: models)
    func fullForward(name: String) throws {
        let model = try TransformerModel.load(from: Fixtures.folder(name))
        let expected = try Fixtures.expected(name)
        let ids = ints(expected["input_ids"])
        let full = try #require(expected["full_forward"] as? [String: Any])
        let cache = try model.makeCache()
        let output = try model.forward([.init(cache: cache, tokens: ids, logits: .all)], pool: Fixtures.pool)
        let vocab = model.config.vocabSize
        expectClose(rowArray(output.logits(request: 0, row: ids.count - 1), vocab), floats(full["last_position_logits"]),
                    "\(name) last logits")
        let argmax = (0..<ids.count).map { Kernels.argmax(output.logits(request: 0, row: $0), count: vocab) }
        #expect(argmax == ints(full["argmax_per_position"]))
        #expect(cache.length == ids.count)
    }

    @Test("bf16 GEMM precision is ignored by a batch-invariant model and only rounds a throughput batch's operands",
          .enabled(if: BFloat16Product.isSupported, "needs AVX-512 BF16"))
    func bf16GemmPrecision() throws {
        let model = try TransformerModel.load(from: Fixtures.folder("tiny-llama"))
        let ids = ints(try Fixtures.expected("tiny-llama")["input_ids"])
        let vocab = model.config.vocabSize
        func logits(invariant: Bool, precision: MatmulPrecision) throws -> [Float] {
            model.batchInvariant = invariant
            model.gemmPrecision = precision
            defer { model.batchInvariant = true; model.gemmPrecision = .float32 }
            let output = try model.forward([.init(cache: try model.makeCache(), tokens: ids, logits: .all)], pool: Fixtures.pool)
            return (0..<ids.count).flatMap { rowArray(output.logits(request: 0, row: $0), vocab) }
        }
        let exact = try logits(invariant: true, precision: .float32)
        #expect(try logits(invariant: true, precision: .bfloat16) == exact)
        let single = try logits(invariant: false, precision: .float32)
        let half = try logits(invariant: false, precision: .bfloat16)
        let scale = single.map(abs).max() ?? 1
        let worst = zip(single, half).map { abs($0 - $1) }.max() ?? 0
        #expect(worst > 0 && worst < 0.03 * scale, "worst difference \(worst) against logits up to \(scale)")
        // Weights packed once give exactly what packing on every call gives.
        model.packBFloat16Weights()
        #expect(try logits(invariant: false, precision: .bfloat16) == half)
        #expect(try logits(invariant: true, precision: .float32) == exact)
    }

    @Test("KV-cached decoding after a prefill gives the reference step logits", arguments: models)
    func incrementalDecode(name: String) throws {
        let model = try TransformerModel.load(from: Fixtures.folder(name))
        let expected = try Fixtures.expected(name)
        let ids = ints(expected["input_ids"])
        let incremental = try #require(expected["incremental_decode"] as? [String: Any])
        let cache = try model.makeCache()
        let vocab = model.config.vocabSize
        let prefill = try model.forward([.init(cache: cache, tokens: Array(ids[0..<8]), logits: .last)], pool: Fixtures.pool)
        expectClose(rowArray(prefill.logits(request: 0, row: 0), vocab), floats(incremental["prefill_last_logits"]),
                    "\(name) prefill logits")
        let steps = try #require(incremental["step_logits"] as? [Any])
        for (step, token) in ids[8...].enumerated() {
            let output = try model.forward([.init(cache: cache, tokens: [token], logits: .last)], pool: Fixtures.pool)
            expectClose(rowArray(output.logits(request: 0, row: 0), vocab), floats(steps[step]), "\(name) step \(step)")
        }
    }

    @Test("Auxiliary hidden states are the residual streams entering each layer", arguments: models)
    func hiddenStates(name: String) throws {
        let model = try TransformerModel.load(from: Fixtures.folder(name))
        let expected = try Fixtures.expected(name)
        let ids = ints(expected["input_ids"])
        let hidden = try #require(expected["hidden_states_last_position"] as? [String: Any])
        let layerOutputs = try #require(hidden["layer_outputs"] as? [Any])
        let cache = try model.makeCache()
        let layers = Array(0...model.config.layerCount)
        let output = try model.forward([.init(cache: cache, tokens: ids, logits: .none)], auxiliaryLayers: layers,
                                       pool: Fixtures.pool)
        let auxiliary = try #require(output.auxiliary)
        let h = model.config.hiddenSize
        let lastRow = auxiliary + (ids.count - 1) * output.auxiliaryWidth
        expectClose(rowArray(lastRow, h), floats(hidden["embedding"]), "\(name) embedding (id 0)")
        for (index, values) in layerOutputs.enumerated() {
            expectClose(rowArray(lastRow + (index + 1) * h, h), floats(values), "\(name) layer \(index) output (id \(index + 1))")
        }
    }

    @Test("Greedy KV-cached continuation reproduces the reference tokens", arguments: models)
    func greedyContinuation(name: String) throws {
        let model = try TransformerModel.load(from: Fixtures.folder(name))
        let expected = try Fixtures.expected(name)
        let ids = ints(expected["input_ids"])
        let greedy = try #require(expected["greedy_continuation"] as? [String: Any])
        let reference = ints(greedy["new_ids"])
        let cache = try model.makeCache()
        var output = try model.forward([.init(cache: cache, tokens: ids, logits: .last)], pool: Fixtures.pool)
        var generated: [Int] = []
        while generated.count < reference.count {
            let token = Kernels.argmax(output.logits(request: 0, row: 0), count: model.config.vocabSize)
            generated.append(token)
            output = try model.forward([.init(cache: cache, tokens: [token], logits: .last)], pool: Fixtures.pool)
        }
        #expect(generated == reference)
    }
}

@Suite("Batched forward passes")
struct BatchedForwardTests {
    @Test("A cache with a position offset holds its rows from slot 0 and rotates them at their sequence positions")
    func positionOffsetKeepsRelativePositions() throws {
        let model = try TransformerModel.load(from: Fixtures.folder("tiny-llama"))
        let vocab = model.config.vocabSize
        let tokens = Array(0..<12).map { ($0 * 29 + 3) % vocab }
        func logits(offset: Int) throws -> [[Float]] {
            let cache = try model.makeCache(capacity: 16)
            cache.positionOffset = offset
            var rows: [[Float]] = []
            let first = try model.forward([.init(cache: cache, tokens: Array(tokens.prefix(8)), logits: .all)], pool: Fixtures.pool)
            rows += (0..<8).map { rowArray(first.logits(request: 0, row: $0), vocab) }
            for token in tokens.dropFirst(8) {
                let next = try model.forward([.init(cache: cache, tokens: [token], logits: .last)], pool: Fixtures.pool)
                rows.append(rowArray(next.logits(request: 0, row: 0), vocab))
            }
            #expect(cache.length == tokens.count)
            return rows
        }
        // Rotary attention depends only on relative positions: the same tokens 100 positions on
        // give the same logits up to the rounding of the larger rotation angles.
        let shifted = try logits(offset: 100), plain = try logits(offset: 0)
        let worst = zip(shifted, plain).map { zip($0, $1).map { abs($0 - $1) }.max() ?? 0 }.max() ?? 0
        #expect(worst < 1e-3, "largest difference \(worst)")
        #expect(worst > 0, "an offset must change the rotation angles")
    }

    @Test("A ragged batch of prefill, verification and decode rows equals running each sequence alone, bit for bit")
    func raggedBatchEqualsSequential() throws {
        let model = try TransformerModel.load(from: Fixtures.folder("tiny-llama"))
        let vocab = model.config.vocabSize
        let prompts: [[Int]] = [
            Array(0..<40).map { ($0 * 37 + 5) % vocab },   // long: a BLAS prefill chunk
            [3, 17, 250, 99, 42],                          // short: batch-invariant rows
            [7],
            Array(0..<20).map { ($0 * 11 + 1) % vocab },
        ]
        let continuations: [[Int]] = [[5, 6, 7, 8], [9], [10, 11], [12, 13, 14]]

        func run(batched: Bool) throws -> [[[Float]]] {
            let caches = try prompts.map { _ in try model.makeCache() }
            var results: [[[Float]]] = Array(repeating: [], count: prompts.count)
            func collect(_ requests: [TransformerModel.Request], into indices: [Int]) throws {
                let output = try model.forward(requests, pool: Fixtures.pool)
                for (slot, index) in indices.enumerated() {
                    for row in 0..<output.logitRanges[slot].count {
                        results[index].append(rowArray(output.logits(request: slot, row: row), vocab))
                    }
                }
            }
            for phase in [prompts, continuations] {
                let requests = phase.enumerated().map { TransformerModel.Request(cache: caches[$0.offset], tokens: $0.element, logits: .all) }
                if batched {
                    try collect(requests, into: Array(phase.indices))
                } else {
                    for index in phase.indices { try collect([requests[index]], into: [index]) }
                }
            }
            return results
        }
        let alone = try run(batched: false)
        let together = try run(batched: true)
        for sequence in prompts.indices {
            for (row, (a, b)) in zip(alone[sequence], together[sequence]).enumerated() where a != b {
                let worst = zip(a, b).map { abs($0 - $1) }.max() ?? 0
                Issue.record("sequence \(sequence) row \(row) differs by up to \(worst)")
                break
            }
            #expect(alone[sequence].count == together[sequence].count)
        }
    }

    /// A lone decode row with a long context attends with all the query heads of a key/value head
    /// in one task (`DecoderLayer.groupedHeadsFromKeys`, 256 keys), shorter ones head by head; a
    /// verification chunk takes yet another path (rows grouped per key/value head). The last row
    /// here sees 256 keys, the whole of tiny-llama's context.
    @Test("Decode rows on both sides of the long-context attention split have the bits the same rows get verified in one chunk")
    func longContextDecodeRowsEqualChunkRows() throws {
        let model = try TransformerModel.load(from: Fixtures.folder("tiny-llama"))
        let vocab = model.config.vocabSize
        #expect(model.config.maxPositions == 256)
        let prompt = (0..<253).map { ($0 * 53 + 11) % vocab }
        let next = [17, 250, 3]
        let decoded = try model.makeCache(), verified = try model.makeCache()
        for cache in [decoded, verified] {
            _ = try model.forward([.init(cache: cache, tokens: prompt, logits: .none)], pool: Fixtures.pool)
        }
        var alone: [[Float]] = []
        for token in next {
            let output = try model.forward([.init(cache: decoded, tokens: [token], logits: .last)], pool: Fixtures.pool)
            alone.append(rowArray(output.logits(request: 0, row: 0), vocab))
        }
        let chunk = try model.forward([.init(cache: verified, tokens: next, logits: .all)], pool: Fixtures.pool)
        #expect(decoded.length == 256 && verified.length == 256)
        for row in next.indices {
            let verifiedRow = rowArray(chunk.logits(request: 0, row: row), vocab)
            let differing = zip(verifiedRow, alone[row]).filter { $0.bitPattern != $1.bitPattern }.count
            #expect(differing == 0, "row \(row), \(254 + row) keys: \(differing) of \(vocab) logits differ")
        }
    }

    @Test("Rolling the cache back and recomputing gives the same logits as never having gone further")
    func rollback() throws {
        let model = try TransformerModel.load(from: Fixtures.folder("tiny-qwen3"))
        let cache = try model.makeCache()
        _ = try model.forward([.init(cache: cache, tokens: [1, 2, 3, 4], logits: .none)], pool: Fixtures.pool)
        let first = try model.forward([.init(cache: cache, tokens: [5, 6, 7], logits: .all)], pool: Fixtures.pool)
        let expected = rowArray(first.logits(request: 0, row: 0), model.config.vocabSize)
        cache.truncate(to: 4)
        let again = try model.forward([.init(cache: cache, tokens: [5, 9], logits: .all)], pool: Fixtures.pool)
        #expect(rowArray(again.logits(request: 0, row: 0), model.config.vocabSize) == expected)
        #expect(cache.length == 6)
    }

    @Test("Tokens outside the vocabulary and a full cache are errors, not crashes")
    func badInput() throws {
        let model = try TransformerModel.load(from: Fixtures.folder("tiny-llama"))
        let cache = try model.makeCache(capacity: 4)
        #expect(throws: TransformerModel.ForwardError.self) {
            try model.forward([.init(cache: cache, tokens: [384], logits: .last)], pool: Fixtures.pool)
        }
        #expect(throws: TransformerModel.ForwardError.self) {
            try model.forward([.init(cache: cache, tokens: [1, 2, 3, 4, 5], logits: .last)], pool: Fixtures.pool)
        }
        #expect(cache.length == 0)
    }
}

@Suite("The screened argmax head in a forward pass")
struct ScreenedForwardTests {
    /// Without AVX-512 BF16 there is no screen and argmax-only rows get whole float32 rows; the
    /// contract is the same.
    @Test("Argmax-only rows get the float32 argmax and full rows in the same batch are unchanged, bit for bit")
    func mixedBatch() throws {
        let model = try TransformerModel.load(from: Fixtures.folder("tiny-llama"))
        let screening = model.enableArgmaxScreening()
        #expect(screening == BFloat16Product.isSupported)
        let vocab = model.config.vocabSize
        let prompts: [[Int]] = [[3, 17, 250, 99, 42], [7, 8], Array(0..<20).map { ($0 * 11 + 1) % vocab }]
        let chunks: [[Int]] = [[5, 6, 7], [9], [10, 11]]
        func run(argmaxOnly: [Bool]) throws -> [[[Float]]] {
            let caches = try prompts.map { _ in try model.makeCache() }
            _ = try model.forward(prompts.indices.map { .init(cache: caches[$0], tokens: prompts[$0], logits: .none) },
                                  pool: Fixtures.pool)
            let output = try model.forward(chunks.indices.map {
                .init(cache: caches[$0], tokens: chunks[$0], logits: .all, argmaxOnly: argmaxOnly[$0])
            }, pool: Fixtures.pool)
            let screenedRows = screening ? zip(chunks, argmaxOnly).reduce(0) { $0 + ($1.1 ? $1.0.count : 0) } : 0
            #expect(output.screenedRows == screenedRows)
            return chunks.indices.map { request in
                (0..<chunks[request].count).map { rowArray(output.logits(request: request, row: $0), vocab) }
            }
        }
        let exact = try run(argmaxOnly: [false, false, false])
        for pattern in [[true, false, true], [false, true, false], [true, true, true]] {
            let mixed = try run(argmaxOnly: pattern)
            for request in chunks.indices {
                for (row, (fast, full)) in zip(mixed[request], exact[request]).enumerated() {
                    if pattern[request] {
                        #expect(Kernels.argmax(fast, count: vocab) == Kernels.argmax(full, count: vocab), "request \(request) row \(row)")
                        #expect(zip(fast, full).allSatisfy { $0 == -.infinity || $0.bitPattern == $1.bitPattern })
                    } else {
                        #expect(fast == full, "request \(request) row \(row) changed next to screened rows")
                    }
                }
            }
        }
    }
}
