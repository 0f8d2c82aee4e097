//! Sizes that would not fit in host memory are refused before any work.
//!
//! An N×N weights matrix grows fast: N = 40,000 is 6.4 GB of f32. Found out by the allocator
//! half-way through a run, that is a crash (or the OOM killer) after minutes of GPU work; found
//! out here, it is a message naming the size, the limit and the flag that avoids it.
//!
//! The limit is the memory the system can give now — `MemAvailable` from `/proc/meminfo`, or
//! less where a cgroup (a container) caps this process — or the `SELFATTN_HOST_MEMORY`
//! environment variable (bytes, or with a K/M/G/T suffix, powers of 1024), which also lets a
//! user keep a run smaller than the machine. Where neither is known, nothing is refused here.

use crate::error::{Error, Result};

/// The environment variable that sets the host memory limit.
pub const HOST_MEMORY_ENV: &str = "SELFATTN_HOST_MEMORY";

/// The host memory limit in bytes and where it comes from, if known.
pub fn host_memory_limit() -> Result<Option<(u64, String)>> {
    if let Ok(text) = std::env::var(HOST_MEMORY_ENV) {
        let bytes = parse_size(&text).ok_or_else(|| {
            Error::Usage(format!(
                "{HOST_MEMORY_ENV}={text:?} is not a size (bytes, or a number with K, M, G or T)"
            ))
        })?;
        return Ok(Some((bytes, format!("{HOST_MEMORY_ENV}={text}"))));
    }
    let available = meminfo_available();
    let cgroup = cgroup_headroom();
    Ok(match (available, cgroup) {
        (Some(a), Some(c)) if c < a => Some((c, "this process's cgroup memory limit".into())),
        (Some(a), _) => Some((a, "the memory available now (MemAvailable)".into())),
        (None, Some(c)) => Some((c, "this process's cgroup memory limit".into())),
        (None, None) => None,
    })
}

/// Refuses, before any work, `bytes` of host memory for `what` when they exceed the limit.
/// `avoid` says how to do without (a flag), and ends the message.
pub fn check_host_bytes(what: &str, bytes: u64, avoid: &str) -> Result<()> {
    match host_memory_limit()? {
        Some((limit, source)) if bytes > limit => Err(Error::InvalidSize(format!(
            "{what} need {} of host memory, more than the {} limit ({source}); {avoid}",
            human_bytes(bytes),
            human_bytes(limit)
        ))),
        _ => Ok(()),
    }
}

/// Bytes as "1.50 GiB" (and the exact count).
pub fn human_bytes(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes} B")
    } else {
        format!("{value:.2} {} ({bytes} bytes)", UNITS[unit])
    }
}

/// "123", "64K", "1.5G", "2 GiB" … as bytes.
fn parse_size(text: &str) -> Option<u64> {
    let t = text.trim();
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (number, unit) = t.split_at(split);
    let number: f64 = number.parse().ok()?;
    let scale: u64 = match unit.trim().to_ascii_uppercase().trim_end_matches("IB") {
        "" | "B" => 1,
        "K" => 1 << 10,
        "M" => 1 << 20,
        "G" => 1 << 30,
        "T" => 1 << 40,
        _ => return None,
    };
    let bytes = number * scale as f64;
    (bytes.is_finite() && bytes >= 0.0 && bytes < u64::MAX as f64).then_some(bytes as u64)
}

fn meminfo_available() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = text.lines().find(|l| l.starts_with("MemAvailable:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    kib.checked_mul(1024)
}

/// cgroup v2: memory.max − memory.current of this process's group, where a limit is set.
fn cgroup_headroom() -> Option<u64> {
    let own = std::fs::read_to_string("/proc/self/cgroup").ok()?;
    let path = own.lines().find_map(|l| l.strip_prefix("0::"))?;
    let dir = std::path::Path::new("/sys/fs/cgroup").join(path.trim_start_matches('/'));
    let read = |name: &str| std::fs::read_to_string(dir.join(name)).ok();
    let max: u64 = read("memory.max")?.trim().parse().ok()?; // "max" (no limit) fails here
    let current: u64 = read("memory.current")?.trim().parse().ok()?;
    Some(max.saturating_sub(current))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_parse_with_and_without_units() {
        assert_eq!(parse_size("123"), Some(123));
        assert_eq!(parse_size("64K"), Some(65_536));
        assert_eq!(parse_size("1.5G"), Some(3 << 29));
        assert_eq!(parse_size("2 GiB"), Some(2 << 30));
        assert_eq!(parse_size("1t"), Some(1 << 40));
        for bad in ["", "G", "-5", "12Q", "1e400"] {
            assert_eq!(parse_size(bad), None, "{bad}");
        }
    }

    #[test]
    fn the_machine_reports_some_memory() {
        // Linux always has MemAvailable; elsewhere the check is skipped.
        if cfg!(target_os = "linux") && std::env::var(HOST_MEMORY_ENV).is_err() {
            let (bytes, _) = host_memory_limit().unwrap().unwrap();
            assert!(bytes > 1 << 20, "{bytes}");
        }
    }

    #[test]
    fn human_bytes_names_the_unit_and_the_count() {
        assert_eq!(human_bytes(512), "512 B");
        assert_eq!(human_bytes(3 << 30), "3.00 GiB (3221225472 bytes)");
    }
}
