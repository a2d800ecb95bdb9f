//! `decode_response` for ReEncrypt, Decrypt and Encrypt on an arbitrary status
//! (100..=599), headers and body. Input format: see `src/lib.rs`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tower_kms::protocol::{decode_error, decode_response};
use tower_kms::{DecryptRequest, EncryptRequest, KmsError, KmsOperation, ReEncryptRequest};
use tower_kms_fuzz::{Input, check_error};

fn one<Op: KmsOperation>(input: &Input)
where
    Op::Output: std::fmt::Debug,
{
    let status = input.status();
    let headers = input.header_map();
    let body = input.body_bytes();
    let result = decode_response::<Op>(status, &headers, &body);
    let _ = format!("{result:?}");
    match result {
        Ok(_) => assert!(status.is_success(), "HTTP {status} decoded as a success"),
        Err(err) => {
            check_error(&err, status, &headers, status.is_success());
            if !status.is_success() {
                // The error path is exactly decode_error's.
                let direct: KmsError = decode_error(status, &headers, &body);
                assert_eq!(format!("{err:?}"), format!("{direct:?}"));
            }
        }
    }
}

fuzz_target!(|input: Input| {
    one::<ReEncryptRequest>(&input);
    one::<DecryptRequest>(&input);
    one::<EncryptRequest>(&input);
});
