#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A whole file mapped read-only into memory.
///
/// Checkpoints are read through mmap so opening a multi-gigabyte file costs nothing and a tensor is only paged
/// in when it is converted; nothing ever copies the whole file. The mapping is private and read-only, so sharing
/// it between threads is safe.
final class MappedFile: @unchecked Sendable {
    let path: String
    /// The first byte of the file; a dummy pointer to zero bytes when the file is empty.
    let bytes: UnsafeRawPointer
    let size: Int
    private let mapped: Bool

    init(path: String) throws {
        self.path = path
        let fd = open(path, O_RDONLY)
        guard fd >= 0 else { throw CheckpointError.unreadable(file: path, problem: MappedFile.errnoText()) }
        defer { close(fd) }
        var status = stat()
        guard fstat(fd, &status) == 0 else {
            throw CheckpointError.unreadable(file: path, problem: MappedFile.errnoText())
        }
        guard (status.st_mode & S_IFMT) == S_IFREG else {
            throw CheckpointError.unreadable(file: path, problem: "not a regular file")
        }
        size = Int(status.st_size)
        if size == 0 {
            bytes = UnsafeRawPointer(UnsafeMutableRawPointer.allocate(byteCount: 1, alignment: 8))
            mapped = false
            return
        }
        guard let region = mmap(nil, size, PROT_READ, MAP_PRIVATE, fd, 0), region != MAP_FAILED else {
            throw CheckpointError.unreadable(file: path, problem: "mmap failed: \(MappedFile.errnoText())")
        }
        bytes = UnsafeRawPointer(region)
        mapped = true
    }

    deinit {
        if mapped {
            munmap(UnsafeMutableRawPointer(mutating: bytes), size)
        } else {
            UnsafeMutableRawPointer(mutating: bytes).deallocate()
        }
    }

    /// The bytes `[offset, offset + count)`; the caller has checked the range.
    func slice(_ offset: Int, _ count: Int) -> UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(start: bytes + offset, count: count)
    }

    private static func errnoText() -> String { String(cString: strerror(errno)) }
}
