//! Key rotation: `EnableKeyRotation`, `DisableKeyRotation`,
//! `GetKeyRotationStatus`, `RotateKeyOnDemand` and `ListKeyRotations`, and
//! automatic rotation on the injected clock.
//!
//! A rotation appends a fresh AES-256 material to the key's list
//! ([`KeyMaterial::Symmetric`](super::crypto::KeyMaterial::Symmetric)); the
//! new one becomes current, the older ones keep decrypting the blobs that
//! name them.
//!
//! # Which keys rotate
//!
//! Symmetric encryption keys (`SYMMETRIC_DEFAULT`, hence `ENCRYPT_DECRYPT`;
//! every key here has origin `AWS_KMS`). For any other key
//! `EnableKeyRotation`, `DisableKeyRotation`, `RotateKeyOnDemand`, and
//! `ListKeyRotations` with `IncludeKeyMaterial`, answer
//! `UnsupportedOperationException`. `GetKeyRotationStatus` answers
//! `KeyRotationEnabled: false` (KMS: "the key rotation status for these KMS
//! keys is always false") and `ListKeyRotations` without `IncludeKeyMaterial`
//! an empty list (KMS: `IncludeKeyMaterial` "can only be used with KMS keys
//! that support automatic or on-demand key rotation").
//!
//! # Key states
//!
//! `EnableKeyRotation`, `DisableKeyRotation` and `RotateKeyOnDemand` need an
//! enabled key: `DisabledException` for a disabled one,
//! `KMSInvalidStateException` for one pending deletion (KMS's key-state
//! table). `GetKeyRotationStatus` answers in every state: a disabled key's
//! setting is unchanged; a key pending deletion reports `false`, and its
//! setting comes back if the deletion is cancelled. `ListKeyRotations`
//! answers in every state too (its model has no `DisabledException`; KMS
//! does not document the pending-deletion case).
//!
//! # On-demand rotation
//!
//! `RotateKeyOnDemand` completes within the request: when it returns, the new
//! material is current and listed, so `GetKeyRotationStatus` never shows
//! `OnDemandRotationStartDate`. A key can rotate on demand
//! [`ON_DEMAND_LIMIT`] times (`LimitExceededException` after; automatic
//! rotations do not count). While automatic rotation is enabled and the next
//! one is due within [`CONFLICT_WINDOW`], it is `ConflictException`. It does
//! not move the automatic schedule.
//!
//! # Automatic rotation
//!
//! The schedule ([`AutoRotation`]) is an anchor and a period: the anchor is
//! when automatic rotation was enabled, or the last automatic rotation; the
//! next rotation is due at anchor + period.
//!
//! * `EnableKeyRotation` on a key without automatic rotation anchors the
//!   schedule now. On a key with it, a new period keeps the anchor (so
//!   `NextRotationDate` becomes anchor + new period) and the same period
//!   changes nothing; if the new period has already passed since the anchor,
//!   the key rotates at once, dated now, and the schedule restarts from now.
//!   `DisableKeyRotation` forgets the schedule.
//! * Rotations are made lazily, like the purge of deleted keys: every request
//!   first makes the automatic rotations due at its clock reading. An enabled
//!   key rotates once per elapsed period, each rotation dated at its scheduled
//!   time: when N periods have passed since the last request, N materials
//!   appear, as KMS's background process would have made them. A clock that
//!   goes back makes nothing.
//! * Disabled keys and keys pending deletion do not rotate. When a key is
//!   enabled again and its rotation came due meanwhile, it rotates once,
//!   dated at the `EnableKey`, and the schedule restarts from then; otherwise
//!   it keeps its schedule (KMS: "If the key material in the re-enabled KMS
//!   key hasn't been rotated in one year, KMS rotates it immediately, and
//!   every year thereafter. If it's been less than a year [...], the KMS key
//!   resumes its prior rotation schedule.").
//! * A clock jump over more than [`MAX_CATCH_UP`] periods at once (246 years
//!   at the shortest period) makes materials for the last `MAX_CATCH_UP` due
//!   dates only; the schedule still moves on by every elapsed period. At clock
//!   readings so far out that a date cannot be represented, nothing rotates.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use serde::Deserialize;
use serde_json::{Value, json};

