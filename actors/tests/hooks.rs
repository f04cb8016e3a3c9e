//! post_install hooks: run once after a fresh create (never on adoption or
//! restart), results journalled, a failure fails the install.

mod app_support;

use std::fs;

use app_support::*;
use archy_actors::app::{ask, AppMsg, AppState};
use archy_apps::Manifest;
use archy_runtime::mock::Op;
use archy_runtime::ExecOutput;

/// A two-member stack whose hook runs in `db` (not the first member when
/// `member` says so).
fn shop(h: &Harness, id: &str, member: Option<&str>, timeout_secs: u64) -> Manifest {
    h.mock
        .add_image(&image_of("db"))
        .add_image(&image_of("web"));
    let member = member.map_or(String::new(), |m| format!("member: {m}, "));
    manifest(&format!(
        r#"
id: {id}
name: Shop
version: "1"
hooks:
  post_install:
    - {{ {member}cmd: [sh, -c, "create schema"], timeout_secs: {timeout_secs} }}
stack:
  - {{ name: web, image: {} }}
  - {{ name: db, image: {}, volumes: [{{ data: db, target: /db }}] }}
"#,
        image_of("web"),
        image_of("db"),
    ))
}

fn journal_reasons(h: &Harness, app: &str) -> Vec<String> {
    h.env
        .journal
        .recent(Some(app), None, 1000)
        .into_iter()
        .map(|e| e.reason)
        .collect()
}

#[tokio::test(start_paused = true)]
async fn a_post_install_hook_runs_once_after_a_fresh_create_and_is_journalled() {
    let h = Harness::new();
    let m = shop(&h, "hooked", Some("db"), 30);
    h.mock.set_exec_output(
        "archy-hooked-db",
        ExecOutput {
            exit_code: 0,
            output: "schema created\n".into(),
        },
    );
    let actor = h.installed(&m).await;
    assert_eq!(h.mock.calls(Op::Exec), 1);
    let reasons = journal_reasons(&h, "hooked");
    assert!(
        reasons
            .iter()
            .any(|r| r.contains("post_install hook `sh -c create schema`")
                && r.contains("archy-hooked-db")
                && r.contains("exited with code 0: schema created")),
        "{reasons:?}"
    );

    ask(&actor, "hooked", |reply| AppMsg::Restart { reply })
        .await
        .unwrap();
    stop(&actor, "hooked").await.unwrap();
    start(&actor, "hooked").await.unwrap();
    // Installing again over the running containers adopts them.
    install(&actor, "hooked").await.unwrap();
    assert_eq!(h.mock.calls(Op::Exec), 1);
}

#[tokio::test(start_paused = true)]
async fn an_actor_restarted_on_existing_containers_adopts_them_without_hooks() {
    let h = Harness::new();
    let m = shop(&h, "adopted", None, 30);
    let first = h.installed(&m).await;
    assert_eq!(h.mock.calls(Op::Exec), 1);
    first.kill_and_wait(None).await.unwrap();
    let second = h.spawn(&m).await;
    h.until("adopted", |s| *s == AppState::Running).await;
    assert_eq!(status(&second).await.state, AppState::Running);
    assert_eq!(h.mock.calls(Op::Exec), 1);
}

#[tokio::test(start_paused = true)]
async fn a_hook_without_member_runs_in_the_first_member() {
    let h = Harness::new();
    let m = shop(&h, "firstmember", None, 30);
    h.mock.set_exec_output(
        "archy-firstmember-web",
        ExecOutput {
            exit_code: 0,
            output: "in web".into(),
        },
    );
    h.installed(&m).await;
    assert!(journal_reasons(&h, "firstmember")
        .iter()
        .any(|r| r.contains("archy-firstmember-web exited with code 0: in web")));
}

#[tokio::test(start_paused = true)]
async fn a_failing_hook_fails_the_install_with_its_output_and_keeps_the_data() {
    let h = Harness::new();
    let m = shop(&h, "failing", Some("db"), 30);
    h.mock.set_exec_output(
        "archy-failing-db",
        ExecOutput {
            exit_code: 3,
            output: "relation exists\n".into(),
        },
    );
    let actor = h.spawn(&m).await;
    fs::create_dir_all(h.env.data_root("failing").join("db")).unwrap();
    fs::write(h.env.data_root("failing").join("db/keep"), "x").unwrap();

    let error = install(&actor, "failing").await.unwrap_err().to_string();
    assert!(
        error.contains("exited with code 3: relation exists"),
        "{error}"
    );
    let state = h.state("failing").unwrap();
    assert!(
        matches!(&state, AppState::Failed { reason } if reason.contains("relation exists")),
        "{state:?}"
    );
    assert_eq!(h.mock.container_names(), Vec::<String>::new());
    assert!(h.env.data_root("failing").join("db/keep").exists());
    assert!(journal_reasons(&h, "failing")
        .iter()
        .any(|r| r.contains("exited with code 3")));

    // Fixed: the next install creates afresh, so the hook runs again.
    h.mock.clear_faults_for("archy-failing-db");
    install(&actor, "failing").await.unwrap();
    assert_eq!(h.mock.calls(Op::Exec), 2);
}

#[tokio::test(start_paused = true)]
async fn a_hook_that_hangs_fails_the_install_after_its_timeout() {
    let h = Harness::new();
    let m = shop(&h, "hanging", Some("db"), 7);
    h.mock.hold(Op::Exec);
    let actor = h.spawn(&m).await;
    let started = tokio::time::Instant::now();
    let error = install(&actor, "hanging").await.unwrap_err().to_string();
    assert!(error.contains("did not finish within 7 s"), "{error}");
    // The verify window (5 s) then the hook's 7 s.
    assert_eq!(started.elapsed().as_secs(), 12);
    assert_eq!(h.mock.container_names(), Vec::<String>::new());
}

#[tokio::test(start_paused = true)]
async fn a_hook_echoing_the_apps_secret_is_journalled_masked() {
    let h = Harness::new();
    h.mock.add_image(&image_of("echoer"));
    let m = manifest(&format!(
        "id: echoer\nname: E\nversion: \"1\"\n\
         generated_secrets: [{{ name: pw, kind: alnum }}]\n\
         hooks: {{ post_install: [{{ cmd: [cat, /conf] }}] }}\n\
         container: {{ image: {} }}\n",
        image_of("echoer")
    ));
    // Kept from an earlier install: its value is known to the test.
    let secrets = h.state_dir.root().join("secrets/echoer");
    fs::create_dir_all(&secrets).unwrap();
    fs::write(secrets.join("pw"), "Zx81Spectrum").unwrap();
    h.mock.set_exec_output(
        "archy-echoer",
        ExecOutput {
            exit_code: 0,
            output: "password=Zx81Spectrum\n".into(),
        },
    );
    h.installed(&m).await;
    let reasons = journal_reasons(&h, "echoer");
    assert!(
        reasons.iter().any(|r| r.ends_with("password=<redacted>")),
        "{reasons:?}"
    );
    assert!(reasons.iter().all(|r| !r.contains("Zx81Spectrum")));
}
