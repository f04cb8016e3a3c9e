//! Generated secrets: created once, stored 0600 under 0700 directories,
//! never rotated behind the user's back and never logged (invariant 5).
//! Every value travels as a [`Secret`], whose `Debug` and `Display` redact.
//! Rendering asks a [`SecretSource`]; [`FileSecrets`] keeps them as files.

mod derived;

pub use derived::{write_derived_files, DerivedError, DerivedOutcome};

use std::collections::BTreeSet;
use std::fmt;
use std::fs;
use std::io::{self, Read};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use archy_apps::{template, Manifest, SecretKind};

use crate::status::StatusBoard;
use crate::store::{create_private_dir, write_atomic_with_mode, StoreError, DIR_MODE, FILE_MODE};

/// A secret value. It cannot be printed by accident: `{}` and `{:?}` show
/// `<redacted>`; [`Secret::expose`] is the one, greppable, way to the text.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }

    pub fn into_exposed(self) -> String {
        self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Regenerating would hand the app a password its data does not know.
    #[error(
        "app {app}: secret {name} is missing at {} but the app's data at {} already exists: \
         the database was initialised with a password that is now missing; restore {} or \
         purge the app's data to start fresh",
        path.display(), data.display(), path.display()
    )]
    MissingWithData {
        app: String,
        name: String,
        path: PathBuf,
        data: PathBuf,
    },
}

/// Where rendering gets the value of `${secret:NAME}` and
/// `${app:ID:secret:NAME}`, and who generates and deletes them.
pub trait SecretSource: Send + Sync {
    fn get(&self, app: &str, name: &str) -> Option<Secret>;
    /// Generate every secret the manifest declares that does not exist yet;
    /// existing ones are kept as they are (reinstall reuses them).
    fn ensure(&self, manifest: &Manifest) -> Result<(), SecretError>;
    /// Delete every secret of `app` (purge). Nothing to delete is fine.
    fn purge(&self, app: &str) -> Result<(), SecretError>;
    /// `Err(MissingWithData)` when a secret generated once is gone while the
    /// app's data exists; generates nothing. Sources that cannot lose a
    /// secret (fixed values, placeholders) have nothing to report.
    fn check_kept(&self, _manifest: &Manifest) -> Result<(), SecretError> {
        Ok(())
    }
}

/// `text` with every secret placeholder filled in; the result is itself a
/// secret (it may hold one). `${app:ID:...}` asks `secrets` for app `ID`, so
/// wrap them in [`Providers`] to resolve `provides` names.
pub fn fill(
    app: &str,
    text: &str,
    secrets: &dyn SecretSource,
) -> Result<Secret, template::MissingSecret> {
    template::render(text, |reference| {
        let (owner, name) = match reference {
            template::SecretRef::Own(name) => (app, name),
            template::SecretRef::App { app, name } => (app, name),
        };
        secrets.get(owner, name).map(Secret::into_exposed)
    })
    .map(Secret)
}

/// Secrets as `app` sees them: its own by its id, and `${app:ID:secret:NAME}`
/// from whichever installed app answers to `ID` (its id, else a `provides`
/// name), as the board knows them.
pub struct Providers<'a> {
    pub app: &'a str,
    pub secrets: &'a dyn SecretSource,
    pub board: &'a StatusBoard,
}

impl SecretSource for Providers<'_> {
    fn get(&self, app: &str, name: &str) -> Option<Secret> {
        if app == self.app {
            return self.secrets.get(app, name);
        }
        let owner = self.board.providers(app).into_iter().next();
        let owner = owner.as_ref().map_or(app, |s| s.app.as_str());
        self.secrets.get(owner, name)
    }

    fn ensure(&self, manifest: &Manifest) -> Result<(), SecretError> {
        self.secrets.ensure(manifest)
    }

    fn purge(&self, app: &str) -> Result<(), SecretError> {
        self.secrets.purge(app)
    }

    fn check_kept(&self, manifest: &Manifest) -> Result<(), SecretError> {
        self.secrets.check_kept(manifest)
    }
}

/// Secrets as files: `<root>/<app>/<name>`, one value per file.
#[derive(Debug, Clone)]
pub struct FileSecrets {
    root: PathBuf,
    data_dir: PathBuf,
}

impl FileSecrets {
    /// `root` is the state directory's `secrets/`, `data_dir` its `data/`
    /// (an app whose data exists never gets a regenerated secret).
    pub fn new(root: impl Into<PathBuf>, data_dir: impl Into<PathBuf>) -> Self {
        FileSecrets {
            root: root.into(),
            data_dir: data_dir.into(),
        }
    }

    pub fn app_dir(&self, app: &str) -> PathBuf {
        self.root.join(app)
    }
}

