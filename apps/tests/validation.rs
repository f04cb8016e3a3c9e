//! Every per-file rule: a manifest that breaks it is refused, naming the field.

mod common;

use std::time::Duration;

use archy_apps::{ImageSource, ManifestError, Probe, Protocol, Tier, VolumeSource};
use common::{assert_refused, parse, single};

#[test]
fn minimal_manifest_is_valid_and_gets_the_documented_defaults() {
    let m = parse(&single(
        "web",
        "",
        "  ports:\n    - { container: 80, host: 8080 }\n  health:\n    http: { port: 80 }",
    ))
    .unwrap();
    assert_eq!(m.tier, Tier::App);
    assert_eq!(m.restart.max_attempts, 5);
    assert_eq!(m.restart.backoff.initial_secs, 5);
    assert_eq!(m.restart.backoff.max_secs, 300);
    let c = m.container.as_ref().unwrap();
    assert_eq!(
        c.image_source(),
        Some(ImageSource::Image("docker.io/library/busybox:1.36"))
    );
    assert_eq!(c.ports[0].host_ip, "127.0.0.1");
    assert_eq!(c.ports[0].protocol, Protocol::Tcp);
    let h = c.health.as_ref().unwrap();
    let Some(Probe::Http(http)) = h.probe() else {
        panic!("expected an http probe")
    };
    assert_eq!((http.path.as_str(), http.status), ("/", 200));
    assert_eq!(
        (
            h.interval_secs,
            h.timeout_secs,
            h.retries,
            h.start_period_secs
        ),
        (10, 5, 3, 30)
    );
}

#[test]
fn privileged_is_refused_with_the_reason() {
    assert_refused(
        &single("a", "", "  privileged: true"),
        "container.privileged",
        "never allowed",
    );
}

#[test]
fn host_network_pid_and_ipc_are_refused() {
    assert_refused(
        &single("a", "", "  network_mode: host"),
        "container.network_mode",
        "host networking",
    );
    assert_refused(
        &single("a", "", "  pid: host"),
        "container.pid",
        "PID namespace",
    );
    assert_refused(
        &single("a", "", "  ipc: host"),
        "container.ipc",
        "IPC namespace",
    );
}

#[test]
fn engine_socket_mount_is_refused() {
    for socket in ["/run/podman/podman.sock", "/var/run/docker.sock"] {
        let yaml = single(
            "a",
            "",
            &format!("  volumes:\n    - {{ host: {socket}, target: /sock }}"),
        );
        assert_refused(&yaml, "container.volumes[0].host", "engine socket");
    }
}

#[test]
fn absolute_host_path_is_refused_with_the_alternative() {
    let yaml = single(
        "a",
        "",
        "  volumes:\n    - { host: /etc, target: /etc-host }",
    );
    assert_refused(
        &yaml,
        "container.volumes[0].host",
        "absolute host paths are not allowed",
    );
    assert_refused(&yaml, "container.volumes[0].host", "use `data: <subdir>`");
}

#[test]
fn parent_dir_traversal_is_refused_in_data_mounts_and_derived_files() {
    assert_refused(
        &single(
            "a",
            "",
            "  volumes:\n    - { data: ../other-app, target: /data }",
        ),
        "container.volumes[0].data",
        "uses `..`",
    );
    assert_refused(
        &single("a", "", "  volumes:\n    - { data: /abs, target: /data }"),
        "container.volumes[0].data",
        "is absolute",
    );
    assert_refused(
        &single(
            "a",
            "derived_files:\n  - { path: ../x.conf, template: x }",
            "",
        ),
        "derived_files[0].path",
        "uses `..`",
    );
    assert_refused(
        &single("a", "", "  volumes:\n    - { data: d, target: /a/../b }"),
        "container.volumes[0].target",
        "without `..`",
    );
}

#[test]
fn volume_needs_exactly_one_source() {
    assert_refused(
        &single("a", "", "  volumes:\n    - { target: /data }"),
        "container.volumes[0]",
        "needs",
    );
    assert_refused(
        &single(
            "a",
            "",
            "  volumes:\n    - { volume: v, data: d, target: /data }",
        ),
        "container.volumes[0]",
        "exactly one",
    );
    let m = parse(&single(
        "a",
        "",
        "  volumes:\n    - { volume: cache, target: /c }",
    ))
    .unwrap();
    assert_eq!(
        m.container.unwrap().volumes[0].source(),
        Some(VolumeSource::Named("cache"))
    );
}

