//! Nothing runs without credentials; sessions need CSRF on POST and an allowed
//! Origin on the WebSocket; the local token works alone; logins are braked.

mod common;

use std::os::unix::fs::PermissionsExt;

use common::{receive, send, Harness};
use hyper::{header, Method, StatusCode};
use serde_json::json;

const INSTALL: &str =
    r#"{"jsonrpc": "2.0", "method": "package.install", "params": ["bitcoin"], "id": 1}"#;

#[tokio::test]
async fn no_credentials_is_401_and_the_backend_sees_nothing() {
    let h = Harness::start().await;
    let reply = h
        .request(
            Method::POST,
            "/rpc/v1",
            &[("content-type", "application/json")],
            INSTALL,
        )
        .await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
    assert_eq!(reply.json()["error"]["code"], -32006);
    // A notification must not slip through either.
    let reply = h
        .request(
            Method::POST,
            "/rpc/v1",
            &[("content-type", "application/json")],
            r#"{"jsonrpc": "2.0", "method": "package.stop", "params": ["bitcoin"]}"#,
        )
        .await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
    assert_eq!(h.websocket(&[]).await.err(), Some(StatusCode::UNAUTHORIZED));
    assert!(h.backend.calls().is_empty());
}

#[tokio::test]
async fn wrong_bearer_token_is_401() {
    let h = Harness::start().await;
    let reply = h
        .request(
            Method::POST,
            "/rpc/v1",
            &[
                ("authorization", "Bearer 0000"),
                ("content-type", "application/json"),
            ],
            INSTALL,
        )
        .await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
    assert!(h.backend.calls().is_empty());
}

#[tokio::test]
async fn token_file_is_owner_only_and_its_value_works_as_bearer() {
    let h = Harness::start().await;
    assert_eq!(
        h.gateway.token_file,
        archy_rpc::token_file_path(h.state_dir.path())
    );
    let mode = std::fs::metadata(&h.gateway.token_file)
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
    assert_eq!(h.token.len(), 64);
    let response = h.rpc_raw(INSTALL).await.json();
    assert_eq!(response["result"]["op"], "install");
}

#[tokio::test]
async fn each_start_writes_a_fresh_token() {
    let first = Harness::start().await;
    let second =
        Harness::start_with(|config| config.state_dir = first.state_dir.path().into()).await;
    let on_disk = std::fs::read_to_string(&first.gateway.token_file).unwrap();
    assert_eq!(on_disk, second.token);
    assert_ne!(first.token, second.token);
}

#[tokio::test]
async fn first_run_setup_sets_the_password_once() {
    let h = Harness::start().await;
    let session = h.get("/auth/session").await.json();
    assert_eq!(
        session,
        json!({"password_set": false, "logged_in": false, "csrf_token": null})
    );
    assert_eq!(
        h.login("anything at all").await.status,
        StatusCode::CONFLICT
    );
    assert_eq!(
        h.setup_password("short").await.status,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        h.setup_password("correct horse").await.status,
        StatusCode::OK
    );
    assert_eq!(
        h.setup_password("attacker's choice").await.status,
        StatusCode::CONFLICT
    );
    assert_eq!(
        h.login("attacker's choice").await.status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(h.login("correct horse").await.status, StatusCode::OK);
    let mode = std::fs::metadata(archy_rpc::password_file_path(h.state_dir.path()))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
}

#[tokio::test]
async fn login_sets_an_httponly_strict_cookie_and_returns_a_csrf_token() {
    let h = Harness::start().await;
    h.setup_password("correct horse").await;
    let reply = h.login("correct horse").await;
    let cookie = reply.headers[header::SET_COOKIE].to_str().unwrap();
    assert!(cookie.starts_with("archy_session="), "{cookie}");
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"),
        "{cookie}"
    );
    assert_eq!(reply.json()["csrf_token"].as_str().map(str::len), Some(64));
}

#[tokio::test]
async fn session_post_needs_the_matching_csrf_token() {
    let h = Harness::start().await;
    let (cookie, csrf) = h.logged_in_session().await;
    let post = |csrf: Option<String>| {
        let cookie = cookie.clone();
        let h = &h;
        async move {
            let mut headers = vec![
                ("cookie", cookie.as_str()),
                ("content-type", "application/json"),
            ];
            headers.extend(csrf.as_deref().map(|csrf| ("x-csrf-token", csrf)));
            h.request(Method::POST, "/rpc/v1", &headers, INSTALL).await
        }
    };
    assert_eq!(post(None).await.status, StatusCode::FORBIDDEN);
    assert_eq!(
        post(Some("wrong".into())).await.status,
        StatusCode::FORBIDDEN
    );
    assert!(h.backend.calls().is_empty());
    let reply = post(Some(csrf.clone())).await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.json()["result"]["op"], "install");
    let session = h
        .request(Method::GET, "/auth/session", &[("cookie", &cookie)], "")
        .await
        .json();
    assert_eq!(
        session,
        json!({"password_set": true, "logged_in": true, "csrf_token": csrf})
    );
}

