//! The local KMS (`tower_kms::local`) on its own: every operation, the ReEncrypt
//! rules, SigV4 verification, serving, concurrency, request quotas and key
//! rotation, driven with requests signed by aws-sigv4, in-process and over
//! 127.0.0.1.

mod auth;
mod botocore;
mod common;
mod concurrency;
mod ops;
mod quota;
mod reencrypt;
mod rotation;
mod server;