#[test]
fn ids_must_be_dns_labels() {
    for bad in [
        "Bitcoin",
        "-lead",
        "trail-",
        "under_score",
        "",
        &"a".repeat(64),
    ] {
        assert_refused(&single(bad, "", ""), "id", "not a DNS label");
    }
    for good in ["a", "bitcoin-knots", "x1", &"a".repeat(63)] {
        parse(&single(good, "", "")).unwrap();
    }
}

#[test]
fn image_and_build_are_mutually_exclusive_and_one_is_required() {
    let both =
        "id: a\nname: A\nversion: \"1\"\ncontainer:\n  image: x:1\n  build: { context: . }\n";
    assert_refused(both, "container.image", "both `image` and `build`");
    let neither = "id: a\nname: A\nversion: \"1\"\ncontainer:\n  cmd: [true]\n";
    assert_refused(neither, "container.image", "neither `image` nor `build`");
}

#[test]
fn container_and_stack_are_mutually_exclusive_and_one_is_required() {
    let both = "id: a\nname: A\nversion: \"1\"\ncontainer: { image: x:1 }\nstack:\n  - { name: m, image: x:1 }\n";
    assert_refused(both, "container", "both `container` and `stack`");
    assert_refused(
        "id: a\nname: A\nversion: \"1\"\n",
        "container",
        "neither `container` nor `stack`",
    );
}

#[test]
fn stack_members_need_names_and_a_single_container_has_none() {
    let nameless = "id: a\nname: A\nversion: \"1\"\nstack:\n  - { image: x:1 }\n";
    assert_refused(nameless, "stack[0].name", "needs a `name`");
    assert_refused(
        &single("a", "", "  name: web"),
        "container.name",
        "only stack members",
    );
}

#[test]
fn unknown_fields_are_refused_with_their_path() {
    let yaml = "id: a\nname: A\nversion: \"1\"\nstack:\n  - { name: db, image: x:1 }\n  - { name: app, image: x:1, restart_policy: always }\n";
    let err = parse(yaml).unwrap_err();
    assert!(matches!(err, ManifestError::Parse { .. }), "{err}");
    let text = err.to_string();
    assert!(
        text.contains("stack[1]") && text.contains("unknown field `restart_policy`"),
        "{text}"
    );
    assert!(text.starts_with("/virtual/app/manifest.yml"), "{text}");
}

#[test]
fn dangerous_caps_are_refused_and_allowlisted_ones_accepted() {
    for cap in [
        "SYS_ADMIN",
        "NET_ADMIN",
        "SYS_PTRACE",
        "SYS_MODULE",
        "chown",
    ] {
        assert_refused(
            &single("a", "", &format!("  caps: [{cap}]")),
            "container.caps[0]",
            "may add back only",
        );
    }
    let m = parse(&single(
        "a",
        "",
        "  caps: [CHOWN, SETUID, SETGID, NET_BIND_SERVICE]",
    ))
    .unwrap();
    assert_eq!(m.container.unwrap().caps.len(), 4);
}

#[test]
fn secret_references_must_name_declared_secrets() {
    assert_refused(
        &single("a", "", "  env:\n    PASSWORD: ${secret:db-password}"),
        "container.env.PASSWORD",
        "names no declared secret",
    );
    assert_refused(
        &single(
            "a",
            "derived_files:\n  - { path: a.conf, template: \"pw=${secret:nope}\" }",
            "",
        ),
        "derived_files[0].template",
        "names no declared secret",
    );
    let declared = single(
        "a",
        "generated_secrets:\n  - { name: db-password, kind: alnum }",
        "  env:\n    PASSWORD: ${secret:db-password}",
    );
    assert_eq!(parse(&declared).unwrap().generated_secrets[0].length, 32);
}

#[test]
fn cross_app_secret_references_must_name_a_dependency() {
    assert_refused(
        &single(
            "a",
            "",
            "  env:\n    RPC: ${app:bitcoin:secret:rpc-password}",
        ),
        "container.env.RPC",
        "not in `depends_on`",
    );
    parse(&single(
        "a",
        "depends_on:\n  - { id: bitcoin }",
        "  env:\n    RPC: ${app:bitcoin:secret:rpc-password}",
    ))
    .unwrap();
}

