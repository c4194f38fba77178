import Foundation

// prometheus_client's process collector, which every Python exporter (vLLM's /metrics included)
// serves by default: this process's memory, CPU time, start time and file descriptors, read from
// /proc at each scrape. Dashboards and alerts written against vLLM use them (resident memory,
// CPU rate, restarts); here they also show that memory returns to its baseline after bad input.

/// One reading of the process collector's values.
public struct ProcessMetrics: Sendable, Equatable {
    public var virtualMemoryBytes: Double
    public var residentMemoryBytes: Double
    public var startTimeSeconds: Double
    public var cpuSeconds: Double
    public var openFileDescriptors: Double
    public var maxFileDescriptors: Double?

    /// This process now; nil where /proc does not describe it (not Linux).
    public static func current() -> ProcessMetrics? {
        guard let stat = try? String(contentsOfFile: "/proc/self/stat", encoding: .utf8),
              let boot = try? String(contentsOfFile: "/proc/stat", encoding: .utf8) else { return nil }
        let descriptors = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd"))?.count ?? 0
        let limits = try? String(contentsOfFile: "/proc/self/limits", encoding: .utf8)
        return parse(stat: stat, bootStat: boot, limits: limits, openFileDescriptors: descriptors,
                     ticksPerSecond: Double(sysconf(Int32(_SC_CLK_TCK))), pageSize: Double(sysconf(Int32(_SC_PAGESIZE))))
    }

    /// The values from the texts of /proc/self/stat, /proc/stat and /proc/self/limits, as
    /// prometheus_client computes them (`opendir` counts `.` and `..` neither; it lists
    /// /proc/self/fd itself, whose own descriptor is counted, as here).
    public static func parse(stat: String, bootStat: String, limits: String?, openFileDescriptors: Int,
                      ticksPerSecond: Double, pageSize: Double) -> ProcessMetrics? {
        // The command name (field 2) is parenthesised and may hold spaces: fields resume after
        // the last ')', at field 3.
        guard let close = stat.lastIndex(of: ")") else { return nil }
        let fields = stat[stat.index(after: close)...].split(separator: " ", omittingEmptySubsequences: true)
        func field(_ number: Int) -> Double? { number - 3 < fields.count ? Double(fields[number - 3]) : nil }
        guard let utime = field(14), let stime = field(15), let start = field(22), let vsize = field(23),
              let rss = field(24), ticksPerSecond > 0,
              let btimeLine = bootStat.split(separator: "\n").first(where: { $0.hasPrefix("btime ") }),
              let bootTime = btimeLine.split(separator: " ").last.flatMap({ Double($0) }) else { return nil }
        var maxFDs: Double?
        if let line = limits?.split(separator: "\n").first(where: { $0.hasPrefix("Max open files") }) {
            // "Max open files            1024                 1048576              files": the soft limit.
            maxFDs = line.dropFirst("Max open files".count).split(separator: " ").first.flatMap { Double($0) }
        }
        return ProcessMetrics(virtualMemoryBytes: vsize, residentMemoryBytes: rss * pageSize,
                              startTimeSeconds: start / ticksPerSecond + bootTime,
                              cpuSeconds: (utime + stime) / ticksPerSecond,
                              openFileDescriptors: Double(openFileDescriptors), maxFileDescriptors: maxFDs)
    }

    /// The families in prometheus_client's text, names, help and order.
    public var exposition: String {
        var text = ""
        func family(_ name: String, _ help: String, _ type: String, _ value: Double) {
            text += "# HELP \(name) \(help)\n# TYPE \(name) \(type)\n\(name) \(PrometheusTextWriter.formatValue(value))\n"
        }
        family("process_virtual_memory_bytes", "Virtual memory size in bytes.", "gauge", virtualMemoryBytes)
        family("process_resident_memory_bytes", "Resident memory size in bytes.", "gauge", residentMemoryBytes)
        family("process_start_time_seconds", "Start time of the process since unix epoch in seconds.", "gauge",
               startTimeSeconds)
        family("process_cpu_seconds_total", "Total user and system CPU time spent in seconds.", "counter", cpuSeconds)
        family("process_open_fds", "Number of open file descriptors.", "gauge", openFileDescriptors)
        if let maxFileDescriptors {
            family("process_max_fds", "Maximum number of open file descriptors.", "gauge", maxFileDescriptors)
        }
        return text
    }
}
