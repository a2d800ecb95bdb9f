//! `decode_error` on an arbitrary status, headers and body (any status, 2xx too),
//! and `sanitize_error_code` on the body and every header value as strings.
//! Input format: see `src/lib.rs`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tower_kms::protocol::decode_error;
use tower_kms_fuzz::{Input, check_error, check_sanitize};

fuzz_target!(|input: Input| {
    let status = input.status();
    let headers = input.header_map();
    let err = decode_error(status, &headers, &input.body);
    check_error(&err, status, &headers, false);

    check_sanitize(&String::from_utf8_lossy(&input.body));
    if let Ok(s) = std::str::from_utf8(&input.body) {
        check_sanitize(s);
    }
    for h in &input.headers {
        check_sanitize(&String::from_utf8_lossy(&h.value));
    }
});
