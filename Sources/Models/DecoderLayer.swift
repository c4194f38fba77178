import Tensors

/// Weights of one pre-norm decoder layer (Llama family; also the EAGLE-3 draft layers).
public struct DecoderLayerWeights: Sendable {
    public var inputNorm: Tensor
    /// q, k and v stacked into one `[q + 2·kv, in]` projection: one product instead of three.
    public var qkv: Linear
    /// Per-head RMSNorm of q and k before RoPE (qwen3).
    public var qNorm: Tensor?
    public var kNorm: Tensor?
    public var output: Linear
    public var postAttentionNorm: Tensor
    /// Gate and up projections stacked into one `[2·intermediate, hidden]` product.
    public var gateUp: Linear
    public var down: Linear

    /// This layer with `transform` applied to each of its four matrices (re-encodings of the
    /// same weights: bf16 streaming copies, packed copies).
    public func mappingLinears(_ transform: (Linear) -> Linear) -> DecoderLayerWeights {
        var layer = self
        layer.qkv = transform(qkv)
        layer.output = transform(output)
        layer.gateUp = transform(gateUp)
        layer.down = transform(down)
        return layer
    }

    public init(inputNorm: Tensor, qkv: Linear, qNorm: Tensor?, kNorm: Tensor?, output: Linear,
                postAttentionNorm: Tensor, gateUp: Linear, down: Linear) {
        self.inputNorm = inputNorm
        self.qkv = qkv
        self.qNorm = qNorm
        self.kNorm = kNorm
        self.output = output
        self.postAttentionNorm = postAttentionNorm
        self.gateUp = gateUp
        self.down = down
    }
}

/// The attention geometry shared by every layer of a model.
public struct AttentionShape: Sendable {
    public let headCount: Int
    public let kvHeadCount: Int
    public let headDim: Int
    public let rmsNormEps: Float
    public let slidingWindow: Int?
    public var qWidth: Int { headCount * headDim }
    public var kvWidth: Int { kvHeadCount * headDim }
    public var qkvWidth: Int { qWidth + 2 * kvWidth }

    public init(headCount: Int, kvHeadCount: Int, headDim: Int, rmsNormEps: Float, slidingWindow: Int?) {
        self.headCount = headCount
        self.kvHeadCount = kvHeadCount
        self.headDim = headDim
        self.rmsNormEps = rmsNormEps
        self.slidingWindow = slidingWindow
    }
}

/// Temporaries of a forward pass, reused across calls.
final class LayerWorkspace: @unchecked Sendable {
    let normed = Scratch()
    let qkv = Scratch()
    let attention = Scratch()
    let projected = Scratch()
    let gateUp = Scratch()
    let activated = Scratch()
    var scores: [Scratch] = []
    /// Where each segment's attention tasks end (kept to avoid an allocation per layer).
    var taskEnds: [Int] = []

    func scores(worker: Int) -> Scratch {
        while scores.count <= worker { scores.append(Scratch()) }
        return scores[worker]
    }
}

/// The computation of a decoder layer over a packed batch.
enum DecoderLayer {
    /// Context length from which a lone row's attention takes all the query heads of a key/value
    /// head in one task, so that its keys and values are read from memory once instead of once per
    /// query head (three times for SmolLM2). Shorter contexts stay in cache, where nine one-head
    /// tasks share two workers more evenly than three. Measured (same bits either way): a C harness
    /// of one layer's calls from memory, 40.6 against 34.5 µs at 1,000 keys, 88.9 against 58.4 at
    /// 2,000, alike at 100 and 300; SmolLM2 generating 2,000 tokens (contexts 13 to 2,013), three
    /// alternating runs: from quantised blocks 282-292 tok/s before, 298-305 after; float32
    /// 129-141 before, 136-149 after.
    static let groupedHeadsFromKeys = 256

