//! Request and response types of every KMS operation, with their client-side
//! validation.
//!
//! The types are generated from the KMS API model (`codegen/kms-model.json`) by
//! `xtask` into `generated/`; what the model cannot say is hand-written beside
//! it: [`rules`](self) for members that depend on each other, the JSON codec, the
//! secret types and the enum shape.
//!
//! Every operation has the same style:
//!
//! - `XRequest::builder()` sets members and `build()` checks every documented
//!   constraint (lengths, ranges, simple patterns, required members, members that
//!   exclude each other); getters read them back; requests are
//!   `Clone + Debug + PartialEq`.
//! - `XResponse` has public fields (and getters that borrow), a
//!   `XResponse::builder()` for mocks, and the [`ResponseMetadata`].
//!
//! ```
//! use tower_kms::model::{EncryptRequest, EncryptionAlgorithmSpec};
//!
//! let req = EncryptRequest::builder()
//!     .key_id("alias/app")
//!     .plaintext(b"hello")
//!     .encryption_context("purpose", "demo")
//!     .build()?;
//! assert_eq!(req.key_id(), "alias/app");
//! assert!(EncryptRequest::builder().key_id("alias/app").build().is_err()); // no Plaintext
//! # Ok::<(), tower_kms::ValidationError>(())
//! ```

#[cfg(any(feature = "local", feature = "serde"))]
pub(crate) mod blob;
mod enums;
mod generated;
pub(crate) mod json;
mod rules;
pub(crate) mod secret;
pub(crate) mod validate;

use std::collections::BTreeMap;
use std::fmt;

pub use generated::*;
pub use json::DecodeError;
pub use secret::{Plaintext, SecretString};

pub use crate::operation::ResponseMetadata;

pub(crate) use generated::errors::with_kms_exceptions;

/// An encryption context: non-secret key-value pairs bound to a ciphertext as
/// additional authenticated data. Kept sorted so the JSON on the wire, and hence
/// the request signature, is deterministic.
pub type EncryptionContext = BTreeMap<String, String>;

/// Extensions carried with an operation (e.g. the retry layer's [`Attempt`](crate::Attempt));
/// ignored by `PartialEq` and never serialized.
#[derive(Clone, Default)]
pub(crate) struct OpExtensions(pub(crate) http::Extensions);

impl PartialEq for OpExtensions {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

impl Eq for OpExtensions {}

impl fmt::Debug for OpExtensions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Extensions")
    }
}
