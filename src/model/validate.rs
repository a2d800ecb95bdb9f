//! The checks generated validation calls: each returns the broken rule as a
//! sentence, which the caller turns into a [`ValidationError`](crate::ValidationError)
//! naming the operation and member.

use crate::error::ValidationError;

/// The error for a rule broken by `field` of `op`.
pub(crate) fn fail(op: &'static str, field: &'static str) -> impl Fn(String) -> ValidationError {
    move |rule| ValidationError::new(op, field, rule)
}

/// The error for a rule broken by item `i` of a list.
pub(crate) fn item(
    i: usize,
    mut err: impl FnMut(String) -> ValidationError,
) -> impl FnMut(String) -> ValidationError {
    move |rule| err(format!("item {i} {rule}"))
}

/// The error for a rule broken by `member` of a nested structure.
pub(crate) fn member<'a>(
    member: &'static str,
    err: &'a mut dyn FnMut(String) -> ValidationError,
) -> impl FnMut(String) -> ValidationError + 'a {
    move |rule| err(format!("{member} {rule}"))
}

fn bounds(min: Option<i64>, max: Option<i64>, unit: &str) -> String {
    match (min, max) {
        (Some(a), Some(b)) if a == b => format!("exactly {a} {unit}"),
        (Some(a), Some(b)) if a > 0 => format!("{a} to {b} {unit}"),
        (_, Some(b)) => format!("at most {b} {unit}"),
        (Some(a), None) => format!("at least {a} {unit}"),
        (None, None) => format!("any number of {unit}"),
    }
}

fn within(n: usize, min: Option<i64>, max: Option<i64>) -> bool {
    let n = i64::try_from(n).unwrap_or(i64::MAX);
    min.is_none_or(|a| n >= a) && max.is_none_or(|b| n <= b)
}

/// A string's length in characters (Unicode scalar values, as KMS counts).
pub(crate) fn chars(s: &str, min: Option<i64>, max: Option<i64>) -> Result<(), String> {
    let n = s.chars().count();
    if within(n, min, max) {
        return Ok(());
    }
    Err(format!(
        "must be {} long (got {n})",
        bounds(min, max, "characters")
    ))
}

/// A blob's length in bytes.
pub(crate) fn bytes(b: &[u8], min: Option<i64>, max: Option<i64>) -> Result<(), String> {
    let n = b.len();
    if within(n, min, max) {
        return Ok(());
    }
    Err(format!(
        "must be {} long (got {n})",
        bounds(min, max, "bytes")
    ))
}

/// An integer's range.
pub(crate) fn range(v: i32, min: Option<i64>, max: Option<i64>) -> Result<(), String> {
    let x = i64::from(v);
    if min.is_none_or(|a| x >= a) && max.is_none_or(|b| x <= b) {
        return Ok(());
    }
    let what = match (min, max) {
        (Some(a), Some(b)) => format!("{a} to {b}"),
        (Some(a), None) => format!("at least {a}"),
        (None, Some(b)) => format!("at most {b}"),
        (None, None) => "any value".to_owned(),
    };
    Err(format!("must be {what} (got {v})"))
}

/// A list's number of items.
pub(crate) fn items(n: usize, min: Option<i64>, max: Option<i64>) -> Result<(), String> {
    if within(n, min, max) {
        return Ok(());
    }
    Err(match (min, max) {
        (Some(a), _) if i64::try_from(n).unwrap_or(i64::MAX) < a => {
            format!("must hold at least {a} items (got {n})")
        }
        (_, Some(b)) => format!("may hold at most {b} items (got {n})"),
        _ => format!("has a wrong number of items ({n})"),
    })
}

/// A pattern that is one character class repeated: every character must be in it.
pub(crate) fn pattern(s: &str, allowed: fn(char) -> bool, pattern: &str) -> Result<(), String> {
    match s.chars().find(|c| !allowed(*c)) {
        None => Ok(()),
        Some(c) => Err(format!(
            "must match `{pattern}` (character {c:?} is not allowed)"
        )),
    }
}

/// [`pattern`] for a secret: the error says where the first character not
/// allowed is, never which character it is (it would be part of the secret).
pub(crate) fn secret_pattern(
    s: &str,
    allowed: fn(char) -> bool,
    pattern: &str,
) -> Result<(), String> {
    match s.chars().position(|c| !allowed(c)) {
        None => Ok(()),
        Some(i) => Err(format!(
            "must match `{pattern}` (the character at position {} is not allowed)",
            i + 1
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_secret_pattern_error_does_not_show_the_secret() {
        let err = secret_pattern("abcS3cr€t", |c| c.is_ascii_alphanumeric(), "^[a-zA-Z0-9]+$")
            .unwrap_err();
        assert_eq!(
            err,
            "must match `^[a-zA-Z0-9]+$` (the character at position 8 is not allowed)"
        );
        assert!(!err.contains('€'));
        assert!(
            pattern("a€", |c| c.is_ascii(), "p")
                .unwrap_err()
                .contains('€')
        );
    }

    #[test]
    fn rules_read_as_sentences() {
        assert_eq!(
            chars("", Some(1), Some(2048)).unwrap_err(),
            "must be 1 to 2048 characters long (got 0)"
        );
        assert!(chars("é", Some(1), Some(1)).is_ok());
        assert_eq!(
            bytes(&[0; 4097], Some(1), Some(4096)).unwrap_err(),
            "must be 1 to 4096 bytes long (got 4097)"
        );
        assert_eq!(
            chars("aa", Some(0), Some(1)).unwrap_err(),
            "must be at most 1 characters long (got 2)"
        );
        assert_eq!(
            range(0, Some(1), Some(1000)).unwrap_err(),
            "must be 1 to 1000 (got 0)"
        );
        assert_eq!(
            items(11, Some(0), Some(10)).unwrap_err(),
            "may hold at most 10 items (got 11)"
        );
        assert_eq!(
            items(0, Some(1), Some(2)).unwrap_err(),
            "must hold at least 1 items (got 0)"
        );
        let err = pattern("ab!", |c| c.is_ascii_alphabetic(), "^[a-z]+$").unwrap_err();
        assert_eq!(err, "must match `^[a-z]+$` (character '!' is not allowed)");
    }
}
