//! Rules that one manifest must meet on its own. Each check pushes a
//! [`Violation`] naming the field, what is wrong and what is allowed.

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::net::IpAddr;
use std::path::{Component, Path};

use crate::template::{self, SecretRef};
use crate::{Build, Companion, Container, Health, Manifest, Port, Protocol, Violation, Volume};

/// Capabilities a manifest may add back after `--cap-drop ALL`: the ones a
/// daemon needs to drop root, own its files and bind low ports.
pub const ALLOWED_CAPS: &[&str] = &[
    "CHOWN",
    "DAC_OVERRIDE",
    "FOWNER",
    "FSETID",
    "KILL",
    "SETGID",
    "SETUID",
    "SETPCAP",
    "SETFCAP",
    "NET_BIND_SERVICE",
    "NET_RAW",
    "SYS_CHROOT",
    "AUDIT_WRITE",
];

const ENGINE_SOCKETS: &[&str] = &["podman.sock", "docker.sock"];

/// Checks `m`, resolving `build.context` paths against the manifest's directory.
pub(crate) fn manifest(m: &mut Manifest) -> Vec<Violation> {
    let base = m.origin.parent().unwrap_or(Path::new(".")).to_path_buf();
    let mut out = Vec::new();
    let v = &mut out;

    dns_label(v, "id", &m.id);
    non_empty(v, "name", &m.name);
    non_empty(v, "version", &m.version);
    for (i, p) in m.provides.iter().enumerate() {
        dns_label(v, &format!("provides[{i}]"), p);
    }
    for (i, c) in m.conflicts_with.iter().enumerate() {
        let at = format!("conflicts_with[{i}]");
        dns_label(v, &at, c);
        if *c == m.id {
            v.push(Violation::new(at, "an app cannot conflict with itself"));
        }
    }
    for (i, d) in m.depends_on.iter().enumerate() {
        let at = format!("depends_on[{i}].id");
        dns_label(v, &at, &d.id);
        if m.answers_to(&d.id) {
            v.push(Violation::new(at, "an app cannot depend on itself"));
        }
    }

    let refs = SecretScope {
        own: secrets(v, m),
        deps: m.depends_on.iter().map(|d| d.id.clone()).collect(),
    };
    derived_files(v, m, &refs);
    restart(v, m);

    match (&mut m.container, &mut m.stack) {
        (Some(_), Some(_)) => v.push(Violation::new(
            "container",
            "both `container` and `stack` are set; use `container` for one container or `stack` for several",
        )),
        (None, None) => v.push(Violation::new(
            "container",
            "neither `container` nor `stack` is set; an app needs exactly one of them",
        )),
        (Some(c), None) => {
            if c.name.is_some() {
                v.push(Violation::new(
                    "container.name",
                    "only stack members have names; a single container is named after the app id",
                ));
            }
            if c.tier.is_some() {
                v.push(Violation::new(
                    "container.tier",
                    "only stack members have their own tier; set `tier` at the top level",
                ));
            }
            container(v, "container", c, &base, &refs);
        }
        (None, Some(stack)) => {
            if stack.is_empty() {
                v.push(Violation::new("stack", "a stack needs at least one member"));
            }
            for (i, c) in stack.iter_mut().enumerate() {
                let at = format!("stack[{i}]");
                match &c.name {
                    Some(name) => dns_label(v, &format!("{at}.name"), name),
                    None => v.push(Violation::new(
                        format!("{at}.name"),
                        "every stack member needs a `name` (a DNS label)",
                    )),
                }
                container(v, &at, c, &base, &refs);
            }
        }
    }

    for (i, c) in m.companions.iter_mut().enumerate() {
        companion(v, &format!("companions[{i}]"), c, &base, &refs);
    }
    unique_container_names(v, m);
    hooks(v, m);
    unique_host_ports(v, m);
    out
}

/// Which secret placeholders a manifest may use.
struct SecretScope {
    own: BTreeSet<String>,
    deps: BTreeSet<String>,
}