    /// Runs attention and MLP for `layout.rowCount` rows.
    ///
    /// - `input`: the attention input rows (already normalised), `inputWidth` wide (the hidden
    ///   size, or twice it for the EAGLE-3 first layer).
    /// - `residual`: `[rows, hidden]`, updated in place to the layer output.
    static func forward(
        _ weights: DecoderLayerWeights, layerIndex: Int, shape: AttentionShape, rope: RotaryEmbedding,
        input: UnsafePointer<Float>, inputWidth: Int, residual: UnsafeMutablePointer<Float>, hidden: Int,
        layout: BatchLayout, positions: [Int], workspace: LayerWorkspace, pool: ThreadPool
    ) {
        let rows = layout.rowCount
        let invariant = layout.invariantRowCount
        let gemm = layout.gemmSegments, precision = layout.gemmPrecision
        let qkv = workspace.qkv.pointer(rows * shape.qkvWidth)
        weights.qkv.apply(input, rows: rows, ldInput: inputWidth, into: qkv, pool: pool, invariantRows: invariant, gemmSegments: gemm,
                          gemmPrecision: precision)
        prepareQKV(weights, layerIndex: layerIndex, shape: shape, rope: rope, qkv: qkv, layout: layout,
                   positions: positions, pool: pool)
        let attended = workspace.attention.pointer(rows * shape.qWidth)
        attend(layerIndex: layerIndex, shape: shape, qkv: qkv, layout: layout, into: attended,
               workspace: workspace, pool: pool)
        let projected = workspace.projected.pointer(rows * hidden)
        weights.output.apply(attended, rows: rows, into: projected, pool: pool, invariantRows: invariant, gemmSegments: gemm,
                             gemmPrecision: precision)
        Kernels.add(projected, into: residual, count: rows * hidden)

        let normed = workspace.normed.pointer(rows * hidden)
        Kernels.rmsNorm(residual, weight: weights.postAttentionNorm.base, eps: shape.rmsNormEps,
                        rows: rows, dim: hidden, into: normed)
        let inner = weights.down.inFeatures
        let gateUp = workspace.gateUp.pointer(rows * 2 * inner)
        weights.gateUp.apply(normed, rows: rows, into: gateUp, pool: pool, invariantRows: invariant, gemmSegments: gemm,
                             gemmPrecision: precision)
        let activated = workspace.activated.pointer(rows * inner)
        var silu = SiluJob(gateUp: gateUp, activated: activated, inner: inner)
        pool.parallelRanges(rows, state: &silu) { raw, lower, upper in
            let job = raw.assumingMemoryBound(to: SiluJob.self).pointee
            Kernels.siluMultiply(job.gateUp + lower * 2 * job.inner, rows: upper - lower, inner: job.inner,
                                 into: job.activated + lower * job.inner)
        }
        weights.down.apply(activated, rows: rows, into: projected, pool: pool, invariantRows: invariant, gemmSegments: gemm,
                           gemmPrecision: precision)
        Kernels.add(projected, into: residual, count: rows * hidden)
    }

    /// Normalises (qwen3) and rotates q and k of every row, and stores k and v in the caches.
    static func prepareQKV(
        _ weights: DecoderLayerWeights, layerIndex: Int, shape: AttentionShape, rope: RotaryEmbedding,
        qkv: UnsafeMutablePointer<Float>, layout: BatchLayout, positions: [Int], pool: ThreadPool
    ) {
        var job = PrepareJob(weights: weights, layerIndex: layerIndex, shape: shape, rope: rope, qkv: qkv, layout: layout,
                             positions: positions)
        // The job holds references (the layout's arrays), so it is passed as a typed pointer:
        // it stays on this stack frame, alive and unchanged, until every worker is done.
        withUnsafeMutablePointer(to: &job) { job in
            pool.parallelRanges(layout.rowCount, state: UnsafeMutableRawPointer(job)) { raw, lower, upper in
                DecoderLayer.prepareRows(lower..<upper, raw.assumingMemoryBound(to: PrepareJob.self))
            }
        }
    }

