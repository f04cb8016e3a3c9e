//! Commands that need no daemon: `app render` and `passwd`.

mod cli_support;

use archy_rpc::PasswordStore;
use cli_support::{archy, root};

fn demo(app: &str) -> String {
    root()
        .join("apps/demo")
        .join(app)
        .join("manifest.yml")
        .display()
        .to_string()
}

#[tokio::test]
async fn render_prints_the_spec_archy_creates_with_its_quadlet_unit() {
    let state = tempfile::tempdir().unwrap();
    let dir = state.path().to_str().unwrap();
    let run = archy(
        &[
            "--state-dir",
            dir,
            "app",
            "render",
            &demo("demo-web"),
            "--json",
        ],
        None,
    )
    .await;
    run.assert_code(0);
    let rendered = run.json();
    let member = &rendered[0];
    assert_eq!(rendered.as_array().unwrap().len(), 1);
    let spec = &member["spec"];
    assert_eq!(spec["name"], "archy-demo-web");
    assert_eq!(spec["labels"]["archy.app"], "demo-web");
    assert_eq!(spec["network"], "archy");
    assert_eq!(spec["ports"][0]["host_port"], 18080);
    let hash = spec["labels"]["archy.spec-hash"].as_str().unwrap();
    let image = spec["image"].as_str().unwrap();
    assert!(image.starts_with("localhost/archy-demo-web:"), "{image}");
    assert!(member["build"]["context_hash"].is_string());
    assert_eq!(member["quadlet_file"], "archy-demo-web.container");

    let unit = member["quadlet"].as_str().unwrap();
    for line in [
        "[Container]",
        "ContainerName=archy-demo-web",
        &format!("Image={image}"),
        "PublishPort=127.0.0.1:18080:8080/tcp",
        "Network=archy",
        "PodmanArgs=--network-alias=demo-web",
        &format!("Label=archy.spec-hash={hash}"),
        "DropCapability=ALL",
        "NoNewPrivileges=true",
        "PodmanArgs=--stop-timeout=30",
        "TimeoutStopSec=60",
        "WantedBy=default.target",
    ] {
        assert!(unit.lines().any(|l| l == line), "no {line:?} in\n{unit}");
    }
    assert!(
        unit.contains("# Build its image first: podman build -t"),
        "{unit}"
    );
}

#[tokio::test]
async fn render_of_a_stack_gives_one_spec_and_unit_per_member_in_start_order() {
    let run = archy(&["app", "render", &demo("demo-stack")], None).await;
    run.assert_code(0);
    let db = run
        .stdout
        .find("ContainerName=archy-demo-stack-db")
        .unwrap();
    let app = run
        .stdout
        .find("ContainerName=archy-demo-stack-app")
        .unwrap();
    assert!(db < app, "{}", run.stdout);
    assert!(run.stdout.contains("Exec=sh /db.sh"), "{}", run.stdout);
    assert!(
        run.stdout.contains("Environment=DB_HOST=demo-stack-db"),
        "{}",
        run.stdout
    );
}

#[tokio::test]
async fn render_shows_placeholders_unless_asked_for_the_real_secrets() {
    let catalog = tempfile::tempdir().unwrap();
    let app_dir = catalog.path().join("vault");
    std::fs::create_dir_all(&app_dir).unwrap();
    let manifest = app_dir.join("manifest.yml");
    std::fs::write(
        &manifest,
        r#"
id: vault
name: Vault
version: "1"
generated_secrets: [{ name: pw, kind: alnum }]
container:
  image: docker.io/library/busybox:latest
  env:
    PASSWORD: "${secret:pw} and 100%"
"#,
    )
    .unwrap();
    let state = tempfile::tempdir().unwrap();
    let dir = state.path().to_str().unwrap();
    let file = manifest.to_str().unwrap();

    let run = archy(&["--state-dir", dir, "app", "render", file], None).await;
    run.assert_code(0);
    assert!(
        run.stdout
            .contains(r#"Environment="PASSWORD=<secret vault/pw> and 100%%""#),
        "{}",
        run.stdout
    );

    let missing = archy(
        &["--state-dir", dir, "app", "render", file, "--secrets"],
        None,
    )
    .await;
    missing.assert_code(1);
    assert!(
        missing.stderr.contains("${secret:pw}"),
        "{}",
        missing.stderr
    );

    let secrets = state.path().join("secrets/vault");
    std::fs::create_dir_all(&secrets).unwrap();
    std::fs::write(secrets.join("pw"), "s3cr3t").unwrap();
    let real = archy(
        &[
            "--state-dir",
            dir,
            "app",
            "render",
            file,
            "--secrets",
            "--json",
        ],
        None,
    )
    .await;
    real.assert_code(0);
    assert_eq!(real.json()[0]["spec"]["env"]["PASSWORD"], "s3cr3t and 100%");
}

#[tokio::test]
async fn render_of_an_invalid_manifest_exits_1_naming_the_problem() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("manifest.yml");
    std::fs::write(&file, "id: x\n").unwrap();
    let run = archy(&["app", "render", file.to_str().unwrap()], None).await;
    run.assert_code(1);
    assert!(run.stderr.contains("manifest.yml"), "{}", run.stderr);
}

#[tokio::test]
async fn passwd_sets_the_password_from_stdin() {
    let state = tempfile::tempdir().unwrap();
    let dir = state.path().to_str().unwrap();
    let run = archy(&["--state-dir", dir, "passwd"], Some("correct horse\n")).await;
    run.assert_code(0);
    let store = PasswordStore::new(state.path());
    assert!(store.verify("correct horse").unwrap());
    assert!(!store.verify("correct horse\n").unwrap());

    let short = archy(&["--state-dir", dir, "passwd"], Some("short\n")).await;
    short.assert_code(1);
    assert!(short.stderr.contains("at least 8"), "{}", short.stderr);
    assert!(
        store.verify("correct horse").unwrap(),
        "a refused password replaced the old one"
    );
}
