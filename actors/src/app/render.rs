//! Manifest → the containers to create: names, labels, mounts, network,
//! secrets substituted. Rendering is deterministic, so the spec hash of an
//! unchanged app is stable and its running containers are adopted.

use std::collections::BTreeMap;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::time::Duration;

use archy_apps::{template, Build, ImageSource, Manifest, MemberView, VolumeSource};
use archy_runtime::{labels, ContainerSpec, Mount, MountSource, PortBinding, Protocol, Role};
use sha2::{Digest, Sha256};

use crate::secrets::{self, Secret, SecretSource};

/// The one network every app container joins.
pub const NETWORK: &str = "archy";

/// One container of the app, ready to create, with how to get its image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemberSpec {
    /// The stack member's name (the app id for a single-container app).
    pub member: String,
    /// Stamped with its spec-hash label.
    pub spec: ContainerSpec,
    pub image: ImagePlan,
    pub stop_grace: Duration,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ImagePlan {
    /// Pull `spec.image` if it is not present.
    Pull,
    /// Build `spec.image` (tagged with the context hash) if it is not present.
    Build {
        context: PathBuf,
        containerfile: String,
        context_hash: String,
    },
}

#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    #[error("app {app}: {source}")]
    MissingSecret {
        app: String,
        #[source]
        source: template::MissingSecret,
    },
    #[error("app {app}: cannot read build context {}: {source}", context.display())]
    Context {
        app: String,
        context: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("app {app}, member {member}: no image and no build (the manifest was not validated)")]
    NoImage { app: String, member: String },
}

/// `archy-<app>` for a single container, `archy-<app>-<member>` in a stack.
pub fn container_name(manifest: &Manifest, member: &str) -> String {
    format!("archy-{}", network_name(manifest, member))
}

/// The alias other containers reach a member by: `<app>` or `<app>-<member>`.
fn network_name(manifest: &Manifest, member: &str) -> String {
    if manifest.stack.is_some() {
        format!("{}-{member}", manifest.id)
    } else {
        manifest.id.clone()
    }
}

/// The engine volume behind a manifest's `{volume: v}`.
pub fn volume_name(app: &str, volume: &str) -> String {
    format!("archy-{app}-{volume}")
}

/// Named volumes the app's members use (purge deletes them).
pub fn named_volumes(manifest: &Manifest) -> Vec<String> {
    let mut names: Vec<String> = manifest
        .members()
        .iter()
        .flat_map(|m| &m.container.volumes)
        .filter_map(|v| match v.source() {
            Some(VolumeSource::Named(v)) => Some(volume_name(&manifest.id, v)),
            _ => None,
        })
        .collect();
    names.sort();
    names.dedup();
    names
}

/// Host directories the app's `{data: sub}` volumes bind (created before create).
pub fn data_dirs(manifest: &Manifest, data_root: &Path) -> Vec<PathBuf> {
    manifest
        .members()
        .iter()
        .flat_map(|m| &m.container.volumes)
        .filter_map(|v| match v.source() {
            Some(VolumeSource::Data(sub)) => Some(data_root.join(sub)),
            _ => None,
        })
        .collect()
}

/// Every member in start order. `data_root` is `<state>/data/<app>`.
pub fn render(
    manifest: &Manifest,
    data_root: &Path,
    secrets: &dyn SecretSource,
) -> Result<Vec<MemberSpec>, RenderError> {
    manifest
        .members()
        .into_iter()
        .map(|member| render_member(manifest, &member, data_root, secrets))
        .collect()
}

fn render_member(
    manifest: &Manifest,
    member: &MemberView<'_>,
    data_root: &Path,
    secrets: &dyn SecretSource,
) -> Result<MemberSpec, RenderError> {
    let app = &manifest.id;
    let c = member.container;
    let (image, plan) = match c.image_source() {
        Some(ImageSource::Image(image)) => (image.to_string(), ImagePlan::Pull),
        Some(ImageSource::Build(build)) => build_plan(manifest, member.name, build)?,
        None => {
            return Err(RenderError::NoImage {
                app: app.clone(),
                member: member.name.to_string(),
            })
        }
    };
    let env = c
        .env
        .iter()
        .map(|(k, v)| Ok((k.clone(), substitute(app, v, secrets)?)))
        .collect::<Result<BTreeMap<_, _>, RenderError>>()?;
    let mut aliases = vec![network_name(manifest, member.name)];
    for alias in &c.network_aliases {
        if !aliases.contains(alias) {
            aliases.push(alias.clone());
        }
    }
    let labels = BTreeMap::from([
        (labels::APP.to_string(), app.clone()),
        (labels::ROLE.to_string(), Role::App.as_str().to_string()),
        (labels::MEMBER.to_string(), member.name.to_string()),
    ]);
    let spec = ContainerSpec {
        name: container_name(manifest, member.name),
        image,
        entrypoint: c.entrypoint.clone(),
        cmd: c.cmd.clone(),
        env,
        ports: c.ports.iter().map(port).collect(),
        mounts: c
            .volumes
            .iter()
            .filter_map(|v| {
                let source = match v.source()? {
                    VolumeSource::Named(name) => MountSource::Volume(volume_name(app, name)),
                    VolumeSource::Data(sub) => MountSource::Bind(data_root.join(sub)),
                };
                Some(Mount {
                    source,
                    target: v.target.clone(),
                    read_only: v.read_only,
                })
            })
            .collect(),
        cap_add: c.caps.clone(),
        labels,
        network: Some(NETWORK.to_string()),
        network_aliases: aliases,
        stop_grace_secs: member.stop_grace.as_secs(),
        user: c.user.clone(),
    };
    Ok(MemberSpec {
        member: member.name.to_string(),
        spec: spec.with_hash_label(),
        image: plan,
        stop_grace: member.stop_grace,
    })
}

