//! Tags on keys: `TagResource`, `UntagResource`, `ListResourceTags`, and
//! `Tags` in `CreateKey`.
//!
//! The rules, from the API model and AWS's tagging rules:
//!
//! * A tag key is 1 to 128 characters, a value 0 to 256 (the model's
//!   lengths: `ValidationException`). Both may hold Unicode letters and
//!   digits, white space and `_ . : / = + - @`; a key may not start with
//!   `aws:` in any case (reserved for AWS), and one request may not name a
//!   tag key twice: `TagException` for these.
//! * A key holds at most 50 tags (`LimitExceededException`). Tagging an
//!   existing tag key replaces its value; untagging a key that is not there
//!   does nothing, as in KMS.
//! * `TagResource` and `UntagResource` need a key that is not pending
//!   deletion (`KMSInvalidStateException`); `ListResourceTags` answers in
//!   every state. None of them works across accounts or with an alias.
//! * `CreateKey` with `Tags` also needs `kms:TagResource` in the caller's
//!   identity policies.
//! * `ListResourceTags` lists tags in tag key order, at most 50 a page
//!   (`Limit` 1 to 1000, as the model allows; KMS documents 50 as the
//!   most it returns).

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::{Value, json};

use super::authz::Access;
use super::error::LocalKmsError;
use super::ops::{Ops, length_between, page_bounds, paged, required};
use super::store::KeyState;

/// Tags a key may hold.
pub(crate) const MAX_TAGS: usize = 50;
/// Tags `ListResourceTags` returns at most in one page.
const MAX_PAGE: usize = 50;

/// One `Tag` of a request.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub(crate) struct TagEntry {
    tag_key: Option<String>,
    tag_value: Option<String>,
}

impl TagEntry {
    /// A tag as a state file or a seed holds it (checked by [`check_tags`]).
    pub(crate) fn new(key: String, value: String) -> Self {
        Self {
            tag_key: Some(key),
            tag_value: Some(value),
        }
    }
}

fn tag_exception(message: String) -> LocalKmsError {
    LocalKmsError::new("TagException", message)
}

fn allowed_char(c: char) -> bool {
    c.is_alphanumeric() || c.is_whitespace() || "_.:/=+-@".contains(c)
}

/// A tag key of a request: its length, its characters, not `aws:`.
fn check_tag_key(key: &str, member: &str) -> Result<(), LocalKmsError> {
    length_between(member, key.chars().count(), 1, 128)?;
    if key
        .get(..4)
        .is_some_and(|prefix| prefix.eq_ignore_ascii_case("aws:"))
    {
        return Err(tag_exception(format!(
            "Tag key {key:?} starts with aws:, which is reserved for AWS."
        )));
    }
    if !key.chars().all(allowed_char) {
        return Err(tag_exception(format!(
            "Tag key {key:?} contains characters other than letters, digits, white space and _ . : / = + - @."
        )));
    }
    Ok(())
}

/// Validates the `Tags` of a request: the (key, value) pairs, in order.
pub(crate) fn check_tags(tags: &[TagEntry]) -> Result<Vec<(String, String)>, LocalKmsError> {
    let mut out: Vec<(String, String)> = Vec::with_capacity(tags.len());
    for tag in tags {
        let key = required(tag.tag_key.clone(), "tags.member.tagKey")?;
        let value = required(tag.tag_value.clone(), "tags.member.tagValue")?;
        check_tag_key(&key, "tags.member.tagKey")?;
        length_between("tags.member.tagValue", value.chars().count(), 0, 256)?;
        if !value.chars().all(allowed_char) {
            return Err(tag_exception(format!(
                "The value of tag {key:?} contains characters other than letters, digits, white space and _ . : / = + - @."
            )));
        }
        if out.iter().any(|(k, _)| *k == key) {
            return Err(tag_exception(format!(
                "Tag key {key:?} appears more than once in the request."
            )));
        }
        out.push((key, value));
    }
    Ok(out)
}

/// `existing` with `tags` added or replaced; `LimitExceededException` past
/// [`MAX_TAGS`].
pub(crate) fn merge(
    existing: &BTreeMap<String, String>,
    tags: Vec<(String, String)>,
) -> Result<BTreeMap<String, String>, LocalKmsError> {
    let mut all = existing.clone();
    all.extend(tags);
    if all.len() > MAX_TAGS {
        return Err(LocalKmsError::new(
            "LimitExceededException",
            format!(
                "A KMS key can have at most {MAX_TAGS} tags; this request would give it {}.",
                all.len()
            ),
        ));
    }
    Ok(all)
}