impl SecretSource for FileSecrets {
    fn get(&self, app: &str, name: &str) -> Option<Secret> {
        // Names come from validated manifests; refuse path tricks anyway.
        if [app, name]
            .iter()
            .any(|p| p.contains('/') || p.starts_with('.'))
        {
            return None;
        }
        fs::read_to_string(self.root.join(app).join(name))
            .ok()
            .map(Secret)
    }

    fn ensure(&self, manifest: &Manifest) -> Result<(), SecretError> {
        if manifest.generated_secrets.is_empty() {
            return Ok(());
        }
        self.check_kept(manifest)?;
        let app = &manifest.id;
        let dir = self.app_dir(app);
        let ledger = Ledger::read(&dir);
        create_private_dir(&dir)?;
        repair_mode(&dir, DIR_MODE)?;
        for secret in &manifest.generated_secrets {
            let path = dir.join(&secret.name);
            if path.exists() {
                repair_mode(&path, FILE_MODE)?;
                continue;
            }
            let value =
                generate(secret.kind, secret.length).map_err(|e| io_error("generate", &path, e))?;
            write_atomic_with_mode(&path, value.expose().as_bytes(), FILE_MODE)?;
            tracing::info!(%app, secret = %secret.name, "generated a secret");
        }
        ledger.record(&dir, manifest.generated_secrets.iter().map(|s| &s.name))?;
        Ok(())
    }

    fn check_kept(&self, manifest: &Manifest) -> Result<(), SecretError> {
        if manifest.generated_secrets.is_empty() {
            return Ok(());
        }
        let app = &manifest.id;
        let dir = self.app_dir(app);
        let data = self.data_dir.join(app);
        let ledger = Ledger::read(&dir);
        match manifest
            .generated_secrets
            .iter()
            .find(|s| !dir.join(&s.name).exists() && ledger.may_have_had(&s.name))
        {
            Some(missing) if holds_files(&data) => Err(SecretError::MissingWithData {
                app: app.clone(),
                name: missing.name.clone(),
                path: dir.join(&missing.name),
                data,
            }),
            _ => Ok(()),
        }
    }

    fn purge(&self, app: &str) -> Result<(), SecretError> {
        let dir = self.app_dir(app);
        match fs::remove_dir_all(&dir) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => {
                Err(io_error("remove", &dir, e).into())
            }
            _ => Ok(()),
        }
    }
}

/// Put `path`'s permission bits back to `mode` if someone changed them.
pub(crate) fn repair_mode(path: &Path, mode: u32) -> Result<(), StoreError> {
    let found = fs::metadata(path)
        .map_err(|e| io_error("inspect", path, e))?
        .permissions()
        .mode()
        & 0o777;
    if found != mode {
        fs::set_permissions(path, fs::Permissions::from_mode(mode))
            .map_err(|e| io_error("set permissions of", path, e))?;
        tracing::warn!(
            path = %path.display(),
            found = format!("{found:o}"),
            repaired = format!("{mode:o}"),
            "repaired permissions"
        );
    }
    Ok(())
}

/// The names ever generated for an app (`<secrets>/<app>/.generated`), so
/// a secret a manifest update newly declares is told apart from one that
/// was lost: only a lost one is refused when the app's data exists.
struct Ledger(Option<BTreeSet<String>>);

impl Ledger {
    const FILE: &'static str = ".generated";

    fn read(dir: &Path) -> Ledger {
        let names = fs::read_to_string(dir.join(Self::FILE)).ok();
        Ledger(names.map(|text| text.lines().map(str::to_string).collect()))
    }

    /// Without a ledger (the whole directory lost) every secret may have
    /// existed.
    fn may_have_had(&self, name: &str) -> bool {
        self.0.as_ref().is_none_or(|names| names.contains(name))
    }

    fn record<'a>(
        &self,
        dir: &Path,
        names: impl Iterator<Item = &'a String>,
    ) -> Result<(), StoreError> {
        let mut all = self.0.clone().unwrap_or_default();
        all.extend(names.cloned());
        if self.0.as_ref() == Some(&all) {
            return Ok(());
        }
        let text: String = all.iter().map(|n| format!("{n}\n")).collect();
        write_atomic_with_mode(&dir.join(Self::FILE), text.as_bytes(), FILE_MODE)
    }
}

fn io_error(action: &'static str, path: &Path, source: io::Error) -> StoreError {
    StoreError::Io {
        action,
        path: path.to_path_buf(),
        source,
    }
}

/// Whether a file exists anywhere under `dir` (empty directories made by a
/// failed first install are not data).
fn holds_files(dir: &Path) -> bool {
    let Ok(entries) = fs::read_dir(dir) else {
        return false;
    };
    entries.flatten().any(|entry| {
        let path = entry.path();
        !path.is_dir() || holds_files(&path)
    })
}

