import Tensors

/// How the rows of one forward pass are packed: each sequence contributes a run of consecutive
/// rows, and row `i` of a sequence sits at cache position `cache.length + i`.
///
/// One batch may mix a long prefill chunk, several multi-token verification chunks and single
/// decode tokens; every matrix product runs over all rows at once. Short segments (decode and
/// verification, at most `SmallBatchProduct.maxRows` rows) are packed first and computed with
/// batch-invariant kernels, so their results never depend on what else shares the batch.
public struct BatchLayout: Sendable {
    public struct Segment: Sendable {
        public let cache: KVCache
        /// First packed row of this sequence.
        public let rowStart: Int
        public let rowCount: Int
        /// Cache position of the first row.
        public let positionStart: Int
    }

    public private(set) var segments: [Segment] = []
    public private(set) var rowCount = 0
    /// For every packed row, the index of its segment.
    public private(set) var segmentOfRow: [Int] = []

    /// Rows of the leading short segments (computed batch-invariantly).
    public private(set) var invariantRowCount = 0
    /// False when the batch was packed for throughput (`batchInvariant: false`): every row goes
    /// through one GEMM call per matrix product.
    public private(set) var batchInvariant = true
    /// Precision of the GEMM rows: bf16 only in a batch packed for throughput (data generation).
    public private(set) var gemmPrecision = MatmulPrecision.float32
    /// Rows of each long (prefill) segment, each computed by a GEMM call of its own; with
    /// `batchInvariant` off, all rows in one call.
    public var gemmSegments: [Range<Int>] {
        guard batchInvariant else { return rowCount > 0 ? [0..<rowCount] : [] }
        return segments.filter { $0.rowCount > SmallBatchProduct.maxRows }.map { $0.rowStart..<($0.rowStart + $0.rowCount) }
    }
    /// For each segment, the index of the request it came from.
    public private(set) var requestOfSegment: [Int] = []
    /// For each request, the index of its segment.
    public private(set) var segmentOfRequest: [Int] = []

    public init() {}

    /// Packs `rowCounts[i]` rows for `caches[i]`, short segments first.
    ///
    /// With `batchInvariant` false and bfloat16 `gemmPrecision`, all rows of a matrix product go to
    /// one bfloat16 GEMM call, which is faster for large batches of single tokens (data generation)
    /// but lets a row's rounding depend on its neighbours. Float32 rows always take the
    /// batch-invariant kernel (`Linear.apply`).
    public init(caches: [KVCache], rowCounts: [Int], batchInvariant: Bool = true,
                gemmPrecision: MatmulPrecision = .float32) {
        pack(count: rowCounts.count, cache: { caches[$0] }, rowCount: { rowCounts[$0] },
             batchInvariant: batchInvariant, gemmPrecision: gemmPrecision)
    }

    /// Packs `count` requests again, request `i` with `rowCount(i)` rows for `cache(i)`, exactly
    /// as `init(caches:rowCounts:)` would, but in this layout's arrays: a model keeps one layout
    /// and repacks it every forward, so that once the arrays have grown to the batch a step
    /// allocates nothing here (a new layout made five allocations a forward).
    public mutating func pack(count: Int, cache: (Int) -> KVCache, rowCount rows: (Int) -> Int,
                              batchInvariant: Bool = true, gemmPrecision: MatmulPrecision = .float32) {
        self.batchInvariant = batchInvariant
        self.gemmPrecision = batchInvariant ? .float32 : gemmPrecision
        segments.removeAll(keepingCapacity: true)
        segmentOfRow.removeAll(keepingCapacity: true)
        requestOfSegment.removeAll(keepingCapacity: true)
        segmentOfRequest.removeAll(keepingCapacity: true)
        segmentOfRequest.append(contentsOf: repeatElement(0, count: count))
        rowCount = 0
        invariantRowCount = 0
        // Short segments first, then long ones, each kind in request order.
        for pass in 0..<2 {
            let long = pass == 1
            for request in 0..<count where (rows(request) > SmallBatchProduct.maxRows) == long {
                segmentOfRequest[request] = segments.count
                requestOfSegment.append(request)
                append(cache: cache(request), rows: rows(request))
                if batchInvariant, !long { invariantRowCount = rowCount }
            }
        }
    }

    private mutating func append(cache: KVCache, rows: Int) {
        segmentOfRow.append(contentsOf: repeatElement(segments.count, count: rows))
        segments.append(Segment(cache: cache, rowStart: rowCount, rowCount: rows, positionStart: cache.length))
        rowCount += rows
    }

    /// The sequence position of every packed row (its cache slot plus the cache's
    /// `positionOffset`), which the rotary embedding encodes.
    public var positions: [Int] {
        var result: [Int] = []
        positions(into: &result)
        return result
    }

    /// `positions`, written over `result` (whose storage is reused).
    public func positions(into result: inout [Int]) {
        result.removeAll(keepingCapacity: true)
        result.reserveCapacity(rowCount)
        for segment in segments {
            let offset = segment.cache.positionOffset
            for i in 0..<segment.rowCount { result.append(offset + segment.positionStart + i) }
        }
    }

    /// The packed rows whose outputs are wanted (`wanted(i)` for request `i` of `count`), and for
    /// each request its range in that list, written over `rows` and `ranges`.
    func selectRows(count: Int, wanted: (Int) -> TransformerModel.LogitRows, rows: inout [Int],
                    ranges: inout [Range<Int>]) {
        rows.removeAll(keepingCapacity: true)
        ranges.removeAll(keepingCapacity: true)
        for index in 0..<count {
            let segment = segments[segmentOfRequest[index]]
            let start = rows.count
            switch wanted(index) {
            case .none: break
            case .last: if segment.rowCount > 0 { rows.append(segment.rowStart + segment.rowCount - 1) }
            case .all: rows.append(contentsOf: segment.rowStart..<(segment.rowStart + segment.rowCount))
            }
            ranges.append(start..<rows.count)
        }
    }

    /// For each of the first `count` requests, its packed rows, written over `ranges`.
    func rowRanges(count: Int, into ranges: inout [Range<Int>]) {
        ranges.removeAll(keepingCapacity: true)
        for index in 0..<count {
            let segment = segments[segmentOfRequest[index]]
            ranges.append(segment.rowStart..<(segment.rowStart + segment.rowCount))
        }
    }
}
