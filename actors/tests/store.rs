//! Archy's persisted state: atomic writes, quarantine of damaged files, the
//! restart tracker, the journal and crash recovery.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use archy_actors::store::{
    read_json, temp_path_for, write_atomic, write_atomic_with_mode, write_json, BootKind,
    DesiredApp, DesiredStore, Journal, JournalConfig, PidFile, RestartDecision, RestartPolicy,
    RestartTracker, Snapshot, SnapshotApp, StateDir, StoreError, Transition,
};
use serde::{Deserialize, Serialize};
use tempfile::TempDir;

fn at(secs: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(secs)
}

fn mode_of(path: &Path) -> u32 {
    fs::metadata(path).unwrap().permissions().mode() & 0o777
}

fn names_in(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(dir)
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

fn quarantined_in(dir: &Path, name: &str) -> Vec<String> {
    let prefix = format!("{name}.corrupt-");
    names_in(dir)
        .into_iter()
        .filter(|n| {
            n.strip_prefix(&prefix)
                .is_some_and(|ts| ts.parse::<u64>().is_ok())
        })
        .collect()
}

#[derive(Debug, PartialEq, Serialize, Deserialize)]
struct Sample {
    value: u32,
}

// ---- atomic writes -------------------------------------------------------

#[test]
fn atomic_write_replaces_contents_and_leaves_no_temp_file() {
    let dir = TempDir::new().unwrap();
    let path = dir.path().join("state.json");
    write_atomic(&path, b"first").unwrap();
    write_atomic(&path, b"second").unwrap();
    assert_eq!(fs::read(&path).unwrap(), b"second");
    assert_eq!(names_in(dir.path()), vec!["state.json"]);
}

#[test]
fn failed_write_keeps_the_previous_file_and_names_the_path() {
    let dir = TempDir::new().unwrap();
    let path = dir.path().join("state.json");
    write_json(&path, &Sample { value: 1 }).unwrap();
    // An unwritable temp (a directory in its place) fails the write midway,
    // as a full disk would; root ignores read-only modes, so this is the
    // failure every user can provoke.
    fs::create_dir(temp_path_for(&path)).unwrap();

    let error = write_json(&path, &Sample { value: 2 }).unwrap_err();

    assert!(
        matches!(&error, StoreError::Io { path: p, .. } if p == &path),
        "{error}"
    );
    assert!(error.to_string().contains("state.json"), "{error}");
    assert_eq!(
        read_json::<Sample>(&path).unwrap(),
        Some(Sample { value: 1 })
    );
}

#[test]
fn temp_left_by_a_crash_neither_hides_the_good_file_nor_blocks_the_next_write() {
    let dir = TempDir::new().unwrap();
    let path = dir.path().join("state.json");
    write_json(&path, &Sample { value: 1 }).unwrap();
    fs::write(temp_path_for(&path), b"{\"value\": 2").unwrap(); // died mid-write

    assert_eq!(
        read_json::<Sample>(&path).unwrap(),
        Some(Sample { value: 1 })
    );
    write_json(&path, &Sample { value: 3 }).unwrap();
    assert_eq!(
        read_json::<Sample>(&path).unwrap(),
        Some(Sample { value: 3 })
    );
    assert_eq!(names_in(dir.path()), vec!["state.json"]);
}

#[test]
fn atomic_write_creates_private_dirs_and_files() {
    let dir = TempDir::new().unwrap();
    let path = dir.path().join("a/b/state.json");
    write_atomic(&path, b"x").unwrap();
    assert_eq!(mode_of(&path), 0o600);
    assert_eq!(mode_of(&dir.path().join("a")), 0o700);
    assert_eq!(mode_of(&dir.path().join("a/b")), 0o700);
}

#[test]
fn atomic_write_sets_the_requested_mode_exactly_even_over_a_stale_temp() {
    let dir = TempDir::new().unwrap();
    let path = dir.path().join("public.conf");
    let temp = temp_path_for(&path);
    fs::write(&temp, b"stale").unwrap();
    fs::set_permissions(&temp, fs::Permissions::from_mode(0o666)).unwrap();

    write_atomic_with_mode(&path, b"x", 0o644).unwrap();
    assert_eq!(mode_of(&path), 0o644);
    write_atomic(&path, b"y").unwrap();
    assert_eq!(mode_of(&path), 0o600);
}

#[test]
fn missing_json_reads_as_none() {
    let dir = TempDir::new().unwrap();
    assert_eq!(
        read_json::<Sample>(&dir.path().join("absent.json")).unwrap(),
        None
    );
}

#[test]
fn corrupt_json_is_quarantined_and_reads_as_none() {
    let dir = TempDir::new().unwrap();
    let path = dir.path().join("state.json");
    fs::write(&path, b"{\"value\": ").unwrap();

    assert_eq!(read_json::<Sample>(&path).unwrap(), None);
    assert!(!path.exists());
    let moved = quarantined_in(dir.path(), "state.json");
    assert_eq!(moved.len(), 1, "{:?}", names_in(dir.path()));
    assert_eq!(
        fs::read(dir.path().join(&moved[0])).unwrap(),
        b"{\"value\": "
    );
}

#[test]
fn state_dir_is_created_private_and_an_existing_one_is_narrowed() {
    let dir = TempDir::new().unwrap();
    let root = dir.path().join("state");
    StateDir::open(&root).unwrap();
    assert_eq!(mode_of(&root), 0o700);
    fs::set_permissions(&root, fs::Permissions::from_mode(0o755)).unwrap();
    StateDir::open(&root).unwrap();
    assert_eq!(mode_of(&root), 0o700);
}

// ---- desired state -------------------------------------------------------

fn desired(app_id: &str, user_stopped: bool) -> DesiredApp {
    DesiredApp {
        app_id: app_id.to_owned(),
        installed: true,
        user_stopped,
        manifest_hash: format!("hash-{app_id}"),
        installed_at: 1_700_000_000,
    }
}

#[test]
fn desired_apps_round_trip_one_file_each() {
    let dir = TempDir::new().unwrap();
    let state = StateDir::open(dir.path()).unwrap();
    let store = state.desired();
    store.save(&desired("lnd", false)).unwrap();
    store.save(&desired("bitcoin", true)).unwrap();

    let loaded = store.load_all().unwrap();
    assert_eq!(
        loaded.apps,
        vec![desired("bitcoin", true), desired("lnd", false)]
    );
    assert!(loaded.quarantined.is_empty());
    assert_eq!(
        names_in(&state.apps_dir()),
        vec!["bitcoin.json", "lnd.json"]
    );
    assert_eq!(
        store.load("bitcoin").unwrap(),
        Some(desired("bitcoin", true))
    );
}

#[test]
fn removing_a_desired_app_forgets_it_and_is_idempotent() {
    let dir = TempDir::new().unwrap();
    let store = DesiredStore::new(dir.path().join("apps"));
    store.save(&desired("lnd", false)).unwrap();
    store.remove("lnd").unwrap();
    store.remove("lnd").unwrap();
    assert_eq!(store.load("lnd").unwrap(), None);
    assert!(store.load_all().unwrap().apps.is_empty());
}

#[test]
fn desired_load_all_without_a_dir_is_empty() {
    let dir = TempDir::new().unwrap();
    let store = DesiredStore::new(dir.path().join("never-created"));
    assert_eq!(store.load_all().unwrap(), Default::default());
}

#[test]
fn corrupt_desired_file_is_quarantined_and_reported_while_the_rest_load() {
    let dir = TempDir::new().unwrap();
    let store = DesiredStore::new(dir.path());
    store.save(&desired("bitcoin", false)).unwrap();
    store.save(&desired("lnd", true)).unwrap();
    fs::write(dir.path().join("mempool.json"), b"\x00\x01garbage").unwrap();

    let loaded = store.load_all().unwrap();
    assert_eq!(
        loaded.apps,
        vec![desired("bitcoin", false), desired("lnd", true)]
    );
    assert_eq!(loaded.quarantined, vec!["mempool"]);
    assert_eq!(quarantined_in(dir.path(), "mempool.json").len(), 1);
    // The quarantined file is not read again as an app.
    assert_eq!(store.load_all().unwrap().quarantined, Vec::<String>::new());
}

#[test]
fn desired_file_naming_another_app_is_quarantined() {
    let dir = TempDir::new().unwrap();
    let store = DesiredStore::new(dir.path());
    write_json(&dir.path().join("lnd.json"), &desired("bitcoin", false)).unwrap();

    let loaded = store.load_all().unwrap();
    assert!(loaded.apps.is_empty());
    assert_eq!(loaded.quarantined, vec!["lnd"]);
}

#[test]
fn app_ids_that_are_not_plain_file_names_are_rejected() {
    let dir = TempDir::new().unwrap();
    let store = DesiredStore::new(dir.path().join("apps"));
    for bad in ["", "../escape", "a/b", ".hidden", "x.json"] {
        let error = store.save(&desired(bad, false)).unwrap_err();
        assert!(
            matches!(error, StoreError::InvalidAppId(ref id) if id == bad),
            "{bad}"
        );
    }
    assert!(!dir.path().join("escape.json").exists());
}

// ---- restart tracker -----------------------------------------------------

fn restart_after(secs: u64) -> RestartDecision {
    RestartDecision::RestartAfter(Duration::from_secs(secs))
}

fn fresh_tracker(policy: RestartPolicy) -> (TempDir, RestartTracker) {
    let dir = TempDir::new().unwrap();
    let tracker = RestartTracker::open(dir.path().join("t.json"), policy).unwrap();
    (dir, tracker)
}

fn tracker_healthy_at_1030_after_two_failures() -> (TempDir, RestartTracker) {
    let (dir, mut tracker) = fresh_tracker(RestartPolicy::default());
    tracker.record_failure("lnd", at(1_000));
    tracker.record_failure("lnd", at(1_010));
    tracker.record_healthy("lnd", at(1_030));
    (dir, tracker)
}

#[test]
fn test_restart_tracker_first_restart_is_immediate_then_backoff_doubles_and_caps() {
    let (_dir, mut tracker) = fresh_tracker(RestartPolicy {
        max_attempts: 8,
        ..RestartPolicy::default()
    });
    let waits: Vec<RestartDecision> = (0..8)
        .map(|i| tracker.record_failure("lnd", at(1_000 + i)))
        .collect();
    let expected: Vec<RestartDecision> = [0, 5, 10, 20, 40, 80, 160, 300]
        .into_iter()
        .map(restart_after)
        .collect();
    assert_eq!(waits, expected);
}

#[test]
fn test_restart_tracker_gives_up_after_max_attempts() {
    let (_dir, mut tracker) = fresh_tracker(RestartPolicy::default());
    for i in 0..5 {
        assert!(matches!(
            tracker.record_failure("lnd", at(1_000 + i)),
            RestartDecision::RestartAfter(_)
        ));
    }
    assert_eq!(
        tracker.record_failure("lnd", at(2_000)),
        RestartDecision::GiveUp { attempts: 5 }
    );
    assert_eq!(
        tracker.record_failure("lnd", at(3_000)),
        RestartDecision::GiveUp { attempts: 5 }
    );
    assert!(tracker.record("lnd").unwrap().gave_up);
    assert_eq!(tracker.restart_due_at("lnd"), None);
    // Other apps keep their own count: bitcoin's first crash heals at once.
    assert_eq!(
        tracker.record_failure("bitcoin", at(3_000)),
        restart_after(0)
    );
}

#[test]
fn an_apps_own_policy_overrides_the_trackers_per_call() {
    let (_dir, mut tracker) = fresh_tracker(RestartPolicy::default());
    let strict = RestartPolicy {
        max_attempts: 2,
        initial_backoff: Duration::from_secs(2),
        max_backoff: Duration::from_secs(3),
        ..RestartPolicy::default()
    };
    let decisions: Vec<_> = (0..3)
        .map(|i| tracker.record_failure_with("lnd", at(1_000 + i), &strict))
        .collect();
    assert_eq!(
        decisions,
        [
            restart_after(0),
            restart_after(2),
            RestartDecision::GiveUp { attempts: 2 }
        ]
    );
    // Another app still gets the tracker's default policy.
    tracker.record_failure("bitcoin", at(1_000));
    assert_eq!(
        tracker.record_failure("bitcoin", at(1_001)),
        restart_after(5)
    );
}

#[test]
fn test_restart_tracker_stability_reset() {
    let (_dir, mut tracker) = tracker_healthy_at_1030_after_two_failures();
    tracker.record_healthy("lnd", at(2_000)); // still the same run

    assert!(!tracker.check_stability("lnd", at(1_030 + 3_599)));
    assert_eq!(tracker.record("lnd").unwrap().attempts, 2);
    assert!(tracker.check_stability("lnd", at(1_030 + 3_600)));
    assert_eq!(tracker.record("lnd").unwrap().attempts, 0);
    assert_eq!(tracker.record_failure("lnd", at(9_000)), restart_after(0));
}

#[test]
fn test_restart_tracker_failure_after_a_stable_hour_starts_a_fresh_window() {
    let (_dir, mut tracker) = tracker_healthy_at_1030_after_two_failures();
    // No check_stability call in between: the failure itself notices.
    assert_eq!(
        tracker.record_failure("lnd", at(1_030 + 3_600)),
        restart_after(0)
    );
}

#[test]
fn test_restart_tracker_failure_within_the_hour_keeps_counting() {
    let (_dir, mut tracker) = fresh_tracker(RestartPolicy::default());
    tracker.record_failure("lnd", at(1_000));
    tracker.record_healthy("lnd", at(1_005));
    assert!(!tracker.check_stability("lnd", at(1_005 + 1_800)));
    assert_eq!(
        tracker.record_failure("lnd", at(1_005 + 1_800)),
        restart_after(5)
    );
    // The failure ended the healthy run: a later check does not reset.
    assert!(!tracker.check_stability("lnd", at(1_005 + 7_200)));
}

#[test]
fn test_restart_tracker_clear_gives_the_user_a_full_set_of_attempts() {
    let (_dir, mut tracker) = fresh_tracker(RestartPolicy::default());
    for i in 0..6 {
        tracker.record_failure("lnd", at(1_000 + i));
    }
    tracker.clear("lnd");
    assert_eq!(tracker.record("lnd"), None);
    assert_eq!(tracker.record_failure("lnd", at(5_000)), restart_after(0));
}

#[test]
fn test_restart_tracker_persistence() {
    let dir = TempDir::new().unwrap();
    let state = StateDir::open(dir.path()).unwrap();
    let mut tracker = state.open_tracker(RestartPolicy::default()).unwrap();
    tracker.record_failure("lnd", at(1_000));
    tracker.record_failure("lnd", at(1_010));
    tracker.record_failure("lnd", at(1_030));
    tracker.save().unwrap();
    assert_eq!(mode_of(&state.tracker_path()), 0o600);
    let before = tracker.record("lnd").cloned();
    drop(tracker);

    let mut reopened = state.open_tracker(RestartPolicy::default()).unwrap();
    assert_eq!(reopened.record("lnd").cloned(), before);
    // A restart that was 10 s away when the daemon died is still due then.
    assert_eq!(reopened.restart_due_at("lnd"), Some(at(1_030 + 10)));
    assert_eq!(reopened.record_failure("lnd", at(1_100)), restart_after(20));
}

#[test]
fn test_restart_tracker_corrupt_file_is_quarantined_and_starts_fresh() {
    let dir = TempDir::new().unwrap();
    let state = StateDir::open(dir.path()).unwrap();
    fs::write(state.tracker_path(), b"{\"apps\": {\"lnd\": 7}}").unwrap();

    let mut tracker = state.open_tracker(RestartPolicy::default()).unwrap();
    assert_eq!(tracker.record("lnd"), None);
    assert_eq!(tracker.record_failure("lnd", at(1_000)), restart_after(0));
    assert_eq!(quarantined_in(dir.path(), "restart-tracker.json").len(), 1);
}

// ---- journal -------------------------------------------------------------

fn transition(app: &str, to_state: &str) -> Transition {
    Transition {
        app: app.to_owned(),
        from_state: "running".to_owned(),
        to_state: to_state.to_owned(),
        reason: format!("test moved {app} to {to_state}"),
    }
}

fn seqs(entries: &[archy_actors::store::JournalEntry]) -> Vec<u64> {
    entries.iter().map(|entry| entry.seq).collect()
}

fn small_ring(capacity: usize) -> JournalConfig {
    JournalConfig {
        capacity,
        ..JournalConfig::default()
    }
}

#[test]
fn journal_ring_keeps_only_the_newest_entries() {
    let dir = TempDir::new().unwrap();
    let journal = Journal::open(dir.path().join("journal.jsonl"), small_ring(3)).unwrap();
    for i in 0..5 {
        journal.append(transition("lnd", "stopped"), at(100 + i));
    }
    let entries = journal.recent(None, None, 10);
    assert_eq!(seqs(&entries), vec![3, 4, 5]);
    assert_eq!(entries[0].at, 102_000);
    assert_eq!(entries[0].reason, "test moved lnd to stopped");
}

#[test]
fn journal_recent_filters_by_app_and_seq_and_keeps_the_newest_within_limit() {
    let dir = TempDir::new().unwrap();
    let journal = Journal::open(dir.path().join("journal.jsonl"), small_ring(100)).unwrap();
    for i in 0..6 {
        let app = if i % 2 == 0 { "lnd" } else { "bitcoin" };
        journal.append(transition(app, "running"), at(100));
    }
    assert_eq!(seqs(&journal.recent(Some("lnd"), None, 10)), vec![1, 3, 5]);
    assert_eq!(seqs(&journal.recent(None, Some(4), 10)), vec![5, 6]);
    assert_eq!(
        seqs(&journal.recent(Some("bitcoin"), Some(2), 10)),
        vec![4, 6]
    );
    assert_eq!(seqs(&journal.recent(None, None, 2)), vec![5, 6]);
    assert!(journal.recent(None, Some(6), 10).is_empty());
}

#[test]
fn journal_seq_continues_after_reopen_and_history_reloads() {
    let dir = TempDir::new().unwrap();
    let state = StateDir::open(dir.path()).unwrap();
    let journal = state.open_journal(small_ring(2)).unwrap();
    for _ in 0..3 {
        journal.append(transition("lnd", "running"), at(100));
    }
    drop(journal);
    assert_eq!(mode_of(&state.journal_path()), 0o600);

    let journal = state.open_journal(small_ring(2)).unwrap();
    assert_eq!(seqs(&journal.recent(None, None, 10)), vec![2, 3]);
    assert_eq!(journal.next_seq(), 4);
    assert_eq!(journal.append(transition("lnd", "stopped"), at(200)).seq, 4);
}

#[test]
fn journal_skips_corrupt_lines_and_a_line_cut_short_by_a_crash() {
    let dir = TempDir::new().unwrap();
    let path = dir.path().join("journal.jsonl");
    let journal = Journal::open(&path, small_ring(100)).unwrap();
    journal.append(transition("lnd", "running"), at(100));
    drop(journal);
    let mut bytes = fs::read(&path).unwrap();
    bytes.extend_from_slice(b"not json at all\n\xff\xfe\n");
    fs::write(&path, &bytes).unwrap();
    let journal = Journal::open(&path, small_ring(100)).unwrap();
    journal.append(transition("lnd", "stopped"), at(200));
    drop(journal);
    // Crash mid-append: the last line has no newline.
    let mut bytes = fs::read(&path).unwrap();
    bytes.extend_from_slice(b"{\"seq\": 3, \"at\"");
    fs::write(&path, &bytes).unwrap();

    let journal = Journal::open(&path, small_ring(100)).unwrap();
    assert_eq!(journal.append(transition("lnd", "running"), at(300)).seq, 3);
    drop(journal);
    let journal = Journal::open(&path, small_ring(100)).unwrap();
    let entries = journal.recent(None, None, 10);
    assert_eq!(seqs(&entries), vec![1, 2, 3]);
    assert_eq!(entries[2].to_state, "running");
}

#[test]
fn journal_rotates_past_the_cap_and_keeps_seq_across_rotation() {
    let dir = TempDir::new().unwrap();
    let path = dir.path().join("journal.jsonl");
    let rotated = dir.path().join("journal.jsonl.1");
    let config = JournalConfig {
        capacity: 100,
        rotate_bytes: 600,
    };
    let journal = Journal::open(&path, config).unwrap();
    for i in 0..20 {
        journal.append(transition("lnd", "running"), at(100 + i));
    }
    drop(journal);
    assert!(rotated.exists());
    assert!(fs::metadata(&path).unwrap().len() <= 600);
    assert!(fs::metadata(&rotated).unwrap().len() <= 600);

    // Reopening reads the rotated file too: history is contiguous.
    let journal = Journal::open(&path, config).unwrap();
    let reloaded = seqs(&journal.recent(None, None, 100));
    assert_eq!(
        reloaded.len(),
        journal_lines(&rotated).len() + journal_lines(&path).len()
    );
    assert_eq!(reloaded.last(), Some(&20));
    assert!(
        reloaded.windows(2).all(|w| w[1] == w[0] + 1),
        "{reloaded:?}"
    );
    // Nothing lost between the files: the current one picks up after the rotated one.
    assert_eq!(
        last_seq_in(&rotated) as usize + journal_lines(&path).len(),
        20
    );
    drop(journal);

    // A crash right after rotating leaves only the rotated file.
    fs::remove_file(&path).unwrap();
    let journal = Journal::open(&path, config).unwrap();
    assert_eq!(journal.next_seq(), last_seq_in(&rotated) + 1);
}

fn journal_lines(path: &Path) -> Vec<String> {
    fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect()
}

fn last_seq_in(path: &Path) -> u64 {
    let last: serde_json::Value =
        serde_json::from_str(journal_lines(path).last().unwrap()).unwrap();
    last["seq"].as_u64().unwrap()
}

// ---- crash recovery ------------------------------------------------------

#[test]
fn first_boot_is_clean_and_a_released_pid_file_makes_the_next_one_clean() {
    let dir = TempDir::new().unwrap();
    let state = StateDir::open(dir.path()).unwrap();
    let (pid_file, boot) = state.acquire_pid_file().unwrap();
    assert_eq!(boot, BootKind::Clean);
    assert_eq!(
        fs::read_to_string(pid_file.path()).unwrap(),
        format!("{}\n", std::process::id())
    );
    assert_eq!(mode_of(pid_file.path()), 0o600);
    pid_file.release().unwrap();

    let (_pid_file, boot) = state.acquire_pid_file().unwrap();
    assert_eq!(boot, BootKind::Clean);
}

#[test]
fn dropping_the_pid_file_without_release_is_seen_as_a_crash() {
    let dir = TempDir::new().unwrap();
    let (pid_file, _) = PidFile::acquire(dir.path()).unwrap();
    drop(pid_file);
    let (_pid_file, boot) = PidFile::acquire(dir.path()).unwrap();
    assert_eq!(
        boot,
        BootKind::Unclean {
            previous_pid: Some(std::process::id())
        }
    );
}

#[test]
fn pid_file_of_a_dead_process_means_an_unclean_boot() {
    let dir = TempDir::new().unwrap();
    let mut child = Command::new("true").spawn().unwrap();
    let dead = child.id();
    child.wait().unwrap();
    fs::write(dir.path().join("archy.pid"), format!("{dead}\n")).unwrap();

    let (_pid_file, boot) = PidFile::acquire(dir.path()).unwrap();
    assert_eq!(
        boot,
        BootKind::Unclean {
            previous_pid: Some(dead)
        }
    );
}

#[test]
fn unreadable_pid_file_means_an_unclean_boot_with_unknown_pid() {
    let dir = TempDir::new().unwrap();
    fs::write(dir.path().join("archy.pid"), b"garbage").unwrap();
    let (_pid_file, boot) = PidFile::acquire(dir.path()).unwrap();
    assert_eq!(boot, BootKind::Unclean { previous_pid: None });
}

/// A live process running `program` under `name`, ended when dropped.
struct LiveProcess(Child);

impl LiveProcess {
    fn start(program: &Path) -> Self {
        // `cat` waits on its open stdin until we kill it.
        let child = Command::new(program)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .spawn()
            .unwrap();
        LiveProcess(child)
    }
}

impl Drop for LiveProcess {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn pid_reused_by_an_unrelated_process_means_an_unclean_boot() {
    let dir = TempDir::new().unwrap();
    let other = LiveProcess::start(Path::new("/bin/cat"));
    fs::write(dir.path().join("archy.pid"), other.0.id().to_string()).unwrap();

    let (_pid_file, boot) = PidFile::acquire(dir.path()).unwrap();
    assert_eq!(
        boot,
        BootKind::Unclean {
            previous_pid: Some(other.0.id())
        }
    );
}

#[test]
fn another_live_archy_owning_the_state_dir_is_refused() {
    let dir = TempDir::new().unwrap();
    // A process with our program name stands in for a running daemon.
    let our_name = fs::read_to_string("/proc/self/comm").unwrap();
    let impostor: PathBuf = dir.path().join(our_name.trim());
    fs::copy("/bin/cat", &impostor).unwrap();
    let daemon = LiveProcess::start(&impostor);
    // Until exec completes, the child still carries the forking test
    // thread's name: wait (bounded) for it to become the impostor.
    let comm = format!("/proc/{}/comm", daemon.0.id());
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while fs::read_to_string(&comm).unwrap_or_default() != our_name {
        assert!(
            std::time::Instant::now() < deadline,
            "impostor never exec'd"
        );
        std::thread::yield_now();
    }
    let pid_path = dir.path().join("archy.pid");
    fs::write(&pid_path, daemon.0.id().to_string()).unwrap();

    let error = PidFile::acquire(dir.path()).unwrap_err();
    assert!(
        matches!(error, StoreError::AlreadyRunning { pid, .. } if pid == daemon.0.id()),
        "{error}"
    );
    assert!(
        error.to_string().contains("another running archy"),
        "{error}"
    );
    assert_eq!(
        fs::read_to_string(&pid_path).unwrap(),
        daemon.0.id().to_string()
    );
}

fn snapshot() -> Snapshot {
    Snapshot {
        taken_at: 1_700_000_000,
        apps: vec![
            SnapshotApp {
                app_id: "bitcoin".to_owned(),
                state: "running".to_owned(),
                container_id: Some("abc123".to_owned()),
                spec_hash: Some("sha256:1".to_owned()),
                user_stopped: false,
            },
            SnapshotApp {
                app_id: "lnd".to_owned(),
                state: "stopped".to_owned(),
                container_id: None,
                spec_hash: None,
                user_stopped: true,
            },
        ],
    }
}

#[test]
fn snapshot_round_trips_atomically() {
    let dir = TempDir::new().unwrap();
    let state = StateDir::open(dir.path()).unwrap();
    assert_eq!(state.load_snapshot().unwrap(), None);
    state.save_snapshot(&snapshot()).unwrap();
    assert_eq!(state.load_snapshot().unwrap(), Some(snapshot()));
    assert_eq!(mode_of(&state.snapshot_path()), 0o600);
}

#[test]
fn corrupt_snapshot_is_quarantined() {
    let dir = TempDir::new().unwrap();
    let state = StateDir::open(dir.path()).unwrap();
    fs::write(state.snapshot_path(), b"{\"taken_at\": \"yesterday\"}").unwrap();
    assert_eq!(state.load_snapshot().unwrap(), None);
    assert_eq!(quarantined_in(dir.path(), "snapshot.json").len(), 1);
    state.save_snapshot(&snapshot()).unwrap();
    assert_eq!(state.load_snapshot().unwrap(), Some(snapshot()));
}
