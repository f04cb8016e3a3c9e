//! `archy` talking to a gateway: tables, JSON, auth, errors and exit codes,
//! and `--wait` following an operation to its end.

mod cli_support;

use archy_rpc::token_file_path;
use archy_rpc::AppState::{Absent, Running, Stopped};
use cli_support::{archy, Daemon};
use serde_json::json;

#[tokio::test]
async fn ps_lists_installed_apps_first_in_a_table() {
    let daemon =
        Daemon::start(&[("alpha", Absent), ("demo-web", Running), ("zeta", Stopped)]).await;
    let run = daemon.archy(&["ps"]).await;
    run.assert_code(0);
    let lines: Vec<&str> = run.stdout.lines().collect();
    assert_eq!(
        lines,
        [
            "APP       STATE              HEALTH   PORTS            RESTARTS  REASON",
            "demo-web  running            healthy  18080->8080/tcp  1         started by user",
            "zeta      stopped (by user)  unknown  -                1         started by user",
            "alpha     absent             unknown  -                1",
        ]
    );
}

#[tokio::test]
async fn ps_warns_that_states_are_the_last_known_when_the_engine_is_down() {
    let daemon = Daemon::start(&[("demo-web", Running)]).await;
    daemon
        .backend
        .engine_reachable
        .store(false, std::sync::atomic::Ordering::Relaxed);
    let run = daemon.archy(&["ps"]).await;
    run.assert_code(0);
    assert!(
        run.stderr.contains("engine does not answer"),
        "{}",
        run.stderr
    );
    assert!(run.stdout.contains("demo-web"), "{}", run.stdout);
}

#[tokio::test]
async fn ps_with_nothing_installed_says_how_to_install() {
    let daemon = Daemon::start(&[]).await;
    let run = daemon.archy(&["ps"]).await;
    run.assert_code(0);
    assert_eq!(
        run.stdout,
        "no apps installed; `archy install <id>` installs one from the catalog\n"
    );
}

#[tokio::test]
async fn ps_json_is_the_container_list_for_scripts() {
    let daemon = Daemon::start(&[("demo-web", Running)]).await;
    let run = daemon.archy(&["ps", "--json"]).await;
    run.assert_code(0);
    let list = run.json();
    assert_eq!(list["engine_reachable"], true);
    assert_eq!(list["apps"][0]["id"], "demo-web");
    assert_eq!(list["apps"][0]["state"], "running");
    assert_eq!(list["apps"][0]["ports"][0]["host"], 18080);
}

#[tokio::test]
async fn the_token_comes_from_the_state_dir_and_a_wrong_one_is_refused_with_exit_4() {
    let daemon = Daemon::start(&[("demo-web", Running)]).await;
    daemon.archy(&["ps"]).await.assert_code(0);
    assert_eq!(daemon.backend.calls(), ["list"]);

    let elsewhere = tempfile::tempdir().unwrap();
    let token = token_file_path(elsewhere.path());
    std::fs::create_dir_all(token.parent().unwrap()).unwrap();
    std::fs::write(&token, "not-the-token").unwrap();
    let url = daemon.url();
    let state = elsewhere.path().to_str().unwrap();
    let run = archy(&["--url", &url, "--state-dir", state, "ps"], None).await;
    run.assert_code(4);
    assert!(run.stderr.contains("does not match"), "{}", run.stderr);
    assert_eq!(
        daemon.backend.calls(),
        ["list"],
        "a refused call reached the backend"
    );
}

#[tokio::test]
async fn an_unreadable_token_names_its_path_and_the_user_to_run_as() {
    let daemon = Daemon::start(&[]).await;
    let elsewhere = tempfile::tempdir().unwrap();
    // A directory where the file should be: unreadable even for root.
    let token = token_file_path(elsewhere.path());
    std::fs::create_dir_all(&token).unwrap();
    let url = daemon.url();
    let state = elsewhere.path().to_str().unwrap();
    let run = archy(&["--url", &url, "--state-dir", state, "ps"], None).await;
    run.assert_code(4);
    assert!(
        run.stderr.contains(token.to_str().unwrap()),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("daemon's user"), "{}", run.stderr);
}

