//! The `local_kms` example's command line (`--quota` and the rest) and its
//! summary line, by the example's own unit tests.

#[allow(dead_code)]
#[path = "../examples/local_kms.rs"]
mod example;
