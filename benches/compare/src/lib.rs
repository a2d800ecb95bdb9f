//! Shared bits of the comparison clients: the request, argument parsing, timing.

use std::time::Instant;

/// Ciphertext sent by every client: 184 bytes, shaped like a KMS symmetric ciphertext.
pub fn ciphertext() -> Vec<u8> {
    (0..184u32)
        .map(|i| (i.wrapping_mul(37).wrapping_add(11)) as u8)
        .collect()
}
pub const SOURCE_KEY_ID: &str =
    "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab";
pub const DESTINATION_KEY_ID: &str =
    "arn:aws:kms:us-east-1:111122223333:key/0987dcba-09fe-87dc-65ba-ab0987654321";
pub const SOURCE_CONTEXT: (&str, &str) = ("app", "billing");
pub const DESTINATION_CONTEXT: (&str, &str) = ("purpose", "backup");
pub const ACCESS_KEY: &str = "AKIDEXAMPLE";
pub const SECRET_KEY: &str = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";
pub const REGION: &str = "us-east-1";

/// `client URL [N] [C] [WARMUP]`.
pub struct Args {
    pub url: String,
    pub n: usize,
    pub c: usize,
    pub warmup: usize,
}

impl Args {
    pub fn parse() -> Args {
        let a: Vec<String> = std::env::args().collect();
        if a.len() < 2 {
            eprintln!("usage: {} URL [N=10000] [C=1] [WARMUP=1000]", a[0]);
            std::process::exit(2);
        }
        let num = |i: usize, d: usize| a.get(i).map_or(d, |s| s.parse().expect("number"));
        Args {
            url: a[1].clone(),
            n: num(2, 10_000),
            c: num(3, 1).max(1),
            warmup: num(4, 1000),
        }
    }
}

/// User + system CPU time of this process, in microseconds, and peak RSS in KiB.
pub fn rusage() -> (f64, i64) {
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: getrusage only writes into `ru`.
    let rc = unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut ru) };
    assert_eq!(rc, 0, "getrusage failed");
    let us = |t: libc::timeval| t.tv_sec as f64 * 1e6 + t.tv_usec as f64;
    (us(ru.ru_utime) + us(ru.ru_stime), ru.ru_maxrss as i64)
}

/// A single-threaded tokio runtime: the same flavour for every client, so the CPU
/// figure is the client's own work, with no work-stealing threads.
pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
}

/// Runs `total` calls of `call` over `c` concurrent tasks; panics on the first error.
pub async fn drive<F, Fut>(total: usize, c: usize, call: F)
where
    F: Fn() -> Fut + Clone + 'static,
    Fut: std::future::Future<Output = Result<(), String>> + 'static,
{
    let next = std::rc::Rc::new(std::cell::Cell::new(0usize));
    let local = tokio::task::LocalSet::new();
    for _ in 0..c {
        let next = next.clone();
        let call = call.clone();
        local.spawn_local(async move {
            loop {
                let i = next.get();
                if i >= total {
                    break;
                }
                next.set(i + 1);
                if let Err(e) = call().await {
                    eprintln!("call {i} failed: {e}");
                    std::process::exit(1);
                }
            }
        });
    }
    local.await;
}

/// Warms up, measures `n` calls, prints the result line.
pub fn run<F, Fut>(name: &str, args: &Args, call: F)
where
    F: Fn() -> Fut + Clone + 'static,
    Fut: std::future::Future<Output = Result<(), String>> + 'static,
{
    let rt = runtime();
    rt.block_on(async {
        drive(args.warmup, args.c, call.clone()).await;
        let (cpu0, _) = rusage();
        let t0 = Instant::now();
        drive(args.n, args.c, call).await;
        let wall = t0.elapsed().as_secs_f64();
        let (cpu1, maxrss) = rusage();
        println!(
            "RESULT client={name} n={} c={} cpu_us_per_call={:.2} calls_per_s={:.0} maxrss_kib={maxrss} wall_s={wall:.3}",
            args.n,
            args.c,
            (cpu1 - cpu0) / args.n as f64,
            args.n as f64 / wall,
        );
    });
}
