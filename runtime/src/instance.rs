//! Several Archy daemons on one engine (tests, the chaos lab, a gate run
//! beside the real daemon) each see only their own containers.
//!
//! Each daemon is an *instance*, named by a hash of its state directory.
//! [`InstanceScoped`] stamps that name on every container it creates
//! ([`labels::INSTANCE`]) and hides the containers and events of other
//! instances, so no reconcile pass or boot can adopt, count or remove them.
//! A managed container without the label predates it and counts as ours; it
//! gets the label when it is next recreated.
//!
//! The label is not part of the spec hash ([`ContainerSpec::spec_hash`]), so
//! stamping it never forces a recreate.

use std::collections::BTreeMap;
use std::fmt;
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::time::Duration;

use async_trait::async_trait;
use futures::stream::BoxStream;
use futures::StreamExt;
use sha2::{Digest, Sha256};

use crate::{
    labels, BuildRequest, ContainerDetails, ContainerRuntime, ContainerSpec, EngineEvent,
    ExecOutput, Observed, ProgressSink, RuntimeError, RuntimeResult, SharedRuntime,
};

/// Which Archy daemon a container belongs to: 16 hex characters of the
/// SHA-256 of its canonical state directory. A daemon whose state was wiped
/// keeps the id as long as the path stays the same.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct InstanceId(String);