    /// `prepareQKV`'s arguments, for the pieces of its loop (in a struct on the caller's stack
    /// rather than a closure's context, which would be allocated: `ThreadPool.parallelFor(_:state:_:)`).
    private struct PrepareJob {
        let weights: DecoderLayerWeights
        let layerIndex: Int
        let shape: AttentionShape
        let rope: RotaryEmbedding
        let qkv: UnsafeMutablePointer<Float>
        let layout: BatchLayout
        let positions: [Int]
    }

    /// What `siluMultiply` needs in each piece of the MLP's loop.
    private struct SiluJob {
        let gateUp: UnsafeMutablePointer<Float>
        let activated: UnsafeMutablePointer<Float>
        let inner: Int
    }

    /// Rows `rows` of `prepareQKV`.
    private static func prepareRows(_ rows: Range<Int>, _ job: UnsafeMutablePointer<PrepareJob>) {
        let shape = job.pointee.shape, layerIndex = job.pointee.layerIndex, qkv = job.pointee.qkv
        let hd = shape.headDim, width = shape.qkvWidth
        for rowIndex in rows {
            let cache = job.pointee.layout.segments[job.pointee.layout.segmentOfRow[rowIndex]].cache
            let row = qkv + rowIndex * width
            let q = row, k = row + shape.qWidth, v = k + shape.kvWidth
            if let qNorm = job.pointee.weights.qNorm, let kNorm = job.pointee.weights.kNorm {
                Kernels.rmsNorm(q, weight: qNorm.base, eps: shape.rmsNormEps, rows: shape.headCount, dim: hd, into: q)
                Kernels.rmsNorm(k, weight: kNorm.base, eps: shape.rmsNormEps, rows: shape.kvHeadCount, dim: hd, into: k)
            }
            let position = job.pointee.positions[rowIndex]
            job.pointee.rope.apply(q, heads: shape.headCount, position: position)
            job.pointee.rope.apply(k, heads: shape.kvHeadCount, position: position)
            let slot = position - cache.positionOffset
            for head in 0..<shape.kvHeadCount {
                (cache.keys(layer: layerIndex, head: head) + slot * hd).update(from: k + head * hd, count: hd)
                (cache.values(layer: layerIndex, head: head) + slot * hd).update(from: v + head * hd, count: hd)
            }
        }
    }

