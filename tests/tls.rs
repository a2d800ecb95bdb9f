//! HTTPS end to end on 127.0.0.1: the full `KmsClient` against the local KMS
//! served behind a rustls acceptor (hyper's HTTP/1 server), with a private CA
//! and leaf certificates made in the test.
//!
//! Both sides use the crypto provider the features pick for the crate:
//! aws-lc-rs with `rustls-aws-lc` (e.g. `--all-features`), ring otherwise
//! (e.g. `--no-default-features --features rustls-ring,webpki-roots,local`).
//! Without a rustls feature there is no HTTPS, and this file is empty.
#![cfg(any(feature = "rustls-ring", feature = "rustls-aws-lc"))]

use std::error::Error as StdError;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use hyper_util::rt::TokioIo;
use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyPair, KeyUsagePurpose,
};
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::{CertificateError, ClientConfig, RootCertStore, ServerConfig};
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;
use tower_kms::connector::HyperConnector;
use tower_kms::local::{DEFAULT_ACCESS_KEY_ID, DEFAULT_SECRET_ACCESS_KEY, LocalKms};
use tower_kms::{
    ConfigError, DecryptRequest, EncryptRequest, KmsClient, KmsClientBuilder, KmsError,
    ReEncryptRequest, TransportKind,
};

/// The provider the crate's connector uses with these features.
fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    #[cfg(feature = "rustls-aws-lc")]
    let provider = rustls::crypto::aws_lc_rs::default_provider();
    #[cfg(not(feature = "rustls-aws-lc"))]
    let provider = rustls::crypto::ring::default_provider();
    Arc::new(provider)
}

/// A private certificate authority.
struct Ca {
    issuer: CertifiedIssuer<'static, KeyPair>,
}

impl Ca {
    fn new(name: &str) -> Self {
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.distinguished_name.push(DnType::CommonName, name);
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let issuer = CertifiedIssuer::self_signed(params, KeyPair::generate().unwrap()).unwrap();
        Self { issuer }
    }

    fn pem(&self) -> String {
        self.issuer.pem()
    }

    fn der(&self) -> &CertificateDer<'static> {
        self.issuer.der()
    }

    /// A server certificate for `names` (DNS names or IP addresses).
    fn leaf(&self, names: &[&str]) -> Leaf {
        let key = KeyPair::generate().unwrap();
        let names: Vec<String> = names.iter().map(|n| n.to_string()).collect();
        let mut params = CertificateParams::new(names).unwrap();
        params
            .distinguished_name
            .push(DnType::CommonName, "tower-kms test server");
        params.is_ca = IsCa::ExplicitNoCa;
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        let cert = params.signed_by(&key, &self.issuer).unwrap();
        Leaf {
            chain: vec![cert.der().clone()],
            key: PrivateKeyDer::Pkcs8(key.serialize_der().into()),
        }
    }
}

struct Leaf {
    chain: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
}

/// A local KMS behind TLS on 127.0.0.1.
struct Server {
    url: String,
    local: LocalKms,
    /// The ALPN protocol of every completed handshake.
    alpn: Arc<Mutex<Vec<Option<Vec<u8>>>>>,
}