impl SecretScope {
    fn check(&self, v: &mut Vec<Violation>, at: &str, text: &str) {
        for r in template::secret_refs(text) {
            match r {
                SecretRef::Own(name) if !self.own.contains(name) => v.push(Violation::new(
                    at,
                    format!("{r} names no declared secret; declare it under `generated_secrets` (declared: {})", list(&self.own)),
                )),
                SecretRef::App { app, .. } if !self.deps.contains(app) => v.push(Violation::new(
                    at,
                    format!("{r} refers to `{app}`, which is not in `depends_on`; only dependencies' secrets can be used"),
                )),
                _ => {}
            }
        }
    }
}

fn secrets(v: &mut Vec<Violation>, m: &Manifest) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    for (i, s) in m.generated_secrets.iter().enumerate() {
        let at = format!("generated_secrets[{i}]");
        if s.name.is_empty()
            || !s
                .name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        {
            v.push(Violation::new(
                format!("{at}.name"),
                format!(
                    "`{}` is not a secret name; use letters, digits, '-' and '_'",
                    s.name
                ),
            ));
        }
        if !names.insert(s.name.clone()) {
            v.push(Violation::new(
                format!("{at}.name"),
                format!("secret `{}` is declared twice", s.name),
            ));
        }
        if !(8..=1024).contains(&s.length) {
            v.push(Violation::new(
                format!("{at}.length"),
                format!("{} is out of range; allowed 8..=1024", s.length),
            ));
        }
    }
    names
}

fn derived_files(v: &mut Vec<Violation>, m: &Manifest, refs: &SecretScope) {
    let mut paths = HashSet::new();
    for (i, f) in m.derived_files.iter().enumerate() {
        let at = format!("derived_files[{i}]");
        relative_inside(
            v,
            &format!("{at}.path"),
            &f.path,
            "the app's data directory",
        );
        if !paths.insert(f.path.as_str()) {
            v.push(Violation::new(
                format!("{at}.path"),
                format!("`{}` is derived twice", f.path),
            ));
        }
        refs.check(v, &format!("{at}.template"), &f.template);
        if let Some(mode) = &f.mode {
            let ok = !mode.is_empty()
                && u32::from_str_radix(mode, 8)
                    .is_ok_and(|bits| bits <= 0o777 && bits & 0o002 == 0);
            if !ok {
                v.push(Violation::new(
                    format!("{at}.mode"),
                    format!("`{mode}` is not allowed; use an octal string up to \"0775\" that is not world-writable, e.g. \"0600\""),
                ));
            }
        }
    }
}

fn restart(v: &mut Vec<Violation>, m: &Manifest) {
    let r = &m.restart;
    if r.max_attempts == 0 {
        v.push(Violation::new("restart.max_attempts", "must be at least 1"));
    }
    if r.backoff.initial_secs == 0 {
        v.push(Violation::new(
            "restart.backoff.initial_secs",
            "must be at least 1",
        ));
    }
    if r.backoff.max_secs < r.backoff.initial_secs {
        v.push(Violation::new(
            "restart.backoff.max_secs",
            format!(
                "{} is below initial_secs ({})",
                r.backoff.max_secs, r.backoff.initial_secs
            ),
        ));
    }
}

fn hooks(v: &mut Vec<Violation>, m: &Manifest) {
    let members: Vec<&str> = m.members().iter().map(|mv| mv.name).collect();
    for (i, h) in m.hooks.post_install.iter().enumerate() {
        let at = format!("hooks.post_install[{i}]");
        if h.cmd.is_empty() {
            v.push(Violation::new(
                format!("{at}.cmd"),
                "a hook needs a command",
            ));
        }
        if h.timeout_secs == 0 {
            v.push(Violation::new(
                format!("{at}.timeout_secs"),
                "must be at least 1",
            ));
        }
        if let Some(member) = &h.member {
            if !members.contains(&member.as_str()) {
                v.push(Violation::new(
                    format!("{at}.member"),
                    format!(
                        "`{member}` is not a member; allowed: {}",
                        members.join(", ")
                    ),
                ));
            }
        }
    }
}