use super::authz::Access;
use super::crypto::{MaterialOrigin, RotationType, SymmetricMaterial};
use super::error::LocalKmsError;
use super::ops::{Ops, page_bounds, paged, required};
use super::store::{Key, KeyState, Store};
use super::time::epoch_seconds_f64;

/// `RotationPeriodInDays` when `EnableKeyRotation` has none.
pub(crate) const DEFAULT_PERIOD_DAYS: u32 = 365;
/// The shortest `RotationPeriodInDays`.
pub(crate) const MIN_PERIOD_DAYS: i64 = 90;
/// The longest `RotationPeriodInDays`.
pub(crate) const MAX_PERIOD_DAYS: i64 = 2560;
/// On-demand rotations a key can have.
pub(crate) const ON_DEMAND_LIMIT: usize = 25;
/// `RotateKeyOnDemand` is `ConflictException` while the next automatic
/// rotation is due within this window.
pub(crate) const CONFLICT_WINDOW: Duration = Duration::from_secs(20 * 60);
/// Most automatic rotations one clock reading makes for one key.
pub(crate) const MAX_CATCH_UP: u64 = 1000;

const SECS_PER_DAY: u64 = 86_400;

/// The automatic rotation schedule of a key, as plain data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct AutoRotation {
    /// `RotationPeriodInDays`, 90 to 2560.
    pub(crate) period_days: u32,
    /// When automatic rotation was enabled, or the last automatic rotation.
    pub(crate) anchor: SystemTime,
}

impl AutoRotation {
    fn period_secs(self) -> u64 {
        u64::from(self.period_days) * SECS_PER_DAY
    }

    /// The anchor plus `n` periods, if representable.
    fn after(self, n: u64) -> Option<SystemTime> {
        let secs = self.period_secs().checked_mul(n)?;
        self.anchor.checked_add(Duration::from_secs(secs))
    }

    /// When the next automatic rotation is due (`NextRotationDate`).
    pub(crate) fn next(self) -> Option<SystemTime> {
        self.after(1)
    }
}

impl Store {
    /// Makes the automatic rotations of enabled keys due at `now`; whether
    /// any key rotated.
    pub(crate) fn rotate_due(&mut self, now: SystemTime) -> bool {
        let mut any = false;
        for key in self.keys.values_mut() {
            if key.state == KeyState::Enabled && key.auto_rotation.is_some() {
                let before = key.auto_rotation;
                catch_up(key, now);
                any |= key.auto_rotation != before;
            }
        }
        any
    }
}

/// Makes `key`'s automatic rotations due at `now`, each dated at its
/// scheduled time, and moves the anchor to the last of them. Should a fresh
/// material fail (the random number generator), nothing changes and the next
/// request tries again.
fn catch_up(key: &mut Key, now: SystemTime) {
    let Some(auto) = key.auto_rotation else {
        return;
    };
    let Some(next) = auto.next() else {
        return;
    };
    let Ok(late) = now.duration_since(next) else {
        return;
    };
    // Rotations due: at anchor + 1 period (`next`) .. anchor + `due` periods.
    let due = late.as_secs() / auto.period_secs() + 1;
    let Some(anchor) = auto.after(due) else {
        return;
    };
    let mut newer = Vec::new();
    for n in due.saturating_sub(MAX_CATCH_UP) + 1..=due {
        let Some(date) = auto.after(n) else {
            return;
        };
        let origin = MaterialOrigin::Rotated {
            date,
            kind: RotationType::Automatic,
        };
        match SymmetricMaterial::generate(&key.raw_id, origin) {
            Ok(m) => newer.push(m),
            Err(_) => return,
        }
    }
    if let Some(material) = key.material.with_newer(newer) {
        key.material = Arc::new(material);
        key.auto_rotation = Some(AutoRotation { anchor, ..auto });
    }
}