#[tokio::test]
async fn no_daemon_means_exit_3_and_how_to_start_one() {
    // A port that was just free: nothing listens there any more.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("http://127.0.0.1:{port}");
    let state = tempfile::tempdir().unwrap();
    let run = archy(
        &[
            "--url",
            &url,
            "--state-dir",
            state.path().to_str().unwrap(),
            "ps",
        ],
        None,
    )
    .await;
    run.assert_code(3);
    assert_eq!(
        run.stderr.trim(),
        format!(
            "archy: no Archy daemon answers at {url}; start it with `archy serve` or `just run`"
        )
    );
}

#[tokio::test]
async fn usage_errors_exit_2_and_help_documents_the_exit_codes() {
    let run = archy(&["install"], None).await;
    run.assert_code(2);
    let help = archy(&["--help"], None).await;
    help.assert_code(0);
    assert!(
        help.stdout.contains("3  no daemon answers at --url"),
        "{}",
        help.stdout
    );
}

#[tokio::test]
async fn an_unknown_app_is_refused_with_the_daemons_reason_and_exit_1() {
    let daemon = Daemon::start(&[("demo-web", Running)]).await;
    let run = daemon.archy(&["start", "ghost"]).await;
    run.assert_code(1);
    assert_eq!(
        run.stderr.trim(),
        "archy: no app named ghost; see registry.list"
    );
}

#[tokio::test]
async fn install_without_wait_returns_once_accepted() {
    let daemon = Daemon::start(&[("demo-web", Absent)]).await;
    let run = daemon.archy(&["install", "demo-web", "--json"]).await;
    run.assert_code(0);
    assert_eq!(
        run.json(),
        json!({"op_id": "op-1", "app": "demo-web", "op": "install"})
    );
}

#[tokio::test]
async fn install_wait_follows_each_transition_to_running() {
    let daemon = Daemon::start(&[("demo-web", Absent)]).await;
    let run = daemon.archy(&["install", "demo-web", "--wait"]).await;
    run.assert_code(0);
    let lines: Vec<&str> = run.stdout.lines().collect();
    assert_eq!(lines[0], "install demo-web: accepted (operation op-1)");
    assert!(
        lines[1].ends_with(" demo-web absent -> installing: install requested by user"),
        "{}",
        lines[1]
    );
    assert!(
        lines[2].ends_with(" demo-web installing -> running: verified running"),
        "{}",
        lines[2]
    );
    assert_eq!(lines[3], "demo-web is running");
    assert_eq!(lines.len(), 4);
}

#[tokio::test]
async fn install_wait_exits_1_with_the_reason_when_the_app_fails() {
    let daemon = Daemon::start(&[("broken", Absent)]).await;
    let run = daemon.archy(&["install", "broken", "--wait"]).await;
    run.assert_code(1);
    assert!(
        run.stdout.contains("installing -> failed"),
        "{}",
        run.stdout
    );
    assert_eq!(
        run.stderr.trim(),
        "archy: broken failed: pull failed: no registry answers for docker.io/broken"
    );
}

#[tokio::test]
async fn start_wait_exits_1_when_a_stopped_dependency_blocks_the_app() {
    let daemon = Daemon::start(&[("needs-db", Stopped)]).await;
    let run = daemon.archy(&["start", "needs-db", "--wait"]).await;
    run.assert_code(1);
    assert!(run.stdout.contains("starting -> blocked"), "{}", run.stdout);
    assert_eq!(
        run.stderr.trim(),
        "archy: needs-db is blocked: dependency db is stopped; start it first"
    );
}

