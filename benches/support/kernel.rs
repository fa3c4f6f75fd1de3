//! What the running kernel allows for fiber stacks, shared by the benchmark
//! suite and the stack tests (each includes this file with `#[path]`).
#![allow(dead_code)] // each includer uses a subset

/// `vm.max_map_count`: guarded stacks that each own a mapping take two.
pub(crate) fn max_map_count() -> usize {
    std::fs::read_to_string("/proc/sys/vm/max_map_count")
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(65_530)
}

/// Linux 6.13 added guard regions (`MADV_GUARD_INSTALL`), which let guarded
/// stacks share mappings, so `max_map_count` no longer caps live fibers.
pub(crate) fn has_guard_regions() -> bool {
    let release = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    let mut parts = release.split(|c: char| !c.is_ascii_digit());
    let major: u32 = parts.next().and_then(|p| p.parse().ok()).unwrap_or(0);
    let minor: u32 = parts.next().and_then(|p| p.parse().ok()).unwrap_or(0);
    (major, minor) >= (6, 13)
}
