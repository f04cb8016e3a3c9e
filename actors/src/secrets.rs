//! Generated secrets: created once, stored 0600 under 0700 directories,
//! never logged (invariant 5). Rendering asks a [`SecretSource`], so the
//! Secrets actor can later take over from [`FileSecrets`].

use std::fs;
use std::io::{self, Read};
use std::path::PathBuf;

use archy_apps::{Manifest, SecretKind};

use crate::store::{create_private_dir, write_atomic_with_mode, StoreError, FILE_MODE};

/// Where rendering gets the value of `${secret:NAME}` and
/// `${app:ID:secret:NAME}`, and who generates and deletes them.
pub trait SecretSource: Send + Sync {
    fn get(&self, app: &str, name: &str) -> Option<String>;
    /// Generate every secret the manifest declares that does not exist yet;
    /// existing ones are kept as they are (reinstall reuses them).
    fn ensure(&self, manifest: &Manifest) -> Result<(), StoreError>;
    /// Delete every secret of `app` (purge). Nothing to delete is fine.
    fn purge(&self, app: &str) -> Result<(), StoreError>;
}

/// Secrets as files: `<root>/<app>/<name>`, one value per file.
#[derive(Debug, Clone)]
pub struct FileSecrets {
    root: PathBuf,
}

impl FileSecrets {
    /// `root` is the state directory's `secrets/`.
    pub fn new(root: impl Into<PathBuf>) -> Self {
        FileSecrets { root: root.into() }
    }

    pub fn app_dir(&self, app: &str) -> PathBuf {
        self.root.join(app)
    }
}

impl SecretSource for FileSecrets {
    fn get(&self, app: &str, name: &str) -> Option<String> {
        // Names come from validated manifests; refuse path tricks anyway.
        if [app, name]
            .iter()
            .any(|p| p.contains('/') || p.starts_with('.'))
        {
            return None;
        }
        fs::read_to_string(self.root.join(app).join(name)).ok()
    }

    fn ensure(&self, manifest: &Manifest) -> Result<(), StoreError> {
        if manifest.generated_secrets.is_empty() {
            return Ok(());
        }
        let dir = self.app_dir(&manifest.id);
        create_private_dir(&dir)?;
        for secret in &manifest.generated_secrets {
            let path = dir.join(&secret.name);
            if path.exists() {
                continue;
            }
            let value = generate(secret.kind, secret.length).map_err(|source| StoreError::Io {
                action: "generate",
                path: path.clone(),
                source,
            })?;
            write_atomic_with_mode(&path, value.as_bytes(), FILE_MODE)?;
        }
        Ok(())
    }

    fn purge(&self, app: &str) -> Result<(), StoreError> {
        let dir = self.app_dir(app);
        match fs::remove_dir_all(&dir) {
            Err(source) if source.kind() != io::ErrorKind::NotFound => Err(StoreError::Io {
                action: "remove",
                path: dir,
                source,
            }),
            _ => Ok(()),
        }
    }
}

/// `length` characters from the kind's alphabet, uniformly, from the OS's
/// random source (rejection sampling: no modulo bias).
fn generate(kind: SecretKind, length: usize) -> io::Result<String> {
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
    Ok(out)
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
        let secrets = FileSecrets::new(dir.path());
        secrets.ensure(&manifest()).unwrap();
        let rpc = secrets.get("vault", "rpc").unwrap();
        assert_eq!(rpc.len(), 40);
        assert!(rpc.bytes().all(|b| SecretKind::Hex.alphabet().contains(&b)));
        let pw = secrets.get("vault", "pw").unwrap();
        assert_eq!(pw.len(), archy_apps::defaults::SECRET_LENGTH);
        assert_eq!(mode(&secrets.app_dir("vault")), 0o700);
        assert_eq!(mode(&secrets.app_dir("vault").join("pw")), 0o600);
    }

    #[test]
    fn ensure_keeps_existing_secrets_so_reinstall_reuses_them() {
        let dir = tempfile::tempdir().unwrap();
        let secrets = FileSecrets::new(dir.path());
        secrets.ensure(&manifest()).unwrap();
        let first = secrets.get("vault", "pw").unwrap();
        secrets.ensure(&manifest()).unwrap();
        assert_eq!(secrets.get("vault", "pw").unwrap(), first);
    }

    #[test]
    fn purge_deletes_them_and_a_second_purge_is_fine() {
        let dir = tempfile::tempdir().unwrap();
        let secrets = FileSecrets::new(dir.path());
        secrets.ensure(&manifest()).unwrap();
        secrets.purge("vault").unwrap();
        assert!(secrets.get("vault", "pw").is_none());
        secrets.purge("vault").unwrap();
    }

    #[test]
    fn get_refuses_names_that_escape_the_app_directory() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join("top"), "x").unwrap();
        let secrets = FileSecrets::new(dir.path().join("sub"));
        assert!(secrets.get("..", "top").is_none());
        assert!(secrets.get("a", "../../top").is_none());
    }

    #[test]
    fn generated_values_differ_and_use_only_the_alphabet() {
        let a = generate(SecretKind::Alnum, 32).unwrap();
        let b = generate(SecretKind::Alnum, 32).unwrap();
        assert_ne!(a, b);
        assert!(a.bytes().all(|c| SecretKind::Alnum.alphabet().contains(&c)));
    }
}
