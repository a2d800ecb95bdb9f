//! Decoding awsJson1.1 responses: success bodies and the error shapes servers send.

use std::borrow::Cow;

use bytes::Bytes;
use http::{HeaderMap, StatusCode};

use crate::error::{KmsError, ServiceError, UnexpectedResponse};
use crate::operation::KmsOperation;
use crate::operation::ResponseMetadata;

/// The `x-amzn-RequestId` header, in any case.
pub(crate) fn request_id(headers: &HeaderMap) -> Option<String> {
    headers
        .get("x-amzn-requestid")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

/// Decodes a whole response of operation `Op`: a 2xx body into its output, anything
/// else into a [`KmsError`]. Never panics, whatever the bytes.
pub fn decode_response<Op: KmsOperation>(
    status: StatusCode,
    headers: &HeaderMap,
    body: &Bytes,
) -> Result<Op::Output, KmsError> {
    let request_id = request_id(headers);
    if !status.is_success() {
        return Err(decode_error(status, headers, body));
    }
    // A successful awsJson response may have an empty body; it means `{}`.
    let body: &[u8] = if body.iter().all(u8::is_ascii_whitespace) {
        b"{}"
    } else {
        body
    };
    Op::from_json(
        body,
        ResponseMetadata {
            request_id: request_id.clone(),
            status: Some(status),
        },
    )
    .map_err(|e| {
        // No snippet: a success body may carry key material or plaintext.
        KmsError::UnexpectedResponse(UnexpectedResponse::new(
            status,
            request_id,
            format!("could not decode the {} response ({e})", Op::NAME),
            b"",
        ))
    })
}

/// The top-level members of an error body that carry the code and the message
/// (string values only). Members of any other type, and members nested deeper,
/// are ignored. `None` if the body is not a JSON object.
#[derive(Default)]
struct ErrorBody<'a> {
    code: Option<Cow<'a, str>>,
    type_: Option<Cow<'a, str>>,
    message: Option<Cow<'a, str>>,
    message_upper: Option<Cow<'a, str>>,
    error_message: Option<Cow<'a, str>>,
}

impl<'a> ErrorBody<'a> {
    fn parse(body: &'a [u8]) -> Option<Self> {
        use crate::model::json::JsonReader;
        let mut r = JsonReader::new(body);
        let mut out = ErrorBody::default();
        if !r.begin_object().ok()? {
            return None;
        }
        while let Some(key) = r.next_key().ok()? {
            let slot = match &*key {
                "code" => &mut out.code,
                "__type" => &mut out.type_,
                "message" => &mut out.message,
                "Message" => &mut out.message_upper,
                "errorMessage" => &mut out.error_message,
                _ => {
                    r.skip().ok()?;
                    continue;
                }
            };
            // A non-string value is ignored, not an error.
            *slot = r.string_or_skip().ok()?.map(Cow::Owned);
        }
        r.end().ok()?;
        Some(out)
    }
}

/// Sanitizes an awsJson1.1 error code: keep what is before the first `:`, then what
/// is after the first `#`. `com.amazonaws.kms#NotFoundException` and
/// `NotFoundException:http://internal.amazon.com/` both give `NotFoundException`.
pub fn sanitize_error_code(raw: &str) -> &str {
    let before_colon = raw.split(':').next().unwrap_or(raw);
    let code = match before_colon.split_once('#') {
        Some((_, after)) => after,
        None => before_colon,
    };
    code.trim()
}

/// The longest error code kept, in characters (longer ones are cut, with `…`).
pub const MAX_CODE_CHARS: usize = 128;
/// The longest error message kept, in characters (longer ones are cut, with `…`).
pub const MAX_MESSAGE_CHARS: usize = 1024;

/// `s` cut to `max` characters, with `…` when cut, so a hostile body cannot make
/// errors (and the logs they end up in) arbitrarily long.
fn truncate(s: &str, max: usize) -> String {
    match s.char_indices().nth(max) {
        None => s.to_owned(),
        Some((i, _)) => {
            let mut out = s[..i].to_owned();
            out.push('…');
            out
        }
    }
}

/// Decodes an error response (any status) into a [`KmsError`].
///
/// The code comes from the `x-amzn-ErrorType` header, else the body's top-level
/// `code`, else its top-level `__type`; the message from `message`, `Message` or
/// `errorMessage`. A body that is not a JSON object, with no code in the header,
/// gives [`KmsError::UnexpectedResponse`] with a short snippet of the body.
pub fn decode_error(status: StatusCode, headers: &HeaderMap, body: &[u8]) -> KmsError {
    let request_id = request_id(headers);
    let server_time = headers
        .get(http::header::DATE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| httpdate::parse_http_date(v).ok());
    let retry_after = headers
        .get("x-amz-retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
        .map(std::time::Duration::from_millis);
    let service_error =
        |code: &str, message: Option<String>, request_id: Option<String>| ServiceError {
            code: truncate(code, MAX_CODE_CHARS),
            message: message.map(|m| truncate(&m, MAX_MESSAGE_CHARS)),
            request_id: request_id.map(|r| truncate(&r, MAX_CODE_CHARS)),
            status,
            server_time,
            retry_after,
        };
    let header_code = headers
        .get("x-amzn-errortype")
        .and_then(|v| v.to_str().ok())
        .map(sanitize_error_code)
        .filter(|c| !c.is_empty());
    let parsed: Option<ErrorBody<'_>> = if body.iter().all(u8::is_ascii_whitespace) {
        Some(ErrorBody::default())
    } else {
        ErrorBody::parse(body)
    };
    let Some(parsed) = parsed else {
        return match header_code {
            Some(code) => KmsError::from_service_error(service_error(code, None, request_id)),
            None => KmsError::UnexpectedResponse(UnexpectedResponse::new(
                status,
                request_id,
                "the error response is not a KMS JSON error",
                body,
            )),
        };
    };
    let code = header_code.or_else(|| {
        [parsed.code.as_deref(), parsed.type_.as_deref()]
            .into_iter()
            .flatten()
            .map(sanitize_error_code)
            .find(|c| !c.is_empty())
    });
    let message = [
        &parsed.message,
        &parsed.message_upper,
        &parsed.error_message,
    ]
    .into_iter()
    .find_map(|m| m.as_deref())
    .map(str::to_owned);
    match code {
        Some(code) => KmsError::from_service_error(service_error(code, message, request_id)),
        None => KmsError::UnexpectedResponse(UnexpectedResponse::new(
            status,
            request_id,
            "the error response carries no error code",
            body,
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sanitize_follows_the_awsjson_rules() {
        assert_eq!(
            sanitize_error_code("com.amazonaws.kms#NotFoundException"),
            "NotFoundException"
        );
        assert_eq!(
            sanitize_error_code("NotFoundException:http://internal.amazon.com/"),
            "NotFoundException"
        );
        assert_eq!(
            sanitize_error_code(
                "aws.protocoltests#FooError:http://internal.amazon.com/coral/com.amazon/"
            ),
            "FooError"
        );
        assert_eq!(sanitize_error_code("Plain"), "Plain");
        assert_eq!(sanitize_error_code(""), "");
        assert_eq!(sanitize_error_code("#"), "");
    }
}