impl Ops<'_> {
    pub(crate) fn tag_resource(&self, r: TagResourceRequest) -> Result<Value, LocalKmsError> {
        let id = required(r.key_id, "keyId")?;
        let tags = check_tags(&required(r.tags, "tags")?)?;
        let mut store = self.store();
        let key = store.resolve(&self.scope, &id, false)?;
        self.authorize_in(
            &store,
            &key,
            &Access::new("kms:TagResource").request_tags(&tags),
        )?;
        if key.state == KeyState::PendingDeletion {
            return Err(key.pending_deletion());
        }
        let k = store.key_mut(&key.id)?;
        k.tags = merge(&k.tags, tags)?;
        Ok(json!({}))
    }

    pub(crate) fn untag_resource(&self, r: UntagResourceRequest) -> Result<Value, LocalKmsError> {
        let id = required(r.key_id, "keyId")?;
        let keys = required(r.tag_keys, "tagKeys")?;
        for key in &keys {
            check_tag_key(key, "tagKeys.member")?;
        }
        let mut store = self.store();
        let key = store.resolve(&self.scope, &id, false)?;
        self.authorize_in(
            &store,
            &key,
            &Access::new("kms:UntagResource").condition("aws:tagkeys", keys.clone()),
        )?;
        if key.state == KeyState::PendingDeletion {
            return Err(key.pending_deletion());
        }
        let k = store.key_mut(&key.id)?;
        for tag in &keys {
            k.tags.remove(tag);
        }
        Ok(json!({}))
    }

    pub(crate) fn list_resource_tags(
        &self,
        r: ListResourceTagsRequest,
    ) -> Result<Value, LocalKmsError> {
        let id = required(r.key_id, "keyId")?;
        let (start, limit) = page_bounds(r.limit.or(Some(MAX_PAGE as i64)), r.marker.as_deref())?;
        let store = self.store();
        let key = store.resolve(&self.scope, &id, false)?;
        self.authorize_in(&store, &key, &Access::new("kms:ListResourceTags"))?;
        let all: Vec<Value> = key
            .tags
            .iter()
            .map(|(k, v)| json!({ "TagKey": k, "TagValue": v }))
            .collect();
        Ok(paged("Tags", all, start, limit.min(MAX_PAGE)))
    }
}

/// `TagResource` request.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub(crate) struct TagResourceRequest {
    key_id: Option<String>,
    tags: Option<Vec<TagEntry>>,
}

/// `UntagResource` request.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub(crate) struct UntagResourceRequest {
    key_id: Option<String>,
    tag_keys: Option<Vec<String>>,
}

/// `ListResourceTags` request.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub(crate) struct ListResourceTagsRequest {
    key_id: Option<String>,
    limit: Option<i64>,
    marker: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tag(k: &str, v: &str) -> TagEntry {
        TagEntry {
            tag_key: Some(k.into()),
            tag_value: Some(v.into()),
        }
    }

    #[test]
    fn tag_rules() {
        let ok = check_tags(&[
            tag("team", ""),
            tag("Ünïcode key 1", "a value_with:all/=+-@."),
            tag(&"k".repeat(128), &"v".repeat(256)),
        ])
        .unwrap();
        assert_eq!(ok.len(), 3);
        assert_eq!(ok[0], ("team".to_string(), String::new()));
        for (tags, code) in [
            (vec![tag("", "v")], "ValidationException"),
            (vec![tag(&"k".repeat(129), "v")], "ValidationException"),
            (vec![tag("k", &"v".repeat(257))], "ValidationException"),
            (vec![tag("aws:x", "v")], "TagException"),
            (vec![tag("AWS:x", "v")], "TagException"),
            (vec![tag("a*b", "v")], "TagException"),
            (vec![tag("k", "v;")], "TagException"),
            (vec![tag("k", "1"), tag("k", "2")], "TagException"),
            (
                vec![TagEntry {
                    tag_key: Some("k".into()),
                    tag_value: None,
                }],
                "ValidationException",
            ),
        ] {
            assert_eq!(check_tags(&tags).unwrap_err().code(), code, "{tags:?}");
        }
        // Multi-byte characters count as one.
        assert!(check_tags(&[tag(&"é".repeat(128), "")]).is_ok());
        // "aws" without the colon, or later in the key, is fine.
        assert!(check_tags(&[tag("awsome", ""), tag("x-aws:y", "")]).is_ok());
    }

    #[test]
    fn merging_replaces_and_limits() {
        let mut existing = BTreeMap::new();
        existing.insert("a".to_string(), "1".to_string());
        let merged = merge(
            &existing,
            vec![("a".into(), "2".into()), ("b".into(), "3".into())],
        )
        .unwrap();
        assert_eq!(merged.len(), 2);
        assert_eq!(merged["a"], "2");
        let fifty: Vec<(String, String)> =
            (0..50).map(|i| (format!("k{i}"), String::new())).collect();
        assert_eq!(merge(&BTreeMap::new(), fifty.clone()).unwrap().len(), 50);
        assert_eq!(
            merge(&existing, fifty).unwrap_err().code(),
            "LimitExceededException"
        );
    }
}