fn container(v: &mut Vec<Violation>, at: &str, c: &mut Container, base: &Path, refs: &SecretScope) {
    image_or_build(v, at, &c.image, &mut c.build, base);
    for (field, list) in [("entrypoint", &c.entrypoint), ("cmd", &c.cmd)] {
        if list.as_ref().is_some_and(Vec::is_empty) {
            v.push(Violation::new(
                format!("{at}.{field}"),
                "an empty list; omit the field to keep the image's own",
            ));
        }
    }
    env(v, at, &c.env, refs);
    for (i, p) in c.ports.iter().enumerate() {
        port(v, &format!("{at}.ports[{i}]"), p);
    }
    let mut targets = HashSet::new();
    for (i, vol) in c.volumes.iter().enumerate() {
        let vat = format!("{at}.volumes[{i}]");
        volume(v, &vat, vol);
        if !targets.insert(vol.target.as_str()) {
            v.push(Violation::new(
                format!("{vat}.target"),
                format!("`{}` is mounted twice", vol.target),
            ));
        }
    }
    for (i, cap) in c.caps.iter().enumerate() {
        if !ALLOWED_CAPS.contains(&cap.as_str()) {
            v.push(Violation::new(
                format!("{at}.caps[{i}]"),
                format!(
                    "`{cap}` is not granted: containers run with all capabilities dropped and may add back only {}",
                    ALLOWED_CAPS.join(", ")
                ),
            ));
        }
    }
    if let Some(grace) = c.stop_grace_secs {
        if !(1..=3600).contains(&grace) {
            v.push(Violation::new(
                format!("{at}.stop_grace_secs"),
                format!("{grace} is out of range; allowed 1..=3600"),
            ));
        }
    }
    if let Some(h) = &c.health {
        health(v, &format!("{at}.health"), h, &c.ports);
    }
    for (i, alias) in c.network_aliases.iter().enumerate() {
        dns_label(v, &format!("{at}.network_aliases[{i}]"), alias);
    }
    if c.privileged == Some(true) {
        v.push(Violation::new(
            format!("{at}.privileged"),
            "privileged containers are never allowed: they get every capability and the host's devices; add only the `caps` the app needs",
        ));
    }
    for (field, value, why) in [
        ("network_mode", &c.network_mode, "Archy attaches each app to its own network; host networking would expose every host port and service to the app"),
        ("pid", &c.pid, "containers get their own PID namespace; sharing the host's lets the app see and signal every host process"),
        ("ipc", &c.ipc, "containers get their own IPC namespace; sharing the host's exposes host shared memory"),
    ] {
        if let Some(value) = value {
            v.push(Violation::new(
                format!("{at}.{field}"),
                format!("`{value}` is not allowed: {why}; remove the field"),
            ));
        }
    }
}

fn companion(v: &mut Vec<Violation>, at: &str, c: &mut Companion, base: &Path, refs: &SecretScope) {
    dns_label(v, &format!("{at}.name"), &c.name);
    image_or_build(v, at, &c.image, &mut c.build, base);
    env(v, at, &c.env, refs);
    for (i, p) in c.ports.iter().enumerate() {
        port(v, &format!("{at}.ports[{i}]"), p);
    }
    if let Some(h) = &c.health {
        health(v, &format!("{at}.health"), h, &c.ports);
    }
}

/// Exactly one of `image` and `build`; a build context must exist and is
/// rewritten to an absolute path.
fn image_or_build(
    v: &mut Vec<Violation>,
    at: &str,
    image: &Option<String>,
    build: &mut Option<Build>,
    base: &Path,
) {
    match (image, build) {
        (Some(_), Some(_)) => v.push(Violation::new(
            format!("{at}.image"),
            "both `image` and `build` are set; use exactly one",
        )),
        (None, None) => v.push(Violation::new(
            format!("{at}.image"),
            "neither `image` nor `build` is set; use exactly one",
        )),
        (Some(image), None) => {
            if image.is_empty() || image.chars().any(char::is_whitespace) {
                v.push(Violation::new(
                    format!("{at}.image"),
                    format!(
                        "`{image}` is not an image reference, e.g. docker.io/library/postgres:16"
                    ),
                ));
            }
        }
        (None, Some(build)) => {
            let context = base.join(&build.context);
            match context.canonicalize() {
                Ok(absolute) if absolute.is_dir() => {
                    relative_inside(
                        v,
                        &format!("{at}.build.containerfile"),
                        &build.containerfile,
                        "the build context",
                    );
                    if !absolute.join(&build.containerfile).is_file() {
                        v.push(Violation::new(
                            format!("{at}.build.containerfile"),
                            format!(
                                "`{}` is not a file in {}",
                                build.containerfile,
                                absolute.display()
                            ),
                        ));
                    }
                    build.context = absolute;
                }
                _ => v.push(Violation::new(
                    format!("{at}.build.context"),
                    format!(
                        "`{}` is not a directory (resolved against the manifest's directory to {})",
                        build.context.display(),
                        context.display()
                    ),
                )),
            }
        }
    }
}