async fn serve(leaf: Leaf) -> Server {
    let mut config = ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(leaf.chain, leaf.key)
        .unwrap();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    let acceptor = TlsAcceptor::from(Arc::new(config));
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("https://{}", listener.local_addr().unwrap());
    let local = LocalKms::new();
    let alpn = Arc::new(Mutex::new(Vec::new()));
    let (kms, seen) = (local.clone(), alpn.clone());
    tokio::spawn(async move {
        loop {
            let Ok((tcp, _)) = listener.accept().await else {
                return;
            };
            let (acceptor, kms, seen) = (acceptor.clone(), kms.clone(), seen.clone());
            tokio::spawn(async move {
                // A client that rejects the certificate ends the handshake here.
                let Ok(tls) = acceptor.accept(tcp).await else {
                    return;
                };
                let protocol = tls.get_ref().1.alpn_protocol().map(<[u8]>::to_vec);
                seen.lock().unwrap().push(protocol);
                let svc = hyper::service::service_fn(move |req| {
                    tower::ServiceExt::oneshot(kms.clone(), req)
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(tls), svc)
                    .await;
            });
        }
    });
    Server { url, local, alpn }
}

fn client_builder(url: &str) -> KmsClientBuilder {
    KmsClient::builder()
        .region("us-east-1")
        .endpoint_url(url)
        .credentials_provider(aws_credential_types::Credentials::new(
            DEFAULT_ACCESS_KEY_ID,
            DEFAULT_SECRET_ACCESS_KEY,
            None,
            None,
            "test",
        ))
}

fn client(url: &str, connector: HyperConnector) -> KmsClient {
    client_builder(url).connector(connector).build().unwrap()
}

/// Encrypts under one new key, re-encrypts under another and decrypts, over TLS.
async fn round_trip(server: &Server, kms: &KmsClient) -> Result<(), KmsError> {
    let a = server
        .local
        .create_key(
            tower_kms::KeySpec::SymmetricDefault,
            tower_kms::KeyUsageType::EncryptDecrypt,
        )
        .unwrap();
    let b = server
        .local
        .create_key(
            tower_kms::KeySpec::SymmetricDefault,
            tower_kms::KeyUsageType::EncryptDecrypt,
        )
        .unwrap();
    let blob = kms
        .send(
            EncryptRequest::builder()
                .key_id(&a)
                .plaintext(b"over TLS")
                .build()
                .unwrap(),
        )
        .await?
        .ciphertext_blob
        .unwrap();
    let out = kms
        .re_encrypt(
            ReEncryptRequest::builder()
                .ciphertext_blob(blob)
                .destination_key_id(&b)
                .build()
                .unwrap(),
        )
        .await?;
    assert_eq!(out.source_key_id.as_deref(), Some(a.as_str()));
    assert_eq!(out.key_id.as_deref(), Some(b.as_str()));
    let back = kms
        .send(
            DecryptRequest::builder()
                .ciphertext_blob(out.ciphertext_blob.unwrap())
                .build()
                .unwrap(),
        )
        .await?;
    assert_eq!(back.plaintext.unwrap().expose(), b"over TLS");
    Ok(())
}

/// A ReEncrypt that must fail before reaching KMS.
async fn failing_call(kms: &KmsClient) -> KmsError {
    let req = ReEncryptRequest::builder()
        .ciphertext_blob(Bytes::from_static(b"never sent"))
        .destination_key_id("alias/never")
        .build()
        .unwrap();
    kms.re_encrypt(req).await.unwrap_err()
}

/// The `Display` of every error in the `source()` chain.
fn chain(err: &KmsError) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur: Option<&(dyn StdError + 'static)> = Some(err);
    while let Some(e) = cur {
        out.push(e.to_string());
        cur = e.source();
    }
    out
}

/// The rustls error in the `source()` chain. hyper-rustls wraps it in an
/// `io::Error` inside another `io::Error`, and `io::Error::source()` skips the
/// error it wraps, so each `io::Error` is opened with `get_ref`.
fn rustls_cause(err: &KmsError) -> Option<rustls::Error> {
    let mut cur: Option<&(dyn StdError + 'static)> = Some(err);
    while let Some(e) = cur {
        let mut inner: &(dyn StdError + 'static) = e;
        while let Some(wrapped) = inner
            .downcast_ref::<std::io::Error>()
            .and_then(|io| io.get_ref())
        {
            inner = wrapped;
        }
        if let Some(tls) = inner.downcast_ref::<rustls::Error>() {
            return Some(tls.clone());
        }
        cur = e.source();
    }
    None
}

/// Asserts a connect error caused by a certificate error that `expected` accepts.
fn assert_certificate_rejected(err: &KmsError, expected: fn(&CertificateError) -> bool) {
    match err {
        KmsError::Transport(t) => {
            assert_eq!(t.kind(), TransportKind::Connect, "{err:?}");
            assert!(t.is_certificate_error(), "{err:?}");
        }
        other => panic!("expected a transport error, got {other:?}"),
    }
    // Retrying cannot fix a certificate: the call fails at once.
    assert!(!err.is_retryable(), "{err:?}");
    match rustls_cause(err) {
        Some(rustls::Error::InvalidCertificate(c)) => assert!(expected(&c), "{c:?}"),
        other => panic!(
            "expected a certificate error in {:?}, got {other:?}",
            chain(err)
        ),
    }
}

fn is_unknown_issuer(c: &CertificateError) -> bool {
    matches!(c, CertificateError::UnknownIssuer)
}

fn mentions(err: &KmsError, what: &str) -> bool {
    chain(err).iter().any(|link| link.contains(what))
}

#[tokio::test]
async fn https_call_succeeds_with_the_private_ca_added() {
    let ca = Ca::new("tower-kms test CA");
    let server = serve(ca.leaf(&["127.0.0.1"])).await;
    let connector = HyperConnector::builder()
        .add_root_certificates_pem(ca.pem().as_bytes())
        .unwrap()
        .build()
        .unwrap();
    let kms = client(&server.url, connector);
    assert!(kms.endpoint().url().starts_with("https://127.0.0.1:"));
    round_trip(&server, &kms).await.unwrap();
    // The connector speaks HTTP/1.1 and, by default, offers no ALPN.
    let alpn = server.alpn.lock().unwrap().clone();
    assert!(!alpn.is_empty());
    assert!(alpn.iter().all(Option::is_none), "{alpn:?}");
}

#[tokio::test]
async fn https_call_succeeds_with_a_der_root_and_only_added_roots() {
    let ca = Ca::new("tower-kms test CA");
    let server = serve(ca.leaf(&["127.0.0.1"])).await;
    let connector = HyperConnector::builder()
        .built_in_roots(false)
        .add_root_certificate_der(ca.der())
        .unwrap()
        .build()
        .unwrap();
    round_trip(&server, &client(&server.url, connector))
        .await
        .unwrap();
}

#[tokio::test]
async fn a_pem_bundle_with_comments_and_several_cas_is_read_whole() {
    let (other, ca) = (Ca::new("another CA"), Ca::new("tower-kms test CA"));
    let server = serve(ca.leaf(&["127.0.0.1"])).await;
    // The layout of Mozilla's cacert.pem: a title line, then name, rule, PEM.
    let bundle = format!(
        "## Test bundle\n\nanother CA\n==========\n{}\ntower-kms test CA\n=================\n{}",
        other.pem(),
        ca.pem()
    );
    let connector = HyperConnector::builder()
        .built_in_roots(false)
        .add_root_certificates_pem(bundle.as_bytes())
        .unwrap()
        .build()
        .unwrap();
    round_trip(&server, &client(&server.url, connector))
        .await
        .unwrap();
}

#[cfg(any(feature = "webpki-roots", feature = "native-roots"))]
#[tokio::test]
async fn the_default_client_rejects_a_private_ca_as_unknown_issuer() {
    let ca = Ca::new("tower-kms test CA");
    let server = serve(ca.leaf(&["127.0.0.1"])).await;
    // No connector: the client builds the default one (webpki-roots and/or the
    // platform store), which does not know this CA.
    let kms = client_builder(&server.url).build().unwrap();
    let err = failing_call(&kms).await;
    assert_certificate_rejected(&err, is_unknown_issuer);
    assert!(mentions(&err, "UnknownIssuer"), "{:?}", chain(&err));
    assert!(server.alpn.lock().unwrap().is_empty());
}

#[tokio::test]
async fn a_certificate_from_another_ca_is_an_unknown_issuer() {
    let (ca, trusted) = (Ca::new("tower-kms test CA"), Ca::new("another CA"));
    let server = serve(ca.leaf(&["127.0.0.1"])).await;
    let connector = HyperConnector::builder()
        .built_in_roots(false)
        .add_root_certificates_pem(trusted.pem().as_bytes())
        .unwrap()
        .build()
        .unwrap();
    let err = failing_call(&client(&server.url, connector)).await;
    assert_certificate_rejected(&err, is_unknown_issuer);
    assert!(mentions(&err, "UnknownIssuer"), "{:?}", chain(&err));
}

#[tokio::test]
async fn a_certificate_for_another_name_is_rejected() {
    let ca = Ca::new("tower-kms test CA");
    let server = serve(ca.leaf(&["kms.example.com", "10.0.0.1"])).await;
    let connector = HyperConnector::builder()
        .add_root_certificates_pem(ca.pem().as_bytes())
        .unwrap()
        .build()
        .unwrap();
    let err = failing_call(&client(&server.url, connector)).await;
    assert_certificate_rejected(&err, |c| {
        matches!(
            c,
            CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. }
        )
    });
    assert!(mentions(&err, "not valid for name"), "{:?}", chain(&err));
}

fn ca_only_config(ca: &Ca) -> ClientConfig {
    let mut roots = RootCertStore::empty();
    roots.add(ca.der().clone()).unwrap();
    ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth()
}

#[tokio::test]
async fn a_full_client_config_is_used_as_given() {
    let ca = Ca::new("tower-kms test CA");
    let server = serve(ca.leaf(&["127.0.0.1"])).await;
    // Only this config trusts the CA, and only it offers ALPN: the server seeing
    // `http/1.1` shows the config reached the handshake unchanged.
    let mut config = ca_only_config(&ca);
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    let connector = HyperConnector::builder()
        .tls_config(config)
        .build()
        .unwrap();
    round_trip(&server, &client(&server.url, connector))
        .await
        .unwrap();
    let alpn = server.alpn.lock().unwrap().clone();
    assert!(!alpn.is_empty());
    assert!(
        alpn.iter().all(|p| p.as_deref() == Some(&b"http/1.1"[..])),
        "{alpn:?}"
    );

    // An Arc<ClientConfig> is accepted too; a config without the CA fails.
    let other = Ca::new("another CA");
    let connector = HyperConnector::builder()
        .tls_config(Arc::new(ca_only_config(&other)))
        .build()
        .unwrap();
    let err = failing_call(&client(&server.url, connector)).await;
    assert_certificate_rejected(&err, is_unknown_issuer);
}

fn config_error(result: Result<HyperConnector, ConfigError>) -> String {
    match result {
        Ok(_) => panic!("expected a configuration error"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn a_client_config_offering_another_protocol_is_refused() {
    let ca = Ca::new("tower-kms test CA");
    for alpn in [
        vec![b"h2".to_vec()],
        vec![b"h2".to_vec(), b"http/1.1".to_vec()],
    ] {
        let mut config = ca_only_config(&ca);
        config.alpn_protocols = alpn;
        let msg = config_error(HyperConnector::builder().tls_config(config).build());
        assert!(msg.contains("HTTP/1.1 only"), "{msg}");
    }
}

#[test]
fn a_client_config_does_not_mix_with_root_settings() {
    let ca = Ca::new("tower-kms test CA");
    let msg = config_error(
        HyperConnector::builder()
            .add_root_certificate_der(ca.der())
            .unwrap()
            .tls_config(ca_only_config(&ca))
            .build(),
    );
    assert!(
        msg.contains("put the roots in the rustls ClientConfig"),
        "{msg}"
    );
    let msg = config_error(
        HyperConnector::builder()
            .built_in_roots(false)
            .tls_config(ca_only_config(&ca))
            .build(),
    );
    assert!(
        msg.contains("put the roots in the rustls ClientConfig"),
        "{msg}"
    );
}

#[test]
fn only_added_roots_with_none_added_is_a_config_error() {
    let msg = config_error(HyperConnector::builder().built_in_roots(false).build());
    assert!(msg.contains("none was added"), "{msg}");
}

fn pem_error(pem: &[u8]) -> String {
    match HyperConnector::builder().add_root_certificates_pem(pem) {
        Ok(_) => panic!("accepted {:?}", String::from_utf8_lossy(pem)),
        Err(e) => e.to_string(),
    }
}

#[test]
fn a_pem_without_a_certificate_is_a_config_error() {
    let key = KeyPair::generate().unwrap().serialize_pem();
    for pem in [&b""[..], b"not PEM at all\n", key.as_bytes()] {
        let msg = pem_error(pem);
        assert!(msg.contains("no certificate found"), "{msg}");
    }
}

#[test]
fn a_corrupt_pem_is_a_config_error() {
    let msg = pem_error(b"-----BEGIN CERTIFICATE-----\n!!!!\n-----END CERTIFICATE-----\n");
    assert!(msg.contains("not valid PEM"), "{msg}");
    let pem = Ca::new("tower-kms test CA").pem();
    let unterminated = pem.replace("-----END CERTIFICATE-----", "");
    let msg = pem_error(unterminated.as_bytes());
    assert!(msg.contains("not valid PEM"), "{msg}");
    // Well-formed PEM around bytes that are no certificate.
    let msg = pem_error(b"-----BEGIN CERTIFICATE-----\naGVsbG8=\n-----END CERTIFICATE-----\n");
    assert!(msg.contains("does not parse"), "{msg}");
}

#[test]
fn a_truncated_pem_is_refused_without_panicking() {
    let pem = Ca::new("tower-kms test CA").pem();
    let end = pem.find("-----END CERTIFICATE-----").unwrap() + "-----END CERTIFICATE-----".len();
    for cut in 0..pem.len() {
        let result = HyperConnector::builder().add_root_certificates_pem(&pem.as_bytes()[..cut]);
        if cut < end {
            assert!(result.is_err(), "a PEM cut at byte {cut} was accepted");
        }
    }
    assert!(
        HyperConnector::builder()
            .add_root_certificates_pem(pem.as_bytes())
            .is_ok()
    );
}

#[test]
fn a_corrupt_der_is_a_config_error_without_panicking() {
    for der in [&b""[..], b"\x30\x03\x02\x01\x00", b"hello"] {
        let err = HyperConnector::builder()
            .add_root_certificate_der(der)
            .unwrap_err();
        assert!(err.to_string().contains("does not parse"), "{err}");
    }
    // Every truncation of a real certificate is refused (DER lengths no longer
    // match); none panics.
    let ca = Ca::new("tower-kms test CA");
    let der = ca.der().as_ref();
    for cut in 0..der.len() {
        assert!(
            HyperConnector::builder()
                .add_root_certificate_der(&der[..cut])
                .is_err(),
            "a certificate cut at byte {cut} was accepted"
        );
    }
}

#[tokio::test]
async fn aws_ca_bundle_adds_a_private_ca_to_the_default_connector() {
    let ca = Ca::new("tower-kms test CA");
    let server = serve(ca.leaf(&["127.0.0.1"])).await;
    let dir = std::env::temp_dir().join(format!("tower-kms-tls-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let bundle = dir.join("ca-bundle.pem");
    std::fs::write(&bundle, ca.pem()).unwrap();
    let path = bundle.to_str().unwrap().to_owned();
    let kms = client_builder(&server.url)
        .env_with(|k| (k == "AWS_CA_BUNDLE").then(|| path.clone()))
        .build()
        .unwrap();
    round_trip(&server, &kms).await.unwrap();
    // A file that is not there, or holds no certificate, is a configuration error.
    let missing = client_builder(&server.url)
        .ca_bundle(dir.join("missing.pem"))
        .build()
        .unwrap_err();
    assert!(
        missing.message().contains("cannot read the CA bundle"),
        "{missing}"
    );
    let empty = dir.join("empty.pem");
    std::fs::write(&empty, "no certificate here\n").unwrap();
    let err = client_builder(&server.url)
        .ca_bundle(&empty)
        .build()
        .unwrap_err();
    assert!(err.message().contains("no certificate found"), "{err}");
    let _ = std::fs::remove_dir_all(&dir);
}