impl InstanceId {
    /// The id of the daemon whose state lives in `state_dir` (which must
    /// exist: the path is canonicalized, so `./state` and its absolute path
    /// name one instance).
    pub fn of_state_dir(state_dir: &Path) -> io::Result<Self> {
        let canonical = state_dir.canonicalize()?;
        let digest = Sha256::digest(canonical.as_os_str().as_bytes());
        Ok(InstanceId(hex::encode(&digest[..8])))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether a container or event carrying `label` (the value of
    /// [`labels::INSTANCE`], if any) is this instance's. No label: created
    /// before instances existed, so ours.
    pub fn owns(&self, label: Option<&str>) -> bool {
        label.is_none_or(|other| other == self.0)
    }

    fn owns_labels(&self, labels: &BTreeMap<String, String>) -> bool {
        self.owns(labels.get(labels::INSTANCE).map(String::as_str))
    }
}

impl fmt::Display for InstanceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Any engine, seen by one instance: its creations stamped, other
/// instances' containers and events filtered out. Still one list call per
/// `list_managed`: the filter runs on the labels that list returns.
pub struct InstanceScoped {
    inner: SharedRuntime,
    instance: InstanceId,
}

impl InstanceScoped {
    pub fn new(inner: SharedRuntime, instance: InstanceId) -> Self {
        InstanceScoped { inner, instance }
    }

    pub fn instance(&self) -> &InstanceId {
        &self.instance
    }

    /// The error for a create whose name is taken: one inspect, on this
    /// rare path only.
    async fn name_taken(&self, name: String) -> RuntimeError {
        let owner = match self.inner.inspect(&name).await {
            Ok(holder) => holder.labels.get(labels::INSTANCE).cloned(),
            Err(_) => None,
        };
        match owner {
            Some(owner) if !self.instance.owns(Some(&owner)) => {
                RuntimeError::OwnedByAnotherDaemon { name, owner }
            }
            _ => RuntimeError::NameInUse { name },
        }
    }

    /// `NotFound` when `name` is another daemon's container (invisible
    /// here); otherwise the call it guards goes ahead and reports a missing
    /// container or a dead engine itself. One inspect: only before the rare
    /// calls that would act on a name-sake (stop, kill, remove, logs).
    async fn guard(&self, name: &str) -> RuntimeResult<()> {
        match self.inner.inspect(name).await {
            Ok(holder) if !self.instance.owns_labels(&holder.labels) => Err(anothers(name)),
            _ => Ok(()),
        }
    }
}

/// How a name held by another daemon's container reads to this one.
fn anothers(name: &str) -> RuntimeError {
    RuntimeError::NotFound {
        what: format!("container {name} of this Archy (the name is another Archy's)"),
    }
}

#[async_trait]
impl ContainerRuntime for InstanceScoped {
    async fn ping(&self) -> RuntimeResult<()> {
        self.inner.ping().await
    }

    async fn list_managed(&self) -> RuntimeResult<Vec<Observed>> {
        let mut managed = self.inner.list_managed().await?;
        managed.retain(|c| self.instance.owns_labels(&c.labels));
        Ok(managed)
    }

    async fn image_present(&self, image: &str) -> RuntimeResult<bool> {
        self.inner.image_present(image).await
    }

    async fn pull(&self, image: &str, progress: ProgressSink) -> RuntimeResult<()> {
        self.inner.pull(image, progress).await
    }

    async fn build(&self, request: &BuildRequest, progress: ProgressSink) -> RuntimeResult<()> {
        self.inner.build(request, progress).await
    }

    async fn image_labels(&self, image: &str) -> RuntimeResult<BTreeMap<String, String>> {
        self.inner.image_labels(image).await
    }

    /// Stamps the instance. When the name is taken, says whether by another
    /// daemon's container, so the caller never adopts or replaces it.
    async fn create(&self, spec: &ContainerSpec) -> RuntimeResult<String> {
        let mut spec = spec.clone();
        spec.labels
            .insert(labels::INSTANCE.to_string(), self.instance.0.clone());
        match self.inner.create(&spec).await {
            Err(RuntimeError::NameInUse { name }) => Err(self.name_taken(name).await),
            created => created,
        }
    }

    /// Unguarded: a start only follows this daemon's own create, or an
    /// adoption through the filtered list and inspect, and it is on the
    /// crash-restart path, where an inspect more would cost latency.
    async fn start(&self, name: &str) -> RuntimeResult<()> {
        self.inner.start(name).await
    }

    /// Guarded: a user's stop of an app whose install lost its name to
    /// another daemon must not stop that daemon's container.
    async fn stop(&self, name: &str, grace: Duration) -> RuntimeResult<()> {
        self.guard(name).await?;
        self.inner.stop(name, grace).await
    }

    async fn kill(&self, name: &str, signal: &str) -> RuntimeResult<()> {
        self.guard(name).await?;
        self.inner.kill(name, signal).await
    }

    /// Guarded: a failed install's clean-up must not take a name-sake it
    /// never created.
    async fn remove(&self, name: &str, force: bool, volumes: bool) -> RuntimeResult<()> {
        self.guard(name).await?;
        self.inner.remove(name, force, volumes).await
    }

    /// Another daemon's container is `NotFound`: never adopted, never
    /// probed, never counted as this daemon's.
    async fn inspect(&self, name: &str) -> RuntimeResult<ContainerDetails> {
        let details = self.inner.inspect(name).await?;
        if self.instance.owns_labels(&details.labels) {
            Ok(details)
        } else {
            Err(anothers(name))
        }
    }

    /// Guarded: `package.logs` of an app whose name another daemon holds
    /// must not show that daemon's container.
    async fn logs(&self, name: &str, tail: usize) -> RuntimeResult<Vec<String>> {
        self.guard(name).await?;
        self.inner.logs(name, tail).await
    }

    /// Unguarded: health probes exec only into apps that are running, which
    /// this daemon created or adopted through the filtered views.
    async fn exec(&self, name: &str, cmd: &[String]) -> RuntimeResult<ExecOutput> {
        self.inner.exec(name, cmd).await
    }

    async fn ensure_network(&self, name: &str) -> RuntimeResult<()> {
        self.inner.ensure_network(name).await
    }

    async fn remove_volume(&self, name: &str) -> RuntimeResult<()> {
        self.inner.remove_volume(name).await
    }

    async fn events(&self) -> RuntimeResult<BoxStream<'static, RuntimeResult<EngineEvent>>> {
        let instance = self.instance.clone();
        let events = self.inner.events().await?;
        let ours = events.filter(move |event| {
            let keep = match event {
                Ok(e) => instance.owns(e.instance.as_deref()),
                Err(_) => true,
            };
            futures::future::ready(keep)
        });
        Ok(ours.boxed())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mock::MockRuntime;
    use crate::{EngineEventKind, RunState};
    use std::sync::Arc;

    fn spec(name: &str, app: &str) -> ContainerSpec {
        ContainerSpec {
            name: name.into(),
            image: "img".into(),
            labels: BTreeMap::from([(labels::APP.into(), app.into())]),
            ..ContainerSpec::default()
        }
    }

    /// A mock engine seen by a fresh instance (its dir kept alive).
    fn scoped_mock() -> (tempfile::TempDir, InstanceId, MockRuntime, InstanceScoped) {
        let dir = tempfile::tempdir().unwrap();
        let id = InstanceId::of_state_dir(dir.path()).unwrap();
        let mock = MockRuntime::new();
        mock.add_image("img");
        let scoped = InstanceScoped::new(Arc::new(mock.clone()), id.clone());
        (dir, id, mock, scoped)
    }

    fn foreign(name: &str, app: &str) -> ContainerSpec {
        let mut spec = spec(name, app);
        spec.labels
            .insert(labels::INSTANCE.into(), "0123456789abcdef".into());
        spec
    }

    #[test]
    fn the_id_is_16_hex_chars_and_the_same_for_every_spelling_of_the_dir() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("state")).unwrap();
        let plain = InstanceId::of_state_dir(&dir.path().join("state")).unwrap();
        let dotted = InstanceId::of_state_dir(&dir.path().join("./state/../state")).unwrap();
        assert_eq!(plain, dotted);
        assert_eq!(plain.as_str().len(), 16);
        assert!(plain.as_str().chars().all(|c| c.is_ascii_hexdigit()));
        let other = InstanceId::of_state_dir(dir.path()).unwrap();
        assert_ne!(plain, other);
    }