fn env(v: &mut Vec<Violation>, at: &str, env: &BTreeMap<String, String>, refs: &SecretScope) {
    for (key, value) in env {
        let field = format!("{at}.env.{key}");
        if key.is_empty() || key.contains('=') || key.chars().any(char::is_whitespace) {
            v.push(Violation::new(
                &field,
                "not a variable name; no '=', spaces or empty names",
            ));
        }
        refs.check(v, &field, value);
    }
}

fn port(v: &mut Vec<Violation>, at: &str, p: &Port) {
    if p.container == 0 {
        v.push(Violation::new(
            format!("{at}.container"),
            "must be 1..=65535",
        ));
    }
    if p.host < 1024 {
        v.push(Violation::new(
            format!("{at}.host"),
            format!(
                "{} is a privileged port that rootless Podman cannot bind; allowed 1024..=65535",
                p.host
            ),
        ));
    }
    if p.host_ip.parse::<IpAddr>().is_err() {
        v.push(Violation::new(
            format!("{at}.host_ip"),
            format!(
                "`{}` is not an IP address; e.g. 127.0.0.1 (default) or 0.0.0.0",
                p.host_ip
            ),
        ));
    }
}

fn volume(v: &mut Vec<Violation>, at: &str, vol: &Volume) {
    if let Some(host) = &vol.host {
        let why = if ENGINE_SOCKETS.iter().any(|s| host.contains(s)) {
            "mounting the engine socket would give the app control of every container and, through them, the host"
        } else if host.split('/').any(|part| part == "..") {
            "`..` would escape the app's data directory"
        } else if host.starts_with('/') {
            "absolute host paths are not allowed: an app may only see its own data directory"
        } else {
            "host paths are not allowed: an app may only see its own data directory"
        };
        v.push(Violation::new(
            format!("{at}.host"),
            format!("`{host}` is refused: {why}; use `data: <subdir>` or `volume: <name>`"),
        ));
    }
    let sources = [vol.volume.is_some(), vol.data.is_some(), vol.host.is_some()];
    match sources.iter().filter(|s| **s).count() {
        0 => v.push(Violation::new(
            at,
            "a volume needs `volume: <name>` or `data: <subdir>`",
        )),
        1 => {}
        _ => v.push(Violation::new(at, "set exactly one of `volume` and `data`")),
    }
    if let Some(name) = &vol.volume {
        dns_label(v, &format!("{at}.volume"), name);
    }
    if let Some(dir) = &vol.data {
        relative_inside(v, &format!("{at}.data"), dir, "the app's data directory");
    }
    let target = Path::new(&vol.target);
    if !target.is_absolute() || vol.target == "/" || has_parent_dir(target) {
        v.push(Violation::new(
            format!("{at}.target"),
            format!(
                "`{}` must be an absolute path inside the container, not `/`, without `..`",
                vol.target
            ),
        ));
    }
}

