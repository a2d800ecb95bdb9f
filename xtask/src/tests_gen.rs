//! The generated tests: a golden request per operation (target and exact JSON),
//! a full response per operation decoded, and one case per constraint.
//!
//! The expected JSON is made here, by this generator's own small encoder (sorted
//! members, base64 written out below), not by the crate's writer under test.

use std::fmt::Write as _;

use crate::naming::{class_contains, enum_variant, pattern_predicate, singular, snake};
use crate::{Kind, Limits, Member, Model, Operation, output_name};

/// Members left out of the "full" request because they exclude another one
/// (hand-written rules in `src/model/rules.rs`), and what to clear when a
/// validation case sets them.
const EXCLUSIVE: &[(&str, &str, &[&str])] = &[
    ("GenerateDataKey", "NumberOfBytes", &["KeySpec"]),
    (
        "GenerateDataKeyWithoutPlaintext",
        "NumberOfBytes",
        &["KeySpec"],
    ),
    (
        "DescribeCustomKeyStores",
        "CustomKeyStoreName",
        &["CustomKeyStoreId"],
    ),
    ("RetireGrant", "GrantToken", &["KeyId", "GrantId"]),
];

fn skipped(op: &str, member: &str) -> bool {
    EXCLUSIVE.iter().any(|(o, m, _)| *o == op && *m == member)
}