/// One rotation of `key`, completed at `date`.
fn rotate(key: &mut Key, date: SystemTime, kind: RotationType) -> Result<(), LocalKmsError> {
    let newer = SymmetricMaterial::generate(&key.raw_id, MaterialOrigin::Rotated { date, kind })?;
    let material = key
        .material
        .with_newer(vec![newer])
        .ok_or_else(|| unsupported(key))?;
    key.material = Arc::new(material);
    Ok(())
}

/// Makes `auto` the schedule of `key`. If it is due already, the key rotates
/// at once (dated `now`) and the schedule restarts from `now`.
fn set_schedule(key: &mut Key, auto: AutoRotation, now: SystemTime) -> Result<(), LocalKmsError> {
    let auto = if auto.next().is_some_and(|next| next <= now) {
        rotate(key, now, RotationType::Automatic)?;
        AutoRotation {
            anchor: now,
            ..auto
        }
    } else {
        auto
    };
    key.auto_rotation = Some(auto);
    Ok(())
}

/// For `EnableKey`: a key whose automatic rotation came due while it was
/// disabled or pending deletion rotates once, now, and its schedule restarts
/// from now; any other keeps its schedule.
pub(crate) fn resume(key: &mut Key, now: SystemTime) -> Result<(), LocalKmsError> {
    match key.auto_rotation {
        Some(auto) => set_schedule(key, auto, now),
        None => Ok(()),
    }
}

fn rotatable(key: &Key) -> bool {
    key.spec.is_symmetric()
}

fn unsupported(key: &Key) -> LocalKmsError {
    LocalKmsError::new(
        "UnsupportedOperationException",
        format!(
            "{} has KeySpec {} and KeyUsage {}: only symmetric encryption KMS keys (KeySpec SYMMETRIC_DEFAULT) can rotate their key material.",
            key.arn,
            key.spec.as_str(),
            key.usage.as_str()
        ),
    )
}

/// `UnsupportedOperationException` unless the key can rotate.
fn ensure_rotatable(key: &Key) -> Result<(), LocalKmsError> {
    if rotatable(key) {
        Ok(())
    } else {
        Err(unsupported(key))
    }
}