/// `length` characters from the kind's alphabet, uniformly, from the OS's
/// random source (rejection sampling: no modulo bias).
fn generate(kind: SecretKind, length: usize) -> io::Result<Secret> {
    let alphabet = kind.alphabet();
    let limit = 256 - 256 % alphabet.len();
    let mut urandom = fs::File::open("/dev/urandom")?;
    let mut out = String::with_capacity(length);
    let mut buf = [0u8; 64];
    while out.len() < length {
        urandom.read_exact(&mut buf)?;
        for &b in buf.iter().filter(|&&b| (b as usize) < limit) {
            if out.len() == length {
                break;
            }
            out.push(alphabet[b as usize % alphabet.len()] as char);
        }
    }
    Ok(Secret(out))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;
    use std::path::Path;

    fn manifest() -> Manifest {
        Manifest::from_yaml_str(
            r#"
id: vault
name: Vault
version: "1"
generated_secrets:
  - { name: rpc, kind: hex, length: 40 }
  - { name: pw, kind: password }
container:
  image: docker.io/library/busybox:latest
  env:
    PASSWORD: ${secret:pw}
"#,
            Path::new("/catalog/vault/manifest.yml"),
        )
        .unwrap()
    }

    fn mode(path: &Path) -> u32 {
        fs::metadata(path).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn ensure_generates_private_files_of_the_declared_kind() {
        let dir = tempfile::tempdir().unwrap();
        let secrets = FileSecrets::new(dir.path(), dir.path().join("data"));
        secrets.ensure(&manifest()).unwrap();
        let rpc = secrets.get("vault", "rpc").unwrap().into_exposed();
        assert_eq!(rpc.len(), 40);
        assert!(rpc.bytes().all(|b| SecretKind::Hex.alphabet().contains(&b)));
        let pw = secrets.get("vault", "pw").unwrap().into_exposed();
        assert_eq!(pw.len(), archy_apps::defaults::SECRET_LENGTH);
        assert_eq!(mode(&secrets.app_dir("vault")), 0o700);
        assert_eq!(mode(&secrets.app_dir("vault").join("pw")), 0o600);
    }

    #[test]
    fn ensure_keeps_existing_secrets_so_reinstall_reuses_them() {
        let dir = tempfile::tempdir().unwrap();
        let secrets = FileSecrets::new(dir.path(), dir.path().join("data"));
        secrets.ensure(&manifest()).unwrap();
        let first = secrets.get("vault", "pw").unwrap();
        secrets.ensure(&manifest()).unwrap();
        assert_eq!(secrets.get("vault", "pw").unwrap(), first);
    }

    #[test]
    fn check_kept_reports_a_lost_secret_of_an_app_with_data_and_generates_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        let secrets = FileSecrets::new(dir.path().join("secrets"), &data);
        secrets.ensure(&manifest()).unwrap();
        secrets.check_kept(&manifest()).unwrap();
        fs::create_dir_all(data.join("vault")).unwrap();
        fs::write(data.join("vault/db"), "initialised").unwrap();
        fs::remove_file(secrets.app_dir("vault").join("pw")).unwrap();

        let err = secrets.check_kept(&manifest()).unwrap_err();
        assert!(
            matches!(&err, SecretError::MissingWithData { name, .. } if name == "pw"),
            "{err}"
        );
        assert!(
            secrets.get("vault", "pw").is_none(),
            "checking regenerated it"
        );
        assert!(secrets.ensure(&manifest()).is_err());
        assert!(
            secrets.get("vault", "pw").is_none(),
            "ensure regenerated it"
        );
    }

    #[test]
    fn check_kept_lets_a_lost_secret_of_an_app_without_data_be_generated_again() {
        let dir = tempfile::tempdir().unwrap();
        let secrets = FileSecrets::new(dir.path().join("secrets"), dir.path().join("data"));
        secrets.ensure(&manifest()).unwrap();
        fs::remove_file(secrets.app_dir("vault").join("pw")).unwrap();
        secrets.check_kept(&manifest()).unwrap();
    }

    #[test]
    fn purge_deletes_them_and_a_second_purge_is_fine() {
        let dir = tempfile::tempdir().unwrap();
        let secrets = FileSecrets::new(dir.path(), dir.path().join("data"));
        secrets.ensure(&manifest()).unwrap();
        secrets.purge("vault").unwrap();
        assert!(secrets.get("vault", "pw").is_none());
        secrets.purge("vault").unwrap();
    }

    #[test]
    fn get_refuses_names_that_escape_the_app_directory() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join("top"), "x").unwrap();
        let secrets = FileSecrets::new(dir.path().join("sub"), dir.path().join("data"));
        assert!(secrets.get("..", "top").is_none());
        assert!(secrets.get("a", "../../top").is_none());
    }

    #[test]
    fn generated_values_differ_and_use_only_the_alphabet() {
        let a = generate(SecretKind::Alnum, 32).unwrap();
        let b = generate(SecretKind::Alnum, 32).unwrap();
        assert_ne!(a, b);
        assert!(a
            .expose()
            .bytes()
            .all(|c| SecretKind::Alnum.alphabet().contains(&c)));
    }
}