    /// Causal (optionally sliding-window) grouped-query attention of every sequence over its
    /// cache, written as `[rows, heads·headDim]`.
    ///
    /// Short segments (decode, verification) use a per-row kernel whose arithmetic does not
    /// depend on how many rows the segment has, so a verified token sees exactly the numbers it
    /// would have seen decoded alone. Long prefill segments use BLAS over the whole chunk.
    static func attend(
        layerIndex: Int, shape: AttentionShape, qkv: UnsafeMutablePointer<Float>, layout: BatchLayout,
        into output: UnsafeMutablePointer<Float>, workspace: LayerWorkspace, pool: ThreadPool
    ) {
        // Tasks: a long segment's heads (BLAS over the chunk); a short segment of several rows
        // (verification) as (key/value head, row group) units, whose rows read the keys once;
        // a single row as (row, key/value head) units when there are enough of those for every
        // worker twice, so that the query heads sharing a key/value head read its values once,
        // or when its context is long (`groupedHeadsFromKeys`), else as (row, head).
        let kernel = AttentionKernel.supports(headDim: shape.headDim)
        let rowGrouping = kernel && shape.slidingWindow == nil
        var shortRows = 0, chunkScores = 0, rowKeys = 0, groupedSegments = 0
        for segment in layout.segments {
            let keys = segment.positionStart + segment.rowCount
            if segment.rowCount > SmallBatchProduct.maxRows {
                chunkScores = max(chunkScores, segment.rowCount * keys)
            } else {
                shortRows += segment.rowCount
                rowKeys = max(rowKeys, keys)
                if rowGrouping && segment.rowCount > 1 { groupedSegments += 1 }
            }
        }
        let group = shape.headCount / shape.kvHeadCount
        let headsPerTask = kernel && (shortRows * shape.kvHeadCount >= 2 * pool.threadCount
                                      || rowKeys >= groupedHeadsFromKeys) ? group : 1
        // Two or more row groups per segment only when its key/value heads alone could not keep
        // every worker busy twice (one sequence verifying drafts).
        let perHead = shape.kvHeadCount * max(groupedSegments, 1)
        let rowGroups = max(1, (2 * pool.threadCount + perHead - 1) / perHead)
        var largest = max(chunkScores, kernel ? AttentionKernel.scratchCount(heads: headsPerTask, count: rowKeys) : rowKeys)
        let tasksPerRow = shape.headCount / headsPerTask
        var taskEnds = workspace.taskEnds
        workspace.taskEnds = []  // take the buffer: emptying a shared copy would allocate a new one
        taskEnds.removeAll(keepingCapacity: true)
        var tasks = 0
        for segment in layout.segments {
            if segment.rowCount > SmallBatchProduct.maxRows {
                tasks += shape.headCount
            } else if rowGrouping && segment.rowCount > 1 {
                let groups = min(rowGroups, segment.rowCount)
                tasks += shape.kvHeadCount * groups
                let groupRows = (segment.rowCount + groups - 1) / groups
                largest = max(largest, AttentionKernel.scratchCount(heads: group, count: segment.positionStart + segment.rowCount,
                                                                    rows: groupRows))
            } else {
                tasks += kernel ? segment.rowCount * tasksPerRow : shape.headCount
            }
            taskEnds.append(tasks)
        }
        workspace.taskEnds = taskEnds
        let workers = min(pool.threadCount, tasks)
        // Grown here, so that the workers only read them.
        for worker in 0..<workers { _ = workspace.scores(worker: worker).pointer(largest) }
        var job = AttendJob(layerIndex: layerIndex, shape: shape, qkv: qkv, layout: layout, output: output,
                            workspace: workspace, largest: largest, ends: taskEnds, tasks: tasks, workers: workers,
                            kernel: kernel, rowGrouping: rowGrouping, rowGroups: rowGroups, headsPerTask: headsPerTask,
                            tasksPerRow: tasksPerRow)
        withUnsafeMutablePointer(to: &job) { job in // holds references: see `prepareQKV`
            pool.parallelFor(workers, state: UnsafeMutableRawPointer(job)) { raw, worker in
                DecoderLayer.attendTasks(worker: worker, raw.assumingMemoryBound(to: AttendJob.self))
            }
        }
    }

    /// `attend`'s plan, for its workers (in a struct on the caller's stack rather than a closure's
    /// context, which would be allocated: `ThreadPool.parallelFor(_:state:_:)`).
    private struct AttendJob {
        let layerIndex: Int
        let shape: AttentionShape
        let qkv: UnsafeMutablePointer<Float>
        let layout: BatchLayout
        let output: UnsafeMutablePointer<Float>
        let workspace: LayerWorkspace
        let largest: Int
        /// Task index one past each segment's last.
        let ends: [Int]
        let tasks: Int, workers: Int
        let kernel: Bool, rowGrouping: Bool
        let rowGroups: Int, headsPerTask: Int, tasksPerRow: Int
    }