/// A built image is tagged with its context hash, so a changed context means
/// a new tag, hence a new spec hash, hence a recreated container.
fn build_plan(
    manifest: &Manifest,
    member: &str,
    build: &Build,
) -> Result<(String, ImagePlan), RenderError> {
    let context_hash = context_hash(&build.context).map_err(|source| RenderError::Context {
        app: manifest.id.clone(),
        context: build.context.clone(),
        source,
    })?;
    let tag = format!(
        "localhost/{}:{context_hash}",
        container_name(manifest, member)
    );
    let plan = ImagePlan::Build {
        context: build.context.clone(),
        containerfile: build.containerfile.clone(),
        context_hash,
    };
    Ok((tag, plan))
}

/// The value goes into the container's environment, so it leaves the
/// [`crate::secrets::Secret`] wrapper here.
pub(crate) fn substitute(
    app: &str,
    text: &str,
    secrets: &dyn SecretSource,
) -> Result<String, RenderError> {
    secrets::fill(app, text, secrets)
        .map(Secret::into_exposed)
        .map_err(|source| RenderError::MissingSecret {
            app: app.to_string(),
            source,
        })
}

pub(crate) fn port(p: &archy_apps::Port) -> PortBinding {
    PortBinding {
        container_port: p.container,
        host_port: p.host,
        host_ip: p.host_ip.clone(),
        protocol: match p.protocol {
            archy_apps::Protocol::Tcp => Protocol::Tcp,
            archy_apps::Protocol::Udp => Protocol::Udp,
        },
    }
}

/// Hash of every file under `dir`: relative path and content, in path order.
pub fn context_hash(dir: &Path) -> io::Result<String> {
    let mut files = Vec::new();
    collect_files(dir, &mut files)?;
    files.sort();
    let mut hasher = Sha256::new();
    for file in files {
        let relative = file.strip_prefix(dir).unwrap_or(&file);
        hasher.update(relative.to_string_lossy().as_bytes());
        hasher.update([0]);
        hasher.update(fs::read(&file)?);
        hasher.update([0]);
    }
    Ok(hex::encode(&hasher.finalize()[..8]))
}