#[tokio::test]
async fn wait_on_an_app_already_in_the_target_state_returns_at_once() {
    let daemon = Daemon::start(&[("demo-web", Running)]).await;
    let run = daemon.archy(&["start", "demo-web", "--wait"]).await;
    run.assert_code(0);
    assert!(
        run.stdout.ends_with("demo-web is running\n"),
        "{}",
        run.stdout
    );
}

#[tokio::test]
async fn stop_and_uninstall_purge_wait_for_stopped_then_absent() {
    let daemon = Daemon::start(&[("demo-web", Running)]).await;
    daemon
        .archy(&["stop", "demo-web", "--wait"])
        .await
        .assert_code(0);
    assert_eq!(daemon.backend.state("demo-web"), Stopped);
    let run = daemon
        .archy(&["uninstall", "demo-web", "--purge", "--wait", "--json"])
        .await;
    run.assert_code(0);
    let pushed: Vec<serde_json::Value> = run
        .stdout
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    assert_eq!(pushed[0]["op"], "uninstall");
    assert_eq!(pushed.last().unwrap()["transition"]["to"], "absent");
    assert!(daemon
        .backend
        .calls()
        .contains(&r#"submit {"op":"uninstall","app":"demo-web","purge":true}"#.to_string()));
}

#[tokio::test]
async fn restart_wait_follows_through_restarting_back_to_running() {
    let daemon = Daemon::start(&[("demo-web", Running)]).await;
    let run = daemon.archy(&["restart", "demo-web", "--wait"]).await;
    run.assert_code(0);
    assert!(
        run.stdout.contains("running -> restarting"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains("restarting -> running"),
        "{}",
        run.stdout
    );
}

#[tokio::test]
async fn logs_prints_the_requested_tail() {
    let daemon = Daemon::start(&[("demo-web", Running)]).await;
    let run = daemon.archy(&["logs", "demo-web", "--tail", "3"]).await;
    run.assert_code(0);
    assert_eq!(
        run.stdout,
        "demo-web line 1\ndemo-web line 2\ndemo-web line 3\n"
    );
}

#[tokio::test]
async fn events_prints_the_journal_of_one_app() {
    let daemon = Daemon::start(&[("demo-web", Running), ("lnd", Running)]).await;
    daemon.backend.transition("lnd", Stopped, "stopped by user");
    daemon
        .backend
        .transition("demo-web", Stopped, "stopped by user");
    let run = daemon.archy(&["events", "demo-web"]).await;
    run.assert_code(0);
    let lines: Vec<&str> = run.stdout.lines().collect();
    assert_eq!(lines.len(), 1, "{}", run.stdout);
    assert!(lines[0].ends_with(" demo-web running -> stopped: stopped by user"));
}

#[tokio::test]
async fn events_follow_prints_history_then_what_happens_next() {
    use tokio::io::{AsyncBufReadExt, BufReader};
    let daemon = Daemon::start(&[("demo-web", Running)]).await;
    daemon
        .backend
        .transition("demo-web", Stopped, "stopped by user");
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_archy"))
        .args(["--url", &daemon.url(), "--state-dir"])
        .arg(daemon.state_dir.path())
        .args(["events", "--follow", "--json"])
        .stdout(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    assert_eq!(next_json(&mut lines).await["seq"], 1);
    // The history is printed after the subscription is open: what comes now is pushed.
    daemon
        .backend
        .transition("demo-web", Running, "started by user");
    let pushed = next_json(&mut lines).await;
    assert_eq!(pushed["seq"], 2);
    assert_eq!(pushed["transition"]["to"], "running");
    child.kill().await.unwrap();
}

async fn next_json(
    lines: &mut tokio::io::Lines<tokio::io::BufReader<tokio::process::ChildStdout>>,
) -> serde_json::Value {
    let line = tokio::time::timeout(std::time::Duration::from_secs(30), lines.next_line())
        .await
        .expect("no event line within 30 s")
        .unwrap()
        .expect("archy ended");
    serde_json::from_str(&line).unwrap()
}