#[test]
fn member_and_companion_names_must_be_unique() {
    let yaml = "id: a\nname: A\nversion: \"1\"\nstack:\n  - { name: db, image: x:1 }\n  - { name: db, image: x:1 }\ncompanions:\n  - { name: db, image: x:1 }\n";
    assert_refused(yaml, "stack[1].name", "used twice");
    assert_refused(yaml, "companions[0].name", "used twice");
}

#[test]
fn host_ports_are_unique_within_an_app_and_unprivileged() {
    let dup = single(
        "a",
        "companions:\n  - { name: ui, image: x:1, ports: [{ container: 80, host: 9000 }] }",
        "  ports:\n    - { container: 80, host: 9000 }",
    );
    assert_refused(
        &dup,
        "companions[0].ports[0].host",
        "already published by container.ports[0]",
    );
    assert_refused(
        &single("a", "", "  ports:\n    - { container: 80, host: 80 }"),
        "container.ports[0].host",
        "privileged port",
    );
    assert_refused(
        &single(
            "a",
            "",
            "  ports:\n    - { container: 80, host: 8080, host_ip: localhost }",
        ),
        "container.ports[0].host_ip",
        "not an IP address",
    );
}

#[test]
fn health_needs_exactly_one_probe() {
    assert_refused(
        &single("a", "", "  health: { interval_secs: 5 }"),
        "container.health",
        "exactly one probe",
    );
    assert_refused(
        &single(
            "a",
            "",
            "  health: { tcp: { port: 1 }, exec: { cmd: [true] } }",
        ),
        "container.health",
        "exactly one probe",
    );
}

#[test]
fn http_and_tcp_probes_need_a_published_port() {
    assert_refused(
        &single("a", "", "  health:\n    http: { port: 5432 }"),
        "container.health.http.port",
        "5432 is not published",
    );
    assert_refused(
        &single(
            "a",
            "",
            "  ports:\n    - { container: 80, host: 8080, protocol: udp }\n  health:\n    tcp: { port: 80 }",
        ),
        "container.health.tcp.port",
        "use an `exec` probe",
    );
    parse(&single(
        "a",
        "",
        "  ports:\n    - { container: 80, host: 8080 }\n  health:\n    tcp: { port: 80 }",
    ))
    .expect("a published tcp port can be probed");
}

#[test]
fn hooks_must_target_an_existing_member() {
    let yaml = "id: a\nname: A\nversion: \"1\"\nhooks:\n  post_install:\n    - { member: web, cmd: [migrate] }\nstack:\n  - { name: db, image: x:1 }\n";
    assert_refused(yaml, "hooks.post_install[0].member", "allowed: db");
}

#[test]
fn derived_file_mode_must_be_octal_and_not_world_writable() {
    let with_mode = |mode: &str| {
        single(
            "a",
            &format!("derived_files:\n  - {{ path: a.conf, template: x, mode: \"{mode}\" }}"),
            "",
        )
    };
    assert_refused(
        &with_mode("0666"),
        "derived_files[0].mode",
        "world-writable",
    );
    assert_refused(&with_mode("rw"), "derived_files[0].mode", "octal");
    let m = parse(&with_mode("0640")).unwrap();
    assert_eq!(m.derived_files[0].mode_bits(), 0o640);
    let default = parse(&single(
        "a",
        "derived_files:\n  - { path: a.conf, template: x }",
        "",
    ))
    .unwrap();
    assert_eq!(default.derived_files[0].mode_bits(), 0o600);
    assert!(default.derived_files[0].restart_on_change);
}

#[test]
fn build_context_resolves_against_the_manifest_directory() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("app/ctx")).unwrap();
    std::fs::write(dir.path().join("app/ctx/Containerfile"), "FROM scratch\n").unwrap();
    let origin = dir.path().join("app/manifest.yml");
    let yaml = "id: a\nname: A\nversion: \"1\"\ncontainer:\n  build: { context: ctx }\n";
    let m = archy_apps::Manifest::from_yaml_str(yaml, &origin).unwrap();
    let Some(ImageSource::Build(build)) = m.container.as_ref().unwrap().image_source() else {
        panic!("expected a build")
    };
    assert_eq!(
        build.context,
        dir.path().join("app/ctx").canonicalize().unwrap()
    );
    assert_eq!(build.containerfile, "Containerfile");

    let missing = "id: a\nname: A\nversion: \"1\"\ncontainer:\n  build: { context: nowhere }\n";
    let err = archy_apps::Manifest::from_yaml_str(missing, &origin).unwrap_err();
    assert_eq!(err.violations()[0].field, "container.build.context");
}

