//! The default memory limit: a quarter of the physical memory, read from
//! `/proc/meminfo` and the cgroup v2 `memory.max`.

/// The default `--memory-limit` in bytes: a quarter of the physical memory
/// (`MemTotal` in `/proc/meminfo`, or the cgroup v2 `memory.max` when it is
/// smaller), or 1 GiB when neither can be read.
pub fn default_memory_limit() -> u64 {
    let meminfo = std::fs::read_to_string("/proc/meminfo").ok().and_then(|m| {
        let line = m.lines().find(|l| l.starts_with("MemTotal:"))?;
        let kib: u64 =
            line.trim_start_matches("MemTotal:").trim().strip_suffix("kB")?.trim().parse().ok()?;
        Some(kib * 1024)
    });
    let cgroup = std::fs::read_to_string("/sys/fs/cgroup/memory.max")
        .ok()
        .and_then(|m| m.trim().parse::<u64>().ok());
    let total = match (meminfo, cgroup) {
        (Some(a), Some(b)) => a.min(b),
        (a, b) => a.or(b).unwrap_or(4 << 30),
    };
    (total / 4).max(1)
}