#[tokio::test]
async fn websocket_with_a_session_needs_an_allowed_origin() {
    let h = Harness::start_with(|config| {
        config.allowed_origins = vec!["http://archy.local:8420/".into()];
    })
    .await;
    let (cookie, _) = h.logged_in_session().await;
    let refused = |origin: Option<&'static str>| {
        let cookie = cookie.clone();
        let h = &h;
        async move {
            let mut headers = vec![("cookie", cookie.as_str())];
            headers.extend(origin.map(|origin| ("origin", origin)));
            h.websocket(&headers).await.err()
        }
    };
    assert_eq!(refused(None).await, Some(StatusCode::FORBIDDEN));
    assert_eq!(
        refused(Some("http://evil.example")).await,
        Some(StatusCode::FORBIDDEN)
    );
    assert_eq!(refused(Some("http://ARCHY.local:8420")).await, None);
    let origin = h.origin();
    assert!(h
        .websocket(&[("cookie", &cookie), ("origin", &origin)])
        .await
        .is_ok());
}

#[tokio::test]
async fn auth_posts_from_a_foreign_origin_are_refused() {
    let h = Harness::start().await;
    let body = json!({"password": "correct horse"}).to_string();
    let reply = h
        .request(
            Method::POST,
            "/auth/setup",
            &[
                ("content-type", "application/json"),
                ("origin", "http://evil.example"),
            ],
            body,
        )
        .await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN);
    assert_eq!(h.get("/auth/session").await.json()["password_set"], false);
}

#[tokio::test]
async fn five_wrong_passwords_then_429_even_for_the_right_one() {
    let h = Harness::start().await;
    h.setup_password("correct horse").await;
    for _ in 0..5 {
        assert_eq!(h.login("guess").await.status, StatusCode::UNAUTHORIZED);
    }
    let reply = h.login("correct horse").await;
    assert_eq!(reply.status, StatusCode::TOO_MANY_REQUESTS);
    let retry_after: u64 = reply.headers[header::RETRY_AFTER]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&retry_after), "{retry_after}");
}

#[tokio::test]
async fn logout_invalidates_the_session_and_closes_its_websockets() {
    let h = Harness::start().await;
    let (cookie, csrf) = h.logged_in_session().await;
    let origin = h.origin();
    let mut socket = h
        .websocket(&[("cookie", &cookie), ("origin", &origin)])
        .await
        .unwrap();
    send(
        &mut socket,
        json!({"jsonrpc": "2.0", "method": "registry.list", "id": 1}),
    )
    .await;
    assert_eq!(receive(&mut socket).await.unwrap()["id"], 1);

    let without_csrf = h
        .request(Method::POST, "/auth/logout", &[("cookie", &cookie)], "")
        .await;
    assert_eq!(without_csrf.status, StatusCode::FORBIDDEN);
    let reply = h
        .request(
            Method::POST,
            "/auth/logout",
            &[("cookie", &cookie), ("x-csrf-token", &csrf)],
            "",
        )
        .await;
    assert_eq!(reply.status, StatusCode::NO_CONTENT);
    assert!(reply.headers[header::SET_COOKIE]
        .to_str()
        .unwrap()
        .contains("Max-Age=0"));

    assert_eq!(
        receive(&mut socket).await,
        None,
        "the socket stays open after logout"
    );
    let after = h
        .request(
            Method::POST,
            "/rpc/v1",
            &[
                ("cookie", &cookie),
                ("x-csrf-token", &csrf),
                ("content-type", "application/json"),
            ],
            INSTALL,
        )
        .await;
    assert_eq!(after.status, StatusCode::UNAUTHORIZED);
    assert_eq!(h.backend.calls(), ["registry"]);
}

#[tokio::test]
async fn bearer_token_opens_the_websocket_without_origin() {
    let h = Harness::start().await;
    let bearer = h.bearer();
    let mut socket = h.websocket(&[("authorization", &bearer)]).await.unwrap();
    send(
        &mut socket,
        json!({"jsonrpc": "2.0", "method": "system.info", "id": "a"}),
    )
    .await;
    assert_eq!(
        receive(&mut socket).await.unwrap()["result"]["uptime_secs"],
        12
    );
}

#[tokio::test]
async fn password_store_replaces_the_password_for_archy_passwd() {
    let dir = tempfile::tempdir().unwrap();
    let store = archy_rpc::PasswordStore::new(dir.path());
    assert!(!store.is_set().unwrap());
    assert!(!store.verify("anything").unwrap());
    store.set_password("first password").unwrap();
    store.set_password("second password").unwrap();
    assert!(store.is_set().unwrap());
    assert!(!store.verify("first password").unwrap());
    assert!(store.verify("second password").unwrap());
    assert!(matches!(
        store.set_password("1234567"),
        Err(archy_rpc::AuthError::PasswordTooShort { min: 8 })
    ));
}

#[tokio::test]
async fn default_listen_address_is_loopback() {
    let config = archy_rpc::GatewayConfig::new("/var/lib/archy");
    assert!(config.listen.ip().is_loopback());
    assert_eq!(config.limits.max_body_bytes, 1024 * 1024);
    assert_eq!(config.limits.max_batch, 32);
}