#[test]
fn members_give_one_uniform_view_with_effective_grace() {
    let m = parse(&single("bitcoin-knots", "tier: backend", "")).unwrap();
    let members = m.members();
    assert_eq!(members.len(), 1);
    assert_eq!(members[0].name, "bitcoin-knots");
    assert_eq!(members[0].tier, Tier::Backend);
    assert_eq!(members[0].stop_grace, Duration::from_secs(600));

    let stack = "id: btcpay-server\nname: B\nversion: \"1\"\nstack:\n  - { name: postgres, tier: database, image: x:1 }\n  - { name: server, image: x:1 }\n  - { name: quick, image: x:1, stop_grace_secs: 7 }\n";
    let m = parse(stack).unwrap();
    let view: Vec<_> = m
        .members()
        .iter()
        .map(|v| (v.name, v.tier, v.stop_grace.as_secs()))
        .collect();
    assert_eq!(
        view,
        vec![
            ("postgres", Tier::Database, 120),
            ("server", Tier::App, 60),
            ("quick", Tier::App, 7)
        ]
    );
    assert_eq!(
        m.member("server").unwrap().container.image.as_deref(),
        Some("x:1")
    );
}

#[test]
fn content_hash_is_stable_and_tracks_changes() {
    let a = parse(&single("a", "", "  cmd: [a]")).unwrap();
    let again = parse(&single("a", "", "  cmd: [a]")).unwrap();
    let changed = parse(&single("a", "", "  cmd: [b]")).unwrap();
    assert_eq!(a.content_hash(), again.content_hash());
    assert_ne!(a.content_hash(), changed.content_hash());
}

#[test]
fn every_violation_in_a_file_is_reported_at_once() {
    let err = parse(&single(
        "Bad",
        "",
        "  privileged: true\n  caps: [SYS_ADMIN]",
    ))
    .unwrap_err();
    let fields: Vec<_> = err.violations().iter().map(|v| v.field.as_str()).collect();
    assert_eq!(
        fields,
        vec!["id", "container.caps[0]", "container.privileged"]
    );
    let text = err.to_string();
    assert!(
        text.starts_with("/virtual/app/manifest.yml:") && text.contains("\n  - id:"),
        "{text}"
    );
}

#[test]
fn restart_backoff_is_read_and_its_cap_checked() {
    // The waits themselves are the tracker's (archy-actors RestartPolicy).
    let m = parse(&single(
        "a",
        "restart: { max_attempts: 3, backoff: { initial_secs: 5, max_secs: 30 } }",
        "",
    ))
    .unwrap();
    assert_eq!(m.restart.max_attempts, 3);
    assert_eq!(
        (m.restart.backoff.initial_secs, m.restart.backoff.max_secs),
        (5, 30)
    );
    assert_refused(
        &single(
            "a",
            "restart: { backoff: { initial_secs: 10, max_secs: 5 } }",
            "",
        ),
        "restart.backoff.max_secs",
        "below initial_secs",
    );
}

#[test]
fn the_full_example_in_the_reference_is_valid() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let doc = std::fs::read_to_string(root.join("docs/manifest.md")).unwrap();
    let example = doc
        .split("## Full example")
        .nth(1)
        .and_then(|s| s.split("```yaml\n").nth(1))
        .and_then(|s| s.split("```").next())
        .expect("docs/manifest.md has a yaml block under `## Full example`");
    let origin = root.join("apps/catalog/btcpay-server/manifest.yml");
    let m = archy_apps::Manifest::from_yaml_str(example, &origin).unwrap();
    let grace: Vec<_> = m.members().iter().map(|v| v.stop_grace.as_secs()).collect();
    assert_eq!(grace, vec![120, 90]);
}

#[test]
fn secret_alphabets_are_url_safe() {
    use archy_apps::SecretKind;
    for kind in [SecretKind::Hex, SecretKind::Alnum, SecretKind::Password] {
        assert!(kind
            .alphabet()
            .iter()
            .all(|c| c.is_ascii_alphanumeric() || b"-_.~".contains(c)));
    }
    assert_eq!(SecretKind::Hex.alphabet().len(), 16);
    assert_eq!(SecretKind::Alnum.alphabet().len(), 62);
    assert_eq!(SecretKind::Password.alphabet().len(), 66);
}