fn b64(data: &[u8]) -> String {
    const T: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in data.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(T[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// A sample value: the Rust expression a builder setter takes, and its JSON.
struct Sample {
    rust: String,
    json: String,
}

fn sample_string(l: &Limits, seed: &str) -> String {
    let allowed = |c: char| {
        l.pattern
            .as_deref()
            .is_none_or(|p| pattern_predicate(p).is_none() || class_contains(p, c))
    };
    let fill = ['a', 'A', '2', '0', 'x']
        .into_iter()
        .find(|c| allowed(*c))
        .unwrap_or('a');
    let mut s: String = seed
        .chars()
        .map(|c| {
            if allowed(c) {
                c
            } else if allowed(c.to_ascii_uppercase()) {
                c.to_ascii_uppercase()
            } else if allowed(c.to_ascii_lowercase()) {
                c.to_ascii_lowercase()
            } else {
                fill
            }
        })
        .collect();
    let min = l.min.unwrap_or(0).max(1) as usize;
    while s.chars().count() < min {
        s.push(fill);
    }
    if let Some(max) = l.max {
        s = s.chars().take(max as usize).collect();
    }
    s
}

fn sample_bytes(l: &Limits, seed: &str) -> Vec<u8> {
    let mut v: Vec<u8> = seed.bytes().collect();
    let min = l.min.unwrap_or(0).max(1) as usize;
    while v.len() < min {
        v.push(b'.');
    }
    if let Some(max) = l.max {
        v.truncate(max as usize);
    }
    v
}

fn byte_literal(v: &[u8]) -> String {
    format!(
        "b\"{}\"",
        v.iter()
            .map(|b| (*b as char).to_string())
            .collect::<String>()
    )
}

const EPOCH_SECS: i64 = 1_700_000_000;

fn sample(m: &Model, shape: &str, seed: &str, n: i64) -> Sample {
    match m.kind(shape) {
        Kind::Str(l) => {
            let s = sample_string(l, seed);
            Sample {
                rust: format!("{s:?}"),
                json: format!("{s:?}"),
            }
        }
        Kind::Enum(vals) => Sample {
            rust: format!("{shape}::{}", enum_variant(&vals[0])),
            json: format!("{:?}", vals[0]),
        },
        Kind::Blob(l) => {
            let v = sample_bytes(l, seed);
            let rust = if l.sensitive {
                format!("Plaintext::new({}.to_vec())", byte_literal(&v))
            } else {
                format!("Bytes::from_static({})", byte_literal(&v))
            };
            Sample {
                rust,
                json: format!("\"{}\"", b64(&v)),
            }
        }
        Kind::Int(l) => {
            let lo = l.min.unwrap_or(0);
            let hi = l.max.unwrap_or(lo + 100);
            let v = lo + n.rem_euclid(hi - lo + 1);
            Sample {
                rust: v.to_string(),
                json: v.to_string(),
            }
        }
        Kind::Bool => Sample {
            rust: "true".into(),
            json: "true".into(),
        },
        Kind::Timestamp => {
            let t = EPOCH_SECS + n;
            Sample {
                rust: format!("UNIX_EPOCH + Duration::from_secs({t})"),
                json: t.to_string(),
            }
        }
        Kind::Map { .. } => Sample {
            rust: format!("(\"purpose\", {seed:?})"),
            json: format!("{{\"purpose\":{seed:?}}}"),
        },
        Kind::Struct(members) => {
            let mut rust = format!("{shape}::builder()");
            let mut sorted: Vec<(usize, &Member)> = members.iter().enumerate().collect();
            for (i, mem) in &sorted {
                rust += &setter(m, mem, &format!("{seed}{}", mem.name), *i as i64 + n);
            }
            rust += ".build()";
            sorted.sort_by(|a, b| a.1.name.cmp(&b.1.name));
            let fields: Vec<String> = sorted
                .iter()
                .map(|(i, mem)| {
                    format!(
                        "{:?}:{}",
                        mem.name,
                        member_json(m, mem, &format!("{seed}{}", mem.name), *i as i64 + n)
                    )
                })
                .collect();
            Sample {
                rust,
                json: format!("{{{}}}", fields.join(",")),
            }
        }
        Kind::List { member, .. } => {
            let s = sample(m, member, seed, n);
            Sample {
                rust: s.rust,
                json: format!("[{}]", s.json),
            }
        }
    }
}

fn member_json(m: &Model, mem: &Member, seed: &str, n: i64) -> String {
    sample(m, &mem.shape, seed, n).json
}

/// `.member(value)` for a builder.
fn setter(m: &Model, mem: &Member, seed: &str, n: i64) -> String {
    let f = snake(&mem.name);
    let s = sample(m, &mem.shape, seed, n);
    match m.kind(&mem.shape) {
        Kind::List { .. } => format!(".{}({})", singular(&f), s.rust),
        Kind::Map { .. } => format!(".{f}{}", s.rust),
        _ => format!(".{f}({})", s.rust),
    }
}

fn members_of<'a>(m: &'a Model, shape: &str) -> &'a [Member] {
    match m.kind(shape) {
        Kind::Struct(v) => v,
        _ => &[],
    }
}

/// The full request of `op` as a builder expression (before `build`), and its JSON.
fn full_request(m: &Model, op: &Operation) -> (String, String) {
    let members = members_of(m, &op.input);
    let mut rust = format!("{}::builder()", op.input);
    let mut json = Vec::new();
    for (i, mem) in members.iter().enumerate() {
        if skipped(&op.name, &mem.name) {
            continue;
        }
        rust += &setter(m, mem, &mem.name, i as i64);
        json.push((mem.name.clone(), member_json(m, mem, &mem.name, i as i64)));
    }
    json.sort();
    let body = json
        .iter()
        .map(|(k, v)| format!("{k:?}:{v}"))
        .collect::<Vec<_>>()
        .join(",");
    (rust, format!("{{{body}}}"))
}

const PRELUDE: &str = "#![allow(clippy::all, unused_imports)]\n\nuse std::time::{Duration, UNIX_EPOCH};\n\nuse bytes::Bytes;\nuse tower_kms::*;\nuse tower_kms::model::*;\n\n";

pub(crate) fn wire(m: &Model) -> String {
    let mut s = String::from(
        "//! Golden requests: for every operation, a request with every member set\n//! encodes to its `X-Amz-Target` and exactly this JSON (members sorted by\n//! name), and goes through the whole client stack.\n\n",
    );
    s += PRELUDE;
    s.push_str("mod support;\n\n");
    s.push_str("fn golden<Op: KmsOperation>(op: Op, target: &str, body: &str) {\n    let req = tower_kms::protocol::encode_request(&op).expect(\"a valid request\");\n    assert_eq!(req.headers()[\"x-amz-target\"], target);\n    assert_eq!(req.headers()[\"content-type\"], \"application/x-amz-json-1.1\");\n    assert_eq!(std::str::from_utf8(req.body()).unwrap(), body);\n}\n\n");
    for op in &m.ops {
        let (rust, json) = full_request(m, op);
        let _ = writeln!(
            s,
            "pub(crate) fn full_{sn}() -> {input} {{\n    {rust}.build().expect(\"the full request is valid\")\n}}\n\n#[test]\nfn {sn}() {{\n    golden(full_{sn}(), \"{p}.{name}\", r#\"{json}\"#);\n}}\n",
            sn = snake(&op.name),
            input = op.input,
            name = op.name,
            p = m.target_prefix,
        );
    }
    // Every operation through the client.
    s.push_str("/// Every operation goes through the whole client stack (grant tokens, retry,\n/// signing) to the connector, with its target.\n#[tokio::test]\nasync fn every_operation_goes_through_the_client() {\n    use std::sync::{Arc, Mutex};\n    let seen = Arc::new(Mutex::new(Vec::<String>::new()));\n    let log = seen.clone();\n    let connector = tower::service_fn(move |req: http::Request<http_body_util::Full<Bytes>>| {\n        assert!(req.headers().contains_key(\"authorization\"));\n        log.lock().unwrap().push(req.headers()[\"x-amz-target\"].to_str().unwrap().to_owned());\n        async { Ok::<_, std::convert::Infallible>(support::json_response(200, \"{}\")) }\n    });\n    let kms = KmsClient::builder()\n        .region(\"us-east-1\")\n        .credentials_provider(support::credentials())\n        .connector(connector)\n        .build()\n        .unwrap();\n");
    for op in &m.ops {
        let _ = writeln!(
            s,
            "    kms.send(full_{}()).await.unwrap();",
            snake(&op.name)
        );
    }
    s.push_str("    let seen = seen.lock().unwrap();\n    let expected: Vec<String> = tower_kms::model::OPERATIONS.iter().map(|o| format!(\"TrentService.{o}\")).collect();\n    assert_eq!(*seen, expected);\n}\n");
    s
}

pub(crate) fn decode(m: &Model) -> String {
    let mut s = String::from(
        "//! Full responses: for every operation, a response with every member set\n//! (and members this crate does not know) decodes to exactly the expected output.\n\n",
    );
    s += PRELUDE;
    s.push_str("fn decode<Op: KmsOperation>(body: &str) -> Op::Output {\n    let mut headers = http::HeaderMap::new();\n    headers.insert(\"x-amzn-requestid\", http::HeaderValue::from_static(\"rid-1\"));\n    tower_kms::protocol::decode_response::<Op>(http::StatusCode::OK, &headers, &Bytes::copy_from_slice(body.as_bytes()))\n        .expect(\"a valid response\")\n}\n\n");
    for op in &m.ops {
        let out = output_name(op);
        let members = op
            .output
            .as_deref()
            .map(|o| members_of(m, o))
            .unwrap_or(&[]);
        let mut rust = format!("{out}::builder()");
        let mut json = vec![(
            "FutureMember".to_owned(),
            "{\"Nested\":[1,{\"x\":null}],\"S\":\"\\u00e9\"}".to_owned(),
        )];
        for (i, mem) in members.iter().enumerate() {
            rust += &setter(m, mem, &mem.name, i as i64);
            json.push((mem.name.clone(), member_json(m, mem, &mem.name, i as i64)));
        }
        json.sort();
        let body = json
            .iter()
            .map(|(k, v)| format!("{k:?}:{v}"))
            .collect::<Vec<_>>()
            .join(",");
        let _ = writeln!(
            s,
            "#[test]\nfn {sn}() {{\n    let out = decode::<{input}>(r#\"{{{body}}}\"#);\n    let mut expected = {rust}.request_id(\"rid-1\").build();\n    expected.metadata.status = Some(http::StatusCode::OK);\n    assert_eq!(out, expected);\n    // An empty body is an output with nothing set.\n    let empty = decode::<{input}>(\"\");\n    assert_eq!(empty.metadata.request_id.as_deref(), Some(\"rid-1\"));\n}}\n",
            sn = snake(&op.name),
            input = op.input,
        );
    }
    s
}

/// One invalid value of `shape` (a setter argument), or `None` when the
/// shape has no client-side constraint to break.
fn invalid_values(m: &Model, shape: &str) -> Vec<(String, &'static str)> {
    let mut out = Vec::new();
    match m.kind(shape) {
        Kind::Str(l) => {
            let good = sample_string(l, "");
            let fill = good.chars().next().unwrap_or('a');
            if let Some(min) = l.min.filter(|x| *x > 0) {
                out.push((
                    format!("{:?}", fill.to_string().repeat(min as usize - 1)),
                    "characters",
                ));
            }
            if let Some(max) = l.max {
                out.push((
                    format!("{:?}.repeat({})", fill.to_string(), max + 1),
                    "characters",
                ));
            }
            if let Some(p) = &l.pattern
                && pattern_predicate(p).is_some()
                && !class_contains(p, '!')
            {
                let mut bad: String = good.chars().collect();
                bad.pop();
                bad.push('!');
                out.push((format!("{bad:?}"), "must match"));
            }
        }
        Kind::Blob(l) => {
            let ctor = if l.sensitive {
                "Plaintext::new"
            } else {
                "Bytes::from"
            };
            if let Some(min) = l.min.filter(|x| *x > 0) {
                out.push((format!("{ctor}(vec![7u8; {}])", min - 1), "bytes"));
            }
            if let Some(max) = l.max {
                out.push((format!("{ctor}(vec![7u8; {}])", max + 1), "bytes"));
            }
        }
        Kind::Int(l) => {
            if let Some(min) = l.min {
                out.push(((min - 1).to_string(), "must be"));
            }
            if let Some(max) = l.max {
                out.push(((max + 1).to_string(), "must be"));
            }
        }
        _ => {}
    }
    out
}

pub(crate) fn validation(m: &Model) -> String {
    let mut s = String::from(
        "//! Every constraint of every operation is checked at `build()` and again by the\n//! protocol layer, before any I/O: one case per constraint, none reaches the\n//! connector.\n\n",
    );
    s += PRELUDE;
    s.push_str(
        "mod support;\n\nuse std::sync::Arc;\nuse std::sync::atomic::{AtomicUsize, Ordering};\n\n",
    );
    s.push_str("fn client(calls: Arc<AtomicUsize>) -> KmsClient {\n    let connector = tower::service_fn(move |_req: http::Request<http_body_util::Full<Bytes>>| {\n        calls.fetch_add(1, Ordering::SeqCst);\n        async { Err::<http::Response<http_body_util::Full<Bytes>>, _>(std::io::Error::other(\"the connector must not be called\")) }\n    });\n    KmsClient::builder()\n        .region(\"us-east-1\")\n        .credentials_provider(support::credentials())\n        .connector(connector)\n        .build()\n        .unwrap()\n}\n\n");
    s.push_str("/// Builds `$b` (must fail on `$field` with a rule containing `$rule`), then sends\n/// the unchecked request through the client (must fail the same way).\nmacro_rules! invalid {\n    ($kms:expr, $b:expr, $field:expr, $rule:expr) => {{\n        let b = $b;\n        let err = b.clone().build().expect_err(\"an invalid request was built\");\n        assert_eq!(err.field(), $field, \"{err}\");\n        assert!(err.rule().contains($rule), \"{err}\");\n        match $kms.send(b.build_unchecked()).await {\n            Err(KmsError::Validation(v)) => assert_eq!(v, err),\n            other => panic!(\"{other:?}\"),\n        }\n    }};\n}\n\n");
    for op in &m.ops {
        let members = members_of(m, &op.input);
        let (full, _) = full_request(m, op);
        let sn = snake(&op.name);
        let mut cases = Vec::new();
        for (i, mem) in members.iter().enumerate() {
            let f = snake(&mem.name);
            let mut base = "full()".to_owned();
            if let Some((_, _, clear)) = EXCLUSIVE
                .iter()
                .find(|(o, x, _)| *o == op.name && *x == mem.name)
            {
                for c in *clear {
                    base += &format!(".set_{}(None)", snake(c));
                }
            }
            let is_list = matches!(m.kind(&mem.shape), Kind::List { .. });
            if mem.required {
                let clear = if is_list {
                    format!(".set_{f}(Vec::new())")
                } else {
                    format!(".set_{f}(None)")
                };
                cases.push(format!(
                    "invalid!(kms, {base}{clear}, {:?}, \"is required\");",
                    mem.name
                ));
            }
            match m.kind(&mem.shape) {
                Kind::List { member, limits } => {
                    let mut item = sample(m, member, &mem.name, i as i64).rust;
                    if matches!(m.kind(member), Kind::Str(_)) {
                        item += ".to_owned()";
                    }
                    if let Some(max) = limits.max {
                        cases.push(format!(
                            "invalid!(kms, {base}.set_{f}(vec![{item}; {}]), {:?}, \"at most\");",
                            max + 1,
                            mem.name
                        ));
                    }
                    for (bad, rule) in invalid_values(m, member) {
                        cases.push(format!(
                            "invalid!(kms, {base}.set_{f}(vec![{bad}.into()]), {:?}, {rule:?});",
                            mem.name
                        ));
                    }
                    if let Kind::Struct(inner) = m.kind(member) {
                        for (j, im) in inner.iter().enumerate() {
                            for (bad, rule) in invalid_values(m, &im.shape) {
                                let mut b = sample(m, member, &mem.name, i as i64).rust;
                                b = b.trim_end_matches(".build()").to_owned();
                                let _ = j;
                                b += &format!(".{}({bad}).build()", snake(&im.name));
                                cases.push(format!(
                                    "invalid!(kms, {base}.set_{f}(vec![{b}]), {:?}, {rule:?});",
                                    mem.name
                                ));
                            }
                        }
                    }
                }
                Kind::Struct(inner) => {
                    for im in inner {
                        for (bad, rule) in invalid_values(m, &im.shape) {
                            let mut b = sample(m, &mem.shape, &mem.name, i as i64).rust;
                            b = b.trim_end_matches(".build()").to_owned();
                            b += &format!(".{}({bad}).build()", snake(&im.name));
                            cases.push(format!(
                                "invalid!(kms, {base}.{f}({b}), {:?}, {rule:?});",
                                mem.name
                            ));
                        }
                    }
                }
                _ => {
                    for (bad, rule) in invalid_values(m, &mem.shape) {
                        // A required member that is empty is named as such.
                        let rule = if mem.required && bad == "\"\"" {
                            "must not be empty"
                        } else {
                            rule
                        };
                        cases.push(format!(
                            "invalid!(kms, {base}.{f}({bad}), {:?}, {rule:?});",
                            mem.name
                        ));
                    }
                }
            }
        }
        if cases.is_empty() {
            let _ = writeln!(
                s,
                "#[test]\nfn {sn}() {{\n    // No member has a client-side constraint; the full request builds.\n    {full}.build().unwrap();\n}}\n"
            );
            continue;
        }
        let _ = writeln!(
            s,
            "#[tokio::test]\nasync fn {sn}() {{\n    let calls = Arc::new(AtomicUsize::new(0));\n    let kms = client(calls.clone());\n    let full = || {full};\n    full().build().expect(\"the full request is valid\");\n    {}\n    assert_eq!(calls.load(Ordering::SeqCst), 0, \"an invalid request reached the connector\");\n}}\n",
            cases.join("\n    ")
        );
    }
    s
}
