//! Records the version of the Rust compiler for the user-agent header
//! (`lang/rust/1.95.0`), as the AWS SDKs report it.

use std::process::Command;

fn main() {
    println!("cargo:rerun-if-env-changed=RUSTC");
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".to_owned());
    let version = Command::new(rustc)
        .arg("--version")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|s| {
            // "rustc 1.95.0 (59807616e 2026-04-14)" -> "1.95.0"
            s.split_whitespace()
                .nth(1)
                .map(|v| v.split('-').next().unwrap_or(v).to_owned())
        })
        .filter(|v| !v.is_empty() && v.chars().all(|c| c.is_ascii_digit() || c == '.'))
        .unwrap_or_else(|| "unknown".to_owned());
    println!("cargo:rustc-env=TOWER_KMS_RUSTC_VERSION={version}");
}