    #[test]
    fn an_unlabelled_container_is_owned_and_another_instances_is_not() {
        let dir = tempfile::tempdir().unwrap();
        let id = InstanceId::of_state_dir(dir.path()).unwrap();
        assert!(id.owns(None));
        assert!(id.owns(Some(id.as_str())));
        assert!(!id.owns(Some("0123456789abcdef")));
    }

    #[tokio::test]
    async fn creations_are_stamped_and_only_ours_and_legacy_ones_are_listed() {
        let (_dir, id, mock, scoped) = scoped_mock();
        scoped.create(&spec("archy-ours", "ours")).await.unwrap();
        mock.create(&spec("archy-legacy", "legacy")).await.unwrap();
        mock.create(&foreign("archy-theirs", "theirs"))
            .await
            .unwrap();

        let mut listed: Vec<_> = scoped
            .list_managed()
            .await
            .unwrap()
            .into_iter()
            .map(|c| (c.name, c.labels.get(labels::INSTANCE).cloned()))
            .collect();
        listed.sort();
        assert_eq!(
            listed,
            [
                ("archy-legacy".to_string(), None),
                ("archy-ours".to_string(), Some(id.to_string())),
            ]
        );
        assert_eq!(mock.calls(crate::Op::ListManaged), 1);
    }

    #[tokio::test]
    async fn a_name_held_by_another_instance_is_reported_as_theirs() {
        let (_dir, _, mock, scoped) = scoped_mock();
        mock.create(&foreign("archy-web", "web")).await.unwrap();
        mock.create(&spec("archy-old", "old")).await.unwrap();
        scoped.create(&spec("archy-mine", "mine")).await.unwrap();

        let taken = scoped.create(&spec("archy-web", "web")).await.unwrap_err();
        assert_eq!(
            taken,
            RuntimeError::OwnedByAnotherDaemon {
                name: "archy-web".into(),
                owner: "0123456789abcdef".into()
            }
        );
        // Ours and legacy names stay plain conflicts: the caller may adopt.
        for name in ["archy-old", "archy-mine"] {
            let again = scoped.create(&spec(name, "x")).await.unwrap_err();
            assert_eq!(again, RuntimeError::NameInUse { name: name.into() });
        }
        // Removing by that name finds nothing of ours, and keeps theirs.
        let removed = scoped.remove("archy-web", true, false).await;
        assert!(removed.unwrap_err().is_not_found());
        assert!(mock.container("archy-web").is_some());
        scoped.remove("archy-old", true, false).await.unwrap();
        assert!(mock.container("archy-old").is_none());
    }

    #[tokio::test]
    async fn another_instances_container_cannot_be_inspected_stopped_killed_or_read() {
        let (_dir, _, mock, scoped) = scoped_mock();
        mock.create(&foreign("archy-web", "web")).await.unwrap();
        mock.start("archy-web").await.unwrap();
        mock.create(&spec("archy-old", "old")).await.unwrap();
        mock.start("archy-old").await.unwrap();

        assert!(scoped
            .inspect("archy-web")
            .await
            .unwrap_err()
            .is_not_found());
        let stop = scoped.stop("archy-web", Duration::from_secs(1)).await;
        assert!(stop.unwrap_err().is_not_found());
        assert!(scoped
            .kill("archy-web", "KILL")
            .await
            .unwrap_err()
            .is_not_found());
        assert!(scoped
            .logs("archy-web", 10)
            .await
            .unwrap_err()
            .is_not_found());
        assert_eq!(
            mock.container("archy-web").unwrap().state,
            RunState::Running
        );
        assert_eq!(mock.calls(crate::Op::Stop) + mock.calls(crate::Op::Kill), 0);

        // Ours (here a legacy one) is served as before; a missing name is
        // reported by the call itself.
        assert_eq!(
            scoped.inspect("archy-old").await.unwrap().state,
            RunState::Running
        );
        scoped
            .stop("archy-old", Duration::from_secs(1))
            .await
            .unwrap();
        assert_eq!(mock.container("archy-old").unwrap().state, RunState::Exited);
        let missing = scoped.stop("archy-none", Duration::from_secs(1)).await;
        assert!(missing.unwrap_err().is_not_found());
    }

    #[test]
    fn the_stamp_does_not_change_the_spec_hash() {
        let plain = spec("archy-web", "web");
        assert_eq!(plain.spec_hash(), foreign("archy-web", "web").spec_hash());
    }

    #[tokio::test]
    async fn another_instances_events_are_dropped() {
        let (_dir, _, mock, scoped) = scoped_mock();
        mock.create(&foreign("archy-theirs", "theirs"))
            .await
            .unwrap();
        scoped.create(&spec("archy-ours", "ours")).await.unwrap();
        let mut events = scoped.events().await.unwrap();
        mock.start("archy-theirs").await.unwrap();
        mock.start("archy-ours").await.unwrap();
        let first = events.next().await.unwrap().unwrap();
        assert_eq!(
            (first.container.as_str(), first.kind),
            ("archy-ours", EngineEventKind::Start)
        );
        assert_eq!(
            mock.container("archy-theirs").unwrap().state,
            RunState::Running
        );
    }
}
