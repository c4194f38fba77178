/// ggml tensor types as stored in GGUF tensor infos: the numeric id, our dtype name, and the block geometry
/// needed to size a tensor (even one we cannot dequantise, so every tensor in a file can be validated).
struct GGMLType {
    let id: UInt32
    let dataType: TensorDataType
    /// Elements per block (1 for plain types).
    let blockSize: Int
    /// Bytes per block.
    let blockBytes: Int

    /// Block sizes from ggml's type traits (ggml.c / gguf-py constants).
    static let all: [GGMLType] = [
        GGMLType(id: 0, dataType: .f32, blockSize: 1, blockBytes: 4),
        GGMLType(id: 1, dataType: .f16, blockSize: 1, blockBytes: 2),
        GGMLType(id: 2, dataType: .q4_0, blockSize: 32, blockBytes: 18),
        GGMLType(id: 3, dataType: .q4_1, blockSize: 32, blockBytes: 20),
        GGMLType(id: 6, dataType: .q5_0, blockSize: 32, blockBytes: 22),
        GGMLType(id: 7, dataType: .q5_1, blockSize: 32, blockBytes: 24),
        GGMLType(id: 8, dataType: .q8_0, blockSize: 32, blockBytes: 34),
        GGMLType(id: 9, dataType: .q8_1, blockSize: 32, blockBytes: 36),
        GGMLType(id: 10, dataType: .q2_K, blockSize: 256, blockBytes: 84),
        GGMLType(id: 11, dataType: .q3_K, blockSize: 256, blockBytes: 110),
        GGMLType(id: 12, dataType: .q4_K, blockSize: 256, blockBytes: 144),
        GGMLType(id: 13, dataType: .q5_K, blockSize: 256, blockBytes: 176),
        GGMLType(id: 14, dataType: .q6_K, blockSize: 256, blockBytes: 210),
        GGMLType(id: 15, dataType: .q8_K, blockSize: 256, blockBytes: 292),
        GGMLType(id: 16, dataType: .iq2_XXS, blockSize: 256, blockBytes: 66),
        GGMLType(id: 17, dataType: .iq2_XS, blockSize: 256, blockBytes: 74),
        GGMLType(id: 18, dataType: .iq3_XXS, blockSize: 256, blockBytes: 98),
        GGMLType(id: 19, dataType: .iq1_S, blockSize: 256, blockBytes: 50),
        GGMLType(id: 20, dataType: .iq4_NL, blockSize: 32, blockBytes: 18),
        GGMLType(id: 21, dataType: .iq3_S, blockSize: 256, blockBytes: 110),
        GGMLType(id: 22, dataType: .iq2_S, blockSize: 256, blockBytes: 82),
        GGMLType(id: 23, dataType: .iq4_XS, blockSize: 256, blockBytes: 136),
        GGMLType(id: 24, dataType: .i8, blockSize: 1, blockBytes: 1),
        GGMLType(id: 25, dataType: .i16, blockSize: 1, blockBytes: 2),
        GGMLType(id: 26, dataType: .i32, blockSize: 1, blockBytes: 4),
        GGMLType(id: 27, dataType: .i64, blockSize: 1, blockBytes: 8),
        GGMLType(id: 28, dataType: .f64, blockSize: 1, blockBytes: 8),
        GGMLType(id: 29, dataType: .iq1_M, blockSize: 256, blockBytes: 56),
        GGMLType(id: 30, dataType: .bf16, blockSize: 1, blockBytes: 2),
        GGMLType(id: 34, dataType: .tq1_0, blockSize: 256, blockBytes: 54),
        GGMLType(id: 35, dataType: .tq2_0, blockSize: 256, blockBytes: 66),
        GGMLType(id: 39, dataType: .mxfp4, blockSize: 32, blockBytes: 17),
    ]

    private static let byID: [UInt32: GGMLType] = Dictionary(uniqueKeysWithValues: all.map { ($0.id, $0) })
    private static let byDataType: [TensorDataType: GGMLType] =
        Dictionary(uniqueKeysWithValues: all.map { ($0.dataType, $0) })

    static func from(id: UInt32) -> GGMLType? { byID[id] }
    static func from(_ dataType: TensorDataType) -> GGMLType? { byDataType[dataType] }
}