impl Ops<'_> {
    /// The key of a rotation operation, resolved, authorized for `action` and
    /// checked: it can rotate and is enabled.
    fn key_to_change(
        &self,
        store: &Store,
        id: &str,
        action: &'static str,
    ) -> Result<Key, LocalKmsError> {
        let key = store.resolve(&self.scope, id, false)?;
        self.authorize_in(store, &key, &Access::new(action))?;
        key.ensure_enabled()?;
        ensure_rotatable(&key)?;
        Ok(key)
    }

    pub(super) fn enable_key_rotation(
        &self,
        r: EnableKeyRotationRequest,
    ) -> Result<Value, LocalKmsError> {
        let id = required(r.key_id, "keyId")?;
        let period_days = match r.rotation_period_in_days {
            None => DEFAULT_PERIOD_DAYS,
            Some(d) if d < MIN_PERIOD_DAYS => {
                return Err(LocalKmsError::validation(format!(
                    "1 validation error detected: Value '{d}' at 'rotationPeriodInDays' failed to satisfy constraint: Member must have value greater than or equal to {MIN_PERIOD_DAYS}"
                )));
            }
            Some(d) => u32::try_from(d)
                .ok()
                .filter(|d| i64::from(*d) <= MAX_PERIOD_DAYS)
                .ok_or_else(|| {
                    LocalKmsError::validation(format!(
                        "1 validation error detected: Value '{d}' at 'rotationPeriodInDays' failed to satisfy constraint: Member must have value less than or equal to {MAX_PERIOD_DAYS}"
                    ))
                })?,
        };
        let mut store = self.store();
        let key = self.key_to_change(&store, &id, "kms:EnableKeyRotation")?;
        let k = store.key_mut(&key.id)?;
        let auto = match k.auto_rotation {
            Some(auto) if auto.period_days == period_days => return Ok(json!({})),
            // Same anchor, new period.
            Some(auto) => AutoRotation {
                period_days,
                ..auto
            },
            None => AutoRotation {
                period_days,
                anchor: self.now,
            },
        };
        set_schedule(k, auto, self.now)?;
        Ok(json!({}))
    }

    pub(super) fn disable_key_rotation(
        &self,
        r: RotationKeyRequest,
    ) -> Result<Value, LocalKmsError> {
        let id = required(r.key_id, "keyId")?;
        let mut store = self.store();
        let key = self.key_to_change(&store, &id, "kms:DisableKeyRotation")?;
        store.key_mut(&key.id)?.auto_rotation = None;
        Ok(json!({}))
    }

    pub(super) fn get_key_rotation_status(
        &self,
        r: RotationKeyRequest,
    ) -> Result<Value, LocalKmsError> {
        let id = required(r.key_id, "keyId")?;
        let key = self.resolve(&id, false)?;
        self.authorize(&key, &Access::new("kms:GetKeyRotationStatus"))?;
        let mut out = json!({ "KeyId": key.id, "KeyRotationEnabled": false });
        if let Some(auto) = key.auto_rotation
            && rotatable(&key)
            && key.state != KeyState::PendingDeletion
        {
            out["KeyRotationEnabled"] = json!(true);
            out["RotationPeriodInDays"] = json!(auto.period_days);
            // Past for a disabled key whose rotation came due: it rotates
            // when enabled.
            if let Some(next) = auto.next() {
                out["NextRotationDate"] = json!(epoch_seconds_f64(next));
            }
        }
        Ok(out)
    }

    pub(super) fn rotate_key_on_demand(
        &self,
        r: RotationKeyRequest,
    ) -> Result<Value, LocalKmsError> {
        let id = required(r.key_id, "keyId")?;
        let mut store = self.store();
        let key = self.key_to_change(&store, &id, "kms:RotateKeyOnDemand")?;
        // `store()` made the rotations due, so `next` is after now.
        if let Some(next) = key.auto_rotation.and_then(AutoRotation::next)
            && self
                .now
                .checked_add(CONFLICT_WINDOW)
                .is_none_or(|limit| next <= limit)
        {
            return Err(LocalKmsError::new(
                "ConflictException",
                format!(
                    "An automatic rotation of {} is scheduled within the next {} minutes; rotate on demand after it.",
                    key.arn,
                    CONFLICT_WINDOW.as_secs() / 60
                ),
            ));
        }
        let on_demand = key
            .material
            .materials()
            .iter()
            .filter(|m| {
                matches!(
                    m.origin,
                    MaterialOrigin::Rotated {
                        kind: RotationType::OnDemand,
                        ..
                    }
                )
            })
            .count();
        if on_demand >= ON_DEMAND_LIMIT {
            return Err(LocalKmsError::new(
                "LimitExceededException",
                format!(
                    "{} has been rotated on demand {on_demand} times, the most a KMS key can be.",
                    key.arn
                ),
            ));
        }
        rotate(store.key_mut(&key.id)?, self.now, RotationType::OnDemand)?;
        Ok(json!({ "KeyId": key.id }))
    }

    pub(super) fn list_key_rotations(
        &self,
        r: ListKeyRotationsRequest,
    ) -> Result<Value, LocalKmsError> {
        let id = required(r.key_id, "keyId")?;
        let all_material = match r.include_key_material.as_deref() {
            None | Some("ROTATIONS_ONLY") => false,
            Some("ALL_KEY_MATERIAL") => true,
            Some(other) => {
                return Err(LocalKmsError::validation(format!(
                    "1 validation error detected: Value '{other}' at 'includeKeyMaterial' failed to satisfy constraint: Member must satisfy enum value set: [ALL_KEY_MATERIAL, ROTATIONS_ONLY]"
                )));
            }
        };
        let (start, limit) = page_bounds(r.limit, r.marker.as_deref())?;
        let key = self.resolve(&id, false)?;
        self.authorize(&key, &Access::new("kms:ListKeyRotations"))?;
        if !rotatable(&key) && r.include_key_material.is_some() {
            return Err(unsupported(&key));
        }
        let materials = key.material.materials();
        let current = materials.len().saturating_sub(1);
        let rotations = materials
            .iter()
            .enumerate()
            .filter(|(_, m)| all_material || m.origin != MaterialOrigin::Created)
            .map(|(i, m)| {
                let state = if i == current {
                    "CURRENT"
                } else {
                    "NON_CURRENT"
                };
                let mut entry = json!({
                    "KeyId": key.id,
                    "KeyMaterialId": m.id_hex(),
                    "KeyMaterialState": state,
                });
                if let MaterialOrigin::Rotated { date, kind } = m.origin {
                    entry["RotationDate"] = json!(epoch_seconds_f64(date));
                    entry["RotationType"] = json!(kind.as_str());
                }
                entry
            })
            .collect();
        Ok(paged("Rotations", rotations, start, limit))
    }
}

