//! Rust names for the model's names, and the patterns checked client-side.

/// `CiphertextBlob` -> `ciphertext_blob`, `AWSAccountId` -> `aws_account_id`.
pub(crate) fn snake(name: &str) -> String {
    let chars: Vec<char> = name.chars().collect();
    let mut out = String::new();
    for (i, &c) in chars.iter().enumerate() {
        if c.is_ascii_uppercase() && i > 0 {
            let prev = chars[i - 1];
            let next_lower = chars.get(i + 1).is_some_and(|n| n.is_ascii_lowercase());
            if prev.is_ascii_lowercase()
                || prev.is_ascii_digit()
                || (prev.is_ascii_uppercase() && next_lower)
            {
                out.push('_');
            }
        }
        out.push(c.to_ascii_lowercase());
    }
    out
}

/// `snake` to `UpperCamel`.
fn camel(snake: &str) -> String {
    snake
        .split('_')
        .map(|w| {
            let mut c = w.chars();
            match c.next() {
                Some(f) => f.to_ascii_uppercase().to_string() + c.as_str(),
                None => String::new(),
            }
        })
        .collect()
}

/// An enum value as a variant: `RSAES_OAEP_SHA_1` -> `RsaesOaepSha1`,
/// `SM2PKE` -> `Sm2Pke`, `ECC_SECG_P256K1` -> `EccSecgP256k1`, and values in
/// CamelCase (`PendingDeletion`) as they are.
pub(crate) fn enum_variant(value: &str) -> String {
    if value.chars().any(|c| c.is_ascii_lowercase()) {
        return value
            .split(['_', '-', '.'])
            .map(|w| {
                let mut c = w.chars();
                c.next()
                    .map(|f| f.to_ascii_uppercase().to_string() + c.as_str())
                    .unwrap_or_default()
            })
            .collect();
    }
    let mut out = String::new();
    for part in value.split(['_', '-', '.']) {
        // A run of two or more letters after digits starts a new word (SM2PKE).
        let chars: Vec<char> = part.chars().collect();
        let mut word_start = true;
        for (i, &c) in chars.iter().enumerate() {
            let after_digit = i > 0 && chars[i - 1].is_ascii_digit() && c.is_ascii_alphabetic();
            let run = chars[i..]
                .iter()
                .take_while(|x| x.is_ascii_alphabetic())
                .count();
            if word_start || (after_digit && run >= 2) {
                out.push(c.to_ascii_uppercase());
            } else {
                out.push(c.to_ascii_lowercase());
            }
            word_start = false;
        }
    }
    if out.starts_with(|c: char| c.is_ascii_digit()) {
        out.insert(0, 'V');
    }
    if out == "Self" {
        // A keyword; aws-sdk-rust names it the same way.
        out = "SelfValue".to_owned();
    }
    out
}

/// An exception code as a `KmsError` variant: `KMSInternalException` ->
/// `KmsInternal`, `CustomKeyStoreHasCMKsException` -> `CustomKeyStoreHasCmks`.
pub(crate) fn error_variant(code: &str) -> String {
    let base = code.strip_suffix("Exception").unwrap_or(code);
    let base = base.replace("CMKs", "Cmks");
    camel(&snake(&base))
}

/// `grant_tokens` -> `grant_token`, `aliases` -> `alias`, `policies` -> `policy`.
pub(crate) fn singular(field: &str) -> String {
    if let Some(s) = field.strip_suffix("ies") {
        format!("{s}y")
    } else if let Some(s) = field.strip_suffix("ses") {
        format!("{s}s")
    } else if let Some(s) = field.strip_suffix('s') {
        s.to_owned()
    } else {
        format!("{field}_item")
    }
}