    /// Worker `worker`'s share of `attend`: tasks `worker`, `worker + workers`, ...
    private static func attendTasks(worker: Int, _ job: UnsafeMutablePointer<AttendJob>) {
        let tasks = job.pointee.tasks, workers = job.pointee.workers, layerIndex = job.pointee.layerIndex
        let shape = job.pointee.shape, qkv = job.pointee.qkv, output = job.pointee.output
        let scratch = job.pointee.workspace.scores(worker: worker).pointer(job.pointee.largest)
        var task = worker
        var segmentIndex = 0
        while task < tasks {
            defer { task += workers }
            while job.pointee.ends[segmentIndex] <= task { segmentIndex += 1 }
            let segment = job.pointee.layout.segments[segmentIndex]
            let local = task - (segmentIndex == 0 ? 0 : job.pointee.ends[segmentIndex - 1])
            if segment.rowCount > SmallBatchProduct.maxRows {
                attendChunk(segment, head: local, layerIndex: layerIndex, shape: shape, qkv: qkv, output: output,
                            scores: scratch)
            } else if job.pointee.rowGrouping && segment.rowCount > 1 {
                let groups = min(job.pointee.rowGroups, segment.rowCount)
                attendRowGroup(segment, rows: ThreadPool.piece(local % groups, of: groups, total: segment.rowCount, alignment: 1),
                               kvHead: local / groups, layerIndex: layerIndex, shape: shape, qkv: qkv, output: output,
                               scratch: scratch)
            } else if job.pointee.kernel {
                let tasksPerRow = job.pointee.tasksPerRow, headsPerTask = job.pointee.headsPerTask
                attendRow(segment, row: local / tasksPerRow, firstHead: (local % tasksPerRow) * headsPerTask,
                          heads: headsPerTask, layerIndex: layerIndex, shape: shape, qkv: qkv, output: output,
                          scratch: scratch)
            } else {
                attendRows(segment, head: local, layerIndex: layerIndex, shape: shape, qkv: qkv, output: output,
                           scores: scratch)
            }
        }
    }

    /// Rows `rows` of a short segment (no sliding window), the query heads of key/value head
    /// `kvHead`, with the C kernel's multi-row call: the same numbers as row by row.
    static func attendRowGroup(
        _ segment: BatchLayout.Segment, rows: Range<Int>, kvHead: Int, layerIndex: Int, shape: AttentionShape,
        qkv: UnsafeMutablePointer<Float>, output: UnsafeMutablePointer<Float>, scratch: UnsafeMutablePointer<Float>
    ) {
        guard !rows.isEmpty else { return }
        let hd = shape.headDim
        let group = shape.headCount / shape.kvHeadCount
        let firstHead = kvHead * group
        AttentionKernel.attendRows(
            query: qkv + (segment.rowStart + rows.lowerBound) * shape.qkvWidth + firstHead * hd, queryRowStride: shape.qkvWidth,
            queryHeadStride: hd, heads: group, rows: rows.count, keys: segment.cache.keys(layer: layerIndex, head: kvHead),
            values: segment.cache.values(layer: layerIndex, head: kvHead),
            firstCount: segment.positionStart + rows.lowerBound + 1, headDim: hd, scale: 1 / Float(hd).squareRoot(),
            scratch: scratch, output: output + (segment.rowStart + rows.lowerBound) * shape.qWidth + firstHead * hd,
            outputRowStride: shape.qWidth, outputHeadStride: hd)
    }

    /// Heads `firstHead..<firstHead + heads` (sharing one key/value head) of one row of a short
    /// segment, with the C kernel.
    static func attendRow(
        _ segment: BatchLayout.Segment, row: Int, firstHead: Int, heads: Int, layerIndex: Int, shape: AttentionShape,
        qkv: UnsafeMutablePointer<Float>, output: UnsafeMutablePointer<Float>, scratch: UnsafeMutablePointer<Float>
    ) {
        let hd = shape.headDim
        let kvHead = firstHead / (shape.headCount / shape.kvHeadCount)
        let visible = visibleKeys(position: segment.positionStart + row, window: shape.slidingWindow)
        let keys = segment.cache.keys(layer: layerIndex, head: kvHead) + visible.lowerBound * hd
        let values = segment.cache.values(layer: layerIndex, head: kvHead) + visible.lowerBound * hd
        AttentionKernel.attend(query: qkv + (segment.rowStart + row) * shape.qkvWidth + firstHead * hd, queryHeadStride: hd,
                               heads: heads, keys: keys, values: values, count: visible.count, headDim: hd,
                               scale: 1 / Float(hd).squareRoot(), scratch: scratch,
                               output: output + (segment.rowStart + row) * shape.qWidth + firstHead * hd,
                               outputHeadStride: hd)
    }

