//! The local KMS (`tower_kms::local`) on its own: every operation, the ReEncrypt
//! rules, SigV4 verification, serving, concurrency, request quotas and key
//! rotation, driven with requests signed by aws-sigv4, in-process and over
//! 127.0.0.1; who may do what (principals, key and identity policies, grants)
//! with each principal's own credentials.

mod auth;
mod botocore;
mod botocore_dataplane;
mod botocore_rotation;
mod client;
mod common;
mod concurrency;
mod dataplane;
mod grants;
mod metadata;
mod ops;
mod persist;
mod policies;
mod quota;
mod reencrypt;
mod rotation;
mod seed;
mod server;
mod unmodelled;
mod world;