/// A Rust predicate over `char` for patterns that are a single anchored
/// character class repeated (`^[a-zA-Z0-9:/_-]+$`): cheap to check and with
/// one meaning. `None` for every other pattern (left to KMS).
pub(crate) fn pattern_predicate(pattern: &str) -> Option<String> {
    let class = pattern.strip_prefix("^[")?.strip_suffix("]+$")?;
    let chars: Vec<char> = class.chars().collect();
    let mut tests = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c == '\\' {
            let e = *chars.get(i + 1)?;
            match e {
                'w' => tests.push("c.is_ascii_alphanumeric() || c == '_'".to_owned()),
                'd' => tests.push("c.is_ascii_digit()".to_owned()),
                '/' | '-' | '.' | '+' | '=' => tests.push(format!("c == {e:?}")),
                _ => return None,
            }
            i += 2;
            continue;
        }
        if chars.get(i + 1) == Some(&'-') && i + 2 < chars.len() {
            let hi = chars[i + 2];
            if !(c.is_ascii_alphanumeric() && hi.is_ascii_alphanumeric() && c <= hi) {
                return None;
            }
            tests.push(match (c, hi) {
                ('a', 'z') => "c.is_ascii_lowercase()".to_owned(),
                ('A', 'Z') => "c.is_ascii_uppercase()".to_owned(),
                ('0', '9') => "c.is_ascii_digit()".to_owned(),
                _ => format!("matches!(c, {c:?}..={hi:?})"),
            });
            i += 3;
            continue;
        }
        if c == '-' && i + 1 != chars.len() {
            // A dash that is neither a range nor last: ambiguous.
            return None;
        }
        if !(c.is_ascii_punctuation() || c.is_ascii_alphanumeric())
            || c == '['
            || c == ']'
            || c == '^'
        {
            return None;
        }
        tests.push(format!("c == {c:?}"));
        i += 1;
    }
    Some(format!("|c: char| {}", tests.join(" || ")))
}

/// Whether `c` is in the class of a pattern [`pattern_predicate`] accepts.
pub(crate) fn class_contains(pattern: &str, c: char) -> bool {
    let Some(class) = pattern
        .strip_prefix("^[")
        .and_then(|p| p.strip_suffix("]+$"))
    else {
        return true;
    };
    let chars: Vec<char> = class.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let x = chars[i];
        if x == '\\' {
            let e = chars.get(i + 1).copied().unwrap_or('\\');
            let hit = match e {
                'w' => c.is_ascii_alphanumeric() || c == '_',
                'd' => c.is_ascii_digit(),
                other => c == other,
            };
            if hit {
                return true;
            }
            i += 2;
            continue;
        }
        if chars.get(i + 1) == Some(&'-') && i + 2 < chars.len() {
            if (x..=chars[i + 2]).contains(&c) {
                return true;
            }
            i += 3;
            continue;
        }
        if x == c {
            return true;
        }
        i += 1;
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert_eq!(snake("CiphertextBlob"), "ciphertext_blob");
        assert_eq!(snake("AWSAccountId"), "aws_account_id");
        assert_eq!(snake("XksProxyUriPath"), "xks_proxy_uri_path");
        assert_eq!(enum_variant("SM2PKE"), "Sm2Pke");
        assert_eq!(enum_variant("ECC_SECG_P256K1"), "EccSecgP256k1");
        assert_eq!(enum_variant("RSAES_OAEP_SHA_1"), "RsaesOaepSha1");
        assert_eq!(enum_variant("PendingDeletion"), "PendingDeletion");
        assert_eq!(enum_variant("ML_DSA_44"), "MlDsa44");
        assert_eq!(enum_variant("ECC_NIST_EDWARDS25519"), "EccNistEdwards25519");
        assert_eq!(error_variant("KMSInternalException"), "KmsInternal");
        assert_eq!(
            error_variant("CustomKeyStoreHasCMKsException"),
            "CustomKeyStoreHasCmks"
        );
        assert_eq!(singular("aliases"), "alias");
        assert_eq!(singular("grant_tokens"), "grant_token");
        assert!(pattern_predicate("^[a-zA-Z0-9:/_-]+$").is_some());
        assert!(pattern_predicate("^[a-zA-Z0-9-_.]+$").is_none());
        assert!(pattern_predicate("[\\w]+").is_none());
        assert!(pattern_predicate("^[a-zA-Z0-9:/_\\s.-]+$").is_none());
    }
}
