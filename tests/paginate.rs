//! Paginators: each page a separate call through the service, following
//! `NextMarker` while `Truncated`, the request's `Limit` on every page.

mod support;

use std::pin::pin;

use bytes::Bytes;
use http_body_util::Full;
use tower::ServiceExt;
use tower_kms::model::{
    AliasListEntry, KeyListEntry, ListAliasesRequest, ListAliasesResponse, ListKeysRequest,
    ListKeysResponse,
};
use tower_kms::paginate::Paginator;
use tower_kms::{KmsClient, KmsError};
use tower_test::mock;

fn key(id: &str) -> KeyListEntry {
    KeyListEntry::builder().key_id(id).build()
}

#[tokio::test]
async fn three_pages_with_a_limit_over_a_tower_test_mock() {
    let (svc, mut handle) = mock::pair::<ListKeysRequest, ListKeysResponse>();
    let svc = svc.map_err(KmsError::from_box);
    let req = ListKeysRequest::builder().limit(2).build().unwrap();
    let server = tokio::spawn(async move {
        let pages = [
            (None, vec!["k1", "k2"], Some("m1")),
            (Some("m1"), vec!["k3", "k4"], Some("m2")),
            (Some("m2"), vec!["k5"], None),
        ];
        for (marker, keys, next) in pages {
            let (req, send) = handle.next_request().await.expect("a page request");
            assert_eq!(req.limit(), Some(2), "the Limit goes with every page");
            assert_eq!(req.marker(), marker);
            let mut page = ListKeysResponse::builder().set_truncated(Some(next.is_some()));
            for k in keys {
                page = page.key(key(k));
            }
            if let Some(n) = next {
                page = page.next_marker(n);
            }
            send.send_response(page.build());
        }
        // No fourth call.
        assert!(handle.next_request().await.is_none());
    });
    let mut ids = Vec::new();
    {
        // The paginator (and the mock service in it) is dropped at the end of
        // this block, which ends the mock's request stream.
        let mut items = pin!(Paginator::new(svc, req).items());
        while let Some(k) = items.as_mut().next().await {
            ids.push(k.unwrap().key_id.unwrap());
        }
    }
    assert_eq!(ids, ["k1", "k2", "k3", "k4", "k5"]);
    tokio::time::timeout(std::time::Duration::from_secs(10), server)
        .await
        .expect("the mock saw no fourth request")
        .unwrap();
}

#[tokio::test]
async fn pages_stop_on_a_missing_or_repeated_marker_and_pass_errors_on() {
    // Truncated without NextMarker: one page, no loop.
    let svc = tower::service_fn(|_req: ListKeysRequest| async {
        Ok::<_, KmsError>(
            ListKeysResponse::builder()
                .key(key("a"))
                .truncated(true)
                .build(),
        )
    });
    let mut pages = pin!(Paginator::new(
        svc,
        ListKeysRequest::builder().build().unwrap()
    ));
    assert!(pages.as_mut().next().await.unwrap().is_ok());
    assert!(pages.as_mut().next().await.is_none());

    // The same marker twice: stops after the second page.
    let svc = tower::service_fn(|_req: ListKeysRequest| async {
        Ok::<_, KmsError>(
            ListKeysResponse::builder()
                .truncated(true)
                .next_marker("same")
                .build(),
        )
    });
    let mut pages = pin!(Paginator::new(
        svc,
        ListKeysRequest::builder().build().unwrap()
    ));
    let mut n = 0;
    while pages.as_mut().next().await.is_some() {
        n += 1;
    }
    assert_eq!(n, 2);

    // An error is an item of the stream, and ends it.
    let svc = tower::service_fn(|_req: ListKeysRequest| async {
        Err::<ListKeysResponse, _>(KmsError::from_service_error(tower_kms::ServiceError::new(
            "InvalidMarkerException",
            http::StatusCode::BAD_REQUEST,
        )))
    });
    let mut items = pin!(Paginator::new(svc, ListKeysRequest::builder().build().unwrap()).items());
    assert!(matches!(
        items.as_mut().next().await,
        Some(Err(KmsError::InvalidMarker(_)))
    ));
    assert!(items.as_mut().next().await.is_none());
}

#[tokio::test]
async fn each_page_goes_through_the_whole_client_stack() {
    // A page that fails with a transient error is retried by the client's retry
    // layer: pages are ordinary calls.
    let (conn, mut handle) =
        mock::pair::<http::Request<Full<Bytes>>, http::Response<Full<Bytes>>>();
    let kms = KmsClient::builder()
        .region("us-east-1")
        .credentials_provider(support::credentials())
        .retry_config(
            tower_kms::retry::RetryConfig::standard()
                .with_base(std::time::Duration::from_millis(1)),
        )
        .connector(conn)
        .build()
        .unwrap();
    let server = tokio::spawn(async move {
        let body = |req: &http::Request<Full<Bytes>>| req.body().clone();
        let (req, send) = handle.next_request().await.unwrap();
        assert_eq!(req.headers()["x-amz-target"], "TrentService.ListAliases");
        assert!(req.headers().contains_key("authorization"));
        assert_eq!(support::body_bytes(body(&req)).await, r#"{"Limit":1}"#);
        send.send_response(support::json_response(
            200,
            r#"{"Aliases":[{"AliasName":"alias/a"}],"NextMarker":"m1","Truncated":true}"#,
        ));
        let (_req, send) = handle.next_request().await.unwrap();
        send.send_response(support::json_response(
            500,
            r#"{"__type":"KMSInternalException"}"#,
        ));
        let (req, send) = handle.next_request().await.unwrap();
        assert_eq!(
            support::body_bytes(body(&req)).await,
            r#"{"Limit":1,"Marker":"m1"}"#
        );
        send.send_response(support::json_response(
            200,
            r#"{"Aliases":[{"AliasName":"alias/b"}],"Truncated":false}"#,
        ));
    });
    let req = ListAliasesRequest::builder().limit(1).build().unwrap();
    let mut items = pin!(kms.paginate(req).items());
    let mut names = Vec::new();
    while let Some(a) = items.as_mut().next().await {
        let a: AliasListEntry = a.unwrap();
        names.push(a.alias_name.unwrap());
    }
    assert_eq!(names, ["alias/a", "alias/b"]);
    tokio::time::timeout(std::time::Duration::from_secs(10), server)
        .await
        .expect("the server script ended")
        .unwrap();
    let _ = ListAliasesResponse::default();
}