fn collect_files(dir: &Path, out: &mut Vec<PathBuf>) -> io::Result<()> {
    for entry in fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            collect_files(&path, out)?;
        } else {
            out.push(path);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::secrets::SecretError;

    /// Answers every secret with `<app>/<name>`; `Empty` answers none.
    struct Fixed;
    struct Empty;

    impl SecretSource for Fixed {
        fn get(&self, app: &str, name: &str) -> Option<Secret> {
            Some(Secret::new(format!("{app}/{name}")))
        }
        fn ensure(&self, _: &Manifest) -> Result<(), SecretError> {
            Ok(())
        }
        fn purge(&self, _: &str) -> Result<(), SecretError> {
            Ok(())
        }
    }

    impl SecretSource for Empty {
        fn get(&self, _: &str, _: &str) -> Option<Secret> {
            None
        }
        fn ensure(&self, _: &Manifest) -> Result<(), SecretError> {
            Ok(())
        }
        fn purge(&self, _: &str) -> Result<(), SecretError> {
            Ok(())
        }
    }

    fn manifest(yaml: &str) -> Manifest {
        Manifest::from_yaml_str(yaml, Path::new("/catalog/x/manifest.yml")).unwrap()
    }

    fn single() -> Manifest {
        manifest(
            r#"
id: lnd
name: LND
version: "1"
generated_secrets: [{ name: pw, kind: alnum }]
depends_on: [{ id: bitcoin }]
container:
  image: docker.io/lightninglabs/lnd:v0.18
  env:
    PASS: "${secret:pw}"
    BTC: "${app:bitcoin:secret:rpc}"
    HOME: "${HOME}"
  ports: [{ container: 9735, host: 9735 }]
  volumes:
    - { data: lnd, target: /root/.lnd }
    - { volume: cache, target: /cache, read_only: true }
  network_aliases: [lightning]
"#,
        )
    }

    #[test]
    fn a_single_container_app_is_named_after_the_app() {
        let specs = render(&single(), Path::new("/state/data/lnd"), &Fixed).unwrap();
        assert_eq!(specs.len(), 1);
        let s = &specs[0].spec;
        assert_eq!(s.name, "archy-lnd");
        assert_eq!(s.network.as_deref(), Some(NETWORK));
        assert_eq!(s.network_aliases, ["lnd", "lightning"]);
        assert_eq!(s.labels[labels::APP], "lnd");
        assert_eq!(s.labels[labels::ROLE], "app");
        assert_eq!(s.labels[labels::MEMBER], "lnd");
        assert_eq!(s.labels[labels::SPEC_HASH], s.spec_hash());
        assert_eq!(s.stop_grace_secs, 330);
        assert_eq!(specs[0].stop_grace, Duration::from_secs(330));
        assert_eq!(specs[0].image, ImagePlan::Pull);
    }

    #[test]
    fn secrets_are_substituted_and_other_placeholders_kept() {
        let specs = render(&single(), Path::new("/d"), &Fixed).unwrap();
        let env = &specs[0].spec.env;
        assert_eq!(env["PASS"], "lnd/pw");
        assert_eq!(env["BTC"], "bitcoin/rpc");
        assert_eq!(env["HOME"], "${HOME}");
    }

    #[test]
    fn a_missing_secret_is_an_error_naming_it() {
        let err = render(&single(), Path::new("/d"), &Empty).unwrap_err();
        assert!(
            err.to_string().contains("${app:bitcoin:secret:rpc}"),
            "{err}"
        );
    }

    #[test]
    fn data_volumes_bind_under_the_data_root_and_named_ones_are_per_app() {
        let m = single();
        let specs = render(&m, Path::new("/state/data/lnd"), &Fixed).unwrap();
        let mounts = &specs[0].spec.mounts;
        assert_eq!(
            mounts[0].source,
            MountSource::Bind("/state/data/lnd/lnd".into())
        );
        assert_eq!(
            mounts[1].source,
            MountSource::Volume("archy-lnd-cache".into())
        );
        assert!(mounts[1].read_only);
        assert_eq!(named_volumes(&m), ["archy-lnd-cache"]);
        assert_eq!(
            data_dirs(&m, Path::new("/state/data/lnd")),
            [PathBuf::from("/state/data/lnd/lnd")]
        );
    }

    #[test]
    fn rendering_twice_gives_the_same_hash() {
        let a = render(&single(), Path::new("/d"), &Fixed).unwrap();
        let b = render(&single(), Path::new("/d"), &Fixed).unwrap();
        assert_eq!(a, b);
    }

    #[test]
    fn stack_members_are_prefixed_and_keep_their_order_and_grace() {
        let m = manifest(
            r#"
id: shop
name: Shop
version: "1"
stack:
  - { name: db, tier: database, image: "docker.io/library/postgres:16" }
  - { name: web, image: "docker.io/library/nginx:1", stop_grace_secs: 7 }
"#,
        );
        let specs = render(&m, Path::new("/d"), &Fixed).unwrap();
        let names: Vec<_> = specs.iter().map(|s| s.spec.name.as_str()).collect();
        assert_eq!(names, ["archy-shop-db", "archy-shop-web"]);
        assert_eq!(specs[0].spec.network_aliases, ["shop-db"]);
        assert_eq!(specs[0].stop_grace, Duration::from_secs(120));
        assert_eq!(specs[1].stop_grace, Duration::from_secs(7));
    }

    #[test]
    fn a_built_image_is_tagged_with_its_context_hash() {
        let ctx = tempfile::tempdir().unwrap();
        fs::write(ctx.path().join("Containerfile"), "FROM scratch\n").unwrap();
        let yaml = format!(
            "id: web\nname: Web\nversion: \"1\"\ncontainer:\n  build: {{ context: {} }}\n",
            ctx.path().display()
        );
        let first = render(&manifest(&yaml), Path::new("/d"), &Fixed).unwrap();
        let ImagePlan::Build { context_hash, .. } = &first[0].image else {
            panic!("expected a build plan");
        };
        assert_eq!(
            first[0].spec.image,
            format!("localhost/archy-web:{context_hash}")
        );
        fs::write(ctx.path().join("index.html"), "hi").unwrap();
        let second = render(&manifest(&yaml), Path::new("/d"), &Fixed).unwrap();
        assert_ne!(first[0].spec.image, second[0].spec.image);
        assert_ne!(first[0].spec.spec_hash(), second[0].spec.spec_hash());
    }
}