    /// The keys row `position` may attend to.
    @inline(__always)
    static func visibleKeys(position: Int, window: Int?) -> Range<Int> {
        let end = position + 1
        return (window.map { max(0, end - $0) } ?? 0)..<end
    }

    /// One query row at a time, in a fixed order of operations (head widths the C kernel does not
    /// take: not a multiple of 16).
    static func attendRows(
        _ segment: BatchLayout.Segment, head: Int, layerIndex: Int, shape: AttentionShape,
        qkv: UnsafeMutablePointer<Float>, output: UnsafeMutablePointer<Float>, scores: UnsafeMutablePointer<Float>
    ) {
        let hd = shape.headDim, width = shape.qkvWidth
        let kvHead = head / (shape.headCount / shape.kvHeadCount)
        let scale = 1 / Float(hd).squareRoot()
        let keys = segment.cache.keys(layer: layerIndex, head: kvHead)
        let values = segment.cache.values(layer: layerIndex, head: kvHead)
        for i in 0..<segment.rowCount {
            let query = qkv + (segment.rowStart + i) * width + head * hd
            let visible = visibleKeys(position: segment.positionStart + i, window: shape.slidingWindow)
            Kernels.scaledDots(query: query, keys: keys + visible.lowerBound * hd, count: visible.count, dim: hd,
                               scale: scale, into: scores)
            Kernels.softmax(scores, count: visible.count)
            let out = output + (segment.rowStart + i) * shape.qWidth + head * hd
            Kernels.weightedSum(of: values + visible.lowerBound * hd, weights: scores, count: visible.count,
                                width: hd, into: out)
        }
    }

    /// A whole prefill chunk with two BLAS products (scores, then weighted values).
    static func attendChunk(
        _ segment: BatchLayout.Segment, head: Int, layerIndex: Int, shape: AttentionShape,
        qkv: UnsafeMutablePointer<Float>, output: UnsafeMutablePointer<Float>, scores: UnsafeMutablePointer<Float>
    ) {
        let hd = shape.headDim, width = shape.qkvWidth
        let kvHead = head / (shape.headCount / shape.kvHeadCount)
        let scale = 1 / Float(hd).squareRoot()
        let rows = segment.rowCount, keyCount = segment.positionStart + rows
        let keys = segment.cache.keys(layer: layerIndex, head: kvHead)
        let values = segment.cache.values(layer: layerIndex, head: kvHead)
        let query = qkv + segment.rowStart * width + head * hd
        BLAS.gemmTransposedB(m: rows, n: keyCount, k: hd, alpha: scale, a: query, lda: width,
                             b: keys, ldb: hd, c: scores, ldc: keyCount)
        for i in 0..<rows {
            let row = scores + i * keyCount
            let visible = visibleKeys(position: segment.positionStart + i, window: shape.slidingWindow)
            if visible.lowerBound > 0 { row.update(repeating: 0, count: visible.lowerBound) }
            Kernels.softmax(row + visible.lowerBound, count: visible.count)
            if visible.upperBound < keyCount {
                (row + visible.upperBound).update(repeating: 0, count: keyCount - visible.upperBound)
            }
        }
        BLAS.gemm(m: rows, n: hd, k: keyCount, a: scores, lda: keyCount, b: values, ldb: hd,
                  c: output + segment.rowStart * shape.qWidth + head * hd, ldc: shape.qWidth)
    }
}