/// `EnableKeyRotation` request.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub(crate) struct EnableKeyRotationRequest {
    key_id: Option<String>,
    rotation_period_in_days: Option<i64>,
}

/// `DisableKeyRotation`, `GetKeyRotationStatus` and `RotateKeyOnDemand`
/// requests.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub(crate) struct RotationKeyRequest {
    key_id: Option<String>,
}

/// `ListKeyRotations` request.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub(crate) struct ListKeyRotationsRequest {
    key_id: Option<String>,
    include_key_material: Option<String>,
    limit: Option<i64>,
    marker: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::local::crypto::{KeyMaterial, KeySpec, KeyUsage, uuid_v4};
    use std::time::UNIX_EPOCH;

    const DAY: u64 = SECS_PER_DAY;

    /// Day `d` after an arbitrary start (2023-11-14).
    fn day(d: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(1_700_000_000 + d * DAY)
    }

    fn key(period_days: u32, anchor: SystemTime) -> Key {
        let (raw_id, id) = uuid_v4().unwrap();
        Key {
            arn: format!("arn:aws:kms:us-east-1:111122223333:key/{id}"),
            id,
            raw_id,
            description: String::new(),
            created: anchor,
            seq: 0,
            state: KeyState::Enabled,
            deletion: None,
            spec: KeySpec::SymmetricDefault,
            usage: KeyUsage::EncryptDecrypt,
            material: Arc::new(
                KeyMaterial::generate(KeySpec::SymmetricDefault, KeyUsage::EncryptDecrypt, &raw_id)
                    .unwrap(),
            ),
            auto_rotation: Some(AutoRotation {
                period_days,
                anchor,
            }),
            tags: Default::default(),
            last_used: None,
        }
    }

    /// The automatic rotations of `key`, by date.
    fn automatic(key: &Key) -> Vec<SystemTime> {
        key.material
            .materials()
            .iter()
            .filter_map(|m| match m.origin {
                MaterialOrigin::Rotated {
                    date,
                    kind: RotationType::Automatic,
                } => Some(date),
                _ => None,
            })
            .collect()
    }

    fn anchor(key: &Key) -> SystemTime {
        key.auto_rotation.unwrap().anchor
    }

    #[test]
    fn one_rotation_per_elapsed_period_dated_on_schedule() {
        let mut k = key(90, day(0));
        assert_eq!(k.auto_rotation.unwrap().next(), Some(day(90)));
        catch_up(&mut k, day(90) - Duration::from_secs(1));
        assert!(automatic(&k).is_empty());
        catch_up(&mut k, day(90));
        assert_eq!(automatic(&k), [day(90)]);
        assert_eq!(anchor(&k), day(90));
        // Three more periods and a bit: three rotations, on their dates.
        catch_up(&mut k, day(90 + 3 * 90) + Duration::from_secs(5));
        assert_eq!(automatic(&k), [day(90), day(180), day(270), day(360)]);
        assert_eq!(anchor(&k), day(360));
        assert_eq!(k.material.materials().len(), 5);
        // Again at the same reading, or one that went back: nothing.
        catch_up(&mut k, day(360) + Duration::from_secs(5));
        catch_up(&mut k, day(10));
        assert_eq!(automatic(&k).len(), 4);
        // Every material is distinct.
        let ids: std::collections::BTreeSet<String> =
            k.material.materials().iter().map(|m| m.id_hex()).collect();
        assert_eq!(ids.len(), 5);
    }

    #[test]
    fn only_enabled_keys_rotate() {
        let mut store = Store::default();
        let mut disabled = key(90, day(0));
        disabled.state = KeyState::Disabled;
        let mut pending = key(90, day(0));
        pending.state = KeyState::PendingDeletion;
        let mut off = key(90, day(0));
        off.auto_rotation = None;
        let enabled = key(90, day(0));
        for k in [&disabled, &pending, &off, &enabled] {
            store.insert(k.clone());
        }
        assert!(store.rotate_due(day(200)));
        assert!(!store.rotate_due(day(200)));
        assert_eq!(automatic(&store.keys[&enabled.id]), [day(90), day(180)]);
        for k in [&disabled, &pending, &off] {
            assert_eq!(store.keys[&k.id].material.materials().len(), 1);
            assert_eq!(store.keys[&k.id].auto_rotation, k.auto_rotation);
        }
    }

    #[test]
    fn enabling_an_overdue_key_rotates_once_now() {
        let mut k = key(90, day(0));
        k.state = KeyState::Disabled;
        // Not due yet: the schedule stays.
        resume(&mut k, day(89)).unwrap();
        assert!(automatic(&k).is_empty());
        assert_eq!(anchor(&k), day(0));
        // Four periods overdue: one rotation, at the EnableKey.
        let now = day(400) + Duration::from_secs(7);
        resume(&mut k, now).unwrap();
        assert_eq!(automatic(&k), [now]);
        assert_eq!(anchor(&k), now);
        assert_eq!(
            k.auto_rotation.unwrap().next(),
            Some(now + Duration::from_secs(90 * DAY))
        );
        // Without automatic rotation nothing happens.
        k.auto_rotation = None;
        resume(&mut k, day(10_000)).unwrap();
        assert_eq!(automatic(&k).len(), 1);
    }

    #[test]
    fn a_huge_clock_jump_is_capped_and_never_panics() {
        let mut k = key(90, day(0));
        let periods = MAX_CATCH_UP + 500;
        let now = day(90 * periods) + Duration::from_secs(1);
        catch_up(&mut k, now);
        let made = automatic(&k);
        assert_eq!(made.len() as u64, MAX_CATCH_UP);
        // The last MAX_CATCH_UP due dates, in order.
        assert_eq!(made[0], day(90 * 501));
        assert_eq!(made[made.len() - 1], day(90 * periods));
        assert!(made.windows(2).all(|w| w[1] > w[0]));
        assert_eq!(anchor(&k), day(90 * periods));
        // The last representable second: no panic, at most MAX_CATCH_UP more.
        let Some(end) = UNIX_EPOCH.checked_add(Duration::from_secs(i64::MAX as u64 - 1)) else {
            return;
        };
        catch_up(&mut k, end);
        assert!(automatic(&k).len() as u64 <= 2 * MAX_CATCH_UP);
        // A schedule whose next date cannot be represented never rotates.
        let start = end - Duration::from_secs(DAY);
        let mut far = key(2560, start);
        assert_eq!(far.auto_rotation.unwrap().next(), None);
        catch_up(&mut far, end);
        resume(&mut far, end).unwrap();
        assert!(automatic(&far).is_empty());
        assert_eq!(anchor(&far), start);
    }

    #[test]
    fn asymmetric_keys_do_not_rotate() {
        let mut k = key(90, day(0));
        k.spec = KeySpec::EccNistP256;
        k.usage = KeyUsage::SignVerify;
        k.material = Arc::new(
            KeyMaterial::generate(KeySpec::EccNistP256, KeyUsage::SignVerify, &k.raw_id).unwrap(),
        );
        let e = rotate(&mut k, day(1), RotationType::OnDemand).unwrap_err();
        assert_eq!(e.code, "UnsupportedOperationException");
        assert!(e.message.contains("KeySpec ECC_NIST_P256"), "{}", e.message);
        catch_up(&mut k, day(1000));
        assert_eq!(anchor(&k), day(0));
    }
}