fn health(v: &mut Vec<Violation>, at: &str, h: &Health, ports: &[Port]) {
    if h.probe().is_none() {
        v.push(Violation::new(
            at,
            "set exactly one probe: `http`, `tcp` or `exec`",
        ));
    }
    // Archy probes http and tcp from the host, through the published port:
    // rootless Podman gives the host no route to a container's own address.
    let probed = [
        ("http", h.http.as_ref().map(|p| p.port)),
        ("tcp", h.tcp.as_ref().map(|p| p.port)),
    ];
    for (kind, port) in probed {
        let Some(port) = port.filter(|&p| p != 0) else {
            continue;
        };
        let published = ports
            .iter()
            .any(|p| p.container == port && p.protocol == Protocol::Tcp);
        if !published {
            v.push(Violation::new(
                format!("{at}.{kind}.port"),
                format!(
                    "container port {port} is not published, and Archy probes {kind} from the host: \
                     publish it under `ports` (host_ip 127.0.0.1 keeps it local) or use an `exec` probe"
                ),
            ));
        }
    }
    if let Some(http) = &h.http {
        if http.port == 0 {
            v.push(Violation::new(
                format!("{at}.http.port"),
                "must be 1..=65535",
            ));
        }
        if !http.path.starts_with('/') {
            v.push(Violation::new(
                format!("{at}.http.path"),
                format!("`{}` must start with '/'", http.path),
            ));
        }
        if !(100..=599).contains(&http.status) {
            v.push(Violation::new(
                format!("{at}.http.status"),
                format!("{} is not an HTTP status; allowed 100..=599", http.status),
            ));
        }
    }
    if h.tcp.as_ref().is_some_and(|t| t.port == 0) {
        v.push(Violation::new(
            format!("{at}.tcp.port"),
            "must be 1..=65535",
        ));
    }
    if h.exec.as_ref().is_some_and(|e| e.cmd.is_empty()) {
        v.push(Violation::new(
            format!("{at}.exec.cmd"),
            "an exec probe needs a command",
        ));
    }
    for (field, value) in [
        ("interval_secs", h.interval_secs),
        ("timeout_secs", h.timeout_secs),
        ("retries", u64::from(h.retries)),
    ] {
        if value == 0 {
            v.push(Violation::new(
                format!("{at}.{field}"),
                "must be at least 1",
            ));
        }
    }
}

/// Members and companions become containers; their names must not collide.
fn unique_container_names(v: &mut Vec<Violation>, m: &Manifest) {
    let mut seen = HashSet::new();
    let members = m
        .stack
        .iter()
        .flatten()
        .enumerate()
        .filter_map(|(i, c)| Some((format!("stack[{i}].name"), c.name.as_deref()?)));
    let companions = m
        .companions
        .iter()
        .enumerate()
        .map(|(i, c)| (format!("companions[{i}].name"), c.name.as_str()));
    for (at, name) in members.chain(companions) {
        if !seen.insert(name) {
            v.push(Violation::new(
                at,
                format!("`{name}` is used twice; member and companion names must be unique within the app"),
            ));
        }
    }
}

fn unique_host_ports(v: &mut Vec<Violation>, m: &Manifest) {
    let mut seen = BTreeMap::new();
    for (at, p) in m.host_ports() {
        if let Some(first) = seen.insert((p.host, p.protocol), at.clone()) {
            v.push(Violation::new(
                format!("{at}.host"),
                format!(
                    "host port {}/{} is already published by {first}",
                    p.host,
                    p.protocol.as_str()
                ),
            ));
        }
    }
}

/// 1..=63 of `[a-z0-9-]`, not starting or ending with '-'.
fn is_dns_label(s: &str) -> bool {
    (1..=63).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !s.starts_with('-')
        && !s.ends_with('-')
}

fn dns_label(v: &mut Vec<Violation>, at: &str, s: &str) {
    if !is_dns_label(s) {
        v.push(Violation::new(
            at,
            format!("`{s}` is not a DNS label; use 1-63 of a-z, 0-9 and '-', not starting or ending with '-'"),
        ));
    }
}

fn non_empty(v: &mut Vec<Violation>, at: &str, s: &str) {
    if s.trim().is_empty() {
        v.push(Violation::new(at, "must not be empty"));
    }
}

fn has_parent_dir(p: &Path) -> bool {
    p.components().any(|c| c == Component::ParentDir)
}

/// A non-empty relative path that stays inside `inside`.
fn relative_inside(v: &mut Vec<Violation>, at: &str, path: &str, inside: &str) {
    let p = Path::new(path);
    let problem = if path.is_empty() {
        Some("is empty")
    } else if p.is_absolute() {
        Some("is absolute")
    } else if has_parent_dir(p) {
        Some("uses `..`")
    } else {
        None
    };
    if let Some(problem) = problem {
        v.push(Violation::new(
            at,
            format!("`{path}` {problem}; use a relative path inside {inside}"),
        ));
    }
}

fn list(names: &BTreeSet<String>) -> String {
    if names.is_empty() {
        "none".into()
    } else {
        names.iter().cloned().collect::<Vec<_>>().join(", ")
    }
}
